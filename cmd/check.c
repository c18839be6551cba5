/* ckpt check: option parsing; the probes are in check/. */
#include <getopt.h>
#include <stdio.h>

#include "check/check.h"
#include "cmd/cmd.h"
#include "common/log.h"

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("check");
	int c, status;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1) {
		switch (c) {
		case -2:
			return status;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ckpt: check: too many arguments\n");
		return cmd_usage(self, 0);
	}
	log_set_context("check");
	return check_run() < 0 ? EXIT_FAIL : EXIT_OK;
}
