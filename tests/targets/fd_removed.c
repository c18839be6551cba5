/*
 * What was removed while the process held it, one case per run, each
 * checked after restore by how it behaves (all under DIR):
 *   holes     a deleted file of 1 GiB with 4 KiB written at 512 MiB: the
 *             data and the holes where they were (SEEK_DATA/SEEK_HOLE),
 *             and no more than 1 MiB of disk (st_blocks)
 *   twofds    a deleted file opened twice (two open files, offsets 5 and
 *             7) and mapped MAP_SHARED: one inode (st_ino), a write through
 *             one fd is read through the other and the mapping, a store
 *             into the mapping is read through the fds
 *   twonames  a file with two names, each opened, then both removed: one
 *             inode again, as above
 *   otherlink a file with two names opened by the first, which is then
 *             removed: the fd is the file still linked under the second
 *             (a write through the fd shows there, st_nlink 1)
 *   private   a deleted file of 3 pages of 'h' open (fd 10) and mapped
 *             MAP_PRIVATE: page 0 written ("own"), page 2 zeroed, page 1
 *             untouched: still a mapping of that file (maps names its
 *             inode), each page as it was, a write through the fd seen in
 *             page 1 (not copied yet) and not in page 0
 *   owner UID GID  a deleted file given to UID:GID, mode 04755, times
 *             2001-09-09 (mtime) and 2002-02-02 (atime): all kept; given
 *             UID:GID 0:0 by a forged image the test expects the file to
 *             be the restoring user's and no setuid root file to exist
 *   memfd     a memfd "ckpt-case" of mode 0640 sealed against shrinking,
 *             mapped MAP_SHARED: name, mode, seals, one memory
 *   cwd       the working directory removed: still a directory, "(deleted)",
 *             where creating a file fails (ENOENT) as it did
 *   cwdfd     the working directory, held open at fd 12 too, removed: one
 *             directory still (st_ino), "(deleted)"
 *   dir       a directory of mode 0750 and mtime 2001-09-09 open (fd 12)
 *             and by O_PATH (fd 13), removed: one directory, that mode
 *             and mtime, "(deleted)", nothing can be made in it
 *   fifo      a FIFO of mode 0620 open O_RDWR with "abc" in it, mtime
 *             2001-09-09, removed: a FIFO with that mode (not what a
 *             umask left of it) and mtime, "abc" to read, "(deleted)"
 * Nothing restore made may be left in DIR.
 * Usage: fd_removed DIR CASE [ARGS]
 */
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "target.h"

#define GIB	(1l << 30)
#define T_MTIME	1000000000l	/* 2001-09-09 */
#define T_ATIME	1012608000l	/* 2002-02-02 */

static char dir[4096], path[4200], path2[4200];
static char *map;

static int fail_setup(const char *what)
{
	target_fail("cannot set up %s: %s", what, strerror(errno));
	return -1;
}

/* fd at number n, the one it came as closed */
static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	if (fd != n)
		close(fd);
	return 0;
}

static int setup(const char *c, char **argv)
{
	char page[4096];
	int fd;

	memset(page, 'h', sizeof(page));
	if (!strcmp(c, "holes")) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, GIB) < 0 || pwrite(fd, page, 4096, GIB / 2) != 4096 ||
		    at(fd, 10) < 0 || unlink(path) < 0)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "twofds") || !strcmp(c, "twonames")) {
		int two = !strcmp(c, "twonames");

		if (at(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), 10) < 0 || write(10, page, 4096) != 4096 ||
		    (two && link(path, path2) < 0) || at(open(two ? path2 : path, O_RDWR), 11) < 0 ||
		    lseek(10, 5, SEEK_SET) != 5 || lseek(11, 7, SEEK_SET) != 7 ||
		    (map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 10, 0)) == MAP_FAILED ||
		    unlink(path) < 0 || (two && unlink(path2) < 0))
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "private")) {
		char pages[3 * 4096];

		memset(pages, 'h', sizeof(pages));
		if (at(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), 10) < 0 ||
		    write(10, pages, sizeof(pages)) != sizeof(pages) ||
		    (map = mmap(NULL, sizeof(pages), PROT_READ | PROT_WRITE, MAP_PRIVATE, 10, 0)) == MAP_FAILED ||
		    unlink(path) < 0)
			return fail_setup(c);
		memcpy(map, "own", 3);
		memset(map + 2 * 4096, 0, 4096);
		return 0;
	}
	if (!strcmp(c, "otherlink")) {
		if (at(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), 10) < 0 || write(10, "abc", 3) != 3 ||
		    link(path, path2) < 0 || unlink(path) < 0)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "owner")) {
		struct timespec t[2] = { { T_ATIME, 0 }, { T_MTIME, 0 } };

		if (!argv[3] || !argv[4])
			return fail_setup("owner: UID GID missing");
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, "owned\n", 6) != 6 ||
		    fchown(fd, (uid_t)atoi(argv[3]), (gid_t)atoi(argv[4])) < 0 || fchmod(fd, 04755) < 0 ||
		    futimens(fd, t) < 0 || at(fd, 10) < 0 || unlink(path) < 0)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "memfd")) {
		fd = memfd_create("ckpt-case", MFD_ALLOW_SEALING);
		if (fd < 0 || write(fd, page, 4096) != 4096 || fchmod(fd, 0640) < 0 ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 || at(fd, 10) < 0 ||
		    (map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 10, 0)) == MAP_FAILED)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "cwdfd")) {
		if (mkdir(path, 0750) < 0 || chdir(path) < 0 || at(open(".", O_RDONLY | O_DIRECTORY), 12) < 0 ||
		    rmdir(path) < 0)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "cwd")) {
		if (mkdir(path, 0750) < 0 || chdir(path) < 0 || rmdir(path) < 0)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "fifo")) {
		struct timespec t[2] = { { T_ATIME, 0 }, { T_MTIME, 0 } };

		umask(0);
		if (mkfifo(path, 0620) < 0 || at(open(path, O_RDWR), 10) < 0 || write(10, "abc", 3) != 3 ||
		    futimens(10, t) < 0 || unlink(path) < 0)
			return fail_setup(c);
		return 0;
	}
	if (!strcmp(c, "dir")) {
		struct timespec t[2] = { { T_ATIME, 0 }, { T_MTIME, 0 } };

		umask(0);
		if (mkdir(path, 0750) < 0 || utimensat(AT_FDCWD, path, t, 0) < 0 ||
		    at(open(path, O_RDONLY | O_DIRECTORY), 12) < 0 ||
		    at(open(path, O_PATH | O_DIRECTORY), 13) < 0 || rmdir(path) < 0)
			return fail_setup(c);
		return 0;
	}
	target_fail("unknown case %s", c);
	return -1;
}

static void link_deleted(const char *l, int fd, const char *want)
{
	char buf[4300], self[64];
	ssize_t n;

	if (l)
		snprintf(self, sizeof(self), "%s", l);
	else
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(n > 10 && !strncmp(buf, want, strlen(want)) && !strcmp(buf + n - 10, " (deleted)"),
	      "%s is \"%s\", want \"%s... (deleted)\"", self, buf, want);
}

static void check_one_inode(void)
{
	struct stat a, b;
	char buf[8] = "";

	CHECK(fstat(10, &a) == 0 && fstat(11, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
	      "fds 10 and 11 are not one inode (%lu, %lu)", (unsigned long)a.st_ino,
	      (unsigned long)b.st_ino);
	CHECK(lseek(10, 0, SEEK_CUR) == 5 && lseek(11, 0, SEEK_CUR) == 7, "offsets %lld %lld, want 5 7",
	      (long long)lseek(10, 0, SEEK_CUR), (long long)lseek(11, 0, SEEK_CUR));
	CHECK(pwrite(10, "one", 3, 100) == 3 && pread(11, buf, 3, 100) == 3 && !memcmp(buf, "one", 3),
	      "a write through fd 10 is not read through fd 11 (\"%.3s\")", buf);
	CHECK(!memcmp(map + 100, "one", 3), "a write through fd 10 is not in the mapping");
	memcpy(map + 200, "two", 3);
	CHECK(pread(11, buf, 3, 200) == 3 && !memcmp(buf, "two", 3),
	      "a store into the mapping is not read through fd 11 (\"%.3s\")", buf);
	link_deleted(NULL, 10, path);
}

/* The inode /proc/self/maps gives for the mapping at addr, or 0. */
static unsigned long maps_inode(const void *addr)
{
	char line[4400];
	unsigned long lo, hi, ino = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3 &&
		    lo == (unsigned long)addr)
			break;
		else
			ino = 0;
	if (f)
		fclose(f);
	return ino;
}

static void check(const char *c, char **argv)
{
	struct stat st, sb;
	char buf[4096];

	if (!strcmp(c, "holes")) {
		CHECK(fstat(10, &st) == 0 && st.st_size == GIB, "size %lld, want 1 GiB", (long long)st.st_size);
		CHECK(st.st_blocks * 512 <= (1 << 20), "%lld bytes on disk, want at most 1 MiB",
		      (long long)st.st_blocks * 512);
		CHECK(lseek(10, 0, SEEK_DATA) == GIB / 2, "first data at %lld, want 512 MiB",
		      (long long)lseek(10, 0, SEEK_DATA));
		CHECK(lseek(10, GIB / 2, SEEK_HOLE) == GIB / 2 + 4096, "hole after the data at %lld",
		      (long long)lseek(10, GIB / 2, SEEK_HOLE));
		CHECK(pread(10, buf, 4096, GIB / 2) == 4096 && buf[0] == 'h' && buf[4095] == 'h',
		      "the data is not back");
		CHECK(pread(10, buf, 16, 4096) == 16 && !buf[0] && !buf[15], "a hole reads non-zero");
		link_deleted(NULL, 10, path);
	} else if (!strcmp(c, "twofds") || !strcmp(c, "twonames")) {
		check_one_inode();
		if (!strcmp(c, "twonames"))
			link_deleted(NULL, 11, path2);
	} else if (!strcmp(c, "private")) {
		CHECK(fstat(10, &st) == 0 && maps_inode(map) == st.st_ino,
		      "the mapping is not of fd 10's file (maps inode %lu, fd %lu)", maps_inode(map),
		      (unsigned long)st.st_ino);
		CHECK(!memcmp(map, "own", 3) && map[3] == 'h', "page 0 is not the process's copy");
		CHECK(map[4096] == 'h' && map[2 * 4096] == 0 && map[3 * 4096 - 1] == 0,
		      "page 1 or 2 differs (%c, %d)", map[4096], map[2 * 4096]);
		CHECK(pwrite(10, "fd", 2, 4096) == 2 && pwrite(10, "fd", 2, 0) == 2,
		      "write through fd 10: %s", strerror(errno));
		CHECK(!memcmp(map + 4096, "fd", 2), "a write through the fd is not seen in page 1");
		CHECK(!memcmp(map, "own", 3), "a write through the fd reached the copied page 0");
		CHECK(pread(10, buf, 3, 0) == 3 && !memcmp(buf, "fdh", 3), "the mapping's copy reached the file");
	} else if (!strcmp(c, "otherlink")) {
		int fd;

		CHECK(fstat(10, &st) == 0 && st.st_nlink == 1, "fd 10: %lu links, want 1",
		      (unsigned long)st.st_nlink);
		CHECK(pwrite(10, "XY", 2, 3) == 2, "write through fd 10: %s", strerror(errno));
		fd = open(path2, O_RDONLY);
		CHECK(fd >= 0 && pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "abcXY", 5),
		      "a write through fd 10 is not in %s", path2);
	} else if (!strcmp(c, "owner")) {
		uid_t u = (uid_t)atoi(argv[3]);
		gid_t g = (gid_t)atoi(argv[4]);

		CHECK(fstat(10, &st) == 0 && st.st_uid == u && st.st_gid == g, "owner %u:%u, want %u:%u",
		      st.st_uid, st.st_gid, u, g);
		CHECK((st.st_mode & 07777) == 04755, "mode %04o, want 4755", st.st_mode & 07777);
		CHECK(st.st_mtim.tv_sec == T_MTIME && st.st_atim.tv_sec == T_ATIME,
		      "mtime %ld atime %ld, want %ld %ld", (long)st.st_mtim.tv_sec,
		      (long)st.st_atim.tv_sec, T_MTIME, T_ATIME);
		CHECK(pread(10, buf, 6, 0) == 6 && !memcmp(buf, "owned\n", 6), "contents differ");
	} else if (!strcmp(c, "memfd")) {
		char l[256] = "";

		CHECK(fstat(10, &st) == 0 && (st.st_mode & 07777) == 0640, "memfd mode %04o, want 0640",
		      st.st_mode & 07777);
		CHECK(fcntl(10, F_GET_SEALS) == F_SEAL_SHRINK, "seals %d, want F_SEAL_SHRINK",
		      fcntl(10, F_GET_SEALS));
		CHECK(readlink("/proc/self/fd/10", l, sizeof(l) - 1) > 0 && !strncmp(l, "/memfd:ckpt-case", 16),
		      "fd 10 is \"%s\"", l);
		memcpy(map + 10, "mm", 2);
		CHECK(pread(10, buf, 2, 10) == 2 && !memcmp(buf, "mm", 2), "the mapping is not the memfd");
	} else if (!strcmp(c, "cwd")) {
		CHECK(stat(".", &st) == 0 && S_ISDIR(st.st_mode), "\".\" is not a directory");
		link_deleted("/proc/self/cwd", -1, path);
		CHECK(open("new", O_RDWR | O_CREAT, 0600) < 0 && errno == ENOENT,
		      "a file could be made in the removed cwd (or %s)", strerror(errno));
	} else if (!strcmp(c, "fifo")) {
		CHECK(fstat(10, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0620,
		      "fd 10 is not a FIFO of mode 0620 (%o)", st.st_mode);
		CHECK(st.st_mtim.tv_sec == T_MTIME, "fd 10: mtime %ld, want %ld", (long)st.st_mtim.tv_sec,
		      T_MTIME);
		CHECK(read(10, buf, sizeof(buf)) == 3 && !memcmp(buf, "abc", 3), "the FIFO lost its bytes");
		link_deleted(NULL, 10, path);
	} else if (!strcmp(c, "cwdfd")) {
		CHECK(stat(".", &st) == 0 && fstat(12, &sb) == 0 && st.st_ino == sb.st_ino &&
		      st.st_dev == sb.st_dev, "the cwd and fd 12 are not one directory");
		link_deleted("/proc/self/cwd", -1, path);
		link_deleted(NULL, 12, path);
	} else if (!strcmp(c, "dir")) {
		CHECK(fstat(12, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
		      "fd 12 is not a directory of mode 0750 (%o)", st.st_mode);
		CHECK(st.st_mtim.tv_sec == T_MTIME, "fd 12: mtime %ld, want %ld", (long)st.st_mtim.tv_sec,
		      T_MTIME);
		CHECK(fstat(13, &st) == 0 && S_ISDIR(st.st_mode), "fd 13 is not a directory");
		CHECK((fcntl(13, F_GETFL) & O_PATH), "fd 13 is not O_PATH");
		CHECK(fstat(12, &st) == 0 && fstat(13, &sb) == 0 && st.st_ino == sb.st_ino &&
		      st.st_dev == sb.st_dev, "fds 12 and 13 are not one directory");
		link_deleted(NULL, 12, path);
		link_deleted(NULL, 13, path);
		CHECK(openat(12, "new", O_RDWR | O_CREAT, 0600) < 0 && errno == ENOENT,
		      "a file could be made in the removed directory (or %s)", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	DIR *d;
	struct dirent *de;

	if (argc < 3) {
		fprintf(stderr, "usage: fd_removed DIR CASE [ARGS]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	snprintf(path, sizeof(path), "%s/%s", dir, argv[2]);
	snprintf(path2, sizeof(path2), "%s/%s.2", dir, argv[2]);
	if (setup(argv[2], argv) < 0)
		return target_exit();
	if (map) {	/* for tests that read the mapping elsewhere (a core) */
		printf("map %lx\n", (unsigned long)map);
		fflush(stdout);
	}
	target_wait();
	check(argv[2], argv);
	d = opendir(dir);
	while (d && (de = readdir(d)))
		CHECK(!strstr(de->d_name, "ckpt-") && strcmp(de->d_name, argv[2]),
		      "%s/%s was left behind", dir, de->d_name);
	if (d)
		closedir(d);
	return target_exit();
}
