/* ckpt inspect FILE [--json]: option parsing; the work is in inspect/. */
#include <getopt.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "inspect/inspect.h"

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("inspect");
	struct inspect_opts o = { .json = 0, .symbols = 1 };
	int c, status;

	while ((c = cmd_getopt(self, argc, argv, "", opts, &status)) != -1) {
		switch (c) {
		case 'j':
			o.json = 1;
			break;
		case -2:
			return status;
		}
	}
	if ((status = cmd_one_operand(self, argc, argv, "image file")))
		return status;
	log_set_context("inspect %s", argv[optind]);
	return inspect_run(argv[optind], &o) < 0 ? EXIT_FAIL : EXIT_OK;
}
