/*
 * What the image layer knows of each kind of open file (format.h,
 * CKPT_FD_*): its name, the layout of its state (checked when an image is
 * read: images are untrusted), and how inspect shows that state.  Dump
 * and restore keep their own tables of hooks (dump/fd.h, restore/fd.h);
 * a new kind is a row in each of the three.
 */
#ifndef CKPT_IMAGE_FDKIND_H
#define CKPT_IMAGE_FDKIND_H

#include <stddef.h>
#include <stdint.h>

#include "image/model.h"

struct json;

struct fd_kind_info {
	uint32_t kind;
	const char *name;	/* one word, for inspect: "pipe", "eventfd" */
	const char *a;		/* "a pipe", for messages when what is empty */
	uint32_t state_size;	/* its fixed struct; 0: no state */
	/* The arrays after the fixed struct fit state_len exactly: 0 or -1. */
	int (*check)(const struct img_file *f);
	/* inspect: the state in words, and as JSON members of "state" */
	void (*text)(const struct img_file *f, char *buf, size_t len);
	void (*json)(const struct img_file *f, struct json *j);
};

/* NULL for a kind this ckpt does not know (a newer ckpt wrote it). */
const struct fd_kind_info *fd_kind(uint32_t kind);
const char *fd_kind_name(uint32_t kind);
/* Whether this ckpt can make files of the kind (restore refuses others). */
int fd_kind_restorable(uint32_t kind);
/* The reader's check of a file's state against its kind: 0 or -1. */
int fd_kind_check(const struct img_file *f);
/* The fixed struct of the state, copied out (payloads are unaligned). */
void fd_state(const struct img_file *f, void *out, size_t size);
/* What the file is, in words: its what, else "a pipe" from the kind. */
const char *fd_file_what(const struct img_file *f);
/* A unix socket's name and its peer's, for people ("@abstract", "" if
 * none), each in size bytes. */
void fd_unix_names(const struct img_file *f, char *name, char *peer, size_t size);
/* The CKPT_FILEF_FIN_* bits a TCP connection in state (tcpi_state,
 * include/net/tcp_states.h) carries, or ~0u for a state ckpt does not
 * restore (SYN_SENT, SYN_RECV, TIME_WAIT, CLOSE, LISTEN). */
uint32_t fd_tcp_fins(uint32_t state);
/* The TCP file of img at the other end of TCP file f (restored exactly
 * too), or NULL: the peer is outside the image. */
const struct img_file *fd_tcp_peer(const struct img *img, const struct img_file *f);
/* 1 if f is a TCP listener restore makes again (its state into *s), else
 * 0: what the network lock holds (dump/fd-tcp.c) and unlocks (restore). */
int fd_tcp_listener(const struct img_file *f, struct ckpt_fd_inet *s);
/* "CLOSE_WAIT" */
const char *fd_tcp_state_name(uint32_t state);
/* "127.0.0.1:80", "[::1]:80" */
void fd_inet_addr(uint32_t family, const uint8_t *a, uint16_t port, char *buf, size_t len);
/* A PROC file's path after "/proc/PID": 0 when restore may open it again
 * as "/proc/self" + rest: "", or one or two components (no "." or "..",
 * no NUL), the first not a link out of /proc (root, cwd, exe) nor a
 * directory of links (fd, map_files) when a second follows, nor task. */
int fd_proc_rest(const char *rest);
/* "exact", "inherit", "lost", "outside" */
const char *fd_policy_name(uint32_t policy);

#endif
