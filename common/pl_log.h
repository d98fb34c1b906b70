/*  pl_log - one-line logs to stderr: time, process, level, message. */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdbool.h>

typedef enum { PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR } pl_log_level_t;

/* Name the process and pick the threshold ("debug", "info", ...). Unknown
 * level names mean info. Safe to call again. */
void pl_log_init (const char *process, const char *level);
void pl_log (pl_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
bool pl_log_enabled (pl_log_level_t level);

#define pl_debug(...) do { if (pl_log_enabled (PL_LOG_DEBUG)) pl_log (PL_LOG_DEBUG, __VA_ARGS__); } while (0)
#define pl_info(...)  pl_log (PL_LOG_INFO, __VA_ARGS__)
#define pl_warn(...)  pl_log (PL_LOG_WARN, __VA_ARGS__)
#define pl_error(...) pl_log (PL_LOG_ERROR, __VA_ARGS__)

#endif
