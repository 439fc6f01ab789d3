#!/bin/sh
# bench/run.sh [--quick] - every benchmark, side by side; rewrites bench/RESULTS.md.
#
#   make bench                  full run (a few minutes), writes bench/RESULTS.md
#   make bench QUICK=1          smoke run with small sizes (under a minute),
#   sh bench/run.sh --quick     writes bench/work/RESULTS.quick.md instead
#
# 1. engine: bench/kvbench (kvfs engine, raw SQLite) and bench/kvbench.ts (Deno)
# 2. file system: bench/fsbench over a kvfs mount, libfuse's passthrough_ll
#    example over tmpfs, and tmpfs itself
# 3. `ls -f | wc -l` of 1,000,000 keys through kvfs, and the daemon's peak RSS
#
# Each figure is the median of RUNS runs (default 5) with min-max. Scratch
# files, mounts and the passthrough build live in bench/work/ (not in git).
#
# Environment overrides: KVBENCH FSBENCH KVFS DENO (programs), RUNS, N (engine
# keys), REPS (Deno's read passes), C_REPS and C_BATCHES (the C program's read
# passes and 1000-set commits), FS_N (files), LIST_N (directory entries), LS_N (entries
# for ls -l), BIG_N (keys for ls),
# ONLY=engine|fs|ls (one part), BENCH_WORK, RESULTS (output file), BENCH_NOTE
# (a line for RESULTS.md saying how the run was made).
set -eu
cd "$(dirname "$0")/.."

case ${1:-} in
--quick) QUICK=1 ;;
"") ;;
*) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac
QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] || [ "$QUICK" = 1 ] || QUICK=1

KVBENCH=${KVBENCH:-bench/kvbench}
FSBENCH=${FSBENCH:-bench/fsbench}
KVFS=${KVFS:-./kvfs}
DENO=${DENO:-node_modules/.bin/deno}
RUNS=${RUNS:-5}
ONLY=${ONLY:-all}
WORK=${BENCH_WORK:-bench/work}
if [ "$QUICK" = 1 ]; then
	N=${N:-200} REPS=${REPS:-5} C_REPS=${C_REPS:-5} C_BATCHES=${C_BATCHES:-3}
	FS_N=${FS_N:-100} FS_REPS=${FS_REPS:-2}
	LIST_N=${LIST_N:-2000} LS_N=${LS_N:-1000} BIG_N=${BIG_N:-20000}
	RESULTS=${RESULTS:-$WORK/RESULTS.quick.md}
else
	# the C programs repeat the reads and the 1000-set commits more than the
	# Deno script, so that each of their phases lasts long enough to time
	N=${N:-2000} REPS=${REPS:-20} C_REPS=${C_REPS:-100} C_BATCHES=${C_BATCHES:-50}
	FS_N=${FS_N:-2000} FS_REPS=${FS_REPS:-3}
	# ls -l makes the passthrough hold a descriptor per entry: LS_N stays
	# under the descriptor limits of machines like ours (20,000)
	LIST_N=${LIST_N:-100000} LS_N=${LS_N:-10000} BIG_N=${BIG_N:-1000000}
	RESULTS=${RESULTS:-bench/RESULTS.md}
fi

for prog in "$KVBENCH" "$FSBENCH"; do
	[ -x "$prog" ] || { echo "bench: '$prog' is missing; run make first" >&2; exit 1; }
done
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
OUT=$WORK/out
rm -rf "$OUT"
mkdir -p "$OUT"
cat /proc/loadavg >"$OUT/load-start"
# what one durable write costs on this disk, for reading the rates below
t0=$(date +%s%N)
dd if=/dev/zero of="$WORK/fsync-probe" bs=4k count=200 oflag=dsync 2>/dev/null
echo "$(( ($(date +%s%N) - t0) / 200000 ))" >"$OUT/fsync-us"
rm -f "$WORK/fsync-probe"

say() { printf 'bench: %s\n' "$*" >&2; }

# ---- mounts: started here, always taken down ----

PIDS=""
MOUNTS=""
FAILED=0
cleanup() {
	for m in $MOUNTS; do
		if grep -q " $m " /proc/mounts; then
			fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null ||
				fusermount3 -uz "$m" 2>/dev/null || true
		fi
	done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill "$p" 2>/dev/null || true
	done
	MOUNTS="" PIDS=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_mount DIR PID: until DIR is a mount point (5 s), or fail
wait_mount() {
	i=0
	while ! grep -q " $1 fuse" /proc/mounts; do
		if ! kill -0 "$2" 2>/dev/null || [ $i -ge 100 ]; then
			say "mount of '$1' did not come up"; exit 1
		fi
		sleep 0.05; i=$((i + 1))
	done
}

# unmount DIR PID: take one mount down and wait for its daemon
unmount() {
	fusermount3 -u "$1" || { sleep 0.5; fusermount3 -u "$1"; }
	i=0
	while kill -0 "$2" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}

# mount_kvfs DATABASE DIR: start ./kvfs -f in the background, sets KVFS_PID
mount_kvfs() {
	mkdir -p "$2"
	"$KVFS" -f "$1" "$2" 2>>"$OUT/kvfs.log" &
	KVFS_PID=$!
	PIDS="$PIDS $KVFS_PID" MOUNTS="$2 $MOUNTS"
	wait_mount "$2" "$KVFS_PID"
}

# hwm PID: peak and current resident set of a process, in kB
hwm() { awk '/^VmHWM/ {h=$2} /^VmRSS/ {r=$2} END {print h, r}' "/proc/$1/status"; }

now_ns() { date +%s%N; }

# ---- 1. engine ----

if [ "$ONLY" = all ] || [ "$ONLY" = engine ]; then
	[ -x "$DENO" ] || { say "'$DENO' is missing (npm install)"; exit 1; }
	run=1
	while [ $run -le "$RUNS" ]; do
		# kvfs and raw SQLite side by side, each first in every other run
		# (so that neither always follows Deno's run or the other's)
		order="kvfs sqlite deno"
		[ $((run % 2)) = 0 ] && order="sqlite kvfs deno"
		for impl in $order; do
			say "engine $impl, run $run of $RUNS (N=$N)"
			db=$WORK/engine-$impl.sqlite3
			rm -f "$db" "$db-wal" "$db-shm"
			if [ $impl = deno ]; then
				"$DENO" run --unstable-kv -A bench/kvbench.ts --reps "$REPS" "$db" "$N"
			else
				"$KVBENCH" --impl $impl --reps "$C_REPS" --batches "$C_BATCHES" "$db" "$N"
			fi >>"$OUT/engine.jsonl"
			rm -f "$db" "$db-wal" "$db-shm"
		done
		run=$((run + 1))
	done
fi

# ---- 2. file system ----

# A passthrough FUSE file system: libfuse's own passthrough_ll example
# (Debian ships its source in libfuse3-dev), built here at bench time.
build_passthrough() {
	ex=/usr/share/doc/libfuse3-dev/examples
	PT=$WORK/passthrough_ll
	[ -x "$PT" ] && return 0
	if [ -f $ex/passthrough_ll.c ]; then
		mkdir -p "$WORK/passthrough"
		cp $ex/passthrough_ll.c $ex/passthrough_helpers.h "$WORK/passthrough/"
		# shellcheck disable=SC2046
		${CC:-cc} -O2 -w $(pkg-config --cflags fuse3) -o "$PT" \
			"$WORK/passthrough/passthrough_ll.c" $(pkg-config --libs fuse3)
	else
		say "no passthrough_ll.c in $ex (libfuse3-dev); skipping the passthrough"
		PT=""
	fi
}

# ls_l LABEL DIR: time `ls -l DIR/lsl` as a user runs it; one JSON line,
# per entry, like bench/fsbench's (ls -l prints a "total" line first)
ls_l() {
	t0=$(now_ns)
	lines=$(ls -l "$2/lsl" 2>>"$OUT/ls-l.err" | wc -l)
	t1=$(now_ns)
	if [ "$lines" -ne $((LS_N + 1)) ]; then
		printf '{"fs":"%s","phase":"ls_l","error":"ls -l printed %s lines, want %s"}\n' \
			"$1" "$lines" $((LS_N + 1))
		FAILED=1
		return
	fi
	awk -v l="$1" -v n="$LS_N" -v ns=$((t1 - t0)) 'BEGIN { s = ns / 1e9
		printf "{\"fs\":\"%s\",\"phase\":\"ls_l\",\"n\":%d,\"seconds\":%.6f,\"ops_per_s\":%.1f,\"us_per_op\":%.3f}\n", l, n, s, n / s, s * 1e6 / n }'
}

if [ "$ONLY" = all ] || [ "$ONLY" = fs ]; then
	build_passthrough
	TMPFS=$WORK/tmpfs
	mkdir -p "$TMPFS"
	if ! grep -q " $TMPFS tmpfs" /proc/mounts; then
		if mount -t tmpfs -o size=2g,mode=0755 kvfs-bench "$TMPFS" 2>/dev/null; then
			MOUNTS="$TMPFS $MOUNTS"
		else
			# not root: /dev/shm is a tmpfs too
			TMPFS=/dev/shm/kvfs-bench.$$
			mkdir -p "$TMPFS"
		fi
	fi
	rm -rf "${TMPFS:?}/"* 2>/dev/null || true

	say "preparing $LIST_N entries for the listing"
	fsdb=$WORK/fs.sqlite3
	rm -f "$fsdb" "$fsdb-wal" "$fsdb-shm"
	"$KVBENCH" --fill list "$fsdb" "$LIST_N"
	"$KVBENCH" --fill lsl "$fsdb" "$LS_N"
	echo "$LIST_N" >"$OUT/list-count"
	"$FSBENCH" --populate "$TMPFS/list" "$LIST_N"
	"$FSBENCH" --populate "$TMPFS/lsl" "$LS_N"

	mount_kvfs "$fsdb" "$WORK/mnt-kvfs"
	FS_KVFS_PID=$KVFS_PID
	# the same database on the tmpfs: FUSE costs without the disk's fsync,
	# the fair comparison with the passthrough over the same tmpfs
	mkdir -p "$TMPFS/kvfs-db"
	cp "$fsdb" "$TMPFS/kvfs-db/fs.sqlite3"
	mount_kvfs "$TMPFS/kvfs-db/fs.sqlite3" "$WORK/mnt-kvfs-tmpfs"
	FS_KVFS_TMPFS_PID=$KVFS_PID
	if [ -n "$PT" ]; then
		mkdir -p "$WORK/mnt-pt"
		# it keeps a descriptor open for every inode the kernel knows
		# (`ls -l` of LS_N entries needs one each): as many as allowed
		(ulimit -n "$(ulimit -Hn)" 2>/dev/null
		 exec "$PT" -f -o source="$TMPFS",xattr "$WORK/mnt-pt") 2>>"$OUT/passthrough.log" &
		PT_PID=$!
		PIDS="$PIDS $PT_PID" MOUNTS="$WORK/mnt-pt $MOUNTS"
		wait_mount "$WORK/mnt-pt" "$PT_PID"
	fi

	run=1
	while [ $run -le "$RUNS" ]; do
		say "file system, run $run of $RUNS ($FS_N files, $LIST_N entries)"
		# a refused phase is reported in the results; the run goes on
		"$FSBENCH" --label kvfs --reps "$FS_REPS" "$WORK/mnt-kvfs" "$FS_N" \
			"$WORK/mnt-kvfs/list" >>"$OUT/fs.jsonl" || FAILED=1
		"$FSBENCH" --label kvfs-tmpfs --reps "$FS_REPS" "$WORK/mnt-kvfs-tmpfs" "$FS_N" \
			"$WORK/mnt-kvfs-tmpfs/list" >>"$OUT/fs.jsonl" || FAILED=1
		if [ -n "$PT" ]; then
			"$FSBENCH" --label passthrough --reps "$FS_REPS" "$WORK/mnt-pt" "$FS_N" \
				"$WORK/mnt-pt/list" >>"$OUT/fs.jsonl" || FAILED=1
		fi
		"$FSBENCH" --label tmpfs --reps "$FS_REPS" "$TMPFS" "$FS_N" \
			"$TMPFS/list" >>"$OUT/fs.jsonl" || FAILED=1
		ls_l kvfs "$WORK/mnt-kvfs" >>"$OUT/fs.jsonl"
		ls_l kvfs-tmpfs "$WORK/mnt-kvfs-tmpfs" >>"$OUT/fs.jsonl"
		[ -z "$PT" ] || ls_l passthrough "$WORK/mnt-pt" >>"$OUT/fs.jsonl"
		ls_l tmpfs "$TMPFS" >>"$OUT/fs.jsonl"
		# the engine alone on the same tmpfs: what the durable commit
		# behind a create, unlink or rename costs without FUSE
		cdb=$TMPFS/commit.sqlite3
		for phase in set delete move; do
			rm -f "$cdb" "$cdb-wal" "$cdb-shm"
			"$KVBENCH" --impl kvfs --only $phase "$cdb" "$FS_N" >>"$OUT/commit-tmpfs.jsonl"
		done
		rm -f "$cdb" "$cdb-wal" "$cdb-shm"
		run=$((run + 1))
	done
	hwm "$FS_KVFS_PID" >"$OUT/fs-kvfs-rss"
	# the kernel forgets the names it cached (as under memory pressure):
	# the daemon's inodes go, and the memory they took goes back
	rm -f "$OUT/fs-kvfs-rss-forgot"
	if sync && echo 2 2>/dev/null >/proc/sys/vm/drop_caches; then
		sleep 1
		hwm "$FS_KVFS_PID" >"$OUT/fs-kvfs-rss-forgot"
	fi
	[ -z "$PT" ] || unmount "$WORK/mnt-pt" "$PT_PID"
	unmount "$WORK/mnt-kvfs" "$FS_KVFS_PID"
	unmount "$WORK/mnt-kvfs-tmpfs" "$FS_KVFS_TMPFS_PID"
	rm -rf "${TMPFS:?}/"* 2>/dev/null || true
fi

# ---- 3. ls -f of BIG_N keys through kvfs ----

if [ "$ONLY" = all ] || [ "$ONLY" = ls ]; then
	bigdb=$WORK/big.sqlite3
	rm -f "$bigdb" "$bigdb-wal" "$bigdb-shm"
	say "writing $BIG_N keys with the engine"
	t0=$(now_ns)
	"$KVBENCH" --fill big "$bigdb" "$BIG_N"
	echo "$(( $(now_ns) - t0 ))" >"$OUT/big-fill-ns"
	echo "$BIG_N" >"$OUT/big-count"
	mount_kvfs "$bigdb" "$WORK/mnt-big"
	hwm "$KVFS_PID" >"$OUT/big-rss-before"
	run=1
	while [ $run -le "$RUNS" ]; do
		say "ls -f | wc -l of $BIG_N keys, run $run of $RUNS"
		t0=$(now_ns)
		# the point is ls itself, as a user runs it
		# shellcheck disable=SC2012
		count=$(ls -f "$WORK/mnt-big/big" | wc -l)
		t1=$(now_ns)
		if [ "$count" -ne $((BIG_N + 2)) ]; then
			say "ls -f listed $count names, want $((BIG_N + 2))"; exit 1
		fi
		echo "$((t1 - t0))" >>"$OUT/big-ls-ns"
		run=$((run + 1))
	done
	hwm "$KVFS_PID" >"$OUT/big-rss-after"
	unmount "$WORK/mnt-big" "$KVFS_PID"
	rm -f "$bigdb" "$bigdb-wal" "$bigdb-shm"
fi
cleanup
cat /proc/loadavg >"$OUT/load-end"

# ---- RESULTS.md ----

say "writing $RESULTS"
sh bench/report.sh "$OUT" "$QUICK" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
if [ "$FAILED" = 1 ]; then
	say "done, with failures (see $RESULTS): exit 1"
	exit 1
fi
say "done: $RESULTS"
