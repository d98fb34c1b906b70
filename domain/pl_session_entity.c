/*  pl_session_entity - the dual update: actors and items embedded in
 *  session states follow the stored entity (see pl_session.h). */
#include "pl_session_int.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_state.h"
#include "pl_wire.h"
#include "pl_keys.h"
#include "pl_txn.h"

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

bool
pl_session_entity_view (cJSON *entity, const char *holder_field, const cJSON *holder)
{
    assert (entity);
    const cJSON *hid = holder_field ? cJSON_GetObjectItemCaseSensitive (entity, holder_field)
                                    : NULL;
    if (!cJSON_IsString (hid)
    ||  (cJSON_IsObject (holder)
         && !cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (holder, "hidden"))))
        return false;
    cJSON_ReplaceItemInObjectCaseSensitive (entity, holder_field, cJSON_CreateNull ());
    return true;
}

/* The holder of a kind's entities (pl_entity_kinds.c says the same:
 * items are held by actors, in actorId): its key prefix and field, or
 * NULL for a kind nothing holds. */
static const char *
s_holder_kind (const char *kind_name, const char **holder_field)
{
    *holder_field = strcmp (kind_name, "item") == 0 ? "actorId" : NULL;
    return *holder_field ? "actor" : NULL;
}

/* What s_sync_ops reads the stored entity with, and what it and
 * s_may_hold read, for s_sync_queue to expect unchanged by the commit. */
typedef struct {
    pl_call_t *call;
    const char *kind_name;      /* "actor" / "item": pl:<kind_name>:<id>   */
    const char *key;            /* "actors" / "items"                      */
    const char *id;
    redisReply *entity;         /* GET of the stored entity, or NULL       */
    const char *holder_kind;    /* its holder's kind, when it names one    */
    char holder_id[PL_WIRE_ID_MAX + 1];
    redisReply *holder;         /* GET of that holder, or NULL             */
    const char *campaign;       /* a personal entity: the session's
                                   campaign, where ...                      */
    const char *creator;        /* ... its creator's role ...             */
    redisReply *role;           /* ... was read (HGET), or NULL            */
} s_sync_t;

/* Forget what the builder read (before it reads again). */
static void
s_sync_forget (s_sync_t *sync)
{
    if (sync->entity)
        freeReplyObject (sync->entity);
    if (sync->holder)
        freeReplyObject (sync->holder);
    sync->entity = sync->holder = NULL;
    sync->holder_kind = NULL;
}

/* Expect, in txn, that pl:<kind>:<id> is still what reply (a GET) read. */
static void
s_expect_read (pl_txn_t *txn, const redisReply *reply, const char *kind, const char *id)
{
    bool found = reply->type == REDIS_REPLY_STRING;
    pl_txn_expect_value (txn, found ? reply->str : NULL, found ? reply->len : 0,
                         PL_KEY_ENTITY, kind, id);
}

/* The sync's queue: what its decision read must still be so at the
 * commit - the stored entity and its holder (a write to either, or a
 * flip of the holder's hidden, makes the commit read again), and, for a
 * personal entity, its creator's role in the session's campaign (s_may_hold:
 * a creator no longer GM there must not have it synced in). */
static bool
s_sync_queue (pl_txn_t *txn, void *arg)
{
    s_sync_t *sync = arg;
    if (sync->entity)
        s_expect_read (txn, sync->entity, sync->kind_name, sync->id);
    if (sync->holder)
        s_expect_read (txn, sync->holder, sync->holder_kind, sync->holder_id);
    if (sync->role)
        pl_session__expect_role (txn, sync->campaign, sync->creator, sync->role);
    return true;
}

/* Make entity (stored, of kind_name) the copy a state may hold: read its
 * holder (kept in sync for s_sync_queue) and pl_session_entity_view.
 * false when Redis failed. */
static bool
s_view (s_sync_t *sync, cJSON *entity)
{
    const char *field = NULL;
    const char *holder_kind = s_holder_kind (sync->kind_name, &field);
    const cJSON *hid = field ? cJSON_GetObjectItemCaseSensitive (entity, field) : NULL;
    cJSON *holder = NULL;
    if (!cJSON_IsString (hid))
        return true;
    if (pl_wire_id_valid (hid->valuestring)) {
        sync->holder_kind = holder_kind;
        snprintf (sync->holder_id, sizeof sync->holder_id, "%s", hid->valuestring);
        sync->holder = pl_session__cmd (sync->call, "GET " PL_KEY_ENTITY, holder_kind,
                                        hid->valuestring);
        if (!sync->holder)
            return false;
        if (sync->holder->type == REDIS_REPLY_STRING)
            holder = cJSON_ParseWithLength (sync->holder->str, sync->holder->len);
    }
    pl_session_entity_view (entity, field, holder);
    cJSON_Delete (holder);
    return true;
}

/* Builder of a "system" sync: read the stored entity (and its holder:
 * s_view), and make every copy of it equal to what is stored as every
 * member may read it (pl_session__replace_ops). Gone, or hidden: the
 * copies are removed. What it read is expected unchanged by the commit
 * (s_sync_queue), so the last sync to commit writes the newest stored
 * value, whoever asked for it and with what. */
static cJSON *
s_sync_ops (const cJSON *state, void *arg, char *why, size_t why_size)
{
    s_sync_t *sync = arg;
    cJSON *entity = NULL, *ops = NULL;
    s_sync_forget (sync);
    sync->entity = pl_session__cmd (sync->call, "GET " PL_KEY_ENTITY, sync->kind_name, sync->id);
    if (!sync->entity) {
        snprintf (why, why_size, "storage unavailable");
        goto cleanup;
    }
    if (sync->entity->type == REDIS_REPLY_STRING) {
        entity = cJSON_ParseWithLength (sync->entity->str, sync->entity->len);
        if (!cJSON_IsObject (entity)) {
            snprintf (why, why_size, "stored %s %s is corrupt", sync->kind_name, sync->id);
            goto cleanup;
        }
        if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (entity, "hidden"))) {
            cJSON_Delete (entity);
            entity = NULL;
        }
        else
        if (!s_view (sync, entity)) {
            snprintf (why, why_size, "storage unavailable");
            goto cleanup;
        }
    }
    if (!(ops = pl_session_entity_ops (state, sync->key, sync->id, entity)))
        snprintf (why, why_size, "out of memory");
cleanup:
    cJSON_Delete (entity);
    return ops;
}

cJSON *
pl_session_entity_ops (const cJSON *state, const char *key, const char *id, const cJSON *entity)
{
    assert (state && key && id);
    char why[64];
    pl_session__replace_t replace = { key, entity, id };
    return pl_session__replace_ops (state, &replace, why, sizeof why);
}

/* May session sid hold entity's copy, kept in step with the store? Only
 * where its campaign could embed it: a campaign entity in a session of
 * that campaign, a personal one in a session whose campaign its creator is
 * a GM of (the role read is kept in sync, for the commit to expect).
 * Anywhere else the copy is a stranger's (any GM may type any id into a
 * state) and syncing it would leak the entity. Returns 1, 0, or -1 when
 * Redis failed (logged); a session that is gone is 1, so the commit
 * finds it missing and the index drops it. *campaign (caller frees) is
 * the session's campaignId reply. */
static int
s_may_hold (s_sync_t *sync, const char *sid, const cJSON *entity, redisReply **campaign)
{
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (entity, "campaignId");
    const cJSON *creator = cJSON_GetObjectItemCaseSensitive (entity, "createdBy");
    int rc = -1;
    *campaign = pl_session__cmd (sync->call, "HGET " PL_KEY_SESSION " campaignId", sid);
    if (!*campaign)
        goto cleanup;
    rc = 1;
    if ((*campaign)->type != REDIS_REPLY_STRING)
        goto cleanup;
    if (cJSON_IsString (cid)) {
        rc = strcmp (cid->valuestring, (*campaign)->str) == 0;
        goto cleanup;
    }
    rc = 0;
    if (!cJSON_IsString (creator) || !pl_wire_user_id_valid (creator->valuestring))
        goto cleanup;
    sync->campaign = (*campaign)->str;
    sync->creator = creator->valuestring;
    sync->role = pl_session__cmd (sync->call, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s",
                                  sync->campaign, sync->creator);
    rc = !sync->role ? -1 : pl_session__role (sync->role) == PL_ROLE_GM;
cleanup:
    return rc;
}

/* The index says session sid holds a copy of kind_name id, and a sync
 * found none to change: when its state (read again) holds none indeed,
 * drop sid from the index, if the state is still that one at the commit
 * (a commit in between moved the index itself). One attempt, logged. */
static void
s_unindex (pl_call_t *call, const char *kind_name, const char *key, const char *id,
           const char *sid)
{
    cJSON *state = NULL, *ids = NULL;
    pl_txn_t *txn = NULL;
    redisReply *stored = pl_session__cmd (call, "GET " PL_KEY_SESSION_STATE, sid);
    if (!stored)
        goto cleanup;
    if (stored->type == REDIS_REPLY_STRING) {
        state = pl_session__parse_state (sid, stored->str, stored->len);
        ids = state ? pl_session_entity_ids (state, key) : NULL;
        if (!ids)
            goto cleanup;
        const cJSON *e;
        cJSON_ArrayForEach (e, ids)
            if (strcmp (e->valuestring, id) == 0)
                goto cleanup;               /* held: the index is right */
    }
    if (!(txn = pl_txn_new ()))
        goto cleanup;
    bool found = stored->type == REDIS_REPLY_STRING;
    pl_txn_expect_value (txn, found ? stored->str : NULL, found ? stored->len : 0,
                         PL_KEY_SESSION_STATE, sid);
    pl_txn_write (txn, "SREM " PL_KEY_ENTITY_SESSIONS " %s", kind_name, id, sid);
    if (pl_txn_commit_follow_up (txn, call) == 0)
        pl_debug ("session %s changed while unindexing %s %s: left to its commit",
                  sid, kind_name, id);
cleanup:
    if (stored)
        freeReplyObject (stored);
    pl_txn_destroy (&txn);
    cJSON_Delete (ids);
    cJSON_Delete (state);
}

/* Bring entity's copies in session sid in step with the store (s_sync_ops)
 * if sid may hold it (s_may_hold; entity is the caller's snapshot, which
 * says whose it is). remove only words the log (a delete). A follow-up
 * commit: it may run after the call's own write committed, so a lost
 * race is retried by pl_session_commit, never by a rerun of the handler.
 * Returns 1 when a system update was applied, 0 when none was needed or
 * it failed (logged). */
static int
s_sync_one (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity, const char *sid,
            bool remove)
{
    const char *id = cJSON_GetObjectItemCaseSensitive (entity, "id")->valuestring;
    const char *key = kind == PL_SESSION_ACTOR ? "actors" : "items";
    const char *kind_name = kind == PL_SESSION_ACTOR ? "actor" : "item";
    int applied = 0;
    redisReply *campaign = NULL;
    s_sync_t sync = { .call = call, .kind_name = kind_name, .key = key, .id = id };
    pl_session_update_t update = { .build = s_sync_ops, .build_arg = &sync, .source = "system",
                                   .queue = s_sync_queue, .follow_up = true };
    pl_session_result_t result = { 0 };
    int may = s_may_hold (&sync, sid, entity, &campaign);
    if (may <= 0) {
        if (may == 0)
            pl_debug ("session %s holds a copy of %s %s it may not hold: left alone",
                      sid, kind_name, id);
        goto cleanup;
    }
    pl_session_commit (call, sid, &update, &result);
    if (result.status == PL_SESSION_APPLIED)
        applied = 1;
    else
    if (result.status == PL_SESSION_NOOP || result.status == PL_SESSION_MISSING)
        /* NOOP: nothing differs, or the index is stale (no copy left:
         * drop it; a copy re-added later re-indexes it) */
        s_unindex (call, kind_name, key, id, sid);
    else
        pl_warn ("session %s: system %s of %s %s not applied (%d: %s)",
                 sid, remove ? "removal" : "update", kind_name, id,
                 (int) result.status, result.why);
cleanup:
    pl_session_result_clear (&result);
    s_sync_forget (&sync);
    if (sync.role)
        freeReplyObject (sync.role);
    if (campaign)
        freeReplyObject (campaign);
    return applied;
}

/* s_sync_one in every session that embeds entity, skip_sid aside. */
static int
s_entity_sessions (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity, bool remove,
                   const char *skip_sid)
{
    int updated = -1;
    assert (cJSON_IsObject (entity));
    const cJSON *id_item = cJSON_GetObjectItemCaseSensitive (entity, "id");
    const char *id = cJSON_IsString (id_item) ? id_item->valuestring : NULL;
    const char *kind_name = kind == PL_SESSION_ACTOR ? "actor" : "item";
    redisReply *sids = NULL;
    if (!id || !pl_wire_id_valid (id)) {
        updated = 0;                        /* never indexed */
        goto cleanup;
    }
    sids = pl_session__cmd (call, "SMEMBERS " PL_KEY_ENTITY_SESSIONS, kind_name, id);
    if (!sids || sids->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    updated = 0;
    for (size_t i = 0; i < sids->elements; i++) {
        const char *sid = sids->element[i]->str;
        if (sid && !(skip_sid && strcmp (sid, skip_sid) == 0))
            updated += s_sync_one (call, kind, entity, sid, remove);
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

/* Does any copy of id in list differ from stored (NULL: should not be
 * there at all)? */
static bool
s_copies_differ (const cJSON *list, const char *id, const cJSON *stored)
{
    const cJSON *entry;
    cJSON_ArrayForEach (entry, list) {
        const cJSON *eid = cJSON_IsObject (entry) ? cJSON_GetObjectItemCaseSensitive (entry, "id")
                                                 : NULL;
        if (cJSON_IsString (eid) && strcmp (eid->valuestring, id) == 0
        &&  (!stored || !cJSON_Compare (entry, stored, true)))
            return true;
    }
    return false;
}

/* MGET pl:<kind>:<id> for every id (strings) in ids: the reply (caller
 * frees), or NULL when out of memory or Redis failed (logged). */
static redisReply *
s_mget (pl_redis_t *redis, const char *kind, const cJSON *ids)
{
    int n = cJSON_GetArraySize (ids);
    redisReply *reply = NULL;
    const char **argv = calloc ((size_t) n + 1, sizeof *argv);
    size_t *argvlen = calloc ((size_t) n + 1, sizeof *argvlen);
    char **keys = calloc ((size_t) n + 1, sizeof *keys);
    if (!argv || !argvlen || !keys)
        goto cleanup;
    argv[0] = "MGET";
    argvlen[0] = 4;
    for (int i = 0; i < n; i++) {
        if (asprintf (&keys[i], PL_KEY_ENTITY, kind, cJSON_GetArrayItem (ids, i)->valuestring) < 0) {
            keys[i] = NULL;
            goto cleanup;
        }
        argv[i + 1] = keys[i];
        argvlen[i + 1] = strlen (keys[i]);
    }
    reply = pl_redis_command_argv (redis, n + 1, argv, argvlen);
    if (reply && (reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t) n)) {
        freeReplyObject (reply);
        reply = NULL;
    }
cleanup:
    if (!reply)
        pl_warn ("cannot read %d %ss", n, kind);
    for (int i = 0; keys && i < n && keys[i]; i++)
        free (keys[i]);
    free (keys);
    free (argv);
    free (argvlen);
    return reply;
}

/* The holders of the stored entities of reply (kind_name's, as MGET read
 * them), for pl_session_entity_view: *holders (caller frees; NULL when no
 * entity names one) and, for each entity, the index of its holder there
 * or -1 in idx (n of them). Returns false when out of memory or Redis
 * failed (logged). */
static bool
s_holders (pl_redis_t *redis, const char *kind_name, const redisReply *reply, int *idx,
           redisReply **holders)
{
    const char *field = NULL;
    const char *holder_kind = s_holder_kind (kind_name, &field);
    cJSON *hids = cJSON_CreateArray ();
    bool ok = false;
    *holders = NULL;
    if (!hids)
        goto cleanup;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *r = reply->element[i];
        cJSON *stored = holder_kind && r->type == REDIS_REPLY_STRING
                      ? cJSON_ParseWithLength (r->str, r->len) : NULL;
        const cJSON *hid = cJSON_GetObjectItemCaseSensitive (stored, field);
        idx[i] = -1;
        if (cJSON_IsString (hid) && pl_wire_id_valid (hid->valuestring)) {
            idx[i] = cJSON_GetArraySize (hids);
            cJSON_AddItemToArray (hids, cJSON_CreateString (hid->valuestring));
        }
        cJSON_Delete (stored);
    }
    ok = cJSON_GetArraySize (hids) == 0 || (*holders = s_mget (redis, holder_kind, hids));
cleanup:
    cJSON_Delete (hids);
    return ok;
}

int
pl_session_entity_repair (pl_call_t *call, const char *sid, const cJSON *state)
{
    static const struct {
        const char *key, *kind;
        pl_session_kind_t session_kind;
    } lists[] = { { "actors", "actor", PL_SESSION_ACTOR }, { "items", "item", PL_SESSION_ITEM } };
    int repaired = 0;
    int *idx = NULL;
    cJSON *ids = NULL;
    redisReply *reply = NULL, *holders = NULL;
    pl_redis_t *redis = pl_call_redis (call);
    for (size_t k = 0; redis && k < sizeof lists / sizeof lists[0]; k++) {
        cJSON_Delete (ids);
        ids = pl_session_entity_ids (state, lists[k].key);
        if (cJSON_GetArraySize (ids) == 0)
            continue;
        if (reply)
            freeReplyObject (reply);
        if (holders)
            freeReplyObject (holders);
        holders = NULL;
        free (idx);
        idx = NULL;
        if (!(reply = s_mget (redis, lists[k].kind, ids))
        ||  !(idx = calloc (reply->elements, sizeof *idx))
        ||  !s_holders (redis, lists[k].kind, reply, idx, &holders)) {
            repaired = -1;
            goto cleanup;
        }
        const char *field = NULL;
        s_holder_kind (lists[k].kind, &field);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive (state, lists[k].key);
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *r = reply->element[i];
            const char *id = cJSON_GetArrayItem (ids, (int) i)->valuestring;
            if (r->type != REDIS_REPLY_STRING)
                continue;                   /* never stored, or deleted: the state's own */
            cJSON *stored = cJSON_ParseWithLength (r->str, r->len);
            /* what a member may read of it: that is what the copy must be */
            const redisReply *hr = idx[i] >= 0 ? holders->element[idx[i]] : NULL;
            cJSON *holder = hr && hr->type == REDIS_REPLY_STRING
                          ? cJSON_ParseWithLength (hr->str, hr->len) : NULL;
            if (cJSON_IsObject (stored))
                pl_session_entity_view (stored, field, holder);
            cJSON_Delete (holder);
            /* a stranger's copy differs too, and stays (s_sync_one) */
            if (cJSON_IsObject (stored)
            &&  s_copies_differ (list, id,
                                 cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (stored, "hidden"))
                                 ? NULL : stored)
            &&  s_sync_one (call, lists[k].session_kind, stored, sid, false) > 0) {
                pl_info ("session %s: the copy of %s %s was behind the store: repaired",
                         sid, lists[k].kind, id);
                repaired++;
            }
            cJSON_Delete (stored);
        }
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    if (holders)
        freeReplyObject (holders);
    free (idx);
    cJSON_Delete (ids);
    return repaired;
}
