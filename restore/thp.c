/* Transparent huge pages again after a userfaultfd fill (thp.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uapi-compat.h"
#include "common/util.h"
#include "restore/thp.h"


static uint64_t read_size(void)
{
	char *buf = NULL, *sel;
	uint64_t hs = 0;

	if (read_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", &buf, NULL) == 0)
		hs = strtoull(buf, NULL, 10);
	free(buf);
	buf = NULL;
	if (hs && read_file("/sys/kernel/mm/transparent_hugepage/enabled", &buf, NULL) == 0 &&
	    (sel = strchr(buf, '[')) && !strncmp(sel, "[never]", 7)) {
		/* MADV_COLLAPSE ignores the sysfs setting (madvise(2)); the
		 * administrator's "never" is respected here. */
		warn("transparent huge pages are not made again: turned off here "
		     "(/sys/kernel/mm/transparent_hugepage/enabled)");
		hs = 0;
	} else if (!hs) {
		warn("transparent huge pages are not made again: this kernel has none");
	}
	free(buf);
	return hs;
}

uint64_t thp_size(void)
{
	static int known;
	static uint64_t hs;

	if (!known) {
		hs = read_size();
		known = 1;
	}
	return hs;
}

void thp_add(struct ranges *rs, const struct img_vma *v, uint64_t addr, uint64_t npages,
	     uint64_t ps, uint64_t hs)
{
	uint64_t end = addr + npages * ps, a = addr & ~(hs - 1);

	/* Only whole huge pages inside the mapping can be one. */
	for (; a < end; a += hs) {
		if (a < v->d.start || a + hs > v->d.end)
			continue;
		if (rs->n && rs->r[rs->n - 1].end > a)
			continue;
		ranges_add(rs, a, a + hs);
	}
}

void thp_collapse(const struct ranges *rs, uint64_t hs, thp_madvise_fn fn, void *arg, int quiet)
{
	uint64_t total = 0, failed = 0, first = 0, t0 = now_ns();
	int err = 0;

	for (size_t i = 0; i < rs->n; i++) {
		const struct range *r = &rs->r[i];

		total += (r->end - r->start) / hs;
		if (fn(arg, r->start, r->end - r->start) == 0)
			continue;
		/* Which of them: a failed run leaves the rest of it undone
		 * (mm/khugepaged.c madvise_collapse stops on most errors). */
		for (uint64_t a = r->start; a < r->end; a += hs) {
			int ret = fn(arg, a, hs);

			if (ret < 0 && !failed++) {
				first = a;
				err = -ret;
			}
		}
	}
	if (failed && !quiet)
		warn("transparent huge pages: %llu of %llu not made again, the first at %#llx: %s%s",
		     (unsigned long long)failed, (unsigned long long)total,
		     (unsigned long long)first, strerror(err),
		     err == EPERM ? " (process_madvise needs CAP_SYS_NICE)" : "");
	debug("transparent huge pages: %llu of %llu made again in %.1f ms",
	      (unsigned long long)(total - failed), (unsigned long long)total, (now_ns() - t0) / 1e6);
}

int thp_process_madvise(void *arg, uint64_t start, uint64_t len)
{
	struct iovec iov = { (void *)(uintptr_t)start, (size_t)len };

	return syscall(SYS_process_madvise, *(int *)arg, &iov, 1, MADV_COLLAPSE, 0) < 0 ? -errno : 0;
}
