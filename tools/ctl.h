/* Asking the running daemon over its control socket (docs/control.md). */
#ifndef SOCKGATE_CTL_H
#define SOCKGATE_CTL_H

#include <stddef.h>

/* Copies of sockgated's TPROXY TCP listeners (IPv4, IPv6; -1 for one it
 * has not), handed over the control socket at path to root only: 0, or
 * -errno with why in err. The caller closes them. */
int ctl_take_tproxy_listeners(const char *path, int fds[2], char *err, size_t errlen);

#endif
