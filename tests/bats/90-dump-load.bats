#!/usr/bin/env bats
# kvfs dump / kvfs load: the database without mounting.

bats_require_minimum_version 1.5.0

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${KVFS_BIN:=$ROOT/kvfs}"

setup() {
	DB=$BATS_TEST_TMPDIR/db.sqlite3
	cd "$BATS_TEST_TMPDIR"
}

kvfs() {
	timeout 300 "$KVFS_BIN" "$@"
}

# A dump without its versionstamps, which every load changes.
dump_nostamp() {
	local rc=0
	kvfs dump "$@" >dump.out || rc=$?
	sed 's/,"versionstamp":"[0-9a-f]\{20\}"//' dump.out
	return $rc
}

@test "dump lists every entry in key order: bytes, strings, bigints, numbers, booleans" {
	cat >in.ndjson <<'LINES'
{"key":[true],"value":1}
{"key":["b"],"value":2}
{"key":[{"$bigint":"-1"}],"value":3}
{"key":[1.5],"value":4}
{"key":[{"$bytes":"AQ=="}],"value":5}
{"key":["a","z"],"value":6}
{"key":["a"],"value":7}
{"key":[false],"value":8}
{"key":[{"$number":"-Infinity"}],"value":9}
{"key":[""],"value":10}
{"key":["é"],"value":11}
{"key":["z"],"value":12}
{"key":[{"$bigint":"2"}],"value":13}
{"key":[{"$number":"NaN"}],"value":14}
{"key":[-1],"value":15}
{"key":[{"$bigint":"18446744073709551616"}],"value":16}
LINES
	kvfs load "$DB" <in.ndjson
	run -0 dump_nostamp "$DB"
	diff -u - <(echo "$output") <<'LINES'
{"key":[{"$bytes":"AQ=="}],"value":5}
{"key":[""],"value":10}
{"key":["a"],"value":7}
{"key":["a","z"],"value":6}
{"key":["b"],"value":2}
{"key":["z"],"value":12}
{"key":["é"],"value":11}
{"key":[{"$bigint":"-1"}],"value":3}
{"key":[{"$bigint":"2"}],"value":13}
{"key":[{"$bigint":"18446744073709551616"}],"value":16}
{"key":[{"$number":"-Infinity"}],"value":9}
{"key":[-1],"value":15}
{"key":[1.5],"value":4}
{"key":[{"$number":"NaN"}],"value":14}
{"key":[false],"value":8}
{"key":[true],"value":1}
LINES
	# every line carries a versionstamp, and the lines parse as JSON
	[ "$(grep -c ',"versionstamp":"[0-9a-f]\{20\}"}$' dump.out)" -eq 16 ]
	jq -e . dump.out >/dev/null
}

@test "dump PATH holds the key PATH names and the keys under it, nothing else" {
	printf '%s\n' '{"key":["a"],"value":1}' '{"key":["a","b"],"value":2}' \
		'{"key":["a","b","c"],"value":3}' '{"key":["ab"],"value":4}' \
		'{"key":["b"],"value":5}' '{"key":["n",1,{"$bigint":"2"},true],"value":6}' \
		'{"key":["n",1,{"$bigint":"2"}],"value":7}' '{"key":["n",{"$bigint":"1"}],"value":8}' \
		'{"key":["x","y"],"value":9}' >in.ndjson
	kvfs load "$DB" <in.ndjson

	run -0 dump_nostamp "$DB" a
	[ "$output" = '{"key":["a"],"value":1}
{"key":["a","b"],"value":2}
{"key":["a","b","c"],"value":3}' ]
	run -0 dump_nostamp "$DB" a/b/
	[ "$output" = '{"key":["a","b"],"value":2}
{"key":["a","b","c"],"value":3}' ]
	run -0 dump_nostamp "$DB" /n/1/2n
	[ "$output" = '{"key":["n",1,{"$bigint":"2"}],"value":7}
{"key":["n",1,{"$bigint":"2"},true],"value":6}' ]
	run -0 dump_nostamp "$DB" n/1n
	[ "$output" = '{"key":["n",{"$bigint":"1"}],"value":8}' ]
	# a prefix without its own value
	run -0 dump_nostamp "$DB" x
	[ "$output" = '{"key":["x","y"],"value":9}' ]
	# nothing there: no lines, no error
	run -0 --separate-stderr kvfs dump "$DB" nothing/here
	[ -z "$output" ] && [ -z "$stderr" ]
	# the whole key space
	run -0 kvfs dump "$DB"
	[ "${#lines[@]}" -eq 9 ]
	run -0 kvfs dump "$DB" /
	[ "${#lines[@]}" -eq 9 ]
}

@test "dump PATH that is not a valid path fails" {
	kvfs load "$DB" </dev/null
	run -1 --separate-stderr kvfs dump "$DB" 'a/"unterminated'
	[[ $stderr == "kvfs: dump: invalid path 'a/\"unterminated'"* ]]
	[ -z "$output" ]
}

@test "load sets the expiry from expires_at and dump shows it" {
	printf '%s\n' '{"key":["e"],"value":"x","expires_at":"2999-01-01T00:00:00.000Z"}' \
		'{"key":["f"],"value":"y","expires_at":null}' \
		'{"key":["g"],"value":"z","versionstamp":"7fffffffffffffff0000"}' >in.ndjson
	kvfs load "$DB" <in.ndjson
	run -0 kvfs dump "$DB"
	[ "${#lines[@]}" -eq 3 ]
	# expires_at is ISO 8601 as Date.toISOString writes it
	[[ ${lines[0]} =~ ^\{\"key\":\[\"e\"\],\"value\":\"x\",\"versionstamp\":\"[0-9a-f]{20}\",\"expires_at\":\"(2998-12-31T23:59|2999-01-01T00:00):[0-9]{2}\.[0-9]{3}Z\"\}$ ]]
	[[ ${lines[1]} =~ ^\{\"key\":\[\"f\"\],\"value\":\"y\",\"versionstamp\":\"[0-9a-f]{20}\"\}$ ]]
	# the versionstamp of the input is ignored
	[[ ${lines[2]} != *'"7fffffffffffffff0000"'* ]]
	# the stored expiry is within a minute of the one asked for
	ms=$(sqlite3 "$DB" "SELECT expiration_ms FROM kv WHERE k = x'026500'")
	want=32472144000000
	[ $((ms - want)) -lt 60000 ] && [ $((want - ms)) -lt 60000 ]
	[ "$(sqlite3 "$DB" "SELECT expiration_ms FROM kv WHERE k = x'026600'")" = -1 ]
}

@test "dump writes expires_at like Date.toISOString, six-digit years included" {
	printf '%s\n' '{"key":["a"],"value":1}' '{"key":["b"],"value":2}' '{"key":["c"],"value":3}' >in.ndjson
	kvfs load "$DB" <in.ndjson
	sqlite3 "$DB" "UPDATE kv SET expiration_ms = 8640000000000000 WHERE k = x'026100'"
	sqlite3 "$DB" "UPDATE kv SET expiration_ms = 253402300799999 WHERE k = x'026200'"
	sqlite3 "$DB" "UPDATE kv SET expiration_ms = 253402300800000 WHERE k = x'026300'"
	run -0 kvfs dump "$DB"
	[[ ${lines[0]} == *'"expires_at":"+275760-09-13T00:00:00.000Z"}' ]]
	[[ ${lines[1]} == *'"expires_at":"9999-12-31T23:59:59.999Z"}' ]]
	[[ ${lines[2]} == *'"expires_at":"+010000-01-01T00:00:00.000Z"}' ]]
	# and load reads them back (Deno's largest expiry is in year 262142)
	sqlite3 "$DB" "UPDATE kv SET expiration_ms = 8210266800000000 WHERE k = x'026100'"
	run -0 kvfs dump "$DB"
	[[ ${lines[0]} == *'"expires_at":"+262142-12-31T02:40:00.000Z"}' ]]
	kvfs dump "$DB" >first.ndjson
	kvfs load copy.sqlite3 <first.ndjson
	sqlite3 "$DB" 'SELECT expiration_ms FROM kv ORDER BY k' >want.txt
	sqlite3 copy.sqlite3 'SELECT expiration_ms FROM kv ORDER BY k' >got.txt
	[ "$(wc -l <got.txt)" -eq 3 ]
	paste want.txt got.txt | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 60000) exit 1 }'
}

@test "load of an entry whose expires_at has passed deletes the key" {
	printf '%s\n' '{"key":["x"],"value":1}' '{"key":["y"],"value":2}' >in.ndjson
	kvfs load "$DB" <in.ndjson
	printf '%s\n' '{"key":["x"],"value":3,"expires_at":"2000-01-01T00:00:00.000Z"}' >in.ndjson
	kvfs load "$DB" <in.ndjson
	run -0 dump_nostamp "$DB"
	[ "$output" = '{"key":["y"],"value":2}' ]
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM kv WHERE k = x'027800'")" = 0 ]
}

@test "load skips blank lines and accepts CRLF line ends" {
	printf '\n{"key":["a"],"value":1}\r\n   \n\t\n{"key":["b"],"value":[1,2]}  \n\n' >in.ndjson
	kvfs load "$DB" <in.ndjson
	run -0 dump_nostamp "$DB"
	[ "$output" = '{"key":["a"],"value":1}
{"key":["b"],"value":[1,2]}' ]
}

@test "a bad load line stops the load with its line number; nothing from it on is stored" {
	big=$(printf 'a%.0s' $(seq 70000))
	bad=(
		'{"key":["k",7],"value":}'
		'{"key":["k",7]}'
		'{"value":1}'
		'{"key":[],"value":1}'
		'{"key":["k",7],"value":{"$nope":1}}'
		'{"key":["k",7],"value":1,"expires_at":"tomorrow"}'
		'{"key":["k",7],"value":1,"expires_at":1700000000000}'
		'{"key":["k",7],"value":1,"extra":2}'
		'{"key":["k",7],"value":1,"value":2}'
		'not json'
		'["k",7]'
		"{\"key\":[\"k\",7],\"value\":\"$big\"}"
		'{"key":["k",{"$bigint":"x"}],"value":1}'
		'{"key":"k","value":1}'
		'{"key":["k",7],"value":1} trailing'
		'{"key":["k",7],"value":1}{"key":["k",8],"value":1}'
	)
	for line in "${bad[@]}"; do
		rm -f "$DB"*
		{
			for i in 1 2 3 4 5 6; do printf '{"key":["k",%d],"value":%d}\n' $i $i; done
			printf '%s\n' "$line"
			for i in 8 9 10; do printf '{"key":["k",%d],"value":%d}\n' $i $i; done
		} >in.ndjson
		run -1 --separate-stderr kvfs load "$DB" <in.ndjson
		echo "line: ${line:0:80}" >&2
		echo "stderr: $stderr" >&2
		[[ $stderr == "kvfs: load: line 7: "* ]]
		[ "$(echo "$stderr" | wc -l)" -eq 1 ]
		run -0 dump_nostamp "$DB"
		[ "$output" = "$(for i in 1 2 3 4 5 6; do printf '{"key":["k",%d],"value":%d}\n' $i $i; done)" ]
	done
}

@test "a bad line after several full groups keeps every line before it" {
	for n in 1001 2500; do
		rm -f "$DB"*
		{
			seq 1 $((n - 1)) | awk '{printf "{\"key\":[\"k\",%d],\"value\":%d}\n", $1, $1}'
			echo '{"key":["k"],"value":nope}'
			echo '{"key":["z"],"value":1}'
		} >in.ndjson
		run -1 --separate-stderr kvfs load "$DB" <in.ndjson
		[ "$stderr" = "kvfs: load: line $n: invalid JSON" ]
		run -0 kvfs dump "$DB"
		[ "${#lines[@]}" -eq $((n - 1)) ]
		[[ ${lines[$((n - 2))]} == "{\"key\":[\"k\",$((n - 1))],"* ]]
	done
}

@test "load commits large values in several groups" {
	# 40 values of 60000 bytes: far more than one commit may carry
	big=$(printf 'b%.0s' $(seq 60000))
	for i in $(seq 1 40); do printf '{"key":["big",%d],"value":"%s"}\n' $i "$big"; done >in.ndjson
	kvfs load "$DB" <in.ndjson
	run -0 kvfs dump "$DB"
	[ "${#lines[@]}" -eq 40 ]
	[ "$(sqlite3 "$DB" 'SELECT count(DISTINCT version) FROM kv')" -gt 1 ]
}

@test "load creates the database; a missing database is not created by dump" {
	run -1 --separate-stderr kvfs dump missing.sqlite3
	[ "$stderr" = "kvfs: dump: cannot open 'missing.sqlite3': No such file or directory" ]
	[ ! -e missing.sqlite3 ]
	echo '{"key":["a"],"value":1}' >in.ndjson
	kvfs load new.sqlite3 <in.ndjson
	[ "$(sqlite3 new.sqlite3 'SELECT version FROM migration_state')" = 3 ]
	run -0 dump_nostamp new.sqlite3
	[ "$output" = '{"key":["a"],"value":1}' ]
	# an empty file is an empty database, left as it is
	: >empty.sqlite3
	run -0 --separate-stderr kvfs dump empty.sqlite3
	[ -z "$output" ] && [ -z "$stderr" ]
	[ ! -s empty.sqlite3 ] && [ ! -e empty.sqlite3-wal ]
}

@test "dump and load refuse wrong arguments" {
	run -2 --separate-stderr kvfs dump
	[ "$stderr" = "usage: kvfs dump DATABASE [PATH]" ]
	run -2 --separate-stderr kvfs dump a b c
	[ "$stderr" = "usage: kvfs dump DATABASE [PATH]" ]
	run -2 --separate-stderr kvfs load
	[ "$stderr" = "usage: kvfs load DATABASE < FILE" ]
	run -2 --separate-stderr kvfs load a b
	[ "$stderr" = "usage: kvfs load DATABASE < FILE" ]
}

@test "dump reports a key or value that does not decode, goes on, and fails at the end" {
	printf '{"key":["%s"],"value":"%s"}\n' a a b b c c d d e e >in.ndjson
	kvfs load "$DB" <in.ndjson
	# an unknown V8 tag, a KvU64 that is not 8 bytes, an unknown encoding
	sqlite3 "$DB" "UPDATE kv SET v = x'FF10EE' WHERE k = x'026200'"
	sqlite3 "$DB" "UPDATE kv SET v = x'0102', v_encoding = 2 WHERE k = x'026300'"
	sqlite3 "$DB" "UPDATE kv SET v_encoding = 4 WHERE k = x'026400'"
	# and a key that does not decode (an unterminated string part)
	sqlite3 "$DB" "INSERT INTO kv (k, v, v_encoding, version) VALUES (x'0262', x'FF104902', 1, 1)"
	run -1 --separate-stderr dump_nostamp "$DB"
	[ "$output" = '{"key":["a"],"value":"a"}
{"key":["e"],"value":"e"}' ]
	[ "${#stderr_lines[@]}" -eq 4 ]
	[[ ${stderr_lines[0]} == 'kvfs: dump: cannot decode key 0x0262: '* ]]
	[[ ${stderr_lines[1]} == 'kvfs: dump: cannot decode the value of ["b"]: '* ]]
	[[ ${stderr_lines[2]} == 'kvfs: dump: cannot decode the value of ["c"]: '* ]]
	[[ ${stderr_lines[3]} == 'kvfs: dump: cannot decode the value of ["d"]: '* ]]
}

@test "a million-key dump streams in bounded memory" {
	# KVFS_DUMP_KEYS lowers the count for a quick run
	n=${KVFS_DUMP_KEYS:-1000000}
	[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (Debian package 'time')" >&2; false; }
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "{\"key\":[\"n\",%d],\"value\":{\"i\":%d,\"s\":\"value %d\"}}\n", i, i, i }' >in.ndjson
	kvfs load "$DB" <in.ndjson
	/usr/bin/time -v -o time.txt timeout 600 "$KVFS_BIN" dump "$DB" >dump.out
	[ "$(wc -l <dump.out)" -eq "$n" ]
	[[ $(tail -n 1 dump.out) == "{\"key\":[\"n\",$((n - 1))],\"value\":{\"i\":$((n - 1)),\"s\":\"value $((n - 1))\"},"* ]]
	rss=$(awk -F': *' '/Maximum resident set size/ { print $2 }' time.txt)
	echo "max RSS: $rss kB" >&2
	# a sanitizer build keeps freed memory in quarantine: no bound to check there
	[ "${KVFS_BUILD:-build}" != build ] || [ "$rss" -lt 65536 ]
}
