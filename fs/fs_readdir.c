/*
 * fs_readdir.c - the key tree's listings: opendir, readdir(plus),
 * releasedir.
 *
 * A directory lists, in this order: "." and "..", the dot-names (its
 * `.value` and its scratch files, a snapshot taken at opendir), then its
 * children in key order: the stored ones merged with the memory-only
 * directories and empty files (fs_merge.c). Memory stays bounded by one
 * batch of the listing, whatever the directory's size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "fs_tree.h"

/* ---- the kernel's limit on names in a listing ---- */

void fs_name_seen(struct fs_data *fs, const char *name)
{
	if (strlen(name) > FS_NAME_MAX_OLD)
		__atomic_store_n(&fs->name_max, FS_NAME_MAX_NEW, __ATOMIC_RELAXED);
}

int fs_name_listable(struct fs_data *fs, const char *name, const uint8_t *dir,
                     size_t dir_len, int *told)
{
	int max = __atomic_load_n(&fs->name_max, __ATOMIC_RELAXED);
	size_t len = strlen(name);

	if (len <= (size_t) max)
		return 1;
	if (!*told) {
		char start[48], why[160];
		snprintf(start, sizeof(start), "%.40s...", name);
		snprintf(why, sizeof(why), "a name of %zu bytes is more than this kernel takes in "
		         "a listing (%d); the key is left out", len, max);
		tree_log_path(fs, "list", dir, dir_len, start, why);
		*told = 1;
	}
	return 0;
}

/*
 * Look up one name longer than the old limit: the kernel passes it on
 * only if it takes it. Started while the INIT reply is on its way, so a
 * refusal is tried again a few times, in case the kernel judged the name
 * before it took that reply.
 */
static void *probe_names(void *arg)
{
	char *path = arg;
	struct stat st;
	for (int i = 0; i < 5; i++) {
		if (stat(path, &st) == 0 || errno != ENAMETOOLONG)
			break;      /* ENOENT (a dot-name): passed on */
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	free(path);
	return NULL;
}

void fs_name_probe(struct fs_data *fs)
{
	const char *mnt = fs->opt.mountpoint;
	pthread_t t;
	pthread_attr_t attr;

	if (!mnt || mnt[0] != '/')
		return;
	size_t n = strlen(mnt);
	char *path = malloc(n + 2 + FS_NAME_MAX_OLD + 2);
	if (!path)
		return;
	memcpy(path, mnt, n);
	path[n] = '/';
	path[n + 1] = '.';      /* a dot-name: never a key */
	memset(path + n + 2, 'n', FS_NAME_MAX_OLD + 1);
	path[n + 2 + FS_NAME_MAX_OLD + 1] = '\0';
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, probe_names, path) != 0)
		free(path);
	pthread_attr_destroy(&attr);
}

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
	int kept_names;         /* that listing reads names only (plain readdir) */
	int told;               /* a name too long to list was logged */
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
		if (!kv_key_under(m->key, m->key_len, d->key, d->key_len) ||
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

void tree_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
	/*
	 * A plain readdir shows names and types only, so its listing reads no
	 * values. The kernel asks for readdirplus first and after lookups,
	 * plain readdir otherwise, on the same handle: a change of kind starts
	 * the listing of the other kind where the last reply ended.
	 */
	if (!(d->kept && after && off == d->kept_off && d->kept_names == !plus)) {
		/* (after points into the batch, used here before the loop clears it) */
		fs_merge_free(&d->merge);
		rc = fs_merge_start(&d->merge, fs->db, d->key, d->key_len, after,
		                    after_len, d->mem, d->nmem, !plus);
		if (rc != KV_OK) {
			err = fs_errno(rc);
			tree_log_failure(fs, "list", d->key, d->key_len);
			goto done;
		}
		d->kept_names = !plus;
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
		if (owned && !fs_name_listable(fs, owned, d->key, d->key_len, &d->told)) {
			kv_free(owned);
			fs_merge_take(&d->merge);
			continue;
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
		/* a value with only memory entries below it is a directory, as a lookup says */
		if (!isdir && e && (__atomic_load_n(&fs->memdirs, __ATOMIC_RELAXED) ||
		                    __atomic_load_n(&fs->scratch, __ATOMIC_RELAXED))) {
			pthread_mutex_lock(&fs->lock);
			isdir = fs_memdir_type(fs, key, key_len) == 'd';
			pthread_mutex_unlock(&fs->lock);
		}
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
				tree_dir_attr(fs, &st);
			else if (m)
				tree_base_attr(fs, &st, S_IFREG | 0644);
			else
				tree_file_attr(fs, e, &st);
			struct fs_inode *in = fs_inode_ref(fs, isdir ? FS_DIR : FS_FILE,
			                                   key, key_len, NULL, 1);
			struct fuse_entry_param ep = { .attr = st };
			if (in) {
				ep.ino = in->ino;
				ep.attr.st_ino = in->ino;
				ep.attr_timeout = ep.entry_timeout =
					isdir || m ? fs->opt.timeout : tree_timeout(fs, e->expires_at);
				if (!isdir && !m)
					tree_note_seen(fs, in->ino, e, st.st_size);
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
	if (rc != KV_OK && rc != KV_DONE && !err) {
		err = fs_errno(rc);
		tree_log_failure(fs, "list", d->key, d->key_len);
	}
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

void tree_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

void tree_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

void tree_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	dirh_free((struct fs_dirh *) (uintptr_t) fi->fh);
	fuse_reply_err(req, 0);
}
