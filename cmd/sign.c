/*
 * ckpt sign IMAGE...: root vouches for images with this machine's key
 * (docs/security.md; image/sign.h says how an image is signed).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "image/key.h"
#include "image/sign.h"

static int sign(const char *path, const struct img_key *key)
{
	int ret;

	log_set_context("sign %s", path);
	if ((ret = img_sign_file(path, key, 0)) == 0)
		printf("%s: signed by this machine's key\n", path);
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
