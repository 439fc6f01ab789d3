/*
 * kv.h - the kvfs engine: Deno KV's data model over SQLite.
 *
 * The database file is byte-compatible with the one `Deno.openKv(path)` uses:
 * keys are stored in Deno's tuple encoding, values as V8-serialized bytes
 * (encoding 1), little-endian u64 (encoding 2) or raw bytes (encoding 3), and
 * every commit takes a fresh, strictly increasing version from the file's
 * data_version row, so a Deno process and this engine can share one file.
 *
 * This is the only header the rest of kvfs includes. It uses standard C
 * types only.
 *
 * Conventions
 *   - Every call returns an int result code: KV_OK (0) or one of KV_* below.
 *   - Results are returned through out-parameters, placed last.
 *   - Inputs are copied; the caller keeps ownership of what it passes in.
 *   - Heap results (entries, JSON text, key bytes, names) are freed with
 *     kv_free(). Destructors accept NULL.
 *   - Keys cross this API in their encoded form (Deno's tuple encoding, as
 *     stored in SQLite); kv_part_encode()/kv_key_decode() convert.
 *   - A versionstamp is carried as the 64-bit commit version; its 20-hex-digit
 *     text is the version in big-endian hex followed by "0000".
 *
 * Thread safety
 *   A kv_db may be used by any number of threads at once. A kv_iter or a
 *   kv_atomic belongs to one thread at a time. kv_errmsg() is per thread.
 */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- result codes ---- */

#define KV_OK            0   /* success */
#define KV_NOTFOUND      1   /* no such key */
#define KV_DONE          2   /* iterator exhausted */
#define KV_CONFLICT      3   /* an atomic check failed; nothing was applied */
#define KV_INVALID       4   /* bad argument or malformed input (key, value, JSON, cursor) */
#define KV_TOOBIG_KEY    5   /* a key exceeds Deno's key-size limit */
#define KV_TOOBIG_VALUE  6   /* a value exceeds Deno's value-size limit */
#define KV_TOOBIG        7   /* a commit or read exceeds another limit (checks, mutations, total size, get_many count) */
#define KV_TYPE          8   /* sum/min/max on a value that is not a KvU64; nothing was applied */
#define KV_CORRUPT       9   /* a stored row cannot be decoded */
#define KV_NOTKV        10   /* the file is not SQLite, or not a Deno KV database */
#define KV_BUSY         11   /* the database stayed locked by another writer */
#define KV_NOMEM        12   /* out of memory */
#define KV_IOERR        13   /* SQLite or the OS failed */
#define KV_MISUSE       14   /* API used out of order (e.g. after a failed atomic call) */
#define KV_READONLY     15   /* write on a database opened read-only */
#define KV_FULL         16   /* the disk holding the database is full; nothing was applied */

/* Static text for a result code ("not found", ...). Never NULL. */
const char *kv_errstr(int rc);

/*
 * Detail of the last failure of the calling thread on any kvfs call, e.g.
 * "Value too large (max 65536 bytes)". Valid until the thread's next kvfs
 * call. Never NULL (empty when there is none). `db` may be NULL.
 */
typedef struct kv_db kv_db;
const char *kv_errmsg(kv_db *db);

/* Release memory returned by this API. NULL is fine. */
void kv_free(void *p);

/* ---- limits (Deno's numbers) ---- */

#define KV_MAX_KEY_WRITE      2048    /* encoded key bytes for set/delete/check/sum */
#define KV_MAX_KEY_READ       2049    /* encoded key bytes for get/list bounds */
#define KV_MAX_VALUE          65536   /* stored value bytes (V8 header included) */
#define KV_MAX_CHECKS         100     /* checks per atomic commit */
#define KV_MAX_MUTATIONS      1000    /* mutations per atomic commit */
#define KV_MAX_COMMIT_BYTES   819200  /* keys + values of one commit */
#define KV_MAX_COMMIT_KEYS    81920   /* keys of set/sum/min/max of one commit */
#define KV_MAX_GET_MANY       10      /* keys per kv_get_many */
#define KV_MAX_EXPIRY_MS      8210266876799999LL  /* latest expiry, Unix ms (Deno's clock limit) */
#define KV_MAX_BATCH          1000    /* entries per list batch */
/*
 * Nesting of values, the same for stored bytes and for JSON: values
 * inside values, the top one included (Deno 2.9 writes at most about
 * 4980, nested Sets, 3597 of arrays). JSON text may nest 3 times deeper,
 * as a $map or $sparse spends 3 levels of text on one of value, and 3
 * more, so that a value one level too deep is refused as such.
 */
#define KV_MAX_DEPTH          5000
#define KV_MAX_JSON_DEPTH     (3 * KV_MAX_DEPTH + 3)

/* ---- opening ---- */

#define KV_OPEN_READONLY   0x1   /* never write; no expiry collector */

/*
 * Open (creating if missing) the Deno KV database at `path`, or a private
 * in-memory one for ":memory:". A new or empty file gets Deno's schema and
 * migration state; an existing Deno file is used as is (queue tables are
 * left untouched). A file that is not SQLite, or SQLite without Deno's KV
 * schema, is refused with KV_NOTKV and left unchanged.
 * Returns KV_OK, KV_NOTKV, KV_IOERR, KV_BUSY, KV_NOMEM, KV_READONLY.
 */
int kv_open(const char *path, int flags, kv_db **out);

/*
 * KV_IOERR once the database's path names another file than the one
 * opened, or none (replaced or removed): from then on every call fails
 * that way, since new connections would open the other file.
 */
int kv_check_file(kv_db *db);

/* Close: waits for commits in flight, stops background work. NULL is fine. */
void kv_close(kv_db *db);

/*
 * The file's current version (data_version.version): it moves whenever any
 * writer, in this process or another, commits. Cheap; meant for polling.
 */
int kv_version(kv_db *db, uint64_t *out);

/*
 * A version that commits through this handle leave alone: it changes after
 * every commit of another writer (another process or handle, the expiry
 * collector), even one followed by commits of this handle, so a poller
 * comparing it for equality misses none of theirs and skips its own.
 * Thread-safe; as cheap as kv_version.
 */
int kv_version_others(kv_db *db, uint64_t *out);

/*
 * Be told of every key the commits through this handle change: `fn` is
 * called once per key a commit sets, deletes, sums, mins or maxes, with
 * the commit's version, in commit order, after the commit is durable and
 * before the call that committed returns. It runs on a committing thread,
 * under no engine lock, and must not call the engine. One per handle;
 * NULL removes it. Set it before the handle is shared between threads.
 */
typedef void (*kv_change_fn)(void *ctx, const uint8_t *key, size_t key_len,
                             uint64_t version);
void kv_on_change(kv_db *db, kv_change_fn fn, void *ctx);

/* ---- entries ---- */

#define KV_ENCODING_V8     1   /* V8 structured-clone bytes */
#define KV_ENCODING_U64    2   /* Deno.KvU64: exactly 8 bytes, little-endian */
#define KV_ENCODING_BYTES  3   /* a top-level Uint8Array: its raw bytes */

#define KV_ENTRY_VALUE     0x1  /* the key holds a value */
#define KV_ENTRY_CHILDREN  0x2  /* longer keys exist under the key (kv_lookup, kv_children) */

typedef struct kv_entry {
	const uint8_t *key;     /* encoded key */
	size_t key_len;
	const uint8_t *value;   /* stored bytes; NULL when !(flags & KV_ENTRY_VALUE)
	                           or read by kv_children_keys */
	size_t value_len;
	int encoding;           /* KV_ENCODING_*; 0 when there is no value */
	uint64_t version;       /* commit version (versionstamp) of the value */
	int64_t expires_at;     /* Unix ms, -1 when the entry never expires */
	unsigned flags;         /* KV_ENTRY_* */
} kv_entry;

/* ---- reads ---- */

/*
 * Read one key. On KV_OK *out is a heap entry (one allocation; kv_free).
 * KV_NOTFOUND when absent or expired. KV_TOOBIG_KEY over KV_MAX_KEY_READ.
 */
int kv_get(kv_db *db, const void *key, size_t key_len, kv_entry **out);

/*
 * Read up to KV_MAX_GET_MANY keys in one consistent snapshot. out[i] is a
 * heap entry or NULL when keys[i] is absent. KV_TOOBIG when n > 10.
 */
int kv_get_many(kv_db *db, size_t n, const void *const keys[],
                const size_t key_lens[], kv_entry *out[]);

/*
 * Tree view of one key: KV_OK with a heap entry whose flags say whether the
 * key holds a value (KV_ENTRY_VALUE, value fields filled) and whether longer
 * keys exist under it (KV_ENTRY_CHILDREN). KV_NOTFOUND when neither.
 * An empty key (key_len 0) is the root: it always exists.
 */
int kv_lookup(kv_db *db, const void *key, size_t key_len, kv_entry **out);

/*
 * The length of the longest encoded key at or under `key` that has not
 * expired (0 when there is none): what a move of the subtree elsewhere
 * must find room for.
 */
int kv_longest_key(kv_db *db, const void *key, size_t key_len, size_t *longest);

/* ---- lists ---- */

typedef struct kv_iter kv_iter;

/*
 * A selector as in Deno's kv.list(): prefix alone, prefix + start,
 * prefix + end, or start + end. A NULL pointer means "not given"; an empty
 * prefix (non-NULL, length 0) selects every key.
 */
typedef struct kv_selector {
	const void *prefix; size_t prefix_len;
	const void *start;  size_t start_len;
	const void *end;    size_t end_len;
} kv_selector;

typedef struct kv_list_options {
	size_t limit;        /* total entries; 0 = no limit */
	size_t batch_size;   /* entries per read transaction, max 1000; 0 = min(limit, 500),
	                        or without a limit 100 doubling to 500 */
	int reverse;         /* descending key order */
	const char *cursor;  /* Deno-format cursor to resume after; NULL or "" = from the start */
} kv_list_options;

/*
 * Start a listing. Entries are read lazily, batch by batch, each batch in
 * its own read transaction (as Deno does): memory is bounded by the batch.
 * Expired entries are skipped. KV_INVALID for a bad selector or cursor (the
 * message is Deno's text). `opt` may be NULL.
 */
int kv_list(kv_db *db, const kv_selector *sel, const kv_list_options *opt,
            kv_iter **out);

/*
 * Iterate the immediate children of `prefix` in key order: each entry's key
 * is prefix + one part, with KV_ENTRY_VALUE when that key holds a value and
 * KV_ENTRY_CHILDREN when longer keys exist under it. With `after` (a full
 * child key, or NULL) the listing starts after that child and its subtree.
 * Cost is one index seek per child, whatever the subtree sizes.
 */
int kv_children(kv_db *db, const void *prefix, size_t prefix_len,
                const void *after, size_t after_len, kv_iter **out);

/*
 * kv_children reading names only: the same entries and flags, without the
 * value, encoding and version (value NULL, version 0), for a listing that
 * shows nothing but the names. Each row it passes costs less.
 */
int kv_children_keys(kv_db *db, const void *prefix, size_t prefix_len,
                     const void *after, size_t after_len, kv_iter **out);

/*
 * Next entry: KV_OK with *entry borrowed until the next call on `it`,
 * KV_DONE at the end, or an error (KV_CORRUPT for a key that does not decode).
 */
int kv_iter_next(kv_iter *it, const kv_entry **entry);

/*
 * Deno-format cursor after the last returned entry (heap, kv_free); "" once
 * the iterator is exhausted; KV_MISUSE before the first kv_iter_next.
 */
int kv_iter_cursor(kv_iter *it, char **cursor);

void kv_iter_free(kv_iter *it);

/* ---- writes ---- */

/*
 * Set one key (one commit). expire_in_ms < 0: never expires.
 * *version (may be NULL) receives the commit's version.
 */
int kv_set(kv_db *db, const void *key, size_t key_len, int encoding,
           const void *value, size_t value_len, int64_t expire_in_ms,
           uint64_t *version);

/* Delete one key (one commit, even when the key is absent). */
int kv_delete(kv_db *db, const void *key, size_t key_len, uint64_t *version);

/* ---- atomic commits ---- */

typedef struct kv_atomic kv_atomic;

/*
 * Build a commit: checks first, then mutations in order (the last mutation
 * of a key wins). Each add validates its arguments and Deno's limits at
 * once; after any failure the builder is sticky-failed and later calls,
 * commit included, return KV_MISUSE until kv_atomic_abort().
 *
 * Commits from many threads are grouped: several callers' commits share one
 * SQLite transaction and one fsync, each keeping its own checks and its own
 * version; a commit whose check fails (KV_CONFLICT) or whose sum/min/max
 * meets a non-KvU64 value (KV_TYPE) applies nothing and does not affect the
 * others in its group.
 */
int kv_atomic_begin(kv_db *db, kv_atomic **out);

/* Check: the key's current version equals *version, or the key is absent
 * when version is NULL. */
int kv_atomic_check(kv_atomic *a, const void *key, size_t key_len,
                    const uint64_t *version);
int kv_atomic_set(kv_atomic *a, const void *key, size_t key_len, int encoding,
                  const void *value, size_t value_len, int64_t expire_in_ms);
int kv_atomic_delete(kv_atomic *a, const void *key, size_t key_len);

/* KvU64 arithmetic: sum wraps modulo 2^64, min/max are unsigned; a missing
 * key takes the operand; the result never expires. */
int kv_atomic_sum(kv_atomic *a, const void *key, size_t key_len, uint64_t operand);
int kv_atomic_min(kv_atomic *a, const void *key, size_t key_len, uint64_t operand);
int kv_atomic_max(kv_atomic *a, const void *key, size_t key_len, uint64_t operand);

/*
 * Let this commit hold up to `max` checks instead of Deno's KV_MAX_CHECKS
 * (for checks a caller adds of its own accord, beyond those a user asked for).
 */
int kv_atomic_allow_checks(kv_atomic *a, size_t max);

/*
 * Move a subtree: at the commit, inside its write transaction, every key
 * at or under `from` (a key prefix) goes to the same place under `to`,
 * with its value and expiry and the commit's version, so that writes of
 * other processes land wholly before or after it. The commit fails with
 * KV_CONFLICT, applying nothing, when a key at or under `to` exists then,
 * and with KV_TOOBIG when the keys moved (two mutations each) with the
 * commit's other mutations pass Deno's limits of mutations or bytes. Like
 * a failed check, either leaves the other commits of its group alone.
 * The two ranges must not overlap.
 */
int kv_atomic_move(kv_atomic *a, const void *from, size_t from_len,
                   const void *to, size_t to_len);

/*
 * A move of a subtree too large for one commit, one commit at a time: the
 * keys at and under `from` go in key order, as many as the commit's limits
 * leave room for. The destination may hold keys already (earlier commits
 * of the same move put them there): a key moved replaces what is at its
 * new place, so a key written again under `from` after it moved moves
 * again, with its newest value. Commit again until nothing is left at or
 * under `from` (check that the destination is empty before the first).
 * Each commit reads what it moves inside its write transaction, so a key
 * another process sets meanwhile moves with its newest value, or is left
 * for the next commit: never lost.
 */
int kv_atomic_move_some(kv_atomic *a, const void *from, size_t from_len,
                        const void *to, size_t to_len);

/*
 * Commit and free `a`. KV_OK with *version (may be NULL) set; KV_CONFLICT
 * when a check failed; KV_TYPE, KV_TOOBIG, KV_BUSY, KV_FULL, KV_IOERR... otherwise.
 * Nothing is applied unless KV_OK is returned.
 */
int kv_atomic_commit(kv_atomic *a, uint64_t *version);

/* Drop `a` without committing. NULL is fine. */
void kv_atomic_abort(kv_atomic *a);

/* ---- versionstamps ---- */

/* 20 lowercase hex digits + NUL: version big-endian, then "0000". */
void kv_versionstamp_format(uint64_t version, char out[21]);

/* Parse 20 hex digits (either case). KV_INVALID otherwise, and for a stamp
 * whose last four digits are not zero (no commit of this format has one). */
int kv_versionstamp_parse(const char *text, uint64_t *version);

/* ---- keys ---- */

#define KV_PART_BYTES   1   /* Uint8Array */
#define KV_PART_STRING  2   /* UTF-8 text */
#define KV_PART_BIGINT  3   /* arbitrary-size integer */
#define KV_PART_NUMBER  4   /* IEEE-754 double */
#define KV_PART_FALSE   5
#define KV_PART_TRUE    6

/* One key part, decoded. */
typedef struct kv_part {
	int type;              /* KV_PART_* */
	const uint8_t *data;   /* BYTES: bytes; STRING: UTF-8; BIGINT: big-endian magnitude, no leading zero byte (empty for 0) */
	size_t len;
	int negative;          /* BIGINT: sign */
	double number;         /* NUMBER */
} kv_part;

/*
 * Append the encoding of `p` to buf (capacity cap) like snprintf: *len gets
 * the full encoded length even when it does not fit (nothing is written past
 * cap). KV_INVALID for a bad part (invalid UTF-8, bigint magnitude over 255
 * bytes or with a leading zero byte).
 */
int kv_part_encode(const kv_part *p, uint8_t *buf, size_t cap, size_t *len);

/* Encode a whole key (heap, kv_free). */
int kv_key_encode(const kv_part *parts, size_t n, uint8_t **key, size_t *key_len);

/*
 * Decode a key into parts: *parts is one heap block (kv_free) whose data
 * pointers point inside it. KV_INVALID for malformed bytes (never a crash).
 */
int kv_key_decode(const void *key, size_t key_len, kv_part **parts, size_t *n);

/* Length of the encoded part starting at key[pos] (KV_INVALID if malformed). */
int kv_part_span(const void *key, size_t key_len, size_t pos, size_t *part_len);

/*
 * Is `key` under `prefix` (both whole encoded keys): longer, starting with
 * its bytes, and not just a longer last part? A string or byte part ends
 * with 00, and a NUL inside one is 00 FF, so ["a\u0000b"] starts with the
 * bytes of ["a"] without being under it (as for Deno's list: P+00 <= k < P+FF).
 */
int kv_key_under(const void *key, size_t key_len, const void *prefix, size_t prefix_len);

/* ---- text forms: JSON ($-tagged, see DESIGN) and path names ---- */

/* Key as a JSON array: ["a",1,{"$bigint":"7"},{"$bytes":"AQI="}] (heap). */
int kv_key_to_json(const void *key, size_t key_len, char **json);
int kv_key_from_json(const char *json, size_t json_len, uint8_t **key, size_t *key_len);

/*
 * Key part <-> one path component, per DESIGN's names table. `part` is one
 * encoded part. kv_name_to_part accepts other decimal spellings of numbers;
 * KV_INVALID when the name cannot be decoded.
 */
int kv_name_from_part(const void *part, size_t part_len, char **name);
int kv_name_to_part(const char *name, size_t name_len, uint8_t **part, size_t *part_len);

/* A whole key <-> a relative path "a/b/42" (no leading or trailing '/'). */
int kv_path_from_key(const void *key, size_t key_len, char **path);
int kv_path_to_key(const char *path, uint8_t **key, size_t *key_len);

#define KV_JSON_PRETTY 0x1   /* indent with two spaces; default is one compact line */

/*
 * A stored value as $-tagged JSON (heap, NUL-terminated, *json_len without
 * the NUL; no trailing newline). KV_CORRUPT for bytes that do not decode
 * (unknown encoding, u64 not 8 bytes, truncated or malformed V8).
 */
int kv_value_to_json(int encoding, const void *value, size_t value_len,
                     int flags, char **json, size_t *json_len);

/*
 * $-tagged JSON to stored bytes: *encoding is KV_ENCODING_U64 for {"$u64"},
 * KV_ENCODING_BYTES for a top-level {"$bytes"}, else KV_ENCODING_V8.
 * Leading/trailing whitespace is ignored. KV_INVALID (with a message naming
 * the problem) for anything else.
 */
int kv_value_from_json(const char *json, size_t json_len, int *encoding,
                       uint8_t **value, size_t *value_len);

/*
 * One line of `kvfs dump` output, as `kvfs load` reads it:
 *   {"key":[...],"value":...,"versionstamp":"...","expires_at":"..."}
 * "key" and "value" are required ($-tagged JSON, as above); "versionstamp"
 * is ignored; "expires_at" is null or an ISO 8601 instant exactly as
 * Date.prototype.toISOString() writes it. Any other member, a repeated
 * one, or text after the object is refused. On KV_OK: the encoded key and
 * the stored value (both heap, kv_free) and *expires_at in Unix ms, -1
 * without one (a time before 1970 is given as 0: it has passed either
 * way). The key must be one a write accepts. Failures, each with a
 * kv_errmsg() naming the first problem in the line: KV_INVALID,
 * KV_TOOBIG_KEY, KV_TOOBIG_VALUE, KV_NOMEM.
 */
int kv_entry_from_json(const char *json, size_t json_len, uint8_t **key, size_t *key_len,
                       int *encoding, uint8_t **value, size_t *value_len,
                       int64_t *expires_at);

/*
 * Incremental check that bytes so far can still begin a valid JSON document,
 * for refusing bad content at write() time. feed() returns KV_OK while the
 * text is a possible prefix, KV_INVALID once it cannot be; finish() returns
 * KV_OK only for one complete document (surrounded by optional whitespace).
 */
typedef struct kv_json_check kv_json_check;
int kv_json_check_new(kv_json_check **out);
int kv_json_check_feed(kv_json_check *c, const char *buf, size_t len);
int kv_json_check_finish(kv_json_check *c);
void kv_json_check_free(kv_json_check *c);

#ifdef __cplusplus
}
#endif

#endif /* KV_H */
