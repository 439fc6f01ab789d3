#!/usr/bin/env bats
# Random file operations on the mount and on an ordinary directory, side by
# side (tests/tools/model_check.py): every operation must answer the same
# (success or errno) and leave the same tree, alone and with several
# programs working at once, and inside a transaction; what was stored must
# survive a remount, and a transaction's commit must store its files.

load helpers

setup() {
	kvfs_mount
	MODEL=$BATS_TEST_TMPDIR/model
	mkdir -p "$MODEL"
}

check() {
	# $1: seed, $2: steps, $3: the directory to work in (default the mount)
	local dir=${3:-$MNT}
	mkdir "$dir/s$1" "$MODEL/s$1"
	timeout 120 python3 "$ROOT/tests/tools/model_check.py" "$dir/s$1" "$MODEL/s$1" "$1" "$2" \
		${3:+tx}
}

# every file under DIR with its content, one line each, sorted; not the
# dot-names, which kvfs keeps in memory while mounted
files() {
	(cd "$1" && find . -type f ! -name '.*' -print0 | sort -z | while IFS= read -r -d '' f; do
		printf '%s\t%s' "$f" "$(cat "$f")"; echo
	done)
}

@test "one program at a time: same answers and same tree as an ordinary directory" {
	for seed in 1 2 3 4 5 6; do
		run -0 check $seed 500
		[ "$output" = "ok $seed 500" ]
	done
}

@test "four programs at once, each in its own directory, then a remount keeps every file" {
	pids=""
	for seed in 11 12 13 14; do
		check $seed 400 >"$BATS_TEST_TMPDIR/out.$seed" 2>&1 &
		pids="$pids $!"
	done
	status=0
	for p in $pids; do wait "$p" || status=1; done
	for seed in 11 12 13 14; do
		[ "$(cat "$BATS_TEST_TMPDIR/out.$seed")" = "ok $seed 400" ] ||
			{ cat "$BATS_TEST_TMPDIR/out.$seed" >&2; false; }
	done
	[ $status -eq 0 ]
	files "$MODEL" >"$BATS_TEST_TMPDIR/model.files"
	[ -s "$BATS_TEST_TMPDIR/model.files" ]
	kvfs_unmount
	kvfs_mount
	files "$MNT" >"$BATS_TEST_TMPDIR/mount.files"
	diff -u "$BATS_TEST_TMPDIR/model.files" "$BATS_TEST_TMPDIR/mount.files"
}

@test "inside a transaction (no renames or dot-names there), then the commit stores exactly its files" {
	for seed in 21 22 23 24 25; do
		mkdir "$MNT/.tx/T"
		run -0 check $seed 150 "$MNT/.tx/T"
		[ "$output" = "ok $seed 150" ]
		# nothing of T is visible outside it before the commit
		[ ! -e "$MNT/s$seed" ]
		run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
		files "$MODEL/s$seed" >"$BATS_TEST_TMPDIR/model.files"
		files "$MNT/s$seed" >"$BATS_TEST_TMPDIR/mount.files" 2>/dev/null || true
		diff -u "$BATS_TEST_TMPDIR/model.files" "$BATS_TEST_TMPDIR/mount.files"
	done
}
