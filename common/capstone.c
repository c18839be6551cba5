/* Capstone loaded when first used (capstone.h). */
#include "common/capstone.h"

#ifndef CKPT_CAPSTONE_LINKED
#include <dlfcn.h>
#include <pthread.h>

#include "common/log.h"

#define STR2(x) #x
#define STR(x) STR2(x)
/* The soname of the API the headers describe (capstone 4: .so.4). */
#define SONAME "libcapstone.so." STR(CS_API_MAJOR)

static struct {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	cs_err (*close)(csh *);
	cs_err (*option)(csh, cs_opt_type, size_t);
	cs_insn *(*malloc)(csh);
	void (*free)(cs_insn *, size_t);
	bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
} cs;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

static void load(void)
{
	void *h = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		warn("cannot load the disassembler (%s): %s", SONAME, dlerror());
		return;
	}
	*(void **)&cs.open = dlsym(h, "cs_open");
	*(void **)&cs.close = dlsym(h, "cs_close");
	*(void **)&cs.option = dlsym(h, "cs_option");
	*(void **)&cs.malloc = dlsym(h, "cs_malloc");
	*(void **)&cs.free = dlsym(h, "cs_free");
	*(void **)&cs.disasm_iter = dlsym(h, "cs_disasm_iter");
	if (!cs.open || !cs.close || !cs.option || !cs.malloc || !cs.free || !cs.disasm_iter) {
		warn("cannot load the disassembler (%s): a function is missing", SONAME);
		return;
	}
	loaded = 1;
}

cs_err ckpt_cs_open(cs_arch arch, cs_mode mode, csh *handle)
{
	pthread_once(&once, load);
	return loaded ? cs.open(arch, mode, handle) : CS_ERR_MEM;
}

/* The rest need a handle cs_open gave: loaded. */
cs_err ckpt_cs_close(csh *handle)
{
	return cs.close(handle);
}

cs_err ckpt_cs_option(csh handle, cs_opt_type type, size_t value)
{
	return cs.option(handle, type, value);
}

cs_insn *ckpt_cs_malloc(csh handle)
{
	return cs.malloc(handle);
}

void ckpt_cs_free(cs_insn *insn, size_t count)
{
	cs.free(insn, count);
}

bool ckpt_cs_disasm_iter(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
			 cs_insn *insn)
{
	return cs.disasm_iter(handle, code, size, address, insn);
}
#endif
