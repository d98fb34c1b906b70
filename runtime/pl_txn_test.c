/*  pl_txn_test - the selftest of pl_txn against a private redis-server:
 *  every kind of expectation holding and failing, writes applied in order
 *  or not at all, results, the bounds, and Redis gone. The call is a bare
 *  pl_call_t on a worker that has only its Redis (pl_worker_int.h): no
 *  broker is needed to commit.
 */
#include "pl_txn.h"
#include "pl_worker_int.h"
#include "pl_redis_int.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void
pl_worker__test_call (pl_call_t *call, pl_worker_t *w, pl_event_id_t event, char *user)
{
    pl_worker__call_drop_events (call);
    free (call->reply);
    memset (call, 0, sizeof *call);
    call->worker = w;
    call->event = event;
    call->caller.user = user;
}

/* A fresh call of worker w, as the runtime would make one. */
static void
s_call (pl_call_t *call, pl_worker_t *w)
{
    pl_worker__test_call (call, w, PL_EV_ACTOR_UPDATE, NULL);
}

/* The reply's string ("" for nil), freed. */
static const char *
s_get (pl_redis_t *r, const char *key, char *buf, size_t size)
{
    redisReply *reply = pl_redis_command (r, "GET %s", key);
    assert (reply);
    buf[0] = 0;
    if (reply->type == REDIS_REPLY_STRING)
        snprintf (buf, size, "%s", reply->str);
    freeReplyObject (reply);
    return buf;
}

static void
s_run (pl_redis_t *r, const char *fmt, const char *a, const char *b)
{
    redisReply *reply = pl_redis_command (r, fmt, a, b);
    assert (reply && reply->type != REDIS_REPLY_ERROR);
    freeReplyObject (reply);
}

/* A commit whose only failing expectation is the last one added after
 * `good` holding ones: conflict at that index, and its write not made. */
static void
s_expect_conflict (pl_worker_t *w, pl_txn_t *txn, int index)
{
    pl_call_t call = { 0 };
    s_call (&call, w);
    pl_txn_write (txn, "SET %s %s", "never", "written");
    assert (pl_txn_commit (txn, &call) == 0);
    assert (pl_txn_conflict_at (txn) == index);
    assert (call.conflict && !call.reply && !call.committed);
    assert (pl_txn_result (txn, 0) == NULL);
    char buf[64];
    assert (strcmp (s_get (w->redis, "never", buf, sizeof buf), "") == 0);
    pl_txn_reset (txn);
}

static void
s_test_live (bool verbose)
{
    char buf[64];
    pl_redis__test_t server;
    if (!pl_redis__test_start (&server, "txn", verbose))
        goto cleanup;
    pl_worker_t w = { .redis = pl_redis_new (server.url) };
    assert (w.redis);
    pl_redis_t *r = w.redis;
    redisReply *set = pl_redis_command (r, "SET k %b", "v\0one", (size_t) 5);
    freeReplyObject (set);
    s_run (r, "HSET h %s %s", "f", "gm");
    s_run (r, "SADD %s %s", "s", "a");
    s_run (r, "ZADD %s 5 %s", "z", "m");

    /* every kind holding: the writes run, in order, with their results */
    pl_txn_t *txn = pl_txn_new ();
    assert (txn);
    pl_call_t call = { 0 };
    s_call (&call, &w);
    pl_txn_expect_value (txn, "v\0one", 5, "%s", "k");
    pl_txn_expect_value (txn, NULL, 0, "%s", "nokey");
    pl_txn_expect_field (txn, "f", "gm", "%s", "h");
    pl_txn_expect_field (txn, "g", NULL, "%s", "h");
    pl_txn_expect_member (txn, "a", true, "%s", "s");
    pl_txn_expect_member (txn, "b", false, "%s", "s");
    pl_txn_expect_score (txn, "m", "5", "%s", "z");
    pl_txn_expect_score (txn, "n", NULL, "%s", "z");
    pl_txn_expect_count (txn, PL_TXN_SET, 1, "%s", "s");
    pl_txn_expect_count (txn, PL_TXN_ZSET, 1, "%s", "z");
    pl_txn_expect_count (txn, PL_TXN_HASH, 1, "%s", "h");
    pl_txn_expect_count (txn, PL_TXN_SET, 0, "%s", "nokey");
    pl_txn_write (txn, "SET %s %b", "k", "v\0two", (size_t) 5);
    pl_txn_write (txn, "APPEND %s %s", "log", "1");
    pl_txn_write (txn, "APPEND %s %s", "log", "2");
    pl_txn_write (txn, "GET %s", "nokey");
    assert (pl_txn_writes (txn) == 4);
    assert (pl_txn_commit (txn, &call) == 1);
    assert (call.committed && !call.conflict && !call.reply);
    assert (pl_txn_result (txn, 0)->type == REDIS_REPLY_STATUS);
    assert (pl_txn_result (txn, 2)->type == REDIS_REPLY_INTEGER
         && pl_txn_result (txn, 2)->integer == 2);
    assert (pl_txn_result (txn, 3)->type == REDIS_REPLY_NIL);
    assert (pl_txn_result (txn, 4) == NULL);
    assert (strcmp (s_get (r, "log", buf, sizeof buf), "12") == 0);
    redisReply *k = pl_redis_command (r, "GET k");
    assert (k && k->len == 5 && memcmp (k->str, "v\0two", 5) == 0);
    freeReplyObject (k);
    pl_txn_reset (txn);

    /* each kind failing, after holding ones: conflict at its index, and
     * nothing written */
    pl_txn_expect_field (txn, "f", "gm", "%s", "h");
    pl_txn_expect_value (txn, "v\0one", 5, "%s", "k");         /* now v\0two */
    s_expect_conflict (&w, txn, 1);
    pl_txn_expect_value (txn, "v", 1, "%s", "k");               /* a prefix is not it */
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_value (txn, NULL, 0, "%s", "k");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_value (txn, "x", 1, "%s", "nokey");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_field (txn, "f", "player", "%s", "h");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_field (txn, "f", NULL, "%s", "h");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_field (txn, "g", "gm", "%s", "h");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_member (txn, "b", true, "%s", "s");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_member (txn, "a", false, "%s", "s");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_score (txn, "m", "6", "%s", "z");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_score (txn, "m", NULL, "%s", "z");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_score (txn, "n", "5", "%s", "z");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_count (txn, PL_TXN_SET, 2, "%s", "s");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_count (txn, PL_TXN_ZSET, 0, "%s", "z");
    s_expect_conflict (&w, txn, 0);
    pl_txn_expect_count (txn, PL_TXN_HASH, 2, "%s", "h");
    s_expect_conflict (&w, txn, 0);

    /* a change between the read and the commit: the race it exists for */
    redisReply *before = pl_redis_command (r, "GET k");
    pl_txn_expect_value (txn, before->str, before->len, "%s", "k");
    s_run (r, "SET %s %s", "k", "changed");
    s_expect_conflict (&w, txn, 0);
    freeReplyObject (before);

    /* a follow-up commit (after the call's own): a conflict leaves the
     * call alone (no rerun; the caller retries), a success commits */
    s_call (&call, &w);
    call.committed = true;                  /* its own write is done */
    pl_txn_expect_value (txn, "not-k", 5, "%s", "k");
    pl_txn_write (txn, "SET %s %s", "never", "written");
    assert (pl_txn_commit_follow_up (txn, &call) == 0);
    assert (pl_txn_conflict_at (txn) == 0 && !call.conflict && !call.reply);
    assert (strcmp (s_get (r, "never", buf, sizeof buf), "") == 0);
    pl_txn_reset (txn);
    s_call (&call, &w);
    pl_txn_expect_value (txn, "changed", 7, "%s", "k");
    pl_txn_write (txn, "SET %s %s", "follow", "up");
    assert (pl_txn_commit_follow_up (txn, &call) == 1);
    assert (call.committed && !call.conflict && !call.reply);
    assert (strcmp (s_get (r, "follow", buf, sizeof buf), "up") == 0);
    pl_txn_reset (txn);
    /* ... and a failure is logged, not answered */
    s_call (&call, &w);
    pl_txn_write (txn, "HSET %s %s %s", "k", "f", "v");           /* k is a string */
    assert (pl_txn_commit_follow_up (txn, &call) == -1);
    assert (!call.reply && !call.failed && !call.conflict);
    pl_txn_reset (txn);

    /* a write past the argument bound: refused before anything is sent */
    s_call (&call, &w);
    int argc = PL_TXN_ARGC_MAX + 1;
    const char **argv = calloc ((size_t) argc, sizeof *argv);
    assert (argv);
    argv[0] = "SADD";
    argv[1] = "big";
    for (int i = 2; i < argc; i++)
        argv[i] = "x";
    pl_txn_write_argv (txn, argc, argv, NULL);
    free (argv);
    assert (pl_txn_commit (txn, &call) == -1);
    assert (call.failed && call.reply && strstr (call.reply, "INTERNAL"));
    redisReply *exists = pl_redis_command (r, "EXISTS big");
    assert (exists && exists->integer == 0);
    freeReplyObject (exists);
    pl_txn_reset (txn);

    /* a write that fails at run time is a storage error (INTERNAL) */
    s_call (&call, &w);
    pl_txn_write (txn, "HSET %s %s %s", "k", "f", "v");           /* k is a string */
    assert (pl_txn_commit (txn, &call) == -1);
    assert (call.failed && strstr (call.reply, "INTERNAL") && !call.committed);
    pl_txn_reset (txn);

    /* Redis gone: -1, answered INTERNAL, not a crash */
    kill (server.pid, SIGKILL);
    waitpid (server.pid, NULL, 0);
    server.pid = -1;
    s_call (&call, &w);
    pl_txn_expect_value (txn, "x", 1, "%s", "k");
    pl_txn_write (txn, "SET %s %s", "k", "y");
    assert (pl_txn_commit (txn, &call) == -1);
    assert (call.failed && strstr (call.reply, "storage unavailable"));
    s_call (&call, &w);
    pl_txn_write (txn, "SET %s %s", "k", "y");
    assert (pl_txn_commit_follow_up (txn, &call) == -1 && !call.reply);
    pl_txn_reset (txn);
    s_call (&call, &w);                     /* frees the reply */
    pl_txn_destroy (&txn);
    assert (txn == NULL);
    pl_txn_destroy (&txn);
    pl_redis_destroy (&w.redis);
cleanup:
    pl_redis__test_stop (&server);
}

void
pl_txn_test (bool verbose)
{
    if (verbose)
        printf (" * pl_txn: ");
    s_test_live (verbose);
    if (verbose)
        printf ("OK\n");
}
