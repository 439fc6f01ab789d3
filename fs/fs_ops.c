/*
 * fs_ops.c - the key tree's FUSE operations and its op table (fs_key_ops):
 * names, attributes, lookup, files, mkdir, unlink, rmdir. Listings are in
 * fs_readdir.c, rename in fs_rename.c; what the three share, in fs_tree.h.
 * Each operation decodes, makes one engine call, and replies.
 *
 * A path component names one key part (kv_name_to_part). Inside a
 * directory a name is one of:
 *   - a key name: the key parent + part (a file, or a directory when longer
 *     keys exist under it or mkdir made it);
 *   - `.value`: the directory's own value, when its key holds one;
 *   - `.tx`, `.commit`, `.watch` at the root: the control trees, routed to
 *     fs_tx.c by fs_route.c before they reach this file;
 *   - any other dot-name: a scratch file kept in memory (fs_inode.c).
 *
 * Writes go to a per-handle buffer and are committed as one kv_set at the
 * first flush or fsync after a write (see fs_write and commit_handle).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "fs.h"
#include "fs_tree.h"

#define NAME_MAX_KVFS 4095       /* the kernel's limit per component; keys are the tighter one */

static int is_reserved(size_t dir_len, const char *name)
{
	return dir_len == 0 && (strcmp(name, ".tx") == 0 || strcmp(name, ".commit") == 0 ||
	                        strcmp(name, ".watch") == 0);
}

/* ---- names ---- */

void tree_name_free(struct fs_name *n)
{
	free(n->dir);
	if (n->key != n->dir)
		kv_free(n->key);
	kv_free(n->canon);
	n->dir = n->key = NULL;
	n->canon = NULL;
}

double tree_entry_timeout(const struct fs_data *fs, const struct fs_name *n)
{
	return n->canon ? 0 : fs->opt.timeout;
}

double tree_timeout(const struct fs_data *fs, int64_t expires)
{
	double t = fs->opt.timeout;
	if (expires >= 0 && t > 0) {
		/* the kernel rounds a timeout up to its clock tick (up to 10 ms) */
		double left = (double) (expires - fs_now_ms() - 10) / 1000;
		t = left < 0 ? 0 : left < t ? left : t;
	}
	return t;
}

void tree_forget_alias(struct fs_data *fs, fuse_ino_t parent, const struct fs_name *n)
{
	if (n->canon)
		fs_notify_entry(fs, parent, n->canon);
}

/*
 * Resolve `name` in directory `parent`. Errors: ENOENT (unknown parent, or
 * an undecodable name when !creating), EINVAL (undecodable when creating),
 * ENOTDIR, ENAMETOOLONG.
 */
int tree_resolve(struct fs_data *fs, fuse_ino_t parent, const char *name,
                   int creating, struct fs_name *n)
{
	enum fs_kind kind;
	uint8_t *part = NULL;
	size_t part_len;

	memset(n, 0, sizeof(*n));
	n->name = name;
	n->dir = fs_inode_key(fs, parent, &kind, &n->dir_len, NULL);
	if (!n->dir)
		return ENOENT;
	if (kind != FS_DIR) {
		tree_name_free(n);
		return ENOTDIR;
	}
	if (name[0] == '.') {
		if (is_reserved(n->dir_len, name)) {
			n->kind = N_RESERVED;
		} else if (strcmp(name, ".value") == 0 && n->dir_len) {
			n->kind = N_VALUE;
			n->key = n->dir;
			n->key_len = n->dir_len;
		} else if (strcmp(name, ".value") == 0) {
			tree_name_free(n);
			if (creating)
				fs_log(fs, "cannot create '.value': the top of the key space holds no value");
			return creating ? EPERM : ENOENT;
		} else {
			n->kind = N_SCRATCH;
		}
		return 0;
	}
	int rc = kv_name_to_part(name, strlen(name), &part, &part_len);
	if (rc != KV_OK)    /* n->dir stays, for the log line; the caller frees it */
		return rc == KV_NOMEM ? ENOMEM : creating ? EINVAL : ENOENT;
	n->kind = N_KEY;
	n->key_len = n->dir_len + part_len;
	if (n->key_len > KV_MAX_KEY_WRITE) {
		kv_free(part);
		return ENAMETOOLONG;    /* n->dir stays, for the log line */
	}
	n->key = malloc(n->key_len);
	if (!n->key) {
		kv_free(part);
		tree_name_free(n);
		return ENOMEM;
	}
	memcpy(n->key, n->dir, n->dir_len);
	memcpy(n->key + n->dir_len, part, part_len);
	if (kv_name_from_part(part, part_len, &n->canon) == KV_OK && strcmp(n->canon, name) == 0) {
		kv_free(n->canon);
		n->canon = NULL;
	}
	kv_free(part);
	return 0;
}

/* ---- attributes ---- */

void tree_base_attr(struct fs_data *fs, struct stat *st, mode_t mode)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->start;
}

void tree_dir_attr(struct fs_data *fs, struct stat *st)
{
	tree_base_attr(fs, st, S_IFDIR | 0755);
	st->st_size = 4096;
}

/*
 * Attributes of a value (size 0 when it does not decode). `size` >= 0 is
 * its size already known for this version: no conversion to text needed.
 */
static void file_attr_of(struct fs_data *fs, uint64_t version, off_t size, struct stat *st)
{
	tree_base_attr(fs, st, S_IFREG | 0644);
	st->st_size = size;
	st->st_blocks = (st->st_size + 511) / 512;
	fs_version_time(version, &st->st_mtim);
	st->st_ctim = st->st_mtim;
}

static void file_attr_sized(struct fs_data *fs, const kv_entry *e, off_t size,
                            struct stat *st)
{
	char *json = NULL;
	size_t len = 0;

	if (size < 0)
		size = kv_value_to_json(e->encoding, e->value, e->value_len, 0, &json, &len) == KV_OK
		       ? (off_t) len + 1 : 0;
	kv_free(json);
	file_attr_of(fs, e->version, size, st);
}

/*
 * getattr from memory: a file's attributes stay known from a read, or
 * from the commit of what a handle wrote, until something could change
 * them (see struct fs_inode). Not when the mount asked the kernel to cache
 * nothing (timeout=0), nor when it never looks for other writers.
 */
static int attr_cache_on(const struct fs_data *fs)
{
	return fs->opt.timeout > 0 && fs->opt.poll_ms > 0;
}

/* The counters a read's result is remembered against (fs->lock held). */
struct attr_stamp {
	uint64_t changes, epoch;
};

static struct attr_stamp attr_stamp_now(const struct fs_data *fs)
{
	return (struct attr_stamp) { fs->changes, fs->epoch };
}

/*
 * The attributes size and size_version now hold are current, as of stamp
 * `s`, which was taken before they were read or committed: unless any key
 * changed since (`commits` of them by the caller itself). fs->lock held.
 */
static void attr_remember(struct fs_data *fs, struct fs_inode *in, struct attr_stamp s,
                          uint64_t commits, int64_t expires)
{
	if (attr_cache_on(fs) && in && !in->detached && in->kind == FS_FILE &&
	    fs->changes == s.changes + commits && fs->epoch == s.epoch) {
		in->attr_known = 1;
		in->attr_epoch = s.epoch;
		in->attr_expires = expires;
	}
}

/* The file's attributes, when they are known (fs->lock held). */
static int attr_recall(struct fs_data *fs, const struct fs_inode *in, struct stat *st)
{
	if (!in || !in->attr_known || in->attr_epoch != fs->epoch || !in->size_version)
		return 0;
	if (in->attr_expires >= 0 && in->attr_expires <= fs_now_ms())
		return 0;
	file_attr_of(fs, in->size_version, in->size, st);
	return 1;
}

void tree_file_attr(struct fs_data *fs, const kv_entry *e, struct stat *st)
{
	file_attr_sized(fs, e, -1, st);
}

/*
 * The scratch file an inode shows: found by its name, or once removed the
 * content its open handles keep (NULL when none). fs->lock held.
 */
static struct fs_scratch *inode_scratch(struct fs_data *fs, const struct fs_inode *in)
{
	if (!in || in->kind != FS_SCRATCH)
		return NULL;
	return in->detached ? in->orphan : fs_scratch_find(fs, in->key, in->key_len, in->name);
}

static void scratch_attr(struct fs_data *fs, const struct fs_scratch *s, struct stat *st)
{
	tree_base_attr(fs, st, S_IFREG | 0644);
	st->st_size = (off_t) s->len;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = st->st_ctim = s->mtime;
}

/* Remember what the kernel was told about a file inode. */
void tree_note_seen(struct fs_data *fs, fuse_ino_t ino, const kv_entry *e, off_t size)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	if (in) {
		in->seen_version = e->version;
		if (in->size_version != e->version || in->size != size)
			in->attr_known = 0;   /* an older read may come last */
		in->size = size;
		in->size_version = e->version;
	}
	pthread_mutex_unlock(&fs->lock);
}

/* What a reply naming inode `ino` tells the kernel. */
static struct fuse_entry_param entry_param(const struct fs_data *fs, fuse_ino_t ino,
                                           const struct stat *st, double entry_timeout)
{
	struct fuse_entry_param ep = {
		.ino = ino,
		.attr = *st,
		.attr_timeout = fs->opt.timeout,
		.entry_timeout = entry_timeout,
	};
	ep.attr.st_ino = ino;
	return ep;
}

static void reply_entry(fuse_req_t req, struct fs_data *fs, enum fs_kind kind,
                        const uint8_t *key, size_t key_len, const char *name,
                        struct stat *st, const kv_entry *e, double entry_timeout)
{
	struct fs_inode *in = fs_inode_ref(fs, kind, key, key_len, name, 1);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (e)
		tree_note_seen(fs, in->ino, e, st->st_size);
	struct fuse_entry_param ep = entry_param(fs, in->ino, st, entry_timeout);
	if (e) {
		/* an expiring key's name and attributes are kept no longer than it lives */
		ep.attr_timeout = tree_timeout(fs, e->expires_at);
		if (ep.entry_timeout > ep.attr_timeout)
			ep.entry_timeout = ep.attr_timeout;
	}
	if (fuse_reply_entry(req, &ep) != 0)
		fs_inode_forget(fs, in->ino, 1);
}

/*
 * What a key is in the tree: 'd' directory, 'f' file, 'e' an empty file
 * kept in memory (created, never written), 0 absent (or an errno in *err).
 * A key with a value and a memory-only directory marker is a directory too
 * (the way to give a file key children).
 */
int tree_key_type(struct fs_data *fs, const uint8_t *key, size_t key_len,
                    kv_entry **ep, int *err)
{
	kv_entry *e = NULL;
	int rc = kv_lookup(fs->db, key, key_len, &e);
	int mem;

	*err = 0;
	pthread_mutex_lock(&fs->lock);
	mem = fs_memdir_type(fs, key, key_len);
	pthread_mutex_unlock(&fs->lock);
	if (rc == KV_NOTFOUND) {
		if (ep)
			*ep = NULL;
		return mem == 'f' ? 'e' : mem;
	}
	if (rc != KV_OK) {
		*err = fs_errno(rc);
		tree_log_failure(fs, "read", key, key_len);
		return 0;
	}
	int t = (e->flags & KV_ENTRY_CHILDREN) || mem == 'd' ? 'd' : 'f';
	if (ep)
		*ep = e;
	else
		kv_free(e);
	return t;
}

/* Is `key` an empty file kept in memory? */
static int is_memfile(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	pthread_mutex_lock(&fs->lock);
	int t = fs_memdir_type(fs, key, key_len);
	pthread_mutex_unlock(&fs->lock);
	return t == 'f';
}

/* ---- lookup, forget, getattr, setattr ---- */

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	struct stat st;
	kv_entry *e = NULL;
	int err = tree_resolve(fs, parent, name, 0, &n);

	if (err) {
		if (err == ENAMETOOLONG)
			tree_log_path(fs, "look up", n.dir, n.dir_len, name,
			              "the key would be longer than Deno's 2048 bytes");
		tree_name_free(&n);
		fuse_reply_err(req, err);
		return;
	}
	double et = tree_entry_timeout(fs, &n);
	switch (n.kind) {
	case N_RESERVED:
		err = ENOENT;    /* never reached: fs_route.c sends these to fs_tx.c */
		break;
	case N_SCRATCH:
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, n.dir, n.dir_len, name);
		if (s)
			scratch_attr(fs, s, &st);
		pthread_mutex_unlock(&fs->lock);
		if (!s)
			err = ENOENT;
		else
			reply_entry(req, fs, FS_SCRATCH, n.dir, n.dir_len, name, &st, NULL, et);
		break;
	case N_VALUE:
		if (kv_get(fs->db, n.key, n.key_len, &e) != KV_OK) {
			err = ENOENT;
			break;
		}
		tree_file_attr(fs, e, &st);
		reply_entry(req, fs, FS_FILE, n.key, n.key_len, NULL, &st, e, et);
		break;
	case N_KEY:
		switch (tree_key_type(fs, n.key, n.key_len, &e, &err)) {
		case 'd':
			tree_dir_attr(fs, &st);
			reply_entry(req, fs, FS_DIR, n.key, n.key_len, NULL, &st, NULL, et);
			break;
		case 'f':
			tree_file_attr(fs, e, &st);
			reply_entry(req, fs, FS_FILE, n.key, n.key_len, NULL, &st, e, et);
			break;
		case 'e':
			tree_base_attr(fs, &st, S_IFREG | 0644);
			reply_entry(req, fs, FS_FILE, n.key, n.key_len, NULL, &st, NULL, et);
			break;
		default:
			if (!err)
				err = ENOENT;
		}
		break;
	}
	if (err)
		fuse_reply_err(req, err);
	kv_free(e);
	tree_name_free(&n);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */
	fs_inode_forget(fs, ino, nlookup);
	fuse_reply_none(req);
	fs_inode_trim(fs);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */
	for (size_t i = 0; i < count; i++)
		fs_inode_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
	fs_inode_trim(fs);
}

/*
 * A file removed, or replaced by a rename, while open: its name now leads
 * elsewhere, but its handles keep its text, so it shows what it last was
 * (unlinked). Whether the inode is such a file.
 */
static int gone_attr(struct fs_data *fs, fuse_ino_t ino, struct stat *st)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	int gone = in && in->detached && in->kind == FS_FILE;
	if (gone && in->size_version)
		file_attr_of(fs, in->size_version, in->size, st);
	else if (gone)
		tree_base_attr(fs, st, S_IFREG | 0644);
	if (gone)
		st->st_nlink = 0;
	pthread_mutex_unlock(&fs->lock);
	return gone;
}

int fs_gone_version(struct fs_data *fs, fuse_ino_t ino, uint64_t *version)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	int gone = in && in->detached && in->kind == FS_FILE;
	*version = gone ? in->size_version : 0;
	pthread_mutex_unlock(&fs->lock);
	return gone;
}

int fs_known_version(struct fs_data *fs, fuse_ino_t ino, uint64_t *version)
{
	struct stat st;

	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	int known = attr_recall(fs, in, &st) && !in->writing;
	if (known)
		*version = in->size_version;
	pthread_mutex_unlock(&fs->lock);
	return known;
}

#define TOLD_SLOTS (sizeof(((struct fs_inode *) 0)->told) / sizeof(struct fs_told))

/*
 * Thread `tid` was given the attributes of `version` of an open file;
 * *entry, when not NULL, is that value as read (taken over). fs->lock held.
 */
static void told_note(struct fs_inode *in, pid_t tid, uint64_t version, kv_entry **entry)
{
	size_t i;

	if (!in || !in->opens || !tid)
		return;
	for (i = 0; i < TOLD_SLOTS && in->told[i].tid != tid; i++)
		;
	if (i == TOLD_SLOTS)
		i = (in->told_last + 1) % TOLD_SLOTS;
	struct fs_told *t = &in->told[i];
	if (t->version != version) {
		kv_free(t->entry);
		t->entry = NULL;
	}
	t->tid = tid;
	t->version = version;
	t->seq = ++in->told_seq;
	if (entry && *entry && !t->entry) {
		t->entry = *entry;
		*entry = NULL;
	}
	in->told_last = (unsigned) i;
}

/*
 * The size thread `tid` most likely has: what its own getattr got, if it
 * asked since `since` (its open); else the kernel answered it from the
 * attributes it keeps, which are the last ones given. 0: none.
 */
static uint64_t told_version(const struct fs_inode *in, pid_t tid, uint64_t since)
{
	for (size_t i = 0; i < TOLD_SLOTS; i++)
		if (in->told[i].tid && in->told[i].tid == tid && in->told[i].seq > since)
			return in->told[i].version;
	return in->told[in->told_last].version;
}

/* A copy of that version's value, from any slot that read it. fs->lock held. */
static int told_value(const struct fs_inode *in, uint64_t version, int *enc,
                      uint8_t **value, size_t *len)
{
	for (size_t i = 0; i < TOLD_SLOTS; i++) {
		const kv_entry *e = in->told[i].entry;
		if (e && e->version == version && (*value = malloc(e->value_len + 1))) {
			if (e->value_len)
				memcpy(*value, e->value, e->value_len);
			*len = e->value_len;
			*enc = e->encoding;
			return 1;
		}
	}
	return 0;
}

/* A file's attributes from memory; else the stamp to remember them by once read. */
static int attr_recalled(struct fs_data *fs, fuse_ino_t ino, pid_t tid, struct stat *st,
                         struct attr_stamp *s, int64_t *expires)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	int known = attr_recall(fs, in, st);
	if (known) {
		told_note(in, tid, in->size_version, NULL);
		*expires = in->attr_expires;
	}
	*s = attr_stamp_now(fs);
	pthread_mutex_unlock(&fs->lock);
	return known;
}

/*
 * Current attributes of an inode; 0 or an errno. `via`: the handle the
 * request came through, if any; when that handle has written what is not
 * stored yet, the size is its text's (only that handle sees it: others
 * read the stored value, so they get the stored size). *passing is set
 * while any handle writes: the kernel's copy is shared by every handle,
 * so it must not keep either size then. *expires (unless NULL) is when
 * the value expires, -1 for never.
 */
static int inode_attr(struct fs_data *fs, fuse_ino_t ino, const struct fs_handle *via,
                      pid_t tid, struct stat *st, int *passing, int64_t *expires)
{
	int64_t never = -1, *exp = expires ? expires : &never;
	struct attr_stamp stamp;
	enum fs_kind kind;
	size_t key_len;
	char *name = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &name);
	kv_entry *e = NULL;
	int err = 0;

	*exp = -1;
	if (!key)
		return ENOENT;
	if (kind == FS_DIR) {
		tree_dir_attr(fs, st);
	} else if (kind == FS_SCRATCH) {
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		struct fs_scratch *s = inode_scratch(fs, in);
		if (s)
			scratch_attr(fs, s, st), st->st_nlink = !in->detached;
		else if (in && in->opens)
			tree_base_attr(fs, st, S_IFREG | 0644), st->st_nlink = 0;
		else
			err = ENOENT;
		pthread_mutex_unlock(&fs->lock);
	} else if (gone_attr(fs, ino, st)) {
		/* removed or replaced while open: the file its handles still have */
	} else if (attr_recalled(fs, ino, tid, st, &stamp, exp)) {
		/* known without reading */
	} else if (kv_get(fs->db, key, key_len, &e) == KV_OK) {
		*exp = e->expires_at;
		/* The size computed for this very version still holds. */
		off_t size = -1;
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		if (in && in->size_version && in->size_version == e->version)
			size = in->size;
		pthread_mutex_unlock(&fs->lock);
		file_attr_sized(fs, e, size, st);
		tree_note_seen(fs, ino, e, st->st_size);
		pthread_mutex_lock(&fs->lock);
		in = fs_inode_get(fs, ino);
		attr_remember(fs, in, stamp, 0, e->expires_at);
		told_note(in, tid, e->version, &e);
		pthread_mutex_unlock(&fs->lock);
	} else {
		/* Gone, or created and not yet written: empty while kept or open. */
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		if ((in && in->opens) || fs_memdir_type(fs, key, key_len) == 'f')
			tree_base_attr(fs, st, S_IFREG | 0644);
		else
			err = ENOENT;
		pthread_mutex_unlock(&fs->lock);
	}
	if (passing)
		*passing = 0;
	if (kind == FS_FILE && !err) {
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		if (in && in->writing) {
			in->writing_told = 1;   /* what the commit will make old */
			if (passing)
				*passing = 1;
		}
		if (in && in->writing && in->writing == via) {
			st->st_size = in->writing_size;
			st->st_blocks = (st->st_size + 511) / 512;
		}
		pthread_mutex_unlock(&fs->lock);
	}
	st->st_ino = ino;
	kv_free(e);
	free(key);
	free(name);
	return err;
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct stat st;
	const struct fs_handle *via = fi ? (const struct fs_handle *) (uintptr_t) fi->fh : NULL;
	int64_t expires;
	int passing, err = inode_attr(fs, ino, via, fuse_req_ctx(req)->pid, &st, &passing,
	                              &expires);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, passing ? 0 : tree_timeout(fs, expires));
}

/* ---- file handles ---- */

struct fs_handle {
	struct fs_inode *in;
	pthread_mutex_t lock;   /* the fields below; flush and write may race (dup, fork) */
	int scratch;            /* content lives in the scratch file, not here */
	int writable;
	int wrote;              /* wrote since the last commit (not only truncated) */
	int edits;              /* its key held a value at the open, or since its commit: keep the expiry */
	unsigned life;          /* in->lives at the open: an earlier life's handle stores nothing */
	pid_t opener;           /* stores at its close (fs_flush_is_ours) */
	uint64_t version;       /* read-only: the version of the value in `text` */
	int read;               /* a read was answered: the text stays */
	off_t run;              /* reads in order from 0 reached here (-1: out of order) */
	int pass;               /* they reached the end: a read from 0 again is a new pass */
	uint64_t deferred;      /* the newest version a pass from 0 was too small for (read_again) */
	uint64_t open_seq;      /* in->told_seq after the open */
	struct fs_text text;    /* read-only: the value as shown; writable: the content being written */
	struct fs_handle *prev, *next;   /* fs->handles, under fs->lock */
};

static struct fs_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct fs_handle *) (uintptr_t) fi->fh;
}

static void handle_free(struct fs_data *fs, struct fs_handle *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&fs->lock);
	if (h->prev)
		h->prev->next = h->next;
	else if (fs->handles == h)
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	if (h->in->writing == h)
		h->in->writing = NULL;
	pthread_mutex_unlock(&fs->lock);
	fs_inode_close(fs, h->in);
	pthread_mutex_destroy(&h->lock);
	fs_text_free(&h->text);
	free(h);
}

/* The value of an entry as the file shows it: JSON and a newline (heap). */
int tree_value_text(struct fs_data *fs, const kv_entry *e, char **text, size_t *len)
{
	int err = fs_value_text(e->encoding, e->value, e->value_len, text, len);
	if (err && err != ENOMEM) {
		char why[300];
		snprintf(why, sizeof(why), "%s", kv_errmsg(fs->db));
		if (e->key)
			tree_log_path(fs, "read", e->key, e->key_len, NULL, why);
		else
			fs_log(fs, "cannot read a value: %s", why);
	}
	return err;
}

static struct fs_handle *handle_new(struct fs_data *fs, fuse_ino_t ino)
{
	struct fs_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_lock(&fs->lock);
	h->in = fs_inode_get(fs, ino);
	if (h->in) {
		h->life = h->in->lives;
		h->in->opens++;
		h->next = fs->handles;
		if (h->next)
			h->next->prev = h;
		fs->handles = h;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!h->in) {
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

/*
 * A handle writes what is not stored yet: a getattr through it gives its
 * text's size, and until it is stored or dropped (done_writing) no size is
 * given to keep, as the kernel's one size is every handle's. Called with
 * h->lock held, or before the handle is shared.
 */
static void note_writing(struct fs_data *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	h->in->writing = h;
	h->in->writing_size = (off_t) h->text.len;
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Set up a handle for `fi->flags`. 0 or an errno.
 * `known`, when not NULL, holds the key's entry as the caller just read it
 * (NULL: absent); it is taken over, and not read again.
 */
static int open_handle(struct fs_data *fs, fuse_ino_t ino, struct fuse_file_info *fi,
                       pid_t tid, int created, kv_entry **known, struct fs_handle **out)
{
	enum fs_kind kind;
	size_t key_len;
	char *name = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &name);
	int acc = fi->flags & O_ACCMODE, err = 0;
	kv_entry *e = known ? *known : NULL;
	struct fs_handle *h = NULL;

	if (known)
		*known = NULL;
	if (!key) {
		kv_free(e);
		return ENOENT;
	}
	if (kind == FS_DIR) {
		err = EISDIR;
		goto out;
	}
	if (kind == FS_FILE) {
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		pthread_mutex_unlock(&fs->lock);
		if (in)
			fs_inode_reattach(fs, in);
	}
	h = handle_new(fs, ino);
	if (!h) {
		err = ENOMEM;
		goto out;
	}
	h->writable = acc != O_RDONLY;
	if (kind == FS_SCRATCH) {
		h->scratch = 1;
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, key, key_len, name);
		if (s && (fi->flags & O_TRUNC) && h->writable)
			fs_scratch_truncate(s, 0);
		pthread_mutex_unlock(&fs->lock);
		if (!s)
			err = ENOENT;
		goto out;
	}
	int rc = known ? (e ? KV_OK : KV_NOTFOUND) : kv_get(fs->db, key, key_len, &e);
	int loaded = rc == KV_OK && !(created || (h->writable && (fi->flags & O_TRUNC)));
	if (loaded) {
		err = tree_value_text(fs, e, &h->text.buf, &h->text.len);
		h->text.cap = h->text.len;
		h->version = e->version;
	} else if (rc != KV_OK && rc != KV_NOTFOUND) {
		err = fs_errno(rc);
		tree_log_failure(fs, "read", key, key_len);
	} else if (rc == KV_NOTFOUND && !h->writable && !is_memfile(fs, key, key_len)) {
		err = ENOENT;
	}
	if (err)
		goto out;
	int stale = 0;
	if (rc == KV_OK) {
		h->edits = 1;
		pthread_mutex_lock(&fs->lock);
		/*
		 * The kernel may still hold the attributes of an older value (a
		 * commit the poll has not seen yet): a program sizing its read by
		 * fstat would cut this one. Drop them before the reply.
		 */
		stale = !h->writable && h->in->seen_version && h->in->seen_version != e->version;
		/* a newer value than getattr remembers: another writer's, not yet polled */
		if (h->in->size_version != e->version)
			h->in->attr_known = 0;
		if (loaded) {
			/* what the file is, should it be removed while open */
			h->in->size = (off_t) h->text.len;
			h->in->size_version = e->version;
			/* what the next fstat of the opener tells, and so its read */
			told_note(h->in, tid, e->version, &e);
			h->open_seq = h->in->told_seq;
		}
		pthread_mutex_unlock(&fs->lock);
		if (stale)
			fs_notify_attr_now(fs, ino);
	}
	if (!h->writable)
		fi->noflush = 1;   /* nothing to commit: save the round trip at close */
	else if (fi->flags & O_TRUNC) {
		/*
		 * After the reply the kernel sets its size of the file to 0,
		 * which every stat would see: a getattr answered meanwhile
		 * leaves it cached unless its size is not to be kept.
		 */
		note_writing(fs, h);
	}
	/*
	 * Every handle reads its own text: the value as it was at the open, or
	 * what it wrote. The kernel keeps one size and one page cache per
	 * inode, so through them a reader would read another handle's text,
	 * or its own cut or padded with zeros to a size another commit or
	 * write set in between. direct_io sends every read here.
	 */
	fi->direct_io = 1;
out:
	if (err) {
		handle_free(fs, h);
		h = NULL;
	}
	*out = h;
	kv_free(e);
	free(key);
	free(name);
	return err;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_handle *h;
	int err = open_handle(fs, ino, fi, fuse_req_ctx(req)->pid, 0, NULL, &h);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	h->opener = fuse_req_ctx(req)->pid;
	fi->fh = (uintptr_t) h;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fs, h);
}

/*
 * A handle opened on a dot-file follows it when it is renamed onto a key,
 * as on any file system: from then on it is that key's handle, its text
 * the value the rename stored. Called with h->lock held; whether the
 * handle is (still) a scratch file's.
 */
static int still_scratch(struct fs_data *fs, struct fs_handle *h)
{
	enum fs_kind kind;
	size_t key_len;
	kv_entry *e = NULL;

	if (!h->scratch)
		return 0;
	pthread_mutex_lock(&fs->lock);
	int moved = h->in->kind == FS_FILE && !h->in->detached;
	pthread_mutex_unlock(&fs->lock);
	if (!moved)
		return 1;
	uint8_t *key = fs_inode_key(fs, h->in->ino, &kind, &key_len, NULL);
	fs_text_free(&h->text);
	if (key && kv_get(fs->db, key, key_len, &e) == KV_OK &&
	    tree_value_text(fs, e, &h->text.buf, &h->text.len) == 0) {
		h->text.cap = h->text.len;
		h->version = e->version;
	}
	kv_free(e);
	free(key);
	h->scratch = 0;
	return 0;
}

/* The scratch file a scratch handle reads and writes. fs->lock held. */
static struct fs_scratch *handle_scratch(struct fs_data *fs, const struct fs_handle *h)
{
	return inode_scratch(fs, h->in);
}

/*
 * The first read of a handle shows the value whose size the reading
 * thread's last getattr gave (when newer than the open's). A program
 * that reads as many bytes as fstat said (Node's readFileSync) would
 * otherwise cut a value committed between its open and its fstat, as the
 * kernel's fstat carries no handle to tell which text it asks about.
 * Later reads go on in the same text, so one handle reads one value.
 * Called with h->lock held.
 */
static void read_as_told(struct fs_data *fs, struct fs_handle *h, pid_t tid)
{
	struct fs_text t = { 0 };
	int enc = 0, have = 0, found = 0;
	uint8_t *value = NULL;
	size_t value_len = 0;

	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = h->in;
	uint64_t told = told_version(in, tid, h->open_seq);
	if (h->version && told > h->version && !in->detached && h->life == in->lives)
		found = told_value(in, told, &enc, &value, &value_len);
	pthread_mutex_unlock(&fs->lock);
	if (found && fs_value_text(enc, value, value_len, &t.buf, &t.len) == 0) {
		t.cap = t.len;
		have = 1;
	}
	free(value);
	if (have) {
		fs_text_free(&h->text);
		h->text = t;
		h->version = told;
	}
}

/*
 * A handle that read its value to the end in order and reads from the
 * start once more (tail -f after a rewrite, a program that keeps a file
 * open and reads it again) reads the value stored now, as a file rewritten
 * in place reads on any file system: first the one this thread's last
 * fstat sized, as for a first read; else the newest, when the read takes
 * it whole. A read too small for it (sized by an older fstat, the kernel's
 * attributes not yet dropped after another process's commit) reads the
 * text it sized whole instead, and the kernel drops the size it keeps, so
 * the next fstat and read get the new value: a reader never gets a cut
 * one (a reader in small pieces gets the newest at the pass after, however
 * often the key changes meanwhile). Reads out of order (tail reading back
 * from the end, a format read from its end) stay in one value. A file
 * removed or replaced by a rename meanwhile keeps its text, as on any file
 * system. h->lock held.
 */
static void read_again(struct fs_data *fs, struct fs_handle *h, fuse_ino_t ino, pid_t tid,
                       size_t size)
{
	uint64_t had = h->version;
	enum fs_kind kind;
	size_t key_len;
	kv_entry *e = NULL;
	struct fs_text t = { 0 };

	read_as_told(fs, h, tid);
	if (h->version != had)
		return;
	pthread_mutex_lock(&fs->lock);
	int same = !h->in->detached && h->life == h->in->lives;
	pthread_mutex_unlock(&fs->lock);
	uint8_t *key = same ? fs_inode_key(fs, ino, &kind, &key_len, NULL) : NULL;
	if (key && kv_get(fs->db, key, key_len, &e) == KV_OK && e->version > had &&
	    tree_value_text(fs, e, &t.buf, &t.len) == 0) {
		if (t.len <= size || h->deferred > had) {
			t.cap = t.len;
			fs_text_free(&h->text);
			h->text = t;
			t.buf = NULL;
			h->version = e->version;
		} else {
			h->deferred = e->version;
		}
		/* what getattr remembers is older too: it must read again */
		pthread_mutex_lock(&fs->lock);
		if (h->in->size_version != e->version)
			h->in->attr_known = 0;
		pthread_mutex_unlock(&fs->lock);
		fs_notify_attr_now(fs, ino);
	}
	free(t.buf);
	kv_free(e);
	free(key);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_handle *h = handle_of(fi);

	pthread_mutex_lock(&h->lock);
	if (still_scratch(fs, h)) {
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = handle_scratch(fs, h);
		char *copy = NULL;
		size_t n = 0;
		if (s && (size_t) off < s->len) {
			n = s->len - (size_t) off < size ? s->len - (size_t) off : size;
			copy = malloc(n ? n : 1);
			if (copy)
				memcpy(copy, s->data + off, n);
		}
		pthread_mutex_unlock(&fs->lock);
		pthread_mutex_unlock(&h->lock);
		if (n && !copy)
			fuse_reply_err(req, ENOMEM);
		else
			fuse_reply_buf(req, copy, n);
		free(copy);
		return;
	}
	if (!h->read && !h->writable)
		read_as_told(fs, h, fuse_req_ctx(req)->pid);
	else if (off == 0 && h->pass && !h->writable)
		read_again(fs, h, ino, fuse_req_ctx(req)->pid, size);
	h->read = 1;
	if (off == 0)
		h->run = 0;
	const char *p;
	size_t n = fs_text_read(&h->text, size, off, &p);
	h->run = h->run == off ? off + (off_t) n : -1;
	h->pass = h->run >= 0 && (size_t) h->run >= h->text.len;
	fuse_reply_buf(req, p, n);
	pthread_mutex_unlock(&h->lock);
}

static void log_refusal(struct fs_data *fs, struct fs_handle *h, const char *reason)
{
	enum fs_kind kind;
	size_t key_len = 0;
	uint8_t *key = fs_inode_key(fs, h->in->ino, &kind, &key_len, NULL);

	fs_log_refusal(fs, "store", "", key, key_len, key ? NULL : "?", reason);
	free(key);
}

/*
 * Room for one more value on the database's file system? A commit appends
 * the value's pages to the write-ahead log, and a full disk fails it at
 * close, which a shell's redirection never reports. So the first write of
 * a value is refused (ENOSPC) while less than SPACE_MIN bytes are left:
 * enough for a value at Deno's limit and the pages around it.
 */
#define SPACE_MIN (256 * 1024)

static int db_has_room(struct fs_data *fs)
{
	struct statvfs sv;

	if (!fs->opt.database || statvfs(fs->opt.database, &sv) != 0)
		return 1;
	return (unsigned long long) sv.f_bavail * sv.f_frsize >= SPACE_MIN;
}

static void done_writing(struct fs_data *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	if (h->in->writing == h)
		h->in->writing = NULL;
	pthread_mutex_unlock(&fs->lock);
}

/* Did the kernel get attributes while the handle wrote, which the commit made old? */
static int writing_was_told(struct fs_data *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	int told = h->in->writing_told;
	h->in->writing_told = 0;
	pthread_mutex_unlock(&fs->lock);
	return told;
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
                     off_t off, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_handle *h = handle_of(fi);
	int err = 0;

	(void) ino;
	pthread_mutex_lock(&h->lock);
	if (still_scratch(fs, h)) {
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = handle_scratch(fs, h);
		if (!s)
			err = h->in->detached ? 0 : ENOENT;  /* removed: written to nothing */
		else if (fi->flags & O_APPEND)
			off = (off_t) s->len;
		if (s && fs_scratch_put(s, buf, size, off) < 0)
			err = ENOMEM;
		pthread_mutex_unlock(&fs->lock);
		pthread_mutex_unlock(&h->lock);
		if (err)
			fuse_reply_err(req, err);
		else
			fuse_reply_write(req, size);
		return;
	}
	int refused = h->text.failed;
	if (!refused && !h->text.written && !db_has_room(fs)) {
		fs_text_refuse(&h->text, ENOSPC);
		log_refusal(fs, h, "the disk holding the database is full");
		err = ENOSPC;
	} else {
		err = fs_text_write(&h->text, buf, size, off, fi->flags & O_APPEND);
	}
	if (!refused && (err == EINVAL || err == EFBIG))
		log_refusal(fs, h, h->text.why);
	if (!err) {
		h->wrote = 1;
		note_writing(fs, h);
	}
	pthread_mutex_unlock(&h->lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

/* Does the file show the committed value as exactly the text the handle wrote? */
static int stored_as_written(const struct fs_handle *h, int enc, const uint8_t *value,
                             size_t value_len)
{
	char *json = NULL;
	size_t n = 0;
	const struct fs_text *t = &h->text;
	int same = kv_value_to_json(enc, value, value_len, 0, &json, &n) == KV_OK &&
	           t->len == n + 1 && memcmp(t->buf, json, n) == 0 && t->buf[n] == '\n';

	kv_free(json);
	return same;
}

/*
 * The file a handle writes was renamed to a dot-name while open: what it
 * wrote becomes that scratch file's content, as it would on any file
 * system. Called with h->lock held.
 */
static int write_to_scratch(struct fs_data *fs, struct fs_handle *h,
                            const uint8_t *dir, size_t dir_len, const char *name)
{
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	struct fs_scratch *s = fs_scratch_find(fs, dir, dir_len, name);
	if (s && (fs_scratch_truncate(s, 0) < 0 ||
	          fs_scratch_put(s, h->text.buf, h->text.len, 0) < 0))
		err = ENOMEM;
	pthread_mutex_unlock(&fs->lock);
	h->text.written = 0;
	return err;
}

/*
 * Commit what a handle wrote: one kv_set to the key its inode has now (a
 * rename while open moves it). Called with h->lock held.
 */
static int commit_handle(struct fs_data *fs, struct fs_handle *h)
{
	enum fs_kind kind;
	size_t key_len;
	uint8_t *key = NULL, *value = NULL;
	size_t value_len = 0;
	int enc = 0, rc, err = 0;
	uint64_t version;
	char why[300], *name = NULL;

	if (still_scratch(fs, h) || !h->text.written)
		return 0;
	key = fs_inode_key(fs, h->in->ino, &kind, &key_len, &name);
	if (!key)
		return ENOMEM;
	pthread_mutex_lock(&fs->lock);
	int gone = h->in->detached || h->life != h->in->lives;
	pthread_mutex_unlock(&fs->lock);
	if (gone) {
		/*
		 * Removed, or replaced by a rename, while open: like any file
		 * system, the name no longer leads to what this handle writes.
		 */
		h->text.written = 0;
		log_refusal(fs, h, "removed or replaced while open; what was written is dropped");
		goto out;
	}
	if (kind == FS_SCRATCH) {
		err = write_to_scratch(fs, h, key, key_len, name);
		goto out;
	}
	if (!h->wrote && !h->edits && h->text.len == 0) {
		/* an empty file not stored, only truncated (touch, then truncate -s 0): still empty */
		h->text.written = 0;
		goto out;
	}
	err = fs_text_flush(&h->text, &enc, &value, &value_len, why, sizeof(why));
	if (err && why[0])
		log_refusal(fs, h, why);
	if (err || !value)
		goto out;
	pthread_mutex_lock(&fs->lock);
	struct attr_stamp stamp = attr_stamp_now(fs);
	int64_t pending = h->in->expire_pending, at = pending, expire_in = -1;
	pthread_mutex_unlock(&fs->lock);
	if (pending) {
		expire_in = fs_expire_in(pending);
	} else if (h->edits || !h->wrote) {
		/*
		 * An edit of a stored value keeps its expiry, as a file keeps its
		 * extended attributes when rewritten (setfattr -x drops it).
		 */
		kv_entry *old = NULL;
		if (kv_get(fs->db, key, key_len, &old) == KV_OK && old->expires_at >= 0) {
			at = old->expires_at;
			expire_in = fs_expire_in(at);
		}
		kv_free(old);
	}
	h->wrote = 0;
	rc = kv_set(fs->db, key, key_len, enc, value, value_len, expire_in, &version);
	if (rc != KV_OK) {
		char reason[300];
		snprintf(reason, sizeof(reason), "%s", kv_errmsg(fs->db));
		log_refusal(fs, h, *reason ? reason : kv_errstr(rc));
		err = fs_errno(rc);
		goto out;
	}
	h->edits = 1;
	int same = stored_as_written(h, enc, value, value_len);
	pthread_mutex_lock(&fs->lock);
	/* Keys now exist under the parent: it needs no memory marker. */
	fs_memdir_stored(fs, key, fs_parent_len(key, key_len));
	fs_memfile_remove(fs, key, key_len);
	same = same && h->in->opens == 1;
	if (pending && h->in->expire_pending == pending)
		h->in->expire_pending = 0;
	if (same) {
		/* the next getattr need not read the value to learn its attributes */
		h->in->size = (off_t) h->text.len;
		h->in->size_version = version;
		attr_remember(fs, h->in, stamp, 1, at ? at : -1);
	}
	pthread_mutex_unlock(&fs->lock);
	/*
	 * The kernel took its size from the text as written, not as stored;
	 * when they are the same text (and no other handle wrote), the write
	 * already made the kernel drop the size and mtime it had cached,
	 * unless it asked for them again while the handle wrote (a stat, or
	 * cp -p setting times before its close).
	 */
	if (!same || writing_was_told(fs, h))
		fs_notify_inode(fs, h->in->ino);
out:
	if (err) {
		/* refused: the kernel must not keep showing the size written */
		fs_notify_inode(fs, h->in->ino);
	}
	done_writing(fs, h);
	kv_free(value);
	free(key);
	free(name);
	return err;
}

static void flush_now(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);

	pthread_mutex_lock(&h->lock);
	int err = commit_handle(fs_of(req), h);
	pthread_mutex_unlock(&h->lock);
	fuse_reply_err(req, err);
}

/* The process (thread group) of a thread, from /proc; 0 when it is gone. */
static pid_t process_of(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) tid);
	FILE *f = fopen(path, "r");
	pid_t tgid = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/*
 * The kernel names the thread, not the process: a program may open on one
 * thread and close on another (Node's pool, Go, Java). Same thread: ours
 * at once; else the two threads' processes are compared, and an opener
 * already gone counts as ours.
 */
int fs_flush_is_ours(fuse_req_t req, pid_t opener)
{
	pid_t tid = fuse_req_ctx(req)->pid;

	if (tid == opener)
		return 1;
	pid_t mine = process_of(opener);
	return !mine || mine == process_of(tid);
}

/* The first flush after writing stores, when the process that opened the file closes it. */
static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	if (!fs_flush_is_ours(req, handle_of(fi)->opener)) {
		fuse_reply_err(req, 0);
		return;
	}
	flush_now(req, fi);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void) ino, (void) datasync;
	flush_now(req, fi);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_handle *h = handle_of(fi);

	(void) ino;
	pthread_mutex_lock(&h->lock);
	commit_handle(fs, h);   /* only a log line can report a failure now */
	pthread_mutex_unlock(&h->lock);
	handle_free(fs, h);
	fuse_reply_err(req, 0);
}

/*
 * After the session loop: a SIGTERM, or the last user of a lazily unmounted
 * tree, can end the loop before the kernel sent RELEASE for every handle.
 * Commit what they wrote, as release would have, and free them.
 */
void fs_close_handles(struct fs_data *fs)
{
	for (;;) {
		pthread_mutex_lock(&fs->lock);
		struct fs_handle *h = fs->handles;
		pthread_mutex_unlock(&fs->lock);
		if (!h)
			break;
		pthread_mutex_lock(&h->lock);
		commit_handle(fs, h);
		pthread_mutex_unlock(&h->lock);
		handle_free(fs, h);
	}
}

/*
 * Makes `name` a file, for create and mknod: a dot-name becomes a scratch
 * file, a key with nothing stored an empty file kept in memory until a value
 * is written (touch). A name that exists is EEXIST when `excl`, else it is
 * the file as it is (a directory: EISDIR). On success *in holds one lookup
 * and *st its attributes; *e is the key's entry as read now (NULL: none,
 * or not read) and *known whether it was read.
 */
static int make_file(struct fs_data *fs, const struct fs_name *n, const char *name,
                     int excl, struct stat *st, struct fs_inode **in,
                     kv_entry **e, int *known)
{
	int err = 0;

	*in = NULL;
	*e = NULL;
	*known = 0;
	switch (n->kind) {
	case N_RESERVED:
		return EPERM;
	case N_SCRATCH:
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, n->dir, n->dir_len, name);
		if (s && excl)
			err = EEXIST;
		else if (!s && !(s = fs_scratch_add(fs, n->dir, n->dir_len, name)))
			err = ENOMEM;
		if (!err)
			scratch_attr(fs, s, st);
		pthread_mutex_unlock(&fs->lock);
		if (err)
			return err;
		*in = fs_inode_ref(fs, FS_SCRATCH, n->dir, n->dir_len, name, 1);
		break;
	case N_VALUE:
		if (excl) {
			/* open_handle reads the value itself when it is not known */
			int rc = kv_get(fs->db, n->key, n->key_len, e);
			*known = 1;
			if (rc == KV_OK)
				return EEXIST;
			if (rc != KV_NOTFOUND)
				return fs_errno(rc);
		}
		tree_base_attr(fs, st, S_IFREG | 0644);
		*in = fs_inode_ref(fs, FS_FILE, n->key, n->key_len, NULL, 1);
		break;
	case N_KEY: {
		/* open_handle needs the entry too: read it once */
		int t = tree_key_type(fs, n->key, n->key_len, e, &err);
		*known = 1;
		if (err)
			return err;
		if (t && excl)
			return EEXIST;
		if (t == 'd')
			return EISDIR;
		if (!t) {
			/* Shown as an empty file until a value is written (touch). */
			pthread_mutex_lock(&fs->lock);
			err = fs_memfile_add(fs, n->key, n->key_len) < 0 ? ENOMEM : 0;
			pthread_mutex_unlock(&fs->lock);
			if (err)
				return err;
		}
		tree_base_attr(fs, st, S_IFREG | 0644);
		*in = fs_inode_ref(fs, FS_FILE, n->key, n->key_len, NULL, 1);
		break;
	}
	}
	return *in ? 0 : ENOMEM;
}

static void log_bad_name(struct fs_data *fs, const struct fs_name *n, const char *name)
{
	char *path = n->dir ? fs_path(n->dir, n->dir_len, name) : NULL;
	fs_log(fs, "cannot create '%s': not a valid key name", path ? path : name);
	free(path);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	struct stat st;
	struct fs_inode *in = NULL;
	struct fs_handle *h = NULL;
	kv_entry *e = NULL;
	int known = 0, err = tree_resolve(fs, parent, name, 1, &n);

	(void) mode;
	if (!err)
		err = make_file(fs, &n, name, fi->flags & O_EXCL, &st, &in, &e, &known);
	if (err)
		goto fail;
	err = open_handle(fs, in->ino, fi, fuse_req_ctx(req)->pid, 1, known ? &e : NULL, &h);
	if (err) {
		fs_inode_forget(fs, in->ino, 1);
		goto fail;
	}
	h->opener = fuse_req_ctx(req)->pid;
	fi->fh = (uintptr_t) h;
	struct fuse_entry_param ep = entry_param(fs, in->ino, &st, tree_entry_timeout(fs, &n));
	if (fuse_reply_create(req, &ep, fi) != 0) {
		handle_free(fs, h);
		fs_inode_forget(fs, in->ino, 1);
	}
	tree_name_free(&n);
	return;
fail:
	if (err == EINVAL)
		log_bad_name(fs, &n, name);
	kv_free(e);
	tree_name_free(&n);
	fuse_reply_err(req, err);
}

/*
 * Truncate to `size` outside a handle: `truncate -s`. The result must still
 * be a valid value, so only sizes that keep valid JSON succeed.
 */
static int truncate_key(struct fs_data *fs, const uint8_t *key, size_t key_len, off_t size)
{
	kv_entry *e = NULL;
	char *text = NULL;
	size_t len = 0, vlen;
	uint8_t *v = NULL;
	int enc, err, rc = kv_get(fs->db, key, key_len, &e);

	if (rc != KV_OK)
		return fs_errno(rc);
	err = tree_value_text(fs, e, &text, &len);
	if (err)
		goto out;
	if ((size_t) size == len)
		goto out;
	if ((size_t) size > len) {
		err = EINVAL;
		goto out;
	}
	rc = kv_value_from_json(text, (size_t) size, &enc, &v, &vlen);
	if (rc == KV_OK)   /* an edit of the value: its expiry stays */
		rc = kv_set(fs->db, key, key_len, enc, v, vlen, fs_expire_in(e->expires_at), NULL);
	err = fs_errno(rc);
out:
	if (err) {
		char *path = fs_path(key, key_len, NULL);
		fs_log(fs, "cannot truncate '%s': %s", path ? path : "?",
		       err == EINVAL ? "the value would not be valid JSON" : strerror(err));
		free(path);
	}
	kv_free(v);
	kv_free(e);
	free(text);
	return err;
}

/*
 * Does the inode show what is stored? Not a dot-file, nor a file created
 * and not written yet, nor one whose new content is being written.
 */
static int is_stored(struct fs_data *fs, fuse_ino_t ino)
{
	enum fs_kind kind;
	size_t key_len;
	kv_entry *e = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, NULL);

	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	int writing = in && in->writing;
	pthread_mutex_unlock(&fs->lock);
	int stored = !key || kind == FS_DIR || (kind == FS_FILE && !writing &&
	             kv_get(fs->db, key, key_len, &e) != KV_NOTFOUND);

	kv_free(e);
	free(key);
	return stored;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct stat st;
	/*
	 * The reply sets the kernel's one size of the file, which every stat
	 * sees (a timeout of 0 still holds for the rest of the kernel's tick):
	 * it is the stored value's, never a handle's text being written
	 * (read back through direct_io, it needs no size in the kernel).
	 */
	int64_t expires = -1;
	int own = 0, err = inode_attr(fs, ino, NULL, 0, &st, &own, &expires);

	if (err)
		goto out;
	if ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (st.st_mode & 07777))
		err = EPERM;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid)
		err = EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)
		err = EPERM;
	if (err && !is_stored(fs, ino))
		err = 0;   /* not stored yet: rsync's, install's and cp -a's fchmod while they write */
	/*
	 * A directory is a key prefix, with nowhere to keep a mode. When the
	 * mount is the owner's alone, a mode lets no one else in anyway: any
	 * is taken and the fixed one stays shown, so that cp -a, rsync -a and
	 * tar -x of a tree with other modes work. Shared (allow_other), the
	 * modes shown are what lets others in, so a change stays EPERM.
	 */
	if (err && S_ISDIR(st.st_mode) && !fs->opt.shared)
		err = 0;
	if (err) {
		tree_log_inode(fs, "change the owner or mode of", ino, NULL, "kvfs shows fixed ones");
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(st.st_mode)) {
			err = EISDIR;
			goto out;
		}
		struct fs_handle *h = fi ? handle_of(fi) : NULL;
		if (h)
			pthread_mutex_lock(&h->lock);
		int keyed = h && !still_scratch(fs, h);
		if (keyed)
			err = fs_text_truncate(&h->text, (size_t) attr->st_size);
		if (keyed && !err)
			note_writing(fs, h);
		if (h)
			pthread_mutex_unlock(&h->lock);
		if (keyed) {
			own = 1;    /* the handle's text, not yet stored: the stored size, not kept */
		} else {
			enum fs_kind kind;
			size_t key_len;
			char *name = NULL;
			uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &name);
			pthread_mutex_lock(&fs->lock);
			struct fs_inode *in = fs_inode_get(fs, ino);
			int gone = in && in->detached;
			struct fs_scratch *s = inode_scratch(fs, in);
			if (s && fs_scratch_truncate(s, (size_t) attr->st_size) < 0)
				err = ENOMEM;
			else if (s)
				scratch_attr(fs, s, &st), st.st_nlink = !gone;
			pthread_mutex_unlock(&fs->lock);
			if (!key) {
				err = ENOENT;
			} else if (s) {
				/* done: a scratch file, or the content a removed one's handles keep */
			} else if (gone) {
				/* removed while open: its name may already be another file's */
				st.st_size = attr->st_size;    /* truncates nothing left */
			} else if (kind == FS_SCRATCH) {
				err = ENOENT;
			} else {
				err = truncate_key(fs, key, key_len, attr->st_size);
				if (!err)
					err = inode_attr(fs, ino, NULL, 0, &st, NULL, &expires);
			}
			free(key);
			free(name);
		}
	}
	/* Times are the versionstamp's: accept utimens and store nothing. */
out:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, own ? 0 : tree_timeout(fs, expires));
}

/*
 * The space the database can still grow into is its file system's, so df
 * shows that; names are limited as the kernel limits them.
 */
/* Like a file on disk: always ready, nothing to wait for. */
static void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                    struct fuse_pollhandle *ph)
{
	(void) ino;
	(void) fi;
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	const char *db = fs_of(req)->opt.database;
	struct statvfs under, sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_namemax = NAME_MAX_KVFS,
	};

	(void) ino;
	if (db && statvfs(db, &under) == 0) {
		sv.f_bsize = under.f_bsize;
		sv.f_frsize = under.f_frsize;
		sv.f_blocks = under.f_blocks;
		sv.f_bfree = under.f_bfree;
		sv.f_bavail = under.f_bavail;
	}
	fuse_reply_statfs(req, &sv);
}

/* ---- directories and names: mkdir, unlink, rmdir, rename ---- */

void tree_log_path(struct fs_data *fs, const char *what, const uint8_t *dir,
                     size_t dir_len, const char *name, const char *reason)
{
	fs_log_refusal(fs, what, "", dir, dir_len, name, reason);
}

const char *tree_value_leaf(struct fs_data *fs, enum fs_kind kind, const uint8_t *key,
                            size_t len)
{
	kv_entry *e = NULL;
	int dir = 0;

	if (kind != FS_FILE || !len)
		return NULL;
	if (kv_lookup(fs->db, key, len, &e) == KV_OK)
		dir = (e->flags & KV_ENTRY_CHILDREN) != 0;
	kv_free(e);
	if (!dir) {
		pthread_mutex_lock(&fs->lock);
		dir = fs_memdir_type(fs, key, len) == 'd';
		pthread_mutex_unlock(&fs->lock);
	}
	return dir ? ".value" : NULL;
}

char *tree_inode_path(struct fs_data *fs, fuse_ino_t ino, const char *name)
{
	enum fs_kind kind;
	size_t len;
	char *own = NULL, *path = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &len, &own);

	if (key && !name && !own)
		name = tree_value_leaf(fs, kind, key, len);
	if (key)
		path = fs_path(key, len, name ? name : own);
	free(key);
	free(own);
	return path;
}

void tree_log_inode(struct fs_data *fs, const char *what, fuse_ino_t ino, const char *name,
                    const char *reason)
{
	char why[512];
	snprintf(why, sizeof(why), "%s", reason);
	char *path = tree_inode_path(fs, ino, name);
	fs_log(fs, "cannot %s '%s': %s", what, path ? path : name ? name : "?", why);
	free(path);
}

void tree_log_failure(struct fs_data *fs, const char *what, const uint8_t *key, size_t key_len)
{
	char why[300];
	snprintf(why, sizeof(why), "%s", kv_errmsg(fs->db));
	/* a database file replaced or removed was logged once (fs_notify.c) */
	if (kv_check_file(fs->db) == KV_OK)
		tree_log_path(fs, what, key, key_len, NULL, why);
}

/*
 * A key left directory `dir` through the mount. If no key is left in it,
 * it stays as a memory-only directory (as on any file system, so `rm -r`
 * can rmdir it), unless it holds a value and nothing else: then it shows
 * as a file again, and the kernel must forget that it was a directory.
 * Scratch files left in it keep it a directory.
 */
void fs_after_remove(struct fs_data *fs, const uint8_t *dir, size_t dir_len)
{
	kv_entry *e = NULL;
	int rc;

	if (!dir_len)
		return;
	rc = kv_lookup(fs->db, dir, dir_len, &e);
	if (rc == KV_OK && (e->flags & KV_ENTRY_CHILDREN)) {
		kv_free(e);
		return;
	}
	int value = rc == KV_OK && (e->flags & KV_ENTRY_VALUE), scratch = 0;
	pthread_mutex_lock(&fs->lock);
	/* memory-only entries at or below it already make it a directory */
	int marked = fs_memdir_has(fs, dir, dir_len);
	for (struct fs_scratch *s = fs->scratch; s && !scratch; s = s->next)
		scratch = fs_key_equal(s->dir, s->dir_len, dir, dir_len);
	if (!marked && (!value || scratch))
		fs_memdir_add(fs, dir, dir_len);
	pthread_mutex_unlock(&fs->lock);
	if (!marked && value && !scratch)
		fs_notify_key(fs, dir, dir_len);
	kv_free(e);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	struct stat st;
	int err = tree_resolve(fs, parent, name, 1, &n);

	(void) mode;
	if (err)
		goto out;
	if (n.kind != N_KEY) {
		err = n.kind == N_VALUE ? EEXIST : EPERM;
		if (err == EPERM)
			tree_log_path(fs, "mkdir", n.dir, n.dir_len, name, "names starting with '.' are not keys");
		goto out;
	}
	if (tree_key_type(fs, n.key, n.key_len, NULL, &err) || err) {
		err = err ? err : EEXIST;
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	err = fs_memdir_add(fs, n.key, n.key_len) < 0 ? ENOMEM : 0;
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	tree_dir_attr(fs, &st);
	reply_entry(req, fs, FS_DIR, n.key, n.key_len, NULL, &st, NULL,
	            tree_entry_timeout(fs, &n));
	tree_name_free(&n);
	return;
out:
	if (err == EINVAL)
		tree_log_path(fs, "mkdir", n.dir, n.dir_len, name, "not a valid key name");
	tree_name_free(&n);
	fuse_reply_err(req, err);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	kv_entry *e = NULL;
	int err = tree_resolve(fs, parent, name, 0, &n);

	if (err)
		goto out;
	if (n.kind == N_RESERVED) {
		err = EPERM;
		fs_log(fs, "cannot remove '%s': " TREE_WHY_RESERVED, name);
	} else if (n.kind == N_SCRATCH) {
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, n.dir, n.dir_len, name);
		if (s)
			fs_scratch_drop(fs, s);
		pthread_mutex_unlock(&fs->lock);
		err = s ? 0 : ENOENT;
		if (s) {
			fs_inode_detach(fs, FS_SCRATCH, n.dir, n.dir_len, name);
			fs_after_remove(fs, n.dir, n.dir_len);
		}
	} else {
		int t = n.kind == N_VALUE ? 'f' : tree_key_type(fs, n.key, n.key_len, &e, &err);
		if (!err && t == 'd')
			err = EISDIR;
		else if (!err && n.kind == N_VALUE && kv_get(fs->db, n.key, n.key_len, &e) != KV_OK)
			err = ENOENT;
		else if (!err && !t)
			err = ENOENT;
		else if (!err && t == 'e') {
			pthread_mutex_lock(&fs->lock);
			fs_memfile_remove(fs, n.key, n.key_len);
			pthread_mutex_unlock(&fs->lock);
			fs_inode_detach(fs, FS_FILE, n.key, n.key_len, NULL);
			fs_after_remove(fs, n.dir, n.dir_len);
		} else if (!err) {
			int rc = kv_delete(fs->db, n.key, n.key_len, NULL);
			err = fs_errno(rc);
			if (err)
				tree_log_path(fs, "remove", n.dir, n.dir_len, name, kv_errmsg(fs->db));
			else
				fs_inode_detach(fs, FS_FILE, n.key, n.key_len, NULL);
			if (!err && n.kind == N_KEY)
				fs_after_remove(fs, n.dir, n.dir_len);
		}
	}
	if (!err)
		tree_forget_alias(fs, parent, &n);
out:
	kv_free(e);
	tree_name_free(&n);
	fuse_reply_err(req, err);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	kv_entry *e = NULL;
	int err = tree_resolve(fs, parent, name, 0, &n);

	if (err)
		goto out;
	if (n.kind != N_KEY) {
		err = n.kind == N_SCRATCH || n.kind == N_VALUE ? ENOTDIR : EPERM;
		if (n.kind == N_RESERVED)
			fs_log(fs, "cannot remove '%s': " TREE_WHY_RESERVED, name);
		goto out;
	}
	int rc = kv_lookup(fs->db, n.key, n.key_len, &e);
	if (rc != KV_OK && rc != KV_NOTFOUND) {
		err = fs_errno(rc);
		goto out;
	}
	if (rc == KV_OK && (e->flags & KV_ENTRY_CHILDREN)) {
		err = ENOTEMPTY;
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	int exact = fs_memdir_exact(fs, n.key, n.key_len);
	int below = fs_memory_below(fs, n.key, n.key_len);
	if (below || (exact && rc == KV_OK))
		err = ENOTEMPTY;       /* children in memory, or its `.value` */
	else if (rc == KV_OK)
		err = ENOTDIR;         /* a file */
	else if (!exact)
		err = ENOENT;
	else
		fs_memdir_remove(fs, n.key, n.key_len, 0);
	pthread_mutex_unlock(&fs->lock);
	if (!err) {
		fs_after_remove(fs, n.dir, n.dir_len);
		tree_forget_alias(fs, parent, &n);
	}
out:
	kv_free(e);
	tree_name_free(&n);
	fuse_reply_err(req, err);
}

/*
 * mknod of a regular file is create without opening it (tar --xattrs makes
 * its files so); device nodes, fifos and sockets have no place in a key space.
 */
static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, dev_t rdev)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	struct stat st;
	struct fs_inode *in = NULL;
	kv_entry *e = NULL;
	int known, err;

	(void) rdev;
	if ((mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != 0) {
		tree_log_inode(fs, "make", parent, name, FS_WHY_NOT_FILE);
		fuse_reply_err(req, EPERM);
		return;
	}
	err = tree_resolve(fs, parent, name, 1, &n);
	if (!err)
		err = make_file(fs, &n, name, 1, &st, &in, &e, &known);
	if (err == EINVAL)
		log_bad_name(fs, &n, name);
	if (err) {
		fuse_reply_err(req, err);
	} else {
		struct fuse_entry_param ep = entry_param(fs, in->ino, &st,
		                                         tree_entry_timeout(fs, &n));
		if (fuse_reply_entry(req, &ep) != 0)
			fs_inode_forget(fs, in->ino, 1);
	}
	kv_free(e);
	tree_name_free(&n);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void) link;
	tree_log_inode(fs_of(req), "link", parent, name, FS_WHY_NO_LINKS);
	fuse_reply_err(req, EPERM);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void) ino;
	tree_log_inode(fs_of(req), "link", newparent, newname, FS_WHY_NO_LINKS);
	fuse_reply_err(req, EPERM);
}

/* ---- the op table ---- */

const struct fuse_lowlevel_ops fs_key_ops = {
	.lookup       = fs_lookup,
	.forget       = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr      = fs_getattr,
	.setattr      = fs_setattr,
	.open         = fs_open,
	.read         = fs_read,
	.poll         = fs_poll,
	.write        = fs_write,
	.flush        = fs_flush,
	.fsync        = fs_fsync,
	.release      = fs_release,
	.create       = fs_create,
	.opendir      = tree_opendir,
	.readdir      = tree_readdir,
	.readdirplus  = tree_readdirplus,
	.releasedir   = tree_releasedir,
	.statfs       = fs_statfs,
	.mkdir        = fs_mkdir,
	.unlink       = fs_unlink,
	.rmdir        = fs_rmdir,
	.rename       = tree_rename,
	.mknod        = fs_mknod,
	.symlink      = fs_symlink,
	.link         = fs_link,
	.setxattr     = fs_setxattr,
	.getxattr     = fs_getxattr,
	.listxattr    = fs_listxattr,
	.removexattr  = fs_removexattr,
};

struct fs_data *fs_new(kv_db *db, const struct fs_options *opt)
{
	struct fs_data *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs_attach(fs, db);
	fs->opt = *opt;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->start);
	fs->next_ino = FUSE_ROOT_ID;
	fs->name_max = FS_NAME_MAX_OLD;    /* until the kernel shows it takes more */
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcond, NULL);
	pthread_cond_init(&fs->qdone, NULL);
	/* The root: key [], never forgotten. */
	struct fs_inode *root = fs_inode_ref(fs, FS_DIR, (const uint8_t *) "", 0, NULL, 1);
	if (!root || root->ino != FUSE_ROOT_ID) {
		fs_free(fs);
		return NULL;
	}
	return fs;
}
