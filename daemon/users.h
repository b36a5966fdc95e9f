/* The SOCKS users file: one "user:hash" per line, hashes in crypt(3)
 * format as in /etc/shadow; plaintext is refused. */
#ifndef SOCKGATE_USERS_H
#define SOCKGATE_USERS_H

#include <stddef.h>
#include <stdio.h>

struct users;

/* Parses text (len bytes, any content). Every problem is printed to errs as
 * "NAME:LINE: message"; returns the number of problems (0 = *out is valid). */
int users_parse(const char *name, const char *text, size_t len, struct users **out, FILE *errs);
/* Reads path (refusing a file others may write) and parses it. */
int users_load(const char *path, struct users **out, FILE *errs);
/* The stored hash of user, or NULL. */
const char *users_find(const struct users *u, const char *user);
size_t users_count(const struct users *u);
/* The stored hash of the i-th user (in name order), or NULL. */
const char *users_hash_at(const struct users *u, size_t i);
void users_free(struct users *u);

/* A users-file line for user with a fresh salt in the system's preferred
 * method; 0 or -1 (errno). line gets "user:hash". */
int users_hash_password(const char *user, const char *password, char *line, size_t len);

#endif
