/*
 * Descriptors sharing one open file description (dup): fd 10 is DIR/data
 * opened O_RDWR and read to offset 100, fd 11 a dup of it, fd 12 a dup
 * with FD_CLOEXEC (F_DUPFD_CLOEXEC).  After restore the three must still
 * be one description (kcmp says so, and reading through one moves the
 * offset of the others), while fd 13, opened separately, is not.
 * Usage: fd_dup DIR
 */
#include <linux/kcmp.h>
#include <sys/syscall.h>

#include "target.h"

static int same_file(int a, int b)
{
	pid_t me = getpid();

	return syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

int main(int argc, char **argv)
{
	char path[4096], buf[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: fd_dup DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/data", argv[1]);
	memset(buf, 'd', sizeof(buf));
	if (dup2(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), 10) != 10 ||
	    write(10, buf, sizeof(buf)) != sizeof(buf) || lseek(10, 100, SEEK_SET) != 100 ||
	    dup2(10, 11) != 11 || fcntl(10, F_DUPFD_CLOEXEC, 12) != 12 ||
	    dup2(open(path, O_RDONLY), 13) != 13) {
		target_fail("cannot set up %s: %s", path, strerror(errno));
		return target_exit();
	}
	target_wait();

	CHECK(same_file(10, 11), "fd 10 and fd 11 are not one open file description any more");
	CHECK(same_file(10, 12), "fd 10 and fd 12 are not one open file description any more");
	CHECK(!same_file(10, 13), "fd 10 and fd 13 became one open file description");
	CHECK(lseek(11, 0, SEEK_CUR) == 100 && lseek(12, 0, SEEK_CUR) == 100,
	      "offsets of fd 11, 12 are %lld, %lld, want 100", (long long)lseek(11, 0, SEEK_CUR),
	      (long long)lseek(12, 0, SEEK_CUR));
	CHECK(read(10, buf, 50) == 50, "read fd 10");
	CHECK(lseek(11, 0, SEEK_CUR) == 150 && lseek(12, 0, SEEK_CUR) == 150,
	      "after reading 50 bytes through fd 10, fd 11 and 12 are at %lld, %lld, want 150",
	      (long long)lseek(11, 0, SEEK_CUR), (long long)lseek(12, 0, SEEK_CUR));
	CHECK(lseek(13, 0, SEEK_CUR) == 0, "fd 13 moved with fd 10");
	CHECK((fcntl(12, F_GETFD) & FD_CLOEXEC) && !(fcntl(11, F_GETFD) & FD_CLOEXEC),
	      "FD_CLOEXEC of fd 11/12 is wrong");
	return target_exit();
}
