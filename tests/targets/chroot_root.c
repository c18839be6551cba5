/*
 * A process whose root directory is DIR (chroot), its working directory
 * /sub in there: after restore "/" is DIR again (same device and inode),
 * the working directory /sub, and nothing outside DIR is reachable by
 * path.  The protocol's files are DIR/ready and DIR/go, /ready and /go
 * once inside.
 */
#include <sys/stat.h>

#include "target.h"

int main(int argc, char **argv)
{
	struct stat was, now;
	char path[4096], outer_go[4096], cwd[256] = "";
	const char *go = getenv("CKPT_GO");

	if (argc < 2)
		return 2;
	snprintf(path, sizeof(path), "%s/sub", argv[1]);
	if (mkdir(path, 0755) < 0 || chroot(argv[1]) < 0 || chdir("/sub") < 0 ||
	    stat("/", &was) < 0) {
		target_fail("mkdir/chroot/chdir %s: %s", argv[1], strerror(errno));
		return target_exit();
	}
	/* Restored without its root, it sees $CKPT_GO as it is outside:
	 * that ends the wait too, and the checks fail (no hang). */
	snprintf(outer_go, sizeof(outer_go), "%s", go ? go : "/go");
	setenv("CKPT_READY", "/ready", 1);
	target_ready();
	while (access("/go", F_OK) && access(outer_go, F_OK))
		target_sleep_ms(5);
	CHECK(stat("/", &now) == 0 && now.st_dev == was.st_dev && now.st_ino == was.st_ino,
	      "the root directory is not the one it had (chroot lost)");
	CHECK(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/sub"), "working directory \"%s\", was /sub", cwd);
	CHECK(access("/sub", F_OK) == 0, "/sub not found from the root");
	printf("chroot_root: ok\n");
	return target_exit();
}
