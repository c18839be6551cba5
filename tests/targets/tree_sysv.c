/*
 * SysV shared memory attached by two processes of a tree.
 *   tree_sysv KEY
 * The parent makes a segment with KEY and a private one it removes at once
 * (IPC_RMID: it lives while attached), three pages each, attaches both
 * and forks; the child keeps the inherited attaches and attaches the keyed
 * segment once more at an address of its own.  Before the dump, pages
 * each process alone has present: page 1 of the keyed one (the parent),
 * page 2 of it (the child, through its own attach), page 1 of the private
 * one (the child, inherited attach); and page 2 of the private one written
 * by the parent through a third attach it then detached (present in no
 * page table).  After GO the child writes through its own attach and the
 * private segment; the parent must see both, then answers, and the child
 * must see the answer: one segment each again after restore, not a copy
 * per process.  The ids the processes know still name them (IPC_STAT:
 * size, key, attach count as before, the private one still removed) and
 * every page written before the dump is there.  Output: "tree_sysv: ok".
 */
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "target.h"

#define PAGE	4096

struct board {
	volatile uint64_t ready, child_wrote, parent_saw;
	char text[64];
};

/* Wait (up to 60 s: a busy machine) until *flag is set. */
static int await(volatile uint64_t *flag)
{
	for (int i = 0; i < 12000 && !__atomic_load_n(flag, __ATOMIC_SEQ_CST); i++)
		target_sleep_ms(5);
	return (int)__atomic_load_n(flag, __ATOMIC_SEQ_CST);
}

static void check_segment(int id, size_t size, key_t key, unsigned long nattch, int removed)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0) {
		target_fail("segment %d: %s", id, strerror(errno));
		return;
	}
	CHECK(ds.shm_segsz == size, "segment %d: %zu bytes, want %zu", id, (size_t)ds.shm_segsz,
	      size);
	CHECK(ds.shm_nattch == nattch, "segment %d: %lu attaches, were %lu", id,
	      (unsigned long)ds.shm_nattch, nattch);
	CHECK(!!(ds.shm_perm.mode & SHM_DEST) == removed, "segment %d: mode %o", id,
	      ds.shm_perm.mode);
	CHECK(removed || ds.shm_perm.__key == key, "segment %d: key %#x, want %#x", id,
	      ds.shm_perm.__key, key);
}

static unsigned long nattch_of(int id)
{
	struct shmid_ds ds;

	return shmctl(id, IPC_STAT, &ds) < 0 ? 0 : (unsigned long)ds.shm_nattch;
}

static int child(int keyed, char *a, char *b)
{
	char *c = shmat(keyed, NULL, 0);
	struct board *bd = (struct board *)a;

	if (c == (void *)-1 || c == a) {
		target_fail("child: second attach: %s", strerror(errno));
		return target_exit();
	}
	strcpy(c + 2 * PAGE, "child's page");	/* pages only the child has present */
	strcpy(b + PAGE, "child's private page");
	__atomic_store_n(&bd->ready, 1, __ATOMIC_SEQ_CST);
	while (!target_go())
		target_sleep_ms(5);
	CHECK(!strcmp(c + PAGE, "parent's") && !strcmp(b, "removed") &&
	      !strcmp(b + 2 * PAGE, "detached"), "child: data written before the dump lost");
	strcpy(((struct board *)c)->text, "from the child");
	strcpy(b + 100, "child in the removed one");
	__atomic_store_n(&((struct board *)c)->child_wrote, 1, __ATOMIC_SEQ_CST);
	CHECK(await(&bd->parent_saw), "child: the parent's answer never came");
	CHECK(shmdt(c) == 0, "child: shmdt: %s", strerror(errno));
	return target_exit();
}

int main(int argc, char **argv)
{
	key_t key = argc > 1 ? (key_t)strtol(argv[1], NULL, 0) : 0;
	int keyed = shmget(key, 3 * PAGE, IPC_CREAT | IPC_EXCL | 0640);
	int priv = shmget(IPC_PRIVATE, 3 * PAGE, IPC_CREAT | 0600);
	char *a = keyed < 0 ? (void *)-1 : shmat(keyed, NULL, 0);
	char *b = priv < 0 ? (void *)-1 : shmat(priv, NULL, 0);
	char *d = priv < 0 ? (void *)-1 : shmat(priv, NULL, 0);
	struct board *bd = (struct board *)a;
	unsigned long na, nb;
	pid_t kid;
	int st;

	if (argc < 2 || a == (void *)-1 || b == (void *)-1 || d == (void *)-1) {
		target_fail("usage: tree_sysv KEY; or cannot attach: %s", strerror(errno));
		return target_exit();
	}
	shmctl(priv, IPC_RMID, NULL);
	strcpy(a + PAGE, "parent's");
	strcpy(b, "removed");
	strcpy(d + 2 * PAGE, "detached");
	shmdt(d);
	if (!(kid = fork()))
		return child(keyed, a, b);
	if (!await(&bd->ready)) {
		target_fail("the child never got ready");
		return target_exit();
	}
	na = nattch_of(keyed);
	nb = nattch_of(priv);
	target_wait();

	CHECK(!strcmp(a + 2 * PAGE, "child's page") && !strcmp(b + PAGE, "child's private page"),
	      "the child's pages before the dump lost");
	CHECK(!strcmp(b + 2 * PAGE, "detached"), "the page written through a detached attach lost");
	CHECK(await(&bd->child_wrote), "the child's write never reached the parent");
	CHECK(!strcmp(bd->text, "from the child") && !strcmp(b + 100, "child in the removed one"),
	      "the child's writes are not in the parent's segments");
	check_segment(keyed, 3 * PAGE, key, na, 0);
	check_segment(priv, 3 * PAGE, 0, nb, 1);
	__atomic_store_n(&bd->parent_saw, 1, __ATOMIC_SEQ_CST);
	CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && !WEXITSTATUS(st),
	      "child: status %#x", st);
	CHECK(shmdt(a) == 0 && shmdt(b) == 0, "shmdt: %s", strerror(errno));
	if (!target_failures)
		printf("tree_sysv: ok\n");
	return target_exit();
}
