/* Unit tests for the control socket's request line: every verb, the json
 * suffix, upstream-use's two names, and bytes no CLI sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control_request.h"

static struct control_request req;

static int parse(const char *s)
{
	return control_request_parse(s, strlen(s), &req);
}

static void test_verbs(void **state)
{
	static const struct {
		const char *line;
		enum control_verb verb;
		int json;
	} cases[] = {
		{ "status\n", CONTROL_STATUS, 0 },
		{ "status json\n", CONTROL_STATUS, 1 },
		{ "stats json\r\n", CONTROL_STATS, 1 },
		{ "conns\n", CONTROL_CONNS, 0 },
		{ "reload\n", CONTROL_RELOAD, 0 },
		{ "dns-flush json\n", CONTROL_DNS_FLUSH, 1 },
		{ "tproxy-listeners\n", CONTROL_TPROXY_LISTENERS, 0 },
		{ "status", CONTROL_STATUS, 0 },	  /* the newline may be cut */
		{ "status\nstats\n", CONTROL_STATUS, 0 }, /* only the first line */
		{ "Status\n", CONTROL_UNKNOWN, 0 },
		{ "statusx\n", CONTROL_UNKNOWN, 0 },
		{ "stat\n", CONTROL_UNKNOWN, 0 },
		{ "status now\n", CONTROL_UNKNOWN, 0 }, /* no arguments to status */
		{ " json\n", CONTROL_UNKNOWN, 0 },
		{ "json\n", CONTROL_UNKNOWN, 0 },
		{ "\n", CONTROL_UNKNOWN, 0 },
		{ "", CONTROL_UNKNOWN, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].line) != 0)
			fail_msg("%s: refused", cases[i].line);
		assert_int_equal(req.verb, cases[i].verb);
		if (cases[i].verb != CONTROL_UNKNOWN)
			assert_int_equal(req.json, cases[i].json);
	}
}

static void test_upstream_use(void **state)
{
	char long_name[80];
	(void)state;
	assert_int_equal(parse("upstream-use out vps\n"), 0);
	assert_int_equal(req.verb, CONTROL_UPSTREAM_USE);
	assert_false(req.usage_error);
	assert_string_equal(req.group, "out");
	assert_string_equal(req.member, "vps");
	assert_false(req.json);
	assert_int_equal(parse("upstream-use out auto json\n"), 0);
	assert_true(req.json);
	assert_string_equal(req.member, "auto");
	assert_int_equal(parse("upstream-use   out   vps  \n"), 0);
	assert_false(req.usage_error);
	assert_string_equal(req.group, "out");
	/* not exactly two names */
	static const char *const usage[] = { "upstream-use\n", "upstream-use out\n",
					     "upstream-use out vps extra\n", "upstream-use  \n" };
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		assert_int_equal(parse(usage[i]), 0);
		assert_int_equal(req.verb, CONTROL_UPSTREAM_USE);
		assert_true(req.usage_error);
		assert_string_equal(req.group, "");
	}
	/* a name longer than any config name */
	memset(long_name, 'g', 64);
	snprintf(long_name + 64, sizeof(long_name) - 64, " m\n");
	char line[128];
	snprintf(line, sizeof(line), "upstream-use %s", long_name);
	assert_int_equal(parse(line), 0);
	assert_true(req.usage_error);
	long_name[63] = ' ';
	long_name[64] = '\0';
	snprintf(line, sizeof(line), "upstream-use %sm\n", long_name);
	assert_int_equal(parse(line), 0);
	assert_false(req.usage_error);
	assert_int_equal(strlen(req.group), 63);
}

static void test_not_text(void **state)
{
	static const char nul[] = "status\0json\n";
	(void)state;
	assert_int_equal(control_request_parse(nul, sizeof(nul) - 1, &req), -1);
	assert_int_equal(parse("sta\ttus\n"), -1);
	assert_int_equal(parse("status\r\r\n"), -1);
	assert_int_equal(parse("st\x7f"
			       "atus\n"),
			 -1);
	assert_int_equal(parse("status \xc3\xa9\n"), -1);
	/* only the first line is judged */
	assert_int_equal(parse("status\n\x01\x02"), 0);
	assert_int_equal(req.verb, CONTROL_STATUS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_upstream_use),
		cmocka_unit_test(test_not_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
