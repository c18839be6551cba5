/*
 * Anonymous pipes, each with state to keep, at fixed descriptor numbers:
 *   10/11  "hello, pipe" buffered, both ends here; 20 is a dup of 11
 *   12/13  F_SETPIPE_SZ 256 KiB, 200000 bytes of a pattern buffered
 *   14/15  read end O_NONBLOCK, empty: read says EAGAIN
 *   16/17  O_DIRECT (packet mode): packets of 5, 100 and 3000 bytes
 *   18     read end whose write end is closed: "tail", then end of file
 *   19     write end whose read end is closed: EPIPE
 *   21/22  a self-pipe, both ends O_NONBLOCK | FD_CLOEXEC, one byte in it
 * After GO each behaves as before: the same bytes in the same order (and
 * packets), sizes, flags, and both ways still work.  Without a dump in
 * between, the same checks show that a dump changed nothing.
 * Usage: fd_pipe
 */
#include <signal.h>
#include <sys/ioctl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>

#include "target.h"
#include "mem.h"

#define BIG	200000

static int pipe_at(int flags, int r, int w)
{
	int p[2];

	if (pipe2(p, flags) < 0 || dup2(p[0], r) != r || dup2(p[1], w) != w)
		return -1;
	close(p[0]);
	close(p[1]);
	if (flags & O_CLOEXEC) {
		fcntl(r, F_SETFD, FD_CLOEXEC);
		fcntl(w, F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

static int avail(int fd)
{
	int n = -1;

	ioctl(fd, FIONREAD, &n);
	return n;
}

static void check_bytes(int fd, const void *want, size_t len, const char *what)
{
	static unsigned char buf[BIG + 1];
	size_t got = 0;

	CHECK(avail(fd) == (int)len, "%s: %d bytes buffered, want %zu", what, avail(fd), len);
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CHECK(got == len && !memcmp(buf, want, len), "%s: read back %zu bytes, not the %zu written",
	      what, got, len);
}

/* Written one way and read the other: the pipe still works. */
static void check_works(int r, int w, const char *what)
{
	char buf[8];

	CHECK(write(w, "again", 5) == 5 && read(r, buf, sizeof(buf)) == 5 && !memcmp(buf, "again", 5),
	      "%s: no longer carries bytes", what);
}

int main(void)
{
	static unsigned char big[BIG];
	static const size_t pk[] = { 5, 100, 3000 };
	unsigned char pkt[4096];
	char buf[64];

	signal(SIGPIPE, SIG_IGN);
	pat_fill(big, BIG, 7);
	memset(pkt, 'p', sizeof(pkt));
	if (pipe_at(0, 10, 11) || write(11, "hello, pipe", 11) != 11 || dup2(11, 20) != 20 ||
	    pipe_at(0, 12, 13) || fcntl(12, F_SETPIPE_SZ, 256 << 10) < 0 ||
	    pipe_at(0, 14, 15) || fcntl(14, F_SETFL, O_NONBLOCK) < 0 ||
	    pipe_at(O_DIRECT, 16, 17) || pipe_at(0, 18, 23) || write(23, "tail", 4) != 4 ||
	    pipe_at(0, 24, 19) || pipe_at(O_NONBLOCK | O_CLOEXEC, 21, 22) || write(22, "!", 1) != 1) {
		target_fail("cannot set up the pipes: %s", strerror(errno));
		return target_exit();
	}
	close(23);
	close(24);
	if (write(13, big, BIG) != BIG)
		target_fail("cannot fill the big pipe: %s", strerror(errno));
	for (size_t i = 0; i < 3; i++) {
		pkt[0] = (unsigned char)i;
		if (write(17, pkt, pk[i]) != (ssize_t)pk[i])
			target_fail("cannot write packet %zu: %s", i, strerror(errno));
	}
	target_wait();

	check_bytes(10, "hello, pipe", 11, "pipe 10/11");
	CHECK(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 11, 20) == 0, "fd 20 is no longer a dup of fd 11");
	check_works(10, 20, "pipe 10/20");
	CHECK(fcntl(12, F_GETPIPE_SZ) == 256 << 10, "pipe 12/13 is %d bytes, want %d",
	      fcntl(12, F_GETPIPE_SZ), 256 << 10);
	check_bytes(12, big, BIG, "pipe 12/13 (256 KiB)");
	CHECK(fcntl(14, F_GETFL) & O_NONBLOCK, "fd 14 lost O_NONBLOCK");
	CHECK(!(fcntl(15, F_GETFL) & O_NONBLOCK), "fd 15 got O_NONBLOCK");
	CHECK(read(14, buf, 1) < 0 && errno == EAGAIN, "empty non-blocking fd 14: not EAGAIN");
	check_works(14, 15, "pipe 14/15");
	/* pipe2(O_DIRECT) gives it to the write end only (fs/pipe.c) */
	CHECK((fcntl(17, F_GETFL) & O_DIRECT) && !(fcntl(16, F_GETFL) & O_DIRECT),
	      "O_DIRECT of fd 16/17 is not as pipe2 set it");
	for (size_t i = 0; i < 3; i++) {
		ssize_t n = read(16, pkt, sizeof(pkt));

		CHECK(n == (ssize_t)pk[i] && pkt[0] == i, "packet %zu: read %zd bytes (first %d), want %zu",
		      i, n, n > 0 ? pkt[0] : -1, pk[i]);
	}
	CHECK(read(18, buf, sizeof(buf)) == 4 && !memcmp(buf, "tail", 4), "fd 18: not \"tail\"");
	CHECK(read(18, buf, sizeof(buf)) == 0, "fd 18: no end of file after \"tail\"");
	CHECK(write(19, "x", 1) < 0 && errno == EPIPE, "fd 19: writing without a reader is not EPIPE");
	CHECK((fcntl(21, F_GETFD) & FD_CLOEXEC) && (fcntl(22, F_GETFD) & FD_CLOEXEC),
	      "self-pipe lost FD_CLOEXEC");
	CHECK((fcntl(21, F_GETFL) & O_NONBLOCK) && (fcntl(22, F_GETFL) & O_NONBLOCK),
	      "self-pipe lost O_NONBLOCK");
	CHECK(read(21, buf, sizeof(buf)) == 1 && buf[0] == '!', "self-pipe: not its one byte");
	CHECK(read(21, buf, sizeof(buf)) < 0 && errno == EAGAIN, "self-pipe: more than its one byte");
	return target_exit();
}
