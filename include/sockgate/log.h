/* One logger for the daemon and the CLI: levelled lines on stderr, with
 * sd-daemon priority prefixes when stderr is the journal, or syslog. */
#ifndef SOCKGATE_LOG_H
#define SOCKGATE_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

void log_set_level(enum log_level level);
/* From now on lines go to syslog (facility daemon) instead of stderr. */
void log_use_syslog(const char *ident);
enum log_level log_get_level(void);
/* Returns 0 and sets *level, or -1 if name is not a level name. */
int log_level_parse(const char *name, enum log_level *level);
/* Every byte from outside is escaped (\xHH for control bytes, newlines
 * included, and bytes above 0x7e): nothing logged can forge a line. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A text of several lines (our own, such as a config's error list) as one
 * log line each. */
void log_lines(enum log_level level, const char *text);

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LEVEL_DEBUG)                                            \
			log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                   \
	} while (0)

#endif
