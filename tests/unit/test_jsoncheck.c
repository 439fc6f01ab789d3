/*
 * test_jsoncheck.c - the incremental JSON prefix check: where a refusal
 * happens, what finish() says, and that chunking does not matter.
 */
#include <stdint.h>
#include "test.h"

#define OK_PREFIX (-1)   /* every byte accepted */

struct row {
	const char *text;
	long fail_at;        /* index of the first refused byte, or OK_PREFIX */
	int complete;        /* finish() result when all bytes were accepted */
};

static const struct row rows[] = {
	/* complete documents */
	{ "{\"a\":1}", OK_PREFIX, KV_OK },
	{ "  [1, 2.5, -0, 1e5, 1E+5, 1.5e-7, 0.0]  \n", OK_PREFIX, KV_OK },
	{ "\"hello\"", OK_PREFIX, KV_OK },
	{ "42", OK_PREFIX, KV_OK },
	{ "-0", OK_PREFIX, KV_OK },
	{ "0 ", OK_PREFIX, KV_OK },
	{ "true", OK_PREFIX, KV_OK },
	{ "null\r\n", OK_PREFIX, KV_OK },
	{ "[]", OK_PREFIX, KV_OK },
	{ "{}", OK_PREFIX, KV_OK },
	{ "[[[{}]],{\"x\":[null,false]}]", OK_PREFIX, KV_OK },
	{ "{ \"a\" : { \"b\" : [ ] } , \"c\" : \"\" }", OK_PREFIX, KV_OK },
	{ "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\ud800\"", OK_PREFIX, KV_OK },
	{ "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", OK_PREFIX, KV_OK },
	{ "{\"$bigint\":\"12\"}", OK_PREFIX, KV_OK },
	/* possible prefixes that are not complete */
	{ "{\"a\":1", OK_PREFIX, KV_INVALID },
	{ "", OK_PREFIX, KV_INVALID },
	{ "   \n", OK_PREFIX, KV_INVALID },
	{ "[", OK_PREFIX, KV_INVALID },
	{ "\"abc", OK_PREFIX, KV_INVALID },
	{ "tru", OK_PREFIX, KV_INVALID },
	{ "-", OK_PREFIX, KV_INVALID },
	{ "1.", OK_PREFIX, KV_INVALID },
	{ "1e", OK_PREFIX, KV_INVALID },
	{ "1e+", OK_PREFIX, KV_INVALID },
	{ "[1", OK_PREFIX, KV_INVALID },
	{ "{\"a\"", OK_PREFIX, KV_INVALID },
	{ "{\"a\":", OK_PREFIX, KV_INVALID },
	{ "[1,", OK_PREFIX, KV_INVALID },
	{ "\"\\u12", OK_PREFIX, KV_INVALID },
	{ "\"\xe2\x82", OK_PREFIX, KV_INVALID },
	/* refused, at the first byte that rules the document out */
	{ "hello", 0, 0 },
	{ "{\"a\":1}x", 7, 0 },
	{ "1 2", 2, 0 },
	{ "{} {}", 3, 0 },
	{ "[1,]", 3, 0 },
	{ "[,1]", 1, 0 },
	{ "{,}", 1, 0 },
	{ "{\"a\" 1}", 5, 0 },
	{ "{\"a\":1,}", 7, 0 },
	{ "{1:2}", 1, 0 },
	{ "[1}", 2, 0 },
	{ "{\"a\":1]", 6, 0 },
	{ "]", 0, 0 },
	{ "01", 1, 0 },
	{ "-01", 2, 0 },
	{ "+1", 0, 0 },
	{ ".5", 0, 0 },
	{ "1.e5", 2, 0 },
	{ "1e+-5", 3, 0 },
	{ "--1", 1, 0 },
	{ "NaN", 0, 0 },
	{ "Infinity", 0, 0 },
	{ "nul", OK_PREFIX, KV_INVALID },
	{ "nulL", 3, 0 },
	{ "truex", 4, 0 },
	{ "[true false]", 6, 0 },
	{ "\"a\nb\"", 2, 0 },
	{ "\"\\x\"", 2, 0 },
	{ "\"\\u12g4\"", 5, 0 },
	{ "'a'", 0, 0 },
	{ "\"\xff\"", 1, 0 },
	{ "\"\xc0\x80\"", 1, 0 },                 /* overlong NUL */
	{ "\"\xe0\x80\x80\"", 2, 0 },             /* overlong */
	{ "\"\xed\xa0\x80\"", 2, 0 },             /* surrogate */
	{ "\"\xf4\x90\x80\x80\"", 2, 0 },         /* above U+10FFFF */
	{ "\"\xc3\x28\"", 2, 0 },                 /* missing continuation */
	{ "\xef\xbb\xbf{}", 0, 0 },               /* a BOM is not JSON */
	{ "\xc3\xa9", 0, 0 },
	{ "[1]\t\v", 4, 0 },
	{ "/* c */ 1", 0, 0 },
};

/* Index of the first refused byte when fed one byte at a time, or OK_PREFIX. */
static long fail_index(const char *text, size_t len, int *finish)
{
	kv_json_check *c;
	long at = OK_PREFIX;

	CHECK_RC(kv_json_check_new(&c), KV_OK);
	for (size_t i = 0; i < len; i++)
		if (kv_json_check_feed(c, text + i, 1) != KV_OK) {
			at = (long) i;
			break;
		}
	*finish = kv_json_check_finish(c);
	kv_json_check_free(c);
	return at;
}

static void test_jsoncheck__table(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		size_t len = strlen(r->text);
		int finish;
		long at = fail_index(r->text, len, &finish);
		if (at != r->fail_at) {
			printf("# row %zu: refused at %ld, want %ld\n", i, at, r->fail_at);
			test_cur_failed = 1;
		}
		if (r->fail_at == OK_PREFIX && finish != r->complete) {
			printf("# row %zu: finish gave %d, want %d\n", i, finish, r->complete);
			test_cur_failed = 1;
		}
		if (r->fail_at != OK_PREFIX)
			CHECK(finish == KV_INVALID);

		/* one-shot feeding gives the same verdicts */
		kv_json_check *c;
		CHECK_RC(kv_json_check_new(&c), KV_OK);
		int rc = kv_json_check_feed(c, r->text, len);
		CHECK(rc == (r->fail_at == OK_PREFIX ? KV_OK : KV_INVALID));
		if (rc == KV_OK)
			CHECK(kv_json_check_finish(c) == r->complete);
		/* a refusal is sticky */
		if (rc != KV_OK) {
			CHECK_RC(kv_json_check_feed(c, " ", 1), KV_INVALID);
			CHECK_RC(kv_json_check_finish(c), KV_INVALID);
		}
		kv_json_check_free(c);
	}
}

/* NUL is refused like any other stray byte, also after a document. */
static void test_jsoncheck__nul_bytes(void)
{
	int finish;
	CHECK(fail_index("{\"a\":1}\0", 8, &finish) == 7);
	CHECK(fail_index("\"a\0\"", 4, &finish) == 2);
	CHECK(fail_index("\0", 1, &finish) == 0);
}

static uint64_t rng_state = 0x853C49E6748FEA9Bull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* Random chunk boundaries never change the verdict. */
static void test_jsoncheck__chunked_equals_one_shot(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *t = rows[i].text;
		size_t len = strlen(t);
		int whole_ok, whole_fin;
		kv_json_check *c;

		kv_json_check_new(&c);
		whole_ok = kv_json_check_feed(c, t, len);
		whole_fin = kv_json_check_finish(c);
		kv_json_check_free(c);
		for (int rep = 0; rep < 50; rep++) {
			int ok = KV_OK;
			kv_json_check_new(&c);
			for (size_t pos = 0; pos < len && ok == KV_OK; ) {
				size_t n = rnd() % (len - pos + 1);
				ok = kv_json_check_feed(c, t + pos, n);   /* empty chunks too */
				pos += n;
			}
			CHECK(ok == whole_ok);
			CHECK(kv_json_check_finish(c) == whole_fin);
			kv_json_check_free(c);
		}
	}
}

static void test_jsoncheck__depth_limit(void)
{
	/* one level more than a value's text, so the value reader says why it is too deep */
	enum { MAX = KV_MAX_JSON_DEPTH + 1 };
	static char deep[2 * MAX + 1];
	kv_json_check *c;

	memset(deep, '[', MAX);
	memset(deep + MAX, ']', MAX);
	kv_json_check_new(&c);
	CHECK_RC(kv_json_check_feed(c, deep, 2 * MAX), KV_OK);
	CHECK_RC(kv_json_check_finish(c), KV_OK);
	kv_json_check_free(c);

	kv_json_check_new(&c);
	CHECK_RC(kv_json_check_feed(c, deep, MAX), KV_OK);
	CHECK_RC(kv_json_check_feed(c, "[", 1), KV_INVALID);
	kv_json_check_free(c);

	/* alternating containers are tracked at every level */
	char mixed[2 * 4000 + 1];
	size_t n = 0;
	for (int i = 0; i < 2000; i++) {
		mixed[n++] = i % 2 ? '[' : '{';
		if (i % 2 == 0) {
			memcpy(mixed + n, "\"k\":", 4);
			n += 4;
		}
	}
	kv_json_check_new(&c);
	CHECK_RC(kv_json_check_feed(c, mixed, n), KV_OK);
	for (int i = 1999; i >= 0; i--)
		CHECK_RC(kv_json_check_feed(c, i % 2 ? "]" : "}", 1), KV_OK);
	CHECK_RC(kv_json_check_finish(c), KV_OK);
	kv_json_check_free(c);
}

static void test_jsoncheck__large_stream(void)
{
	/* a long array costs no memory beyond the checker itself */
	kv_json_check *c;
	kv_json_check_new(&c);
	CHECK_RC(kv_json_check_feed(c, "[", 1), KV_OK);
	static const char item[] = "\"abc\xc3\xa9\", 12.5e3, ";
	int rc = KV_OK;
	for (int i = 0; i < 100000 && rc == KV_OK; i++)
		rc = kv_json_check_feed(c, item, sizeof(item) - 1);
	CHECK_RC(rc, KV_OK);
	CHECK_RC(kv_json_check_feed(c, "null]", 5), KV_OK);
	CHECK_RC(kv_json_check_finish(c), KV_OK);
	kv_json_check_free(c);
}

int main(void)
{
	RUN(test_jsoncheck__table);
	RUN(test_jsoncheck__nul_bytes);
	RUN(test_jsoncheck__chunked_equals_one_shot);
	RUN(test_jsoncheck__depth_limit);
	RUN(test_jsoncheck__large_stream);
	return DONE();
}
