/*
 * smaps read ahead (dump/ahead.c): what it read is used only for the
 * layout the caller sees when it takes it.  A mapping split and madvised
 * after the read (as ckpt's injected syscalls could change the layout)
 * must come back from smaps read again, with its VmFlags, whether the
 * caller hands its maps in (a single process) or not (a tree).
 */
#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dump/dump.h"
#include "harness.h"

/* The threads of this process (the reader ends once it has read). */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Read ahead, then a mapping made and split by madvise; what take gives. */
static int take_after_a_change(int hand_in, uint8_t **mem, struct map_entry **m, size_t *n)
{
	const long ps = sysconf(_SC_PAGESIZE);
	pid_t self = getpid();
	struct smaps_ahead *a = smaps_ahead_start(&self, 1);
	struct map_entry *now = NULL;
	size_t nnow = 0;
	int ret;

	if (!a)
		return -1;
	while (threads() > 1)	/* read before the change: nothing else is waited for */
		sched_yield();
	*mem = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*mem == MAP_FAILED || madvise(*mem, ps, MADV_DONTDUMP) < 0)
		return -1;
	if (hand_in && proc_read_maps_how(self, &now, &nnow, PROC_MAPS) < 0)
		return -1;
	ret = smaps_ahead_take(a, 0, self, now, nnow, m, n);
	proc_free_maps(now, nnow);
	smaps_ahead_end(a);
	return ret;
}

static void check_seen(int hand_in)
{
	const long ps = sysconf(_SC_PAGESIZE);
	struct map_entry *m;
	size_t n;
	uint8_t *mem;
	int found = 0;

	ASSERT_EQ(0, take_after_a_change(hand_in, &mem, &m, &n));
	for (size_t i = 0; i < n; i++) {
		if (m[i].start == (uint64_t)(uintptr_t)mem) {
			ASSERT_EQ((uint64_t)(uintptr_t)mem + ps, m[i].end);
			ASSERT_EQ(PM_SMAPS | PM_DONTDUMP, m[i].vmflags & (PM_SMAPS | PM_DONTDUMP));
			found++;
		}
		if (m[i].start == (uint64_t)(uintptr_t)mem + ps) {
			ASSERT_EQ(PM_SMAPS, m[i].vmflags & (PM_SMAPS | PM_DONTDUMP));
			found++;
		}
	}
	ASSERT_EQ(2, found);
	proc_free_maps(m, n);
	munmap(mem, 2 * ps);
}

TEST(smaps_read_again_when_the_handed_in_layout_differs)
{
	check_seen(1);
}

TEST(smaps_read_again_when_maps_read_here_differs)
{
	check_seen(0);
}

TEST_HARNESS_MAIN
