/*
 * The network lock (netlock.c): while a dumped process is down, between
 * dump --kill and the end of its restore, no socket owns the four
 * addresses of its TCP connections, and the kernel answers a segment of
 * the peer with a reset (tcp_v4_rcv -> tcp_v4_send_reset).  An nftables
 * table of ckpt's own drops the segments of those connections both ways,
 * so the peer only retransmits: a pause.  One table per image, named after
 * its image_id, so that several dumps do not meet.
 */
#ifndef CKPT_NETLOCK_H
#define CKPT_NETLOCK_H

#include <stddef.h>
#include <stdint.h>

/* One connection, as the socket sees it: its own end, then the peer's;
 * or a listener (listener set): its bound address and port only, the
 * unspecified address for any (0.0.0.0: IPv4 only; :: IPv6 and IPv4
 * unless v6only, ipv6(7)). */
struct netlock_conn {
	int family;		/* AF_INET or AF_INET6 (::ffff: addresses: IPv4) */
	uint8_t addr[16], peer[16];
	uint16_t port, peer_port;	/* host order */
	uint8_t listener, v6only;
};

#define NETLOCK_NAME_MAX	48

/* The mark (SO_MARK, socket(7)) of the segments restore itself gives a
 * locked connection (restore/fd-tcp-segment.c: a FIN its peer had sent):
 * the lock lets them pass.  "ckpt" in ASCII. */
#define NETLOCK_MARK		0x636b7074u

/* "ckpt_" and the image_id in hex: an nftables table of family inet. */
void netlock_name(const uint8_t image_id[16], char name[NETLOCK_NAME_MAX]);

/* The table name, dropping each connection's segments both ways and the
 * SYNs that open a connection to each listener (the client retransmits
 * them until the restored listener answers, instead of taking the reset
 * a port nobody listens on gives): 0, or
 * -ENOENT when nft cannot be run, -EIO when it refused (its first line of
 * error in why, when why is not NULL). */
int netlock_install(const char *name, const struct netlock_conn *c, size_t n,
		    char *why, size_t whylen);

/* Whether nft runs here and may list the tables (CAP_NET_ADMIN): 0, or
 * as netlock_install (ckpt check). */
int netlock_probe(char *why, size_t whylen);

/* Whether ckpt has CAP_NET_ADMIN (in its user namespace), which nf_tables
 * asks of whoever changes a table. */
int netlock_capable(void);

/* The table gone (there or not): 0, or as netlock_install. */
int netlock_remove(const char *name, char *why, size_t whylen);

#endif
