/* ckpt restore FILE: option parsing; the work is in restore/. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cmd/cmd.h"
#include "inspect/inspect.h"
#include "common/json.h"
#include "common/log.h"
#include "restore/restore.h"

/* With --detach once the process runs, else once it has ended. */
static void print_json(const char *image, const struct restore_opts *o, int ok)
{
	const struct restore_result *r = o->result;
	struct json j;

	cmd_json_begin(&j, "restore", image);
	if (r->pid)
		json_i64(&j, "pid", r->pid);
	if (ok && !o->detach && r->status >= 0) {
		if (WIFSIGNALED(r->status)) {
			json_null(&j, "exit_status");
			json_str(&j, "signal", insp_signal_name(WTERMSIG(r->status)));
		} else {
			json_i64(&j, "exit_status", WEXITSTATUS(r->status));
			json_null(&j, "signal");
		}
	}
	cmd_json_end(&j, ok);
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-ns", no_argument, NULL, 'P' },
		{ "rollback-files", no_argument, NULL, 'R' },
		{ "ignore-file-changes", no_argument, NULL, 'I' },
		{ "trust", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "lazy", no_argument, NULL, 'L' },
		{ "no-lazy", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("restore");
	struct restore_opts o;
	struct restore_result res = { .pid = 0, .status = -1 };
	int c, ret, status, json = 0;

	memset(&o, 0, sizeof(o));
	/* Before we open anything: which of 0-2 were we given? */
	for (int fd = 0; fd < (int)sizeof(o.fd_open_at_start); fd++)
		o.fd_open_at_start[fd] = fcntl(fd, F_GETFD) >= 0;
	while ((c = cmd_getopt(self, argc, argv, "d", opts, &status)) != -1) {
		switch (c) {
		case 'd':
			o.detach = 1;
			break;
		case 'P':
			o.pid_ns = 1;
			break;
		case 'R':
			o.rollback_files = 1;
			break;
		case 'I':
			o.ignore_file_changes = 1;
			break;
		case 'T':
			o.vouched = 1;
			break;
		case 'J':
			json = 1;
			o.result = &res;
			break;
		case 'L':
			o.fill = FILL_LAZY;
			break;
		case 'E':
			o.fill = FILL_EAGER;
			break;
		case -2:
			return status;
		}
	}
	if ((status = cmd_one_operand(self, argc, argv, "image file")))
		return status;
	if (o.rollback_files && o.ignore_file_changes) {
		fprintf(stderr, "ckpt: restore: --rollback-files and --ignore-file-changes exclude each other\n");
		return EXIT_USAGE;
	}
	log_set_context("restore %s", argv[optind]);
	ret = restore_run(argv[optind], &o);
	if (json)
		print_json(argv[optind], &o, ret >= 0);
	return ret < 0 ? EXIT_FAIL : ret;
}
