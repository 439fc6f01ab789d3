/*
 * test_limits.c - Deno's limits: for each, the result code, Deno's exact
 * message, and that nothing was stored (no row, no version consumed).
 */
#include <stdint.h>
#include "test.h"

static kv_db *db;
static uint8_t buf[70000];

/* A well-formed key ["xxx...x"] of exactly `len` bytes (len >= 2). */
static size_t key_of(size_t len, char fill, uint8_t *k)
{
	k[0] = 0x02;
	memset(k + 1, fill, len - 2);
	k[len - 1] = 0x00;
	return len;
}

static uint64_t version_now(void)
{
	uint64_t v = 0;
	kv_version(db, &v);
	return v;
}

static size_t count_rows(void)
{
	kv_selector all = { .prefix = "", .prefix_len = 0 };
	kv_iter *it;
	const kv_entry *e;
	size_t n = 0;
	if (kv_list(db, &all, NULL, &it))
		return (size_t) -1;
	while (kv_iter_next(it, &e) == KV_OK)
		n++;
	kv_iter_free(it);
	return n;
}

#define REFUSED(call, code, msg) do { \
	uint64_t v0_ = version_now(); \
	size_t n0_ = count_rows(); \
	CHECK_RC(call, code); \
	CHECK_STR(kv_errmsg(db), msg); \
	CHECK(version_now() == v0_); \
	CHECK(count_rows() == n0_); \
} while (0)

static void test_limits__key_size(void)
{
	uint8_t k[2100];
	kv_entry *e = NULL;
	kv_atomic *a;

	CHECK_RC(kv_set(db, k, key_of(2048, 'k', k), KV_ENCODING_BYTES, "v", 1, -1, NULL), KV_OK);
	REFUSED(kv_set(db, k, key_of(2049, 'k', k), KV_ENCODING_BYTES, "v", 1, -1, NULL),
	        KV_TOOBIG_KEY, "Key too large for write (max 2048 bytes)");
	REFUSED(kv_delete(db, k, key_of(2049, 'k', k), NULL),
	        KV_TOOBIG_KEY, "Key too large for write (max 2048 bytes)");
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	REFUSED(kv_atomic_check(a, k, key_of(2049, 'k', k), NULL),
	        KV_TOOBIG_KEY, "Key too large for write (max 2048 bytes)");
	kv_atomic_abort(a);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	REFUSED(kv_atomic_sum(a, k, key_of(2049, 'k', k), 1),
	        KV_TOOBIG_KEY, "Key too large for write (max 2048 bytes)");
	kv_atomic_abort(a);
	/* reads allow one byte more */
	CHECK_RC(kv_get(db, k, key_of(2049, 'k', k), &e), KV_NOTFOUND);
	REFUSED(kv_get(db, k, key_of(2050, 'k', k), &e),
	        KV_TOOBIG_KEY, "Key too large for read (max 2049 bytes)");
	REFUSED(kv_lookup(db, k, key_of(2050, 'k', k), &e),
	        KV_TOOBIG_KEY, "Key too large for read (max 2049 bytes)");
	/* empty keys */
	REFUSED(kv_set(db, k, 0, KV_ENCODING_BYTES, "v", 1, -1, NULL),
	        KV_INVALID, "key cannot be empty");
	REFUSED(kv_delete(db, k, 0, NULL), KV_INVALID, "key cannot be empty");
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	REFUSED(kv_atomic_check(a, k, 0, NULL), KV_INVALID, "key cannot be empty");
	kv_atomic_abort(a);
	/* get of the empty key: nothing there, no error (as Deno) */
	CHECK_RC(kv_get(db, k, 0, &e), KV_NOTFOUND);
}

static void test_limits__value_size(void)
{
	uint8_t k[16];
	size_t kl = key_of(4, 'v', k);
	kv_atomic *a;

	memset(buf, 'x', sizeof(buf));
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_V8, buf, 65536, -1, NULL), KV_OK);
	CHECK_RC(kv_delete(db, k, kl, NULL), KV_OK);
	REFUSED(kv_set(db, k, kl, KV_ENCODING_V8, buf, 65537, -1, NULL),
	        KV_TOOBIG_VALUE, "Value too large (max 65536 bytes)");
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, "ok", 2, -1), KV_OK);
	REFUSED(kv_atomic_set(a, k, kl, KV_ENCODING_BYTES, buf, 65537, -1),
	        KV_TOOBIG_VALUE, "Value too large (max 65536 bytes)");
	REFUSED(kv_atomic_commit(a, NULL), KV_MISUSE, "atomic operation already failed");
	REFUSED(kv_set(db, k, kl, KV_ENCODING_U64, buf, 7, -1, NULL),
	        KV_INVALID, "a KvU64 value must be 8 bytes, not 7");
	REFUSED(kv_set(db, k, kl, 0, buf, 1, -1, NULL),
	        KV_INVALID, "The value encoding 0 is unknown.");
	REFUSED(kv_set(db, k, kl, KV_ENCODING_V8, buf, 1, INT64_MAX / 2, NULL),
	        KV_INVALID, "Invalid mutation: expireIn is too large: 4611686018427387903");
}

static void test_limits__counts(void)
{
	uint8_t k[16];
	kv_atomic *a;

	/* 100 checks pass, the 101st fails */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	for (int i = 0; i < 100; i++)
		CHECK_RC(kv_atomic_check(a, k, key_of(4, 'c', k), NULL), KV_OK);
	REFUSED(kv_atomic_check(a, k, key_of(4, 'c', k), NULL),
	        KV_TOOBIG, "Too many checks (max 100)");
	kv_atomic_abort(a);
	/* 1000 mutations commit, the 1001st fails and nothing is stored */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	for (int i = 0; i < 1000; i++)
		CHECK_RC(kv_atomic_delete(a, k, key_of(4, 'm', k)), KV_OK);
	CHECK_RC(kv_atomic_commit(a, NULL), KV_OK);
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	for (int i = 0; i < 1000; i++)
		CHECK_RC(kv_atomic_set(a, k, key_of(4, 'm', k), KV_ENCODING_BYTES, "", 0, -1), KV_OK);
	REFUSED(kv_atomic_set(a, k, key_of(4, 'm', k), KV_ENCODING_BYTES, "", 0, -1),
	        KV_TOOBIG, "Too many mutations (max 1000)");
	REFUSED(kv_atomic_commit(a, NULL), KV_MISUSE, "atomic operation already failed");
	/* get_many: 10 keys fine, 11 refused */
	const void *keys[11];
	size_t lens[11];
	kv_entry *out[11];
	for (int i = 0; i < 11; i++) {
		keys[i] = k;
		lens[i] = 4;
	}
	CHECK_RC(kv_get_many(db, 10, keys, lens, out), KV_OK);
	REFUSED(kv_get_many(db, 11, keys, lens, out), KV_TOOBIG, "Too many ranges (max 10)");
}

static void test_limits__total_sizes(void)
{
	uint8_t k[2100];
	kv_atomic *a;

	/* keys: 40 set keys of 2048 bytes = 81920 fit, one more byte does not */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	for (int i = 0; i < 40; i++)
		CHECK_RC(kv_atomic_set(a, k, key_of(2048, 'a' + (char) (i % 26), k),
		                       KV_ENCODING_BYTES, "", 0, -1), KV_OK);
	REFUSED(kv_atomic_sum(a, k, key_of(2, 'z', k), 1),
	        KV_TOOBIG, "Total key size too large (max 81920 bytes)");
	kv_atomic_abort(a);
	/* deletes do not count as key size, only as mutation size */
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	for (int i = 0; i < 60; i++)
		CHECK_RC(kv_atomic_delete(a, k, key_of(2048, 'd', k)), KV_OK);
	kv_atomic_abort(a);
	/* total: 12 values of 65536 + keys, then over 819200 */
	memset(buf, 'x', sizeof(buf));
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	size_t total = 0;
	int i = 0, rc = KV_OK;
	for (; rc == KV_OK; i++) {
		rc = kv_atomic_set(a, k, key_of(10, 'a' + (char) i, k), KV_ENCODING_BYTES,
		                   buf, 65536, -1);
		if (rc == KV_OK)
			total += 2 * 10 + 65536;
	}
	CHECK_RC(rc, KV_TOOBIG);
	CHECK_STR(kv_errmsg(db), "Total mutation size too large (max 819200 bytes)");
	CHECK(total <= 819200 && total + 20 + 65536 > 819200);
	REFUSED(kv_atomic_commit(a, NULL), KV_MISUSE, "atomic operation already failed");
}

int main(void)
{
	if (kv_open(":memory:", 0, &db)) {
		printf("not ok 1 - open: %s\n", kv_errmsg(NULL));
		return 1;
	}
	RUN(test_limits__key_size);
	RUN(test_limits__value_size);
	RUN(test_limits__counts);
	RUN(test_limits__total_sizes);
	kv_close(db);
	return DONE();
}
