/* Turning SIGINT/SIGTERM/SIGHUP into a flag while ckpt holds a process,
 * so that it can put the process back before it exits. */
#ifndef CKPT_SIGGUARD_H
#define CKPT_SIGGUARD_H

void sigguard_install(void);
/* The signal that arrived, or 0. */
int sigguard_fired(void);
/* After cleanup: die of the signal that interrupted us (exit status 128+N). */
void sigguard_reraise(void);

/* ckpt run and watch handle these signals themselves, around the dumps
 * and restores they make: sigguard_install() then does nothing. */
void sigguard_leave_to_caller(void);

/* In a helper thread of ours: every signal blocked, so that a SIGINT or
 * SIGTERM lands on the main thread, whose system calls it interrupts
 * (EINTR) and which looks at sigguard_fired(); the main thread sends it on
 * to a dump's tracing thread while one runs (dump/tracer.c). */
void sigguard_helper_thread(void);

#endif
