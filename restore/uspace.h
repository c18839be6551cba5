/*
 * An address space filled through a userfaultfd while its process runs
 * (restore/lazy.c, dump/snapshot.c): where the pages it had when the fill
 * began are now (its mremaps, UFFD_EVENT_REMAP), and which of them it
 * dropped (munmap, MADV_DONTNEED: UNMAP, REMOVE), which must never be
 * filled: it expects zeros there, or nothing.  Addresses given as "image
 * addresses" are those the pages had when the fill began.
 *
 * Whoever fills must read events under the write side of a lock whose
 * read side each fill holds (lazy.c's comment says why).
 */
#ifndef CKPT_USPACE_H
#define CKPT_USPACE_H

#include <linux/userfaultfd.h>
#include <stddef.h>
#include <stdint.h>

#include "restore/ranges.h"

struct uremap {
	uint64_t from, to, len;
};

struct uspace {
	int uffd;
	struct uremap *remaps;	/* in the order they happened */
	size_t nremaps;
	struct ranges gone;	/* image addresses it dropped */
	int dead;		/* exited, or exec'd */
};

/* Where image address a is now (after the mremaps), for len bytes at
 * most: *cur, and the bytes that move together. */
uint64_t uspace_now_at(const struct uspace *u, uint64_t a, uint64_t len, uint64_t *cur);
/* The image address current address a holds, or 0 for none known. */
uint64_t uspace_image_at(const struct uspace *u, uint64_t a);
/* A REMAP, REMOVE or UNMAP event applied; 0 for any other event. */
int uspace_event(struct uspace *u, const struct uffd_msg *msg, size_t ps);
/* A child's (UFFD_EVENT_FORK, its uffd ufd) from its parent's. */
void uspace_fork(struct uspace *child, const struct uspace *parent, int ufd);
/* len bytes at image address a from src, but what it dropped; pages there
 * already are left.  0, -EAGAIN (an event to read first), -ESRCH (gone),
 * or -errno. */
int uspace_fill(struct uspace *u, uint64_t a, const uint8_t *src, uint64_t len, size_t ps);
/* UFFDIO_COPY of len bytes to current address dst (no translation); pages
 * there already are left, pages of no mapping of the uffd's with no event
 * coming about them skipped.  0, -EAGAIN (an event to read first: never
 * "done" for a range that has just moved), -ESRCH, or -errno. */
int uspace_copy(int uffd, uint64_t dst, const uint8_t *src, uint64_t len, size_t ps);
/* Register [start, end) for missing pages; -ENOTSUP without UFFDIO_COPY. */
int uspace_register(int uffd, uint64_t start, uint64_t end);
/* The zero page at a faulting page no one has data for, or a wake. */
int uspace_zero_or_wake(int uffd, uint64_t page, size_t ps);
void uspace_free(struct uspace *u);

#endif
