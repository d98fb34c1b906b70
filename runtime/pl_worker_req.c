/*  pl_worker_req - a request's way through the worker, whoever schedules
 *  it (pl_worker.c one at a time, pl_worker_sched.c as coroutines): the
 *  REQ checked and decoded before any handler sees it (frames, known
 *  event, caller context, a body with no NUL, not too deep, valid JSON;
 *  anything else is answered with the error, never dropped silently), the
 *  REP sent, and the call's events published after it - both held for
 *  commit order in the coroutine runtime (the ack must not reach the
 *  client before the events it acknowledges), the events dropped when it
 *  failed without committing. A periodic task's or bus call's events go out the same way
 *  (pl_worker__task_end). Shared with pl_worker.c through pl_worker_int.h.
 *
 *  Everything here runs on the worker loop.
 */
#include "pl_worker_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_zmsg.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Send one event: topic "room\0" · PL01 · EV · origin · packet · except
 * (empty for none) · ts, or a control: topic · PL01 · CTL · origin ·
 * packet, and free it. ts is the wall clock now, when the event leaves
 * (after the commit-order hold): the start of the gateways' delivery
 * latency (proto/README.md, "Event bus"). PUB never blocks: past its
 * high-water mark ZeroMQ drops, which is the bus's at-most-once contract
 * (README, Event bus). */
static void
s_publish (pl_worker_t *self, pl_worker__pub_t *pub, bool send)
{
    if (send) {
        bool ev = strcmp (pub->kind, PL_CMD_EVENT) == 0;
        char ts[PL_PROTO_TS_MAX + 1];
        int ts_len = ev ? pl_proto_ts_format (ts, sizeof ts, pl_id_wall_us ()) : 0;
        pl_zmsg_part_t parts[] = {
            { pub->room, strlen (pub->room) + 1 },          /* with its NUL */
            { PL_PROTO_VERSION, 4 },
            { pub->kind, strlen (pub->kind) },
            { pub->origin, strlen (pub->origin) },
            { pub->packet, strlen (pub->packet) },
            { pub->except ? pub->except : "", pub->except ? strlen (pub->except) : 0 },
            { ts, (size_t) ts_len },
        };
        if (pl_zmsg_send (self->events, parts, ev ? 7 : 5) == 0)
            self->stats.published++;
        else
            pl_warn ("cannot publish to %s: %s", pub->room, zmq_strerror (errno));
    }
    free (pub->room);
    free (pub->origin);
    free (pub->packet);
    free (pub->except);
}

/* Hold a committed call's events (the coroutine runtime: calls end out of
 * commit order) in commit order, and its REP (nrep parts of rep, none
 * for a task) with them. False when out of memory: the caller sends them
 * now. */
static bool
s_hold_events (pl_worker_t *self, pl_call_t *call, const pl_zmsg_part_t *rep, int nrep)
{
    bool held = false;
    pl_worker__pub_t *pub = NULL;
    char *copy = NULL;
    assert (nrep >= 0 && nrep <= PL_WORKER__REP_PARTS);
    if (self->nheld == self->held_cap) {
        size_t cap = self->held_cap ? self->held_cap * 2 : 16;
        pl_worker__held_t *more = realloc (self->held, cap * sizeof *more);
        if (!more)
            goto cleanup;
        self->held = more;
        self->held_cap = cap;
    }
    pub = malloc (call->npub * sizeof *pub);
    size_t total = 1;
    for (int i = 0; i < nrep; i++)
        total += rep[i].size;
    copy = nrep ? malloc (total) : NULL;
    if (!pub || (nrep && !copy))
        goto cleanup;
    pl_worker__held_t entry = { call->commit_pos, call->npub, pub, nrep, copy, { 0 } };
    size_t off = 0;
    for (int i = 0; i < nrep; i++) {
        if (rep[i].size)
            memcpy (copy + off, rep[i].data, rep[i].size);
        entry.rep_len[i] = rep[i].size;
        off += rep[i].size;
    }
    memcpy (pub, call->pub, call->npub * sizeof *pub);
    size_t at = self->nheld;
    while (at > 0 && self->held[at - 1].pos > call->commit_pos)
        at--;
    memmove (self->held + at + 1, self->held + at, (self->nheld - at) * sizeof *self->held);
    self->held[at] = entry;
    self->nheld++;
    call->npub = 0;
    pub = NULL;
    copy = NULL;
    held = true;
cleanup:
    free (pub);
    free (copy);
    return held;
}

/* Send a held call's REP (if it held one), then its events; free them. */
static void
s_send_held (pl_worker_t *self, pl_worker__held_t *held)
{
    if (held->nrep) {
        pl_zmsg_part_t parts[PL_WORKER__REP_PARTS];
        size_t off = 0;
        for (int i = 0; i < held->nrep; i++) {
            parts[i] = (pl_zmsg_part_t) { held->rep + off, held->rep_len[i] };
            off += held->rep_len[i];
        }
        pl_worker__send_broker (self, parts, held->nrep, PL_CMD_REP);
    }
    for (size_t i = 0; i < held->npub; i++)
        s_publish (self, &held->pub[i], true);
    free (held->pub);
    free (held->rep);
}

void
pl_worker__events_release (pl_worker_t *self, uint64_t before)
{
    size_t done = 0;
    while (done < self->nheld && (before == 0 || self->held[done].pos < before))
        s_send_held (self, &self->held[done++]);
    if (done > 0) {
        memmove (self->held, self->held + done, (self->nheld - done) * sizeof *self->held);
        self->nheld -= done;
    }
}

/* Send the call's REP (nrep parts of rep; none for a task or a call that
 * never answered), then its events; or hold both for commit order
 * (pl_worker__events_release); drop the events when it failed without
 * committing. */
static void
s_call_flush_events (pl_call_t *call, const pl_zmsg_part_t *rep, int nrep)
{
    pl_worker_t *self = call->worker;
    bool send = !call->failed || call->committed;
    if (send && call->npub && call->commit_pos && self->sched
    &&  s_hold_events (self, call, rep, nrep))
        return;
    if (nrep)
        pl_worker__send_broker (self, rep, nrep, PL_CMD_REP);
    for (size_t i = 0; i < call->npub; i++)
        s_publish (self, &call->pub[i], send);
    call->npub = 0;
}

/* A printable, bounded copy of a frame for log lines and error messages. */
void
pl_worker__printable (char *buf, size_t size, zmq_msg_t *frame)
{
    const char *data = zmq_msg_data (frame);
    size_t len = zmq_msg_size (frame);
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < size; i++)
        buf[n++] = data[i] >= 0x20 && data[i] < 0x7f ? data[i] : '?';
    buf[n] = 0;
}

void
pl_worker__slot_rid (const pl_worker__slot_t *slot)
{
    if (slot && slot->msg && slot->msg->count > 3)
        pl_log_set_rid (zmq_msg_data (&slot->msg->frame[3]), zmq_msg_size (&slot->msg->frame[3]));
    else
        pl_log_set_rid (NULL, 0);
}

/* REQ: PL01 · REQ · client identity · request id · event · ctx · body.
 * Runs on the worker loop. Every well-shaped REQ is answered, even a bad
 * one: the broker counts our credit by replies, so a silent drop would
 * leak a credit slot. prepare checks it and says whether its handler must
 * run; the handler runs (in s_on_request, synchronously, or in a
 * coroutine: pl_worker_sched.c); after checks that it answered; send
 * replies and publishes. */
bool
pl_worker__req_prepare (pl_worker_t *self, pl_worker__slot_t *slot)
{
    pl_zmsg_t *msg = slot->msg;
    pl_call_t *call = &slot->call;
    bool run = false;
    memset (call, 0, offsetof (pl_call_t, pub));    /* pub is filled as used */
    call->worker = self;
    slot->arg = NULL;
    slot->event[0] = 0;
    slot->metric_event = NULL;
    slot->run_at = 0;
    pl_worker__slot_rid (slot);
    if (msg->count != 7 || msg->oversize) {
        pl_warn ("dropped a REQ of %d frames (expected 7)", msg->count);
        self->stats.dropped++;
        goto cleanup;
    }
    self->stats.requests++;
    pl_worker__printable (slot->event, sizeof slot->event, &msg->frame[4]);
    const char *event = slot->event;
    int id = pl_proto_event_lookup (zmq_msg_data (&msg->frame[4]), zmq_msg_size (&msg->frame[4]));
    /* a metric label from the table, never the client's bytes */
    slot->metric_event = id < 0 ? "unknown" : pl_proto_event ((pl_event_id_t) id)->name;
    if (id < 0 || !self->handler[id]) {
        pl_call_error (call, PL_ERR_UNKNOWN_EVENT, "%s \"%s\"",
                       id < 0 ? "unknown event" : "this service does not handle", event);
        goto cleanup;
    }
    call->event = (pl_event_id_t) id;
    if (pl_proto_ctx_decode (zmq_msg_data (&msg->frame[5]), zmq_msg_size (&msg->frame[5]),
                             &call->caller)) {
        pl_warn ("%s: malformed caller context", event);
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "malformed caller context");
        goto cleanup;
    }
    size_t body_len = zmq_msg_size (&msg->frame[6]);
    /* the gateway refuses a NUL already; this is the defence in depth for
     * any other client of the broker: no handler ever sees a string cJSON
     * cut short (pl_proto.h, pl_proto_json_has_nul) */
    if (pl_proto_json_has_nul (zmq_msg_data (&msg->frame[6]), body_len)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s", PL_PROTO_NUL_MESSAGE);
        goto cleanup;
    }
    if (body_len > 0) {
        /* the nesting limit bounds the stack a handler's recursion over
         * its argument needs (cJSON's parse, duplicate and print recurse):
         * the gateway refuses deeper input already (pl_proto.h) */
        if (pl_proto_json_depth (zmq_msg_data (&msg->frame[6]), body_len)
            > PL_PROTO_JSON_DEPTH_MAX) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s", PL_PROTO_DEPTH_MESSAGE);
            goto cleanup;
        }
        slot->arg = pl_proto_json_parse (zmq_msg_data (&msg->frame[6]), body_len);
        if (!slot->arg) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: the argument is not valid JSON",
                           event);
            goto cleanup;
        }
    }
    slot->started = pl_id_mono_ms ();
    pl_debug ("request %s from %s", event, call->caller.user);
    run = true;
cleanup:
    pl_log_set_rid (NULL, 0);
    return run;
}

void
pl_worker__req_after (pl_worker_t *self, pl_worker__slot_t *slot)
{
    (void) self;
    pl_call_t *call = &slot->call;
    pl_worker__slot_rid (slot);
    if (!call->reply) {
        pl_error ("%s: handler returned without answering", slot->event);
        pl_call_error (call, PL_ERR_INTERNAL, "the handler did not answer");
    }
    pl_debug ("%s from %s: %s in %lld ms", slot->event, call->caller.user,
              call->failed ? "failed" : "ok", (long long) (pl_id_mono_ms () - slot->started));
    pl_log_set_rid (NULL, 0);
}

void
pl_worker__req_send (pl_worker_t *self, pl_worker__slot_t *slot)
{
    pl_zmsg_t *msg = slot->msg;
    pl_call_t *call = &slot->call;
    pl_worker__metrics_request (self, slot);
    if (call->reply && call->failed) {
        /* an INTERNAL (storage gone, a handler's bug) names its request,
         * so the client can quote it and its logs can be found */
        char rid[PL_LOG_RID_SIZE];
        pl_log_rid_text (zmq_msg_data (&msg->frame[3]), zmq_msg_size (&msg->frame[3]), rid);
        char *named = pl_proto_reply_add_rid (call->reply, strlen (call->reply), rid);
        if (named) {
            free (call->reply);
            call->reply = named;
        }
    }
    if (call->reply) {
        /* REP: PL01 · REP · client identity · request id · reply · [directives];
         * only a successful call moves its connection between rooms */
        char *directives = call->directives && !call->failed
                         ? cJSON_PrintUnformatted (call->directives) : NULL;
        pl_zmsg_part_t extra[] = {
            { zmq_msg_data (&msg->frame[2]), zmq_msg_size (&msg->frame[2]) },
            { zmq_msg_data (&msg->frame[3]), zmq_msg_size (&msg->frame[3]) },
            { call->reply, strlen (call->reply) },
            { directives, directives ? strlen (directives) : 0 },
        };
        /* the reply, then its events (by contract: its room directives
         * reach the gateway first), now or when released */
        s_call_flush_events (call, extra, directives ? 4 : 3);
        free (directives);
    }
    else {
        call->failed = true;                /* never answered: nothing goes out */
        call->committed = false;
        s_call_flush_events (call, NULL, 0);    /* frees them */
    }
    cJSON_Delete (call->directives);
    call->directives = NULL;
    free (call->reply);
    call->reply = NULL;
    cJSON_Delete (slot->arg);
    slot->arg = NULL;
    pl_proto_ctx_clear (&call->caller);
}

/* The periodic task has returned: publish its events unless it failed
 * (pl_call_error, or a Redis failure), and free its call. Worker loop. */
void
pl_worker__task_end (pl_worker_t *self, pl_call_t *call)
{
    if (call->directives)
        pl_error ("periodic task: room directives need a request; dropped");
    s_call_flush_events (call, NULL, 0);
    pl_worker__wake_end (self);
    cJSON_Delete (call->directives);
    call->directives = NULL;
    free (call->reply);
    call->reply = NULL;
    pl_proto_ctx_clear (&call->caller);     /* pl_call_act_as */
}
