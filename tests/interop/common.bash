# common.bash - shared set-up of the interop tests (kvfs against the real Deno).
# Needs KVFS_BIN (the kvfs program), KVFS_BUILD (its build directory, for
# tests/tools) and DENO_BIN, as tests/run-all.sh exports them.

bats_require_minimum_version 1.5.0

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${KVFS_BIN:=$ROOT/kvfs}"
: "${KVFS_BUILD:=build}"
: "${DENO_BIN:=$ROOT/node_modules/.bin/deno}"
case $KVFS_BUILD in
/*) TOOLS=$KVFS_BUILD/tests/tools ;;
*) TOOLS=$ROOT/$KVFS_BUILD/tests/tools ;;
esac
INTEROP=$ROOT/tests/interop
export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1

common_setup() {
	[ -x "$KVFS_BIN" ] || { echo "KVFS_BIN '$KVFS_BIN' is not a program" >&2; return 1; }
	[ -x "$DENO_BIN" ] || { echo "DENO_BIN '$DENO_BIN' is not a program (tests/install-deps.sh installs it)" >&2; return 1; }
	DB=$BATS_TEST_TMPDIR/db.sqlite3
	cd "$BATS_TEST_TMPDIR" || return 1
}

# Run a Deno script of this folder: deno_run SCRIPT ARGS...
deno_run() {
	local script=$1; shift
	timeout 120 "$DENO_BIN" run --unstable-kv -A "$INTEROP/$script" "$@"
}

kvfs() {
	timeout 120 "$KVFS_BIN" "$@"
}
