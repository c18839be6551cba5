/*
 * A bare TCP segment (no data, no options) that comes, as far as this
 * machine's TCP can tell, from a restored connection's peer: how restore
 * gives a connection back a FIN the peer had sent, or the ACK the peer
 * had sent for the process's own FIN.  TCP_REPAIR has no way to put
 * either into a socket (tcp(7): it sets sequence numbers and queues of
 * bytes, not a state), but a socket in repair mode takes the segments
 * that come in as any other (tcp_rcv_state_process), so ckpt sends one
 * through a raw socket (raw(7), IP_HDRINCL; ipv6(7), IPV6_HDRINCL, Linux
 * 4.5) with the peer's address as its source and the connection's address
 * as its destination: an address of this machine, so the segment goes to
 * the local TCP and no further.  No timestamp option: a segment without
 * one is not checked against PAWS (tcp_validate_incoming: saw_tstamp).
 * Needs CAP_NET_RAW (ckpt's own, as TCP_REPAIR's CAP_NET_ADMIN).  Marked
 * (SO_MARK, CAP_NET_ADMIN) so that the network lock of the dump lets it
 * through (common/netlock.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/netlock.h"
#include "restore/fd.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL	36	/* include/uapi/linux/in6.h */
#endif

/* RFC 793 3.1, without options: 20 bytes */
struct tcph {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off;		/* data offset in words, << 4 */
	uint8_t flags;
	uint16_t window, sum, urg;
};

#define TH_FIN	0x01
#define TH_ACK	0x10

/* The Internet checksum (RFC 1071) of a, then b, as one sum. */
static uint16_t sum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < alen; i += 2)
		s += (uint32_t)a[i] << 8 | a[i + 1];
	for (size_t i = 0; i + 1 < blen; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* An IPv6 address that is an IPv4 one (::ffff:a.b.c.d, RFC 4291 2.5.5.2) */
static int mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, 12);
}

/* net.ipv4/ipv6.ip_nonlocal_bind (ip-sysctl.rst): binds take any address. */
static int nonlocal_bind(int v6)
{
	char c = '0';
	int fd = open(v6 ? "/proc/sys/net/ipv6/ip_nonlocal_bind" : "/proc/sys/net/ipv4/ip_nonlocal_bind",
		      O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c != '0';
}

/*
 * Whether a is an address of this machine.  An image names the address a
 * raw segment goes to: anything else, and ckpt, as root, would send forged
 * segments into the network (an image's IP_FREEBIND lets the connection's
 * bind take any address).  bind(2) of a plain UDP socket takes only a
 * local one (inet_bind: inet_addr_type must be RTN_LOCAL, 127.0.0.53 too;
 * ipv6_chk_addr), unless ip_nonlocal_bind says otherwise: then the source
 * the kernel picks for a datagram to a (connect(2) sends nothing) must be
 * a itself, as it is for an address of a local route's own ("src" in ip
 * route show table local; RFC 6724 rule 1 for IPv6).
 */
static int local(int v6, const uint8_t *a)
{
	struct sockaddr_storage to = { .ss_family = (sa_family_t)(v6 ? AF_INET6 : AF_INET) }, me;
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), mlen = len;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), yes = 0;

	if (v6)
		memcpy(&((struct sockaddr_in6 *)&to)->sin6_addr, a, 16);
	else
		memcpy(&((struct sockaddr_in *)&to)->sin_addr, a, 4);
	if (fd < 0)
		return 0;
	if (!nonlocal_bind(v6)) {
		yes = bind(fd, (struct sockaddr *)&to, len) == 0;
	} else {
		((struct sockaddr_in *)&to)->sin_port = htons(9);	/* same place in both */
		if (connect(fd, (struct sockaddr *)&to, len) == 0 &&
		    getsockname(fd, (struct sockaddr *)&me, &mlen) == 0)
			yes = v6 ? !memcmp(&((struct sockaddr_in6 *)&me)->sin6_addr, a, 16) :
				   !memcmp(&((struct sockaddr_in *)&me)->sin_addr, a, 4);
	}
	close(fd);
	return yes;
}

int fd_tcp_local(const struct ckpt_fd_inet *s)
{
	int v4in6 = s->family == AF_INET6 && mapped(s->addr) && mapped(s->peer_addr);

	return local(s->family == AF_INET6 && !v4in6, s->addr + (v4in6 ? 12 : 0));
}

int fd_tcp_segment(const struct ckpt_fd_inet *s, uint32_t seq, uint32_t ack, int fin,
		   uint16_t window)
{
	/* an IPv6 socket talking to an IPv4 address (dual stack) does
	 * so over IPv4: its segments are IPv4 ones */
	int v4in6 = s->family == AF_INET6 && mapped(s->addr) && mapped(s->peer_addr);
	int v6 = s->family == AF_INET6 && !v4in6, one = 1, fd, ret = 0;
	const uint8_t *src = s->peer_addr + (v4in6 ? 12 : 0), *dst = s->addr + (v4in6 ? 12 : 0);
	size_t alen = v6 ? 16 : 4, hlen = v6 ? 40 : 20;
	uint8_t pkt[60] = { 0 }, pseudo[40] = { 0 };
	struct tcph th = {
		.sport = htons(s->peer_port), .dport = htons(s->port), .seq = htonl(seq),
		.ack = htonl(ack), .off = 5 << 4, .flags = (uint8_t)(TH_ACK | (fin ? TH_FIN : 0)),
		.window = htons(window),
	};
	struct sockaddr_storage to = { .ss_family = (sa_family_t)(v6 ? AF_INET6 : AF_INET) };
	socklen_t tolen;

	/* the pseudo-header: source, destination, protocol, length (RFC
	 * 793 3.1; RFC 8200 8.1 for IPv6) */
	memcpy(pseudo, src, alen);
	memcpy(pseudo + alen, dst, alen);
	if (v6) {
		pseudo[35] = sizeof(th);
		pseudo[39] = IPPROTO_TCP;
	} else {
		pseudo[9] = IPPROTO_TCP;
		pseudo[11] = sizeof(th);
	}
	th.sum = sum(pseudo, v6 ? 40 : 12, (const uint8_t *)&th, sizeof(th));
	if (v6) {
		pkt[0] = 0x60;			/* version 6 */
		pkt[5] = sizeof(th);		/* payload length */
		pkt[6] = IPPROTO_TCP;		/* next header */
		pkt[7] = 64;			/* hop limit */
		memcpy(pkt + 8, src, 16);
		memcpy(pkt + 24, dst, 16);
		memcpy(&((struct sockaddr_in6 *)&to)->sin6_addr, dst, 16);
		tolen = sizeof(struct sockaddr_in6);
	} else {
		pkt[0] = 0x45;			/* version 4, 5 words */
		pkt[3] = (uint8_t)(20 + sizeof(th));	/* total length */
		pkt[8] = 64;			/* time to live */
		pkt[9] = IPPROTO_TCP;
		memcpy(pkt + 12, src, 4);
		memcpy(pkt + 16, dst, 4);
		memcpy(&((struct sockaddr_in *)&to)->sin_addr, dst, 4);
		tolen = sizeof(struct sockaddr_in);
		/* the kernel fills the IPv4 header's checksum (raw(7)) */
	}
	memcpy(pkt + hlen, &th, sizeof(th));
	if (!local(v6, dst))	/* make() said so by name; never sent */
		return -EADDRNOTAVAIL;
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &(uint32_t){ NETLOCK_MARK }, sizeof(uint32_t)) < 0 ||
	    setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_HDRINCL : IP_HDRINCL, &one,
		       sizeof(one)) < 0 ||
	    sendto(fd, pkt, hlen + sizeof(th), 0, (struct sockaddr *)&to, tolen) < 0)
		ret = -errno;
	close(fd);
	return ret;
}
