/*
 * counter.c - add 1 to the KvU64 at key ["counter"] N times through the
 * engine, one atomic sum per commit, printing each commit's versionstamp.
 *
 *   counter DATABASE N [READY WAIT]
 *
 * With READY and WAIT, the file READY is created once the database is
 * open, and the commits start only when the file WAIT exists: two
 * processes started together (this one and a Deno script) then really
 * commit at the same time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kv.h"

int main(int argc, char **argv)
{
	kv_part part = { .type = KV_PART_STRING, .data = (const uint8_t *) "counter", .len = 7 };
	uint8_t *key = NULL;
	size_t key_len;
	kv_db *db = NULL;
	long n;
	int rc;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: counter DATABASE N [READY WAIT]\n");
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	rc = kv_open(argv[1], 0, &db);
	if (rc != KV_OK) {
		fprintf(stderr, "counter: cannot open '%s': %s\n", argv[1], kv_errmsg(NULL));
		return 1;
	}
	rc = kv_key_encode(&part, 1, &key, &key_len);
	if (rc != KV_OK) {
		fprintf(stderr, "counter: cannot encode the key: %s\n", kv_errmsg(NULL));
		return 1;
	}
	if (argc == 5) {
		FILE *f = fopen(argv[3], "w");
		if (!f || fclose(f) != 0) {
			fprintf(stderr, "counter: cannot create '%s': %s\n", argv[3], strerror(errno));
			return 1;
		}
		while (access(argv[4], F_OK) != 0) {
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	for (long i = 0; i < n; i++) {
		kv_atomic *a;
		uint64_t version;
		char stamp[21];
		int busy = 0;

again:
		rc = kv_atomic_begin(db, &a);
		if (rc == KV_OK)
			rc = kv_atomic_sum(a, key, key_len, 1);
		if (rc != KV_OK) {
			fprintf(stderr, "counter: commit %ld: %s\n", i, kv_errmsg(NULL));
			kv_atomic_abort(a);
			return 1;
		}
		rc = kv_atomic_commit(a, &version);
		if (rc == KV_BUSY && ++busy < 100) {
			/* The other process held the write lock too long; nothing was applied. */
			fprintf(stderr, "counter: commit %ld: busy, retrying\n", i);
			goto again;
		}
		if (rc != KV_OK) {
			fprintf(stderr, "counter: commit %ld: %s: %s\n", i, kv_errstr(rc), kv_errmsg(NULL));
			return 1;
		}
		kv_versionstamp_format(version, stamp);
		printf("%s\n", stamp);
	}
	kv_free(key);
	kv_close(db);
	return fflush(stdout) == 0 ? 0 : 1;
}
