/*
 * A guardian (guardian.c): a fork of ckpt that outlives it however it
 * dies and undoes, or finishes, what a killed ckpt left half done
 * (dump/guard.c, restore/guard.c).
 */
#ifndef CKPT_GUARDIAN_H
#define CKPT_GUARDIAN_H

#include <sys/types.h>

/* Fork the guardian.  In ckpt: its PID, with *wfd the end of a pipe to
 * close once ckpt is done (its death closes it too), a socket.  In the guardian: 0,
 * once that end is closed everywhere: ckpt is done or gone.  -errno. */
pid_t guardian_fork(int *wfd);

/* ckpt: have the guardian hold a copy of fd from now on (--snapshot's
 * userfaultfds: the process's memory is lost if they close with holes);
 * guardian_drop_fds: it closes every one, and has when this returns.
 * 0 or -errno. */
#define GUARDIAN_FDS_MAX	256
int guardian_send_fd(int wfd, int fd);
int guardian_drop_fds(int wfd);
/* In the guardian: the files it holds, in the order they were sent. */
int guardian_fds(const int **fds);

/* ckpt, before guardian_fork: the guardian keeps fd (-1: none) open until
 * it exits, when it closes every other one of ckpt's (--snapshot's lock,
 * dump/snaplock.c). */
void guardian_keep(int fd);

/* In the guardian of a ckpt that died: wait until every thread of it has
 * let go of what it traced (its exit is over), 300 s at most. */
void guardian_wait_gone(void);

#endif
