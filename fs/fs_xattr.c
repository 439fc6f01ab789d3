/*
 * fs_xattr.c - extended attributes: the key, versionstamp and expiry.
 *
 *   user.kv.versionstamp  file       20 hex digits, read-only
 *   user.kv.key           file, dir  the key as a $-tagged JSON array, read-only
 *   user.kv.expire_in     file       write milliseconds: set the value again with
 *                                    that time-to-live; read: milliseconds left
 *   user.kv.expires_at    file       ISO 8601 expiry; ENODATA when none;
 *                                    removing it (or expire_in) drops the expiry
 *
 * Any other user.* name is ENODATA; a name in another namespace
 * (security.*, system.*, trusted.*) is ENOTSUP, as on a file system
 * without labels or ACLs: `ls -l` asks for security.selinux and
 * system.posix_acl_access on every file until it meets ENOTSUP once, and
 * then stops asking for the whole mount. Both answers come without
 * touching the database (the kernel asks for security.capability before
 * every write). Never ENOSYS: the kernel would switch xattrs off for the
 * whole mount, ours included.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs.h"
#include "fs_tree.h"

#define X_STAMP   "user.kv.versionstamp"
#define X_KEY     "user.kv.key"
#define X_IN      "user.kv.expire_in"
#define X_AT      "user.kv.expires_at"

int64_t fs_expire_in(int64_t expires_at)
{
	if (expires_at < 0)
		return -1;
	int64_t left = expires_at - fs_now_ms();
	return left > 0 ? left : 1;
}

void fs_expiry_text(const char *name, int64_t expires, char *buf, size_t size)
{
	if (strcmp(name, X_IN) == 0) {
		int64_t left = expires - fs_now_ms();
		snprintf(buf, size, "%" PRId64, left > 0 ? left : 0);
		return;
	}
	time_t sec = (time_t) (expires / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03dZ", (int) (expires % 1000));
}

void fs_reply_xattr(fuse_req_t req, const char *v, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

int fs_xattr_absent(const char *name)
{
	return strncmp(name, "user.", 5) == 0 ? ENODATA : ENOTSUP;
}

static int is_ours(const char *name)
{
	return strcmp(name, X_STAMP) == 0 || strcmp(name, X_KEY) == 0 ||
	       strcmp(name, X_IN) == 0 || strcmp(name, X_AT) == 0;
}

/* The expiry set on a file not stored yet, for its first value; -1 none. */
static int64_t pending_expiry(struct fs_data *fs, fuse_ino_t ino)
{
	int64_t at = -1;
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	if (in && !in->detached && in->expire_pending)
		at = in->expire_pending;
	pthread_mutex_unlock(&fs->lock);
	return at;
}

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_data *fs = fuse_req_userdata(req);
	enum fs_kind kind;
	size_t key_len;
	uint8_t *key = NULL;
	kv_entry *e = NULL;
	char buf[64], *json = NULL;
	int err = 0;

	if (!is_ours(name)) {
		fuse_reply_err(req, fs_xattr_absent(name));
		return;
	}
	key = fs_inode_key(fs, ino, &kind, &key_len, NULL);
	if (!key) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	uint64_t version = 0;      /* of the value shown; 0: none */
	int64_t expires = -1;      /* its expiry, Unix ms; -1: none */
	if (kind == FS_SCRATCH ? strcmp(name, X_IN) != 0 && strcmp(name, X_AT) != 0
	                       : kind == FS_DIR && strcmp(name, X_KEY) != 0) {
		err = ENODATA;
	} else if (strcmp(name, X_KEY) == 0) {
		if (key_len == 0) {
			fs_reply_xattr(req, "[]", 2, size);
		} else if (kv_key_to_json(key, key_len, &json) != KV_OK) {
			err = EIO;
		} else {
			fs_reply_xattr(req, json, strlen(json), size);
		}
	} else {
		if (kind == FS_SCRATCH) {
			/* the time-to-live a dot-file gives the key it is renamed onto */
			expires = pending_expiry(fs, ino);
		} else if (fs_gone_version(fs, ino, &version)) {
			/* removed or replaced while open: never the new file's */
		} else if (strcmp(name, X_STAMP) == 0 && fs_known_version(fs, ino, &version)) {
			/* known without reading */
		} else if (kv_get(fs->db, key, key_len, &e) == KV_OK) {
			version = e->version;
			expires = e->expires_at;
		} else if (strcmp(name, X_STAMP) != 0) {
			/* not stored yet: the time-to-live its first value will get */
			expires = pending_expiry(fs, ino);
		}
		if (strcmp(name, X_STAMP) == 0 ? !version : expires < 0) {
			err = ENODATA;
		} else if (strcmp(name, X_STAMP) == 0) {
			kv_versionstamp_format(version, buf);
		} else {
			fs_expiry_text(name, expires, buf, sizeof(buf));
		}
		if (!err)
			fs_reply_xattr(req, buf, strlen(buf), size);
	}
	if (err)
		fuse_reply_err(req, err);
	kv_free(json);
	kv_free(e);
	free(key);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_data *fs = fuse_req_userdata(req);
	enum fs_kind kind;
	size_t key_len, len = 0;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, NULL);
	kv_entry *e = NULL;
	char list[128];

	if (!key) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/*
	 * Listed is what a copy of the file should carry: its time-to-live.
	 * The key, the versionstamp and the expiry instant are the store's
	 * own, read by name; cp -a, mv across directories, rsync -X and tar
	 * --xattrs copy every listed name and would fail to set those.
	 */
	int64_t expires = -1;
	if (kind == FS_FILE)
		expires = kv_get(fs->db, key, key_len, &e) == KV_OK ? e->expires_at
		                                                     : pending_expiry(fs, ino);
	else if (kind == FS_SCRATCH)
		expires = pending_expiry(fs, ino);
	if (expires >= 0) {
		memcpy(list, X_IN, sizeof(X_IN));
		len = sizeof(X_IN);
	}
	fs_reply_xattr(req, list, len, size);
	kv_free(e);
	free(key);
}

/*
 * Set the value again with a new expiry (-1: none), checked against what
 * was read, `e` first: when another writer changed the value in between,
 * read it again and retry, so the expiry lands on the newest value.
 */
#define EXPIRY_TRIES 100

static int set_expiry(struct fs_data *fs, const uint8_t *key, size_t key_len,
                      const kv_entry *e, int64_t expire_in)
{
	kv_entry *again = NULL;
	int rc = KV_CONFLICT;

	for (int i = 0; i < EXPIRY_TRIES && rc == KV_CONFLICT; i++) {
		kv_atomic *a = NULL;
		if (i) {
			kv_free(again);
			again = NULL;
			if ((rc = kv_get(fs->db, key, key_len, &again)) != KV_OK)
				break;
			e = again;
		}
		rc = kv_atomic_begin(fs->db, &a);
		if (rc == KV_OK)
			rc = kv_atomic_check(a, key, key_len, &e->version);
		if (rc == KV_OK)
			rc = kv_atomic_set(a, key, key_len, e->encoding, e->value, e->value_len,
			                   expire_in);
		if (rc == KV_OK) {
			rc = kv_atomic_commit(a, NULL);
			a = NULL;
		}
		kv_atomic_abort(a);
	}
	kv_free(again);
	return rc == KV_CONFLICT ? EAGAIN : fs_errno(rc);
}

/* `file`: a scratch file's name in directory `key`, else NULL. */
static void log_xattr(struct fs_data *fs, const char *verb, enum fs_kind kind,
                      const uint8_t *key, size_t key_len, const char *file, const char *name,
                      const char *reason)
{
	char what[300];
	snprintf(what, sizeof(what), verb, name);
	fs_log_refusal(fs, what, "", key, key_len,
	               file ? file : tree_value_leaf(fs, kind, key, key_len), reason);
}

/*
 * Not stored yet, but being written, kept empty in memory, or a dot-file
 * (rsync -X sets it on its temporary file): the expiry waits for its commit.
 */
static int pending_ok(struct fs_data *fs, fuse_ino_t ino)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	int ok = in && !in->detached &&
	         (in->opens || in->kind == FS_SCRATCH ||
	          fs_memdir_type(fs, in->key, in->key_len) == 'f');
	pthread_mutex_unlock(&fs->lock);
	return ok;
}

static void set_pending(struct fs_data *fs, fuse_ino_t ino, int64_t at)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_inode *in = fs_inode_get(fs, ino);
	if (in)
		in->expire_pending = at;
	pthread_mutex_unlock(&fs->lock);
}

int fs_parse_ms(const char *value, size_t size, int64_t *ms)
{
	char text[32];
	char *end;

	if (size == 0 || size >= sizeof(text))
		return EINVAL;
	memcpy(text, value, size);
	text[size] = '\0';
	while (size && strchr(" \t\r\n", text[size - 1]))
		text[--size] = '\0';
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || !isdigit((unsigned char) text[0]) || *end || v > KV_MAX_EXPIRY_MS - fs_now_ms())
		return EINVAL;
	*ms = v;
	return 0;
}

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                 const char *value, size_t size, int flags)
{
	struct fs_data *fs = fuse_req_userdata(req);
	enum fs_kind kind;
	size_t key_len;
	char *file = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &file);
	kv_entry *e = NULL;
	int err = 0;

	(void) flags;
	if (!key) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!is_ours(name)) {
		err = ENOTSUP;
		/* cp -a tries an ACL on every file: as on a file system without them, quietly */
		int staged = !strcmp(name, "user.kv.sum") || !strcmp(name, "user.kv.min") ||
		             !strcmp(name, "user.kv.max") || !strcmp(name, "user.kv.check");
		if (strncmp(name, "user.", 5) == 0)
			log_xattr(fs, "set %s on", kind, key, key_len, file, name, staged ?
			          "sum, min, max and check are staged inside a transaction (.tx/T) only" :
			          "kvfs stores no other attributes");
	} else if (strcmp(name, X_IN) != 0 || (kind != FS_FILE && kind != FS_SCRATCH)) {
		err = EPERM;
		log_xattr(fs, "set %s on", kind, key, key_len, file, name, "read-only attribute");
	} else if (kind == FS_SCRATCH ? !pending_ok(fs, ino)
	           : kv_get(fs->db, key, key_len, &e) != KV_OK && !pending_ok(fs, ino)) {
		err = ENOENT;
	} else {
		int64_t ms;
		if ((err = fs_parse_ms(value, size, &ms)))
			;
		else if (e)
			err = set_expiry(fs, key, key_len, e, ms);
		else
			set_pending(fs, ino, fs_now_ms() + ms);
		if (err)
			log_xattr(fs, "set %s on", kind, key, key_len, file, name, err == EINVAL
			          ? "expected a non-negative number of milliseconds" : strerror(err));
	}
	if (!err && kind == FS_FILE)
		fs_notify_inode(fs, ino);
	fuse_reply_err(req, err);
	kv_free(e);
	free(key);
	free(file);
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_data *fs = fuse_req_userdata(req);
	enum fs_kind kind;
	size_t key_len;
	char *file = NULL;
	uint8_t *key = fs_inode_key(fs, ino, &kind, &key_len, &file);
	kv_entry *e = NULL;
	int err = 0;

	if (!key) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!is_ours(name)) {
		err = ENODATA;
	} else if ((strcmp(name, X_IN) != 0 && strcmp(name, X_AT) != 0) || kind != FS_FILE) {
		err = EPERM;
		log_xattr(fs, "remove %s from", kind, key, key_len, file, name, "read-only attribute");
	} else if (kv_get(fs->db, key, key_len, &e) != KV_OK || e->expires_at < 0) {
		err = ENODATA;
	} else {
		err = set_expiry(fs, key, key_len, e, -1);
	}
	fuse_reply_err(req, err);
	kv_free(e);
	free(key);
	free(file);
}
