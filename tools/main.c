/* sockgate's entry point; the command itself is sockgate_run (sockgate.c). */
#include "subcommands.h"

int main(int argc, char *argv[])
{
	return sockgate_run(argc, argv);
}
