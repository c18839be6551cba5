/*
 * Files shared between the processes of a tree (issue 12): a parent and
 * its child connected by two pipes with bytes in flight (40000 bytes to
 * the child, 20000 to the parent), a stream socketpair and a datagram
 * socketpair with messages queued both ways, and a file opened before
 * the fork (one open file description: one offset, one set of flags).
 * After GO each side reads what was in flight and checks it byte for
 * byte, up to EOF: a pipe end left open anywhere (in ckpt or in a process
 * that did not hold it) would make that read hang.  The child moves the
 * shared offset and sets O_APPEND; the parent must see both.
 * Output: "tree_fds: ok".  Usage: tree_fds DIR
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "target.h"

#define TO_CHILD	40000
#define TO_PARENT	20000

static unsigned char pattern(size_t i, int salt)
{
	return (unsigned char)((i * 7 + (size_t)salt) % 251);
}

static void fill(int fd, size_t n, int salt)
{
	unsigned char buf[4096];

	for (size_t at = 0; at < n;) {
		size_t len = n - at < sizeof(buf) ? n - at : sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = pattern(at + i, salt);
		if (write(fd, buf, len) != (ssize_t)len)
			target_fail("pipe write: %s", strerror(errno));
		at += len;
	}
}

/* Read to EOF: exactly n bytes of the pattern. */
static void drain(int fd, size_t n, int salt, const char *who)
{
	unsigned char buf[4096];
	size_t at = 0, bad = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			bad += buf[i] != pattern(at + (size_t)i, salt);
		at += (size_t)r;
	}
	CHECK(r == 0, "%s: pipe read: %s", who, strerror(errno));
	CHECK(at == n && !bad, "%s: %zu bytes to EOF (want %zu), %zu wrong", who, at, n, bad);
}

static void expect(int fd, const char *want, const char *who)
{
	char buf[64] = "";
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);

	CHECK(r == (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)),
	      "%s: got \"%.*s\", want \"%s\"", who, r > 0 ? (int)r : 0, buf, want);
}

static int child(int down, int up, int st, int dg, int f, int hs)
{
	CHECK(write(f, "abcde", 5) == 5, "child: write");
	send(st, "to parent", 9, 0);
	send(dg, "dgram 1", 7, 0);
	send(dg, "dgram 2", 7, 0);
	fill(up, TO_PARENT, 2);
	close(up);
	CHECK(write(hs, "x", 1) == 1, "child: handshake");
	close(hs);
	while (!target_go())
		target_sleep_ms(5);
	drain(down, TO_CHILD, 1, "child");
	expect(st, "to child", "child stream");
	expect(dg, "dgram A", "child dgram");
	CHECK(lseek(f, 0, SEEK_CUR) == 15, "child: shared offset %ld, want 15",
	      (long)lseek(f, 0, SEEK_CUR));
	CHECK(write(f, "XY", 2) == 2, "child: write");
	CHECK(fcntl(f, F_SETFL, O_APPEND) == 0, "child: F_SETFL");
	return target_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int down[2], up[2], st[2], dg[2], hs[2], f, status;
	char path[4096], buf[32] = "";
	pid_t kid;

	if (argc < 2)
		return 2;
	snprintf(path, sizeof(path), "%s/shared", argv[1]);
	if (pipe(down) || pipe(up) || pipe(hs) || socketpair(AF_UNIX, SOCK_STREAM, 0, st) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) ||
	    (f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
		return 2;
	CHECK(write(f, "0123456789", 10) == 10, "parent: write");
	if (!(kid = fork())) {
		close(down[1]);
		close(up[0]);
		close(st[0]);
		close(dg[0]);
		close(hs[0]);
		_exit(child(down[0], up[1], st[1], dg[1], f, hs[1]));
	}
	close(down[0]);
	close(up[1]);
	close(st[1]);
	close(dg[1]);
	close(hs[1]);
	fill(down[1], TO_CHILD, 1);
	send(st[0], "to child", 8, 0);
	send(dg[0], "dgram A", 7, 0);
	CHECK(read(hs[0], buf, 1) == 1, "parent: handshake");
	close(hs[0]);
	target_wait();
	close(down[1]);
	drain(up[0], TO_PARENT, 2, "parent");
	expect(st[0], "to parent", "parent stream");
	expect(dg[0], "dgram 1", "parent dgram");
	expect(dg[0], "dgram 2", "parent dgram");
	CHECK(waitpid(kid, &status, 0) == kid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child: status %#x", status);
	CHECK(lseek(f, 0, SEEK_CUR) == 17, "parent: shared offset %ld, want 17",
	      (long)lseek(f, 0, SEEK_CUR));
	CHECK(fcntl(f, F_GETFL) & O_APPEND, "parent: O_APPEND set by the child not seen");
	memset(buf, 0, sizeof(buf));
	CHECK(pread(f, buf, sizeof(buf) - 1, 0) == 17 && !strcmp(buf, "0123456789abcdeXY"),
	      "parent: file holds \"%s\"", buf);
	if (!target_failures)
		printf("tree_fds: ok\n");
	return target_exit();
}
