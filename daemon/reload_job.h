/* The slow half of a reload (reading the config, resolving its upstreams'
 * names, loading the users file) on a thread of its own, so that the main
 * thread goes on answering the control socket and the metrics, handling
 * signals and pinging the watchdog meanwhile. The main thread then checks
 * and applies the result (main.c). */
#ifndef SOCKGATE_RELOAD_JOB_H
#define SOCKGATE_RELOAD_JOB_H

#include <pthread.h>

struct config;
struct users;

struct reload_job {
	const char *path;
	int efd; /* eventfd, readable once the thread is done */
	int running;
	pthread_t thread;
	/* what the thread made: the caller's after reload_job_finish */
	struct config *cfg;
	struct users *users;
	char *errs; /* the config's problems as text, or NULL */
	int problems;
};

/* 0 or -errno. */
int reload_job_init(struct reload_job *j, const char *path);
/* 0 when started, 1 when one runs already, or -errno. */
int reload_job_start(struct reload_job *j);
/* After efd became readable: joins the thread; the results are in j. */
void reload_job_finish(struct reload_job *j);
/* Frees what the job made (what the caller took is NULL by then). */
void reload_job_clear(struct reload_job *j);
/* Waits for a running job, frees what it made, closes efd. */
void reload_job_destroy(struct reload_job *j);

#endif
