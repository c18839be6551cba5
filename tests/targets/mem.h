/*
 * Helpers for the memory and register targets: a reproducible byte
 * pattern, the /proc/self/maps line and the smaps VmFlags covering an
 * address, and probes that tell whether an address can be read or
 * written without dying of it.
 * Include after target.h.
 */
#ifndef CKPT_TEST_MEM_H
#define CKPT_TEST_MEM_H

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* A different 64-bit value for every (seed, index): splitmix64's mixer. */
__attribute__((unused))
static uint64_t pat64(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 1;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

__attribute__((unused))
static void pat_fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *q = p;

	for (size_t i = 0; i < len / 8; i++)
		q[i] = pat64(seed, i);
}

/* Index of the first word that differs from the pattern, or -1. */
__attribute__((unused))
static long pat_check(const void *p, size_t len, uint64_t seed)
{
	const uint64_t *q = p;

	for (size_t i = 0; i < len / 8; i++)
		if (q[i] != pat64(seed, i))
			return (long)i;
	return -1;
}

/* Offset of the first non-zero byte, or -1. */
__attribute__((unused))
static long first_nonzero(const void *p, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i])
			return (long)i;
	return -1;
}

/* A field of the smaps entry whose mapping starts at addr, in KiB. */
__attribute__((unused))
static long smaps_kib(const void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, s, e;
	char line[512];
	size_t n = strlen(field);
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') > strchr(line, '-'))
			in = s == a;
		else if (in && !strncmp(line, field, n) && line[n] == ':') {
			kib = atol(line + n + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return kib;
}

struct map_line {
	unsigned long start, end;
	char perms[5];
	unsigned long long off;
	char path[256];
};

/* The /proc/self/maps line covering addr: 0, or -1 if none does.  Only
 * stdio on a fresh FILE, so it may run after GO as often as needed. */
__attribute__((unused))
static int map_find(const void *addr, struct map_line *m)
{
	unsigned long a = (unsigned long)addr;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = -1;

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		int n = 0;

		m->path[0] = 0;
		if (sscanf(line, "%lx-%lx %4s %llx %*s %*s %n", &m->start, &m->end, m->perms,
			   &m->off, &n) < 4)
			continue;
		if (a < m->start || a >= m->end)
			continue;
		snprintf(m->path, sizeof(m->path), "%s", line + n);
		m->path[strcspn(m->path, "\n")] = 0;
		found = 0;
	}
	fclose(f);
	return found;
}

/* Perms of the mapping at addr as in /proc/self/maps ("rw-p"), "none" if
 * unmapped.  Returns a static buffer. */
__attribute__((unused))
static const char *map_perms(const void *addr)
{
	static struct map_line m;

	return map_find(addr, &m) ? "none" : m.perms;
}

static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probe_sig;

static void probe_handler(int sig)
{
	probe_sig = sig;
	siglongjmp(probe_jmp, 1);
}

/* 1 if reading (write = 0) or writing (write = 1, the byte is written
 * back unchanged) addr works, 0 if it faults.  Installs its own handler
 * for SIGSEGV and SIGBUS each time: the test is about memory, not about
 * restored signal actions. */
__attribute__((unused))
static int probe(volatile unsigned char *addr, int write)
{
	struct sigaction sa = { .sa_handler = probe_handler }, old_segv, old_bus;
	int ok = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	probe_sig = 0;
	if (sigsetjmp(probe_jmp, 1) == 0) {
		unsigned char c = *addr;

		if (write)
			*addr = c;
		ok = 1;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return ok;
}

/* The VmFlags line of the smaps entry covering addr. */
__attribute__((unused))
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

#endif
