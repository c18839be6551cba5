/*
 * Transparent huge pages again after a userfaultfd fill (restore/thp.c).
 *
 * UFFDIO_COPY fills anonymous memory with small pages only (mm/userfaultfd.c
 * mfill_atomic_pte_copy allocates one page at a time): a process that had
 * huge pages (format.h CKPT_VMA_THP) would come back without them.  After
 * the fill, with the uffd gone, MADV_COLLAPSE (Linux 6.1) makes each 2 MiB
 * range that holds stored pages one huge page again, in place.
 */
#ifndef CKPT_THP_H
#define CKPT_THP_H

#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"
#include "restore/ranges.h"

/* The PMD huge page size, or 0 (said once) where the kernel has no
 * transparent huge pages or the administrator turned them off ("never"). */
uint64_t thp_size(void);

/* The huge-page-aligned ranges of v (a THP mapping) that hold any of the
 * npages pages at addr, added to rs (calls in address order). */
void thp_add(struct ranges *rs, const struct img_vma *v, uint64_t addr, uint64_t npages,
	     uint64_t ps, uint64_t hs);

/* madvise(start, len, MADV_COLLAPSE) in the process: 0 or -errno. */
typedef int (*thp_madvise_fn)(void *arg, uint64_t start, uint64_t len);

/* Collapse every range of rs (one call per run, range by range where a
 * run fails), saying how many huge pages were not made again and why
 * (quiet: at -v only).  Never fails: huge pages are speed, not state. */
void thp_collapse(const struct ranges *rs, uint64_t hs, thp_madvise_fn fn, void *arg, int quiet);

/* thp_madvise_fn through process_madvise(2) (CAP_SYS_NICE): arg is a
 * pidfd (int *). */
int thp_process_madvise(void *arg, uint64_t start, uint64_t len);

#endif
