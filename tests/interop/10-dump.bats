#!/usr/bin/env bats
# Deno writes every key and value type it can store; `kvfs dump` prints
# exactly, byte for byte, what dump.ts computes in Deno from kv.list() for
# the same file.

load common

setup() {
	common_setup
	deno_run write-all.ts "$DB"
}

@test "kvfs dump prints what Deno reads, byte for byte, for every key and value type" {
	deno_run dump.ts "$DB" >deno.out
	kvfs dump "$DB" >kvfs.out
	[ "$(wc -l <deno.out)" -gt 150 ]
	diff -u deno.out kvfs.out
}

@test "kvfs dump PATH prints what Deno lists under the same prefix" {
	deno_run dump.ts "$DB" '["v"]' >deno.out
	kvfs dump "$DB" v >kvfs.out
	diff -u deno.out kvfs.out

	# a prefix that holds a value itself comes first
	deno_run dump.ts "$DB" '["m","users"]' >deno.out
	kvfs dump "$DB" m/users >kvfs.out
	[ "$(wc -l <kvfs.out)" -eq 3 ]
	diff -u deno.out kvfs.out

	# every kind of part in a path
	deno_run dump.ts "$DB" '["m",{"$bytes":"AQ=="},{"$bigint":"1"},{"$number":"-0"},"x",false]' >deno.out
	kvfs dump "$DB" 'm/0x01/1n/-0/x/false' >kvfs.out
	[ "$(wc -l <kvfs.out)" -eq 1 ]
	diff -u deno.out kvfs.out
}

@test "kvfs dump leaves a Deno file unchanged" {
	before=$(sqlite3 "$DB" 'SELECT version FROM data_version; SELECT count(*), sum(length(v)) FROM kv')
	sum=$(sha256sum <"$DB")
	kvfs dump "$DB" >/dev/null
	[ "$(sha256sum <"$DB")" = "$sum" ]
	[ "$(sqlite3 "$DB" 'SELECT version FROM data_version; SELECT count(*), sum(length(v)) FROM kv')" = "$before" ]
}
