/*
 * kv_int.h - private declarations shared by the engine's modules.
 *
 * Nothing here is visible outside engine/. Each module keeps its own
 * section; shared helpers (errors, base64, buffers) come first.
 */
#ifndef KV_INT_H
#define KV_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include "kv.h"

/* ---- errors (error.c) ---- */

/*
 * Record `fmt` as the calling thread's kv_errmsg() and return rc, so a
 * failure reads: return kv__error(KV_INVALID, "bad tag 0x%02x", tag);
 */
int kv__error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear the thread's message (start of a public call that can fail). */
void kv__clear_error(void);

/* ---- growable byte buffer (error.c) ---- */

typedef struct kv_buf {
	uint8_t *data;
	size_t len, cap;
	int failed;           /* an allocation failed; contents are unusable */
} kv_buf;

int kv__buf_reserve(kv_buf *b, size_t extra);           /* KV_OK or KV_NOMEM */
int kv__buf_put(kv_buf *b, const void *p, size_t n);     /* append bytes */
int kv__buf_putc(kv_buf *b, uint8_t c);
int kv__buf_printf(kv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kv__buf_free(kv_buf *b);

/* ---- base64 (base64.c) ---- */

/* Standard alphabet with padding ($bytes). Appends to b. */
int kv__base64_encode(kv_buf *b, const void *data, size_t len);
/* URL-safe alphabet with padding (list cursors). */
int kv__base64url_encode(kv_buf *b, const void *data, size_t len);
/* Decode either alphabet, padding optional; KV_INVALID on bad input. */
int kv__base64_decode(kv_buf *b, const char *text, size_t len);

#endif /* KV_INT_H */
