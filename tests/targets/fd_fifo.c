/*
 * Named FIFOs in DIR, reopened by path in the same mode:
 *   10  DIR/rw, O_RDWR, "fifo-data" buffered
 *   11  DIR/one, O_RDONLY, and 12 DIR/one, O_WRONLY: "ro-wo" buffered
 *   13  DIR/gone, O_RDWR, "ghost" buffered, the FIFO deleted: it comes
 *       back as "DIR/gone (deleted)", nothing left at DIR/gone
 *   and a thread blocked in open(DIR/wait, O_RDONLY), waiting for a
 *   writer: after GO the main thread opens it for writing, and the
 *   thread's open returns and reads what it writes.
 * Usage: fd_fifo DIR
 */
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "target.h"

static char wait_path[4096];
static char got[16];

static void *reader(void *arg)
{
	int fd = open(wait_path, O_RDONLY);

	(void)arg;
	if (fd >= 0) {
		ssize_t n = read(fd, got, sizeof(got) - 1);

		if (n > 0)
			got[n] = 0;
		close(fd);
	}
	return NULL;
}

static void check_fifo(int fd, int acc, const char *want, const char *what)
{
	char buf[64];
	struct stat st;
	int n = -1;

	CHECK(fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode), "%s: not a FIFO", what);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == acc, "%s: access mode %d, want %d", what,
	      fcntl(fd, F_GETFL) & O_ACCMODE, acc);
	CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "%s: became O_NONBLOCK", what);
	if (!want)
		return;
	ioctl(fd, FIONREAD, &n);
	CHECK(n == (int)strlen(want), "%s: %d bytes buffered, want %zu", what, n, strlen(want));
	n = (int)read(fd, buf, sizeof(buf));
	CHECK(n == (int)strlen(want) && !memcmp(buf, want, (size_t)n), "%s: does not read \"%s\"", what,
	      want);
}

static int mkfifo_at(const char *dir, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	return mkfifo(path, 0600);
}

int main(int argc, char **argv)
{
	char rw[4096], one[4096], gone[4096], link[4200], self[64];
	pthread_t t;
	ssize_t n;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: fd_fifo DIR\n");
		return 2;
	}
	if (mkfifo_at(argv[1], "rw", rw, sizeof(rw)) || mkfifo_at(argv[1], "one", one, sizeof(one)) ||
	    mkfifo_at(argv[1], "gone", gone, sizeof(gone)) ||
	    mkfifo_at(argv[1], "wait", wait_path, sizeof(wait_path)) ||
	    dup2(open(rw, O_RDWR), 10) != 10 || write(10, "fifo-data", 9) != 9 ||
	    dup2(open(one, O_RDONLY | O_NONBLOCK), 11) != 11 || fcntl(11, F_SETFL, 0) < 0 ||
	    dup2(open(one, O_WRONLY), 12) != 12 || write(12, "ro-wo", 5) != 5 ||
	    dup2(open(gone, O_RDWR), 13) != 13 || write(13, "ghost", 5) != 5 || unlink(gone) ||
	    pthread_create(&t, NULL, reader, NULL)) {
		target_fail("cannot set up the FIFOs: %s", strerror(errno));
		return target_exit();
	}
	target_wait();

	check_fifo(10, O_RDWR, "fifo-data", "DIR/rw");
	check_fifo(11, O_RDONLY, "ro-wo", "DIR/one, read end");
	check_fifo(12, O_WRONLY, NULL, "DIR/one, write end");
	CHECK(write(12, "more", 4) == 4 && read(11, link, 4) == 4 && !memcmp(link, "more", 4),
	      "DIR/one: no longer carries bytes");
	check_fifo(13, O_RDWR, "ghost", "DIR/gone");
	snprintf(self, sizeof(self), "/proc/self/fd/13");
	n = readlink(self, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && strstr(link, " (deleted)") && !strncmp(link, gone, strlen(gone)),
	      "fd 13 is \"%s\", want \"%s (deleted)\"", link, gone);
	CHECK(access(gone, F_OK) < 0, "%s is there again", gone);
	fd = open(wait_path, O_WRONLY);
	CHECK(fd >= 0 && write(fd, "woken", 5) == 5, "cannot write to %s", wait_path);
	close(fd);
	pthread_join(t, NULL);
	CHECK(!strcmp(got, "woken"), "the thread waiting in open read \"%s\", want \"woken\"", got);
	return target_exit();
}
