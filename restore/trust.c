/*
 * The trust policy of restore (trust.h, docs/security.md).  Root honours
 * an image's credentials as they are only when the image proves it was
 * written by root's ckpt on a machine with this key (its MACs), or the
 * caller vouches for it (--trust).  Otherwise the image is its file's
 * owner's: every id must be that user's, groups only those the group
 * database gives them, no capabilities, nothing mapped where only root
 * may map; files are opened with those credentials (files.c) and what
 * needs privilege in the stub runs after the ids are set (plan.c).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/check.h"
#include "restore/restore.h"
#include "restore/trust.h"

/* Only root may write it: what is in it now is what root put there. */
static int root_only(uid_t uid, mode_t mode)
{
	return uid == 0 && !(mode & 022);
}

int trust_open(struct trust *t, struct img_reader *r, const struct restore_opts *o)
{
	struct stat st;
	int ret;

	memset(t, 0, sizeof(*t));
	if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		t->is_file = 1;
		t->file_uid = st.st_uid;
		t->file_mode = st.st_mode;
	}
	if (geteuid() != 0 || o->vouched) {
		t->basis = geteuid() != 0 ? TRUST_CALLER : TRUST_VOUCHED;
		img_reader_use_key(r, NULL);
		return 0;
	}
	t->basis = TRUST_OWNER;		/* until the image proves more */
	ret = img_key_load(&t->key, 0);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	t->have_key = ret == 0;
	img_reader_use_key(r, t->have_key ? &t->key : NULL);
	img_key_set_default(t->have_key ? &t->key : NULL);	/* for its parents */
	/*
	 * A file others may write can change while we read it: read it
	 * into private copies, so that the bytes the MAC covers are the
	 * bytes restored (and checked again as they are filled).
	 */
	if (t->have_key && t->is_file && !root_only(st.st_uid, st.st_mode) &&
	    (ret = img_reader_unmap(r)) < 0)
		return error_errno(ret, "cannot read the image");
	return 0;
}

/* Not root: only a process with exactly our credentials. */
static int check_caller(const struct img_proc *p)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;

	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	if (p->d.uid[0] != r || p->d.uid[1] != e || p->d.uid[2] != s ||
	    p->d.gid[0] != gr || p->d.gid[1] != ge || p->d.gid[2] != gs)
		return error("the process ran as uid %u gid %u: only root can restore it as that user",
			     p->d.uid[1], p->d.gid[1]);
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int refuse(const struct trust *t, const char *why, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	(void)t;
	return error("%s refused: %s, and the image is not signed by this machine's key", what, why);
}

/* The groups the group database gives uid (its primary group first);
 * *n = 0 when uid has no entry.  Returns a malloc'd array. */
static gid_t *groups_of(uid_t uid, int *n, char **name)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t *g = NULL;
	int cnt = 64;

	*n = 0;
	*name = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return NULL;
	*name = xstrdup(pw.pw_name);
	for (;;) {
		int want = cnt;

		g = xrealloc(g, (size_t)cnt * sizeof(*g));
		if (getgrouplist(pw.pw_name, pw.pw_gid, g, &want) >= 0) {
			*n = want;
			return g;
		}
		if (want <= cnt || want > 65536) {
			g[0] = pw.pw_gid;
			*n = 1;
			return g;
		}
		cnt = want;
	}
}

static int in(gid_t gid, const gid_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == gid)
			return 1;
	return 0;
}

static uint64_t mmap_min_addr(void)
{
	char *buf = NULL;
	uint64_t v = 65536;	/* the usual value, if /proc does not say */

	if (read_file("/proc/sys/vm/mmap_min_addr", &buf, NULL) == 0)
		v = strtoull(buf, NULL, 10);
	free(buf);
	return v;
}

static const char *const which[] = { "real", "effective", "saved", "filesystem" };

static int check_groups(const struct trust *t, const struct img_proc *p)
{
	char why[256], *name;
	int n, ret = 0;
	gid_t *g = groups_of(t->owner, &n, &name);

	if (name)
		snprintf(why, sizeof(why), "not a group of its owner %s (uid %u)", name, t->owner);
	else
		snprintf(why, sizeof(why), "its owner (uid %u) is not in the user database", t->owner);
	for (int i = 0; i < 4 && !ret; i++)
		if (!in(p->d.gid[i], g, n))
			ret = refuse(t, why, "%s gid %u", which[i], p->d.gid[i]);
	for (uint32_t i = 0; i < p->d.ngroups && !ret; i++)
		if (!in(p->groups[i], g, n))
			ret = refuse(t, why, "supplementary group %u", p->groups[i]);
	free(g);
	free(name);
	return ret;
}

/* A zombie takes its ids again (plan.c plan_zombie): its owner's only. */
static int check_zombie(const struct trust *t, const struct ckpt_task *z)
{
	char why[128], *name;
	int n, ok;
	gid_t *g = groups_of(t->owner, &n, &name);

	ok = in(z->gid, g, n);
	free(g);
	free(name);
	snprintf(why, sizeof(why), "the image's file belongs to uid %u", t->owner);
	if (z->uid != t->owner)
		return refuse(t, why, "zombie %d's uid %u", z->pid, z->uid);
	if (!ok)
		return refuse(t, "not a group of its owner", "zombie %d's gid %u", z->pid, z->gid);
	return 0;
}

/* Unsigned, restored by root: nothing its owner could not have had. */
static int check_owner(const struct trust *t, const struct img_proc *p)
{
	uint64_t min = mmap_min_addr();
	char why[128];
	int ret;

	snprintf(why, sizeof(why), "the image's file belongs to uid %u", t->owner);
	for (int i = 0; i < 4; i++)
		if (p->d.uid[i] != t->owner)
			return refuse(t, why, "%s uid %u", which[i], p->d.uid[i]);
	if ((ret = check_groups(t, p)) < 0)
		return ret;
	/* A user's process has none (capabilities(7), "Effect of user ID
	 * changes"); the bounding set only limits, whatever it holds. */
	if (p->d.cap_prm | p->d.cap_eff | p->d.cap_inh | p->d.cap_amb)
		return refuse(t, "an unprivileged user's process has none",
			      "capabilities (permitted %#llx, effective %#llx, inheritable %#llx, ambient %#llx)",
			      (unsigned long long)p->d.cap_prm, (unsigned long long)p->d.cap_eff,
			      (unsigned long long)p->d.cap_inh, (unsigned long long)p->d.cap_amb);
	snprintf(why, sizeof(why), "only root may map below vm.mmap_min_addr (%#llx)",
		 (unsigned long long)min);
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		if (!(v->d.flags & CKPT_VMA_SKIP) && v->d.start < min)
			return refuse(t, why, "mapping %#llx-%#llx", (unsigned long long)v->d.start,
				      (unsigned long long)v->d.end);
	}
	return 0;
}

int trust_decide(struct trust *t, struct img_reader *r, const struct img *img,
		 const struct restore_opts *o)
{
	const char *why = t->have_key ? img_mac_status_text(r->mac_meta) :
			  "this machine has no key yet";
	int ret;

	(void)o;
	if (t->basis == TRUST_CALLER) {
		for (uint32_t i = 0; i < img->h.nprocs; i++)
			if ((ret = check_caller(&img->procs[i])) < 0)
				return ret;
		return 0;
	}
	if (t->basis == TRUST_VOUCHED)
		return 0;
	if (r->mac_meta == IMG_MAC_OK) {
		t->basis = TRUST_MAC;
		/* What the fill pass reads is not what was checked (a stream,
		 * or a copy of a file others may write): check it again. */
		t->fill_mac = !img_reader_payloads_stable(r);
		return 0;
	}
	img_reader_use_key(r, NULL);	/* what the rest holds no longer matters */
	if (!t->is_file)
		return error("image is not signed by this machine's key (%s) and comes from a pipe, "
			     "whose writer is unknown: root restores it only with --trust", why);
	if (t->file_uid == 0)
		return error("image is not signed by this machine's key (%s) and its file is root's, "
			     "who may have copied it from anyone: sign it (ckpt sign) or restore it "
			     "with --trust if you trust it", why);
	if (t->file_mode & 022)
		return error("image is not signed by this machine's key (%s) and its file may be "
			     "written by others than its owner (uid %u, mode %03o): restore it with "
			     "--trust if you trust it", why, t->file_uid, t->file_mode & 07777);
	t->basis = TRUST_OWNER;
	t->owner = t->file_uid;
	/* Every process of a tree: the owner's alone; its zombies too. */
	for (uint32_t i = 0; i < img->h.nprocs; i++)
		if ((ret = check_owner(t, &img->procs[i])) < 0)
			return ret;
	for (uint32_t i = 0; i < img->ntasks; i++)
		if (img->tasks[i].proc < 0 && (ret = check_zombie(t, &img->tasks[i])) < 0)
			return ret;
	return 0;
}

int trust_check_filled(const struct trust *t, const struct img_reader *r)
{
	return t && t->basis == TRUST_MAC && t->fill_mac ? img_check_whole_mac(r) : 0;
}

static int parent_open(const void *arg, struct img_reader *r, const char *path, int verify)
{
	const struct trust *t = arg;
	struct stat st;
	int ret;

	if (!t || t->basis == TRUST_CALLER || t->basis == TRUST_VOUCHED) {
		img_reader_use_key(r, NULL);
		return 0;
	}
	if (fstat(r->fd, &st) < 0)
		return error_errno(errno, "parent image \"%s\"", path);
	if (t->basis == TRUST_OWNER) {
		img_reader_use_key(r, NULL);
		if (st.st_uid != t->owner || (st.st_mode & 022))
			return error("parent image \"%s\" is not its owner's alone (uid %u, mode %03o): "
				     "an image not signed by this machine's key takes pages only from "
				     "files of its owner (uid %u)", path, st.st_uid, st.st_mode & 07777,
				     t->owner);
		return 0;
	}
	/* TRUST_MAC: the parent must be signed too.  Lazily, not checked
	 * before: its MACs now, over its DIGESTS table where it has one (the
	 * blocks of a mapping root alone may write are checked as lazy.c
	 * reads them), else over all of it. */
	if (!verify && t->lazy_digests) {
		img_reader_use_key(r, &t->key);
		if (!root_only(st.st_uid, st.st_mode) && (ret = img_reader_unmap(r)) < 0)
			return error_errno(ret, "cannot read parent image \"%s\"", path);
		r->trust_digests = img_reader_payloads_stable(r);
		return 0;
	}
	/* Read once more for the fill, it needs no checking again if nobody
	 * but root could change it. */
	if (!verify && root_only(st.st_uid, st.st_mode)) {
		img_reader_use_key(r, NULL);
		return 0;
	}
	img_reader_use_key(r, &t->key);
	if (!root_only(st.st_uid, st.st_mode) && (ret = img_reader_unmap(r)) < 0)
		return error_errno(ret, "cannot read parent image \"%s\"", path);
	return 0;
}

static int parent_read(const void *arg, const struct img_reader *r, const char *path)
{
	const struct trust *t = arg;

	if (!t || t->basis != TRUST_MAC)
		return 0;
	/* Read again for the fill, root's alone: checked on the first pass. */
	if ((r->hdr.flags & CKPT_HDR_MAC) && !r->mac.key)
		return 0;
	if (r->mac_meta == IMG_MAC_OK && r->mac_all == IMG_MAC_OK)
		return 0;
	return error("parent image \"%s\" is %s: an image signed by this machine's key takes pages "
		     "only from parents signed by it", path,
		     img_mac_status_text(r->mac_meta != IMG_MAC_OK ? r->mac_meta : r->mac_all));
}

void trust_hold(const struct trust *t, struct chain_hold *h)
{
	h->opened = parent_open;
	h->read = parent_read;
	h->arg = t;
}

int trust_vouched(const struct trust *t)
{
	return t && (t->basis == TRUST_MAC || t->basis == TRUST_VOUCHED);
}

int trust_as_root(const struct trust *t)
{
	return t ? trust_vouched(t) : geteuid() == 0;
}

int trust_vouched_by_mac(const struct trust *t)
{
	return t && t->basis == TRUST_MAC;
}

uid_t trust_owner(const struct trust *t)
{
	return t->owner;
}

int trust_owner_rules(const struct trust *t)
{
	return t && t->basis == TRUST_OWNER;
}
