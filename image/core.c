/*
 * Writing a core file (core.h).  Headers and notes first, at offsets
 * computed from the metadata; then the memory, written in place with
 * pwrite, so the image is read once, front to back (a pipe will do), and
 * memory use does not grow with it.  What each PT_LOAD holds follows the
 * kernel's vma_dump_size() (fs/binfmt_elf.c, fs/coredump.c) where the
 * image allows:
 *   - pages the image stores: decoded from its PAGES sections;
 *   - a file mapping's other pages: read from the file, if it is still the
 *     one mapped (size and mtime as at the dump, restore's own test; a
 *     shared mapping's contents are the file as it is).  A read-only file
 *     mapping with nothing stored gets p_filesz 0, as gcore does: gdb
 *     reads such text from the file itself (NT_FILE, the program);
 *   - anonymous memory with nothing stored is all zeros: p_filesz 0, as
 *     the kernel leaves out memory never touched; other pages the image
 *     does not hold are holes in the file (zeros);
 *   - [vdso]: not stored, but the dump records its CRC32C: when ckpt's own
 *     vdso is the same, it is copied from there (gdb then finds the vdso's
 *     symbols and unwind tables); otherwise p_filesz 0.  [vvar]: 0 (the
 *     kernel's VM_IO/VM_PFNMAP rule).  MADV_DONTDUMP and mappings the
 *     dump excluded: 0, their contents are unknown.
 * The file is not fsync'd: it can be made again from the image.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "common/log.h"
#include "common/util.h"
#include "image/codec.h"
#include "image/core.h"
#include "image/crc32c.h"
#include "image/fdkind.h"

enum fill {
	FILL_NONE,		/* zeros where the image holds nothing */
	FILL_FILE,		/* the mapped file's contents */
	FILL_VDSO,		/* ckpt's own vdso, found identical */
	FILL_RECREATED,		/* the data of the memfd or deleted file the
				   image makes again (CKPT_VMA_MEMFD) */
};

struct seg {
	uint64_t off;		/* of the mapping's bytes in the core */
	uint64_t filesz;	/* 0 or the mapping's size */
	enum fill fill;
};

struct core {
	const struct img *img;
	const struct img_proc *p;
	uint32_t proc;
	uint64_t ps;
	struct seg *segs;	/* one per mapping of p, in its order */
	uint32_t nload;		/* PT_LOADs: mappings with core_has_vma() */
	int fd;
	char *tmp;		/* the file being written, renamed at the end */
	const char *out;
	uint8_t *buf;		/* CKPT_MAX_BLOCK bytes: decoded pages, file copies */
	const char *warned;	/* the last mapped file warned about */
};

/*
 * ckpt's vdso, if it is the one in the image: same size and the CRC32C the
 * dump recorded.  A vdso is a whole ELF file mapped from its start, ending
 * with its section headers (arch/x86/entry/vdso/vdso2c.h,
 * arch/arm64/kernel/vdso.c map it page by page), so its mapping's size is
 * known without reading /proc/self/maps and nothing past it is read.
 */
static const void *own_vdso(const struct img_vma *v, uint64_t ps)
{
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	uint64_t len = v->d.end - v->d.start;

	if (!eh || ALIGN_UP(eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize, ps) != len ||
	    crc32c(0, eh, (size_t)len) != v->d.crc)
		return NULL;
	return eh;
}

static void plan(struct core *c, struct seg *sg, const struct img_vma *v)
{
	sg->filesz = v->d.end - v->d.start;
	sg->fill = FILL_NONE;
	if (v->d.flags & CKPT_VMA_VDSO) {
		if (own_vdso(v, c->ps))
			sg->fill = FILL_VDSO;
		else
			sg->filesz = 0;
	} else if ((v->d.flags & (CKPT_VMA_SPECIAL | CKPT_VMA_EXCLUDED)) ||
		   (v->d.madv & CKPT_MADV_DONTDUMP)) {
		sg->filesz = 0;
	} else if (v->d.flags & CKPT_VMA_MEMFD) {
		sg->fill = FILL_RECREATED;
	} else if (v->d.flags & CKPT_VMA_FILE) {
		if (!(v->d.prot & PROT_WRITE) && !v->d.npages)
			sg->filesz = 0;
		else
			sg->fill = FILL_FILE;
	} else if (!v->d.npages) {
		sg->filesz = 0;
	}
}

static int put_at(struct core *c, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(c->fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_errno(n < 0 ? errno : EIO, "cannot write \"%s\"", c->tmp);
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* ELF header and program headers, with libelf; they end before notes_off. */
static int put_headers(struct core *c, uint64_t notes_off, size_t notes_len)
{
	GElf_Phdr ph = { .p_type = PT_NOTE, .p_offset = notes_off, .p_filesz = notes_len,
			 .p_align = 4 };
	GElf_Ehdr eh;
	Elf *e;
	int k = 0;

	if (elf_version(EV_CURRENT) == EV_NONE || !(e = elf_begin(c->fd, ELF_C_WRITE, NULL)))
		return error("libelf: %s", elf_errmsg(-1));
	if (!gelf_newehdr(e, ELFCLASS64) || !gelf_getehdr(e, &eh))
		goto fail;
	/* fill_elf_header(): little-endian (the image's byte order and both
	 * arches'), ELFOSABI_NONE, ET_CORE, the view's e_machine. */
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = ARCH_ELF_MACHINE;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_phoff = sizeof(Elf64_Ehdr);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	if (!gelf_update_ehdr(e, &eh) || !gelf_newphdr(e, c->nload + 1) ||
	    !gelf_update_phdr(e, k++, &ph))
		goto fail;
	for (uint32_t i = 0; i < c->p->d.nvmas; i++) {
		const struct img_vma *v = &c->p->vmas[i];

		if (!core_has_vma(v))
			continue;
		ph = (GElf_Phdr){
			.p_type = PT_LOAD,
			.p_flags = ((v->d.prot & PROT_READ) ? PF_R : 0) |
				   ((v->d.prot & PROT_WRITE) ? PF_W : 0) |
				   ((v->d.prot & PROT_EXEC) ? PF_X : 0),
			.p_offset = c->segs[i].off,
			.p_vaddr = v->d.start,
			.p_filesz = c->segs[i].filesz,
			.p_memsz = v->d.end - v->d.start,
			.p_align = c->ps,
		};
		if (!gelf_update_phdr(e, k++, &ph))
			goto fail;
	}
	/* Our offsets, not libelf's: it writes the headers and nothing else. */
	elf_flagelf(e, ELF_C_SET, ELF_F_LAYOUT);
	if (elf_update(e, ELF_C_WRITE) < 0)
		goto fail;
	elf_end(e);
	return 0;
fail:
	k = error("cannot write the ELF headers of \"%s\": %s", c->out, elf_errmsg(-1));
	elf_end(e);
	return k;
}

static uint64_t mtime_ns(const struct stat *sb)
{
	return (uint64_t)sb->st_mtim.tv_sec * 1000000000ull + (uint64_t)sb->st_mtim.tv_nsec;
}

/* The file's bytes under mapping v.  Pages past the file's end (which
 * would fault in the process) stay zeros. */
static int fill_file(struct core *c, const struct seg *sg, const struct img_vma *v)
{
	uint64_t done = 0, fsize;
	struct stat sb;
	int fd, ret = 0;

	fd = open(v->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0 ||
	    (!(v->d.flags & CKPT_VMA_SHARED) &&
	     ((uint64_t)sb.st_size != v->d.fsize || mtime_ns(&sb) != v->d.mtime_ns))) {
		if (!c->warned || strcmp(c->warned, v->path))
			warn("mapped file \"%s\" %s: its pages the image does not hold are zeros in the core",
			     v->path, fd < 0 ? strerror(errno) : "has changed since the dump");
		c->warned = v->path;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fsize = (uint64_t)sb.st_size;
	while (ret == 0 && done < sg->filesz && v->d.pgoff + done < fsize) {
		size_t n = (size_t)MIN(MIN((uint64_t)CKPT_MAX_BLOCK, sg->filesz - done),
				       fsize - v->d.pgoff - done);

		ret = pread_all(fd, c->buf, n, (off_t)(v->d.pgoff + done));
		if (ret < 0)
			ret = error_errno(ret, "cannot read \"%s\"", v->path);
		else
			ret = put_at(c, c->buf, n, sg->off + done);
		done += n;
	}
	close(fd);
	return ret;
}

/*
 * A mapping of a memfd or deleted file the image carries: its bytes from
 * the FILE's data (one extent from 0, or a GHOST's extents: holes stay
 * zeros), the process's own copies laid over them afterwards.
 */
static int fill_recreated(struct core *c, const struct seg *sg, const struct img_vma *v)
{
	const uint64_t lo = v->d.pgoff, hi = v->d.pgoff + sg->filesz;

	for (uint32_t k = 0; k < c->img->nfiles; k++) {
		const struct img_file *f = &c->img->files[k];
		struct ckpt_fd_ghost g = { 0 };
		uint64_t at = 0;

		if (f->d.kind == CKPT_FD_GHOST && f->d.state_len)
			fd_state(f, &g, sizeof(g));
		if ((f->d.kind != CKPT_FD_MEMFD && f->d.kind != CKPT_FD_GHOST) || g.inode_of ||
		    f->d.dev != v->d.dev || f->d.ino != v->d.ino || !f->data)
			continue;
		for (uint32_t e = 0; e < (f->d.state_len ? g.nextents : 1); e++) {
			struct ckpt_extent x = { 0, f->d.data_len };
			uint64_t a, b;
			int ret;

			if (f->d.state_len)
				memcpy(&x, f->state + sizeof(g) + e * sizeof(x), sizeof(x));
			a = MAX(x.offset, lo);
			b = MIN(x.offset + x.len, hi);
			if (a < b && (ret = put_at(c, f->data + at + (a - x.offset), (size_t)(b - a),
						   sg->off + (a - lo))) < 0)
				return ret;
			at += x.len;
		}
		return 0;
	}
	return 0;
}

/* Memory that is not in the image: mapped files, the vdso. */
static int fill_unstored(struct core *c)
{
	int ret = 0;

	for (uint32_t i = 0; i < c->p->d.nvmas && !ret; i++) {
		const struct img_vma *v = &c->p->vmas[i];
		const struct seg *sg = &c->segs[i];

		if (sg->fill == FILL_FILE)
			ret = fill_file(c, sg, v);
		else if (sg->fill == FILL_RECREATED)
			ret = fill_recreated(c, sg, v);
		else if (sg->fill == FILL_VDSO)
			ret = put_at(c, own_vdso(v, c->ps), sg->filesz, sg->off);
	}
	return ret;
}

/* One PAGES block of our process into place.  at: its offset, for messages. */
static int put_block(struct core *c, const struct ckpt_pages *pg, const void *data, size_t len,
		     uint64_t at)
{
	uint64_t raw = (uint64_t)pg->npages * c->ps;
	const struct img_vma *v = img_find_vma(c->p, pg->addr);
	const struct seg *sg;

	if (pg->flags & CKPT_PAGES_IN_PARENT)
		return error("incremental images are not supported yet");
	/* lengths compared, not ends: addr + raw may wrap past 2^64 */
	if (!pg->npages || raw > CKPT_MAX_BLOCK || pg->addr % c->ps || !v ||
	    raw > v->d.end - pg->addr)
		return error("image is corrupted: page data at offset %llu does not fit its mapping",
			     (unsigned long long)at);
	sg = &c->segs[v - c->p->vmas];
	if (!sg->filesz && ((v->d.flags & CKPT_VMA_EXCLUDED) || (v->d.madv & CKPT_MADV_DONTDUMP)))
		return 0;
	if (!sg->filesz)
		return error("image is corrupted: page data at offset %llu for a mapping said to have none",
			     (unsigned long long)at);
	if (codec_decode(pg->codec, data, len, c->buf, (size_t)raw) < 0)
		return error("image is corrupted: %s page data at offset %llu does not decode",
			     codec_name(pg->codec), (unsigned long long)at);
	return put_at(c, c->buf, (size_t)raw, sg->off + (pg->addr - v->d.start));
}

/* The image's page data, to its END: 0 or -errno. */
static int put_pages(struct core *c, struct img_reader *r, struct ckpt_section *s, void *payload,
		     int have)
{
	while (have > 0) {
		uint64_t at = r->at;
		struct ckpt_pages pg;
		int ret;

		if (s->type == CKPT_SEC_PAGES && s->size < sizeof(pg))
			return error("image is corrupted: %s section at offset %llu is short",
				     img_section_name(s->type), (unsigned long long)at);
		/* Other processes' pages are skipped, and other sections
		 * (an incremental image's page hashes) hold no memory. */
		if (s->type == CKPT_SEC_PAGES && s->proc == c->proc) {
			memcpy(&pg, payload, sizeof(pg));
			ret = put_block(c, &pg, (uint8_t *)payload + sizeof(pg),
					(size_t)s->size - sizeof(pg), at);
			if (ret < 0)
				return ret;
		}
		have = img_read_section(r, s, &payload);
	}
	return have;
}

/* Offsets: headers, notes, then each mapping's bytes from a page boundary
 * (elf_core_dump's dataoff).  Returns the file size. */
static uint64_t layout(struct core *c, size_t notes_len, uint64_t *notes_off)
{
	uint64_t off;

	*notes_off = sizeof(Elf64_Ehdr) + (uint64_t)(c->nload + 1) * sizeof(Elf64_Phdr);
	off = ALIGN_UP(*notes_off + notes_len, c->ps);
	for (uint32_t i = 0; i < c->p->d.nvmas; i++) {
		c->segs[i].off = off;
		off += c->segs[i].filesz;
	}
	return off;
}

static int create(struct core *c)
{
	if (asprintf(&c->tmp, "%s.tmpXXXXXX", c->out) < 0) {
		c->tmp = NULL;
		return error_errno(ENOMEM, "cannot create \"%s\"", c->out);
	}
	/* mkostemp creates the file with mode 0600: memory may hold secrets. */
	c->fd = mkostemp(c->tmp, O_CLOEXEC);
	if (c->fd < 0) {
		int err = errno;

		free(c->tmp);
		c->tmp = NULL;
		return error_errno(err, "cannot create \"%s\"", c->out);
	}
	return 0;
}

static int finish(struct core *c)
{
	int fd = c->fd;

	c->fd = -1;
	if (close(fd) < 0)
		return error_errno(errno, "cannot write \"%s\"", c->tmp);
	if (rename(c->tmp, c->out) < 0)
		return error_errno(errno, "cannot rename \"%s\" to \"%s\"", c->tmp, c->out);
	free(c->tmp);
	c->tmp = NULL;
	return 0;
}

int core_write(struct img_reader *r, const struct img *img, uint32_t proc, const char *out,
	       struct ckpt_section *s, void *payload, int have)
{
	struct core c = { .img = img, .p = &img->procs[proc], .proc = proc, .ps = img->h.page_size,
			  .fd = -1, .out = out };
	uint8_t *notes = NULL;
	uint64_t notes_off, size;
	size_t notes_len;
	int ret;

	if (img->h.machine != ARCH_ELF_MACHINE)
		return error("image is for ELF machine %u, this ckpt writes %s cores",
			     img->h.machine, ARCH_NAME);
	core_notes(img, c.p, &notes, &notes_len);
	c.segs = xzalloc(c.p->d.nvmas * sizeof(*c.segs));
	for (uint32_t i = 0; i < c.p->d.nvmas; i++)
		if (core_has_vma(&c.p->vmas[i])) {
			plan(&c, &c.segs[i], &c.p->vmas[i]);
			c.nload++;
		}
	/* More would need the PN_XNUM escape; vm.max_map_count is 65530. */
	if (c.nload + 1 >= PN_XNUM) {
		ret = error("%u mappings: a core holds at most %u", c.nload, PN_XNUM - 2);
		goto out;
	}
	size = layout(&c, notes_len, &notes_off);
	c.buf = xmalloc(CKPT_MAX_BLOCK);
	if ((ret = create(&c)) < 0 || (ret = put_headers(&c, notes_off, notes_len)) < 0)
		goto out;
	/* Holes read as zeros: unstored pages cost no disk space. */
	if (ftruncate(c.fd, (off_t)size) < 0) {
		ret = error_errno(errno, "cannot write \"%s\"", c.tmp);
		goto out;
	}
	if ((ret = put_at(&c, notes, notes_len, notes_off)) < 0 || (ret = fill_unstored(&c)) < 0 ||
	    (ret = put_pages(&c, r, s, payload, have)) < 0)
		goto out;
	ret = finish(&c);
out:
	if (c.fd >= 0)
		close(c.fd);
	if (c.tmp) {
		unlink(c.tmp);
		free(c.tmp);
	}
	free(c.buf);
	free(c.segs);
	free(notes);
	return ret;
}

/* Index of the process with PID pid (0: the first), or -1. */
static int pick(const struct img *img, long pid)
{
	for (uint32_t i = 0; i < img->h.nprocs; i++)
		if (!pid || img->procs[i].d.pid == pid)
			return (int)i;
	return -1;
}

int core_export(const char *path, const char *out, long pid)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload = NULL;
	char defout[32];
	int ret, have, i;

	if ((ret = img_reader_open(&r, path, &img.h)) < 0 ||
	    (ret = have = img_read_meta(&r, &img, &s, &payload)) < 0)
		goto out;
	if ((i = pick(&img, pid)) < 0) {
		ret = error("no process %ld in the image", pid);
		goto out;
	}
	if (!out) {
		snprintf(defout, sizeof(defout), "core.%d", img.procs[i].d.pid);
		out = defout;
	}
	ret = core_write(&r, &img, (uint32_t)i, out, &s, payload, have);
out:
	img_reader_close(&r);
	img_free(&img);
	return ret;
}
