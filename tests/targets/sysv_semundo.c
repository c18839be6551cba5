/*
 * A SysV semaphore set raised by 5, with semop(SEM_UNDO) ("undo", "lost")
 * or without ("plain"), then READY; after GO its value must still be 5
 * (but "lost": dumped --kill --lose-sem-undo, the kill undid it), and the
 * set is removed.  A process with an undo list cannot be dumped whole (no
 * one can read the adjustments): dump refuses it, and it runs on.
 */
#include <sys/ipc.h>
#include <sys/sem.h>

#include "target.h"

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "undo";
	struct sembuf op = { 0, 5, strcmp(mode, "plain") ? SEM_UNDO : 0 };
	int id = semget(IPC_PRIVATE, 1, 0600 | IPC_CREAT), v;

	if (id < 0 || semop(id, &op, 1) < 0) {
		target_fail("semget/semop: %s", strerror(errno));
		return target_exit();
	}
	target_wait();
	v = semctl(id, 0, GETVAL);
	CHECK(!strcmp(mode, "lost") || v == 5, "semaphore value %d, was 5", v);
	semctl(id, 0, IPC_RMID);
	printf("sysv_semundo: ok\n");
	return target_exit();
}
