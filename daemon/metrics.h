/* The Prometheus endpoint ([daemon] metrics): HTTP/1.1 GET /metrics only,
 * answered in the text exposition format (version 0.0.4) from the
 * workers' counters. Served by the main thread, one client at a time,
 * like the control socket; a client that stalls is cut off after a
 * second. Documented in docs/metrics.md. */
#ifndef SOCKGATE_METRICS_H
#define SOCKGATE_METRICS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "metrics_request.h"

struct fd_budget;
struct generation;
struct worker;

struct metrics {
	int fd;
	struct generation **gen; /* the daemon's current configuration */
	struct worker *workers;
	unsigned n_workers;
	const struct fd_budget *budget;
};

/* The exposition text for m's counters. */
void metrics_render(const struct metrics *m, FILE *out);

/* Listens on addr (SO_REUSEADDR); 0 or -errno with a log line. */
int metrics_open(struct metrics *m, const struct sockaddr_storage *addr);
/* Accepts and answers one client. */
void metrics_serve(struct metrics *m);
void metrics_close(struct metrics *m);

#endif
