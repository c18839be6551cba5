/*
 * Socket diagnostics over netlink (sock_diag(7)), one socket at a time.
 */
#ifndef CKPT_DUMP_SOCKDIAG_H
#define CKPT_DUMP_SOCKDIAG_H

#include <stddef.h>

#define SOCK_DIAG_BUF	65536	/* a listener's pending connections fit */

struct sock_diag_reply {
	void *buf;		/* free() it */
	const void *msg;	/* the family's header (unix_diag_msg...), then attributes */
	size_t len;
};

/* Send req (a unix_diag_req, inet_diag_req_v2) and take the one reply:
 * 0, or -errno (-ENOENT: no such socket, -EPROTONOSUPPORT...). */
int sock_diag_get(const void *req, size_t req_len, struct sock_diag_reply *out);
/* Attribute type after the family header of hdr bytes: its payload and
 * length, or NULL. */
const void *sock_diag_attr(const struct sock_diag_reply *r, size_t hdr, unsigned type,
			   size_t *len);

#endif
