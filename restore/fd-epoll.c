/*
 * epoll: the instance is made in ckpt; its registrations are made by the
 * restored process itself, in its plan, once every fd is in place: they
 * are keyed by fd number (the kernel's epitem holds file and fd), so
 * they must name the numbers the process has.  A registration of a file
 * that was not restored exactly (an fd inherited from ckpt restore, or
 * /dev/null for one lost) may fail: ckpt warns, naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "image/fdkind.h"
#include "restore/fd.h"

/* Each registration names a file and the fd number it was registered
 * under: the process must have that file at that number. */
static int check_entries(const struct fd_restore *r, const struct img_file *f, int fd0)
{
	struct ckpt_fd_epoll s;

	fd_state(f, &s, sizeof(s));
	for (uint32_t i = 0; i < s.nentries; i++) {
		struct ckpt_epoll_entry e;
		uint32_t k = 0;

		memcpy(&e, f->state + sizeof(s) + i * sizeof(e), sizeof(e));
		while (k < r->p->d.nfds && r->p->fds[k].d.fd != e.tfd)
			k++;
		if (k == r->p->d.nfds || r->p->fds[k].d.file != e.file)
			return error("image is corrupted: epoll fd %d watches fd %d as file %u, which the "
				     "process does not have there", fd0, e.tfd, e.file);
	}
	return 0;
}

static int epoll_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	int fd, ret = check_entries(r, f, fd0);

	if (ret < 0)
		return ret;
	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return error_errno(errno, "fd %d (%s): cannot make an epoll instance", fd0, f->path);
	return fd;
}

static void epoll_register(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			   int target)
{
	struct ckpt_fd_epoll s;

	fd_state(f, &s, sizeof(s));
	for (uint32_t i = 0; i < s.nentries; i++) {
		const struct img_file *w;
		struct ckpt_epoll_entry e;
		struct epoll_event ev;

		memcpy(&e, f->state + sizeof(s) + i * sizeof(e), sizeof(e));
		w = img_file(r->img, e.file);
		memset(&ev, 0, sizeof(ev));
		ev.events = e.events;
		ev.data.u64 = e.data;
		/* struct epoll_event is this arch's (packed on x86-64), as
		 * the stub's is: ckpt and the stub are one build */
		plan_syscall(pl, 0, w && w->d.policy == CKPT_FPOL_EXACT ? 0 : STUB_OPF_MAYFAIL,
			     PLAN_R(3), SYS_epoll_ctl, (uint64_t[6]){ (uint64_t)target, EPOLL_CTL_ADD,
			     (uint64_t)(int64_t)e.tfd, plan_blob(pl, &ev, sizeof(ev)) });
		plan_what(pl, 0, "register fd %d (%s) in epoll fd %d", e.tfd,
			  w ? fd_file_what(w) : "?", target);
	}
}

const struct fd_kind_restore fd_restore_epoll = { .open = epoll_open, .plan_after = epoll_register };
