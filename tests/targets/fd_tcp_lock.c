/*
 * A TCP connection to a peer outside the image that sends while the
 * process is down (dump --kill .. restore): the network lock.
 *
 *   fd_tcp_lock dial PORT 4|6|mapped
 *     10 a connection to the peer on 127.0.0.1:PORT (6: [::1]:PORT;
 *     mapped: an IPv6 socket to ::ffff:127.0.0.1, which talks IPv4).
 *     Reads 1000 bytes, writes 2000 (the peer reads them).  After GO:
 *     reads the 3000 bytes the peer sent while the process was down,
 *     writes 1500, shuts its side and reads the end.  Prints "IN OUT".
 *
 *   fd_tcp_lock peer PORTFILE 4|6 PAUSEFILE SENTFILE
 *     not dumped: the peer.  Listens (its port in PORTFILE), sends 1000
 *     bytes, reads 2000; once PAUSEFILE exists (the test makes it after
 *     the dump killed the process) sends 3000 and makes SENTFILE; then
 *     reads 1500 bytes and the end, closes.  Prints "N ok" (N bytes read,
 *     each right) or "N bad" after what went wrong (a reset: "Connection
 *     reset by peer").
 *
 * The streams are tcp_stream.h's.
 */
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tcp_stream.h"

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0)
		close(fd);
}

static void dial(int port, const char *how)
{
	struct sockaddr_storage a = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
	int family = strcmp(how, "4") ? AF_INET6 : AF_INET;
	socklen_t len = family == AF_INET ? sizeof(*a4) : sizeof(*a6);

	if (family == AF_INET) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, "127.0.0.1", &a4->sin_addr);
	} else {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, strcmp(how, "6") ? "::ffff:127.0.0.1" : "::1", &a6->sin6_addr);
	}
	at(socket(family, SOCK_STREAM, 0), 10);
	if (connect(10, (struct sockaddr *)&a, len) < 0) {
		target_fail("cannot connect to port %d: %s", port, strerror(errno));
		exit(target_exit());
	}
}

static int dialer(int port, const char *how)
{
	uint64_t in = 0, out = 0;

	dial(port, how);
	get(10, &in, 1000, 0);
	put(10, &out, 2000, 1);
	target_wait();
	get(10, &in, 3000, 0);
	put(10, &out, 1500, 1);
	shutdown(10, SHUT_WR);
	get(10, &in, 0, 1);
	printf("%llu %llu\n", (unsigned long long)in, (unsigned long long)out);
	return target_exit();
}

static int peer(const char *portfile, const char *how, const char *pause, const char *sent)
{
	struct sockaddr_storage a;
	uint64_t in = 0, out = 0;
	int c;

	signal(SIGPIPE, SIG_IGN);
	listen_loopback(strcmp(how, "6") ? AF_INET : AF_INET6, &a);
	if (put_port(portfile, ntohs(((struct sockaddr_in *)&a)->sin_port)) < 0)
		return target_exit();
	if ((c = accept(10, NULL, NULL)) < 0) {
		target_fail("peer: accept: %s", strerror(errno));
		return target_exit();
	}
	close(10);
	put(c, &out, 1000, 1);
	get(c, &in, 2000, 0);
	while (access(pause, F_OK) < 0)
		target_sleep_ms(5);
	put(c, &out, 3000, 1);
	touch(sent);
	if (!target_failures)
		get(c, &in, 1500, 1);
	close(c);
	printf("%llu %s\n", (unsigned long long)in, target_failures ? "bad" : "ok");
	return target_exit();
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "dial"))
		return dialer(atoi(argv[2]), argv[3]);
	if (argc == 6 && !strcmp(argv[1], "peer"))
		return peer(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: fd_tcp_lock dial PORT 4|6|mapped | "
		"peer PORTFILE 4|6 PAUSEFILE SENTFILE\n");
	return 2;
}
