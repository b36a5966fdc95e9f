/* Worker 0 watches the upstreams for every worker: looks their host names
 * up again on their TTL (sooner while one is down), and checks each member
 * of a [group] on the group's interval with a real handshake (and a UDP
 * ASSOCIATE where it carries UDP). Checks are marked connections, so they
 * never pass the interception. What it learns goes into the generation's
 * upstream_live, which every worker reads when it picks a member. */
#ifndef SOCKGATE_UPSTREAM_WATCH_H
#define SOCKGATE_UPSTREAM_WATCH_H

struct relay;

/* Makes r->watch; 0 or -errno (logged). */
int upstream_watch_new(struct relay *r);
/* Once a tick: what is due starts, what overran its time fails; a new
 * generation starts the watch over on its upstreams. */
void upstream_watch_tick(struct relay *r);
void upstream_watch_free(struct relay *r);

#endif
