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
	fprintf(stderr, "usage: imgtool sections FILE | setfield FILE OFFSET SIZE VALUE | flip FILE BIT\n");
	return 2;
}
