/*
 * fs_txn.c - the transaction model behind .tx: the transactions of the
 * mount, their staged mutations (a set or delete of a key replaces the
 * previous one of that key), checks and marks, the limits that poison a
 * transaction, the view of a key inside one, the results kept in .commit,
 * and the commit itself (one kv_atomic). fs_tx.c's header describes the
 * design; the FUSE operations that drive this live there. Everything here
 * runs with ctl->lock held.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs.h"
#include "fs_ctl.h"

/* ---- transactions (ctl->lock held) ---- */

struct tx *tx_by_id(struct fs_ctl *c, uint64_t id)
{
	for (struct tx *t = c->txs; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

struct tx *tx_by_name(struct fs_ctl *c, const char *name)
{
	for (struct tx *t = c->txs; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

void tx_free(struct tx *t)
{
	for (size_t i = 0; i < t->nops; i++) {
		free(t->ops[i].key);
		free(t->ops[i].value);
	}
	for (size_t i = 0; i < t->nchecks; i++)
		free(t->checks[i].key);
	for (size_t i = 0; i < t->nmarks; i++)
		free(t->marks[i].key);
	for (size_t i = 0; i < t->ngone; i++)
		free(t->gone[i].key);
	free(t->ops);
	free(t->checks);
	free(t->marks);
	free(t->gone);
	free(t->name);
	free(t);
}

void tx_unlink(struct fs_ctl *c, struct tx *t)
{
	for (struct tx **pp = &c->txs; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, nc * size);
	if (!p)
		return ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

void result_forget(struct fs_ctl *c, const char *name)
{
	for (struct result **pp = &c->results; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->name, name) == 0) {
			struct result *r = *pp;
			*pp = r->next;
			free(r->name);
			free(r->text);
			free(r);
			c->nresults--;
			return;
		}
}

void result_add(struct fs_ctl *c, const char *name, const char *text)
{
	struct result *r = calloc(1, sizeof(*r));
	if (!r || !(r->name = strdup(name)) || !(r->text = strdup(text))) {
		if (r)
			free(r->name);
		free(r);
		return;
	}
	result_forget(c, name);
	r->next = c->results;
	c->results = r;
	if (++c->nresults > RESULTS_MAX) {
		struct result **pp = &c->results;
		while ((*pp)->next)
			pp = &(*pp)->next;
		free((*pp)->name);
		free((*pp)->text);
		free(*pp);
		*pp = NULL;
		c->nresults--;
	}
}

void mark_remove(struct tx *t, const uint8_t *key, size_t len, int tree)
{
	size_t o = 0;
	for (size_t i = 0; i < t->nmarks; i++) {
		struct mark *m = &t->marks[i];
		int hit = fs_key_equal(m->key, m->key_len, key, len) ||
		          (tree && under(m->key, m->key_len, key, len));
		if (hit)
			free(m->key);
		else
			t->marks[o++] = *m;
	}
	t->nmarks = o;
}

int mark_add(struct tx *t, const uint8_t *key, size_t len, int file)
{
	if (t->nmarks >= KV_MAX_MUTATIONS)
		return E2BIG;
	if (grow((void **) &t->marks, &t->capmarks, t->nmarks, sizeof(*t->marks)))
		return ENOMEM;
	uint8_t *k = dup_bytes(key, len);
	if (!k)
		return ENOMEM;
	t->marks[t->nmarks++] = (struct mark) { k, len, file, 0 };
	return 0;
}

/*
 * Remember that rmdir removed the stored prefix `key` after T deleted
 * every key under it. One entry per prefix that had a staged delete under
 * it, so the list is bounded by the staged deletes.
 */
int gone_add(struct tx *t, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < t->ngone; i++)
		if (fs_key_equal(t->gone[i].key, t->gone[i].key_len, key, len))
			return 0;
	if (grow((void **) &t->gone, &t->capgone, t->ngone, sizeof(*t->gone)))
		return ENOMEM;
	uint8_t *k = dup_bytes(key, len);
	if (!k)
		return ENOMEM;
	t->gone[t->ngone++] = (struct mark) { k, len, 0, 0 };
	return 0;
}

/* Removed by rmdir or moved away by T, itself or a prefix above it. */
static int is_gone(const struct tx *t, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < t->ngone; i++)
		if (fs_key_equal(t->gone[i].key, t->gone[i].key_len, key, len) ||
		    under(key, len, t->gone[i].key, t->gone[i].key_len))
			return 1;
	return 0;
}

/*
 * What one mutation adds to a commit, as the engine counts it (Deno's
 * accounting): every key once, a valued mutation's key and value again;
 * and to the keys of valued mutations.
 */
static size_t op_bytes(enum op_kind kind, size_t len, size_t value_len)
{
	return kind == OP_DELETE ? len : 2 * len + (kind == OP_SET ? value_len : 8);
}

static size_t op_keys(enum op_kind kind, size_t len)
{
	return kind == OP_DELETE ? 0 : len;
}

static struct op *last_op(struct tx *t, const uint8_t *key, size_t len)
{
	struct op *last = NULL;
	for (size_t i = 0; i < t->nops; i++)
		if (fs_key_equal(t->ops[i].key, t->ops[i].key_len, key, len))
			last = &t->ops[i];
	return last;
}

/* Does the op leave a value: not a delete, nor a set whose time-to-live ran out? */
static int op_shows(const struct op *o, int64_t now)
{
	return o->kind != OP_DELETE && !(o->kind == OP_SET && o->expires_at && o->expires_at <= now);
}

static int replaceable(const struct op *last, enum op_kind kind)
{
	return last && (kind == OP_SET || kind == OP_DELETE) &&
	       (last->kind == OP_SET || last->kind == OP_DELETE);
}

static struct check *find_check(struct tx *t, const uint8_t *key, size_t len);
static int replaces(const struct tx *t, const uint8_t *key, size_t len);

/*
 * An implied check is sent, and counted, only for a key T sets or deletes:
 * the bytes it adds when T first does.
 */
static size_t implied_cost(struct tx *t, enum op_kind kind, const uint8_t *key, size_t len)
{
	if (kind != OP_SET && kind != OP_DELETE)
		return 0;
	struct check *k = find_check(t, key, len);
	return k && k->implied && !replaces(t, key, len) ? len : 0;
}

/*
 * What staging `kind` of `key`, whose last op is `last`, makes of T's
 * mutations, bytes and keys (the counts passed in): the op, and an implied
 * check it makes T send.
 */
static void stage_cost(struct tx *t, const struct op *last, enum op_kind kind,
                       const uint8_t *key, size_t len, size_t value_len,
                       size_t *nops, size_t *bytes, size_t *keys)
{
	if (replaceable(last, kind)) {
		*bytes = *bytes - op_bytes(last->kind, len, last->value_len) +
		         op_bytes(kind, len, value_len);
		*keys = *keys - op_keys(last->kind, len) + op_keys(kind, len);
		return;
	}
	*nops += 1;
	*bytes += op_bytes(kind, len, value_len) + implied_cost(t, kind, key, len);
	*keys += op_keys(kind, len);
}

/* The limit that counts past Deno's, in Deno's words; NULL within them. */
static const char *over_limits(size_t nops, size_t bytes, size_t keys)
{
	return nops > KV_MAX_MUTATIONS ? "Too many mutations (max 1000)" :
	       bytes > KV_MAX_COMMIT_BYTES ? "Total mutation size too large (max 819200 bytes)" :
	       keys > KV_MAX_COMMIT_KEYS ? "Total key size too large (max 81920 bytes)" : NULL;
}

const char *tx_over(const struct tx *t)
{
	return t->over ? t->over : "the transaction exceeded a limit";
}

const char *tx_check_over(const struct tx *t, size_t len)
{
	return t->nchecks - t->nimplied >= KV_MAX_CHECKS ? "Too many checks (max 100)" :
	       t->bytes + len > KV_MAX_COMMIT_BYTES ?
	       "Total mutation size too large (max 819200 bytes)" : NULL;
}

struct mark *mark_file(struct tx *t, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < t->nmarks; i++)
		if (t->marks[i].file && fs_key_equal(t->marks[i].key, t->marks[i].key_len, key, len))
			return &t->marks[i];
	return NULL;
}

/* The expiry given to a file T created empty, for its first value; 0 none. */
static int64_t created_expiry(struct tx *t, const uint8_t *key, size_t len)
{
	struct mark *m = mark_file(t, key, len);
	return m ? m->expires_at : 0;
}

/* Stage one mutation whose cost was accounted for: 0 or ENOMEM. */
static int stage_op(struct tx *t, struct op *last, enum op_kind kind, const uint8_t *key,
                    size_t len, int enc, const uint8_t *value, size_t value_len,
                    uint64_t operand)
{
	size_t nops = t->nops, bytes = t->bytes, keys = t->keys;

	stage_cost(t, last, kind, key, len, value_len, &nops, &bytes, &keys);
	if (replaceable(last, kind)) {
		uint8_t *v = value_len ? dup_bytes(value, value_len) : NULL;
		if (value_len && !v)
			return ENOMEM;
		free(last->value);
		/* a rewrite keeps the expiry T gave the key, as outside T */
		if (kind != OP_SET || last->kind != OP_SET)
			last->expires_at = 0, last->stored_expiry = 0;
		last->kind = kind;
		last->enc = enc;
		last->value = v;
		last->value_len = value_len;
		t->bytes = bytes;
		t->keys = keys;
		mark_remove(t, key, len, 0);    /* as below: the op now says what the key is */
		return 0;
	}
	if (grow((void **) &t->ops, &t->capops, t->nops, sizeof(*t->ops)))
		return ENOMEM;
	struct op o = { .kind = kind, .key_len = len, .enc = enc, .value_len = value_len,
	                .operand = operand, .expires_at = kind == OP_SET ? created_expiry(t, key, len) : 0 };
	o.key = dup_bytes(key, len);
	o.value = value_len ? dup_bytes(value, value_len) : NULL;
	if (!o.key || (value_len && !o.value)) {
		free(o.key);
		free(o.value);
		return ENOMEM;
	}
	t->ops[t->nops++] = o;
	t->bytes = bytes;
	t->keys = keys;
	mark_remove(t, key, len, 0);
	return 0;
}

int tx_fits(struct tx *t, enum op_kind kind, const uint8_t *key, size_t len,
            size_t value_len, const char **why)
{
	size_t nops = t->nops, bytes = t->bytes, keys = t->keys;

	*why = "the transaction already exceeded a limit";
	if (t->failed)
		return t->failed;
	stage_cost(t, last_op(t, key, len), kind, key, len, value_len, &nops, &bytes, &keys);
	if (!(*why = over_limits(nops, bytes, keys)))
		return 0;
	t->over = *why;
	return t->failed = E2BIG;
}

/*
 * Stage one mutation. A set or delete replaces the key's last set or
 * delete; anything else is appended. E2BIG poisons the transaction.
 */
int tx_stage(struct tx *t, enum op_kind kind, const uint8_t *key, size_t len,
             int enc, const uint8_t *value, size_t value_len, uint64_t operand)
{
	const char *why;
	int err = tx_fits(t, kind, key, len, value_len, &why);

	if (err)
		return err;
	return stage_op(t, last_op(t, key, len), kind, key, len, enc, value, value_len, operand);
}

static struct check *find_check(struct tx *t, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < t->nchecks; i++)
		if (fs_key_equal(t->checks[i].key, t->checks[i].key_len, key, len))
			return &t->checks[i];
	return NULL;
}

static int add_check(struct tx *t, const uint8_t *key, size_t len, int absent,
                     uint64_t version, int implied)
{
	if (grow((void **) &t->checks, &t->capchecks, t->nchecks, sizeof(*t->checks)))
		return ENOMEM;
	uint8_t *k = dup_bytes(key, len);
	if (!k)
		return ENOMEM;
	t->checks[t->nchecks++] = (struct check) { k, len, absent, version, implied };
	t->nimplied += implied;
	if (!implied || replaces(t, key, len))
		t->bytes += len;    /* sent at the commit */
	return 0;
}

/* Record a check; a read's check never replaces an earlier one, an explicit one does. */
int tx_check(struct tx *t, const uint8_t *key, size_t len, int absent,
             uint64_t version, int explicit)
{
	struct check *k = find_check(t, key, len);

	if (k) {
		int was_implied = k->implied;
		if (k->implied) {
			/* read now: a check of its own, counted, and sent in any case */
			size_t more = replaces(t, key, len) ? 0 : len;
			if (tx_check_over(t, more))
				return E2BIG;
			k->implied = 0;
			t->nimplied--;
			t->bytes += more;
		}
		if (explicit || was_implied) {
			k->absent = absent;
			k->version = version;
		}
		return 0;
	}
	if (t->failed)
		return t->failed;
	/* a read refused is not recorded, and T stays as it was: no mark */
	if (tx_check_over(t, len))
		return E2BIG;
	return add_check(t, key, len, absent, version, 0);
}

int tx_imply(struct tx *t, const uint8_t *key, size_t len, int absent, uint64_t version)
{
	if (find_check(t, key, len))
		return 0;
	if (t->failed)
		return t->failed;
	return add_check(t, key, len, absent, version, 1);
}

/*
 * Does T set or delete `key` at its commit? Sums, mins and maxes need no
 * check: on an absent key they take the operand, whoever made it meanwhile.
 */
static int replaces(const struct tx *t, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < t->nops; i++)
		if (fs_key_equal(t->ops[i].key, t->ops[i].key_len, key, len) &&
		    (t->ops[i].kind == OP_SET || t->ops[i].kind == OP_DELETE))
			return 1;
	return 0;
}

/* ---- a directory moved inside T (ctl->lock held) ---- */

/* One key moved: the value T sees at `from` goes to `to`. */
struct move {
	uint8_t *from, *to;
	size_t from_len, to_len;
	struct view v;
};

struct moves {
	const uint8_t *src, *dst;       /* the directories */
	size_t src_len, dst_len;
	struct move *m;
	size_t n, cap;
	size_t bytes, keys;     /* of the sets so far: past a limit, stop looking */
	int stored;             /* a stored key lies under src */
};

static void moves_free(struct moves *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		free(ms->m[i].from);
		free(ms->m[i].to);
		view_free(&ms->m[i].v);
	}
	free(ms->m);
}

static int at_or_under(const uint8_t *key, size_t len, const uint8_t *prefix, size_t plen)
{
	return fs_key_equal(key, len, prefix, plen) || under(key, len, prefix, plen);
}

/* Its place under dst of a key at or under src (heap), or NULL. */
static uint8_t *moved_key(const struct moves *ms, const uint8_t *key, size_t len, size_t *out)
{
	uint8_t *k = malloc(ms->dst_len + len - ms->src_len + 1);
	if (!k)
		return NULL;
	memcpy(k, ms->dst, ms->dst_len);
	memcpy(k + ms->dst_len, key + ms->src_len, len - ms->src_len);
	*out = ms->dst_len + len - ms->src_len;
	return k;
}

/* Add `key` to the keys moved if T shows a value there. 0 or an errno. */
static int move_add(struct fs_data *fs, struct tx *t, struct moves *ms,
                    const uint8_t *key, size_t len)
{
	struct view v;
	int err;

	for (size_t i = 0; i < ms->n; i++)
		if (fs_key_equal(ms->m[i].from, ms->m[i].from_len, key, len))
			return 0;
	if ((err = view_of(fs, t, key, len, &v)))
		return err;
	size_t to_len = ms->dst_len + len - ms->src_len;
	if (!v.value)
		err = 0;
	else if (to_len > KV_MAX_KEY_WRITE)
		err = ENAMETOOLONG;
	/* each key moved is at least a set and a delete in the commit */
	else if ((t->over = over_limits(2 * (ms->n + 1), ms->bytes + op_bytes(OP_SET, to_len, v.len),
	                                ms->keys + to_len)))
		err = E2BIG;
	else if (grow((void **) &ms->m, &ms->cap, ms->n, sizeof(*ms->m)))
		err = ENOMEM;
	if (err || !v.value) {
		view_free(&v);
		return err;
	}
	struct move *m = &ms->m[ms->n];
	m->from = dup_bytes(key, len);
	m->to = moved_key(ms, key, len, &m->to_len);
	if (!m->from || !m->to) {
		free(m->from);
		free(m->to);
		view_free(&v);
		return ENOMEM;
	}
	m->from_len = len;
	m->v = v;
	ms->n++;
	ms->bytes += op_bytes(OP_SET, to_len, v.len);
	ms->keys += to_len;
	return 0;
}

/* Every key T shows at or under src: stored ones, then T's own. */
static int move_collect(struct fs_data *fs, struct tx *t, struct moves *ms)
{
	kv_selector sel = { .prefix = ms->src, .prefix_len = ms->src_len };
	kv_iter *it = NULL;
	const kv_entry *e;
	int err = move_add(fs, t, ms, ms->src, ms->src_len), rc = KV_OK;

	if (!err)
		rc = kv_list(fs->db, &sel, NULL, &it);
	while (!err && rc == KV_OK && (rc = kv_iter_next(it, &e)) == KV_OK) {
		ms->stored = 1;
		err = move_add(fs, t, ms, e->key, e->key_len);
	}
	kv_iter_free(it);
	if (!err && rc != KV_OK && rc != KV_DONE)
		err = fs_errno(rc);
	for (size_t i = 0; !err && i < t->nops; i++)
		if (t->ops[i].kind != OP_DELETE &&
		    at_or_under(t->ops[i].key, t->ops[i].key_len, ms->src, ms->src_len))
			err = move_add(fs, t, ms, t->ops[i].key, t->ops[i].key_len);
	for (size_t i = 0; !err && i < t->nmarks; i++)
		if (at_or_under(t->marks[i].key, t->marks[i].key_len, ms->src, ms->src_len) &&
		    ms->dst_len + t->marks[i].key_len - ms->src_len > KV_MAX_KEY_WRITE)
			err = ENAMETOOLONG;
	return err;
}

/* Does the whole move fit T's limits, with the checks it adds? */
static int move_fits(struct tx *t, const struct moves *ms)
{
	size_t nops = t->nops, bytes = t->bytes, keys = t->keys;

	for (size_t i = 0; i < ms->n; i++) {
		const struct move *m = &ms->m[i];
		stage_cost(t, last_op(t, m->to, m->to_len), OP_SET, m->to, m->to_len, m->v.len,
		           &nops, &bytes, &keys);
		stage_cost(t, last_op(t, m->from, m->from_len), OP_DELETE, m->from, m->from_len, 0,
		           &nops, &bytes, &keys);
		/* the checks the move adds */
		if (!m->v.staged && !find_check(t, m->from, m->from_len))
			bytes += m->from_len;
		if (!replaces(t, m->to, m->to_len) && !find_check(t, m->to, m->to_len))
			bytes += m->to_len;
	}
	if (!(t->over = over_limits(nops, bytes, keys)))
		return 0;
	return E2BIG;
}

/*
 * Stage every move: the value moved is read, so the commit checks it
 * still holds, and a new key T did not stage is checked to be still absent.
 */
static int move_stage(struct tx *t, const struct moves *ms)
{
	int err = 0;

	for (size_t i = 0; !err && i < ms->n; i++) {
		const struct move *m = &ms->m[i];
		if (!m->v.staged)
			err = tx_imply(t, m->from, m->from_len, !m->v.stored, m->v.version);
		if (!err && !replaces(t, m->to, m->to_len))
			err = tx_imply(t, m->to, m->to_len, 1, 0);
		if (!err)
			err = stage_op(t, last_op(t, m->to, m->to_len), OP_SET, m->to, m->to_len,
			               m->v.enc, m->v.data, m->v.len, 0);
		if (!err)
			tx_set_expiry(t, m->to, m->to_len, m->v.expires_at);   /* as mv keeps it */
		if (!err)
			err = stage_op(t, last_op(t, m->from, m->from_len), OP_DELETE, m->from,
			               m->from_len, 0, NULL, 0, 0);
	}
	return err;
}

/* Marks (directories made, files created empty) at or under src follow. */
static int move_marks(struct tx *t, const struct moves *ms)
{
	int moved = 0;

	mark_remove(t, ms->dst, ms->dst_len, 1);
	for (size_t i = 0; i < t->nmarks; i++) {
		struct mark *k = &t->marks[i];
		size_t len;
		if (!at_or_under(k->key, k->key_len, ms->src, ms->src_len))
			continue;
		uint8_t *to = moved_key(ms, k->key, k->key_len, &len);
		if (!to)
			return ENOMEM;
		free(k->key);
		k->key = to;
		k->key_len = len;
		moved = 1;
	}
	/* nothing shows dst yet: an empty directory, as src was */
	return moved || ms->n ? 0 : mark_add(t, ms->dst, ms->dst_len, 0);
}

/*
 * Forget what was removed where the move put things: dst itself, and the
 * removed directories below it that a key or mark moved there lies in.
 * Others stay removed: an old subdirectory of dst whose keys T deleted
 * does not come back under the directory moved onto its parent.
 */
static void gone_drop(struct tx *t, const struct moves *ms)
{
	size_t o = 0;
	for (size_t i = 0; i < t->ngone; i++) {
		struct mark *g = &t->gone[i];
		int live = fs_key_equal(g->key, g->key_len, ms->dst, ms->dst_len);
		if (!live && under(g->key, g->key_len, ms->dst, ms->dst_len)) {
			for (size_t k = 0; !live && k < ms->n; k++)
				live = at_or_under(ms->m[k].to, ms->m[k].to_len, g->key, g->key_len);
			for (size_t k = 0; !live && k < t->nmarks; k++)
				live = at_or_under(t->marks[k].key, t->marks[k].key_len,
				                   g->key, g->key_len);
		}
		if (live)
			free(g->key);
		else
			t->gone[o++] = *g;
	}
	t->ngone = o;
}

/* Does T show anything at or under `p`: a value it stages, or a mark? */
static int shows_at_or_under(const struct tx *t, const uint8_t *p, size_t plen)
{
	int64_t now = fs_now_ms();
	for (size_t i = 0; i < t->nops; i++)
		if (at_or_under(t->ops[i].key, t->ops[i].key_len, p, plen) && op_shows(&t->ops[i], now))
			return 1;
	for (size_t i = 0; i < t->nmarks; i++)
		if (at_or_under(t->marks[i].key, t->marks[i].key_len, p, plen))
			return 1;
	return 0;
}

/*
 * The stored directories below dst whose keys T deleted, and that nothing
 * moved there fills again, are removed too: they do not show as emptied
 * directories under the one moved onto dst (a move is no rm -r).
 */
static int gone_emptied(struct tx *t, const struct moves *ms)
{
	int err = 0;
	for (size_t i = 0; !err && i < t->nops; i++) {
		const struct op *o = &t->ops[i];
		if (o->kind != OP_DELETE || !under(o->key, o->key_len, ms->dst, ms->dst_len))
			continue;
		for (size_t plen = fs_parent_len(o->key, o->key_len); !err && plen > ms->dst_len;
		     plen = fs_parent_len(o->key, plen))
			if (!shows_at_or_under(t, o->key, plen))
				err = gone_add(t, o->key, plen);
	}
	return err;
}

int tx_move(struct fs_data *fs, struct tx *t, const uint8_t *src, size_t src_len,
            const uint8_t *dst, size_t dst_len)
{
	struct moves ms = { .src = src, .src_len = src_len, .dst = dst, .dst_len = dst_len };
	int err;

	if (t->failed)
		return t->failed;
	if (!(err = move_collect(fs, t, &ms)))
		err = move_fits(t, &ms);
	if (err == E2BIG)
		t->failed = E2BIG;
	if (!err) {
		/* past this point a failure (ENOMEM) would leave T half-moved */
		err = move_stage(t, &ms);
		if (!err)
			err = move_marks(t, &ms);
		if (!err && ms.stored)
			err = gone_add(t, src, src_len);    /* src is emptied, and removed */
		if (!err)
			gone_drop(t, &ms);              /* keys live there again */
		if (!err)
			err = gone_emptied(t, &ms);
		if (err)
			t->failed = err;
	}
	moves_free(&ms);
	return err;
}

void tx_set_expiry(struct tx *t, const uint8_t *key, size_t len, int64_t expires_at)
{
	struct op *o = last_op(t, key, len);
	if (o && o->kind == OP_SET) {
		o->expires_at = expires_at >= 0 ? expires_at : 0;
		o->stored_expiry = 0;
	}
}

int tx_write(struct fs_data *fs, struct tx *t, const uint8_t *key, size_t len,
             int enc, const uint8_t *value, size_t value_len)
{
	struct view v;
	int err = view_of(fs, t, key, len, &v);

	if (err)
		return err;
	int64_t keep = v.value || v.empty ? v.expires_at : -1;
	int stored = v.value && v.stored && !v.staged;
	/* a new key whose lookup recorded no check (past TX_MAX_IMPLIED): absent still at the commit */
	if (!v.value && !v.stored && !v.staged && !find_check(t, key, len) &&
	    (err = add_check(t, key, len, 1, 0, 1))) {
		view_free(&v);
		return err;
	}
	view_free(&v);
	struct op *last = last_op(t, key, len);
	int was_stored = last && last->kind == OP_SET && last->stored_expiry;
	err = tx_stage(t, OP_SET, key, len, enc, value, value_len, 0);
	if (!err)
		tx_set_expiry(t, key, len, keep);
	/* the expiry of a stored value rewritten is the one stored at the commit */
	if (!err && (stored || was_stored))
		last_op(t, key, len)->stored_expiry = 1;
	return err;
}

int tx_expire(struct fs_data *fs, struct tx *t, const uint8_t *key, size_t len, int64_t at)
{
	struct view v;
	int err;

	if (t->failed)
		return t->failed;
	if ((err = view_of(fs, t, key, len, &v)))
		return err;
	struct op *last = last_op(t, key, len);
	struct mark *m = mark_file(t, key, len);
	if (!v.value && v.empty && m) {
		m->expires_at = at;
	} else if (!v.value) {
		err = ENOENT;
	} else if (last && last->kind != OP_SET && last->kind != OP_DELETE) {
		err = EPERM;
	} else if (last && last->kind == OP_SET) {
		last->expires_at = at;
		last->stored_expiry = 0;
	} else {
		/* the stored value, set again: the commit checks it still holds */
		err = tx_imply(t, key, len, 0, v.version);
		if (!err)
			err = tx_stage(t, OP_SET, key, len, v.enc, v.data, v.len, 0);
		if (!err)
			tx_set_expiry(t, key, len, at ? at : -1);
	}
	view_free(&v);
	return err;
}

/* ---- the view of a key inside a transaction (ctl->lock held) ---- */


void view_free(struct view *v)
{
	free(v->data);
	v->data = NULL;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

static void put_u64(uint8_t *p, uint64_t x)
{
	for (int i = 0; i < 8; i++, x >>= 8)
		p[i] = (uint8_t) x;
}

/* Does the view show anything under `key`? Called with ctl->lock held. */
int view_has_children(struct fs_data *fs, struct tx *t, const uint8_t *key,
                      size_t len, int *err)
{
	kv_iter *it = NULL;
	const kv_entry *e;
	int found = 0, rc;

	*err = 0;
	int64_t now = fs_now_ms();
	for (size_t k = 0; k < t->nops; k++)
		if (under(t->ops[k].key, t->ops[k].key_len, key, len) && op_shows(&t->ops[k], now))
			return 1;
	for (size_t k = 0; k < t->nmarks; k++)
		if (under(t->marks[k].key, t->marks[k].key_len, key, len))
			return 1;
	rc = kv_children(fs->db, key, len, NULL, 0, &it);
	while (rc == KV_OK && !found && (rc = kv_iter_next(it, &e)) == KV_OK) {
		struct view v;
		if ((*err = view_of(fs, t, e->key, e->key_len, &v)))
			break;
		found = v.value || v.dir;
		view_free(&v);
	}
	if (rc != KV_OK && rc != KV_DONE && !*err)
		*err = fs_errno(rc);
	kv_iter_free(it);
	return found;
}

/* `t` may be NULL: the key space as stored. 0 or an errno. */
int view_of(struct fs_data *fs, struct tx *t, const uint8_t *key, size_t len,
            struct view *v)
{
	kv_entry *e = NULL;
	int rc = kv_lookup(fs->db, key, len, &e);

	memset(v, 0, sizeof(*v));
	v->expires_at = -1;
	if (rc != KV_OK && rc != KV_NOTFOUND)
		return fs_errno(rc);
	if (e && (e->flags & KV_ENTRY_VALUE)) {
		v->value = v->stored = 1;
		v->version = e->version;
		v->expires_at = e->expires_at;
		v->enc = e->encoding;
		v->len = e->value_len;
		v->data = dup_bytes(e->value, e->value_len);
		if (!v->data) {
			kv_free(e);
			return ENOMEM;
		}
	}
	int stored_dir = len && e && (e->flags & KV_ENTRY_CHILDREN), deletes_under = 0;
	v->dir = !len || stored_dir;
	kv_free(e);
	int64_t now = fs_now_ms();
	for (size_t i = 0; t && i < t->nops; i++) {
		struct op *o = &t->ops[i];
		if (under(o->key, o->key_len, key, len) && op_shows(o, now))
			v->dir = 1, stored_dir = 0;
		else if (under(o->key, o->key_len, key, len))
			deletes_under = 1;
		if (!fs_key_equal(o->key, o->key_len, key, len))
			continue;
		/* T's sums store no expiry; its sets the one T gave them */
		v->expires_at = o->kind == OP_SET && o->expires_at ? o->expires_at : -1;
		if (o->kind == OP_SET || o->kind == OP_DELETE) {
			free(v->data);
			v->data = NULL;
			v->staged = 1;
			/* a set whose time-to-live ran out is gone, as it will be once stored */
			v->value = op_shows(o, now);
			if (!v->value)
				v->expires_at = -1;
			v->enc = o->enc;
			v->len = o->value_len;
			if (v->value && !(v->data = dup_bytes(o->value, o->value_len)))
				return ENOMEM;
			continue;
		}
		if (v->value && (v->enc != KV_ENCODING_U64 || v->len != 8))
			continue;       /* the commit will fail with KV_TYPE; show what is there */
		uint64_t cur = v->value ? get_u64(v->data) : o->operand, x = o->operand;
		if (v->value)
			cur = o->kind == OP_SUM ? cur + x : o->kind == OP_MIN ? (x < cur ? x : cur)
			                                                       : (x > cur ? x : cur);
		if (!v->value) {
			free(v->data);
			if (!(v->data = malloc(8)))
				return ENOMEM;
		}
		v->value = 1;
		v->enc = KV_ENCODING_U64;
		v->len = 8;
		put_u64(v->data, cur);
	}
	for (size_t i = 0; t && i < t->nmarks; i++) {
		struct mark *m = &t->marks[i];
		if (under(m->key, m->key_len, key, len) ||
		    (!m->file && fs_key_equal(m->key, m->key_len, key, len)))
			v->dir = 1, stored_dir = 0;
		else if (m->file && fs_key_equal(m->key, m->key_len, key, len) && !v->value) {
			v->empty = 1;
			v->expires_at = m->expires_at ? m->expires_at : -1;
		}
	}
	/*
	 * A stored prefix whose every key T deleted (`rm -r .tx/T/PREFIX`)
	 * shows as an empty directory, as rm expects to find it, until
	 * rmdir removes it; only then is the store read again.
	 */
	if (stored_dir && deletes_under) {
		int err;
		v->emptied = !view_has_children(fs, t, key, len, &err);
		if (err)
			return err;
		v->dir = !(v->emptied && is_gone(t, key, len));
	}
	/* a directory the key tree holds in memory (mkdir -p jobs/new) is one in T too */
	if (len && !v->dir && !v->value && !v->empty) {
		pthread_mutex_lock(&fs->lock);
		v->dir = fs_memdir_type(fs, key, len) == 'd';
		pthread_mutex_unlock(&fs->lock);
	}
	return 0;
}

/* ---- commit ---- */

/* One kv_atomic commit of T (ctl->lock held). 0 or an errno; `why` for the log. */
int tx_commit(struct fs_data *fs, struct tx *t, uint64_t *version, const char **why)
{
	kv_atomic *a = NULL;
	int rc;

	*why = "";
	if (t->failed) {
		*why = "the transaction exceeded a limit while staging";
		return t->failed;
	}
	rc = kv_atomic_begin(fs->db, &a);
	/* the implied checks go beyond Deno's 100, at most one per mutation */
	if (rc == KV_OK)
		rc = kv_atomic_allow_checks(a, KV_MAX_CHECKS + KV_MAX_MUTATIONS);
	for (size_t i = 0; rc == KV_OK && i < t->nchecks; i++) {
		struct check *k = &t->checks[i];
		if (k->implied && !replaces(t, k->key, k->key_len))
			continue;
		rc = kv_atomic_check(a, k->key, k->key_len, k->absent ? NULL : &k->version);
	}
	for (size_t i = 0; rc == KV_OK && i < t->nops; i++) {
		struct op *o = &t->ops[i];
		switch (o->kind) {
		case OP_SET: {
			int64_t in = -1;    /* the expiry T gave it, as a time to live from now */
			if (o->stored_expiry) {
				kv_entry *e = NULL;
				if (kv_get(fs->db, o->key, o->key_len, &e) == KV_OK)
					in = fs_expire_in(e->expires_at);
				kv_free(e);
			} else if (o->expires_at) {
				in = o->expires_at - fs_now_ms();
				in = in > 0 ? in : 1;
			}
			rc = kv_atomic_set(a, o->key, o->key_len, o->enc, o->value, o->value_len, in);
			break;
		}
		case OP_DELETE:
			rc = kv_atomic_delete(a, o->key, o->key_len);
			break;
		case OP_SUM:
			rc = kv_atomic_sum(a, o->key, o->key_len, o->operand);
			break;
		case OP_MIN:
			rc = kv_atomic_min(a, o->key, o->key_len, o->operand);
			break;
		case OP_MAX:
			rc = kv_atomic_max(a, o->key, o->key_len, o->operand);
			break;
		}
	}
	if (rc == KV_OK) {
		rc = kv_atomic_commit(a, version);
		a = NULL;
	}
	kv_atomic_abort(a);
	switch (rc) {
	case KV_OK:
		return 0;
	case KV_CONFLICT:
		*why = "a check failed: a key changed since it was read";
		return EAGAIN;
	case KV_TYPE:
		/* Not EINVAL: mv reports that as "a subdirectory of itself". */
		*why = "sum, min or max on a value that is not a KvU64";
		return EDOM;
	case KV_TOOBIG:
		*why = "the commit exceeds a limit of Deno KV";
		return E2BIG;
	case KV_TOOBIG_VALUE:
		*why = "a value is too large";
		return EFBIG;
	case KV_TOOBIG_KEY:
		*why = "a key is too long";
		return ENAMETOOLONG;
	default:
		/* the engine's message says it all; only without one, its code */
		*why = *kv_errmsg(fs->db) ? "" : kv_errstr(rc);
		return fs_errno(rc);
	}
}
