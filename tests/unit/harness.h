/*
 * A small unit-test harness in the manner of the kernel's
 * tools/testing/selftests/kselftest_harness.h, printing TAP:
 *
 *	TEST(name) { ASSERT_EQ(expected, seen); EXPECT_STREQ(a, b) { TH_LOG("why"); } }
 *	TEST_HARNESS_MAIN
 *
 * Each test runs in a child process (fork), so one that crashes, hangs
 * (alarm, HARNESS_TIMEOUT seconds) or exits is "not ok" and the rest
 * still run.  ASSERT_* ends the test on failure, EXPECT_* marks it failed
 * and goes on.  Either may be followed by a block that runs only when the
 * check failed, for TH_LOG() context, as in kselftest.  Diagnostics are
 * TAP comments ("# ...") on stdout; the verdict lines are "ok N - name"
 * and "not ok N - name" (tests/run-checks.sh counts them).
 *
 * Integers are compared as the kselftest harness does not: both sides are
 * converted to long long for ordered comparisons and to unsigned long long
 * for (in)equality, so mixing int and uint64_t needs no casts; fine for
 * values a test writes down, not for telling -1 from UINT64_MAX.
 */
#ifndef CKPT_TEST_HARNESS_H
#define CKPT_TEST_HARNESS_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"

/*
 * Unit tests link every ckpt object but cmd/main.o, yet cmd/dump.o and
 * friends call these two from main.o.  Weak stand-ins satisfy the linker
 * and give way to the real ones should main.o ever be linked in; no unit
 * test calls them.
 */
__attribute__((weak)) const struct cmd *cmd_find(const char *name)
{
	(void)name;
	return NULL;
}

__attribute__((weak)) int cmd_usage(const struct cmd *c, int to_stdout)
{
	(void)c;
	(void)to_stdout;
	return EXIT_USAGE;
}

#define HARNESS_MAX_TESTS	256
#define HARNESS_TIMEOUT		300	/* a hang, not a busy machine */

struct harness_test {
	const char *name;
	void (*fn)(void);
};

static struct harness_test harness_tests[HARNESS_MAX_TESTS];
static int harness_ntests;
/* In the child running a test: did a check fail; is one being reported. */
static int harness_failed;
static int harness_trigger;

static void harness_register(const char *name, void (*fn)(void))
{
	if (harness_ntests == HARNESS_MAX_TESTS) {
		fprintf(stderr, "harness: more than %d tests\n", HARNESS_MAX_TESTS);
		exit(2);
	}
	harness_tests[harness_ntests].name = name;
	harness_tests[harness_ntests].fn = fn;
	harness_ntests++;
}

#define TEST(name)							\
	static void test_##name(void);					\
	__attribute__((constructor)) static void register_##name(void)	\
	{								\
		harness_register(#name, test_##name);			\
	}								\
	static void test_##name(void)

/* A comment line in the TAP stream, for the test's context. */
#define TH_LOG(...) do {						\
		printf("# %s:%d: ", __FILE__, __LINE__);		\
		printf(__VA_ARGS__);					\
		putchar('\n');						\
	} while (0)

/* After a failed check (and its optional block): end the test if it was
 * an ASSERT.  Returns 0 to end the for loop of the check macros. */
static inline int harness_bail(int is_assert)
{
	if (is_assert) {
		fflush(stdout);
		_exit(1);
	}
	return 0;
}

/*
 * The check, then "for (; trigger; trigger = bail)": the statement or
 * block after the macro runs only if the check failed, and then the test
 * ends if is_assert.  Nothing is evaluated twice.
 */
#define HARNESS_CHECK(cond, is_assert, ...)				\
	for (harness_trigger = !(cond) && (printf("# %s:%d: ", __FILE__, __LINE__), \
					    printf(__VA_ARGS__), putchar('\n'), \
					    harness_failed = 1);	\
	     harness_trigger; harness_trigger = harness_bail(is_assert))

#define HARNESS_INT(name, e, s, op, is_assert, type, fmt) \
	HARNESS_INT_(name, e, s, op, is_assert, type, fmt, __COUNTER__)
#define HARNESS_INT_(name, e, s, op, is_assert, type, fmt, n) \
	HARNESS_INT__(name, e, s, op, is_assert, type, fmt, n)
#define HARNESS_INT__(name, e, s, op, is_assert, type, fmt, n)		\
	for (type harness_e##n = (type)(e), harness_s##n = (type)(s),	\
	     harness_once##n = 1; harness_once##n; harness_once##n = 0)	\
		HARNESS_CHECK(harness_e##n op harness_s##n, is_assert,	\
			      "%s(%s, %s): " fmt " %s " fmt " is false", \
			      name, #e, #s, harness_e##n, #op, harness_s##n)

/*
 * run(path) for every file in dir but dotfiles, each expected to return
 * a wait status of 0 (a child that exited 0).  Returns how many ran;
 * ends the test if dir cannot be read (run from the top of the tree).
 */
static inline int harness_each_file(const char *dir, int (*run)(const char *path))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	HARNESS_CHECK(d != NULL, 1, "no %s here: run from the top of the tree", dir);
	while ((e = readdir(d))) {
		char path[512];
		int st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		st = run(path);
		HARNESS_CHECK(st == 0, 0, "%s: %s %d", path,
			      WIFSIGNALED(st) ? "killed by signal" : "exit status",
			      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		n++;
	}
	closedir(d);
	return n;
}

#define ASSERT_EQ(e, s) HARNESS_INT("ASSERT_EQ", e, s, ==, 1, unsigned long long, "%#llx")
#define ASSERT_NE(e, s) HARNESS_INT("ASSERT_NE", e, s, !=, 1, unsigned long long, "%#llx")
#define ASSERT_LT(e, s) HARNESS_INT("ASSERT_LT", e, s, <, 1, long long, "%lld")
#define ASSERT_LE(e, s) HARNESS_INT("ASSERT_LE", e, s, <=, 1, long long, "%lld")
#define ASSERT_GT(e, s) HARNESS_INT("ASSERT_GT", e, s, >, 1, long long, "%lld")
#define ASSERT_GE(e, s) HARNESS_INT("ASSERT_GE", e, s, >=, 1, long long, "%lld")
#define EXPECT_EQ(e, s) HARNESS_INT("EXPECT_EQ", e, s, ==, 0, unsigned long long, "%#llx")
#define EXPECT_NE(e, s) HARNESS_INT("EXPECT_NE", e, s, !=, 0, unsigned long long, "%#llx")
#define EXPECT_LT(e, s) HARNESS_INT("EXPECT_LT", e, s, <, 0, long long, "%lld")
#define EXPECT_GE(e, s) HARNESS_INT("EXPECT_GE", e, s, >=, 0, long long, "%lld")
#define ASSERT_TRUE(c)	HARNESS_CHECK(c, 1, "ASSERT_TRUE(%s) failed", #c)
#define ASSERT_FALSE(c)	HARNESS_CHECK(!(c), 1, "ASSERT_FALSE(%s) failed", #c)
#define EXPECT_TRUE(c)	HARNESS_CHECK(c, 0, "EXPECT_TRUE(%s) failed", #c)
#define EXPECT_FALSE(c)	HARNESS_CHECK(!(c), 0, "EXPECT_FALSE(%s) failed", #c)

static inline int harness_streq(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

#define HARNESS_STR(name, e, s, want, is_assert) \
	HARNESS_STR_(name, e, s, want, is_assert, __COUNTER__)
#define HARNESS_STR_(name, e, s, want, is_assert, n) \
	HARNESS_STR__(name, e, s, want, is_assert, n)
#define HARNESS_STR__(name, e, s, want, is_assert, n)			\
	for (const char *harness_e##n = (e), *harness_s##n = (s),	\
	     *harness_once##n = ""; harness_once##n; harness_once##n = NULL) \
		HARNESS_CHECK(harness_streq(harness_e##n, harness_s##n) == (want), is_assert, \
			      "%s(%s, %s): \"%s\" %s \"%s\"",	\
			      name, #e, #s,				\
			      harness_e##n ? harness_e##n : "(null)",	\
			      (want) ? "!=" : "==",			\
			      harness_s##n ? harness_s##n : "(null)")
#define ASSERT_STREQ(e, s) HARNESS_STR("ASSERT_STREQ", e, s, 1, 1)
#define ASSERT_STRNE(e, s) HARNESS_STR("ASSERT_STRNE", e, s, 0, 1)
#define EXPECT_STREQ(e, s) HARNESS_STR("EXPECT_STREQ", e, s, 1, 0)

#define ASSERT_MEMEQ(e, s, n)						\
	HARNESS_CHECK(memcmp(e, s, n) == 0, 1, "ASSERT_MEMEQ(%s, %s, %s): differ", #e, #s, #n)
#define EXPECT_MEMEQ(e, s, n)						\
	HARNESS_CHECK(memcmp(e, s, n) == 0, 0, "EXPECT_MEMEQ(%s, %s, %s): differ", #e, #s, #n)

/* Run one test in a child; 1 if it passed. */
static int harness_run(const struct harness_test *t)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		return 0;
	}
	if (pid == 0) {
		/* $CKPT_UNIT_TIMEOUT (seconds) for slow machines: the arm64
		 * guest is an emulator. */
		alarm(getenv("CKPT_UNIT_TIMEOUT") ? (unsigned)atoi(getenv("CKPT_UNIT_TIMEOUT")) :
		      HARNESS_TIMEOUT);
		harness_failed = 0;
		t->fn();
		fflush(stdout);
		_exit(harness_failed ? 1 : 0);
	}
	while (waitpid(pid, &st, 0) < 0)
		;
	if (WIFSIGNALED(st)) {
		printf("# %s: killed by signal %d (%s)%s\n", t->name, WTERMSIG(st),
		       strsignal(WTERMSIG(st)), WTERMSIG(st) == SIGALRM ? ": timed out" : "");
		return 0;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* All registered tests, or only those named on the command line. */
static int harness_main(int argc, char **argv)
{
	int n = 0, failed = 0;

	/* Unbuffered would interleave badly with the children's output. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	for (int i = 0; i < harness_ntests; i++) {
		int want = argc < 2;

		for (int k = 1; k < argc; k++)
			want |= !strcmp(argv[k], harness_tests[i].name);
		n += want;
	}
	printf("1..%d\n", n);
	n = 0;
	for (int i = 0; i < harness_ntests; i++) {
		const struct harness_test *t = &harness_tests[i];
		int want = argc < 2, ok;

		for (int k = 1; k < argc; k++)
			want |= !strcmp(argv[k], t->name);
		if (!want)
			continue;
		ok = harness_run(t);
		failed += !ok;
		printf("%sok %d - %s\n", ok ? "" : "not ", ++n, t->name);
	}
	return failed ? 1 : 0;
}

#define TEST_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		return harness_main(argc, argv);			\
	}

#endif
