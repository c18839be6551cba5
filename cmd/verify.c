/*
 * ckpt verify FILE: read an image from end to end checking every
 * checksum and its structure (image/read.c, image/check.c), restoring
 * nothing.  One line either way: "FILE: ok (...)" on stdout, saying too
 * whether this machine's key signed it, or what is wrong on stderr; or
 * with --json one object (docs/json.md).
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "common/json.h"
#include "common/log.h"
#include "image/check.h"
#include "image/key.h"

static int verify(const char *path, int json)
{
	struct img img = { 0 };
	struct img_stats st;
	struct json j;
	int ret = img_key_use_for_reading();

	if (ret == 0)
		ret = img_verify_image(path, &img, &st, 1);
	/* Intact, but forged: the CRCs were made again after our MAC. */
	if (ret == 0 && st.mac == IMG_MAC_MISMATCH)
		ret = error("image was changed after it was signed by this machine's key "
			    "(its checksums were made again: forged or edited)");
	if (json) {
		cmd_json_begin(&j, "verify", path);
		if (ret == 0) {
			/* END counts the sections before it; the user counts END too. */
			json_u64(&j, "sections", st.nsections + 1);
			json_u64(&j, "pages", st.npages);
			json_u64(&j, "parent_pages", st.parent_pages);
			json_str(&j, "parent", img.parent);
			json_str(&j, "signature", img_mac_status_text(st.mac));
		}
		cmd_json_end(&j, ret == 0);
	}
	img_free(&img);
	if (ret < 0 || json)
		return ret;
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
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("verify");
	int c, status, json = 0;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1) {
		switch (c) {
		case 'J':
			json = 1;
			break;
		case -2:
			return status;
		}
	}
	if ((status = cmd_one_operand(self, argc, argv, "image file")))
		return status;
	log_set_context("verify %s", argv[optind]);
	return verify(argv[optind], json) < 0 ? EXIT_FAIL : EXIT_OK;
}
