/* ckpt run -- COMMAND and ckpt watch PID: option parsing; the work is in run/. */
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "common/util.h"
#include "run/run.h"

/* "10m", "1h30m", "90s", "500ms", "2d", "45" (seconds); 0 on bad input. */
static uint64_t parse_duration(const char *s)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 }, { "", 1e9 },
	};
	double total = 0;

	if (!*s)
		return 0;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		size_t k;

		if (end == s || v < 0 || !isfinite(v))
			return 0;
		for (k = 0; k < ARRAY_SIZE(units); k++) {
			size_t l = strlen(units[k].unit);

			if (!strncmp(end, units[k].unit, l) && (l || !*end) &&
			    (!l || !isalpha((unsigned char)end[l]))) {
				total += v * units[k].ns;
				s = end + l;
				break;
			}
		}
		if (k == ARRAY_SIZE(units))
			return 0;
	}
	return total >= 1 && total < 1e19 ? (uint64_t)total : 0;
}

/* "SIGUSR1", "USR1", "10": the signal's number, or 0. */
static int parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (end != s && !*end)
		return n >= 1 && n <= 64 ? (int)n : 0;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int sig = 1; sig < 65; sig++) {
		const char *a = sigabbrev_np(sig);

		if (a && !strcasecmp(a, s))
			return sig;
	}
	return 0;
}

/* "signal,SIGSEGV,1,3-5": what --restart-on names; -1 on bad input. */
static int parse_restart_on(char *list, struct restart_on *r)
{
	for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		unsigned a, b;
		int n = 0, sig;

		if (!strcmp(w, "signal")) {
			r->any_signal = 1;
		} else if (sscanf(w, "%u-%u%n", &a, &b, &n) == 2 && !w[n] && a <= b && b < 256) {
			memset(r->status + a, 1, b - a + 1);
		} else if (n = 0, sscanf(w, "%u%n", &a, &n) == 1 && !w[n] && a < 256) {
			r->status[a] = 1;
		} else if ((sig = parse_signal(w))) {
			r->signals |= 1ull << (sig - 1);
		} else {
			return -1;
		}
	}
	return 0;
}

static int bad(const char *cmd, const char *opt, const char *arg, const char *want)
{
	fprintf(stderr, "ckpt: %s: bad %s \"%s\" (%s)\n", cmd, opt, arg, want);
	return EXIT_USAGE;
}

/* What run and watch share; 0, or the status to return (usage error). */
static int parse(const struct cmd *self, int argc, char **argv, struct run_opts *o, int watch)
{
	static const struct option opts[] = {
		{ "every", required_argument, NULL, 'e' },
		{ "dir", required_argument, NULL, 'D' },
		{ "keep", required_argument, NULL, 'k' },
		{ "grace", required_argument, NULL, 'g' },
		{ "on", required_argument, NULL, 'O' },
		{ "restarts", required_argument, NULL, 'r' },
		{ "restart-on", required_argument, NULL, 'R' },
		{ "rollback-files", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'J' },
		{ "log", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = self->name;
	int c, status, restart_on = 0;
	char *end;

	/* run's '+': COMMAND's own options are COMMAND's. */
	while ((c = cmd_getopt(self, argc, argv, watch ? "" : "+", opts, &status)) != -1) {
		switch (c) {
		case 'e':
			if (!(o->every_ns = parse_duration(optarg)))
				return bad(cmd, "--every", optarg, "a duration: 90s, 10m, 1h30m");
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'k':
			o->keep = (int)strtol(optarg, &end, 10);
			if (*end || o->keep < 1 || o->keep > 100000)
				return bad(cmd, "--keep", optarg, "a number of checkpoints, at least 1");
			break;
		case 'g':
			if (!(o->grace_ns = parse_duration(optarg)))
				return bad(cmd, "--grace", optarg, "seconds, or a duration: 30s, 2m");
			break;
		case 'O': {
			int sig = parse_signal(optarg);

			if (!sig || sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
				return bad(cmd, "--on", optarg, "a signal name, as SIGUSR1");
			o->on |= 1ull << (sig - 1);
			break;
		}
		case 'r':
			o->restarts = (int)strtol(optarg, &end, 10);
			if (*end || o->restarts < 0 || o->restarts > 1000000)
				return bad(cmd, "--restarts", optarg, "a number");
			break;
		case 'R':
			if (parse_restart_on(optarg, &o->restart_on) < 0)
				return bad(cmd, "--restart-on", optarg,
					   "comma-separated: signal, signal names, exit statuses or ranges as 1-9");
			restart_on = 1;
			break;
		case 'F':
			o->rollback_files = 1;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'L':
			o->log = optarg;
			break;
		case -2:
			return status;
		}
	}
	if (!restart_on)
		o->restart_on.any_signal = 1;
	if (watch && (o->restarts || restart_on || o->rollback_files)) {
		fprintf(stderr, "ckpt: watch: --restarts, --restart-on and --rollback-files are for ckpt run\n");
		return cmd_usage(self, 0);
	}
	return 0;
}

static void defaults(struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = "ckpt.d";
	o->every_ns = 600ull * 1000000000;	/* 10 minutes */
	o->keep = 2;
	o->grace_ns = 20ull * 1000000000;	/* Slurm's KillWait is 30 s by default */
	/* Before we open anything: which of fds 0-2 were we given? */
	for (int fd = 0; fd < 3; fd++)
		o->fd_open_at_start[fd] = fcntl(fd, F_GETFD) >= 0;
}

int cmd_run(int argc, char **argv)
{
	const struct cmd *self = cmd_find("run");
	struct run_opts o;
	int status;

	defaults(&o);
	if ((status = parse(self, argc, argv, &o, 0)))
		return status;
	/* Without COMMAND: resume whatever job DIR holds. */
	o.argv = optind < argc ? argv + optind : NULL;
	o.quiet = log_quiet;
	/* Its checkpoints are root's dumps like any other: signed. */
	if (cmd_root_signs() < 0)
		return EXIT_FAIL;
	return run_main(&o);
}

int cmd_watch(int argc, char **argv)
{
	const struct cmd *self = cmd_find("watch");
	struct run_opts o;
	char *end;
	long pid;
	int status;

	defaults(&o);
	if ((status = parse(self, argc, argv, &o, 1)) || (status = cmd_one_operand(self, argc, argv, "PID")))
		return status;
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > 0x3fffffff) {
		fprintf(stderr, "ckpt: watch: \"%s\" is not a PID\n", argv[optind]);
		return EXIT_USAGE;
	}
	o.watch = (pid_t)pid;
	o.quiet = log_quiet;
	if (cmd_root_signs() < 0)
		return EXIT_FAIL;
	return run_main(&o);
}
