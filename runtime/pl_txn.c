/*  pl_txn - an optimistic write committed by one compare-and-set script.
 *  See pl_txn.h. The script's ARGV:
 *
 *      nexp · (kind · key · args of the kind)* · nwrites · (argc · argv)*
 *
 *  kinds: v key value (GET is value), V key (does not exist), f key field
 *  value (HGET), F key field (HEXISTS 0), m / M key member (SISMEMBER 1 /
 *  0), z key member score (ZSCORE), Z key member (no score), c / C / h key
 *  n (SCARD / ZCARD / HLEN). Every key is also in KEYS.
 */
#include "pl_txn.h"
#include "pl_log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_REDIS_SCRIPT (s_cas,
    "local a, i = ARGV, 1\n"
    "local function arg () local v = a[i]; i = i + 1; return v end\n"
    "local nexp = tonumber (arg ())\n"
    "for e = 1, nexp do\n"
    "  local kind, key = arg (), arg ()\n"
    "  local ok\n"
    "  if kind == 'v' then ok = redis.call ('GET', key) == arg ()\n"
    "  elseif kind == 'V' then ok = redis.call ('EXISTS', key) == 0\n"
    "  elseif kind == 'f' then local f = arg (); ok = redis.call ('HGET', key, f) == arg ()\n"
    "  elseif kind == 'F' then ok = redis.call ('HEXISTS', key, arg ()) == 0\n"
    "  elseif kind == 'm' then ok = redis.call ('SISMEMBER', key, arg ()) == 1\n"
    "  elseif kind == 'M' then ok = redis.call ('SISMEMBER', key, arg ()) == 0\n"
    "  elseif kind == 'z' then local m = arg (); ok = redis.call ('ZSCORE', key, m) == arg ()\n"
    "  elseif kind == 'Z' then ok = redis.call ('ZSCORE', key, arg ()) == false\n"
    "  elseif kind == 'c' then ok = redis.call ('SCARD', key) == tonumber (arg ())\n"
    "  elseif kind == 'C' then ok = redis.call ('ZCARD', key) == tonumber (arg ())\n"
    "  elseif kind == 'h' then ok = redis.call ('HLEN', key) == tonumber (arg ())\n"
    "  else return redis.error_reply ('pl_txn: unknown expectation ' .. tostring (kind)) end\n"
    "  if not ok then return {0, e} end\n"
    "end\n"
    "local out = {1}\n"
    "local nw = tonumber (arg ())\n"
    "for w = 1, nw do\n"
    "  local n = tonumber (arg ())\n"
    "  out[w + 1] = redis.call (unpack (a, i, i + n - 1))\n"
    "  i = i + n\n"
    "end\n"
    "return out\n");

typedef struct {
    char *data;                     /* owned, NUL-terminated for logs      */
    size_t len;                     /* its length (it may hold NULs)       */
} s_arg_t;

typedef struct {
    s_arg_t *v;
    size_t n, cap;
} s_args_t;

struct _pl_txn_t {
    s_args_t keys;                  /* KEYS                                */
    s_args_t exps;                  /* the expectations' ARGV              */
    s_args_t writes;                /* the writes' ARGV                    */
    size_t nexp, nwrites;           /* counts                              */
    bool failed;                    /* out of memory or past a limit       */
    redisReply *result;             /* the last successful commit's reply  */
    int conflict_at;                /* failed expectation, or -1           */
};

static void
s_args_clear (s_args_t *args)
{
    for (size_t i = 0; i < args->n; i++)
        free (args->v[i].data);
    free (args->v);
    memset (args, 0, sizeof *args);
}

/* Append a copy of data (len bytes). */
static void
s_push (pl_txn_t *self, s_args_t *args, const char *data, size_t len)
{
    if (self->failed)
        return;
    if (args->n == args->cap) {
        size_t cap = args->cap ? args->cap * 2 : 16;
        s_arg_t *v = realloc (args->v, cap * sizeof *v);
        if (!v) {
            self->failed = true;
            return;
        }
        args->v = v;
        args->cap = cap;
    }
    char *copy = malloc (len + 1);
    if (!copy) {
        self->failed = true;
        return;
    }
    memcpy (copy, data, len);
    copy[len] = 0;
    args->v[args->n++] = (s_arg_t) { copy, len };
}

static void
s_push_str (pl_txn_t *self, s_args_t *args, const char *text)
{
    s_push (self, args, text, strlen (text));
}

/* Count one more operation; false (and failed) past the bound. */
static bool
s_room (pl_txn_t *self)
{
    if (self->nexp + self->nwrites >= PL_TXN_OPS_MAX)
        self->failed = true;
    return !self->failed;
}

/* Start an expectation: kind, then the key printed from keyfmt, in ARGV
 * and in KEYS. */
static void
s_expect (pl_txn_t *self, const char *kind, const char *keyfmt, va_list ap)
{
    if (!s_room (self))
        return;
    char *key = NULL;
    if (vasprintf (&key, keyfmt, ap) < 0) {
        self->failed = true;
        return;
    }
    s_push_str (self, &self->exps, kind);
    s_push_str (self, &self->exps, key);
    s_push_str (self, &self->keys, key);
    self->nexp++;
    free (key);
}

pl_txn_t *
pl_txn_new (void)
{
    pl_txn_t *self = calloc (1, sizeof *self);
    if (self)
        self->conflict_at = -1;
    return self;
}

void
pl_txn_reset (pl_txn_t *self)
{
    assert (self);
    s_args_clear (&self->keys);
    s_args_clear (&self->exps);
    s_args_clear (&self->writes);
    self->nexp = self->nwrites = 0;
    self->failed = false;
    if (self->result)
        freeReplyObject (self->result);
    self->result = NULL;
    self->conflict_at = -1;
}

void
pl_txn_destroy (pl_txn_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pl_txn_reset (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

void
pl_txn_expect_value (pl_txn_t *self, const char *value, size_t len, const char *keyfmt, ...)
{
    assert (self && keyfmt);
    va_list ap;
    va_start (ap, keyfmt);
    s_expect (self, value ? "v" : "V", keyfmt, ap);
    va_end (ap);
    if (value)
        s_push (self, &self->exps, value, len);
}

void
pl_txn_expect_field (pl_txn_t *self, const char *field, const char *value, const char *keyfmt, ...)
{
    assert (self && field && keyfmt);
    va_list ap;
    va_start (ap, keyfmt);
    s_expect (self, value ? "f" : "F", keyfmt, ap);
    va_end (ap);
    s_push_str (self, &self->exps, field);
    if (value)
        s_push_str (self, &self->exps, value);
}

void
pl_txn_expect_member (pl_txn_t *self, const char *member, bool present, const char *keyfmt, ...)
{
    assert (self && member && keyfmt);
    va_list ap;
    va_start (ap, keyfmt);
    s_expect (self, present ? "m" : "M", keyfmt, ap);
    va_end (ap);
    s_push_str (self, &self->exps, member);
}

void
pl_txn_expect_score (pl_txn_t *self, const char *member, const char *score, const char *keyfmt, ...)
{
    assert (self && member && keyfmt);
    va_list ap;
    va_start (ap, keyfmt);
    s_expect (self, score ? "z" : "Z", keyfmt, ap);
    va_end (ap);
    s_push_str (self, &self->exps, member);
    if (score)
        s_push_str (self, &self->exps, score);
}

void
pl_txn_expect_count (pl_txn_t *self, pl_txn_coll_t coll, long long count, const char *keyfmt, ...)
{
    assert (self && keyfmt && count >= 0);
    va_list ap;
    va_start (ap, keyfmt);
    s_expect (self, coll == PL_TXN_SET ? "c" : coll == PL_TXN_ZSET ? "C" : "h", keyfmt, ap);
    va_end (ap);
    char text[24];
    snprintf (text, sizeof text, "%lld", count);
    s_push_str (self, &self->exps, text);
}

/* Read a RESP length line "<c>N\r\n" at *p (our own formatting). */
static long
s_resp_len (const char **p, const char *end, char c)
{
    long n = -1;
    if (*p >= end || **p != c)
        goto cleanup;
    char *stop = NULL;
    n = strtol (*p + 1, &stop, 10);
    if (!stop || stop + 2 > end || stop[0] != '\r' || stop[1] != '\n' || n < 0) {
        n = -1;
        goto cleanup;
    }
    *p = stop + 2;
cleanup:
    return n;
}

/* Add a write from a RESP-formatted command (*N $L arg ...). */
static void
s_write_resp (pl_txn_t *self, const char *cmd, size_t len)
{
    const char *p = cmd, *end = cmd + len;
    long argc = s_resp_len (&p, end, '*');
    assert (argc >= 2);                     /* a command and its key */
    if (argc > PL_TXN_ARGC_MAX || !s_room (self)) {
        self->failed = true;
        return;
    }
    char count[24];
    snprintf (count, sizeof count, "%ld", argc);
    s_push_str (self, &self->writes, count);
    for (long i = 0; i < argc; i++) {
        long n = s_resp_len (&p, end, '$');
        assert (n >= 0 && p + n + 2 <= end);
        s_push (self, &self->writes, p, (size_t) n);
        if (i == 1)
            s_push (self, &self->keys, p, (size_t) n);
        p += n + 2;
    }
    self->nwrites++;
}

void
pl_txn_write (pl_txn_t *self, const char *fmt, ...)
{
    assert (self && fmt);
    char *cmd = NULL;
    va_list ap;
    va_start (ap, fmt);
    int len = redisvFormatCommand (&cmd, fmt, ap);
    va_end (ap);
    if (len <= 0)
        self->failed = true;                /* out of memory */
    else
        s_write_resp (self, cmd, (size_t) len);
    redisFreeCommand (cmd);
}

void
pl_txn_write_argv (pl_txn_t *self, int argc, const char **argv, const size_t *argvlen)
{
    assert (self && argc >= 2 && argv);
    char *cmd = NULL;
    int len = redisFormatCommandArgv (&cmd, argc, argv, argvlen);
    if (len <= 0)
        self->failed = true;
    else
        s_write_resp (self, cmd, (size_t) len);
    redisFreeCommand (cmd);
}

size_t
pl_txn_writes (pl_txn_t *self)
{
    assert (self);
    return self->nwrites;
}

/* A failure of a commit: answered INTERNAL for the call's own commit
 * (unless answered already), only logged for a follow-up. */
static void
s_fail (pl_call_t *call, bool follow_up, const char *message)
{
    if (!follow_up && !pl_call_answered (call))
        pl_call_error (call, PL_ERR_INTERNAL, "%s", message);
}

/* pl_txn_commit and pl_txn_commit_follow_up. */
static int
s_commit (pl_txn_t *self, pl_call_t *call, bool follow_up)
{
    assert (self && call);
    int rc = -1;
    const char **argv = NULL;
    size_t *lens = NULL;
    redisReply *reply = NULL;
    const char *name = pl_call_name (call);
    if (self->result)
        freeReplyObject (self->result);
    self->result = NULL;
    self->conflict_at = -1;
    size_t argc = self->keys.n + 2 + self->exps.n + self->writes.n;
    if (!self->failed) {
        argv = calloc (argc, sizeof *argv);
        lens = calloc (argc, sizeof *lens);
    }
    if (!argv || !lens) {
        pl_error ("a commit of %s: out of memory or past its bounds (%zu checks, %zu writes)",
                  name, self->nexp, self->nwrites);
        s_fail (call, follow_up, "the change is too large to commit");
        goto cleanup;
    }
    char nexp[24], nwrites[24];
    snprintf (nexp, sizeof nexp, "%zu", self->nexp);
    snprintf (nwrites, sizeof nwrites, "%zu", self->nwrites);
    size_t k = 0;
    for (size_t i = 0; i < self->keys.n; i++, k++) {
        argv[k] = self->keys.v[i].data;
        lens[k] = self->keys.v[i].len;
    }
    argv[k] = nexp;
    lens[k++] = strlen (nexp);
    for (size_t i = 0; i < self->exps.n; i++, k++) {
        argv[k] = self->exps.v[i].data;
        lens[k] = self->exps.v[i].len;
    }
    argv[k] = nwrites;
    lens[k++] = strlen (nwrites);
    for (size_t i = 0; i < self->writes.n; i++, k++) {
        argv[k] = self->writes.v[i].data;
        lens[k] = self->writes.v[i].len;
    }
    assert (k == argc);
    if (!follow_up) {
        reply = pl_call_script (call, &s_cas, (int) self->keys.n, (int) argc, argv, lens);
        if (!reply)
            goto cleanup;                   /* answered INTERNAL */
    }
    else {
        /* not through pl_call_script, which would answer the call */
        pl_redis_t *redis = pl_call_redis (call);
        reply = redis ? pl_redis_script (redis, &s_cas, (int) self->keys.n, (int) argc,
                                         argv, lens) : NULL;
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            pl_warn ("a follow-up commit of %s: %s", name,
                     reply ? reply->str : "storage unavailable");
            goto cleanup;
        }
    }
    bool shaped = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1
               && reply->element[0]->type == REDIS_REPLY_INTEGER;
    if (shaped && reply->element[0]->integer == 0 && reply->elements == 2
    &&  reply->element[1]->type == REDIS_REPLY_INTEGER) {
        self->conflict_at = (int) reply->element[1]->integer - 1;
        pl_debug ("%s: check %d of its %scommit failed%s", name, self->conflict_at,
                  follow_up ? "follow-up " : "", follow_up ? "" : "; running it again");
        if (!follow_up)
            pl_call_conflict (call);
        rc = 0;
    }
    else
    if (shaped && reply->element[0]->integer == 1 && reply->elements == self->nwrites + 1) {
        pl_call_commit (call);
        self->result = reply;
        reply = NULL;
        rc = 1;
    }
    else {
        pl_error ("a commit of %s: unexpected reply from its script", name);
        s_fail (call, follow_up, "storage error");
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (argv);
    free (lens);
    return rc;
}

int
pl_txn_commit (pl_txn_t *self, pl_call_t *call)
{
    return s_commit (self, call, false);
}

int
pl_txn_commit_follow_up (pl_txn_t *self, pl_call_t *call)
{
    return s_commit (self, call, true);
}

const redisReply *
pl_txn_result (pl_txn_t *self, size_t i)
{
    assert (self);
    return self->result && i + 1 < self->result->elements ? self->result->element[i + 1] : NULL;
}

int
pl_txn_conflict_at (pl_txn_t *self)
{
    assert (self);
    return self->conflict_at;
}
