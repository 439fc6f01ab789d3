/*
 * kv_int.h - private declarations shared by the engine's modules.
 *
 * Nothing here is visible outside engine/. Each module keeps its own
 * section; shared helpers (errors, base64, buffers) come first.
 */
#ifndef KV_INT_H
#define KV_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include "kv.h"

/* ---- errors (error.c) ---- */

/*
 * Record `fmt` as the calling thread's kv_errmsg() and return rc, so a
 * failure reads: return kv__error(KV_INVALID, "bad tag 0x%02x", tag);
 */
int kv__error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear the thread's message (start of a public call that can fail). */
void kv__clear_error(void);

/* ---- growable byte buffer (error.c) ---- */

typedef struct kv_buf {
	uint8_t *data;
	size_t len, cap;
	int failed;           /* an allocation failed; contents are unusable */
} kv_buf;

int kv__buf_reserve(kv_buf *b, size_t extra);           /* KV_OK or KV_NOMEM */
int kv__buf_put(kv_buf *b, const void *p, size_t n);     /* append bytes */
int kv__buf_putc(kv_buf *b, uint8_t c);
int kv__buf_printf(kv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kv__buf_free(kv_buf *b);

/* ---- base64 (base64.c) ---- */

/* Standard alphabet with padding ($bytes). Appends to b. */
int kv__base64_encode(kv_buf *b, const void *data, size_t len);
/* URL-safe alphabet with padding (list cursors). */
int kv__base64url_encode(kv_buf *b, const void *data, size_t len);
/* Decode either alphabet, padding optional; KV_INVALID on bad input. */
int kv__base64_decode(kv_buf *b, const char *text, size_t len);

/* ---- keys and numbers (key.c, number.c) ---- */

/*
 * Length of the well-formed UTF-8 sequence starting at s (no overlongs,
 * surrogates or code points above U+10FFFF), 0 when there is none; *cp
 * gets the code point. kv__utf8_valid: 1 when all of data is well-formed.
 */
size_t kv__utf8_seq(const uint8_t *s, size_t len, uint32_t *cp);
int kv__utf8_valid(const void *data, size_t len);

/*
 * JavaScript's String(n) for a double: shortest round-trip digits, decimal
 * for 1e-7 <= |n| < 1e21, exponent form otherwise ("1e+21", "1.5e-7").
 * -0 prints "0" as in JavaScript; NaN and the infinities print "NaN",
 * "Infinity", "-Infinity". Returns the text length.
 */
int kv__format_double(double d, char out[32]);

/*
 * Parse a JavaScript-style decimal number: optional '-', digits with an
 * optional fraction, optional exponent; also "NaN", "-NaN" (sign bit set),
 * "Infinity", "-Infinity". Correctly rounded. KV_INVALID otherwise (see number.c for
 * the exact spellings accepted).
 */
int kv__parse_decimal_number(const char *s, size_t len, double *out);

/*
 * Arbitrary-size integers as text. Magnitudes are big-endian without a
 * leading zero byte (empty for 0). to_decimal appends "-123" style text
 * (no 'n'); from_decimal accepts an optional '-' and digits, appends the
 * minimal magnitude to be_magnitude and sets *negative (0 for "-0").
 */
int kv__bigint_to_decimal(const uint8_t *be_magnitude, size_t len, int negative, kv_buf *out);
int kv__bigint_from_decimal(const char *s, size_t len, kv_buf *be_magnitude, int *negative);

/*
 * JSON strings (name.c), usable where cJSON's NUL-terminated strings fall
 * short. write appends s as a JSON string literal (escaping '"', '\\' and
 * control characters). read takes the literal at s[0] == '"', appends its
 * UTF-8 (NUL included; lone surrogates become U+FFFD, as Deno stores
 * them) and sets *used to the literal's length; KV_INVALID when malformed.
 */
int kv__json_write_string(kv_buf *b, const void *s, size_t len);
int kv__json_read_string(const char *s, size_t len, size_t *used, kv_buf *out);

/* ---- values (value.c, regexp.c) ---- */

/*
 * Next code point of WTF-8 the engine built itself (UTF-8 that may hold
 * lone surrogates); returns the sequence length.
 */
size_t kv__wtf8_next(const uint8_t *s, size_t len, uint32_t *cp);

/*
 * Whether V8 compiles the RegExp source (WTF-8) with flags (V8's bits:
 * u 0x10, v 0x100; the others do not change the syntax): KV_OK, or
 * KV_INVALID with V8's reason in *why ("Unterminated group"; no error is
 * recorded, the caller words it), or KV_NOMEM.
 */
int kv__regexp_check(const uint8_t *source, size_t len, unsigned flags, const char **why);

/* ---- engine core (kv.c, store.c, atomic.c, list.c, expire.c) ---- */

#include <pthread.h>
#include <sys/types.h>
#include <semaphore.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

/* Cached statements of one connection, prepared on first use (store.c). */
enum kv__stmt_id {
	KV__S_GET,          /* v, v_encoding, version, expiration_ms of one visible key */
	KV__S_SEEK2,        /* first two visible rows in [?1, ?2): lookup, children */
	KV__S_SCAN_FWD,     /* every row in [?1, ?2) ascending, LIMIT ?3, expired too:
	                       kv_list and kv_children filter on the expiration
	                       they read anyway */
	KV__S_SCAN_REV,     /* the same, descending */
	KV__S_SCAN_KEYS,    /* KV__S_SCAN_FWD's rows with only k and expiration_ms
	                       (at the same column numbers): kv_children_keys */
	KV__S_VERSION,      /* data_version.version */
	KV__S_BEGIN,        /* BEGIN (deferred): read snapshot for get_many */
	KV__S_COMMIT,
	KV__S_ROLLBACK,
	KV__S_BEGIN_IMM,    /* writer only from here on */
	KV__S_PUT,
	KV__S_DEL,
	KV__S_SETVER,
	KV__S_SAVEPOINT,
	KV__S_RELEASE,
	KV__S_ROLLBACK_TO,
	KV__S_EXPIRE_BATCH,
	KV__S_EARLIEST,
	KV__S_LONGEST,
	KV__S_COUNT
};

/* One SQLite connection and its statements; used by one thread at a time. */
typedef struct kv__conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[KV__S_COUNT];
	struct kv__conn *next;     /* kv_db.conns, under kv_db.conns_lock */
	struct kv_db *owner;
} kv__conn;

struct kv_atomic;

struct kv_db {
	char *path;
	int flags;                 /* KV_OPEN_* */
	int memory;                /* ":memory:": one connection for everything */

	/*
	 * The file opened. Connections are opened by path as threads need
	 * them, so once the path names another file, or none (the file
	 * replaced or removed), every call fails (kv__file_check) rather than
	 * reading one file and writing another.
	 */
	int file_known;
	dev_t file_dev;
	ino_t file_ino;
	int file_gone;             /* seen replaced or removed (atomic) */

	/*
	 * Readers: one connection per thread (file databases). The
	 * thread-specific value is the thread's kv__conn; conns lists them
	 * all so kv_close can close connections of threads still alive.
	 */
	pthread_key_t tls;
	pthread_mutex_t conns_lock;
	kv__conn *conns;

	/*
	 * The writer connection. Used by the group-commit leader, the
	 * expiry collector and point reads, one at a time, under
	 * write_lock. For ":memory:" it is also the only reader connection,
	 * and every use of it holds mem_lock (lock order: write_lock, then
	 * mem_lock).
	 */
	kv__conn *writer;
	pthread_mutex_t write_lock;
	pthread_mutex_t mem_lock;

	/*
	 * group commit: queue of waiting commits, under gc_lock. leader_active
	 * stays set while leadership passes from one commit to the next;
	 * gc_cond is broadcast when it clears (kv_close waits on it).
	 */
	pthread_mutex_t gc_lock;
	pthread_cond_t gc_cond;
	struct kv_atomic *queue_head, *queue_tail;
	int leader_active;
	uint64_t rng;              /* version steps; used by the leader only */
	/*
	 * kv_version_others, under gc_lock: data_version after this handle's
	 * last group; the version its group in flight is committing (else
	 * own_version); the version a group found at its start when it was
	 * neither (another writer committed in between).
	 */
	uint64_t own_version, own_pending, others_version;
	uint64_t others_told;      /* what kv_version_others last returned */
	kv_change_fn on_change;    /* kv_on_change; called by the leader */
	void *on_change_ctx;

	/* expiry collector (expire.c), under col_lock */
	pthread_mutex_t col_lock;
	pthread_cond_t col_cond;
	pthread_t collector;
	int collector_running;
	int col_stop;
	int64_t col_wake_ms;       /* when the collector next runs */
	int col_recheck;           /* another writer committed: look for its expiries */
};

/* One mutation of an atomic commit. */
enum { KV__M_SET = 1, KV__M_DEL, KV__M_SUM, KV__M_MIN, KV__M_MAX, KV__M_MOVE };

typedef struct kv__mut {
	int op;
	const uint8_t *key;        /* owned by the builder (kv_set: by the caller) */
	size_t key_len;
	int encoding;
	const uint8_t *value;      /* KV__M_MOVE: the prefix moved to */
	size_t value_len;
	int64_t expire_ms;         /* absolute Unix ms, -1 = never */
	uint64_t operand;          /* sum/min/max */
	int some;                  /* KV__M_MOVE: as many as fit (kv_atomic_move_some) */
} kv__mut;

typedef struct kv__check {
	const uint8_t *key;
	size_t key_len;
	int absent;                /* the key must be absent */
	uint64_t version;
} kv__check;

struct kv_atomic {
	kv_db *db;
	int failed;                /* sticky: later calls return KV_MISUSE */
	int owned;                 /* keys and values were copied (free them) */
	kv__check *checks;
	size_t nchecks, checks_cap;
	size_t max_checks;         /* 0: KV_MAX_CHECKS */
	kv__mut *muts;
	size_t nmuts, muts_cap;
	size_t total_bytes, key_bytes;
	int has_arith;             /* has sum/min/max or a move: needs a savepoint */
	int64_t earliest_expiry;   /* smallest expire_ms set, or -1 */
	uint8_t *moved;            /* keys a move changed, each a size_t length and its
	                              bytes, for kv_on_change after the commit */
	size_t moved_len, moved_cap;

	/*
	 * group commit: next is under db->gc_lock; lead, rc, version and
	 * errmsg are written by the leader before it posts wake, and read by
	 * the committing thread after its sem_wait.
	 */
	struct kv_atomic *next;
	int lead;                  /* woken to lead the next group, not done */
	int64_t queued_ms;         /* when it was queued (Unix ms): its lock wait ends
	                              BUSY_WAIT_MS later */
	sem_t wake;                /* posted once: done, or lead */
	int rc;
	uint64_t version;
	char *errmsg;              /* heap copy of the leader's message */
};

int64_t kv__now_ms(void);

/* Connections and statements (kv.c, store.c). */
int kv__conn_open(kv_db *db, int writer, kv__conn **out);
void kv__conn_close(kv__conn *c);
int kv__stmt(kv__conn *c, enum kv__stmt_id id, sqlite3_stmt **out);
int kv__sqlite_error(kv__conn *c, int src, const char *what);
/* KV_IOERR once the database's path no longer names the file opened. */
int kv__file_check(kv_db *db);
/*
 * A connection for one read call; pair with kv__reader_done. `point`: a
 * short read that may borrow the writer connection (kv.c says when).
 */
int kv__reader(kv_db *db, int point, kv__conn **out);
void kv__reader_done(kv_db *db, kv__conn *c);
int kv__exec(kv__conn *c, enum kv__stmt_id id);

/* Schema check and Deno's migrations (store.c). */
int kv__schema_check(kv__conn *c, const char *path, int readonly, int *need_init);
int kv__schema_migrate(kv__conn *c);

/* Row copy: one heap block holding the entry, its key and value. */
int kv__entry_from_row(sqlite3_stmt *st, int col, const void *key, size_t key_len,
                       unsigned flags, kv_entry **out);

/* Key checks for writes (atomic.c). */
int kv__check_write_key(const void *key, size_t key_len);
int kv__check_read_key(const void *key, size_t key_len);

/* Expiry collector (expire.c). */
int kv__collector_start(kv_db *db);
void kv__collector_stop(kv_db *db);
void kv__collector_hint(kv_db *db, int64_t expire_ms);
/* Another writer committed: its expiries may be earlier than any we know of. */
void kv__collector_recheck(kv_db *db);

/*
 * Decode `part`, which must be exactly one encoded key part, into *p, with
 * its bytes in `out` (part_len bytes at least): kv_key_decode for one part,
 * without an allocation (key.c).
 */
int kv__part_decode(const void *part, size_t part_len, kv_part *p, uint8_t *out);

#endif /* KV_INT_H */
