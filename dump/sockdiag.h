/*
 * Socket diagnostics over netlink (sock_diag(7)): one socket by inode,
 * or every socket a request matches.
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
/* Send req as a dump request (NLM_F_DUMP) and call fn for each socket
 * the reply describes (r->buf unset), until fn returns non-zero: 0, or
 * -errno. */
int sock_diag_each(const void *req, size_t req_len,
		   int (*fn)(const struct sock_diag_reply *r, void *arg), void *arg);
/* Attribute type after the family header of hdr bytes: its payload and
 * length, or NULL. */
const void *sock_diag_attr(const struct sock_diag_reply *r, size_t hdr, unsigned type,
			   size_t *len);

#endif
