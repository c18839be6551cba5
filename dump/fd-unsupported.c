/*
 * What ckpt cannot restore (yet): named as precisely as the kernel lets
 * ckpt say, so that the dump's refusal, --allow-lost-fds and the
 * inheriting of fds 0-2 can tell the user what it is.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "dump/fd.h"
#include "image/fdkind.h"

static int sockopt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

static void describe_socket(struct dfile *d)
{
	int domain = sockopt(d->copy, SO_DOMAIN), type = sockopt(d->copy, SO_TYPE);
	int proto = sockopt(d->copy, SO_PROTOCOL), listening = sockopt(d->copy, SO_ACCEPTCONN) == 1;
	const char *fam = domain == AF_UNIX ? "unix" : domain == AF_INET ? "IPv4" :
			  domain == AF_INET6 ? "IPv6" : domain == AF_NETLINK ? "netlink" : NULL;
	const char *kind = type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" :
			   type == SOCK_SEQPACKET ? "seqpacket" : type == SOCK_RAW ? "raw" : "";

	if ((domain == AF_INET || domain == AF_INET6) && proto == IPPROTO_TCP)
		dfile_what(d, listening ? "a listening %s TCP socket" : "a %s TCP connection", fam);
	else if ((domain == AF_INET || domain == AF_INET6) && proto == IPPROTO_UDP)
		dfile_what(d, "a %s UDP socket", fam);
	else if (fam)
		dfile_what(d, "a %s%s %s socket", listening ? "listening " : "", fam, kind);
	else
		dfile_what(d, "a socket of family %d", domain);
}

static int unsupported_collect(struct fd_dump *c, struct dfile *d)
{
	const struct fd_kind_info *k = fd_kind(d->f->d.kind);

	(void)c;
	dfile_what(d, "%s", k ? k->a : "a file");
	switch (d->f->d.kind) {
	case CKPT_FD_SOCKET:
		describe_socket(d);
		d->cannot = "sockets are not supported yet";
		d->outside = 1;
		break;
	case CKPT_FD_TTY:
		d->cannot = "terminals are not supported yet";
		d->outside = 1;
		break;
	case CKPT_FD_PTMX:
		d->cannot = "pseudo-terminals are not supported yet";
		break;
	case CKPT_FD_USERFAULTFD:
		d->cannot = "a userfaultfd of the program is not restored";
		break;
	case CKPT_FD_IO_URING:
		d->cannot = "io_uring instances are not supported";
		break;
	case CKPT_FD_OTHER:
		d->cannot = "ckpt does not know this kind of file";
		break;
	default:
		d->cannot = "this kind of file is not supported yet";
	}
	return 0;
}

const struct fd_kind_dump fd_dump_unsupported = { .collect = unsupported_collect };
