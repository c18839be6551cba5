/*
 * Pipes and FIFOs: the pipe's size, its buffered bytes (copied with
 * tee(2), which leaves them in the pipe: a dump that does not kill
 * changes nothing), packet boundaries in O_DIRECT mode, and where its
 * ends are: both in the process, one closed, or one in a process outside
 * the image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "dump/fd.h"

static struct ckpt_fd_pipe pipe_state(const struct dfile *d)
{
	struct ckpt_fd_pipe s;

	memcpy(&s, d->f->state, sizeof(s));
	return s;
}

static int pipe_collect(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_pipe s = { .pipe = d->st.st_ino };
	int sz = fcntl(d->copy, F_GETPIPE_SZ);

	(void)c;
	if (sz < 0)
		return error_errno(errno, "fd %d (%s): cannot read the pipe's size", d->fd, d->link);
	s.pipe_size = (uint32_t)sz;
	if (d->f->d.kind == CKPT_FD_FIFO && d->st.st_nlink == 0) {
		char *del = strstr(d->f->path, " (deleted)");

		if (del && !del[10])
			*del = 0;
		d->f->d.fflags |= CKPT_FILEF_DELETED;
	}
	dfile_set_state(d, &s, sizeof(s));
	return 0;
}

/* Any file of the pipe in packet mode (O_DIRECT): its writes were packets. */
static int packet_mode(struct fd_dump *c, uint64_t pipe)
{
	for (struct dfile *d = c->files; d < c->files + c->nfiles; d++)
		if ((d->f->d.kind == CKPT_FD_PIPE || d->f->d.kind == CKPT_FD_FIFO) &&
		    pipe_state(d).pipe == pipe && (d->f->d.flags & O_DIRECT))
			return 1;
	return 0;
}

/*
 * The buffered bytes, copied into a pipe of ckpt's own with tee(2) and
 * read from there.  A read end is opened anew through the magic link
 * (the process may hold only the write end); each read of an O_DIRECT
 * pipe returns one packet.
 */
static int read_buffered(struct fd_dump *c, struct dfile *d)
{
	struct ckpt_fd_pipe s = pipe_state(d);
	int packets = packet_mode(c, s.pipe), rd, tmp[2] = { -1, -1 }, avail = 0, ret = 0;
	size_t got = 0;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->copy);
	rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rd < 0 || ioctl(rd, FIONREAD, &avail) < 0) {
		ret = error_errno(errno, "fd %d (%s): cannot open the pipe to read its buffered bytes",
				  d->fd, d->link);
		goto out;
	}
	if (avail <= 0)
		goto out;
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = error_errno(errno, "cannot make a pipe");
		goto out;
	}
	fcntl(tmp[1], F_SETPIPE_SZ, s.pipe_size);
	if (tee(rd, tmp[1], (size_t)avail, SPLICE_F_NONBLOCK) != avail) {
		ret = error_errno(errno, "fd %d (%s): cannot copy the %d bytes buffered in the pipe",
				  d->fd, d->link, avail);
		goto out;
	}
	close(tmp[1]);
	tmp[1] = -1;
	d->f->data = xmalloc((size_t)avail + 65536);
	while (got < (size_t)avail) {
		ssize_t n = read(tmp[0], d->f->data + got, 65536);

		if (n <= 0) {
			ret = error_errno(n < 0 ? errno : EIO, "fd %d (%s): cannot read the pipe's copy",
					  d->fd, d->link);
			goto out;
		}
		got += (size_t)n;
		if (packets) {
			uint32_t len = (uint32_t)n;

			s.npackets++;
			dfile_add_state(d, &len, sizeof(len));
		}
	}
	d->f->d.data_len = got;
	s.pflags |= CKPT_PIPE_DATA;
	memcpy(d->f->state, &s, sizeof(s));
out:
	if (rd >= 0)
		close(rd);
	if (tmp[0] >= 0)
		close(tmp[0]);
	if (tmp[1] >= 0)
		close(tmp[1]);
	return ret;
}

/* Which ends of pipe the process holds: bit 0 read, bit 1 write. */
static int ends(struct fd_dump *c, uint64_t pipe)
{
	int e = 0;

	for_each_dfile(c, d, CKPT_FD_PIPE)
		if (pipe_state(d).pipe == pipe)
			e |= 1 << ((d->f->d.flags & O_ACCMODE) == O_WRONLY);
	return e;
}

static void describe(struct fd_dump *c, struct dfile *d, pid_t holder, pid_t mate)
{
	const char *end = (d->f->d.flags & O_ACCMODE) == O_WRONLY ? "write" : "read";
	const char *other = (d->f->d.flags & O_ACCMODE) == O_WRONLY ? "read" : "write";
	char who[64];

	if (holder) {
		fd_proc_name(holder, who, sizeof(who));
		dfile_what(d, "the %s end of a pipe shared with %s, outside the image", end, who);
		d->cannot = "the pipe is shared with a process outside the image";
		d->outside = 1;
	} else if (mate) {
		/* made once for the tree (restore/fd-pipe.c, one fd_restore) */
		fd_proc_name(mate, who, sizeof(who));
		dfile_what(d, "the %s end of a pipe shared with %s, another process of the image",
			   end, who);
	} else if (ends(c, pipe_state(d).pipe) == 3) {
		dfile_what(d, "the %s end of a pipe with both ends in the process", end);
	} else {
		dfile_what(d, "the %s end of a pipe whose %s end is closed", end, other);
	}
}

/* The bytes of pipe are in the image already: read with a file of
 * another process of the tree, dumped before this one. */
static int carried(const struct fd_dump *c, uint64_t pipe)
{
	for (uint32_t i = 0; c->nfiles && &c->img->files[i] < c->files[0].f; i++) {
		const struct img_file *f = &c->img->files[i];
		struct ckpt_fd_pipe s;

		if ((f->d.kind != CKPT_FD_PIPE && f->d.kind != CKPT_FD_FIFO) || !f->state ||
		    f->d.state_len < sizeof(s))
			continue;
		memcpy(&s, f->state, sizeof(s));
		if (s.pipe == pipe && (s.pflags & CKPT_PIPE_DATA))
			return 1;
	}
	return 0;
}

static int pipe_link(struct fd_dump *c)
{
	uint64_t *ino = xzalloc((c->nfiles + 1) * sizeof(*ino));
	pid_t *holder = xzalloc((c->nfiles + 1) * sizeof(*holder));
	pid_t *mate = xzalloc((c->nfiles + 1) * sizeof(*mate));
	size_t n = 0;
	int ret = 0;

	/* The first file of each pipe carries its bytes. */
	for (struct dfile *d = c->files; d < c->files + c->nfiles && !ret; d++) {
		uint64_t pipe;
		size_t k = 0;

		if (d->f->d.kind != CKPT_FD_PIPE && d->f->d.kind != CKPT_FD_FIFO)
			continue;
		pipe = pipe_state(d).pipe;
		while (k < n && ino[k] != pipe)
			k++;
		if (k == n) {
			ino[n++] = pipe;
			if (!carried(c, pipe))
				ret = read_buffered(c, d);
		}
	}
	/* Named FIFOs are opened again by path: their other side is
	 * whoever opens it.  An anonymous pipe's is only in the fd tables. */
	n = 0;
	for_each_dfile(c, d, CKPT_FD_PIPE)
		ino[n++] = pipe_state(d).pipe;
	if (ret == 0 && (ret = fd_find_holders(c, "pipe:[", ino, n, holder, mate)) < 0)
		ret = error_errno(ret, "cannot list the other processes' open files");
	n = 0;
	for_each_dfile(c, d, CKPT_FD_PIPE) {
		if (ret == 0)
			describe(c, d, holder[n], mate[n]);
		n++;
	}
	free(ino);
	free(holder);
	free(mate);
	return ret;
}

const struct fd_kind_dump fd_dump_pipe = { .collect = pipe_collect, .link = pipe_link };
