/*
 * error.c - result codes, per-thread error messages, kv_free, byte buffers.
 *
 * kv_errmsg() is per thread so that the FUSE worker threads sharing one
 * kv_db never read each other's failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv_int.h"

static _Thread_local char errmsg[512];

const char *kv_errstr(int rc)
{
	switch (rc) {
	case KV_OK:           return "not an error";
	case KV_NOTFOUND:     return "not found";
	case KV_DONE:         return "no more entries";
	case KV_CONFLICT:     return "check failed";
	case KV_INVALID:      return "invalid argument";
	case KV_TOOBIG_KEY:   return "key too large";
	case KV_TOOBIG_VALUE: return "value too large";
	case KV_TOOBIG:       return "limit exceeded";
	case KV_TYPE:         return "not a KvU64 value";
	case KV_CORRUPT:      return "stored data cannot be decoded";
	case KV_NOTKV:        return "not a Deno KV database";
	case KV_BUSY:         return "database is locked";
	case KV_NOMEM:        return "out of memory";
	case KV_IOERR:        return "I/O error";
	case KV_MISUSE:       return "API misuse";
	case KV_READONLY:     return "database is read-only";
	case KV_FULL:         return "disk is full";
	}
	return "unknown error";
}

const char *kv_errmsg(kv_db *db)
{
	(void) db;
	return errmsg;
}

int kv__error(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

void kv__clear_error(void)
{
	errmsg[0] = '\0';
}

void kv_free(void *p)
{
	free(p);
}

int kv__buf_reserve(kv_buf *b, size_t extra)
{
	if (b->failed)
		return KV_NOMEM;
	if (b->len + extra <= b->cap)
		return KV_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		return kv__error(KV_NOMEM, "out of memory");
	}
	b->data = p;
	b->cap = cap;
	return KV_OK;
}

int kv__buf_put(kv_buf *b, const void *p, size_t n)
{
	if (kv__buf_reserve(b, n))
		return KV_NOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return KV_OK;
}

int kv__buf_putc(kv_buf *b, uint8_t c)
{
	return kv__buf_put(b, &c, 1);
}

int kv__buf_printf(kv_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[128];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return kv__error(KV_INVALID, "format error");
	if ((size_t) n < sizeof(small))
		return kv__buf_put(b, small, (size_t) n);
	if (kv__buf_reserve(b, (size_t) n + 1))
		return KV_NOMEM;
	va_start(ap, fmt);
	vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
	return KV_OK;
}

void kv__buf_free(kv_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
