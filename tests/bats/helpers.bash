# helpers.bash - shared set-up of the mount tests: `load helpers` in a .bats file.
#
#   kvfs_mount [OPTIONS...]   mount $DB at $MNT in the foreground (daemon log: $KVFS_LOG)
#   kvfs_unmount              unmount $MNT and wait for the daemon (teardown does it too)
#   dump [PATH]               `kvfs dump $DB [PATH]`
#   rows                      every stored row as hex, for "nothing changed" checks
#   t CMD...                  run CMD with a timeout (anything that touches the mount)
#   mknod_mode PATH OCTAL     mknod(2) with that mode; prints the errno and fails on refusal
#
# Each test gets its own database and mountpoint under $BATS_TEST_TMPDIR,
# so `bats --jobs` works. FUSE is not optional: without /dev/fuse the
# tests fail with a clear message.

bats_require_minimum_version 1.5.0

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${KVFS_BIN:=$ROOT/kvfs}"
: "${BATS_TEST_TIMEOUT:=60}"
DB=$BATS_TEST_TMPDIR/db.sqlite3
MNT=$BATS_TEST_TMPDIR/mnt
KVFS_LOG=$BATS_TEST_TMPDIR/kvfs.log
KVFS_PID=

t() {
	timeout 20 "$@"
}

mknod_mode() {
	t python3 -c 'import os, sys
try:
    os.mknod(sys.argv[1], int(sys.argv[2], 8))
except OSError as e:
    print(e.errno); sys.exit(1)' "$@"
}

kvfs_mount() {
	[ -e /dev/fuse ] || { echo "kvfs tests: /dev/fuse is missing; the mount tests need FUSE" >&2; return 1; }
	[ -x "$KVFS_BIN" ] || { echo "kvfs tests: KVFS_BIN '$KVFS_BIN' is not a program" >&2; return 1; }
	mkdir -p "$MNT"
	# Keep bats' descriptors out of the daemon, or bats waits for it.
	"$KVFS_BIN" -f "$@" "$DB" "$MNT" </dev/null >>"$KVFS_LOG" 2>&1 3>&- &
	KVFS_PID=$!
	local i
	for i in $(seq 100); do
		if mountpoint -q "$MNT"; then
			return 0
		fi
		if ! kill -0 "$KVFS_PID" 2>/dev/null; then
			echo "kvfs exited before mounting:" >&2
			cat "$KVFS_LOG" >&2
			KVFS_PID=
			return 1
		fi
		sleep 0.05
	done
	echo "kvfs did not mount $MNT within 5 s" >&2
	return 1
}

kvfs_unmount() {
	cd "$BATS_TEST_TMPDIR" 2>/dev/null || cd /
	if mountpoint -q "$MNT" 2>/dev/null; then
		local i
		for i in $(seq 20); do
			fusermount3 -u "$MNT" 2>/dev/null && break
			sleep 0.1
		done
		mountpoint -q "$MNT" && fusermount3 -uz "$MNT"
	fi
	if [ -n "$KVFS_PID" ]; then
		local i
		for i in $(seq 100); do
			kill -0 "$KVFS_PID" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$KVFS_PID" 2>/dev/null; then
			echo "kvfs did not exit after unmount; killing $KVFS_PID" >&2
			kill -9 "$KVFS_PID"
		fi
		wait "$KVFS_PID" 2>/dev/null || true
		KVFS_PID=
	fi
}

# Sanitizer reports in the daemon's log are failures.
kvfs_log_clean() {
	! grep -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$KVFS_LOG" 2>/dev/null
}

teardown() {
	kvfs_unmount
	kvfs_log_clean
}

dump() {
	timeout 60 "$KVFS_BIN" dump "$DB" "$@"
}

load_lines() {
	timeout 300 "$KVFS_BIN" load "$DB"
}

rows() {
	sqlite3 "$DB" "select hex(k), hex(v), v_encoding, version, expiration_ms from kv order by k"
}

# The encoded key of a path, as stored: key_hex PATH (from the rows).
stored_keys() {
	sqlite3 "$DB" "select hex(k) from kv order by k"
}
