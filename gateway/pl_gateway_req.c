/*  pl_gateway_req - the gateway's requests to the broker and their replies:
 *  client EVENTs (with the per-connection rate limit), REST calls, and the
 *  gateway's own presence notifications to the rooms service.
 *
 *  Pending requests live in pl_pending, a bounded ring: every request has
 *  the same timeout and ids go in order, so the oldest is next to expire
 *  and one timer serves them all. Each entry names its asker by an id of
 *  the connection registry, so an asker that closed meanwhile is a failed
 *  lookup on reply or timeout, never a dangling pointer.
 *
 *  Presence (proto/README.md, Presence): the rooms service records which
 *  connection of which gateway is in which room. The gateway tells it when
 *  such a connection closes (presence:drop) and that it is itself alive
 *  (presence:alive every PARLEY_PRESENCE_TTL_MS / 3); a gateway that
 *  crashes stops saying so, and the service drops its records after the
 *  TTL. Everything here runs on the gateway's lws loop.
 */
#include "pl_gateway_int.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pending ring ------------------------------------------------- */

/* At most this many TIMEOUT lines a second (the rest counted). */
#define S_TIMEOUT_LOG_PER_SEC 20

static void
s_pending_arm (pl_gateway_t *self, int64_t deadline)
{
    self->pending_armed = true;
    pl_gateway__timer_after (self, &self->pending_timer,
                             deadline - pl_gateway__now_ms () + 1);
}

static void s_presence_drop_id (pl_gateway_t *self, uint64_t conn_id);

/* Seconds since start_us (the low 32 bits of pl_gateway__now_us). */
static double
s_since (uint32_t start_us)
{
    return (double) (uint32_t) ((uint32_t) pl_gateway__now_us () - start_us) / 1e6;
}

/* pl_pending callback, lws loop: a request got no answer in time. Its
 * TIMEOUT names the request (error.requestId), as this gateway's log does. */
static void
s_on_expired (void *arg, uint64_t reqid, const pl_pending_entry_t *entry)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    char rid[PL_PENDING_ID_SIZE];
    pl_log_set_rid (rid, pl_pending_id_text (self->id, reqid, rid));
    pl_gwconn_t *conn = entry->kind == PL_PENDING_INTERNAL
                      ? NULL : pl_gateway__conn_lookup (self, entry->conn);
    char *reply = NULL;
    if (entry->kind == PL_PENDING_INTERNAL)
        pl_debug ("internal request: no answer in %ld ms", (long) self->request_timeout);
    else
        /* a broker gone silent times out every request at once: bounded */
        pl_log_limited (&self->timeout_log, pl_gateway__now_ms (), S_TIMEOUT_LOG_PER_SEC,
                        "TIMEOUT lines", PL_LOG_INFO, "conn %llu: no answer in %ld ms: TIMEOUT",
                        (unsigned long long) entry->conn, (long) self->request_timeout);
    if ((entry->kind == PL_PENDING_HTTP || (entry->kind == PL_PENDING_SOCKET && entry->has_ack))
    &&  conn)
        reply = pl_proto_reply_err_rid (PL_ERR_TIMEOUT,
                                        "no answer in time; the outcome is unknown", rid);
    if (entry->kind == PL_PENDING_HTTP) {
        if (conn && !conn->established && self->http_front.reply && reply)
            self->http_front.reply (self, conn, reply, strlen (reply));
    }
    else
    if (entry->kind == PL_PENDING_REJOIN) {
        /* as a subscribe below: it may have recorded presence */
        if (conn)
            conn->presence = true;
        else
            s_presence_drop_id (self, entry->conn);
    }
    else
    if (entry->kind == PL_PENDING_SOCKET) {
        /* the request may still have joined the connection to a room
         * (a subscribe that was slow, not lost): treat it as if it had,
         * since a needless presence:drop costs one message and a missing
         * one leaves a ghost until the gateway stops */
        if (conn) {
            conn->inflight--;
            conn->presence = true;
            if (entry->has_ack) {
                if (reply)
                    pl_gateway__send_ack (self, conn, entry->ack_id, reply, strlen (reply));
                pl_gwmetrics_request (self->metrics, entry->event, PL_ERR_TIMEOUT,
                                      s_since (entry->start_us));
            }
        }
        else
            s_presence_drop_id (self, entry->conn);
    }
    free (reply);
    pl_log_set_rid (NULL, 0);
}

/* libev timer, gateway loop: the oldest request's deadline passed. */
void
pl_gateway__pending_fire (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gateway_t *self = (pl_gateway_t *) w->data;
    self->pending_armed = false;
    int64_t next = pl_pending_expire (self->pending, pl_gateway__now_ms (), s_on_expired, self);
    if (next >= 0)
        s_pending_arm (self, next);
}

/* Send one request and record it in the ring. Every request holds a slot,
 * unacked and internal ones too: the worker answers them all, and the slot
 * keeps ids unique and in-flight bounded. Returns PL_ERR_NONE or
 * SERVICE_UNAVAILABLE with *why. */
static pl_err_t
s_send (pl_gateway_t *self, const pl_event_info_t *ev, const char *ctx,
        const char *body, size_t body_len, const pl_pending_entry_t *entry,
        const char **why)
{
    pl_err_t err = PL_ERR_SERVICE_UNAVAILABLE;
    /* a request sent while another is handled (a reply's unsubscribe, a
     * timeout's presence:drop) names itself, then gives the id back */
    char outer[PL_LOG_RID_SIZE] = "";
    if (pl_log_rid ())
        snprintf (outer, sizeof outer, "%s", pl_log_rid ());
    char rid[PL_PENDING_ID_SIZE];
    size_t rid_len = pl_pending_id_text (self->id, pl_pending_next_id (self->pending), rid);
    pl_log_set_rid (rid, rid_len);
    if (self->stopping) {
        *why = "gateway stopping";
        goto cleanup;
    }
    if (!pl_pending_has_room (self->pending)) {
        *why = "gateway overloaded";
        goto cleanup;
    }
    if (!ctx || pl_bus_request (self->bus, ev->service, rid, rid_len, ev->name,
                                ctx, strlen (ctx), body, body_len) != 0) {
        *why = "broker unreachable";
        goto cleanup;
    }
    int64_t deadline = pl_gateway__now_ms () + self->request_timeout;
    pl_pending_add (self->pending, deadline, entry);
    if (!self->pending_armed)
        s_pending_arm (self, deadline);
    pl_debug ("request %s sent to %s (conn %llu)", ev->name, ev->service,
              (unsigned long long) entry->conn);
    err = PL_ERR_NONE;
cleanup:
    if (err != PL_ERR_NONE)
        pl_debug ("request %s not sent: %s", ev->name, *why);
    pl_log_set_rid (outer, strlen (outer));
    return err;
}

/* ---- client requests -------------------------------------------------- */

/* Ack a client EVENT of event ev (-1: unknown) with an error, and count it
 * (one request per ack). No ack asked: nothing is sent or counted. */
static void
s_refuse (pl_gateway_t *self, pl_gwconn_t *conn, const pl_sio_packet_t *pkt, int ev,
          uint32_t start_us, pl_err_t err, const char *message)
{
    if (!pkt->has_ack)
        return;
    pl_gateway__send_ack_error (self, conn, pkt->ack_id, err, message);
    pl_gwmetrics_request (self->metrics, ev, err, s_since (start_us));
}

/* The per-connection rate limit as GCRA (pl_rate_gcra, pl_ratetab.h): a
 * token bucket kept as one timestamp, refilled lazily from the monotonic
 * clock: no timer, 8 bytes a connection. burst requests pass at once, then
 * one per interval. */
static bool
s_rate_allow (pl_gateway_t *self, pl_gwconn_t *conn)
{
    if (self->rate_interval == 0)
        return true;                        /* PARLEY_RATE_PER_SEC=0: off */
    return pl_rate_gcra (&conn->rate_tat, pl_gateway__now_us (), self->rate_interval,
                         self->rate_tolerance) == 0;
}

void
pl_gateway__request (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt)
{
    char *body = NULL;
    char *ctx = NULL;
    const char *why = NULL;
    uint32_t start = (uint32_t) pl_gateway__now_us ();
    int id = pkt->event ? pl_proto_event_lookup (pkt->event, strlen (pkt->event)) : -1;
    if (id >= 0 && (pl_proto_event ((pl_event_id_t) id)->flags & PL_INTERNAL))
        id = -1;                            /* clients may not send it: unknown */
    pl_gwmetrics_event_in (self->metrics, id);
    if (id < 0) {
        s_refuse (self, conn, pkt, id, start, PL_ERR_UNKNOWN_EVENT, "unknown event");
        goto cleanup;
    }
    const pl_event_info_t *ev = pl_proto_event ((pl_event_id_t) id);
    if (pkt->nul) {
        /* printed again for the broker, a string would end at its NUL:
         * "p1\u0000x" would reach the service as p1. Free text cannot
         * keep one either (a C string), so every NUL is refused. */
        s_refuse (self, conn, pkt, id, start, PL_ERR_VALIDATION_ERROR, PL_PROTO_NUL_MESSAGE);
        goto cleanup;
    }
    if (pkt->deep) {
        /* the workers refuse it too: the nesting limit bounds the stack
         * their handlers need (pl_proto.h) */
        s_refuse (self, conn, pkt, id, start, PL_ERR_VALIDATION_ERROR, PL_PROTO_DEPTH_MESSAGE);
        goto cleanup;
    }
    if (conn->inflight >= self->max_inflight) {
        s_refuse (self, conn, pkt, id, start, PL_ERR_RATE_LIMITED,
                  "too many requests in flight on this connection");
        goto cleanup;
    }
    if ((ev->flags & PL_RATED) && !s_rate_allow (self, conn)) {
        self->stats.rate_limited++;
        char message[160];
        snprintf (message, sizeof message,
                  "too many %s requests: at most %lld per second, bursts of %lld",
                  ev->name, (long long) (1000000 / self->rate_interval),
                  (long long) (self->rate_tolerance / self->rate_interval + 1));
        s_refuse (self, conn, pkt, id, start, PL_ERR_RATE_LIMITED, message);
        goto cleanup;
    }
    size_t body_len = 0;
    if (pkt->arg) {
        body = cJSON_PrintUnformatted (pkt->arg);
        body_len = body ? strlen (body) : 0;
    }
    ctx = pl_gateway__conn_ctx (self, conn);
    pl_pending_entry_t entry = { conn->id, pkt->ack_id, pkt->has_ack && (ev->flags & PL_ACK),
                                 PL_PENDING_SOCKET, (uint16_t) id, start };
    if (s_send (self, ev, ctx, body, body_len, &entry, &why) != PL_ERR_NONE) {
        s_refuse (self, conn, pkt, id, start, PL_ERR_SERVICE_UNAVAILABLE, why);
        goto cleanup;
    }
    self->stats.requests++;
    conn->inflight++;
cleanup:
    free (body);
    free (ctx);
}

pl_err_t
pl_gateway__rest_request (pl_gateway_t *self, pl_gwconn_t *conn, pl_event_id_t ev,
                          const char *user, const char *name,
                          const char *body, size_t body_len, const char **why)
{
    pl_err_t err = PL_ERR_SERVICE_UNAVAILABLE;
    char *ctx = NULL;
    char conn_id[24];
    *why = "gateway overloaded";
    if (!self->bus) {
        *why = "no broker behind this server";     /* a conformance server */
        goto cleanup;
    }
    /* the transaction's id comes from the connection registry, so it is
     * never a socket connection's id: exclude_origin matches nobody */
    if (conn->id == 0 && pl_gateway__conn_register (self, conn) != 0)
        goto cleanup;
    snprintf (conn_id, sizeof conn_id, "%llu", (unsigned long long) conn->id);
    ctx = pl_proto_ctx_encode (self->id, conn_id, user, name && *name ? name : NULL);
    pl_pending_entry_t entry = { conn->id, 0, true, PL_PENDING_HTTP, (uint16_t) ev, 0 };
    err = s_send (self, pl_proto_event (ev), ctx, body, body_len, &entry, why);
    if (err == PL_ERR_NONE)
        self->stats.rest_requests++;
cleanup:
    if (err != PL_ERR_NONE)
        pl_gateway__conn_unregister (self, conn);
    free (ctx);
    return err;
}

int
pl_gateway__resubscribe (pl_gateway_t *self, pl_gwconn_t *conn, const char *room,
                         uint64_t *reqid)
{
    int rc = -1;
    const char *why = NULL;
    char *ctx = pl_gateway__conn_ctx (self, conn);
    cJSON *body = cJSON_CreateObject ();
    cJSON_AddStringToObject (body, "room", room);
    char *text = cJSON_PrintUnformatted (body);
    pl_pending_entry_t entry = { conn->id, 0, false, PL_PENDING_REJOIN, PL_EV_SUBSCRIBE, 0 };
    *reqid = pl_pending_next_id (self->pending);
    if (text && s_send (self, pl_proto_event (PL_EV_SUBSCRIBE), ctx, text, strlen (text),
                        &entry, &why) == PL_ERR_NONE)
        rc = 0;
    else
        pl_warn ("conn %llu: recovery could not subscribe again to %s: %s",
                 (unsigned long long) conn->id, room, why ? why : "out of memory");
    free (text);
    cJSON_Delete (body);
    free (ctx);
    return rc;
}

/* ---- replies ---------------------------------------------------------- */

/* Malformed directives or room names are logged and skipped: they come
 * from our own workers, so they mean a bug, not an attack. A join list the
 * connection has no room left for (PL_GW_ROOMS_PER_CONN) is not applied
 * at all (the leaves are): returns false then, true otherwise. */
bool
pl_gateway__apply_directives (pl_gateway_t *self, pl_gwconn_t *conn, const cJSON *root,
                              bool allow_join)
{
    const char *keys[] = { "join", "leave" };
    const cJSON *join = cJSON_GetObjectItemCaseSensitive (root, "join");
    bool fits = true;
    if (allow_join && cJSON_IsArray (join)) {
        int wanted = 0;
        const cJSON *room;
        cJSON_ArrayForEach (room, join)
            if (cJSON_IsString (room) && !pl_rooms_in (&conn->rooms, room->valuestring))
                wanted++;
        if (wanted > 0 && pl_rooms_chain_size (&conn->rooms) + wanted > PL_GW_ROOMS_PER_CONN) {
            pl_info ("conn %llu: no room for %d more rooms (at most %d)",
                     (unsigned long long) conn->id, wanted, PL_GW_ROOMS_PER_CONN);
            fits = allow_join = false;
        }
    }
    for (int k = allow_join ? 0 : 1; k < 2; k++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive (root, keys[k]);
        const cJSON *room;
        cJSON_ArrayForEach (room, list) {
            if (!cJSON_IsString (room) || !*room->valuestring
            ||  strlen (room->valuestring) > PL_GW_ROOM_MAX) {
                pl_warn ("conn %llu: ignored a bad room in directives",
                         (unsigned long long) conn->id);
                continue;
            }
            if (k == 0 && pl_gateway__conn_join (self, conn, room->valuestring) != 0)
                pl_warn ("conn %llu: cannot join %s (at most %d rooms)",
                         (unsigned long long) conn->id, room->valuestring,
                         PL_GW_ROOMS_PER_CONN);
            if (k == 1)
                pl_rooms_leave (self->rooms, &conn->rooms, room->valuestring);
        }
    }
    return fits;
}

/* pl_fence callback, lws loop: is the connection in room audience? */
static bool
s_in_audience (void *arg, const char *audience)
{
    pl_gwconn_t *conn = (pl_gwconn_t *) arg;
    return pl_rooms_in (&conn->rooms, audience);
}

/* Take out of root's join list the rooms an eviction applied since request
 * reqid was sent has fenced off (pl_fence.h). Returns true when it had
 * joins and every one of them was fenced: the service's yes is stale. */
static bool
s_fence_joins (pl_gateway_t *self, pl_gwconn_t *conn, cJSON *root, uint64_t reqid)
{
    cJSON *join = cJSON_GetObjectItemCaseSensitive (root, "join");
    int total = cJSON_GetArraySize (join), fenced = 0;
    int64_t now = pl_gateway__now_ms ();
    for (int i = total - 1; i >= 0; i--) {
        const cJSON *room = cJSON_GetArrayItem (join, i);
        if (cJSON_IsString (room)
        &&  pl_fence_blocks (self->fence, room->valuestring, reqid, now, s_in_audience, conn)) {
            pl_info ("conn %llu: not joining %s: evicted while the request was in flight",
                     (unsigned long long) conn->id, room->valuestring);
            cJSON_DeleteItemFromArray (join, i);
            fenced++;
        }
    }
    return total > 0 && fenced == total;
}

/* True when directives hold a non-empty join list. */
static bool
s_joins (const cJSON *root)
{
    const cJSON *join = cJSON_GetObjectItemCaseSensitive (root, "join");
    return cJSON_IsArray (join) && cJSON_GetArraySize (join) > 0;
}

static void s_internal_conn (pl_gateway_t *self, pl_event_id_t id, pl_gwconn_t *conn,
                             const char *body);

/* A join list the connection had no room for: the service has recorded
 * presence in those rooms, so unsubscribe from each on the connection's
 * behalf (an internal request; its leave directives are not needed). */
static void
s_untake_joins (pl_gateway_t *self, pl_gwconn_t *conn, const cJSON *root)
{
    const cJSON *room;
    cJSON_ArrayForEach (room, cJSON_GetObjectItemCaseSensitive (root, "join")) {
        if (!cJSON_IsString (room))
            continue;
        cJSON *body = cJSON_CreateObject ();
        cJSON_AddStringToObject (body, "room", room->valuestring);
        char *text = cJSON_PrintUnformatted (body);
        if (text)
            s_internal_conn (self, PL_EV_UNSUBSCRIBE, conn, text);
        free (text);
        cJSON_Delete (body);
    }
}

/* pl_bus callback, lws loop: a reply from the broker. Room directives are
 * applied before the ack goes out, so a client holding its ack is already
 * in (or out of) the room. */
void
pl_gateway__on_reply (void *arg, const void *reqid_bytes, size_t reqid_len,
                      const char *reply, size_t reply_len, const char *directives,
                      size_t directives_len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    cJSON *root = NULL;
    uint64_t reqid;
    pl_pending_entry_t entry;
    if (!pl_pending_id_parse (self->id, reqid_bytes, reqid_len, &reqid))
        goto cleanup;                       /* not ours */
    pl_log_set_rid (reqid_bytes, reqid_len);
    if (!pl_pending_take (self->pending, reqid, &entry)) {
        pl_debug ("late reply dropped (the request timed out)");
        goto cleanup;                       /* late: already timed out */
    }
    pl_debug ("reply for conn %llu", (unsigned long long) entry.conn);
    if (entry.kind == PL_PENDING_INTERNAL)
        goto cleanup;                       /* presence: nobody waits */
    pl_gwconn_t *conn = pl_gateway__conn_lookup (self, entry.conn);
    if (entry.kind == PL_PENDING_HTTP) {
        if (conn && !conn->established && self->http_front.reply)
            self->http_front.reply (self, conn, reply, reply_len);
        goto cleanup;                       /* REST has no rooms */
    }
    if (directives)
        root = pl_proto_json_parse (directives, directives_len);
    if (entry.kind == PL_PENDING_REJOIN) {
        /* a recovered connection's subscribe: joined (presence recorded)
         * as a client's would be, or refused: recovery takes the room away */
        bool joined = false;
        if (conn && s_joins (root)) {
            conn->presence = true;
            joined = !s_fence_joins (self, conn, root, reqid)
                  && pl_gateway__apply_directives (self, conn, root, true);
        }
        if (conn)
            pl_gateway__recover_rejoined (self, conn, reqid, joined);
        else
        if (s_joins (root))
            s_presence_drop_id (self, entry.conn);
        goto cleanup;
    }
    if (!conn) {
        /* it closed while the service joined it somewhere (a subscribe
         * racing a disconnect): have the service forget it again */
        if (s_joins (root))
            s_presence_drop_id (self, entry.conn);
        goto cleanup;
    }
    conn->inflight--;
    bool stale = false, full = false;
    if (root) {
        if (s_joins (root))
            conn->presence = true;
        stale = s_fence_joins (self, conn, root, reqid);
        full = !pl_gateway__apply_directives (self, conn, root, true);
    }
    if (full)
        s_untake_joins (self, conn, root);
    pl_err_t code = PL_ERR_NONE;
    if (entry.has_ack && stale)
        pl_gateway__send_ack_error (self, conn, entry.ack_id, code = PL_ERR_FORBIDDEN,
                                    "removed from the room while this request was in flight");
    else
    if (entry.has_ack && full) {
        char message[128];
        snprintf (message, sizeof message, "this connection is in as many rooms as it may be "
                  "(%d); leave one first", PL_GW_ROOMS_PER_CONN);
        pl_gateway__send_ack_error (self, conn, entry.ack_id, code = PL_ERR_CONFLICT, message);
    }
    else
    if (entry.has_ack) {
        code = pl_gwmetrics_reply_code (reply, reply_len);
        pl_gateway__send_ack (self, conn, entry.ack_id, reply, reply_len);
    }
    if (entry.has_ack)
        pl_gwmetrics_request (self->metrics, entry.event, code, s_since (entry.start_us));
cleanup:
    pl_log_set_rid (NULL, 0);
    cJSON_Delete (root);
}

/* ---- presence --------------------------------------------------------- */

/* Send an internal event as the caller context ctx (taken; no ack: the
 * service's answer is dropped). who names the connection in a warning. */
static void
s_internal_send (pl_gateway_t *self, pl_event_id_t id, char *ctx, const char *who,
                 const char *body)
{
    const char *why = NULL;
    pl_pending_entry_t entry = { 0, 0, false, PL_PENDING_INTERNAL, (uint16_t) id, 0 };
    const pl_event_info_t *ev = pl_proto_event (id);
    if (s_send (self, ev, ctx, body, body ? strlen (body) : 0, &entry, &why) != PL_ERR_NONE
    &&  !self->stopping)
        pl_warn ("cannot send %s for conn %s: %s", ev->name, who, why);
    free (ctx);
}

/* An internal event for connection conn_id of user (name may be NULL). */
static void
s_internal (pl_gateway_t *self, pl_event_id_t id, const char *conn_id, const char *user,
            const char *name, const char *body)
{
    s_internal_send (self, id, pl_proto_ctx_encode (self->id, conn_id, user, name), conn_id, body);
}

/* An internal event on behalf of a live connection, as itself. */
static void
s_internal_conn (pl_gateway_t *self, pl_event_id_t id, pl_gwconn_t *conn, const char *body)
{
    char who[24];
    snprintf (who, sizeof who, "%llu", (unsigned long long) conn->id);
    s_internal_send (self, id, pl_gateway__conn_ctx (self, conn), who, body);
}

/* presence:drop for a connection that is gone: its user is no longer
 * known here, and the service needs only gateway and connection ids. */
static void
s_presence_drop_id (pl_gateway_t *self, uint64_t conn_id)
{
    char id[24];
    snprintf (id, sizeof id, "%llu", (unsigned long long) conn_id);
    s_internal (self, PL_EV_PRESENCE_DROP, id, "-", NULL, NULL);
}

void
pl_gateway__presence_drop (pl_gateway_t *self, pl_gwconn_t *conn)
{
    /* at shutdown the bus goes too (zmq LINGER 0): the service drops this
     * gateway's records when its presence:alive stops, after the TTL */
    if (!conn->presence || !conn->user || self->stopping)
        return;
    s_internal_conn (self, PL_EV_PRESENCE_DROP, conn, NULL);
    conn->presence = false;
}

/* libev timer, gateway loop: tell the rooms service this gateway is alive.
 * A failed send (broker not up yet) is retried within a second rather than
 * a third of the TTL, so a starting gateway is known quickly. */
void
pl_gateway__presence_fire (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gateway_t *self = (pl_gateway_t *) w->data;
    const char *why = NULL;
    long period = self->presence_ttl / 3 > 0 ? self->presence_ttl / 3 : 1;
    char body[96];
    snprintf (body, sizeof body, "{\"boot\":\"%s\",\"ttlMs\":%ld}", self->boot,
              self->presence_ttl);
    char *ctx = pl_proto_ctx_encode (self->id, "0", "-", NULL);
    pl_pending_entry_t entry = { 0, 0, false, PL_PENDING_INTERNAL, PL_EV_PRESENCE_ALIVE, 0 };
    if (s_send (self, pl_proto_event (PL_EV_PRESENCE_ALIVE), ctx, body, strlen (body),
                &entry, &why) != PL_ERR_NONE) {
        pl_debug ("presence:alive not sent: %s", why);
        if (period > 1000)
            period = 1000;
    }
    free (ctx);
    pl_gateway__timer_after (self, &self->presence_timer, period);
}

void
pl_gateway__presence_start (pl_gateway_t *self)
{
    unsigned char raw[8];
    if (RAND_bytes (raw, sizeof raw) != 1) {
        int64_t now = pl_gateway__now_us ();    /* unique enough per start */
        memcpy (raw, &now, sizeof raw);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf (self->boot + 2 * i, 3, "%02x", raw[i]);
    pl_gateway__presence_fire (self->loop, &self->presence_timer, 0);
}
