/*
 * aarch64 entry points of the restore stub (stub/stub.c).
 * No relocations: everything is reached PC-relative.  The kernel starts
 * us with sp 16-byte aligned (AAPCS64 and arch/arm64/kernel/process.c
 * start_thread), pointing at argc, argv[], envp[], auxv.
 */
	.text
	.globl	_start
	.type	_start, %function
_start:
	mov	x0, sp
	mov	x29, xzr
	mov	x30, xzr
	bl	stub_boot
	brk	#1

/* void stub_jump(uint64_t sp, void (*fn)(void *), void *arg): never returns */
	.globl	stub_jump
	.hidden	stub_jump
	.type	stub_jump, %function
stub_jump:
	mov	sp, x0
	mov	x0, x2
	mov	x29, xzr
	mov	x30, xzr
	blr	x1
	brk	#1

/*
 * long stub_clone3(struct clone_args *ca, size_t size, void (*fn)(void *), void *arg)
 * The child starts on ca->stack + ca->stack_size and runs fn(arg), which
 * never returns.  x10/x11 survive svc (only x0 is written) and are
 * copied into the child with the other registers.
 */
	.globl	stub_clone3
	.hidden	stub_clone3
	.type	stub_clone3, %function
stub_clone3:
	mov	x10, x2
	mov	x11, x3
	mov	x8, #435		/* __NR_clone3 (include/uapi/asm-generic/unistd.h) */
	svc	#0
	cbnz	x0, 1f
	mov	x29, xzr
	mov	x30, xzr
	mov	x0, x11
	blr	x10
	brk	#1
1:	ret

/* A syscall instruction ckpt can point a stopped thread at. */
	.globl	stub_syscall_insn
	.hidden	stub_syscall_insn
stub_syscall_insn:
	svc	#0
	brk	#0

/*
 * void *memset(void *s, int c, size_t n): GCC calls it for zeroing large
 * structs (struct clone_args = { 0 }) even with -ffreestanding
 * -fno-builtin, which x86-64 inlines as rep stos and aarch64 does not.
 */
	.globl	memset
	.hidden	memset
	.type	memset, %function
memset:
	mov	x3, x0
	cbz	x2, 2f
1:	strb	w1, [x3], #1
	subs	x2, x2, #1
	b.ne	1b
2:	ret

	.section .note.GNU-stack,"",%progbits
