/*  pl_worker_sub_test - selftest of a worker's bus subscription
 *  (pl_worker_sub.c) on real ZeroMQ sockets.
 *
 *  The test plays a publishing worker (an XPUB, so it can tell when the
 *  proxy's subscription has reached it), the event proxy (a real bound
 *  XSUB/XPUB pair it pumps, subscribed upstream to everything like
 *  broker/pl_evproxy), a listening gateway (a SUB on the XPUB) and a
 *  mute broker (a ROUTER), and drives the worker's loop in 5 ms slices
 *  from the same thread, against a private redis-server (the Redis parts
 *  are skipped without one). Every wait is on a socket, bounded.
 */
#include "pl_worker.h"
#include "pl_worker_test_int.h"
#include "pl_id.h"
#include "pl_zmsg.h"
#include "pl_redis_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* ---- the worker under test: actors' handlers (never called) --------- */

/* Answers NOT_FOUND. Runs on the worker loop. Shared with
 * pl_worker_hold_test.c (pl_worker_test_int.h). */
void
pl_worker__test_none (pl_call_t *call, const cJSON *arg)
{
    (void) arg;
    pl_call_error (call, PL_ERR_NOT_FOUND, "not in this test");
}

static const pl_handler_t s_handlers[] = {
    { PL_EV_ACTOR_LIST, pl_worker__test_none }, { PL_EV_ACTOR_GET, pl_worker__test_none },
    { PL_EV_ACTOR_CREATE, pl_worker__test_none }, { PL_EV_ACTOR_UPDATE, pl_worker__test_none },
    { PL_EV_ACTOR_DELETE, pl_worker__test_none },
};

/* What the bus handler saw. */
static struct {
    int runs;                       /* on_bus runs, reruns included        */
    char room[64];                  /* the last one's                      */
    pl_push_id_t push;
    char payload[256];
    int inflight, inflight_max;     /* parked on Redis at once             */
    int conflicts;                  /* reruns still to ask for             */
} s_seen;

/* The bus handler. Runs on the worker loop. A payload {"incr": key}
 * INCRs key (parked on Redis meanwhile), asks for a rerun while
 * s_seen.conflicts says so, and then publishes actor:updated {"n": value}
 * to user:t. */
static void
s_on_bus (pl_call_t *call, const char *room, pl_push_id_t push, const cJSON *payload)
{
    assert (payload);
    assert (pl_call_caller (call)->user == NULL);
    s_seen.runs++;
    /* a bus call is named by the push it heard (not some event of the
     * table's: domain messages print it) */
    char name[80];
    snprintf (name, sizeof name, "bus %s", pl_proto_push_name (push));
    assert (strcmp (pl_call_name (call), name) == 0);
    snprintf (s_seen.room, sizeof s_seen.room, "%s", room);
    s_seen.push = push;
    char *text = cJSON_PrintUnformatted (payload);
    snprintf (s_seen.payload, sizeof s_seen.payload, "%s", text);
    free (text);
    /* {"as": user}: act as that user from here on (pl_call_act_as) */
    const cJSON *as = cJSON_GetObjectItem (payload, "as");
    if (cJSON_IsString (as)) {
        assert (pl_call_act_as (call, as->valuestring, "Acting"));
        assert (pl_call_act_as (call, as->valuestring, NULL));      /* again: replaced */
        assert (strcmp (pl_call_caller (call)->user, as->valuestring) == 0);
        assert (pl_call_caller (call)->name == NULL && pl_call_caller (call)->gateway == NULL);
    }
    const cJSON *key = cJSON_GetObjectItem (payload, "incr");
    if (!cJSON_IsString (key))
        return;
    s_seen.inflight++;
    if (s_seen.inflight > s_seen.inflight_max)
        s_seen.inflight_max = s_seen.inflight;
    redisReply *reply = pl_call_command (call, "INCR %s", key->valuestring);
    s_seen.inflight--;
    if (!reply)
        return;
    long long n = reply->integer;
    freeReplyObject (reply);
    if (s_seen.conflicts > 0) {
        s_seen.conflicts--;
        pl_call_conflict (call);
        return;
    }
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddNumberToObject (data, "n", (double) n);
    pl_call_publish (call, "user:t", PL_PUSH_ACTOR_UPDATED, data, false);
}

/* ---- the proxy and the other parties -------------------------------- */

typedef struct {
    void *zctx;
    void *router;                   /* mute broker                         */
    void *xsub, *xpub;              /* the event proxy                     */
    void *pub;                      /* another worker (an XPUB)            */
    void *gw;                       /* a gateway's SUB on the XPUB         */
    pl_worker_t *worker;            /* pumped while waiting                */
    int subs;                       /* subscriptions the XPUB applied      */
    int forwarded;                  /* events the proxy passed on          */
} s_bus_t;

/* Forward whatever waits at the proxy's XSUB to its XPUB, drop what the
 * XPUB hears (subscriptions: it applies them itself; counted), drop what
 * the broker hears. */
static void
s_pump (s_bus_t *b)
{
    pl_zmsg_t msg;
    while (pl_zmsg_recv (b->xsub, &msg) == 0) {
        pl_zmsg_part_t parts[PL_ZMSG_FRAMES];
        for (int i = 0; i < msg.count; i++)
            parts[i] = (pl_zmsg_part_t) { zmq_msg_data (&msg.frame[i]),
                                          zmq_msg_size (&msg.frame[i]) };
        assert (pl_zmsg_send (b->xpub, parts, msg.count) == 0);
        b->forwarded++;
        pl_zmsg_close (&msg);
    }
    while (pl_zmsg_recv (b->xpub, &msg) == 0) {
        const char *data = zmq_msg_data (&msg.frame[0]);
        if (zmq_msg_size (&msg.frame[0]) > 0 && data[0] == 1)
            b->subs++;
        pl_zmsg_close (&msg);
    }
    while (pl_zmsg_recv (b->router, &msg) == 0)
        pl_zmsg_close (&msg);
}

/* Pump the worker and the proxy for one slice. */
static void
s_slice (s_bus_t *b)
{
    if (b->worker)
        pl_worker_run (b->worker, 5);
    else
        zmq_poll (NULL, 0, 5);
    s_pump (b);
}

/* Pump until the XPUB has applied subs subscriptions in all. */
static bool
s_wait_subs (s_bus_t *b, int subs)
{
    int64_t deadline = pl_id_mono_ms () + 3000;
    while (b->subs < subs && pl_id_mono_ms () < deadline)
        s_slice (b);
    return b->subs >= subs;
}

/* Pump until on_bus has run runs times in all, or the worker has dropped
 * dropped bus messages in all. */
static bool
s_wait_runs (s_bus_t *b, int runs, uint64_t dropped)
{
    int64_t deadline = pl_id_mono_ms () + 3000;
    while (s_seen.runs < runs && pl_worker_stats (b->worker).bus_dropped < dropped
       &&  pl_id_mono_ms () < deadline)
        s_slice (b);
    return s_seen.runs >= runs || pl_worker_stats (b->worker).bus_dropped >= dropped;
}

/* Pump until the gateway hears an event. */
static bool
s_wait_gw (s_bus_t *b, pl_zmsg_t *msg)
{
    int64_t deadline = pl_id_mono_ms () + 3000;
    while (pl_id_mono_ms () < deadline) {
        s_slice (b);
        if (pl_zmsg_recv (b->gw, msg) == 0)
            return true;
    }
    return false;
}

/* Publish as a worker does: topic (topic_len bytes, its NUL included if
 * wanted), then the frames of parts, count of them. */
static void
s_publish (s_bus_t *b, const char *topic, size_t topic_len, const char *const *frames,
           int count)
{
    pl_zmsg_part_t parts[PL_ZMSG_FRAMES + 2] = { { topic, topic_len } };
    for (int i = 0; i < count; i++)
        parts[1 + i] = (pl_zmsg_part_t) { frames[i], strlen (frames[i]) };
    assert (pl_zmsg_send (b->pub, parts, 1 + count) == 0);
}

/* Publish a well-formed event ["<push>", payload] to room. */
static void
s_event (s_bus_t *b, const char *room, const char *packet)
{
    char topic[128];
    size_t len = (size_t) snprintf (topic, sizeof topic, "%s", room) + 1;
    const char *frames[] = { "PL01", "EV", "", packet };
    s_publish (b, topic, len, frames, 4);
}

/* A worker subscribed to campaign: and session: (bus_max bus calls at
 * once), registered, whose subscriptions the XPUB has applied. */
static pl_worker_t *
s_worker (s_bus_t *b, const char *dir, const char *redis_url, int bus_max)
{
    static const char *const prefixes[] = { "campaign:", "session:", NULL };
    char backend[128], xsub[128], xpub[128];
    snprintf (backend, sizeof backend, "ipc://%s/backend.ipc", dir);
    snprintf (xsub, sizeof xsub, "ipc://%s/in.ipc", dir);
    snprintf (xpub, sizeof xpub, "ipc://%s/out.ipc", dir);
    pl_worker_opts_t opts = {
        .service = "actors", .handlers = s_handlers, .count = 5,
        .broker_endpoint = backend, .events_endpoint = xsub, .redis_url = redis_url,
        .heartbeat_ms = 100, .liveness = 60, .credit = 4, .signal_fd = -1,
        .bus_endpoint = xpub, .subscribe = prefixes, .on_bus = s_on_bus, .bus_max = bus_max,
    };
    /* a subscription needs its handler and endpoint, and sane prefixes */
    pl_worker_opts_t bad = opts;
    bad.on_bus = NULL;
    assert (pl_worker_new (&bad) == NULL);
    bad = opts;
    bad.bus_endpoint = "bogus://x";
    assert (pl_worker_new (&bad) == NULL);
    static const char *const empty[] = { "", NULL };
    bad = opts;
    bad.subscribe = empty;
    assert (pl_worker_new (&bad) == NULL);

    int subs = b->subs;
    pl_worker_t *worker = pl_worker_new (&opts);
    assert (worker);
    b->worker = worker;
    assert (s_wait_subs (b, subs + 2));
    return worker;
}

static void
s_end_worker (s_bus_t *b)
{
    pl_worker_destroy (&b->worker);
    /* its SUB's unsubscriptions, and whatever else it left, are read */
    for (int i = 0; i < 4; i++)
        s_slice (b);
}

/* Filtering, decoding, refusals: no Redis needed. */
static void
s_test_decode (s_bus_t *b, const char *dir)
{
    s_worker (b, dir, NULL, 0);
    memset (&s_seen, 0, sizeof s_seen);

    /* only the prefixes asked for come through; the room has no NUL */
    s_event (b, "user:alice", "[\"actor:updated\",{\"id\":\"u\"}]");
    s_event (b, "campaigns", "[\"actor:updated\",{\"id\":\"c\"}]");
    s_event (b, "campaign:7", "[\"actor:updated\",{\"id\":\"a1\",\"version\":2}]");
    assert (s_wait_runs (b, 1, UINT64_MAX));
    assert (strcmp (s_seen.room, "campaign:7") == 0);
    assert (s_seen.push == PL_PUSH_ACTOR_UPDATED);
    assert (strcmp (s_seen.payload, "{\"id\":\"a1\",\"version\":2}") == 0);
    s_event (b, "session:s1", "[\"gameState:updated\",{\"sessionId\":\"s1\"}]");
    assert (s_wait_runs (b, 2, UINT64_MAX));
    assert (strcmp (s_seen.room, "session:s1") == 0);
    assert (s_seen.push == PL_PUSH_GAME_STATE_UPDATED);
    /* a GM room is a campaign: topic too; a packet without data gives null */
    s_event (b, "campaign:7:gm", "[\"actor:deleted\"]");
    assert (s_wait_runs (b, 3, UINT64_MAX));
    assert (strcmp (s_seen.room, "campaign:7:gm") == 0);
    assert (s_seen.push == PL_PUSH_ACTOR_DELETED && strcmp (s_seen.payload, "null") == 0);
    assert (pl_worker_stats (b->worker).bus_heard == 3);
    assert (pl_worker_stats (b->worker).bus_dropped == 0);
    /* a bus call may act as a user; the next one starts as nobody again
     * (on_bus asserts the caller empty first) */
    s_event (b, "campaign:7", "[\"actor:updated\",{\"as\":\"gm-1\"}]");
    assert (s_wait_runs (b, 4, UINT64_MAX));
    s_event (b, "campaign:7", "[\"actor:updated\",{\"as\":\"gm-2\"}]");
    assert (s_wait_runs (b, 5, UINT64_MAX));

    /* each of these is dropped, counted, and never reaches on_bus; a
     * well-formed event after each proves the one before was read */
    static const struct {
        const char *topic;
        size_t topic_len;
        const char *frames[8];
        int count;
    } bad[] = {
        { "campaign:7", 10, { "PL01", "EV", "", "[\"actor:updated\",1]" }, 4 },  /* no NUL */
        { "campaign:7\0x", 13, { "PL01", "EV", "", "[\"actor:updated\",1]" }, 4 }, /* NUL inside */
        { "campaign:7", 11, { "PL02", "EV", "", "[\"actor:updated\",1]" }, 4 },
        { "campaign:7", 11, { "PL01", "XX", "", "[\"actor:updated\",1]" }, 4 },
        { "campaign:7", 11, { "PL01", "EV", "" }, 3 },                          /* no packet */
        { "campaign:7", 11, { "PL01", "EV", "", "[\"actor:nope\",1]" }, 4 },      /* unknown */
        { "campaign:7", 11, { "PL01", "EV", "", "[\"actor:updated\",1,2]" }, 4 },
        { "campaign:7", 11, { "PL01", "EV", "", "{\"actor:updated\":1}" }, 4 },
        { "campaign:7", 11, { "PL01", "EV", "", "[\"actor:updated\",{\"a\":\"x\\u0000y\"}]" }, 4 },
        { "campaign:7", 11, { "PL01", "EV", "", "[\"actor:updated\",{]" }, 4 },
        { "campaign:7", 11, { "PL01", "EV", "", "[\"actor:updated\",1]", "", "1", "0-1", "y" },
          8 },                                                                  /* 9 frames */
        { "campaign:7", 11, { "PL01", "EV", "", "[]" }, 4 },
        { "campaign:7", 11, { "PL01", "EV", "", "[\"actor:\\u0000updated\",1]" }, 4 },
    };
    uint64_t dropped = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int runs = s_seen.runs;
        s_publish (b, bad[i].topic, bad[i].topic_len, bad[i].frames, bad[i].count);
        assert (s_wait_runs (b, INT32_MAX, dropped + 1));
        assert (pl_worker_stats (b->worker).bus_dropped == ++dropped);
        assert (s_seen.runs == runs);
    }
    /* too deep: 70 nested arrays */
    char deep[200] = "[\"actor:updated\",";
    for (int i = 0; i < 70; i++)
        strcat (deep, "[");
    for (int i = 0; i < 70; i++)
        strcat (deep, "]");
    strcat (deep, "]");
    s_event (b, "campaign:7", deep);
    assert (s_wait_runs (b, INT32_MAX, dropped + 1));
    assert (pl_worker_stats (b->worker).bus_dropped == ++dropped);
    /* a worker's (except, publish time) and stamped by a proxy with
     * recovery on (except, publish time, offset): heard alike */
    const char *worker[] = { "PL01", "EV", "", "[\"item:updated\",{\"id\":\"w\"}]", "",
                             "1733612345678.123" };
    s_publish (b, "campaign:9", 11, worker, 6);
    int heard = s_seen.runs;
    assert (s_wait_runs (b, heard + 1, UINT64_MAX));
    assert (strcmp (s_seen.room, "campaign:9") == 0 && s_seen.push == PL_PUSH_ITEM_UPDATED);
    const char *stamped[] = { "PL01", "EV", "", "[\"item:updated\",{\"id\":\"s\"}]", "",
                              "1733612345678.123", "0123456789ab-000000000001" };
    s_publish (b, "campaign:9", 11, stamped, 7);
    assert (s_wait_runs (b, heard + 2, UINT64_MAX));
    assert (strcmp (s_seen.room, "campaign:9") == 0 && s_seen.push == PL_PUSH_ITEM_UPDATED);
    /* a control is for gateways: skipped, neither heard nor dropped */
    const char *ctl[] = { "PL01", "CTL", "", "{\"leave\":[\"campaign:7\"]}" };
    s_publish (b, "campaign:7", 11, ctl, 4);
    s_event (b, "campaign:8", "[\"item:updated\",{\"id\":\"i\"}]");
    int runs = s_seen.runs;
    assert (s_wait_runs (b, runs + 1, UINT64_MAX));
    assert (strcmp (s_seen.room, "campaign:8") == 0 && s_seen.push == PL_PUSH_ITEM_UPDATED);
    assert (pl_worker_stats (b->worker).bus_heard == 8);
    assert (pl_worker_stats (b->worker).bus_dropped == dropped);
    s_end_worker (b);
}

/* Bus calls over Redis: commands, a rerun after a conflict, their events
 * on the bus, and the bound on calls at once (batch: the coroutine
 * runtime, else one at a time). key: a fresh key prefix. */
static void
s_test_live (s_bus_t *b, const char *dir, const char *url, bool batch, const char *key)
{
    s_worker (b, dir, url, 3);
    memset (&s_seen, 0, sizeof s_seen);

    /* a Redis command, one rerun, and the event of the run that won; the
     * run acts as a user, and the rerun starts as nobody again (on_bus
     * asserts the caller empty first) */
    s_seen.conflicts = 1;
    pl_worker_stats_t before = pl_worker_stats (b->worker);
    char packet[128];
    snprintf (packet, sizeof packet, "[\"actor:updated\",{\"as\":\"gm-r\",\"incr\":\"%s:k\"}]",
              key);
    s_event (b, "campaign:1", packet);
    pl_zmsg_t msg;
    assert (s_wait_gw (b, &msg));
    assert (msg.count == 7 && zmq_msg_size (&msg.frame[0]) == 7);
    assert (memcmp (zmq_msg_data (&msg.frame[0]), "user:t\0", 7) == 0);
    assert (pl_zmsg_is (&msg, 4, "[\"actor:updated\",{\"n\":2}]"));
    pl_zmsg_close (&msg);
    assert (s_seen.runs == 2);
    assert (pl_worker_stats (b->worker).retries == before.retries + 1);

    /* 20 at once, 3 bus calls at most: every one runs, never more than 3
     * parked together, and each publishes once */
    s_seen.runs = 0;
    snprintf (packet, sizeof packet, "[\"item:updated\",{\"incr\":\"%s:m\"}]", key);
    int forwarded = b->forwarded;
    for (int i = 0; i < 20; i++)
        s_event (b, i % 2 ? "campaign:2" : "session:2", packet);
    /* let them all reach the worker's SUB before it reads any: the proxy
     * alone is pumped, then ipc gets a moment */
    int64_t deadline = pl_id_mono_ms () + 3000;
    while (b->forwarded < forwarded + 20 && pl_id_mono_ms () < deadline) {
        zmq_poll (NULL, 0, 5);
        s_pump (b);
    }
    assert (b->forwarded == forwarded + 20);
    zmq_poll (NULL, 0, 50);
    int got = 0;
    bool seen[21] = { false };
    while (got < 20) {
        assert (s_wait_gw (b, &msg));
        cJSON *packet = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[4]),
                                               zmq_msg_size (&msg.frame[4]));
        int n = cJSON_GetObjectItem (cJSON_GetArrayItem (packet, 1), "n")->valueint;
        assert (n >= 1 && n <= 20 && !seen[n]);
        seen[n] = true;
        cJSON_Delete (packet);
        pl_zmsg_close (&msg);
        got++;
    }
    assert (s_seen.runs == 20);
    assert (s_seen.inflight_max == (batch ? 3 : 1));
    s_end_worker (b);
}

void
pl_worker_sub_test (bool verbose)
{
    if (verbose)
        printf (" * pl_worker_sub: ");
    char dir[] = "/tmp/pl-worker-sub-XXXXXX";
    assert (mkdtemp (dir));
    char backend[128], xsub[128], xpub[128];
    snprintf (backend, sizeof backend, "ipc://%s/backend.ipc", dir);
    snprintf (xsub, sizeof xsub, "ipc://%s/in.ipc", dir);
    snprintf (xpub, sizeof xpub, "ipc://%s/out.ipc", dir);

    s_bus_t b = { .zctx = zmq_ctx_new () };
    b.router = zmq_socket (b.zctx, ZMQ_ROUTER);
    b.xsub = zmq_socket (b.zctx, ZMQ_XSUB);
    b.xpub = zmq_socket (b.zctx, ZMQ_XPUB);
    b.pub = zmq_socket (b.zctx, ZMQ_XPUB);
    b.gw = zmq_socket (b.zctx, ZMQ_SUB);
    int zero = 0;
    void *all[] = { b.router, b.xsub, b.xpub, b.pub, b.gw };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert (zmq_setsockopt (all[i], ZMQ_LINGER, &zero, sizeof zero) == 0);
    assert (zmq_bind (b.router, backend) == 0);
    assert (zmq_bind (b.xsub, xsub) == 0);
    /* every subscription is passed up, a repeated one too, so the test
     * can wait for each worker's */
    int one = 1;
    assert (zmq_setsockopt (b.xpub, ZMQ_XPUB_VERBOSE, &one, sizeof one) == 0);
    assert (zmq_bind (b.xpub, xpub) == 0);
    /* the proxy subscribes upstream to everything (broker/pl_evproxy) */
    assert (zmq_send (b.xsub, "\x01", 1, 0) == 1);
    /* the publishing worker: wait until the proxy's subscription reached it */
    assert (zmq_connect (b.pub, xsub) == 0);
    /* (the XSUB sends it on the new pipe once its owner calls into it) */
    char sub[8];
    zmq_pollitem_t item = { b.pub, 0, ZMQ_POLLIN, 0 };
    int64_t deadline = pl_id_mono_ms () + 3000;
    while (zmq_poll (&item, 1, 5) == 0 && pl_id_mono_ms () < deadline)
        s_pump (&b);
    assert (zmq_recv (b.pub, sub, sizeof sub, ZMQ_DONTWAIT) == 1 && sub[0] == 1);
    /* a gateway that hears user:t */
    assert (zmq_connect (b.gw, xpub) == 0);
    assert (zmq_setsockopt (b.gw, ZMQ_SUBSCRIBE, "user:t\0", 7) == 0);
    assert (s_wait_subs (&b, 1));

    /* the coroutine runtime, then one request at a time (bus calls run
     * synchronously, one after the other) */
    const char *batch = getenv ("PARLEY_WORKER_BATCH");
    char *saved = batch ? strdup (batch) : NULL;
    pl_redis__test_t redis;
    bool live = pl_redis__test_start (&redis, "worker-sub", verbose);
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 0)
            setenv ("PARLEY_WORKER_BATCH", "1", 1);
        else
            setenv ("PARLEY_WORKER_BATCH", "0", 1);
        s_test_decode (&b, dir);
        if (live)
            s_test_live (&b, dir, redis.url, mode == 0, mode == 0 ? "batch" : "one");
    }
    pl_redis__test_stop (&redis);
    if (saved)
        setenv ("PARLEY_WORKER_BATCH", saved, 1);
    else
        unsetenv ("PARLEY_WORKER_BATCH");
    free (saved);

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        zmq_close (all[i]);
    zmq_ctx_term (b.zctx);
    const char *files[] = { "backend.ipc", "in.ipc", "out.ipc" };
    for (size_t i = 0; i < 3; i++) {
        char path[200];
        snprintf (path, sizeof path, "%s/%s", dir, files[i]);
        unlink (path);
    }
    rmdir (dir);
    if (verbose)
        printf ("OK\n");
}
