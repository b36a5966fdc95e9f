/* HTTP proxy flows (see http_proxy.h). A request head is read and parsed
 * whole (http_msg.c), its credentials checked, its target opened through
 * the relay core (route, upstream handshake). For CONNECT the core then
 * splices; for a forwarded request this file moves the bytes: the head
 * rewritten for the origin, the body as its framing says, the response
 * head rewritten for the client, its body, then the next request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/base64.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "flow_core.h"
#include "http_msg.h"
#include "http_proxy.h"
#include "login.h"
#include "proxy_target.h"

/* Where a session is with its current request. */
enum http_phase {
	HP_HEAD,    /* reading a request head */
	HP_AUTH,    /* its credentials are with the verifier */
	HP_OPEN,    /* the core routes and connects */
	HP_FORWARD, /* request body up, response down */
};

/* Room for a rewritten head: the head itself plus the fields added. */
#define HTTP_OUT_MAX (HTTP_HEAD_MAX + 512)

struct http_session {
	struct flow *flow;
	enum http_phase phase;
	struct proxy_target dest;
	struct auth_request *auth;
	/* client bytes: a request head, then its body and what follows */
	uint8_t *in;
	size_t in_len;
	size_t body_ready; /* bytes at the front of in that are body, not yet sent */
	size_t in_looked;  /* of a head being read: bytes known to hold no end yet */
	/* upstream bytes for the client: [sent, ready) go out now, [ready,
	 * len) are not looked at yet */
	uint8_t *down;
	size_t down_len, down_ready, down_sent;
	size_t down_looked; /* of a response head being read: as in_looked */
	struct http_head req;
	struct http_target target;
	struct http_body req_body, resp_body;
	uint8_t authed;	    /* the connection's credentials passed */
	uint8_t keep;	    /* the client wants the connection kept */
	uint8_t minor;	    /* the client's HTTP/1.minor */
	uint8_t head_req;   /* the request is HEAD */
	uint8_t resp_begun; /* a byte of a response went to the client */
	uint8_t resp_final; /* the final response head was parsed */
	uint8_t keep_after; /* the response keeps the connection */
};

static const struct flow_frontend http_frontend;
static void http_read_head(struct flow *f);
static void http_forward(struct flow *f);

static void http_session_free(struct flow *f)
{
	struct http_session *s = f->http;

	if (!s)
		return;
	login_cancel(&s->auth);
	proxy_target_end(&s->dest);
	if (s->in) /* a head not dropped yet may hold credentials */
		explicit_bzero(s->in, s->in_len);
	free(s->in);
	free(s->down);
	free(s);
	f->http = NULL;
	f->target.hostname = NULL; /* it pointed into the session */
}

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 407:
		return "Proxy Authentication Required";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

/* An error response with a short text body naming why, into msg (cap
 * bytes: room for the head and 256 bytes of body): its length. */
static int http_error_message(char *msg, size_t cap, int status, const char *why, int keep)
{
	char body[256];
	int body_len =
	    snprintf(body, sizeof(body), "%d %s: %s\n", status, status_text(status), why);
	int n;

	if (body_len >= (int)sizeof(body))
		body_len = (int)sizeof(body) - 1; /* cut: the length must say so */
	n = snprintf(msg, cap,
		     "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\n"
		     "X-Content-Type-Options: nosniff\r\nContent-Length: %d\r\n"
		     "Connection: %s\r\n\r\n%s",
		     status, status_text(status),
		     status == 407 ? "Proxy-Authenticate: Basic realm=\"sockgate\"\r\n" : "",
		     body_len, keep ? "keep-alive" : "close", body);
	return n < (int)cap ? n : (int)cap - 1;
}

/* Sends an error response: 0 when the connection stays (keep), else -1
 * with f closed. A short message into a send buffer that has room. */
static int http_answer(struct flow *f, int status, const char *why, int keep)
{
	char msg[640];
	int n = http_error_message(msg, sizeof(msg), status, why, keep);
	ssize_t sent = send(f->client_fd, msg, (size_t)n, MSG_NOSIGNAL);

	if (f->http)
		f->http->resp_begun = 1;
	if (sent == n && keep)
		return 0;
	flow_destroy(f, sent == n ? CLOSE_FIN : CLOSE_RESET);
	return -1;
}

/* Refuses the request with status; the reason goes to the log too. */
static void http_refuse(struct flow *f, int status, const char *why)
{
	char a[ADDR_STRLEN];

	if (loop_log_allowed(&f->r->loop))
		log_info("flow %u.%llu: HTTP client %s: %d, %s; closed", f->r->index,
			 (unsigned long long)f->id, addr_format(&f->client, a, sizeof(a)), status,
			 why);
	http_answer(f, status, why, 0);
}

void http_proxy_take(struct flow *f, const uint8_t *buf, size_t len)
{
	struct http_session *s = calloc(1, sizeof(*s));

	if (s)
		s->in = malloc(HTTP_HEAD_MAX);
	if (!s || !s->in || len > HTTP_HEAD_MAX) {
		if (s)
			free(s->in);
		free(s);
		log_error("out of memory for an HTTP proxy session");
		flow_destroy(f, CLOSE_RESET);
		return;
	}
	memcpy(s->in, buf, len);
	s->in_len = len;
	/* the front end that read the first bytes lets go of f */
	if (f->fe)
		f->fe->session_end(f);
	f->fe = &http_frontend;
	f->http = s;
	s->flow = f;
	s->phase = HP_HEAD;
	http_read_head(f);
}

/* Reads client bytes into s->in: 1 when some came, 0 when none now, -1
 * when the client closed (eof set) or failed (f destroyed). */
static int http_fill(struct flow *f, int *eof)
{
	struct http_session *s = f->http;
	ssize_t n;

	/* always asked (no short-read shortcut): bytes that came while the
	 * session was not reading raised their edge already */
	if (s->in_len == HTTP_HEAD_MAX)
		return 0;
	n = recv(f->client_fd, s->in + s->in_len, HTTP_HEAD_MAX - s->in_len, 0);
	if (n > 0) {
		s->in_len += (size_t)n;
		return 1;
	}
	if (n == 0) {
		*eof = 1;
		return -1;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	flow_destroy(f, CLOSE_RESET);
	*eof = 0;
	return -1;
}

static void http_request(struct flow *f);

static void http_read_head(struct flow *f)
{
	struct http_session *s = f->http;
	int eof = 0;

	for (;;) {
		enum http_parse rc = HTTP_PARSE_MORE;

		if (http_head_may_end(s->in, s->in_looked, s->in_len) || s->in_len == HTTP_HEAD_MAX)
			rc = http_parse_request(s->in, s->in_len, &s->req);
		s->in_looked = s->in_len;
		if (rc == HTTP_PARSE_DONE) {
			http_request(f);
			return;
		}
		if (rc == HTTP_PARSE_ERROR) {
			http_refuse(f, s->req.error, s->req.why);
			return;
		}
		if (http_fill(f, &eof) > 0)
			continue;
		if (eof) {
			/* between requests, the usual end of a kept connection */
			flow_destroy(f, CLOSE_FIN);
		}
		return;
	}
}

/* Drops the request head from s->in; what follows it (body, the next
 * request) moves to the front. */
static void http_drop_head(struct http_session *s)
{
	size_t head = s->req.len;

	explicit_bzero(s->in, head); /* Proxy-Authorization */
	memmove(s->in, s->in + head, s->in_len - head);
	s->in_len -= head;
	s->in_looked = 0; /* what follows is looked at afresh */
}

static void http_open(struct flow *f);

/* The client's credentials failed or are missing: 407, and the connection
 * stays for a retry when the request has no body to skip. */
static void http_ask_credentials(struct flow *f, const char *why)
{
	struct http_session *s = f->http;
	int keep = s->keep && s->req.body == HTTP_BODY_NONE;

	http_drop_head(s);
	if (http_answer(f, 407, why, keep) == 0) {
		s->phase = HP_HEAD;
		s->resp_begun = 0;
		http_read_head(f);
	}
}

static void http_login_done(void *owner, int ok, int throttled)
{
	struct flow *f = owner;
	struct http_session *s = f->http;
	char a[ADDR_STRLEN];

	s->auth = NULL;
	if (!ok) {
		if (!throttled && loop_log_allowed(&f->r->loop))
			log_info("flow %u.%llu: HTTP client %s failed to log in", f->r->index,
				 (unsigned long long)f->id, addr_format(&f->client, a, sizeof(a)));
		http_ask_credentials(f, "wrong user or password");
		return;
	}
	s->authed = 1;
	http_open(f);
}

/* Proxy-Authorization: Basic BASE64(user:pass), checked like SOCKS
 * passwords. */
static void http_check_credentials(struct flow *f)
{
	struct http_session *s = f->http;
	const struct http_field *pa;
	uint8_t creds[520];
	const char *v;
	char *colon;
	int n, throttled;

	if (s->req.proxy_auth < 0) {
		http_ask_credentials(f, "credentials required");
		return;
	}
	pa = &s->req.fields[s->req.proxy_auth];
	v = (const char *)s->in + pa->value;
	if (pa->value_len < 7 || strncasecmp(v, "Basic ", 6) ||
	    (n = base64_decode(v + 6, pa->value_len - 6u, creds, sizeof(creds))) < 0 ||
	    memchr(creds, 0, (size_t)n) || !(colon = memchr(creds, ':', (size_t)n)) ||
	    colon - (char *)creds > 255 || (char *)creds + n - colon - 1 > 255) {
		explicit_bzero(creds, sizeof(creds));
		http_ask_credentials(f, "malformed Basic credentials");
		return;
	}
	*colon = 0;
	s->phase = HP_AUTH;
	switch (login_check(f->r, f, &f->client, (char *)creds, colon + 1, http_login_done,
			    &s->auth, &throttled)) {
	case LOGIN_OK:
		explicit_bzero(creds, sizeof(creds));
		http_login_done(f, 1, 0);
		return;
	case LOGIN_PENDING:
		explicit_bzero(creds, sizeof(creds));
		return;
	default:
		explicit_bzero(creds, sizeof(creds));
		http_login_done(f, 0, throttled);
		return;
	}
}

/* A complete head is in s->req: check it, then its credentials. */
static void http_request(struct flow *f)
{
	struct http_session *s = f->http;
	const char *why = NULL;

	s->minor = s->req.minor;
	s->keep = s->req.minor ? !s->req.conn_close : s->req.conn_keep_alive;
	s->head_req = http_method_is(s->in, &s->req, "HEAD");
	s->resp_begun = s->resp_final = 0;
	if (http_request_target(s->in, &s->req, &s->target, &why) < 0) {
		http_refuse(f, 400, why);
		return;
	}
	if (f->r->cfg->socks.auth_password && !s->authed) {
		http_check_credentials(f);
		return;
	}
	http_open(f);
}

/* Routes and connects to the request's target (the core reports back
 * through tunnel_up, retry and reply_failure). */
static void http_open(struct flow *f)
{
	struct http_session *s = f->http;

	s->phase = HP_OPEN;
	timer_cancel(&f->timer);
	memset(&f->target, 0, sizeof(f->target));
	f->target.hostname = s->target.host;
	f->target.port = s->target.port;
	s->dest.name_upstream = 1;
	s->dest.open = NULL;
	f->absolute_form = !s->target.is_connect;
	proxy_target_start(f, &s->dest);
}

/* CONNECT: the tunnel is up; what the client sent behind its request
 * (a TLS ClientHello) goes first, then the core splices. */
static int http_connect_up(struct flow *f)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct http_session *s = f->http;
	ssize_t n = send(f->client_fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);

	if (n != (ssize_t)sizeof(ok) - 1) {
		flow_destroy(f, CLOSE_RESET);
		return -1;
	}
	s->resp_begun = 1;
	http_drop_head(s);
	if (s->in_len) {
		n = send(f->upstream_fd, s->in, s->in_len, MSG_NOSIGNAL);
		if (n != (ssize_t)s->in_len)
			return flow_fail_rep(f, REP_GENERAL_FAILURE,
					     "passing the client's first %zu bytes on: %s",
					     s->in_len, n < 0 ? strerror(errno) : "short write");
	}
	/* edge-triggered: bytes may wait in the client socket already */
	f->client_readable = 1;
	http_session_free(f);
	return 0;
}

/* A forwarded request: its head, rewritten, to the fresh connection
 * (whose send buffer takes it whole), then the front end moves bytes. */
static int http_request_up(struct flow *f)
{
	struct http_session *s = f->http;
	int to_proxy = f->absolute_form && f->up->url.kind == UPSTREAM_HTTP;
	char creds[UPSTREAM_HTTP_CREDENTIALS_MAX] = "";
	uint8_t out[HTTP_OUT_MAX];
	ssize_t len, n;

	if (to_proxy && upstream_http_credentials(&f->up->url, creds, sizeof(creds)) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "upstream credentials too long");
	len = http_rewrite_request(s->in, &s->req, &s->target, f->r->cfg->socks.http_via, to_proxy,
				   creds, out, sizeof(out));
	explicit_bzero(creds, sizeof(creds));
	if (len < 0) {
		http_refuse(f, 431, "head too large once rewritten");
		return -1;
	}
	if (!s->down && !(s->down = malloc(HTTP_OUT_MAX))) {
		http_refuse(f, 502, "out of memory");
		return -1;
	}
	n = send(f->upstream_fd, out, (size_t)len, MSG_NOSIGNAL);
	if (n != len)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "sending the request head: %s",
				     n < 0 ? strerror(errno) : "short write");
	http_body_init(&s->req_body, s->req.body, s->req.content_length);
	http_drop_head(s);
	s->body_ready = 0;
	s->down_len = s->down_ready = s->down_sent = s->down_looked = 0;
	s->phase = HP_FORWARD;
	f->state = FLOW_FRONTEND;
	f->last_active = f->r->loop.now_ms;
	flow_set_timer(f, &f->r->idle_timers, f->r->cfg->idle_timeout_ms);
	http_forward(f);
	return 1;
}

static int http_tunnel_up(struct flow *f)
{
	if (!f->http)
		return 0;
	return f->http->target.is_connect ? http_connect_up(f) : http_request_up(f);
}

/* ---- forwarding a request and its response ---- */

/* Request body bytes from the client to the target. 1 when something
 * moved, 0 when nothing can now, -1 when f was closed. */
static int http_move_up(struct flow *f)
{
	struct http_session *s = f->http;
	ssize_t n;
	int eof = 0;

	if (s->req_body.done && !s->body_ready)
		return 0;
	if (!s->body_ready && s->in_len) {
		n = http_body_scan(&s->req_body, s->in, s->in_len);
		if (n < 0) {
			flow_fail_rep(f, REP_GENERAL_FAILURE, "malformed chunked request body");
			return -1;
		}
		s->body_ready = (size_t)n;
	}
	if (s->body_ready) {
		n = send(f->upstream_fd, s->in, s->body_ready, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			flow_fail_rep(f, REP_GENERAL_FAILURE, "sending the request body: %s",
				      strerror(errno));
			return -1;
		}
		memmove(s->in, s->in + n, s->in_len - (size_t)n);
		s->in_len -= (size_t)n;
		s->body_ready -= (size_t)n;
		f->bytes[DIR_UP] += (uint64_t)n;
		return 1;
	}
	if (http_fill(f, &eof) > 0)
		return 1;
	if (eof) {
		/* the client left in the middle of its request */
		flow_destroy(f, CLOSE_RESET);
		return -1;
	}
	return f->state == FLOW_DEAD ? -1 : 0;
}

/* The response head at the front of s->down: sets what goes to the
 * client. 1 done, 0 more bytes needed, -1 when f was closed. */
static int http_take_response_head(struct flow *f)
{
	struct http_session *s = f->http;
	uint8_t out[HTTP_OUT_MAX];
	struct http_head h;
	ssize_t len, body;
	size_t rest;

	if (!http_head_may_end(s->down, s->down_looked, s->down_len) &&
	    s->down_len < HTTP_HEAD_MAX) {
		s->down_looked = s->down_len;
		return 0;
	}
	s->down_looked = 0; /* a head is taken, or the next looked at afresh */
	switch (http_parse_response(s->down, s->down_len, s->head_req, &h)) {
	case HTTP_PARSE_MORE:
		s->down_looked = s->down_len;
		return 0;
	case HTTP_PARSE_ERROR:
		flow_fail_rep(f, REP_GENERAL_FAILURE, "the target's response: %s", h.why);
		return -1;
	case HTTP_PARSE_DONE:
		break;
	}
	if (h.status < 200) {
		if (h.status == 101) {
			flow_fail_rep(f, REP_GENERAL_FAILURE, "the target switched protocols");
			return -1;
		}
		s->down_ready = h.len; /* an interim response passes as it came */
		return 1;
	}
	if (h.status == 407 && f->absolute_form && f->up->url.kind == UPSTREAM_HTTP) {
		/* the upstream's own login, which this client cannot answer */
		flow_fail_rep(f, REP_GENERAL_FAILURE,
			      "upstream proxy \"%s\" refused sockgated's credentials (407)",
			      f->up->name);
		return -1;
	}
	s->keep_after = s->keep && h.body != HTTP_BODY_CLOSE;
	len = http_rewrite_response(s->down, &h, s->keep_after, s->minor, f->r->cfg->socks.http_via,
				    out, sizeof(out));
	if (len < 0) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "the target's response head is too large");
		return -1;
	}
	rest = s->down_len - h.len;
	memmove(s->down + len, s->down + h.len, rest);
	memcpy(s->down, out, (size_t)len);
	http_body_init(&s->resp_body, h.body, h.content_length);
	body = http_body_scan(&s->resp_body, s->down + len, rest);
	if (body < 0) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "malformed chunked response body");
		return -1;
	}
	s->down_ready = (size_t)len + (size_t)body;
	s->down_len = s->resp_body.done ? s->down_ready : (size_t)len + rest;
	s->resp_final = 1;
	return 1;
}

static void http_response_done(struct flow *f);

/* Sends what is ready of the response; at its end, the next request. 1
 * moved, 0 blocked, -1 f closed (or the response ended). */
static int http_send_down(struct flow *f)
{
	struct http_session *s = f->http;
	ssize_t n =
	    send(f->client_fd, s->down + s->down_sent, s->down_ready - s->down_sent, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		flow_destroy(f, CLOSE_RESET);
		return -1;
	}
	s->resp_begun = 1;
	s->down_sent += (size_t)n;
	f->bytes[DIR_DOWN] += (uint64_t)n;
	if (s->down_sent < s->down_ready)
		return 1;
	memmove(s->down, s->down + s->down_ready, s->down_len - s->down_ready);
	s->down_len -= s->down_ready;
	s->down_ready = s->down_sent = 0;
	if (s->resp_final && s->resp_body.done) {
		http_response_done(f);
		return -1;
	}
	return 1;
}

/* Reads the target's next bytes; its close ends a response that runs
 * until it (else, mid-response, the client is reset). Same returns. */
static int http_recv_down(struct flow *f)
{
	struct http_session *s = f->http;
	size_t cap = s->resp_final ? HTTP_OUT_MAX : HTTP_HEAD_MAX;
	ssize_t n;

	if (s->down_len == cap) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "the target's response head is too large");
		return -1;
	}
	n = recv(f->upstream_fd, s->down + s->down_len, cap - s->down_len, 0);
	if (n > 0) {
		s->down_len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0 && s->resp_final && s->resp_body.kind == HTTP_BODY_CLOSE) {
		s->resp_body.done = 1;
		http_response_done(f);
		return -1;
	}
	if (!s->resp_begun) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "the target closed before its response");
		return -1;
	}
	flow_destroy(f, CLOSE_RESET);
	return -1;
}

/* Response bytes from the target to the client: 1 when something moved,
 * 0 when nothing can now, -1 when f was closed (or the response ended). */
static int http_move_down(struct flow *f)
{
	struct http_session *s = f->http;
	ssize_t n;

	if (s->down_sent < s->down_ready)
		return http_send_down(f);
	if (!s->resp_final && s->down_len)
		switch (http_take_response_head(f)) {
		case 1:
			return 1;
		case -1:
			return -1;
		}
	if (s->resp_final && s->down_len) {
		/* body bytes not looked at yet */
		n = http_body_scan(&s->resp_body, s->down, s->down_len);
		if (n < 0) {
			flow_fail_rep(f, REP_GENERAL_FAILURE, "malformed chunked response body");
			return -1;
		}
		s->down_ready = (size_t)n;
		if (s->resp_body.done)
			s->down_len = s->down_ready; /* nothing may follow the response */
		if (n || s->resp_body.done)
			return 1;
	}
	return http_recv_down(f);
}

/* The response went out whole: the next request, or the end. */
static void http_response_done(struct flow *f)
{
	struct http_session *s = f->http;

	if (!s->keep_after || !s->req_body.done) {
		flow_destroy(f, CLOSE_FIN);
		return;
	}
	flow_end_attempt(f);
	/* an idle kept connection holds only its request buffer */
	free(s->down);
	s->down = NULL;
	s->phase = HP_HEAD;
	s->resp_begun = 0;
	http_read_head(f);
}

/* Moves what can move both ways until neither can. */
static void http_forward(struct flow *f)
{
	int up, down;

	do {
		up = http_move_up(f);
		if (up < 0)
			return;
		down = http_move_down(f);
		if (down < 0)
			return;
	} while (up || down);
	f->last_active = f->r->loop.now_ms;
}

/* ---- what the relay core calls ---- */

static void http_client_event(struct flow *f, uint32_t events)
{
	struct http_session *s = f->http;

	if (events & (EPOLLERR | EPOLLHUP)) {
		flow_destroy(f, CLOSE_RESET);
		return;
	}
	if (!s)
		return;
	if (s->phase == HP_HEAD && (events & (EPOLLIN | EPOLLRDHUP)))
		http_read_head(f);
	else if (s->phase == HP_FORWARD)
		http_forward(f);
}

static void http_upstream_event(struct flow *f, uint32_t events)
{
	if ((events & EPOLLERR) && f->http && !f->http->resp_begun) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "the target's connection failed");
		return;
	}
	if (f->http && f->http->phase == HP_FORWARD)
		http_forward(f);
}

static int http_retry(struct flow *f, const char *desc, const char *reason)
{
	return f->http ? proxy_target_retry(&f->http->dest, desc, reason) : 0;
}

/* The failure as a browser shows it: 403 for the destination policy, 504
 * for a timeout, 502 for the rest, with the reason. */
static int http_reply_failure(struct flow *f, uint8_t rep, const char *reason)
{
	struct http_session *s = f->http;
	int status = rep == REP_NOT_ALLOWED ? 403 : rep == REP_TTL_EXPIRED ? 504 : 502;
	char msg[640];
	int n;

	if (!s || s->resp_begun)
		return 0;
	s->resp_begun = 1;
	n = http_error_message(msg, sizeof(msg), status, reason, 0);
	return send(f->client_fd, msg, (size_t)n, MSG_NOSIGNAL) == n;
}

static const struct flow_frontend http_frontend = {
	.name = "http",
	.client_event = http_client_event,
	.upstream_event = http_upstream_event,
	.tunnel_up = http_tunnel_up,
	.retry = http_retry,
	.reply_failure = http_reply_failure,
	.session_end = http_session_free,
};
