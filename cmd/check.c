/* ckpt check: option parsing; the probes are in check/. */
#include <getopt.h>
#include <stdio.h>

#include "check/check.h"
#include "cmd/cmd.h"
#include "common/json.h"
#include "common/log.h"

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("check");
	struct json j;
	int c, status, json = 0, ret;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1) {
		switch (c) {
		case 'J':
			json = 1;
			break;
		case -2:
			return status;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ckpt: check: too many arguments\n");
		return cmd_usage(self, 0);
	}
	log_set_context("check");
	if (json)
		cmd_json_begin(&j, "check", NULL);
	ret = check_run(json ? &j : NULL);
	if (json)
		cmd_json_end(&j, ret == 0);
	return ret < 0 ? EXIT_FAIL : EXIT_OK;
}
