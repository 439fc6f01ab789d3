#!/usr/bin/env bats
# A full disk: every change is refused with ENOSPC where the shell sees it,
# nothing stored changes, and writing works again once there is room.

load helpers

setup() {
	SMALL=$BATS_TEST_TMPDIR/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size=1m tmpfs "$SMALL"
	DB=$SMALL/db.sqlite3
	kvfs_mount
}

teardown() {
	kvfs_unmount
	umount "$SMALL" 2>/dev/null || umount -l "$SMALL"
	kvfs_log_clean
}

@test "on a full disk writes, rm, mv and setfattr fail with ENOSPC and store nothing; freed, writing works" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/b"
	before=$(rows)
	dd if=/dev/zero of="$SMALL/fill" bs=4k 2>/dev/null || true
	[ "$(stat -f -c %a "$MNT")" -lt 64 ]
	run -1 --separate-stderr t bash -c "echo 3 >'$MNT/c'"
	[[ $stderr == *"No space left on device"* ]]
	run -1 --separate-stderr t bash -c "echo 9 >'$MNT/a'"
	[[ $stderr == *"No space left on device"* ]]
	run -1 --separate-stderr t rm "$MNT/b"
	[[ $stderr == *"No space left on device"* ]]
	run -1 --separate-stderr t mv "$MNT/a" "$MNT/z"
	[[ $stderr == *"No space left on device"* ]]
	run -1 --separate-stderr t setfattr -n user.kv.expire_in -v 60000 "$MNT/a"
	[[ $stderr == *"No space left on device"* ]]
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'c': the disk holding the database is full" "$KVFS_LOG"
	# the commit's refusal carries a reason into the log, also for rm
	grep "cannot remove 'b'" "$KVFS_LOG" | grep -q ': [^ ]'
	run -0 t cat "$MNT/a"
	[ "$output" = 1 ]
	rm "$SMALL/fill"
	echo 3 >"$MNT/c"
	rm "$MNT/b"
	[ "$(dump | jq -c '[.key[0], .value]' | tr -d '\n')" = '["a",1]["c",3]' ]
}
