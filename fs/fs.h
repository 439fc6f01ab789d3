/* fs.h - the FUSE operations over the engine (placeholder) */
#ifndef KVFS_FS_H
#define KVFS_FS_H
#endif
