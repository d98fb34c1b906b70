/*  pl_call - the in-handler call API of the worker runtime (pl_call_* in
 *  pl_worker.h): a call's answer, its Redis commands, and the events and
 *  room directives it holds until the reply has gone. The loop that
 *  dispatches calls, replies and sends the held events is pl_worker.c.
 */
#include "pl_worker_int.h"
#include "pl_log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a call is, for log lines: its event, the bus push it heard, or
 * "periodic task". */
static const char *
s_call_name (const pl_call_t *call)
{
    return call->bus ? (call->name ? call->name : "bus call")
         : call->task ? "periodic task" : pl_proto_event (call->event)->name;
}

const char *
pl_call_name (pl_call_t *call)
{
    assert (call);
    return s_call_name (call);
}

const pl_caller_t *
pl_call_caller (pl_call_t *call)
{
    assert (call);
    return &call->caller;
}

bool
pl_call_act_as (pl_call_t *call, const char *user, const char *name)
{
    assert (call && call->task && user);
    bool ok = false;
    char *u = strdup (user);
    char *n = name ? strdup (name) : NULL;
    if (!u || (name && !n))
        goto cleanup;
    free (call->caller.user);
    free (call->caller.name);
    call->caller.user = u;
    call->caller.name = n;
    u = n = NULL;
    ok = true;
cleanup:
    free (u);
    free (n);
    return ok;
}

pl_event_id_t
pl_call_event (pl_call_t *call)
{
    assert (call);
    assert (!call->task);                   /* handles no event: pl_call_name */
    return call->event;
}

pl_config_t *
pl_call_config (pl_call_t *call)
{
    assert (call);
    return call->worker->config;
}

pl_redis_t *
pl_call_redis (pl_call_t *call)
{
    assert (call);
    return call->worker->redis;
}

bool
pl_call_answered (pl_call_t *call)
{
    assert (call);
    return call->reply != NULL;
}

/* The fallback when even the error text cannot be allocated. */
static const char s_oom_reply[] =
    "{\"success\":false,\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";

void
pl_call_ok (pl_call_t *call, cJSON *data)
{
    assert (call);
    assert (!call->reply);                  /* answered twice: a bug */
    call->reply = pl_proto_reply_ok (data);
    if (!call->reply) {
        call->reply = strdup (s_oom_reply);
        call->failed = true;
        call->err = PL_ERR_INTERNAL;
    }
}

void
pl_call_ok_body (pl_call_t *call, cJSON *body)
{
    assert (call && body && cJSON_IsObject (body));
    assert (!call->reply);                  /* answered twice: a bug */
    cJSON_DeleteItemFromObjectCaseSensitive (body, "success");
    cJSON_AddItemToObject (body, "success", cJSON_CreateTrue ());
    call->reply = cJSON_PrintUnformatted (body);
    cJSON_Delete (body);
    if (!call->reply) {
        call->reply = strdup (s_oom_reply);
        call->failed = true;
        call->err = PL_ERR_INTERNAL;
    }
}

static void
s_call_verror_with (pl_call_t *call, pl_err_t err, cJSON *fields, const char *fmt, va_list ap)
{
    assert (call);
    assert (!call->reply);                  /* answered twice: a bug */
    assert (err != PL_ERR_NONE && err < PL_ERR_COUNT);
    char message[512];
    vsnprintf (message, sizeof message, fmt, ap);
    call->reply = pl_proto_reply_err_with (err, message, fields);
    call->err = err;
    if (!call->reply) {
        call->reply = strdup (s_oom_reply);
        call->err = PL_ERR_INTERNAL;
    }
    call->failed = true;
}

static void
s_call_verror (pl_call_t *call, pl_err_t err, const char *fmt, va_list ap)
{
    s_call_verror_with (call, err, NULL, fmt, ap);
}

void
pl_call_error (pl_call_t *call, pl_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_call_verror (call, err, fmt, ap);
    va_end (ap);
}

void
pl_call_error_with (pl_call_t *call, pl_err_t err, cJSON *fields, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_call_verror_with (call, err, fields, fmt, ap);
    va_end (ap);
}

/* A Redis failure: answers the call, unless its write has committed
 * (pl_call_commit), when it is only logged and the handler goes on. */
static void
s_call_fail (pl_call_t *call, pl_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    if (call->committed) {
        char message[512];
        vsnprintf (message, sizeof message, fmt, ap);
        pl_warn ("%s: %s after its commit; the answer stands", s_call_name (call), message);
    }
    else
    if (!call->reply)
        s_call_verror (call, err, fmt, ap);
    va_end (ap);
}

/* Vet a reply for the handler: NULL or an error reply (or an EXEC holding
 * one) answers the call INTERNAL and becomes NULL. */
static redisReply *
s_call_vet (pl_call_t *call, redisReply *reply)
{
    if (!reply) {
        s_call_fail (call, PL_ERR_INTERNAL, "storage unavailable");
        goto cleanup;
    }
    const char *error = reply->type == REDIS_REPLY_ERROR ? reply->str : NULL;
    for (size_t i = 0; !error && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_ERROR)
            error = reply->element[i]->str;        /* inside an EXEC */
    if (error) {
        pl_error ("redis error on %s: %s", s_call_name (call), error);
        s_call_fail (call, PL_ERR_INTERNAL, "storage error");
        freeReplyObject (reply);
        reply = NULL;
    }
cleanup:
    return reply;
}

redisReply *
pl_call_vcommand (pl_call_t *call, const char *fmt, va_list ap)
{
    assert (call && fmt);
    pl_redis_t *redis = call->worker->redis;
    return s_call_vet (call, redis ? pl_redis_vcommand (redis, fmt, ap) : NULL);
}

redisReply *
pl_call_command (pl_call_t *call, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = pl_call_vcommand (call, fmt, ap);
    va_end (ap);
    return reply;
}

redisReply *
pl_call_command_argv (pl_call_t *call, int argc, const char **argv, const size_t *argvlen)
{
    assert (call);
    pl_redis_t *redis = call->worker->redis;
    return s_call_vet (call, redis ? pl_redis_command_argv (redis, argc, argv, argvlen) : NULL);
}

redisReply *
pl_call_script (pl_call_t *call, pl_redis_script_t *script, int numkeys,
                int argc, const char **argv, const size_t *argvlen)
{
    assert (call);
    pl_redis_t *redis = call->worker->redis;
    return s_call_vet (call, redis ? pl_redis_script (redis, script, numkeys, argc, argv,
                                                      argvlen) : NULL);
}

bool
pl_call_run (pl_call_t *call, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = pl_call_vcommand (call, fmt, ap);
    va_end (ap);
    if (reply)
        freeReplyObject (reply);
    return reply != NULL;
}

bool
pl_call_batch (pl_call_t *call, pl_redis_batch_t *b)
{
    assert (call && b);
    pl_redis_t *redis = call->worker->redis;
    bool ok = false;
    if (!redis || pl_redis_batch_run (redis, b)) {
        s_call_fail (call, PL_ERR_INTERNAL, "storage unavailable");
        goto cleanup;
    }
    for (int i = 0; i < b->count; i++)
        if (b->reply[i]->type == REDIS_REPLY_ERROR) {
            pl_error ("redis error on %s: %s", s_call_name (call), b->reply[i]->str);
            s_call_fail (call, PL_ERR_INTERNAL, "storage error");
            goto cleanup;
        }
    ok = true;
cleanup:
    return ok;
}

void
pl_call_conflict (pl_call_t *call)
{
    assert (call);
    assert (!call->reply);                  /* a retried call has not answered */
    call->conflict = true;
}

int
pl_call_attempt (pl_call_t *call)
{
    assert (call);
    return call->attempt;
}

void
pl_worker__call_drop_events (pl_call_t *call)
{
    for (size_t i = 0; i < call->npub; i++) {
        free (call->pub[i].room);
        free (call->pub[i].origin);
        free (call->pub[i].packet);
        free (call->pub[i].except);
    }
    call->npub = 0;
}

bool
pl_worker__call_retry (pl_call_t *call)
{
    bool again = false;
    if (!call->conflict || call->reply)
        goto cleanup;                       /* done, or answered anyway */
    call->conflict = false;
    call->committed = false;
    call->commit_pos = 0;
    pl_worker__call_drop_events (call);
    cJSON_Delete (call->directives);
    call->directives = NULL;
    if (call->task)
        pl_proto_ctx_clear (&call->caller); /* a rerun starts as nobody: pl_call_act_as */
    if (call->attempt == PL_CALL_RETRY_MAX) {
        pl_warn ("%s: still conflicting after %d retries; answered CONFLICT",
                 s_call_name (call), PL_CALL_RETRY_MAX);
        pl_call_error (call, PL_ERR_CONFLICT,
                       "busy: what this request read kept changing under it; "
                       "nothing was written, try again");
        goto cleanup;
    }
    call->attempt++;
    pl_worker__metrics_conflict (call);
    again = true;
cleanup:
    return again;
}

int
pl_call_exec (pl_call_t *call)
{
    redisReply *reply = pl_call_command (call, "EXEC");
    int rc = !reply ? -1 : reply->type == REDIS_REPLY_ARRAY ? 1 : 0;
    if (reply)
        freeReplyObject (reply);
    return rc;
}

void
pl_call_commit (pl_call_t *call)
{
    assert (call);
    if (!call->committed)
        call->commit_pos = call->reply_pos;
    call->committed = true;
}

void
pl_call_publish (pl_call_t *call, const char *room, pl_push_id_t push,
                 cJSON *payload, bool exclude_origin)
{
    pl_call_publish_except (call, room, push, payload, exclude_origin, NULL);
}

void
pl_call_publish_except (pl_call_t *call, const char *room, pl_push_id_t push,
                        cJSON *payload, bool exclude_origin, const char *const *except)
{
    assert (call && room && *room);
    assert ((int) push >= 0 && push < PL_PUSH_COUNT);
    pl_worker__pub_t pub = { 0 };
    cJSON *packet = NULL;
    if (call->npub == PL_CALL_PUBLISH_MAX) {
        pl_error ("%s published more than %d events; dropped %s to %s",
                  s_call_name (call), PL_CALL_PUBLISH_MAX,
                  pl_proto_push_name (push), room);
        cJSON_Delete (payload);
        goto cleanup;
    }
    packet = cJSON_CreateArray ();
    if (!packet) {
        cJSON_Delete (payload);
        goto cleanup;
    }
    cJSON_AddItemToArray (packet, cJSON_CreateString (pl_proto_push_name (push)));
    if (payload)
        cJSON_AddItemToArray (packet, payload);
    /* sized to fit: a gateway id is whatever PARLEY_GATEWAY_ID says */
    const char *gw = call->caller.gateway, *conn = call->caller.conn;
    int len = exclude_origin ? pl_proto_origin (NULL, 0, gw, conn) : 0;
    pub.origin = len >= 0 ? malloc ((size_t) len + 1) : NULL;
    if (pub.origin && exclude_origin)
        pl_proto_origin (pub.origin, (size_t) len + 1, gw, conn);
    else
    if (pub.origin)
        pub.origin[0] = 0;
    pub.room = strdup (room);
    pub.kind = PL_CMD_EVENT;
    pub.packet = cJSON_PrintUnformatted (packet);
    bool except_ok = true;
    if (except && except[0]) {
        cJSON *list = cJSON_CreateArray ();
        for (int i = 0; list && except[i]; i++) {
            assert (*except[i] && i < PL_CALL_EXCEPT_MAX);
            cJSON_AddItemToArray (list, cJSON_CreateString (except[i]));
        }
        pub.except = list ? cJSON_PrintUnformatted (list) : NULL;
        except_ok = pub.except != NULL;
        cJSON_Delete (list);
    }
    if (!pub.room || !pub.origin || !pub.packet || !except_ok) {
        pl_error ("out of memory: dropped %s to %s", pl_proto_push_name (push), room);
        free (pub.room);
        free (pub.origin);
        free (pub.packet);
        free (pub.except);
        goto cleanup;
    }
    call->pub[call->npub++] = pub;
cleanup:
    cJSON_Delete (packet);
}

/* Add room to directives[key] (key "join" or "leave"). */
static void
s_call_directive (pl_call_t *call, const char *key, const char *room)
{
    assert (call && room && *room);
    if (!call->directives)
        call->directives = cJSON_CreateObject ();
    cJSON *list = cJSON_GetObjectItemCaseSensitive (call->directives, key);
    if (!list)
        list = cJSON_AddArrayToObject (call->directives, key);
    if (list)
        cJSON_AddItemToArray (list, cJSON_CreateString (room));
}

void
pl_call_join (pl_call_t *call, const char *room)
{
    s_call_directive (call, "join", room);
}

void
pl_call_leave (pl_call_t *call, const char *room)
{
    s_call_directive (call, "leave", room);
}

/* Hold a room control (CTL) for audience: packet is its JSON, owned. */
static void
s_call_control (pl_call_t *call, const char *audience, cJSON *packet, const char *what)
{
    pl_worker__pub_t pub = { 0 };
    if (call->npub == PL_CALL_PUBLISH_MAX) {
        pl_error ("%s: too many events; dropped the %s", s_call_name (call), what);
        goto cleanup;
    }
    pub.room = strdup (audience);
    pub.kind = PL_CMD_CONTROL;
    pub.origin = strdup ("");
    pub.packet = packet ? cJSON_PrintUnformatted (packet) : NULL;
    if (!pub.room || !pub.origin || !pub.packet) {
        pl_error ("out of memory: dropped the %s", what);
        free (pub.room);
        free (pub.origin);
        free (pub.packet);
        goto cleanup;
    }
    call->pub[call->npub++] = pub;
cleanup:
    cJSON_Delete (packet);
}

void
pl_call_evict (pl_call_t *call, const char *audience, const char *room)
{
    assert (call && audience && *audience && room && *room);
    char what[512];
    snprintf (what, sizeof what, "eviction of %s from %s", audience, room);
    cJSON *packet = cJSON_CreateObject ();
    cJSON *leave = packet ? cJSON_AddArrayToObject (packet, "leave") : NULL;
    if (!leave || !cJSON_AddItemToArray (leave, cJSON_CreateString (room))) {
        cJSON_Delete (packet);
        packet = NULL;
    }
    s_call_control (call, audience, packet, what);
}

void
pl_call_grant (pl_call_t *call, const char *audience, const char *within, const char *room)
{
    assert (call && audience && *audience && within && *within && room && *room);
    char what[512];
    snprintf (what, sizeof what, "grant of %s to %s in %s", room, audience, within);
    cJSON *packet = cJSON_CreateObject ();
    cJSON *join = packet ? cJSON_AddArrayToObject (packet, "join") : NULL;
    if (!join || !cJSON_AddItemToArray (join, cJSON_CreateString (room))
    ||  !cJSON_AddStringToObject (packet, "within", within)) {
        cJSON_Delete (packet);
        packet = NULL;
    }
    s_call_control (call, audience, packet, what);
}
