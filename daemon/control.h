/* The control socket: a unix stream socket the sockgate CLI asks for
 * status, live flows and counters. One request line, one answer, close.
 * Served by the main thread, which otherwise only waits for signals. */
#ifndef SOCKGATE_CONTROL_H
#define SOCKGATE_CONTROL_H

#include <stddef.h>
#include <time.h>

struct fd_budget;
struct generation;
struct worker;

struct control {
	int fd;
	const char *path;
	struct generation **gen; /* the daemon's current configuration */
	/* re-reads the config: 0 with what changed, or -1 with why not */
	int (*reload)(void *arg, char *msg, size_t len);
	void *reload_arg;
	struct worker *workers;
	unsigned n_workers;
	const struct fd_budget *budget;
	time_t started;
};

/* Creates the socket (mode 0660, group "sockgate" when it exists); 0 or
 * -errno with a log line. */
int control_open(struct control *c, const char *path);
/* Accepts and answers one client. */
void control_serve(struct control *c);
/* Closes and unlinks the socket. */
void control_close(struct control *c);

#endif
