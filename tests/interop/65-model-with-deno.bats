#!/usr/bin/env bats
# The model check (tests/tools/model_check.py) on the mount while a Deno
# program keeps writing other keys of the same file: the mount's answers and
# trees must stay those of an ordinary directory, whatever Deno's commits and
# the invalidations they cause do meanwhile.

load common
load ../bats/helpers

setup() {
	common_setup
}

@test "four model checks on the mount agree with ordinary directories while Deno writes other keys" {
	kvfs load "$DB" </dev/null
	kvfs_mount
	deno_run hammer.ts "$DB" 8000 >deno.out 2>deno.err &
	dpid=$!
	pids=""
	for seed in 31 32 33 34; do
		mkdir "$MNT/s$seed" "model.$seed"
		timeout 120 python3 "$ROOT/tests/tools/model_check.py" "$MNT/s$seed" "model.$seed" \
			$seed 400 >"out.$seed" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || true; done
	dstatus=0
	wait $dpid || dstatus=$?
	cat deno.err >&2
	[ $dstatus -eq 0 ]
	for seed in 31 32 33 34; do
		[ "$(cat "out.$seed")" = "ok $seed 400" ] || { cat "out.$seed" >&2; false; }
	done
	# Deno really wrote meanwhile, and the mount shows its keys
	[ "$(cat deno.out)" -gt 100 ]
	run -0 t ls "$MNT/other"
	[ -n "$output" ]
}
