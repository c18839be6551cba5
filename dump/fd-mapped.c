/*
 * Mappings of memfds and deleted files (dump/fd.h fd_dump_mapped).  Each
 * is mapped at restore from the file the image makes again: the FILE of
 * a descriptor of the image with the same inode, or, when the process
 * holds no descriptor of it (it mapped the file and closed it), a FILE
 * of its own that no FD names (CKPT_FILEF_MAPPED).  That one is read
 * through /proc/PID/map_files/START-END, which opens the mapped file
 * itself but only for CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (proc(5);
 * fs/proc/base.c proc_map_files_get_link), as fd-file.c reads an fd's:
 * holes, owner, mode, times, a memfd's name and seals.  One inode is one
 * FILE however many mappings (and processes of a tree) map it.  What
 * cannot be read so stays anonymous memory with its contents, as before,
 * and dump says which.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

#define HUGETLBFS_MAGIC	0x958458f6	/* include/uapi/linux/magic.h */

/* The file of the image that makes inode dev/ino again and carries its
 * data (a memfd, or a deleted file not naming another), or NULL. */
static const struct img_file *recreated(const struct img *img, uint64_t dev, uint64_t ino)
{
	for (uint32_t k = 0; k < img->nfiles; k++) {
		const struct img_file *f = &img->files[k];
		struct ckpt_fd_ghost g = { 0 };

		if (f->d.kind == CKPT_FD_GHOST && f->d.state_len >= sizeof(g))
			memcpy(&g, f->state, sizeof(g));
		if ((f->d.kind == CKPT_FD_MEMFD ||
		     (f->d.kind == CKPT_FD_GHOST && f->d.state_len && !g.inode_of)) &&
		    f->d.policy == CKPT_FPOL_EXACT && f->d.dev == dev && f->d.ino == ino)
			return f;
	}
	return NULL;
}

/* Mapped from the file restore makes again: a shared mapping is one
 * memory with it (and with every other mapping and fd of it), a private
 * one sees the file where it has no copy of its own. */
static void map_from_file(struct img_vma *v)
{
	v->d.flags = (v->d.flags & ~(CKPT_VMA_DELETED | CKPT_VMA_ANON)) | CKPT_VMA_MEMFD;
}

/* Restored as anonymous memory with its contents: said once per inode
 * (its first mapping). */
static void stays_anonymous(const struct img_vma *v, const char *why)
{
	warn("mapping %#lx-%#lx of \"%s\" (no fd of the process holds it): restored as anonymous "
	     "memory with the same contents, no longer a mapping of that file: %s",
	     (unsigned long)v->d.start, (unsigned long)v->d.end, v->path, why);
}

/* A memfd or deleted file to read: not shared anonymous memory (which
 * the kernel names "/dev/zero (deleted)", mm/shmem.c shmem_zero_setup),
 * nor what the user left out. */
static int may_read(const struct img_vma *v)
{
	return (v->d.flags & CKPT_VMA_DELETED) && !(v->d.flags & (CKPT_VMA_EXCLUDED | CKPT_VMA_SKIP)) &&
	       v->path[0] == '/' && strncmp(v->path, "/dev/zero", 9);
}

/* An earlier mapping of the same inode that was tried and stays
 * anonymous memory: this one does too, without reading the file again. */
static int tried_before(const struct img_proc *p, uint32_t i)
{
	for (uint32_t k = 0; k < i; k++)
		if (may_read(&p->vmas[k]) && p->vmas[k].d.dev == p->vmas[i].d.dev &&
		    p->vmas[k].d.ino == p->vmas[i].d.ino)
			return 1;
	return 0;
}

/*
 * The file behind mapping v, opened through map_files into d (its copy
 * and stat): 0, 1 when it is to stay anonymous memory (*why says why),
 * -errno after a message.
 */
static int open_mapped(pid_t pid, const struct img_vma *v, struct dfile *d, const char **why)
{
	char path[96];
	struct statfs sfs;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)v->d.start,
		 (unsigned long)v->d.end);
	d->copy = open(path, O_RDONLY | O_CLOEXEC);
	if (d->copy < 0 && (errno == EPERM || errno == EACCES)) {
		*why = "ckpt may not open it through /proc/PID/map_files (that needs "
		       "CAP_CHECKPOINT_RESTORE: dump as root)";
		return 1;
	}
	if (d->copy < 0)
		return error_errno(errno, "mapping %#lx-%#lx (%s): cannot open %s",
				   (unsigned long)v->d.start, (unsigned long)v->d.end, v->path, path);
	if (fstat(d->copy, &d->st) < 0 || fstatfs(d->copy, &sfs) < 0)
		return error_errno(errno, "mapping %#lx-%#lx (%s): cannot stat it",
				   (unsigned long)v->d.start, (unsigned long)v->d.end, v->path);
	/* Not st_dev: btrfs gives maps the superblock's device and stat a
	 * subvolume's; the file of map_files is the mapping's anyway. */
	if (d->st.st_ino != v->d.ino || !S_ISREG(d->st.st_mode))
		*why = "it is not the regular file its mapping names";
	else if (sfs.f_type == HUGETLBFS_MAGIC)
		*why = "it is on hugetlbfs, which ckpt does not make files on";
	else if (d->st.st_nlink)
		*why = "it is still linked under another name, which ckpt does not know";
	else
		return 0;
	return 1;
}

/* A FILE for the file of mapping i no fd holds, read as an fd's is:
 * 0 (made), 1 (it stays anonymous memory: said), -errno. */
static int add_mapped(pid_t pid, struct img *img, struct img_proc *p, uint32_t i)
{
	const struct img_vma *v = &p->vmas[i];
	struct fd_dump c = { .pid = pid, .img = img, .p = p, .pidfd = -1, .pidfd_thread = -1 };
	struct dfile d = { .fd = -1, .copy = -1 };
	const char *why = NULL;
	struct img_file *f;
	int ret = open_mapped(pid, v, &d, &why);

	if (ret == 0) {
		d.f = f = img_add_file(img);
		f->d.kind = !strncmp(v->path, "/memfd:", 7) ? CKPT_FD_MEMFD : CKPT_FD_GHOST;
		f->d.flags = O_RDWR;
		f->d.size = (uint64_t)d.st.st_size;
		f->d.dev = v->d.dev;	/* what its mappings name (above) */
		f->d.ino = d.st.st_ino;
		f->d.mtime_ns = (uint64_t)d.st.st_mtim.tv_sec * 1000000000ull +
				(uint64_t)d.st.st_mtim.tv_nsec;
		f->d.mode = d.st.st_mode;
		f->d.fflags = CKPT_FILEF_MAPPED;
		f->path = xstrdup(v->path);
		d.link = xstrdup(v->path);
		d.name = xmalloc(strlen(v->path) + 64);
		sprintf(d.name, "mapping %#lx-%#lx (%s)", (unsigned long)v->d.start,
			(unsigned long)v->d.end, v->path);
		ret = fd_dump_file.collect(&c, &d);
		if (ret == 0 && d.cannot) {
			why = d.cannot;
			ret = 1;
		}
		if (ret == 0) {
			f->what = xstrdup("");
			f->d.path_len = (uint32_t)strlen(f->path);
			debug("%s: no fd holds it: restore makes it again and maps it", d.name);
		} else {
			/* the last file added: taken back */
			free(f->path);
			free(f->state);
			free(f->data);
			img->nfiles--;
		}
		free(d.link);
		free(d.name);
	}
	if (d.copy >= 0)
		close(d.copy);
	if (ret == 1)
		stays_anonymous(v, why);
	return ret;
}

int fd_dump_mapped(pid_t pid, struct img *img, struct img_proc *p)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		struct img_vma *v = &p->vmas[i];
		int ret;

		if (!(v->d.flags & CKPT_VMA_DELETED))
			continue;
		if (recreated(img, v->d.dev, v->d.ino)) {
			map_from_file(v);
			continue;
		}
		if (!may_read(v) || tried_before(p, i))
			continue;
		if ((ret = add_mapped(pid, img, p, i)) < 0)
			return ret;
		if (ret == 0)
			map_from_file(v);
	}
	return 0;
}
