/*
 * The socket options ckpt carries for TCP and UDP sockets beyond the
 * opts bits: each is read on the process's socket and on a new one of
 * the same family, type and protocol, and kept when the two differ (so
 * the program set it, or the listener it was accepted from did).  A row
 * per option; dump reads only these, restore sets only these.
 */
#include <assert.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "common/util.h"
#include "image/sockopt.h"

#define INT(level, name, flags) { level, name, sizeof(int), flags, #name }

const struct sockopt_def sockopt_defs[] = {
	/* IP_TOS and IPV6_TCLASS before SO_PRIORITY: setting the TOS may set
	 * the priority too (rt_tos2priority in older kernels) */
	INT(IPPROTO_IP, IP_TOS, 0),
	INT(IPPROTO_IPV6, IPV6_TCLASS, 0),
	INT(SOL_SOCKET, SO_PRIORITY, 0),
	{ SOL_SOCKET, SO_LINGER, sizeof(struct linger), 0, "SO_LINGER" },
	{ SOL_SOCKET, SO_RCVTIMEO, 16, 0, "SO_RCVTIMEO" },	/* struct timeval */
	{ SOL_SOCKET, SO_SNDTIMEO, 16, 0, "SO_SNDTIMEO" },
	INT(SOL_SOCKET, SO_RCVLOWAT, 0),
	INT(SOL_SOCKET, SO_OOBINLINE, 0),
	INT(SOL_SOCKET, SO_DONTROUTE, 0),
	INT(SOL_SOCKET, SO_NO_CHECK, 0),
	INT(SOL_SOCKET, SO_TIMESTAMP, 0),
	INT(SOL_SOCKET, SO_TIMESTAMPNS, 0),
	INT(SOL_SOCKET, SO_RXQ_OVFL, 0),
	INT(SOL_SOCKET, SO_SELECT_ERR_QUEUE, 0),
	INT(IPPROTO_IP, IP_TTL, 0),
	INT(IPPROTO_IP, IP_RECVERR, 0),
	INT(IPPROTO_IP, IP_PKTINFO, 0),
	INT(IPPROTO_IP, IP_RECVTTL, 0),
	INT(IPPROTO_IP, IP_RECVTOS, 0),
	INT(IPPROTO_IP, IP_RECVORIGDSTADDR, 0),
	INT(IPPROTO_IP, IP_MTU_DISCOVER, 0),
	INT(IPPROTO_IP, IP_MULTICAST_TTL, SOCKOPT_DGRAM),
	INT(IPPROTO_IP, IP_MULTICAST_LOOP, SOCKOPT_DGRAM),
	INT(IPPROTO_IP, IP_MULTICAST_ALL, SOCKOPT_DGRAM),
	INT(IPPROTO_IP, IP_TRANSPARENT, 0),
	INT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 0),
	INT(IPPROTO_IP, IP_NODEFRAG, 0),
	INT(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 0),
	INT(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, SOCKOPT_DGRAM),
	INT(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, SOCKOPT_DGRAM),
	INT(IPPROTO_IPV6, IPV6_MULTICAST_ALL, SOCKOPT_DGRAM),
	INT(IPPROTO_IPV6, IPV6_RECVPKTINFO, 0),
	INT(IPPROTO_IPV6, IPV6_RECVERR, 0),
	INT(IPPROTO_IPV6, IPV6_RECVTCLASS, 0),
	INT(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 0),
	INT(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, 0),
	INT(IPPROTO_IPV6, IPV6_MTU_DISCOVER, 0),
	INT(IPPROTO_IPV6, IPV6_DONTFRAG, 0),
	INT(IPPROTO_IPV6, IPV6_TRANSPARENT, 0),
	INT(IPPROTO_TCP, TCP_MAXSEG, SOCKOPT_UNCONNECTED),
	INT(IPPROTO_TCP, TCP_WINDOW_CLAMP, SOCKOPT_UNCONNECTED),
	INT(IPPROTO_TCP, TCP_KEEPIDLE, 0),
	INT(IPPROTO_TCP, TCP_KEEPINTVL, 0),
	INT(IPPROTO_TCP, TCP_KEEPCNT, 0),
	INT(IPPROTO_TCP, TCP_SYNCNT, 0),
	INT(IPPROTO_TCP, TCP_LINGER2, 0),
	INT(IPPROTO_TCP, TCP_DEFER_ACCEPT, 0),
	INT(IPPROTO_TCP, TCP_USER_TIMEOUT, 0),
	INT(IPPROTO_TCP, TCP_CORK, 0),
	INT(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0),
	INT(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, 0),
	INT(IPPROTO_TCP, TCP_FASTOPEN, 0),
	INT(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 0),
	{ IPPROTO_TCP, TCP_CONGESTION, 16, SOCKOPT_NAME, "TCP_CONGESTION" },
	INT(IPPROTO_UDP, UDP_CORK, 0),
	INT(IPPROTO_UDP, UDP_SEGMENT, 0),
	INT(IPPROTO_UDP, UDP_GRO, 0),
};
const size_t sockopt_ndefs = ARRAY_SIZE(sockopt_defs);
static_assert(ARRAY_SIZE(sockopt_defs) <= SOCKOPT_MAX, "SOCKOPT_MAX");

const struct sockopt_def *sockopt_find(uint32_t level, uint32_t name)
{
	for (size_t i = 0; i < sockopt_ndefs; i++)
		if ((uint32_t)sockopt_defs[i].level == level && (uint32_t)sockopt_defs[i].name == name)
			return &sockopt_defs[i];
	return NULL;
}

void sockopt_get(const uint8_t *state, size_t fixed, uint32_t i, struct ckpt_sockopt *r)
{
	memcpy(r, state + fixed + (size_t)i * sizeof(*r), sizeof(*r));
}

int sockopt_check(const uint8_t *state, uint32_t state_len, size_t fixed, uint32_t n)
{
	struct ckpt_sockopt r;
	const struct sockopt_def *o;

	if (n > sockopt_ndefs || state_len != fixed + (uint64_t)n * sizeof(r))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		sockopt_get(state, fixed, i, &r);
		if (!(o = sockopt_find(r.level, r.name)) || r.reserved ||
		    ((o->flags & SOCKOPT_NAME) ? !r.len || r.len > o->len : r.len != o->len))
			return -1;
	}
	return 0;
}
