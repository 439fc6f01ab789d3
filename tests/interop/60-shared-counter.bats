#!/usr/bin/env bats
# A shell and a Deno program update one key at the same time, each with an
# optimistic read-modify-write: the shell through a transaction directory
# of the mount (its read records a check, the commit fails with EAGAIN when
# the key moved), Deno with kv.atomic().check(). No update may be lost.

load common
load ../bats/helpers

setup() {
	common_setup
}

@test "shell transactions and Deno's checked commits on one key lose no update" {
	kvfs load "$DB" <<<'{"key":["count"],"value":0}'
	kvfs_mount
	deno_run increment.ts "$DB" 100 d.ready s.ready >d.out 2>d.err &
	dpid=$!
	for i in $(seq 100); do [ -e d.ready ] && break; sleep 0.1; done
	[ -e d.ready ]
	: >s.ready
	conflicts=0
	for i in $(seq 100); do
		for try in $(seq 200); do
			mkdir "$MNT/.tx/T"
			n=$(t cat "$MNT/.tx/T/count")
			echo $((n + 1)) >"$MNT/.tx/T/count"
			if t mv "$MNT/.tx/T" "$MNT/.commit/T" 2>mv.err; then
				break
			fi
			grep -q "Resource temporarily unavailable" mv.err
			conflicts=$((conflicts + 1))
			rm -rf "$MNT/.tx/T"
		done
	done
	dstatus=0
	wait $dpid || dstatus=$?
	cat d.err >&2
	[ $dstatus -eq 0 ]
	echo "# shell conflicts: $conflicts, Deno conflicts: $(cat d.out)" >&3
	run -0 t cat "$MNT/count"
	[ "$output" = 200 ]
	run -0 deno_run dump.ts "$DB" '["count"]'
	[[ $output == '{"key":["count"],"value":200,'* ]]
	# the two really raced: at least one side had to try again
	[ $((conflicts + $(cat d.out))) -gt 0 ]
}
