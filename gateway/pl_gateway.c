/*  pl_gateway - Socket.IO v5 over WebSocket, on one lws loop.
 *
 *  Everything in this file runs on one thread, on a libev loop (epoll) that
 *  the gateway owns and lws runs on as a "foreign loop". lws's default
 *  backend is poll(), which walks every descriptor on every wakeup: O(n) per
 *  event is fine for a demo and ruinous at 50k connections. Debian's lws
 *  4.1.6 ships the libev plugin, so this costs no extra dependency. SIGINT
 *  and SIGTERM are libev signal watchers that end the loop; pl_stopguard
 *  ends the process if the loop does not (pl_gateway_run).
 *
 *  This file holds the Socket.IO session (CONNECT and JWT, packets), the
 *  event bus (room fan-out, room controls, broker status) and the process
 *  lifecycle; pl_gateway_conn.c holds connections, sending and the
 *  Engine.IO heartbeat; pl_gateway_req.c requests to the broker, replies
 *  and presence notifications; pl_http.c the plain HTTP side (/healthz,
 *  the REST API through pl_rest).
 */
#include "pl_gateway_int.h"
#include "pl_http.h"
#include "pl_jwt.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_sio.h"
#include "pl_stopguard.h"

#include <assert.h>
#include <ev.h>
#include <libwebsockets.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- the event bus ---------------------------------------------------- */

/* pl_bus callback, lws loop: a room control for every local member of
 * room_name: an eviction {"leave":[..]}, e.g. all of a user's tabs leaving
 * a campaign they were removed from, or a grant {"join":[..], "within":
 * room}, e.g. the tabs of a new GM that are in the campaign's room joining
 * its GM room. The members are collected first: leaving may remove them
 * from room_name itself, which reorders its member array. */
static void
s_on_control (void *arg, const char *room_name, const char *json, size_t len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_room_t *room = pl_rooms_find (self->rooms, room_name);
    uint64_t *ids = NULL;
    size_t count = room ? pl_room_size (room) : 0;
    if (count == 0 || !(ids = malloc (count * sizeof *ids)))
        return;
    for (size_t i = 0; i < count; i++)
        ids[i] = ((pl_gwconn_t *) pl_room_member (room, i))->id;
    cJSON *root = pl_proto_json_parse (json, len);
    const cJSON *leave = cJSON_GetObjectItemCaseSensitive (root, "leave");
    const cJSON *within = cJSON_GetObjectItemCaseSensitive (root, "within");
    const cJSON *left;
    if (cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (root, "join"))) {
        /* a grant: the members also in room `within` join the rooms */
        if (!cJSON_IsString (within))
            pl_warn ("bus: ignored a control for %s that joins without \"within\"", room_name);
        else
            for (size_t i = 0; i < count; i++) {
                pl_gwconn_t *conn = pl_gateway__conn_lookup (self, ids[i]);
                if (conn && pl_rooms_in (&conn->rooms, within->valuestring)
                &&  !pl_gateway__apply_directives (self, conn, root, true))
                    pl_warn ("conn %llu: no room left for a grant in %s",
                             (unsigned long long) conn->id, within->valuestring);
            }
        goto cleanup;
    }
    /* an eviction: the members leave the rooms */
    /* a reply to a request sent before now must not join them back */
    cJSON_ArrayForEach (left, leave)
        if (cJSON_IsString (left)
        &&  !pl_fence_add (self->fence, room_name, left->valuestring,
                           pl_pending_next_id (self->pending), pl_gateway__now_ms ()))
            pl_warn ("bus: more than %d evictions within the request timeout; "
                     "the oldest fence is forgotten", PL_FENCE_MAX);
    if (!cJSON_IsArray (leave))
        pl_warn ("bus: ignored a control for %s without a leave list", room_name);
    else
        for (size_t i = 0; i < count; i++) {
            pl_gwconn_t *conn = pl_gateway__conn_lookup (self, ids[i]);
            if (conn)
                pl_gateway__apply_directives (self, conn, root, false);
        }
cleanup:
    cJSON_Delete (root);
    free (ids);
}

/* Resolve an except frame (a JSON array of room names) to the local
 * rooms it names; rooms with no local member are left out, as nobody here
 * can be in them. Returns the count, or -1 when malformed. */
static int
s_except_rooms (pl_gateway_t *self, const char *json, size_t len, pl_room_t **rooms)
{
    int n = -1;
    cJSON *root = pl_proto_json_parse (json, len);
    if (!cJSON_IsArray (root) || cJSON_GetArraySize (root) > PL_GW_EXCEPT_MAX)
        goto cleanup;
    int found = 0;
    const cJSON *name;
    cJSON_ArrayForEach (name, root) {
        if (!cJSON_IsString (name) || !*name->valuestring
        ||  strlen (name->valuestring) > PL_GW_ROOM_MAX)
            goto cleanup;
        pl_room_t *room = pl_rooms_find (self->rooms, name->valuestring);
        if (room)
            rooms[found++] = room;
    }
    n = found;
cleanup:
    cJSON_Delete (root);
    return n;
}

/* pl_bus callback, lws loop: fan a room event out to local members. The
 * packet is not parsed: the room is the topic, and the packet is already
 * the Socket.IO EVENT data, so one shared frame serves every member. An
 * except frame (6th) leaves out members of the rooms it lists, e.g. the
 * GMs and the creator, who already had a hidden actor; it is the one thing
 * parsed, and only when present. */
static void
s_on_event (void *arg, const char *room_name, const char *origin, size_t origin_len,
            const char *packet, size_t packet_len, const char *except, size_t except_len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_room_t *room = pl_rooms_find (self->rooms, room_name);
    pl_room_t *except_rooms[PL_GW_EXCEPT_MAX];
    int nexcept = 0;
    self->stats.events_in++;
    if (!room || packet_len < 2 || packet[0] != '[') {
        self->stats.events_unrouted++;
        return;
    }
    if (except && (nexcept = s_except_rooms (self, except, except_len, except_rooms)) < 0) {
        /* it comes from our own workers: a bug, so say so and deliver
         * nothing rather than risk sending a hidden thing to everyone */
        pl_warn ("bus: dropped an event for %s with a malformed except frame", room_name);
        self->stats.events_dropped++;
        return;
    }
    uint64_t skip = 0;
    size_t id_len = strlen (self->id);
    if (origin_len > id_len + 1 && memcmp (origin, self->id, id_len) == 0
    &&  origin[id_len] == '/') {
        for (size_t i = id_len + 1; i < origin_len && origin[i] >= '0' && origin[i] <= '9'; i++)
            skip = skip * 10 + (uint64_t) (origin[i] - '0');
    }
    pl_frame_t *f = pl_frame_new ("42", 2, packet, packet_len);
    if (!f)
        return;
    size_t size = pl_room_size (room);
    for (size_t i = 0; i < size; i++) {
        pl_gwconn_t *conn = (pl_gwconn_t *) pl_room_member (room, i);
        if (conn->id != skip
        &&  !(nexcept && pl_rooms_in_any (&conn->rooms, except_rooms, (size_t) nexcept))) {
            pl_gateway__send (self, conn, f);
            self->stats.deliveries++;
        }
    }
    pl_frame_unref (&f);
}

/* pl_bus callback, lws loop: the broker's service table. */
static void
s_on_status (void *arg, const char *json, size_t len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_health_update (self->health, json, len, pl_gateway__now_ms ());
}

/* lws timer, lws loop: ask the broker for its services every heartbeat.
 * This is also how the gateway notices a dead broker. */
static void
s_status_fire (lws_sorted_usec_list_t *sul)
{
    pl_gateway_t *self = lws_container_of (sul, pl_gateway_t, status_sul);
    pl_bus_status (self->bus);
    lws_sul_schedule (self->lws, 0, &self->status_sul, s_status_fire,
                      (lws_usec_t) self->heartbeat * LWS_US_PER_MS);
}

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
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}

/* ---- Socket.IO -------------------------------------------------------- */

/* Lines a second that a peer's protocol errors may add to the log. A flood
 * of bad frames (or of connections that each send one) costs one line per
 * error up to this, then one summary line (pl_log_limited). */
#define PL_GW_CLOSE_LOG_PER_SEC 10

/* lws loop: conn breaks the protocol and is closed (the caller returns -1
 * from its callback). The close frame carries status and why (at most 123
 * bytes, RFC 6455 5.5), so the client sees the reason instead of 1006; the
 * log gets one info line with the peer address, within the budget. why is
 * NULL for a close the client asked for (Engine.IO CLOSE, DISCONNECT),
 * which is normal and logged at debug only. */
static void
s_close (pl_gateway_t *self, pl_gwconn_t *conn, enum lws_close_status status, const char *why)
{
    char peer[64] = "";
    if (!why) {
        lws_close_reason (conn->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        pl_debug ("conn %llu: closed by the client", (unsigned long long) conn->id);
        goto cleanup;
    }
    size_t len = strlen (why);
    lws_close_reason (conn->wsi, status, (unsigned char *) why, len > 123 ? 123 : len);
    if (!lws_get_peer_simple (conn->wsi, peer, sizeof peer))
        snprintf (peer, sizeof peer, "?");
    pl_log_limited (&self->close_log, pl_gateway__now_ms (), PL_GW_CLOSE_LOG_PER_SEC,
                    "protocol error lines", PL_LOG_INFO,
                    "conn %llu from %s: protocol error, closing (%d): %s",
                    (unsigned long long) conn->id, peer, (int) status, why);
cleanup:
    return;
}

/* A CONNECT. Parley serves the main namespace only: a CONNECT to another
 * is answered CONNECT_ERROR "Invalid namespace" for that namespace, as the
 * reference server does (Client._connect). socket.io-client routes the
 * packet by its namespace, so an error for "/" would leave the socket of
 * io(url + "/admin") waiting for ever. The connection stays open: the
 * client may be, or may yet get, connected to "/". */
static void
s_on_connect (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt)
{
    pl_jwt_claims_t claims = { 0 };
    const char *why = "missing token";
    char room[300];
    if (pkt->nsp_len != 1) {
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (pkt->nsp, pkt->nsp_len,
                                                                       "Invalid namespace"));
        goto cleanup;
    }
    const cJSON *token = cJSON_GetObjectItemCaseSensitive (pkt->json, "token");
    if (pkt->nul)
        why = PL_PROTO_NUL_MESSAGE;     /* "<token>\u0000junk" is not that token */
    if (pkt->nul || !cJSON_IsString (token)
    ||  pl_jwt_verify (token->valuestring, strlen (token->valuestring), self->secret,
                       time (NULL), &claims, &why) != 0) {
        char message[128];
        snprintf (message, sizeof message, "unauthorized: %s", why);
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (NULL, 0, message));
        goto cleanup;
    }
    snprintf (room, sizeof room, "user:%s", claims.sub);
    size_t sub_len = strlen (claims.sub);
    const char *name = claims.name ? claims.name : "";
    conn->user = malloc (sub_len + strlen (name) + 2);
    char sid[21];
    if (!conn->user || pl_sio_new_sid (sid) != 0 || pl_gateway__conn_join (self, conn, room) != 0) {
        free (conn->user);
        conn->user = NULL;
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (NULL, 0, "server error"));
        goto cleanup;
    }
    memcpy (conn->user, claims.sub, sub_len + 1);
    strcpy (conn->user + sub_len + 1, name);
    conn->connected = true;
    pl_gateway__send_str (self, conn, pl_sio_encode_connect (sid));
cleanup:
    pl_jwt_claims_clear (&claims);
}

/* Handle one complete client message. Returns -1 to close the connection
 * (s_close has set the close frame and logged why). */
static int
s_on_message (pl_gateway_t *self, pl_gwconn_t *conn, const char *buf, size_t len)
{
    int rc = -1;
    pl_sio_packet_t pkt;
    const char *why = NULL;
    if (pl_sio_parse (buf, len, &pkt, &why) != 0)
        goto cleanup;
    switch (pkt.eio) {
        case PL_EIO_PONG:
            if (conn->timer == PL_GWTIMER_PONG)
                pl_gateway__timer_append (self, conn, PL_GWTIMER_PING, self->ping_interval);
            break;
        case PL_EIO_PING:
            pl_gateway__send_text (self, conn, "3", 1);
            break;
        case PL_EIO_CLOSE:
            goto cleanup;
        case PL_EIO_MESSAGE:
            if (pkt.sio == PL_SIO_CONNECT) {
                if (conn->connected && pkt.nsp_len == 1)
                    break;              /* a repeated CONNECT (socket.connect()
                                           on a connecting socket): already done */
                s_on_connect (self, conn, &pkt);
                break;
            }
            /* Anything else for a namespace the client is not connected to
             * closes the connection, as the reference server does
             * (Client._ondecoded: "invalid state"); the spec asks a server
             * that gets no CONNECT first to close. The close frame says why,
             * so the client is not left waiting. */
            if (!conn->connected) {
                why = "no successful CONNECT before this packet";
                goto cleanup;
            }
            if (pkt.nsp_len != 1) {
                why = "packet for a namespace the client is not connected to";
                goto cleanup;
            }
            if (pkt.sio == PL_SIO_DISCONNECT)
                goto cleanup;
            if (pkt.sio == PL_SIO_EVENT)
                pl_gateway__request (self, conn, &pkt);
            /* ACK: we never emit with an ack, so there is nothing to match */
            break;
        default:
            break;
    }
    rc = 0;
cleanup:
    if (rc != 0)
        s_close (self, conn, LWS_CLOSE_STATUS_PROTOCOL_ERR, why);
    pl_sio_packet_clear (&pkt);
    return rc;
}

/* LWS_CALLBACK_RECEIVE, lws loop: one WebSocket fragment (or a part of
 * one that is larger than the rx buffer). Returns -1 to close. */
static int
s_on_receive (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi, const char *in, size_t len)
{
    int rc = -1;
    if (lws_frame_is_binary (wsi)) {
        s_close (self, conn, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not supported");
        goto cleanup;
    }
    bool first = lws_is_first_fragment (wsi);
    bool final = lws_is_final_fragment (wsi);
    if (first && final && conn->rx_len == 0) {
        rc = s_on_message (self, conn, in, len);    /* the common case: no copy */
        goto cleanup;
    }
    if (conn->rx_len + len > (size_t) self->max_payload) {
        s_close (self, conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        goto cleanup;
    }
    if (conn->rx_len + len > conn->rx_cap) {
        size_t cap = conn->rx_cap ? conn->rx_cap : PL_GW_RX_BUFFER;
        while (cap < conn->rx_len + len)
            cap *= 2;
        char *rx = realloc (conn->rx, cap);
        if (!rx) {
            s_close (self, conn, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            goto cleanup;
        }
        conn->rx = rx;
        conn->rx_cap = cap;
    }
    memcpy (conn->rx + conn->rx_len, in, len);
    conn->rx_len += len;
    rc = 0;
    if (final) {
        rc = s_on_message (self, conn, conn->rx, conn->rx_len);
        free (conn->rx);                /* idle connections hold no buffer */
        conn->rx = NULL;
        conn->rx_len = conn->rx_cap = 0;
    }
cleanup:
    return rc;
}

/* The protocol callback: runs on the lws loop for every HTTP request and
 * WebSocket connection. */
static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    struct lws_context *context = lws_get_context (wsi);
    pl_gateway_t *self = context ? (pl_gateway_t *) lws_context_user (context) : NULL;
    pl_gwconn_t *conn = (pl_gwconn_t *) user;
    switch (reason) {
        case LWS_CALLBACK_HTTP:
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            /* lws gets only WebSocket upgrade heads pl_h1 has checked: a
             * plain request or another upgrade here means a client sent
             * more than that head before its 101; close */
            if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE
            &&  in && strcasecmp ((const char *) in, "websocket") == 0)
                return 0;
            return -1;
        case LWS_CALLBACK_RAW_ADOPT:
            return -1;                  /* CONNECT's raw fallback: never wanted */
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return pl_http_upgrade_allowed (wsi) ? 0 : 1;
        case LWS_CALLBACK_ESTABLISHED: {
            char sid[21];
            memset (conn, 0, sizeof *conn);
            conn->wsi = wsi;
            conn->created = pl_gateway__now_ms ();
            if (pl_gateway__conn_register (self, conn) != 0)
                return -1;
            conn->established = true;       /* CLOSED releases it from here on */
            self->nconns++;
            if (pl_sio_new_sid (sid) != 0)
                return -1;
            pl_gateway__send_str (self, conn, pl_sio_encode_open (sid, self->ping_interval,
                                                        self->ping_timeout,
                                                        self->max_payload));
            pl_gateway__timer_append (self, conn, PL_GWTIMER_PING, self->ping_interval);
            return 0;
        }
        case LWS_CALLBACK_RECEIVE:
            if (conn->closing)
                return -1;
            return s_on_receive (self, conn, wsi, (const char *) in, len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return pl_gateway__on_writeable (self, conn, wsi);
        case LWS_CALLBACK_CLOSED:
            if (conn && conn->established) {
                pl_gateway__presence_drop (self, conn);
                pl_gateway__conn_release (self, conn);
            }
            return 0;
        default:
            break;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}

/* ---- HTTP/1.1 (pl_h1 callbacks, gateway loop) ------------------------ */

static void
s_h1_head (void *arg, pl_h1_conn_t *h1, const pl_h1_req_t *req)
{
    pl_http_head ((pl_gateway_t *) arg, h1, req);
}

static void
s_h1_request (void *arg, pl_h1_conn_t *h1, const pl_h1_req_t *req)
{
    pl_http_request ((pl_gateway_t *) arg, h1, req);
}

static bool
s_h1_upgrade (void *arg, const pl_h1_req_t *req)
{
    (void) arg;
    return pl_http_upgrade (req);
}

/* The WebSocket upgrade goes to lws with the head pl_h1 read: lws parses
 * it again (FILTER_PROTOCOL_CONNECTION checks it again) and answers 101. */
static void
s_h1_handoff (void *arg, int fd, const char *bytes, size_t len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    if (!lws_adopt_socket_vhost_readbuf (self->vhost, fd, bytes, len))
        pl_warn ("http: lws could not adopt a WebSocket connection");  /* it closed fd */
}

static void
s_h1_closed (void *arg, pl_h1_conn_t *h1)
{
    pl_http_closed ((pl_gateway_t *) arg, h1);
}

/* pl_listen callback, gateway loop: every accepted socket starts in pl_h1. */
static void
s_on_accept (void *arg, int fd)
{
    pl_h1_adopt (((pl_gateway_t *) arg)->h1, fd);
}

/* lws log lines go through pl_log so every line has one format. */
static void
s_lws_log (int level, const char *line)
{
    size_t n = strlen (line);
    while (n && line[n - 1] == '\n')
        n--;
    /* lws 4.1.6 logs every readbuf adoption (each WebSocket pl_h1 hands
     * over) at error level: routine here, not worth a line per connect */
    if (strstr (line, "adopt_socket_readbuf: "))
        return;
    pl_log (level == LLL_ERR ? PL_LOG_ERROR : PL_LOG_WARN, "lws: %.*s", (int) n, line);
}

static const struct lws_protocols s_protocols[] = {
    { PL_GW_PROTOCOL, s_callback, sizeof (pl_gwconn_t), PL_GW_RX_BUFFER, 0, NULL, 0 },
    { PL_BUS_PROTOCOL, pl_bus_callback, 0, 0, 0, NULL, 0 },
    { PL_LISTEN_PROTOCOL, pl_listen_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* How much longer than the broker's queue timeout the request timeout must
 * be for a queued request's SERVICE_UNAVAILABLE to reach the client: the
 * broker answers at the queue deadline, and the answer crosses two ZeroMQ
 * hops and a loop turn on each side, well under this on one host or a LAN. */
#define PL_GW_QUEUE_MARGIN_MS 100

/* A request that no worker takes is answered SERVICE_UNAVAILABLE by the
 * broker after PARLEY_QUEUE_TIMEOUT_MS; the gateway answers TIMEOUT after
 * PARLEY_REQUEST_TIMEOUT_MS. With the queue timeout not well below the
 * request timeout the client always hears TIMEOUT ("the outcome is
 * unknown") for a request that never ran, and the broker's answer is
 * dropped as late. Not refused: the system still works, only with the
 * vaguer error. The queue timeout checked is the one in the gateway's own
 * environment; the deploy files give every process the same one. */
static void
s_check_timeouts (pl_config_t *config, long request_timeout)
{
    long queue_timeout = pl_config_int (config, PL_CFG_QUEUE_TIMEOUT_MS);
    if (queue_timeout + PL_GW_QUEUE_MARGIN_MS > request_timeout)
        pl_warn ("PARLEY_REQUEST_TIMEOUT_MS=%ld is less than PARLEY_QUEUE_TIMEOUT_MS=%ld "
                 "+ %d ms: a request that no worker takes will get TIMEOUT from the "
                 "gateway before SERVICE_UNAVAILABLE from the broker; keep the request "
                 "timeout above the queue timeout by the time a handler needs "
                 "(defaults 5000 and 3000)", request_timeout, queue_timeout,
                 PL_GW_QUEUE_MARGIN_MS);
}

pl_gateway_t *
pl_gateway_new (pl_config_t *config)
{
    pl_gateway_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->config = config;
    self->ping_interval = pl_config_int (config, PL_CFG_PING_INTERVAL_MS);
    self->ping_timeout = pl_config_int (config, PL_CFG_PING_TIMEOUT_MS);
    self->request_timeout = pl_config_int (config, PL_CFG_REQUEST_TIMEOUT_MS);
    s_check_timeouts (config, self->request_timeout);
    self->heartbeat = pl_config_int (config, PL_CFG_HEARTBEAT_MS);
    self->max_payload = pl_config_int (config, PL_CFG_MAX_PAYLOAD);
    self->max_inflight = (uint32_t) pl_config_int (config, PL_CFG_MAX_INFLIGHT);
    self->outq_max = (uint32_t) pl_config_int (config, PL_CFG_OUTQ_MAX);
    self->presence_ttl = pl_config_int (config, PL_CFG_PRESENCE_TTL_MS);
    if (self->heartbeat <= 0 || self->outq_max == 0 || self->max_inflight == 0
    ||  self->presence_ttl <= 0) {
        pl_error ("PARLEY_HEARTBEAT_MS, PARLEY_OUTQ_MAX, PARLEY_MAX_INFLIGHT and "
                  "PARLEY_PRESENCE_TTL_MS must be > 0");
        goto fail;
    }
    long rate = pl_config_int (config, PL_CFG_RATE_PER_SEC);
    long burst = pl_config_int (config, PL_CFG_RATE_BURST);
    if (rate > 1000000 || (rate > 0 && burst == 0)) {
        pl_error ("PARLEY_RATE_PER_SEC must be at most 1000000 and PARLEY_RATE_BURST > 0 "
                  "(PARLEY_RATE_PER_SEC=0 turns the rate limit off)");
        goto fail;
    }
    if (rate > 0) {
        self->rate_interval = 1000000 / rate;
        self->rate_tolerance = (int64_t) (burst - 1) * self->rate_interval;
    }
    self->secret = pl_config_str (config, PL_CFG_JWT_SECRET);
    if (!*self->secret)
        self->secret = PL_CONFIG_DEV_SECRET;
    const char *id = pl_config_str (config, PL_CFG_GATEWAY_ID);
    if (*id) {
        if (strlen (id) >= sizeof self->id || strchr (id, '/')) {
            pl_error ("PARLEY_GATEWAY_ID must be under 16 characters, without '/'");
            goto fail;
        }
        snprintf (self->id, sizeof self->id, "%s", id);
    }
    else {
        unsigned char raw[4];
        if (RAND_bytes (raw, sizeof raw) != 1)
            goto fail;
        snprintf (self->id, sizeof self->id, "gw-%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
    }
    self->pending = pl_pending_new (PL_GW_PENDING_SLOTS);
    self->fence = pl_fence_new (self->request_timeout + 1000);
    self->rooms = pl_rooms_new (pl_gateway__on_room_change, self);
    self->ping_frame = pl_frame_new ("2", 1, NULL, 0);
    self->health = pl_health_new (pl_config_str (config, PL_CFG_REQUIRED_SERVICES),
                                  self->heartbeat);
    if (!self->pending || !self->fence || !self->rooms || !self->ping_frame || !self->health)
        goto fail;
    /* REST has no connection to hang a bucket on (keep-alive or not), so
     * its limit is per user: the same rate and burst, per JWT sub */
    if (self->rate_interval > 0) {
        uint64_t seed;
        if (RAND_bytes ((unsigned char *) &seed, sizeof seed) != 1)
            goto fail;
        self->rest_rate = pl_ratetab_new (self->rate_interval, self->rate_tolerance, seed);
        if (!self->rest_rate)
            goto fail;
    }

    lws_set_log_level (LLL_ERR | LLL_WARN, s_lws_log);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;     /* pl_listen binds it */
    info.protocols = s_protocols;
    info.user = self;
    info.vhost_name = "parley";
    /* no lws "validity" timers: Engine.IO's ping/pong is our liveness
     * check, and lws keeps each validity timer in a sorted list that costs
     * O(connections) per insert (it was a quarter of the gateway's CPU
     * while 10k clients connected) */
    static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0,
                                                .secs_since_valid_hangup = 0 };
    info.retry_and_idle_policy = &no_validity;
    /* lws parses again the upgrade heads pl_h1 took (up to PL_H1_HEAD_MAX
     * bytes): its header table must hold what pl_h1 lets through (its
     * default is 4 KB, and a longer head was closed without a word) */
    info.max_http_header_data = PL_H1_HEAD_MAX + 1024;
    self->loop = ev_loop_new (EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!self->loop) {
        pl_error ("cannot create the libev (epoll) loop");
        goto fail;
    }
    void *foreign_loops[1] = { self->loop };
    info.foreign_loops = foreign_loops;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_LIBEV;
    self->lws = lws_create_context (&info);
    if (!self->lws) {
        pl_error ("cannot create the lws context");
        goto fail;
    }
    self->vhost = lws_get_vhost_by_name (self->lws, "parley");
    static const pl_h1_handlers_t h1_handlers = { s_h1_head, s_h1_request, s_h1_upgrade,
                                                  s_h1_handoff, s_h1_closed };
    self->h1 = pl_h1_new (self->loop, self->max_payload, &h1_handlers, self);
    if (!self->h1)
        goto fail;
    self->listener = pl_listen_new (self->lws, self->vhost,
                                    pl_config_str (config, PL_CFG_BIND),
                                    (int) pl_config_int (config, PL_CFG_PORT),
                                    pl_config_int (config, PL_CFG_REUSEPORT) == 1,
                                    s_on_accept, self);
    if (!self->listener)
        goto fail;
    pl_bus_handlers_t handlers = { pl_gateway__on_reply, s_on_status, s_on_event, s_on_control };
    self->bus = pl_bus_new (self->lws, self->vhost,
                            pl_config_str (config, PL_CFG_BROKER_FRONTEND),
                            pl_config_str (config, PL_CFG_EVENTS_XPUB), &handlers, self);
    if (!self->bus)
        goto fail;
    s_status_fire (&self->status_sul);
    pl_gateway__presence_start (self);
    pl_info ("gateway %s listening on %s", self->id, pl_listen_name (self->listener));
    goto cleanup;
fail:
    pl_gateway_destroy (&self);
cleanup:
    return self;
}

void
pl_gateway_destroy (pl_gateway_t **self_p)
{
    assert (self_p);
    pl_gateway_t *self = *self_p;
    if (self) {
        if (self->lws) {
            /* connections closing now must not start requests */
            self->stopping = true;
            lws_sul_cancel (&self->presence_sul);
            lws_sul_cancel (&self->status_sul);
            lws_sul_cancel (&self->pending_sul);
            lws_sul_cancel (&self->ping.sul);
            lws_sul_cancel (&self->pong.sul);
            pl_listen_destroy (&self->listener);
            pl_h1_destroy (&self->h1);
            /* closes every connection (LWS_CALLBACK_CLOSED releases them) */
            lws_context_destroy (self->lws);
        }
        if (self->loop)
            ev_loop_destroy (self->loop);
        pl_bus_destroy (&self->bus);
        pl_rooms_destroy (&self->rooms);
        pl_frame_unref (&self->ping_frame);
        pl_health_destroy (&self->health);
        pl_pending_destroy (&self->pending);
        pl_fence_destroy (&self->fence);
        pl_ratetab_destroy (&self->rest_rate);
        free (self->slots);
        free (self->free_slots);
        free (self);
        *self_p = NULL;
    }
}

/* libev watcher, gateway loop: SIGINT or SIGTERM, fed by the stop guard's
 * handler (s_feed_signal). */
static void
s_on_signal (struct ev_loop *loop, ev_signal *w, int revents)
{
    (void) revents;
    pl_info ("gateway stopping on %s", strsignal (w->signum));
    ev_break (loop, EVBREAK_ALL);
}

/* libev watcher, gateway loop: pl_gateway_stop. */
static void
s_on_wakeup (struct ev_loop *loop, ev_async *w, int revents)
{
    (void) w;
    (void) revents;
    pl_info ("gateway stopping");
    ev_break (loop, EVBREAK_ALL);
}

/* pl_stopguard_fn: in the stop guard's signal handler, on any thread.
 * ev_feed_signal is libev's own handler's work (async-signal-safe): it
 * wakes the loop, which runs s_on_signal as if libev had the signal. */
static void
s_feed_signal (void *arg, int signum)
{
    (void) arg;
    ev_feed_signal (signum);
}

/* The stop signals nest around ev_run: libev's watchers, then the stop
 * guard over them (its handlers replace libev's), and back out in reverse,
 * so each puts back what it found. A loop that does not return within
 * PARLEY_STOP_GRACE_MS of the signal (lws 4.1.6 once spun in its rxflow
 * handling) ends the process anyway; see common/pl_stopguard.h. */
int
pl_gateway_run (pl_gateway_t *self)
{
    int rc = -1;
    pl_stopguard_t *guard = NULL;
    ev_signal_init (&self->sigint, s_on_signal, SIGINT);
    ev_signal_init (&self->sigterm, s_on_signal, SIGTERM);
    ev_async_init (&self->wakeup, s_on_wakeup);
    long grace = pl_config_int (self->config, PL_CFG_STOP_GRACE_MS);
    if (grace < 1 || grace > 3600000) {
        pl_error ("PARLEY_STOP_GRACE_MS must be 1..3600000");
        goto cleanup;
    }
    ev_signal_start (self->loop, &self->sigint);
    ev_signal_start (self->loop, &self->sigterm);
    ev_async_start (self->loop, &self->wakeup);
    guard = pl_stopguard_new ("gateway", (int) grace, s_feed_signal, NULL);
    if (!guard) {
        pl_error ("cannot set up the stop guard");
        goto cleanup;
    }
    ev_run (self->loop, 0);
    rc = 0;
cleanup:
    pl_stopguard_destroy (&guard);      /* the deadline can no longer fire */
    ev_signal_stop (self->loop, &self->sigint);
    ev_signal_stop (self->loop, &self->sigterm);
    ev_async_stop (self->loop, &self->wakeup);
    return rc;
}

void
pl_gateway_stop (pl_gateway_t *self)
{
    ev_async_send (self->loop, &self->wakeup);
}
