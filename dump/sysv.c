/*
 * The SYSV_SHM section (image/format.h): the SysV shared memory segments
 * the process has attached, from /proc/sysvipc/shm (ipc/shm.c
 * sysvipc_shm_proc_show).  An attach whose mappings do not cover its
 * segment from its start to its end (a part unmapped with munmap) could
 * not be made again with shmat: refused by name.
 *
 * SysV semaphores are not the process's (they live in its IPC namespace,
 * as files do), but the undo adjustments of its semop(SEM_UNDO) are, and
 * nothing reads them: neither /proc nor any syscall tells their values
 * (CRIU has the same hole: checkpoint-restore/criu#47).  kcmp(KCMP_SYSVSEM)
 * tells whether the process has an undo list at all (kernel/kcmp.c
 * compares task->sysvsem.undo_list), GETPID which set it changed last:
 * such a process is refused by name (check_sem_undo), as the restored
 * process would not undo at its exit what it holds (and dump --kill
 * undoes it at once), unless --lose-sem-undo.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

#define KCMP_SYSVSEM	6	/* include/uapi/linux/kcmp.h */

/* Whether thread tid is one of p's. */
static int is_ours(const struct img_proc *p, int tid)
{
	for (uint32_t i = 0; i < p->d.nthreads; i++)
		if (p->threads[i].d.tid == tid)
			return 1;
	return 0;
}

/* The id of a SysV semaphore set one of p's threads changed last (semop
 * sets sempid, GETPID reads it), or -1.  Only in ckpt's IPC namespace,
 * which /proc/sysvipc/sem shows: another's is not searched. */
static int set_changed_by(const struct img_proc *p, pid_t live)
{
	char path[64], mine[64], theirs[64], line[256];
	FILE *f;
	int found = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", live);
	if ((n = readlink(path, theirs, sizeof(theirs) - 1)) < 0)
		return -1;
	theirs[n] = 0;
	if ((n = readlink("/proc/self/ns/ipc", mine, sizeof(mine) - 1)) < 0)
		return -1;
	mine[n] = 0;
	if (strcmp(mine, theirs) || !(f = fopen("/proc/sysvipc/sem", "re")))
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		int key, id, nsems;

		/* key semid perms nsems uid gid cuid cgid otime ctime */
		if (sscanf(line, "%d %d %*o %d", &key, &id, &nsems) != 3)
			continue;
		for (int k = 0; k < nsems && found < 0; k++)
			if (is_ours(p, semctl(id, k, GETPID)))
				found = id;
	}
	fclose(f);
	return found;
}

/* kcmp(KCMP_SYSVSEM) of the process against a fresh child of ckpt's
 * (fork gives none): 1 if the process has an undo list, 0, or -errno.
 * The child holds none of ckpt's fds (the guardian's socket, the image, a
 * uffd) and dies with ckpt, even when ckpt died before its prctl (then
 * its parent is already another).  The wait is retried on EINTR: ckpt's
 * signal handlers have no SA_RESTART, and an unreaped child stays a
 * zombie of ckpt's. */
static int has_undo_list(pid_t live)
{
	pid_t parent = getpid(), c = fork();
	long r;
	int e;

	if (c < 0)
		return -errno;
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		syscall(SYS_close_range, 3u, ~0u, 0);
		pause();
		_exit(0);
	}
	r = syscall(SYS_kcmp, live, c, KCMP_SYSVSEM, 0, 0);
	e = errno;
	kill(c, SIGKILL);
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
	return r < 0 ? -e : r != 0;
}

/*
 * An undo list comes with every thread too (glibc's pthread_create
 * passes CLONE_SYSVSEM, which makes one: ipc/sem.c copy_semundo), empty
 * or not, and nothing tells which: a process is refused when it has one
 * and a semaphore set of its IPC namespace was changed last by one of
 * its threads.  Not seen: adjustments to a set another process changed
 * since.  Refused for nothing: a threaded process whose last semop was
 * without SEM_UNDO (--lose-sem-undo then).
 */
static int check_sem_undo(const struct img_proc *p, pid_t live, const struct dump_opts *o)
{
	int id = set_changed_by(p, live), undo;

	if (id < 0)
		return 0;
	if ((undo = has_undo_list(live)) <= 0) {
		if (undo < 0)	/* no kcmp (CONFIG_KCMP): cannot tell */
			debug("cannot tell whether process %d has SysV semaphore undo adjustments "
			      "(kcmp: %s)", live, strerror(-undo));
		return 0;
	}
	if (o->lose_sem_undo) {
		warn("process %d: SysV semaphore undo adjustments (semop SEM_UNDO) it may hold "
		     "(on set %d) are not in the image (--lose-sem-undo): the restored process "
		     "undoes nothing at its exit", live, id);
		return 0;
	}
	return error("process %d may hold SysV semaphore undo adjustments (semop SEM_UNDO; it "
		     "changed set %d last): nothing can read them, so the restored process would not "
		     "undo them at its exit (and --kill undoes them now); --lose-sem-undo dumps "
		     "without them", live, id);
}

int dump_collect_sysv(pid_t live, struct img_proc *p, uint64_t page, const struct dump_opts *o)
{
	int ret;

	if ((ret = check_sem_undo(p, live, o)) < 0)
		return ret;
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		struct ckpt_shm *s;
		uint64_t held;
		uint32_t k;

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
