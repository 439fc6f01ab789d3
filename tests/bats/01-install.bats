#!/usr/bin/env bats
# `make install` puts kvfs in $(PREFIX)/bin and the mount helper
# /sbin/mount.fuse.kvfs beside mount(8)'s others; then `mount -t fuse.kvfs`
# and an fstab line of type fuse.kvfs work. mount(8) runs its helpers with a
# fixed PATH, so this needs the real system paths: the test installs there
# only when nothing of that name exists, and removes what it installed.

load helpers

setup() {
	[ "$(id -u)" = 0 ] || skip "installing into the system needs root"
	if [ -e /usr/local/bin/kvfs ] || [ -e /sbin/mount.fuse.kvfs ] || [ -L /sbin/mount.fuse.kvfs ]; then
		skip "a kvfs is already installed; not replacing it"
	fi
	INSTALLED=1
	# what `make install` does (checked below), with the program under test
	install -m 755 "$KVFS_BIN" /usr/local/bin/kvfs
	ln -sf /usr/local/bin/kvfs /sbin/mount.fuse.kvfs
}

teardown() {
	kvfs_unmount_any
	if [ -n "${INSTALLED:-}" ]; then
		rm -f /usr/local/bin/kvfs /sbin/mount.fuse.kvfs
	fi
}

kvfs_unmount_any() {
	cd "$BATS_TEST_TMPDIR" || cd /
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	fi
}

@test "make install lays out the program and the mount helper under DESTDIR" {
	run -0 make -s -C "$ROOT" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local
	[ -x "$BATS_TEST_TMPDIR/root/usr/local/bin/kvfs" ]
	[ "$(readlink "$BATS_TEST_TMPDIR/root/sbin/mount.fuse.kvfs")" = /usr/local/bin/kvfs ]
}

@test "once installed, mount -t fuse.kvfs and an fstab line of type fuse.kvfs mount the database" {
	mkdir -p "$MNT"
	run -0 timeout 20 mount -t fuse.kvfs "$DB" "$MNT"
	grep -q " $MNT fuse.kvfs " /proc/mounts
	t mkdir "$MNT/p"
	echo 5 >"$MNT/p/x"
	run -0 t cat "$MNT/p/x"
	[ "$output" = 5 ]
	run -0 timeout 20 umount "$MNT"
	run -0 dump
	[ "$output" = "$(printf '%s' '{"key":["p","x"],"value":5,"versionstamp":')$(sqlite3 "$DB" "select '\"' || lower(printf('%016x', version)) || '0000\"}' from kv")" ]

	echo "$DB $MNT fuse.kvfs noauto,nofail 0 0" >"$BATS_TEST_TMPDIR/fstab"
	run -0 timeout 20 mount -T "$BATS_TEST_TMPDIR/fstab" "$MNT"
	grep -q " $MNT fuse.kvfs " /proc/mounts
	run -0 t cat "$MNT/p/x"
	[ "$output" = 5 ]
	run -0 timeout 20 umount "$MNT"
}
