/* Memory in use, for `sockgate status` and the metrics: the daemon's
 * resident set, its pipes and DNS cache (from the workers' gauges), and
 * the kernel's socket buffers as /proc/net/sockstat tells them. Read on the
 * main thread when asked; procfs reads do not block. */
#ifndef SOCKGATE_MEMORY_REPORT_H
#define SOCKGATE_MEMORY_REPORT_H

struct memory_report {
	unsigned long long rss_bytes;	      /* 0: unreadable */
	unsigned long long pipes, pipe_bytes; /* open, and the capacity they have */
	unsigned long long dns_cache_bytes;
	/* pages of TCP and UDP socket buffers, the whole system's (the
	 * kernel keeps one count for every namespace), in bytes; -1 when
	 * /proc/net/sockstat gave none */
	long long kernel_tcp_bytes, kernel_udp_bytes;
};

struct worker;

/* Fills m in: the workers' gauges summed, the rest read from procfs. */
void memory_report_read(struct memory_report *m, const struct worker *workers, unsigned n);

#endif
