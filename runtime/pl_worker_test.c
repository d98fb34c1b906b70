/*  pl_worker_test - selftest of the worker runtime against a fake broker.
 *
 *  The test plays the broker with a raw ROUTER and the event proxy with a
 *  bound SUB, on ipc:// endpoints in a private temp dir, and drives the
 *  worker's loop in 5 ms slices from the same thread. Every wait is bounded.
 *  The metrics cases are in pl_worker_metrics_test.c (pl_worker_test_int.h).
 */
#include "pl_worker.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_zmsg.h"
#include "pl_redis_int.h"
#include "pl_worker_int.h"
#include "pl_worker_test_int.h"

#include <assert.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

/* ---- test handlers: the "actors" service, since handler tables must
 *      match proto/events.def ------------------------------------------ */

/* actor:list - echo the argument, the caller and the event */
static void
s_echo (pl_call_t *call, const cJSON *arg)
{
    const pl_caller_t *caller = pl_call_caller (call);
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddItemToObject (data, "arg", arg ? cJSON_Duplicate (arg, 1) : cJSON_CreateNull ());
    cJSON_AddStringToObject (data, "uid", caller->user);
    cJSON_AddStringToObject (data, "name", caller->name ? caller->name : "");
    cJSON_AddStringToObject (data, "gw", caller->gateway);
    cJSON_AddStringToObject (data, "conn", caller->conn);
    cJSON_AddStringToObject (data, "event", pl_proto_event (pl_call_event (call))->name);
    pl_call_ok (call, data);
}

/* actor:get - publish two events to the room named by the argument */
static void
s_publish (pl_call_t *call, const cJSON *arg)
{
    const char *room = cJSON_IsString (arg) ? arg->valuestring : "none";
    if (strcmp (room, "rooms") == 0) {
        /* room directives ride on the reply; the eviction goes on the bus */
        pl_call_join (call, "campaign:1");
        pl_call_leave (call, "campaign:2");
        pl_call_evict (call, "user:bob", "campaign:1");
        pl_call_ok (call, NULL);
        return;
    }
    pl_call_publish (call, room, PL_PUSH_ACTOR_UPDATED,
                     cJSON_Parse ("{\"n\":1}"), true);
    pl_call_publish (call, room, PL_PUSH_ACTOR_DELETED, cJSON_CreateString ("x"), false);
    pl_call_ok (call, NULL);
}

/* actor:create - forget to answer; or, with "conflict:N" ("conflict:always"),
 * hold an event and a join, then say pl_call_conflict on every run before
 * run N; run N publishes {"attempt":N} to user:alice, joins "won" and
 * answers {"attempt":N}. s_runs counts the runs. */
static int s_runs;
static void
s_silent (pl_call_t *call, const cJSON *arg)
{
    if (!cJSON_IsString (arg) || strncmp (arg->valuestring, "conflict:", 9) != 0)
        return;
    s_runs++;
    int attempt = pl_call_attempt (call);
    int wins = strcmp (arg->valuestring + 9, "always") == 0 ? -1 : atoi (arg->valuestring + 9);
    if (attempt != wins) {
        pl_call_publish (call, "user:alice", PL_PUSH_ACTOR_DELETED, cJSON_CreateString ("lost"), false);
        pl_call_join (call, "lost");
        pl_call_conflict (call);
        return;
    }
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddNumberToObject (data, "attempt", attempt);
    pl_call_publish (call, "user:alice", PL_PUSH_ACTOR_UPDATED, cJSON_Duplicate (data, 1), false);
    pl_call_join (call, "won");
    pl_call_ok (call, data);
}

/* actor:update - publish, then fail: the event must not go out */
static void
s_fail (pl_call_t *call, const cJSON *arg)
{
    (void) arg;
    pl_call_publish (call, "failed", PL_PUSH_ACTOR_DELETED, cJSON_CreateString ("y"), false);
    pl_call_join (call, "failed");          /* a failed reply carries no directives */
    pl_call_evict (call, "user:x", "failed");
    pl_call_error (call, PL_ERR_NOT_FOUND, "no actor %s", "y");
}

/* actor:delete - use Redis. The main worker's is unreachable: a PING fails.
 * Against a live one (s_test_live): "batch:K" INCRs K three times in one
 * pl_call_batch and answers the three values; "cas:K" WATCHes K and says
 * pl_call_conflict on its first run, and on the second answers whether
 * the connection still held a transaction (it must not). */
static void
s_storage (pl_call_t *call, const cJSON *arg)
{
    const char *what = cJSON_IsString (arg) ? arg->valuestring : "";
    if (strncmp (what, "batch:", 6) == 0) {
        pl_redis_batch_t b = { 0 };
        for (int i = 0; i < 3; i++)
            pl_redis_batch_add (&b, "INCR %s", what + 6);
        if (pl_call_batch (call, &b)) {
            cJSON *data = cJSON_CreateArray ();
            for (int i = 0; i < 3; i++)
                cJSON_AddItemToArray (data, cJSON_CreateNumber ((double) b.reply[i]->integer));
            pl_call_ok (call, data);
        }
        pl_redis_batch_clear (&b);
        return;
    }
    if (strncmp (what, "cas:", 4) == 0) {
        if (pl_call_attempt (call) == 0) {
            if (pl_call_run (call, "WATCH %s", what + 4))
                pl_call_conflict (call);
            return;
        }
        pl_call_ok (call, cJSON_CreateBool (pl_redis_in_txn (pl_call_redis (call))));
        return;
    }
    if (strcmp (what, "rid") == 0) {
        /* the request id the log sees before and after a Redis round (a
         * switch away and back in the coroutine runtime) */
        char before[PL_LOG_RID_SIZE];
        snprintf (before, sizeof before, "%s", pl_log_rid () ? pl_log_rid () : "");
        redisReply *reply = pl_call_command (call, "PING");
        if (reply) {
            cJSON *data = cJSON_CreateArray ();
            cJSON_AddItemToArray (data, cJSON_CreateString (before));
            cJSON_AddItemToArray (data, cJSON_CreateString (pl_log_rid () ? pl_log_rid () : ""));
            freeReplyObject (reply);
            pl_call_ok (call, data);
        }
        return;
    }
    redisReply *reply = pl_call_command (call, "PING");
    assert (reply == NULL && pl_call_answered (call));
}

static const pl_handler_t s_handlers[] = {
    { PL_EV_ACTOR_LIST,   s_echo },
    { PL_EV_ACTOR_GET,    s_publish },
    { PL_EV_ACTOR_CREATE, s_silent },
    { PL_EV_ACTOR_UPDATE, s_fail },
    { PL_EV_ACTOR_DELETE, s_storage },
};

/* ---- the fake broker ------------------------------------------------- */

/* Pump the worker until the fake broker gets command `cmd` (from_sub false,
 * msg = identity + frames) or an event arrives on the bus (from_sub true).
 * Returns false after timeout_ms. */
static bool
s_wait (pl_worker__fake_t *f, const char *cmd, bool from_sub, pl_zmsg_t *msg, int timeout_ms)
{
    int64_t deadline = pl_id_mono_ms () + timeout_ms;
    while (pl_id_mono_ms () < deadline) {
        if (f->worker)
            pl_worker_run (f->worker, 5);
        else
            zmq_poll (NULL, 0, 5);
        while (pl_zmsg_recv (f->router, msg) == 0) {
            assert (msg->count >= 3);
            f->id_len = zmq_msg_size (&msg->frame[0]);
            assert (f->id_len <= sizeof f->id);
            memcpy (f->id, zmq_msg_data (&msg->frame[0]), f->id_len);
            assert (pl_zmsg_is (msg, 1, "PL01"));
            if (pl_zmsg_is (msg, 2, "HB")) {
                f->hbs++;
                if (msg->count == 5) {      /* PL01 HB process snapshot */
                    f->metrics_hbs++;
                    free (f->snapshot);
                    f->snapshot = strndup (zmq_msg_data (&msg->frame[4]),
                                           zmq_msg_size (&msg->frame[4]));
                    snprintf (f->process, sizeof f->process, "%.*s",
                              (int) zmq_msg_size (&msg->frame[3]),
                              (const char *) zmq_msg_data (&msg->frame[3]));
                }
                if (f->answer_hb) {
                    pl_zmsg_part_t hb[] = { { f->id, f->id_len }, { "PL01", 4 }, { "HB", 2 } };
                    assert (pl_zmsg_send (f->router, hb, 3) == 0);
                }
            }
            if (!from_sub && pl_zmsg_is (msg, 2, cmd))
                return true;
            pl_zmsg_close (msg);
        }
        if (from_sub && pl_zmsg_recv (f->sub, msg) == 0)
            return true;
    }
    return false;
}

/* Send a REQ to the worker's current identity; event and body are
 * event_len and body_len bytes (they may hold a NUL). */
static void
s_request_n (pl_worker__fake_t *f, const char *reqid, const char *event, size_t event_len,
             const char *ctx, const char *body, size_t body_len)
{
    pl_zmsg_part_t parts[] = {
        { f->id, f->id_len }, { "PL01", 4 }, { "REQ", 3 }, { "client-1", 8 },
        { reqid, strlen (reqid) }, { event, event_len },
        { ctx, strlen (ctx) }, { body, body_len },
    };
    assert (pl_zmsg_send (f->router, parts, 8) == 0);
}

static void
s_request (pl_worker__fake_t *f, const char *reqid, const char *event, const char *ctx,
           const char *body)
{
    s_request_n (f, reqid, event, strlen (event), ctx, body, strlen (body));
}

/* The request id of s_call_n's last request. */
static char s_last_reqid[16];

/* Send a REQ and return the parsed reply, checking the REP envelope. */
static cJSON *
s_call_n (pl_worker__fake_t *f, const char *event, size_t event_len, const char *ctx,
          const char *body, size_t body_len)
{
    static int seq = 0;
    char *reqid = s_last_reqid;
    snprintf (reqid, sizeof s_last_reqid, "r%d", ++seq);
    s_request_n (f, reqid, event, event_len, ctx, body, body_len);
    pl_zmsg_t msg;
    assert (s_wait (f, "REP", false, &msg, 2000));
    assert (msg.count == 6);
    assert (pl_zmsg_is (&msg, 3, "client-1"));
    assert (pl_zmsg_is (&msg, 4, reqid));
    cJSON *reply = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
    assert (reply);
    pl_zmsg_close (&msg);
    return reply;
}

cJSON *
pl_worker__fake_call (pl_worker__fake_t *f, const char *event, const char *ctx, const char *body)
{
    return s_call_n (f, event, strlen (event), ctx, body, strlen (body));
}

/* The error code of a failed reply, or "" for success. */
const char *
pl_worker__fake_code (const cJSON *reply)
{
    static char code[32];
    const cJSON *success = cJSON_GetObjectItem (reply, "success");
    assert (cJSON_IsBool (success));
    if (cJSON_IsTrue (success))
        return "";
    const cJSON *error = cJSON_GetObjectItem (reply, "error");
    snprintf (code, sizeof code, "%s", cJSON_GetObjectItem (error, "code")->valuestring);
    assert (cJSON_IsString (cJSON_GetObjectItem (error, "message")));
    return code;
}

static bool
s_frame_eq (pl_zmsg_t *msg, int i, const void *data, size_t size)
{
    return zmq_msg_size (&msg->frame[i]) == size
        && memcmp (zmq_msg_data (&msg->frame[i]), data, size) == 0;
}

/* The next bus message that is not a probe's (topic "probe"): the
 * probes' events may still be on their way after the subscription is
 * known to be in place, and a wait on a quiet gap would not prove
 * otherwise on a busy box. Returns false after timeout_ms. */
static bool
s_wait_event (pl_worker__fake_t *f, pl_zmsg_t *msg, int timeout_ms)
{
    int64_t deadline = pl_id_mono_ms () + timeout_ms;
    int64_t left;
    while ((left = deadline - pl_id_mono_ms ()) > 0) {
        if (!s_wait (f, NULL, true, msg, (int) left))
            return false;
        if (!s_frame_eq (msg, 0, "probe\0", 6))
            return true;
        pl_zmsg_close (msg);
    }
    return false;
}

/* (s_test_live) The loop away for longer than the command timeout while
 * Redis answered (a loaded box): the reply waiting in the socket is read,
 * not thrown away as overdue. Redis is stopped until the round is in
 * flight, the loop then stays away 600 ms (timeout 500 ms), Redis goes
 * on, and the loop runs again once the reply is in the socket. */
static void
s_test_away (pl_worker__fake_t *f, pid_t server)
{
    pl_zmsg_t msg;
    cJSON *reply;
    pl_redis_set_timeouts (f->worker->redis, 1000, 500);
    assert (kill (server, SIGSTOP) == 0);
    s_request (f, "late", "actor:delete", PL_WORKER__TEST_CTX, "\"batch:late\"");
    int64_t until = pl_id_mono_ms () + 5000;
    while (pl_worker__sched_fd (f->worker->sched) < 0 && pl_id_mono_ms () < until)
        pl_worker_run (f->worker, 5);
    assert (pl_worker__sched_fd (f->worker->sched) >= 0);     /* a round in flight */
    usleep (600 * 1000);                                        /* the loop is away */
    assert (kill (server, SIGCONT) == 0);
    struct pollfd pfd = { pl_worker__sched_fd (f->worker->sched), POLLIN, 0 };
    assert (poll (&pfd, 1, 5000) == 1);                         /* the reply is here */
    assert (s_wait (f, "REP", false, &msg, 2000));
    assert (pl_zmsg_is (&msg, 4, "late"));
    reply = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
    pl_zmsg_close (&msg);
    assert (reply && strcmp (pl_worker__fake_code (reply), "") == 0);
    cJSON_Delete (reply);
    pl_redis_set_timeouts (f->worker->redis, 1000, 1000);
}

/* The coroutine runtime over a live Redis (skipped without redis-server):
 * a handler's pl_call_batch parks its three commands at once - one round,
 * three commands - and a handler rerun after pl_call_conflict starts with
 * nothing left open on the connection (its WATCH is gone). */
static void
s_test_live (pl_worker__fake_t *f, pl_worker_opts_t opts, const char *dir, bool verbose)
{
    char sock[160], url[180];
    snprintf (sock, sizeof sock, "%s/redis.sock", dir);
    snprintf (url, sizeof url, "unix://%s", sock);
    pid_t server = pl_redis__test_server (dir, sock);
    if (server < 0) {
        if (verbose)
            printf ("(no redis-server: live runtime test skipped) ");
        return;
    }
    opts.redis_url = url;
    f->answer_hb = true;
    setenv ("PARLEY_METRICS_PUSH_MS", "200", 1);    /* pl_worker__test_metrics */
    f->worker = pl_worker_new (&opts);
    unsetenv ("PARLEY_METRICS_PUSH_MS");
    assert (f->worker);
    pl_zmsg_t msg;
    assert (s_wait (f, "READY", false, &msg, 2000));
    pl_zmsg_close (&msg);
    cJSON *reply = pl_worker__fake_call (f, "actor:delete", PL_WORKER__TEST_CTX,
                                         "\"batch:warm\"");  /* connects */
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    cJSON_Delete (reply);

    pl_worker_stats_t before = pl_worker_stats (f->worker);
    reply = pl_worker__fake_call (f, "actor:delete", PL_WORKER__TEST_CTX, "\"batch:k\"");
    const cJSON *data = cJSON_GetObjectItem (reply, "data");
    assert (cJSON_GetArraySize (data) == 3);
    for (int i = 0; i < 3; i++)
        assert (cJSON_GetArrayItem (data, i)->valuedouble == i + 1);
    cJSON_Delete (reply);
    pl_worker_stats_t after = pl_worker_stats (f->worker);
    const char *batch = getenv ("PARLEY_WORKER_BATCH");    /* the runtime under test */
    if (!batch || strcmp (batch, "0") != 0)
        assert (after.rounds == before.rounds + 1
                && after.round_commands == before.round_commands + 3);

    reply = pl_worker__fake_call (f, "actor:delete", PL_WORKER__TEST_CTX, "\"cas:k\"");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    assert (cJSON_IsFalse (cJSON_GetObjectItem (reply, "data")));
    cJSON_Delete (reply);
    assert (pl_worker_stats (f->worker).retries == after.retries + 1);

    pl_worker__test_metrics (f);

    /* each handler's lines name its own request, across its Redis round
     * and with another one running meanwhile; none outside a handler */
    s_request (f, "rid-a", "actor:delete", PL_WORKER__TEST_CTX, "\"rid\"");
    s_request (f, "rid-b", "actor:delete", PL_WORKER__TEST_CTX, "\"rid\"");
    for (int i = 0; i < 2; i++) {
        assert (s_wait (f, "REP", false, &msg, 2000));
        reply = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
        const char *want = pl_zmsg_is (&msg, 4, "rid-a") ? "rid-a" : "rid-b";
        data = cJSON_GetObjectItem (reply, "data");
        assert (cJSON_GetArraySize (data) == 2);
        assert (strcmp (cJSON_GetArrayItem (data, 0)->valuestring, want) == 0);
        assert (strcmp (cJSON_GetArrayItem (data, 1)->valuestring, want) == 0);
        cJSON_Delete (reply);
        pl_zmsg_close (&msg);
    }
    assert (pl_log_rid () == NULL);

    if (f->worker->sched)
        s_test_away (f, server);

    pl_worker_destroy (&f->worker);
    assert (s_wait (f, "BYE", false, &msg, 2000));
    pl_zmsg_close (&msg);
    kill (server, SIGKILL);
    waitpid (server, NULL, 0);
    char path[200];
    snprintf (path, sizeof path, "%s/appendonly.aof", dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/dump.rdb", dir);
    unlink (path);
    unlink (sock);
}

/* Storage before registration (opts.redis_before_ready, what
 * pl_worker_main asks for): while its Redis does not answer, a worker
 * does not send READY - it would be handed requests it can only answer
 * "storage unavailable" - and once Redis is up it registers and serves.
 * Without the gate READY goes out at once, with Redis absent. The absence
 * is checked over a bounded 600 ms of pumping (2 PING retries); Redis
 * then comes up and READY is waited for. */
static void
s_test_storage_first (pl_worker__fake_t *f, pl_worker_opts_t opts, const char *dir, bool verbose)
{
    char sock[160], url[180];
    snprintf (sock, sizeof sock, "%s/gate.sock", dir);
    snprintf (url, sizeof url, "unix://%s", sock);
    opts.redis_url = url;
    opts.redis_before_ready = true;
    f->answer_hb = true;
    f->worker = pl_worker_new (&opts);
    assert (f->worker);
    pl_zmsg_t msg;
    assert (!s_wait (f, "READY", false, &msg, 600));        /* no Redis: not registered */
    assert (pl_worker_stats (f->worker).registrations == 0);
    pid_t server = pl_redis__test_server (dir, sock);
    if (server < 0) {
        if (verbose)
            printf ("(no redis-server: storage-first registration half-tested) ");
        pl_worker_destroy (&f->worker);
        return;
    }
    assert (s_wait (f, "READY", false, &msg, 5000));        /* Redis up: registers */
    pl_zmsg_close (&msg);
    cJSON *reply = pl_worker__fake_call (f, "actor:delete", PL_WORKER__TEST_CTX, "\"batch:gate\"");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);              /* and serves */
    cJSON_Delete (reply);
    pl_worker_destroy (&f->worker);
    assert (s_wait (f, "BYE", false, &msg, 2000));
    pl_zmsg_close (&msg);
    kill (server, SIGKILL);
    waitpid (server, NULL, 0);
    unlink (sock);
}

void
pl_worker__test_net_open (pl_worker__test_net_t *net, const char *name)
{
    snprintf (net->dir, sizeof net->dir, "/tmp/pl-%s-XXXXXX", name);
    assert (mkdtemp (net->dir));
    snprintf (net->backend, sizeof net->backend, "ipc://%s/backend.ipc", net->dir);
    snprintf (net->events, sizeof net->events, "ipc://%s/events.ipc", net->dir);
    net->zctx = zmq_ctx_new ();
    net->router = zmq_socket (net->zctx, ZMQ_ROUTER);
    net->sub = zmq_socket (net->zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt (net->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (net->sub, ZMQ_LINGER, &zero, sizeof zero);
    assert (zmq_bind (net->router, net->backend) == 0);
    assert (zmq_bind (net->sub, net->events) == 0);
}

void
pl_worker__test_net_close (pl_worker__test_net_t *net)
{
    zmq_close (net->router);
    zmq_close (net->sub);
    zmq_ctx_term (net->zctx);
    char path[160];
    snprintf (path, sizeof path, "%s/backend.ipc", net->dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/events.ipc", net->dir);
    unlink (path);
    rmdir (net->dir);
}

void
pl_worker_test (bool verbose)
{
    if (verbose)
        printf (" * pl_worker: ");

    pl_worker__test_metrics_name ();

    /* handler tables must match events.def exactly */
    assert (pl_worker_handlers_valid ("actors", s_handlers, 5));
    assert (!pl_worker_handlers_valid ("actors", s_handlers, 4));       /* one missing  */
    assert (!pl_worker_handlers_valid ("nope", NULL, 0));               /* no events    */
    assert (!pl_worker_handlers_valid ("nope", s_handlers, 5));         /* not ours     */
    pl_handler_t dup[5];
    memcpy (dup, s_handlers, sizeof dup);
    dup[4].event = PL_EV_ACTOR_LIST;
    assert (!pl_worker_handlers_valid ("actors", dup, 5));              /* duplicate    */
    memcpy (dup, s_handlers, sizeof dup);
    dup[2].fn = NULL;
    assert (!pl_worker_handlers_valid ("actors", dup, 5));              /* no function  */
    dup[2].fn = s_silent;
    dup[2].event = PL_EV_COUNT;
    assert (!pl_worker_handlers_valid ("actors", dup, 5));              /* out of range */

    pl_worker__test_net_t net;
    pl_worker__test_net_open (&net, "worker");
    const char *dir = net.dir, *backend = net.backend, *events = net.events;
    pl_worker__fake_t f = { .answer_hb = true, .zctx = net.zctx, .router = net.router,
                            .sub = net.sub };
    assert (zmq_setsockopt (f.sub, ZMQ_SUBSCRIBE, "", 0) == 0);

    /* SIGUSR1 stands in for SIGTERM: blocked, and read from a signalfd */
    sigset_t mask, old_mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGUSR1);
    assert (sigprocmask (SIG_BLOCK, &mask, &old_mask) == 0);
    int sfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    assert (sfd >= 0);

    /* Heartbeats every 100 ms, but a liveness window of 6 s: the fake
     * broker answers only while this thread pumps it, so a window of a few
     * hundred ms made a busy box's scheduling pause look like a dead broker
     * (the worker registered again mid-test and a request went to its old
     * identity). The short window has a test of its own, at the end. */
    pl_worker_opts_t opts = {
        .service = "actors", .handlers = s_handlers, .count = 5,
        .broker_endpoint = backend, .events_endpoint = events,
        .redis_url = "unix:///nonexistent-parley-dir/redis.sock",
        .heartbeat_ms = 100, .liveness = 60, .credit = 7, .signal_fd = sfd,
    };
    /* bad options are refused, not crashed on */
    pl_worker_opts_t bad = opts;
    bad.broker_endpoint = "bogus://x";
    assert (pl_worker_new (&bad) == NULL);
    bad = opts;
    bad.redis_url = "redis://h:0";
    assert (pl_worker_new (&bad) == NULL);
    bad = opts;
    bad.heartbeat_ms = 0;
    assert (pl_worker_new (&bad) == NULL);

    f.worker = pl_worker_new (&opts);
    assert (f.worker);

    /* READY service credit */
    pl_zmsg_t msg;
    assert (s_wait (&f, "READY", false, &msg, 2000));
    assert (msg.count == 5);
    assert (pl_zmsg_is (&msg, 3, "actors"));
    assert (pl_zmsg_is (&msg, 4, "7"));
    pl_zmsg_close (&msg);
    char first_id[256];
    size_t first_id_len = f.id_len;
    memcpy (first_id, f.id, f.id_len);

    /* REQ -> REP round trip: no argument, then an argument; the caller
     * context reaches the handler */
    cJSON *reply = pl_worker__fake_call (&f, "actor:list", PL_WORKER__TEST_CTX, "");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    cJSON *data = cJSON_GetObjectItem (reply, "data");
    assert (cJSON_IsNull (cJSON_GetObjectItem (data, "arg")));
    assert (strcmp (cJSON_GetObjectItem (data, "uid")->valuestring, "alice") == 0);
    assert (strcmp (cJSON_GetObjectItem (data, "name")->valuestring, "Alice") == 0);
    assert (strcmp (cJSON_GetObjectItem (data, "gw")->valuestring, "gw-t") == 0);
    assert (strcmp (cJSON_GetObjectItem (data, "conn")->valuestring, "7") == 0);
    assert (strcmp (cJSON_GetObjectItem (data, "event")->valuestring, "actor:list") == 0);
    cJSON_Delete (reply);
    reply = pl_worker__fake_call (&f, "actor:list", PL_WORKER__TEST_CTX, " {\"a\":[1,2]} ");
    data = cJSON_GetObjectItem (reply, "data");
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (cJSON_GetObjectItem (data, "arg"), "a")) == 2);
    cJSON_Delete (reply);

    /* errors the runtime answers itself */
    struct { const char *event, *ctx, *body, *code; } cases[] = {
        { "nope:x",       PL_WORKER__TEST_CTX, "",        "UNKNOWN_EVENT" },
        { "",             PL_WORKER__TEST_CTX, "",        "UNKNOWN_EVENT" },
        { "actor:list",   PL_WORKER__TEST_CTX, "{",       "VALIDATION_ERROR" },
        { "actor:list",   PL_WORKER__TEST_CTX, "[1] x",   "VALIDATION_ERROR" },
        { "actor:list",   "{}",  "",        "VALIDATION_ERROR" },   /* bad ctx */
        { "actor:list",   "",    "",        "VALIDATION_ERROR" },
        { "actor:create", PL_WORKER__TEST_CTX, "{}",      "INTERNAL" },           /* no answer */
        { "actor:update", PL_WORKER__TEST_CTX, "\"y\"",   "NOT_FOUND" },          /* handler's */
        /* a NUL is refused before any handler runs, never cut: in the
         * argument (a value, a key) and in the caller context */
        { "actor:update", PL_WORKER__TEST_CTX, "{\"id\":\"y\\u0000x\"}", "VALIDATION_ERROR" },
        { "actor:update", PL_WORKER__TEST_CTX, "{\"id\\u0000x\":\"y\"}", "VALIDATION_ERROR" },
        { "actor:list",   "{\"v\":1,\"gw\":\"g\",\"conn\":\"7\",\"uid\":\"alice\\u0000x\"}", "",
          "VALIDATION_ERROR" },
        { "actor:delete", PL_WORKER__TEST_CTX, "\"z\"",   "INTERNAL" },           /* no Redis */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reply = pl_worker__fake_call (&f, cases[i].event, cases[i].ctx, cases[i].body);
        if (verbose && strcmp (pl_worker__fake_code (reply), cases[i].code) != 0)
            printf ("\ncase %zu: got %s, expected %s\n", i, pl_worker__fake_code (reply),
                    cases[i].code);
        assert (strcmp (pl_worker__fake_code (reply), cases[i].code) == 0);
        /* an INTERNAL names its request (error.requestId); others do not */
        const cJSON *rid = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "requestId");
        if (strcmp (cases[i].code, "INTERNAL") == 0)
            assert (cJSON_IsString (rid) && strcmp (rid->valuestring, s_last_reqid) == 0);
        else
            assert (rid == NULL);
        if (i == sizeof cases / sizeof cases[0] - 1) {
            const cJSON *error = cJSON_GetObjectItem (reply, "error");
            assert (strcmp (cJSON_GetObjectItem (error, "message")->valuestring,
                            "storage unavailable") == 0);
        }
        cJSON_Delete (reply);
    }

    /* the same with raw NUL bytes: in the body, and in the event frame,
     * which names the event by its length ("actor:list\0x" is none) */
    const char raw_nul[] = "{\"a\":\"b\0c\"}";
    reply = s_call_n (&f, "actor:list", 10, PL_WORKER__TEST_CTX, raw_nul, sizeof raw_nul - 1);
    assert (strcmp (pl_worker__fake_code (reply), "VALIDATION_ERROR") == 0);
    assert (strcmp (cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "message")
                    ->valuestring, PL_PROTO_NUL_MESSAGE) == 0);
    cJSON_Delete (reply);
    reply = s_call_n (&f, "actor:list\0x", 12, PL_WORKER__TEST_CTX, "", 0);
    assert (strcmp (pl_worker__fake_code (reply), "UNKNOWN_EVENT") == 0);
    cJSON_Delete (reply);
    /* an escaped backslash before u0000 is text, not a NUL */
    reply = pl_worker__fake_call (&f, "actor:list", PL_WORKER__TEST_CTX, "{\"a\":\"b\\\\u0000\"}");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    data = cJSON_GetObjectItem (reply, "data");
    assert (strcmp (cJSON_GetObjectItem (cJSON_GetObjectItem (data, "arg"), "a")->valuestring,
                    "b\\u0000") == 0);
    cJSON_Delete (reply);

    /* malformed messages are dropped, and the worker carries on */
    uint64_t dropped = pl_worker_stats (f.worker).dropped;
    pl_zmsg_part_t v2[] = { { f.id, f.id_len }, { "PL02", 4 }, { "REQ", 3 } };
    assert (pl_zmsg_send (f.router, v2, 3) == 0);
    pl_zmsg_part_t short_req[] = { { f.id, f.id_len }, { "PL01", 4 }, { "REQ", 3 }, { "c", 1 } };
    assert (pl_zmsg_send (f.router, short_req, 4) == 0);
    pl_zmsg_part_t odd[] = { { f.id, f.id_len }, { "PL01", 4 }, { "WHAT", 4 } };
    assert (pl_zmsg_send (f.router, odd, 3) == 0);
    reply = pl_worker__fake_call (&f, "actor:list", PL_WORKER__TEST_CTX, "1");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    cJSON_Delete (reply);
    assert (pl_worker_stats (f.worker).dropped == dropped + 3);

    /* the event bus: wait until the PUB has our subscription (a PUB drops
     * what it sends before then), then check exact frames */
    bool joined = false;
    for (int i = 0; i < 40 && !joined; i++) {
        cJSON_Delete (pl_worker__fake_call (&f, "actor:get", PL_WORKER__TEST_CTX, "\"probe\""));
        joined = s_wait (&f, NULL, true, &msg, 50);
        if (joined)
            pl_zmsg_close (&msg);
    }
    assert (joined);
    /* publishes, then fails */
    reply = pl_worker__fake_call (&f, "actor:update", PL_WORKER__TEST_CTX, "");
    assert (strcmp (pl_worker__fake_code (reply), "NOT_FOUND") == 0);
    cJSON_Delete (reply);
    uint64_t published = pl_worker_stats (f.worker).published;
    reply = pl_worker__fake_call (&f, "actor:get", PL_WORKER__TEST_CTX, "\"user:alice\"");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    cJSON_Delete (reply);
    assert (s_wait_event (&f, &msg, 2000));             /* past the rest of the probes */
    /* the failed call's event would have come first on this one PUB; an
     * EV has its except (empty: none) and publish time (wall clock, now) */
    assert (msg.count == 7 && !msg.oversize);
    assert (zmq_msg_size (&msg.frame[5]) == 0);
    int64_t published_us = pl_proto_ts_parse (zmq_msg_data (&msg.frame[6]),
                                              zmq_msg_size (&msg.frame[6]), pl_id_wall_us ());
    assert (published_us >= 0 && published_us <= pl_id_wall_us ());
    assert (s_frame_eq (&msg, 0, "user:alice\0", 11));
    assert (pl_zmsg_is (&msg, 1, "PL01"));
    assert (pl_zmsg_is (&msg, 2, "EV"));
    assert (pl_zmsg_is (&msg, 3, "gw-t/7"));
    assert (pl_zmsg_is (&msg, 4, "[\"actor:updated\",{\"n\":1}]"));
    pl_zmsg_close (&msg);
    assert (s_wait (&f, NULL, true, &msg, 2000));
    assert (msg.count == 7);
    assert (s_frame_eq (&msg, 0, "user:alice\0", 11));
    assert (pl_zmsg_is (&msg, 3, ""));
    assert (pl_zmsg_is (&msg, 4, "[\"actor:deleted\",\"x\"]"));
    pl_zmsg_close (&msg);
    assert (pl_worker_stats (f.worker).published == published + 2);

    /* a conflict runs the handler again from the start: only the winning
     * run's event and directive go out */
    uint64_t retries = pl_worker_stats (f.worker).retries;
    s_runs = 0;
    s_request (&f, "r-cas", "actor:create", PL_WORKER__TEST_CTX, "\"conflict:3\"");
    assert (s_wait (&f, "REP", false, &msg, 2000));
    assert (msg.count == 7 && pl_zmsg_is (&msg, 4, "r-cas"));
    assert (pl_zmsg_is (&msg, 5, "{\"success\":true,\"data\":{\"attempt\":3}}"));
    assert (pl_zmsg_is (&msg, 6, "{\"join\":[\"won\"]}"));
    pl_zmsg_close (&msg);
    assert (s_runs == 4 && pl_worker_stats (f.worker).retries == retries + 3);
    assert (s_wait (&f, NULL, true, &msg, 2000));
    assert (pl_zmsg_is (&msg, 4, "[\"actor:updated\",{\"attempt\":3}]"));
    pl_zmsg_close (&msg);
    /* past the bound: CONFLICT, after exactly 1 + PL_CALL_RETRY_MAX runs,
     * and nothing held goes out (the next event is the marker's) */
    s_runs = 0;
    reply = pl_worker__fake_call (&f, "actor:create", PL_WORKER__TEST_CTX, "\"conflict:always\"");
    assert (strcmp (pl_worker__fake_code (reply), "CONFLICT") == 0);
    cJSON_Delete (reply);
    assert (s_runs == 1 + PL_CALL_RETRY_MAX);
    assert (pl_worker_stats (f.worker).retries == retries + 3 + PL_CALL_RETRY_MAX);
    cJSON_Delete (pl_worker__fake_call (&f, "actor:get", PL_WORKER__TEST_CTX, "\"user:alice\""));
    assert (s_wait (&f, NULL, true, &msg, 2000));
    assert (pl_zmsg_is (&msg, 4, "[\"actor:updated\",{\"n\":1}]"));
    pl_zmsg_close (&msg);
    assert (s_wait (&f, NULL, true, &msg, 2000));
    assert (pl_zmsg_is (&msg, 4, "[\"actor:deleted\",\"x\"]"));
    pl_zmsg_close (&msg);

    /* directives: a 7th REP frame; evictions: CTL on the bus */
    s_request (&f, "r-rooms", "actor:get", PL_WORKER__TEST_CTX, "\"rooms\"");
    assert (s_wait (&f, "REP", false, &msg, 2000));
    assert (msg.count == 7 && pl_zmsg_is (&msg, 4, "r-rooms"));
    assert (pl_zmsg_is (&msg, 6, "{\"join\":[\"campaign:1\"],\"leave\":[\"campaign:2\"]}"));
    pl_zmsg_close (&msg);
    assert (s_wait (&f, NULL, true, &msg, 2000));
    assert (msg.count == 5);
    assert (s_frame_eq (&msg, 0, "user:bob\0", 9));
    assert (pl_zmsg_is (&msg, 1, "PL01") && pl_zmsg_is (&msg, 2, "CTL"));
    assert (pl_zmsg_is (&msg, 3, ""));
    assert (pl_zmsg_is (&msg, 4, "{\"leave\":[\"campaign:1\"]}"));
    pl_zmsg_close (&msg);

    /* heartbeats go out when the line is quiet */
    int hbs = f.hbs;
    assert (s_wait (&f, "HB", false, &msg, 2000));
    pl_zmsg_close (&msg);
    assert (f.hbs > hbs && pl_worker_stats (f.worker).heartbeats_sent > 0);

    /* BYE from the broker: a new socket (new identity) sends READY */
    pl_zmsg_part_t bye[] = { { f.id, f.id_len }, { "PL01", 4 }, { "BYE", 3 } };
    assert (pl_zmsg_send (f.router, bye, 3) == 0);
    assert (s_wait (&f, "READY", false, &msg, 2000));
    pl_zmsg_close (&msg);
    assert (f.id_len != first_id_len || memcmp (f.id, first_id, f.id_len) != 0);
    assert (pl_worker_stats (f.worker).registrations == 2);
    /* and it serves again */
    reply = pl_worker__fake_call (&f, "actor:list", PL_WORKER__TEST_CTX, "");
    assert (strcmp (pl_worker__fake_code (reply), "") == 0);
    cJSON_Delete (reply);

    /* a signal stops the loop promptly */
    int64_t start = pl_id_mono_ms ();
    assert (pl_worker_run (f.worker, 0) == 0);
    raise (SIGUSR1);
    assert (pl_worker_run (f.worker, 3000) == 1);
    assert (pl_id_mono_ms () - start < 1000);

    /* destroy says BYE */
    pl_worker_destroy (&f.worker);
    pl_worker_destroy (&f.worker);
    assert (s_wait (&f, "BYE", false, &msg, 2000));
    pl_zmsg_close (&msg);

    /* a silent broker: after liveness x heartbeat (3 x 100 ms) without a
     * word from it, the worker registers again on a new socket. A worker
     * of its own, never answered: its window opens when it sends READY,
     * which is after `silent_since`, so the second READY cannot come
     * sooner than the window after it, however this thread is scheduled
     * (measured from the first READY's arrival instead, a late arrival
     * would shorten it) */
    pl_worker_opts_t quick = opts;
    quick.liveness = 3;
    f.answer_hb = false;
    int64_t silent_since = pl_id_mono_ms ();
    f.worker = pl_worker_new (&quick);
    assert (f.worker);
    assert (s_wait (&f, "READY", false, &msg, 2000));
    pl_zmsg_close (&msg);
    first_id_len = f.id_len;
    memcpy (first_id, f.id, f.id_len);
    assert (s_wait (&f, "READY", false, &msg, 3000));
    pl_zmsg_close (&msg);
    int64_t took = pl_id_mono_ms () - silent_since;
    assert (took >= 300);
    assert (f.id_len != first_id_len || memcmp (f.id, first_id, f.id_len) != 0);
    assert (pl_worker_stats (f.worker).registrations == 2);

    /* pl_worker_stop also stops the loop */
    pl_worker_stop (f.worker);
    assert (pl_worker_run (f.worker, 3000) == 1);
    pl_worker_destroy (&f.worker);

    s_test_live (&f, opts, dir, verbose);
    s_test_storage_first (&f, opts, dir, verbose);

    close (sfd);
    assert (sigprocmask (SIG_SETMASK, &old_mask, NULL) == 0);
    free (f.snapshot);          /* the last metrics HB heard, if any */
    pl_worker__test_net_close (&net);
    if (verbose)
        printf ("OK\n");
}
