/*
 * SysV shared memory segments (the SYSV_SHM section): found or made again
 * by ckpt before the stub starts, attached by the stub (shmat) where the
 * process had them, and filled with the image's pages like the rest of
 * its memory.  A segment that still exists (same id, key and size) is
 * taken, unless another process has it attached: its contents since the
 * dump would be overwritten.  One that is gone is made again: its key
 * (when no other segment has it), its id when root can choose it
 * (/proc/sys/kernel/shm_next_id, ipc/util.c ipc_idr_alloc), its owner and
 * mode; removed again once attached when it had been (SHM_DEST).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.h"

#define SHM_DEST_MODE	01000	/* ipc/shm.c SHM_DEST, in shm_perm.mode */

static int next_id(int id)
{
	int fd = open("/proc/sys/kernel/shm_next_id", O_WRONLY | O_CLOEXEC);
	char buf[16];
	int n, ok;

	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d", id);
	ok = write(fd, buf, (size_t)n) == n;
	close(fd);
	return ok ? 0 : -errno;
}

/* The segment s made again: its id here, or -errno after a message. */
static int make(const struct ckpt_shm *s)
{
	key_t key = (s->mode & SHM_DEST_MODE) ? IPC_PRIVATE : s->key;
	struct shmid_ds ds;
	int id;

	if (key != IPC_PRIVATE && shmget(key, 0, 0) >= 0)
		return error("SysV shared memory key %#x is another segment's now: segment %d "
			     "cannot be made again", (unsigned)s->key, s->id);
	if (geteuid() == 0)
		next_id(s->id);	/* taken by the next segment made, or ignored */
	id = shmget(key, (size_t)s->size, IPC_CREAT | IPC_EXCL | (int)(s->mode & 0777));
	if (id < 0)
		return error_errno(errno, "cannot make SysV shared memory segment %d (key %#x, %llu "
				   "bytes) again", s->id, (unsigned)s->key,
				   (unsigned long long)s->size);
	if (id != s->id)
		warn("SysV shared memory segment %d (key %#x) made again as segment %d", s->id,
		     (unsigned)s->key, id);
	if (shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.uid != s->uid || ds.shm_perm.gid != s->gid)) {
		ds.shm_perm.uid = s->uid;
		ds.shm_perm.gid = s->gid;
		ds.shm_perm.mode = s->mode & 0777;
		if (shmctl(id, IPC_SET, &ds) < 0)
			warn("SysV shared memory segment %d: cannot give it to %u:%u: %s", id, s->uid,
			     s->gid, strerror(errno));
	}
	return id;
}

/* The segment as it still is, its id; -ENOENT when it is gone. */
static int find(const struct ckpt_shm *s)
{
	struct shmid_ds ds;

	if (shmctl(s->id, IPC_STAT, &ds) < 0 || ds.shm_segsz != s->size ||
	    (!(s->mode & SHM_DEST_MODE) && ds.shm_perm.__key != s->key))
		return -ENOENT;
	if (ds.shm_nattch)
		return error("SysV shared memory segment %d (key %#x) is attached by %lu other "
			     "processes: restoring it would overwrite what they wrote since the dump",
			     s->id, (unsigned)s->key, (unsigned long)ds.shm_nattch);
	return s->id;
}

/* The id an earlier process of the image got for the segment it had
 * as id (a tree's processes share segments), or -1. */
static int earlier(const struct img *img, const struct spawn_fds *sf, uint32_t k, int32_t id)
{
	for (uint32_t j = 0; j < k; j++)
		for (uint32_t i = 0; sf[j].shm_id && i < img->procs[j].nshms; i++)
			if (img->procs[j].shms[i].id == id)
				return sf[j].shm_id[i];
	return -1;
}

int sysv_open(const struct img *img, struct spawn_fds *sfs, uint32_t k)
{
	const struct img_proc *p = &img->procs[k];
	struct spawn_fds *sf = &sfs[k];

	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		uint32_t n;

		for (n = 0; (p->vmas[i].d.flags & CKPT_VMA_SYSV) && n < p->nshms &&
			    p->shms[n].id != (int32_t)p->vmas[i].d.ino; n++)
			;
		if ((p->vmas[i].d.flags & CKPT_VMA_SYSV) && n == p->nshms)
			return error("image is corrupted: mapping %#lx-%#lx is of a SysV segment the "
				     "image does not describe", (unsigned long)p->vmas[i].d.start,
				     (unsigned long)p->vmas[i].d.end);
	}
	if (!p->nshms)
		return 0;
	sf->shm_id = xmalloc(p->nshms * sizeof(*sf->shm_id));
	sf->shm_made = xzalloc(p->nshms);
	for (uint32_t i = 0; i < p->nshms; i++) {
		int id = earlier(img, sfs, k, p->shms[i].id);

		if (id < 0)
			id = find(&p->shms[i]);
		if (id == -ENOENT && (id = make(&p->shms[i])) >= 0)
			sf->shm_made[i] = 1;
		if (id < 0) {
			while (i--)	/* none attached yet: removed at once */
				if (sf->shm_made[i])
					shmctl(sf->shm_id[i], IPC_RMID, NULL);
			free(sf->shm_made);
			sf->shm_made = NULL;
			return id;
		}
		sf->shm_id[i] = id;
	}
	return 0;
}

/* At the first mapping of an attach: the whole segment, writable for the
 * fill (the mappings get their protection after it, plan_settle). */
void plan_sysv_attach(struct plan *pl, const struct img_proc *p, const struct img_vma *v,
		      const struct spawn_fds *sf)
{
	uint32_t k;

	if (v->d.pgoff)
		return;
	for (k = 0; k < p->nshms && p->shms[k].id != (int32_t)v->d.ino; k++)
		;
	if (k == p->nshms)
		return;		/* the reader's checks make this impossible */
	plan_op(pl, 0, 0, 0, SYS_shmat, (uint64_t)sf->shm_id[k], v->d.start,
		(v->d.prot & PROT_EXEC) ? SHM_EXEC : 0, 0, 0, 0);
	plan_what(pl, 0, "attach SysV shared memory segment %d at %#lx", sf->shm_id[k],
		  (unsigned long)v->d.start);
	if (p->shms[k].mode & SHM_DEST_MODE) {
		plan_op(pl, 0, 0, 0, SYS_shmctl, (uint64_t)sf->shm_id[k], IPC_RMID, 0, 0, 0, 0);
		plan_what(pl, 0, "remove SysV shared memory segment %d (as it was)", sf->shm_id[k]);
	}
}

void sysv_close(const struct img_proc *p, struct spawn_fds *sf, int failed)
{
	for (uint32_t i = 0; failed && sf->shm_made && i < p->nshms; i++)
		if (sf->shm_made[i])
			shmctl(sf->shm_id[i], IPC_RMID, NULL);
	free(sf->shm_id);
	free(sf->shm_made);
	sf->shm_id = NULL;
	sf->shm_made = NULL;
}
