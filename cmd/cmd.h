/* The subcommands (cmd/<name>.c) and what they share. */
#ifndef CKPT_CMD_H
#define CKPT_CMD_H

/* Exit statuses, documented in README.md and ckpt --help. */
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

int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_core(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_help(int argc, char **argv);

#endif
