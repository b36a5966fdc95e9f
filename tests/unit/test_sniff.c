/* Unit tests for sniff.c: the server name of a TLS ClientHello (a real one
 * from OpenSSL, whole, cut anywhere, and split over records; built ones
 * with each length wrong) and the Host of an HTTP/1.x head. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sniff.h"

/* Python's ssl module (OpenSSL 3) asked for server_hostname
 * "WWW.Example.com": one record of 512 bytes. */
static const uint8_t openssl_hello[] = {
	0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xdc, 0x78, 0xcd, 0x5a,
	0x97, 0x69, 0x2b, 0xac, 0x85, 0xf2, 0xd9, 0x87, 0x61, 0x60, 0x6d, 0x8f, 0x9b, 0xe2, 0x9c,
	0xca, 0x72, 0x8b, 0xc6, 0x08, 0x0a, 0x10, 0x57, 0xd1, 0xdd, 0xe5, 0xf6, 0xb2, 0x20, 0xf9,
	0x38, 0xa6, 0x27, 0xa7, 0x42, 0xdd, 0x9e, 0x95, 0x05, 0xf5, 0x80, 0x62, 0x62, 0x29, 0xb1,
	0xd1, 0x03, 0xa7, 0x9e, 0xd8, 0x0a, 0x64, 0x29, 0x04, 0x1f, 0xfe, 0x04, 0xcc, 0x56, 0x47,
	0xa2, 0x00, 0x24, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0xc0, 0x2b,
	0xc0, 0x2f, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x24, 0xc0, 0x28, 0xc0, 0x23, 0xc0, 0x27, 0x00,
	0x9f, 0x00, 0x9e, 0x00, 0x6b, 0x00, 0x67, 0x00, 0xff, 0x01, 0x00, 0x01, 0x8f, 0x00, 0x00,
	0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x57, 0x57, 0x57, 0x2e, 0x45, 0x78, 0x61, 0x6d,
	0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02,
	0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00,
	0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00,
	0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04,
	0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b,
	0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03,
	0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x05, 0x04, 0x03,
	0x04, 0x03, 0x03, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24,
	0x00, 0x1d, 0x00, 0x20, 0x61, 0x2a, 0xeb, 0x45, 0x31, 0x6f, 0x44, 0xec, 0x46, 0x7a, 0x91,
	0x2e, 0x88, 0x59, 0x43, 0x06, 0x8d, 0xc7, 0xcc, 0x64, 0xd2, 0xcd, 0x6f, 0xc1, 0xb2, 0x2f,
	0x96, 0xef, 0x13, 0x1e, 0x62, 0x5a, 0x00, 0x15, 0x00, 0xde, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

static void test_tls_real_hello(void **state)
{
	char name[SNIFF_NAME_MAX + 1];
	(void)state;

	assert_int_equal(sniff_tls(openssl_hello, sizeof(openssl_hello), name), SNIFF_FOUND);
	assert_string_equal(name, "www.example.com");
	/* every cut short of the whole is "more", never a name or a refusal */
	for (size_t n = 0; n < sizeof(openssl_hello); n++)
		assert_int_equal(sniff_tls(openssl_hello, n, name), SNIFF_MORE);
	/* what follows the hello does not matter */
	{
		uint8_t more[sizeof(openssl_hello) + 7];
		memcpy(more, openssl_hello, sizeof(openssl_hello));
		memcpy(more + sizeof(openssl_hello), "\x14\x03\x03\x00\x01\x01\x17", 7);
		assert_int_equal(sniff_tls(more, sizeof(more), name), SNIFF_FOUND);
		/* nor a handshake record after it that is no record at all
		 * (fuzz_sniff found one turning a found name into none) */
		memcpy(more + sizeof(openssl_hello), "\x16\x99\x99\x00\x01\x01\x17", 7);
		assert_int_equal(sniff_tls(more, sizeof(more), name), SNIFF_FOUND);
		assert_string_equal(name, "www.example.com");
	}
}

/* The same handshake message in three records (as a client may send a
 * large hello), then cut anywhere. */
static void test_tls_split_records(void **state)
{
	const uint8_t *hs = openssl_hello + 5;
	size_t hs_len = sizeof(openssl_hello) - 5, cut[2] = { 3, 200 }, off = 0, n = 0;
	uint8_t buf[sizeof(openssl_hello) + 10];
	char name[SNIFF_NAME_MAX + 1];
	(void)state;

	for (int r = 0; r < 3; r++) {
		size_t part = r < 2 ? cut[r] : hs_len - off;
		buf[n++] = 0x16;
		buf[n++] = 0x03;
		buf[n++] = 0x01;
		buf[n++] = (uint8_t)(part >> 8);
		buf[n++] = (uint8_t)part;
		memcpy(buf + n, hs + off, part);
		n += part;
		off += part;
	}
	assert_int_equal(sniff_tls(buf, n, name), SNIFF_FOUND);
	assert_string_equal(name, "www.example.com");
	for (size_t k = 0; k < n; k++)
		assert_int_equal(sniff_tls(buf, k, name), SNIFF_MORE);
	/* an alert record in between: not a hello */
	buf[5 + 3] = 0x15;
	assert_int_equal(sniff_tls(buf, n, name), SNIFF_NOTHING);
}

/* A hello built from parts; lengths as given. */
struct hello {
	int session_len, suites_len, compr_len, ext_total; /* -1: the right one */
	const uint8_t *exts;
	size_t exts_len;
};

static size_t build_hello(const struct hello *h, uint8_t *out)
{
	uint8_t body[2048];
	size_t n = 0, ext_total = h->ext_total < 0 ? h->exts_len : (size_t)h->ext_total;

	body[n++] = 3;
	body[n++] = 3;
	memset(body + n, 0xab, 32);
	n += 32;
	body[n++] = (uint8_t)(h->session_len < 0 ? 0 : h->session_len);
	body[n++] = 0;
	body[n++] = (uint8_t)(h->suites_len < 0 ? 2 : h->suites_len);
	body[n++] = 0x13;
	body[n++] = 0x01;
	body[n++] = (uint8_t)(h->compr_len < 0 ? 1 : h->compr_len);
	body[n++] = 0;
	body[n++] = (uint8_t)(ext_total >> 8);
	body[n++] = (uint8_t)ext_total;
	memcpy(body + n, h->exts, h->exts_len);
	n += h->exts_len;
	out[0] = 0x16;
	out[1] = 3;
	out[2] = 1;
	out[3] = (uint8_t)((n + 4) >> 8);
	out[4] = (uint8_t)(n + 4);
	out[5] = 1;
	out[6] = 0;
	out[7] = (uint8_t)(n >> 8);
	out[8] = (uint8_t)n;
	memcpy(out + 9, body, n);
	return n + 9;
}

/* server_name with one host_name entry */
#define SNI(name_len_hi, name_len_lo, ...)                                                         \
	0x00, 0x00, 0x00, (uint8_t)(name_len_lo + 5), 0x00, (uint8_t)(name_len_lo + 3), 0x00,      \
	    name_len_hi, name_len_lo, __VA_ARGS__

static void test_tls_built(void **state)
{
	static const uint8_t good[] = { 0x00,
					0x0b,
					0x00,
					0x02,
					0x01,
					0x00, /* ec_point_formats */
					SNI(0, 5, 'a', '.', 'b', 'c', 'd') };
	static const uint8_t twice[] = { SNI(0, 3, 'a', '.', 'b'), SNI(0, 3, 'c', '.', 'd') };
	static const uint8_t ip[] = { SNI(0, 7, '1', '.', '2', '.', '3', '.', '4') };
	static const uint8_t past_end[] = { 0x00, 0x00, 0x00, 0x40, 0x00, 0x03 };
	static const uint8_t name_past[] = { 0x00, 0x00, 0x00, 0x08, 0x00, 0x06,
					     0x00, 0x00, 0x09, 'a',  '.',  'b' };
	static const uint8_t no_sni[] = { 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00 };
	static const uint8_t bad_char[] = { SNI(0, 5, 'a', '/', 'b', 'c', 'd') };
	const struct {
		struct hello h;
		enum sniff_result want;
		const char *name;
	} cases[] = {
		{ { -1, -1, -1, -1, good, sizeof(good) }, SNIFF_FOUND, "a.bcd" },
		{ { 33, -1, -1, -1, good, sizeof(good) },
		  SNIFF_NOTHING,
		  NULL }, /* session id > 32 */
		{ { -1, 3, -1, -1, good, sizeof(good) }, SNIFF_NOTHING, NULL }, /* odd suites */
		{ { -1, 0, -1, -1, good, sizeof(good) }, SNIFF_NOTHING, NULL }, /* no suites */
		{ { -1, -1, 0, -1, good, sizeof(good) }, SNIFF_NOTHING, NULL }, /* no compression */
		{ { -1, -1, -1, 100, good, sizeof(good) }, SNIFF_NOTHING, NULL }, /* ext past end */
		{ { -1, -1, -1, 3, good, sizeof(good) }, SNIFF_NOTHING, NULL }, /* trailing bytes */
		{ { -1, -1, -1, -1, twice, sizeof(twice) }, SNIFF_NOTHING, NULL }, /* duplicate */
		{ { -1, -1, -1, -1, ip, sizeof(ip) }, SNIFF_NOTHING, NULL },	   /* an address */
		{ { -1, -1, -1, -1, past_end, sizeof(past_end) }, SNIFF_NOTHING, NULL },
		{ { -1, -1, -1, -1, name_past, sizeof(name_past) }, SNIFF_NOTHING, NULL },
		{ { -1, -1, -1, -1, no_sni, sizeof(no_sni) }, SNIFF_NOTHING, NULL },
		{ { -1, -1, -1, -1, bad_char, sizeof(bad_char) }, SNIFF_NOTHING, NULL },
	};
	uint8_t buf[4096];
	char name[SNIFF_NAME_MAX + 1];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = build_hello(&cases[i].h, buf);
		enum sniff_result got = sniff_tls(buf, n, name);
		if (got != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
		if (cases[i].name)
			assert_string_equal(name, cases[i].name);
	}
	/* not TLS at all, a record too long, a handshake too long */
	assert_int_equal(sniff_tls((const uint8_t *)"SSH-2.0-x\r\n", 11, name), SNIFF_NOTHING);
	assert_int_equal(sniff_tls((const uint8_t *)"\x16\x03\x01\x48\x01", 5, name),
			 SNIFF_NOTHING);
	assert_int_equal(
	    sniff_tls((const uint8_t *)"\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9, name),
	    SNIFF_NOTHING);
	assert_int_equal(
	    sniff_tls((const uint8_t *)"\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9, name),
	    SNIFF_NOTHING); /* a ServerHello */
	assert_int_equal(sniff_tls((const uint8_t *)"\x16\x03\x01\x00\x00", 5, name),
			 SNIFF_NOTHING);
}

static enum sniff_result http(const char *head, char *name)
{
	return sniff_http((const uint8_t *)head, strlen(head), name);
}

static void test_http(void **state)
{
	char name[SNIFF_NAME_MAX + 1], big[SNIFF_HTTP_MAX + 100];
	(void)state;

	assert_int_equal(http("GET / HTTP/1.1\r\nHost: Web.Example.org\r\n\r\n", name),
			 SNIFF_FOUND);
	assert_string_equal(name, "web.example.org");
	assert_int_equal(
	    http("POST /x?y HTTP/1.0\r\nAccept: */*\r\nhost:a.b:8080 \r\n\r\nbody", name),
	    SNIFF_FOUND);
	assert_string_equal(name, "a.b");
	/* still coming */
	assert_int_equal(http("GE", name), SNIFF_MORE);
	assert_int_equal(http("GET /index.html HTTP/1", name), SNIFF_MORE);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: a.b\r\n", name), SNIFF_MORE);
	assert_int_equal(http("GET / HTTP/1.1\r", name), SNIFF_MORE);
	/* not a name, not HTTP, malformed */
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: [fd00::1]:80\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: a.b\r\nHost: c.d\r\n\r\n", name),
			 SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nAccept: x\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: a.b:\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: a.b:1234567\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\n Host: a.b\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\nHost: a.b\n\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/2.0\r\nHost: a.b\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET  / HTTP/1.1\r\nHost: a.b\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("SSH-2.0-OpenSSH_9.2\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("\x16\x03\x01", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", name), SNIFF_NOTHING);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: -a.b\r\n\r\n", name), SNIFF_NOTHING);
	/* a head that never ends within the bound */
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0*d", SNIFF_HTTP_MAX, 0);
	assert_int_equal(http(big, name), SNIFF_NOTHING);
}

static void test_names(void **state)
{
	char out[SNIFF_NAME_MAX + 1], long_label[70], long_name[300];
	(void)state;

	assert_int_equal(domain_normalize_len("Example.COM.", 12, out), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(domain_normalize_len("_sip._tcp.example.com", 21, out), 0);
	assert_int_equal(domain_normalize_len("", 0, out), -1);
	assert_int_equal(domain_normalize_len(".", 1, out), -1);
	assert_int_equal(domain_normalize_len("a-.b", 4, out), -1);
	assert_int_equal(domain_normalize_len("a..", 3, out), -1);
	assert_int_equal(domain_normalize_len("1.2.3.4", 7, out), -1);
	assert_int_equal(domain_normalize_len("a b", 3, out), -1);
	assert_int_equal(domain_normalize_len("a\0b", 3, out), -1);
	memset(long_label, 'x', 64);
	assert_int_equal(domain_normalize_len(long_label, 64, out), -1);
	assert_int_equal(domain_normalize_len(long_label, 63, out), 0);
	for (int i = 0; i < 300; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	assert_int_equal(domain_normalize_len(long_name, 253, out), 0);
	assert_int_equal(domain_normalize_len(long_name, 255, out), -1);
	/* either protocol, as allowed */
	assert_int_equal(
	    sniff_name(SNIFF_TLS | SNIFF_HTTP, openssl_hello, sizeof(openssl_hello), out),
	    SNIFF_FOUND);
	assert_int_equal(sniff_name(SNIFF_HTTP, openssl_hello, sizeof(openssl_hello), out),
			 SNIFF_NOTHING);
	assert_int_equal(sniff_name(SNIFF_TLS | SNIFF_HTTP, (const uint8_t *)"G", 1, out),
			 SNIFF_MORE);
	assert_int_equal(sniff_name(SNIFF_TLS, (const uint8_t *)"G", 1, out), SNIFF_NOTHING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_real_hello), cmocka_unit_test(test_tls_split_records),
		cmocka_unit_test(test_tls_built),      cmocka_unit_test(test_http),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
