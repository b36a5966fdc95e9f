/* The Prometheus endpoint ([daemon] metrics): HTTP/1.1 GET /metrics only,
 * answered in the text exposition format (version 0.0.4) from the
 * workers' counters. Served without blocking on the main thread
 * (served.h): at most METRICS_CLIENTS_MAX clients at once, each cut off
 * METRICS_DEADLINE_MS after its accept. Documented in docs/metrics.md. */
#ifndef SOCKGATE_METRICS_H
#define SOCKGATE_METRICS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "http_get.h"

#define METRICS_DEADLINE_MS 2000
#define METRICS_CLIENTS_MAX 8

struct fd_budget;
struct served_loop;
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
/* Serves the endpoint from l; 0 or -errno. */
int metrics_serve(struct metrics *m, struct served_loop *l);
void metrics_close(struct metrics *m);

#endif
