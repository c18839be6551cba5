/* Structure-aware mutations of images (fields.c), for mutator.c. */
#ifndef CKPT_FUZZ_FIELDS_H
#define CKPT_FUZZ_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* One whole section of the input: its type and payload, in place. */
struct img_sec {
	uint32_t type;
	uint8_t *payload;
	size_t len;
};

struct img_view {
	uint8_t *header;	/* struct ckpt_header of the first image */
	uint32_t page_size;
	struct img_sec *sec;
	size_t n;		/* > 0 */
};

/* One field of a section (or of the header) set to a value picked for
 * what it is; 1 if one was changed. */
int fields_edit(struct img_view *iv, uint32_t *st);
/* The type or length of a thread's register set; 1 if changed. */
int fields_edit_regset(struct img_view *iv, uint32_t *st);

#endif
