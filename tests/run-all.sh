#!/bin/sh
# Run the test suites and print one closing line "N passed, N failed".
#   tests/run-all.sh            unit tests, then bats (features), then interop
#   tests/run-all.sh unit|bats|interop
# KVFS_BUILD selects the build directory (check-asan uses build-asan).
cd "$(dirname "$0")/.."
BUILD=${KVFS_BUILD:-build}
if [ "$BUILD" = build ]; then KVFS_BIN=$PWD/kvfs; else KVFS_BIN=$PWD/$BUILD/kvfs; fi
export KVFS_BIN KVFS_BUILD=$BUILD
export DENO_BIN=${DENO_BIN:-$PWD/node_modules/.bin/deno}
what=${1:-all}
log=$(mktemp)
status=0
# bats makes its run directories under TMPDIR: one of our own, so the check
# for leftover mounts below sees this run's mounts only
runtmp=$(mktemp -d)
export TMPDIR=$runtmp

if [ ! -e /dev/fuse ] && [ "$what" != unit ]; then
	echo "kvfs tests: /dev/fuse is missing; the mount tests need FUSE" >&2
	exit 1
fi

run_tap() {
	# $1: label; rest: command printing TAP
	label=$1; shift
	echo "== $label"
	"$@" >"$log.out" 2>&1
	rc=$?
	cat "$log.out"
	grep -E '^ok ' "$log.out" | grep -vc '# skip' >>"$log.pass"
	grep -cE '^not ok ' "$log.out" >>"$log.fail"
	if [ $rc -ne 0 ]; then
		status=1
		if ! grep -qE '^not ok ' "$log.out"; then
			echo "not ok - $label exited $rc" ; echo 1 >>"$log.fail"
		fi
	fi
}

: >"$log.pass"; : >"$log.fail"
if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_tap "unit $(basename "$t")" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = bats ]; then
	set -- tests/bats/*.bats
	[ -e "$1" ] && run_tap "bats" bats --tap "$@"
fi
if [ "$what" = all ] || [ "$what" = interop ]; then
	set -- tests/interop/*.bats
	[ -e "$1" ] && run_tap "interop" bats --tap "$@"
fi
if grep ' fuse.kvfs ' /proc/mounts | grep -qF " $runtmp/"; then
	echo "not ok - a kvfs mount made by the tests is still mounted:"
	grep ' fuse.kvfs ' /proc/mounts | grep -F " $runtmp/"
	echo 1 >>"$log.fail"
else
	rm -rf "$runtmp"
fi
passed=$(awk '{s+=$1} END {print s+0}' "$log.pass")
failed=$(awk '{s+=$1} END {print s+0}' "$log.fail")
rm -f "$log" "$log.out" "$log.pass" "$log.fail"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $status -eq 0 ]
