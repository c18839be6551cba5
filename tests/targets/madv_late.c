/*
 * VmFlags that change just before the freeze.  A --no-fork dump may read
 * smaps while the process runs and keep those VmFlags only if no thread
 * made a syscall since (dump/quiet.c).  This target spins without
 * syscalls, so that the dump does, and holds:
 *   - KEEP: 2 MiB of a pattern, its flags left alone;
 *   - EARLY: 2 MiB under MADV_DONTDUMP from the start;
 *   - LATE: 2 MiB of a pattern, put under MADV_DONTDUMP once byte 0 of
 *     TRIGGER (madv_late TRIGGER: a file of a page or more, mapped shared)
 *     is 'x'; byte 1 is then set to 'y' (byte 2 is set to 's' once it
 *     spins, its last syscalls left).  The test writes the 'x' (dd)
 *     while ckpt waits between its read of smaps and the freeze: the
 *     madvise is then the one syscall the target makes in that window (no
 *     signal, no file opened), so the dump must count madvise itself.
 * madv_late TRIGGER sharer: the madvise is made by a child that shares the
 * memory (clone(CLONE_VM), no thread: its syscalls are not the target's),
 * which polls the trigger in nanosleep; the target reads byte 1 to know.
 * madv_late TRIGGER grow: no madvise; at the 'x' the stack grows by a
 * fault (a 1 MiB frame filled: no syscall), so that maps read frozen
 * differs from the early read: its VmFlags and present pages must be
 * taken again (the frame is checked after the restore, from inside it).
 * After the restore (told by a gap in its clock and a new parent) it waits
 * for $CKPT_GO and checks: each mapping's VmFlags as before the dump
 * (LATE's as after its madvise, if it ran), EARLY's and a late-madvised
 * LATE's data not restored (zeros), the rest intact.
 */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>

#include "target.h"
#include "mem.h"

#define LEN	(2ul << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* TRIGGER mapped shared (a page of it), or NULL without one. */
static volatile char *trigger(const char *path)
{
	int fd = open(path, O_RDWR);
	void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED) {
		target_fail("%s: %s", path, strerror(errno));
		return NULL;
	}
	close(fd);
	return p;
}

static volatile char *trig;
static unsigned char *late_map;

/* sharer mode: the CLONE_VM child's whole life */
static int sharer(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (trig[0] != 'x')
		target_sleep_ms(1);
	if (madvise(late_map, LEN, MADV_DONTDUMP) < 0)
		target_fail("LATE (sharer): %s", strerror(errno));
	trig[1] = 'y';
	for (;;)
		target_sleep_ms(1000);
	return 0;
}

/* Restored: a gap in the clock (2 ms), then a new parent. */
static int restored(uint64_t *last, pid_t ppid0)
{
	uint64_t t = now_ns();
	int gap = t - *last > 2000000;

	*last = t;
	return gap && getppid() != ppid0;
}

/* grow mode: the stack grown by a frame of 1 MiB, kept until restored */
__attribute__((noinline)) static void grow(pid_t ppid0)
{
	unsigned char big[1 << 20];
	uint64_t last = now_ns();

	pat_fill(big, sizeof(big), 99);
	trig[1] = 'y';
	while (!restored(&last, ppid0))
		;
	CHECK(pat_check(big, sizeof(big), 99) < 0, "the stack grown before the freeze differs");
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "KEEP", "EARLY", "LATE" };
	unsigned char *m[3];
	char flags[3][256], now[256], late_flags[256];
	static char stack[256 << 10] __attribute__((aligned(16)));
	int by_sharer = argc > 2 && !strcmp(argv[2], "sharer");
	int by_growth = argc > 2 && !strcmp(argv[2], "grow");
	pid_t ppid0 = getppid();
	int late = 0;

	trig = argc > 1 ? trigger(argv[1]) : NULL;

	if (argc > 1 && !trig)
		return target_exit();

	for (int i = 0; i < 3; i++) {
		/* PROT_EXEC on the middle one: no two merge. */
		m[i] = mmap(NULL, LEN, PROT_READ | PROT_WRITE | (i == 1 ? PROT_EXEC : 0),
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m[i] == MAP_FAILED || (i == 1 && madvise(m[i], LEN, MADV_DONTDUMP) < 0)) {
			target_fail("%s: %s", names[i], strerror(errno));
			return target_exit();
		}
		pat_fill(m[i], LEN, 70 + i);
		vmflags(m[i], flags[i], sizeof(flags[i]));
	}
	/* LATE's flags once madvised, seen on a mapping like it: read in the
	 * window, smaps would be syscalls of its own. */
	void *like = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (like == MAP_FAILED || madvise(like, LEN, MADV_DONTDUMP) < 0) {
		target_fail("like LATE: %s", strerror(errno));
		return target_exit();
	}
	vmflags(like, late_flags, sizeof(late_flags));
	munmap(like, LEN);
	late_map = m[2];
	if (by_sharer && clone(sharer, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL) < 0) {
		target_fail("clone(CLONE_VM): %s", strerror(errno));
		return target_exit();
	}
	target_ready();
	/* No syscall while waiting (clock_gettime through the vdso; getppid,
	 * which the dump does not count, only after a gap of 2 ms). */
	for (uint64_t last = now_ns(); !restored(&last, ppid0);) {
		if (trig && !trig[2])
			trig[2] = 's';	/* spinning: target_ready's syscalls done */
		if (by_growth && trig[0] == 'x') {
			grow(ppid0);
			break;
		}
		if (by_sharer && trig[1] == 'y')
			late = 1;	/* the sharer's madvise */
		else if (!by_sharer && trig && trig[0] == 'x' && !late) {
			if (madvise(m[2], LEN, MADV_DONTDUMP) < 0)
				target_fail("LATE: %s", strerror(errno));
			late = 1;
			trig[1] = 'y';	/* told without a syscall */
		}
	}
	/* the sharer's madvise may come last before the freeze: its byte is
	 * restored with the trigger file */
	if (by_sharer && trig[1] == 'y')
		late = 1;
	if (late)
		memcpy(flags[2], late_flags, sizeof(late_flags));
	while (!target_go())
		target_sleep_ms(5);
	for (int i = 0; i < 3; i++) {
		int gone = i == 1 || (i == 2 && late);

		vmflags(m[i], now, sizeof(now));
		CHECK(!strcmp(now, flags[i]), "%s: VmFlags \"%s\", were \"%s\"", names[i], now, flags[i]);
		if (gone)
			CHECK(first_nonzero(m[i], LEN) < 0, "%s: data under MADV_DONTDUMP was restored",
			      names[i]);
		else
			CHECK(pat_check(m[i], LEN, 70 + i) < 0, "%s: pattern differs", names[i]);
	}
	printf("madv_late: %s\n", target_failures ? "FAIL" : "ok");
	return target_exit();
}
