/*
 * fs_notify.c - telling the kernel what changed, from one thread.
 *
 * The kernel caches names (entry timeout), attributes (attr timeout) and
 * the pages of dot-files and of private mappings (files of keys are read
 * with direct_io). Two kinds of change make those stale:
 *
 *   - changes made through this mount: the handler that made the change
 *     queues the precise invalidation (the file's inode, or a name whose
 *     type flipped between file and directory) and replies;
 *   - changes made by other writers (Deno, another mount, `kvfs load`):
 *     the poller reads kv_version_others every poll_ms; when it moved, it
 *     re-reads the files the kernel holds and invalidates those whose
 *     version moved, and the names whose type changed or that vanished.
 *     Our own commits do not move it (re-reading every inode after each
 *     of them cost more than the commits); a commit whose effects reach
 *     beyond what its handler invalidated (a transaction, a directory
 *     rename) asks for a poll with fs_notify_key or fs_notify_poll.
 *
 * Both go through this thread because a notify call made from inside a
 * handler (or while holding a lock a handler needs) can deadlock against
 * the kernel, which holds the directory's lock while it waits for our
 * reply. Whatever the poller misses expires anyway with the timeouts
 * (default 1 s), so a change is visible within max(timeout, poll_ms).
 *
 * Lock order: fs->lock before fs->qlock; no FUSE or engine call under
 * either.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs.h"

struct fs_notice {
	fuse_ino_t ino;         /* inode to invalidate, or the parent of `name` */
	char *name;             /* entry name; NULL for an inode notice */
	uint8_t *key;           /* key whose name is to be invalidated (resolved later) */
	size_t key_len;
	struct fs_notice *next;
};

static void enqueue(struct fs_data *fs, struct fs_notice *n)
{
	pthread_mutex_lock(&fs->qlock);
	if (!fs->started || fs->stop) {
		pthread_mutex_unlock(&fs->qlock);
		free(n->name);
		free(n->key);
		free(n);
		return;
	}
	if (fs->queue_tail)
		fs->queue_tail->next = n;
	else
		fs->queue = n;
	fs->queue_tail = n;
	if (n->key)
		fs->poll_due = 1;
	fs->asked++;
	pthread_cond_signal(&fs->qcond);
	pthread_mutex_unlock(&fs->qlock);
}

void fs_notify_poll(struct fs_data *fs)
{
	pthread_mutex_lock(&fs->qlock);
	fs->poll_due = 1;
	fs->asked++;
	pthread_cond_signal(&fs->qcond);
	pthread_mutex_unlock(&fs->qlock);
}

void fs_notify_wait(struct fs_data *fs, unsigned max_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long) (max_ms % 1000) * 1000000L;
	ts.tv_sec += max_ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&fs->qlock);
	uint64_t want = fs->asked;
	while (fs->started && !fs->stop && fs->done < want)
		if (pthread_cond_timedwait(&fs->qdone, &fs->qlock, &ts) != 0)
			break;
	pthread_mutex_unlock(&fs->qlock);
}

void fs_notify_inode(struct fs_data *fs, fuse_ino_t ino)
{
	struct fs_notice *n = calloc(1, sizeof(*n));
	if (!n)
		return;
	n->ino = ino;
	enqueue(fs, n);
}

/*
 * The one notice sent from inside a handler: dropping only a file's
 * attributes (offset -1) takes no lock in the kernel but the inode's
 * spinlock, none a request waiting for us could hold, so it cannot
 * deadlock, and it is done before the reply.
 */
void fs_notify_attr_now(struct fs_data *fs, fuse_ino_t ino)
{
	if (fs->se && fs->started)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

void fs_notify_entry(struct fs_data *fs, fuse_ino_t parent, const char *name)
{
	struct fs_notice *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		return;
	}
	n->ino = parent;
	enqueue(fs, n);
}

void fs_notify_key(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	if (!key_len)
		return;
	struct fs_notice *n = calloc(1, sizeof(*n));
	if (!n || !(n->key = malloc(key_len))) {
		free(n);
		return;
	}
	memcpy(n->key, key, key_len);
	n->key_len = key_len;
	enqueue(fs, n);
}

/* Invalidate the name of `key` in its parent, when the kernel holds the parent. */
static void inval_key_name(struct fs_data *fs, const uint8_t *key, size_t key_len)
{
	size_t plen = fs_parent_len(key, key_len);
	char *name = NULL;
	fuse_ino_t parent = 0;

	if (kv_name_from_part(key + plen, key_len - plen, &name) != KV_OK)
		return;
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *p = plen ? fs_inode_find(fs, FS_DIR, key, plen, NULL)
	                          : fs_inode_get(fs, FUSE_ROOT_ID);
	if (p)
		parent = p->ino;
	pthread_mutex_unlock(&fs->lock);
	if (parent)
		fuse_lowlevel_notify_inval_entry(fs->se, parent, name, strlen(name));
	kv_free(name);
}

static void run_notice(struct fs_data *fs, struct fs_notice *n)
{
	if (n->key)
		inval_key_name(fs, n->key, n->key_len);
	else if (n->name)
		fuse_lowlevel_notify_inval_entry(fs->se, n->ino, n->name, strlen(n->name));
	else
		fuse_lowlevel_notify_inval_inode(fs->se, n->ino, 0, 0);
}

struct held {
	fuse_ino_t ino;
	enum fs_kind kind;
	uint8_t *key;
	size_t key_len;
	uint64_t seen;
};

/*
 * Another writer committed: re-read what the kernel holds. Copies the
 * inode list under the lock, then reads and notifies without it.
 */
static void poll_changes(struct fs_data *fs)
{
	struct held *h = NULL;
	size_t n = 0;

	pthread_mutex_lock(&fs->lock);
	h = calloc(fs->ninodes + 1, sizeof(*h));
	for (size_t b = 0; h && b < fs->nbuckets; b++)
		for (struct fs_inode *in = fs->by_ino[b]; in; in = in->next_ino) {
			if (in->detached || in->kind == FS_SCRATCH || in->ino == FUSE_ROOT_ID || !in->nlookup)
				continue;
			uint8_t *k = malloc(in->key_len);
			if (!k)
				continue;
			memcpy(k, in->key, in->key_len);
			h[n++] = (struct held) { in->ino, in->kind, k, in->key_len, in->seen_version };
		}
	pthread_mutex_unlock(&fs->lock);

	for (size_t i = 0; i < n; i++) {
		kv_entry *e = NULL;
		int rc = kv_lookup(fs->db, h[i].key, h[i].key_len, &e);
		int is_dir = rc == KV_OK && (e->flags & KV_ENTRY_CHILDREN);
		int has_value = rc == KV_OK && (e->flags & KV_ENTRY_VALUE);
		if (h[i].kind == FS_FILE) {
			if (!has_value || e->version != h[i].seen) {
				pthread_mutex_lock(&fs->lock);
				struct fs_inode *in = fs_inode_get(fs, h[i].ino);
				if (in && has_value)
					in->seen_version = e->version;
				pthread_mutex_unlock(&fs->lock);
				fuse_lowlevel_notify_inval_inode(fs->se, h[i].ino, 0, 0);
			}
			if (!has_value || is_dir)
				inval_key_name(fs, h[i].key, h[i].key_len);
		} else if (h[i].kind == FS_DIR) {
			int mem;
			pthread_mutex_lock(&fs->lock);
			mem = fs_memdir_has(fs, h[i].key, h[i].key_len);
			pthread_mutex_unlock(&fs->lock);
			if (!is_dir && !mem)
				inval_key_name(fs, h[i].key, h[i].key_len);
			else if (has_value)
				fuse_lowlevel_notify_inval_entry(fs->se, h[i].ino, ".value", 6);
		}
		kv_free(e);
		free(h[i].key);
	}
	free(h);
}

static void *notifier(void *arg)
{
	struct fs_data *fs = arg;

	pthread_mutex_lock(&fs->qlock);
	while (!fs->stop) {
		if (!fs->queue && !fs->poll_due) {
			if (fs->opt.poll_ms) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += (long) (fs->opt.poll_ms % 1000) * 1000000L;
				ts.tv_sec += fs->opt.poll_ms / 1000 + ts.tv_nsec / 1000000000L;
				ts.tv_nsec %= 1000000000L;
				pthread_cond_timedwait(&fs->qcond, &fs->qlock, &ts);
			} else {
				pthread_cond_wait(&fs->qcond, &fs->qlock);
			}
		}
		struct fs_notice *n = fs->queue;
		int due = fs->poll_due;
		uint64_t asked = fs->asked;
		fs->queue = fs->queue_tail = NULL;
		fs->poll_due = 0;
		pthread_mutex_unlock(&fs->qlock);

		while (n) {
			struct fs_notice *next = n->next;
			run_notice(fs, n);
			free(n->name);
			free(n->key);
			free(n);
			n = next;
		}
		/* the database file replaced or removed: every request fails now; say so once */
		if (!fs->file_gone && kv_check_file(fs->db) != KV_OK) {
			fs->file_gone = 1;
			fs_log(fs, "%s; every request fails with EIO", kv_errmsg(NULL));
		}
		uint64_t v;
		if (fs->opt.poll_ms && kv_version_others(fs->db, &v) == KV_OK &&
		    (v != fs->last_version || due)) {
			if (v != fs->last_version) {
				/* what getattr remembers may be another writer's old news */
				pthread_mutex_lock(&fs->lock);
				fs->epoch++;
				pthread_mutex_unlock(&fs->lock);
			}
			fs->last_version = v;
			poll_changes(fs);
		}
		pthread_mutex_lock(&fs->qlock);
		fs->done = asked;
		pthread_cond_broadcast(&fs->qdone);
	}
	pthread_mutex_unlock(&fs->qlock);
	return NULL;
}

int fs_start(struct fs_data *fs, struct fuse_session *se)
{
	fs->se = se;
	if (fs_ctl_start(fs) < 0 || fs_watch_start(fs) < 0)
		return -ENOMEM;
	kv_version_others(fs->db, &fs->last_version);
	pthread_mutex_lock(&fs->qlock);
	fs->started = 1;
	pthread_mutex_unlock(&fs->qlock);
	int rc = pthread_create(&fs->thread, NULL, notifier, fs);
	if (rc) {
		fs->started = 0;
		return -rc;
	}
	return 0;
}

static void on_change(void *ctx, const uint8_t *key, size_t key_len, uint64_t version)
{
	(void) version;
	fs_inode_changed(ctx, key, key_len);
}

void fs_attach(struct fs_data *fs, kv_db *db)
{
	fs->db = db;
	if (db)
		kv_on_change(db, on_change, fs);
}

void fs_stop(struct fs_data *fs)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->qlock);
	int started = fs->started;
	fs->started = 0;
	fs->stop = 1;
	pthread_cond_signal(&fs->qcond);
	pthread_cond_broadcast(&fs->qdone);
	pthread_mutex_unlock(&fs->qlock);
	if (started)
		pthread_join(fs->thread, NULL);
	fs_watch_stop(fs);
}

void fs_free(struct fs_data *fs)
{
	if (!fs)
		return;
	fs_stop(fs);
	while (fs->queue) {
		struct fs_notice *n = fs->queue;
		fs->queue = n->next;
		free(n->name);
		free(n->key);
		free(n);
	}
	fs_inode_table_free(fs);
	fs_ctl_free(fs);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->qlock);
	pthread_cond_destroy(&fs->qcond);
	pthread_cond_destroy(&fs->qdone);
	free(fs);
}
