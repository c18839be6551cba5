/* ckpt merge NEXT -o FULL: option parsing; the work is in restore/merge.c. */
#include <getopt.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "restore/restore.h"

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "no-sync", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("merge");
	const char *out = NULL;
	int c, status, no_sync = 0;

	while ((c = cmd_getopt(self, argc, argv, "o:", opts, &status)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			no_sync = 1;
			break;
		case -2:
			return status;
		}
	}
	if (optind != argc - 1 || !out) {
		fprintf(stderr, "ckpt: merge: %s\n", optind != argc - 1 ? "want one image" : "missing -o FILE");
		return cmd_usage(self, 0);
	}
	log_set_context("merge %s", argv[optind]);
	return merge_run(argv[optind], out, no_sync) < 0 ? EXIT_FAIL : EXIT_OK;
}
