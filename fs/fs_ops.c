/*
 * fs_ops.c - the FUSE low-level operations: decode, one engine call, reply.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "fs.h"

#define MTIME_EPOCH 1704067200   /* 2024-01-01T00:00:00Z: mtime = epoch + version ns */
#define NAME_MAX_KVFS 4095       /* the kernel's limit per component; keys are the tighter one */

static struct fs_data *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int is_reserved(size_t dir_len, const char *name)
{
	return dir_len == 0 && (strcmp(name, ".tx") == 0 || strcmp(name, ".commit") == 0 ||
	                        strcmp(name, ".watch") == 0);
}

/* ---- names ---- */

enum name_kind { N_KEY, N_VALUE, N_SCRATCH, N_RESERVED };

struct fs_name {
	enum name_kind kind;
	uint8_t *dir;           /* the parent directory's key */
	size_t dir_len;
	uint8_t *key;           /* N_KEY: child key; N_VALUE: the directory's key */
	size_t key_len;
	const char *name;
};

static void name_free(struct fs_name *n)
{
	free(n->dir);
	if (n->key != n->dir)
		kv_free(n->key);
	n->dir = n->key = NULL;
}

/*
 * Resolve `name` in directory `parent`. Errors: ENOENT (unknown parent, or
 * an undecodable name when !creating), EINVAL (undecodable when creating),
 * ENOTDIR, ENAMETOOLONG.
 */
static int resolve(struct fs_data *fs, fuse_ino_t parent, const char *name,
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
		name_free(n);
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
			name_free(n);
			return creating ? EPERM : ENOENT;
		} else {
			n->kind = N_SCRATCH;
		}
		return 0;
	}
	int rc = kv_name_to_part(name, strlen(name), &part, &part_len);
	if (rc != KV_OK) {
		name_free(n);
		return rc == KV_NOMEM ? ENOMEM : creating ? EINVAL : ENOENT;
	}
	n->kind = N_KEY;
	n->key_len = n->dir_len + part_len;
	if (n->key_len > KV_MAX_KEY_WRITE) {
		kv_free(part);
		name_free(n);
		return ENAMETOOLONG;
	}
	n->key = malloc(n->key_len);
	if (!n->key) {
		kv_free(part);
		name_free(n);
		return ENOMEM;
	}
	memcpy(n->key, n->dir, n->dir_len);
	memcpy(n->key + n->dir_len, part, part_len);
	kv_free(part);
	return 0;
}

/* ---- attributes ---- */

static void stamp_time(uint64_t version, struct timespec *ts)
{
	ts->tv_sec = MTIME_EPOCH + (time_t) (version / 1000000000ULL);
	ts->tv_nsec = (long) (version % 1000000000ULL);
}

static void base_attr(struct fs_data *fs, struct stat *st, mode_t mode)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->start;
}

static void dir_attr(struct fs_data *fs, struct stat *st)
{
	base_attr(fs, st, S_IFDIR | 0755);
	st->st_size = 4096;
}

/*
 * Attributes of a value (size 0 when it does not decode). `size` >= 0 is
 * its size already known for this version: no conversion to text needed.
 */
static void file_attr_sized(struct fs_data *fs, const kv_entry *e, off_t size,
                            struct stat *st)
{
	char *json = NULL;
	size_t len = 0;

	base_attr(fs, st, S_IFREG | 0644);
	if (size >= 0)
		st->st_size = size;
	else if (kv_value_to_json(e->encoding, e->value, e->value_len, 0, &json, &len) == KV_OK)
		st->st_size = (off_t) len + 1;
	kv_free(json);
	st->st_blocks = (st->st_size + 511) / 512;
	stamp_time(e->version, &st->st_mtim);
	st->st_ctim = st->st_mtim;
}

static void file_attr(struct fs_data *fs, const kv_entry *e, struct stat *st)
{
	file_attr_sized(fs, e, -1, st);
}

static void scratch_attr(struct fs_data *fs, const struct fs_scratch *s, struct stat *st)
{
	base_attr(fs, st, S_IFREG | 0644);
	st->st_size = (off_t) s->len;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = st->st_ctim = s->mtime;
}

/* Remember what the kernel was told about a file inode. */
static void note_seen(struct fs_data *fs, fuse_ino_t ino, const kv_entry *e, off_t size)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	if (in) {
		in->seen_version = e->version;
		in->size = size;
		in->size_version = e->version;
	}
	pthread_mutex_unlock(&fs->lock);
}

static void reply_entry(fuse_req_t req, struct fs_data *fs, enum fs_kind kind,
                        const uint8_t *key, size_t key_len, const char *name,
                        struct stat *st, const kv_entry *e)
{
	struct fs_inode *in = fs_inode_ref(fs, kind, key, key_len, name, 1);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (e)
		note_seen(fs, in->ino, e, st->st_size);
	struct fuse_entry_param ep = {
		.ino = in->ino,
		.attr = *st,
		.attr_timeout = fs->opt.timeout,
		.entry_timeout = fs->opt.timeout,
	};
	ep.attr.st_ino = in->ino;
	if (fuse_reply_entry(req, &ep) != 0)
		fs_inode_forget(fs, in->ino, 1);
}

/*
 * What a key is in the tree: 'd' directory, 'f' file, 'e' an empty file
 * kept in memory (created, never written), 0 absent (or an errno in *err).
 * A key with a value and a memory-only directory marker is a directory too
 * (the way to give a file key children).
 */
static int key_type(struct fs_data *fs, const uint8_t *key, size_t key_len,
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
	int err = resolve(fs, parent, name, 0, &n);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
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
			reply_entry(req, fs, FS_SCRATCH, n.dir, n.dir_len, name, &st, NULL);
		break;
	case N_VALUE:
		if (kv_get(fs->db, n.key, n.key_len, &e) != KV_OK) {
			err = ENOENT;
			break;
		}
		file_attr(fs, e, &st);
		reply_entry(req, fs, FS_FILE, n.key, n.key_len, NULL, &st, e);
		break;
	case N_KEY:
		switch (key_type(fs, n.key, n.key_len, &e, &err)) {
		case 'd':
			dir_attr(fs, &st);
			reply_entry(req, fs, FS_DIR, n.key, n.key_len, NULL, &st, NULL);
			break;
		case 'f':
			file_attr(fs, e, &st);
			reply_entry(req, fs, FS_FILE, n.key, n.key_len, NULL, &st, e);
			break;
		case 'e':
			base_attr(fs, &st, S_IFREG | 0644);
			reply_entry(req, fs, FS_FILE, n.key, n.key_len, NULL, &st, NULL);
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
	name_free(&n);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_inode_forget(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_inode_forget(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Current attributes of an inode; 0 or an errno. */
static int inode_attr(struct fs_data *fs, fuse_ino_t ino, struct stat *st)
{
	enum fs_kind kind;
	size_t key_len;
	char *name = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &name);
	kv_entry *e = NULL;
	int err = 0;

	if (!key)
		return ENOENT;
	if (kind == FS_DIR) {
		dir_attr(fs, st);
	} else if (kind == FS_SCRATCH) {
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, key, key_len, name);
		struct fs_inode *in = fs_inode_get(fs, ino);
		if (s)
			scratch_attr(fs, s, st);
		else if (in && in->opens)
			base_attr(fs, st, S_IFREG | 0644), st->st_nlink = 0;
		else
			err = ENOENT;
		pthread_mutex_unlock(&fs->lock);
	} else if (kv_get(fs->db, key, key_len, &e) == KV_OK) {
		/* The size computed for this very version still holds. */
		off_t size = -1;
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		if (in && in->size_version && in->size_version == e->version)
			size = in->size;
		pthread_mutex_unlock(&fs->lock);
		file_attr_sized(fs, e, size, st);
		note_seen(fs, ino, e, st->st_size);
	} else {
		/* Gone, or created and not yet written: empty while kept or open. */
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_get(fs, ino);
		if ((in && in->opens) || fs_memdir_type(fs, key, key_len) == 'f')
			base_attr(fs, st, S_IFREG | 0644);
		else
			err = ENOENT;
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
	int err = inode_attr(fs, ino, &st);

	(void) fi;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, fs->opt.timeout);
}

/* ---- file handles ---- */

struct fs_handle {
	struct fs_inode *in;
	pthread_mutex_t lock;   /* the fields below; flush and write may race (dup, fork) */
	int scratch;            /* content lives in the scratch file, not here */
	int writable;
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
	pthread_mutex_unlock(&fs->lock);
	fs_inode_close(fs, h->in);
	pthread_mutex_destroy(&h->lock);
	fs_text_free(&h->text);
	free(h);
}

/* The value of an entry as the file shows it: JSON and a newline (heap). */
static int value_text(struct fs_data *fs, const kv_entry *e, char **text, size_t *len)
{
	int err = fs_value_text(e->encoding, e->value, e->value_len, text, len);
	if (err && err != ENOMEM)
		fs_log(fs, "cannot read a value: %s", kv_errmsg(fs->db));
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
 * Set up a handle for `fi->flags`; fills keep_cache. 0 or an errno.
 * `known`, when not NULL, holds the key's entry as the caller just read it
 * (NULL: absent); it is taken over, and not read again.
 */
static int open_handle(struct fs_data *fs, fuse_ino_t ino, struct fuse_file_info *fi,
                       int created, kv_entry **known, struct fs_handle **out)
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
	if (rc == KV_OK && !(created || (h->writable && (fi->flags & O_TRUNC)))) {
		err = value_text(fs, e, &h->text.buf, &h->text.len);
		h->text.cap = h->text.len;
	} else if (rc != KV_OK && rc != KV_NOTFOUND) {
		err = fs_errno(rc);
	} else if (rc == KV_NOTFOUND && !h->writable && !is_memfile(fs, key, key_len)) {
		err = ENOENT;
	}
	if (err)
		goto out;
	if (rc == KV_OK) {
		/* Keep the kernel's pages only when the value did not change since. */
		pthread_mutex_lock(&fs->lock);
		fi->keep_cache = !h->writable && h->in->version == e->version;
		h->in->version = e->version;
		pthread_mutex_unlock(&fs->lock);
	}
	if (!h->writable)
		fi->noflush = 1;   /* nothing to commit: save the round trip at close */
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
	int err = open_handle(fs, ino, fi, 0, NULL, &h);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
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
	    value_text(fs, e, &h->text.buf, &h->text.len) == 0)
		h->text.cap = h->text.len;
	kv_free(e);
	free(key);
	h->scratch = 0;
	return 0;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_handle *h = handle_of(fi);

	(void) ino;
	pthread_mutex_lock(&h->lock);
	if (still_scratch(fs, h)) {
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = h->in->kind == FS_SCRATCH && !h->in->detached
			? fs_scratch_find(fs, h->in->key, h->in->key_len, h->in->name) : NULL;
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
	const char *p;
	size_t n = fs_text_read(&h->text, size, off, &p);
	fuse_reply_buf(req, p, n);
	pthread_mutex_unlock(&h->lock);
}

static void log_refusal(struct fs_data *fs, struct fs_handle *h, const char *reason)
{
	enum fs_kind kind;
	size_t key_len;
	uint8_t *key = fs_inode_key(fs, h->in->ino, &kind, &key_len, NULL);
	char *path = key ? fs_path(key, key_len, NULL) : NULL;

	fs_log(fs, "cannot store '%s': %s", path ? path : "?", reason);
	free(path);
	free(key);
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
		struct fs_scratch *s = h->in->kind == FS_SCRATCH && !h->in->detached
			? fs_scratch_find(fs, h->in->key, h->in->key_len, h->in->name) : NULL;
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
	err = fs_text_write(&h->text, buf, size, off, fi->flags & O_APPEND);
	if (!refused && (err == EINVAL || err == EFBIG))
		log_refusal(fs, h, err == EINVAL ? "invalid JSON" : "value too large");
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
	int gone = h->in->detached;
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
	err = fs_text_flush(&h->text, &enc, &value, &value_len, why, sizeof(why));
	if (err && why[0])
		log_refusal(fs, h, why);
	if (err || !value)
		goto out;
	rc = kv_set(fs->db, key, key_len, enc, value, value_len, -1, &version);
	if (rc != KV_OK) {
		char reason[300];
		snprintf(reason, sizeof(reason), "%s", kv_errmsg(fs->db));
		log_refusal(fs, h, *reason ? reason : kv_errstr(rc));
		err = fs_errno(rc);
		goto out;
	}
	int same = stored_as_written(h, enc, value, value_len);
	pthread_mutex_lock(&fs->lock);
	/* Keys now exist under the parent: it needs no memory marker. */
	fs_memdir_stored(fs, key, fs_parent_len(key, key_len));
	fs_memfile_remove(fs, key, key_len);
	same = same && h->in->opens == 1;
	if (same) {
		/* the next getattr need not convert the value to learn its size */
		h->in->size = (off_t) h->text.len;
		h->in->size_version = version;
	}
	pthread_mutex_unlock(&fs->lock);
	/*
	 * The kernel's pages hold the text as written, not as stored; when
	 * they are the same text (and no other handle wrote), the write
	 * already made the kernel drop the size and mtime it had cached.
	 */
	if (!same)
		fs_notify_inode(fs, h->in->ino);
out:
	kv_free(value);
	free(key);
	free(name);
	return err;
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);

	(void) ino;
	pthread_mutex_lock(&h->lock);
	int err = commit_handle(fs_of(req), h);
	pthread_mutex_unlock(&h->lock);
	fuse_reply_err(req, err);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void) datasync;
	fs_flush(req, ino, fi);
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

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	struct stat st;
	struct fs_inode *in = NULL;
	struct fs_handle *h = NULL;
	kv_entry *e = NULL;
	int known = 0, err = resolve(fs, parent, name, 1, &n);

	(void) mode;
	if (err)
		goto fail;
	switch (n.kind) {
	case N_RESERVED:
		err = EPERM;
		break;
	case N_SCRATCH:
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, n.dir, n.dir_len, name);
		if (!s)
			s = fs_scratch_add(fs, n.dir, n.dir_len, name);
		if (s)
			scratch_attr(fs, s, &st);
		pthread_mutex_unlock(&fs->lock);
		if (!s)
			err = ENOMEM;
		else
			in = fs_inode_ref(fs, FS_SCRATCH, n.dir, n.dir_len, name, 1);
		break;
	case N_VALUE:
	case N_KEY:
		if (n.kind == N_KEY) {
			/* open_handle needs the entry too: read it once */
			int t = key_type(fs, n.key, n.key_len, &e, &err);
			known = 1;
			if (t == 'd')
				err = EISDIR;
			if (err)
				break;
			if (!t) {
				/* Shown as an empty file until a value is written (touch). */
				pthread_mutex_lock(&fs->lock);
				err = fs_memfile_add(fs, n.key, n.key_len) < 0 ? ENOMEM : 0;
				pthread_mutex_unlock(&fs->lock);
				if (err)
					break;
			}
		}
		base_attr(fs, &st, S_IFREG | 0644);
		in = fs_inode_ref(fs, FS_FILE, n.key, n.key_len, NULL, 1);
		break;
	}
	if (err)
		goto fail;
	if (!in) {
		err = ENOMEM;
		goto fail;
	}
	err = open_handle(fs, in->ino, fi, 1, known ? &e : NULL, &h);
	if (err) {
		fs_inode_forget(fs, in->ino, 1);
		goto fail;
	}
	fi->fh = (uintptr_t) h;
	struct fuse_entry_param ep = {
		.ino = in->ino,
		.attr = st,
		.attr_timeout = fs->opt.timeout,
		.entry_timeout = fs->opt.timeout,
	};
	ep.attr.st_ino = in->ino;
	if (fuse_reply_create(req, &ep, fi) != 0) {
		handle_free(fs, h);
		fs_inode_forget(fs, in->ino, 1);
	}
	name_free(&n);
	return;
fail:
	if (err == EINVAL) {
		char *path = n.dir ? fs_path(n.dir, n.dir_len, name) : NULL;
		fs_log(fs, "cannot create '%s': not a valid key name", path ? path : name);
		free(path);
	}
	kv_free(e);
	name_free(&n);
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
	err = value_text(fs, e, &text, &len);
	if (err)
		goto out;
	if ((size_t) size == len)
		goto out;
	if ((size_t) size > len) {
		err = EINVAL;
		goto out;
	}
	rc = kv_value_from_json(text, (size_t) size, &enc, &v, &vlen);
	if (rc == KV_OK)
		rc = kv_set(fs->db, key, key_len, enc, v, vlen, -1, NULL);
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

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	struct stat st;
	int err = inode_attr(fs, ino, &st);

	if (err)
		goto out;
	if ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (st.st_mode & 07777))
		err = EPERM;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid)
		err = EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)
		err = EPERM;
	if (err) {
		fs_log(fs, "cannot change owner or mode of inode %lu: kvfs shows fixed ones",
		       (unsigned long) ino);
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
		if (h)
			pthread_mutex_unlock(&h->lock);
		if (keyed) {
			st.st_size = attr->st_size;
		} else {
			enum fs_kind kind;
			size_t key_len;
			char *name = NULL;
			uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &name);
			if (!key) {
				err = ENOENT;
			} else if (kind == FS_SCRATCH) {
				pthread_mutex_lock(&fs->lock);
				struct fs_inode *in = fs_inode_get(fs, ino);
				/* a removed dot-file's name may already be another file's */
				struct fs_scratch *s = in && !in->detached
					? fs_scratch_find(fs, key, key_len, name) : NULL;
				if (!s && in && in->detached)
					st.st_size = attr->st_size;    /* truncates nothing left */
				else if (!s)
					err = ENOENT;
				else if (fs_scratch_truncate(s, (size_t) attr->st_size) < 0)
					err = ENOMEM;
				else
					scratch_attr(fs, s, &st);
				pthread_mutex_unlock(&fs->lock);
			} else {
				err = truncate_key(fs, key, key_len, attr->st_size);
				if (!err)
					err = inode_attr(fs, ino, &st);
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
		fuse_reply_attr(req, &st, fs->opt.timeout);
}

/* ---- directories: listing ---- */

struct fs_dirent_v {
	char *name;
	mode_t type;
};

/* A memory-only child (a mkdir'd directory or an empty file) to merge into the keys. */
struct fs_dirh {
	pthread_mutex_t lock;
	uint8_t *key;           /* the directory's key */
	size_t key_len;
	struct fs_dirent_v *virt;  /* .value and scratch files (snapshot at opendir) */
	size_t nvirt;
	struct fs_extra *mem;   /* memory-only children in key order (snapshot at opendir) */
	size_t nmem;
	/*
	 * Key entries of the last reply that sent any, so a cookie inside it
	 * resumes there: their cookies, and their keys packed one after the
	 * other in bkeys (entry i is bkeys[bstart[i] .. bstart[i + 1])).
	 */
	off_t *boff;
	size_t *bstart;         /* nbatch + 1 offsets */
	size_t nbatch, capbatch;
	uint8_t *bkeys;
	size_t bkeys_len, bkeys_cap;
	/*
	 * The listing left where the last reply filled up (`kept`), so the
	 * next request, which resumes at that reply's last cookie (`kept_off`),
	 * goes on reading the same batch, the child that did not fit first,
	 * instead of starting a new one.
	 */
	struct fs_merge merge;
	int kept;
	off_t kept_off;
};

static void dirh_free(struct fs_dirh *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nvirt; i++)
		free(d->virt[i].name);
	for (size_t i = 0; i < d->nmem; i++) {
		free(d->mem[i].key);
		kv_free(d->mem[i].name);
	}
	free(d->virt);
	free(d->mem);
	free(d->boff);
	free(d->bstart);
	free(d->bkeys);
	fs_merge_free(&d->merge);
	free(d->key);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int virt_add(struct fs_dirh *d, const char *name, mode_t type)
{
	for (size_t i = 0; i < d->nvirt; i++)
		if (strcmp(d->virt[i].name, name) == 0)
			return 0;
	struct fs_dirent_v *v = realloc(d->virt, (d->nvirt + 1) * sizeof(*v));
	if (!v)
		return ENOMEM;
	d->virt = v;
	if (!(v[d->nvirt].name = strdup(name)))
		return ENOMEM;
	v[d->nvirt++].type = type;
	return 0;
}

/* Encoded keys sort as the keys do: bytewise, a prefix first. */
static int dirent_m_cmp(const void *x, const void *y)
{
	const struct fs_extra *a = x, *b = y;
	int c = fs_key_cmp(a->key, a->len, b->key, b->len);
	return c ? c : b->dir - a->dir;   /* a directory before a file of the same key */
}

/*
 * Snapshot the memory-only children of d->key (not yet stored), sorted,
 * one per key. 0 or an errno.
 */
static int dirh_memory_children(struct fs_data *fs, struct fs_dirh *d)
{
	size_t n = 0, cap = 0;
	struct fs_extra *mem = NULL;
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_memdir *m = fs->memdirs; m && !err; m = m->next) {
		size_t span;
		if (m->key_len <= d->key_len || memcmp(m->key, d->key, d->key_len) != 0 ||
		    kv_part_span(m->key, m->key_len, d->key_len, &span) != KV_OK)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			struct fs_extra *g = realloc(mem, cap * sizeof(*g));
			if (!g) {
				err = ENOMEM;
				break;
			}
			mem = g;
		}
		size_t len = d->key_len + span;
		if (!(mem[n].key = malloc(len))) {
			err = ENOMEM;
			break;
		}
		memcpy(mem[n].key, m->key, len);
		mem[n].len = len;
		mem[n].name = NULL;
		mem[n].dir = !(m->file && m->key_len == len);
		n++;
	}
	pthread_mutex_unlock(&fs->lock);
	if (n)
		qsort(mem, n, sizeof(*mem), dirent_m_cmp);
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		kv_entry *e = NULL;
		int keep = !err && (out == 0 || fs_key_cmp(mem[out - 1].key, mem[out - 1].len,
		                                        mem[i].key, mem[i].len) != 0);
		/* Listed from memory only while nothing is stored under it. */
		if (keep && kv_lookup(fs->db, mem[i].key, mem[i].len, &e) != KV_NOTFOUND)
			keep = 0;
		kv_free(e);
		if (keep && kv_name_from_part(mem[i].key + d->key_len, mem[i].len - d->key_len,
		                              &mem[i].name) != KV_OK)
			keep = 0;
		if (keep)
			mem[out++] = mem[i];
		else
			free(mem[i].key);
	}
	d->mem = mem;
	d->nmem = out;
	return err;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	enum fs_kind kind;
	struct fs_dirh *d = calloc(1, sizeof(*d));
	kv_entry *e = NULL;
	int err = 0;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->key = fs_inode_key(fs, ino, &kind, &d->key_len, NULL);
	if (!d->key) {
		err = ENOENT;
		goto out;
	}
	if (kind != FS_DIR) {
		err = ENOTDIR;
		goto out;
	}
	if (d->key_len && kv_get(fs->db, d->key, d->key_len, &e) == KV_OK)
		err = virt_add(d, ".value", S_IFREG);
	kv_free(e);

	/* Scratch files: copy their names out under the lock. */
	pthread_mutex_lock(&fs->lock);
	for (struct fs_scratch *s = fs->scratch; s && !err; s = s->next)
		if (s->dir_len == d->key_len && memcmp(s->dir, d->key, d->key_len) == 0)
			err = virt_add(d, s->name, S_IFREG);
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		err = dirh_memory_children(fs, d);
out:
	if (err) {
		dirh_free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t) d;
	if (fuse_reply_open(req, fi) != 0)
		dirh_free(d);
}

static int batch_add(struct fs_dirh *d, off_t off, const uint8_t *key, size_t len)
{
	if (d->nbatch + 1 >= d->capbatch) {
		size_t cap = d->capbatch ? d->capbatch * 2 : 64;
		off_t *o = realloc(d->boff, cap * sizeof(*o));
		if (o)
			d->boff = o;
		size_t *st = realloc(d->bstart, cap * sizeof(*st));
		if (st)
			d->bstart = st;
		if (!o || !st)
			return ENOMEM;
		d->capbatch = cap;
	}
	if (d->bkeys_len + len > d->bkeys_cap) {
		size_t cap = d->bkeys_cap ? d->bkeys_cap : 4096;
		while (cap < d->bkeys_len + len)
			cap *= 2;
		uint8_t *k = realloc(d->bkeys, cap);
		if (!k)
			return ENOMEM;
		d->bkeys = k;
		d->bkeys_cap = cap;
	}
	if (d->nbatch == 0)
		d->bstart[0] = 0;
	memcpy(d->bkeys + d->bkeys_len, key, len);
	d->bkeys_len += len;
	d->boff[d->nbatch] = off;
	d->bstart[++d->nbatch] = d->bkeys_len;
	return 0;
}

static void batch_clear(struct fs_dirh *d)
{
	d->nbatch = 0;
	d->bkeys_len = 0;
}

/*
 * Offsets: 1 ".", 2 "..", 3.. the snapshot of dot-names (.value, scratch
 * files), then one cookie per key entry (stored keys merged in key order
 * with the memory-only directories and empty files), counting on from there. The handle remembers the
 * key entries of its last reply, so the kernel resuming at any cookie of
 * that reply (the normal case) costs one seek; any other cookie replays
 * the listing from the start (seekdir to an older position).
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, int plus)
{
	struct fs_data *fs = fs_of(req);
	struct fs_dirh *d = (struct fs_dirh *) (uintptr_t) fi->fh;
	char *buf = malloc(size);
	size_t used = 0, skip = 0;
	off_t first_key = 3 + (off_t) d->nvirt, next;
	const uint8_t *after = NULL;
	size_t after_len = 0;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	/* Fixed entries first. */
	for (next = off + 1; next < first_key; next++) {
		struct stat st = { 0 };
		const char *name;
		if (next == 1) {
			name = ".", st.st_mode = S_IFDIR, st.st_ino = ino;
		} else if (next == 2) {
			name = "..", st.st_mode = S_IFDIR, st.st_ino = FUSE_ROOT_ID;
		} else {
			name = d->virt[next - 3].name;
			st.st_mode = d->virt[next - 3].type;
			st.st_ino = fs_pseudo_ino(name, strlen(name));
		}
		size_t n;
		if (plus) {
			struct fuse_entry_param ep = { .attr = st };
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &ep, next);
		} else {
			n = fuse_add_direntry(req, buf + used, size - used, name, &st, next);
		}
		if (n > size - used)
			goto done;
		used += n;
	}
	/* Where the key entries resume: the last reply's end, usually. */
	if (off < first_key) {
		next = first_key;
	} else {
		size_t i = d->nbatch;
		if (i && d->boff[i - 1] != off)
			for (i = 0; i < d->nbatch && d->boff[i] != off; i++)
				;
		else if (i)
			i--;
		if (i < d->nbatch) {
			after = d->bkeys + d->bstart[i];
			after_len = d->bstart[i + 1] - d->bstart[i];
			next = off + 1;
		} else {
			skip = (size_t) (off - first_key + 1);
			next = first_key;
		}
	}
	int cleared = 0, full = 0, rc = KV_OK;
	if (!(d->kept && after && off == d->kept_off)) {
		/* (after points into the batch, used here before the loop clears it) */
		fs_merge_free(&d->merge);
		rc = fs_merge_start(&d->merge, fs->db, d->key, d->key_len, after,
		                    after_len, d->mem, d->nmem);
		if (rc != KV_OK) {
			err = fs_errno(rc);
			goto done;
		}
	}
	d->kept = 0;
	/* Stored children and memory-only ones, merged in key order. */
	struct stat dent = { 0 };
	const uint8_t *key;
	size_t key_len;
	const kv_entry *e;
	const struct fs_extra *m;
	while ((rc = fs_merge_peek(&d->merge, &key, &key_len, &e, &m)) == KV_OK) {
		if (e)
			m = NULL;       /* stored since opendir: list the stored key */
		char *owned = NULL;
		if (!m && kv_name_from_part(key + d->key_len, key_len - d->key_len, &owned) != KV_OK) {
			fs_merge_take(&d->merge);
			continue;       /* a key this mount cannot name */
		}
		if (skip) {
			skip--;
			next++;
			kv_free(owned);
			fs_merge_take(&d->merge);
			continue;
		}
		const char *name = m ? m->name : owned;
		int isdir = m ? m->dir : (e->flags & KV_ENTRY_CHILDREN) != 0;
		struct stat st;
		size_t n;
		if (plus) {
			n = fuse_add_direntry_plus(req, NULL, 0, name, NULL, next);
			if (n > size - used) {
				kv_free(owned);
				full = 1;
				break;
			}
			if (isdir)
				dir_attr(fs, &st);
			else if (m)
				base_attr(fs, &st, S_IFREG | 0644);
			else
				file_attr(fs, e, &st);
			struct fs_inode *in = fs_inode_ref(fs, isdir ? FS_DIR : FS_FILE,
			                                   key, key_len, NULL, 1);
			struct fuse_entry_param ep = { .attr = st };
			if (in) {
				ep.ino = in->ino;
				ep.attr.st_ino = in->ino;
				ep.attr_timeout = ep.entry_timeout = fs->opt.timeout;
				if (!isdir && !m)
					note_seen(fs, in->ino, e, st.st_size);
			} else {
				ep.attr.st_ino = fs_pseudo_ino(key, key_len);
			}
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &ep, next);
		} else {
			/* a plain entry carries only the inode number and the type */
			dent.st_mode = isdir ? S_IFDIR : S_IFREG;
			dent.st_ino = fs_pseudo_ino(key, key_len);
			n = fuse_add_direntry(req, buf + used, size - used, name, &dent, next);
			if (n > size - used) {
				kv_free(owned);
				full = 1;
				break;
			}
		}
		kv_free(owned);
		used += n;
		/* a reply that sends no key entry keeps the previous one's */
		if (!cleared) {
			batch_clear(d);
			cleared = 1;
		}
		if (batch_add(d, next++, key, key_len)) {
			err = ENOMEM;
			break;
		}
		fs_merge_take(&d->merge);
	}
	if (rc != KV_OK && rc != KV_DONE && !err)
		err = fs_errno(rc);
	/* keep the listing for the request that resumes after this reply */
	if (full && !err && d->nbatch && cleared) {
		d->kept = 1;
		d->kept_off = d->boff[d->nbatch - 1];
	}
done:
	pthread_mutex_unlock(&d->lock);
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	dirh_free((struct fs_dirh *) (uintptr_t) fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_namemax = NAME_MAX_KVFS,
	};
	(void) ino;
	fuse_reply_statfs(req, &sv);
}

/* ---- directories and names: mkdir, unlink, rmdir, rename ---- */

static void log_path(struct fs_data *fs, const char *what, const uint8_t *dir,
                     size_t dir_len, const char *name, const char *reason)
{
	char *path = fs_path(dir, dir_len, name);
	fs_log(fs, "cannot %s '%s': %s", what, path ? path : name, reason);
	free(path);
}

/*
 * A key left directory `dir` through the mount. If no key is left in it,
 * it stays as a memory-only directory (as on any file system, so `rm -r`
 * can rmdir it), unless it holds a value and nothing else: then it shows
 * as a file again, and the kernel must forget that it was a directory.
 * Scratch files left in it keep it a directory.
 */
static void after_remove(struct fs_data *fs, const uint8_t *dir, size_t dir_len)
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
	int err = resolve(fs, parent, name, 1, &n);

	(void) mode;
	if (err)
		goto out;
	if (n.kind != N_KEY) {
		err = n.kind == N_VALUE ? EEXIST : EPERM;
		if (err == EPERM)
			log_path(fs, "mkdir", n.dir, n.dir_len, name, "names starting with '.' are not keys");
		goto out;
	}
	if (key_type(fs, n.key, n.key_len, NULL, &err) || err) {
		err = err ? err : EEXIST;
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	err = fs_memdir_add(fs, n.key, n.key_len) < 0 ? ENOMEM : 0;
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	dir_attr(fs, &st);
	reply_entry(req, fs, FS_DIR, n.key, n.key_len, NULL, &st, NULL);
	name_free(&n);
	return;
out:
	if (err == EINVAL)
		log_path(fs, "mkdir", n.dir, n.dir_len, name, "not a valid key name");
	name_free(&n);
	fuse_reply_err(req, err);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	kv_entry *e = NULL;
	int err = resolve(fs, parent, name, 0, &n);

	if (err)
		goto out;
	if (n.kind == N_RESERVED) {
		err = EPERM;
	} else if (n.kind == N_SCRATCH) {
		pthread_mutex_lock(&fs->lock);
		struct fs_scratch *s = fs_scratch_find(fs, n.dir, n.dir_len, name);
		if (s)
			fs_scratch_remove(fs, s);
		pthread_mutex_unlock(&fs->lock);
		err = s ? 0 : ENOENT;
		if (s) {
			fs_inode_detach(fs, FS_SCRATCH, n.dir, n.dir_len, name);
			after_remove(fs, n.dir, n.dir_len);
		}
	} else {
		int t = n.kind == N_VALUE ? 'f' : key_type(fs, n.key, n.key_len, &e, &err);
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
			after_remove(fs, n.dir, n.dir_len);
		} else if (!err) {
			int rc = kv_delete(fs->db, n.key, n.key_len, NULL);
			err = fs_errno(rc);
			if (err)
				log_path(fs, "remove", n.dir, n.dir_len, name, kv_errmsg(fs->db));
			else
				fs_inode_detach(fs, FS_FILE, n.key, n.key_len, NULL);
			if (!err && n.kind == N_KEY)
				after_remove(fs, n.dir, n.dir_len);
		}
	}
out:
	kv_free(e);
	name_free(&n);
	fuse_reply_err(req, err);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name n;
	kv_entry *e = NULL;
	int err = resolve(fs, parent, name, 0, &n);

	if (err)
		goto out;
	if (n.kind != N_KEY) {
		err = n.kind == N_SCRATCH || n.kind == N_VALUE ? ENOTDIR : EPERM;
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
	int below = 0;
	for (struct fs_memdir *m = fs->memdirs; m && !below; m = m->next)
		below = m->key_len > n.key_len && memcmp(m->key, n.key, n.key_len) == 0;
	for (struct fs_scratch *s = fs->scratch; s && !below; s = s->next)
		below = s->dir_len == n.key_len && memcmp(s->dir, n.key, n.key_len) == 0;
	if (below || (exact && rc == KV_OK))
		err = ENOTEMPTY;       /* children in memory, or its `.value` */
	else if (rc == KV_OK)
		err = ENOTDIR;         /* a file */
	else if (!exact)
		err = ENOENT;
	else
		fs_memdir_remove(fs, n.key, n.key_len, 0);
	pthread_mutex_unlock(&fs->lock);
	if (!err)
		after_remove(fs, n.dir, n.dir_len);
out:
	kv_free(e);
	name_free(&n);
	fuse_reply_err(req, err);
}

/* A file (a key's value) renamed: one commit, checked against the source. */
static int rename_file(struct fs_data *fs, struct fs_name *src, struct fs_name *dst,
                       const kv_entry *e, unsigned flags)
{
	kv_atomic *a = NULL;
	int err = 0, rc, t = 0;

	if (dst->kind == N_SCRATCH) {
		char *text = NULL;
		size_t len = 0;
		if ((err = value_text(fs, e, &text, &len)))
			return err;
		rc = kv_atomic_begin(fs->db, &a);
		if (rc == KV_OK)
			rc = kv_atomic_check(a, src->key, src->key_len, &e->version);
		if (rc == KV_OK)
			rc = kv_atomic_delete(a, src->key, src->key_len);
		if (rc == KV_OK) {
			rc = kv_atomic_commit(a, NULL);
			a = NULL;
		}
		kv_atomic_abort(a);
		if (rc == KV_OK) {
			pthread_mutex_lock(&fs->lock);
			struct fs_scratch *s = fs_scratch_find(fs, dst->dir, dst->dir_len, dst->name);
			if (!s)
				s = fs_scratch_add(fs, dst->dir, dst->dir_len, dst->name);
			if (s) {
				free(s->data);
				s->data = text, s->len = s->cap = len, text = NULL;
			}
			pthread_mutex_unlock(&fs->lock);
			fs_inode_move(fs, FS_FILE, src->key, src->key_len, NULL,
			              FS_SCRATCH, dst->dir, dst->dir_len, dst->name);
			if (src->kind == N_KEY)
				after_remove(fs, src->dir, src->dir_len);
		}
		free(text);
		return rc == KV_CONFLICT ? EAGAIN : fs_errno(rc);
	}
	if (fs_key_equal(src->key, src->key_len, dst->key, dst->key_len))
		return 0;
	if (dst->kind == N_KEY) {
		t = key_type(fs, dst->key, dst->key_len, NULL, &err);
		if (err)
			return err;
		if (t == 'd')
			return EISDIR;
	} else {
		kv_entry *d = NULL;
		t = kv_get(fs->db, dst->key, dst->key_len, &d) == KV_OK ? 'f' : 0;
		kv_free(d);
	}
	if (t && (flags & RENAME_NOREPLACE))
		return EEXIST;
	rc = kv_atomic_begin(fs->db, &a);
	if (rc == KV_OK)
		rc = kv_atomic_check(a, src->key, src->key_len, &e->version);
	if (rc == KV_OK)
		rc = kv_atomic_delete(a, src->key, src->key_len);
	if (rc == KV_OK)
		rc = kv_atomic_set(a, dst->key, dst->key_len, e->encoding, e->value,
		                   e->value_len, fs_expire_in(e->expires_at));
	if (rc == KV_OK) {
		rc = kv_atomic_commit(a, NULL);
		a = NULL;
	}
	kv_atomic_abort(a);
	if (rc != KV_OK)
		return rc == KV_CONFLICT ? EAGAIN : fs_errno(rc);
	fs_inode_move(fs, FS_FILE, src->key, src->key_len, NULL,
	              FS_FILE, dst->key, dst->key_len, NULL);
	pthread_mutex_lock(&fs->lock);
	fs_memdir_stored(fs, dst->key, fs_parent_len(dst->key, dst->key_len));
	fs_memfile_remove(fs, dst->key, dst->key_len);
	pthread_mutex_unlock(&fs->lock);
	/*
	 * No notice for the moved inode: its value did not change, and the
	 * kernel itself drops the attributes it cached for it (a rename
	 * changes ctime), so the next stat asks for the new version's.
	 */
	/* A key stored in the same directory keeps it non-empty: nothing to check. */
	if (src->kind == N_KEY &&
	    !(dst->kind == N_KEY && fs_key_equal(src->dir, src->dir_len, dst->dir, dst->dir_len)))
		after_remove(fs, src->dir, src->dir_len);
	return 0;
}

/* A scratch file renamed: in memory, or stored as a key's value in one commit. */
static int rename_scratch(struct fs_data *fs, struct fs_name *src, struct fs_name *dst,
                          unsigned flags)
{
	char *text = NULL;
	size_t len = 0;
	int err = 0, t = 0;

	pthread_mutex_lock(&fs->lock);
	struct fs_scratch *s = fs_scratch_find(fs, src->dir, src->dir_len, src->name);
	if (!s) {
		err = ENOENT;
	} else if (dst->kind == N_SCRATCH) {
		struct fs_scratch *d = fs_scratch_find(fs, dst->dir, dst->dir_len, dst->name);
		uint8_t *dir = malloc(dst->dir_len ? dst->dir_len : 1);
		char *name = strdup(dst->name);
		if (d == s) {
			free(dir);
			free(name);
		} else if (d && (flags & RENAME_NOREPLACE)) {
			err = EEXIST;
			free(dir);
			free(name);
		} else if (!dir || !name) {
			err = ENOMEM;
			free(dir);
			free(name);
		} else {
			if (d)
				fs_scratch_remove(fs, d);
			memcpy(dir, dst->dir, dst->dir_len);
			free(s->dir);
			free(s->name);
			s->dir = dir, s->dir_len = dst->dir_len, s->name = name;
		}
	} else if (!(text = malloc(s->len + 1))) {
		err = ENOMEM;
	} else {
		memcpy(text, s->data, s->len);
		len = s->len;
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out;
	if (dst->kind == N_SCRATCH) {
		fs_inode_move(fs, FS_SCRATCH, src->dir, src->dir_len, src->name,
		              FS_SCRATCH, dst->dir, dst->dir_len, dst->name);
		if (!fs_key_equal(src->dir, src->dir_len, dst->dir, dst->dir_len))
			after_remove(fs, src->dir, src->dir_len);
		goto out;
	}
	if (dst->kind == N_KEY) {
		t = key_type(fs, dst->key, dst->key_len, NULL, &err);
		if (err)
			goto out;
		if (t == 'd') {
			err = EISDIR;
			goto out;
		}
	} else {
		kv_entry *d = NULL;
		t = kv_get(fs->db, dst->key, dst->key_len, &d) == KV_OK;
		kv_free(d);
	}
	if (t && (flags & RENAME_NOREPLACE)) {
		err = EEXIST;
		goto out;
	}
	int enc, rc;
	uint8_t *v = NULL;
	size_t vlen = 0;
	rc = kv_value_from_json(text, len, &enc, &v, &vlen);
	if (rc == KV_OK)
		rc = kv_set(fs->db, dst->key, dst->key_len, enc, v, vlen, -1, NULL);
	kv_free(v);
	if (rc != KV_OK) {
		const char *msg = kv_errmsg(fs->db);
		char reason[300];
		snprintf(reason, sizeof(reason), "%s%s%s",
		         rc == KV_INVALID ? "invalid JSON" : kv_errstr(rc), *msg ? ": " : "", msg);
		log_path(fs, "store", dst->dir, dst->dir_len,
		         dst->kind == N_VALUE ? NULL : dst->name, reason);
		err = rc == KV_INVALID ? EINVAL : fs_errno(rc);
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	s = fs_scratch_find(fs, src->dir, src->dir_len, src->name);
	if (s)
		fs_scratch_remove(fs, s);
	fs_memdir_stored(fs, dst->key, fs_parent_len(dst->key, dst->key_len));
	fs_memfile_remove(fs, dst->key, dst->key_len);
	pthread_mutex_unlock(&fs->lock);
	fs_inode_move(fs, FS_SCRATCH, src->dir, src->dir_len, src->name,
	              FS_FILE, dst->key, dst->key_len, NULL);
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_find(fs, FS_FILE, dst->key, dst->key_len, NULL);
	fuse_ino_t ino = in ? in->ino : 0;
	pthread_mutex_unlock(&fs->lock);
	if (ino)
		fs_notify_inode(fs, ino);
out:
	free(text);
	return err;
}

/*
 * An empty file kept in memory renamed: it stays in memory under its new
 * name; nothing is stored, so it cannot replace a stored value.
 */
static int rename_memfile(struct fs_data *fs, struct fs_name *src, struct fs_name *dst,
                          unsigned flags)
{
	int err = 0, t = 0;

	if (dst->kind == N_KEY) {
		if (fs_key_equal(src->key, src->key_len, dst->key, dst->key_len))
			return 0;
		t = key_type(fs, dst->key, dst->key_len, NULL, &err);
		if (err)
			return err;
		if (t == 'd')
			return EISDIR;
		if (t && (flags & RENAME_NOREPLACE))
			return EEXIST;
	}
	if (dst->kind == N_VALUE || t == 'f') {
		log_path(fs, "store", dst->dir, dst->dir_len,
		         dst->kind == N_VALUE ? NULL : dst->name, "an empty file is not a value");
		return EINVAL;
	}
	pthread_mutex_lock(&fs->lock);
	if (dst->kind == N_SCRATCH) {
		if (!fs_scratch_find(fs, dst->dir, dst->dir_len, dst->name) &&
		    !fs_scratch_add(fs, dst->dir, dst->dir_len, dst->name))
			err = ENOMEM;
	} else if (fs_memfile_add(fs, dst->key, dst->key_len) < 0) {
		err = ENOMEM;
	}
	if (!err)
		fs_memfile_remove(fs, src->key, src->key_len);
	pthread_mutex_unlock(&fs->lock);
	if (err)
		return err;
	fs_inode_move(fs, FS_FILE, src->key, src->key_len, NULL,
	              dst->kind == N_SCRATCH ? FS_SCRATCH : FS_FILE,
	              dst->kind == N_SCRATCH ? dst->dir : dst->key,
	              dst->kind == N_SCRATCH ? dst->dir_len : dst->key_len,
	              dst->kind == N_SCRATCH ? dst->name : NULL);
	after_remove(fs, src->dir, src->dir_len);
	return 0;
}

/*
 * A directory renamed: every key under it (and its own value) moves in one
 * commit of deletes and sets. Over the engine's limits that cannot be one
 * commit, so EXDEV lets mv fall back to copy and delete.
 */
static int rename_dir(struct fs_data *fs, struct fs_name *src, struct fs_name *dst,
                      unsigned flags)
{
	kv_atomic *a = NULL;
	kv_iter *it = NULL;
	kv_entry *own = NULL;
	const kv_entry *e;
	size_t moved = 0;
	int err = 0, rc, t;

	if (dst->kind != N_KEY)
		return dst->kind == N_VALUE ? ENOTDIR : EPERM;
	if (fs_key_equal(src->key, src->key_len, dst->key, dst->key_len))
		return 0;
	if (dst->key_len > src->key_len && memcmp(dst->key, src->key, src->key_len) == 0)
		return EINVAL;
	t = key_type(fs, dst->key, dst->key_len, NULL, &err);
	if (err)
		return err;
	if (t == 'f' || t == 'e')
		return ENOTDIR;
	if (t == 'd') {
		kv_entry *d = NULL;
		if (flags & RENAME_NOREPLACE)
			return EEXIST;
		rc = kv_lookup(fs->db, dst->key, dst->key_len, &d);
		kv_free(d);
		/* empty means no key, memory-only directory or scratch file either */
		pthread_mutex_lock(&fs->lock);
		int below = 0;
		for (struct fs_memdir *m = fs->memdirs; m && !below; m = m->next)
			below = m->key_len > dst->key_len && memcmp(m->key, dst->key, dst->key_len) == 0;
		for (struct fs_scratch *s = fs->scratch; s && !below; s = s->next)
			below = s->dir_len >= dst->key_len && memcmp(s->dir, dst->key, dst->key_len) == 0;
		pthread_mutex_unlock(&fs->lock);
		if (rc != KV_NOTFOUND || below)
			return ENOTEMPTY;
	}

	rc = kv_atomic_begin(fs->db, &a);
	if (rc == KV_OK && kv_get(fs->db, src->key, src->key_len, &own) == KV_OK) {
		rc = kv_atomic_delete(a, src->key, src->key_len);
		if (rc == KV_OK)
			rc = kv_atomic_set(a, dst->key, dst->key_len, own->encoding, own->value,
			                   own->value_len, fs_expire_in(own->expires_at));
		moved++;
	}
	kv_selector sel = { .prefix = src->key, .prefix_len = src->key_len };
	kv_list_options lo = { .batch_size = 500 };
	if (rc == KV_OK)
		rc = kv_list(fs->db, &sel, &lo, &it);
	while (rc == KV_OK && (rc = kv_iter_next(it, &e)) == KV_OK) {
		if (++moved * 2 > KV_MAX_MUTATIONS) {
			rc = KV_TOOBIG;
			break;
		}
		size_t nlen = dst->key_len + e->key_len - src->key_len;
		uint8_t *nk = malloc(nlen);
		if (!nk) {
			rc = KV_NOMEM;
			break;
		}
		memcpy(nk, dst->key, dst->key_len);
		memcpy(nk + dst->key_len, e->key + src->key_len, e->key_len - src->key_len);
		rc = kv_atomic_delete(a, e->key, e->key_len);
		if (rc == KV_OK)
			rc = kv_atomic_set(a, nk, nlen, e->encoding, e->value, e->value_len,
			                   fs_expire_in(e->expires_at));
		free(nk);
	}
	if (rc == KV_DONE)
		rc = KV_OK;
	kv_iter_free(it);
	if (rc == KV_OK && moved) {
		rc = kv_atomic_commit(a, NULL);
		a = NULL;
	}
	kv_atomic_abort(a);
	kv_free(own);
	if (rc == KV_TOOBIG || rc == KV_TOOBIG_VALUE) {
		log_path(fs, "move", src->dir, src->dir_len, src->name,
		         "too many keys for one commit; copying instead");
		return EXDEV;
	}
	if (rc != KV_OK) {
		log_path(fs, "move", src->dir, src->dir_len, src->name, kv_errmsg(fs->db));
		return rc == KV_TOOBIG_KEY ? ENAMETOOLONG : fs_errno(rc);
	}
	pthread_mutex_lock(&fs->lock);
	fs_memdir_remove(fs, dst->key, dst->key_len, 0);
	fs_memdir_rename(fs, src->key, src->key_len, dst->key, dst->key_len);
	if (moved)
		fs_memdir_stored(fs, dst->key, fs_parent_len(dst->key, dst->key_len));
	else
		fs_memdir_add(fs, dst->key, dst->key_len);
	pthread_mutex_unlock(&fs->lock);
	fs_inode_rekey(fs, FS_DIR, src->key, src->key_len, dst->key, dst->key_len, 1);
	after_remove(fs, src->dir, src->dir_len);
	/* Every moved value has a new version: the kernel's files below need it. */
	if (moved)
		fs_notify_poll(fs);
	return 0;
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name src = { 0 }, dst = { 0 };
	kv_entry *e = NULL;
	int err;

	if (flags & RENAME_EXCHANGE) {
		err = EINVAL;
		goto out;
	}
	if ((err = resolve(fs, parent, name, 0, &src)))
		goto out;
	if ((err = resolve(fs, newparent, newname, 1, &dst))) {
		if (err == EINVAL)
			log_path(fs, "rename to", src.dir, src.dir_len, newname, "not a valid key name");
		goto out;
	}
	if (src.kind == N_RESERVED || dst.kind == N_RESERVED) {
		err = EPERM;
	} else if (src.kind == N_SCRATCH) {
		err = rename_scratch(fs, &src, &dst, flags);
	} else if (src.kind == N_VALUE) {
		err = kv_get(fs->db, src.key, src.key_len, &e) == KV_OK
		    ? rename_file(fs, &src, &dst, e, flags) : ENOENT;
	} else {
		switch (key_type(fs, src.key, src.key_len, &e, &err)) {
		case 'd':
			err = rename_dir(fs, &src, &dst, flags);
			break;
		case 'f':
			err = rename_file(fs, &src, &dst, e, flags);
			break;
		case 'e':
			err = rename_memfile(fs, &src, &dst, flags);
			break;
		default:
			err = err ? err : ENOENT;
		}
	}
out:
	kv_free(e);
	name_free(&src);
	name_free(&dst);
	fuse_reply_err(req, err);
}

/* Links, symlinks and device nodes have no place in a key space. */
static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, dev_t rdev)
{
	(void) parent, (void) name, (void) mode, (void) rdev;
	fuse_reply_err(req, EPERM);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void) link, (void) parent, (void) name;
	fuse_reply_err(req, EPERM);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void) ino, (void) newparent, (void) newname;
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
	.write        = fs_write,
	.flush        = fs_flush,
	.fsync        = fs_fsync,
	.release      = fs_release,
	.create       = fs_create,
	.opendir      = fs_opendir,
	.readdir      = fs_readdir,
	.readdirplus  = fs_readdirplus,
	.releasedir   = fs_releasedir,
	.statfs       = fs_statfs,
	.mkdir        = fs_mkdir,
	.unlink       = fs_unlink,
	.rmdir        = fs_rmdir,
	.rename       = fs_rename,
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
	fs->db = db;
	fs->opt = *opt;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->start);
	fs->next_ino = FUSE_ROOT_ID;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcond, NULL);
	/* The root: key [], never forgotten. */
	struct fs_inode *root = fs_inode_ref(fs, FS_DIR, (const uint8_t *) "", 0, NULL, 1);
	if (!root || root->ino != FUSE_ROOT_ID) {
		fs_free(fs);
		return NULL;
	}
	return fs;
}
