/*
 * x86-64 syscalls that dump/quiet.c does not count between its early
 * smaps read and the freeze: they change no mapping, and a job makes them
 * without end (the bench target's getppid after a gap, a thread's
 * clock_gettime without a vdso) or sleeps in them (a freeze interrupts
 * those: left).
 *
 * The filter goes by number (the tracepoint's id, the full orig_ax), and
 * an int 0x80 call of a 64-bit process is counted by its i386 number: none
 * of these is the i386 number of one that can change a mapping (madvise
 * 219, mlock 150-153 and 376, prctl 172, mmap 90 and 192, munmap 91,
 * mprotect 125, mremap 163, brk 45, clone 120, fork 2, vfork 190, execve
 * 11, ipc 117, shmat 397, ioctl 54, remap_file_pages 257, mbind 274,
 * pkey_mprotect 380, execveat 358, io_uring_enter 426, clone3 435,
 * process_madvise 440, mseal 462).  x32 calls (0x40000000 | n) match none.
 */
#include <sys/syscall.h>

#include "arch/arch.h"
#include "common/util.h"

const int arch_quiet_syscalls[] = {
	SYS_getpid, SYS_getppid, SYS_gettid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid,
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday, SYS_time, SYS_getrusage,
	SYS_nanosleep, SYS_clock_nanosleep, SYS_sched_yield, SYS_futex, SYS_pause,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_rt_sigsuspend,
	SYS_rt_sigtimedwait, SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2, SYS_poll,
	SYS_ppoll, SYS_select, SYS_pselect6, SYS_wait4, SYS_waitid,
};
const unsigned arch_nquiet_syscalls = ARRAY_SIZE(arch_quiet_syscalls);
