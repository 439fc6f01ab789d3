/*
 * test_name.c - key parts as path names and keys as $-tagged JSON.
 */
#include <math.h>
#include <stdint.h>
#include "test.h"

/* A name (given with its length, so it may hold NUL) and its part's encoding. */
struct row {
	const char *name;
	size_t name_len;
	const char *hex;
};

#define N(s) s, sizeof(s) - 1

/* Canonical names: part -> name and name -> part. */
static const struct row canonical[] = {
	/* DESIGN's table */
	{ N("ada"), "02 61 64 61 00" },
	{ N("\"42\""), "02 34 32 00" },
	{ N("\"true\""), "02 74 72 75 65 00" },
	{ N("\".x\""), "02 2E 78 00" },
	{ N("\"a\\u002fb\""), "02 61 2F 62 00" },  /* DESIGN says \/, which no file name can hold */
	{ N("\"\""), "02 00" },
	{ N("42"), "21 C0 45 00 00 00 00 00 00" },
	{ N("-1.5"), "21 40 07 FF FF FF FF FF FF" },
	{ N("1e+21"), "21 C4 4B 1A E4 D6 E2 EF 50" },
	{ N("-0"), "21 7F FF FF FF FF FF FF FF" },
	{ N("0"), "21 80 00 00 00 00 00 00 00" },
	{ N("NaN"), "21 FF F8 00 00 00 00 00 00" },
	{ N("Infinity"), "21 FF F0 00 00 00 00 00 00" },
	{ N("-NaN"), "21 00 07 FF FF FF FF FF FF" },    /* NaN with the sign bit: its own key */
	{ N("-Infinity"), "21 00 0F FF FF FF FF FF FF" },
	{ N("42n"), "15 2A" },
	{ N("-7n"), "13 F8" },
	{ N("0n"), "14" },
	{ N("18446744073709551616n"), "1D 09 01 00 00 00 00 00 00 00 00" },
	{ N("true"), "27" },
	{ N("false"), "26" },
	{ N("0x0102ff"), "01 01 02 FF 00" },
	{ N("0x00"), "01 00 FF 00" },
	{ N("0x"), "01 00" },
	/* strings that would read as another type are quoted */
	{ N("\"0x12\""), "02 30 78 31 32 00" },
	{ N("\"0xzz\""), "02 30 78 7A 7A 00" },
	{ N("\"0X\""), "02 30 58 00" },
	{ N("\"1e5\""), "02 31 65 35 00" },
	{ N("\"NaN\""), "02 4E 61 4E 00" },
	{ N("\"Infinity\""), "02 49 6E 66 69 6E 69 74 79 00" },
	{ N("\"01\""), "02 30 31 00" },
	{ N("\".5\""), "02 2E 35 00" },
	{ N("\"5.\""), "02 35 2E 00" },
	{ N("\"-0\""), "02 2D 30 00" },
	{ N("\"-NaN\""), "02 2D 4E 61 4E 00" },
	{ N("\"7n\""), "02 37 6E 00" },
	{ N("\"false\""), "02 66 61 6C 73 65 00" },
	{ N("\"\\\"q\""), "02 22 71 00" },
	{ N("\"..\""), "02 2E 2E 00" },
	/* control characters, NUL and DEL are quoted as \u00XX */
	{ N("\"a\\u000ab\""), "02 61 0A 62 00" },
	{ N("\"a\\u0000b\""), "02 61 00 FF 62 00" },
	{ N("\"\\u007f\""), "02 7F 00" },
	{ N("\"tab\\u0009\""), "02 74 61 62 09 00" },
	/* C1 controls too (UTF-8 C2 80..9F); the next code point does not need it */
	{ N("\"a\\u0085\""), "02 61 C2 85 00" },
	{ N("\"\\u009f\""), "02 C2 9F 00" },
	{ N("\u00a0"), "02 C2 A0 00" },
	/* backslashes alone do not force quotes, but inside quotes they are escaped */
	{ N("a\\b"), "02 61 5C 62 00" },
	{ N("\"a\\\\\\u002f\""), "02 61 5C 2F 00" },
	/* near misses stay plain */
	{ N("truex"), "02 74 72 75 65 78 00" },
	{ N("True"), "02 54 72 75 65 00" },
	{ N("nan"), "02 6E 61 6E 00" },
	{ N("+1"), "02 2B 31 00" },
	{ N("1e"), "02 31 65 00" },
	{ N("n"), "02 6E 00" },
	{ N("-n"), "02 2D 6E 00" },
	{ N("1.5n"), "02 31 2E 35 6E 00" },
	{ N("a.b"), "02 61 2E 62 00" },
	{ N("a\"b"), "02 61 22 62 00" },
	{ N(" 1"), "02 20 31 00" },
	{ N("-"), "02 2D 00" },
	{ N("\xc3\xa9t\xc3\xa9"), "02 C3 A9 74 C3 A9 00" },
	{ N("\xf0\x9f\x98\x80"), "02 F0 9F 98 80 00" },
};

static void test_name__canonical_rows(void)
{
	for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		const struct row *r = &canonical[i];
		uint8_t want[64], *part;
		size_t wlen = unhex(r->hex, want), plen;
		char *name;

		CHECK_RC(kv_name_from_part(want, wlen, &name), KV_OK);
		if (!name || strlen(name) != r->name_len || memcmp(name, r->name, r->name_len))
			printf("# row %zu: part %s named '%s', want '%s'\n", i, r->hex,
			       name ? name : "(null)", r->name), test_cur_failed = 1;
		kv_free(name);

		CHECK_RC(kv_name_to_part(r->name, r->name_len, &part, &plen), KV_OK);
		CHECK_MEM(part, plen, want, wlen);
		kv_free(part);
	}
}

/* Other spellings that name the same part. */
static void test_name__other_spellings(void)
{
	static const struct row alt[] = {
		{ N("42.0"), "21 C0 45 00 00 00 00 00 00" },
		{ N("042"), "21 C0 45 00 00 00 00 00 00" },
		{ N("4.2e1"), "21 C0 45 00 00 00 00 00 00" },
		{ N("4.2E+1"), "21 C0 45 00 00 00 00 00 00" },
		{ N("420e-1"), "21 C0 45 00 00 00 00 00 00" },
		{ N("1e21"), "21 C4 4B 1A E4 D6 E2 EF 50" },
		{ N("1000000000000000000000"), "21 C4 4B 1A E4 D6 E2 EF 50" },
		{ N("1e0"), "21 BF F0 00 00 00 00 00 00" },
		{ N("01"), "21 BF F0 00 00 00 00 00 00" },
		{ N("0.50"), "21 BF E0 00 00 00 00 00 00" },
		{ N("-0.0"), "21 7F FF FF FF FF FF FF FF" },
		{ N("0.0"), "21 80 00 00 00 00 00 00 00" },
		{ N("1e400"), "21 FF F0 00 00 00 00 00 00" },
		{ N("042n"), "15 2A" },
		{ N("-0n"), "14" },
		{ N("-007n"), "13 F8" },
		{ N("0X0102FF"), "01 01 02 FF 00" },
		{ N("0xABcd"), "01 AB CD 00" },
		{ N("\"ada\""), "02 61 64 61 00" },
		{ N("\"a/b\""), "02 61 2F 62 00" },
		{ N("\"a\\/b\""), "02 61 2F 62 00" },
		{ N("\"\\u0041\""), "02 41 00" },
		{ N("\"\\n\""), "02 0A 00" },
		{ N("\"\\ud83d\\ude00\""), "02 F0 9F 98 80 00" },
		{ N("\"\\ud800x\""), "02 EF BF BD 78 00" },   /* lone surrogate -> U+FFFD, as Deno */
	};
	for (size_t i = 0; i < sizeof(alt) / sizeof(alt[0]); i++) {
		uint8_t want[64], *part;
		size_t wlen = unhex(alt[i].hex, want), plen;
		CHECK_RC(kv_name_to_part(alt[i].name, alt[i].name_len, &part, &plen), KV_OK);
		CHECK_MEM(part, plen, want, wlen);
		kv_free(part);
	}
}

static void test_name__invalid_names(void)
{
	static const struct { const char *name; size_t len; } bad[] = {
		{ N("") }, { N(".") }, { N("..") }, { N(".x") }, { N(".value") }, { N(".5") }, { N(".tx") },
		{ N("0xzz") }, { N("0x1") }, { N("0x123") }, { N("0X1g") }, { N("0x 1") },
		{ N("\"abc") }, { N("\"abc\"x") }, { N("\"a\\qb\"") }, { N("\"\\u12\"") },
		{ N("\"a\nb\"") }, { N("\"") }, { N("a/b") }, { N("a\nb") }, { N("\x7f") },
		{ N("a\0b") }, { N("\xff") }, { N("\xc3") }, { N("\xed\xa0\x80") },
		{ N("\"\xff\"") },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *part = (uint8_t *) 1;
		size_t plen;
		int rc = kv_name_to_part(bad[i].name, bad[i].len, &part, &plen);
		if (rc != KV_INVALID)
			printf("# bad name %zu ('%s') gave %d\n", i, bad[i].name, rc), test_cur_failed = 1;
		CHECK(part == NULL);
	}
	/* a bigint over 255 bytes cannot be a key part */
	char big[700];
	memset(big, '9', 650);
	big[650] = 'n';
	uint8_t *part;
	size_t plen;
	CHECK_RC(kv_name_to_part(big, 651, &part, &plen), KV_INVALID);
	CHECK_RC(kv_name_to_part(big, 600, &part, &plen), KV_OK);  /* 600 digits: a number, Infinity */
	kv_free(part);

	/* kv_name_from_part wants exactly one part */
	char *name;
	CHECK_RC(kv_name_from_part("\x26\x27", 2, &name), KV_INVALID);
	CHECK_RC(kv_name_from_part("", 0, &name), KV_INVALID);
	CHECK_RC(kv_name_from_part("\x02\x61", 2, &name), KV_INVALID);
}

static void test_name__paths(void)
{
	static const struct { const char *path; const char *hex; } rows[] = {
		{ "preferences/ada", "02 70 72 65 66 65 72 65 6E 63 65 73 00 02 61 64 61 00" },
		{ "a/42/7n/true/0x01", "02 61 00 21 C0 45 00 00 00 00 00 00 15 07 27 01 01 00" },
		{ "\"a\\u002fb\"/\"\"", "02 61 2F 62 00 02 00" },
		{ "x", "02 78 00" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t want[64], *key;
		size_t wlen = unhex(rows[i].hex, want), klen;
		char *path;
		CHECK_RC(kv_path_to_key(rows[i].path, &key, &klen), KV_OK);
		CHECK_MEM(key, klen, want, wlen);
		kv_free(key);
		CHECK_RC(kv_path_from_key(want, wlen, &path), KV_OK);
		CHECK_STR(path, rows[i].path);
		kv_free(path);
	}
	/* a quoted name in a path may hold '/' written \/ */
	uint8_t *key;
	size_t klen;
	CHECK_RC(kv_path_to_key("\"a\\/b\"/x/\"\\\\\"", &key, &klen), KV_OK);
	CHECK_MEM(key, klen, "\x02\x61\x2f\x62\x00\x02\x78\x00\x02\x5c\x00", 11);
	kv_free(key);

	static const char *const bad[] = { "/a", "a/", "a//b", "/", "a/.b", "a/0xz",
		"\"a/b", "\"a\"b/c" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_RC(kv_path_to_key(bad[i], &key, &klen), KV_INVALID);
	}
	char *path;
	CHECK_RC(kv_path_from_key("\x02\x61", 2, &path), KV_INVALID);
}

/* ---- random parts: name then parse gives the same bytes ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* A random part; strings are built from pieces that tempt every rule. */
static kv_part random_part(uint8_t *pool)
{
	static const char *const pieces[] = { "a", "\0", "/", ".", "\"", "\\", "0", "1", "x",
		"n", "e", "-", "+", "true", "NaN", "Infinity", "0x", "\n", "\x7f", " ",
		"\xc3\xa9", "\xf0\x9f\x98\x80", "5", ".5", "e+2" };
	static const double nums[] = { 0, 1, 1.5, 0.1, 1e21, 1e-7, 123456.789, 5e-324, 1e300 };
	kv_part p;
	size_t n;

	memset(&p, 0, sizeof(p));
	switch (rnd() % 6) {
	case 0:
		p.type = KV_PART_BYTES;
		n = rnd() % 5;
		for (size_t i = 0; i < n; i++)
			pool[i] = (uint8_t) rnd();
		p.data = pool;
		p.len = n;
		break;
	case 1:
	case 2: {
		p.type = KV_PART_STRING;
		size_t len = 0;
		n = rnd() % 4;
		for (size_t i = 0; i < n; i++) {
			const char *s = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t l = *s ? strlen(s) : 1;
			memcpy(pool + len, s, l);
			len += l;
		}
		p.data = pool;
		p.len = len;
		break;
	}
	case 3:
		p.type = KV_PART_BIGINT;
		n = rnd() % 3 ? rnd() % 9 : rnd() % 256;
		for (size_t i = 0; i < n; i++)
			pool[i] = (uint8_t) rnd();
		if (n && !pool[0])
			pool[0] = 1;
		p.data = pool;
		p.len = n;
		p.negative = (int) (rnd() % 2);
		break;
	case 4: {
		p.type = KV_PART_NUMBER;
		uint64_t r = rnd() % 4, u = rnd();
		if (r == 0)
			memcpy(&p.number, &u, sizeof(u));
		else if (r == 1)
			p.number = (double) (int64_t) (rnd() % 100000) - 50000;
		else if (r == 2)
			p.number = nums[rnd() % 9] * (rnd() % 2 ? 1 : -1);
		else
			p.number = rnd() % 3 == 0 ? NAN : rnd() % 2 ? INFINITY : -0.0;
		break;
	}
	default:
		p.type = rnd() % 2 ? KV_PART_TRUE : KV_PART_FALSE;
		break;
	}
	return p;
}

static void test_name__random_round_trip(void)
{
	static uint8_t pool[300];
	int failures = 0;

	for (int iter = 0; iter < 30000 && failures < 5; iter++) {
		kv_part p = random_part(pool);
		uint8_t *enc, *back;
		size_t elen, blen;
		char *name;

		CHECK_RC(kv_key_encode(&p, 1, &enc, &elen), KV_OK);
		CHECK_RC(kv_name_from_part(enc, elen, &name), KV_OK);
		if (!name) {
			kv_free(enc);
			failures++;
			continue;
		}
		/* names never hold '/', NUL or control characters, nor start with '.' */
		for (const char *c = name; *c; c++)
			if (*c == '/' || (unsigned char) *c < 0x20 || *c == 0x7f) {
				printf("# name '%s' holds a bad character\n", name);
				test_cur_failed = 1;
				failures++;
				break;
			}
		CHECK(name[0] != '.' && name[0] != '\0');
		int rc = kv_name_to_part(name, strlen(name), &back, &blen);
		if (rc != KV_OK || blen != elen || memcmp(back, enc, elen)) {
			printf("# iteration %d: name '%s' does not parse back (rc %d)\n", iter, name, rc);
			test_cur_failed = 1;
			failures++;
		}
		if (rc == KV_OK)
			kv_free(back);
		kv_free(name);
		kv_free(enc);
	}
}

/* ---- keys as JSON ---- */

static void test_name__key_json(void)
{
	static const struct { const char *json; const char *hex; } rows[] = {
		{ "[\"a\",1,{\"$bigint\":\"7\"},{\"$bytes\":\"AQI=\"}]",
		  "02 61 00 21 BF F0 00 00 00 00 00 00 15 07 01 01 02 00" },
		{ "[]", "" },
		{ "[\"a\\u0000b\"]", "02 61 00 FF 62 00" },
		{ "[\"\\\"\\\\/\\n\\t\\u0001\x7f\"]", "02 22 5C 2F 0A 09 01 7F 00" },
		{ "[\"\xc3\xa9\xf0\x9f\x98\x80\"]", "02 C3 A9 F0 9F 98 80 00" },
		{ "[-1.5,1e+21,5e-324,0.1]", "21 40 07 FF FF FF FF FF FF 21 C4 4B 1A E4 D6 E2 EF 50 "
		  "21 80 00 00 00 00 00 00 01 21 BF B9 99 99 99 99 99 9A" },
		{ "[{\"$number\":\"NaN\"},{\"$number\":\"-0\"},{\"$number\":\"Infinity\"},"
		  "{\"$number\":\"-Infinity\"},0]",
		  "21 FF F8 00 00 00 00 00 00 21 7F FF FF FF FF FF FF FF 21 FF F0 00 00 00 00 00 00 "
		  "21 00 0F FF FF FF FF FF FF 21 80 00 00 00 00 00 00 00" },
		{ "[{\"$number\":\"-NaN\"}]", "21 00 07 FF FF FF FF FF FF" },
		{ "[{\"$bigint\":\"-18446744073709551616\"},{\"$bigint\":\"0\"}]",
		  "0B F6 FE FF FF FF FF FF FF FF FF 14" },
		{ "[{\"$bytes\":\"\"},{\"$bytes\":\"/w==\"}]", "01 00 01 FF 00" },
		{ "[true,false]", "27 26" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t want[128], *key;
		size_t wlen = unhex(rows[i].hex, want), klen;
		char *json;
		CHECK_RC(kv_key_to_json(want, wlen, &json), KV_OK);
		CHECK_STR(json, rows[i].json);
		kv_free(json);
		CHECK_RC(kv_key_from_json(rows[i].json, strlen(rows[i].json), &key, &klen), KV_OK);
		CHECK_MEM(key, klen, want, wlen);
		kv_free(key);
	}
}

static void test_name__key_json_other_spellings(void)
{
	static const struct { const char *json; const char *hex; } rows[] = {
		{ " [ \"a\" , 42.0 ] \n", "02 61 00 21 C0 45 00 00 00 00 00 00" },
		{ "[{\"$number\":\"1.5\"}]", "21 BF F8 00 00 00 00 00 00" },
		{ "[-0]", "21 7F FF FF FF FF FF FF FF" },
		{ "[1E2]", "21 C0 59 00 00 00 00 00 00" },
		{ "[{ \"$bigint\" : \"007\" }]", "15 07" },
		{ "[{\"$bytes\":\"_w\"}]", "01 FF 00" },
		{ "[{\"$bytes\":\"/wA\"}]", "01 FF 00 FF 00" },
		{ "[\"\\ud800\"]", "02 EF BF BD 00" },
		{ "[\"\\/\"]", "02 2F 00" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t want[64], *key;
		size_t wlen = unhex(rows[i].hex, want), klen;
		CHECK_RC(kv_key_from_json(rows[i].json, strlen(rows[i].json), &key, &klen), KV_OK);
		CHECK_MEM(key, klen, want, wlen);
		kv_free(key);
	}
	static const char *const bad[] = { "", "[", "]", "[1,]", "[,1]", "[1 2]", "[null]",
		"[[1]]", "{}", "[\"a\"]x", "[01]", "[1.]", "[.5]", "[+1]", "[NaN]", "[Infinity]",
		"[{\"$number\":\"nan\"}]", "[{\"$bigint\":\"1.5\"}]", "[{\"$bigint\":7}]",
		"[{\"$bytes\":\"!!\"}]", "[{\"$date\":\"x\"}]", "[{\"$bigint\":\"1\",\"x\":1}]",
		"[{}]", "[\"a\nb\"]", "[\"\xff\"]", "[\"abc]", "[tru]", "[truex]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *key = (uint8_t *) 1;
		size_t klen;
		int rc = kv_key_from_json(bad[i], strlen(bad[i]), &key, &klen);
		if (rc != KV_INVALID)
			printf("# bad key JSON '%s' gave %d\n", bad[i], rc), test_cur_failed = 1;
		CHECK(key == NULL);
	}
	/* only json_len bytes are read */
	uint8_t *key;
	size_t klen;
	CHECK_RC(kv_key_from_json("[true]garbage", 6, &key, &klen), KV_OK);
	CHECK_MEM(key, klen, "\x27", 1);
	kv_free(key);
}

static void test_name__key_json_random_round_trip(void)
{
	static uint8_t pools[3][300];
	for (int iter = 0; iter < 20000; iter++) {
		kv_part ps[3];
		size_t n = rnd() % 4;
		for (size_t i = 0; i < n; i++)
			ps[i] = random_part(pools[i]);
		uint8_t *enc, *back;
		size_t elen, blen;
		char *json;
		CHECK_RC(kv_key_encode(ps, n, &enc, &elen), KV_OK);
		CHECK_RC(kv_key_to_json(enc, elen, &json), KV_OK);
		int rc = kv_key_from_json(json, strlen(json), &back, &blen);
		if (rc != KV_OK || blen != elen || memcmp(back, enc, elen)) {
			printf("# %s does not read back (rc %d)\n", json, rc);
			test_cur_failed = 1;
		}
		if (rc == KV_OK)
			kv_free(back);
		kv_free(json);
		kv_free(enc);
		if (test_cur_failed)
			break;
	}
}

int main(void)
{
	RUN(test_name__canonical_rows);
	RUN(test_name__other_spellings);
	RUN(test_name__invalid_names);
	RUN(test_name__paths);
	RUN(test_name__random_round_trip);
	RUN(test_name__key_json);
	RUN(test_name__key_json_other_spellings);
	RUN(test_name__key_json_random_round_trip);
	return DONE();
}
