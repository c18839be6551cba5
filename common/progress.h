/*
 * A progress line for long work (dump, restore, merge, verify of large
 * images): bytes done, rate and time left, on stderr, redrawn in place a
 * few times a second.  Only when stderr is a terminal, -q and -v were not
 * given and the work has gone on for half a second; the line is cleared
 * when the work ends, so nothing of it stays in a terminal's scrollback
 * and nothing at all reaches a file or a pipe.
 */
#ifndef CKPT_PROGRESS_H
#define CKPT_PROGRESS_H

#include <stdint.h>

/* total: bytes the work will take, 0 if not known. */
void progress_begin(uint64_t total);
/* From any thread. */
void progress_add(uint64_t bytes);
void progress_end(void);
/* ckpt run's checkpoints are background work: never a progress line. */
void progress_disable(void);

#endif
