/*
 * fs_errno.c - engine result codes to errno, the daemon's log, key paths.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include "fs.h"

int fs_errno(int rc)
{
	switch (rc) {
	case KV_OK:            return 0;
	case KV_NOTFOUND:      return ENOENT;
	case KV_CONFLICT:      return EAGAIN;
	case KV_INVALID:       return EINVAL;
	case KV_TOOBIG_KEY:    return ENAMETOOLONG;
	case KV_TOOBIG_VALUE:  return EFBIG;
	case KV_TOOBIG:        return E2BIG;
	case KV_TYPE:          return EINVAL;
	case KV_BUSY:          return EBUSY;
	case KV_NOMEM:         return ENOMEM;
	case KV_READONLY:      return EROFS;
	case KV_FULL:          return ENOSPC;
	default:               return EIO;
	}
}

void fs_log(struct fs_data *fs, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!fs || fs->opt.foreground)
		fprintf(stderr, "kvfs: %s\n", line);
	else
		syslog(LOG_NOTICE, "%s", line);
}

char *fs_path(const uint8_t *key, size_t key_len, const char *name)
{
	char *path = NULL, *out;

	if (key_len && kv_path_from_key(key, key_len, &path) != KV_OK)
		path = NULL;
	const char *p = path ? path : (key_len ? "?" : "");
	size_t n = strlen(p) + (name ? strlen(name) + 1 : 0) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s%s%s", p, name && *p ? "/" : "", name ? name : "");
	kv_free(path);
	return out;
}

size_t fs_parent_len(const uint8_t *key, size_t key_len)
{
	size_t pos = 0, span;
	while (pos < key_len) {
		if (kv_part_span(key, key_len, pos, &span) != KV_OK || pos + span >= key_len)
			break;
		pos += span;
	}
	return pos;
}
