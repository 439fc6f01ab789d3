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

/* ---- keys and numbers (key.c, number.c) ---- */

/*
 * Length of the well-formed UTF-8 sequence starting at s (no overlongs,
 * surrogates or code points above U+10FFFF), 0 when there is none; *cp
 * gets the code point. kv__utf8_valid: 1 when all of data is well-formed.
 */
size_t kv__utf8_seq(const uint8_t *s, size_t len, uint32_t *cp);
int kv__utf8_valid(const void *data, size_t len);

/*
 * JavaScript's String(n) for a double: shortest round-trip digits, decimal
 * for 1e-7 <= |n| < 1e21, exponent form otherwise ("1e+21", "1.5e-7").
 * -0 prints "0" as in JavaScript; NaN and the infinities print "NaN",
 * "Infinity", "-Infinity". Returns the text length.
 */
int kv__format_double(double d, char out[32]);

/*
 * Parse a JavaScript-style decimal number: optional '-', digits with an
 * optional fraction, optional exponent; also "NaN", "Infinity",
 * "-Infinity". Correctly rounded. KV_INVALID otherwise (see number.c for
 * the exact spellings accepted).
 */
int kv__parse_decimal_number(const char *s, size_t len, double *out);

/*
 * Arbitrary-size integers as text. Magnitudes are big-endian without a
 * leading zero byte (empty for 0). to_decimal appends "-123" style text
 * (no 'n'); from_decimal accepts an optional '-' and digits, appends the
 * minimal magnitude to be_magnitude and sets *negative (0 for "-0").
 */
int kv__bigint_to_decimal(const uint8_t *be_magnitude, size_t len, int negative, kv_buf *out);
int kv__bigint_from_decimal(const char *s, size_t len, kv_buf *be_magnitude, int *negative);

#endif /* KV_INT_H */
