/*
 * expire.c - the expiry collector: removes expired rows from the file.
 *
 * Reads already hide expired rows, so the collector only reclaims space
 * (and lets Deno, which does not filter, stop seeing them). It sleeps on
 * a condition variable until the earliest expiry or at most 60 s; a commit
 * that sets an earlier expiry wakes it, so does another writer's commit
 * seen by kv_version_others (it looks for the earliest expiry again, and
 * deletes only when one passed), and kv_close stops it at once.
 * It deletes in batches of 256 rows, each its own short write transaction
 * on the writer connection under write_lock, so commits wait for at most
 * one small batch and readers never wait (WAL). Like Deno, a run that
 * deleted something bumps data_version by exactly 1.
 */
#include <errno.h>
#include <time.h>
#include <sqlite3.h>
#include "kv_int.h"

#define MAX_SLEEP_MS 60000

static int64_t earliest(kv_db *db)
{
	sqlite3_stmt *st = NULL;
	int64_t t = -1;

	pthread_mutex_lock(&db->write_lock);
	if (db->memory)
		pthread_mutex_lock(&db->mem_lock);
	if (kv__stmt(db->writer, KV__S_EARLIEST, &st) == KV_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			t = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	if (db->memory)
		pthread_mutex_unlock(&db->mem_lock);
	pthread_mutex_unlock(&db->write_lock);
	return t;
}

/* One batch in one write transaction; *deleted gets the row count. */
static int collect_batch(kv_db *db, int bump, int *deleted)
{
	kv__conn *c = db->writer;
	sqlite3_stmt *st = NULL;
	int rc;

	*deleted = 0;
	pthread_mutex_lock(&db->write_lock);
	if (db->memory)
		pthread_mutex_lock(&db->mem_lock);
	/* no retry loop: on a busy file the next run tries again */
	if ((rc = kv__exec(c, KV__S_BEGIN_IMM)))
		goto out;
	if ((rc = kv__stmt(c, KV__S_EXPIRE_BATCH, &st)))
		goto rollback;
	sqlite3_bind_int64(st, 1, kv__now_ms());
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	if (src != SQLITE_DONE) {
		rc = kv__sqlite_error(c, src, "cannot collect expired rows");
		goto rollback;
	}
	*deleted = sqlite3_changes(c->db);
	if (*deleted && bump) {
		rc = sqlite3_exec(c->db, "UPDATE data_version SET version = version + 1"
		                  " WHERE k = 0", NULL, NULL, NULL) == SQLITE_OK ? KV_OK
			: kv__sqlite_error(c, SQLITE_ERROR, "cannot bump data_version");
		if (rc)
			goto rollback;
	}
	if ((rc = kv__exec(c, KV__S_COMMIT)) == KV_OK)
		goto out;
rollback:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	*deleted = 0;
out:
	if (db->memory)
		pthread_mutex_unlock(&db->mem_lock);
	pthread_mutex_unlock(&db->write_lock);
	return rc;
}

static void collect(kv_db *db)
{
	int deleted, bumped = 0;

	do {
		if (collect_batch(db, !bumped, &deleted))
			break;
		bumped |= deleted > 0;
		pthread_mutex_lock(&db->col_lock);
		int stop = db->col_stop;
		pthread_mutex_unlock(&db->col_lock);
		if (stop)
			break;
	} while (deleted == 256);
}

static void *collector_main(void *arg)
{
	kv_db *db = arg;
	int due = 1;

	pthread_mutex_lock(&db->col_lock);
	while (!db->col_stop) {
		pthread_mutex_unlock(&db->col_lock);
		if (due)
			collect(db);
		int64_t now = kv__now_ms(), next = earliest(db);
		if (next < 0 || next > now + MAX_SLEEP_MS)
			next = now + MAX_SLEEP_MS;
		else if (due && next <= now)
			next = now + 1000;   /* what this run could not delete: not in a loop */
		pthread_mutex_lock(&db->col_lock);
		/* a hint that arrived while collecting may be earlier */
		if (db->col_wake_ms < 0 || db->col_wake_ms > next)
			db->col_wake_ms = next;
		while (!db->col_stop && !db->col_recheck && kv__now_ms() < db->col_wake_ms) {
			/* +1 ms: the row must be strictly past its expiry */
			int64_t w = db->col_wake_ms + 1;
			struct timespec ts = { w / 1000, (long) (w % 1000) * 1000000 };
			pthread_cond_timedwait(&db->col_cond, &db->col_lock, &ts);
		}
		due = !db->col_recheck || kv__now_ms() >= db->col_wake_ms;
		db->col_recheck = 0;
		db->col_wake_ms = -1;
	}
	pthread_mutex_unlock(&db->col_lock);
	return NULL;
}

int kv__collector_start(kv_db *db)
{
	db->col_stop = 0;
	db->col_wake_ms = -1;
	if (pthread_create(&db->collector, NULL, collector_main, db))
		return kv__error(KV_NOMEM, "cannot start the expiry collector");
	db->collector_running = 1;
	return KV_OK;
}

void kv__collector_stop(kv_db *db)
{
	if (!db->collector_running)
		return;
	pthread_mutex_lock(&db->col_lock);
	db->col_stop = 1;
	pthread_cond_signal(&db->col_cond);
	pthread_mutex_unlock(&db->col_lock);
	pthread_join(db->collector, NULL);
	db->collector_running = 0;
}

void kv__collector_recheck(kv_db *db)
{
	if (!db->collector_running)
		return;
	pthread_mutex_lock(&db->col_lock);
	db->col_recheck = 1;
	pthread_cond_signal(&db->col_cond);
	pthread_mutex_unlock(&db->col_lock);
}

/* A commit stored an expiry: wake the collector earlier if needed. */
void kv__collector_hint(kv_db *db, int64_t expire_ms)
{
	if (!db->collector_running)
		return;
	pthread_mutex_lock(&db->col_lock);
	if (db->col_wake_ms < 0 || expire_ms < db->col_wake_ms) {
		db->col_wake_ms = expire_ms;
		pthread_cond_signal(&db->col_cond);
	}
	pthread_mutex_unlock(&db->col_lock);
}
