/*  actors - a user's actors: list, get, create, update, delete.
 *
 *  Storage (Redis):
 *    pl:actor:<id>          the actor, JSON text
 *    pl:user:<uid>:actors   sorted set of the user's actor ids, score createdAt
 *
 *  Writes are optimistic transactions: WATCH what the decision read, then
 *  MULTI ... EXEC, and start over when EXEC is nil because another worker
 *  changed it in between. The ack goes only after EXEC confirmed the write.
 *
 *  Only an actor's creator may see it; to anyone else it does not exist
 *  (NOT_FOUND, never FORBIDDEN, so ids leak nothing).
 *
 *  Every handler runs on the worker loop (pl_worker.h); a NULL from
 *  pl_call_command / false from pl_call_run means the runtime has already
 *  answered INTERNAL, so the handler just cleans up.
 */
#include "actors.h"
#include "pl_id.h"
#include "pl_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ID_MAX            64          /* longest actor id we look up        */
#define S_ACTOR_MAX         65536       /* largest stored actor, JSON bytes    */
/* Optimistic transaction attempts. Each failed attempt means another write
 * to the same key committed meanwhile, so failures are bounded by the
 * writers racing us (a client's Promise.all of creates spread over the
 * workers); 32 is far above that, and an attempt costs ~5 Redis round
 * trips. Past it: INTERNAL "try again". */
#define S_ATTEMPTS          32

/* Fields the server owns: a client's values for them are ignored. */
static const char *s_server_fields[] = { "id", "createdBy", "createdAt", "updatedAt", "version" };

static bool
s_is_server_field (const char *key)
{
    for (size_t i = 0; i < sizeof s_server_fields / sizeof s_server_fields[0]; i++)
        if (strcmp (key, s_server_fields[i]) == 0)
            return true;
    return false;
}

/* Set obj[key], replacing an existing value. Takes ownership of value. */
static void
s_set (cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive (obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive (obj, key, value);
    else
        cJSON_AddItemToObject (obj, key, value);
}

/* Shallow-merge the client's fields into actor, server fields skipped. A
 * key sent twice keeps its last value, as JSON.parse would. */
static void
s_merge (cJSON *actor, const cJSON *fields)
{
    const cJSON *item;
    cJSON_ArrayForEach (item, fields)
        if (!s_is_server_field (item->string))
            s_set (actor, item->string, cJSON_Duplicate (item, true));
}

/* The rules every stored actor keeps. Returns NULL, or what is wrong. */
static const char *
s_invalid (const cJSON *actor)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (actor, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive (actor, "type");
    if (!cJSON_IsString (name) || !*name->valuestring)
        return "name must be a non-empty string";
    if (!cJSON_IsString (type))
        return "type must be a string";
    return NULL;
}

static double
s_number (const cJSON *actor, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (actor, key);
    return cJSON_IsNumber (item) ? item->valuedouble : 0;
}

/* The id argument of get/delete (or the id field of update). Returns it,
 * or NULL after answering VALIDATION_ERROR. */
static const char *
s_id (pl_call_t *call, const cJSON *item)
{
    const char *event = pl_proto_event (pl_call_event (call))->name;
    if (!cJSON_IsString (item) || !*item->valuestring) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects an actor id (a non-empty string)", event);
        return NULL;
    }
    if (strlen (item->valuestring) > S_ID_MAX) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: an actor id is at most %d characters",
                       event, S_ID_MAX);
        return NULL;
    }
    return item->valuestring;
}

/* Read an actor the caller created. Returns it, or NULL after answering
 * NOT_FOUND (missing, or someone else's) or INTERNAL. */
static cJSON *
s_load (pl_call_t *call, const char *id)
{
    cJSON *actor = NULL;
    redisReply *reply = pl_call_command (call, "GET pl:actor:%s", id);
    if (!reply)
        goto cleanup;
    if (reply->type == REDIS_REPLY_STRING)
        actor = cJSON_ParseWithLength (reply->str, reply->len);
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive (actor, "createdBy");
    if (reply->type == REDIS_REPLY_STRING && !cJSON_IsString (owner)) {
        pl_error ("pl:actor:%s holds no valid actor", id);
        pl_call_error (call, PL_ERR_INTERNAL, "stored actor is corrupt");
        cJSON_Delete (actor);
        actor = NULL;
    }
    else
    if (!actor || strcmp (owner->valuestring, pl_call_caller (call)->user) != 0) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no actor %s", id);
        cJSON_Delete (actor);
        actor = NULL;
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    return actor;
}

/* Answer with the actor and tell the creator's other connections. */
static void
s_done (pl_call_t *call, cJSON *actor, pl_push_id_t push)
{
    char *room = NULL;
    if (asprintf (&room, "user:%s", pl_call_caller (call)->user) > 0) {
        pl_call_publish (call, room, push, cJSON_Duplicate (actor, true), true);
        free (room);
    }
    pl_call_ok (call, actor);
}

/* Queue SET of the actor in an open MULTI. Returns 0, or -1 answered. */
static int
s_queue_set (pl_call_t *call, const cJSON *actor, const char *id)
{
    int rc = -1;
    char *text = cJSON_PrintUnformatted (actor);
    if (!text)
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
    else
    if (strlen (text) > S_ACTOR_MAX)
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "an actor is at most %d bytes of JSON",
                       S_ACTOR_MAX);
    else
    if (pl_call_run (call, "SET pl:actor:%s %s", id, text))
        rc = 0;
    free (text);
    return rc;
}

/* EXEC. Returns 1 when it ran, 0 when a WATCHed key changed (try again),
 * -1 when answered. */
static int
s_exec (pl_call_t *call)
{
    redisReply *reply = pl_call_command (call, "EXEC");
    int rc = !reply ? -1 : reply->type == REDIS_REPLY_ARRAY ? 1 : 0;
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* -------------------------------------------------------------------- */

static void
s_list (pl_call_t *call, const cJSON *arg)
{
    (void) arg;                             /* takes none; ignores any */
    const char *uid = pl_call_caller (call)->user;
    cJSON *list = cJSON_CreateArray ();
    char **keys = NULL;
    redisReply *values = NULL;
    redisReply *ids = pl_call_command (call, "ZRANGE pl:user:%s:actors 0 -1", uid);
    if (!ids || !list || ids->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    size_t n = ids->elements;               /* at most PARLEY_ACTORS_PER_USER */
    if (n > 0) {
        /* one MGET for all of them: argv = MGET pl:actor:<id>... */
        keys = calloc (n + 1, sizeof *keys);
        if (!keys)
            goto cleanup;
        keys[0] = "MGET";
        for (size_t i = 0; i < n; i++)
            if (asprintf (&keys[i + 1], "pl:actor:%s", ids->element[i]->str) < 0) {
                keys[i + 1] = NULL;
                goto cleanup;
            }
        values = pl_call_command_argv (call, (int) n + 1, (const char **) keys, NULL);
        if (!values)
            goto cleanup;
    }
    for (size_t i = 0; values && i < values->elements; i++) {
        /* nil: deleted between ZRANGE and MGET - no longer listed */
        if (values->element[i]->type != REDIS_REPLY_STRING)
            continue;
        cJSON *actor = cJSON_ParseWithLength (values->element[i]->str, values->element[i]->len);
        if (actor)
            cJSON_AddItemToArray (list, actor);
        else
            pl_error ("pl:actor:%s holds no valid actor", ids->element[i]->str);
    }
    pl_call_ok (call, list);
    list = NULL;
cleanup:
    if (!pl_call_answered (call))
        pl_call_error (call, PL_ERR_INTERNAL, "cannot list actors");
    for (size_t i = 1; keys && i <= ids->elements; i++)
        free (keys[i]);
    free (keys);
    if (ids)
        freeReplyObject (ids);
    if (values)
        freeReplyObject (values);
    cJSON_Delete (list);
}

static void
s_get (pl_call_t *call, const cJSON *arg)
{
    const char *id = s_id (call, arg);
    cJSON *actor = id ? s_load (call, id) : NULL;
    if (actor)
        pl_call_ok (call, actor);
}

/* Create in one Redis round trip. The script runs atomically, so the
 * per-user limit and the creation order are decided and written together
 * without WATCH. createdAt is strictly after the user's newest actor, so
 * "oldest first" is creation order even within one millisecond: when our
 * clock is not past it, the script writes nothing and answers LATER with
 * the next free millisecond, and we encode again.
 *   KEYS: user's set, actor key   ARGV: limit, createdAt, id, actor JSON */
PL_REDIS_SCRIPT (s_create_lua,
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "if n >= tonumber(ARGV[1]) then return {'LIMIT', n} end\n"
    "local last = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "if last[2] and tonumber(last[2]) >= tonumber(ARGV[2]) then\n"
    "  return {'LATER', tonumber(last[2]) + 1}\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[4])\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])\n"
    "return {'OK'}\n");

static void
s_create (pl_call_t *call, const cJSON *arg)
{
    const char *uid = pl_call_caller (call)->user;
    char id[PL_ID_UUID_SIZE];
    const char *why = NULL;
    char *text = NULL, *set_key = NULL, *actor_key = NULL;
    redisReply *reply = NULL;
    cJSON *actor = cJSON_CreateObject ();
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "actor:create expects an object with a name and a type");
        goto cleanup;
    }
    if (!actor || pl_id_uuid4 (id)) {
        pl_call_error (call, PL_ERR_INTERNAL, "cannot make an actor id");
        goto cleanup;
    }
    cJSON_AddStringToObject (actor, "id", id);
    cJSON_AddStringToObject (actor, "createdBy", uid);
    s_merge (actor, arg);
    if ((why = s_invalid (actor))) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "actor:create: %s", why);
        goto cleanup;
    }
    if (asprintf (&set_key, "pl:user:%s:actors", uid) < 0)
        set_key = NULL;
    if (asprintf (&actor_key, "pl:actor:%s", id) < 0)
        actor_key = NULL;
    if (!set_key || !actor_key) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    char limit[24], at[24];
    snprintf (limit, sizeof limit, "%ld", pl_config_int (pl_call_config (call),
                                                         PL_CFG_ACTORS_PER_USER));
    double now = (double) pl_id_wall_ms ();
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        s_set (actor, "createdAt", cJSON_CreateNumber (now));
        s_set (actor, "updatedAt", cJSON_CreateNumber (now));
        s_set (actor, "version", cJSON_CreateNumber (1));
        free (text);
        text = cJSON_PrintUnformatted (actor);
        if (!text) {
            pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
            goto cleanup;
        }
        if (strlen (text) > S_ACTOR_MAX) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                           "an actor is at most %d bytes of JSON", S_ACTOR_MAX);
            goto cleanup;
        }
        snprintf (at, sizeof at, "%lld", (long long) now);
        const char *argv[] = { set_key, actor_key, limit, at, id, text };
        reply = pl_call_script (call, &s_create_lua, 2, 6, argv, NULL);
        if (!reply)
            goto cleanup;
        const char *verdict = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
                            ? reply->element[0]->str : NULL;
        if (verdict && strcmp (verdict, "OK") == 0) {
            s_done (call, actor, PL_PUSH_ACTOR_CREATED);
            actor = NULL;
            goto cleanup;
        }
        if (verdict && strcmp (verdict, "LIMIT") == 0 && reply->elements == 2) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                           "actor:create: you have %lld actors, the most allowed",
                           reply->element[1]->integer);
            goto cleanup;
        }
        if (!verdict || strcmp (verdict, "LATER") != 0 || reply->elements != 2) {
            pl_call_error (call, PL_ERR_INTERNAL, "unexpected answer from storage");
            goto cleanup;
        }
        /* createdAt must be after the user's newest actor: take the next ms */
        now = (double) reply->element[1]->integer;
        freeReplyObject (reply);
        reply = NULL;
    }
    pl_call_error (call, PL_ERR_INTERNAL, "too many concurrent changes; try again");
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (text);
    free (set_key);
    free (actor_key);
    cJSON_Delete (actor);
}

static void
s_update (pl_call_t *call, const cJSON *arg)
{
    const char *why = NULL;
    cJSON *actor = NULL;
    const char *id = NULL;
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "actor:update expects {id, ...fields}");
        goto cleanup;
    }
    if (!(id = s_id (call, cJSON_GetObjectItemCaseSensitive (arg, "id"))))
        goto cleanup;
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        if (!pl_call_run (call, "WATCH pl:actor:%s", id) || !(actor = s_load (call, id)))
            goto cleanup;
        double version = s_number (actor, "version");
        double updated = s_number (actor, "updatedAt");
        double now = (double) pl_id_wall_ms ();
        s_merge (actor, arg);
        if ((why = s_invalid (actor))) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "actor:update: %s", why);
            goto cleanup;
        }
        s_set (actor, "version", cJSON_CreateNumber (version + 1));
        s_set (actor, "updatedAt", cJSON_CreateNumber (now > updated ? now : updated));
        if (!pl_call_run (call, "MULTI") || s_queue_set (call, actor, id))
            goto cleanup;
        int ran = s_exec (call);
        if (ran < 0)
            goto cleanup;
        if (ran) {
            s_done (call, actor, PL_PUSH_ACTOR_UPDATED);
            actor = NULL;
            goto cleanup;
        }
        cJSON_Delete (actor);
        actor = NULL;
    }
    pl_call_error (call, PL_ERR_INTERNAL, "too many concurrent changes; try again");
cleanup:
    cJSON_Delete (actor);
}

static void
s_delete (pl_call_t *call, const cJSON *arg)
{
    const char *uid = pl_call_caller (call)->user;
    const char *id = s_id (call, arg);
    char *room = NULL;
    for (int attempt = 0; id && attempt < S_ATTEMPTS; attempt++) {
        cJSON *actor = NULL;
        if (!pl_call_run (call, "WATCH pl:actor:%s", id) || !(actor = s_load (call, id)))
            goto cleanup;
        cJSON_Delete (actor);
        if (!pl_call_run (call, "MULTI") || !pl_call_run (call, "DEL pl:actor:%s", id)
        ||  !pl_call_run (call, "ZREM pl:user:%s:actors %s", uid, id))
            goto cleanup;
        int ran = s_exec (call);
        if (ran < 0)
            goto cleanup;
        if (ran) {
            if (asprintf (&room, "user:%s", uid) > 0)
                pl_call_publish (call, room, PL_PUSH_ACTOR_DELETED, cJSON_CreateString (id), true);
            pl_call_ok (call, NULL);
            goto cleanup;
        }
    }
    if (id)
        pl_call_error (call, PL_ERR_INTERNAL, "too many concurrent changes; try again");
cleanup:
    free (room);
}

const pl_handler_t pl_actors_handlers[] = {
    { PL_EV_ACTOR_LIST,   s_list },
    { PL_EV_ACTOR_GET,    s_get },
    { PL_EV_ACTOR_CREATE, s_create },
    { PL_EV_ACTOR_UPDATE, s_update },
    { PL_EV_ACTOR_DELETE, s_delete },
};
const size_t pl_actors_handler_count = sizeof pl_actors_handlers / sizeof pl_actors_handlers[0];
