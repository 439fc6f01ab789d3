/*
 * test_key.c - Deno's key encoding: the reference byte vectors, the verified
 * order, malformed input, and random round trips against an independent
 * comparison.
 */
#include <math.h>
#include <stdint.h>
#include "test.h"
#include "kv_int.h"

/* ---- helpers ---- */

static kv_part str_part(const char *s, size_t len)
{
	kv_part p = { KV_PART_STRING, (const uint8_t *) s, len, 0, 0 };
	return p;
}

static kv_part bytes_part(const uint8_t *b, size_t len)
{
	kv_part p = { KV_PART_BYTES, b, len, 0, 0 };
	return p;
}

static kv_part num_part(double d)
{
	kv_part p = { KV_PART_NUMBER, NULL, 0, 0, d };
	return p;
}

static kv_part big_part(const uint8_t *mag, size_t len, int neg)
{
	kv_part p = { KV_PART_BIGINT, mag, len, neg, 0 };
	return p;
}

static kv_part bool_part(int b)
{
	kv_part p = { b ? KV_PART_TRUE : KV_PART_FALSE, NULL, 0, 0, 0 };
	return p;
}

static double num_from_bits(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t bits_of(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

/* Parts equal as Deno sees them (NaN by sign, -0 distinct from 0). */
static int part_equal(const kv_part *a, const kv_part *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case KV_PART_BYTES:
	case KV_PART_STRING:
		return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
	case KV_PART_BIGINT:
		if (a->len == 0)
			return b->len == 0;
		return a->len == b->len && a->negative == b->negative &&
		       memcmp(a->data, b->data, a->len) == 0;
	case KV_PART_NUMBER:
		if (isnan(a->number))
			return isnan(b->number) && !signbit(a->number) == !signbit(b->number);
		return bits_of(a->number) == bits_of(b->number);
	}
	return 1;
}

/* ---- reference vectors, 1.1-1.4 ---- */

struct vec {
	kv_part part;
	const char *hex;
};

static const uint8_t b12078[] = { 1, 2, 0, 7, 8 };
static const uint8_t bff00[] = { 255, 0 };
static const uint8_t m1[] = { 1 }, mff[] = { 0xFF }, m100[] = { 1, 0 }, m101[] = { 1, 1 };
static const uint8_t m63[] = { 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
static const uint8_t m64m1[] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
static const uint8_t m64[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t m64p1[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t m100b[] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

static void test_key__reference_vectors(void)
{
	const struct vec vecs[] = {
		{ bytes_part(b12078, 5), "01 01 02 00 FF 07 08 00" },
		{ str_part("hello", 5), "02 68 65 6C 6C 6F 00" },
		{ str_part("a\0b", 3), "02 61 00 FF 62 00" },
		{ str_part("", 0), "02 00" },
		{ bytes_part(NULL, 0), "01 00" },
		{ bytes_part(bff00, 2), "01 FF 00 FF 00" },
		{ big_part(NULL, 0, 0), "14" },
		{ big_part(m1, 1, 0), "15 01" },
		{ big_part(mff, 1, 0), "15 FF" },
		{ big_part(m100, 2, 0), "16 01 00" },
		{ big_part(m63, 8, 0), "1C 7F FF FF FF FF FF FF FF" },
		{ big_part(m64m1, 8, 0), "1C FF FF FF FF FF FF FF FF" },
		{ big_part(m64, 9, 0), "1D 09 01 00 00 00 00 00 00 00 00" },
		{ big_part(m100b, 13, 0), "1D 0D 10 00 00 00 00 00 00 00 00 00 00 00 00" },
		{ big_part(m1, 1, 1), "13 FE" },
		{ big_part(mff, 1, 1), "13 00" },
		{ big_part(m100, 2, 1), "12 FE FF" },
		{ big_part(m101, 2, 1), "12 FE FE" },
		{ big_part(m64m1, 8, 1), "0C 00 00 00 00 00 00 00 00" },
		{ big_part(m64, 9, 1), "0B F6 FE FF FF FF FF FF FF FF FF" },
		{ big_part(m64p1, 9, 1), "0B F6 FE FF FF FF FF FF FF FF FE" },
		{ big_part(m100b, 13, 1), "0B F2 EF FF FF FF FF FF FF FF FF FF FF FF FF" },
		{ num_part(0.0), "21 80 00 00 00 00 00 00 00" },
		{ num_part(-0.0), "21 7F FF FF FF FF FF FF FF" },
		{ num_part(1), "21 BF F0 00 00 00 00 00 00" },
		{ num_part(-1), "21 40 0F FF FF FF FF FF FF" },
		{ num_part(1.5), "21 BF F8 00 00 00 00 00 00" },
		{ num_part(-1.5), "21 40 07 FF FF FF FF FF FF" },
		{ num_part(5e-324), "21 80 00 00 00 00 00 00 01" },
		{ num_part(9007199254740991.0), "21 C3 3F FF FF FF FF FF FF" },
		{ num_part(INFINITY), "21 FF F0 00 00 00 00 00 00" },
		{ num_part(-INFINITY), "21 00 0F FF FF FF FF FF FF" },
		{ num_part(NAN), "21 FF F8 00 00 00 00 00 00" },
		{ num_part(-NAN), "21 00 07 FF FF FF FF FF FF" },
		{ bool_part(0), "26" },
		{ bool_part(1), "27" },
	};
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		uint8_t want[64], got[64];
		size_t wlen = unhex(vecs[i].hex, want), glen;

		/* encode, also into a too-small buffer (snprintf-like) */
		CHECK_RC(kv_part_encode(&vecs[i].part, got, sizeof(got), &glen), KV_OK);
		CHECK_MEM(got, glen, want, wlen);
		memset(got, 0xAA, sizeof(got));
		CHECK_RC(kv_part_encode(&vecs[i].part, got, 1, &glen), KV_OK);
		CHECK(glen == wlen);
		CHECK(got[0] == want[0] && got[1] == 0xAA);

		/* decode */
		kv_part *ps;
		size_t n, span;
		CHECK_RC(kv_key_decode(want, wlen, &ps, &n), KV_OK);
		CHECK(n == 1);
		if (n == 1 && !part_equal(&ps[0], &vecs[i].part))
			printf("# vector %zu (%s) decodes differently\n", i, vecs[i].hex), test_cur_failed = 1;
		kv_free(ps);
		CHECK_RC(kv_part_span(want, wlen, 0, &span), KV_OK);
		CHECK(span == wlen);
	}
}

/* Payload-carrying NaNs are canonicalised by sign. */
static void test_key__nan_payloads_canonicalised(void)
{
	uint8_t got[16], want[16];
	size_t glen, wlen;
	kv_part p = num_part(num_from_bits(0x7FF0000000000001ull));
	CHECK_RC(kv_part_encode(&p, got, sizeof(got), &glen), KV_OK);
	wlen = unhex("21 FF F8 00 00 00 00 00 00", want);
	CHECK_MEM(got, glen, want, wlen);
	p = num_part(num_from_bits(0xFFFFFFFFFFFFFFFFull));
	CHECK_RC(kv_part_encode(&p, got, sizeof(got), &glen), KV_OK);
	wlen = unhex("21 00 07 FF FF FF FF FF FF", want);
	CHECK_MEM(got, glen, want, wlen);
}

static void test_key__multi_part_key(void)
{
	kv_part ps[] = { str_part("users", 5), str_part("alice", 5), num_part(1), bool_part(1) };
	uint8_t *k;
	size_t klen, n, pos = 0, span, spans = 0;
	uint8_t want[64];
	size_t wlen = unhex("02 75 73 65 72 73 00 02 61 6C 69 63 65 00 21 BF F0 00 00 00 00 00 00 27", want);

	CHECK_RC(kv_key_encode(ps, 4, &k, &klen), KV_OK);
	CHECK_MEM(k, klen, want, wlen);
	while (pos < klen) {
		CHECK_RC(kv_part_span(k, klen, pos, &span), KV_OK);
		if (span == 0)
			break;
		pos += span;
		spans++;
	}
	CHECK(spans == 4 && pos == klen);
	kv_part *out;
	CHECK_RC(kv_key_decode(k, klen, &out, &n), KV_OK);
	CHECK(n == 4);
	for (size_t i = 0; i < n && i < 4; i++)
		CHECK(part_equal(&out[i], &ps[i]));
	kv_free(out);
	kv_free(k);

	/* the empty key */
	CHECK_RC(kv_key_encode(NULL, 0, &k, &klen), KV_OK);
	CHECK(klen == 0);
	kv_free(k);
	CHECK_RC(kv_key_decode("", 0, &out, &n), KV_OK);
	CHECK(n == 0);
	kv_free(out);
}

static void test_key__encode_rejects(void)
{
	uint8_t big[256];
	memset(big, 1, sizeof(big));
	const uint8_t lead0[] = { 0, 1 };
	const kv_part bad[] = {
		str_part("\xff", 1),
		str_part("\xc0\x80", 2),          /* overlong NUL */
		str_part("\xed\xa0\x80", 3),      /* surrogate */
		str_part("\xf4\x90\x80\x80", 4),  /* above U+10FFFF */
		str_part("\xe2\x82", 2),          /* truncated */
		big_part(big, 256, 0),
		big_part(big, 256, 1),
		big_part(lead0, 2, 0),
		{ 99, NULL, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len;
		uint8_t *k;
		CHECK_RC(kv_part_encode(&bad[i], NULL, 0, &len), KV_INVALID);
		CHECK_RC(kv_key_encode(&bad[i], 1, &k, &len), KV_INVALID);
	}
	kv_part p = big_part(big, 256, 0);
	size_t len;
	kv_part_encode(&p, NULL, 0, &len);
	CHECK_STR(kv_errmsg(NULL), "BigUint requires more than 255 bytes to be represented");

	/* 255 bytes is the largest magnitude */
	p = big_part(big, 255, 1);
	CHECK_RC(kv_part_encode(&p, NULL, 0, &len), KV_OK);
	CHECK(len == 257);
}

static void test_key__decode_rejects_malformed(void)
{
	static const char *const bad[] = {
		"00",                            /* unknown tag */
		"03", "20", "22", "25", "28", "FF", "0A", "1E",
		"02 61",                         /* missing terminator */
		"02",
		"01 00 FF",                      /* escape then end, no terminator */
		"02 FF 00",                      /* invalid UTF-8 */
		"02 C3 00 FF A9 00",             /* escape inside a multi-byte sequence */
		"02 ED A0 80 00",                /* surrogate */
		"21 80 00",                      /* truncated number */
		"21",
		"21 FF F8 00 00 00 00 00 01",    /* NaN with a payload */
		"21 00 07 FF FF FF FF FF FE",
		"15",                            /* truncated bigint */
		"16 01",
		"1D",
		"1D 09 01",
		"0B",
		"0B F6 FE",
		"15 00",                         /* non-minimal bigints */
		"13 FF",
		"1D 08 01 00 00 00 00 00 00 00",
		"1D 00",
		"0B F7 FE 00 00 00 00 00 00 00",
		"1D 09 00 01 00 00 00 00 00 00 00",
		"0B F6 FF FE FF FF FF FF FF FF FF",
		"02 61 00 FF",                   /* valid part, then garbage */
		"27 00",
		"26 02",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t k[64];
		size_t n = unhex(bad[i], k), cnt;
		kv_part *ps = (kv_part *) 1;
		int rc = kv_key_decode(k, n, &ps, &cnt);
		if (rc != KV_INVALID)
			printf("# %s decoded with rc %d\n", bad[i], rc), test_cur_failed = 1;
		CHECK(ps == NULL);
	}
	size_t span;
	CHECK_RC(kv_part_span("\x27", 1, 1, &span), KV_INVALID);
	CHECK_RC(kv_part_span("\x27\x03", 2, 1, &span), KV_INVALID);
}

/* ---- order ---- */

static void test_key__verified_order(void)
{
	static const uint8_t e0[1];
	static const uint8_t big100[] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	kv_part a1[] = { str_part("a", 1), num_part(1), bool_part(1) };
	kv_part ua[] = { str_part("users", 5), str_part("alice", 5) };
	struct { const kv_part *parts; size_t n; kv_part one; } keys[] = {
		{ NULL, 1, bytes_part(e0, 0) },
		{ NULL, 1, bytes_part(b12078, 5) },
		{ NULL, 1, bytes_part(bff00, 2) },
		{ NULL, 1, str_part("", 0) },
		{ a1, 3, { 0 } },
		{ NULL, 1, str_part("a\0b", 3) },
		{ NULL, 1, str_part("hello", 5) },
		{ ua, 2, { 0 } },
		{ NULL, 1, str_part("\xc3\xa9", 2) },
		{ NULL, 1, str_part("\xef\xbf\xbf", 3) },
		{ NULL, 1, str_part("\xf0\x9f\x98\x80", 4) },
		{ NULL, 1, big_part(big100, 13, 1) },
		{ NULL, 1, big_part(m64, 9, 1) },
		{ NULL, 1, big_part(m64m1, 8, 1) },
		{ NULL, 1, big_part(m100, 2, 1) },
		{ NULL, 1, big_part(mff, 1, 1) },
		{ NULL, 1, big_part(m1, 1, 1) },
		{ NULL, 1, big_part(NULL, 0, 0) },
		{ NULL, 1, big_part(m1, 1, 0) },
		{ NULL, 1, big_part(mff, 1, 0) },
		{ NULL, 1, big_part(m100, 2, 0) },
		{ NULL, 1, big_part(m64m1, 8, 0) },
		{ NULL, 1, big_part(m64, 9, 0) },
		{ NULL, 1, big_part(big100, 13, 0) },
		{ NULL, 1, num_part(-NAN) },
		{ NULL, 1, num_part(-INFINITY) },
		{ NULL, 1, num_part(-1.5) },
		{ NULL, 1, num_part(-1) },
		{ NULL, 1, num_part(-0.0) },
		{ NULL, 1, num_part(0) },
		{ NULL, 1, num_part(5e-324) },
		{ NULL, 1, num_part(1) },
		{ NULL, 1, num_part(1.5) },
		{ NULL, 1, num_part(9007199254740991.0) },
		{ NULL, 1, num_part(INFINITY) },
		{ NULL, 1, num_part(NAN) },
		{ NULL, 1, bool_part(0) },
		{ NULL, 1, bool_part(1) },
	};
	size_t nk = sizeof(keys) / sizeof(keys[0]);
	uint8_t *prev = NULL;
	size_t prev_len = 0;
	for (size_t i = 0; i < nk; i++) {
		uint8_t *k;
		size_t len;
		const kv_part *ps = keys[i].parts ? keys[i].parts : &keys[i].one;
		CHECK_RC(kv_key_encode(ps, keys[i].n, &k, &len), KV_OK);
		if (prev) {
			size_t m = len < prev_len ? len : prev_len;
			int c = memcmp(prev, k, m);
			if (!(c < 0 || (c == 0 && prev_len < len)))
				printf("# key %zu does not sort after key %zu\n", i, i - 1), test_cur_failed = 1;
		}
		kv_free(prev);
		prev = k;
		prev_len = len;
	}
	kv_free(prev);
}

/* ---- random keys ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* Random part; its bytes live in pool (at least 300 bytes). */
static kv_part random_part(uint8_t *pool)
{
	static const char *const pieces[] = { "a", "b", "\0", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\xef\xbf\xbf", "z", "\x7f", "\x01" };
	static const double nums[] = { 0, 1, -1, 1.5, -1.5, 5e-324, -5e-324, 1e300, -1e300,
		2.2250738585072014e-308, 9007199254740991.0, 0.1 };
	kv_part p;
	size_t n;

	memset(&p, 0, sizeof(p));
	switch (rnd() % 6) {
	case 0:
		p.type = KV_PART_BYTES;
		n = rnd() % 6;
		for (size_t i = 0; i < n; i++)
			pool[i] = (uint8_t) (rnd() % 4 == 0 ? (rnd() % 2 ? 0 : 255) : rnd());
		p.data = pool;
		p.len = n;
		break;
	case 1: {
		p.type = KV_PART_STRING;
		n = rnd() % 5;
		size_t len = 0;
		for (size_t i = 0; i < n; i++) {
			const char *s = pieces[rnd() % 10];
			size_t l = *s ? strlen(s) : 1;
			memcpy(pool + len, s, l);
			len += l;
		}
		p.data = pool;
		p.len = len;
		break;
	}
	case 2: {
		p.type = KV_PART_BIGINT;
		uint64_t r = rnd() % 8;
		n = r < 3 ? r : r < 6 ? 1 + rnd() % 12 : 1 + rnd() % 255;
		for (size_t i = 0; i < n; i++)
			pool[i] = (uint8_t) (rnd() % 3 == 0 ? (rnd() % 2 ? 0 : 255) : rnd());
		if (n)
			pool[0] |= (uint8_t) (1 + rnd() % 255) & (rnd() % 2 ? 0xFF : 0x01);
		if (n && pool[0] == 0)
			pool[0] = 1;
		p.data = pool;
		p.len = n;
		p.negative = (int) (rnd() % 2);
		break;
	}
	case 3: {
		p.type = KV_PART_NUMBER;
		uint64_t r = rnd() % 10;
		if (r < 4)
			p.number = nums[rnd() % 12] * (rnd() % 2 ? 1 : -1);
		else if (r == 4)
			p.number = rnd() % 2 ? NAN : -NAN;
		else if (r == 5)
			p.number = rnd() % 2 ? INFINITY : -INFINITY;
		else if (r == 6)
			p.number = rnd() % 2 ? 0.0 : -0.0;
		else
			p.number = num_from_bits(rnd());
		break;
	}
	case 4:
		p.type = KV_PART_FALSE;
		break;
	default:
		p.type = KV_PART_TRUE;
		break;
	}
	return p;
}

static int type_rank(int t)
{
	return t; /* KV_PART_* are numbered in Deno's order */
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	int c = m ? memcmp(a, b, m) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

/* Numbers in Deno's order: -NaN < -Inf < ... < -0 < 0 < ... < Inf < NaN. */
static int num_class(double d)
{
	if (isnan(d))
		return signbit(d) ? 0 : 4;
	if (d == 0)
		return 2;
	return d < 0 ? 1 : 3;
}

static int cmp_numbers(double a, double b)
{
	int ca = num_class(a), cb = num_class(b);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (ca == 2)
		return signbit(a) == signbit(b) ? 0 : signbit(a) ? -1 : 1;
	if (ca == 0 || ca == 4)
		return 0;
	return a < b ? -1 : a > b;
}

static int cmp_bigints(const kv_part *a, const kv_part *b)
{
	int sa = a->len == 0 ? 0 : a->negative ? -1 : 1;
	int sb = b->len == 0 ? 0 : b->negative ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	int c = a->len != b->len ? (a->len < b->len ? -1 : 1)
	                         : cmp_bytes(a->data, a->len, b->data, b->len);
	return sa < 0 ? -c : c;
}

static int cmp_parts(const kv_part *a, const kv_part *b)
{
	if (a->type != b->type)
		return type_rank(a->type) < type_rank(b->type) ? -1 : 1;
	switch (a->type) {
	case KV_PART_BYTES:
	case KV_PART_STRING:
		return cmp_bytes(a->data, a->len, b->data, b->len);
	case KV_PART_BIGINT:
		return cmp_bigints(a, b);
	case KV_PART_NUMBER:
		return cmp_numbers(a->number, b->number);
	}
	return 0;
}

static int cmp_keys(const kv_part *a, size_t an, const kv_part *b, size_t bn)
{
	for (size_t i = 0; i < an && i < bn; i++) {
		int c = cmp_parts(&a[i], &b[i]);
		if (c)
			return c;
	}
	return an < bn ? -1 : an > bn;
}

#define MAXP 4

static void test_key__random_round_trip_and_order(void)
{
	static uint8_t pools[2][MAXP][300];
	kv_part keys[2][MAXP];
	size_t nparts[2];
	uint8_t *enc[2] = { NULL, NULL };
	size_t enc_len[2];
	int failures = 0;

	for (int iter = 0; iter < 20000 && failures < 5; iter++) {
		for (int w = 0; w < 2; w++) {
			nparts[w] = rnd() % (MAXP + 1);
			for (size_t i = 0; i < nparts[w]; i++)
				keys[w][i] = random_part(pools[w][i]);
			/* share a prefix now and then so deeper parts get compared */
			if (w == 1 && rnd() % 2)
				for (size_t i = 0; i < nparts[0] && i < nparts[1] && rnd() % 3; i++)
					keys[1][i] = keys[0][i];
			CHECK_RC(kv_key_encode(keys[w], nparts[w], &enc[w], &enc_len[w]), KV_OK);

			kv_part *dec;
			size_t dn;
			CHECK_RC(kv_key_decode(enc[w], enc_len[w], &dec, &dn), KV_OK);
			int same = dn == nparts[w];
			for (size_t i = 0; same && i < dn; i++)
				same = part_equal(&dec[i], &keys[w][i]);
			if (!same) {
				printf("# iteration %d: decode(encode(x)) != x\n", iter);
				test_cur_failed = 1;
				failures++;
			}
			kv_free(dec);
		}
		int want = cmp_keys(keys[0], nparts[0], keys[1], nparts[1]);
		int got = cmp_bytes(enc[0], enc_len[0], enc[1], enc_len[1]);
		if (want != got) {
			printf("# iteration %d: memcmp order %d, value order %d\n", iter, got, want);
			test_cur_failed = 1;
			failures++;
		}
		kv_free(enc[0]);
		kv_free(enc[1]);
	}
}

/* Random bytes never crash the decoder; whatever decodes re-encodes to itself. */
static void test_key__fuzz_decode(void)
{
	static const uint8_t tags[] = { 0x01, 0x02, 0x0B, 0x0C, 0x13, 0x14, 0x15, 0x1C,
		0x1D, 0x21, 0x26, 0x27, 0x00, 0xFF };
	uint8_t buf[64];
	int accepted = 0;

	for (int iter = 0; iter < 200000; iter++) {
		size_t n = rnd() % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			uint64_t r = rnd() % 8;
			buf[i] = r == 0 ? tags[rnd() % sizeof(tags)] : r == 1 ? 0 : r == 2 ? 0xFF
			       : (uint8_t) rnd();
		}
		kv_part *ps;
		size_t np;
		int rc = kv_key_decode(buf, n, &ps, &np);
		if (rc != KV_OK) {
			CHECK(rc == KV_INVALID);
			continue;
		}
		accepted++;
		uint8_t *k;
		size_t klen;
		CHECK_RC(kv_key_encode(ps, np, &k, &klen), KV_OK);
		CHECK_MEM(k, klen, buf, n);
		kv_free(k);
		kv_free(ps);
		if (test_cur_failed)
			break;
	}
	CHECK(accepted > 100);
}

/* ---- number.c: String(n), decimal parsing, bigint text ---- */

static void test_number__format_like_javascript(void)
{
	/* right-hand sides printed by Deno's String(n) */
	static const struct { double d; const char *s; } cases[] = {
		{ 0.0, "0" }, { -0.0, "0" }, { 1, "1" }, { -1.5, "-1.5" }, { 42, "42" },
		{ 0.1, "0.1" }, { 0.1 + 0.2, "0.30000000000000004" }, { 1.0 / 3, "0.3333333333333333" },
		{ 100, "100" }, { 1e20, "100000000000000000000" }, { 1e21, "1e+21" },
		{ 1.5e21, "1.5e+21" }, { 123456789012345680000.0, "123456789012345680000" },
		{ 1e-6, "0.000001" }, { 1e-7, "1e-7" }, { 1.5e-7, "1.5e-7" }, { 1.25e-6, "0.00000125" },
		{ 5e-324, "5e-324" }, { -5e-324, "-5e-324" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" }, { 9007199254740991.0, "9007199254740991" },
		{ 9007199254740992.0, "9007199254740992" }, { 18446744073709551616.0, "18446744073709552000" },
		{ 123e-20, "1.23e-18" }, { 1e300 * 10, "1e+301" }, { 0.000123, "0.000123" },
		{ NAN, "NaN" }, { INFINITY, "Infinity" }, { -INFINITY, "-Infinity" },
		/* around 2^53, where the integer fast path ends */
		{ -9007199254740991.0, "-9007199254740991" }, { -9007199254740992.0, "-9007199254740992" },
		{ 9007199254740994.0, "9007199254740994" }, { -9007199254740994.0, "-9007199254740994" },
		{ 9007199254740990.0, "9007199254740990" }, { 4503599627370495.5, "4503599627370495.5" },
		{ -4503599627370495.5, "-4503599627370495.5" }, { 4503599627370497.0, "4503599627370497" },
		{ 18014398509481984.0, "18014398509481984" }, { 36028797018963970.0, "36028797018963970" },
		{ -1, "-1" }, { -42, "-42" }, { -2147483648.0, "-2147483648" }, { 4294967296.0, "4294967296" },
		{ -1e15, "-1000000000000000" }, { 1e15 + 0.5, "1000000000000000.5" }, { 10, "10" },
		{ -0.5, "-0.5" }, { 1e16, "10000000000000000" }, { 123456789, "123456789" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[32];
		int n = kv__format_double(cases[i].d, out);
		CHECK_STR(out, cases[i].s);
		CHECK(n == (int) strlen(cases[i].s));
	}
}

static void test_number__format_reads_back(void)
{
	for (int i = 0; i < 100000; i++) {
		double d = num_from_bits(rnd()), back;
		char out[32];
		if (isnan(d))
			continue;
		int n = kv__format_double(d, out);
		CHECK_RC(kv__parse_decimal_number(out, (size_t) n, &back), KV_OK);
		if (bits_of(back) != bits_of(d) && d != 0) {
			printf("# %s does not read back\n", out);
			test_cur_failed = 1;
			break;
		}
	}
}

static void test_number__parse_spellings(void)
{
	static const struct { const char *s; double d; } ok[] = {
		{ "42", 42 }, { "042", 42 }, { "42.0", 42 }, { "4.2e1", 42 }, { "4.2E+1", 42 },
		{ "420e-1", 42 }, { ".5", 0.5 }, { "5.", 5 }, { "-0", -0.0 }, { "-0.0", -0.0 },
		{ "0", 0 }, { "1e+21", 1e21 }, { "1e400", INFINITY }, { "-1e400", -INFINITY },
		{ "1e-400", 0 }, { "0.1", 0.1 }, { "Infinity", INFINITY }, { "-Infinity", -INFINITY },
		{ "9007199254740993", 9007199254740992.0 }, { "5e-324", 5e-324 },
		{ "2.4703282292062328e-324", 5e-324 },  /* just above half the smallest: rounds up */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double d = 1234;
		CHECK_RC(kv__parse_decimal_number(ok[i].s, strlen(ok[i].s), &d), KV_OK);
		if (bits_of(d) != bits_of(ok[i].d))
			printf("# '%s' parsed as %.17g\n", ok[i].s, d), test_cur_failed = 1;
	}
	double d;
	CHECK_RC(kv__parse_decimal_number("NaN", 3, &d), KV_OK);
	CHECK(isnan(d) && !signbit(d));
	CHECK_RC(kv__parse_decimal_number("-NaN", 4, &d), KV_OK);
	CHECK(isnan(d) && signbit(d));
	static const char *const bad[] = { "", "-", ".", "-.", "+1", " 1", "1 ", "1e", "1e+",
		"e5", "0x10", "1_000", "nan", "inf", "+NaN", "+Infinity", "1.2.3", "--1", "1e5.5",
		"١", "Infinityx" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_RC(kv__parse_decimal_number(bad[i], strlen(bad[i]), &d), KV_INVALID);
	/* not NUL-terminated: only len bytes count */
	CHECK_RC(kv__parse_decimal_number("12x", 2, &d), KV_OK);
	CHECK(d == 12);
}

static void test_number__bigint_decimal(void)
{
	static const struct { const char *text; const char *hex; int neg; } cases[] = {
		{ "0", "", 0 }, { "1", "01", 0 }, { "-1", "01", 1 }, { "255", "FF", 0 },
		{ "256", "0100", 0 }, { "-257", "0101", 1 }, { "4294967295", "FFFFFFFF", 0 },
		{ "4294967296", "0100000000", 0 }, { "999999999", "3B9AC9FF", 0 },
		{ "1000000000", "3B9ACA00", 0 },
		{ "18446744073709551615", "FFFFFFFFFFFFFFFF", 0 },
		{ "18446744073709551616", "010000000000000000", 0 },
		{ "-1267650600228229401496703205376", "10000000000000000000000000", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t mag[64];
		size_t mlen = unhex(cases[i].hex, mag);
		kv_buf b = { 0 };
		CHECK_RC(kv__bigint_to_decimal(mag, mlen, cases[i].neg, &b), KV_OK);
		CHECK_MEM(b.data, b.len, cases[i].text, strlen(cases[i].text));
		kv__buf_free(&b);
		int neg = 7;
		CHECK_RC(kv__bigint_from_decimal(cases[i].text, strlen(cases[i].text), &b, &neg), KV_OK);
		if (mlen)
			CHECK_MEM(b.data, b.len, mag, mlen);
		else
			CHECK(b.len == 0);
		CHECK(neg == cases[i].neg);
		kv__buf_free(&b);
	}
	/* leading zeros and "-0" give the minimal form */
	kv_buf b = { 0 };
	int neg;
	CHECK_RC(kv__bigint_from_decimal("-000", 4, &b, &neg), KV_OK);
	CHECK(b.len == 0 && neg == 0);
	CHECK_RC(kv__bigint_from_decimal("000256", 6, &b, &neg), KV_OK);
	CHECK_MEM(b.data, b.len, "\x01\x00", 2);
	kv__buf_free(&b);
	static const char *const bad[] = { "", "-", "+1", "1.0", "1e3", " 1", "1n", "--1", "0x1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_RC(kv__bigint_from_decimal(bad[i], strlen(bad[i]), &b, &neg), KV_INVALID);
	kv__buf_free(&b);

	/* 2n**2040n - 1n (255 bytes of FF) has 615 digits ending in 7775 (printed by Deno) */
	uint8_t ff[255];
	memset(ff, 0xFF, sizeof(ff));
	CHECK_RC(kv__bigint_to_decimal(ff, sizeof(ff), 0, &b), KV_OK);
	CHECK(b.len == 615);
	CHECK(b.len > 4 && memcmp(b.data + b.len - 4, "7775", 4) == 0);
	kv__buf_free(&b);
}

static void test_number__bigint_random_round_trip(void)
{
	uint8_t mag[600];
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = rnd() % sizeof(mag);
		for (size_t i = 0; i < n; i++)
			mag[i] = (uint8_t) rnd();
		if (n && mag[0] == 0)
			mag[0] = 1;
		kv_buf t = { 0 }, m = { 0 };
		int neg = (int) (rnd() % 2), back;
		CHECK_RC(kv__bigint_to_decimal(mag, n, neg, &t), KV_OK);
		CHECK_RC(kv__bigint_from_decimal((char *) t.data, t.len, &m, &back), KV_OK);
		if (n)
			CHECK_MEM(m.data, m.len, mag, n);
		else
			CHECK(m.len == 0);
		CHECK(back == (n ? neg : 0));
		kv__buf_free(&t);
		kv__buf_free(&m);
		if (test_cur_failed)
			break;
	}
}

int main(void)
{
	RUN(test_key__reference_vectors);
	RUN(test_key__nan_payloads_canonicalised);
	RUN(test_key__multi_part_key);
	RUN(test_key__encode_rejects);
	RUN(test_key__decode_rejects_malformed);
	RUN(test_key__verified_order);
	RUN(test_key__random_round_trip_and_order);
	RUN(test_key__fuzz_decode);
	RUN(test_number__format_like_javascript);
	RUN(test_number__format_reads_back);
	RUN(test_number__parse_spellings);
	RUN(test_number__bigint_decimal);
	RUN(test_number__bigint_random_round_trip);
	return DONE();
}
