#!/usr/bin/env bats
# Every kind of value Deno stores goes Deno -> `kvfs dump` -> `kvfs load` ->
# Deno and comes back identical (identity of shared and circular objects
# included). The script prints TAP; any "not ok" fails the test.

load common

setup() {
	common_setup
}

@test "Deno's values of every kind survive dump and load, identity included" {
	run -0 deno_run values-roundtrip.ts "$KVFS_BIN"
	echo "$output" | grep -q '^ok '
	! echo "$output" | grep -q '^not ok'
}
