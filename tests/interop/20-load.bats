#!/usr/bin/env bats
# `kvfs load` writes every type from $-tagged lines; Deno reads back the
# JavaScript values the lines stand for (check-load.ts compares them with a
# strict structural equality).

load common

setup() {
	common_setup
}

@test "Deno reads back every type kvfs load wrote" {
	kvfs load "$DB" <"$INTEROP/load-all.ndjson"
	run -0 deno_run check-load.ts "$DB"
	[ "$output" = ok ]
}

@test "Deno's values survive kvfs dump then kvfs load into another file" {
	deno_run write-all.ts "$DB"
	kvfs dump "$DB" >first.ndjson
	kvfs load copy.sqlite3 <first.ndjson
	# Deno reads the copy as it read the original; only versionstamps differ
	deno_run dump.ts "$DB" | sed 's/"versionstamp":"[0-9a-f]*"//' >deno-first.out
	deno_run dump.ts copy.sqlite3 | sed 's/"versionstamp":"[0-9a-f]*"//' >deno-copy.out
	[ "$(wc -l <deno-first.out)" -gt 150 ]
	diff -u deno-first.out deno-copy.out
}
