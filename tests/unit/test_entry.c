/*
 * test_entry.c - kv_entry_from_json: one line of `kvfs dump` as `kvfs
 * load` reads it. The messages are the ones `kvfs load` prints after
 * "line N: ", so each is checked word for word.
 */
#include <stdint.h>
#include "test.h"

struct parsed {
	int rc;
	uint8_t *key, *value;
	size_t key_len, value_len;
	int encoding;
	int64_t expires_at;
};

static struct parsed parse(const char *line)
{
	struct parsed p;
	p.rc = kv_entry_from_json(line, strlen(line), &p.key, &p.key_len, &p.encoding,
	                          &p.value, &p.value_len, &p.expires_at);
	return p;
}

static void parsed_free(struct parsed *p)
{
	kv_free(p->key);
	kv_free(p->value);
}

/* The line's key and value must be what the key and value readers give for their text. */
static void check_ok(const char *line, const char *key_json, const char *value_json,
                     int64_t expires_at)
{
	struct parsed p = parse(line);
	uint8_t *key = NULL, *value = NULL;
	size_t key_len = 0, value_len = 0;
	int encoding = 0;

	CHECK_RC(p.rc, KV_OK);
	CHECK_RC(kv_key_from_json(key_json, strlen(key_json), &key, &key_len), KV_OK);
	CHECK_RC(kv_value_from_json(value_json, strlen(value_json), &encoding, &value,
	                            &value_len), KV_OK);
	if (p.rc == KV_OK) {
		CHECK_MEM(p.key, p.key_len, key, key_len);
		CHECK_MEM(p.value, p.value_len, value, value_len);
		CHECK(p.encoding == encoding);
		if (p.expires_at != expires_at)
			printf("# line %s\n#   expires_at %lld, wanted %lld\n", line,
			       (long long) p.expires_at, (long long) expires_at);
		CHECK(p.expires_at == expires_at);
	}
	kv_free(key);
	kv_free(value);
	parsed_free(&p);
}

static void check_refused(const char *line, int rc, const char *msg)
{
	struct parsed p = parse(line);

	if (p.rc != rc)
		printf("# line %s\n", line);
	CHECK_RC(p.rc, rc);
	CHECK_STR(kv_errmsg(NULL), msg);
	/* Nothing is handed out on a refusal. */
	CHECK(!p.key && !p.value && !p.key_len && !p.value_len && p.expires_at == -1);
	parsed_free(&p);
}

static void test_entry__dump_lines(void)
{
	check_ok("{\"key\":[\"k\",7],\"value\":1}", "[\"k\",7]", "1", -1);
	/* What dump writes: every member, versionstamp ignored. */
	check_ok("{\"key\":[\"a\",{\"$bigint\":\"12\"},true,{\"$bytes\":\"AQI=\"}],"
	         "\"value\":{\"x\":[1,2,{\"$bigint\":\"5\"}]},"
	         "\"versionstamp\":\"00000000000000080000\","
	         "\"expires_at\":\"2024-01-01T00:00:00.000Z\"}",
	         "[\"a\",{\"$bigint\":\"12\"},true,{\"$bytes\":\"AQI=\"}]",
	         "{\"x\":[1,2,{\"$bigint\":\"5\"}]}", 1704067200000);
	check_ok("{\"key\":[\"k\"],\"value\":{\"$u64\":\"10\"},\"expires_at\":null}",
	         "[\"k\"]", "{\"$u64\":\"10\"}", -1);
	check_ok("{\"key\":[\"k\"],\"value\":{\"$bytes\":\"AAEC\"}}", "[\"k\"]",
	         "{\"$bytes\":\"AAEC\"}", -1);
	/* Any member order, any whitespace between tokens. */
	check_ok(" { \"value\" : [ ] ,\t\"key\" : [ \"x\" , -1.5e3 ] } \r\n", "[\"x\",-1.5e3]",
	         "[]", -1);
	/* Strings in full: escapes, pairs, raw UTF-8. */
	check_ok("{\"key\":[\"caf\xc3\xa9\"],\"value\":\"h\\u00e9\\ud83d\\ude00\\n\"}",
	         "[\"caf\xc3\xa9\"]", "\"h\\u00e9\\ud83d\\ude00\\n\"", -1);
}

static void test_entry__expires_at(void)
{
	check_ok("{\"key\":[\"k\"],\"value\":1,\"expires_at\":\"1970-01-01T00:00:01Z\"}",
	         "[\"k\"]", "1", 1000);
	check_ok("{\"key\":[\"k\"],\"value\":1,\"expires_at\":\"2024-02-29T23:59:59.9Z\"}",
	         "[\"k\"]", "1", 1709251199900);
	check_ok("{\"key\":[\"k\"],\"value\":1,\"expires_at\":\"+275760-09-13T00:00:00.000Z\"}",
	         "[\"k\"]", "1", 8640000000000000);
	/* Before 1970: already passed, given as 0, never as -1 ("none"). */
	check_ok("{\"key\":[\"k\"],\"value\":1,\"expires_at\":\"1969-12-31T23:59:59.999Z\"}",
	         "[\"k\"]", "1", 0);
	check_ok("{\"key\":[\"k\"],\"value\":1,\"expires_at\":\"-000001-01-01T00:00:00Z\"}",
	         "[\"k\"]", "1", 0);
	static const char *bad[] = {
		"tomorrow", "2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z",
		"2024-01-01T00:00:00.0000Z", "2024-01-01T00:00:00+01:00", "2023-02-29T00:00:00Z",
		"2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "+275760-09-13T00:00:00.001Z",
		"2024-01-01T00:00:00.000Z\\u0000", "2024-01-01T00:00:00.000Z ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char line[256], msg[256];
		snprintf(line, sizeof(line), "{\"key\":[\"k\"],\"value\":1,\"expires_at\":\"%s\"}", bad[i]);
		snprintf(msg, sizeof(msg), "invalid expires_at \"%s\"", bad[i]);
		check_refused(line, KV_INVALID, msg);
	}
	/* The message quotes at most 60 bytes of the JSON text. */
	check_refused("{\"key\":[\"k\"],\"value\":1,\"expires_at\":"
	              "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
	              KV_INVALID,
	              "invalid expires_at \"01234567890123456789012345678901234567890123456789012345678");
	check_refused("{\"key\":[\"k\"],\"value\":1,\"expires_at\":1700000000000}", KV_INVALID,
	              "invalid expires_at: not an ISO 8601 string");
	check_refused("{\"key\":[\"k\"],\"value\":1,\"expires_at\":[\"2024-01-01T00:00:00Z\"]}",
	              KV_INVALID, "invalid expires_at: not an ISO 8601 string");
}

static void test_entry__malformed_lines(void)
{
	static const struct { const char *line; int rc; const char *msg; } rows[] = {
		/* not an object */
		{ "", KV_INVALID, "not a JSON object" },
		{ "not json", KV_INVALID, "not a JSON object" },
		{ "[\"k\",7]", KV_INVALID, "not a JSON object" },
		/* missing members */
		{ "{}", KV_INVALID, "missing \"key\"" },
		{ "{\"value\":1}", KV_INVALID, "missing \"key\"" },
		{ "{\"key\":[\"k\"]}", KV_INVALID, "missing \"value\"" },
		{ "{\"key\":[\"k\"],\"versionstamp\":\"00000000000000010000\"}", KV_INVALID,
		  "missing \"value\"" },
		/* bad JSON anywhere in the line, the value included */
		{ "{\"key\":[\"k\"],\"value\":}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":[1,2}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":\"\\u12\"}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":\"a\nb\"}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":01}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":1,}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"] \"value\":1}", KV_INVALID, "invalid JSON" },
		{ "{\"key\" [\"k\"],\"value\":1}", KV_INVALID, "invalid JSON" },
		{ "{key:[\"k\"],\"value\":1}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":1", KV_INVALID, "invalid JSON" },
		/* trailing garbage */
		{ "{\"key\":[\"k\"],\"value\":1} x", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":1}{}", KV_INVALID, "invalid JSON" },
		{ "{\"key\":[\"k\"],\"value\":1}}", KV_INVALID, "invalid JSON" },
		/* duplicate members: the second one is refused */
		{ "{\"key\":[\"k\"],\"key\":[\"j\"],\"value\":1}", KV_INVALID, "duplicate member 'key'" },
		{ "{\"key\":[\"k\"],\"value\":1,\"value\":2}", KV_INVALID, "duplicate member 'value'" },
		{ "{\"versionstamp\":\"a\",\"key\":[\"k\"],\"value\":1,\"versionstamp\":\"b\"}",
		  KV_INVALID, "duplicate member 'versionstamp'" },
		{ "{\"key\":[\"k\"],\"value\":1,\"expires_at\":null,\"expires_at\":null}", KV_INVALID,
		  "duplicate member 'expires_at'" },
		/* unknown members, reported before a later problem in the line */
		{ "{\"key\":[\"k\"],\"value\":1,\"extra\":2}", KV_INVALID, "unknown member 'extra'" },
		{ "{\"Key\":[\"k\"],\"value\":1}", KV_INVALID, "unknown member 'Key'" },
		{ "{\"extra\":2,\"key\":[", KV_INVALID, "unknown member 'extra'" },
		{ "{\"an_unknown_member_name_longer_than_31\":2}", KV_INVALID,
		  "unknown member 'an_unknown_member_name_longer_t...'" },
		{ "{\"caf\\u00e9\":2}", KV_INVALID, "unknown member 'caf?'" },
		{ "{\"caf\xc3\xa9\":2}", KV_INVALID, "unknown member 'caf\xc3\xa9'" },
		/* wrong types and bad keys */
		{ "{\"key\":\"k\",\"value\":1}", KV_INVALID,
		  "invalid key: key JSON: expected '[' at offset 0" },
		{ "{\"key\":[\"k\",{\"$bigint\":\"x\"}],\"value\":1}", KV_INVALID,
		  "invalid key: key JSON: bad $bigint value 'x'" },
		{ "{\"key\":[],\"value\":1}", KV_INVALID, "invalid key: key cannot be empty" },
		/* values the value reader refuses, with its own message */
		{ "{\"key\":[\"k\"],\"value\":{\"$nope\":1}}", KV_INVALID,
		  "invalid value: unknown tag '$nope' (a one-key object whose key starts with '$' is a tag;"
		  " a plain one is written {\"$object\":{...}})" },
		{ "{\"key\":[\"k\"],\"value\":{\"$u64\":\"-1\"}}", KV_INVALID,
		  "invalid value: '$u64' must be a decimal string in 0..18446744073709551615" },
		{ "{\"key\":[\"k\"],\"value\":\"\xff\"}", KV_INVALID,
		  "invalid value: invalid UTF-8 in JSON string at byte 1" },
		/* the key is checked before the value */
		{ "{\"key\":[],\"value\":{\"$nope\":1}}", KV_INVALID, "invalid key: key cannot be empty" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++)
		check_refused(rows[i].line, rows[i].rc, rows[i].msg);
}

static void test_entry__limits(void)
{
	size_t n = 80000;
	char *line = malloc(n + 100), *p;

	/* A key one byte over what a write accepts: ["..."] encodes as 02 s 00. */
	p = line + sprintf(line, "{\"key\":[\"");
	memset(p, 'a', KV_MAX_KEY_WRITE - 1);
	p += KV_MAX_KEY_WRITE - 1;
	strcpy(p, "\"],\"value\":1}");
	check_refused(line, KV_TOOBIG_KEY, "key too large for write (max 2048 bytes)");
	p[-1] = '"';
	strcpy(p - 1, "\"],\"value\":1}");
	{
		struct parsed ok = parse(line);
		CHECK_RC(ok.rc, KV_OK);
		CHECK(ok.key_len == KV_MAX_KEY_WRITE);
		parsed_free(&ok);
	}
	/* A value over 64 KiB once stored. */
	p = line + sprintf(line, "{\"key\":[\"k\"],\"value\":\"");
	memset(p, 'a', 70000);
	strcpy(p + 70000, "\"}");
	check_refused(line, KV_TOOBIG_VALUE, "Value too large (max 65536 bytes)");
	/* Nesting: a member is read as deep as a value's text may be, not deeper. */
	for (int depth = KV_MAX_JSON_DEPTH; depth <= KV_MAX_JSON_DEPTH + 1; depth++) {
		p = line + sprintf(line, "{\"versionstamp\":");
		memset(p, '[', (size_t) depth);
		memset(p + depth, ']', (size_t) depth);
		strcpy(p + 2 * depth, ",\"key\":[\"k\"]}");
		check_refused(line, KV_INVALID, depth == KV_MAX_JSON_DEPTH ? "missing \"value\"" : "invalid JSON");
	}
	free(line);
}

int main(void)
{
	RUN(test_entry__dump_lines);
	RUN(test_entry__expires_at);
	RUN(test_entry__malformed_lines);
	RUN(test_entry__limits);
	return DONE();
}
