/*  pl_log - one-line logs to stderr: time, process, level, message. */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR } pl_log_level_t;

/* Name the process and pick the threshold ("debug", "info", ...). Unknown
 * level names mean info. Safe to call again. */
void pl_log_init (const char *process, const char *level);
void pl_log (pl_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
bool pl_log_enabled (pl_log_level_t level);

/* A budget for one kind of line that a peer can cause at will (a protocol
 * error closing its connection): at most per_sec lines in each second of
 * the clock the caller passes, the rest counted. The count is reported in
 * one line before the next line logged in a later second; there is no
 * timer, so after a flood the count waits for the next such event (or is
 * never printed if none comes). Zero it to start; it is not thread-safe:
 * one per loop. */
typedef struct {
    int64_t second;             /* the second being counted (now_ms / 1000) */
    uint32_t lines;             /* lines logged in that second              */
    uint64_t suppressed;        /* lines dropped since the last one logged  */
} pl_log_limit_t;

/* Count one line at now_ms (monotonic). Returns true when it may be
 * logged; then *suppressed is the number dropped before it (0: nothing to
 * report), and the count starts again. */
bool pl_log_limit_take (pl_log_limit_t *limit, int64_t now_ms, uint32_t per_sec,
                        uint64_t *suppressed);
/* pl_log through limit: first "<what>: K more suppressed" when lines were
 * dropped, then the line. Returns true when the line was logged. */
bool pl_log_limited (pl_log_limit_t *limit, int64_t now_ms, uint32_t per_sec,
                     const char *what, pl_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

void pl_log_test (bool verbose);

#define pl_debug(...) do { if (pl_log_enabled (PL_LOG_DEBUG)) pl_log (PL_LOG_DEBUG, __VA_ARGS__); } while (0)
#define pl_info(...)  pl_log (PL_LOG_INFO, __VA_ARGS__)
#define pl_warn(...)  pl_log (PL_LOG_WARN, __VA_ARGS__)
#define pl_error(...) pl_log (PL_LOG_ERROR, __VA_ARGS__)

#endif
