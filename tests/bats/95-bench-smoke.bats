#!/usr/bin/env bats
# The benchmarks run in the suite with tiny sizes so they cannot silently
# break. Nothing here is timed: speed is measured by `make bench`.

load helpers

# the whole bench script in quick mode takes seconds, more under sanitizers
BATS_TEST_TIMEOUT=240

bench_bin() {
	if [ "${KVFS_BUILD:-build}" = build ]; then echo "$ROOT/bench/$1"; else echo "$ROOT/$KVFS_BUILD/bench/$1"; fi
}

phases="set get get_many list check_set sum atomic_1000 delete set_64"

check_lines() {
	# $1: impl; output in $output. Every phase prints one well-formed line.
	local p
	for p in $phases; do
		echo "$output" | jq -se --arg impl "$1" --arg p "$p" \
			'any(.[]; .phase == $p and .impl == $impl and .n > 0 and .seconds >= 0 and .ops_per_s > 0)' >/dev/null ||
			{ echo "no valid '$p' line for $1 in: $output" >&2; return 1; }
	done
}

@test "kvbench runs every phase on the engine and on raw SQLite" {
	for impl in kvfs sqlite; do
		run -0 timeout 120 "$(bench_bin kvbench)" --impl $impl "$BATS_TEST_TMPDIR/$impl.sqlite3" 50
		check_lines $impl
	done
	# the engine's database is still a sound Deno KV file
	run -0 sqlite3 "$BATS_TEST_TMPDIR/kvfs.sqlite3" "pragma integrity_check"
	[ "$output" = ok ]
	# the rename's commit, asked for by name: every key ends at its new name
	for impl in kvfs sqlite; do
		run -0 timeout 120 "$(bench_bin kvbench)" --impl $impl --only move "$BATS_TEST_TMPDIR/m-$impl.sqlite3" 50
		phases=move check_lines $impl
		[ "$(sqlite3 "$BATS_TEST_TMPDIR/m-$impl.sqlite3" "select count(*) from kv where hex(k) like '026D6F76656400%'")" = 50 ]
	done
}

@test "kvbench.ts runs every phase on Deno" {
	[ -x "${DENO_BIN:-}" ] || DENO_BIN=$ROOT/node_modules/.bin/deno
	run -0 timeout 120 "$DENO_BIN" run --unstable-kv -A "$ROOT/bench/kvbench.ts" \
		--batches 1 --conc 64 "$BATS_TEST_TMPDIR/deno.sqlite3" 50
	check_lines deno
}

@test "fsbench runs over a kvfs mount" {
	kvfs_mount
	run -0 timeout 120 "$(bench_bin fsbench)" --label kvfs --reps 1 --xattr user.kv.versionstamp "$MNT" 20
	[ -n "$output" ]
	# every line fsbench prints is JSON, and nothing it did was refused
	echo "$output" | jq -e . >/dev/null
	echo "$output" | jq -se 'all(.[]; has("error") | not)' >/dev/null
	for p in create stat read getxattr rename unlink; do
		echo "$output" | grep -q "\"phase\":\"$p" || { echo "no $p phase" >&2; false; }
	done
}

@test "bench/run.sh --quick runs every part and writes every table of its report" {
	[ -x "${DENO_BIN:-}" ] || DENO_BIN=$ROOT/node_modules/.bin/deno
	local bin=$ROOT
	[ "${KVFS_BUILD:-build}" = build ] || bin=$ROOT/$KVFS_BUILD
	run -0 timeout 300 env BENCH_WORK="$BATS_TEST_TMPDIR/work" \
		RESULTS="$BATS_TEST_TMPDIR/RESULTS.md" RUNS=1 DENO="$DENO_BIN" \
		KVBENCH="$(bench_bin kvbench)" FSBENCH="$(bench_bin fsbench)" KVFS="$KVFS_BIN" \
		sh "$ROOT/bench/run.sh" --quick
	local r=$BATS_TEST_TMPDIR/RESULTS.md
	for h in "## Engine" "## File system" "### What the durable commit adds" "## Listing"; do
		grep -q "^$h" "$r" || { echo "no '$h' section in:" >&2; cat "$r" >&2; false; }
	done
	# every engine phase and every file-system operation has a figure
	for p in set get get_many list check_set sum atomic_1000 delete set_64; do
		grep -Eq "^\| $p \| .* \| [0-9.]+ \([0-9.]+–[0-9.]+\) \|" "$r" ||
			{ echo "no figure for $p" >&2; false; }
	done
	for op in create unlink rename; do
		grep -Eq "^\| $op \| [0-9.]+ \| [0-9.]+ " "$r" || { echo "no commit row for $op" >&2; false; }
	done
	for op in 'one entry of readdir' 'one entry of `ls -l`'; do
		grep -Fq "| $op | " "$r" && grep -F "| $op | " "$r" | grep -Eq '\| [0-9.]+ \([0-9.]+–[0-9.]+\) \| [0-9.]+ \(' ||
			{ echo "no figures for $op" >&2; false; }
	done
	! grep -q "failed" "$r"
	# the mounts it made are gone
	! grep -q "$BATS_TEST_TMPDIR/work" /proc/mounts
}
