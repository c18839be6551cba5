/*
 * A test hook for the promise that a killed ckpt never harms the process
 * it was dumping (tests/killsafe.bats, docs/kill-safety.md): with
 * CKPT_KILLPOINT=N in the environment, ckpt kills itself with SIGKILL at
 * the Nth kill point it passes; with CKPT_KILLPOINT=NAME, at the first one
 * whose name starts so ("track: uffd moved").  Kill points sit between the steps that
 * change the process (borrowing a thread, each injected syscall, the
 * fork, the userfaultfd, the image file), so a test can hit each one.
 */
#ifndef CKPT_KILLPOINT_H
#define CKPT_KILLPOINT_H

void killpoint(const char *where);
/* How many were passed so far (-vv prints it at the end of a dump). */
long killpoints_passed(void);

#endif
