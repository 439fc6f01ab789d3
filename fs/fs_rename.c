/*
 * fs_rename.c - rename in the key tree: a file (one commit of delete and
 * set, checked against the source), a scratch file (in memory, or stored
 * onto a key in one commit), an empty memory-only file, and a directory
 * (every key under it in one commit, or in several past the commit
 * limit). The kernel's inodes follow (fs_inode_move, _rekey).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs_tree.h"

/* A file (a key's value) renamed: one commit, checked against the source. */
static int rename_file(struct fs_data *fs, struct fs_name *src, struct fs_name *dst,
                       const kv_entry *e, unsigned flags)
{
	kv_atomic *a = NULL;
	int err = 0, rc, t = 0;

	if (dst->kind == N_SCRATCH) {
		char *text = NULL;
		size_t len = 0;
		if ((err = tree_value_text(fs, e, &text, &len)))
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
			/* a dot-file replaced keeps its content for its open handles */
			struct fs_scratch *s = fs_scratch_find(fs, dst->dir, dst->dir_len, dst->name);
			if (s)
				fs_scratch_drop(fs, s);
			s = fs_scratch_add(fs, dst->dir, dst->dir_len, dst->name);
			if (s) {
				free(s->data);
				s->data = text, s->len = s->cap = len, text = NULL;
			}
			pthread_mutex_unlock(&fs->lock);
			fs_inode_move(fs, FS_FILE, src->key, src->key_len, NULL,
			              FS_SCRATCH, dst->dir, dst->dir_len, dst->name);
			if (src->kind == N_KEY)
				fs_after_remove(fs, src->dir, src->dir_len);
		}
		free(text);
		if (rc != KV_OK && rc != KV_CONFLICT)      /* a conflict is tried again */
			tree_log_path(fs, "rename", src->dir, src->dir_len, src->name, kv_errmsg(fs->db));
		return rc == KV_CONFLICT ? EAGAIN : fs_errno(rc);
	}
	if (fs_key_equal(src->key, src->key_len, dst->key, dst->key_len))
		return 0;
	if (dst->kind == N_KEY) {
		t = tree_key_type(fs, dst->key, dst->key_len, NULL, &err);
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
	if (rc != KV_OK && rc != KV_CONFLICT)      /* a conflict is tried again */
		tree_log_path(fs, "rename", src->dir, src->dir_len, src->name, kv_errmsg(fs->db));
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
		fs_after_remove(fs, src->dir, src->dir_len);
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
				fs_scratch_drop(fs, d);
			memcpy(dir, dst->dir, dst->dir_len);
			free(s->dir);
			free(s->name);
			s->dir = dir, s->dir_len = dst->dir_len, s->name = name;
		}
	} else if (!(text = malloc(s->len + 1))) {
		err = ENOMEM;
	} else {
		if (s->len)
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
			fs_after_remove(fs, src->dir, src->dir_len);
		goto out;
	}
	if (dst->kind == N_KEY) {
		t = tree_key_type(fs, dst->key, dst->key_len, NULL, &err);
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
	if (len == 0 && dst->kind == N_KEY && (t == 0 || t == 'e')) {
		/*
		 * An empty dot-file onto a new name (rsync's temporary file of an
		 * empty one): an empty file kept in memory, as `touch` makes.
		 */
		pthread_mutex_lock(&fs->lock);
		s = fs_scratch_find(fs, src->dir, src->dir_len, src->name);
		if (fs_memfile_add(fs, dst->key, dst->key_len) < 0)
			err = ENOMEM;
		else if (s)
			fs_scratch_remove(fs, s);
		pthread_mutex_unlock(&fs->lock);
		if (!err)
			fs_inode_move(fs, FS_SCRATCH, src->dir, src->dir_len, src->name,
			              FS_FILE, dst->key, dst->key_len, NULL);
		goto out;
	}
	int enc, rc;
	uint8_t *v = NULL;
	size_t vlen = 0;
	/* a time-to-live set on the dot-file (rsync -X) is the value's */
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *sin = fs_inode_find(fs, FS_SCRATCH, src->dir, src->dir_len, src->name);
	int64_t at = sin ? sin->expire_pending : 0;
	pthread_mutex_unlock(&fs->lock);
	int64_t expire_in = at ? fs_expire_in(at) : -1;
	char why[300];
	/* EBADMSG, not EINVAL, which mv words as "a subdirectory of itself" */
	if ((err = fs_value_parse(text, len, &enc, &v, &vlen, why, sizeof(why)))) {
		tree_log_path(fs, "store", dst->dir, dst->dir_len,
		         dst->kind == N_VALUE ? NULL : dst->name, why);
		err = err == EINVAL ? EBADMSG : err;
		goto out;
	}
	rc = kv_set(fs->db, dst->key, dst->key_len, enc, v, vlen, expire_in, NULL);
	kv_free(v);
	if (rc != KV_OK) {
		tree_log_path(fs, "store", dst->dir, dst->dir_len,
		         dst->kind == N_VALUE ? NULL : dst->name, kv_errmsg(fs->db));
		err = fs_errno(rc);
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
	if (in)
		in->expire_pending = 0;   /* given to this value */
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
		t = tree_key_type(fs, dst->key, dst->key_len, NULL, &err);
		if (err)
			return err;
		if (t == 'd')
			return EISDIR;
		if (t && (flags & RENAME_NOREPLACE))
			return EEXIST;
	}
	if (dst->kind == N_VALUE || t == 'f') {
		pthread_mutex_lock(&fs->lock);
		struct fs_inode *in = fs_inode_find(fs, FS_FILE, src->key, src->key_len, NULL);
		int open = in && in->opens;
		pthread_mutex_unlock(&fs->lock);
		tree_log_path(fs, "store", dst->dir, dst->dir_len,
		         dst->kind == N_VALUE ? NULL : dst->name, open
		         ? "the file moved onto it is still open and not stored yet"
		         : "an empty file is not a value");
		return EBADMSG;
	}
	pthread_mutex_lock(&fs->lock);
	if (dst->kind == N_SCRATCH) {
		/* an empty file replaces the dot-file's content */
		struct fs_scratch *d = fs_scratch_find(fs, dst->dir, dst->dir_len, dst->name);
		if (d)
			fs_scratch_drop(fs, d);
		if (!fs_scratch_add(fs, dst->dir, dst->dir_len, dst->name))
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
	fs_after_remove(fs, src->dir, src->dir_len);
	return 0;
}

/* Most commits one directory move may take (a writer filling it forever). */
#define MOVE_COMMITS_MAX 100000

/*
 * A directory too large to move in one commit moves in several, each of
 * as many keys as fit (kv_atomic_move_some), until nothing is left at or
 * under `from`. Not atomic, but nothing another writer does meanwhile is
 * lost: each commit reads what it moves inside its write transaction.
 */
static int move_in_parts(struct fs_data *fs, const uint8_t *from, size_t from_len,
                         const uint8_t *to, size_t to_len, int *moved)
{
	for (int i = 0; i < MOVE_COMMITS_MAX; i++) {
		kv_entry *e = NULL;
		kv_atomic *a = NULL;
		int rc = kv_lookup(fs->db, from, from_len, &e);
		kv_free(e);
		if (rc == KV_NOTFOUND)
			return KV_OK;
		if (rc == KV_OK)
			rc = kv_atomic_begin(fs->db, &a);
		if (rc == KV_OK)
			rc = kv_atomic_move_some(a, from, from_len, to, to_len);
		if (rc == KV_OK) {
			rc = kv_atomic_commit(a, NULL);
			a = NULL;
		}
		kv_atomic_abort(a);
		if (rc != KV_OK)
			return rc;
		*moved = 1;
	}
	return KV_BUSY;         /* another writer kept adding keys under it */
}

/*
 * A directory renamed: every key under it (and its own value) moves in one
 * commit. The engine reads what to move inside the commit's write
 * transaction (kv_atomic_move), so a key another process sets meanwhile
 * moves with its newest value, never left behind or overwritten. Over the
 * engine's limits that cannot be one commit: it moves in several
 * (move_in_parts). EXDEV, which makes mv copy and then delete, would lose
 * what another writer changes between the two.
 */
static int rename_dir(struct fs_data *fs, struct fs_name *src, struct fs_name *dst,
                      unsigned flags)
{
	kv_atomic *a = NULL;
	kv_entry *d = NULL;
	int err = 0, rc, t;

	if (dst->kind != N_KEY) {
		if (dst->kind != N_VALUE)
			tree_log_path(fs, "rename", src->dir, src->dir_len, src->name,
			              "a directory of keys cannot take a name starting with '.'");
		return dst->kind == N_VALUE ? ENOTDIR : EPERM;
	}
	if (fs_key_equal(src->key, src->key_len, dst->key, dst->key_len))
		return 0;
	if (kv_key_under(dst->key, dst->key_len, src->key, src->key_len))
		return EINVAL;
	t = tree_key_type(fs, dst->key, dst->key_len, NULL, &err);
	if (err)
		return err;
	if (t == 'f' || t == 'e')
		return ENOTDIR;
	if (t == 'd') {
		if (flags & RENAME_NOREPLACE)
			return EEXIST;
		/* empty means no key (the commit checks again), memory-only directory or scratch file either */
		pthread_mutex_lock(&fs->lock);
		int below = fs_memory_below(fs, dst->key, dst->key_len);
		pthread_mutex_unlock(&fs->lock);
		if (below)
			return ENOTEMPTY;
	}
	/* a directory with no key under it (mkdir, or scratch files only) moves in memory */
	int stored = kv_lookup(fs->db, src->key, src->key_len, &d) == KV_OK;
	kv_free(d);
	d = NULL;
	if (!stored && t == 'd') {
		rc = kv_lookup(fs->db, dst->key, dst->key_len, &d);
		kv_free(d);
		d = NULL;
		if (rc != KV_NOTFOUND)
			return rc == KV_OK ? ENOTEMPTY : fs_errno(rc);
	}
	rc = stored ? kv_atomic_begin(fs->db, &a) : KV_OK;
	if (rc == KV_OK && stored)
		rc = kv_atomic_move(a, src->key, src->key_len, dst->key, dst->key_len);
	if (rc == KV_OK && stored) {
		rc = kv_atomic_commit(a, NULL);
		a = NULL;
	}
	kv_atomic_abort(a);
	int parts = 0;
	if (rc == KV_TOOBIG || rc == KV_TOOBIG_VALUE) {
		/*
		 * A key that would be too long at its new place fails the move
		 * at the commit that gets to it: find it before the first, so
		 * that nothing moves.
		 */
		size_t longest = 0;
		int lrc = dst->key_len > src->key_len
		          ? kv_longest_key(fs->db, src->key, src->key_len, &longest) : KV_OK;
		if (lrc != KV_OK) {
			tree_log_path(fs, "move", src->dir, src->dir_len, src->name, kv_errmsg(fs->db));
			return fs_errno(lrc);
		}
		if (longest && longest - src->key_len + dst->key_len > KV_MAX_KEY_WRITE) {
			tree_log_path(fs, "move", src->dir, src->dir_len, src->name,
			              "a key under it would be longer than Deno's 2048 bytes there");
			return ENAMETOOLONG;
		}
		char *path = fs_path(src->dir, src->dir_len, src->name);
		fs_log(fs, "moving '%s' in several commits: too many keys for one",
		       path ? path : src->name);
		free(path);
		rc = move_in_parts(fs, src->key, src->key_len, dst->key, dst->key_len, &parts);
	}
	if (rc != KV_OK && parts) {
		/* part of it moved: the kernel must forget what it knew of both */
		tree_log_path(fs, "move", src->dir, src->dir_len, src->name,
		         rc == KV_BUSY ? "stopped part way: another writer kept adding keys under it"
		         : kv_errmsg(fs->db));
		fs_notify_poll(fs);
	}
	if (rc == KV_CONFLICT)
		return ENOTEMPTY;      /* keys at the destination */
	if (rc != KV_OK) {
		if (!parts)
			tree_log_path(fs, "move", src->dir, src->dir_len, src->name, kv_errmsg(fs->db));
		return rc == KV_TOOBIG_KEY ? ENAMETOOLONG : fs_errno(rc);
	}
	/* whether any key moved: the destination holds keys now */
	int moved = stored && kv_lookup(fs->db, dst->key, dst->key_len, &d) == KV_OK;
	kv_free(d);
	pthread_mutex_lock(&fs->lock);
	fs_memdir_remove(fs, dst->key, dst->key_len, 0);
	fs_memdir_rename(fs, src->key, src->key_len, dst->key, dst->key_len);
	if (moved)
		fs_memdir_stored(fs, dst->key, fs_parent_len(dst->key, dst->key_len));
	else
		fs_memdir_add(fs, dst->key, dst->key_len);
	pthread_mutex_unlock(&fs->lock);
	fs_inode_rekey(fs, FS_DIR, src->key, src->key_len, dst->key, dst->key_len, 1);
	fs_after_remove(fs, src->dir, src->dir_len);
	/* Every moved value has a new version: the kernel's files below need it. */
	if (moved)
		fs_notify_poll(fs);
	return 0;
}

#define RENAME_TRIES 100

void tree_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs_data *fs = fs_of(req);
	struct fs_name src = { 0 }, dst = { 0 };
	kv_entry *e = NULL;
	int err;

	if (flags & ~(unsigned) RENAME_NOREPLACE) {
		err = EINVAL;       /* exchange and whiteout are not supported */
		goto out;
	}
	if ((err = tree_resolve(fs, parent, name, 0, &src)))
		goto out;
	if ((err = tree_resolve(fs, newparent, newname, 1, &dst))) {
		if (err == EINVAL)
			tree_log_path(fs, "rename to", src.dir, src.dir_len, newname, "not a valid key name");
		goto out;
	}
	if (src.kind == N_RESERVED || dst.kind == N_RESERVED) {
		err = EPERM;
		fs_log(fs, "cannot rename '%s': " TREE_WHY_RESERVED,
		       src.kind == N_RESERVED ? name : newname);
	} else if (src.kind == N_SCRATCH) {
		err = rename_scratch(fs, &src, &dst, flags);
	} else {
		/*
		 * A file's move is checked against the value read: when another
		 * writer changed it in between, read it again and move that.
		 */
		for (int tries = 0; tries < RENAME_TRIES; tries++) {
			kv_free(e);
			e = NULL;
			err = 0;
			if (src.kind == N_VALUE) {
				err = kv_get(fs->db, src.key, src.key_len, &e) == KV_OK
				    ? rename_file(fs, &src, &dst, e, flags) : ENOENT;
			} else {
				switch (tree_key_type(fs, src.key, src.key_len, &e, &err)) {
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
			if (err != EAGAIN)
				break;
		}
	}
	if (!err) {
		tree_forget_alias(fs, parent, &src);
		tree_forget_alias(fs, newparent, &dst);
		if (dst.canon)   /* the kernel keeps the moved name, as it kept the old one */
			fs_notify_entry(fs, newparent, newname);
	}
out:
	kv_free(e);
	tree_name_free(&src);
	tree_name_free(&dst);
	fuse_reply_err(req, err);
}
