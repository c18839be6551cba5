/*
 * This machine's image key: 32 random bytes that only root can read
 * (/var/lib/ckpt/key, mode 0600, in a directory of mode 0700), created
 * on first use.  Root's dumps carry a MAC made with it (image/mac.c); an
 * image whose MAC checks out was written by root's ckpt on a machine with
 * this key.  CKPT_KEY_FILE names another file (tests; several machines
 * sharing one key).  See docs/security.md.
 */
#ifndef CKPT_IMAGE_KEY_H
#define CKPT_IMAGE_KEY_H

#include <stdint.h>

#define CKPT_KEY_LEN	32
#define CKPT_KEY_DEFAULT "/var/lib/ckpt/key"

struct img_key {
	uint8_t k[CKPT_KEY_LEN];
	uint8_t id[16];		/* names the key in an image; reveals nothing of it */
};

/* The key file's path: $CKPT_KEY_FILE, or CKPT_KEY_DEFAULT. */
const char *img_key_path(void);

/*
 * Load the key.  create: make it (and its directory) when there is none.
 * 0; -ENOENT without a message when there is none (or, not creating, the
 * caller may not read it); other -errno after a message saying why the
 * key cannot be used (readable by others, wrong size...).
 */
int img_key_load(struct img_key *key, int create);

/* A process-wide key every img_reader_open() then checks MACs with
 * (NULL: none).  The key must outlive the readers. */
void img_key_set_default(const struct img_key *key);
const struct img_key *img_key_default(void);
/* A process-wide key every img_writer_open() then signs with. */
void img_key_set_signing(const struct img_key *key);
const struct img_key *img_key_signing(void);

/*
 * For a command that reads images (verify, inspect, core): root checks
 * MACs with this machine's key if there is one (a key it cannot trust
 * is an error, said once); others have none to check with.  Sets the
 * default key.  0 or -errno after a message.
 */
int img_key_use_for_reading(void);

#endif
