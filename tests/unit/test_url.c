/* Unit tests for url: valid input, byte-exact output and every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/url.h"

static void parse_ok(const char *s, struct upstream_url *u)
{
	char err[160] = "";
	int rc = url_parse(s, u, err, sizeof(err));
	if (rc)
		fail_msg("\"%s\": %s", s, err);
}

static void parse_bad(const char *s, const char *needle)
{
	struct upstream_url u;
	char err[160] = "";
	if (url_parse(s, &u, err, sizeof(err)) == 0)
		fail_msg("\"%s\" parsed but should not", s);
	if (needle && !strstr(err, needle))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s, err, needle);
}

static void test_schemes(void **state)
{
	struct upstream_url u;
	(void)state;
	parse_ok("direct", &u);
	assert_int_equal(u.kind, UPSTREAM_DIRECT);
	parse_ok("socks5://10.0.0.5:1080", &u);
	assert_int_equal(u.kind, UPSTREAM_SOCKS5);
	assert_string_equal(u.host, "10.0.0.5");
	assert_int_equal(u.port, 1080);
	assert_false(u.has_user);
	parse_ok("socks5h://proxy.lan:9050", &u);
	assert_int_equal(u.kind, UPSTREAM_SOCKS5H);
	assert_string_equal(u.host, "proxy.lan");
	parse_ok("socks4://10.0.0.5:1080", &u);
	assert_int_equal(u.kind, UPSTREAM_SOCKS4);
	parse_ok("socks4a://id@10.0.0.5:1080", &u);
	assert_int_equal(u.kind, UPSTREAM_SOCKS4A);
	assert_string_equal(u.user, "id");
	parse_ok("http://proxy:3128/", &u);
	assert_int_equal(u.kind, UPSTREAM_HTTP);
	assert_int_equal(u.port, 3128);
}

static void test_default_port(void **state)
{
	struct upstream_url u;
	(void)state;
	parse_ok("socks5://10.0.0.5", &u);
	assert_int_equal(u.port, 1080);
	parse_bad("http://10.0.0.5", "explicit port");
}

static void test_credentials(void **state)
{
	struct upstream_url u;
	(void)state;
	parse_ok("socks5://alice:secret@10.0.0.5:1080", &u);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.pass, "secret");
	/* percent-decoding, and '@' and ':' inside the password */
	parse_ok("socks5://al%69ce:s%3Acr%40t@10.0.0.5:1080", &u);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.pass, "s:cr@t");
	/* an unescaped '@' in the password: the last '@' ends the userinfo */
	parse_ok("http://bob:p@ss@proxy:8080", &u);
	assert_string_equal(u.pass, "p@ss");
	assert_string_equal(u.host, "proxy");
	/* empty password is allowed (RFC 1929 PLEN may be 0) */
	parse_ok("socks5://alice:@h:1", &u);
	assert_true(u.has_pass);
	assert_string_equal(u.pass, "");
}

static void test_ipv6(void **state)
{
	struct upstream_url u;
	(void)state;
	parse_ok("socks5://[fd00::1]:1080", &u);
	assert_string_equal(u.host, "fd00::1");
	assert_int_equal(u.port, 1080);
	parse_ok("http://u:p@[::1]:3128", &u);
	assert_string_equal(u.host, "::1");
	parse_bad("socks5://[fd00::1:1080", "unterminated");
	parse_bad("socks5://[not-v6]:1080", "not an IPv6");
	parse_bad("socks5://[::1]x1080", "junk");
}

/* A typo'd URL must not put its password in an error message. */
static void test_password_never_echoed(void **state)
{
	static const char *const typos[] = { "socks5:/user:secret@h:1080", "user:secret@h:1080",
					     "socks5://user:secret", "http://user:secret" };
	struct upstream_url u;
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(typos) / sizeof(typos[0]); i++) {
		err[0] = '\0';
		assert_int_equal(url_parse(typos[i], &u, err, sizeof(err)), -1);
		assert_true(err[0]);
		if (strstr(err, "secret"))
			fail_msg("%s: \"%s\" shows the password", typos[i], err);
	}
}

static void test_malformed(void **state)
{
	char longhost[400];
	char longuser[600];
	(void)state;
	parse_bad("", "not a URL");
	parse_bad("10.0.0.5:1080", "not a URL");
	parse_bad("https://proxy:443", "unsupported scheme");
	parse_bad("SOCKS5://h:1", "unsupported scheme");
	parse_bad("socks5://", "missing host");
	parse_bad("socks5://:1080", "missing host");
	parse_bad("socks5://h:0", "bad port");
	parse_bad("socks5://h:65536", "bad port");
	parse_bad("socks5://h:99999", "bad port");
	parse_bad("socks5://h:", "bad port");
	parse_bad("socks5://h:12ab", "bad port");
	parse_bad("socks5://h:-1", "bad port");
	parse_bad("socks5://h:1/path", "no path");
	parse_bad("socks5://h:1?x=1", "no path");
	parse_bad("socks5://h o:1", "control character");
	parse_bad("socks5://h\t:1", "control character");
	parse_bad("socks5://h!x:1", "bad character");
	parse_bad("socks5://@h:1", "empty user");
	parse_bad("socks5://alice@h:1", "without password");
	parse_bad("socks5://a:%zz@h:1", "percent-escape");
	parse_bad("socks5://a:%4@h:1", "percent-escape");
	parse_bad("socks5://a:%@h:1", "percent-escape");
	parse_bad("socks5://a:%00@h:1", "NUL");
	parse_bad("socks4://a:b@h:1", "no password");
	memset(longhost, 'a', sizeof(longhost));
	memcpy(longhost, "socks5://", 9);
	strcpy(longhost + 300, ":1080");
	parse_bad(longhost, "too long");
	memcpy(longuser, "socks5://", 9);
	memset(longuser + 9, 'u', 300);
	strcpy(longuser + 309, ":p@h:1");
	parse_bad(longuser, "longer than 255");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schemes),	    cmocka_unit_test(test_default_port),
		cmocka_unit_test(test_credentials), cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_malformed),   cmocka_unit_test(test_password_never_echoed),
	};
	return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
