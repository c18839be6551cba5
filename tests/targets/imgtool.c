/*
 * imgtool: walk and patch checkpoint images for the error tests
 * (tests/errors.bats).  Written from image/format.h alone, with its own
 * CRC32C, so it does not share a bug with ckpt's reader.
 *
 *   imgtool sections FILE
 *       one line per section: "OFFSET TYPE PROC SIZE" (decimal; OFFSET is
 *       that of the 24-byte section header), then "eof OFFSET"
 *   imgtool setfield FILE OFFSET SIZE VALUE
 *       write VALUE (SIZE = 1, 2, 4 or 8 bytes, little-endian) at OFFSET
 *       and fix every checksum that covers it: the header's, or a section
 *       header's and its payload's, so that only the value is "wrong"
 *   imgtool flip FILE BIT
 *       invert bit BIT (byte BIT / 8, bit BIT % 8) and fix nothing
 *   imgtool xfeature FILE FEATURE OFFSET SIZE
 *       as if the CPU had one more XSAVE feature (AMX tiles: 18 2816 8192):
 *       every NT_X86_XSTATE register set grows to hold it (zeros) and says
 *       so in its XCR0 (bytes 464..471), the XSAVE_LAYOUT section gets its
 *       record; checksums fixed
 *   imgtool xmove FILE FEATURE FROM TO SIZE
 *       as if the dumping CPU kept XSAVE feature FEATURE (SIZE bytes) at TO
 *       instead of FROM (another CPU's layout): in every NT_X86_XSTATE set
 *       its bytes move there (the set grows if it must, FROM is zeroed) and
 *       its XSAVE_LAYOUT record says TO; checksums fixed
 *   imgtool set FILE KEY=VALUE...
 *       forge, the way an attacker who knows the format would (the privilege
 *       tests, tests/security.bats): edit fields of process 0 (or of the one
 *       a proc=N before them names) by name, resize
 *       what holds them, and write the image back with every length, count
 *       and checksum made right (END's section count too), so that only the
 *       MAC, which needs a key, can tell.  KEY is one of
 *         proc=N                 the process the keys after it edit
 *         zombie.uid=N           every zombie's uid (TREE section)
 *         uid, gid=R[,E,S,F]     the four ids (one value: all four)
 *         euid, fsuid, egid, fsgid, ...=N        one of them
 *         groups=G1,G2,...       supplementary groups ("" for none)
 *         cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb=HEX
 *         exe=PATH, cwd=PATH, root=PATH
 *         rlimit.N=CUR,MAX       resource limit N (-1: infinity)
 *         sched=POLICY,PRIO      every thread's scheduling policy, priority
 *         fd.N.kind=K, fd.N.path=PATH, fd.N.fd=M     descriptor N (version 2:
 *         fd.N.policy=P too; kind, policy and path are those of its FILE;
 *         fd.N.mode=M, its st_mode; fd.N.state32.OFF=V, the u32 at OFF
 *         of its kind state)
 *         vma.add=START,END,PROT a new anonymous private mapping
 *         attrs.oom=N, attrs.loginuid=N, attrs.securebits=N   (ATTRS)
 *         mac=strip              no MAC sections, and the header says so
 *         pagedata=flip          the last byte of the largest page data changed
 *         digests=flip           a byte of the last digest of the DIGESTS table
 *         pagedata=forge         the same, and the 4 bytes before it so that
 *                                the section's CRC stays what it was (a
 *                                forger who keeps every checksum)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_SIZE	256
#define HDR_CRC_OFF	252
#define SEC_SIZE	24
#define SEC_CRC_OFF	20

struct section {
	uint32_t type, proc;
	uint64_t size;
	uint32_t payload_crc, crc;
};

static uint8_t *img;
static size_t img_len;

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imgtool: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Bitwise CRC32C (RFC 3720 B.4): slow and obviously right. */
static uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t c = ~0u;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

static void load(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		die("cannot open %s", path);
	img_len = (size_t)st.st_size;
	img = malloc(img_len + 1);
	if (!img || read(fd, img, img_len) != (ssize_t)img_len)
		die("cannot read %s", path);
	close(fd);
}

static void save(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0 || write(fd, img, img_len) != (ssize_t)img_len || close(fd) < 0)
		die("cannot write %s", path);
}

static void put_le(uint8_t *p, uint64_t v, int size)
{
	for (int i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Section header at off, or 0 if there is no complete one there. */
static int section_at(size_t off, struct section *s)
{
	if (off + SEC_SIZE > img_len)
		return 0;
	memcpy(s, img + off, sizeof(*s));
	return 1;
}

static void fix_section(size_t off, const struct section *s)
{
	size_t n = off + SEC_SIZE + s->size <= img_len ? (size_t)s->size : img_len - off - SEC_SIZE;

	put_le(img + off + 16, crc32c(img + off + SEC_SIZE, n), 4);
	put_le(img + off + SEC_CRC_OFF, crc32c(img + off, SEC_CRC_OFF), 4);
}

static int cmd_sections(void)
{
	size_t off = HDR_SIZE;
	struct section s;

	if (img_len < HDR_SIZE)
		die("%s", "file is shorter than a header");
	while (section_at(off, &s)) {
		printf("%zu %u %u %llu\n", off, s.type, s.proc, (unsigned long long)s.size);
		if (s.size > img_len - off - SEC_SIZE)
			break;
		off += SEC_SIZE + s.size;
		if (s.type == 255)
			break;
	}
	printf("eof %zu\n", img_len);
	return 0;
}

static int cmd_setfield(size_t at, int size, uint64_t v)
{
	size_t off = HDR_SIZE;
	struct section s;

	if ((size != 1 && size != 2 && size != 4 && size != 8) || at + size > img_len)
		die("%s", "bad offset or size");
	put_le(img + at, v, size);
	if (at < HDR_SIZE) {
		put_le(img + HDR_CRC_OFF, 0, 4);
		put_le(img + HDR_CRC_OFF, crc32c(img, HDR_SIZE), 4);
		return 0;
	}
	while (section_at(off, &s)) {
		if (at < off + SEC_SIZE + s.size) {
			fix_section(off, &s);
			return 0;
		}
		off += SEC_SIZE + s.size;
	}
	return 0;
}

#define THREAD_SIZE	240	/* struct ckpt_thread; nregsets at 4 */
#define NT_X86_XSTATE	0x202
#define SEC_THREAD	3
#define SEC_XSAVE_LAYOUT 21

static uint8_t *out;
static size_t out_len, out_cap;

static void emit(const void *p, size_t len)
{
	if (out_len + len > out_cap) {
		out_cap = (out_len + len) * 2;
		out = realloc(out, out_cap);
		if (!out)
			die("%s", "out of memory");
	}
	memcpy(out + out_len, p, len);
	out_len += len;
}

static uint64_t get_le(const uint8_t *p, int size)
{
	uint64_t v = 0;

	for (int i = size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* xmove: the feature's place before and after, and its size (move_size
 * 0: xfeature, a feature added) */
static uint32_t move_from, move_to, move_size;

/* A THREAD payload with its XSAVE set grown to end at least at `end`,
 * the feature's bytes moved there from move_from when that is set. */
static void grow_thread(const uint8_t *p, size_t len, unsigned feature, size_t end)
{
	uint32_t n = (uint32_t)get_le(p + 4, 4);
	size_t at = THREAD_SIZE;
	static const uint8_t zeros[8];

	if (len < THREAD_SIZE)
		die("%s", "short THREAD section");
	emit(p, THREAD_SIZE);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t type, rlen, nlen;
		uint8_t hdr[8];

		if (at + 8 > len)
			die("%s", "short THREAD section");
		type = (uint32_t)get_le(p + at, 4);
		rlen = (uint32_t)get_le(p + at + 4, 4);
		if (at + 8 + rlen > len)
			die("%s", "short THREAD section");
		nlen = type == NT_X86_XSTATE && rlen < end ? (uint32_t)end : rlen;
		put_le(hdr, type, 4);
		put_le(hdr + 4, nlen, 4);
		emit(hdr, 8);
		emit(p + at + 8, rlen);
		if (type == NT_X86_XSTATE) {
			size_t x = out_len - rlen + 464;

			for (uint32_t k = rlen; k < nlen; k++)
				emit(zeros, 1);
			put_le(out + x, get_le(out + x, 8) | 1ull << feature, 8);
			if (move_size) {
				uint8_t *set = out + out_len - nlen, *tmp = malloc(move_size);

				if (!tmp || (size_t)move_from + move_size > rlen)
					die("%s", "xmove: the feature is not in the set");
				memcpy(tmp, set + move_from, move_size);
				memset(set + move_from, 0, move_size);
				memcpy(set + move_to, tmp, move_size);
				free(tmp);
			}
		}
		emit(zeros, (8 - nlen % 8) % 8);
		at += 8 + rlen + (8 - rlen % 8) % 8;
	}
	emit(p + at, len - at);
}

static int cmd_xfeature(unsigned feature, uint32_t offset, uint32_t size)
{
	size_t off = HDR_SIZE;
	struct section s;

	emit(img, HDR_SIZE);
	while (section_at(off, &s) && s.size <= img_len - off - SEC_SIZE) {
		const uint8_t *p = img + off + SEC_SIZE;
		size_t at = out_len;
		uint8_t rec[16];

		emit(img + off, SEC_SIZE);
		if (s.type == SEC_THREAD) {
			grow_thread(p, (size_t)s.size, feature, (size_t)offset + size);
		} else {
			emit(p, (size_t)s.size);
			if (s.type == SEC_XSAVE_LAYOUT && move_size) {
				uint8_t *r = out + out_len - s.size;

				for (size_t k = 0; k + 16 <= s.size; k += 16)
					if (get_le(r + k, 4) == feature)
						put_le(r + k + 8, offset, 4);
			} else if (s.type == SEC_XSAVE_LAYOUT) {
				put_le(rec, feature, 4);
				put_le(rec + 4, size, 4);
				put_le(rec + 8, offset, 4);
				put_le(rec + 12, 0, 4);
				emit(rec, sizeof(rec));
			}
		}
		put_le(out + at + 8, out_len - at - SEC_SIZE, 8);
		put_le(out + at + 16, crc32c(out + at + SEC_SIZE, out_len - at - SEC_SIZE), 4);
		put_le(out + at + SEC_CRC_OFF, crc32c(out + at, SEC_CRC_OFF), 4);
		off += SEC_SIZE + s.size;
		if (s.type == 255)
			break;
	}
	free(img);
	img = out;
	img_len = out_len;
	return 0;
}

/* --- imgtool set: the image as a list of sections ------------------------ */

#define SEC_PROC	1
#define SEC_VMA		4
#define SEC_FD		5
#define SEC_MAC_META	9
#define SEC_MAC_ALL	10
#define SEC_DIGESTS	23
#define SEC_END		255
#define PROC_SIZE	560
#define VMA_SIZE	88
#define FD_SIZE		72	/* version 1: struct ckpt_fd_v1 + path */
#define SEC_FILE	11
#define FD2_SIZE	16	/* version 2: struct ckpt_fd (fd, fdflags, file id) */
#define FILE_SIZE	96	/* struct ckpt_file + path + state + what */

struct sec {
	uint32_t type, proc;
	uint8_t *p;
	size_t len;
};

static struct sec *secs;
static size_t nsecs;

static void parse_sections(void)
{
	size_t off = HDR_SIZE;
	struct section s;

	while (section_at(off, &s)) {
		if (s.size > img_len - off - SEC_SIZE)
			die("%s", "section beyond the end of the file");
		secs = realloc(secs, (nsecs + 1) * sizeof(*secs));
		if (!secs)
			die("%s", "out of memory");
		secs[nsecs] = (struct sec){ s.type, s.proc, malloc(s.size + 1), s.size };
		memcpy(secs[nsecs].p, img + off + SEC_SIZE, s.size);
		nsecs++;
		off += SEC_SIZE + s.size;
		if (s.type == SEC_END)
			return;
	}
	die("%s", "no end section");
}

static void serialise(void)
{
	size_t len = HDR_SIZE, off = HDR_SIZE;
	uint8_t *buf;

	for (size_t i = 0; i < nsecs; i++)
		len += SEC_SIZE + secs[i].len;
	buf = calloc(1, len);
	if (!buf)
		die("%s", "out of memory");
	memcpy(buf, img, HDR_SIZE);
	for (size_t i = 0; i < nsecs; i++) {
		uint8_t *h = buf + off;

		/* sections before it: END's and a MAC's count (the MAC itself
		 * cannot be made without the key) */
		if (secs[i].type == SEC_END ||
		    ((secs[i].type == SEC_MAC_META || secs[i].type == SEC_MAC_ALL) && secs[i].len >= 16))
			put_le(secs[i].p + (secs[i].type == SEC_END ? 0 : 8), i, 8);
		put_le(h, secs[i].type, 4);
		put_le(h + 4, secs[i].proc, 4);
		put_le(h + 8, secs[i].len, 8);
		memcpy(h + SEC_SIZE, secs[i].p, secs[i].len);
		put_le(h + 16, crc32c(h + SEC_SIZE, secs[i].len), 4);
		put_le(h + SEC_CRC_OFF, crc32c(h, SEC_CRC_OFF), 4);
		off += SEC_SIZE + secs[i].len;
	}
	put_le(buf + HDR_CRC_OFF, 0, 4);
	put_le(buf + HDR_CRC_OFF, crc32c(buf, HDR_SIZE), 4);
	free(img);
	img = buf;
	img_len = len;
}

static uint32_t cur_proc;	/* the process set's keys edit (proc=N) */

static struct sec *find(uint32_t type, size_t from)
{
	for (size_t i = from; i < nsecs; i++)
		if (secs[i].type == type && secs[i].proc == cur_proc)
			return &secs[i];
	die("no section of type %u", type);
}

/* Replace n bytes at off of a section's payload with len new ones. */
static void splice_payload(struct sec *s, size_t off, size_t n, const void *p, size_t len)
{
	uint8_t *q = malloc(s->len - n + len + 1);

	if (!q || off + n > s->len)
		die("%s", "bad splice");
	memcpy(q, s->p, off);
	memcpy(q + off, p, len);
	memcpy(q + off + len, s->p + off + n, s->len - off - n);
	free(s->p);
	s->p = q;
	s->len = s->len - n + len;
}

/* The PROC payload's variable parts: groups, exe, cwd (format.h). */
static size_t proc_var(const struct sec *pr, int which, size_t *len)
{
	size_t off = PROC_SIZE, ngroups = get_le(pr->p + 72, 4);
	size_t lens[3] = { ngroups * 4, get_le(pr->p + 76, 4), get_le(pr->p + 80, 4) };

	for (int i = 0; i < which; i++)
		off += lens[i];
	*len = lens[which];
	return off;
}

static struct sec *fd_sec(int fd)
{
	for (size_t i = 0; i < nsecs; i++)
		if (secs[i].type == SEC_FD && (int)get_le(secs[i].p, 4) == fd)
			return &secs[i];
	die("no fd %d in the image", fd);
}

/* Version 2: the FILE an FD section names (its id at offset 8). */
static struct sec *file_of(const struct sec *fd)
{
	uint32_t id = (uint32_t)get_le(fd->p + 8, 4);

	for (size_t i = 0; i < nsecs; i++)
		if (secs[i].type == SEC_FILE && (uint32_t)get_le(secs[i].p, 4) == id)
			return &secs[i];
	die("no file %u in the image", id);
}

/* The reader wants FD sections in fd order: sort them where they are
 * (an image with ghost file data between them is not handled). */
static void sort_fds(void)
{
	size_t first = nsecs, last = 0;

	for (size_t i = 0; i < nsecs; i++)
		if (secs[i].type == SEC_FD) {
			first = first < i ? first : i;
			last = i;
		}
	for (size_t i = first; i <= last && first < nsecs; i++)
		if (secs[i].type != SEC_FD)
			die("%s", "cannot renumber: other sections among the fds");
	for (size_t i = first + 1; i <= last && first < nsecs; i++)
		for (size_t k = i; k > first && get_le(secs[k - 1].p, 4) > get_le(secs[k].p, 4); k--) {
			struct sec t = secs[k];

			secs[k] = secs[k - 1];
			secs[k - 1] = t;
		}
}

static void set_ids(struct sec *pr, size_t at, const char *v)
{
	unsigned long x[4];
	int n = sscanf(v, "%lu,%lu,%lu,%lu", &x[0], &x[1], &x[2], &x[3]);

	if (n != 1 && n != 4)
		die("want N or R,E,S,F: %s", v);
	for (int i = 0; i < 4; i++)
		put_le(pr->p + at + 4 * i, x[n == 1 ? 0 : i], 4);
}

static void add_vma(const char *v)
{
	unsigned long long start, end;
	unsigned prot;
	uint8_t d[VMA_SIZE] = { 0 };
	struct sec *pr = find(SEC_PROC, 0), n = { SEC_VMA, 0, NULL, VMA_SIZE };
	size_t at = 0;

	if (sscanf(v, "%lli,%lli,%u", &start, &end, &prot) != 3)
		die("want START,END,PROT: %s", v);
	put_le(d, start, 8);
	put_le(d + 8, end, 8);
	put_le(d + 56, prot, 4);
	put_le(d + 60, 1u << 1, 4);	/* CKPT_VMA_ANON */
	/* before the first mapping above it, or after the last one */
	for (size_t i = 0; i < nsecs; i++)
		if (secs[i].type == SEC_VMA && secs[i].proc == 0) {
			at = i + 1;
			if (get_le(secs[i].p, 8) > start) {
				at = i;
				break;
			}
		}
	if (!at)
		die("%s", "no mappings to put it among");
	n.p = malloc(VMA_SIZE);
	memcpy(n.p, d, VMA_SIZE);
	secs = realloc(secs, (nsecs + 1) * sizeof(*secs));
	memmove(&secs[at + 1], &secs[at], (nsecs - at) * sizeof(*secs));
	secs[at] = n;
	nsecs++;
	pr = find(SEC_PROC, 0);
	put_le(pr->p + 20, get_le(pr->p + 20, 4) + 1, 4);	/* nvmas */
}

static void set_one(const char *kv)
{
	static const char *const ids[] = { "uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid" };
	static const char *const caps[] = { "cap_inh", "cap_prm", "cap_eff", "cap_bnd", "cap_amb" };
	const char *eq = strchr(kv, '='), *v;
	struct sec *pr = find(SEC_PROC, 0);
	char key[64];
	size_t off, len;
	int n, fd;

	if (!eq || eq - kv >= (int)sizeof(key))
		die("want KEY=VALUE: %s", kv);
	memcpy(key, kv, eq - kv);
	key[eq - kv] = 0;
	v = eq + 1;
	if (!strcmp(key, "proc")) {
		cur_proc = (uint32_t)strtoul(v, NULL, 0);
		find(SEC_PROC, 0);	/* it must exist */
		return;
	}
	if (!strcmp(key, "uid") || !strcmp(key, "gid"))
		return set_ids(pr, key[0] == 'u' ? 40 : 56, v);
	if (!strcmp(key, "zombie.uid")) {
		/* every zombie of the TREE section (proc -1): its uid */
		for (size_t i = 0; i < nsecs; i++)
			for (size_t at = 8; secs[i].type == 32 && at + 80 <= secs[i].len; at += 80)
				if ((int32_t)get_le(secs[i].p + at + 20, 4) == -1)
					put_le(secs[i].p + at + 44, strtoul(v, NULL, 0), 4);
		return;
	}
	for (int i = 0; i < 8; i++)
		if (!strcmp(key, ids[i]))
			return put_le(pr->p + 40 + 4 * (i % 4) + 16 * (i / 4), strtoul(v, NULL, 0), 4);
	for (int i = 0; i < 5; i++)
		if (!strcmp(key, caps[i]))
			return put_le(pr->p + 96 + 8 * i, strtoull(v, NULL, 16), 8);
	if (!strcmp(key, "groups")) {
		uint32_t g[256];
		uint8_t b[1024];
		char *dup = strdup(v), *tok, *save;

		n = 0;
		for (tok = strtok_r(dup, ",", &save); tok && n < 256; tok = strtok_r(NULL, ",", &save))
			g[n++] = (uint32_t)strtoul(tok, NULL, 0);
		free(dup);
		for (int i = 0; i < n; i++)
			put_le(b + 4 * i, g[i], 4);
		off = proc_var(pr, 0, &len);
		splice_payload(pr, off, len, b, 4 * (size_t)n);
		return put_le(pr->p + 72, n, 4);
	}
	if (!strcmp(key, "exe") || !strcmp(key, "cwd")) {
		off = proc_var(pr, key[0] == 'e' ? 1 : 2, &len);
		splice_payload(pr, off, len, v, strlen(v));
		return put_le(pr->p + (key[0] == 'e' ? 76 : 80), strlen(v), 4);
	}
	if (!strcmp(key, "root")) {	/* the PROC payload's last part (root_len at 556) */
		len = get_le(pr->p + 556, 4);
		splice_payload(pr, pr->len - len, len, v, strlen(v));
		return put_le(pr->p + 556, strlen(v), 4);
	}
	if (sscanf(key, "rlimit.%d", &n) == 1 && n >= 0 && n < 16) {
		long long cur, max;

		if (sscanf(v, "%lli,%lli", &cur, &max) != 2)
			die("want CUR,MAX: %s", v);
		put_le(pr->p + 224 + 16 * n, (uint64_t)cur, 8);
		return put_le(pr->p + 232 + 16 * n, (uint64_t)max, 8);
	}
	if (!strcmp(key, "sched")) {
		unsigned pol, prio;

		if (sscanf(v, "%u,%u", &pol, &prio) != 2)
			die("want POLICY,PRIO: %s", v);
		for (size_t i = 0; i < nsecs; i++)
			if (secs[i].type == SEC_THREAD) {
				put_le(secs[i].p + 100, pol, 4);
				put_le(secs[i].p + 104, prio, 4);
			}
		return;
	}
	if (sscanf(key, "fd.%d.%n", &fd, &n) == 1) {
		struct sec *f = fd_sec(fd);
		const char *field = key + n;

		/* Version 2: kind, policy and path are the FILE's (struct
		 * ckpt_file: kind 4, policy 12, path_len 76, path at 96). */
		if (f->len == FD2_SIZE && strcmp(field, "fd")) {
			struct sec *file = file_of(f);

			if (!strcmp(field, "kind"))
				return put_le(file->p + 4, strtoul(v, NULL, 0), 4);
			if (!strcmp(field, "policy"))
				return put_le(file->p + 12, strtoul(v, NULL, 0), 4);
			if (!strcmp(field, "path")) {
				splice_payload(file, FILE_SIZE, get_le(file->p + 76, 4), v, strlen(v));
				return put_le(file->p + 76, strlen(v), 4);
			}
			if (!strcmp(field, "mode"))
				return put_le(file->p + 72, strtoul(v, NULL, 0), 4);
			/* a u32 of the kind state (after the path), at offset */
			if (sscanf(field, "state32.%d", &n) == 1 && n >= 0 &&
			    (uint64_t)n + 4 <= get_le(file->p + 80, 4))
				return put_le(file->p + FILE_SIZE + get_le(file->p + 76, 4) + n,
					      strtoul(v, NULL, 0), 4);
		}
		if (!strcmp(field, "kind"))
			return put_le(f->p + 4, strtoul(v, NULL, 0), 4);
		if (!strcmp(field, "path")) {
			splice_payload(f, FD_SIZE, get_le(f->p + 60, 4), v, strlen(v));
			return put_le(f->p + 60, strlen(v), 4);
		}
		if (!strcmp(field, "fd")) {
			put_le(f->p, (uint64_t)strtol(v, NULL, 0), 4);
			return sort_fds();
		}
	}
	if (!strncmp(key, "attrs.", 6)) {
		/* struct ckpt_attrs (ATTRS, 18): flags 0, oom_score_adj 4,
		 * loginuid 8 (with flag 1 << 1), securebits 24 */
		struct sec *a = find(18, 0);
		const char *f = key + 6;
		uint64_t x = (uint64_t)strtoll(v, NULL, 0);

		if (!strcmp(f, "oom"))
			return put_le(a->p + 4, x, 4);
		if (!strcmp(f, "loginuid")) {
			put_le(a->p, get_le(a->p, 4) | 2, 4);
			return put_le(a->p + 8, x, 4);
		}
		if (!strcmp(f, "securebits"))
			return put_le(a->p + 24, x, 4);
	}
	if (!strcmp(key, "vma.add"))
		return add_vma(v);
	if (!strcmp(key, "pagedata") && !strcmp(v, "flip")) {
		/* the last byte of the largest page data section (one with
		 * pages in it; uncompressed: a page's byte) */
		struct sec *big = NULL;

		for (size_t i = 0; i < nsecs; i++)
			if ((secs[i].type == 16 || secs[i].type == 40) && (!big || secs[i].len > big->len))
				big = &secs[i];
		if (!big || big->len < 4096)
			die("%s", "no page data");
		big->p[big->len - 1] ^= 0x5a;
		return;
	}
	if (!strcmp(key, "digests") && !strcmp(v, "flip")) {
		struct sec *d = find(SEC_DIGESTS, 0);

		if (d->len < 16 + 72)
			die("%s", "an empty digest table");
		d->p[d->len - 1] ^= 0x5a;
		return;
	}
	if (!strcmp(key, "pagedata") && !strcmp(v, "forge")) {
		/* CRC32C is linear: a change d of the 5 last bytes leaves the
		 * CRC as it was when the raw CRC of d (register 0, no final
		 * xor) is 0.  Its last byte 0x5a: the 4 before must bring the
		 * register to 0x5a, i.e. be the 32 steps back from it
		 * (c = (c >> 1) ^ (P & -(c & 1)) forward; P has bit 31 set). */
		struct sec *big = NULL;
		uint32_t c = 0x5a;

		for (size_t i = 0; i < nsecs; i++)
			if ((secs[i].type == 16 || secs[i].type == 40) && (!big || secs[i].len > big->len))
				big = &secs[i];
		if (!big || big->len < 4096)
			die("%s", "no page data");
		for (int k = 0; k < 32; k++)
			c = c & 0x80000000u ? ((c ^ 0x82F63B78u) << 1) | 1 : c << 1;
		for (int k = 0; k < 4; k++)
			big->p[big->len - 5 + k] ^= (uint8_t)(c >> (8 * k));
		big->p[big->len - 1] ^= 0x5a;
		return;
	}
	if (!strcmp(key, "mac") && !strcmp(v, "strip")) {
		size_t k = 0;

		for (size_t i = 0; i < nsecs; i++)
			if (secs[i].type != SEC_MAC_META && secs[i].type != SEC_MAC_ALL &&
			    secs[i].type != SEC_DIGESTS)
				secs[k++] = secs[i];
		nsecs = k;
		img[24] &= (uint8_t)~7u;	/* CKPT_HDR_MAC, _DIGESTS, _BLOCK_MAC, in flags at 24 */
		return;
	}
	die("unknown field: %s", key);
}

static int cmd_set(int argc, char **argv)
{
	if (img_len < HDR_SIZE)
		die("%s", "file is shorter than a header");
	parse_sections();
	for (int i = 0; i < argc; i++)
		set_one(argv[i]);
	serialise();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "sections")) {
		load(argv[2]);
		return cmd_sections();
	}
	if (argc == 6 && !strcmp(argv[1], "setfield")) {
		load(argv[2]);
		cmd_setfield(strtoull(argv[3], NULL, 0), atoi(argv[4]), strtoull(argv[5], NULL, 0));
		save(argv[2]);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "flip")) {
		unsigned long long bit = strtoull(argv[3], NULL, 0);

		load(argv[2]);
		if (bit / 8 >= img_len)
			die("%s", "bit beyond the end of the file");
		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		save(argv[2]);
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "xfeature")) {
		load(argv[2]);
		cmd_xfeature((unsigned)atoi(argv[3]) & 63, (uint32_t)strtoul(argv[4], NULL, 0),
			     (uint32_t)strtoul(argv[5], NULL, 0));
		save(argv[2]);
		return 0;
	}
	if (argc == 7 && !strcmp(argv[1], "xmove")) {
		load(argv[2]);
		move_from = (uint32_t)strtoul(argv[4], NULL, 0);
		move_to = (uint32_t)strtoul(argv[5], NULL, 0);
		move_size = (uint32_t)strtoul(argv[6], NULL, 0);
		if (!move_size || move_from < 576 || move_to < 576)
			die("%s", "xmove: bad place");
		cmd_xfeature((unsigned)atoi(argv[3]) & 63, move_to, move_size);
		save(argv[2]);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "set")) {
		load(argv[2]);
		cmd_set(argc - 3, argv + 3);
		save(argv[2]);
		return 0;
	}
	fprintf(stderr, "usage: imgtool sections FILE | setfield FILE OFFSET SIZE VALUE | flip FILE BIT"
		" | xfeature FILE FEATURE OFFSET SIZE | xmove FILE FEATURE FROM TO SIZE"
		" | set FILE KEY=VALUE...\n");
	return 2;
}
