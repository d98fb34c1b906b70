/*  pl_log - one-line logs to stderr. */
#include "pl_log.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char s_process[32] = "parley";
static pl_log_level_t s_level = PL_LOG_INFO;
static bool s_json;                     /* PARLEY_LOG_FORMAT=json           */
/* per thread: a helper thread (the broker's test proxy) logs no request */
/* The current request id is kept as its bytes and turned into text only
 * when a line is written: the worker runtime sets it on every coroutine
 * switch, several times per request, and logs about none at info. */
static _Thread_local unsigned char s_rid_raw[32];  /* the current request id's bytes */
static _Thread_local size_t s_rid_len;             /* ... 0: none is set            */
static _Thread_local char s_rid[PL_LOG_RID_SIZE];  /* ... as text, when s_rid_text  */
static _Thread_local bool s_rid_text;
static const char *s_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *s_json_names[] = { "debug", "info", "warn", "error" };

bool
pl_log_format_valid (const char *format)
{
    return format && (strcmp (format, "text") == 0 || strcmp (format, "json") == 0);
}

int
pl_log_init (const char *process, const char *level, const char *format)
{
    int rc = 0;
    snprintf (s_process, sizeof s_process, "%s", process ? process : "parley");
    s_level = PL_LOG_INFO;
    for (int i = 0; level && i < 4; i++)
        if (strcasecmp (level, s_names[i]) == 0)
            s_level = (pl_log_level_t) i;
    s_json = format && strcmp (format, "json") == 0;
    if (format && *format && !pl_log_format_valid (format))
        rc = -1;
    return rc;
}

bool
pl_log_enabled (pl_log_level_t level)
{
    return level >= s_level;
}

char *
pl_log_rid_text (const void *rid, size_t len, char out[PL_LOG_RID_SIZE])
{
    const unsigned char *bytes = rid;
    bool printable = true;
    if (len > 32)
        len = 32;
    for (size_t i = 0; i < len; i++)
        if (bytes[i] < 0x21 || bytes[i] > 0x7e)
            printable = false;
    if (printable) {
        memcpy (out, bytes, len);
        out[len] = 0;
    }
    else {
        static const char hex[] = "0123456789abcdef";
        out[0] = 'x';
        for (size_t i = 0; i < len; i++) {
            out[1 + 2 * i] = hex[bytes[i] >> 4];
            out[2 + 2 * i] = hex[bytes[i] & 15];
        }
        out[1 + 2 * len] = 0;
    }
    return out;
}

void
pl_log_set_rid (const void *rid, size_t len)
{
    if (rid == NULL)
        len = 0;
    if (len > sizeof s_rid_raw)
        len = sizeof s_rid_raw;
    if (len > 0)
        memcpy (s_rid_raw, rid, len);
    s_rid_len = len;
    s_rid_text = false;
}

const char *
pl_log_rid (void)
{
    if (s_rid_len == 0)
        return NULL;
    if (!s_rid_text) {
        pl_log_rid_text (s_rid_raw, s_rid_len, s_rid);
        s_rid_text = true;
    }
    return s_rid;
}

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0:
 * no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629). */
static size_t
s_utf8_len (const unsigned char *p, size_t n)
{
    size_t len = 0, valid = 0;
    uint32_t cp = 0, min = 0;
    if (p[0] < 0x80) {
        valid = 1;
        goto cleanup;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2; cp = p[0] & 0x1f; min = 0x80;
    }
    else
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3; cp = p[0] & 0x0f; min = 0x800;
    }
    else
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4; cp = p[0] & 0x07; min = 0x10000;
    }
    if (len == 0 || len > n)
        goto cleanup;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            goto cleanup;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff))
        valid = len;
cleanup:
    return valid;
}

/* Append src (len bytes, any bytes) to out as the inside of a JSON string,
 * whole characters only, while it fits before limit. Returns the new
 * position; *cut is set when something did not fit. */
static size_t
s_escape (char *out, size_t pos, size_t limit, const char *src, size_t len, bool *cut)
{
    const unsigned char *p = (const unsigned char *) src;
    size_t i = 0;
    while (i < len) {
        char esc[8];
        const char *piece = esc;
        size_t piece_len = 2, used = 1;
        unsigned char c = p[i];
        esc[0] = '\\';
        if (c == '"' || c == '\\')
            esc[1] = (char) c;
        else if (c == '\n')
            esc[1] = 'n';
        else if (c == '\r')
            esc[1] = 'r';
        else if (c == '\t')
            esc[1] = 't';
        else
        if (c < 0x20 || c == 0x7f)
            piece_len = (size_t) snprintf (esc, sizeof esc, "\\u%04x", c);
        else {
            used = s_utf8_len (p + i, len - i);
            if (used) {
                piece = (const char *) p + i;
                piece_len = used;
            }
            else {
                piece = "\\ufffd";          /* one per invalid byte */
                piece_len = 6;
                used = 1;
            }
        }
        if (pos + piece_len > limit) {
            *cut = true;
            break;
        }
        memcpy (out + pos, piece, piece_len);
        pos += piece_len;
        i += used;
    }
    return pos;
}

/* One JSON line (with its newline) for msg of len bytes into out (of
 * PL_LOG_LINE_MAX bytes); cut says msg was cut already. Returns its length. */
static size_t
s_json_line (char *out, pl_log_level_t level, const struct timeval *tv,
             const char *msg, size_t len, bool cut)
{
    /* what follows the message: "cut", the rid (printable, escaped at
     * most twice its size), the braces */
    const size_t tail = 16 + 10 + 2 * PL_LOG_RID_SIZE;
    struct tm tm;
    gmtime_r (&tv->tv_sec, &tm);
    size_t pos = (size_t) snprintf (out, PL_LOG_LINE_MAX,
        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"level\":\"%s\",\"process\":\"",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int) (tv->tv_usec / 1000), s_json_names[level]);
    bool unused = false;
    pos = s_escape (out, pos, 128, s_process, strlen (s_process), &unused);
    pos += (size_t) snprintf (out + pos, PL_LOG_LINE_MAX - pos, "\",\"pid\":%d,\"msg\":\"",
                              (int) getpid ());
    pos = s_escape (out, pos, PL_LOG_LINE_MAX - tail, msg, len, &cut);
    out[pos++] = '"';
    if (cut) {
        memcpy (out + pos, ",\"cut\":true", 11);
        pos += 11;
    }
    const char *rid = pl_log_rid ();
    if (rid) {
        memcpy (out + pos, ",\"rid\":\"", 8);
        pos += 8;
        pos = s_escape (out, pos, PL_LOG_LINE_MAX - 3, rid, strlen (rid), &unused);
        out[pos++] = '"';
    }
    out[pos++] = '}';
    out[pos++] = '\n';
    assert (pos <= PL_LOG_LINE_MAX);
    return pos;
}

static void
s_vlog (pl_log_level_t level, const char *fmt, va_list args)
{
    /* the json line's buffers are the thread's, not the stack's: handlers
     * log from coroutines, whose stacks are small (pl_coro); a line is
     * never logged while another is built (no signal handler logs) */
    static _Thread_local char json_msg[PL_LOG_LINE_MAX], json_line[PL_LOG_LINE_MAX];
    char text[2048];                    /* today's text line, bounded as it was */
    const char *line = text;
    struct timeval tv;
    gettimeofday (&tv, NULL);
    int n = 0;
    if (s_json) {
        /* the message first, then the line around it: every byte the
         * format produced counts, a NUL from %c or %.*s included */
        int len = vsnprintf (json_msg, sizeof json_msg, fmt, args);
        bool cut = len < 0 || (size_t) len >= sizeof json_msg;
        if (len < 0)
            len = 0;
        if (cut)
            len = (int) sizeof json_msg - 1;
        n = (int) s_json_line (json_line, level, &tv, json_msg, (size_t) len, cut);
        line = json_line;
    }
    else {
        struct tm tm;
        gmtime_r (&tv.tv_sec, &tm);
        n = snprintf (text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000), s_process,
                      (int) getpid (), s_names[level]);
        if (n > 0 && (size_t) n < sizeof text)
            n += vsnprintf (text + n, sizeof text - (size_t) n, fmt, args);
        if (n < 0 || (size_t) n >= sizeof text - 1)
            n = (int) sizeof text - 2;
        text[n++] = '\n';
    }
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
pl_log_is_json (void)
{
    return s_json;
}

/* Append s to buf while it fits (safe: a quote, backslash or control byte
 * as '?'); async-signal-safe. */
static void
s_put (char *buf, size_t size, size_t *pos, const char *s, bool safe)
{
    for (; *s && *pos + 1 < size; s++) {
        char c = *s;
        if (safe && (c == '"' || c == '\\' || (unsigned char) c < 0x20 || c == 0x7f))
            c = '?';
        buf[(*pos)++] = c;
    }
    buf[*pos] = 0;
}

/* Append value in decimal, at least width digits; async-signal-safe. */
static void
s_put_num (char *buf, size_t size, size_t *pos, uint64_t value, int width)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char) ('0' + value % 10);
        value /= 10;
    } while ((value > 0 || n < width) && n < 20);
    char text[24];
    for (int i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    text[n] = 0;
    s_put (buf, size, pos, text, false);
}

size_t
pl_log_signal_line (char *buf, size_t size, pl_log_level_t level, const char *msg)
{
    size_t pos = 0;
    struct timespec ts;
    if (size < 2)
        goto cleanup;
    clock_gettime (CLOCK_REALTIME, &ts);
    /* the civil date of a day count (H. Hinnant's days_from_civil, inverted):
     * integer arithmetic only, since gmtime_r is not async-signal-safe */
    int64_t secs = ts.tv_sec > 0 ? ts.tv_sec : 0;
    int64_t days = secs / 86400 + 719468, rem = secs % 86400;
    int64_t era = days / 146097, doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    s_put (buf, size, &pos, "{\"time\":\"", false);
    s_put_num (buf, size, &pos, (uint64_t) year, 4);
    s_put (buf, size, &pos, "-", false);
    s_put_num (buf, size, &pos, (uint64_t) month, 2);
    s_put (buf, size, &pos, "-", false);
    s_put_num (buf, size, &pos, (uint64_t) day, 2);
    s_put (buf, size, &pos, "T", false);
    s_put_num (buf, size, &pos, (uint64_t) (rem / 3600), 2);
    s_put (buf, size, &pos, ":", false);
    s_put_num (buf, size, &pos, (uint64_t) (rem / 60 % 60), 2);
    s_put (buf, size, &pos, ":", false);
    s_put_num (buf, size, &pos, (uint64_t) (rem % 60), 2);
    s_put (buf, size, &pos, ".", false);
    s_put_num (buf, size, &pos, (uint64_t) (ts.tv_nsec / 1000000), 3);
    s_put (buf, size, &pos, "Z\",\"level\":\"", false);
    s_put (buf, size, &pos, s_json_names[level], false);
    s_put (buf, size, &pos, "\",\"process\":\"", false);
    s_put (buf, size, &pos, s_process, true);
    s_put (buf, size, &pos, "\",\"pid\":", false);
    s_put_num (buf, size, &pos, (uint64_t) getpid (), 1);
    s_put (buf, size, &pos, ",\"msg\":\"", false);
    /* the closing "}\n must fit: the message gives way */
    s_put (buf, size > 4 ? size - 3 : size, &pos, msg, true);
    s_put (buf, size, &pos, "\"}\n", false);
cleanup:
    return pos;
}

void
pl_log_for (const void *rid, size_t len, pl_log_level_t level, const char *fmt, ...)
{
    if (level >= s_level) {
        unsigned char outer[sizeof s_rid_raw];
        size_t outer_len = s_rid_len;
        memcpy (outer, s_rid_raw, outer_len);
        pl_log_set_rid (rid, len);
        va_list args;
        va_start (args, fmt);
        s_vlog (level, fmt, args);
        va_end (args);
        pl_log_set_rid (outer, outer_len);
    }
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

/* ---- selftest -------------------------------------------------------- */

/* Parse one JSON line and check its keys: msg (when want_msg), level and
 * rid (NULL: absent). Returns the parsed object (the caller deletes it). */
static cJSON *
s_test_parse (const char *line, size_t len, const char *level, const char *want_msg,
              const char *rid)
{
    assert (len > 0 && line[len - 1] == '\n' && len <= PL_LOG_LINE_MAX);
    assert (memchr (line, '\n', len) == line + len - 1);    /* one line */
    cJSON *root = cJSON_ParseWithLength (line, len);
    assert (cJSON_IsObject (root));
    const char *keys[] = { "time", "level", "process", "msg" };
    for (size_t i = 0; i < 4; i++)
        assert (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (root, keys[i])));
    assert (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (root, "pid")));
    const char *time = cJSON_GetObjectItemCaseSensitive (root, "time")->valuestring;
    assert (strlen (time) == 24 && time[10] == 'T' && time[19] == '.' && time[23] == 'Z');
    assert (strcmp (cJSON_GetObjectItemCaseSensitive (root, "level")->valuestring, level) == 0);
    if (want_msg)
        assert (strcmp (cJSON_GetObjectItemCaseSensitive (root, "msg")->valuestring,
                        want_msg) == 0);
    cJSON *got_rid = cJSON_GetObjectItemCaseSensitive (root, "rid");
    assert (rid ? cJSON_IsString (got_rid) && strcmp (got_rid->valuestring, rid) == 0
                : got_rid == NULL);
    return root;
}

/* Send stderr into a pipe (fds); returns the saved stderr for s_test_end. */
static int
s_test_begin (int fds[2])
{
    int rc = pipe (fds);
    assert (rc == 0);
    int saved = dup (STDERR_FILENO);
    dup2 (fds[1], STDERR_FILENO);
    return saved;
}

/* Put stderr back and read what the pipe got into out. Returns its size. */
static size_t
s_test_end (int fds[2], int saved, char *out, size_t size)
{
    dup2 (saved, STDERR_FILENO);
    close (saved);
    close (fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got < size && (n = read (fds[0], out + got, size - got)) > 0)
        got += (size_t) n;
    close (fds[0]);
    return got;
}

/* Log through the real path (pl_log, stderr) and read the line back. */
static size_t
s_test_capture (char *out, size_t size, pl_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
static size_t
s_test_capture (char *out, size_t size, pl_log_level_t level, const char *fmt, ...)
{
    int fds[2];
    int saved = s_test_begin (fds);
    va_list args;
    va_start (args, fmt);
    s_vlog (level, fmt, args);
    va_end (args);
    return s_test_end (fds, saved, out, size);
}

static void
s_test_json (void)
{
    char line[PL_LOG_LINE_MAX];
    struct timeval tv = { 1796683063, 123456 };
    bool json = s_json;
    s_json = true;
    pl_log_set_rid (NULL, 0);
    /* hostile messages: quotes, backslashes, newlines, control bytes, DEL */
    const char *hostile = "say \"hi\" \\ back\nslash\r\t\b\f\x01\x1f\x7f end";
    size_t n = s_json_line (line, PL_LOG_WARN, &tv, hostile, strlen (hostile), false);
    cJSON_Delete (s_test_parse (line, n, "warn", hostile, NULL));
    assert (strstr (line, "\"time\":\"2026-12-07T22:37:43.123Z\""));
    /* valid UTF-8 passes as is; invalid bytes become U+FFFD, one each:
     * a stray continuation, an overlong, a surrogate, a cut sequence */
    const char *utf8 = "caf\xc3\xa9 \xf0\x9f\x8e\xb2";
    n = s_json_line (line, PL_LOG_INFO, &tv, utf8, strlen (utf8), false);
    cJSON_Delete (s_test_parse (line, n, "info", utf8, NULL));
    const char bad[] = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xff" "e\xe2\x82";
    n = s_json_line (line, PL_LOG_INFO, &tv, bad, sizeof bad - 1, false);
    cJSON_Delete (s_test_parse (line, n, "info",
        "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
        "d\xef\xbf\xbd" "e\xef\xbf\xbd\xef\xbf\xbd", NULL));
    /* a NUL does not cut the line: it is \u0000, and what follows stays */
    n = s_json_line (line, PL_LOG_ERROR, &tv, "a\0b", 3, false);
    assert (strstr (line, "\"msg\":\"a\\u0000b\""));
    cJSON_Delete (s_test_parse (line, n, "error", NULL, NULL));
    /* every byte value, twice over, in one message */
    char all[512];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (char) (i & 0xff);
    n = s_json_line (line, PL_LOG_DEBUG, &tv, all, sizeof all, false);
    cJSON_Delete (s_test_parse (line, n, "debug", NULL, NULL));
    /* a request id: present while set, gone once cleared; binary ids as hex */
    pl_log_set_rid ("gw-1-2a", 7);
    assert (pl_log_rid () && strcmp (pl_log_rid (), "gw-1-2a") == 0);
    n = s_json_line (line, PL_LOG_INFO, &tv, "x", 1, false);
    cJSON_Delete (s_test_parse (line, n, "info", "x", "gw-1-2a"));
    pl_log_set_rid ("\x00\x01\"", 3);
    assert (strcmp (pl_log_rid (), "x000122") == 0);
    char rid[PL_LOG_RID_SIZE], long_rid[40], quotes[33];
    memset (quotes, '"', 32);
    quotes[32] = 0;
    memset (long_rid, 0xff, sizeof long_rid);
    assert (strlen (pl_log_rid_text (long_rid, sizeof long_rid, rid)) == 65);
    memset (long_rid, '"', sizeof long_rid);
    pl_log_set_rid (long_rid, sizeof long_rid);        /* cut at 32 */
    assert (strlen (pl_log_rid ()) == 32);
    /* 8 KB and more: cut to the bound, marked, still one valid line; the
     * worst case escapes every byte to 6 */
    static char big[3 * PL_LOG_LINE_MAX];
    memset (big, 0x01, sizeof big);
    n = s_json_line (line, PL_LOG_INFO, &tv, big, sizeof big, false);
    cJSON *root = s_test_parse (line, n, "info", NULL, quotes);
    assert (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (root, "cut")));
    assert (n > PL_LOG_LINE_MAX - 300);
    cJSON_Delete (root);
    memset (big, 'a', sizeof big);
    for (size_t i = 0; i + 1 < sizeof big; i += 97)
        memcpy (big + i, "\xe2\x82\xac", 3);           /* whole characters only */
    n = s_json_line (line, PL_LOG_INFO, &tv, big, sizeof big, false);
    cJSON_Delete (s_test_parse (line, n, "info", NULL, quotes));
    pl_log_set_rid (NULL, 0);
    assert (pl_log_rid () == NULL);
    /* one line about another request: that one's id, then the current back */
    pl_log_set_rid ("outer", 5);
    int fds[2];
    int saved = s_test_begin (fds);
    pl_log_for ("inner", 5, PL_LOG_ERROR, "about %s", "inner");
    n = s_test_end (fds, saved, line, sizeof line);
    cJSON_Delete (s_test_parse (line, n, "error", "about inner", "inner"));
    assert (strcmp (pl_log_rid (), "outer") == 0);
    pl_log_set_rid (NULL, 0);
    /* the real path: the format's NUL (%c) and a message over the bound */
    n = s_test_capture (line, sizeof line, PL_LOG_WARN, "nul %c here \"%s\"", 0, "q");
    assert (strstr (line, "\"msg\":\"nul \\u0000 here \\\"q\\\"\""));
    cJSON_Delete (s_test_parse (line, n, "warn", NULL, NULL));
    memset (big, 'z', sizeof big);
    big[sizeof big - 1] = 0;
    n = s_test_capture (line, sizeof line, PL_LOG_ERROR, "%s", big);
    root = s_test_parse (line, n, "error", NULL, NULL);
    assert (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (root, "cut")));
    cJSON_Delete (root);
    /* the text format is today's */
    s_json = false;
    n = s_test_capture (line, sizeof line, PL_LOG_INFO, "plain %d", 7);
    assert (n > 30 && line[23] == 'Z' && memcmp (line + n - 14, " INFO plain 7\n", 14) == 0);
    s_json = json;
    /* the signal handler's line: today's date, the keys, a hostile message */
    s_json = true;
    time_t now = time (NULL);
    struct tm before, after;
    gmtime_r (&now, &before);
    n = pl_log_signal_line (line, sizeof line, PL_LOG_ERROR, "stuck \"loop\"\n; exiting");
    now = time (NULL);
    gmtime_r (&now, &after);
    root = s_test_parse (line, n, "error", "stuck ?loop??; exiting", NULL);
    const char *stamp = cJSON_GetObjectItemCaseSensitive (root, "time")->valuestring;
    char day[2][24];
    strftime (day[0], sizeof day[0], "%Y-%m-%dT%H:%M", &before);
    strftime (day[1], sizeof day[1], "%Y-%m-%dT%H:%M", &after);
    assert (strncmp (stamp, day[0], 16) == 0 || strncmp (stamp, day[1], 16) == 0);
    assert ((int) cJSON_GetObjectItemCaseSensitive (root, "pid")->valuedouble == (int) getpid ());
    cJSON_Delete (root);
    assert (pl_log_is_json ());
    /* too small a buffer: still one terminated JSON-ish line, never past it */
    char tiny[8];
    assert (pl_log_signal_line (tiny, sizeof tiny, PL_LOG_ERROR, "x") < sizeof tiny);
    s_json = json;
    /* formats */
    assert (pl_log_format_valid ("text") && pl_log_format_valid ("json"));
    assert (!pl_log_format_valid ("JSON") && !pl_log_format_valid ("") && !pl_log_format_valid (NULL));
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
    pl_log_init (process, "warn", NULL);
    limit = (pl_log_limit_t) { 0 };
    for (int i = 0; i < 5; i++)
        assert (!pl_log_limited (&limit, 1000, 1, "test", PL_LOG_INFO, "line %d", i));
    assert (limit.lines == 0 && limit.suppressed == 0);
    s_level = level;                /* the other selftests log as before */
    s_test_json ();
    if (verbose)
        printf ("OK\n");
}
