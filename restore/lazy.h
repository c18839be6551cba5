/*
 * Page data through userfaultfd (restore/lazy.c): the process's private
 * anonymous memory is registered for missing-page faults and ckpt copies
 * the image's blocks in with UFFDIO_COPY, either all of them before the
 * process runs (eager: no page is zeroed first and no fault taken), or
 * while it runs (lazy): a fault is served from the image at once, the
 * rest is filled in the background.
 */
#ifndef CKPT_LAZY_H
#define CKPT_LAZY_H

#include <sys/types.h>

#include "image/image.h"

struct lazy;

/* Whether this ckpt may make a userfaultfd that also serves the kernel's
 * own accesses (no UFFD_USER_MODE_ONLY): the stub, which makes the
 * process's, runs with ckpt's privileges then. */
int lazy_possible(void);

/* Private anonymous memory that has page data: filled through the uffd. */
int lazy_vma(const struct img_vma *v);

/*
 * At the fill trap, uffd being ckpt's copy of the one the stub made:
 * index the page data of the image (in: its reader at its first page
 * section, as img_read_meta left it) and of its parents, write
 * what is not private anonymous memory now, and register the rest.
 * Eager: copy it all in too and close the uffd.  Every block's checksum
 * is checked before its pages are used; each parent is held to t
 * (trust.h).  0 or -errno after a message.
 */
struct trust;
int lazy_begin(struct lazy **out, const char *path, struct img_stream *in, const struct img *img,
	       pid_t pid, int uffd, int eager, const struct trust *t);
/* Lazy: serve faults and fill the rest from threads of ckpt's. */
int lazy_serve(struct lazy *lz);
/* Lazy: the process runs now: the background fill may start (until then
 * only faults are served). */
void lazy_go(struct lazy *lz);
/* Readable once every page is in, or the fill failed. */
int lazy_done_fd(const struct lazy *lz);
/* 1: every page is in (the uffds are closed); 0: not yet; -errno: failed
 * (the process must not run on: the caller kills it). */
int lazy_status(struct lazy *lz);
/* Eager: the huge-page ranges to collapse once the process's own uffd is
 * closed (thp.h; hs: their size). */
struct ranges;
const struct ranges *lazy_huge(const struct lazy *lz, uint64_t *hs);
/* Stop the threads, close everything. */
void lazy_end(struct lazy *lz);

#endif
