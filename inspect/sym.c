/*
 * ckpt inspect: which function an address is in.  The address is turned
 * into an offset in the mapped file (the mapping's start and pgoff), the
 * offset into an ELF virtual address through the file's PT_LOAD program
 * headers, and that is looked up in .symtab, else .dynsym (stripped
 * libraries keep only the latter).  The files are read now, on this
 * machine: if one changed since the dump, the answer is flagged.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect/inspect.h"
#include "common/log.h"
#include "common/util.h"

/* File offset off as a virtual address of the ELF file, or -1. */
static int offset_to_vaddr(Elf *e, uint64_t off, uint64_t *vaddr)
{
	size_t n;

	if (elf_getphdrnum(e, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (off >= ph.p_offset && off - ph.p_offset < ph.p_filesz) {
			*vaddr = off - ph.p_offset + ph.p_vaddr;
			return 0;
		}
	}
	return -1;
}

/*
 * The function symbol of section type (SHT_SYMTAB or SHT_DYNSYM) that
 * contains vaddr: the nearest one at or below it, if its size reaches
 * vaddr (or it has no size).  Without the size check, a static function
 * missing from .dynsym would be named after the exported one before it.
 */
static int find_func(Elf *e, uint32_t type, uint64_t vaddr, char **name, uint64_t *value,
		     uint64_t *size)
{
	Elf_Scn *scn = NULL;
	GElf_Sym best = { 0 };
	const char *best_name = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		if (!(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			int t;

			if (!gelf_getsym(d, (int)i, &sym))
				break;
			t = GELF_ST_TYPE(sym.st_info);
			if ((t != STT_FUNC && t != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_value > vaddr || (best_name && sym.st_value <= best.st_value))
				continue;
			best = sym;
			best_name = elf_strptr(e, sh.sh_link, sym.st_name);
		}
		break;
	}
	if (!best_name || !*best_name || (best.st_size && vaddr - best.st_value >= best.st_size))
		return -1;
	*name = xstrdup(best_name);
	*value = best.st_value;
	*size = best.st_size;
	return 0;
}

static int changed_since_dump(int fd, const struct img_vma *v)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 1;
	return (uint64_t)st.st_size != v->d.fsize || (uint64_t)st.st_ino != v->d.ino ||
	       (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec !=
		       v->d.mtime_ns;
}

void insp_symbol(const struct img_vma *v, uint64_t addr, struct insp_sym *out)
{
	uint64_t off, vaddr, value;
	Elf *e;
	int fd;

	memset(out, 0, sizeof(*out));
	if (!v || !(v->d.flags & CKPT_VMA_FILE) || !v->path || v->path[0] != '/')
		return;
	off = addr - v->d.start + v->d.pgoff;
	fd = insp_open_file(v->path);
	if (fd < 0) {
		debug("no symbols for %#lx: cannot open \"%s\"", (unsigned long)addr, v->path);
		return;
	}
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && offset_to_vaddr(e, off, &vaddr) == 0 &&
	    (find_func(e, SHT_SYMTAB, vaddr, &out->name, &value, &out->size) == 0 ||
	     find_func(e, SHT_DYNSYM, vaddr, &out->name, &value, &out->size) == 0)) {
		out->start = addr - (vaddr - value);
		out->file_changed = changed_since_dump(fd, v);
	}
	if (e)
		elf_end(e);
	close(fd);
}
