/*
 * MAP_SHARED anonymous memory: its data must survive, and it must still
 * be shared memory, not a private copy: a child forked after restore
 * writes into it and the parent sees the writes.  A private mapping next
 * to it is the control (the child's writes there must not show).
 */
#include <sys/wait.h>

#include "target.h"
#include "mem.h"

#define LEN	(1ul << 20)

int main(void)
{
	unsigned char *shared, *priv;
	pid_t pid;
	int st;
	long bad;

	shared = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	priv = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || priv == MAP_FAILED) {
		target_fail("mmap: %s", strerror(errno));
		return target_exit();
	}
	/* Every other page, so some shared pages were never touched. */
	for (unsigned long off = 0; off < LEN; off += 8192)
		pat_fill(shared + off, 4096, off);
	pat_fill(priv, LEN, 7);
	target_wait();

	for (unsigned long off = 0; off < LEN; off += 8192) {
		bad = pat_check(shared + off, 4096, off);
		if (bad >= 0) {
			target_fail("shared mapping: word %ld of page +%#lx differs", bad, off);
			break;
		}
		bad = first_nonzero(shared + off + 4096, 4096);
		if (bad >= 0) {
			target_fail("shared mapping: byte at +%#lx is not zero", off + 4096 + bad);
			break;
		}
	}
	CHECK(pat_check(priv, LEN, 7) < 0, "private mapping: pattern differs");
	CHECK(!strcmp(map_perms(shared), "rw-s"), "shared mapping is %s in maps, want rw-s",
	      map_perms(shared));

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		target_fail("fork: %s", strerror(errno));
		return target_exit();
	}
	if (pid == 0) {
		pat_fill(shared, LEN, 42);
		pat_fill(priv, LEN, 43);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "child after restore failed (status %#x)", st);
	CHECK(pat_check(shared, LEN, 42) < 0,
	      "shared mapping: the child's writes are not visible (not shared any more)");
	CHECK(pat_check(priv, LEN, 7) < 0, "private mapping: the child's writes are visible");
	return target_exit();
}
