/*
 * Signing an image that exists (ckpt sign, docs/security.md): checked as
 * ckpt verify checks it, copied with MACs made with a key into a file
 * beside it, checked again there (what is signed is what was checked,
 * even if the original changed meanwhile), given the original's owner and
 * mode, and renamed over it.  Its image id stays: incremental images
 * still find their parents.
 */
#ifndef CKPT_IMAGE_SIGN_H
#define CKPT_IMAGE_SIGN_H

#include "image/key.h"

/*
 * Tests of older readers only: sign as format 2 did (version 2, SHA-256
 * block digests instead of Poly1305-AES tags).  Nothing ckpt's command
 * line or environment can set reaches it: tests/targets/sign_format2.c
 * does.
 */
#define IMG_SIGN_FORMAT2	(1u << 0)

/* Sign the image at path with key (IMG_SIGN_*: flags): 0, or -errno
 * after one message. */
int img_sign_file(const char *path, const struct img_key *key, unsigned flags);

#endif
