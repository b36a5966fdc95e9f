/* The control socket's request line, parsed: "VERB[ ARGS][ json]" ended by
 * a newline, as the sockgate CLI sends it. Pure: no I/O, no state. */
#ifndef SOCKGATE_CONTROL_REQUEST_H
#define SOCKGATE_CONTROL_REQUEST_H

#include <stddef.h>

#include "sockgate/config.h"

enum control_verb {
	CONTROL_STATUS,
	CONTROL_STATS,
	CONTROL_CONNS,
	CONTROL_RELOAD,
	CONTROL_DNS_FLUSH,
	CONTROL_UPSTREAM_USE,	  /* GROUP MEMBER|auto */
	CONTROL_TPROXY_LISTENERS, /* the listeners themselves, by SCM_RIGHTS */
	CONTROL_UNKNOWN,
};

struct control_request {
	enum control_verb verb;
	int json; /* " json" ended the line: answer with one JSON object */
	/* upstream-use: both set, or usage_error (not exactly two names) */
	char group[CONFIG_NAME_MAX + 1], member[CONFIG_NAME_MAX + 1];
	int usage_error;
};

/* Parses the line that starts in[0..len) (up to its first newline, or all
 * of it). Only printable ASCII may come before the line's end (a CR before
 * the newline is allowed); -1 when another byte does. An unknown verb is
 * CONTROL_UNKNOWN, not an error. */
int control_request_parse(const char *in, size_t len, struct control_request *req);

#endif
