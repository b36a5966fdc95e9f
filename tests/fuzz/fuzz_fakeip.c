/* libFuzzer harness: reading a saved fake-IP table (fakeip_file), which
 * may be cut short or damaged. Whatever is taken must hold: at most the
 * table's size, and every name found again by its address. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr v4, v6;
	struct fakeip *t;
	FILE *in;
	size_t n;

	if (cidr_parse("198.18.0.0/15", &v4) || cidr_parse("fd00:5a::/64", &v6))
		abort();
	t = fakeip_new(&v4, &v6, 64);
	in = size ? fmemopen((void *)data, size, "r") : NULL;
	if (!t || (size && !in))
		abort();
	n = in ? fakeip_load_stream(t, in) : 0;
	if (in)
		fclose(in);
	if (n > 64 || n != fakeip_count(t))
		abort();
	/* every address of the pools' first offsets gives back a valid name */
	for (unsigned off = 0; off < 300; off++) {
		struct sockaddr_storage a;
		char name[256];
		char s[40];
		snprintf(s, sizeof(s), "198.18.%u.%u", off / 256, off % 256);
		if (addr_from_ip(s, 0, &a))
			abort();
		if (fakeip_name_of(t, &a, name) == 0) {
			struct sockaddr_storage back;
			if (fakeip_address_of(t, name, AF_INET, &back) || !addr_same_ip(&a, &back))
				abort();
		}
	}
	fakeip_free(t);
	return 0;
}
