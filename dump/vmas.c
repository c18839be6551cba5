/*
 * Classifying the mappings of /proc/PID/smaps into image VMAs: what each
 * is (anonymous, file, shared, special), whether its file still is the one
 * mapped, and hence how restore recreates it and which pages to store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/crc32c.h"

static const struct { const char *name; uint32_t flags; } specials[] = {
	{ "[vdso]", CKPT_VMA_VDSO },
	{ "[vvar]", CKPT_VMA_VVAR },
	{ "[vvar_vclock]", CKPT_VMA_VVAR_VCLOCK },
	{ "[vsyscall]", CKPT_VMA_SKIP },
	{ "[heap]", CKPT_VMA_HEAP | CKPT_VMA_ANON },
	{ "[stack]", CKPT_VMA_STACK | CKPT_VMA_ANON },
};

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Shared memory with no file a restore could open: its contents are stored. */
static int is_shmem_path(const char *path)
{
	return !strncmp(path, "/dev/zero", 9) || !strncmp(path, "/SYSV", 5) ||
	       !strncmp(path, "/memfd:", 7) || !strncmp(path, "/dev/shm/", 9);
}

/* Opted out of checkpointing by the program (MADV_DONTDUMP) or the user. */
static int is_excluded(const struct img_vma *v, const struct dump_opts *o)
{
	if (v->d.flags & (CKPT_VMA_SPECIAL | CKPT_VMA_SKIP))
		return 0;
	if (v->d.madv & CKPT_MADV_DONTDUMP)
		return 1;
	for (int i = 0; i < o->nexclude_maps; i++) {
		const char *name = strrchr(v->path, '/');

		/* A path, a file name, or a bracketed name like [heap]. */
		if (!strcmp(v->path, o->exclude_maps[i]) ||
		    (name && !strcmp(name + 1, o->exclude_maps[i])))
			return 1;
	}
	return 0;
}

/* A name from the specials table: what it is does not depend on VmFlags. */
#define NAMED_SPECIAL	(CKPT_VMA_SPECIAL | CKPT_VMA_SKIP | CKPT_VMA_HEAP | CKPT_VMA_STACK)

/*
 * What smaps' VmFlags add to a classified mapping.  Apart from classify()
 * so that dump --fork can classify from /proc/PID/maps while the process
 * is frozen and add the flags from smaps later (dump_vmas_set_flags).
 */
/* smaps VmFlags (ptrace/proc.h) as the image records them (format.h). */
static uint32_t madv_of(uint32_t vmflags)
{
	static const struct { uint32_t pm, madv; } map[] = {
		{ PM_DONTFORK, CKPT_MADV_DONTFORK }, { PM_DONTDUMP, CKPT_MADV_DONTDUMP },
		{ PM_HUGEPAGE, CKPT_MADV_HUGEPAGE }, { PM_NOHUGEPAGE, CKPT_MADV_NOHUGEPAGE },
		{ PM_WIPEONFORK, CKPT_MADV_WIPEONFORK }, { PM_NORESERVE, CKPT_MADV_NORESERVE },
		{ PM_LOCKED, CKPT_MADV_LOCKED }, { PM_MERGEABLE, CKPT_MADV_MERGEABLE },
		{ PM_SEQUENTIAL, CKPT_MADV_SEQUENTIAL }, { PM_RANDOM, CKPT_MADV_RANDOM },
		{ PM_LOCKONFAULT, CKPT_MADV_LOCKONFAULT }, { PM_MAYBE_GUARD, CKPT_MADV_GUARD },
		{ PM_SEALED, CKPT_MADV_SEALED },
	};
	uint32_t madv = 0;

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (vmflags & map[i].pm)
			madv |= map[i].madv;
	return madv;
}

static void set_flags(struct img_vma *v, uint32_t vmflags, const struct dump_opts *o)
{
	v->d.madv = madv_of(vmflags);
	if (vmflags & PM_GROWSDOWN)
		v->d.flags |= CKPT_VMA_GROWSDOWN;
	/* A shared file mapping made read-only from a file opened for
	 * writing may be made writable again (mprotect(2) EACCES otherwise);
	 * so may one of a memfd or deleted file that restore makes again
	 * (fd-mapped.c: DELETED becomes MEMFD). */
	if ((vmflags & PM_MAYWRITE) && !(v->d.prot & PROT_WRITE) && (v->d.flags & CKPT_VMA_SHARED) &&
	    (v->d.flags & (CKPT_VMA_FILE | CKPT_VMA_DELETED | CKPT_VMA_MEMFD)))
		v->d.flags |= CKPT_VMA_MAYWRITE;
	if ((vmflags & (PM_IO | PM_PFNMAP)) && !(v->d.flags & NAMED_SPECIAL)) {
		warn("mapping %#lx-%#lx (%s) is device memory: not saved",
		     (unsigned long)v->d.start, (unsigned long)v->d.end, v->path);
		v->d.flags = (v->d.flags & (CKPT_VMA_SHARED | CKPT_VMA_GROWSDOWN)) | CKPT_VMA_SKIP;
		v->d.fsize = v->d.mtime_ns = 0;
	}
	if (is_excluded(v, o))
		v->d.flags |= CKPT_VMA_EXCLUDED;
	/* Private anonymous memory with transparent huge pages: restore fills
	 * it with small pages (UFFDIO_COPY makes no huge page) and collapses
	 * them again (restore/thp.c).  Not where the process asked for small
	 * pages (a THP made before MADV_NOHUGEPAGE stays until split, but it
	 * must not come back: MADV_COLLAPSE refuses VM_NOHUGEPAGE anyway). */
	if ((vmflags & PM_ANONHUGE) && !(vmflags & PM_NOHUGEPAGE) && (v->d.flags & CKPT_VMA_ANON) &&
	    !(v->d.flags & ~(CKPT_VMA_ANON | CKPT_VMA_GROWSDOWN | CKPT_VMA_HEAP | CKPT_VMA_STACK)))
		v->d.flags |= CKPT_VMA_THP;
}

static void set_identity(struct img_vma *v, const struct stat *sb)
{
	v->d.fsize = (uint64_t)sb->st_size;
	v->d.mtime_ns = (uint64_t)sb->st_mtim.tv_sec * 1000000000ull + (uint64_t)sb->st_mtim.tv_nsec;
}

/* Everything /proc/PID/maps tells, without VmFlags. */
static void classify(pid_t pid, const struct map_entry *m, struct img_vma *v)
{
	char link[96];
	struct stat sb;

	v->d.start = m->start;
	v->d.end = m->end;
	v->d.prot = m->prot;
	v->d.pgoff = m->pgoff;
	v->d.dev = makedev(m->dev_major, m->dev_minor);
	v->d.ino = m->ino;
	v->path = xstrdup(m->path);
	if (m->shared)
		v->d.flags |= CKPT_VMA_SHARED;
	for (size_t i = 0; i < ARRAY_SIZE(specials); i++)
		if (!strcmp(m->path, specials[i].name)) {
			v->d.flags |= specials[i].flags;
			return;
		}
	if (!m->path[0] || m->path[0] == '[') {
		/* anonymous, including named anonymous ("[anon:...]") */
		v->d.flags |= CKPT_VMA_ANON;
		return;
	}
	/* ipc/shm.c names a segment's file "SYSV" and its key (%08x); its
	 * inode number is the segment's id (dump/sysv.c). */
	if (m->shared && !strncmp(m->path, "/SYSV", 5)) {
		v->d.flags |= CKPT_VMA_SYSV;
		return;
	}
	if (m->shared && is_shmem_path(m->path) && !m->ino) {
		v->d.flags |= CKPT_VMA_ANON;
		return;
	}
	/*
	 * The file at the path must be the one mapped (the device and inode
	 * of the maps line), or we store all its data.  Its size and mtime,
	 * which restore checks, come from the path then: what any dumper can
	 * stat.  /proc/PID/map_files, which follows the mapped file even when
	 * it is deleted or replaced, cannot be stat'ed without
	 * CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (proc(5); fs/proc/base.c
	 * proc_map_files_get_link): only for a file that is gone, and only
	 * for what inspect shows.
	 */
	if (!ends_with(m->path, " (deleted)") && !is_shmem_path(m->path) &&
	    stat(m->path, &sb) == 0 && sb.st_ino == m->ino && sb.st_dev == v->d.dev) {
		v->d.flags |= CKPT_VMA_FILE;
		set_identity(v, &sb);
		return;
	}
	v->d.flags |= CKPT_VMA_DELETED | (m->shared ? CKPT_VMA_ANON : 0);
	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", pid,
		 (unsigned long)m->start, (unsigned long)m->end);
	if (stat(link, &sb) == 0)
		set_identity(v, &sb);
}

int dump_collect_vmas(pid_t pid, struct img_proc *p, const struct map_entry *maps, size_t n,
		      const struct dump_opts *o)
{
	p->vmas = xzalloc(n * sizeof(*p->vmas));
	p->d.nvmas = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		struct img_vma *v = &p->vmas[i];

		classify(pid, &maps[i], v);
		v->d.path_len = (uint32_t)strlen(v->path);
		set_flags(v, maps[i].vmflags, o);
		if (v->d.flags & CKPT_VMA_VDSO) {
			/* Restore refuses a kernel whose vdso code differs: saved
			 * return addresses into it would land elsewhere. */
			size_t len = v->d.end - v->d.start;
			uint8_t *buf = xmalloc(len);
			int ret = mem_read(pid, v->d.start, buf, len);

			if (ret == 0)
				v->d.crc = crc32c(0, buf, len);
			free(buf);
			if (ret < 0)
				return error_errno(ret, "cannot read the vdso");
		}
	}
	return 0;
}

int dump_vmas_set_flags(struct img_proc *p, const struct map_entry *maps, const struct dump_opts *o)
{
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		struct img_vma *v = &p->vmas[i];

		if (maps[i].start != v->d.start || maps[i].end != v->d.end)
			return error("mapping %#lx-%#lx changed during the dump",
				     (unsigned long)v->d.start, (unsigned long)v->d.end);
		set_flags(v, maps[i].vmflags, o);
	}
	return 0;
}
