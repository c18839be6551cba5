/*
 * A byte stream over TCP for the test targets (fd_tcp, fd_tcp_fin): byte
 * i of a stream is pattern(i), in both directions (tests/fds-tcp.bats's
 * python3 peer checks the same), written with put and checked with get.
 */
#ifndef CKPT_TEST_TCP_STREAM_H
#define CKPT_TEST_TCP_STREAM_H

#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "target.h"

__attribute__((unused))
static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

__attribute__((unused))
static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want) {
		target_fail("cannot make fd %d: %s", want, strerror(errno));
		exit(target_exit());
	}
	close(fd);
}

/* fd 10: a listener on ip (of family), any port; its address in *a and
 * its length (a failure ends the target). */
__attribute__((unused))
static socklen_t listen_on(int family, const char *ip, struct sockaddr_storage *a)
{
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	memset(a, 0, sizeof(*a));
	a->ss_family = (sa_family_t)family;
	inet_pton(family, ip, family == AF_INET6 ? (void *)&((struct sockaddr_in6 *)a)->sin6_addr :
						   (void *)&((struct sockaddr_in *)a)->sin_addr);
	at(socket(family, SOCK_STREAM, 0), 10);
	if (bind(10, (struct sockaddr *)a, len) < 0 || listen(10, 4) < 0 ||
	    getsockname(10, (struct sockaddr *)a, &len) < 0) {
		target_fail("listener: %s", strerror(errno));
		exit(target_exit());
	}
	return len;
}

/* The same on the loopback address of family. */
__attribute__((unused))
static socklen_t listen_loopback(int family, struct sockaddr_storage *a)
{
	return listen_on(family, family == AF_INET6 ? "::1" : "127.0.0.1", a);
}

/* port into portfile, whole or not at all (written aside, renamed):
 * 0, or -1 after a failure. */
__attribute__((unused))
static int put_port(const char *portfile, unsigned port)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%u\n", port) < 0 || fclose(f) ||
	    rename(tmp, portfile) < 0) {
		target_fail("peer: %s: %s", portfile, strerror(errno));
		return -1;
	}
	return 0;
}

/* Bytes to read on fd (FIONREAD). */
__attribute__((unused))
static int inq(int fd)
{
	int n = 0;

	ioctl(fd, FIONREAD, &n);
	return n;
}

/* Write len bytes of the stream from *off (all = blocking, else as far as
 * the kernel takes); the bytes written. */
__attribute__((unused))
static uint64_t put(int fd, uint64_t *off, uint64_t len, int all)
{
	unsigned char buf[4096];
	uint64_t done = 0;

	while (done < len) {
		size_t n = (size_t)(len - done < sizeof(buf) ? len - done : sizeof(buf));
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(*off + i);
		w = send(fd, buf, n, MSG_NOSIGNAL | (all ? 0 : MSG_DONTWAIT));
		if (w < 0 && errno == EAGAIN && !all)
			break;
		if (w < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ fd, POLLOUT, 0 }, 1, 1000);
			continue;
		}
		if (w <= 0) {
			target_fail("fd %d: write: %s", fd, strerror(errno));
			break;
		}
		*off += (uint64_t)w;
		done += (uint64_t)w;
	}
	return done;
}

/* Read exactly len bytes of the stream from *off, checking each; with
 * end, then the end of the stream. */
__attribute__((unused))
static void get(int fd, uint64_t *off, uint64_t len, int end)
{
	unsigned char buf[4096];
	uint64_t done = 0;

	while (done < len || end) {
		size_t n = done < len && len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
		ssize_t r;

		if (poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 120000) != 1) {
			target_fail("fd %d: nothing to read after %llu of %llu bytes", fd,
				    (unsigned long long)done, (unsigned long long)len);
			return;
		}
		r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r == 0 && done == len)
			return;
		if (r <= 0) {
			target_fail("fd %d: read after %llu of %llu bytes: %s", fd,
				    (unsigned long long)done, (unsigned long long)len,
				    r ? strerror(errno) : "end of stream");
			return;
		}
		if (done + (uint64_t)r > len) {
			target_fail("fd %d: %llu bytes more than %llu before the end", fd,
				    (unsigned long long)(done + (uint64_t)r - len), (unsigned long long)len);
			return;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(*off + (uint64_t)i)) {
				target_fail("fd %d: byte %llu is %u, not %u", fd,
					    (unsigned long long)(*off + (uint64_t)i), buf[i],
					    pattern(*off + (uint64_t)i));
				return;
			}
		*off += (uint64_t)r;
		done += (uint64_t)r;
	}
}

#endif
