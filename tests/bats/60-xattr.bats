#!/usr/bin/env bats
# Extended attributes: versionstamp, key, expiry.

load helpers

setup() {
	kvfs_mount
}

@test "user.kv.versionstamp is the stored version; it is read-only" {
	echo 1 >"$MNT/k"
	v=$(sqlite3 "$DB" 'select version from kv')
	run -0 t getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/k"
	[ "$output" = "$(printf '%016x0000' "$v")" ]
	before=$(rows)
	run -1 --separate-stderr t setfattr -n user.kv.versionstamp -v 00000000000000010000 "$MNT/k"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 t setfattr -x user.kv.versionstamp "$MNT/k"
	[ "$(rows)" = "$before" ]
	grep -q "cannot set user.kv.versionstamp on 'k': read-only attribute" "$KVFS_LOG"
}

@test "user.kv.key on files and directories" {
	mkdir "$MNT/users"
	echo 1 >"$MNT/users/42"
	run -0 t getfattr --absolute-names --only-values -n user.kv.key "$MNT/users/42"
	[ "$output" = '["users",42]' ]
	run -0 t getfattr --absolute-names --only-values -n user.kv.key "$MNT/users"
	[ "$output" = '["users"]' ]
}

@test "user.kv.expire_in sets a time-to-live; expires_at shows it; removing drops it" {
	echo 1 >"$MNT/k"
	run -1 t getfattr --absolute-names -n user.kv.expires_at "$MNT/k"
	[[ $output == *"No such attribute"* ]]
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/k"
	exp=$(sqlite3 "$DB" 'select expiration_ms from kv')
	[ "$exp" -gt 0 ]
	run -0 t getfattr --absolute-names --only-values -n user.kv.expires_at "$MNT/k"
	[ "$output" = "$(date -u -d "@$((exp / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf %03d $((exp % 1000)))Z" ]
	run -0 t cat "$MNT/k"
	[ "$output" = 1 ]
	t setfattr -x user.kv.expires_at "$MNT/k"
	[ "$(sqlite3 "$DB" 'select expiration_ms from kv')" -eq -1 ]
	before=$(rows)
	# only digits: no word, sign, space before, fraction or exponent (EINVAL)
	for bad in soon -5 +100 ' 100' 1.5 1e3 ''; do
		run -1 t python3 -c 'import os, sys
try:
    os.setxattr(sys.argv[1], "user.kv.expire_in", sys.argv[2].encode())
except OSError as e:
    print(e.errno); sys.exit(1)' "$MNT/k" "$bad"
		[ "$output" = 22 ]
	done
	[ "$(rows)" = "$before" ]
	t setfattr -n user.kv.expire_in -v '3600000 ' "$MNT/k"      # trailing blanks are fine
	[ "$(sqlite3 "$DB" 'select expiration_ms > 0 from kv')" -eq 1 ]
	# expires_at is read-only; setfattr -x user.kv.expire_in drops the expiry too
	before=$(rows)
	run -1 --separate-stderr t setfattr -n user.kv.expires_at -v 2030-01-01T00:00:00.000Z "$MNT/k"
	[[ $stderr == *"Operation not permitted"* ]]
	[ "$(rows)" = "$before" ]
	t setfattr -x user.kv.expire_in "$MNT/k"
	[ "$(sqlite3 "$DB" 'select expiration_ms from kv')" -eq -1 ]
	# 0, as Deno's expireIn: 0, expires the key at once
	t setfattr -n user.kv.expire_in -v 0 "$MNT/k"
	run -1 t cat "$MNT/k"
	[ ! -e "$MNT/k" ]
}

probe() {
	local build=${KVFS_BUILD:-build}
	case $build in /*) ;; *) build=$ROOT/$build ;; esac
	t "$build/tests/tools/xattr_probe" "$@"
}

@test "an edit keeps the time-to-live (truncate, a rewrite, a patch in place); a file renamed onto the key brings its own" {
	echo 123 >"$MNT/k"
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/k"
	t truncate -s 2 "$MNT/k"                                       # through a handle
	run -0 t cat "$MNT/k"
	[ "$output" = 12 ]
	[ "$(getfattr --absolute-names --only-values -n user.kv.expire_in "$MNT/k")" -gt 3500000 ]
	t python3 -c 'import os, sys; os.truncate(sys.argv[1], 1)' "$MNT/k"   # by path
	run -0 t cat "$MNT/k"
	[ "$output" = 1 ]
	[ "$(getfattr --absolute-names --only-values -n user.kv.expire_in "$MNT/k")" -gt 3500000 ]
	echo 5 >"$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = 5 ]
	[ "$(getfattr --absolute-names --only-values -n user.kv.expire_in "$MNT/k")" -gt 3500000 ]
	t python3 -c 'f = open(__import__("sys").argv[1], "r+"); f.write("7"); f.close()' "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = 7 ]
	[ "$(getfattr --absolute-names --only-values -n user.kv.expire_in "$MNT/k")" -gt 3500000 ]
	# the instant stays: a rewrite does not restart the countdown
	at=$(getfattr --absolute-names --only-values -n user.kv.expires_at "$MNT/k")
	echo 8 >"$MNT/k"
	[ "$(getfattr --absolute-names --only-values -n user.kv.expires_at "$MNT/k")" = "$at" ]
	[ "$(dump | jq -r .expires_at)" = "$at" ]
	echo 9 >"$MNT/.k.tmp"
	t mv "$MNT/.k.tmp" "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = 9 ]
	run -1 t getfattr --absolute-names -n user.kv.expire_in "$MNT/k"
	# a new key written has none
	echo 1 >"$MNT/new"
	run -1 t getfattr --absolute-names -n user.kv.expires_at "$MNT/new"
}

@test "a key that expires is gone for stat at once, however recently the kernel cached it" {
	mkdir "$MNT/d"
	echo 3 >"$MNT/d/stays"
	# ["k"] and ["d", "k"] = 1, expiring in 1.5 s, from another writer; then
	# stat (through lookups, getattrs and readdirplus) until after the expiry
	run -0 t python3 -c '
import os, sys, time, sqlite3
m, db = sys.argv[1], sys.argv[2]
at = time.time() + 1.5
c = sqlite3.connect(db)
c.execute("update data_version set version = version + 1 where k = 0")
for k in ("026b00", "026400026b00"):
    c.execute("insert into kv (k, v, v_encoding, version, expiration_ms)"
              " values (?, x\x27FF0F4902\x27, 1, 99, ?)", (bytes.fromhex(k), int(at * 1000)))
c.commit()
while not os.path.exists(m + "/d/k"):
    time.sleep(0.01)
while time.time() < at + 0.2:
    os.listdir(m)
    os.listdir(m + "/d")
    for p in ("k", "d/k"):
        t = time.time()
        try:
            os.stat(m + "/" + p)
            if t > at + 0.1:
                sys.exit("%s still there %.3f s after its expiry" % (p, t - at))
        except FileNotFoundError:
            if t < at - 0.1:
                sys.exit("%s gone %.3f s before its expiry" % (p, at - t))
    time.sleep(0.005)
print("gone")
' "$MNT" "$DB"
	[ "$output" = gone ]
	[ "$(ls "$MNT/d")" = stays ]
}

@test "unknown user names are ENODATA, other namespaces ENOTSUP; getfattr -d shows the time-to-live only" {
	echo 1 >"$MNT/k"
	run -1 t getfattr --absolute-names -n user.other "$MNT/k"
	[[ $output == *"No such attribute"* ]]
	run -1 t getfattr --absolute-names -n security.capability "$MNT/k"
	[[ $output == *"Operation not supported"* ]]
	run -0 probe "$MNT/k" system.posix_acl_access 100
	[ "$output" = ENOTSUP ]
	run -0 probe "$MNT" security.selinux 100
	[ "$output" = ENOTSUP ]
	mkdir "$MNT/.tx/T"
	run -0 probe "$MNT/.tx/T" security.selinux 100
	[ "$output" = ENOTSUP ]
	run -0 t getfattr --absolute-names -d "$MNT/k"
	[ -z "$output" ]
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/k"
	run -0 t getfattr --absolute-names -d "$MNT/k"
	[[ $output == *'user.kv.expire_in="'* ]]
	[[ $output != *"user.kv.key"* && $output != *"versionstamp"* && $output != *"expires_at"* ]]
	# still read by name
	run -0 t getfattr --absolute-names --only-values -n user.kv.key "$MNT/k"
	[ "$output" = '["k"]' ]
	# setting another user. name stores nothing; the transaction-only ones say where they work
	before=$(rows)
	run -1 --separate-stderr t setfattr -n user.other -v 1 "$MNT/k"
	[[ $stderr == *"Operation not supported"* ]]
	grep -q "user.other.*kvfs stores no other attributes" "$KVFS_LOG"
	run -1 --separate-stderr t setfattr -n user.kv.sum -v 1 "$MNT/k"
	[[ $stderr == *"Operation not supported"* ]]
	grep -q "user.kv.sum.*staged inside a transaction (.tx/T) only" "$KVFS_LOG"
	# a dot-file's refusal names the file, not its directory; a removal says so
	mkdir "$MNT/d"
	echo 3 >"$MNT/d/.scratch"
	run -1 t setfattr -n user.other -v 1 "$MNT/d/.scratch"
	grep -q "cannot set user.other on 'd/.scratch'" "$KVFS_LOG"
	run -1 t setfattr -x user.kv.versionstamp "$MNT/k"
	grep -q "cannot remove user.kv.versionstamp from 'k': read-only attribute" "$KVFS_LOG"
	[ "$(rows)" = "$before" ]
}

@test "a time-to-live waiting for a file's first value reads, lists and moves like a stored one" {
	touch "$MNT/e"
	setfattr -n user.kv.expire_in -v 300000 "$MNT/e"
	[ -n "$(getfattr --only-values -n user.kv.expires_at "$MNT/e")" ]
	mv "$MNT/e" "$MNT/f"
	run -0 t getfattr -d "$MNT/f"                 # listed, so a copy carries it
	[[ $output == *'user.kv.expire_in="'* ]]
	cp -a "$MNT/f" "$BATS_TEST_TMPDIR/copy"
	[ -n "$(getfattr --only-values -n user.kv.expire_in "$BATS_TEST_TMPDIR/copy")" ]
	[ -z "$(rows)" ]
	echo 1 >"$MNT/f"
	[ "$(dump | jq -r '.expires_at // "none"')" != none ]
	# a dot-file's, given to the key it is renamed onto, reads and lists too
	echo 2 >"$MNT/.g"
	run -0 t getfattr -d "$MNT/.g"
	[ -z "$output" ]
	setfattr -n user.kv.expire_in -v 300000 "$MNT/.g"
	[ "$(getfattr --only-values -n user.kv.expire_in "$MNT/.g")" -gt 290000 ]
	[ -n "$(getfattr --only-values -n user.kv.expires_at "$MNT/.g")" ]
	run -0 t getfattr -d "$MNT/.g"
	[[ $output == *'user.kv.expire_in="'* ]]
	mv "$MNT/.g" "$MNT/g"
	[ "$(dump g | jq -r '.expires_at // "none"')" != none ]
}

@test "copies carry the time-to-live and nothing the store sets: cp -a, mv of a directory too big for one commit" {
	mkdir "$MNT/d"
	for i in $(seq 501); do echo "$i" >"$MNT/d/$i"; done
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/d/7"
	run -0 --separate-stderr t cp -a "$MNT/d/7" "$MNT/seven"
	[ -z "$stderr" ]
	left=$(getfattr --only-values -n user.kv.expire_in "$MNT/seven")
	[ "$left" -gt 3500000 ] && [ "$left" -le 3600000 ]
	run -0 --separate-stderr t mv "$MNT/d" "$MNT/e"    # in several commits
	[ -z "$stderr" ]
	[ "$(dump e | wc -l)" = 501 ]
	[ "$(getfattr --only-values -n user.kv.expire_in "$MNT/e/7")" -gt 3500000 ]
	# a file created empty takes its time-to-live at its first value
	touch "$MNT/later"
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/later"
	echo 1 >"$MNT/later"
	[ "$(dump | jq -r 'select(.key == ["later"]) | .expires_at' | cut -c1-2)" = 20 ]
}

@test "size probing: python reads the whole value" {
	echo 1 >"$MNT/k"
	run -0 t python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.kv.key").decode())' "$MNT/k"
	[ "$output" = '["k"]' ]
}


@test "size probing: length for size 0, ERANGE for a short buffer, for getxattr and listxattr" {
	echo 1 >"$MNT/k"
	run -0 probe "$MNT/k" user.kv.key 0
	[ "$output" = 5 ]
	run -0 probe "$MNT/k" user.kv.key 4
	[ "$output" = ERANGE ]
	run -0 probe "$MNT/k" user.kv.key 5
	[ "$output" = '5 ["k"]' ]
	run -0 probe "$MNT/k" user.kv.versionstamp 19
	[ "$output" = ERANGE ]
	run -0 probe "$MNT/k" user.kv.versionstamp 20
	[[ $output == "20 "* ]]
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/k"
	run -0 probe "$MNT/k" - 0
	len=$output
	[ "$len" = 18 ]
	run -0 probe "$MNT/k" - $((len - 1))
	[ "$output" = ERANGE ]
	run -0 probe "$MNT/k" - "$len"
	[ "$output" = "18 user.kv.expire_in|" ]
	t setfattr -x user.kv.expires_at "$MNT/k"
	run -0 probe "$MNT/k" user.kv.expires_at 100
	[ "$output" = ENODATA ]
	run -0 probe "$MNT" user.kv.versionstamp 100
	[ "$output" = ENODATA ]
}

@test "ls -l asks for security and ACL attributes once, not once per file" {
	kvfs_unmount
	kvfs_mount -d
	mkdir "$MNT/d"
	for i in $(seq 40); do echo $i >"$MNT/d/$i"; done
	before=$(grep -c 'opcode: GETXATTR' "$KVFS_LOG" || true)
	run -0 t ls -l "$MNT/d"
	[ "${#lines[@]}" -eq 41 ]
	after=$(grep -c 'opcode: GETXATTR' "$KVFS_LOG")
	# two names for the first file at most, not two for each of 40
	[ $((after - before)) -le 4 ]
}
