/* The verifier thread: crypt_rn() against the users file, a per-address
 * failure throttle (per IPv6 /128, with a larger budget per /64), and a
 * dummy hash for unknown users so a wrong name costs as long as a wrong
 * password (no user enumeration by timing). */
#include <crypt.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sockgate/addr.h"
#include "sockgate/log.h"
#include "auth.h"
#include "generation.h"
#include "users.h"

#define AUTH_QUEUE_MAX 1024
#define FAIL_SLOTS     1024
#define FAIL_LIMIT     5  /* one address (IPv4, or one IPv6 /128) */
#define FAIL_LIMIT_64  50 /* a whole IPv6 /64: a LAN's worth of hosts */
#define FAIL_WINDOW_MS 60000

struct fail_entry {
	uint8_t key[17]; /* client address, IPv6 whole or cut to /64; its prefix length */
	uint64_t window_start_ms;
	unsigned count;	  /* failures in the window */
	unsigned pending; /* checks submitted, not yet answered: counted as failures */
	int logged;
};

struct auth_service {
	struct generation *gen; /* its users; under lock */
	uint8_t key[SIPHASH_KEY_LEN];
	char dummy_hash[CRYPT_OUTPUT_SIZE];
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list queue;
	unsigned queued;
	int stop;
	struct crypt_data crypt;	     /* verifier thread only */
	struct fail_entry fails[FAIL_SLOTS]; /* under lock */
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The throttle key: an IPv4 address, an IPv6 address (bits 128), or the
 * /64 an IPv6 client can pick its addresses from (bits 64). */
static void client_key(const struct sockaddr_storage *ss, unsigned bits, uint8_t key[17])
{
	memset(key, 0, 17);
	if (ss->ss_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		key[16] = 32;
	} else {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, bits / 8);
		key[16] = (uint8_t)bits;
	}
}

static struct fail_entry *fail_entry(struct auth_service *s, const struct sockaddr_storage *ss,
				     unsigned bits, uint64_t now, int create)
{
	uint8_t key[17], tag[SIPHASH_TAG_LEN];
	struct fail_entry *e;

	client_key(ss, bits, key);
	siphash128(s->key, key, sizeof(key), tag);
	e = &s->fails[(tag[0] | tag[1] << 8) % FAIL_SLOTS];
	if (memcmp(e->key, key, sizeof(key)) ||
	    (now - e->window_start_ms >= FAIL_WINDOW_MS && !e->pending)) {
		if (!create)
			return NULL;
		/* A slot shared with another address is taken over: the
		 * throttle may forget, it never locks out the wrong client. */
		memcpy(e->key, key, sizeof(key));
		e->window_start_ms = now;
		e->count = 0;
		e->pending = 0;
		e->logged = 0;
	}
	return e;
}

/* Both entries a request counts in: its address, and for IPv6 its /64
 * (NULL for IPv4). */
static void fail_entries(struct auth_service *s, const struct sockaddr_storage *ss, uint64_t now,
			 int create, struct fail_entry *e[2])
{
	e[0] = fail_entry(s, ss, 128, now, create);
	e[1] = ss->ss_family == AF_INET6 ? fail_entry(s, ss, 64, now, create) : NULL;
	/* the two share a slot now and then: the /64 then goes uncounted */
	if (e[1] == e[0])
		e[1] = NULL;
}

static void log_lockout(struct fail_entry *e, const struct auth_request *req, uint64_t now,
			const char *what)
{
	char a[ADDR_STRLEN];

	if (e->logged)
		return;
	e->logged = 1;
	log_warn("socks auth: %s%s failed %u times; refusing its logins for %u s",
		 addr_format(&req->client, a, sizeof(a)), what, e->count + e->pending,
		 (unsigned)((e->window_start_ms + FAIL_WINDOW_MS - now) / 1000));
}

/* What req's address may do now (enum auth_throttle); logs the first
 * refusal of a lockout. Checks under way count as failures, so a burst
 * of guesses sent at once is capped like guesses sent one by one. Called
 * with s->lock held. */
static int throttled(struct auth_service *s, const struct auth_request *req, uint64_t now)
{
	struct fail_entry *e[2];

	fail_entries(s, &req->client, now, 0, e);
	if (e[0] && e[0]->count + e[0]->pending >= FAIL_LIMIT) {
		log_lockout(e[0], req, now, "");
		return AUTH_LOCKED;
	}
	if (e[1] && e[1]->count + e[1]->pending >= FAIL_LIMIT_64) {
		log_lockout(e[1], req, now, " (its /64)");
		return AUTH_PROVEN_ONLY;
	}
	return AUTH_FREE;
}

/* A check leaves the pending count; a failure stays as one. Called with
 * s->lock held. */
static void count_outcome(struct auth_service *s, const struct auth_request *req, uint64_t now)
{
	struct fail_entry *e[2];

	fail_entries(s, &req->client, now, 1, e);
	for (int i = 0; i < 2; i++) {
		if (!e[i])
			continue;
		if (e[i]->pending)
			e[i]->pending--;
		if (!req->ok)
			e[i]->count++;
	}
}

/* The hash an unknown name is checked against: a real user's, chosen by a
 * keyed hash of the name, so the check costs what that user's method and
 * cost cost (a file mixing methods gives no timing tell), and the same name
 * always answers alike. Called with s->lock held. */
static const char *stand_in(struct auth_service *s, const char *user)
{
	size_t n = users_count(s->gen->users);
	uint8_t tag[SIPHASH_TAG_LEN];

	if (!n)
		return s->dummy_hash;
	siphash128(s->key, user, strlen(user), tag);
	return users_hash_at(s->gen->users, (tag[0] | tag[1] << 8 | (size_t)tag[2] << 16) % n);
}

static void verify(struct auth_service *s, struct auth_request *req)
{
	char hash[CRYPT_OUTPUT_SIZE];
	const char *stored, *out;

	/* the users file may be swapped by a reload: copy the hash */
	pthread_mutex_lock(&s->lock);
	stored = users_find(s->gen->users, req->user);
	snprintf(hash, sizeof(hash), "%s", stored ? stored : stand_in(s, req->user));
	pthread_mutex_unlock(&s->lock);
	out = crypt_rn(req->pass, hash, &s->crypt, sizeof(s->crypt));
	req->ok = stored && out && strcmp(out, hash) == 0;
	explicit_bzero(&s->crypt, sizeof(s->crypt));
	pthread_mutex_lock(&s->lock);
	count_outcome(s, req, monotonic_ms());
	pthread_mutex_unlock(&s->lock);
}

static void *verifier_main(void *arg)
{
	struct auth_service *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct auth_request *req;

		while (!s->stop && list_empty(&s->queue))
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		req = container_of(s->queue.next, struct auth_request, node);
		list_del(&req->node);
		s->queued--;
		pthread_mutex_unlock(&s->lock);
		verify(s, req);
		req->done(req);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void auth_service_set_generation(struct auth_service *s, struct generation *gen)
{
	struct generation *old;

	pthread_mutex_lock(&s->lock);
	old = s->gen;
	s->gen = generation_ref(gen);
	pthread_mutex_unlock(&s->lock);
	generation_unref(old);
}

int auth_service_start(struct auth_service **out, struct generation *gen)
{
	struct auth_service *s = calloc(1, sizeof(*s));
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	uint8_t noise[16];
	char phrase[2 * sizeof(noise) + 1];
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->gen = generation_ref(gen);
	list_init(&s->queue);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (getrandom(s->key, sizeof(s->key), 0) != sizeof(s->key) ||
	    getrandom(noise, sizeof(noise), 0) != sizeof(noise)) {
		rc = -errno;
		goto fail;
	}
	/* A hash of a phrase nobody knows, in the default method, for names
	 * not in the file. */
	for (size_t i = 0; i < sizeof(noise); i++)
		snprintf(phrase + 2 * i, 3, "%02x", noise[i]);
	if (!crypt_gensalt_rn(NULL, 0, NULL, 0, setting, sizeof(setting)) ||
	    !crypt_rn(phrase, setting, &s->crypt, sizeof(s->crypt))) {
		rc = -errno;
		goto fail;
	}
	snprintf(s->dummy_hash, sizeof(s->dummy_hash), "%s", s->crypt.output);
	explicit_bzero(phrase, sizeof(phrase));
	rc = -pthread_create(&s->thread, NULL, verifier_main, s);
	if (rc < 0)
		goto fail;
	s->thread_started = 1;
	*out = s;
	return 0;
fail:
	auth_service_stop(s);
	return rc ? rc : -EINVAL;
}

void auth_service_stop(struct auth_service *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	/* Workers are stopped first, so nobody waits for what is queued. */
	while (!list_empty(&s->queue)) {
		struct auth_request *req = container_of(s->queue.next, struct auth_request, node);
		list_del(&req->node);
		auth_request_free(req);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	generation_unref(s->gen);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* digest = SipHash(key, user NUL pass NUL stored-hash): only this process
 * can compute it, and it changes when the user's hash does. */
int auth_throttled(struct auth_service *s, struct auth_request *req)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = throttled(s, req, monotonic_ms());
	pthread_mutex_unlock(&s->lock);
	req->throttled = rc;
	return rc;
}

int auth_cache_check(const struct auth_service *s, const struct users *users,
		     const struct auth_cache *c, struct auth_request *req)
{
	const char *hash = users_find(users, req->user);
	char buf[256 + 256 + CRYPT_OUTPUT_SIZE];
	size_t ul = strlen(req->user), pl = strlen(req->pass), hl;

	if (!hash) {
		memset(req->digest, 0, sizeof(req->digest));
		return 0;
	}
	hl = strlen(hash);
	if (ul + pl + hl + 2 > sizeof(buf))
		return 0;
	memcpy(buf, req->user, ul + 1);
	memcpy(buf + ul + 1, req->pass, pl + 1);
	memcpy(buf + ul + pl + 2, hash, hl);
	siphash128(s->key, buf, ul + pl + 2 + hl, req->digest);
	explicit_bzero(buf, sizeof(buf));
	return !memcmp(c->digest[(req->digest[0] | req->digest[1] << 8) % AUTH_CACHE_SLOTS],
		       req->digest, SIPHASH_TAG_LEN);
}

void auth_cache_add(struct auth_cache *c, const struct auth_request *req)
{
	memcpy(c->digest[(req->digest[0] | req->digest[1] << 8) % AUTH_CACHE_SLOTS], req->digest,
	       SIPHASH_TAG_LEN);
}

int auth_submit(struct auth_service *s, struct auth_request *req)
{
	struct fail_entry *e[2];
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	/* counted now, as a failure until it is known not to be one */
	if (throttled(s, req, monotonic_ms()) != AUTH_FREE) {
		rc = -EPERM;
	} else if (s->queued >= AUTH_QUEUE_MAX) {
		rc = -EAGAIN;
	} else {
		fail_entries(s, &req->client, monotonic_ms(), 1, e);
		for (int i = 0; i < 2; i++)
			if (e[i])
				e[i]->pending++;
		list_add_tail(&s->queue, &req->node);
		s->queued++;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void auth_request_free(struct auth_request *req)
{
	if (!req)
		return;
	explicit_bzero(req, sizeof(*req));
	free(req);
}
