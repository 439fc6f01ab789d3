/*
 * commands.h - the kvfs program's subcommands that work without mounting.
 * Each takes the arguments after the subcommand name and returns the exit
 * status.
 */
#ifndef KVFS_COMMANDS_H
#define KVFS_COMMANDS_H

int kvfs_dump_main(int argc, char **argv);   /* kvfs dump DATABASE [PATH] */
int kvfs_load_main(int argc, char **argv);   /* kvfs load DATABASE < FILE */

#endif
