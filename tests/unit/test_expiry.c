/*
 * test_expiry.c - expired entries vanish from every read at once; the
 * collector removes their rows later (bumping data_version by one) and
 * stops promptly on close.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "test.h"

static char dir[64], path[128];

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rows in the file, expired or not, read behind the engine's back. */
static int raw_rows(void)
{
	sqlite3 *s;
	sqlite3_stmt *st;
	int n = -1;
	if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(s, "SELECT count(*) FROM kv", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(s);
	return n;
}

static const uint8_t K_P[] = { 0x02, 'p', 0x00 };
static const uint8_t K_PX[] = { 0x02, 'p', 0x00, 0x02, 'x', 0x00 };
static const uint8_t K_PY[] = { 0x02, 'p', 0x00, 0x02, 'y', 0x00 };

static void test_expiry__invisible_at_once_then_collected(void)
{
	kv_db *db;
	kv_entry *e = NULL;
	uint64_t v0, v1;

	test_tmpdir("expiry", dir);
	snprintf(path, sizeof(path), "%s/e.sqlite3", dir);
	CHECK_RC(kv_open(path, 0, &db), KV_OK);
	CHECK_RC(kv_set(db, K_PY, sizeof(K_PY), KV_ENCODING_BYTES, "stay", 4, -1, NULL), KV_OK);
	CHECK_RC(kv_set(db, K_PX, sizeof(K_PX), KV_ENCODING_BYTES, "go", 2, 300, &v0), KV_OK);
	CHECK_RC(kv_get(db, K_PX, sizeof(K_PX), &e), KV_OK);
	if (e)
		CHECK(e->expires_at > 0);
	kv_free(e);
	/* a later set without expiry would reset it; here only wait */
	sleep_ms(350);

	CHECK_RC(kv_get(db, K_PX, sizeof(K_PX), &e), KV_NOTFOUND);
	const void *keys[2] = { K_PX, K_PY };
	size_t lens[2] = { sizeof(K_PX), sizeof(K_PY) };
	kv_entry *many[2];
	CHECK_RC(kv_get_many(db, 2, keys, lens, many), KV_OK);
	CHECK(many[0] == NULL && many[1] != NULL);
	kv_free(many[1]);
	CHECK_RC(kv_lookup(db, K_PX, sizeof(K_PX), &e), KV_NOTFOUND);
	kv_selector s = { .prefix = K_P, .prefix_len = sizeof(K_P) };
	kv_iter *it;
	const kv_entry *c;
	CHECK_RC(kv_list(db, &s, NULL, &it), KV_OK);
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	if (c)
		CHECK_MEM(c->key, c->key_len, K_PY, sizeof(K_PY));
	CHECK_RC(kv_iter_next(it, &c), KV_DONE);
	kv_iter_free(it);
	CHECK_RC(kv_children(db, K_P, sizeof(K_P), NULL, 0, &it), KV_OK);
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	if (c)
		CHECK_MEM(c->key, c->key_len, K_PY, sizeof(K_PY));
	CHECK_RC(kv_iter_next(it, &c), KV_DONE);
	kv_iter_free(it);
	/* an expired key is absent for a check too */
	kv_atomic *a;
	CHECK_RC(kv_atomic_begin(db, &a), KV_OK);
	CHECK_RC(kv_atomic_check(a, K_PX, sizeof(K_PX), NULL), KV_OK);
	CHECK_RC(kv_atomic_commit(a, &v1), KV_OK);

	/* the collector (woken by the expiry) removes the row and bumps by 1 */
	int64_t t0 = mono_ms();
	while (raw_rows() != 1 && mono_ms() - t0 < 5000)
		sleep_ms(20);
	CHECK(raw_rows() == 1);

	/* close does not wait for the collector's 60 s sleep */
	t0 = mono_ms();
	kv_close(db);
	CHECK(mono_ms() - t0 < 2000);
}

/* Rows that expired while no process had the file are removed at open. */
static void test_expiry__collected_at_open(void)
{
	kv_db *db;

	CHECK_RC(kv_open(path, 0, &db), KV_OK);
	CHECK_RC(kv_set(db, K_PX, sizeof(K_PX), KV_ENCODING_BYTES, "go", 2, 100, NULL), KV_OK);
	kv_close(db);
	CHECK(raw_rows() == 2);
	sleep_ms(150);
	CHECK_RC(kv_open(path, KV_OPEN_READONLY, &db), KV_OK);
	sleep_ms(100);
	kv_entry *e = NULL;
	CHECK_RC(kv_get(db, K_PX, sizeof(K_PX), &e), KV_NOTFOUND);
	kv_close(db);
	/* read-only: no collector, the row stays */
	CHECK(raw_rows() == 2);
	uint64_t before = 0, after = 0;
	CHECK_RC(kv_open(path, KV_OPEN_READONLY, &db), KV_OK);
	CHECK_RC(kv_version(db, &before), KV_OK);
	kv_close(db);
	CHECK_RC(kv_open(path, 0, &db), KV_OK);
	int64_t t0 = mono_ms();
	while (raw_rows() != 1 && mono_ms() - t0 < 5000)
		sleep_ms(20);
	CHECK(raw_rows() == 1);
	/* like Deno's collector: exactly one version per run that deleted */
	CHECK_RC(kv_version(db, &after), KV_OK);
	CHECK(after == before + 1);
	kv_close(db);
}

/* sum/min/max and a plain set clear an expiry. */
static void test_expiry__set_and_sum_reset_it(void)
{
	kv_db *db;
	kv_entry *e = NULL;
	uint8_t le[8] = { 1 };

	CHECK_RC(kv_open(":memory:", 0, &db), KV_OK);
	CHECK_RC(kv_set(db, K_PX, sizeof(K_PX), KV_ENCODING_U64, le, 8, 100000, NULL), KV_OK);
	CHECK_RC(kv_set(db, K_PX, sizeof(K_PX), KV_ENCODING_U64, le, 8, -1, NULL), KV_OK);
	CHECK_RC(kv_get(db, K_PX, sizeof(K_PX), &e), KV_OK);
	if (e)
		CHECK(e->expires_at == -1);
	kv_free(e);
	kv_close(db);
}

/*
 * Listings skip expired rows whatever their place in a batch: runs of
 * expired rows longer than a batch, at the start, in the middle and at the
 * end of the range, forward and reverse, with limits, small batches and
 * cursors. The rows are written behind the engine's back with expirations
 * in the past, and read through a read-only open (no collector), so they
 * stay in the file while listed.
 */
#define LIST_ROWS 1000

/* ["q", "k0000"] .. ["q", "k0999"] */
static size_t qkey(uint8_t *k, int i)
{
	size_t n = 0;
	k[n++] = 0x02, k[n++] = 'q', k[n++] = 0x00, k[n++] = 0x02;
	n += (size_t) sprintf((char *) k + n, "k%04d", i);
	k[n++] = 0x00;
	return n;
}

static int q_live(int i)
{
	return (i >= 250 && i < 260) || (i >= 600 && i < 700) || i == 850;
}

/* List with `opt` (resuming with cursors every `chunk` entries, 0 = never). */
static int list_matches(kv_db *db, kv_list_options opt, size_t chunk)
{
	static const uint8_t prefix[] = { 0x02, 'q', 0x00 };
	kv_selector s = { .prefix = prefix, .prefix_len = sizeof(prefix) };
	int want = opt.reverse ? LIST_ROWS - 1 : 0, step = opt.reverse ? -1 : 1;
	char *cursor = NULL;
	int ok = 1;

	for (;;) {
		kv_iter *it;
		const kv_entry *e;
		size_t got = 0;
		int rc;

		opt.limit = chunk;
		opt.cursor = cursor;
		if (kv_list(db, &s, &opt, &it) != KV_OK)
			return 0;
		while ((rc = kv_iter_next(it, &e)) == KV_OK) {
			uint8_t k[16];
			while (want >= 0 && want < LIST_ROWS && !q_live(want))
				want += step;
			size_t kl = want >= 0 && want < LIST_ROWS ? qkey(k, want) : 0;
			if (e->key_len != kl || memcmp(e->key, k, kl) != 0)
				ok = 0;
			want += step;
			got++;
		}
		if (rc != KV_DONE)
			ok = 0;
		free(cursor);
		cursor = NULL;
		if (chunk && got == chunk && kv_iter_cursor(it, &cursor) != KV_OK)
			ok = 0;
		kv_iter_free(it);
		if (!cursor || !*cursor)
			break;
	}
	free(cursor);
	while (want >= 0 && want < LIST_ROWS && !q_live(want))
		want += step;
	return ok && (want < 0 || want >= LIST_ROWS);
}

static void test_expiry__list_skips_expired_runs(void)
{
	char p[160];
	sqlite3 *s;
	sqlite3_stmt *st;
	kv_db *db;

	snprintf(p, sizeof(p), "%s/runs.sqlite3", dir);
	CHECK_RC(kv_open(p, 0, &db), KV_OK);
	kv_close(db);
	CHECK(sqlite3_open(p, &s) == SQLITE_OK);
	CHECK(sqlite3_exec(s, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(s, "INSERT INTO kv (k, v, v_encoding, version, seq,"
	                         " expiration_ms) VALUES (?1, x'00', 2, 1, 0, ?2)",
	                         -1, &st, NULL) == SQLITE_OK);
	for (int i = 0; i < LIST_ROWS; i++) {
		uint8_t k[16];
		size_t kl = qkey(k, i);
		sqlite3_bind_blob(st, 1, k, (int) kl, SQLITE_TRANSIENT);
		/* expired a second after the epoch, or never */
		sqlite3_bind_int64(st, 2, q_live(i) ? -1 : 1000);
		CHECK(sqlite3_step(st) == SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	CHECK(sqlite3_exec(s, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(s);

	CHECK_RC(kv_open(p, KV_OPEN_READONLY, &db), KV_OK);
	for (int rev = 0; rev <= 1; rev++) {
		kv_list_options o = { .reverse = rev };
		CHECK(list_matches(db, o, 0));           /* batches of 100 */
		o.batch_size = 7;
		CHECK(list_matches(db, o, 0));
		o.batch_size = 1;
		CHECK(list_matches(db, o, 0));
		o.batch_size = 0;
		CHECK(list_matches(db, o, 5));           /* limit 5 and cursors */
		CHECK(list_matches(db, o, 1));
		o.batch_size = 3;
		CHECK(list_matches(db, o, 10));
	}
	kv_close(db);
	unlink(p);
}

/*
 * kv_children over expired rows the collector has not removed (read-only:
 * no collector): an expired child is not listed, and an expired key deeper
 * down does not make its child a directory.
 */
static void test_expiry__children_skip_expired_rows(void)
{
	static const uint8_t K_PA[] = { 0x02, 'p', 0x00, 0x02, 'a', 0x00 };
	static const uint8_t K_PBC[] = { 0x02, 'p', 0x00, 0x02, 'b', 0x00, 0x02, 'c', 0x00 };
	static const uint8_t K_PD[] = { 0x02, 'p', 0x00, 0x02, 'd', 0x00 };
	static const uint8_t K_PDE[] = { 0x02, 'p', 0x00, 0x02, 'd', 0x00, 0x02, 'e', 0x00 };
	static const uint8_t K_PF[] = { 0x02, 'p', 0x00, 0x02, 'f', 0x00 };
	struct { const uint8_t *k; size_t len; int64_t exp; } rows[] = {
		{ K_PA, sizeof(K_PA), 1000 },      /* expired: not listed */
		{ K_PBC, sizeof(K_PBC), 1000 },    /* expired: no directory b */
		{ K_PD, sizeof(K_PD), -1 },        /* a value, whose only child expired */
		{ K_PDE, sizeof(K_PDE), 1000 },
		{ K_PF, sizeof(K_PF), -1 },
	};
	char p[160];
	sqlite3 *s;
	sqlite3_stmt *st;
	kv_db *db;
	kv_iter *it;
	const kv_entry *c;

	snprintf(p, sizeof(p), "%s/children.sqlite3", dir);
	CHECK_RC(kv_open(p, 0, &db), KV_OK);
	kv_close(db);
	CHECK(sqlite3_open(p, &s) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(s, "INSERT INTO kv (k, v, v_encoding, version, seq,"
	                         " expiration_ms) VALUES (?1, x'00', 3, 1, 0, ?2)",
	                         -1, &st, NULL) == SQLITE_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sqlite3_bind_blob(st, 1, rows[i].k, (int) rows[i].len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, rows[i].exp);
		CHECK(sqlite3_step(st) == SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(s);

	CHECK_RC(kv_open(p, KV_OPEN_READONLY, &db), KV_OK);
	CHECK_RC(kv_children(db, K_P, sizeof(K_P), NULL, 0, &it), KV_OK);
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	if (c) {
		CHECK_MEM(c->key, c->key_len, K_PD, sizeof(K_PD));
		CHECK(c->flags == KV_ENTRY_VALUE);
	}
	CHECK_RC(kv_iter_next(it, &c), KV_OK);
	if (c) {
		CHECK_MEM(c->key, c->key_len, K_PF, sizeof(K_PF));
		CHECK(c->flags == KV_ENTRY_VALUE);
	}
	CHECK_RC(kv_iter_next(it, &c), KV_DONE);
	kv_iter_free(it);
	kv_close(db);
	unlink(p);
}

int main(void)
{
	RUN(test_expiry__invisible_at_once_then_collected);
	RUN(test_expiry__collected_at_open);
	RUN(test_expiry__set_and_sum_reset_it);
	RUN(test_expiry__list_skips_expired_runs);
	RUN(test_expiry__children_skip_expired_rows);
	return DONE();
}
