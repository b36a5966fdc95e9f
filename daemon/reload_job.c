/* A reload's config reading on its own thread (see reload_job.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "reload_job.h"
#include "users.h"

int reload_job_init(struct reload_job *j, const char *path)
{
	*j = (struct reload_job){ .path = path };
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return j->efd < 0 ? -errno : 0;
}

static void *reload_thread(void *arg)
{
	struct reload_job *j = arg;
	size_t errs_len = 0;
	FILE *ef = open_memstream(&j->errs, &errs_len);
	uint64_t one = 1;

	j->problems = config_load(j->path, 1, &j->cfg, ef);
	if (!j->problems && j->cfg->socks.n_listen && j->cfg->socks.auth_password)
		j->problems = users_load(j->cfg->socks.users_path, &j->users, ef);
	if (ef)
		fclose(ef);
	if (write(j->efd, &one, sizeof(one)) < 0)
		(void)0; /* the counter cannot overflow: one write per job */
	return NULL;
}

int reload_job_start(struct reload_job *j)
{
	int rc;

	if (j->running)
		return 1;
	reload_job_clear(j);
	rc = pthread_create(&j->thread, NULL, reload_thread, j);
	if (rc)
		return -rc;
	j->running = 1;
	return 0;
}

void reload_job_finish(struct reload_job *j)
{
	uint64_t count;

	if (!j->running)
		return;
	pthread_join(j->thread, NULL);
	j->running = 0;
	if (read(j->efd, &count, sizeof(count)) < 0)
		(void)0; /* already read */
}

void reload_job_clear(struct reload_job *j)
{
	config_free(j->cfg);
	users_free(j->users);
	free(j->errs);
	j->cfg = NULL;
	j->users = NULL;
	j->errs = NULL;
	j->problems = 0;
}

void reload_job_destroy(struct reload_job *j)
{
	reload_job_finish(j);
	reload_job_clear(j);
	if (j->efd >= 0)
		close(j->efd);
	j->efd = -1;
}
