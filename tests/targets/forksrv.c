/*
 * A server that forks a child per client (inetd, socat TCP-LISTEN,fork,
 * preforking servers): the parent listens on 127.0.0.1 (an ephemeral
 * port, written to $CKPT_READY.port before READY) and forks a child for
 * each connection it accepts.  The child echoes what it reads, but only
 * once $CKPT_GO exists: before that the client's bytes stay in the
 * connection's receive queue (bytes in flight at the dump).
 *
 *   forksrv [keep] [prefork] [inside]
 *     keep     the parent keeps its copy of each connection open (one
 *              open file description held by parent and child)
 *     prefork  each child keeps the listener too (as preforking servers
 *              do: one listening socket held by every process)
 *     inside   the peer is in the tree too: before READY the parent
 *              forks a client that connects, sends 50000 bytes (not yet
 *              echoed at READY) and, after GO, checks their echo and
 *              writes "ok" to $CKPT_READY.inside
 *
 * It runs until SIGTERM (exit 0); a child exits when its client closes.
 * Each process announces nothing on stdout; failures go to stderr.
 */
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "target.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

/* The client of "inside": its verdict in $CKPT_READY.inside. */
static void client(const struct sockaddr_in *a, const char *ready)
{
	static unsigned char buf[50000];
	char path[4096];
	size_t got = 0;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	FILE *f;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	if (s < 0 || connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    write(s, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		target_fail("inside client: %s", strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s.sent", ready);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	while (!target_go())
		target_sleep_ms(5);
	while (got < sizeof(buf)) {
		ssize_t r = read(s, buf, sizeof(buf) - got);

		if (r <= 0) {
			target_fail("inside client: read after %zu bytes: %s", got,
				    r ? strerror(errno) : "end of stream");
			exit(1);
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(got + (size_t)i)) {
				target_fail("inside client: byte %zu is wrong", got + (size_t)i);
				exit(1);
			}
		got += (size_t)r;
	}
	snprintf(path, sizeof(path), "%s.inside", ready);
	if (!(f = fopen(path, "w")) || fputs("ok\n", f) < 0 || fclose(f))
		exit(1);
	close(s);
	exit(target_exit());
}

static void serve(int c)
{
	char buf[4096];

	while (!target_go())
		target_sleep_ms(5);
	for (;;) {
		ssize_t r = read(c, buf, sizeof(buf)), w = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				target_fail("child: read: %s", strerror(errno));
			break;
		}
		while (w < r) {
			ssize_t n = write(c, buf + w, (size_t)(r - w));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				target_fail("child: write: %s", strerror(errno));
				exit(1);
			}
			w += n;
		}
	}
	exit(target_exit());
}

int main(int argc, char **argv)
{
	int keep = 0, prefork = 0, inside = 0, announced = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), held[64], nheld = 0;
	const char *ready = getenv("CKPT_READY");

	for (int i = 1; i < argc; i++) {
		keep |= !strcmp(argv[i], "keep");
		prefork |= !strcmp(argv[i], "prefork");
		inside |= !strcmp(argv[i], "inside");
	}
	signal(SIGTERM, on_term);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0) {
		target_fail("listener: %s", strerror(errno));
		return 1;
	}
	if (ready) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s.port", ready);
		if (!(f = fopen(path, "w")) || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f)) {
			target_fail("%s: %s", path, strerror(errno));
			return 1;
		}
	}
	if (inside && ready && fork() == 0)
		client(&a, ready);
	if (!inside || !ready)
		target_ready();
	while (!stop) {
		int c;
		pid_t pid;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (poll(&(struct pollfd){ l, POLLIN, 0 }, 1, 100) != 1)
			continue;
		if ((c = accept(l, NULL, NULL)) < 0) {
			if (errno != EINTR)
				target_fail("accept: %s", strerror(errno));
			continue;
		}
		if ((pid = fork()) < 0) {
			target_fail("fork: %s", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			if (!prefork)
				close(l);
			for (int i = 0; i < nheld; i++)
				close(held[i]);
			signal(SIGTERM, SIG_DFL);
			serve(c);
		}
		if (inside && !announced++) {
			/* READY once the child holds the client's bytes */
			char path[4096];

			snprintf(path, sizeof(path), "%s.sent", ready);
			while (access(path, F_OK) < 0)
				target_sleep_ms(5);
			target_ready();
		}
		if (keep && nheld < (int)(sizeof(held) / sizeof(held[0])))
			held[nheld++] = c;
		else
			close(c);
	}
	return target_exit();
}
