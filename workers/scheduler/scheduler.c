/*  scheduler - world time, scheduled events and turn timers (this file:
 *  time:*, schedule:* and the periodic task; timer.c: timer:*).
 *
 *  Storage and atomicity are domain/pl_sched's: every change is one Lua
 *  script, and firing is a claim that leases what it returns, so any
 *  number of schedulers may run and each event fires once; the periodic
 *  task acknowledges what this process fired once its events have left,
 *  and a claimer that died before that has its claims fired again by any
 *  scheduler when their lease expires (pl_sched.h: at-least-once across
 *  that crash, schedule:fired's id de-duplicates).
 *
 *  Who: time:get for members of the campaign; everything else for its GMs
 *  (FORBIDDEN otherwise, also for an unknown campaign: its role is none).
 *
 *  Sleeping. The periodic task (pl_scheduler_tick) claims what is due and
 *  asks the runtime to wake it when the next thing falls due
 *  (pl_call_wake_at); a schedule:create or timer:start wakes it for its
 *  own due time. PL_SCHEDULER_CAP_MS (1 s) caps each sleep, and that cap
 *  is what covers the cases no wake reaches: an event created through
 *  another scheduler process that died before its due time, a wake lost
 *  to a restart, the gap between Redis's clock (every due time) and this
 *  host's monotonic clock (every sleep). One small script a second when
 *  nothing is due is the price; turn timers need one-second resolution
 *  anyway. Another scheduler needs no wake from us: the scheduler that
 *  served the create wakes itself, and either fires it.
 *
 *  On start, the first pass runs within the cap: an event that fell due
 *  while no scheduler ran fires then, once (the claim).
 *
 *  Handlers and the task run on the worker loop (pl_worker.h).
 */
#include "scheduler.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_sched.h"
#include "pl_session.h"
#include "pl_wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The argument's campaignId, checked: the caller is a member (a GM when
 * gm). Returns it, or NULL after answering. */
static const char *
s_campaign (pl_call_t *call, const cJSON *arg, bool gm)
{
    const char *event = pl_proto_event (pl_call_event (call))->name;
    const char *cid = NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (arg, "campaignId");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (id) || !pl_wire_id_valid (id->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "%s expects an object with campaignId a valid id", event);
        goto cleanup;
    }
    pl_role_t role;
    if (pl_authz_role (call, id->valuestring, pl_call_caller (call)->user, &role) != 0)
        goto cleanup;                       /* answered */
    if (role == PL_ROLE_NONE || (gm && role != PL_ROLE_GM)) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "%s: %s of campaign %s only", event,
                       gm ? "GMs" : "members", id->valuestring);
        goto cleanup;
    }
    cid = id->valuestring;
cleanup:
    return cid;
}

/* ---- world time ------------------------------------------------------ */

static void
s_time_get (pl_call_t *call, const cJSON *arg)
{
    const char *cid = s_campaign (call, arg, false);
    int64_t world;
    if (!cid || pl_sched_time_get (call, cid, &world) != 0)
        goto cleanup;                       /* answered */
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddStringToObject (data, "campaignId", cid);
    cJSON_AddNumberToObject (data, "worldTime", (double) world);
    pl_call_ok (call, data);
cleanup:
    return;
}

/* time:advance and time:set: one script changes the time and claims the
 * world-time events it passes; the ack, world_time_changed and their
 * schedule:fired go out together, in that order. */
static void
s_time_change (pl_call_t *call, const cJSON *arg)
{
    cJSON *fired = NULL;
    bool set = pl_call_event (call) == PL_EV_TIME_SET;
    const char *field = set ? "worldTime" : "seconds";
    int64_t min = set ? 0 : 1, max = set ? PL_SCHED_TIME_MAX : PL_SCHED_ADVANCE_MAX;
    int64_t value;
    if (!pl_sched_int (cJSON_GetObjectItemCaseSensitive (arg, field), min, max, &value)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s must be an integer from %" PRId64
                       " to %" PRId64, field, min, max);
        goto cleanup;
    }
    const char *cid = s_campaign (call, arg, true);
    if (!cid)
        goto cleanup;
    int64_t previous = 0, now = 0;
    bool more = false;
    int rc = pl_sched_time_change (call, cid, set, value, &previous, &now, &fired, &more);
    if (rc < 0)
        goto cleanup;
    if (rc == 1) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "world time %" PRId64 " + %" PRId64
                       " would pass %lld", previous, value, PL_SCHED_TIME_MAX);
        goto cleanup;
    }
    if (rc == 2) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", cid);
        goto cleanup;
    }
    char room[PL_WIRE_ROOM_MAX + 1];
    snprintf (room, sizeof room, "campaign:%s", cid);
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddStringToObject (data, "campaignId", cid);
    cJSON_AddNumberToObject (data, "worldTime", (double) now);
    cJSON_AddNumberToObject (data, "previous", (double) previous);
    pl_call_publish (call, room, PL_PUSH_WORLD_TIME_CHANGED, cJSON_Duplicate (data, true), false);
    int64_t fired_at = pl_id_wall_ms ();
    const cJSON *entry;
    cJSON_ArrayForEach (entry, fired)
        pl_sched_publish_fired (call, entry, fired_at);
    if (more || cJSON_GetArraySize (fired) > 0)
        pl_call_wake_at (call, pl_id_mono_ms ());   /* the task acknowledges them,
                                                       fires the rest */
    pl_call_ok (call, data);
cleanup:
    cJSON_Delete (fired);
}

/* ---- scheduled events ------------------------------------------------- */

/* The room of a schedule:create, checked: campaign:<cid>, campaign:<cid>:gm
 * or session:<sid> of a session of cid. True, or false after answering. */
static bool
s_room_valid (pl_call_t *call, const char *cid, const cJSON *room)
{
    bool valid = false;
    cJSON *session = NULL;
    pl_room_ref_t ref;
    const char *why = NULL;
    pl_room_kind_t kind = cJSON_IsString (room) ? pl_wire_room_parse (room->valuestring, &ref, &why)
                                                : PL_ROOM_INVALID;
    if ((kind == PL_ROOM_CAMPAIGN || kind == PL_ROOM_CAMPAIGN_GM) && strcmp (ref.id, cid) == 0)
        valid = true;
    else
    if (kind == PL_ROOM_SESSION) {
        int rc = pl_session_get (call, ref.id, &session);
        if (rc < 0)
            goto cleanup;                   /* answered */
        const cJSON *owner = cJSON_GetObjectItemCaseSensitive (session, "campaignId");
        valid = rc == 1 && cJSON_IsString (owner) && strcmp (owner->valuestring, cid) == 0;
    }
    if (!valid)
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "room must be campaign:%s, campaign:%s:gm or session:<id> of a session "
                       "of that campaign", cid, cid);
cleanup:
    cJSON_Delete (session);
    return valid;
}

static void
s_schedule_create (pl_call_t *call, const cJSON *arg)
{
    cJSON *entry = NULL;
    char *payload_text = NULL;
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "schedule:create expects {campaignId, event, payload, room, at | afterMs}");
        goto cleanup;
    }
    const cJSON *event = cJSON_GetObjectItemCaseSensitive (arg, "event");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive (arg, "payload");
    const cJSON *room = cJSON_GetObjectItemCaseSensitive (arg, "room");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive (arg, "at");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive (arg, "afterMs");
    if (!cJSON_IsString (event) || !pl_sched_event_valid (event->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "event must be 1 to %d characters of A-Z a-z 0-9 : _ . -",
                       PL_SCHED_EVENT_MAX);
        goto cleanup;
    }
    payload_text = payload ? cJSON_PrintUnformatted (payload) : NULL;
    if (payload && (!payload_text || strlen (payload_text) > PL_SCHED_PAYLOAD_MAX)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "payload must be at most %d bytes of JSON text", PL_SCHED_PAYLOAD_MAX);
        goto cleanup;
    }
    int64_t when = 0, after_ms = 0;
    if ((at != NULL) == (after != NULL)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "give exactly one of at and afterMs");
        goto cleanup;
    }
    if (at && !pl_sched_int (at, 0, PL_SCHED_TIME_MAX, &when)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "at must be an integer world time from 0 to %lld", PL_SCHED_TIME_MAX);
        goto cleanup;
    }
    if (after && !pl_sched_int (after, 1, PL_SCHED_AFTER_MAX, &after_ms)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "afterMs must be an integer from 1 to %lld", PL_SCHED_AFTER_MAX);
        goto cleanup;
    }
    const char *cid = s_campaign (call, arg, true);
    if (!cid || !s_room_valid (call, cid, room))
        goto cleanup;
    char id[PL_ID_UUID_SIZE];
    if (pl_id_uuid4 (id) != 0) {
        pl_call_error (call, PL_ERR_INTERNAL, "no random id");
        goto cleanup;
    }
    entry = cJSON_CreateObject ();
    cJSON_AddStringToObject (entry, "id", id);
    cJSON_AddStringToObject (entry, "campaignId", cid);
    cJSON_AddStringToObject (entry, "event", event->valuestring);
    cJSON_AddItemToObject (entry, "payload", payload ? cJSON_Duplicate (payload, true)
                                                     : cJSON_CreateNull ());
    cJSON_AddStringToObject (entry, "room", room->valuestring);
    if (at)
        cJSON_AddNumberToObject (entry, "at", (double) when);
    cJSON_AddStringToObject (entry, "createdBy", pl_call_caller (call)->user);
    int64_t world = 0;
    int64_t mono = pl_id_mono_ms ();
    int rc = pl_sched_create (call, entry, after_ms, &world);
    if (rc < 0)
        goto cleanup;
    if (rc == 1) {
        pl_call_error (call, PL_ERR_CONFLICT, "campaign %s has %d scheduled events pending",
                       cid, PL_SCHED_PENDING_MAX);
        goto cleanup;
    }
    if (rc == 2) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "at (%" PRId64 ") must be after the world time (%" PRId64 ")", when, world);
        goto cleanup;
    }
    if (rc == 3) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", cid);
        goto cleanup;
    }
    if (after_ms > 0)
        pl_call_wake_at (call, mono + after_ms);
    pl_call_ok (call, entry);
    entry = NULL;
cleanup:
    cJSON_Delete (entry);
    free (payload_text);
}

static void
s_schedule_list (pl_call_t *call, const cJSON *arg)
{
    const char *cid = s_campaign (call, arg, true);
    cJSON *list = NULL;
    if (cid && pl_sched_list (call, cid, &list) == 0)
        pl_call_ok (call, list);
}

static void
s_schedule_cancel (pl_call_t *call, const cJSON *arg)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (arg, "id");
    if (!cJSON_IsString (id) || !pl_wire_id_valid (id->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "schedule:cancel expects {campaignId, id} with id a valid id");
        goto cleanup;
    }
    const char *cid = s_campaign (call, arg, true);
    int rc = cid ? pl_sched_cancel (call, cid, id->valuestring) : -1;
    if (rc < 0)
        goto cleanup;                       /* answered */
    if (rc == 0) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no pending scheduled event %s in campaign %s",
                       id->valuestring, cid);
        goto cleanup;
    }
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddStringToObject (data, "campaignId", cid);
    cJSON_AddStringToObject (data, "id", id->valuestring);
    pl_call_ok (call, data);
cleanup:
    return;
}

/* ---- the periodic task ------------------------------------------------ */

void
pl_scheduler_tick (pl_call_t *call)
{
    pl_sched_due_t due;
    /* first what earlier calls fired: their events have left by now */
    int acks = pl_sched_ack (call);
    if (acks < 0 || pl_sched_claim (call, &due) != 0)
        goto cleanup;                       /* logged; the cap runs it again */
    const cJSON *item;
    cJSON_ArrayForEach (item, due.fired)
        pl_sched_publish_fired (call, item, due.now_ms);
    cJSON_ArrayForEach (item, due.ticks) {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive (item, "sessionId");
        const cJSON *remaining = cJSON_GetObjectItemCaseSensitive (item, "remaining");
        char room[PL_WIRE_ROOM_MAX + 1];
        snprintf (room, sizeof room, "session:%s", sid->valuestring);
        if (remaining->valuedouble > 0) {
            pl_call_publish (call, room, PL_PUSH_TIMER_TICK, cJSON_Duplicate (item, true), false);
            continue;
        }
        cJSON *ev = cJSON_Duplicate (item, true);
        cJSON_DeleteItemFromObjectCaseSensitive (ev, "remaining");
        pl_call_publish (call, room, PL_PUSH_TIMER_EXPIRED, ev, false);
    }
    if (due.wait_ms >= 0)
        pl_call_wake_at (call, pl_id_mono_ms () + due.wait_ms);
    if (acks > 0 || cJSON_GetArraySize (due.fired) > 0)
        pl_call_wake_at (call, pl_id_mono_ms ());   /* acknowledge them */
    pl_sched_due_clear (&due);
cleanup:
    return;
}

const pl_handler_t pl_scheduler_handlers[] = {
    { PL_EV_TIME_GET, s_time_get },
    { PL_EV_TIME_ADVANCE, s_time_change },
    { PL_EV_TIME_SET, s_time_change },
    { PL_EV_SCHEDULE_CREATE, s_schedule_create },
    { PL_EV_SCHEDULE_LIST, s_schedule_list },
    { PL_EV_SCHEDULE_CANCEL, s_schedule_cancel },
    { PL_EV_TIMER_START, pl_scheduler_timer_start },
    { PL_EV_TIMER_CANCEL, pl_scheduler_timer_cancel },
};
const size_t pl_scheduler_handler_count = sizeof pl_scheduler_handlers
                                        / sizeof pl_scheduler_handlers[0];
