/* dump.c - `kvfs dump` (placeholder) */
#include <stdio.h>
#include "commands.h"
int kvfs_dump_main(int argc, char **argv) { (void) argc; (void) argv; fprintf(stderr, "kvfs: dump: not built yet\n"); return 1; }
