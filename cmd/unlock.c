/*
 * ckpt unlock IMAGE: remove the network lock a dump --kill left for the
 * image's TCP connections (common/netlock.h), which its restore removes
 * once the process runs: for an image that will not be restored here (a
 * failed restore given up, or one restored on another machine after a
 * migration).  Its connections' peers then get a reset at their next
 * segment.  Nothing else of the image is used than its image_id.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "common/netlock.h"
#include "image/image.h"

int cmd_unlock(int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	const struct cmd *self = cmd_find("unlock");
	struct img_reader r;
	struct ckpt_header h;
	char name[NETLOCK_NAME_MAX], why[256];
	int c, status, ret;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1)
		if (c == -2)
			return status;
	if ((status = cmd_one_operand(self, argc, argv, "image file")))
		return status;
	log_set_context("unlock %s", argv[optind]);
	if (img_reader_open(&r, argv[optind], &h) < 0)
		return EXIT_FAIL;
	img_reader_close(&r);
	netlock_name(h.image_id, name);
	ret = netlock_remove(name, why, sizeof(why));
	if (ret < 0) {
		error("cannot remove the network lock (nftables table inet %s): %s", name,
		      ret == -ENOENT ? "nft not found (there is no lock without it)" :
		      ret == -EIO ? why : strerror(-ret));
		return EXIT_FAIL;
	}
	printf("%s: no network lock (nftables table inet %s is gone)\n", argv[optind], name);
	return EXIT_OK;
}
