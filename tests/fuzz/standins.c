/*
 * What the fuzz targets share, and what they link instead of two of
 * ckpt's objects:
 * cmd/inspect-sym.o (symbol lookup opens and parses the ELF files an
 * image names: slow, and not the image's bytes) and stub/blob.o (the
 * restore stub, never run here, so the fuzz build needs no stub
 * toolchain).  cmd/main.o is linked without its main() (fuzz.mk).
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "inspect/inspect.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reports (inspect's) go to stdout: away with them; libFuzzer talks on
 * stderr. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)argc;
	(void)argv;
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	return 0;
}

void insp_symbol(const struct img_vma *v, uint64_t addr, struct insp_sym *out)
{
	(void)v;
	(void)addr;
	memset(out, 0, sizeof(*out));
}

/* restore/spawn.c's view of the embedded stub ELF: empty. */
const char ckpt_stub_elf[1], ckpt_stub_elf_end[1];
