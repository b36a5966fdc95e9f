/* Started as root outside systemd, sockgated gives up root once its
 * listeners and sockets are bound: it becomes [daemon] user, in group
 * sockgate when that exists (so the config it re-reads on reload stays
 * readable), keeping only the capabilities a transparent proxy uses at
 * run time. Under systemd the unit does this (DynamicUser, ambient
 * capabilities) and nothing happens here. */
#ifndef SOCKGATE_PRIVILEGES_H
#define SOCKGATE_PRIVILEGES_H

#include <stddef.h>

/* Whether to drop: running as root (euid 0, however started: the shipped
 * unit starts it as a dynamic user already) and user is not "root". */
int privileges_should_drop(const char *user);
/* Becomes user (and group sockgate, or user's own), with CAP_NET_ADMIN
 * (IP_TRANSPARENT, SO_MARK), CAP_NET_RAW and CAP_NET_BIND_SERVICE
 * effective and every other capability gone, bounding set included.
 * Must run before any thread starts: credentials are per thread. 0, or
 * -errno with why in err. */
int privileges_drop(const char *user, char *err, size_t errlen);

#endif
