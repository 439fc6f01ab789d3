#!/usr/bin/env bats
# Watching: reading .watch/PATH streams one JSON line per change of the key,
# the first line at once; .watch/PREFIX/.all streams every change under it.
# Loops wait up to 5 s for a line: a bound, not a timing.

load helpers

WATCHERS=()

setup() {
	kvfs_mount
}

teardown() {
	local p
	for p in "${WATCHERS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${WATCHERS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	kvfs_unmount
	kvfs_log_clean
}

# watch PATH OUT: cat .watch/PATH into OUT in the background.
watch() {
	timeout 60 cat "$MNT/.watch/$1" >"$2" 2>&1 3>&- &
	WATCHERS+=($!)
}

# opened PATH: wait up to 5 s until a watcher has .watch/PATH open (.all
# streams only changes after the open, so there is no first line to wait for).
opened() {
	local i p
	for i in $(seq 50); do
		for p in "${WATCHERS[@]}"; do
			for p in $p $(pgrep -P "$p"); do
				find "/proc/$p/fd" -lname "*/.watch/$1" 2>/dev/null | grep -q . && return 0
			done
		done
		sleep 0.1
	done
	echo "nobody opened .watch/$1" >&2
	return 1
}

# lines_at_least N FILE: wait up to 5 s for N lines.
lines_at_least() {
	local i
	for i in $(seq 50); do
		[ "$(wc -l <"$2")" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "only $(wc -l <"$2") lines in $2:" >&2
	cat "$2" >&2
	return 1
}

@test "the first line is the key's current state, at once" {
	echo '{"a":1}' >"$MNT/k"
	vs=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/k")
	run -0 --separate-stderr t head -n 1 "$MNT/.watch/k"
	[ "$output" = "{\"key\":[\"k\"],\"value\":{\"a\":1},\"versionstamp\":\"$vs\"}" ]
	[ -z "$stderr" ]
	run -0 t head -n 1 "$MNT/.watch/absent"
	[ "$output" = '{"key":["absent"],"value":null,"versionstamp":null}' ]
	mkdir "$MNT/d"
	echo 2 >"$MNT/d/x"
	run -0 t head -n 1 "$MNT/.watch/d/x"
	[ "$(jq -c .key <<<"$output")" = '["d","x"]' ]
}

@test "a key below a directory made by mkdir can be watched before any key is there" {
	mkdir -p "$MNT/jobs/7"
	watch jobs/7/result "$BATS_TEST_TMPDIR/out"
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/out")" = '{"key":["jobs",7,"result"],"value":null,"versionstamp":null}' ]
	echo '"done"' >"$MNT/jobs/7/result"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/out" | jq -c .value)" = '"done"' ]
	run -1 t cat "$MNT/.watch/nowhere/result"    # not a directory anywhere
}

@test "a write through the mount adds a line" {
	echo 1 >"$MNT/k"
	watch k "$BATS_TEST_TMPDIR/out"
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	echo 2 >"$MNT/k"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	vs=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/k")
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/out")" = "{\"key\":[\"k\"],\"value\":2,\"versionstamp\":\"$vs\"}" ]
	rm "$MNT/k"
	lines_at_least 3 "$BATS_TEST_TMPDIR/out"
	[ "$(sed -n 3p "$BATS_TEST_TMPDIR/out")" = '{"key":["k"],"value":null,"versionstamp":null}' ]
}

@test "a write by another process adds a line" {
	watch k "$BATS_TEST_TMPDIR/out"
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	echo '{"key":["k"],"value":"from load"}' | load_lines
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/out" | jq -c .value)" = '"from load"' ]
}

@test "an expiry another writer set reaches the watchers when it passes" {
	echo 1 >"$MNT/k"
	watch k "$BATS_TEST_TMPDIR/out"
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	# as Deno's expireIn writes it: the row's expiration, a new version
	sqlite3 "$DB" "begin; update data_version set version = version + 1;
		update kv set expiration_ms = $(( $(date +%s%3N) + 1000 )),
			version = (select version from data_version); commit;"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	lines_at_least 3 "$BATS_TEST_TMPDIR/out"    # within 5 s, not the collector's minute
	[ "$(sed -n 3p "$BATS_TEST_TMPDIR/out")" = '{"key":["k"],"value":null,"versionstamp":null}' ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" = 0 ]
}

@test "a transaction's commit adds a line" {
	watch k "$BATS_TEST_TMPDIR/out"
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	mkdir "$MNT/.tx/T"
	echo 5 >"$MNT/.tx/T/k"
	mv "$MNT/.tx/T" "$MNT/.commit/T"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	vs=$(jq -r .versionstamp "$MNT/.commit/T")
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/out" | jq -r .versionstamp)" = "$vs" ]
}

@test "a while-read loop gets one line per change" {
	echo 1 >"$MNT/k"
	timeout 60 bash -c "n=0; while read -r line; do echo \"\$line\"; n=\$((n+1)); [ \$n = 2 ] && break; done <'$MNT/.watch/k'" \
		>"$BATS_TEST_TMPDIR/out" 3>&- &
	WATCHERS+=($!)
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	echo 2 >"$MNT/k"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	wait "${WATCHERS[0]}"
	[ "$(jq -c .value "$BATS_TEST_TMPDIR/out" | tr '\n' ' ')" = "1 2 " ]
}

@test "SIGINT and SIGTERM end a blocked read" {
	echo 1 >"$MNT/k"
	run -124 timeout -k 10 -s INT 1 cat "$MNT/.watch/k"
	[ "$output" = "$(head -n 1 "$MNT/.watch/k")" ]
	run -124 timeout -k 10 -s TERM 1 cat "$MNT/.watch/k"
	run -124 timeout -k 10 -s INT 1 cat "$MNT/.watch/k" "$MNT/.watch/k"
}

@test "12 blocked watchers do not stall the mount" {
	echo 0 >"$MNT/other"
	for i in $(seq 12); do
		watch "k$i" "$BATS_TEST_TMPDIR/out$i"
	done
	for i in $(seq 12); do
		lines_at_least 1 "$BATS_TEST_TMPDIR/out$i"
	done
	run -0 timeout 5 cat "$MNT/other"
	[ "$output" = 0 ]
	run -0 timeout 5 bash -c "echo 1 > '$MNT/k7'"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out7"
	run -0 timeout 5 ls "$MNT"
}

@test ".all streams every change under a prefix" {
	mkdir "$MNT/d"
	echo 0 >"$MNT/d/old"
	echo 0 >"$MNT/outside"
	watch d/.all "$BATS_TEST_TMPDIR/out"
	opened d/.all
	echo 1 >"$MNT/d/a"
	lines_at_least 1 "$BATS_TEST_TMPDIR/out"
	echo 1 >"$MNT/outside"
	mkdir "$MNT/d/sub"
	echo 2 >"$MNT/d/sub/b"
	lines_at_least 2 "$BATS_TEST_TMPDIR/out"
	rm "$MNT/d/old"
	lines_at_least 3 "$BATS_TEST_TMPDIR/out"
	echo '{"key":["d","c"],"value":3}' | load_lines
	lines_at_least 4 "$BATS_TEST_TMPDIR/out"
	run -0 jq -c '[.key, .value]' "$BATS_TEST_TMPDIR/out"
	[ "$output" = "$(printf '%s\n' '[["d","a"],1]' '[["d","sub","b"],2]' '[["d","old"],null]' '[["d","c"],3]')" ]
}

@test ".all over more keys than it keeps reports each change of a key past them once" {
	# 12,000 keys: past the 10,000 a watcher remembers, keys are judged by version
	python3 -c 'import json
for i in range(12000): print(json.dumps({"key": ["big", i], "value": i}))' | load_lines
	watch big/.all "$BATS_TEST_TMPDIR/out"
	opened big/.all
	for i in $(seq 10); do
		echo "$i" >"$MNT/big/3"
		echo "$i" >"$MNT/big/11500"
		lines_at_least $((2 * i)) "$BATS_TEST_TMPDIR/out"
	done
	sleep 1     # a duplicate would come with a later scan
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -eq 20 ]
	[ "$(sort -u "$BATS_TEST_TMPDIR/out" | wc -l)" -eq 20 ]
}

@test "the root listing, find and grep -r never enter .watch" {
	echo 1 >"$MNT/k"
	run -0 timeout 5 find "$MNT"
	[[ $output != *".watch"* && $output != *".tx"* && $output != *".commit"* ]]
	run -0 timeout 5 grep -r 1 "$MNT"
	[ "$output" = "$MNT/k:1" ]
	run -0 t ls "$MNT/.watch"
	[ "$output" = k ]
}

@test "poll, select and epoll: a watch file is ready only when a line waits for its reader" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/b"
	run -0 t python3 "$ROOT/tests/tools/watch_poll.py" "$MNT" select
	vb=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/b")
	[ "${lines[0]}" = "select before reading: a b" ]
	[ "${lines[1]}" = "first a: "'{"key":["a"],"value":1,"versionstamp":"'"$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/a")"'"}' ]
	[ "${lines[3]}" = "select after the first lines: 0" ]
	[ "${lines[4]}" = "epoll after the first lines: []" ]
	[ "${lines[5]}" = "epoll after a write of b: ['b']" ]
	[ "${lines[6]}" = "b: "'{"key":["b"],"value":22,"versionstamp":"'"$vb"'"}' ]
	[ "${lines[7]}" = "epoll after reading b: []" ]
	[ "${lines[8]}" = "key file: 1 1" ]
	[ "$(cat "$MNT/a")" = 1 ]
}

@test "edge-triggered epoll: every change wakes a reader that drained its watch file" {
	run -0 t python3 "$ROOT/tests/tools/watch_poll.py" "$MNT" edge
	[ "${lines[0]}" = "round 1: 1 event(s), 1 line(s)" ]
	[ "${lines[1]}" = "round 2: 1 event(s), 1 line(s)" ]
	[ "${lines[2]}" = "round 3: 1 event(s), 1 line(s)" ]
	[ "${lines[3]}" = "round 4: 1 event(s), 1 line(s)" ]
}

@test "O_NONBLOCK: a read at the end fails with EAGAIN; another process's change wakes poll" {
	echo 1 >"$MNT/a"
	vs1=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/a")
	printf '#!/bin/sh\necho %s | exec "%s" load "%s"\n' \
		"'{\"key\":[\"a\"],\"value\":\"from another process\"}'" "$KVFS_BIN" "$DB" \
		>"$BATS_TEST_TMPDIR/loader"
	chmod +x "$BATS_TEST_TMPDIR/loader"
	run -0 t python3 "$ROOT/tests/tools/watch_poll.py" "$MNT" nonblock "$BATS_TEST_TMPDIR/loader"
	[ "${lines[0]}" = 'first a: {"key":["a"],"value":1,"versionstamp":"'"$vs1"'"}' ]
	[ "${lines[1]}" = "read at the end: EAGAIN" ]
	[ "${lines[2]}" = ".all at the end: EAGAIN" ]
	[ "${lines[3]}" = "poll before the change: []" ]
	[ "${lines[4]}" = "poll after the change: a .all" ]
	vs=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/a")
	[ "${lines[5]}" = 'a: {"key":["a"],"value":"from another process","versionstamp":"'"$vs"'"}' ]
	[ "${lines[6]}" = '.all: {"key":["a"],"value":"from another process","versionstamp":"'"$vs"'"}' ]
}

@test "tail -f follows a watch file: the current line, then each change, the mount's and another process's" {
	echo 1 >"$MNT/a"
	out=$BATS_TEST_TMPDIR/tail.out all=$BATS_TEST_TMPDIR/tail.all
	timeout 20 tail -s 0.1 -f "$MNT/.watch/a" >"$out" 2>&1 &
	ta=$!
	timeout 20 tail -s 0.1 -n 5 -f "$MNT/.watch/.all" >"$all" 2>&1 &
	tall=$!
	none=$BATS_TEST_TMPDIR/tail.none
	timeout 20 tail -s 0.1 -n 0 -f "$MNT/.watch/.all" >"$none" 2>&1 &
	tnone=$!
	for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
	sleep 0.3
	echo 2 >"$MNT/a"
	echo 3 >"$MNT/b"
	printf '%s\n' '{"key":["a"],"value":"from another process"}' | "$KVFS_BIN" load "$DB"
	for _ in $(seq 100); do
		[ "$(wc -l <"$out")" -ge 3 ] && [ "$(wc -l <"$all")" -ge 3 ] && [ "$(wc -l <"$none")" -ge 3 ] && break
		sleep 0.1
	done
	kill "$ta" "$tall" "$tnone"
	run -0 jq -c '.value' "$out"
	[ "$output" = "$(printf '1\n2\n"from another process"')" ]
	run -0 jq -c '[.key[0], .value]' "$all"
	[ "$output" = "$(printf '["a",2]\n["b",3]\n["a","from another process"]')" ]
	# from the end of an .all with nothing yet: every byte, and it never shrinks
	run -0 jq -c '[.key[0], .value]' "$none"
	[ "$output" = "$(printf '["a",2]\n["b",3]\n["a","from another process"]')" ]
}
