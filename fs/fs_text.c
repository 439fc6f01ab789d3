/*
 * fs_text.c - the text of an open file: the value it shows, or the bytes
 * being written to it, and the checks that turn those bytes into a value.
 *
 * The key tree (fs_ops.c) and transactions (fs_tx.c) keep one struct
 * fs_text per file handle and differ only in what a flush does with the
 * value: one kv_set, or one mutation staged in a transaction.
 *
 * A write is refused as soon as the text up to its end can no longer
 * begin a valid value (EINVAL, so that `echo hello > key` fails at
 * write() in bash, which ignores close's errors), or once it is certainly
 * over Deno's value limit (EFBIG). Writes that go on where the last one
 * ended feed only their bytes to the incremental JSON check; any other
 * write starts it again from the first byte. A write that ends a whole
 * document has it judged as the flush would (`$` tags, the value's size),
 * so `echo '{"$bigInt":"5"}' > key` fails at write() too; the flush then
 * takes that value as it is. A refused text is never stored: every later
 * write and the flush fail the same way, so that a program going on after
 * a refusal cannot store a mix of what it meant and what it fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "fs.h"

/*
 * The longest text a file takes, so that a handle's memory stays bounded.
 * kvfs prints a value Deno stores in 64 KiB in at most about 20 times that
 * (`{"$undefined":true},` for each one-byte element of an array), and a
 * pretty-printed copy may take more: 32 times leaves room for both.
 */
#define MAX_TEXT (32 * (size_t) KV_MAX_VALUE)

int fs_value_text(int enc, const uint8_t *value, size_t value_len, char **text, size_t *len)
{
	char *json = NULL;
	size_t n = 0;
	int rc = kv_value_to_json(enc, value, value_len, 0, &json, &n);

	if (rc != KV_OK)
		return fs_errno(rc);
	*text = malloc(n + 2);
	if (!*text) {
		kv_free(json);
		return ENOMEM;
	}
	memcpy(*text, json, n);
	(*text)[n] = '\n';
	(*text)[n + 1] = '\0';
	*len = n + 1;
	kv_free(json);
	return 0;
}

/* How many of the first n bytes of p are JSON whitespace. */
static size_t spaces(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

/* The value judged at write() no longer holds for the text. */
static void forget_parsed(struct fs_text *t)
{
	kv_free(t->parsed);
	t->parsed = NULL;
	t->parsed_len = t->parsed_at = 0;
}

void fs_text_free(struct fs_text *t)
{
	kv_json_check_free(t->check);
	kv_free(t->parsed);
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

size_t fs_text_read(const struct fs_text *t, size_t size, off_t off, const char **p)
{
	size_t n = 0;

	if (off >= 0 && (size_t) off < t->len)
		n = t->len - (size_t) off < size ? t->len - (size_t) off : size;
	*p = n ? t->buf + off : NULL;
	return n;
}

static int reserve(struct fs_text *t, size_t n)
{
	if (n <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 256;
	while (cap < n)
		cap *= 2;
	char *b = realloc(t->buf, cap);
	if (!b)
		return ENOMEM;
	t->buf = b;
	t->cap = cap;
	return 0;
}

static int too_large(struct fs_text *t)
{
	snprintf(t->why, sizeof(t->why), "Value too large (max %d bytes)", KV_MAX_VALUE);
	return EFBIG;
}

static int too_long(struct fs_text *t)
{
	snprintf(t->why, sizeof(t->why), "text too long (max %zu bytes of JSON)", MAX_TEXT);
	return EFBIG;
}

/*
 * After a write of the bytes [off, end): can the text up to `end` still
 * begin a value? Only that much is judged: bytes beyond it are older text
 * a program rewriting in place (write from 0, then ftruncate) is about to
 * cut; the flush judges the whole.
 */
static int check(struct fs_text *t, off_t off, size_t end)
{
	if (!t->check || (size_t) off != t->fed) {
		kv_json_check_free(t->check);
		t->check = NULL;
		t->fed = 0;
		t->measured = 0;
		if (kv_json_check_new(&t->check) != KV_OK)
			return ENOMEM;
	}
	if (kv_json_check_feed(t->check, t->buf + t->fed, end - t->fed) != KV_OK) {
		t->fed = end;
		snprintf(t->why, sizeof(t->why), "%s", kv_errmsg(NULL));
		return EINVAL;
	}
	t->fed = end;
	if (end > MAX_TEXT)
		return too_long(t);
	/*
	 * A whole object or array is judged as the flush would judge it, for
	 * its `$` tags and its size, and so is a whole string: its stored size
	 * is not its text's (one character past Latin-1 makes every character
	 * two bytes). Other documents are a few bytes stored, and a number may
	 * still grow (judging each digit of one written a digit at a time
	 * would cost square time).
	 */
	size_t lead = spaces(t->buf, end);
	if (lead < end && (t->buf[lead] == '{' || t->buf[lead] == '[' || t->buf[lead] == '"') &&
	    kv_json_check_finish(t->check) == KV_OK) {
		/* only spaces after the document judged last: still that value */
		if (t->parsed && (size_t) off == t->parsed_at &&
		    spaces(t->buf + off, end - (size_t) off) == end - (size_t) off) {
			t->parsed_at = end;
			return 0;
		}
		forget_parsed(t);
		int err = fs_value_parse(t->buf, end, &t->parsed_enc, &t->parsed,
		                         &t->parsed_len, t->why, sizeof(t->why));
		if (err == EFBIG || (!err && t->parsed_len > KV_MAX_VALUE)) {
			forget_parsed(t);
			return too_large(t);
		}
		if (err)
			return err;
		t->parsed_at = end;
		return 0;
	}
	/*
	 * Long enough to matter: measure the value the unfinished text makes
	 * so far. Measuring reads the whole text, so it is done only once the
	 * text grew a quarter since the last time: a value written in small
	 * pieces costs linear time, not square.
	 */
	if (end > KV_MAX_VALUE && end >= t->measured + t->measured / 4) {
		int enc;
		uint8_t *v = NULL;
		size_t vlen = 0;
		int rc = kv_value_from_json(t->buf, end, &enc, &v, &vlen);
		kv_free(v);
		t->measured = end;
		if (rc == KV_TOOBIG_VALUE || (rc == KV_OK && vlen > KV_MAX_VALUE))
			return too_large(t);
	}
	return 0;
}

int fs_text_write(struct fs_text *t, const char *buf, size_t size, off_t off, int append)
{
	int err;

	if (t->failed)
		return t->failed;
	if (append)
		off = (off_t) t->len;
	size_t end = (size_t) off + size;
	if (!t->parsed || (size_t) off != t->parsed_at)
		forget_parsed(t);
	if (end > MAX_TEXT + 1) {
		err = too_long(t);
	} else if (!(err = reserve(t, end))) {
		if ((size_t) off > t->len)
			memset(t->buf + t->len, ' ', (size_t) off - t->len);
		memcpy(t->buf + off, buf, size);
		if (end > t->len)
			t->len = end;
		t->written = 1;
		err = check(t, off, end);
	}
	if (err == EINVAL || err == EFBIG)
		fs_text_refuse(t, err);
	return err;
}

void fs_text_refuse(struct fs_text *t, int err)
{
	t->failed = err;
	t->written = 1;
}

int fs_text_judged(const struct fs_text *t, size_t *value_len)
{
	if (t->failed || !t->parsed || t->parsed_at != t->len)
		return 0;
	*value_len = t->parsed_len;
	return 1;
}

int fs_text_truncate(struct fs_text *t, size_t len)
{
	if (len > MAX_TEXT)
		return EFBIG;       /* refused, the text as it was */
	int err = reserve(t, len);

	if (err)
		return err;
	/* only spaces added: the value stays what it was, nothing to store for it */
	if (len < t->len)
		t->written = 1;
	else if (len > t->len)
		memset(t->buf + t->len, ' ', len - t->len);
	t->len = len;
	forget_parsed(t);
	/* restart the content check at the next write */
	kv_json_check_free(t->check);
	t->check = NULL;
	t->fed = 0;
	t->measured = 0;
	return 0;
}

int fs_text_flush(struct fs_text *t, int *enc, uint8_t **value, size_t *value_len,
                  char *why, size_t why_size)
{
	*value = NULL;
	*value_len = 0;
	why[0] = '\0';
	if (!t->written)
		return 0;
	t->written = 0;
	if (t->failed)
		return t->failed;   /* write() said why */
	if (spaces(t->buf, t->len) == t->len) {
		snprintf(why, why_size, "empty file");
		return EINVAL;
	}
	if (t->parsed && t->parsed_at == t->len) {
		*enc = t->parsed_enc;
		*value = t->parsed;
		*value_len = t->parsed_len;
		t->parsed = NULL;
		forget_parsed(t);
		return 0;
	}
	return fs_value_parse(t->buf, t->len, enc, value, value_len, why, why_size);
}

int fs_value_parse(const char *text, size_t len, int *enc, uint8_t **value,
                   size_t *value_len, char *why, size_t why_size)
{
	int rc = kv_value_from_json(text, len, enc, value, value_len);
	if (rc != KV_OK) {
		const char *msg = kv_errmsg(NULL);
		const char *kind = rc == KV_TOOBIG_VALUE ? "value too large" : "invalid JSON";
		int told = strncasecmp(msg, kind, strlen(kind)) == 0;   /* the message names it */
		snprintf(why, why_size, "%s%s%s", told ? "" : kind,
		         told || !*msg ? "" : ": ", msg);
		*value = NULL;
		return rc == KV_TOOBIG_VALUE ? EFBIG : rc == KV_NOMEM ? ENOMEM : EINVAL;
	}
	return 0;
}
