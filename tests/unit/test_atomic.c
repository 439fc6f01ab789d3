/*
 * test_atomic.c - atomic commits: checks, mutation order, KvU64 sum/min/max,
 * all-or-nothing on type errors, versionstamps.
 */
#include <stdint.h>
#include "test.h"

static size_t skey(const char *s, uint8_t *out)
{
	size_t n = strlen(s);
	out[0] = 0x02;
	memcpy(out + 1, s, n);
	out[n + 1] = 0x00;
	return n + 2;
}

static void u64le(uint64_t v, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t) (v >> (8 * i));
}

/* The KvU64 stored at ["s"], or a sentinel when absent or not a KvU64. */
static uint64_t get_u64(kv_db *db, const char *s)
{
	uint8_t k[64];
	kv_entry *e = NULL;
	uint64_t v = 0xdeadbeef;
	if (kv_get(db, k, skey(s, k), &e) == KV_OK && e->encoding == KV_ENCODING_U64 &&
	    e->value_len == 8) {
		v = 0;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | e->value[i];
	}
	kv_free(e);
	return v;
}

static int exists(kv_db *db, const char *s)
{
	uint8_t k[64];
	kv_entry *e = NULL;
	int rc = kv_get(db, k, skey(s, k), &e);
	kv_free(e);
	return rc == KV_OK;
}

static uint64_t dbversion(kv_db *db)
{
	uint64_t v = 0;
	kv_version(db, &v);
	return v;
}

static void test_atomic__checks(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t k[16], k2[16];
	size_t kl = skey("c", k), k2l = skey("other", k2);
	uint64_t v1 = 0, v2 = 0, before;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	/* absent check passes on a missing key */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, k, kl, NULL), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "1", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, &v1), KV_OK);
	/* absent check now fails; nothing applied, no version consumed */
	before = dbversion(db);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, k, kl, NULL), KV_OK);
	CHECK_RC(kv_atomic_set(a, k2, k2l, KV_ENCODING_BYTES, "x", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_CONFLICT);
	CHECK(!exists(db, "other"));
	CHECK(dbversion(db) == before);
	/* versionstamp check: the right one passes, a stale one fails */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, k, kl, &v1), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "2", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, &v2), KV_OK);
	CHECK(v2 > v1);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, k, kl, &v1), KV_OK);
	CHECK_RC(kv_atomic_delete(a, k, kl), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_CONFLICT);
	CHECK(exists(db, "c"));
	/* a versionstamp check on an absent key fails */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, k2, k2l, &v2), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_CONFLICT);
	kv_close(db);
}

static void test_atomic__last_mutation_wins(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t k[16];
	size_t kl = skey("m", k);
	kv_entry *e = NULL;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "a", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_delete(a, k, kl), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_OK);
	CHECK(!exists(db, "m"));
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_delete(a, k, kl), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "b", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "c", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_OK);
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	if (e)
		CHECK_MEM(e->value, e->value_len, "c", 1);
	kv_free(e);
	/* two sums accumulate */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_sum(a, k, kl, 0), KV_OK);
	kv_atomic_abort(a);
	uint8_t n[16];
	size_t nl = skey("n", n);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_sum(a, n, nl, 2), KV_OK);
	CHECK_RC(kv_atomic_sum(a, n, nl, 3), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_OK);
	CHECK(get_u64(db, "n") == 5);
	kv_close(db);
}

static uint64_t one_op(kv_db *db, int op, const char *s, uint64_t operand, int want)
{
	kv_atomic *a;
	uint8_t k[64];
	size_t kl = skey(s, k);
	uint64_t v = 0;
	kv_atomic_begin(db, &a);
	if (op == 0)
		kv_atomic_sum(a, k, kl, operand);
	else if (op == 1)
		kv_atomic_min(a, k, kl, operand);
	else
		kv_atomic_max(a, k, kl, operand);
	CHECK_RC(kv_atomic_commit(a, &v), want);
	return v;
}

static void test_atomic__sum_min_max(void)
{
	kv_db *db;
	uint8_t k[16], le[8];
	size_t kl = skey("s", k);
	kv_entry *e = NULL;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	/* missing key takes the operand */
	one_op(db, 0, "s", 12, KV_OK);
	CHECK(get_u64(db, "s") == 12);
	/* sum wraps modulo 2^64: 12 + (2^64 - 1) = 11 */
	one_op(db, 0, "s", UINT64_MAX, KV_OK);
	CHECK(get_u64(db, "s") == 11);
	one_op(db, 1, "s", 20, KV_OK);
	CHECK(get_u64(db, "s") == 11);
	one_op(db, 1, "s", 3, KV_OK);
	CHECK(get_u64(db, "s") == 3);
	/* unsigned: 2^63 is larger than 3 */
	one_op(db, 2, "s", (uint64_t) 1 << 63, KV_OK);
	CHECK(get_u64(db, "s") == (uint64_t) 1 << 63);
	one_op(db, 2, "s", 7, KV_OK);
	CHECK(get_u64(db, "s") == (uint64_t) 1 << 63);
	one_op(db, 1, "newmin", 9, KV_OK);
	CHECK(get_u64(db, "newmin") == 9);
	one_op(db, 2, "newmax", 0, KV_OK);
	CHECK(get_u64(db, "newmax") == 0);
	/* the result never expires, even over an expiring KvU64 */
	u64le(40, le);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_U64, le, 8, 3600000, NULL), KV_OK);
	one_op(db, 0, "s", 2, KV_OK);
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	if (e) {
		CHECK(e->expires_at == -1);
		CHECK(e->encoding == KV_ENCODING_U64);
		u64le(42, le);
		CHECK_MEM(e->value, e->value_len, le, 8);
	}
	kv_free(e);
	kv_close(db);
}

/* Unlike Deno, a failing sum applies nothing of its commit. */
static void test_atomic__wrong_type_applies_nothing(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t k[16], p[16];
	size_t kl = skey("a", k), pl = skey("partial", p);
	static const char *const ops[] = { "sum", "min", "max" };

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_V8, "\xff\x10\x49\x02", 4, -1, NULL), KV_OK);
	for (int op = 0; op < 3; op++) {
		uint64_t before = dbversion(db);
		CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
		CHECK_RC(kv_atomic_set(a, p, pl, KV_ENCODING_BYTES, "x", 1, -1), KV_OK);
		if (op == 0)
			CHECK_RC(kv_atomic_sum(a, k, kl, 1), KV_OK);
		else if (op == 1)
			CHECK_RC(kv_atomic_min(a, k, kl, 1), KV_OK);
		else
			CHECK_RC(kv_atomic_max(a, k, kl, 1), KV_OK);
		CHECK_RC(kv_atomic_commit(a, NULL), KV_TYPE);
		char want[128];
		snprintf(want, sizeof(want), "Failed to perform '%s' mutation on a non-U64"
		         " value in the database", ops[op]);
		CHECK_STR(kv_errmsg(db), want);
		CHECK(!exists(db, "partial"));
		CHECK(dbversion(db) == before);
	}
	/* bytes that look like 8 bytes but are not a KvU64 also count as wrong type */
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "12345678", 8, -1, NULL), KV_OK);
	one_op(db, 0, "a", 1, KV_TYPE);
	kv_close(db);
}

static void test_atomic__versionstamps_increase(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t k[16];
	size_t kl = skey("v", k);
	uint64_t last = 0, v = 0;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	for (int i = 0; i < 200; i++) {
		CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
		if (i % 3 == 0)
			CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "v", 1, -1), KV_OK);
		else if (i % 3 == 1)
			CHECK_RC(kv_atomic_delete(a, k, kl), KV_OK);
		/* i % 3 == 2: an empty commit still takes a version */
		CHECK_RC(kv_atomic_commit(a, &v), KV_OK);
		CHECK(v > last && v - last <= 9);
		CHECK(dbversion(db) == v);
		last = v;
	}
	kv_close(db);
}

static void test_atomic__sticky_failure(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t k[16];
	size_t kl = skey("s", k);

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, 0, KV_ENCODING_BYTES, "x", 1, -1), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "key cannot be empty");
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "x", 1, -1), KV_MISUSE);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_MISUSE);
	CHECK(!exists(db, "s"));
	/* bad encodings */
	CHECK_RC(kv_set(db, k, kl, 4, "x", 1, -1, NULL), KV_INVALID);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_U64, "1234", 4, -1, NULL), KV_INVALID);
	CHECK_RC(kv_set(db, "\x02\x61", 2, KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_INVALID);
	CHECK(!exists(db, "s"));
	kv_close(db);
}

struct seen {
	char keys[8][8];
	uint64_t versions[8];
	int n;
};

static void note_change(void *ctx, const uint8_t *key, size_t key_len, uint64_t version)
{
	struct seen *s = ctx;
	if (s->n < 8 && key_len >= 2 && key_len - 2 < sizeof(s->keys[0])) {
		memcpy(s->keys[s->n], key + 1, key_len - 2);
		s->keys[s->n][key_len - 2] = '\0';
		s->versions[s->n] = version;
	}
	s->n++;
}

/* kv_on_change hears of every key a commit changes, with its version; failures say nothing. */
static void test_atomic__change_observer(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t k1[16], k2[16], c[16];
	size_t l1 = skey("a", k1), l2 = skey("b", k2), lc = skey("c", c);
	uint64_t v1 = 0, v2 = 0, v3 = 0;
	struct seen s = { .n = 0 };

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	kv_on_change(db, note_change, &s);
	CHECK_RC(kv_set(db, k1, l1, KV_ENCODING_BYTES, "x", 1, -1, &v1), KV_OK);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_delete(a, k1, l1), KV_OK);
	CHECK_RC(kv_atomic_set(a, k2, l2, KV_ENCODING_BYTES, "y", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_sum(a, c, lc, 1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, &v2), KV_OK);
	/* a failed check, and a sum on a value that is not a KvU64, change nothing */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, k1, l1, &v1), KV_OK);
	CHECK_RC(kv_atomic_set(a, k1, l1, KV_ENCODING_BYTES, "z", 1, -1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_CONFLICT);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_sum(a, k2, l2, 1), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_TYPE);
	CHECK_RC(kv_delete(db, k2, l2, &v3), KV_OK);
	CHECK(s.n == 5);
	CHECK_STR(s.keys[0], "a");
	CHECK(s.versions[0] == v1);
	CHECK_STR(s.keys[1], "a");
	CHECK_STR(s.keys[2], "b");
	CHECK_STR(s.keys[3], "c");
	CHECK(s.versions[1] == v2 && s.versions[2] == v2 && s.versions[3] == v2);
	CHECK_STR(s.keys[4], "b");
	CHECK(s.versions[4] == v3 && v3 > v2 && v2 > v1);
	kv_on_change(db, NULL, NULL);
	CHECK_RC(kv_set(db, k1, l1, KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_OK);
	CHECK(s.n == 5);
	kv_close(db);
}

/* The two-part key [a, b] of strings. */
static size_t skey2(const char *a, const char *b, uint8_t *out)
{
	size_t n = skey(a, out);
	return n + skey(b, out + n);
}

static int value_is(kv_db *db, const uint8_t *k, size_t kl, const char *want,
                    kv_entry **keep)
{
	kv_entry *e = NULL;
	int ok = kv_get(db, k, kl, &e) == KV_OK && e->value_len == strlen(want) &&
	         memcmp(e->value, want, e->value_len) == 0;
	if (keep && ok)
		*keep = e;
	else
		kv_free(e);
	return ok;
}

/*
 * kv_atomic_move reads what it moves inside the commit: a key set after
 * the move was built moves with that value; the destination must be
 * empty then; the limits hold; nothing else moves.
 */
static void test_atomic__move(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t d[16], m[16], da[32], db_[32], dc[32], ma[32], mb[32], mc[32], ddz[32], mz[32];
	size_t dl = skey("d", d), ml = skey("m", m);
	size_t dal = skey2("d", "a", da), dbl = skey2("d", "b", db_), dcl = skey2("d", "c", dc);
	size_t mal = skey2("m", "a", ma), mbl = skey2("m", "b", mb), mcl = skey2("m", "c", mc);
	size_t ddzl = skey2("dd", "z", ddz), mzl = skey2("m", "z", mz);
	uint64_t v = 0, before = 0;
	kv_entry *e = NULL;
	struct seen s = { .n = 0 };

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	CHECK_RC(kv_set(db, d, dl, KV_ENCODING_BYTES, "own", 3, -1, NULL), KV_OK);
	CHECK_RC(kv_set(db, da, dal, KV_ENCODING_BYTES, "old", 3, -1, NULL), KV_OK);
	CHECK_RC(kv_set(db, db_, dbl, KV_ENCODING_BYTES, "b", 1, 3600000, NULL), KV_OK);
	CHECK_RC(kv_set(db, ddz, ddzl, KV_ENCODING_BYTES, "z", 1, -1, NULL), KV_OK);
	CHECK(value_is(db, db_, dbl, "b", &e));
	int64_t expires = e ? e->expires_at : 0;
	kv_free(e);
	e = NULL;

	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move(a, d, dl, m, ml), KV_OK);
	/* another writer, after the move was built and before it commits */
	CHECK_RC(kv_set(db, da, dal, KV_ENCODING_BYTES, "new", 3, -1, NULL), KV_OK);
	CHECK_RC(kv_set(db, dc, dcl, KV_ENCODING_BYTES, "c", 1, -1, NULL), KV_OK);
	kv_on_change(db, note_change, &s);
	CHECK_RC(kv_atomic_commit(a, &v), KV_OK);
	kv_on_change(db, NULL, NULL);
	CHECK(value_is(db, m, ml, "own", NULL));
	CHECK(value_is(db, ma, mal, "new", &e));
	CHECK(e && e->version == v);
	kv_free(e);
	e = NULL;
	CHECK(value_is(db, mb, mbl, "b", &e));
	CHECK(e && e->expires_at == expires);
	kv_free(e);
	e = NULL;
	CHECK(value_is(db, mc, mcl, "c", NULL));
	CHECK(!value_is(db, d, dl, "own", NULL) && !value_is(db, da, dal, "new", NULL));
	CHECK(value_is(db, ddz, ddzl, "z", NULL));      /* ["dd"] is not under ["d"] */
	CHECK(s.n == 8);                                 /* 4 keys left, 4 arrived */
	CHECK(s.versions[0] == v && s.versions[7] == v);

	/* a key at the destination: nothing moves */
	CHECK_RC(kv_set(db, dc, dcl, KV_ENCODING_BYTES, "c2", 2, -1, NULL), KV_OK);
	CHECK_RC(kv_version(db, &before), KV_OK);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move(a, d, dl, m, ml), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_CONFLICT);
	CHECK(value_is(db, dc, dcl, "c2", NULL) && value_is(db, mc, mcl, "c", NULL));
	CHECK(dbversion(db) == before);

	/* into itself or its parent: refused when built */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move(a, m, ml, mz, mzl), KV_INVALID);
	kv_atomic_abort(a);

	/* 501 keys are 1002 mutations: too many, nothing moves */
	for (int i = 0; i < 501; i++) {
		char n[16];
		uint8_t k[32];
		snprintf(n, sizeof(n), "k%d", i);
		CHECK_RC(kv_set(db, k, skey2("big", n, k), KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_OK);
	}
	uint8_t big[16], to[16], first[32];
	size_t bl = skey("big", big), tl = skey("to", to), fl = skey2("big", "k0", first);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move(a, big, bl, to, tl), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_TOOBIG);
	CHECK(value_is(db, first, fl, "x", NULL));
	uint8_t tk0[32];
	CHECK(!value_is(db, tk0, skey2("to", "k0", tk0), "x", NULL));
	kv_close(db);
}

/*
 * kv_atomic_move_some moves as many keys as one commit takes, in key
 * order; the destination may hold what earlier commits moved, and a key
 * written again at the source moves again.
 */
static void test_atomic__move_some(void)
{
	kv_db *db;
	kv_atomic *a;
	uint8_t big[16], to[16], k[32];
	size_t bl = skey("big", big), tl = skey("to", to);
	char n[16];

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	for (int i = 0; i < 1200; i++) {
		snprintf(n, sizeof(n), "k%04d", i);
		CHECK_RC(kv_set(db, k, skey2("big", n, k), KV_ENCODING_BYTES, n, 5, -1, NULL), KV_OK);
	}
	int commits = 0, left = 1;
	while (left && commits < 10) {
		CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
		CHECK_RC(kv_atomic_move_some(a, big, bl, to, tl), KV_OK);
		CHECK_RC(kv_atomic_commit(a, NULL), KV_OK);
		commits++;
		kv_entry *e = NULL;
		left = kv_lookup(db, big, bl, &e) == KV_OK;
		kv_free(e);
		if (commits == 1) {
			/* 500 keys, the first 500 in key order: 1000 mutations */
			CHECK(value_is(db, k, skey2("to", "k0499", k), "k0499", NULL));
			CHECK(!value_is(db, k, skey2("to", "k0500", k), "k0500", NULL));
			CHECK(value_is(db, k, skey2("big", "k0500", k), "k0500", NULL));
		}
	}
	CHECK(commits == 3);
	int all = 1;
	for (int i = 0; i < 1200; i++) {
		snprintf(n, sizeof(n), "k%04d", i);
		all &= value_is(db, k, skey2("to", n, k), n, NULL);
	}
	CHECK(all);

	/* a key written again under the source after it moved: it moves again, newest value */
	CHECK_RC(kv_set(db, k, skey2("big", "k0007", k), KV_ENCODING_BYTES, "new", 3, -1, NULL), KV_OK);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move_some(a, big, bl, to, tl), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_OK);
	CHECK(value_is(db, k, skey2("to", "k0007", k), "new", NULL));
	CHECK(!value_is(db, k, skey2("big", "k0007", k), "new", NULL));

	/* a sibling that is the source's name and a NUL more is not inside it */
	static const uint8_t anul[] = { 0x02, 'a', 0x00, 0xFF, 0x00 };
	uint8_t ka[16];
	size_t kal = skey("a", ka);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move_some(a, ka, kal, anul, sizeof(anul)), KV_OK);
	kv_atomic_abort(a);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_move(a, anul, sizeof(anul), ka, kal), KV_OK);
	kv_atomic_abort(a);
	kv_close(db);
}

int main(void)
{
	RUN(test_atomic__checks);
	RUN(test_atomic__last_mutation_wins);
	RUN(test_atomic__sum_min_max);
	RUN(test_atomic__wrong_type_applies_nothing);
	RUN(test_atomic__versionstamps_increase);
	RUN(test_atomic__sticky_failure);
	RUN(test_atomic__change_observer);
	RUN(test_atomic__move);
	RUN(test_atomic__move_some);
	return DONE();
}
