/*
 * ckpt inspect: the summary it builds from an image, shared by its
 * pieces: inspect.c (reading, one pass), sym.c (ELF symbols),
 * code.c (code around each PC), text.c and
 * json.c (the two outputs).
 */
#ifndef CKPT_INSPECT_H
#define CKPT_INSPECT_H

#include <stdint.h>
#include <stdio.h>

#include "image/check.h"

/* The function an address is in, from its mapped file's symbol table. */
struct insp_sym {
	char *name;		/* NULL: none found */
	uint64_t start;		/* its address in the process */
	uint64_t size;		/* 0: unknown */
	int file_changed;	/* the file now differs from the one at dump */
};

struct insp_insn {
	uint64_t addr;
	uint16_t len;
	uint8_t bytes[16];
	char text[192];		/* "mnemonic operands" */
};

/* Code bytes [lo, hi) around a PC, and what they disassemble to. */
struct insp_code {
	uint64_t lo, hi;
	uint8_t *bytes;
	uint8_t *state;		/* per byte: CODE_* */
	struct insp_insn *insns;
	unsigned ninsns;
	const char *why;	/* no instructions: the reason */
};

enum { CODE_UNSEEN, CODE_IMAGE, CODE_UNDECODED, CODE_PARENT, CODE_FILE, CODE_ZERO };

struct insp_thread {
	const struct img_thread *t;
	uint64_t pc, sp;
	long syscall;		/* number, or -1 when not in one */
	const struct img_vma *vma;	/* containing pc, or NULL */
	struct insp_sym sym;
	struct insp_code code;
};

struct insp_proc {
	const struct img_proc *p;
	struct insp_thread *threads;	/* p->d.nthreads */
	uint64_t *stored;		/* per mapping: pages in PAGES sections */
	struct insp_sym *handlers;	/* per signal 1..64: handler symbol */
};

struct inspect_opts {
	int json;		/* JSON (docs/inspect-json.md), else text */
	int symbols;		/* look symbols up in the files the image names */
};

struct insp {
	const char *path;
	struct inspect_opts opts;
	struct img img;
	struct img_stats st;
	uint64_t image_bytes;		/* bytes read, END included */
	struct insp_proc *procs;	/* img.h.nprocs */
};

/* Print the report of the image at path ("-": stdin) on stdout: 0, or
 * -errno after a message. */
int inspect_run(const char *path, const struct inspect_opts *o);

/* sym.c: the function containing addr, mapped by v. */
void insp_symbol(const struct img_vma *v, uint64_t addr, struct insp_sym *out);

/* code.c */
void insp_code_want(struct insp_thread *th);
void insp_code_pages(struct insp_thread *th, const struct ckpt_pages *pg, const uint8_t *raw,
		     uint64_t page_size);
void insp_code_finish(struct insp_thread *th);
void insp_code_free(struct insp_code *c);

/* text.c, json.c */
void insp_print_text(const struct insp *in, FILE *f);
void insp_print_json(const struct insp *in, FILE *f);

/*
 * A file an image names (a mapping's path), opened for reading only if it
 * is a regular file, else -1: the image may name a FIFO, whose open would
 * block inspect for good, or a device, whose open may do something.
 */
int insp_open_file(const char *path);

/* tree.c: a tree's tasks (nothing for one process) */
struct json;
void insp_print_tree_text(const struct insp *in, FILE *f);
void insp_tree_json(struct json *j, const struct insp *in);

/* Shared wording. */
const char *insp_signal_name(int sig);
/* f is a file only mapped (CKPT_FILEF_MAPPED) that one of p's mappings maps. */
int insp_maps_only(const struct img_proc *p, const struct img_file *f);
void insp_vma_flags(const struct img_vma *v, char *buf, size_t len);
/* "r-xp" as in /proc/PID/maps. */
void insp_vma_perm(const struct img_vma *v, char perm[5]);
/* The k-th other process of the image (from 0) holding open file id, and
 * its lowest fd of it: 0, or -1 when there are no more. */
int insp_file_sharer(const struct img *img, const struct img_proc *self, uint32_t id, uint32_t k,
		     int32_t *pid, int *fd);

#endif
