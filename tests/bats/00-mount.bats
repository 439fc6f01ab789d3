#!/usr/bin/env bats
# Mounting: arguments, foreground and daemon modes, clean unmounts.

load helpers

@test "mounts, lists an empty root, unmounts cleanly with fusermount3 -u" {
	kvfs_mount
	run -0 t ls -A "$MNT"
	[ -z "$output" ]
	grep -q " $MNT fuse.kvfs " /proc/mounts
	fusermount3 -u "$MNT"
	rc=0
	wait "$KVFS_PID" || rc=$?
	KVFS_PID=
	[ "$rc" -eq 0 ]
	! mountpoint -q "$MNT"
}

@test "everything closed before the unmount is stored" {
	kvfs_mount
	exec 4>"$MNT/k"
	echo '{"a":1}' >&4
	exec 4>&-
	echo 2 >"$MNT/n"
	kvfs_unmount
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 2 ]
}

@test "SIGTERM in the foreground unmounts cleanly and exits 0" {
	kvfs_mount
	echo 1 >"$MNT/x"
	kill -TERM "$KVFS_PID"
	rc=0
	wait "$KVFS_PID" || rc=$?
	KVFS_PID=
	[ "$rc" -eq 0 ]
	! mountpoint -q "$MNT"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
}

@test "-h and -V print help and versions" {
	run -0 "$KVFS_BIN" -h
	[[ $output == *"usage: "*"DATABASE MOUNTPOINT"* ]]
	[[ $output == *"timeout=SECS"* ]]
	[[ $output == *"poll_ms=MS"* ]]
	run -0 "$KVFS_BIN" --version
	[[ $output == *"kvfs version"* ]]
}

@test "bad arguments give one clear line and a non-zero exit" {
	mkdir -p "$MNT"
	run -1 --separate-stderr "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/no/such/dir/db" "$MNT"
	[ "$stderr" = "kvfs: cannot open database '$BATS_TEST_TMPDIR/no/such/dir/db': directory '$BATS_TEST_TMPDIR/no/such/dir' does not exist" ]
	run -1 --separate-stderr "$KVFS_BIN" -f "$DB" /etc/passwd
	[ "$stderr" = "kvfs: mountpoint '/etc/passwd' is not a directory" ]
	run -1 --separate-stderr "$KVFS_BIN" -f -o no_such_option "$DB" "$MNT"
	[[ $stderr == *"unknown option"*"no_such_option"* ]]
	run -1 --separate-stderr "$KVFS_BIN"
	[[ $stderr == "kvfs: missing DATABASE and MOUNTPOINT"* ]]
	# nothing was created by a refused start
	[ ! -e "$DB" ]
	! mountpoint -q "$MNT"
}

@test "daemon mode: returns once mounted, logs to syslog, unmounts with fusermount3 -u" {
	mkdir -p "$MNT"
	run -0 t "$KVFS_BIN" "$DB" "$MNT"
	mountpoint -q "$MNT"
	echo 5 >"$MNT/five"
	run -0 t cat "$MNT/five"
	[ "$output" = 5 ]
	fusermount3 -u "$MNT"
	# the daemon commits before it exits; wait for it to let the file go
	for i in $(seq 100); do
		pgrep -f "kvfs $DB $MNT" >/dev/null || break
		sleep 0.05
	done
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
}

# mount(8) runs helpers with a fixed PATH, so `mount -t fuse.kvfs` finds an
# installed kvfs only; mount.fuse3 is what it runs, with the same arguments.
@test "mount.fuse3 (mount -t fuse.kvfs) and mount -t fuse PROG#DB work with mount's options" {
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	mkdir -p "$MNT" "$BATS_TEST_TMPDIR/bin"
	ln -s "$KVFS_BIN" "$BATS_TEST_TMPDIR/bin/kvfs"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run -0 t mount.fuse3 "$DB" "$MNT" -t kvfs -o rw,dev,suid,nodev,nosuid,noatime
	mountpoint -q "$MNT"
	grep -q " $MNT fuse.kvfs rw,nosuid,nodev,noatime" /proc/mounts
	echo 1 >"$MNT/one"
	run -0 t cat "$MNT/one"
	[ "$output" = 1 ]
	umount "$MNT"
	run -0 t mount -t fuse "$KVFS_BIN#$DB" "$MNT" -o rw,exec,async
	run -0 t cat "$MNT/one"
	[ "$output" = 1 ]
	umount "$MNT"
}

@test "-o ro refuses writes with EROFS and stores nothing" {
	kvfs_mount
	echo 1 >"$MNT/a"
	kvfs_unmount
	before=$(rows)
	kvfs_mount -o ro
	run -1 --separate-stderr t bash -c "echo 2 > '$MNT/a'"
	[[ $stderr == *"Read-only file system"* ]]
	run -0 t cat "$MNT/a"
	[ "$output" = 1 ]
	kvfs_unmount
	[ "$(rows)" = "$before" ]
}
