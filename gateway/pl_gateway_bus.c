/*  pl_gateway_bus - what the event bus brings to this gateway, on the lws
 *  loop: room events fanned out to local members (one shared frame, an
 *  except frame honoured), room controls (evictions and grants applied to
 *  local members), and the broker's service table (which is also how a
 *  dead broker is noticed). Below the front ends: it sends through the
 *  connection layer (pl_gateway_conn.c) and applies directives through the
 *  request layer (pl_gateway_req.c).
 */
#include "pl_gateway_int.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <stdlib.h>
#include <string.h>

/* pl_bus callback, lws loop: a room control for every local member of
 * room_name: an eviction {"leave":[..]}, e.g. all of a user's tabs leaving
 * a campaign they were removed from, or a grant {"join":[..], "within":
 * room}, e.g. the tabs of a new GM that are in the campaign's room joining
 * its GM room. The members are collected first: leaving may remove them
 * from room_name itself, which reorders its member array. */
void
pl_gateway__on_control (void *arg, const char *room_name, const char *json, size_t len,
                        const char *offset, size_t offset_len)
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
                if (conn && pl_gateway__recover_hold_control (self, conn, room_name, json, len,
                                                              offset, offset_len))
                    continue;       /* recovery: after its replay */
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
            if (conn && !pl_gateway__recover_hold_control (self, conn, room_name, json, len,
                                                           offset, offset_len))
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
 * parsed, and only when present. The worker's publish time goes with the
 * frame: each write of it is timed from there (s_delivered). */
void
pl_gateway__on_event (void *arg, const char *room_name, const char *origin, size_t origin_len,
            const char *packet, size_t packet_len, const char *except, size_t except_len,
            const char *offset, size_t offset_len, int64_t published_us)
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
    /* recovery: the offset as the last argument, once for every member */
    pl_frame_t *f = pl_gateway__recover_frame (self, packet, packet_len, offset, offset_len);
    if (!f)
        return;
    f->push = true;
    f->published_us = published_us;
    size_t size = pl_room_size (room), pushed = 0;
    for (size_t i = 0; i < size; i++) {
        pl_gwconn_t *conn = (pl_gwconn_t *) pl_room_member (room, i);
        if (conn->id != skip
        &&  !(nexcept && pl_rooms_in_any (&conn->rooms, except_rooms, (size_t) nexcept))
        &&  !(conn->recover && pl_gateway__recover_hold_event (self, conn, f, room_name,
                                                               offset, offset_len))) {
            pl_gateway__send (self, conn, f);
            self->stats.deliveries++;
            pushed++;
        }
    }
    pl_gwmetrics_pushed (self->metrics, pushed);
    pl_frame_unref (&f);
}

/* pl_bus callback, lws loop: the broker's service table. */
void
pl_gateway__on_status (void *arg, const char *json, size_t len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_health_update (self->health, json, len, pl_gateway__now_ms ());
}

/* libev timer, gateway loop: ask the broker for its services every
 * heartbeat. This is also how the gateway notices a dead broker. */
void
pl_gateway__status_fire (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gateway_t *self = (pl_gateway_t *) w->data;
    pl_bus_status (self->bus);
    pl_gateway__timer_after (self, &self->status_timer, self->heartbeat);
}

void
pl_gateway__status_start (pl_gateway_t *self)
{
    pl_gateway__status_fire (self->loop, &self->status_timer, 0);
}
