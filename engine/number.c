/*
 * number.c - numbers as text: JavaScript's String(n) for doubles, decimal
 * parsing, and arbitrary-size integers (bigints) in decimal.
 *
 * String(n) needs the shortest digit string that reads back as n. We take
 * it from the C library: the first precision whose correctly rounded "%.*e"
 * output strtod()s back to n. When the significand is a power of two the
 * interval of numbers reading back as n is lopsided, so the rounded digits
 * can miss it while their neighbour one unit up or down lies inside; the
 * neighbours are tried before going to a longer precision. Integers
 * below 2^53 skip the search: their digits are exact.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv_int.h"

/* ---- doubles ---- */

/* Add delta (+1/-1) to the last digit of a digit string; 0 on carry out. */
static int bump_digits(char *dig, size_t k, int delta)
{
	for (size_t i = k; i-- > 0; ) {
		if (delta > 0 && dig[i] < '9') {
			dig[i]++;
			return 1;
		}
		if (delta < 0 && dig[i] > '0') {
			dig[i]--;
			return dig[0] != '0';
		}
		dig[i] = delta > 0 ? '0' : '9';
	}
	return 0;
}

static int reads_back(const char *dig, size_t k, int exp10, double want)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "%.*se%d", (int) k, dig, exp10 - (int) k + 1);
	return strtod(buf, NULL) == want;
}

/*
 * Shortest digits of |d| > 0 (finite): dig gets k digits without trailing
 * zeros, and d = 0.dig * 10^n in ECMAScript's terms (n = exp10 + 1).
 */
static size_t shortest_digits(double d, char dig[24], int *n)
{
	char buf[40];
	for (int p = 0; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p, d);
		/* buf is "D.DDDDe+XX" (or "De+XX" for p = 0) */
		size_t k = 0;
		const char *s = buf;
		for (; *s && *s != 'e'; s++)
			if (*s != '.')
				dig[k++] = *s;
		int e = atoi(s + 1);
		if (reads_back(dig, k, e, d)) {
			while (k > 1 && dig[k - 1] == '0')
				k--;
			dig[k] = '\0';
			*n = e + 1;
			return k;
		}
		for (int delta = -1; delta <= 1; delta += 2) {
			char alt[24];
			memcpy(alt, dig, k);
			if (bump_digits(alt, k, delta) && reads_back(alt, k, e, d)) {
				while (k > 1 && alt[k - 1] == '0')
					k--;
				memcpy(dig, alt, k);
				dig[k] = '\0';
				*n = e + 1;
				return k;
			}
		}
	}
	/* 17 significant digits always read back */
	snprintf(buf, sizeof(buf), "%.16e", d);
	size_t k = 0;
	const char *s = buf;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			dig[k++] = *s;
	while (k > 1 && dig[k - 1] == '0')
		k--;
	dig[k] = '\0';
	*n = atoi(s + 1) + 1;
	return k;
}

int kv__format_double(double d, char out[32])
{
	if (isnan(d))
		return (int) (strcpy(out, "NaN"), 3);
	if (isinf(d))
		return d < 0 ? (strcpy(out, "-Infinity"), 9) : (strcpy(out, "Infinity"), 8);
	if (d == 0)
		return (int) (strcpy(out, "0"), 1);

	char dig[24];
	int n;
	char *o = out;
	if (d < 0) {
		*o++ = '-';
		d = -d;
	}
	/*
	 * Integers below 2^53 (most numbers in keys and values): every
	 * integer there is a double, so the shortest digits are the exact
	 * ones, and below 1e21 String(n) prints no exponent.
	 */
	if (d < 9007199254740992.0 && d == (double) (uint64_t) d) {
		uint64_t u = (uint64_t) d;
		char tmp[20], *t = tmp + sizeof(tmp);
		do
			*--t = (char) ('0' + u % 10);
		while (u /= 10);
		size_t len = (size_t) (tmp + sizeof(tmp) - t);
		memcpy(o, t, len);
		o += len;
		*o = '\0';
		return (int) (o - out);
	}
	int k = (int) shortest_digits(d, dig, &n);

	/* ECMAScript Number::toString, steps for k digits and exponent n */
	if (k <= n && n <= 21) {
		memcpy(o, dig, (size_t) k);
		o += k;
		for (int i = k; i < n; i++)
			*o++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(o, dig, (size_t) n);
		o += n;
		*o++ = '.';
		memcpy(o, dig + n, (size_t) (k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -n; i++)
			*o++ = '0';
		memcpy(o, dig, (size_t) k);
		o += k;
	} else {
		*o++ = dig[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t) (k - 1));
			o += k - 1;
		}
		o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	*o = '\0';
	return (int) (o - out);
}

/*
 * Accepted: "NaN", "-NaN" (NaN with the sign bit set: a distinct key in
 * Deno, though String() prints it "NaN"), "Infinity", "-Infinity", and
 *   -? digits* ( "." digits* )? ( [eE] [+-]? digits+ )?
 * with at least one mantissa digit. So leading zeros ("01"), ".5" and "5."
 * are numbers, as Number() reads them in JavaScript; a leading '+', spaces,
 * hex and "_" separators are not, so names like "+1" stay plain strings.
 * Out-of-range values round to +-Infinity or +-0 as in JavaScript.
 */
int kv__parse_decimal_number(const char *s, size_t len, double *out)
{
	size_t i = 0, digits = 0;

	if (len == 3 && memcmp(s, "NaN", 3) == 0) {
		*out = NAN;
		return KV_OK;
	}
	if (len == 4 && memcmp(s, "-NaN", 4) == 0) {
		*out = -NAN;
		return KV_OK;
	}
	if (len == 8 && memcmp(s, "Infinity", 8) == 0) {
		*out = INFINITY;
		return KV_OK;
	}
	if (len == 9 && memcmp(s, "-Infinity", 9) == 0) {
		*out = -INFINITY;
		return KV_OK;
	}
	if (i < len && s[i] == '-')
		i++;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (!digits)
		return kv__error(KV_INVALID, "not a number");
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			ed++;
		if (!ed)
			return kv__error(KV_INVALID, "not a number");
	}
	if (i != len)
		return kv__error(KV_INVALID, "not a number");

	char small[64], *copy = len < sizeof(small) ? small : malloc(len + 1);
	if (!copy)
		return kv__error(KV_NOMEM, "out of memory");
	memcpy(copy, s, len);
	copy[len] = '\0';
	/* strtod rounds correctly; ERANGE only reports the over/underflow JS also does */
	*out = strtod(copy, NULL);
	if (copy != small)
		free(copy);
	return KV_OK;
}

/* ---- bigints ---- */

/*
 * Magnitudes are worked on as little-endian arrays of 32-bit limbs; each
 * conversion step multiplies or divides the whole array by 10^9, so both
 * directions are quadratic, fine for the sizes a 64 KiB value can hold.
 */
#define CHUNK 1000000000u

static uint32_t *limbs_from_be(const uint8_t *be, size_t len, size_t *nl)
{
	size_t n = (len + 3) / 4;
	uint32_t *l = calloc(n ? n : 1, sizeof(uint32_t));
	if (!l)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		size_t bit = (len - 1 - i) * 8;
		l[bit / 32] |= (uint32_t) be[i] << (bit % 32);
	}
	*nl = n;
	return l;
}

int kv__bigint_to_decimal(const uint8_t *be_magnitude, size_t len, int negative, kv_buf *out)
{
	while (len && be_magnitude[0] == 0) {
		be_magnitude++;
		len--;
	}
	if (!len)
		return kv__buf_putc(out, '0');

	size_t nl = 0;
	uint32_t *l = limbs_from_be(be_magnitude, len, &nl);
	/* 9 decimal digits per chunk; a 32-bit limb holds under 10 digits */
	size_t maxchunks = nl * 10 / 9 + 2, nc = 0;
	uint32_t *chunks = malloc(maxchunks * sizeof(uint32_t));
	if (!l || !chunks) {
		free(l);
		free(chunks);
		return kv__error(KV_NOMEM, "out of memory");
	}
	while (nl) {
		uint64_t rem = 0;
		for (size_t i = nl; i-- > 0; ) {
			uint64_t cur = rem << 32 | l[i];
			l[i] = (uint32_t) (cur / CHUNK);
			rem = cur % CHUNK;
		}
		chunks[nc++] = (uint32_t) rem;
		while (nl && l[nl - 1] == 0)
			nl--;
	}
	int rc = KV_OK;
	if (negative)
		rc = kv__buf_putc(out, '-');
	if (!rc)
		rc = kv__buf_printf(out, "%u", chunks[nc - 1]);
	for (size_t i = nc - 1; !rc && i-- > 0; )
		rc = kv__buf_printf(out, "%09u", chunks[i]);
	free(l);
	free(chunks);
	return rc;
}

int kv__bigint_from_decimal(const char *s, size_t len, kv_buf *be_magnitude, int *negative)
{
	size_t i = 0;
	int neg = 0;

	if (i < len && s[i] == '-') {
		neg = 1;
		i++;
	}
	if (i == len)
		return kv__error(KV_INVALID, "not an integer");
	for (size_t j = i; j < len; j++)
		if (s[j] < '0' || s[j] > '9')
			return kv__error(KV_INVALID, "not an integer");
	while (i < len - 1 && s[i] == '0')
		i++;

	size_t ndig = len - i;
	/* log2(10) < 3.33, so 32-bit limbs: digits * 3.33 / 32 + 1 */
	size_t cap = ndig / 9 + 2;
	uint32_t *l = calloc(cap, sizeof(uint32_t));
	if (!l)
		return kv__error(KV_NOMEM, "out of memory");
	size_t nl = 0;
	size_t first = ndig % 9 ? ndig % 9 : 9;
	for (size_t j = i; j < len; ) {
		size_t take = j == i ? first : 9;
		uint32_t v = 0, mul = 1;
		for (size_t t = 0; t < take; t++) {
			v = v * 10 + (uint32_t) (s[j + t] - '0');
			mul *= 10;
		}
		j += take;
		uint64_t carry = v;
		for (size_t t = 0; t < nl; t++) {
			uint64_t cur = (uint64_t) l[t] * mul + carry;
			l[t] = (uint32_t) cur;
			carry = cur >> 32;
		}
		if (carry)
			l[nl++] = (uint32_t) carry;
	}
	while (nl && l[nl - 1] == 0)
		nl--;

	int rc = kv__buf_reserve(be_magnitude, nl * 4);
	if (!rc) {
		int started = 0;
		for (size_t t = nl; t-- > 0; )
			for (int sh = 24; sh >= 0; sh -= 8) {
				uint8_t b = (uint8_t) (l[t] >> sh);
				if (b || started) {
					be_magnitude->data[be_magnitude->len++] = b;
					started = 1;
				}
			}
	}
	free(l);
	*negative = nl ? neg : 0;
	return rc;
}
