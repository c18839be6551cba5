/*
 * A MAP_PRIVATE mapping of a file, partly modified: page 1 and part of
 * page 3 written (copy-on-write), page 0 and 4 only read, page 2 never
 * touched; the file ends 100 bytes into page 4.  After restore the
 * mapping shows the modified bytes where they were written and the
 * file's contents elsewhere (zeros past the end), it is still a mapping
 * of that file, and the file on disk is unchanged.
 * Usage: mem_filepriv DIR (the file is DIR/filepriv.dat).
 */
#include <sys/stat.h>

#include "target.h"
#include "mem.h"

#define PAGE	4096ul
#define FSIZE	(4 * PAGE + 100)
#define MSIZE	(5 * PAGE)

static unsigned char want_file[MSIZE];	/* the file's bytes, zero past its end */

int main(int argc, char **argv)
{
	static unsigned char want_map[MSIZE], disk[FSIZE + 1];
	char path[4096];
	unsigned char *m;
	struct map_line ml;
	volatile unsigned char sink;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: mem_filepriv DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/filepriv.dat", argv[1]);
	pat_fill(want_file, FSIZE & ~7ul, 5);
	memset(want_file + FSIZE - 4, 0x5a, 4);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, want_file, FSIZE) != (ssize_t)FSIZE || fsync(fd) < 0) {
		target_fail("cannot write %s: %s", path, strerror(errno));
		return target_exit();
	}
	m = mmap(NULL, MSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		target_fail("mmap %s: %s", path, strerror(errno));
		return target_exit();
	}
	memcpy(want_map, want_file, MSIZE);
	pat_fill(want_map + PAGE, PAGE, 77);
	memset(want_map + 3 * PAGE + 1000, 0xee, 500);
	memcpy(m + PAGE, want_map + PAGE, PAGE);
	memcpy(m + 3 * PAGE + 1000, want_map + 3 * PAGE + 1000, 500);
	sink = m[0] + m[4 * PAGE + 50];
	(void)sink;
	target_wait();

	for (unsigned long i = 0; i < MSIZE; i++)
		if (m[i] != want_map[i]) {
			target_fail("mapping: byte %lu (page %lu) is %#x, want %#x (%s)", i, i / PAGE,
				    m[i], want_map[i],
				    want_map[i] != want_file[i] ? "written by the process" :
				    i < FSIZE ? "the file's" : "zero past the end of the file");
			break;
		}
	if (map_find(m, &ml) < 0) {
		target_fail("the mapping at %p is gone", (void *)m);
	} else {
		CHECK(!strcmp(ml.path, path), "mapping at %p is of \"%s\", want \"%s\"", (void *)m,
		      ml.path, path);
		CHECK(!strcmp(ml.perms, "rw-p"), "mapping is %s, want rw-p", ml.perms);
		CHECK(ml.start == (unsigned long)m && ml.end == (unsigned long)m + MSIZE &&
		      ml.off == 0, "mapping is %lx-%lx at offset %llu, want %p-%p at 0", ml.start,
		      ml.end, ml.off, (void *)m, (void *)(m + MSIZE));
	}
	/* Still private: writing the untouched page does not reach the file. */
	m[2 * PAGE + 8] ^= 0xff;
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, disk, sizeof(disk)) != (ssize_t)FSIZE) {
		target_fail("cannot read %s back (or it changed size): %s", path, strerror(errno));
	} else {
		for (unsigned long i = 0; i < FSIZE; i++)
			if (disk[i] != want_file[i]) {
				target_fail("file: byte %lu is %#x, want %#x", i, disk[i], want_file[i]);
				break;
			}
	}
	return target_exit();
}
