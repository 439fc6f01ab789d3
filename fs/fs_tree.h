/*
 * fs_tree.h - what the key tree's files share: fs_ops.c (names,
 * attributes, lookup, files, mkdir, unlink, rmdir, the op table),
 * fs_readdir.c (listings) and fs_rename.c (rename). Private to them.
 */
#ifndef KVFS_FS_TREE_H
#define KVFS_FS_TREE_H

#include <sys/stat.h>
#include "fs.h"

static inline struct fs_data *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- names (fs_ops.c) ---- */

enum name_kind { N_KEY, N_VALUE, N_SCRATCH, N_RESERVED };

/* One name in a directory, resolved. */
struct fs_name {
	enum name_kind kind;
	uint8_t *dir;           /* the parent directory's key */
	size_t dir_len;
	uint8_t *key;           /* N_KEY: child key; N_VALUE: the directory's key */
	size_t key_len;
	const char *name;
	char *canon;            /* N_KEY: the listing's spelling, when `name` is another one */
};

/*
 * How long the kernel may keep the name: another spelling of a key part
 * (`007` for 7, `"abc"` for abc) not at all, so that a name the key no
 * longer has is never used for it; its listed spelling, the mount's timeout.
 * And after removing or renaming by another spelling, tree_forget_alias
 * makes the kernel drop the listed one.
 */
double tree_entry_timeout(const struct fs_data *fs, const struct fs_name *n);
/* The attribute timeout for a value expiring at `expires` (-1: never). */
double tree_timeout(const struct fs_data *fs, int64_t expires);
void tree_forget_alias(struct fs_data *fs, fuse_ino_t parent, const struct fs_name *n);

/*
 * Resolve `name` in directory `parent`. Errors: ENOENT (unknown parent, or
 * an undecodable name when !creating), EINVAL (undecodable when creating),
 * ENOTDIR, ENAMETOOLONG. After ENOENT or EINVAL for the name, n->dir is
 * still the directory's key, for a log line: tree_name_free it.
 */
int tree_resolve(struct fs_data *fs, fuse_ino_t parent, const char *name,
                 int creating, struct fs_name *n);
void tree_name_free(struct fs_name *n);
/*
 * What a key is in the tree: 'd' directory, 'f' file, 'e' an empty file
 * kept in memory, 0 absent (or an errno in *err); *ep (may be NULL) gets
 * the key's entry when it holds a value.
 */
int tree_key_type(struct fs_data *fs, const uint8_t *key, size_t key_len,
                  kv_entry **ep, int *err);
/* "cannot WHAT 'PATH': REASON" on the daemon's log. */
void tree_log_path(struct fs_data *fs, const char *what, const uint8_t *dir,
                   size_t dir_len, const char *name, const char *reason);
/* The same for an engine call on `key` that failed (its message), unless the file is gone. */
/* Why .tx, .commit and .watch at the top cannot be removed, renamed or replaced. */
#define TREE_WHY_RESERVED "one of the mount's control directories"
/* ".value" when a file's key shows as a directory (the file is its .value), else NULL. */
const char *tree_value_leaf(struct fs_data *fs, enum fs_kind kind, const uint8_t *key,
                            size_t len);
/* A refusal naming inode `ino`, or `name` in directory `ino`, by its path. */
void tree_log_inode(struct fs_data *fs, const char *what, fuse_ino_t ino, const char *name,
                    const char *reason);
void tree_log_failure(struct fs_data *fs, const char *what, const uint8_t *key, size_t key_len);

/* ---- attributes (fs_ops.c) ---- */

void tree_base_attr(struct fs_data *fs, struct stat *st, mode_t mode);
void tree_dir_attr(struct fs_data *fs, struct stat *st);
void tree_file_attr(struct fs_data *fs, const kv_entry *e, struct stat *st);
/* Remember what the kernel was told about a file inode. */
void tree_note_seen(struct fs_data *fs, fuse_ino_t ino, const kv_entry *e, off_t size);
/* An entry's value as its file shows it (heap); logs a value that does not decode. */
int tree_value_text(struct fs_data *fs, const kv_entry *e, char **text, size_t *len);

/* ---- the handlers of the other files ---- */

void tree_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tree_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                  struct fuse_file_info *fi);
void tree_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info *fi);
void tree_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tree_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                 fuse_ino_t newparent, const char *newname, unsigned int flags);

#endif
