/*
 * dump --fork and the memory a fork does not copy.  A counter goes, in a
 * loop, into private memory and then into a ring of slots in a MAP_SHARED
 * page: the copy has its own private memory but the same shared page,
 * which the process goes on writing once it runs again, so a dump that
 * read the shared page from the copy would store counts later than the
 * private one.  Restored, no slot may be ahead of the private count (the
 * loop ends at once then: GO exists, so at most one slot is rewritten).
 * Beside them, a MADV_WIPEONFORK mapping (empty in the copy) keeps a
 * pattern, and its VmFlags must say wf again.
 */
#include <stdint.h>

#include "target.h"
#include "mem.h"

#define PRIV_LEN	(16ul << 20)	/* read before the shared page: time for the loop */
#define WIPE_LEN	(1ul << 20)
#define SLOTS		512

static int has_wf(const void *addr)
{
	unsigned long a = (unsigned long)addr, s, e;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, wf = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') > strchr(line, '-'))
			in = a >= s && a < e;
		else if (in && !strncmp(line, "VmFlags:", 8))
			wf = strstr(line, " wf") != NULL;
	}
	if (f)
		fclose(f);
	return wf;
}

int main(void)
{
	/* Mapped first, so above the private memory: read after it. */
	volatile uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *priv = mmap(NULL, PRIV_LEN, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *wipe = mmap(NULL, WIPE_LEN, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t *count = &priv[PRIV_LEN / 8 / 2];
	uint64_t n = 0, ahead = 0;

	if (shared == MAP_FAILED || priv == MAP_FAILED || wipe == MAP_FAILED ||
	    madvise(wipe, WIPE_LEN, MADV_WIPEONFORK) < 0) {
		target_fail("setup: %s", strerror(errno));
		return target_exit();
	}
	pat_fill(priv, PRIV_LEN, 3);
	pat_fill(wipe, WIPE_LEN, 9);
	target_ready();
	while (!target_go()) {
		*count = ++n;
		shared[n % SLOTS] = n;
	}
	for (int i = 0; i < SLOTS; i++)
		ahead += shared[i] > *count;
	CHECK(!ahead, "%lu slots of the shared page are ahead of the private count %lu: "
	      "not the same instant", (unsigned long)ahead, (unsigned long)*count);
	CHECK(pat_check(wipe, WIPE_LEN, 9) < 0, "MADV_WIPEONFORK mapping: pattern differs");
	CHECK(has_wf(wipe), "MADV_WIPEONFORK mapping: no wf in VmFlags");
	*count = pat64(3, PRIV_LEN / 8 / 2);
	CHECK(pat_check(priv, PRIV_LEN, 3) < 0, "private mapping: pattern differs");
	return target_exit();
}
