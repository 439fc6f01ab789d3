/*
 * list.c - range listings (kv_list) and the tree view (kv_children).
 *
 * kv_list follows Deno's list(): the selector becomes a byte range
 * [lo, hi), read in batches, each batch one SQL statement and so one read
 * transaction; after a full batch the range shrinks past its last row
 * (forward: lo = last + 00; reverse: hi = last). Expired rows are dropped
 * in C, on the expiration column each entry reads anyway. Without a batch
 * size or limit, batches grow from 100 (Deno's default) to 500 (Deno's
 * largest). Cursors are the last key minus the selector's common prefix,
 * in URL-safe base64 with padding.
 *
 * kv_children walks the immediate children of a prefix P in batches, each
 * one read transaction: a range scan from pos yields the children that
 * hold values row by row; the first row deeper than one part under P marks
 * its child C as having keys under it, and the scan seeks to C + FF, past
 * C's whole subtree, since no encoded part starts with byte FF. So a flat
 * directory costs what kv_list costs and a subtree one seek. Batches grow
 * from CHILDREN_BATCH_MIN to CHILDREN_BATCH_MAX children, as a readdir
 * reply often wants only the first few dozen.
 *
 * The cursor's key (the last entry returned) is read from the batch; it
 * is copied to `last` only when the batch is about to be replaced.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "kv_int.h"

#define LIST_BATCH_MIN 100
#define LIST_BATCH_MAX 500
#define CHILDREN_BATCH_MIN 64
#define CHILDREN_BATCH_MAX 512

struct kv_iter {
	kv_db *db;
	int children;          /* kv_children rather than kv_list */
	int keys_only;         /* kv_children_keys: no value columns */
	int reverse;
	kv_buf lo, hi;         /* what is left to read: [lo, hi) */
	size_t base_len;       /* common prefix of the selector (cursor base) */
	size_t remaining;      /* entries still allowed by the limit */
	size_t batch_size;
	int grow;              /* no batch size given: double it after each batch */
	int exhausted;         /* the range has no more rows */
	int started;           /* kv_iter_next was called */
	int done;              /* KV_DONE was returned */
	int drained;           /* ...because the range ran out: cursor "" */

	kv_buf rows;           /* keys and values of the current batch */
	kv_entry *ents;
	size_t nents, pos, ents_cap;
	kv_buf last;           /* key of the last entry returned from an earlier
	                          batch (the current batch's is ents[pos - 1]) */
	kv_buf dropped;        /* key of an expired row that ended a batch */
};

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int buf_set(kv_buf *b, const void *p, size_t n, int tail)
{
	b->len = 0;
	if (kv__buf_put(b, p, n))
		return KV_NOMEM;
	if (tail >= 0 && kv__buf_putc(b, (uint8_t) tail))
		return KV_NOMEM;
	return KV_OK;
}

/* Deno's rule: a prefix selector's start/end must extend the prefix. */
static int extends(const kv_selector *s, const void *k, size_t kl)
{
	return kl > s->prefix_len && memcmp(k, s->prefix, s->prefix_len) == 0;
}

static void iter_free(kv_iter *it)
{
	kv__buf_free(&it->lo);
	kv__buf_free(&it->hi);
	kv__buf_free(&it->rows);
	kv__buf_free(&it->last);
	kv__buf_free(&it->dropped);
	free(it->ents);
	free(it);
}

void kv_iter_free(kv_iter *it)
{
	if (it)
		iter_free(it);
}

static int check_bounds(const kv_iter *it)
{
	if (it->lo.len > KV_MAX_KEY_READ || it->hi.len > KV_MAX_KEY_READ)
		return kv__error(KV_TOOBIG_KEY, "Key too large for read (max %d bytes)",
		                 KV_MAX_KEY_READ);
	return KV_OK;
}

static int apply_cursor(kv_iter *it, const char *cursor)
{
	kv_buf dec = { 0 }, key = { 0 };
	int rc;

	if (kv__base64_decode(&dec, cursor, strlen(cursor))) {
		kv__buf_free(&dec);
		return kv__error(KV_INVALID, "invalid cursor");
	}
	/* the common prefix is the head of lo (prefix + 00, start, or start/end's) */
	rc = kv__buf_put(&key, it->lo.data, it->base_len);
	if (!rc)
		rc = kv__buf_put(&key, dec.data, dec.len);
	if (!rc && !it->reverse)
		rc = kv__buf_putc(&key, 0x00);
	if (rc)
		goto out;
	/*
	 * Deno checks only the side the cursor moves: a forward cursor may
	 * not start before the selector, a reverse one may not end after it;
	 * past the other side the listing is simply empty.
	 */
	if (it->reverse ? keycmp(key.data, key.len, it->hi.data, it->hi.len) > 0
	    : keycmp(key.data, key.len, it->lo.data, it->lo.len) < 0) {
		rc = kv__error(KV_INVALID, "cursor out of bounds");
		goto out;
	}
	rc = buf_set(it->reverse ? &it->hi : &it->lo, key.data, key.len, -1);
out:
	kv__buf_free(&dec);
	kv__buf_free(&key);
	return rc;
}

int kv_list(kv_db *db, const kv_selector *sel, const kv_list_options *opt,
            kv_iter **out)
{
	static const kv_list_options defaults;
	int rc;

	kv__clear_error();
	if (!db || !sel || !out)
		return kv__error(KV_MISUSE, "kv_list: bad arguments");
	*out = NULL;
	if (!opt)
		opt = &defaults;
	if ((sel->prefix == NULL && sel->prefix_len) || (sel->start == NULL && sel->start_len) ||
	    (sel->end == NULL && sel->end_len))
		return kv__error(KV_MISUSE, "kv_list: selector key missing");
	if (sel->prefix && sel->start && sel->end)
		return kv__error(KV_INVALID, "Selector can not specify both 'start' and 'end'"
		                 " key when specifying 'prefix'");
	if (!sel->prefix && !(sel->start && sel->end))
		return kv__error(KV_INVALID, "Selector must specify either 'prefix' or both"
		                 " 'start' and 'end' key");
	if (sel->prefix && sel->start && !extends(sel, sel->start, sel->start_len))
		return kv__error(KV_INVALID, "Start key is not in the keyspace defined by prefix");
	if (sel->prefix && sel->end && !extends(sel, sel->end, sel->end_len))
		return kv__error(KV_INVALID, "End key is not in the keyspace defined by prefix");
	if (!sel->prefix && keycmp(sel->start, sel->start_len, sel->end, sel->end_len) > 0)
		return kv__error(KV_INVALID, "Start key is greater than end key");
	if (opt->batch_size > KV_MAX_BATCH)
		return kv__error(KV_TOOBIG, "Too many entries (max %d)", KV_MAX_BATCH);

	kv_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return kv__error(KV_NOMEM, "out of memory");
	it->db = db;
	it->reverse = opt->reverse != 0;
	it->remaining = opt->limit ? opt->limit : SIZE_MAX;
	/*
	 * Deno's batch size: the one given, or the limit up to 500, or 100.
	 * Without either, a long listing also doubles it after each batch up
	 * to 500, Deno's largest: the first entries come as soon as Deno's,
	 * and each read transaction's fixed cost (the locks, the seek, about
	 * a fifth of the time at 100 rows) is spread over more rows. What is
	 * listed is the same; a batch is only ever more consistent.
	 */
	it->batch_size = opt->batch_size ? opt->batch_size
		: opt->limit && opt->limit < LIST_BATCH_MAX ? opt->limit
		: opt->limit ? LIST_BATCH_MAX : LIST_BATCH_MIN;
	it->grow = !opt->batch_size && !opt->limit;
	if (sel->prefix) {
		it->base_len = sel->prefix_len;
		rc = sel->start ? buf_set(&it->lo, sel->start, sel->start_len, -1)
			: buf_set(&it->lo, sel->prefix, sel->prefix_len, 0x00);
		if (!rc)
			rc = sel->end ? buf_set(&it->hi, sel->end, sel->end_len, -1)
				: buf_set(&it->hi, sel->prefix, sel->prefix_len, 0xFF);
	} else {
		size_t n = 0;
		while (n < sel->start_len && n < sel->end_len &&
		       ((const uint8_t *) sel->start)[n] == ((const uint8_t *) sel->end)[n])
			n++;
		it->base_len = n;
		rc = buf_set(&it->lo, sel->start, sel->start_len, -1);
		if (!rc)
			rc = buf_set(&it->hi, sel->end, sel->end_len, -1);
	}
	if (!rc)
		rc = check_bounds(it);
	if (!rc && opt->cursor && *opt->cursor)
		rc = apply_cursor(it, opt->cursor);
	if (rc) {
		iter_free(it);
		return rc;
	}
	*out = it;
	return KV_OK;
}

static int children_start(kv_db *db, const void *prefix, size_t prefix_len,
                          const void *after, size_t after_len, int keys_only,
                          kv_iter **out)
{
	int rc;

	kv__clear_error();
	if (!db || !out || (!prefix && prefix_len) || (!after && after_len))
		return kv__error(KV_MISUSE, "kv_children: bad arguments");
	*out = NULL;
	kv_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return kv__error(KV_NOMEM, "out of memory");
	it->db = db;
	it->children = 1;
	it->keys_only = keys_only;
	it->remaining = SIZE_MAX;
	it->batch_size = CHILDREN_BATCH_MIN;
	it->base_len = prefix_len;
	rc = buf_set(&it->lo, prefix, prefix_len, 0x00);
	if (!rc)
		rc = buf_set(&it->hi, prefix, prefix_len, 0xFF);
	if (!rc)
		rc = check_bounds(it);
	if (!rc && after) {
		/* past after's whole subtree, but never before the prefix's range */
		kv_buf a = { 0 };
		rc = buf_set(&a, after, after_len, 0xFF);
		if (!rc && keycmp(a.data, a.len, it->lo.data, it->lo.len) > 0)
			rc = buf_set(&it->lo, a.data, a.len, -1);
		kv__buf_free(&a);
	}
	if (rc) {
		iter_free(it);
		return rc;
	}
	*out = it;
	return KV_OK;
}

int kv_children(kv_db *db, const void *prefix, size_t prefix_len,
                const void *after, size_t after_len, kv_iter **out)
{
	return children_start(db, prefix, prefix_len, after, after_len, 0, out);
}

int kv_children_keys(kv_db *db, const void *prefix, size_t prefix_len,
                     const void *after, size_t after_len, kv_iter **out)
{
	return children_start(db, prefix, prefix_len, after, after_len, 1, out);
}

/* ---- reading ---- */

/*
 * Append one row (key column 0, value columns 1..3, unread by a keys-only
 * listing) to the batch; `exp` is its expiration (column 4), already read
 * by the caller.
 */
static int add_row(kv_iter *it, const void *key, size_t key_len, sqlite3_stmt *st,
                   int64_t exp, unsigned flags)
{
	if (it->nents == it->ents_cap) {
		size_t cap = it->ents_cap ? it->ents_cap * 2 : 16;
		kv_entry *p = realloc(it->ents, cap * sizeof(*p));
		if (!p)
			return kv__error(KV_NOMEM, "out of memory");
		it->ents = p;
		it->ents_cap = cap;
	}
	kv_entry *e = &it->ents[it->nents];
	const void *v = NULL;
	size_t vl = 0;

	e->encoding = 0;
	e->version = 0;
	e->expires_at = -1;
	e->value = NULL;
	e->value_len = 0;
	if (flags & KV_ENTRY_VALUE)
		e->expires_at = exp;
	if ((flags & KV_ENTRY_VALUE) && !it->keys_only) {
		v = sqlite3_column_blob(st, 1);
		vl = (size_t) sqlite3_column_bytes(st, 1);
		e->encoding = sqlite3_column_int(st, 2);
		e->version = (uint64_t) sqlite3_column_int64(st, 3);
	}
	/* one copy of key and value; offsets now, pointers once the batch
	 * buffer stops moving */
	if (kv__buf_reserve(&it->rows, key_len + vl))
		return KV_NOMEM;
	e->key = (const uint8_t *) (uintptr_t) it->rows.len;
	e->key_len = key_len;
	memcpy(it->rows.data + it->rows.len, key, key_len);
	it->rows.len += key_len;
	if ((flags & KV_ENTRY_VALUE) && !it->keys_only) {
		e->value = (const uint8_t *) (uintptr_t) it->rows.len;
		e->value_len = vl;
		if (vl)
			memcpy(it->rows.data + it->rows.len, v, vl);
		it->rows.len += vl;
	}
	e->flags = flags;
	it->nents++;
	return KV_OK;
}

static void fix_pointers(kv_iter *it)
{
	for (size_t i = 0; i < it->nents; i++) {
		kv_entry *e = &it->ents[i];
		e->key = it->rows.data + (uintptr_t) e->key;
		if ((e->flags & KV_ENTRY_VALUE) && !it->keys_only)
			e->value = it->rows.data + (uintptr_t) e->value;
	}
}

/*
 * The next batch of a listing: up to n rows of [lo, hi) in one read
 * transaction. Expired rows are read and dropped here, on the expiration
 * column the entry reads anyway, rather than by the SQL: the range moves
 * past every row seen, and only a batch that saw fewer than n rows ends
 * the range. A batch whose rows had all expired reads the next one.
 */
static int fetch_batch(kv_iter *it)
{
	kv__conn *c;
	sqlite3_stmt *st = NULL;
	size_t n = it->batch_size < it->remaining ? it->batch_size : it->remaining;
	size_t seen;
	int rc, src;

again:
	it->nents = it->pos = 0;
	it->rows.len = 0;
	seen = 0;
	if ((rc = kv__reader(it->db, 0, &c)))
		return rc;
	if ((rc = kv__stmt(c, it->reverse ? KV__S_SCAN_REV : KV__S_SCAN_FWD, &st)))
		goto out;
	sqlite3_bind_blob(st, 1, it->lo.data ? (void *) it->lo.data : "", (int) it->lo.len,
	                  SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, it->hi.data ? (void *) it->hi.data : "", (int) it->hi.len,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t) n);
	int64_t now = kv__now_ms();
	int last_dropped = 0;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const void *k = sqlite3_column_blob(st, 0);
		size_t kl = (size_t) sqlite3_column_bytes(st, 0);
		int64_t exp = sqlite3_column_int64(st, 4);
		seen++;
		if (exp >= 0 && exp <= now) {
			/* expired: not listed, but the range moves past it */
			if (seen == n && (rc = buf_set(&it->dropped, k, kl, -1)))
				break;
			last_dropped = 1;
			continue;
		}
		last_dropped = 0;
		if ((rc = add_row(it, k, kl, st, exp, KV_ENTRY_VALUE)))
			break;
	}
	if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
		rc = kv__sqlite_error(c, src, "cannot list");
	sqlite3_reset(st);
out:
	kv__reader_done(it->db, c);
	if (rc) {
		it->nents = 0;
		return rc;
	}
	fix_pointers(it);
	if (seen < n) {
		it->exhausted = 1;
		return KV_OK;
	}
	/* a full batch: the range continues after the last row seen */
	if (it->grow && it->batch_size < LIST_BATCH_MAX)
		it->batch_size = it->batch_size * 2 < LIST_BATCH_MAX
			? it->batch_size * 2 : LIST_BATCH_MAX;
	const uint8_t *lk;
	size_t lkl;
	if (last_dropped) {
		lk = it->dropped.data, lkl = it->dropped.len;
	} else {
		lk = it->ents[it->nents - 1].key, lkl = it->ents[it->nents - 1].key_len;
	}
	rc = it->reverse ? buf_set(&it->hi, lk, lkl, -1) : buf_set(&it->lo, lk, lkl, 0x00);
	if (!rc && !it->nents)
		goto again;
	return rc;
}

/*
 * Children of the prefix, up to it->batch_size of them, in one read
 * transaction. Rows come in key order from lo: a row one part deeper than
 * the prefix is a child with a value; a deeper row shows that its child
 * has keys under it, and the scan then seeks to that child + FF, past the
 * whole subtree. A flat directory is thus one range scan; a subtree costs
 * one seek. A value-holding child is only known to be childless when the
 * next row is not under it, so the batch ends at the row after its last
 * child, and lo moves past that child's subtree. Expired rows are skipped
 * as if absent: they neither list nor make a child a directory.
 */
static int fetch_children(kv_iter *it)
{
	kv__conn *c;
	sqlite3_stmt *st = NULL;
	int rc, src, in_txn = 0;
	size_t cur_len = 0;           /* the current child's key length, 0 for none */

	it->nents = it->pos = 0;
	it->rows.len = 0;
	if ((rc = kv__reader(it->db, 0, &c)))
		return rc;
	if ((rc = kv__stmt(c, it->keys_only ? KV__S_SCAN_KEYS : KV__S_SCAN_FWD, &st)))
		goto out;
	if ((rc = kv__exec(c, KV__S_BEGIN)))
		goto out;
	in_txn = 1;
	int64_t now = kv__now_ms();
	for (;;) {
		sqlite3_bind_blob(st, 1, it->lo.data, (int) it->lo.len, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, it->hi.data, (int) it->hi.len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, -1);
		int seek = 0;
		while (!seek && (src = sqlite3_step(st)) == SQLITE_ROW) {
			/* expired rows are not there: dropped here, as fetch_batch does */
			int64_t exp = sqlite3_column_int64(st, 4);
			if (exp >= 0 && exp <= now)
				continue;
			const uint8_t *k = sqlite3_column_blob(st, 0);
			size_t kl = (size_t) sqlite3_column_bytes(st, 0), span;
			if (cur_len && kl > cur_len) {
				/* offsets until fix_pointers: the child's key is in rows */
				kv_entry *last = &it->ents[it->nents - 1];
				if (kv_key_under(k, kl, it->rows.data + (uintptr_t) last->key, cur_len)) {
					/* under the current child, which holds a value */
					last->flags |= KV_ENTRY_CHILDREN;
					seek = 1;
					break;
				}
			}
			if (it->nents == it->batch_size) {
				src = SQLITE_DONE;   /* batch full; not exhausted */
				goto batch_full;
			}
			if (kv_part_span(k, kl, it->base_len, &span)) {
				char why[256];
				snprintf(why, sizeof(why), "%s", kv_errmsg(NULL));
				rc = kv__error(KV_CORRUPT, "stored key does not decode: %s", why);
				goto reset;
			}
			size_t cl = it->base_len + span;
			if (kl == cl) {
				if ((rc = add_row(it, k, cl, st, exp, KV_ENTRY_VALUE)))
					goto reset;
				cur_len = cl;
			} else {
				if ((rc = add_row(it, k, cl, st, -1, KV_ENTRY_CHILDREN)))
					goto reset;
				cur_len = 0;
				seek = 1;
			}
		}
		if (!seek)
			break;
		/* past the last child's subtree: no encoded part starts with FF */
		sqlite3_reset(st);
		const kv_entry *last = &it->ents[it->nents - 1];
		rc = buf_set(&it->lo, it->rows.data + (uintptr_t) last->key, last->key_len, 0xFF);
		if (rc)
			goto reset;
		cur_len = 0;
	}
	if (src != SQLITE_DONE) {
		rc = kv__sqlite_error(c, src, "cannot list");
		goto reset;
	}
	it->exhausted = 1;
batch_full:
	if (it->nents) {
		const kv_entry *last = &it->ents[it->nents - 1];
		rc = buf_set(&it->lo, it->rows.data + (uintptr_t) last->key, last->key_len, 0xFF);
	}
reset:
	sqlite3_reset(st);
out:
	if (in_txn)
		kv__exec(c, KV__S_COMMIT);
	kv__reader_done(it->db, c);
	if (rc) {
		it->nents = 0;
		return rc;
	}
	fix_pointers(it);
	if (it->batch_size < CHILDREN_BATCH_MAX)
		it->batch_size *= 2;
	return KV_OK;
}

int kv_iter_next(kv_iter *it, const kv_entry **entry)
{
	int rc;

	if (!it || !entry)
		return kv__error(KV_MISUSE, "kv_iter_next: bad arguments");
	*entry = NULL;
	it->started = 1;
	if (it->done)
		return KV_DONE;
	if (it->pos == it->nents) {
		/* like Deno, stopping at the limit keeps the cursor */
		if (it->remaining == 0) {
			it->done = 1;
			return KV_DONE;
		}
		if (it->exhausted) {
			it->done = it->drained = 1;
			return KV_DONE;
		}
		/* the batch is about to go: keep its last key for the cursor */
		if (it->pos && buf_set(&it->last, it->ents[it->pos - 1].key,
		                       it->ents[it->pos - 1].key_len, -1))
			return kv__error(KV_NOMEM, "out of memory");
		rc = it->children ? fetch_children(it) : fetch_batch(it);
		if (rc)
			return rc;
		if (it->nents == 0) {
			it->done = it->drained = 1;
			return KV_DONE;
		}
	}
	const kv_entry *e = &it->ents[it->pos++];
	if (it->remaining != SIZE_MAX)
		it->remaining--;
	*entry = e;
	return KV_OK;
}

int kv_iter_cursor(kv_iter *it, char **cursor)
{
	kv_buf b = { 0 };

	if (!it || !cursor)
		return kv__error(KV_MISUSE, "kv_iter_cursor: bad arguments");
	*cursor = NULL;
	if (!it->started)
		return kv__error(KV_MISUSE, "Cannot get cursor before first iteration");
	const uint8_t *last = it->last.data;
	size_t last_len = it->last.len;
	if (it->pos) {
		last = it->ents[it->pos - 1].key;
		last_len = it->ents[it->pos - 1].key_len;
	}
	if (!it->drained && last_len >= it->base_len &&
	    kv__base64url_encode(&b, last + it->base_len, last_len - it->base_len))
		return KV_NOMEM;
	if (kv__buf_putc(&b, 0)) {
		kv__buf_free(&b);
		return KV_NOMEM;
	}
	*cursor = (char *) b.data;
	return KV_OK;
}
