/*
 * VmFlags that change just before the freeze.  A --no-fork dump may read
 * smaps while the process runs and keep those VmFlags only if no thread
 * made a syscall since (dump/quiet.c).  This target spins without
 * syscalls, so that the dump does, and holds:
 *   - KEEP: 2 MiB of a pattern, its flags left alone;
 *   - EARLY: 2 MiB under MADV_DONTDUMP from the start;
 *   - LATE: 2 MiB of a pattern, put under MADV_DONTDUMP on SIGUSR1 (the
 *     test sends it while ckpt waits between its read of smaps and the
 *     freeze), then $CKPT_READY.late is made.
 * After the restore (told by a gap in its clock and a new parent) it waits
 * for $CKPT_GO and checks: each mapping's VmFlags as before the dump
 * (LATE's as after its madvise, if it ran), EARLY's and a late-madvised
 * LATE's data not restored (zeros), the rest intact.
 */
#include <signal.h>
#include <stdint.h>

#include "target.h"
#include "mem.h"

#define LEN	(2ul << 20)

static volatile sig_atomic_t madv_now;

static void on_usr1(int sig)
{
	(void)sig;
	madv_now = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The VmFlags line of the smaps entry covering addr. */
static void vmflags(const void *addr, char *out, size_t len)
{
	unsigned long a = (unsigned long)addr, s, e;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;

	snprintf(out, len, "(no mapping)");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') > strchr(line, '-'))
			in = a >= s && a < e;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, len, "%s", line + 9);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(void)
{
	static const char *const names[] = { "KEEP", "EARLY", "LATE" };
	unsigned char *m[3];
	char flags[3][256], now[256], path[4096];
	const char *ready = getenv("CKPT_READY");
	pid_t ppid0 = getppid();
	int late = 0;

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
	signal(SIGUSR1, on_usr1);
	target_ready();
	/* No syscall while waiting (clock_gettime through the vdso; getppid,
	 * which the dump does not count, only after a gap of 2 ms). */
	for (uint64_t last = now_ns();;) {
		uint64_t t = now_ns();

		if (madv_now && !late) {
			if (madvise(m[2], LEN, MADV_DONTDUMP) < 0)
				target_fail("LATE: %s", strerror(errno));
			late = 1;
			vmflags(m[2], flags[2], sizeof(flags[2]));
			snprintf(path, sizeof(path), "%s.late", ready ? ready : "ready");
			close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
		}
		if (t - last > 2000000 && getppid() != ppid0)
			break;
		last = t;
	}
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
