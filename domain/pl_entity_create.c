/*  pl_entity_create - create of campaign entities (pl_entity.h). Its own
 *  file because its commit is its own script, not a pl_txn: besides what
 *  the decision read, it keeps the per-user limit and the creation order,
 *  which only the script can decide atomically. The rules and shared
 *  helpers are in pl_entity.c (pl_entity_int.h).
 *
 *  Every function runs on the worker loop inside a handler. A NULL from
 *  pl_call_command / pl_call_script means the runtime already answered
 *  INTERNAL, so the caller only cleans up.
 */
#include "pl_entity_int.h"
#include "pl_id.h"
#include "pl_keys.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- create --------------------------------------------------------- */

/* Create in one Redis round trip. The script runs atomically, so the
 * per-user limit and the creation order are decided and written together
 * without WATCH; it re-checks what the handler's decision read (the
 * caller's role in the campaign, the holder's stored text) and answers
 * STALE when either changed: the runtime runs the handler again
 * (pl_call_conflict). createdAt is strictly after the newest entity of
 * the set it is listed in, so "oldest first" is creation order even within
 * one millisecond: when our clock is not past it, the script writes
 * nothing and answers LATER with the next free millisecond.
 *   KEYS: 1 entity, 2 the set it is listed in (personal or campaign),
 *         3 the creator's personal set, 4 the creator's campaign set,
 *         5 the campaign's members, 6 the holder, 7 the holder's set
 *         (5-7 unused, and any name, when ARGV says so)
 *   ARGV: 1 limit, 2 createdAt, 3 id, 4 entity JSON, 5 creator,
 *         6 creator's role ("" = personal), 7 holder JSON ("" = none) */
PL_REDIS_SCRIPT (s_create_lua,
    "local n = redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4])\n"
    "if n >= tonumber(ARGV[1]) then return {'LIMIT', n} end\n"
    "if ARGV[6] ~= '' and redis.call('HGET', KEYS[5], ARGV[5]) ~= ARGV[6] then\n"
    "  return {'STALE'}\n"
    "end\n"
    "if ARGV[7] ~= '' and redis.call('GET', KEYS[6]) ~= ARGV[7] then return {'STALE'} end\n"
    "local last = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
    "if last[2] and tonumber(last[2]) >= tonumber(ARGV[2]) then\n"
    "  return {'LATER', tonumber(last[2]) + 1}\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[4])\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])\n"
    "if ARGV[6] ~= '' then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3]) end\n"
    "if ARGV[7] ~= '' then redis.call('ZADD', KEYS[7], ARGV[2], ARGV[3]) end\n"
    "return {'OK'}\n");

/* The keys of a create, KEYS of s_create_lua. */
typedef struct {
    char *key[7];
} s_create_keys_t;

static void
s_create_keys_free (s_create_keys_t *k)
{
    for (int i = 0; i < 7; i++)
        free (k->key[i]);
}

static bool
s_create_keys (s_create_keys_t *k, const pl_entity_kind_t *kind, const pl_entity__t *e)
{
    const char *name = kind->name;
    k->key[0] = pl_entity__fmt (PL_KEY_ENTITY, name, e->id);
    k->key[1] = e->campaign ? pl_entity__fmt (PL_KEY_CAMPAIGN_ENTITIES, e->campaign, name)
                            : pl_entity__fmt (PL_KEY_USER_ENTITIES, e->creator, name);
    k->key[2] = pl_entity__fmt (PL_KEY_USER_ENTITIES, e->creator, name);
    k->key[3] = pl_entity__fmt (PL_KEY_USER_CAMPAIGN_ENTITIES, e->creator, name);
    k->key[4] = pl_entity__fmt (PL_KEY_CAMPAIGN_MEMBERS, e->campaign ? e->campaign : "-");
    k->key[5] = e->holder ? pl_entity__fmt (PL_KEY_ENTITY, kind->holder, e->holder)
                          : pl_entity__fmt (PL_KEY_NONE);
    k->key[6] = e->holder ? pl_entity__fmt (PL_KEY_HELD, kind->holder, e->holder, name)
                          : pl_entity__fmt (PL_KEY_NONE);
    for (int i = 0; i < 7; i++)
        if (!k->key[i])
            return false;
    return true;
}

void
pl_entity_create (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg)
{
    assert (kind && call);
    const char *uid = pl_call_caller (call)->user;
    const char *event = pl_call_name (call);
    char id[PL_ID_UUID_SIZE];
    const char *why = NULL;
    char *text = NULL, *holder_raw = NULL;
    redisReply *reply = NULL;
    s_create_keys_t keys = { { NULL } };
    pl_entity__t e = { 0 }, h = { 0 };
    pl_entity_holder_view_t view = { 0 };
    cJSON *json = cJSON_CreateObject ();
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects an object", event);
        goto cleanup;
    }
    if ((why = pl_entity_input_invalid (kind, NULL, arg))) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: %s", event, why);
        goto cleanup;
    }
    if (!json || pl_id_uuid4 (id)) {
        pl_call_error (call, PL_ERR_INTERNAL, "cannot make an %s id", kind->name);
        goto cleanup;
    }
    cJSON_AddStringToObject (json, "id", id);
    cJSON_AddStringToObject (json, "createdBy", uid);
    cJSON_AddNullToObject (json, "campaignId");
    cJSON_AddFalseToObject (json, "hidden");
    if (kind->holder_field)
        cJSON_AddNullToObject (json, kind->holder_field);
    pl_entity_merge (json, arg);
    if (kind->invalid && (why = kind->invalid (json))) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: %s", event, why);
        goto cleanup;
    }
    if (!pl_entity__view (json, kind->holder_field, &e) || !s_create_keys (&keys, kind, &e)) {
        json = NULL;                        /* e owns it now */
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    json = NULL;
    e.is_creator = true;
    char limit[24], at[24];
    snprintf (limit, sizeof limit, "%ld", pl_config_int (pl_call_config (call),
                                                         PL_CFG_ACTORS_PER_USER));
    /* decide: membership, then the holder */
    if (e.campaign) {
        if (pl_authz_role (call, e.campaign, uid, &e.role))
            goto cleanup;
        if (e.role == PL_ROLE_NONE) {
            pl_call_error (call, PL_ERR_FORBIDDEN, "%s: you are not a member of campaign %s",
                           event, e.campaign);
            goto cleanup;
        }
    }
    if (e.holder) {
        int visible = pl_entity__fetch (call, NULL, kind->holder, NULL, e.holder, false, &h,
                                        &holder_raw);
        if (pl_entity__holder_ok (call, false, kind, e.holder, visible, &h, e.campaign))
            goto cleanup;
    }
    /* who may see the holder, for the events (the script re-checks h) */
    if (pl_entity__holder_view (call, NULL, &e, &h, &view))
        goto cleanup;
    /* LATER is no conflict: nothing the decision read changed, only the
     * createdAt it may take, and the script names the next free one. So
     * it is recomputed here, once; a second LATER (another create took
     * that one too) goes round the runtime like a conflict. */
    double now = (double) pl_id_wall_ms ();
    for (int later = 0; later < 2; later++) {
        pl_entity_set (e.json, "createdAt", cJSON_CreateNumber (now));
        pl_entity_set (e.json, "updatedAt", cJSON_CreateNumber (now));
        pl_entity_set (e.json, "version", cJSON_CreateNumber (1));
        free (text);
        if (!(text = pl_entity__text (call, false, kind, e.json)))
            goto cleanup;
        snprintf (at, sizeof at, "%lld", (long long) now);
        const char *argv[] = {
            keys.key[0], keys.key[1], keys.key[2], keys.key[3], keys.key[4], keys.key[5],
            keys.key[6], limit, at, id, text, uid,
            e.campaign ? pl_authz_role_name (e.role) : "", holder_raw ? holder_raw : "" };
        if (reply)
            freeReplyObject (reply);
        if (!(reply = pl_call_script (call, &s_create_lua, 7, 14, argv, NULL)))
            goto cleanup;
        const char *verdict = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
                            ? reply->element[0]->str : NULL;
        if (verdict && strcmp (verdict, "OK") == 0) {
            pl_entity__publish (call, kind, PL_ENTITY_CREATE, &e, true, false, &view, true);
            pl_call_ok (call, e.json);
            e.json = NULL;
            goto cleanup;
        }
        if (verdict && strcmp (verdict, "LIMIT") == 0 && reply->elements == 2) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: you have %lld %ss, the most allowed",
                           event, reply->element[1]->integer, kind->name);
            goto cleanup;
        }
        if (verdict && strcmp (verdict, "STALE") == 0)
            break;                          /* the role or the holder changed */
        if (!verdict || strcmp (verdict, "LATER") != 0 || reply->elements != 2) {
            pl_call_error (call, PL_ERR_INTERNAL, "unexpected answer from storage");
            goto cleanup;
        }
        now = (double) reply->element[1]->integer;  /* the next free ms */
    }
    pl_call_conflict (call);                /* decide again, from the start */
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (text);
    free (holder_raw);
    s_create_keys_free (&keys);
    pl_entity__free (&e);
    pl_entity__free (&h);
    cJSON_Delete (json);
}
