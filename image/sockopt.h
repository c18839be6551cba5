/*
 * The socket options an INET or TCP file carries beyond its opts bits
 * (format.h ckpt_sockopt): the one list dump reads, restore sets (no
 * other: images are untrusted) and an image is checked against.
 */
#ifndef CKPT_IMAGE_SOCKOPT_H
#define CKPT_IMAGE_SOCKOPT_H

#include <stddef.h>
#include <stdint.h>

#include "image/format.h"

struct sockopt_def {
	int level, name;
	uint32_t len;		/* bytes getsockopt gives: 4 an int */
	uint32_t flags;		/* SOCKOPT_* */
	const char *label;	/* "TCP_KEEPIDLE" */
};
#define SOCKOPT_UNCONNECTED	1u	/* not read on a connection: its value there
					   is the connection's (TCP_REPAIR carries it) */
#define SOCKOPT_NAME		2u	/* a name: up to len bytes, NUL-ended */
#define SOCKOPT_DGRAM		4u	/* datagram sockets only: on a TCP one it is
					   not settable (EINVAL) and an accepted
					   connection's differs anyway (mc_ttl: the
					   SYN's TTL) */

#define SOCKOPT_MAX		64	/* rows at most */

/* In the order restore sets them. */
extern const struct sockopt_def sockopt_defs[];
extern const size_t sockopt_ndefs;

const struct sockopt_def *sockopt_find(uint32_t level, uint32_t name);
/* The records ending f's state (nsockopts of them): 0, or -1 when they do
 * not fit its state_len after fixed bytes, or one is not in the list, or
 * its length is not the option's. */
int sockopt_check(const uint8_t *state, uint32_t state_len, size_t fixed, uint32_t n);
/* Record i of them, copied out. */
void sockopt_get(const uint8_t *state, size_t fixed, uint32_t i, struct ckpt_sockopt *r);

#endif
