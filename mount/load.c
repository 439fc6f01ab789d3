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
	int expires;          /* expires_at given */
	int64_t expires_at;   /* Unix ms */
};

struct group {
	struct mutation *m;
	size_t n, cap;
	size_t bytes, key_bytes;   /* against KV_MAX_COMMIT_BYTES / _KEYS */
};

/* The message for a line's failure; filled by the parser. */
static char errbuf[512];

/* ---- a small JSON scanner: finds the members of the line's object ---- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Scan the string at p (at its opening quote). Returns the position after
 * the closing quote, or NULL when it is malformed. When out is not NULL,
 * the decoded UTF-8 text (at most cap - 1 bytes, NUL-terminated, longer
 * text truncated) is stored there; *trunc tells whether it was cut.
 */
static const char *scan_string(const char *p, const char *end, char *out,
			       size_t cap, int *trunc)
{
	size_t n = 0;
	int cut = 0;

	p++;
	while (p < end && *p != '"') {
		unsigned char c = (unsigned char) *p;
		uint32_t cp;
		char tmp[4];
		size_t k = 0;

		if (c < 0x20)
			return NULL;
		if (c != '\\') {
			tmp[k++] = (char) c;
			p++;
		} else {
			if (++p >= end)
				return NULL;
			switch (*p) {
			case '"': case '\\': case '/':
				tmp[k++] = *p; break;
			case 'b': tmp[k++] = '\b'; break;
			case 'f': tmp[k++] = '\f'; break;
			case 'n': tmp[k++] = '\n'; break;
			case 'r': tmp[k++] = '\r'; break;
			case 't': tmp[k++] = '\t'; break;
			case 'u':
				if (end - p < 5)
					return NULL;
				cp = 0;
				for (int i = 1; i <= 4; i++) {
					int h = hexval(p[i]);
					if (h < 0)
						return NULL;
					cp = cp << 4 | (uint32_t) h;
				}
				p += 4;
				/* Names compared here are ASCII; anything else is kept as '?'. */
				tmp[k++] = cp < 0x80 ? (char) cp : '?';
				break;
			default:
				return NULL;
			}
			p++;
		}
		for (size_t i = 0; i < k; i++) {
			if (out && n + 1 < cap)
				out[n++] = tmp[i];
			else
				cut = 1;
		}
	}
	if (p >= end)
		return NULL;
	if (out)
		out[n] = '\0';
	if (trunc)
		*trunc = cut;
	return p + 1;
}

static const char *scan_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return NULL;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* Skip one JSON value starting at p (no leading space); NULL when malformed. */
static const char *scan_value(const char *p, const char *end, int depth)
{
	if (p >= end || depth > 1000)
		return NULL;
	switch (*p) {
	case '"':
		return scan_string(p, end, NULL, 0, NULL);
	case '{':
	case '[': {
		char close = *p == '{' ? '}' : ']';
		p = skip_ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (p >= end || *p != '"')
					return NULL;
				p = scan_string(p, end, NULL, 0, NULL);
				if (!p)
					return NULL;
				p = skip_ws(p, end);
				if (p >= end || *p != ':')
					return NULL;
				p = skip_ws(p + 1, end);
			}
			p = scan_value(p, end, depth + 1);
			if (!p)
				return NULL;
			p = skip_ws(p, end);
			if (p < end && *p == close)
				return p + 1;
			if (p >= end || *p != ',')
				return NULL;
			p = skip_ws(p + 1, end);
		}
	}
	case 't':
		return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return scan_number(p, end);
	}
}

/* ---- expires_at ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Parse what Date.prototype.toISOString() writes, "2024-01-01T00:00:00.000Z"
 * or "+275760-09-13T00:00:00.000Z"; the fraction may have 0 to 3 digits.
 */
static int parse_iso(const char *s, int64_t *ms)
{
	int64_t year;
	int y, mo, d, h, mi, sec, frac = 0, days_in;
	size_t n = strlen(s);
	const char *p = s;

	if (*p == '+' || *p == '-') {
		if (n < 7 || digits(p + 1, 6, &y) < 0)
			return -1;
		year = *p == '-' ? -(int64_t) y : y;
		p += 7;
	} else {
		if (n < 4 || digits(p, 4, &y) < 0)
			return -1;
		year = y;
		p += 4;
	}
	if (strlen(p) < 16 || p[0] != '-' || digits(p + 1, 2, &mo) < 0 ||
	    p[3] != '-' || digits(p + 4, 2, &d) < 0 || p[6] != 'T' ||
	    digits(p + 7, 2, &h) < 0 || p[9] != ':' || digits(p + 10, 2, &mi) < 0 ||
	    p[12] != ':' || digits(p + 13, 2, &sec) < 0)
		return -1;
	p += 15;
	if (*p == '.') {
		int nd = 0;
		p++;
		while (nd < 3 && *p >= '0' && *p <= '9') {
			frac = frac * 10 + (*p++ - '0');
			nd++;
		}
		if (nd == 0)
			return -1;
		for (; nd < 3; nd++)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return -1;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	days_in = mdays[mo - 1];
	if (mo == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		days_in = 29;
	if (d < 1 || d > days_in)
		return -1;
	*ms = days_from_civil(year, mo, d) * 86400000 +
	      ((int64_t) h * 3600 + mi * 60 + sec) * 1000 + frac;
	/* JavaScript's time range: +-8.64e15 ms around the epoch. */
	if (*ms > 8640000000000000 || *ms < -8640000000000000)
		return -1;
	return 0;
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
 * Parse one line into *m. Returns 0, or -1 with the reason in errbuf.
 */
static int parse_line(const char *line, size_t len, struct mutation *m)
{
	const char *end = line + len, *p;
	const char *key = NULL, *key_end = NULL, *val = NULL, *val_end = NULL;
	int have_stamp = 0, have_exp = 0, rc;
	char exp[64] = "";

	memset(m, 0, sizeof(*m));
	p = skip_ws(line, end);
	if (p >= end || *p != '{') {
		snprintf(errbuf, sizeof(errbuf), "not a JSON object");
		return -1;
	}
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
		goto members_done;
	}
	for (;;) {
		char name[32];
		const char *v, *v_end;
		int trunc;

		if (p >= end || *p != '"')
			goto bad_json;
		p = scan_string(p, end, name, sizeof(name), &trunc);
		if (!p)
			goto bad_json;
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			goto bad_json;
		v = skip_ws(p + 1, end);
		v_end = scan_value(v, end, 0);
		if (!v_end)
			goto bad_json;
		if (!trunc && strcmp(name, "key") == 0) {
			if (key)
				goto dup;
			key = v;
			key_end = v_end;
		} else if (!trunc && strcmp(name, "value") == 0) {
			if (val)
				goto dup;
			val = v;
			val_end = v_end;
		} else if (!trunc && strcmp(name, "versionstamp") == 0) {
			if (have_stamp++)
				goto dup;
		} else if (!trunc && strcmp(name, "expires_at") == 0) {
			if (have_exp++)
				goto dup;
			if (*v == '"') {
				int cut;
				scan_string(v, v_end, exp, sizeof(exp), &cut);
				if (cut || parse_iso(exp, &m->expires_at) < 0) {
					snprintf(errbuf, sizeof(errbuf),
						 "invalid expires_at %.*s", (int) (v_end - v > 60 ? 60 : v_end - v), v);
					return -1;
				}
				m->expires = 1;
			} else if (!(v_end - v == 4 && memcmp(v, "null", 4) == 0)) {
				snprintf(errbuf, sizeof(errbuf),
					 "invalid expires_at: not an ISO 8601 string");
				return -1;
			}
		} else {
			snprintf(errbuf, sizeof(errbuf), "unknown member '%s%s'",
				 name, trunc ? "..." : "");
			return -1;
		}
		p = skip_ws(v_end, end);
		if (p < end && *p == '}') {
			p++;
			break;
		}
		if (p >= end || *p != ',')
			goto bad_json;
		p = skip_ws(p + 1, end);
		continue;
dup:
		snprintf(errbuf, sizeof(errbuf), "duplicate member '%s'", name);
		return -1;
	}
members_done:
	if (skip_ws(p, end) != end)
		goto bad_json;
	if (!key || !val) {
		snprintf(errbuf, sizeof(errbuf), "missing \"%s\"", key ? "value" : "key");
		return -1;
	}

	rc = kv_key_from_json(key, (size_t) (key_end - key), &m->key, &m->key_len);
	if (rc != KV_OK) {
		snprintf(errbuf, sizeof(errbuf), "invalid key: %s", engine_msg(rc));
		return -1;
	}
	if (m->key_len == 0) {
		snprintf(errbuf, sizeof(errbuf), "invalid key: key cannot be empty");
		goto fail;
	}
	if (m->key_len > KV_MAX_KEY_WRITE) {
		snprintf(errbuf, sizeof(errbuf), "key too large for write (max %d bytes)",
			 KV_MAX_KEY_WRITE);
		goto fail;
	}
	rc = kv_value_from_json(val, (size_t) (val_end - val), &m->encoding,
				&m->value, &m->value_len);
	if (rc != KV_OK) {
		snprintf(errbuf, sizeof(errbuf), "invalid value: %s", engine_msg(rc));
		goto fail;
	}
	if (m->value_len > KV_MAX_VALUE) {
		snprintf(errbuf, sizeof(errbuf), "value too large (max %d bytes)",
			 KV_MAX_VALUE);
		goto fail;
	}
	return 0;

bad_json:
	snprintf(errbuf, sizeof(errbuf), "invalid JSON");
	return -1;
fail:
	kv_free(m->key);
	kv_free(m->value);
	m->key = m->value = NULL;
	return -1;
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
		if (m->expires && m->expires_at <= now)
			rc = kv_atomic_delete(a, m->key, m->key_len);
		else
			rc = kv_atomic_set(a, m->key, m->key_len, m->encoding,
					   m->value, m->value_len,
					   m->expires ? m->expires_at - now : -1);
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
		if (skip_ws(line, line + n) == line + n)
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
