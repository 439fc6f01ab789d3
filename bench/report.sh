#!/bin/sh
# bench/report.sh OUTDIR QUICK - print RESULTS.md from what bench/run.sh
# left in OUTDIR (engine.jsonl, fs.jsonl, big-*, load-*). Needs jq.
# BENCH_NOTE, when set, is printed under the header (how the run was made).
set -eu
OUT=$1
QUICK=${2:-0}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if git status --porcelain -- engine fs mount bench 2>/dev/null | grep -qv RESULTS; then
	commit="$commit (plus uncommitted changes)"
fi
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
src=$(findmnt -no SOURCE,FSTYPE -T "$OUT" 2>/dev/null | head -1 || echo unknown)
dev=$(basename "$(echo "$src" | awk '{print $1}')")
rot=$(cat "/sys/block/$dev/queue/rotational" 2>/dev/null || echo "?")
case $rot in 0) media="non-rotational" ;; 1) media="reported rotational" ;; *) media="media unknown" ;; esac
fsync=$(cat "$OUT/fsync-us" 2>/dev/null || echo "?")
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo "?")
fuse=$(pkg-config --modversion fuse3 2>/dev/null || echo "?")
deno=$(${DENO:-node_modules/.bin/deno} --version 2>/dev/null | head -1 || echo "deno ?")

cat <<EOF
# kvfs benchmarks

Written by \`make bench\` (bench/run.sh$([ "$QUICK" = 1 ] && echo ", quick smoke sizes")); do not edit by hand.

- commit: $commit
- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) cores, $cpu, $mem RAM; disk $src ($media); kernel $(uname -r)
- durable write: one 4 KiB write + fsync (dd oflag=dsync) takes $fsync µs on that disk
- software: SQLite $sqlite (system library, used by kvfs and the raw runs), $deno, libfuse $fuse
- load average at start / end: $(cut -d' ' -f1-3 "$OUT/load-start" 2>/dev/null || echo "?") / $(cut -d' ' -f1-3 "$OUT/load-end" 2>/dev/null || echo "?")

${BENCH_NOTE:+Note: $BENCH_NOTE
}
Each figure is the median of the runs, with min–max in brackets. Higher is
better for ops/s, lower for µs/op and seconds.

EOF

# ---- engine ----

if [ -s "$OUT/engine.jsonl" ]; then
	cat <<'EOF'
## Engine: kvfs vs Deno KV vs raw SQLite (ops/s)

Same keys `["bench", i]`, same values `{i, name: "user"+i, tags: ["a","b"]}`,
one durable commit per write everywhere (WAL, synchronous=FULL). kvfs is
`bench/kvbench --impl kvfs` (the engine library), Deno is
`deno run --unstable-kv -A bench/kvbench.ts`, raw SQLite is
`bench/kvbench --impl sqlite`: prepared statements on the same schema doing
only the storage work (a write is BEGIN IMMEDIATE, bump `data_version`,
write rows, COMMIT; a read takes each row's value, encoding, version and
expiry and drops an expired row, as Deno's does; a list reads batches of 100
like Deno's default, while
the engine, given no batch size, starts at 100 and doubles to Deno's largest,
500; 64 in flight is 64 threads, each with its own connection and
transaction). The C program repeats the reads and the 1000-set commits more
often than the Deno script (n is the C program's count), so that each phase
lasts long enough to time; every figure is a rate per operation.

EOF
	jq -rn '
	def med: sort | if length % 2 == 1 then .[length / 2 | floor]
	                else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def fmt: if . == null then "–" elif . >= 100 then (round | tostring)
	         elif . >= 10 then (. * 10 | round / 10 | tostring)
	         else (. * 100 | round / 100 | tostring) end;
	def ratio: if . == null then "–" else (. * 100 | round / 100 | tostring) + "×" end;
	[inputs] as $all
	| ($all | group_by(.impl + "/" + .phase)
	   | map({key: (.[0].impl + "/" + .[0].phase),
	          value: {med: (map(.ops_per_s) | med), min: (map(.ops_per_s) | min),
	                  max: (map(.ops_per_s) | max), n: .[0].n, runs: length}})
	   | from_entries) as $s
	| ($all | group_by(.impl + "/" + .phase)
	   | map({key: (.[0].impl + "/" + .[0].phase), value: map(.ops_per_s)})
	   | from_entries) as $runs
	| def cell($k): $s[$k] as $x
	    | if $x == null then "–"
	      else "\($x.med | fmt) (\($x.min | fmt)–\($x.max | fmt))" end;
	  def rate($k): $s[$k].med;
	  # the median of the runs'"'"' own ratios: each run measures both side by side
	  def paired($a; $b): ($runs[$a] // []) as $x | ($runs[$b] // []) as $y
	    | [range(0; [($x | length), ($y | length)] | min) | $x[.] / $y[.]]
	    | if length == 0 then null else med end;
	  [["set", "one durable set", "raw", 0.9],
	   ["get", "one get", "raw", 0.8],
	   ["get_many", "one get_many of 10 keys", "raw", 0.8],
	   ["list", "one entry of list(prefix)", "raw", 0.8],
	   ["check_set", "get + commit(check, set)", "raw", 0.9],
	   ["sum", "commit(sum on a KvU64)", "raw", 0.9],
	   ["atomic_1000", "one commit of 1000 sets", "raw", 0.9],
	   ["delete", "one durable delete", "raw", 0.9],
	   ["set_64", "one durable set, 64 in flight", "deno", 5]] as $phases
	| "| phase | one operation | n | kvfs | Deno | raw SQLite | kvfs/Deno | kvfs/raw | target | met |",
	  "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
	  ($phases[] as [$p, $what, $vs, $t]
	   | (rate("kvfs/" + $p)) as $k | (rate("deno/" + $p)) as $d
	   | (rate("sqlite/" + $p)) as $r
	   | paired("kvfs/" + $p; "deno/" + $p) as $kd
	   | paired("kvfs/" + $p; "sqlite/" + $p) as $kr
	   | (if $vs == "raw" then $kr else $kd end) as $got
	   | "| \($p) | \($what) | \(($s["kvfs/" + $p] // $s["sqlite/" + $p] // $s["deno/" + $p]).n // "–") | \(cell("kvfs/" + $p)) | \(cell("deno/" + $p)) | \(cell("sqlite/" + $p)) | \($kd | ratio) | \($kr | ratio) | ≥ \($t)× \($vs) | \(if $got == null then "–" elif $got >= $t then "yes" else "**no**" end) |"),
	  "",
	  "Runs per figure: \($all | group_by(.impl + "/" + .phase) | map(length) | min). Each run measures kvfs and raw SQLite one after the other (kvfs first in odd runs, raw SQLite in even ones), then Deno; the ratios are the medians of each run'"'"'s own ratio, so a slow spell of the machine counts against both sides of it."
	' "$OUT/engine.jsonl"
	echo
fi

# ---- file system ----

if [ -s "$OUT/fs.jsonl" ]; then
	cat <<'EOF'
## File system: kvfs vs passthrough FUSE vs tmpfs (µs per operation)

`bench/fsbench` over four directories: a kvfs mount with its database on the
disk above (every create, rename and unlink is a durable commit: one fsync),
the same kvfs with its database on the tmpfs (FUSE and engine costs without the
disk; this is the column compared with the passthrough), libfuse's
`passthrough_ll` example (Debian ships its source in libfuse3-dev; built at
bench time into bench/work/, default options plus `-o xattr`: 1 s entry and
attribute timeouts) over a tmpfs, and that tmpfs directly. stat, read and
getxattr loop over every file several times (later passes may be served by
the kernel's caches, as they would be for a user); readdir is per entry of
one directory (opendir + readdir to the end + closedir, repeated), and so is
`ls -l` of a smaller one (the real command: a listing, then the attributes,
security label and ACL of every entry; smaller because the passthrough keeps
a descriptor open for every entry the kernel remembers).
The passthrough has no durability to pay for, so create, rename and unlink
through kvfs on the disk cost at least one fsync more than through it.

EOF
	jq -rn '
	def med: sort | if length % 2 == 1 then .[length / 2 | floor]
	                else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def fmt: if . == null then "–" elif . >= 100 then (round | tostring)
	         elif . >= 10 then (. * 10 | round / 10 | tostring)
	         else (. * 100 | round / 100 | tostring) end;
	[inputs] as $everything
	| ($everything | map(select(.error)) | map({key: (.fs + "/" + .phase), value: .error})
	   | from_entries) as $err
	| ($everything | map(select(.error | not))) as $all
	| ($all | group_by(.fs + "/" + .phase)
	   | map({key: (.[0].fs + "/" + .[0].phase),
	          value: {med: (map(.us_per_op) | med), min: (map(.us_per_op) | min),
	                  max: (map(.us_per_op) | max), n: .[0].n}})
	   | from_entries) as $s
	| ($all | group_by(.fs + "/" + .phase)
	   | map({key: (.[0].fs + "/" + .[0].phase), value: map(.us_per_op)})
	   | from_entries) as $runs
	| def paired($a; $b): ($runs[$a] // []) as $x | ($runs[$b] // []) as $y
	    | [range(0; [($x | length), ($y | length)] | min) | $x[.] / $y[.]]
	    | if length == 0 then null else med end;
	  def cell($k): $s[$k] as $x
	    | if $x == null then (if $err[$k] then "failed: \($err[$k])" else "–" end)
	      else "\($x.med | fmt) (\($x.min | fmt)–\($x.max | fmt))"
	           + (if $err[$k] then ", some runs failed: \($err[$k])" else "" end) end;
	  [["create", "create + write + close of a small JSON value"],
	   ["stat", "stat"],
	   ["read", "open + read + close"],
	   ["getxattr", "getxattr user.kv.versionstamp"],
	   ["rename", "rename"],
	   ["unlink", "unlink"],
	   ["readdir", "one entry of readdir"],
	   ["ls_l", "one entry of `ls -l`"]] as $ops
	| "| operation | n | kvfs (db on disk) | kvfs (db on tmpfs) | passthrough | tmpfs | kvfs on tmpfs / passthrough | target ≤ 1.2× |",
	  "|---|---:|---:|---:|---:|---:|---:|---|",
	  ($ops[] as [$p, $what]
	   | $s["kvfs-tmpfs/" + $p].med as $k | $s["passthrough/" + $p].med as $q
	   | paired("kvfs-tmpfs/" + $p; "passthrough/" + $p) as $r
	   | "| \($what) | \(($s["kvfs/" + $p] // $s["passthrough/" + $p] // $s["tmpfs/" + $p]).n // "–") | \(cell("kvfs/" + $p)) | \(cell("kvfs-tmpfs/" + $p)) | \(cell("passthrough/" + $p)) | \(cell("tmpfs/" + $p)) | \(if $r == null then "–" else ($r * 100 | round / 100 | tostring) + "×" end) | \(if $r == null then "–" elif $r <= 1.2 then "yes" else "**no**" end) |")
	' "$OUT/fs.jsonl"
	echo
fi

# ---- what the commit behind a write costs ----

if [ -s "$OUT/fs.jsonl" ] && [ -s "$OUT/commit-tmpfs.jsonl" ]; then
	cat <<'EOF'
### What the durable commit adds

A create, unlink or rename through kvfs is one durable engine commit; through
the passthrough it is one tmpfs operation. The engine alone
(`bench/kvbench --impl kvfs --only PHASE` on a database on the same tmpfs, no
FUSE) shows what that commit costs. The passthrough plus that commit is the
least kvfs could take; where the commit alone is more than a fifth of the
passthrough's time, 1.2× of the passthrough cannot be reached while each
operation stays one durable commit.

EOF
	jq -rn --slurpfile fs "$OUT/fs.jsonl" '
	def med: sort | if length % 2 == 1 then .[length / 2 | floor]
	                else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def fmt: if . == null then "–" elif . >= 100 then (round | tostring)
	         elif . >= 10 then (. * 10 | round / 10 | tostring)
	         else (. * 100 | round / 100 | tostring) end;
	def ratio: if . == null then "–" else (. * 100 | round / 100 | tostring) + "×" end;
	([inputs] | group_by(.phase)
	 | map({key: .[0].phase, value: (map(1e6 / .ops_per_s) | med)}) | from_entries) as $c
	| ($fs | map(select(.error | not)) | group_by(.fs + "/" + .phase)
	   | map({key: (.[0].fs + "/" + .[0].phase), value: (map(.us_per_op) | med)})
	   | from_entries) as $s
	| [["create", "set", "one set"], ["unlink", "delete", "one delete"],
	   ["rename", "move", "a get and a commit of check + delete + set of another key"]] as $ops
	| "| operation | passthrough | engine commit on tmpfs (phase) | passthrough + commit | commit / passthrough | kvfs on tmpfs | kvfs / (passthrough + commit) |",
	  "|---|---:|---:|---:|---:|---:|---:|",
	  ($ops[] as [$op, $phase, $what]
	   | $s["passthrough/" + $op] as $q | $c[$phase] as $e | $s["kvfs-tmpfs/" + $op] as $k
	   | (if $q and $e then $q + $e else null end) as $b
	   | "| \($op) | \($q | fmt) | \($e | fmt) (\($phase): \($what)) | \($b | fmt) | \(if $q and $e then ($e / $q * 100 | round | tostring) + "%" else "–" end) | \($k | fmt) | \(if $k and $b then $k / $b else null end | ratio) |")
	' "$OUT/commit-tmpfs.jsonl"
	echo
fi

# ---- ls -f of many keys ----

if [ -s "$OUT/big-ls-ns" ]; then
	keys=$(cat "$OUT/big-count" 2>/dev/null || echo "?")
	sort -n "$OUT/big-ls-ns" | awk -v keys="$keys" \
		-v fill="$(cat "$OUT/big-fill-ns" 2>/dev/null || echo 0)" '
		{ t[NR] = $1 / 1e9 }
		END {
			m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			print "## Listing " keys " keys through kvfs\n"
			print "The keys `[\"big\", 0]` .. `[\"big\", " keys - 1 "]` are written by `bench/kvbench --fill` (the engine, commits of 1000 sets: " sprintf("%.1f", fill / 1e9) " s), then the database is mounted and `ls -f MOUNT/big | wc -l` is timed " NR " times.\n"
			print "| command | seconds | entries/s |"
			print "|---|---:|---:|"
			printf "| `ls -f \\| wc -l` | %.2f (%.2f–%.2f) | %.0f |\n", m, t[1], t[NR], keys / m
		}'
	read -r h0 r0 <"$OUT/big-rss-before"
	read -r h1 r1 <"$OUT/big-rss-after"
	echo
	echo "| kvfs daemon memory | peak (VmHWM) | resident (VmRSS) |"
	echo "|---|---:|---:|"
	if [ -s "$OUT/fs-kvfs-rss" ]; then
		read -r h2 r2 <"$OUT/fs-kvfs-rss"
		echo "| after the file-system runs (readdir of $(cat "$OUT/list-count" 2>/dev/null || echo "?") entries) | $((h2 / 1024)) MiB | $((r2 / 1024)) MiB |"
	fi
	if [ -s "$OUT/fs-kvfs-rss-forgot" ]; then
		read -r h3 r3 <"$OUT/fs-kvfs-rss-forgot"
		echo "| then the kernel dropped its cached names (drop_caches) | $((h3 / 1024)) MiB | $((r3 / 1024)) MiB |"
	fi
	echo "| mounted, before listing | $((h0 / 1024)) MiB | $((r0 / 1024)) MiB |"
	echo "| after listing $keys keys | $((h1 / 1024)) MiB | $((r1 / 1024)) MiB |"
	echo
	if [ $((h1 - h0)) -lt 65536 ]; then
		echo "Target \"daemon RSS bounded after listing $keys keys\": met (peak grew $(( (h1 - h0) / 1024 )) MiB, less than 64 MiB)."
	else
		echo "Target \"daemon RSS bounded after listing $keys keys\": **not met** (peak grew $(( (h1 - h0) / 1024 )) MiB while listing)."
	fi
	echo
fi
