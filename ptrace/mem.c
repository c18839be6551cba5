/*
 * Another process's memory: process_vm_readv/writev in as few calls as
 * possible, and /proc/PID/mem (FOLL_FORCE: also PROT_NONE and read-only
 * pages) for whatever those refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/util.h"
#include "ptrace/tracee.h"

static int procmem(pid_t pid, uint64_t addr, void *buf, size_t len, int wr)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len && !ret) {
		ssize_t n = wr ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
		else {
			buf = (char *)buf + n;
			addr += (uint64_t)n;
			len -= (size_t)n;
		}
	}
	close(fd);
	return ret;
}

/* All of it in one call, or -errno / -EFAULT (a partial transfer is
 * redone by the caller's fallback; it is idempotent). */
static int vm_rw(pid_t pid, const struct iovec *l, int nl, const struct iovec *r, int nr, int wr)
{
	size_t want = 0;
	ssize_t n;

	for (int i = 0; i < nr; i++)
		want += r[i].iov_len;
	n = wr ? process_vm_writev(pid, l, (unsigned long)nl, r, (unsigned long)nr, 0)
	       : process_vm_readv(pid, l, (unsigned long)nl, r, (unsigned long)nr, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == want ? 0 : -EFAULT;
}

int mem_readv_unpinned(pid_t pid, const struct iovec *local, const struct iovec *remote, int n)
{
	for (int i = 0; i < n; i++) {
		int ret = procmem(pid, (uint64_t)(uintptr_t)remote[i].iov_base, local[i].iov_base,
				  remote[i].iov_len, 0);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int mem_rw_plain(pid_t pid, const struct iovec *l, const struct iovec *r, int n, int wr)
{
	return vm_rw(pid, l, n, r, n, wr);
}

int mem_readv(pid_t pid, const struct iovec *local, int nlocal,
	      const struct iovec *remote, int nremote)
{
	int ret = vm_rw(pid, local, nlocal, remote, nremote, 0);

	if (ret == 0)
		return 0;
	/* Fall back piece by piece through /proc/PID/mem: it needs local
	 * and remote iovecs of equal shape, which our callers guarantee. */
	if (nlocal != nremote)
		return ret;
	for (int i = 0; i < nremote; i++) {
		ret = procmem(pid, (uint64_t)(uintptr_t)remote[i].iov_base, local[i].iov_base,
			      remote[i].iov_len, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int mem_writev(pid_t pid, const struct iovec *local, int nlocal,
	       const struct iovec *remote, int nremote)
{
	int ret = vm_rw(pid, local, nlocal, remote, nremote, 1);

	if (ret == 0 || nlocal != nremote)
		return ret;
	for (int i = 0; i < nremote; i++) {
		ret = procmem(pid, (uint64_t)(uintptr_t)remote[i].iov_base, local[i].iov_base,
			      remote[i].iov_len, 1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };

	return mem_readv(pid, &l, 1, &r, 1);
}

int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len }, r = { (void *)(uintptr_t)addr, len };

	return mem_writev(pid, &l, 1, &r, 1);
}
