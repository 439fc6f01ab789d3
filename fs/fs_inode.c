/*
 * fs_inode.c - the inode table, scratch files and memory-only directories.
 *
 * Design
 *
 * The kernel names everything by inode number; the engine by encoded key.
 * This table maps one to the other for exactly the inodes the kernel holds
 * (its lookup count, decremented by FORGET) or an open handle still uses,
 * so memory follows the kernel's cache and the open files, never the
 * number of keys: a `find` over a million keys leaves only what the kernel
 * chose to remember.
 *
 * An inode's identity is (kind, key[, name]): a key seen as a directory and
 * the same key seen as a file are two inodes, so an inode never changes its
 * type when another writer turns a leaf into a directory (the kernel then
 * simply meets a new inode number on its next lookup). The file inode of a
 * key is shared by `name` in the parent and `.value` in the key's own
 * directory, which is the same value. Numbers are never reused (64 bits
 * do not run out), so `find` and `tar` never see two files as one.
 *
 * A rename moves the kernel's dentry to the new name with the same inode,
 * so the table re-keys that inode (and for a directory, every inode below
 * it); an inode that was overwritten by the rename, or whose file was
 * removed, is detached: lookups no longer find it, and what a handle still
 * open on it writes is not stored (that name now belongs to another file,
 * or to none), as on any file system.
 *
 * Scratch files (dot-names other than the reserved ones), directories
 * made by mkdir with no keys under them and keys created without content
 * (`touch new`) live in two short lists: they grow only with what users
 * create through the mount, so a linear scan is fine.
 *
 * Everything here runs under fs->lock, which is never held across an
 * engine or FUSE call.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs.h"

static uint64_t hash_id(enum fs_kind kind, const uint8_t *key, size_t len,
                        const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t) kind;
	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	if (name)
		for (const char *p = name; *p; p++)
			h = (h ^ (uint8_t) *p) * 1099511628211ULL;
	return h;
}

static int same_id(const struct fs_inode *in, enum fs_kind kind,
                   const uint8_t *key, size_t len, const char *name)
{
	if (in->kind != kind || in->key_len != len || in->detached)
		return 0;
	if (len && memcmp(in->key, key, len) != 0)
		return 0;
	if (kind == FS_SCRATCH)
		return strcmp(in->name, name) == 0;
	return 1;
}

static void unlink_id(struct fs_data *fs, struct fs_inode *in)
{
	struct fs_inode **pp = &fs->by_id[hash_id(in->kind, in->key, in->key_len, in->name) % fs->nbuckets];
	for (; *pp; pp = &(*pp)->next_id)
		if (*pp == in) {
			*pp = in->next_id;
			break;
		}
	in->next_id = NULL;
}

static void link_id(struct fs_data *fs, struct fs_inode *in)
{
	size_t b = hash_id(in->kind, in->key, in->key_len, in->name) % fs->nbuckets;
	in->next_id = fs->by_id[b];
	fs->by_id[b] = in;
}

static int grow(struct fs_data *fs)
{
	size_t n = fs->nbuckets ? fs->nbuckets * 2 : 1024;
	struct fs_inode **bi = calloc(n, sizeof(*bi)), **bk = calloc(n, sizeof(*bk));
	if (!bi || !bk) {
		free(bi);
		free(bk);
		return -ENOMEM;
	}
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct fs_inode *in = fs->by_ino[i], *next;
		for (; in; in = next) {
			next = in->next_ino;
			in->next_ino = bi[in->ino % n];
			bi[in->ino % n] = in;
		}
		for (in = fs->by_id[i]; in; in = next) {
			next = in->next_id;
			size_t b = hash_id(in->kind, in->key, in->key_len, in->name) % n;
			in->next_id = bk[b];
			bk[b] = in;
		}
	}
	free(fs->by_ino);
	free(fs->by_id);
	fs->by_ino = bi;
	fs->by_id = bk;
	fs->nbuckets = n;
	return 0;
}

struct fs_inode *fs_inode_get(struct fs_data *fs, fuse_ino_t ino)
{
	if (!fs->nbuckets)
		return NULL;
	for (struct fs_inode *in = fs->by_ino[ino % fs->nbuckets]; in; in = in->next_ino)
		if (in->ino == ino)
			return in;
	return NULL;
}

struct fs_inode *fs_inode_find(struct fs_data *fs, enum fs_kind kind,
                               const uint8_t *key, size_t key_len,
                               const char *name)
{
	if (!fs->nbuckets)
		return NULL;
	size_t b = hash_id(kind, key, key_len, name) % fs->nbuckets;
	for (struct fs_inode *in = fs->by_id[b]; in; in = in->next_id)
		if (same_id(in, kind, key, key_len, name))
			return in;
	return NULL;
}

struct fs_inode *fs_inode_ref(struct fs_data *fs, enum fs_kind kind,
                              const uint8_t *key, size_t key_len,
                              const char *name, uint64_t lookups)
{
	struct fs_inode *in;

	pthread_mutex_lock(&fs->lock);
	if (key_len == 0 && kind == FS_DIR && (in = fs_inode_get(fs, FUSE_ROOT_ID)))
		goto found;
	in = fs_inode_find(fs, kind, key, key_len, name);
	if (in)
		goto found;
	if (fs->ninodes >= fs->nbuckets && grow(fs) < 0)
		goto nomem;
	in = calloc(1, sizeof(*in));
	if (!in)
		goto nomem;
	in->key = malloc(key_len ? key_len : 1);
	in->name = name ? strdup(name) : NULL;
	if (!in->key || (name && !in->name)) {
		free(in->key);
		free(in->name);
		free(in);
		goto nomem;
	}
	memcpy(in->key, key, key_len);
	in->key_len = key_len;
	in->kind = kind;
	in->ino = fs->next_ino++;
	in->next_ino = fs->by_ino[in->ino % fs->nbuckets];
	fs->by_ino[in->ino % fs->nbuckets] = in;
	link_id(fs, in);
	if (++fs->ninodes > fs->ninodes_high)
		fs->ninodes_high = fs->ninodes;
found:
	if (in)
		in->nlookup += lookups;
	pthread_mutex_unlock(&fs->lock);
	return in;
nomem:
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

static void scratch_free(struct fs_scratch *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->name);
	free(s->data);
	free(s);
}

void fs_told_clear(struct fs_inode *in)
{
	for (size_t i = 0; i < sizeof(in->told) / sizeof(in->told[0]); i++)
		kv_free(in->told[i].entry);
	memset(in->told, 0, sizeof(in->told));
}

static void inode_free(struct fs_inode *in)
{
	fs_told_clear(in);
	scratch_free(in->orphan);
	free(in->key);
	free(in->name);
	free(in);
}

static void drop_if_unused(struct fs_data *fs, struct fs_inode *in)
{
	if (in->nlookup || in->opens || in->ino == FUSE_ROOT_ID)
		return;
	struct fs_inode **pp = &fs->by_ino[in->ino % fs->nbuckets];
	for (; *pp; pp = &(*pp)->next_ino)
		if (*pp == in) {
			*pp = in->next_ino;
			break;
		}
	if (!in->detached)
		unlink_id(fs, in);
	fs->ninodes--;
	inode_free(in);
}

void fs_inode_forget(struct fs_data *fs, fuse_ino_t ino, uint64_t n)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	if (in) {
		in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
		drop_if_unused(fs, in);
	}
	pthread_mutex_unlock(&fs->lock);
}

/*
 * The kernel forgets names in bulk (memory pressure, drop_caches, the end
 * of a large listing's use); the allocator keeps what they took unless
 * told. Told when 10,000 inodes went since the most there were.
 */
void fs_inode_trim(struct fs_data *fs)
{
	pthread_mutex_lock(&fs->lock);
	int trim = fs->ninodes + 10000 < fs->ninodes_high;
	if (trim)
		fs->ninodes_high = fs->ninodes;
	pthread_mutex_unlock(&fs->lock);
	if (trim)
		malloc_trim(0);
}

void fs_inode_changed(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	pthread_mutex_lock(&fs->lock);
	fs->changes++;
	struct fs_inode *in = fs_inode_find(fs, FS_FILE, key, key_len, NULL);
	if (in)
		in->attr_known = 0;
	pthread_mutex_unlock(&fs->lock);
}

void fs_inode_reattach(struct fs_data *fs, struct fs_inode *in)
{
	pthread_mutex_lock(&fs->lock);
	if (in->detached && in->kind == FS_FILE && !in->orphan &&
	    !fs_inode_find(fs, FS_FILE, in->key, in->key_len, NULL)) {
		in->detached = 0;
		link_id(fs, in);
	}
	pthread_mutex_unlock(&fs->lock);
}

void fs_inode_open(struct fs_data *fs, struct fs_inode *in)
{
	pthread_mutex_lock(&fs->lock);
	in->opens++;
	pthread_mutex_unlock(&fs->lock);
}

void fs_inode_close(struct fs_data *fs, struct fs_inode *in)
{
	pthread_mutex_lock(&fs->lock);
	in->opens--;
	if (!in->opens) {
		scratch_free(in->orphan);   /* the last handle of a removed scratch file */
		in->orphan = NULL;
		fs_told_clear(in);
	}
	drop_if_unused(fs, in);
	pthread_mutex_unlock(&fs->lock);
}

uint8_t *fs_inode_key(struct fs_data *fs, fuse_ino_t ino, enum fs_kind *kind,
                      size_t *key_len, char **name)
{
	uint8_t *key = NULL;

	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	if (!in)
		goto out;
	key = malloc(in->key_len + 1);
	if (!key)
		goto out;
	memcpy(key, in->key, in->key_len);
	*key_len = in->key_len;
	*kind = in->kind;
	if (name) {
		*name = in->name ? strdup(in->name) : NULL;
		if (in->name && !*name) {
			free(key);
			key = NULL;
		}
	}
out:
	pthread_mutex_unlock(&fs->lock);
	return key;
}

/* Replace `from` at the start of *key by `to`. */
static int swap_prefix(uint8_t **key, size_t *len, size_t from_len,
                       const uint8_t *to, size_t to_len)
{
	size_t n = *len - from_len + to_len;
	uint8_t *k = malloc(n ? n : 1);
	if (!k)
		return -ENOMEM;
	memcpy(k, to, to_len);
	memcpy(k + to_len, *key + from_len, *len - from_len);
	free(*key);
	*key = k;
	*len = n;
	return 0;
}

void fs_inode_rekey(struct fs_data *fs, enum fs_kind kind,
                    const uint8_t *from, size_t from_len,
                    const uint8_t *to, size_t to_len, int tree)
{
	pthread_mutex_lock(&fs->lock);
	/* Inodes already at the destination are overwritten: detach them. */
	for (size_t b = 0; b < fs->nbuckets; b++)
		for (struct fs_inode *in = fs->by_ino[b]; in; in = in->next_ino) {
			if (in->detached || in->ino == FUSE_ROOT_ID)
				continue;
			int hit = tree ? fs_key_within(in->key, in->key_len, to, to_len)
			               : in->kind == kind && in->key_len == to_len && memcmp(in->key, to, to_len) == 0;
			if (hit && in->kind != FS_SCRATCH) {
				unlink_id(fs, in);
				in->detached = 1;
				in->lives++;
			}
		}
	for (size_t b = 0; b < fs->nbuckets; b++)
		for (struct fs_inode *in = fs->by_ino[b]; in; in = in->next_ino) {
			if (in->detached || in->ino == FUSE_ROOT_ID)
				continue;
			int hit = tree ? fs_key_within(in->key, in->key_len, from, from_len)
			               : in->kind == kind && in->key_len == from_len && memcmp(in->key, from, from_len) == 0;
			if (!hit)
				continue;
			unlink_id(fs, in);
			in->size_version = 0;
			in->attr_known = 0;
			if (swap_prefix(&in->key, &in->key_len, from_len, to, to_len) < 0) {
				in->detached = 1;
				continue;
			}
			link_id(fs, in);
		}
	pthread_mutex_unlock(&fs->lock);
}

void fs_inode_detach(struct fs_data *fs, enum fs_kind kind, const uint8_t *key,
                     size_t key_len, const char *name)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_find(fs, kind, key, key_len, name);
	if (in && in->ino != FUSE_ROOT_ID) {
		unlink_id(fs, in);
		in->detached = 1;
		in->lives++;
		in->attr_known = 0;
	}
	pthread_mutex_unlock(&fs->lock);
}

void fs_inode_move(struct fs_data *fs, enum fs_kind from_kind,
                   const uint8_t *from, size_t from_len, const char *from_name,
                   enum fs_kind to_kind, const uint8_t *to, size_t to_len,
                   const char *to_name)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *old = fs_inode_find(fs, to_kind, to, to_len, to_name);
	struct fs_inode *in = fs_inode_find(fs, from_kind, from, from_len, from_name);
	if (old && old != in) {
		unlink_id(fs, old);
		old->detached = 1;
		old->lives++;
		old->attr_known = 0;
	}
	if (in && in != old) {
		uint8_t *k = malloc(to_len ? to_len : 1);
		char *n = to_name ? strdup(to_name) : NULL;
		unlink_id(fs, in);
		if (!k || (to_name && !n)) {
			free(k);
			free(n);
			in->detached = 1;   /* out of memory: the kernel will look it up again */
		} else {
			memcpy(k, to, to_len);
			free(in->key);
			free(in->name);
			in->key = k;
			in->key_len = to_len;
			in->name = n;
			in->kind = to_kind;
			in->size_version = 0;
			in->attr_known = 0;
			link_id(fs, in);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

void fs_inode_table_free(struct fs_data *fs)
{
	for (size_t b = 0; b < fs->nbuckets; b++) {
		struct fs_inode *in = fs->by_ino[b], *next;
		for (; in; in = next) {
			next = in->next_ino;
			inode_free(in);
		}
	}
	free(fs->by_ino);
	free(fs->by_id);
	fs->by_ino = fs->by_id = NULL;
	fs->nbuckets = 0;
	while (fs->scratch)
		fs_scratch_remove(fs, fs->scratch);
	while (fs->memdirs) {
		struct fs_memdir *m = fs->memdirs;
		fs->memdirs = m->next;
		free(m->key);
		free(m);
	}
}

/* ---- scratch files ---- */

void fs_log_scratch_left(struct fs_data *fs)
{
	size_t n = 0;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_scratch *s = fs->scratch; s; s = s->next) {
		if (!s->len)
			continue;       /* a lock file, or a file never written */
		if (n++ < 20) {
			char *path = fs_path(s->dir, s->dir_len, s->name);
			fs_log(fs, "dropping '%s' (%zu bytes): a name starting with '.' is a scratch file,"
			       " kept in memory while mounted and never stored", path ? path : s->name,
			       s->len);
			free(path);
		}
	}
	if (n > 20)
		fs_log(fs, "dropping %zu more scratch files", n - 20);
	pthread_mutex_unlock(&fs->lock);
}

struct fs_scratch *fs_scratch_find(struct fs_data *fs, const uint8_t *dir,
                                   size_t dir_len, const char *name)
{
	for (struct fs_scratch *s = fs->scratch; s; s = s->next)
		if (s->dir_len == dir_len && (!dir_len || memcmp(s->dir, dir, dir_len) == 0) &&
		    strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

struct fs_scratch *fs_scratch_add(struct fs_data *fs, const uint8_t *dir,
                                  size_t dir_len, const char *name)
{
	struct fs_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->dir = malloc(dir_len ? dir_len : 1);
	s->name = strdup(name);
	if (!s->dir || !s->name) {
		free(s->dir);
		free(s->name);
		free(s);
		return NULL;
	}
	memcpy(s->dir, dir, dir_len);
	s->dir_len = dir_len;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	s->next = fs->scratch;
	fs->scratch = s;
	return s;
}

static void scratch_unlink(struct fs_data *fs, struct fs_scratch *s)
{
	for (struct fs_scratch **pp = &fs->scratch; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = NULL;
}

void fs_scratch_remove(struct fs_data *fs, struct fs_scratch *s)
{
	scratch_unlink(fs, s);
	scratch_free(s);
}

void fs_scratch_drop(struct fs_data *fs, struct fs_scratch *s)
{
	struct fs_inode *in = fs_inode_find(fs, FS_SCRATCH, s->dir, s->dir_len, s->name);

	scratch_unlink(fs, s);
	if (in && in->opens) {
		unlink_id(fs, in);
		in->detached = 1;
		in->lives++;
		in->orphan = s;
	} else {
		scratch_free(s);
	}
}

static int scratch_reserve(struct fs_scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < n)
		cap *= 2;
	char *d = realloc(s->data, cap);
	if (!d)
		return -ENOMEM;
	s->data = d;
	s->cap = cap;
	return 0;
}

int fs_scratch_put(struct fs_scratch *s, const char *buf, size_t len, off_t off)
{
	size_t end = (size_t) off + len;
	if (scratch_reserve(s, end) < 0)
		return -ENOMEM;
	if ((size_t) off > s->len)
		memset(s->data + s->len, 0, (size_t) off - s->len);
	memcpy(s->data + off, buf, len);
	if (end > s->len)
		s->len = end;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	return 0;
}

int fs_scratch_truncate(struct fs_scratch *s, size_t len)
{
	if (scratch_reserve(s, len) < 0)
		return -ENOMEM;
	if (len > s->len)
		memset(s->data + s->len, 0, len - s->len);
	s->len = len;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	return 0;
}

/* ---- memory-only directories ---- */

int fs_memory_below(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	for (struct fs_memdir *m = fs->memdirs; m; m = m->next)
		if (kv_key_under(m->key, m->key_len, key, key_len))
			return 1;
	for (struct fs_scratch *s = fs->scratch; s; s = s->next)
		if (fs_key_within(s->dir, s->dir_len, key, key_len))
			return 1;
	return 0;
}

int fs_memdir_has(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	for (struct fs_memdir *m = fs->memdirs; m; m = m->next)
		if (fs_key_within(m->key, m->key_len, key, key_len))
			return 1;
	return 0;
}

int fs_memdir_exact(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	for (struct fs_memdir *m = fs->memdirs; m; m = m->next)
		if (!m->file && m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
			return 1;
	return 0;
}

int fs_memdir_type(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	int t = 0;
	for (struct fs_memdir *m = fs->memdirs; m; m = m->next) {
		if (!fs_key_within(m->key, m->key_len, key, key_len))
			continue;
		if (!m->file || m->key_len > key_len)
			return 'd';
		t = 'f';
	}
	/* a scratch file (an editor's swap file) in it, or deeper, makes it a directory */
	for (struct fs_scratch *s = fs->scratch; s; s = s->next)
		if (fs_key_within(s->dir, s->dir_len, key, key_len))
			return 'd';
	return t;
}

static int memdir_add(struct fs_data *fs, const uint8_t *key, size_t key_len, int file)
{
	for (struct fs_memdir *m = fs->memdirs; m; m = m->next)
		if (m->file == file && m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
			return 0;
	struct fs_memdir *m = calloc(1, sizeof(*m));
	if (!m || !(m->key = malloc(key_len ? key_len : 1))) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->key, key, key_len);
	m->key_len = key_len;
	m->file = file;
	m->next = fs->memdirs;
	fs->memdirs = m;
	return 0;
}

int fs_memdir_add(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	return memdir_add(fs, key, key_len, 0);
}

int fs_memfile_add(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	return memdir_add(fs, key, key_len, 1);
}

void fs_memfile_remove(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	struct fs_memdir **pp = &fs->memdirs;
	while (*pp) {
		struct fs_memdir *m = *pp;
		if (m->file && m->key_len == key_len && memcmp(m->key, key, key_len) == 0) {
			*pp = m->next;
			free(m->key);
			free(m);
		} else {
			pp = &m->next;
		}
	}
}

void fs_memdir_remove(struct fs_data *fs, const uint8_t *key, size_t key_len, int tree)
{
	struct fs_memdir **pp = &fs->memdirs;
	while (*pp) {
		struct fs_memdir *m = *pp;
		int hit = tree ? fs_key_within(m->key, m->key_len, key, key_len)
		               : m->key_len == key_len && memcmp(m->key, key, key_len) == 0;
		if (hit) {
			*pp = m->next;
			free(m->key);
			free(m);
		} else {
			pp = &m->next;
		}
	}
}

void fs_memdir_stored(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	struct fs_memdir **pp = &fs->memdirs;
	while (*pp) {
		struct fs_memdir *m = *pp;
		if (fs_key_within(key, key_len, m->key, m->key_len)) {
			*pp = m->next;
			free(m->key);
			free(m);
		} else {
			pp = &m->next;
		}
	}
}

void fs_memdir_rename(struct fs_data *fs, const uint8_t *from, size_t from_len,
                      const uint8_t *to, size_t to_len)
{
	for (struct fs_memdir *m = fs->memdirs; m; m = m->next)
		if (fs_key_within(m->key, m->key_len, from, from_len))
			swap_prefix(&m->key, &m->key_len, from_len, to, to_len);
	for (struct fs_scratch *s = fs->scratch; s; s = s->next)
		if (fs_key_within(s->dir, s->dir_len, from, from_len))
			swap_prefix(&s->dir, &s->dir_len, from_len, to, to_len);
}

ino_t fs_pseudo_ino(const void *name, size_t len)
{
	const uint8_t *p = name;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	/* eight bytes a step: a listing hashes every name it sends */
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
		h ^= h >> 29;
	}
	return (ino_t) (h | 1ULL << 63);
}
