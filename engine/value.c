/*
 * value.c - stored values <-> $-tagged JSON (kv_value_to_json,
 * kv_value_from_json), and the reading of one line of `kvfs dump`
 * (kv_entry_from_json, at the end), so that the project has one JSON
 * reader.
 *
 * Both directions go through one small in-memory graph of JavaScript values
 * (struct node), allocated from an arena and freed at once:
 *
 *   stored bytes --v8 reader--> graph --JSON writer--> text
 *   text --JSON reader--> JSON tree --tag reader--> graph --v8 writer--> bytes
 *
 * A graph rather than a tree, because V8's back-references (^id) and our
 * {"$ref":K} both name an object that is already part of the value: repeated
 * and circular references are simply two edges to the same node. Neither
 * writer needs to know where a reference came from; both apply one rule,
 * the one V8's serializer applies: the first time an object is written in
 * full and gets the next number, every later occurrence is a reference to
 * that number. Both sides number the same way, so {"$ref":K} is V8's ^K
 * (but for views on part of a buffer, below):
 *
 *   K counts the objects of the value depth first, each where it starts
 *   (before what it contains). An object is every object-like value: a
 *   plain object or array ($object and $sparse included), $date, $regexp,
 *   $map, $set, $error, $boxed, $ArrayBuffer, and every view (a nested
 *   $bytes, $DataView and the other typed arrays), which counts twice: its
 *   ArrayBuffer, then itself, because V8 writes the buffer first. $bigint,
 *   $number, $undefined and $ref itself are not objects.
 *
 * So {a: u8, b: u8} is {"a":{"$bytes":"AQID"},"b":{"$ref":2}}, and
 * {a: u8, b: u8.buffer} is {"a":{"$bytes":"AQID"},"b":{"$ref":1}}.
 *
 * Because both writers use "first occurrence in full", the graph can be
 * written in any member order. That matters: JavaScript orders an object's
 * array-index keys first, ascending, and V8 writes them that way, so the
 * graph is normalised to that order (and to "last duplicate wins, in the
 * first one's place", as both JSON.parse and V8's reader do) before either
 * writer sees it, whatever order the input had.
 *
 * What JSON cannot keep of a view: only its type and the bytes it shows are
 * kept; writing the JSON back gives each view a buffer of its own holding
 * exactly those bytes. When a view shows all of a fixed-size buffer, that
 * buffer is the view's own and its identity is kept ({"$ref"} to it works).
 * Otherwise its offset, the buffer's other bytes, the sharing of one buffer
 * by several views and the length-tracking flag are lost; the view's own
 * number then goes to the copy, and the real buffer, if the value also
 * holds it elsewhere, is shown there in full as $ArrayBuffer. A resizable
 * ArrayBuffer on its own keeps its maximum length:
 * {"$ArrayBuffer":{"bytes":"<base64>","maxByteLength":N}}.
 *
 * Arrays with holes or named properties are
 * {"$sparse":{"length":L,"items":{...}}}, items holding what Object.keys
 * lists: indices ascending, then names. Written back, an array whose items
 * fill 0..L-1 is dense ('A'), as V8 writes a packed array, else sparse.
 * The invalid date is {"$date":null}.
 *
 * Host objects (tag '\', Deno's web objects such as Blob) carry a payload
 * only Deno can parse, so not even their end can be found: such values are
 * refused with KV_CORRUPT and a message naming the host object.
 *
 * Every recursive pass is bounded by MAX_DEPTH levels of values, and the
 * JSON text reader does not recurse, so hostile bytes or text cannot
 * exhaust the stack of a FUSE worker thread (see the limits below).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv_int.h"

/*
 * Nesting limits (kv.h). Both V8 sides count values the same way, so what
 * the writer accepts the reader reads: a value at level MAX_DEPTH - 1 at
 * most, the top one being level 0, and a string inside a RegExp, an Error
 * or a String object one level below its owner, as V8's bytes have it. JSON
 * spells one V8 level with up to three ($map entries: tag object, array,
 * pair; $sparse), and a leaf with up to two more ($regexp's source), so
 * whatever the V8 reader accepts fits MAX_JSON_DEPTH.
 *
 * Stack: a level costs the deepest pass (the tag reader, the V8 reader)
 * at most about 310 bytes at -O2 and 1.2 KiB with AddressSanitizer, so
 * MAX_DEPTH levels take 1.5 MiB (6 MiB); kvfs gives the FUSE worker
 * threads 16 MiB (mount/main.c), a main thread has 8 MiB by default.
 */
#define MAX_DEPTH KV_MAX_DEPTH
#define MAX_JSON_DEPTH KV_MAX_JSON_DEPTH

/* Deno's V8 accepts format versions up to its own latest; 13 is older than
 * any Deno KV release, 16 is what Deno 2.9 writes. */
#define V8_MIN_VERSION 13
#define V8_MAX_VERSION 16
#define V8_WRITE_VERSION 15

/* Largest time value a Date can hold (ECMAScript TimeClip). */
#define MAX_TIME 8.64e15

/* ---- arena ---- */

struct blk {
	struct blk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct blk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		struct blk *b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	void *p = (char *) a->head->data + a->head->used;
	a->head->used += n;
	memset(p, 0, n);
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct blk *b = a->head;
		a->head = b->next;
		free(b);
	}
}

/* ---- the value graph ---- */

enum kind {
	N_UNDEF, N_NULL, N_BOOL, N_NUM, N_BIGINT, N_STR,
	/* object-like from here on: they have identity */
	N_OBJECT, N_ARRAY, N_DATE, N_REGEXP, N_MAP, N_SET, N_ABUF, N_VIEW,
	N_ERROR, N_BOXED
};

#define OBJECT_LIKE(k) ((k) >= N_OBJECT)

/*
 * One member of an object (key), an array (index or key), a Map (k, v) or
 * a Set (v). Keys are WTF-8: UTF-8 that may also hold lone surrogates, so
 * that any JavaScript string has exactly one spelling and keys compare
 * with memcmp.
 */
struct member {
	struct member *next;
	const uint8_t *key;
	size_t key_len;
	int is_index;
	uint32_t index;
	size_t pos;             /* insertion order, for normalising */
	struct node *k, *v;
};

struct node {
	uint8_t kind;
	uint8_t sub;            /* BOOL value, BIGINT sign, VIEW subtag, ERROR prototype tag */
	uint8_t resizable;      /* ABUF */
	uint32_t flags;         /* REGEXP flags, VIEW flags */
	double num;             /* NUM, DATE */
	const uint8_t *data;    /* STR (WTF-8), BIGINT (little-endian magnitude), ABUF bytes, REGEXP source */
	size_t len;
	uint64_t max_len;       /* resizable ABUF */
	uint64_t offset, length;/* VIEW (bytes); ARRAY length */
	struct node *ref;       /* VIEW buffer, BOXED primitive, ERROR cause */
	struct node *msg, *stack; /* ERROR strings, NULL when absent */
	int has_cause;
	struct member *first, *last;
	size_t count;
	int64_t json_k;         /* $ref number once written as JSON, -1 before */
	int64_t v8id;           /* V8 object id once written as V8, -1 before */
};

static struct node *new_node(struct arena *a, int kind)
{
	struct node *n = arena_alloc(a, sizeof(*n));
	if (n) {
		n->kind = (uint8_t) kind;
		n->json_k = -1;
		n->v8id = -1;
	}
	return n;
}

static struct member *add_member(struct arena *a, struct node *n)
{
	struct member *m = arena_alloc(a, sizeof(*m));
	if (!m)
		return NULL;
	m->pos = n->count++;
	if (n->last)
		n->last->next = m;
	else
		n->first = m;
	n->last = m;
	return m;
}

/* Canonical array index "0".."4294967294": JavaScript orders these keys first. */
static int array_index(const uint8_t *s, size_t len, uint32_t *out)
{
	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return 0;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t) (s[i] - '0');
	}
	if (v > 4294967294u)
		return 0;
	*out = (uint32_t) v;
	return 1;
}

/* Members of an object by key: array indices (numerically) first, then names bytewise. */
static int cmp_object_key(const struct member *a, const struct member *b)
{
	if (a->is_index != b->is_index)
		return a->is_index ? -1 : 1;
	if (a->is_index)
		return (a->index > b->index) - (a->index < b->index);
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);
	if (c)
		return c;
	return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static int cmp_js_order(const void *pa, const void *pb)
{
	const struct member *a = *(struct member *const *) pa, *b = *(struct member *const *) pb;
	if (a->is_index != b->is_index)
		return a->is_index ? -1 : 1;
	if (a->is_index && a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/*
 * A Map's keys and a Set's elements are one each under SameValueZero:
 * equal primitives (NaN equal to NaN, -0 to 0) or the same object (a
 * $ref). The order of the classes is arbitrary; equal ones sort together.
 */
static size_t bigint_len(const struct node *n)
{
	size_t len = n->len;
	while (len && n->data[len - 1] == 0)
		len--;
	return len;
}

static int cmp_same_value_zero(const struct node *a, const struct node *b)
{
	int ka = OBJECT_LIKE(a->kind) ? N_OBJECT : a->kind;
	int kb = OBJECT_LIKE(b->kind) ? N_OBJECT : b->kind;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	switch (ka) {
	case N_BOOL:
		return (a->sub > b->sub) - (a->sub < b->sub);
	case N_NUM: {
		int na = a->num != a->num, nb = b->num != b->num;
		if (na || nb)
			return na - nb;
		return (a->num > b->num) - (a->num < b->num);
	}
	case N_BIGINT: {
		size_t la = bigint_len(a), lb = bigint_len(b);
		int sa = la ? a->sub : 0, sb = lb ? b->sub : 0;
		if (sa != sb)
			return sa < sb ? -1 : 1;
		if (la != lb)
			return la < lb ? -1 : 1;
		for (size_t i = la; i-- > 0; )
			if (a->data[i] != b->data[i])
				return a->data[i] < b->data[i] ? -1 : 1;
		return 0;
	}
	case N_STR: {
		size_t n = a->len < b->len ? a->len : b->len;
		int c = n ? memcmp(a->data, b->data, n) : 0;
		if (c)
			return c;
		return (a->len > b->len) - (a->len < b->len);
	}
	case N_OBJECT:
		return ((uintptr_t) a > (uintptr_t) b) - ((uintptr_t) a < (uintptr_t) b);
	default:               /* undefined, null */
		return 0;
	}
}

/* Members of a Map by key, of a Set by element. */
static int cmp_entry(const struct member *a, const struct member *b)
{
	return cmp_same_value_zero(a->k ? a->k : a->v, b->k ? b->k : b->v);
}

static int cmp_pos(const void *pa, const void *pb)
{
	const struct member *a = *(struct member *const *) pa, *b = *(struct member *const *) pb;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

typedef int (*member_cmp)(const struct member *, const struct member *);

/* qsort_r order: by the key `ctx` compares, then insertion order. */
static int cmp_key_then_pos(const void *pa, const void *pb, void *ctx)
{
	const struct member *a = *(struct member *const *) pa, *b = *(struct member *const *) pb;
	int c = (*(const member_cmp *) ctx)(a, b);
	return c ? c : cmp_pos(pa, pb);
}

/*
 * Keep each key of n once, as `same` compares keys: in its first place,
 * with its last value (for a Set, its last equal element); then put the
 * members in `order` and number them again.
 */
static int dedupe(struct node *n, member_cmp same, int (*order)(const void *, const void *))
{
	if (n->count < 2) {
		if (n->first)
			n->first->pos = 0;
		return KV_OK;
	}
	struct member **v = malloc(n->count * sizeof(*v));
	if (!v)
		return kv__error(KV_NOMEM, "out of memory");
	size_t c = 0;
	for (struct member *m = n->first; m; m = m->next)
		v[c++] = m;
	qsort_r(v, c, sizeof(*v), cmp_key_then_pos, &same);
	size_t w = 0;
	for (size_t i = 0; i < c; ) {
		size_t j = i + 1;
		while (j < c && same(v[j], v[i]) == 0)
			j++;
		v[i]->v = v[j - 1]->v;
		v[w++] = v[i];
		i = j;
	}
	qsort(v, w, sizeof(*v), order);
	for (size_t i = 0; i < w; i++) {
		v[i]->next = i + 1 < w ? v[i + 1] : NULL;
		v[i]->pos = i;
	}
	n->first = v[0];
	n->last = v[w - 1];
	n->count = w;
	free(v);
	return KV_OK;
}

/*
 * Put an object's or array's members in JavaScript's order: array-index
 * keys ascending, then the other keys in insertion order; a repeated key
 * keeps its first place and its last value.
 */
static int normalise(struct node *n)
{
	return dedupe(n, cmp_object_key, cmp_js_order);
}

/*
 * Make a Map or Set what JavaScript builds from the same entries (and what
 * Deno reads back): a repeated key or element keeps its first place, and
 * in a Map its last value; a -0 key or element is 0.
 */
static int normalise_entries(struct node *n)
{
	/* Set.prototype.add and Map.prototype.set turn -0 into 0 */
	for (struct member *m = n->first; m; m = m->next) {
		struct node *e = m->k ? m->k : m->v;
		if (e->kind == N_NUM && e->num == 0)
			e->num = 0;
	}
	return dedupe(n, cmp_entry, cmp_pos);
}

/* ---- text helpers: WTF-8 ---- */

static int put_wtf8(kv_buf *b, uint32_t cp)
{
	uint8_t t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (uint8_t) cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (uint8_t) (0xC0 | cp >> 6);
		t[1] = (uint8_t) (0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (uint8_t) (0xE0 | cp >> 12);
		t[1] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
		t[2] = (uint8_t) (0x80 | (cp & 0x3F));
		n = 3;
	} else {
		t[0] = (uint8_t) (0xF0 | cp >> 18);
		t[1] = (uint8_t) (0x80 | (cp >> 12 & 0x3F));
		t[2] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
		t[3] = (uint8_t) (0x80 | (cp & 0x3F));
		n = 4;
	}
	return kv__buf_put(b, t, n);
}

/*
 * Next code point of a WTF-8 string we built ourselves (so well-formed,
 * except that 3-byte surrogates are allowed). Returns the sequence length.
 */
size_t kv__wtf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
	if (s[0] < 0x80 || len < 2) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xE0) {
		*cp = (uint32_t) (s[0] & 0x1F) << 6 | (s[1] & 0x3F);
		return 2;
	}
	if (s[0] < 0xF0 || len < 4) {
		*cp = (uint32_t) (s[0] & 0x0F) << 12 | (uint32_t) (s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		return 3;
	}
	*cp = (uint32_t) (s[0] & 0x07) << 18 | (uint32_t) (s[1] & 0x3F) << 12 |
	      (uint32_t) (s[2] & 0x3F) << 6 | (s[3] & 0x3F);
	return 4;
}

/* ==== V8 bytes -> graph ==== */

struct rd {
	const uint8_t *p, *end;
	unsigned version;
	struct arena *a;
	struct node **ids;      /* by V8 id; NULL while the object is still being read */
	size_t nids, capids;
};

#define CORRUPT(...) kv__error(KV_CORRUPT, __VA_ARGS__)

static int rd_varint(struct rd *r, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t byte;
	*out = 0;
	do {
		if (r->p >= r->end)
			return CORRUPT("truncated V8 value (varint)");
		byte = *r->p++;
		if (shift < 64)
			v |= (uint64_t) (byte & 0x7F) << shift;
		shift += 7;
	} while (byte & 0x80);
	*out = v;
	return KV_OK;
}

static int rd_u32(struct rd *r, uint32_t *out)
{
	uint64_t v = 0;
	int rc = rd_varint(r, &v);
	/* V8 keeps the low 32 bits of an over-long varint */
	*out = (uint32_t) v;
	return rc;
}

static int rd_double(struct rd *r, double *out)
{
	if (r->end - r->p < 8)
		return CORRUPT("truncated V8 value (double)");
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | r->p[i];
	r->p += 8;
	memcpy(out, &u, 8);
	return KV_OK;
}

/* Next tag after padding, not consumed; -1 at the end. */
static int rd_peek(struct rd *r)
{
	const uint8_t *q = r->p;
	while (q < r->end && *q == 0)
		q++;
	return q < r->end ? *q : -1;
}

static void rd_skip_padding(struct rd *r)
{
	while (r->p < r->end && *r->p == 0)
		r->p++;
}

static int rd_new_id(struct rd *r, size_t *id)
{
	*id = 0;
	if (r->nids == r->capids) {
		size_t cap = r->capids ? r->capids * 2 : 64;
		struct node **v = realloc(r->ids, cap * sizeof(*v));
		if (!v)
			return kv__error(KV_NOMEM, "out of memory");
		r->ids = v;
		r->capids = cap;
	}
	r->ids[r->nids] = NULL;
	*id = r->nids++;
	return KV_OK;
}

#define NODE_OR_NOMEM(n) do { if (!(n)) return kv__error(KV_NOMEM, "out of memory"); } while (0)

static int rd_string_body(struct rd *r, int tag, struct node *n)
{
	uint64_t len;
	int rc = rd_varint(r, &len);
	if (rc)
		return rc;
	if (len > (uint64_t) (r->end - r->p))
		return CORRUPT("truncated V8 value (string of %llu bytes)", (unsigned long long) len);
	const uint8_t *s = r->p;
	r->p += len;
	kv_buf b = {0};
	if (tag == '"') {
		for (size_t i = 0; i < len && !rc; i++)
			rc = put_wtf8(&b, s[i]);
	} else if (tag == 'c') {
		if (len & 1)
			return CORRUPT("two-byte string of odd byte length %llu", (unsigned long long) len);
		for (size_t i = 0; i < len && !rc; i += 2) {
			uint32_t u = (uint32_t) s[i] | (uint32_t) s[i + 1] << 8;
			if (u >= 0xD800 && u < 0xDC00 && i + 3 < len) {
				uint32_t lo = (uint32_t) s[i + 2] | (uint32_t) s[i + 3] << 8;
				if (lo >= 0xDC00 && lo < 0xE000) {
					u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
					i += 2;
				}
			}
			rc = put_wtf8(&b, u);
		}
	} else {
		/* UTF-8: ill-formed parts become U+FFFD, one per maximal subpart, as V8 does */
		for (size_t i = 0; i < len && !rc; ) {
			uint32_t cp;
			size_t k = kv__utf8_seq(s + i, len - i, &cp);
			if (k) {
				rc = kv__buf_put(&b, s + i, k);
				i += k;
				continue;
			}
			uint8_t c = s[i++];
			int need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 :
				   c >= 0xF0 && c <= 0xF4 ? 3 : 0;
			uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
			uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
			for (int j = 0; j < need && i < len && s[i] >= lo && s[i] <= hi; j++) {
				i++;
				lo = 0x80;
				hi = 0xBF;
			}
			rc = put_wtf8(&b, 0xFFFD);
		}
	}
	if (!rc && b.len) {
		uint8_t *copy = arena_alloc(r->a, b.len);
		if (!copy)
			rc = kv__error(KV_NOMEM, "out of memory");
		else
			memcpy(copy, b.data, b.len);
		n->data = copy;
		n->len = b.len;
	}
	kv__buf_free(&b);
	return rc;
}

static int rd_bigint_body(struct rd *r, struct node *n)
{
	uint64_t bits;
	int rc = rd_varint(r, &bits);
	if (rc)
		return rc;
	uint64_t len = bits >> 1;
	if (len > (uint64_t) (r->end - r->p))
		return CORRUPT("truncated V8 value (bigint of %llu bytes)", (unsigned long long) len);
	n->data = r->p;
	n->len = len;
	n->sub = (uint8_t) (bits & 1);
	r->p += len;
	return KV_OK;
}

static int rd_value(struct rd *r, int depth, struct node **out);

/* A property key: a string, or a number standing for its String(n). */
static int rd_key(struct rd *r, int depth, struct member *m)
{
	struct node *k;
	int rc = rd_value(r, depth, &k);
	if (rc)
		return rc;
	if (k->kind == N_STR) {
		m->key = k->data;
		m->key_len = k->len;
	} else if (k->kind == N_NUM) {
		char t[32];
		int n = kv__format_double(k->num, t);
		uint8_t *copy = arena_alloc(r->a, (size_t) n);
		NODE_OR_NOMEM(copy);
		memcpy(copy, t, (size_t) n);
		m->key = copy;
		m->key_len = (size_t) n;
	} else {
		return CORRUPT("object key is neither a string nor a number");
	}
	m->is_index = array_index(m->key, m->key_len, &m->index);
	return KV_OK;
}

/* key/value pairs up to end_tag; *count gets the number of pairs read */
static int rd_properties(struct rd *r, int depth, struct node *n, int end_tag, uint64_t *count)
{
	*count = 0;
	for (;;) {
		int t = rd_peek(r);
		if (t < 0)
			return CORRUPT("truncated V8 value (missing end of properties)");
		if (t == end_tag) {
			rd_skip_padding(r);
			r->p++;
			return KV_OK;
		}
		struct member *m = add_member(r->a, n);
		NODE_OR_NOMEM(m);
		int rc = rd_key(r, depth, m);
		if (!rc)
			rc = rd_value(r, depth, &m->v);
		if (rc)
			return rc;
		if (n->kind == N_ARRAY && m->is_index && (uint64_t) m->index >= n->length)
			n->length = (uint64_t) m->index + 1;
		(*count)++;
	}
}

static int rd_check_count(struct rd *r, uint64_t got, const char *what)
{
	uint64_t want;
	int rc = rd_varint(r, &want);
	if (!rc && want != got)
		rc = CORRUPT("%s count %llu does not match the %llu read", what,
			     (unsigned long long) want, (unsigned long long) got);
	return rc;
}

static int view_element_size(int sub)
{
	switch (sub) {
	case 'b': case 'B': case 'C': case '?': return 1;
	case 'w': case 'W': case 'h': return 2;
	case 'd': case 'D': case 'f': return 4;
	case 'F': case 'q': case 'Q': return 8;
	}
	return 0;
}

static int rd_view(struct rd *r, struct node *buf, struct node **out)
{
	size_t id;
	int rc = rd_new_id(r, &id);
	if (rc)
		return rc;
	if (r->p >= r->end)
		return CORRUPT("truncated V8 value (view)");
	int sub = *r->p++;
	int es = view_element_size(sub);
	if (!es)
		return CORRUPT("unknown view type 0x%02x", (unsigned) sub);
	uint64_t off, len, flags = 0;
	if ((rc = rd_varint(r, &off)) || (rc = rd_varint(r, &len)))
		return rc;
	if (r->version >= 14 && (rc = rd_varint(r, &flags)))
		return rc;
	if (off > buf->len || len > buf->len - off)
		return CORRUPT("view [%llu, +%llu) outside its %zu-byte buffer",
			       (unsigned long long) off, (unsigned long long) len, buf->len);
	if (off % (uint64_t) es || len % (uint64_t) es)
		return CORRUPT("view offset or length not a multiple of its element size");
	if ((flags & 3) && !buf->resizable)
		return CORRUPT("length-tracking view on a buffer that is not resizable");
	struct node *n = new_node(r->a, N_VIEW);
	NODE_OR_NOMEM(n);
	n->sub = (uint8_t) sub;
	n->ref = buf;
	n->offset = off;
	n->length = len;
	n->flags = (uint32_t) flags;
	r->ids[id] = n;
	*out = n;
	return KV_OK;
}

static int rd_error(struct rd *r, int depth, struct node *n)
{
	for (;;) {
		uint64_t t;
		int rc = rd_varint(r, &t);
		if (rc)
			return rc;
		switch (t) {
		case 'E': case 'R': case 'F': case 'S': case 'T': case 'U':
			n->sub = (uint8_t) t;
			break;
		case 'm': case 's': {
			struct node *s;
			if ((rc = rd_value(r, depth, &s)))
				return rc;
			if (s->kind != N_STR)
				return CORRUPT("error %s is not a string", t == 'm' ? "message" : "stack");
			*(t == 'm' ? &n->msg : &n->stack) = s;
			break;
		}
		case 'c':
			if ((rc = rd_value(r, depth, &n->ref)))
				return rc;
			n->has_cause = 1;
			break;
		case '.':
			return KV_OK;
		default:
			return CORRUPT("unknown error field tag 0x%02llx", (unsigned long long) t);
		}
	}
}

/* Read one value after its tag (V8's ReadObjectInternal). */
static int rd_tagged(struct rd *r, int tag, int depth, struct node **out)
{
	struct node *n = NULL;
	size_t id = 0;
	uint64_t u, cnt;
	uint32_t u32;
	int rc = KV_OK;

	switch (tag) {
	case '0': case '_': case 'T': case 'F':
		n = new_node(r->a, tag == '0' ? N_NULL : tag == '_' ? N_UNDEF : N_BOOL);
		NODE_OR_NOMEM(n);
		n->sub = tag == 'T';
		break;
	case 'I': case 'U': case 'N':
		n = new_node(r->a, N_NUM);
		NODE_OR_NOMEM(n);
		if (tag == 'N') {
			rc = rd_double(r, &n->num);
		} else if (!(rc = rd_u32(r, &u32))) {
			n->num = tag == 'U' ? (double) u32 :
				 (double) (int32_t) ((u32 >> 1) ^ (0u - (u32 & 1)));
		}
		break;
	case 'Z':
		n = new_node(r->a, N_BIGINT);
		NODE_OR_NOMEM(n);
		rc = rd_bigint_body(r, n);
		break;
	case '"': case 'c': case 'S':
		n = new_node(r->a, N_STR);
		NODE_OR_NOMEM(n);
		rc = rd_string_body(r, tag, n);
		break;
	case '^':
		if ((rc = rd_varint(r, &u)))
			return rc;
		if (u >= r->nids || !r->ids[u])
			return CORRUPT("back-reference to unknown object id %llu", (unsigned long long) u);
		*out = r->ids[u];
		return KV_OK;
	case 'o':
		if ((rc = rd_new_id(r, &id)))
			return rc;
		n = new_node(r->a, N_OBJECT);
		NODE_OR_NOMEM(n);
		r->ids[id] = n;
		if (!(rc = rd_properties(r, depth, n, '{', &cnt)))
			rc = rd_check_count(r, cnt, "object property");
		if (!rc)
			rc = normalise(n);
		break;
	case 'A': case 'a': {
		uint64_t len, extra = 0;
		if ((rc = rd_new_id(r, &id)) || (rc = rd_varint(r, &len)))
			return rc;
		if (len > 0xFFFFFFFFu)
			return CORRUPT("array length %llu too large", (unsigned long long) len);
		/* every dense element takes at least one byte */
		if (tag == 'A' && len > (uint64_t) (r->end - r->p))
			return CORRUPT("truncated V8 value (array of %llu elements)", (unsigned long long) len);
		n = new_node(r->a, N_ARRAY);
		NODE_OR_NOMEM(n);
		n->length = len;
		r->ids[id] = n;
		if (tag == 'A') {
			for (uint64_t i = 0; i < len; i++) {
				if (rd_peek(r) == '-') {
					rd_skip_padding(r);
					r->p++;
					continue;
				}
				struct member *m = add_member(r->a, n);
				NODE_OR_NOMEM(m);
				m->is_index = 1;
				m->index = (uint32_t) i;
				if ((rc = rd_value(r, depth, &m->v)))
					return rc;
				extra++;
			}
		}
		if ((rc = rd_properties(r, depth, n, tag == 'A' ? '$' : '@', &cnt)))
			return rc;
		if ((rc = rd_check_count(r, cnt, "array property")))
			return rc;
		uint64_t len2;
		if ((rc = rd_varint(r, &len2)))
			return rc;
		if (len2 != len)
			return CORRUPT("array length %llu at the end differs from %llu at the start",
				       (unsigned long long) len2, (unsigned long long) len);
		rc = normalise(n);
		break;
	}
	case 'D':
		if ((rc = rd_new_id(r, &id)))
			return rc;
		n = new_node(r->a, N_DATE);
		NODE_OR_NOMEM(n);
		if ((rc = rd_double(r, &n->num)))
			return rc;
		/* TimeClip, as the Date constructor applies on read */
		if (!isfinite(n->num) || fabs(n->num) > MAX_TIME)
			n->num = NAN;
		else
			n->num = trunc(n->num) + 0.0;
		r->ids[id] = n;
		break;
	case 'y': case 'x': case 'n': case 'z': case 's': {
		if ((rc = rd_new_id(r, &id)))
			return rc;
		n = new_node(r->a, N_BOXED);
		NODE_OR_NOMEM(n);
		struct node *p;
		if (tag == 's') {
			if ((rc = rd_value(r, depth, &p)))
				return rc;
			if (p->kind != N_STR)
				return CORRUPT("String object without a string");
		} else {
			p = new_node(r->a, tag == 'n' ? N_NUM : tag == 'z' ? N_BIGINT : N_BOOL);
			NODE_OR_NOMEM(p);
			p->sub = tag == 'y';
			if (tag == 'n')
				rc = rd_double(r, &p->num);
			else if (tag == 'z')
				rc = rd_bigint_body(r, p);
		}
		n->ref = p;
		r->ids[id] = n;
		break;
	}
	case 'R': {
		if ((rc = rd_new_id(r, &id)))
			return rc;
		n = new_node(r->a, N_REGEXP);
		NODE_OR_NOMEM(n);
		struct node *src;
		if ((rc = rd_value(r, depth, &src)))
			return rc;
		if (src->kind != N_STR)
			return CORRUPT("RegExp without a source string");
		if ((rc = rd_u32(r, &u32)))
			return rc;
		/* bit 6 is the experimental linear engine, which Deno cannot read */
		if (u32 & ~0x1BFu)
			return CORRUPT("RegExp flags 0x%x not readable by Deno", u32);
		if ((u32 & 0x110) == 0x110)
			return CORRUPT("RegExp with both 'u' and 'v' flags");
		const char *why;
		if ((rc = kv__regexp_check(src->data, src->len, u32, &why)) == KV_INVALID)
			return CORRUPT("RegExp that Deno cannot read: %s", why);
		if (rc)
			return rc;
		n->data = src->data;
		n->len = src->len;
		n->flags = u32;
		r->ids[id] = n;
		break;
	}
	case ';': case '\'':
		if ((rc = rd_new_id(r, &id)))
			return rc;
		n = new_node(r->a, tag == ';' ? N_MAP : N_SET);
		NODE_OR_NOMEM(n);
		r->ids[id] = n;
		cnt = 0;
		for (;;) {
			int t = rd_peek(r);
			if (t < 0)
				return CORRUPT("truncated V8 value (missing end of %s)",
					       tag == ';' ? "Map" : "Set");
			if (t == (tag == ';' ? ':' : ',')) {
				rd_skip_padding(r);
				r->p++;
				break;
			}
			struct member *m = add_member(r->a, n);
			NODE_OR_NOMEM(m);
			if (tag == ';') {
				if ((rc = rd_value(r, depth, &m->k)))
					return rc;
				cnt++;
				if (rd_peek(r) == ':')
					return CORRUPT("Map key without a value");
			}
			if ((rc = rd_value(r, depth, &m->v)))
				return rc;
			cnt++;
		}
		rc = rd_check_count(r, cnt, tag == ';' ? "Map" : "Set");
		break;
	case 'B': case '~': {
		uint64_t len, max = 0;
		if ((rc = rd_new_id(r, &id)) || (rc = rd_varint(r, &len)))
			return rc;
		if (tag == '~') {
			if ((rc = rd_varint(r, &max)))
				return rc;
			if (len > max)
				return CORRUPT("resizable ArrayBuffer longer than its maximum");
		}
		if (len > (uint64_t) (r->end - r->p))
			return CORRUPT("truncated V8 value (ArrayBuffer of %llu bytes)", (unsigned long long) len);
		n = new_node(r->a, N_ABUF);
		NODE_OR_NOMEM(n);
		n->data = r->p;
		n->len = len;
		n->resizable = tag == '~';
		n->max_len = max;
		r->p += len;
		r->ids[id] = n;
		break;
	}
	case 'r':
		if ((rc = rd_new_id(r, &id)))
			return rc;
		n = new_node(r->a, N_ERROR);
		NODE_OR_NOMEM(n);
		/* registered before its fields, as V8 does: the cause may hold the error itself */
		r->ids[id] = n;
		rc = rd_error(r, depth, n);
		break;
	case '\\':
		return CORRUPT("host object (a Deno web object such as a Blob) cannot be decoded outside Deno");
	case '-':
		return CORRUPT("array hole outside a dense array");
	case 'V':
		return CORRUPT("view without an ArrayBuffer before it");
	default:
		if (tag >= 0x20 && tag < 0x7F)
			return CORRUPT("unsupported V8 tag 0x%02x ('%c')", (unsigned) tag, tag);
		return CORRUPT("unsupported V8 tag 0x%02x", (unsigned) tag);
	}
	if (rc)
		return rc;
	*out = n;
	return KV_OK;
}

/* V8's ReadObject: padding, a value, and a view that follows an ArrayBuffer. */
static int rd_value(struct rd *r, int depth, struct node **out)
{
	if (depth >= MAX_DEPTH)
		return CORRUPT("value nested deeper than %d levels", MAX_DEPTH);
	int tag;
	for (;;) {
		rd_skip_padding(r);
		if (r->p >= r->end)
			return CORRUPT("truncated V8 value");
		tag = *r->p++;
		if (tag != '?')
			break;
		uint64_t ignored;
		int rc = rd_varint(r, &ignored);
		if (rc)
			return rc;
	}
	int rc = rd_tagged(r, tag, depth + 1, out);
	if (!rc && (*out)->kind == N_ABUF && rd_peek(r) == 'V') {
		rd_skip_padding(r);
		r->p++;
		rc = rd_view(r, *out, out);
	}
	return rc;
}

static int v8_decode(struct arena *a, const uint8_t *v, size_t len, struct node **out)
{
	struct rd r = { .p = v, .end = v + len, .a = a };
	if (len < 2 || v[0] != 0xFF)
		return CORRUPT("V8 value without its FF version header");
	r.p++;
	uint64_t ver;
	int rc = rd_varint(&r, &ver);
	if (rc)
		return rc;
	if (ver < V8_MIN_VERSION || ver > V8_MAX_VERSION)
		return CORRUPT("V8 format version %llu not supported (%d..%d)",
			       (unsigned long long) ver, V8_MIN_VERSION, V8_MAX_VERSION);
	r.version = (unsigned) ver;
	/* bytes after the value are ignored, as V8 ignores them */
	rc = rd_value(&r, 0, out);
	free(r.ids);
	return rc;
}

/* ==== graph -> JSON text ==== */

struct jw {
	kv_buf b;
	int pretty;
	int64_t next_k;
	struct arena *a;
};

static int jw_str(struct jw *w, const uint8_t *s, size_t len)
{
	int rc = kv__buf_putc(&w->b, '"');
	for (size_t i = 0; i < len && !rc; ) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			rc = kv__buf_putc(&w->b, '\\');
			if (!rc)
				rc = kv__buf_putc(&w->b, c);
			i++;
		} else if (c < 0x20) {
			static const char esc[] = "btn\0fr";
			if (c >= 8 && c <= 13 && esc[c - 8])
				rc = kv__buf_printf(&w->b, "\\%c", esc[c - 8]);
			else
				rc = kv__buf_printf(&w->b, "\\u%04x", c);
			i++;
		} else if (c == 0xED && i + 2 < len && s[i + 1] >= 0xA0) {
			/* a lone surrogate: JSON.stringify escapes it */
			uint32_t cp;
			i += kv__wtf8_next(s + i, len - i, &cp);
			rc = kv__buf_printf(&w->b, "\\u%04x", cp);
		} else {
			size_t j = i + 1;
			while (j < len && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' && s[j] != 0xED)
				j++;
			rc = kv__buf_put(&w->b, s + i, j - i);
			i = j;
		}
	}
	return rc ? rc : kv__buf_putc(&w->b, '"');
}

static int jw_cstr(struct jw *w, const char *s)
{
	return jw_str(w, (const uint8_t *) s, strlen(s));
}

static int jw_nl(struct jw *w, int depth)
{
	if (!w->pretty)
		return KV_OK;
	int rc = kv__buf_putc(&w->b, '\n');
	for (int i = 0; i < depth && !rc; i++)
		rc = kv__buf_put(&w->b, "  ", 2);
	return rc;
}

/* Separator and indentation before the i-th element of a container at depth. */
static int jw_item(struct jw *w, size_t i, int depth)
{
	int rc = i ? kv__buf_putc(&w->b, ',') : KV_OK;
	return rc ? rc : jw_nl(w, depth + 1);
}

static int jw_close(struct jw *w, size_t n, int depth, char c)
{
	int rc = n ? jw_nl(w, depth) : KV_OK;
	return rc ? rc : kv__buf_putc(&w->b, (uint8_t) c);
}

static int jw_key(struct jw *w, size_t i, int depth, const uint8_t *k, size_t klen)
{
	int rc = jw_item(w, i, depth);
	if (!rc)
		rc = jw_str(w, k, klen);
	if (!rc)
		rc = kv__buf_put(&w->b, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
	return rc;
}

static int jw_ckey(struct jw *w, size_t i, int depth, const char *k)
{
	return jw_key(w, i, depth, (const uint8_t *) k, strlen(k));
}

/* {"<tag>": then the caller writes the payload and calls jw_tag_end */
static int jw_tag(struct jw *w, int depth, const char *tag)
{
	int rc = kv__buf_putc(&w->b, '{');
	return rc ? rc : jw_ckey(w, 0, depth, tag);
}

static int jw_tag_end(struct jw *w, int depth)
{
	return jw_close(w, 1, depth, '}');
}

static int jw_num(struct jw *w, int depth, double d)
{
	char t[32];
	int n = kv__format_double(d, t);
	if (isfinite(d) && !(d == 0 && signbit(d)))
		return kv__buf_put(&w->b, t, (size_t) n);
	if (d == 0)
		strcpy(t, "-0");
	int rc = jw_tag(w, depth, "$number");
	if (!rc)
		rc = jw_cstr(w, t);
	return rc ? rc : jw_tag_end(w, depth);
}

static int jw_bigint(struct jw *w, const struct node *n)
{
	size_t len = n->len;
	while (len && n->data[len - 1] == 0)
		len--;
	uint8_t *be = malloc(len ? len : 1);
	if (!be)
		return kv__error(KV_NOMEM, "out of memory");
	for (size_t i = 0; i < len; i++)
		be[i] = n->data[len - 1 - i];
	kv_buf t = {0};
	int rc = kv__bigint_to_decimal(be, len, n->sub & 1, &t);
	if (!rc)
		rc = jw_str(w, t.data, t.len);
	free(be);
	kv__buf_free(&t);
	return rc;
}

static int jw_b64(struct jw *w, const uint8_t *p, size_t len)
{
	int rc = kv__buf_putc(&w->b, '"');
	if (!rc)
		rc = kv__base64_encode(&w->b, p, len);
	return rc ? rc : kv__buf_putc(&w->b, '"');
}

static const char *view_class(int sub)
{
	switch (sub) {
	case 'b': return "$Int8Array";
	case 'B': return "$bytes";
	case 'C': return "$Uint8ClampedArray";
	case 'w': return "$Int16Array";
	case 'W': return "$Uint16Array";
	case 'd': return "$Int32Array";
	case 'D': return "$Uint32Array";
	case 'h': return "$Float16Array";
	case 'f': return "$Float32Array";
	case 'F': return "$Float64Array";
	case 'q': return "$BigInt64Array";
	case 'Q': return "$BigUint64Array";
	case '?': return "$DataView";
	}
	return NULL;
}

static const struct { char tag; const char *name; } error_names[] = {
	{ 0, "Error" }, { 'E', "EvalError" }, { 'R', "RangeError" }, { 'F', "ReferenceError" },
	{ 'S', "SyntaxError" }, { 'T', "TypeError" }, { 'U', "URIError" },
};

/* RegExp flags in the order of JavaScript's `flags` getter; bit = 1 << index */
static const char regexp_flags[] = "gimyusldv";
static const char regexp_order[] = "dgimsuvy";

/* days since 1970-01-01 -> civil date (proleptic Gregorian) */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Date.prototype.toISOString (the invalid date is written null by the caller) */
static void format_date(double t, char out[64])
{
	if (isnan(t)) {
		strcpy(out, "Invalid Date");
		return;
	}
	int64_t ms = (int64_t) t;
	int64_t days = ms / 86400000, rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	/* |t| <= 8.64e15 keeps the year within +-275760 */
	int yi = (int) y;
	char year[16];
	if (yi >= 0 && yi <= 9999)
		snprintf(year, sizeof(year), "%04d", yi);
	else
		snprintf(year, sizeof(year), "%c%06d", yi < 0 ? '-' : '+', yi < 0 ? -yi : yi);
	snprintf(out, 64, "%s-%02d-%02dT%02d:%02d:%02d.%03dZ", year, m, d,
		 (int) (rem / 3600000), (int) (rem / 60000 % 60), (int) (rem / 1000 % 60),
		 (int) (rem % 1000));
}

static int jw_value(struct jw *w, struct node *n, int depth);

static int jw_members_object(struct jw *w, struct node *n, int depth)
{
	int rc = kv__buf_putc(&w->b, '{');
	size_t i = 0;
	for (struct member *m = n->first; m && !rc; m = m->next, i++) {
		if (!(rc = jw_key(w, i, depth, m->key, m->key_len)))
			rc = jw_value(w, m->v, depth + 1);
	}
	return rc ? rc : jw_close(w, i, depth, '}');
}

static int jw_array(struct jw *w, struct node *n, int depth)
{
	size_t items = 0, props = 0;
	struct member *m;
	for (m = n->first; m; m = m->next)
		*(m->is_index ? &items : &props) += 1;
	int rc = KV_OK;
	size_t i = 0;
	if (items == n->length && !props) {
		rc = kv__buf_putc(&w->b, '[');
		for (m = n->first; m && !rc; m = m->next, i++) {
			if (!(rc = jw_item(w, i, depth)))
				rc = jw_value(w, m->v, depth + 1);
		}
		return rc ? rc : jw_close(w, i, depth, ']');
	}
	/* {"$sparse":{"length":L,"items":{"3":v,"name":v}}}: items in Object.keys order */
	int d1 = depth + 1, d2 = depth + 2;
	if ((rc = jw_tag(w, depth, "$sparse")) || (rc = kv__buf_putc(&w->b, '{')) ||
	    (rc = jw_ckey(w, 0, d1, "length")) ||
	    (rc = kv__buf_printf(&w->b, "%llu", (unsigned long long) n->length)) ||
	    (rc = jw_ckey(w, 1, d1, "items")) || (rc = kv__buf_putc(&w->b, '{')))
		return rc;
	for (m = n->first, i = 0; m && !rc; m = m->next, i++) {
		char k[16];
		int kl = snprintf(k, sizeof(k), "%u", m->index);
		if (m->is_index)
			rc = jw_key(w, i, d2, (const uint8_t *) k, (size_t) kl);
		else
			rc = jw_key(w, i, d2, m->key, m->key_len);
		if (!rc)
			rc = jw_value(w, m->v, d2 + 1);
	}
	if (!rc)
		rc = jw_close(w, i, d2, '}');
	if (!rc)
		rc = jw_close(w, 2, d1, '}');
	return rc ? rc : jw_tag_end(w, depth);
}

static int jw_value(struct jw *w, struct node *n, int depth)
{
	int rc = KV_OK, d1 = depth + 1;
	struct member *m;
	size_t i;

	if (depth >= MAX_JSON_DEPTH)
		return CORRUPT("value nested deeper than %d levels", MAX_DEPTH);
	if (OBJECT_LIKE(n->kind)) {
		if (n->json_k >= 0) {
			if (!(rc = jw_tag(w, depth, "$ref")))
				rc = kv__buf_printf(&w->b, "%lld", (long long) n->json_k);
			return rc ? rc : jw_tag_end(w, depth);
		}
		/*
		 * A view's buffer takes the number before the view, as in V8,
		 * because the JSON reader gives each view a buffer of its own
		 * numbered so. That buffer is the real one only when the view
		 * shows all of a fixed-size buffer not numbered yet; otherwise
		 * the number goes to the copy, and the real buffer, if the value
		 * also holds it elsewhere, is shown there in full.
		 */
		if (n->kind == N_VIEW) {
			struct node *b = n->ref;
			if (b->json_k < 0 && n->offset == 0 && n->length == b->len && !b->resizable)
				b->json_k = w->next_k;
			w->next_k++;
		}
		n->json_k = w->next_k++;
	}
	switch (n->kind) {
	case N_UNDEF:
		if (!(rc = jw_tag(w, depth, "$undefined")))
			rc = kv__buf_put(&w->b, "true", 4);
		return rc ? rc : jw_tag_end(w, depth);
	case N_NULL:
		return kv__buf_put(&w->b, "null", 4);
	case N_BOOL:
		return n->sub ? kv__buf_put(&w->b, "true", 4) : kv__buf_put(&w->b, "false", 5);
	case N_NUM:
		return jw_num(w, depth, n->num);
	case N_STR:
		return jw_str(w, n->data, n->len);
	case N_BIGINT:
		if (!(rc = jw_tag(w, depth, "$bigint")))
			rc = jw_bigint(w, n);
		return rc ? rc : jw_tag_end(w, depth);
	case N_OBJECT:
		/* a lone '$' key would read back as a tag */
		if (n->count == 1 && n->first->key_len && n->first->key[0] == '$') {
			if (!(rc = jw_tag(w, depth, "$object")))
				rc = jw_members_object(w, n, d1);
			return rc ? rc : jw_tag_end(w, depth);
		}
		return jw_members_object(w, n, depth);
	case N_ARRAY:
		return jw_array(w, n, depth);
	case N_DATE: {
		char t[64];
		format_date(n->num, t);
		if (!(rc = jw_tag(w, depth, "$date")))
			rc = isnan(n->num) ? kv__buf_put(&w->b, "null", 4) : jw_cstr(w, t);
		return rc ? rc : jw_tag_end(w, depth);
	}
	case N_REGEXP: {
		char f[16];
		size_t k = 0;
		for (const char *o = regexp_order; *o; o++)
			if (n->flags & 1u << (strchr(regexp_flags, *o) - regexp_flags))
				f[k++] = *o;
		f[k] = '\0';
		if ((rc = jw_tag(w, depth, "$regexp")) || (rc = kv__buf_putc(&w->b, '{')) ||
		    (rc = jw_ckey(w, 0, d1, "source")) || (rc = jw_str(w, n->data, n->len)) ||
		    (rc = jw_ckey(w, 1, d1, "flags")) || (rc = jw_cstr(w, f)) ||
		    (rc = jw_close(w, 2, d1, '}')))
			return rc;
		return jw_tag_end(w, depth);
	}
	case N_MAP: case N_SET:
		if ((rc = jw_tag(w, depth, n->kind == N_MAP ? "$map" : "$set")) ||
		    (rc = kv__buf_putc(&w->b, '[')))
			return rc;
		for (m = n->first, i = 0; m && !rc; m = m->next, i++) {
			if ((rc = jw_item(w, i, d1)))
				break;
			if (n->kind == N_SET) {
				rc = jw_value(w, m->v, d1 + 1);
				continue;
			}
			if ((rc = kv__buf_putc(&w->b, '[')) || (rc = jw_item(w, 0, d1 + 1)) ||
			    (rc = jw_value(w, m->k, d1 + 2)) || (rc = jw_item(w, 1, d1 + 1)) ||
			    (rc = jw_value(w, m->v, d1 + 2)))
				break;
			rc = jw_close(w, 2, d1 + 1, ']');
		}
		if (!rc)
			rc = jw_close(w, i, d1, ']');
		return rc ? rc : jw_tag_end(w, depth);
	case N_ABUF:
		if ((rc = jw_tag(w, depth, "$ArrayBuffer")))
			return rc;
		if (!n->resizable) {
			rc = jw_b64(w, n->data, n->len);
		} else {
			if ((rc = kv__buf_putc(&w->b, '{')) || (rc = jw_ckey(w, 0, d1, "bytes")) ||
			    (rc = jw_b64(w, n->data, n->len)) || (rc = jw_ckey(w, 1, d1, "maxByteLength")) ||
			    (rc = kv__buf_printf(&w->b, "%llu", (unsigned long long) n->max_len)))
				return rc;
			rc = jw_close(w, 2, d1, '}');
		}
		return rc ? rc : jw_tag_end(w, depth);
	case N_VIEW:
		if (!(rc = jw_tag(w, depth, view_class(n->sub))))
			rc = jw_b64(w, n->ref->data + n->offset, n->length);
		return rc ? rc : jw_tag_end(w, depth);
	case N_BOXED:
		if (!(rc = jw_tag(w, depth, "$boxed"))) {
			struct node *p = n->ref;
			/* the wrapper is the object; its primitive has no identity */
			rc = jw_value(w, p, d1);
		}
		return rc ? rc : jw_tag_end(w, depth);
	case N_ERROR: {
		const char *name = "Error";
		for (size_t j = 0; j < sizeof(error_names) / sizeof(error_names[0]); j++)
			if (error_names[j].tag == n->sub)
				name = error_names[j].name;
		if ((rc = jw_tag(w, depth, "$error")) || (rc = kv__buf_putc(&w->b, '{')) ||
		    (rc = jw_ckey(w, 0, d1, "name")) || (rc = jw_cstr(w, name)))
			return rc;
		i = 1;
		if (n->msg && !rc && !(rc = jw_ckey(w, i++, d1, "message")))
			rc = jw_str(w, n->msg->data, n->msg->len);
		if (n->stack && !rc && !(rc = jw_ckey(w, i++, d1, "stack")))
			rc = jw_str(w, n->stack->data, n->stack->len);
		if (n->has_cause && !rc && !(rc = jw_ckey(w, i++, d1, "cause")))
			rc = jw_value(w, n->ref, d1 + 1);
		if (!rc)
			rc = jw_close(w, i, d1, '}');
		return rc ? rc : jw_tag_end(w, depth);
	}
	}
	return CORRUPT("internal: unknown node kind");
}

/* ==== JSON text -> JSON tree ==== */

/*
 * cJSON is not used here: it cannot hold a string with \u0000 or a lone
 * surrogate (both are ordinary JavaScript strings that Deno stores), it
 * turns every number into a double at once (losing the text we need to
 * tell "1" from "1.0" only in error messages, and which $bigint never goes
 * through anyway), and it reports no byte offset for a syntax error. A
 * JSON reader is short; this one keeps strings as WTF-8 and numbers as
 * text, and leaves meaning to the tag reader below.
 */

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jm;
struct jv {
	uint8_t type;
	const uint8_t *s;       /* J_STR WTF-8, J_NUM text */
	size_t len;
	struct jm *first, *last;
	size_t n;
};

struct jm {
	struct jm *next;
	const uint8_t *key;
	size_t key_len;
	struct jv *v;
};

struct jr {
	const char *s, *p, *end;
	struct arena *a;
	kv_buf tmp;
	int raw;                /* strings: bytes unchecked, escapes past ASCII read as '?' */
	int max_depth;          /* 0: MAX_JSON_DEPTH */
};

#define INVALID(...) kv__error(KV_INVALID, __VA_ARGS__)

static int jr_bad(struct jr *r)
{
	if (r->p >= r->end)
		return INVALID("invalid JSON: unexpected end at byte %zu", (size_t) (r->p - r->s));
	return INVALID("invalid JSON at byte %zu", (size_t) (r->p - r->s));
}

static void jr_ws(struct jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return 0;
		v = v << 4 | (uint32_t) d;
	}
	*out = v;
	return 1;
}

static int jr_string(struct jr *r, const uint8_t **out, size_t *out_len)
{
	r->p++;         /* opening quote */
	r->tmp.len = 0;
	int rc = KV_OK;
	while (!rc) {
		if (r->p >= r->end)
			return jr_bad(r);
		uint8_t c = (uint8_t) *r->p;
		if (c == '"') {
			r->p++;
			break;
		}
		if (c < 0x20)
			return jr_bad(r);
		if (c != '\\') {
			uint32_t cp;
			size_t k = r->raw ? 1 : kv__utf8_seq((const uint8_t *) r->p,
			                                    (size_t) (r->end - r->p), &cp);
			if (!k)
				return INVALID("invalid UTF-8 in JSON string at byte %zu", (size_t) (r->p - r->s));
			rc = kv__buf_put(&r->tmp, r->p, k);
			r->p += k;
			continue;
		}
		if (r->end - r->p < 2)
			return jr_bad(r);
		char e = r->p[1];
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e && simple) {
			static const char val[] = "\"\\/\b\f\n\r\t";
			rc = kv__buf_putc(&r->tmp, (uint8_t) val[simple - "\"\\/bfnrt"]);
			r->p += 2;
			continue;
		}
		uint32_t u, lo;
		if (e != 'u' || r->end - r->p < 6 || !hex4(r->p + 2, &u)) {
			r->p++;
			return jr_bad(r);
		}
		r->p += 6;
		if (r->raw) {
			/* Raw text is only matched against ASCII names or quoted in messages. */
			rc = kv__buf_putc(&r->tmp, u < 0x80 ? (uint8_t) u : '?');
			continue;
		}
		if (u >= 0xD800 && u < 0xDC00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
		    r->p[1] == 'u' && hex4(r->p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
			u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			r->p += 6;
		}
		rc = put_wtf8(&r->tmp, u);
	}
	if (rc)
		return rc;
	uint8_t *copy = arena_alloc(r->a, r->tmp.len ? r->tmp.len : 1);
	NODE_OR_NOMEM(copy);
	if (r->tmp.len)
		memcpy(copy, r->tmp.data, r->tmp.len);
	*out = copy;
	*out_len = r->tmp.len;
	return KV_OK;
}

/* A string, literal or number at r->p into v. */
static int jr_scalar(struct jr *r, struct jv *v)
{
	if (*r->p == '"') {
		v->type = J_STR;
		return jr_string(r, &v->s, &v->len);
	}
	static const struct { const char *word; int type; } words[] = {
		{ "null", J_NULL }, { "true", J_TRUE }, { "false", J_FALSE },
	};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i].word);
		if ((size_t) (r->end - r->p) >= n && memcmp(r->p, words[i].word, n) == 0) {
			v->type = (uint8_t) words[i].type;
			r->p += n;
			return KV_OK;
		}
	}
	/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
	const char *q = r->p, *start = q;
#define DIGITS(min) do { const char *d0 = q; \
		while (q < r->end && *q >= '0' && *q <= '9') q++; \
		if (q - d0 < (min)) { r->p = q; return jr_bad(r); } } while (0)
	if (q < r->end && *q == '-')
		q++;
	if (q < r->end && *q == '0')
		q++;
	else
		DIGITS(1);
	if (q < r->end && *q == '.') {
		q++;
		DIGITS(1);
	}
	if (q < r->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < r->end && (*q == '+' || *q == '-'))
			q++;
		DIGITS(1);
	}
#undef DIGITS
	v->type = J_NUM;
	v->s = (const uint8_t *) start;
	v->len = (size_t) (q - start);
	r->p = q;
	return KV_OK;
}

/* Start the next member of the open container o: its key, for an object; *slot gets its value. */
static int jr_member(struct jr *r, struct jv *o, struct jv ***slot)
{
	struct jm *m = arena_alloc(r->a, sizeof(*m));
	NODE_OR_NOMEM(m);
	if (o->last)
		o->last->next = m;
	else
		o->first = m;
	o->last = m;
	o->n++;
	if (o->type == J_OBJ) {
		jr_ws(r);
		if (r->p >= r->end || *r->p != '"')
			return jr_bad(r);
		int rc = jr_string(r, &m->key, &m->key_len);
		if (rc)
			return rc;
		jr_ws(r);
		if (r->p >= r->end || *r->p != ':')
			return jr_bad(r);
		r->p++;
	}
	*slot = &m->v;
	return KV_OK;
}

/*
 * One JSON value at nesting depth `depth`. Not recursive: the containers
 * being read are on a heap stack, so deep text costs no C stack.
 */
static int jr_value(struct jr *r, int depth, struct jv **out)
{
	int max_depth = r->max_depth ? r->max_depth : MAX_JSON_DEPTH;
	struct jv **open = NULL, **slot = out;
	size_t nopen = 0, cap = 0;
	int rc;

	for (;;) {
		if (depth + (int) nopen >= max_depth) {
			rc = INVALID("JSON nested deeper than %d levels", max_depth);
			break;
		}
		jr_ws(r);
		if (r->p >= r->end) {
			rc = jr_bad(r);
			break;
		}
		struct jv *v = arena_alloc(r->a, sizeof(*v));
		if (!v) {
			rc = kv__error(KV_NOMEM, "out of memory");
			break;
		}
		*slot = v;
		char c = *r->p;
		if (c == '{' || c == '[') {
			v->type = c == '{' ? J_OBJ : J_ARR;
			r->p++;
			jr_ws(r);
			if (r->p >= r->end || *r->p != (c == '{' ? '}' : ']')) {
				if (nopen == cap) {
					size_t ncap = cap ? cap * 2 : 32;
					struct jv **q = realloc(open, ncap * sizeof(*q));
					if (!q) {
						rc = kv__error(KV_NOMEM, "out of memory");
						break;
					}
					open = q;
					cap = ncap;
				}
				open[nopen++] = v;
				if ((rc = jr_member(r, v, &slot)))
					break;
				continue;
			}
			r->p++;
		} else if ((rc = jr_scalar(r, v))) {
			break;
		}
		/* v is complete: close what it completes, then start the next member */
		for (;;) {
			if (!nopen) {
				free(open);
				return KV_OK;
			}
			struct jv *o = open[nopen - 1];
			jr_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				rc = jr_member(r, o, &slot);
				break;
			}
			if (r->p < r->end && *r->p == (o->type == J_OBJ ? '}' : ']')) {
				r->p++;
				nopen--;
				continue;
			}
			rc = jr_bad(r);
			break;
		}
		if (rc)
			break;
	}
	free(open);
	return rc;
}

/* ==== JSON tree -> graph (the $ tags) ==== */

struct tr {
	struct arena *a;
	struct node **objs;     /* by $ref number */
	size_t nobjs, capobjs;
	int not_tag;            /* a '$' object refused looks like no tag at all */
};

/* A one-key '$' object that is no tag (unknown, or nothing like its tag's shape). */
#define NOT_A_TAG(t, ...) ((t)->not_tag = 1, INVALID(__VA_ARGS__))

static int tr_register(struct tr *t, struct node *n)
{
	if (t->nobjs == t->capobjs) {
		size_t cap = t->capobjs ? t->capobjs * 2 : 64;
		struct node **v = realloc(t->objs, cap * sizeof(*v));
		if (!v)
			return kv__error(KV_NOMEM, "out of memory");
		t->objs = v;
		t->capobjs = cap;
	}
	n->json_k = (int64_t) t->nobjs;
	t->objs[t->nobjs++] = n;
	return KV_OK;
}

static int key_is(const struct jm *m, const char *k)
{
	return m->key_len == strlen(k) && memcmp(m->key, k, m->key_len) == 0;
}

static int jv_is_str(const struct jv *v, const char *s)
{
	return v->type == J_STR && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

/* "$name" of a tagged object for messages (keys are short in practice) */
static const char *tagname(const struct jm *m, char buf[64])
{
	size_t n = m->key_len < 60 ? m->key_len : 60;
	memcpy(buf, m->key, n);
	strcpy(buf + n, m->key_len > 60 ? "..." : "");
	return buf;
}

/* JSON.parse semantics for objects: a repeated key keeps its first place and last value */
static size_t jv_dedupe(struct jv *o, struct jm **v)
{
	size_t c = 0;
	for (struct jm *m = o->first; m; m = m->next) {
		size_t i;
		for (i = 0; i < c; i++)
			if (v[i]->key_len == m->key_len && memcmp(v[i]->key, m->key, m->key_len) == 0)
				break;
		if (i < c)
			v[i] = m;       /* keep place i, take the later value */
		else
			v[c++] = m;
	}
	return c;
}

static int tr_value(struct tr *t, struct jv *v, int depth, struct node **out);

static int tr_number(const struct jv *v, double *d)
{
	return kv__parse_decimal_number((const char *) v->s, v->len, d);
}

static int tr_bigint(struct tr *t, const struct jv *v, struct node *n, const char *tag)
{
	if (v->type != J_STR)
		return INVALID("'%s' must be a decimal string", tag);
	kv_buf be = {0};
	int neg;
	if (kv__bigint_from_decimal((const char *) v->s, v->len, &be, &neg)) {
		kv__buf_free(&be);
		return INVALID("'%s' must be a decimal string", tag);
	}
	uint8_t *le = arena_alloc(t->a, be.len ? be.len : 1);
	if (!le) {
		kv__buf_free(&be);
		return kv__error(KV_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < be.len; i++)
		le[i] = be.data[be.len - 1 - i];
	n->kind = N_BIGINT;
	n->data = le;
	n->len = be.len;
	n->sub = (uint8_t) neg;
	kv__buf_free(&be);
	return KV_OK;
}

static int tr_b64(struct tr *t, const struct jv *v, const char *tag, const uint8_t **data, size_t *len)
{
	if (v->type != J_STR)
		return INVALID("'%s' must be a base64 string", tag);
	kv_buf b = {0};
	if (kv__base64_decode(&b, (const char *) v->s, v->len)) {
		kv__buf_free(&b);
		return b.failed ? kv__error(KV_NOMEM, "out of memory") :
			INVALID("'%s' must be a base64 string", tag);
	}
	uint8_t *copy = arena_alloc(t->a, b.len ? b.len : 1);
	if (copy)
		memcpy(copy, b.data, b.len);
	*data = copy;
	*len = b.len;
	kv__buf_free(&b);
	return copy ? KV_OK : kv__error(KV_NOMEM, "out of memory");
}

static int parse_u64_text(const struct jv *v, uint64_t *out)
{
	if (v->type != J_STR || v->len == 0 || v->len > 20)
		return 0;
	uint64_t x = 0;
	for (size_t i = 0; i < v->len; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return 0;
		unsigned d = (unsigned) (v->s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*out = x;
	return 1;
}

/* A JSON number that is an integer (no fraction or exponent) in 0..max. */
static int jv_uint(const struct jv *v, uint64_t max, uint64_t *out)
{
	if (v->type != J_NUM || v->len > 20)
		return 0;
	uint64_t x = 0;
	for (size_t i = 0; i < v->len; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return 0;
		x = x * 10 + (uint64_t) (v->s[i] - '0');
		if (x > max)
			return 0;
	}
	*out = x;
	return 1;
}

static int read2(const uint8_t **p, const uint8_t *end, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (*p >= end || **p < '0' || **p > '9')
			return 0;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 1;
}

/*
 * The date forms JavaScript's Date.parse reads for sure: YYYY-MM-DD or
 * +-YYYYYY-MM-DD, optionally THH:mm, :ss, .fraction, then Z or +-HH:mm
 * (required with a time, as we have no local time zone). null (what we
 * write) or "Invalid Date" (what String(date) says) is the invalid date.
 */
static int parse_date(const struct jv *v, double *out)
{
	if (v->type == J_NULL || jv_is_str(v, "Invalid Date")) {
		*out = NAN;
		return 1;
	}
	if (v->type != J_STR)
		return 0;
	const uint8_t *p = v->s, *end = v->s + v->len;
	int64_t y;
	int yy, mo, d, h = 0, mi = 0, s = 0, ms = 0;
	if (p < end && (*p == '+' || *p == '-')) {
		int neg = *p++ == '-', hi, lo;
		if (!read2(&p, end, 2, &hi) || !read2(&p, end, 4, &lo))
			return 0;
		y = (int64_t) hi * 10000 + lo;
		if (neg && y == 0)
			return 0;
		if (neg)
			y = -y;
	} else {
		if (!read2(&p, end, 4, &yy))
			return 0;
		y = yy;
	}
	if (p >= end || *p++ != '-' || !read2(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
	    !read2(&p, end, 2, &d))
		return 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return 0;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	int64_t offset_min = 0;
	if (p < end) {
		if (*p++ != 'T' || !read2(&p, end, 2, &h) || p >= end || *p++ != ':' ||
		    !read2(&p, end, 2, &mi))
			return 0;
		if (p < end && *p == ':') {
			p++;
			if (!read2(&p, end, 2, &s))
				return 0;
			if (p < end && *p == '.') {
				p++;
				int nd = 0, scale = 100;
				for (; p < end && *p >= '0' && *p <= '9'; p++, nd++) {
					ms += (*p - '0') * scale;
					scale /= 10;
				}
				if (!nd)
					return 0;
			}
		}
		if (h > 24 || mi > 59 || s > 59 || (h == 24 && (mi || s || ms)))
			return 0;
		if (p < end && *p == 'Z') {
			p++;
		} else if (p < end && (*p == '+' || *p == '-')) {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (!read2(&p, end, 2, &oh) || p >= end || *p++ != ':' || !read2(&p, end, 2, &om) ||
			    oh > 23 || om > 59)
				return 0;
			offset_min = sign * (oh * 60 + om);
		} else {
			return 0;
		}
		if (p != end)
			return 0;
	}
	double t = (double) days_from_civil(y, mo, d) * 86400000.0 +
		   ((double) h * 3600 + mi * 60 + s) * 1000 + ms - (double) offset_min * 60000;
	if (fabs(t) > MAX_TIME)
		return 0;
	*out = t;
	return 1;
}

static int tr_regexp(const struct jv *v, struct node *n)
{
	const struct jv *src = NULL, *fl = NULL;
	if (v->type != J_OBJ)
		return INVALID("'$regexp' must be {\"source\":...,\"flags\":...}");
	for (struct jm *m = v->first; m; m = m->next) {
		if (key_is(m, "source"))
			src = m->v;
		else if (key_is(m, "flags"))
			fl = m->v;
		else
			return INVALID("'$regexp' has an unknown field");
	}
	if (!src || src->type != J_STR || (fl && fl->type != J_STR))
		return INVALID("'$regexp' needs a string \"source\" and optional string \"flags\"");
	n->data = src->s;
	n->len = src->len;
	for (size_t i = 0; fl && i < fl->len; i++) {
		const char *f = fl->s[i] && fl->s[i] != 'l' && fl->s[i] != ' ' ?
			strchr(regexp_flags, fl->s[i]) : NULL;
		uint32_t bit = f ? 1u << (f - regexp_flags) : 0;
		if (!bit || (n->flags & bit))
			return INVALID("'$regexp' flags must be distinct letters of \"dgimsuvy\"");
		n->flags |= bit;
	}
	if ((n->flags & 0x110) == 0x110)
		return INVALID("'$regexp' flags cannot hold both 'u' and 'v'");
	/* Deno compiles the source again to read it: V8 must accept it */
	const char *why;
	int rc = kv__regexp_check(n->data, n->len, n->flags, &why);
	if (rc == KV_INVALID)
		return INVALID("'$regexp' is not a valid regular expression: %s", why);
	return rc;
}

static int tr_members(struct tr *t, struct jv *o, struct node *n, int depth, int array_items)
{
	struct jm **v = malloc((o->n ? o->n : 1) * sizeof(*v));
	if (!v)
		return kv__error(KV_NOMEM, "out of memory");
	size_t c = jv_dedupe(o, v);
	int rc = KV_OK;
	for (size_t i = 0; i < c && !rc; i++) {
		struct member *m = add_member(t->a, n);
		if (!m) {
			rc = kv__error(KV_NOMEM, "out of memory");
			break;
		}
		m->key = v[i]->key;
		m->key_len = v[i]->key_len;
		m->is_index = array_index(m->key, m->key_len, &m->index);
		if (array_items && !m->is_index && key_is(v[i], "length"))
			rc = INVALID("'$sparse' items cannot set \"length\"");
		else if (array_items && m->is_index && m->index >= n->length)
			rc = INVALID("'$sparse' item %u is not below its length", m->index);
		if (!rc)
			rc = tr_value(t, v[i]->v, depth + 1, &m->v);
	}
	free(v);
	return rc;
}

static int tr_sparse(struct tr *t, struct jv *v, struct node *n, int depth)
{
	struct jv *len = NULL, *items = NULL;
	int bad = v->type != J_OBJ;
	for (struct jm *m = bad ? NULL : v->first; m; m = m->next) {
		if (key_is(m, "length"))
			len = m->v;
		else if (key_is(m, "items"))
			items = m->v;
		else
			bad = 1;
	}
	if (bad || !len || !jv_uint(len, 0xFFFFFFFFu, &n->length) || (items && items->type != J_OBJ))
		return INVALID("'$sparse' must be {\"length\":L,\"items\":{...}} with L in 0..4294967295");
	int rc = items ? tr_members(t, items, n, depth, 1) : KV_OK;
	return rc ? rc : normalise(n);
}

static int tr_error(struct tr *t, struct jv *v, struct node *n, int depth)
{
	if (v->type != J_OBJ)
		return INVALID("'$error' must be an object");
	for (struct jm *m = v->first; m; m = m->next) {
		if (key_is(m, "name")) {
			size_t j, nn = sizeof(error_names) / sizeof(error_names[0]);
			for (j = 0; j < nn; j++)
				if (jv_is_str(m->v, error_names[j].name))
					break;
			if (j == nn)
				return INVALID("'$error' name must be Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError or URIError");
			n->sub = (uint8_t) error_names[j].tag;
		} else if (key_is(m, "message") || key_is(m, "stack")) {
			if (m->v->type != J_STR)
				return INVALID("'$error' %s must be a string", key_is(m, "stack") ? "stack" : "message");
			struct node *s = new_node(t->a, N_STR);
			NODE_OR_NOMEM(s);
			s->data = m->v->s;
			s->len = m->v->len;
			*(key_is(m, "stack") ? &n->stack : &n->msg) = s;
		} else if (key_is(m, "cause")) {
			int rc = tr_value(t, m->v, depth + 1, &n->ref);
			if (rc)
				return rc;
			n->has_cause = 1;
		} else {
			return INVALID("'$error' fields are name, message, stack and cause");
		}
	}
	return KV_OK;
}

static const char *const view_tags = "bBCwWdDhfFqQ?";

/* A one-member object whose key starts with '$'. */
static int tr_tagged(struct tr *t, struct jm *m, int depth, struct node **out)
{
	char nb[64];
	struct jv *v = m->v;
	struct node *n = new_node(t->a, N_UNDEF);
	NODE_OR_NOMEM(n);
	*out = n;
	int rc = KV_OK;
	double d;

	if (key_is(m, "$ref")) {
		uint64_t k;
		if (jv_uint(v, INT64_MAX, &k) && k < t->nobjs) {
			*out = t->objs[k];
			return KV_OK;
		}
		if (v->type != J_NUM)
			t->not_tag = 1;     /* no number at all: a JSON Schema's "$ref":"#/a" */
		return t->nobjs ? INVALID("'$ref' must be the number of an earlier object (0..%zu)",
		                          t->nobjs - 1)
		                : INVALID("'$ref' must be the number of an earlier object, and there is none");
	}
	if (key_is(m, "$undefined")) {
		if (v->type != J_TRUE)
			return INVALID("'$undefined' must be true");
		return KV_OK;
	}
	if (key_is(m, "$bigint"))
		return tr_bigint(t, v, n, "$bigint");
	if (key_is(m, "$number")) {
		if (v->type != J_STR || tr_number(v, &d))
			return INVALID("'$number' must be \"NaN\", \"Infinity\", \"-Infinity\" or \"-0\"");
		n->kind = N_NUM;
		n->num = d;
		return KV_OK;
	}
	if (key_is(m, "$u64"))
		return INVALID("'$u64' is only allowed as the whole value");
	if (key_is(m, "$object")) {
		if (v->type != J_OBJ)
			return INVALID("'$object' must be an object");
		n->kind = N_OBJECT;
		if ((rc = tr_register(t, n)) || (rc = tr_members(t, v, n, depth, 0)))
			return rc;
		return normalise(n);
	}
	/* the rest are objects: numbered before what they contain */
	int kind = key_is(m, "$date") ? N_DATE : key_is(m, "$regexp") ? N_REGEXP :
		   key_is(m, "$map") ? N_MAP : key_is(m, "$set") ? N_SET :
		   key_is(m, "$ArrayBuffer") ? N_ABUF : key_is(m, "$error") ? N_ERROR :
		   key_is(m, "$boxed") ? N_BOXED : key_is(m, "$sparse") ? N_ARRAY : N_UNDEF;
	int sub = 0;
	if (kind == N_UNDEF) {
		if (key_is(m, "$bytes") || key_is(m, "$Uint8Array"))
			sub = 'B';
		for (const char *s = view_tags; !sub && *s; s++)
			if (key_is(m, view_class(*s)))
				sub = *s;
		if (!sub)
			return NOT_A_TAG(t, "unknown tag '%s'", tagname(m, nb));
		kind = N_VIEW;
	}
	n->kind = (uint8_t) kind;
	struct node *buf = NULL;
	if (kind == N_VIEW) {
		/* the view's buffer is numbered just before it, as V8 numbers them */
		buf = new_node(t->a, N_ABUF);
		NODE_OR_NOMEM(buf);
		if ((rc = tr_register(t, buf)))
			return rc;
	}
	if ((rc = tr_register(t, n)))
		return rc;
	switch (kind) {
	case N_DATE:
		if (!parse_date(v, &n->num))
			return INVALID("'$date' must be an ISO date like \"2024-01-01T00:00:00.000Z\" or null");
		return KV_OK;
	case N_REGEXP:
		return tr_regexp(v, n);
	case N_MAP: case N_SET:
		if (v->type != J_ARR)
			return NOT_A_TAG(t, "'%s' must be an array", tagname(m, nb));
		for (struct jm *e = v->first; e && !rc; e = e->next) {
			struct member *mm = add_member(t->a, n);
			NODE_OR_NOMEM(mm);
			if (kind == N_SET) {
				rc = tr_value(t, e->v, depth + 1, &mm->v);
				continue;
			}
			if (e->v->type != J_ARR || e->v->n != 2)
				return INVALID("'$map' entries must be [key, value] pairs");
			rc = tr_value(t, e->v->first->v, depth + 1, &mm->k);
			if (!rc)
				rc = tr_value(t, e->v->first->next->v, depth + 1, &mm->v);
		}
		return rc ? rc : normalise_entries(n);
	case N_ABUF:
		if (v->type == J_OBJ) {
			struct jv *bytes = NULL, *max = NULL;
			int bad = 0;
			for (struct jm *e = v->first; e; e = e->next) {
				if (key_is(e, "bytes"))
					bytes = e->v;
				else if (key_is(e, "maxByteLength"))
					max = e->v;
				else
					bad = 1;
			}
			if (bad || !bytes || !max || !jv_uint(max, UINT32_MAX, &n->max_len))
				return INVALID("'$ArrayBuffer' must be base64 or {\"bytes\":\"<base64>\",\"maxByteLength\":N}");
			n->resizable = 1;
			v = bytes;
		}
		if ((rc = tr_b64(t, v, "$ArrayBuffer", &n->data, &n->len)))
			return rc;
		if (n->resizable && n->len > n->max_len)
			return INVALID("'$ArrayBuffer' holds more than its maxByteLength");
		return KV_OK;
	case N_VIEW: {
		struct node *b = buf;
		if ((rc = tr_b64(t, v, tagname(m, nb), &b->data, &b->len)))
			return rc;
		if (b->len % (size_t) view_element_size(sub))
			return INVALID("'%s' byte length %zu is not a multiple of %d", tagname(m, nb),
				       b->len, view_element_size(sub));
		n->sub = (uint8_t) sub;
		n->ref = b;
		n->length = b->len;
		return KV_OK;
	}
	case N_BOXED: {
		struct node *p;
		/*
		 * A primitive is part of its wrapper in V8's bytes, so it is
		 * read at the wrapper's level; no tag but these two can nest.
		 */
		if (v->type == J_OBJ && v->first && v->first->key_len && v->first->key[0] == '$' &&
		    !key_is(v->first, "$number") && !key_is(v->first, "$bigint"))
			return INVALID("'$boxed' must hold a boolean, number, bigint or string");
		if ((rc = tr_value(t, v, depth, &p)))
			return rc;
		if (p->kind != N_BOOL && p->kind != N_NUM && p->kind != N_BIGINT && p->kind != N_STR)
			return INVALID("'$boxed' must hold a boolean, number, bigint or string");
		n->ref = p;
		return KV_OK;
	}
	case N_ERROR:
		return tr_error(t, v, n, depth);
	case N_ARRAY:
		return tr_sparse(t, v, n, depth);
	}
	return NOT_A_TAG(t, "unknown tag '%s'", tagname(m, nb));
}

/* depth counts values, as V8 nests them: the $ tags' own levels of text do not count */
static int tr_value(struct tr *t, struct jv *v, int depth, struct node **out)
{
	if (depth >= MAX_DEPTH)
		return INVALID("value nested deeper than %d levels", MAX_DEPTH);
	struct node *n;
	int rc = KV_OK;
	switch (v->type) {
	case J_NULL: case J_TRUE: case J_FALSE:
		n = new_node(t->a, v->type == J_NULL ? N_NULL : N_BOOL);
		NODE_OR_NOMEM(n);
		n->sub = v->type == J_TRUE;
		break;
	case J_NUM:
		n = new_node(t->a, N_NUM);
		NODE_OR_NOMEM(n);
		if ((rc = tr_number(v, &n->num)))
			return INVALID("invalid number");
		break;
	case J_STR:
		n = new_node(t->a, N_STR);
		NODE_OR_NOMEM(n);
		n->data = v->s;
		n->len = v->len;
		break;
	case J_ARR: {
		n = new_node(t->a, N_ARRAY);
		NODE_OR_NOMEM(n);
		if ((rc = tr_register(t, n)))
			return rc;
		uint32_t i = 0;
		for (struct jm *e = v->first; e && !rc; e = e->next, i++) {
			struct member *m = add_member(t->a, n);
			NODE_OR_NOMEM(m);
			m->is_index = 1;
			m->index = i;
			rc = tr_value(t, e->v, depth + 1, &m->v);
		}
		n->length = i;
		break;
	}
	default: {
		struct jm *first = v->first;
		int lone = first && first->key_len && first->key[0] == '$';
		for (struct jm *m = first; lone && (m = m->next); )
			if (m->key_len != first->key_len || memcmp(m->key, first->key, m->key_len))
				lone = 0;
		if (lone) {
			/* JSON.parse keeps the last of repeated keys */
			struct jm *last = first;
			while (last->next)
				last = last->next;
			rc = tr_tagged(t, last, depth, out);
			if (rc == KV_INVALID && t->not_tag == 1) {
				/* JSON from elsewhere: {"$ref":"#/a"} of a JSON Schema */
				char msg[400];
				snprintf(msg, sizeof(msg), "%s", kv_errmsg(NULL));
				t->not_tag = 2;     /* said once, by the innermost */
				return INVALID("%s (a one-key object whose key starts with '$' is a tag; "
				               "a plain one is written {\"$object\":{...}})", msg);
			}
			return rc;
		}
		n = new_node(t->a, N_OBJECT);
		NODE_OR_NOMEM(n);
		if ((rc = tr_register(t, n)) || (rc = tr_members(t, v, n, depth, 0)))
			return rc;
		rc = normalise(n);
	}
	}
	*out = n;
	return rc;
}

/* ==== graph -> V8 bytes ==== */

struct vw {
	kv_buf b;
	int64_t next_id;
};

static int vw_varint(struct vw *w, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	do {
		t[n++] = (uint8_t) ((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return kv__buf_put(&w->b, t, n);
}

static int vw_tag(struct vw *w, int tag)
{
	return kv__buf_putc(&w->b, (uint8_t) tag);
}

static int vw_double(struct vw *w, double d)
{
	uint64_t u;
	uint8_t t[8];
	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t) (u >> (8 * i));
	return kv__buf_put(&w->b, t, 8);
}

static int vw_number(struct vw *w, double d)
{
	if (d >= INT32_MIN && d <= INT32_MAX && d == (double) (int32_t) d && !(d == 0 && signbit(d))) {
		int32_t i = (int32_t) d;
		int rc = vw_tag(w, 'I');
		return rc ? rc : vw_varint(w, (uint32_t) ((uint32_t) i << 1 ^ (uint32_t) (i >> 31)));
	}
	int rc = vw_tag(w, 'N');
	return rc ? rc : vw_double(w, d);
}

static int vw_string(struct vw *w, const uint8_t *s, size_t len)
{
	uint32_t cp, max = 0;
	size_t units = 0;
	for (size_t i = 0; i < len; ) {
		i += kv__wtf8_next(s + i, len - i, &cp);
		if (cp > max)
			max = cp;
		units += cp > 0xFFFF ? 2 : 1;
	}
	int rc;
	if (max <= 0xFF) {
		if ((rc = vw_tag(w, '"')) || (rc = vw_varint(w, units)) || (rc = kv__buf_reserve(&w->b, units)))
			return rc;
		for (size_t i = 0; i < len; ) {
			i += kv__wtf8_next(s + i, len - i, &cp);
			w->b.data[w->b.len++] = (uint8_t) cp;
		}
		return KV_OK;
	}
	/* V8 aligns the UTF-16 payload to an even offset from the buffer start */
	uint64_t bytes = units * 2;
	size_t vl = 1;
	for (uint64_t x = bytes; x > 0x7F; x >>= 7)
		vl++;
	if ((w->b.len + 1 + vl) & 1 && (rc = vw_tag(w, 0)))
		return rc;
	if ((rc = vw_tag(w, 'c')) || (rc = vw_varint(w, bytes)) || (rc = kv__buf_reserve(&w->b, bytes)))
		return rc;
	for (size_t i = 0; i < len; ) {
		i += kv__wtf8_next(s + i, len - i, &cp);
		uint32_t u[2] = { cp, 0 };
		int k = 1;
		if (cp > 0xFFFF) {
			u[0] = 0xD800 + ((cp - 0x10000) >> 10);
			u[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
			k = 2;
		}
		for (int j = 0; j < k; j++) {
			w->b.data[w->b.len++] = (uint8_t) u[j];
			w->b.data[w->b.len++] = (uint8_t) (u[j] >> 8);
		}
	}
	return KV_OK;
}

/* Z payload: V8 writes whole 64-bit digits */
static int vw_bigint(struct vw *w, const struct node *n)
{
	size_t len = n->len;
	while (len && n->data[len - 1] == 0)
		len--;
	size_t padded = (len + 7) / 8 * 8;
	int rc = vw_varint(w, (uint64_t) padded << 1 | (len ? n->sub & 1 : 0));
	if (!rc)
		rc = kv__buf_put(&w->b, n->data, len);
	for (size_t i = len; i < padded && !rc; i++)
		rc = kv__buf_putc(&w->b, 0);
	return rc;
}

static int vw_key(struct vw *w, const struct member *m)
{
	if (m->is_index)
		return vw_number(w, (double) m->index);
	return vw_string(w, m->key, m->key_len);
}

static int vw_value(struct vw *w, struct node *n, int depth);

static int vw_props(struct vw *w, struct node *n, int depth, int only_named, uint64_t *count)
{
	int rc = KV_OK;
	*count = 0;
	for (struct member *m = n->first; m && !rc; m = m->next) {
		if (only_named && m->is_index)
			continue;
		if (!(rc = vw_key(w, m)))
			rc = vw_value(w, m->v, depth + 1);
		(*count)++;
	}
	return rc;
}

static int vw_value(struct vw *w, struct node *n, int depth)
{
	int rc = KV_OK;
	uint64_t cnt;

	/* V8 levels, counted as rd_value counts them */
	if (depth >= MAX_DEPTH || (depth + 1 >= MAX_DEPTH && (n->kind == N_REGEXP ||
	    (n->kind == N_ERROR && (n->msg || n->stack)) ||
	    (n->kind == N_BOXED && n->ref->kind == N_STR))))
		return INVALID("value nested deeper than %d levels", MAX_DEPTH);
	if (OBJECT_LIKE(n->kind)) {
		if (n->v8id >= 0) {
			if ((rc = vw_tag(w, '^')))
				return rc;
			return vw_varint(w, (uint64_t) n->v8id);
		}
		/* a view's buffer gets its id first, as V8 writes it first */
		if (n->kind == N_VIEW && (rc = vw_value(w, n->ref, depth)))
			return rc;
		n->v8id = w->next_id++;
	}
	switch (n->kind) {
	case N_UNDEF: return vw_tag(w, '_');
	case N_NULL: return vw_tag(w, '0');
	case N_BOOL: return vw_tag(w, n->sub ? 'T' : 'F');
	case N_NUM: return vw_number(w, n->num);
	case N_STR: return vw_string(w, n->data, n->len);
	case N_BIGINT:
		return (rc = vw_tag(w, 'Z')) ? rc : vw_bigint(w, n);
	case N_OBJECT:
		if ((rc = vw_tag(w, 'o')) || (rc = vw_props(w, n, depth, 0, &cnt)) ||
		    (rc = vw_tag(w, '{')))
			return rc;
		return vw_varint(w, cnt);
	case N_ARRAY: {
		size_t items = 0;
		for (struct member *m = n->first; m && m->is_index; m = m->next)
			items++;
		if (items == n->length) {
			/* hole-less: dense, as V8 writes a packed array */
			if ((rc = vw_tag(w, 'A')) || (rc = vw_varint(w, n->length)))
				return rc;
			for (struct member *m = n->first; m && m->is_index && !rc; m = m->next)
				rc = vw_value(w, m->v, depth + 1);
			if (rc || (rc = vw_props(w, n, depth, 1, &cnt)) || (rc = vw_tag(w, '$')))
				return rc;
		} else {
			if ((rc = vw_tag(w, 'a')) || (rc = vw_varint(w, n->length)) ||
			    (rc = vw_props(w, n, depth, 0, &cnt)) || (rc = vw_tag(w, '@')))
				return rc;
		}
		if ((rc = vw_varint(w, cnt)))
			return rc;
		return vw_varint(w, n->length);
	}
	case N_DATE:
		return (rc = vw_tag(w, 'D')) ? rc : vw_double(w, n->num);
	case N_REGEXP:
		if ((rc = vw_tag(w, 'R')) || (rc = vw_string(w, n->data, n->len)))
			return rc;
		return vw_varint(w, n->flags);
	case N_MAP: case N_SET:
		if ((rc = vw_tag(w, n->kind == N_MAP ? ';' : '\'')))
			return rc;
		cnt = 0;
		for (struct member *m = n->first; m && !rc; m = m->next) {
			if (n->kind == N_MAP && (rc = vw_value(w, m->k, depth + 1)))
				break;
			rc = vw_value(w, m->v, depth + 1);
			cnt += n->kind == N_MAP ? 2 : 1;
		}
		if (rc || (rc = vw_tag(w, n->kind == N_MAP ? ':' : ',')))
			return rc;
		return vw_varint(w, cnt);
	case N_ABUF:
		if ((rc = vw_tag(w, n->resizable ? '~' : 'B')) || (rc = vw_varint(w, n->len)))
			return rc;
		if (n->resizable && (rc = vw_varint(w, n->max_len)))
			return rc;
		return kv__buf_put(&w->b, n->data, n->len);
	case N_VIEW:
		if ((rc = vw_tag(w, 'V')) || (rc = vw_tag(w, n->sub)) ||
		    (rc = vw_varint(w, n->offset)) || (rc = vw_varint(w, n->length)))
			return rc;
		return vw_varint(w, 0);
	case N_BOXED: {
		struct node *p = n->ref;
		switch (p->kind) {
		case N_BOOL: return vw_tag(w, p->sub ? 'y' : 'x');
		case N_NUM: return (rc = vw_tag(w, 'n')) ? rc : vw_double(w, p->num);
		case N_BIGINT: return (rc = vw_tag(w, 'z')) ? rc : vw_bigint(w, p);
		default: return (rc = vw_tag(w, 's')) ? rc : vw_string(w, p->data, p->len);
		}
	}
	case N_ERROR:
		if ((rc = vw_tag(w, 'r')))
			return rc;
		if (n->sub && (rc = vw_tag(w, n->sub)))
			return rc;
		if (n->msg && ((rc = vw_tag(w, 'm')) || (rc = vw_string(w, n->msg->data, n->msg->len))))
			return rc;
		if (n->stack && ((rc = vw_tag(w, 's')) || (rc = vw_string(w, n->stack->data, n->stack->len))))
			return rc;
		if (n->has_cause) {
			if ((rc = vw_tag(w, 'c')) || (rc = vw_value(w, n->ref, depth + 1)))
				return rc;
		}
		return vw_tag(w, '.');
	}
	return INVALID("internal: unknown node kind");
}

/* ==== public entry points ==== */

static int finish_text(kv_buf *b, int rc, char **json, size_t *json_len)
{
	if (!rc)
		rc = kv__buf_putc(b, '\0');
	if (rc) {
		kv__buf_free(b);
		return rc;
	}
	*json = (char *) b->data;
	*json_len = b->len - 1;
	return KV_OK;
}

int kv_value_to_json(int encoding, const void *value, size_t value_len,
                     int flags, char **json, size_t *json_len)
{
	struct jw w = { .pretty = (flags & KV_JSON_PRETTY) != 0 };
	struct arena a = {0};
	int rc;

	kv__clear_error();
	if (!json || !json_len || (!value && value_len))
		return kv__error(KV_MISUSE, "kv_value_to_json: missing argument");
	const uint8_t *v = value;
	switch (encoding) {
	case KV_ENCODING_U64:
		if (value_len != 8)
			return CORRUPT("KvU64 value of %zu bytes (must be 8)", value_len);
		uint64_t u = 0;
		for (int i = 7; i >= 0; i--)
			u = u << 8 | v[i];
		if (!(rc = jw_tag(&w, 0, "$u64")))
			rc = kv__buf_printf(&w.b, "\"%llu\"", (unsigned long long) u);
		if (!rc)
			rc = jw_tag_end(&w, 0);
		break;
	case KV_ENCODING_BYTES:
		if (!(rc = jw_tag(&w, 0, "$bytes")))
			rc = jw_b64(&w, v, value_len);
		if (!rc)
			rc = jw_tag_end(&w, 0);
		break;
	case KV_ENCODING_V8: {
		struct node *root;
		w.a = &a;
		if (!(rc = v8_decode(&a, v, value_len, &root)))
			rc = jw_value(&w, root, 0);
		break;
	}
	default:
		return CORRUPT("unknown value encoding %d", encoding);
	}
	arena_free(&a);
	return finish_text(&w.b, rc, json, json_len);
}

int kv_value_from_json(const char *json, size_t json_len, int *encoding,
                       uint8_t **value, size_t *value_len)
{
	struct arena a = {0};
	struct jr r = { .s = json, .p = json, .a = &a };
	struct tr t = { .a = &a };
	struct vw w = {0};
	struct jv *root;
	int rc;

	kv__clear_error();
	if (!json || !encoding || !value || !value_len)
		return kv__error(KV_MISUSE, "kv_value_from_json: missing argument");
	r.end = json + json_len;
	rc = jr_value(&r, 0, &root);
	if (!rc) {
		jr_ws(&r);
		if (r.p != r.end)
			rc = INVALID("invalid JSON at byte %zu: text after the value", (size_t) (r.p - r.s));
	}
	kv__buf_free(&r.tmp);
	if (rc)
		goto out;

	/* the two tags that are whole values of their own encodings */
	struct jm *m = root->type == J_OBJ ? root->first : NULL;
	while (m && m->next && m->next->key_len == m->key_len && !memcmp(m->next->key, m->key, m->key_len))
		m = m->next;
	if (m && !m->next && key_is(m, "$u64")) {
		uint64_t u;
		if (!parse_u64_text(m->v, &u)) {
			rc = INVALID("'$u64' must be a decimal string in 0..18446744073709551615");
			goto out;
		}
		if ((rc = kv__buf_reserve(&w.b, 8)))
			goto out;
		for (int i = 0; i < 8; i++)
			w.b.data[w.b.len++] = (uint8_t) (u >> (8 * i));
		*encoding = KV_ENCODING_U64;
	} else if (m && !m->next && (key_is(m, "$bytes") || key_is(m, "$Uint8Array"))) {
		const uint8_t *d;
		size_t n;
		if ((rc = tr_b64(&t, m->v, "$bytes", &d, &n)) || (rc = kv__buf_put(&w.b, d, n)))
			goto out;
		*encoding = KV_ENCODING_BYTES;
	} else {
		struct node *g;
		if ((rc = tr_value(&t, root, 0, &g)))
			goto out;
		if ((rc = vw_tag(&w, 0xFF)) || (rc = vw_varint(&w, V8_WRITE_VERSION)) ||
		    (rc = vw_value(&w, g, 0)))
			goto out;
		*encoding = KV_ENCODING_V8;
	}
	/* a zero-length result still needs a pointer the caller can free */
	if (!w.b.data && (rc = kv__buf_reserve(&w.b, 1)))
		goto out;
	*value = w.b.data;
	*value_len = w.b.len;
	w.b.data = NULL;
out:
	kv__buf_free(&w.b);
	free(t.objs);
	arena_free(&a);
	return rc;
}

/* ==== one line of `kvfs dump`: {"key":...,"value":...,"expires_at":...} ==== */

/*
 * What Date.prototype.toISOString() writes, and so what dump prints as
 * expires_at: "2024-01-01T00:00:00.000Z" or "+275760-09-13T00:00:00.000Z",
 * the fraction with 0 to 3 digits. Stricter than parse_date on purpose: a
 * backup holds exactly what dump wrote, and anything else is a mistake.
 */
static int parse_instant(const uint8_t *p, size_t n, int64_t *ms)
{
	const uint8_t *end = p + n;
	int64_t year;
	int y, mo, d, h, mi, sec, frac = 0, nd = 0;

	if (p < end && (*p == '+' || *p == '-')) {
		int neg = *p++ == '-';
		if (!read2(&p, end, 6, &y))
			return 0;
		year = neg ? -(int64_t) y : y;
	} else {
		if (!read2(&p, end, 4, &y))
			return 0;
		year = y;
	}
	if (p >= end || *p++ != '-' || !read2(&p, end, 2, &mo) ||
	    p >= end || *p++ != '-' || !read2(&p, end, 2, &d) ||
	    p >= end || *p++ != 'T' || !read2(&p, end, 2, &h) ||
	    p >= end || *p++ != ':' || !read2(&p, end, 2, &mi) ||
	    p >= end || *p++ != ':' || !read2(&p, end, 2, &sec))
		return 0;
	if (p < end && *p == '.') {
		for (p++; nd < 3 && p < end && *p >= '0' && *p <= '9'; nd++)
			frac = frac * 10 + (*p++ - '0');
		if (nd == 0)
			return 0;
		for (; nd < 3; nd++)
			frac *= 10;
	}
	if (end - p != 1 || *p != 'Z')
		return 0;
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return 0;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int days_in = mdays[mo - 1];
	if (mo == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		days_in = 29;
	if (d < 1 || d > days_in)
		return 0;
	*ms = days_from_civil(year, mo, d) * 86400000 +
	      ((int64_t) h * 3600 + mi * 60 + sec) * 1000 + frac;
	/* JavaScript's time range: +-8.64e15 ms around the epoch. */
	return *ms <= (int64_t) MAX_TIME && *ms >= -(int64_t) MAX_TIME;
}

/* kv_errmsg() of a failed call, or its code's text; copied, as the next error overwrites it. */
static void inner_msg(int rc, char *buf, size_t size)
{
	const char *m = kv_errmsg(NULL);
	snprintf(buf, size, "%s", *m ? m : kv_errstr(rc));
}

/*
 * The envelope is read member by member with the same reader as values,
 * and each member is judged as soon as it is read, so the first problem
 * in the line is the one reported. Its strings are read raw (bytes are
 * not checked for UTF-8 here; an escape past ASCII reads as '?', which
 * keeps a member name quoted in a message printable) and a member may
 * nest as deep as a value's text (MAX_JSON_DEPTH levels, the line's own
 * object being one more): the key and the value are then parsed from their own
 * text by kv_key_from_json and kv_value_from_json, which check everything
 * and give messages with offsets inside that text. Every refusal and its
 * message is what `kvfs load` printed before it used this call.
 */
int kv_entry_from_json(const char *json, size_t json_len, uint8_t **key, size_t *key_len,
                       int *encoding, uint8_t **value, size_t *value_len,
                       int64_t *expires_at)
{
	struct arena a = {0};
	struct jr r = { .s = json, .p = json, .a = &a, .raw = 1, .max_depth = MAX_JSON_DEPTH + 1 };
	const char *k = NULL, *k_end = NULL, *v = NULL, *v_end = NULL;
	int have_stamp = 0, have_exp = 0, rc = KV_OK;
	char msg[512];

	kv__clear_error();
	if (!json || !key || !key_len || !encoding || !value || !value_len || !expires_at)
		return kv__error(KV_MISUSE, "kv_entry_from_json: missing argument");
	r.end = json + json_len;
	*key = *value = NULL;
	*key_len = *value_len = 0;
	*encoding = 0;
	*expires_at = -1;
	jr_ws(&r);
	if (r.p >= r.end || *r.p != '{') {
		rc = INVALID("not a JSON object");
		goto out;
	}
	r.p++;
	jr_ws(&r);
	if (r.p < r.end && *r.p == '}') {
		r.p++;
		goto members_done;
	}
	for (;;) {
		const uint8_t *name;
		size_t name_len;
		struct jv *m;
		const char *m_start;

		if (r.p >= r.end || *r.p != '"' || (rc = jr_string(&r, &name, &name_len)))
			goto bad_json;
		jr_ws(&r);
		if (r.p >= r.end || *r.p != ':')
			goto bad_json;
		r.p++;
		jr_ws(&r);
		m_start = r.p;
		if ((rc = jr_value(&r, 1, &m)))
			goto bad_json;
#define NAME_IS(lit) (name_len == sizeof(lit) - 1 && memcmp(name, lit, name_len) == 0)
		if (NAME_IS("key")) {
			if (k)
				goto dup;
			k = m_start;
			k_end = r.p;
		} else if (NAME_IS("value")) {
			if (v)
				goto dup;
			v = m_start;
			v_end = r.p;
		} else if (NAME_IS("versionstamp")) {
			if (have_stamp++)
				goto dup;
		} else if (NAME_IS("expires_at")) {
			if (have_exp++)
				goto dup;
			if (m->type == J_STR && !parse_instant(m->s, m->len, expires_at)) {
				int n = (int) (r.p - m_start > 60 ? 60 : r.p - m_start);
				rc = INVALID("invalid expires_at %.*s", n, m_start);
				goto out;
			} else if (m->type != J_STR && m->type != J_NULL) {
				rc = INVALID("invalid expires_at: not an ISO 8601 string");
				goto out;
			}
			/* Already passed whatever the clock says; -1 means "none". */
			if (m->type == J_STR && *expires_at < 0)
				*expires_at = 0;
		} else {
			rc = INVALID("unknown member '%.*s%s'", (int) (name_len > 31 ? 31 : name_len),
			             (const char *) name, name_len > 31 ? "..." : "");
			goto out;
		}
#undef NAME_IS
		jr_ws(&r);
		if (r.p < r.end && *r.p == '}') {
			r.p++;
			break;
		}
		if (r.p >= r.end || *r.p != ',')
			goto bad_json;
		r.p++;
		jr_ws(&r);
		continue;
dup:
		rc = INVALID("duplicate member '%.*s'", (int) name_len, (const char *) name);
		goto out;
	}
members_done:
	jr_ws(&r);
	if (r.p != r.end)
		goto bad_json;
	if (!k || !v) {
		rc = INVALID("missing \"%s\"", k ? "value" : "key");
		goto out;
	}
	if ((rc = kv_key_from_json(k, (size_t) (k_end - k), key, key_len))) {
		inner_msg(rc, msg, sizeof(msg));
		rc = kv__error(rc, "invalid key: %s", msg);
		goto out;
	}
	if (*key_len == 0) {
		rc = INVALID("invalid key: key cannot be empty");
		goto out;
	}
	if (*key_len > KV_MAX_KEY_WRITE) {
		rc = kv__error(KV_TOOBIG_KEY, "key too large for write (max %d bytes)",
		               KV_MAX_KEY_WRITE);
		goto out;
	}
	if ((rc = kv_value_from_json(v, (size_t) (v_end - v), encoding, value, value_len))) {
		inner_msg(rc, msg, sizeof(msg));
		rc = kv__error(rc, "invalid value: %s", msg);
		goto out;
	}
	if (*value_len > KV_MAX_VALUE) {
		rc = kv__error(KV_TOOBIG_VALUE, "Value too large (max %d bytes)", KV_MAX_VALUE);
		goto out;
	}
	goto done;
bad_json:
	/* The reader's message has an offset; this refusal never had one. */
	if (rc != KV_NOMEM)
		rc = INVALID("invalid JSON");
out:
	kv_free(*key);
	kv_free(*value);
	*key = *value = NULL;
	*key_len = *value_len = 0;
	*encoding = 0;
	*expires_at = -1;
done:
	kv__buf_free(&r.tmp);
	arena_free(&a);
	return rc;
}
