/*
 * key.c - Deno's key encoding (FoundationDB's tuple layer, six types).
 *
 * A key is the plain concatenation of its parts' encodings, so SQLite's
 * memcmp on the BLOB is the key order. Each part starts with a tag byte:
 *
 *   01 bytes, 02 UTF-8 string   body with every 00 written 00 FF, then 00
 *   0B..1D bigint               sign and magnitude length in the tag (1.3)
 *   21 number                   8 bytes, sign-flipped IEEE-754 (1.4)
 *   26 false, 27 true           no body
 *
 * Decoding is strict: every accepted byte string is exactly what encoding
 * its decoded parts gives back (minimal bigints, canonical NaN, valid
 * UTF-8). That makes encode/decode a bijection, so a key read from the
 * file, turned into a name and parsed back addresses the same row.
 */
#include <stdlib.h>
#include <string.h>
#include "kv_int.h"

#define TAG_BYTES     0x01
#define TAG_STRING    0x02
#define TAG_NEG_LONG  0x0B
#define TAG_ZERO      0x14
#define TAG_POS_LONG  0x1D
#define TAG_NUMBER    0x21
#define TAG_FALSE     0x26
#define TAG_TRUE      0x27

/* ---- UTF-8 ---- */

/*
 * Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0 when there is none.
 * *cp gets the code point.
 */
size_t kv__utf8_seq(const uint8_t *s, size_t len, uint32_t *cp)
{
	if (len == 0)
		return 0;
	uint8_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t n;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2; v = c & 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3; v = c & 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

int kv__utf8_valid(const void *data, size_t len)
{
	const uint8_t *s = data;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = kv__utf8_seq(s + i, len - i, &cp);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

/* ---- numbers ---- */

static uint64_t double_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bits_double(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static int is_nan_bits(uint64_t u)
{
	return (u & 0x7FF0000000000000ull) == 0x7FF0000000000000ull &&
	       (u & 0x000FFFFFFFFFFFFFull) != 0;
}

/* The 8 ordered bytes of a double, NaN canonicalised by its sign first. */
static uint64_t number_key(double d)
{
	uint64_t u = double_bits(d);
	if (is_nan_bits(u))
		u = (u & 0x8000000000000000ull) | 0x7FF8000000000000ull;
	if (u & 0x8000000000000000ull)
		return ~u;
	return u ^ 0x8000000000000000ull;
}

/* ---- encoding ---- */

int kv_part_encode(const kv_part *p, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = 0;

#define PUT(byte) do { if (n < cap) buf[n] = (uint8_t) (byte); n++; } while (0)

	*len = 0;
	switch (p->type) {
	case KV_PART_BYTES:
	case KV_PART_STRING:
		if (p->len && !p->data)
			return kv__error(KV_INVALID, "key part has no data");
		if (p->type == KV_PART_STRING && !kv__utf8_valid(p->data, p->len))
			return kv__error(KV_INVALID, "key string is not valid UTF-8");
		PUT(p->type == KV_PART_BYTES ? TAG_BYTES : TAG_STRING);
		for (size_t i = 0; i < p->len; i++) {
			PUT(p->data[i]);
			if (p->data[i] == 0x00)
				PUT(0xFF);
		}
		PUT(0x00);
		break;
	case KV_PART_BIGINT: {
		size_t m = p->len;
		if (m && !p->data)
			return kv__error(KV_INVALID, "key part has no data");
		if (m > 255)
			return kv__error(KV_INVALID,
				"BigUint requires more than 255 bytes to be represented");
		if (m && p->data[0] == 0)
			return kv__error(KV_INVALID, "bigint magnitude has a leading zero byte");
		if (m == 0) {
			/* -0n does not exist in JavaScript: a negative zero is zero */
			PUT(TAG_ZERO);
			break;
		}
		if (!p->negative) {
			if (m <= 8) {
				PUT(TAG_ZERO + m);
			} else {
				PUT(TAG_POS_LONG);
				PUT(m);
			}
			for (size_t i = 0; i < m; i++)
				PUT(p->data[i]);
		} else {
			/* one's complement makes larger magnitudes sort lower */
			if (m <= 8) {
				PUT(TAG_ZERO - m);
			} else {
				PUT(TAG_NEG_LONG);
				PUT(m ^ 0xFF);
			}
			for (size_t i = 0; i < m; i++)
				PUT(~p->data[i]);
		}
		break;
	}
	case KV_PART_NUMBER: {
		uint64_t k = number_key(p->number);
		PUT(TAG_NUMBER);
		for (int s = 56; s >= 0; s -= 8)
			PUT(k >> s);
		break;
	}
	case KV_PART_FALSE:
		PUT(TAG_FALSE);
		break;
	case KV_PART_TRUE:
		PUT(TAG_TRUE);
		break;
	default:
		return kv__error(KV_INVALID, "unknown key part type %d", p->type);
	}
#undef PUT
	*len = n;
	return KV_OK;
}

int kv_key_encode(const kv_part *parts, size_t n, uint8_t **key, size_t *key_len)
{
	size_t total = 0, len;
	int rc;

	*key = NULL;
	*key_len = 0;
	if (n && !parts)
		return kv__error(KV_INVALID, "key parts missing");
	for (size_t i = 0; i < n; i++) {
		if ((rc = kv_part_encode(&parts[i], NULL, 0, &len)) != KV_OK)
			return rc;
		total += len;
	}
	uint8_t *out = malloc(total ? total : 1);
	if (!out)
		return kv__error(KV_NOMEM, "out of memory");
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		kv_part_encode(&parts[i], out + pos, total - pos, &len);
		pos += len;
	}
	*key = out;
	*key_len = total;
	return KV_OK;
}

/* ---- decoding ---- */

/*
 * Check the part at k[pos..len) and measure it: *span encoded bytes, *body
 * decoded bytes (bytes/strings: unescaped length; bigints: magnitude).
 */
static int scan_part(const uint8_t *k, size_t len, size_t pos, size_t *span, size_t *body)
{
	if (pos >= len)
		return kv__error(KV_INVALID, "unexpected end of key");
	uint8_t tag = k[pos];
	size_t i = pos + 1;

	switch (tag) {
	case TAG_BYTES:
	case TAG_STRING: {
		size_t out = 0, seg = i;
		for (;;) {
			const uint8_t *z = i < len ? memchr(k + i, 0x00, len - i) : NULL;
			if (!z)
				return kv__error(KV_INVALID, "unterminated %s in key",
				                 tag == TAG_BYTES ? "bytes" : "string");
			size_t zi = (size_t) (z - k);
			out += zi - i;
			/*
			 * 00 is ASCII, so no multi-byte sequence spans an escape:
			 * checking each run between escapes checks the whole string.
			 */
			if (tag == TAG_STRING && !kv__utf8_valid(k + seg, zi - seg))
				return kv__error(KV_INVALID, "invalid utf8 in key string");
			if (zi + 1 < len && k[zi + 1] == 0xFF) {
				out++;
				i = seg = zi + 2;
				continue;
			}
			*span = zi + 1 - pos;
			*body = out;
			return KV_OK;
		}
	}
	case TAG_ZERO:
		*span = 1;
		*body = 0;
		return KV_OK;
	case TAG_NUMBER: {
		if (len - i < 8)
			return kv__error(KV_INVALID, "truncated number in key");
		uint64_t u = 0;
		for (int j = 0; j < 8; j++)
			u = u << 8 | k[i + j];
		u = (u & 0x8000000000000000ull) ? u ^ 0x8000000000000000ull : ~u;
		if (is_nan_bits(u) && (u & 0x7FFFFFFFFFFFFFFFull) != 0x7FF8000000000000ull)
			return kv__error(KV_INVALID, "non-canonical NaN in key");
		*span = 9;
		*body = 0;
		return KV_OK;
	}
	case TAG_FALSE:
	case TAG_TRUE:
		*span = 1;
		*body = 0;
		return KV_OK;
	}
	if (tag >= TAG_NEG_LONG && tag <= TAG_POS_LONG) {
		int neg = tag < TAG_ZERO;
		size_t m;
		if (tag == TAG_NEG_LONG || tag == TAG_POS_LONG) {
			if (i >= len)
				return kv__error(KV_INVALID, "truncated bigint in key");
			m = neg ? (size_t) (k[i] ^ 0xFF) : k[i];
			i++;
			if (m <= 8)
				return kv__error(KV_INVALID, "non-minimal bigint in key");
		} else {
			m = neg ? (size_t) (TAG_ZERO - tag) : (size_t) (tag - TAG_ZERO);
		}
		if (len - i < m)
			return kv__error(KV_INVALID, "truncated bigint in key");
		if (k[i] == (neg ? 0xFF : 0x00))
			return kv__error(KV_INVALID, "non-minimal bigint in key");
		*span = i + m - pos;
		*body = m;
		return KV_OK;
	}
	return kv__error(KV_INVALID, "invalid tag 0x%02x in key", tag);
}

int kv_part_span(const void *key, size_t key_len, size_t pos, size_t *part_len)
{
	size_t body;
	*part_len = 0;
	if (!key && key_len)
		return kv__error(KV_INVALID, "key missing");
	return scan_part(key, key_len, pos, part_len, &body);
}

int kv_key_under(const void *key, size_t key_len, const void *prefix, size_t prefix_len)
{
	const uint8_t *k = key;
	return key_len > prefix_len && (!prefix_len || memcmp(k, prefix, prefix_len) == 0) &&
	       k[prefix_len] != 0xFF;
}

/* Fill *p from the checked part at k[pos..pos+span), body bytes into out. */
static void fill_part(const uint8_t *k, size_t pos, size_t span, uint8_t *out, kv_part *p)
{
	uint8_t tag = k[pos];

	memset(p, 0, sizeof(*p));
	p->data = out;
	switch (tag) {
	case TAG_BYTES:
	case TAG_STRING: {
		size_t o = 0;
		p->type = tag == TAG_BYTES ? KV_PART_BYTES : KV_PART_STRING;
		/* the last byte is the terminator; escapes are 00 FF */
		for (size_t i = pos + 1; i < pos + span - 1; i++) {
			out[o++] = k[i];
			if (k[i] == 0x00)
				i++;
		}
		p->len = o;
		return;
	}
	case TAG_NUMBER: {
		uint64_t u = 0;
		for (int j = 1; j <= 8; j++)
			u = u << 8 | k[pos + j];
		u = (u & 0x8000000000000000ull) ? u ^ 0x8000000000000000ull : ~u;
		p->type = KV_PART_NUMBER;
		p->number = bits_double(u);
		p->data = NULL;
		return;
	}
	case TAG_FALSE:
		p->type = KV_PART_FALSE;
		p->data = NULL;
		return;
	case TAG_TRUE:
		p->type = KV_PART_TRUE;
		p->data = NULL;
		return;
	}
	/* bigint */
	size_t hdr = (tag == TAG_NEG_LONG || tag == TAG_POS_LONG) ? 2 : 1;
	p->type = KV_PART_BIGINT;
	p->negative = tag < TAG_ZERO;
	p->len = span - hdr;
	for (size_t j = 0; j < p->len; j++)
		out[j] = p->negative ? (uint8_t) ~k[pos + hdr + j] : k[pos + hdr + j];
}

int kv__part_decode(const void *part, size_t part_len, kv_part *p, uint8_t *out)
{
	size_t span, body;
	int rc;

	if (!part || !part_len)
		return kv__error(KV_INVALID, "expected one key part, got 0");
	if ((rc = scan_part(part, part_len, 0, &span, &body)) != KV_OK)
		return rc;
	if (span != part_len)
		return kv__error(KV_INVALID, "expected one key part");
	fill_part(part, 0, span, out, p);
	return KV_OK;
}

int kv_key_decode(const void *key, size_t key_len, kv_part **parts, size_t *n)
{
	const uint8_t *k = key;
	size_t count = 0, data = 0, span, body;
	int rc;

	*parts = NULL;
	*n = 0;
	if (!k && key_len)
		return kv__error(KV_INVALID, "key missing");
	for (size_t pos = 0; pos < key_len; pos += span) {
		if ((rc = scan_part(k, key_len, pos, &span, &body)) != KV_OK)
			return rc;
		count++;
		data += body;
	}
	size_t head = count * sizeof(kv_part);
	kv_part *ps = malloc(head + data + 1);
	if (!ps)
		return kv__error(KV_NOMEM, "out of memory");
	uint8_t *out = (uint8_t *) ps + head;
	size_t i = 0;
	for (size_t pos = 0; pos < key_len; pos += span, i++) {
		scan_part(k, key_len, pos, &span, &body);
		fill_part(k, pos, span, out, &ps[i]);
		out += ps[i].len;
	}
	*parts = ps;
	*n = count;
	return KV_OK;
}
