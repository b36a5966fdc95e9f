/* The PAC endpoint ([pac] listen): GET /proxy.pac and /wpad.dat, answered
 * with the script pac_script.c writes from the current configuration (so
 * it follows reload) as application/x-ns-proxy-autoconfig; nothing else is
 * served. On the main thread like the metrics endpoint (served.h), with
 * its request parser and limits; only [socks] allow's clients are
 * answered. Documented in docs/pac.md. */
#ifndef SOCKGATE_PAC_H
#define SOCKGATE_PAC_H

#include <stddef.h>

#include "sockgate/config.h"

#define PAC_DEADLINE_MS 2000
#define PAC_CLIENTS_MAX 16

struct generation;
struct served_loop;

struct pac {
	int fds[PAC_LISTEN_MAX];
	size_t n_fds;
	struct generation **gen; /* the daemon's current configuration */
};

/* Listens on cfg's [pac] addresses; 0, or -errno with a log line. */
int pac_open(struct pac *p, const struct config *cfg);
/* Serves them from l; 0 or -errno. */
int pac_serve(struct pac *p, struct served_loop *l);
void pac_close(struct pac *p);

#endif
