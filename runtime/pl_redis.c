/*  pl_redis - one Redis connection (hiredis 0.14, RESP2): URL, connect,
 *  commands, scripts, batches. The rounds the coroutine runtime writes and
 *  reads without waiting are in pl_redis_round.c; the selftest is in
 *  pl_redis_test.c; what they share is pl_redis_int.h. */
#include "pl_redis.h"
#include "pl_redis_int.h"

#include <openssl/sha.h>
#include "pl_id.h"
#include "pl_log.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define S_DB_MAX        1000000 /* far above any real databases setting   */
#define S_LOG_EVERY_MS  10000   /* repeat "still unreachable" this often  */
/* Metrics (pl_redis_set_metrics; names and buckets from
 * docs/experiments/i13-metrics.md, FAST: a round trip on a local socket
 * is tens of microseconds). */
#define S_SECONDS       "parley_worker_redis_duration_seconds"
#define S_ERRORS        "parley_worker_redis_errors_total"
#define S_RECONNECTS    "parley_worker_redis_reconnects_total"


/* --------------------------------------------------------------------- */
/* URL parsing                                                           */

/* Parse a decimal in [min, max] from [p, end). Returns -1 when it is not one. */
static long
s_number (const char *p, const char *end, long min, long max)
{
    long value = 0;
    if (p >= end || end - p > 9)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (*p - '0');
    }
    return value >= min && value <= max ? value : -1;
}

/* Copy [p, end) into dst (size bytes). Returns -1 when it does not fit. */
static int
s_copy (char *dst, size_t size, const char *p, const char *end)
{
    size_t len = (size_t) (end - p);
    if (len >= size)
        return -1;
    memcpy (dst, p, len);
    dst[len] = 0;
    return 0;
}

/* Fill *t from url. Returns NULL, or why the URL is bad. */
const char *
pl_redis__parse (const char *url, pl_redis__target_t *t)
{
    memset (t, 0, sizeof *t);
    t->port = 6379;
    if (strncmp (url, "unix://", 7) == 0) {
        t->is_unix = true;
        const char *path = url + 7;
        const char *query = strchr (path, '?');
        const char *end = query ? query : path + strlen (path);
        if (*path != '/')
            return "unix:// needs an absolute path (unix:///path/to.sock)";
        if (end - path < 2)
            return "unix:// socket path is empty";
        if (s_copy (t->path, sizeof t->path, path, end))
            return "unix socket path is longer than 107 bytes";
        if (query) {
            if (strncmp (query, "?db=", 4) != 0)
                return "the only unix:// option is ?db=N";
            t->db = s_number (query + 4, query + strlen (query), 0, S_DB_MAX);
            if (t->db < 0)
                return "db must be a non-negative integer";
        }
        return NULL;
    }
    if (strncmp (url, "rediss://", 9) == 0)
        return "TLS (rediss://) is not supported";
    if (strncmp (url, "redis://", 8) != 0)
        return "expected redis://host[:port][/db] or unix:///path.sock";
    const char *p = url + 8;
    const char *end = p + strlen (p);
    if (strpbrk (p, "?#"))
        return "redis:// URLs take no query or fragment";
    /* credentials: the last '@' before the path, since a password may
     * itself hold '@' (but not '/') */
    const char *slash = strchr (p, '/');
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr (p, ':', (size_t) (at - p));
        if (!colon)
            return "credentials must be user:password@ or :password@";
        if (s_copy (t->user, sizeof t->user, p, colon)
        ||  s_copy (t->password, sizeof t->password, colon + 1, at))
            return "credentials are too long";
        if (!*t->password)
            return "empty password";
        p = at + 1;
    }
    /* host, [ipv6] allowed */
    const char *host_end;
    const char *port_at = NULL;
    if (*p == '[') {
        const char *close = memchr (p, ']', (size_t) (auth_end - p));
        if (!close)
            return "unterminated [ipv6] host";
        if (s_copy (t->host, sizeof t->host, p + 1, close))
            return "host is too long";
        host_end = close + 1;
        if (host_end < auth_end && *host_end != ':')
            return "junk after [ipv6] host";
        port_at = host_end < auth_end ? host_end : NULL;
    }
    else {
        port_at = memchr (p, ':', (size_t) (auth_end - p));
        host_end = port_at ? port_at : auth_end;
        if (s_copy (t->host, sizeof t->host, p, host_end))
            return "host is too long";
    }
    if (!*t->host)
        return "host is empty";
    if (port_at) {
        t->port = (int) s_number (port_at + 1, auth_end, 1, 65535);
        if (t->port < 0)
            return "port must be a number from 1 to 65535";
    }
    if (slash && slash + 1 < end) {
        t->db = s_number (slash + 1, end, 0, S_DB_MAX);
        if (t->db < 0)
            return "db must be a non-negative integer (redis://host:port/db)";
    }
    return NULL;
}

/* The URL for logs, with the password replaced by "***". */
static char *
s_mask (const char *url)
{
    char *shown = strdup (url);
    const char *scheme = strstr (url, "://");
    const char *at = scheme ? strrchr (scheme, '@') : NULL;
    const char *slash = scheme ? strchr (scheme + 3, '/') : NULL;
    if (shown && at && (!slash || at < slash)) {
        const char *colon = memchr (scheme + 3, ':', (size_t) (at - scheme - 3));
        if (colon) {
            free (shown);
            size_t size = strlen (url) + 4;
            shown = malloc (size);
            if (shown)
                snprintf (shown, size, "%.*s***%s", (int) (colon + 1 - url), url, at);
        }
    }
    return shown;
}

/* --------------------------------------------------------------------- */

pl_redis_t *
pl_redis_new (const char *url)
{
    pl_redis_t *self = NULL;
    pl_redis__target_t target;
    assert (url);
    char *shown = s_mask (url);
    const char *why = pl_redis__parse (url, &target);
    if (why) {
        pl_error ("redis: bad URL \"%s\": %s", shown ? shown : "?", why);
        goto cleanup;
    }
    self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->target = target;
    self->shown_url = shown;
    shown = NULL;
    self->connect_ms = 1000;
    self->command_ms = 1000;
cleanup:
    memset (&target, 0, sizeof target);     /* the password */
    free (shown);
    return self;
}

void
pl_redis_destroy (pl_redis_t **self_p)
{
    assert (self_p);
    pl_redis_t *self = *self_p;
    if (self) {
        if (self->ctx)
            redisFree (self->ctx);
        free (self->shown_url);
        memset (self, 0, sizeof *self);
        free (self);
        *self_p = NULL;
    }
}

void
pl_redis_set_timeouts (pl_redis_t *self, int connect_ms, int command_ms)
{
    assert (self && connect_ms > 0 && command_ms > 0);
    self->connect_ms = connect_ms;
    self->command_ms = command_ms;
}

bool
pl_redis_connected (pl_redis_t *self)
{
    assert (self);
    return self->ctx != NULL;
}

const char *
pl_redis_url (pl_redis_t *self)
{
    assert (self);
    return self->shown_url;
}

/* Log a failure: the first of an outage at once, then every 10 s. */
void
pl_redis__failed (pl_redis_t *self, const char *what, const char *detail)
{
    int64_t now = pl_id_mono_ms ();
    self->failures++;
    if (self->metrics)
        pl_metrics_inc (self->metrics, S_ERRORS, NULL, 1);
    if (!self->down || now - self->down_logged_at >= S_LOG_EVERY_MS) {
        pl_error ("redis: %s %s: %s%s", what, self->shown_url, detail,
                  self->down ? " (still failing)" : "");
        self->down = true;
        self->down_logged_at = now;
    }
}

static struct timeval
s_tv (int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

void
pl_redis__drop (pl_redis_t *self)
{
    if (self->ctx)
        redisFree (self->ctx);
    self->ctx = NULL;
    self->watching = false;
    self->in_multi = false;
}

/* Run a setup command on a fresh connection. Returns 0 or -1. */
static int
s_setup (pl_redis_t *self, const char *what, redisReply *reply)
{
    int rc = 0;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        pl_redis__failed (self, what, reply ? reply->str : self->ctx->errstr);
        rc = -1;
    }
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* Open the connection, authenticate, select the db. Returns 0 or -1. */
int
pl_redis__connect (pl_redis_t *self)
{
    int rc = -1;
    pl_redis__target_t *t = &self->target;
    int64_t started = pl_id_mono_ms ();
    if (started < self->retry_at)
        goto cleanup;                   /* too soon: fail fast, no syscall */
    if (t->is_unix)
        self->ctx = redisConnectUnixWithTimeout (t->path, s_tv (self->connect_ms));
    else
        self->ctx = redisConnectWithTimeout (t->host, t->port, s_tv (self->connect_ms));
    if (!self->ctx || self->ctx->err) {
        pl_redis__failed (self, "cannot connect to", self->ctx ? self->ctx->errstr : "out of memory");
        goto cleanup;
    }
    if (redisSetTimeout (self->ctx, s_tv (self->command_ms)) != REDIS_OK) {
        pl_redis__failed (self, "cannot set timeout on", self->ctx->errstr);
        goto cleanup;
    }
    if (!t->is_unix)
        redisEnableKeepAlive (self->ctx);
    if (*t->password) {
        redisReply *reply = *t->user
            ? redisCommand (self->ctx, "AUTH %s %s", t->user, t->password)
            : redisCommand (self->ctx, "AUTH %s", t->password);
        if (s_setup (self, "AUTH failed on", reply))
            goto cleanup;
    }
    if (t->db && s_setup (self, "SELECT failed on",
                          redisCommand (self->ctx, "SELECT %ld", t->db)))
        goto cleanup;
    if (self->ever_connected && self->metrics)
        pl_metrics_inc (self->metrics, S_RECONNECTS, NULL, 1);
    if (self->down)
        pl_info ("redis: reconnected to %s after %lu failures", self->shown_url, self->failures);
    else
    if (!self->ever_connected)
        pl_info ("redis: connected to %s", self->shown_url);
    self->down = false;
    self->failures = 0;
    self->ever_connected = true;
    rc = 0;
cleanup:
    if (rc && self->ctx) {
        /* Hold off for as long as the failed attempt took: a refused
         * connect (Redis restarting) costs microseconds and is retried by
         * the very next command, while a host that times out can take at
         * most half of the worker's time, not every request's. */
        int64_t now = pl_id_mono_ms ();
        self->retry_at = now + (now - started);
    }
    if (rc)
        pl_redis__drop (self);
    return rc;
}

/* The command name of a RESP-formatted command ("*N\r\n$L\r\nNAME\r\n"),
 * upper-cased into buf. */
void
pl_redis__command_name (const char *cmd, size_t len, char *buf, size_t size)
{
    buf[0] = 0;
    const char *end = cmd + len;
    const char *p = memchr (cmd, '\n', len);            /* after *N     */
    p = p ? memchr (p + 1, '\n', (size_t) (end - p - 1)) : NULL;   /* after $L */
    if (!p)
        return;
    size_t n = 0;
    for (p++; p < end && *p != '\r' && n + 1 < size; p++)
        buf[n++] = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    buf[n] = 0;
}

/* Track WATCH/MULTI so a broken connection inside them is not retried. */
void
pl_redis__track (pl_redis_t *self, const char *name, const redisReply *reply)
{
    bool ok = reply->type != REDIS_REPLY_ERROR;
    if (strcmp (name, "WATCH") == 0 && ok)
        self->watching = true;
    else
    if (strcmp (name, "MULTI") == 0 && ok)
        self->in_multi = true;
    else
    if (strcmp (name, "EXEC") == 0 || strcmp (name, "DISCARD") == 0) {
        self->in_multi = false;
        self->watching = false;
    }
    else
    if (strcmp (name, "UNWATCH") == 0 && !self->in_multi)
        self->watching = false;
}

/* Did a command fail on a stale connection - one the server closed
 * before reading it (a restart)? err is the context's error, saved_errno
 * errno right after the failure. Only then may it be sent again. */
static bool
s_stale (int err, int saved_errno)
{
    return err == REDIS_ERR_EOF
        || (err == REDIS_ERR_IO && (saved_errno == EPIPE || saved_errno == ECONNRESET));
}

/* Send one formatted command and read its reply, reconnecting once when
 * the connection turns out to be stale. */
static redisReply *
s_exec (pl_redis_t *self, const char *cmd, size_t len)
{
    redisReply *reply = NULL;
    char name[16];
    pl_redis__command_name (cmd, len, name, sizeof name);
    bool ends_txn = strcmp (name, "EXEC") == 0 || strcmp (name, "DISCARD") == 0
                 || strcmp (name, "UNWATCH") == 0;
    if (self->txn_lost) {
        /* the transaction died with its connection: refuse everything up
         * to its end, so no half of it runs on a new connection */
        if (ends_txn)
            self->txn_lost = false;
        goto cleanup;
    }
    if (self->defer) {
        pl_redis_cmd_t one = { cmd, len, NULL };
        pl_redis_cmd_t *list[1] = { &one };
        if (self->defer (self->defer_arg, list, 1)) {
            reply = one.reply;              /* it rode in a round */
            goto cleanup;
        }
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = false;
        if (!self->ctx) {
            if (pl_redis__connect (self))
                goto cleanup;
            fresh = true;
        }
        void *raw = NULL;
        double started = pl_id_mono_s ();
        if (redisAppendFormattedCommand (self->ctx, cmd, len) == REDIS_OK
        &&  redisGetReply (self->ctx, &raw) == REDIS_OK && raw) {
            pl_redis_observe (self, pl_id_mono_s () - started);
            reply = raw;
            pl_redis__track (self, name, reply);
            goto cleanup;
        }
        int saved_errno = errno;
        int err = self->ctx->err;
        char detail[160];
        snprintf (detail, sizeof detail, "%s failed: %s", name, self->ctx->errstr);
        bool in_txn = self->watching || self->in_multi;
        pl_redis__drop (self);
        pl_redis__failed (self, "lost connection to", detail);
        if (in_txn && !ends_txn) {
            self->txn_lost = true;
            goto cleanup;
        }
        /* Retry only when the connection was stale - the server closed it
         * before reading our command (a restart). A timeout or any other
         * error means the command may have run: do not run it twice. */
        if (fresh || !s_stale (err, saved_errno) || in_txn)
            goto cleanup;
    }
cleanup:
    return reply;
}

redisReply *
pl_redis_vcommand (pl_redis_t *self, const char *fmt, va_list ap)
{
    assert (self && fmt);
    char *cmd = NULL;
    redisReply *reply = NULL;
    int len = redisvFormatCommand (&cmd, fmt, ap);
    assert (len > 0);                   /* a bad format string is a bug */
    reply = s_exec (self, cmd, (size_t) len);
    redisFreeCommand (cmd);
    return reply;
}

redisReply *
pl_redis_command (pl_redis_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = pl_redis_vcommand (self, fmt, ap);
    va_end (ap);
    return reply;
}

redisReply *
pl_redis_command_argv (pl_redis_t *self, int argc, const char **argv,
                       const size_t *argvlen)
{
    assert (self && argc > 0 && argv);
    char *cmd = NULL;
    redisReply *reply = NULL;
    int len = redisFormatCommandArgv (&cmd, argc, argv, argvlen);
    if (len <= 0)
        goto cleanup;                   /* out of memory */
    reply = s_exec (self, cmd, (size_t) len);
cleanup:
    redisFreeCommand (cmd);
    return reply;
}

redisReply *
pl_redis_script (pl_redis_t *self, pl_redis_script_t *script, int numkeys,
                 int argc, const char **argv, const size_t *argvlen)
{
    assert (self && script && script->source && numkeys >= 0 && numkeys <= argc);
    redisReply *reply = NULL;
    const char **full = calloc ((size_t) argc + 3, sizeof *full);
    size_t *lens = calloc ((size_t) argc + 3, sizeof *lens);
    char nkeys[16];
    if (!full || !lens)
        goto cleanup;
    if (!script->sha[0]) {
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1 ((const unsigned char *) script->source, strlen (script->source), digest);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf (script->sha + 2 * i, 3, "%02x", digest[i]);
    }
    snprintf (nkeys, sizeof nkeys, "%d", numkeys);
    full[0] = "EVALSHA";
    full[1] = script->sha;
    full[2] = nkeys;
    for (int i = 0; i < argc; i++) {
        full[i + 3] = argv[i];
        lens[i + 3] = argvlen ? argvlen[i] : strlen (argv[i]);
    }
    for (int i = 0; i < 3; i++)
        lens[i] = strlen (full[i]);
    reply = pl_redis_command_argv (self, argc + 3, full, lens);
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp (reply->str, "NOSCRIPT", 8) == 0) {
        /* EVAL also caches it, so the next call's EVALSHA hits */
        freeReplyObject (reply);
        full[0] = "EVAL";
        full[1] = script->source;
        lens[0] = 4;
        lens[1] = strlen (script->source);
        reply = pl_redis_command_argv (self, argc + 3, full, lens);
    }
cleanup:
    free (full);
    free (lens);
    return reply;
}

/* Keep a command formatted for batch b (len <= 0: formatting ran out of
 * memory, and a bad format is a bug): the batch fails instead. */
static void
s_batch_take (pl_redis_batch_t *b, char *cmd, int len)
{
    if (len <= 0) {
        b->failed = true;
        return;
    }
    b->cmd[b->count] = cmd;
    b->len[b->count] = (size_t) len;
    b->reply[b->count] = NULL;
    b->count++;
}

void
pl_redis_batch_vadd (pl_redis_batch_t *b, const char *fmt, va_list ap)
{
    assert (b && fmt);
    if (b->failed || b->count == PL_REDIS_BATCH_MAX) {
        b->failed = true;
        return;
    }
    char *cmd = NULL;
    int len = redisvFormatCommand (&cmd, fmt, ap);
    s_batch_take (b, cmd, len);
}

void
pl_redis_batch_add (pl_redis_batch_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    pl_redis_batch_vadd (b, fmt, ap);
    va_end (ap);
}

void
pl_redis_batch_add_argv (pl_redis_batch_t *b, int argc, const char **argv,
                         const size_t *argvlen)
{
    assert (b && argc > 0 && argv);
    if (b->failed || b->count == PL_REDIS_BATCH_MAX) {
        b->failed = true;
        return;
    }
    char *cmd = NULL;
    int len = redisFormatCommandArgv (&cmd, argc, argv, argvlen);
    s_batch_take (b, cmd, len);
}

void
pl_redis_batch_clear (pl_redis_batch_t *b)
{
    assert (b);
    for (int i = 0; i < b->count; i++) {
        redisFreeCommand (b->cmd[i]);
        if (b->reply[i])
            freeReplyObject (b->reply[i]);
    }
    memset (b, 0, sizeof *b);
}

int
pl_redis_batch_run (pl_redis_t *self, pl_redis_batch_t *b)
{
    assert (self && b);
    int rc = -1;
    int got = 0;
    /* a pipeline inside a transaction would make its commands part of it */
    assert (!self->watching && !self->in_multi);
    if (b->failed || self->txn_lost)
        goto cleanup;
    if (b->count == 0) {
        rc = 0;
        goto cleanup;
    }
    if (self->defer) {
        /* in a coroutine: every command parked at once, one yield, one
         * round shared with the other handlers' */
        pl_redis_cmd_t cmds[PL_REDIS_BATCH_MAX];
        pl_redis_cmd_t *list[PL_REDIS_BATCH_MAX];
        for (int i = 0; i < b->count; i++) {
            cmds[i] = (pl_redis_cmd_t) { b->cmd[i], b->len[i], NULL };
            list[i] = &cmds[i];
        }
        if (self->defer (self->defer_arg, list, (size_t) b->count)) {
            for (int i = 0; i < b->count; i++) {
                b->reply[i] = cmds[i].reply;
                got += cmds[i].reply != NULL;
            }
            rc = got == b->count ? 0 : -1;
            goto cleanup;
        }
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = false;
        if (!self->ctx) {
            if (pl_redis__connect (self))
                goto cleanup;
            fresh = true;
        }
        bool appended = true;
        double started = pl_id_mono_s ();
        for (int i = 0; i < b->count && appended; i++)
            appended = redisAppendFormattedCommand (self->ctx, b->cmd[i], b->len[i]) == REDIS_OK;
        while (appended && got < b->count) {
            void *raw = NULL;
            if (redisGetReply (self->ctx, &raw) != REDIS_OK || !raw)
                break;
            b->reply[got++] = raw;
        }
        if (got == b->count) {
            pl_redis_observe (self, pl_id_mono_s () - started);
            rc = 0;
            goto cleanup;
        }
        int saved_errno = errno;
        int err = self->ctx->err;
        char detail[160];
        snprintf (detail, sizeof detail, "a batch of %d failed: %s", b->count, self->ctx->errstr);
        pl_redis__drop (self);
        pl_redis__failed (self, "lost connection to", detail);
        /* as s_exec: only a stale connection, and only when nothing was
         * answered (then nothing ran) */
        if (fresh || !s_stale (err, saved_errno) || got > 0)
            goto cleanup;
    }
cleanup:
    return rc;
}

void
pl_redis_reset (pl_redis_t *self)
{
    assert (self);
    self->txn_lost = false;
    if (self->ctx && (self->in_multi || self->watching)) {
        redisReply *reply = redisCommand (self->ctx, self->in_multi ? "DISCARD" : "UNWATCH");
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            pl_redis__drop (self);              /* unsure of its state: start over */
        if (reply)
            freeReplyObject (reply);
    }
    self->in_multi = false;
    self->watching = false;
}

/* ---- metrics ---------------------------------------------------------- */

int
pl_redis_set_metrics (pl_redis_t *self, pl_metrics_t *metrics)
{
    static const double fast[] = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1
    };
    assert (self);
    int rc = 0;
    self->metrics = NULL;
    if (metrics
    &&  (pl_metrics_declare (metrics, S_SECONDS, PL_METRICS_HISTOGRAM,
                             "Redis round trips of the worker (one command, a batch, or a "
                             "pipelined round), from the write to the last reply.",
                             NULL, fast, sizeof fast / sizeof fast[0])
      || pl_metrics_declare (metrics, S_ERRORS, PL_METRICS_COUNTER,
                             "Redis failures: a connect refused or timed out, a connection "
                             "that broke, a reply overdue.", NULL, NULL, 0)
      || pl_metrics_declare (metrics, S_RECONNECTS, PL_METRICS_COUNTER,
                             "Redis connections made again after the first.", NULL, NULL, 0)))
        rc = -1;
    else
        self->metrics = metrics;
    return rc;
}

void
pl_redis_observe (pl_redis_t *self, double seconds)
{
    assert (self);
    if (self->metrics)
        pl_metrics_observe (self->metrics, S_SECONDS, NULL, seconds);
}
