/* ckpt core FILE: an ELF core file for gdb from an image; the work is in image/core.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "image/core.h"

/* Index of the process with PID pid (0: the first), or -1. */
static int pick(const struct img *img, long pid)
{
	for (uint32_t i = 0; i < img->h.nprocs; i++)
		if (!pid || img->procs[i].d.pid == pid)
			return (int)i;
	return -1;
}

static int core(const char *path, const char *out, long pid)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload = NULL;
	char defout[32];
	int ret, have, i;

	if ((ret = img_reader_open(&r, path, &img.h)) < 0 ||
	    (ret = have = img_read_meta(&r, &img, &s, &payload)) < 0)
		goto out;
	if ((i = pick(&img, pid)) < 0) {
		ret = error("no process %ld in the image", pid);
		goto out;
	}
	if (!out) {
		snprintf(defout, sizeof(defout), "core.%d", img.procs[i].d.pid);
		out = defout;
	}
	ret = core_write(&r, &img, (uint32_t)i, out, &s, payload, have);
out:
	img_reader_close(&r);
	img_free(&img);
	return ret;
}

int cmd_core(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("core");
	const char *out = NULL;
	char *end;
	long pid = 0;
	int c, status;

	while ((c = cmd_getopt(self, argc, argv, "o:p:", opts, &status)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0 || pid > 0x3fffffff) {
				fprintf(stderr, "ckpt: core: \"%s\" is not a PID\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case -2:
			return status;
		}
	}
	if ((status = cmd_one_operand(self, argc, argv, "image file")))
		return status;
	if (out && !strcmp(out, "-")) {
		/* Memory goes in place as the image's blocks arrive. */
		fprintf(stderr, "ckpt: core: a core file cannot go to stdout: it is not written in order\n");
		return EXIT_USAGE;
	}
	log_set_context("core %s", argv[optind]);
	return core(argv[optind], out, pid) < 0 ? EXIT_FAIL : EXIT_OK;
}
