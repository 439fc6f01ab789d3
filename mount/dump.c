/*
 * dump.c - `kvfs dump DATABASE [PATH]`: every entry (under PATH) as one JSON
 * line, in key order:
 *
 *   {"key":[...],"value":...,"versionstamp":"...","expires_at":"..."}
 *
 * Key parts and values are in the $-tagged JSON of kv.h; "expires_at" is
 * present only when the entry expires, written like JavaScript's
 * Date.prototype.toISOString(). PATH is a mount-style path; the dump holds
 * the key PATH names (when it holds a value) and every key under it.
 *
 * Memory stays bounded: entries are read with kv_list() batch by batch and
 * written out one at a time. Each batch is its own read transaction, as in
 * Deno's kv.list(), so a dump taken while others write is not one snapshot.
 *
 * The database is opened read-only and must exist. A value that does not
 * decode is reported on stderr with its key and skipped; the dump goes on
 * and exits 1 at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "commands.h"
#include "kv.h"

static const char *dbpath;

/*
 * Unix milliseconds as JavaScript's Date.prototype.toISOString() writes
 * them: "2024-01-01T00:00:00.000Z", with a signed six-digit year outside
 * 0000..9999. Civil date from days since 1970-01-01 (proleptic Gregorian).
 */
static void iso_format(int64_t ms, char out[40])
{
	int64_t days = ms / 86400000, rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int day = (int) (doy - (153 * mp + 2) / 5 + 1);
	int month = (int) (mp < 10 ? mp + 3 : mp - 9);
	int64_t year = yoe + era * 400 + (month <= 2);
	int h = (int) (rem / 3600000), mi = (int) (rem / 60000 % 60);
	int s = (int) (rem / 1000 % 60), f = (int) (rem % 1000);

	if (year >= 0 && year <= 9999)
		snprintf(out, 40, "%04d", (int) year);
	else
		snprintf(out, 40, "%c%06" PRId64, year < 0 ? '-' : '+',
			 year < 0 ? -year : year);
	snprintf(out + strlen(out), 40 - strlen(out),
		 "-%02d-%02dT%02d:%02d:%02d.%03dZ", month, day, h, mi, s, f);
}

/* The key as JSON for a message; hex when it does not decode. */
static char *key_text(const uint8_t *key, size_t key_len)
{
	char *json = NULL;
	if (kv_key_to_json(key, key_len, &json) == KV_OK)
		return json;
	json = malloc(key_len * 2 + 3);
	if (!json)
		return NULL;
	strcpy(json, "0x");
	for (size_t i = 0; i < key_len; i++)
		sprintf(json + 2 + i * 2, "%02x", key[i]);
	return json;
}

/* Print one entry; 0 when printed, 1 when it was reported as bad. */
static int dump_entry(const kv_entry *e)
{
	char *key = NULL, *value = NULL;
	size_t value_len = 0;
	char stamp[21];
	int rc, bad = 0;

	rc = kv_key_to_json(e->key, e->key_len, &key);
	if (rc != KV_OK) {
		char *hex = key_text(e->key, e->key_len);
		fprintf(stderr, "kvfs: dump: cannot decode key %s: %s\n",
			hex ? hex : "?", *kv_errmsg(NULL) ? kv_errmsg(NULL) : kv_errstr(rc));
		free(hex);
		return 1;
	}
	rc = kv_value_to_json(e->encoding, e->value, e->value_len, 0, &value, &value_len);
	if (rc != KV_OK) {
		fprintf(stderr, "kvfs: dump: cannot decode the value of %s: %s\n",
			key, *kv_errmsg(NULL) ? kv_errmsg(NULL) : kv_errstr(rc));
		bad = 1;
		goto out;
	}
	kv_versionstamp_format(e->version, stamp);
	fputs("{\"key\":", stdout);
	fputs(key, stdout);
	fputs(",\"value\":", stdout);
	fwrite(value, 1, value_len, stdout);
	printf(",\"versionstamp\":\"%s\"", stamp);
	if (e->expires_at >= 0) {
		char iso[40];
		iso_format(e->expires_at, iso);
		printf(",\"expires_at\":\"%s\"", iso);
	}
	fputs("}\n", stdout);
out:
	kv_free(key);
	kv_free(value);
	return bad;
}

int kvfs_dump_main(int argc, char **argv)
{
	kv_db *db = NULL;
	kv_iter *it = NULL;
	kv_entry *self = NULL;
	uint8_t *prefix = NULL;
	size_t prefix_len = 0;
	char *path = NULL;
	int rc, status = 0;

	if (argc < 1 || argc > 2 || argv[0][0] == '-') {
		fprintf(stderr, "usage: kvfs dump DATABASE [PATH]\n");
		return 2;
	}
	dbpath = argv[0];

	/* Never create a database just to dump it. */
	if (strcmp(dbpath, ":memory:") != 0) {
		struct stat st;
		if (stat(dbpath, &st) != 0) {
			fprintf(stderr, "kvfs: dump: cannot open '%s': %s\n",
				dbpath, strerror(errno));
			return 1;
		}
	}

	/* PATH: a mount-style path, slashes at either end ignored. */
	if (argc == 2) {
		const char *p = argv[1];
		size_t n;
		while (*p == '/')
			p++;
		n = strlen(p);
		while (n > 0 && p[n - 1] == '/')
			n--;
		path = strndup(p, n);
		if (!path) {
			fprintf(stderr, "kvfs: dump: out of memory\n");
			return 1;
		}
		if (n > 0 && kv_path_to_key(path, &prefix, &prefix_len) != KV_OK) {
			fprintf(stderr, "kvfs: dump: invalid path '%s': %s\n",
				argv[1], kv_errmsg(NULL));
			status = 1;
			goto out;
		}
	}

	/* an empty file is an empty database, as mounting or Deno opens it */
	struct stat sb;
	if (stat(dbpath, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
		goto out;
	rc = kv_open(dbpath, KV_OPEN_READONLY, &db);
	if (rc != KV_OK) {
		fprintf(stderr, "kvfs: dump: cannot open '%s': %s\n", dbpath,
			*kv_errmsg(NULL) ? kv_errmsg(NULL) : kv_errstr(rc));
		status = 1;
		goto out;
	}

	/* The key PATH names comes first: it sorts before every key under it. */
	if (prefix_len > 0) {
		rc = kv_get(db, prefix, prefix_len, &self);
		if (rc == KV_OK)
			status |= dump_entry(self);
		else if (rc != KV_NOTFOUND) {
			fprintf(stderr, "kvfs: dump: cannot read '%s': %s\n", path,
				*kv_errmsg(NULL) ? kv_errmsg(NULL) : kv_errstr(rc));
			status = 1;
			goto out;
		}
	}

	kv_selector sel = { .prefix = prefix ? (const void *) prefix : (const void *) "",
			    .prefix_len = prefix_len };
	kv_list_options opt = { .batch_size = KV_MAX_BATCH };
	rc = kv_list(db, &sel, &opt, &it);
	if (rc != KV_OK) {
		fprintf(stderr, "kvfs: dump: cannot list '%s': %s\n", path ? path : "",
			*kv_errmsg(NULL) ? kv_errmsg(NULL) : kv_errstr(rc));
		status = 1;
		goto out;
	}
	for (;;) {
		const kv_entry *e;
		rc = kv_iter_next(it, &e);
		if (rc == KV_DONE)
			break;
		if (rc != KV_OK) {
			fprintf(stderr, "kvfs: dump: cannot list '%s': %s\n", path ? path : "",
				*kv_errmsg(NULL) ? kv_errmsg(NULL) : kv_errstr(rc));
			status = 1;
			break;
		}
		status |= dump_entry(e);
	}

out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kvfs: dump: cannot write: %s\n", strerror(errno));
		status = 1;
	}
	kv_iter_free(it);
	kv_free(self);
	kv_free(prefix);
	kv_close(db);
	free(path);
	return status;
}
