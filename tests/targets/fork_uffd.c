/*
 * A program whose forks wait for a userfaultfd monitor: a page of its
 * registered with a userfaultfd with UFFD_FEATURE_EVENT_FORK, the fd held
 * by a monitor process (not its child: a double fork; the program keeps
 * no copy).  A fork of the program, or a clone ckpt injects (--fork),
 * then waits in the kernel, after the copy's memory and before the copy
 * is linked to a tracer (fs/userfaultfd.c dup_userfaultfd_complete, from
 * dup_mmap; kernel/fork.c copy_process, ptrace_init_task later), until
 * the monitor reads the event: the monitor creates DIR/fork-pending when
 * one waits, and reads it once DIR/release exists (then removes both).
 * Its PID is in DIR/monitor.pid.  After GO the program checks the page.
 * Usage: fork_uffd DIR.  Exits 3 without the userfaultfd it needs.
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "target.h"

static void touch_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0)
		close(fd);
}

/* The monitor: one fork event at a time, held until DIR/release. */
static void monitor(int uffd, const char *dir)
{
	char pid[32];
	int fd = open(target_path(dir, "monitor.pid"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(2);
	close(fd);
	for (;;) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&p, 1, -1) <= 0)
			continue;
		touch_file(target_path(dir, "fork-pending"));
		while (access(target_path(dir, "release"), F_OK) < 0)
			target_sleep_ms(5);
		if (read(uffd, &msg, sizeof(msg)) == sizeof(msg) && msg.event == UFFD_EVENT_FORK)
			close((int)msg.arg.fork.ufd);	/* the copy's: unregistered with it */
		unlink(target_path(dir, "fork-pending"));
		unlink(target_path(dir, "release"));
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_FORK };
	uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = { .range = { (uintptr_t)page, 4096 },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	/* non-blocking: a blocking one polls as EPOLLERR (userfaultfd_poll) */
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	pid_t mid;

	if (page == MAP_FAILED)
		return 2;
	memset(page, 0x5a, 4096);	/* present: no missing fault ever */
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
		return 3;
	/* The monitor first: a fork with the page registered waits for it. */
	mid = fork();
	if (mid == 0) {
		setsid();
		if (fork() == 0)
			monitor(uffd, dir);
		_exit(0);
	}
	if (mid < 0 || waitpid(mid, NULL, 0) != mid)
		return 2;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return 3;
	close(uffd);	/* the monitor's alone now */
	while (access(target_path(dir, "monitor.pid"), F_OK) < 0)
		target_sleep_ms(5);
	target_wait();
	for (int i = 0; i < 4096; i++)
		CHECK(page[i] == 0x5a, "byte %d of the registered page is %#x", i, page[i]);
	return target_exit();
}
