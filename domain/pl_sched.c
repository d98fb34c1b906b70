/*  pl_sched - world time, scheduled events and turn timers. See pl_sched.h.
 *
 *  Every write is one Lua script, so each is atomic against every other
 *  scheduler and handler: the claims (time change, periodic pass) remove
 *  what they return. Times of day come from Redis (TIME inside the
 *  scripts): one clock for every scheduler, whatever host it runs on.
 *  Numbers cross as decimal strings (string.format '%d'), never as Lua
 *  numbers turned into replies.
 *
 *  The scripts themselves are in pl_sched_lua.c.
 *
 *  Runs inside a handler's (or the periodic task's) call, on the worker
 *  loop.
 */
#include "pl_sched_int.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_wire.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a claim holds a fired entry before any scheduler may fire it
 * again (pl_sched__acks_reset changes it for the selftest). */
static int64_t s_lease_ms = PL_SCHED_LEASE_MS;

/* This process's fired entries waiting for their acknowledgement: ids
 * (JSON strings) published by calls that may not have ended (staged),
 * and by calls that ended before the task's last turn began (ready: their
 * events have been sent unless the runtime still holds some). Each list
 * holds at most PL_SCHED_ACK_MAX; an id past it is not acknowledged and
 * fires again when its lease expires (at-least-once, logged). The worker
 * loop is the only thread that touches them. */
static struct {
    cJSON *staged, *ready;
} s_acks;

static void
s_note (cJSON **list, const char *id)
{
    if (!*list)
        *list = cJSON_CreateArray ();
    if (*list && cJSON_GetArraySize (*list) < PL_SCHED_ACK_MAX)
        cJSON_AddItemToArray (*list, cJSON_CreateString (id));
    else
        pl_warn ("scheduled event %s: no room to acknowledge it; it fires again after "
                 "its lease (%" PRId64 " ms)", id, s_lease_ms);
}

/* --------------------------------------------------------------------- */

bool
pl_sched_event_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    bool valid = len > 0 && len <= PL_SCHED_EVENT_MAX;
    for (size_t i = 0; valid && i < len; i++) {
        char c = name[i];
        valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
             || c == ':' || c == '_' || c == '.' || c == '-';
    }
    return valid;
}

bool
pl_sched_int (const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
    /* the range first: casting a double outside int64's range (1e300,
     * inf) is undefined behaviour; NaN fails both comparisons */
    bool ok = cJSON_IsNumber (item) && item->valuedouble >= (double) min
           && item->valuedouble <= (double) max
           && item->valuedouble == (double) (int64_t) item->valuedouble;
    if (ok)
        *out = (int64_t) item->valuedouble;
    return ok;
}

/* A decimal reply element (a string), or fallback. */
static int64_t
s_int (const redisReply *r, int64_t fallback)
{
    if (r && r->type == REDIS_REPLY_STRING)
        return strtoll (r->str, NULL, 10);
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return fallback;
}

/* Parse reply elements [from, to) (entry JSON text) into an array. */
static cJSON *
s_entries (const redisReply *reply, size_t from, size_t to)
{
    cJSON *list = cJSON_CreateArray ();
    for (size_t i = from; list && i < to && i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        cJSON *entry = e->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength (e->str, e->len)
                                                     : NULL;
        if (entry)
            cJSON_AddItemToArray (list, entry);
    }
    return list;
}

int
pl_sched_time_get (pl_call_t *call, const char *cid, int64_t *world)
{
    int rc = -1;
    redisReply *reply = pl_call_command (call, "GET " PL_KEY_TIME, cid);
    if (!reply)
        goto cleanup;
    *world = s_int (reply, 0);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_time_change (pl_call_t *call, const char *cid, bool set, int64_t value,
                      int64_t *previous, int64_t *now, cJSON **fired, bool *more)
{
    int rc = -1;
    redisReply *reply = NULL;
    *fired = NULL;
    *more = false;
    char time_key[PL_WIRE_ID_MAX + 32], world_key[PL_WIRE_ID_MAX + 32];
    char val[24], max[24], fire[16], lease[24], campaign_key[PL_WIRE_ID_MAX + 32];
    snprintf (time_key, sizeof time_key, PL_KEY_TIME, cid);
    snprintf (campaign_key, sizeof campaign_key, PL_KEY_CAMPAIGN, cid);
    snprintf (world_key, sizeof world_key, PL_KEY_SCHED_WORLD, cid);
    snprintf (val, sizeof val, "%" PRId64, value);
    snprintf (max, sizeof max, "%lld", PL_SCHED_TIME_MAX);
    snprintf (fire, sizeof fire, "%d", PL_SCHED_FIRE_MAX);
    snprintf (lease, sizeof lease, "%" PRId64, s_lease_ms);
    const char *argv[] = { time_key, world_key, PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS,
                           PL_KEY_SCHED_BACKLOG, PL_KEY_SCHED_FIRING, campaign_key,
                           set ? "set" : "advance", val, max, fire, cid, lease };
    reply = pl_call_script (call, &pl_sched__time_lua, 7, 13, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    if (reply->element[0]->type == REDIS_REPLY_STRING
    &&  strcmp (reply->element[0]->str, "gone") == 0) {
        rc = 2;
        goto cleanup;
    }
    if (reply->elements < 2) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    if (reply->element[0]->type == REDIS_REPLY_STRING
    &&  strcmp (reply->element[0]->str, "over") == 0) {
        *previous = s_int (reply->element[1], 0);
        rc = 1;
        goto cleanup;
    }
    pl_call_commit (call);                  /* the time changed: announce it */
    *previous = s_int (reply->element[0], 0);
    *now = s_int (reply->element[1], 0);
    *more = reply->elements > 2 && s_int (reply->element[2], 0) == 1;
    *fired = s_entries (reply, 3, reply->elements);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_create (pl_call_t *call, cJSON *entry, int64_t after_ms, int64_t *world)
{
    int rc = -1;
    redisReply *reply = NULL;
    char *json = cJSON_PrintUnformatted (entry);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (entry, "id");
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (entry, "campaignId");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive (entry, "at");
    assert (cJSON_IsString (id) && cJSON_IsString (cid));
    assert (after_ms > 0 || cJSON_IsNumber (at));
    if (!json) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    size_t len = strlen (json);
    assert (len > 2 && json[len - 1] == '}');
    json[len - 1] = '\0';                   /* the script appends its fields */
    char set_key[PL_WIRE_ID_MAX + 32], zset_key[PL_WIRE_ID_MAX + 32], time_key[PL_WIRE_ID_MAX + 32];
    char after[24], at_text[24], max[16], campaign_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid->valuestring);
    snprintf (campaign_key, sizeof campaign_key, PL_KEY_CAMPAIGN, cid->valuestring);
    if (after_ms > 0)
        snprintf (zset_key, sizeof zset_key, "%s", PL_KEY_SCHED_REAL);
    else
        snprintf (zset_key, sizeof zset_key, PL_KEY_SCHED_WORLD, cid->valuestring);
    snprintf (time_key, sizeof time_key, PL_KEY_TIME, cid->valuestring);
    snprintf (after, sizeof after, "%" PRId64, after_ms > 0 ? after_ms : 0);
    snprintf (at_text, sizeof at_text, "%" PRId64, after_ms > 0 ? 0 : (int64_t) at->valuedouble);
    snprintf (max, sizeof max, "%d", PL_SCHED_PENDING_MAX);
    const char *argv[] = { PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS, set_key, zset_key,
                           time_key, PL_KEY_SCHED_SEQ, campaign_key,
                           id->valuestring, cid->valuestring, json, after, at_text, max };
    reply = pl_call_script (call, &pl_sched__create_lua, 7, 13, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
    ||  reply->element[0]->type != REDIS_REPLY_STRING) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    const char *what = reply->element[0]->str;
    if (strcmp (what, "gone") == 0)
        rc = 3;
    else
    if (strcmp (what, "full") == 0)
        rc = 1;
    else
    if (strcmp (what, "past") == 0) {
        *world = reply->elements > 1 ? s_int (reply->element[1], 0) : 0;
        rc = 2;
    }
    else {
        cJSON *stored = reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_STRING
                      ? cJSON_ParseWithLength (reply->element[1]->str, reply->element[1]->len)
                      : NULL;
        pl_call_commit (call);
        const cJSON *due = cJSON_GetObjectItemCaseSensitive (stored, "dueAt");
        const cJSON *created = cJSON_GetObjectItemCaseSensitive (stored, "createdAt");
        if (due)
            cJSON_AddNumberToObject (entry, "dueAt", due->valuedouble);
        if (created)
            cJSON_AddNumberToObject (entry, "createdAt", created->valuedouble);
        cJSON_Delete (stored);
        rc = 0;
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (json);
    return rc;
}

int
pl_sched_list (pl_call_t *call, const char *cid, cJSON **list)
{
    int rc = -1;
    *list = NULL;
    char set_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid);
    const char *argv[] = { set_key, PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS,
                           PL_KEY_SCHED_FIRING };
    redisReply *reply = pl_call_script (call, &pl_sched__list_lua, 4, 4, argv, NULL);
    if (!reply)
        goto cleanup;
    *list = reply->type == REDIS_REPLY_ARRAY ? s_entries (reply, 0, reply->elements)
                                             : cJSON_CreateArray ();
    if (!*list) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_cancel (pl_call_t *call, const char *cid, const char *id)
{
    int rc = -1;
    char set_key[PL_WIRE_ID_MAX + 32], world_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid);
    snprintf (world_key, sizeof world_key, PL_KEY_SCHED_WORLD, cid);
    const char *argv[] = { PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS, set_key,
                           PL_KEY_SCHED_REAL, world_key, PL_KEY_SCHED_FIRING, id, cid };
    redisReply *reply = pl_call_script (call, &pl_sched__cancel_lua, 6, 8, argv, NULL);
    if (!reply)
        goto cleanup;
    rc = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 ? 1 : 0;
    if (rc == 1)
        pl_call_commit (call);
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_timer_start (pl_call_t *call, const char *sid, const char *cid, int64_t seconds,
                      const char *label, cJSON **timer)
{
    int rc = -1;
    *timer = NULL;
    char key[PL_WIRE_ID_MAX + 32], session_key[PL_WIRE_ID_MAX + 32], secs[24];
    snprintf (key, sizeof key, PL_KEY_TIMER, sid);
    snprintf (session_key, sizeof session_key, PL_KEY_SESSION, sid);
    snprintf (secs, sizeof secs, "%" PRId64, seconds);
    const char *argv[] = { key, PL_KEY_TIMERS, session_key, sid, secs, label ? label : "", cid };
    redisReply *reply = pl_call_script (call, &pl_sched__timer_start_lua, 3, 7, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type == REDIS_REPLY_STRING && strcmp (reply->str, "gone") == 0) {
        rc = 1;
        goto cleanup;
    }
    pl_call_commit (call);
    int64_t started = s_int (reply, 0);
    cJSON *t = cJSON_CreateObject ();
    cJSON_AddStringToObject (t, "sessionId", sid);
    cJSON_AddStringToObject (t, "campaignId", cid);
    cJSON_AddNumberToObject (t, "seconds", (double) seconds);
    if (label)
        cJSON_AddStringToObject (t, "label", label);
    else
        cJSON_AddNullToObject (t, "label");
    cJSON_AddNumberToObject (t, "startedAt", (double) started);
    cJSON_AddNumberToObject (t, "endsAt", (double) (started + seconds * 1000));
    *timer = t;
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_timer_cancel (pl_call_t *call, const char *sid)
{
    int rc = -1;
    char key[PL_WIRE_ID_MAX + 32];
    snprintf (key, sizeof key, PL_KEY_TIMER, sid);
    const char *argv[] = { key, PL_KEY_TIMERS, sid };
    redisReply *reply = pl_call_script (call, &pl_sched__timer_cancel_lua, 2, 3, argv, NULL);
    if (!reply)
        goto cleanup;
    rc = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0 ? 1 : 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_claim (pl_call_t *call, pl_sched_due_t *due)
{
    int rc = -1;
    *due = (pl_sched_due_t) { NULL, NULL, -1, 0 };
    char fire[16], ticks[16], lease[24];
    snprintf (fire, sizeof fire, "%d", PL_SCHED_FIRE_MAX);
    snprintf (ticks, sizeof ticks, "%d", PL_SCHED_TICKS_MAX);
    snprintf (lease, sizeof lease, "%" PRId64, s_lease_ms);
    const char *argv[] = { PL_KEY_SCHED_REAL, PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS,
                           PL_KEY_SCHED_BACKLOG, PL_KEY_TIMERS, PL_KEY_SCHED_FIRING,
                           fire, ticks, lease };
    redisReply *reply = pl_call_script (call, &pl_sched__claim_lua, 6, 9, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    pl_call_commit (call);                  /* claimed: what follows must go out */
    due->now_ms = s_int (reply->element[0], 0);
    int64_t next = s_int (reply->element[1], -1);
    due->wait_ms = next < 0 ? -1 : next > due->now_ms ? next - due->now_ms : 0;
    size_t nfired = (size_t) s_int (reply->element[2], 0);
    if (nfired > reply->elements - 3)
        nfired = reply->elements - 3;
    due->fired = s_entries (reply, 3, 3 + nfired);
    due->ticks = cJSON_CreateArray ();
    for (size_t i = 3 + nfired; due->ticks && i + 2 < reply->elements; i += 3) {
        const redisReply *sid = reply->element[i], *label = reply->element[i + 2];
        if (sid->type != REDIS_REPLY_STRING || label->type != REDIS_REPLY_STRING)
            continue;
        cJSON *t = cJSON_CreateObject ();
        cJSON_AddStringToObject (t, "sessionId", sid->str);
        cJSON_AddNumberToObject (t, "remaining", (double) s_int (reply->element[i + 1], 0));
        if (label->len)
            cJSON_AddStringToObject (t, "label", label->str);
        else
            cJSON_AddNullToObject (t, "label");
        cJSON_AddItemToArray (due->ticks, t);
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

void
pl_sched_due_clear (pl_sched_due_t *due)
{
    cJSON_Delete (due->fired);
    cJSON_Delete (due->ticks);
    due->fired = due->ticks = NULL;
}

void
pl_sched_publish_fired (pl_call_t *call, const cJSON *entry, int64_t fired_at)
{
    const cJSON *room = cJSON_GetObjectItemCaseSensitive (entry, "room");
    if (!cJSON_IsString (room))
        goto cleanup;                       /* not ours: nothing to say */
    cJSON *ev = cJSON_CreateObject ();
    const char *const copy[] = { "id", "campaignId", "event", "payload" };
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive (entry, copy[i]);
        cJSON_AddItemToObject (ev, copy[i], item ? cJSON_Duplicate (item, true)
                                                 : cJSON_CreateNull ());
    }
    cJSON_AddNumberToObject (ev, "firedAt", (double) fired_at);
    pl_call_publish (call, room->valuestring, PL_PUSH_SCHEDULE_FIRED, ev, false);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (entry, "id");
    if (cJSON_IsString (id))
        s_note (&s_acks.staged, id->valuestring);
cleanup:
    return;
}

int
pl_sched_campaign_clear (pl_call_t *call, const char *cid, const char *const *sids, size_t nsids)
{
    int rc = -1;
    redisReply *reply = NULL;
    char set_key[PL_WIRE_ID_MAX + 32], world_key[PL_WIRE_ID_MAX + 32], time_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid);
    snprintf (world_key, sizeof world_key, PL_KEY_SCHED_WORLD, cid);
    snprintf (time_key, sizeof time_key, PL_KEY_TIME, cid);
    const char **argv = calloc (nsids + 10, sizeof *argv);
    if (!argv)
        goto cleanup;
    const char *keys[] = { PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS, PL_KEY_SCHED_REAL,
                           PL_KEY_SCHED_FIRING, set_key, world_key, time_key,
                           PL_KEY_SCHED_BACKLOG, PL_KEY_TIMERS };
    memcpy (argv, keys, sizeof keys);
    argv[9] = cid;
    for (size_t i = 0; i < nsids; i++)
        argv[10 + i] = sids[i];
    reply = pl_call_script (call, &pl_sched__clear_lua, 9, (int) nsids + 10, argv, NULL);
    if (!reply)
        goto cleanup;
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (argv);
    return rc;
}

int
pl_sched_ack (pl_call_t *call)
{
    int rc = -1;
    redisReply *reply = NULL;
    const char **argv = NULL;
    int n = cJSON_GetArraySize (s_acks.ready);
    if (pl_call_events_held (call)) {
        rc = 0;                             /* not sure they left: next turn */
        goto cleanup;
    }
    if (n > 0) {
        argv = calloc ((size_t) n + 3, sizeof *argv);
        if (!argv)
            goto cleanup;
        argv[0] = PL_KEY_SCHED_ENTRIES;
        argv[1] = PL_KEY_SCHED_MEMBERS;
        argv[2] = PL_KEY_SCHED_FIRING;
        int i = 3;
        const cJSON *id;
        cJSON_ArrayForEach (id, s_acks.ready)   /* not GetArrayItem: a list walk each */
            argv[i++] = id->valuestring;
        reply = pl_call_script (call, &pl_sched__ack_lua, 3, n + 3, argv, NULL);
        if (!reply)
            goto cleanup;                   /* kept for the next turn */
        cJSON_Delete (s_acks.ready);
        s_acks.ready = NULL;
    }
    /* what was published before this turn began has left (or is held:
     * then this turn saw pl_call_events_held) by the next turn */
    cJSON_Delete (s_acks.ready);
    s_acks.ready = s_acks.staged;
    s_acks.staged = NULL;
    rc = cJSON_GetArraySize (s_acks.ready) > 0 ? 1 : 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (argv);
    return rc;
}

void
pl_sched__acks_reset (int64_t lease_ms)
{
    cJSON_Delete (s_acks.staged);
    cJSON_Delete (s_acks.ready);
    s_acks.staged = s_acks.ready = NULL;
    s_lease_ms = lease_ms > 0 ? lease_ms : PL_SCHED_LEASE_MS;
}

/* --------------------------------------------------------------------- */

void
pl_sched_test (bool verbose)
{
    if (verbose)
        printf (" * pl_sched: ");
    assert (pl_sched_event_valid ("caravan:arrives"));
    assert (pl_sched_event_valid ("a.b-c_D9"));
    assert (!pl_sched_event_valid (""));
    assert (!pl_sched_event_valid (NULL));
    assert (!pl_sched_event_valid ("with space"));
    assert (!pl_sched_event_valid ("semi;colon"));
    assert (!pl_sched_event_valid ("ünï"));
    char name[PL_SCHED_EVENT_MAX + 2];
    memset (name, 'x', sizeof name);
    name[PL_SCHED_EVENT_MAX] = '\0';
    assert (pl_sched_event_valid (name));
    name[PL_SCHED_EVENT_MAX] = 'x';
    name[PL_SCHED_EVENT_MAX + 1] = '\0';
    assert (!pl_sched_event_valid (name));

    const char *good[] = { "0", "1", "86400", "999999999999999" };
    const int64_t want[] = { 0, 1, 86400, PL_SCHED_TIME_MAX };
    for (size_t i = 0; i < 4; i++) {
        cJSON *n = cJSON_Parse (good[i]);
        int64_t v = -1;
        assert (pl_sched_int (n, 0, PL_SCHED_TIME_MAX, &v) && v == want[i]);
        cJSON_Delete (n);
    }
    const char *bad[] = { "-1", "1.5", "1e300", "-1e300", "1000000000000000", "9007199254740991", "\"5\"",
                          "null", "true", "[1]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *n = cJSON_Parse (bad[i]);
        int64_t v = 42;
        assert (n && !pl_sched_int (n, 0, PL_SCHED_TIME_MAX, &v) && v == 42);
        cJSON_Delete (n);
    }
    cJSON *n = cJSON_CreateNumber (86401);
    int64_t v;
    assert (!pl_sched_int (n, 1, PL_SCHED_TIMER_MAX_S, &v));
    assert (pl_sched_int (n, 1, 86401, &v) && v == 86401);
    cJSON_Delete (n);
    assert (!pl_sched_int (NULL, 0, 1, &v));
    pl_sched__test_live (verbose);
    if (verbose)
        printf ("OK\n");
}
