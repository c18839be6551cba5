/*
 * --pid-ns: restore into a new PID namespace, where the original PID is
 * always free.  A namespace's first process must be its PID 1, so we fork
 * a tiny init into it, then setns() ourselves into it for the children we
 * create next (pid_namespaces(7)): the restored process is still our own
 * child and tracee, but has its original PID inside.  Once it is made we
 * go back to our own namespace for later children: while the two differ,
 * the kernel refuses to make threads (clone(2): CLONE_THREAD with EINVAL;
 * kernel/fork.c copy_process), and the page fill runs in threads.
 * The process also gets a mount namespace of its own with the new
 * namespace's /proc on /proc, as `unshare --pid --fork --mount-proc` does:
 * /proc/self, /proc/self/task and the PIDs in /proc are then its own.  init waits for it
 * (through a pidfd: it is not init's child while we live) and reaps
 * whatever gets orphaned in the namespace; when it exits, the kernel
 * kills what is left there.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "restore/restore.h"

static __attribute__((noreturn)) void init_main(int rfd)
{
	pid_t who;
	int pfd;

	close_range(0, (unsigned)rfd - 1, 0);
	close_range((unsigned)rfd + 1, ~0u, 0);
	if (read(rfd, &who, sizeof(who)) != sizeof(who))
		_exit(0);
	pfd = (int)syscall(SYS_pidfd_open, who, 0);
	if (pfd < 0)
		_exit(0);
	for (;;) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (poll(&p, 1, 500) > 0)
			_exit(0);
	}
}

int pidns_enter(struct pidns *ns)
{
	struct clone_args ca = { .flags = CLONE_NEWPID, .exit_signal = SIGCHLD };
	int p[2], nsfd, err;
	char path[64];

	ns->own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (ns->own < 0)
		return error_errno(errno, "cannot open our PID namespace");
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno(errno, "cannot create a pipe");
	ns->init = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (ns->init == 0) {
		close(p[1]);
		init_main(p[0]);
	}
	close(p[0]);
	if (ns->init < 0) {
		close(p[1]);
		return error_errno(errno, "cannot create a PID namespace");
	}
	ns->wfd = p[1];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", ns->init);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWPID) < 0) {
		err = errno;
		if (nsfd >= 0)
			close(nsfd);
		pidns_release(ns, 1);
		return error_errno(err, "cannot enter the new PID namespace");
	}
	close(nsfd);
	return 0;
}

/*
 * In the restored process, before the stub is exec'd: a /proc of its own
 * PID namespace (proc(5): a proc mount shows the mounter's).  Slave
 * mounts: nothing mounted here goes back to ckpt's namespace, what is
 * mounted there still comes in (mount_namespaces(7)).  Plain syscalls,
 * async-signal-safe.
 */
int pidns_child_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

/* Back to our own namespace for our children (threads included); tell
 * init which process to live for: pid as seen from the namespace. */
int pidns_started(struct pidns *ns, pid_t pid)
{
	char path[64], *buf, *line;
	pid_t inner = -1;

	if (setns(ns->own, CLONE_NEWPID) < 0)
		return error_errno(errno, "cannot go back to our own PID namespace");
	close(ns->own);
	ns->own = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, &buf, NULL) == 0) {
		/* NSpid: one PID per level, innermost last. */
		if ((line = strstr(buf, "\nNSpid:"))) {
			char *end = strchr(line + 1, '\n'), *p;

			if (end)
				*end = 0;
			p = strrchr(line, '\t');
			inner = p ? atoi(p + 1) : -1;
		}
		free(buf);
	}
	if (inner <= 0 || write(ns->wfd, &inner, sizeof(inner)) != sizeof(inner))
		return error("cannot hand the process to the namespace's init");
	close(ns->wfd);
	ns->wfd = -1;
	return 0;
}

void pidns_release(struct pidns *ns, int kill_init)
{
	int st;

	if (ns->wfd >= 0)
		close(ns->wfd);
	ns->wfd = -1;
	if (ns->own >= 0)
		close(ns->own);
	ns->own = -1;
	if (ns->init > 0 && kill_init) {
		kill(ns->init, SIGKILL);
		while (waitpid(ns->init, &st, 0) < 0 && errno == EINTR)
			;
	}
	/* Either way it is not ours any more: after --detach, init lives on
	 * (a later release must not kill it, and the namespace with it). */
	ns->init = 0;
}
