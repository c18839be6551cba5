/*
 * fd_tcp_local (restore/fd-tcp-segment.c): restore sends its raw FIN/ACK
 * segments only to an address of this machine.  Loopback and the address
 * of a local interface are; a remote one (TEST-NET, RFC 5737) is not,
 * whatever the routes (a default route makes it reachable, not local).
 */
#include <string.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "image/format.h"
#include "restore/fd.h"
#include "harness.h"

static struct ckpt_fd_inet conn(int family, const char *addr, const char *peer)
{
	struct ckpt_fd_inet s = { .family = (uint32_t)family, .type = SOCK_STREAM,
				  .protocol = IPPROTO_TCP, .state = 1 };

	inet_pton(family, addr, s.addr);
	inet_pton(family, peer, s.peer_addr);
	return s;
}

TEST(loopback_is_local)
{
	struct ckpt_fd_inet a = conn(AF_INET, "127.0.0.1", "127.0.0.1");
	struct ckpt_fd_inet b = conn(AF_INET, "127.0.0.53", "127.0.0.1");
	struct ckpt_fd_inet m = conn(AF_INET6, "::ffff:127.0.0.1", "::ffff:127.0.0.1");

	ASSERT_EQ(1, fd_tcp_local(&a));
	ASSERT_EQ(1, fd_tcp_local(&b));
	ASSERT_EQ(1, fd_tcp_local(&m));
}

TEST(loopback6_is_local)
{
	struct ckpt_fd_inet a = conn(AF_INET6, "::1", "::1");
	int s = socket(AF_INET6, SOCK_DGRAM, 0);

	if (s < 0)
		return;	/* no IPv6 here */
	close(s);
	ASSERT_EQ(1, fd_tcp_local(&a));
}

TEST(remote_is_not)
{
	struct ckpt_fd_inet a = conn(AF_INET, "192.0.2.77", "127.0.0.1");
	struct ckpt_fd_inet b = conn(AF_INET, "198.51.100.7", "198.51.100.8");
	struct ckpt_fd_inet m = conn(AF_INET6, "::ffff:203.0.113.9", "::ffff:127.0.0.1");
	struct ckpt_fd_inet c = conn(AF_INET6, "2001:db8::7", "::1");
	struct ifaddrs *ifs, *i;

	/* unless this machine happens to have one of them */
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, a.addr, 4))
				a.addr[3] ^= 1;
		freeifaddrs(ifs);
	}
	ASSERT_EQ(0, fd_tcp_local(&a));
	ASSERT_EQ(0, fd_tcp_local(&b));
	ASSERT_EQ(0, fd_tcp_local(&m));
	ASSERT_EQ(0, fd_tcp_local(&c));
}

TEST(interface_address_is_local)
{
	struct ifaddrs *ifs, *i;
	int seen = 0;

	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		struct ckpt_fd_inet s = { .family = AF_INET, .state = 1 };

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		memcpy(s.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		memcpy(s.peer_addr, s.addr, 4);
		ASSERT_EQ(1, fd_tcp_local(&s)) {
			TH_LOG("%s on %s", inet_ntoa(((struct sockaddr_in *)i->ifa_addr)->sin_addr),
			       i->ifa_name);
		}
		seen++;
	}
	freeifaddrs(ifs);
	ASSERT_GT(seen, 0);
}

TEST_HARNESS_MAIN
