/*
 * dump --fork must be invisible: this process counts SIGCHLDs and, after
 * GO, checks it got none and has no child at all (not even a zombie:
 * waitid(P_ALL, __WALL | WNOHANG) must say ECHILD), and that its
 * memory, which keeps changing like dirty.c's, is consistent.  Run as
 * the original after a --fork dump, and restored from the image.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

#define PAGE 4096
#define NSLOTS 2048

static volatile sig_atomic_t sigchld;

static void on_chld(int sig)
{
	(void)sig;
	sigchld++;
}

static void body(uint64_t *pg, uint64_t gen, uint64_t slot)
{
	for (size_t i = 0; i < PAGE / 8; i++)
		pg[i] = i ? gen * 0x9e3779b97f4a7c15ull + slot + i : gen;
}

int main(void)
{
	uint64_t *pages = mmap(NULL, NSLOTS * 2 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static volatile uint64_t word[NSLOTS];
	uint64_t gen = 0, s = 0, bad = 0;
	siginfo_t si;

	if (pages == MAP_FAILED)
		return 2;
	signal(SIGCHLD, on_chld);
	for (s = 0; s < NSLOTS; s++) {
		body(pages + 2 * s * (PAGE / 8), ++gen, s);
		word[s] = gen << 1;
	}
	target_ready();
	while (!target_go()) {
		for (int k = 0; k < 200; k++) {
			uint64_t idx = 1 - (word[s = (s * 7 + 13) % NSLOTS] & 1);

			body(pages + (2 * s + idx) * (PAGE / 8), ++gen, s);
			__atomic_store_n(&word[s], (gen << 1) | idx, __ATOMIC_RELEASE);
		}
		target_sleep_ms(2);
	}
	for (s = 0; s < NSLOTS; s++) {
		uint64_t w = word[s], *pg = pages + (2 * s + (w & 1)) * (PAGE / 8);
		uint64_t want[PAGE / 8];

		body(want, w >> 1, s);
		if (memcmp(pg, want, PAGE))
			bad++;
	}
	CHECK(!bad, "%lu slots inconsistent", (unsigned long)bad);
	CHECK(!sigchld, "got %d SIGCHLD", (int)sigchld);
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL) < 0 && errno == ECHILD,
	      "has a child (pid %d)", si.si_pid);
	return target_exit();
}
