/* The checkpoint directory of ckpt run and watch (store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "image/check.h"
#include "restore/restore.h"
#include "run/store.h"

#define NAME_FMT	"ckpt-%06u.img"

char *store_path(const struct store *st, unsigned seq)
{
	char *p;

	if (asprintf(&p, "%s/" NAME_FMT, st->dir, seq) < 0)
		abort();
	return p;
}

static char *note_path(const struct store *st, unsigned seq)
{
	char *p;

	if (asprintf(&p, "%s/ckpt-%06u.run", st->dir, seq) < 0)
		abort();
	return p;
}

/* An image and its note. */
static int delete_checkpoint(const struct store *st, unsigned seq)
{
	char *path = store_path(st, seq), *note = note_path(st, seq);
	int ret = unlink(path) < 0 && errno != ENOENT ? -errno : 0;

	unlink(note);
	if (ret < 0)
		warn("cannot delete old checkpoint \"%s\": %s", path, strerror(-ret));
	else
		debug("deleted checkpoint %s", path);
	free(note);
	free(path);
	return ret;
}

void store_note_write(const struct store *st, unsigned seq, unsigned own_fds)
{
	char *path = note_path(st, seq), buf[32];
	int n = snprintf(buf, sizeof(buf), "stdio%s%s%s\n", own_fds & 1 ? " 0" : "",
			 own_fds & 2 ? " 1" : "", own_fds & 4 ? " 2" : "");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	/* Without it, resume takes fds 0-2 by their paths (supervise.c). */
	if (fd < 0 || write_all(fd, buf, (size_t)n) < 0)
		warn("cannot write \"%s\": %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
}

int store_note_read(const struct store *st, unsigned seq)
{
	char *path = note_path(st, seq), *buf, *w;
	int mask = -1;

	if (read_file(path, &buf, NULL) == 0) {
		if (!strncmp(buf, "stdio", 5))
			for (mask = 0, w = buf + 5; *w && *w != '\n'; w++)
				if (*w >= '0' && *w <= '2')
					mask |= 1 << (*w - '0');
		free(buf);
	}
	free(path);
	return mask;
}

static struct point *find(const struct store *st, unsigned seq)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->pts[i].seq == seq)
			return &st->pts[i];
	return NULL;
}

/* The command file's contents for argv: the strings with their NULs. */
static char *pack(char *const *argv, size_t *len)
{
	char *buf = NULL;

	*len = 0;
	for (; *argv; argv++) {
		size_t l = strlen(*argv) + 1;

		buf = xrealloc(buf, *len + l);
		memcpy(buf + *len, *argv, l);
		*len += l;
	}
	return buf;
}

static int write_command(const struct store *st, char *const *argv)
{
	char *path, *tmp, *buf;
	size_t len;
	int fd, ret = 0;

	if (asprintf(&path, "%s/command", st->dir) < 0 || asprintf(&tmp, "%s/command.tmp", st->dir) < 0)
		abort();
	buf = pack(argv, &len);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0)
		ret = error_errno(errno, "cannot write \"%s\"", path);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(tmp);
	free(path);
	return ret;
}

char **store_read_argv(const char *path)
{
	char *buf, **argv;
	size_t len, n = 0;

	if (read_file(path, &buf, &len) < 0)
		return NULL;
	if (!len) {
		free(buf);
		return NULL;
	}
	/* /proc/PID/cmdline may lack the last NUL; read_file() left room for one */
	if (buf[len - 1])
		buf[len++] = 0;
	for (size_t i = 0; i < len; i++)
		n += !buf[i];
	argv = xzalloc((n + 1) * sizeof(*argv));
	n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		argv[n++] = xstrdup(buf + i);
	free(buf);
	return argv;
}

void store_free_argv(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

char **store_command(const struct store *st)
{
	char *path, **argv;

	if (asprintf(&path, "%s/command", st->dir) < 0)
		abort();
	argv = store_read_argv(path);
	free(path);
	return argv;
}

/* DIR belongs to the job argv, or to none yet: then it does now. */
static int check_command(const struct store *st, char *const *argv)
{
	char **had = store_command(st);
	int same = 1;
	size_t i;

	if (!had)
		return argv ? write_command(st, argv) : 0;
	for (i = 0; argv && argv[i] && had[i]; i++)
		same &= !strcmp(argv[i], had[i]);
	if (argv && (argv[i] || had[i]))
		same = 0;
	if (!same) {
		error("\"%s\" holds the checkpoints of another job (\"%s%s\"): use another --dir, or remove it to start afresh",
		      st->dir, had[0], had[1] ? " ..." : "");
	}
	store_free_argv(had);
	return same ? 0 : -EEXIST;
}

static int cmp_point(const void *a, const void *b)
{
	const struct point *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Which earlier checkpoint an image is made from: its recorded parent
 * name (relative, as images in one directory refer to each other). */
static unsigned parent_seq(const char *path, uint64_t *bytes)
{
	struct img_reader r;
	struct img img = { 0 };
	struct ckpt_section s;
	void *payload;
	unsigned seq = 0;
	struct stat sb;

	*bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	if (img_reader_open(&r, path, &img.h) < 0)
		return 0;
	if (img_read_meta(&r, &img, &s, &payload) >= 0 && img.parent) {
		const char *base = strrchr(img.parent, '/');

		if (sscanf(base ? base + 1 : img.parent, NAME_FMT, &seq) != 1)
			seq = 0;
	}
	img_reader_close(&r);
	img_free(&img);
	return seq;
}

/* The checkpoints in DIR; leftovers of dumps that never finished go. */
static int scan(struct store *st)
{
	struct dirent *de;
	DIR *d = opendir(st->dir);

	if (!d)
		return error_errno(errno, "cannot read \"%s\"", st->dir);
	while ((de = readdir(d))) {
		unsigned seq;
		int n = 0;

		if (sscanf(de->d_name, "ckpt-%6u.img%n", &seq, &n) != 1 || !seq || !n)
			continue;
		if (!de->d_name[n]) {
			char *path = store_path(st, seq);
			struct point p = { .seq = seq };

			p.parent = parent_seq(path, &p.bytes);
			free(path);
			st->pts = xrealloc(st->pts, (st->n + 1) * sizeof(*st->pts));
			st->pts[st->n++] = p;
		} else if (!strncmp(de->d_name + n, ".tmp", 4)) {
			/* We hold the lock: no dump of ours is writing it. */
			unlinkat(dirfd(d), de->d_name, 0);
		}
		if (seq >= st->next)
			st->next = seq + 1;
	}
	closedir(d);
	qsort(st->pts, st->n, sizeof(*st->pts), cmp_point);
	return 0;
}

int store_open(struct store *st, const char *dir, char *const *argv)
{
	char *lock;
	int ret;

	memset(st, 0, sizeof(*st));
	st->dir = xstrdup(dir);
	st->lockfd = -1;
	st->next = 1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return error_errno(errno, "cannot create \"%s\"", dir);
	if (asprintf(&lock, "%s/lock", dir) < 0)
		abort();
	st->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (st->lockfd < 0)
		return error_errno(errno, "cannot open \"%s/lock\"", dir);
	if (flock(st->lockfd, LOCK_EX | LOCK_NB) < 0)
		return error_errno(errno, errno == EWOULDBLOCK ?
				   "\"%s\" is in use by another ckpt run or watch" :
				   "cannot lock \"%s\"", dir);
	if ((ret = check_command(st, argv)) < 0)
		return ret;
	return scan(st);
}

void store_close(struct store *st)
{
	if (st->lockfd >= 0)
		close(st->lockfd);
	free(st->pts);
	free(st->dir);
	memset(st, 0, sizeof(*st));
	st->lockfd = -1;
}

/* The image end to end, and with chain its parents too. */
static int verify_one(const char *path, int chain)
{
	struct img img = { 0 };
	struct img_stats stats;
	int ret = img_verify_image(path, &img, &stats, chain);

	img_free(&img);
	return ret;
}

int store_add(struct store *st, unsigned seq, unsigned parent)
{
	char *path = store_path(st, seq);
	struct point p = { .seq = seq, .parent = parent };
	struct stat sb;
	int ret = verify_one(path, 0);

	if (ret == 0 && stat(path, &sb) < 0)
		ret = error_errno(errno, "cannot stat \"%s\"", path);
	free(path);
	if (ret < 0)
		return ret;
	p.bytes = (uint64_t)sb.st_size;
	st->pts = xrealloc(st->pts, (st->n + 1) * sizeof(*st->pts));
	st->pts[st->n++] = p;
	if (seq >= st->next)
		st->next = seq + 1;
	return 0;
}

void store_drop(struct store *st, unsigned seq)
{
	struct point *p = find(st, seq);

	delete_checkpoint(st, seq);
	if (p) {
		memmove(p, p + 1, (size_t)(st->pts + st->n - (p + 1)) * sizeof(*p));
		st->n--;
	}
}

int store_verify_chain(const struct store *st, unsigned seq)
{
	char *path = store_path(st, seq);
	int ret = verify_one(path, 1);

	free(path);
	return ret;
}

unsigned store_chain_len(const struct store *st, unsigned seq)
{
	unsigned n = 0;

	for (const struct point *p = find(st, seq); p && n <= st->n; p = p->parent ? find(st, p->parent) : NULL)
		n++;
	return n;
}

void store_chain_bytes(const struct store *st, unsigned seq, uint64_t *incr, uint64_t *full)
{
	unsigned n = 0;

	*incr = *full = 0;
	for (const struct point *p = find(st, seq); p && n++ <= st->n; p = p->parent ? find(st, p->parent) : NULL) {
		if (p->parent)
			*incr += p->bytes;
		else
			*full = p->bytes;
	}
}

void store_prune(struct store *st, int keep)
{
	uint8_t *needed = xzalloc(st->n);
	size_t i, k;

	/* Marks the kept checkpoints and, through their parents, what they need. */
	for (i = st->n > (size_t)keep ? st->n - (size_t)keep : 0; i < st->n; i++) {
		unsigned seq = st->pts[i].seq, hops = 0;

		while (seq && hops++ <= st->n) {
			struct point *p = find(st, seq);

			if (!p)
				break;
			needed[p - st->pts] = 1;
			seq = p->parent;
		}
	}
	for (i = 0, k = 0; i < st->n; i++) {
		if (needed[i])
			st->pts[k++] = st->pts[i];
		else
			delete_checkpoint(st, st->pts[i].seq);
	}
	st->n = k;
	free(needed);
}
