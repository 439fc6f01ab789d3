/*
 * base64.c - RFC 4648 base64: the standard alphabet for {"$bytes"} and the
 * URL-safe one for list cursors (both with '=' padding, as Deno writes).
 */
#include <string.h>
#include "kv_int.h"

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int encode(kv_buf *b, const void *data, size_t len, const char *abc)
{
	const uint8_t *p = data;

	if (kv__buf_reserve(b, (len + 2) / 3 * 4))
		return KV_NOMEM;
	char *o = (char *) b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
		*o++ = abc[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t) p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t) p[i + 1] << 8;
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = i + 1 < len ? abc[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	b->len = (size_t) (o - (char *) b->data);
	return KV_OK;
}

int kv__base64_encode(kv_buf *b, const void *data, size_t len)
{
	return encode(b, data, len, std_alphabet);
}

int kv__base64url_encode(kv_buf *b, const void *data, size_t len)
{
	return encode(b, data, len, url_alphabet);
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

int kv__base64_decode(kv_buf *b, const char *text, size_t len)
{
	while (len > 0 && text[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return kv__error(KV_INVALID, "invalid base64");
	if (kv__buf_reserve(b, len / 4 * 3 + 3))
		return KV_NOMEM;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int s = sextet(text[i]);
		if (s < 0)
			return kv__error(KV_INVALID, "invalid base64");
		acc = acc << 6 | (uint32_t) s;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b->data[b->len++] = (uint8_t) (acc >> bits);
		}
	}
	/* leftover bits must be zero, as in canonical base64 */
	if (bits && (acc & ((1u << bits) - 1)))
		return kv__error(KV_INVALID, "invalid base64");
	return KV_OK;
}
