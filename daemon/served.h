/* Small request/answer servers on the main thread (the control socket and
 * the metrics endpoint). Every socket is non-blocking and watched by one
 * epoll set; each client has a total deadline from its accept to its last
 * answer byte, and each server a cap on clients at once (the rest wait in
 * the listen backlog). So no client, however slow, can hold the thread that
 * handles signals and pings the service manager's watchdog. */
#ifndef SOCKGATE_SERVED_H
#define SOCKGATE_SERVED_H

#include <stddef.h>
#include <stdint.h>

struct served_loop;
struct served;
struct served_client;

enum served_answer {
	SERVED_CLOSE = -1, /* nothing (more) to send: close */
	SERVED_REPLY = 0,  /* served_reply was called: send it, then close */
	SERVED_HOLD = 1,   /* answered later by served_reply_held */
};

struct served_ops {
	const char *name;     /* for log lines */
	size_t request_max;   /* bytes; a longer request is cut off */
	unsigned deadline_ms; /* accept to last byte sent */
	unsigned hold_ms;     /* the deadline of a held client, from the hold */
	unsigned max_clients; /* at once */
	/* whether buf[0..len) is a whole request (1) or not yet (0) */
	int (*complete)(const char *buf, size_t len);
	/* for a whole request (NUL-terminated at len), or, with len 0 and
	 * too_long set, for one that outgrew request_max */
	enum served_answer (*answer)(void *arg, struct served_client *c, const char *req,
				     size_t len, int too_long);
};

/* NULL on failure (errno set). */
struct served_loop *served_loop_new(void);
void served_loop_free(struct served_loop *l);
/* The epoll fd to wait on (readable when something is to be done). */
int served_loop_fd(const struct served_loop *l);
/* Serves listen_fd (made non-blocking here; still the caller's to close,
 * after served_loop_free). 0 or -errno. */
int served_add(struct served_loop *l, int listen_fd, const struct served_ops *ops, void *arg,
	       struct served **out);
/* Does what is ready, without waiting, and ends clients past deadline. */
void served_run(struct served_loop *l, uint64_t now_ms);
/* ms until the nearest client deadline, or -1 (none). */
int served_timeout_ms(const struct served_loop *l, uint64_t now_ms);

/* The answer for c, from answer(): takes buf (malloc'd; freed here). */
void served_reply(struct served_client *c, char *buf, size_t len);
/* The client's socket, for answers that need it (SCM_RIGHTS). */
int served_client_fd(const struct served_client *c);
/* Asks answer() again for every client of s held with SERVED_HOLD (what
 * they waited for has come). */
void served_answer_held(struct served *s);

#endif
