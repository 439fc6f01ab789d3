/*
 * fs_tx.c - the control trees: transactions (.tx, .commit) and the
 * directories of .watch, and their op table (fs_ctl_ops, at the end).
 * The transaction model these operations drive (staging, checks, views,
 * the commit) is in fs_txn.c; what both share, in fs_ctl.h.
 *
 * Design
 *
 * The root holds three control entries that open by name and are never
 * listed: `.tx`, `.commit` and `.watch`. Everything below them lives in
 * this file's own small inode table, with numbers from FS_CTL_INO up, so
 * the router (fs_route.c) can tell at once whether a request belongs to
 * the key tree (fs_key_ops in fs_ops.c) or to a control tree, without
 * touching the key tree's table. Files open with direct_io: what they
 * show depends on staged changes and commits, and the kernel must never
 * serve an old copy. Names below the top of a transaction get the mount's
 * timeout and readdirplus answers the lookups of a listing there; their
 * attributes, T itself, results and .watch get timeouts of 0
 * (node_timeout says why). The three never change and get the
 * mount's timeouts.
 *
 * A transaction is `mkdir .tx/T`. It lives in memory only: an ordered
 * list of staged mutations (set, delete, sum, min, max; a set or delete of
 * a key replaces the previous set or delete of that key), a list of checks
 * and a few marks (directories made and files created empty inside T).
 * Inside `.tx/T` every lookup, listing and read computes the view: the
 * stored entry with T's mutations of that key applied in order, and the
 * prefixes under which T stages a value shown as directories. Opening a
 * file for reading records a check on the version it read (absent when it
 * read nothing), unless T itself set or deleted that key, since then the
 * read did not depend on the store; the first check of a key is kept, an
 * explicit `user.kv.check` replaces it.
 *
 * Memory is bounded by Deno's own limits: KV_MAX_MUTATIONS staged
 * mutations, KV_MAX_CHECKS checks, KV_MAX_COMMIT_BYTES of keys and values.
 * The step that would exceed one fails with E2BIG and poisons T: it can no
 * longer be committed (the commit fails with E2BIG, nothing is stored) and
 * is kept for inspection until `rm -rf` or `rmdir` aborts it. This is what
 * makes "1001 sets" fail as a whole instead of silently storing 1000.
 *
 * Removing T. `rmdir .tx/T` and `rm -rf .tx/T` abort T whatever it holds
 * (staged changes, a poisoned T): nothing of it is stored and the name is
 * free again. So that `rm -rf` gets there on a key space of any size, the
 * top of T lists nothing; every key still opens by name inside T and every
 * prefix below the top lists its view. The reason is how rm works: it
 * reads a directory, removes its entries depth first, removes the
 * directory last, and never tries a directory once it failed to remove
 * something inside it. If T's top listed the key space, `rm -rf .tx/T`
 * would stage a delete per key, and the delete that crosses 1000
 * mutations has to fail with E2BIG, because `rm -rf .tx/T/PREFIX` (the way
 * to delete a subtree atomically) must report that it cannot be done; rm
 * would then never reach T. Below the top, the calls of the two commands
 * are the same, so only what T's top lists can tell them apart. An
 * empty-looking T also makes `rmdir .tx/T` an ordinary rmdir.
 *
 * `mv .tx/T .commit/T` is one kv_atomic commit: checks first, then the
 * mutations in order. On success T leaves .tx and `.commit/T` reads
 * {"ok":true,"versionstamp":"..."}; the last RESULTS_MAX results are kept
 * (until unmount), and `mkdir .tx/T` forgets an old result named T so the
 * next `mv` onto that name is not refused by the kernel. A failed check is
 * EAGAIN, a limit E2BIG (EFBIG for a value, ENAMETOOLONG for a key), a
 * sum/min/max on a value that is not a KvU64 EDOM (not EINVAL, which mv
 * reports as "cannot move to a subdirectory of itself"); every refusal
 * leaves T in .tx and logs one line. Transactions of a mount that ends are
 * dropped with it.
 *
 * One mutex (ctl->lock) guards the table, the transactions and the
 * results; views and commits run under it, so transactions are serialized
 * against each other (never against the key tree). It is never held
 * across a FUSE reply or notify call.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fs.h"
#include "fs_ctl.h"

#define INO_TXS      (FS_CTL_INO + 1)   /* .tx */
#define INO_RESULTS  (FS_CTL_INO + 2)   /* .commit */
#define INO_WATCH    (FS_CTL_INO + 3)   /* .watch */

#define X_CHECK  "user.kv.check"
#define X_SUM    "user.kv.sum"
#define X_MIN    "user.kv.min"
#define X_MAX    "user.kv.max"
#define X_KEY    "user.kv.key"
#define X_STAMP  "user.kv.versionstamp"
#define X_IN     "user.kv.expire_in"
#define X_AT     "user.kv.expires_at"

static struct fs_data *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int is_ctl(fuse_ino_t ino)
{
	return ino >= FS_CTL_INO;
}

/* ---- the inode table (ctl->lock held) ---- */

static size_t hash_id(enum node_type type, uint64_t tx, const uint8_t *key,
                      size_t len, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ ((uint64_t) type << 32) ^ tx;
	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	if (name)
		for (const char *p = name; *p; p++)
			h = (h ^ (uint8_t) *p) * 1099511628211ULL;
	return (size_t) (h % NBUCKETS);
}

static struct node *node_get(struct fs_ctl *c, fuse_ino_t ino)
{
	for (struct node *n = c->by_ino[ino % NBUCKETS]; n; n = n->next_ino)
		if (n->ino == ino)
			return n;
	return NULL;
}

static struct node *node_ref(struct fs_ctl *c, enum node_type type, uint64_t tx,
                             const uint8_t *key, size_t len, const char *name)
{
	size_t b = hash_id(type, tx, key, len, name);
	struct node *n;

	for (n = c->by_id[b]; n; n = n->next_id)
		if (n->type == type && n->tx == tx && fs_key_equal(n->key, n->key_len, key, len) &&
		    (!name || strcmp(n->name, name) == 0) && !n->removed)
			goto found;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->key = dup_bytes(key, len);
	n->name = name ? strdup(name) : NULL;
	if (!n->key || (name && !n->name)) {
		free(n->key);
		free(n->name);
		free(n);
		return NULL;
	}
	n->key_len = len;
	n->type = type;
	n->tx = tx;
	n->ino = c->next_ino++;
	n->next_id = c->by_id[b];
	c->by_id[b] = n;
	n->next_ino = c->by_ino[n->ino % NBUCKETS];
	c->by_ino[n->ino % NBUCKETS] = n;
found:
	n->nlookup++;
	return n;
}

/*
 * The file `key` of transaction `tx` was removed: a later lookup makes a
 * new node, and handles still open on this one stage nothing, as on any
 * file system (the name no longer leads to what they write).
 */
static void node_remove(struct fs_ctl *c, uint64_t tx, const uint8_t *key, size_t len)
{
	for (struct node *n = c->by_id[hash_id(N_TXFILE, tx, key, len, NULL)]; n; n = n->next_id)
		if (n->type == N_TXFILE && n->tx == tx && fs_key_equal(n->key, n->key_len, key, len))
			n->removed = 1;
}

/*
 * T moved `from` to `to`: its nodes at or under `from` follow, as the
 * kernel's names of them do; those at `to` (an empty directory replaced)
 * lead nowhere now. 0 or ENOMEM (a node left under its old key).
 */
static int node_move(struct fs_ctl *c, uint64_t tx, const uint8_t *from, size_t from_len,
                     const uint8_t *to, size_t to_len)
{
	struct node *moved = NULL;
	int err = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (struct node **pp = &c->by_id[b]; *pp;) {
			struct node *n = *pp;
			int mine = (n->type == N_TXDIR || n->type == N_TXFILE) && n->tx == tx &&
			           !n->removed;
			if (mine && (fs_key_equal(n->key, n->key_len, to, to_len) ||
			             under(n->key, n->key_len, to, to_len)))
				n->removed = 1;
			if (!mine || !(fs_key_equal(n->key, n->key_len, from, from_len) ||
			               under(n->key, n->key_len, from, from_len))) {
				pp = &n->next_id;
				continue;
			}
			*pp = n->next_id;       /* its bucket follows its key */
			n->next_id = moved;
			moved = n;
		}
	while (moved) {
		struct node *n = moved;
		size_t len = to_len + n->key_len - from_len;
		uint8_t *k = malloc(len + 1);
		moved = n->next_id;
		if (k) {
			memcpy(k, to, to_len);
			memcpy(k + to_len, n->key + from_len, n->key_len - from_len);
			free(n->key);
			n->key = k;
			n->key_len = len;
		} else {
			err = ENOMEM;
		}
		size_t b = hash_id(n->type, n->tx, n->key, n->key_len, n->name);
		n->next_id = c->by_id[b];
		c->by_id[b] = n;
	}
	return err;
}

static void node_drop_if_unused(struct fs_ctl *c, struct node *n)
{
	if (n->nlookup || n->opens || n->ino <= INO_WATCH)
		return;
	struct node **pp;
	for (pp = &c->by_ino[n->ino % NBUCKETS]; *pp; pp = &(*pp)->next_ino)
		if (*pp == n) {
			*pp = n->next_ino;
			break;
		}
	for (pp = &c->by_id[hash_id(n->type, n->tx, n->key, n->key_len, n->name)]; *pp;
	     pp = &(*pp)->next_id)
		if (*pp == n) {
			*pp = n->next_id;
			break;
		}
	free(n->key);
	free(n->name);
	free(n);
}

static void node_forget(struct fs_ctl *c, fuse_ino_t ino, uint64_t nlookup)
{
	pthread_mutex_lock(&c->lock);
	struct node *n = node_get(c, ino);
	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		node_drop_if_unused(c, n);
	}
	pthread_mutex_unlock(&c->lock);
}

/* A copy of a node's fields, for use without the lock. */
struct nodeinfo {
	enum node_type type;
	uint64_t tx;
	uint8_t *key;
	size_t key_len;
	char *name;
};

static void info_free(struct nodeinfo *i)
{
	free(i->key);
	free(i->name);
	i->key = NULL;
	i->name = NULL;
}

static int node_info(struct fs_ctl *c, fuse_ino_t ino, struct nodeinfo *i)
{
	int err = 0;

	memset(i, 0, sizeof(*i));
	pthread_mutex_lock(&c->lock);
	struct node *n = node_get(c, ino);
	if (!n) {
		err = ENOENT;
	} else {
		i->type = n->type;
		i->tx = n->tx;
		i->key = dup_bytes(n->key, n->key_len);
		i->key_len = n->key_len;
		i->name = n->name ? strdup(n->name) : NULL;
		if (!i->key || (n->name && !i->name))
			err = ENOMEM;
	}
	pthread_mutex_unlock(&c->lock);
	if (err)
		info_free(i);
	return err;
}

static void node_open(struct fs_ctl *c, fuse_ino_t ino, int delta)
{
	pthread_mutex_lock(&c->lock);
	struct node *n = node_get(c, ino);
	if (n) {
		if (delta > 0)
			n->opens++;
		else if (n->opens)
			n->opens--;
		node_drop_if_unused(c, n);
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- attributes ---- */

static void attr_of(struct fs_data *fs, struct stat *st, mode_t mode, off_t size,
                    uint64_t version)
{
	/*
	 * Shared with other users (allow_other), transactions are the mounting
	 * user's alone: another user's read inside T would see what T staged
	 * and add checks to it. .tx and .commit are 0700; .watch stays open,
	 * as the key tree is.
	 */
	if (fs->opt.shared && (mode & 0777) == 0755)
		mode = (mode & ~(mode_t) 0777) | 0700;
	else if (fs->opt.shared && (mode & 0777) == 0644)
		mode = (mode & ~(mode_t) 0777) | 0600;
	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_size = S_ISDIR(mode) ? 4096 : size;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = fs->start;
	if (version) {
		fs_version_time(version, &st->st_mtim);
		st->st_ctim = st->st_mtim;
	}
}

static void view_attr(struct fs_data *fs, const struct view *v, struct stat *st)
{
	char *text = NULL;
	size_t len = 0;

	if (v->dir) {
		attr_of(fs, st, S_IFDIR | 0755, 0, 0);
		return;
	}
	if (v->value && fs_value_text(v->enc, v->data, v->len, &text, &len) != 0)
		len = 0;
	free(text);
	attr_of(fs, st, S_IFREG | 0644, (off_t) len, v->staged ? 0 : v->version);
}

/* Attributes of a node; 0 or an errno. Takes ctl->lock. */
static int node_attr(struct fs_data *fs, fuse_ino_t ino, const struct nodeinfo *i,
                     struct stat *st)
{
	struct fs_ctl *c = fs->ctl;
	struct view v;
	int err = 0;

	switch (i->type) {
	case N_TXS:
	case N_RESULTS:
		attr_of(fs, st, S_IFDIR | 0755, 0, 0);
		break;
	case N_WDIR:
		attr_of(fs, st, S_IFDIR | 0555, 0, 0);
		break;
	case N_WKEY:
	case N_WALL:
		attr_of(fs, st, S_IFREG | 0444, 0, 0);
		break;
	case N_RESULT:
		pthread_mutex_lock(&c->lock);
		struct result *r = c->results;
		while (r && strcmp(r->name, i->name) != 0)
			r = r->next;
		if (r)
			attr_of(fs, st, S_IFREG | 0444, (off_t) strlen(r->text), 0);
		else
			err = ENOENT;
		pthread_mutex_unlock(&c->lock);
		break;
	case N_TXDIR:
	case N_TXFILE:
		pthread_mutex_lock(&c->lock);
		struct tx *t = tx_by_id(c, i->tx);
		struct node *n = node_get(c, ino);
		if (!t) {
			err = ENOENT;
		} else if (!(err = view_of(fs, t, i->key, i->key_len, &v))) {
			if (i->type == N_TXDIR)
				v.dir = 1;     /* the node was a directory when looked up */
			else
				v.dir = 0;
			if (i->type == N_TXFILE && !v.value && !v.empty && !(n && n->opens))
				err = ENOENT;
			else
				view_attr(fs, &v, st);
			view_free(&v);
		}
		pthread_mutex_unlock(&c->lock);
		break;
	}
	if (!err)
		st->st_ino = ino;
	return err;
}

/*
 * How long the kernel may keep a control entry's name. Names below the top
 * of a transaction change only through T's own operations, which the
 * kernel sees, and through other writers, which show within the mount's
 * timeout as in the key tree: they get the mount's timeout. Attributes
 * there follow every write to the key outside T too, so they are never
 * kept (a getattr per stat, but no lookup). T itself becomes a result when
 * committed, a result is replaced by the next commit of its name, and what
 * .watch shows follows the key space: those are never kept either.
 */
static double node_timeout(const struct fs_data *fs, enum node_type type, size_t key_len)
{
	return type == N_TXFILE || (type == N_TXDIR && key_len) ? fs->opt.timeout : 0;
}

static void reply_node(fuse_req_t req, struct fs_data *fs, enum node_type type,
                       uint64_t tx, const uint8_t *key, size_t len, const char *name,
                       struct stat *st)
{
	struct fs_ctl *c = fs->ctl;

	pthread_mutex_lock(&c->lock);
	struct node *n = node_ref(c, type, tx, key, len, name);
	fuse_ino_t ino = n ? n->ino : 0;
	pthread_mutex_unlock(&c->lock);
	if (!ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct fuse_entry_param ep = { .ino = ino, .attr = *st,
	                               .entry_timeout = node_timeout(fs, type, len) };
	ep.attr.st_ino = ino;
	if (fuse_reply_entry(req, &ep) != 0)
		node_forget(c, ino, 1);
}

static void log_tx(struct fs_data *fs, const char *what, const char *tx,
                   const uint8_t *key, size_t len, const char *name, const char *reason)
{
	char top[300];
	snprintf(top, sizeof(top), ".tx/%s", tx ? tx : "?");
	fs_log_refusal(fs, what, top, key, len, name, reason);
}

static const char *tx_name(struct fs_ctl *c, uint64_t id)
{
	struct tx *t = tx_by_id(c, id);
	return t ? t->name : "?";
}

/*
 * The path of `name` in control directory `i`, or of node `i` itself when
 * `name` is NULL, as the user wrote it: ".tx/T/a/b", ".commit/T",
 * ".watch/a/.all" (heap; NULL when out of memory). Takes ctl->lock.
 */
static char *node_path(struct fs_data *fs, const struct nodeinfo *i, const char *name)
{
	char top[300] = "";
	const char *leaf = name;

	switch (i->type) {
	case N_TXS:
		snprintf(top, sizeof(top), ".tx");
		break;
	case N_RESULTS:
		snprintf(top, sizeof(top), ".commit");
		break;
	case N_RESULT:
		snprintf(top, sizeof(top), ".commit/%s", i->name ? i->name : "?");
		break;
	case N_TXDIR:
	case N_TXFILE:
		pthread_mutex_lock(&fs->ctl->lock);
		snprintf(top, sizeof(top), ".tx/%s", tx_name(fs->ctl, i->tx));
		pthread_mutex_unlock(&fs->ctl->lock);
		break;
	case N_WALL:
		leaf = ".all";
		/* fall through */
	case N_WDIR:
	case N_WKEY:
		snprintf(top, sizeof(top), ".watch");
		break;
	}
	int keyed = i->type != N_TXS && i->type != N_RESULTS && i->type != N_RESULT;
	char *rest = fs_path(i->key, keyed ? i->key_len : 0, leaf);
	if (!rest)
		return NULL;
	size_t n = strlen(top) + strlen(rest) + 2;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s%s%s", top, *rest ? "/" : "", rest);
	free(rest);
	return out;
}

/* The path of `name` in directory `dir` of either tree (heap, or NULL). */
static char *any_path(struct fs_data *fs, fuse_ino_t dir, const char *name)
{
	struct nodeinfo i;
	char *path = NULL;

	if (!is_ctl(dir))
		return tree_inode_path(fs, dir, name);
	if (node_info(fs->ctl, dir, &i) == 0) {
		path = node_path(fs, &i, name);
		info_free(&i);
	}
	return path;
}

/* "cannot WHAT 'PATH': REASON"; `path` is freed, `reason` read before it was made. */
static void log_path(struct fs_data *fs, const char *what, char *path, const char *name,
                     const char *why)
{
	fs_log(fs, "cannot %s '%s': %s", what, path ? path : name ? name : "?", why);
	free(path);
}

/* A refusal for `name` under node `i` (or `i` itself); takes ctl->lock. */
static void log_node(struct fs_data *fs, const struct nodeinfo *i, const char *what,
                     const char *name, const char *reason)
{
	char why[512];
	snprintf(why, sizeof(why), "%s", reason);
	log_path(fs, what, node_path(fs, i, name), name, why);
}

/* Why nothing is made, written or removed in a control directory but a transaction's. */
static const char *why_fixed(enum node_type type)
{
	switch (type) {
	case N_TXS:
		return "a transaction begins with mkdir .tx/T";
	case N_RESULTS:
	case N_RESULT:
		return "commit results come from mv .tx/T .commit/T and are read-only";
	default:
		return "watch files follow the key space and are read-only";
	}
}

/* A refusal for `name` in directory `dir` of either tree (or `dir` itself). */
static void log_ctl(struct fs_data *fs, const char *what, fuse_ino_t dir, const char *name,
                    const char *reason)
{
	char why[512];
	snprintf(why, sizeof(why), "%s", reason);
	log_path(fs, what, any_path(fs, dir, name), name, why);
}

/* Key of `name` inside directory key `dir` (heap). 0 or an errno. */
static int child_key(const uint8_t *dir, size_t dir_len, const char *name, int creating,
                     uint8_t **key, size_t *len)
{
	uint8_t *part = NULL;
	size_t plen;
	int rc = kv_name_to_part(name, strlen(name), &part, &plen);

	if (rc != KV_OK)
		return rc == KV_NOMEM ? ENOMEM : creating ? EINVAL : ENOENT;
	*len = dir_len + plen;
	if (*len > KV_MAX_KEY_WRITE) {
		kv_free(part);
		return ENAMETOOLONG;
	}
	*key = malloc(*len);
	if (!*key) {
		kv_free(part);
		return ENOMEM;
	}
	memcpy(*key, dir, dir_len);
	memcpy(*key + dir_len, part, plen);
	kv_free(part);
	return 0;
}

/* ---- lookup ---- */

static void ctl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	struct stat st;
	struct view v;
	uint8_t *key = NULL;
	size_t len = 0;
	int err;

	if (parent == FUSE_ROOT_ID) {
		fuse_ino_t ino = strcmp(name, ".tx") == 0 ? INO_TXS
		               : strcmp(name, ".commit") == 0 ? INO_RESULTS : INO_WATCH;
		attr_of(fs, &st, S_IFDIR | (ino == INO_WATCH ? 0555 : 0755), 0, 0);
		pthread_mutex_lock(&c->lock);
		node_get(c, ino)->nlookup++;
		pthread_mutex_unlock(&c->lock);
		/*
		 * The three are fixed: only what is below them changes, so the
		 * kernel may keep these names and attributes, as it keeps the
		 * key tree's, and a path below them costs one lookup less.
		 */
		struct fuse_entry_param ep = { .ino = ino, .attr = st,
		                               .entry_timeout = fs->opt.timeout,
		                               .attr_timeout = fs->opt.timeout };
		ep.attr.st_ino = ino;
		fuse_reply_entry(req, &ep);
		return;
	}
	if ((err = node_info(c, parent, &i))) {
		fuse_reply_err(req, err);
		return;
	}
	switch (i.type) {
	case N_TXS:
		pthread_mutex_lock(&c->lock);
		struct tx *t = tx_by_name(c, name);
		uint64_t id = t ? t->id : 0;
		pthread_mutex_unlock(&c->lock);
		if (!id) {
			err = ENOENT;
			break;
		}
		attr_of(fs, &st, S_IFDIR | 0755, 0, 0);
		reply_node(req, fs, N_TXDIR, id, NULL, 0, NULL, &st);
		break;
	case N_RESULTS: {
		size_t n = 0;
		pthread_mutex_lock(&c->lock);
		struct result *r = c->results;
		while (r && strcmp(r->name, name) != 0)
			r = r->next;
		if (r)
			n = strlen(r->text);
		pthread_mutex_unlock(&c->lock);
		if (!r) {
			err = ENOENT;
			break;
		}
		attr_of(fs, &st, S_IFREG | 0444, (off_t) n, 0);
		reply_node(req, fs, N_RESULT, 0, NULL, 0, name, &st);
		break;
	}
	case N_TXDIR:
		if (name[0] == '.' && !(strcmp(name, ".value") == 0 && i.key_len)) {
			err = ENOENT;
			break;
		}
		int value = name[0] == '.';
		if (value) {
			key = dup_bytes(i.key, i.key_len);
			len = i.key_len;
			err = key ? 0 : ENOMEM;
		} else {
			err = child_key(i.key, i.key_len, name, 0, &key, &len);
		}
		if (err)
			break;
		pthread_mutex_lock(&c->lock);
		t = tx_by_id(c, i.tx);
		err = t ? view_of(fs, t, key, len, &v) : ENOENT;
		/*
		 * Seen absent: should T write it (cat k || echo ... > k), the
		 * commit checks that it still is. Past TX_MAX_IMPLIED such
		 * lookups, memory stays bounded: T records no more of them, and
		 * a new key it writes is checked to be absent from then on.
		 */
		if (!err && (value || !v.dir) && !v.value && !v.empty && !v.staged && !v.stored &&
		    t->nimplied < TX_MAX_IMPLIED)
			err = tx_imply(t, key, len, 1, 0) == ENOMEM ? ENOMEM : 0;
		pthread_mutex_unlock(&c->lock);
		if (err)
			break;
		if (value)
			v.dir = 0;
		if (v.dir) {
			view_attr(fs, &v, &st);
			reply_node(req, fs, N_TXDIR, i.tx, key, len, NULL, &st);
		} else if (v.value || v.empty) {
			view_attr(fs, &v, &st);
			reply_node(req, fs, N_TXFILE, i.tx, key, len, NULL, &st);
		} else {
			err = ENOENT;
		}
		view_free(&v);
		break;
	case N_WDIR:
		if (strcmp(name, ".all") == 0) {
			attr_of(fs, &st, S_IFREG | 0444, 0, 0);
			reply_node(req, fs, N_WALL, 0, i.key, i.key_len, NULL, &st);
			break;
		}
		if (strcmp(name, ".value") == 0 && i.key_len) {
			attr_of(fs, &st, S_IFREG | 0444, 0, 0);
			reply_node(req, fs, N_WKEY, 0, i.key, i.key_len, NULL, &st);
			break;
		}
		if (name[0] == '.') {
			err = ENOENT;
			break;
		}
		if ((err = child_key(i.key, i.key_len, name, 0, &key, &len)))
			break;
		kv_entry *e = NULL;
		int rc = kv_lookup(fs->db, key, len, &e);
		int dir = rc == KV_OK && (e->flags & KV_ENTRY_CHILDREN);
		kv_free(e);
		if (rc != KV_OK && rc != KV_NOTFOUND) {
			err = fs_errno(rc);
			break;
		}
		/* a directory made by mkdir: watch keys below it before any exists */
		pthread_mutex_lock(&fs->lock);
		dir = dir || fs_memdir_type(fs, key, len) == 'd';
		pthread_mutex_unlock(&fs->lock);
		/* An absent key is a file too: watching it waits for its first value. */
		attr_of(fs, &st, dir ? S_IFDIR | 0555 : S_IFREG | 0444, 0, 0);
		reply_node(req, fs, dir ? N_WDIR : N_WKEY, 0, key, len, NULL, &st);
		break;
	default:
		err = ENOTDIR;
	}
	if (err)
		fuse_reply_err(req, err);
	free(key);
	info_free(&i);
}

static void ctl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct nodeinfo i;
	struct stat st;
	int err = node_info(fs->ctl, ino, &i);

	if (!err)
		err = node_attr(fs, ino, &i, &st);
	if (!err && (i.type == N_WKEY || i.type == N_WALL))
		fs_watch_size(fs, fi, i.key, i.key_len, i.type == N_WALL, &st);
	info_free(&i);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, 0);
}

/* ---- file handles: transaction files and commit results ---- */

struct ctl_handle {
	enum node_type type;
	fuse_ino_t ino;
	uint64_t tx;
	uint8_t *key;
	size_t key_len;
	pthread_mutex_t lock;   /* the fields below (dup, fork) */
	int writable;
	int closed;             /* its opener closed it, and has not written through it since */
	int holds;              /* it holds T's commit (under ctl->lock: handle_track) */
	int linked;             /* in ctl->handles */
	struct ctl_handle *prev, *next;   /* ctl->handles, under ctl->lock */
	char *txname;           /* T's name at the open, for logs once T is gone */
	pid_t opener;           /* stages at its close (fs_flush_is_ours) */
	struct fs_text text;    /* what the file shows, or is being written (staged at flush) */
};

/*
 * Whether h holds T's commit (which is EBUSY while a file is being
 * written: it would store part of a value, or none), after it opened,
 * wrote, staged or closed; h->lock held. A handle holds T from its open
 * until its opener closes it (its value is staged then: the kernel's
 * RELEASE, which frees it, comes only after close() returned), and again
 * from a later write through a copy of its descriptor. A text already
 * refused, or of a file removed inside T, can never be staged and does not
 * hold T. ENOENT when T is gone (committed or aborted): what h writes can
 * land nowhere.
 */
static int handle_track(struct fs_ctl *c, struct ctl_handle *h)
{
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, h->tx);
	struct node *n = node_get(c, h->ino);
	h->holds = t && h->writable && !h->closed && !h->text.failed && n && !n->removed;
	pthread_mutex_unlock(&c->lock);
	return t ? 0 : ENOENT;
}

/* Whether a file of T is open for writing and may still stage (ctl->lock held). */
static int tx_writing(struct fs_ctl *c, const struct tx *t)
{
	for (struct ctl_handle *h = c->handles; h; h = h->next) {
		struct node *n = h->holds && h->tx == t->id ? node_get(c, h->ino) : NULL;
		if (n && !n->removed)
			return 1;
	}
	return 0;
}

static void handle_link(struct fs_ctl *c, struct ctl_handle *h)
{
	pthread_mutex_lock(&c->lock);
	h->prev = NULL;
	h->next = c->handles;
	if (c->handles)
		c->handles->prev = h;
	c->handles = h;
	h->linked = 1;
	pthread_mutex_unlock(&c->lock);
}

static void handle_free(struct fs_ctl *c, struct ctl_handle *h)
{
	if (!h)
		return;
	if (h->linked) {
		pthread_mutex_lock(&c->lock);
		if (h->prev)
			h->prev->next = h->next;
		else
			c->handles = h->next;
		if (h->next)
			h->next->prev = h->prev;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_destroy(&h->lock);
	fs_text_free(&h->text);
	free(h->key);
	free(h->txname);
	free(h);
}

/* A handle closed: it holds its T no longer. */
static void handle_close(struct fs_ctl *c, struct ctl_handle *h)
{
	if (h && h->type == N_TXFILE) {
		h->writable = 0;
		handle_track(c, h);
	}
	handle_free(c, h);
}

static int open_txfile(struct fs_data *fs, const struct nodeinfo *i, struct fuse_file_info *fi,
                       int created, struct ctl_handle *h)
{
	struct fs_ctl *c = fs->ctl;
	int acc = fi->flags & O_ACCMODE, err = 0;
	struct view v = { 0 };

	h->writable = acc != O_RDONLY;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i->tx);
	if (!t) {
		err = ENOENT;
		goto out;
	}
	if ((err = view_of(fs, t, h->key, h->key_len, &v)))
		goto out;
	if (h->writable && t->failed) {
		err = t->failed;
		log_tx(fs, "write", t->name, h->key, h->key_len, NULL,
		       "the transaction already exceeded a limit");
		goto out;
	}
	/* the set this handle will stage costs a mutation and its key at least */
	const char *why;
	if (h->writable && (err = tx_fits(t, OP_SET, h->key, h->key_len, 0, &why))) {
		log_tx(fs, "write", t->name, h->key, h->key_len, NULL, why);
		goto out;
	}
	if (!v.value && !v.empty && !created && !h->writable) {
		err = ENOENT;
		goto out;
	}
	if (acc != O_WRONLY && !created && !v.staged) {
		/* A read inside T: the commit checks that what was read still holds. */
		const char *over = tx_check_over(t, h->key_len);
		err = tx_check(t, h->key, h->key_len, !v.stored, v.version, 0);
		if (err) {
			log_tx(fs, "read", t->name, h->key, h->key_len, NULL,
			       err == E2BIG && over ? over : "cannot record a check");
			goto out;
		}
	}
	if (v.value && !created && !(h->writable && (fi->flags & O_TRUNC))) {
		err = fs_value_text(v.enc, v.data, v.len, &h->text.buf, &h->text.len);
		h->text.cap = h->text.len;
	}
out:
	pthread_mutex_unlock(&c->lock);
	view_free(&v);
	return err;
}

static int open_node(struct fs_data *fs, fuse_ino_t ino, struct fuse_file_info *fi,
                     int created, struct ctl_handle **out)
{
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	int err = node_info(c, ino, &i);
	struct ctl_handle *h = NULL;

	*out = NULL;
	if (err)
		return err;
	fi->direct_io = 1;
	if (i.type == N_WKEY || i.type == N_WALL) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			err = EACCES;
			log_ctl(fs, "write", ino, NULL, why_fixed(i.type));
		} else
			err = fs_watch_open(fs, i.key, i.key_len, i.type == N_WALL, fi);
		if (!err)
			node_open(c, ino, 1);
		info_free(&i);
		return err;
	}
	if (i.type != N_TXFILE && i.type != N_RESULT) {
		info_free(&i);
		return EISDIR;
	}
	if (!(h = calloc(1, sizeof(*h)))) {
		info_free(&i);
		return ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->type = i.type;
	h->ino = ino;
	h->tx = i.tx;
	h->key = i.key;
	h->key_len = i.key_len;
	i.key = NULL;
	if (i.type == N_RESULT) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			err = EACCES;
			log_ctl(fs, "write", ino, NULL, why_fixed(i.type));
		} else {
			pthread_mutex_lock(&c->lock);
			struct result *r = c->results;
			while (r && strcmp(r->name, i.name) != 0)
				r = r->next;
			if (!r)
				err = ENOENT;
			else if (!(h->text.buf = strdup(r->text)))
				err = ENOMEM;
			else
				h->text.len = h->text.cap = strlen(h->text.buf);
			pthread_mutex_unlock(&c->lock);
		}
	} else {
		err = open_txfile(fs, &i, fi, created, h);
	}
	info_free(&i);
	if (err) {
		handle_free(c, h);
		return err;
	}
	node_open(c, ino, 1);
	if (h->type == N_TXFILE) {
		handle_link(c, h);
		handle_track(c, h);     /* a handle open for writing holds T's commit */
		pthread_mutex_lock(&c->lock);
		h->txname = strdup(tx_name(c, h->tx));
		pthread_mutex_unlock(&c->lock);
	}
	*out = h;
	return 0;
}

static void ctl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct ctl_handle *h = NULL;
	int err = open_node(fs, ino, fi, 0, &h);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (h) {
		h->opener = fuse_req_ctx(req)->pid;
		fi->fh = (uintptr_t) h;
	}
	if (fuse_reply_open(req, fi) != 0 && h) {
		node_open(fs->ctl, ino, -1);
		handle_close(fs->ctl, h);
	}
}

static int is_watch_node(struct fs_data *fs, fuse_ino_t ino)
{
	struct fs_ctl *c = fs->ctl;
	pthread_mutex_lock(&c->lock);
	struct node *n = node_get(c, ino);
	int w = n && (n->type == N_WKEY || n->type == N_WALL);
	pthread_mutex_unlock(&c->lock);
	return w;
}

static void ctl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);

	if (is_watch_node(fs, ino)) {
		fs_watch_read(req, size, off, fi);
		return;
	}
	struct ctl_handle *h = (struct ctl_handle *) (uintptr_t) fi->fh;
	pthread_mutex_lock(&h->lock);
	const char *p;
	size_t n = fs_text_read(&h->text, size, off, &p);
	fuse_reply_buf(req, p, n);
	pthread_mutex_unlock(&h->lock);
}

static void handle_log(struct fs_data *fs, struct ctl_handle *h, const char *reason)
{
	struct fs_ctl *c = fs->ctl;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, h->tx);
	char *name = strdup(t ? t->name : h->txname ? h->txname : "?");
	pthread_mutex_unlock(&c->lock);
	log_tx(fs, "stage", name, h->key, h->key_len, NULL, reason);
	free(name);
}

static void ctl_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
                      off_t off, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct ctl_handle *h = (struct ctl_handle *) (uintptr_t) fi->fh;
	int err = 0;

	(void) ino;
	if (!h || h->type != N_TXFILE || !h->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->lock);
	int refused = h->text.failed;
	const char *over = NULL;
	size_t vlen;
	h->closed = 0;
	err = fs_text_write(&h->text, buf, size, off, fi->flags & O_APPEND);
	if (!err && fs_text_judged(&h->text, &vlen)) {
		/* a whole value: the write that takes T past a limit fails, not the close */
		pthread_mutex_lock(&fs->ctl->lock);
		struct tx *t = tx_by_id(fs->ctl, h->tx);
		if (t && (err = tx_fits(t, OP_SET, h->key, h->key_len, vlen, &over)))
			fs_text_refuse(&h->text, err);
		pthread_mutex_unlock(&fs->ctl->lock);
	}
	int gone = handle_track(fs->ctl, h);
	pthread_mutex_unlock(&h->lock);
	if (!refused && (err == EINVAL || err == EFBIG))
		handle_log(fs, h, h->text.why);
	else if (over)
		handle_log(fs, h, over);
	if (gone && !err) {
		err = gone;
		handle_log(fs, h, "the transaction is gone (committed or aborted)");
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

/* Stage what a handle wrote as one set. Called with h->lock held. */
static int stage_text(struct fs_data *fs, struct ctl_handle *h)
{
	struct fs_ctl *c = fs->ctl;
	uint8_t *value = NULL;
	size_t value_len = 0;
	int enc = 0, err;
	char why[300];

	if (h->type != N_TXFILE || !h->text.written)
		return 0;
	pthread_mutex_lock(&c->lock);
	struct node *n = node_get(c, h->ino);
	int removed = !n || n->removed;
	/* renamed while open: the handle writes the file under its new name */
	if (!removed && !fs_key_equal(n->key, n->key_len, h->key, h->key_len)) {
		uint8_t *k = dup_bytes(n->key, n->key_len);
		if (!k) {
			pthread_mutex_unlock(&c->lock);
			return ENOMEM;
		}
		free(h->key);
		h->key = k;
		h->key_len = n->key_len;
	}
	pthread_mutex_unlock(&c->lock);
	if (removed) {
		h->text.written = 0;
		handle_log(fs, h, "removed while open; what was written is dropped");
		return 0;
	}
	err = fs_text_flush(&h->text, &enc, &value, &value_len, why, sizeof(why));
	if (err && why[0])
		handle_log(fs, h, why);
	if (err || !value)
		return err;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, h->tx);
	err = t ? tx_write(fs, t, h->key, h->key_len, enc, value, value_len) : ENOENT;
	const char *over = err == E2BIG ? tx_over(t) : NULL;
	pthread_mutex_unlock(&c->lock);
	kv_free(value);
	/* the view shows the staged value as kvfs writes it, maybe not as written */
	fs_notify_inode(fs, h->ino);
	if (err == E2BIG)
		handle_log(fs, h, over);
	else if (err == ENOENT)
		handle_log(fs, h, "the transaction is gone");
	return err;
}

static int stage_handle(struct fs_data *fs, struct ctl_handle *h)
{
	int err = stage_text(fs, h);
	if (h->type == N_TXFILE)
		handle_track(fs->ctl, h);
	return err;
}

/*
 * Stage what h wrote (fsync, or a close). The opener's close also lets T
 * go (handle_track); a child's close leaves the staging to the opener, as
 * in the key tree.
 */
static void flush_now(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int closing)
{
	struct ctl_handle *h = (struct ctl_handle *) (uintptr_t) fi->fh;
	int err = 0;

	if (h && !is_watch_node(fs_of(req), ino)) {
		pthread_mutex_lock(&h->lock);
		if (closing && h->type == N_TXFILE)
			h->closed = 1;
		err = stage_handle(fs_of(req), h);
		pthread_mutex_unlock(&h->lock);
	}
	fuse_reply_err(req, err);
}

static void ctl_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctl_handle *h = (struct ctl_handle *) (uintptr_t) fi->fh;

	if (h && !fs_flush_is_ours(req, h->opener)) {
		fuse_reply_err(req, 0);
		return;
	}
	flush_now(req, ino, fi, 1);
}

/* A watch file is readable when lines wait; other files always are. */
static void ctl_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                     struct fuse_pollhandle *ph)
{
	if (is_watch_node(fs_of(req), ino))
		fs_watch_poll(req, fi, ph);
	else
		fs_key_ops.poll(req, ino, fi, ph);
}

static void ctl_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void) datasync;
	flush_now(req, ino, fi, 0);
}

static void ctl_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);

	if (is_watch_node(fs, ino)) {
		node_open(fs->ctl, ino, -1);
		fs_watch_release(req, fi);
		return;
	}
	struct ctl_handle *h = (struct ctl_handle *) (uintptr_t) fi->fh;
	if (h) {
		pthread_mutex_lock(&h->lock);
		stage_handle(fs, h);   /* only the log can report a failure now */
		pthread_mutex_unlock(&h->lock);
		/* A file created and never written stays an empty file in T. */
		handle_close(fs->ctl, h);
	}
	node_open(fs->ctl, ino, -1);
	fuse_reply_err(req, 0);
}

/* ---- names: create, mkdir, unlink, rmdir ---- */

/*
 * Makes `name` a file of T, for create and mknod: a key T shows nothing at
 * becomes an empty file of T until a value is written. A name that exists is
 * EEXIST when `excl`. On success the node of the file, with one lookup.
 */
static int make_file(struct fs_data *fs, fuse_ino_t parent, const char *name, int excl,
                     fuse_ino_t *ino)
{
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	struct view v = { 0 };
	uint8_t *key = NULL;
	size_t len = 0;
	int err = node_info(c, parent, &i);

	if (err)
		return err;
	/* a directory's own value: written, it is staged as outside T; else nothing */
	int value = i.type == N_TXDIR && i.key_len && strcmp(name, ".value") == 0;
	if (i.type != N_TXDIR || (name[0] == '.' && !value)) {
		err = EPERM;
		if (i.type == N_TXDIR)
			log_node(fs, &i, "create", name, "names starting with '.' are not keys");
		else
			log_ctl(fs, "create", parent, name, why_fixed(i.type));
		goto out;
	}
	if (value) {
		key = dup_bytes(i.key, i.key_len);
		len = i.key_len;
		err = key ? 0 : ENOMEM;
	} else if ((err = child_key(i.key, i.key_len, name, 1, &key, &len))) {
		if (err == EINVAL)
			log_node(fs, &i, "create", name, "not a valid key name");
	}
	if (err)
		goto out;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i.tx);
	err = t ? view_of(fs, t, key, len, &v) : ENOENT;
	if (value)
		v.dir = 0;
	if (!err && excl && (v.dir || v.value || v.empty))
		err = EEXIST;
	if (!err && v.dir)
		err = EISDIR;
	if (!err && !v.value && !v.empty && !value)
		err = mark_add(t, key, len, 1);
	struct node *n = err ? NULL : node_ref(c, N_TXFILE, i.tx, key, len, NULL);
	if (!err && !n)
		err = ENOMEM;
	*ino = n ? n->ino : 0;
	pthread_mutex_unlock(&c->lock);
	view_free(&v);
out:
	free(key);
	info_free(&i);
	return err;
}

static void ctl_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                       mode_t mode, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct ctl_handle *h = NULL;
	fuse_ino_t ino;
	int err = make_file(fs, parent, name, fi->flags & O_EXCL, &ino);

	(void) mode;
	if (err)
		goto fail;
	err = open_node(fs, ino, fi, 1, &h);
	if (err) {
		node_forget(fs->ctl, ino, 1);
		goto fail;
	}
	h->opener = fuse_req_ctx(req)->pid;
	fi->fh = (uintptr_t) h;
	struct fuse_entry_param ep = { .ino = ino };
	attr_of(fs, &ep.attr, S_IFREG | 0644, 0, 0);
	ep.attr.st_ino = ino;
	if (fuse_reply_create(req, &ep, fi) != 0) {
		node_open(fs->ctl, ino, -1);
		handle_close(fs->ctl, h);
		node_forget(fs->ctl, ino, 1);
	}
	return;
fail:
	fuse_reply_err(req, err);
}

static void ctl_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	struct stat st;
	struct view v = { 0 };
	uint8_t *key = NULL;
	size_t len = 0;
	int err = node_info(c, parent, &i);

	(void) mode;
	if (err)
		goto out;
	if (i.type == N_TXS) {
		/* Begin a transaction. */
		struct tx *t = calloc(1, sizeof(*t));
		if (!t || !(t->name = strdup(name))) {
			free(t);
			err = ENOMEM;
			goto out;
		}
		pthread_mutex_lock(&c->lock);
		if (tx_by_name(c, name)) {
			err = EEXIST;
			tx_free(t);
		} else {
			t->id = ++c->next_tx;
			t->next = c->txs;
			c->txs = t;
			result_forget(c, name);   /* `mv` onto .commit/NAME must find no file */
		}
		uint64_t id = err ? 0 : t->id;
		pthread_mutex_unlock(&c->lock);
		if (!err) {
			attr_of(fs, &st, S_IFDIR | 0755, 0, 0);
			reply_node(req, fs, N_TXDIR, id, NULL, 0, NULL, &st);
			info_free(&i);
			return;
		}
		goto out;
	}
	if (i.type != N_TXDIR || name[0] == '.') {
		err = EPERM;
		log_ctl(fs, "mkdir", parent, name, i.type == N_TXDIR ?
		        "names starting with '.' are not keys" : why_fixed(i.type));
		goto out;
	}
	if ((err = child_key(i.key, i.key_len, name, 1, &key, &len)))
		goto out;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i.tx);
	err = t ? view_of(fs, t, key, len, &v) : ENOENT;
	if (!err && (v.dir || v.value || v.empty))
		err = EEXIST;
	if (!err)
		err = mark_add(t, key, len, 0);
	pthread_mutex_unlock(&c->lock);
	view_free(&v);
	if (err)
		goto out;
	attr_of(fs, &st, S_IFDIR | 0755, 0, 0);
	reply_node(req, fs, N_TXDIR, i.tx, key, len, NULL, &st);
	free(key);
	info_free(&i);
	return;
out:
	free(key);
	info_free(&i);
	fuse_reply_err(req, err);
}

/*
 * A name was removed from directory `dir` inside T. When nothing else
 * shows it (its keys were only staged, as a directory moved inside T
 * leaves them), it stays as an empty directory of T, as in the key tree,
 * so that `rm -r` can still rmdir it. ctl->lock held.
 */
static int keep_dir(struct fs_data *fs, struct tx *t, const uint8_t *dir, size_t dir_len)
{
	struct view p = { 0 };
	kv_entry *e = NULL;
	int err;

	if (!dir_len)
		return 0;
	/* the store holds it: the view shows it until rmdir (a stored prefix emptied) */
	int rc = kv_lookup(fs->db, dir, dir_len, &e);
	kv_free(e);
	if (rc != KV_NOTFOUND)
		return rc == KV_OK ? 0 : fs_errno(rc);
	err = view_of(fs, t, dir, dir_len, &p);
	if (!err && !p.dir && !p.value && !p.empty)
		err = mark_add(t, dir, dir_len, 0);
	view_free(&p);
	return err;
}

static void ctl_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	struct view v = { 0 };
	uint8_t *key = NULL;
	size_t len = 0;
	int err = node_info(c, parent, &i);

	if (err)
		goto out;
	if (i.type == N_RESULTS) {
		pthread_mutex_lock(&c->lock);
		struct result *r = c->results;
		while (r && strcmp(r->name, name) != 0)
			r = r->next;
		if (r)
			result_forget(c, name);
		pthread_mutex_unlock(&c->lock);
		err = r ? 0 : ENOENT;
		goto out;
	}
	if (i.type != N_TXDIR) {
		err = EPERM;
		log_ctl(fs, "remove", parent, name, why_fixed(i.type));
		goto out;
	}
	if (strcmp(name, ".value") == 0 && i.key_len) {
		key = dup_bytes(i.key, i.key_len);
		len = i.key_len;
		err = key ? 0 : ENOMEM;
	} else if (name[0] == '.') {
		err = ENOENT;
	} else {
		err = child_key(i.key, i.key_len, name, 0, &key, &len);
	}
	if (err)
		goto out;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i.tx);
	err = t ? view_of(fs, t, key, len, &v) : ENOENT;
	if (!err && v.dir && name[0] != '.')
		err = EISDIR;
	else if (!err && v.empty)
		mark_remove(t, key, len, 0);
	else if (!err && !v.value)
		err = ENOENT;
	else if (!err) {
		err = tx_stage(t, OP_DELETE, key, len, 0, NULL, 0, 0);
		if (err == E2BIG)
			log_tx(fs, "remove", t->name, key, len, NULL, tx_over(t));
	}
	if (!err)
		node_remove(c, i.tx, key, len);
	if (!err && name[0] != '.')
		err = keep_dir(fs, t, i.key, i.key_len);
	pthread_mutex_unlock(&c->lock);
	view_free(&v);
out:
	free(key);
	info_free(&i);
	fuse_reply_err(req, err);
}

static void ctl_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	struct view v = { 0 };
	uint8_t *key = NULL;
	size_t len = 0;
	int err = node_info(c, parent, &i);

	if (err)
		goto out;
	if (i.type == N_TXS) {
		/*
		 * Abort: whatever T holds, poisoned or not, nothing of it is
		 * kept. T's top lists nothing, so `rm -rf` comes straight
		 * here.
		 */
		pthread_mutex_lock(&c->lock);
		struct tx *t = tx_by_name(c, name);
		if (t) {
			tx_unlink(c, t);
			tx_free(t);
		}
		pthread_mutex_unlock(&c->lock);
		err = t ? 0 : ENOENT;
		goto out;
	}
	if (i.type != N_TXDIR) {
		err = EPERM;
		log_ctl(fs, "remove", parent, name, why_fixed(i.type));
		goto out;
	}
	if (name[0] == '.') {
		err = strcmp(name, ".value") == 0 ? ENOTDIR : ENOENT;
		goto out;
	}
	if ((err = child_key(i.key, i.key_len, name, 0, &key, &len)))
		goto out;
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i.tx);
	err = t ? view_of(fs, t, key, len, &v) : ENOENT;
	if (!err && !v.dir)
		err = v.value || v.empty ? ENOTDIR : ENOENT;
	else if (!err && (v.value || view_has_children(fs, t, key, len, &err)))
		err = err ? err : ENOTEMPTY;
	if (!err && v.emptied)
		err = gone_add(t, key, len);
	if (!err)
		mark_remove(t, key, len, 1);
	if (!err)
		err = keep_dir(fs, t, i.key, i.key_len);
	pthread_mutex_unlock(&c->lock);
	view_free(&v);
out:
	free(key);
	info_free(&i);
	fuse_reply_err(req, err);
}

/* ---- commit ---- */

static int commit_tx(struct fs_data *fs, const char *name, const char *result)
{
	struct fs_ctl *c = fs->ctl;
	uint64_t version = 0;
	const char *why = "";
	char msg[512];
	uint8_t **keys = NULL;
	size_t *lens = NULL, nkeys = 0;
	int err;

	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_name(c, name);
	if (!t) {
		pthread_mutex_unlock(&c->lock);
		return ENOENT;
	}
	if (tx_writing(c, t)) {
		/* a writer still busy: committing now would store part of its value, or none */
		pthread_mutex_unlock(&c->lock);
		fs_log(fs, "cannot commit '.tx/%s': a file in it is still open for writing "
		       "(close it first)", name);
		return EBUSY;
	}
	/* which deletes remove a stored key (their directories stay, as after rm) */
	uint8_t *stored = calloc(t->nops + 1, 1);
	for (size_t i = 0; stored && i < t->nops; i++) {
		kv_entry *e = NULL;
		stored[i] = t->ops[i].kind == OP_DELETE &&
		            kv_get(fs->db, t->ops[i].key, t->ops[i].key_len, &e) == KV_OK;
		kv_free(e);
	}
	err = tx_commit(fs, t, &version, &why);
	if (err) {
		/* Limits and unexpected failures carry the engine's detail. */
		const char *detail = t->failed ? (t->over ? t->over : "")
		                     : err == EAGAIN || err == EDOM ? "" : kv_errmsg(fs->db);
		snprintf(msg, sizeof(msg), "%s%s%s", why, *why && *detail ? ": " : "", detail);
		pthread_mutex_unlock(&c->lock);
		fs_log(fs, "cannot commit '.tx/%s': %s", name, msg);
		free(stored);
		return err;
	}
	char stamp[21], text[80];
	kv_versionstamp_format(version, stamp);
	snprintf(text, sizeof(text), "{\"ok\":true,\"versionstamp\":\"%s\"}\n", stamp);
	result_add(c, result, text);
	tx_unlink(c, t);
	/*
	 * Hand the keys over: the key tree's caches and memory-only names
	 * follow. A directory T removed or moved away goes with the
	 * memory-only directories the key tree had in it (T never showed them).
	 */
	size_t nops = t->nops, n = nops + t->ngone;
	keys = calloc(n + 1, sizeof(*keys));
	lens = calloc(n + 1, sizeof(*lens));
	for (size_t i = 0; keys && lens && i < n; i++) {
		struct mark *g = i < nops ? NULL : &t->gone[i - nops];
		keys[nkeys] = g ? g->key : t->ops[i].key;
		lens[nkeys++] = g ? g->key_len : t->ops[i].key_len;
		if (g)
			g->key = NULL;
		else
			t->ops[i].key = NULL;
	}
	tx_free(t);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < nkeys; i++) {
		pthread_mutex_lock(&fs->lock);
		if (i < nops)
			fs_memfile_remove(fs, keys[i], lens[i]);
		else
			fs_memdir_remove(fs, keys[i], lens[i], 1);
		pthread_mutex_unlock(&fs->lock);
		fs_notify_key(fs, keys[i], lens[i]);
	}
	/*
	 * As `rm` of a directory's last key keeps the directory, so does a
	 * commit that deleted it, unless T removed the directory itself.
	 */
	for (size_t i = 0; stored && i < nops && i < nkeys; i++) {
		if (!stored[i])
			continue;
		size_t plen = fs_parent_len(keys[i], lens[i]);
		int gone = 0;
		for (size_t g = nops; g < nkeys && !gone; g++)
			gone = fs_key_within(keys[i], plen, keys[g], lens[g]);
		if (!gone && (i == 0 || !fs_key_equal(keys[i], plen, keys[i - 1],
		                                      fs_parent_len(keys[i - 1], lens[i - 1]))))
			fs_after_remove(fs, keys[i], plen);
	}
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i]);
	free(stored);
	free(keys);
	free(lens);
	fs_watch_poke(fs);
	/* the shell that committed sees the keys as committed at once */
	fs_notify_wait(fs, 200);
	return 0;
}

/*
 * A file T created and has not written yet: its name moves, with the
 * expiry it will give its first value; as in the key tree, an empty file
 * cannot replace a value (EBADMSG).
 */
static int move_empty(struct fs_data *fs, struct tx *t, const uint8_t *skey, size_t slen,
                      const struct view *v, const uint8_t *dkey, size_t dlen,
                      const struct view *w)
{
	if (fs_key_equal(skey, slen, dkey, dlen))
		return 0;
	if (w->value) {
		log_tx(fs, "move", t->name, skey, slen, NULL, "an empty file is not a value");
		return EBADMSG;
	}
	mark_remove(t, dkey, dlen, 0);
	int err = mark_add(t, dkey, dlen, 1);
	if (err)
		return err;
	mark_file(t, dkey, dlen)->expires_at = v->expires_at >= 0 ? v->expires_at : 0;
	mark_remove(t, skey, slen, 0);
	return 0;
}

/* A file inside T: stage its delete and its set. */
static int move_file(struct fs_data *fs, struct tx *t, const uint8_t *skey, size_t slen,
                     const struct view *v, const uint8_t *dkey, size_t dlen)
{
	int err = 0;

	if (fs_key_equal(skey, slen, dkey, dlen))
		return 0;
	/* the value moved is read: the commit checks it still holds */
	if (!v->staged)
		err = tx_imply(t, skey, slen, !v->stored, v->version);
	/* the delete first: it gives back what a staged value took, so a move
	 * that fits the limits never passes one on the way */
	if (!err)
		err = tx_stage(t, OP_DELETE, skey, slen, 0, NULL, 0, 0);
	if (!err)
		err = tx_stage(t, OP_SET, dkey, dlen, v->enc, v->data, v->len, 0);
	if (!err)
		tx_set_expiry(t, dkey, dlen, v->expires_at);   /* as mv keeps it */
	if (err == E2BIG)
		log_tx(fs, "move", t->name, skey, slen, NULL, tx_over(t));
	return err;
}

/*
 * A directory inside T: every key T shows under it moves, as the key
 * tree's directory rename (fs_rename.c) moves them, with its errors.
 */
static int move_dir(struct fs_data *fs, struct tx *t, const uint8_t *skey, size_t slen,
                    const uint8_t *dkey, size_t dlen, const struct view *w, unsigned flags)
{
	int err = 0;

	if (fs_key_equal(skey, slen, dkey, dlen))
		return 0;
	if (under(dkey, dlen, skey, slen))
		return EINVAL;
	if (!w->dir && (w->value || w->empty))
		return ENOTDIR;
	if (w->dir && (flags & RENAME_NOREPLACE))
		return EEXIST;
	if (w->dir && (w->value || view_has_children(fs, t, dkey, dlen, &err)))
		return err ? err : ENOTEMPTY;
	err = tx_move(fs, t, skey, slen, dkey, dlen);
	if (err == E2BIG)
		log_tx(fs, "move", t->name, skey, slen, NULL, tx_over(t));
	else if (err == ENAMETOOLONG)
		log_tx(fs, "move", t->name, skey, slen, NULL, "a key moved would be too long");
	return err;
}

/* rename(2) of a name inside T onto another of T. Called with ctl->lock held. */
static int move_in_tx(struct fs_data *fs, struct tx *t, const uint8_t *skey, size_t slen,
                      const uint8_t *dkey, size_t dlen, unsigned flags)
{
	struct view v = { 0 }, w = { 0 };
	int err = view_of(fs, t, skey, slen, &v);

	if (err || (err = view_of(fs, t, dkey, dlen, &w)))
		goto out;
	if (v.dir)
		err = move_dir(fs, t, skey, slen, dkey, dlen, &w, flags);
	else if (w.dir)
		err = EISDIR;
	else if (!v.value && !v.empty)
		err = ENOENT;
	else if ((w.value || w.empty) && (flags & RENAME_NOREPLACE))
		err = EEXIST;
	else if (v.empty)
		err = move_empty(fs, t, skey, slen, &v, dkey, dlen, &w);
	else
		err = move_file(fs, t, skey, slen, &v, dkey, dlen);
	/* the kernel's names follow the move: so do the nodes they lead to */
	if (!err && !fs_key_equal(skey, slen, dkey, dlen))
		err = node_move(fs->ctl, t->id, skey, slen, dkey, dlen);
out:
	view_free(&v);
	view_free(&w);
	return err;
}

static void ctl_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo s = { 0 }, d = { 0 };
	uint8_t *skey = NULL, *dkey = NULL;
	size_t slen = 0, dlen = 0;
	int err;

	/*
	 * Between the key tree and a control tree, EXDEV would make mv copy
	 * and delete: a key moved into T would be deleted for everyone at
	 * once, and T moved out would be copied empty and then aborted. So
	 * those renames are refused; cp copies into or out of T.
	 */
	int across = !is_ctl(parent) || !is_ctl(newparent);
	if (across) {
		err = EPERM;
		goto out;
	}
	if ((err = node_info(c, parent, &s)) || (err = node_info(c, newparent, &d)))
		goto out;
	if (flags & ~(unsigned) RENAME_NOREPLACE) {      /* no exchange, no whiteout */
		err = EINVAL;
	} else if (s.type == N_TXS && d.type == N_RESULTS) {
		err = commit_tx(fs, name, newname);
	} else if (s.type == N_TXS && d.type == N_TXS) {
		pthread_mutex_lock(&c->lock);
		struct tx *t = tx_by_name(c, name), *o = tx_by_name(c, newname);
		char *nn = strdup(newname);
		if (!t)
			err = ENOENT;
		else if (o && o != t)
			err = EEXIST;
		else if (!nn)
			err = ENOMEM;
		if (!err) {
			free(t->name);
			t->name = nn;
		} else {
			free(nn);
		}
		pthread_mutex_unlock(&c->lock);
	} else if (s.type == N_TXDIR && d.type == N_TXDIR && s.tx == d.tx &&
	           name[0] != '.' && newname[0] != '.') {
		if ((err = child_key(s.key, s.key_len, name, 0, &skey, &slen)) ||
		    (err = child_key(d.key, d.key_len, newname, 1, &dkey, &dlen)))
			goto out;
		pthread_mutex_lock(&c->lock);
		struct tx *t = tx_by_id(c, s.tx);
		err = t ? move_in_tx(fs, t, skey, slen, dkey, dlen, flags) : ENOENT;
		pthread_mutex_unlock(&c->lock);
	} else if (s.type == N_TXDIR && d.type == N_TXDIR) {
		err = EXDEV;    /* another T, or .value: mv copies, staged in both */
	} else {
		err = EPERM;
		across = s.type == N_RESULTS ? 2 : s.type == N_TXDIR || d.type == N_TXDIR ? 1 : 3;
	}
out:
	if (across) {
		char *from = any_path(fs, parent, name), *to = any_path(fs, newparent, newname);
		if (across == 2)
			fs_log(fs, "cannot rename '%s': a commit result stays under its name",
			       from ? from : name);
		else if (across == 3)
			fs_log(fs, "cannot rename '%s' to '%s': %s", from ? from : name,
			       to ? to : newname, why_fixed(s.type == N_TXS ? d.type : s.type));
		else
			fs_log(fs, "cannot rename '%s' to '%s': only a rename of .tx/T into .commit "
			       "crosses into or out of a transaction (cp copies)",
			       from ? from : name, to ? to : newname);
		free(from);
		free(to);
	}
	free(skey);
	free(dkey);
	info_free(&s);
	info_free(&d);
	fuse_reply_err(req, err);
}

/* ---- extended attributes ---- */

static int parse_u64(const char *v, size_t size, uint64_t *out)
{
	char buf[32];
	char *end;

	if (size == 0 || size >= sizeof(buf))
		return EINVAL;
	memcpy(buf, v, size);
	buf[size] = 0;
	if (buf[size - 1] == '\n')
		buf[size - 1] = 0;
	if (buf[0] < '0' || buf[0] > '9')
		return EINVAL;
	errno = 0;
	unsigned long long x = strtoull(buf, &end, 10);
	if (errno || *end)
		return EINVAL;
	*out = (uint64_t) x;
	return 0;
}

/* user.kv.expire_in set (at > 0) or the expiry removed (0) on a file of T. */
static int expire_node(struct fs_data *fs, fuse_ino_t ino, const struct nodeinfo *i, int64_t at)
{
	struct fs_ctl *c = fs->ctl;

	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i->tx);
	int err = t ? tx_expire(fs, t, i->key, i->key_len, at) : ENOENT;
	const char *over = err == E2BIG ? tx_over(t) : NULL;
	pthread_mutex_unlock(&c->lock);
	if (err == EPERM)
		log_node(fs, i, "set the expiry of", NULL, "a sum, min or max stores none");
	else if (err == E2BIG)
		log_node(fs, i, "set the expiry of", NULL, over);
	if (!err)
		fs_notify_inode(fs, ino);
	return err;
}

static void ctl_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                         const char *value, size_t size, int flags)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	int err = node_info(c, ino, &i);
	uint64_t x = 0;
	int absent = 0;
	enum op_kind kind = 0;

	(void) flags;
	if (err)
		goto out;
	int known = strcmp(name, X_CHECK) == 0 || strcmp(name, X_SUM) == 0 ||
	            strcmp(name, X_MIN) == 0 || strcmp(name, X_MAX) == 0;
	if (strcmp(name, X_IN) == 0 && i.type == N_TXFILE) {
		int64_t ms;
		if ((err = fs_parse_ms(value, size, &ms)))
			log_node(fs, &i, "set user.kv.expire_in on", NULL,
			         "expected a non-negative number of milliseconds");
		else
			err = expire_node(fs, ino, &i, fs_now_ms() + ms);
		goto out;
	}
	if (!known || (i.type != N_TXFILE && i.type != N_TXDIR) || !i.key_len) {
		/* as in the key tree: other names are not supported (cp -a goes on quietly) */
		int ours = known || strncmp(name, "user.kv.", 8) == 0;
		err = ours ? EPERM : ENOTSUP;
		char what[300];
		snprintf(what, sizeof(what), "set %s on", name);
		const char *why = !ours ? "kvfs stores no other attributes"
		                  : !known ? "read-only attribute here"
		                  : i.type == N_TXFILE || i.type == N_TXDIR ? "not on the top of T"
		                  : "sum, min, max and check are staged on a key inside .tx/T";
		if (ours || strncmp(name, "user.", 5) == 0)
			log_ctl(fs, what, ino, NULL, why);
		goto out;
	}
	if (strcmp(name, X_CHECK) == 0) {
		char buf[32];
		size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
		memcpy(buf, value, n);
		buf[n] = 0;
		if (n && buf[n - 1] == '\n')
			buf[--n] = 0;
		if (strcmp(buf, "null") == 0)
			absent = 1;
		else if (size > 21 || kv_versionstamp_parse(buf, &x) != KV_OK)
			err = EINVAL;
		if (err) {
			log_node(fs, &i, "check", NULL, "not a versionstamp (20 hex digits) or null");
			goto out;
		}
	} else {
		kind = name[8] == 's' ? OP_SUM : name[9] == 'i' ? OP_MIN : OP_MAX;
		if ((err = parse_u64(value, size, &x))) {
			log_node(fs, &i, name + 8, NULL, "not an unsigned 64-bit decimal number");
			goto out;
		}
	}
	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i.tx);
	if (!t)
		err = ENOENT;
	else if (kind)
		err = tx_stage(t, kind, i.key, i.key_len, 0, NULL, 0, x);
	else
		err = tx_check(t, i.key, i.key_len, absent, x, 1);
	if (err == E2BIG) {
		/* a check refused leaves T as it was; a mutation refused poisoned it */
		const char *over = kind ? NULL : tx_check_over(t, i.key_len);
		log_tx(fs, kind ? "stage" : "check", t->name, i.key, i.key_len, NULL,
		       over ? over : tx_over(t));
	}
	pthread_mutex_unlock(&c->lock);
	if (!err && kind)
		fs_notify_inode(fs, ino);   /* the view's value changed */
out:
	info_free(&i);
	fuse_reply_err(req, err);
}

/* When the value T shows for file `i` expires (Unix ms), -1 for never; 0 or an errno. */
static int node_expiry(struct fs_data *fs, const struct nodeinfo *i, int64_t *expires)
{
	struct fs_ctl *c = fs->ctl;
	struct view v;

	pthread_mutex_lock(&c->lock);
	struct tx *t = tx_by_id(c, i->tx);
	int err = t ? view_of(fs, t, i->key, i->key_len, &v) : ENOENT;
	pthread_mutex_unlock(&c->lock);
	if (err)
		return err;
	*expires = v.value || v.empty ? v.expires_at : -1;
	view_free(&v);
	return 0;
}

/*
 * The expiry of the value T shows: the stored one of a key T did not
 * change, the one T gave a key, none for T's other sets and its sums.
 * Replies when it is there; else ENODATA or another errno.
 */
static int reply_expiry(fuse_req_t req, struct fs_data *fs, const struct nodeinfo *i,
                        const char *name, size_t size)
{
	int64_t expires;
	char buf[64];
	int err = node_expiry(fs, i, &expires);

	if (err)
		return err;
	if (expires < 0)
		return ENODATA;
	fs_expiry_text(name, expires, buf, sizeof(buf));
	fs_reply_xattr(req, buf, strlen(buf), size);
	return 0;
}

static void ctl_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	char *json = NULL;
	int err = 0;

	if (strcmp(name, X_KEY) != 0 && strcmp(name, X_STAMP) != 0 &&
	    strcmp(name, X_IN) != 0 && strcmp(name, X_AT) != 0) {
		fuse_reply_err(req, fs_xattr_absent(name));
		return;
	}
	if ((err = node_info(c, ino, &i))) {
		fuse_reply_err(req, err);
		return;
	}
	int keyed = i.type == N_TXDIR || i.type == N_TXFILE || i.type == N_WDIR ||
	            i.type == N_WKEY || i.type == N_WALL;
	if (!keyed) {
		err = ENODATA;
	} else if (strcmp(name, X_KEY) == 0) {
		if (!i.key_len)
			fs_reply_xattr(req, "[]", 2, size);
		else if (kv_key_to_json(i.key, i.key_len, &json) != KV_OK)
			err = EIO;
		else
			fs_reply_xattr(req, json, strlen(json), size);
	} else if (i.type != N_TXFILE) {
		err = ENODATA;
	} else if (strcmp(name, X_STAMP) != 0) {
		err = reply_expiry(req, fs, &i, name, size);
	} else {
		/* The stored versionstamp, as long as T did not replace the value. */
		struct view v;
		pthread_mutex_lock(&c->lock);
		struct tx *t = tx_by_id(c, i.tx);
		err = t ? view_of(fs, t, i.key, i.key_len, &v) : ENOENT;
		pthread_mutex_unlock(&c->lock);
		if (!err) {
			int staged = v.staged || !v.stored;
			if (!staged && t) {
				pthread_mutex_lock(&c->lock);
				t = tx_by_id(c, i.tx);
				for (size_t k = 0; t && k < t->nops && !staged; k++)
					staged = fs_key_equal(t->ops[k].key, t->ops[k].key_len, i.key, i.key_len);
				pthread_mutex_unlock(&c->lock);
			}
			if (staged) {
				err = ENODATA;
			} else {
				char stamp[21];
				kv_versionstamp_format(v.version, stamp);
				fs_reply_xattr(req, stamp, 20, size);
			}
			view_free(&v);
		}
	}
	if (err)
		fuse_reply_err(req, err);
	kv_free(json);
	info_free(&i);
}

static void ctl_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_data *fs = fs_of(req);
	struct nodeinfo i;
	int64_t expires = -1;
	int err = node_info(fs->ctl, ino, &i);

	/* as in the key tree (fs_xattr.c): only what a copy should carry */
	if (!err && i.type == N_TXFILE)
		err = node_expiry(fs, &i, &expires);
	if (err)
		fuse_reply_err(req, err);
	else if (expires >= 0)
		fs_reply_xattr(req, X_IN, sizeof(X_IN), size);
	else
		fs_reply_xattr(req, "", 0, size);
	info_free(&i);
}

static void ctl_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct nodeinfo i;
	int64_t expires = -1;
	int err;

	if (strncmp(name, "user.kv.", 8) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	char what[300];
	snprintf(what, sizeof(what), "remove %s from", name);
	if (strcmp(name, X_IN) != 0 && strcmp(name, X_AT) != 0) {
		log_ctl(fs, what, ino, NULL, "read-only attribute");
		fuse_reply_err(req, EPERM);
		return;
	}
	err = node_info(fs->ctl, ino, &i);
	if (!err && i.type != N_TXFILE) {
		err = EPERM;
		log_ctl(fs, what, ino, NULL, "only a key's file inside .tx/T has an expiry here");
	}
	if (!err)
		err = node_expiry(fs, &i, &expires);
	if (!err)
		err = expires < 0 ? ENODATA : expire_node(fs, ino, &i, 0);
	info_free(&i);
	fuse_reply_err(req, err);
}

static void ctl_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                        int to_set, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct nodeinfo i;
	struct stat st;
	int err = node_info(fs->ctl, ino, &i);

	if (!err)
		err = node_attr(fs, ino, &i, &st);
	if (err)
		goto out;
	if (((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (st.st_mode & 07777)) ||
	    ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)) {
		/* a directory of T takes any mode, as the key tree's (fs_setattr) */
		if (i.type == N_TXDIR && i.key_len && !fs->opt.shared)
			goto out;
		err = EPERM;
		log_ctl(fs, "change the owner or mode of", ino, NULL, "kvfs shows fixed ones");
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		struct ctl_handle *h = fi && i.type == N_TXFILE
			? (struct ctl_handle *) (uintptr_t) fi->fh : NULL;
		if (S_ISDIR(st.st_mode)) {
			err = EISDIR;
		} else if (!h || !h->writable) {
			err = i.type == N_TXFILE && attr->st_size == st.st_size ? 0 : EPERM;
			if (err)
				log_ctl(fs, "truncate", ino, NULL, i.type == N_TXFILE ?
				        "a file of T changes size only through a handle open for writing" :
				        why_fixed(i.type));
		} else {
			pthread_mutex_lock(&h->lock);
			err = fs_text_truncate(&h->text, (size_t) attr->st_size);
			int gone = handle_track(fs->ctl, h);
			pthread_mutex_unlock(&h->lock);
			err = err ? err : gone;
			st.st_size = attr->st_size;
		}
	}
out:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, 0);
	info_free(&i);
}

/* ---- listings ---- */

struct ctl_dirh {
	enum node_type type;
	uint64_t tx;
	uint8_t *key;
	size_t key_len;
	char **names;           /* .tx, .commit: a snapshot of the names */
	size_t nnames;
	int value;              /* a transaction directory with its own value: `.value` */
	struct fs_extra *over;  /* children that exist only through T (sorted, unique) */
	size_t nover;
	off_t last_off;         /* cookie of the last key entry sent */
	int told;               /* a name too long to list was logged */
	uint8_t *last_key;
	size_t last_len;
	pthread_mutex_t lock;
};

static void dirh_free(struct ctl_dirh *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nnames; i++)
		free(d->names[i]);
	for (size_t i = 0; i < d->nover; i++)
		free(d->over[i].key);
	free(d->names);
	free(d->over);
	free(d->key);
	free(d->last_key);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int add_name(struct ctl_dirh *d, const char *name)
{
	char **n = realloc(d->names, (d->nnames + 1) * sizeof(*n));
	if (!n)
		return ENOMEM;
	d->names = n;
	if (!(n[d->nnames] = strdup(name)))
		return ENOMEM;
	d->nnames++;
	return 0;
}

/* The child of `dir` that `key` lies under (its length), or 0. */
static size_t child_span(const uint8_t *key, size_t len, const uint8_t *dir, size_t dlen)
{
	size_t span;
	if (!under(key, len, dir, dlen) || kv_part_span(key, len, dlen, &span) != KV_OK)
		return 0;
	return dlen + span;
}

static int add_over(struct ctl_dirh *d, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < d->nover; i++)
		if (fs_key_equal(d->over[i].key, d->over[i].len, key, len))
			return 0;
	struct fs_extra *o = realloc(d->over, (d->nover + 1) * sizeof(*o));
	if (!o)
		return ENOMEM;
	d->over = o;
	o[d->nover] = (struct fs_extra) { .key = dup_bytes(key, len), .len = len };
	if (!o[d->nover].key)
		return ENOMEM;
	d->nover++;
	return 0;
}

static void ctl_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct nodeinfo i;
	struct ctl_dirh *d = calloc(1, sizeof(*d));
	int err = d ? node_info(c, ino, &i) : ENOMEM;

	if (err) {
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->type = i.type;
	d->tx = i.tx;
	d->key = i.key;
	d->key_len = i.key_len;
	i.key = NULL;
	pthread_mutex_lock(&c->lock);
	if (i.type == N_TXS) {
		for (struct tx *t = c->txs; t && !err; t = t->next)
			err = add_name(d, t->name);
	} else if (i.type == N_RESULTS) {
		for (struct result *r = c->results; r && !err; r = r->next)
			err = add_name(d, r->name);
	} else if (i.type == N_TXDIR) {
		struct tx *t = tx_by_id(c, i.tx);
		struct view v;
		if (!t) {
			err = ENOENT;
		} else if (!d->key_len) {
			/* T itself lists nothing: see "Removing T" above. */
			t = NULL;
		} else if (!(err = view_of(fs, t, d->key, d->key_len, &v))) {
			d->value = d->key_len && v.value;
			view_free(&v);
		}
		for (size_t k = 0; t && !err && k < t->nops; k++) {
			size_t n = child_span(t->ops[k].key, t->ops[k].key_len, d->key, d->key_len);
			if (n && t->ops[k].kind != OP_DELETE)
				err = add_over(d, t->ops[k].key, n);
		}
		for (size_t k = 0; t && !err && k < t->nmarks; k++) {
			size_t n = child_span(t->marks[k].key, t->marks[k].key_len, d->key, d->key_len);
			if (n)
				err = add_over(d, t->marks[k].key, n);
		}
		/* and the key tree's directories in memory (view_of shows them) */
		pthread_mutex_lock(&fs->lock);
		for (struct fs_memdir *m = t ? fs->memdirs : NULL; m && !err; m = m->next) {
			size_t n = child_span(m->key, m->key_len, d->key, d->key_len);
			if (n && !(m->file && n == m->key_len))
				err = add_over(d, m->key, n);
		}
		pthread_mutex_unlock(&fs->lock);
	} else if (i.type != N_WDIR) {
		err = ENOTDIR;
	}
	pthread_mutex_unlock(&c->lock);
	info_free(&i);
	/* Sort the overlay in key order (few entries: insertion sort). */
	for (size_t a = 1; a < d->nover; a++)
		for (size_t b = a; b > 0 && fs_key_cmp(d->over[b - 1].key, d->over[b - 1].len,
		                                       d->over[b].key, d->over[b].len) > 0; b--) {
			struct fs_extra x = d->over[b];
			d->over[b] = d->over[b - 1];
			d->over[b - 1] = x;
		}
	if (err) {
		dirh_free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t) d;
	if (fuse_reply_open(req, fi) != 0)
		dirh_free(d);
}

static size_t add_entry(fuse_req_t req, char *buf, size_t room, const char *name,
                        mode_t type, ino_t ino, off_t next, int plus)
{
	struct stat st = { .st_mode = type, .st_ino = ino };
	if (plus) {
		struct fuse_entry_param ep = { .attr = st };   /* ino 0: no lookup implied */
		return fuse_add_direntry_plus(req, buf, room, name, &ep, next);
	}
	return fuse_add_direntry(req, buf, room, name, &st, next);
}

/*
 * Key entries: stored children merged with T's overlay in key order, each
 * shown as the view has it. Cookies count entries; the handle remembers
 * the last one sent so the usual resume costs one seek, any other cookie
 * replays from the start.
 */
static void ctl_readdir_plus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                             struct fuse_file_info *fi, int plus)
{
	struct fs_data *fs = fs_of(req);
	struct fs_ctl *c = fs->ctl;
	struct ctl_dirh *d = (struct ctl_dirh *) (uintptr_t) fi->fh;
	char *buf = malloc(size);
	size_t used = 0, n, skip = 0;
	off_t next = off + 1, first = 3 + d->value;
	struct fs_merge merge = { 0 };
	uint8_t *after = NULL;
	size_t after_len = 0;
	int err = 0, rc = KV_OK;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	for (; next < 3; next++) {
		n = add_entry(req, buf + used, size - used, next == 1 ? "." : "..", S_IFDIR,
		              next == 1 ? ino : FUSE_ROOT_ID, next, plus);
		if (n > size - used)
			goto done;
		used += n;
	}
	if (d->type == N_TXDIR && !d->key_len)
		goto done;      /* the top of a transaction: "." and ".." only */
	if (d->type == N_TXS || d->type == N_RESULTS) {
		for (; (size_t) (next - 3) < d->nnames; next++) {
			const char *name = d->names[next - 3];
			n = add_entry(req, buf + used, size - used, name,
			              d->type == N_TXS ? S_IFDIR : S_IFREG,
			              fs_pseudo_ino(name, strlen(name)), next, plus);
			if (n > size - used)
				break;
			used += n;
		}
		goto done;
	}
	if (next < first) {
		n = add_entry(req, buf + used, size - used, ".value", S_IFREG, 2, next, plus);
		if (n > size - used)
			goto done;
		used += n;
		next++;
	}
	if (off >= first && off == d->last_off && d->last_key) {
		after = d->last_key;
		after_len = d->last_len;
		d->last_key = NULL;
	} else if (off >= first) {
		skip = (size_t) (off - first + 1);
		next = first;
	}
	if (d->type == N_TXDIR)
		pthread_mutex_lock(&c->lock);
	struct tx *t = d->type == N_TXDIR ? tx_by_id(c, d->tx) : NULL;
	if (d->type == N_TXDIR && !t) {
		err = ENOENT;
		goto unlock;
	}
	/* Stored children and T's own, merged in key order, each as T shows it. */
	if ((rc = fs_merge_start(&merge, fs->db, d->key, d->key_len, after, after_len,
	                         d->over, d->nover, 0)) != KV_OK) {
		err = fs_errno(rc);
		goto unlock;
	}
	const uint8_t *key;
	size_t len;
	const kv_entry *e;
	const struct fs_extra *x;
	while ((rc = fs_merge_peek(&merge, &key, &len, &e, &x)) == KV_OK) {
		int isdir, shown;
		struct fuse_entry_param ep = { 0 };
		if (t) {
			struct view v;
			if ((err = view_of(fs, t, key, len, &v)))
				break;
			isdir = v.dir;
			shown = v.dir || v.value || v.empty;
			if (shown && plus && !skip)   /* a skipped entry is not sent */
				view_attr(fs, &v, &ep.attr);
			view_free(&v);
		} else {
			isdir = (e->flags & KV_ENTRY_CHILDREN) != 0;
			shown = 1;
		}
		char *name = NULL;
		if (shown && kv_name_from_part(key + d->key_len, len - d->key_len, &name) != KV_OK)
			shown = 0;
		if (shown && !fs_name_listable(fs, name, d->key, d->key_len, &d->told))
			shown = 0;
		if (shown && skip) {
			skip--;
			next++;
			shown = 0;
		}
		/*
		 * Inside T, readdirplus answers the lookups `ls -l` would make: the
		 * entry with its view's attributes, kept as long as a lookup's.
		 */
		struct node *nd = NULL;
		if (shown && plus && t) {
			enum node_type type = isdir ? N_TXDIR : N_TXFILE;
			if ((nd = node_ref(c, type, d->tx, key, len, NULL))) {
				ep.ino = nd->ino;
				ep.attr.st_ino = nd->ino;
				ep.entry_timeout = node_timeout(fs, type, len);
			}
		}
		if (shown) {
			n = nd ? fuse_add_direntry_plus(req, buf + used, size - used, name, &ep, next)
			       : add_entry(req, buf + used, size - used, name,
			                   isdir ? S_IFDIR : S_IFREG, fs_pseudo_ino(key, len), next, plus);
			if (n > size - used) {
				if (nd) {
					nd->nlookup--;
					node_drop_if_unused(c, nd);
				}
				kv_free(name);
				break;
			}
			used += n;
			uint8_t *copy = dup_bytes(key, len);
			if (copy) {
				free(d->last_key);
				d->last_key = copy;
				d->last_len = len;
				d->last_off = next;
			}
			next++;
		}
		kv_free(name);
		fs_merge_take(&merge);
	}
	if (rc != KV_OK && rc != KV_DONE && !err)
		err = fs_errno(rc);
unlock:
	if (d->type == N_TXDIR)
		pthread_mutex_unlock(&c->lock);
done:
	pthread_mutex_unlock(&d->lock);
	fs_merge_free(&merge);
	free(after);
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void ctl_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
	ctl_readdir_plus(req, ino, size, off, fi, 0);
}

static void ctl_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                            struct fuse_file_info *fi)
{
	ctl_readdir_plus(req, ino, size, off, fi, 1);
}

static void ctl_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	dirh_free((struct ctl_dirh *) (uintptr_t) fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- lifecycle ---- */

int fs_ctl_start(struct fs_data *fs)
{
	struct fs_ctl *c = calloc(1, sizeof(*c));
	static const enum node_type fixed[] = { N_TXS, N_RESULTS, N_WDIR };

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->next_ino = INO_TXS;
	for (size_t i = 0; i < 3; i++)
		if (!node_ref(c, fixed[i], 0, NULL, 0, NULL)) {
			fs->ctl = c;
			fs_ctl_free(fs);
			return -ENOMEM;
		}
	fs->ctl = c;
	return 0;
}

void fs_ctl_free(struct fs_data *fs)
{
	struct fs_ctl *c = fs ? fs->ctl : NULL;

	if (!c)
		return;
	for (size_t b = 0; b < NBUCKETS; b++) {
		struct node *n = c->by_ino[b], *next;
		for (; n; n = next) {
			next = n->next_ino;
			free(n->key);
			free(n->name);
			free(n);
		}
	}
	while (c->txs) {
		struct tx *t = c->txs;
		c->txs = t->next;
		tx_free(t);
	}
	while (c->results)
		result_forget(c, c->results->name);
	while (c->handles)      /* files still open when the mount ended */
		handle_free(c, c->handles);
	pthread_mutex_destroy(&c->lock);
	free(c);
	fs->ctl = NULL;
}

/* ---- the control trees' operations, for fs_route.c ---- */

int fs_ctl_owns(fuse_ino_t ino)
{
	return is_ctl(ino);
}

int fs_ctl_root_name(const char *name)
{
	return strcmp(name, ".tx") == 0 || strcmp(name, ".commit") == 0 ||
	       strcmp(name, ".watch") == 0;
}

void fs_ctl_forget(struct fs_data *fs, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fs->ctl, ino, nlookup);
}

static void ctl_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fs_of(req)->ctl, ino, nlookup);
	fuse_reply_none(req);
}

/*
 * mknod of a regular file in T is create without opening it; device nodes,
 * fifos and sockets have no place in a control tree.
 */
static void ctl_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      dev_t rdev)
{
	struct fs_data *fs = fs_of(req);
	fuse_ino_t ino;
	int err = EPERM;

	(void) rdev;
	if ((mode & S_IFMT) == S_IFREG || (mode & S_IFMT) == 0)
		err = make_file(fs, parent, name, 1, &ino);
	else
		log_ctl(fs, "make", parent, name, FS_WHY_NOT_FILE);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	struct fuse_entry_param ep = { .ino = ino };
	attr_of(fs, &ep.attr, S_IFREG | 0644, 0, 0);
	ep.attr.st_ino = ino;
	if (fuse_reply_entry(req, &ep) != 0)
		node_forget(fs->ctl, ino, 1);
}

static void ctl_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                        const char *name)
{
	(void) link;
	log_ctl(fs_of(req), "link", parent, name, FS_WHY_NO_LINKS);
	fuse_reply_err(req, EPERM);
}

static void ctl_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                     const char *newname)
{
	(void) ino;
	log_ctl(fs_of(req), "link", newparent, newname, FS_WHY_NO_LINKS);
	fuse_reply_err(req, EPERM);
}

const struct fuse_lowlevel_ops fs_ctl_ops = {
	.lookup       = ctl_lookup,
	.forget       = ctl_forget,
	.getattr      = ctl_getattr,
	.setattr      = ctl_setattr,
	.open         = ctl_open,
	.read         = ctl_read,
	.poll         = ctl_poll,
	.write        = ctl_write,
	.flush        = ctl_flush,
	.fsync        = ctl_fsync,
	.release      = ctl_release,
	.create       = ctl_create,
	.opendir      = ctl_opendir,
	.readdir      = ctl_readdir,
	.readdirplus  = ctl_readdirplus,
	.releasedir   = ctl_releasedir,
	.mkdir        = ctl_mkdir,
	.unlink       = ctl_unlink,
	.rmdir        = ctl_rmdir,
	.rename       = ctl_rename,
	.mknod        = ctl_mknod,
	.symlink      = ctl_symlink,
	.link         = ctl_link,
	.setxattr     = ctl_setxattr,
	.getxattr     = ctl_getxattr,
	.listxattr    = ctl_listxattr,
	.removexattr  = ctl_removexattr,
};
