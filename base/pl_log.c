/*  pl_log - one-line logs to stderr. */
#include "pl_log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char s_process[32] = "parley";
static pl_log_level_t s_level = PL_LOG_INFO;
static const char *s_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void
pl_log_init (const char *process, const char *level)
{
    snprintf (s_process, sizeof s_process, "%s", process ? process : "parley");
    s_level = PL_LOG_INFO;
    for (int i = 0; level && i < 4; i++)
        if (strcasecmp (level, s_names[i]) == 0)
            s_level = (pl_log_level_t) i;
}

bool
pl_log_enabled (pl_log_level_t level)
{
    return level >= s_level;
}

static void
s_vlog (pl_log_level_t level, const char *fmt, va_list args)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday (&tv, NULL);
    gmtime_r (&tv.tv_sec, &tm);
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000), s_process,
                      (int) getpid (), s_names[level]);
    if (n > 0 && (size_t) n < sizeof line)
        n += vsnprintf (line + n, sizeof line - (size_t) n, fmt, args);
    if (n < 0 || (size_t) n >= sizeof line - 1)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    /* one write(2) per line so lines from concurrent processes sharing a
     * terminal do not interleave mid-line */
    ssize_t rc = write (STDERR_FILENO, line, (size_t) n);
    (void) rc;
}

void
pl_log (pl_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    va_list args;
    va_start (args, fmt);
    s_vlog (level, fmt, args);
    va_end (args);
}

bool
pl_log_limit_take (pl_log_limit_t *limit, int64_t now_ms, uint32_t per_sec,
                   uint64_t *suppressed)
{
    bool take = false;
    *suppressed = 0;
    if (now_ms / 1000 != limit->second) {
        limit->second = now_ms / 1000;
        limit->lines = 0;
    }
    if (limit->lines >= per_sec) {
        limit->suppressed++;
        goto cleanup;
    }
    limit->lines++;
    *suppressed = limit->suppressed;
    limit->suppressed = 0;
    take = true;
cleanup:
    return take;
}

bool
pl_log_limited (pl_log_limit_t *limit, int64_t now_ms, uint32_t per_sec,
                const char *what, pl_log_level_t level, const char *fmt, ...)
{
    uint64_t suppressed = 0;
    bool logged = false;
    /* a level that is off costs nothing and counts nothing */
    if (level < s_level || !pl_log_limit_take (limit, now_ms, per_sec, &suppressed))
        goto cleanup;
    if (suppressed)
        pl_log (level, "%s: %llu more suppressed (at most %u lines a second)", what,
                (unsigned long long) suppressed, (unsigned) per_sec);
    va_list args;
    va_start (args, fmt);
    s_vlog (level, fmt, args);
    va_end (args);
    logged = true;
cleanup:
    return logged;
}

void
pl_log_test (bool verbose)
{
    if (verbose)
        printf (" * pl_log: ");
    pl_log_limit_t limit = { 0 };
    uint64_t suppressed = 99;
    /* three a second: the fourth and fifth are dropped ... */
    for (int i = 0; i < 3; i++) {
        assert (pl_log_limit_take (&limit, 5000 + i, 3, &suppressed));
        assert (suppressed == 0);
    }
    assert (!pl_log_limit_take (&limit, 5100, 3, &suppressed));
    assert (!pl_log_limit_take (&limit, 5999, 3, &suppressed));
    /* ... and reported with the first line of a later second, once */
    assert (pl_log_limit_take (&limit, 6000, 3, &suppressed) && suppressed == 2);
    assert (pl_log_limit_take (&limit, 6001, 3, &suppressed) && suppressed == 0);
    /* a flood of 10000 in one second logs 3 and reports the rest */
    limit = (pl_log_limit_t) { 0 };
    int logged = 0;
    for (int i = 0; i < 10000; i++)
        logged += pl_log_limit_take (&limit, 7000 + i / 10, 3, &suppressed);
    assert (logged == 3);
    assert (pl_log_limit_take (&limit, 60000, 3, &suppressed) && suppressed == 9997);
    /* a quiet gap longer than a second changes nothing */
    assert (pl_log_limit_take (&limit, 90000, 3, &suppressed) && suppressed == 0);
    /* a level that is off neither logs nor counts */
    pl_log_level_t level = s_level;
    char process[sizeof s_process];
    memcpy (process, s_process, sizeof process);
    pl_log_init (process, "warn");
    limit = (pl_log_limit_t) { 0 };
    for (int i = 0; i < 5; i++)
        assert (!pl_log_limited (&limit, 1000, 1, "test", PL_LOG_INFO, "line %d", i));
    assert (limit.lines == 0 && limit.suppressed == 0);
    s_level = level;                /* the other selftests log as before */
    if (verbose)
        printf ("OK\n");
}
