/*
 * Parsing /proc/PID files (proc(5)).  The formats are the kernel's:
 * fs/proc/array.c (stat, status), fs/proc/base.c (limits),
 * fs/proc/task_mmu.c (maps, smaps VmFlags).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/uapi-compat.h"
#include "common/util.h"
#include "ptrace/proc.h"

int proc_read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], *buf, *p, *close_paren;
	unsigned long long v[52];
	int ret, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_file(path, &buf, NULL);
	if (ret < 0)
		return ret;
	memset(st, 0, sizeof(*st));
	/* comm may contain spaces and parentheses: it ends at the last ')'. */
	p = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!p || !close_paren || close_paren[1] != ' ') {
		free(buf);
		return -EINVAL;
	}
	snprintf(st->comm, sizeof(st->comm), "%.*s", (int)(close_paren - p - 1), p + 1);
	st->state = close_paren[2];
	p = close_paren + 3;
	memset(v, 0, sizeof(v));
	/* Fields 4.. (1-based) follow the state. */
	for (i = 4; i <= 52 && *p; i++) {
		char *end;

		v[i - 1] = strtoull(p, &end, 10);
		if (end == p)
			break;
		p = end;
		while (*p == ' ')
			p++;
	}
	free(buf);
	st->ppid = (int)v[3];
	st->pgrp = (int)v[4];
	st->session = (int)v[5];
	st->tty_nr = (unsigned)v[6];
	st->tpgid = (int)v[7];
	st->flags = (unsigned long)v[8];
	st->nthreads = (int)v[19];
	st->rss = v[23];
	st->start_time = v[21];
	st->start_code = v[25];
	st->end_code = v[26];
	st->start_stack = v[27];
	st->start_data = v[44];
	st->end_data = v[45];
	st->start_brk = v[46];
	st->arg_start = v[47];
	st->arg_end = v[48];
	st->env_start = v[49];
	st->env_end = v[50];
	st->exit_signal = (int)v[37];
	st->exit_code = (int)v[51];
	return 0;
}

static uint64_t hex64(const char *s)
{
	return strtoull(s, NULL, 16);
}

/* "Name:": fs/proc/array.c proc_task_name() escapes only a newline and
 * a backslash in it (seq_escape_str with "\n\\"), as \n and \\. */
static void unescape_name(char *out, size_t size, const char *val)
{
	size_t n = 0;

	for (; *val && n + 1 < size; val++) {
		if (val[0] == '\\' && (val[1] == 'n' || val[1] == '\\'))
			out[n++] = *++val == 'n' ? '\n' : '\\';
		else
			out[n++] = *val;
	}
	out[n] = 0;
}

int proc_read_status(pid_t pid, struct proc_status *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_read_status_at(AT_FDCWD, path, st);
}

int proc_read_status_at(int dirfd, const char *path, struct proc_status *st)
{
	char *buf;
	int ret;

	ret = read_file_once_at(dirfd, path, &buf, NULL);
	if (ret < 0)
		return ret;
	proc_parse_status(buf, st);
	free(buf);
	return 0;
}

int proc_read_task_status(int taskfd, pid_t tid, struct proc_task_status *st)
{
	char path[32], *buf;
	int ret;

	if (taskfiles_read(tid, TASKFILE_STATUS, &buf) < 0) {
		snprintf(path, sizeof(path), "%d/status", tid);
		if ((ret = read_file_once_at(taskfd, path, &buf, NULL)) < 0)
			return ret;
	}
	proc_parse_task_status(buf, st);
	free(buf);
	return 0;
}

/* Each line's key compared where the line starts, nothing else parsed
 * ("Seccomp:" with its colon, not "Seccomp_filters:"). */
void proc_parse_task_status(char *buf, struct proc_task_status *st)
{
	char *line, *nl;

	memset(st, 0, sizeof(*st));
	for (line = buf; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')))
			*nl = 0;
		if (!strncmp(line, "Name:", 5))	/* "Name:\t", then the name as it is */
			unescape_name(st->name, sizeof(st->name), line + 5 + (line[5] == '\t'));
		else if (!strncmp(line, "NoNewPrivs:", 11))
			st->no_new_privs = atoi(line + 11);
		else if (!strncmp(line, "Seccomp:", 8))
			st->seccomp = atoi(line + 8);
	}
}

void proc_parse_status(char *buf, struct proc_status *st)
{
	char *line, *save;

	memset(st, 0, sizeof(*st));
	st->umask = 022;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *val = strchr(line, ':');

		if (!val)
			continue;
		*val++ = 0;
		if (!strcmp(line, "Name")) {	/* "Name:\t", then the name as it is */
			unescape_name(st->name, sizeof(st->name), val + (*val == '\t'));
			continue;
		}
		while (*val == ' ' || *val == '\t')
			val++;
		if (!strcmp(line, "Uid"))
			sscanf(val, "%u %u %u %u", &st->uid[0], &st->uid[1], &st->uid[2], &st->uid[3]);
		else if (!strcmp(line, "Gid"))
			sscanf(val, "%u %u %u %u", &st->gid[0], &st->gid[1], &st->gid[2], &st->gid[3]);
		else if (!strcmp(line, "Groups")) {
			char *p = val, *end;

			while (st->ngroups < ARRAY_SIZE(st->groups)) {
				unsigned long g = strtoul(p, &end, 10);

				if (end == p)
					break;
				st->groups[st->ngroups++] = (uint32_t)g;
				p = end;
			}
		} else if (!strcmp(line, "Umask"))
			st->umask = (uint32_t)strtoul(val, NULL, 8);
		else if (!strcmp(line, "TracerPid"))
			st->tracer = atoi(val);
		else if (!strcmp(line, "Tgid"))
			st->tgid = atoi(val);
		else if (!strcmp(line, "Seccomp"))
			st->seccomp = atoi(val);
		else if (!strcmp(line, "NoNewPrivs"))
			st->no_new_privs = atoi(val);
		else if (!strcmp(line, "VmLck"))
			st->vmlck_kb = strtoull(val, NULL, 10);
		else if (!strcmp(line, "VmSize"))
			st->vmsize_kb = strtoull(val, NULL, 10);
		else if (!strcmp(line, "CapInh"))
			st->cap_inh = hex64(val);
		else if (!strcmp(line, "CapPrm"))
			st->cap_prm = hex64(val);
		else if (!strcmp(line, "CapEff"))
			st->cap_eff = hex64(val);
		else if (!strcmp(line, "CapBnd"))
			st->cap_bnd = hex64(val);
		else if (!strcmp(line, "CapAmb"))
			st->cap_amb = hex64(val);
		else if (!strcmp(line, "SigIgn"))
			st->sig_ign = hex64(val);
		else if (!strcmp(line, "SigCgt"))
			st->sig_cgt = hex64(val);
	}
}

int proc_has_live_thread(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int live = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while (!live && (de = readdir(d))) {
		struct proc_stat st;
		int tid = atoi(de->d_name);

		live = tid > 0 && tid != pid && proc_read_stat(tid, &st) == 0 && st.state != 'Z' &&
		       st.state != 'X';
	}
	closedir(d);
	return live;
}

/* The row names of /proc/PID/limits, in RLIMIT_* order (fs/proc/base.c). */
static const char *const limit_names[] = {
	"Max cpu time", "Max file size", "Max data size", "Max stack size",
	"Max core file size", "Max resident set", "Max processes", "Max open files",
	"Max locked memory", "Max address space", "Max file locks", "Max pending signals",
	"Max msgqueue size", "Max nice priority", "Max realtime priority",
	"Max realtime timeout",
};

static uint64_t limit_value(const char *s)
{
	return strncmp(s, "unlimited", 9) ? strtoull(s, NULL, 10) : UINT64_MAX;
}

int proc_read_limits(pid_t pid, uint64_t rlim[][2], int n)
{
	char path[64], *buf, *line, *save;
	int ret, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	ret = read_file(path, &buf, NULL);
	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (int i = 0; i < n && i < (int)ARRAY_SIZE(limit_names); i++) {
			size_t len = strlen(limit_names[i]);
			char *p;

			if (strncmp(line, limit_names[i], len) || line[len] != ' ')
				continue;
			/* "Max open files            1024                 1048576              files" */
			p = line + len;
			while (*p == ' ')
				p++;
			rlim[i][0] = limit_value(p);
			while (*p && *p != ' ')
				p++;
			while (*p == ' ')
				p++;
			rlim[i][1] = limit_value(p);
			found++;
		}
	}
	free(buf);
	return found == n ? 0 : -EINVAL;
}

/* A number in base 16 or 10 at *p, at least one digit; *p moves past it. */
/*
 * An unsigned number in base 16 or 10, by hand: a maps line has six, and
 * strtoull (locale, sign, blanks, a 0x prefix the kernel never prints)
 * was ckpt's biggest share of reading the maps of 60,000 mappings while
 * frozen.  -EINVAL without a digit or past 64 bits.
 */
static int number(char **p, int base, uint64_t *v)
{
	char *s = *p;
	uint64_t x = 0;
	unsigned d;

	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (unsigned)((*s | 0x20) - 'a' + 10);
		else
			break;
		if (x > (UINT64_MAX - d) / (unsigned)base)
			return -EINVAL;
		x = x * (unsigned)base + d;
	}
	if (s == *p)
		return -EINVAL;
	*v = x;
	*p = s;
	return 0;
}

static char *skip_blanks(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * "START-END PERMS OFFSET MAJOR:MINOR INODE   PATH", as show_map_vma()
 * prints it (fs/proc/task_mmu.c).  By hand, not sscanf: smaps has some
 * 25 lines per mapping, and with 60,000 mappings sscanf was most of the
 * time ckpt spent on it.
 */
int proc_parse_maps_line(char *line, struct map_entry *m)
{
	uint64_t start, end, off, maj, min, ino;
	char *p = line, perms[4] = { 0 };
	size_t np = 0;

	memset(m, 0, sizeof(*m));
	if (number(&p, 16, &start) < 0 || *p++ != '-' || number(&p, 16, &end) < 0)
		return -EINVAL;
	p = skip_blanks(p);
	while (np < sizeof(perms) && *p && *p != ' ' && *p != '\t' && *p != '\n')
		perms[np++] = *p++;
	p = skip_blanks(p);
	if (!np || number(&p, 16, &off) < 0)
		return -EINVAL;
	p = skip_blanks(p);
	if (number(&p, 16, &maj) < 0 || *p++ != ':' || number(&p, 16, &min) < 0)
		return -EINVAL;
	p = skip_blanks(p);
	if (number(&p, 10, &ino) < 0 || maj > UINT32_MAX || min > UINT32_MAX)
		return -EINVAL;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	m->start = start;
	m->end = end;
	m->pgoff = off;
	m->dev_major = (uint32_t)maj;
	m->dev_minor = (uint32_t)min;
	m->ino = ino;
	m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	m->shared = perms[3] == 's';
	m->path = p;
	m->path[strcspn(m->path, "\n")] = 0;
	return 0;
}

/* fs/proc/task_mmu.c show_smap_vma_flags(): two letters per flag. */
static const struct { char name[3]; uint32_t bit; } vmflag_bits[] = {
	{ "dc", PM_DONTFORK }, { "dd", PM_DONTDUMP },
	{ "hg", PM_HUGEPAGE }, { "nh", PM_NOHUGEPAGE },
	{ "wf", PM_WIPEONFORK }, { "nr", PM_NORESERVE },
	{ "lo", PM_LOCKED }, { "mg", PM_MERGEABLE },
	{ "sr", PM_SEQUENTIAL }, { "rr", PM_RANDOM },
	{ "lf", PM_LOCKONFAULT }, { "gu", PM_MAYBE_GUARD }, { "mw", PM_MAYWRITE },
	{ "gd", PM_GROWSDOWN }, { "io", PM_IO }, { "pf", PM_PFNMAP }, { "sl", PM_SEALED },
};

static uint32_t parse_vmflags(const char *s)
{
	uint32_t bits = 0;

	while (*s) {
		while (*s == ' ')
			s++;
		for (size_t i = 0; i < ARRAY_SIZE(vmflag_bits); i++)
			if (s[0] == vmflag_bits[i].name[0] && s[1] == vmflag_bits[i].name[1] &&
			    (s[2] == ' ' || s[2] == 0 || s[2] == '\n'))
				bits |= vmflag_bits[i].bit;
		while (*s && *s != ' ')
			s++;
	}
	return bits;
}

int proc_read_maps(pid_t pid, struct map_entry **out, size_t *n)
{
	return proc_read_maps_how(pid, out, n, PROC_SMAPS);
}

/* The permissions of a maps line ("START-END PERMS ..."): is its third
 * letter the x of an executable mapping? */
static int exec_line(const char *line)
{
	const char *p = strchr(line, ' ');

	return p && p[1] && p[2] && p[3] == 'x';
}

/* After "Shared_" in smaps: a counter of pages mapped elsewhere too, not
 * zero ("Clean:", "Dirty:", "Hugetlb:"; fs/proc/task_mmu.c __show_smap). */
static int shared_line(const char *s)
{
	const char *colon = strchr(s, ':');

	return colon && (!strncmp(s, "Clean:", 6) || !strncmp(s, "Dirty:", 6) ||
			 !strncmp(s, "Hugetlb:", 8)) && strtoull(colon + 1, NULL, 10) != 0;
}

/*
 * The executable mappings by PROCMAP_QUERY (Linux 6.11): the kernel skips
 * the others itself, so 60,000 data mappings cost nothing, where the text
 * of /proc/PID/maps (2.9 MB for them) took 20-100 ms to print and parse
 * while the process was frozen.  The gate VMA ([vsyscall]) is not in the
 * process's tree and is not returned: nobody searches it for code.
 * -ENOTTY or -EINVAL (an older kernel): read the text.
 */
static int query_exec_maps(pid_t pid, struct map_entry **out, size_t *n)
{
	char path[64], name[4096];
	struct map_entry *m = NULL;
	size_t cnt = 0, cap = 0;
	uint64_t addr = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (;;) {
		struct ckpt_procmap_query q = {
			.size = sizeof(q), .query_addr = addr,
			.query_flags = CKPT_PROCMAP_QUERY_COVERING_OR_NEXT_VMA |
				       CKPT_PROCMAP_QUERY_VMA_EXECUTABLE,
			.vma_name_size = sizeof(name), .vma_name_addr = (uint64_t)(uintptr_t)name,
		};
		struct map_entry e = { 0 };

		if (ioctl(fd, CKPT_PROCMAP_QUERY, &q) < 0) {
			if (errno != ENOENT)	/* ENOENT: no more */
				ret = -errno;
			break;
		}
		e.start = q.vma_start;
		e.end = q.vma_end;
		e.pgoff = q.vma_offset;
		e.prot = (q.vma_flags & CKPT_PROCMAP_QUERY_VMA_READABLE ? PROT_READ : 0) |
			 (q.vma_flags & CKPT_PROCMAP_QUERY_VMA_WRITABLE ? PROT_WRITE : 0) |
			 (q.vma_flags & CKPT_PROCMAP_QUERY_VMA_EXECUTABLE ? PROT_EXEC : 0);
		e.shared = !!(q.vma_flags & CKPT_PROCMAP_QUERY_VMA_SHARED);
		e.dev_major = q.dev_major;
		e.dev_minor = q.dev_minor;
		e.ino = q.inode;
		/* vma_name_size 0: no name (anonymous); else it counts the NUL */
		name[q.vma_name_size ? MIN(q.vma_name_size, sizeof(name)) - 1 : 0] = 0;
		e.path = xstrdup(name);
		if (cnt == cap)
			m = xrealloc(m, (cap = cap ? cap * 2 : 16) * sizeof(*m));
		m[cnt++] = e;
		if (q.vma_end <= addr)
			break;
		addr = q.vma_end;
	}
	close(fd);
	if (ret < 0) {
		proc_free_maps(m, cnt);
		return ret;
	}
	*out = m;
	*n = cnt;
	return 0;
}

/* The mappings parsed so far from maps or smaps text. */
struct maps_text {
	struct map_entry *m;
	size_t cnt, cap;
	int how;
	int (*stop)(void *);	/* asked between chunks: nonzero, give up */
	void *arg;
};

/*
 * One line of maps or smaps.  smaps: a maps line (lowercase hex first),
 * then "Key: value" lines (a capital first) ending in VmFlags; only three
 * of those keys matter, told apart by their first letter before any
 * string compare (some 25 lines per mapping).
 */
static void parse_text_line(struct maps_text *t, char *line)
{
	struct map_entry e, *last = t->cnt ? &t->m[t->cnt - 1] : NULL;

	if (*line >= 'A' && *line <= 'Z') {
		if (!last)
			return;
		if (*line == 'V' && !strncmp(line, "VmFlags:", 8))
			last->vmflags |= parse_vmflags(line + 8);
		/* "AnonHugePages:   2048 kB" (fs/proc/task_mmu.c
		 * __show_smap): the mapping has transparent huge pages. */
		else if (*line == 'A' && !strncmp(line, "AnonHugePages:", 14) &&
			 strtoull(line + 14, NULL, 10))
			last->vmflags |= PM_ANONHUGE;
		/* "Shared_Dirty:   4 kB": pages whose mapcount is 2 or
		 * more (smaps_account), a fork's copy-on-write among them. */
		else if (*line == 'S' && !strncmp(line, "Shared_", 7) && shared_line(line + 7))
			last->vmflags |= PM_SHARED_PAGES;
		return;
	}
	if (t->how == PROC_MAPS_EXEC && !exec_line(line))
		return;
	if (proc_parse_maps_line(line, &e) < 0)
		return;
	if (t->cnt == t->cap)
		t->m = xrealloc(t->m, (t->cap = t->cap ? t->cap * 2 : 64) * sizeof(*t->m));
	e.path = xstrdup(e.path);
	if (t->how == PROC_SMAPS)
		e.vmflags |= PM_SMAPS;
	t->m[t->cnt++] = e;
}

/*
 * The text parsed as it is read, through one small buffer: smaps of
 * 60,000 mappings is 43 MB of text, and holding it whole cost more than
 * parsing it (a fresh buffer faulted in page by page: about 130 ms of
 * CPU on top of the kernel's 160 ms for printing it, under load).
 * seq_file returns at most a page per read(2) whatever is asked.
 */
#define MAPS_CHUNK	(64u << 10)

static int read_maps_text(int fd, struct maps_text *t, size_t chunk)
{
	size_t cap = chunk ? chunk : MAPS_CHUNK, have = 0, since = 0;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have);
		char *line = buf, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		/* Asked once per MAPS_CHUNK of text, not per read (a page). */
		if (t->stop && (since += (size_t)r) >= MAPS_CHUNK) {
			since = 0;
			if (t->stop(t->arg)) {
				free(buf);
				return -ECANCELED;
			}
		}
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = 0;
			parse_text_line(t, line);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == cap)	/* a line longer than the buffer */
			buf = xrealloc(buf, (cap *= 2) + 1);
	}
	if (have) {		/* a last line without its newline */
		buf[have] = 0;
		parse_text_line(t, buf);
	}
	free(buf);
	return 0;
}

static int parse_maps_fd(int fd, struct maps_text *tt, size_t chunk, struct map_entry **out,
			 size_t *n)
{
	struct maps_text t = *tt;
	int ret = read_maps_text(fd, &t, chunk);

	if (ret < 0) {
		proc_free_maps(t.m, t.cnt);
		return ret;
	}
	*out = t.m;
	*n = t.cnt;
	return 0;
}

int proc_parse_maps_fd(int fd, int how, size_t chunk, struct map_entry **out, size_t *n)
{
	struct maps_text t = { .how = how };

	return parse_maps_fd(fd, &t, chunk, out, n);
}

/* smaps walks every page table for its counters: much slower than maps
 * on a big process, and only it has VmFlags. */
static int read_maps_file(pid_t pid, struct maps_text *t, struct map_entry **out, size_t *n)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), t->how == PROC_SMAPS ? "/proc/%d/smaps" : "/proc/%d/maps", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	ret = parse_maps_fd(fd, t, 0, out, n);
	close(fd);
	return ret;
}

int proc_read_smaps_unless(pid_t pid, int (*stop)(void *), void *arg, struct map_entry **out,
			   size_t *n)
{
	struct maps_text t = { .how = PROC_SMAPS, .stop = stop, .arg = arg };

	return read_maps_file(pid, &t, out, n);
}

int proc_read_maps_how(pid_t pid, struct map_entry **out, size_t *n, int how)
{
	struct maps_text t = { .how = how };
	int ret;

	/* The query, where it works; the text for any other failure than
	 * the process's (a kernel without it, ENOTTY/EINVAL; a name longer
	 * than the query's buffer, ENAMETOOLONG, which the text has). */
	if (how == PROC_MAPS_EXEC &&
	    ((ret = query_exec_maps(pid, out, n)) == 0 || ret == -ESRCH || ret == -ENOENT))
		return ret;
	return read_maps_file(pid, &t, out, n);
}

/*
 * The mapping holding addr, by one PROCMAP_QUERY (Linux 6.11: a lookup in
 * the process's tree, a few microseconds whatever its size); an older
 * kernel (ENOTTY, EINVAL): the maps text read through.  -ENOENT: none.
 * *stack: it is the process's [stack] (a longer name than that, which the
 * query refuses with ENAMETOOLONG, is not).
 */
int proc_vma_of(pid_t pid, uint64_t addr, uint64_t *start, uint64_t *end, int *stack)
{
	char path[64], name[16];
	struct ckpt_procmap_query q = { .size = sizeof(q), .query_addr = addr,
					.vma_name_size = sizeof(name),
					.vma_name_addr = (uint64_t)(uintptr_t)name };
	struct map_entry *m = NULL;
	size_t n = 0;
	int fd, ret;

	*stack = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	ret = ioctl(fd, CKPT_PROCMAP_QUERY, &q) < 0 ? -errno : 0;
	if (ret == -ENAMETOOLONG) {
		q.vma_name_size = 0;
		ret = ioctl(fd, CKPT_PROCMAP_QUERY, &q) < 0 ? -errno : 0;
	} else if (ret == 0) {
		/* vma_name_size 0: no name; else it counts the NUL */
		*stack = q.vma_name_size == sizeof("[stack]") && !memcmp(name, "[stack]", sizeof("[stack]"));
	}
	if (ret == 0) {
		*start = q.vma_start;
		*end = q.vma_end;
	} else if ((ret == -ENOTTY || ret == -EINVAL) &&
		   (ret = proc_parse_maps_fd(fd, PROC_MAPS, 0, &m, &n)) == 0) {
		ret = -ENOENT;
		for (size_t i = 0; i < n && ret; i++)
			if (m[i].start <= addr && addr < m[i].end) {
				*start = m[i].start;
				*end = m[i].end;
				*stack = !strcmp(m[i].path, "[stack]");
				ret = 0;
			}
		proc_free_maps(m, n);
	}
	close(fd);
	return ret;
}

void proc_free_maps(struct map_entry *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}
