#!/usr/bin/env bats
# Editor and copy workflows: sed -i, jq > tmp && mv, vim, rsync, install.

load helpers

setup() {
	kvfs_mount
}

@test "sed -i edits a value" {
	echo '{"theme":"dark"}' >"$MNT/ada"
	t sed -i 's/dark/light/' "$MNT/ada"
	run -0 t cat "$MNT/ada"
	[ "$output" = '{"theme":"light"}' ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
	[ -z "$(ls -A "$MNT" | grep -v '^ada$')" ]
}

@test "jq ... > .f.tmp && mv .f.tmp f stores the new value in one commit" {
	echo '{"n":1}' >"$MNT/f"
	t jq '.n += 1' "$MNT/f" >"$MNT/.f.tmp"
	t mv "$MNT/.f.tmp" "$MNT/f"
	run -0 t jq -c . "$MNT/f"
	[ "$output" = '{"n":2}' ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
}

@test "vim -es edits a value (swap file stays in memory)" {
	command -v vim >/dev/null || skip "vim is not installed"
	echo '{"a":1}' >"$MNT/k"
	t vim -es -u NONE -c 's/1/2/' -c 'wq' "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = '{"a":2}' ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
}

@test "python writes in small chunks and reads back" {
	t python3 -c '
import sys
with open(sys.argv[1], "w", buffering=1) as f:
    for i in range(3000):
        f.write("[" if i == 0 else ",")
        f.write(str(i))
    f.write("]\n")
' "$MNT/big"
	run -0 t python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$MNT/big"
	[ "$output" = 3000 ]
}

@test "rsync -a and install write into the mount: a file not stored yet takes any mode" {
	src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src/d"
	echo '{"a":1}' >"$src/x"
	echo '[2]' >"$src/d/y"
	: >"$src/d/empty"
	chmod 664 "$src/d/y"
	run -0 t rsync -a "$src/" "$MNT/r/"
	[ "$(dump r | jq -c '[.key, .value]' | tr -d '\n')" = '[["r","d","y"],[2]][["r","x"],{"a":1}]' ]
	[ -f "$MNT/r/d/empty" ] && [ ! -s "$MNT/r/d/empty" ]
	run -0 t rsync -a "$src/" "$MNT/r/"      # again: nothing to do
	run -0 t install -m 644 "$src/x" "$MNT/inst"
	run -0 t cat "$MNT/inst"
	[ "$output" = '{"a":1}' ]
	[ "$(stat -c %a "$MNT/inst")" = 644 ]
	# cp -a of a group-writable file, new or over a stored one
	run -0 t cp -a "$src/d/y" "$MNT/cpa"
	run -0 t cp -a "$src/d/y" "$MNT/cpa"
	# rsync -aX out and back in carries the time-to-live, through its temporary dot-file
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/r/x"
	run -0 t rsync -aX "$MNT/r/" "$BATS_TEST_TMPDIR/back/"
	run -0 t rsync -aX "$BATS_TEST_TMPDIR/back/" "$MNT/r2/"
	[ "$(getfattr --absolute-names --only-values -n user.kv.expire_in "$MNT/r2/x")" -gt 3500000 ]
	run -1 t getfattr --absolute-names -n user.kv.expire_in "$MNT/r2/d/y"
	# a stored value keeps its fixed mode
	run -1 t chmod 600 "$MNT/r/x"
	run -1 t chmod 600 "$MNT/inst"
}
