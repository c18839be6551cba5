/* ckpt restore FILE: option parsing; the work is in restore/. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "restore/restore.h"

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-ns", no_argument, NULL, 'P' },
		{ "rollback-files", no_argument, NULL, 'R' },
		{ "ignore-file-changes", no_argument, NULL, 'I' },
		{ "trust", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("restore");
	struct restore_opts o;
	int c, ret, status;

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
	return ret < 0 ? EXIT_FAIL : ret;
}
