/*  mode_state - the game-state tier: versioned gameState:update commits,
 *  their acks and their gameState:updated broadcasts, with a correctness
 *  check of every version (README, "Game sessions and the game state").
 *
 *  --sessions S game sessions, each with one GM connection (user
 *  gs-<nonce>-<s>) and --receivers R more connections of the same user,
 *  so they are GMs too and need no campaign:addMember.
 *
 *  Phases:
 *    0 connect everything;
 *    1 setup, per session in turn on its GM: campaign:create, then
 *      gameSession:create {campaignId, name}, then gameSession:join; then
 *      every receiver joins too;
 *    2 each GM sends gameState:update back to back (one in flight: each is
 *      based on the newVersion of the previous ack, so none conflicts), the
 *      first `set pluginData.n 1`, the others `inc pluginData.n 1`, until
 *      its share of --updates is acked or --duration is over; then wait up
 *      to --drain s for the last acks and broadcasts; then each GM asks
 *      gameState:requestFull (within --timeout s);
 *    3 done.
 *
 *  Checks (counted, never hidden):
 *    - every ack's newVersion is the version the update was based on + 1
 *      ("version_errors" otherwise; a failed ack is counted in "errors");
 *    - every member of a session (the GM included: the sender gets its own
 *      gameState:updated) sees versions 1, 2, ... in order with
 *      previousVersion = version - 1: "gaps" counts versions skipped,
 *      "out_of_order" a version not above the last one, and at the end
 *      "lost" / "extra" compare each member's deliveries with the session's
 *      last acked version;
 *    - the final state's stateVersion and pluginData.n both equal the
 *      number of updates the session had acked ("final_mismatch").
 *
 *  With --threads, loop k owns the sessions s with s % loops == k, with all
 *  their connections, so a session's accounting never crosses threads.
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"
#include "pl_loadws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { S_OPENING, S_CONNECTED, S_SETUP, S_SET_UP, S_RUN, S_DRAIN, S_VERIFY, S_VERIFIED, S_DONE };
/* what a member's one request in flight is */
enum { W_NONE, W_CAMPAIGN, W_SESSION, W_JOIN, W_UPDATE, W_FULL };
/* a session's setup steps, then its verification */
/* a session's steps, in order: setup, running, the final read; failed and
 * verified are both ends (s_all_past relies on the order) */
enum { T_SETUP, T_READY, T_VERIFYING, T_FAILED, T_VERIFIED };

#define S_FRAME_MAX 512             /* any request we send; ids are short  */
#define S_ID_MAX    64
#define S_RING      1024            /* send times kept, by version          */

typedef struct {
    uint32_t session;               /* local session index                  */
    uint64_t next_ack;              /* next ack id                          */
    uint64_t wait_ack;              /* the ack awaited, if wait != W_NONE   */
    int wait;                       /* W_*                                  */
    bool joined;                    /* its gameSession:join was acked       */
    bool live;                      /* connected now                        */
    uint64_t last;                  /* last version delivered (in order)    */
    uint64_t delivered;             /* gameState:updated received           */
} s_member_t;

typedef struct {
    uint32_t global;                /* session number over all loops        */
    uint32_t gm;                    /* the GM's slot; receivers follow it   */
    int step;                       /* T_*                                  */
    uint32_t joins;                 /* joins acked (GM included)            */
    char campaign[S_ID_MAX];        /* campaign id                          */
    char sid[S_ID_MAX];             /* session id                           */
    uint64_t quota;                 /* updates to ack (0: only --duration)  */
    uint64_t sent, acked;           /* updates                              */
    uint64_t version;               /* last acked version: the next's base  */
    bool inflight;                  /* an update is unacknowledged          */
    int64_t t0;                     /* its send time                        */
    int64_t sent_at[S_RING];        /* send time of the update making version v, at v % S_RING */
    uint64_t final_version;         /* from gameState:requestFull           */
    int64_t final_n;                /* its pluginData.n                     */
} s_session_t;

typedef struct s_shard s_shard_t;
struct s_shard {
    pl_loadrun_t *run;              /* first (pl_loadrun_shard_ops_t)       */
    s_shard_t *all;                 /* every loop's shard (progress)        */
    uint32_t index, loops;
    pl_loadnet_t *net;
    uint32_t nsessions, per;        /* per: connections per session, 1 + R  */
    s_session_t *sessions;
    s_member_t *members;            /* one per slot                         */
    int stage;
    int64_t start, end, deadline;   /* phase 2; deadline of the current wait */
    int64_t next_progress;
    uint8_t frame[S_FRAME_MAX + PL_LOADWS_HDR_MAX];
    pl_loadhist_t *latency;         /* update -> its ack                    */
    pl_loadhist_t *delivery;        /* update sent -> gameState:updated     */
    pl_loadrun_codes_t errors;
    /* counters (progress reads them from loop 0) */
    uint32_t settled, ready;
    uint64_t sent, acked, acked_in_window, failed, unanswered, received;
    uint64_t setup_failed, version_errors, gaps, out_of_order, prev_errors;
    double cpu_start, cpu_end;      /* loop 0: gateway CPU s, phase 2       */
    int64_t cpu_end_at;             /* when cpu_end was read                */
};

/* pl_loadnet callback, this shard's loop: the JWT sub of slot i. */
static int
s_sub (void *mode, uint32_t i, char *out, size_t size)
{
    s_shard_t *sh = mode;
    int n = snprintf (out, size, "gs-%s-%u", sh->run->nonce,
                      sh->sessions[sh->members[i].session].global);
    return n < 0 || (size_t) n >= size ? -1 : n;
}

/* Send the packet 42<ack><rest> on slot, rest being printf-formatted,
 * and remember that the slot waits for that ack as `wait`. Returns 0, or
 * -1 when it could not go (too long, or the slot is down). */
static int
s_request (s_shard_t *sh, uint32_t slot, int wait, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_request (s_shard_t *sh, uint32_t slot, int wait, const char *fmt, ...)
{
    s_member_t *m = &sh->members[slot];
    char *p = (char *) sh->frame + PL_LOADWS_HDR_MAX;
    uint64_t ack = ++m->next_ack;
    size_t n = 2 + pl_loadws_u64 (p + 2, ack);
    p[0] = '4';
    p[1] = '2';
    va_list ap;
    va_start (ap, fmt);
    int k = vsnprintf (p + n, S_FRAME_MAX - n, fmt, ap);
    va_end (ap);
    if (k < 0 || (size_t) k >= S_FRAME_MAX - n
    ||  pl_loadrun_send_text (sh->net, slot, sh->frame, n + (size_t) k) != 0)
        return -1;
    m->wait = wait;
    m->wait_ack = ack;
    return 0;
}

/* A setup step failed (or its connection went down): the session takes
 * no further part. */
static void
s_setup_fail (s_shard_t *sh, s_session_t *ss)
{
    if (ss->step != T_SETUP)
        return;
    ss->step = T_FAILED;
    PL_LOADRUN_INC (sh->setup_failed);
    pl_loadnet_poke (sh->net);
}

/* The next update of session ss, based on its last acked version. */
static void
s_send_update (s_shard_t *sh, s_session_t *ss, int64_t now)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    long long ms = (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    bool first = ss->version == 0;
    if (s_request (sh, ss->gm, W_UPDATE,
                   "[\"gameState:update\",{\"id\":\"%s-%u-%llu\",\"sessionId\":\"%s\","
                   "\"version\":\"%llu\",\"operations\":[{\"path\":\"pluginData.n\","
                   "\"operation\":\"%s\",\"value\":1}],\"timestamp\":%lld}]",
                   sh->run->nonce, ss->global, (unsigned long long) ss->sent + 1, ss->sid,
                   (unsigned long long) ss->version, first ? "set" : "inc", ms) != 0)
        return;
    ss->sent++;
    ss->inflight = true;
    ss->t0 = now;
    ss->sent_at[(ss->version + 1) % S_RING] = now;
    PL_LOADRUN_INC (sh->sent);
}

/* May session ss send another update now? */
static bool
s_more (s_shard_t *sh, s_session_t *ss, int64_t now)
{
    return sh->stage == S_RUN && now < sh->end && ss->step == T_READY
        && (ss->quota == 0 || ss->sent < ss->quota) && !pl_loadrun_interrupted (sh->run);
}

/* A version from a gameState:updated or an ack: the decimal string value
 * of key, or -1. */
static int64_t
s_version (const char *buf, size_t len, const char *key)
{
    char text[24];
    if (pl_loadws_json_str (buf, len, key, text, sizeof text) <= 0)
        return -1;
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    return *end ? -1 : (int64_t) v;
}

/* A gameState:updated on slot i (any member, the GM included). */
static void
s_on_updated (s_shard_t *sh, uint32_t i, const char *msg, size_t len, int64_t now)
{
    s_member_t *m = &sh->members[i];
    s_session_t *ss = &sh->sessions[m->session];
    int64_t v = s_version (msg, len, "version");
    int64_t prev = s_version (msg, len, "previousVersion");
    m->delivered++;
    PL_LOADRUN_INC (sh->received);
    if (v < 0 || prev != v - 1)
        PL_LOADRUN_INC (sh->prev_errors);
    if (v <= (int64_t) m->last)
        PL_LOADRUN_INC (sh->out_of_order);
    else {
        PL_LOADRUN_ADD (sh->gaps, (uint64_t) v - m->last - 1);
        m->last = (uint64_t) v;
    }
    /* the send time is known while the version is among the last S_RING */
    uint64_t made = ss->version + (ss->inflight ? 1 : 0);
    if (v > 0 && (uint64_t) v <= made && made - (uint64_t) v < S_RING) {
        int64_t t = ss->sent_at[v % S_RING];
        pl_loadhist_record (sh->delivery, now > t ? (uint64_t) (now - t) : 0);
    }
    if (sh->stage == S_DRAIN)
        pl_loadnet_poke (sh->net);      /* maybe the last one */
}

/* The ack of an update on session ss's GM. */
static void
s_on_update_ack (s_shard_t *sh, s_session_t *ss, const char *data, size_t dlen, int64_t now)
{
    ss->inflight = false;
    pl_loadhist_record (sh->latency, now > ss->t0 ? (uint64_t) (now - ss->t0) : 0);
    if (pl_loadws_ack_ok (data, dlen)) {
        int64_t v = s_version (data, dlen, "newVersion");
        if (v != (int64_t) ss->version + 1)
            PL_LOADRUN_INC (sh->version_errors);
        if (v > 0)
            ss->version = (uint64_t) v;
        ss->acked++;
        PL_LOADRUN_INC (sh->acked);
        if (now <= sh->end)
            sh->acked_in_window++;
    }
    else {
        PL_LOADRUN_INC (sh->failed);
        pl_loadrun_code_from_ack (&sh->errors, data, dlen);
        /* a conflict says where the state is: carry on from there */
        int64_t cur = s_version (data, dlen, "currentVersion");
        if (cur >= 0)
            ss->version = (uint64_t) cur;
    }
    if (s_more (sh, ss, now))
        s_send_update (sh, ss, now);
    else
        pl_loadnet_poke (sh->net);      /* maybe the run or drain is over */
}

/* The ack a member waited for. */
static void
s_on_ack (s_shard_t *sh, uint32_t i, const char *data, size_t dlen, int64_t now)
{
    s_member_t *m = &sh->members[i];
    s_session_t *ss = &sh->sessions[m->session];
    int wait = m->wait;
    bool ok = pl_loadws_ack_ok (data, dlen);
    m->wait = W_NONE;
    if (!ok && wait != W_UPDATE)
        pl_loadrun_code_from_ack (&sh->errors, data, dlen);
    switch (wait) {
        case W_CAMPAIGN:
            if (!ok || pl_loadws_json_str (data, dlen, "id", ss->campaign, sizeof ss->campaign) <= 0
            ||  s_request (sh, i, W_SESSION,
                           "[\"gameSession:create\",{\"campaignId\":\"%s\",\"name\":\"load %u\"}]",
                           ss->campaign, ss->global) != 0)
                s_setup_fail (sh, ss);
            break;
        case W_SESSION:
            if (!ok || pl_loadws_json_str (data, dlen, "id", ss->sid, sizeof ss->sid) <= 0)
                s_setup_fail (sh, ss);
            else    /* every member joins: the GM, then the receivers */
                for (uint32_t k = 0; k < sh->per; k++)
                    if (s_request (sh, ss->gm + k, W_JOIN, "[\"gameSession:join\",\"%s\"]",
                                   ss->sid) != 0)
                        s_setup_fail (sh, ss);
            break;
        case W_JOIN:
            if (!ok)
                s_setup_fail (sh, ss);
            else {
                m->joined = true;
                if (++ss->joins == sh->per && ss->step == T_SETUP) {
                    ss->step = T_READY;
                    pl_loadnet_poke (sh->net);
                }
            }
            break;
        case W_UPDATE:
            s_on_update_ack (sh, ss, data, dlen, now);
            break;
        case W_FULL:
            ss->step = T_VERIFIED;
            if (ok) {
                int64_t v = s_version (data, dlen, "stateVersion");
                ss->final_version = v < 0 ? UINT64_MAX : (uint64_t) v;
                if (!pl_loadws_json_int (data, dlen, "n", &ss->final_n))
                    ss->final_n = -1;
            }
            pl_loadnet_poke (sh->net);
            break;
        default:
            break;
    }
}

/* pl_loadnet callback, this shard's loop: a Socket.IO packet on slot i. */
static void
s_message (void *mode, uint32_t i, const char *msg, size_t len, int64_t now)
{
    s_shard_t *sh = mode;
    static const char ev[] = "42[\"gameState:updated\",";
    uint64_t ack;
    size_t dlen;
    const char *data = pl_loadws_ack (msg, len, &ack, &dlen);
    if (data) {
        if (sh->members[i].wait != W_NONE && ack == sh->members[i].wait_ack)
            s_on_ack (sh, i, data, dlen, now);
    }
    else
    if (len >= sizeof ev - 1 && memcmp (msg, ev, sizeof ev - 1) == 0)
        s_on_updated (sh, i, msg, len, now);
    /* anything else (campaign:created, presence) is not ours to count */
}

/* pl_loadnet callback, this shard's loop: slot i connected. */
static void
s_ready (void *mode, uint32_t i, int64_t now)
{
    s_shard_t *sh = mode;
    (void) now;
    sh->members[i].live = true;
    PL_LOADRUN_INC (sh->ready);
    PL_LOADRUN_INC (sh->settled);
    if (sh->settled == sh->nsessions * sh->per)
        pl_loadnet_poke (sh->net);
}

/* pl_loadnet callback, this shard's loop: slot i failed or went down. */
static void
s_down (void *mode, uint32_t i, pl_lfail_t why, bool was_ready)
{
    s_shard_t *sh = mode;
    s_member_t *m = &sh->members[i];
    s_session_t *ss = &sh->sessions[m->session];
    (void) why;
    m->live = false;
    if (!was_ready)
        PL_LOADRUN_INC (sh->settled);
    s_setup_fail (sh, ss);
    if (m->wait == W_UPDATE) {
        ss->inflight = false;
        PL_LOADRUN_INC (sh->unanswered);
    }
    if (m->wait == W_FULL)
        ss->step = T_VERIFIED;
    m->wait = W_NONE;
    pl_loadnet_poke (sh->net);
}

static void
s_progress (s_shard_t *sh)
{
    uint64_t ready = 0, sent = 0, acked = 0, received = 0, failed = 0;
    for (uint32_t k = 0; k < sh->loops; k++) {
        s_shard_t *o = &sh->all[k];
        ready += PL_LOADRUN_GET (o->ready);
        sent += PL_LOADRUN_GET (o->sent);
        acked += PL_LOADRUN_GET (o->acked);
        received += PL_LOADRUN_GET (o->received);
        failed += PL_LOADRUN_GET (o->failed);
    }
    pl_loadrun_progress (sh->run, "connections %llu/%u, updates sent %llu acked %llu failed %llu, "
                         "deliveries %llu", (unsigned long long) ready,
                         sh->run->opts->sessions * sh->per, (unsigned long long) sent,
                         (unsigned long long) acked, (unsigned long long) failed,
                         (unsigned long long) received);
}

/* Is every session of this loop in step `step` or past it (failed)? */
static bool
s_all_past (s_shard_t *sh, int step)
{
    for (uint32_t s = 0; s < sh->nsessions; s++)
        if (sh->sessions[s].step < step)
            return false;
    return true;
}

/* Is the drain over: no update in flight, every live member of a running
 * session caught up with its last acked version? */
static bool
s_drained (s_shard_t *sh)
{
    for (uint32_t s = 0; s < sh->nsessions; s++) {
        s_session_t *ss = &sh->sessions[s];
        if (ss->inflight)
            return false;
        for (uint32_t k = 0; ss->step == T_READY && k < sh->per; k++) {
            s_member_t *m = &sh->members[ss->gm + k];
            if (m->live && m->joined && m->delivered < ss->version)
                return false;
        }
    }
    return true;
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
            if (sh->settled < sh->nsessions * sh->per && !stop)
                return next;
            pl_loadrun_arrive (run, 0);
            sh->stage = S_CONNECTED;
            /* fall through */
        case S_CONNECTED:
            if (pl_loadrun_phase (run) < 1)
                return next;
            for (uint32_t s = 0; s < sh->nsessions; s++) {
                s_session_t *ss = &sh->sessions[s];
                if (s_request (sh, ss->gm, W_CAMPAIGN,
                               "[\"campaign:create\",{\"name\":\"load %s %u\"}]", run->nonce,
                               ss->global) != 0)
                    s_setup_fail (sh, ss);
            }
            sh->deadline = now + (int64_t) (o->timeout * 1e9);
            sh->stage = S_SETUP;
            /* fall through */
        case S_SETUP:
            if (!s_all_past (sh, T_READY) && now < sh->deadline && !stop)
                S_UNTIL (sh->deadline);
            for (uint32_t s = 0; s < sh->nsessions; s++)
                s_setup_fail (sh, &sh->sessions[s]);    /* those not ready by now */
            pl_loadrun_arrive (run, 1);
            sh->stage = S_SET_UP;
            /* fall through */
        case S_SET_UP:
            if (pl_loadrun_phase (run) < 2)
                return next;
            sh->start = run->phase_at[2];
            sh->end = sh->start + (int64_t) (o->duration * 1e9);
            sh->stage = S_RUN;
            if (sh->index == 0 && o->gateway_pid)
                sh->cpu_start = pl_loadrun_cpu_s (o->gateway_pid);
            for (uint32_t s = 0; s < sh->nsessions; s++)
                if (s_more (sh, &sh->sessions[s], now))
                    s_send_update (sh, &sh->sessions[s], now);
            /* fall through */
        case S_RUN: {
            /* over when the time is, or when every session is done */
            bool busy = false;
            for (uint32_t s = 0; s < sh->nsessions && !busy; s++)
                busy = sh->sessions[s].inflight;
            if (busy && now < sh->end && !stop)
                S_UNTIL (sh->end);
            sh->end = now < sh->end ? now : sh->end;
            sh->deadline = now + (int64_t) (o->drain * 1e9);
            sh->stage = S_DRAIN;
        }
            /* fall through */
        case S_DRAIN:
            if (!s_drained (sh) && now < sh->deadline && !stop)
                S_UNTIL (sh->deadline);
            if (sh->index == 0 && o->gateway_pid) {
                sh->cpu_end = pl_loadrun_cpu_s (o->gateway_pid);
                sh->cpu_end_at = now;
            }
            for (uint32_t s = 0; s < sh->nsessions; s++) {
                s_session_t *ss = &sh->sessions[s];
                s_member_t *gm = &sh->members[ss->gm];
                if (ss->inflight) {             /* never answered */
                    ss->inflight = false;
                    gm->wait = W_NONE;
                    PL_LOADRUN_INC (sh->unanswered);
                }
                if (ss->step != T_READY)
                    continue;
                ss->step = T_VERIFYING;
                if (s_request (sh, ss->gm, W_FULL, "[\"gameState:requestFull\",\"%s\"]", ss->sid) != 0)
                    ss->step = T_VERIFIED;
            }
            sh->deadline = now + (int64_t) (o->timeout * 1e9);
            sh->stage = S_VERIFY;
            /* fall through */
        case S_VERIFY:
            if (!s_all_past (sh, T_FAILED) && now < sh->deadline && !stop)
                S_UNTIL (sh->deadline);
            pl_loadrun_arrive (run, 2);
            sh->stage = S_VERIFIED;
            /* fall through */
        case S_VERIFIED:
            if (pl_loadrun_phase (run) < 3)
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

/* Lay out loop k: its sessions, each a GM slot and its receivers.
 * pl_loadrun_shards calls it, on the main thread, before any loop runs. */
static pl_loadnet_t *
s_shard_init (void *shard, pl_loadrun_t *run, uint32_t k, uint32_t loops)
{
    const pl_loadopt_t *o = run->opts;
    s_shard_t *sh = shard;
    sh->all = sh - k;
    sh->run = run;
    sh->index = k;
    sh->loops = loops;
    sh->per = 1 + o->receivers;
    sh->nsessions = (o->sessions - k + loops - 1) / loops;
    sh->end = INT64_MAX;
    uint32_t slots = sh->nsessions * sh->per;
    sh->sessions = calloc (sh->nsessions, sizeof *sh->sessions);
    sh->members = calloc (slots, sizeof *sh->members);
    sh->latency = pl_loadhist_new ();
    sh->delivery = pl_loadhist_new ();
    if (!sh->sessions || !sh->members || !sh->latency || !sh->delivery)
        return NULL;
    for (uint32_t s = 0; s < sh->nsessions; s++) {
        s_session_t *ss = &sh->sessions[s];
        ss->global = k + s * loops;
        ss->gm = s * sh->per;
        /* --updates over the sessions, the remainder to the first ones */
        ss->quota = o->updates / o->sessions + (ss->global < o->updates % o->sessions);
        for (uint32_t m = 0; m < sh->per; m++)
            sh->members[ss->gm + m].session = s;
    }
    pl_loadnet_opts_t no = pl_loadrun_net_opts (run, k, slots);
    sh->net = pl_loadnet_new (&no, &s_ops, sh);
    if (sh->net)
        pl_loadnet_open (sh->net, 0, slots, 0, o->concurrency / loops ? o->concurrency / loops : 1);
    return sh->net;
}

/* The shard's memory, after its loop stopped (or failed to start). */
static void
s_shard_fini (void *shard)
{
    s_shard_t *sh = shard;
    pl_loadnet_destroy (&sh->net);
    free (sh->sessions);
    free (sh->members);
    pl_loadhist_destroy (&sh->latency);
    pl_loadhist_destroy (&sh->delivery);
}

static const pl_loadrun_shard_ops_t s_shard_ops = {
    .size = sizeof (s_shard_t), .init = s_shard_init, .fini = s_shard_fini,
};

/* Per-session results over every loop, after the run. */
typedef struct {
    uint64_t sessions_run, lost, extra, final_checked, final_mismatch, members_down;
} s_tally_t;

static void
s_tally (s_shard_t *sh, s_tally_t *t)
{
    for (uint32_t s = 0; s < sh->nsessions; s++) {
        s_session_t *ss = &sh->sessions[s];
        if (ss->step != T_VERIFIED)
            continue;                   /* setup failed: counted there */
        t->sessions_run++;
        for (uint32_t k = 0; k < sh->per; k++) {
            s_member_t *m = &sh->members[ss->gm + k];
            if (!m->live) {
                t->members_down++;
                continue;
            }
            if (m->delivered < ss->version)
                t->lost += ss->version - m->delivered;
            else
                t->extra += m->delivered - ss->version;
        }
        t->final_checked++;
        if (ss->final_version != ss->acked || ss->final_n != (int64_t) ss->acked) {
            t->final_mismatch++;
            fprintf (stderr, "parley-load state: session %s (%u): %llu updates acked, but the "
                     "final state has stateVersion %llu and pluginData.n %lld\n", ss->sid,
                     ss->global, (unsigned long long) ss->acked,
                     (unsigned long long) ss->final_version, (long long) ss->final_n);
        }
    }
}

int
pl_load_state (const pl_loadopt_t *o)
{
    int rc = 1;
    bool printed = false;
    pl_loadrun_t run;
    uint32_t loops = o->threads;
    s_shard_t *shards = NULL;
    pl_loadnet_t **nets = NULL;
    pl_loadhist_t *latency = pl_loadhist_new (), *delivery = pl_loadhist_new ();
    cJSON *sum = NULL;
    uint64_t conns = (uint64_t) o->sessions * (1 + o->receivers);
    if (pl_loadrun_init (&run, o, conns + 64) != 0 || !latency || !delivery)
        goto cleanup;
    fprintf (stderr, "parley-load state: %u sessions (users gs-%s-*), %u receivers each, on "
             "%s:%d, %u updates (0 = no count limit) within %g s\n", o->sessions, run.nonce,
             o->receivers, o->host, o->port, o->updates, o->duration);
    if (pl_loadrun_shards (&run, &s_shard_ops, (void **) &shards, &nets) != 0)
        goto cleanup;

    uint64_t sent = 0, acked = 0, in_window = 0, failed = 0, unanswered = 0, received = 0;
    uint64_t ready = 0, setup_failed = 0, verr = 0, gaps = 0, ooo = 0, perr = 0;
    s_tally_t t = { 0 };
    pl_loadrun_codes_t errors = { 0 };
    double secs = 0;
    for (uint32_t k = 0; k < loops; k++) {
        s_shard_t *sh = &shards[k];
        sent += sh->sent;
        acked += sh->acked;
        in_window += sh->acked_in_window;
        failed += sh->failed;
        unanswered += sh->unanswered;
        received += sh->received;
        ready += sh->ready;
        setup_failed += sh->setup_failed;
        verr += sh->version_errors;
        gaps += sh->gaps;
        ooo += sh->out_of_order;
        perr += sh->prev_errors;
        pl_loadrun_codes_merge (&errors, &sh->errors);
        pl_loadhist_merge (latency, sh->latency);
        pl_loadhist_merge (delivery, sh->delivery);
        s_tally (sh, &t);
        if (sh->end != INT64_MAX && sh->end > sh->start
        &&  (double) (sh->end - sh->start) / 1e9 > secs)
            secs = (double) (sh->end - sh->start) / 1e9;
    }
    sum = pl_loadrun_summary (&run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (secs, 3));
    cJSON_AddNumberToObject (sum, "sessions", o->sessions);
    cJSON_AddNumberToObject (sum, "receivers", o->receivers);
    cJSON_AddNumberToObject (sum, "conns", (double) conns);
    cJSON_AddNumberToObject (sum, "connected", (double) ready);
    cJSON_AddNumberToObject (sum, "target_updates", o->updates);
    cJSON_AddNumberToObject (sum, "setup_failed", (double) setup_failed);
    cJSON_AddNumberToObject (sum, "sessions_run", (double) t.sessions_run);
    cJSON_AddNumberToObject (sum, "sent", (double) sent);
    cJSON_AddNumberToObject (sum, "acked", (double) acked);
    cJSON_AddNumberToObject (sum, "failed", (double) failed);
    cJSON_AddNumberToObject (sum, "unanswered", (double) unanswered);
    cJSON_AddNumberToObject (sum, "version_errors", (double) verr);
    cJSON_AddNumberToObject (sum, "received", (double) received);
    cJSON_AddNumberToObject (sum, "lost", (double) t.lost);
    cJSON_AddNumberToObject (sum, "extra", (double) t.extra);
    cJSON_AddNumberToObject (sum, "gaps", (double) gaps);
    cJSON_AddNumberToObject (sum, "out_of_order", (double) ooo);
    cJSON_AddNumberToObject (sum, "previous_errors", (double) perr);
    cJSON_AddNumberToObject (sum, "members_down", (double) t.members_down);
    cJSON_AddNumberToObject (sum, "final_checked", (double) t.final_checked);
    cJSON_AddNumberToObject (sum, "final_mismatch", (double) t.final_mismatch);
    pl_loadrun_add_rate (sum, (double) in_window, secs, "acks/s");
    double deliveries_v = secs > 0 ? (double) received / secs : 0;
    cJSON_AddNumberToObject (sum, "deliveries_rate", pl_loadrun_round (deliveries_v, 1));
    pl_loadrun_add_latency (sum, latency, "");
    pl_loadrun_add_latency (sum, delivery, "delivery_");
    pl_loadrun_add_codes (sum, &errors);
    pl_loadrun_add_nets (sum, nets, loops);
    if (o->gateway_pid)
        pl_loadrun_add_cpu (sum, shards[0].cpu_start, shards[0].cpu_end,
                            (double) (shards[0].cpu_end_at - shards[0].start) / 1e9);
    /* correct: everything set up, acked in order, delivered to everyone
     * once in order, and the final state counts exactly the acked updates */
    bool correct = setup_failed == 0 && failed == 0 && unanswered == 0 && verr == 0
                && t.lost == 0 && t.extra == 0 && gaps == 0 && ooo == 0 && perr == 0
                && t.members_down == 0 && t.final_mismatch == 0
                && t.final_checked == t.sessions_run && t.sessions_run > 0;
    cJSON_AddBoolToObject (sum, "correct", correct);
    bool ok = ready > 0 && acked > 0;
    rc = pl_loadrun_print_ok (&sum, ok);
    printed = true;
cleanup:
    if (!printed)
        pl_loadrun_print_error (o, "setup failed (see stderr)");
    pl_loadrun_shards_free (&run, &s_shard_ops, (void **) &shards, &nets);
    pl_loadhist_destroy (&latency);
    pl_loadhist_destroy (&delivery);
    pl_loadrun_fini (&run);
    return rc;
}
