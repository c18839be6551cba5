/* ckpt dump PID: option parsing; the work is in dump/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "dump/dump.h"
#include "image/codec.h"

/* See README.md, "Compression", for the measurements behind it: lz4
 * where it does not slow the dump down (--compress auto). */
static const struct codec_spec default_codec = { .codec = CKPT_CODEC_LZ4, .adaptive = 1 };

static void print_json(const struct dump_opts *o, pid_t pid, const struct dump_result *res, int ok)
{
	struct json j;
	struct stat sb;

	cmd_json_begin(&j, "dump", o->out);
	json_i64(&j, "pid", pid);
	if (ok) {
		json_u64(&j, "bytes", stat(o->out, &sb) == 0 ? (uint64_t)sb.st_size : 0);
		json_str(&j, "kind", o->parent ? "incremental" : "full");
		json_str(&j, "parent", o->parent);
		json_double(&j, "frozen_ms", res->frozen_ns / 1e6);
		json_str(&j, "memory", res->forked ? "forked" : "frozen");
		json_double(&j, "took_ms", res->total_ns / 1e6);
		json_str(&j, "process", o->kill ? "killed" : o->stop ? "stopped" : "running");
	}
	cmd_json_end(&j, ok);
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "kill", no_argument, NULL, 'k' },
		{ "stop", no_argument, NULL, 's' },
		{ "no-sync", no_argument, NULL, 'n' },
		{ "compress", required_argument, NULL, 'c' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "parent", required_argument, NULL, 'p' },
		{ "track", no_argument, NULL, 't' },
		{ "fork", no_argument, NULL, 'f' },
		{ "snapshot", no_argument, NULL, 'P' },
		{ "no-fork", no_argument, NULL, 'F' },
		{ "exclude-mapping", required_argument, NULL, 'X' },
		{ "single", no_argument, NULL, 'S' },
		{ "per-process-pages", no_argument, NULL, 'C' },
		{ "allow-lost-fds", no_argument, NULL, 'A' },
		{ "lose-fd", required_argument, NULL, 'L' },
		{ "lose-sem-undo", no_argument, NULL, 'U' },
		{ "network-lock", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *self = cmd_find("dump");
	struct dump_opts o = { 0 };
	struct dump_result res = { 0 };
	char defout[64], *end;
	long pid;
	int c, status, json = 0;

	o.codec = default_codec;
	/* Fork when it keeps every promise of the frozen path (choose.c). */
	o.fork = DUMP_FORK_AUTO;
	o.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while ((c = cmd_getopt(self, argc, argv, "o:j:", opts, &status)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			break;
		case 'k':
			o.kill = 1;
			break;
		case 's':
			o.stop = 1;
			break;
		case 'n':
			o.no_sync = 1;
			break;
		case 'c':
			if (codec_parse(optarg, &o.codec) < 0) {
				fprintf(stderr, "ckpt: dump: bad --compress \"%s\" (auto, or none, zlib, zstd or lz4 with an optional :LEVEL)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'x': {
			unsigned long long a, b;
			int n = 0;

			if (sscanf(optarg, "%llx-%llx%n", &a, &b, &n) != 2 || optarg[n] || a >= b) {
				fprintf(stderr, "ckpt: dump: bad --exclude \"%s\" (want START-END in hex, as in /proc/PID/maps)\n",
					optarg);
				return EXIT_USAGE;
			}
			o.exclude = xrealloc(o.exclude, (size_t)(o.nexclude + 1) * sizeof(*o.exclude));
			o.exclude[o.nexclude].start = a;
			o.exclude[o.nexclude++].end = b;
			break;
		}
		case 'p':
			o.parent = optarg;
			break;
		case 't':
			o.track = 1;
			break;
		case 'f':
			o.fork = DUMP_FORK_ALWAYS;
			break;
		case 'F':
			o.fork = DUMP_FORK_NEVER;
			break;
		case 'P':
			o.snapshot = 1;
			break;
		case 'S':
			o.single = 1;
			break;
		case 'C':
			o.no_cow = 1;
			break;
		case 'X':
			o.exclude_maps = xrealloc(o.exclude_maps, (size_t)(o.nexclude_maps + 1) * sizeof(char *));
			o.exclude_maps[o.nexclude_maps++] = optarg;
			break;
		case 'A':
			o.allow_lost_fds = 1;
			break;
		case 'U':
			o.lose_sem_undo = 1;
			break;
		case 'L': {
			long fd = strtol(optarg, &end, 10);

			if (*end || end == optarg || fd < 0 || fd > 0x7fffffff) {
				fprintf(stderr, "ckpt: dump: bad --lose-fd \"%s\" (want a descriptor number)\n",
					optarg);
				return EXIT_USAGE;
			}
			o.lose_fds = xrealloc(o.lose_fds, (size_t)(o.nlose_fds + 1) * sizeof(int));
			o.lose_fds[o.nlose_fds++] = (int)fd;
			break;
		}
		case 'N':
			if (strcmp(optarg, "nftables") && strcmp(optarg, "skip")) {
				fprintf(stderr, "ckpt: dump: bad --network-lock \"%s\" (nftables or skip)\n",
					optarg);
				return EXIT_USAGE;
			}
			o.no_network_lock = !strcmp(optarg, "skip");
			break;
		case 'J':
			json = 1;
			break;
		case 'j':
			o.jobs = (int)strtol(optarg, &end, 10);
			if (*end || o.jobs < 1 || o.jobs > 1024) {
				fprintf(stderr, "ckpt: dump: bad --jobs \"%s\"\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case -2:
			return status;
		}
	}
	if ((status = cmd_one_operand(self, argc, argv, "PID")))
		return status;
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > 0x3fffffff) {
		fprintf(stderr, "ckpt: dump: \"%s\" is not a PID\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (o.kill && o.stop) {
		fprintf(stderr, "ckpt: dump: --kill and --stop exclude each other\n");
		return EXIT_USAGE;
	}
	if (o.kill && o.fork == DUMP_FORK_ALWAYS) {
		fprintf(stderr, "ckpt: dump: --fork lets the process run on; with --kill it has no use\n");
		return EXIT_USAGE;
	}
	if (o.snapshot && (o.kill || o.fork == DUMP_FORK_ALWAYS || o.track || o.parent)) {
		fprintf(stderr, "ckpt: dump: --snapshot lets the process run on, its memory given back by a userfaultfd: not with --%s\n",
			o.kill ? "kill" : o.fork == DUMP_FORK_ALWAYS ? "fork" : o.track ? "track" : "parent");
		return EXIT_USAGE;
	}
	if (o.snapshot)		/* the snapshot instead of the default's fork */
		o.fork = DUMP_FORK_NEVER;
	if (!o.out) {
		snprintf(defout, sizeof(defout), "ckpt-%ld.img", pid);
		o.out = defout;
	}
	if (json && !strcmp(o.out, "-")) {
		fprintf(stderr, "ckpt: dump: --json prints on stdout: not with -o -\n");
		return EXIT_USAGE;
	}
	log_set_context("dump %ld", pid);
	if (cmd_root_signs() < 0)
		return EXIT_FAIL;
	/* An image is binary: a terminal gets garbage and the job is lost. */
	if (!strcmp(o.out, "-") && isatty(STDOUT_FILENO)) {
		error("refusing to write an image to a terminal: use -o FILE, or a pipe");
		return EXIT_FAIL;
	}
	o.result = &res;
	c = dump_run((pid_t)pid, &o) < 0 ? EXIT_FAIL : EXIT_OK;
	if (json)
		print_json(&o, (pid_t)pid, &res, c == EXIT_OK);
	free(o.exclude);
	free(o.exclude_maps);
	free(o.lose_fds);
	return c;
}
