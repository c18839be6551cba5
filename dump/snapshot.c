/*
 * dump --snapshot (docs/snapshot.md 2b): the cut without a fork.  While
 * the process is frozen each large private anonymous mapping is moved
 * aside by an mremap(MREMAP_DONTUNMAP | MREMAP_FIXED) injected in it: its
 * page tables go to a shadow range, the original stays mapped, empty and
 * registered with a userfaultfd (MISSING) the process made and ckpt took.
 * Released, the process runs on; ckpt writes the image from the shadows
 * (the cut: nothing writes there) and gives every page back with
 * UFFDIO_COPY: each piece the writer has just read (its buffer holds it),
 * a page the process touches first with the present pages after it.  At
 * the end every page present in a shadow is back, the uffds are closed,
 * and the shadows unmapped by an injected munmap.
 *
 * The process must never read a page that is not what it wrote: so the
 * order below, each step journaled for the guardian (guard.c) first.  The
 * originals are registered before the mremaps, so that there is no
 * moment at which one is empty and not registered (a killed ckpt's
 * tracees run on at once, before the guardian can act).  Registered, an
 * original's mremap keeps the registration on both ranges and sends a
 * UFFD_EVENT_REMAP that the mremap waits to have read: the reader thread
 * runs from before the first one; the shadow is unregistered right after.
 * Every event is read into the journal itself (read(2) copies it there
 * before returning), and the guardian holds a copy of every uffd: if ckpt
 * dies it replays the events, fills the holes from the shadows, closes
 * the uffds and unmaps the shadows (snap_rescue).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/guardian.h"
#include "common/killpoint.h"
#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "dump/guard.h"
#include "dump/snapshot.h"
#include "restore/uspace.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* Smaller mappings are read while frozen: a shadow each would cost more
 * than reading them. */
#define SNAP_MIN_BYTES	(256u << 10)
/* The pages after a faulting one given back with it (the prototype's
 * PROTO_RA: a writer going through memory in order waits 16 times less). */
#define SNAP_AHEAD	16
/* New mappings left to the process under vm.max_map_count. */
#define SNAP_MAP_SLACK	1024
#define FILL_PAGES	256

struct sshadow {
	uint64_t orig, shadow, len;
	int moved;		/* its mremap happened (our REMAP event was read) */
	size_t freed;		/* pages unmapped from the shadow's start (free_behind) */
	size_t done;		/* pages from the start known back or absent */
	int nofree;		/* an unmapping failed: the rest waits for the end */
	uint64_t *present;	/* bit per page: present or swapped in the shadow */
	uint64_t *back;		/* bit per page: given back (or never to be) */
	uint64_t *written;	/* bit per page: read by the writer (free_behind) */
};

struct fault {
	size_t mi;
	uint64_t addr;
};

struct snap {
	pid_t pid, live;
	struct tracee_code code;
	size_t ps;
	struct sshadow *sh;
	size_t nsh;
	int64_t *shift;		/* per mapping of the image: shadow - original */
	struct uspace *mm;	/* [0]: the process; then its children */
	size_t nmm;
	pthread_rwlock_t lock;	/* events (write side) vs fills (read side) */
	pthread_mutex_t mu;	/* mm's growth, err, stop */
	pthread_t reader;
	int running, stop, err, ready;
	volatile struct guard_snap *j;	/* ckpt: events go there; NULL: the guardian */
	const int *forkfds;	/* the guardian: the children's uffds, in order */
	size_t nforkfds, nextfork;
	uint64_t faults, given;
	pthread_mutex_t unmap_mu;	/* one unmapping at a time (free_behind) */
	uint64_t unmapped, unmap_most;	/* bytes freed behind the writer; longest stop (ns) */
	struct snap_stop pause;		/* free_behind's stops (under unmap_mu) */
	size_t unmaps;
};

/* ---------------------------------------------------------------- bits */

static int bit(const uint64_t *b, size_t i)
{
	return (int)((__atomic_load_n(&b[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1);
}

static void set_bit(uint64_t *b, size_t i)
{
	__atomic_fetch_or(&b[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
}

/* The shadow holding image address a, or NULL. */
static struct sshadow *shadow_of(struct snap *s, uint64_t a)
{
	for (size_t k = 0; k < s->nsh; k++)
		if (s->sh[k].moved && a >= s->sh[k].orig && a < s->sh[k].orig + s->sh[k].len)
			return &s->sh[k];
	return NULL;
}

/* Its bitmaps, empty: nothing known present, nothing back. */
static void bitmaps(struct snap *s, struct sshadow *h)
{
	size_t n = h->len / s->ps;

	h->present = xzalloc((n + 63) / 64 * 8);
	h->back = xzalloc((n + 63) / 64 * 8);
	h->written = xzalloc((n + 63) / 64 * 8);
}

/* Which pages of a shadow are there (pagemap: present or swapped). */
static int read_present(struct snap *s, struct sshadow *h)
{
	char path[64];
	uint64_t n = h->len / s->ps, pm[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", s->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (uint64_t i = 0; i < n && ret == 0;) {
		uint64_t k = MIN(n - i, (uint64_t)512);
		ssize_t r = pread(fd, pm, k * 8, (off_t)((h->shadow / s->ps + i) * 8));

		if (r != (ssize_t)(k * 8)) {
			ret = r < 0 ? -errno : -EIO;
			break;
		}
		for (uint64_t q = 0; q < k; q++)
			if (pm[q] & (3ull << 62))
				set_bit(h->present, i + q);
		i += k;
	}
	close(fd);
	return ret;
}

/* ---------------------------------------------------------------- fills */

static void set_err(struct snap *s, int err)
{
	pthread_mutex_lock(&s->mu);
	if (!s->err)
		s->err = err;
	pthread_mutex_unlock(&s->mu);
}

/* n pages at image address a (in shadow h) from data into every address
 * space, but what each dropped; then they count as back.  -EAGAIN when an
 * event is to be read first and !wait (the reader, which reads them). */
static int give_back(struct snap *s, struct sshadow *h, uint64_t a, const uint8_t *data, size_t n,
		     int wait)
{
	int ret;

	for (;;) {
		ret = 0;
		pthread_rwlock_rdlock(&s->lock);
		for (size_t mi = 0; mi < s->nmm && ret == 0; mi++) {
			struct uspace *u = &s->mm[mi];

			if (u->dead || u->uffd < 0)
				continue;
			ret = uspace_fill(u, a, data, n * s->ps, s->ps);
			if (ret == -ESRCH) {	/* it exited */
				u->dead = 1;
				ret = 0;
			}
		}
		pthread_rwlock_unlock(&s->lock);
		/* An event is to be read first: the reader does. */
		if (ret != -EAGAIN || !wait)
			break;
		usleep(50);
	}
	if (ret == -EAGAIN)
		return ret;
	if (ret < 0)
		return error_errno(ret, "cannot give the pages at %#lx back to the process",
				   (unsigned long)a);
	for (size_t i = 0; i < n; i++)
		set_bit(h->back, (a - h->orig) / s->ps + i);
	s->given += n;
	return 0;
}

/* Read n pages at image address a from the shadow and give them back. */
static int fill_from_shadow(struct snap *s, struct sshadow *h, uint64_t a, size_t n, uint8_t *buf,
			    int wait)
{
	struct iovec l = { buf, n * s->ps }, r = { (void *)(uintptr_t)(a - h->orig + h->shadow), n * s->ps };
	int ret = mem_readv(s->pid, &l, 1, &r, 1);

	if (ret < 0)
		return error_errno(ret, "cannot read the shadow of %#lx", (unsigned long)a);
	return give_back(s, h, a, buf, n, wait);
}

/* Pages [from, to) of h that are present and not back, FILL_PAGES at most
 * at a time. */
static int fill_range(struct snap *s, struct sshadow *h, size_t from, size_t to, uint8_t *buf,
		      int wait)
{
	/* Below freed every page is back or was never there: unmapped. */
	from = MAX(from, __atomic_load_n(&h->freed, __ATOMIC_ACQUIRE));
	while (from < to) {
		size_t e;
		int ret;

		if (!bit(h->present, from) || bit(h->back, from)) {
			from++;
			continue;
		}
		for (e = from + 1; e < to && e - from < FILL_PAGES && bit(h->present, e) &&
				   !bit(h->back, e); e++)
			;
		if ((ret = fill_from_shadow(s, h, h->orig + from * s->ps, e - from, buf, wait)) < 0)
			return ret;
		from = e;
	}
	return 0;
}

static void free_behind(struct snap *s, struct sshadow *h);

int snap_read_hook(void *arg, const uint64_t *addr, const uint8_t *raw, size_t n)
{
	struct snap *s = arg;

	for (size_t i = 0; i < n;) {
		struct sshadow *h = shadow_of(s, addr[i]);
		size_t e = i + 1;
		int ret;

		while (e < n && addr[e] == addr[e - 1] + s->ps && h &&
		       addr[e] < h->orig + h->len)
			e++;
		if (h && (ret = give_back(s, h, addr[i], raw + i * s->ps, e - i, 1)) < 0)
			return ret;
		if (h) {
			for (size_t k = i; k < e; k++)
				set_bit(h->written, (addr[k] - h->orig) / s->ps);
			free_behind(s, h);
		}
		i = e;
	}
	return 0;
}

/* ---------------------------------------------------------------- events */

/* Ours: the REMAP of a shadow's own mremap. */
static int our_remap(struct snap *s, const struct uffd_msg *m)
{
	for (size_t k = 0; k < s->nsh; k++) {
		struct sshadow *h = &s->sh[k];

		if (m->arg.remap.from == h->orig && m->arg.remap.to == h->shadow &&
		    m->arg.remap.len == h->len) {
			h->moved = 1;
			return 1;
		}
	}
	return 0;
}

/* An event of mm[mi], under the write lock; fd: a FORK's child uffd. */
static void on_event(struct snap *s, size_t mi, const struct uffd_msg *m, int fd)
{
	if (m->event == UFFD_EVENT_REMAP && mi == 0 && our_remap(s, m))
		return;
	if (m->event == UFFD_EVENT_FORK) {
		pthread_mutex_lock(&s->mu);
		s->mm = xrealloc(s->mm, (s->nmm + 1) * sizeof(*s->mm));
		if (fd >= 0) {
			uspace_fork(&s->mm[s->nmm], &s->mm[mi], fd);
		} else {
			s->mm[s->nmm] = (struct uspace){ .uffd = -1, .dead = 1 };
			warn("guardian: the userfaultfd of a child the process forked was lost: its copy of memory not yet given back reads as zeros");
		}
		s->nmm++;
		pthread_mutex_unlock(&s->mu);
		debug("snapshot: the process forked: its child is given the pages back too");
		return;
	}
	uspace_event(&s->mm[mi], m, s->ps);
}

/* Read one message of mm[mi] (into the journal when ckpt's): 1 read, 0
 * none, and a fault queued. */
static int read_one(struct snap *s, size_t mi, struct fault **q, size_t *nq)
{
	struct uffd_msg m;
	volatile struct guard_snapev *e = NULL;
	ssize_t n;
	int fd = -1;

	if (s->j) {
		e = &s->j->ev[MIN(s->j->nev, GUARD_SNAP_EVENTS - 1)];
		e->mm = (int32_t)mi;
		n = read(s->mm[mi].uffd, (void *)&e->msg, sizeof(m));
		memcpy(&m, (const void *)&e->msg, sizeof(m));
	} else {
		n = read(s->mm[mi].uffd, &m, sizeof(m));
	}
	if (n != (ssize_t)sizeof(m))
		return 0;
	if (m.event == UFFD_EVENT_PAGEFAULT) {
		if (e)
			memset((void *)&e->msg, 0, sizeof(m));
		*q = xrealloc(*q, (*nq + 1) * sizeof(**q));
		(*q)[(*nq)++] = (struct fault){ mi, m.arg.pagefault.address };
		s->faults++;
		return 1;
	}
	if (e) {
		if (s->j->nev < GUARD_SNAP_EVENTS - 1)
			s->j->nev++;
		else
			set_err(s, error("the process changed its memory map more than %d times during the dump",
					 GUARD_SNAP_EVENTS));
	}
	if (m.event == UFFD_EVENT_FORK) {
		fd = (int)m.arg.fork.ufd;
		/* First of all, the guardian holds the child's uffd too. */
		if (s->j && guard_hand_fd(fd) < 0)
			set_err(s, error("cannot hand a forked child's userfaultfd to the guardian"));
	}
	on_event(s, mi, &m, fd);
	return 1;
}

/* A fault at current address addr of mm[mi]: that page and the present
 * ones after it back; one no shadow has (or dropped since): a zero page. */
static int serve_fault(struct snap *s, size_t mi, uint64_t addr, uint8_t *buf)
{
	uint64_t page = addr & ~(uint64_t)(s->ps - 1), img;
	struct sshadow *h = NULL;
	struct range g;
	int uffd, ret;

	pthread_rwlock_rdlock(&s->lock);
	img = uspace_image_at(&s->mm[mi], page);
	uffd = s->mm[mi].uffd;
	if (img && !ranges_next(&s->mm[mi].gone, img, img + s->ps, &g))
		h = shadow_of(s, img);
	pthread_rwlock_unlock(&s->lock);
	if (h) {
		size_t i = (img - h->orig) / s->ps, n = h->len / s->ps;

		/* A page below freed is not back only if the process dropped
		 * it since (its event not read yet) or it never had it: zero. */
		if (!bit(h->back, i) && i >= __atomic_load_n(&h->freed, __ATOMIC_ACQUIRE) &&
		    (ret = fill_from_shadow(s, h, img, 1, buf, 0)) < 0)
			return ret;
		if (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) &&
		    (ret = fill_range(s, h, i + 1, MIN(n, i + SNAP_AHEAD), buf, 0)) < 0)
			return ret;
	}
	/* Copied (the copy woke it), or no data: the zero page, or a wake. */
	pthread_rwlock_rdlock(&s->lock);
	ret = uspace_zero_or_wake(uffd, page, s->ps);
	pthread_rwlock_unlock(&s->lock);
	return ret == -ESRCH ? 0 : ret;
}

static int stopping(struct snap *s)
{
	int stop;

	pthread_mutex_lock(&s->mu);
	stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

/*
 * The uffds read and the faults served.  A thread of the process waits in
 * its fault until this thread has read it and given the page back, so it
 * runs SCHED_FIFO when it may (as a stop does, snapstop.c): a fault is
 * served before the page workers' bulk copies get the CPU back, not after
 * their slices.  It sleeps in poll(); a poll that wakes with nothing to
 * read (a uffd whose process is gone) sleeps a millisecond, so that an RT
 * thread never spins.
 */
static void *reader(void *arg)
{
	struct snap *s = arg;
	struct fault *q = NULL;
	uint8_t *buf = xmalloc(SNAP_AHEAD * s->ps);
	size_t nq = 0;

	pthread_setschedparam(pthread_self(), SCHED_FIFO, &(struct sched_param){ .sched_priority = 1 });
	while (!stopping(s)) {
		struct pollfd *pfd;
		size_t n, k = 0, got = 0;
		int woke;

		pthread_mutex_lock(&s->mu);
		n = s->nmm;
		pfd = xmalloc(n * sizeof(*pfd));
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = s->mm[i].dead ? -1 : s->mm[i].uffd,
						  .events = POLLIN };
		pthread_mutex_unlock(&s->mu);
		woke = poll(pfd, n, nq ? 1 : 20) > 0;
		free(pfd);
		pthread_rwlock_wrlock(&s->lock);
		for (size_t mi = 0; mi < s->nmm; mi++)
			while (!s->mm[mi].dead && s->mm[mi].uffd >= 0 && read_one(s, mi, &q, &nq))
				got++;
		pthread_rwlock_unlock(&s->lock);
		if (woke && !got && !nq)
			usleep(1000);
		for (size_t i = 0; i < nq; i++) {
			int ret = serve_fault(s, q[i].mi, q[i].addr, buf);

			if (ret == -EAGAIN)
				q[k++] = q[i];
			else if (ret < 0)
				set_err(s, ret);
		}
		nq = k;
	}
	free(q);
	free(buf);
	return NULL;
}

static int start_reader(struct snap *s)
{
	if (pthread_create(&s->reader, NULL, reader, s))
		return error("cannot start a thread");
	s->running = 1;
	return 0;
}

static void stop_reader(struct snap *s)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->reader, NULL);
	s->running = 0;
}

/* ---------------------------------------------------------------- in the process */

static int inject(struct tracee_set *ts, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		  uint64_t a3, uint64_t a4, long *res)
{
	uint64_t a[6] = { a0, a1, a2, a3, a4, 0 };
	int ret = tracee_syscall(ts, &ts->t[0], nr, a, res);

	if (ret == 0 && *res < 0 && *res > -4096)
		ret = (int)*res;
	return ret;
}

/* What is left of the shadow [start, start + len) in pid: one mapping
 * that ends where it does and starts in it (it is unmapped from its start
 * up); its start, or 0 for none (then nothing is unmapped: better left
 * than a mapping of the process's own taken for it). */
static uint64_t shadow_left(pid_t pid, uint64_t start, uint64_t len)
{
	struct map_entry *m = NULL;
	size_t n = 0;
	uint64_t at = 0;

	if (proc_read_maps_how(pid, &m, &n, PROC_MAPS) < 0)
		return 0;
	for (size_t i = 0; i < n && !at; i++)
		if (m[i].end == start + len && m[i].start >= start && m[i].start < start + len)
			at = m[i].start;
	proc_free_maps(m, n);
	return at;
}

/*
 * The shadows unmapped in the process: in ts (frozen), or a piece at a
 * time with one thread frozen for each: a munmap frees the shadow's pages,
 * about 0.1-0.2 s per GiB, which a process with one thread would see as a
 * pause; SNAP_UNMAP_BYTES at a time (0.2-0.4 ms of it) it sees short ones.  sh:
 * the journal's entries, cleared once gone.
 */
#define SNAP_UNMAP_BYTES	(2u << 20)

/* Is the process gone (exited, or a zombie)?  Then there is nothing to
 * unmap, and nothing to say. */
static int gone(pid_t pid)
{
	struct proc_stat st;

	return proc_read_stat(pid, &st) < 0 || st.state == 'Z' || st.state == 'X';
}

/* munmap(a, n) injected in the process, or with drop madvise(a, n,
 * MADV_DONTNEED) (the pages freed, the mapping kept): in frozen, or with
 * one thread frozen for it (*most: the longest such stop, ns).  -ESRCH: it
 * could not be stopped. */
static int unmap_in(pid_t pid, pid_t live, const struct tracee_code *code,
		    struct tracee_set *frozen, struct snap_stop *stop, uint64_t a, uint64_t n,
		    uint64_t *most, int drop)
{
	struct tracee_set own = { .pid = pid }, *ts = frozen;
	uint64_t t1 = now_ns();
	pid_t tid;
	long r;
	int ret;

	if (!ts) {
		snap_stop_begin(stop, pid, live);
		t1 = now_ns();
		/* Freeing behind the writer gives up at once (the end
		 * unmaps what is left); the end waits out another tracer. */
		if (tracee_freeze_lone(pid, live, code, &own, drop ? 0 : TRACEE_PATIENCE_MS, drop) < 0) {
			snap_stop_end(stop, pid, live);
			return -ESRCH;
		}
		ts = &own;
	}
	tid = ts->t[0].tid;
	ret = drop ? inject(ts, SYS_madvise, a, n, MADV_DONTNEED, 0, 0, &r) :
		     inject(ts, SYS_munmap, a, n, 0, 0, 0, &r);
	tracee_inject_end(&ts->t[0]);
	if (!frozen) {
		tracee_release(&own, 0);
		snap_stop_end(stop, pid, tid);
	}
	*most = MAX(*most, now_ns() - t1);
	return ret;
}

static void unmap_shadows(pid_t pid, pid_t live, const struct tracee_code *code,
			  struct tracee_set *frozen, volatile struct guard_shadow *sh, int nsh,
			  const int *moved)
{
	uint64_t t = now_ns(), most = 0;
	struct snap_stop stop = { 0 };
	int done = 0, stops = 0;

	killpoint("snapshot: unmapping");
	for (int k = 0; k < nsh; k++) {
		uint64_t end = sh[k].shadow + sh[k].len, a, empty;

		if (!moved[k] || !sh[k].len || !(a = shadow_left(pid, sh[k].shadow, sh[k].len)))
			continue;
		/* Freed behind the writer (MADV_DONTNEED): no pages there,
		 * at most their empty page tables: one munmap, not one per
		 * piece (before: 512 stops more per GiB at the end). */
		empty = MIN(sh[k].shadow + sh[k].freed, end);
		while (a < end) {
			uint64_t n = frozen ? end - a :
				     a < empty ? empty - a : MIN(end - a, (uint64_t)SNAP_UNMAP_BYTES);
			int ret = unmap_in(pid, live, code, frozen, &stop, a, n, &most, 0);

			stops++;

			if (ret == -ESRCH) {
				/* Exited, or exec'd (a new memory map, no
				 * shadow in it): nothing is left behind. */
				if (!gone(pid) && shadow_left(pid, sh[k].shadow, sh[k].len))
					warn("cannot stop the process to unmap the copies of its memory: they stay mapped");
				return;
			}
			if (ret < 0)
				a = end;	/* left as it is */
			a += n;
		}
		sh[k].len = 0;
		done++;
	}
	debug("snapshot: %d copies of memory unmapped in %.1f ms, %d stops, a thread frozen %.1f ms at most at a time",
	      done, (now_ns() - t) / 1e6, stops, most / 1e6);
}

/*
 * The shadow's pages freed behind the writer: the moved memory is held
 * twice (the shadow's pages and the ones given back) only over what the
 * writer has not passed yet, not for the whole dump.  From the shadow's
 * start up, a piece at a time once every page in it was
 * never there, or is both written and back (a page the writer leaves,
 * an --exclude range, waits for the end's fill).  Freed with
 * MADV_DONTNEED, not unmapped: the uffd reader and the read-ahead may be
 * reading a page of the piece (they test freed, then read, with no lock
 * against this); a read of a freed page finds zeros, right for a page the
 * process never had and harmless for one given back already (its copy
 * fails with EEXIST), where an unmapped piece gave EFAULT (a failed dump)
 * or, once the process had mapped something of its own there, that
 * memory's bytes.  The shadow stays one mapping (shadow_left(): the end
 * and the guardian unmap it whole).  The journal says first how much is
 * gone (a page there is back or was never there: the guardian gives
 * nothing from it), then the madvise, injected with one thread frozen for
 * it as at the end.  The last piece is left for the end.
 */
static void free_behind(struct snap *s, struct sshadow *h)
{
	/* An eighth of the shadow, SNAP_UNMAP_BYTES at most: a small one
	 * is freed behind the writer too, a big one in pieces that stop the
	 * thread a short while each. */
	size_t n = h->len / s->ps, k = (size_t)(h - s->sh);
	size_t piece = MAX(MIN(n / 8, (size_t)SNAP_UNMAP_BYTES / s->ps), (size_t)1);

	if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) || !s->j || h->nofree ||
	    pthread_mutex_trylock(&s->unmap_mu))
		return;		/* another thread is at it: it will look again */
	/* A page given back on a fault may still be to write: both. */
	while (h->done < n && (!bit(h->present, h->done) ||
			       (bit(h->back, h->done) && bit(h->written, h->done))))
		h->done++;
	while (!h->nofree && h->done - h->freed >= piece && h->freed + piece < n) {
		uint64_t a = h->shadow + h->freed * s->ps, len = (uint64_t)piece * s->ps;
		int ret;

		s->j->sh[k].freed = (h->freed + piece) * s->ps;
		__atomic_store_n(&h->freed, h->freed + piece, __ATOMIC_RELEASE);
		killpoint("snapshot: freeing behind");
		ret = unmap_in(s->pid, s->live, &s->code, NULL, &s->pause, a, len, &s->unmap_most, 1);
		if (ret < 0) {
			/* Left mapped (the end unmaps what is left). */
			h->nofree = 1;
			if (ret != -ESRCH)
				debug("snapshot: cannot unmap %#lx behind the writer: %s",
				      (unsigned long)a, strerror(-ret));
			break;
		}
		s->unmapped += len;
		s->unmaps++;
	}
	pthread_mutex_unlock(&s->unmap_mu);
}

/* ---------------------------------------------------------------- choice */

static int shadowable(const struct img_vma *v, const struct vma_pages *vp, pid_t late)
{
	return (v->d.flags & CKPT_VMA_ANON) &&
	       !(v->d.flags & (CKPT_VMA_SHARED | CKPT_VMA_FILE | CKPT_VMA_MEMFD | CKPT_VMA_SPECIAL |
			       CKPT_VMA_SKIP | CKPT_VMA_EXCLUDED | CKPT_VMA_STACK |
			       CKPT_VMA_GROWSDOWN)) &&
	       !(v->d.madv & CKPT_MADV_LOCKED) && v->d.prot != PROT_NONE &&
	       v->d.end - v->d.start >= SNAP_MIN_BYTES &&
	       /* planned: its runs; late (not planned yet): a page in it,
		* or none known (no PAGEMAP_SCAN: moved anyway) */
	       (late ? dump_has_pages(late, v) != 0 : vp->nruns != 0);
}

static long max_map_count(void)
{
	char *buf;
	long n = 65530;

	if (read_file("/proc/sys/vm/max_map_count", &buf, NULL) == 0) {
		n = atol(buf);
		free(buf);
	}
	return n;
}

/* Below a stack: room for it to grow to its limit (1 GiB at most), and
 * the kernel's guard gap (1 MiB) and a margin. */
static uint64_t stack_room(const struct img_proc *p)
{
	return MIN(p->d.rlim[RLIMIT_STACK].cur, 1ull << 30) + (2u << 20);
}

/*
 * The span of one entry of the page tables n levels above the pages: a
 * table holds ps / 8 entries (x86-64 and arm64), so with 4 KiB pages a
 * PMD maps 2 MiB and a PUD 1 GiB.
 */
static uint64_t table_span(size_t ps, int n)
{
	uint64_t span = ps;

	while (n-- > 0)
		span *= ps / 8;
	return span;
}

/*
 * The alignments worth a shadow's place, best first: the mremap moves a
 * whole PUD (1 GiB) or PMD (2 MiB) of page tables with one entry where
 * the original and the shadow are at the same offset in it and the range
 * covers it (mm/mremap.c move_page_tables: get_extent() gives a whole
 * entry only when both addresses are at its start), and otherwise every
 * page table entry one by one: 262,144 of them per GiB of 4 KiB pages,
 * 7 ms per GiB where the same mremap PMD by PMD took 0.15-0.19 ms, and
 * PUD by PUD 0.22 ms at 4 GiB against 0.6 ms (scratch program, this
 * machine, 2026-12-07, load 6).  Worth it for a PUD when the mapping
 * covers a whole one, for a PMD when it reaches a PMD boundary (the
 * kernel then also moves its first, partial PMD whole when nothing is
 * mapped below the start of either range in that PMD:
 * try_realign_addr()).  0 ends the list (then any page will do).
 */
static void alignments(uint64_t start, uint64_t end, size_t ps, uint64_t out[3])
{
	uint64_t pmd = table_span(ps, 1), pud = table_span(ps, 2);
	int n = 0;

	if (((start + pud - 1) & ~(pud - 1)) + pud <= end)
		out[n++] = pud;
	if ((start | (pmd - 1)) + 1 <= end)
		out[n++] = pmd;
	out[n] = 0;
}

/* For -vv: the largest table entry span in which a and b are at the same
 * offset (the tests check it). */
static const char *same_offset(uint64_t a, uint64_t b, size_t ps)
{
	if (!((a ^ b) & (table_span(ps, 2) - 1)))
		return "PUD";
	if (!((a ^ b) & (table_span(ps, 1) - 1)))
		return "PMD";
	return "page";
}

/*
 * Room for a shadow of [start, start + len) below *top, in the gaps
 * between the mappings (sorted), top down: the process's next mmap would
 * go there too, far from its heap's growth; a page free on each side,
 * and none where a stack may grow.  At the same offset as start in an
 * align-sized block (align 0: anywhere), with nothing mapped from the
 * start of its PMD up to it (what the kernel's realignment needs); *top
 * is then below that.  0 if none.
 */
static uint64_t place(const struct img_proc *p, uint64_t start, uint64_t len, uint64_t align,
		      uint64_t *top, size_t ps)
{
	uint64_t pmd = table_span(ps, 1);

	for (uint32_t i = p->d.nvmas; i-- > 0;) {
		const struct img_vma *v = &p->vmas[i];
		uint64_t lo = v->d.end, hi = i + 1 < p->d.nvmas ? p->vmas[i + 1].d.start : 0, at, below;

		if (!hi || hi > *top)
			hi = *top;
		if (i + 1 < p->d.nvmas && (p->vmas[i + 1].d.flags & CKPT_VMA_GROWSDOWN))
			hi = hi > stack_room(p) ? hi - stack_room(p) : 0;
		if (v->d.flags & CKPT_VMA_HEAP)
			lo += 1ull << 30;	/* its brk grows there */
		if (hi < 2 * ps + len || hi - ps - len < lo + ps)
			continue;
		at = hi - ps - len;
		if (align) {
			/* the highest below at with start's offset (unsigned:
			 * at - start wraps by a multiple of align) */
			if (((at - start) & (align - 1)) > at - lo)
				continue;
			at -= (at - start) & (align - 1);
			below = MIN(at - ps, at & ~(pmd - 1));
		} else {
			below = at - ps;
		}
		if (below < lo)
			continue;
		*top = below;
		return at;
	}
	return 0;
}

struct snap *snap_choose(const struct img_proc *p, struct vma_pages *vp, pid_t late)
{
	struct snap *s = xzalloc(sizeof(*s));
	long room = max_map_count() - (long)p->d.nvmas - SNAP_MAP_SLACK;
	uint64_t top = 0, left = 0;
	size_t ps = (size_t)getpagesize();

	s->ps = ps;
	s->shift = xzalloc(p->d.nvmas * sizeof(*s->shift));
	s->sh = xzalloc(GUARD_SNAP_SHADOWS * sizeof(*s->sh));
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->unmap_mu, NULL);
	/* The topmost user mapping (not [vsyscall]) bounds the search. */
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		if (!(p->vmas[i].d.flags & CKPT_VMA_SKIP))
			top = MAX(top, p->vmas[i].d.end);
	for (uint32_t i = 0; i < p->d.nvmas; i++) {
		const struct img_vma *v = &p->vmas[i];
		uint64_t len = v->d.end - v->d.start, at = 0;

		vp[i].frozen = 1;
		if (!shadowable(v, &vp[i], late))
			continue;
		if ((long)s->nsh < room && s->nsh < GUARD_SNAP_SHADOWS) {
			uint64_t align[3];

			alignments(v->d.start, v->d.end, ps, align);
			for (int a = 0; !at; a++) {
				at = place(p, v->d.start, len, align[a], &top, ps);
				if (!align[a])
					break;
			}
		}
		if (!at) {
			left += len;
			continue;
		}
		vp[i].frozen = 0;
		s->shift[i] = (int64_t)(at - v->d.start);
		s->sh[s->nsh] = (struct sshadow){ .orig = v->d.start, .shadow = at, .len = len };
		bitmaps(s, &s->sh[s->nsh++]);
	}
	if (left)
		info("--snapshot: %.1f MiB of memory in mappings past the %ld left under vm.max_map_count (or %d) is read while the process is frozen",
		     left / 1048576.0, room, GUARD_SNAP_SHADOWS);
	debug("snapshot: %zu mappings to move aside", s->nsh);
	return s;
}

const int64_t *snap_shift(const struct snap *s)
{
	return s->shift;
}

/* The VmFlags the image records (not smaps' counts: PM_ANONHUGE up). */
#define FLAG_BITS	(PM_ANONHUGE - 1)

/* The entry of sorted maps that starts at a, or NULL. */
static const struct map_entry *entry_at(const struct map_entry *m, size_t n, uint64_t a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m[mid].start == a)
			return &m[mid];
		if (m[mid].start < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int snap_check_flags(const struct snap *s, const struct img_proc *p, const struct map_entry *pre,
		     pid_t pid)
{
	struct map_entry *post = NULL;
	size_t n = 0;
	int ret = proc_read_maps(pid, &post, &n);

	if (ret < 0)
		return error_errno(ret, "cannot read /proc/%d/smaps", pid);
	for (uint32_t i = 0; i < p->d.nvmas && ret == 0; i++) {
		const struct img_vma *v = &p->vmas[i];
		uint64_t d = (uint64_t)s->shift[i];
		const struct map_entry *e = entry_at(post, n, v->d.start + d);
		/* A shadow is the cut's mapping, but for the MADV_DONTFORK
		 * ckpt gave it (the cut's dc is the one read before). */
		uint32_t mask = d ? FLAG_BITS & ~PM_DONTFORK : FLAG_BITS;

		if (!e || e->end != v->d.end + d) {
			if (d)
				ret = error("the copy of %#lx-%#lx is gone from the process",
					    (unsigned long)v->d.start, (unsigned long)v->d.end);
			continue;	/* changed since the freeze: as read before */
		}
		if ((e->vmflags & mask) != (pre[i].vmflags & mask))
			ret = error("mapping %#lx-%#lx (%s): its VmFlags changed as the dump began (smaps read before the freeze, checked after the release): dump again",
				    (unsigned long)v->d.start, (unsigned long)v->d.end, v->path);
	}
	proc_free_maps(post, n);
	return ret;
}

/* ---------------------------------------------------------------- frozen */


/* A full uffd (kernel accesses fault too) made in the process, ours a
 * copy of it, the guardian's another; the process keeps none. */
static int make_uffd(struct snap *s, struct tracee_set *ts, const struct img_proc *p, int *out)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			    UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP,
	};
	long fd, r;
	int pidfd, ret, u;

	s->j->job_fd = dump_lowest_free_fd(p);	/* a uffd there is ours: it was free */
	ret = inject(ts, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, &fd);
	if (ret == -EPERM || ret == -EACCES)
		return error("--snapshot: the process may not make a userfaultfd that serves its kernel accesses (it needs CAP_SYS_PTRACE, or vm.unprivileged_userfaultfd=1)");
	if (ret < 0)
		return error_errno(ret, "--snapshot: cannot make a userfaultfd in the process");
	s->j->job_fd = (int)fd;
	killpoint("snapshot: uffd made");
	pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	u = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	ret = u < 0 ? -errno : 0;
	if (pidfd >= 0)
		close(pidfd);
	if (ret == 0 && ioctl(u, UFFDIO_API, &api) < 0) {
		ret = -errno;
		if (ret == -EPERM)
			error("--snapshot: ckpt may not follow the process's forks (UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE)");
		else
			error_errno(ret, "--snapshot: the userfaultfd cannot report the process's memory map changes");
	} else if (ret == 0 && (ret = guard_hand_fd(u)) < 0) {
		error_errno(ret, "--snapshot: cannot hand the userfaultfd to the guardian");
	} else if (ret < 0) {
		error_errno(ret, "--snapshot: cannot take the userfaultfd from the process");
	}
	if (inject(ts, SYS_close, (uint64_t)fd, 0, 0, 0, 0, &r) == 0)
		s->j->job_fd = -1;
	killpoint("snapshot: uffd taken");
	if (ret < 0) {
		if (u >= 0)
			close(u);
		return ret;
	}
	*out = u;
	return 0;
}

int snap_begin(struct snap *s, struct tracee_set *ts, const struct img_proc *p)
{
	volatile struct guard_snap *j = guard ? &guard->snap : NULL;
	int uffd = -1, ret;
	uint64_t t = now_ns();

	if (!j)
		return error("--snapshot: there is no guardian, and a kill of ckpt would lose the process's memory");
	s->pid = ts->pid;
	s->live = ts->t[0].tid;
	s->code = ts->code;
	s->j = j;
	/* The journal first: the guardian knows where every shadow will be. */
	j->pid = s->pid;
	j->live = s->live;
	j->code = ts->code;
	j->nev = 0;
	j->job_fd = -1;
	for (size_t k = 0; k < s->nsh; k++)
		j->sh[k] = (struct guard_shadow){ s->sh[k].orig, s->sh[k].shadow, s->sh[k].len, 0 };
	j->nsh = (int)s->nsh;
	j->state = GUARD_SNAP_ON;
	if ((ret = make_uffd(s, ts, p, &uffd)) < 0)
		goto fail;
	debug("snapshot: userfaultfd made, taken and handed to the guardian at %.2f ms", (now_ns() - t) / 1e6);
	s->mm = xzalloc(sizeof(*s->mm));
	s->mm[0] = (struct uspace){ .uffd = uffd };
	s->nmm = 1;
	for (size_t k = 0; k < s->nsh; k++)
		if ((ret = uspace_register(uffd, s->sh[k].orig, s->sh[k].orig + s->sh[k].len)) < 0) {
			if (ret == -EBUSY) {
				ret = error("--snapshot: %#lx-%#lx is registered with another userfaultfd (a lazy restore still giving the process its memory, or the process's own): dump again once it is done, or without --snapshot",
					    (unsigned long)s->sh[k].orig,
					    (unsigned long)(s->sh[k].orig + s->sh[k].len));
				goto fail;
			}
			ret = error_errno(ret, "--snapshot: cannot register %#lx-%#lx with userfaultfd",
					  (unsigned long)s->sh[k].orig,
					  (unsigned long)(s->sh[k].orig + s->sh[k].len));
			goto fail;
		}
	if ((ret = start_reader(s)) < 0)
		goto fail;
	debug("snapshot: registered, reader started at %.2f ms", (now_ns() - t) / 1e6);
	for (size_t k = 0; k < s->nsh; k++) {
		struct sshadow *h = &s->sh[k];
		struct uffdio_range r = { h->shadow, h->len };
		long at;

		uint64_t t0 = now_ns(), t1, t2;

		killpoint("snapshot: mremap next");
		ret = inject(ts, SYS_mremap, h->orig, h->len, h->len,
			     MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, h->shadow, &at);
		if (ret == 0 && (uint64_t)at != h->shadow)
			ret = -EFAULT;
		if (ret < 0) {
			ret = error_errno(ret, "--snapshot: cannot move %#lx-%#lx aside",
					  (unsigned long)h->orig, (unsigned long)(h->orig + h->len));
			goto fail;
		}
		/*
		 * Its REMAP was read (the mremap waited for it), under the
		 * write side of the lock, but the read(2) that completed the
		 * mremap returns before the reader marks the shadow moved: the
		 * read side waits for the reader to be done with it.  Loaded,
		 * the reader was seen descheduled in between: unmarked, the
		 * shadow's pages were neither known present nor given back.
		 */
		t1 = now_ns();
		pthread_rwlock_rdlock(&s->lock);
		at = h->moved;
		pthread_rwlock_unlock(&s->lock);
		if (!at) {
			ret = error("--snapshot: the move of %#lx was not reported", (unsigned long)h->orig);
			goto fail;
		}
		if (ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0) {
			ret = error_errno(errno, "--snapshot: cannot unregister the copy of %#lx",
					  (unsigned long)h->orig);
			goto fail;
		}
		t2 = now_ns();
		/* A fork of the process gets none of it. */
		inject(ts, SYS_madvise, h->shadow, h->len, MADV_DONTFORK, 0, 0, &at);
		debug("snapshot: %#lx (%lu MiB) to %#lx (same offset in a %s): mremap %.2f ms, unregister %.2f ms, MADV_DONTFORK %.2f ms",
		      (unsigned long)h->orig, (unsigned long)(h->len >> 20), (unsigned long)h->shadow,
		      same_offset(h->orig, h->shadow, s->ps), (t1 - t0) / 1e6, (t2 - t1) / 1e6,
		      (now_ns() - t2) / 1e6);
	}
	killpoint("snapshot: moved");
	tracee_inject_end(&ts->t[0]);
	debug("snapshot: %zu mappings moved aside in %.2f ms", s->nsh, (now_ns() - t) / 1e6);
	return 0;
fail:
	snap_end(s, ts);
	tracee_inject_end(&ts->t[0]);
	return ret;
}

/* ---------------------------------------------------------------- the end */

void snap_serve_ready(struct snap *s)
{
	for (size_t k = 0; k < s->nsh; k++)
		if (s->sh[k].moved && read_present(s, &s->sh[k]) < 0)
			warn("cannot read which pages of %#lx are present: all of it goes back",
			     (unsigned long)s->sh[k].orig);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
}

/* Every page present in a shadow back (those the writer passed are). */
static int fill_all(struct snap *s)
{
	uint8_t *buf = xmalloc(FILL_PAGES * s->ps);
	int ret = 0;

	if (!s->ready)
		snap_serve_ready(s);
	for (size_t k = 0; k < s->nsh && ret == 0; k++) {
		struct sshadow *h = &s->sh[k];

		if (!h->moved)
			continue;
		ret = fill_range(s, h, 0, h->len / s->ps, buf, 1);
	}
	free(buf);
	return ret;
}

static void close_all(struct snap *s)
{
	for (size_t i = 0; i < s->nmm; i++)
		if (s->mm[i].uffd >= 0) {
			close(s->mm[i].uffd);
			s->mm[i].uffd = -1;
		}
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->nmm; i++)
		uspace_free(&s->mm[i]);
	for (size_t k = 0; k < s->nsh; k++) {
		free(s->sh[k].present);
		free(s->sh[k].back);
		free(s->sh[k].written);
	}
	free(s->mm);
	free(s->sh);
	free(s->shift);
	pthread_rwlock_destroy(&s->lock);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->unmap_mu);
	free(s);
}

int snap_end(struct snap *s, struct tracee_set *frozen)
{
	volatile struct guard_snap *j = s->j;
	int moved[GUARD_SNAP_SHADOWS] = { 0 }, ret = 0, any = 0;
	uint64_t t = now_ns();

	if (!j) {
		snap_free(s);
		return 0;
	}
	if (s->nmm) {
		killpoint("snapshot: filling");
		ret = fill_all(s);
		if (ret == 0)
			killpoint("snapshot: filled");
		/* The guardian's copies first: a page no one ever had would
		 * otherwise wait for it (the registrations live on). */
		if (ret == 0 && guard_drop_fds() < 0)
			ret = error("cannot have the guardian close its copies of the userfaultfd");
		if (ret < 0) {
			/* Still registered, holes left: the guardian will fill
			 * them once ckpt exits, the process waits meanwhile. */
			stop_reader(s);
			return ret;
		}
		stop_reader(s);
		close_all(s);
	}
	j->state = GUARD_SNAP_FILLED;
	killpoint("snapshot: uffd closed");
	for (size_t k = 0; k < s->nsh; k++)
		any += moved[k] = s->sh[k].moved;
	if (any)
		unmap_shadows(s->pid, s->live, &s->code, frozen, j->sh, (int)s->nsh, moved);
	j->state = GUARD_SNAP_NONE;
	/* the events less our own REMAPs (one per move) */
	if (s->nmm)
		debug("snapshot: %lu faults served, %lu pages given back, %u memory map events; the end took %.1f ms",
		      (unsigned long)s->faults, (unsigned long)s->given,
		      j->nev - (uint32_t)any, (now_ns() - t) / 1e6);
	if (s->unmaps)
		debug("snapshot: %.1f MiB of the copies freed behind the writer in %zu pieces, a thread frozen %.1f ms at most at a time",
		      s->unmapped / 1048576.0, s->unmaps, s->unmap_most / 1e6);
	ret = s->err;
	snap_free(s);
	return ret;
}

/* ---------------------------------------------------------------- guardian */

void snap_rescue(volatile struct guard_snap *j)
{
	struct snap *s;
	const int *fds;
	int nfds = guardian_fds(&fds), moved[GUARD_SNAP_SHADOWS] = { 0 }, any = 0;
	struct tracee_set ts = { 0 };
	uint32_t nev;

	if (j->state == GUARD_SNAP_NONE)
		return;
	s = xzalloc(sizeof(*s));
	s->pid = j->pid;
	s->live = j->live;
	s->code = j->code;
	s->ps = (size_t)getpagesize();
	s->nsh = (size_t)MIN(j->nsh, GUARD_SNAP_SHADOWS);
	s->sh = xzalloc((s->nsh + 1) * sizeof(*s->sh));
	for (size_t k = 0; k < s->nsh; k++) {
		s->sh[k] = (struct sshadow){ .orig = j->sh[k].orig, .shadow = j->sh[k].shadow,
					     .len = j->sh[k].len, .freed = j->sh[k].freed / s->ps };
		bitmaps(s, &s->sh[k]);
	}
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->unmap_mu, NULL);
	if (nfds > 0) {
		s->mm = xzalloc(sizeof(*s->mm));
		s->mm[0] = (struct uspace){ .uffd = fds[0] };
		s->nmm = 1;
		s->forkfds = fds + 1;
		s->nforkfds = (size_t)nfds - 1;
	}
	/* What ckpt read, in order; the last slot may hold one it was at. */
	nev = MIN(j->nev, (uint32_t)GUARD_SNAP_EVENTS - 1);
	for (uint32_t i = 0; i <= nev; i++) {
		struct uffd_msg m;
		size_t mi = (size_t)j->ev[i].mm;

		memcpy(&m, (const void *)&j->ev[i].msg, sizeof(m));
		if ((i == nev && (!m.event || m.event == UFFD_EVENT_PAGEFAULT)) || mi >= MAX(s->nmm, 1))
			continue;
		if (!s->nmm) {	/* no uffd (filled): only whether it moved */
			if (m.event == UFFD_EVENT_REMAP)
				our_remap(s, &m);
			continue;
		}
		on_event(s, mi, &m, m.event == UFFD_EVENT_FORK && s->nextfork < s->nforkfds ?
					    s->forkfds[s->nextfork++] : -1);
	}
	if (s->nmm && start_reader(s) < 0)
		close_all(s);
	/* Stopped, the thread ckpt borrowed is past any mremap of ours (the
	 * reader read its event): which shadows exist is known.  A uffd
	 * still being made in the process is closed there. */
	if (tracee_freeze_lone(s->pid, s->live, &s->code, &ts, TRACEE_PATIENCE_MS, 0) == 0) {
		if (j->job_fd >= 0) {
			char path[64], *link = NULL;
			long r;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", s->pid, j->job_fd);
			if (xreadlink(path, &link) == 0 && !strcmp(link, "anon_inode:[userfaultfd]"))
				inject(&ts, SYS_close, (uint64_t)j->job_fd, 0, 0, 0, 0, &r);
			free(link);
		}
		tracee_inject_end(&ts.t[0]);
		tracee_release(&ts, 0);
	}
	if (s->running) {
		for (size_t k = 0; k < s->nsh; k++) {
			struct uffdio_range r = { s->sh[k].shadow, s->sh[k].len };

			if (s->sh[k].moved)
				ioctl(s->mm[0].uffd, UFFDIO_UNREGISTER, &r);
		}
		if (fill_all(s) < 0)
			warn("guardian: the memory of %d could not all be given back", s->pid);
		else
			debug("guardian: every page of %d given back", s->pid);
		stop_reader(s);
	}
	close_all(s);
	for (size_t k = 0; k < s->nsh; k++)
		any |= moved[k] = s->sh[k].moved;
	if (any)
		unmap_shadows(s->pid, s->live, &s->code, NULL, j->sh, (int)s->nsh, moved);
	j->state = GUARD_SNAP_NONE;
	snap_free(s);
}
