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

pid_t tracee_vfork_child(pid_t pid, pid_t tid)
{
	struct dirent *de;
	pid_t child = 0;
	DIR *d;

	if (thread_state(pid, tid) != 'D' || !(d = opendir("/proc")))
		return 0;
	/* A child of pid (a process, not a thread: /proc lists only thread
	 * group leaders) whose address space is pid's: kcmp(2) KCMP_VM 0. */
	while (!child && (de = readdir(d))) {
		pid_t p = (pid_t)atoi(de->d_name);
		struct proc_stat st;

		if (p > 0 && p != pid && proc_read_stat(p, &st) == 0 && st.ppid == pid &&
		    tracee_vfork_shares(pid, p))
			child = p;
	}
	closedir(d);
	return child;
}
