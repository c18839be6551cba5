/* The subcommands (cmd/<name>.c) and what they share. */
#ifndef CKPT_CMD_H
#define CKPT_CMD_H

/* Exit statuses, documented in README.md, ckpt.1 and ckpt --help (ckpt
 * run's own: run/run.h). */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;	/* first line: synopsis; then option lines */
	const char *summary;
};

extern const struct cmd cmds[];
const struct cmd *cmd_find(const char *name);
/* Print cmd's usage to stderr (or stdout for help) and return EXIT_USAGE. */
int cmd_usage(const struct cmd *c, int to_stdout);

/*
 * getopt_long for a subcommand, adding what every command has: -v and
 * --verbose, -h and --help, and usage errors.  longopts needs no entries
 * for those.  Returns the next option of the command's own, -1 at the
 * end of the options, or -2 when the command must return *status now
 * (help printed: EXIT_OK; a bad option: EXIT_USAGE).
 */
struct option;
int cmd_getopt(const struct cmd *self, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, int *status);
/* Exactly one operand (after the options) named `what`; else a usage
 * error: returns 0 or EXIT_USAGE. */
int cmd_one_operand(const struct cmd *self, int argc, char **argv, const char *what);

/* --json (docs/json.md): one object on stdout, begun with the schema, the
 * command and the image; the command's own members; then "ok" and, when
 * it failed, "error": the line it printed on stderr, without "ckpt: ". */
struct json;
void cmd_json_begin(struct json *j, const char *what, const char *image);
void cmd_json_end(struct json *j, int ok);

int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_core(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_sign(int argc, char **argv);
/* Run by root: what this command writes is signed with this machine's key
 * (made on first use), so that root's restore knows it from a forged
 * image.  0, or -1 said. */
int cmd_root_signs(void);
int cmd_help(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_unlock(int argc, char **argv);

#endif
