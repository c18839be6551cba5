/* The linked restore stub, embedded in ckpt so that one file is all a
 * user copies (restore/spawn.c writes it to a memfd and execs it). */
	.section .rodata
	.balign	16
	.globl	ckpt_stub_elf
ckpt_stub_elf:
	.incbin	STUB_ELF
	.globl	ckpt_stub_elf_end
ckpt_stub_elf_end:
	.section .note.GNU-stack,"",@progbits
