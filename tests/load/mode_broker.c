/*  mode_broker - the broker tier's ceiling, without gateway or workers.
 *
 *  parley-load plays both sides of a running parley-broker:
 *    - --workers echo workers (threads, pl_loadzmq_echo_thread) on the
 *      backend, registered as service "echo" with --credit;
 *    - --clients DEALERs on the frontend, each keeping --window REQs
 *      (service "echo") in flight, flat out.
 *  It first asks the broker STATUS until all echo workers are registered
 *  (bounded by --timeout), then runs --duration s and waits up to --drain s
 *  for the replies still due. The request id carries the send time, so a
 *  reply is its own latency sample.
 *
 *  The clients run on this thread, in one zmq_poll over their sockets and
 *  the signalfd; the echo workers on their own threads. On a 2-core box the
 *  broker, the workers and the clients share the cores: the number is the
 *  ceiling of this whole arrangement, which bounds the broker's from below.
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"
#include "pl_loadzmq.h"
#include "pl_proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define S_SERVICE "echo"
#define S_EVENT   "echo:ping"
#define S_BODY    "{\"name\":\"load\",\"type\":\"bench\",\"hp\":10}"

typedef struct {
    void *sock;                     /* DEALER on the frontend               */
    uint32_t inflight;
    uint64_t seq;
} s_client_t;

typedef struct {
    pl_loadrun_t run;
    void *zctx;
    s_client_t *clients;
    zmq_pollitem_t *items;          /* clients, then the signalfd           */
    char *ctx;                      /* the caller context frame             */
    pl_loadhist_t *latency;
    pl_loadrun_codes_t errors;
    bool running;                   /* sending new requests                 */
    int64_t end;
    uint64_t sent, replies, ok, failed, inflight, in_window, send_failed;
} s_broker_t;

/* One REQ on client c. */
static void
s_send (s_broker_t *b, uint32_t c, int64_t now)
{
    s_client_t *cl = &b->clients[c];
    uint8_t rid[PL_LOADZMQ_RID];
    pl_loadzmq_rid (rid, cl->seq++, now);
    pl_zmsg_part_t parts[] = {
        { PL_PROTO_VERSION, 4 }, { PL_CMD_REQ, 3 }, { S_SERVICE, sizeof S_SERVICE - 1 },
        { rid, sizeof rid }, { S_EVENT, sizeof S_EVENT - 1 }, { b->ctx, strlen (b->ctx) },
        { S_BODY, sizeof S_BODY - 1 },
    };
    if (pl_zmsg_send (cl->sock, parts, 7) != 0) {
        b->send_failed++;
        return;
    }
    cl->inflight++;
    b->inflight++;
    b->sent++;
}

/* Drain client c's replies. */
static void
s_on_client (s_broker_t *b, uint32_t c)
{
    s_client_t *cl = &b->clients[c];
    pl_zmsg_t msg;
    while (pl_zmsg_recv (cl->sock, &msg) == 0) {
        int64_t now = pl_loadnet_now ();
        size_t rlen = 0, blen = 0;
        const void *rid = pl_zmsg_data (&msg, 2, &rlen);
        const char *body = pl_zmsg_data (&msg, 3, &blen);
        int64_t sent = pl_loadzmq_rid_sent (rid, rlen);
        if (msg.count == 4 && pl_zmsg_is (&msg, 0, PL_PROTO_VERSION)
        &&  pl_zmsg_is (&msg, 1, PL_CMD_REP) && sent >= 0) {
            cl->inflight--;
            b->inflight--;
            b->replies++;
            pl_loadhist_record (b->latency, now > sent ? (uint64_t) (now - sent) : 0);
            /* an echo is the body; the broker's own answers are errors */
            if (blen > 11 && memmem (body, blen < 32 ? blen : 32, "\"success\":false", 15)) {
                b->failed++;
                pl_loadrun_code_from_ack (&b->errors, body, blen);
            }
            else {
                b->ok++;
                if (now <= b->end)
                    b->in_window++;
            }
            if (b->running)
                s_send (b, c, now);
        }
        pl_zmsg_close (&msg);
    }
}

/* Ask STATUS until `workers` echo workers are registered. 0 or -1. */
static int
s_wait_workers (s_broker_t *b, uint32_t workers, int64_t deadline)
{
    void *sock = b->clients[0].sock;
    char want[64];
    snprintf (want, sizeof want, "\"" S_SERVICE "\":{\"workers\":%u", workers);
    while (pl_loadnet_now () < deadline && !pl_loadrun_interrupted (&b->run)) {
        pl_zmsg_part_t parts[] = { { PL_PROTO_VERSION, 4 }, { PL_CMD_STATUS, 6 } };
        if (pl_zmsg_send (sock, parts, 2) != 0)
            return -1;
        /* the answer, or 100 ms: a poll, not a sleep */
        zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) > 0) {
            pl_zmsg_t msg;
            while (pl_zmsg_recv (sock, &msg) == 0) {
                size_t n = 0;
                const char *status = pl_zmsg_data (&msg, 2, &n);
                bool done = pl_zmsg_is (&msg, 1, PL_CMD_STATUS) && status
                         && memmem (status, n, want, strlen (want));
                pl_zmsg_close (&msg);
                if (done)
                    return 0;
            }
            /* let a slow STATUS answer arrive before asking again */
            zmq_poll (&item, 1, 100);
        }
    }
    return -1;
}

int
pl_load_broker (const pl_loadopt_t *o)
{
    int rc = 1;
    bool printed = false;
    s_broker_t b = { 0 };
    pl_loadzmq_echo_t *echo = NULL;
    pthread_t *tids = NULL;
    uint32_t started = 0;
    int stop_fd = -1;
    cJSON *sum = NULL;
    const char *error = "setup failed (see stderr)";
    if (pl_loadrun_init (&b.run, o, (uint64_t) o->clients * 2 + o->workers * 2 + 64) != 0)
        goto cleanup;
    b.zctx = zmq_ctx_new ();
    b.latency = pl_loadhist_new ();
    b.clients = calloc (o->clients, sizeof *b.clients);
    b.items = calloc (o->clients + 1, sizeof *b.items);
    echo = calloc (o->workers, sizeof *echo);
    tids = calloc (o->workers, sizeof *tids);
    stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    char user[64], gw[64];
    snprintf (user, sizeof user, "load-%s", b.run.nonce);
    snprintf (gw, sizeof gw, "gw-load-%s", b.run.nonce);
    b.ctx = pl_proto_ctx_encode (gw, "1", user, NULL);
    if (!b.zctx || !b.latency || !b.clients || !b.items || !echo || !tids || stop_fd < 0 || !b.ctx)
        goto cleanup;
    b.end = INT64_MAX;

    /* echo workers */
    for (; started < o->workers; started++) {
        pl_loadzmq_echo_t *e = &echo[started];
        e->zctx = b.zctx;
        e->endpoint = o->backend;
        e->service = S_SERVICE;
        e->credit = (int) o->credit;
        e->heartbeat_ms = o->heartbeat_ms;
        e->stop_fd = stop_fd;
        if (pthread_create (&tids[started], NULL, pl_loadzmq_echo_thread, e) != 0)
            goto cleanup;
    }
    /* clients */
    for (uint32_t c = 0; c < o->clients; c++) {
        int hwm = 100000, linger = 0;
        void *s = zmq_socket (b.zctx, ZMQ_DEALER);
        b.clients[c].sock = s;
        if (!s
        ||  zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger)
        ||  zmq_setsockopt (s, ZMQ_SNDHWM, &hwm, sizeof hwm)
        ||  zmq_setsockopt (s, ZMQ_RCVHWM, &hwm, sizeof hwm)
        ||  zmq_connect (s, o->frontend)) {
            fprintf (stderr, "parley-load: cannot connect to %s: %s\n", o->frontend,
                     zmq_strerror (errno));
            goto cleanup;
        }
        b.items[c] = (zmq_pollitem_t) { s, 0, ZMQ_POLLIN, 0 };
    }
    b.items[o->clients] = (zmq_pollitem_t) { NULL, b.run.signal_fd, ZMQ_POLLIN, 0 };
    fprintf (stderr, "parley-load broker: %u echo workers on %s, %u clients on %s, window %u, "
             "%g s\n", o->workers, o->backend, o->clients, o->frontend, o->window, o->duration);
    if (s_wait_workers (&b, o->workers, pl_loadnet_now () + (int64_t) (o->timeout * 1e9)) != 0) {
        error = "the echo workers did not register with the broker in time (is it running "
                "on those endpoints?)";
        fprintf (stderr, "parley-load: %s\n", error);
        goto cleanup;
    }

    /* run, then drain */
    int64_t start = pl_loadnet_now ();
    b.end = start + (int64_t) (o->duration * 1e9);
    int64_t drain_end = INT64_MAX, next_progress = start + (int64_t) (o->progress * 1e9);
    b.running = true;
    for (uint32_t c = 0; c < o->clients; c++)
        for (uint32_t k = 0; k < o->window; k++)
            s_send (&b, c, start);
    while (true) {
        int64_t now = pl_loadnet_now ();
        if (b.running && (now >= b.end || pl_loadrun_interrupted (&b.run))) {
            b.running = false;
            if (now < b.end)
                b.end = now;
            drain_end = now + (int64_t) (o->drain * 1e9);
        }
        if (!b.running && (b.inflight == 0 || now >= drain_end || pl_loadrun_interrupted (&b.run)))
            break;
        if (o->progress > 0 && now >= next_progress) {
            pl_loadrun_progress (&b.run, "sent %llu, replies %llu, errors %llu",
                                 (unsigned long long) b.sent, (unsigned long long) b.replies,
                                 (unsigned long long) b.failed);
            next_progress = now + (int64_t) (o->progress * 1e9);
        }
        int64_t wake = b.running ? b.end : drain_end;
        if (o->progress > 0 && next_progress < wake)
            wake = next_progress;
        long ms = wake > now ? (long) ((wake - now + 999999) / 1000000) : 0;
        if (zmq_poll (b.items, (int) o->clients + 1, ms) < 0 && errno != EINTR)
            break;
        for (uint32_t c = 0; c < o->clients; c++)
            if (b.items[c].revents & ZMQ_POLLIN)
                s_on_client (&b, c);
        if (b.items[o->clients].revents & ZMQ_POLLIN) {
            char buf[128];
            if (read (b.run.signal_fd, buf, sizeof buf) > 0)
                pl_loadrun_interrupt (&b.run);
        }
    }
    double secs = (double) (b.end - start) / 1e9;

    /* summary */
    uint64_t served = 0, registrations = 0;
    for (uint32_t k = 0; k < started; k++) {
        served += atomic_load (&echo[k].served);
        registrations += atomic_load (&echo[k].registrations);
    }
    sum = pl_loadrun_summary (&b.run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (secs, 3));
    cJSON_AddStringToObject (sum, "frontend", o->frontend);
    cJSON_AddStringToObject (sum, "backend", o->backend);
    cJSON_AddNumberToObject (sum, "workers", o->workers);
    cJSON_AddNumberToObject (sum, "credit", o->credit);
    cJSON_AddNumberToObject (sum, "clients", o->clients);
    cJSON_AddNumberToObject (sum, "window", o->window);
    cJSON_AddNumberToObject (sum, "sent", (double) b.sent);
    cJSON_AddNumberToObject (sum, "acked", (double) b.ok);
    cJSON_AddNumberToObject (sum, "failed", (double) b.failed);
    cJSON_AddNumberToObject (sum, "unanswered", (double) b.inflight);
    cJSON_AddNumberToObject (sum, "send_failed", (double) b.send_failed);
    cJSON_AddNumberToObject (sum, "served", (double) served);
    cJSON_AddNumberToObject (sum, "registrations", (double) registrations);
    pl_loadrun_add_rate (sum, (double) b.in_window, secs, "replies/s");
    pl_loadrun_add_latency (sum, b.latency, "");
    pl_loadrun_add_codes (sum, &b.errors);
    bool ok = b.ok > 0;
    rc = pl_loadrun_print_ok (&sum, ok);
    printed = true;
cleanup:
    if (!printed)
        pl_loadrun_print_error (o, error);
    if (stop_fd >= 0) {
        uint64_t one = 1;
        if (write (stop_fd, &one, sizeof one) < 0)
            fprintf (stderr, "parley-load: cannot stop the echo workers\n");
    }
    for (uint32_t k = 0; k < started; k++)
        pthread_join (tids[k], NULL);
    for (uint32_t c = 0; b.clients && c < o->clients; c++)
        if (b.clients[c].sock)
            zmq_close (b.clients[c].sock);
    if (b.zctx)
        zmq_ctx_term (b.zctx);
    if (stop_fd >= 0)
        close (stop_fd);
    free (b.clients);
    free (b.items);
    free (b.ctx);
    free (echo);
    free (tids);
    pl_loadhist_destroy (&b.latency);
    pl_loadrun_fini (&b.run);
    return rc;
}
