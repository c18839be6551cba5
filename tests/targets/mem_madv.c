/*
 * madvise and mlock state, one mapping each: MADV_DONTFORK, MADV_WIPEONFORK,
 * MADV_DONTDUMP, MADV_HUGEPAGE, MADV_NOHUGEPAGE, mlock, MAP_NORESERVE,
 * MADV_SEQUENTIAL, MADV_RANDOM, mlock2(MLOCK_ONFAULT), and MADV_MERGEABLE
 * where the kernel has KSM.
 * After restore each one's VmFlags in /proc/self/smaps must be as before,
 * the data must be there (except under MADV_DONTDUMP: the program opted
 * out of checkpointing, it comes back as zeros, image/format.h), and a
 * child forked after restore must not see the DONTFORK mapping and must
 * see the WIPEONFORK one as zeros.
 * Usage: mem_madv [nolock] [spin]: nolock leaves out mlock and
 * MLOCK_ONFAULT (a locked process has its VmFlags read while frozen
 * whatever else it has); spin waits without syscalls until restored
 * (target_wait_spinning: a --no-fork dump may then take smaps read before
 * the freeze).
 */
#include <sys/wait.h>

#include "target.h"
#include "mem.h"

#define LEN	(2ul << 20)	/* a huge page's worth, for hg/nh */

struct region {
	const char *name;
	int advice;		/* -1: mlock, -2: MAP_NORESERVE, -3: MLOCK_ONFAULT */
	unsigned char *addr;
	char flags[256];	/* VmFlags before the dump */
};

int main(int argc, char **argv)
{
#define R(name, advice) { name, advice, NULL, "" }
	struct region r[] = {
		R("MADV_DONTFORK", MADV_DONTFORK), R("MADV_WIPEONFORK", MADV_WIPEONFORK),
		R("MADV_DONTDUMP", MADV_DONTDUMP), R("MADV_HUGEPAGE", MADV_HUGEPAGE),
		R("MADV_NOHUGEPAGE", MADV_NOHUGEPAGE), R("mlock", -1), R("MAP_NORESERVE", -2),
		R("MADV_SEQUENTIAL", MADV_SEQUENTIAL), R("MADV_RANDOM", MADV_RANDOM),
		R("MLOCK_ONFAULT", -3), R("MADV_MERGEABLE", MADV_MERGEABLE),
	};
#undef R
	const int n = sizeof(r) / sizeof(r[0]);
	char now[256];
	pid_t pid;
	int st, nolock = 0, spin = 0;

	for (int a = 1; a < argc; a++) {
		nolock |= !strcmp(argv[a], "nolock");
		spin |= !strcmp(argv[a], "spin");
	}
	for (int i = 0; nolock && i < n; i++)
		if (r[i].advice == -1 || r[i].advice == -3)
			r[i].advice = -5;	/* none */
	for (int i = 0; i < n; i++) {
		/* PROT_EXEC differs from the neighbours': no two get merged. */
		int prot = PROT_READ | PROT_WRITE | (i & 1 ? PROT_EXEC : 0);

		r[i].addr = mmap(NULL, LEN, prot, MAP_PRIVATE | MAP_ANONYMOUS |
				 (r[i].advice == -2 ? MAP_NORESERVE : 0), -1, 0);
		/* Without KSM (CONFIG_KSM) there is nothing to restore. */
		if (r[i].advice == MADV_MERGEABLE && r[i].addr != MAP_FAILED &&
		    madvise(r[i].addr, LEN, r[i].advice) < 0 && errno == EINVAL) {
			fprintf(stderr, "MADV_MERGEABLE: no KSM here, not checked\n");
			r[i].advice = -4;
		}
		if (r[i].addr == MAP_FAILED ||
		    (r[i].advice >= 0 && madvise(r[i].addr, LEN, r[i].advice) < 0) ||
		    (r[i].advice == -1 && mlock(r[i].addr, LEN) < 0) ||
		    (r[i].advice == -3 && mlock2(r[i].addr, LEN, MLOCK_ONFAULT) < 0)) {
			target_fail("%s: %s", r[i].name, strerror(errno));
			return target_exit();
		}
		pat_fill(r[i].addr, LEN, 50 + i);
		vmflags(r[i].addr, r[i].flags, sizeof(r[i].flags));
	}
	if (spin)
		target_wait_spinning();
	else
		target_wait();

	for (int i = 0; i < n; i++) {
		char *unnamed = strstr(r[i].flags, "?? ");

		/* A kernel whose smaps has no name for VM_LOCKONFAULT ("lf",
		 * shown as "??" before) cannot tell it to ckpt: the mapping
		 * comes back locked in full (the README says so). */
		if (r[i].advice == -3 && unnamed)
			memmove(unnamed, unnamed + 3, strlen(unnamed + 3) + 1);
		vmflags(r[i].addr, now, sizeof(now));
		CHECK(!strcmp(now, r[i].flags), "%s: VmFlags \"%s\", were \"%s\"", r[i].name, now,
		      r[i].flags);
		if (r[i].advice == MADV_DONTDUMP)
			CHECK(first_nonzero(r[i].addr, LEN) < 0, "%s: data was restored", r[i].name);
		else
			CHECK(pat_check(r[i].addr, LEN, 50 + i) < 0, "%s: pattern differs", r[i].name);
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit((probe(r[0].addr, 0) ? 1 : 0) | (first_nonzero(r[1].addr, LEN) >= 0 ? 2 : 0));
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st), "fork/wait after restore");
	CHECK(!(WEXITSTATUS(st) & 1), "a child forked after restore has the MADV_DONTFORK mapping");
	CHECK(!(WEXITSTATUS(st) & 2), "a child forked after restore sees MADV_WIPEONFORK data");
	return target_exit();
}
