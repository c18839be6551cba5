/*
 * aarch64: dump/quiet.c counts every syscall between its early smaps read
 * and the freeze.  A list like x86-64's would be by number, and an
 * AArch32 (compat) task's numbers are another table, where aarch64's
 * harmless ones are mapping changers (172: getpid here, prctl there);
 * nor could the guest check one, its tests of the early read being tagged
 * arch-independent.  So none: a job whose threads make any syscall in the
 * window has its smaps read frozen.
 */
#include "arch/arch.h"

const int arch_quiet_syscalls[] = { 0 };
const unsigned arch_nquiet_syscalls = 0;
