/*
 * ckpt sign IMAGE...: root vouches for images (docs/security.md): each is
 * checked as ckpt verify checks it, copied with MACs made with this
 * machine's key into a file only root can write, checked again there
 * (what is signed is what was checked, even if the original changed
 * meanwhile), given the original's owner and mode, and renamed over it.
 * Its image id stays: incremental images still find their parents.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "common/util.h"
#include "image/check.h"
#include "image/crc32c.h"
#include "image/key.h"

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

static int sign(const char *path, const struct img_key *key)
{
	struct img_writer w;
	enum img_mac_status mac;
	struct stat st;
	char *tmp = NULL;
	int ret;

	log_set_context("sign %s", path);
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
	if (ret == 0 && (ret = copy(path, &w)) == 0)
		ret = img_writer_finish(&w);
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
	else
		printf("%s: signed by this machine's key\n", path);
	free(tmp);
	return ret;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("sign");
	static struct img_key key;
	int c, status, failed = 0;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1) {
		switch (c) {
		case -2:
			return status;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ckpt: sign: missing image file\n");
		return cmd_usage(self, 0);
	}
	log_set_context("sign");
	if (geteuid() != 0) {
		error("only root can sign images: the key is root's (%s)", img_key_path());
		return EXIT_FAIL;
	}
	if (img_key_load(&key, 1) < 0)
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++)
		failed |= sign(argv[i], &key) < 0;
	return failed ? EXIT_FAIL : EXIT_OK;
}

int cmd_root_signs(void)
{
	static struct img_key key;

	if (geteuid() != 0)
		return 0;
	if (img_key_load(&key, 1) < 0)
		return -1;
	img_key_set_signing(&key);
	return 0;
}
