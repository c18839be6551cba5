/*
 * ckpt dump: the process's open files (fd.h).  List the descriptors,
 * group those that share an open file description, read each file
 * through its kind's hooks, then decide how restore makes each one
 * (its policy), refusing what could not be restored unless the user
 * accepted the loss.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"
#include "image/fdkind.h"

static const struct {
	uint32_t kind;
	const struct fd_kind_dump *h;
} fd_kinds[] = {
	{ CKPT_FD_FILE, &fd_dump_file }, { CKPT_FD_DIR, &fd_dump_file },
	{ CKPT_FD_DEVICE, &fd_dump_file }, { CKPT_FD_GHOST, &fd_dump_file },
	{ CKPT_FD_MEMFD, &fd_dump_file }, { CKPT_FD_PATH, &fd_dump_file },
	{ CKPT_FD_PIPE, &fd_dump_pipe }, { CKPT_FD_FIFO, &fd_dump_pipe },
	{ CKPT_FD_OTHER, &fd_dump_unsupported }, { CKPT_FD_SOCKET, &fd_dump_unsupported },
	{ CKPT_FD_UNIX, &fd_dump_unix }, { CKPT_FD_INET, &fd_dump_inet },
	{ CKPT_FD_TTY, &fd_dump_tty }, { CKPT_FD_PTMX, &fd_dump_tty },
	{ CKPT_FD_USERFAULTFD, &fd_dump_unsupported }, { CKPT_FD_IO_URING, &fd_dump_unsupported },
	{ CKPT_FD_EVENTFD, &fd_dump_event }, { CKPT_FD_SIGNALFD, &fd_dump_event },
	{ CKPT_FD_TIMERFD, &fd_dump_event }, { CKPT_FD_EPOLL, &fd_dump_epoll },
	{ CKPT_FD_INOTIFY, &fd_dump_notify }, { CKPT_FD_FANOTIFY, &fd_dump_notify },
	{ CKPT_FD_PIDFD, &fd_dump_pidfd }, { CKPT_FD_PROC, &fd_dump_proc },
};

static const struct fd_kind_dump *hooks(uint32_t kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i].kind == kind)
			return fd_kinds[i].h;
	return &fd_dump_unsupported;
}

int fdinfo_u64(const struct dfile *d, const char *key, int base, uint64_t *v)
{
	size_t klen = strlen(key);

	for (const char *l = d->fdinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, klen)) {
			*v = strtoull(l + klen, NULL, base);
			return 0;
		}
	return -ENOENT;
}

void dfile_set_state(struct dfile *d, const void *st, size_t len)
{
	free(d->f->state);
	d->f->state = xmemdup(st, len);
	d->f->d.state_len = (uint32_t)len;
}

void dfile_add_state(struct dfile *d, const void *st, size_t len)
{
	d->f->state = xrealloc(d->f->state, d->f->d.state_len + len + 1);
	memcpy(d->f->state + d->f->d.state_len, st, len);
	d->f->d.state_len += (uint32_t)len;
}

void dfile_what(struct dfile *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->what, sizeof(d->what), fmt, ap);
	va_end(ap);
}

/* Descriptors as listed, before they are grouped into files. */
struct rawfd {
	int fd;
	uint32_t flags;		/* fdinfo flags, O_CLOEXEC included */
	char *link, *fdinfo;
};

static int cmp_fd(const void *a, const void *b)
{
	return ((const struct rawfd *)a)->fd - ((const struct rawfd *)b)->fd;
}

static int read_one(pid_t pid, int fd, struct rawfd *r)
{
	char path[64], *v;
	int ret;

	r->fd = fd;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if ((ret = xreadlink(path, &r->link)) < 0)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((ret = read_file(path, &r->fdinfo, NULL)) < 0)
		return ret;
	v = strstr(r->fdinfo, "flags:");
	r->flags = v ? (uint32_t)strtoul(v + 6, NULL, 8) : 0;
	return 0;
}

static int list_fds(pid_t pid, const struct img_proc *p, struct rawfd **out, size_t *n)
{
	size_t cap = 16, cnt = 0;
	struct rawfd *r = xzalloc(cap * sizeof(*r));
	struct dirent *de;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(dir = opendir(path)))
		return error_errno(errno, "cannot list open files");
	while ((de = readdir(dir))) {
		int fd = atoi(de->d_name), ret;

		if (de->d_name[0] == '.')
			continue;
		if (cnt == cap)
			r = xrealloc(r, (cap *= 2) * sizeof(*r));
		memset(&r[cnt], 0, sizeof(r[cnt]));
		ret = read_one(pid, fd, &r[cnt]);
		/* ckpt's own dirty tracking is not the program's */
		if (ret == 0 && track_is_ours(p, fd, r[cnt].link))
			ret = -ENOENT;
		if (ret < 0) {
			free(r[cnt].link);
			free(r[cnt].fdinfo);
		}
		if (ret == -ENOENT)	/* closed meanwhile by another process sharing the table */
			continue;
		if (ret < 0) {
			closedir(dir);
			*out = r;
			*n = cnt;
			return error_errno(ret, "cannot read file descriptor %d", fd);
		}
		cnt++;
	}
	closedir(dir);
	qsort(r, cnt, sizeof(*r), cmp_fd);
	*out = r;
	*n = cnt;
	return 0;
}

/*
 * kcmp(2) orders open file descriptions (by an obfuscated pointer): fds
 * sorted with it sit next to those sharing their file, in O(n log n)
 * calls however many anonymous inodes (which all share one inode) the
 * process holds.
 */
struct kcmp_ctx {
	pid_t pid;
	const struct rawfd *r;
	int err;
};

static int cmp_file(const void *a, const void *b, void *arg)
{
	struct kcmp_ctx *k = arg;
	int x = *(const int *)a, y = *(const int *)b;
	long v = syscall(SYS_kcmp, k->pid, k->pid, KCMP_FILE, k->r[x].fd, k->r[y].fd);

	if (v < 0) {
		k->err = errno;
		return x - y;
	}
	return v == 0 ? 0 : v == 1 ? -1 : v == 2 ? 1 : x - y;
}

static int same_file(const struct kcmp_ctx *k, int x, int y)
{
	return syscall(SYS_kcmp, k->pid, k->pid, KCMP_FILE, k->r[x].fd, k->r[y].fd) == 0;
}

/* file[i]: the file id (1...) of fd r[i]; ids in the order of each
 * file's lowest fd. */
static int group(pid_t pid, const struct rawfd *r, size_t n, uint32_t *file, uint32_t *nfiles)
{
	struct kcmp_ctx k = { pid, r, 0 };
	int *idx = xmalloc((n + 1) * sizeof(*idx));
	int *lead = xmalloc((n + 1) * sizeof(*lead));	/* per fd: its file's lowest fd */

	for (size_t i = 0; i < n; i++)
		idx[i] = (int)i;
	qsort_r(idx, n, sizeof(*idx), cmp_file, &k);
	for (size_t i = 0, j; i < n; i = j) {
		int first = idx[i];

		for (j = i + 1; j < n && same_file(&k, idx[i], idx[j]); j++)
			first = MIN(first, idx[j]);
		for (size_t m = i; m < j; m++)
			lead[idx[m]] = first;
	}
	free(idx);
	if (k.err) {
		free(lead);
		return error_errno(k.err, "cannot compare open files (kcmp)");
	}
	*nfiles = 0;
	for (size_t i = 0; i < n; i++)
		file[i] = lead[i] == (int)i ? ++*nfiles : file[lead[i]];
	free(lead);
	return 0;
}

static int is_tty_dev(dev_t rdev)
{
	unsigned maj = major(rdev);

	/* Documentation/admin-guide/devices.txt: 4 tty/ttyS, 5 /dev/tty,
	 * console, ptmx; 136-143 Unix98 pty slaves. */
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

static uint32_t classify_anon(const char *link)
{
	static const struct { const char *name; uint32_t kind; } anon[] = {
		{ "anon_inode:[eventfd]", CKPT_FD_EVENTFD }, { "anon_inode:[signalfd]", CKPT_FD_SIGNALFD },
		{ "anon_inode:[timerfd]", CKPT_FD_TIMERFD }, { "anon_inode:[eventpoll]", CKPT_FD_EPOLL },
		{ "anon_inode:inotify", CKPT_FD_INOTIFY }, { "anon_inode:[fanotify]", CKPT_FD_FANOTIFY },
		{ "anon_inode:[pidfd]", CKPT_FD_PIDFD }, { "anon_inode:[userfaultfd]", CKPT_FD_USERFAULTFD },
		{ "anon_inode:[io_uring]", CKPT_FD_IO_URING },
	};

	for (size_t i = 0; i < ARRAY_SIZE(anon); i++)
		if (!strcmp(link, anon[i].name))
			return anon[i].kind;
	/* Linux 6.9 and later name pidfds after pidfs */
	return !strncmp(link, "pidfd:", 6) ? CKPT_FD_PIDFD : CKPT_FD_OTHER;
}

/* The process's own /proc/PID: "/proc/PID" or "/proc/PID/...". */
static int names_own_proc(pid_t pid, const char *link)
{
	char pre[32];
	size_t n = (size_t)snprintf(pre, sizeof(pre), "/proc/%d", pid);

	return !strncmp(link, pre, n) && (!link[n] || link[n] == '/');
}

/* "net:[4026531833]": a namespace file (nsfs), as /proc/PID/ns/net opens */
static int is_nsfs_link(const char *link, mode_t m)
{
	const char *p = link;

	while (*p >= 'a' && *p <= 'z')
		p++;
	return S_ISREG(m) && p > link && !strncmp(p, ":[", 2) && p[strlen(p) - 1] == ']';
}

static uint32_t classify(const struct fd_dump *c, const struct dfile *d)
{
	mode_t m = d->st.st_mode;

	/* /proc/PID of the process itself, or one of its namespaces: also
	 * by O_PATH (reopened by path, it would name a dead PID) */
	if (names_own_proc(c->pid, d->link) || is_nsfs_link(d->link, m))
		return CKPT_FD_PROC;
	if (d->f->d.flags & O_PATH)
		return CKPT_FD_PATH;
	if (!(m & S_IFMT) || !strncmp(d->link, "anon_inode:", 11) || !strncmp(d->link, "pidfd:", 6))
		return classify_anon(d->link);
	if (!strncmp(d->link, "/proc/", 6) && d->link[6] >= '1' && d->link[6] <= '9')
		return CKPT_FD_OTHER;	/* another process's */
	switch (m & S_IFMT) {
	case S_IFSOCK: {
		int dom = -1;
		socklen_t len = sizeof(dom);

		int proto = -1;

		getsockopt(d->copy, SOL_SOCKET, SO_DOMAIN, &dom, &len);
		getsockopt(d->copy, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
		if (dom == AF_UNIX)
			return CKPT_FD_UNIX;
		if ((dom == AF_INET || dom == AF_INET6) && (proto == IPPROTO_TCP || proto == IPPROTO_UDP))
			return CKPT_FD_INET;
		return CKPT_FD_SOCKET;
	}
	case S_IFIFO:
		return !strncmp(d->link, "pipe:[", 6) ? CKPT_FD_PIPE : CKPT_FD_FIFO;
	case S_IFCHR:
		if (d->st.st_rdev == makedev(5, 2) || !strcmp(d->link, "/dev/pts/ptmx"))
			return CKPT_FD_PTMX;
		return is_tty_dev(d->st.st_rdev) ? CKPT_FD_TTY : CKPT_FD_DEVICE;
	case S_IFBLK:
		return CKPT_FD_DEVICE;
	case S_IFDIR:
		return CKPT_FD_DIR;
	case S_IFREG:
		if (d->st.st_nlink == 0 && !strncmp(d->link, "/memfd:", 7))
			return CKPT_FD_MEMFD;
		return d->st.st_nlink == 0 ? CKPT_FD_GHOST : CKPT_FD_FILE;
	}
	return CKPT_FD_OTHER;
}

/*
 * ckpt's duplicate of the file, the same open file description: through
 * a pidfd of the process.  When the main thread has exited, its own fd
 * table is gone (exit_files): then through a pidfd of the thread ckpt
 * reads (PIDFD_THREAD, Linux 6.9), and failing that the file is opened
 * again through /proc (d->reopened: a new description of the same
 * inode, enough for files and pipes, not for anonymous inodes).
 */
static int take_copy(struct fd_dump *c, struct dfile *d)
{
	char path[64];

	if (c->pidfd >= 0 && (d->copy = (int)syscall(SYS_pidfd_getfd, c->pidfd, d->fd, 0)) >= 0)
		return 0;
	if (c->pidfd < 0 || errno == EBADF) {
		if (c->pidfd_thread < 0)
			c->pidfd_thread = (int)syscall(SYS_pidfd_open, c->pid, 0x80 /* PIDFD_THREAD */);
		if (c->pidfd_thread >= 0 &&
		    (d->copy = (int)syscall(SYS_pidfd_getfd, c->pidfd_thread, d->fd, 0)) >= 0)
			return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, d->fd);
	d->copy = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (d->copy < 0)
		d->copy = open(path, O_PATH | O_CLOEXEC);
	d->reopened = 1;
	return d->copy < 0 ? error_errno(errno, "fd %d (%s): cannot take a copy of it (pidfd_getfd)",
					 d->fd, d->link) : 0;
}

/* Kinds read whole through any open of their inode (d->reopened will do). */
static int by_inode(uint32_t kind)
{
	return kind == CKPT_FD_FILE || kind == CKPT_FD_DIR || kind == CKPT_FD_DEVICE ||
	       kind == CKPT_FD_GHOST || kind == CKPT_FD_MEMFD || kind == CKPT_FD_PATH ||
	       kind == CKPT_FD_PIPE || kind == CKPT_FD_FIFO || kind == CKPT_FD_PROC;
}

/* One file, from its lowest fd r: the common fields, then its kind's. */
static int collect_file(struct fd_dump *c, struct dfile *d, struct rawfd *r)
{
	struct img_file *f = d->f;
	uint64_t pos = 0;
	int ret;

	d->fd = r->fd;
	d->link = r->link;
	d->fdinfo = r->fdinfo;
	r->link = r->fdinfo = NULL;
	d->name = xmalloc(strlen(d->link) + 32);
	sprintf(d->name, "fd %d (%s)", d->fd, d->link);
	if ((ret = take_copy(c, d)) < 0)
		return ret;
	if (fstat(d->copy, &d->st) < 0)
		return error_errno(errno, "fd %d (%s): cannot stat it", r->fd, d->link);
	fdinfo_u64(d, "pos:", 10, &pos);
	f->d.flags = r->flags & ~(uint32_t)O_CLOEXEC;
	f->d.pos = pos;
	f->d.size = S_ISREG(d->st.st_mode) ? (uint64_t)d->st.st_size : 0;
	f->d.dev = d->st.st_dev;
	f->d.ino = d->st.st_ino;
	f->d.rdev = d->st.st_rdev;
	f->d.mtime_ns = (uint64_t)d->st.st_mtim.tv_sec * 1000000000ull +
			(uint64_t)d->st.st_mtim.tv_nsec;
	f->d.mode = d->st.st_mode;
	f->path = xstrdup(d->link);
	f->d.kind = classify(c, d);
	if (d->reopened && !by_inode(f->d.kind)) {
		const struct fd_kind_info *k = fd_kind(f->d.kind);

		dfile_what(d, "%s", k ? k->a : "a file");
		d->cannot = "its main thread has exited, and this kernel cannot hand ckpt the file "
			    "through another thread (pidfd_getfd with PIDFD_THREAD, Linux 6.9)";
		return 0;
	}
	if ((ret = hooks(f->d.kind)->collect(c, d)) == 0)
		fd_owner_collect(c, d);
	return ret;
}

/* The fds of file id that a --lose-fd names. */
static int named_lost(const struct fd_dump *c, uint32_t id, const struct dump_opts *o)
{
	for (int i = 0; i < o->nlose_fds; i++)
		for (uint32_t k = 0; k < c->p->d.nfds; k++)
			if (c->p->fds[k].d.fd == o->lose_fds[i] && c->p->fds[k].d.file == id)
				return 1;
	return 0;
}

/*
 * How restore makes each file.  What cannot be restored: on fds 0-2, when
 * it leads outside the image, ckpt restore's own fd of that number; else
 * lost, if the user accepts it, or the dump is refused by name.
 */
static int decide(struct fd_dump *c, const struct dump_opts *o)
{
	struct dfile *first = NULL;
	char more[256] = "";
	size_t n = 0;

	for (struct dfile *d = c->files; d < c->files + c->nfiles; d++) {
		struct img_file *f = d->f;
		int ret;

		if (!d->cannot && (ret = fd_ghost_recheck(c, d)) < 0)
			return ret;
		if (named_lost(c, f->d.id, o) && !d->cannot)
			d->cannot = "--lose-fd names it";
		if (!d->cannot && f->d.policy == CKPT_FPOL_OUTSIDE)
			debug("fd %d (%s, %s): restore connects it to it again", d->fd, d->link, d->what);
		/* restored without what it held that cannot be: if allowed */
		if (!d->cannot && d->lossy && o->allow_lost_fds) {
			f->d.fflags |= CKPT_FILEF_EVENTS_LOST;
			debug("fd %d (%s, %s): restored without %s (%s)", d->fd, d->link, d->what,
			      d->lossy_what ? d->lossy_what : "its events", d->lossy);
			continue;
		}
		if (!d->cannot && d->lossy)
			d->cannot = d->lossy;
		if (!d->cannot)
			continue;
		if (d->outside && d->fd <= 2 && !named_lost(c, f->d.id, o)) {
			f->d.policy = CKPT_FPOL_INHERIT;
			debug("fd %d (%s, %s): outside the image: restore gives it its own fd %d", d->fd,
			      d->link, d->what, d->fd);
		} else if (o->allow_lost_fds || named_lost(c, f->d.id, o)) {
			f->d.policy = CKPT_FPOL_LOST;
			debug("fd %d (%s, %s): will not be restored (%s)", d->fd, d->link, d->what,
			      d->cannot);
		} else if (!first) {
			first = d;
		} else if (n < sizeof(more) - 16) {
			n += (size_t)snprintf(more + n, sizeof(more) - n, "%s%d", n ? ", " : "", d->fd);
		}
		/* restore makes nothing from the state of what it does not restore */
		free(f->state);
		f->state = NULL;
		f->d.state_len = 0;
		free(f->data);
		f->data = NULL;
		f->d.data_len = 0;
	}
	if (first && first->cannot == first->lossy)
		return error("fd %d (%s, %s): cannot be restored: %s; --allow-lost-fds dumps it "
			     "without %s, --lose-fd %d without it%s%s%s", first->fd, first->link,
			     first->what, first->cannot, first->lossy_what ? first->lossy_what :
			     "its events", first->fd, more[0] ? " (so do fds " : "", more,
			     more[0] ? ")" : "");
	if (first)
		return error("fd %d (%s, %s): cannot be restored: %s; --lose-fd %d or --allow-lost-fds "
			     "dumps without it%s%s%s", first->fd, first->link, first->what, first->cannot,
			     first->fd, more[0] ? " (so do fds " : "", more, more[0] ? ")" : "");
	for (int i = 0; i < o->nlose_fds; i++) {
		uint32_t k = 0;

		while (k < c->p->d.nfds && c->p->fds[k].d.fd != o->lose_fds[i])
			k++;
		if (k == c->p->d.nfds)
			warn("--lose-fd %d: the process has no fd %d", o->lose_fds[i], o->lose_fds[i]);
	}
	return 0;
}

/* A removed cwd the process also holds open (a DIR or PATH of it,
 * removed too, same inode): restore enters that one (CKPT_PROC_CWD_OPEN). */
static void cwd_among_files(pid_t pid, const struct img *img, struct img_proc *p)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (!(p->d.flags & CKPT_PROC_CWD_DELETED) || stat(path, &st) < 0)
		return;
	for (uint32_t i = 0; i < p->d.nfds; i++) {
		const struct img_file *f = img_file(img, p->fds[i].d.file);

		if (f && (f->d.fflags & CKPT_FILEF_DELETED) && f->d.policy == CKPT_FPOL_EXACT &&
		    (f->d.kind == CKPT_FD_DIR || f->d.kind == CKPT_FD_PATH) && f->d.dev == st.st_dev &&
		    f->d.ino == st.st_ino && strlen(f->path) == p->d.cwd_len &&
		    !memcmp(f->path, p->cwd, p->d.cwd_len)) {
			p->d.flags |= CKPT_PROC_CWD_OPEN;
			return;
		}
	}
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], *buf, *t;
	pid_t tgid = tid;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_file(path, &buf, NULL) < 0)
		return tid;
	if ((t = strstr(buf, "\nTgid:")))
		tgid = atoi(t + 6);
	free(buf);
	return tgid;
}

static int collect_all(struct fd_dump *c, struct rawfd *r, size_t n, const struct dump_opts *o)
{
	uint32_t *file = xzalloc((n + 1) * sizeof(*file)), nfiles = 0, nnew = 0;
	/* per file of the process: the id of the same open file description
	 * in another process of the tree (fd-tree.c), else 0 and its index
	 * among the files new to the image */
	uint32_t *shared = NULL, *idx = NULL;
	int ret;

	if ((ret = group(c->pid, r, n, file, &nfiles)) < 0)
		goto out;
	shared = xzalloc((nfiles + 1) * sizeof(*shared));
	idx = xzalloc((nfiles + 1) * sizeof(*idx));
	/* r is in fd order: the first fd of a file met is its lowest */
	for (size_t i = 0; i < n; i++)
		if (!idx[file[i] - 1] && !shared[file[i] - 1] &&
		    !(shared[file[i] - 1] = fd_tree_shared(c->img, c->p, c->pid, r[i].fd, r[i].link)))
			idx[file[i] - 1] = ++nnew;
	c->p->fds = xzalloc((n + 1) * sizeof(*c->p->fds));
	c->p->d.nfds = (uint32_t)n;
	c->files = xzalloc((nnew + 1) * sizeof(*c->files));
	c->nfiles = nnew;
	for (size_t i = 0; i < n; i++)
		c->p->fds[i].d = (struct ckpt_fd){
			.fd = r[i].fd, .fdflags = (r[i].flags & O_CLOEXEC) ? FD_CLOEXEC : 0,
			.file = shared[file[i] - 1] ? shared[file[i] - 1] :
				c->img->nfiles + idx[file[i] - 1],
		};
	for (uint32_t i = 0; i < nnew; i++)
		img_add_file(c->img);
	/* after the last img_add_file: img->files does not move again */
	for (uint32_t i = 0; i < nnew; i++) {
		c->files[i].f = &c->img->files[c->img->nfiles - nnew + i];
		c->files[i].copy = -1;
	}
	/* a copy of each file is held at once, besides ckpt's own and the
	 * threads' /proc files read while frozen (closed after the pause,
	 * ptrace/taskfiles.c: now, where the hard limit leaves no room for
	 * both); the soft limit is put back at the dump's end (dump.c) */
	if (nofile_raise((uint64_t)nnew + 64 + taskfiles_held()) < (uint64_t)nnew + 64 + taskfiles_held())
		taskfiles_close();
	nofile_raise((uint64_t)nnew + 64);
	/* of the thread group: c->pid may be another thread (leader gone) */
	c->pidfd = (int)syscall(SYS_pidfd_open, tgid_of(c->pid), 0);
	for (size_t i = 0; i < n; i++) {
		struct dfile *d;

		if (shared[file[i] - 1])
			continue;
		d = &c->files[idx[file[i] - 1] - 1];
		if (!d->link && (ret = collect_file(c, d, &r[i])) < 0)
			goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++) {
		/* each hook table once, however many kinds it serves */
		size_t k = 0;

		while (k < i && fd_kinds[k].h != fd_kinds[i].h)
			k++;
		if (k == i && fd_kinds[i].h->link && (ret = fd_kinds[i].h->link(c)) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct dfile *d = shared[file[i] - 1] ? NULL : &c->files[idx[file[i] - 1] - 1];

		if ((ret = fd_collect_locks(c, r[i].fd, c->p->fds[i].d.file,
					    r[i].fdinfo ? r[i].fdinfo : d->fdinfo, d)) < 0)
			goto out;
	}
	if ((ret = decide(c, o)) == 0)
		fd_drop_lost_locks(c->img, c->p);
out:
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->pidfd_thread >= 0)
		close(c->pidfd_thread);
	free(file);
	free(shared);
	free(idx);
	return ret;
}

int dump_collect_fds(pid_t pid, struct img *img, struct img_proc *p, const struct dump_opts *o)
{
	struct fd_dump c = { .pid = pid, .img = img, .p = p, .pidfd = -1, .pidfd_thread = -1 };
	struct rawfd *r = NULL;
	size_t n = 0;
	int ret = list_fds(pid, p, &r, &n);

	if (ret == 0)
		ret = collect_all(&c, r, n, o);
	for (uint32_t i = 0; i < c.nfiles; i++) {
		struct dfile *d = &c.files[i];

		if (d->copy >= 0)
			close(d->copy);
		d->f->what = xstrdup(d->what);
		d->f->d.what_len = (uint32_t)strlen(d->what);
		d->f->d.path_len = (uint32_t)strlen(d->f->path ? d->f->path : "");
		if (!d->f->path)
			d->f->path = xstrdup("");
		free(d->link);
		free(d->name);
		free(d->fdinfo);
	}
	for (size_t i = 0; i < n; i++) {
		free(r[i].link);
		free(r[i].fdinfo);
	}
	free(r);
	free(c.files);
	if (ret == 0)
		ret = fd_dump_mapped(pid, img, p);
	if (ret == 0)
		cwd_among_files(pid, img, p);
	return ret;
}
