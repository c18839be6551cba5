/*
 * Pseudo-terminals the process holds itself, no child (as script(1) or
 * expect hold theirs), at fixed descriptor numbers:
 *   10, 11  pty A: master, slave (O_NONBLOCK), raw mode, 40 rows x 132
 *           columns; "to-master" written on the slave and not read,
 *           "to-slave" written on the master and not read; 16 = dup of 11
 *   12, 13  pty B: master, slave, canonical with echo; "line1\npart"
 *           typed on the master: the slave has a line and a line being
 *           typed, the master has their echo "line1\r\npart"
 *   14      pty C: master only, its slave locked, packet mode
 *   15      pty D: master only, its slave opened and closed (EIO)
 * After GO: each queue holds exactly what it held (no byte twice, no
 * echo of the bytes put back), raw mode still echoes nothing, the window
 * size, lock and packet mode are kept, and bytes flow both ways.
 * Prints pty A's slave path ("/dev/pts/N") once ready.
 * Usage: fd_pty
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "target.h"

static int at(int fd, int n)
{
	if (fd < 0 || dup2(fd, n) != n)
		return -1;
	close(fd);
	return n;
}

static int slave_of(int master, int flags)
{
	char *name;

	if (unlockpt(master) < 0 || !(name = ptsname(master)))
		return -1;
	return open(name, O_RDWR | O_NOCTTY | flags);
}

/* What fd has to read within ms milliseconds (NUL-terminated), "" if nothing. */
static const char *drain(int fd, int ms)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (n < sizeof(buf[0]) - 1 && poll(&p, 1, ms) > 0 && (p.revents & POLLIN)) {
		ssize_t r = read(fd, b + n, sizeof(buf[0]) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		ms = 50;	/* the rest of what is there */
	}
	b[n] = 0;
	return b;
}

#define SAME(got, want, what) CHECK(!strcmp((got), (want)), "%s: got \"%s\", want \"%s\"", what, got, want)

static void setup(void)
{
	struct winsize ws = { 40, 132, 0, 0 };
	struct termios t;
	int m;

	/* A: raw */
	if (at(posix_openpt(O_RDWR | O_NOCTTY), 10) < 0 || at(slave_of(10, O_NONBLOCK), 11) < 0 ||
	    dup2(11, 16) != 16)
		exit(2);
	tcgetattr(11, &t);
	cfmakeraw(&t);
	tcsetattr(11, TCSANOW, &t);
	ioctl(10, TIOCSWINSZ, &ws);
	write(11, "to-master", 9);
	write(10, "to-slave", 8);
	/* B: canonical with echo (a new pty's default) */
	if (at(posix_openpt(O_RDWR | O_NOCTTY), 12) < 0 || at(slave_of(12, 0), 13) < 0)
		exit(2);
	tcgetattr(13, &t);
	t.c_oflag |= OPOST | ONLCR;
	t.c_lflag |= ICANON | ECHO;
	tcsetattr(13, TCSANOW, &t);
	write(12, "line1\npart", 10);
	/* C: locked, packet mode */
	if (at(posix_openpt(O_RDWR | O_NOCTTY), 14) < 0 || ioctl(14, TIOCPKT, &(int){ 1 }) < 0)
		exit(2);
	/* D: slave closed */
	if (at(posix_openpt(O_RDWR | O_NOCTTY), 15) < 0 || (m = slave_of(15, 0)) < 0)
		exit(2);
	close(m);
	/* everything written has reached the line disciplines */
	target_sleep_ms(100);
	/* for the tests: pty A's slave */
	printf("%s\n", ptsname(10));
	fflush(stdout);
}

static void check(void)
{
	struct winsize ws = { 0 };
	struct termios t;
	struct pollfd p = { .fd = 15, .events = POLLIN };
	int v = -1;
	char c;

	/* A */
	CHECK(tcgetattr(11, &t) == 0 && !(t.c_lflag & (ECHO | ICANON)), "pty A: not raw (lflag %#x)",
	      (unsigned)t.c_lflag);
	CHECK(ioctl(11, TIOCGWINSZ, &ws) == 0 && ws.ws_row == 40 && ws.ws_col == 132,
	      "pty A: window %ux%u, want 132x40", ws.ws_col, ws.ws_row);
	CHECK(fcntl(16, F_GETFL) & O_NONBLOCK, "fd 16: not the slave's O_NONBLOCK open");
	SAME(drain(10, 1000), "to-master", "pty A master");
	SAME(drain(11, 1000), "to-slave", "pty A slave");
	write(10, "ping", 4);
	SAME(drain(11, 2000), "ping", "pty A slave after a write on the master");
	SAME(drain(10, 200), "", "pty A master (raw mode echoes nothing)");
	write(16, "pong", 4);
	SAME(drain(10, 2000), "pong", "pty A master after a write on the slave");
	/* B */
	SAME(drain(12, 1000), "line1\r\npart", "pty B master (the echo, once)");
	SAME(drain(13, 1000), "line1\n", "pty B slave (the finished line)");
	write(12, "ial\n", 4);
	SAME(drain(13, 2000), "partial\n", "pty B slave (the line being typed, finished)");
	SAME(drain(12, 1000), "ial\r\n", "pty B master (echo of the new bytes)");
	/* C */
	CHECK(ioctl(14, TIOCGPTLCK, &v) == 0 && v == 1, "pty C: not locked (%d)", v);
	CHECK(ioctl(14, TIOCGPKT, &v) == 0 && v == 1, "pty C: not in packet mode (%d)", v);
	/* D */
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "pty D: no POLLHUP (%#x)", p.revents);
	CHECK(read(15, &c, 1) < 0 && errno == EIO, "pty D: read does not fail with EIO");
}

int main(void)
{
	setup();
	target_wait();
	check();
	return target_exit();
}
