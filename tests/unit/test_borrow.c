/*
 * The code safe borrowing needs (ptrace/gadget.c, arch/<arch>/sigframe.c
 * arch_find_code): found in this very process (the C library, or the
 * program itself when static, or the vdso), and the byte patterns alone.
 * The borrowing itself is tested on live processes (tests/killsafe.bats).
 */
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "ptrace/tracee.h"
#include "harness.h"

TEST(code_found_in_ourselves)
{
	struct tracee_code c = { 0 };

	ASSERT_EQ(0, tracee_find_gadget(getpid(), &c));
	ASSERT_NE(0, c.arch.gadget);
	ASSERT_NE(0, c.arch.resume);
	ASSERT_GT(c.arch.gadget_syscall, c.arch.gadget);
	ASSERT_EQ(0, tracee_check_gadget(getpid(), &c));
	c.arch.resume += 1;
	ASSERT_NE(0, tracee_check_gadget(getpid(), &c));
}

TEST(nothing_in_plain_bytes)
{
	uint8_t buf[256];
	struct arch_code c = { 0 };

	memset(buf, 0x90, sizeof(buf));
	arch_find_code(buf, sizeof(buf), 0x1000, &c);
	ASSERT_EQ(0, c.gadget);
	ASSERT_EQ(0, c.resume);
}

/* What is found is filled in, what was already known is kept. */
TEST(known_addresses_are_kept)
{
	struct tracee_code self = { 0 };
	struct arch_code c = { .gadget = 0x1234, .gadget_syscall = 0x1238, .resume = 0x5678 };
	uint8_t buf[64];

	ASSERT_EQ(0, tracee_find_gadget(getpid(), &self));
	ASSERT_EQ(0, mem_read(getpid(), self.arch.gadget - 4, buf, sizeof(buf)));
	arch_find_code(buf, sizeof(buf), self.arch.gadget - 4, &c);
	ASSERT_EQ(0x1234, c.gadget);
	ASSERT_EQ(0x5678, c.resume);
}

TEST_HARNESS_MAIN
