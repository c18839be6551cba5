/*
 * /proc parsing (ptrace/proc.c): maps lines as the kernel prints them
 * (fs/proc/task_mmu.c, show_map_vma: the name padded to column 73 on
 * 64-bit), including the awkward ones; limits, stat, status and smaps of
 * live processes checked against what the process itself knows.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "image/format.h"
#include "ptrace/proc.h"
#include "harness.h"

/* Parse a copy (the parser writes into its line); path copied out. */
static int parse(const char *line, struct map_entry *m, char *path, size_t pathsz)
{
	char *copy = strdup(line);
	int ret = proc_parse_maps_line(copy, m);

	snprintf(path, pathsz, "%s", ret == 0 ? m->path : "");
	free(copy);
	m->path = NULL;
	return ret;
}

TEST(maps_file_mapping)
{
	struct map_entry m;
	char path[256];

	ASSERT_EQ(0, parse("5642f0344000-5642f0346000 r-xp 00002000 fe:01 247134"
			   "                     /usr/bin/cat\n", &m, path, sizeof(path)));
	ASSERT_EQ(0x5642f0344000ull, m.start);
	ASSERT_EQ(0x5642f0346000ull, m.end);
	ASSERT_EQ(0x2000, m.pgoff);
	ASSERT_EQ(PROT_READ | PROT_EXEC, m.prot);
	ASSERT_EQ(0, m.shared);
	ASSERT_EQ(0xfe, m.dev_major);
	ASSERT_EQ(1, m.dev_minor);
	ASSERT_EQ(247134, m.ino);
	ASSERT_STREQ("/usr/bin/cat", path);
}

TEST(maps_path_with_spaces)
{
	struct map_entry m;
	char path[256];

	ASSERT_EQ(0, parse("7f0000000000-7f0000001000 rw-s 00000000 08:01 12"
			   "                         /data/my job/state file.bin", &m, path,
			   sizeof(path)));
	ASSERT_STREQ("/data/my job/state file.bin", path);
	ASSERT_EQ(1, m.shared);
	ASSERT_EQ(PROT_READ | PROT_WRITE, m.prot);
}

TEST(maps_deleted_file_keeps_the_suffix)
{
	struct map_entry m;
	char path[256];

	/* dump/vmas.c looks for the suffix to store the data. */
	ASSERT_EQ(0, parse("7f0000000000-7f0000004000 rw-p 00001000 00:1f 99"
			   "                         /tmp/scratch (deleted)\n", &m, path,
			   sizeof(path)));
	ASSERT_STREQ("/tmp/scratch (deleted)", path);
	ASSERT_EQ(0x1000, m.pgoff);
	ASSERT_EQ(99, m.ino);
}

TEST(maps_named_anonymous_and_special)
{
	struct map_entry m;
	char path[256];

	ASSERT_EQ(0, parse("7f0000000000-7f0000010000 rw-p 00000000 00:00 0"
			   "                          [anon:my arena]", &m, path, sizeof(path)));
	ASSERT_STREQ("[anon:my arena]", path);
	ASSERT_EQ(0, m.ino);
	ASSERT_EQ(0, parse("7fb2137a4000-7fb2137a6000 r--p 00000000 00:00 0"
			   "                          [vvar_vclock]", &m, path, sizeof(path)));
	ASSERT_STREQ("[vvar_vclock]", path);
	ASSERT_EQ(PROT_READ, m.prot);
	ASSERT_EQ(0, parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0"
			   "                  [vsyscall]", &m, path, sizeof(path)));
	ASSERT_EQ(0xffffffffff600000ull, m.start);
	ASSERT_EQ(PROT_EXEC, m.prot);
	ASSERT_STREQ("[vsyscall]", path);
}

TEST(maps_no_path)
{
	struct map_entry m;
	char path[256];

	/* What the kernel prints: a space after the inode, nothing more. */
	ASSERT_EQ(0, parse("7fb21352e000-7fb213550000 rw-p 00000000 00:00 0 \n", &m, path,
			   sizeof(path)));
	ASSERT_STREQ("", path);
	ASSERT_EQ(0x7fb213550000ull, m.end);
	/* And without the trailing space, as in a hand-written or trimmed copy. */
	ASSERT_EQ(0, parse("7fb21352e000-7fb213550000 ---p 00000000 00:00 0", &m, path,
			   sizeof(path)));
	ASSERT_STREQ("", path);
	ASSERT_EQ(0, m.prot);
}

/* A long inode number pushes the name past the padding column. */
TEST(maps_long_inode)
{
	struct map_entry m;
	char path[256];

	ASSERT_EQ(0, parse("7f0000000000-7f0000001000 r--p 00000000 103:02 18446744073709551615"
			   " /x", &m, path, sizeof(path)));
	ASSERT_EQ(UINT64_MAX, m.ino);
	ASSERT_EQ(0x103, m.dev_major);
	ASSERT_STREQ("/x", path);
}

TEST(maps_malformed_lines_are_refused)
{
	static const char *const bad[] = {
		"", "\n", "garbage", "7f0000000000-7f0000001000",
		"7f0000000000-7f0000001000 rw-p", "7f0000000000-7f0000001000 rw-p 00000000 00:00",
		"Size:                  4 kB", "VmFlags: rd wr mr mw me ac sd",
	};
	struct map_entry m;
	char path[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_NE(0, parse(bad[i], &m, path, sizeof(path))) {
			TH_LOG("accepted \"%s\"", bad[i]);
		}
	}
}

/* The numbers are parsed by hand (ptrace/proc.c number()): every 64-bit
 * value, nothing past it, upper-case hex, and no prefix or sign the
 * kernel never prints. */
TEST(maps_numbers_at_their_limits)
{
	static const char *const bad[] = {
		/* one bit past 64, in the address, the offset and the inode */
		"10000000000000000-7f0000001000 rw-p 00000000 00:00 0",
		"7f0000000000-7f0000001000 rw-p 10000000000000000 00:00 0",
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 18446744073709551616",
		"0x7f0000000000-7f0000001000 rw-p 00000000 00:00 0",
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 -1",
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 +1",
		"7f0000000000-7f0000001000 rw-p 00000000 g0:00 0",
	};
	struct map_entry m;
	char path[256];

	ASSERT_EQ(0, parse("ffffffffffffffff-FFFFFFFFFFFFFFFF r--s ffffffffffffffff fFfFfFfF:0 "
			   "18446744073709551615 /y", &m, path, sizeof(path)));
	ASSERT_EQ(UINT64_MAX, m.start);
	ASSERT_EQ(UINT64_MAX, m.end);
	ASSERT_EQ(UINT64_MAX, m.pgoff);
	ASSERT_EQ(0xffffffffu, m.dev_major);
	ASSERT_EQ(0, m.dev_minor);
	ASSERT_EQ(UINT64_MAX, m.ino);
	ASSERT_EQ(1, m.shared);
	ASSERT_STREQ("/y", path);
	ASSERT_EQ(0, parse("0-1 rw-p 0 0:0 0", &m, path, sizeof(path)));
	ASSERT_EQ(0, m.start);
	ASSERT_EQ(1, m.end);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_NE(0, parse(bad[i], &m, path, sizeof(path))) {
			TH_LOG("accepted \"%s\"", bad[i]);
		}
	}
}

/* Our own limits, some changed first so that they are not all defaults. */
TEST(limits_of_self_match_getrlimit)
{
	uint64_t rlim[16][2];
	struct rlimit rl;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = rl.rlim_cur > 777 ? 777 : rl.rlim_cur;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(0, getrlimit(RLIMIT_CORE, &rl));
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 123456 ? 123456 : rl.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_CORE, &rl));
	ASSERT_EQ(0, getrlimit(RLIMIT_CPU, &rl));
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 3600 ? 3600 : rl.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_CPU, &rl));
	memset(rlim, 0xa5, sizeof(rlim));
	ASSERT_EQ(0, proc_read_limits(getpid(), rlim, 16));
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(0, getrlimit(i, &rl));
		ASSERT_EQ(rl.rlim_cur, rlim[i][0]) {
			TH_LOG("RLIMIT %d soft", i);
		}
		ASSERT_EQ(rl.rlim_max, rlim[i][1]) {
			TH_LOG("RLIMIT %d hard", i);
		}
	}
	ASSERT_EQ(777, rlim[RLIMIT_NOFILE][0]);
	ASSERT_EQ(UINT64_MAX, (uint64_t)RLIM_INFINITY);
}

TEST(limits_fewer_than_all)
{
	uint64_t rlim[4][2];
	struct rlimit rl;

	ASSERT_EQ(0, proc_read_limits(getpid(), rlim, 4));
	ASSERT_EQ(0, getrlimit(RLIMIT_STACK, &rl));
	ASSERT_EQ(rl.rlim_cur, rlim[RLIMIT_STACK][0]);
}

TEST(limits_of_a_missing_process)
{
	uint64_t rlim[16][2];

	ASSERT_EQ(-ENOENT, proc_read_limits(0x3ffffffe, rlim, 16));
}

/* A child with a comm made to confuse: parentheses and spaces. */
TEST(stat_of_a_child_with_a_tricky_name)
{
	struct proc_stat st;
	int pfd[2];
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, "a) b (c) d");
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	ASSERT_EQ(0, proc_read_stat(pid, &st));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_STREQ("a) b (c) d", st.comm);
	ASSERT_EQ(getpid(), st.ppid);
	ASSERT_EQ(getpgrp(), st.pgrp);
	ASSERT_EQ(getsid(0), st.session);
	ASSERT_TRUE(st.state == 'S' || st.state == 'R') {
		TH_LOG("state '%c'", st.state);
	}
	ASSERT_EQ(0, st.flags & PF_KTHREAD);
	ASSERT_NE(0, st.start_stack);
	ASSERT_LT(0, (long long)(st.arg_end - st.arg_start));
}

TEST(stat_of_a_zombie)
{
	struct proc_stat st;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(0);
	/* Not reaped: it stays a zombie until waitpid. */
	for (int i = 0; i < 1000; i++) {
		ASSERT_EQ(0, proc_read_stat(pid, &st));
		if (st.state == 'Z')
			break;
		usleep(1000);
	}
	waitpid(pid, NULL, 0);
	ASSERT_EQ('Z', st.state);
}

TEST(stat_of_kthreadd_is_a_kernel_thread)
{
	struct proc_stat st;

	if (proc_read_stat(2, &st) < 0 || strcmp(st.comm, "kthreadd")) {
		TH_LOG("no kthreadd as PID 2 here (a PID namespace?): nothing to check");
		return;
	}
	ASSERT_NE(0, st.flags & PF_KTHREAD);
}

TEST(status_of_self)
{
	struct proc_status st;

	umask(027);
	ASSERT_EQ(0, proc_read_status(getpid(), &st));
	ASSERT_EQ(getuid(), st.uid[0]);
	ASSERT_EQ(geteuid(), st.uid[1]);
	ASSERT_EQ(getgid(), st.gid[0]);
	ASSERT_EQ(getegid(), st.gid[1]);
	ASSERT_EQ(027, st.umask);
	ASSERT_EQ(getgroups(0, NULL), st.ngroups);
	ASSERT_EQ(0, st.tracer);
}

/* A thread's name in status as /proc/TID/comm has it: the kernel escapes
 * a newline and a backslash there (proc_task_name), nothing else. */
TEST(status_name_of_a_thread_with_a_tricky_name)
{
	static const char *names[] = { " a\\b\nc d\te:", "\tx", "\\\\\\\\\\\\\\\\", "plain" };
	char path[64], old[16];
	struct proc_status st;
	int dirfd;

	ASSERT_EQ(0, prctl(PR_GET_NAME, old));
	dirfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
	ASSERT_GE(dirfd, 0);
	snprintf(path, sizeof(path), "%ld/status", (long)syscall(SYS_gettid));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ASSERT_EQ(0, prctl(PR_SET_NAME, names[i]));
		ASSERT_EQ(0, proc_read_status_at(dirfd, path, &st));
		EXPECT_STREQ(names[i], st.name);
	}
	prctl(PR_SET_NAME, old);
	close(dirfd);
}

/* A thread's status parsed for what a dump keeps of it (collect.c): the
 * same name, seccomp mode and NoNewPrivs as the whole parse, for a thread
 * with both set (an allow-all filter of its own) and tricky names. */
static void both_parses(const char *text, struct proc_task_status *t)
{
	char *a = strdup(text), *b = strdup(text);
	struct proc_status st;

	proc_parse_status(a, &st);
	proc_parse_task_status(b, t);
	EXPECT_STREQ(st.name, t->name);
	EXPECT_EQ(st.seccomp, t->seccomp);
	EXPECT_EQ(st.no_new_privs, t->no_new_privs);
	free(a);
	free(b);
}

static void *filtered(void *arg)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { 1, &allow };
	struct proc_task_status *t = arg;
	char path[64], *text;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ||
	    prctl(PR_SET_NAME, "f\\il\ntered") < 0)
		return NULL;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", (long)syscall(SYS_gettid));
	if (read_file_once_at(AT_FDCWD, path, &text, NULL) == 0) {
		both_parses(text, t);
		free(text);
	}
	return NULL;
}

TEST(task_status_parsed_as_the_whole_status)
{
	struct proc_task_status t = { .seccomp = -1 };
	char path[64], *text;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, filtered, &t));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_STREQ("f\\il\ntered", t.name);
	EXPECT_EQ(SECCOMP_MODE_FILTER, t.seccomp);
	EXPECT_EQ(1, t.no_new_privs);
	/* and this thread: neither */
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", (long)syscall(SYS_gettid));
	ASSERT_EQ(0, read_file_once_at(AT_FDCWD, path, &text, NULL));
	both_parses(text, &t);
	free(text);
	EXPECT_EQ(0, t.seccomp);
	EXPECT_EQ(0, t.no_new_privs);
	/* keys at a line's start, whole: not Seccomp_filters, not a name's */
	both_parses("Name:\tSeccomp:\t2\nSeccomp_filters:\t3\nNoNewPrivs:\t1\nSeccomp:\t2\n", &t);
	EXPECT_STREQ("Seccomp:\t2", t.name);
	EXPECT_EQ(2, t.seccomp);
	EXPECT_EQ(1, t.no_new_privs);
}

/* read_file_once_at (common/util.c): a /proc file made in one piece comes
 * whole in one read; a file longer than the first buffer is read on to
 * its end all the same. */
TEST(read_once_gives_the_whole_file)
{
	char path[] = "/tmp/ckpt-test-once-XXXXXX", *a, *b, big[10000];
	size_t alen, blen;
	int fd;

	ASSERT_EQ(0, read_file_at(AT_FDCWD, "/proc/self/limits", &a, &alen));
	ASSERT_EQ(0, read_file_once_at(AT_FDCWD, "/proc/self/limits", &b, &blen));
	ASSERT_EQ(alen, blen);
	EXPECT_EQ(0, memcmp(a, b, alen));
	free(a);
	free(b);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ((ssize_t)sizeof(big), write(fd, big, sizeof(big)));
	close(fd);
	ASSERT_EQ(0, read_file_once_at(AT_FDCWD, path, &b, &blen));
	unlink(path);
	ASSERT_EQ(sizeof(big), blen);
	EXPECT_EQ(0, memcmp(big, b, blen));
	free(b);
}

/* taskfiles (ptrace/taskfiles.c): files opened before a freeze say what
 * the thread is when they are read, not when they were opened; one of a
 * thread that has ended since is refused, so that the caller opens anew. */
static void *quick(void *arg)
{
	*(pid_t *)arg = (pid_t)syscall(SYS_gettid);
	return NULL;
}

/* The soft limit taskfiles_open() raised for the threads' files is put
 * back at the dump's end (a `ckpt run` supervisor execs its job later). */
TEST(taskfiles_limit_is_put_back)
{
	struct rlimit rl, was;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &was));
	if (was.rlim_max < 2000) {
		printf("# hard limit %lu: skipped\n", (unsigned long)was.rlim_max);
		return;
	}
	rl = (struct rlimit){ .rlim_cur = 1100, .rlim_max = was.rlim_max };
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	taskfiles_open(getpid(), 200);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(MIN(was.rlim_max, 200 * TASKFILE_N + 1024), rl.rlim_cur);
	taskfiles_close();
	nofile_restore();
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(1100, rl.rlim_cur);
	ASSERT_EQ(was.rlim_max, rl.rlim_max);
	/* and again: the first value is what comes back */
	nofile_raise(1500);
	nofile_raise(1600);
	nofile_restore();
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(1100, rl.rlim_cur);
	setrlimit(RLIMIT_NOFILE, &was);
}

TEST(taskfiles_read_what_is_there_at_the_read)
{
	pid_t me = (pid_t)syscall(SYS_gettid), gone = 0;
	struct proc_status st;
	char old[16], *buf;
	int slack = prctl(PR_GET_TIMERSLACK);
	size_t held;
	pthread_t th;

	ASSERT_EQ(0, prctl(PR_GET_NAME, old));
	ASSERT_EQ(0, pthread_create(&th, NULL, quick, &gone));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, prctl(PR_SET_NAME, "before"));
	ASSERT_EQ(0, prctl(PR_SET_TIMERSLACK, 11000));
	taskfiles_open(getpid(), 2);
	held = taskfiles_held();	/* the ended thread's too while listed */
	ASSERT_GE(held, TASKFILE_N);
	ASSERT_EQ(0, prctl(PR_SET_NAME, "after"));
	ASSERT_EQ(0, prctl(PR_SET_TIMERSLACK, 22000));
	ASSERT_EQ(0, taskfiles_read(me, TASKFILE_STATUS, &buf));
	proc_parse_status(buf, &st);
	free(buf);
	EXPECT_STREQ("after", st.name);
	ASSERT_EQ(0, taskfiles_read(me, TASKFILE_SLACK, &buf));
	EXPECT_EQ(22000, atol(buf));
	free(buf);
	/* read once: the next is the caller's to open */
	EXPECT_EQ(-ENOENT, taskfiles_read(me, TASKFILE_STATUS, &buf));
	/* what was read is closed only by taskfiles_close (after the pause) */
	EXPECT_EQ(held, taskfiles_held());
	taskfiles_close();
	EXPECT_EQ(0, taskfiles_held());
	/* a thread that has ended: listed (a zombie) or not, never read */
	ASSERT_NE(0, gone);
	taskfiles_open(getpid(), 2);
	buf = NULL;
	EXPECT_NE(0, taskfiles_read(gone, TASKFILE_STATUS, &buf));
	free(buf);
	taskfiles_close();
	prctl(PR_SET_NAME, old);
	prctl(PR_SET_TIMERSLACK, slack);
}

/* num_threads from stat, which sizes the heap dump.c warms before a
 * freeze (heapwarm.c). */
static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

TEST(stat_counts_the_threads)
{
	struct proc_stat pst;
	pthread_t th;

	ASSERT_EQ(0, proc_read_stat(getpid(), &pst));
	EXPECT_EQ(1, pst.nthreads);
	ASSERT_EQ(0, pthread_create(&th, NULL, sleeper, NULL));
	ASSERT_EQ(0, proc_read_stat(getpid(), &pst));
	EXPECT_EQ(2, pst.nthreads);
}

/* Two mappings we make, found in our own smaps with path and VmFlags. */
TEST(maps_of_self_find_our_mappings)
{
	char dir[] = "/tmp/ckpt-proc.XXXXXX", file[128];
	struct map_entry *maps;
	size_t n;
	void *anon, *mapped;
	int fd, found = 0;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/a file (with) spaces", dir);
	fd = open(file, O_RDWR | O_CREAT, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 8192));
	mapped = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(mapped != MAP_FAILED);
	anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(anon != MAP_FAILED);
	ASSERT_EQ(0, madvise(anon, 3 * 4096, MADV_DONTFORK));
	ASSERT_EQ(0, proc_read_maps(getpid(), &maps, &n));
	for (size_t i = 0; i < n; i++) {
		if (maps[i].start == (uintptr_t)mapped) {
			ASSERT_STREQ(file, maps[i].path);
			ASSERT_EQ(1, maps[i].shared);
			ASSERT_EQ(PROT_READ, maps[i].prot);
			ASSERT_EQ((uintptr_t)mapped + 8192, maps[i].end);
			found |= 1;
		}
		if (maps[i].start == (uintptr_t)anon) {
			ASSERT_STREQ("", maps[i].path);
			ASSERT_NE(0, maps[i].vmflags & PM_DONTFORK);
			ASSERT_EQ(0, maps[i].vmflags & PM_DONTDUMP);
			found |= 2;
		}
	}
	proc_free_maps(maps, n);
	unlink(file);
	rmdir(dir);
	ASSERT_EQ(3, found);
}

/* PROC_MAPS_EXEC (PROCMAP_QUERY on 6.11+, ptrace/proc.c) names the same
 * executable mappings, with the same fields, as the text of /proc/self/maps
 * ([vsyscall] aside: not in the process's tree); one of a file of ours
 * among them. */
TEST(exec_maps_match_the_text)
{
	char dir[] = "/tmp/ckpt-proc.XXXXXX", file[128];
	struct map_entry *all, *ex;
	size_t nall, nex, k = 0;
	void *code;
	int fd, ours = 0;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/code", dir);
	fd = open(file, O_RDWR | O_CREAT, 0700);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 3 * 4096));
	code = mmap(NULL, 2 * 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 4096);
	ASSERT_TRUE(code != MAP_FAILED);
	close(fd);
	ASSERT_EQ(0, proc_read_maps_how(getpid(), &ex, &nex, PROC_MAPS_EXEC));
	ASSERT_EQ(0, proc_read_maps_how(getpid(), &all, &nall, PROC_MAPS));
	for (size_t i = 0; i < nall; i++) {
		if (!(all[i].prot & PROT_EXEC) || !strcmp(all[i].path, "[vsyscall]"))
			continue;
		ASSERT_LT(k, nex);
		EXPECT_EQ(all[i].start, ex[k].start);
		EXPECT_EQ(all[i].end, ex[k].end);
		EXPECT_EQ(all[i].pgoff, ex[k].pgoff);
		EXPECT_EQ(all[i].prot, ex[k].prot);
		EXPECT_EQ(all[i].shared, ex[k].shared);
		EXPECT_EQ(all[i].dev_major, ex[k].dev_major);
		EXPECT_EQ(all[i].dev_minor, ex[k].dev_minor);
		EXPECT_EQ(all[i].ino, ex[k].ino);
		EXPECT_STREQ(all[i].path, ex[k].path);
		ours |= ex[k].start == (uintptr_t)code && ex[k].pgoff == 4096 &&
			!strcmp(ex[k].path, file);
		k++;
	}
	EXPECT_EQ(nex, k);
	EXPECT_EQ(1, ours);
	proc_free_maps(all, nall);
	proc_free_maps(ex, nex);
	munmap(code, 2 * 4096);
	unlink(file);
	rmdir(dir);
}

/* The flags of the mapping at a in pid's smaps, or ~0 if none starts there. */
static uint32_t smaps_flags(pid_t pid, const void *a)
{
	struct map_entry *maps;
	size_t n;
	uint32_t f = ~0u;

	if (proc_read_maps(pid, &maps, &n) < 0)
		return f;
	for (size_t i = 0; i < n; i++)
		if (maps[i].start == (uintptr_t)a)
			f = maps[i].vmflags;
	proc_free_maps(maps, n);
	return f;
}

/* dump/pages.c reads no page map for a mapping smaps counts no shared
 * page in: written, alone; shared with a forked child; alone again once
 * the child wrote its own copies. */
TEST(smaps_says_when_pages_are_shared_copy_on_write)
{
	char *anon = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int go[2], done[2];
	pid_t child;
	char c = 0;

	ASSERT_TRUE(anon != MAP_FAILED);
	memset(anon, 1, 4 * 4096);
	ASSERT_EQ(PM_SMAPS, smaps_flags(getpid(), anon) & (PM_SMAPS | PM_SHARED_PAGES));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		close(go[1]);	/* the parent's close ends its last read */
		if (read(go[0], &c, 1) == 1)
			memset(anon, 2, 4 * 4096);
		/* Held until the parent is done with its smaps. */
		_exit(write(done[1], &c, 1) == 1 && read(go[0], &c, 1) >= 0 ? 0 : 1);
	}
	close(go[0]);
	ASSERT_EQ(PM_SMAPS | PM_SHARED_PAGES, smaps_flags(getpid(), anon) & (PM_SMAPS | PM_SHARED_PAGES));
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(PM_SMAPS, smaps_flags(getpid(), anon) & (PM_SMAPS | PM_SHARED_PAGES));
	close(go[1]);
	waitpid(child, NULL, 0);
	/* From plain maps nothing is known. */
	{
		struct map_entry *maps;
		size_t n;

		ASSERT_EQ(0, proc_read_maps_how(getpid(), &maps, &n, PROC_MAPS));
		for (size_t i = 0; i < n; i++)
			ASSERT_EQ(0, maps[i].vmflags & (PM_SMAPS | PM_SHARED_PAGES));
		proc_free_maps(maps, n);
	}
	munmap(anon, 4 * 4096);
}

/*
 * smaps text parsed as it is read (ptrace/proc.c read_maps_text): the same
 * mappings and flags whatever the buffer, a line longer than the buffer
 * (it grows) and lines cut across reads (a 7-byte buffer cuts every one)
 * among them, and a last line without its newline.
 */
static const char smaps_text[] =
	"7f0000000000-7f0000002000 rw-p 00000000 00:00 0 \n"
	"Size:                  8 kB\n"
	"Shared_Clean:          0 kB\n"
	"Shared_Dirty:          4 kB\n"
	"AnonHugePages:         0 kB\n"
	"VmFlags: rd wr mr mw me dd wf \n"
	"7f0000002000-7f0000003000 r--s 00001000 fe:01 42                         "
	"/a/very/long/path/of/a/file/that/is/mapped/somewhere/in/the/process/x\n"
	"AnonHugePages:      2048 kB\n"
	"Shared_Hugetlb:        0 kB\n"
	"VmFlags: rd mr me hg lo\n"
	"7f0000003000-7f0000004000 ---p 00000000 00:00 0";

static size_t parse_text(size_t chunk, struct map_entry **m)
{
	int p[2];
	size_t n = 0;

	if (pipe(p) < 0 || write(p[1], smaps_text, sizeof(smaps_text) - 1) != sizeof(smaps_text) - 1)
		return 0;
	close(p[1]);
	if (proc_parse_maps_fd(p[0], PROC_SMAPS, chunk, m, &n) < 0)
		n = 0;
	close(p[0]);
	return n;
}

TEST(smaps_text_parsed_the_same_whatever_the_buffer)
{
	static const size_t chunks[] = { 0, 7, 64, 100 };

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct map_entry *m;
		size_t n = parse_text(chunks[c], &m);

		ASSERT_EQ(3, n) {
			TH_LOG("a buffer of %zu bytes", chunks[c]);
		}
		ASSERT_EQ(0x7f0000000000ull, m[0].start);
		ASSERT_EQ(PM_SMAPS | PM_DONTDUMP | PM_WIPEONFORK | PM_MAYWRITE | PM_SHARED_PAGES,
			  m[0].vmflags);
		ASSERT_STREQ("", m[0].path);
		ASSERT_EQ(0x1000, m[1].pgoff);
		ASSERT_EQ(1, m[1].shared);
		ASSERT_EQ(42, m[1].ino);
		ASSERT_EQ(PM_SMAPS | PM_HUGEPAGE | PM_LOCKED | PM_ANONHUGE, m[1].vmflags);
		ASSERT_STREQ("/a/very/long/path/of/a/file/that/is/mapped/somewhere/in/the/process/x",
			     m[1].path);
		ASSERT_EQ(0x7f0000004000ull, m[2].end);
		ASSERT_EQ(0, m[2].prot);
		ASSERT_EQ(PM_SMAPS, m[2].vmflags);
		proc_free_maps(m, n);
	}
}

TEST_HARNESS_MAIN
