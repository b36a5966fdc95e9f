/* The control socket: a unix stream socket the sockgate CLI asks for
 * status, live flows and counters. One request line, one answer, close.
 * Served without blocking on the main thread (served.h): a client has
 * CONTROL_DEADLINE_MS in all, and a reload's askers wait for its outcome. */
#ifndef SOCKGATE_CONTROL_H
#define SOCKGATE_CONTROL_H

#include <stddef.h>
#include <time.h>

#define CONTROL_REQUEST_MAX    256
#define CONTROL_DEADLINE_MS    2000
#define CONTROL_RELOAD_WAIT_MS 60000
#define CONTROL_CLIENTS_MAX    16

struct fd_budget;
struct generation;
struct served;
struct served_loop;
struct worker;

struct control {
	int fd;
	const char *path;
	struct generation **gen; /* the daemon's current configuration */
	/* starts re-reading the config, unless a reload runs already; its
	 * outcome comes back through control_reload_finished */
	void (*reload_start)(void *arg);
	void *reload_arg;
	struct served *served;
	int reload_rc, reload_done;
	char reload_msg[2048];
	struct worker *workers;
	unsigned n_workers;
	const struct fd_budget *budget;
	time_t started;
};

/* Creates the socket (mode 0660, group "sockgate" when it exists); 0 or
 * -errno with a log line. */
int control_open(struct control *c, const char *path);
/* Serves the socket from l; 0 or -errno. */
int control_serve(struct control *c, struct served_loop *l);
/* A reload ended (rc 0: done, -1: refused, with why): its askers hear it. */
void control_reload_finished(struct control *c, int rc, const char *msg);
/* Closes and unlinks the socket. */
void control_close(struct control *c);

#endif
