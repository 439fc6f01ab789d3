/*
 * fs_ctl.h - what the control trees' files share: fs_tx.c (the .tx,
 * .commit and .watch trees and their FUSE operations) and fs_txn.c (the
 * transaction model behind .tx). Private to fs/; everything here runs
 * with ctl->lock held unless it says otherwise.
 */
#ifndef KVFS_FS_CTL_H
#define KVFS_FS_CTL_H

#include <stdlib.h>
#include <string.h>
#include "fs.h"

#define NBUCKETS     4096
#define RESULTS_MAX  64

enum node_type {
	N_TXS = 1,      /* .tx: one directory per transaction */
	N_RESULTS,      /* .commit: one file per recent commit */
	N_TXDIR,        /* a prefix inside a transaction (its top: the empty key) */
	N_TXFILE,       /* a key's value inside a transaction */
	N_RESULT,       /* .commit/NAME */
	N_WDIR,         /* a prefix under .watch (.watch itself: the empty key) */
	N_WKEY,         /* .watch/...: one key's changes */
	N_WALL,         /* .watch/.../.all: every change under a prefix */
};

struct node {
	fuse_ino_t ino;
	enum node_type type;
	uint64_t tx;            /* N_TXDIR, N_TXFILE */
	uint8_t *key;
	size_t key_len;
	char *name;             /* N_RESULT */
	uint64_t nlookup;
	unsigned opens;
	int removed;            /* its file was removed in T: open handles stage nothing */
	struct node *next_ino, *next_id;
};

enum op_kind { OP_SET = 1, OP_DELETE, OP_SUM, OP_MIN, OP_MAX };

struct op {
	enum op_kind kind;
	uint8_t *key;
	size_t key_len;
	int enc;                /* OP_SET */
	uint8_t *value;
	size_t value_len;
	int64_t expires_at;     /* OP_SET: when the value expires, Unix ms; 0 never */
	int stored_expiry;      /* OP_SET: a rewrite of a stored value, which keeps
	                           the expiry stored when T commits (expires_at shows
	                           the one T saw) */
	uint64_t operand;       /* OP_SUM, OP_MIN, OP_MAX */
};

struct check {
	uint8_t *key;
	size_t key_len;
	int absent;
	uint64_t version;
	/* seen absent by a lookup: checked only if T changes the key, and not
	 * counted against Deno's 100 checks (every new file is first looked up) */
	int implied;
};

/* mkdir inside T (a directory) or a file created and not yet written. */
struct mark {
	uint8_t *key;
	size_t key_len;
	int file;
	int64_t expires_at;     /* a file's: the expiry its first value gets, 0 none */
};

struct tx {
	uint64_t id;
	char *name;
	struct op *ops;
	size_t nops, capops;
	struct check *checks;
	size_t nchecks, capchecks;
	size_t nimplied;        /* of the checks, those only implied */
	struct mark *marks;
	size_t nmarks, capmarks;
	struct mark *gone;      /* stored prefixes emptied by T and removed by rmdir */
	size_t ngone, capgone;
	size_t bytes;           /* keys and values staged, as Deno counts a commit */
	size_t keys;            /* keys of the sets, sums, mins and maxes staged */
	int failed;             /* a limit was hit: the errno every commit gets */
	const char *over;       /* ... and Deno's message for that limit */
	struct tx *next;
};

struct result {
	char *name;
	char *text;
	struct result *next;    /* older */
};

struct ctl_handle;

struct fs_ctl {
	pthread_mutex_t lock;   /* everything below */
	struct ctl_handle *handles;   /* open files of transactions (fs_tx.c) */
	struct node *by_ino[NBUCKETS], *by_id[NBUCKETS];
	fuse_ino_t next_ino;
	uint64_t next_tx;
	struct tx *txs;
	struct result *results; /* newest first */
	size_t nresults;
};

/* The view of a key inside a transaction: the store with T applied. */
struct view {
	int value;              /* holds a value */
	int dir;                /* shown as a directory */
	int empty;              /* created inside T and not yet written */
	int staged;             /* T set or deleted exactly this key */
	int stored;             /* the store holds a value */
	int emptied;            /* a stored prefix whose every key T deleted */
	uint64_t version;       /* its version, when stored */
	int64_t expires_at;     /* Unix ms, when the value shown expires; -1: never */
	int enc;
	uint8_t *data;
	size_t len;
};

static inline int under(const uint8_t *key, size_t len, const uint8_t *prefix, size_t plen)
{
	return kv_key_under(key, len, prefix, plen);
}

static inline uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

/* ---- fs_txn.c: transactions, their views and their commit ---- */

struct tx *tx_by_id(struct fs_ctl *c, uint64_t id);
struct tx *tx_by_name(struct fs_ctl *c, const char *name);
void tx_free(struct tx *t);
void tx_unlink(struct fs_ctl *c, struct tx *t);
void result_forget(struct fs_ctl *c, const char *name);
void result_add(struct fs_ctl *c, const char *name, const char *text);
void mark_remove(struct tx *t, const uint8_t *key, size_t len, int tree);
int mark_add(struct tx *t, const uint8_t *key, size_t len, int file);
/* The mark of a file T created at `key` and has not written yet, or NULL. */
struct mark *mark_file(struct tx *t, const uint8_t *key, size_t len);
int gone_add(struct tx *t, const uint8_t *key, size_t len);
/*
 * Would staging `kind` of `key` (with a value of value_len bytes, or at
 * least that many) keep T within Deno's limits? 0; or E2BIG, T poisoned
 * and *why naming the limit (or that T had passed one already): the step
 * that crosses a limit fails, not a later one.
 */
int tx_fits(struct tx *t, enum op_kind kind, const uint8_t *key, size_t len,
            size_t value_len, const char **why);
/* Why T cannot commit any more: Deno's message for the limit it passed. */
const char *tx_over(const struct tx *t);
/* Why a check of a key of `len` bytes would pass a limit, or NULL. */
const char *tx_check_over(const struct tx *t, size_t len);
int tx_stage(struct tx *t, enum op_kind kind, const uint8_t *key, size_t len,
             int enc, const uint8_t *value, size_t value_len, uint64_t operand);
int tx_check(struct tx *t, const uint8_t *key, size_t len, int absent,
             uint64_t version, int explicit);
/*
 * T saw `key` as it is stored (absent, or at `version`) without a read of
 * its own: a lookup that found it absent, or a move of its value. Checked
 * at the commit if T sets or deletes the key, and not counted against
 * Deno's 100 checks.
 */
int tx_imply(struct tx *t, const uint8_t *key, size_t len, int absent, uint64_t version);
/* Lookups that found a name absent, recorded for the commit: at most this many. */
#define TX_MAX_IMPLIED 10000
/*
 * Move every key T shows at or under `src` to the same place under `dst`
 * (the caller checked that dst shows nothing and the two do not overlap):
 * a set of each value T sees at its new key and a delete of the old one,
 * with implied checks on each stored value moved and on each new key
 * being still absent; T's marks below src move too. All of it, or none:
 * E2BIG when the move would pass a limit (which poisons T, as any limit
 * does), ENAMETOOLONG for a new key too long.
 */
int tx_move(struct fs_data *fs, struct tx *t, const uint8_t *src, size_t src_len,
            const uint8_t *dst, size_t dst_len);
/*
 * Give `key` the expiry `at` (Unix ms; 0: none) in T, as user.kv.expire_in
 * does: a set T staged keeps its value and takes the expiry; a value T
 * shows from the store is staged again with it, with an implied check that
 * it still holds; a file T created empty gives it to its first value.
 * ENOENT when T shows no value, EPERM for a sum, min or max (they carry
 * none), E2BIG past a limit.
 */
int tx_expire(struct fs_data *fs, struct tx *t, const uint8_t *key, size_t len, int64_t at);
/*
 * A file of T written: the set of its new value keeps the expiry of the
 * value T showed, stored or given in T, as an edit does outside T.
 */
int tx_write(struct fs_data *fs, struct tx *t, const uint8_t *key, size_t len,
             int enc, const uint8_t *value, size_t value_len);
/* The set T just staged for `key` expires at `expires_at` (Unix ms, -1 never). */
void tx_set_expiry(struct tx *t, const uint8_t *key, size_t len, int64_t expires_at);
void view_free(struct view *v);
int view_has_children(struct fs_data *fs, struct tx *t, const uint8_t *key,
                      size_t len, int *err);
int view_of(struct fs_data *fs, struct tx *t, const uint8_t *key, size_t len,
            struct view *v);
int tx_commit(struct fs_data *fs, struct tx *t, uint64_t *version, const char **why);

#endif
