/*
 * The harness itself (harness.h): a failing ASSERT, EXPECT or string
 * check, a crash and a hang each make a test "not ok", so a unit test
 * that passes says something.  The checks below run such tests through
 * harness_run() in their own child and look at the verdict.
 */
#include <stdint.h>

#include "harness.h"

static void fails_assert_eq(void)
{
	ASSERT_EQ(1, 2);
}

static void fails_expect_then_passes(void)
{
	EXPECT_NE(3, 3);
	ASSERT_TRUE(1);
}

static void fails_streq(void)
{
	ASSERT_STREQ("ckpt", "ckpt ");
}

static void fails_on_null_string(void)
{
	ASSERT_STREQ("", NULL);
}

static void crashes(void)
{
	raise(SIGSEGV);
}

static void passes(void)
{
	uint64_t big = UINT64_MAX;

	ASSERT_EQ(UINT64_MAX, big);
	ASSERT_LT(-1, 0);
	ASSERT_STREQ("a b", "a b");
	ASSERT_STRNE("a", NULL);
	EXPECT_MEMEQ("abc", "abc", 3);
}

static int verdict(void (*fn)(void))
{
	struct harness_test t = { "inner", fn };

	return harness_run(&t);
}

TEST(failed_assert_is_not_ok)
{
	ASSERT_EQ(0, verdict(fails_assert_eq));
}

TEST(failed_expect_is_not_ok)
{
	ASSERT_EQ(0, verdict(fails_expect_then_passes));
}

TEST(failed_string_checks_are_not_ok)
{
	ASSERT_EQ(0, verdict(fails_streq));
	ASSERT_EQ(0, verdict(fails_on_null_string));
}

TEST(crash_is_not_ok)
{
	ASSERT_EQ(0, verdict(crashes));
}

TEST(passing_checks_are_ok)
{
	ASSERT_EQ(1, verdict(passes));
}

/* The block after a check runs only when it failed. */
TEST(failure_block_runs_only_on_failure)
{
	int ran = 0;

	EXPECT_EQ(1, 1) {
		ran = 1;
	}
	ASSERT_EQ(0, ran);
}

TEST_HARNESS_MAIN
