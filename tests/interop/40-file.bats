#!/usr/bin/env bats
# The file itself: a database made by the engine is used by Deno with no
# migration, and Deno's queue rows survive the engine's writes untouched.

load common

setup() {
	common_setup
}

schema() {
	sqlite3 "$DB" '.schema' 'SELECT * FROM migration_state' 'PRAGMA journal_mode' \
		'PRAGMA page_size' 'PRAGMA user_version' 'PRAGMA application_id'
}

@test "a database made by kvfs is opened by Deno with no migration, and Deno writes and reads it" {
	cat >in.ndjson <<'LINES'
{"key":["a"],"value":{"n":1,"s":"é"}}
{"key":["b",2],"value":{"$u64":"7"}}
LINES
	kvfs load "$DB" <in.ndjson
	[ "$(sqlite3 "$DB" 'SELECT version FROM migration_state')" = 3 ]
	before=$(schema)

	run -0 deno_run compat.ts read-write "$DB"
	[ "$output" = ok ]
	[ "$(schema)" = "$before" ]

	run -0 kvfs dump "$DB"
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == '{"key":["a"],"value":{"n":1,"s":"é"},"versionstamp":"'* ]]
	[[ ${lines[1]} == '{"key":["b",2],"value":{"$u64":"7"},"versionstamp":"'* ]]
	[[ ${lines[2]} == '{"key":["deno"],"value":{"from":"deno","n":{"$bigint":"5"}},"versionstamp":"'* ]]
	[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ]
}

@test "a database made by Deno is dumped by kvfs" {
	run -0 deno_run compat.ts enqueue "$DB"
	run -0 kvfs dump "$DB"
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == '{"key":["made-by","deno"],"value":[1,2,3],"versionstamp":"'* ]]
}

@test "Deno's queue rows are byte-identical after kvfs writes" {
	deno_run compat.ts enqueue "$DB"
	q='SELECT ts, id, hex(data), backoff_schedule, hex(keys_if_undelivered), typeof(keys_if_undelivered) FROM queue'
	before=$(sqlite3 "$DB" "$q")
	[ -n "$before" ]
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM queue_running')" = 0 ]

	printf '{"key":["x",%d],"value":"v%d"}\n' 1 1 2 2 3 3 >in.ndjson
	kvfs load "$DB" <in.ndjson
	kvfs load "$DB" <in.ndjson

	[ "$(sqlite3 "$DB" "$q")" = "$before" ]
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM queue_running')" = 0 ]
	[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ]
	run -0 kvfs dump "$DB" x
	[ "${#lines[@]}" -eq 3 ]
	# and Deno still reads its own data and the new keys
	run -0 deno_run compat.ts check-after-load "$DB"
	[ "$output" = ok ]
}
