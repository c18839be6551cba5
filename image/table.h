/*
 * The page data's index from an image's digest table (format.h DIGESTS),
 * found from the end of the file: what restore --lazy needs before the
 * process runs, read without touching the page data (image/table.c).
 */
#ifndef CKPT_IMAGE_TABLE_H
#define CKPT_IMAGE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "image/format.h"
#include "image/image.h"

struct img_table {
	struct ckpt_digest *e;	/* one per page data section, in file order:
				   the reader's (r->digests), freed with it */
	uint64_t *off;		/* where each section's header is */
	size_t n;
};

/*
 * r: a mapped image whose metadata was read, its first page data section
 * in hand (img_read_meta).  Reads the table, checks it as the reader
 * would have checked it at the end of the walk (the END counts, every
 * entry's header; with a key, MAC_ALL over the table), and leaves r as if
 * it had read the image to its END.  Each section's own header and
 * payload are the caller's to check against its entry before use.
 * 1: t is the index; 0: no table, or not laid out as the writer lays it
 * out (the caller walks the sections instead, which says what is
 * wrong); -errno: cannot read the file.
 */
int img_table_read(struct img_reader *r, struct img_table *t);
void img_table_free(struct img_table *t);

#endif
