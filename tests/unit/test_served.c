/* Unit tests for served: a request answered, a slow client cut off at its
 * deadline, the oldest trickler making room when the server is full, a
 * held client answered later. Real unix sockets, no threads. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "served.h"

static int hold_next;

static int line_complete(const char *buf, size_t len)
{
	return memchr(buf, '\n', len) != NULL;
}

static enum served_answer echo_answer(void *arg, struct served_client *c, const char *req,
				      size_t len, int too_long)
{
	char *out = malloc(len + 8);
	(void)arg;
	if (hold_next) {
		hold_next = 0;
		free(out);
		return SERVED_HOLD;
	}
	snprintf(out, len + 8, "%s:%.*s", too_long ? "long" : "ok", (int)len, req);
	served_reply(c, out, strlen(out));
	return SERVED_REPLY;
}

static const struct served_ops ops = {
	.name = "test",
	.request_max = 16,
	.deadline_ms = 100,
	.hold_ms = 1000,
	.max_clients = 2,
	.complete = line_complete,
	.answer = echo_answer,
};

static struct sockaddr_un where;

static int listener(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	where.sun_family = AF_UNIX;
	snprintf(where.sun_path + 1, sizeof(where.sun_path) - 1, "sg-served-%d", getpid());
	assert_int_equal(bind(fd, (struct sockaddr *)&where, sizeof(where)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int client(const char *say)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_int_equal(connect(fd, (struct sockaddr *)&where, sizeof(where)), 0);
	if (say)
		assert_int_equal(send(fd, say, strlen(say), 0), (ssize_t)strlen(say));
	return fd;
}

/* What the server sent before closing, or "OPEN" while it has not closed. */
static const char *heard(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t have = 0;

	while (poll(&p, 1, 0) == 1 && have < len - 1) {
		ssize_t n = recv(fd, buf + have, len - 1 - have, 0);
		if (n <= 0) {
			buf[have] = '\0';
			return buf;
		}
		have += (size_t)n;
	}
	return "OPEN";
}

static void test_served(void **state)
{
	struct served_loop *l = served_loop_new();
	struct served *s;
	int lfd = listener(), a, b, c, d, e;
	char buf[64];
	(void)state;
	assert_non_null(l);
	assert_int_equal(served_add(l, lfd, &ops, NULL, &s), 0);
	assert_int_equal(served_timeout_ms(l, 0), -1);

	a = client("hi\n");
	served_run(l, 0);
	assert_string_equal(heard(a, buf, sizeof(buf)), "ok:hi\n");

	/* two silent clients fill it; a third makes the oldest go */
	b = client("tr");
	served_run(l, 10);
	c = client(NULL);
	served_run(l, 20);
	assert_int_equal(served_timeout_ms(l, 20), 90); /* b's deadline, 110 */
	d = client("x\n");
	served_run(l, 30);
	assert_string_equal(heard(b, buf, sizeof(buf)), "");
	assert_string_equal(heard(d, buf, sizeof(buf)), "ok:x\n");
	assert_string_equal(heard(c, buf, sizeof(buf)), "OPEN");

	/* the silent one is cut off at its deadline */
	served_run(l, 200);
	assert_string_equal(heard(c, buf, sizeof(buf)), "");

	/* too long a request is still answered, as such */
	e = client("0123456789abcdefXYZ");
	served_run(l, 210);
	assert_string_equal(heard(e, buf, sizeof(buf)), "long:");
	close(e);

	/* held, then answered when asked again */
	hold_next = 1;
	e = client("wait\n");
	served_run(l, 300);
	assert_string_equal(heard(e, buf, sizeof(buf)), "OPEN");
	served_run(l, 500); /* past deadline_ms, within hold_ms */
	assert_string_equal(heard(e, buf, sizeof(buf)), "OPEN");
	served_answer_held(s);
	assert_string_equal(heard(e, buf, sizeof(buf)), "ok:wait\n");

	close(a);
	close(b);
	close(c);
	close(d);
	close(e);
	served_loop_free(l);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
