/* load.c - `kvfs load` (placeholder) */
#include <stdio.h>
#include "commands.h"
int kvfs_load_main(int argc, char **argv) { (void) argc; (void) argv; fprintf(stderr, "kvfs: load: not built yet\n"); return 1; }
