/*
 * The SYSV_SHM section (image/format.h): the SysV shared memory segments
 * the process has attached, from /proc/sysvipc/shm (ipc/shm.c
 * sysvipc_shm_proc_show).  An attach whose mappings do not cover its
 * segment from its start to its end (a part unmapped with munmap) could
 * not be made again with shmat: refused by name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"

/* Segment id's line of /proc/sysvipc/shm into s, and its resident and
 * swapped bytes into *held (ipc/shm.c shm_add_rss_swap: the pages the
 * segment has, wherever they are mapped); 0, or -ENOENT. */
static int read_segment(int id, struct ckpt_shm *s, uint64_t *held)
{
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	char line[512];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		long long key, shmid, size;
		unsigned long long rss, swap;
		unsigned perms, uid, gid;

		/* key shmid perms size cpid lpid nattch uid gid cuid cgid
		 * atime dtime ctime rss swap */
		if (sscanf(line, "%lld %lld %o %lld %*d %*d %*d %u %u %*u %*u %*d %*d %*d %llu %llu",
			   &key, &shmid, &perms, &size, &uid, &gid, &rss, &swap) != 8 || shmid != id)
			continue;
		*s = (struct ckpt_shm){ .key = (int32_t)key, .id = id, .size = (uint64_t)size,
					.mode = perms, .uid = uid, .gid = gid };
		*held = rss + swap;
		ret = 0;
	}
	fclose(f);
	return ret;
}

int dump_sysv_held(int id, uint64_t *bytes)
{
	struct ckpt_shm s;

	return read_segment(id, &s, bytes);
}

/* Each attach: mappings of one segment, each one going on where the one
 * before ended, from offset 0 to the segment's last page. */
static int check_attaches(const struct img_proc *p, const struct ckpt_shm *s, uint64_t page)
{
	const uint64_t whole = ALIGN_UP(s->size, page);
	uint64_t next = 0, base = 0;	/* next: 0, an attach starts */
	uint32_t i;

	for (i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];

		if (!(v->d.flags & CKPT_VMA_SYSV) || v->d.ino != (uint64_t)s->id)
			continue;
		if (!next)
			base = v->d.start - v->d.pgoff;
		if (v->d.pgoff != next || v->d.start != base + next)
			break;
		next = v->d.pgoff + (v->d.end - v->d.start);
		if (next == whole)
			next = 0;
		else if (next > whole)
			break;
	}
	if (i == p->d.nvmas && !next)
		return 0;
	return error("SysV shared memory segment %d (key %#x) is attached only in part at %#lx: "
		     "cannot be restored", s->id, (unsigned)s->key, (unsigned long)base);
}

int dump_collect_sysv(struct img_proc *p, uint64_t page)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		struct ckpt_shm *s;
		uint64_t held;
		uint32_t k;
		int ret;

		if (!(v->d.flags & CKPT_VMA_SYSV))
			continue;
		for (k = 0; k < p->nshms && p->shms[k].id != (int32_t)v->d.ino; k++)
			;
		if (k < p->nshms)
			continue;
		p->shms = xrealloc(p->shms, (p->nshms + 1) * sizeof(*p->shms));
		s = &p->shms[p->nshms];
		if ((ret = read_segment((int)v->d.ino, s, &held)) < 0)
			return error_errno(ret, "SysV shared memory segment %lu attached at %#lx: cannot "
					   "read it in /proc/sysvipc/shm", (unsigned long)v->d.ino,
					   (unsigned long)v->d.start);
		p->nshms++;
		if ((ret = check_attaches(p, s, page)) < 0)
			return ret;
	}
	return 0;
}
