/*  pl_worker_hold_test - selftest: in the coroutine runtime a call whose
 *  events are held for commit order (pl_worker_req.c, s_hold_events)
 *  holds its REP with them. Call A commits first and ends last; call B
 *  commits after it and ends first. B's REP must not reach the broker
 *  before A has ended: the client would get B's ack while B's events
 *  still wait behind A's, send its next update on that ack, and another
 *  worker could publish that one before B's (members saw versions out of
 *  order, issue 14). A fake broker (a ROUTER) and event proxy (a SUB),
 *  a private redis-server; skipped without one. Every wait is bounded.
 */
#include "pl_worker_int.h"
#include "pl_worker_test_int.h"
#include "pl_id.h"
#include "pl_zmsg.h"
#include "pl_redis_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* actor:delete. "first": INCR, commit, publish to user:first, then five
 * more rounds (PING) before it answers - it commits first and ends last.
 * "second": INCR, commit, publish to user:second, answer. Anything else
 * ("probe", "warm") publishes to user:<it> and answers, after an INCR
 * unless "probe". Runs on the worker loop (a coroutine). */
static void
s_hold (pl_call_t *call, const cJSON *arg)
{
    const char *what = cJSON_IsString (arg) ? arg->valuestring : "";
    char room[32];
    snprintf (room, sizeof room, "user:%s", what);
    if (strcmp (what, "probe") != 0) {
        redisReply *reply = pl_call_command (call, "INCR hold:k");
        if (!reply)
            return;                         /* answered INTERNAL */
        freeReplyObject (reply);
        pl_call_commit (call);
    }
    pl_call_publish (call, room, PL_PUSH_ACTOR_UPDATED, cJSON_CreateString (what), false);
    for (int i = 0; strcmp (what, "first") == 0 && i < 5; i++) {
        redisReply *reply = pl_call_command (call, "PING");
        if (!reply)
            return;
        freeReplyObject (reply);
    }
    pl_call_ok (call, cJSON_CreateString (what));
}

/* the others are never called */
static const pl_handler_t s_handlers[] = {
    { PL_EV_ACTOR_LIST, pl_worker__test_none }, { PL_EV_ACTOR_GET, pl_worker__test_none },
    { PL_EV_ACTOR_CREATE, pl_worker__test_none }, { PL_EV_ACTOR_UPDATE, pl_worker__test_none },
    { PL_EV_ACTOR_DELETE, s_hold },
};

typedef struct {
    pl_worker__test_net_t net;
    pl_worker_t *worker;
    char id[256];                   /* the worker's identity               */
    size_t id_len;
} s_fake_t;

static bool
s_topic (pl_zmsg_t *msg, const char *room)
{
    return zmq_msg_size (&msg->frame[0]) == strlen (room) + 1
        && memcmp (zmq_msg_data (&msg->frame[0]), room, strlen (room) + 1) == 0;
}

/* Pump the worker until the fake broker gets command cmd (msg: identity +
 * frames), or, cmd NULL, the bus an event to user:first or user:second.
 * False after timeout_ms. */
static bool
s_next (s_fake_t *f, const char *cmd, pl_zmsg_t *msg, int timeout_ms)
{
    int64_t deadline = pl_id_mono_ms () + timeout_ms;
    bool got = false;
    while (!got && pl_id_mono_ms () < deadline) {
        pl_worker_run (f->worker, 5);
        while (!got && pl_zmsg_recv (cmd ? f->net.router : f->net.sub, msg) == 0) {
            if (cmd) {
                f->id_len = zmq_msg_size (&msg->frame[0]);
                assert (f->id_len <= sizeof f->id);
                memcpy (f->id, zmq_msg_data (&msg->frame[0]), f->id_len);
                got = pl_zmsg_is (msg, 2, cmd);
            }
            else
                got = s_topic (msg, "user:first") || s_topic (msg, "user:second");
            if (!got)
                pl_zmsg_close (msg);
        }
    }
    return got;
}

/* A second client connection's context: requests of one connection
 * never overlap (pl_worker_sched.c, Order). */
#define S_CTX_B "{\"v\":1,\"gw\":\"gw-t\",\"conn\":\"8\",\"uid\":\"bob\",\"name\":\"Bob\"}"

static void
s_request (s_fake_t *f, const char *reqid, const char *ctx, const char *body)
{
    pl_zmsg_part_t parts[] = {
        { f->id, f->id_len }, { "PL01", 4 }, { "REQ", 3 }, { "client-1", 8 },
        { reqid, strlen (reqid) }, { "actor:delete", 12 },
        { ctx, strlen (ctx) }, { body, strlen (body) },
    };
    assert (pl_zmsg_send (f->net.router, parts, 8) == 0);
}

/* Send one request and wait for its REP. */
static void
s_call (s_fake_t *f, const char *reqid, const char *body)
{
    pl_zmsg_t msg;
    s_request (f, reqid, PL_WORKER__TEST_CTX, body);
    assert (s_next (f, "REP", &msg, 2000));
    assert (pl_zmsg_is (&msg, 4, reqid));
    pl_zmsg_close (&msg);
}

static void
s_test_live (const char *redis_url)
{
    s_fake_t f = { .worker = NULL };
    pl_worker__test_net_open (&f.net, "worker-hold");
    assert (zmq_setsockopt (f.net.sub, ZMQ_SUBSCRIBE, "user:", 5) == 0);
    pl_worker_opts_t opts = {
        .service = "actors", .handlers = s_handlers, .count = 5,
        .broker_endpoint = f.net.backend, .events_endpoint = f.net.events,
        .redis_url = redis_url, .heartbeat_ms = 100, .liveness = 60, .credit = 4,
        .signal_fd = -1,
    };
    f.worker = pl_worker_new (&opts);
    assert (f.worker && f.worker->sched);   /* the coroutine runtime */
    pl_zmsg_t msg;
    assert (s_next (&f, "READY", &msg, 2000));
    pl_zmsg_close (&msg);
    /* the PUB has our subscription once a probe's event comes through */
    bool joined = false;
    for (int i = 0; i < 40 && !joined; i++) {
        s_call (&f, "probe", "\"probe\"");
        zmq_pollitem_t item = { f.net.sub, 0, ZMQ_POLLIN, 0 };
        joined = zmq_poll (&item, 1, 50) == 1;
    }
    assert (joined);
    s_call (&f, "warm", "\"warm\"");        /* Redis connected */

    /* both in one burst, from two connections: A's INCR goes first */
    s_request (&f, "rid-a", PL_WORKER__TEST_CTX, "\"first\"");
    s_request (&f, "rid-b", S_CTX_B, "\"second\"");
    /* B ended first, but its ack waits for A's events and its own */
    assert (s_next (&f, "REP", &msg, 3000));
    assert (pl_zmsg_is (&msg, 4, "rid-a"));
    pl_zmsg_close (&msg);
    assert (s_next (&f, "REP", &msg, 3000));
    assert (pl_zmsg_is (&msg, 4, "rid-b"));
    pl_zmsg_close (&msg);
    /* events in commit order */
    assert (s_next (&f, NULL, &msg, 2000));
    assert (s_topic (&msg, "user:first"));
    pl_zmsg_close (&msg);
    assert (s_next (&f, NULL, &msg, 2000));
    assert (s_topic (&msg, "user:second"));
    pl_zmsg_close (&msg);

    pl_worker_destroy (&f.worker);
    pl_worker__test_net_close (&f.net);
}

void
pl_worker_hold_test (bool verbose)
{
    if (verbose)
        printf (" * pl_worker_hold: ");
    const char *batch = getenv ("PARLEY_WORKER_BATCH");
    char *saved = batch ? strdup (batch) : NULL;
    setenv ("PARLEY_WORKER_BATCH", "1", 1);
    pl_redis__test_t redis;
    if (pl_redis__test_start (&redis, "worker-hold", verbose))
        s_test_live (redis.url);
    pl_redis__test_stop (&redis);
    if (saved)
        setenv ("PARLEY_WORKER_BATCH", saved, 1);
    else
        unsetenv ("PARLEY_WORKER_BATCH");
    free (saved);
    if (verbose)
        printf ("OK\n");
}
