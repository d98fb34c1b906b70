/*  rooms - subscriptions and presence: subscribe, unsubscribe,
 *  presence:list, and the gateways' internal presence:drop and
 *  presence:alive (issue 4 design, "Presence protocol").
 *
 *  Storage: the presence records of domain/pl_presence.h (pl:presence:*);
 *  it reads pl:campaign:<id>:members and pl:session:<id> (pl_authz.h).
 *
 *  Who may be in a room is pl_authz_room_access's call. A subscribe the
 *  rules allow answers with a join directive, which the gateway applies
 *  before it delivers the ack; a GM joins campaign:<id>:gm along with
 *  campaign:<id>, and both are left together. A role is looked at only on
 *  subscribe: a player promoted to GM joins the GM room on their next
 *  subscribe (the campaign:memberAdded push tells the client to
 *  re-subscribe); a demoted GM is evicted from it by the campaigns worker.
 *
 *  User rooms are joined by the gateway at CONNECT and carry no presence:
 *  subscribing to one's own succeeds and does nothing, leaving it is
 *  refused (it is how the user's own events reach them).
 *
 *  Every handler and the sweep run on the worker loop (pl_worker.h); a -1
 *  from pl_presence_* means the call has been answered INTERNAL.
 */
#include "rooms.h"
#include "pl_authz.h"
#include "pl_log.h"
#include "pl_presence.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest boot id of presence:alive; gateways send 16 hex digits. */
#define S_BOOT_MAX          64
/* Bounds of presence:alive's ttlMs: below 100 ms a gateway could not keep
 * up with its own ttl; a day is far past any sane setting. */
#define S_TTL_MIN           100
#define S_TTL_MAX           86400000

/* The room of a {room} argument, or NULL after answering VALIDATION_ERROR. */
static const char *
s_room_arg (pl_call_t *call, const cJSON *arg)
{
    const cJSON *room = cJSON_GetObjectItemCaseSensitive (arg, "room");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (room)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects {room} with room a string",
                       pl_proto_event (pl_call_event (call))->name);
        return NULL;
    }
    return room->valuestring;
}

static void
s_ok_room (pl_call_t *call, const char *room)
{
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddStringToObject (data, "room", room);
    pl_call_ok (call, data);
}

/* The campaign a campaign or session room belongs to, into cid. Returns 0,
 * 1 when a session has no campaign (any more), -1 answered. */
static int
s_campaign_of (pl_call_t *call, const pl_room_ref_t *ref, char cid[PL_WIRE_ID_MAX + 1])
{
    int rc = -1;
    redisReply *reply = NULL;
    if (ref->kind == PL_ROOM_CAMPAIGN) {
        snprintf (cid, PL_WIRE_ID_MAX + 1, "%s", ref->id);
        rc = 0;
        goto cleanup;
    }
    reply = pl_call_command (call, "HGET " PL_KEY_SESSION " campaignId", ref->id);
    if (!reply)
        goto cleanup;
    rc = 1;
    if (reply->type == REDIS_REPLY_STRING && reply->len <= PL_WIRE_ID_MAX) {
        snprintf (cid, PL_WIRE_ID_MAX + 1, "%s", reply->str);
        rc = 0;
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

static void
s_subscribe (pl_call_t *call, const cJSON *arg)
{
    const char *room = s_room_arg (call, arg);
    if (!room)
        return;
    pl_room_ref_t ref;
    pl_role_t role = PL_ROLE_NONE;
    const char *why = NULL;
    char cid[PL_WIRE_ID_MAX + 1];
    pl_err_t err = pl_authz_room_access (call, room, &ref, &role, &why);
    if (err == PL_ERR_INTERNAL)
        return;
    if (err != PL_ERR_NONE) {
        pl_call_error (call, err, "cannot subscribe to %s: %s", room, why ? why : "refused");
        return;
    }
    if (ref.kind == PL_ROOM_USER) {         /* joined at CONNECT already */
        s_ok_room (call, room);
        return;
    }
    int rc = s_campaign_of (call, &ref, cid);
    if (rc == 0) {
        /* the membership is checked again inside the script: a removal
         * that commits between the check above and here wins */
        long ttl = pl_config_int (pl_call_config (call), PL_CFG_PRESENCE_TTL_MS);
        rc = pl_presence_join (call, room, cid, ttl, &role);
    }
    if (rc < 0)
        return;
    if (rc > 0) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "cannot subscribe to %s: %s", room,
                       "not a member of the room's campaign");
        return;
    }
    pl_call_join (call, room);
    if (ref.kind == PL_ROOM_CAMPAIGN && role == PL_ROLE_GM) {
        char gm[PL_WIRE_ROOM_MAX + 1];
        snprintf (gm, sizeof gm, "campaign:%s:gm", ref.id);
        pl_call_join (call, gm);
    }
    s_ok_room (call, room);
}

static void
s_unsubscribe (pl_call_t *call, const cJSON *arg)
{
    const char *room = s_room_arg (call, arg);
    if (!room)
        return;
    pl_room_ref_t ref;
    const char *why = NULL;
    switch (pl_wire_room_parse (room, &ref, &why)) {
        case PL_ROOM_INVALID:
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: %s", room, why);
            return;
        case PL_ROOM_USER:
            if (strcmp (ref.id, pl_call_caller (call)->user) == 0) {
                pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                               "%s is your own user room; it cannot be left", room);
                return;
            }
            break;                          /* never in it: nothing to leave */
        case PL_ROOM_CAMPAIGN_GM:
            pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                           "%s is left along with campaign:%s", room, ref.id);
            return;
        case PL_ROOM_RESERVED:
            break;                          /* nobody is in these yet */
        case PL_ROOM_CAMPAIGN:
        case PL_ROOM_SESSION:
            if (pl_presence_leave (call, room, PL_CALL_PUBLISH_MAX) != 0)
                return;
            pl_call_leave (call, room);
            if (ref.kind == PL_ROOM_CAMPAIGN) {
                char gm[PL_WIRE_ROOM_MAX + 1];
                snprintf (gm, sizeof gm, "campaign:%s:gm", ref.id);
                pl_call_leave (call, gm);
            }
            break;
    }
    s_ok_room (call, room);
}

static void
s_presence_list (pl_call_t *call, const cJSON *arg)
{
    const char *room = s_room_arg (call, arg);
    if (!room)
        return;
    pl_room_ref_t ref;
    pl_role_t role;
    const char *why = NULL;
    pl_err_t err = pl_authz_room_access (call, room, &ref, &role, &why);
    if (err == PL_ERR_INTERNAL)
        return;
    if (err != PL_ERR_NONE) {
        pl_call_error (call, err, "cannot list %s: %s", room, why ? why : "refused");
        return;
    }
    /* a user room has no presence records: its list is empty */
    cJSON *list = pl_presence_list (call, room);
    if (list)
        pl_call_ok (call, list);
}

/* Internal: the gateway's connection closed. The gateway drops the answer. */
static void
s_presence_drop (pl_call_t *call, const cJSON *arg)
{
    (void) arg;                             /* takes none; ignores any */
    if (pl_presence_drop (call, PL_CALL_PUBLISH_MAX) == 0)
        pl_call_ok (call, NULL);
}

/* Internal: {boot, ttlMs} from a gateway, every ttlMs/3. */
static void
s_presence_alive (pl_call_t *call, const cJSON *arg)
{
    const cJSON *boot = cJSON_GetObjectItemCaseSensitive (arg, "boot");
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive (arg, "ttlMs");
    /* the range before the cast: casting a double outside long's range
     * (1e300, inf) is undefined behaviour; NaN fails both comparisons */
    if (!cJSON_IsString (boot) || !*boot->valuestring || strlen (boot->valuestring) > S_BOOT_MAX
    ||  !cJSON_IsNumber (ttl) || !(ttl->valuedouble >= S_TTL_MIN && ttl->valuedouble <= S_TTL_MAX)
    ||  ttl->valuedouble != (double) (long) ttl->valuedouble) {
        pl_warn ("presence:alive from %s: bad argument",
                 pl_call_caller (call)->gateway ? pl_call_caller (call)->gateway : "?");
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "presence:alive expects {boot: 1..%d characters, ttlMs: %d..%d}",
                       S_BOOT_MAX, S_TTL_MIN, S_TTL_MAX);
        return;
    }
    if (pl_presence_alive (call, boot->valuestring, (long) ttl->valuedouble,
                           PL_CALL_PUBLISH_MAX) == 0)
        pl_call_ok (call, NULL);
}

void
pl_rooms_tick (pl_call_t *call)
{
    pl_presence_sweep (call, pl_config_int (pl_call_config (call), PL_CFG_PRESENCE_TTL_MS),
                       PL_CALL_PUBLISH_MAX);
}

const pl_handler_t pl_rooms_handlers[] = {
    { PL_EV_SUBSCRIBE, s_subscribe },
    { PL_EV_UNSUBSCRIBE, s_unsubscribe },
    { PL_EV_PRESENCE_LIST, s_presence_list },
    { PL_EV_PRESENCE_DROP, s_presence_drop },
    { PL_EV_PRESENCE_ALIVE, s_presence_alive },
};
const size_t pl_rooms_handler_count = sizeof pl_rooms_handlers / sizeof pl_rooms_handlers[0];
