/*
 * The network lock (netlock.h) through nft(8), Debian's nftables package:
 * one script on its standard input, applied as one transaction (nft -f),
 * so a table is there whole or not at all.  nf_tables itself is in the
 * kernel since 3.13; what nft adds is only the netlink encoding of rules.
 *
 * The table has two base chains: input drops what the peer sends to the
 * process's end, output what that end sends to the peer (a restored socket
 * out of repair mode before the table goes).  On loopback the peer's
 * segments pass output first (as the peer's) and are dropped at input: the
 * peer's kernel counts them as sent and retransmits them (checked on
 * 6.18: no reset, the bytes unacknowledged in its send queue).  An IPv6
 * socket talking to ::ffff:a.b.c.d sends IPv4 segments: matched as IPv4.
 * Priority -150, before the usual filter chains (0); a drop in any table
 * is final for the packet (nft(8) "VERDICT STATEMENT").  Segments with
 * NETLOCK_MARK pass: restore's own (the mark stays with a packet from
 * output to input on loopback; CRIU's lock lets its packets pass so).
 * A listener's rule is in input only: the SYN of a new client, dropped,
 * is sent again by the client's kernel (tcp_retransmit_timer: 1 s, then
 * twice as long each time, net.ipv4.tcp_syn_retries times, 6 by default:
 * about 2 minutes), where a port nobody listens on would answer it with
 * a reset: connect(2) fails with ECONNREFUSED at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/netlock.h"
#include "common/util.h"

void netlock_name(const uint8_t image_id[16], char name[NETLOCK_NAME_MAX])
{
	int n = snprintf(name, NETLOCK_NAME_MAX, "ckpt_");

	for (int i = 0; i < 16; i++)
		n += snprintf(name + n, (size_t)(NETLOCK_NAME_MAX - n), "%02x", image_id[i]);
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* "ip saddr A tcp sport P ip daddr B tcp dport Q" for segments from
 * (a, pa) to (b, pb). */
static void match(char *buf, size_t len, int family, const uint8_t *a, uint16_t pa,
		  const uint8_t *b, uint16_t pb)
{
	char sa[INET6_ADDRSTRLEN], sb[INET6_ADDRSTRLEN];
	const char *ip = "ip";

	if (family == AF_INET6 && !memcmp(a, v4mapped, 12) && !memcmp(b, v4mapped, 12)) {
		a += 12;
		b += 12;
		family = AF_INET;
	}
	if (family == AF_INET6)
		ip = "ip6";
	inet_ntop(family, a, sa, sizeof(sa));
	inet_ntop(family, b, sb, sizeof(sb));
	snprintf(buf, len, "%s saddr %s tcp sport %u %s daddr %s tcp dport %u", ip, sa, pa, ip, sb, pb);
}

static int zero(const uint8_t *a, size_t n)
{
	while (n--)
		if (*a++)
			return 0;
	return 1;
}

/*
 * "... tcp dport P tcp flags & (syn | ack) == syn" for the SYNs that open
 * a connection to listener l: only those (a SYN-ACK or a segment of a
 * connection made through it is no business of the listener's; the
 * job's own connections have their rules).  The unspecified address is
 * every local one: 0.0.0.0 of IPv4 only, :: of IPv6 and, unless
 * IPV6_V6ONLY, of IPv4 too (ipv6(7)); ::ffff:a.b.c.d is IPv4 a.b.c.d.
 */
static void listen_match(char *buf, size_t len, const struct netlock_conn *l)
{
	char sa[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN + 16];
	const uint8_t *a = l->addr;
	int family = l->family;

	if (family == AF_INET6 && !memcmp(a, v4mapped, 12)) {
		a += 12;
		family = AF_INET;
	}
	if (zero(a, family == AF_INET ? 4 : 16)) {
		snprintf(dst, sizeof(dst), "%s", family == AF_INET ? "meta nfproto ipv4 " :
			 l->v6only ? "meta nfproto ipv6 " : "");
	} else {
		inet_ntop(family, a, sa, sizeof(sa));
		snprintf(dst, sizeof(dst), "%s daddr %s ", family == AF_INET ? "ip" : "ip6", sa);
	}
	snprintf(buf, len, "%stcp dport %u tcp flags & (syn | ack) == syn", dst, l->port);
}

/* A table that may or may not be there is made sure of, then deleted:
 * nft has no "delete if it exists" in 1.0.6 ("destroy" came in 1.0.8). */
static void gone(FILE *f, const char *name)
{
	fprintf(f, "table inet %s {}\ndelete table inet %s\n", name, name);
}

/* Run nft -f - on script: 0, -ENOENT (no nft), -EIO (it refused: its
 * first line of error in why). */
static int nft(const char *script, size_t len, char *why, size_t whylen)
{
	const char *env = getenv("CKPT_NFT");
	int in[2], err[2], st = 0;
	char buf[512];
	size_t got = 0;
	pid_t pid;

	if (why && whylen)
		why[0] = 0;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "nft", "-f", "-", NULL };
		int null = open("/dev/null", O_WRONLY);

		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(null < 0 ? err[1] : null, 1) < 0 || dup2(err[1], 2) < 0)
			_exit(126);
		if (env && *env) {
			execv(env, argv);
		} else {
			execvp("nft", argv);
			/* root's PATH may lack sbin (sudo without secure_path) */
			execv("/usr/sbin/nft", argv);
			execv("/sbin/nft", argv);
		}
		_exit(127);
	}
	close(in[0]);
	close(err[1]);
	if (pid < 0) {
		close(in[1]);
		close(err[0]);
		return -errno;
	}
	/* a script is a few hundred bytes: the pipe takes it whole */
	if (write_all(in[1], script, len) < 0) {
		/* nft did not read it: its status says why */
	}
	close(in[1]);
	while (got + 1 < sizeof(buf)) {
		ssize_t n = read(err[0], buf + got, sizeof(buf) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	close(err[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return -ENOENT;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (why && whylen) {
		/* "Error: ..." is nft's first line of a refusal */
		char *p = strstr(buf, "Error: "), *nl;

		p = p ? p + 7 : buf;
		if ((nl = strchr(p, '\n')))
			*nl = 0;
		snprintf(why, whylen, "%s", *p ? p : "nft failed");
	}
	return -EIO;
}

int netlock_install(const char *name, const struct netlock_conn *c, size_t n,
		    char *why, size_t whylen)
{
	static const char *chains[2][2] = { { "in", "input" }, { "out", "output" } };
	char *script = NULL, rule[256];
	size_t len = 0;
	FILE *f = open_memstream(&script, &len);
	int ret;

	if (!f)
		return -errno;
	gone(f, name);
	fprintf(f, "table inet %s {\n", name);
	for (int k = 0; k < 2; k++) {
		fprintf(f, "\tchain %s {\n\t\ttype filter hook %s priority -150; policy accept;\n",
			chains[k][0], chains[k][1]);
		for (size_t i = 0; i < n; i++) {
			if (c[i].listener && k == 1)
				continue;	/* a SYN comes in */
			if (c[i].listener)
				listen_match(rule, sizeof(rule), &c[i]);
			else if (k == 0)
				match(rule, sizeof(rule), c[i].family, c[i].peer, c[i].peer_port,
				      c[i].addr, c[i].port);
			else
				match(rule, sizeof(rule), c[i].family, c[i].addr, c[i].port,
				      c[i].peer, c[i].peer_port);
			fprintf(f, "\t\tmeta mark != %#x %s drop\n", NETLOCK_MARK, rule);
		}
		fprintf(f, "\t}\n");
	}
	fprintf(f, "}\n");
	if (fclose(f) != 0) {
		free(script);
		return -ENOMEM;
	}
	ret = nft(script, len, why, whylen);
	free(script);
	return ret;
}

int netlock_remove(const char *name, char *why, size_t whylen)
{
	char script[2 * NETLOCK_NAME_MAX + 64];
	int len = snprintf(script, sizeof(script), "table inet %s {}\ndelete table inet %s\n", name,
			   name);

	return nft(script, (size_t)len, why, whylen);
}

int netlock_capable(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	return syscall(SYS_capget, &h, d) == 0 && (d[0].effective & (1u << CAP_NET_ADMIN));
}

int netlock_probe(char *why, size_t whylen)
{
	static const char script[] = "list tables\n";

	return nft(script, sizeof(script) - 1, why, whylen);
}
