#!/usr/bin/env bats
# Renames: one commit per file or directory; several for a directory over the transaction limit.

load helpers

setup() {
	kvfs_mount
}

@test "mv of a file is one commit: delete + set with one versionstamp" {
	echo '{"a":1}' >"$MNT/src"
	v0=$(sqlite3 "$DB" 'select version from data_version')
	mv "$MNT/src" "$MNT/dst"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
	[ "$(sqlite3 "$DB" 'select hex(k) from kv')" = 0264737400 ]
	v1=$(sqlite3 "$DB" 'select version from kv')
	[ "$v1" -gt "$v0" ]
	[ "$(sqlite3 "$DB" 'select version from data_version')" = "$v1" ]
	run -0 t cat "$MNT/dst"
	[ "$output" = '{"a":1}' ]
	run -1 t cat "$MNT/src"
}

@test "after mv, stat, cat and the versionstamp of the new name show the new entry at once" {
	echo '{"a":1}' >"$MNT/src"
	echo '{"other":"longer value"}' >"$MNT/dst"
	# the kernel has both names, attributes and pages cached
	cat "$MNT/src" "$MNT/dst" >/dev/null
	m0=$(stat -c %y "$MNT/src")
	s0=$(getfattr --only-values -n user.kv.versionstamp "$MNT/src")
	mv "$MNT/src" "$MNT/dst"
	run -0 t cat "$MNT/dst"
	[ "$output" = '{"a":1}' ]
	[ "$(stat -c %s "$MNT/dst")" -eq 8 ]
	s1=$(getfattr --only-values -n user.kv.versionstamp "$MNT/dst")
	v1=$(sqlite3 "$DB" "select printf('%016x0000', version) from kv")
	[ "$s1" = "$v1" ]
	[ "$s1" != "$s0" ]
	# mtime follows the versionstamp, so it moved too
	[ "$(stat -c %y "$MNT/dst")" != "$m0" ]
	[ ! -e "$MNT/src" ]
}

@test "mv of a directory moves every key under it in one commit" {
	mkdir -p "$MNT/d/e"
	echo 1 >"$MNT/d/a"
	echo 2 >"$MNT/d/e/b"
	mv "$MNT/d" "$MNT/n"
	run -0 t cat "$MNT/n/a" "$MNT/n/e/b"
	[ "$output" = "$(printf '1\n2')" ]
	[ ! -e "$MNT/d" ]
	[ "$(sqlite3 "$DB" 'select count(distinct version) from kv')" -eq 1 ]
	[ "$(sqlite3 "$DB" "select count(*) from kv where hex(k) like '026E00%'")" -eq 2 ]
}

@test "mv of a directory over the transaction limit moves it in several commits" {
	mkdir "$MNT/many"
	for i in $(seq 600); do echo "$i" >"$MNT/many/$i"; done
	t setfattr -n user.kv.expire_in -v 3600000 "$MNT/many/7"
	run -0 --separate-stderr t mv "$MNT/many" "$MNT/moved"
	[ -z "$stderr" ]
	[ "$(ls "$MNT/moved" | wc -l)" -eq 600 ]
	[ ! -e "$MNT/many" ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 600 ]
	[ "$(sqlite3 "$DB" 'select count(distinct version) from kv')" -ge 2 ]
	[ "$(getfattr --only-values -n user.kv.expire_in "$MNT/moved/7")" -gt 3500000 ]
	run -0 t cat "$MNT/moved/600"
	[ "$output" = 600 ]
	grep -q "moving 'many' in several commits: too many keys for one" "$KVFS_LOG"
	! grep -q "cannot move" "$KVFS_LOG"
}

@test "mv of a large directory where a key would be too long at the new place fails before it moves anything" {
	long=$(printf 'z%.0s' $(seq 2030))
	{ printf '{"key":["p",%d],"value":%d}\n' $(for i in $(seq 600); do echo "$i $i"; done)
	  printf '{"key":["p","%s"],"value":"long"}\n' "$long"; } | "$KVFS_BIN" load "$DB"
	sleep 0.5
	before=$(rows)
	run -1 --separate-stderr t mv -T "$MNT/p" "$MNT/pppppppppppppppp"
	[[ $stderr == *"File name too long"* ]]
	[ "$(rows)" = "$before" ]
	[ "$(ls "$MNT/p" | wc -l)" -eq 601 ]
	[ ! -e "$MNT/pppppppppppppppp" ]
	grep -q "cannot move 'p': a key under it would be longer than Deno's 2048 bytes there" "$KVFS_LOG"
	# a shorter name fits: the move goes through, in several commits
	run -0 t mv "$MNT/p" "$MNT/q"
	[ "$(ls "$MNT/q" | wc -l)" -eq 601 ]
}

@test "mv of a large directory while another writer adds and rewrites keys in it loses none of them" {
	printf '{"key":["many",%d],"value":%d}\n' $(for i in $(seq 600); do echo "$i $i"; done) |
		"$KVFS_BIN" load "$DB"
	sleep 0.5
	# another process adds 300 keys and rewrites 300, one commit each, while the directory moves
	(for i in $(seq 1001 1300); do
		printf '{"key":["many",%d],"value":%d}\n{"key":["many",%d],"value":-1}\n' \
			"$i" "$i" $(( (i - 1000) * 2 )) | "$KVFS_BIN" load "$DB" || exit 1
	done) &
	writer=$!
	sleep 0.2
	run -0 t mv "$MNT/many" "$MNT/moved"
	wait "$writer"
	# every key, at the new place or (written after the move ended) the old
	# one too; every rewrite kept, wherever its key was then
	[ "$(dump | jq -c '.key[1]' | sort -n | uniq | wc -l)" -eq 900 ]
	[ "$(dump | jq -c 'select(.value == -1) | .key[1]' | sort -n | uniq | wc -l)" -eq 300 ]
	[ "$(dump | jq -r '.key[0]' | sort -u | grep -vx -e moved -e many | wc -l)" -eq 0 ]
	[ "$(dump moved | wc -l)" -ge 600 ]
}

@test "a scratch file renamed onto a key stores its content in one commit" {
	echo '{"a":1}' >"$MNT/k"
	printf '{"a":2}\n' >"$MNT/.k.tmp"
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
	mv "$MNT/.k.tmp" "$MNT/k"
	run -0 t cat "$MNT/k"
	[ "$output" = '{"a":2}' ]
	[ ! -e "$MNT/.k.tmp" ]
}

@test "a scratch file with bad JSON cannot become a key: EBADMSG, nothing changes" {
	echo '{"a":1}' >"$MNT/k"
	before=$(rows)
	echo 'not json' >"$MNT/.k.tmp"
	# EBADMSG: EINVAL would make mv speak of a move into a subdirectory of itself
	run -1 t mv "$MNT/.k.tmp" "$MNT/k"
	[[ "$output" == *"Bad message"* ]]
	run -0 t cat "$MNT/.k.tmp"
	[ "$output" = 'not json' ]
	[ "$(rows)" = "$before" ]
	grep -q "cannot store 'k': invalid JSON at byte 0$" "$KVFS_LOG"
	# two documents (jq printing several results), and an empty file
	printf '1\n2\n' >"$MNT/.k.tmp"
	run -1 t python3 -c 'import os, sys
try:
    os.rename(sys.argv[1] + "/.k.tmp", sys.argv[1] + "/k")
except OSError as e:
    print(e.errno); sys.exit(1)' "$MNT"
	[ "$output" = 74 ]
	grep -q "cannot store 'k': invalid JSON at byte 2: text after the value$" "$KVFS_LOG"
	touch "$MNT/empty"
	run -1 t mv "$MNT/empty" "$MNT/k"
	[[ "$output" == *"Bad message"* ]]
	[ "$(rows)" = "$before" ]
	run -0 t cat "$MNT/k"
	[ "$output" = '{"a":1}' ]
}

@test "rename with RENAME_WHITEOUT or RENAME_EXCHANGE is EINVAL and changes nothing" {
	echo 1 >"$MNT/a"
	echo 2 >"$MNT/b"
	before=$(rows)
	# RENAME_EXCHANGE (2) of a and b, RENAME_WHITEOUT (4) of a to c
	for flag_to in 2:b 4:c; do
		run -1 t python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1].encode()
flag, to = sys.argv[2].split(":")
if libc.renameat2(-100, d + b"/a", -100, d + b"/" + to.encode(), int(flag)) != 0:
    print(ctypes.get_errno()); sys.exit(1)' "$MNT" "$flag_to"
		[ "$output" = 22 ]
	done
	[ "$(rows)" = "$before" ]
	[ ! -e "$MNT/c" ]
	[ "$(t cat "$MNT/a")" = 1 ]
	# inside a transaction, and for its commit, too
	mkdir "$MNT/.tx/T"
	for from_to in .tx/T/a:.tx/T/c .tx/T:.commit/T; do
		run -1 t python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1].encode()
a, b = sys.argv[2].split(":")
if libc.renameat2(-100, d + b"/" + a.encode(), -100, d + b"/" + b.encode(), 4) != 0:
    print(ctypes.get_errno()); sys.exit(1)' "$MNT" "$from_to"
		[ "$output" = 22 ]
	done
	[ -e "$MNT/.tx/T/a" ] && [ ! -e "$MNT/.tx/T/c" ] && [ -d "$MNT/.tx/T" ]
	[ "$(rows)" = "$before" ]
}

@test "mv onto a non-empty directory is refused and changes nothing" {
	mkdir -p "$MNT/a" "$MNT/b"
	echo 1 >"$MNT/a/x"
	echo 2 >"$MNT/b/y"
	before=$(rows)
	run -1 t mv -T "$MNT/a" "$MNT/b"
	[ "$(rows)" = "$before" ]
}

# open NAME for writing, do what $2 says to the file (a shell command run
# with the mount as its directory), then write TEXT through the handle and close
write_after() {
	(cd "$MNT" && t python3 -c '
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
subprocess.run(sys.argv[2], shell=True, check=True)
os.write(fd, sys.argv[3].encode())
os.close(fd)' "$1" "$2" "$3")
}

@test "a handle open on a file that is renamed writes to the new name, key or dot-name" {
	mkdir "$MNT/d"
	echo 1 >"$MNT/d/a"
	write_after d/a 'mv d/a d/b' '2'
	run -0 t cat "$MNT/d/b"
	[ "$output" = 2 ]
	[ ! -e "$MNT/d/a" ]
	echo 3 >"$MNT/d/c"
	write_after d/c 'mv d/c d/.c' '4'
	run -0 t cat "$MNT/d/.c"
	[ "$output" = 4 ]
	# the directory's own key got nothing
	[ "$(dump | jq -c .key)" = '["d","b"]' ]
}

@test "a handle open on a file that is removed or replaced stores nothing when it closes" {
	echo 1 >"$MNT/gone"
	write_after gone 'rm gone' '2'
	[ ! -e "$MNT/gone" ]
	echo 3 >"$MNT/old"
	echo 4 >"$MNT/new"
	write_after old 'mv new old' '5'
	run -0 t cat "$MNT/old"
	[ "$output" = 4 ]
	echo 6 >"$MNT/again"
	write_after again 'rm again && echo 7 >again' '8'
	run -0 t cat "$MNT/again"
	[ "$output" = 7 ]
	[ "$(dump | jq -c '[.key[0], .value]' | sort | tr -d '\n')" = '["again",7]["old",4]' ]
	grep -q "cannot store 'gone': removed or replaced while open" "$KVFS_LOG"
}

@test "a handle open on a dot-file follows it onto a key; removed, it writes to nothing" {
	echo 1 >"$MNT/.t"
	# not truncated at open: an empty dot-file cannot become a value
	(cd "$MNT" && t python3 -c '
import os
fd = os.open(".t", os.O_WRONLY)
os.rename(".t", "k")
os.pwrite(fd, b"22\n", 0)
os.close(fd)')
	run -0 t cat "$MNT/k"
	[ "$output" = 22 ]
	[ ! -e "$MNT/.t" ]
	echo 3 >"$MNT/.u"
	write_after .u 'rm .u && echo 4 >.u' '5'
	run -0 t cat "$MNT/.u"
	[ "$output" = 4 ]
	# moved onto a key, which is then removed: the rewrite goes nowhere
	echo 6 >"$MNT/.v"
	(cd "$MNT" && t python3 -c '
import os
fd = os.open(".v", os.O_WRONLY)
os.rename(".v", "m")
os.unlink("m")
os.pwrite(fd, b"7\n", 0)
os.ftruncate(fd, 2)
os.close(fd)')
	[ ! -e "$MNT/m" ]
	[ "$(dump | jq -c .key)" = '["k"]' ]
}

@test "a dot-file removed or replaced while open keeps its content for its handles, shared by them" {
	echo hello >"$MNT/.a"
	echo bee >"$MNT/.b"
	echo sea >"$MNT/.c"
	echo '"kay"' >"$MNT/k"
	: >"$MNT/empty"
	run -0 t python3 -c '
import os, sys
os.chdir(sys.argv[1])
fd, fd2 = os.open(".a", os.O_RDWR), os.open(".a", os.O_RDONLY)
os.unlink(".a")
print(os.pread(fd2, 99, 0), os.fstat(fd2).st_size, os.fstat(fd2).st_nlink)
os.pwrite(fd, b"HELLO", 0)
os.ftruncate(fd, 6)
with open(".a", "w") as f:
    f.write("new\n")
print(os.pread(fd2, 99, 0), open(".a").read().strip())
b = os.open(".b", os.O_RDONLY)
os.rename(".c", ".b")
b2 = os.open(".b", os.O_RDONLY)
os.rename("k", ".b")
os.rename("empty", ".b")
print(os.pread(b, 99, 0), os.pread(b2, 99, 0), repr(open(".b").read()))' "$MNT"
	[ "${lines[0]}" = "b'hello\n' 6 0" ]
	[ "${lines[1]}" = "b'HELLO\n' new" ]
	[ "${lines[2]}" = "b'bee\n' b'sea\n' ''" ]
	[ -z "$(dump)" ]
}

@test "a directory moves onto a sibling named as it with a NUL more, and back" {
	mkdir -p "$MNT/R/a"
	echo 1 >"$MNT/R/a/k"
	run -0 --separate-stderr t mv -T "$MNT/R/a" "$MNT/R/\"a\\u0000\""
	run -0 t cat "$MNT/R/\"a\\u0000\"/k"
	[ "$output" = 1 ]
	[ ! -e "$MNT/R/a" ]
	run -0 --separate-stderr t mv -T "$MNT/R/\"a\\u0000\"" "$MNT/R/a"
	run -0 t cat "$MNT/R/a/k"
	[ "$output" = 1 ]
	[ "$(sqlite3 "$DB" 'select count(*) from kv')" -eq 1 ]
}
