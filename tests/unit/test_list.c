/*
 * test_list.c - kv_list selectors, limits, batches and cursors (byte-exact
 * against what Deno 2.9.6 printed for the same data), and the tree view
 * (kv_lookup, kv_children).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"

/* Keys of the Deno session the expected cursors come from. */
static const uint8_t K_A[] = { 0x02, 'a', 0x00 };
static const uint8_t K_A1N[] = { 0x02, 'a', 0x00, 0x15, 0x01 };
static const uint8_t K_A2N[] = { 0x02, 'a', 0x00, 0x15, 0x02 };
static const uint8_t K_A3N[] = { 0x02, 'a', 0x00, 0x15, 0x03 };
static const uint8_t K_A1[] = { 0x02, 'a', 0x00, 0x21, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0 };
static const uint8_t K_B[] = { 0x02, 'b', 0x00 };

static kv_db *deno_data(void)
{
	kv_db *db = NULL;
	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	const uint8_t *keys[] = { K_A1N, K_A2N, K_A3N, K_A1, K_B };
	size_t lens[] = { sizeof(K_A1N), sizeof(K_A2N), sizeof(K_A3N), sizeof(K_A1), sizeof(K_B) };
	for (int i = 0; i < 5; i++)
		CHECK_RC(kv_set(db, keys[i], lens[i], KV_ENCODING_V8, "\xff\x10\x49\x02", 4,
		                -1, NULL), KV_OK);
	return db;
}

/*
 * Run a listing; out gets "key-index@cursor ..." using the index of each
 * key in `names`, then "end:<cursor>". Returns the kv_list result.
 */
static const uint8_t *const names[] = { K_A1N, K_A2N, K_A3N, K_A1, K_B };
static const size_t name_lens[] = { sizeof(K_A1N), sizeof(K_A2N), sizeof(K_A3N),
                                    sizeof(K_A1), sizeof(K_B) };

static int run(kv_db *db, const kv_selector *sel, const kv_list_options *opt, char *out)
{
	kv_iter *it;
	const kv_entry *e;
	char *cur;
	int rc = kv_list(db, sel, opt, &it);
	out[0] = '\0';
	if (rc)
		return rc;
	while ((rc = kv_iter_next(it, &e)) == KV_OK) {
		int idx = -1;
		for (int i = 0; i < 5; i++)
			if (e->key_len == name_lens[i] && !memcmp(e->key, names[i], e->key_len))
				idx = i;
		CHECK_RC(kv_iter_cursor(it, &cur), KV_OK);
		sprintf(out + strlen(out), "%d@%s ", idx, cur ? cur : "?");
		kv_free(cur);
	}
	CHECK_RC(rc, KV_DONE);
	CHECK_RC(kv_iter_cursor(it, &cur), KV_OK);
	sprintf(out + strlen(out), "end:%s", cur ? cur : "?");
	kv_free(cur);
	kv_iter_free(it);
	return KV_OK;
}

static void test_list__cursors_match_deno(void)
{
	kv_db *db = deno_data();
	char out[512];
	kv_selector pa = { .prefix = K_A, .prefix_len = sizeof(K_A) };
	kv_list_options o = { 0 };

	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= 1@FQI= 2@FQM= 3@Ib_wAAAAAAAA end:");
	o.reverse = 1;
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "3@Ib_wAAAAAAAA 2@FQM= 1@FQI= 0@FQE= end:");
	/* stopping at the limit keeps the last cursor */
	o = (kv_list_options) { .limit = 1 };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= end:FQE=");
	/* start/end: the cursor base is their common prefix (02) */
	kv_selector se = { .start = K_A1, .start_len = sizeof(K_A1),
	                   .end = K_B, .end_len = sizeof(K_B) };
	o = (kv_list_options) { 0 };
	CHECK_RC(run(db, &se, &o, out), KV_OK);
	CHECK_STR(out, "3@YQAhv_AAAAAAAAA= end:");
	/* resuming */
	o = (kv_list_options) { .cursor = "FQE=" };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "1@FQI= 2@FQM= 3@Ib_wAAAAAAAA end:");
	o = (kv_list_options) { .cursor = "FQI=", .reverse = 1 };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= end:");
	o = (kv_list_options) { .cursor = "" };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= 1@FQI= 2@FQM= 3@Ib_wAAAAAAAA end:");
	o = (kv_list_options) { .cursor = "AA==" };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= 1@FQI= 2@FQM= 3@Ib_wAAAAAAAA end:");
	o = (kv_list_options) { .cursor = "AA==", .reverse = 1 };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "end:");
	o = (kv_list_options) { .cursor = "_w==" };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "end:");
	o = (kv_list_options) { .cursor = "_w==", .reverse = 1 };
	CHECK_RC(run(db, &pa, &o, out), KV_OK);
	CHECK_STR(out, "3@Ib_wAAAAAAAA 2@FQM= 1@FQI= 0@FQE= end:");
	kv_close(db);
}

static void test_list__cursor_bounds_match_deno(void)
{
	kv_db *db = deno_data();
	char out[512];
	kv_selector ps = { .prefix = K_A, .prefix_len = sizeof(K_A),
	                   .start = K_A2N, .start_len = sizeof(K_A2N) };
	kv_selector pe = { .prefix = K_A, .prefix_len = sizeof(K_A),
	                   .end = K_A2N, .end_len = sizeof(K_A2N) };
	kv_selector pa = { .prefix = K_A, .prefix_len = sizeof(K_A) };
	kv_list_options o;

	o = (kv_list_options) { .cursor = "FQE=" };
	CHECK_RC(run(db, &ps, &o, out), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "cursor out of bounds");
	o = (kv_list_options) { .cursor = "FQE=", .reverse = 1 };
	CHECK_RC(run(db, &ps, &o, out), KV_OK);
	CHECK_STR(out, "end:");
	o = (kv_list_options) { .cursor = "FQM=" };
	CHECK_RC(run(db, &pe, &o, out), KV_OK);
	CHECK_STR(out, "end:");
	o = (kv_list_options) { .cursor = "FQM=", .reverse = 1 };
	CHECK_RC(run(db, &pe, &o, out), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "cursor out of bounds");
	o = (kv_list_options) { .cursor = "FQI=", .reverse = 1 };
	CHECK_RC(run(db, &pe, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= end:");
	o = (kv_list_options) { .cursor = "FQI=" };
	CHECK_RC(run(db, &pe, &o, out), KV_OK);
	CHECK_STR(out, "end:");
	o = (kv_list_options) { .cursor = "!!" };
	CHECK_RC(run(db, &pa, &o, out), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "invalid cursor");
	/* prefix + start / prefix + end select the expected ranges */
	o = (kv_list_options) { 0 };
	CHECK_RC(run(db, &ps, &o, out), KV_OK);
	CHECK_STR(out, "1@FQI= 2@FQM= 3@Ib_wAAAAAAAA end:");
	CHECK_RC(run(db, &pe, &o, out), KV_OK);
	CHECK_STR(out, "0@FQE= end:");
	kv_close(db);
}

static void test_list__selector_errors(void)
{
	kv_db *db = deno_data();
	kv_iter *it = NULL;
	kv_selector s;
	kv_list_options o = { 0 };
	uint8_t big[2100];

	s = (kv_selector) { .prefix = K_A, .prefix_len = 3, .start = K_A1N, .start_len = 5,
	                    .end = K_A2N, .end_len = 5 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "Selector can not specify both 'start' and 'end' key"
	          " when specifying 'prefix'");
	s = (kv_selector) { .start = K_A1N, .start_len = 5 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "Selector must specify either 'prefix' or both 'start'"
	          " and 'end' key");
	s = (kv_selector) { .end = K_A1N, .end_len = 5 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	s = (kv_selector) { .prefix = K_A, .prefix_len = 3, .start = K_A, .start_len = 3 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "Start key is not in the keyspace defined by prefix");
	s = (kv_selector) { .prefix = K_A, .prefix_len = 3, .start = K_B, .start_len = 3 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	s = (kv_selector) { .prefix = K_A, .prefix_len = 3, .end = K_B, .end_len = 3 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "End key is not in the keyspace defined by prefix");
	s = (kv_selector) { .start = K_B, .start_len = 3, .end = K_A, .end_len = 3 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_INVALID);
	CHECK_STR(kv_errmsg(db), "Start key is greater than end key");
	/* start == end: empty, no error */
	s = (kv_selector) { .start = K_A1N, .start_len = 5, .end = K_A1N, .end_len = 5 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_OK);
	const kv_entry *e;
	CHECK_RC(kv_iter_next(it, &e), KV_DONE);
	kv_iter_free(it);
	s = (kv_selector) { .prefix = K_A, .prefix_len = 3 };
	o.batch_size = 1001;
	CHECK_RC(kv_list(db, &s, &o, &it), KV_TOOBIG);
	CHECK_STR(kv_errmsg(db), "Too many entries (max 1000)");
	memset(big, 0x01, sizeof(big));
	s = (kv_selector) { .prefix = big, .prefix_len = 2049 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_TOOBIG_KEY);
	CHECK_STR(kv_errmsg(db), "Key too large for read (max 2049 bytes)");
	/* cursor before the first next */
	s = (kv_selector) { .prefix = K_A, .prefix_len = 3 };
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_OK);
	char *cur = NULL;
	CHECK_RC(kv_iter_cursor(it, &cur), KV_MISUSE);
	kv_iter_free(it);
	kv_close(db);
}

/* Key ["n", i] with i as a 2-byte bigint (257..). */
static size_t nkey(int i, uint8_t *k)
{
	k[0] = 0x02; k[1] = 'n'; k[2] = 0x00;
	k[3] = 0x16; k[4] = (uint8_t) (i >> 8); k[5] = (uint8_t) i;
	return 6;
}

static void test_list__batches_and_limits(void)
{
	kv_db *db;
	uint8_t k[8], p[3] = { 0x02, 'n', 0x00 };
	kv_selector s = { .prefix = p, .prefix_len = 3 };
	kv_iter *it;
	const kv_entry *e;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	for (int i = 256; i < 256 + 25; i++)
		CHECK_RC(kv_set(db, k, nkey(i, k), KV_ENCODING_BYTES, "v", 1, -1, NULL), KV_OK);
	size_t batches[] = { 1, 3, 5, 7, 24, 25, 26, 1000 };
	for (int r = 0; r < 2; r++)
		for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++)
			for (size_t limit = 0; limit <= 30; limit += 6) {
				kv_list_options o = { .limit = limit, .batch_size = batches[b],
				                      .reverse = r };
				CHECK_RC(kv_list(db, &s, &o, &it), KV_OK);
				int n = 0, ok = 1;
				while (kv_iter_next(it, &e) == KV_OK) {
					int want = r ? 256 + 24 - n : 256 + n;
					ok &= e->key_len == 6 && e->key[4] == (want >> 8) &&
						e->key[5] == (uint8_t) want;
					n++;
				}
				CHECK(ok);
				CHECK(n == (limit && limit < 25 ? (int) limit : 25));
				kv_iter_free(it);
			}
	/* each batch is its own read: a key written between batches shows up */
	kv_list_options o = { .batch_size = 5 };
	CHECK_RC(kv_list(db, &s, &o, &it), KV_OK);
	int n = 0;
	while (kv_iter_next(it, &e) == KV_OK) {
		if (n++ == 0)
			CHECK_RC(kv_set(db, k, nkey(1000, k), KV_ENCODING_BYTES, "v", 1, -1, NULL),
			         KV_OK);
	}
	CHECK(n == 26);
	kv_iter_free(it);
	/* prefix [] lists everything */
	kv_selector all = { .prefix = "", .prefix_len = 0 };
	CHECK_RC(kv_list(db, &all, NULL, &it), KV_OK);
	n = 0;
	while (kv_iter_next(it, &e) == KV_OK)
		n++;
	CHECK(n == 26);
	kv_iter_free(it);
	kv_close(db);
}

/*
 * The cursor after each entry, at every batch size, resumes right after
 * that entry; so does the cursor kept when the limit stops the listing
 * at a batch's end.
 */
static void test_list__cursors_across_batches(void)
{
	kv_db *db;
	uint8_t k[8], p[3] = { 0x02, 'n', 0x00 };
	kv_selector s = { .prefix = p, .prefix_len = 3 };
	const kv_entry *e, *e2;
	kv_iter *it, *it2;
	char *cur;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	for (int i = 256; i < 256 + 25; i++)
		CHECK_RC(kv_set(db, k, nkey(i, k), KV_ENCODING_BYTES, "v", 1, -1, NULL), KV_OK);
	static const size_t batches[] = { 1, 2, 3, 5, 24, 25, 100 };
	for (int r = 0; r < 2; r++)
		for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
			kv_list_options o = { .batch_size = batches[b], .reverse = r };
			int n = 0, ok = 1;
			CHECK_RC(kv_list(db, &s, &o, &it), KV_OK);
			while (kv_iter_next(it, &e) == KV_OK) {
				n++;
				CHECK_RC(kv_iter_cursor(it, &cur), KV_OK);
				kv_list_options o2 = { .batch_size = 2, .reverse = r, .cursor = cur };
				CHECK_RC(kv_list(db, &s, &o2, &it2), KV_OK);
				int rc = kv_iter_next(it2, &e2);
				int next = r ? 256 + 24 - n : 256 + n;
				if (n == 25)
					ok &= rc == KV_DONE;
				else
					ok &= rc == KV_OK && e2->key_len == 6 && e2->key[4] == (next >> 8) &&
						e2->key[5] == (uint8_t) next;
				kv_iter_free(it2);
				kv_free(cur);
			}
			CHECK(ok);
			CHECK(n == 25);
			CHECK_RC(kv_iter_cursor(it, &cur), KV_OK);
			if (cur)
				CHECK_STR(cur, "");
			kv_free(cur);
			kv_iter_free(it);

			/* limit = 2 batches: stops without a refill, keeps the cursor */
			o.limit = 2 * batches[b] < 25 ? 2 * batches[b] : 24;
			CHECK_RC(kv_list(db, &s, &o, &it), KV_OK);
			while (kv_iter_next(it, &e) == KV_OK)
				;
			CHECK_RC(kv_iter_cursor(it, &cur), KV_OK);
			kv_list_options o3 = { .reverse = r, .cursor = cur };
			CHECK_RC(kv_list(db, &s, &o3, &it2), KV_OK);
			int last = r ? 256 + 24 - (int) o.limit : 256 + (int) o.limit;
			CHECK_RC(kv_iter_next(it2, &e2), KV_OK);
			if (e2)
				CHECK(e2->key[4] == (last >> 8) && e2->key[5] == (uint8_t) last);
			kv_iter_free(it2);
			kv_free(cur);
			kv_iter_free(it);
		}
	kv_close(db);
}

/* ---- tree view ---- */

static size_t key2(const char *a, const char *b, uint8_t *k)
{
	size_t n = 0;
	k[n++] = 0x02;
	memcpy(k + n, a, strlen(a));
	n += strlen(a);
	k[n++] = 0x00;
	if (b) {
		k[n++] = 0x02;
		memcpy(k + n, b, strlen(b));
		n += strlen(b);
		k[n++] = 0x00;
	}
	return n;
}

/*
 * A NUL in a string or byte part is 00 FF, so ["a\0b"] starts with the
 * bytes of ["a"]: a sibling, not a child. Listings must not take it for
 * one (a file shown as a directory).
 */
static void test_list__nul_sibling_is_not_a_child(void)
{
	static const uint8_t keys[][6] = {
		{ 0x01, 0x01, 0x00 },                    /* [0x01] */
		{ 0x01, 0x01, 0x00, 0xFF, 0x00 },        /* [0x0100] */
		{ 0x02, 0x00 },                          /* [""] */
		{ 0x02, 0x00, 0xFF, 0x00 },              /* ["\0"] */
		{ 0x02, 'c', 0x00 },                     /* ["c"] */
		{ 0x02, 'c', 0x00, 0xFF, 'd', 0x00 },    /* ["c\0d"] */
	};
	static const size_t lens[] = { 3, 5, 2, 4, 3, 6 };
	kv_db *db;
	kv_iter *it;
	const kv_entry *c;

	CHECK(!kv_key_under(keys[1], lens[1], keys[0], lens[0]));
	CHECK(!kv_key_under(keys[3], lens[3], keys[2], lens[2]));
	CHECK(!kv_key_under(keys[5], lens[5], keys[4], lens[4]));
	static const uint8_t c_true[] = { 0x02, 'c', 0x00, 0x27 };   /* ["c", true] */
	CHECK(kv_key_under(c_true, sizeof(c_true), keys[4], lens[4]));
	CHECK(!kv_key_under(keys[4], lens[4], keys[4], lens[4]));
	CHECK(kv_key_under(keys[4], lens[4], "", 0));

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	for (size_t i = 0; i < 6; i++)
		CHECK_RC(kv_set(db, keys[i], lens[i], KV_ENCODING_BYTES, "1", 1, -1, NULL), KV_OK);
	for (int names_only = 0; names_only < 2; names_only++) {
		CHECK_RC(names_only ? kv_children_keys(db, "", 0, NULL, 0, &it)
		                    : kv_children(db, "", 0, NULL, 0, &it), KV_OK);
		size_t n = 0;
		while (kv_iter_next(it, &c) == KV_OK && n < 6) {
			CHECK_MEM(c->key, c->key_len, keys[n], lens[n]);
			CHECK(c->flags == KV_ENTRY_VALUE);
			n++;
		}
		CHECK(n == 6);
		kv_iter_free(it);
	}
	kv_entry *e = NULL;
	for (size_t i = 0; i < 6; i += 2) {
		CHECK_RC(kv_lookup(db, keys[i], lens[i], &e), KV_OK);
		if (e)
			CHECK(e->flags == KV_ENTRY_VALUE);
		kv_free(e);
	}
	kv_close(db);
}

static void test_list__lookup_and_children(void)
{
	kv_db *db;
	uint8_t k[64], big[16];
	kv_entry *e = NULL;
	kv_iter *it;
	const kv_entry *c;

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	CHECK_RC(kv_lookup(db, "", 0, &e), KV_OK);
	if (e)
		CHECK(e->flags == 0);
	kv_free(e);
	CHECK_RC(kv_set(db, k, key2("a", NULL, k), KV_ENCODING_BYTES, "1", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_set(db, k, key2("a", "x", k), KV_ENCODING_BYTES, "2", 1, -1, NULL), KV_OK);
	size_t kl = key2("a", "y", k);
	k[kl++] = 0x27;   /* ["a", "y", true] */
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "3", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_set(db, k, key2("b", NULL, k), KV_ENCODING_BYTES, "4", 1, -1, NULL), KV_OK);
	/* ["a\0b"]: its bytes start with ["a"]'s, but it is a sibling */
	static const uint8_t anb[] = { 0x02, 'a', 0x00, 0xFF, 'b', 0x00 };
	CHECK_RC(kv_set(db, anb, sizeof(anb), KV_ENCODING_BYTES, "5", 1, -1, NULL), KV_OK);
	/* a big subtree under ["big"] */
	for (int i = 256; i < 256 + 3000; i++) {
		size_t bl = key2("big", NULL, big);
		big[bl++] = 0x16;
		big[bl++] = (uint8_t) (i >> 8);
		big[bl++] = (uint8_t) i;
		CHECK_RC(kv_set(db, big, bl, KV_ENCODING_BYTES, "", 0, -1, NULL), KV_OK);
	}

	CHECK_RC(kv_lookup(db, "", 0, &e), KV_OK);
	if (e)
		CHECK(e->flags == KV_ENTRY_CHILDREN);
	kv_free(e);
	CHECK_RC(kv_lookup(db, k, key2("a", NULL, k), &e), KV_OK);
	if (e) {
		CHECK(e->flags == (KV_ENTRY_VALUE | KV_ENTRY_CHILDREN));
		CHECK_MEM(e->value, e->value_len, "1", 1);
	}
	kv_free(e);
	CHECK_RC(kv_lookup(db, k, key2("a", "y", k), &e), KV_OK);
	if (e)
		CHECK(e->flags == KV_ENTRY_CHILDREN && e->value == NULL);
	kv_free(e);
	CHECK_RC(kv_lookup(db, k, key2("b", NULL, k), &e), KV_OK);
	if (e)
		CHECK(e->flags == KV_ENTRY_VALUE);
	kv_free(e);
	CHECK_RC(kv_lookup(db, anb, sizeof(anb), &e), KV_OK);
	if (e)
		CHECK(e->flags == KV_ENTRY_VALUE);
	kv_free(e);
	CHECK_RC(kv_lookup(db, k, key2("nope", NULL, k), &e), KV_NOTFOUND);
	CHECK_RC(kv_lookup(db, k, key2("a", "nope", k), &e), KV_NOTFOUND);

	/* children of the root: a, a\0b, b, big */
	CHECK_RC(kv_children(db, "", 0, NULL, 0, &it), KV_OK);
	size_t want_len[4];
	uint8_t want[4][8];
	want_len[0] = key2("a", NULL, want[0]);
	memcpy(want[1], anb, sizeof(anb));
	want_len[1] = sizeof(anb);
	want_len[2] = key2("b", NULL, want[2]);
	want_len[3] = key2("big", NULL, want[3]);
	unsigned want_flags[4] = { KV_ENTRY_VALUE | KV_ENTRY_CHILDREN, KV_ENTRY_VALUE,
	                           KV_ENTRY_VALUE, KV_ENTRY_CHILDREN };
	int n = 0;
	while (kv_iter_next(it, &c) == KV_OK) {
		CHECK(n < 4);
		if (n >= 4)
			break;
		CHECK_MEM(c->key, c->key_len, want[n], want_len[n]);
		CHECK(c->flags == want_flags[n]);
		n++;
	}
	CHECK(n == 4);
	kv_iter_free(it);

	/* after a child: continues past its subtree */
	CHECK_RC(kv_children(db, "", 0, want[0], want_len[0], &it), KV_OK);
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	CHECK_MEM(c->key, c->key_len, anb, sizeof(anb));
	kv_iter_free(it);

	/* children of ["a"]: x (value), y (children only) */
	CHECK_RC(kv_children(db, want[0], want_len[0], NULL, 0, &it), KV_OK);
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	kl = key2("a", "x", k);
	CHECK_MEM(c->key, c->key_len, k, kl);
	CHECK(c->flags == KV_ENTRY_VALUE);
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	kl = key2("a", "y", k);
	CHECK_MEM(c->key, c->key_len, k, kl);
	CHECK(c->flags == KV_ENTRY_CHILDREN);
	CHECK_RC(kv_iter_next(it, &c), KV_DONE);
	kv_iter_free(it);

	/* children of ["big"]: all 3000, each a value without children */
	CHECK_RC(kv_children(db, want[3], want_len[3], NULL, 0, &it), KV_OK);
	n = 0;
	int ok = 1;
	while (kv_iter_next(it, &c) == KV_OK) {
		ok &= c->flags == KV_ENTRY_VALUE && c->key_len == 8;
		n++;
	}
	CHECK(ok);
	CHECK(n == 3000);
	kv_iter_free(it);
	kv_close(db);
}

/*
 * kv_children in batches: children alternate leaf / subtree / both, with
 * expired rows (written behind the engine's back, so no collector removes
 * them) as values, inside subtrees, first and last in the range; one child
 * has a 5000-key subtree and another 3000 expired keys under it.
 */
#define CH_N 1299                 /* children ["d", 256 + i]; 1299 = 4 mod 7 */
#define CH_BIG 597                /* live value, 5000 live keys under it */
#define CH_DEAD 598               /* only 3000 expired keys under it */

static const uint8_t CH_P[] = { 0x02, 'd', 0x00 };

static size_t ch_key(int i, int j, uint8_t *k)
{
	size_t n = sizeof(CH_P);
	memcpy(k, CH_P, n);
	k[n++] = 0x16;
	k[n++] = (uint8_t) ((256 + i) >> 8);
	k[n++] = (uint8_t) (256 + i);
	if (j >= 0) {
		k[n++] = 0x16;
		k[n++] = (uint8_t) ((256 + j) >> 8);
		k[n++] = (uint8_t) (256 + j);
	}
	return n;
}

struct ch_writer {
	kv_db *db;
	kv_atomic *a;
	int n;
	sqlite3 *raw;
	sqlite3_stmt *dead;
};

/* j < 0: the child's own value; dead: expired long ago */
static void ch_put(struct ch_writer *w, int i, int j, int dead)
{
	uint8_t k[16], v[2] = { (uint8_t) (i >> 8), (uint8_t) i };
	size_t kl = ch_key(i, j, k);
	if (dead) {
		sqlite3_bind_blob(w->dead, 1, k, (int) kl, SQLITE_TRANSIENT);
		CHECK(sqlite3_step(w->dead) == SQLITE_DONE);
		sqlite3_reset(w->dead);
		return;
	}
	if (!w->a)
		CHECK_RC(kv_atomic_begin(w->db, &w->a), KV_OK);
	CHECK_RC(kv_atomic_set(w->a, k, kl, KV_ENCODING_BYTES, v, 2, -1), KV_OK);
	if (++w->n == 500) {
		CHECK_RC(kv_atomic_commit(w->a, NULL), KV_OK);
		w->a = NULL;
		w->n = 0;
	}
}

/*
 * Children from index `from` on (after child from - 1), checked against
 * want; names_only reads them with kv_children_keys (no values).
 */
static int ch_check(kv_db *db, const unsigned *want, int from, int names_only)
{
	uint8_t k[16];
	kv_iter *it;
	const kv_entry *e;
	int i = from, ok = 1, rc;

	size_t al = from > 0 ? ch_key(from - 1, -1, k) : 0;
	if (names_only)
		CHECK_RC(kv_children_keys(db, CH_P, sizeof(CH_P), al ? k : NULL, al, &it), KV_OK);
	else
		CHECK_RC(kv_children(db, CH_P, sizeof(CH_P), al ? k : NULL, al, &it), KV_OK);
	while ((rc = kv_iter_next(it, &e)) == KV_OK) {
		while (i < CH_N && !want[i])
			i++;
		if (i == CH_N) {
			ok = 0;
			break;
		}
		size_t kl = ch_key(i, -1, k);
		ok &= e->key_len == kl && memcmp(e->key, k, kl) == 0 && e->flags == want[i];
		if ((e->flags & KV_ENTRY_VALUE) && !names_only)
			ok &= e->value_len == 2 && e->value[0] == (uint8_t) (i >> 8) &&
				e->value[1] == (uint8_t) i && e->version > 0;
		else
			ok &= e->value == NULL && e->value_len == 0 && e->version == 0;
		if (!ok)
			printf("# children from %d: wrong entry at child %d\n", from, i);
		i++;
		if (!ok)
			break;
	}
	CHECK(!ok || rc == KV_DONE);
	while (ok && i < CH_N && !want[i])
		i++;
	kv_iter_free(it);
	return ok && i == CH_N;
}

static void test_list__children_in_batches(void)
{
	char dir[64], path[96];
	unsigned want[CH_N];
	struct ch_writer w = { 0 };

	test_tmpdir("children", dir);
	snprintf(path, sizeof(path), "%s/c.sqlite3", dir);
	CHECK_RC(kv_open(path, 0, &w.db), KV_OK);
	CHECK(sqlite3_open(path, &w.raw) == SQLITE_OK);
	sqlite3_busy_timeout(w.raw, 5000);
	CHECK(sqlite3_prepare_v2(w.raw, "INSERT INTO kv (k, v, v_encoding, version,"
	                         " expiration_ms) VALUES (?1, x'00', 3, 1, 1)",
	                         -1, &w.dead, NULL) == SQLITE_OK);
	for (int i = 0; i < CH_N; i++) {
		switch ((i + 3) % 7) {
		case 0:         /* leaf */
			ch_put(&w, i, -1, 0);
			want[i] = KV_ENTRY_VALUE;
			break;
		case 1:         /* keys under it only */
			ch_put(&w, i, 0, 0);
			ch_put(&w, i, 1, 0);
			want[i] = KV_ENTRY_CHILDREN;
			break;
		case 2:         /* both */
			ch_put(&w, i, -1, 0);
			ch_put(&w, i, 0, 0);
			want[i] = KV_ENTRY_VALUE | KV_ENTRY_CHILDREN;
			break;
		case 3:         /* expired leaf: invisible (first child in the range) */
			ch_put(&w, i, -1, 1);
			want[i] = 0;
			break;
		case 4:         /* expired value, one live key among expired ones */
			ch_put(&w, i, -1, 1);
			ch_put(&w, i, 0, 1);
			ch_put(&w, i, 1, 0);
			ch_put(&w, i, 2, 1);
			want[i] = KV_ENTRY_CHILDREN;
			break;
		case 5:         /* live value, only expired keys under it */
			ch_put(&w, i, -1, 0);
			ch_put(&w, i, 0, 1);
			ch_put(&w, i, 1, 1);
			want[i] = KV_ENTRY_VALUE;
			break;
		default:        /* only an expired key under it (last in the range) */
			ch_put(&w, i, 0, 1);
			want[i] = 0;
			break;
		}
	}
	CHECK(want[CH_BIG] == KV_ENTRY_VALUE && want[CH_DEAD] == 0);
	for (int j = 10; j < 5010; j++)
		ch_put(&w, CH_BIG, j, j % 100 == 0);
	want[CH_BIG] |= KV_ENTRY_CHILDREN;
	for (int j = 10; j < 3010; j++)
		ch_put(&w, CH_DEAD, j, 1);
	if (w.a)
		CHECK_RC(kv_atomic_commit(w.a, NULL), KV_OK);
	sqlite3_finalize(w.dead);
	sqlite3_close(w.raw);
	CHECK(want[0] == 0 && want[CH_N - 1] == 0);

	/* `after` around batch edges (64, 128, 256, 512 children) and the big ones */
	static const int froms[] = { 0, 1, 2, 63, 64, 65, 100, 191, 192, 193, 448, 449,
	                             596, 597, 598, 599, 960, 961, 1297, 1298, CH_N };
	for (int names_only = 0; names_only < 2; names_only++)
		for (size_t f = 0; f < sizeof(froms) / sizeof(froms[0]); f++)
			CHECK(ch_check(w.db, want, froms[f], names_only));

	/* readdir's way: a fresh iterator after each 50 entries */
	uint8_t after[16];
	size_t after_len = 0;
	int seen = 0, visible = 0, ok = 1;
	for (int i = 0; i < CH_N; i++)
		visible += want[i] != 0;
	for (int round = 0; ok && round < CH_N; round++) {
		kv_iter *it;
		const kv_entry *e;
		int got = 0;
		CHECK_RC(kv_children(w.db, CH_P, sizeof(CH_P), after_len ? after : NULL,
		                     after_len, &it), KV_OK);
		while (got < 50 && kv_iter_next(it, &e) == KV_OK) {
			int i = ((e->key[4] << 8 | e->key[5]) - 256);
			ok &= e->key_len == 6 && i >= 0 && i < CH_N && want[i] == e->flags;
			memcpy(after, e->key, e->key_len);
			after_len = e->key_len;
			got++;
		}
		kv_iter_free(it);
		seen += got;
		if (got < 50)
			break;
	}
	CHECK(ok);
	CHECK(seen == visible);
	kv_close(w.db);
}

int main(void)
{
	RUN(test_list__cursors_match_deno);
	RUN(test_list__cursor_bounds_match_deno);
	RUN(test_list__selector_errors);
	RUN(test_list__batches_and_limits);
	RUN(test_list__cursors_across_batches);
	RUN(test_list__lookup_and_children);
	RUN(test_list__nul_sibling_is_not_a_child);
	RUN(test_list__children_in_batches);
	return DONE();
}
