/*
 * The part of util-linux's setpriv(1) the suite uses, for the arm64 guest,
 * whose busybox setpriv cannot change user or groups:
 *   setpriv [--reuid=UID] [--regid=GID] [--clear-groups | --groups=G,...] [--] PROG [ARG...]
 * Sets real, effective and saved ids (groups first, user last), then
 * execs PROG from PATH.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int id_opt(const char *arg, const char *name, long *v)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) || arg[n] != '=')
		return 0;
	*v = strtol(arg + n + 1, NULL, 10);
	return 1;
}

int main(int argc, char **argv)
{
	long uid = -1, gid = -1;
	int clear = 0, ngroups = -1, i;
	gid_t groups[64];

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--clear-groups")) {
			clear = 1;
		} else if (!strncmp(argv[i], "--groups=", 9)) {
			char *p = argv[i] + 9;

			for (ngroups = 0; *p && ngroups < 64; ngroups++) {
				groups[ngroups] = (gid_t)strtol(p, &p, 10);
				if (*p == ',')
					p++;
			}
		}
		else if (!id_opt(argv[i], "--reuid", &uid) && !id_opt(argv[i], "--regid", &gid)) {
			fprintf(stderr, "setpriv: unrecognized option '%s'\n", argv[i]);
			return 1;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: setpriv [--reuid=UID] [--regid=GID] [--clear-groups | --groups=G,...] PROG [ARG...]\n");
		return 1;
	}
	if ((clear && setgroups(0, NULL) < 0) || (ngroups >= 0 && setgroups((size_t)ngroups, groups) < 0) ||
	    (gid >= 0 && setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) ||
	    (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)) {
		perror("setpriv");
		return 1;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "setpriv: failed to execute %s: ", argv[i]);
	perror(NULL);
	return 127;
}
