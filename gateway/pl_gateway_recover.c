/*  pl_gateway_recover - connection-state recovery (Socket.IO 4.6+), the
 *  gateway's side (proto/README.md, "Recovery"; the broker's side is
 *  broker/pl_replay.h). Everything here runs on the gateway's lws loop.
 *
 *  With PARLEY_RECOVERY_MS > 0 every CONNECT ack carries a pid, which the
 *  broker learns (SESS open), and every room event a client gets carries
 *  the proxy's offset as its last argument, which socket.io-client keeps.
 *  When a connected client's transport closes (not a DISCONNECT: that ends
 *  the session for good, as in socket.io), the session is saved in the
 *  broker with its rooms (SESS saved).
 *
 *  A CONNECT whose auth has {pid, offset}, once its JWT checks out:
 *    1. RECOVER nonce {pid, sub, offset}: the broker claims the session
 *       and answers the rooms to join (refused: the client connects as a
 *       new session with a new pid, and sees recovered=false);
 *    2. join them (each first member subscribes on the SUB socket), then
 *       subscribe to the nonce topic, accept the CONNECT with the same pid,
 *       and send REPLAY nonce. From now on live events and controls for
 *       this connection are held, in order (bounded by PARLEY_OUTQ_MAX);
 *    3. the broker answers once its XPUB has read the nonce subscription
 *       (so the room subscriptions before it are applied): each missed
 *       message (events sent, controls applied), then the last offset H it
 *       forwarded. The held messages after H follow; those up to H were in
 *       the replay and are dropped, as are any that arrive later (the
 *       replay and the live messages come through different sockets). The
 *       nonce is unsubscribed.
 */
#include "pl_gateway_int.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NONCE_PREFIX "~recover/"      /* as PL_REPLAY_NONCE_PREFIX              */
#define S_NONCE_MAX    160

typedef struct {
    char offset[PL_BUS_OFFSET_MAX + 1];
    pl_frame_t *frame;                  /* an event, or NULL                      */
    char *room, *json;                  /* an event's room; a control's room and
                                           json (one allocation: room\0json)      */
} s_held_t;

/* CLAIMING: RECOVER sent; REPLAYING: REPLAY sent, live messages held;
 * DONE: replayed up to high. The replay comes from the broker's frontend
 * and live messages from the event proxy: two pipes, so a live message up
 * to high may still arrive after the replay's end. A recovered connection
 * keeps high for life and drops those (offsets only grow). */
typedef enum { S_CLAIMING, S_REPLAYING, S_DONE } s_state_t;

struct pl_gwrecover {
    s_state_t state;
    char high[PL_BUS_OFFSET_MAX + 1];   /* DONE: the replay's last offset         */
    char nonce[S_NONCE_MAX + 1];
    char pid[PL_GW_PID_MAX + 1];
    s_held_t *held;                     /* live messages during the replay        */
    size_t nheld, capheld;
    struct {                            /* DONE: subscribes sent again, unanswered */
        uint64_t reqid;
        char room[PL_GW_ROOM_MAX + 1];
    } *rejoin;
    size_t nrejoin;
};

static bool
s_offset_valid (const char *offset)
{
    size_t len = strlen (offset);
    if (len == 0 || len > PL_BUS_OFFSET_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((offset[i] >= '0' && offset[i] <= '9') || (offset[i] >= 'a' && offset[i] <= 'f')
           || offset[i] == '-'))
            return false;
    return true;
}

static void
s_free (pl_gateway_t *self, pl_gwconn_t *conn)
{
    struct pl_gwrecover *r = conn->recover;
    if (!r)
        goto cleanup;
    if (r->state == S_REPLAYING && self->bus)
        pl_bus_subscribe (self->bus, r->nonce, false);
    for (size_t i = 0; i < r->nheld; i++) {
        pl_frame_unref (&r->held[i].frame);
        free (r->held[i].room);
    }
    free (r->held);
    free (r->rejoin);
    free (r);
    conn->recover = NULL;
cleanup:
    return;
}

/* The connection a nonce "~recover/<gateway>/<conn>/<n>" was made for,
 * when it still waits for it. */
static pl_gwconn_t *
s_lookup (pl_gateway_t *self, const char *nonce, size_t len)
{
    char buf[S_NONCE_MAX + 1];
    pl_gwconn_t *conn = NULL;
    size_t plen = strlen (S_NONCE_PREFIX), idlen = strlen (self->id);
    if (len > S_NONCE_MAX || len < plen + idlen + 2 || memchr (nonce, 0, len))
        goto cleanup;
    memcpy (buf, nonce, len);
    buf[len] = 0;
    const char *p = buf + plen;
    if (memcmp (p, self->id, idlen) != 0 || p[idlen] != '/')
        goto cleanup;
    char *end = NULL;
    unsigned long long id = strtoull (p + idlen + 1, &end, 10);
    if (!end || *end != '/')
        goto cleanup;
    conn = pl_gateway__conn_lookup (self, (uint64_t) id);
    if (conn && !(conn->recover && strcmp (conn->recover->nonce, buf) == 0))
        conn = NULL;
cleanup:
    return conn;
}

int
pl_gateway__recover_connect (pl_gateway_t *self, pl_gwconn_t *conn, const cJSON *auth,
                             const char *sub, const char *name)
{
    int rc = 0;
    char *json = NULL;
    cJSON *body = NULL;
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive (auth, "pid");
    const cJSON *offset = cJSON_GetObjectItemCaseSensitive (auth, "offset");
    if (self->recovery_ms <= 0 || conn->recover || !cJSON_IsString (pid)
    ||  !pl_wire_pid_valid (pid->valuestring)
    ||  (offset && !(cJSON_IsString (offset) && s_offset_valid (offset->valuestring))))
        goto cleanup;           /* not a recovery: a new session */
    size_t sub_len = strlen (sub);
    char *user = malloc (sub_len + strlen (name) + 2);
    struct pl_gwrecover *r = calloc (1, sizeof *r);
    body = cJSON_CreateObject ();
    if (!user || !r || !body) {
        free (user);
        free (r);
        goto cleanup;
    }
    memcpy (user, sub, sub_len + 1);
    strcpy (user + sub_len + 1, name);
    snprintf (r->nonce, sizeof r->nonce, S_NONCE_PREFIX "%s/%llu/%llu", self->id,
              (unsigned long long) conn->id, (unsigned long long) ++self->recover_seq);
    snprintf (r->pid, sizeof r->pid, "%s", pid->valuestring);
    cJSON_AddStringToObject (body, "pid", r->pid);
    cJSON_AddStringToObject (body, "sub", sub);
    if (offset)
        cJSON_AddStringToObject (body, "offset", offset->valuestring);
    json = cJSON_PrintUnformatted (body);
    if (!json || pl_bus_recovery (self->bus, PL_CMD_RECOVER, r->nonce, json) != 0) {
        free (user);
        free (r);
        goto cleanup;
    }
    free (conn->user);
    conn->user = user;
    conn->recover = r;
    pl_gwmetrics_recovery (self->metrics, false);
    rc = 1;
cleanup:
    free (json);
    cJSON_Delete (body);
    return rc;
}

char *
pl_gateway__recover_ack (pl_gateway_t *self, pl_gwconn_t *conn, const char *sid,
                         const char *pid)
{
    char *out = NULL;
    char *json = NULL;
    if (self->recovery_ms <= 0) {
        out = pl_sio_encode_connect (sid);
        goto cleanup;
    }
    if (pid)
        snprintf (conn->pid, sizeof conn->pid, "%s", pid);
    else
    if (pl_sio_new_sid (conn->pid) != 0)
        goto cleanup;
    /* the broker learns the pid now, so a reconnect that reaches it before
     * this connection's save waits for the save (pl_replay.h) */
    cJSON *body = cJSON_CreateObject ();
    cJSON_AddStringToObject (body, "state", "open");
    cJSON_AddStringToObject (body, "sub", conn->user);
    json = cJSON_PrintUnformatted (body);
    cJSON_Delete (body);
    if (!json || pl_bus_recovery (self->bus, PL_CMD_SESSION, conn->pid, json) != 0)
        pl_warn ("conn %llu: the broker did not take its session; it cannot be recovered",
                 (unsigned long long) conn->id);
    if (asprintf (&out, "40{\"sid\":\"%s\",\"pid\":\"%s\"}", sid, conn->pid) < 0)
        out = NULL;
cleanup:
    free (json);
    return out;
}

void
pl_gateway__recover_closed (pl_gateway_t *self, pl_gwconn_t *conn)
{
    char *json = NULL;
    cJSON *body = NULL;
    s_free (self, conn);
    /* a stopping gateway (SIGTERM, a rolling restart) saves its sessions
     * too: pl_gateway_destroy lets the bus send them (pl_bus_linger) */
    if (self->recovery_ms <= 0 || !conn->connected || !conn->pid[0])
        goto cleanup;
    body = cJSON_CreateObject ();
    if (conn->ended)
        cJSON_AddStringToObject (body, "state", "end");
    else {
        char conn_id[24], origin[64];
        snprintf (conn_id, sizeof conn_id, "%llu", (unsigned long long) conn->id);
        pl_proto_origin (origin, sizeof origin, self->id, conn_id);
        cJSON_AddStringToObject (body, "state", "saved");
        cJSON_AddStringToObject (body, "sub", conn->user);
        cJSON_AddStringToObject (body, "origin", origin);
        cJSON *rooms = cJSON_AddArrayToObject (body, "rooms");
        const char *room;
        for (size_t i = 0; (room = pl_rooms_chain_room (&conn->rooms, i)); i++)
            cJSON_AddItemToArray (rooms, cJSON_CreateString (room));
    }
    json = cJSON_PrintUnformatted (body);
    if (!json || pl_bus_recovery (self->bus, PL_CMD_SESSION, conn->pid, json) != 0)
        pl_warn ("conn %llu: its session could not be saved", (unsigned long long) conn->id);
cleanup:
    free (json);
    cJSON_Delete (body);
}

pl_frame_t *
pl_gateway__recover_frame (pl_gateway_t *self, const char *packet, size_t len,
                           const char *offset, size_t offset_len)
{
    pl_frame_t *f = NULL;
    if (self->recovery_ms <= 0 || !offset || len < 2 || packet[len - 1] != ']') {
        f = pl_frame_new ("42", 2, packet, len);
        goto cleanup;
    }
    /* 42[...,"<offset>"] (or 42["<event>","<offset>"] for no payload) */
    bool empty = len == 2;
    size_t extra = (empty ? 0 : 1) + offset_len + 2;
    f = pl_frame_new ("42", 2, NULL, len + extra);
    if (!f)
        goto cleanup;
    char *p = (char *) pl_frame_payload (f) + 2;
    memcpy (p, packet, len - 1);
    p += len - 1;
    if (!empty)
        *p++ = ',';
    *p++ = '"';
    memcpy (p, offset, offset_len);
    p += offset_len;
    *p++ = '"';
    *p = ']';
cleanup:
    return f;
}

/* Hold a live message for conn while its replay runs. true: held (or the
 * connection was dropped for holding too many); false: deliver it now. */
static bool
s_hold (pl_gateway_t *self, pl_gwconn_t *conn, pl_frame_t *f, const char *room,
        const char *json, size_t json_len, const char *offset, size_t offset_len)
{
    struct pl_gwrecover *r = conn->recover;
    if (r && r->state == S_DONE)
        /* up to high: it was in the replay (see s_state_t) */
        return offset && offset_len == strlen (r->high)
            && memcmp (offset, r->high, offset_len) <= 0;
    if (!r || r->state != S_REPLAYING)
        return false;
    if (r->nheld >= self->outq_max || !offset || offset_len > PL_BUS_OFFSET_MAX) {
        pl_gateway__kill (conn, "recovery: too many events while replaying");
        return true;
    }
    if (r->nheld == r->capheld) {
        size_t cap = r->capheld ? r->capheld * 2 : 16;
        s_held_t *held = realloc (r->held, cap * sizeof *held);
        if (!held) {
            pl_gateway__kill (conn, "recovery: out of memory");
            return true;
        }
        r->held = held;
        r->capheld = cap;
    }
    s_held_t *h = &r->held[r->nheld];
    memset (h, 0, sizeof *h);
    memcpy (h->offset, offset, offset_len);
    if (f) {
        /* its room, to check at delivery: a control held before it may
         * have taken the connection out of it */
        h->room = strdup (room);
        if (!h->room) {
            pl_gateway__kill (conn, "recovery: out of memory");
            return true;
        }
        h->frame = pl_frame_ref (f);
    }
    else
    if (room && json) {
        size_t room_len = strlen (room);
        h->room = malloc (room_len + json_len + 2);
        if (!h->room) {
            pl_gateway__kill (conn, "recovery: out of memory");
            return true;
        }
        memcpy (h->room, room, room_len + 1);
        h->json = h->room + room_len + 1;
        memcpy (h->json, json, json_len);
        h->json[json_len] = 0;
    }
    r->nheld++;
    return true;
}

bool
pl_gateway__recover_hold_event (pl_gateway_t *self, pl_gwconn_t *conn, pl_frame_t *f,
                                const char *room, const char *offset, size_t offset_len)
{
    return conn->recover && s_hold (self, conn, f, room, NULL, 0, offset, offset_len);
}

bool
pl_gateway__recover_hold_control (pl_gateway_t *self, pl_gwconn_t *conn, const char *room,
                                  const char *json, size_t len, const char *offset,
                                  size_t offset_len)
{
    return conn->recover && s_hold (self, conn, NULL, room, json, len, offset, offset_len);
}

/* Apply a control of room to conn alone (as pl_gateway__on_control does
 * to each member of it). */
static void
s_apply_control (pl_gateway_t *self, pl_gwconn_t *conn, const char *room, const char *json,
                 size_t len)
{
    cJSON *root = pl_proto_json_parse (json, len);
    const cJSON *within = cJSON_GetObjectItemCaseSensitive (root, "within");
    if (!pl_rooms_in (&conn->rooms, room))
        goto cleanup;
    if (cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (root, "join"))) {
        if (cJSON_IsString (within) && pl_rooms_in (&conn->rooms, within->valuestring))
            pl_gateway__apply_directives (self, conn, root, true);
    }
    else
    if (cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (root, "leave")))
        pl_gateway__apply_directives (self, conn, root, false);
cleanup:
    cJSON_Delete (root);
}

/* The claim's answer: recovered, or a new session. */
static void
s_on_claimed (pl_gateway_t *self, pl_gwconn_t *conn, const cJSON *root)
{
    struct pl_gwrecover *r = conn->recover;
    const cJSON *rooms = cJSON_GetObjectItemCaseSensitive (root, "rooms");
    const cJSON *room;
    char pid[PL_GW_PID_MAX + 1];
    bool ok = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (root, "ok")) && cJSON_IsArray (rooms);
    if (!ok) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive (root, "reason");
        pl_debug ("conn %llu: not recovered: %s", (unsigned long long) conn->id,
                  cJSON_IsString (reason) ? reason->valuestring : "?");
        self->stats.recoveries_refused++;
        s_free (self, conn);
        pl_gateway__sio_accept (self, conn, NULL);
        goto cleanup;
    }
    snprintf (pid, sizeof pid, "%s", r->pid);
    /* rooms first (their subscriptions), then the nonce's, then REPLAY */
    cJSON_ArrayForEach (room, rooms) {
        pl_room_ref_t ref;
        if (!cJSON_IsString (room) || strlen (room->valuestring) > PL_GW_ROOM_MAX
        ||  pl_wire_room_parse (room->valuestring, &ref, NULL) == PL_ROOM_INVALID
        ||  pl_gateway__conn_join (self, conn, room->valuestring) != 0)
            pl_warn ("conn %llu: recovery could not rejoin a room", (unsigned long long) conn->id);
    }
    r->state = S_REPLAYING;
    if (pl_bus_subscribe (self->bus, r->nonce, true) != 0
    ||  pl_bus_recovery (self->bus, PL_CMD_REPLAY, r->nonce, NULL) != 0) {
        pl_gateway__kill (conn, "recovery: the broker is unreachable");
        goto cleanup;
    }
    self->stats.recoveries++;
    pl_gwmetrics_recovery (self->metrics, true);
    pl_gateway__sio_accept (self, conn, pid);
cleanup:
    return;
}

/* Present again: the rooms service forgot the connection when its
 * transport closed (presence:drop), so subscribe again on its behalf to
 * each room a client subscribes to (not its user room, nor a GM room,
 * which comes with its campaign's), with a client's authz: a refusal
 * takes the room away (pl_gateway__recover_rejoined). */
static void
s_resubscribe (pl_gateway_t *self, pl_gwconn_t *conn)
{
    struct pl_gwrecover *r = conn->recover;
    const char *room;
    size_t n = 0;
    for (size_t i = 0; (room = pl_rooms_chain_room (&conn->rooms, i)); i++)
        n++;
    if (n == 0 || !(r->rejoin = calloc (n, sizeof *r->rejoin)))
        goto cleanup;
    for (size_t i = 0; i < n && (room = pl_rooms_chain_room (&conn->rooms, i)); i++) {
        pl_room_ref_t ref;
        pl_room_kind_t kind = pl_wire_room_parse (room, &ref, NULL);
        if ((kind != PL_ROOM_CAMPAIGN && kind != PL_ROOM_SESSION)
        ||  strlen (room) > PL_GW_ROOM_MAX)
            continue;
        snprintf (r->rejoin[r->nrejoin].room, sizeof r->rejoin[0].room, "%s", room);
        if (pl_gateway__resubscribe (self, conn, room, &r->rejoin[r->nrejoin].reqid) == 0)
            r->nrejoin++;
    }
cleanup:
    return;
}

void
pl_gateway__recover_rejoined (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t reqid,
                              bool joined)
{
    struct pl_gwrecover *r = conn->recover;
    cJSON *root = NULL;
    size_t i = 0;
    while (r && i < r->nrejoin && r->rejoin[i].reqid != reqid)
        i++;
    if (!r || i == r->nrejoin)
        goto cleanup;
    if (!joined) {
        char gm[PL_GW_ROOM_MAX + 4];
        snprintf (gm, sizeof gm, "%s:gm", r->rejoin[i].room);
        pl_info ("conn %llu: recovered, but not allowed in %s any more: left",
                 (unsigned long long) conn->id, r->rejoin[i].room);
        root = cJSON_CreateObject ();
        cJSON *leave = cJSON_AddArrayToObject (root, "leave");
        cJSON_AddItemToArray (leave, cJSON_CreateString (r->rejoin[i].room));
        if (strncmp (r->rejoin[i].room, "campaign:", 9) == 0)
            cJSON_AddItemToArray (leave, cJSON_CreateString (gm));
        pl_gateway__apply_directives (self, conn, root, false);
    }
    r->rejoin[i] = r->rejoin[--r->nrejoin];
cleanup:
    cJSON_Delete (root);
}

/* The replay's end: what was held after H follows, the rest is dropped. */
static void
s_on_replayed (pl_gateway_t *self, pl_gwconn_t *conn, const cJSON *root)
{
    struct pl_gwrecover *r = conn->recover;
    const cJSON *high = cJSON_GetObjectItemCaseSensitive (root, "high");
    if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (root, "ok")) || !cJSON_IsString (high)
    ||  strlen (high->valuestring) > PL_BUS_OFFSET_MAX) {
        pl_gateway__kill (conn, "recovery: the missed events are no longer available");
        s_free (self, conn);
        goto cleanup;
    }
    r->state = S_CLAIMING;          /* hold nothing more: deliver in order below */
    size_t dropped = 0, left = 0;
    for (size_t i = 0; i < r->nheld && !conn->closing; i++) {
        s_held_t *h = &r->held[i];
        if (strlen (h->offset) != strlen (high->valuestring)
        ||  strcmp (h->offset, high->valuestring) <= 0) {
            dropped++;
            continue;               /* in the replay already */
        }
        if (h->frame) {
            /* a held control before it (an eviction) may have taken the
             * connection out of its room: as the live fan-out, members only */
            if (pl_rooms_in (&conn->rooms, h->room))
                pl_gateway__send (self, conn, h->frame);
            else
                left++;
        }
        else
            s_apply_control (self, conn, h->room, h->json, strlen (h->json));
    }
    pl_debug ("conn %llu: recovered up to %s; of %zu messages held meanwhile, %zu were "
              "in the replay, %zu for rooms it had left", (unsigned long long) conn->id,
              high->valuestring, r->nheld, dropped, left);
    pl_bus_subscribe (self->bus, r->nonce, false);
    /* keep high, drop the rest */
    for (size_t i = 0; i < r->nheld; i++) {
        pl_frame_unref (&r->held[i].frame);
        free (r->held[i].room);
    }
    free (r->held);
    r->held = NULL;
    r->nheld = r->capheld = 0;
    snprintf (r->high, sizeof r->high, "%s", high->valuestring);
    r->state = S_DONE;
    s_resubscribe (self, conn);
cleanup:
    return;
}

/* pl_bus on_recovery, lws loop: the broker's answer to a RECOVER (the
 * claim) or the end of a REPLAY. */
void
pl_gateway__recover_on_recovery (void *arg, bool replay, const char *nonce, size_t nonce_len,
                                 const char *json, size_t len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_gwconn_t *conn = s_lookup (self, nonce, nonce_len);
    cJSON *root = NULL;
    if (!conn || conn->closing)
        goto cleanup;               /* gone meanwhile */
    root = pl_proto_json_parse (json, len);
    if (!replay && conn->recover->state == S_CLAIMING)
        s_on_claimed (self, conn, root);
    else
    if (replay && conn->recover->state == S_REPLAYING)
        s_on_replayed (self, conn, root);
cleanup:
    cJSON_Delete (root);
}

/* pl_bus on_replay, lws loop: one missed message of a replay, in order. */
void
pl_gateway__recover_on_replay (void *arg, const char *nonce, size_t nonce_len, bool control,
                               const char *topic, size_t topic_len, const char *packet,
                               size_t packet_len, const char *offset, size_t offset_len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_gwconn_t *conn = s_lookup (self, nonce, nonce_len);
    char room[PL_GW_ROOM_MAX + 1];
    if (!conn || conn->closing || conn->recover->state != S_REPLAYING
    ||  topic_len > PL_GW_ROOM_MAX)
        goto cleanup;
    memcpy (room, topic, topic_len);
    room[topic_len] = 0;
    if (control)
        s_apply_control (self, conn, room, packet, packet_len);
    else
    if (packet_len >= 2 && packet[0] == '[') {
        pl_frame_t *f = pl_gateway__recover_frame (self, packet, packet_len, offset, offset_len);
        pl_gateway__send (self, conn, f);
        pl_frame_unref (&f);
    }
cleanup:
    return;
}
