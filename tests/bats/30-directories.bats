#!/usr/bin/env bats
# Directories: prefixes, .value, memory-only mkdir, rmdir, rm -r, big listings.

load helpers

setup() {
	kvfs_mount
}

@test "a prefix is a directory, a leaf a file, a prefix with a value has .value" {
	mkdir "$MNT/a"
	echo 1 >"$MNT/a/.value" 2>/dev/null || true
	echo 2 >"$MNT/a/b"
	echo 3 >"$MNT/c"
	[ -d "$MNT/a" ]
	[ -f "$MNT/a/b" ]
	[ -f "$MNT/c" ]
	run -0 t ls -A "$MNT/a"
	[ "$output" = "$(printf '.value\nb')" ]
	run -0 t cat "$MNT/a/.value"
	[ "$output" = 1 ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 3 ]
}

@test "mkdir of an empty prefix stores nothing until a key is written under it" {
	mkdir -p "$MNT/x/y"
	[ -d "$MNT/x/y" ]
	[ -z "$(rows)" ]
	run -0 t ls "$MNT"
	[ "$output" = x ]
	echo 1 >"$MNT/x/y/z"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
	run -1 --separate-stderr t mkdir "$MNT/x"
	[[ $stderr == *"File exists"* ]]
}

@test "rmdir needs an empty prefix; rm -r removes everything" {
	mkdir -p "$MNT/p/q"
	echo 1 >"$MNT/p/q/a"
	echo 2 >"$MNT/p/b"
	before=$(rows)
	run -1 --separate-stderr t rmdir "$MNT/p"
	[[ $stderr == *"Directory not empty"* ]]
	[ "$(rows)" = "$before" ]
	mkdir "$MNT/empty"
	t rmdir "$MNT/empty"
	[ ! -e "$MNT/empty" ]
	t rm -r "$MNT/p"
	[ ! -e "$MNT/p" ]
	[ -z "$(rows)" ]
}

@test "a file key gains children: mv k .k; mkdir k; mv .k k/.value; and back" {
	echo '{"v":1}' >"$MNT/k"
	mv "$MNT/k" "$MNT/.k"
	mkdir "$MNT/k"
	mv "$MNT/.k" "$MNT/k/.value"
	echo 2 >"$MNT/k/child"
	[ -d "$MNT/k" ]
	run -0 t cat "$MNT/k/.value" "$MNT/k/child"
	[ "$output" = "$(printf '{"v":1}\n2')" ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 2 ]
	# the last child goes: the key is a file again
	rm "$MNT/k/child"
	for i in $(seq 50); do [ -f "$MNT/k" ] && break; sleep 0.1; done
	[ -f "$MNT/k" ]
	run -0 t cat "$MNT/k"
	[ "$output" = '{"v":1}' ]
}

@test "a directory of 100,000 keys lists completely and in key order" {
	# keys ["big", "k000000"] .. ["big", "k099999"], value true, straight into SQLite
	awk 'BEGIN { print "begin;"; for (i = 0; i < 100000; i++) {
		s = sprintf("%06d", i); h = "6b";
		for (j = 1; j <= 6; j++) h = h sprintf("%02x", 48 + substr(s, j, 1));
		printf "insert into kv(k,v,v_encoding,version) values(x%c026269670002%s00%c, x%cFF0F54%c, 1, 1);\n", 39, h, 39, 39, 39 }
		print "commit;" }' | sqlite3 "$DB"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 100000 ]
	t ls -f "$MNT/big" >"$BATS_TEST_TMPDIR/list"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/list")" -eq 100002 ]
	tail -n +3 "$BATS_TEST_TMPDIR/list" >"$BATS_TEST_TMPDIR/names"
	awk 'BEGIN { for (i = 0; i < 100000; i++) printf "k%06d\n", i }' | cmp - "$BATS_TEST_TMPDIR/names"
	run -0 t cat "$MNT/big/k099999"
	[ "$output" = true ]
}

@test "two handles on one directory, and seekdir back into an earlier reply, list the same names" {
	# 5,000 keys ["many", "k00000"] .. straight into SQLite: many replies per listing
	awk 'BEGIN { print "begin;"; for (i = 0; i < 5000; i++) {
		s = sprintf("%05d", i); h = "6b";
		for (j = 1; j <= 5; j++) h = h sprintf("%02x", 48 + substr(s, j, 1));
		printf "insert into kv(k,v,v_encoding,version) values(x%c026d616e790002%s00%c, x%cFF0F54%c, 1, 1);\n", 39, h, 39, 39, 39 }
		print "commit;" }' | sqlite3 "$DB"
	awk 'BEGIN { for (i = 0; i < 5000; i++) printf "k%05d\n", i }' >"$BATS_TEST_TMPDIR/want"
	run -0 t perl -e '
		my $d = shift;
		opendir(my $a, $d) or die; opendir(my $b, $d) or die;
		my (@a, @b, @again);
		push @a, scalar readdir($a) for 1 .. 1500;
		my $pos = telldir($a);
		push @b, scalar readdir($b) for 1 .. 700;   # the other handle, in between
		while (defined(my $n = readdir($a))) { push @a, $n }
		seekdir($a, $pos);                           # back into an earlier reply
		while (defined(my $n = readdir($a))) { push @again, $n }
		while (defined(my $n = readdir($b))) { push @b, $n }
		my @tail = @a[1500 .. $#a];
		die "seekdir: " . scalar(@again) . " names, want " . scalar(@tail) . "\n"
			unless "@again" eq "@tail";
		die "handles differ\n" unless "@a" eq "@b";
		# seekdir to many places, some inside the last reply the daemon sent
		for (my $p = 3; $p < 4800; $p += 23) {
			rewinddir($b);
			readdir($b) for 1 .. $p;
			my $at = telldir($b);
			my @x = map { scalar readdir($b) } 1 .. 40;
			seekdir($b, $at);
			my @y = map { scalar readdir($b) } 1 .. 40;
			die "seekdir after $p names\n" unless "@x" eq "@y" && "@x" eq "@a[$p .. $p + 39]";
		}
		print "$_\n" for grep { !/^\.\.?$/ } @a;
	' "$MNT/many"
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
}

@test "a listing that switches between readdir and readdirplus lists every name once, with right sizes" {
	# 5,000 keys ["many", "k00000"] .. with strings of 0..49 x's: file sizes 3..52
	awk 'BEGIN { print "begin;"; for (i = 0; i < 5000; i++) {
		s = sprintf("%05d", i); h = "6b";
		for (j = 1; j <= 5; j++) h = h sprintf("%02x", 48 + substr(s, j, 1));
		m = i % 50; v = ""; for (j = 0; j < m; j++) v = v "78";
		printf "insert into kv(k,v,v_encoding,version) values(x%c026d616e790002%s00%c, x%cFF0F22%02x%s%c, 1, 1);\n", 39, h, 39, 39, m, v, 39 }
		print "commit;" }' | sqlite3 "$DB"
	awk 'BEGIN { for (i = 0; i < 5000; i++) printf "k%05d\n", i }' >"$BATS_TEST_TMPDIR/want"
	# A stat of a name the kernel does not know yet is a lookup, after
	# which its next request on the open directory is a readdirplus; the
	# plain readdirs between read names only.
	run -0 t python3 -c '
import os, sys
d = sys.argv[1]
names = []
with os.scandir(d) as it:
    for i, e in enumerate(it):
        names.append(e.name)
        if i % 450 == 7 or i % 450 == 300:
            size = os.stat(os.path.join(d, e.name)).st_size
            if size != int(e.name[1:]) % 50 + 3:
                sys.exit("%s: size %d" % (e.name, size))
print("\n".join(names))
' "$MNT/many"
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
}

@test "memory-only directories and empty files are listed in key order with stored keys" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/c"
	echo 3 >"$MNT/7n"
	mkdir "$MNT/b" "$MNT/5"
	touch "$MNT/d" "$MNT/0x01"
	mkdir "$MNT/s"
	echo 4 >"$MNT/s/k"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 4 ]
	# bytes < strings < bigints < numbers, stored or not
	run -0 t ls -f "$MNT"
	[ "$output" = "$(printf '%s\n' . .. 0x01 a b c d s 7n 5)" ]
	# readdirplus too (ls -l), and the same order from a cold cache
	run -0 t ls -Ual "$MNT"
	[ "$(echo "$output" | awk 'NR > 1 { print $NF }' | tr '\n' ' ')" = ". .. 0x01 a b c d s 7n 5 " ]
}

@test "touch of a new key: an empty file kept in memory until a value is written" {
	echo 1 >"$MNT/old"
	before=$(rows)
	run -0 t touch "$MNT/new"
	[ -f "$MNT/new" ]
	[ "$(stat -c %s "$MNT/new")" -eq 0 ]
	run -0 t cat "$MNT/new"
	[ -z "$output" ]
	[ "$(rows)" = "$before" ]
	# touch of an existing key stores nothing either
	run -0 t touch "$MNT/old"
	[ "$(rows)" = "$before" ]
	# cutting it to nothing leaves it empty, as on any file system
	run -0 t truncate -s 0 "$MNT/new"
	[ -f "$MNT/new" ]
	[ "$(rows)" = "$before" ]
	# an empty dot-file renamed onto a new name (rsync's temporary file) is one too
	: >"$MNT/.tmp"
	run -0 t mv "$MNT/.tmp" "$MNT/fromdot"
	[ -f "$MNT/fromdot" ] && [ ! -e "$MNT/.tmp" ]
	[ "$(stat -c %s "$MNT/fromdot")" -eq 0 ]
	[ "$(rows)" = "$before" ]
	: >"$MNT/.tmp"
	run -1 t mv "$MNT/.tmp" "$MNT/old"       # not onto a stored value
	[ "$(rows)" = "$before" ]
	# it cannot replace a stored value (EINVAL), and nothing changes
	run -1 t mv "$MNT/new" "$MNT/old"
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'old': an empty file is not a value" "$KVFS_LOG"
	# renamed, it stays in memory; written, it is stored once
	t mv "$MNT/new" "$MNT/new2"
	[ ! -e "$MNT/new" ]
	[ "$(rows)" = "$before" ]
	echo '"v"' >"$MNT/new2"
	run -0 t cat "$MNT/new2"
	[ "$output" = '"v"' ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 2 ]
	# rm of an empty file removes it; rmdir sees one as content
	mkdir "$MNT/d"
	touch "$MNT/d/e"
	run -1 --separate-stderr t rmdir "$MNT/d"
	[[ $stderr == *"Directory not empty"* ]]
	t rm "$MNT/d/e"
	[ ! -e "$MNT/d/e" ]
	t rmdir "$MNT/d"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 2 ]
}

@test "mkdir of a dot-name is EPERM: dot-names are never keys" {
	echo 1 >"$MNT/k"
	before=$(rows)
	run -1 --separate-stderr t mkdir "$MNT/.git"
	[[ $stderr == *"Operation not permitted"* ]]
	[ ! -e "$MNT/.git" ]
	[ "$(rows)" = "$before" ]
	grep -q "cannot mkdir '.git': names starting with '.' are not keys" "$KVFS_LOG"
}

@test "a directory whose last key goes while a dot-file is in it stays a directory, and is not empty" {
	mkdir "$MNT/d"
	echo 1 >"$MNT/d/k"
	echo '{"swap":1}' >"$MNT/d/.k.swp"
	rm "$MNT/d/k"
	[ -d "$MNT/d" ]
	run -0 t cat "$MNT/d/.k.swp"
	[ "$output" = '{"swap":1}' ]
	# a directory moved onto it would lose the dot-file: refused
	mkdir "$MNT/e"
	run -1 --separate-stderr t mv -T "$MNT/e" "$MNT/d"
	[[ $stderr == *"Directory not empty"* ]]
	run -1 --separate-stderr t rmdir "$MNT/d"
	[[ $stderr == *"Directory not empty"* ]]
	rm "$MNT/d/.k.swp"
	rmdir "$MNT/d"
	[ ! -e "$MNT/d" ]
	[ -z "$(rows)" ]
}

@test "a key next to a sibling that is it and a NUL more stays a file in listings (key tree, memory, T)" {
	# ["a\u0000b"] starts with the bytes of ["a"] (a NUL in a part is 00 FF), yet is its sibling
	echo 1 >"$MNT/\"\""
	echo 2 >"$MNT/\"\\u0000\""
	echo 3 >"$MNT/0x01"
	echo 4 >"$MNT/0x0100"
	echo 5 >"$MNT/c"
	mkdir "$MNT/\"c\\u0000d\""
	run -0 t ls -l "$MNT"
	types=$(printf '%s\n' "$output" | awk 'NR > 1 { print substr($1, 1, 1) $NF }' | sort)
	[ "$types" = "$(printf '%s\n' '-""' '-"\u0000"' '-0x01' '-0x0100' '-c' 'd"c\u0000d"' | sort)" ]
	# the kernel now has the listing's types: each file still reads as one
	run -0 t cat "$MNT/\"\"" "$MNT/\"\\u0000\"" "$MNT/0x01" "$MNT/0x0100" "$MNT/c"
	[ "$output" = "$(printf '1\n2\n3\n4\n5')" ]
	run -0 t getfattr --absolute-names --only-values -n user.kv.key "$MNT/\"\""
	[ "$output" = '[""]' ]
	[ "$(t find "$MNT" -type f | wc -l)" -eq 5 ]
	# inside a transaction, staged keys alike
	mkdir "$MNT/.tx/T" "$MNT/.tx/T/d"
	echo 6 >"$MNT/.tx/T/d/e"
	echo 7 >"$MNT/.tx/T/d/\"e\\u0000f\""
	run -0 t ls -l "$MNT/.tx/T/d"
	[ "$(printf '%s\n' "$output" | awk 'NR > 1 { print substr($1, 1, 1) }' | tr -d '\n')" = "--" ]
	run -0 t cat "$MNT/.tx/T/d/e"
	[ "$output" = 6 ]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	run -0 t ls -l "$MNT/d"
	[ "$(printf '%s\n' "$output" | awk 'NR > 1 { print substr($1, 1, 1) }' | tr -d '\n')" = "--" ]
}

@test "a key whose name is over the kernel's limit is left out of listings, logged once; its siblings list" {
	kvfs_unmount
	long=$(printf '\\u0001%.0s' $(seq 683))      # a 694-byte key part, named in 4100 bytes
	mid=$(printf 'b%.0s' $(seq 2000))            # a name of 2000 bytes: within newer kernels' limit
	printf '%s\n' '{"key":["L","a"],"value":1}' "{\"key\":[\"L\",\"$long\"],\"value\":2}" \
		"{\"key\":[\"L\",\"$mid\"],\"value\":3}" '{"key":["L","z"],"value":4}' | "$KVFS_BIN" load "$DB"
	kvfs_mount
	run -0 t ls "$MNT/L"
	[ "${lines[0]}" = a ]
	[ "${lines[${#lines[@]}-1]}" = z ]
	[[ $output != *'\u0001'* ]]
	grep -q "cannot list 'L/\"\\\\u0001.*a name of 4100 bytes is more than this kernel takes" "$KVFS_LOG"
	[ "$(grep -c "a name of 4100 bytes" "$KVFS_LOG")" -eq 1 ]
	mkdir "$MNT/.tx/T"
	run -0 t ls "$MNT/.tx/T/L" "$MNT/.watch/L"
	[[ $output != *'\u0001'* ]]
	[ "$(printf '%s\n' "$output" | grep -cx z)" -eq 2 ]
	# a kernel that takes names longer than 1024 bytes (the mount asks it at
	# start, by a lookup of its own) gets them listed
	found=0
	for i in $(seq 20); do
		t ls "$MNT/L" | grep -qx "$mid" && { found=1; break; }
		sleep 0.1
	done
	if stat "$MNT/L/$mid" >/dev/null 2>&1; then
		[ "$found" = 1 ]
	fi
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 4 ]
}

@test "a key with a value and only memory-only entries below it lists as a directory, as its lookup says" {
	mkdir -p "$MNT/app/cache" "$MNT/q"
	echo '"v"' >"$MNT/app/.value"
	touch "$MNT/q/.swp"
	echo 1 >"$MNT/q/.value"
	run -0 t ls -l "$MNT"
	[ "$(printf '%s\n' "$output" | awk 'NR > 1 { print substr($1, 1, 1) $NF }' | tr '\n' ' ')" = "dapp dq " ]
	# the kernel now has the listing's types: both still open as directories
	run -0 t ls -A "$MNT/app" "$MNT/q"
	[[ $output == *".value"*"cache"*".swp"*".value"* ]]
	run -0 t cat "$MNT/app/.value" "$MNT/q/.value"
	[ "$output" = "$(printf '"v"\n1')" ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 2 ]
}
