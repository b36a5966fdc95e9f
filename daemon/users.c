/* Users file parser and lookup. Lines are "user:hash"; '#' starts a comment
 * line. A hash must be a crypt(3) setting libcrypt accepts as current
 * (yescrypt, sha512crypt, bcrypt...), so a plaintext password or a legacy
 * DES hash is an error, not a silent weakness. */
#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "users.h"

#define USERS_FILE_MAX (4 << 20)
#define USER_MAX       255

struct user_entry {
	char *name;
	char *hash;
	unsigned line;
};

struct users {
	struct user_entry *entries; /* sorted by name */
	size_t n;
	char *storage; /* the text the entries point into */
};

static void report(FILE *errs, const char *name, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(FILE *errs, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;
	if (!errs)
		return;
	fprintf(errs, "%s:%u: ", name, line);
	va_start(ap, fmt);
	vfprintf(errs, fmt, ap);
	va_end(ap);
	fputc('\n', errs);
}

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct user_entry *)a)->name, ((const struct user_entry *)b)->name);
}

/* A complete crypt(3) hash of a method libcrypt considers current: the
 * setting it accepts, then a checksum of at least 20 characters of the
 * crypt alphabet (every such method makes 22 or more). */
static int valid_hash(const char *hash)
{
	const char *sum = strrchr(hash, '$');

	if (hash[0] != '$' || crypt_checksalt(hash) != CRYPT_SALT_OK || !sum)
		return 0;
	sum++;
	return strlen(sum) >= 20 &&
	       strspn(sum, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
		   strlen(sum);
}

static int valid_user(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > USER_MAX)
		return 0;
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	}
	return 1;
}

/* One line, NUL-terminated in place. Returns 1 (entry), 0 (blank/comment)
 * or -1 (reported). */
static int parse_line(char *line, const char *name, unsigned lineno, struct user_entry *e,
		      FILE *errs)
{
	size_t n = strlen(line);
	char *colon;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return 0;
	colon = strchr(line, ':');
	if (!colon) {
		report(errs, name, lineno, "expected user:hash");
		return -1;
	}
	*colon = '\0';
	e->name = line;
	e->hash = colon + 1;
	e->line = lineno;
	if (!valid_user(e->name)) {
		report(errs, name, lineno,
		       "user name must be 1..%d bytes without spaces or control characters",
		       USER_MAX);
		return -1;
	}
	if (!valid_hash(e->hash)) {
		report(errs, name, lineno,
		       "user \"%s\": not a crypt(3) hash this system accepts (plaintext is never "
		       "stored; make a line with sockgated --hash-password %s)",
		       e->name, e->name);
		return -1;
	}
	return 1;
}

int users_parse(const char *name, const char *text, size_t len, struct users **out, FILE *errs)
{
	struct users *u = calloc(1, sizeof(*u));
	size_t cap = 0;
	unsigned lineno = 0;
	int errors = 0;
	char *p, *end;

	*out = NULL;
	if (!u || !(u->storage = malloc(len + 1))) {
		report(errs, name, 0, "out of memory");
		users_free(u);
		return 1;
	}
	memcpy(u->storage, text, len);
	u->storage[len] = '\0';
	if (memchr(text, '\0', len)) {
		report(errs, name, 0, "contains a NUL byte: not a users file");
		users_free(u);
		return 1;
	}
	for (p = u->storage, end = p + len; p < end; p++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct user_entry e;
		int rc;

		if (nl)
			*nl = '\0';
		lineno++;
		rc = parse_line(p, name, lineno, &e, errs);
		if (rc < 0) {
			errors++;
		} else if (rc > 0) {
			if (u->n == cap) {
				cap = cap ? cap * 2 : 16;
				void *grown = realloc(u->entries, cap * sizeof(*u->entries));
				if (!grown) {
					report(errs, name, lineno, "out of memory");
					errors++;
					break;
				}
				u->entries = grown;
			}
			u->entries[u->n++] = e;
		}
		if (!nl)
			break;
		p = nl;
	}
	if (u->n)
		qsort(u->entries, u->n, sizeof(*u->entries), compare_entries);
	for (size_t i = 1; i < u->n; i++) {
		const struct user_entry *a = &u->entries[i - 1], *b = &u->entries[i];
		if (!strcmp(a->name, b->name)) {
			report(errs, name, a->line > b->line ? a->line : b->line,
			       "user \"%s\" listed twice (also line %u)", b->name,
			       a->line < b->line ? a->line : b->line);
			errors++;
		}
	}
	if (errors) {
		users_free(u);
		return errors;
	}
	*out = u;
	return 0;
}

int users_load(const char *path, struct users **out, FILE *errs)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int errors = 1;
	FILE *f = fopen(path, "re");

	*out = NULL;
	if (!f) {
		if (errs)
			fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		if (errs)
			fprintf(errs, "%s: not a regular file\n", path);
		goto out;
	}
	/* Anyone who can write it can add a user. */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		if (errs)
			fprintf(errs, "%s: writable by group or others; chmod 600 it\n", path);
		goto out;
	}
	if (st.st_size > USERS_FILE_MAX) {
		if (errs)
			fprintf(errs, "%s: larger than %d bytes\n", path, USERS_FILE_MAX);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		goto out;
	len = fread(text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		if (errs)
			fprintf(errs, "%s: read error\n", path);
		goto out;
	}
	errors = users_parse(path, text, len, out, errs);
out:
	free(text);
	fclose(f);
	return errors;
}

const char *users_find(const struct users *u, const char *user)
{
	struct user_entry key = { .name = (char *)user };
	const struct user_entry *e;

	if (!u || !u->n)
		return NULL;
	e = bsearch(&key, u->entries, u->n, sizeof(*u->entries), compare_entries);
	return e ? e->hash : NULL;
}

size_t users_count(const struct users *u)
{
	return u ? u->n : 0;
}

const char *users_hash_at(const struct users *u, size_t i)
{
	return u && i < u->n ? u->entries[i].hash : NULL;
}

void users_free(struct users *u)
{
	if (!u)
		return;
	free(u->entries);
	free(u->storage);
	free(u);
}

int users_hash_password(const char *user, const char *password, char *line, size_t len)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = NULL;
	int ret = -1;

	if (!valid_user(user)) {
		errno = EINVAL;
		return -1;
	}
	/* NULL prefix: the strongest method libcrypt recommends, random salt */
	if (!crypt_gensalt_rn(NULL, 0, NULL, 0, setting, sizeof(setting)))
		return -1;
	data = calloc(1, sizeof(*data));
	if (!data)
		return -1;
	if (!crypt_rn(password, setting, data, sizeof(*data)) || data->output[0] != '$')
		goto out;
	if ((size_t)snprintf(line, len, "%s:%s", user, data->output) >= len) {
		errno = ENAMETOOLONG;
		goto out;
	}
	ret = 0;
out:
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}
