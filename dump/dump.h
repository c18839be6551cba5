/* ckpt dump: freeze a process, collect its state, write an image. */
#ifndef CKPT_DUMP_H
#define CKPT_DUMP_H

#include <sys/types.h>

#include "image/codec.h"
#include "image/image.h"
#include "ptrace/proc.h"
#include "ptrace/tracee.h"

struct dump_opts {
	const char *out;	/* image path or "-" */
	int kill;		/* kill the target once the image is safe */
	int stop;		/* leave it stopped (SIGSTOP) */
	int no_sync;		/* no fsync */
	struct codec_spec codec;	/* page data compression */
	int jobs;		/* compression threads */
	struct { uint64_t start, end; } *exclude;	/* --exclude ranges */
	int nexclude;
	char **exclude_maps;	/* --exclude-mapping names */
	int nexclude_maps;
};

int dump_run(pid_t pid, const struct dump_opts *o);

/* collect.c: state read from /proc and ptrace, no injection */
int dump_collect_proc(pid_t pid, struct img_proc *p, struct tracee_set *ts);
int dump_collect_threads(struct img_proc *p, struct tracee_set *ts);
/* remote.c: state only a syscall inside the target can read */
int dump_find_syscall_insn(struct tracee_set *ts, const struct map_entry *maps, size_t n);
int dump_collect_remote(struct img_proc *p, struct tracee_set *ts);
/* vmas.c */
int dump_collect_vmas(pid_t pid, struct img_proc *p, const struct map_entry *maps, size_t n,
		      const struct dump_opts *o);
/* files.c */
int dump_collect_fds(pid_t pid, struct img_proc *p);
/* pages.c: which pages to save (pagemap), then stream them into w */
struct page_run {
	uint64_t addr;
	uint64_t npages;
};
struct vma_pages {
	struct page_run *runs;
	size_t nruns;
};
int dump_plan_pages(pid_t pid, struct img_proc *p, struct vma_pages **out,
		    const struct dump_opts *o);
void dump_free_pages(struct vma_pages *vp, uint32_t n);
/* pagewrite.c: read, compress (jobs threads) and write them */
int dump_write_pages(pid_t pid, uint32_t proc_idx, const struct img_proc *p,
		     const struct vma_pages *vp, struct img_writer *w,
		     const struct codec_spec *codec, int jobs);

#endif
