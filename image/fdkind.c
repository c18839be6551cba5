/*
 * The image layer's table of fd kinds (fdkind.h): names, state checks,
 * and the state in words and JSON for inspect.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "common/json.h"
#include "common/util.h"
#include "image/fdkind.h"
#include "image/sockopt.h"

void fd_state(const struct img_file *f, void *out, size_t size)
{
	memset(out, 0, size);
	memcpy(out, f->state, MIN(size, (size_t)f->d.state_len));
}

/* Walk n records of `rec` bytes, each followed by path_len bytes of path
 * (its u32 at path_off): they must fill the state after `fixed` exactly. */
static int check_records(const struct img_file *f, uint32_t fixed, uint32_t n, uint32_t rec,
			 uint32_t path_off)
{
	uint64_t at = fixed;

	if (n > (1u << 20))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;

		if (at + rec > f->d.state_len)
			return -1;
		memcpy(&len, f->state + at + path_off, sizeof(len));
		if (len > CKPT_MAX_PATH)
			return -1;
		at += rec + len;
	}
	return at == f->d.state_len ? 0 : -1;
}

/* ---- pipes and FIFOs ---- */

static int pipe_check(const struct img_file *f)
{
	struct ckpt_fd_pipe s;
	uint64_t sum = 0;

	fd_state(f, &s, sizeof(s));
	if (s.npackets > 65536 || f->d.state_len != sizeof(s) + 4ull * s.npackets ||
	    (!(s.pflags & CKPT_PIPE_DATA) && f->d.data_len))
		return -1;
	for (uint32_t i = 0; i < s.npackets; i++) {
		uint32_t len;

		memcpy(&len, f->state + sizeof(s) + 4 * i, sizeof(len));
		sum += len;
	}
	return s.npackets && sum != f->d.data_len ? -1 : 0;
}

static void pipe_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_pipe s;

	fd_state(f, &s, sizeof(s));
	snprintf(buf, len, "pipe %llu, %u bytes, %s end%s", (unsigned long long)s.pipe, s.pipe_size,
		 (f->d.flags & 3) == 0 ? "read" : (f->d.flags & 3) == 1 ? "write" : "read-write",
		 f->d.fflags & CKPT_FILEF_DELETED ? ", deleted" : "");
	if (s.pflags & CKPT_PIPE_DATA)
		snprintf(buf + strlen(buf), len - strlen(buf), ", %llu bytes buffered",
			 (unsigned long long)f->d.data_len);
	if (s.npackets)
		snprintf(buf + strlen(buf), len - strlen(buf), " in %u packets", s.npackets);
}

static void pipe_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_pipe s;

	fd_state(f, &s, sizeof(s));
	json_u64(j, "pipe", s.pipe);
	json_u64(j, "pipe_size", s.pipe_size);
	json_bool(j, "carries_data", s.pflags & CKPT_PIPE_DATA);
	json_u64(j, "buffered", f->d.data_len);
	json_u64(j, "packets", s.npackets);
	json_bool(j, "deleted", f->d.fflags & CKPT_FILEF_DELETED);
}

/* ---- deleted files ---- */

/* With its state: the extents fit state_len, ascend without overlaps
 * inside the size, and add up to the data; without (older images, a
 * further open of an inode): every byte stored, or none. */
static int ghost_check(const struct img_file *f)
{
	struct ckpt_fd_ghost s;
	uint64_t sum = 0, end = 0;

	if (!f->d.state_len)
		return f->d.data_len == f->d.size ? 0 : -1;
	fd_state(f, &s, sizeof(s));
	if (f->d.state_len < sizeof(s) || s.nextents > CKPT_MAX_EXTENTS ||
	    f->d.state_len != sizeof(s) + (uint64_t)s.nextents * sizeof(struct ckpt_extent))
		return -1;
	for (uint32_t i = 0; i < s.nextents; i++) {
		struct ckpt_extent e;

		memcpy(&e, f->state + sizeof(s) + i * sizeof(e), sizeof(e));
		if (!e.len || e.offset < end || e.offset > f->d.size || e.len > f->d.size - e.offset)
			return -1;
		end = e.offset + e.len;
		sum += e.len;
	}
	/* a further open carries nothing: read.c checks what it names; a
	 * file only mapped carries its inode */
	return sum == f->d.data_len && (!s.inode_of || !s.nextents) &&
	       (!s.inode_of || !(f->d.fflags & CKPT_FILEF_MAPPED)) ? 0 : -1;
}

static void ghost_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_ghost s;

	fd_state(f, &s, sizeof(s));
	if (s.inode_of)
		snprintf(buf, len, "owner %u:%u, the inode of file %u", s.uid, s.gid, s.inode_of);
	else
		snprintf(buf, len, "owner %u:%u, %llu bytes of data in %u extents", s.uid, s.gid,
			 (unsigned long long)f->d.data_len, s.nextents);
}

static void ghost_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_ghost s;

	fd_state(f, &s, sizeof(s));
	json_u64(j, "uid", s.uid);
	json_u64(j, "gid", s.gid);
	json_u64(j, "atime_ns", s.atime_ns);
	json_u64(j, "mtime_ns", f->d.mtime_ns);
	json_u64(j, "extents", s.nextents);
	json_u64(j, "inode_of", s.inode_of);
}

/* ---- eventfd, signalfd, timerfd ---- */

static void eventfd_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_eventfd s;

	fd_state(f, &s, sizeof(s));
	snprintf(buf, len, "count %llu%s", (unsigned long long)s.count,
		 s.semaphore ? ", semaphore" : "");
}

static void eventfd_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_eventfd s;

	fd_state(f, &s, sizeof(s));
	json_u64(j, "count", s.count);
	json_bool(j, "semaphore", s.semaphore);
}

static void signalfd_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_signalfd s;

	fd_state(f, &s, sizeof(s));
	snprintf(buf, len, "mask %#llx", (unsigned long long)s.sigmask);
}

static void signalfd_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_signalfd s;

	fd_state(f, &s, sizeof(s));
	json_hex(j, "sigmask", s.sigmask);
}

static void timerfd_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_timerfd s;

	fd_state(f, &s, sizeof(s));
	snprintf(buf, len, "clock %d, %s %.9f s, interval %.9f s, %llu expirations unread%s",
		 s.clockid, s.value_ns ? "left" : "disarmed", s.value_ns / 1e9, s.interval_ns / 1e9,
		 (unsigned long long)s.ticks, s.settime_flags & 1 ? ", absolute" : "");
}

static void timerfd_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_timerfd s;

	fd_state(f, &s, sizeof(s));
	json_i64(j, "clockid", s.clockid);
	json_hex(j, "settime_flags", s.settime_flags);
	json_u64(j, "ticks", s.ticks);
	json_i64(j, "interval_ns", s.interval_ns);
	json_i64(j, "value_ns", s.value_ns);
}

/* ---- epoll ---- */

static int epoll_check(const struct img_file *f)
{
	struct ckpt_fd_epoll s;

	fd_state(f, &s, sizeof(s));
	return s.nentries <= (1u << 20) &&
	       f->d.state_len == sizeof(s) + (uint64_t)s.nentries * sizeof(struct ckpt_epoll_entry) ? 0 : -1;
}

static struct ckpt_epoll_entry epoll_entry(const struct img_file *f, uint32_t i)
{
	struct ckpt_epoll_entry e;

	memcpy(&e, f->state + sizeof(struct ckpt_fd_epoll) + i * sizeof(e), sizeof(e));
	return e;
}

static void epoll_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_epoll s;
	size_t n;

	fd_state(f, &s, sizeof(s));
	n = (size_t)snprintf(buf, len, "%u registered", s.nentries);
	for (uint32_t i = 0; i < s.nentries && n < len; i++) {
		struct ckpt_epoll_entry e = epoll_entry(f, i);

		n += (size_t)snprintf(buf + n, len - n, "%s fd %d events %#x data %#llx",
				      i ? "," : ":", e.tfd, e.events, (unsigned long long)e.data);
	}
}

static void epoll_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_epoll s;

	fd_state(f, &s, sizeof(s));
	json_array(j, "registered");
	for (uint32_t i = 0; i < s.nentries; i++) {
		struct ckpt_epoll_entry e = epoll_entry(f, i);

		json_object(j, NULL);
		json_i64(j, "fd", e.tfd);
		json_hex(j, "events", e.events);
		json_hex(j, "data", e.data);
		json_u64(j, "file", e.file);
		json_close(j);
	}
	json_close(j);
}

/* ---- inotify, fanotify ---- */

/* Watches in ascending wd order, 1 to CKPT_MAX_WD (restore adds up to
 * that many), each on an absolute path without a NUL. */
static int inotify_check(const struct img_file *f)
{
	struct ckpt_fd_inotify s;
	size_t at = sizeof(s);
	int32_t last = 0;

	fd_state(f, &s, sizeof(s));
	if (check_records(f, sizeof(s), s.nwatches, sizeof(struct ckpt_inotify_watch),
			  offsetof(struct ckpt_inotify_watch, path_len)) < 0)
		return -1;
	for (uint32_t i = 0; i < s.nwatches; i++) {
		struct ckpt_inotify_watch w;
		const char *path = (const char *)f->state + at + sizeof(w);

		memcpy(&w, f->state + at, sizeof(w));
		if (w.wd <= last || w.wd > CKPT_MAX_WD || !w.path_len || path[0] != '/' ||
		    memchr(path, 0, w.path_len))
			return -1;
		last = w.wd;
		at += sizeof(w) + w.path_len;
	}
	return 0;
}

static void inotify_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_inotify s;
	size_t n, at = sizeof(s);

	fd_state(f, &s, sizeof(s));
	n = (size_t)snprintf(buf, len, "%s%u watch%s", f->d.fflags & CKPT_FILEF_EVENTS_LOST ?
			     "its unread events lost at the dump, " : "", s.nwatches,
			     s.nwatches == 1 ? "" : "es");
	for (uint32_t i = 0; i < s.nwatches && n < len; i++) {
		struct ckpt_inotify_watch w;

		memcpy(&w, f->state + at, sizeof(w));
		n += (size_t)snprintf(buf + n, len - n, "%s %d \"%.*s\" mask %#x", i ? "," : ":", w.wd,
				      (int)w.path_len, (const char *)f->state + at + sizeof(w), w.mask);
		at += sizeof(w) + w.path_len;
	}
}

static void inotify_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_inotify s;
	size_t at = sizeof(s);

	fd_state(f, &s, sizeof(s));
	json_bool(j, "events_lost", f->d.fflags & CKPT_FILEF_EVENTS_LOST);
	json_array(j, "watches");
	for (uint32_t i = 0; i < s.nwatches; i++) {
		struct ckpt_inotify_watch w;

		memcpy(&w, f->state + at, sizeof(w));
		json_object(j, NULL);
		json_i64(j, "wd", w.wd);
		json_hex(j, "mask", w.mask);
		json_strn(j, "path", (const char *)f->state + at + sizeof(w), w.path_len);
		json_close(j);
		at += sizeof(w) + w.path_len;
	}
	json_close(j);
}

/* Marks of a file (0), a mount (0x10) or a filesystem (0x100), with
 * only FAN_MARK_IGNORED_SURV_MODIFY, _EVICTABLE and _IGNORE among their
 * flags (include/uapi/linux/fanotify.h), each on an absolute path. */
static int fanotify_check(const struct img_file *f)
{
	struct ckpt_fd_fanotify s;
	size_t at = sizeof(s);

	fd_state(f, &s, sizeof(s));
	if (check_records(f, sizeof(s), s.nmarks, sizeof(struct ckpt_fanotify_mark),
			  offsetof(struct ckpt_fanotify_mark, path_len)) < 0)
		return -1;
	for (uint32_t i = 0; i < s.nmarks; i++) {
		struct ckpt_fanotify_mark m;
		const char *path = (const char *)f->state + at + sizeof(m);

		memcpy(&m, f->state + at, sizeof(m));
		if ((m.type != 0 && m.type != 0x10 && m.type != 0x100) || (m.mflags & ~0x640u) ||
		    !m.path_len || path[0] != '/' || memchr(path, 0, m.path_len))
			return -1;
		at += sizeof(m) + m.path_len;
	}
	return 0;
}

/* What a group reports besides a descriptor, by its fanotify_init(2) flags
 * (include/uapi/linux/fanotify.h): " (FAN_REPORT_...|...)", or "". */
static void fanotify_reports(uint32_t fl, char *buf, size_t len)
{
	static const struct { uint32_t bits; const char *name; } r[] = {
		{ 0xc00, "FAN_REPORT_DFID_NAME" }, { 0x80, "FAN_REPORT_PIDFD" },
		{ 0x100, "FAN_REPORT_TID" }, { 0x200, "FAN_REPORT_FID" },
		{ 0x400, "FAN_REPORT_DIR_FID" }, { 0x800, "FAN_REPORT_NAME" },
		{ 0x1000, "FAN_REPORT_TARGET_FID" },
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(r) && n < len; i++)
		if ((fl & r[i].bits) == r[i].bits) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : " (", r[i].name);
			fl &= ~r[i].bits;
		}
	if (n && n < len)
		snprintf(buf + n, len - n, ")");
}

static void fanotify_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_fanotify s;
	size_t n, at = sizeof(s);
	char reports[160];

	fd_state(f, &s, sizeof(s));
	fanotify_reports(s.init_flags, reports, sizeof(reports));
	n = (size_t)snprintf(buf, len, "%sflags %#x%s, event flags %#x, %u marks",
			     f->d.fflags & CKPT_FILEF_EVENTS_LOST ? "its unread events lost at the dump, " :
			     "", s.init_flags, reports, s.event_flags, s.nmarks);
	for (uint32_t i = 0; i < s.nmarks && n < len; i++) {
		struct ckpt_fanotify_mark m;

		memcpy(&m, f->state + at, sizeof(m));
		n += (size_t)snprintf(buf + n, len - n, "%s \"%.*s\" type %#x mask %#llx", i ? "," : ":",
				      (int)m.path_len, (const char *)f->state + at + sizeof(m), m.type,
				      (unsigned long long)m.mask);
		at += sizeof(m) + m.path_len;
	}
}

static void fanotify_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_fanotify s;
	size_t at = sizeof(s);

	fd_state(f, &s, sizeof(s));
	json_bool(j, "events_lost", f->d.fflags & CKPT_FILEF_EVENTS_LOST);
	json_hex(j, "init_flags", s.init_flags);
	json_hex(j, "event_flags", s.event_flags);
	json_array(j, "marks");
	for (uint32_t i = 0; i < s.nmarks; i++) {
		struct ckpt_fanotify_mark m;

		memcpy(&m, f->state + at, sizeof(m));
		json_object(j, NULL);
		json_hex(j, "type", m.type);
		json_hex(j, "flags", m.mflags);
		json_hex(j, "mask", m.mask);
		json_hex(j, "ignored_mask", m.ignored_mask);
		json_strn(j, "path", (const char *)f->state + at + sizeof(m), m.path_len);
		json_close(j);
		at += sizeof(m) + m.path_len;
	}
	json_close(j);
}

/* ---- pidfd, /proc ---- */

/* A process (pid > 0), or one that had exited (-1, not itself); flags
 * only those pidfd_open(2) takes besides the access mode; a thread's only
 * with PIDFD_THREAD (O_EXCL), which pidfd_open needs for one. */
static int pidfd_check(const struct img_file *f)
{
	struct ckpt_fd_pidfd s;

	fd_state(f, &s, sizeof(s));
	if (f->d.state_len != sizeof(s) || (s.pflags & ~(CKPT_PIDFD_SELF | CKPT_PIDFD_THREAD)) ||
	    s.pid == 0 || s.pid < -1 || (s.pid == -1 && s.pflags) ||
	    s.pflags == (CKPT_PIDFD_SELF | CKPT_PIDFD_THREAD) ||
	    ((s.pflags & CKPT_PIDFD_THREAD) && !(f->d.flags & O_EXCL)))
		return -1;
	return f->d.flags & ~(uint32_t)(O_ACCMODE | O_NONBLOCK | O_EXCL) ? -1 : 0;
}

static void pidfd_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_pidfd s;

	fd_state(f, &s, sizeof(s));
	if (s.pid < 0)
		snprintf(buf, len, "of a process that has exited");
	else
		snprintf(buf, len, "of %s %d%s", s.pflags & CKPT_PIDFD_THREAD ? "thread" : "PID", s.pid,
			 s.pflags & CKPT_PIDFD_SELF ? " (itself)" : "");
}

static void pidfd_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_pidfd s;

	fd_state(f, &s, sizeof(s));
	json_i64(j, "pid", s.pid);
	json_bool(j, "self", s.pflags & CKPT_PIDFD_SELF);
	json_bool(j, "thread", s.pflags & CKPT_PIDFD_THREAD);
	json_u64(j, "start_time", s.start_time);
}

int fd_proc_rest(const char *rest)
{
	static const char *const no_deeper[] = { "root", "cwd", "exe", "fd", "map_files", "task" };
	const char *c1, *c2;
	size_t n1, n2;

	if (!*rest)
		return 0;
	if (rest[0] != '/')
		return -1;
	c1 = rest + 1;
	n1 = strcspn(c1, "/");
	c2 = c1[n1] ? c1 + n1 + 1 : NULL;
	n2 = c2 ? strcspn(c2, "/") : 0;
	if (!n1 || (c1[0] == '.' && (n1 == 1 || (n1 == 2 && c1[1] == '.'))) ||
	    (c2 && (!n2 || c2[n2] || (c2[0] == '.' && (n2 == 1 || (n2 == 2 && c2[1] == '.'))))))
		return -1;
	for (size_t i = 0; c2 && i < ARRAY_SIZE(no_deeper); i++)
		if (n1 == strlen(no_deeper[i]) && !strncmp(c1, no_deeper[i], n1))
			return -1;
	return 0;
}

/* The path names its pid's /proc and a file restore may open again. */
static int proc_check(const struct img_file *f)
{
	struct ckpt_fd_proc s;
	char pre[32];
	size_t n;

	fd_state(f, &s, sizeof(s));
	if (f->d.state_len != sizeof(s) || s.pid <= 0 || strlen(f->path) != f->d.path_len)
		return -1;
	n = (size_t)snprintf(pre, sizeof(pre), "/proc/%d", s.pid);
	return strncmp(f->path, pre, n) ? -1 : fd_proc_rest(f->path + n);
}

static void proc_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_proc s;

	fd_state(f, &s, sizeof(s));
	snprintf(buf, len, "of PID %d itself: opened again by the restored process", s.pid);
}

static void proc_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_proc s;

	fd_state(f, &s, sizeof(s));
	json_i64(j, "pid", s.pid);
}

/* ---- unix sockets ---- */

static int unix_check(const struct img_file *f)
{
	struct ckpt_fd_unix s;
	uint64_t sum = 0, at;

	uint64_t names = 0;

	fd_state(f, &s, sizeof(s));
	/* sun_path is 108 bytes (unix(7)) */
	if (s.name_len > 108 || s.peer_name_len > 108 || s.nmsgs > (1u << 20) ||
	    f->d.state_len < sizeof(s) + (uint64_t)s.name_len + s.peer_name_len + 4ull * s.nmsgs)
		return -1;
	at = sizeof(s) + s.name_len + s.peer_name_len;
	for (uint32_t i = 0; i < s.nmsgs; i++) {
		uint32_t len;

		memcpy(&len, f->state + at + 4 * i, sizeof(len));
		sum += len;
	}
	if (s.nmsgs && sum != f->d.data_len)
		return -1;
	/* the senders' names of datagrams (5.24): a length each, at most a
	 * sun_path, then the names */
	at += 4ull * s.nmsgs;
	if (f->d.fflags & CKPT_FILEF_SENDERS) {
		if (s.type != 2 || !s.nmsgs || f->d.state_len < at + 4ull * s.nmsgs)
			return -1;
		for (uint32_t i = 0; i < s.nmsgs; i++) {
			uint32_t len;

			memcpy(&len, f->state + at + 4 * i, sizeof(len));
			if (len > 108)
				return -1;
			names += len;
		}
		at += 4ull * s.nmsgs + names;
	}
	/* options (CKPT_UNIX_SOCKOPTS): the records, then their count, last */
	if (s.uflags & CKPT_UNIX_SOCKOPTS) {
		uint32_t n;

		if (f->d.state_len < at + 4)
			return -1;
		memcpy(&n, f->state + f->d.state_len - 4, sizeof(n));
		if (!n || sockopt_check(f->state, f->d.state_len - 4, (size_t)at, n) < 0)
			return -1;
		at = f->d.state_len;
	}
	if (f->d.state_len != at)
		return -1;
	/* through a listener (5.24): a connection of stream or seqpacket
	 * sockets; the accepted end has its listener's name (and a closed
	 * peer of it had none: restore makes that peer without), the
	 * connecting end with a closed peer has it as its peer's */
	if ((f->d.fflags & (CKPT_FILEF_ACCEPTED | CKPT_FILEF_CONNECTED)) &&
	    (s.state != 1 || (s.type != 1 && s.type != 5) || f->d.policy != CKPT_FPOL_EXACT))
		return -1;
	if ((f->d.fflags & CKPT_FILEF_ACCEPTED) &&
	    ((f->d.fflags & CKPT_FILEF_CONNECTED) || !s.name_len || (s.uflags & CKPT_UNIX_DELETED) ||
	     (!s.peer && s.peer_name_len)))
		return -1;
	return (f->d.fflags & CKPT_FILEF_CONNECTED) && (s.peer || !s.peer_name_len) ? -1 : 0;
}

/* A sun_path for people: an abstract name as "@name". */
static void unix_name(const uint8_t *p, uint32_t len, char *buf, size_t size)
{
	size_t n = 0;

	/* a path's trailing NUL (bind(2) counts it) is not part of it */
	while (len && p[0] && !p[len - 1])
		len--;
	for (uint32_t i = 0; i < len && n + 5 < size; i++) {
		if (i == 0 && p[0] == 0)
			buf[n++] = '@';
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			buf[n++] = (char)p[i];
		else
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", p[i]);
	}
	buf[n] = 0;
}

void fd_unix_names(const struct img_file *f, char *name, char *peer, size_t size)
{
	struct ckpt_fd_unix s;

	fd_state(f, &s, sizeof(s));
	name[0] = peer[0] = 0;
	if (f->d.state_len < sizeof(s) + (uint64_t)s.name_len + s.peer_name_len)
		return;
	unix_name(f->state + sizeof(s), s.name_len, name, size);
	unix_name(f->state + sizeof(s) + s.name_len, s.peer_name_len, peer, size);
}

static const char *unix_type(uint32_t type)
{
	return type == 1 ? "stream" : type == 2 ? "datagram" : type == 5 ? "seqpacket" : "?";
}

static void unix_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_unix s;
	char name[512], peer[512];

	fd_state(f, &s, sizeof(s));
	fd_unix_names(f, name, peer, sizeof(name));
	snprintf(buf, len, "%s %s, socket %llu%s%s%s, peer %llu%s%s%s, %llu bytes queued",
		 unix_type(s.type), s.state == 10 ? "listening" : s.state == 1 ? "connected" :
		 "unconnected", (unsigned long long)s.sock, name[0] ? " \"" : "", name,
		 name[0] ? "\"" : "", (unsigned long long)s.peer, peer[0] ? " \"" : "", peer,
		 peer[0] ? "\"" : "", (unsigned long long)f->d.data_len);
	if (s.nmsgs)
		snprintf(buf + strlen(buf), len - strlen(buf), " in %u messages", s.nmsgs);
	if (s.shutdown)
		snprintf(buf + strlen(buf), len - strlen(buf), ", shut down %s",
			 s.shutdown == 3 ? "both ways" : s.shutdown == 1 ? "for reading" : "for writing");
	if (f->d.fflags & CKPT_FILEF_ACCEPTED)
		snprintf(buf + strlen(buf), len - strlen(buf), ", accepted from its listener");
	if (f->d.fflags & CKPT_FILEF_CONNECTED)
		snprintf(buf + strlen(buf), len - strlen(buf), ", connected through its peer's listener");
	if (f->d.fflags & CKPT_FILEF_SENDERS)
		snprintf(buf + strlen(buf), len - strlen(buf), ", from named senders");
}

static void unix_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_unix s;
	char name[512], peer[512];

	fd_state(f, &s, sizeof(s));
	fd_unix_names(f, name, peer, sizeof(name));
	json_str(j, "type", unix_type(s.type));
	json_u64(j, "state", s.state);
	json_u64(j, "socket", s.sock);
	json_u64(j, "peer", s.peer);
	json_str(j, "name", name);
	json_str(j, "peer_name", peer);
	json_u64(j, "shutdown", s.shutdown);
	json_u64(j, "backlog", s.backlog);
	json_u64(j, "rcvbuf", s.rcvbuf);
	json_u64(j, "sndbuf", s.sndbuf);
	json_i64(j, "peek_off", s.peek_off);
	json_bool(j, "passcred", s.uflags & CKPT_UNIX_PASSCRED);
	json_u64(j, "queued", f->d.data_len);
	json_u64(j, "messages", s.nmsgs);
	json_bool(j, "accepted", f->d.fflags & CKPT_FILEF_ACCEPTED);
	json_bool(j, "connected_via_listener", f->d.fflags & CKPT_FILEF_CONNECTED);
	json_bool(j, "named_senders", f->d.fflags & CKPT_FILEF_SENDERS);
}

/* ---- TCP and UDP sockets ---- */

void fd_inet_addr(uint32_t family, const uint8_t *a, uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* A TCP listener (an INET file whose state is LISTEN). */
static int fd_inet_listener(const struct img_file *f)
{
	struct ckpt_fd_inet s;

	if (f->d.kind != CKPT_FD_INET || f->d.state_len < sizeof(s))
		return 0;
	fd_state(f, &s, sizeof(s));
	return s.protocol == IPPROTO_TCP && s.state == TCP_LISTEN;
}

/* The options ending an INET or TCP file's state, after fixed bytes. */
static int inet_opts_check(const struct img_file *f, size_t fixed)
{
	struct ckpt_fd_inet s;

	fd_state(f, &s, sizeof(s));
	return sockopt_check(f->state, f->d.state_len, fixed, s.nsockopts);
}

static int inet_check(const struct img_file *f)
{
	return inet_opts_check(f, sizeof(struct ckpt_fd_inet));
}

/* " TCP_KEEPIDLE 77 SO_LINGER 1,5 TCP_CONGESTION reno" */
static void inet_opts_text(const struct img_file *f, size_t fixed, char *buf, size_t len)
{
	struct ckpt_fd_inet s;
	struct ckpt_sockopt r;
	int32_t v[4];

	fd_state(f, &s, sizeof(s));
	for (uint32_t i = 0; i < s.nsockopts; i++) {
		const struct sockopt_def *o;
		size_t at = strlen(buf);

		sockopt_get(f->state, fixed, i, &r);
		memcpy(v, r.val, sizeof(v));
		o = sockopt_find(r.level, r.name);
		if (o && (o->flags & SOCKOPT_NAME))
			snprintf(buf + at, len - at, " %s %.*s", o->label, (int)strnlen((const char *)r.val, r.len),
				 (const char *)r.val);
		else if (o && r.len == 16)	/* struct timeval */
			snprintf(buf + at, len - at, " %s %lld.%06lld", o->label,
				 (long long)((uint64_t)(uint32_t)v[1] << 32 | (uint32_t)v[0]),
				 (long long)((uint64_t)(uint32_t)v[3] << 32 | (uint32_t)v[2]));
		else if (o && r.len == 8)
			snprintf(buf + at, len - at, " %s %d,%d", o->label, v[0], v[1]);
		else if (o)
			snprintf(buf + at, len - at, " %s %d", o->label, v[0]);
	}
}

static void inet_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_inet s;
	char a[64], p[64];

	fd_state(f, &s, sizeof(s));
	fd_inet_addr(s.family, s.addr, s.port, a, sizeof(a));
	fd_inet_addr(s.family, s.peer_addr, s.peer_port, p, sizeof(p));
	snprintf(buf, len, "%s %s%s%s%s, options %#x", s.protocol == IPPROTO_TCP ? "TCP" : "UDP",
		 s.state == 10 ? "listening on " : s.port ? "bound to " : "not bound", s.port ? a : "",
		 s.peer_port ? ", connected to " : "", s.peer_port ? p : "", s.opts);
	if (s.state == 10)
		snprintf(buf + strlen(buf), len - strlen(buf), ", backlog %u%s", s.backlog,
			 f->d.fflags & CKPT_FILEF_EVENTS_LOST ?
			 ", the connections that waited to be accepted lost" : "");
	if (f->d.kind == CKPT_FD_INET)
		inet_opts_text(f, sizeof(struct ckpt_fd_inet), buf, len);
}

static void inet_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_inet s;
	char a[64];

	fd_state(f, &s, sizeof(s));
	json_str(j, "protocol", s.protocol == IPPROTO_TCP ? "tcp" : "udp");
	json_u64(j, "family", s.family);
	json_u64(j, "state", s.state);
	fd_inet_addr(s.family, s.addr, s.port, a, sizeof(a));
	json_str(j, "address", s.port ? a : "");
	fd_inet_addr(s.family, s.peer_addr, s.peer_port, a, sizeof(a));
	json_str(j, "peer", s.peer_port ? a : "");
	json_u64(j, "backlog", s.backlog);
	json_hex(j, "options", s.opts);
	json_u64(j, "rcvbuf", s.rcvbuf);
	json_u64(j, "sndbuf", s.sndbuf);
	json_bool(j, "events_lost", f->d.fflags & CKPT_FILEF_EVENTS_LOST);
}

/*
 * A FIN counts one in the sequence numbers (RFC 793 3.3): the peer's
 * comes after the bytes it sent, the process's own after what it wrote
 * (shutdown(SHUT_WR), or close(2) of the last fd, which leaves no fd).
 */
uint32_t fd_tcp_fins(uint32_t state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_SYN_SENT:	/* a connect(2) in progress (5.28) */
		return 0;
	case TCP_CLOSE_WAIT:
		return CKPT_FILEF_FIN_IN;
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		return CKPT_FILEF_FIN_OUT;
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return CKPT_FILEF_FIN_IN | CKPT_FILEF_FIN_OUT;
	default:
		return ~0u;
	}
}

const char *fd_tcp_state_name(uint32_t state)
{
	static const char *const names[] = {
		"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	};

	return state < ARRAY_SIZE(names) ? names[state] : "?";
}

/* A connection: ckpt_fd_inet, then ckpt_fd_tcp; its state one that
 * fd_tcp_fins knows, its FIN flags the state's. */
static void tcp_state(const struct img_file *f, struct ckpt_fd_tcp *t)
{
	memcpy(t, f->state + sizeof(struct ckpt_fd_inet), sizeof(*t));
}

static int tcp_check(const struct img_file *f)
{
	struct ckpt_fd_inet s;
	struct ckpt_fd_tcp t;

	fd_state(f, &s, sizeof(s));
	tcp_state(f, &t);
	return inet_opts_check(f, sizeof(s) + sizeof(t)) == 0 && s.protocol == IPPROTO_TCP &&
	       (s.family == AF_INET || s.family == AF_INET6) && s.port && s.peer_port &&
	       (uint64_t)t.inq_len + t.outq_len == f->d.data_len && t.unsent_len <= t.outq_len &&
	       (s.state != TCP_SYN_SENT || !f->d.data_len) &&
	       fd_tcp_fins(s.state) == (f->d.fflags & (CKPT_FILEF_FIN_IN | CKPT_FILEF_FIN_OUT)) ?
	       0 : -1;
}

/* An address as IPv6 would name it: an IPv4 one as ::ffff:a.b.c.d, so
 * that the two ends of a connection between an IPv6 socket (a JVM's,
 * dual-stack) and an IPv4 one name each other alike. */
static void as_v6(uint32_t family, const uint8_t *addr, uint8_t out[16])
{
	if (family == AF_INET6) {
		memcpy(out, addr, 16);
		return;
	}
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, addr, 4);
}

static int same_end(uint32_t fa, const uint8_t *a, uint32_t fb, const uint8_t *b)
{
	uint8_t x[16], y[16];

	as_v6(fa, a, x);
	as_v6(fb, b, y);
	return !memcmp(x, y, 16);
}

const struct img_file *fd_tcp_peer(const struct img *img, const struct img_file *f)
{
	struct ckpt_fd_inet a, b;

	fd_state(f, &a, sizeof(a));
	for (uint32_t i = 0; i < img->nfiles; i++) {
		const struct img_file *g = &img->files[i];

		if (g == f || g->d.kind != CKPT_FD_TCP || g->d.policy != CKPT_FPOL_EXACT ||
		    g->d.state_len < sizeof(b))
			continue;
		fd_state(g, &b, sizeof(b));
		if (b.port == a.peer_port && b.peer_port == a.port &&
		    same_end(b.family, b.addr, a.family, a.peer_addr) &&
		    same_end(b.family, b.peer_addr, a.family, a.addr))
			return g;
	}
	return NULL;
}

int fd_tcp_listener(const struct img_file *f, struct ckpt_fd_inet *s)
{
	if (f->d.policy != CKPT_FPOL_EXACT || !fd_inet_listener(f))
		return 0;
	fd_state(f, s, sizeof(*s));
	return 1;
}

static uint32_t s_state(const struct img_file *f)
{
	struct ckpt_fd_inet s;

	fd_state(f, &s, sizeof(s));
	return s.state;
}

static void tcp_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_tcp t;

	inet_text(f, buf, len);
	tcp_state(f, &t);
	snprintf(buf + strlen(buf), len - strlen(buf),
		 "; %s, %u bytes to read%s, %u written not acknowledged (%u not sent)%s, mss %u",
		 fd_tcp_state_name(s_state(f)), t.inq_len,
		 f->d.fflags & CKPT_FILEF_FIN_IN ? " then the end" : "", t.outq_len, t.unsent_len,
		 f->d.fflags & CKPT_FILEF_FIN_OUT ? " then its FIN" : "", t.mss);
	inet_opts_text(f, sizeof(struct ckpt_fd_inet) + sizeof(t), buf, len);
}

static void tcp_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_tcp t;

	inet_json(f, j);
	tcp_state(f, &t);
	json_u64(j, "snd_seq", t.snd_seq);
	json_u64(j, "rcv_seq", t.rcv_seq);
	json_u64(j, "inq", t.inq_len);
	json_u64(j, "outq", t.outq_len);
	json_u64(j, "unsent", t.unsent_len);
	json_u64(j, "mss", t.mss);
	json_hex(j, "tcp_options", t.topts);
	json_str(j, "tcp_state", fd_tcp_state_name(s_state(f)));
	json_bool(j, "fin_in", f->d.fflags & CKPT_FILEF_FIN_IN);
	json_bool(j, "fin_out", f->d.fflags & CKPT_FILEF_FIN_OUT);
}

/* ---- terminals ---- */

static int tty_check(const struct img_file *f)
{
	struct ckpt_fd_tty s;

	fd_state(f, &s, sizeof(s));
	if (f->d.state_len != sizeof(s))
		return -1;
	/* only a master carries bytes; a restored slave is a pty's */
	if (f->d.kind == CKPT_FD_PTMX)
		return (uint64_t)s.to_master + s.to_slave == f->d.data_len && s.index != ~0u ? 0 : -1;
	return !s.to_master && !s.to_slave && !f->d.data_len ? 0 : -1;
}

static void tty_text(const struct img_file *f, char *buf, size_t len)
{
	struct ckpt_fd_tty s;

	fd_state(f, &s, sizeof(s));
	if (s.index != ~0u)
		snprintf(buf, len, "pty %u, ", s.index);
	else
		buf[0] = 0;
	snprintf(buf + strlen(buf), len - strlen(buf), "%ux%u, %s%s, lflag %#x iflag %#x oflag %#x",
		 s.cols, s.rows, s.lflag & 2 /* ICANON */ ? "canonical" : "raw",
		 s.lflag & 8 /* ECHO */ ? " echo" : "", s.lflag, s.iflag, s.oflag);
	if (f->d.kind == CKPT_FD_PTMX)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s%s, %u bytes for the master, %u for the slave",
			 s.tflags & CKPT_TTY_LOCKED ? ", locked" : "",
			 s.tflags & CKPT_TTY_PACKET ? ", packet mode" : "",
			 s.tflags & CKPT_TTY_HUP ? ", slave closed" : "", s.to_master, s.to_slave);
}

static void tty_json(const struct img_file *f, struct json *j)
{
	struct ckpt_fd_tty s;

	fd_state(f, &s, sizeof(s));
	json_i64(j, "index", s.index == ~0u ? -1 : (int64_t)s.index);
	json_hex(j, "iflag", s.iflag);
	json_hex(j, "oflag", s.oflag);
	json_hex(j, "cflag", s.cflag);
	json_hex(j, "lflag", s.lflag);
	json_u64(j, "rows", s.rows);
	json_u64(j, "cols", s.cols);
	json_bool(j, "locked", s.tflags & CKPT_TTY_LOCKED);
	json_bool(j, "packet", s.tflags & CKPT_TTY_PACKET);
	json_bool(j, "slave_closed", s.tflags & CKPT_TTY_HUP);
	json_u64(j, "to_master", s.to_master);
	json_u64(j, "to_slave", s.to_slave);
}

#define STATE(k, n, a, st, chk, t, js) { k, n, a, sizeof(st), chk, t, js }

static const struct fd_kind_info kinds[] = {
	{ CKPT_FD_FILE, "file", "a file", 0, NULL, NULL, NULL },
	{ CKPT_FD_DIR, "dir", "a directory", 0, NULL, NULL, NULL },
	{ CKPT_FD_DEVICE, "device", "a device", 0, NULL, NULL, NULL },
	/* state_size 0: older images have none (ghost_check) */
	{ CKPT_FD_GHOST, "deleted", "a deleted file", 0, ghost_check, ghost_text, ghost_json },
	{ CKPT_FD_OTHER, "other", "an unsupported file", 0, NULL, NULL, NULL },
	{ CKPT_FD_MEMFD, "memfd", "a memfd", 0, NULL, NULL, NULL },
	STATE(CKPT_FD_PIPE, "pipe", "a pipe", struct ckpt_fd_pipe, pipe_check, pipe_text, pipe_json),
	STATE(CKPT_FD_FIFO, "fifo", "a FIFO", struct ckpt_fd_pipe, pipe_check, pipe_text, pipe_json),
	STATE(CKPT_FD_EVENTFD, "eventfd", "an eventfd", struct ckpt_fd_eventfd, NULL, eventfd_text,
	      eventfd_json),
	STATE(CKPT_FD_SIGNALFD, "signalfd", "a signalfd", struct ckpt_fd_signalfd, NULL,
	      signalfd_text, signalfd_json),
	STATE(CKPT_FD_TIMERFD, "timerfd", "a timerfd", struct ckpt_fd_timerfd, NULL, timerfd_text,
	      timerfd_json),
	STATE(CKPT_FD_EPOLL, "epoll", "an epoll instance", struct ckpt_fd_epoll, epoll_check,
	      epoll_text, epoll_json),
	STATE(CKPT_FD_INOTIFY, "inotify", "an inotify instance", struct ckpt_fd_inotify,
	      inotify_check, inotify_text, inotify_json),
	STATE(CKPT_FD_FANOTIFY, "fanotify", "a fanotify instance", struct ckpt_fd_fanotify,
	      fanotify_check, fanotify_text, fanotify_json),
	STATE(CKPT_FD_PIDFD, "pidfd", "a pidfd", struct ckpt_fd_pidfd, pidfd_check, pidfd_text,
	      pidfd_json),
	{ CKPT_FD_PATH, "path", "an O_PATH descriptor", 0, NULL, NULL, NULL },
	STATE(CKPT_FD_PROC, "proc", "a file of its own /proc", struct ckpt_fd_proc, proc_check,
	      proc_text, proc_json),
	STATE(CKPT_FD_UNIX, "unix", "a unix socket", struct ckpt_fd_unix, unix_check, unix_text,
	      unix_json),
	STATE(CKPT_FD_INET, "inet", "a TCP or UDP socket", struct ckpt_fd_inet, inet_check, inet_text,
	      inet_json),
	{ CKPT_FD_TCP, "tcp", "a TCP connection", sizeof(struct ckpt_fd_inet) + sizeof(struct ckpt_fd_tcp),
	  tcp_check, tcp_text, tcp_json },
	{ CKPT_FD_SOCKET, "socket", "a socket", 0, NULL, NULL, NULL },
	STATE(CKPT_FD_TTY, "tty", "a terminal", struct ckpt_fd_tty, tty_check, tty_text, tty_json),
	STATE(CKPT_FD_PTMX, "ptmx", "a pseudo-terminal master", struct ckpt_fd_tty, tty_check,
	      tty_text, tty_json),
	{ CKPT_FD_USERFAULTFD, "userfaultfd", "a userfaultfd", 0, NULL, NULL, NULL },
	{ CKPT_FD_IO_URING, "io_uring", "an io_uring instance", 0, NULL, NULL, NULL },
};

const struct fd_kind_info *fd_kind(uint32_t kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

const char *fd_kind_name(uint32_t kind)
{
	const struct fd_kind_info *k = fd_kind(kind);

	return k ? k->name : "unknown";
}

int fd_kind_restorable(uint32_t kind)
{
	return fd_kind(kind) && kind != CKPT_FD_OTHER &&
	       (kind < CKPT_FD_SOCKET || kind == CKPT_FD_TTY || kind == CKPT_FD_PTMX ||
		kind == CKPT_FD_TCP);
}

/* F_SETOWN's owner and F_SETSIG's signal (format.h CKPT_FOWN_*): a
 * signal up to 64, one kind of owner, and an ID with it, none without. */
static int fown_check(uint32_t fown)
{
	uint32_t who = fown & (CKPT_FOWN_PROCESS | CKPT_FOWN_GROUP);

	return (fown & CKPT_FOWN_SIGMASK) > 64 || (fown & 0x80u) ||
	       who == (CKPT_FOWN_PROCESS | CKPT_FOWN_GROUP) ||
	       !who != !(fown >> CKPT_FOWN_ID_SHIFT) ? -1 : 0;
}

int fd_kind_check(const struct img_file *f)
{
	const struct fd_kind_info *k = fd_kind(f->d.kind);

	if (fown_check(f->d.fown) < 0)
		return -1;

	/* A kind this ckpt cannot make carries state it cannot read: a
	 * newer ckpt's, which restore refuses by name; not damage. */
	if (!fd_kind_restorable(f->d.kind))
		return 0;
	/* only a device node is made again with mknod */
	if ((f->d.fflags & CKPT_FILEF_NODE_DELETED) && f->d.kind != CKPT_FD_DEVICE &&
	    f->d.kind != CKPT_FD_TTY)
		return -1;
	/* No fd names a file only mapped: it is made for its mappings,
	 * exactly, or they are anonymous memory (format.h). */
	if ((f->d.fflags & CKPT_FILEF_MAPPED) &&
	    ((f->d.kind != CKPT_FD_GHOST && f->d.kind != CKPT_FD_MEMFD) || f->d.policy != CKPT_FPOL_EXACT))
		return -1;
	/* What restore does not make from its state may go without it. */
	if (f->d.policy == CKPT_FPOL_INHERIT || f->d.policy == CKPT_FPOL_LOST)
		return f->d.state_len && f->d.state_len < k->state_size ? -1 : 0;
	if (f->d.state_len < k->state_size || (!k->check && f->d.state_len != k->state_size))
		return -1;
	if (f->d.kind == CKPT_FD_MEMFD ? f->d.data_len != f->d.size :
	    f->d.kind != CKPT_FD_PIPE && f->d.kind != CKPT_FD_FIFO && f->d.kind != CKPT_FD_UNIX &&
	    f->d.kind != CKPT_FD_PTMX && f->d.kind != CKPT_FD_TCP && f->d.kind != CKPT_FD_GHOST &&
	    f->d.data_len)
		return -1;
	/* Each flag only on the kinds it is defined for (format.h). */
	if (((f->d.fflags & CKPT_FILEF_RELINKED) && f->d.kind != CKPT_FD_FILE) ||
	    ((f->d.fflags & CKPT_FILEF_EVENTS_LOST) && f->d.kind != CKPT_FD_INOTIFY &&
	     f->d.kind != CKPT_FD_FANOTIFY && !fd_inet_listener(f)) ||
	    ((f->d.fflags & CKPT_FILEF_DELETED) && f->d.kind != CKPT_FD_FIFO &&
	     f->d.kind != CKPT_FD_DIR && f->d.kind != CKPT_FD_PATH) ||
	    ((f->d.fflags & (CKPT_FILEF_FIN_IN | CKPT_FILEF_FIN_OUT)) && f->d.kind != CKPT_FD_TCP) ||
	    ((f->d.fflags & (CKPT_FILEF_ACCEPTED | CKPT_FILEF_CONNECTED | CKPT_FILEF_SENDERS)) &&
	     f->d.kind != CKPT_FD_UNIX))
		return -1;
	return k->check ? k->check(f) : 0;
}

const char *fd_file_what(const struct img_file *f)
{
	const struct fd_kind_info *k = fd_kind(f->d.kind);

	if (f->what && f->what[0])
		return f->what;
	return k ? k->a : "a file of a kind this ckpt does not know";
}

const char *fd_policy_name(uint32_t policy)
{
	static const char *const names[] = {
		[CKPT_FPOL_EXACT] = "exact", [CKPT_FPOL_INHERIT] = "inherit",
		[CKPT_FPOL_LOST] = "lost", [CKPT_FPOL_OUTSIDE] = "outside",
	};

	return policy < ARRAY_SIZE(names) ? names[policy] : "unknown";
}
