#!/usr/bin/env bats
# Names: one path component = one key part, both ways.

load helpers

setup() {
	kvfs_mount
}

# Create NAME through the mount and print the stored key in hex.
key_of() {
	rm -f "$DB.keys"
	echo true >"$MNT/$1" || return 1
	sqlite3 "$DB" "select hex(k) from kv" >"$DB.keys"
	rm -f "$MNT/$1"
	cat "$DB.keys"
}

@test "names written through the mount become the table's key parts" {
	[ "$(key_of ada)" = 0261646100 ]
	[ "$(key_of '"42"')" = 02343200 ]
	[ "$(key_of '"true"')" = 027472756500 ]
	[ "$(key_of '".x"')" = 022E7800 ]
	[ "$(key_of '"a\u002fb"')" = 02612F6200 ]
	[ "$(key_of '""')" = 0200 ]
	[ "$(key_of 42)" = 21C045000000000000 ]
	[ "$(key_of -1.5)" = 214007FFFFFFFFFFFF ]
	[ "$(key_of -0)" = 217FFFFFFFFFFFFFFF ]
	[ "$(key_of NaN)" = 21FFF8000000000000 ]
	[ "$(key_of Infinity)" = 21FFF0000000000000 ]
	[ "$(key_of 42n)" = 152A ]
	[ "$(key_of -7n)" = 13F8 ]
	[ "$(key_of true)" = 27 ]
	[ "$(key_of false)" = 26 ]
	[ "$(key_of 0x0102ff)" = 010102FF00 ]
	[ "$(key_of 0x)" = 0100 ]
}

@test "keys stored by the engine are listed by their names, in key order" {
	# bytes < strings < bigints < numbers < booleans
	for k in 27 26 21C045000000000000 214007FFFFFFFFFFFF 152A 02343200 0261646100 010102FF00 0200 022E7800; do
		echo "insert into kv(k,v,v_encoding,version) values(x'$k', x'FF0F54', 1, 1);"
	done | sqlite3 "$DB"
	run -0 t ls -f "$MNT"
	expected=$(printf '%s\n' . .. 0x0102ff '""' '".x"' '"42"' ada 42n -1.5 42 false true)
	[ "$output" = "$expected" ]
}

@test "other spellings of a number reach the same key" {
	echo 7 >"$MNT/42"
	run -0 t cat "$MNT/42.0" "$MNT/4.2e1" "$MNT/42"
	[ "$output" = "$(printf '7\n7\n7')" ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
}

@test "an undecodable name: EINVAL on create, ENOENT on lookup, nothing stored" {
	run -1 --separate-stderr t bash -c "echo 1 > '$MNT/\"unterminated'"
	[[ $stderr == *"Invalid argument"* ]]
	run -1 --separate-stderr t cat "$MNT/\"unterminated"
	[[ $stderr == *"No such file or directory"* ]]
	[ -z "$(rows)" ]
	grep -q "cannot create '\"unterminated': not a valid key name" "$KVFS_LOG"
}

@test "a key over Deno's size limit is ENAMETOOLONG; statfs reports the name limit" {
	long=$(printf 'a%.0s' $(seq 2100))
	run -1 --separate-stderr t bash -c "echo 1 > '$MNT/$long'"
	[[ $stderr == *"File name too long"* ]]
	[ -z "$(rows)" ]
	grep -q "cannot look up '$long': the key would be longer than Deno's 2048 bytes" "$KVFS_LOG"
	# a long path: the log line keeps its reason
	mkdir "$MNT/$(printf 'd%.0s' $(seq 1500))"
	run -1 t bash -c "echo 1 > '$MNT/$(printf 'd%.0s' $(seq 1500))/$(printf 'f%.0s' $(seq 1000))'"
	[ -z "$(rows)" ]
	grep -q "cannot look up 'd*/f*': the key would be longer than Deno's 2048 bytes" "$KVFS_LOG"
	run -0 t stat -f -c %l "$MNT"
	[ "$output" -ge 255 ]
}

@test "the root's control names are reserved and dot-names never become keys" {
	run -0 t ls "$MNT/.tx" "$MNT/.commit" "$MNT/.watch"
	run -1 --separate-stderr t bash -c "echo 1 > '$MNT/.tx'"
	[[ $stderr == *"Is a directory"* ]]
	echo 1 >"$MNT/.scratch"
	run -0 t cat "$MNT/.scratch"
	[ "$output" = 1 ]
	[ -z "$(rows)" ]
	run -0 t ls -A "$MNT"
	[ "$output" = .scratch ]
	# they go with the mount, which says so (a copied .config.json would be lost quietly)
	mkdir "$MNT/proj"
	echo '{"a":1}' >"$MNT/proj/.config.json"
	: >"$MNT/proj/.lock"
	kvfs_unmount
	grep -q "dropping '.scratch' (2 bytes): a name starting with '.' is a scratch file" "$KVFS_LOG"
	grep -q "dropping 'proj/.config.json' (8 bytes)" "$KVFS_LOG"
	! grep -q "dropping 'proj/.lock'" "$KVFS_LOG"
	[ -z "$(rows)" ]
}

@test "two spellings of one key: removing or moving it by one, a write by the other is the new key's" {
	mkdir "$MNT/al"
	cd "$MNT/al"
	echo 1 >007
	run -0 t cat 007
	rm 7
	echo 2 >007
	run -0 t cat 7
	[ "$output" = 2 ]
	rm 007
	echo 3 >7
	run -0 t cat 007
	[ "$output" = 3 ]
	mv 7 8
	echo 44 >007
	run -0 t cat 8
	[ "$output" = 3 ]
	mv 007 '"x"'            # the string x, by its quoted spelling
	echo 5 >x
	run -0 t cat '"x"'
	[ "$output" = 5 ]
	echo '"s"' >abc
	run -0 t cat abc
	rm '"abc"'
	echo '"t"' >abc
	cd "$BATS_TEST_TMPDIR"
	[ "$(dump al | jq -c '[.key[1], .value]' | tr -d '\n')" = '["abc","t"]["x",5][8,3]' ]
}

@test "a refusal is one log line naming the whole path: control characters in a name are escaped" {
	mkdir "$MNT/memd"
	before=$(rows)
	run -1 t bash -c "echo 1 > \$'$MNT/memd/a\\nkvfs: forged'"
	run -1 t mkdir "$MNT/memd/0x123"
	[ "$(rows)" = "$before" ]
	grep -q "cannot create 'memd/a\\\\x0akvfs: forged': not a valid key name" "$KVFS_LOG"
	! grep -q "^kvfs: forged" "$KVFS_LOG"
	grep -q "cannot mkdir 'memd/0x123': not a valid key name" "$KVFS_LOG"
	run -1 t touch "$MNT/memd/0x$(printf '\302\205')"     # a raw C1 control (U+0085) in a bad name
	grep -q "cannot create 'memd/0x\\\\xc2\\\\x85': not a valid key name" "$KVFS_LOG"
	run -1 t touch "$MNT/memd/a$(printf '\377')b$(printf '\355\240\200')c"   # not UTF-8: a byte, a surrogate
	grep -q "cannot create 'memd/a\\\\xffb\\\\xed\\\\xa0\\\\x80c': not a valid key name" "$KVFS_LOG"
	[ "$(rows)" = "$before" ]
	# a value this mount cannot show (a Deno host object): EIO, and the log names its key
	sqlite3 "$DB" "insert into kv (k, v, v_encoding, version, expiration_ms) values (X'026800026200', X'FF0F5C00', 1, 1, -1)"
	run -1 --separate-stderr t cat "$MNT/h/b"
	[[ $stderr == *"Input/output error"* ]]
	grep -q "cannot read 'h/b': .*host object" "$KVFS_LOG"
}
