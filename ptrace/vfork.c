/*
 * A thread in vfork() (docs/trees.md 2.1, step 4).  vfork(2): "the calling
 * thread is suspended until the child terminates or makes a call to
 * execve(2)"; until then the child shares its memory.  kernel/fork.c
 * kernel_clone() waits in wait_for_vfork_done(), killable and
 * uninterruptible ('D' in /proc/PID/task/TID/stat); no ptrace stop, not
 * even PTRACE_INTERRUPT's, comes before the child lets it go (mm_release
 * on exec or exit).  So a freeze that waits for such a thread waits for
 * its child: the child must be let run on to its exec, and the wait bounded.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"

/* The state letter of thread tid of pid; 0 if it is gone. */
static char thread_state(pid_t pid, pid_t tid)
{
	char path[64], *buf, *p, state = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	if (read_file(path, &buf, NULL) < 0)
		return 0;
	/* after the comm, which may hold spaces and parentheses */
	if ((p = strrchr(buf, ')')) && p[1] == ' ')
		state = p[2];
	free(buf);
	return state;
}

int tracee_vfork_shares(pid_t pid, pid_t child)
{
	return syscall(SYS_kcmp, pid, child, KCMP_VM, 0, 0) == 0;
}

/*
 * Whether p may share pid's memory, where kcmp(2) may not look (EPERM: p's
 * credentials, not the memory's, which are pid's: a process with its
 * creds in a user namespace above ckpt's).  VmSize (mm->total_vm, in
 * /proc/PID/status for anyone) is the same in two processes of one mm;
 * pid's read before and after p's, and not the same twice: cannot tell
 * (a mapping made then, and undone, in between is not seen).
 */
static int may_share(pid_t pid, pid_t p)
{
	struct proc_status a, b, a2;

	if (proc_read_status(pid, &a) < 0 || proc_read_status(p, &b) < 0)
		return 0;	/* gone */
	if (proc_read_status(pid, &a2) < 0 || a.vmsize_kb != a2.vmsize_kb)
		return 1;
	return b.vmsize_kb == a.vmsize_kb;
}

/*
 * A process other than pid whose address space is pid's (kcmp(2) KCMP_VM
 * 0), with parent > 0 only a child of parent; 0 if none, -1 if it cannot
 * be told (no CONFIG_KCMP).  /proc lists only thread group leaders: pid's
 * own threads are not asked.
 */
static pid_t find_sharer(pid_t pid, pid_t parent)
{
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	if (!(d = opendir("/proc")))
		return -1;
	while (!found && (de = readdir(d))) {
		pid_t p = (pid_t)atoi(de->d_name);
		struct proc_stat st;
		long r;

		if (p <= 0 || p == pid ||
		    (parent > 0 && (proc_read_stat(p, &st) < 0 || st.ppid != parent)))
			continue;
		r = syscall(SYS_kcmp, pid, p, KCMP_VM, 0, 0);
		if (r == 0)
			found = p;
		else if (r < 0 && parent <= 0 && errno == EPERM)
			found = may_share(pid, p) ? p : 0;
		else if (r < 0 && parent <= 0 && errno != ESRCH)
			found = -1;	/* (gone meanwhile: ESRCH) */
	}
	closedir(d);
	return found;
}

pid_t tracee_vfork_child(pid_t pid, pid_t tid)
{
	pid_t child;

	if (thread_state(pid, tid) != 'D')
		return 0;
	child = find_sharer(pid, pid);
	return child > 0 ? child : 0;
}

pid_t tracee_mm_sharer(pid_t pid)
{
	return find_sharer(pid, 0);
}
