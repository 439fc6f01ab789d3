/*
 * kv.c - database handles: opening and closing, per-thread read
 * connections, versionstamp text.
 *
 * Connections. A file database has one writer connection (used by the
 * group-commit leader and the expiry collector under write_lock) and one
 * read connection per thread that reads, found through a pthread key and
 * listed in db->conns so kv_close can reach them. SQLite connections are
 * opened NOMUTEX: each is used by one thread at a time, so SQLite's own
 * mutexes would only cost time. WAL lets these readers run while a write
 * transaction is open, and each read call begins a fresh read transaction,
 * so a reader sees every commit that returned before the call.
 *
 * A point read borrows the writer connection when nothing holds it (see
 * kv__reader): after a commit, every other connection of the file must
 * drop its page cache and read its pages again, but the connection that
 * committed keeps its own.
 *
 * ":memory:" cannot work that way: each connection to ":memory:" is its
 * own database. One connection serves every thread instead, guarded by
 * mem_lock; a shared-cache memory URI would also work but brings table
 * locks (SQLITE_LOCKED) in place of WAL's concurrency, for no gain.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "kv_int.h"

int64_t kv__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- read connections ---- */

/* Thread exit: the thread's connection goes with it. */
static void reader_destroy(void *p)
{
	kv__conn *c = p;
	kv_db *db = c->owner;

	pthread_mutex_lock(&db->conns_lock);
	for (kv__conn **pp = &db->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&db->conns_lock);
	kv__conn_close(c);
}

/*
 * A point read (a few index seeks) takes the writer connection when it is
 * free, and never waits for it: while a commit, the collector or another
 * point read has it, the thread's own connection serves. Its page cache
 * is current after this handle's commits, so a read right after a write
 * (every file-system request that changes something) finds its pages in
 * memory instead of reading them from the file again. Listing batches
 * always use the thread's connection, so that a commit never waits for
 * one. (A read on the writer waits at most the writer's busy timeout for
 * another process's WAL recovery, 200 ms rather than 5 s; recovery after
 * a crash takes milliseconds.)
 */
static void file_remember(kv_db *db)
{
	struct stat sb;
	if (!db->memory && stat(db->path, &sb) == 0) {
		db->file_dev = sb.st_dev;
		db->file_ino = sb.st_ino;
		db->file_known = 1;
	}
}

int kv__file_check(kv_db *db)
{
	struct stat sb;

	if (!db->file_known)
		return KV_OK;
	if (!__atomic_load_n(&db->file_gone, __ATOMIC_RELAXED)) {
		int rc = stat(db->path, &sb);
		if (rc == 0 ? sb.st_dev == db->file_dev && sb.st_ino == db->file_ino
		            : errno != ENOENT && errno != ENOTDIR)
			return KV_OK;   /* the same file, or no telling (a search permission taken away) */
		__atomic_store_n(&db->file_gone, 1, __ATOMIC_RELAXED);
	}
	return kv__error(KV_IOERR, "the database file '%s' was replaced or removed while open",
	                 db->path);
}

int kv_check_file(kv_db *db)
{
	if (!db)
		return kv__error(KV_MISUSE, "kv_check_file: no handle");
	kv__clear_error();
	return kv__file_check(db);
}

int kv__reader(kv_db *db, int point, kv__conn **out)
{
	if (__atomic_load_n(&db->file_gone, __ATOMIC_RELAXED))
		return kv__file_check(db);
	if (db->memory) {
		pthread_mutex_lock(&db->mem_lock);
		*out = db->writer;
		return KV_OK;
	}
	if (point && db->writer && pthread_mutex_trylock(&db->write_lock) == 0) {
		*out = db->writer;
		return KV_OK;
	}
	kv__conn *c = pthread_getspecific(db->tls);
	if (c) {
		*out = c;
		return KV_OK;
	}
	/* a new connection opens the path: it must still be the file opened */
	int rc = kv__file_check(db);
	if (!rc)
		rc = kv__conn_open(db, 0, &c);
	if (rc)
		return rc;
	if (pthread_setspecific(db->tls, c)) {
		kv__conn_close(c);
		return kv__error(KV_NOMEM, "cannot register a read connection");
	}
	pthread_mutex_lock(&db->conns_lock);
	c->next = db->conns;
	db->conns = c;
	pthread_mutex_unlock(&db->conns_lock);
	*out = c;
	return KV_OK;
}

void kv__reader_done(kv_db *db, kv__conn *c)
{
	if (db->memory)
		pthread_mutex_unlock(&db->mem_lock);
	else if (c == db->writer)
		pthread_mutex_unlock(&db->write_lock);
}

/* ---- open and close ---- */

/*
 * Refuse a file that is not SQLite before SQLite opens it, so that it is
 * left byte for byte as it was. Missing and empty files are fine (created
 * and initialised, as Deno does).
 */
static int check_file(const char *path, int readonly)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat sb;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !readonly)
			return KV_OK;
		return kv__error(errno == EACCES ? KV_READONLY : KV_IOERR,
		                 "cannot open '%s': %s", path, strerror(errno));
	}
	int rc = KV_OK;
	if (fstat(fd, &sb) < 0) {
		rc = kv__error(KV_IOERR, "cannot stat '%s': %s", path, strerror(errno));
	} else if (S_ISDIR(sb.st_mode)) {
		rc = kv__error(KV_IOERR, "unable to open database file: %s", path);
	} else if (sb.st_size > 0) {
		ssize_t n = pread(fd, head, sizeof(head), 0);
		if (n != (ssize_t) sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0)
			rc = kv__error(KV_NOTKV, "'%s' is not an SQLite database", path);
	}
	close(fd);
	return rc;
}

static int pragma(kv__conn *c, const char *sql)
{
	int src = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	return src == SQLITE_OK ? KV_OK : kv__sqlite_error(c, src, sql);
}

static void free_db(kv_db *db)
{
	pthread_mutex_destroy(&db->conns_lock);
	pthread_mutex_destroy(&db->write_lock);
	pthread_mutex_destroy(&db->mem_lock);
	pthread_mutex_destroy(&db->gc_lock);
	pthread_cond_destroy(&db->gc_cond);
	pthread_mutex_destroy(&db->col_lock);
	pthread_cond_destroy(&db->col_cond);
	free(db->path);
	free(db);
}

int kv_open(const char *path, int flags, kv_db **out)
{
	kv_db *db;
	kv__conn *c = NULL;
	int rc, need_init = 0;

	kv__clear_error();
	if (!out)
		return kv__error(KV_MISUSE, "kv_open: no output handle");
	*out = NULL;
	if (!path || !*path)
		return kv__error(KV_INVALID, "Filename cannot be empty");
	db = calloc(1, sizeof(*db));
	if (!db)
		return kv__error(KV_NOMEM, "out of memory");
	db->path = strdup(path);
	db->flags = flags;
	db->memory = strcmp(path, ":memory:") == 0;
	pthread_mutex_init(&db->conns_lock, NULL);
	pthread_mutex_init(&db->write_lock, NULL);
	pthread_mutex_init(&db->mem_lock, NULL);
	pthread_mutex_init(&db->gc_lock, NULL);
	pthread_cond_init(&db->gc_cond, NULL);
	pthread_mutex_init(&db->col_lock, NULL);
	pthread_cond_init(&db->col_cond, NULL);
	if (!db->path || pthread_key_create(&db->tls, reader_destroy)) {
		free_db(db);
		return kv__error(KV_NOMEM, "out of memory");
	}
	if (getrandom(&db->rng, sizeof(db->rng), 0) != (ssize_t) sizeof(db->rng))
		db->rng = (uint64_t) kv__now_ms() ^ (uint64_t) getpid() << 32;
	db->rng |= 1;

	int readonly = (flags & KV_OPEN_READONLY) && !db->memory;
	if (!db->memory && (rc = check_file(path, readonly)))
		goto fail;
	if ((rc = kv__conn_open(db, !readonly, &c)))
		goto fail;
	/* SQLite opens a file it may not write read-only, and every commit would fail */
	if (!readonly && !db->memory && sqlite3_db_readonly(c->db, "main") == 1) {
		rc = kv__error(KV_READONLY, "'%s' cannot be written", path);
		goto fail;
	}
	if ((rc = kv__schema_check(c, path, readonly, &need_init)))
		goto fail;
	file_remember(db);
	if (readonly) {
		/* readers open their own connections; nothing writes */
		kv__conn_close(c);
		*out = db;
		return KV_OK;
	}
	/* Deno's settings: WAL, and one fsync per commit */
	if (!db->memory && (rc = pragma(c, "PRAGMA journal_mode=WAL")))
		goto fail;
	if ((rc = pragma(c, "PRAGMA synchronous=FULL")))
		goto fail;
	if (need_init && (rc = kv__schema_migrate(c)))
		goto fail;
	db->writer = c;
	c = NULL;
	if (!(flags & KV_OPEN_READONLY) && (rc = kv__collector_start(db)))
		goto fail;
	*out = db;
	return KV_OK;
fail:
	kv__conn_close(c);
	kv__conn_close(db->writer);
	pthread_key_delete(db->tls);
	free_db(db);
	return rc;
}

void kv_close(kv_db *db)
{
	if (!db)
		return;
	kv__collector_stop(db);

	/* let commits in flight finish */
	pthread_mutex_lock(&db->gc_lock);
	while (db->leader_active || db->queue_head)
		pthread_cond_wait(&db->gc_cond, &db->gc_lock);
	pthread_mutex_unlock(&db->gc_lock);

	/* after this no thread-exit destructor touches db */
	pthread_key_delete(db->tls);
	pthread_mutex_lock(&db->conns_lock);
	kv__conn *c = db->conns;
	db->conns = NULL;
	pthread_mutex_unlock(&db->conns_lock);
	while (c) {
		kv__conn *next = c->next;
		kv__conn_close(c);
		c = next;
	}
	/* last: closing the last connection checkpoints and removes the WAL */
	kv__conn_close(db->writer);
	free_db(db);
}

/* ---- versionstamps ---- */

void kv_versionstamp_format(uint64_t version, char out[21])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++)
		out[i] = hex[version >> (60 - 4 * i) & 0xf];
	memcpy(out + 16, "0000", 5);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int kv_versionstamp_parse(const char *text, uint64_t *version)
{
	uint64_t v = 0;

	if (!text || !version)
		return kv__error(KV_MISUSE, "kv_versionstamp_parse: bad arguments");
	for (int i = 0; i < 20; i++) {
		int d = hexval(text[i]);
		if (d < 0)
			return kv__error(KV_INVALID, "invalid versionstamp '%.24s'", text);
		if (i < 16)
			v = v << 4 | (uint64_t) d;
		else if (d != 0)
			return kv__error(KV_INVALID, "invalid versionstamp '%.24s'"
			                 " (sequence digits must be zero)", text);
	}
	if (text[20] != '\0')
		return kv__error(KV_INVALID, "invalid versionstamp '%.24s'", text);
	*version = v;
	return KV_OK;
}
