/* See uspace.h.  The code restore/lazy.c had for its address spaces,
 * shared with dump --snapshot (dump/snapshot.c). */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "common/util.h"
#include "restore/uspace.h"

int uspace_register(int uffd, uint64_t start, uint64_t end)
{
	struct uffdio_register reg = { .range = { start, end - start },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	return (reg.ioctls & (1ull << _UFFDIO_COPY)) ? 0 : -ENOTSUP;
}

/*
 * Whether an event of uffd's address space is not read yet (the kernel's
 * mmap_changing, set under the mmap lock by the change that raises it,
 * cleared once it is read).  A copy meant to say so (EAGAIN), but it looks
 * its mapping up first (mm/userfaultfd.c mfill_atomic, since it takes
 * per-VMA locks): one into a range the process has just moved or unmapped
 * says ENOENT while the event is still on its way, and the range's pages
 * are then elsewhere, not gone.  UFFDIO_WRITEPROTECT tests mmap_changing
 * before anything else (mwriteprotect_range); asked to un-protect a page
 * of memory registered for missing pages only, it changes nothing (ENOENT).
 * Asked under the lock's read side: the reader cannot read the event in
 * between.
 */
static int event_pending(int uffd, uint64_t page, size_t ps)
{
	struct uffdio_writeprotect wp = { .range = { page, ps },
					  .mode = UFFDIO_WRITEPROTECT_MODE_DONTWAKE };

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0 && errno == EAGAIN;
}

int uspace_copy(int uffd, uint64_t dst, const uint8_t *src, uint64_t len, size_t ps)
{
	/* less where one copy would span mappings (mprotect split one: no
	 * event says so), and doubled again past the split */
	uint64_t chunk = len;

	while (len) {
		struct uffdio_copy c = { .dst = dst, .src = (uint64_t)(uintptr_t)src,
					 .len = MIN(chunk, len) };
		uint64_t done = c.len;

		if (ioctl(uffd, UFFDIO_COPY, &c) == 0) {
			chunk = MIN(chunk * 2, len);
		} else {
			done = c.copy > 0 ? (uint64_t)c.copy : 0;
			if (errno == EEXIST) {	/* that page is there (faulted in, or forked) */
				done += ps;
			} else if (errno == ENOENT) {
				/* moved or unmapped, its event not read yet:
				 * never "done" (the moved pages would get
				 * zeros); or more than one mapping (a split
				 * one); or truly none there */
				if (event_pending(uffd, dst, ps))
					return -EAGAIN;
				if (chunk > ps) {
					chunk = MAX(ps, (chunk / 2) & ~(uint64_t)(ps - 1));
					continue;
				}
				done = ps;
			} else if (!done) {
				return -errno;
			}
		}
		dst += done;
		src += done;
		len -= MIN(done, len);
	}
	return 0;
}

uint64_t uspace_now_at(const struct uspace *u, uint64_t a, uint64_t len, uint64_t *cur)
{
	for (size_t i = 0; i < u->nremaps; i++) {
		const struct uremap *r = &u->remaps[i];

		if (a >= r->from && a < r->from + r->len) {
			len = MIN(len, r->from + r->len - a);
			a = r->to + (a - r->from);
		} else if (a < r->from) {
			len = MIN(len, r->from - a);
		}
	}
	*cur = a;
	return len;
}

uint64_t uspace_image_at(const struct uspace *u, uint64_t a)
{
	for (size_t i = u->nremaps; i-- > 0;) {
		const struct uremap *r = &u->remaps[i];

		if (a >= r->to && a < r->to + r->len)
			a = r->from + (a - r->to);
		else if (a >= r->from && a < r->from + r->len)
			return 0;	/* moved away: something new is here */
	}
	return a;
}

int uspace_fill(struct uspace *u, uint64_t a, const uint8_t *src, uint64_t len, size_t ps)
{
	uint64_t start = a, end = a + len;

	while (a < end) {
		struct range g;
		uint64_t stop = end, cur, n;
		int ret;

		if (ranges_next(&u->gone, a, end, &g)) {
			if (g.start == a) {
				a = g.end;
				continue;
			}
			stop = g.start;
		}
		n = uspace_now_at(u, a, stop - a, &cur);
		ret = uspace_copy(u->uffd, cur, src + (a - start), n, ps);
		if (ret < 0)
			return ret;
		a += n;
	}
	return 0;
}

int uspace_event(struct uspace *u, const struct uffd_msg *msg, size_t ps)
{
	switch (msg->event) {
	case UFFD_EVENT_REMAP:
		u->remaps = xrealloc(u->remaps, (u->nremaps + 1) * sizeof(*u->remaps));
		u->remaps[u->nremaps++] = (struct uremap){ msg->arg.remap.from, msg->arg.remap.to,
							   msg->arg.remap.len };
		return 1;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		/* Image addresses of what it drops: page by page (it may have
		 * been put together from moved pieces). */
		for (uint64_t a = msg->arg.remove.start; a < msg->arg.remove.end; a += ps) {
			uint64_t img = uspace_image_at(u, a);

			if (img)
				ranges_add(&u->gone, img, img + ps);
		}
		ranges_finish(&u->gone);
		return 1;
	}
	return 0;
}

void uspace_fork(struct uspace *child, const struct uspace *parent, int ufd)
{
	*child = (struct uspace){ .uffd = ufd };
	child->remaps = xmemdup(parent->remaps, parent->nremaps * sizeof(*parent->remaps));
	child->nremaps = parent->nremaps;
	for (size_t i = 0; i < parent->gone.n; i++)
		ranges_add(&child->gone, parent->gone.r[i].start, parent->gone.r[i].end);
	ranges_finish(&child->gone);
}

int uspace_zero_or_wake(int uffd, uint64_t page, size_t ps)
{
	struct uffdio_zeropage z = { .range = { page, ps } };
	struct uffdio_range w = { page, ps };

	if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) == 0)
		return 0;
	if (errno == EEXIST || errno == ENOENT)
		return ioctl(uffd, UFFDIO_WAKE, &w) < 0 && errno != ENOENT ? -errno : 0;
	return -errno;
}

void uspace_free(struct uspace *u)
{
	free(u->remaps);
	u->remaps = NULL;
	u->nremaps = 0;
	ranges_free(&u->gone);
}
