/*  mode_connect - how fast connections open, and what one costs the server.
 *
 *  Phases: 0 open every connection (paced by --rate, at most --concurrency
 *  handshakes in flight), 1 hold them all for --hold s answering pings,
 *  2 done. Connection g (over all loops) authenticates as user
 *  conn-<nonce>-<g % users>. With --gateway-pid, the gateway's VmRSS is read
 *  before anything opens, when all are connected, and at the end of the
 *  hold; RSS per connection = (end - before) / connected.
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_OPENING, S_SETTLED, S_HOLD, S_HELD, S_DONE };

typedef struct s_shard s_shard_t;
struct s_shard {
    pl_loadrun_t *run;
    s_shard_t *all;                 /* every loop's shard (progress)        */
    uint32_t index, loops;          /* this loop, and how many              */
    uint32_t count;                 /* connections in this loop             */
    pl_loadnet_t *net;
    int stage;                      /* S_*                                  */
    int64_t hold_end;               /* end of the hold (ns)                 */
    int64_t next_progress;          /* loop 0: next progress line           */
    int64_t last_ready;             /* when the last connection came up     */
    uint32_t ready, failed;         /* PL_LOADRUN_* counters (progress)     */
    long rss_connected, rss_end;    /* loop 0, kB                           */
    double cpu_connected;           /* loop 0: gateway CPU s, all connected */
};

/* pl_loadnet callback, this shard's loop: the JWT sub of slot i. */
static int
s_sub (void *mode, uint32_t i, char *out, size_t size)
{
    s_shard_t *sh = mode;
    const pl_loadopt_t *o = sh->run->opts;
    uint64_t g = sh->index + (uint64_t) i * sh->loops;
    int n = snprintf (out, size, "conn-%s-%llu", sh->run->nonce,
                      (unsigned long long) (g % o->users));
    return n < 0 || (size_t) n >= size ? -1 : n;
}

/* pl_loadnet callback, this shard's loop: slot i connected. */
static void
s_ready (void *mode, uint32_t i, int64_t now)
{
    s_shard_t *sh = mode;
    (void) i;
    sh->last_ready = now;
    PL_LOADRUN_INC (sh->ready);
    if (sh->ready + sh->failed == sh->count)
        pl_loadnet_poke (sh->net);
}

/* pl_loadnet callback, this shard's loop: a Socket.IO packet on slot i. */
static void
s_message (void *mode, uint32_t i, const char *msg, size_t len, int64_t now)
{
    /* nobody writes as these users: nothing to receive but pings */
    (void) mode, (void) i, (void) msg, (void) len, (void) now;
}

/* pl_loadnet callback, this shard's loop: slot i failed or went down. */
static void
s_down (void *mode, uint32_t i, pl_lfail_t why, bool was_ready)
{
    s_shard_t *sh = mode;
    (void) i, (void) why;
    if (!was_ready)
        PL_LOADRUN_INC (sh->failed);
    if (sh->ready + sh->failed == sh->count)
        pl_loadnet_poke (sh->net);
}

static void
s_progress (s_shard_t *sh)
{
    uint64_t ready = 0, failed = 0, live = 0;
    for (uint32_t k = 0; k < sh->loops; k++) {
        ready += PL_LOADRUN_GET (sh->all[k].ready);
        failed += PL_LOADRUN_GET (sh->all[k].failed);
    }
    live = ready;                   /* drops show in the summary */
    pl_loadrun_progress (sh->run, "%llu connected, %llu failed of %u",
                         (unsigned long long) live, (unsigned long long) failed,
                         sh->run->opts->conns);
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
    switch (sh->stage) {
        case S_OPENING:
            if (sh->ready + sh->failed < sh->count && !stop)
                return next;
            pl_loadrun_arrive (run, 0);
            sh->stage = S_SETTLED;
            /* fall through */
        case S_SETTLED:
            if (pl_loadrun_phase (run) < 1)
                return next;
            sh->hold_end = run->phase_at[1] + (int64_t) (o->hold * 1e9);
            if (sh->index == 0) {
                s_progress (sh);
                if (o->gateway_pid) {
                    sh->rss_connected = pl_loadrun_rss_kb (o->gateway_pid);
                    sh->cpu_connected = pl_loadrun_cpu_s (o->gateway_pid);
                }
            }
            sh->stage = S_HOLD;
            /* fall through */
        case S_HOLD:
            if (now < sh->hold_end && !stop)
                return sh->hold_end < next ? sh->hold_end : next;
            if (sh->index == 0 && o->gateway_pid)
                sh->rss_end = pl_loadrun_rss_kb (o->gateway_pid);
            pl_loadrun_arrive (run, 1);
            sh->stage = S_HELD;
            /* fall through */
        case S_HELD:
            if (pl_loadrun_phase (run) < 2)
                return next;
            sh->stage = S_DONE;
            pl_loadnet_stop (sh->net);
            return INT64_MAX;
        default:
            return INT64_MAX;
    }
}

static const pl_loadnet_ops_t s_ops = {
    .sub = s_sub, .ready = s_ready, .message = s_message, .down = s_down,
    .tick = s_tick, .interrupt = pl_loadrun_on_interrupt,
};

int
pl_load_connect (const pl_loadopt_t *o)
{
    int rc = 1;
    pl_loadrun_t run;
    uint32_t loops = o->threads;
    s_shard_t *shards = NULL;
    pl_loadnet_t **nets = NULL;
    cJSON *sum = NULL;
    bool printed = false;
    if (pl_loadrun_init (&run, o, (uint64_t) o->conns + 64) != 0)
        goto cleanup;
    shards = calloc (loops, sizeof *shards);
    nets = calloc (loops, sizeof *nets);
    if (!shards || !nets)
        goto cleanup;
    long rss_before = o->gateway_pid ? pl_loadrun_rss_kb (o->gateway_pid) : -1;
    double cpu_before = o->gateway_pid ? pl_loadrun_cpu_s (o->gateway_pid) : -1;
    if (o->gateway_pid && rss_before < 0) {
        fprintf (stderr, "parley-load: cannot read /proc/%d/status\n", o->gateway_pid);
        goto cleanup;
    }
    for (uint32_t k = 0; k < loops; k++) {
        s_shard_t *sh = &shards[k];
        sh->run = &run;
        sh->all = shards;
        sh->index = k;
        sh->loops = loops;
        sh->count = (o->conns - k + loops - 1) / loops;
        pl_loadnet_opts_t no = pl_loadrun_net_opts (&run, k, sh->count);
        sh->net = nets[k] = pl_loadnet_new (&no, &s_ops, sh);
        if (!sh->net)
            goto cleanup;
        uint32_t conc = o->concurrency / loops ? o->concurrency / loops : 1;
        pl_loadnet_open (sh->net, 0, sh->count, o->rate / loops, conc);
    }
    pl_loadrun_set_loops (&run, nets, loops);
    run.phase_at[0] = pl_loadnet_now ();
    fprintf (stderr, "parley-load connect: %u connections to %s:%d, users conn-%s-*, "
             "rate %g/s, hold %g s\n", o->conns, o->host, o->port, run.nonce, o->rate, o->hold);
    if (pl_loadrun_loops (nets, loops) != 0)
        goto cleanup;

    /* results */
    uint64_t connected = 0;
    int64_t last_ready = run.phase_at[0];
    for (uint32_t k = 0; k < loops; k++) {
        pl_loadnet_stats_t st;
        pl_loadnet_stats (nets[k], &st);
        connected += st.connected;
        if (shards[k].last_ready > last_ready)
            last_ready = shards[k].last_ready;
    }
    double connect_s = (double) (last_ready - run.phase_at[0]) / 1e9;
    sum = pl_loadrun_summary (&run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (
                             (double) (pl_loadnet_now () - run.started) / 1e9, 3));
    cJSON_AddNumberToObject (sum, "conns", o->conns);
    cJSON_AddNumberToObject (sum, "users", o->users);
    cJSON_AddNumberToObject (sum, "target_rate", o->rate);
    cJSON_AddNumberToObject (sum, "connected", (double) connected);
    cJSON_AddNumberToObject (sum, "connect_s", pl_loadrun_round (connect_s, 3));
    pl_loadrun_add_rate (sum, (double) connected, connect_s, "connects/s");
    cJSON_AddNumberToObject (sum, "hold_s", o->hold);
    if (o->gateway_pid) {
        long end = shards[0].rss_end > 0 ? shards[0].rss_end : pl_loadrun_rss_kb (o->gateway_pid);
        cJSON_AddNumberToObject (sum, "gateway_pid", o->gateway_pid);
        cJSON_AddNumberToObject (sum, "rss_before_kb", (double) rss_before);
        cJSON_AddNumberToObject (sum, "rss_connected_kb", (double) shards[0].rss_connected);
        cJSON_AddNumberToObject (sum, "rss_after_kb", (double) end);
        cJSON_AddNumberToObject (sum, "rss_per_conn_bytes", connected && end > 0
                                 ? (double) (int64_t) ((double) (end - rss_before) * 1024.0 / (double) connected)
                                 : 0);
        /* the connect phase's cost on the server side */
        pl_loadrun_add_cpu (sum, cpu_before, shards[0].cpu_connected,
                            (double) (run.phase_at[1] - run.phase_at[0]) / 1e9);
    }
    pl_loadrun_codes_t none = { 0 };
    pl_loadrun_add_codes (sum, &none);         /* no requests: always {} */
    pl_loadrun_add_nets (sum, nets, loops);
    /* the mode's main latency is the handshake: also as p50_ms ... */
    pl_loadhist_t *hs = pl_loadhist_new ();
    for (uint32_t k = 0; hs && k < loops; k++) {
        pl_loadnet_stats_t st;
        pl_loadnet_stats (nets[k], &st);
        pl_loadhist_merge (hs, st.handshake);
    }
    if (hs)
        pl_loadrun_add_latency (sum, hs, "");
    pl_loadhist_destroy (&hs);
    rc = pl_loadrun_print_ok (&sum, connected > 0);
    printed = true;
cleanup:
    if (!printed)
        pl_loadrun_print_error (o, "setup failed (see stderr)");
    for (uint32_t k = 0; nets && k < loops; k++)
        pl_loadnet_destroy (&nets[k]);
    free (nets);
    free (shards);
    pl_loadrun_fini (&run);
    return rc;
}
