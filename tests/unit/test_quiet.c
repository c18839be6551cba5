/*
 * dump/quiet.c: a DAMON kdamond that works on virtual addresses may
 * madvise a process's memory with no syscall of it (hg/nh flip), so while
 * one is on the early smaps read is not taken.  The sysfs tree is made
 * here, under a temporary directory, as the kernel lays it out
 * (mm/damon/sysfs.c: kdamonds/N/state, kdamonds/N/contexts/M/operations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump/dump.h"
#include "harness.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ASSERT_TRUE((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ASSERT_EQ(0, mkdir(path, 0755));
}

/* kdamond 0 (paddr, on: DAMON_RECLAIM's kind) and kdamond 1 (ops, state) */
static void tree(const char *ops, const char *state)
{
	snprintf(root, sizeof(root), "/tmp/ckpt-damon-XXXXXX");
	ASSERT_TRUE(mkdtemp(root) != NULL);
	dir("0");
	put("0/state", "on\n");
	dir("0/contexts");
	put("0/contexts/nr_contexts", "1\n");
	dir("0/contexts/0");
	put("0/contexts/0/operations", "paddr\n");
	put("nr_kdamonds", "2\n");
	dir("1");
	put("1/state", state);
	dir("1/contexts");
	dir("1/contexts/0");
	put("1/contexts/0/operations", ops);
}

static void done(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ASSERT_EQ(0, system(cmd));
}

/* quiet_damon_vaddr_on of a tree with kdamond 1 (ops, state) */
static int vaddr_on(const char *ops, const char *state)
{
	int on;

	tree(ops, state);
	on = quiet_damon_vaddr_on(root);
	done();
	return on;
}

TEST(damon_on_virtual_addresses_refuses)
{
	EXPECT_EQ(1, vaddr_on("vaddr\n", "on\n"));
	EXPECT_EQ(1, vaddr_on("fvaddr\n", "on\n"));
}

TEST(damon_off_or_on_physical_addresses_does_not)
{
	EXPECT_EQ(0, vaddr_on("vaddr\n", "off\n"));
	EXPECT_EQ(0, vaddr_on("paddr\n", "on\n"));
	EXPECT_EQ(0, quiet_damon_vaddr_on("/nonexistent/kdamonds"));
}

TEST_HARNESS_MAIN
