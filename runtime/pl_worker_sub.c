/*  pl_worker_sub - a worker's subscription to the event bus (pl_bus_fn in
 *  pl_worker.h).
 *
 *  A worker that names topic prefixes (pl_worker_extra_t.subscribe) gets a
 *  SUB socket connected to the event proxy's XPUB, the gateways' side of
 *  the bus (proto/README.md, "Event bus"): the proxy filters there, so the
 *  worker receives only the topics it asked for. Every EV message heard
 *  becomes a bus call: on_bus runs as a coroutine call beside the handlers
 *  and the periodic task, on slots of its own (bus_max of them, the credit
 *  by default), so a flood on the bus never takes a request's slot nor
 *  the broker's credit. While every bus slot is busy the loop does not
 *  read the SUB; ZeroMQ queues up to its high-water mark and the proxy
 *  drops the rest for this subscriber. The bus is lossy by design, and so
 *  is this: a bus handler re-reads what it needs and is idempotent.
 *
 *  A message is checked before any handler sees it: 5 to 8 frames, a
 *  topic ending in its one NUL, PL01, EV (a CTL, for gateways, is skipped),
 *  a packet that is a JSON array ["<push>", payload] no deeper than
 *  PL_PROTO_JSON_DEPTH_MAX with no NUL in any string, and a push the table
 *  knows. Anything else is dropped and counted (stats.bus_dropped).
 *
 *  One request at a time (PARLEY_WORKER_BATCH=0) a bus call runs here,
 *  synchronously. Everything here runs on the worker loop.
 */
#include "pl_worker_int.h"
#include "pl_id.h"
#include "pl_log.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Messages taken per wake-up, as for the broker socket: the timers and
 * the other sockets get a look in. */
#define S_BATCH_MAX     64
/* Longest topic prefix a worker may subscribe to. */
#define S_PREFIX_MAX    255

int
pl_worker__sub_open (pl_worker_t *self, const pl_worker_opts_t *opts)
{
    int rc = 0;
    if (!opts->subscribe || !opts->subscribe[0])
        goto cleanup;
    rc = -1;
    if (!opts->on_bus || !opts->bus_endpoint) {
        pl_error ("a subscription to the event bus needs on_bus and the proxy's XPUB");
        goto cleanup;
    }
    self->on_bus = opts->on_bus;
    self->bus_max = opts->bus_max > 0 ? opts->bus_max : opts->credit;
    self->bus = zmq_socket (self->zctx, ZMQ_SUB);
    int linger = 0;
    if (!self->bus || zmq_setsockopt (self->bus, ZMQ_LINGER, &linger, sizeof linger))
        goto fail;
    for (size_t i = 0; opts->subscribe[i]; i++) {
        size_t len = strlen (opts->subscribe[i]);
        if (len == 0 || len > S_PREFIX_MAX) {
            pl_error ("event bus prefix %zu: 1 to %d bytes, not %zu", i, S_PREFIX_MAX, len);
            goto fail;
        }
        if (zmq_setsockopt (self->bus, ZMQ_SUBSCRIBE, opts->subscribe[i], len))
            goto fail;
    }
    if (zmq_connect (self->bus, opts->bus_endpoint))
        goto fail;
    pl_info ("listening on the event bus %s (up to %d events at once)",
             opts->bus_endpoint, self->bus_max);
    rc = 0;
    goto cleanup;
fail:
    pl_error ("cannot subscribe to event proxy %s: %s", opts->bus_endpoint,
              zmq_strerror (errno));
    pl_worker__sub_close (self);
cleanup:
    return rc;
}

void
pl_worker__sub_close (pl_worker_t *self)
{
    if (self->bus)
        zmq_close (self->bus);
    self->bus = NULL;
}

bool
pl_worker__sub_wants (pl_worker_t *self)
{
    return self->bus && (!self->sched || pl_worker__sched_bus_slot (self->sched));
}

/* Check one bus message and fill slot (its call answers nobody) from it.
 * False when it is not for on_bus: dropped (counted) or a CTL. */
static bool
s_decode (pl_worker_t *self, pl_zmsg_t *msg, pl_worker__slot_t *slot)
{
    bool ok = false;
    cJSON *packet = NULL;
    size_t topic_len = 0, packet_len = 0;
    const char *topic = pl_zmsg_data (msg, 0, &topic_len);
    const char *text = pl_zmsg_data (msg, 4, &packet_len);
    if (pl_zmsg_is (msg, 2, PL_CMD_CONTROL) && pl_zmsg_is (msg, 1, PL_PROTO_VERSION))
        goto cleanup;                       /* for gateways */
    /* 5 to 8 frames: a worker's has except (empty for none) and its
     * publish time, the proxy adds an offset for recovery (proto/README.md,
     * "Event bus"); only the topic and the packet matter here */
    if (msg->oversize || msg->count < 5 || msg->count > 8
    ||  !pl_zmsg_is (msg, 1, PL_PROTO_VERSION) || !pl_zmsg_is (msg, 2, PL_CMD_EVENT)
    ||  topic_len < 2 || topic[topic_len - 1] != 0
    ||  memchr (topic, 0, topic_len - 1)
    ||  !text || pl_proto_json_has_nul (text, packet_len)
    ||  pl_proto_json_depth (text, packet_len) > PL_PROTO_JSON_DEPTH_MAX)
        goto drop;
    packet = pl_proto_json_parse (text, packet_len);
    int size = cJSON_IsArray (packet) ? cJSON_GetArraySize (packet) : 0;
    cJSON *name = size >= 1 && size <= 2 ? cJSON_GetArrayItem (packet, 0) : NULL;
    int push = cJSON_IsString (name) ? pl_proto_push_lookup (name->valuestring,
                                                             strlen (name->valuestring))
                                     : -1;
    if (push < 0)
        goto drop;
    if (size == 1)
        cJSON_AddItemToArray (packet, cJSON_CreateNull ());
    if (cJSON_GetArraySize (packet) != 2)
        goto drop;                          /* out of memory */
    slot->room = strndup (topic, topic_len - 1);
    if (!slot->room)
        goto drop;
    pl_call_t *call = &slot->call;
    memset (call, 0, offsetof (pl_call_t, pub));
    call->worker = self;
    call->task = true;
    call->bus = true;
    slot->msg = NULL;
    slot->arg = packet;
    slot->push = (pl_push_id_t) push;
    snprintf (slot->event, sizeof slot->event, "bus %s", name->valuestring);
    call->name = slot->event;
    slot->started = pl_id_mono_ms ();
    packet = NULL;
    self->stats.bus_heard++;
    ok = true;
    goto cleanup;
drop:
    self->stats.bus_dropped++;
    pl_debug ("dropped a malformed or unknown event from the bus (%d frames)", msg->count);
cleanup:
    cJSON_Delete (packet);
    return ok;
}

void
pl_worker__bus_run (pl_worker_t *self, pl_worker__slot_t *slot)
{
    self->on_bus (&slot->call, slot->room, slot->push, cJSON_GetArrayItem (slot->arg, 1));
}

void
pl_worker__bus_end (pl_worker_t *self, pl_worker__slot_t *slot)
{
    pl_debug ("%s in %s: %s in %lld ms", slot->event, slot->room,
              slot->call.failed ? "failed" : "ok",
              (long long) (pl_id_mono_ms () - slot->started));
    pl_worker__task_end (self, &slot->call);
    free (slot->room);
    slot->room = NULL;
    cJSON_Delete (slot->arg);
    slot->arg = NULL;
}

/* One request at a time: the bus call runs now, reruns included. */
static void
s_run_now (pl_worker_t *self, pl_worker__slot_t *slot)
{
    do {
        if (slot->call.attempt)
            self->stats.retries++;
        pl_worker__bus_run (self, slot);
        if (self->redis)
            pl_redis_reset (self->redis);
    } while (pl_worker__call_retry (&slot->call));
    pl_worker__bus_end (self, slot);
}

void
pl_worker__sub_read (pl_worker_t *self)
{
    pl_worker__slot_t local;
    for (int i = 0; i < S_BATCH_MAX && !self->stopped && self->bus; i++) {
        pl_worker__slot_t *slot = self->sched ? pl_worker__sched_bus_slot (self->sched) : &local;
        pl_zmsg_t msg;
        if (!slot || pl_zmsg_recv (self->bus, &msg) != 0)
            break;
        bool run = s_decode (self, &msg, slot);
        pl_zmsg_close (&msg);
        if (!run)
            continue;
        if (self->sched)
            pl_worker__sched_bus (self->sched, slot);
        else
            s_run_now (self, slot);
    }
}
