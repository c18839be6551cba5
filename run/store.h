/*
 * The checkpoint directory of ckpt run and watch:
 *
 *   DIR/ckpt-000017.img   checkpoint 17: a full image, or an incremental
 *                         one whose parent is an earlier checkpoint here
 *   DIR/ckpt-000017.run   what ckpt run knows of it beside the image:
 *                         "stdio 0 1 2", the job's fds that were ckpt's own
 *   DIR/command           the job's command line, NUL-separated: a DIR
 *                         belongs to one job
 *   DIR/lock              flock()ed by the ckpt run that uses DIR
 *
 * Images are written beside their name and renamed when complete and
 * durable (image/write.c), so a name in DIR is always a complete image;
 * what a killed dump left (*.tmpXXXXXX) is removed when DIR is opened.
 */
#ifndef CKPT_RUN_STORE_H
#define CKPT_RUN_STORE_H

#include <stdint.h>
#include <sys/types.h>

struct point {
	unsigned seq;
	unsigned parent;	/* seq of its parent image, 0: a full image */
	uint64_t bytes;		/* of this image alone */
};

struct store {
	char *dir;
	int lockfd;
	struct point *pts;	/* by seq, oldest first */
	size_t n;
	unsigned next;		/* seq of the next checkpoint */
};

/*
 * Open (create) DIR for the job argv (NULL: whatever job DIR holds),
 * lock it and list its checkpoints.  A DIR of another job, or one another
 * ckpt run uses, is refused.  0 or -errno after a message.
 */
int store_open(struct store *st, const char *dir, char *const *argv);
void store_close(struct store *st);
/* The job's command recorded in DIR (a fresh NULL-terminated vector) or NULL. */
char **store_command(const struct store *st);
/* NUL-separated strings from a file (DIR/command, /proc/PID/cmdline) as
 * a NULL-terminated vector, or NULL; store_free_argv() frees it. */
char **store_read_argv(const char *path);
void store_free_argv(char **argv);
/* DIR/ckpt-NNNNNN.img, freshly allocated. */
char *store_path(const struct store *st, unsigned seq);
/* A checkpoint just written: verify it (alone: its parents were checked
 * when they were made) and add it.  0 or -errno after a message. */
int store_add(struct store *st, unsigned seq, unsigned parent);
/* The note beside checkpoint seq: which of the job's fds 0-2 were ckpt
 * run's own (bit n: fd n); read returns -1 when there is none. */
void store_note_write(const struct store *st, unsigned seq, unsigned own_fds);
int store_note_read(const struct store *st, unsigned seq);
/* Forget and delete it (a checkpoint that failed its check). */
void store_drop(struct store *st, unsigned seq);
/* Check checkpoint seq and every image it needs, end to end. */
int store_verify_chain(const struct store *st, unsigned seq);
/*
 * Keep the newest `keep` checkpoints and the images they need (their
 * parents, back to a full image); delete the others.  Only ever called
 * after a new checkpoint was added, so nothing is deleted before a newer
 * checkpoint is complete, durable and verified.
 */
void store_prune(struct store *st, int keep);
/* How many images checkpoint seq needs (itself and its parents). */
unsigned store_chain_len(const struct store *st, unsigned seq);
/* Bytes of the incremental images since its full image, and of that one. */
void store_chain_bytes(const struct store *st, unsigned seq, uint64_t *incr, uint64_t *full);

#endif
