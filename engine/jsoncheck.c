/*
 * jsoncheck.c - incremental JSON prefix check (RFC 8259).
 *
 * A byte-at-a-time state machine: feed() answers whether the bytes so far
 * can still begin exactly one JSON document surrounded by whitespace, so a
 * write() of bad content fails at the first byte that rules it out. It keeps
 * no text, only the lexer state and one bit per open container (object or
 * array), so memory is fixed and each byte costs O(1).
 *
 * Strings are checked as UTF-8 as they stream in, with the same rules as a
 * whole-buffer check: the first continuation byte's range depends on the
 * lead byte (no overlongs, surrogates, or code points above U+10FFFF).
 * "\u" escapes are only checked for four hex digits: RFC 8259 leaves lone
 * surrogate escapes legal, and what they mean is the value codec's call.
 */
#include <stdlib.h>
#include <string.h>
#include "kv_int.h"

/* a level more than a value's text may have, so the value reader says why it is too deep */
#define MAX_DEPTH (KV_MAX_JSON_DEPTH + 1)

enum state {
	S_VALUE,          /* a value must come next */
	S_VALUE_OR_END,   /* just after '[': a value or ']' */
	S_KEY,            /* after ',' in an object: a key string */
	S_KEY_OR_END,     /* just after '{': a key string or '}' */
	S_COLON,          /* after a key */
	S_AFTER,          /* after a value inside a container: ',' or the closer */
	S_DONE,           /* after the top-level value: whitespace only */
	S_STR,            /* inside a string */
	S_STR_ESC,        /* after '\' */
	S_STR_HEX,        /* inside \uXXXX */
	S_STR_UTF8,       /* inside a multi-byte UTF-8 sequence */
	S_LIT,            /* inside true, false or null */
	S_N_MINUS,        /* number: after '-' */
	S_N_ZERO,         /* number: a leading 0 */
	S_N_INT,          /* number: integer digits */
	S_N_DOT,          /* number: after '.' */
	S_N_FRAC,         /* number: fraction digits */
	S_N_E,            /* number: after 'e' */
	S_N_ESIGN,        /* number: after the exponent's sign */
	S_N_EXP,          /* number: exponent digits */
	S_FAILED,
};

struct kv_json_check {
	enum state st;
	int str_is_key;          /* the string being read is an object key */
	int need;                /* S_STR_HEX: hex digits left; S_STR_UTF8: continuation bytes left */
	uint8_t lo, hi;          /* S_STR_UTF8: range of the next continuation byte */
	const char *lit;         /* S_LIT: the literal, and how much of it was seen */
	size_t lit_pos;
	size_t depth;
	uint64_t offset;         /* bytes fed so far, for messages */
	uint8_t is_object[MAX_DEPTH / 8 + 1];  /* one bit per open container */
};

int kv_json_check_new(kv_json_check **out)
{
	kv_json_check *c = calloc(1, sizeof(*c));
	*out = c;
	if (!c)
		return kv__error(KV_NOMEM, "out of memory");
	c->st = S_VALUE;
	return KV_OK;
}

void kv_json_check_free(kv_json_check *c)
{
	free(c);
}

static int top_is_object(const kv_json_check *c)
{
	size_t i = c->depth - 1;
	return c->is_object[i / 8] >> (i % 8) & 1;
}

/* A value just ended: what may follow depends on the enclosing container. */
static void value_done(kv_json_check *c)
{
	c->st = c->depth ? S_AFTER : S_DONE;
}

static int is_ws(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static int is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

/* Start of a value at byte b; 0 when b cannot start one. */
static int begin_value(kv_json_check *c, uint8_t b)
{
	switch (b) {
	case '{':
	case '[':
		if (c->depth >= MAX_DEPTH)
			return 0;
		if (b == '{')
			c->is_object[c->depth / 8] |= (uint8_t) (1u << (c->depth % 8));
		else
			c->is_object[c->depth / 8] &= (uint8_t) ~(1u << (c->depth % 8));
		c->depth++;
		c->st = b == '{' ? S_KEY_OR_END : S_VALUE_OR_END;
		return 1;
	case '"':
		c->str_is_key = 0;
		c->st = S_STR;
		return 1;
	case 't': c->lit = "true"; break;
	case 'f': c->lit = "false"; break;
	case 'n': c->lit = "null"; break;
	case '-':
		c->st = S_N_MINUS;
		return 1;
	case '0':
		c->st = S_N_ZERO;
		return 1;
	default:
		if (b >= '1' && b <= '9') {
			c->st = S_N_INT;
			return 1;
		}
		return 0;
	}
	c->lit_pos = 1;
	c->st = S_LIT;
	return 1;
}

/* Close the innermost container with b (']' or '}'); 0 when it does not match. */
static int close_container(kv_json_check *c, uint8_t b)
{
	if (!c->depth || (b == '}') != top_is_object(c))
		return 0;
	c->depth--;
	value_done(c);
	return 1;
}

/* Is b a valid byte in the current state? Updates the state. */
static int step(kv_json_check *c, uint8_t b)
{
	switch (c->st) {
	case S_VALUE:
		return is_ws(b) || begin_value(c, b);
	case S_VALUE_OR_END:
		if (b == ']')
			return close_container(c, b);
		return is_ws(b) || begin_value(c, b);
	case S_KEY_OR_END:
		if (b == '}')
			return close_container(c, b);
		/* fall through */
	case S_KEY:
		if (b == '"') {
			c->str_is_key = 1;
			c->st = S_STR;
			return 1;
		}
		return is_ws(b);
	case S_COLON:
		if (b == ':') {
			c->st = S_VALUE;
			return 1;
		}
		return is_ws(b);
	case S_AFTER:
		if (b == ',') {
			c->st = top_is_object(c) ? S_KEY : S_VALUE;
			return 1;
		}
		if (b == ']' || b == '}')
			return close_container(c, b);
		return is_ws(b);
	case S_DONE:
		return is_ws(b);
	case S_STR:
		if (b == '"') {
			if (c->str_is_key)
				c->st = S_COLON;
			else
				value_done(c);
			return 1;
		}
		if (b == '\\') {
			c->st = S_STR_ESC;
			return 1;
		}
		if (b < 0x20)
			return 0;
		if (b < 0x80)
			return 1;
		/* lead byte: how many continuation bytes, and the first one's range */
		c->lo = 0x80;
		c->hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF)
			c->need = 1;
		else if (b >= 0xE0 && b <= 0xEF) {
			c->need = 2;
			if (b == 0xE0) c->lo = 0xA0;
			if (b == 0xED) c->hi = 0x9F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			c->need = 3;
			if (b == 0xF0) c->lo = 0x90;
			if (b == 0xF4) c->hi = 0x8F;
		} else
			return 0;
		c->st = S_STR_UTF8;
		return 1;
	case S_STR_UTF8:
		if (b < c->lo || b > c->hi)
			return 0;
		c->lo = 0x80;
		c->hi = 0xBF;
		if (--c->need == 0)
			c->st = S_STR;
		return 1;
	case S_STR_ESC:
		if (b == 'u') {
			c->need = 4;
			c->st = S_STR_HEX;
			return 1;
		}
		c->st = S_STR;
		return strchr("\"\\/bfnrt", b) != NULL && b != 0;
	case S_STR_HEX:
		if (!is_digit(b) && !((b | 0x20) >= 'a' && (b | 0x20) <= 'f'))
			return 0;
		if (--c->need == 0)
			c->st = S_STR;
		return 1;
	case S_LIT:
		if (b != (uint8_t) c->lit[c->lit_pos])
			return 0;
		if (c->lit[++c->lit_pos] == '\0')
			value_done(c);
		return 1;
	case S_N_MINUS:
		if (b == '0')
			c->st = S_N_ZERO;
		else if (is_digit(b))
			c->st = S_N_INT;
		else
			return 0;
		return 1;
	case S_N_INT:
		if (is_digit(b))
			return 1;
		/* fall through */
	case S_N_ZERO:
		if (b == '.') {
			c->st = S_N_DOT;
			return 1;
		}
		if (b == 'e' || b == 'E') {
			c->st = S_N_E;
			return 1;
		}
		break;   /* the number ended; b belongs to what follows */
	case S_N_DOT:
		if (!is_digit(b))
			return 0;
		c->st = S_N_FRAC;
		return 1;
	case S_N_FRAC:
		if (is_digit(b))
			return 1;
		if (b == 'e' || b == 'E') {
			c->st = S_N_E;
			return 1;
		}
		break;
	case S_N_E:
		if (b == '+' || b == '-') {
			c->st = S_N_ESIGN;
			return 1;
		}
		/* fall through */
	case S_N_ESIGN:
		if (!is_digit(b))
			return 0;
		c->st = S_N_EXP;
		return 1;
	case S_N_EXP:
		if (is_digit(b))
			return 1;
		break;
	case S_FAILED:
		return 0;
	}
	/* a complete number ended just before b */
	value_done(c);
	return step(c, b);
}

int kv_json_check_feed(kv_json_check *c, const char *buf, size_t len)
{
	if (!c || (len && !buf))
		return kv__error(KV_MISUSE, "no JSON check or buffer");
	if (c->st == S_FAILED)
		return kv__error(KV_INVALID, "invalid JSON at byte %llu",
		                 (unsigned long long) c->offset);
	const uint8_t *p = (const uint8_t *) buf;
	for (size_t i = 0; i < len; i++) {
		if (!step(c, p[i])) {
			c->st = S_FAILED;
			c->offset += i;
			return kv__error(KV_INVALID, "invalid JSON at byte %llu",
			                 (unsigned long long) c->offset);
		}
	}
	c->offset += len;
	return KV_OK;
}

int kv_json_check_finish(kv_json_check *c)
{
	if (!c)
		return kv__error(KV_MISUSE, "no JSON check");
	switch (c->st) {
	case S_DONE:
		return KV_OK;
	case S_N_ZERO:
	case S_N_INT:
	case S_N_FRAC:
	case S_N_EXP:
		if (c->depth == 0)
			return KV_OK;
		break;
	case S_VALUE:
		if (c->depth == 0)
			return kv__error(KV_INVALID, "empty JSON document");
		break;
	case S_FAILED:
		return kv__error(KV_INVALID, "invalid JSON at byte %llu",
		                 (unsigned long long) c->offset);
	default:
		break;
	}
	return kv__error(KV_INVALID, "incomplete JSON document");
}
