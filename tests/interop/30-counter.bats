#!/usr/bin/env bats
# Two processes, Deno and the engine (tests/tools/counter.c), each add 1 to
# one KvU64 1000 times at the same time.

load common

setup() {
	common_setup
	[ -x "$TOOLS/counter" ] || { echo "missing $TOOLS/counter (make)" >&2; return 1; }
	# an existing empty database, so that neither process creates it
	kvfs load "$DB" </dev/null
}

@test "Deno and the engine add to one counter concurrently: 2000, increasing versionstamps" {
	timeout 300 "$TOOLS/counter" "$DB" 1000 c.ready d.ready >c.stamps 2>c.err &
	cpid=$!
	deno_run counter.ts "$DB" 1000 d.ready c.ready >d.stamps 2>d.err &
	dpid=$!
	cstatus=0 dstatus=0
	wait $cpid || cstatus=$?
	wait $dpid || dstatus=$?
	cat c.err d.err >&2
	[ $cstatus -eq 0 ]
	[ $dstatus -eq 0 ]

	# the total, seen by kvfs and by Deno
	run -0 kvfs dump "$DB" counter
	[[ $output == '{"key":["counter"],"value":{"$u64":"2000"},"versionstamp":"'* ]]
	run -0 deno_run dump.ts "$DB" '["counter"]'
	[[ $output == '{"key":["counter"],"value":{"$u64":"2000"},"versionstamp":"'* ]]

	# each process saw its own versionstamps strictly increase
	[ "$(wc -l <c.stamps)" -eq 1000 ]
	[ "$(wc -l <d.stamps)" -eq 1000 ]
	[ -z "$(grep -vE '^[0-9a-f]{20}$' c.stamps d.stamps)" ]
	LC_ALL=C sort -C -u c.stamps
	LC_ALL=C sort -C -u d.stamps
	# no versionstamp was given to two commits
	[ -z "$(LC_ALL=C sort c.stamps d.stamps | uniq -d)" ]
	# the row carries the last commit's versionstamp
	last=$(LC_ALL=C sort c.stamps d.stamps | tail -n 1)
	[[ $output == *"\"versionstamp\":\"$last\"}" ]]

	[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ]
}
