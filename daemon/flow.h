/* A relayed TCP flow: client socket, upstream socket, handshake, splice. */
#ifndef SOCKGATE_FLOW_H
#define SOCKGATE_FLOW_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <sys/socket.h>

#include "intake.h"

struct relay;

/* Takes ownership of client_fd (accepted on an intake listener of family). */
void flow_accept(struct relay *r, int client_fd, const struct sockaddr_storage *client, int family,
		 enum intake intake);
/* Continues the flows that had work left after their event (fairness
 * budget) or waited for a pipe. */
void flow_resume_queued(struct relay *r);
/* Closes every flow of r (shutdown). */
void flow_close_all(struct relay *r);
/* r's live flows, one line each (conns) or one object each appended to
 * list (conns json). */
void flow_snapshot(struct relay *r, FILE *out);
void flow_snapshot_json(struct relay *r, json_t *list);
/* Recycles the flows destroyed since the last call: from the loop, once
 * no event of the batch that destroyed them is left. */
void flow_reap(struct relay *r);
/* Frees recycled flow allocations. */
void flow_free_cache(struct relay *r);

/* Flows of r still connecting to a group member that has gone down since
 * (a check or another flow found it dead) try the next member now rather
 * than wait out their connect timeout. */
void flow_leave_down_members(struct relay *r);

#endif
