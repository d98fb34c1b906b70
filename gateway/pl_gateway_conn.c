/*  pl_gateway_conn - the gateway's connections: ids and slots, the send
 *  queue and coalesced writes, and the Engine.IO heartbeat.
 *
 *  Timers. Engine.IO pings and pong deadlines each use a constant delay, so
 *  a FIFO list is already sorted by deadline: appending is O(1) and one lws
 *  timer per list, armed for the head, serves every connection. (lws's own
 *  sorted timer list is O(n) per insert, which would hurt at 50k
 *  connections.) Runs on the gateway loop.
 */
#include "pl_gateway_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_sio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
pl_gateway__lws_rearm (struct lws_context *lws)
{
    lws_cancel_service (lws);
}

void
pl_gateway__timer_after (pl_gateway_t *self, ev_timer *w, int64_t ms)
{
    ev_timer_stop (self->loop, w);
    ev_timer_set (w, (double) (ms > 0 ? ms : 0) / 1000., 0.);
    ev_timer_start (self->loop, w);
}

int64_t
pl_gateway__now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pl_gateway__now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- timer lists ------------------------------------------------------ */


static void
s_tlist_arm (pl_gateway_t *self, pl_gwtimers_t *list)
{
    ev_timer_stop (self->loop, &list->timer);
    if (list->head) {
        int64_t wait = list->head->deadline - pl_gateway__now_ms ();
        ev_timer_set (&list->timer, wait > 0 ? (double) wait / 1000. : 0., 0.);
        ev_timer_start (self->loop, &list->timer);
    }
}

static pl_gwtimers_t *
s_tlist_of (pl_gateway_t *self, pl_gwtimer_t which)
{
    return which == PL_GWTIMER_PING ? &self->ping : &self->pong;
}

void
pl_gateway__timer_remove (pl_gateway_t *self, pl_gwconn_t *conn)
{
    if (conn->timer == PL_GWTIMER_NONE)
        return;
    pl_gwtimers_t *list = s_tlist_of (self, conn->timer);
    if (conn->tprev)
        conn->tprev->tnext = conn->tnext;
    else
        list->head = conn->tnext;
    if (conn->tnext)
        conn->tnext->tprev = conn->tprev;
    else
        list->tail = conn->tprev;
    conn->tprev = conn->tnext = NULL;
    conn->timer = PL_GWTIMER_NONE;
}

void
pl_gateway__timer_append (pl_gateway_t *self, pl_gwconn_t *conn, pl_gwtimer_t which, long delay)
{
    pl_gateway__timer_remove (self, conn);
    pl_gwtimers_t *list = s_tlist_of (self, which);
    conn->deadline = pl_gateway__now_ms () + delay;
    conn->timer = which;
    conn->tprev = list->tail;
    conn->tnext = NULL;
    if (list->tail)
        list->tail->tnext = conn;
    else {
        list->head = conn;
        s_tlist_arm (self, list);
    }
    list->tail = conn;
}

/* ---- sending ---------------------------------------------------------- */

/* Close a connection from outside its own callback. lws kills it on its
 * next pass; LWS_CALLBACK_CLOSED then cleans up. */
void
pl_gateway__kill (pl_gwconn_t *conn, const char *why)
{
    if (conn->poll)
        pl_gateway__poll_kill (conn, why);     /* the same, deferred free */
    else
    if (!conn->closing) {
        pl_debug ("conn %llu: closing: %s", (unsigned long long) conn->id, why);
        conn->closing = true;
        lws_set_timeout (conn->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        /* an lws timer due now: see pl_gateway__lws_rearm */
        pl_gateway__lws_rearm (lws_get_context (conn->wsi));
    }
}

/* A room event's frame is written (or, polling, queued for the GET):
 * the delivery latency from its worker's publish to here (metrics), on
 * the wall clocks of two hosts maybe (docs/METRICS.md: skew). An event
 * without a publish time (a replayed one, or a bad time) is not timed. */
static inline void
s_delivered (pl_gateway_t *self, const pl_frame_t *f)
{
    if (f->published_us >= 0)
        pl_gwmetrics_delivery (self->metrics, (double) (pl_id_wall_us () - f->published_us) / 1e6);
}

/* Queue a reference to f for conn. A client whose queue is full is too
 * slow to keep up: it is disconnected rather than allowed to grow the
 * gateway's memory without bound (it can reconnect and re-read state). */
void
pl_gateway__send (pl_gateway_t *self, pl_gwconn_t *conn, pl_frame_t *f)
{
    if (conn->closing || !f)
        return;
    if (conn->poll) {
        /* a polling client's frame is timed when queued for its GET */
        if (f->push)
            s_delivered (self, f);
        if (f->binary)
            pl_gateway__poll_send_binary (self, conn, pl_frame_payload (f), f->len);
        else
            pl_gateway__poll_send (self, conn, (const char *) pl_frame_payload (f), f->len);
        return;
    }
    bool was_empty = conn->outq.len == 0;
    if (pl_outq_push (&conn->outq, f, self->outq_max) != 0) {
        pl_warn ("conn %llu: send queue full (%u frames): disconnecting a slow client",
                 (unsigned long long) conn->id, self->outq_max);
        self->stats.slow_disconnects++;
        pl_gwmetrics_slow (self->metrics, 1 + conn->outq.len);     /* f, and what waits */
        pl_gateway__kill (conn, "slow consumer");
        return;
    }
    if (was_empty)
        lws_callback_on_writable (conn->wsi);
}

/* Queue a new frame built from text (copied). */
void
pl_gateway__send_text (pl_gateway_t *self, pl_gwconn_t *conn, const char *text, size_t len)
{
    pl_frame_t *f = pl_frame_new (text, len, NULL, 0);
    pl_gateway__send (self, conn, f);
    pl_frame_unref (&f);
}

/* Queue one binary message (copied): a WebSocket binary frame, or a "b"
 * packet of a polling response. */
void
pl_gateway__send_binary (pl_gateway_t *self, pl_gwconn_t *conn, const void *data, size_t len)
{
    pl_frame_t *f = pl_frame_new (data, len, NULL, 0);
    if (f)
        f->binary = true;
    pl_gateway__send (self, conn, f);
    pl_frame_unref (&f);
}

void
pl_gateway__send_str (pl_gateway_t *self, pl_gwconn_t *conn, char *owned)
{
    if (owned)
        pl_gateway__send_text (self, conn, owned, strlen (owned));
    free (owned);
}

/* Queue "43<ack>[<reply>]". */
void
pl_gateway__send_ack (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t ack_id,
            const char *reply, size_t reply_len)
{
    size_t need = pl_sio_encode_ack (NULL, 0, ack_id, reply, reply_len);
    pl_frame_t *f = pl_frame_new (NULL, need, NULL, 0);
    if (f) {
        pl_sio_encode_ack ((char *) pl_frame_payload (f), need, ack_id, reply, reply_len);
        pl_gateway__send (self, conn, f);
        pl_frame_unref (&f);
    }
}

void
pl_gateway__send_ack_error (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t ack_id,
                  pl_err_t err, const char *message)
{
    char *reply = pl_proto_reply_err (err, message);
    if (reply)
        pl_gateway__send_ack (self, conn, ack_id, reply, strlen (reply));
    free (reply);
}

/* ---- connections ------------------------------------------------------ */

pl_gwconn_t *
pl_gateway__conn_lookup (pl_gateway_t *self, uint64_t id)
{
    uint32_t slot = (uint32_t) (id & 0xffffffffu);
    pl_gwconn_t *conn = slot < self->nslots ? self->slots[slot] : NULL;
    return conn && conn->id == id && !conn->closing ? conn : NULL;
}

int
pl_gateway__conn_register (pl_gateway_t *self, pl_gwconn_t *conn)
{
    int rc = -1;
    uint32_t slot;
    if (self->nfree)
        slot = self->free_slots[--self->nfree];
    else {
        uint32_t n = self->nslots ? self->nslots * 2 : 1024;
        pl_gwconn_t **slots = realloc (self->slots, n * sizeof *slots);
        uint32_t *free_slots = slots ? realloc (self->free_slots, n * sizeof *free_slots) : NULL;
        if (slots) {
            self->slots = slots;
            memset (slots + self->nslots, 0, (n - self->nslots) * sizeof *slots);
        }
        if (!free_slots)
            goto cleanup;
        self->free_slots = free_slots;
        for (uint32_t i = n; i > self->nslots + 1; i--)
            self->free_slots[self->nfree++] = i - 1;
        slot = self->nslots;
        self->nslots = n;
    }
    self->slots[slot] = conn;
    /* generation starts at 1, so no id is 0: 0 means "none" (internal
     * requests, unregistered HTTP connections) */
    if (++self->generation == 0)
        self->generation = 1;
    conn->id = ((uint64_t) self->generation << 32) | slot;
    rc = 0;
cleanup:
    return rc;
}

void
pl_gateway__conn_unregister (pl_gateway_t *self, pl_gwconn_t *conn)
{
    uint32_t slot = (uint32_t) (conn->id & 0xffffffffu);
    if (conn->id && slot < self->nslots && self->slots[slot] == conn) {
        self->slots[slot] = NULL;
        self->free_slots[self->nfree++] = slot;
    }
    conn->id = 0;
}

void
pl_gateway__conn_release (pl_gateway_t *self, pl_gwconn_t *conn)
{
    pl_gateway__timer_remove (self, conn);
    pl_rooms_leave_all (self->rooms, &conn->rooms);
    pl_outq_clear (&conn->outq);
    free (conn->rx);
    pl_gateway__bin_free (conn);
    if (conn->sid) {
        zhashx_delete (self->upgraded, conn->sid);
        free (conn->sid);
    }
    free (conn->user);
    if (conn->established)
        self->nconns--;
    pl_gateway__conn_unregister (self, conn);
    memset (conn, 0, sizeof *conn);
}

int
pl_gateway__conn_join (pl_gateway_t *self, pl_gwconn_t *conn, const char *room)
{
    if (pl_rooms_chain_size (&conn->rooms) >= PL_GW_ROOMS_PER_CONN)
        return -1;
    return pl_rooms_join (self->rooms, room, conn, &conn->rooms) < 0 ? -1 : 0;
}

/* The caller context for the broker (proto/README.md), built per request
 * rather than kept per connection: 100 bytes times 50k idle connections
 * is memory, a few hundred ns per request is nothing. Caller frees. */
char *
pl_gateway__conn_ctx (pl_gateway_t *self, pl_gwconn_t *conn)
{
    char conn_id[24];
    snprintf (conn_id, sizeof conn_id, "%llu", (unsigned long long) conn->id);
    const char *name = conn->user + strlen (conn->user) + 1;
    return pl_proto_ctx_encode (self->id, conn_id, conn->user, *name ? name : NULL);
}

/* Runs on the lws loop (pl_rooms callback): first member in / last out. */
void
pl_gateway__on_room_change (void *arg, const char *room, bool subscribe)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    if (self->bus && pl_bus_subscribe (self->bus, room, subscribe) != 0)
        pl_warn ("cannot %ssubscribe room %s", subscribe ? "" : "un", room);
}

/* ---- Engine.IO heartbeat ---------------------------------------------- */

bool
pl_gateway__connect_late (pl_gateway_t *self, pl_gwconn_t *conn, int64_t now)
{
    return !conn->connected && self->app.message == NULL
        && now - conn->created >= self->connect_timeout;
}

/* Close conn now, from a libev timer (outside every lws callback): lws
 * closes a WebSocket synchronously there. (An lws timer of 0, as
 * pl_gateway__kill uses, runs when lws next serves an fd: pl_gateway__kill
 * wakes lws for it, pl_gateway__lws_rearm.) */
static void
s_kill_now (pl_gwconn_t *conn, const char *why)
{
    if (conn->poll)
        pl_gateway__poll_kill (conn, why);
    else
    if (!conn->closing) {
        pl_debug ("conn %llu: closing: %s", (unsigned long long) conn->id, why);
        conn->closing = true;
        lws_set_timeout (conn->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
    }
}

/* libev timer, gateway loop: send pings that are due; drop connections
 * that never sent CONNECT. The heartbeat runs on libev timers, not lws
 * ones: lws's libev glue does not re-arm its timer for an earlier lws
 * timer set between two of its services, so a gateway with no other
 * traffic (no broker: the conformance server) never pinged. */
void
pl_gateway__ping_fire (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gateway_t *self = (pl_gateway_t *) w->data;
    int64_t now = pl_gateway__now_ms ();
    while (self->ping.head && self->ping.head->deadline <= now) {
        pl_gwconn_t *conn = self->ping.head;
        if (conn->upgrade_of) {
            pl_gateway__timer_remove (self, conn);
            s_kill_now (conn, "upgrade not completed in time");
            continue;
        }
        if (pl_gateway__connect_late (self, conn, now)) {
            pl_gateway__timer_remove (self, conn);
            s_kill_now (conn, "no CONNECT in time");
            continue;
        }
        pl_gateway__send (self, conn, self->ping_frame);
        pl_gateway__timer_append (self, conn, PL_GWTIMER_PONG, self->ping_timeout);
    }
    s_tlist_arm (self, &self->ping);
}

/* libev timer, gateway loop: connections that did not answer a ping. */
void
pl_gateway__pong_fire (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gateway_t *self = (pl_gateway_t *) w->data;
    int64_t now = pl_gateway__now_ms ();
    while (self->pong.head && self->pong.head->deadline <= now) {
        pl_gwconn_t *conn = self->pong.head;
        pl_gateway__timer_remove (self, conn);
        s_kill_now (conn, "ping timeout");
    }
    s_tlist_arm (self, &self->pong);
}

/* One lws_write per WRITEABLE, as lws requires. With one frame queued it
 * is a plain text write. With more (a burst of room events drained in one
 * pass), they go out together: each framed here as an unmasked text frame
 * (RFC 6455 5.2), concatenated, and written raw in one lws_write. On
 * loopback a delivery costs a send() and two epoll changes, so one write
 * for several frames is the main fan-out lever. */
int
pl_gateway__on_writeable (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi)
{
    pl_frame_t *f = pl_outq_peek (&conn->outq);
    if (!f)
        return conn->closing ? -1 : 0;
    if (conn->outq.len == 1 || f->len + 10 > PL_GW_COALESCE_MAX) {
        if (lws_write (wsi, pl_frame_payload (f), f->len,
                       f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int) f->len)
            return -1;
        if (f->push)
            s_delivered (self, f);
        pl_outq_pop (&conn->outq);
    }
    else {
        unsigned char *out = self->coalesce + LWS_PRE;
        size_t used = 0;
        while ((f = pl_outq_peek (&conn->outq)) && used + f->len + 10 <= PL_GW_COALESCE_MAX) {
            out[used++] = f->binary ? 0x82 : 0x81;      /* FIN, binary or text */
            if (f->len < 126)
                out[used++] = (unsigned char) f->len;
            else
            if (f->len < 65536) {
                out[used++] = 126;
                out[used++] = (unsigned char) (f->len >> 8);
                out[used++] = (unsigned char) f->len;
            }
            else {
                out[used++] = 127;
                for (int shift = 56; shift >= 0; shift -= 8)
                    out[used++] = (unsigned char) ((uint64_t) f->len >> shift);
            }
            memcpy (out + used, pl_frame_payload (f), f->len);
            used += f->len;
            if (f->push)
                s_delivered (self, f);      /* written just below */
            pl_outq_pop (&conn->outq);
            self->stats.coalesced++;
        }
        if (lws_write (wsi, out, used, LWS_WRITE_RAW) < (int) used)
            return -1;
    }
    if (conn->outq.len)
        lws_callback_on_writable (wsi);
    return 0;
}

/* The /healthz body: the broker's service table and this gateway's
 * counters (pl_gateway.h). Here, below the front ends that serve it. */
char *
pl_gateway_health (pl_gateway_t *self, int *status)
{
    cJSON *root = pl_health_report (self->health, pl_gateway__now_ms (), status);
    cJSON_AddStringToObject (root, "gateway", self->id);
    cJSON_AddNumberToObject (root, "connections", self->nconns);
    cJSON_AddNumberToObject (root, "rooms", (double) pl_rooms_count (self->rooms));
    /* counters since start, for load tests and the routing check (a
     * gateway with no members in a room must see 0 events for it) */
    cJSON *stats = cJSON_AddObjectToObject (root, "stats");
    cJSON_AddNumberToObject (stats, "requests", (double) self->stats.requests);
    cJSON_AddNumberToObject (stats, "events_in", (double) self->stats.events_in);
    cJSON_AddNumberToObject (stats, "events_unrouted", (double) self->stats.events_unrouted);
    cJSON_AddNumberToObject (stats, "deliveries", (double) self->stats.deliveries);
    cJSON_AddNumberToObject (stats, "slow_disconnects", (double) self->stats.slow_disconnects);
    cJSON_AddNumberToObject (stats, "coalesced", (double) self->stats.coalesced);
    cJSON_AddNumberToObject (stats, "events_dropped", (double) self->stats.events_dropped);
    cJSON_AddNumberToObject (stats, "rate_limited", (double) self->stats.rate_limited);
    cJSON_AddNumberToObject (stats, "rest_requests", (double) self->stats.rest_requests);
    cJSON_AddNumberToObject (stats, "rest_rate_limited", (double) self->stats.rest_rate_limited);
    cJSON_AddNumberToObject (stats, "hud_served", (double) self->stats.hud_served);
    cJSON_AddNumberToObject (stats, "recoveries", (double) self->stats.recoveries);
    cJSON_AddNumberToObject (stats, "recoveries_refused", (double) self->stats.recoveries_refused);
    cJSON_AddNumberToObject (stats, "poll_forwarded", (double) self->stats.poll_forwarded);
    cJSON_AddNumberToObject (stats, "poll_forwards_served",
                             (double) self->stats.poll_forwards_served);
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}
