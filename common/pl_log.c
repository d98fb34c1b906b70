/*  pl_log - one-line logs to stderr. */
#include "pl_log.h"

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

void
pl_log (pl_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday (&tv, NULL);
    gmtime_r (&tv.tv_sec, &tm);
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000), s_process,
                      (int) getpid (), s_names[level]);
    va_list args;
    va_start (args, fmt);
    if (n > 0 && (size_t) n < sizeof line)
        n += vsnprintf (line + n, sizeof line - (size_t) n, fmt, args);
    va_end (args);
    if (n < 0 || (size_t) n >= sizeof line - 1)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    /* one write(2) per line so lines from concurrent processes sharing a
     * terminal do not interleave mid-line */
    ssize_t rc = write (STDERR_FILENO, line, (size_t) n);
    (void) rc;
}
