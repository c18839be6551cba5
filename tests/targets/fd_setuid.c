/*
 * A file opened with credentials the process no longer has: started as
 * root, it opens FILE (root's, mode 0600) at fd 50 and maps it shared,
 * then gives up root for UID:GID (no supplementary groups), as a daemon
 * does after opening what it needs.  After GO: fd 50 still reads FILE's
 * bytes from where it was, the mapping shows them, and the process still
 * cannot open FILE by its path nor has root again.
 *
 * Usage: fd_setuid FILE UID GID
 */
#include <grp.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "target.h"

#define FD 50

int main(int argc, char **argv)
{
	char want[64] = { 0 }, got[64] = { 0 };
	uid_t uid, ruid, euid, suid;
	gid_t gid;
	const char *m;
	ssize_t n;
	int fd;

	if (argc != 4)
		return 2;
	uid = (uid_t)strtoul(argv[2], NULL, 10);
	gid = (gid_t)strtoul(argv[3], NULL, 10);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || dup2(fd, FD) < 0 || pread(FD, want, sizeof(want) - 1, 0) < 8)
		return 2;
	close(fd);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, FD, 0);
	if (m == MAP_FAILED || lseek(FD, 4, SEEK_SET) != 4)
		return 2;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return 2;
	if (open(argv[1], O_RDONLY) >= 0 || errno != EACCES)
		return 2;	/* the test needs a file only root may read */
	target_wait();
	n = read(FD, got, sizeof(got) - 1);
	CHECK(n > 0 && !strcmp(got, want + 4), "fd %d reads \"%s\" (%zd), not \"%s\"", FD, got, n,
	      want + 4);
	CHECK(!memcmp(m, want, strlen(want)), "the mapping shows \"%.8s\", not \"%.8s\"", m, want);
	fd = open(argv[1], O_RDONLY);
	CHECK(fd < 0 && errno == EACCES, "\"%s\" can be opened again by its path (%d, %s)", argv[1],
	      fd, strerror(errno));
	getresuid(&ruid, &euid, &suid);
	CHECK(ruid == uid && euid == uid && suid == uid, "uids %u %u %u, not %u", ruid, euid, suid,
	      uid);
	CHECK(setresuid(0, 0, 0) < 0, "the process could become root again");
	return target_exit();
}
