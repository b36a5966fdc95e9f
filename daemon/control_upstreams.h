/* The control socket's view of a configuration's upstreams and groups, and
 * the live pin of a group's member (control_upstreams.c). */
#ifndef SOCKGATE_CONTROL_UPSTREAMS_H
#define SOCKGATE_CONTROL_UPSTREAMS_H

#include <stdio.h>

#include <jansson.h>

struct generation;

/* Each upstream's state, addresses, last check and counters, and each
 * group's policy, pin and the member new flows take: for status. */
void control_upstreams_text(struct generation *g, FILE *out);
/* The same as {"upstreams": {...}, "groups": {...}}. */
json_t *control_upstreams_json(struct generation *g);

/* Pins group to member, or "auto" back to its policy: 0, or -1; msg says
 * what happened. */
int control_upstream_use(struct generation *g, const char *group, const char *member, char *msg,
			 size_t len);

#endif
