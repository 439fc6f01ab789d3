/*
 * regexp_verdicts - one line per $regexp value on stdin, answered with
 * "ok" or "ERR <message>" on stdout: whether kvfs stores it. The
 * interop test compares these answers with `new RegExp` in Deno.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv.h"

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		uint8_t *v;
		size_t vl;
		int enc;
		if (line[n - 1] == '\n')
			n--;
		int rc = kv_value_from_json(line, (size_t) n, &enc, &v, &vl);
		if (rc == KV_OK) {
			printf("ok\n");
			kv_free(v);
		} else {
			printf("ERR %s\n", kv_errmsg(NULL));
		}
	}
	free(line);
	return 0;
}
