/*
 * main.c - the kvfs program: subcommands, or mount DATABASE at MOUNTPOINT.
 * (placeholder until the mount lands)
 */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "kv.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "dump") == 0)
		return kvfs_dump_main(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "load") == 0)
		return kvfs_load_main(argc - 2, argv + 2);
	fprintf(stderr, "kvfs: mounting is not built yet\n");
	return 1;
}
