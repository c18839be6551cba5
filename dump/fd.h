/*
 * Reading a process's open files, without running anything in it
 * (dump/fd.c): each descriptor is listed from /proc/PID/fd, descriptors
 * sharing one open file description are grouped (kcmp), and each file is
 * read through a duplicate ckpt takes with pidfd_getfd(2) and through
 * /proc/PID/fdinfo.  What each kind of file holds is read by its hooks
 * (dump/fd-*.c, one family a file), listed in fd_kinds[] (dump/fd.c).
 */
#ifndef CKPT_DUMP_FD_H
#define CKPT_DUMP_FD_H

#include <sys/stat.h>
#include <sys/types.h>

#include "dump/dump.h"

/* One open file description while it is read. */
struct dfile {
	struct img_file *f;	/* what goes into the image */
	int fd;			/* its lowest fd in the process */
	int copy;		/* ckpt's duplicate (pidfd_getfd) */
	int reopened;		/* copy is a new open of the inode, not the
				   process's own open file description */
	char *link;		/* /proc/PID/fd/N */
	char *name;		/* for messages: "fd 5 (LINK)", or for a file
				   only mapped "mapping START-END (PATH)" */
	char *fdinfo;		/* /proc/PID/fdinfo/N */
	struct stat st;		/* of the copy */
	/* Set by the kind when the file cannot be restored exactly: why
	 * ("sockets are not supported yet"), and whether what it connects
	 * to lies outside the image (then fds 0-2 may inherit). */
	const char *cannot;
	int outside;
	/* Set by the kind when the file can be restored but not all it
	 * holds (an inotify instance's unread events): why.  The dump
	 * refuses it unless --allow-lost-fds (then CKPT_FILEF_EVENTS_LOST). */
	const char *lossy;
	const char *lossy_what;	/* what --allow-lost-fds leaves out ("its
				   events" when not set) */
	char what[256];		/* the file in words, for every message */
};

struct fd_dump {
	pid_t pid;		/* a live thread of the process */
	int pidfd, pidfd_thread;	/* of the process, of that thread */
	struct img *img;
	struct img_proc *p;
	struct dfile *files;	/* by id - 1, as img->files */
	uint32_t nfiles;
};

struct fd_kind_dump {
	uint32_t kind;
	/* Fill d->f (state, data, policy) for one file: 0, or -errno after
	 * a message.  A file that cannot be restored sets d->cannot. */
	int (*collect)(struct fd_dump *c, struct dfile *d);
	/* Once all files are read: what ties files together (the ends of
	 * a pipe, epoll registrations).  Called once per kind. */
	int (*link)(struct fd_dump *c);
};

extern const struct fd_kind_dump fd_dump_file, fd_dump_pipe, fd_dump_event, fd_dump_epoll,
	fd_dump_notify, fd_dump_pidfd, fd_dump_proc, fd_dump_unix, fd_dump_inet, fd_dump_tty,
	fd_dump_unsupported;

/* fd-owner.c: F_SETOWN's owner and F_SETSIG's signal, into d->f->d.fown
 * (or d->cannot: an owner outside the image, or a thread) */
void fd_owner_collect(struct fd_dump *c, struct dfile *d);

/* fd-inet.c, for fd-unix.c too: the options of image/sockopt.c's list
 * (but those with a SOCKOPT_* flag in skip) whose value on copy differs
 * from a new socket's (fresh), into out (SOCKOPT_MAX): how many */
uint32_t fd_sockopts_changed(int copy, int fresh, uint32_t skip, struct ckpt_sockopt *out);

/* fd.c: for the kinds */
/* A field of d->fdinfo ("eventfd-count:"), parsed in base: 0 or -ENOENT. */
int fdinfo_u64(const struct dfile *d, const char *key, int base, uint64_t *v);
/* Set (replace) or add to the file's kind state. */
void dfile_set_state(struct dfile *d, const void *st, size_t len);
void dfile_add_state(struct dfile *d, const void *st, size_t len);
__attribute__((format(printf, 2, 3)))
void dfile_what(struct dfile *d, const char *fmt, ...);
/* The file with that kind of each file, in id order: for link hooks. */
#define for_each_dfile(c, d, k) \
	for (struct dfile *d = (c)->files; d < (c)->files + (c)->nfiles; d++) \
		if (d->f->d.kind == (k))

/* fd-lock.c: the locks fd (of file, d its dfile or NULL for a file of
 * another process of the tree) shows in its fdinfo, into c->p->locks once
 * per file; one restore cannot take sets d->cannot.  0 or -errno. */
int fd_collect_locks(struct fd_dump *c, int fd, uint32_t file, const char *fdinfo,
		     struct dfile *d);
/* Once policies are decided: the locks of files not restored exactly go. */
void fd_drop_lost_locks(const struct img *img, struct img_proc *p);

/* fd-tcp.c: an established TCP connection's state, read with TCP_REPAIR
 * (after the ckpt_fd_inet in d's state; the kind becomes CKPT_FD_TCP):
 * 0, or -errno after a message; what cannot be restored sets d->cannot. */
int fd_tcp_collect(struct fd_dump *c, struct dfile *d, const struct ckpt_fd_inet *s);
/* fd-tcp.c: a TCP listener read, with pending connections waiting to be
 * accepted: checked again once locked (a client that connected after it
 * was read would be reset by the kill). */
void fd_tcp_note_listener(const struct fd_dump *c, const struct dfile *d,
			  const struct ckpt_fd_inet *s, uint32_t pending);
/* fd-inet.c: a listener's accept queue (connections waiting) and its
 * maximum (the listen(2) backlog), by inet_diag: 0 or -errno (-ENOENT:
 * not the socket of inode ino). */
int fd_inet_accept_queue(const struct ckpt_fd_inet *s, ino_t ino, uint32_t *pending,
			 uint32_t *max);
/* The image is on disk: killing, put the connections read into repair
 * mode so that the kill drops them silently (an error if one received
 * bytes the image does not hold: then nothing is changed); not killing,
 * forget them.  Killing, connections to a peer outside the image are
 * locked first (common/netlock.h), unless skip_lock (--network-lock=skip):
 * each is named.  0 or -1 after a message (then the lock is gone). */
int fd_tcp_before_kill(const struct img *img, int killing, int skip_lock);
/* The kill is done: the lock stays for the restore (out of the journal). */
void fd_tcp_lock_kept(void);
/* fd-file.c: a further open of a deleted inode (ckpt_fd_ghost.inode_of)
 * whose first one will not be restored (decided before it: lost, or
 * outside) carries the inode itself, read now: 0 or -errno. */
int fd_ghost_recheck(struct fd_dump *c, struct dfile *d);

/* fd-tree.c: the id of the file of another process of the image (a
 * tree) that fd of pid is the same open file description as, else 0. */
uint32_t fd_tree_shared(const struct img *img, const struct img_proc *p, pid_t pid, int fd,
			const char *link);

/* fd-outside.c: the first process outside the image holding each inode
 * (an fd link prefix"ino]", prefix "pipe:["), 0 where none does:
 * holder[i] for ino[i]; mate[i]: the first other process of the image
 * (a tree) holding it. */
int fd_find_holders(const struct fd_dump *c, const char *prefix, const uint64_t *ino, size_t n,
		    pid_t *holder, pid_t *mate);
/* "cat (PID 123)" */
void fd_proc_name(pid_t pid, char *buf, size_t len);

/* fd-mapped.c: the mappings of memfds and deleted files: mapped from the
 * file the image makes again, the FILE of an fd of the image with the
 * same inode, else (no fd holds it) one of its own no FD names
 * (CKPT_FILEF_MAPPED), read through /proc/PID/map_files; what cannot be
 * stays anonymous memory with its contents, said by name.  0 or -errno
 * after a message. */
int fd_dump_mapped(pid_t pid, struct img *img, struct img_proc *p);

/* fd-file.c: a device node deleted while open: its path without
 * " (deleted)", CKPT_FILEF_NODE_DELETED */
void fd_dump_node_deleted(struct dfile *d);
/* fd-tty.c: termios into a terminal's state */
struct termios;
void dump_tty_termios(struct ckpt_fd_tty *s, const struct termios *t);

#endif
