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

/* The length of the UTF-8 sequence at p (1 to 4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 :
	           p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	for (size_t k = 1; k < n; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] > 0x9f) ||
	    (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

void fs_log(struct fs_data *fs, const char *fmt, ...)
{
	/* room for a path of the longest key (2048 bytes, each part's name
	 * escaped) and the reason after it */
	char line[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/*
	 * One refusal, one line: a control character in a name the kernel
	 * passed (C0 as a newline or a tab, DEL, C1 as U+0085) is written as
	 * \xNN for each byte, so no name can add a line of its own to the log,
	 * and so is each byte that is not UTF-8, so the log stays text.
	 * (A backslash stays as it is: names spell keys with it, `"a\u002fb"`.)
	 */
	char out[4 * sizeof(line)];
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *) line; *p && o + 9 < sizeof(out); ) {
		size_t n = utf8_len(p);
		int c1 = n == 2 && p[0] == 0xc2 && p[1] <= 0x9f;
		if (n == 0 || c1 || *p < 0x20 || *p == 0x7f) {
			for (size_t k = 0; k < (n ? n : 1); k++)
				o += (size_t) snprintf(out + o, sizeof(out) - o, "\\x%02x", p[k]);
			p += n ? n : 1;
		} else {
			while (n--)
				out[o++] = (char) *p++;
		}
	}
	out[o] = '\0';
	if (!fs || fs->opt.foreground)
		fprintf(stderr, "kvfs: %s\n", out);
	else
		syslog(LOG_NOTICE, "%s", out);
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

void fs_log_refusal(struct fs_data *fs, const char *what, const char *prefix,
                    const uint8_t *key, size_t key_len, const char *name, const char *reason)
{
	char why[512];
	snprintf(why, sizeof(why), "%s", reason);
	char *path = fs_path(key, key_len, name);
	const char *p = path ? path : name ? name : "?";
	fs_log(fs, "cannot %s '%s%s%s': %s", what, prefix, *prefix && *p ? "/" : "", p, why);
	free(path);
}

/*
 * A value's mtime: 2024-01-01T00:00:00Z plus its version in seconds. Versions grow
 * by a few per commit, so every commit moves the time by whole seconds,
 * which tools comparing seconds (rsync, cp -u, find -newer between two
 * files) see; and the same version always gives the same time, across
 * mounts. (Versions past 2^40, a trillion commits, go on in nanoseconds.)
 */
void fs_version_time(uint64_t version, struct timespec *ts)
{
	const time_t epoch = 1704067200;
	const uint64_t big = 1ULL << 40;

	if (version < big) {
		ts->tv_sec = epoch + (time_t) version;
		ts->tv_nsec = 0;
	} else {
		ts->tv_sec = epoch + (time_t) (big + (version - big) / 1000000000ULL);
		ts->tv_nsec = (long) ((version - big) % 1000000000ULL);
	}
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
