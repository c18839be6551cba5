/* The parent images of an incremental image (image/chain.c). */
#ifndef CKPT_IMAGE_CHAIN_H
#define CKPT_IMAGE_CHAIN_H

#include "image/image.h"

/*
 * What a caller holds each parent to (restore/trust.c), NULL for nothing
 * more than its checksums: opened(arg, r, path, verify) right after its
 * header is read (it may choose the reader's key, or how it reads:
 * verify is 1 on the pass that checks it all, 0 on the one that fills),
 * read(arg, r, path) after its page data.  Each: 0 or -errno after one
 * message.
 */
struct chain_hold {
	int (*opened)(const void *arg, struct img_reader *r, const char *path, int verify);
	int (*read)(const void *arg, const struct img_reader *r, const char *path);
	const void *arg;
};

/* The path of the parent ref names, for the image at child. */
char *chain_parent_path(const char *child, const char *ref);
/* Open the parent of (child_path, child), check that it is the one the
 * child was made from, and read its metadata (img_read_meta's result);
 * *path gets its path (to free) either way. */
int chain_open_parent(const char *child_path, const struct img *child, char **path,
		      struct img_reader *r, struct img *par, struct ckpt_section *s, void **payload,
		      const struct chain_hold *hold, int verify);
/* Each parent is there, is the one its child was made from, and passes
 * what ckpt verify checks (flags: IMG_CHECK_*, image/check.h); messages
 * about one name it ("parent image \"PATH\": ...").  0 or -errno after
 * one message. */
int chain_check(const char *path, const struct img *img, unsigned flags,
		const struct chain_hold *hold);

#endif
