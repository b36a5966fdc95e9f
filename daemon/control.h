/* The control socket: a unix stream socket the sockgate CLI asks for
 * status, live flows and counters. One request line, one answer, close.
 * Served by the main thread, which otherwise only waits for signals. */
#ifndef SOCKGATE_CONTROL_H
#define SOCKGATE_CONTROL_H

#include <time.h>

struct config;
struct fd_budget;
struct worker;

struct control {
	int fd;
	const char *path;
	const struct config *cfg;
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
