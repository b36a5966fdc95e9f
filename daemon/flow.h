/* A relayed TCP flow: client socket, upstream socket, handshake, splice. */
#ifndef SOCKGATE_FLOW_H
#define SOCKGATE_FLOW_H

#include <stdint.h>
#include <sys/socket.h>

#include "intake.h"

struct worker;
struct list;

/* Takes ownership of client_fd (accepted on an intake listener of family). */
void flow_accept(struct worker *w, int client_fd, const struct sockaddr_storage *client, int family,
		 enum intake_kind intake);
/* Continues a flow that had work left (fairness budget or pipe wait). */
void flow_resume(struct list *resume_node);
/* Expires flows whose deadline passed. */
void flow_expire_timers(struct worker *w);
/* After a reload: no queued deadline lies beyond now + cfg's timeouts. */
struct config;
void flow_timeouts_changed(struct worker *w, const struct config *cfg);
/* Closes every flow of w (shutdown). */
void flow_close_all(struct worker *w);
/* The worker's live flows, one line (or, json, one object followed by a
 * comma) each, in a malloc'd string; NULL when out of memory. */
char *flow_snapshot(struct worker *w, int json);
/* Recycles the flows destroyed since the last call: from the loop, once
 * no event of the batch that destroyed them is left. */
void flow_reap(struct worker *w);
/* Frees recycled flow allocations. */
void flow_free_cache(struct worker *w);

#endif
