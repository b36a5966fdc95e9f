/* Password checks off the worker loops (see login.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "sockgate/log.h"
#include "auth.h"
#include "generation.h"
#include "login.h"
#include "relay.h"

/* The way back from the verifier, and the credentials that passed. */
struct login {
	struct relay *r;
	struct auth_cache *auth_cache;
	pthread_mutex_t auth_lock;
	struct list auth_done; /* checks handed back by the verifier thread */
	struct ev auth_ev;
	int auth_fd; /* eventfd */
};

/* A check in flight, the worker it returns to and who is told. */
struct login_check {
	struct auth_request req;
	struct login *l;
	login_done_fn done;
};

/* Verifier thread: hand the result back to the worker. */
static void login_verified(struct auth_request *req)
{
	struct login_check *lc = container_of(req, struct login_check, req);
	struct login *l = lc->l;
	uint64_t one = 1;

	pthread_mutex_lock(&l->auth_lock);
	list_add_tail(&l->auth_done, &req->node);
	pthread_mutex_unlock(&l->auth_lock);
	if (write(l->auth_fd, &one, sizeof(one)) < 0)
		(void)0; /* counter already non-zero: the worker wakes anyway */
}

/* Hands each check the verifier finished back to its flow (if it still
 * has one) and frees it. */
static void login_completed(struct login *l)
{
	struct list done;
	uint64_t count;

	if (l->auth_fd >= 0 && read(l->auth_fd, &count, sizeof(count)) < 0)
		(void)0; /* nothing was signalled: the list is empty too */
	list_init(&done);
	pthread_mutex_lock(&l->auth_lock);
	if (!list_empty(&l->auth_done)) {
		/* move the whole list over */
		done.next = l->auth_done.next;
		done.prev = l->auth_done.prev;
		done.next->prev = &done;
		done.prev->next = &done;
		list_init(&l->auth_done);
	}
	pthread_mutex_unlock(&l->auth_lock);
	while (!list_empty(&done)) {
		struct auth_request *req = container_of(done.next, struct auth_request, node);
		struct login_check *lc = container_of(req, struct login_check, req);
		list_del(&req->node);
		if (req->owner) {
			if (req->ok)
				auth_cache_add(l->auth_cache, req);
			lc->done(req->owner, req->ok, req->throttled);
		}
		auth_request_free(req);
	}
}

static void login_event(struct ev *ev, uint32_t events)
{
	(void)events;
	login_completed(container_of(ev, struct login, auth_ev));
}

int login_new(struct relay *r)
{
	struct login *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	l->r = r;
	l->auth_fd = -1;
	pthread_mutex_init(&l->auth_lock, NULL);
	list_init(&l->auth_done);
	r->login = l;
	/* the verifier itself starts later, after the privilege drop */
	if (!r->cfg->socks.auth_password)
		return 0;
	l->auth_cache = calloc(1, sizeof(*l->auth_cache));
	l->auth_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!l->auth_cache || l->auth_fd < 0) {
		rc = l->auth_fd < 0 ? -errno : -ENOMEM;
		log_error("worker %u: auth cache/eventfd: %s", r->index, strerror(-rc));
		return rc;
	}
	l->auth_ev.handle = login_event;
	return loop_add(&r->loop, l->auth_fd, &l->auth_ev, EPOLLIN);
}

void login_free(struct relay *r)
{
	struct login *l = r->login;

	if (!l)
		return;
	/* Checks still with the verifier come back to a stopped worker only
	 * if the service outlives it; main stops the service first. */
	login_completed(l);
	free(l->auth_cache);
	if (l->auth_fd >= 0)
		close(l->auth_fd);
	pthread_mutex_destroy(&l->auth_lock);
	free(l);
	r->login = NULL;
}

enum login_result login_check(struct relay *r, void *owner, const struct sockaddr_storage *client,
			      const char *user, char *pass, login_done_fn done,
			      struct auth_request **pending, int *throttled)
{
	struct login *l = r->login;
	struct login_check *lc;
	int throttle, rc;

	*throttled = 0;
	if (!r->shared->auth || !r->gen->users || !l || !l->auth_cache) {
		/* passwords are asked for only when required; should that ever
		 * slip, refuse rather than crash */
		explicit_bzero(pass, strlen(pass));
		return LOGIN_REFUSED;
	}
	lc = calloc(1, sizeof(*lc));
	if (!lc) {
		log_error("out of memory for a password check");
		explicit_bzero(pass, strlen(pass));
		return LOGIN_REFUSED;
	}
	lc->l = l;
	lc->done = done;
	lc->req.done = login_verified;
	lc->req.owner = owner;
	lc->req.client = *client;
	snprintf(lc->req.user, sizeof(lc->req.user), "%s", user);
	snprintf(lc->req.pass, sizeof(lc->req.pass), "%s", pass);
	explicit_bzero(pass, strlen(pass));
	throttle = auth_throttled(r->shared->auth, &lc->req);
	if (throttle == AUTH_LOCKED) {
		auth_request_free(&lc->req);
		*throttled = 1;
		return LOGIN_REFUSED;
	}
	/* credentials that passed before pass even when the client's /64 is
	 * over its budget (its neighbours' failures are not its own) */
	if (auth_cache_check(r->shared->auth, r->gen->users, l->auth_cache, &lc->req)) {
		auth_request_free(&lc->req);
		return LOGIN_OK;
	}
	rc = throttle == AUTH_FREE ? auth_submit(r->shared->auth, &lc->req) : -EPERM;
	if (rc < 0) {
		if (rc == -EAGAIN && loop_log_allowed(&r->loop))
			log_warn("too many password checks waiting; refusing a login");
		auth_request_free(&lc->req);
		*throttled = rc == -EPERM;
		return LOGIN_REFUSED;
	}
	*pending = &lc->req;
	return LOGIN_PENDING;
}

void login_cancel(struct auth_request **pending)
{
	/* The verifier may still hold the request: it comes back to the
	 * worker, which frees it, finding no owner. */
	if (*pending)
		(*pending)->owner = NULL;
	*pending = NULL;
}
