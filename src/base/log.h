/* Logging to stderr (or a file); levels filtered by a process-wide level
 * set once at start-up by the front end. */
#ifndef BERTH_BASE_LOG_H
#define BERTH_BASE_LOG_H

enum berth_log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(int level);
int log_get_level(void);
/* Write log lines to fd instead of stderr; json selects runc-style JSON lines. */
void log_set_fd(int fd, int json);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
