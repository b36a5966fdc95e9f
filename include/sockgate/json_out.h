/* JSON output, built with jansson so every string is escaped right. */
#ifndef SOCKGATE_JSON_OUT_H
#define SOCKGATE_JSON_OUT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Prints v on out as one line and drops the caller's reference; NULL (a
 * failed allocation while building it) prints an error object instead.
 * 0, or -1 when out failed. */
static inline int json_print(FILE *out, json_t *v)
{
	int rc;

	if (!v)
		return fputs("{\"error\": \"out of memory\"}\n", out) < 0 ? -1 : 0;
	rc = json_dumpf(v, out, JSON_ENSURE_ASCII) < 0 || fputc('\n', out) == EOF ? -1 : 0;
	json_decref(v);
	return rc;
}

/* An unsigned counter as a JSON integer (json_int_t is signed 64-bit;
 * counters stay far below its top). */
static inline json_t *json_count(unsigned long long n)
{
	return json_integer((json_int_t)n);
}

/* A JSON string of text that may not be UTF-8 (a message quoting a file,
 * a name a client sent): bytes that are not valid UTF-8 become '?'. */
static inline json_t *json_text(const char *text)
{
	json_t *v = json_string(text);
	char *copy;

	if (v || !text)
		return v;
	copy = strdup(text);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

#endif
