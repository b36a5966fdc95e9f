/* Unit tests for the PAC script writer: the tables it carries for a
 * configuration, rules judged by the browser's address, the proxy line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "pac_script.h"

static const char conf[] = "[upstream corp]\nurl = socks5://10.0.0.5:1080\n"
			   "[route]\ndefault = corp\nexample.com = direct\n"
			   "exact www.corp.example = direct\nkeyword tracker = direct\n"
			   "93.184.0.0/16 = direct\n2001:db8:5::/48 = corp\n"
			   "from 10.77.1.2 to news.example = direct\n"
			   "from 10.77.1.99 port 8443 = direct\n"
			   "[intake]\nbypass = 5.6.0.0/16\n"
			   "[socks]\nlisten = 10.77.1.1:1080\nauth = none\nallow = 10.77.1.0/24\n"
			   "%s"
			   "[pac]\nlisten = 10.77.1.1:8080\n%s";

/* The script for a browser at client; freed by the caller. */
static char *script(const char *socks_extra, const char *pac_extra, const char *client)
{
	char text[2048];
	struct config *cfg = NULL;
	struct sockaddr_storage c;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	snprintf(text, sizeof(text), conf, socks_extra, pac_extra);
	assert_int_equal(config_load_string("test", text, 0, &cfg, stderr), 0);
	assert_int_equal(addr_from_ip(client, 1, &c), 0);
	out = open_memstream(&buf, &len);
	assert_int_equal(pac_script_write(cfg, &c, "10.77.1.1:1080", out), 0);
	fclose(out);
	config_free(cfg);
	return buf;
}

static void test_tables(void **state)
{
	char *s = script("", "", "10.77.1.2");
	(void)state;
	assert_non_null(strstr(s, "var sgProxy = 'SOCKS5 10.77.1.1:1080; PROXY 10.77.1.1:1080';"));
	assert_non_null(strstr(s, "var sgDefault = 2;"));
	/* 93.184.0.0/16 direct, by range starts and verdicts */
	assert_non_null(
	    strstr(s, "var sgRoutes = {s4:['00000000','5db80000','5db90000'],v4:[0,1,0]"));
	/* an IPv6 route to an upstream: proxied */
	assert_non_null(strstr(s, "'20010db8000500000000000000000000'"));
	assert_non_null(strstr(s, "x:{'www.corp.example':1},d:{'example.com':1}"));
	/* keywords, in order */
	assert_non_null(strstr(s, "var sgKeywords = [['tracker',1]];"));
	/* the bypass: private ranges, and [intake] bypass */
	assert_non_null(strstr(s, "'0a000000'"));
	assert_non_null(strstr(s, "'05060000'"));
	/* the rule "from 10.77.1.2" holds for this browser, the other not */
	assert_non_null(strstr(s, "d:{'news.example':1}"));
	assert_null(strstr(s, "lo:8443"));
	assert_non_null(strstr(s, "function FindProxyForURL(url, host)"));
	free(s);
	s = script("", "", "10.77.1.99");
	assert_null(strstr(s, "news.example"));
	assert_non_null(strstr(s, "{lo:8443,hi:8443,v:1,to:null}"));
	free(s);
}

static void test_proxy_line(void **state)
{
	char *s = script("http = no\n", "fallback_direct = yes\n", "10.77.1.2");
	(void)state;
	assert_non_null(strstr(s, "var sgProxy = 'SOCKS5 10.77.1.1:1080; DIRECT';"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_proxy_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
