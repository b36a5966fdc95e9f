/* systemd's service notification protocol (sd_notify(3)), spoken without
 * libsystemd: one datagram of "KEY=VALUE" lines to the unix socket named
 * by $NOTIFY_SOCKET. Everything is a no-op when it is not set, so the
 * daemon behaves the same outside systemd. */
#ifndef SOCKGATE_NOTIFY_H
#define SOCKGATE_NOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1", "STOPPING=1", ...); failures are ignored, as a
 * service manager that went away cannot be told anything anyway. */
void notify_send(const char *state);
/* "RELOADING=1" with the MONOTONIC_USEC systemd wants beside it. */
void notify_reloading(void);
/* The watchdog interval systemd asked for ($WATCHDOG_USEC, when
 * $WATCHDOG_PID is unset or ours), in microseconds; 0 when none. */
uint64_t notify_watchdog_usec(void);

#endif
