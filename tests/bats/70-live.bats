#!/usr/bin/env bats
# Changes by other writers show in the mount within max(timeout, poll_ms),
# 1 s by default. The loops below wait up to 5 s: a bound, not a timing.

load helpers

setup() {
	kvfs_mount
}

# Another writer: SQLite directly, moving data_version as every commit does.
external() {
	sqlite3 "$DB" "begin; $1; update data_version set version = version + 1;
		update kv set version = (select version from data_version) where version = -1; commit;"
}

# wait_for CMD...: retry CMD for up to 5 s.
wait_for() {
	local i
	for i in $(seq 50); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

cat_is() {
	[ "$(t cat "$1" 2>/dev/null)" = "$2" ]
}

@test "a value changed by another writer shows up in cat and stat" {
	echo 1 >"$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = 1 ]
	external "update kv set v = x'FF0F498401', version = -1"   # 66, one byte longer
	wait_for cat_is "$MNT/k" 66
	[ "$(stat -c %s "$MNT/k")" -eq 3 ]
}

# fstat_until PATH SIZE: hold PATH open and fstat it (a GETATTR kvfs may
# answer from memory) until its size is SIZE; up to 5 s. Prints the last size.
fstat_until() {
	t python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(50):
    size = os.fstat(fd).st_size
    if size == int(sys.argv[2]):
        break
    time.sleep(0.1)
print(size)' "$@"
}

@test "fstat of an open file sees another writer's change, though kvfs answered it from memory before" {
	echo 1 >"$MNT/k"
	run -0 fstat_until "$MNT/k" 2
	[ "$output" = 2 ]
	(sleep 0.3; external "update kv set v = x'FF0F498401', version = -1") &   # 66
	run -0 fstat_until "$MNT/k" 3
	wait $!
	[ "$output" = 3 ]
}

@test "an expiry another writer set shows at once when it passes, though kvfs answered getattr from memory" {
	kvfs_unmount
	kvfs_mount -o timeout=0.01    # the kernel keeps attributes 10 ms: fstat asks kvfs
	echo 1 >"$MNT/k"
	# the engine's collector learns of this expiry only when it next looks
	# (3 s: room for a slow start of python on a busy machine)
	external "update kv set version = -1, expiration_ms = $(( $(date +%s%3N) + 3000 ))"
	run -0 t python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
time.sleep(0.5)                # past the poll: what kvfs remembers is this version
print(os.fstat(fd).st_size, os.fstat(fd).st_size)
time.sleep(2.8)
print(os.fstat(fd).st_size)    # expired while open: an empty file' "$MNT/k"
	[ "${lines[0]}" = "2 2" ]
	[ "${lines[1]}" = 0 ]
	run -1 t stat "$MNT/k"
}

@test "keys added and removed by another writer appear and vanish" {
	mkdir "$MNT/d"
	echo 1 >"$MNT/d/a"
	ls "$MNT/d" >/dev/null
	external "insert into kv(k,v,v_encoding,version) values(x'026400026200', x'FF0F4904', 1, -1)"
	wait_for cat_is "$MNT/d/b" 2
	external "delete from kv where k = x'026400026100'"
	wait_for test ! -e "$MNT/d/a"
	run -0 t ls "$MNT/d"
	[ "$output" = b ]
}

@test "a leaf becomes a directory and back" {
	echo 1 >"$MNT/k"
	[ -f "$MNT/k" ]
	external "insert into kv(k,v,v_encoding,version) values(x'026B00026300', x'FF0F4904', 1, -1)"
	wait_for test -d "$MNT/k"
	run -0 t cat "$MNT/k/.value" "$MNT/k/c"
	[ "$output" = "$(printf '1\n2')" ]
	external "delete from kv where k = x'026B00026300'"
	wait_for test -f "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = 1 ]
}

@test "a second mount of the same file sees the first one's writes" {
	echo 1 >"$MNT/k"
	MNT2=$BATS_TEST_TMPDIR/mnt2
	mkdir "$MNT2"
	"$KVFS_BIN" -f "$DB" "$MNT2" </dev/null >>"$KVFS_LOG" 2>&1 3>&- &
	pid2=$!
	wait_for mountpoint -q "$MNT2"
	run -0 t cat "$MNT2/k"
	[ "$output" = 1 ]
	echo 2 >"$MNT/k"
	wait_for cat_is "$MNT2/k" 2
	echo 3 >"$MNT2/k"
	wait_for cat_is "$MNT/k" 3
	fusermount3 -u "$MNT2"
	wait "$pid2"
}

@test "behind another process's write lock, every waiting commit fails with EBUSY within its own 30 s" {
	# one commit per directory: the kernel itself queues changes within one
	mkdir "$MNT/d1" "$MNT/d2"
	echo 1 >"$MNT/d1/a"
	echo 1 >"$MNT/d2/b"
	before=$(rows)
	# another process holds the write lock (Deno stopped in a commit, say)
	python3 -c 'import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(45)' "$DB" >"$BATS_TEST_TMPDIR/locker.out" &
	locker=$!
	for i in $(seq 50); do grep -q locked "$BATS_TEST_TMPDIR/locker.out" && break; sleep 0.1; done
	mkdir "$MNT/.tx/T"
	echo 2 >"$MNT/.tx/T/c"
	start=$(date +%s)
	# three commits queued one behind the other: a delete, a rename, a transaction
	( rc=0; rm "$MNT/d1/a" 2>"$BATS_TEST_TMPDIR/rm.err" || rc=$?
	  echo "rm $rc $(( $(date +%s) - start ))" >"$BATS_TEST_TMPDIR/rm.out" ) &
	p1=$!
	sleep 0.5
	( rc=0; mv "$MNT/d2/b" "$MNT/d2/b2" 2>"$BATS_TEST_TMPDIR/mv.err" || rc=$?
	  echo "mv $rc $(( $(date +%s) - start ))" >"$BATS_TEST_TMPDIR/mv.out" ) &
	p2=$!
	sleep 0.5
	( rc=0; mv "$MNT/.tx/T" "$MNT/.commit/T" 2>"$BATS_TEST_TMPDIR/tx.err" || rc=$?
	  echo "tx $rc $(( $(date +%s) - start ))" >"$BATS_TEST_TMPDIR/tx.out" ) &
	p3=$!
	wait $p1 $p2 $p3 || true
	kill $locker 2>/dev/null || true
	wait $locker 2>/dev/null || true
	for op in rm mv tx; do
		read -r name rc secs <"$BATS_TEST_TMPDIR/$op.out"
		echo "$name: exit $rc after $secs s: $(cat "$BATS_TEST_TMPDIR/$op.err")" >&2
		[ "$rc" -ne 0 ]
		grep -q "Device or resource busy" "$BATS_TEST_TMPDIR/$op.err"
		# each within its own 30 s (and a margin), not 30 s after the one before it
		[ "$secs" -le 40 ]
	done
	[ "$(rows)" = "$before" ]
	# one log line each, with the reason once
	grep -q "cannot remove 'd1/a': .*database is locked" "$KVFS_LOG"
	grep -q "cannot rename 'd2/b': .*database is locked" "$KVFS_LOG"
	grep -q "cannot commit '.tx/T': .*database is locked" "$KVFS_LOG"
	! grep -q "locked.*locked" "$KVFS_LOG"
}
