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

@test "df shows the space of the database's file system; a :memory: mount has none" {
	kvfs_mount
	run -0 t stat -f -c '%S %b' "$MNT"
	[ "$output" = "$(stat -f -c '%S %b' "$BATS_TEST_TMPDIR")" ]
	[ "${output#* }" -gt 0 ]
	run -0 t df "$MNT"
	kvfs_unmount
	DB=:memory:
	kvfs_mount
	run -0 t stat -f -c '%b %l' "$MNT"
	[ "$output" = "0 4095" ]
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
	for v in -1 99999999999999999999 abc ''; do
		run -1 --separate-stderr "$KVFS_BIN" -f -o "poll_ms=$v" "$DB" "$MNT"
		[[ $stderr == "kvfs: poll_ms must be a number of milliseconds up to 86400000"* ]]
	done
	for v in -5 nan inf 1e400 86401 abc 1abc 0x10 ''; do
		run -1 --separate-stderr "$KVFS_BIN" -f -o "timeout=$v" "$DB" "$MNT"
		[[ $stderr == "kvfs: timeout must be a number of seconds from 0 to 86400"* ]]
	done
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

@test "-o allow_other: other users read what the modes let them and change nothing" {
	d=$MNT
	while d=$(dirname "$d") && [ "$d" != / ]; do chmod o+x "$d"; done
	kvfs_mount -o allow_other
	grep " $MNT fuse.kvfs .*default_permissions" /proc/mounts
	echo 1 >"$MNT/a"
	mkdir "$MNT/d"
	echo 2 >"$MNT/d/x"
	before=$(rows)
	other() { t setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	run -0 other cat "$MNT/a" "$MNT/d/x"
	[ "$output" = "$(printf '1\n2')" ]
	run -0 other ls "$MNT/d"
	[ "$output" = x ]
	run -1 --separate-stderr other bash -c "echo 3 >'$MNT/a'"
	[[ $stderr == *"Permission denied"* ]]
	run -1 other bash -c "echo 4 >'$MNT/d/y'"
	run -1 other rm "$MNT/a"
	run -1 other mv "$MNT/a" "$MNT/b"
	run -1 other mkdir "$MNT/.tx/T"
	run -1 other setfattr -n user.kv.expire_in -v 1000 "$MNT/a"
	[ "$(rows)" = "$before" ]
	# shared, the modes shown are what lets others in: no directory mode changes
	run -1 t chmod 700 "$MNT/d"
	[ "$(stat -c %a "$MNT/d")" = 755 ]
	# transactions are the owner's alone: others neither see what T staged nor check in it
	mkdir "$MNT/.tx/T"
	echo '"secret"' >"$MNT/.tx/T/s"
	[ "$(stat -c %a "$MNT/.tx" "$MNT/.tx/T" "$MNT/.tx/T/s" "$MNT/.commit")" = "$(printf '700\n700\n600\n700')" ]
	run -1 other cat "$MNT/.tx/T/s"
	run -1 other cat "$MNT/.tx/T/a"
	run -2 other ls "$MNT/.tx"
	echo 5 >"$MNT/a"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/s"
	[ "$output" = '"secret"' ]
	run -0 other head -n 1 "$MNT/.watch/a"
	[[ $output == '{"key":["a"],"value":5,'* ]]
}

@test "unmount with an open file: busy, then lazy; nothing closed is lost" {
	kvfs_mount
	echo '{"closed":1}' >"$MNT/closed"
	# another process holds a written file open; a shell cannot be that
	# process, as its redirections close copies of the descriptor (a flush)
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"{\"open\":1}\n")
open(sys.argv[2], "w").close()
time.sleep(60)
' "$MNT/open" "$BATS_TEST_TMPDIR/ready" </dev/null 3>&- &
	holder=$!
	for i in $(seq 100); do [ -e "$BATS_TEST_TMPDIR/ready" ] && break; sleep 0.1; done
	[ -e "$BATS_TEST_TMPDIR/ready" ]
	# a mount in use cannot be unmounted, and the refusal changes nothing
	run -1 fusermount3 -u "$MNT"
	mountpoint -q "$MNT"
	[ "$(dump | jq -c .value)" = '{"closed":1}' ]
	# lazy: detached now; the daemon serves the open file until it closes
	fusermount3 -uz "$MNT"
	! mountpoint -q "$MNT"
	kill "$holder"
	wait "$holder" || true
	rc=0
	timeout 10 tail --pid="$KVFS_PID" -f /dev/null || rc=$?
	wait "$KVFS_PID" || rc=$?
	KVFS_PID=
	[ "$rc" -eq 0 ]
	run -0 dump
	[ "$(echo "$output" | jq -c .value | tr '\n' ' ')" = '{"closed":1} {"open":1} ' ]
}

# An fstab line with the program's path works before installing (mount(8)
# runs mount.fuse3 for type fuse); `fuse.kvfs` needs the installed
# /sbin/mount.fuse.kvfs, which runs kvfs with mount's arguments: fstab-only
# options such as noauto must not stop it.
@test "an fstab line mounts with mount -T FSTAB MOUNTPOINT; kvfs accepts fstab-only options" {
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 is not installed"
	mkdir -p "$MNT"
	echo "$KVFS_BIN#$DB $MNT fuse rw,noauto,nofail,_netdev 0 0" >"$BATS_TEST_TMPDIR/fstab"
	run -0 t mount -T "$BATS_TEST_TMPDIR/fstab" "$MNT"
	mountpoint -q "$MNT"
	echo 1 >"$MNT/one"
	umount "$MNT"
	# as /sbin/mount.fuse.kvfs DATABASE DIR -o OPTIONS
	run -0 t "$KVFS_BIN" "$DB" "$MNT" -o rw,defaults,noauto,nofail,_netdev,user,nosuid,nodev
	mountpoint -q "$MNT"
	run -0 t cat "$MNT/one"
	[ "$output" = 1 ]
	umount "$MNT"
}

# 2025-11-23: a relative DATABASE was opened relative to "/" (fuse_daemonize
# changes directory, in the foreground too), so `make run` wrote /kv.sqlite3.
@test "a relative DATABASE path is the file in the current directory" {
	cd "$BATS_TEST_TMPDIR"
	DB=rel.sqlite3 kvfs_mount
	echo 1 >"$MNT/k"
	kvfs_unmount
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/rel.sqlite3" 'select count(*) from kv')" -eq 1 ]
	[ ! -e /rel.sqlite3 ]
}

@test "a database file replaced or removed while mounted: every request fails with EIO, said once in the log" {
	kvfs_mount
	echo '"a"' >"$MNT/app"
	printf '%s\n' '{"key":["other"],"value":1}' | "$KVFS_BIN" load "$BATS_TEST_TMPDIR/new.sqlite3"
	mv "$BATS_TEST_TMPDIR/new.sqlite3" "$DB"
	rm -f "$DB-wal" "$DB-shm"
	# the daemon notices at its next look (poll_ms), or when a request opens the file
	sleep 0.5
	for cmd in "cat $MNT/app" "cat $MNT/other" "ls $MNT"; do
		run --separate-stderr t $cmd
		[ "$status" -ne 0 ]
		[[ $stderr == *"Input/output error"* ]]
	done
	run -1 --separate-stderr t bash -c "echo '\"w\"' > '$MNT/w'"
	[[ $stderr == *"Input/output error"* ]]
	[ "$(grep -c "the database file '.*' was replaced or removed while open" "$KVFS_LOG")" -eq 1 ]
	# the file now there is left as it was
	[ "$(dump | jq -c .key)" = '["other"]' ]
}

@test "a database file removed while mounted: writes fail with EIO instead of going nowhere" {
	kvfs_mount
	echo '"a"' >"$MNT/app"
	rm -f "$DB" "$DB-wal" "$DB-shm"
	sleep 0.5
	run -1 --separate-stderr t bash -c "echo '\"w\"' > '$MNT/w'"
	[[ $stderr == *"Input/output error"* ]]
	run -1 t cat "$MNT/app"
	grep -q "was replaced or removed while open" "$KVFS_LOG"
	[ ! -e "$DB" ]
}

@test "a database file that cannot be written is refused read-write, with a hint; -o ro mounts it" {
	printf '%s\n' '{"key":["a"],"value":1}' | "$KVFS_BIN" load "$DB"
	before=$(sqlite3 "$DB" 'select hex(k), hex(v), version from kv')
	chattr +i "$DB" || skip "chattr +i is not supported here"
	mkdir -p "$MNT"
	run -1 --separate-stderr t "$KVFS_BIN" -f "$DB" "$MNT"
	[[ $stderr == "kvfs: cannot open database '$DB': '$DB' cannot be written (mount it with -o ro to read it)" ]]
	! mountpoint -q "$MNT"
	kvfs_mount -o ro
	[ "$(t cat "$MNT/a")" = 1 ]
	kvfs_unmount
	chattr -i "$DB"
	[ "$(sqlite3 "$DB" 'select hex(k), hex(v), version from kv')" = "$before" ]
}

@test "a mount the kernel refuses leaves no database behind, and an existing one as it was" {
	mkdir -p "$MNT"
	# blksize is for block-device mounts only: the kernel refuses the mount
	run -1 --separate-stderr t "$KVFS_BIN" -f -o blksize=4096 "$BATS_TEST_TMPDIR/new.sqlite3" "$MNT"
	! mountpoint -q "$MNT"
	[ -z "$(ls "$BATS_TEST_TMPDIR" | grep new.sqlite3)" ]
	printf '%s\n' '{"key":["a"],"value":1}' | "$KVFS_BIN" load "$DB"
	before=$(sha256sum <"$DB")
	run -1 t "$KVFS_BIN" -f -o blksize=4096 "$DB" "$MNT"
	[ "$(sha256sum <"$DB")" = "$before" ]
}

@test "a database in a directory its user cannot write is refused with the reason, not -o ro" {
	mkdir -p "$MNT" "$BATS_TEST_TMPDIR/locked"
	printf '%s\n' '{"key":["a"],"value":1}' | "$KVFS_BIN" load "$BATS_TEST_TMPDIR/locked/db.sqlite3"
	chmod 666 "$BATS_TEST_TMPDIR/locked/db.sqlite3"
	chmod 755 "$BATS_TEST_TMPDIR/locked"
	d=$BATS_TEST_TMPDIR
	while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
	nobody() { t setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	run -1 --separate-stderr nobody "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/locked/db.sqlite3" "$MNT"
	[[ $stderr == *"its directory is not writable: copy the file elsewhere)" ]]
	[[ $stderr != *"-o ro"* ]]
	run -1 --separate-stderr nobody "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/locked/new.sqlite3" "$MNT"
	[[ $stderr == *"(its directory is not writable)" ]]
	[ ! -e "$BATS_TEST_TMPDIR/locked/new.sqlite3" ]
}

@test "a second kvfs mount on the same directory is refused, and creates nothing" {
	kvfs_mount
	echo 1 >"$MNT/k"
	run -1 --separate-stderr t "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/other.sqlite3" "$MNT"
	[[ $stderr == "kvfs: '$MNT' is already a kvfs mount (unmount it first)" ]]
	[ ! -e "$BATS_TEST_TMPDIR/other.sqlite3" ]
	[ "$(t cat "$MNT/k")" = 1 ]
	[ "$(grep -c " $MNT fuse.kvfs " /proc/self/mounts)" -eq 1 ]
}

@test "a database inside its mount point is refused before anything is made (the mount would hide it)" {
	mkdir -p "$BATS_TEST_TMPDIR/here/sub"
	cd "$BATS_TEST_TMPDIR/here"
	run -1 --separate-stderr t "$KVFS_BIN" -f kv.sqlite3 .
	[[ $stderr == "kvfs: the database '$PWD/kv.sqlite3' is inside the mount point '$PWD': the mount would hide it"* ]]
	run -1 --separate-stderr t "$KVFS_BIN" -f sub/kv.sqlite3 "$BATS_TEST_TMPDIR/here"
	[[ $stderr == *"is inside the mount point"* ]]
	ln -s "$BATS_TEST_TMPDIR/here" "$BATS_TEST_TMPDIR/link"
	run -1 --separate-stderr t "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/link/kv.sqlite3" "$BATS_TEST_TMPDIR/here"
	[[ $stderr == *"is inside the mount point"* ]]
	[ -z "$(ls "$BATS_TEST_TMPDIR/here/sub")" ] && [ "$(ls "$BATS_TEST_TMPDIR/here")" = sub ]
	! grep -q " $BATS_TEST_TMPDIR/here " /proc/self/mounts
	# the database file itself a link into the mount point
	echo '{"key":["k"],"value":1}' | "$KVFS_BIN" load "$BATS_TEST_TMPDIR/here/sub/kv.sqlite3"
	ln -s "$BATS_TEST_TMPDIR/here/sub/kv.sqlite3" "$BATS_TEST_TMPDIR/dblink"
	run -1 --separate-stderr t "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/dblink" "$BATS_TEST_TMPDIR/here/sub"
	[[ $stderr == *"is inside the mount point"* ]]
	rm "$BATS_TEST_TMPDIR/here/sub/kv.sqlite3"
	# a path through a link in the mount point that leads outside it: the file outside
	mkdir "$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$BATS_TEST_TMPDIR/here/sub/out"
	DB="$BATS_TEST_TMPDIR/here/sub/out/kv.sqlite3"
	MNT="$BATS_TEST_TMPDIR/here/sub"
	kvfs_mount
	echo 2 >"$MNT/k"
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/outside/kv.sqlite3" 'select count(*) from kv')" = 1 ]
	kvfs_unmount
	rm "$BATS_TEST_TMPDIR/here/sub/out"
	# beside it is fine: a mount point below the database's directory
	cd "$BATS_TEST_TMPDIR"
	DB="$BATS_TEST_TMPDIR/here/kv.sqlite3"
	MNT="$BATS_TEST_TMPDIR/here/sub"
	kvfs_mount
	echo 1 >"$MNT/k"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" = 1 ]
}

@test "a mount whose daemon was killed is named as such when mounting over it; after fusermount3 -u it mounts" {
	kvfs_mount
	echo 1 >"$MNT/k"
	kill -9 "$KVFS_PID"
	wait "$KVFS_PID" 2>/dev/null || true
	KVFS_PID=
	run --separate-stderr t "$KVFS_BIN" -f "$DB" "$MNT"
	fusermount3 -u "$MNT"
	[ "$status" -eq 1 ]
	[[ $stderr == *"is a mount whose daemon is gone (Transport endpoint is not connected); unmount it first: fusermount3 -u '$MNT'"* ]]
	kvfs_mount
	run -0 t cat "$MNT/k"
	[ "$output" = 1 ]
}

@test "a database damaged on disk: a listing that meets the damage is EIO, and the log says why" {
	for i in $(seq 5000); do printf '{"key":["d",%d],"value":"xxxxxxxxxxxxxxxxxxxx"}\n' "$i"; done |
		"$KVFS_BIN" load "$DB"
	sqlite3 "$DB" 'pragma wal_checkpoint(truncate)' >/dev/null
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(4096 * 30); f.write(b"\xff" * 4096 * 5)' "$DB"
	kvfs_mount
	run ! --separate-stderr t ls "$MNT/d"
	[[ $stderr == *"Input/output error"* ]]
	grep -q "cannot list 'd': .*malformed" "$KVFS_LOG"
}

@test "a database on a read-only file system: the refusal says -o ro cannot help" {
	mkdir -p "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/ro" "$MNT"
	printf '%s\n' '{"key":["a"],"value":1}' | "$KVFS_BIN" load "$BATS_TEST_TMPDIR/src/db.sqlite3"
	mount --bind "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/ro"
	mount -o remount,bind,ro "$BATS_TEST_TMPDIR/ro" || { umount "$BATS_TEST_TMPDIR/ro"; skip "no read-only bind mounts here"; }
	run --separate-stderr t "$KVFS_BIN" -f "$BATS_TEST_TMPDIR/ro/db.sqlite3" "$MNT"
	rw=$status rw_err=$stderr
	run --separate-stderr t "$KVFS_BIN" -f -o ro "$BATS_TEST_TMPDIR/ro/db.sqlite3" "$MNT"
	umount "$BATS_TEST_TMPDIR/ro"
	[ "$rw" -eq 1 ] && [ "$status" -eq 1 ]
	[[ $rw_err == *"its file system is read-only"*"copy the file elsewhere"* ]]
	[[ $rw_err != *"mount it with -o ro"* ]]
	[[ $stderr == *"its file system is read-only"* ]]
	! mountpoint -q "$MNT"
}

@test "make run's demo mounts ./kv.sqlite3 at ./kv, its suggestions work, and a second one leaves the first alone" {
	demo=$BATS_TEST_TMPDIR/demo
	mkdir -p "$demo/mount"
	cp "$ROOT/mount/run-demo.sh" "$demo/mount/"
	cp "$KVFS_BIN" "$demo/kvfs"
	sh "$demo/mount/run-demo.sh" >"$BATS_TEST_TMPDIR/demo.out" 2>&1 </dev/null 3>&- &
	first=$!
	for i in $(seq 100); do mountpoint -q "$demo/kv" && break; sleep 0.05; done
	mountpoint -q "$demo/kv"
	grep -q "mounting ./kv.sqlite3 at ./kv" "$BATS_TEST_TMPDIR/demo.out"
	# the commands it suggests, as printed
	cd "$demo"
	grep '^  ' "$BATS_TEST_TMPDIR/demo.out" | sed 's/ *#.*//' >"$BATS_TEST_TMPDIR/try.sh"
	run -0 t bash -e "$BATS_TEST_TMPDIR/try.sh"
	[[ $output == *'{"theme":"dark"}'* ]]
	[[ $output == *'user.kv.versionstamp="'* ]]
	# a second one says the first is there, and leaves it mounted
	run -1 --separate-stderr t sh "$demo/mount/run-demo.sh"
	[[ $stderr == *"./kv is mounted already"* ]]
	mountpoint -q "$demo/kv"
	[ "$(cat "$demo/kv/preferences/ada")" = '{"theme":"dark"}' ]
	cd "$BATS_TEST_TMPDIR"
	kill -TERM "$first"      # as Ctrl-C does in its terminal (a background job ignores SIGINT)
	wait "$first" || true
	! mountpoint -q "$demo/kv"
	[ "$(sqlite3 "$demo/kv.sqlite3" 'select count(*) from kv')" = 1 ]
}
