/*
 * Finding the code safe borrowing needs (arch.h struct arch_code: a
 * sigreturn gadget and where injected syscalls return) in a process:
 * bytes its C library or vdso has.  Only read-only executable mappings
 * are searched (the vdso, then the C library, then the rest), so the
 * bytes cannot change under us; where they sit does not matter, since
 * the CPU decodes them from their first byte on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"

#define SEARCH_MAX	(64u << 20)	/* bytes of one mapping searched at most */
#define SEARCH_STEP	(128u << 10)	/* read at once: glibc's are in its first 512 KiB */

static int complete(const struct tracee_code *c)
{
	return c->arch.gadget && c->arch.resume;
}

/* A piece at a time, until both are found: a C library's whole text
 * (1.4 MiB) read and searched was a millisecond of the freeze.  Pieces
 * overlap by what a match spans, so none is missed at a seam. */
static void search(pid_t pid, const struct map_entry *m, struct tracee_code *c)
{
	const size_t seam = ARCH_CODE_BEFORE + ARCH_CODE_AFTER;
	size_t len = MIN(m->end - m->start, SEARCH_MAX);
	uint8_t *buf = malloc(MIN(len, SEARCH_STEP));

	for (size_t off = 0; buf && off < len && !complete(c); off += SEARCH_STEP - seam) {
		size_t n = MIN(len - off, SEARCH_STEP);

		if (mem_read(pid, m->start + off, buf, n) < 0)
			break;
		arch_find_code(buf, n, m->start + off, &c->arch);
		if (off + n == len)
			break;
	}
	free(buf);
}

/* Search order: 0 vdso, 1 C library, 2 any other file; -1 never. */
static int rank(const struct map_entry *m)
{
	if (!(m->prot & PROT_EXEC) || (m->prot & PROT_WRITE) || m->shared)
		return -1;
	if (!strcmp(m->path, "[vdso]"))
		return 0;
	if (m->path[0] != '/')
		return -1;
	return strstr(m->path, "/libc") || strstr(m->path, "/ld-musl") ? 1 : 2;
}

int tracee_find_gadget_in(pid_t pid, const struct map_entry *maps, size_t n,
			  struct tracee_code *code)
{
	memset(&code->arch, 0, sizeof(code->arch));
	for (int want = 0; want <= 2 && !complete(code); want++)
		for (size_t i = 0; i < n && !complete(code); i++)
			if (rank(&maps[i]) == want)
				search(pid, &maps[i], code);
	if (!complete(code)) {
		memset(&code->arch, 0, sizeof(code->arch));
		return -ENOENT;
	}
	debug("sigreturn gadget at %#lx, syscalls return to %#lx", (unsigned long)code->arch.gadget,
	      (unsigned long)code->arch.resume);
	return 0;
}

int tracee_find_gadget(pid_t pid, struct tracee_code *code)
{
	struct map_entry *maps = NULL;
	size_t n = 0;
	/* Only executable mappings are searched (rank()). */
	int ret = proc_read_maps_how(pid, &maps, &n, PROC_MAPS_EXEC);

	if (ret < 0)
		return ret;
	ret = tracee_find_gadget_in(pid, maps, n, code);
	proc_free_maps(maps, n);
	return ret;
}

/* The same bytes are still at a; found again in a window around it. */
static int still(pid_t pid, uint64_t a, const struct arch_code *want)
{
	uint8_t buf[ARCH_CODE_BEFORE + ARCH_CODE_AFTER];
	struct arch_code c = { 0 };

	if (mem_read(pid, a - ARCH_CODE_BEFORE, buf, sizeof(buf)) < 0)
		return 0;
	arch_find_code(buf, sizeof(buf), a - ARCH_CODE_BEFORE, &c);
	return (c.gadget && c.gadget == want->gadget) || (c.resume && c.resume == want->resume);
}

int tracee_check_gadget(pid_t pid, const struct tracee_code *code)
{
	if (complete(code) && still(pid, code->arch.gadget, &code->arch) &&
	    still(pid, code->arch.resume, &code->arch))
		return 0;
	return -ENOENT;
}
