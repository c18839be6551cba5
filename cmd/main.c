/* ckpt: global options and the subcommand table (git's git.c pattern). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "common/util.h"

const struct cmd cmds[] = {
	{ "dump", cmd_dump,
	  "ckpt dump PID [-o FILE] [--kill | --stop] [--no-sync] [--compress auto|CODEC[:LEVEL]] [-j N]\n"
	  "          [--exclude START-END]... [--exclude-mapping NAME]... [--track] [--parent PREV]\n"
	  "          [--fork | --no-fork | --snapshot] [--single] [--per-process-pages] [--allow-lost-fds]\n"
	  "          [--lose-fd N]... [--lose-sem-undo]\n"
	  "          [--network-lock nftables|skip] [--json]\n"
	  "  PID and all its descendants are dumped as one image (a process tree, frozen as one).\n"
	  "  -o, --output FILE   write the image to FILE (default: ckpt-PID.img; - for stdout,\n"
	  "                      which must not be a terminal)\n"
	  "      --kill          kill the process once the image is safely written\n"
	  "      --stop          leave the process stopped (SIGSTOP) after the dump\n"
	  "      --no-sync       do not fsync the image\n"
	  "      --compress C    page data codec: auto (default: lz4 where it does not slow\n"
	  "                      the dump down), none, zlib, zstd or lz4, :LEVEL optional\n"
	  "  -j, --jobs N        threads that read, compress and write pages (default: number of CPUs)\n"
	  "      --exclude A-B   do not save memory in [A, B) (hex); it reads as zero after restore\n"
	  "      --exclude-mapping NAME  do not save mappings of this file or name ([heap], libfoo.so)\n"
	  "  Mappings the program marked with madvise(MADV_DONTDUMP) are not saved either.\n"
	  "      --track         keep track of the pages the process writes from now on, so that a\n"
	  "                      later --parent dump is quick (leaves a userfaultfd in the process)\n"
	  "      --parent PREV   incremental: store only what changed since image PREV (also tracks)\n"
	  "      --fork          let the process run on while its image is written (from a\n"
	  "                      copy-on-write copy of it): it pauses only for a moment.\n"
	  "                      Default without --kill or --stop: --fork when the memory the\n"
	  "                      copy may take fits under the job's cgroup limits and in\n"
	  "                      MemAvailable, --no-fork otherwise (-v says which, and why)\n"
	  "      --no-fork       the process stays frozen until its memory is written\n"
	  "      --snapshot      let one process run on without a fork: its memory moved aside\n"
	  "                      and given back through a userfaultfd as the image is written\n"
	  "                      (a pause of a few ms, whatever its size; needs CAP_SYS_PTRACE)\n"
	  "      --single        dump PID alone, not its descendants (says which it leaves out)\n"
	  "      --per-process-pages  store each process's memory in full, also the pages it\n"
	  "                      still shares copy-on-write with its parent\n"
	  "      --allow-lost-fds  dump even if some fds cannot be restored (TCP connections...):\n"
	  "                      restore puts /dev/null in their place and says so; without it\n"
	  "                      dump refuses, naming them (fds 0-2 that lead outside the image\n"
	  "                      get ckpt restore's own 0-2 instead)\n"
	  "      --lose-fd N     do not save fd N (it becomes /dev/null at restore)\n"
	  "      --lose-sem-undo dump a process that holds SysV semaphore undo adjustments\n"
	  "                      (semop SEM_UNDO), which no one can read: they are lost\n"
	  "      --network-lock nftables|skip  with --kill, TCP connections to a peer outside the\n"
	  "                      image are held (their segments dropped, nftables) until the\n"
	  "                      restore, so the peer sees a pause (default; without nft the\n"
	  "                      dump refuses), and new clients' SYNs to its TCP listeners\n"
	  "                      are dropped (they send them again); skip: not held, a peer\n"
	  "                      that sends gets a reset, a client that connects is refused\n"
	  "      --json          print what was done as a JSON object (docs/json.md)\n",
	  "checkpoint a running process into an image file" },
	{ "restore", cmd_restore,
	  "ckpt restore FILE [--detach] [--lazy | --no-lazy] [--pid-ns] [--rollback-files | --ignore-file-changes] [--trust]\n"
	  "             [--json]\n"
	  "  -d, --detach              print the PID and return at once\n"
	  "      --lazy                run the process at once, its memory filled as it runs\n"
	  "                            (from a file, when userfaultfd is allowed)\n"
	  "      --no-lazy             fill all its memory before it runs (default)\n"
	  "      --pid-ns              restore into a new PID namespace (original PIDs always free)\n"
	  "      --rollback-files      truncate files the process was writing back to their size at dump\n"
	  "      --ignore-file-changes restore even if such files changed since the dump\n"
	  "      --trust               root: take the image's credentials as they are, signed by this\n"
	  "                            machine's key or not (you vouch for it; see ckpt help sign)\n"
	  "      --json                a JSON object (docs/json.md): with --detach once the\n"
	  "                            process runs, else once it has ended\n"
	  "  The restored process is a child of ckpt restore, which forwards SIGINT, SIGTERM,\n"
	  "  SIGHUP, SIGUSR1 and SIGUSR2 to it and exits with its exit status.\n",
	  "bring a checkpointed process back to life" },
	{ "merge", cmd_merge,
	  "ckpt merge IMAGE -o FILE [--no-sync]\n"
	  "  -o, --output FILE   write the flattened image here\n"
	  "      --no-sync       do not fsync it\n"
	  "  Turns an incremental image and its chain of parents into one full image.\n",
	  "flatten an incremental image and its parents into one full image" },
	{ "inspect", cmd_inspect,
	  "ckpt inspect FILE [--json]\n"
	  "      --json          print JSON for scripts (schema: docs/inspect-json.md)\n"
	  "  FILE may be - for stdin.\n",
	  "show what an image holds: process, threads, code, mappings, files" },
	{ "verify", cmd_verify,
	  "ckpt verify FILE [--json]\n"
	  "      --json          print the verdict as a JSON object (docs/json.md)\n"
	  "  Checks every checksum and the structure of an image without restoring it, and\n"
	  "  says whether this machine's key signed it (root); FILE may be - for stdin.\n"
	  "  Exit status 0 if intact, 1 if not.\n",
	  "check an image's integrity; exit 0 if intact, 1 if not" },
	{ "sign", cmd_sign,
	  "ckpt sign IMAGE...\n"
	  "  root: check each image as verify does, then sign it with this machine's key\n"
	  "  ($CKPT_KEY_FILE, default /var/lib/ckpt/key), so that root's restore takes its\n"
	  "  credentials as they are.  Root's dumps are signed already; sign an image made\n"
	  "  elsewhere (or before signing existed) only if you trust whoever made it.\n",
	  "vouch for images: sign them with this machine's key (root)" },
	{ "unlock", cmd_unlock,
	  "ckpt unlock IMAGE\n"
	  "  Remove the network lock a dump that killed the process left for the image's TCP\n"
	  "  connections (their segments are dropped until the restore, which removes it): for\n"
	  "  an image that will not be restored on this machine.  Their peers then get a reset.\n",
	  "remove the network lock of a dumped image's TCP connections (root)" },
	{ "check", cmd_check,
	  "ckpt check [--json]\n"
	  "      --json          print the features as a JSON object (docs/json.md)\n"
	  "  One line per feature ckpt uses (ptrace, process_vm_readv, PR_SET_MM_MAP,\n"
	  "  clone3 set_tid, PAGEMAP_SCAN, userfaultfd, capabilities...): ok, limited,\n"
	  "  missing or error, and what ckpt does without it.  Exit status 1 if dump or\n"
	  "  restore cannot work here.\n",
	  "report what this kernel and these privileges allow ckpt to do" },
	{ "core", cmd_core,
	  "ckpt core FILE [-o OUT] [--pid PID]\n"
	  "  -o, --output OUT    write the core file to OUT (default: core.PID)\n"
	  "  -p, --pid PID       the process to write, if the image holds several\n"
	  "  FILE may be - for stdin.  Then: gdb PROGRAM OUT\n",
	  "write an ELF core file of a checkpointed process, for gdb" },
	{ "run", cmd_run,
	  "ckpt run [--every DURATION] [--dir DIR] [--keep N] [--grace SECONDS] [--on SIGNAL]...\n"
	  "         [--restarts N] [--restart-on LIST] [--rollback-files] [--json] [--log FILE]\n"
	  "         -- COMMAND [ARGS...]\n"
	  "  Runs COMMAND as a child, checkpoints it every DURATION into DIR and exits\n"
	  "  with its exit status.  When DIR holds a checkpoint of COMMAND already, the\n"
	  "  newest one that verifies is restored instead (without COMMAND: whatever job\n"
	  "  DIR holds).  SIGTERM (to ckpt run or to the job) means preemption: a final\n"
	  "  checkpoint, the job is killed, and ckpt run exits with status 85, \"run the\n"
	  "  same command again to go on\"; a second SIGTERM, or the grace running out,\n"
	  "  kills the job at once.\n"
	  "      --every DURATION  time between checkpoints: 90s, 10m, 1h30m (default 10m)\n"
	  "      --dir DIR         where checkpoints go (default ckpt.d); one job per DIR\n"
	  "      --keep N          complete checkpoints kept (default 2), with the images\n"
	  "                        they need; older ones go once a newer one is verified\n"
	  "      --grace SECONDS   time for the final checkpoint after SIGTERM (default 20)\n"
	  "      --on SIGNAL       this signal means preemption too (SIGUSR1: a batch\n"
	  "                        system's warning); SIGTERM always does\n"
	  "      --restarts N      when the job crashes, roll it back to its last checkpoint\n"
	  "                        and go on, up to N times (default 0)\n"
	  "      --restart-on LIST which ends are crashes: signal (any), signal names,\n"
	  "                        exit statuses and ranges, comma-separated (default signal)\n"
	  "      --rollback-files  truncate files the job was writing back to their size at\n"
	  "                        the checkpoint when restoring it (resume, restarts)\n"
	  "      --json            log lines as JSON objects, one a line (docs/json.md)\n"
	  "      --log FILE        append log lines to FILE instead of stderr\n"
	  "  -q, --quiet           log errors and warnings only\n"
	  "  SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 go on to the job.  Exit status:\n"
	  "  the job's (128+N if killed by signal N), 85 after a preemption, 126/127 if\n"
	  "  COMMAND cannot be run, 1 if ckpt run itself failed.\n",
	  "run a command, checkpointing it periodically and on preemption" },
	{ "watch", cmd_watch,
	  "ckpt watch PID [--every DURATION] [--dir DIR] [--keep N] [--grace SECONDS]\n"
	  "               [--on SIGNAL]... [--json] [--log FILE]\n"
	  "  Checkpoints a running process started without ckpt every DURATION into DIR,\n"
	  "  until it ends; exits with its exit status.  The options are ckpt run's; on\n"
	  "  SIGTERM, a final checkpoint, the process is killed, and the status is 85.\n"
	  "  ckpt run --dir DIR resumes it later.\n"
	  "      --every DURATION  time between checkpoints (default 10m)\n"
	  "      --dir DIR         where checkpoints go (default ckpt.d)\n"
	  "      --keep N          complete checkpoints kept (default 2)\n"
	  "      --grace SECONDS   time for the final checkpoint after SIGTERM (default 20)\n"
	  "      --on SIGNAL       this signal means preemption too\n"
	  "      --json            log lines as JSON objects, one a line\n"
	  "      --log FILE        append log lines to FILE instead of stderr\n"
	  "  -q, --quiet           log errors and warnings only\n",
	  "checkpoint a running process periodically until it ends" },
	{ "help", cmd_help,
	  "ckpt help [COMMAND]\n"
	  "  Without COMMAND, the list of commands; with one, its synopsis and every option\n"
	  "  explained.  Every command also takes the common options that ckpt help\n"
	  "  lists.\n",
	  "show help for ckpt or one of its commands" },
	{ NULL, NULL, NULL, NULL },
};

const struct cmd *cmd_find(const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int cmd_usage(const struct cmd *c, int to_stdout)
{
	FILE *f = to_stdout ? stdout : stderr;

	fprintf(f, "usage: %s", c->usage);
	return EXIT_USAGE;
}

static void main_usage(FILE *f)
{
	fprintf(f, "usage: ckpt [-v | -q] [--version] [--help] COMMAND [ARGS]\n\n"
		   "Checkpoint and restore Linux processes.\n\ncommands:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fprintf(f, "\noptions:\n"
		   "  -v, --verbose   more messages (twice: with source locations)\n"
		   "  -q, --quiet     no notes and no progress line: errors and warnings only\n"
		   "  -V, --version   print the version\n"
		   "  -h, --help      this help\n\n"
		   "exit status: 0 success, 1 failure, 2 usage error;\n"
		   "  ckpt restore: the restored process's exit status (128+N if killed by signal N)\n"
		   "  ckpt run, watch: the job's; 85 after a preemption (checkpointed: run again)\n\n"
		   "Run 'ckpt help COMMAND' for a command's options.\n");
}

int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		main_usage(stdout);
		return EXIT_OK;
	}
	c = cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "ckpt: help: unknown command \"%s\"\n", argv[1]);
		return EXIT_USAGE;
	}
	cmd_usage(c, 1);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *c;
	int o;

	/* '+': stop at the subcommand; its options are its own. */
	while ((o = getopt_long(argc, argv, "+vqVh", opts, NULL)) != -1) {
		switch (o) {
		case 'v':
			log_verbose++;
			break;
		case 'q':
			log_quiet = 1;
			break;
		case 'V':
			printf("ckpt %s\n", CKPT_VERSION_STR);
			return EXIT_OK;
		case 'h':
			main_usage(stdout);
			return EXIT_OK;
		default:
			main_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	c = cmd_find(argv[optind]);
	if (!c) {
		fprintf(stderr, "ckpt: unknown command \"%s\" (see ckpt --help)\n", argv[optind]);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0;	/* reset getopt for the subcommand */
	{
		/* getopt's own messages then read "ckpt dump: invalid option" */
		static char name[64];

		snprintf(name, sizeof(name), "ckpt %s", c->name);
		argv[0] = name;
	}
	return c->fn(argc, argv);
}
