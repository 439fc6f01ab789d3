/*
 * fs.h - the FUSE operations over the engine.
 *
 * mount/main.c creates a struct fs_data with fs_new(), passes it as the
 * session's userdata with fs_ops, starts the notifier with fs_start() once
 * the session exists, and frees everything with fs_free() after the loop.
 * The rest of this header is shared by the fs/ modules only.
 */
#ifndef KVFS_FS_H
#define KVFS_FS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include "kv.h"

/* Options of the mount that fs/ needs (set by mount/main.c). */
struct fs_options {
	double timeout;         /* entry and attribute timeout, seconds */
	unsigned poll_ms;       /* how often to look for other writers; 0 = never */
	int readonly;           /* -o ro */
	int foreground;         /* log to stderr instead of syslog */
	int shared;             /* -o allow_other: other users come in, as the modes show */
	const char *database;   /* statfs reports the space of its file system; NULL: none */
	const char *mountpoint; /* absolute; the INIT handler asks the kernel's name limit through it */
};

extern const struct fuse_lowlevel_ops fs_ops;

struct fs_data;
struct fs_handle;
/* `db` may be NULL and attached later (after daemonizing) with fs_attach. */
struct fs_data *fs_new(kv_db *db, const struct fs_options *opt);
void fs_attach(struct fs_data *fs, kv_db *db);
/* Start the notifier thread (polls kv_version, sends invalidations). */
int fs_start(struct fs_data *fs, struct fuse_session *se);
/* Stop the notifier (before closing the database). NULL is fine. */
void fs_stop(struct fs_data *fs);
/* Commit and free the file handles the kernel never released (after the
 * session loop, before the database is closed). */
void fs_close_handles(struct fs_data *fs);
/* At the end of the mount: log the dot-files with content, which go with it. */
void fs_log_scratch_left(struct fs_data *fs);
/* Stop and free everything; the session must no longer run. NULL is fine. */
void fs_free(struct fs_data *fs);

/* ---- shared by fs/ modules ---- */

enum fs_kind {
	FS_DIR = 1,        /* a key prefix (the root is the empty key) */
	FS_FILE,           /* a key's value: `name` in the parent, or `.value` */
	FS_SCRATCH,        /* an in-memory dot-name file; key = its directory */
};

/*
 * One inode the kernel knows about (or an open handle still uses).
 * Identity is (kind, key, name); `name` is set for scratch files only.
 * All fields except the constant `ino` and `kind` are guarded by fs->lock.
 */
struct fs_inode {
	fuse_ino_t ino;
	enum fs_kind kind;
	uint8_t *key;
	size_t key_len;
	char *name;
	uint64_t nlookup;       /* the kernel's lookup count */
	unsigned opens;         /* open handles */
	int detached;           /* replaced by a rename: no longer found by key */
	unsigned lives;         /* times detached: a handle opened in an earlier life stores nothing */
	struct fs_scratch *orphan; /* a removed scratch file's content, for its open handles */
	uint64_t seen_version;  /* value's version last reported to the kernel */
	/*
	 * While handles are open: the version whose size the last getattr of
	 * each of a few threads was given, and that value when it was read
	 * (fs_ops.c, read_as_told).
	 */
	struct fs_told {
		pid_t tid;
		uint64_t version;
		kv_entry *entry;
		uint64_t seq;   /* when: told_seq then */
	} told[4];
	unsigned told_last;     /* the slot given last */
	uint64_t told_seq;
	off_t size;             /* last reported size (files) */
	uint64_t size_version;  /* value's version `size` was computed for; 0 none */
	/*
	 * size and size_version are the file's current attributes, so that
	 * getattr needs no read: until a commit of this process changes the
	 * key (fs_inode_changed), another writer commits (fs->epoch moves),
	 * or the value expires (attr_expires, Unix ms; -1 never).
	 */
	int attr_known;
	uint64_t attr_epoch;
	int64_t attr_expires;
	/* the handle whose writes are not stored yet, and its text's length:
	 * the size shown while it writes */
	struct fs_handle *writing;
	off_t writing_size;
	int writing_told;       /* the kernel got that size, with the old mtime */
	/* a time-to-live set before the file was stored (cp -a sets it before
	 * it closes): the expiry instant its first commit gets, Unix ms; 0 none */
	int64_t expire_pending;
	struct fs_inode *next_ino, *next_id;
};

/* An in-memory dot-name file: lives until unlinked or renamed. */
struct fs_scratch {
	uint8_t *dir;           /* encoded key of the directory */
	size_t dir_len;
	char *name;
	char *data;
	size_t len, cap;
	struct timespec mtime;
	struct fs_scratch *next;
};

/*
 * A directory made by mkdir with no keys under it (yet), or (`file`) a key
 * created and closed without content: an empty file until a value is
 * written to it.
 */
struct fs_memdir {
	uint8_t *key;
	size_t key_len;
	int file;
	struct fs_memdir *next;
};

struct fs_data {
	kv_db *db;
	struct fs_options opt;
	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	struct timespec start;

	pthread_mutex_t lock;   /* inode table, scratch files, memdirs; never held across kv_* or fuse_* calls */
	struct fs_inode **by_ino, **by_id;
	size_t nbuckets, ninodes;
	size_t ninodes_high;    /* most inodes since memory was last given back */
	fuse_ino_t next_ino;
	struct fs_scratch *scratch;
	struct fs_memdir *memdirs;
	uint64_t changes;       /* keys changed by this process's commits */
	uint64_t epoch;         /* moves when another writer committed */

	/* notifier: a queue of invalidations and the poller */
	pthread_mutex_t qlock;  /* the queue and `stop`; taken after `lock`, never before */
	pthread_cond_t qcond;
	struct fs_notice *queue, *queue_tail;
	int stop;
	int started;
	pthread_t thread;
	uint64_t last_version;  /* kv_version_others at the last poll (notifier thread) */
	int poll_due;           /* under qlock: poll at the next turn even if that did not move */
	int file_gone;          /* notifier thread: the database file was replaced or removed */
	uint64_t asked, done;   /* under qlock: requests queued, and those the notifier finished */
	pthread_cond_t qdone;   /* done moved */

	struct fs_handle *handles;  /* open file handles of the key tree (fs_ops.c), under lock */
	struct fs_ctl *ctl;     /* the control trees .tx, .commit (fs_tx.c) */
	struct fs_watch *watch; /* open .watch files and their thread (fs_watch.c) */
	int name_max;           /* longest name a listing may send (atomic; fs_name_listable) */
};

/*
 * The kernel fails a whole directory listing (EIO) that holds a name over
 * its limit: 1024 bytes, or 4095 since it took names up to PATH_MAX. A
 * lookup of a longer name shows the larger limit (fs_name_probe sends one at INIT);
 * until then, listings keep to the smaller.
 */
#define FS_NAME_MAX_OLD 1024
#define FS_NAME_MAX_NEW 4095
void fs_name_seen(struct fs_data *fs, const char *name);
/* Look up a long name through the mount, from a thread of its own (at INIT). */
void fs_name_probe(struct fs_data *fs);
/* Can a listing send `name`? When not, logs the first such name of a listing (*told). */
int fs_name_listable(struct fs_data *fs, const char *name, const uint8_t *dir,
                     size_t dir_len, int *told);

/* ---- fs_inode.c ---- */

struct fs_inode *fs_inode_get(struct fs_data *fs, fuse_ino_t ino);  /* locked */
/* Find or create the inode for an identity and add `lookups` to its count. */
struct fs_inode *fs_inode_ref(struct fs_data *fs, enum fs_kind kind,
                              const uint8_t *key, size_t key_len,
                              const char *name, uint64_t lookups);
struct fs_inode *fs_inode_find(struct fs_data *fs, enum fs_kind kind,
                               const uint8_t *key, size_t key_len,
                               const char *name);              /* locked */
void fs_inode_forget(struct fs_data *fs, fuse_ino_t ino, uint64_t n);
/* After forgets: give memory back to the system once many inodes went. */
void fs_inode_trim(struct fs_data *fs);
/* A file removed or replaced while open, and the version it last had (0: unknown). */
int fs_gone_version(struct fs_data *fs, fuse_ino_t ino, uint64_t *version);
/* The version of a file's value, when getattr knows it without reading (fs_ops.c). */
int fs_known_version(struct fs_data *fs, fuse_ino_t ino, uint64_t *version);
/*
 * A new open of a removed file can only come through a name the kernel
 * still kept for it (an old spelling not yet forgotten): the file is its
 * key's again when nothing else is. Handles opened before stay its old life's.
 */
void fs_inode_reattach(struct fs_data *fs, struct fs_inode *in);
/* A commit of this process changed `key` (the engine's kv_on_change). */
void fs_inode_changed(struct fs_data *fs, const uint8_t *key, size_t key_len);
void fs_inode_open(struct fs_data *fs, struct fs_inode *in);
void fs_inode_close(struct fs_data *fs, struct fs_inode *in);
/* Forget what getattr told of an inode (no handle open any more). fs->lock held. */
void fs_told_clear(struct fs_inode *in);
/* Re-key inodes after a rename (every inode under `from` when `tree`). */
void fs_inode_rekey(struct fs_data *fs, enum fs_kind kind,
                    const uint8_t *from, size_t from_len,
                    const uint8_t *to, size_t to_len, int tree);
/* The file of an identity was removed: its inode keeps its open handles only. */
void fs_inode_detach(struct fs_data *fs, enum fs_kind kind, const uint8_t *key,
                     size_t key_len, const char *name);
/* Give the inode of one identity another (rename); detaches the target's. */
void fs_inode_move(struct fs_data *fs, enum fs_kind from_kind,
                   const uint8_t *from, size_t from_len, const char *from_name,
                   enum fs_kind to_kind, const uint8_t *to, size_t to_len,
                   const char *to_name);
/* Copy an inode's key (heap) under the lock; NULL when out of memory. */
uint8_t *fs_inode_key(struct fs_data *fs, fuse_ino_t ino, enum fs_kind *kind,
                      size_t *key_len, char **name);
void fs_inode_table_free(struct fs_data *fs);
/*
 * A stable d_ino for a listed name the kernel has no inode for (the same
 * bytes give the same number; bit 63 keeps it apart from real inodes).
 */
ino_t fs_pseudo_ino(const void *name, size_t len);

/* Scratch files (call with fs->lock held). */
struct fs_scratch *fs_scratch_find(struct fs_data *fs, const uint8_t *dir,
                                   size_t dir_len, const char *name);
struct fs_scratch *fs_scratch_add(struct fs_data *fs, const uint8_t *dir,
                                  size_t dir_len, const char *name);
void fs_scratch_remove(struct fs_data *fs, struct fs_scratch *s);
/*
 * A scratch file removed, or replaced by a rename onto its name: gone from
 * its directory, but its open handles keep reading and writing its content,
 * as on any file system (it moves to its inode, now detached, until the
 * last of them closes).
 */
void fs_scratch_drop(struct fs_data *fs, struct fs_scratch *s);
int fs_scratch_put(struct fs_scratch *s, const char *buf, size_t len, off_t off);
int fs_scratch_truncate(struct fs_scratch *s, size_t len);

/* Memory-only directories and empty files (call with fs->lock held). */
int fs_memdir_has(struct fs_data *fs, const uint8_t *key, size_t key_len);      /* key or a longer one */
/* Directory `key` holds something in memory: a memory-only entry below it, or a scratch file. */
int fs_memory_below(struct fs_data *fs, const uint8_t *key, size_t key_len);
int fs_memdir_exact(struct fs_data *fs, const uint8_t *key, size_t key_len);    /* directories only */
/* 'd' a directory (marked, or holding memory entries or scratch files), 'f' an empty file, 0 neither. */
int fs_memdir_type(struct fs_data *fs, const uint8_t *key, size_t key_len);
int fs_memdir_add(struct fs_data *fs, const uint8_t *key, size_t key_len);
int fs_memfile_add(struct fs_data *fs, const uint8_t *key, size_t key_len);
void fs_memfile_remove(struct fs_data *fs, const uint8_t *key, size_t key_len);
void fs_memdir_remove(struct fs_data *fs, const uint8_t *key, size_t key_len, int tree);
/* Keys are stored under `key`: it and its ancestors need no memory entry. */
void fs_memdir_stored(struct fs_data *fs, const uint8_t *key, size_t key_len);
/* Move memory-only directories and scratch files from one prefix to another. */
void fs_memdir_rename(struct fs_data *fs, const uint8_t *from, size_t from_len,
                      const uint8_t *to, size_t to_len);

/* ---- fs_errno.c ---- */

int fs_errno(int rc);
void fs_log(struct fs_data *fs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "a/b" for a key plus optional child name (heap, never NULL on success). */
char *fs_path(const uint8_t *key, size_t key_len, const char *name);
/*
 * One refusal's log line: "cannot WHAT 'PREFIX/PATH': REASON", PATH the key
 * and optional child name. `reason` may be the engine's message, which
 * making the path would reset: it is taken first.
 */
void fs_log_refusal(struct fs_data *fs, const char *what, const char *prefix,
                    const uint8_t *key, size_t key_len, const char *name, const char *reason);
/* The path of key-tree inode `ino`, or of `name` in it (heap, or NULL; fs_ops.c). */
char *tree_inode_path(struct fs_data *fs, fuse_ino_t ino, const char *name);
/* Reasons both trees give. */
#define FS_WHY_NO_LINKS "a key space has no links (cp copies a value)"
#define FS_WHY_NOT_FILE "only regular files hold values: no fifos, sockets or devices"
/*
 * A close is a flush, whichever process closes a copy of the descriptor.
 * Only the process that opened the file stores (or stages) at its close: a
 * child that inherited the descriptor, as in { echo '['; cat part; echo ']'; } > k,
 * closes it half written, and its exit must neither fail nor store that
 * half. What it wrote is stored at the opener's close, or at the last.
 */
int fs_flush_is_ours(fuse_req_t req, pid_t opener);
/* The mtime shown for a value of this version (and ctime). */
void fs_version_time(uint64_t version, struct timespec *ts);
/* Length of the parent prefix of a key: the offset of its last part. */
size_t fs_parent_len(const uint8_t *key, size_t key_len);
/*
 * A key left directory `dir` (a remove, a move, a commit): keep it as it
 * should show, an empty directory in memory or a file again (fs_ops.c).
 */
void fs_after_remove(struct fs_data *fs, const uint8_t *dir, size_t dir_len);

/* ---- encoded keys: byte order is key order ---- */

/* Unix time in ms, the clock the engine's expiry uses. */
static inline int64_t fs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int fs_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = alen && blen ? memcmp(a, b, alen < blen ? alen : blen) : 0;
	return c ? c : (alen > blen) - (alen < blen);
}

static inline int fs_key_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (!alen || memcmp(a, b, alen) == 0);
}

/* Is `key` the key `prefix` or under it (kv_key_under)? */
static inline int fs_key_within(const uint8_t *key, size_t len, const uint8_t *prefix, size_t plen)
{
	return fs_key_equal(key, len, prefix, plen) || kv_key_under(key, len, prefix, plen);
}

/* ---- fs_merge.c: a directory's children, stored and in memory, in key order ---- */

/* A child that exists only in memory: its whole key, one part under the directory. */
struct fs_extra {
	uint8_t *key;
	size_t len;
	char *name;             /* its name, when the lister keeps one */
	int dir;                /* a directory (else a file) */
};

/*
 * The children of one directory: those kv_children reads, merged with a
 * sorted array of unique extras, each key once. Holds its place between
 * calls; the extras must outlive it.
 */
struct fs_merge {
	kv_iter *it;            /* NULL once the stored children ran out */
	const kv_entry *e;      /* the stored child not yet taken, when have */
	int have;
	const struct fs_extra *x;
	size_t nx, xi;
	int take_x, take_e;     /* what the last peek returned */
};

/*
 * Start after the child `after` and its subtree (NULL: at the first child).
 * With names_only the stored entries carry no value (kv_children_keys).
 */
int fs_merge_start(struct fs_merge *m, kv_db *db, const uint8_t *dir, size_t dir_len,
                   const uint8_t *after, size_t after_len,
                   const struct fs_extra *x, size_t nx, int names_only);
/*
 * The next child, left in place until fs_merge_take: its key, its stored
 * entry (NULL when only in memory) and its extra (NULL when only stored).
 * KV_OK, KV_DONE at the end, or the engine's error.
 */
int fs_merge_peek(struct fs_merge *m, const uint8_t **key, size_t *len,
                  const kv_entry **stored, const struct fs_extra **extra);
void fs_merge_take(struct fs_merge *m);
void fs_merge_free(struct fs_merge *m);

/* ---- fs_text.c: the text of an open file (fs_ops.c and fs_tx.c) ---- */

/* A value as a file shows it: its JSON and a newline (heap, NUL after). */
int fs_value_text(int enc, const uint8_t *value, size_t value_len, char **text, size_t *len);

struct fs_text {
	char *buf;              /* the value as shown, or the content being written */
	size_t len, cap;
	int written;            /* written since the last flush */
	int failed;             /* refused at write() (EINVAL, EFBIG): never stored */
	kv_json_check *check;   /* incremental check of buf[0, fed) */
	size_t fed;
	size_t measured;        /* the text's length when its value was last measured */
	uint8_t *parsed;        /* the value of buf[0, parsed_at), judged at write() */
	size_t parsed_len, parsed_at;
	int parsed_enc;
	char why[320];          /* why write() refused it, for the log */
};

void fs_text_free(struct fs_text *t);
/* The bytes a read of `size` at `off` returns: their count, *p into the text. */
size_t fs_text_read(const struct fs_text *t, size_t size, off_t off, const char **p);
/*
 * Write at `off` (at the end when `append`). 0, ENOMEM, or EINVAL / EFBIG
 * once the text can no longer be a value, or is a whole document that is
 * not one (an unknown `$` tag): that refusal is kept, and every later
 * write and the flush return it.
 */
int fs_text_write(struct fs_text *t, const char *buf, size_t size, off_t off, int append);
/* Refuse what is being written with `err`, as a failed check would. */
void fs_text_refuse(struct fs_text *t, int err);
/* 1 when the whole text was judged a value at write(), of *value_len bytes. */
int fs_text_judged(const struct fs_text *t, size_t *value_len);
/* Cut or extend (with spaces) to `len`, as ftruncate on an open handle. */
int fs_text_truncate(struct fs_text *t, size_t len);
/*
 * At a flush: the value the text holds, when it was written since the
 * last flush. 0 with *value NULL when it was not; 0 with the value (heap,
 * kv_free); or EINVAL / EFBIG / ENOMEM with `why` telling the log what was
 * wrong (empty when write() already logged the refusal).
 */
int fs_text_flush(struct fs_text *t, int *enc, uint8_t **value, size_t *value_len,
                  char *why, size_t why_size);

/*
 * The value a file's text spells: 0 with the value (heap, kv_free), or
 * EINVAL / EFBIG / ENOMEM with `why` saying what was wrong, for the log.
 */
int fs_value_parse(const char *text, size_t len, int *enc, uint8_t **value,
                   size_t *value_len, char *why, size_t why_size);

/* ---- fs_xattr.c ---- */

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                 const char *value, size_t size, int flags);
void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* Answer a getxattr of `size` with the value: its length for size 0, else ERANGE or it. */
void fs_reply_xattr(fuse_req_t req, const char *v, size_t len, size_t size);
/* getxattr of a name kvfs does not provide: ENODATA for user.*, else ENOTSUP. */
int fs_xattr_absent(const char *name);
/* Milliseconds from now until a Unix-ms expiry (at least 1), or -1 for none. */
int64_t fs_expire_in(int64_t expires_at);
/*
 * The text user.kv.expire_in (milliseconds left) or user.kv.expires_at
 * (ISO 8601) reads for a Unix-ms expiry, into buf (64 bytes do).
 */
void fs_expiry_text(const char *name, int64_t expires, char *buf, size_t size);
/*
 * A user.kv.expire_in value: milliseconds in digits, trailing blanks
 * allowed, ending before Deno's latest date. 0 with *ms, or EINVAL.
 */
int fs_parse_ms(const char *value, size_t size, int64_t *ms);

/* ---- fs_notify.c ---- */

/* Queue work for the notifier thread (never notify from a handler). */
void fs_notify_inode(struct fs_data *fs, fuse_ino_t ino);
/* Drop the kernel's attributes of a file now, from inside a handler. */
void fs_notify_attr_now(struct fs_data *fs, fuse_ino_t ino);
void fs_notify_entry(struct fs_data *fs, fuse_ino_t parent, const char *name);
/*
 * Queue an entry invalidation for a key's name in its parent directory,
 * and a poll: the commit behind it may have changed more than that name.
 */
void fs_notify_key(struct fs_data *fs, const uint8_t *key, size_t key_len);
/*
 * Commits through the mount do not wake the poller (their handlers queue
 * precise invalidations); one that changed more than it can describe
 * asks for a poll.
 */
void fs_notify_poll(struct fs_data *fs);
/*
 * Wait until the notifier has carried out what was queued so far, so that
 * a reply after it finds the kernel's caches current, but at most max_ms:
 * the notifier can block on a directory lock the kernel holds until some
 * reply, maybe the caller's own.
 */
void fs_notify_wait(struct fs_data *fs, unsigned max_ms);

/* ---- fs_route.c routes each request to one of two op tables ---- */

/* The key tree's operations (fs_ops.c). */
extern const struct fuse_lowlevel_ops fs_key_ops;

/* ---- fs_tx.c: the control trees (.tx, .commit, .watch) ---- */

extern const struct fuse_lowlevel_ops fs_ctl_ops;
/* Control inodes (.tx, .commit, .watch and below) have numbers from here. */
#define FS_CTL_INO ((fuse_ino_t) 1 << 62)
int fs_ctl_owns(fuse_ino_t ino);
/* A name at the root that opens a control tree. */
int fs_ctl_root_name(const char *name);
void fs_ctl_forget(struct fs_data *fs, fuse_ino_t ino, uint64_t nlookup);
int fs_ctl_start(struct fs_data *fs);
void fs_ctl_free(struct fs_data *fs);

/* ---- fs_watch.c: streaming reads of .watch files ---- */

int fs_watch_start(struct fs_data *fs);
void fs_watch_stop(struct fs_data *fs);
/* Something was committed through this mount: look for changes now. */
void fs_watch_poke(struct fs_data *fs);
/* Handlers for a .watch file; `key` is the watched key or prefix. */
int fs_watch_open(struct fs_data *fs, const uint8_t *key, size_t key_len,
                  int prefix, struct fuse_file_info *fi);
void fs_watch_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void fs_watch_release(fuse_req_t req, struct fuse_file_info *fi);
/* The size and mtime watch file (key, prefix) shows; `fi`: the handle asked through, or NULL. */
void fs_watch_size(struct fs_data *fs, struct fuse_file_info *fi, const uint8_t *key,
                   size_t key_len, int prefix, struct stat *st);
/* Readable when lines it has not sent are waiting; ph is kept until then. */
void fs_watch_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph);

#endif
