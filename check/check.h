/* ckpt check: the probes (check/probes.c) and their results. */
#ifndef CKPT_CHECK_H
#define CKPT_CHECK_H

enum {
	PROBE_OK,
	PROBE_LIMITED,		/* works in part: the feature's "limited" line */
	PROBE_MISSING,
	PROBE_ERROR,		/* the probe itself failed: we do not know */
};

/* Passed from the probe child to ckpt through a pipe, as is. */
struct probe_result {
	int state;
	char note[200];		/* ok: what was found; else: why not */
};

/* Fill r; returns state, so that a probe can "return probe_set(...)". */
int probe_set(struct probe_result *r, int state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Each runs in a child of its own and may change that child at will;
 * each returns r->state. */
int probe_ptrace(struct probe_result *r);
int probe_vm_readv(struct probe_result *r);
int probe_mm_map(struct probe_result *r);
int probe_memfd_exec(struct probe_result *r);
int probe_set_tid(struct probe_result *r);
int probe_pagemap_scan(struct probe_result *r);
int probe_uffd_wp(struct probe_result *r);
int probe_uffd_fill(struct probe_result *r);
int probe_soft_dirty(struct probe_result *r);
int probe_vdso(struct probe_result *r);
int probe_yama(struct probe_result *r);
int probe_cap_sys_ptrace(struct probe_result *r);
int probe_cap_sys_admin(struct probe_result *r);
int probe_cap_checkpoint_restore(struct probe_result *r);
int probe_cap_sys_resource(struct probe_result *r);
int probe_tcp_repair(struct probe_result *r);
int probe_netlock(struct probe_result *r);

struct json;
/* Run every probe, one line each on stdout (with j, a "features" array
 * of objects in it instead): 0, or -1 after a message when dump or
 * restore cannot work here. */
int check_run(struct json *j);

#endif
