/*
 * A SysV shared memory segment attached (a private one, marked for
 * removal at once so that nothing outlives the test): dump must refuse
 * it by name, since a restore would give plain shared memory instead of
 * the segment.  The target only waits; after GO it checks its data.
 */
#include <sys/ipc.h>
#include <sys/shm.h>

#include "target.h"

int main(void)
{
	int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	char *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);

	if (p == (void *)-1) {
		target_fail("cannot attach a SysV segment: %s", strerror(errno));
		return target_exit();
	}
	shmctl(id, IPC_RMID, NULL);
	strcpy(p, "segment");
	target_wait();
	CHECK(!strcmp(p, "segment"), "segment data lost");
	printf("sysv_shm: ok\n");
	return target_exit();
}
