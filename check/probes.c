/*
 * The probes of ckpt check.  Each one runs in a child of its own
 * (check/check.c), so it may change that child freely: set its mm fields,
 * clear its soft-dirty bits, fork and trace grandchildren.  Each tries
 * the real operation the way dump or restore uses it, rather than guess
 * from kernel versions.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <elf.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check/check.h"
#include "common/netlock.h"
#include "common/util.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"

/*
 * Linux >= 6.7, include/uapi/linux/fs.h; Debian 12's linux-libc-dev (6.1)
 * lacks them, so our own copies (same encoding on x86-64 and arm64).
 */
struct check_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct check_page_region {
	uint64_t start, end, categories;
};
#define CHECK_PAGEMAP_SCAN	_IOWR('f', 16, struct check_pm_scan_arg)
#define CHECK_PAGE_IS_PRESENT	(1ull << 3)

/* include/uapi/linux/userfaultfd.h, Linux >= 6.7 and 6.4 */
#define CHECK_UFFD_FEATURE_WP_ASYNC		(1ull << 15)
#define CHECK_UFFD_FEATURE_WP_UNPOPULATED	(1ull << 13)

/* include/uapi/linux/memfd.h, Linux >= 6.3 */
#define CHECK_MFD_EXEC		0x10u

/* include/uapi/linux/capability.h; CAP_CHECKPOINT_RESTORE is Linux >= 5.9 */
#define CHECK_CAP_SYS_PTRACE		19
#define CHECK_CAP_SYS_ADMIN		21
#define CHECK_CAP_SYS_RESOURCE		24
#define CHECK_CAP_CHECKPOINT_RESTORE	40

/* fs/proc/task_mmu.c: bit 55 of a pagemap entry */
#define CHECK_PM_SOFT_DIRTY		(1ull << 55)

static const uint64_t target_magic = 0x636b70742d636865ull;

/* ok, nothing more to say */
static int probe_ok(struct probe_result *r)
{
	r->note[0] = 0;
	r->state = PROBE_OK;
	return PROBE_OK;
}

/* A child that only waits to be looked at, and dies with its parent. */
static pid_t start_target(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;)
			pause();
	}
	return pid;
}

static void stop_target(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

static long read_long(const char *path, long dflt)
{
	char *buf;
	long v;

	if (read_file(path, &buf, NULL) < 0)
		return dflt;
	v = strtol(buf, NULL, 10);
	free(buf);
	return v;
}

/* The way dump freezes a thread: seize, interrupt, read registers, let go. */
int probe_ptrace(struct probe_result *r)
{
	const char *step;
	uint8_t regs[4096];	/* any arch's NT_PRSTATUS fits */
	size_t len = sizeof(regs);
	pid_t pid = start_target();
	int st, ret;

	if (pid < 0)
		return probe_set(r, PROBE_ERROR, "fork: %s", strerror(errno));
	step = "PTRACE_SEIZE";
	if ((ret = (int)tracee_call(PTRACE_SEIZE, pid, 0, 0)) < 0)
		goto fail;
	step = "PTRACE_INTERRUPT";
	if ((ret = (int)tracee_call(PTRACE_INTERRUPT, pid, 0, 0)) < 0)
		goto fail;
	step = "waitpid";
	if ((ret = tracee_wait(pid, &st, __WALL)) < 0)
		goto fail;
	if (!WIFSTOPPED(st)) {
		probe_set(r, PROBE_ERROR, "the traced child did not stop (status %#x)", st);
		goto out;
	}
	step = "PTRACE_GETREGSET";
	if ((ret = tracee_get_regset(pid, NT_PRSTATUS, regs, &len)) < 0)
		goto fail;
	step = "PTRACE_DETACH";
	if ((ret = (int)tracee_call(PTRACE_DETACH, pid, 0, 0)) < 0)
		goto fail;
	probe_ok(r);
	goto out;
fail:
	probe_set(r, PROBE_MISSING, "%s: %s", step, strerror(-ret));
out:
	stop_target(pid);
	return r->state;
}

/* Read a known word from a child, first as dump does, then its fallback. */
int probe_vm_readv(struct probe_result *r)
{
	uint64_t got = 0;
	struct iovec l = { &got, sizeof(got) };
	struct iovec rem = { (void *)&target_magic, sizeof(got) };
	char path[64];
	pid_t pid = start_target();
	int fd, err;

	if (pid < 0)
		return probe_set(r, PROBE_ERROR, "fork: %s", strerror(errno));
	if (process_vm_readv(pid, &l, 1, &rem, 1, 0) == sizeof(got) && got == target_magic) {
		probe_ok(r);
		goto out;
	}
	err = errno;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	got = 0;
	if (fd >= 0 && pread(fd, &got, sizeof(got), (off_t)(uintptr_t)&target_magic) ==
			       sizeof(got) && got == target_magic)
		probe_set(r, PROBE_LIMITED, "process_vm_readv: %s", strerror(err));
	else
		probe_set(r, PROBE_MISSING, "process_vm_readv: %s; /proc/PID/mem: %s",
			  strerror(err), strerror(errno));
	if (fd >= 0)
		close(fd);
out:
	stop_target(pid);
	return r->state;
}

/*
 * Set our own mm fields to the values they have, as the restore stub sets
 * the image's: first without exe_fd, then with it (which needs
 * CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN).
 */
int probe_mm_map(struct probe_result *r)
{
	struct prctl_mm_map mm;
	struct proc_stat st;
	unsigned int size = 0;
	char *auxv = NULL;
	size_t auxv_len = 0;
	int ret, fd;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) < 0)
		return probe_set(r, PROBE_MISSING, "%s", errno == EINVAL ?
				 "kernel built without CONFIG_CHECKPOINT_RESTORE" : strerror(errno));
	if (size != sizeof(mm))
		return probe_set(r, PROBE_MISSING, "kernel's struct prctl_mm_map is %u bytes, ours %zu",
				 size, sizeof(mm));
	ret = proc_read_stat(getpid(), &st);
	if (ret < 0)
		return probe_set(r, PROBE_ERROR, "/proc/self/stat: %s", strerror(-ret));
	read_file("/proc/self/auxv", &auxv, &auxv_len);
	mm = (struct prctl_mm_map){
		.start_code = st.start_code, .end_code = st.end_code,
		.start_data = st.start_data, .end_data = st.end_data,
		.start_brk = st.start_brk, .brk = (uint64_t)syscall(SYS_brk, 0),
		.start_stack = st.start_stack,
		.arg_start = st.arg_start, .arg_end = st.arg_end,
		.env_start = st.env_start, .env_end = st.env_end,
		.auxv = (__u64 *)auxv, .auxv_size = auxv ? (uint32_t)auxv_len : 0,
		.exe_fd = (uint32_t)-1,
	};
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &mm, sizeof(mm), 0) < 0) {
		probe_set(r, PROBE_MISSING, "PR_SET_MM_MAP: %s", strerror(errno));
		goto out;
	}
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		probe_set(r, PROBE_ERROR, "/proc/self/exe: %s", strerror(errno));
		goto out;
	}
	mm.exe_fd = (uint32_t)fd;
	/* EBUSY comes after the capability check: our own binary is still
	 * mapped here, as it is not when the stub does it. */
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &mm, sizeof(mm), 0) == 0 || errno == EBUSY)
		probe_ok(r);
	else if (errno == EPERM)
		probe_set(r, PROBE_LIMITED, "exe_fd needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN");
	else
		probe_set(r, PROBE_LIMITED, "exe_fd: %s", strerror(errno));
	close(fd);
out:
	free(auxv);
	return r->state;
}

/* Fill a memfd the way restore does (MFD_EXEC, else plain) with our own
 * binary and run it: ckpt --version must exit 0. */
int probe_memfd_exec(struct probe_result *r)
{
	char *argv[] = { "ckpt", "--version", NULL }, *envp[] = { NULL };
	long noexec = read_long("/proc/sys/vm/memfd_noexec", -1);
	int fd, exe, errp[2], err = 0, st;
	struct stat sb;
	ssize_t n;
	pid_t pid;

	fd = memfd_create("ckpt-check", MFD_CLOEXEC | CHECK_MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("ckpt-check", MFD_CLOEXEC);
	if (fd < 0)
		return probe_set(r, PROBE_MISSING, "memfd_create: %s (vm.memfd_noexec=%ld)",
				 strerror(errno), noexec);
	exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0 || fstat(exe, &sb) < 0)
		return probe_set(r, PROBE_ERROR, "/proc/self/exe: %s", strerror(errno));
	for (off_t left = sb.st_size; left > 0; left -= n) {
		n = sendfile(fd, exe, NULL, (size_t)left);
		if (n <= 0)
			return probe_set(r, PROBE_ERROR, "copying /proc/self/exe into a memfd: %s",
					 n ? strerror(errno) : "short file");
	}
	/* The exec's errno comes back through a pipe that exec closes. */
	if (pipe2(errp, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		return probe_set(r, PROBE_ERROR, "pipe or fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		err = errno;
		write_all(errp[1], &err, sizeof(err));
		_exit(127);
	}
	close(errp[1]);
	if (read_all(errp[0], &err, sizeof(err)) < 0)
		err = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (err)
		probe_set(r, PROBE_MISSING, "execveat: %s (vm.memfd_noexec=%ld)", strerror(err), noexec);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		probe_set(r, PROBE_ERROR, "ckpt run from a memfd failed (status %#x)", st);
	else
		probe_set(r, PROBE_OK, "vm.memfd_noexec=%ld", noexec);
	return r->state;
}

/*
 * Create a child at a PID nobody uses, a little above the last one given
 * out, as restore does for the original PID.  A PID taken between our
 * look and clone3 gives EEXIST: try another.
 */
int probe_set_tid(struct probe_result *r)
{
	long last = read_long("/proc/sys/kernel/ns_last_pid", -1);
	long max = read_long("/proc/sys/kernel/pid_max", 32768);
	struct clone_args ca = { .exit_signal = SIGCHLD };
	pid_t want = 0, pid = -1;
	int err = 0, st;

	if (last < 0)
		return probe_set(r, PROBE_ERROR, "cannot read /proc/sys/kernel/ns_last_pid");
	for (int try = 0; try < 8; try++) {
		want = (pid_t)(last + 100 + 37 * try);
		if (want >= max)
			want = (pid_t)(300 + want % (max - 300));
		if (kill(want, 0) == 0 || errno != ESRCH)
			continue;	/* in use, or not ours to see */
		ca.set_tid = (uint64_t)(uintptr_t)&want;
		ca.set_tid_size = 1;
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid == 0)
			_exit(0);
		err = errno;
		if (pid >= 0 || err != EEXIST)
			break;
	}
	if (pid < 0) {
		if (err == EPERM)
			return probe_set(r, PROBE_MISSING,
					 "needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN");
		if (err == ENOSYS || err == E2BIG || err == EINVAL)
			return probe_set(r, PROBE_MISSING, "kernel without clone3 set_tid (Linux >= 5.5)");
		return probe_set(r, PROBE_ERROR, "clone3 at PID %d: %s", want,
				 err ? strerror(err) : "found no free PID");
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid != want)
		return probe_set(r, PROBE_ERROR, "asked clone3 for PID %d, got %d", want, pid);
	return probe_ok(r);
}

/* Four pages, the 2nd and 4th touched: the scan must report exactly those. */
int probe_pagemap_scan(struct probe_result *r)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct check_page_region vec[4];
	struct check_pm_scan_arg a;
	char *m;
	int fd, n;

	if (no_pagemap_scan())
		return probe_set(r, PROBE_MISSING, "CKPT_NO_PAGEMAP_SCAN is set (tests only)");
	m = mmap(NULL, 4 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (m == MAP_FAILED || fd < 0)
		return probe_set(r, PROBE_ERROR, "mmap or /proc/self/pagemap: %s", strerror(errno));
	m[pg] = 1;
	m[3 * pg] = 1;
	a = (struct check_pm_scan_arg){
		.size = sizeof(a), .start = (uintptr_t)m, .end = (uintptr_t)m + 4 * (uint64_t)pg,
		.vec = (uintptr_t)vec, .vec_len = ARRAY_SIZE(vec),
		.category_mask = CHECK_PAGE_IS_PRESENT, .return_mask = CHECK_PAGE_IS_PRESENT,
	};
	n = ioctl(fd, CHECK_PAGEMAP_SCAN, &a);
	if (n < 0)
		return probe_set(r, errno == ENOTTY || errno == EINVAL ? PROBE_MISSING : PROBE_ERROR,
				 "PAGEMAP_SCAN: %s (needs Linux >= 6.7)", strerror(errno));
	if (n != 2 || vec[0].start != (uintptr_t)m + (uint64_t)pg ||
	    vec[1].start != (uintptr_t)m + 3 * (uint64_t)pg)
		return probe_set(r, PROBE_ERROR, "PAGEMAP_SCAN reported %d regions, not the 2 touched pages", n);
	return probe_ok(r);
}

/* UFFDIO_API with features=0 answers with every feature the kernel has. */
int probe_uffd_wp(struct probe_result *r)
{
	struct uffdio_api api = { .api = UFFD_API };
	const uint64_t want = CHECK_UFFD_FEATURE_WP_ASYNC | CHECK_UFFD_FEATURE_WP_UNPOPULATED;
	int fd;

	if (no_pagemap_scan())
		return probe_set(r, PROBE_MISSING, "CKPT_NO_PAGEMAP_SCAN is set (tests only)");
	/* User-mode-only needs no privilege even with
	 * vm.unprivileged_userfaultfd=0 (Linux >= 5.11). */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return probe_set(r, PROBE_MISSING, "userfaultfd: %s", strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return probe_set(r, PROBE_ERROR, "UFFDIO_API: %s", strerror(errno));
	if ((api.features & want) != want)
		return probe_set(r, PROBE_MISSING, "features %#llx lack WP_ASYNC (needs Linux >= 6.7)",
				 (unsigned long long)api.features);
	return probe_set(r, PROBE_OK, "features %#llx", (unsigned long long)api.features);
}

/* What restore fills memory through (restore/lazy.c): a uffd that serves
 * the kernel's accesses too (no UFFD_USER_MODE_ONLY: with
 * vm.unprivileged_userfaultfd=0 that needs CAP_SYS_PTRACE), and the
 * events that tell a lazy restore what the process does to its memory. */
int probe_uffd_fill(struct probe_result *r)
{
	const uint64_t want = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			      UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return probe_set(r, PROBE_MISSING, "userfaultfd: %s (vm.unprivileged_userfaultfd=0?)",
				 strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return probe_set(r, PROBE_MISSING, "UFFDIO_API with fork/remap/remove/unmap events: %s",
				 strerror(errno));
	return probe_set(r, PROBE_OK, "lazy and eager");
}

static int pagemap_entry(int fd, const void *addr, uint64_t *e)
{
	off_t off = (off_t)((uintptr_t)addr / (uintptr_t)sysconf(_SC_PAGESIZE) * sizeof(*e));

	return pread_all(fd, e, sizeof(*e), off);
}

/* Clear our soft-dirty bits; a page written afterwards must show bit 55.
 * Without CONFIG_MEM_SOFT_DIRTY the write is accepted and does nothing. */
int probe_soft_dirty(struct probe_result *r)
{
	volatile char *m;
	uint64_t before = 0, after = 0;
	int pm, cr, ret;

	m = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (m == MAP_FAILED || pm < 0 || cr < 0)
		return probe_set(r, PROBE_ERROR, "mmap, pagemap or clear_refs: %s", strerror(errno));
	m[0] = 1;
	if (write(cr, "4", 1) != 1)
		return probe_set(r, PROBE_MISSING, "clear_refs: %s", strerror(errno));
	ret = pagemap_entry(pm, (const void *)m, &before);
	m[0] = 2;
	if (ret == 0)
		ret = pagemap_entry(pm, (const void *)m, &after);
	if (ret < 0)
		return probe_set(r, PROBE_ERROR, "reading /proc/self/pagemap: %s", strerror(-ret));
	if ((before & CHECK_PM_SOFT_DIRTY) || !(after & CHECK_PM_SOFT_DIRTY))
		return probe_set(r, PROBE_MISSING, "kernel built without CONFIG_MEM_SOFT_DIRTY");
	return probe_ok(r);
}

/* The special mappings in the order /proc/self/maps shows them; a restore
 * needs the same sizes and order as the image's. */
int probe_vdso(struct probe_result *r)
{
	char *buf, *line, *save, *p = r->note;
	size_t left = sizeof(r->note);
	int ret, found = 0;

	ret = read_file("/proc/self/maps", &buf, NULL);
	if (ret < 0)
		return probe_set(r, PROBE_ERROR, "/proc/self/maps: %s", strerror(-ret));
	r->note[0] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct map_entry e;
		int n;

		if (proc_parse_maps_line(line, &e) < 0 ||
		    (strcmp(e.path, "[vvar]") && strcmp(e.path, "[vvar_vclock]") &&
		     strcmp(e.path, "[vdso]")))
			continue;
		found |= !strcmp(e.path, "[vdso]");
		n = snprintf(p, left, "%s%s %lluK", p == r->note ? "" : ", ", e.path,
			     (unsigned long long)(e.end - e.start) >> 10);
		if (n < 0 || (size_t)n >= left)
			break;
		p += n;
		left -= (size_t)n;
	}
	free(buf);
	if (!found)
		return probe_set(r, PROBE_MISSING, "no [vdso] mapping");
	r->state = PROBE_OK;
	return r->state;
}

/* CapEff of this process has cap; -errno if it cannot tell. */
static int have_cap(int cap)
{
	struct proc_status st;
	int ret = proc_read_status(getpid(), &st);

	return ret < 0 ? ret : !!(st.cap_eff & (1ull << cap));
}

static int probe_cap(struct probe_result *r, int cap)
{
	int have = have_cap(cap);

	if (have < 0)
		return probe_set(r, PROBE_ERROR, "/proc/self/status: %s", strerror(-have));
	return probe_set(r, have ? PROBE_OK : PROBE_MISSING, "%s", have ? "" : "not in the effective set");
}

/* Documentation/admin-guide/LSM/Yama.rst: 1 allows descendants only, 2
 * CAP_SYS_PTRACE only, 3 nobody; 1 and 2 do not stop CAP_SYS_PTRACE. */
int probe_yama(struct probe_result *r)
{
	long scope = read_long("/proc/sys/kernel/yama/ptrace_scope", -1);
	int cap = have_cap(CHECK_CAP_SYS_PTRACE) > 0;

	if (scope < 0)
		probe_set(r, PROBE_OK, "Yama not active");
	else if (scope == 0 || (scope < 3 && cap))
		probe_set(r, PROBE_OK, "%ld%s", scope, scope ? " (we have CAP_SYS_PTRACE)" : "");
	else if (scope == 1)
		probe_set(r, PROBE_LIMITED, "1: descendants only without CAP_SYS_PTRACE");
	else
		probe_set(r, PROBE_MISSING, "%ld: %s", scope, scope == 2 ?
			  "needs CAP_SYS_PTRACE" : "no process may be traced");
	return r->state;
}

int probe_cap_sys_ptrace(struct probe_result *r)
{
	return probe_cap(r, CHECK_CAP_SYS_PTRACE);
}

int probe_cap_sys_admin(struct probe_result *r)
{
	return probe_cap(r, CHECK_CAP_SYS_ADMIN);
}

/* Before Linux 5.9 there is no such capability: CAP_SYS_ADMIN does it all. */
int probe_cap_checkpoint_restore(struct probe_result *r)
{
	long last = read_long("/proc/sys/kernel/cap_last_cap", 63);

	if (last < CHECK_CAP_CHECKPOINT_RESTORE)
		probe_set(r, PROBE_MISSING, "Linux < 5.9 has no such capability");
	else
		probe_cap(r, CHECK_CAP_CHECKPOINT_RESTORE);
	if (r->state == PROBE_MISSING && have_cap(CHECK_CAP_SYS_ADMIN) > 0)
		r->state = PROBE_LIMITED;
	return r->state;
}

int probe_cap_sys_resource(struct probe_result *r)
{
	return probe_cap(r, CHECK_CAP_SYS_RESOURCE);
}

/* tcp(7) TCP_REPAIR (Linux 3.5): needs CAP_NET_ADMIN in the socket's
 * network namespace (net/ipv4/tcp.c tcp_can_repair_sock). */
int probe_tcp_repair(struct probe_result *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), on = 1;

	if (fd < 0)
		return probe_set(r, PROBE_ERROR, "socket: %s", strerror(errno));
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0) {
		probe_set(r, errno == EPERM ? PROBE_MISSING : PROBE_ERROR, "%s",
			  errno == EPERM ? "needs CAP_NET_ADMIN" : strerror(errno));
		close(fd);
		return r->state;
	}
	close(fd);
	return probe_set(r, PROBE_OK, "%s", "");
}

/* The network lock of dump --kill (common/netlock.c): nft(8), Debian's
 * nftables, able to list the tables (nf_tables in the kernel, and
 * CAP_NET_ADMIN). */
int probe_netlock(struct probe_result *r)
{
	char why[160];
	int ret = netlock_probe(why, sizeof(why));

	if (ret == -ENOENT)
		return probe_set(r, PROBE_MISSING, "nft not found (Debian: nftables)");
	if (ret < 0)
		return probe_set(r, PROBE_MISSING, "nft: %s", ret == -EIO ? why : strerror(-ret));
	return probe_set(r, PROBE_OK, "%s", "");
}
