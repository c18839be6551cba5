/*
 * Capabilities and securebits, restored exactly (capabilities(7)).  They
 * are per thread; each stub thread does its own, around its credentials
 * (plan.c plan_creds):
 *
 *   before the ids: PR_SET_KEEPCAPS, so that a change of uid from 0 keeps
 *     the permitted set ("Effect of user ID changes");
 *   after them: capset with all it holds in effective (CAP_SETPCAP for
 *     what follows) and the image's inheritable set; PR_CAPBSET_DROP for
 *     each capability the image's bounding set lacks; the ambient set
 *     cleared and raised (each one must be permitted and inheritable:
 *     it is, the inheritable set is the image's); PR_SET_SECUREBITS, the
 *     image's bits (KEEP_CAPS was ours until now); last capset to the
 *     image's effective, permitted and inheritable sets, which only
 *     lowers them.
 *
 * Only when the result would differ from what the ids alone give: a
 * process with none (any user's but root's) or all of root's takes no
 * op.  Without privileges the stub has what its exec gave (ckpt's ambient
 * set): caps_check() refuses an image that needs more, by name.
 */
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.h"
#include "restore/trust.h"

struct capsets {
	uint64_t eff, prm, inh, bnd, amb;
	uint32_t securebits;
};

static unsigned cap_last(void)
{
	char *buf;
	unsigned last = 40;	/* CAP_CHECKPOINT_RESTORE, Linux 5.9 */

	if (read_file("/proc/sys/kernel/cap_last_cap", &buf, NULL) == 0) {
		last = (unsigned)strtoul(buf, NULL, 10);
		free(buf);
	}
	return MIN(last, 63u);
}

/* ckpt's own sets: what the stub it execs has as root (or, not root, its
 * ambient set; caps_check). */
static void own_caps(struct capsets *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };

	memset(c, 0, sizeof(*c));
	if (syscall(SYS_capget, &h, d) == 0) {
		c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
		c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
		c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	}
	for (unsigned i = 0; i <= cap_last(); i++) {
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			c->bnd |= 1ull << i;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) == 1)
			c->amb |= 1ull << i;
	}
	c->securebits = (uint32_t)prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
}

static void image_caps(const struct img_proc *p, const struct capsets *own, struct capsets *c)
{
	c->eff = p->d.cap_eff;
	c->prm = p->d.cap_prm;
	c->inh = p->d.cap_inh;
	c->bnd = p->d.cap_bnd;
	c->amb = p->d.cap_amb;
	/* Images before ATTRS: securebits unknown, left as they come. */
	c->securebits = p->has_attrs ? p->attrs.securebits : own->securebits;
}

/* What the ids alone give (root ckpt, no securebits of the image's): a
 * uid 0 process all of ckpt's, any other none. */
static int as_ids_give(const struct img_proc *p, const struct capsets *own, const struct capsets *c)
{
	uint64_t all = p->d.uid[1] == 0 ? own->prm : 0;

	return c->prm == all && c->eff == all && c->inh == own->inh && c->amb == 0 &&
	       c->bnd == own->bnd && c->securebits == own->securebits;
}

int caps_check(const struct img_proc *p, const struct trust *t)
{
	struct capsets own, c;

	if (trust_as_root(t))
		return 0;
	own_caps(&own);
	image_caps(p, &own, &c);
	/* What execve gives the stub: permitted and effective = ambient. */
	if (c.prm != own.amb || c.eff != own.amb || c.inh != own.inh || c.amb != own.amb)
		return error("the process had capabilities (permitted %#llx, effective %#llx, inheritable "
			     "%#llx, ambient %#llx) that ckpt without privileges cannot give it",
			     (unsigned long long)c.prm, (unsigned long long)c.eff,
			     (unsigned long long)c.inh, (unsigned long long)c.amb);
	/* Root's stub may drop from the bounding set (an image only its
	 * owner's, trust.h); nobody may add to it. */
	if (geteuid() == 0 ? (c.bnd & ~own.bnd) != 0 : c.bnd != own.bnd)
		return error("the process's capability bounding set (%#llx) differs from ckpt's (%#llx): "
			     "only root can change it", (unsigned long long)c.bnd,
			     (unsigned long long)own.bnd);
	if (c.securebits != own.securebits)
		return error("the process's securebits (%#x) differ from ckpt's (%#x): only root can set them",
			     c.securebits, own.securebits);
	return 0;
}

static int wanted(const struct img_proc *p, struct capsets *own, struct capsets *c)
{
	if (geteuid() != 0)
		return 0;
	own_caps(own);
	image_caps(p, own, c);
	return !as_ids_give(p, own, c);
}

void plan_caps_pre(struct plan *pl, uint32_t ti, const struct img_proc *p)
{
	struct capsets own, c;

	if (!wanted(p, &own, &c))
		return;
	plan_op(pl, ti, 0, 0, SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0, 0);
	plan_what(pl, ti, "keep the capabilities over the change of ids (PR_SET_KEEPCAPS)");
}

static void capset_op(struct plan *pl, uint32_t ti, uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct {
		struct __user_cap_header_struct h;
		struct __user_cap_data_struct d[2];
	} cs = {
		{ _LINUX_CAPABILITY_VERSION_3, 0 },
		{ { (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		  { (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) } },
	};
	uint64_t at = plan_data(pl, &cs, sizeof(cs));

	plan_op(pl, ti, 0, 3, SYS_capset, at, at + sizeof(cs.h), 0, 0, 0, 0);
	plan_what(pl, ti, "set the capabilities (effective %#llx, permitted %#llx, inheritable %#llx)",
		  (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)inh);
}

void plan_caps_post(struct plan *pl, uint32_t ti, const struct img_proc *p)
{
	struct capsets own, c;
	unsigned last = cap_last();

	if (!wanted(p, &own, &c))
		return;
	capset_op(pl, ti, own.prm, own.prm, c.inh);
	for (unsigned i = 0; i <= last; i++) {
		if ((own.bnd & ~c.bnd) & (1ull << i)) {
			plan_op(pl, ti, 0, 0, SYS_prctl, PR_CAPBSET_DROP, i, 0, 0, 0, 0);
			plan_what(pl, ti, "drop capability %u from the bounding set", i);
		}
	}
	plan_op(pl, ti, 0, 0, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0);
	for (unsigned i = 0; i <= last; i++) {
		if (!(c.amb & (1ull << i)))
			continue;
		plan_op(pl, ti, 0, 0, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0, 0);
		plan_what(pl, ti, "raise capability %u in the ambient set", i);
	}
	plan_op(pl, ti, 0, 0, SYS_prctl, PR_SET_SECUREBITS, c.securebits, 0, 0, 0, 0);
	plan_what(pl, ti, "set the securebits %#x", c.securebits);
	capset_op(pl, ti, c.eff, c.prm, c.inh);
}
