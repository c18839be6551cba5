/*
 * A command of a shell without job control (sh -c 'tty_fg; :' under
 * script(1)): its process group is the shell's, whose leader (the shell)
 * is not dumped with it, and that group is its terminal's foreground one.
 * After GO, restored by ckpt restore run in the foreground of another
 * terminal: it has a controlling terminal, its group is that terminal's
 * foreground group (ckpt restore's: docs in README, "The controlling
 * terminal"), and it reads a line typed there (a background read would
 * give EIO: SIGTTIN is ignored).  Prints "tty_fg: read LINE".
 * Usage: tty_fg
 */
#include <signal.h>
#include <termios.h>

#include "target.h"

int main(void)
{
	char line[128] = "";
	ssize_t n;

	signal(SIGTTIN, SIG_IGN);
	if (tcgetpgrp(0) != getpgrp() || getpgrp() == getpid()) {
		target_fail("not a foreground command of another's group: pgid %d, foreground %d",
			    getpgrp(), tcgetpgrp(0));
		return target_exit();
	}
	target_wait();
	CHECK(isatty(0), "fd 0 is not a terminal");
	CHECK(tcgetpgrp(0) == getpgrp(), "its group %d is not the terminal's foreground group %d",
	      getpgrp(), tcgetpgrp(0));
	n = read(0, line, sizeof(line) - 1);
	CHECK(n > 0, "cannot read the terminal: %s", n < 0 ? strerror(errno) : "end of file");
	line[n > 0 ? n : 0] = 0;
	line[strcspn(line, "\r\n")] = 0;
	printf("tty_fg: read %s\n", line);
	fflush(stdout);
	return target_exit();
}
