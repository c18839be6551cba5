/* Sorted address ranges (ranges.h). */
#include <stdlib.h>

#include "common/util.h"
#include "restore/ranges.h"

void ranges_add(struct ranges *rs, uint64_t start, uint64_t end)
{
	if (rs->n && rs->r[rs->n - 1].end == start) {
		rs->r[rs->n - 1].end = end;
		return;
	}
	if (rs->n == rs->cap)
		rs->r = xrealloc(rs->r, (rs->cap = rs->cap ? rs->cap * 2 : 64) * sizeof(*rs->r));
	rs->r[rs->n++] = (struct range){ start, end };
	rs->sorted = 0;
}

static int cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void ranges_finish(struct ranges *rs)
{
	size_t k = 0;

	qsort(rs->r, rs->n, sizeof(*rs->r), cmp);
	for (size_t i = 0; i < rs->n; i++) {
		if (k && rs->r[k - 1].end >= rs->r[i].start) {
			rs->r[k - 1].end = MAX(rs->r[k - 1].end, rs->r[i].end);
			continue;
		}
		rs->r[k++] = rs->r[i];
	}
	rs->n = k;
	rs->sorted = 1;
}

int ranges_next(const struct ranges *rs, uint64_t start, uint64_t end, struct range *out)
{
	size_t lo = 0, hi = rs->n;

	if (start >= end)
		return 0;
	/* first range ending after start */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rs->r[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == rs->n || rs->r[lo].start >= end)
		return 0;
	out->start = MAX(start, rs->r[lo].start);
	out->end = MIN(end, rs->r[lo].end);
	return 1;
}

void ranges_free(struct ranges *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}
