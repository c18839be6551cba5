/*
 * ckpt core: a standard ELF core file (ET_CORE) made from an image, so that
 * `gdb PROGRAM core` shows the process as it was at the checkpoint, every
 * thread with its backtrace.  The layout follows the kernel's own core
 * dumps (fs/binfmt_elf.c elf_core_dump): ELF header, program headers (one
 * PT_NOTE, then a PT_LOAD per mapping), the notes, then page-aligned
 * memory.  core.c writes the file; core-notes.c makes the notes.
 */
#ifndef CKPT_IMAGE_CORE_H
#define CKPT_IMAGE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/*
 * Write process proc of img to out (a temporary file beside it, mode 0600,
 * renamed over it when complete).  s/payload/have: the section after the
 * metadata, as img_read_meta() returned it; the page data is streamed
 * from r to the end of the image.  0 or -errno, after saying why.
 */
int core_write(struct img_reader *r, const struct img *img, uint32_t proc, const char *out,
	       struct ckpt_section *s, void *payload, int have);

/* The mappings a core describes: all the image restores ([vsyscall] and
 * device memory are not). */
static inline int core_has_vma(const struct img_vma *v)
{
	return !(v->d.flags & CKPT_VMA_SKIP);
}

/* The PT_NOTE contents for p: *buf (malloc'd) and *len. */
void core_notes(const struct img *img, const struct img_proc *p, uint8_t **buf, size_t *len);

/* ckpt core: the core file of the process with PID pid (0: the first) of
 * the image at path, written to out (NULL: core.PID).  0 or -errno after
 * one message. */
int core_export(const char *path, const char *out, long pid);

#endif
