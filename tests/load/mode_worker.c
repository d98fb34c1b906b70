/*  mode_worker - one worker's ceiling, bypassing the broker.
 *
 *  parley-load plays the broker's backend: it binds a ROUTER at --bind and
 *  waits (up to --timeout s) for a worker's READY, e.g. a parley-actors
 *  started with PARLEY_BROKER_BACKEND set to the same endpoint. Then it
 *  keeps exactly the credit the worker announced in flight with REQs
 *  actor:create (caller context from pl_proto_ctx_encode, users
 *  wk-<nonce>-<k % --users>), answers nothing but sends the heartbeat every
 *  --heartbeat-ms, for --duration s, and waits up to --drain s for the last
 *  replies. The request id carries the send time (pl_loadzmq_rid).
 *
 *  Only the first worker to say READY is driven; a second one is ignored
 *  (and counted), since the point is one worker's ceiling.
 *
 *  --reads P makes P% of the requests reads: first, unmeasured, every
 *  reader (users wr-<nonce>-<k % --users>, their own connections) creates
 *  S_READER_ACTORS actors; then request k with k % 100 < P is a read of
 *  reader k % --users, actor:get of one of its actors when k is even,
 *  actor:list (ZRANGE, then MGET: two dependent reads) when odd. Readers
 *  never create during the run, so a list stays S_READER_ACTORS long.
 *  --writes W makes the next W% (k % 100 in [P, P + W)) actor:update of
 *  one of the reader's actors by the reader ({id, hp: k}): a WATCH / MULTI
 *  / EXEC transaction in the worker.
 *
 *  Mode roll is the same against a parley-rules: every request is
 *  roll {room: "user:<its user>", expression: --expression}, so rolls/s
 *  on one worker. A user room needs no Redis read to authorize (a
 *  campaign room would add one HGET of the member's role); each roll then
 *  parses, draws its faces from getrandom, appends to the room's chat
 *  history (one script) and publishes roll:result.
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"
#include "pl_loadzmq.h"
#include "pl_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_EVENT  "actor:create"
#define S_BODY   "{\"name\":\"load\",\"type\":\"bench\",\"hp\":10}"
#define S_CLIENT "parley-load"      /* the "client identity" frame we echo */
#define S_READER_ACTORS 5           /* actors each reader owns (--reads)    */
#define S_ID_MAX 64                 /* longest actor id we keep             */

typedef struct {
    pl_loadrun_t run;
    void *zctx, *router;
    uint8_t worker[256];            /* the worker's routing identity        */
    size_t worker_len;
    char service[72];               /* what it registered                   */
    uint32_t credit;                /* what it announced                    */
    char **ctx;                     /* one caller context per user          */
    char **rctx;                    /* one per reader (--reads)             */
    char **roll;                    /* roll mode: one roll body per user    */
    char (*ids)[S_ID_MAX + 1];      /* reader u's actor j: ids[u * N + j]   */
    uint32_t users, reads, writes;
    bool setup;                     /* creating the readers' actors         */
    uint64_t setup_ok, setup_failed, creates, gets, lists, updates;
    pl_loadhist_t *latency;
    pl_loadrun_codes_t errors;
    bool running;
    int64_t end, hb_at, hb_ns;
    uint64_t seq, sent, ok, failed, inflight, in_window, send_failed;
    uint64_t others, heartbeats, byes;
} s_worker_t;

static int
s_send_to_worker (s_worker_t *w, const pl_zmsg_part_t *parts, int count)
{
    pl_zmsg_part_t all[9] = { { w->worker, w->worker_len } };
    for (int i = 0; i < count && i < 8; i++)
        all[1 + i] = parts[i];
    int rc = pl_zmsg_send (w->router, all, count + 1);
    if (rc == 0)
        w->hb_at = pl_loadnet_now () + w->hb_ns;
    return rc;
}

static void
s_send_req (s_worker_t *w, int64_t now)
{
    uint8_t rid[PL_LOADZMQ_RID];
    uint64_t k = w->seq;
    const char *ctx = w->ctx[k % w->users];
    const char *event = S_EVENT, *body = S_BODY;
    char arg[S_ID_MAX + 64];
    if (w->roll) {
        event = "roll";
        body = w->roll[k % w->users];
    }
    else
    if (w->setup)
        ctx = w->rctx[k % w->users];        /* reader k % users, actor k / users */
    else
    if (k % 100 < w->reads) {
        uint32_t u = (uint32_t) (k % w->users);
        ctx = w->rctx[u];
        if (k % 2 == 0) {
            event = "actor:get";
            snprintf (arg, sizeof arg, "\"%s\"", w->ids[u * S_READER_ACTORS + k / 2 % S_READER_ACTORS]);
            body = arg;
            w->gets++;
        }
        else {
            event = "actor:list";
            body = "";
            w->lists++;
        }
    }
    else
    if (k % 100 < w->reads + w->writes) {
        uint32_t u = (uint32_t) (k % w->users);
        ctx = w->rctx[u];
        event = "actor:update";
        snprintf (arg, sizeof arg, "{\"id\":\"%s\",\"hp\":%llu}",
                  w->ids[u * S_READER_ACTORS + k / 2 % S_READER_ACTORS], (unsigned long long) k);
        body = arg;
        w->updates++;
    }
    else
        w->creates++;
    pl_loadzmq_rid (rid, w->seq++, now);
    pl_zmsg_part_t parts[] = {
        { PL_PROTO_VERSION, 4 }, { PL_CMD_REQ, 3 }, { S_CLIENT, sizeof S_CLIENT - 1 },
        { rid, sizeof rid }, { event, strlen (event) }, { ctx, strlen (ctx) },
        { body, strlen (body) },
    };
    if (s_send_to_worker (w, parts, 7) != 0) {
        w->send_failed++;
        return;
    }
    w->inflight++;
    w->sent++;
}

static bool
s_from_worker (s_worker_t *w, pl_zmsg_t *msg)
{
    size_t n = 0;
    const void *id = pl_zmsg_data (msg, 0, &n);
    return w->worker_len && n == w->worker_len && memcmp (id, w->worker, n) == 0;
}

/* Everything the ROUTER has. Runs on this (the only) thread. */
static void
s_on_router (s_worker_t *w)
{
    pl_zmsg_t msg;
    while (pl_zmsg_recv (w->router, &msg) == 0) {
        int64_t now = pl_loadnet_now ();
        if (!pl_zmsg_is (&msg, 1, PL_PROTO_VERSION) || msg.count < 3) {
            w->others++;
        }
        else
        if (pl_zmsg_is (&msg, 2, PL_CMD_READY)) {
            if (w->worker_len == 0 && msg.count == 5) {
                size_t n = 0, sl = 0, cl = 0;
                const void *id = pl_zmsg_data (&msg, 0, &n);
                const char *svc = pl_zmsg_data (&msg, 3, &sl);
                const char *credit = pl_zmsg_data (&msg, 4, &cl);
                char buf[16] = "";
                if (n <= sizeof w->worker && sl < sizeof w->service && cl < sizeof buf) {
                    memcpy (w->worker, id, n);
                    w->worker_len = n;
                    memcpy (w->service, svc, sl);
                    w->service[sl] = 0;
                    memcpy (buf, credit, cl);
                    buf[cl] = 0;
                    long c = strtol (buf, NULL, 10);
                    w->credit = c > 0 && c <= 10000 ? (uint32_t) c : 1;
                }
            }
            else
                w->others++;        /* a second worker, or a re-READY */
        }
        else
        if (!s_from_worker (w, &msg))
            w->others++;
        else
        if (pl_zmsg_is (&msg, 2, PL_CMD_REP) && msg.count == 6) {
            size_t rlen = 0, blen = 0;
            const void *rid = pl_zmsg_data (&msg, 4, &rlen);
            const char *body = pl_zmsg_data (&msg, 5, &blen);
            int64_t sent = pl_loadzmq_rid_sent (rid, rlen);
            if (sent >= 0 && w->inflight > 0 && w->setup) {
                /* a reader's actor: keep its id */
                w->inflight--;
                uint64_t k;
                memcpy (&k, rid, 8);
                const char *id = memmem (body, blen, "\"id\":\"", 6);
                const char *end = id ? memchr (id + 6, '"', blen - (size_t) (id + 6 - body)) : NULL;
                if (id && end && end - id - 6 <= S_ID_MAX && k < (uint64_t) w->users * S_READER_ACTORS) {
                    uint32_t u = (uint32_t) (k % w->users), j = (uint32_t) (k / w->users);
                    memcpy (w->ids[u * S_READER_ACTORS + j], id + 6, (size_t) (end - id - 6));
                    w->setup_ok++;
                }
                else
                    w->setup_failed++;
                if (w->seq < (uint64_t) w->users * S_READER_ACTORS)
                    s_send_req (w, now);
            }
            else
            if (sent >= 0 && w->inflight > 0) {
                w->inflight--;
                pl_loadhist_record (w->latency, now > sent ? (uint64_t) (now - sent) : 0);
                if (memmem (body, blen < 32 ? blen : 32, "\"success\":true", 14)) {
                    w->ok++;
                    if (now <= w->end)
                        w->in_window++;
                }
                else {
                    w->failed++;
                    pl_loadrun_code_from_ack (&w->errors, body, blen);
                }
                if (w->running)
                    s_send_req (w, now);
            }
        }
        else
        if (pl_zmsg_is (&msg, 2, PL_CMD_HEARTBEAT))
            w->heartbeats++;
        else
        if (pl_zmsg_is (&msg, 2, PL_CMD_DISCONNECT)) {
            w->byes++;
            w->running = false;     /* it left: nothing more will be answered */
        }
        else
            w->others++;
        pl_zmsg_close (&msg);
    }
}

/* Poll the ROUTER and the signalfd until `until`; heartbeats meanwhile. */
static void
s_poll (s_worker_t *w, int64_t until)
{
    zmq_pollitem_t items[2] = {
        { w->router, 0, ZMQ_POLLIN, 0 }, { NULL, w->run.signal_fd, ZMQ_POLLIN, 0 }
    };
    int64_t now = pl_loadnet_now ();
    if (w->worker_len && now >= w->hb_at) {
        pl_zmsg_part_t hb[] = { { PL_PROTO_VERSION, 4 }, { PL_CMD_HEARTBEAT, 2 } };
        s_send_to_worker (w, hb, 2);
    }
    int64_t wake = until;
    if (w->worker_len && w->hb_at < wake)
        wake = w->hb_at;
    long ms = wake > now ? (long) ((wake - now + 999999) / 1000000) : 0;
    if (zmq_poll (items, 2, ms) < 0)
        return;
    if (items[0].revents & ZMQ_POLLIN)
        s_on_router (w);
    if (items[1].revents & ZMQ_POLLIN) {
        char buf[128];
        if (read (w->run.signal_fd, buf, sizeof buf) > 0)
            pl_loadrun_interrupt (&w->run);
    }
}

int
pl_load_worker (const pl_loadopt_t *o)
{
    int rc = 1;
    bool printed = false;
    s_worker_t w = { 0 };
    cJSON *sum = NULL;
    const char *error = "setup failed (see stderr)";
    if (pl_loadrun_init (&w.run, o, 64) != 0)
        goto cleanup;
    w.hb_ns = (int64_t) o->heartbeat_ms * 1000000;
    w.end = INT64_MAX;
    w.users = o->users;
    w.reads = o->reads;
    w.writes = o->writes;
    w.zctx = zmq_ctx_new ();
    w.latency = pl_loadhist_new ();
    w.ctx = calloc (w.users, sizeof *w.ctx);
    w.rctx = calloc (w.users, sizeof *w.rctx);
    if (o->mode == PL_LMODE_ROLL && !(w.roll = calloc (w.users, sizeof *w.roll)))
        goto cleanup;
    w.ids = calloc ((size_t) w.users * S_READER_ACTORS, sizeof *w.ids);
    if (!w.zctx || !w.latency || !w.ctx || !w.rctx || !w.ids)
        goto cleanup;
    char gw[64];
    snprintf (gw, sizeof gw, "gw-load-%s", w.run.nonce);
    for (uint32_t u = 0; u < w.users; u++) {
        char user[64], conn[16];
        snprintf (user, sizeof user, "wk-%s-%u", w.run.nonce, u);
        snprintf (conn, sizeof conn, "%u", u + 1);
        w.ctx[u] = pl_proto_ctx_encode (gw, conn, user, NULL);
        snprintf (user, sizeof user, "wr-%s-%u", w.run.nonce, u);
        snprintf (conn, sizeof conn, "r%u", u + 1);
        w.rctx[u] = pl_proto_ctx_encode (gw, conn, user, NULL);
        if (!w.ctx[u] || !w.rctx[u])
            goto cleanup;
        if (w.roll) {
            /* cJSON writes the expression as a JSON string, whatever it holds */
            char room[80];
            snprintf (room, sizeof room, "user:wk-%s-%u", w.run.nonce, u);
            cJSON *arg = cJSON_CreateObject ();
            if (arg && cJSON_AddStringToObject (arg, "room", room)
            &&  cJSON_AddStringToObject (arg, "expression", o->expression))
                w.roll[u] = cJSON_PrintUnformatted (arg);
            cJSON_Delete (arg);
            if (!w.roll[u])
                goto cleanup;
        }
    }
    int hwm = 100000, linger = 0, mandatory = 1;
    w.router = zmq_socket (w.zctx, ZMQ_ROUTER);
    if (!w.router
    ||  zmq_setsockopt (w.router, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (w.router, ZMQ_SNDHWM, &hwm, sizeof hwm)
    ||  zmq_setsockopt (w.router, ZMQ_RCVHWM, &hwm, sizeof hwm)
    ||  zmq_setsockopt (w.router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory)
    ||  zmq_bind (w.router, o->bind)) {
        fprintf (stderr, "parley-load: cannot bind %s: %s\n", o->bind, zmq_strerror (errno));
        goto cleanup;
    }
    fprintf (stderr, "parley-load worker: waiting on %s for a worker's READY (start it with "
             "PARLEY_BROKER_BACKEND=%s)\n", o->bind, o->bind);
    int64_t deadline = pl_loadnet_now () + (int64_t) (o->timeout * 1e9);
    while (!w.worker_len && pl_loadnet_now () < deadline && !pl_loadrun_interrupted (&w.run))
        s_poll (&w, deadline);
    if (!w.worker_len) {
        error = "no worker said READY in time";
        fprintf (stderr, "parley-load: %s\n", error);
        goto cleanup;
    }
    if (w.reads || w.writes) {
        /* unmeasured: the readers' actors, credit in flight */
        uint64_t want = (uint64_t) w.users * S_READER_ACTORS;
        int64_t until = pl_loadnet_now () + (int64_t) (o->timeout * 1e9);
        w.setup = true;
        for (uint32_t k = 0; k < w.credit && w.seq < want; k++)
            s_send_req (&w, pl_loadnet_now ());
        while (w.setup_ok + w.setup_failed < want && pl_loadnet_now () < until
               && !pl_loadrun_interrupted (&w.run))
            s_poll (&w, until);
        w.setup = false;
        if (w.setup_ok < want) {
            error = "the readers' actors could not be created";
            fprintf (stderr, "parley-load: %s (%llu of %llu)\n", error,
                     (unsigned long long) w.setup_ok, (unsigned long long) want);
            goto cleanup;
        }
        w.seq = w.sent = 0;
        w.creates = w.gets = w.lists = w.updates = 0;
    }
    fprintf (stderr, "parley-load %s: service \"%s\", credit %u; sending %s%s\n",
             o->mode_name, w.service, w.credit, w.roll ? "roll" : S_EVENT,
             w.reads ? " and reads" : "");

    int64_t start = pl_loadnet_now ();
    w.end = start + (int64_t) (o->duration * 1e9);
    int64_t drain_end = INT64_MAX, next_progress = start + (int64_t) (o->progress * 1e9);
    w.running = true;
    for (uint32_t k = 0; k < w.credit; k++)
        s_send_req (&w, start);
    while (true) {
        int64_t now = pl_loadnet_now ();
        if (w.running && (now >= w.end || pl_loadrun_interrupted (&w.run)))
            w.running = false;
        if (!w.running && drain_end == INT64_MAX) {
            if (now < w.end)
                w.end = now;
            drain_end = now + (int64_t) (o->drain * 1e9);
        }
        if (!w.running && (w.inflight == 0 || now >= drain_end || w.byes
                           || pl_loadrun_interrupted (&w.run)))
            break;
        if (o->progress > 0 && now >= next_progress) {
            pl_loadrun_progress (&w.run, "sent %llu, ok %llu, errors %llu",
                                 (unsigned long long) w.sent, (unsigned long long) w.ok,
                                 (unsigned long long) w.failed);
            next_progress = now + (int64_t) (o->progress * 1e9);
        }
        int64_t wake = w.running ? w.end : drain_end;
        if (o->progress > 0 && next_progress < wake)
            wake = next_progress;
        s_poll (&w, wake);
    }
    double secs = (double) (w.end - start) / 1e9;

    sum = pl_loadrun_summary (&w.run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (secs, 3));
    cJSON_AddStringToObject (sum, "bind", o->bind);
    cJSON_AddStringToObject (sum, "service", w.service);
    cJSON_AddNumberToObject (sum, "credit", w.credit);
    cJSON_AddNumberToObject (sum, "window", w.credit);
    cJSON_AddNumberToObject (sum, "users", w.users);
    cJSON_AddNumberToObject (sum, "sent", (double) w.sent);
    cJSON_AddNumberToObject (sum, "acked", (double) w.ok);
    cJSON_AddNumberToObject (sum, "failed", (double) w.failed);
    cJSON_AddNumberToObject (sum, "unanswered", (double) w.inflight);
    cJSON_AddNumberToObject (sum, "send_failed", (double) w.send_failed);
    cJSON_AddNumberToObject (sum, "worker_heartbeats", (double) w.heartbeats);
    cJSON_AddNumberToObject (sum, "worker_byes", (double) w.byes);
    cJSON_AddNumberToObject (sum, "ignored", (double) w.others);
    cJSON_AddNumberToObject (sum, "reads_pct", w.reads);
    cJSON_AddNumberToObject (sum, "creates", (double) w.creates);
    cJSON_AddNumberToObject (sum, "gets", (double) w.gets);
    cJSON_AddNumberToObject (sum, "lists", (double) w.lists);
    cJSON_AddNumberToObject (sum, "writes_pct", w.writes);
    cJSON_AddNumberToObject (sum, "updates", (double) w.updates);
    if (w.roll) {
        cJSON_AddStringToObject (sum, "event", "roll");
        cJSON_AddStringToObject (sum, "expression", o->expression);
    }
    pl_loadrun_add_rate (sum, (double) w.in_window, secs, w.roll ? "rolls/s" : "replies/s");
    pl_loadrun_add_latency (sum, w.latency, "");
    pl_loadrun_add_codes (sum, &w.errors);
    bool ok = w.ok + w.failed > 0;
    rc = pl_loadrun_print_ok (&sum, ok);
    printed = true;
cleanup:
    if (!printed)
        pl_loadrun_print_error (o, error);
    if (w.router)
        zmq_close (w.router);
    if (w.zctx)
        zmq_ctx_term (w.zctx);
    for (uint32_t u = 0; w.ctx && u < w.users; u++)
        free (w.ctx[u]);
    for (uint32_t u = 0; w.rctx && u < w.users; u++)
        free (w.rctx[u]);
    for (uint32_t u = 0; w.roll && u < w.users; u++)
        free (w.roll[u]);
    free (w.ctx);
    free (w.rctx);
    free (w.roll);
    free (w.ids);
    pl_loadhist_destroy (&w.latency);
    pl_loadrun_fini (&w.run);
    return rc;
}
