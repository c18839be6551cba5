/*
 * Files of its own /proc, at fixed descriptor numbers:
 *   10  /proc/self/status, 10 bytes read (offset 10)
 *   11  /proc/PID/maps (by its PID)
 *   12  /proc/self/ns/net (a namespace file: the link says "net:[ino]")
 *   13  /proc/self, a directory (O_DIRECTORY)
 *   14  /proc/self/fdinfo/10
 *   16  /proc/self/status, O_PATH
 * After GO: each names the process at the PID it has now (the links say
 * /proc/PID/... with that PID), 10 at offset 10 and its status says that
 * PID, 11 lists its own program's mapping, 12 is its network namespace,
 * 13 opens its status, 14 shows fd 10's offset.
 * With "task": also 15, /proc/self/task/TID/stat of a second thread
 * (dump refuses it).
 * Output: "fd_proc: ok".  Usage: fd_proc [task]
 */
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "target.h"

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		target_sleep_ms(1000);
	return NULL;
}

/* What fd's link says, into buf. */
static const char *link_of(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

int main(int argc, char **argv)
{
	char path[128], buf[8192], want[128], got[256];
	struct stat a, b;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", getpid());
	if (at(open("/proc/self/status", O_RDONLY), 10) != 10 || read(10, buf, 10) != 10 ||
	    at(open(path, O_RDONLY), 11) != 11 || at(open("/proc/self/ns/net", O_RDONLY), 12) != 12 ||
	    at(open("/proc/self", O_RDONLY | O_DIRECTORY), 13) != 13 ||
	    at(open("/proc/self/fdinfo/10", O_RDONLY), 14) != 14 ||
	    at(open("/proc/self/status", O_PATH), 16) != 16) {
		target_fail("cannot set up: %s", strerror(errno));
		return target_exit();
	}
	if (argc > 1 && !strcmp(argv[1], "task")) {
		pthread_t t;
		pid_t tid;

		if (pthread_create(&t, NULL, idle, NULL) != 0) {
			target_fail("cannot make a thread");
			return target_exit();
		}
		/* its TID: the other entry of /proc/self/task */
		for (tid = getpid() + 1; tid < getpid() + 100000; tid++) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
			if (at(open(path, O_RDONLY), 15) == 15)
				break;
		}
	}
	target_wait();

	snprintf(want, sizeof(want), "/proc/%d/status", getpid());
	CHECK(!strcmp(link_of(10, got, sizeof(got)), want), "fd 10 is %s, want %s", got, want);
	CHECK(lseek(10, 0, SEEK_CUR) == 10, "fd 10 at offset %lld, want 10",
	      (long long)lseek(10, 0, SEEK_CUR));
	lseek(10, 0, SEEK_SET);
	n = read(10, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	CHECK(strstr(buf, want), "fd 10's status does not say Pid: %d", getpid());
	snprintf(want, sizeof(want), "/proc/%d/maps", getpid());
	CHECK(!strcmp(link_of(11, got, sizeof(got)), want), "fd 11 is %s, want %s", got, want);
	n = read(11, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(strstr(buf, "/fd_proc"), "fd 11's maps do not list its own program");
	CHECK(fstat(12, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino,
	      "fd 12 is not its network namespace");
	fd = openat(13, "status", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	CHECK(strstr(buf, want), "fd 13 (/proc/self) is not its own");
	snprintf(want, sizeof(want), "/proc/%d/fdinfo/10", getpid());
	CHECK(!strcmp(link_of(14, got, sizeof(got)), want), "fd 14 is %s, want %s", got, want);
	n = read(14, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(!strncmp(buf, "pos:\t", 5), "fd 14 shows no fdinfo");
	snprintf(want, sizeof(want), "/proc/%d/status", getpid());
	CHECK(!strcmp(link_of(16, got, sizeof(got)), want), "fd 16 is %s, want %s", got, want);
	CHECK(fcntl(16, F_GETFL) & O_PATH, "fd 16 is no longer O_PATH");
	if (!target_failures)
		printf("fd_proc: ok\n");
	return target_exit();
}
