/*
 * Questions to the kernel's socket diagnostics (sock_diag(7)): a
 * request for one socket by inode, answered with one message whose
 * attributes say what getsockopt cannot (a unix socket's peer, its
 * pending connections); or a dump of every socket a request matches (the
 * listeners bound to a name).  Netlink in ckpt's own network namespace.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "dump/sockdiag.h"

static int ask(int nl, const void *req, size_t len, uint16_t flags)
{
	struct {
		struct nlmsghdr h;
		uint8_t body[128];
	} msg = { .h = { .nlmsg_len = (uint32_t)NLMSG_LENGTH(len), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags), .nlmsg_seq = 1 } };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (len > sizeof(msg.body))
		return -EINVAL;
	memcpy(msg.body, req, len);
	if (sendto(nl, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

int sock_diag_get(const void *req, size_t req_len, struct sock_diag_reply *out)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), ret;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (nl < 0)
		return -errno;
	if ((ret = ask(nl, req, req_len, 0)) < 0)
		goto out;
	out->buf = xmalloc(SOCK_DIAG_BUF);
	n = recv(nl, out->buf, SOCK_DIAG_BUF, 0);
	if (n < 0) {
		ret = -errno;
	} else if (!NLMSG_OK((struct nlmsghdr *)out->buf, (size_t)n)) {
		ret = -EIO;
	} else {
		struct nlmsghdr *h = (struct nlmsghdr *)out->buf;

		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			ret = e->error ? e->error : -ENOENT;
		} else {
			out->msg = NLMSG_DATA(h);
			out->len = h->nlmsg_len - NLMSG_LENGTH(0);
		}
	}
out:
	close(nl);
	if (ret < 0) {
		free(out->buf);
		out->buf = NULL;
	}
	return ret;
}

const void *sock_diag_attr(const struct sock_diag_reply *r, size_t hdr, unsigned type,
			   size_t *len)
{
	const uint8_t *p = (const uint8_t *)r->msg + NLMSG_ALIGN(hdr);
	const uint8_t *end = (const uint8_t *)r->msg + r->len;

	while (p + sizeof(struct nlattr) <= end) {
		const struct nlattr *a = (const struct nlattr *)p;

		if (a->nla_len < sizeof(*a) || p + a->nla_len > end)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == type) {
			*len = a->nla_len - NLA_HDRLEN;
			return p + NLA_HDRLEN;
		}
		p += NLA_ALIGN(a->nla_len);
	}
	*len = 0;
	return NULL;
}

int sock_diag_each(const void *req, size_t req_len,
		   int (*fn)(const struct sock_diag_reply *r, void *arg), void *arg)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), ret;
	void *buf = NULL;

	if (nl < 0)
		return -errno;
	if ((ret = ask(nl, req, req_len, NLM_F_DUMP)) < 0)
		goto out;
	buf = xmalloc(SOCK_DIAG_BUF);
	/* replies come in batches until NLMSG_DONE (netlink(7)) */
	for (;;) {
		ssize_t got = recv(nl, buf, SOCK_DIAG_BUF, 0);
		struct nlmsghdr *h = buf;
		size_t n = got > 0 ? (size_t)got : 0;

		if (got <= 0) {
			ret = got < 0 ? -errno : -EIO;
			goto out;
		}
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct sock_diag_reply r = { .msg = NLMSG_DATA(h),
						     .len = h->nlmsg_len - NLMSG_LENGTH(0) };

			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				ret = e->error ? e->error : -EIO;
				goto out;
			}
			if ((ret = fn(&r, arg)) != 0)
				goto out;
		}
	}
out:
	free(buf);
	close(nl);
	return ret < 0 ? ret : 0;
}
