/*
 * What every subcommand's option parsing shares (cmd.h): -v, -h, usage
 * errors, the one operand.  Apart from main.c so that everything but the
 * entry point links into the unit tests.
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

int cmd_getopt(const struct cmd *self, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, int *status)
{
	static struct option all[64];
	static char shorts[64];
	size_t n = 0;
	int c;

	for (; longopts && longopts[n].name && n < ARRAY_SIZE(all) - 4; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
	all[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(shorts, sizeof(shorts), "%svqh", shortopts);
	for (;;) {
		c = getopt_long(argc, argv, shorts, all, NULL);
		if (c == 'v') {
			log_verbose++;
			continue;
		}
		if (c == 'q') {
			log_quiet = 1;
			continue;
		}
		if (c == 'h') {
			cmd_usage(self, 1);
			*status = EXIT_OK;
			return -2;
		}
		if (c == '?' || c == ':') {
			*status = cmd_usage(self, 0);
			return -2;
		}
		return c;
	}
}

int cmd_one_operand(const struct cmd *self, int argc, char **argv, const char *what)
{
	(void)argv;
	if (optind == argc - 1)
		return 0;
	fprintf(stderr, "ckpt: %s: %s%s\n", self->name, optind >= argc ? "missing " : "too many arguments",
		optind >= argc ? what : "");
	return cmd_usage(self, 0);
}

void cmd_json_begin(struct json *j, const char *what, const char *image)
{
	json_begin(j, stdout);
	json_u64(j, "schema", 1);
	json_str(j, "command", what);
	if (image)
		json_str(j, "image", image);
}

void cmd_json_end(struct json *j, int ok)
{
	json_bool(j, "ok", ok);
	if (!ok)
		json_str(j, "error", log_last_error());
	json_end(j);
	fflush(stdout);
}
