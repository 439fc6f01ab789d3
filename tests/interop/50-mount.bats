#!/usr/bin/env bats
# Deno and the mount, both ways: what Deno writes reads through the mount
# as dump.ts (Deno's own view) prints it, with Deno's versionstamps; what
# the shell writes through the mount Deno reads as the intended values;
# Deno writing while the file is mounted shows up in the mount.

load common
load ../bats/helpers

setup() {
	common_setup
}

# One dump line per file of the mount, built from cat and the xattrs.
mount_lines() {
	find "$MNT" -type f -print0 | while IFS= read -r -d '' f; do
		printf '{"key":%s,"value":%s,"versionstamp":"%s"}\n' \
			"$(t getfattr --absolute-names --only-values -n user.kv.key "$f")" \
			"$(t cat "$f")" \
			"$(t getfattr --absolute-names --only-values -n user.kv.versionstamp "$f")"
	done
}

@test "every key and value Deno wrote reads through the mount as Deno sees it" {
	deno_run write-all.ts "$DB"
	deno_run dump.ts "$DB" | sort >deno.out
	[ "$(wc -l <deno.out)" -gt 150 ]
	kvfs_mount
	mount_lines | sort >mount.out
	diff -u deno.out mount.out
}

@test "every \$ form written by the shell through the mount reads back in Deno" {
	# the names of the keys come from a mount of the same keys
	kvfs load names.sqlite3 <"$INTEROP/load-all.ndjson"
	DB=$BATS_TEST_TMPDIR/names.sqlite3 kvfs_mount
	(cd "$MNT" && find . -type f -print0 | while IFS= read -r -d '' f; do
		printf '%s\t%s\n' "$(t getfattr --absolute-names --only-values -n user.kv.key "$f")" "$f"
	done) >paths.tsv
	kvfs_unmount
	[ "$(wc -l <paths.tsv)" -eq "$(grep -c . "$INTEROP/load-all.ndjson")" ]
	# one file per line: its path and the value text as the line has it
	mkdir values
	python3 - "$INTEROP/load-all.ndjson" paths.tsv values <<'PY'
import json, sys
paths = {}
for row in open(sys.argv[2], encoding="utf-8", errors="surrogateescape"):
    key, path = row.rstrip("\n").split("\t", 1)
    paths[json.dumps(json.loads(key))] = path
out = open(sys.argv[3] + "/list", "w", encoding="utf-8", errors="surrogateescape")
for i, line in enumerate(open(sys.argv[1])):
    if not line.strip():
        continue
    d = json.loads(line)
    with open("%s/%d" % (sys.argv[3], i), "w") as f:
        f.write(json.dumps(d["value"]) + "\n")
    out.write("%d\t%s\n" % (i, paths[json.dumps(d["key"])]))
PY
	kvfs_mount
	while IFS=$'\t' read -r i path; do
		mkdir -p "$MNT/$(dirname "$path")"
		t cp "values/$i" "$MNT/$path"
	done <values/list
	kvfs_unmount
	run -0 deno_run check-load.ts "$DB"
	[ "$output" = ok ]
}

@test "a Set or Map written with repeated elements or keys reads the same in the mount and in Deno" {
	kvfs_mount
	mkdir "$MNT/dup"
	echo '{"$set":[1,1,{"$number":"NaN"},{"$number":"NaN"},0,{"$number":"-0"},"a","a",[1],[1]]}' >"$MNT/dup/set"
	echo '{"$map":[[1,2],[1,3],["x",1],[2,5],["x",9]]}' >"$MNT/dup/map"
	echo '[{"$map":[[{"$number":"-0"},1]]},{"$set":[{"$number":"-0"}]}]' >"$MNT/dup/zero"
	# as new Set(...) and new Map(...) make them: first place, last value, -0 as 0
	[ "$(t cat "$MNT/dup/set")" = '{"$set":[1,{"$number":"NaN"},0,"a",[1],[1]]}' ]
	[ "$(t cat "$MNT/dup/map")" = '{"$map":[[1,3],["x",9],[2,5]]}' ]
	[ "$(t cat "$MNT/dup/zero")" = '[{"$map":[[0,1]]},{"$set":[0]}]' ]
	mount_lines | sort >mount.out
	deno_run dump.ts "$DB" | sort >deno.out
	[ "$(wc -l <deno.out)" -eq 3 ]
	diff -u deno.out mount.out
}

@test "Deno writing while mounted shows up in the mount, a leaf turning into a directory too" {
	kvfs_mount
	cat >writer.ts <<'TS'
const kv = await Deno.openKv(Deno.args[0]);
const [what] = Deno.args.slice(1);
if (what === "set") await kv.set(["live"], { n: 1 });
if (what === "update") await kv.set(["live"], { n: 2 });
if (what === "child") await kv.set(["live", "child"], 7n);
kv.close();
TS
	run -1 t cat "$MNT/live"
	timeout 120 "$DENO_BIN" run --unstable-kv -A writer.ts "$DB" set
	wait_cat "$MNT/live" '{"n":1}'
	timeout 120 "$DENO_BIN" run --unstable-kv -A writer.ts "$DB" update
	wait_cat "$MNT/live" '{"n":2}'
	timeout 120 "$DENO_BIN" run --unstable-kv -A writer.ts "$DB" child
	wait_cat "$MNT/live/child" '{"$bigint":"7"}'
	run -0 t cat "$MNT/live/.value"
	[ "$output" = '{"n":2}' ]
}

# wait_cat FILE TEXT: the documented bound is 1 s; wait up to 5 s.
wait_cat() {
	local i
	for i in $(seq 50); do
		[ "$(t cat "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	[ "$(t cat "$1")" = "$2" ]
}

@test "an error inside its own cause reads through the mount and, written back, is the same to Deno" {
	cat >errors.ts <<'TS'
const kv = await Deno.openKv(Deno.args[0]);
if (Deno.args[1] === "write") {
	const e = new Error("a"); e.cause = e;
	const f = new TypeError("b"); f.cause = [f];
	const g = new Error("c"); g.cause = { e: g };
	await kv.set(["e"], e); await kv.set(["f"], f); await kv.set(["g"], g);
} else {
	// deno-lint-ignore no-explicit-any
	const get = async (k: string) => (await kv.get([k])).value as any;
	const e = await get("e2"), f = await get("f2"), g = await get("g2");
	console.log(e instanceof Error && e.cause === e && e.message === "a",
		f instanceof TypeError && f.cause[0] === f, g.cause.e === g);
}
kv.close();
TS
	timeout 120 "$DENO_BIN" run --unstable-kv -A errors.ts "$DB" write
	kvfs_mount
	for k in e f g; do
		t cat "$MNT/$k" >"$k.json"
		t cp "$k.json" "$MNT/${k}2"
	done
	grep -q '"cause":{"$ref":0}' e.json
	kvfs_unmount
	# the same bytes as Deno's but for the header (FF 10 there, FF 0F here)
	val() { sqlite3 "$DB" "select substr(hex(v), 5) from kv where hex(k) = '02' || hex('$1') || '00'"; }
	for k in e f g; do
		[ -n "$(val $k)" ]
		[ "$(val $k)" = "$(val ${k}2)" ]
	done
	run -0 timeout 120 "$DENO_BIN" run --unstable-kv -A errors.ts "$DB" check
	[ "$output" = "true true true" ]
}

# Each read handle shows one whole value, the one it opened: not cut or
# padded to the size of a value Deno committed while it read.
# while_deno_rewrites READER ARGS...: mount, and run READER (which must
# succeed) while Deno sets ["k"] again and again for 4 s.
while_deno_rewrites() {
	kvfs_mount
	echo '{}' >"$MNT/k"
	deno_run rewrite.ts "$DB" 4000 >writes &
	local writer=$!
	run -0 timeout 60 "$@"
	echo "$output"
	wait "$writer"
	[ "$(cat writes)" -gt 100 ]
}

@test "reads through the mount are whole values while Deno rewrites the key" {
	while_deno_rewrites python3 "$ROOT/tests/tools/read_whole.py" "$MNT/k" 3
}

# Node's readFileSync reads as many bytes as fstat said: the read from the
# start shows the value of that size, though Deno committed another since
# the open.
@test "Node's readFileSync gets whole values while Deno rewrites the key" {
	while_deno_rewrites node "$ROOT/tests/tools/read_sized.js" "$MNT/k" 3
}

# setfattr and mv ask for no check: a value Deno rewrites in between is
# read again and the operation retried, never refused.
@test "setfattr and mv of a key Deno keeps rewriting succeed every time" {
	kvfs_mount
	echo '{}' >"$MNT/k"
	deno_run rewrite.ts "$DB" 4000 >writes &
	local writer=$! i failed=0
	sleep 0.5
	for i in $(seq 100); do
		setfattr -n user.kv.expire_in -v 3600000 "$MNT/k" 2>>errors || failed=$((failed + 1))
		mv "$MNT/k" "$MNT/moved" 2>>errors || failed=$((failed + 1))
		mv "$MNT/moved" "$MNT/k" 2>>errors || { [ -e "$MNT/k" ] || failed=$((failed + 1)); }
	done
	wait "$writer"
	cat errors
	[ "$failed" = 0 ]
	! grep -q -e 'temporarily unavailable' -e 'not supported' errors
}
