/*  mode_rpc - request/ack throughput and latency through the whole stack
 *  (gateway -> broker -> actors worker -> Redis and back).
 *
 *  --clients connections, each its own user rpc-<nonce>-<i>, alternate
 *  actor:create and actor:get of the last actor they created, with at most
 *  --window requests in flight each.
 *
 *  Flat out (--rate 0): every client keeps its window full; latency is
 *  measured from the actual send.
 *  Open loop (--rate R): request k is *scheduled* at start + k/R (on the
 *  loop's timerfd) and goes out on any client with a free window slot; if
 *  none is free it waits in a FIFO (bounded, PL: S_BACKLOG_MAX; past it the
 *  request is dropped and counted) and goes out when an ack frees a slot.
 *  Latency is measured from the scheduled time, so a slow server cannot
 *  hide its queueing by slowing the client down (coordinated omission).
 *
 *  Phases: 0 connect; 1 run for --duration s, then wait up to --drain s
 *  for the acks still due; 2 done. "rate" counts successful acks that
 *  arrived within the --duration window.
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"
#include "pl_loadws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_OPENING, S_CONNECTED, S_RUN, S_DRAIN, S_DRAINED, S_DONE };
enum { S_OP_CREATE, S_OP_GET };

#define S_BURST       512           /* requests scheduled per tick at most  */
#define S_BACKLOG_MAX 65536         /* scheduled requests waiting for a slot */
#define S_FRAME_MAX   256
#define S_ID_MAX      64

typedef struct {
    uint64_t ack;                   /* ack id                               */
    int64_t t0;                     /* scheduled (open loop) or sent, ns    */
    uint8_t op;                     /* S_OP_*                               */
    bool used;
} s_req_t;

typedef struct {
    uint64_t next_ack;              /* next ack id                          */
    uint32_t inflight;
    bool next_get;                  /* alternate create / get               */
    char id[S_ID_MAX];              /* last actor created, "" if none       */
} s_client_t;

typedef struct s_shard s_shard_t;
struct s_shard {
    pl_loadrun_t *run;
    s_shard_t *all;
    uint32_t index, loops;
    pl_loadnet_t *net;
    uint32_t nclients, window;
    s_client_t *clients;
    s_req_t *reqs;                  /* window entries per client            */
    uint32_t *free_ring;            /* open loop: clients with a free slot  */
    uint32_t free_head, free_len, free_cap;
    int64_t *backlog;               /* open loop: scheduled times waiting   */
    uint32_t back_head, back_len;
    int stage;
    double rate;                    /* this loop's share, req/s (0 = flat)  */
    int64_t start, end, deadline;
    uint64_t scheduled;
    uint64_t inflight;              /* over all clients                     */
    int64_t next_progress;
    uint8_t frame[S_FRAME_MAX + PL_LOADWS_HDR_MAX];
    pl_loadhist_t *latency;
    pl_loadrun_codes_t errors;
    /* counters (progress reads them from loop 0) */
    uint32_t settled, ready;
    uint64_t sent, acked, acked_in_window, failed, unanswered, dropped, creates, gets;
    double cpu_start, cpu_end;      /* loop 0: gateway CPU s, phase 1       */
    int64_t cpu_end_at;             /* when cpu_end was read                */
};

/* pl_loadnet callback, this shard's loop: the JWT sub of slot i. */
static int
s_sub (void *mode, uint32_t i, char *out, size_t size)
{
    s_shard_t *sh = mode;
    uint64_t g = sh->index + (uint64_t) i * sh->loops;
    int n = snprintf (out, size, "rpc-%s-%llu", sh->run->nonce, (unsigned long long) g);
    return n < 0 || (size_t) n >= size ? -1 : n;
}

/* One request on client c, timed from t0. Returns false if it cannot go
 * (window full, or the client is down). */
static bool
s_send (s_shard_t *sh, uint32_t c, int64_t t0)
{
    s_client_t *cl = &sh->clients[c];
    s_req_t *req = NULL;
    for (uint32_t k = 0; k < sh->window; k++)
        if (!sh->reqs[(size_t) c * sh->window + k].used) {
            req = &sh->reqs[(size_t) c * sh->window + k];
            break;
        }
    if (!req)
        return false;
    uint8_t op = cl->next_get && cl->id[0] ? S_OP_GET : S_OP_CREATE;
    char *p = (char *) sh->frame + PL_LOADWS_HDR_MAX, *q = p;
    uint64_t ack = cl->next_ack++;
    *q++ = '4';
    *q++ = '2';
    q += pl_loadws_u64 (q, ack);
    if (op == S_OP_CREATE) {
        static const char a[] = "[\"actor:create\",{\"name\":\"rpc\",\"type\":\"bench\",\"hp\":10}]";
        memcpy (q, a, sizeof a - 1);
        q += sizeof a - 1;
    }
    else {
        static const char a[] = "[\"actor:get\",\"";
        memcpy (q, a, sizeof a - 1);
        q += sizeof a - 1;
        size_t n = strlen (cl->id);
        memcpy (q, cl->id, n);
        q += n;
        *q++ = '"';
        *q++ = ']';
    }
    if (pl_loadrun_send_text (sh->net, c, sh->frame, (size_t) (q - p)) != 0)
        return false;
    cl->next_get = !cl->next_get;
    req->used = true;
    req->ack = ack;
    req->t0 = t0;
    req->op = op;
    cl->inflight++;
    sh->inflight++;
    PL_LOADRUN_INC (sh->sent);
    return true;
}

/* Open loop: a free slot on client c. */
static void
s_free_push (s_shard_t *sh, uint32_t c)
{
    if (sh->free_len < sh->free_cap)    /* one entry per free slot: fits */
        sh->free_ring[(sh->free_head + sh->free_len++) % sh->free_cap] = c;
}

/* Open loop: the request scheduled at t0 goes out now, or waits. */
static void
s_dispatch (s_shard_t *sh, int64_t t0)
{
    while (sh->free_len) {
        uint32_t c = sh->free_ring[sh->free_head];
        sh->free_head = (sh->free_head + 1) % sh->free_cap;
        sh->free_len--;
        if (s_send (sh, c, t0))
            return;
        /* the client went down: its slot is gone, try the next */
    }
    if (sh->back_len == S_BACKLOG_MAX) {
        PL_LOADRUN_INC (sh->dropped);
        return;
    }
    sh->backlog[(sh->back_head + sh->back_len++) % S_BACKLOG_MAX] = t0;
}

/* pl_loadnet callback, this shard's loop: slot i connected. */
static void
s_ready (void *mode, uint32_t i, int64_t now)
{
    s_shard_t *sh = mode;
    (void) i, (void) now;
    PL_LOADRUN_INC (sh->ready);
    PL_LOADRUN_INC (sh->settled);
    if (sh->settled == sh->nclients)
        pl_loadnet_poke (sh->net);
}

/* pl_loadnet callback, this shard's loop: slot i failed or went down. */
static void
s_down (void *mode, uint32_t i, pl_lfail_t why, bool was_ready)
{
    s_shard_t *sh = mode;
    (void) why;
    if (!was_ready) {
        PL_LOADRUN_INC (sh->settled);
        if (sh->settled == sh->nclients)
            pl_loadnet_poke (sh->net);
        return;
    }
    /* its requests in flight will never be answered */
    s_client_t *cl = &sh->clients[i];
    for (uint32_t k = 0; k < sh->window; k++)
        sh->reqs[(size_t) i * sh->window + k].used = false;
    PL_LOADRUN_ADD (sh->unanswered, cl->inflight);
    sh->inflight -= cl->inflight;
    cl->inflight = 0;
    pl_loadnet_poke (sh->net);
}

/* pl_loadnet callback, this shard's loop: a Socket.IO packet on slot i. */
static void
s_message (void *mode, uint32_t c, const char *msg, size_t len, int64_t now)
{
    s_shard_t *sh = mode;
    uint64_t ack;
    size_t dlen;
    const char *data = pl_loadws_ack (msg, len, &ack, &dlen);
    if (!data)
        return;                     /* no broadcasts expected: own users */
    s_client_t *cl = &sh->clients[c];
    s_req_t *req = NULL;
    for (uint32_t k = 0; k < sh->window && !req; k++)
        if (sh->reqs[(size_t) c * sh->window + k].used
        &&  sh->reqs[(size_t) c * sh->window + k].ack == ack)
            req = &sh->reqs[(size_t) c * sh->window + k];
    if (!req)
        return;                     /* an ack we did not ask for */
    req->used = false;
    cl->inflight--;
    sh->inflight--;
    pl_loadhist_record (sh->latency, now > req->t0 ? (uint64_t) (now - req->t0) : 0);
    if (pl_loadws_ack_ok (data, dlen)) {
        PL_LOADRUN_INC (sh->acked);
        if (now <= sh->end)
            sh->acked_in_window++;
        if (req->op == S_OP_CREATE) {
            sh->creates++;
            if (pl_loadws_json_str (data, dlen, "id", cl->id, sizeof cl->id) <= 0)
                cl->id[0] = 0;
        }
        else
            sh->gets++;
    }
    else {
        PL_LOADRUN_INC (sh->failed);
        pl_loadrun_code_from_ack (&sh->errors, data, dlen);
    }
    if (sh->stage == S_RUN && now < sh->end) {
        if (sh->rate == 0)
            s_send (sh, c, now);
        else
        if (sh->back_len) {
            int64_t t0 = sh->backlog[sh->back_head];
            sh->back_head = (sh->back_head + 1) % S_BACKLOG_MAX;
            sh->back_len--;
            s_send (sh, c, t0);
        }
        else
            s_free_push (sh, c);
    }
    else
    if (sh->stage == S_DRAIN && sh->inflight == 0)
        pl_loadnet_poke (sh->net);
}

static void
s_progress (s_shard_t *sh)
{
    uint64_t ready = 0, sent = 0, acked = 0, failed = 0;
    for (uint32_t k = 0; k < sh->loops; k++) {
        ready += PL_LOADRUN_GET (sh->all[k].ready);
        sent += PL_LOADRUN_GET (sh->all[k].sent);
        acked += PL_LOADRUN_GET (sh->all[k].acked);
        failed += PL_LOADRUN_GET (sh->all[k].failed);
    }
    pl_loadrun_progress (sh->run, "clients %llu/%u, sent %llu, acked %llu, errors %llu",
                         (unsigned long long) ready, sh->run->opts->clients,
                         (unsigned long long) sent, (unsigned long long) acked,
                         (unsigned long long) failed);
}

/* Open loop: schedule what is due; returns when the next one is due. */
static int64_t
s_schedule (s_shard_t *sh, int64_t now)
{
    for (int burst = 0; burst < S_BURST; burst++) {
        int64_t due = sh->start + (int64_t) ((double) sh->scheduled * 1e9 / sh->rate);
        if (due > now)
            return due;
        sh->scheduled++;
        s_dispatch (sh, due);
    }
    return now;
}

/* The loop's timer: walk the phases. Runs on this shard's loop. */
static int64_t
s_tick (void *mode, int64_t now)
{
    s_shard_t *sh = mode;
    pl_loadrun_t *run = sh->run;
    const pl_loadopt_t *o = run->opts;
    bool stop = pl_loadrun_interrupted (run);
    int64_t next = INT64_MAX;
    if (pl_loadrun_progress_due (run, sh->index, &sh->next_progress, now, &next))
        s_progress (sh);
#define S_UNTIL(t) return (t) < next ? (t) : next
    switch (sh->stage) {
        case S_OPENING:
            if (sh->settled < sh->nclients && !stop)
                return next;
            pl_loadrun_arrive (run, 0);
            sh->stage = S_CONNECTED;
            /* fall through */
        case S_CONNECTED:
            if (pl_loadrun_phase (run) < 1)
                return next;
            sh->start = run->phase_at[1];
            sh->end = sh->start + (int64_t) (o->duration * 1e9);
            sh->stage = S_RUN;
            if (sh->index == 0 && o->gateway_pid)
                sh->cpu_start = pl_loadrun_cpu_s (o->gateway_pid);
            for (uint32_t c = 0; c < sh->nclients; c++)
                if (pl_loadnet_is_ready (sh->net, c))
                    for (uint32_t k = 0; k < sh->window; k++) {
                        if (sh->rate == 0)
                            s_send (sh, c, now);
                        else
                            s_free_push (sh, c);
                    }
            /* fall through */
        case S_RUN:
            if (now < sh->end && !stop) {
                if (sh->rate == 0)
                    S_UNTIL (sh->end);
                int64_t due = s_schedule (sh, now);
                S_UNTIL (due < sh->end ? due : sh->end);
            }
            if (now < sh->end)
                sh->end = now;
            sh->deadline = now + (int64_t) (o->drain * 1e9);
            sh->stage = S_DRAIN;
            /* fall through */
        case S_DRAIN:
            if (sh->inflight > 0 && now < sh->deadline && !stop)
                S_UNTIL (sh->deadline);
            PL_LOADRUN_ADD (sh->unanswered, sh->inflight);
            if (sh->index == 0 && o->gateway_pid) {
                sh->cpu_end = pl_loadrun_cpu_s (o->gateway_pid);
                sh->cpu_end_at = now;
            }
            pl_loadrun_arrive (run, 1);
            sh->stage = S_DRAINED;
            /* fall through */
        case S_DRAINED:
            if (pl_loadrun_phase (run) < 2)
                return next;
            sh->stage = S_DONE;
            pl_loadnet_stop (sh->net);
            return INT64_MAX;
        default:
            return INT64_MAX;
    }
#undef S_UNTIL
}

static const pl_loadnet_ops_t s_ops = {
    .sub = s_sub, .ready = s_ready, .message = s_message, .down = s_down,
    .tick = s_tick, .interrupt = pl_loadrun_on_interrupt,
};

static int
s_shard_init (s_shard_t *sh, pl_loadrun_t *run, uint32_t k, uint32_t loops)
{
    const pl_loadopt_t *o = run->opts;
    sh->run = run;
    sh->index = k;
    sh->loops = loops;
    sh->window = o->window;
    sh->nclients = (o->clients - k + loops - 1) / loops;
    sh->rate = o->rate / loops;
    sh->end = INT64_MAX;
    sh->clients = calloc (sh->nclients, sizeof *sh->clients);
    sh->reqs = calloc ((size_t) sh->nclients * sh->window, sizeof *sh->reqs);
    sh->free_cap = sh->nclients * sh->window;
    sh->free_ring = calloc (sh->free_cap, sizeof *sh->free_ring);
    sh->backlog = sh->rate > 0 ? calloc (S_BACKLOG_MAX, sizeof *sh->backlog) : NULL;
    sh->latency = pl_loadhist_new ();
    if (!sh->clients || !sh->reqs || !sh->free_ring || (sh->rate > 0 && !sh->backlog)
    ||  !sh->latency)
        return -1;
    pl_loadnet_opts_t no = pl_loadrun_net_opts (run, k, sh->nclients);
    sh->net = pl_loadnet_new (&no, &s_ops, sh);
    if (!sh->net)
        return -1;
    uint32_t conc = o->concurrency / loops ? o->concurrency / loops : 1;
    pl_loadnet_open (sh->net, 0, sh->nclients, 0, conc);
    return 0;
}

static void
s_shard_fini (s_shard_t *sh)
{
    pl_loadnet_destroy (&sh->net);
    free (sh->clients);
    free (sh->reqs);
    free (sh->free_ring);
    free (sh->backlog);
    pl_loadhist_destroy (&sh->latency);
}

int
pl_load_rpc (const pl_loadopt_t *o)
{
    int rc = 1;
    bool printed = false;
    pl_loadrun_t run;
    uint32_t loops = o->threads;
    s_shard_t *shards = NULL;
    pl_loadnet_t **nets = NULL;
    pl_loadhist_t *latency = pl_loadhist_new ();
    cJSON *sum = NULL;
    if (pl_loadrun_init (&run, o, (uint64_t) o->clients + 64) != 0 || !latency)
        goto cleanup;
    shards = calloc (loops, sizeof *shards);
    nets = calloc (loops, sizeof *nets);
    if (!shards || !nets)
        goto cleanup;
    for (uint32_t k = 0; k < loops; k++) {
        shards[k].all = shards;
        if (s_shard_init (&shards[k], &run, k, loops) != 0)
            goto cleanup;
        nets[k] = shards[k].net;
    }
    pl_loadrun_set_loops (&run, nets, loops);
    fprintf (stderr, "parley-load rpc: %u clients (users rpc-%s-*) on %s:%d, window %u, "
             "rate %g req/s (0 = flat out), %g s\n", o->clients, run.nonce, o->host, o->port,
             o->window, o->rate, o->duration);
    if (pl_loadrun_loops (nets, loops) != 0)
        goto cleanup;

    uint64_t sent = 0, acked = 0, in_window = 0, failed = 0, unanswered = 0, dropped = 0;
    uint64_t ready = 0, creates = 0, gets = 0;
    pl_loadrun_codes_t errors = { 0 };
    for (uint32_t k = 0; k < loops; k++) {
        s_shard_t *sh = &shards[k];
        sent += sh->sent;
        acked += sh->acked;
        in_window += sh->acked_in_window;
        failed += sh->failed;
        unanswered += sh->unanswered;
        dropped += sh->dropped;
        ready += sh->ready;
        creates += sh->creates;
        gets += sh->gets;
        pl_loadrun_codes_merge (&errors, &sh->errors);
        pl_loadhist_merge (latency, sh->latency);
    }
    double secs = shards[0].end != INT64_MAX && shards[0].end > shards[0].start
                ? (double) (shards[0].end - shards[0].start) / 1e9 : 0;
    sum = pl_loadrun_summary (&run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (secs, 3));
    cJSON_AddNumberToObject (sum, "clients", o->clients);
    cJSON_AddNumberToObject (sum, "window", o->window);
    cJSON_AddNumberToObject (sum, "connected", (double) ready);
    cJSON_AddNumberToObject (sum, "target_rate", o->rate);
    cJSON_AddNumberToObject (sum, "sent", (double) sent);
    cJSON_AddNumberToObject (sum, "acked", (double) acked);
    cJSON_AddNumberToObject (sum, "creates", (double) creates);
    cJSON_AddNumberToObject (sum, "gets", (double) gets);
    cJSON_AddNumberToObject (sum, "failed", (double) failed);
    cJSON_AddNumberToObject (sum, "unanswered", (double) unanswered);
    cJSON_AddNumberToObject (sum, "backlog_dropped", (double) dropped);
    pl_loadrun_add_rate (sum, (double) in_window, secs, "acks/s");
    pl_loadrun_add_latency (sum, latency, "");
    pl_loadrun_add_codes (sum, &errors);
    pl_loadrun_add_nets (sum, nets, loops);
    if (o->gateway_pid)
        pl_loadrun_add_cpu (sum, shards[0].cpu_start, shards[0].cpu_end,
                            (double) (shards[0].cpu_end_at - shards[0].start) / 1e9);
    bool ok = ready > 0 && acked + failed > 0;
    rc = pl_loadrun_print_ok (&sum, ok);
    printed = true;
cleanup:
    if (!printed)
        pl_loadrun_print_error (o, "setup failed (see stderr)");
    for (uint32_t k = 0; shards && k < loops; k++)
        s_shard_fini (&shards[k]);
    free (nets);
    free (shards);
    pl_loadhist_destroy (&latency);
    pl_loadrun_fini (&run);
    return rc;
}
