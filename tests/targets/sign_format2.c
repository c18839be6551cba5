/*
 * sign_format2 IMAGE: re-sign IMAGE with this machine's key as format 2
 * signed (version 2, a SHA-256 per page data block where format 3 has a
 * Poly1305-AES tag): the older signed images a reader must still take
 * (tests/lazy-signed.bats).  Root only, as ckpt sign.
 *
 * Unlike the other targets it links libckpt: what it must write is what
 * ckpt's writer wrote then.  ckpt itself never writes format 2: no option
 * or environment variable of it reaches IMG_SIGN_FORMAT2 (image/sign.h).
 */
#include <stdio.h>

#include "common/log.h"
#include "image/key.h"
#include "image/sign.h"

int main(int argc, char **argv)
{
	static struct img_key key;

	if (argc != 2) {
		fprintf(stderr, "usage: sign_format2 IMAGE\n");
		return 2;
	}
	log_set_context("sign_format2 %s", argv[1]);
	if (img_key_load(&key, 0) < 0)
		return 1;
	return img_sign_file(argv[1], &key, IMG_SIGN_FORMAT2) < 0;
}
