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

/* A THREAD payload with its XSAVE set grown to end at least at `end`. */
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
			if (s.type == SEC_XSAVE_LAYOUT) {
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
	fprintf(stderr, "usage: imgtool sections FILE | setfield FILE OFFSET SIZE VALUE | flip FILE BIT"
		" | xfeature FILE FEATURE OFFSET SIZE\n");
	return 2;
}
