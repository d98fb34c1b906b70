/*  pl_session_ops - the gameState:update and token:move builders. See
 *  pl_session_ops.h.
 */
#include "pl_session_ops.h"
#include "pl_state.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *
s_get (const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive (obj, key);
}

/* ---- gameState:update ------------------------------------------------- */

void
pl_session_ops_update_reset (pl_session_ops_update_t *u)
{
    for (int i = 0; i < u->nwb; i++)
        pl_entity_writeback_destroy (&u->wb[i]);
    u->nwb = 0;
    u->invalid = false;
    u->index = -1;
}

/* The first of the client's operations that touches <key>.<at> (or the
 * whole list), for a refused copy's VALIDATION_ERROR; -1 if none does. */
static int
s_op_index (const cJSON *ops, const char *key, const cJSON *list, const char *id)
{
    size_t len = strlen (key);
    int i = 0;
    const cJSON *op;
    cJSON_ArrayForEach (op, ops) {
        const cJSON *path = s_get (op, "path");
        const char *p = cJSON_IsString (path) ? path->valuestring : "";
        if (strncmp (p, key, len) == 0 && (p[len] == '\0' || p[len] == '.')) {
            if (p[len] == '\0')
                return i;
            const cJSON *entry = cJSON_GetArrayItem (list, atoi (p + len + 1));
            const cJSON *eid = s_get (entry, "id");
            if (cJSON_IsString (eid) && strcmp (eid->valuestring, id) == 0)
                return i;
        }
        i++;
    }
    return -1;
}

/* What the update changed in an embedded copy: {id, field: new value...}
 * for every field of after that differs from the copy with its id in
 * before (a field it dropped: null), or just {id} when before held no
 * copy of it (a new embed takes the stored entity as it is). So the
 * write-back merges only the GM's own changes into the stored entity: a
 * copy that is behind the store (a sync still on its way) never writes its
 * stale fields back. NULL when out of memory. */
static cJSON *
s_copy_diff (const cJSON *before, const cJSON *after)
{
    const cJSON *id = s_get (after, "id"), *was = NULL, *entry, *field;
    cJSON_ArrayForEach (entry, before) {
        const cJSON *eid = s_get (entry, "id");
        if (cJSON_IsObject (entry) && cJSON_IsString (eid)
        &&  strcmp (eid->valuestring, id->valuestring) == 0) {
            was = entry;
            break;
        }
    }
    cJSON *diff = cJSON_CreateObject ();
    if (!diff || !cJSON_AddStringToObject (diff, "id", id->valuestring))
        goto oom;
    if (!was)
        goto cleanup;
    cJSON_ArrayForEach (field, after) {
        if (strcmp (field->string, "id") == 0
        ||  cJSON_Compare (field, s_get (was, field->string), true))
            continue;
        cJSON *value = cJSON_Duplicate (field, true);
        if (!value)
            goto oom;
        cJSON_AddItemToObject (diff, field->string, value);
    }
    cJSON_ArrayForEach (field, was)
        if (!s_get (after, field->string) && !cJSON_AddNullToObject (diff, field->string))
            goto oom;
    goto cleanup;
oom:
    cJSON_Delete (diff);
    diff = NULL;
cleanup:
    return diff;
}

/* Does list hold a copy of entity id whose field names holder? */
static bool
s_names (const cJSON *list, const char *id, const char *field, const char *holder)
{
    const cJSON *entry;
    cJSON_ArrayForEach (entry, list) {
        const cJSON *eid = s_get (entry, "id"), *named = s_get (entry, field);
        if (cJSON_IsObject (entry) && cJSON_IsString (eid) && strcmp (eid->valuestring, id) == 0
        &&  cJSON_IsString (named) && strcmp (named->valuestring, holder) == 0)
            return true;
    }
    return false;
}

/* Does the update bring the name of entity id's hidden holder into the
 * state: a copy in after that names it, where before none did? (A copy
 * that named it already - a state written before copies were made as
 * members read them - is the appended "set"'s to put right, and the GM's
 * update of another field must not be refused for it.) */
static bool
s_names_anew (const cJSON *before, const cJSON *after, const char *id, const char *field,
              const char *holder)
{
    return s_names (after, id, field, holder) && !s_names (before, id, field, holder);
}

cJSON *
pl_session_ops_update (const cJSON *state, void *arg, char *why, size_t why_size)
{
    static const struct {
        const char *key;
        const pl_entity_kind_t *kind;
    } lists[] = { { "actors", &pl_entity_actor }, { "items", &pl_entity_item } };
    pl_session_ops_update_t *u = arg;
    cJSON *next = NULL, *changes = NULL, *fix = NULL;
    cJSON *ops = cJSON_Duplicate (u->ops, true);
    char ignored[256];
    int index = -1;
    pl_session_ops_update_reset (u);
    if (!ops)
        goto oom;
    if (pl_state_apply (state, u->ops, &next, &index, ignored, sizeof ignored) != 0)
        goto cleanup;                       /* the commit says which one fails */
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        cJSON_Delete (changes);
        changes = pl_session_entity_changes (state, next, lists[k].key);
        if (!changes)
            goto oom;
        const cJSON *list = s_get (next, lists[k].key);
        const cJSON *copy;
        cJSON_ArrayForEach (copy, changes) {
            const char *id = s_get (copy, "id")->valuestring;
            if (u->nwb == PL_SESSION_OPS_WRITE_BACK_MAX) {
                snprintf (why, why_size, "an update may change at most %d embedded actors and "
                          "items; split it", PL_SESSION_OPS_WRITE_BACK_MAX);
                u->invalid = true;
                u->index = s_op_index (u->ops, lists[k].key, list, id);
                goto fail;
            }
            pl_entity_wb_t *wb = NULL;
            cJSON *diff = s_copy_diff (s_get (state, lists[k].key), copy);
            if (!diff)
                goto oom;
            int rc = pl_entity_writeback_prepare (lists[k].kind, u->call, u->campaign_id,
                                                  diff, &wb, why, why_size);
            cJSON_Delete (diff);
            if (rc < 0)
                goto fail;                  /* answered INTERNAL */
            if (rc == 2) {
                u->invalid = true;
                u->index = s_op_index (u->ops, lists[k].key, list, id);
                goto fail;
            }
            if (rc == 0)
                continue;                   /* a stranger's copy: the state's own */
            u->wb[u->nwb++] = wb;
            const char *holder = pl_entity_writeback_holder (wb);
            if (holder && s_names_anew (s_get (state, lists[k].key), list, id,
                                        lists[k].kind->holder_field, holder)) {
                snprintf (why, why_size, "%s %s is held by a hidden %s: a game state is seen by "
                          "every member, so its copy cannot name it (leave %s null there)",
                          lists[k].kind->name, id, lists[k].kind->holder,
                          lists[k].kind->holder_field);
                u->invalid = true;
                u->index = s_op_index (u->ops, lists[k].key, list, id);
                goto fail;
            }
            /* every copy of it becomes what the store will hold, as every
             * member may read it */
            fix = pl_session_entity_ops (next, lists[k].key, id, pl_entity_writeback_entity (wb));
            if (!fix)
                goto oom;
            if (cJSON_GetArraySize (ops) + cJSON_GetArraySize (fix) > PL_STATE_MAX_OPS) {
                snprintf (why, why_size, "the operations and the embedded copies they "
                          "change need more than %d operations; split the update",
                          PL_STATE_MAX_OPS);
                u->invalid = true;
                u->index = -1;
                goto fail;
            }
            while (cJSON_GetArraySize (fix) > 0)
                cJSON_AddItemToArray (ops, cJSON_DetachItemFromArray (fix, 0));
            cJSON_Delete (fix);
            fix = NULL;
        }
    }
    goto cleanup;
oom:
    snprintf (why, why_size, "out of memory");
fail:
    cJSON_Delete (ops);
    ops = NULL;
cleanup:
    cJSON_Delete (next);
    cJSON_Delete (changes);
    cJSON_Delete (fix);
    return ops;
}

bool
pl_session_ops_update_queue (pl_txn_t *txn, void *arg)
{
    pl_session_ops_update_t *u = arg;
    for (int i = 0; i < u->nwb; i++)
        if (!pl_entity_writeback_add (txn, u->wb[i]))
            return false;
    return true;
}

/* ---- token:move ------------------------------------------------------- */

int
pl_session_ops_token_index (const cJSON *state, const char *token, const cJSON **found)
{
    const cJSON *encounter = s_get (state, "currentEncounter");
    const cJSON *tokens = cJSON_IsObject (encounter) ? s_get (encounter, "tokens") : NULL;
    const cJSON *list = cJSON_IsArray (tokens) ? tokens : NULL;
    int i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, list) {
        const cJSON *id = s_get (entry, "id");
        if (cJSON_IsObject (entry) && cJSON_IsString (id) && strcmp (id->valuestring, token) == 0) {
            *found = entry;
            return i;
        }
        i++;
    }
    return -1;
}

static cJSON *
s_move_op (int index, const char *axis, double value)
{
    char path[64];
    snprintf (path, sizeof path, "currentEncounter.tokens.%d.%s", index, axis);
    cJSON *op = cJSON_CreateObject ();
    cJSON_AddStringToObject (op, "path", path);
    cJSON_AddStringToObject (op, "operation", "set");
    cJSON_AddNumberToObject (op, "value", value);
    return op;
}

cJSON *
pl_session_ops_move (const cJSON *state, void *arg, char *why, size_t why_size)
{
    pl_session_ops_move_t *move = arg;
    const cJSON *token = NULL;
    int index = pl_session_ops_token_index (state, move->token, &token);
    if (index < 0) {
        snprintf (why, why_size, "no token %s in the current encounter", move->token);
        return NULL;
    }
    const cJSON *actor = s_get (token, "actorId");
    if (move->actor && (!cJSON_IsString (actor) || strcmp (actor->valuestring, move->actor) != 0)) {
        snprintf (why, why_size, "token %s changed hands", move->token);
        return NULL;
    }
    cJSON *ops = cJSON_CreateArray ();
    cJSON_AddItemToArray (ops, s_move_op (index, "x", move->x));
    cJSON_AddItemToArray (ops, s_move_op (index, "y", move->y));
    return ops;
}

void
pl_session_ops_test (bool verbose)
{
    if (verbose)
        printf (" * pl_session_ops: ");
    char why[256];
    cJSON *state = cJSON_Parse ("{\"actors\":[],\"items\":[],\"currentEncounter\":{\"tokens\":["
                                "{\"id\":\"t1\",\"actorId\":\"a1\",\"x\":0,\"y\":0},"
                                "{\"id\":\"t2\",\"x\":5,\"y\":5}]}}");
    assert (state);

    /* token:move: the token's index, found by id */
    const cJSON *found = NULL;
    assert (pl_session_ops_token_index (state, "t2", &found) == 1);
    assert (strcmp (s_get (found, "id")->valuestring, "t2") == 0);
    assert (pl_session_ops_token_index (state, "t9", &found) < 0);
    pl_session_ops_move_t move = { "t2", NULL, 3, 4 };
    cJSON *ops = pl_session_ops_move (state, &move, why, sizeof why);
    cJSON *want = cJSON_Parse ("[{\"path\":\"currentEncounter.tokens.1.x\",\"operation\":\"set\","
                               "\"value\":3},{\"path\":\"currentEncounter.tokens.1.y\","
                               "\"operation\":\"set\",\"value\":4}]");
    assert (cJSON_Compare (ops, want, true));
    cJSON_Delete (want);
    cJSON_Delete (ops);
    /* a player's move holds only while the token is still their actor's */
    move = (pl_session_ops_move_t) { "t1", "a1", 1, 1 };
    ops = pl_session_ops_move (state, &move, why, sizeof why);
    assert (cJSON_GetArraySize (ops) == 2);
    cJSON_Delete (ops);
    move.actor = "a2";
    assert (!pl_session_ops_move (state, &move, why, sizeof why) && strstr (why, "changed hands"));
    move.token = "t9";
    assert (!pl_session_ops_move (state, &move, why, sizeof why) && strstr (why, "no token"));

    /* gameState:update: operations that change no embedded copy are the
     * client's own, and so are operations that do not apply (the commit
     * reports the failing index) */
    cJSON *client = cJSON_Parse ("[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1}]");
    pl_session_ops_update_t u = { .ops = client };
    ops = pl_session_ops_update (state, &u, why, sizeof why);
    assert (cJSON_Compare (ops, client, true) && u.nwb == 0 && !u.invalid);
    cJSON_Delete (ops);
    cJSON_Delete (client);
    client = cJSON_Parse ("[{\"path\":\"currentEncounter.tokens.0.id\",\"operation\":\"inc\","
                          "\"value\":1}]");
    u = (pl_session_ops_update_t) { .ops = client };
    ops = pl_session_ops_update (state, &u, why, sizeof why);
    assert (cJSON_Compare (ops, client, true) && u.nwb == 0);
    cJSON_Delete (ops);
    cJSON_Delete (client);
    pl_session_ops_update_reset (&u);
    cJSON_Delete (state);
    if (verbose)
        printf ("OK\n");
}
