/* Logger: one line per call, written with a single write(2) so lines from
 * worker threads never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sockgate/log.h"

/* written by a reload on the main thread, read by every worker */
static atomic_int current_level = LOG_LEVEL_INFO;
/* -1 until first used; set from any thread, always to the same value */
static atomic_int journal_prefix = -1;
static int to_syslog;

void log_use_syslog(const char *ident)
{
	/* connected now: a chroot or a privilege drop later cannot stop it */
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = 1;
}

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&current_level, memory_order_relaxed);
}

int log_level_parse(const char *name, enum log_level *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "error", LOG_LEVEL_ERROR },  { "warn", LOG_LEVEL_WARN },
		{ "warning", LOG_LEVEL_WARN }, { "info", LOG_LEVEL_INFO },
		{ "debug", LOG_LEVEL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i].name)) {
			*level = names[i].level;
			return 0;
		}
	}
	return -1;
}

static const char *level_word(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "error";
	case LOG_LEVEL_WARN:
		return "warning";
	case LOG_LEVEL_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Copies text into out (room bytes) so that no byte from the network can
 * forge a line or drive a terminal: control bytes (newlines too) and bytes
 * above 0x7e become \xHH. Returns the length written. */
static size_t log_escape(const char *text, char *out, size_t room)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p && n + 4 < room; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else {
			out[n++] = (char)*p;
		}
	}
	return n;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char text[1024], line[2048];
	size_t n;
	va_list ap;
	int saved_errno = errno;

	if (level > log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		/* syslog(3) is thread-safe and stamps the time itself; the
		 * levels are syslog's priorities */
		line[log_escape(text, line, sizeof(line))] = '\0';
		syslog((int)level, "%s", line);
		errno = saved_errno;
		return;
	}
	/* journald reads "<N>" priority prefixes from a stream it owns. */
	if (atomic_load_explicit(&journal_prefix, memory_order_relaxed) < 0)
		atomic_store_explicit(&journal_prefix, getenv("JOURNAL_STREAM") != NULL,
				      memory_order_relaxed);
	if (atomic_load_explicit(&journal_prefix, memory_order_relaxed)) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = (size_t)snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s: ", tm.tm_hour,
				     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_word(level));
	}
	n += log_escape(text, line + n, sizeof(line) - n - 1);
	line[n++] = '\n';
	/* A short or failed write to stderr has nowhere to be reported. */
	if (write(STDERR_FILENO, line, n) < 0)
		(void)0;
	errno = saved_errno;
}

void log_lines(enum log_level level, const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");
		if (len)
			log_write(level, "%.*s", (int)len, text);
		text += len + (text[len] == '\n');
	}
}
