/*
 * Capstone (the disassembler: dump's syscall search, inspect's code),
 * loaded the first time it is used (common/capstone.c).  Linked, its
 * 77,000 relocations were made at every start of every ckpt command:
 * 1.3 ms of CPU here (perf stat -r 200 of an empty program with and
 * without -lcapstone: 1.92 against 0.65 ms), an eighth of a lazy
 * restore's time to running, which never disassembles.  A static build
 * (the arm64 guest's) has no dlopen: it links capstone
 * (CKPT_CAPSTONE_LINKED, Makefile).  Include this, not capstone.h.
 */
#ifndef CKPT_COMMON_CAPSTONE_H
#define CKPT_COMMON_CAPSTONE_H

#include <capstone/capstone.h>

#ifndef CKPT_CAPSTONE_LINKED
/* As capstone's own; cs_open fails with CS_ERR_MEM, after a warning,
 * when the library cannot be loaded. */
cs_err ckpt_cs_open(cs_arch arch, cs_mode mode, csh *handle);
cs_err ckpt_cs_close(csh *handle);
cs_err ckpt_cs_option(csh handle, cs_opt_type type, size_t value);
cs_insn *ckpt_cs_malloc(csh handle);
void ckpt_cs_free(cs_insn *insn, size_t count);
bool ckpt_cs_disasm_iter(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
			 cs_insn *insn);

#define cs_open		ckpt_cs_open
#define cs_close	ckpt_cs_close
#define cs_option	ckpt_cs_option
#define cs_malloc	ckpt_cs_malloc
#define cs_free		ckpt_cs_free
#define cs_disasm_iter	ckpt_cs_disasm_iter
#endif

#endif
