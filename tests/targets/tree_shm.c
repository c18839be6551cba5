/*
 * Memory shared between the processes of a tree: a MAP_SHARED anonymous
 * region and a POSIX semaphore (sem_open, then sem_unlink: a deleted file
 * of /dev/shm mapped by each), both inherited across fork.  After GO two
 * children each add 1000 to a counter in the region under the semaphore
 * and write their mark; the parent, once they have ended, must see every
 * increment and both marks: one object again after restore, not a copy
 * per process.  Before the dump each child also writes a page of the
 * region the parent never touches (present in the child's page table
 * alone): the parent must read it after restore.
 * Output: "tree_shm: ok".
 */
#include <semaphore.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "target.h"

struct shared {
	volatile uint64_t counter;
	volatile uint64_t mark[2];
	volatile uint64_t ready;
};

/* A page of the region only child k writes before the dump. */
static volatile uint64_t *own_page(struct shared *sh, int k)
{
	return (volatile uint64_t *)((char *)sh + (size_t)(16 + 8 * k) * 4096);
}

int main(void)
{
	struct shared *sh = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
	char name[64];
	sem_t *sem;
	pid_t kid[2];
	int st;

	snprintf(name, sizeof(name), "/ckpt-tree-shm-%d", (int)getpid());
	sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
	if (sh == MAP_FAILED || sem == SEM_FAILED)
		return 2;
	sem_unlink(name);
	sh->counter = 5;
	for (int k = 0; k < 2; k++) {
		if ((kid[k] = fork()))
			continue;
		*own_page(sh, k) = 0x5eed0 + (unsigned)k;
		__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
		while (!target_go())
			target_sleep_ms(5);
		for (int i = 0; i < 1000; i++) {
			sem_wait(sem);
			sh->counter = sh->counter + 1;
			sem_post(sem);
		}
		sh->mark[k] = 0xabc0 + (unsigned)k;
		_exit(0);
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) != 2)
		target_sleep_ms(1);
	target_wait();
	for (int k = 0; k < 2; k++)
		CHECK(waitpid(kid[k], &st, 0) == kid[k] && WIFEXITED(st) && !WEXITSTATUS(st),
		      "child %d: status %#x", k, st);
	CHECK(sh->counter == 2005, "counter %llu, want 2005", (unsigned long long)sh->counter);
	CHECK(sh->mark[0] == 0xabc0 && sh->mark[1] == 0xabc1, "marks %#llx %#llx",
	      (unsigned long long)sh->mark[0], (unsigned long long)sh->mark[1]);
	for (int k = 0; k < 2; k++)
		CHECK(*own_page(sh, k) == 0x5eed0 + (unsigned)k, "child %d's own page: %#llx", k,
		      (unsigned long long)*own_page(sh, k));
	if (!target_failures)
		printf("tree_shm: ok\n");
	return target_exit();
}
