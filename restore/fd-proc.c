/*
 * Files of the process's own /proc/PID (dump/fd-proc.c): opened by the
 * restored process itself, in its plan, as "/proc/self" + what followed
 * "/proc/PID", so that they name it at whatever PID it has now (with
 * --pid-ns, /proc is its namespace's: /proc/self is still it), with
 * their flags and offset (a seq_file's lseek reads up to it again).
 * The image layer allows only paths one or two levels down that do not
 * leave /proc (image/fdkind.c fd_proc_rest): the stub opens them before
 * the process has its own credentials again.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "restore/fd.h"

static int proc_open(struct fd_restore *r, const struct img_file *f, int fd0)
{
	(void)fd0;
	r->late[f->d.id - 1] = 1;
	return -1;
}

static void proc_plan_open(struct plan *pl, const struct fd_restore *r, const struct img_file *f,
			   int target)
{
	struct ckpt_fd_proc s;
	char path[CKPT_MAX_PATH + 16];
	int n;

	(void)r;
	fd_state(f, &s, sizeof(s));
	/* image/fdkind.c proc_check: the path starts with /proc/PID */
	n = snprintf(path, sizeof(path), "/proc/%d", s.pid);
	snprintf(path, sizeof(path), "/proc/self%s", f->path + n);
	plan_syscall(pl, 0, STUB_OPF_KEEP, PLAN_R(1), SYS_openat,
		     (uint64_t[6]){ (uint64_t)(int64_t)AT_FDCWD, plan_blob(pl, path, strlen(path) + 1),
				    (uint64_t)fd_reopen_flags(f->d.flags) });
	plan_what(pl, 0, "open %s again as %s for fd %d", f->path, path, target);
	if (f->d.pos) {
		plan_syscall(pl, 0, STUB_OPF_A0_KEPT, 0, SYS_lseek,
			     (uint64_t[6]){ 0, f->d.pos, SEEK_SET });
		plan_what(pl, 0, "move %s to offset %llu", path, (unsigned long long)f->d.pos);
	}
	/* it may have come at target itself (the lowest free fd): dup3
	 * then says EINVAL, and there is nothing to close */
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_MAYFAIL, 0, SYS_dup3,
		     (uint64_t[6]){ 0, (uint64_t)target, 0 });
	plan_what(pl, 0, "put %s at fd %d", path, target);
	plan_syscall(pl, 0, STUB_OPF_A0_KEPT | STUB_OPF_IFOK, 0, SYS_close, (uint64_t[6]){ 0 });
	plan_what(pl, 0, "close the first open of %s", path);
}

const struct fd_kind_restore fd_restore_proc = { .open = proc_open, .plan_open = proc_plan_open };
