/*
 * x86-64 entry points of the restore stub (stub/stub.c).
 * No relocations: everything is reached PC-relative.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	/* The kernel's initial stack: argc, argv[], envp[], auxv. */
	mov	%rsp, %rdi
	and	$-16, %rsp
	call	stub_boot
	ud2

/* void stub_jump(uint64_t sp, void (*fn)(void *), void *arg): never returns */
	.globl	stub_jump
	.hidden	stub_jump
	.type	stub_jump, @function
stub_jump:
	mov	%rdi, %rsp
	mov	%rdx, %rdi
	xor	%ebp, %ebp
	call	*%rsi
	ud2

/*
 * long stub_clone3(struct clone_args *ca, size_t size, void (*fn)(void *), void *arg)
 * The child starts on ca->stack and runs fn(arg), which never returns.
 * r8/r9 survive the syscall (only rax, rcx, r11 are clobbered).
 */
	.globl	stub_clone3
	.hidden	stub_clone3
	.type	stub_clone3, @function
stub_clone3:
	mov	%rdx, %r8
	mov	%rcx, %r9
	mov	$435, %eax		/* __NR_clone3 */
	syscall
	test	%rax, %rax
	jnz	1f
	xor	%ebp, %ebp
	mov	%r9, %rdi
	and	$-16, %rsp
	call	*%r8
	ud2
1:	ret

/* A syscall instruction ckpt can point a stopped thread at. */
	.globl	stub_syscall_insn
	.hidden	stub_syscall_insn
stub_syscall_insn:
	syscall
	int3

	.section .note.GNU-stack,"",@progbits
