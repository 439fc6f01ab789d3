/*
 * load.c - `kvfs load DATABASE < FILE`: set each line's key to its value.
 *
 * Each non-blank line is one JSON object as `kvfs dump` writes it:
 *
 *   {"key":[...],"value":...,"versionstamp":"...","expires_at":"..."}
 *
 * "key" and "value" are required and use the $-tagged JSON of kv.h.
 * "versionstamp" is ignored (each commit makes its own). "expires_at"
 * (ISO 8601 as Date.toISOString() writes it, or null for none) sets the
 * entry's expiry: it is stored with expire_in = expires_at - now. An
 * expires_at that has already passed deletes the key instead: that is what
 * setting the entry and letting it expire leaves, and it keeps a restored
 * backup from showing expired data to a Deno process, which does not hide
 * expired rows until its own collector runs. Any other member is an error.
 * The engine reads each line (kv_entry_from_json, engine/value.c) and its
 * message is the reason printed for a refused line.
 *
 * Lines are committed in groups, one atomic commit per group, each as large
 * as Deno's commit limits allow (1000 mutations, 819200 bytes, 81920 bytes
 * of keys). A bad line stops the load with its line number: the lines
 * before it are committed (the group in progress is committed up to the
 * line before), nothing from that line on is. The database is created when
 * missing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "commands.h"
#include "kv.h"

/* One parsed line, waiting in the current group. */
struct mutation {
	unsigned long line;
	uint8_t *key;
	size_t key_len;
	int encoding;
	uint8_t *value;
	size_t value_len;
	int64_t expires_at;   /* Unix ms, -1 for none */
};

struct group {
	struct mutation *m;
	size_t n, cap;
	size_t bytes, key_bytes;   /* against KV_MAX_COMMIT_BYTES / _KEYS */
};

/* The message for a line's failure; filled by the parser. */
static char errbuf[512];

static int blank(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, n--;
	return n == 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one line ---- */

static const char *engine_msg(int rc)
{
	const char *m = kv_errmsg(NULL);
	return *m ? m : kv_errstr(rc);
}

/*
 * Parse one line into *m: the engine reads the line and checks it; its
 * message is the reason. Returns 0, or -1 with the reason in errbuf.
 */
static int parse_line(const char *line, size_t len, struct mutation *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	rc = kv_entry_from_json(line, len, &m->key, &m->key_len, &m->encoding,
				&m->value, &m->value_len, &m->expires_at);
	if (rc != KV_OK) {
		snprintf(errbuf, sizeof(errbuf), "%s", engine_msg(rc));
		return -1;
	}
	return 0;
}

/* ---- groups ---- */

static void group_clear(struct group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		kv_free(g->m[i].key);
		kv_free(g->m[i].value);
	}
	g->n = g->bytes = g->key_bytes = 0;
}

/* Size of one mutation as the commit limits count it (kept on the safe side). */
static size_t mutation_bytes(const struct mutation *m)
{
	return 2 * m->key_len + m->value_len;
}

/*
 * Commit the first `n` mutations of g in one atomic commit. Returns 0, or
 * -1 after printing why. *bad_line is set when a mutation itself was
 * refused (then the ones before it are committed and it is not).
 */
static int commit_some(kv_db *db, struct group *g, size_t n, unsigned long *bad_line)
{
	kv_atomic *a = NULL;
	int64_t now;
	int rc, tries = 0;

	*bad_line = 0;
again:
	if (n == 0)
		return 0;
	rc = kv_atomic_begin(db, &a);
	if (rc != KV_OK)
		goto commit_failed;
	now = now_ms();
	for (size_t i = 0; i < n; i++) {
		const struct mutation *m = &g->m[i];
		if (m->expires_at >= 0 && m->expires_at <= now)
			rc = kv_atomic_delete(a, m->key, m->key_len);
		else
			rc = kv_atomic_set(a, m->key, m->key_len, m->encoding,
					   m->value, m->value_len,
					   m->expires_at >= 0 ? m->expires_at - now : -1);
		if (rc != KV_OK) {
			/* Refused on its own: keep the lines before it, stop there. */
			snprintf(errbuf, sizeof(errbuf), "%s", engine_msg(rc));
			kv_atomic_abort(a);
			a = NULL;
			*bad_line = m->line;
			n = i;
			goto again;
		}
	}
	rc = kv_atomic_commit(a, NULL);
	if (rc == KV_BUSY && ++tries < 5)
		goto again;
	if (rc == KV_OK)
		return 0;
commit_failed:
	fprintf(stderr, "kvfs: load: lines %lu-%lu: cannot commit: %s\n",
		g->m[0].line, g->m[n - 1].line, engine_msg(rc));
	return -1;
}

/* Commit the whole group and empty it. Returns 0 or -1 (message printed). */
static int flush(kv_db *db, struct group *g)
{
	unsigned long bad_line;
	int r = commit_some(db, g, g->n, &bad_line);
	if (r == 0 && bad_line) {
		fprintf(stderr, "kvfs: load: line %lu: %s\n", bad_line, errbuf);
		r = -1;
	}
	group_clear(g);
	return r;
}

int kvfs_load_main(int argc, char **argv)
{
	struct group g = { 0 };
	kv_db *db = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int rc, status = 0;

	if (argc != 1 || argv[0][0] == '-') {
		fprintf(stderr, "usage: kvfs load DATABASE < FILE\n");
		return 2;
	}
	rc = kv_open(argv[0], 0, &db);
	if (rc != KV_OK) {
		fprintf(stderr, "kvfs: load: cannot open '%s': %s\n", argv[0], engine_msg(rc));
		return 1;
	}

	errno = 0;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		struct mutation m;
		size_t n = (size_t) len;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
				 line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (blank(line, n))
			continue;
		if (parse_line(line, n, &m) < 0) {
			fprintf(stderr, "kvfs: load: line %lu: %s\n", lineno, errbuf);
			/* The lines before it are still committed. */
			flush(db, &g);
			status = 1;
			goto out;
		}
		m.line = lineno;

		if (g.n == KV_MAX_MUTATIONS ||
		    g.bytes + mutation_bytes(&m) > KV_MAX_COMMIT_BYTES ||
		    g.key_bytes + m.key_len > KV_MAX_COMMIT_KEYS) {
			if (flush(db, &g) < 0) {
				kv_free(m.key);
				kv_free(m.value);
				status = 1;
				goto out;
			}
		}
		if (g.n == g.cap) {
			size_t ncap = g.cap ? g.cap * 2 : 64;
			struct mutation *nm = realloc(g.m, ncap * sizeof(*nm));
			if (!nm) {
				fprintf(stderr, "kvfs: load: line %lu: out of memory\n", lineno);
				kv_free(m.key);
				kv_free(m.value);
				flush(db, &g);
				status = 1;
				goto out;
			}
			g.m = nm;
			g.cap = ncap;
		}
		g.m[g.n++] = m;
		g.bytes += mutation_bytes(&m);
		g.key_bytes += m.key_len;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "kvfs: load: line %lu: cannot read: %s\n",
			lineno + 1, strerror(errno));
		flush(db, &g);
		status = 1;
		goto out;
	}
	if (flush(db, &g) < 0)
		status = 1;
out:
	group_clear(&g);
	free(g.m);
	free(line);
	kv_close(db);
	return status;
}
