#!/usr/bin/env bats
# RegExp sources: kvfs stores exactly those V8 compiles, since Deno
# compiles a stored RegExp again to read it, and one it cannot compile
# makes kv.get and every kv.list over it throw.

load common
load ../bats/helpers

setup() {
	common_setup
}

@test "kvfs accepts exactly the RegExp sources and flags V8 accepts (differential, seeded)" {
	run -0 deno_run regexp-diff.ts "$TOOLS/regexp_verdicts" 30000 7
	echo "$output"
	[[ $output == "ok "*" patterns, "*" valid" ]]
}

@test "a RegExp V8 cannot compile is EINVAL through the mount, nothing stored, Deno lists the rest" {
	kvfs_mount
	echo '{"$regexp":{"source":"a+","flags":"g"}}' >"$MNT/good"
	before=$(rows)
	# cp reports what the close says (bash's echo does not)
	for bad in '{"source":"(","flags":""}' '{"source":"\\","flags":""}' \
		'{"source":"*","flags":""}' '{"source":"\\p{Foo}","flags":"u"}' \
		'{"source":"[^\\q{ab}]","flags":"v"}'; do
		printf '{"$regexp":%s}\n' "$bad" >bad.json
		run -1 --separate-stderr t cp bad.json "$MNT/bad"
		[[ $stderr == *"Invalid argument"* ]]
		printf '[{"$regexp":%s}]\n' "$bad" >bad.json
		run -1 --separate-stderr t cp bad.json "$MNT/good"
		[[ $stderr == *"Invalid argument"* ]]
		[ "$(rows)" = "$before" ]
	done
	grep -qF "cannot store 'bad': invalid JSON: '\$regexp' is not a valid regular expression: Unterminated group" "$KVFS_LOG"
	kvfs_unmount
	cat >list.ts <<'TS'
const kv = await Deno.openKv(Deno.args[0]);
for await (const e of kv.list({ prefix: [] })) console.log(JSON.stringify(e.key), String(e.value));
kv.close();
TS
	run -0 timeout 120 "$DENO_BIN" run --unstable-kv -A list.ts "$DB"
	[ "$output" = '["good"] /a+/g' ]
}
