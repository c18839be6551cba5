/*
 * A test hook for the promise that a killed ckpt never harms the process
 * it was dumping (tests/killsafe.bats, docs/kill-safety.md): with
 * CKPT_KILLPOINT=N in the environment, ckpt kills itself with SIGKILL at
 * the Nth kill point it passes; with CKPT_KILLPOINT=NAME, at the first one
 * whose name starts so ("track: uffd moved"); with NAME#K, at the Kth
 * ("restore: thread let go#2").  CKPT_KILLSIG=N sends
 * signal N there instead (SIGINT or SIGTERM: ckpt is to undo what it did
 * and exit).  Kill points sit between the steps that change the process
 * (borrowing a thread, each injected syscall, the fork, the userfaultfd,
 * the image file), so a test can hit each one.
 */
#ifndef CKPT_KILLPOINT_H
#define CKPT_KILLPOINT_H

void killpoint(const char *where);
/* None from now on in this process (the guardian, dump/guard.c: what
 * undoes a killed dump is not itself a subject of the test). */
void killpoints_off(void);
/* How many were passed so far (-vv prints it at the end of a dump). */
long killpoints_passed(void);

#endif
