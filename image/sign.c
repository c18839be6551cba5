/*
 * Signing an image that exists (sign.h): a checked copy, renamed over it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "image/check.h"
#include "image/crc32c.h"
#include "image/image.h"
#include "image/sign.h"

/* The checks of ckpt verify; *mac: what the image's MACs said. */
static int check(const char *path, enum img_mac_status *mac)
{
	struct img_stats st;
	int ret = img_verify_file(path, &st);

	*mac = st.mac;
	return ret;
}

/* Every section of path into w, which signs them. */
static int copy(const char *path, struct img_writer *w)
{
	struct img_reader r;
	struct ckpt_header h;
	struct ckpt_section s;
	void *payload;
	int ret, have;

	if ((ret = img_reader_open(&r, path, &h)) < 0)
		return ret;
	img_reader_use_key(&r, NULL);	/* its old MACs are not copied */
	if (h.page_size != (uint32_t)getpagesize()) {
		img_reader_close(&r);
		return error("image has %u-byte pages, this kernel uses %d", h.page_size, getpagesize());
	}
	ret = img_write_header(w, &h);
	while (ret == 0 && (have = img_read_section(&r, &s, &payload)) > 0) {
		if (s.type == CKPT_SEC_PAGES) {
			/* Its CRC again: an aligned section (PAGES_ALIGNED, read
			 * back as the PAGES it holds) had its CRC over the
			 * alignment too, which the copy places anew. */
			struct img_block b = { .data = (uint8_t *)payload + sizeof(b.pg),
					       .len = (size_t)s.size - sizeof(b.pg),
					       .crc = crc32c(0, payload, (size_t)s.size) };

			memcpy(&b.pg, payload, sizeof(b.pg));
			ret = img_write_blocks(w, s.proc, &b, 1);
		} else {
			struct iovec iov = { payload, (size_t)s.size };

			ret = img_write_section(w, s.type, s.proc, &iov, 1);
		}
	}
	img_reader_close(&r);
	return ret < 0 ? ret : have < 0 ? have : 0;
}

int img_sign_file(const char *path, const struct img_key *key, unsigned flags)
{
	struct img_writer w;
	enum img_mac_status mac;
	struct stat st;
	char *tmp = NULL;
	int ret;

	if (stat(path, &st) < 0)
		return error_errno(errno, "cannot open image");
	if (!S_ISREG(st.st_mode))
		return error("not a regular file: only image files can be signed");
	if ((ret = check(path, &mac)) < 0)
		return ret;
	if (asprintf(&tmp, "%s.ckpt-sign", path) < 0)
		return -ENOMEM;
	img_key_set_signing(key);
	ret = img_writer_open(&w, tmp, 0);
	img_key_set_signing(NULL);
	if (ret == 0) {
		w.sign_format2 = !!(flags & IMG_SIGN_FORMAT2);
		if ((ret = copy(path, &w)) == 0)
			ret = img_writer_finish(&w);
	}
	img_writer_close(&w);
	/* What we signed, read back from where only root can change it. */
	img_key_set_default(key);
	if (ret == 0 && ((ret = check(tmp, &mac)) < 0 || mac != IMG_MAC_OK))
		ret = ret < 0 ? ret : error("image changed while it was being signed");
	img_key_set_default(NULL);
	if (ret == 0 && (chown(tmp, st.st_uid, st.st_gid) < 0 || chmod(tmp, st.st_mode & 07777) < 0))
		ret = error_errno(errno, "cannot give the signed image the original's owner and mode");
	if (ret == 0 && rename(tmp, path) < 0)
		ret = error_errno(errno, "cannot rename \"%s\" to \"%s\"", tmp, path);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}
