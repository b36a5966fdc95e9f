/* Password checks for the proxy port's front ends (SOCKS5's RFC 1929 and
 * HTTP's Proxy-Authorization: Basic) on one worker: the cache of
 * credentials that passed, the lockout, and the way back from the verifier
 * thread (auth.h), so a check never stalls the loop. */
#ifndef SOCKGATE_LOGIN_H
#define SOCKGATE_LOGIN_H

#include <sys/socket.h>

struct auth_request;
struct relay;

enum login_result {
	LOGIN_OK,      /* the credentials passed (from the cache) */
	LOGIN_REFUSED, /* wrong, locked out, or no room to check them */
	LOGIN_PENDING, /* with the verifier: done() comes later */
};

/* A verdict that came later; throttled: the client's address is locked out
 * (it was logged once already). */
typedef void (*login_done_fn)(void *owner, int ok, int throttled);

/* The state on r's worker (r->login); 0 or -errno with a log line.
 * login_free is safe after a failure. */
int login_new(struct relay *r);
/* After the relay's flows were closed. */
void login_free(struct relay *r);
/* Checks user and pass (wiped here) from client for owner (a flow).
 * LOGIN_PENDING leaves the check in *pending until done(owner, ...) runs,
 * which the caller's done clears, or until login_cancel. *throttled as for
 * done. */
enum login_result login_check(struct relay *r, void *owner, const struct sockaddr_storage *client,
			      const char *user, char *pass, login_done_fn done,
			      struct auth_request **pending, int *throttled);
/* The owner is going away: its check, if any, comes back to no one. */
void login_cancel(struct auth_request **pending);

#endif
