/*  scheduler: turn timers, timer:start and timer:cancel (scheduler.c has
 *  the rest of the service; domain/pl_sched the storage).
 *
 *  One timer per session, for the GMs of the session's campaign. The
 *  periodic task sends its ticks (timer:tick, once a second) and its
 *  expiry (timer:expired, once): each claimed in Redis, so a restarted or
 *  second scheduler neither loses nor repeats one. timer:start itself
 *  sends the first tick, remaining = seconds, so the session sees the
 *  timer begin; a cancel sends nothing but its ack.
 *
 *  Handlers run on the worker loop (pl_worker.h).
 */
#include "scheduler.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_sched.h"
#include "pl_session.h"
#include "pl_wire.h"

#include <stdio.h>
#include <string.h>

/* The argument's sessionId, checked: its campaign's GM calls. Returns it
 * and its campaign id in cid, or NULL after answering. */
static const char *
s_session (pl_call_t *call, const cJSON *arg, char cid[PL_WIRE_ID_MAX + 1])
{
    const char *event = pl_proto_event (pl_call_event (call))->name;
    const char *sid = NULL;
    cJSON *session = NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (arg, "sessionId");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (id) || !pl_wire_id_valid (id->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "%s expects an object with sessionId a valid id", event);
        goto cleanup;
    }
    int rc = pl_session_get (call, id->valuestring, &session);
    if (rc < 0)
        goto cleanup;                       /* answered */
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive (session, "campaignId");
    pl_role_t role = PL_ROLE_NONE;
    if (rc == 1 && cJSON_IsString (owner) && pl_wire_id_valid (owner->valuestring)
    &&  pl_authz_role (call, owner->valuestring, pl_call_caller (call)->user, &role) != 0)
        goto cleanup;                       /* answered */
    if (role == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "%s: no session %s", event, id->valuestring);
        goto cleanup;
    }
    if (role != PL_ROLE_GM) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "%s: GMs of the session's campaign only", event);
        goto cleanup;
    }
    snprintf (cid, PL_WIRE_ID_MAX + 1, "%s", owner->valuestring);
    sid = id->valuestring;
cleanup:
    cJSON_Delete (session);
    return sid;
}

void
pl_scheduler_timer_start (pl_call_t *call, const cJSON *arg)
{
    cJSON *timer = NULL;
    const cJSON *label = cJSON_GetObjectItemCaseSensitive (arg, "label");
    int64_t seconds;
    if (!pl_sched_int (cJSON_GetObjectItemCaseSensitive (arg, "seconds"), 1,
                       PL_SCHED_TIMER_MAX_S, &seconds)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "seconds must be an integer from 1 to %d",
                       PL_SCHED_TIMER_MAX_S);
        goto cleanup;
    }
    if (label && !cJSON_IsNull (label)
    &&  (!cJSON_IsString (label) || pl_wire_code_points (label->valuestring) < 1
         || pl_wire_code_points (label->valuestring) > PL_SCHED_LABEL_MAX)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "label must be a string of 1 to %d "
                       "characters, or null", PL_SCHED_LABEL_MAX);
        goto cleanup;
    }
    char cid[PL_WIRE_ID_MAX + 1];
    const char *sid = s_session (call, arg, cid);
    if (!sid)
        goto cleanup;                       /* answered */
    int64_t mono = pl_id_mono_ms ();
    int rc = pl_sched_timer_start (call, sid, cid, seconds,
                                   cJSON_IsString (label) ? label->valuestring : NULL, &timer);
    if (rc < 0)
        goto cleanup;                       /* answered */
    if (rc == 1) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "timer:start: no session %s", sid);
        goto cleanup;
    }
    char room[PL_WIRE_ROOM_MAX + 1];
    snprintf (room, sizeof room, "session:%s", sid);
    cJSON *tick = cJSON_CreateObject ();
    cJSON_AddStringToObject (tick, "sessionId", sid);
    cJSON_AddNumberToObject (tick, "remaining", (double) seconds);
    cJSON_AddItemToObject (tick, "label",
                           cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (timer, "label"), true));
    pl_call_publish (call, room, PL_PUSH_TIMER_TICK, tick, false);
    pl_call_wake_at (call, mono + 1000);
    pl_call_ok (call, timer);
    timer = NULL;
cleanup:
    cJSON_Delete (timer);
}

void
pl_scheduler_timer_cancel (pl_call_t *call, const cJSON *arg)
{
    char cid[PL_WIRE_ID_MAX + 1];
    const char *sid = s_session (call, arg, cid);
    int rc = sid ? pl_sched_timer_cancel (call, sid) : -1;
    if (rc < 0)
        goto cleanup;                       /* answered */
    if (rc == 0) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no timer runs in session %s", sid);
        goto cleanup;
    }
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddStringToObject (data, "sessionId", sid);
    pl_call_ok (call, data);
cleanup:
    return;
}
