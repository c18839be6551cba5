/* Sorted, disjoint address ranges: the pages a restore still wants from
 * the parent images of an incremental chain. */
#ifndef CKPT_RANGES_H
#define CKPT_RANGES_H

#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t start, end;	/* [start, end) */
};

struct ranges {
	struct range *r;
	size_t n, cap;
	int sorted;
};

void ranges_add(struct ranges *rs, uint64_t start, uint64_t end);
/* Sort and merge; call before ranges_next(). */
void ranges_finish(struct ranges *rs);
/* First part of [start, end) that lies in rs at or after *at, or 0. */
int ranges_next(const struct ranges *rs, uint64_t start, uint64_t end, struct range *out);
void ranges_free(struct ranges *rs);

#endif
