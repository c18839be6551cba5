/*
 * Bytes buffered in a pseudo-terminal, taken out and typed in again
 * (ptyq.h).  Facts from drivers/tty/n_tty.c (Linux 6.x): FIONREAD on a
 * canonical terminal counts only finished lines (inq_canon), the
 * end-of-file character of a line is not counted and a read returns its
 * line without it (a read of 0 bytes for an empty one); turning ICANON
 * on or off with bytes queued redraws the line boundaries
 * (n_tty_set_termios), so ICANON is never changed while bytes are
 * queued for the slave.  Written bytes reach the line discipline from a
 * work queue: poll(2) on a terminal with nothing to read waits for it
 * (tty_buffer_flush_work), and TCSETS waits for a receive in progress
 * (termios_rwsem).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ptyq.h"
#include "common/util.h"

#define PTYQ_MAX (1u << 20)	/* more than a pty holds (64 KiB of flip buffers + 4 KiB) */

static int avail(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = 0;

	poll(&p, 1, 0);		/* lets written bytes reach the line discipline */
	return ioctl(fd, FIONREAD, &n) < 0 ? -errno : n;
}

/* Until fd has at least want bytes to read (FIONREAD), for at most 10 s. */
static int wait_avail(int fd, uint32_t want)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000; i++) {
		int n = avail(fd);

		if (n < 0 || (uint32_t)n >= want)
			return n < 0 ? n : 0;
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

static void append(uint8_t **buf, uint32_t *len, const void *p, size_t n)
{
	*buf = xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, p, n);
	*len += (uint32_t)n;
}

/* The master's queue: its packet mode puts a status byte before each
 * read's data (TIOCPKT_DATA, 0) or alone (a control status, dropped). */
static int take_master(int master, const char *what, uint8_t **buf, uint32_t *len)
{
	int packet = 0, n;
	char tmp[4097];

	ioctl(master, TIOCGPKT, &packet);
	while ((n = avail(master)) > 0 && *len < PTYQ_MAX) {
		ssize_t r = read(master, tmp, MIN((size_t)n + !!packet, sizeof(tmp)));

		if (r < 0)
			return error_errno(errno, "%s: cannot read the bytes buffered for the master", what);
		if (!packet)
			append(buf, len, tmp, (size_t)r);
		else if (r > 1 && tmp[0] == 0)
			append(buf, len, tmp + 1, (size_t)r - 1);
	}
	return n < 0 ? error_errno(-n, "%s: cannot count the bytes buffered in it", what) : 0;
}

/* c ends a line in canonical mode (VEOF aside): n_tty's is_line_end */
static int line_end(const struct termios *t, unsigned char c)
{
	return c == '\n' || (t->c_cc[VEOL] && c == t->c_cc[VEOL]) ||
	       ((t->c_lflag & IEXTEN) && t->c_cc[VEOL2] && c == t->c_cc[VEOL2]);
}

/* The slave's queue, slave non-blocking: in canonical mode its lines one
 * read each, then (ICANON off, nothing queued) the line being typed. */
static int take_slave(int master, int slave, const char *what, uint8_t **buf, uint32_t *len)
{
	struct termios t, w;
	char tmp[4096];
	ssize_t r;

	if (tcgetattr(master, &t) < 0)
		return error_errno(errno, "%s: cannot read its termios", what);
	if (t.c_lflag & ICANON) {
		while (*len < PTYQ_MAX && (r = read(slave, tmp, sizeof(tmp))) >= 0) {
			if (r == 0 && t.c_cc[VEOF] == 0)
				break;
			append(buf, len, r ? tmp : (char *)&t.c_cc[VEOF], r ? (size_t)r : 1);
			if (r && !line_end(&t, (unsigned char)tmp[r - 1]))
				append(buf, len, (char *)&t.c_cc[VEOF], 1);	/* ended by VEOF */
		}
		w = t;
		w.c_lflag &= ~(tcflag_t)ICANON;
		w.c_cc[VMIN] = w.c_cc[VTIME] = 0;
		if (tcsetattr(master, TCSANOW, &w) < 0)
			return error_errno(errno, "%s: cannot read the line being typed", what);
	}
	while (*len < PTYQ_MAX && (r = read(slave, tmp, sizeof(tmp))) > 0)
		append(buf, len, tmp, (size_t)r);
	if ((t.c_lflag & ICANON) && tcsetattr(master, TCSANOW, &t) < 0)
		return error_errno(errno, "%s: cannot set its termios back", what);
	return 0;
}

int ptyq_take(int master, int slave, const char *what, uint8_t **buf, uint32_t *to_master,
	      uint32_t *to_slave)
{
	struct termios t;
	uint32_t len = 0;
	int ret;

	*buf = NULL;
	*to_master = *to_slave = 0;
	if (tcgetattr(master, &t) < 0)
		return error_errno(errno, "%s: cannot read its termios", what);
	if ((ret = take_master(master, what, buf, &len)) < 0)
		return ret;
	*to_master = len;
	if (slave >= 0 && (ret = take_slave(master, slave, what, buf, &len)) < 0)
		return ret;
	*to_slave = len - *to_master;
	if (!len)
		return 0;
	return ptyq_put(master, slave, &t, what, *buf, *to_master, *to_slave);
}

/* The bytes FIONREAD counts once a canonical slave has them: those of
 * finished lines, without the VEOF that ended a line. */
static uint32_t canon_count(const struct termios *t, const uint8_t *p, uint32_t n)
{
	uint32_t lines = 0, eofs = 0, seen_eofs = 0;

	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		int eof = t->c_cc[VEOF] && c == t->c_cc[VEOF];

		seen_eofs += eof;
		if (eof || line_end(t, c)) {
			lines = i + 1;
			eofs = seen_eofs;
		}
	}
	return lines - eofs;
}

int ptyq_put(int master, int slave, const struct termios *t, const char *what, const uint8_t *buf,
	     uint32_t to_master, uint32_t to_slave)
{
	struct termios w = *t;
	int ret = 0;

	if (to_master) {
		w.c_oflag &= ~(tcflag_t)OPOST;
		if (tcsetattr(master, TCSANOW, &w) < 0 || (ret = write_all(slave, buf, to_master)) < 0 ||
		    (ret = wait_avail(master, to_master)) < 0)
			return error_errno(ret ? -ret : errno, "%s: cannot put back the %u bytes buffered "
					   "for the master", what, to_master);
	}
	if (to_slave) {
		uint32_t want = (t->c_lflag & ICANON) ? canon_count(t, buf + to_master, to_slave) : to_slave;

		/* typed again as they were typed, but not echoed nor
		 * translated twice; ICANON stays as it is */
		w = *t;
		w.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ECHOPRT | ISIG);
		w.c_iflag &= ~(tcflag_t)(INLCR | ICRNL | IGNCR | IUCLC | ISTRIP | IXON);
		if (tcsetattr(master, TCSANOW, &w) < 0 ||
		    (ret = write_all(master, buf + to_master, to_slave)) < 0 ||
		    (ret = want ? wait_avail(slave, want) : avail(slave)) < 0)
			return error_errno(ret ? -ret : errno, "%s: cannot put back the %u bytes buffered "
					   "for the slave", what, to_slave);
	}
	if (tcsetattr(master, TCSANOW, t) < 0)
		return error_errno(errno, "%s: cannot set its termios back", what);
	return 0;
}
