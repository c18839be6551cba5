/*
 * Page data into the stub process: every PAGES section is checked against
 * the image's mappings, then written with process_vm_writev while the
 * stub waits at its fill trap with the mappings writable.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "ptrace/tracee.h"
#include "restore/restore.h"

int pages_fill(struct img_reader *r, const struct img *img, pid_t pid,
	       struct ckpt_section *s, void *payload, int have)
{
	const uint64_t ps = img->h.page_size;

	while (have > 0) {
		uint64_t at = r->off - s->size - sizeof(*s);
		const struct img_vma *v;
		struct ckpt_pages pg;
		uint64_t len;
		int ret;

		if (s->type != CKPT_SEC_PAGES || s->proc >= img->h.nprocs || s->size < sizeof(pg))
			return error("image is corrupted: unexpected %s section at offset %llu",
				     img_section_name(s->type), (unsigned long long)at);
		memcpy(&pg, payload, sizeof(pg));
		len = s->size - sizeof(pg);
		if (pg.flags & CKPT_PAGES_IN_PARENT)
			return error("incremental images are not supported yet");
		if (pg.codec != CKPT_CODEC_NONE)
			return error("compressed page data is not supported yet");
		v = img_find_vma(&img->procs[s->proc], pg.addr);
		if (len != pg.npages * ps || !v || pg.addr + len > v->d.end ||
		    (v->d.flags & (CKPT_VMA_SKIP | CKPT_VMA_SPECIAL)) ||
		    ((v->d.flags & CKPT_VMA_SHARED) && (v->d.flags & CKPT_VMA_FILE)))
			return error("image is corrupted: page data at offset %llu does not fit its mapping",
				     (unsigned long long)at);
		ret = mem_write(pid, pg.addr, (uint8_t *)payload + sizeof(pg), len);
		if (ret < 0)
			return error_errno(ret, "cannot write memory at %#lx", (unsigned long)pg.addr);
		have = img_read_section(r, s, &payload);
	}
	return have;
}
