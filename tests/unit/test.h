/*
 * test.h - a tiny TAP harness for the engine's unit tests.
 *
 *   static void test_key__ints_sort_before_strings(void) { CHECK(a < b); }
 *   int main(void) { RUN(test_key__ints_sort_before_strings); return DONE(); }
 *
 * Each RUN prints "ok N - name" or "not ok N - name" with the failing file,
 * line and expression as TAP diagnostics; DONE prints the plan and returns
 * the exit status. CHECK_RC also prints kv_errstr() and kv_errmsg().
 */
#ifndef KV_TEST_H
#define KV_TEST_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kv.h"

static int test_count, test_failed, test_cur_failed;

#define CHECK(expr) do { \
	if (!(expr)) { \
		printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
		test_cur_failed = 1; \
	} \
} while (0)

#define CHECK_RC(call, want) do { \
	int rc_ = (call); \
	if (rc_ != (want)) { \
		printf("# %s:%d: %s\n#   returned %d (%s: %s), wanted %d (%s)\n", \
		       __FILE__, __LINE__, #call, rc_, kv_errstr(rc_), \
		       kv_errmsg(NULL), (want), kv_errstr(want)); \
		test_cur_failed = 1; \
	} \
} while (0)

#define CHECK_MEM(got, got_len, want, want_len) do { \
	size_t gl_ = (got_len), wl_ = (want_len); \
	if (gl_ != wl_ || memcmp((got), (want), wl_) != 0) { \
		printf("# %s:%d: bytes differ: %s\n#   got  ", __FILE__, __LINE__, #got); \
		for (size_t i_ = 0; i_ < gl_; i_++) printf("%02x", ((const unsigned char *)(got))[i_]); \
		printf("\n#   want "); \
		for (size_t i_ = 0; i_ < wl_; i_++) printf("%02x", ((const unsigned char *)(want))[i_]); \
		printf("\n"); \
		test_cur_failed = 1; \
	} \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!g_ || strcmp(g_, w_) != 0) { \
		printf("# %s:%d: %s\n#   got  %s\n#   want %s\n", __FILE__, __LINE__, #got, \
		       g_ ? g_ : "(null)", w_); \
		test_cur_failed = 1; \
	} \
} while (0)

#define RUN(fn) do { \
	test_cur_failed = 0; \
	fn(); \
	test_count++; \
	if (test_cur_failed) test_failed++; \
	printf("%sok %d - %s\n", test_cur_failed ? "not " : "", test_count, #fn); \
	fflush(stdout); \
} while (0)

#define DONE() (printf("1..%d\n", test_count), test_failed ? 1 : 0)

/*
 * Hex text to bytes: pairs of hex digits, anything else (spaces) skipped.
 * Returns the byte count; writes at most cap bytes. unhex(h, array) passes
 * the array's size.
 */
static inline size_t test_unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *h; h++) {
		int d = *h >= '0' && *h <= '9' ? *h - '0' : *h >= 'a' && *h <= 'f' ? *h - 'a' + 10 :
			*h >= 'A' && *h <= 'F' ? *h - 'A' + 10 : -1;
		if (d < 0)
			continue;
		if (hi < 0) {
			hi = d;
		} else {
			if (n < cap)
				out[n] = (uint8_t) (hi << 4 | d);
			n++;
			hi = -1;
		}
	}
	return n;
}
#define unhex(h, array) test_unhex((h), (array), sizeof(array))

/*
 * A new directory /tmp/kvtest-NAME-XXXXXX for a test's files, written to
 * `out` (at least 64 bytes); it and everything in it are removed when the
 * program exits. Aborts when it cannot be made.
 */
static char test_dirs[32][64];
static int test_ndirs;

static int test_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void) sb, (void) ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void test_rm_dirs(void)
{
	for (int i = 0; i < test_ndirs; i++)
		nftw(test_dirs[i], test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void test_tmpdir(const char *name, char *out)
{
	if (test_ndirs == (int) (sizeof(test_dirs) / sizeof(test_dirs[0])))
		abort();
	snprintf(out, 64, "/tmp/kvtest-%s-XXXXXX", name);
	if (!mkdtemp(out))
		abort();
	if (test_ndirs == 0)
		atexit(test_rm_dirs);
	memcpy(test_dirs[test_ndirs++], out, 64);
}

#endif /* KV_TEST_H */
