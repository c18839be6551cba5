/*
 * Structure-aware mutations for mutator.c: edit one field of a real
 * section (or of the image header) to a value chosen for what the field
 * is (a count, a length, an address, flags, an enumeration, an id...),
 * or edit the image consistently (a count and the sections it counts,
 * two mappings made to overlap, a page run moved to another mapping), so
 * that the checks behind the structure are reached with plausible
 * inputs and not only with random bytes.  mutator.c fixes the checksums
 * and END's counts afterwards.
 *
 * The field table follows image/format.h by offsetof(); a field it does
 * not list is still reached by the byte-level mutations.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/format.h"
#include "tests/fuzz/fields.h"

enum kind {
	K_COUNT,	/* how many of something follow */
	K_LEN,		/* bytes of something that follows */
	K_ADDR,		/* an address in the process */
	K_FLAGS,	/* bits */
	K_ENUM,		/* one of a few small values */
	K_ID,		/* a pid, tid, fd, uid... (signed or not) */
	K_SIZE,		/* a file size or offset */
	K_ANY,
};

struct field {
	uint32_t sec;		/* section type, 0: the image header */
	uint16_t off, len;	/* in the fixed struct at the payload's start */
	uint8_t kind;
	uint16_t base, elsize;	/* elsize: in any element of an array of such
				   structs from base on, not only the first */
	uint32_t fkind;		/* base STATE: in the kind state of a FILE of
				   this CKPT_FD_* kind, at base2 in it */
	uint16_t base2;
};

/* The field lies in a FILE's kind state (after its path), not at base. */
#define STATE	0xffffu

#define F(sec, type, member, kind) \
	{ sec, offsetof(struct type, member), sizeof(((struct type *)0)->member), kind, 0, 0, 0, 0 }
/* A field of every element of an array after a header of hdr bytes. */
#define A(sec, hdr, type, member, kind) \
	{ sec, offsetof(struct type, member), sizeof(((struct type *)0)->member), kind, hdr, \
	  sizeof(struct type), 0, 0 }
/* A field of the kind state of a FILE of kind fk, at `at` in that state. */
#define S(fk, at, type, member, kind) \
	{ CKPT_SEC_FILE, offsetof(struct type, member), sizeof(((struct type *)0)->member), kind, \
	  STATE, 0, fk, at }

static const struct field fields[] = {
	F(0, ckpt_header, version, K_ENUM), F(0, ckpt_header, header_size, K_LEN),
	F(0, ckpt_header, machine, K_ENUM), F(0, ckpt_header, page_size, K_SIZE),
	F(0, ckpt_header, flags, K_FLAGS), F(0, ckpt_header, xfeatures, K_FLAGS),
	F(0, ckpt_header, xstate_size, K_LEN), F(0, ckpt_header, nprocs, K_COUNT),
	F(0, ckpt_header, parent_id, K_ANY),

	F(CKPT_SEC_PROC, ckpt_proc, pid, K_ID), F(CKPT_SEC_PROC, ckpt_proc, ppid, K_ID),
	F(CKPT_SEC_PROC, ckpt_proc, pgid, K_ID), F(CKPT_SEC_PROC, ckpt_proc, sid, K_ID),
	F(CKPT_SEC_PROC, ckpt_proc, nthreads, K_COUNT), F(CKPT_SEC_PROC, ckpt_proc, nvmas, K_COUNT),
	F(CKPT_SEC_PROC, ckpt_proc, nfds, K_COUNT), F(CKPT_SEC_PROC, ckpt_proc, npending, K_COUNT),
	F(CKPT_SEC_PROC, ckpt_proc, umask, K_FLAGS), F(CKPT_SEC_PROC, ckpt_proc, personality, K_FLAGS),
	F(CKPT_SEC_PROC, ckpt_proc, uid, K_ID), F(CKPT_SEC_PROC, ckpt_proc, gid, K_ID),
	F(CKPT_SEC_PROC, ckpt_proc, ngroups, K_COUNT), F(CKPT_SEC_PROC, ckpt_proc, exe_len, K_LEN),
	F(CKPT_SEC_PROC, ckpt_proc, cwd_len, K_LEN), F(CKPT_SEC_PROC, ckpt_proc, cmdline_len, K_LEN),
	F(CKPT_SEC_PROC, ckpt_proc, auxv_len, K_LEN), F(CKPT_SEC_PROC, ckpt_proc, flags, K_FLAGS),
	F(CKPT_SEC_PROC, ckpt_proc, cap_eff, K_FLAGS), F(CKPT_SEC_PROC, ckpt_proc, start_code, K_ADDR),
	F(CKPT_SEC_PROC, ckpt_proc, end_code, K_ADDR), F(CKPT_SEC_PROC, ckpt_proc, start_brk, K_ADDR),
	F(CKPT_SEC_PROC, ckpt_proc, brk, K_ADDR), F(CKPT_SEC_PROC, ckpt_proc, start_stack, K_ADDR),
	F(CKPT_SEC_PROC, ckpt_proc, arg_start, K_ADDR), F(CKPT_SEC_PROC, ckpt_proc, env_end, K_ADDR),
	F(CKPT_SEC_PROC, ckpt_proc, rlim, K_SIZE), F(CKPT_SEC_PROC, ckpt_proc, exe_size, K_SIZE),
	F(CKPT_SEC_PROC, ckpt_proc, track_fd, K_ID), F(CKPT_SEC_PROC, ckpt_proc, dirty_method, K_ENUM),
	F(CKPT_SEC_PROC, ckpt_proc, pdeathsig, K_ENUM),

	A(CKPT_SEC_SIGACTS, 0, ckpt_sigaction, handler, K_ADDR),
	A(CKPT_SEC_SIGACTS, 0, ckpt_sigaction, flags, K_FLAGS),
	A(CKPT_SEC_SIGACTS, 0, ckpt_sigaction, mask, K_FLAGS),

	F(CKPT_SEC_TREE, ckpt_tree, ntasks, K_COUNT), F(CKPT_SEC_TREE, ckpt_tree, flags, K_FLAGS),
#define T(member, kind) A(CKPT_SEC_TREE, sizeof(struct ckpt_tree), ckpt_task, member, kind)
	T(pid, K_ID), T(ppid, K_ID), T(pgid, K_ID), T(sid, K_ID), T(parent, K_ID), T(proc, K_ID),
	T(files_of, K_ID), T(fs_of, K_ID), T(exit_signal, K_ENUM), T(exit_status, K_FLAGS),
	T(flags, K_FLAGS), T(uid, K_ID), T(gid, K_ID), T(start_time, K_SIZE),
#undef T

	A(CKPT_SEC_COW, 0, ckpt_cow_run, addr, K_ADDR), A(CKPT_SEC_COW, 0, ckpt_cow_run, npages, K_COUNT),

	F(CKPT_SEC_PAGES_ALIGNED, ckpt_align, skip, K_LEN),

	F(CKPT_SEC_DIGESTS, ckpt_digests, alg, K_ENUM), F(CKPT_SEC_DIGESTS, ckpt_digests, count, K_COUNT),
#define D(member, kind) A(CKPT_SEC_DIGESTS, sizeof(struct ckpt_digests), ckpt_digest, member, kind)
	D(type, K_ENUM), D(size, K_LEN), D(payload_crc, K_ANY), D(addr, K_ADDR), D(npages, K_COUNT),
	D(codec, K_ENUM), D(pflags, K_FLAGS), D(digest, K_ANY),
#undef D

	F(CKPT_SEC_TIMERS, ckpt_timers, itimer, K_SIZE), F(CKPT_SEC_TIMERS, ckpt_timers, ntimers, K_COUNT),

	F(CKPT_SEC_THREAD, ckpt_thread, tid, K_ID), F(CKPT_SEC_THREAD, ckpt_thread, nregsets, K_COUNT),
	F(CKPT_SEC_THREAD, ckpt_thread, sigmask, K_FLAGS), F(CKPT_SEC_THREAD, ckpt_thread, altstack_sp, K_ADDR),
	F(CKPT_SEC_THREAD, ckpt_thread, altstack_size, K_SIZE),
	F(CKPT_SEC_THREAD, ckpt_thread, altstack_flags, K_FLAGS),
	F(CKPT_SEC_THREAD, ckpt_thread, npending, K_COUNT), F(CKPT_SEC_THREAD, ckpt_thread, rseq_addr, K_ADDR),
	F(CKPT_SEC_THREAD, ckpt_thread, rseq_len, K_LEN), F(CKPT_SEC_THREAD, ckpt_thread, flags, K_FLAGS),
	F(CKPT_SEC_THREAD, ckpt_thread, clear_tid, K_ADDR), F(CKPT_SEC_THREAD, ckpt_thread, robust_list, K_ADDR),
	F(CKPT_SEC_THREAD, ckpt_thread, nice, K_ID), F(CKPT_SEC_THREAD, ckpt_thread, sched_policy, K_ENUM),
	F(CKPT_SEC_THREAD, ckpt_thread, ncpus, K_COUNT),

	F(CKPT_SEC_VMA, ckpt_vma, start, K_ADDR), F(CKPT_SEC_VMA, ckpt_vma, end, K_ADDR),
	F(CKPT_SEC_VMA, ckpt_vma, pgoff, K_SIZE), F(CKPT_SEC_VMA, ckpt_vma, fsize, K_SIZE),
	F(CKPT_SEC_VMA, ckpt_vma, prot, K_FLAGS), F(CKPT_SEC_VMA, ckpt_vma, flags, K_FLAGS),
	F(CKPT_SEC_VMA, ckpt_vma, madv, K_FLAGS), F(CKPT_SEC_VMA, ckpt_vma, path_len, K_LEN),
	F(CKPT_SEC_VMA, ckpt_vma, npages, K_COUNT), F(CKPT_SEC_VMA, ckpt_vma, crc, K_ANY),

	F(CKPT_SEC_FD, ckpt_fd, fd, K_ID), F(CKPT_SEC_FD, ckpt_fd, fdflags, K_FLAGS),
	F(CKPT_SEC_FD, ckpt_fd, file, K_ID),

	F(CKPT_SEC_FILE, ckpt_file, id, K_ID), F(CKPT_SEC_FILE, ckpt_file, kind, K_ENUM),
	F(CKPT_SEC_FILE, ckpt_file, flags, K_FLAGS), F(CKPT_SEC_FILE, ckpt_file, policy, K_ENUM),
	F(CKPT_SEC_FILE, ckpt_file, pos, K_SIZE), F(CKPT_SEC_FILE, ckpt_file, size, K_SIZE),
	F(CKPT_SEC_FILE, ckpt_file, data_len, K_LEN), F(CKPT_SEC_FILE, ckpt_file, mode, K_FLAGS),
	F(CKPT_SEC_FILE, ckpt_file, path_len, K_LEN), F(CKPT_SEC_FILE, ckpt_file, state_len, K_LEN),
	F(CKPT_SEC_FILE, ckpt_file, what_len, K_LEN), F(CKPT_SEC_FILE, ckpt_file, fflags, K_FLAGS),

	F(CKPT_SEC_FILEDATA, ckpt_filedata, id, K_ID), F(CKPT_SEC_FILEDATA, ckpt_filedata, offset, K_SIZE),

	/* kind state: an inotify instance and its first watch, a pidfd, a
	 * file of its own /proc, a unix socket, a fanotify instance and its
	 * first mark */
	S(CKPT_FD_INOTIFY, 0, ckpt_fd_inotify, nwatches, K_COUNT),
#define W(member, kind) S(CKPT_FD_INOTIFY, sizeof(struct ckpt_fd_inotify), ckpt_inotify_watch, member, kind)
	W(wd, K_ID), W(mask, K_FLAGS), W(dev, K_ID), W(ino, K_ID), W(path_len, K_LEN),
#undef W
	S(CKPT_FD_PIDFD, 0, ckpt_fd_pidfd, pid, K_ID), S(CKPT_FD_PIDFD, 0, ckpt_fd_pidfd, pflags, K_FLAGS),
	S(CKPT_FD_PIDFD, 0, ckpt_fd_pidfd, start_time, K_SIZE),
	S(CKPT_FD_PROC, 0, ckpt_fd_proc, pid, K_ID),
	/* a unix socket: its peer, names and messages (with fflags' ACCEPTED
	 * and CONNECTED, 5.24) */
	S(CKPT_FD_UNIX, 0, ckpt_fd_unix, sock, K_ID), S(CKPT_FD_UNIX, 0, ckpt_fd_unix, peer, K_ID),
	S(CKPT_FD_UNIX, 0, ckpt_fd_unix, type, K_ENUM), S(CKPT_FD_UNIX, 0, ckpt_fd_unix, state, K_ENUM),
	S(CKPT_FD_UNIX, 0, ckpt_fd_unix, uflags, K_FLAGS),
	S(CKPT_FD_UNIX, 0, ckpt_fd_unix, name_len, K_LEN),
	S(CKPT_FD_UNIX, 0, ckpt_fd_unix, peer_name_len, K_LEN),
	S(CKPT_FD_UNIX, 0, ckpt_fd_unix, nmsgs, K_COUNT),
	S(CKPT_FD_FANOTIFY, 0, ckpt_fd_fanotify, init_flags, K_FLAGS),
	S(CKPT_FD_FANOTIFY, 0, ckpt_fd_fanotify, event_flags, K_FLAGS),
	S(CKPT_FD_FANOTIFY, 0, ckpt_fd_fanotify, nmarks, K_COUNT),
#define M(member, kind) S(CKPT_FD_FANOTIFY, sizeof(struct ckpt_fd_fanotify), ckpt_fanotify_mark, member, kind)
	M(type, K_ENUM), M(mflags, K_FLAGS), M(mask, K_FLAGS), M(ignored_mask, K_FLAGS),
	M(path_len, K_LEN),
#undef M

	A(CKPT_SEC_LOCKS, 0, ckpt_lock, file, K_ID), A(CKPT_SEC_LOCKS, 0, ckpt_lock, type, K_ENUM),
	A(CKPT_SEC_LOCKS, 0, ckpt_lock, mode, K_ENUM), A(CKPT_SEC_LOCKS, 0, ckpt_lock, start, K_SIZE),
	A(CKPT_SEC_LOCKS, 0, ckpt_lock, end, K_SIZE),
	/* the controlling terminal, then its ckpt_fd_tty */
	F(CKPT_SEC_CTTY, ckpt_ctty, rdev, K_ID), F(CKPT_SEC_CTTY, ckpt_ctty, tpgid, K_ID),
	F(CKPT_SEC_CTTY, ckpt_ctty, cflags, K_FLAGS),
#define TTY(member, kind) A(CKPT_SEC_CTTY, sizeof(struct ckpt_ctty), ckpt_fd_tty, member, kind)
	TTY(index, K_ID), TTY(tflags, K_FLAGS), TTY(lflag, K_FLAGS), TTY(cc, K_ANY),
	TTY(rows, K_SIZE), TTY(to_master, K_LEN), TTY(to_slave, K_LEN),
#undef TTY

	F(CKPT_SEC_PAGES, ckpt_pages, addr, K_ADDR), F(CKPT_SEC_PAGES, ckpt_pages, npages, K_COUNT),
	F(CKPT_SEC_PAGES, ckpt_pages, codec, K_ENUM), F(CKPT_SEC_PAGES, ckpt_pages, flags, K_FLAGS),

	F(CKPT_SEC_HASHES, ckpt_hashes, addr, K_ADDR), F(CKPT_SEC_HASHES, ckpt_hashes, npages, K_COUNT),

	F(CKPT_SEC_END, ckpt_end, nsections, K_COUNT), F(CKPT_SEC_END, ckpt_end, npages, K_COUNT),
	F(CKPT_SEC_END, ckpt_end, raw_bytes, K_SIZE),
};

#define MIN_LEN(a, b) ((a) < (b) ? (a) : (b))
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static uint32_t rnd(uint32_t *st)
{
	*st = *st * 1103515245u + 12345u;
	return *st >> 8;
}

static uint64_t rnd64(uint32_t *st)
{
	return (uint64_t)rnd(st) << 40 ^ (uint64_t)rnd(st) << 20 ^ rnd(st);
}

static uint64_t get(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;

	memcpy(&v, p, len > 8 ? 8 : len);
	return v;
}

static void put(uint8_t *p, unsigned len, uint64_t v)
{
	memcpy(p, &v, len > 8 ? 8 : len);
}

/* A value of the same field in another section of the same type (or
 * another address field): values that mean something in this image. */
static uint64_t other_value(const struct img_view *iv, const struct field *f, uint32_t *st)
{
	for (int tries = 0; tries < 8 && f->base != STATE; tries++) {
		const struct img_sec *s = &iv->sec[rnd(st) % iv->n];

		if (s->type == f->sec && s->len >= (size_t)f->base + f->off + f->len)
			return get(s->payload + f->base + f->off, f->len);
	}
	return 0;
}

/* An address that is a mapping's boundary, or next to one. */
static uint64_t vma_bound(const struct img_view *iv, uint32_t *st)
{
	for (int tries = 0; tries < 8; tries++) {
		const struct img_sec *s = &iv->sec[rnd(st) % iv->n];
		struct ckpt_vma v;

		if (s->type != CKPT_SEC_VMA || s->len < sizeof(v))
			continue;
		memcpy(&v, s->payload, sizeof(v));
		switch (rnd(st) % 4) {
		case 0: return v.start;
		case 1: return v.end;
		case 2: return v.end - iv->page_size;
		default: return v.start - iv->page_size;
		}
	}
	return 0x400000;
}

static uint64_t new_value(const struct img_view *iv, const struct field *f, uint64_t old,
			  uint32_t *st)
{
	const uint64_t ps = iv->page_size ? iv->page_size : 4096;
	const uint64_t max = f->len >= 8 ? UINT64_MAX : (1ull << (8 * f->len)) - 1;

	switch (rnd(st) % 4) {
	case 0:
		return other_value(iv, f, st);
	case 1:		/* boundaries any field may meet */
		switch (rnd(st) % 6) {
		case 0: return 0;
		case 1: return max;
		case 2: return max >> 1;
		case 3: return (max >> 1) + 1;
		case 4: return old + 1;
		default: return old - 1;
		}
	}
	switch (f->kind) {
	case K_COUNT:
		switch (rnd(st) % 6) {
		case 0: return old * 2;
		case 1: return old / 2;
		case 2: return 1u << 20;
		case 3: return (1u << 24) + (rnd(st) % 2);
		case 4: return 4097;
		default: return old + rnd(st) % 5 - 2;
		}
	case K_LEN:
		return rnd(st) % 2 ? old + rnd(st) % 17 - 8 : (uint64_t)4096 + rnd(st) % 3 - 1;
	case K_ADDR:
		switch (rnd(st) % 5) {
		case 0: return vma_bound(iv, st);
		case 1: return old + ps * (rnd(st) % 9) - 4 * ps;
		case 2: return old | 1;
		case 3: return (1ull << 47) - ps * (rnd(st) % 3);
		default: return UINT64_MAX - ps * (rnd(st) % 3) + 1;
		}
	case K_FLAGS:
		return rnd(st) % 3 ? old ^ (1ull << (rnd(st) % (8 * f->len))) : old | (1ull << (rnd(st) % 16));
	case K_ENUM:
		return rnd(st) % 3 ? rnd(st) % 20 : (uint64_t)(int64_t)-(int)(rnd(st) % 3);
	case K_ID:
		switch (rnd(st) % 4) {
		case 0: return (uint64_t)-1;
		case 1: return 0x7fffffff;
		case 2: return rnd(st) % 1100;
		default: return old ^ 1;
		}
	case K_SIZE:
		switch (rnd(st) % 4) {
		case 0: return old + ps;
		case 1: return 1ull << 32;
		case 2: return old * 3;
		default: return (uint64_t)1 << (rnd(st) % 64);
		}
	}
	return rnd64(st);
}

int fields_edit(struct img_view *iv, uint32_t *st)
{
	for (int tries = 0; tries < 16; tries++) {
		const struct field *f = &fields[rnd(st) % NFIELDS];
		uint8_t *p;
		size_t len;

		if (f->sec == 0) {
			p = iv->header;
			len = sizeof(struct ckpt_header);
		} else {
			/* A section of the field's type; in one holding an
			 * array (SIGACTS, TREE, COW), any element. */
			const struct img_sec *s = NULL;

			for (int k = 0; k < 32 && !s; k++) {
				const struct img_sec *c = &iv->sec[rnd(st) % iv->n];

				if (c->type == f->sec)
					s = c;
			}
			if (!s)
				continue;
			p = s->payload;
			len = s->len;
			if (f->base == STATE) {
				struct ckpt_file d;
				size_t at;

				if (len < sizeof(d))
					continue;
				memcpy(&d, p, sizeof(d));
				at = sizeof(d) + (size_t)d.path_len + f->base2;
				if (d.kind != f->fkind || d.state_len < f->base2 || at > len)
					continue;
				p += at;
				len = MIN_LEN(len - at, (size_t)d.state_len - f->base2);
			} else if (f->elsize && len >= (size_t)f->base + f->elsize) {
				size_t k = rnd(st) % ((len - f->base) / f->elsize);

				p += f->base + k * f->elsize;
				len -= f->base + k * f->elsize;
			}
		}
		if (len < (size_t)f->off + f->len)
			continue;
		/* Arrays (uid[4], rlim, cpus...): any element. */
		if (f->len > 8) {
			size_t el = f->kind == K_ID ? 4 : 8, k = rnd(st) % (f->len / el);

			put(p + f->off + k * el, (unsigned)el,
			    new_value(iv, &(struct field){ f->sec, f->off, (uint16_t)el, f->kind, f->base, 0, f->fkind, f->base2 },
				      get(p + f->off + k * el, (unsigned)el), st));
			return 1;
		}
		put(p + f->off, f->len, new_value(iv, f, get(p + f->off, f->len), st));
		return 1;
	}
	return 0;
}

/* The register sets of a THREAD section: one's type or length. */
int fields_edit_regset(struct img_view *iv, uint32_t *st)
{
	for (int tries = 0; tries < 8; tries++) {
		const struct img_sec *s = &iv->sec[rnd(st) % iv->n];
		struct ckpt_thread t;
		size_t at = sizeof(t);
		uint32_t k, want;

		if (s->type != CKPT_SEC_THREAD || s->len < sizeof(t))
			continue;
		memcpy(&t, s->payload, sizeof(t));
		want = t.nregsets ? rnd(st) % t.nregsets : 0;
		for (k = 0; k < t.nregsets && at + 8 <= s->len; k++) {
			uint32_t hdr[2];

			memcpy(hdr, s->payload + at, sizeof(hdr));
			if (k == want) {
				uint32_t v = rnd(st) % 2 ? hdr[1] + (rnd(st) % 17) - 8 :
					     (uint32_t)(rnd(st) % 3 ? 0x200 + rnd(st) % 16 : 1);

				put(s->payload + at + 4 * (rnd(st) % 2), 4, v);
				return 1;
			}
			at += 8 + ((hdr[1] + 7u) & ~7u);
		}
	}
	return 0;
}
