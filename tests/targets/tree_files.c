/*
 * Two processes sharing one fd table: a child made with
 * clone(CLONE_FILES) without CLONE_VM (a helper process, not a thread),
 * and a sibling forked after it with a table of its own.
 * Before the dump the helper opens /dev/null, and the parent sees that fd.
 * After GO: the parent makes a pipe, puts a word in it and tells the
 * helper only the fd number: the helper must read the word through that
 * number; the helper closes its /dev/null and opens an eventfd: the parent
 * must find the one closed and the other open, by number, in its own
 * table.  The sibling still has the /dev/null of its copy.
 *   tree_files          the parent is the tree's root
 *   tree_files nested   the parent is a child of the root (which waits)
 *   tree_files chain    the helper has a helper of its own, sharing the
 *                       same table (kcmp KCMP_FILES says so after restore)
 *   tree_files siblings two children share a table the parent no longer
 *                       does (it unshared it): what a restore cannot make
 * Output: "tree_files: ok".
 */
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

static int ctl[2], back[2], chain;

/* 0: this process shares its parent's fd table (kcmp(2)). */
static long same_table(void)
{
	return syscall(SYS_kcmp, getpid(), getppid(), KCMP_FILES, 0, 0);
}

static int get(int fd)
{
	int v = -1;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : -1;
}

static void put(int fd, int v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		target_fail("write to the other process: %s", strerror(errno));
}

static int helper(void)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), p, e, st = -1;
	pid_t sub = 0;
	char word[16] = "";

	if (chain && !(sub = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0))) {
		while (!target_go())
			target_sleep_ms(5);
		CHECK(same_table() == 0, "the helper's helper: not its parent's table: %s",
		      strerror(errno));
		_exit(target_exit());
	}
	put(back[1], null);
	while (!target_go())
		target_sleep_ms(5);
	p = get(ctl[0]);
	CHECK(p >= 0 && read(p, word, sizeof(word) - 1) == 5 && !strcmp(word, "after"),
	      "helper: the parent's pipe %d (opened after restore) is not in its table: '%s' (%s)",
	      p, word, strerror(errno));
	e = eventfd(7, EFD_CLOEXEC);	/* before the close: another number */
	CHECK(close(null) == 0, "helper: close %d: %s", null, strerror(errno));
	put(back[1], e);
	CHECK(get(ctl[0]) == 1, "helper: the parent's last word");
	CHECK(same_table() == 0, "helper: not its parent's table: %s", strerror(errno));
	CHECK(!sub || (waitpid(sub, &st, 0) == sub && WIFEXITED(st) && !WEXITSTATUS(st)),
	      "the helper's helper: status %#x", st);
	return target_exit();
}

static int parent(void)
{
	int null, p2[2], e, st;
	pid_t kid, sib;
	uint64_t v = 0;

	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(back, O_CLOEXEC) < 0)
		return 2;
	/* clone(2) as fork(2), the child sharing the fd table */
	kid = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (kid == 0)
		_exit(helper());
	if (kid < 0 || (null = get(back[0])) < 0) {
		target_fail("clone or the helper's first word: %s", strerror(errno));
		return target_exit();
	}
	if (!(sib = fork())) {
		while (!target_go())
			target_sleep_ms(5);
		CHECK(fcntl(null, F_GETFD) >= 0, "sibling: its copy of fd %d: %s", null,
		      strerror(errno));
		_exit(target_exit());
	}
	target_wait();

	CHECK(fcntl(null, F_GETFD) == FD_CLOEXEC, "the helper's fd %d before the dump: %s", null,
	      strerror(errno));
	if (pipe2(p2, O_CLOEXEC) < 0 || write(p2[1], "after", 5) != 5)
		target_fail("pipe: %s", strerror(errno));
	put(ctl[1], p2[0]);
	e = get(back[0]);
	CHECK(e >= 0 && read(e, &v, sizeof(v)) == sizeof(v) && v == 7,
	      "the helper's eventfd %d (opened after restore) is not in this table: %s", e,
	      strerror(errno));
	CHECK(fcntl(null, F_GETFD) < 0 && errno == EBADF,
	      "fd %d, which the helper closed after restore, is still open here", null);
	put(ctl[1], 1);
	CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && !WEXITSTATUS(st), "helper: status %#x",
	      st);
	CHECK(waitpid(sib, &st, 0) == sib && WIFEXITED(st) && !WEXITSTATUS(st), "sibling: status %#x",
	      st);
	return target_exit();
}

/* Two children sharing one table, their parent not: they wait for GO. */
static int siblings(void)
{
	pid_t kid[2];
	int st = -1;

	for (int k = 0; k < 2; k++)
		if (!(kid[k] = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0))) {
			while (!target_go())
				target_sleep_ms(5);
			_exit(0);
		}
	CHECK(unshare(CLONE_FILES) == 0, "unshare: %s", strerror(errno));
	target_wait();
	for (int k = 0; k < 2; k++)
		CHECK(waitpid(kid[k], &st, 0) == kid[k] && WIFEXITED(st) && !WEXITSTATUS(st),
		      "child %d: status %#x", k, st);
	return target_exit();
}

int main(int argc, char **argv)
{
	pid_t mid;
	int st = -1;

	chain = argc > 1 && !strcmp(argv[1], "chain");
	if (argc > 1 && !strcmp(argv[1], "siblings")) {
		if ((st = siblings()) == 0)
			printf("tree_files: ok\n");
		return st;
	}
	if (argc < 2 || strcmp(argv[1], "nested")) {
		if ((st = parent()) == 0)
			printf("tree_files: ok\n");
		return st;
	}
	if (!(mid = fork()))
		_exit(parent());
	CHECK(waitpid(mid, &st, 0) == mid && WIFEXITED(st) && !WEXITSTATUS(st),
	      "the helper's parent: status %#x", st);
	if (!target_failures)
		printf("tree_files: ok\n");
	return target_exit();
}
