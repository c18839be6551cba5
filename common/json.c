/* Writing JSON (json.h). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "common/json.h"

static void put_string(struct json *j, const char *s, size_t len);

/* Comma, newline and indent before a value, then its key. */
static void member(struct json *j, const char *key)
{
	if (j->count[j->depth]++)
		fputc(',', j->f);
	if (j->depth && !j->compact)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	if (key) {
		put_string(j, key, strlen(key));
		fputs(j->compact ? ":" : ": ", j->f);
	}
}

static void open_level(struct json *j, const char *key, char open, char close)
{
	member(j, key);
	fputc(open, j->f);
	/* Past the limit is a bug in the caller: stay valid, if flatter. */
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->count[j->depth] = 0;
	j->close[j->depth] = close;
}

void json_begin(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	open_level(j, NULL, '{', '}');
}

void json_begin_line(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->compact = 1;
	open_level(j, NULL, '{', '}');
}

void json_end(struct json *j)
{
	while (j->depth)
		json_close(j);
	fputc('\n', j->f);
}

void json_object(struct json *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void json_array(struct json *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void json_close(struct json *j)
{
	if (!j->depth)
		return;
	if (j->count[j->depth] && !j->compact)
		fprintf(j->f, "\n%*s", 2 * (j->depth - 1), "");
	fputc(j->close[j->depth], j->f);
	j->depth--;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 section 4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || (c >= 0xd800 && c <= 0xdfff) ||
	    c > 0x10ffff)
		return 0;
	return n;
}

static void put_string(struct json *j, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', j->f);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);

		if (p[i] == '"' || p[i] == '\\')
			fprintf(j->f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", j->f);
		else if (p[i] == '\t')
			fputs("\\t", j->f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(j->f, "\\u%04x", p[i]);
		else if (n)
			fwrite(p + i, 1, n, j->f);
		else
			fputs("\\ufffd", j->f);
		i += n ? n : 1;
	}
	fputc('"', j->f);
}

void json_strn(struct json *j, const char *key, const char *s, size_t len)
{
	member(j, key);
	put_string(j, s, len);
}

void json_str(struct json *j, const char *key, const char *s)
{
	if (s)
		json_strn(j, key, s, strlen(s));
	else
		json_null(j, key);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_hex(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "\"0x%" PRIx64 "\"", v);
}

void json_double(struct json *j, const char *key, double v)
{
	member(j, key);
	/* JSON has no NaN or infinity. */
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, int v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}
