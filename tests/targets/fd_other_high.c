/*
 * A pipe at a high descriptor number (300, the read end; 301, the write
 * end): restore makes it again, and it must never get ckpt restore's own
 * descriptor of that number instead (tests/security.bats
 * gives ckpt restore a file at 300).  After GO: neither fd is a regular
 * file, and reading fd 300 gives nothing of ckpt's.
 */
#include <sys/stat.h>

#include "target.h"

int main(void)
{
	int p[2];
	struct stat st;
	char buf[64];
	ssize_t n;

	if (pipe(p) < 0 || dup2(p[0], 300) < 0 || dup2(p[1], 301) < 0)
		return 2;
	close(p[0]);
	close(p[1]);
	target_wait();
	for (int fd = 300; fd <= 301; fd++)
		CHECK(fstat(fd, &st) == 0 && !S_ISREG(st.st_mode),
		      "fd %d is a regular file after restore: a descriptor of ckpt's", fd);
	fcntl(300, F_SETFL, O_NONBLOCK);
	n = read(300, buf, sizeof(buf));
	CHECK(n <= 0, "fd 300 reads %zd bytes that are not the process's: \"%.*s\"", n,
	      (int)(n > 0 ? n : 0), buf);
	return target_exit();
}
