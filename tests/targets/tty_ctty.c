/*
 * A program on its controlling terminal, as an editor or a REPL is: it
 * sets its terminal to raw mode (no echo, no canonical lines) once, then
 * waits.  Run it as a session leader on a pty (script -qfec 'exec
 * tty_ctty' /dev/null).  After GO, restored from another terminal: it
 * has a controlling terminal, leads its session on it as before, its
 * group is the terminal's foreground group, the terminal is in the raw
 * mode it set, and it got SIGWINCH (its window was 100x50, the new one
 * is not: its size is to be asked for).  Prints its terminal's name at start and after GO.
 * With "own": it makes its session and terminal itself, a pty whose
 * master it holds (fd 10, the slave fd 11), and opens /dev/tty (fd 12);
 * after GO its controlling terminal is that pty's slave, it is the
 * foreground group, and what it writes to fd 12 reaches the master.
 * Usage: tty_ctty [own]
 */
#include <sys/stat.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "target.h"

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

/* The controlling terminal's device: /proc/self/stat field 7 (fstat of
 * /dev/tty gives /dev/tty's own, 5:0). */
static dev_t ctty_dev(void)
{
	char buf[1024], *p;
	unsigned long v = 0;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY);

	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if ((p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %*d %*d %*d %lu", &v);
	return (dev_t)v;
}

/* Its own session on a pty of its own: open(2) of the slave without
 * O_NOCTTY makes it the session's controlling terminal (tty_open). */
static int own(void)
{
	struct stat b;
	char *name;
	int tty;

	if (dup2(posix_openpt(O_RDWR | O_NOCTTY), 10) != 10 || unlockpt(10) < 0 ||
	    !(name = ptsname(10)) || setsid() < 0 || dup2(open(name, O_RDWR), 11) != 11 ||
	    dup2(open("/dev/tty", O_RDWR), 12) != 12)
		return 2;
	target_wait();
	{
		char buf[64] = "";
		struct pollfd p = { .fd = 10, .events = POLLIN };
		ssize_t n;

		CHECK(write(12, "via /dev/tty", 12) == 12, "fd 12: cannot write: %s", strerror(errno));
		n = poll(&p, 1, 5000) == 1 ? read(10, buf, sizeof(buf) - 1) : -1;
		buf[n > 0 ? n : 0] = 0;
		CHECK(!strcmp(buf, "via /dev/tty"), "fd 12 (/dev/tty) does not reach its pty: \"%s\"", buf);
	}
	tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	CHECK(tty >= 0, "no controlling terminal after restore: %s", strerror(errno));
	CHECK(fstat(11, &b) == 0 && ctty_dev() == b.st_rdev,
	      "its controlling terminal %#lx is not its pty's slave (fd 11, %#lx)",
	      (unsigned long)ctty_dev(), (unsigned long)b.st_rdev);
	CHECK(getsid(0) == getpid(), "not a session leader (session %d)", (int)getsid(0));
	CHECK(tcgetpgrp(11) == getpgrp(), "not the foreground group of its pty (%d)", (int)tcgetpgrp(11));
	return target_exit();
}

int main(int argc, char **argv)
{
	struct termios t;
	int tty;

	if (argc > 1 && !strcmp(argv[1], "own"))
		return own();
	tty = open("/dev/tty", O_RDWR | O_NOCTTY);

	if (tty < 0 || getsid(0) != getpid() || tcgetattr(tty, &t) < 0) {
		fprintf(stderr, "tty_ctty: not a session leader on its controlling terminal\n");
		return 2;
	}
	close(tty);
	signal(SIGWINCH, on_winch);
	cfmakeraw(&t);
	tcsetattr(0, TCSANOW, &t);
	/* a window of its own: the restoring terminal's differs */
	ioctl(0, TIOCSWINSZ, &(struct winsize){ 50, 100, 0, 0 });
	target_sleep_ms(50);
	winch = 0;	/* that resize's own */
	fprintf(stderr, "tty_ctty: on %s\r\n", ttyname(0));
	target_wait();
	tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	CHECK(tty >= 0, "no controlling terminal after restore: %s", strerror(errno));
	CHECK(getsid(0) == getpid(), "not a session leader (session %d)", (int)getsid(0));
	CHECK(tty >= 0 && tcgetpgrp(tty) == getpgrp(), "not the terminal's foreground group (%d, not %d)",
	      tty >= 0 ? (int)tcgetpgrp(tty) : -1, (int)getpgrp());
	CHECK(tty >= 0 && tcgetattr(tty, &t) == 0 && !(t.c_lflag & (ECHO | ICANON)) &&
	      !(t.c_oflag & OPOST), "the terminal is not in raw mode (lflag %#x oflag %#x)",
	      (unsigned)t.c_lflag, (unsigned)t.c_oflag);
	for (int i = 0; i < 200 && !winch; i++)
		target_sleep_ms(10);
	CHECK(winch, "no SIGWINCH");
	fprintf(stderr, "tty_ctty: now on %s\r\n", ttyname(0));
	return target_exit();
}
