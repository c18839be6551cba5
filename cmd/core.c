/* ckpt core FILE: an ELF core file for gdb from an image; the work is in image/core.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "image/core.h"

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
	return core_export(argv[optind], out, pid) < 0 ? EXIT_FAIL : EXIT_OK;
}
