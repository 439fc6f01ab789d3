#!/usr/bin/env bats
# Reading and writing values: one set per written handle, refusals at write().

load helpers

setup() {
	kvfs_mount
}

@test "cat prints the value and a newline; st_size is exact" {
	echo '{"theme":"dark"}' >"$MNT/ada"
	run -0 t cat "$MNT/ada"
	[ "$output" = '{"theme":"dark"}' ]
	[ "$(stat -c %s "$MNT/ada")" -eq 17 ]
	[ "$(t cat "$MNT/ada" | wc -c)" -eq 17 ]
}

@test "a redirection stores one value: the early flush stores nothing" {
	echo '{"a":1}' >"$MNT/k"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
	v1=$(sqlite3 "$DB" 'select version from kv')
	# the version moved by exactly one commit since the database was created
	[ "$(sqlite3 "$DB" 'select version from data_version')" = "$v1" ]
	# a handle that writes nothing commits nothing: `: > k` keeps the value
	: >"$MNT/k"
	[ "$(sqlite3 "$DB" 'select version from kv')" = "$v1" ]
	run -0 t cat "$MNT/k"
	[ "$output" = '{"a":1}' ]
}

@test "echo hello > key fails in bash with EINVAL and changes nothing" {
	echo 1 >"$MNT/k"
	before=$(rows)
	run -1 --separate-stderr t bash -c "echo hello > '$MNT/k'"
	[[ $stderr == *"write error: Invalid argument"* ]]
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'k': invalid JSON" "$KVFS_LOG"
	run -1 --separate-stderr t bash -c "echo hello > '$MNT/new'"
	[ "$(rows)" = "$before" ]
}

@test "a whole document that is no value (a bad \$ tag) fails at write() in bash, in the key tree and in T" {
	echo 1 >"$MNT/k"
	before=$(rows)
	for bad in '{"$bigInt":"5"}' '{"$u64":"18446744073709551616"}' '{"$date":"2024-13-01T00:00:00.000Z"}' '{"$bytes":"!!"}'; do
		run -1 --separate-stderr t bash -c "echo '$bad' > '$MNT/k'"
		[[ $stderr == *"write error: Invalid argument"* ]]
		run -1 --separate-stderr t bash -c "echo '$bad' > '$MNT/new'"
		[[ $stderr == *"write error: Invalid argument"* ]]
	done
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'k': .*\$u64" "$KVFS_LOG"
	# JSON from elsewhere with a one-key '$' object: the log says how to write it
	run -1 t bash -c "echo '{\"schema\":{\"\$ref\":\"#/defs/a\"}}' > '$MNT/k'"
	[ "$(rows)" = "$before" ]
	grep -qF "cannot store 'k': invalid JSON: '\$ref' must be the number of an earlier object (0..0) (a one-key object whose key starts with '\$' is a tag; a plain one is written {\"\$object\":{...}})" "$KVFS_LOG"
	run -0 t bash -c "echo '{\"schema\":{\"\$object\":{\"\$ref\":\"#/defs/a\"}}}' > '$MNT/k'"
	run -0 t cat "$MNT/k"
	[ "$output" = '{"schema":{"$object":{"$ref":"#/defs/a"}}}' ]
	before=$(rows)
	# a good tag written in pieces, ending in spaces, is stored once whole
	run -0 t bash -c "{ printf '{\"\$bigint\"'; printf ':\"12\"}'; printf '  '; echo; } > '$MNT/k'"
	run -0 t cat "$MNT/k"
	[ "$output" = '{"$bigint":"12"}' ]
	before=$(rows)
	mkdir "$MNT/.tx/T"
	run -1 --separate-stderr t bash -c "echo '{\"\$bigInt\":\"5\"}' > '$MNT/.tx/T/k'"
	[[ $stderr == *"write error: Invalid argument"* ]]
	run -0 t mv "$MNT/.tx/T" "$MNT/.commit/T"
	[ "$(rows)" = "$before" ]
}

@test "an incomplete document fails at close: cp and tee report it, nothing stored" {
	echo 1 >"$MNT/k"
	before=$(rows)
	printf '{"a":1' >"$BATS_TEST_TMPDIR/part"
	run -1 --separate-stderr t cp "$BATS_TEST_TMPDIR/part" "$MNT/k"
	run -1 --separate-stderr t tee "$MNT/k" <"$BATS_TEST_TMPDIR/part"
	[[ $stderr == *"Invalid argument"* ]]
	[ "$(rows)" = "$before" ]
	# whitespace only is an empty file
	run -1 --separate-stderr t tee "$MNT/k" <<<"   "
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'k': empty file" "$KVFS_LOG"
}

@test "trailing whitespace is ignored; >> appends" {
	printf '[1,\n' >"$MNT/k"      # incomplete: refused at close, nothing stored
	[ -z "$(rows)" ]
	printf '[1,2]  \n\n' >"$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = '[1,2]' ]
	echo ' ' >>"$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = '[1,2]' ]
	before=$(rows)
	run -1 t bash -c "echo 3 >> '$MNT/k'"
	[ "$(rows)" = "$before" ]
}

@test "a value over Deno's limit fails at write() with EFBIG" {
	echo 1 >"$MNT/k"
	before=$(rows)
	run ! --separate-stderr t bash -c "head -c 70000 /dev/zero | tr '\\0' a | sed 's/.*/\"&\"/' > '$MNT/k'"
	[[ $stderr == *"File too large"* ]]
	[ "$(rows)" = "$before" ]
	# written in pieces: the write that ends the string is refused
	run -0 t python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"\"")
for i in range(20):
    os.write(fd, b"a" * 4000)
try:
    os.write(fd, b"\"\n")
    sys.exit("the last write was taken")
except OSError as e:
    print(e.strerror)
try:
    os.close(fd)
except OSError:
    pass' "$MNT/k"
	[ "$output" = "File too large" ]
	[ "$(rows)" = "$before" ]
	# a whole string whose text fits in 64 KiB but whose value does not: V8's
	# header takes a few bytes more, and one character past Latin-1 makes
	# every character two bytes; refused at the write that ends it
	run ! --separate-stderr t bash -c "{ printf '\"'; head -c 65531 /dev/zero | tr '\0' a; printf '\"'; } > '$MNT/k'"
	[[ $stderr == *"File too large"* ]]
	[ "$(rows)" = "$before" ]
	run ! --separate-stderr t bash -c "{ printf '\"'; head -c 33000 /dev/zero | tr '\0' a; printf '\u20ac\"\n'; } > '$MNT/k'"
	[[ $stderr == *"File too large"* ]]
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'k': Value too large (max 65536 bytes)" "$KVFS_LOG"
	# one character fewer of each fits, and is what Deno reads
	t bash -c "{ printf '\"'; head -c 65530 /dev/zero | tr '\0' a; printf '\"'; } > '$MNT/k'"
	[ "$(sqlite3 "$DB" 'select length(v) from kv')" = 65536 ]
}

@test "a value whose text is many times its stored size round-trips; past 2 MiB of text is EFBIG, said so" {
	# 40000 boxed booleans: 40 KB stored, 680 KB of text
	python3 -c 'import sys; sys.stdout.write("[" + ",".join(["{\"$boxed\":false}"] * 40000) + "]\n")' \
		>"$BATS_TEST_TMPDIR/boxed.json"
	run -0 t cp "$BATS_TEST_TMPDIR/boxed.json" "$MNT/b"
	[ "$(sqlite3 "$DB" 'select length(v) < 65536 from kv')" = 1 ]
	stored=$(sqlite3 "$DB" 'select hex(k), hex(v) from kv')
	t cat "$MNT/b" >"$BATS_TEST_TMPDIR/out.json"
	cmp "$BATS_TEST_TMPDIR/out.json" "$BATS_TEST_TMPDIR/boxed.json"
	run -0 t cp "$BATS_TEST_TMPDIR/out.json" "$MNT/b"
	[ "$(sqlite3 "$DB" 'select hex(k), hex(v) from kv')" = "$stored" ]
	# spaces count as text: over 2 MiB is refused at write(), nothing stored
	before=$(sqlite3 "$DB" 'select hex(k), hex(v), version from kv')
	run ! --separate-stderr t bash -c "{ printf '['; head -c 2200000 /dev/zero | tr '\\0' ' '; printf '1]'; } > '$MNT/b'"
	[[ $stderr == *"File too large"* ]]
	[ "$(sqlite3 "$DB" 'select hex(k), hex(v), version from kv')" = "$before" ]
	grep -q "cannot store 'b': text too long (max 2097152 bytes of JSON)" "$KVFS_LOG"
	# nor can ftruncate make a text that long; a longer size adds only spaces: no commit
	run -1 --separate-stderr t python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR); os.ftruncate(fd, 1 << 30)' "$MNT/b"
	[[ $stderr == *"File too large"* ]]
	run -0 t truncate -s 700000 "$MNT/b"
	[ "$(sqlite3 "$DB" 'select hex(k), hex(v), version from kv')" = "$before" ]
}

@test "truncate via setattr: to a still-valid length stores, to 0 is EINVAL" {
	echo '12345' >"$MNT/k"
	before=$(rows)
	run -1 --separate-stderr t truncate -s 0 "$MNT/k"
	[[ $stderr == *"Invalid argument"* ]]
	[ "$(rows)" = "$before" ]
	t truncate -s 3 "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = 123 ]
}

@test "a new versionstamp moves the mtime by whole seconds, so rsync and find -newer see every commit" {
	echo 1 >"$MNT/k"
	m1=$(stat -c %Y "$MNT/k")
	echo 2 >"$MNT/k"
	m2=$(stat -c %Y "$MNT/k")
	[ "$m2" -gt "$m1" ]
	echo 3 >"$MNT/j"
	[ "$(cd "$MNT" && find . -type f -newer k)" = ./j ]
	# the same version gives the same time in the next mount
	kvfs_unmount
	kvfs_mount
	[ "$(stat -c %Y "$MNT/k")" = "$m2" ]
	# a backup by rsync's quick check notices a change of the same size
	mkdir "$BATS_TEST_TMPDIR/copy"
	cp -p "$MNT/k" "$BATS_TEST_TMPDIR/copy/k"
	echo 4 >"$MNT/k"
	[ "$(stat -c %Y "$MNT/k")" != "$(stat -c %Y "$BATS_TEST_TMPDIR/copy/k")" ]
}

@test "chmod/chown to the shown values and touch succeed without storing; other changes EPERM" {
	echo 1 >"$MNT/k"
	mkdir "$MNT/d"
	echo 2 >"$MNT/d/x"
	before=$(rows)
	t chmod 644 "$MNT/k"
	t chmod 755 "$MNT/d"
	t chown "$(id -u):$(id -g)" "$MNT/k"
	t touch "$MNT/k"
	run -1 --separate-stderr t chmod 600 "$MNT/k"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 t chown 12345 "$MNT/k"
	run -1 --separate-stderr t ln "$MNT/k" "$MNT/k2"
	[[ $stderr == *"Operation not permitted"* ]]
	run -1 t ln -s k "$MNT/k3"
	run -1 t mkfifo "$MNT/d/k4"
	[ "$(rows)" = "$before" ]
	# each refusal names its path on the log
	grep -q "cannot change the owner or mode of 'k': kvfs shows fixed ones" "$KVFS_LOG"
	grep -q "cannot link 'k2': a key space has no links" "$KVFS_LOG"
	grep -q "cannot link 'k3': a key space has no links" "$KVFS_LOG"
	grep -q "cannot make 'd/k4': only regular files hold values" "$KVFS_LOG"
	# a directory's own value is named so; the top has none; a directory takes no dot-name
	echo 5 >"$MNT/d/.value"
	run -1 t chmod 600 "$MNT/d/.value"
	grep -q "cannot change the owner or mode of 'd/.value'" "$KVFS_LOG"
	run -1 t bash -c "echo 1 >'$MNT/.value'"
	grep -q "cannot create '.value': the top of the key space holds no value" "$KVFS_LOG"
	run -1 t mv "$MNT/d" "$MNT/.hidden"
	grep -q "cannot rename 'd': a directory of keys cannot take a name starting with '.'" "$KVFS_LOG"
	before=$(rows)
	[ "$(stat -c %a:%u "$MNT/k")" = "644:$(id -u)" ]
	[ "$(stat -c %a "$MNT/d")" = 755 ]
	# a directory, with nowhere to keep a mode, takes any on a mount of its owner's
	# alone: cp -a and rsync -a of a tree with other modes work
	run -0 t chmod 700 "$MNT/d"
	[ "$(stat -c %a "$MNT/d")" = 755 ]
	src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src/private"
	echo 3 >"$src/private/f"
	chmod 700 "$src/private"
	run -0 t cp -a "$src/private" "$MNT/cpa"
	run -0 t rsync -a "$src/private/" "$MNT/rs/"
	[ "$(cat "$MNT/cpa/f")" = 3 ] && [ "$(cat "$MNT/rs/f")" = 3 ]
	[ "$(rows)" != "$before" ]
}

@test "mknod of a regular file makes an empty file, as touch does; a name that exists is EEXIST; fifos and devices EPERM" {
	echo 1 >"$MNT/k"
	mkdir "$MNT/d"
	echo 2 >"$MNT/d/x"
	before=$(rows)
	run -0 mknod_mode "$MNT/new" 100644
	[ "$(stat -c %s:%F "$MNT/new")" = "0:regular empty file" ]
	run -0 mknod_mode "$MNT/d/.scratch" 100644
	[ "$(stat -c %s "$MNT/d/.scratch")" = 0 ]
	for p in k d d/x new d/.scratch; do
		run -1 mknod_mode "$MNT/$p" 100644
		[ "$output" = 17 ]    # EEXIST
	done
	run -1 mknod_mode "$MNT/fifo" 10644
	[ "$output" = 1 ]        # EPERM
	run -1 t mknod "$MNT/c" c 1 3
	run -1 t mkfifo "$MNT/f"
	run -1 mknod_mode "$MNT/"'"unterminated' 100644
	[ "$output" = 22 ]       # EINVAL
	[ "$(rows)" = "$before" ]
	echo 3 >"$MNT/new"
	run -0 t cat "$MNT/new"
	[ "$output" = 3 ]
	run -1 t cat "$MNT/c"
}

@test "tar --xattrs extracts an archive of the mount into the mount" {
	mkdir -p "$MNT/prefs/ada"
	echo '{"theme":"dark"}' >"$MNT/prefs/ada/.value"
	echo 5 >"$MNT/prefs/ada/age"
	echo '"x"' >"$MNT/prefs/bob"
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/prefs/bob"
	(cd "$MNT" && t tar --xattrs -cf "$BATS_TEST_TMPDIR/a.tar" prefs)
	mkdir "$MNT/copy"
	# no warnings: the archive holds only the time-to-live of each file
	run -0 --separate-stderr t tar --xattrs -xf "$BATS_TEST_TMPDIR/a.tar" -C "$MNT/copy"
	[ -z "$stderr" ]
	[ "$(dump copy | jq -c '[.key, .value]')" = "$(printf '%s\n' \
		'[["copy","prefs","ada"],{"theme":"dark"}]' \
		'[["copy","prefs","ada","age"],5]' \
		'[["copy","prefs","bob"],"x"]')" ]
	[ "$(dump copy/prefs/bob | jq -r '.expires_at' | cut -c1-2)" = 20 ]
}

@test "what a handle wrote reads back through it before it is stored; others see the stored value; a refused truncate leaves no trace" {
	echo '[1,2,3,4,5,6,7,8]' >"$MNT/old"
	run -0 t python3 -c '
import os, subprocess, sys
os.chdir(sys.argv[1])
f = open("new", "w+")
f.write("{\"w\":1}")
f.flush()
f.seek(0)
print(repr(f.read()))
f.close()
fd = os.open("old", os.O_RDWR | os.O_TRUNC)
os.write(fd, b"[9]")
other = subprocess.run(["cat", "old"], capture_output=True).stdout.decode().strip()
print(os.pread(fd, 100, 0).decode(), os.stat("old").st_size, other)
os.close(fd)' "$MNT"
	[ "${lines[0]}" = "'{\"w\":1}'" ]
	[ "${lines[1]}" = "[9] 18 [1,2,3,4,5,6,7,8]" ]
	run -0 t cat "$MNT/new" "$MNT/old"
	[ "$output" = "$(printf '{"w":1}\n[9]')" ]
	echo '[1,2,3]' >"$MNT/t"
	before=$(rows)
	run -1 t truncate -s 5 "$MNT/t"
	[ "$(stat -c %s "$MNT/t")" = 8 ]
	run -0 t cat "$MNT/t"
	[ "$output" = '[1,2,3]' ]
	[ "$(rows)" = "$before" ]
}

@test "a redirection around several commands stores the whole value once: a child's close stores nothing" {
	echo 1 >"$BATS_TEST_TMPDIR/part"
	cd "$BATS_TEST_TMPDIR"
	run -0 --separate-stderr t bash -ec "{ echo '['; cat part; echo ']'; } >'$MNT/g'; echo end"
	[ "$output" = end ]
	[ -z "$stderr" ]
	run -0 --separate-stderr t bash -ec "{ echo '{\"items\":'; jq -c . part; echo '}'; } >'$MNT/j'"
	[ -z "$stderr" ]
	[ "$(dump | jq -c '[.key[0], .value]' | tr -d '\n')" = '["g",[1]]["j",{"items":1}]' ]
	# one commit each
	[ "$(dump | jq -r .versionstamp | sort -u | wc -l)" = 2 ]
	# what the opener itself leaves incomplete still fails its close
	run -1 t python3 -c 'import sys; f = open(sys.argv[1], "w"); f.write("[1,"); f.close()' "$MNT/bad"
	[ "$(dump | wc -l)" = 2 ]
}

@test "a file opened on one thread and closed on another stores at that close, and reports a refusal" {
	run -0 t python3 -c '
import os, sys, threading
os.chdir(sys.argv[1])
def opener(path, out):
    out.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
for text, path in ((b"[1,", "bad"), (b"[2]", "good")):
    fds = []
    t = threading.Thread(target=opener, args=(path, fds))
    t.start()
    t.join()
    os.write(fds[0], text)
    try:
        os.close(fds[0])
        print(path, "closed", open(path).read().strip())
    except OSError as e:
        print(path, "errno", e.errno)' "$MNT"
	[ "${lines[0]}" = "bad errno 22" ]
	[ "${lines[1]}" = "good closed [2]" ]
	[ "$(dump | jq -c .key)" = '["good"]' ]
}

@test "a file removed or replaced while open keeps showing what it was through its handles" {
	echo '{"old":"a longer value than the new one"}' >"$MNT/rk"
	echo '{"n":1}' >"$MNT/rx"
	vs=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/rk")
	run -0 t python3 -c '
import os, sys
os.chdir(sys.argv[1])
fd = os.open("rk", os.O_RDONLY)
os.rename("rx", "rk")
st = os.fstat(fd)
print(st.st_size, st.st_nlink, os.pread(fd, 4096, 0).decode().strip())
print(os.getxattr("/proc/self/fd/%d" % fd, "user.kv.versionstamp").decode())
fd2 = os.open("rk", os.O_RDONLY)
os.unlink("rk")
st = os.fstat(fd2)
print(st.st_size, st.st_nlink, os.read(fd2, 100).decode().strip())' "$MNT"
	[ "${lines[0]}" = '42 0 {"old":"a longer value than the new one"}' ]
	[ "${lines[1]}" = "$vs" ]
	[ "${lines[2]}" = '8 0 {"n":1}' ]
}

@test "a stat while a handle writes does not leave the old mtime behind once it is stored" {
	kvfs_unmount
	kvfs_mount -o timeout=30    # what the kernel keeps, it keeps past the test
	echo '{"v":0}' >"$MNT/k"
	m0=$(stat -c %Y "$MNT/k")
	echo '{"v":1}' >"$BATS_TEST_TMPDIR/src"
	t cp -p "$BATS_TEST_TMPDIR/src" "$MNT/k"   # sets the times while it writes
	vs=$(getfattr --absolute-names --only-values -n user.kv.versionstamp "$MNT/k")
	want=$(( 1704067200 + 16#${vs:0:16} ))
	for i in $(seq 50); do
		[ "$(stat -c %Y "$MNT/k")" = "$want" ] && break
		sleep 0.1
	done
	[ "$(stat -c %Y "$MNT/k")" = "$want" ]
	[ "$want" -gt "$m0" ]
}

@test "rm deletes the key" {
	echo 1 >"$MNT/k"
	echo 2 >"$MNT/j"
	rm "$MNT/k"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
	run -1 t cat "$MNT/k"
}

@test "a value rewritten in place (write from the start, then ftruncate) is stored; the cut tail never counts" {
	echo '{"name":"a long value here"}' >"$MNT/k"
	(cd "$MNT" && t python3 -c '
import os
fd = os.open("k", os.O_RDWR)
os.pwrite(fd, b"[1,2]\n", 0)     # shorter: the old tail is still there
os.ftruncate(fd, 6)
os.close(fd)')
	run -0 t cat "$MNT/k"
	[ "$output" = '[1,2]' ]
	# what is left after the last write must still be whole at close
	before=$(rows)
	run -1 --separate-stderr t python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"7", 0)            # "7,2]\n": no truncate follows
os.close(fd)' "$MNT/k"
	[[ $stderr == *"Invalid argument"* ]]
	[ "$(rows)" = "$before" ]
}

@test "a value nested 5000 levels is refused, nothing stored; 4999 is stored and shows as written" {
	python3 -c 'print("[" * 4999 + "1" + "]" * 4999)' >"$BATS_TEST_TMPDIR/ok.json"
	python3 -c 'print("[" * 5000 + "1" + "]" * 5000)' >"$BATS_TEST_TMPDIR/deep.json"
	t cp "$BATS_TEST_TMPDIR/ok.json" "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/ok.json")" ]
	before=$(rows)
	run -1 --separate-stderr t cp "$BATS_TEST_TMPDIR/deep.json" "$MNT/k"
	[[ $stderr == *"Invalid argument"* ]]
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'k': invalid JSON: value nested deeper than 5000 levels" "$KVFS_LOG"
}

# The kernel keeps one size and one page cache per file, but each handle
# shows its own text: readers must not get a writer's unstored text, nor
# their own cut or padded with zeros to another handle's size.
@test "readers get whole values while other handles of the same process rewrite the key" {
	echo '{}' >"$MNT/k"
	run -0 timeout 60 python3 "$ROOT/tests/tools/read_whole.py" "$MNT/k" 2 3
	echo "$output"
	run -0 t jq -e '.w >= 0' "$MNT/k"
}

@test "a private mapping of a file reads its value; a shared one is ENODEV, as the README says" {
	echo '{"a":1}' >"$MNT/k"
	run -0 t python3 -c '
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    sys.stdout.write(m[:].decode())
    try:
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        print("shared")
    except OSError as e:
        print(e.errno == 19 and "ENODEV" or e)
' "$MNT/k"
	[ "$output" = $'{"a":1}\nENODEV' ]
}

# The value a handle reads can follow a stat until its first read, never after:
# a read at offset 0 after later offsets must not splice two values.
@test "one handle reads one value: a rewrite and a stat between its reads change nothing" {
	run -0 t python3 -c '
import os, sys
p = sys.argv[1]
open(p, "w").write("{\"v\":\"" + "a" * 100 + "\"}")
fd = os.open(p, os.O_RDONLY)
tail = os.pread(fd, 1000, 10)
open(p, "w").write("{\"v\":\"" + "b" * 100 + "\"}")
os.stat(p)
print((os.pread(fd, 10, 0) + tail).decode().strip())
print(os.pread(fd, 1000, 0).decode().strip())
' "$MNT/k"
	a=$(printf 'a%.0s' $(seq 100))
	[ "${lines[0]}" = "{\"v\":\"$a\"}" ]
	[ "${lines[1]}" = "{\"v\":\"$a\"}" ]
	run -0 t cat "$MNT/k"
	[[ $output == '{"v":"bbb'* ]]
}

@test "a handle that read its value and reads from the start again reads the value stored now; a replaced file keeps its text" {
	run -0 t python3 -c '
import os, subprocess, sys
p = sys.argv[1]
def put(v):
    subprocess.run(["sh", "-c", "echo \"$1\" > \"$2\"", "-", v, p], check=True)
put("{\"status\":\"running\",\"progress\":10}")
fd = os.open(p, os.O_RDONLY)
print(os.read(fd, 1000).decode().strip())
put("\"done\"")
print(os.pread(fd, 1000, 0).decode().strip())
put("[1,2,3]")
os.lseek(fd, 0, os.SEEK_SET)
# a read too small for the new value reads the old one whole; the next pass the new
print(os.read(fd, 2).decode() + os.read(fd, 1000).decode().strip())
os.lseek(fd, 0, os.SEEK_SET)
print(os.read(fd, 2).decode() + os.read(fd, 1000).decode().strip())
# a reader sized by fstat gets whole values only
put("[1,2,3,4,5,6,7,8,9,10]")
print(os.pread(fd, os.fstat(fd).st_size, 0).decode().strip())
print(os.pread(fd, os.fstat(fd).st_size, 0).decode().strip())
# another process commits: the kernel may keep the old size a while
subprocess.run(["sh", "-c", "echo \"{\\\"key\\\":[\\\"job\\\"],\\\"value\\\":[11,12,13,14,15,16,17,18,19,20,21]}\" | \"$1\" load \"$2\"", "-", sys.argv[2], sys.argv[3]], check=True)
print(os.pread(fd, os.fstat(fd).st_size, 0).decode().strip() in ("[1,2,3,4,5,6,7,8,9,10]", "[11,12,13,14,15,16,17,18,19,20,21]"))
print(os.pread(fd, os.fstat(fd).st_size, 0).decode().strip())
os.rename(p, p + ".old")
put("5")
print(os.pread(fd, 1000, 0).decode().strip())
# a handle opened before its key had a value
open(p + "2", "w").close()
fd = os.open(p + "2", os.O_RDONLY)
print(repr(os.pread(fd, 1000, 0)))
subprocess.run(["sh", "-c", "echo 7 > \"$1\"", "-", p + "2"], check=True)
print(os.pread(fd, 1000, 0).decode().strip())
' "$MNT/job" "$KVFS_BIN" "$DB"
	[ "${lines[0]}" = '{"status":"running","progress":10}' ]
	[ "${lines[1]}" = '"done"' ]
	[ "${lines[2]}" = '"done"' ]
	[ "${lines[3]}" = '[1,2,3]' ]
	[ "${lines[4]}" = '[1,2,3,4,5,6,7,8,9,10]' ]
	[ "${lines[5]}" = '[1,2,3,4,5,6,7,8,9,10]' ]
	[ "${lines[6]}" = True ]
	[ "${lines[7]}" = '[11,12,13,14,15,16,17,18,19,20,21]' ]
	[ "${lines[8]}" = '[11,12,13,14,15,16,17,18,19,20,21]' ]
	[ "${lines[9]}" = "b''" ]
	[ "${lines[10]}" = 7 ]
	# tail -f polls a remote file's size: a shorter value shows whole, not cut
	echo '{"status":"running","progress":10}' >"$MNT/job2"
	timeout 10 tail -s 0.1 -f "$MNT/job2" >"$BATS_TEST_TMPDIR/tail.out" 2>&1 &
	tailpid=$!
	for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/tail.out" ] && break; sleep 0.1; done
	echo '"done"' >"$MNT/job2"
	for _ in $(seq 50); do grep -q '^"done"$' "$BATS_TEST_TMPDIR/tail.out" && break; sleep 0.1; done
	kill $tailpid
	run -0 cat "$BATS_TEST_TMPDIR/tail.out"
	[ "${lines[0]}" = '{"status":"running","progress":10}' ]
	[ "${lines[2]}" = '"done"' ]
}
