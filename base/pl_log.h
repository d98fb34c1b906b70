/*  pl_log - one-line logs to stderr: time, process, level, message.
 *
 *  Two formats (PARLEY_LOG_FORMAT): text, "<time> <process>[<pid>] LEVEL
 *  message", and json, one object a line:
 *    {"time":"2026-12-07T22:37:43.123Z","level":"info","process":"gateway",
 *     "pid":42,"msg":"...","rid":"gw-1-2a"}
 *  "rid" is there while a request id is current (pl_log_set_rid): the
 *  request the line is about. Every byte of a message comes out as valid
 *  JSON (quotes, backslashes and control bytes escaped, a NUL as \u0000,
 *  invalid UTF-8 as \ufffd), and a line is at most PL_LOG_LINE_MAX bytes:
 *  a longer message is cut and the line says "cut":true. The text format
 *  is unchanged by either (no rid, cut at 2 KB).
 *
 *  The process name, level and format are process-wide (set them before
 *  any thread starts); the current request id is per thread.
 */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR } pl_log_level_t;

/* The longest JSON line, its newline included. */
#define PL_LOG_LINE_MAX 8192
/* Room for a request id as text (pl_log_rid_text), its NUL included: 32
 * opaque bytes, shown in hex when any is not printable. */
#define PL_LOG_RID_SIZE 72

/* Name the process, pick the threshold ("debug", "info", ...; unknown
 * names mean info) and the format ("text" or "json"; NULL or empty mean
 * text). Returns 0, or -1 for an unknown format (then text). Safe to call
 * again. */
int pl_log_init (const char *process, const char *level, const char *format);
/* Is format a PARLEY_LOG_FORMAT value (text, json)? */
bool pl_log_format_valid (const char *format);
void pl_log (pl_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
bool pl_log_enabled (pl_log_level_t level);

/* The request the next lines are about: its id, opaque bytes (<= 32;
 * more are cut), or NULL/0 for none. Set it when work for a request
 * starts or resumes and clear it when that stops; lines logged meanwhile
 * carry it as "rid" (json format). */
void pl_log_set_rid (const void *rid, size_t len);
/* One line about request rid (opaque bytes, len of them) whatever request
 * is current, which stays current. Costs nothing when level is off. */
void pl_log_for (const void *rid, size_t len, pl_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* The current request id as text, or NULL when none is set. */
const char *pl_log_rid (void);
/* rid as text into out (PL_LOG_RID_SIZE bytes): the bytes themselves when
 * all are printable ASCII (0x21..0x7e), else "x" and their hex. Returns
 * out. */
char *pl_log_rid_text (const void *rid, size_t len, char out[PL_LOG_RID_SIZE]);

/* For a signal handler about to _exit (pl_stopguard): true when the
 * format is json, and then the line for msg (ASCII; a quote, backslash or
 * control byte becomes '?') with level, built from async-signal-safe calls
 * only (clock_gettime, getpid; no stdio, no locale, no malloc) into buf.
 * Returns the line's length, its newline included (the message is cut to
 * fit size; a buffer under 128 bytes cuts the line itself). */
bool pl_log_is_json (void);
size_t pl_log_signal_line (char *buf, size_t size, pl_log_level_t level, const char *msg);

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
