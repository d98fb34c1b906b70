/*  pl_session_entity - the dual update: actors and items embedded in
 *  session states follow the stored entity (see pl_session.h). */
#include "pl_session_int.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_state.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the dual update ------------------------------------------------- */


static cJSON *
s_op (const char *operation, const char *key, int index, const cJSON *value)
{
    char path[32];
    snprintf (path, sizeof path, "%s.%d", key, index);
    cJSON *op = cJSON_CreateObject ();
    cJSON_AddStringToObject (op, "path", path);
    cJSON_AddStringToObject (op, "operation", operation);
    if (value)
        cJSON_AddItemToObject (op, "value", cJSON_Duplicate (value, true));
    return op;
}

/* Builder: set <key>.<i> to the entity for every i whose id matches and
 * whose copy differs; or (entity NULL) unset every such i, highest index
 * first so the lower ones stay where they are. At most PL_STATE_MAX_OPS
 * copies per update: more copies of one entity than that stay as they
 * are until its next change. */
cJSON *
pl_session__replace_ops (const cJSON *state, void *arg, char *why, size_t why_size)
{
    pl_session__replace_t *replace = arg;
    cJSON *ops = cJSON_CreateArray ();
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (state, replace->key);
    int found[PL_STATE_MAX_OPS], nfound = 0;
    int i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, list) {
        const cJSON *id = cJSON_IsObject (entry)
                        ? cJSON_GetObjectItemCaseSensitive (entry, "id") : NULL;
        if (cJSON_IsString (id) && strcmp (id->valuestring, replace->id) == 0
        &&  !(replace->entity && cJSON_Compare (entry, replace->entity, true))) {
            if (nfound == PL_STATE_MAX_OPS)
                break;
            found[nfound++] = i;
        }
        i++;
    }
    for (int k = 0; ops && k < nfound; k++)
        cJSON_AddItemToArray (ops, replace->entity
            ? s_op ("set", replace->key, found[k], replace->entity)
            : s_op ("unset", replace->key, found[nfound - 1 - k], NULL));
    if (!ops)
        snprintf (why, why_size, "out of memory");
    return ops;
}

/* May session sid hold entity's copy, kept in step with the store? Only
 * where its campaign could embed it: a campaign entity in a session of
 * that campaign, a personal one in a session whose campaign its creator is
 * a GM of. Anywhere else the copy is a stranger's (any GM may type any id
 * into a state) and syncing it would leak the entity. Returns 1, 0, or -1
 * when Redis failed (logged); a session that is gone is 1, so the commit
 * finds it missing and the index drops it. */
static int
s_may_hold (pl_call_t *call, const char *sid, const cJSON *entity)
{
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (entity, "campaignId");
    const cJSON *creator = cJSON_GetObjectItemCaseSensitive (entity, "createdBy");
    int rc = -1;
    redisReply *role = NULL;
    redisReply *campaign = pl_session__cmd (call, "HGET pl:session:%s campaignId", sid);
    if (!campaign)
        goto cleanup;
    rc = 1;
    if (campaign->type != REDIS_REPLY_STRING)
        goto cleanup;
    if (cJSON_IsString (cid)) {
        rc = strcmp (cid->valuestring, campaign->str) == 0;
        goto cleanup;
    }
    rc = 0;
    if (!cJSON_IsString (creator) || !pl_authz_user_id_valid (creator->valuestring))
        goto cleanup;
    role = pl_session__cmd (call, "HGET pl:campaign:%s:members %s", campaign->str, creator->valuestring);
    rc = !role ? -1 : role->type == REDIS_REPLY_STRING
                   && pl_authz_role_parse (role->str) == PL_ROLE_GM;
cleanup:
    if (campaign)
        freeReplyObject (campaign);
    if (role)
        freeReplyObject (role);
    return rc;
}

/* Commit the replacement (remove false) or removal of entity's copies in
 * every session that embeds it and may hold it (s_may_hold), skip_sid
 * aside. */
static int
s_entity_sessions (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity, bool remove,
                   const char *skip_sid)
{
    int updated = -1;
    assert (cJSON_IsObject (entity));
    const cJSON *id_item = cJSON_GetObjectItemCaseSensitive (entity, "id");
    const char *id = cJSON_IsString (id_item) ? id_item->valuestring : NULL;
    const char *key = kind == PL_SESSION_ACTOR ? "actors" : "items";
    const char *kind_name = kind == PL_SESSION_ACTOR ? "actor" : "item";
    redisReply *sids = NULL;
    if (!id || !pl_authz_id_valid (id)) {
        updated = 0;                        /* never indexed */
        goto cleanup;
    }
    sids = pl_session__cmd (call, "SMEMBERS pl:%s:%s:sessions", kind_name, id);
    if (!sids || sids->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    updated = 0;
    pl_session__replace_t replace = { key, remove ? NULL : entity, id };
    pl_session_update_t update = {
        .build = pl_session__replace_ops, .build_arg = &replace, .source = "system" };
    for (size_t i = 0; i < sids->elements; i++) {
        const char *sid = sids->element[i]->str;
        if (!sid || (skip_sid && strcmp (sid, skip_sid) == 0))
            continue;
        int may = s_may_hold (call, sid, entity);
        if (may <= 0) {
            if (may == 0)
                pl_debug ("session %s holds a copy of %s %s it may not hold: left alone",
                          sid, kind_name, id);
            continue;
        }
        pl_session_result_t result;
        pl_session_commit (call, sid, &update, &result);
        if (result.status == PL_SESSION_APPLIED)
            updated++;
        else
        if (result.status == PL_SESSION_NOOP || result.status == PL_SESSION_MISSING) {
            /* NOOP: nothing differs, or the index is stale (no copy left:
             * drop it; a copy re-added later re-indexes it) */
            cJSON *state = NULL;
            if (result.status == PL_SESSION_MISSING || pl_session_state (call, sid, &state) == 1) {
                cJSON *ids = state ? pl_session_entity_ids (state, key) : NULL;
                bool held = false;
                const cJSON *e;
                cJSON_ArrayForEach (e, ids)
                    held = held || strcmp (e->valuestring, id) == 0;
                if (!held)
                    pl_session__run (call, "SREM pl:%s:%s:sessions %s", kind_name, id, sid);
                cJSON_Delete (ids);
            }
            cJSON_Delete (state);
        }
        else
            pl_warn ("session %s: system %s of %s %s not applied (%d: %s)",
                     sid, remove ? "removal" : "update", kind_name, id,
                     (int) result.status, result.why);
        pl_session_result_clear (&result);
    }
cleanup:
    if (sids)
        freeReplyObject (sids);
    return updated;
}

int
pl_session_entity_sync (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity,
                        const char *skip_sid)
{
    return s_entity_sessions (call, kind, entity, false, skip_sid);
}

int
pl_session_entity_remove (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity)
{
    return s_entity_sessions (call, kind, entity, true, NULL);
}
