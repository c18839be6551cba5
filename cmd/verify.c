/*
 * ckpt verify FILE: read an image from end to end checking every
 * checksum and its structure (image/read.c, image/check.c), restoring
 * nothing.  One line either way: "FILE: ok (...)" on stdout, saying too
 * whether this machine's key signed it, or what is wrong on stderr.
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "image/check.h"
#include "image/key.h"

static int verify(const char *path)
{
	struct img_stats st;
	int ret = img_key_use_for_reading();

	if (ret < 0 || (ret = img_verify_file(path, &st)) < 0)
		return ret;
	/* Intact, but forged: the CRCs were made again after our MAC. */
	if (st.mac == IMG_MAC_MISMATCH)
		return error("image was changed after it was signed by this machine's key "
			     "(its checksums were made again: forged or edited)");
	/* END counts the sections before it; the user counts END too. */
	printf("%s: ok (%llu sections, %llu pages", path, (unsigned long long)st.nsections + 1,
	       (unsigned long long)st.npages);
	if (st.parent_pages)
		printf(", %llu in the parent image", (unsigned long long)st.parent_pages);
	printf("; %s)\n", img_mac_status_text(st.mac));
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("verify");
	int c, status;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1) {
		switch (c) {
		case -2:
			return status;
		}
	}
	if ((status = cmd_one_operand(self, argc, argv, "image file")))
		return status;
	log_set_context("verify %s", argv[optind]);
	return verify(argv[optind]) < 0 ? EXIT_FAIL : EXIT_OK;
}
