/*
 * test_store.c - opening files: Deno's exact schema, Deno-made files,
 * refusing files that are not ours (bytes unchanged), ":memory:", the
 * basic get/set/delete round trip, and reads beside commits.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"

static char dir[64];

static void make_dir(void)
{
	test_tmpdir("store", dir);
}

static char *path_in(const char *name)
{
	static char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t) n + 1);
	*len = fread(b, 1, (size_t) n, f);
	fclose(f);
	return b;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
}

/* Key ["s"] for a NUL-free string s. */
static size_t skey(const char *s, uint8_t *out)
{
	size_t n = strlen(s);
	out[0] = 0x02;
	memcpy(out + 1, s, n);
	out[n + 1] = 0x00;
	return n + 2;
}

/* sqlite_master of a Deno 2.9.6 file, as `.schema` prints it (reference 3.1). */
static const char *const deno_schema[][2] = {
	{ "migration_state", "CREATE TABLE migration_state(\n"
	  "  k integer not null primary key,\n"
	  "  version integer not null\n"
	  ")" },
	{ "data_version", "CREATE TABLE data_version (\n"
	  "  k integer primary key,\n"
	  "  version integer not null\n"
	  ", seq integer not null default 0)" },
	{ "kv", "CREATE TABLE kv (\n"
	  "  k blob primary key,\n"
	  "  v blob not null,\n"
	  "  v_encoding integer not null,\n"
	  "  version integer not null\n"
	  ", seq integer not null default 0, expiration_ms integer not null default -1)"
	  " without rowid" },
	{ "queue", "CREATE TABLE queue (\n"
	  "  ts integer not null,\n"
	  "  id text not null,\n"
	  "  data blob not null,\n"
	  "  backoff_schedule text not null,\n"
	  "  keys_if_undelivered blob not null,\n"
	  "\n"
	  "  primary key (ts, id)\n"
	  ")" },
	{ "sqlite_autoindex_queue_1", NULL },
	{ "queue_running", "CREATE TABLE queue_running(\n"
	  "  deadline integer not null,\n"
	  "  id text not null,\n"
	  "  data blob not null,\n"
	  "  backoff_schedule text not null,\n"
	  "  keys_if_undelivered blob not null,\n"
	  "\n"
	  "  primary key (deadline, id)\n"
	  ")" },
	{ "sqlite_autoindex_queue_running_1", NULL },
	{ "kv_expiration_ms_idx", "CREATE INDEX kv_expiration_ms_idx on kv (expiration_ms)" },
};

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *s = NULL;
	if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return NULL;
	return s;
}

static void check_schema(const char *path, int fresh)
{
	sqlite3 *s = raw_open(path);
	sqlite3_stmt *st;
	size_t i = 0, n = sizeof(deno_schema) / sizeof(deno_schema[0]);

	CHECK(s != NULL);
	if (!s)
		return;
	sqlite3_prepare_v2(s, "SELECT name, sql FROM sqlite_master ORDER BY rowid", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *) sqlite3_column_text(st, 0);
		const char *sql = (const char *) sqlite3_column_text(st, 1);
		CHECK(i < n);
		if (i >= n)
			break;
		CHECK_STR(name, deno_schema[i][0]);
		if (deno_schema[i][1])
			CHECK_STR(sql, deno_schema[i][1]);
		else
			CHECK(sql == NULL);
		i++;
	}
	CHECK(i == n);
	sqlite3_finalize(st);

	sqlite3_prepare_v2(s, "SELECT (SELECT group_concat(k || ',' || version) FROM migration_state),"
	                   " (SELECT group_concat(k || ',' || version || ',' || seq) FROM data_version),"
	                   " (SELECT journal_mode FROM pragma_journal_mode)", -1, &st, NULL);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR((const char *) sqlite3_column_text(st, 0), "0,3");
	if (fresh)
		CHECK_STR((const char *) sqlite3_column_text(st, 1), "0,0,0");
	CHECK_STR((const char *) sqlite3_column_text(st, 2), "wal");
	sqlite3_finalize(st);
	sqlite3_close(s);
}

static void test_store__new_file_has_denos_schema(void)
{
	kv_db *db;
	make_dir();
	CHECK_RC(kv_open(path_in("new.sqlite3"), 0, &db), KV_OK);
	kv_close(db);
	check_schema(path_in("new.sqlite3"), 1);
}

static void test_store__empty_file_is_initialised(void)
{
	kv_db *db;
	make_dir();
	write_file(path_in("empty"), "", 0);
	CHECK_RC(kv_open(path_in("empty"), 0, &db), KV_OK);
	kv_close(db);
	check_schema(path_in("empty"), 1);
}

/*
 * A file made by the real Deno (DENO_BIN, as tests/run-all.sh sets it)
 * with a value and a queued message: it opens unchanged, our reads see
 * Deno's value, and the queue row survives our writes.
 */
static void test_store__opens_deno_file(void)
{
	const char *deno = getenv("DENO_BIN");
	char cmd[1024];
	kv_db *db;
	uint8_t k[64];

	make_dir();
	if (!deno || access(deno, X_OK) != 0) {
		printf("# DENO_BIN not set: building a Deno-shaped file by hand\n");
		kv_db *tmp;
		CHECK_RC(kv_open(path_in("deno.sqlite3"), 0, &tmp), KV_OK);
		size_t kl = skey("hello", k);
		CHECK_RC(kv_set(tmp, k, kl, KV_ENCODING_V8, "\xff\x10\x49\x02", 4, -1, NULL), KV_OK);
		kv_close(tmp);
		sqlite3 *s = raw_open(path_in("deno.sqlite3"));
		sqlite3_exec(s, "INSERT INTO queue VALUES (1, 'id', x'ff1030', '[]', '[]')",
		             NULL, NULL, NULL);
		sqlite3_close(s);
	} else {
		snprintf(cmd, sizeof(cmd), "cd %s && %s eval --unstable-kv 'const kv ="
		         " await Deno.openKv(\"deno.sqlite3\"); await kv.set([\"hello\"], 1);"
		         " await kv.enqueue(\"m\", {delay: 3600000}); kv.close()' >/dev/null 2>&1",
		         dir, deno);
		CHECK(system(cmd) == 0);
	}
	check_schema(path_in("deno.sqlite3"), 0);
	CHECK_RC(kv_open(path_in("deno.sqlite3"), 0, &db), KV_OK);
	size_t kl = skey("hello", k);
	kv_entry *e = NULL;
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	if (e) {
		CHECK(e->encoding == KV_ENCODING_V8);
		CHECK_MEM(e->value, e->value_len, "\xff\x10\x49\x02", 4);
		CHECK(e->version > 0);
	}
	kv_free(e);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_V8, "\xff\x10\x49\x04", 4, -1, NULL), KV_OK);
	kv_close(db);
	check_schema(path_in("deno.sqlite3"), 0);
	sqlite3 *s = raw_open(path_in("deno.sqlite3"));
	sqlite3_stmt *st;
	sqlite3_prepare_v2(s, "SELECT count(*) FROM queue", -1, &st, NULL);
	CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1);
	sqlite3_finalize(st);
	sqlite3_close(s);
}

static void test_store__refuses_non_sqlite_unchanged(void)
{
	static const char text[] = "hello, this is a text file and not a database\n";
	kv_db *db = (kv_db *) 1;
	size_t len;

	make_dir();
	write_file(path_in("text"), text, sizeof(text) - 1);
	CHECK_RC(kv_open(path_in("text"), 0, &db), KV_NOTKV);
	CHECK(db == NULL);
	CHECK(strstr(kv_errmsg(NULL), "not an SQLite database") != NULL);
	uint8_t *b = read_file(path_in("text"), &len);
	CHECK_MEM(b, len, text, sizeof(text) - 1);
	free(b);
	CHECK(access(path_in("text-wal"), F_OK) != 0);
}

static void test_store__refuses_other_sqlite_unchanged(void)
{
	kv_db *db;
	size_t len, len2;

	make_dir();
	sqlite3 *s;
	sqlite3_open(path_in("other.db"), &s);
	sqlite3_exec(s, "CREATE TABLE notes (id integer primary key, body text);"
	             "INSERT INTO notes VALUES (1, 'keep me')", NULL, NULL, NULL);
	sqlite3_close(s);
	uint8_t *before = read_file(path_in("other.db"), &len);
	CHECK_RC(kv_open(path_in("other.db"), 0, &db), KV_NOTKV);
	CHECK(strstr(kv_errmsg(NULL), "not a Deno KV database") != NULL);
	uint8_t *after = read_file(path_in("other.db"), &len2);
	CHECK_MEM(after, len2, before, len);
	free(before);
	free(after);
	CHECK_RC(kv_open(path_in("other.db"), KV_OPEN_READONLY, &db), KV_NOTKV);
}

static void test_store__memory_is_private(void)
{
	kv_db *a, *b;
	uint8_t k[16];
	size_t kl = skey("x", k);
	kv_entry *e = NULL;

	CHECK_RC(kv_open(":memory:", 0, &a), KV_OK);
	CHECK_RC(kv_open(":memory:", 0, &b), KV_OK);
	CHECK_RC(kv_set(a, k, kl, KV_ENCODING_BYTES, "v", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_get(a, k, kl, &e), KV_OK);
	kv_free(e);
	CHECK_RC(kv_get(b, k, kl, &e), KV_NOTFOUND);
	CHECK(e == NULL);
	kv_close(a);
	kv_close(b);
}

static void test_store__get_set_delete(void)
{
	kv_db *db;
	uint8_t k[16];
	size_t kl = skey("k", k);
	uint64_t v1 = 0, v2 = 0, v3 = 0, dv = 0;
	kv_entry *e = NULL;

	make_dir();
	CHECK_RC(kv_open(path_in("rw.sqlite3"), 0, &db), KV_OK);
	CHECK_RC(kv_get(db, k, kl, &e), KV_NOTFOUND);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "abc", 3, -1, &v1), KV_OK);
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	if (e) {
		CHECK_MEM(e->key, e->key_len, k, kl);
		CHECK_MEM(e->value, e->value_len, "abc", 3);
		CHECK(e->encoding == KV_ENCODING_BYTES);
		CHECK(e->version == v1);
		CHECK(e->expires_at == -1);
		CHECK(e->flags == KV_ENTRY_VALUE);
	}
	kv_free(e);
	/* steps of 1..9, as Deno's */
	CHECK(v1 >= 1 && v1 <= 9);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "", 0, -1, &v2), KV_OK);
	CHECK(v2 > v1 && v2 - v1 <= 9);
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	if (e)
		CHECK(e->value_len == 0 && e->version == v2);
	kv_free(e);
	CHECK_RC(kv_version(db, &dv), KV_OK);
	CHECK(dv == v2);
	CHECK_RC(kv_delete(db, k, kl, &v3), KV_OK);
	CHECK(v3 > v2);
	CHECK_RC(kv_get(db, k, kl, &e), KV_NOTFOUND);
	/* deleting what is absent still commits a version */
	uint64_t v4 = 0;
	CHECK_RC(kv_delete(db, k, kl, &v4), KV_OK);
	CHECK(v4 > v3);
	kv_close(db);
}

static void test_store__longest_key(void)
{
	kv_db *db;
	uint8_t p[8], k[64];
	size_t pl = skey("p", p), longest = 99;

	make_dir();
	CHECK_RC(kv_open(path_in("longest.sqlite3"), 0, &db), KV_OK);
	CHECK_RC(kv_longest_key(db, p, pl, &longest), KV_OK);
	CHECK(longest == 0);
	/* ["p"], ["p","ab"], ["p","abcdef"]; ["q","...long..."] is not under ["p"] */
	memcpy(k, p, pl);
	CHECK_RC(kv_set(db, k, pl, KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_OK);
	size_t l1 = pl + skey("ab", k + pl);
	CHECK_RC(kv_set(db, k, l1, KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_OK);
	size_t l2 = pl + skey("abcdef", k + pl);
	CHECK_RC(kv_set(db, k, l2, KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_OK);
	size_t l3 = skey("q", k);
	l3 += skey("abcdefghijklmnopqrstuvwxyz", k + l3);
	CHECK_RC(kv_set(db, k, l3, KV_ENCODING_BYTES, "x", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_longest_key(db, p, pl, &longest), KV_OK);
	CHECK(longest == l2);
	CHECK_RC(kv_longest_key(db, "", 0, &longest), KV_OK);
	CHECK(longest == l3);
	/* an expired key is no longer there to move */
	memcpy(k, p, pl);
	size_t l4 = pl + skey("abcdefghijklmnop", k + pl);
	CHECK_RC(kv_set(db, k, l4, KV_ENCODING_BYTES, "x", 1, 1, NULL), KV_OK);
	usleep(20000);
	CHECK_RC(kv_longest_key(db, p, pl, &longest), KV_OK);
	CHECK(longest == l2);
	kv_close(db);
}

static void test_store__readonly(void)
{
	kv_db *db;
	uint8_t k[16];
	size_t kl = skey("k", k);
	kv_entry *e = NULL;

	make_dir();
	CHECK_RC(kv_open(path_in("ro.sqlite3"), KV_OPEN_READONLY, &db), KV_IOERR);
	CHECK_RC(kv_open(path_in("ro.sqlite3"), 0, &db), KV_OK);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "1", 1, -1, NULL), KV_OK);
	kv_close(db);
	CHECK_RC(kv_open(path_in("ro.sqlite3"), KV_OPEN_READONLY, &db), KV_OK);
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	kv_free(e);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "2", 1, -1, NULL), KV_READONLY);
	kv_close(db);
}

/* kv_version_others moves for another handle's commits, not for our own. */
static void test_store__version_others(void)
{
	kv_db *a, *b;
	uint8_t k[16];
	size_t kl = skey("k", k);
	uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;

	make_dir();
	CHECK_RC(kv_open(path_in("others.sqlite3"), 0, &a), KV_OK);
	CHECK_RC(kv_open(path_in("others.sqlite3"), 0, &b), KV_OK);
	CHECK_RC(kv_version_others(a, &t0), KV_OK);
	CHECK_RC(kv_set(a, k, kl, KV_ENCODING_BYTES, "1", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_version_others(a, &t1), KV_OK);
	CHECK(t1 == t0);
	/* another writer, seen right away and after our next commit */
	CHECK_RC(kv_set(b, k, kl, KV_ENCODING_BYTES, "2", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_version_others(a, &t2), KV_OK);
	CHECK(t2 != t1);
	CHECK_RC(kv_set(a, k, kl, KV_ENCODING_BYTES, "3", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_version_others(a, &t3), KV_OK);
	CHECK(t3 == t2);
	/* another writer followed by ours before anyone looked */
	CHECK_RC(kv_set(b, k, kl, KV_ENCODING_BYTES, "4", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_set(a, k, kl, KV_ENCODING_BYTES, "5", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_version_others(a, &t1), KV_OK);
	CHECK(t1 != t3);
	kv_close(a);
	kv_close(b);
}

struct committer {
	kv_db *db;
	int n;
};

static void *commit_loop(void *arg)
{
	struct committer *c = arg;
	uint8_t k[16];
	size_t kl = skey("busy", k);

	for (int i = 0; i < c->n; i++)
		if (kv_set(c->db, k, kl, KV_ENCODING_BYTES, "x", 1, -1, NULL) != KV_OK)
			break;
	return NULL;
}

/* Our own commits, however they interleave with the reads, never move it. */
static void test_store__version_others_concurrent(void)
{
	kv_db *db;
	pthread_t t;
	struct committer c = { NULL, 2000 };
	uint64_t t0 = 0, t1 = 0;
	int moved = 0;

	make_dir();
	CHECK_RC(kv_open(path_in("busy.sqlite3"), 0, &db), KV_OK);
	c.db = db;
	CHECK_RC(kv_version_others(db, &t0), KV_OK);
	CHECK(pthread_create(&t, NULL, commit_loop, &c) == 0);
	for (int i = 0; i < 20000; i++) {
		CHECK_RC(kv_version_others(db, &t1), KV_OK);
		moved += t1 != t0;
	}
	pthread_join(t, NULL);
	CHECK(moved == 0);
	kv_close(db);
}

/* Value of ["k"] as read by db: its one byte, 0 when absent, -1 on error. */
static int byte_of(kv_db *db, const uint8_t *k, size_t kl)
{
	kv_entry *e = NULL;
	int rc = kv_get(db, k, kl, &e), b;

	b = rc == KV_NOTFOUND ? 0 : rc == KV_OK && e->value_len == 1 ? e->value[0] : -1;
	kv_free(e);
	return b;
}

/*
 * Point reads may run on the connection that commits (its page cache is
 * kept): they must still see every commit of another writer at once.
 */
static void test_store__point_reads_see_other_writers(void)
{
	kv_db *a, *b;
	kv_entry *e = NULL;
	uint8_t k[16];
	size_t kl = skey("k", k);

	make_dir();
	CHECK_RC(kv_open(path_in("seen.sqlite3"), 0, &a), KV_OK);
	CHECK_RC(kv_open(path_in("seen.sqlite3"), 0, &b), KV_OK);
	CHECK_RC(kv_set(a, k, kl, KV_ENCODING_BYTES, "1", 1, -1, NULL), KV_OK);
	CHECK(byte_of(a, k, kl) == '1');
	CHECK_RC(kv_set(b, k, kl, KV_ENCODING_BYTES, "2", 1, -1, NULL), KV_OK);
	CHECK(byte_of(a, k, kl) == '2');
	CHECK_RC(kv_set(a, k, kl, KV_ENCODING_BYTES, "3", 1, -1, NULL), KV_OK);
	CHECK(byte_of(b, k, kl) == '3');
	CHECK_RC(kv_delete(b, k, kl, NULL), KV_OK);
	CHECK(byte_of(a, k, kl) == 0);
	CHECK_RC(kv_lookup(a, k, kl, &e), KV_NOTFOUND);
	kv_close(a);
	kv_close(b);
}

struct blocked_set {
	kv_db *db;
	const uint8_t *key;
	size_t key_len;
	int rc;
	volatile int done;
};

static void *set_new(void *arg)
{
	struct blocked_set *s = arg;

	s->rc = kv_set(s->db, s->key, s->key_len, KV_ENCODING_BYTES, "n", 1, -1, NULL);
	s->done = 1;
	return NULL;
}

/*
 * A commit that waits for another process's write lock holds the writer
 * connection all that time; reads meanwhile must not wait for it (they
 * would wait for ever here: the lock is released only after they return).
 */
static void test_store__reads_do_not_wait_for_a_commit(void)
{
	kv_db *db;
	sqlite3 *other;
	pthread_t t;
	uint8_t k[16];
	size_t kl = skey("k", k);
	struct blocked_set s = { NULL, k, kl, -1, 0 };

	make_dir();
	CHECK_RC(kv_open(path_in("wait.sqlite3"), 0, &db), KV_OK);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "o", 1, -1, NULL), KV_OK);
	other = raw_open(path_in("wait.sqlite3"));
	CHECK(other != NULL);
	if (!other)
		return;
	/* the expiry collector's first run may hold the lock for a moment */
	sqlite3_busy_timeout(other, 5000);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	s.db = db;
	CHECK(pthread_create(&t, NULL, set_new, &s) == 0);
	usleep(100 * 1000);     /* the set is now waiting in its leader's BEGIN */
	alarm(10);              /* a read that waits fails the test */
	for (int i = 0; i < 100; i++)
		CHECK(byte_of(db, k, kl) == 'o');
	alarm(0);
	CHECK(!s.done);
	CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	pthread_join(t, NULL);
	CHECK_RC(s.rc, KV_OK);
	CHECK(byte_of(db, k, kl) == 'n');
	sqlite3_close(other);
	kv_close(db);
}

/* Reads from another thread: a connection opened after the file was replaced. */
static void *get_in_thread(void *arg)
{
	kv_db *db = arg;
	uint8_t k[16];
	size_t kl = skey("k", k);
	kv_entry *e = NULL;
	int rc = kv_get(db, k, kl, &e);
	if (rc == KV_OK && !(e->value_len == 1 && e->value[0] == 'a'))
		rc = -1;                /* read from the other file */
	kv_free(e);
	return (void *) (intptr_t) rc;
}

static void test_store__file_replaced_fails_every_call(void)
{
	kv_db *db, *other;
	uint8_t k[16];
	size_t kl = skey("k", k);
	pthread_t th;
	void *res;

	make_dir();
	CHECK_RC(kv_open(path_in("mine.sqlite3"), 0, &db), KV_OK);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "a", 1, -1, NULL), KV_OK);
	CHECK_RC(kv_check_file(db), KV_OK);
	CHECK_RC(kv_open(path_in("other.sqlite3"), 0, &other), KV_OK);
	CHECK_RC(kv_set(other, k, kl, KV_ENCODING_BYTES, "b", 1, -1, NULL), KV_OK);
	kv_close(other);
	char from[256];
	snprintf(from, sizeof(from), "%s", path_in("other.sqlite3"));
	CHECK(rename(from, path_in("mine.sqlite3")) == 0);
	unlink(path_in("mine.sqlite3-wal"));     /* the old file's, as a restore would */
	unlink(path_in("mine.sqlite3-shm"));
	/*
	 * A read in another thread: served from the file opened, or refused
	 * once it is seen replaced, never from the other file.
	 */
	CHECK(pthread_create(&th, NULL, get_in_thread, db) == 0);
	pthread_join(th, &res);
	CHECK((intptr_t) res == KV_OK || (intptr_t) res == KV_IOERR);
	CHECK_RC(kv_check_file(db), KV_IOERR);
	CHECK(strstr(kv_errmsg(db), "was replaced or removed while open") != NULL);
	CHECK_RC(kv_set(db, k, kl, KV_ENCODING_BYTES, "c", 1, -1, NULL), KV_IOERR);
	kv_entry *e = NULL;
	CHECK_RC(kv_get(db, k, kl, &e), KV_IOERR);
	kv_free(e);
	kv_close(db);
	/* the file there is left as the other handle wrote it */
	CHECK_RC(kv_open(path_in("mine.sqlite3"), KV_OPEN_READONLY, &db), KV_OK);
	CHECK_RC(kv_get(db, k, kl, &e), KV_OK);
	if (e)
		CHECK_MEM(e->value, e->value_len, "b", 1);
	kv_free(e);
	kv_close(db);
}

static void test_store__versionstamp_text(void)
{
	char s[21];
	uint64_t v = 0;

	kv_versionstamp_format(0x22, s);
	CHECK_STR(s, "00000000000000220000");
	kv_versionstamp_format(UINT64_MAX, s);
	CHECK_STR(s, "ffffffffffffffff0000");
	CHECK_RC(kv_versionstamp_parse("000000000000ABcd0000", &v), KV_OK);
	CHECK(v == 0xabcd);
	CHECK_RC(kv_versionstamp_parse("00000000000000220001", &v), KV_INVALID);
	CHECK_RC(kv_versionstamp_parse("0000000000000022000", &v), KV_INVALID);
	CHECK_RC(kv_versionstamp_parse("000000000000002200000", &v), KV_INVALID);
	CHECK_RC(kv_versionstamp_parse("0000000000000g220000", &v), KV_INVALID);
}

int main(void)
{
	RUN(test_store__new_file_has_denos_schema);
	RUN(test_store__empty_file_is_initialised);
	RUN(test_store__opens_deno_file);
	RUN(test_store__refuses_non_sqlite_unchanged);
	RUN(test_store__refuses_other_sqlite_unchanged);
	RUN(test_store__memory_is_private);
	RUN(test_store__get_set_delete);
	RUN(test_store__longest_key);
	RUN(test_store__readonly);
	RUN(test_store__version_others);
	RUN(test_store__version_others_concurrent);
	RUN(test_store__point_reads_see_other_writers);
	RUN(test_store__reads_do_not_wait_for_a_commit);
	RUN(test_store__file_replaced_fails_every_call);
	RUN(test_store__versionstamp_text);
	return DONE();
}
