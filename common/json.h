/*
 * Writing JSON by hand, indented, one value a line: an emitter that
 * tracks nesting and commas, and escapes strings (RFC 8259 section 7).
 * Every function takes the member's key, or NULL inside an array.
 */
#ifndef CKPT_JSON_H
#define CKPT_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH	16

struct json {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH];	/* members written at each level */
	char close[JSON_MAX_DEPTH];	/* '}' or ']' to end each level */
	int compact;			/* all on one line */
};

void json_begin(struct json *j, FILE *f);	/* the top-level object */
void json_begin_line(struct json *j, FILE *f);	/* the same, all on one line (JSON Lines) */
void json_end(struct json *j);
void json_object(struct json *j, const char *key);
void json_array(struct json *j, const char *key);
void json_close(struct json *j);	/* the innermost object or array */

/* s NULL: null.  Invalid UTF-8 bytes become U+FFFD. */
void json_str(struct json *j, const char *key, const char *s);
void json_strn(struct json *j, const char *key, const char *s, size_t len);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_hex(struct json *j, const char *key, uint64_t v);	/* "0x1f": exact in any reader */
void json_double(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);

#endif
