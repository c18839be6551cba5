/*
 * A SysV shared memory segment attached at two places, the second one
 * made read-only with mprotect after a part of its data is written.
 *   sysv_shm keyed KEY   a segment with that key, left for the test to
 *                        remove (or not) between dump and restore
 *   sysv_shm private     a private one, removed at once (IPC_RMID): it
 *                        lives as long as it is attached
 * After restore: the data is there, both attaches are the one segment
 * (a store through one is read through the other), the id the process
 * knows still names it (IPC_STAT: its size, its attach count as before,
 * which counts each mapping: ipc/shm.c shm_open on a split, removed or
 * not as before), and shmdt detaches.
 */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "target.h"

#define LEN	(3 * 4096)

int main(int argc, char **argv)
{
	int keyed = argc > 2 && !strcmp(argv[1], "keyed");
	key_t key = keyed ? (key_t)strtol(argv[2], NULL, 0) : IPC_PRIVATE;
	int id = shmget(key, LEN, IPC_CREAT | IPC_EXCL | 0640);
	char *a = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	char *b = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	struct shmid_ds ds;
	unsigned long nattch = 0;

	if (a == (void *)-1 || b == (void *)-1) {
		target_fail("cannot attach a SysV segment: %s", strerror(errno));
		return target_exit();
	}
	if (!keyed)
		shmctl(id, IPC_RMID, NULL);
	strcpy(a, "segment");
	strcpy(a + 2 * 4096, "last page");
	mprotect(b + 4096, 4096, PROT_READ);
	if (shmctl(id, IPC_STAT, &ds) == 0)
		nattch = (unsigned long)ds.shm_nattch;
	target_wait();

	CHECK(!strcmp(b, "segment") && !strcmp(a + 2 * 4096, "last page"), "segment data lost");
	strcpy(b, "shared");
	CHECK(!strcmp(a, "shared"), "the two attaches are not one segment");
	if (shmctl(id, IPC_STAT, &ds) < 0) {
		target_fail("segment %d: %s", id, strerror(errno));
	} else {
		CHECK(ds.shm_segsz == LEN && ds.shm_nattch == nattch,
		      "segment %d: %zu bytes, %lu attaches, were %lu", id, (size_t)ds.shm_segsz,
		      (unsigned long)ds.shm_nattch, nattch);
		CHECK(!!(ds.shm_perm.mode & SHM_DEST) == !keyed, "segment %d: mode %o", id,
		      ds.shm_perm.mode);
		CHECK(!keyed || ds.shm_perm.__key == key, "segment %d: key %#x", id, ds.shm_perm.__key);
	}
	CHECK(mprotect(b + 4096, 4096, PROT_READ | PROT_WRITE) == 0, "the read-only part: %s",
	      strerror(errno));
	CHECK(shmdt(a) == 0 && shmdt(b) == 0, "shmdt: %s", strerror(errno));
	printf("sysv_shm: ok\n");
	return target_exit();
}
