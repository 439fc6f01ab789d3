#!/usr/bin/env bats
# Transactions: mkdir .tx/T, stage inside it, mv .tx/T .commit/T commits
# everything in one atomic commit or nothing.

load helpers

setup() {
	kvfs_mount
}

stamp_re='^\{"ok":true,"versionstamp":"[0-9a-f]{20}"\}$'

@test "a staged set is stored only by the commit, in one versionstamp" {
	echo 1 >"$MNT/a"
	mkdir "$MNT/.tx/T"
	echo '{"theme":"light"}' >"$MNT/.tx/T/b"
	echo 2 >"$MNT/.tx/T/a"
	run -1 t cat "$MNT/b"
	run -0 t cat "$MNT/a"
	[ "$output" = 1 ]
	[ "$(dump | jq -c .key)" = '["a"]' ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/.commit/T"
	[[ $output =~ $stamp_re ]]
	vs=$(jq -r .versionstamp <<<"$output")
	run -0 t cat "$MNT/b"
	[ "$output" = '{"theme":"light"}' ]
	run -0 t cat "$MNT/a"
	[ "$output" = 2 ]
	[ "$(dump | jq -r .versionstamp | sort -u)" = "$vs" ]
	[ "$(getfattr --only-values -n user.kv.versionstamp "$MNT/b")" = "$vs" ]
	run -0 t ls "$MNT/.tx"
	[ -z "$output" ]
	run -0 t ls "$MNT/.commit"
	[ "$output" = T ]
}

@test "inside a transaction its own changes show, outside they do not" {
	mkdir "$MNT/d"
	echo 1 >"$MNT/d/a"
	echo 1 >"$MNT/top"
	mkdir "$MNT/.tx/T"
	echo 2 >"$MNT/.tx/T/d/a"
	echo 3 >"$MNT/.tx/T/d/b"
	rm "$MNT/.tx/T/top"
	mkdir "$MNT/.tx/T/new"
	echo '"x"' >"$MNT/.tx/T/new/k"
	run -0 t cat "$MNT/.tx/T/d/a" "$MNT/.tx/T/d/b" "$MNT/.tx/T/new/k"
	[ "$output" = "$(printf '2\n3\n"x"')" ]
	# T's top lists nothing (so rm -rf .tx/T only aborts); its names open.
	run -0 t ls -A "$MNT/.tx/T"
	[ -z "$output" ]
	[ -d "$MNT/.tx/T/d" ] && [ -d "$MNT/.tx/T/new" ]
	run -0 t ls "$MNT/.tx/T/new"
	[ "$output" = k ]
	run -0 t ls "$MNT/.tx/T/d"
	[ "$output" = "$(printf 'a\nb')" ]
	[ ! -e "$MNT/.tx/T/top" ]
	run -0 t ls "$MNT"
	[ "$output" = "$(printf 'd\ntop')" ]
	run -0 t ls "$MNT/d"
	[ "$output" = a ]
	run -0 t cat "$MNT/d/a" "$MNT/top"
	[ "$output" = "$(printf '1\n1')" ]
	# The root's listing never shows the control entries.
	run -0 t ls -A "$MNT"
	[ "$output" = "$(printf 'd\ntop')" ]
}

@test "a key read inside T and changed through the mount fails the commit with EAGAIN" {
	echo 1 >"$MNT/a"
	mkdir "$MNT/.tx/T"
	run -0 t cat "$MNT/.tx/T/a"
	echo 5 >"$MNT/.tx/T/b"
	echo 2 >"$MNT/a"
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(rows)" = "$before" ]
	run -0 t ls "$MNT/.tx"
	[ "$output" = T ]
	run -0 t cat "$MNT/.tx/T/b"
	[ "$output" = 5 ]
	grep -q "cannot commit '.tx/T': a check failed" "$KVFS_LOG"
	[ ! -e "$MNT/.commit/T" ]
	rm -rf "$MNT/.tx/T"
}

@test "a key read inside T and changed by another process fails the commit" {
	echo 1 >"$MNT/a"
	mkdir "$MNT/.tx/T"
	run -0 t cat "$MNT/.tx/T/a"
	echo 9 >"$MNT/.tx/T/a"
	echo '{"key":["a"],"value":7}' | load_lines
	before=$(rows)
	run -1 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(rows)" = "$before" ]
	[ "$(dump | jq -c .value)" = 7 ]
	[ -d "$MNT/.tx/T" ]
}

@test "a key found absent inside T and then written must still be absent at the commit" {
	mkdir "$MNT/.tx/T"
	run -1 t cat "$MNT/.tx/T/k"
	echo '"mine"' >"$MNT/.tx/T/k"
	echo '"theirs"' >"$MNT/k"           # made by someone else meanwhile
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	run -0 t cat "$MNT/k"
	[ "$output" = '"theirs"' ]
	rm -rf "$MNT/.tx/T"
	# a name seen absent that T does not write does not stop the commit
	mkdir "$MNT/.tx/U"
	run -1 t cat "$MNT/.tx/U/j"
	echo 1 >"$MNT/.tx/U/other"
	echo 2 >"$MNT/j"
	run -0 t mv "$MNT/.tx/U" "$MNT/.commit/U"
	[ "$(cat "$MNT/other")" = 1 ] && [ "$(cat "$MNT/j")" = 2 ]
	# 150 new files: each was looked up absent first; those checks are not Deno's 100
	mkdir "$MNT/.tx/V" "$MNT/.tx/V/many"
	for i in $(seq 150); do echo $i >"$MNT/.tx/V/many/$i"; done
	run -0 t mv "$MNT/.tx/V" "$MNT/.commit/V"
	[ "$(ls "$MNT/many" | wc -l)" -eq 150 ]
}

@test "names looked up absent inside T count toward no limit unless T writes them; past 10,000 a new key is still checked" {
	# 900 lookups of absent 1000-byte names: their checks are not sent, so T fits
	mkdir "$MNT/.tx/T"
	run -0 t python3 -c 'import os, sys
for i in range(900):
    try:
        os.stat(sys.argv[1] + "/" + "a" * 1000 + str(i))
        sys.exit("found")
    except FileNotFoundError:
        pass
open(sys.argv[1] + "/x", "w").write("1\n")' "$MNT/.tx/T"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(cat "$MNT/x")" = 1 ]
	# past 10,000 such lookups T records no more of them (memory stays bounded),
	# and a new key it writes is checked to be absent at the commit all the same
	mkdir "$MNT/.tx/U"
	run -0 timeout 120 python3 -c 'import os, sys
for i in range(10050):
    try:
        os.stat("%s/n%d" % (sys.argv[1], i))
    except FileNotFoundError:
        pass
open(sys.argv[1] + "/n10040", "w").write("\"mine\"\n")' "$MNT/.tx/U"
	echo '"theirs"' >"$MNT/n10040"
	run -1 --separate-stderr t mv "$MNT/.tx/U" "$MNT/.commit/U"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(cat "$MNT/n10040")" = '"theirs"' ]
}

@test "mv of a staged file inside T near a limit fits when its result does" {
	mkdir -p "$MNT/.tx/T/r"
	s=$(head -c 65000 /dev/zero | tr '\0' a)
	for i in $(seq 0 11); do echo "\"$s\"" >"$MNT/.tx/T/r/$i"; done
	run -0 t mv "$MNT/.tx/T/r/0" "$MNT/.tx/T/r/99"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(ls "$MNT/r" | sort -n | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 10 11 99 " ]
	[ -z "$(grep "Total mutation size" "$KVFS_LOG")" ]
}

@test "a read of an absent key checks that it stays absent" {
	mkdir "$MNT/.tx/T"
	run -1 t cat "$MNT/.tx/T/nothing"
	# Not written by T: that lookup checks nothing. An explicit check:
	touch "$MNT/.tx/T/n"
	[ -f "$MNT/.tx/T/n" ]
	setfattr -n user.kv.check -v null "$MNT/.tx/T/n"
	echo 1 >"$MNT/.tx/T/other"
	echo outside | sed 's/.*/"&"/' >"$MNT/n"
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	run -1 t cat "$MNT/other"
	rm -rf "$MNT/.tx/T"
	# The same check holds when nobody writes the key.
	mkdir "$MNT/.tx/U"
	touch "$MNT/.tx/U/m"
	setfattr -n user.kv.check -v null "$MNT/.tx/U/m"
	echo 1 >"$MNT/.tx/U/m"
	run -0 t mv "$MNT/.tx/U" "$MNT/.commit/U"
	run -0 t cat "$MNT/m"
	[ "$output" = 1 ]
}

@test "an explicit versionstamp check holds until the key changes" {
	echo 1 >"$MNT/a"
	vs=$(getfattr --only-values -n user.kv.versionstamp "$MNT/a")
	mkdir "$MNT/.tx/T"
	setfattr -n user.kv.check -v "$vs" "$MNT/.tx/T/a"
	echo 2 >"$MNT/.tx/T/b"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	mkdir "$MNT/.tx/T"
	setfattr -n user.kv.check -v "$vs" "$MNT/.tx/T/a"
	echo 3 >"$MNT/.tx/T/b"
	echo 4 >"$MNT/a"
	run -1 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/b"
	[ "$output" = 2 ]
	run -1 --separate-stderr t setfattr -n user.kv.check -v nonsense "$MNT/.tx/T/a"
	[[ $stderr == *"Invalid argument"* ]]
	grep -q "cannot check '.tx/T/a': not a versionstamp (20 hex digits) or null" "$KVFS_LOG"
}

@test "a staged delete removes the key at the commit" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/b"
	mkdir "$MNT/.tx/T"
	rm "$MNT/.tx/T/a"
	[ ! -e "$MNT/.tx/T/a" ]
	run -1 t rm "$MNT/.tx/T/a"
	run -0 t cat "$MNT/a"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -1 t cat "$MNT/a"
	[ "$(dump | jq -c .key)" = '["b"]' ]
}

@test "sum, min and max stage KvU64 arithmetic" {
	echo '{"$u64":"10"}' >"$MNT/c"
	mkdir "$MNT/.tx/T"
	setfattr -n user.kv.sum -v 5 "$MNT/.tx/T/c"
	run -0 t cat "$MNT/.tx/T/c"
	[ "$output" = '{"$u64":"15"}' ]
	touch "$MNT/.tx/T/lo" "$MNT/.tx/T/hi"
	setfattr -n user.kv.min -v 7 "$MNT/.tx/T/lo"
	setfattr -n user.kv.min -v 3 "$MNT/.tx/T/lo"
	setfattr -n user.kv.max -v 3 "$MNT/.tx/T/hi"
	setfattr -n user.kv.max -v 9 "$MNT/.tx/T/hi"
	run -0 t cat "$MNT/c"
	[ "$output" = '{"$u64":"10"}' ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/c" "$MNT/lo" "$MNT/hi"
	[ "$output" = "$(printf '{"$u64":"15"}\n{"$u64":"3"}\n{"$u64":"9"}')" ]
	run -1 t setfattr -n user.kv.sum -v -1 "$MNT/c"
}

@test "sum on a value that is not a KvU64 fails the commit with EDOM" {
	echo 1 >"$MNT/n"
	mkdir "$MNT/.tx/T"
	setfattr -n user.kv.sum -v 1 "$MNT/.tx/T/n"
	echo 2 >"$MNT/.tx/T/other"
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Numerical argument out of domain"* ]]
	[ "$(rows)" = "$before" ]
	grep -q "cannot commit '.tx/T': sum, min or max on a value that is not a KvU64" "$KVFS_LOG"
	run -1 --separate-stderr t setfattr -n user.kv.sum -v abc "$MNT/.tx/T/n"
	[[ $stderr == *"Invalid argument"* ]]
	grep -q "cannot sum '.tx/T/n': not an unsigned 64-bit decimal number" "$KVFS_LOG"
}

@test "rm -rf aborts a transaction; its name can be used again" {
	mkdir "$MNT/d"
	echo 1 >"$MNT/d/a"
	mkdir "$MNT/.tx/T"
	echo 2 >"$MNT/.tx/T/d/a"
	echo 3 >"$MNT/.tx/T/b"
	before=$(rows)
	run -0 t rm -rf "$MNT/.tx/T"
	[ ! -e "$MNT/.tx/T" ]
	[ "$(rows)" = "$before" ]
	mkdir "$MNT/.tx/T"
	run -0 t cat "$MNT/.tx/T/d/a"
	[ "$output" = 1 ]
	[ ! -e "$MNT/.tx/T/b" ]
	run -0 t rmdir "$MNT/.tx/T"
	[ "$(rows)" = "$before" ]
}

@test "the commit result stays readable and a new T forgets the old one" {
	mkdir "$MNT/.tx/T"
	echo 1 >"$MNT/.tx/T/k"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/.commit/T"
	[[ $output =~ $stamp_re ]]
	first=$output
	run -0 t cat "$MNT/.commit/T"
	[ "$output" = "$first" ]
	mkdir "$MNT/.tx/T"
	[ ! -e "$MNT/.commit/T" ]
	echo 2 >"$MNT/.tx/T/k"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/.commit/T"
	[[ $output =~ $stamp_re ]]
	[ "$output" != "$first" ]
	# a result stays under its name
	run -1 --separate-stderr t mv "$MNT/.commit/T" "$MNT/.commit/U"
	[[ $stderr == *"Operation not permitted"* ]]
	grep -q "cannot rename '.commit/T': a commit result stays under its name" "$KVFS_LOG"
	[ -e "$MNT/.commit/T" ] && [ ! -e "$MNT/.commit/U" ]
}

@test "inside T an incomplete document fails at close, a value over the limit at write; nothing is staged" {
	echo 1 >"$MNT/k"
	mkdir "$MNT/.tx/T"
	printf '{"a":1' >"$BATS_TEST_TMPDIR/part"
	run -1 --separate-stderr t tee "$MNT/.tx/T/k" <"$BATS_TEST_TMPDIR/part"
	[[ $stderr == *"Invalid argument"* ]]
	grep -q "cannot stage '.tx/T/k': invalid JSON" "$KVFS_LOG"
	run -1 --separate-stderr t tee "$MNT/.tx/T/k" <<<"   "
	[[ $stderr == *"Invalid argument"* ]]
	grep -q "cannot stage '.tx/T/k': empty file" "$KVFS_LOG"
	run ! --separate-stderr t bash -c "head -c 70000 /dev/zero | tr '\\0' a | sed 's/.*/\"&\"/' > '$MNT/.tx/T/k'"
	[[ $stderr == *"File too large"* ]]
	grep -q "cannot stage '.tx/T/k': Value too large" "$KVFS_LOG"
	# T still shows the stored value, and its commit changes nothing
	run -0 t cat "$MNT/.tx/T/k"
	[ "$output" = 1 ]
	before=$(rows)
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(rows)" = "$before" ]
}

@test "inside T a key written, removed, created again and removed is gone" {
	mkdir "$MNT/d"
	echo 0 >"$MNT/d/z"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	echo 1 >"$MNT/.tx/T/d/k"
	rm "$MNT/.tx/T/d/k"
	echo 2 >"$MNT/.tx/T/d/k"    # created again: its set replaces the staged delete
	rm "$MNT/.tx/T/d/k"
	run -1 t cat "$MNT/.tx/T/d/k"
	run -0 t ls "$MNT/.tx/T/d"
	[ "$output" = z ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(rows)" = "$before" ]
}

@test "inside T mknod makes an empty file of T; a name T shows is EEXIST; a fifo EPERM" {
	mkdir "$MNT/d"
	echo 0 >"$MNT/d/z"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	run -0 mknod_mode "$MNT/.tx/T/d/k" 100644
	[ "$(stat -c %s:%F "$MNT/.tx/T/d/k")" = "0:regular empty file" ]
	for p in d d/z d/k; do
		run -1 mknod_mode "$MNT/.tx/T/$p" 100644
		[ "$output" = 17 ]    # EEXIST
	done
	run -1 mknod_mode "$MNT/.tx/T/d/fifo" 10644
	[ "$output" = 1 ]
	run -1 mknod_mode "$MNT/.tx/T/d/.swp" 100644
	[ "$output" = 1 ]        # dot-names are not keys inside T
	run -0 t ls "$MNT/.tx/T/d"
	[ "$output" = "$(printf 'k\nz')" ]
	run -1 t cat "$MNT/d/k"
	echo 1 >"$MNT/.tx/T/d/k"
	[ "$(rows)" = "$before" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/d/k"
	[ "$output" = 1 ]
}

@test "inside T a redirection around several commands stages the whole value: a child's close stages nothing" {
	echo 1 >"$BATS_TEST_TMPDIR/part"
	mkdir "$MNT/.tx/T"
	cd "$BATS_TEST_TMPDIR"
	run -0 --separate-stderr t bash -ec "{ echo '['; cat part; echo ']'; } >'$MNT/.tx/T/g'"
	[ -z "$stderr" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(dump | jq -c '[.key[0], .value]')" = '["g",[1]]' ]
}

# every file of DIR as "name size", from one ls -l, and from cat
ls_sizes() { t ls -l "$1" | awk 'NR > 1 { print $9, $5 }'; }
cat_sizes() { for f in "$1"/*; do echo "$(basename "$f") $(t cat "$f" | wc -c)"; done; }

@test "ls -l inside T shows each file as T sees it: staged sets, deletes and sums" {
	kvfs_unmount
	kvfs_mount -o timeout=30    # what the kernel keeps, it keeps past the test
	mkdir "$MNT/d"
	for i in 1 2 3 4; do echo "$i" >"$MNT/d/k$i"; done
	echo '{"$u64":"5"}' >"$MNT/d/n"
	mkdir "$MNT/.tx/T"
	ls_sizes "$MNT/.tx/T/d" >/dev/null          # the kernel now holds every entry
	echo '{"long":"a longer value"}' >"$MNT/.tx/T/d/k1"
	rm "$MNT/.tx/T/d/k2"
	setfattr -n user.kv.sum -v 100000 "$MNT/.tx/T/d/n"
	echo '"new"' >"$MNT/.tx/T/d/k5"
	wait_for_sizes() {
		local i
		for i in $(seq 50); do
			[ "$(ls_sizes "$1")" = "$(cat_sizes "$1")" ] && return 0
			sleep 0.1
		done
		diff <(ls_sizes "$1") <(cat_sizes "$1")
	}
	wait_for_sizes "$MNT/.tx/T/d"
	[ "$(ls_sizes "$MNT/.tx/T/d" | tr '\n' ' ')" = 'k1 26 k3 2 k4 2 k5 6 n 18 ' ]
}

@test "inside T, a key written or removed outside T shows so at once, though T's names are cached" {
	kvfs_unmount
	kvfs_mount -o timeout=30    # what the kernel keeps, it keeps past the test
	mkdir "$MNT/d"
	echo 5 >"$MNT/d/k"
	mkdir "$MNT/.tx/T"
	[ "$(stat -c %s "$MNT/.tx/T/d/k")" = 2 ]
	echo '[1,2,3,4,5,6,7]' >"$MNT/d/k"
	[ "$(stat -c %s "$MNT/.tx/T/d/k")" = 16 ]
	rm "$MNT/d/k"
	run -1 t stat "$MNT/.tx/T/d/k"
}

@test "inside T a handle open on a file that is removed stages nothing when it closes" {
	mkdir "$MNT/d"
	echo 0 >"$MNT/d/z"
	echo 1 >"$MNT/d/k"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	(cd "$MNT/.tx/T" && t python3 -c '
import os
fd = os.open("d/k", os.O_WRONLY | os.O_TRUNC)
os.unlink("d/k")
os.write(fd, b"2\n")
os.close(fd)')
	run -1 t cat "$MNT/.tx/T/d/k"
	run -0 t ls "$MNT/.tx/T/d"
	[ "$output" = z ]
	grep -q "removed while open; what was written is dropped" "$KVFS_LOG"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	# the commit deleted k, and stored nothing else
	run -1 t cat "$MNT/d/k"
	[ "$(dump | jq -c .key)" = '["d","z"]' ]
}

@test "bad content inside T is refused at write and stages nothing" {
	mkdir "$MNT/.tx/T"
	run -1 --separate-stderr t bash -c "echo hello > '$MNT/.tx/T/k'"
	[[ $stderr == *"Invalid argument"* ]]
	# As outside a transaction, the created name stays as an empty file.
	run -0 t cat "$MNT/.tx/T/k"
	[ -z "$output" ]
	grep -q "cannot stage '.tx/T/k': invalid JSON" "$KVFS_LOG"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ -z "$(rows)" ]
}

@test "1001 staged sets exceed the mutation limit: E2BIG, nothing stored" {
	mkdir "$MNT/.tx/T"
	run -1 --separate-stderr timeout 120 bash -c "
		for i in \$(seq 1001); do
			echo \$i > '$MNT/.tx/T/k'\$i || { echo \"failed at \$i\" >&2; exit 1; }
		done"
	[[ $stderr == *"Argument list too long"* ]]
	[[ $stderr == *"failed at 1001"* ]]
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Argument list too long"* ]]
	[ -z "$(rows)" ]
	[ -d "$MNT/.tx/T" ]
	grep -q "cannot write '.tx/T/k1001': Too many mutations (max 1000)" "$KVFS_LOG"
	run -0 t rmdir "$MNT/.tx/T"
}

@test "80 KiB of keys set is reached while staging, not first at the commit: E2BIG, nothing stored" {
	mkdir "$MNT/.tx/T"
	long=$(printf 'n%.0s' $(seq 100))
	# the first name whose key (a string part: 1 + bytes + 1) passes 80 KiB in all
	sum=0 first=0
	for i in $(seq 900); do
		sum=$((sum + ${#long} + ${#i} + 2))
		[ "$sum" -gt 81920 ] && { first=$i; break; }
	done
	run -1 --separate-stderr timeout 120 bash -c "
		for i in \$(seq 900); do
			echo \$i > '$MNT/.tx/T/$long'\$i || { echo \"failed at \$i\" >&2; exit 1; }
		done"
	[[ $stderr == *"Argument list too long"* ]]
	[[ $stderr == *"failed at $first"* ]]
	grep -q "cannot write '.tx/T/$long$first': Total key size too large (max 81920 bytes)" "$KVFS_LOG"
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Argument list too long"* ]]
	grep -q "cannot commit ..tx/T.: the transaction exceeded a limit while staging: Total key size too large (max 81920 bytes)" "$KVFS_LOG"
	[ -z "$(rows)" ]
	run -0 t rm -rf "$MNT/.tx/T"
}

@test "800 KiB in one transaction: the echo whose value crosses it fails, not the next one" {
	mkdir -p "$MNT/.tx/T/bg"
	s=$(head -c 65000 /dev/zero | tr '\0' a)
	run -1 --separate-stderr timeout 120 bash -c "
		for i in \$(seq 14); do
			echo '[\"$s\"]' > '$MNT/.tx/T/bg/k'\$i || { echo \"failed at \$i\" >&2; exit 1; }
		done"
	[[ $stderr == *"write error: Argument list too long"* ]]
	[[ $stderr == *"failed at 13"* ]]
	grep -q "cannot stage '.tx/T/bg/k13': Total mutation size too large (max 819200 bytes)" "$KVFS_LOG"
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Argument list too long"* ]]
	[ -z "$(rows)" ]
	run -0 t rm -rf "$MNT/.tx/T"
}

# $1 keys under the prefix "big" (and two outside it), loaded beside the mount.
load_big() {
	{
		seq 0 $(($1 - 1)) | awk '{ printf "{\"key\":[\"big\",%d],\"value\":%d}\n", $1, $1 }'
		echo '{"key":["top"],"value":1}'
		echo '{"key":["d","x"],"value":2}'
	} | load_lines >/dev/null
}

@test "rm -rf .tx/T aborts T on a key space of more than 1000 keys" {
	load_big 1500
	mkdir "$MNT/.tx/T"
	echo 7 >"$MNT/.tx/T/big/new"
	rm "$MNT/.tx/T/big/3"
	echo 8 >"$MNT/.tx/T/top"
	# The view is there below the top.
	run -0 t ls "$MNT/.tx/T/big"
	[ "${#lines[@]}" = 1500 ]
	before=$(dump)
	run -0 --separate-stderr t rm -rf "$MNT/.tx/T"
	[ -z "$stderr" ]
	[ ! -e "$MNT/.tx/T" ]
	run -0 t ls "$MNT/.tx"
	[ -z "$output" ]
	[ "$(dump)" = "$before" ]
	[ "$(dump | wc -l)" = 1502 ]
	! grep -q "cannot" "$KVFS_LOG"
	# The name is free again and the new T sees none of the old one.
	mkdir "$MNT/.tx/T"
	[ ! -e "$MNT/.tx/T/big/new" ]
	run -0 t cat "$MNT/.tx/T/top"
	[ "$output" = 1 ]
	run -0 t rm -r "$MNT/.tx/T"
	[ ! -e "$MNT/.tx/T" ]
	[ "$(dump)" = "$before" ]
}

@test "rm -rf .tx/T/PREFIX over 1000 keys fails with E2BIG; the poisoned T is still removed" {
	load_big 1200
	mkdir "$MNT/.tx/T"
	echo 9 >"$MNT/.tx/T/top"
	before=$(dump)
	run -1 --separate-stderr t rm -rf "$MNT/.tx/T/big"
	[[ $stderr == *"Argument list too long"* ]]
	[ "$(dump)" = "$before" ]
	# The first 1000 deletes were staged: the prefix is still there.
	[ -d "$MNT/.tx/T/big" ]
	grep -q "cannot remove '.tx/T/big/[0-9]*': Too many mutations (max 1000)" "$KVFS_LOG"
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Argument list too long"* ]]
	[ "$(dump)" = "$before" ]
	[ ! -e "$MNT/.commit/T" ]
	run -0 --separate-stderr t rm -rf "$MNT/.tx/T"
	[ -z "$stderr" ]
	[ ! -e "$MNT/.tx/T" ]
	[ "$(dump)" = "$before" ]
	# rmdir removes a poisoned T as well.
	mkdir "$MNT/.tx/U"
	run -1 t rm -rf "$MNT/.tx/U/big"
	run -0 t rmdir "$MNT/.tx/U"
	[ ! -e "$MNT/.tx/U" ]
	[ "$(dump)" = "$before" ]
}

@test "rm -rf .tx/T/PREFIX within the limits deletes the subtree in one commit" {
	load_big 300
	mkdir "$MNT/.tx/T"
	before=$(dump)
	# Without -f, so a refused rmdir of the emptied prefix would show.
	run -0 --separate-stderr t rm -r "$MNT/.tx/T/big"
	[ -z "$stderr" ]
	[ ! -e "$MNT/.tx/T/big" ]
	run -0 t ls "$MNT/.tx/T/d"
	[ "$output" = x ]
	[ "$(dump)" = "$before" ]
	[ -d "$MNT/big" ]
	# A directory made there again is only in memory, and goes by rmdir.
	run -0 t mkdir "$MNT/.tx/T/big"
	run -0 t rmdir "$MNT/.tx/T/big"
	[ ! -e "$MNT/.tx/T/big" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ ! -e "$MNT/big" ]
	[ "$(dump | jq -c .key | tr '\n' ' ')" = '["d","x"] ["top"] ' ]
}

@test "right after a commit the shell sees its keys removed, added and made directories" {
	stale=0
	for i in $(seq 1 100); do
		echo 1 >"$MNT/r$i"
		mkdir "$MNT/d$i"
		echo 2 >"$MNT/d$i/x"
		[ -e "$MNT/r$i" ] && [ -d "$MNT/d$i" ]     # the kernel holds both names
		mkdir "$MNT/.tx/T$i"
		rm "$MNT/.tx/T$i/r$i"
		rm -r "$MNT/.tx/T$i/d$i"
		echo 3 >"$MNT/.tx/T$i/n$i"
		mv "$MNT/.tx/T$i" "$MNT/.commit/T$i"
		if [ -e "$MNT/r$i" ] || [ -e "$MNT/d$i" ] || [ ! -f "$MNT/n$i" ]; then
			stale=$((stale + 1))
		fi
	done
	[ "$stale" -eq 0 ]
}

@test "a file key gains children in one commit through a transaction, as the README shows" {
	echo '{"v":1}' >"$MNT/k"
	(cd "$BATS_TEST_TMPDIR" && mkdir "$MNT/.tx/T" && cp "$MNT/.tx/T/k" v && rm "$MNT/.tx/T/k" &&
	 mkdir "$MNT/.tx/T/k" && cp v "$MNT/.tx/T/k/.value" && echo '"c"' >"$MNT/.tx/T/k/child")
	[ -f "$MNT/k" ]                              # nothing changed before the commit
	[ "$(dump | jq -c .key)" = '["k"]' ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ -d "$MNT/k" ]
	[ "$(t cat "$MNT/k/.value")" = '{"v":1}' ]
	[ "$(t cat "$MNT/k/child")" = '"c"' ]
	[ "$(dump | jq -c .key | tr '\n' ' ')" = '["k"] ["k","child"] ' ]
	[ "$(dump | jq -r .versionstamp | sort -u | wc -l)" -eq 1 ]
}

@test "inside T a directory moved onto a removed one shows only what moved, and rm -r of it works to the end" {
	mkdir -p "$MNT/r2/sub/s2" "$MNT/r1/x/y"
	echo 3 >"$MNT/r2/sub/s2/c"
	echo 1 >"$MNT/r1/a"
	echo 4 >"$MNT/r1/x/y/z"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	rm -r "$MNT/.tx/T/r2"
	mv "$MNT/.tx/T/r1" "$MNT/.tx/T/r2"
	# the old r2's subdirectories, whose keys T deleted, stay gone
	run -0 t find "$MNT/.tx/T/r2"
	[ "$output" = "$(printf '%s\n' "$MNT/.tx/T/r2" "$MNT/.tx/T/r2/a" "$MNT/.tx/T/r2/x" \
		"$MNT/.tx/T/r2/x/y" "$MNT/.tx/T/r2/x/y/z")" ]
	# keys only staged there: each directory stays until rm's rmdir, as in the key tree
	run -0 --separate-stderr t rm -r "$MNT/.tx/T/r2/x"
	[ -z "$stderr" ]
	run -0 t find "$MNT/.tx/T/r2"
	[ "$output" = "$(printf '%s\n' "$MNT/.tx/T/r2" "$MNT/.tx/T/r2/a")" ]
	[ "$(rows)" = "$before" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(dump | jq -c .key)" = '["r2","a"]' ]
	[ ! -e "$MNT/r1" ]
	run -0 t find "$MNT/r2"
	[ "$output" = "$(printf '%s\n' "$MNT/r2" "$MNT/r2/a")" ]
}

@test "a directory moved or removed by a transaction takes the key tree's empty directories in it along" {
	mkdir -p "$MNT/mo/inner" "$MNT/rm/inner"
	echo 1 >"$MNT/mo/k"
	echo 2 >"$MNT/rm/k"
	mkdir "$MNT/.tx/T"
	mv "$MNT/.tx/T/mo" "$MNT/.tx/T/mo2"
	rm -r "$MNT/.tx/T/rm"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ ! -e "$MNT/mo" ] && [ ! -e "$MNT/rm" ]
	run -0 t ls "$MNT"
	[ "$output" = mo2 ]
	[ "$(dump | jq -c .key)" = '["mo2","k"]' ]
}

# seconds from now until KEY (as JSON) expires in the dump; "none" without expiry
ttl_of() {
	dump | jq -r --argjson k "$1" 'select(.key == $k) | .expires_at // "none"' |
	while read -r at; do
		if [ "$at" = none ]; then echo none; else echo $(( $(date -d "$at" +%s) - $(date +%s) )); fi
	done
}

@test "inside T user.kv.expire_in gives a time-to-live at the commit; rewrites and mv keep expiries as outside T" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/b"
	mkdir "$MNT/d"
	echo 3 >"$MNT/d/x"
	setfattr -n user.kv.expire_in -v 600000 "$MNT/b"
	setfattr -n user.kv.expire_in -v 600000 "$MNT/d/x"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	setfattr -n user.kv.expire_in -v 300000 "$MNT/.tx/T/a"
	left=$(getfattr --only-values -n user.kv.expire_in "$MNT/.tx/T/a")
	[ "$left" -gt 290000 ] && [ "$left" -le 300000 ]
	run -0 t getfattr -d "$MNT/.tx/T/a"          # listed, so cp -a copies it
	[[ $output == *'user.kv.expire_in="'* ]]
	echo 11 >"$MNT/.tx/T/a"                       # a rewrite keeps it
	mv "$MNT/.tx/T/b" "$MNT/.tx/T/b2"             # a move keeps the stored one
	mv "$MNT/.tx/T/d" "$MNT/.tx/T/d2"
	touch "$MNT/.tx/T/n"                          # a new file gives it to its first value
	setfattr -n user.kv.expire_in -v 200000 "$MNT/.tx/T/n"
	echo 7 >"$MNT/.tx/T/n"
	cp -a "$MNT/.tx/T/a" "$MNT/.tx/T/acopy"
	echo 5 >"$MNT/.tx/T/c"                        # a new key: none
	# refused, with nothing staged: not digits, a sum, a directory, no value
	run -1 --separate-stderr t setfattr -n user.kv.expire_in -v 1.5 "$MNT/.tx/T/c"
	[[ $stderr == *"Invalid argument"* ]]
	grep -q "cannot set user.kv.expire_in on '.tx/T/c': expected a non-negative number of milliseconds" "$KVFS_LOG"
	touch "$MNT/.tx/T/s"
	setfattr -n user.kv.sum -v 1 "$MNT/.tx/T/s"
	run -1 --separate-stderr t setfattr -n user.kv.expire_in -v 5000 "$MNT/.tx/T/s"
	[[ $stderr == *"Operation not permitted"* ]]
	grep -q "cannot set the expiry of '.tx/T/s': a sum, min or max stores none" "$KVFS_LOG"
	run -1 --separate-stderr t setfattr -n user.kv.expire_in -v 5000 "$MNT/.tx/T/d2"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 t getfattr -n user.kv.expire_in "$MNT/.tx/T/c"
	[ "$(rows)" = "$before" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	for k in '["a"]' '["acopy"]'; do
		ttl=$(ttl_of "$k"); [ "$ttl" -gt 280 ] && [ "$ttl" -le 300 ]
	done
	for k in '["b2"]' '["d2","x"]'; do
		ttl=$(ttl_of "$k"); [ "$ttl" -gt 580 ] && [ "$ttl" -le 600 ]
	done
	ttl=$(ttl_of '["n"]'); [ "$ttl" -gt 180 ] && [ "$ttl" -le 200 ]
	[ "$(ttl_of '["c"]')" = none ] && [ "$(ttl_of '["s"]')" = none ]
	[ "$(t cat "$MNT/a")" = 11 ] && [ "$(t cat "$MNT/n")" = 7 ]
}

@test "inside T removing the expiry stages the value without it; the stored value must still hold at the commit" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/b"
	setfattr -n user.kv.expire_in -v 600000 "$MNT/a"
	mkdir "$MNT/.tx/T"
	setfattr -x user.kv.expires_at "$MNT/.tx/T/a"
	run -1 t getfattr -n user.kv.expire_in "$MNT/.tx/T/a"
	run -1 t setfattr -x user.kv.expires_at "$MNT/.tx/T/b"       # ENODATA: it has none
	[ "$(ttl_of '["a"]')" != none ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(ttl_of '["a"]')" = none ]
	[ "$(t cat "$MNT/a")" = 1 ]
	# a time-to-live on a stored value T did not read: the value is checked
	mkdir "$MNT/.tx/U"
	setfattr -n user.kv.expire_in -v 600000 "$MNT/.tx/U/b"
	echo 3 >"$MNT/b"
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/.tx/U" "$MNT/.commit/U"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(rows)" = "$before" ]
	[ "$(t cat "$MNT/b")" = 3 ] && [ "$(ttl_of '["b"]')" = none ]
}

@test "inside T a staged time-to-live that ran out hides the key, as the commit will" {
	echo 1 >"$MNT/e"
	mkdir "$MNT/d"
	echo 2 >"$MNT/d/x"
	mkdir "$MNT/.tx/T"
	setfattr -n user.kv.expire_in -v 300 "$MNT/.tx/T/e"
	mv "$MNT/.tx/T/d/x" "$MNT/.tx/T/d/y"
	setfattr -n user.kv.expire_in -v 300 "$MNT/.tx/T/d/y"
	[ "$(t cat "$MNT/.tx/T/e")" = 1 ]
	sleep 0.5
	[ ! -e "$MNT/.tx/T/e" ] && [ ! -e "$MNT/.tx/T/d/y" ]
	run -0 t ls "$MNT/.tx/T/d"
	[ -z "$output" ]
	run -0 t rmdir "$MNT/.tx/T/d"                # nothing left in it
	[ -e "$MNT/e" ]                              # not committed yet
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ ! -e "$MNT/e" ] && [ ! -e "$MNT/d" ]
}

@test "inside T a too large expire_in is EINVAL at once and stages nothing" {
	echo 1 >"$MNT/far"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	for ms in 100000000000000000 8630000000000000; do
		run -1 --separate-stderr t setfattr -n user.kv.expire_in -v "$ms" "$MNT/.tx/T/far"
		[[ $stderr == *"Invalid argument"* ]]
	done
	run -1 t getfattr -n user.kv.expire_in "$MNT/.tx/T/far"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(rows)" = "$before" ]
}

@test "a rewrite inside T keeps the expiry stored at the commit, not the one T saw when it wrote" {
	echo 1 >"$MNT/had"
	setfattr -n user.kv.expire_in -v 600000 "$MNT/had"
	echo 2 >"$MNT/got"
	mkdir "$MNT/.tx/T"
	echo 11 >"$MNT/.tx/T/had"                     # written without a read: no check
	echo 22 >"$MNT/.tx/T/got"
	setfattr -x user.kv.expires_at "$MNT/had"     # meanwhile, outside T
	setfattr -n user.kv.expire_in -v 300000 "$MNT/got"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(t cat "$MNT/had")" = 11 ] && [ "$(t cat "$MNT/got")" = 22 ]
	[ "$(ttl_of '["had"]')" = none ]
	ttl=$(ttl_of '["got"]'); [ "$ttl" -gt 280 ] && [ "$ttl" -le 300 ]
}

@test "a read inside T past the 100 checks is E2BIG but leaves T able to commit what it staged" {
	load_big 105
	mkdir "$MNT/.tx/T"
	echo 1 >"$MNT/.tx/T/before"
	n=0
	for f in $(ls "$MNT/big" | head -100); do
		t cat "$MNT/.tx/T/big/$f" >/dev/null
		n=$((n + 1))
	done
	[ "$n" -eq 100 ]
	last=$(ls "$MNT/big" | tail -1)
	run -1 --separate-stderr t cat "$MNT/.tx/T/big/$last"
	[[ $stderr == *"Argument list too long"* ]]
	grep -q "cannot read '.tx/T/big/$last': Too many checks (max 100)" "$KVFS_LOG"
	run -1 --separate-stderr t setfattr -n user.kv.check -v null "$MNT/.tx/T/big/$last"
	[[ $stderr == *"Argument list too long"* ]]
	echo 2 >"$MNT/.tx/T/after"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(t cat "$MNT/before")" = 1 ] && [ "$(t cat "$MNT/after")" = 2 ]
}

@test "inside T a directory moved away and back shows only what came back" {
	mkdir -p "$MNT/q1/s"
	echo 1 >"$MNT/q1/a"
	echo 2 >"$MNT/q1/s/b"
	mkdir "$MNT/.tx/T"
	mv "$MNT/.tx/T/q1" "$MNT/.tx/T/q2"
	mv "$MNT/.tx/T/q2/s" "$MNT/.tx/T/qs"
	mv "$MNT/.tx/T/q2" "$MNT/.tx/T/q1"
	run -0 t ls "$MNT/.tx/T/q1"
	[ "$output" = a ]
	run -0 t ls "$MNT/.tx/T/qs"
	[ "$output" = b ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(dump | jq -c .key | tr '\n' ' ')" = '["q1","a"] ["qs","b"] ' ]
}

@test "inside T a file made with touch moves, with the expiry it will give its first value; not onto a value" {
	echo 1 >"$MNT/v"
	before=$(rows)
	mkdir "$MNT/.tx/T"
	touch "$MNT/.tx/T/e1"
	setfattr -n user.kv.expire_in -v 300000 "$MNT/.tx/T/e1"
	run -0 t mv "$MNT/.tx/T/e1" "$MNT/.tx/T/e2"
	[ ! -e "$MNT/.tx/T/e1" ] && [ -f "$MNT/.tx/T/e2" ]
	touch "$MNT/.tx/T/e3"
	run -1 --separate-stderr t mv "$MNT/.tx/T/e3" "$MNT/.tx/T/v"
	[[ $stderr == *"Bad message"* ]]
	[ "$(t cat "$MNT/.tx/T/v")" = 1 ]
	echo 5 >"$MNT/.tx/T/e2"
	[ "$(rows)" = "$before" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(t cat "$MNT/e2")" = 5 ]
	ttl=$(ttl_of '["e2"]'); [ "$ttl" -gt 280 ] && [ "$ttl" -le 300 ]
	[ ! -e "$MNT/e3" ]
}

@test "transactions of a mount that ends are dropped" {
	mkdir "$MNT/.tx/T"
	echo 1 >"$MNT/.tx/T/k"
	kvfs_unmount
	kvfs_mount
	run -0 t ls "$MNT/.tx"
	[ -z "$output" ]
	[ -z "$(rows)" ]
}

@test "mv inside T reads what it moves: the commit fails when the source changed meanwhile" {
	echo '"v1"' >"$MNT/src"
	mkdir "$MNT/.tx/M"
	t mv "$MNT/.tx/M/src" "$MNT/.tx/M/dst"
	echo '"v2"' >"$MNT/src"
	run -1 --separate-stderr t mv "$MNT/.tx/M" "$MNT/.commit/M"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(cat "$MNT/src")" = '"v2"' ]
	[ ! -e "$MNT/dst" ]
	rm -rf "$MNT/.tx/M"
	# removed meanwhile: no stale value comes back under the new name
	mkdir "$MNT/.tx/N"
	t mv "$MNT/.tx/N/src" "$MNT/.tx/N/dst"
	rm "$MNT/src"
	run -1 t mv "$MNT/.tx/N" "$MNT/.commit/N"
	[ ! -e "$MNT/dst" ] && [ ! -e "$MNT/src" ]
	rm -rf "$MNT/.tx/N"
	# unchanged: the move commits
	echo '"v3"' >"$MNT/src"
	mkdir "$MNT/.tx/O"
	t mv "$MNT/.tx/O/src" "$MNT/.tx/O/dst"
	run -0 t mv "$MNT/.tx/O" "$MNT/.commit/O"
	[ "$(cat "$MNT/dst")" = '"v3"' ] && [ ! -e "$MNT/src" ]
}

@test "two transactions summing onto a new counter both commit, as Deno's sums do" {
	mkdir "$MNT/.tx/S1" "$MNT/.tx/S2"
	touch "$MNT/.tx/S1/cnt" "$MNT/.tx/S2/cnt"
	setfattr -n user.kv.sum -v 1 "$MNT/.tx/S1/cnt"
	setfattr -n user.kv.sum -v 1 "$MNT/.tx/S2/cnt"
	run -0 t mv "$MNT/.tx/S1" "$MNT/.commit/S1"
	run -0 t mv "$MNT/.tx/S2" "$MNT/.commit/S2"
	run -0 t cat "$MNT/cnt"
	[ "$output" = '{"$u64":"2"}' ]
}

# rename(2) SRC DST; prints the errno and fails on refusal
rename_errno() {
	t python3 -c 'import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    print(e.errno); sys.exit(1)' "$@"
}

@test "mv of a directory of 150 files inside T moves it in T's view; the commit stores it at the new place" {
	load_big 150
	echo '"own"' >"$MNT/big/.value"
	mkdir "$MNT/.tx/T"
	echo '"staged"' >"$MNT/.tx/T/big/new"        # staged by T, not stored
	rm "$MNT/.tx/T/big/0"                        # deleted by T: does not move
	mkdir "$MNT/.tx/T/big/sub"                   # made in T, empty
	before=$(rows)
	run -0 --separate-stderr t mv "$MNT/.tx/T/big" "$MNT/.tx/T/moved"
	[ -z "$stderr" ]
	[ ! -e "$MNT/.tx/T/big" ]
	run -0 t ls "$MNT/.tx/T/moved"
	[ "${#lines[@]}" = 151 ]                     # 1..149, new, sub
	[ -d "$MNT/.tx/T/moved/sub" ]
	run -0 t cat "$MNT/.tx/T/moved/7" "$MNT/.tx/T/moved/new" "$MNT/.tx/T/moved/.value"
	[ "$output" = "$(printf '7\n"staged"\n"own"')" ]
	[ "$(rows)" = "$before" ]
	run -0 t ls "$MNT/big"
	[ "${#lines[@]}" = 150 ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	vs=$(jq -r .versionstamp "$MNT/.commit/T")
	[ ! -e "$MNT/big" ]
	run -0 t ls "$MNT/moved"
	[ "${#lines[@]}" = 150 ]                     # sub was only in T's memory
	run -0 t cat "$MNT/moved/1" "$MNT/moved/149" "$MNT/moved/new" "$MNT/moved/.value"
	[ "$output" = "$(printf '1\n149\n"staged"\n"own"')" ]
	[ "$(dump moved | wc -l)" = 151 ]
	[ "$(dump moved | jq -r .versionstamp | sort -u)" = "$vs" ]
	[ "$(dump | jq -c .key | grep -c '"big"')" = 0 ]
	run -0 t cat "$MNT/top" "$MNT/d/x"
	[ "$output" = "$(printf '1\n2')" ]
}

@test "a key moved by mv of a directory inside T and changed outside T fails the commit with EAGAIN" {
	load_big 150
	mkdir "$MNT/.tx/T"
	run -0 t mv "$MNT/.tx/T/big" "$MNT/.tx/T/moved"
	echo 99 >"$MNT/big/42"                        # changed after the mv read it
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(rows)" = "$before" ]
	[ -d "$MNT/.tx/T/moved" ]
	grep -q "cannot commit '.tx/T': a check failed" "$KVFS_LOG"
	rm -rf "$MNT/.tx/T"
	# removed meanwhile: it does not come back under the new name
	mkdir "$MNT/.tx/U"
	run -0 t mv "$MNT/.tx/U/big" "$MNT/.tx/U/moved"
	rm "$MNT/big/7"
	before=$(rows)
	run -1 t mv "$MNT/.tx/U" "$MNT/.commit/U"
	[ "$(rows)" = "$before" ]
	rm -rf "$MNT/.tx/U"
	# a key made at the new place meanwhile is not overwritten
	mkdir "$MNT/.tx/V"
	run -0 t mv "$MNT/.tx/V/big" "$MNT/.tx/V/moved"
	mkdir "$MNT/moved"
	echo '"theirs"' >"$MNT/moved/5"
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/.tx/V" "$MNT/.commit/V"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(rows)" = "$before" ]
	[ "$(cat "$MNT/moved/5")" = '"theirs"' ]
}

@test "mv of a directory inside T onto a non-empty directory, into itself or onto a file is refused; nothing is staged" {
	load_big 150
	echo 3 >"$MNT/file"
	mkdir "$MNT/.tx/T"
	mkdir "$MNT/.tx/T/made" "$MNT/.tx/T/made/inner"    # only in T, not empty
	before=$(rows)
	run -1 rename_errno "$MNT/.tx/T/big" "$MNT/.tx/T/d"
	[ "$output" = 39 ]        # ENOTEMPTY: d holds x
	run -1 rename_errno "$MNT/.tx/T/big" "$MNT/.tx/T/made"
	[ "$output" = 39 ]
	mkdir "$MNT/.tx/T/big/sub"
	run -1 rename_errno "$MNT/.tx/T/big" "$MNT/.tx/T/big/sub/deeper"
	[ "$output" = 22 ]        # EINVAL: into itself
	run -1 rename_errno "$MNT/.tx/T/big" "$MNT/.tx/T/file"
	[ "$output" = 20 ]        # ENOTDIR
	run -1 --separate-stderr t mv -T "$MNT/.tx/T/big" "$MNT/.tx/T/d"
	[[ $stderr == *"Directory not empty"* ]]
	# nothing moved in T's view, and an empty directory can be the target
	run -0 t ls "$MNT/.tx/T/big"
	[ "${#lines[@]}" = 151 ]
	[ "$(t cat "$MNT/.tx/T/d/x")" = 2 ]
	mkdir "$MNT/.tx/T/empty"
	run -0 rename_errno "$MNT/.tx/T/big" "$MNT/.tx/T/empty"
	[ ! -e "$MNT/.tx/T/big" ]
	[ "$(t cat "$MNT/.tx/T/empty/3")" = 3 ]
	[ "$(rows)" = "$before" ]
	rm -rf "$MNT/.tx/T"
	[ "$(rows)" = "$before" ]
}

@test "mv of a directory inside T past the mutation or byte limit: E2BIG, nothing staged, T cannot commit" {
	load_big 600
	mkdir "$MNT/.tx/T"
	before=$(rows)
	run -1 rename_errno "$MNT/.tx/T/big" "$MNT/.tx/T/moved"
	[ "$output" = 7 ]         # E2BIG: 1200 mutations
	grep -q "cannot move '.tx/T/big': Too many mutations (max 1000)" "$KVFS_LOG"
	[ ! -e "$MNT/.tx/T/moved" ]
	run -0 t ls "$MNT/.tx/T/big"
	[ "${#lines[@]}" = 600 ]
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Argument list too long"* ]]
	[ "$(rows)" = "$before" ]
	run -0 t rm -rf "$MNT/.tx/T"
	# 20 values of 50 KB each: over 800 KiB
	mkdir "$MNT/large"
	for i in $(seq 20); do
		head -c 50000 /dev/zero | tr '\0' a | sed 's/.*/"&"/' >"$MNT/large/$i"
	done
	before=$(rows)
	mkdir "$MNT/.tx/U"
	run -1 rename_errno "$MNT/.tx/U/large" "$MNT/.tx/U/moved"
	[ "$output" = 7 ]
	run -0 t ls "$MNT/.tx/U/large"
	[ "${#lines[@]}" = 20 ]
	run -1 t mv "$MNT/.tx/U" "$MNT/.commit/U"
	[ "$(rows)" = "$before" ]
}

@test "inside T a moved file or directory opens at once under its new name" {
	mkdir "$MNT/d"
	echo 1 >"$MNT/d/a"
	echo 2 >"$MNT/f"
	mkdir "$MNT/.tx/T"
	run -0 t cat "$MNT/.tx/T/f" "$MNT/.tx/T/d/a"   # the kernel now holds these names
	run -0 t mv "$MNT/.tx/T/f" "$MNT/.tx/T/g"
	run -0 t cat "$MNT/.tx/T/g"
	[ "$output" = 2 ]
	run -0 rename_errno "$MNT/.tx/T/d" "$MNT/.tx/T/e"
	run -0 t cat "$MNT/.tx/T/e/a"
	[ "$output" = 1 ]
	echo 3 >"$MNT/.tx/T/e/a"                      # written under its new key
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(dump | jq -c '[.key, .value]' | tr '\n' ' ')" = '[["e","a"],3] [["g"],2] ' ]
}

@test "inside T .value of a directory without a value of its own can be written; it is staged until the commit" {
	mkdir "$MNT/a"
	echo 1 >"$MNT/a/b"
	mkdir "$MNT/.tx/T"
	before=$(rows)
	run -0 --separate-stderr t bash -c "echo 5 > '$MNT/.tx/T/a/.value'"
	[ -z "$stderr" ]
	run -0 t cat "$MNT/.tx/T/a/.value" "$MNT/.tx/T/a/b"
	[ "$output" = "$(printf '5\n1')" ]
	run -0 t ls -A "$MNT/.tx/T/a"
	[ "$output" = "$(printf '.value\nb')" ]
	[ ! -e "$MNT/a/.value" ]
	[ "$(rows)" = "$before" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/a/.value" "$MNT/a/b"
	[ "$output" = "$(printf '5\n1')" ]
	# the top of T has no value, and other dot-names are still refused
	mkdir "$MNT/.tx/U"
	before=$(rows)
	run -1 --separate-stderr t bash -c "echo 1 > '$MNT/.tx/U/.value'"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 --separate-stderr t bash -c "echo 1 > '$MNT/.tx/U/a/.other'"
	[[ $stderr == *"Operation not permitted"* ]]
	grep -q "cannot create '.tx/U/a/.other': names starting with '.' are not keys" "$KVFS_LOG"
	run -0 t mv "$MNT/.tx/U" "$MNT/.commit/U"
	[ "$(rows)" = "$before" ]
}

@test "inside T a .value found absent and then written must still be absent at the commit" {
	mkdir "$MNT/a"
	echo 1 >"$MNT/a/b"
	mkdir "$MNT/.tx/T"
	echo 5 >"$MNT/.tx/T/a/.value"
	echo 7 >"$MNT/a/.value"                        # someone else, meanwhile
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Resource temporarily unavailable"* ]]
	[ "$(rows)" = "$before" ]
	[ "$(cat "$MNT/a/.value")" = 7 ]
}

@test "inside T a key shows its stored expiry; a rewrite keeps it, a key removed and written again has none" {
	echo 1 >"$MNT/k"
	setfattr -n user.kv.expire_in -v 100000 "$MNT/k"
	echo 2 >"$MNT/j"
	mkdir "$MNT/d"
	echo 3 >"$MNT/d/x"
	at=$(getfattr --only-values -n user.kv.expires_at "$MNT/k")
	mkdir "$MNT/.tx/T"
	in=$(getfattr --only-values -n user.kv.expire_in "$MNT/.tx/T/k")
	[[ $in =~ ^[0-9]+$ ]] && [ "$in" -gt 0 ] && [ "$in" -le 100000 ]
	[ "$(getfattr --only-values -n user.kv.expires_at "$MNT/.tx/T/k")" = "$at" ]
	for x in expire_in expires_at; do
		run -1 --separate-stderr getfattr -n user.kv.$x "$MNT/.tx/T/j"
		[[ $stderr == *"No such attribute"* ]]
		run -1 --separate-stderr getfattr -n user.kv.$x "$MNT/.tx/T/d"
		[[ $stderr == *"No such attribute"* ]]
	done
	echo 4 >"$MNT/.tx/T/k"                         # an edit keeps it, as outside T
	[ "$(getfattr --only-values -n user.kv.expires_at "$MNT/.tx/T/k")" = "$at" ]
	rm "$MNT/.tx/T/k"
	echo 5 >"$MNT/.tx/T/k"                         # a new value: none
	run -1 --separate-stderr getfattr -n user.kv.expire_in "$MNT/.tx/T/k"
	[[ $stderr == *"No such attribute"* ]]
	run -1 getfattr -n user.kv.expires_at "$MNT/.tx/T/k"
	[ "$(getfattr --only-values -n user.kv.expires_at "$MNT/k")" = "$at" ]
}

@test "a commit while a file in T is open for writing is EBUSY; a write after T is gone fails" {
	echo 0 >"$MNT/k"
	mkdir "$MNT/.tx/T"
	echo 1 >"$MNT/.tx/T/a"
	before=$(rows)
	# a writer still busy: half its value written, no close yet
	python3 -c 'import sys, time
f = open(sys.argv[1], "w"); f.write("[1,"); f.flush()
open(sys.argv[2], "w").close()
time.sleep(2); f.write("2]"); f.close()' "$MNT/.tx/T/k" "$BATS_TEST_TMPDIR/wrote" &
	writer=$!
	for i in $(seq 100); do [ -e "$BATS_TEST_TMPDIR/wrote" ] && break; sleep 0.05; done
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[[ $stderr == *"Device or resource busy"* ]]
	[ "$(rows)" = "$before" ]
	[ -d "$MNT/.tx/T" ]
	grep -q "cannot commit '.tx/T': a file in it is still open" "$KVFS_LOG"
	wait "$writer"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/k" "$MNT/a"
	[ "$output" = "$(printf '[1,2]\n1')" ]
	# open for writing holds T, written or not, until its opener closes it
	mkdir "$MNT/.tx/W"
	run -0 t bash -c "exec 5>'$MNT/.tx/W/k'
		mv '$MNT/.tx/W' '$MNT/.commit/W' 2>/dev/null && exit 1
		printf 3 >&5      # stages 3: bash closes its copy of the descriptor
		mv '$MNT/.tx/W' '$MNT/.commit/W' || exit 2
		printf 4 >&5 2>/dev/null && exit 3     # T is gone
		exec 5>&-"
	run -0 t cat "$MNT/k"
	[ "$output" = 3 ]
	# the kernel's RELEASE of a file its opener closed comes after close()
	# returned (here a copy of the descriptor delays it): the commit goes on
	mkdir "$MNT/.tx/X" "$MNT/.tx/Y"
	run -0 t python3 -c 'import os, sys
t = sys.argv[1] + "/.tx/"
fd = os.open(t + "X/k", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"8")
copy = os.dup(fd)
os.close(fd)
os.rename(t + "X", sys.argv[1] + "/.commit/X")
os.close(copy)
# a write through a copy after the close makes the file a writer again
fd = os.open(t + "Y/j", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"9")
again = os.dup(fd)
os.close(fd)
os.write(again, b"0")
try:
    os.rename(t + "Y", sys.argv[1] + "/.commit/Y")
    sys.exit("committed while a copy wrote")
except OSError as e:
    assert e.errno == 16, e
os.close(again)
os.rename(t + "Y", sys.argv[1] + "/.commit/Y")' "$MNT"
	run -0 t cat "$MNT/k" "$MNT/j"
	[ "$output" = "$(printf '8\n90')" ]
	echo 3 >"$MNT/k"
	# a file T removed while it is open for writing cannot stage: it holds nothing
	mkdir "$MNT/.tx/R"
	echo 5 >"$MNT/.tx/R/r"
	run -0 t bash -c "exec 6>'$MNT/.tx/R/gone'
		rm '$MNT/.tx/R/gone'
		mv '$MNT/.tx/R' '$MNT/.commit/R'"
	run -0 t cat "$MNT/r"
	[ "$output" = 5 ]
	[ ! -e "$MNT/gone" ]
	# a handle whose T was aborted cannot write anywhere: its write fails
	mkdir "$MNT/.tx/U"
	run -1 --separate-stderr t bash -c "exec 5>'$MNT/.tx/U/k'; printf 4 >&5 && rm -r '$MNT/.tx/U' && printf 5 >&5"
	[[ $stderr == *"No such file or directory"* ]]
	run -0 t cat "$MNT/k"
	[ "$output" = 3 ]
	grep -q "cannot stage '.tx/U/k': the transaction is gone" "$KVFS_LOG"
	# a handle whose text was refused will never stage anything: it does not hold T up
	mkdir "$MNT/.tx/V"
	run -0 t python3 -c 'import os, sys
fd = os.open(sys.argv[1] + "/.tx/V/k", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
try:
    os.write(fd, b"{\"$bigInt\":\"5\"}")
    sys.exit("the write was taken")
except OSError:
    pass
echo = os.open(sys.argv[1] + "/.tx/V/j", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(echo, b"7"); os.close(echo)
os.rename(sys.argv[1] + "/.tx/V", sys.argv[1] + "/.commit/V")
try:
    os.close(fd)      # the refusal again
except OSError:
    pass' "$MNT"
	run -0 t cat "$MNT/j" "$MNT/k"
	[ "$output" = "$(printf '7\n3')" ]
}

@test "mv between the key tree and a transaction is EPERM: nothing deleted, T kept" {
	echo 1 >"$MNT/k"
	mkdir "$MNT/.tx/T"
	echo 2 >"$MNT/.tx/T/s"
	before=$(rows)
	run -1 --separate-stderr t mv "$MNT/k" "$MNT/.tx/T/k2"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 --separate-stderr t mv "$MNT/.tx/T/s" "$MNT/s"
	[[ $stderr == *"Operation not permitted"* ]]
	# a typo for .commit/T: T stays, with what it staged
	run -1 --separate-stderr t mv "$MNT/.tx/T" "$MNT/T"
	[[ $stderr == *"Operation not permitted"* ]]
	[ "$(rows)" = "$before" ]
	grep -q "cannot rename 'k' to '.tx/T/k2': only a rename of .tx/T into .commit" "$KVFS_LOG"
	grep -q "cannot rename '.tx/T/s' to 's': only a rename of .tx/T into .commit" "$KVFS_LOG"
	grep -q "cannot rename '.tx/T' to 'T': only a rename of .tx/T into .commit" "$KVFS_LOG"
	run -0 t cat "$MNT/k" "$MNT/.tx/T/s"
	[ "$output" = "$(printf '1\n2')" ]
	[ ! -e "$MNT/T" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/s"
	[ "$output" = 2 ]
}

@test "a commit that deletes a directory's last key keeps the directory, as rm does; one T removed goes" {
	mkdir "$MNT/v2" "$MNT/v3"
	echo 1 >"$MNT/v2/a"
	echo 2 >"$MNT/v3/b"
	mkdir "$MNT/.tx/T"
	rm "$MNT/.tx/T/v2/a"
	rm -r "$MNT/.tx/T/v3"
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ -z "$(rows)" ]
	[ -d "$MNT/v2" ]
	run -0 t ls -A "$MNT/v2"
	[ -z "$output" ]
	[ ! -e "$MNT/v3" ]
	run -0 t ls "$MNT"
	[ "$output" = v2 ]
}

@test "the control directories refuse what they cannot hold, each refusal on the log; nothing stored changes" {
	mkdir -p "$MNT/live"
	echo 1 >"$MNT/live/k"
	mkdir "$MNT/.tx/T"
	echo 2 >"$MNT/.tx/T/s"
	mkdir "$MNT/.tx/U" && mv "$MNT/.tx/U" "$MNT/.commit/U"
	before=$(rows)
	run -1 --separate-stderr t bash -c "echo 1 >'$MNT/.watch/live/k'"
	[[ $stderr == *"Permission denied"* ]]
	run -1 --separate-stderr t rm "$MNT/.watch/live/k"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 t rm "$MNT/.watch/live/.all"
	run -1 t bash -c "echo 1 >'$MNT/.commit/x'"
	run -1 t bash -c "echo 1 >>'$MNT/.commit/U'"
	run -1 t mkdir "$MNT/.commit/y"
	run -1 t bash -c "echo 1 >'$MNT/.tx/x'"
	run -1 t ln -s k "$MNT/.tx/T/l"
	run -1 t mkfifo "$MNT/.tx/T/f"
	run -1 --separate-stderr t rmdir "$MNT/.watch"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 t mv "$MNT/.commit" "$MNT/c2"
	[ "$(rows)" = "$before" ]
	[ "$(cat "$MNT/live/k" "$MNT/.tx/T/s")" = "$(printf '1\n2')" ]
	grep -q "cannot write '.watch/live/k': watch files follow the key space and are read-only" "$KVFS_LOG"
	grep -q "cannot remove '.watch/live/k': watch files" "$KVFS_LOG"
	grep -q "cannot remove '.watch/live/.all': watch files" "$KVFS_LOG"
	grep -q "cannot create '.commit/x': commit results come from mv .tx/T .commit/T" "$KVFS_LOG"
	grep -q "cannot write '.commit/U': commit results" "$KVFS_LOG"
	grep -q "cannot mkdir '.commit/y': commit results" "$KVFS_LOG"
	grep -q "cannot create '.tx/x': a transaction begins with mkdir .tx/T" "$KVFS_LOG"
	grep -q "cannot link '.tx/T/l': a key space has no links" "$KVFS_LOG"
	grep -q "cannot make '.tx/T/f': only regular files hold values" "$KVFS_LOG"
	grep -q "cannot remove '.watch': one of the mount's control directories" "$KVFS_LOG"
	grep -q "cannot rename '.commit': one of the mount's control directories" "$KVFS_LOG"
	# modes, owners and attributes, as in the key tree: a directory of T takes any mode
	before=$(rows)
	mkdir "$MNT/.tx/T/d"
	run -0 t chmod 700 "$MNT/.tx/T/d"
	run -1 t chmod 600 "$MNT/.tx/T/s"
	run -1 t chmod 700 "$MNT/.watch"
	run -1 --separate-stderr t setfattr -n user.other -v 1 "$MNT/.tx/T/s"
	[[ $stderr == *"Operation not supported"* ]]
	run -1 t setfattr -n user.kv.sum -v 1 "$MNT/.watch/live/k"
	run -1 t setfattr -n user.kv.sum -v 1 "$MNT/.tx/T"
	run -1 t setfattr -x user.kv.versionstamp "$MNT/.tx/T/s"
	run -1 t setfattr -x user.kv.expire_in "$MNT/.watch/live/k"
	[ "$(rows)" = "$before" ]
	grep -q "cannot change the owner or mode of '.tx/T/s': kvfs shows fixed ones" "$KVFS_LOG"
	grep -q "cannot change the owner or mode of '.watch': kvfs shows fixed ones" "$KVFS_LOG"
	! grep -q "owner or mode of '.tx/T/d'" "$KVFS_LOG"
	grep -q "cannot set user.other on '.tx/T/s': kvfs stores no other attributes" "$KVFS_LOG"
	grep -q "cannot set user.kv.sum on '.watch/live/k': sum, min, max and check are staged" "$KVFS_LOG"
	grep -q "cannot set user.kv.sum on '.tx/T': not on the top of T" "$KVFS_LOG"
	grep -q "cannot remove user.kv.versionstamp from '.tx/T/s': read-only attribute" "$KVFS_LOG"
	grep -q "cannot remove user.kv.expire_in from '.watch/live/k'" "$KVFS_LOG"
}

@test "a directory made by mkdir in the key tree is one inside T too: a key written under it commits" {
	mkdir -p "$MNT/jobs/new" "$MNT/jobs/old"
	mkdir "$MNT/.tx/T"
	run -0 t ls "$MNT/.tx/T/jobs"
	[ "$output" = "$(printf 'new\nold')" ]
	[ "$(stat -c %F "$MNT/.tx/T/jobs/new")" = directory ]
	echo 1 >"$MNT/.tx/T/jobs/new/x"
	run -0 t ls "$MNT/.tx/T/jobs/new"
	[ "$output" = x ]
	[ -z "$(ls "$MNT/jobs/new")" ]
	[ "$(rows)" = "" ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t cat "$MNT/jobs/new/x"
	[ "$output" = 1 ]
	run -0 t ls "$MNT/jobs"
	[ "$output" = "$(printf 'new\nold')" ]
}

