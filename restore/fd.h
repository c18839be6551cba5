/*
 * Making a process's open files again (restore/fd.c) and each kind of
 * file (restore/fd-*.c, one family a file, listed in fd_kinds[] in
 * restore/fd.c).  Most files are made here in ckpt, before the fork, so
 * that whatever is missing is a clear error while nothing exists yet;
 * the forked child moves them to their numbers (files_install_child).
 * Files that must name the restored process (its /proc, a pidfd of
 * itself) are opened by the process itself, in the stub's plan, as is
 * what needs every fd in place first (epoll registrations).
 */
#ifndef CKPT_RESTORE_FD_H
#define CKPT_RESTORE_FD_H

#include <sys/socket.h>

#include "restore/restore.h"

struct fd_pipes;
struct fd_socks;
struct fd_ptys;

struct fd_restore {
	const struct img *img;
	const struct img_proc *p;
	const struct restore_opts *o;
	int *src;		/* by file id - 1: its fd in ckpt, -1: none */
	uint8_t *late;		/* by file id - 1: made by the process itself */
	uint32_t *seals_later;	/* by file id - 1: memfd seals to add once
				   every mapping is made (fd_restore_seal) */
	const struct img_proc **maker;	/* by file id - 1: the process of a tree
					   it was made for first (NULL: none) */
	struct fd_pipes *pipes;	/* fd-pipe.c: the pipes and FIFOs made */
	struct fd_socks *socks;	/* fd-unix.c: sockets made with their peers */
	struct fd_ptys *ptys;	/* fd-tty.c: the ptys made */
};

struct fd_kind_restore {
	/* Make the file in ckpt: a close-on-exec fd, or -errno after a
	 * message.  fd: its lowest number in the process (for messages). */
	int (*open)(struct fd_restore *r, const struct img_file *f, int fd);
	/* When set and true for f: plan_open instead of open. */
	int (*late)(const struct fd_restore *r, const struct img_file *f);
	/* Instead of open: the process opens it itself, at fd target. */
	void (*plan_open)(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			  int target);
	/* Once every fd is in place, in the process (at its lowest fd). */
	void (*plan_after)(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			   int target);
	/* After every file is made, before the fork: drop what only the
	 * making needed (a pipe end the process does not hold). */
	void (*done)(struct fd_restore *r);
};

extern const struct fd_kind_restore fd_restore_file, fd_restore_pipe, fd_restore_event,
	fd_restore_epoll, fd_restore_unix, fd_restore_inet, fd_restore_tty, fd_restore_tcp,
	fd_restore_notify, fd_restore_pidfd, fd_restore_proc;

/* fd.c */
/* A file that no FD names (CKPT_FILEF_MAPPED), made once for the
 * mappings of its inode (restore/mapfiles.c): its fd in ckpt (r->src),
 * or -errno after a message. */
int fd_restore_mapped(struct fd_restore *r, const struct img_file *f);
/* The memfd seals that would have refused the process's own writable
 * shared mappings (F_SEAL_FUTURE_WRITE), added now that every process of
 * the image has made them: 0 or -errno after a message. */
int fd_restore_seal(struct fd_restore *r);
/* For messages about a file made for fd0, its lowest fd: "fd 5", or
 * for a file no fd names (fd0 -1) "mapped only". */
struct fd_label {
	char s[24];
};
struct fd_label fd_label(int fd0);
/* The files of process r->p (the files it shares with a process of the
 * tree opened before are made already); then, once for all, done. */
int fd_restore_open(struct fd_restore *r, struct spawn_fds *sf);
void fd_restore_done(struct fd_restore *r);
void fd_restore_free(struct fd_restore *r);
/* "fd 5" or "fds 5, 7, 9": every fd of the process with file id */
void fd_numbers(const struct img_proc *p, uint32_t id, char *buf, size_t len);

/* fd, its status flags (O_NONBLOCK...) set to f's; else closed, and
 * -errno after a message (fd0: the file's fd in the process). */
int fd_set_status(int fd, const struct img_file *f, int fd0);

/* pidfds of another process or of a thread (restore/fd-pidfd.c): ckpt
 * opens them in the process through its stub once all are made. */
struct pidfd_finish {
	void *arg;
	/* an image PID or thread id as the restored processes see it now;
	 * -1: not made */
	pid_t (*now)(void *arg, pid_t id);
	/* one syscall in the process: 0 and its result, or -errno said */
	int (*syscall)(void *arg, long nr, const uint64_t a[6], long *res, const char *what);
	/* len bytes at addr of the process: 0 or -errno (nothing said) */
	int (*read)(void *arg, uint64_t addr, void *buf, size_t len);
	uint64_t scratch;	/* 64 bytes of the process no one uses any more,
				 * for a syscall's output (its stub's stack) */
};
int fd_pidfd_at_finish(const struct img *img, const struct img_proc *p, const struct ckpt_fd *d);
int fd_pidfd_finish(const struct img *img, const struct img_proc *p, const struct pidfd_finish *o);
/* fd-owner.c: each file's SIGIO owner and signal (CKPT_FOWN_*), set by the
 * process through its stub once every process is made (the same hooks) */
int fd_owner_finish(const struct img *img, const struct img_proc *p, const struct pidfd_finish *o);

/* fd-inet.c, for fd-unix.c too: the n options of image/sockopt.c's list
 * (ckpt_sockopt records at offset at of f's state), set on fd: 0 or
 * -errno after a message */
int fd_sockopts_again(int fd, const struct img_file *f, size_t at, uint32_t n, int fd0);

/* fd-inet.c, for fd-tcp.c: an address of s as a sockaddr; the options
 * the program set, on fd (0 or -errno after a message) */
struct sockaddr_storage;
socklen_t fd_inet_sockaddr(const struct ckpt_fd_inet *s, const uint8_t *a, uint16_t port,
			   struct sockaddr_storage *ss);
int fd_inet_options(int fd, const struct ckpt_fd_inet *s, const struct img_file *f, int fd0);

/* fd-tcp-segment.c, for fd-tcp.c: a bare segment (ACK, with fin a FIN
 * too) from s's peer to s, through a raw socket: 0 or -errno */
/* fd-tcp.c: the process runs: the network lock of its image's
 * connections to peers outside (common/netlock.h) goes, their segments
 * flow again.  A failed restore leaves it, for the next. */
void fd_tcp_unlock(const struct img *img, const char *path);
/* fd-tcp-segment.c: whether the connection's own address is one of this
 * machine's, where fd_tcp_segment may send to (1 or 0). */
int fd_tcp_local(const struct ckpt_fd_inet *s);
int fd_tcp_segment(const struct ckpt_fd_inet *s, uint32_t seq, uint32_t ack, int fin,
		   uint16_t window);

/* fd-lock.c: before anything is made, whether another process holds a
 * lock in the way of one of r->p's (an error naming the file) */
int fd_locks_check(const struct fd_restore *r);

/* fd-file.c: reopen flags */
#define REOPEN_DROP (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)
/* open(2) flags (O_CLOEXEC added) to open again what flags describe */
int fd_reopen_flags(uint32_t flags);

/* fd-ghost.c: a deleted file made again (FILE id r->src, by its state) */
int fd_ghost_open(struct fd_restore *r, const struct img_file *f, int fd0);
/* A removed directory made again, empty, opened with flags and removed
 * again (mode: its permission bits, 0 for 0700; mtime_ns: 0 for now):
 * the fd, or -errno after a message naming it as what ("directory",
 * "working directory"). */
int fd_removed_dir(const char *path, uint32_t mode, uint64_t mtime_ns, int flags, const char *what);

#endif
