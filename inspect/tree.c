/*
 * inspect of a process tree: who is whose parent, group and session, what
 * each shares with whom, for people (text) and scripts (JSON, the "tree"
 * key of docs/inspect-json.md).
 */
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "inspect/inspect.h"

/* Depth of task k below the root. */
static int depth(const struct img *img, uint32_t k)
{
	int d = 0;

	while (img->tasks[k].parent >= 0 && d < 64) {
		k = (uint32_t)img->tasks[k].parent;
		d++;
	}
	return d;
}

static uint64_t cow_pages(const struct img *img, const struct ckpt_task *t)
{
	uint64_t n = 0;

	if (t->proc < 0)
		return 0;
	for (uint32_t i = 0; i < img->procs[t->proc].ncow; i++)
		n += img->procs[t->proc].cow[i].npages;
	return n;
}

/* The command line of a live task, or the name of a zombie. */
static void print_command(FILE *f, const struct img *img, const struct ckpt_task *t)
{
	const struct img_proc *p;
	size_t len;

	if (t->proc < 0) {
		fprintf(f, "%.*s (zombie, exit status %#x)", (int)sizeof(t->comm), t->comm,
			(unsigned)t->exit_status);
		return;
	}
	p = &img->procs[t->proc];
	len = p->d.cmdline_len;
	while (len && !p->cmdline[len - 1])
		len--;
	for (size_t i = 0; i < len && i < 60; i++)
		fputc(p->cmdline[i] ? p->cmdline[i] : ' ', f);
	if (len > 60)
		fputs("...", f);
}

void insp_print_tree_text(const struct insp *in, FILE *f)
{
	const struct img *img = &in->img;

	if (img->ntasks < 2)
		return;
	fprintf(f, "\ntree      %u processes (%u live)\n", img->ntasks, img->h.nprocs);
	fprintf(f, "  %-16s %8s %8s %8s  %s\n", "PID", "PPID", "PGID", "SID", "COMMAND");
	for (uint32_t k = 0; k < img->ntasks; k++) {
		const struct ckpt_task *t = &img->tasks[k];
		int d = depth(img, k);
		uint64_t cow = cow_pages(img, t);

		fprintf(f, "  %*s%-*d %8d %8d %8d  ", 2 * d, "", 16 - 2 * d, t->pid, t->ppid, t->pgid,
			t->sid);
		print_command(f, img, t);
		fputc('\n', f);
		if (t->files_of >= 0)
			fprintf(f, "  %*s  shares the fd table of %d\n", 2 * d, "", img->tasks[t->files_of].pid);
		if (t->fs_of >= 0)
			fprintf(f, "  %*s  shares cwd, root and umask with %d\n", 2 * d, "",
				img->tasks[t->fs_of].pid);
		if (cow)
			fprintf(f, "  %*s  %llu pages shared copy-on-write with its parent\n", 2 * d, "",
				(unsigned long long)cow);
		if (t->flags & CKPT_TASK_SUBREAPER)
			fprintf(f, "  %*s  child subreaper\n", 2 * d, "");
	}
}

void insp_tree_json(struct json *j, const struct insp *in)
{
	const struct img *img = &in->img;

	json_array(j, "tree");
	for (uint32_t k = 0; k < img->ntasks; k++) {
		const struct ckpt_task *t = &img->tasks[k];

		json_object(j, NULL);
		json_i64(j, "pid", t->pid);
		json_i64(j, "ppid", t->ppid);
		json_i64(j, "pgid", t->pgid);
		json_i64(j, "sid", t->sid);
		if (t->parent >= 0)
			json_u64(j, "parent", (uint64_t)t->parent);
		else
			json_null(j, "parent");
		json_bool(j, "zombie", t->proc < 0);
		if (t->proc >= 0)
			json_u64(j, "process", (uint64_t)t->proc);
		else
			json_null(j, "process");
		if (t->proc < 0) {
			json_u64(j, "exit_status", (uint64_t)(uint32_t)t->exit_status);
			json_strn(j, "comm", t->comm, strnlen(t->comm, sizeof(t->comm)));
		}
		json_u64(j, "exit_signal", t->exit_signal);
		if (t->files_of >= 0)
			json_i64(j, "files_of", img->tasks[t->files_of].pid);
		else
			json_null(j, "files_of");
		if (t->fs_of >= 0)
			json_i64(j, "fs_of", img->tasks[t->fs_of].pid);
		else
			json_null(j, "fs_of");
		json_u64(j, "cow_pages", cow_pages(img, t));
		json_bool(j, "subreaper", !!(t->flags & CKPT_TASK_SUBREAPER));
		json_close(j);
	}
	json_close(j);
}
