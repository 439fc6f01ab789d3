/*
 * kvbench.c - the engine's benchmark, side by side with raw SQLite.
 *
 *   bench/kvbench [--impl kvfs|sqlite] [options] DATABASE N
 *   bench/kvbench --fill NAME DATABASE N
 *
 * Runs the phases of bench/kvbench.ts (the same keys ["bench", i], the same
 * values {i, name: "user"+i, tags: ["a","b"]}, one durable commit per write)
 * against the kvfs engine or against SQLite itself with prepared statements
 * on Deno's schema (the ceiling), and prints one JSON line per phase:
 *
 *   {"impl":"kvfs","phase":"set","n":2000,"seconds":0.61,"ops_per_s":3278.7}
 *
 * Phases and what one operation is:
 *   set        one durable set of ["bench", i]              (n = N)
 *   get        one get                                       (n = N * reps)
 *   get_many   one get_many of 10 keys                       (n = N * reps / 2)
 *   list       one entry of list(prefix ["bench"])           (n = N * reps * 10)
 *   check_set  get the versionstamp, commit check + set      (n = N)
 *   sum        commit of sum(["counter"], 1)                 (n = N)
 *   atomic_1000 one commit of 1000 sets                      (n = batches)
 *   delete     one durable delete                            (n = N)
 *   set_64     one durable set, 64 threads in flight         (n = conc)
 *   move       get the versionstamp, commit check + delete + set of another
 *              key (what a file's rename in the mount commits; only with
 *              --only move)                                   (n = N)
 *
 * The raw SQLite side does the storage work each engine call needs and
 * nothing more: a write is BEGIN IMMEDIATE, bump data_version, write rows,
 * COMMIT (WAL, synchronous=FULL like Deno); a list reads batches of 100 in
 * separate statements like Deno's default; 64 in flight is 64 threads each
 * with its own connection and transaction, as SQLite gives no grouping.
 *
 * --only PHASE runs that phase alone (the sets it needs come first, untimed),
 * which is what a profiler wants.
 *
 * --fill NAME writes keys [NAME, i] for i < N through the engine in commits
 * of 1000 (for the file-system benchmark) and prints nothing else.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "kv.h"

#define GET_MANY 10
#define LIST_PASSES 10  /* list passes per read pass (see the read phases) */
#define BATCH 1000
#define LIST_BATCH 100
#define THREADS 64

/* ---- keys and values, made before any timing ---- */

struct keyset {
	uint8_t **key;
	size_t *len;
	size_t n;
};

static struct {
	const char *impl;
	const char *path;
	size_t n, reps, batches, conc;
	const char *only;
	struct keyset bench, batch, conc_keys, moved;
	uint8_t **val;
	size_t *val_len;
	int *val_enc;
	uint8_t *prefix, *counter;
	size_t prefix_len, counter_len;
} B;

static void die(const char *what, int rc)
{
	fprintf(stderr, "kvbench: %s: %s%s%s\n", what, kv_errstr(rc),
	        *kv_errmsg(NULL) ? ": " : "", kv_errmsg(NULL));
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "kvbench: out of memory\n");
		exit(1);
	}
	return p;
}

/* Encode [name] or [name, number] (number < 0: no second part). */
static uint8_t *make_key(const char *name, double number, size_t *len)
{
	kv_part p[2];
	uint8_t *k;
	int rc;

	memset(p, 0, sizeof(p));
	p[0].type = KV_PART_STRING;
	p[0].data = (const uint8_t *) name;
	p[0].len = strlen(name);
	p[1].type = KV_PART_NUMBER;
	p[1].number = number;
	rc = kv_key_encode(p, number < 0 ? 1 : 2, &k, len);
	if (rc != KV_OK)
		die("kv_key_encode", rc);
	return k;
}

static void make_keyset(struct keyset *ks, const char *name, size_t n)
{
	ks->n = n;
	ks->key = xmalloc(n * sizeof(*ks->key));
	ks->len = xmalloc(n * sizeof(*ks->len));
	for (size_t i = 0; i < n; i++)
		ks->key[i] = make_key(name, (double) i, &ks->len[i]);
}

static void free_keyset(struct keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		kv_free(ks->key[i]);
	free(ks->key);
	free(ks->len);
}

static void make_values(size_t n)
{
	char json[128];
	int len, rc;

	B.val = xmalloc(n * sizeof(*B.val));
	B.val_len = xmalloc(n * sizeof(*B.val_len));
	B.val_enc = xmalloc(n * sizeof(*B.val_enc));
	for (size_t i = 0; i < n; i++) {
		len = snprintf(json, sizeof(json),
		               "{\"i\":%zu,\"name\":\"user%zu\",\"tags\":[\"a\",\"b\"]}", i, i);
		rc = kv_value_from_json(json, (size_t) len, &B.val_enc[i], &B.val[i],
		                        &B.val_len[i]);
		if (rc != KV_OK)
			die("kv_value_from_json", rc);
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void report(const char *phase, size_t n, double seconds)
{
	printf("{\"impl\":\"%s\",\"phase\":\"%s\",\"n\":%zu,\"seconds\":%.6f,\"ops_per_s\":%.1f}\n",
	       B.impl, phase, n, seconds, seconds > 0 ? (double) n / seconds : 0.0);
	fflush(stdout);
}

/* ---- the kvfs engine ---- */

static kv_db *db;

static void kvfs_open(void)
{
	int rc = kv_open(B.path, 0, &db);
	if (rc != KV_OK)
		die("kv_open", rc);
}

static void kvfs_close(void)
{
	kv_close(db);
	db = NULL;
}

static void kvfs_set(size_t i)
{
	int rc = kv_set(db, B.bench.key[i], B.bench.len[i], B.val_enc[i], B.val[i],
	                B.val_len[i], -1, NULL);
	if (rc != KV_OK)
		die("kv_set", rc);
}

static void kvfs_get(size_t i)
{
	kv_entry *e;
	int rc = kv_get(db, B.bench.key[i], B.bench.len[i], &e);
	if (rc != KV_OK)
		die("kv_get", rc);
	if (e->value_len != B.val_len[i]) {
		fprintf(stderr, "kvbench: get returned %zu bytes, want %zu\n",
		        e->value_len, B.val_len[i]);
		exit(1);
	}
	kv_free(e);
}

static void kvfs_get_many(size_t first)
{
	const void *keys[GET_MANY];
	size_t lens[GET_MANY];
	kv_entry *out[GET_MANY];
	int rc;

	for (size_t j = 0; j < GET_MANY; j++) {
		size_t i = (first + j) % B.n;
		keys[j] = B.bench.key[i];
		lens[j] = B.bench.len[i];
	}
	rc = kv_get_many(db, GET_MANY, keys, lens, out);
	if (rc != KV_OK)
		die("kv_get_many", rc);
	for (size_t j = 0; j < GET_MANY; j++) {
		if (!out[j]) {
			fprintf(stderr, "kvbench: get_many missed a key\n");
			exit(1);
		}
		kv_free(out[j]);
	}
}

static size_t kvfs_list(void)
{
	kv_selector sel = { B.prefix, B.prefix_len, NULL, 0, NULL, 0 };
	const kv_entry *e;
	kv_iter *it;
	size_t count = 0;
	int rc;

	rc = kv_list(db, &sel, NULL, &it);
	if (rc != KV_OK)
		die("kv_list", rc);
	while ((rc = kv_iter_next(it, &e)) == KV_OK)
		count++;
	if (rc != KV_DONE)
		die("kv_iter_next", rc);
	kv_iter_free(it);
	return count;
}

/* Read bench key i and begin a commit that checks it still holds that version. */
static kv_atomic *begin_checked(size_t i, kv_entry **e)
{
	kv_atomic *a;
	int rc = kv_get(db, B.bench.key[i], B.bench.len[i], e);

	if (rc != KV_OK)
		die("kv_get", rc);
	if ((rc = kv_atomic_begin(db, &a)) != KV_OK ||
	    (rc = kv_atomic_check(a, B.bench.key[i], B.bench.len[i], &(*e)->version)) != KV_OK)
		die("check", rc);
	return a;
}

static void kvfs_check_set(size_t i)
{
	kv_entry *e;
	kv_atomic *a = begin_checked(i, &e);
	int rc;

	if ((rc = kv_atomic_set(a, B.bench.key[i], B.bench.len[i], B.val_enc[i], B.val[i],
	                        B.val_len[i], -1)) != KV_OK ||
	    (rc = kv_atomic_commit(a, NULL)) != KV_OK)
		die("check+set", rc);
	kv_free(e);
}

static void kvfs_sum(size_t i)
{
	kv_atomic *a;
	int rc;

	(void) i;
	if ((rc = kv_atomic_begin(db, &a)) != KV_OK ||
	    (rc = kv_atomic_sum(a, B.counter, B.counter_len, 1)) != KV_OK ||
	    (rc = kv_atomic_commit(a, NULL)) != KV_OK)
		die("sum", rc);
}

static uint64_t kvfs_counter(void)
{
	kv_entry *e;
	uint64_t v = 0;
	int rc = kv_get(db, B.counter, B.counter_len, &e);

	if (rc != KV_OK)
		die("kv_get counter", rc);
	if (e->encoding == KV_ENCODING_U64 && e->value_len == 8)
		for (int b = 7; b >= 0; b--)
			v = v << 8 | e->value[b];
	kv_free(e);
	return v;
}

static void kvfs_batch(size_t c)
{
	kv_atomic *a;
	int rc;

	if ((rc = kv_atomic_begin(db, &a)) != KV_OK)
		die("kv_atomic_begin", rc);
	for (size_t j = 0; j < BATCH; j++) {
		size_t k = c * BATCH + j, v = k % B.n;
		rc = kv_atomic_set(a, B.batch.key[k], B.batch.len[k], B.val_enc[v], B.val[v],
		                   B.val_len[v], -1);
		if (rc != KV_OK)
			die("kv_atomic_set", rc);
	}
	if ((rc = kv_atomic_commit(a, NULL)) != KV_OK)
		die("kv_atomic_commit", rc);
}

static void kvfs_move(size_t i)
{
	kv_entry *e;
	kv_atomic *a = begin_checked(i, &e);
	int rc;

	if ((rc = kv_atomic_delete(a, B.bench.key[i], B.bench.len[i])) != KV_OK ||
	    (rc = kv_atomic_set(a, B.moved.key[i], B.moved.len[i], e->encoding, e->value,
	                        e->value_len, -1)) != KV_OK ||
	    (rc = kv_atomic_commit(a, NULL)) != KV_OK)
		die("move", rc);
	kv_free(e);
}

static void kvfs_delete(size_t i)
{
	int rc = kv_delete(db, B.bench.key[i], B.bench.len[i], NULL);
	if (rc != KV_OK)
		die("kv_delete", rc);
}

static void *kvfs_conc_open(void)
{
	return db;
}

static void kvfs_conc_close(void *conn)
{
	(void) conn;
}

static void kvfs_conc_set(void *conn, size_t k)
{
	size_t v = k % B.n;
	int rc = kv_set(conn, B.conc_keys.key[k], B.conc_keys.len[k], B.val_enc[v], B.val[v],
	                B.val_len[v], -1, NULL);
	if (rc != KV_OK)
		die("kv_set (64 in flight)", rc);
}

/* ---- raw SQLite on Deno's schema ---- */

static const char schema_sql[] =
	"PRAGMA journal_mode=WAL;"
	"BEGIN;"
	"CREATE TABLE IF NOT EXISTS migration_state (k integer not null primary key,"
	" version integer not null);"
	"INSERT OR IGNORE INTO migration_state (k, version) VALUES (0, 3);"
	"CREATE TABLE IF NOT EXISTS data_version (k integer primary key,"
	" version integer not null, seq integer not null default 0);"
	"INSERT OR IGNORE INTO data_version (k, version) VALUES (0, 0);"
	"CREATE TABLE IF NOT EXISTS kv (k blob primary key, v blob not null,"
	" v_encoding integer not null, version integer not null,"
	" seq integer not null default 0, expiration_ms integer not null default -1)"
	" without rowid;"
	"CREATE INDEX IF NOT EXISTS kv_expiration_ms_idx ON kv (expiration_ms);"
	"CREATE TABLE IF NOT EXISTS queue (ts integer not null, id text not null,"
	" data blob not null, backoff_schedule text not null,"
	" keys_if_undelivered blob not null, primary key (ts, id));"
	"CREATE TABLE IF NOT EXISTS queue_running (deadline integer not null,"
	" id text not null, data blob not null, backoff_schedule text not null,"
	" keys_if_undelivered blob not null, primary key (deadline, id));"
	"COMMIT;";

enum {
	S_BEGIN_W, S_BEGIN_R, S_COMMIT, S_BUMP, S_PUT, S_GET, S_VERSION, S_LIST, S_DEL,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN_W] = "BEGIN IMMEDIATE",
	[S_BEGIN_R] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_BUMP] = "UPDATE data_version SET version = version + 1 WHERE k = 0 RETURNING version",
	[S_PUT] = "INSERT OR REPLACE INTO kv (k, v, v_encoding, version, seq, expiration_ms)"
	          " VALUES (?1, ?2, ?3, ?4, 0, -1)",
	[S_GET] = "SELECT v, v_encoding, version, expiration_ms FROM kv WHERE k = ?1",
	[S_VERSION] = "SELECT version FROM kv WHERE k = ?1",
	[S_LIST] = "SELECT k, v, v_encoding, version, expiration_ms FROM kv"
	           " WHERE k >= ?1 AND k < ?2 ORDER BY k LIMIT ?3",
	[S_DEL] = "DELETE FROM kv WHERE k = ?1",
};

struct conn {
	sqlite3 *h;
	sqlite3_stmt *s[S_COUNT];
	uint8_t buf[KV_MAX_VALUE];  /* where a read copies its value, like the engine's entry */
};

static struct conn *main_conn;

static void sql_die(struct conn *c, const char *what)
{
	fprintf(stderr, "kvbench: %s: %s\n", what, sqlite3_errmsg(c->h));
	exit(1);
}

static struct conn *sql_connect(int create)
{
	struct conn *c = xmalloc(sizeof(*c));

	memset(c->s, 0, sizeof(c->s));
	if (sqlite3_open_v2(B.path, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		sql_die(c, "open");
	/* long enough that 64 writers queueing on the lock never give up */
	sqlite3_busy_timeout(c->h, 600000);
	if (create && sqlite3_exec(c->h, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		sql_die(c, "schema");
	if (sqlite3_exec(c->h, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
		sql_die(c, "pragma");
	for (int i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(c->h, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &c->s[i], NULL) != SQLITE_OK)
			sql_die(c, stmt_sql[i]);
	return c;
}

static void sql_disconnect(struct conn *c)
{
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->s[i]);
	sqlite3_close(c->h);
	free(c);
}

static void sql_open(void)
{
	main_conn = sql_connect(1);
}

static void sql_close(void)
{
	sql_disconnect(main_conn);
	main_conn = NULL;
}

/* Run a statement that returns no row (or whose rows are ignored). */
static void sql_step(struct conn *c, int s)
{
	int rc;

	while ((rc = sqlite3_step(c->s[s])) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		sql_die(c, stmt_sql[s]);
	sqlite3_reset(c->s[s]);
}

/* BEGIN IMMEDIATE and take the commit's version. */
static int64_t sql_begin_write(struct conn *c)
{
	int64_t version;

	sql_step(c, S_BEGIN_W);
	if (sqlite3_step(c->s[S_BUMP]) != SQLITE_ROW)
		sql_die(c, "bump version");
	version = sqlite3_column_int64(c->s[S_BUMP], 0);
	sql_step(c, S_BUMP);
	return version;
}

static void sql_put(struct conn *c, const uint8_t *k, size_t klen, const void *v, size_t vlen,
                    int enc, int64_t version)
{
	sqlite3_stmt *s = c->s[S_PUT];

	sqlite3_bind_blob(s, 1, k, (int) klen, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, v, (int) vlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, enc);
	sqlite3_bind_int64(s, 4, version);
	sql_step(c, S_PUT);
}

/* Unix time in ms, the clock expirations are kept in. */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A row as a Deno read returns it: the value copied out, its encoding and
 * version read, and an expired row dropped. Returns 1 for a live row.
 */
static int sql_row(sqlite3_stmt *s, int col, struct conn *c, int64_t now, int64_t *version,
                   size_t *vlen)
{
	size_t n = (size_t) sqlite3_column_bytes(s, col);
	int enc = sqlite3_column_int(s, col + 1);
	int64_t ver = sqlite3_column_int64(s, col + 2);
	int64_t exp = sqlite3_column_int64(s, col + 3);

	if ((exp >= 0 && exp <= now) || enc < 0)
		return 0;
	memcpy(c->buf, sqlite3_column_blob(s, col), n);
	if (version)
		*version = ver;
	if (vlen)
		*vlen = n;
	return 1;
}

/* SELECT one key; copies the value out. Returns 1 when found. */
static int sql_read(struct conn *c, const uint8_t *k, size_t klen, int64_t *version, size_t *vlen)
{
	sqlite3_stmt *s = c->s[S_GET];
	int rc, found = 0;

	sqlite3_bind_blob(s, 1, k, (int) klen, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = sql_row(s, 0, c, wall_ms(), version, vlen);
	} else if (rc != SQLITE_DONE) {
		sql_die(c, "get");
	}
	sqlite3_reset(s);
	return found;
}

static void sql_set(size_t i)
{
	struct conn *c = main_conn;
	int64_t v = sql_begin_write(c);

	sql_put(c, B.bench.key[i], B.bench.len[i], B.val[i], B.val_len[i], B.val_enc[i], v);
	sql_step(c, S_COMMIT);
}

static void sql_get(size_t i)
{
	size_t n = 0;

	if (!sql_read(main_conn, B.bench.key[i], B.bench.len[i], NULL, &n) || n != B.val_len[i]) {
		fprintf(stderr, "kvbench: raw get missed key %zu\n", i);
		exit(1);
	}
}

static void sql_get_many(size_t first)
{
	struct conn *c = main_conn;

	sql_step(c, S_BEGIN_R);
	for (size_t j = 0; j < GET_MANY; j++) {
		size_t i = (first + j) % B.n;
		if (!sql_read(c, B.bench.key[i], B.bench.len[i], NULL, NULL)) {
			fprintf(stderr, "kvbench: raw get_many missed a key\n");
			exit(1);
		}
	}
	sql_step(c, S_COMMIT);
}

static size_t sql_list(void)
{
	struct conn *c = main_conn;
	sqlite3_stmt *s = c->s[S_LIST];
	uint8_t start[KV_MAX_KEY_READ + 1], end[KV_MAX_KEY_READ];
	size_t start_len, count = 0, got;
	int rc;

	/* prefix P scans P+00 <= k < P+FF, then resumes after the last key */
	memcpy(start, B.prefix, B.prefix_len);
	start[B.prefix_len] = 0x00;
	start_len = B.prefix_len + 1;
	memcpy(end, B.prefix, B.prefix_len);
	end[B.prefix_len] = 0xff;
	do {
		got = 0;
		sqlite3_bind_blob(s, 1, start, (int) start_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, end, (int) B.prefix_len + 1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, LIST_BATCH);
		int64_t now = wall_ms();
		size_t live = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			size_t kl = (size_t) sqlite3_column_bytes(s, 0);
			memcpy(start, sqlite3_column_blob(s, 0), kl);
			start[kl] = 0x00;
			start_len = kl + 1;
			live += (size_t) sql_row(s, 1, c, now, NULL, NULL);
			got++;
		}
		if (rc != SQLITE_DONE)
			sql_die(c, "list");
		sqlite3_reset(s);
		count += live;
	} while (got == LIST_BATCH);
	return count;
}

/* Read bench key i, BEGIN IMMEDIATE, check it still holds that version; the commit's version. */
static int64_t sql_begin_checked(struct conn *c, size_t i)
{
	int64_t seen, cur, v;

	if (!sql_read(c, B.bench.key[i], B.bench.len[i], &seen, NULL))
		sql_die(c, "read before the check");
	v = sql_begin_write(c);
	if (!sql_read(c, B.bench.key[i], B.bench.len[i], &cur, NULL) || cur != seen) {
		fprintf(stderr, "kvbench: raw check failed\n");
		exit(1);
	}
	return v;
}

static void sql_check_set(size_t i)
{
	struct conn *c = main_conn;
	int64_t v = sql_begin_checked(c, i);

	sql_put(c, B.bench.key[i], B.bench.len[i], B.val[i], B.val_len[i], B.val_enc[i], v);
	sql_step(c, S_COMMIT);
}

static uint64_t sql_counter_value(struct conn *c)
{
	size_t n = 0;
	uint64_t v = 0;

	if (sql_read(c, B.counter, B.counter_len, NULL, &n) && n == 8)
		for (int b = 7; b >= 0; b--)
			v = v << 8 | c->buf[b];
	return v;
}

static void sql_sum(size_t i)
{
	struct conn *c = main_conn;
	uint8_t le[8];
	int64_t v;
	uint64_t sum;

	(void) i;
	v = sql_begin_write(c);
	sum = sql_counter_value(c) + 1;
	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t) (sum >> (8 * b));
	sql_put(c, B.counter, B.counter_len, le, 8, KV_ENCODING_U64, v);
	sql_step(c, S_COMMIT);
}

static uint64_t sql_counter(void)
{
	return sql_counter_value(main_conn);
}

static void sql_batch(size_t cidx)
{
	struct conn *c = main_conn;
	int64_t v = sql_begin_write(c);

	for (size_t j = 0; j < BATCH; j++) {
		size_t k = cidx * BATCH + j, vi = k % B.n;
		sql_put(c, B.batch.key[k], B.batch.len[k], B.val[vi], B.val_len[vi],
		        B.val_enc[vi], v);
	}
	sql_step(c, S_COMMIT);
}

static void sql_move(size_t i)
{
	struct conn *c = main_conn;
	sqlite3_stmt *s = c->s[S_DEL];
	int64_t v = sql_begin_checked(c, i);

	sqlite3_bind_blob(s, 1, B.bench.key[i], (int) B.bench.len[i], SQLITE_STATIC);
	sql_step(c, S_DEL);
	sql_put(c, B.moved.key[i], B.moved.len[i], B.val[i], B.val_len[i], B.val_enc[i], v);
	sql_step(c, S_COMMIT);
}

static void sql_delete(size_t i)
{
	struct conn *c = main_conn;
	sqlite3_stmt *s = c->s[S_DEL];

	sql_begin_write(c);
	sqlite3_bind_blob(s, 1, B.bench.key[i], (int) B.bench.len[i], SQLITE_STATIC);
	sql_step(c, S_DEL);
	sql_step(c, S_COMMIT);
}

static void *sql_conc_open(void)
{
	return sql_connect(0);
}

static void sql_conc_close(void *conn)
{
	sql_disconnect(conn);
}

static void sql_conc_set(void *conn, size_t k)
{
	struct conn *c = conn;
	size_t vi = k % B.n;
	int64_t v = sql_begin_write(c);

	sql_put(c, B.conc_keys.key[k], B.conc_keys.len[k], B.val[vi], B.val_len[vi],
	        B.val_enc[vi], v);
	sql_step(c, S_COMMIT);
}

/* ---- the phases ---- */

struct impl {
	const char *name;
	void (*open)(void);
	void (*close)(void);
	void (*set)(size_t i);
	void (*get)(size_t i);
	void (*get_many)(size_t first);
	size_t (*list)(void);
	void (*check_set)(size_t i);
	void (*sum)(size_t i);
	uint64_t (*counter)(void);
	void (*batch)(size_t c);
	void (*del)(size_t i);
	void (*move)(size_t i);
	void *(*conc_open)(void);
	void (*conc_close)(void *conn);
	void (*conc_set)(void *conn, size_t k);
};

static const struct impl impls[] = {
	{ "kvfs", kvfs_open, kvfs_close, kvfs_set, kvfs_get, kvfs_get_many, kvfs_list,
	  kvfs_check_set, kvfs_sum, kvfs_counter, kvfs_batch, kvfs_delete, kvfs_move,
	  kvfs_conc_open, kvfs_conc_close, kvfs_conc_set },
	{ "sqlite", sql_open, sql_close, sql_set, sql_get, sql_get_many, sql_list,
	  sql_check_set, sql_sum, sql_counter, sql_batch, sql_delete, sql_move,
	  sql_conc_open, sql_conc_close, sql_conc_set },
};

static const struct impl *I;

/* Time fn(i) for i in [0, n). */
static void run_loop(const char *phase, void (*fn)(size_t), size_t n, size_t report_n)
{
	double t0 = now();

	for (size_t i = 0; i < n; i++)
		fn(i);
	report(phase, report_n, now() - t0);
}

static void get_mod(size_t i)
{
	I->get(i % B.n);
}

static void get_many_step(size_t i)
{
	I->get_many(i * GET_MANY);
}

struct conc_arg {
	atomic_size_t *next;
	pthread_barrier_t *ready;
};

static void *conc_worker(void *p)
{
	struct conc_arg *a = p;
	void *conn = I->conc_open();
	size_t k;

	pthread_barrier_wait(a->ready);   /* all connected before the clock starts */
	pthread_barrier_wait(a->ready);
	while ((k = atomic_fetch_add(a->next, 1)) < B.conc)
		I->conc_set(conn, k);
	I->conc_close(conn);
	return NULL;
}

static void run_conc(void)
{
	pthread_t t[THREADS];
	pthread_barrier_t ready;
	atomic_size_t next = 0;
	struct conc_arg arg = { &next, &ready };
	double t0;

	pthread_barrier_init(&ready, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, conc_worker, &arg) != 0) {
			fprintf(stderr, "kvbench: cannot start threads\n");
			exit(1);
		}
	pthread_barrier_wait(&ready);
	t0 = now();
	pthread_barrier_wait(&ready);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	report("set_64", B.conc, now() - t0);
	pthread_barrier_destroy(&ready);
}

/* With --only, the one phase (and the sets it needs first, untimed). */
static int want(const char *phase)
{
	return !B.only || !strcmp(B.only, phase);
}

static void run_all(void)
{
	size_t listed = 0;
	double t0;
	uint64_t counter;

	I->open();
	if (want("set"))
		run_loop("set", I->set, B.n, B.n);
	else
		for (size_t i = 0; i < B.n; i++)
			I->set(i);
	if (want("get"))
		run_loop("get", get_mod, B.n * B.reps, B.n * B.reps);
	/*
	 * A get_many and a listed entry cost less per key than a get: they
	 * are repeated more, so that each read phase lasts about as long (a
	 * second or more at the default sizes; shorter ones were mostly noise).
	 */
	if (want("get_many"))
		run_loop("get_many", get_many_step, B.n * B.reps / 2, B.n * B.reps / 2);
	if (want("list")) {
		t0 = now();
		for (size_t r = 0; r < B.reps * LIST_PASSES; r++)
			listed += I->list();
		report("list", listed, now() - t0);
		if (listed != B.n * B.reps * LIST_PASSES) {
			fprintf(stderr, "kvbench: list returned %zu entries, want %zu\n", listed,
			        B.n * B.reps * LIST_PASSES);
			exit(1);
		}
	}
	if (want("check_set"))
		run_loop("check_set", I->check_set, B.n, B.n);
	if (want("sum")) {
		run_loop("sum", I->sum, B.n, B.n);
		counter = I->counter();
		if (counter != B.n) {
			fprintf(stderr, "kvbench: counter is %llu, want %zu\n",
			        (unsigned long long) counter, B.n);
			exit(1);
		}
	}
	if (want("atomic_1000"))
		run_loop("atomic_1000", I->batch, B.batches, B.batches);
	if (want("delete")) {
		run_loop("delete", I->del, B.n, B.n);
		if (I->list() != 0) {
			fprintf(stderr, "kvbench: keys left after delete\n");
			exit(1);
		}
	}
	if (B.only && !strcmp(B.only, "move")) {
		run_loop("move", I->move, B.n, B.n);
		if (I->list() != 0) {
			fprintf(stderr, "kvbench: keys left after move\n");
			exit(1);
		}
	}
	if (want("set_64"))
		run_conc();
	I->close();
}

static void fill(const char *name)
{
	struct keyset ks;
	kv_atomic *a;
	int rc;

	make_keyset(&ks, name, B.n);
	kvfs_open();
	for (size_t i = 0; i < B.n; i += BATCH) {
		if ((rc = kv_atomic_begin(db, &a)) != KV_OK)
			die("kv_atomic_begin", rc);
		for (size_t j = i; j < B.n && j < i + BATCH; j++) {
			size_t v = j % B.n;
			rc = kv_atomic_set(a, ks.key[j], ks.len[j], B.val_enc[v], B.val[v],
			                   B.val_len[v], -1);
			if (rc != KV_OK)
				die("kv_atomic_set", rc);
		}
		if ((rc = kv_atomic_commit(a, NULL)) != KV_OK)
			die("kv_atomic_commit", rc);
	}
	kvfs_close();
	free_keyset(&ks);     /* a local: the check-asan run counts it as a leak */
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: kvbench [--impl kvfs|sqlite] [--reps R] [--batches B] [--conc C]"
	        " [--only PHASE] DATABASE N\n"
	        "       kvbench --fill NAME DATABASE N\n"
	        "  R passes of the reads (default 20), B commits of 1000 sets\n"
	        "  (default N/200, at least 3), C sets with 64 in flight (default 2*N);\n"
	        "  --only runs one phase (after untimed sets when it needs them), for profiling\n");
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		usage();
	return (size_t) v;
}

int main(int argc, char **argv)
{
	const char *fill_name = NULL;
	int i;

	B.impl = "kvfs";
	B.reps = 20;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--impl"))
			B.impl = argv[i + 1];
		else if (!strcmp(argv[i], "--reps"))
			B.reps = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--batches"))
			B.batches = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--conc"))
			B.conc = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--only"))
			B.only = argv[i + 1];
		else if (!strcmp(argv[i], "--fill"))
			fill_name = argv[i + 1];
		else
			usage();
	}
	if (argc - i != 2)
		usage();
	B.path = argv[i];
	B.n = parse_size(argv[i + 1]);
	if (!B.batches)
		B.batches = B.n / 200 < 3 ? 3 : B.n / 200;
	if (!B.conc)
		B.conc = 2 * B.n;

	make_values(B.n);
	if (fill_name) {
		fill(fill_name);
		return 0;
	}
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++)
		if (!strcmp(B.impl, impls[k].name))
			I = &impls[k];
	if (!I)
		usage();
	make_keyset(&B.bench, "bench", B.n);
	make_keyset(&B.batch, "batch", B.batches * BATCH);
	make_keyset(&B.conc_keys, "conc", B.conc);
	make_keyset(&B.moved, "moved", B.n);
	B.prefix = make_key("bench", -1, &B.prefix_len);
	B.counter = make_key("counter", -1, &B.counter_len);
	run_all();
	return 0;
}
