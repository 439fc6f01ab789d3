/* fs_ops.c - placeholder so the fs library is never empty */
#include "fs.h"
int fs__placeholder(void);
int fs__placeholder(void) { return 0; }
