/*  mode_fanout - broadcast delivery: throughput, end-to-end latency, loss.
 *
 *  --conns receivers spread over --rooms users: receiver i authenticates
 *  as fan-<i % rooms>, so it sits in room user:fan-<i % rooms>. Each room
 *  also gets one publisher connection as the same user. A write by a user
 *  is broadcast to the user's other connections, i.e. to the room's
 *  receivers and not to the publisher.
 *
 *  Phases: 0 connect everything; 1 each publisher actor:creates one actor;
 *  2 the publishers together send actor:update {id, t, seq} at --rate
 *  events/s for --duration s (t = CLOCK_MONOTONIC ns at send, which comes
 *  back in every actor:updated), then wait up to --drain s for the last
 *  acks and deliveries; 3 done.
 *
 *  Accounting, per room: expected += (receivers of the room connected when
 *  the update was sent) for every update acked {"success":true}; received
 *  counts actor:updated deliveries during phase 2 including the drain.
 *  lost = sum over rooms of max(0, expected - received); a delivery after
 *  the drain window is not counted, so it is lost (it shows in "late").
 *  Latency = receive time - t, in the receiver's loop.
 *
 *  With --threads, loop k owns the rooms r with r % loops == k, with their
 *  receivers and publishers, so a room's accounting never crosses threads.
 *  A publisher has at most --window updates unacknowledged; an update due
 *  while its window is full is not sent and counted in "skipped".
 */
#include "pl_loadmodes.h"
#include "pl_loadrun.h"
#include "pl_loadws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_OPENING, S_CONNECTED, S_CREATING, S_CREATED, S_PUBLISH, S_DRAIN, S_DRAINED, S_DONE };

/* Most updates sent in one tick: past it the loop reads before sending
 * more, so catching up after a stall cannot starve the receivers. */
#define S_BURST 512
#define S_FRAME_MAX 512             /* an update frame; ids are short      */
#define S_ID_MAX 64

typedef struct {
    uint64_t ack;                   /* ack id                               */
    uint32_t expected;              /* receivers connected at send          */
    bool used;
} s_flight_t;

typedef struct {
    uint32_t global;                /* room number over all loops           */
    uint32_t pub;                   /* the publisher's slot                 */
    uint32_t receivers;             /* receiver slots of the room           */
    uint32_t live;                  /* of them connected now                */
    char id[S_ID_MAX];              /* the actor, once created              */
    bool created;                   /* create acked (either way)            */
    uint64_t create_ack;            /* ack id of the create                 */
    uint64_t next_ack;              /* next ack id                          */
    uint64_t seq;                   /* updates sent                         */
    uint32_t inflight;              /* updates unacknowledged               */
    s_flight_t *flights;            /* window entries                       */
    uint64_t expected, received;    /* deliveries (see the file comment)    */
    int64_t seq_min, seq_max;       /* seqs seen by its receivers (diagnosis) */
} s_room_t;

typedef struct s_shard s_shard_t;
struct s_shard {
    pl_loadrun_t *run;
    s_shard_t *all;                 /* every loop's shard (progress)        */
    uint32_t index, loops;
    pl_loadnet_t *net;
    uint32_t nrooms, nrecv;         /* slots: receivers, then publishers    */
    s_room_t *rooms;
    uint32_t *slot_room;            /* slot -> local room                   */
    int64_t *last_seq;              /* receiver slot -> last seq seen       */
    int stage;
    double rate;                    /* this loop's share, events/s          */
    int64_t start, end, deadline;   /* phase 2; deadline of the current wait */
    uint64_t scheduled;             /* updates due so far                   */
    uint32_t rr;                    /* round-robin over rooms               */
    int64_t next_progress;
    uint8_t frame[S_FRAME_MAX + PL_LOADWS_HDR_MAX];
    pl_loadhist_t *latency;
    pl_loadrun_codes_t errors;
    /* counters (progress reads them from loop 0) */
    uint32_t settled, recv_ready, pub_ready;
    uint64_t sent, acked, skipped, received, late, out_of_order, create_failed;
    uint64_t seq_gaps;              /* see s_on_receiver                    */
    double cpu_start, cpu_end;      /* loop 0: gateway CPU s, phase 2       */
    int64_t cpu_end_at;             /* when cpu_end was read                */
};

/* pl_loadnet callback, this shard's loop: the JWT sub of slot i. */
static int
s_sub (void *mode, uint32_t i, char *out, size_t size)
{
    s_shard_t *sh = mode;
    int n = snprintf (out, size, "fan-%u", sh->rooms[sh->slot_room[i]].global);
    return n < 0 || (size_t) n >= size ? -1 : n;
}

/* Send `payload` (plen bytes at sh->frame + PL_LOADWS_HDR_MAX) on slot. */
static int
s_send_built (s_shard_t *sh, uint32_t slot, size_t plen)
{
    return pl_loadrun_send_text (sh->net, slot, sh->frame, plen);
}

static void
s_send_create (s_shard_t *sh, s_room_t *room)
{
    char *p = (char *) sh->frame + PL_LOADWS_HDR_MAX;
    room->create_ack = room->next_ack++;
    int n = snprintf (p, S_FRAME_MAX, "42%llu[\"actor:create\",{\"name\":\"fanout\",\"type\":\"bench\"}]",
                      (unsigned long long) room->create_ack);
    if (s_send_built (sh, room->pub, (size_t) n) != 0)
        room->created = true;       /* publisher gone: nothing to wait for */
}

/* One actor:update from room's publisher. Returns false if not sent. */
static bool
s_send_update (s_shard_t *sh, s_room_t *room, int64_t now)
{
    s_flight_t *slot = NULL;
    for (uint32_t k = 0; k < sh->run->opts->window; k++)
        if (!room->flights[k].used) {
            slot = &room->flights[k];
            break;
        }
    if (!slot)
        return false;
    /* 42<ack>["actor:update",{"id":"<id>","t":<ns>,"seq":<n>}] without
     * printf: this is the publish hot path */
    char *p = (char *) sh->frame + PL_LOADWS_HDR_MAX, *q = p;
    uint64_t ack = room->next_ack++;
    *q++ = '4';
    *q++ = '2';
    q += pl_loadws_u64 (q, ack);
    static const char a[] = "[\"actor:update\",{\"id\":\"";
    memcpy (q, a, sizeof a - 1);
    q += sizeof a - 1;
    size_t idlen = strlen (room->id);
    memcpy (q, room->id, idlen);
    q += idlen;
    static const char b[] = "\",\"t\":";
    memcpy (q, b, sizeof b - 1);
    q += sizeof b - 1;
    q += pl_loadws_u64 (q, (uint64_t) now);
    static const char c[] = ",\"seq\":";
    memcpy (q, c, sizeof c - 1);
    q += sizeof c - 1;
    q += pl_loadws_u64 (q, ++room->seq);
    *q++ = '}';
    *q++ = ']';
    if (s_send_built (sh, room->pub, (size_t) (q - p)) != 0)
        return false;
    slot->used = true;
    slot->ack = ack;
    slot->expected = room->live;
    room->inflight++;
    PL_LOADRUN_INC (sh->sent);
    return true;
}

/* pl_loadnet callback, this shard's loop: slot i connected. */
static void
s_ready (void *mode, uint32_t i, int64_t now)
{
    s_shard_t *sh = mode;
    (void) now;
    if (i < sh->nrecv) {
        sh->rooms[sh->slot_room[i]].live++;
        PL_LOADRUN_INC (sh->recv_ready);
    }
    else
        PL_LOADRUN_INC (sh->pub_ready);
    PL_LOADRUN_INC (sh->settled);
    if (sh->settled == sh->nrecv + sh->nrooms)
        pl_loadnet_poke (sh->net);
}

/* pl_loadnet callback, this shard's loop: slot i failed or went down. */
static void
s_down (void *mode, uint32_t i, pl_lfail_t why, bool was_ready)
{
    s_shard_t *sh = mode;
    (void) why;
    s_room_t *room = &sh->rooms[sh->slot_room[i]];
    if (!was_ready) {
        PL_LOADRUN_INC (sh->settled);
        if (sh->settled == sh->nrecv + sh->nrooms)
            pl_loadnet_poke (sh->net);
        return;
    }
    if (i < sh->nrecv) {
        room->live--;
        return;
    }
    /* a publisher lost: its unacknowledged updates will never be acked */
    for (uint32_t k = 0; k < sh->run->opts->window; k++)
        room->flights[k].used = false;
    room->inflight = 0;
    room->created = true;
    pl_loadnet_poke (sh->net);
}

static void
s_on_receiver (s_shard_t *sh, uint32_t i, const char *msg, size_t len, int64_t now)
{
    static const char ev[] = "42[\"actor:updated\",";
    if (len < sizeof ev - 1 || memcmp (msg, ev, sizeof ev - 1) != 0)
        return;                     /* actor:created of the setup, ... */
    if (sh->stage != S_PUBLISH && sh->stage != S_DRAIN) {
        PL_LOADRUN_INC (sh->late);
        return;
    }
    int64_t t = 0, seq = 0;
    if (!pl_loadws_json_int (msg, len, "t", &t))
        return;
    s_room_t *room = &sh->rooms[sh->slot_room[i]];
    room->received++;
    PL_LOADRUN_INC (sh->received);
    if (sh->stage == S_DRAIN && room->received >= room->expected)
        pl_loadnet_poke (sh->net);  /* maybe the last one: check the drain */
    pl_loadhist_record (sh->latency, now > t ? (uint64_t) (now - t) : 0);
    if (pl_loadws_json_int (msg, len, "seq", &seq)) {
        if (room->seq_min == 0 || seq < room->seq_min)
            room->seq_min = seq;
        if (seq > room->seq_max)
            room->seq_max = seq;
        if (seq <= sh->last_seq[i])
            PL_LOADRUN_INC (sh->out_of_order);
        else {
            /* seqs skipped by this receiver: where in the run loss was */
            sh->seq_gaps += (uint64_t) (seq - sh->last_seq[i] - 1);
            sh->last_seq[i] = seq;
        }
    }
}

static void
s_on_publisher (s_shard_t *sh, uint32_t i, const char *msg, size_t len)
{
    uint64_t ack;
    size_t dlen;
    const char *data = pl_loadws_ack (msg, len, &ack, &dlen);
    if (!data)
        return;                     /* a broadcast from another run's writer */
    s_room_t *room = &sh->rooms[sh->slot_room[i]];
    bool ok = pl_loadws_ack_ok (data, dlen);
    if (!room->created && ack == room->create_ack) {
        room->created = true;
        if (!ok || pl_loadws_json_str (data, dlen, "id", room->id, sizeof room->id) <= 0) {
            room->id[0] = 0;
            PL_LOADRUN_INC (sh->create_failed);
            if (!ok)
                pl_loadrun_code_from_ack (&sh->errors, data, dlen);
        }
        pl_loadnet_poke (sh->net);
        return;
    }
    for (uint32_t k = 0; k < sh->run->opts->window; k++) {
        s_flight_t *f = &room->flights[k];
        if (f->used && f->ack == ack) {
            f->used = false;
            room->inflight--;
            if (ok) {
                room->expected += f->expected;
                PL_LOADRUN_INC (sh->acked);
            }
            else
                pl_loadrun_code_from_ack (&sh->errors, data, dlen);
            if (sh->stage == S_DRAIN)
                pl_loadnet_poke (sh->net);
            return;
        }
    }
}

/* pl_loadnet callback, this shard's loop: a Socket.IO packet on slot i. */
static void
s_message (void *mode, uint32_t i, const char *msg, size_t len, int64_t now)
{
    s_shard_t *sh = mode;
    if (i < sh->nrecv)
        s_on_receiver (sh, i, msg, len, now);
    else
        s_on_publisher (sh, i, msg, len);
}

static void
s_progress (s_shard_t *sh)
{
    uint64_t recv = 0, pub = 0, sent = 0, acked = 0, received = 0;
    for (uint32_t k = 0; k < sh->loops; k++) {
        s_shard_t *o = &sh->all[k];
        recv += PL_LOADRUN_GET (o->recv_ready);
        pub += PL_LOADRUN_GET (o->pub_ready);
        sent += PL_LOADRUN_GET (o->sent);
        acked += PL_LOADRUN_GET (o->acked);
        received += PL_LOADRUN_GET (o->received);
    }
    pl_loadrun_progress (sh->run, "receivers %llu/%u, publishers %llu/%u, updates sent %llu "
                         "acked %llu, deliveries %llu", (unsigned long long) recv,
                         sh->run->opts->conns, (unsigned long long) pub, sh->run->opts->rooms,
                         (unsigned long long) sent, (unsigned long long) acked,
                         (unsigned long long) received);
}

/* Is the drain over: every update acked and every delivery in? */
static bool
s_drained (s_shard_t *sh)
{
    for (uint32_t r = 0; r < sh->nrooms; r++)
        if (sh->rooms[r].inflight || sh->rooms[r].received < sh->rooms[r].expected)
            return false;
    return true;
}

/* Send the updates due by now; returns when the next one is due. */
static int64_t
s_publish (s_shard_t *sh, int64_t now)
{
    for (int burst = 0; burst < S_BURST; burst++) {
        int64_t due = sh->start + (int64_t) ((double) sh->scheduled * 1e9 / sh->rate);
        if (due > now)
            return due;
        sh->scheduled++;
        /* the next room with an actor, round robin */
        s_room_t *room = NULL;
        for (uint32_t k = 0; k < sh->nrooms && !room; k++) {
            s_room_t *r = &sh->rooms[sh->rr++ % sh->nrooms];
            if (r->id[0] && pl_loadnet_is_ready (sh->net, r->pub))
                room = r;
        }
        if (!room || !s_send_update (sh, room, now))
            PL_LOADRUN_INC (sh->skipped);
    }
    return now;                     /* more due: come back after reading */
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
            if (sh->settled < sh->nrecv + sh->nrooms && !stop)
                return next;
            pl_loadrun_arrive (run, 0);
            sh->stage = S_CONNECTED;
            /* fall through */
        case S_CONNECTED:
            if (pl_loadrun_phase (run) < 1)
                return next;
            for (uint32_t r = 0; r < sh->nrooms; r++) {
                if (pl_loadnet_is_ready (sh->net, sh->rooms[r].pub))
                    s_send_create (sh, &sh->rooms[r]);
                else
                    sh->rooms[r].created = true;
            }
            sh->deadline = now + (int64_t) (o->timeout * 1e9);
            sh->stage = S_CREATING;
            /* fall through */
        case S_CREATING: {
            bool all = true;
            for (uint32_t r = 0; r < sh->nrooms; r++)
                all &= sh->rooms[r].created;
            if (!all && now < sh->deadline && !stop)
                S_UNTIL (sh->deadline);
            pl_loadrun_arrive (run, 1);
            sh->stage = S_CREATED;
        }
            /* fall through */
        case S_CREATED:
            if (pl_loadrun_phase (run) < 2)
                return next;
            sh->start = run->phase_at[2];
            sh->end = sh->start + (int64_t) (o->duration * 1e9);
            sh->stage = S_PUBLISH;
            if (sh->index == 0 && o->gateway_pid)
                sh->cpu_start = pl_loadrun_cpu_s (o->gateway_pid);
            /* fall through */
        case S_PUBLISH:
            if (now < sh->end && !stop) {
                int64_t due = s_publish (sh, now);
                S_UNTIL (due < sh->end ? due : sh->end);
            }
            sh->end = now < sh->end ? now : sh->end;
            sh->deadline = now + (int64_t) (o->drain * 1e9);
            sh->stage = S_DRAIN;
            /* fall through */
        case S_DRAIN:
            if (!s_drained (sh) && now < sh->deadline && !stop)
                S_UNTIL (sh->deadline);
            if (sh->index == 0 && o->gateway_pid) {
                sh->cpu_end = pl_loadrun_cpu_s (o->gateway_pid);
                sh->cpu_end_at = now;
            }
            pl_loadrun_arrive (run, 2);
            sh->stage = S_DRAINED;
            /* fall through */
        case S_DRAINED:
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

/* Lay out loop k: its rooms, their receivers, then one publisher each. */
static int
s_shard_init (s_shard_t *sh, pl_loadrun_t *run, uint32_t k, uint32_t loops)
{
    const pl_loadopt_t *o = run->opts;
    sh->run = run;
    sh->index = k;
    sh->loops = loops;
    sh->nrooms = (o->rooms - k + loops - 1) / loops;
    for (uint32_t i = 0; i < o->conns; i++)
        sh->nrecv += (i % o->rooms) % loops == k;
    uint32_t slots = sh->nrecv + sh->nrooms;
    sh->rooms = calloc (sh->nrooms, sizeof *sh->rooms);
    sh->slot_room = calloc (slots, sizeof *sh->slot_room);
    sh->last_seq = calloc (sh->nrecv ? sh->nrecv : 1, sizeof *sh->last_seq);
    sh->latency = pl_loadhist_new ();
    if (!sh->rooms || !sh->slot_room || !sh->last_seq || !sh->latency)
        return -1;
    for (uint32_t r = 0; r < sh->nrooms; r++) {
        sh->rooms[r].global = k + r * loops;
        sh->rooms[r].pub = sh->nrecv + r;
        sh->slot_room[sh->nrecv + r] = r;
        sh->rooms[r].flights = calloc (o->window, sizeof (s_flight_t));
        if (!sh->rooms[r].flights)
            return -1;
    }
    uint32_t slot = 0;
    for (uint32_t i = 0; i < o->conns; i++)
        if ((i % o->rooms) % loops == k) {
            uint32_t local = (i % o->rooms) / loops;
            sh->slot_room[slot++] = local;
            sh->rooms[local].receivers++;
        }
    sh->rate = o->rate * sh->nrooms / o->rooms;
    pl_loadnet_opts_t no = pl_loadrun_net_opts (run, k, slots);
    sh->net = pl_loadnet_new (&no, &s_ops, sh);
    if (!sh->net)
        return -1;
    uint32_t conc = o->concurrency / loops ? o->concurrency / loops : 1;
    pl_loadnet_open (sh->net, 0, slots, 0, conc);
    return 0;
}

static void
s_shard_fini (s_shard_t *sh)
{
    pl_loadnet_destroy (&sh->net);
    for (uint32_t r = 0; sh->rooms && r < sh->nrooms; r++)
        free (sh->rooms[r].flights);
    free (sh->rooms);
    free (sh->slot_room);
    free (sh->last_seq);
    pl_loadhist_destroy (&sh->latency);
}

int
pl_load_fanout (const pl_loadopt_t *o)
{
    int rc = 1;
    bool printed = false;
    pl_loadrun_t run;
    uint32_t loops = o->threads;
    s_shard_t *shards = NULL;
    pl_loadnet_t **nets = NULL;
    pl_loadhist_t *latency = pl_loadhist_new ();
    cJSON *sum = NULL;
    if (pl_loadrun_init (&run, o, (uint64_t) o->conns + o->rooms + 64) != 0 || !latency)
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
    fprintf (stderr, "parley-load fanout: %u receivers in %u rooms (users fan-0..%u) on "
             "%s:%d, %g updates/s for %g s\n", o->conns, o->rooms, o->rooms - 1, o->host,
             o->port, o->rate, o->duration);
    if (pl_loadrun_loops (nets, loops) != 0)
        goto cleanup;

    /* results */
    uint64_t sent = 0, acked = 0, skipped = 0, received = 0, late = 0, ooo = 0;
    uint64_t expected = 0, lost = 0, extra = 0, recv_ready = 0, pub_ready = 0, cfail = 0;
    uint64_t gaps = 0;
    pl_loadrun_codes_t errors = { 0 };
    for (uint32_t k = 0; k < loops; k++) {
        s_shard_t *sh = &shards[k];
        sent += sh->sent;
        acked += sh->acked;
        skipped += sh->skipped;
        received += sh->received;
        late += sh->late;
        ooo += sh->out_of_order;
        recv_ready += sh->recv_ready;
        pub_ready += sh->pub_ready;
        cfail += sh->create_failed;
        gaps += sh->seq_gaps;
        pl_loadrun_codes_merge (&errors, &sh->errors);
        pl_loadhist_merge (latency, sh->latency);
        for (uint32_t r = 0; r < sh->nrooms; r++) {
            s_room_t *room = &sh->rooms[r];
            expected += room->expected;
            if (room->received < room->expected) {
                lost += room->expected - room->received;
                /* which updates went missing says where to look */
                fprintf (stderr, "parley-load fanout: room user:fan-%u lost %llu of %llu "
                         "deliveries (%u receivers); updates sent 1..%llu, seqs seen %lld..%lld\n",
                         room->global, (unsigned long long) (room->expected - room->received),
                         (unsigned long long) room->expected, room->receivers,
                         (unsigned long long) room->seq, (long long) room->seq_min,
                         (long long) room->seq_max);
            }
            else
                extra += room->received - room->expected;
        }
    }
    double secs = shards[0].end > shards[0].start
                ? (double) (shards[0].end - shards[0].start) / 1e9 : 0;
    sum = pl_loadrun_summary (&run);
    if (!sum)
        goto cleanup;
    cJSON_AddNumberToObject (sum, "duration_s", pl_loadrun_round (secs, 3));
    cJSON_AddNumberToObject (sum, "conns", o->conns);
    cJSON_AddNumberToObject (sum, "rooms", o->rooms);
    cJSON_AddNumberToObject (sum, "window", o->window);
    cJSON_AddNumberToObject (sum, "connected", (double) recv_ready);
    cJSON_AddNumberToObject (sum, "publishers", (double) pub_ready);
    cJSON_AddNumberToObject (sum, "target_rate", o->rate);
    cJSON_AddNumberToObject (sum, "sent", (double) sent);
    cJSON_AddNumberToObject (sum, "acked", (double) acked);
    cJSON_AddNumberToObject (sum, "skipped", (double) skipped);
    cJSON_AddNumberToObject (sum, "create_failed", (double) cfail);
    double events_rate_v = secs > 0 ? (double) acked / secs : 0;
    cJSON_AddNumberToObject (sum, "events_rate", pl_loadrun_round (events_rate_v, 1));
    cJSON_AddNumberToObject (sum, "expected", (double) expected);
    cJSON_AddNumberToObject (sum, "received", (double) received);
    cJSON_AddNumberToObject (sum, "lost", (double) lost);
    cJSON_AddNumberToObject (sum, "extra", (double) extra);
    cJSON_AddNumberToObject (sum, "late", (double) late);
    cJSON_AddNumberToObject (sum, "out_of_order", (double) ooo);
    cJSON_AddNumberToObject (sum, "seq_gaps", (double) gaps);
    pl_loadrun_add_rate (sum, (double) received, secs, "deliveries/s");
    pl_loadrun_add_latency (sum, latency, "");
    pl_loadrun_add_codes (sum, &errors);
    pl_loadrun_add_nets (sum, nets, loops);
    if (o->gateway_pid)
        pl_loadrun_add_cpu (sum, shards[0].cpu_start, shards[0].cpu_end,
                            (double) (shards[0].cpu_end_at - shards[0].start) / 1e9);
    bool ok = recv_ready > 0 && acked > 0;
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
