/*
 * Capabilities of a process that changed its ids but kept some (root
 * only: it starts as root).  As a service manager leaves a daemon: uid and
 * gid 65534, CAP_SYS_MODULE out of the bounding set, permitted
 * NET_RAW + NET_BIND_SERVICE + CHOWN, effective NET_RAW, inheritable and
 * ambient NET_BIND_SERVICE, securebits KEEP_CAPS | NO_SETUID_FIXUP.
 * After restore each set is checked, and what shows: a raw socket can be
 * opened (CAP_NET_RAW effective), chown to root fails (CAP_CHOWN is not
 * effective), the ids are still 65534.
 */
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "target.h"

#define BIT(c)	(1ull << (c))
#define PRM	(BIT(CAP_NET_RAW) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_CHOWN))
#define EFF	BIT(CAP_NET_RAW)
#define INH	BIT(CAP_NET_BIND_SERVICE)
#define SECBITS	(SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP)

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};

	return (int)syscall(SYS_capset, &h, d);
}

static void capget3(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };

	syscall(SYS_capget, &h, d);
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
}

static int setup(void)
{
	uint64_t e, p, i;

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_MODULE, 0, 0, 0) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return -1;
	capget3(&e, &p, &i);
	/* Still all of root's permitted (KEEP_CAPS): CAP_SETPCAP for the rest. */
	if (capset3(p, p, INH) < 0 || prctl(PR_SET_SECUREBITS, SECBITS, 0, 0, 0) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) < 0)
		return -1;
	return capset3(EFF, PRM, INH);
}

int main(void)
{
	uint64_t e, p, i;
	uid_t r, ef, s;
	int fd;

	if (setup() < 0) {
		target_fail("cannot set up the capabilities: %s", strerror(errno));
		return target_exit();
	}
	target_wait();

	capget3(&e, &p, &i);
	CHECK(e == EFF && p == PRM && i == INH,
	      "capabilities: effective %#llx, permitted %#llx, inheritable %#llx; were %#llx %#llx %#llx",
	      (unsigned long long)e, (unsigned long long)p, (unsigned long long)i,
	      (unsigned long long)EFF, (unsigned long long)PRM, (unsigned long long)INH);
	CHECK(prctl(PR_CAPBSET_READ, CAP_SYS_MODULE, 0, 0, 0) == 0,
	      "CAP_SYS_MODULE is in the bounding set again");
	CHECK(prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 1, "CAP_NET_RAW left the bounding set");
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) == 1,
	      "CAP_NET_BIND_SERVICE is not ambient");
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) == 0,
	      "CAP_NET_RAW is ambient");
	CHECK(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == SECBITS, "securebits %#x, were %#x",
	      prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), SECBITS);
	getresuid(&r, &ef, &s);
	CHECK(r == 65534 && ef == 65534 && s == 65534, "uids %d %d %d", r, ef, s);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	CHECK(fd >= 0, "no raw socket with CAP_NET_RAW effective: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	CHECK(chown("/proc/self/fd/1", 0, 0) < 0 && errno == EPERM,
	      "chown to root worked without CAP_CHOWN effective");
	printf("caps: ok\n");
	return target_exit();
}
