/*
 * store.c - the SQL: Deno's schema and migrations, cached statements, and
 * the point reads (kv_get, kv_get_many, kv_lookup, kv_version).
 *
 * The schema is created by running Deno's three migration steps with the
 * same statement text, so sqlite_master holds exactly what Deno writes and
 * Deno opens our file without migrating it. Every read query filters
 * expired rows itself (Deno does not; we want an expired key gone at once,
 * not when a collector next runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "kv_int.h"

#define VISIBLE "(expiration_ms < 0 OR expiration_ms > ?3)"
#define COLS "k, v, v_encoding, version, expiration_ms"

static const char *const stmt_sql[KV__S_COUNT] = {
	[KV__S_GET] = "SELECT v, v_encoding, version, expiration_ms FROM kv"
		" WHERE k = ?1 AND (expiration_ms < 0 OR expiration_ms > ?2)",
	[KV__S_SEEK2] = "SELECT " COLS " FROM kv WHERE k >= ?1 AND k < ?2 AND "
		VISIBLE " ORDER BY k LIMIT 2",
	[KV__S_SCAN_FWD] = "SELECT " COLS " FROM kv WHERE k >= ?1 AND k < ?2"
		" ORDER BY k LIMIT ?3",
	[KV__S_SCAN_REV] = "SELECT " COLS " FROM kv WHERE k >= ?1 AND k < ?2"
		" ORDER BY k DESC LIMIT ?3",
	[KV__S_SCAN_KEYS] = "SELECT k, NULL, NULL, NULL, expiration_ms FROM kv"
		" WHERE k >= ?1 AND k < ?2 ORDER BY k LIMIT ?3",
	[KV__S_VERSION] = "SELECT version FROM data_version WHERE k = 0",
	[KV__S_BEGIN] = "BEGIN",
	[KV__S_COMMIT] = "COMMIT",
	[KV__S_ROLLBACK] = "ROLLBACK",
	[KV__S_BEGIN_IMM] = "BEGIN IMMEDIATE",
	[KV__S_PUT] = "INSERT INTO kv (k, v, v_encoding, version, expiration_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (k) DO UPDATE SET"
		" v = excluded.v, v_encoding = excluded.v_encoding,"
		" version = excluded.version, expiration_ms = excluded.expiration_ms",
	[KV__S_DEL] = "DELETE FROM kv WHERE k = ?1",
	[KV__S_SETVER] = "UPDATE data_version SET version = ?1 WHERE k = 0",
	[KV__S_SAVEPOINT] = "SAVEPOINT kv_commit",
	[KV__S_RELEASE] = "RELEASE kv_commit",
	[KV__S_ROLLBACK_TO] = "ROLLBACK TO kv_commit",
	[KV__S_EXPIRE_BATCH] = "DELETE FROM kv WHERE k IN (SELECT k FROM kv"
		" WHERE expiration_ms >= 0 AND expiration_ms <= ?1 LIMIT 256)",
	[KV__S_EARLIEST] = "SELECT min(expiration_ms) FROM kv WHERE expiration_ms >= 0",
	[KV__S_LONGEST] = "SELECT max(length(k)) FROM kv WHERE k >= ?1 AND k < ?2 AND " VISIBLE,
};

/* ---- Deno's migrations, statement text as Deno runs them ---- */

static const char migration_state_sql[] =
	"create table if not exists migration_state(\n"
	"  k integer not null primary key,\n"
	"  version integer not null\n"
	")";

static const char *const migrations[] = {
	"create table data_version (\n"
	"  k integer primary key,\n"
	"  version integer not null\n"
	");\n"
	"insert into data_version (k, version) values (0, 0);\n"
	"create table kv (\n"
	"  k blob primary key,\n"
	"  v blob not null,\n"
	"  v_encoding integer not null,\n"
	"  version integer not null\n"
	") without rowid;\n",

	"create table queue (\n"
	"  ts integer not null,\n"
	"  id text not null,\n"
	"  data blob not null,\n"
	"  backoff_schedule text not null,\n"
	"  keys_if_undelivered blob not null,\n"
	"\n"
	"  primary key (ts, id)\n"
	");\n"
	"create table queue_running(\n"
	"  deadline integer not null,\n"
	"  id text not null,\n"
	"  data blob not null,\n"
	"  backoff_schedule text not null,\n"
	"  keys_if_undelivered blob not null,\n"
	"\n"
	"  primary key (deadline, id)\n"
	");\n",

	"alter table kv add column seq integer not null default 0;\n"
	"alter table data_version add column seq integer not null default 0;\n"
	"alter table kv add column expiration_ms integer not null default -1;\n"
	"create index kv_expiration_ms_idx on kv (expiration_ms);\n",
};

#define N_MIGRATIONS ((int) (sizeof(migrations) / sizeof(migrations[0])))

/* ---- connections and statements ---- */

int kv__sqlite_error(kv__conn *c, int src, const char *what)
{
	int base = src & 0xff;
	int rc = base == SQLITE_BUSY || base == SQLITE_LOCKED ? KV_BUSY
		: base == SQLITE_NOMEM ? KV_NOMEM
		: base == SQLITE_READONLY ? KV_READONLY
		: base == SQLITE_NOTADB ? KV_NOTKV
		: base == SQLITE_CORRUPT ? KV_CORRUPT
		: base == SQLITE_FULL ? KV_FULL
		: KV_IOERR;
	return kv__error(rc, "%s: %s", what, c && c->db ? sqlite3_errmsg(c->db)
	                 : sqlite3_errstr(src));
}

int kv__stmt(kv__conn *c, enum kv__stmt_id id, sqlite3_stmt **out)
{
	if (c->stmt[id]) {
		*out = c->stmt[id];
		return KV_OK;
	}
	int src = sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
	                             SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
	if (src != SQLITE_OK)
		return kv__sqlite_error(c, src, "cannot prepare statement");
	*out = c->stmt[id];
	return KV_OK;
}

/* Run a statement without results (BEGIN, COMMIT, ...). */
int kv__exec(kv__conn *c, enum kv__stmt_id id)
{
	sqlite3_stmt *st = NULL;
	int rc = kv__stmt(c, id, &st);
	if (rc)
		return rc;
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	if (src != SQLITE_DONE && src != SQLITE_ROW)
		return kv__sqlite_error(c, src, stmt_sql[id]);
	return KV_OK;
}

void kv__conn_close(kv__conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < KV__S_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

int kv__conn_open(kv_db *db, int writer, kv__conn **out)
{
	kv__conn *c = calloc(1, sizeof(*c));
	if (!c)
		return kv__error(KV_NOMEM, "out of memory");
	c->owner = db;
	int oflags = SQLITE_OPEN_NOMUTEX;
	if ((db->flags & KV_OPEN_READONLY) && !db->memory)
		oflags |= SQLITE_OPEN_READONLY;
	else
		oflags |= SQLITE_OPEN_READWRITE | (writer ? SQLITE_OPEN_CREATE : 0);
	int src = sqlite3_open_v2(db->path, &c->db, oflags, NULL);
	if (src != SQLITE_OK) {
		int rc = kv__sqlite_error(c, src, "cannot open database");
		if (rc == KV_IOERR || rc == KV_READONLY)
			rc = kv__error(rc, "cannot open '%s': %s", db->path,
			               c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
		kv__conn_close(c);
		return rc;
	}
	/*
	 * Another process holding the lock makes a read wait briefly (WAL
	 * recovery); writes retry BEGIN IMMEDIATE on top of this (atomic.c).
	 */
	sqlite3_busy_timeout(c->db, writer ? 200 : 5000);
	sqlite3_extended_result_codes(c->db, 1);
	*out = c;
	return KV_OK;
}

/* ---- schema ---- */

static int table_exists(kv__conn *c, const char *name, int *exists)
{
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(c->db, "SELECT count(*) FROM sqlite_master"
	                             " WHERE type = 'table' AND name = ?1", -1, &st, NULL);
	if (src != SQLITE_OK)
		return src;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		*exists = sqlite3_column_int(st, 0) > 0;
		src = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return src;
}

/*
 * Decide whether the file is ours to use, before anything writes to it:
 * a fresh or empty database needs Deno's schema (*need_init); a database
 * with migration_state and kv is a Deno KV file; anything else is
 * somebody else's and is refused. Reading sqlite_master changes nothing.
 */
int kv__schema_check(kv__conn *c, const char *path, int readonly, int *need_init)
{
	sqlite3_stmt *st = NULL;
	int ntables = 0, has_ms = 0, has_kv = 0, src;

	*need_init = 0;
	src = sqlite3_prepare_v2(c->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
	if (src == SQLITE_OK) {
		src = sqlite3_step(st);
		if (src == SQLITE_ROW) {
			ntables = sqlite3_column_int(st, 0);
			src = SQLITE_OK;
		}
		sqlite3_finalize(st);
	}
	if (src == SQLITE_OK)
		src = table_exists(c, "migration_state", &has_ms);
	if (src == SQLITE_OK)
		src = table_exists(c, "kv", &has_kv);
	if ((src & 0xff) == SQLITE_NOTADB)
		return kv__error(KV_NOTKV, "'%s' is not an SQLite database", path);
	if (src != SQLITE_OK)
		return kv__sqlite_error(c, src, "cannot read schema");
	if (ntables == 0) {
		if (readonly)
			return kv__error(KV_NOTKV, "'%s' is empty, not a Deno KV database", path);
		*need_init = 1;
		return KV_OK;
	}
	if (!has_ms || !has_kv) {
		/* a half-migrated Deno file has migration_state but no kv yet */
		if (has_ms && !readonly) {
			*need_init = 1;
			return KV_OK;
		}
		return kv__error(KV_NOTKV, "'%s' is not a Deno KV database"
		                 " (no migration_state or kv table)", path);
	}
	int version = 0;
	src = sqlite3_prepare_v2(c->db, "SELECT version FROM migration_state WHERE k = 0",
	                         -1, &st, NULL);
	if (src != SQLITE_OK)
		return kv__sqlite_error(c, src, "cannot read migration_state");
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < N_MIGRATIONS) {
		if (readonly)
			return kv__error(KV_NOTKV, "'%s' needs migration %d of Deno KV"
			                 " and is opened read-only", path, version + 1);
		*need_init = 1;
	}
	return KV_OK;
}

static int exec_sql(kv__conn *c, const char *sql)
{
	char *msg = NULL;
	int src = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	if (src != SQLITE_OK) {
		int rc = kv__sqlite_error(c, src, "migration failed");
		sqlite3_free(msg);
		return rc;
	}
	return KV_OK;
}

/*
 * Deno's migration runner: create migration_state if missing, then each
 * later step in its own write transaction with the new number stored.
 * The version is read inside the transaction so that two processes
 * initialising one file at once do not run a step twice.
 */
int kv__schema_migrate(kv__conn *c)
{
	int rc = exec_sql(c, migration_state_sql);
	if (rc)
		return rc;
	for (;;) {
		rc = exec_sql(c, "BEGIN IMMEDIATE");
		if (rc)
			return rc;
		sqlite3_stmt *st;
		int version = 0;
		int src = sqlite3_prepare_v2(c->db, "SELECT version FROM migration_state"
		                             " WHERE k = 0", -1, &st, NULL);
		if (src != SQLITE_OK) {
			rc = kv__sqlite_error(c, src, "cannot read migration_state");
			goto fail;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (version >= N_MIGRATIONS)
			return exec_sql(c, "COMMIT");
		rc = exec_sql(c, migrations[version]);
		if (rc)
			goto fail;
		char sql[96];
		snprintf(sql, sizeof(sql), "replace into migration_state (k, version)"
		         " values (0, %d)", version + 1);
		rc = exec_sql(c, sql);
		if (rc)
			goto fail;
		rc = exec_sql(c, "COMMIT");
		if (rc)
			goto fail;
	}
fail:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- point reads ---- */

int kv__entry_from_row(sqlite3_stmt *st, int col, const void *key, size_t key_len,
                       unsigned flags, kv_entry **out)
{
	const void *v = NULL;
	size_t vlen = 0;
	if (flags & KV_ENTRY_VALUE) {
		v = sqlite3_column_blob(st, col);
		vlen = (size_t) sqlite3_column_bytes(st, col);
	}
	kv_entry *e = malloc(sizeof(*e) + key_len + vlen + 1);
	if (!e)
		return kv__error(KV_NOMEM, "out of memory");
	uint8_t *p = (uint8_t *) (e + 1);
	if (key_len)
		memcpy(p, key, key_len);
	e->key = p;
	e->key_len = key_len;
	p += key_len;
	if (flags & KV_ENTRY_VALUE) {
		if (vlen)
			memcpy(p, v, vlen);
		e->value = p;
		e->value_len = vlen;
		e->encoding = sqlite3_column_int(st, col + 1);
		e->version = (uint64_t) sqlite3_column_int64(st, col + 2);
		e->expires_at = sqlite3_column_int64(st, col + 3);
	} else {
		e->value = NULL;
		e->value_len = 0;
		e->encoding = 0;
		e->version = 0;
		e->expires_at = -1;
	}
	e->flags = flags;
	*out = e;
	return KV_OK;
}

/* Look up one key on c; KV_NOTFOUND when absent or expired. */
static int get_one(kv__conn *c, const void *key, size_t key_len, int64_t now,
                   kv_entry **out)
{
	sqlite3_stmt *st = NULL;
	int rc = kv__stmt(c, KV__S_GET, &st);
	if (rc)
		return rc;
	sqlite3_bind_blob(st, 1, key_len ? key : "", (int) key_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = kv__entry_from_row(st, 0, key, key_len, KV_ENTRY_VALUE, out);
	else if (src == SQLITE_DONE)
		rc = KV_NOTFOUND;
	else
		rc = kv__sqlite_error(c, src, "cannot read");
	sqlite3_reset(st);
	return rc;
}

int kv_get(kv_db *db, const void *key, size_t key_len, kv_entry **out)
{
	kv__conn *c;
	int rc;

	*out = NULL;
	if (!db || (!key && key_len))
		return kv__error(KV_MISUSE, "kv_get: bad arguments");
	if ((rc = kv__check_read_key(key, key_len)))
		return rc;
	if ((rc = kv__reader(db, 1, &c)))
		return rc;
	rc = get_one(c, key, key_len, kv__now_ms(), out);
	kv__reader_done(db, c);
	return rc;
}

int kv_get_many(kv_db *db, size_t n, const void *const keys[],
                const size_t key_lens[], kv_entry *out[])
{
	kv__conn *c;
	int rc;

	if (!db || (n && (!keys || !key_lens || !out)))
		return kv__error(KV_MISUSE, "kv_get_many: bad arguments");
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (n > KV_MAX_GET_MANY)
		return kv__error(KV_TOOBIG, "Too many ranges (max %d)", KV_MAX_GET_MANY);
	for (size_t i = 0; i < n; i++)
		if ((rc = kv__check_read_key(keys[i], key_lens[i])))
			return rc;
	if (n == 0)
		return KV_OK;
	if ((rc = kv__reader(db, 1, &c)))
		return rc;
	/* one read transaction: all keys from the same snapshot */
	int in_txn = n > 1;
	if (in_txn && (rc = kv__exec(c, KV__S_BEGIN)))
		goto out;
	int64_t now = kv__now_ms();
	for (size_t i = 0; i < n; i++) {
		rc = get_one(c, keys[i], key_lens[i], now, &out[i]);
		if (rc == KV_NOTFOUND)
			rc = KV_OK;
		if (rc)
			break;
	}
	if (in_txn)
		kv__exec(c, KV__S_COMMIT);
	if (rc)
		for (size_t i = 0; i < n; i++) {
			free(out[i]);
			out[i] = NULL;
		}
out:
	kv__reader_done(db, c);
	return rc;
}

/*
 * The end of the range [key, key+FF) that holds `key` and every key under
 * it (no key part starts with byte FF): `hi`, key_len + 1 bytes.
 */
static int subtree_end(const void *key, size_t key_len, uint8_t hi[KV_MAX_KEY_READ + 1])
{
	if (key_len + 1 > KV_MAX_KEY_READ)
		return kv__error(KV_TOOBIG_KEY, "Key too large for read (max %d bytes)",
		                 KV_MAX_KEY_READ);
	if (key_len)
		memcpy(hi, key, key_len);
	hi[key_len] = 0xFF;
	return KV_OK;
}

int kv_lookup(kv_db *db, const void *key, size_t key_len, kv_entry **out)
{
	kv__conn *c;
	sqlite3_stmt *st = NULL;
	uint8_t hi[KV_MAX_KEY_READ + 1];
	int rc;

	*out = NULL;
	if (!db || (!key && key_len))
		return kv__error(KV_MISUSE, "kv_lookup: bad arguments");
	if ((rc = kv__check_read_key(key, key_len)) || (rc = subtree_end(key, key_len, hi)))
		return rc;

	if ((rc = kv__reader(db, 1, &c)))
		return rc;
	if ((rc = kv__stmt(c, KV__S_SEEK2, &st)))
		goto out;
	/*
	 * The first two visible rows in [key, key+FF) answer both questions:
	 * the first equals key iff it holds a value, and any other row in
	 * that range lies under key (no part starts with byte FF).
	 */
	sqlite3_bind_blob(st, 1, key_len ? key : "", (int) key_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hi, (int) key_len + 1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, kv__now_ms());
	unsigned flags = 0;
	int src = sqlite3_step(st);
	int have_value = 0;
	if (src == SQLITE_ROW) {
		size_t k0 = (size_t) sqlite3_column_bytes(st, 0);
		if (k0 == key_len) {
			have_value = 1;
			flags |= KV_ENTRY_VALUE;
			/* copy now: the next step invalidates the row */
			rc = kv__entry_from_row(st, 1, key, key_len, KV_ENTRY_VALUE, out);
			if (rc)
				goto reset;
			src = sqlite3_step(st);
			if (src == SQLITE_ROW)
				flags |= KV_ENTRY_CHILDREN;
		} else {
			flags |= KV_ENTRY_CHILDREN;
		}
	}
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = kv__sqlite_error(c, src, "cannot read");
		free(*out);
		*out = NULL;
		goto reset;
	}
	if (!have_value) {
		if (!flags && key_len) {
			rc = KV_NOTFOUND;
			goto reset;
		}
		rc = kv__entry_from_row(st, 1, key, key_len, 0, out);
		if (rc)
			goto reset;
	}
	(*out)->flags = flags;
reset:
	sqlite3_reset(st);
out:
	kv__reader_done(db, c);
	return rc;
}

int kv_longest_key(kv_db *db, const void *key, size_t key_len, size_t *longest)
{
	kv__conn *c;
	sqlite3_stmt *st = NULL;
	uint8_t hi[KV_MAX_KEY_READ + 1];
	int rc;

	if (!db || !longest || (!key && key_len))
		return kv__error(KV_MISUSE, "kv_longest_key: bad arguments");
	*longest = 0;
	if ((rc = subtree_end(key, key_len, hi)) || (rc = kv__reader(db, 0, &c)))
		return rc;
	if ((rc = kv__stmt(c, KV__S_LONGEST, &st)) == KV_OK) {
		sqlite3_bind_blob(st, 1, key_len ? key : "", (int) key_len, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, hi, (int) key_len + 1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, kv__now_ms());
		int src = sqlite3_step(st);
		if (src == SQLITE_ROW)
			*longest = (size_t) sqlite3_column_int64(st, 0);
		else
			rc = kv__sqlite_error(c, src, "cannot read");
		sqlite3_reset(st);
	}
	kv__reader_done(db, c);
	return rc;
}

int kv_version(kv_db *db, uint64_t *out)
{
	kv__conn *c;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!db || !out)
		return kv__error(KV_MISUSE, "kv_version: bad arguments");
	if ((rc = kv__reader(db, 1, &c)))
		return rc;
	if ((rc = kv__stmt(c, KV__S_VERSION, &st)) == KV_OK) {
		int src = sqlite3_step(st);
		if (src == SQLITE_ROW)
			*out = (uint64_t) sqlite3_column_int64(st, 0);
		else
			rc = src == SQLITE_DONE ? kv__error(KV_CORRUPT, "data_version has no row")
				: kv__sqlite_error(c, src, "cannot read data_version");
		sqlite3_reset(st);
	}
	kv__reader_done(db, c);
	return rc;
}

int kv_version_others(kv_db *db, uint64_t *out)
{
	uint64_t v;
	int rc = kv_version(db, &v);

	if (rc)
		return rc;
	/*
	 * Versions only grow. Up to our last group's version (v may be older
	 * when a group finished since it was read) every other writer's
	 * commit was seen by one of our groups at its start, and the last
	 * such version stands in; so it does for the version of a group
	 * still committing. Above that, v is another writer's.
	 */
	pthread_mutex_lock(&db->gc_lock);
	*out = v <= db->own_version || v == db->own_pending ? db->others_version : v;
	int moved = *out != db->others_told;
	db->others_told = *out;
	pthread_mutex_unlock(&db->gc_lock);
	if (moved)
		kv__collector_recheck(db);
	return KV_OK;
}
