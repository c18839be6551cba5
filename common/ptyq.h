/*
 * The bytes buffered in a pseudo-terminal (common/ptyq.c), taken out and
 * typed in again.  A terminal has no way to read its queues without
 * consuming them (there is no tee(2) for ttys), so dump reads them and
 * puts them back at once, and restore puts them into the new pty the
 * same way: the master's queue is written again through the slave with
 * output processing off, the slave's is typed again through the master
 * with echo off (in canonical mode line by line, so that the lines and
 * a line not finished yet stay what they were).
 */
#ifndef CKPT_COMMON_PTYQ_H
#define CKPT_COMMON_PTYQ_H

#include <stddef.h>
#include <stdint.h>
#include <termios.h>

/* The bytes the master has to read (*to_master) then those the slave has
 * to read (*to_slave) of the pty of master (slave: an open slave, -1 if
 * none is open), in *buf; the pty is left holding them again.  0, or
 * -errno after a message naming what (e.g. "fd 4 (/dev/ptmx)"). */
int ptyq_take(int master, int slave, const char *what, uint8_t **buf, uint32_t *to_master,
	      uint32_t *to_slave);
/* Put to_master then to_slave bytes of buf into the pty of master and
 * slave (an open slave), whose termios is t: 0 or -errno after a message. */
int ptyq_put(int master, int slave, const struct termios *t, const char *what, const uint8_t *buf,
	     uint32_t to_master, uint32_t to_slave);

#endif
