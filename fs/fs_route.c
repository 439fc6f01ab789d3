/*
 * fs_route.c - the op table mount/main.c hands to libfuse: each request
 * goes to the key tree (fs_key_ops, fs_ops.c) or to a control tree
 * (fs_ctl_ops, fs_tx.c: .tx, .commit, .watch and everything below them).
 *
 * Control inodes have numbers from FS_CTL_INO up, so one comparison on the
 * inode (or the parent's) decides, without touching either tree's table;
 * the only names that cross from the key tree into a control tree are the
 * three control entries at the root. Operations of the key tree that may
 * commit wake the .watch readers after they reply.
 */
#include <errno.h>
#include <fcntl.h>
#include "fs.h"


static struct fs_data *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The kernel's limit on names is known once it took the INIT reply. */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void) conn;
	fs_name_probe(userdata);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_name_seen(fs_of(req), name);
	if (fs_ctl_owns(parent) || (parent == FUSE_ROOT_ID && fs_ctl_root_name(name)))
		fs_ctl_ops.lookup(req, parent, name);
	else
		fs_key_ops.lookup(req, parent, name);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.forget : fs_key_ops.forget)(req, ino, nlookup);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_data *fs = fs_of(req);
	for (size_t i = 0; i < count; i++) {
		if (fs_ctl_owns(forgets[i].ino))
			fs_ctl_forget(fs, forgets[i].ino, forgets[i].nlookup);
		else
			fs_inode_forget(fs, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.getattr : fs_key_ops.getattr)(req, ino, fi);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */

	if (fs_ctl_owns(ino)) {
		fs_ctl_ops.setattr(req, ino, attr, to_set, fi);
		return;
	}
	fs_key_ops.setattr(req, ino, attr, to_set, fi);
	if (to_set & FUSE_SET_ATTR_SIZE)
		fs_watch_poke(fs);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.open : fs_key_ops.open)(req, ino, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.read : fs_key_ops.read)(req, ino, size, off, fi);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
                     off_t off, struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.write : fs_key_ops.write)(req, ino, buf, size, off, fi);
}

/* Operations of the key tree that may commit wake the watchers after. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	if (fs_ctl_owns(ino)) {
		fs_ctl_ops.flush(req, ino, fi);
		return;
	}
	fs_key_ops.flush(req, ino, fi);
	fs_watch_poke(fs);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	if (fs_ctl_owns(ino)) {
		fs_ctl_ops.fsync(req, ino, datasync, fi);
		return;
	}
	fs_key_ops.fsync(req, ino, datasync, fi);
	fs_watch_poke(fs);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_data *fs = fs_of(req);
	if (fs_ctl_owns(ino)) {
		fs_ctl_ops.release(req, ino, fi);
		return;
	}
	int writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	fs_key_ops.release(req, ino, fi);
	if (writable)
		fs_watch_poke(fs);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	(fs_ctl_owns(parent) ? fs_ctl_ops.create : fs_key_ops.create)(req, parent, name, mode, fi);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.opendir : fs_key_ops.opendir)(req, ino, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.readdir : fs_key_ops.readdir)(req, ino, size, off, fi);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.readdirplus : fs_key_ops.readdirplus)(req, ino, size, off, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.releasedir : fs_key_ops.releasedir)(req, ino, fi);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(fs_ctl_owns(parent) ? fs_ctl_ops.mkdir : fs_key_ops.mkdir)(req, parent, name, mode);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */

	if (fs_ctl_owns(parent)) {
		fs_ctl_ops.unlink(req, parent, name);
		return;
	}
	fs_key_ops.unlink(req, parent, name);
	fs_watch_poke(fs);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(fs_ctl_owns(parent) ? fs_ctl_ops.rmdir : fs_key_ops.rmdir)(req, parent, name);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */

	if (fs_ctl_owns(parent) || fs_ctl_owns(newparent)) {
		fs_ctl_ops.rename(req, parent, name, newparent, newname, flags);
		return;
	}
	fs_key_ops.rename(req, parent, name, newparent, newname, flags);
	fs_watch_poke(fs);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                     dev_t rdev)
{
	(fs_ctl_owns(parent) ? fs_ctl_ops.mknod : fs_key_ops.mknod)(req, parent, name, mode, rdev);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(fs_ctl_owns(parent) ? fs_ctl_ops.symlink : fs_key_ops.symlink)(req, link, parent, name);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                    struct fuse_pollhandle *ph)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.poll : fs_key_ops.poll)(req, ino, fi, ph);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	if (fs_ctl_owns(ino) || fs_ctl_owns(newparent))
		fs_ctl_ops.link(req, ino, newparent, newname);
	else
		fs_key_ops.link(req, ino, newparent, newname);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */

	if (fs_ctl_owns(ino)) {
		fs_ctl_ops.setxattr(req, ino, name, value, size, flags);
		return;
	}
	fs_key_ops.setxattr(req, ino, name, value, size, flags);
	fs_watch_poke(fs);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.getxattr : fs_key_ops.getxattr)(req, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(fs_ctl_owns(ino) ? fs_ctl_ops.listxattr : fs_key_ops.listxattr)(req, ino, size);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_data *fs = fs_of(req);   /* req is gone after the reply */

	if (fs_ctl_owns(ino)) {
		fs_ctl_ops.removexattr(req, ino, name);
		return;
	}
	fs_key_ops.removexattr(req, ino, name);
	fs_watch_poke(fs);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	fs_key_ops.statfs(req, fs_ctl_owns(ino) ? FUSE_ROOT_ID : ino);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init         = op_init,
	.lookup       = op_lookup,
	.forget       = op_forget,
	.forget_multi = op_forget_multi,
	.getattr      = op_getattr,
	.setattr      = op_setattr,
	.open         = op_open,
	.read         = op_read,
	.poll         = op_poll,
	.write        = op_write,
	.flush        = op_flush,
	.fsync        = op_fsync,
	.release      = op_release,
	.create       = op_create,
	.opendir      = op_opendir,
	.readdir      = op_readdir,
	.readdirplus  = op_readdirplus,
	.releasedir   = op_releasedir,
	.statfs       = op_statfs,
	.mkdir        = op_mkdir,
	.unlink       = op_unlink,
	.rmdir        = op_rmdir,
	.rename       = op_rename,
	.mknod        = op_mknod,
	.symlink      = op_symlink,
	.link         = op_link,
	.setxattr     = op_setxattr,
	.getxattr     = op_getxattr,
	.listxattr    = op_listxattr,
	.removexattr  = op_removexattr,
};
