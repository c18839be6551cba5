/*
 * Kernel ABI newer than Debian 12's linux-libc-dev (6.1).  Values from
 * include/uapi/linux/fs.h and include/uapi/linux/userfaultfd.h (Linux
 * 6.7+), the same on x86-64 and arm64; checked on this machine's kernel
 * (../shared/KERNEL-NOTES.md).
 */
#ifndef CKPT_UAPI_COMPAT_H
#define CKPT_UAPI_COMPAT_H

#include <linux/ioctl.h>
#include <sys/mman.h>
#include <linux/types.h>

struct ckpt_pm_scan_arg {
	__u64 size;		/* sizeof(struct ckpt_pm_scan_arg) = 96 */
	__u64 flags;
	__u64 start, end;
	__u64 walk_end;		/* out: where the walk stopped */
	__u64 vec, vec_len;	/* struct ckpt_page_region[vec_len] */
	__u64 max_pages;
	__u64 category_inverted, category_mask, category_anyof_mask, return_mask;
};

struct ckpt_page_region {
	__u64 start, end;	/* end exclusive */
	__u64 categories;
};

#define CKPT_PAGEMAP_SCAN	_IOWR('f', 16, struct ckpt_pm_scan_arg)	/* 0xc0606610 */
#define CKPT_PM_SCAN_WP_MATCHING	(1ull << 0)
#define CKPT_PM_SCAN_CHECK_WPASYNC	(1ull << 1)
#define CKPT_PAGE_IS_WPALLOWED	(1ull << 0)
#define CKPT_PAGE_IS_WRITTEN	(1ull << 1)
#define CKPT_PAGE_IS_FILE	(1ull << 2)
#define CKPT_PAGE_IS_PRESENT	(1ull << 3)
#define CKPT_PAGE_IS_SWAPPED	(1ull << 4)
#define CKPT_PAGE_IS_PFNZERO	(1ull << 5)

/* include/uapi/linux/fs.h struct procmap_query (Linux 6.11): one mapping
 * of /proc/PID/maps per ioctl, binary, filtered by the kernel. */
struct ckpt_procmap_query {
	__u64 size;		/* sizeof(struct ckpt_procmap_query) = 104 */
	__u64 query_flags, query_addr;
	__u64 vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;	/* out */
	__u32 dev_major, dev_minor;	/* out */
	__u32 vma_name_size, build_id_size;	/* in: buffer sizes; out: lengths */
	__u64 vma_name_addr, build_id_addr;
};

#define CKPT_PROCMAP_QUERY	_IOWR('f', 17, struct ckpt_procmap_query)	/* 0xc0686611 */
#define CKPT_PROCMAP_QUERY_VMA_READABLE		0x01
#define CKPT_PROCMAP_QUERY_VMA_WRITABLE		0x02
#define CKPT_PROCMAP_QUERY_VMA_EXECUTABLE	0x04
#define CKPT_PROCMAP_QUERY_VMA_SHARED		0x08
#define CKPT_PROCMAP_QUERY_COVERING_OR_NEXT_VMA	0x10

/* include/uapi/asm-generic/mman-common.h, Linux 6.1; glibc's sys/mman.h
 * has it from 2.37 (Debian 12 has 2.36). */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
/* The same header, Linux 5.14 */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define CKPT_UFFD_FEATURE_WP_UNPOPULATED	(1ull << 13)
#define CKPT_UFFD_FEATURE_WP_ASYNC		(1ull << 15)

/* include/uapi/linux/sched/types.h struct sched_attr, its first size
 * (SCHED_ATTR_SIZE_VER0, 48): that header's struct sched_param clashes
 * with glibc's <sched.h>. */
struct ckpt_sched_attr {
	__u32 size, policy;
	__u64 flags;		/* SCHED_FLAG_* */
	__s32 nice;
	__u32 priority;
	__u64 runtime, deadline, period;	/* SCHED_DEADLINE, ns */
};
/* Its flags: include/uapi/linux/sched.h, which glibc's <sched.h> does
 * not include. */
#ifndef SCHED_FLAG_RESET_ON_FORK
#define SCHED_FLAG_RESET_ON_FORK	0x01
#endif

/* mseal(2), Linux 6.10: the same number on every architecture */
#ifndef SYS_mseal
#define SYS_mseal	462
#endif

#endif
