/*  pl_redis_round - rounds without waiting, for the coroutine worker
 *  runtime (pl_worker_sched.c): the defer hook that parks a handler's
 *  commands, and the write / read / abort of a round the worker loop polls
 *  (pl_redis.h, "pipelining"). Connection handling is pl_redis.c's
 *  (pl_redis_int.h). */
#include "pl_redis.h"
#include "pl_redis_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

void
pl_redis_set_defer (pl_redis_t *self, pl_redis_defer_fn *fn, void *arg)
{
    assert (self);
    self->defer = fn;
    self->defer_arg = arg;
}

bool
pl_redis_in_txn (pl_redis_t *self)
{
    assert (self);
    return self->watching || self->in_multi || self->txn_lost;
}

bool
pl_redis_starts_txn (const char *cmd, size_t len)
{
    char name[16];
    pl_redis__command_name (cmd, len, name, sizeof name);
    return strcmp (name, "WATCH") == 0 || strcmp (name, "MULTI") == 0;
}

int
pl_redis_fd (pl_redis_t *self)
{
    assert (self);
    return self->ctx ? self->ctx->fd : -1;
}

int
pl_redis_command_ms (pl_redis_t *self)
{
    assert (self);
    return self->command_ms;
}

/* The connection broke with commands in flight: a transaction it held is
 * lost (every command fails until it ends, as in s_exec). */
static void
s_broke (pl_redis_t *self, const char *detail)
{
    bool in_txn = self->watching || self->in_multi;
    pl_redis__drop (self);
    pl_redis__failed (self, "lost connection to", detail);
    if (in_txn)
        self->txn_lost = true;
}

int
pl_redis_send (pl_redis_t *self, pl_redis_cmd_t *const *cmds, size_t n, bool idle)
{
    assert (self && cmds && n > 0);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = false;
        if (!self->ctx) {
            if (pl_redis__connect (self))
                goto cleanup;
            fresh = true;
        }
        bool in_txn = self->watching || self->in_multi;
        int done = 0, wrc = REDIS_OK;
        for (size_t i = 0; i < n && wrc == REDIS_OK; i++)
            wrc = redisAppendFormattedCommand (self->ctx, cmds[i]->cmd, cmds[i]->len);
        /* one write, unless the socket buffer is full: then it blocks for
         * at most the command timeout (a pipeline of small commands fits) */
        while (wrc == REDIS_OK && !done)
            wrc = redisBufferWrite (self->ctx, &done);
        if (wrc == REDIS_OK) {
            rc = 0;
            goto cleanup;
        }
        int saved_errno = errno;
        int err = self->ctx->err;
        char detail[200];
        snprintf (detail, sizeof detail, "writing a pipeline of %zu: %s", n, self->ctx->errstr);
        s_broke (self, detail);
        /* a stale connection (Redis restarted while we were idle) is made
         * again once, as in s_exec; with commands in flight it is not */
        bool stale = err == REDIS_ERR_IO && (saved_errno == EPIPE || saved_errno == ECONNRESET);
        if (!idle || fresh || !stale || in_txn)
            goto cleanup;
        self->txn_lost = false;             /* nothing was open */
    }
cleanup:
    return rc;
}

long
pl_redis_recv (pl_redis_t *self, pl_redis_cmd_t *const *inflight, size_t n, bool *stale)
{
    assert (self && stale);
    long got = -1;
    char name[16];
    *stale = false;
    if (!self->ctx)
        goto cleanup;
    if (redisBufferRead (self->ctx) != REDIS_OK) {
        int saved_errno = errno;
        int err = self->ctx->err;
        *stale = err == REDIS_ERR_EOF
              || (err == REDIS_ERR_IO && saved_errno == ECONNRESET);
        char detail[200];
        snprintf (detail, sizeof detail, "reading, %zu in flight: %s", n, self->ctx->errstr);
        s_broke (self, detail);
        goto cleanup;
    }
    size_t count = 0;
    while (count < n) {
        void *raw = NULL;
        if (redisGetReplyFromReader (self->ctx, &raw) != REDIS_OK) {
            s_broke (self, self->ctx->errstr);      /* a protocol error */
            goto cleanup;
        }
        if (!raw)
            break;
        inflight[count]->reply = raw;
        pl_redis__command_name (inflight[count]->cmd, inflight[count]->len, name, sizeof name);
        pl_redis__track (self, name, raw);
        count++;
    }
    got = (long) count;
cleanup:
    return got;
}

void
pl_redis_abort (pl_redis_t *self, const char *why)
{
    assert (self);
    if (self->ctx)
        s_broke (self, why);
}
