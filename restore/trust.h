/*
 * Who vouches for an image, and so what root may make of it
 * (docs/security.md).  An image is untrusted input: root gives the
 * process it restores only what the image's owner could have had, unless
 * the image carries a valid MAC made with this machine's key (root's own
 * dumps do) or the caller vouches for it (--trust).
 */
#ifndef CKPT_RESTORE_TRUST_H
#define CKPT_RESTORE_TRUST_H

#include <sys/types.h>

#include "image/chain.h"
#include "image/image.h"
#include "image/key.h"

enum trust_basis {
	TRUST_CALLER,	/* not root: the kernel holds us to our own rights */
	TRUST_VOUCHED,	/* root, --trust: the caller answers for the image */
	TRUST_MAC,	/* root, signed by this machine's key: as it says */
	TRUST_OWNER,	/* root, not signed: only what the file's owner may have */
};

struct trust {
	enum trust_basis basis;
	uid_t owner;		/* TRUST_OWNER: the image file's owner */
	int fill_mac;		/* the page data's MAC is checked as it is filled
				   (a stream): before the process is let go */
	int lazy_digests;	/* restore --lazy checks each parent's MAC over
				   its DIGESTS table as it indexes it, and each
				   block's digest as it reads it (restore/lazy.c) */
	int have_key;
	struct img_key key;
	int is_file;		/* the image is a regular file (stdin too) */
	uid_t file_uid;
	mode_t file_mode;
};

struct restore_opts;

/* Right after img_reader_open: the key, and how the file is read. */
int trust_open(struct trust *t, struct img_reader *r, const struct restore_opts *o);
/* After the metadata: the basis, and every credential checked against
 * it (one line naming what is refused).  Before anything is made. */
int trust_decide(struct trust *t, struct img_reader *r, const struct img *img,
		 const struct restore_opts *o);
/* After the fill, before the process runs: a stream's MAC must hold. */
int trust_check_filled(const struct trust *t, const struct img_reader *r);
/* The parent images (image/chain.h): each one is held to t's basis (t
 * NULL: to none). */
void trust_hold(const struct trust *t, struct chain_hold *h);
/* The image's word is taken (root: signed by this machine's key, or
 * --trust): what the process held may be given back even where its own
 * credentials no longer reach (files it opened before setuid). */
int trust_vouched(const struct trust *t);
/* Root's rights may be used for what the image asks (root, and its word
 * taken); else what the caller, or the owner, could set alone.  t NULL:
 * whether ckpt is root. */
int trust_as_root(const struct trust *t);
/* The image's MAC is what its credentials rest on (root, signed by this
 * machine's key): a MAC holds only for the image as a whole, so every
 * byte must be read and checked before the process runs. */
int trust_vouched_by_mac(const struct trust *t);
/* TRUST_OWNER: the owner's uid. */
uid_t trust_owner(const struct trust *t);
/* Only what the owner could have: privileged plan steps after the ids. */
int trust_owner_rules(const struct trust *t);

#endif
