/*
 * Pipes and FIFOs.  An anonymous pipe is made once (pipe2), sized,
 * filled with its buffered bytes (packet by packet in O_DIRECT mode),
 * and each file of it gets an end with its own status flags; an end the
 * process did not hold is closed before the process runs, so it sees the
 * same EOF or EPIPE as before.  A FIFO is opened again by path, after a
 * keeper (O_RDWR, which never blocks) makes sure no open waits for a
 * partner; it is refilled only if nobody kept it open meanwhile (then it
 * still holds its bytes).  A FIFO deleted while open is made again, like
 * a deleted file, and deleted again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

struct made_pipe {
	uint64_t pipe;		/* ckpt_fd_pipe.pipe */
	int end[2];		/* pipe: read and write end not handed out yet;
				   FIFO: end[0] is the O_RDWR keeper */
	int ref;		/* an fd of it open until done (maybe handed
				   out): what further files of it reopen */
	char *unlink;		/* a deleted FIFO's path, made for the opens */
};

struct fd_pipes {
	struct made_pipe *p;
	size_t n;
};

static struct ckpt_fd_pipe state(const struct img_file *f)
{
	struct ckpt_fd_pipe s;

	fd_state(f, &s, sizeof(s));
	return s;
}

/* The file of this pipe that carries its bytes, or NULL. */
static const struct img_file *carrier(const struct fd_restore *r, uint64_t pipe)
{
	for (uint32_t i = 0; i < r->img->nfiles; i++) {
		const struct img_file *f = &r->img->files[i];

		if ((f->d.kind == CKPT_FD_PIPE || f->d.kind == CKPT_FD_FIFO) &&
		    f->d.policy == CKPT_FPOL_EXACT && state(f).pipe == pipe &&
		    (state(f).pflags & CKPT_PIPE_DATA))
			return f;
	}
	return NULL;
}

/* The buffered bytes, through a write end wfd (non-blocking meanwhile):
 * each packet with one write in packet mode. */
static int fill(int wfd, const struct img_file *c, int fd0)
{
	struct ckpt_fd_pipe s = state(c);
	int fl = fcntl(wfd, F_GETFL), ret = 0;
	uint64_t at = 0;

	if (fl < 0 || fcntl(wfd, F_SETFL, (fl | O_NONBLOCK) | (s.npackets ? O_DIRECT : 0)) < 0)
		return error_errno(errno, "fd %d (%s): cannot fill the pipe", fd0, c->path);
	for (uint32_t i = 0; ret == 0 && at < c->d.data_len; i++) {
		uint32_t len = (uint32_t)(c->d.data_len - at);

		if (s.npackets)
			memcpy(&len, c->state + sizeof(s) + 4 * i, sizeof(len));
		if (write(wfd, c->data + at, len) != (ssize_t)len)
			ret = error_errno(errno, "fd %d (%s): cannot put its %llu buffered bytes back "
					  "(pipe size %u)", fd0, c->path,
					  (unsigned long long)c->d.data_len, s.pipe_size);
		at += len;
	}
	if (fcntl(wfd, F_SETFL, fl) < 0 && ret == 0)
		ret = error_errno(errno, "fd %d (%s): cannot fill the pipe", fd0, c->path);
	return ret;
}

static int resize(int fd, const struct img_file *f, int fd0)
{
	uint32_t want = state(f).pipe_size;

	if (want && fcntl(fd, F_GETPIPE_SZ) != (int)want && fcntl(fd, F_SETPIPE_SZ, want) < 0)
		return error_errno(errno, "fd %d (%s): cannot make the pipe %u bytes again%s", fd0,
				   f->path, want, errno == EPERM ?
				   " (more than /proc/sys/fs/pipe-max-size needs CAP_SYS_RESOURCE)" : "");
	return 0;
}

static struct made_pipe *find(struct fd_restore *r, uint64_t pipe)
{
	struct fd_pipes *ps = r->pipes;

	for (size_t i = 0; ps && i < ps->n; i++)
		if (ps->p[i].pipe == pipe)
			return &ps->p[i];
	return NULL;
}

static struct made_pipe *add(struct fd_restore *r, uint64_t pipe)
{
	struct fd_pipes *ps = r->pipes ? r->pipes : (r->pipes = xzalloc(sizeof(*ps)));
	struct made_pipe *m;

	ps->p = xrealloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
	m = &ps->p[ps->n++];
	*m = (struct made_pipe){ .pipe = pipe, .end = { -1, -1 }, .ref = -1 };
	return m;
}

static int make_pipe(struct fd_restore *r, const struct img_file *f, int fd0)
{
	const struct img_file *c = carrier(r, state(f).pipe);
	struct made_pipe *m;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno(errno, "fd %d (%s): cannot make a pipe", fd0, f->path);
	if ((ret = resize(p[1], f, fd0)) < 0 || (c && (ret = fill(p[1], c, fd0)) < 0)) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	m = add(r, state(f).pipe);
	m->end[0] = m->ref = p[0];
	m->end[1] = p[1];
	return 0;
}

/* A FIFO's path made again for a FIFO deleted while open (as a deleted
 * file is), beside it if its name is taken now. */
static char *remake_fifo(const struct img_file *f, int fd0)
{
	char *path = xstrdup(f->path);

	if (mkfifo(path, f->d.mode & 07777) == 0)
		return path;
	free(path);
	if (asprintf(&path, "%s.ckpt-fifo-%d", f->path, getpid()) < 0)
		return NULL;
	if (mkfifo(path, f->d.mode & 07777) == 0)
		return path;
	error_errno(errno, "cannot make deleted FIFO \"%s\" (fd %d) again", f->path, fd0);
	free(path);
	return NULL;
}

/* A FIFO made again gets its mode (mkfifo's goes through the umask) and
 * mtime (after the bytes put back into it, which move it). */
static void fifo_attrs(int fd, const struct img_file *f, int fd0)
{
	struct timespec t[2] = { { 0, UTIME_OMIT },
				 { (time_t)(f->d.mtime_ns / 1000000000ull),
				   (long)(f->d.mtime_ns % 1000000000ull) } };

	if (fchmod(fd, f->d.mode & 07777) < 0 || futimens(fd, t) < 0)
		warn("deleted FIFO \"%s\" (fd %d): cannot restore its mode and time (%s)", f->path, fd0,
		     strerror(errno));
}

static int make_fifo(struct fd_restore *r, const struct img_file *f, int fd0)
{
	const struct img_file *c = carrier(r, state(f).pipe);
	char *tmp = (f->d.fflags & CKPT_FILEF_DELETED) ? remake_fifo(f, fd0) : NULL;
	const char *path = tmp ? tmp : f->path;
	struct made_pipe *m;
	int keep, held = 0, ret = 0;
	struct stat st;

	if ((f->d.fflags & CKPT_FILEF_DELETED) && !tmp)
		return -EIO;
	keep = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (keep < 0 || fstat(keep, &st) < 0 || !S_ISFIFO(st.st_mode))
		ret = keep < 0 ? error_errno(errno, "FIFO \"%s\" (fd %d) cannot be reopened", path, fd0) :
		      error("\"%s\" (fd %d) is no longer a FIFO", path, fd0);
	if (ret == 0 && !tmp && ioctl(keep, FIONREAD, &held) == 0 && held > 0)
		info("FIFO \"%s\" (fd %d) still holds %d bytes (kept open outside): they are left as they are",
		     path, fd0, held);
	if (ret == 0)
		ret = resize(keep, f, fd0);
	if (ret == 0 && c && !held)
		ret = fill(keep, c, fd0);
	if (ret == 0 && tmp)
		fifo_attrs(keep, f, fd0);
	if (ret < 0) {
		if (keep >= 0)
			close(keep);
		if (tmp)
			unlink(tmp);
		free(tmp);
		return ret;
	}
	m = add(r, state(f).pipe);
	m->end[0] = m->ref = keep;
	m->unlink = tmp;
	return 0;
}

/* A new open file description of the same pipe, through its magic link. */
static int reopen_end(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_NONBLOCK | O_CLOEXEC);
}

static int pipe_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	int acc = (int)f->d.flags & O_ACCMODE, fd, ret;
	struct made_pipe *m = find(r, state(f).pipe);

	if (!m) {
		ret = f->d.kind == CKPT_FD_FIFO ? make_fifo(r, f, fd0) : make_pipe(r, f, fd0);
		if (ret < 0)
			return ret;
		m = find(r, state(f).pipe);
	}
	if (f->d.kind == CKPT_FD_PIPE && acc != O_RDWR && m->end[acc == O_WRONLY] >= 0) {
		/* the end pipe2 made, handed out once */
		fd = m->end[acc == O_WRONLY];
		m->end[acc == O_WRONLY] = -1;
	} else {
		/* the keeper's or the other end's inode, opened with this
		 * file's mode: a FIFO by path, a second file of an end */
		fd = f->d.kind == CKPT_FD_FIFO ? open(m->unlink ? m->unlink : f->path,
						      acc | O_NONBLOCK | O_CLOEXEC) :
		     reopen_end(m->ref, acc);
	}
	if (fd < 0)
		return error_errno(errno, "fd %d (%s) cannot be made again", fd0, f->path);
	return fd_set_status(fd, f, fd0);
}

/* The ends the process does not hold, the keepers, the names made for
 * deleted FIFOs: gone before the process runs. */
static void pipe_done(struct fd_restore *r)
{
	struct fd_pipes *ps = r->pipes;

	for (size_t i = 0; ps && i < ps->n; i++) {
		for (int e = 0; e < 2; e++)
			if (ps->p[i].end[e] >= 0)
				close(ps->p[i].end[e]);
		if (ps->p[i].unlink)
			unlink(ps->p[i].unlink);
		free(ps->p[i].unlink);
	}
	if (ps)
		free(ps->p);
	free(ps);
	r->pipes = NULL;
}

const struct fd_kind_restore fd_restore_pipe = { .open = pipe_open, .done = pipe_done };
