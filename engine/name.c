/*
 * name.c - the text forms of keys: path names (one component per part, see
 * DESIGN "Names") and the $-tagged JSON array of kv_key_to_json.
 *
 * A name is parsed by trying, in order: quoted JSON string, true/false,
 * 0x bytes, bigint (42n), number (any decimal spelling), and otherwise a
 * plain string. A string is shown plain exactly when parsing its plain form
 * gives that string back (and it holds no '/', NUL, control character and
 * does not start with '.' or '"'); otherwise it is quoted. So listing and
 * lookup can never disagree about which key a name means.
 *
 * JSON strings are read and written here rather than with cJSON: key
 * strings may hold NUL (cJSON's strings are NUL-terminated, so "a\u0000b"
 * would be cut short) and Deno turns lone surrogates into U+FFFD where
 * cJSON refuses them; quoted names need the same reader anyway.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kv_int.h"

/* ---- JSON strings ---- */

/*
 * Names: every control character (C0, DEL and C1, U+0080-U+009F) as
 * \u00XX, and '/' as \u002f:
 * DESIGN's "\/" would put a '/' into the file name, which no path component
 * can hold. Reading accepts "\/" as JSON does.
 */
#define QUOTE_NAME 0x1

static int put_quoted(kv_buf *b, const uint8_t *s, size_t len, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";

	kv__buf_putc(b, '"');
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		const char *esc = NULL;
		switch (c) {
		case '"':  esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': if (!(flags & QUOTE_NAME)) esc = "\\b"; break;
		case '\f': if (!(flags & QUOTE_NAME)) esc = "\\f"; break;
		case '\n': if (!(flags & QUOTE_NAME)) esc = "\\n"; break;
		case '\r': if (!(flags & QUOTE_NAME)) esc = "\\r"; break;
		case '\t': if (!(flags & QUOTE_NAME)) esc = "\\t"; break;
		}
		if (esc) {
			kv__buf_put(b, esc, strlen(esc));
		} else if (c < 0x20 || ((c == 0x7F || c == '/') && (flags & QUOTE_NAME))) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			kv__buf_put(b, u, sizeof(u));
		} else if (c == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F &&
		           (flags & QUOTE_NAME)) {
			uint8_t cp = s[++i];   /* a C1 control, UTF-8 C2 80..9F */
			char u[6] = { '\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15] };
			kv__buf_put(b, u, sizeof(u));
		} else {
			kv__buf_putc(b, c);
		}
	}
	return kv__buf_putc(b, '"');
}

int kv__json_write_string(kv_buf *b, const void *s, size_t len)
{
	return put_quoted(b, s, len, 0);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int read_u16(const char *s, size_t len, size_t i, uint32_t *v)
{
	if (len - i < 4)
		return 0;
	*v = 0;
	for (int j = 0; j < 4; j++) {
		int h = hexval(s[i + j]);
		if (h < 0)
			return 0;
		*v = *v << 4 | (uint32_t) h;
	}
	return 1;
}

static void put_utf8(kv_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (uint8_t) cp; n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t) (0xC0 | cp >> 6); u[1] = (uint8_t) (0x80 | (cp & 0x3F)); n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t) (0xE0 | cp >> 12); u[1] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
		u[2] = (uint8_t) (0x80 | (cp & 0x3F)); n = 3;
	} else {
		u[0] = (uint8_t) (0xF0 | cp >> 18); u[1] = (uint8_t) (0x80 | (cp >> 12 & 0x3F));
		u[2] = (uint8_t) (0x80 | (cp >> 6 & 0x3F)); u[3] = (uint8_t) (0x80 | (cp & 0x3F)); n = 4;
	}
	kv__buf_put(b, u, n);
}

int kv__json_read_string(const char *s, size_t len, size_t *used, kv_buf *out)
{
	const uint8_t *u = (const uint8_t *) s;
	size_t i = 1;
	uint32_t cp;

	if (len == 0 || s[0] != '"')
		return kv__error(KV_INVALID, "expected a JSON string");
	while (i < len) {
		uint8_t c = u[i];
		if (c == '"') {
			*used = i + 1;
			return out->failed ? KV_NOMEM : KV_OK;
		}
		if (c < 0x20)
			return kv__error(KV_INVALID, "control character in JSON string");
		if (c >= 0x80) {
			size_t n = kv__utf8_seq(u + i, len - i, &cp);
			if (!n)
				return kv__error(KV_INVALID, "invalid UTF-8 in JSON string");
			kv__buf_put(out, u + i, n);
			i += n;
			continue;
		}
		if (c != '\\') {
			kv__buf_putc(out, c);
			i++;
			continue;
		}
		if (++i >= len)
			break;
		switch (s[i++]) {
		case '"':  kv__buf_putc(out, '"'); continue;
		case '\\': kv__buf_putc(out, '\\'); continue;
		case '/':  kv__buf_putc(out, '/'); continue;
		case 'b':  kv__buf_putc(out, '\b'); continue;
		case 'f':  kv__buf_putc(out, '\f'); continue;
		case 'n':  kv__buf_putc(out, '\n'); continue;
		case 'r':  kv__buf_putc(out, '\r'); continue;
		case 't':  kv__buf_putc(out, '\t'); continue;
		case 'u':  break;
		default:
			return kv__error(KV_INVALID, "bad escape in JSON string");
		}
		if (!read_u16(s, len, i, &cp))
			return kv__error(KV_INVALID, "bad \\u escape in JSON string");
		i += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			uint32_t lo;
			if (len - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' &&
			    read_u16(s, len, i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			} else {
				cp = 0xFFFD;  /* a lone surrogate, as Deno stores it */
			}
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			cp = 0xFFFD;
		}
		put_utf8(out, cp);
	}
	return kv__error(KV_INVALID, "unterminated JSON string");
}

/* ---- one part <-> one name ---- */

/* Encode one decoded part into a fresh heap buffer. */
static int encode_one(const kv_part *p, uint8_t **part, size_t *part_len)
{
	return kv_key_encode(p, 1, part, part_len);
}

static int finish_buf(kv_buf *b, char **text)
{
	if (kv__buf_putc(b, '\0')) {
		kv__buf_free(b);
		return KV_NOMEM;
	}
	*text = (char *) b->data;
	return KV_OK;
}

static int has_control(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7F ||
		    (s[i] == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F))
			return 1;
	return 0;
}

/*
 * Parse a name that is not quoted and not a dot-name as a non-string type.
 * Returns KV_OK with *p filled (magnitude in *mag for bigints), KV_NOTFOUND
 * when the name is a plain string, KV_INVALID when it claims a type but is
 * malformed.
 */
static int parse_typed(const char *name, size_t len, kv_part *p, kv_buf *mag)
{
	memset(p, 0, sizeof(*p));
	if (len == 4 && memcmp(name, "true", 4) == 0) {
		p->type = KV_PART_TRUE;
		return KV_OK;
	}
	if (len == 5 && memcmp(name, "false", 5) == 0) {
		p->type = KV_PART_FALSE;
		return KV_OK;
	}
	if (len >= 2 && name[0] == '0' && (name[1] == 'x' || name[1] == 'X')) {
		if (len % 2)
			return kv__error(KV_INVALID, "odd number of hex digits in '%.*s'", (int) len, name);
		if (kv__buf_reserve(mag, len / 2))
			return KV_NOMEM;
		for (size_t i = 2; i < len; i += 2) {
			int hi = hexval(name[i]), lo = hexval(name[i + 1]);
			if (hi < 0 || lo < 0)
				return kv__error(KV_INVALID, "bad hex digit in '%.*s'", (int) len, name);
			mag->data[mag->len++] = (uint8_t) (hi << 4 | lo);
		}
		p->type = KV_PART_BYTES;
		p->data = mag->data;
		p->len = mag->len;
		return KV_OK;
	}
	if (len >= 2 && name[len - 1] == 'n') {
		size_t i = name[0] == '-';
		int digits = i < len - 1;
		for (size_t j = i; j < len - 1; j++)
			if (name[j] < '0' || name[j] > '9')
				digits = 0;
		if (digits) {
			int rc = kv__bigint_from_decimal(name, len - 1, mag, &p->negative);
			if (rc)
				return rc;
			p->type = KV_PART_BIGINT;
			p->data = mag->data;
			p->len = mag->len;
			return KV_OK;
		}
	}
	if (kv__parse_decimal_number(name, len, &p->number) == KV_OK) {
		p->type = KV_PART_NUMBER;
		return KV_OK;
	}
	kv__clear_error();
	return KV_NOTFOUND;
}

/* Whether string s is shown without quotes. */
static int plain_string_ok(const uint8_t *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[0] == '"')
		return 0;
	if (memchr(s, '/', len) || has_control(s, len))
		return 0;
	kv_part p;
	kv_buf mag = { 0 };
	int rc = parse_typed((const char *) s, len, &p, &mag);
	kv__buf_free(&mag);
	kv__clear_error();
	return rc == KV_NOTFOUND;
}

/* Append the name of decoded part p. */
static int put_name(kv_buf *b, const kv_part *p)
{
	static const char hex[] = "0123456789abcdef";
	char num[32];

	switch (p->type) {
	case KV_PART_STRING:
		if (plain_string_ok(p->data, p->len))
			return kv__buf_put(b, p->data, p->len);
		return put_quoted(b, p->data, p->len, QUOTE_NAME);
	case KV_PART_BYTES:
		kv__buf_put(b, "0x", 2);
		for (size_t i = 0; i < p->len; i++) {
			kv__buf_putc(b, (uint8_t) hex[p->data[i] >> 4]);
			kv__buf_putc(b, (uint8_t) hex[p->data[i] & 15]);
		}
		return b->failed ? KV_NOMEM : KV_OK;
	case KV_PART_BIGINT:
		if (kv__bigint_to_decimal(p->data, p->len, p->negative, b))
			return KV_NOMEM;
		return kv__buf_putc(b, 'n');
	case KV_PART_NUMBER:
		/*
		 * String() prints -0 as "0" and every NaN as "NaN", but -0 and
		 * NaN with the sign bit set are keys of their own
		 */
		if (p->number == 0 && signbit(p->number))
			return kv__buf_put(b, "-0", 2);
		if (isnan(p->number) && signbit(p->number))
			return kv__buf_put(b, "-NaN", 4);
		return kv__buf_put(b, num, (size_t) kv__format_double(p->number, num));
	case KV_PART_FALSE:
		return kv__buf_put(b, "false", 5);
	case KV_PART_TRUE:
		return kv__buf_put(b, "true", 4);
	}
	return kv__error(KV_INVALID, "unknown key part type %d", p->type);
}

int kv_name_from_part(const void *part, size_t part_len, char **name)
{
	kv_part *ps;
	size_t n;
	kv_buf b = { 0 };
	int rc;

	*name = NULL;
	kv__clear_error();
	/* the common case, one short part: decoded on the stack */
	if (part_len <= 256) {
		uint8_t body[256];
		kv_part one;
		if (kv__part_decode(part, part_len, &one, body) == KV_OK) {
			rc = put_name(&b, &one);
			if (rc) {
				kv__buf_free(&b);
				return rc;
			}
			return finish_buf(&b, name);
		}
		kv__clear_error();
	}
	if ((rc = kv_key_decode(part, part_len, &ps, &n)) != KV_OK)
		return rc;
	if (n != 1) {
		kv_free(ps);
		return kv__error(KV_INVALID, "expected one key part, got %zu", n);
	}
	rc = put_name(&b, &ps[0]);
	kv_free(ps);
	if (rc) {
		kv__buf_free(&b);
		return rc;
	}
	return finish_buf(&b, name);
}

int kv_name_to_part(const char *name, size_t name_len, uint8_t **part, size_t *part_len)
{
	kv_part p;
	kv_buf str = { 0 };
	int rc;

	*part = NULL;
	*part_len = 0;
	kv__clear_error();
	if (!name || name_len == 0)
		return kv__error(KV_INVALID, "empty name");
	if (name[0] == '.')
		return kv__error(KV_INVALID, "'%.*s': names starting with '.' are not keys",
		                 (int) name_len, name);
	if (!kv__utf8_valid(name, name_len))
		return kv__error(KV_INVALID, "name is not valid UTF-8");

	if (name[0] == '"') {
		size_t used;
		rc = kv__json_read_string(name, name_len, &used, &str);
		if (!rc && used != name_len)
			rc = kv__error(KV_INVALID, "'%.*s': text after the closing quote",
			               (int) name_len, name);
		if (!rc) {
			memset(&p, 0, sizeof(p));
			p.type = KV_PART_STRING;
			p.data = str.data;
			p.len = str.len;
			rc = encode_one(&p, part, part_len);
		}
		kv__buf_free(&str);
		return rc;
	}

	rc = parse_typed(name, name_len, &p, &str);
	if (rc == KV_NOTFOUND) {
		if (memchr(name, '/', name_len) || has_control((const uint8_t *) name, name_len))
			rc = kv__error(KV_INVALID, "'%.*s': '/' and control characters must be quoted",
			               (int) name_len, name);
		else {
			memset(&p, 0, sizeof(p));
			p.type = KV_PART_STRING;
			p.data = (const uint8_t *) name;
			p.len = name_len;
			rc = KV_OK;
		}
	}
	if (rc == KV_OK)
		rc = encode_one(&p, part, part_len);
	kv__buf_free(&str);
	return rc;
}

/* ---- whole keys <-> paths ---- */

int kv_path_from_key(const void *key, size_t key_len, char **path)
{
	kv_buf b = { 0 };
	size_t span;
	int rc;

	*path = NULL;
	kv__clear_error();
	for (size_t pos = 0; pos < key_len; pos += span) {
		if ((rc = kv_part_span(key, key_len, pos, &span)) != KV_OK)
			goto fail;
		char *name;
		if ((rc = kv_name_from_part((const uint8_t *) key + pos, span, &name)) != KV_OK)
			goto fail;
		if (pos)
			kv__buf_putc(&b, '/');
		kv__buf_put(&b, name, strlen(name));
		kv_free(name);
	}
	return finish_buf(&b, path);
fail:
	kv__buf_free(&b);
	return rc;
}

int kv_path_to_key(const char *path, uint8_t **key, size_t *key_len)
{
	kv_buf b = { 0 };
	int rc = KV_OK;

	*key = NULL;
	*key_len = 0;
	kv__clear_error();
	if (!path)
		return kv__error(KV_INVALID, "no path");
	size_t len = strlen(path);
	for (size_t i = 0; len && i <= len; ) {
		/* a quoted name may hold "\/": look for '/' after its closing quote */
		size_t j = i;
		if (path[i] == '"')
			for (j = i + 1; j < len && path[j] != '"'; j++)
				if (path[j] == '\\' && j + 1 < len)
					j++;
		const char *slash = memchr(path + j, '/', len - j);
		size_t end = slash ? (size_t) (slash - path) : len;
		uint8_t *part;
		size_t part_len;
		if ((rc = kv_name_to_part(path + i, end - i, &part, &part_len)) != KV_OK)
			goto fail;
		kv__buf_put(&b, part, part_len);
		kv_free(part);
		i = end + 1;
		if (slash && i == len) {
			rc = kv__error(KV_INVALID, "'%s': trailing '/'", path);
			goto fail;
		}
	}
	if (b.failed) {
		rc = KV_NOMEM;
		goto fail;
	}
	if (!b.data && !(b.data = malloc(1))) {
		rc = kv__error(KV_NOMEM, "out of memory");
		goto fail;
	}
	*key = b.data;
	*key_len = b.len;
	return KV_OK;
fail:
	kv__buf_free(&b);
	return rc;
}

/* ---- keys as $-tagged JSON ---- */

static int put_json_part(kv_buf *b, const kv_part *p)
{
	char num[32];

	switch (p->type) {
	case KV_PART_STRING:
		return put_quoted(b, p->data, p->len, 0);
	case KV_PART_BYTES:
		kv__buf_put(b, "{\"$bytes\":\"", 11);
		kv__base64_encode(b, p->data, p->len);
		return kv__buf_put(b, "\"}", 2);
	case KV_PART_BIGINT:
		kv__buf_put(b, "{\"$bigint\":\"", 12);
		kv__bigint_to_decimal(p->data, p->len, p->negative, b);
		return kv__buf_put(b, "\"}", 2);
	case KV_PART_NUMBER: {
		double d = p->number;
		if (!isfinite(d) || (d == 0 && signbit(d))) {
			const char *t = isnan(d) ? (signbit(d) ? "-NaN" : "NaN")
			              : d == 0 ? "-0" : d > 0 ? "Infinity" : "-Infinity";
			return kv__buf_printf(b, "{\"$number\":\"%s\"}", t);
		}
		return kv__buf_put(b, num, (size_t) kv__format_double(d, num));
	}
	case KV_PART_FALSE:
		return kv__buf_put(b, "false", 5);
	case KV_PART_TRUE:
		return kv__buf_put(b, "true", 4);
	}
	return kv__error(KV_INVALID, "unknown key part type %d", p->type);
}

int kv_key_to_json(const void *key, size_t key_len, char **json)
{
	kv_part *ps;
	size_t n;
	kv_buf b = { 0 };
	int rc;

	*json = NULL;
	kv__clear_error();
	if ((rc = kv_key_decode(key, key_len, &ps, &n)) != KV_OK)
		return rc;
	kv__buf_putc(&b, '[');
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			kv__buf_putc(&b, ',');
		rc = put_json_part(&b, &ps[i]);
	}
	kv__buf_putc(&b, ']');
	kv_free(ps);
	if (rc || b.failed) {
		kv__buf_free(&b);
		return rc ? rc : KV_NOMEM;
	}
	return finish_buf(&b, json);
}

struct jreader {
	const char *s;
	size_t len, i;
};

static void skip_ws(struct jreader *r)
{
	while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
	                         r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int expect(struct jreader *r, char c)
{
	skip_ws(r);
	if (r->i >= r->len || r->s[r->i] != c)
		return kv__error(KV_INVALID, "key JSON: expected '%c' at offset %zu", c, r->i);
	r->i++;
	return KV_OK;
}

static int read_string(struct jreader *r, kv_buf *out)
{
	size_t used;
	skip_ws(r);
	int rc = kv__json_read_string(r->s + r->i, r->len - r->i, &used, out);
	if (rc == KV_INVALID)
		return kv__error(KV_INVALID, "key JSON: bad string at offset %zu", r->i);
	r->i += used;
	return rc;
}

/* Strict RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t json_number_len(const char *s, size_t len)
{
	size_t i = 0;
#define DIGIT(k) ((k) < len && s[k] >= '0' && s[k] <= '9')
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (DIGIT(i))
		while (DIGIT(i))
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		if (!DIGIT(i + 1))
			return 0;
		for (i++; DIGIT(i); i++)
			;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	return i;
}

/* One element of the key array, appended in encoded form to key. */
static int read_json_part(struct jreader *r, kv_buf *key)
{
	kv_part p;
	kv_buf tmp = { 0 }, tag = { 0 }, conv = { 0 };
	int rc = KV_OK;

	memset(&p, 0, sizeof(p));
	skip_ws(r);
	const char *s = r->s + r->i;
	size_t left = r->len - r->i;
	if (left && s[0] == '"') {
		if ((rc = read_string(r, &tmp)))
			goto out;
		p.type = KV_PART_STRING;
		p.data = tmp.data;
		p.len = tmp.len;
	} else if (left >= 4 && memcmp(s, "true", 4) == 0) {
		p.type = KV_PART_TRUE;
		r->i += 4;
	} else if (left >= 5 && memcmp(s, "false", 5) == 0) {
		p.type = KV_PART_FALSE;
		r->i += 5;
	} else if (left && s[0] == '{') {
		r->i++;
		if ((rc = read_string(r, &tag)) || (rc = expect(r, ':')) ||
		    (rc = read_string(r, &tmp)) || (rc = expect(r, '}')))
			goto out;
		const char *t = (const char *) tag.data, *v = (const char *) tmp.data;
		size_t tl = tag.len, vl = tmp.len;
		if (tl == 7 && memcmp(t, "$bigint", 7) == 0) {
			rc = kv__bigint_from_decimal(v, vl, &conv, &p.negative);
			p.type = KV_PART_BIGINT;
			p.data = conv.data;
			p.len = conv.len;
		} else if (tl == 6 && memcmp(t, "$bytes", 6) == 0) {
			rc = kv__base64_decode(&conv, v, vl);
			p.type = KV_PART_BYTES;
			p.data = conv.data;
			p.len = conv.len;
		} else if (tl == 7 && memcmp(t, "$number", 7) == 0) {
			p.type = KV_PART_NUMBER;
			rc = kv__parse_decimal_number(v, vl, &p.number);
		} else {
			rc = kv__error(KV_INVALID, "key JSON: unknown key part tag '%.*s'", (int) tl, t);
		}
		if (rc == KV_INVALID)
			rc = kv__error(KV_INVALID, "key JSON: bad %.*s value '%.*s'",
			               (int) tl, t, (int) (vl > 40 ? 40 : vl), v);
	} else if (left && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
		size_t n = json_number_len(s, left);
		if (!n) {
			rc = kv__error(KV_INVALID, "key JSON: bad number at offset %zu", r->i);
			goto out;
		}
		p.type = KV_PART_NUMBER;
		rc = kv__parse_decimal_number(s, n, &p.number);
		r->i += n;
	} else {
		rc = kv__error(KV_INVALID, "key JSON: a key part must be a string, number, "
		               "boolean or $bigint/$bytes/$number object (offset %zu)", r->i);
	}
	if (!rc) {
		size_t need;
		if ((rc = kv_part_encode(&p, NULL, 0, &need)) == KV_OK &&
		    (rc = kv__buf_reserve(key, need)) == KV_OK) {
			kv_part_encode(&p, key->data + key->len, need, &need);
			key->len += need;
		}
	}
out:
	kv__buf_free(&tmp);
	kv__buf_free(&tag);
	kv__buf_free(&conv);
	return rc;
}

int kv_key_from_json(const char *json, size_t json_len, uint8_t **key, size_t *key_len)
{
	struct jreader r = { json, json_len, 0 };
	kv_buf b = { 0 };
	int rc;

	*key = NULL;
	*key_len = 0;
	kv__clear_error();
	if (!json)
		return kv__error(KV_INVALID, "no key JSON");
	if ((rc = expect(&r, '[')))
		goto fail;
	skip_ws(&r);
	if (r.i < r.len && r.s[r.i] == ']') {
		r.i++;
	} else {
		for (;;) {
			if ((rc = read_json_part(&r, &b)))
				goto fail;
			skip_ws(&r);
			if (r.i < r.len && r.s[r.i] == ',') {
				r.i++;
				continue;
			}
			if ((rc = expect(&r, ']')))
				goto fail;
			break;
		}
	}
	skip_ws(&r);
	if (r.i != r.len) {
		rc = kv__error(KV_INVALID, "key JSON: text after the array at offset %zu", r.i);
		goto fail;
	}
	if (!b.data && !(b.data = malloc(1))) {
		rc = kv__error(KV_NOMEM, "out of memory");
		goto fail;
	}
	*key = b.data;
	*key_len = b.len;
	return KV_OK;
fail:
	kv__buf_free(&b);
	return rc;
}
