/*
 * atomic.c - writes: the atomic builder, kv_set/kv_delete, group commit.
 *
 * Group commit. A durable commit costs one fsync, and many threads commit
 * at once (a FUSE worker pool), so commits are batched: a committing
 * thread queues its kv_atomic under gc_lock. If no leader is running it
 * becomes the leader: it takes the whole queue, opens one BEGIN IMMEDIATE
 * on the writer connection, applies each commit in turn, COMMITs once (one
 * fsync for the group) and hands every member its own result. Meanwhile
 * new commits queue up; when the leader is done it passes leadership to
 * the first of them, which leads the next group. A commit never returns
 * before its group is durable.
 *
 * Each waiting commit sleeps on its own semaphore, posted exactly once:
 * by the leader that applied it (done) or by the leader passing it the
 * lead. So a finished group wakes its own members and one next leader,
 * not every waiting thread, and the waiters never touch gc_lock again.
 *
 * Inside the group each commit stays separate: its checks see the writes
 * of the commits before it, it takes its own version (data_version plus a
 * random step of 1..9, as Deno does), and a commit that fails its check
 * (nothing written yet) or meets a non-KvU64 value in sum/min/max (rolled
 * back to a savepoint taken only for commits that have such mutations)
 * leaves no trace and consumes no version. data_version is written once
 * per group with the last version handed out.
 *
 * Versions are read from the file inside the write transaction, so they
 * keep increasing across every process writing the file (Deno included).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include "kv_int.h"

/* How long a commit waits for another process's write lock. */
#define BUSY_WAIT_MS 30000

/* ---- argument checks ---- */

int kv__check_write_key(const void *key, size_t key_len)
{
	if (!key && key_len)
		return kv__error(KV_MISUSE, "key missing");
	if (key_len == 0)
		return kv__error(KV_INVALID, "key cannot be empty");
	if (key_len > KV_MAX_KEY_WRITE)
		return kv__error(KV_TOOBIG_KEY, "Key too large for write (max %d bytes)",
		                 KV_MAX_KEY_WRITE);
	/* a malformed key would make Deno's list of its range fail */
	for (size_t pos = 0, span; pos < key_len; pos += span)
		if (kv_part_span(key, key_len, pos, &span))
			return KV_INVALID;
	return KV_OK;
}

int kv__check_read_key(const void *key, size_t key_len)
{
	if (!key && key_len)
		return kv__error(KV_MISUSE, "key missing");
	if (key_len > KV_MAX_KEY_READ)
		return kv__error(KV_TOOBIG_KEY, "Key too large for read (max %d bytes)",
		                 KV_MAX_KEY_READ);
	return KV_OK;
}

static int check_value(int encoding, const void *value, size_t len)
{
	if (!value && len)
		return kv__error(KV_MISUSE, "value missing");
	if (encoding < KV_ENCODING_V8 || encoding > KV_ENCODING_BYTES)
		return kv__error(KV_INVALID, "The value encoding %d is unknown.", encoding);
	if (encoding == KV_ENCODING_U64 && len != 8)
		return kv__error(KV_INVALID, "a KvU64 value must be 8 bytes, not %zu", len);
	if (len > KV_MAX_VALUE)
		return kv__error(KV_TOOBIG_VALUE, "Value too large (max %d bytes)", KV_MAX_VALUE);
	return KV_OK;
}

static int expiry(int64_t expire_in_ms, int64_t *at)
{
	if (expire_in_ms < 0) {
		*at = -1;
		return KV_OK;
	}
	int64_t now = kv__now_ms();
	if (expire_in_ms > KV_MAX_EXPIRY_MS - now)
		return kv__error(KV_INVALID, "Invalid mutation: expireIn is too large: %lld",
		                 (long long) expire_in_ms);
	*at = now + expire_in_ms;
	return KV_OK;
}

/* ---- the builder ---- */

static int fail(kv_atomic *a, int rc)
{
	a->failed = 1;
	return rc;
}

/* Copy n bytes into a new block (builders own their inputs). */
static const uint8_t *dup2(const void *p, size_t n, const void *q, size_t m)
{
	uint8_t *b = malloc(n + m + 1);
	if (!b)
		return NULL;
	if (n)
		memcpy(b, p, n);
	if (m)
		memcpy(b + n, q, m);
	return b;
}

static int add_mut(kv_atomic *a, const kv__mut *m)
{
	int rc;

	if ((rc = kv__check_write_key(m->key, m->key_len)))
		return fail(a, rc);
	if (m->op == KV__M_SET && (rc = check_value(m->encoding, m->value, m->value_len)))
		return fail(a, rc);
	if (m->op == KV__M_MOVE && (rc = kv__check_write_key(m->value, m->value_len)))
		return fail(a, rc);
	if (a->nmuts + 1 > KV_MAX_MUTATIONS)
		return fail(a, kv__error(KV_TOOBIG, "Too many mutations (max %d)",
		                         KV_MAX_MUTATIONS));
	/* Deno's accounting: every key once, valued mutations' key and value again */
	size_t total = a->total_bytes + m->key_len, keys = a->key_bytes;
	if (m->op == KV__M_MOVE) {
		total += m->value_len;       /* the moved keys count at the commit */
	} else if (m->op != KV__M_DEL) {
		total += m->key_len + (m->op == KV__M_SET ? m->value_len : 8);
		keys += m->key_len;
	}
	if (total > KV_MAX_COMMIT_BYTES)
		return fail(a, kv__error(KV_TOOBIG, "Total mutation size too large (max %d bytes)",
		                         KV_MAX_COMMIT_BYTES));
	if (keys > KV_MAX_COMMIT_KEYS)
		return fail(a, kv__error(KV_TOOBIG, "Total key size too large (max %d bytes)",
		                         KV_MAX_COMMIT_KEYS));
	if (a->nmuts == a->muts_cap) {
		size_t cap = a->muts_cap ? a->muts_cap * 2 : 4;
		kv__mut *p = realloc(a->muts, cap * sizeof(*p));
		if (!p)
			return fail(a, kv__error(KV_NOMEM, "out of memory"));
		a->muts = p;
		a->muts_cap = cap;
	}
	kv__mut *d = &a->muts[a->nmuts];
	*d = *m;
	if (a->owned) {
		const uint8_t *b = dup2(m->key, m->key_len, m->value, m->value_len);
		if (!b)
			return fail(a, kv__error(KV_NOMEM, "out of memory"));
		d->key = b;
		d->value = m->value ? b + m->key_len : NULL;
	}
	a->nmuts++;
	a->total_bytes = total;
	a->key_bytes = keys;
	if (m->op >= KV__M_SUM)
		a->has_arith = 1;
	if (m->expire_ms >= 0 && (a->earliest_expiry < 0 || m->expire_ms < a->earliest_expiry))
		a->earliest_expiry = m->expire_ms;
	return KV_OK;
}

int kv_atomic_begin(kv_db *db, kv_atomic **out)
{
	kv__clear_error();
	if (!db || !out)
		return kv__error(KV_MISUSE, "kv_atomic_begin: bad arguments");
	kv_atomic *a = calloc(1, sizeof(*a));
	if (!a)
		return kv__error(KV_NOMEM, "out of memory");
	a->db = db;
	a->owned = 1;
	a->earliest_expiry = -1;
	*out = a;
	return KV_OK;
}

static int usable(kv_atomic *a)
{
	if (!a)
		return kv__error(KV_MISUSE, "no atomic operation");
	if (a->failed)
		return kv__error(KV_MISUSE, "atomic operation already failed");
	return KV_OK;
}

int kv_atomic_allow_checks(kv_atomic *a, size_t max)
{
	int rc = usable(a);
	if (!rc)
		a->max_checks = max;
	return rc;
}

static int add_move(kv_atomic *a, const void *from, size_t from_len,
                    const void *to, size_t to_len, int some)
{
	kv__mut m = { .op = KV__M_MOVE, .key = from, .key_len = from_len,
	              .value = to, .value_len = to_len, .expire_ms = -1, .some = some };
	int rc;

	if ((rc = usable(a)))
		return rc;
	if ((from_len == to_len && memcmp(from, to, from_len) == 0) ||
	    kv_key_under(to, to_len, from, from_len) || kv_key_under(from, from_len, to, to_len))
		return fail(a, kv__error(KV_INVALID, "a key cannot move into itself or its parent"));
	return add_mut(a, &m);
}

int kv_atomic_move(kv_atomic *a, const void *from, size_t from_len,
                   const void *to, size_t to_len)
{
	return add_move(a, from, from_len, to, to_len, 0);
}

int kv_atomic_move_some(kv_atomic *a, const void *from, size_t from_len,
                        const void *to, size_t to_len)
{
	return add_move(a, from, from_len, to, to_len, 1);
}

int kv_atomic_check(kv_atomic *a, const void *key, size_t key_len,
                    const uint64_t *version)
{
	int rc;

	if ((rc = usable(a)))
		return rc;
	if ((rc = kv__check_write_key(key, key_len)))
		return fail(a, rc);
	size_t max = a->max_checks ? a->max_checks : KV_MAX_CHECKS;
	if (a->nchecks + 1 > max)
		return fail(a, kv__error(KV_TOOBIG, "Too many checks (max %zu)", max));
	if (a->total_bytes + key_len > KV_MAX_COMMIT_BYTES)
		return fail(a, kv__error(KV_TOOBIG, "Total mutation size too large (max %d bytes)",
		                         KV_MAX_COMMIT_BYTES));
	if (a->nchecks == a->checks_cap) {
		size_t cap = a->checks_cap ? a->checks_cap * 2 : 4;
		kv__check *p = realloc(a->checks, cap * sizeof(*p));
		if (!p)
			return fail(a, kv__error(KV_NOMEM, "out of memory"));
		a->checks = p;
		a->checks_cap = cap;
	}
	const uint8_t *k = dup2(key, key_len, NULL, 0);
	if (!k)
		return fail(a, kv__error(KV_NOMEM, "out of memory"));
	kv__check *c = &a->checks[a->nchecks++];
	c->key = k;
	c->key_len = key_len;
	c->absent = version == NULL;
	c->version = version ? *version : 0;
	a->total_bytes += key_len;
	return KV_OK;
}

int kv_atomic_set(kv_atomic *a, const void *key, size_t key_len, int encoding,
                  const void *value, size_t value_len, int64_t expire_in_ms)
{
	kv__mut m = { .op = KV__M_SET, .key = key, .key_len = key_len,
	              .encoding = encoding, .value = value,
	              .value_len = value_len };
	int rc;

	if ((rc = usable(a)))
		return rc;
	if ((rc = expiry(expire_in_ms, &m.expire_ms)))
		return fail(a, rc);
	return add_mut(a, &m);
}

int kv_atomic_delete(kv_atomic *a, const void *key, size_t key_len)
{
	kv__mut m = { .op = KV__M_DEL, .key = key, .key_len = key_len, .expire_ms = -1 };
	int rc;

	if ((rc = usable(a)))
		return rc;
	return add_mut(a, &m);
}

static int arith(kv_atomic *a, int op, const void *key, size_t key_len, uint64_t operand)
{
	kv__mut m = { .op = op, .key = key, .key_len = key_len,
	              .encoding = KV_ENCODING_U64, .expire_ms = -1, .operand = operand };
	int rc;

	if ((rc = usable(a)))
		return rc;
	return add_mut(a, &m);
}

int kv_atomic_sum(kv_atomic *a, const void *key, size_t key_len, uint64_t operand)
{
	return arith(a, KV__M_SUM, key, key_len, operand);
}

int kv_atomic_min(kv_atomic *a, const void *key, size_t key_len, uint64_t operand)
{
	return arith(a, KV__M_MIN, key, key_len, operand);
}

int kv_atomic_max(kv_atomic *a, const void *key, size_t key_len, uint64_t operand)
{
	return arith(a, KV__M_MAX, key, key_len, operand);
}

static void free_parts(kv_atomic *a)
{
	if (a->owned) {
		for (size_t i = 0; i < a->nmuts; i++)
			free((void *) a->muts[i].key);
		free(a->muts);
	}
	for (size_t i = 0; i < a->nchecks; i++)
		free((void *) a->checks[i].key);
	free(a->checks);
	free(a->errmsg);
	free(a->moved);
}

void kv_atomic_abort(kv_atomic *a)
{
	if (!a)
		return;
	free_parts(a);
	free(a);
}

/* ---- applying one commit inside the group's transaction ---- */

static uint64_t next_step(kv_db *db)
{
	/* xorshift64: the steps only need to look like Deno's random 1..9 */
	uint64_t x = db->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	db->rng = x;
	return 1 + x % 9;
}

static const char *op_name(int op)
{
	return op == KV__M_SUM ? "sum" : op == KV__M_MIN ? "min" : "max";
}

static int put_row(kv__conn *c, const kv__mut *m, const void *value, size_t len,
                   int encoding, int64_t expire_ms, uint64_t version)
{
	sqlite3_stmt *st = NULL;
	int rc = kv__stmt(c, KV__S_PUT, &st);
	if (rc)
		return rc;
	sqlite3_bind_blob(st, 1, m->key, (int) m->key_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, len ? value : "", (int) len, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, encoding);
	sqlite3_bind_int64(st, 4, (int64_t) version);
	sqlite3_bind_int64(st, 5, expire_ms);
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	return src == SQLITE_DONE ? KV_OK : kv__sqlite_error(c, src, "cannot write");
}

/* sum/min/max: read the visible current value, combine, store a KvU64. */
static int apply_arith(kv__conn *c, const kv__mut *m, int64_t now, uint64_t version)
{
	sqlite3_stmt *st = NULL;
	uint64_t r = m->operand;
	int rc = kv__stmt(c, KV__S_GET, &st);
	if (rc)
		return rc;
	sqlite3_bind_blob(st, 1, m->key, (int) m->key_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		const uint8_t *v = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (sqlite3_column_int(st, 1) != KV_ENCODING_U64 || n != 8) {
			sqlite3_reset(st);
			return kv__error(KV_TYPE, "Failed to perform '%s' mutation on a"
			                 " non-U64 value in the database", op_name(m->op));
		}
		uint64_t cur = 0;
		for (int i = 7; i >= 0; i--)
			cur = cur << 8 | v[i];
		switch (m->op) {
		case KV__M_SUM: r = cur + m->operand; break;  /* wraps mod 2^64 */
		case KV__M_MIN: r = cur < m->operand ? cur : m->operand; break;
		default:        r = cur > m->operand ? cur : m->operand; break;
		}
	} else if (src != SQLITE_DONE) {
		sqlite3_reset(st);
		return kv__sqlite_error(c, src, "cannot read");
	}
	sqlite3_reset(st);
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t) (r >> (8 * i));
	return put_row(c, m, le, 8, KV_ENCODING_U64, -1, version);
}

/* Remember a key a move changed, for kv_on_change. */
static int note_moved(kv_atomic *a, const uint8_t *key, size_t len)
{
	size_t need = a->moved_len + sizeof(size_t) + len;
	if (need > a->moved_cap) {
		size_t cap = a->moved_cap ? a->moved_cap : 1024;
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(a->moved, cap);
		if (!p)
			return kv__error(KV_NOMEM, "out of memory");
		a->moved = p;
		a->moved_cap = cap;
	}
	memcpy(a->moved + a->moved_len, &len, sizeof(size_t));
	memcpy(a->moved + a->moved_len + sizeof(size_t), key, len);
	a->moved_len = need;
	return KV_OK;
}

/*
 * Bind KV__S_SCAN_FWD to `key` and every key under it, [key, key FF), no
 * limit: a longer key that starts with a key's bytes is below it, and no
 * key part's type byte is FF. `hi` holds len + 1 bytes.
 */
static int scan_subtree(kv__conn *c, const uint8_t *key, size_t len, uint8_t *hi,
                        sqlite3_stmt **out)
{
	int rc = kv__stmt(c, KV__S_SCAN_FWD, out);
	if (rc)
		return rc;
	memcpy(hi, key, len);
	hi[len] = 0xFF;
	sqlite3_bind_blob(*out, 1, key, (int) len, SQLITE_STATIC);
	sqlite3_bind_blob(*out, 2, hi, (int) len + 1, SQLITE_STATIC);
	sqlite3_bind_int64(*out, 3, -1);
	return KV_OK;
}

static int row_visible(sqlite3_stmt *st, int64_t now)
{
	int64_t exp = sqlite3_column_int64(st, 4);
	return exp < 0 || exp > now;
}

/* Is anything visible at `key` or under it? */
static int occupied(kv__conn *c, const uint8_t *key, size_t len, int64_t now, int *yes)
{
	sqlite3_stmt *st = NULL;
	uint8_t hi[KV_MAX_KEY_WRITE + 1];
	int rc = scan_subtree(c, key, len, hi, &st), src = SQLITE_DONE;

	*yes = 0;
	while (!rc && !*yes && (src = sqlite3_step(st)) == SQLITE_ROW)
		*yes = row_visible(st, now);
	if (st)
		sqlite3_reset(st);
	return rc ? rc : src == SQLITE_ROW || src == SQLITE_DONE ? KV_OK
		: kv__sqlite_error(c, src, "cannot read");
}

struct moving {
	uint8_t *key;
	size_t key_len;
	uint8_t *value;
	size_t value_len;
	int encoding;
	int64_t expire_ms;
};

static void moving_free(struct moving *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].key);
		free(r[i].value);
	}
	free(r);
}

/* Copy one row to move into *r. */
static int moving_take(struct moving *r, const void *key, size_t key_len, const void *v,
                       size_t v_len, int encoding, int64_t expire_ms)
{
	r->key = malloc(key_len ? key_len : 1);
	r->value = malloc(v_len ? v_len : 1);
	if (!r->key || !r->value)
		return kv__error(KV_NOMEM, "out of memory");
	memcpy(r->key, key, key_len);
	if (v_len)
		memcpy(r->value, v, v_len);
	r->key_len = key_len;
	r->value_len = v_len;
	r->encoding = encoding;
	r->expire_ms = expire_ms;
	return KV_OK;
}

/*
 * A move inside the write transaction: read what is at and under the
 * source now, check the destination is empty and the limits, then write
 * every row under the destination and delete it at the source. `room`
 * is how many mutations the commit has left for it. Fails only this
 * commit (KV_CONFLICT, KV_TOOBIG, KV_TOOBIG_KEY) before writing anything.
 * A move of some (m->some) stops reading where the limits would be passed,
 * and replaces what is at each new place (earlier commits of the move put
 * it there; the source was written again since).
 */
static int apply_move(kv__conn *c, kv_atomic *a, const kv__mut *m, int64_t now,
                      uint64_t version, size_t room)
{
	uint8_t hi[KV_MAX_KEY_WRITE + 1];
	struct moving *rows = NULL;
	size_t n = 0, cap = 0, bytes = a->total_bytes;
	sqlite3_stmt *st = NULL;
	int yes = 0, rc = KV_OK, src = SQLITE_DONE;

	if (!m->some && (rc = occupied(c, m->value, m->value_len, now, &yes)))
		return rc;
	if (yes)
		return kv__error(KV_CONFLICT, "the destination of the move is not empty");
	/* the key itself, then its subtree, in key order */
	rc = scan_subtree(c, m->key, m->key_len, hi, &st);
	while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
		if (!row_visible(st, now))
			continue;       /* expired: gone for every reader; the collector deletes it */
		if (m->some) {
			/* Deno's accounting for this row, as below: room for it? */
			size_t kl = (size_t) sqlite3_column_bytes(st, 0);
			size_t nlen = m->value_len + kl - m->key_len;
			size_t more = kl + nlen + nlen + (size_t) sqlite3_column_bytes(st, 1);
			if ((n + 1) * 2 > room || bytes + more > KV_MAX_COMMIT_BYTES) {
				if (!n)
					rc = kv__error(KV_TOOBIG, "no room left in the commit for a move");
				src = SQLITE_DONE;
				break;
			}
			bytes += more;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct moving *p = realloc(rows, ncap * sizeof(*p));
			if (!p) {
				rc = kv__error(KV_NOMEM, "out of memory");
				break;
			}
			memset(p + cap, 0, (ncap - cap) * sizeof(*p));
			rows = p;
			cap = ncap;
		}
		rc = moving_take(&rows[n++], sqlite3_column_blob(st, 0),
		                 (size_t) sqlite3_column_bytes(st, 0), sqlite3_column_blob(st, 1),
		                 (size_t) sqlite3_column_bytes(st, 1), sqlite3_column_int(st, 2),
		                 sqlite3_column_int64(st, 4));
		if (!rc && n * 2 > room)
			rc = kv__error(KV_TOOBIG, "Too many mutations (max %d)", KV_MAX_MUTATIONS);
	}
	if (st && !rc && src != SQLITE_DONE)
		rc = kv__sqlite_error(c, src, "cannot read");
	if (st)
		sqlite3_reset(st);
	/* Deno's accounting, as if each had been a delete and a set */
	for (size_t i = 0; !rc && i < n; i++) {
		size_t nlen = m->value_len + rows[i].key_len - m->key_len;
		if (!m->some)
			bytes += rows[i].key_len + nlen + nlen + rows[i].value_len;
		if (nlen > KV_MAX_KEY_WRITE)
			rc = kv__error(KV_TOOBIG_KEY, "Key too large for write (max %d bytes)",
			               KV_MAX_KEY_WRITE);
		else if (bytes > KV_MAX_COMMIT_BYTES)
			rc = kv__error(KV_TOOBIG, "Total mutation size too large (max %d bytes)",
			               KV_MAX_COMMIT_BYTES);
	}
	for (size_t i = 0; !rc && i < n; i++) {
		size_t nlen = m->value_len + rows[i].key_len - m->key_len;
		uint8_t nk[KV_MAX_KEY_WRITE];
		kv__mut to = { .op = KV__M_SET, .key = nk, .key_len = nlen };
		memcpy(nk, m->value, m->value_len);
		memcpy(nk + m->value_len, rows[i].key + m->key_len, rows[i].key_len - m->key_len);
		rc = put_row(c, &to, rows[i].value, rows[i].value_len, rows[i].encoding,
		             rows[i].expire_ms, version);
		if (!rc && (rc = kv__stmt(c, KV__S_DEL, &st)) == KV_OK) {
			sqlite3_bind_blob(st, 1, rows[i].key, (int) rows[i].key_len, SQLITE_STATIC);
			src = sqlite3_step(st);
			sqlite3_reset(st);
			if (src != SQLITE_DONE)
				rc = kv__sqlite_error(c, src, "cannot delete");
		}
		if (!rc)
			rc = note_moved(a, rows[i].key, rows[i].key_len);
		if (!rc)
			rc = note_moved(a, nk, nlen);
	}
	moving_free(rows, n);
	return rc;
}

/* A failure of one commit that leaves the rest of its group alone. */
static int fails_alone(int rc)
{
	return rc == KV_CONFLICT || rc == KV_TYPE || rc == KV_TOOBIG || rc == KV_TOOBIG_KEY;
}

static int run_checks(kv__conn *c, const kv_atomic *a, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = kv__stmt(c, KV__S_GET, &st);
	if (rc)
		return rc;
	for (size_t i = 0; i < a->nchecks; i++) {
		const kv__check *ck = &a->checks[i];
		sqlite3_bind_blob(st, 1, ck->key, (int) ck->key_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		int src = sqlite3_step(st);
		int ok;
		if (src == SQLITE_ROW)
			ok = !ck->absent && (uint64_t) sqlite3_column_int64(st, 2) == ck->version;
		else if (src == SQLITE_DONE)
			ok = ck->absent;
		else {
			sqlite3_reset(st);
			return kv__sqlite_error(c, src, "cannot read");
		}
		sqlite3_reset(st);
		if (!ok)
			return kv__error(KV_CONFLICT, "check failed");
	}
	return KV_OK;
}

/*
 * Apply a's checks and mutations on the open write transaction with
 * version *cur + step. On KV_OK *cur advances; on KV_CONFLICT or KV_TYPE
 * nothing of a remains. Any other failure dooms the whole transaction.
 */
static int apply(kv__conn *c, kv_atomic *a, uint64_t *cur)
{
	int64_t now = kv__now_ms();
	int rc = run_checks(c, a, now);
	if (rc)
		return rc;
	if (a->has_arith && (rc = kv__exec(c, KV__S_SAVEPOINT)))
		return rc;
	uint64_t version = *cur + next_step(a->db);
	for (size_t i = 0; i < a->nmuts && !rc; i++) {
		const kv__mut *m = &a->muts[i];
		if (m->op == KV__M_SET) {
			rc = put_row(c, m, m->value, m->value_len, m->encoding, m->expire_ms, version);
		} else if (m->op == KV__M_DEL) {
			sqlite3_stmt *st = NULL;
			if ((rc = kv__stmt(c, KV__S_DEL, &st)))
				break;
			sqlite3_bind_blob(st, 1, m->key, (int) m->key_len, SQLITE_STATIC);
			int src = sqlite3_step(st);
			sqlite3_reset(st);
			if (src != SQLITE_DONE)
				rc = kv__sqlite_error(c, src, "cannot delete");
		} else if (m->op == KV__M_MOVE) {
			rc = apply_move(c, a, m, now, version, KV_MAX_MUTATIONS - (a->nmuts - 1));
		} else {
			rc = apply_arith(c, m, now, version);
		}
	}
	if (a->has_arith) {
		if (fails_alone(rc)) {
			a->moved_len = 0;
			int r2 = kv__exec(c, KV__S_ROLLBACK_TO);
			if (!r2)
				r2 = kv__exec(c, KV__S_RELEASE);
			/* success leaves the thread's message (the type error) alone */
			return r2 ? r2 : rc;
		}
		if (!rc)
			rc = kv__exec(c, KV__S_RELEASE);
	}
	if (!rc) {
		*cur = version;
		a->version = version;
	}
	return rc;
}

static void set_result(kv_atomic *a, int rc)
{
	a->rc = rc;
	free(a->errmsg);
	a->errmsg = rc ? strdup(kv_errmsg(NULL)) : NULL;
}

/*
 * BEGIN IMMEDIATE, waiting for another process's write lock until
 * `deadline` (Unix ms): BUSY_WAIT_MS after the group's first commit was
 * queued, so that commits queued behind a lock held for long fail within
 * BUSY_WAIT_MS of their call, not one full wait after the other.
 */
static int begin_write(kv__conn *c, int64_t deadline)
{
	for (;;) {
		int rc = kv__exec(c, KV__S_BEGIN_IMM);
		if (rc != KV_BUSY || kv__now_ms() >= deadline)
			return rc;
		/* the busy handler already waited; yield a little and retry */
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Read data_version inside the write transaction. */
static int read_version(kv__conn *c, uint64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = kv__stmt(c, KV__S_VERSION, &st);
	if (rc)
		return rc;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*out = (uint64_t) sqlite3_column_int64(st, 0);
	else
		rc = src == SQLITE_DONE ? kv__error(KV_CORRUPT, "data_version has no row")
			: kv__sqlite_error(c, src, "cannot read data_version");
	sqlite3_reset(st);
	return rc;
}

static int write_version(kv__conn *c, uint64_t v)
{
	sqlite3_stmt *st = NULL;
	int rc = kv__stmt(c, KV__S_SETVER, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (int64_t) v);
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	return src == SQLITE_DONE ? KV_OK : kv__sqlite_error(c, src, "cannot write data_version");
}

/* The leader's work: one transaction for the whole batch. */
static void run_group(kv_db *db, kv_atomic *batch)
{
	kv__conn *c = db->writer;
	uint64_t cur = 0;
	int any = 0, rc;

	pthread_mutex_lock(&db->write_lock);
	if (db->memory)
		pthread_mutex_lock(&db->mem_lock);
	/* once per group: the file written must still be the one opened */
	rc = kv__file_check(db);
	if (!rc)
		rc = begin_write(c, batch->queued_ms + BUSY_WAIT_MS);   /* the queue's oldest */
	if (!rc)
		rc = read_version(c, &cur);
	if (rc)
		goto group_failed;
	/* For kv_version_others: another writer committed since our last group. */
	pthread_mutex_lock(&db->gc_lock);
	if (cur != db->own_version)
		db->others_version = cur;
	pthread_mutex_unlock(&db->gc_lock);
	for (kv_atomic *a = batch; a; a = a->next) {
		int r = apply(c, a, &cur);
		set_result(a, r);
		if (r == KV_OK)
			any = 1;
		else if (!fails_alone(r)) {
			rc = r;
			goto group_failed;
		}
	}
	if (any && (rc = write_version(c, cur)))
		goto group_failed;
	/* ours from the moment COMMIT can make it visible */
	pthread_mutex_lock(&db->gc_lock);
	db->own_pending = cur;
	pthread_mutex_unlock(&db->gc_lock);
	rc = kv__exec(c, KV__S_COMMIT);
	pthread_mutex_lock(&db->gc_lock);
	if (!rc)
		db->own_version = cur;
	db->own_pending = db->own_version;
	pthread_mutex_unlock(&db->gc_lock);
	if (rc)
		goto group_failed;
	goto out;

group_failed:
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	/* the thread's message is still the failure's */
	for (kv_atomic *a = batch; a; a = a->next)
		set_result(a, rc);
	any = 0;
out:
	if (db->memory)
		pthread_mutex_unlock(&db->mem_lock);
	pthread_mutex_unlock(&db->write_lock);
	if (!any)
		return;
	for (kv_atomic *a = batch; a; a = a->next) {
		if (a->rc != KV_OK)
			continue;
		if (a->earliest_expiry >= 0)
			kv__collector_hint(db, a->earliest_expiry);
		/* before the lead passes on: the next group's changes come after */
		for (size_t i = 0; db->on_change && i < a->nmuts; i++)
			if (a->muts[i].op != KV__M_MOVE)
				db->on_change(db->on_change_ctx, a->muts[i].key, a->muts[i].key_len,
				              a->version);
		for (size_t at = 0; db->on_change && at < a->moved_len; ) {
			size_t len;
			memcpy(&len, a->moved + at, sizeof(size_t));
			db->on_change(db->on_change_ctx, a->moved + at + sizeof(size_t), len,
			              a->version);
			at += sizeof(size_t) + len;
		}
	}
}

void kv_on_change(kv_db *db, kv_change_fn fn, void *ctx)
{
	db->on_change = fn;
	db->on_change_ctx = ctx;
}

/* Wait for the one post of a->wake. */
static void wait_wake(kv_atomic *a)
{
	while (sem_wait(&a->wake) != 0)
		;   /* EINTR */
}

/*
 * Queue a and wait until some leader (maybe this thread) has applied it.
 * A member must not be touched once its semaphore is posted: its thread
 * may return and free it at once.
 */
static int submit(kv_db *db, kv_atomic *a, uint64_t *version)
{
	if (db->flags & KV_OPEN_READONLY)
		return kv__error(KV_READONLY, "database is opened read-only");

	if (sem_init(&a->wake, 0, 0))
		return kv__error(KV_NOMEM, "cannot create a semaphore");
	a->next = NULL;
	a->lead = 0;
	a->queued_ms = kv__now_ms();
	pthread_mutex_lock(&db->gc_lock);
	if (db->queue_tail)
		db->queue_tail->next = a;
	else
		db->queue_head = a;
	db->queue_tail = a;
	if (db->leader_active) {
		pthread_mutex_unlock(&db->gc_lock);
		wait_wake(a);
		if (!a->lead)
			goto done;
		/* passed the lead: a is still queued, since nobody has taken it */
		pthread_mutex_lock(&db->gc_lock);
	}
	db->leader_active = 1;
	kv_atomic *batch = db->queue_head;
	db->queue_head = db->queue_tail = NULL;
	pthread_mutex_unlock(&db->gc_lock);

	run_group(db, batch);

	pthread_mutex_lock(&db->gc_lock);
	kv_atomic *heir = db->queue_head;
	if (heir) {
		heir->lead = 1;
	} else {
		db->leader_active = 0;
		pthread_cond_broadcast(&db->gc_cond);
	}
	pthread_mutex_unlock(&db->gc_lock);
	/* the next group's fsync first, then this group's members */
	if (heir)
		sem_post(&heir->wake);
	while (batch) {
		kv_atomic *next = batch->next;
		if (batch != a)
			sem_post(&batch->wake);
		batch = next;
	}
done:
	sem_destroy(&a->wake);
	if (a->rc)
		return kv__error(a->rc, "%s", a->errmsg && *a->errmsg ? a->errmsg : kv_errstr(a->rc));
	kv__clear_error();
	if (version)
		*version = a->version;
	return KV_OK;
}

int kv_atomic_commit(kv_atomic *a, uint64_t *version)
{
	int rc = usable(a);
	if (!rc)
		rc = submit(a->db, a, version);
	kv_atomic_abort(a);
	return rc;
}

/* ---- one-mutation commits without copying the caller's bytes ---- */

static int commit_one(kv_db *db, kv__mut *m, uint64_t *version)
{
	kv__mut slot;
	kv_atomic a = { .db = db, .muts = &slot, .muts_cap = 1, .earliest_expiry = -1 };
	int rc;

	if ((rc = add_mut(&a, m)))
		return rc;
	rc = submit(db, &a, version);
	free(a.errmsg);
	return rc;
}

int kv_set(kv_db *db, const void *key, size_t key_len, int encoding,
           const void *value, size_t value_len, int64_t expire_in_ms,
           uint64_t *version)
{
	kv__mut m = { .op = KV__M_SET, .key = key, .key_len = key_len,
	              .encoding = encoding, .value = value,
	              .value_len = value_len };
	int rc;

	kv__clear_error();
	if (!db)
		return kv__error(KV_MISUSE, "kv_set: no database");
	if ((rc = expiry(expire_in_ms, &m.expire_ms)))
		return rc;
	return commit_one(db, &m, version);
}

int kv_delete(kv_db *db, const void *key, size_t key_len, uint64_t *version)
{
	kv__mut m = { .op = KV__M_DEL, .key = key, .key_len = key_len, .expire_ms = -1 };

	kv__clear_error();
	if (!db)
		return kv__error(KV_MISUSE, "kv_delete: no database");
	return commit_one(db, &m, version);
}
