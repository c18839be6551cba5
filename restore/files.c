/*
 * The restored process's file descriptors (restore/fd.c) and the files
 * its mappings need.  Everything is opened here, in ckpt, before the
 * fork: a missing or changed file is a clear error while nothing exists
 * yet.  The forked child then only moves descriptors into place
 * (files_install_child).
 * When root restores another user's process, files are opened with that
 * user's filesystem credentials, so the process gets no more access than
 * it had.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/fd.h"
#include "restore/restore.h"
#include "restore/trust.h"

/* An open of path with flags under the credentials in force: the fd,
 * or -errno. */
typedef int open_fn(const char *path, int flags);
static int as_process_or_vouched(open_fn *fn, const char *path, int flags);

static int plain_open(const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

int files_open_path(const char *path, int flags)
{
	return as_process_or_vouched(plain_open, path, flags);
}

/*
 * Whether the file open at fd may be executed with this thread's
 * credentials: faccessat2(2) AT_EACCESS checks with the fsuid and the
 * effective capabilities (glibc's faccessat would use the euid when the
 * kernel has no faccessat2, so the syscall itself).  0 or -errno.
 */
static int may_exec(int fd)
{
	long r = syscall(SYS_faccessat2, fd, "", X_OK, AT_EACCESS | AT_EMPTY_PATH);
	uid_t fsuid = (uid_t)setfsuid((uid_t)-1);
	gid_t g[NGROUPS_MAX];
	struct stat st;
	int n;

	if (r == 0 || errno != ENOSYS)
		return r < 0 ? -errno : 0;
	/* Before Linux 5.8: the permission bits, as the kernel reads them
	 * (fs/namei.c acl_permission_check; no ACLs). */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (fsuid == 0 && geteuid() == 0)
		return S_ISDIR(st.st_mode) || (st.st_mode & 0111) ? 0 : -EACCES;
	if (st.st_uid == fsuid)
		return st.st_mode & S_IXUSR ? 0 : -EACCES;
	n = (int)syscall(SYS_getgroups, NGROUPS_MAX, g);
	if (st.st_gid == (gid_t)setfsgid((gid_t)-1))
		return st.st_mode & S_IXGRP ? 0 : -EACCES;
	for (int i = 0; i < n; i++)
		if (g[i] == st.st_gid)
			return st.st_mode & S_IXGRP ? 0 : -EACCES;
	return st.st_mode & S_IXOTH ? 0 : -EACCES;
}

/* path opened with flags, and executable (searchable) by the credentials
 * in force: the fd, or -errno. */
static int open_exec(const char *path, int flags)
{
	int fd = plain_open(path, flags), err;

	if (fd < 0 || (err = may_exec(fd)) == 0)
		return fd;
	close(fd);
	return err;
}

/* The working directory, walked with the process's credentials. */
static int open_cwd(const struct img_proc *p, struct spawn_fds *sf)
{
	char *cwd = xstrndup(p->cwd, p->d.cwd_len);
	int ret = 0;

	if (p->d.flags & CKPT_PROC_CWD_OPEN)
		return 0;	/* cwd_of_files, once the fds are made */
	if (p->d.flags & CKPT_PROC_CWD_DELETED) {
		/* removed while it was the cwd: an empty one, entered, removed */
		sf->cwd_src = fd_removed_dir(cwd, 0, 0, O_PATH, "working directory");
		free(cwd);
		return sf->cwd_src < 0 ? sf->cwd_src : 0;
	}
	sf->cwd_src = as_process_or_vouched(open_exec, cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sf->cwd_src < 0)
		ret = error_errno(-sf->cwd_src,
				  "working directory \"%s\" cannot be entered with the process's credentials",
				  cwd);
	free(cwd);
	return ret;
}

/* A removed cwd the process held open too (CKPT_PROC_CWD_OPEN): the
 * directory made again for that fd, entered through it. */
static int cwd_of_files(const struct img_proc *p, struct spawn_fds *sf)
{
	char self[64];

	if (!(p->d.flags & CKPT_PROC_CWD_OPEN))
		return 0;
	for (int i = 0; i < sf->nfds; i++) {
		const struct img_file *f = img_file(sf->fr->img, p->fds[i].d.file);

		if (!f || !(f->d.fflags & CKPT_FILEF_DELETED) || sf->src[i] < 0 ||
		    (f->d.kind != CKPT_FD_DIR && f->d.kind != CKPT_FD_PATH) ||
		    strlen(f->path) != p->d.cwd_len || memcmp(f->path, p->cwd, p->d.cwd_len))
			continue;
		snprintf(self, sizeof(self), "/proc/self/fd/%d", sf->src[i]);
		sf->cwd_src = open(self, O_PATH | O_DIRECTORY | O_CLOEXEC);
		return sf->cwd_src < 0 ? error_errno(errno, "cannot enter removed working directory \"%s\" again",
						     f->path) : 0;
	}
	return error("removed working directory \"%.*s\": no descriptor of the process names it, as the "
		     "image says", (int)p->d.cwd_len, p->cwd);
}

/* What files_open() changes of this thread's credentials, to put back. */
struct fs_creds {
	uid_t fsuid;
	gid_t fsgid;
	int ngroups;
	gid_t *groups;		/* NGROUPS_MAX */
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
};

static int capget_self(struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &h, d) < 0 ? -errno : 0;
}

static int capset_self(const struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/*
 * Take the process's filesystem credentials in this thread (raw
 * syscalls: only this thread changes): its groups, fsgid and fsuid, and
 * no effective capability unless its effective uid is 0 (then what the
 * kernel leaves a root with that fsuid, capabilities(7)).  Every step is
 * read back: a file is never opened with anything but these.
 */
static int creds_save(struct fs_creds *saved)
{
	int ret;

	saved->fsuid = (uid_t)setfsuid((uid_t)-1);	/* -1: only reads it */
	saved->fsgid = (gid_t)setfsgid((gid_t)-1);
	saved->groups = xmalloc(NGROUPS_MAX * sizeof(gid_t));
	saved->ngroups = (int)syscall(SYS_getgroups, NGROUPS_MAX, saved->groups);
	if (saved->ngroups < 0 || (ret = capget_self(saved->caps)) < 0) {
		free(saved->groups);
		return error_errno(errno, "cannot read ckpt's own credentials");
	}
	return 0;
}

static int creds_enter(const struct img_proc *p, const struct fs_creds *saved)
{
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3], now[_LINUX_CAPABILITY_U32S_3];
	gid_t *g = xmalloc(NGROUPS_MAX * sizeof(gid_t));
	int ret = 0;

	if (p->d.ngroups > NGROUPS_MAX || syscall(SYS_setgroups, p->d.ngroups, p->groups) < 0 ||
	    syscall(SYS_getgroups, NGROUPS_MAX, g) != (long)p->d.ngroups ||
	    (p->d.ngroups && memcmp(g, p->groups, p->d.ngroups * sizeof(gid_t))))
		ret = error("cannot take the process's groups to open its files");
	free(g);
	if (ret < 0)
		return ret;
	setfsgid(p->d.gid[3]);
	setfsuid(p->d.uid[3]);
	if ((gid_t)setfsgid((gid_t)-1) != p->d.gid[3] || (uid_t)setfsuid((uid_t)-1) != p->d.uid[3])
		return error("cannot take the process's filesystem ids (uid %u, gid %u) to open its files",
			     p->d.uid[3], p->d.gid[3]);
	if (p->d.uid[1] == 0)
		return 0;
	memcpy(none, saved->caps, sizeof(none));
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		none[i].effective = 0;
	if ((ret = capset_self(none)) < 0 || (ret = capget_self(now)) < 0 ||
	    now[0].effective || now[1].effective)
		return error_errno(ret ? ret : EPERM, "cannot drop ckpt's capabilities to open the process's files");
	return 0;
}

static int creds_restore(const struct fs_creds *saved)
{
	int ret = 0;

	/* fsuid first: back at 0 the kernel raises the fs capabilities again. */
	setfsuid(saved->fsuid);
	setfsgid(saved->fsgid);
	if ((uid_t)setfsuid((uid_t)-1) != saved->fsuid || (gid_t)setfsgid((gid_t)-1) != saved->fsgid ||
	    (ret = capset_self(saved->caps)) < 0 ||
	    syscall(SYS_setgroups, saved->ngroups, saved->groups) < 0)
		ret = error_errno(ret ? ret : errno, "cannot return to ckpt's own credentials");
	return ret;
}

static int creds_leave(struct fs_creds *saved)
{
	int ret = creds_restore(saved);

	free(saved->groups);
	saved->groups = NULL;
	return ret;
}

/* While files_open() runs as the process (root restoring): whose
 * credentials, ckpt's own to go back to, and whether the image's word is
 * taken (trust.h). */
static struct {
	const struct img_proc *p;
	struct fs_creds *saved;
	int vouched;
} as;

/*
 * fn with the process's credentials; when they do not allow it (EACCES,
 * EPERM) and the image's word is taken, once more with ckpt's own: a
 * file the process holds but could no longer open (a daemon opens what
 * it needs as root, then becomes a user) is given back as it had it, on
 * root's word only (its ckpt signed the image, or the caller vouches);
 * an image that is only its owner's gets the owner's rights.
 */
static int as_process_or_vouched(open_fn *fn, const char *path, int flags)
{
	int fd = fn(path, flags), ret;

	if ((fd != -EACCES && fd != -EPERM) || !as.saved || !as.vouched)
		return fd;
	if ((ret = creds_restore(as.saved)) < 0)
		return ret;
	fd = fn(path, flags);
	/* Back to the process's: nothing else is opened with ckpt's. */
	if ((ret = creds_enter(as.p, as.saved)) < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (fd >= 0)
		debug("\"%s\": opened with ckpt's credentials (the process's own no longer allow it)",
		      path);
	return fd;
}

int files_with_ckpt_creds(int (*fn)(void *arg), void *arg)
{
	int fd, ret;

	if (!as.saved || !as.vouched)
		return fn(arg);
	if ((ret = creds_restore(as.saved)) < 0)
		return ret;
	fd = fn(arg);
	if ((ret = creds_enter(as.p, as.saved)) < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

static int open_all(const struct img *img, const struct img_proc *p, const struct restore_opts *o,
		    struct spawn_fds *sf, struct fd_restore *share)
{
	int next, ret, maxfd = 2;

	/* First: a refusal comes before any line about the fds. */
	if ((ret = open_cwd(p, sf)) < 0)
		return ret;
	sf->p = p;
	if (share) {
		sf->fr = share;
		sf->fr->p = p;
	} else {
		sf->fr = xzalloc(sizeof(*sf->fr));
		*sf->fr = (struct fd_restore){ .img = img, .p = p, .o = o };
		sf->fr_own = 1;
	}
	if ((ret = fd_restore_open(sf->fr, sf)) < 0 || (ret = cwd_of_files(p, sf)) < 0)
		return ret;
	for (int i = 0; i < sf->nfds; i++)
		maxfd = MAX(maxfd, sf->target[i]);
	sf->base = next = maxfd + 1;
	if ((ret = mapfiles_open(img, p, sf, &next)) < 0)
		return ret;
	sf->exe_src = sf->exe_slot = -1;
	if (!(p->d.flags & CKPT_PROC_NO_EXE)) {
		/* Only a file the process could have executed. */
		sf->exe_src = as_process_or_vouched(open_exec, p->exe, O_RDONLY | O_CLOEXEC);
		if (sf->exe_src < 0) {
			warn("executable \"%s\": %s; /proc/PID/exe will not point to it", p->exe,
			     strerror(-sf->exe_src));
			sf->exe_src = -1;
		} else {
			sf->exe_slot = next++;
		}
	}
	sf->cwd_slot = next++;
	sf->plan_slot = next++;
	return 0;
}

int files_open(const struct img *img, const struct img_proc *p, const struct restore_opts *o,
	       struct spawn_fds *sf, struct fd_restore *share)
{
	int root = geteuid() == 0, ret, ret2;
	struct fs_creds saved;

	memset(sf, 0, sizeof(*sf));
	sf->target = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->src = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->cloexec = xzalloc((p->d.nfds + 1) * sizeof(int));
	sf->map_fd = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_src = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_msg = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->map_pos = xzalloc((p->d.nvmas + 1) * sizeof(int));
	sf->nmaps = (int)p->d.nvmas;
	sf->plan_src = sf->stub_src = sf->exe_src = sf->cwd_src = sf->sock_src = sf->sock_slot = -1;
	sf->exe_slot = sf->cwd_slot = -1;
	sf->ntmp = (int)(p->d.nfds + 5);
	for (uint32_t i = 0; i < p->d.nvmas; i++)
		sf->map_fd[i] = sf->map_src[i] = sf->map_msg[i] = -1;
	/* Root opens them as the process (whose ids trust.c checked). */
	if (root && (ret = creds_save(&saved)) < 0)
		return ret;
	if (root && (ret = creds_enter(p, &saved)) < 0) {
		creds_leave(&saved);
		return ret;
	}
	as.p = p;
	as.saved = root ? &saved : NULL;
	as.vouched = trust_vouched(o->trust);
	ret = open_all(img, p, o, sf, share);
	memset(&as, 0, sizeof(as));
	if (root && (ret2 = creds_leave(&saved)) < 0)
		ret = ret2;
	/* scratch for files_install_child: one per descriptor it installs */
	sf->tmp = xzalloc((size_t)sf->ntmp * sizeof(int));
	return ret;
}

/* The highest number the child fills (async-signal-safe). */
static int slots_top(const struct spawn_fds *sf)
{
	int top = MAX(MAX(sf->exe_slot, sf->cwd_slot), MAX(sf->sock_slot, sf->plan_slot));

	for (int i = 0; i < sf->nfds; i++)
		top = MAX(top, sf->target[i]);
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0)
			top = MAX(top, sf->map_fd[i]);
	if (sf->nextra)
		top = MAX(top, sf->extra_base + sf->nextra - 1);
	return top;
}

/*
 * In the child, between fork and exec: async-signal-safe syscalls only.
 * Every source fd is first copied above everything (so no dup2 clobbers
 * another source), then to its place; everything else is closed.
 */
/* In the child: what failed, for ckpt's message; errno is kept. */
static int failed(struct spawn_fds *sf, const char *what, int fd)
{
	sf->fail = what;
	sf->fail_fd = fd;
	return -1;
}

int files_install_child(struct spawn_fds *sf)
{
	int *tmp = sf->tmp, n = 0, high, i, stub, top;

	/* Above every slot and every source (the mapped files are not among
	 * them: they come on the socket). */
	high = MAX(sf->base, MAX(sf->exe_slot, MAX(sf->sock_slot, sf->plan_slot)) + 1);
	for (i = 0; i < sf->nfds; i++)
		high = MAX(high, sf->src[i] + 1);
	high = MAX(high, MAX(MAX(sf->exe_src, sf->sock_src), MAX(sf->plan_src, sf->stub_src)) + 1);
	for (i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0)
			high = MAX(high, MAX(sf->map_src[i], sf->map_fd[i]) + 1);
	for (i = 0; i < sf->nextra; i++)
		high = MAX(high, MAX(sf->extra_src[i], sf->extra_base + i) + 1);
	high = MAX(high, MAX(sf->cwd_src, slots_top(sf) + 1) + 1);
	/* In the child: the plan sets the process's own limit later (plan.c). */
	if (nofile_raise((uint64_t)(high + sf->ntmp + 1)) < (uint64_t)(high + sf->ntmp + 1)) {
		int last = 0;

		for (i = 0; i < sf->nfds; i++)
			last = MAX(last, sf->target[i]);
		errno = EMFILE;
		return failed(sf, "it and the stub's own need a higher descriptor limit", last);
	}
	/* tmp: targets' sources, exe, socket, plan, stub, the memfds and
	 * shared objects mapped, the other processes' (in order), all
	 * close-on-exec, above every number we are about to fill.  A target
	 * without a source is opened by the process itself (plan). */
#define UP(fd) ((fd) < 0 ? -1 : fcntl((fd), F_DUPFD_CLOEXEC, high))
	for (i = 0; i < sf->nfds; i++)
		if ((tmp[n++] = UP(sf->src[i])) < 0 && sf->src[i] >= 0)
			return failed(sf, "cannot set its file aside above every descriptor to install",
				      sf->target[i]);
	tmp[n++] = UP(sf->exe_src);
	tmp[n++] = UP(sf->cwd_src);
	tmp[n++] = UP(sf->sock_src);
	tmp[n++] = UP(sf->plan_src);
	if ((tmp[n++] = UP(sf->stub_src)) < 0)
		return failed(sf, "cannot set the stub's executable aside above every descriptor to install",
			      -1);
	for (i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0 && (tmp[n++] = UP(sf->map_src[i])) < 0)
			return failed(sf, "cannot set a memfd or shared memory object aside",
				      sf->map_fd[i]);
	for (i = 0; i < sf->nextra; i++)
		if ((tmp[n++] = UP(sf->extra_src[i])) < 0)
			return failed(sf, "cannot set another process's descriptor aside",
				      sf->extra_base + i);
#undef UP
	close_range(0, (unsigned)high - 1, 0);
	/* and whatever ckpt was given above that goes at the exec (5.11) */
	close_range((unsigned)high, ~0u, CLOSE_RANGE_CLOEXEC);
	n = 0;
	for (i = 0; i < sf->nfds; i++, n++)
		if (tmp[n] >= 0 && dup2(tmp[n], sf->target[i]) < 0)
			return failed(sf, "cannot put its file in place", sf->target[i]);
	if (tmp[n] >= 0 && dup2(tmp[n], sf->exe_slot) < 0)
		return failed(sf, "cannot pass the executable to the stub", sf->exe_slot);
	n++;
	if (tmp[n] >= 0 && dup2(tmp[n], sf->cwd_slot) < 0)
		return failed(sf, "cannot pass the working directory to the stub", sf->cwd_slot);
	n++;
	if (tmp[n] >= 0 && dup2(tmp[n], sf->sock_slot) < 0)
		return failed(sf, "cannot pass the socket of the mapped files to the stub", sf->sock_slot);
	n++;
	if (dup2(tmp[n++], sf->plan_slot) < 0)
		return failed(sf, "cannot pass the plan to the stub", sf->plan_slot);
	stub = tmp[n++];
	for (i = 0; i < sf->nmaps; i++)
		if (sf->map_src[i] >= 0 && dup2(tmp[n++], sf->map_fd[i]) < 0)
			return failed(sf, "cannot pass a memfd or shared memory object to the stub",
				      sf->map_fd[i]);
	for (i = 0; i < sf->nextra; i++)
		if (dup2(tmp[n++], sf->extra_base + i) < 0)
			return failed(sf, "cannot pass another process's descriptor to the stub",
				      sf->extra_base + i);
	/*
	 * The stub ELF right above the last slot (close-on-exec is fine for
	 * execveat of an ELF file), then nothing else of ckpt's: every
	 * other descriptor, whatever its number (one ckpt restore was given
	 * at 300, say), is closed here, not only those below high.
	 */
	top = slots_top(sf) + 1;
	if (stub != top && dup3(stub, top, O_CLOEXEC) < 0)
		return failed(sf, "cannot move the stub's program above its descriptors", top);
	if (close_range((unsigned)top + 1, ~0u, 0) < 0)
		return failed(sf, "cannot close ckpt's other descriptors", -1);
	return top;
}

void files_opened(struct spawn_fds *sf)
{
	if (sf->fr)
		fd_restore_done(sf->fr);
}

int files_seal(struct spawn_fds *sf)
{
	return sf->fr ? fd_restore_seal(sf->fr) : 0;
}

void files_close(struct spawn_fds *sf)
{
	/* the sources are the files' (one per file, shared by its fds and
	 * by the processes of a tree): closed by the fd_restore's owner */
	for (uint32_t i = 0; sf->fr_own && sf->fr->src && i < sf->fr->img->nfiles; i++)
		if (sf->fr->src[i] >= 0)
			close(sf->fr->src[i]);
	if (sf->fr_own) {
		fd_restore_free(sf->fr);
		free(sf->fr);
	}
	sf->fr = NULL;
	for (int i = 0; i < sf->nmaps; i++)
		if (sf->map_src && sf->map_src[i] >= 0)
			close(sf->map_src[i]);
	if (sf->exe_src >= 0)
		close(sf->exe_src);
	if (sf->cwd_src >= 0)
		close(sf->cwd_src);
	if (sf->sock_src >= 0)
		close(sf->sock_src);
	if (sf->plan_src >= 0)
		close(sf->plan_src);
	if (sf->stub_src >= 0)
		close(sf->stub_src);
	free(sf->target);
	free(sf->src);
	free(sf->cloexec);
	free(sf->map_fd);
	free(sf->map_src);
	free(sf->map_msg);
	free(sf->map_pos);
	free(sf->msg_files);
	free(sf->tmp);
	free(sf->extra_src);
	free(sf->slot);
	memset(sf, 0, sizeof(*sf));
}
