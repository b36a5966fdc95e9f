/* sockgate's entry point; the command itself is sockgate_run (sockgate.c). */
#include <signal.h>

#include "subcommands.h"

int main(int argc, char *argv[])
{
	/* a reader that goes away (| head, | grep -q) must not kill a command
	 * halfway through changing the kernel: writes fail instead */
	signal(SIGPIPE, SIG_IGN);
	return sockgate_run(argc, argv);
}
