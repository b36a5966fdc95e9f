/* Memory in use (see memory_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory_report.h"
#include "worker.h"

/* The "mem" pages of proto ("TCP", "UDP") in a sockstat text, or -1. */
static long long memory_sockstat_pages(const char *text, const char *proto)
{
	size_t n = strlen(proto);

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *mem;
		char *end;
		long long v;

		if (strncmp(line, proto, n) || line[n] != ':')
			continue;
		mem = strstr(line, " mem ");
		if (!mem || (strchr(line, '\n') && mem > strchr(line, '\n')))
			return -1;
		v = strtoll(mem + 5, &end, 10);
		/* 2^40 pages is more memory than any machine has */
		if (end == mem + 5 || v < 0 || v > (1LL << 40) ||
		    (*end && *end != '\n' && *end != ' '))
			return -1;
		return v;
	}
	return -1;
}

static size_t read_small(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

void memory_report_read(struct memory_report *m, const struct worker *workers, unsigned n)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long size, resident;
	char buf[1024];
	long long tcp, udp;

	m->rss_bytes = 0;
	if (read_small("/proc/self/statm", buf, sizeof(buf)) &&
	    sscanf(buf, "%llu %llu", &size, &resident) == 2)
		m->rss_bytes = resident * (unsigned long long)page;
	read_small("/proc/net/sockstat", buf, sizeof(buf));
	tcp = memory_sockstat_pages(buf, "TCP");
	udp = memory_sockstat_pages(buf, "UDP");
	m->kernel_tcp_bytes = tcp < 0 ? -1 : tcp * page;
	m->kernel_udp_bytes = udp < 0 ? -1 : udp * page;
	m->pipes = WORKERS_SUM(workers, n, pipes.pipes);
	m->pipe_bytes = WORKERS_SUM(workers, n, pipes.bytes);
	m->dns_cache_bytes = WORKERS_SUM(workers, n, dns.cache_bytes);
}
