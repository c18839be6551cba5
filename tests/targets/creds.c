/*
 * Credentials: the real/effective/saved uid and gid, the supplementary
 * groups and the capability sets must be the same after restore, in every
 * thread, and never more (a restored unprivileged process must not be
 * able to do what root can).
 */
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "target.h"

struct creds {
	uid_t r, e, s;
	gid_t gr, ge, gs;
	int ngroups;
	gid_t groups[64];
	char caps[256];
	int dumpable;
};

/* Raw syscalls read the calling thread's credentials (glibc would not
 * tell per-thread differences apart). */
static void get_creds(struct creds *c)
{
	char path[64], *line = NULL;
	size_t n = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	syscall(SYS_getresuid, &c->r, &c->e, &c->s);
	syscall(SYS_getresgid, &c->gr, &c->ge, &c->gs);
	c->ngroups = (int)syscall(SYS_getgroups, 64, c->groups);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", (long)syscall(SYS_gettid));
	f = fopen(path, "r");
	while (f && getline(&line, &n, f) > 0)
		if (!strncmp(line, "Cap", 3))
			strncat(c->caps, line, sizeof(c->caps) - strlen(c->caps) - 1);
	if (f)
		fclose(f);
	free(line);
	c->dumpable = prctl(PR_GET_DUMPABLE);
}

static void compare(const char *who, const struct creds *a, const struct creds *b)
{
	CHECK(a->r == b->r && a->e == b->e && a->s == b->s, "%s: uids %d/%d/%d, were %d/%d/%d", who,
	      b->r, b->e, b->s, a->r, a->e, a->s);
	CHECK(a->gr == b->gr && a->ge == b->ge && a->gs == b->gs, "%s: gids differ", who);
	CHECK(a->ngroups == b->ngroups && !memcmp(a->groups, b->groups, sizeof(gid_t) * (size_t)a->ngroups),
	      "%s: groups differ (%d, were %d)", who, b->ngroups, a->ngroups);
	CHECK(!strcmp(a->caps, b->caps), "%s: capabilities differ:\n%swere\n%s", who, b->caps, a->caps);
	CHECK(a->dumpable == b->dumpable, "%s: dumpable %d, was %d", who, b->dumpable, a->dumpable);
}

static struct creds before_main, before_thr;
static volatile int go;

static void *thread(void *arg)
{
	struct creds now;

	(void)arg;
	get_creds(&before_thr);
	while (!go)
		target_sleep_ms(5);
	get_creds(&now);
	compare("thread", &before_thr, &now);
	return NULL;
}

int main(void)
{
	struct creds now;
	pthread_t t;

	get_creds(&before_main);
	pthread_create(&t, NULL, thread, NULL);
	target_sleep_ms(50);
	target_wait();
	go = 1;
	pthread_join(t, NULL);
	get_creds(&now);
	compare("main", &before_main, &now);
	if (now.e != 0) {
		/* Never more: an unprivileged process cannot read root's home
		 * or raise its own capabilities. */
		CHECK(access("/root", R_OK | X_OK) < 0, "uid %d can read /root after restore", now.e);
		CHECK(setuid(0) < 0, "uid %d could become root after restore", now.e);
	}
	return target_exit();
}
