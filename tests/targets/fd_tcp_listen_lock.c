/*
 * A TCP server whose client connects while the server is down (dump
 * --kill .. restore): the network lock of its listener.
 *
 *   fd_tcp_listen_lock serve PORTFILE 4|6|any4|any6|any6only
 *     10 a listener on 127.0.0.1 (6: ::1; any4: 0.0.0.0; any6: ::, which
 *     takes IPv4 too; any6only: :: with IPV6_V6ONLY), any port (its port
 *     in PORTFILE).  After GO: accepts one connection, reads "hi",
 *     answers "hello", closes; prints "served".
 *
 *   fd_tcp_listen_lock client PORT 4|6 STARTED RESULT
 *     not dumped: the client.  Makes STARTED, then connects (a blocking
 *     connect: the kernel sends the SYN again while nobody answers) to
 *     127.0.0.1:PORT (6: [::1]:PORT), writes "hi" and reads the answer.
 *     Writes in RESULT "answer hello", "refused" (ECONNREFUSED: a reset
 *     answered its SYN) or what else happened.
 */
#include <signal.h>

#include "tcp_stream.h"

static int serve(const char *portfile, const char *how)
{
	static const struct { const char *how, *ip; int family, v6only; } ways[] = {
		{ "4", "127.0.0.1", AF_INET, 0 },   { "6", "::1", AF_INET6, 0 },
		{ "any4", "0.0.0.0", AF_INET, 0 },  { "any6", "::", AF_INET6, 0 },
		{ "any6only", "::", AF_INET6, 1 },
	};
	struct sockaddr_storage a = { 0 };
	socklen_t len;
	char buf[8] = { 0 };
	unsigned i;
	int c;

	for (i = 0; i < sizeof(ways) / sizeof(ways[0]) && strcmp(ways[i].how, how); i++)
		;
	if (i == sizeof(ways) / sizeof(ways[0])) {
		target_fail("serve: no way \"%s\"", how);
		return target_exit();
	}
	a.ss_family = (sa_family_t)ways[i].family;
	len = ways[i].family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	inet_pton(ways[i].family, ways[i].ip, ways[i].family == AF_INET6 ?
		  (void *)&((struct sockaddr_in6 *)&a)->sin6_addr :
		  (void *)&((struct sockaddr_in *)&a)->sin_addr);
	at(socket(ways[i].family, SOCK_STREAM, 0), 10);
	/* the default of net.ipv6.bindv6only is 0: set both ways */
	if (ways[i].family == AF_INET6 &&
	    setsockopt(10, IPPROTO_IPV6, IPV6_V6ONLY, &ways[i].v6only, sizeof(int)) < 0)
		target_fail("IPV6_V6ONLY: %s", strerror(errno));
	if (bind(10, (struct sockaddr *)&a, len) < 0 || listen(10, 4) < 0 ||
	    getsockname(10, (struct sockaddr *)&a, &len) < 0) {
		target_fail("listener: %s", strerror(errno));
		return target_exit();
	}
	/* the port is at the same offset in both sockaddrs */
	if (put_port(portfile, ntohs(((struct sockaddr_in *)&a)->sin_port)) < 0)
		return target_exit();
	target_wait();
	if ((c = accept(10, NULL, NULL)) < 0) {
		target_fail("accept: %s", strerror(errno));
		return target_exit();
	}
	if (recv(c, buf, 2, MSG_WAITALL) != 2 || strcmp(buf, "hi"))
		target_fail("read \"%s\" where \"hi\" was sent: %s", buf, strerror(errno));
	else if (send(c, "hello", 5, MSG_NOSIGNAL) != 5)
		target_fail("answer: %s", strerror(errno));
	close(c);
	printf("served\n");
	return target_exit();
}

static int result(const char *path, const char *what)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%s\n", what) < 0 || fclose(f)) {
		target_fail("%s: %s", path, strerror(errno));
		return target_exit();
	}
	return 0;
}

static int client(int port, const char *how, const char *started, const char *res)
{
	struct sockaddr_storage a = { 0 };
	int family = strcmp(how, "6") ? AF_INET : AF_INET6, s;
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	char buf[64] = { 0 }, what[160];
	ssize_t n, got = 0;

	signal(SIGPIPE, SIG_IGN);
	a.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&a)->sin_addr);
	} else {
		((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, "::1", &((struct sockaddr_in6 *)&a)->sin6_addr);
	}
	if ((s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return result(res, "error: socket");
	if (result(started, "connecting"))
		return target_exit();
	if (connect(s, (struct sockaddr *)&a, len) < 0) {
		snprintf(what, sizeof(what), "%s", errno == ECONNREFUSED ? "refused" : strerror(errno));
		return result(res, what);
	}
	if (send(s, "hi", 2, MSG_NOSIGNAL) != 2)
		return result(res, "error: send");
	while ((n = recv(s, buf + got, sizeof(buf) - 1 - (size_t)got, 0)) > 0)
		got += n;
	snprintf(what, sizeof(what), "answer %s", n < 0 ? strerror(errno) : buf);
	return result(res, what);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]), argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: fd_tcp_listen_lock serve PORTFILE 4|6|any4|any6|any6only | "
		"client PORT 4|6 STARTED RESULT\n");
	return 2;
}
