/*
 * The on-disk checkpoint image.  This header is the format's specification;
 * docs/image-format.md explains it in prose, with a table for every struct
 * and constant here (tools/format-doc.py, run by make check, says what to
 * add there when this file changes).  All fields are little-endian
 * and fixed-width; every struct has an explicit size checked at build time,
 * so a reader in any language can be written from this file alone.
 *
 * File layout:
 *
 *   struct ckpt_header
 *   section*             each: struct ckpt_section + payload
 *
 * Section order: at most one PARENT (incremental images only), at most
 * one TREE (images of a process tree), then for each process in turn one
 * PROC, one SIGACTS, its THREAD, VMA, COW, FILE (each followed by its
 * FILEDATA) and FD sections, a FILE always before the FDs that name it;
 * (signed images) one MAC_META; then all PAGES, PAGES_ALIGNED and HASHES
 * sections (in process order: none of a process after one of a later
 * process); (signed) one MAC_ALL; then exactly one END.
 * Everything a restore must
 * know before creating the process therefore comes before the first PAGES
 * section, which is what lets an image be written and read as a stream.
 *
 * Integrity: the header and every section header carry a CRC32C of
 * themselves (computed with the crc field zero / over the first 20 bytes),
 * and every section a CRC32C of its payload.  END counts the sections
 * before it, so truncation at a section boundary is detected too.
 *
 * Authenticity (CKPT_HDR_MAC): CRCs are no proof of who wrote an image.
 * Root's dumps carry two MAC sections made with a key only root can read
 * (docs/security.md): MAC_META right after the metadata (before the
 * first PAGES, HASHES, MAC_ALL or END section), MAC_ALL right before END.
 * Each is an HMAC-SHA256 of the header and of every section before it
 * (struct ckpt_mac says exactly how), so a stream's metadata can be
 * authenticated before anything is made from it.
 */
#ifndef CKPT_IMAGE_FORMAT_H
#define CKPT_IMAGE_FORMAT_H

#include <assert.h>
#include <stdint.h>

#define CKPT_MAGIC	"\x89" "CKPT\r\n\x1a"	/* 8 bytes; catches text-mode mangling */
#define CKPT_VERSION	4	/* written; see docs/image-format.md "Versioning" */
#define CKPT_MIN_VERSION 1	/* oldest a reader still takes */

struct ckpt_header {
	uint8_t  magic[8];	/* CKPT_MAGIC */
	uint32_t version;	/* CKPT_VERSION; readers refuse larger ones and
				   read CKPT_MIN_VERSION.. with their layouts */
	uint32_t header_size;	/* sizeof(struct ckpt_header) */
	uint32_t machine;	/* ELF e_machine: 62 = x86-64, 183 = aarch64 */
	uint32_t page_size;	/* of the dumping kernel */
	uint64_t flags;		/* CKPT_HDR_* */
	uint64_t xfeatures;	/* x86-64: XCR0 at dump; aarch64: AT_HWCAP */
	uint32_t xstate_size;	/* largest extended register set stored */
	uint32_t nprocs;	/* PROC sections in the image */
	uint64_t created;	/* seconds since the epoch */
	uint8_t  image_id[16];	/* random; names this image for children */
	uint8_t  parent_id[16];	/* image_id of the parent image, or zeros */
	char     kernel[64];	/* uname -r of the dumping machine, NUL-padded */
	char     host[64];	/* uname -n of the dumping machine */
	uint8_t  sign_nonce[16];	/* version 3, CKPT_HDR_BLOCK_MAC: random, drawn
				   afresh by each signing write (blockmac.h) */
	uint8_t  reserved[20];	/* zero */
	uint32_t crc;		/* CRC32C of this struct with crc = 0 */
};
static_assert(sizeof(struct ckpt_header) == 256, "ckpt_header size");

#define CKPT_HDR_MAC	(1ull << 0)	/* carries MAC_META and MAC_ALL sections;
					   without it, neither may appear */
#define CKPT_HDR_DIGESTS (1ull << 1)	/* with MAC only: a DIGESTS section right
					   before MAC_ALL (struct ckpt_digests) */
#define CKPT_HDR_BLOCK_MAC (1ull << 2)	/* version 3, with DIGESTS only: its entries
					   are Poly1305-AES tags (blockmac.h) */

enum ckpt_section_type {
	CKPT_SEC_PROC     = 1,	/* struct ckpt_proc + variable data */
	CKPT_SEC_SIGACTS  = 2,	/* struct ckpt_sigaction[64], signals 1..64 */
	CKPT_SEC_THREAD   = 3,	/* struct ckpt_thread + variable data */
	CKPT_SEC_VMA      = 4,	/* struct ckpt_vma + path */
	CKPT_SEC_FD       = 5,	/* struct ckpt_fd (version 1: ckpt_fd_v1 + path) */
	CKPT_SEC_FILEDATA = 6,	/* struct ckpt_filedata + bytes */
	CKPT_SEC_PARENT   = 7,	/* path of the parent image (incremental) */
	CKPT_SEC_TIMERS   = 8,	/* struct ckpt_timers + ckpt_posix_timer[ntimers] */
	CKPT_SEC_MAC_META = 9,	/* struct ckpt_mac: everything before the page data */
	CKPT_SEC_MAC_ALL  = 10,	/* struct ckpt_mac: everything before END */
	CKPT_SEC_TREE     = 32,	/* struct ckpt_tree + ckpt_task[ntasks] */
	CKPT_SEC_COW      = 33,	/* struct ckpt_cow_run[] */
	CKPT_SEC_ATTRS    = 18,	/* struct ckpt_attrs + ckpt_thread_attrs[nthreads] */
	CKPT_SEC_SECCOMP  = 19,	/* (struct ckpt_seccomp + ckpt_bpf_insn[len])... */
	CKPT_SEC_SYSV_SHM = 20,	/* struct ckpt_shm[]: SysV segments attached */
	CKPT_SEC_XSAVE_LAYOUT = 21,	/* struct ckpt_xfeat[]: x86-64 only */
	CKPT_SEC_GUARDS   = 22,	/* struct ckpt_range[]: guard regions */
	CKPT_SEC_DIGESTS  = 23,	/* struct ckpt_digests + ckpt_digest[count] */
	CKPT_SEC_CTTY     = 13,	/* struct ckpt_ctty + ckpt_fd_tty: its terminal */
	CKPT_SEC_FILE     = 11,	/* struct ckpt_file + path + state + what (version 2) */
	CKPT_SEC_LOCKS    = 12,	/* struct ckpt_lock[]: file locks the process holds */
	CKPT_SEC_PAGES    = 16,	/* struct ckpt_pages + page data */
	CKPT_SEC_HASHES   = 17,	/* struct ckpt_hashes + u64 per page */
	CKPT_SEC_PAGES_ALIGNED = 40,	/* struct ckpt_align + zeros + what PAGES holds */
	CKPT_SEC_END      = 255,/* struct ckpt_end */
};

struct ckpt_section {
	uint32_t type;		/* enum ckpt_section_type */
	uint32_t proc;		/* index of the process it belongs to */
	uint64_t size;		/* payload bytes that follow this header */
	uint32_t payload_crc;	/* CRC32C of the payload */
	uint32_t crc;		/* CRC32C of the 20 bytes before this field */
};
static_assert(sizeof(struct ckpt_section) == 24, "ckpt_section size");

/* Limits a reader enforces before trusting a length from the file. */
#define CKPT_MAX_META		(64u << 20)	/* any non-PAGES/FILEDATA payload */
#define CKPT_MAX_BLOCK		(16u << 20)	/* PAGES / FILEDATA payload */
#define CKPT_MAX_PATH		4096
#define CKPT_NSIG		64
#define CKPT_NRLIMIT		16
#define CKPT_SIGINFO_SIZE	128		/* siginfo_t on both arches */
#define CKPT_MAX_TASKS		65536		/* ckpt_tree.ntasks */
#define CKPT_MAX_FILES		(1u << 24)	/* FILE sections */
#define CKPT_MAX_WHAT		1024		/* ckpt_file.what_len */
#define CKPT_MAX_FILEDATA	(1ull << 32)	/* ckpt_file.data_len */

/*
 * CKPT_SEC_PROC.  Followed, in this order, by: groups (ngroups x u32),
 * exe path, cwd path, cmdline (NUL-separated argv as in /proc/PID/cmdline),
 * auxv (raw, as /proc/PID/auxv), shared pending signals (npending x 128-byte
 * siginfo), root path.  Strings are not NUL-terminated; their lengths are here.
 */
struct ckpt_proc {
	int32_t  pid;		/* in the dumping PID namespace */
	int32_t  ppid, pgid, sid;
	uint32_t nthreads;	/* THREAD sections that follow; first = leader */
	uint32_t nvmas;		/* VMA sections, in address order */
	uint32_t nfds;		/* FD sections, in fd order */
	uint32_t npending;	/* shared (process-wide) pending signals */
	uint32_t umask;
	uint32_t personality;	/* /proc/PID/personality */
	uint32_t uid[4];	/* real, effective, saved, filesystem */
	uint32_t gid[4];
	uint32_t ngroups;	/* supplementary groups */
	uint32_t exe_len, cwd_len, cmdline_len, auxv_len;
	uint32_t flags;		/* CKPT_PROC_* */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	/* mm fields, as for prctl(PR_SET_MM_MAP) */
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	struct { uint64_t cur, max; } rlim[CKPT_NRLIMIT];	/* RLIMIT_*; ~0 = infinity */
	uint64_t exe_dev, exe_ino, exe_size, exe_mtime_ns;	/* identity of exe */
	char     comm[16];	/* of the leader, NUL-padded */
	uint64_t start_time;	/* /proc/PID/stat starttime: tells PID reuse apart */
	uint64_t track_ino;	/* inode of the dirty-tracking userfaultfd */
	int32_t  track_fd;	/* its fd in the process, -1: none (see docs) */
	uint32_t dirty_method;	/* CKPT_DIRTY_*: how IN_PARENT pages were found */
	uint32_t pdeathsig;	/* prctl(PR_GET_PDEATHSIG) of the leader */
	uint32_t root_len;	/* its root directory (chroot), after the pending
				   signals; 0: the dumping ckpt's own */
};
static_assert(sizeof(struct ckpt_proc) == 560, "ckpt_proc size");

#define CKPT_PROC_NO_EXE	1u	/* exe link was unreadable */
#define CKPT_PROC_STOPPED	2u	/* was stopped (job control) at dump */
#define CKPT_PROC_UNDUMPABLE	4u	/* prctl(PR_GET_DUMPABLE) was 0 */
#define CKPT_PROC_LEADER_GONE	8u	/* the leader had exited (pthread_exit): no
					   THREAD section has tid == pid; restore
					   makes a leader that exits again */
#define CKPT_PROC_CWD_DELETED	(1u << 30)	/* its working directory had been
						   removed (rmdir): cwd is the path it
						   had; restore makes an empty one,
						   enters it and removes it again */
#define CKPT_PROC_CWD_OPEN	(1u << 31)	/* with CWD_DELETED: the removed cwd
						   is the directory a DIR or PATH file
						   of the process with the same path and
						   DELETED names (same dev/ino at dump):
						   entered through that one */

struct ckpt_sigaction {
	uint64_t handler;	/* SIG_DFL = 0, SIG_IGN = 1, or an address */
	uint64_t flags;		/* SA_* of the dumping arch */
	uint64_t restorer;	/* sa_restorer (x86-64), 0 elsewhere */
	uint64_t mask;		/* sa_mask, bit n-1 = signal n */
};
static_assert(sizeof(struct ckpt_sigaction) == 32, "ckpt_sigaction size");

/*
 * CKPT_SEC_TIMERS (at most one per process, after SIGACTS): the interval
 * timers (getitimer) and POSIX timers (/proc/PID/timers, timer_gettime),
 * each with the time that was left when the process was frozen.
 */
struct ckpt_itimer {
	int64_t interval_sec, interval_usec;
	int64_t value_sec, value_usec;	/* left; 0: disarmed */
};

struct ckpt_timers {
	struct ckpt_itimer itimer[3];	/* ITIMER_REAL, _VIRTUAL, _PROF */
	uint32_t ntimers;		/* struct ckpt_posix_timer that follow */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_timers) == 104, "ckpt_timers size");

struct ckpt_posix_timer {
	int32_t  id;		/* the timer_t the process holds */
	int32_t  clockid;
	int32_t  signo;
	int32_t  notify;	/* SIGEV_SIGNAL 0, NONE 1, THREAD 2, | THREAD_ID 4 */
	int32_t  notify_tid;	/* with SIGEV_THREAD_ID */
	uint32_t reserved;
	uint64_t sigval;	/* sigev_value */
	int64_t  interval_ns;
	int64_t  value_ns;	/* left; 0: disarmed */
};
static_assert(sizeof(struct ckpt_posix_timer) == 48, "ckpt_posix_timer size");

/*
 * CKPT_SEC_ATTRS (at most one per process, after TIMERS): the attributes
 * ckpt_proc has no field for, of the process and of each thread (in the
 * order of its THREAD sections).  An image without it restores none of
 * them: the restored process has the defaults.
 */
struct ckpt_attrs {
	uint32_t flags;		/* CKPT_ATTR_* */
	int32_t  oom_score_adj;	/* /proc/PID/oom_score_adj, -1000..1000 */
	uint32_t loginuid;	/* /proc/PID/loginuid (4294967295: unset), with CKPT_ATTR_LOGINUID */
	uint32_t thp_disable;	/* prctl(PR_GET_THP_DISABLE): 0, 1, or 3 (except MADV_HUGEPAGE) */
	uint32_t membarrier;	/* membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS), with CKPT_ATTR_MEMBARRIER */
	uint32_t dumpable;	/* prctl(PR_GET_DUMPABLE): 0 or 1 */
	uint32_t securebits;	/* prctl(PR_GET_SECUREBITS) */
	uint32_t nthreads;	/* struct ckpt_thread_attrs that follow: the process's */
	uint64_t reserved[2];	/* zero */
};
static_assert(sizeof(struct ckpt_attrs) == 48, "ckpt_attrs size");

#define CKPT_ATTR_SUBREAPER	(1u << 0)	/* prctl(PR_SET_CHILD_SUBREAPER) */
#define CKPT_ATTR_LOGINUID	(1u << 1)	/* loginuid was read (a kernel with audit) */
#define CKPT_ATTR_MEMBARRIER	(1u << 2)	/* membarrier registrations known (Linux >= 6.3) */
#define CKPT_ATTR_LOCK_FUTURE	(1u << 3)	/* mlockall(MCL_FUTURE): mappings made later are locked */
#define CKPT_ATTR_LOCK_ONFAULT	(1u << 4)	/* with LOCK_FUTURE: MCL_ONFAULT too */
#define CKPT_ATTR_MCE_KILL	(1u << 5)	/* prctl(PR_MCE_KILL, PR_MCE_KILL_SET): late, or */
#define CKPT_ATTR_MCE_EARLY	(1u << 6)	/* with MCE_KILL: early */

struct ckpt_thread_attrs {
	int32_t  tid;		/* the THREAD section's */
	uint32_t flags;		/* CKPT_TATTR_* */
	uint64_t timer_slack_ns;	/* prctl(PR_GET_TIMERSLACK) */
	uint32_t ioprio;	/* ioprio_get(IOPRIO_WHO_PROCESS, tid): class << 13 | data */
	uint32_t pdeathsig;	/* prctl(PR_GET_PDEATHSIG) of a thread not the leader, 0: none */
	/* sched_getattr(2) of a SCHED_DEADLINE thread (else 0), in ns */
	uint64_t dl_runtime, dl_deadline, dl_period;
	uint64_t sched_flags;	/* its sched_attr.sched_flags: RESET_ON_FORK 1, RECLAIM 2, DL_OVERRUN 4 */
};
static_assert(sizeof(struct ckpt_thread_attrs) == 56, "ckpt_thread_attrs size");
/* The first ATTRS sections (before SCHED_DEADLINE was kept) had 24-byte
 * ckpt_thread_attrs, without the dl_* fields: a reader takes both. */
#define CKPT_THREAD_ATTRS_V0_SIZE	24

#define CKPT_TATTR_NO_NEW_PRIVS	(1u << 0)	/* prctl(PR_SET_NO_NEW_PRIVS) */

/*
 * CKPT_SEC_GUARDS (at most one per process): the guard regions of its
 * mappings (madvise MADV_GUARD_INSTALL, Linux >= 6.13: pages that fault
 * on any access), in address order, each inside one VMA.  Their pages
 * have no data.
 */
struct ckpt_range {
	uint64_t start, end;	/* [start, end), page aligned */
};
static_assert(sizeof(struct ckpt_range) == 16, "ckpt_range size");

/*
 * CKPT_SEC_SECCOMP (at most one per process, after GUARDS): the seccomp
 * filters of its threads, which all have the same ones (a process whose
 * threads differ, or in strict mode, is refused at dump), oldest first:
 * each a struct ckpt_seccomp and its len classic BPF instructions, as
 * PTRACE_SECCOMP_GET_FILTER gives them.  Restore installs them in that
 * order with SECCOMP_FILTER_FLAG_TSYNC.
 */
struct ckpt_seccomp {
	uint32_t flags;		/* SECCOMP_FILTER_FLAG_* (PTRACE_SECCOMP_GET_METADATA): LOG only */
	uint32_t len;		/* instructions that follow, 1..4096 (BPF_MAXINSNS) */
};
static_assert(sizeof(struct ckpt_seccomp) == 8, "ckpt_seccomp size");

struct ckpt_bpf_insn {
	uint16_t code;		/* struct sock_filter (linux/filter.h) */
	uint8_t  jt, jf;
	uint32_t k;
};
static_assert(sizeof(struct ckpt_bpf_insn) == 8, "ckpt_bpf_insn size");

#define CKPT_MAX_SECCOMP_INSNS	32768	/* all filters, +4 each (kernel MAX_INSNS_PER_PATH) */

/*
 * CKPT_SEC_SYSV_SHM (at most one per process, after SECCOMP): the SysV
 * shared memory segments it has attached (its SYSV mappings), as
 * /proc/sysvipc/shm shows them.  Restore attaches the segment when it
 * still exists (same id, key and size, attached by no one), else makes
 * it again with its key, its id when it can (shm_next_id), owner, mode
 * and the image's contents, and removes it again when it had been.
 */
struct ckpt_shm {
	int32_t  key;		/* IPC key; 0: IPC_PRIVATE, or a removed segment's */
	int32_t  id;		/* shmid at dump: the SYSV mappings' ino */
	uint64_t size;		/* shm_segsz, bytes */
	uint32_t mode;		/* shm_perm.mode: permissions, SHM_DEST 01000 (removed), SHM_LOCKED 02000 */
	uint32_t uid, gid;	/* owner */
	uint32_t reserved;	/* zero */
};
static_assert(sizeof(struct ckpt_shm) == 32, "ckpt_shm size");

/*
 * CKPT_SEC_XSAVE_LAYOUT (x86-64, at most one per process, after TIMERS):
 * where the dumping CPU keeps each extended feature of the XSAVE area in
 * the NT_X86_XSTATE register sets (standard format), one record per user
 * feature 2.. of the XCR0 those sets carry (bytes 464..471), from CPUID
 * leaf 0xd; the records of the kernel's NT_X86_XSAVE_LAYOUT core note
 * (uapi asm/elf.h struct x86_xfeat_component).  ckpt core uses it.
 */
struct ckpt_xfeat {
	uint32_t type;		/* XSAVE feature number (2 = AVX, 17 = XTILECFG...) */
	uint32_t size;		/* bytes */
	uint32_t offset;	/* from the start of the XSAVE area */
	uint32_t flags;		/* 0 */
};
static_assert(sizeof(struct ckpt_xfeat) == 16, "ckpt_xfeat size");
#define CKPT_MAX_XFEAT		64

/*
 * CKPT_SEC_THREAD.  Followed by nregsets register sets, each
 * { u32 type (an ELF NT_* note type); u32 len; len bytes; zero padding to 8 },
 * the first always NT_PRSTATUS (the general registers, as PTRACE_GETREGSET
 * returns them), then npending thread-private pending signals (128 bytes each).
 */
struct ckpt_thread {
	int32_t  tid;
	uint32_t nregsets;
	uint64_t sigmask;	/* blocked signals, bit n-1 = signal n */
	uint64_t altstack_sp, altstack_size;
	uint32_t altstack_flags;	/* SS_DISABLE / SS_AUTODISARM */
	uint32_t npending;
	uint64_t rseq_addr;	/* 0: no rseq registered */
	uint32_t rseq_len, rseq_sig;
	uint32_t rseq_flags;
	uint32_t flags;		/* CKPT_THREAD_* */
	char     comm[16];
	uint64_t clear_tid;	/* set_tid_address(2) of the thread (glibc: &pd->tid) */
	uint64_t robust_list;	/* set_robust_list(2) head, 0 = none */
	int32_t  nice;		/* getpriority(PRIO_PROCESS, tid) */
	uint32_t sched_policy;	/* sched_getscheduler(tid), SCHED_RESET_ON_FORK included */
	uint32_t sched_priority;	/* sched_param.sched_priority */
	uint32_t ncpus;		/* bits valid in cpus; 0: affinity not recorded */
	uint64_t cpus[16];	/* sched_getaffinity: CPU n is bit n % 64 of cpus[n / 64] */
};
static_assert(sizeof(struct ckpt_thread) == 240, "ckpt_thread size");

#define CKPT_THREAD_IN_SYSCALL	1u	/* stopped inside a syscall (see regs) */

/* CKPT_SEC_VMA: one mapping, as a line of /proc/PID/maps.  Followed by path. */
struct ckpt_vma {
	uint64_t start, end;	/* [start, end), page aligned */
	uint64_t pgoff;		/* file offset of start, bytes */
	uint64_t dev, ino;	/* of the mapped file (st_dev, st_ino) */
	uint64_t fsize;		/* size of the mapped file at dump */
	uint64_t mtime_ns;	/* mtime of the mapped file at dump */
	uint32_t prot;		/* PROT_READ 1 | PROT_WRITE 2 | PROT_EXEC 4 */
	uint32_t flags;		/* CKPT_VMA_* */
	uint32_t madv;		/* CKPT_MADV_* (from smaps VmFlags) */
	uint32_t path_len;
	uint64_t npages;	/* pages dump meant to save: present ones (stored
				   unless all zero, or left to the parent) */
	uint32_t crc;		/* [vdso]: CRC32C of its contents */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_vma) == 88, "ckpt_vma size");

#define CKPT_VMA_SHARED		(1u << 0)	/* MAP_SHARED */
#define CKPT_VMA_ANON		(1u << 1)	/* no file (incl. shared anon) */
#define CKPT_VMA_FILE		(1u << 2)	/* mapped from path */
#define CKPT_VMA_GROWSDOWN	(1u << 3)	/* VM_GROWSDOWN */
#define CKPT_VMA_HEAP		(1u << 4)	/* [heap] */
#define CKPT_VMA_STACK		(1u << 5)	/* [stack] */
#define CKPT_VMA_VDSO		(1u << 6)	/* [vdso] */
#define CKPT_VMA_VVAR		(1u << 7)	/* [vvar] */
#define CKPT_VMA_VVAR_VCLOCK	(1u << 8)	/* [vvar_vclock] (Linux >= 6.13) */
#define CKPT_VMA_DELETED	(1u << 9)	/* file gone: all data stored */
#define CKPT_VMA_SKIP		(1u << 10)	/* not restored ([vsyscall], VM_IO) */
#define CKPT_VMA_MEMFD		(1u << 12)	/* of a memfd or deleted file the image
						   makes again (a GHOST or MEMFD FILE with
						   the same dev/ino, an fd's or MAPPED):
						   mapped from it; SHARED: its data is the
						   FILE's FILEDATA; private: only its copies */
#define CKPT_VMA_EXCLUDED	(1u << 11)	/* contents not saved (MADV_DONTDUMP,
						   --exclude-mapping): restored as zeros */
#define CKPT_VMA_MAYWRITE	(1u << 13)	/* SHARED and FILE or MEMFD, not writable now but
						   may be made so (smaps "mw", VM_MAYWRITE:
						   the file was opened for writing) */
#define CKPT_VMA_SYSV		(1u << 14)	/* SHARED: a SysV shared memory attach
						   (shmat) of the segment whose id is
						   ino (SYSV_SHM); its pages are the
						   segment's from pgoff */
#define CKPT_VMA_SHM_ALIAS	(1u << 16)	/* shared anonymous memory (or a deleted
						   file) that an earlier mapping of the
						   image maps too (same dev/ino), or a
						   SYSV attach of a segment an earlier
						   attach maps (same ino): one object,
						   its pages stored with that one where
						   it stores the same offsets */
#define CKPT_VMA_THP		(1u << 17)	/* private anonymous, not NOHUGEPAGE: had
						   transparent huge pages at dump (smaps
						   AnonHugePages); restore makes the 2 MiB
						   ranges holding its stored pages huge
						   again (MADV_COLLAPSE) */
#define CKPT_VMA_SPECIAL	(CKPT_VMA_VDSO | CKPT_VMA_VVAR | CKPT_VMA_VVAR_VCLOCK)

#define CKPT_MADV_DONTFORK	(1u << 0)	/* dc */
#define CKPT_MADV_DONTDUMP	(1u << 1)	/* dd */
#define CKPT_MADV_HUGEPAGE	(1u << 2)	/* hg */
#define CKPT_MADV_NOHUGEPAGE	(1u << 3)	/* nh */
#define CKPT_MADV_WIPEONFORK	(1u << 4)	/* wf */
#define CKPT_MADV_NORESERVE	(1u << 5)	/* nr */
#define CKPT_MADV_LOCKED	(1u << 6)	/* lo */
#define CKPT_MADV_MERGEABLE	(1u << 7)	/* mg */
#define CKPT_MADV_SEQUENTIAL	(1u << 8)	/* sr */
#define CKPT_MADV_RANDOM	(1u << 9)	/* rr */
#define CKPT_MADV_LOCKONFAULT	(1u << 10)	/* lf: mlock2(MLOCK_ONFAULT), with LOCKED */
#define CKPT_MADV_GUARD		(1u << 11)	/* gu: may hold guard regions (GUARDS) */
#define CKPT_MADV_SEALED	(1u << 12)	/* sl: mseal(2), Linux >= 6.10 */

/*
 * File descriptors, version 2: two levels, as in the kernel.
 *
 * A FILE section is an open file description (struct file: what open(2),
 * pipe(2), eventfd(2)... return), with an id unique in the image: the
 * FILE sections are numbered 1, 2, 3... in the order they come.  Its kind
 * says what is behind it and how restore makes it again; kind-specific
 * state (a pipe's size, an eventfd's count, an epoll's registrations)
 * follows the path, in the layout of the kind (below) and never longer
 * than the kind allows.  Files of one kernel object (the two ends of a
 * pipe) name the object in their state.  Bytes a file carries (a deleted
 * file's contents, a pipe's buffered data) follow in FILEDATA sections.
 *
 * An FD section is one descriptor of a process: its number, FD_CLOEXEC and
 * the id of its FILE.  Descriptors with the same FILE share it (dup(2),
 * and across processes fork(2) or SCM_RIGHTS): one offset, one set of
 * status flags.
 *
 * policy says how restore makes the file (CKPT_FPOL_*): exactly, or, for
 * what lies outside the image (the other end of a pipe held by a process
 * that was not dumped, the terminal the job ran in), by the documented
 * rule for it; what says so in words, for dump -v, restore and inspect.
 */
struct ckpt_file {
	uint32_t id;		/* 1, 2, 3... in section order */
	uint32_t kind;		/* CKPT_FD_* */
	uint32_t flags;		/* open(2) access mode and status flags (fdinfo),
				   without O_CLOEXEC, which is per descriptor */
	uint32_t policy;	/* CKPT_FPOL_* */
	uint64_t pos;		/* offset (fdinfo pos) */
	uint64_t size;		/* st_size at dump */
	uint64_t dev, ino;	/* st_dev, st_ino of the inode behind it */
	uint64_t rdev;		/* st_rdev */
	uint64_t mtime_ns;	/* st_mtime, nanoseconds */
	uint64_t data_len;	/* bytes it carries in FILEDATA sections */
	uint32_t mode;		/* st_mode */
	uint32_t path_len;	/* bytes of the path (the /proc/PID/fd link
				   or what restore opens) after this struct */
	uint32_t state_len;	/* bytes of kind state after the path */
	uint32_t what_len;	/* bytes of the description after the state */
	uint32_t fflags;	/* CKPT_FILEF_* */
	uint32_t fown;		/* who gets its SIGIO and SIGURG, and which
				   signal: CKPT_FOWN_*; 0: nobody, SIGIO */
};
static_assert(sizeof(struct ckpt_file) == 96, "ckpt_file size");
/* ckpt_file.fown: F_SETOWN's owner, a process of the image (its PID or
 * its process group, whose leader it is), and F_SETSIG's signal */
#define CKPT_FOWN_SIGMASK	0x7fu		/* the signal, 1-64; 0: SIGIO */
#define CKPT_FOWN_PROCESS	0x100u		/* owner: process ID (F_OWNER_PID) */
#define CKPT_FOWN_GROUP		0x200u		/* owner: process group (F_OWNER_PGRP) */
#define CKPT_FOWN_ID_SHIFT	10		/* bits 10-31: its PID or group ID */

enum ckpt_fd_kind {
	CKPT_FD_FILE     = 1,	/* regular file, reopened by path */
	CKPT_FD_DIR      = 2,	/* directory, reopened by path */
	CKPT_FD_DEVICE   = 3,	/* device without state, reopened by path */
	CKPT_FD_GHOST    = 4,	/* deleted regular file: contents in FILEDATA */
	CKPT_FD_OTHER    = 5,	/* anything ckpt cannot name better: never EXACT */
	CKPT_FD_MEMFD    = 6,	/* memfd: contents in FILEDATA, seals in fflags */
	CKPT_FD_PIPE     = 7,	/* an end of an anonymous pipe: ckpt_fd_pipe */
	CKPT_FD_FIFO     = 8,	/* named FIFO, reopened by path: ckpt_fd_pipe */
	CKPT_FD_EVENTFD  = 9,	/* ckpt_fd_eventfd */
	CKPT_FD_SIGNALFD = 10,	/* ckpt_fd_signalfd */
	CKPT_FD_TIMERFD  = 11,	/* ckpt_fd_timerfd */
	CKPT_FD_EPOLL    = 12,	/* ckpt_fd_epoll + ckpt_epoll_entry[n] */
	CKPT_FD_INOTIFY  = 13,	/* ckpt_fd_inotify + watches */
	CKPT_FD_FANOTIFY = 14,	/* ckpt_fd_fanotify + marks */
	CKPT_FD_PIDFD    = 15,	/* ckpt_fd_pidfd */
	CKPT_FD_PATH     = 16,	/* O_PATH, reopened by path (on a symlink: O_NOFOLLOW) */
	CKPT_FD_PROC     = 17,	/* a file of the process's own /proc/PID
				   (path): opened by the restored process
				   itself, naming it; ckpt_fd_proc */
	CKPT_FD_UNIX     = 18,	/* a unix socket: ckpt_fd_unix */
	CKPT_FD_INET     = 19,	/* a TCP or UDP socket over IPv4 or IPv6: ckpt_fd_inet */
	CKPT_FD_TCP      = 40,	/* an established TCP connection: ckpt_fd_inet +
				   ckpt_fd_tcp, its queues in FILEDATA */
	/* Named, not restored yet: only INHERIT or LOST. */
	CKPT_FD_SOCKET   = 32,
	/* A terminal (pty slave, console, tty): ckpt_fd_tty.  Restored (a
	 * pty slave whose master the image holds); others INHERIT or LOST. */
	CKPT_FD_TTY      = 33,
	CKPT_FD_PTMX     = 34,	/* a pseudo-terminal master: ckpt_fd_tty */
	CKPT_FD_USERFAULTFD = 35,
	CKPT_FD_IO_URING = 36,
};

enum ckpt_file_policy {
	CKPT_FPOL_EXACT   = 0,	/* restored exactly */
	CKPT_FPOL_INHERIT = 1,	/* outside the image, on fd 0, 1 or 2: gets
				   ckpt restore's own fd of that number */
	CKPT_FPOL_LOST    = 2,	/* not restorable, accepted at dump
				   (--allow-lost-fds, --lose-fd): /dev/null
				   takes its place */
	CKPT_FPOL_OUTSIDE = 3,	/* names something outside the image (a
				   process): reconnected to it if it is still
				   there, as the kind says */
};

#define CKPT_FILEF_DELETED	1u	/* FIFO, DIR, PATH (of a directory): the path
					   was deleted while open: restore makes an
					   empty one, opens it, removes it again */
#define CKPT_FILEF_RELINKED	2u	/* FILE: its path said "(deleted)" but the
					   inode kept another link: path is that
					   one (found in the same directory or
					   among the process's other files) */
#define CKPT_FILEF_MAPPED	4u	/* GHOST (carrying its inode: inode_of 0) or
					   MEMFD, EXACT, that no FD names: the file
					   of mappings (VMA MEMFD, same dev/ino) the
					   process held no descriptor of; restore
					   makes it for them (flags O_RDWR, pos 0) */
#define CKPT_FILEF_ACCEPTED	8u	/* UNIX stream or seqpacket, connected:
					   accepted from the listener of the
					   image bound to its name (5.24):
					   made again by connecting its peer
					   to that listener */
#define CKPT_FILEF_SEALS(f)	(((f) >> 8) & 0xff)	/* memfd: F_SEAL_* bits */
#define CKPT_FILEF_NODE_DELETED	0x10000u	/* DEVICE, TTY: a device node deleted
						   while open: made again (mknod) */
#define CKPT_FILEF_EVENTS_LOST	0x100000u	/* INOTIFY, FANOTIFY: it had events
						   queued, not read, that the
						   dump did not keep
						   (--allow-lost-fds); INET, a
						   TCP listener: connections
						   waiting to be accepted, so */
#define CKPT_FILEF_CONNECTED	0x1000000u	/* UNIX stream or seqpacket,
						   connected, its peer closed:
						   it had connected to the
						   listener of the image bound
						   to its peer's name (5.24) */
#define CKPT_FILEF_SENDERS	0x2000000u	/* UNIX datagram: a queued datagram
						   came from a named sender; each
						   one's sender's name follows the
						   message lengths (5.24) */
#define CKPT_FILEF_FIN_IN	0x4000000u	/* TCP: the peer's FIN had come (CLOSE_WAIT,
						   LAST_ACK, CLOSING): after the bytes
						   queued the process reads the end */
#define CKPT_FILEF_FIN_OUT	0x8000000u	/* TCP: the process had shut its
						   sending side (FIN_WAIT1, FIN_WAIT2,
						   LAST_ACK, CLOSING): its FIN follows
						   the send queue */

/*
 * GHOST state (optional: images before it have state_len 0, and then
 * data_len == size, every byte stored).  What the recreated file gets:
 * its owner (given back only where the restoring credentials may, the
 * setuid/setgid bits of mode after it) and times (mtime is
 * ckpt_file.mtime_ns); its data is nextents ranges (SEEK_DATA/SEEK_HOLE
 * at dump) that follow as struct ckpt_extent, in ascending order without
 * overlaps, inside size; the FILEDATA bytes are theirs one after the
 * other (data_len = the sum of their lengths), the rest are holes.
 * A further open of an inode another GHOST carries (two opens of one
 * deleted file, or of two of its names) names that one in inode_of and
 * carries nothing: restore opens the same inode again.
 */
struct ckpt_fd_ghost {
	uint32_t uid, gid;	/* st_uid, st_gid */
	uint64_t atime_ns;	/* st_atime, nanoseconds */
	uint32_t nextents;	/* ckpt_extent[] that follow */
	uint32_t inode_of;	/* 0, or the id of an earlier GHOST with the
				   same dev and ino and inode_of 0: then
				   nextents and data_len are 0 */
};
static_assert(sizeof(struct ckpt_fd_ghost) == 24, "ckpt_fd_ghost size");

struct ckpt_extent {
	uint64_t offset, len;	/* bytes of the file with data */
};
static_assert(sizeof(struct ckpt_extent) == 16, "ckpt_extent size");
#define CKPT_MAX_EXTENTS	(1u << 20)

/*
 * Kind state.  Each kind has a fixed struct; EPOLL, INOTIFY, FANOTIFY and
 * an O_DIRECT PIPE add arrays whose counts are in it.  state_len is the
 * exact sum.
 */
struct ckpt_fd_pipe {		/* PIPE, FIFO */
	uint64_t pipe;		/* the pipe's inode: files with the same value
				   are ends of one pipe (or opens of one FIFO) */
	uint32_t pipe_size;	/* F_GETPIPE_SZ, bytes */
	uint32_t npackets;	/* u32 lengths that follow: the buffered data
				   is that many packets (O_DIRECT writes) */
	uint32_t pflags;	/* CKPT_PIPE_* */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_pipe) == 24, "ckpt_fd_pipe size");
#define CKPT_PIPE_DATA	1u	/* this file carries the pipe's buffered bytes
				   (data_len; one file per pipe) */

struct ckpt_fd_eventfd {
	uint64_t count;
	uint32_t semaphore;	/* EFD_SEMAPHORE */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_eventfd) == 16, "ckpt_fd_eventfd size");

struct ckpt_fd_signalfd {
	uint64_t sigmask;	/* bit n-1 = signal n */
};
static_assert(sizeof(struct ckpt_fd_signalfd) == 8, "ckpt_fd_signalfd size");

struct ckpt_fd_timerfd {
	int32_t  clockid;
	uint32_t settime_flags;	/* TFD_TIMER_ABSTIME 1, TFD_TIMER_CANCEL_ON_SET 2 */
	uint64_t ticks;		/* expirations not read yet */
	int64_t  interval_ns;
	int64_t  value_ns;	/* time left; 0: disarmed */
	int64_t  now_ns;	/* the clock's time when value_ns was read */
};
static_assert(sizeof(struct ckpt_fd_timerfd) == 40, "ckpt_fd_timerfd size");

struct ckpt_fd_epoll {
	uint32_t nentries;	/* struct ckpt_epoll_entry that follow */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_epoll) == 8, "ckpt_fd_epoll size");
struct ckpt_epoll_entry {
	int32_t  tfd;		/* the registered descriptor number */
	uint32_t events;	/* EPOLL* as the kernel holds them (EPOLLERR,
				   EPOLLHUP added; a fired EPOLLONESHOT: only
				   the flag bits left) */
	uint64_t data;
	uint32_t file;		/* FILE id of the registered file */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_epoll_entry) == 24, "ckpt_epoll_entry size");

struct ckpt_fd_inotify {
	uint32_t nwatches;	/* struct ckpt_inotify_watch + path, each */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_inotify) == 8, "ckpt_fd_inotify size");
struct ckpt_inotify_watch {
	int32_t  wd;		/* watch descriptor, kept: 1 to CKPT_MAX_WD,
				   ascending */
	uint32_t mask;		/* IN_* with IN_ONESHOT, IN_EXCL_UNLINK */
	uint64_t dev, ino;	/* the watched inode */
	uint32_t path_len;	/* bytes of its path that follow */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_inotify_watch) == 32, "ckpt_inotify_watch size");
/* Restore hands watch descriptors out again by adding and removing
 * watches up to each one: it adds at most this many. */
#define CKPT_MAX_WD	(1 << 20)

struct ckpt_fd_fanotify {
	uint32_t init_flags;	/* fanotify_init() flags */
	uint32_t event_flags;	/* fanotify_init() event_f_flags */
	uint32_t nmarks;	/* struct ckpt_fanotify_mark + path, each */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_fanotify) == 16, "ckpt_fd_fanotify size");
struct ckpt_fanotify_mark {
	uint32_t type;		/* FAN_MARK_INODE 0, FAN_MARK_MOUNT 0x10,
				   FAN_MARK_FILESYSTEM 0x100 */
	uint32_t mflags;	/* FAN_MARK_IGNORED_SURV_MODIFY, _EVICTABLE... */
	uint64_t mask;
	uint64_t ignored_mask;
	uint64_t dev, ino;	/* the marked inode (mount: the mount point's) */
	uint32_t path_len;
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fanotify_mark) == 48, "ckpt_fanotify_mark size");

struct ckpt_fd_pidfd {
	int32_t  pid;		/* as the dumping process saw it; -1: exited */
	uint32_t pflags;	/* CKPT_PIDFD_* */
	uint64_t start_time;	/* /proc/PID/stat starttime: the same process */
};
static_assert(sizeof(struct ckpt_fd_pidfd) == 16, "ckpt_fd_pidfd size");
#define CKPT_PIDFD_SELF	1u	/* of the process itself */
#define CKPT_PIDFD_THREAD	2u	/* pid is a thread's id, not its process's
				   (PIDFD_THREAD, Linux 6.9) */

struct ckpt_fd_proc {
	int32_t  pid;		/* the process whose /proc/PID the path names */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_proc) == 8, "ckpt_fd_proc size");

/*
 * A unix socket (unix(7)).  Sockets of one connection name each other's
 * inode (peer).  The bytes queued for reading (FILEDATA, data_len) are
 * nmsgs messages (u32 lengths after the names) for datagram and
 * seqpacket sockets, one byte stream for stream sockets (nmsgs 0).
 */
struct ckpt_fd_unix {
	uint64_t sock;		/* its inode */
	uint64_t peer;		/* the peer's inode; 0: none, or the peer is closed */
	uint32_t type;		/* SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5 */
	uint32_t state;		/* TCP_ESTABLISHED 1 (connected), TCP_CLOSE 7
				   (not connected), TCP_LISTEN 10 (include/net/tcp_states.h) */
	uint32_t shutdown;	/* its own: 1 receive side, 2 send side */
	uint32_t backlog;	/* listen(2) backlog */
	uint32_t rcvbuf;	/* SO_RCVBUF as getsockopt reads it */
	uint32_t sndbuf;	/* SO_SNDBUF as getsockopt reads it */
	int32_t  peek_off;	/* SO_PEEK_OFF; -1: off */
	uint32_t uflags;	/* CKPT_UNIX_* */
	uint32_t name_len;	/* bytes of its sun_path after this struct
				   (abstract: starts with a NUL; 0: unbound) */
	uint32_t peer_name_len;	/* bytes of the peer's sun_path after it */
	uint32_t nmsgs;		/* u32 message lengths after the names */
	uint32_t file_mode;	/* a path name: its socket file's permission bits */
	uint32_t file_uid, file_gid;	/* and owner */
};
static_assert(sizeof(struct ckpt_fd_unix) == 72, "ckpt_fd_unix size");
#define CKPT_UNIX_PASSCRED	1u	/* SO_PASSCRED */
#define CKPT_UNIX_PASSSEC	2u	/* SO_PASSSEC */
#define CKPT_UNIX_DELETED	4u	/* its socket file was deleted: bound, then
				   unlinked again */
#define CKPT_UNIX_SOCKOPTS	8u	/* options it had set beyond these: that many
				   ckpt_sockopt records, then their count (u32,
				   1 or more), end the state */

/*
 * A TCP or UDP socket (ip(7), ipv6(7)): its address and its peer's, and
 * the options programs set.  This ckpt restores TCP sockets that are
 * listening or not connected, and UDP sockets with an empty queue.
 */
struct ckpt_fd_inet {
	uint32_t family;	/* AF_INET 2, AF_INET6 10 */
	uint32_t type;		/* SOCK_STREAM 1, SOCK_DGRAM 2 */
	uint32_t protocol;	/* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	uint32_t state;		/* TCP: its state (include/net/tcp_states.h:
				   10 listening, 7 closed); UDP: 1 connected, 7 not */
	uint8_t  addr[16];	/* bound address (IPv4: the first 4 bytes) */
	uint8_t  peer_addr[16];	/* connected to (UDP) */
	uint16_t port;		/* bound port, host order; 0: not bound */
	uint16_t peer_port;
	uint32_t backlog;	/* listen(2) backlog */
	uint32_t opts;		/* CKPT_INET_* options set */
	uint32_t rcvbuf;	/* SO_RCVBUF, if the program set it; 0: default */
	uint32_t sndbuf;	/* SO_SNDBUF, if the program set it; 0: default */
	uint32_t nsockopts;	/* ckpt_sockopt records ending the state */
};
static_assert(sizeof(struct ckpt_fd_inet) == 72, "ckpt_fd_inet size");

/*
 * An option the program set on an INET, TCP or UNIX socket, beyond the
 * opts or uflags bits: one that image/sockopt.c lists (restore sets no
 * other), whose value differed from a new socket's of the same family,
 * type and protocol at the dump.  They end the kind state (INET, TCP:
 * nsockopts of them, after ckpt_fd_tcp for a connection; UNIX: with
 * CKPT_UNIX_SOCKOPTS, then their count), as getsockopt gave them: an
 * int, a struct linger or timeval, or a name (TCP_CONGESTION).
 */
struct ckpt_sockopt {
	uint32_t level;		/* SOL_SOCKET 1, IPPROTO_IP 0, IPPROTO_TCP 6... */
	uint32_t name;		/* SO_PRIORITY, TCP_KEEPIDLE... */
	uint32_t len;		/* bytes of val used, at most 16 */
	uint32_t reserved;
	uint8_t  val[16];
};
static_assert(sizeof(struct ckpt_sockopt) == 32, "ckpt_sockopt size");
#define CKPT_INET_REUSEADDR	0x01u	/* SO_REUSEADDR */
#define CKPT_INET_REUSEPORT	0x02u	/* SO_REUSEPORT */
#define CKPT_INET_KEEPALIVE	0x04u	/* SO_KEEPALIVE */
#define CKPT_INET_BROADCAST	0x08u	/* SO_BROADCAST */
#define CKPT_INET_NODELAY	0x10u	/* TCP_NODELAY */
#define CKPT_INET_V6ONLY	0x20u	/* IPV6_V6ONLY */
#define CKPT_INET_FREEBIND	0x40u	/* IP_FREEBIND */

/*
 * A terminal: a pseudo-terminal master (PTMX) or a terminal (TTY: a pty
 * slave /dev/pts/N, ...).  The two files of one pty name its number; a
 * pty's master and slave share one termios and window size (both files
 * carry them).  The master carries the bytes buffered in the pty
 * (FILEDATA, data_len = to_master + to_slave): first those the master
 * has to read, then those the slave has to read, as they are typed again
 * (in canonical mode: its lines, an end-of-file line ending with VEOF,
 * then the line not finished yet).
 */
struct ckpt_fd_tty {
	uint32_t index;		/* a pty's number N (/dev/pts/N); ~0: not a pty */
	uint32_t tflags;	/* CKPT_TTY_* */
	uint32_t iflag, oflag, cflag, lflag;	/* termios(3) c_*flag */
	uint32_t ispeed, ospeed;	/* B* speed codes (cfgetispeed) */
	uint8_t  line;		/* c_line, the line discipline: 0 N_TTY */
	uint8_t  reserved8[3];
	uint8_t  cc[32];	/* c_cc as glibc's struct termios holds it (the
				   kernel's 19 first, the rest _POSIX_VDISABLE) */
	uint16_t rows, cols, xpixel, ypixel;	/* TIOCGWINSZ */
	uint32_t to_master;	/* master: bytes buffered for the master's reads */
	uint32_t to_slave;	/* master: bytes typed again for the slave's reads */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd_tty) == 88, "ckpt_fd_tty size");
#define CKPT_TTY_LOCKED	1u	/* master: the slave is locked (TIOCGPTLCK) */
#define CKPT_TTY_PACKET	2u	/* master: packet mode (TIOCGPKT) */
#define CKPT_TTY_HUP	4u	/* master: its slave was opened and is closed
				   now (reads give EIO, poll POLLHUP) */

/*
 * CKPT_SEC_CTTY (at most one per process, after SYSV_SHM): the process's
 * controlling terminal (/proc/PID/stat tty_nr, tpgid), followed by a
 * struct ckpt_fd_tty: the terminal's termios and window size when a
 * descriptor of the process was that terminal (CKPT_CTTY_TERMIOS), and
 * its pty number when it is a pty whose master the image holds.
 */
struct ckpt_ctty {
	uint64_t rdev;		/* the terminal's device number (tty_nr) */
	int32_t  tpgid;		/* its foreground process group at dump */
	uint32_t cflags;	/* CKPT_CTTY_* */
};
static_assert(sizeof(struct ckpt_ctty) == 16, "ckpt_ctty size");
#define CKPT_CTTY_TERMIOS	1u	/* the ckpt_fd_tty after it holds the
					   terminal's termios and window size */
#define CKPT_CTTY_PTY		2u	/* a pty of the image: ckpt_fd_tty.index
					   names it (a PTMX file's index) */

/*
 * An established TCP connection (TCP): a struct ckpt_fd_inet (its
 * addresses and options, state 1) and then this, what TCP_REPAIR reads
 * (tcp(7); net/ipv4/tcp.c): the sequence numbers, the queues, window
 * and options.  FILEDATA holds inq_len bytes of the receive queue (come
 * in, not read by the process), then outq_len of the send queue (written
 * by it, not acknowledged by the peer), the last unsent_len of which had
 * not been sent.
 */
struct ckpt_fd_tcp {
	uint32_t snd_seq;	/* TCP_QUEUE_SEQ of the send queue: the sequence
				   number of the next byte written */
	uint32_t rcv_seq;	/* of the receive queue: the next byte expected */
	uint32_t inq_len;	/* receive queue bytes (FILEDATA, first) */
	uint32_t outq_len;	/* send queue bytes (FILEDATA, after them) */
	uint32_t unsent_len;	/* of those, not sent yet (SIOCOUTQNSD) */
	uint32_t mss;		/* TCP_MAXSEG */
	uint32_t topts;		/* tcpi_options: CKPT_TCP_* */
	uint8_t  snd_wscale;	/* window scale the peer uses / we use */
	uint8_t  rcv_wscale;
	uint16_t reserved;
	uint32_t timestamp;	/* TCP_TIMESTAMP: our clock for TCP timestamps */
	/* TCP_REPAIR_WINDOW (struct tcp_repair_window) */
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
	uint32_t reserved2;
};
static_assert(sizeof(struct ckpt_fd_tcp) == 60, "ckpt_fd_tcp size");
#define CKPT_TCP_TIMESTAMPS	1u	/* TCPI_OPT_TIMESTAMPS */
#define CKPT_TCP_SACK		2u	/* TCPI_OPT_SACK */
#define CKPT_TCP_WSCALE		4u	/* TCPI_OPT_WSCALE */

/* CKPT_SEC_FD, version 2: one descriptor of a process. */
struct ckpt_fd {
	int32_t  fd;
	uint32_t fdflags;	/* FD_CLOEXEC */
	uint32_t file;		/* id of its FILE */
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_fd) == 16, "ckpt_fd size");

/* CKPT_SEC_FD in version-1 images (read, never written): descriptor and
 * file in one, followed by the path (the link). */
struct ckpt_fd_v1 {
	int32_t  fd;
	uint32_t kind;		/* CKPT_FD_* 1-6 */
	uint32_t flags;		/* open(2) flags, from /proc/PID/fdinfo */
	uint32_t fdflags;	/* FD_CLOEXEC */
	uint64_t pos;		/* file offset */
	uint64_t size;		/* st_size at dump */
	uint64_t dev, ino;
	uint64_t mtime_ns;
	uint32_t mode;		/* st_mode */
	uint32_t path_len;
	int32_t  dup_of;	/* with CKPT_FDF_DUP: an earlier fd sharing this
				   open file description (same offset, flags) */
	uint32_t fflags;	/* CKPT_FDF_* */
};
static_assert(sizeof(struct ckpt_fd_v1) == 72, "ckpt_fd_v1 size");

#define CKPT_FDF_DUP	1u	/* version 1: a dup of fd dup_of */

/*
 * CKPT_SEC_LOCKS (at most one per process, after its FD sections): the
 * file locks it holds, as /proc/PID/fdinfo/N shows them (fs/locks.c
 * show_fd_locks: flock(2) and OFD locks of that open file description,
 * POSIX locks of the process taken through it, leases).  Each names the
 * FILE it was taken through, one of the process's descriptors; restore
 * has the process take it again through that descriptor.
 */
struct ckpt_lock {
	uint32_t file;		/* FILE id: a file one of the process's FDs names */
	uint32_t type;		/* CKPT_LOCK_* */
	uint32_t mode;		/* F_RDLCK 0, F_WRLCK 1 (asm-generic/fcntl.h) */
	uint32_t reserved;	/* zero */
	uint64_t start;		/* POSIX, OFD: first byte; flock, lease: 0 */
	uint64_t end;		/* last byte (inclusive), >= start;
				   CKPT_LOCK_EOF: up to any end of file */
};
static_assert(sizeof(struct ckpt_lock) == 32, "ckpt_lock size");

#define CKPT_LOCK_FLOCK	1	/* flock(2): owned by the open file description */
#define CKPT_LOCK_POSIX	2	/* fcntl(F_SETLK): owned by the process */
#define CKPT_LOCK_OFD	3	/* fcntl(F_OFD_SETLK): owned by the open file description */
#define CKPT_LOCK_LEASE	4	/* fcntl(F_SETLEASE), mode the lease type */
#define CKPT_LOCK_EOF	0xffffffffffffffffull	/* UINT64_MAX */
#define CKPT_MAX_LOCKS	65536	/* per process */

/* CKPT_SEC_FILEDATA: bytes a file carries, at offset. */
struct ckpt_filedata {
	uint32_t id;		/* the FILE (version 1: the fd of a GHOST or MEMFD) */
	uint32_t reserved;
	uint64_t offset;
};
static_assert(sizeof(struct ckpt_filedata) == 16, "ckpt_filedata size");

/*
 * CKPT_SEC_TREE: the processes of a tree (PID and its descendants, dumped
 * as one cut), once, before the first PROC.  ntasks struct ckpt_task
 * follow, in creation order: a task's parent always comes before it, the
 * root first.  Live tasks have a PROC section each, in the same order
 * (proc = 0, 1, 2...); a zombie (exited, not reaped by its parent) has
 * none.  An image without TREE holds one process, the root.
 */
struct ckpt_tree {
	uint32_t ntasks;
	uint32_t flags;		/* none defined yet: 0 */
};
static_assert(sizeof(struct ckpt_tree) == 8, "ckpt_tree size");

struct ckpt_task {
	int32_t  pid, ppid, pgid, sid;	/* in the dumping PID namespace */
	int32_t  parent;	/* index of its parent's task; -1: the root,
				   whose parent is outside the image */
	int32_t  proc;		/* index of its PROC section; -1: a zombie */
	int32_t  files_of;	/* an earlier task whose fd table it shares
				   (CLONE_FILES), -1: its own; restore
				   makes only its parent's */
	int32_t  fs_of;		/* the same for its fs (cwd, root, umask:
				   CLONE_FS), -1: its own */
	uint32_t exit_signal;	/* sent to its parent when it ends (stat 38) */
	int32_t  exit_status;	/* a zombie's wait status (stat 52), else 0 */
	uint32_t flags;		/* CKPT_TASK_* */
	uint32_t uid, gid;	/* a zombie's real ids (what ps shows) */
	uint32_t reserved;
	uint64_t start_time;	/* /proc/PID/stat starttime */
	char     comm[16];	/* a zombie's name */
};
static_assert(sizeof(struct ckpt_task) == 80, "ckpt_task size");

#define CKPT_TASK_SUBREAPER	1u	/* prctl(PR_SET_CHILD_SUBREAPER) was set */

/*
 * CKPT_SEC_COW (at most one per process, after its VMA sections): pages
 * the process still shared copy-on-write with its parent task at dump
 * (the same physical page at the same address, in private mappings of
 * the same kind).  Their data is stored once, with the parent; a restore
 * makes the process by a fork of its parent, after the parent's memory
 * is filled, and keeps them.  Runs are in address order, each inside one
 * of the process's mappings and one of its parent's.
 */
struct ckpt_cow_run {
	uint64_t addr;
	uint64_t npages;
};
static_assert(sizeof(struct ckpt_cow_run) == 16, "ckpt_cow_run size");

/*
 * CKPT_SEC_PAGES: a run of npages consecutive pages starting at addr,
 * in the process named by the section header.  The data is npages *
 * page_size bytes encoded with codec.  Pages not in any PAGES section
 * read as zero after restore (or as the file's contents for file mappings).
 */
struct ckpt_pages {
	uint64_t addr;
	uint32_t npages;
	uint16_t codec;		/* CKPT_CODEC_* */
	uint16_t flags;		/* CKPT_PAGES_* */
};
static_assert(sizeof(struct ckpt_pages) == 16, "ckpt_pages size");

enum ckpt_codec {
	CKPT_CODEC_NONE = 0,
	CKPT_CODEC_ZLIB = 1,
	CKPT_CODEC_ZSTD = 2,
	CKPT_CODEC_LZ4  = 3,
};

#define CKPT_PAGES_IN_PARENT	1u	/* no data: the pages are as in the parent image */

/*
 * CKPT_SEC_PAGES_ALIGNED: a PAGES section whose page data starts at a
 * multiple of the page size in the file, so that a restore can read() or
 * map it in place and a dump writes whole pages into the page cache.
 * Payload: this struct, `skip` bytes of zero, then exactly what a PAGES
 * section's payload holds (struct ckpt_pages + data).  The payload CRC
 * covers all of it.  A reader treats the rest as a PAGES section; skip is
 * what the writer needed at the offset it wrote at (an image copied
 * elsewhere still reads, unaligned).
 */
struct ckpt_align {
	uint32_t skip;		/* zero bytes that follow, < CKPT_MAX_ALIGN_SKIP */
	uint32_t reserved;	/* zero */
};
static_assert(sizeof(struct ckpt_align) == 8, "ckpt_align size");

#define CKPT_MAX_ALIGN_SKIP	65536u	/* the largest page size */

/*
 * CKPT_SEC_HASHES: a 64-bit content hash (ckpt_page_hash(), image/hash.c)
 * of each of npages pages from addr, as they were at dump time, whether
 * stored here, in a parent, or all zero.  Written when the image may be a
 * parent; a later incremental dump compares against them when the kernel
 * cannot say which pages were written.
 */
struct ckpt_hashes {
	uint64_t addr;
	uint32_t npages;
	uint32_t reserved;
};
static_assert(sizeof(struct ckpt_hashes) == 16, "ckpt_hashes size");

/* ckpt_proc.dirty_method */
enum ckpt_dirty_method {
	CKPT_DIRTY_NONE      = 0,	/* a full image */
	CKPT_DIRTY_UFFD      = 1,	/* PAGEMAP_SCAN + userfaultfd write-protect */
	CKPT_DIRTY_SOFTDIRTY = 2,	/* pagemap soft-dirty bits */
	CKPT_DIRTY_HASH      = 3,	/* page contents compared by hash */
};

/*
 * CKPT_SEC_MAC_META, CKPT_SEC_MAC_ALL (section proc 0): an HMAC-SHA256
 * (RFC 2104, FIPS 180-4) with the signing machine's key K of
 *
 *   "ckpt image MAC 1"                  16 bytes, no NUL
 *   the header                          256 bytes, as stored
 *   for each section before this one:   its 24-byte section header as stored,
 *                                       then SHA-256 of its payload (32 bytes);
 *                                       a page data section of a version-3
 *                                       image: its DIGESTS entry's digest
 *   type of this section                u32
 *   nsections                           u64, as below
 *
 * MAC_ALL's input includes MAC_META's section; neither covers END, whose
 * counts the reader checks against what it read.
 */
struct ckpt_mac {
	uint32_t alg;		/* CKPT_MAC_HMAC_SHA256 */
	uint32_t reserved;	/* zero */
	uint64_t nsections;	/* sections before this one (all covered) */
	uint8_t  key_id[16];	/* first 16 bytes of HMAC-SHA256(K, "ckpt key id"):
				   which key signed, revealing nothing of it */
	uint8_t  mac[32];
};
static_assert(sizeof(struct ckpt_mac) == 64, "ckpt_mac size");

#define CKPT_MAC_HMAC_SHA256	1

/*
 * CKPT_SEC_DIGESTS (with CKPT_HDR_DIGESTS, which needs CKPT_HDR_MAC;
 * section proc 0): exactly one, after the page data, right before
 * MAC_ALL.  One entry per section between MAC_META and it (every PAGES,
 * PAGES_ALIGNED and HASHES section, in order): its section header as
 * stored, the struct ckpt_pages its payload holds (zero for HASHES), and
 * its digest: the SHA-256 of its payload as stored, or (version 3,
 * CKPT_HDR_BLOCK_MAC, root's dumps since) a Poly1305-AES tag made with
 * the signing key (image/blockmac.h).  MAC_ALL's input names each of
 * those sections by exactly that header and digest, so a reader that
 * checks MAC_ALL over this table instead of over the page data has
 * authenticated the table at a cost that does not grow with the data,
 * and then checks each block against its digest when it reads it
 * (restore --lazy: restore/lazy.c).
 */
struct ckpt_digests {
	uint32_t alg;		/* CKPT_DIGEST_POLY1305_AES with CKPT_HDR_BLOCK_MAC,
				   else CKPT_DIGEST_SHA256 */
	uint32_t reserved;	/* zero */
	uint64_t count;		/* entries that follow */
};
static_assert(sizeof(struct ckpt_digests) == 16, "ckpt_digests size");

struct ckpt_digest {
	uint32_t type;		/* the section header, as stored */
	uint32_t proc;
	uint64_t size;
	uint32_t payload_crc;
	uint32_t crc;
	uint64_t addr;		/* its struct ckpt_pages (PAGES, PAGES_ALIGNED
				   after its skip); zero for HASHES */
	uint32_t npages;
	uint16_t codec;
	uint16_t pflags;
	uint8_t  digest[32];	/* SHA256: of the payload as stored;
				   POLY1305_AES: its 16-byte tag, then zeros */
};
static_assert(sizeof(struct ckpt_digest) == 72, "ckpt_digest size");

#define CKPT_DIGEST_SHA256	1	/* images before version 3 */
#define CKPT_DIGEST_POLY1305_AES 2	/* keyed, per block (image/blockmac.h) */
#define CKPT_DIGEST_LEN		32
/* Entries of a DIGESTS section (37.7 MB; 512 GiB of 1 MiB blocks). */
#define CKPT_MAX_DIGESTS	(1u << 19)
static_assert(16 + (uint64_t)CKPT_MAX_DIGESTS * 72 <= CKPT_MAX_META, "DIGESTS fits");

/* CKPT_SEC_END: the last section. */
struct ckpt_end {
	uint64_t nsections;	/* sections before this one */
	uint64_t npages;	/* pages with data in PAGES sections (not IN_PARENT) */
	uint64_t raw_bytes;	/* their bytes, decoded: npages * page_size */
	uint64_t reserved;
};
static_assert(sizeof(struct ckpt_end) == 32, "ckpt_end size");

#endif
