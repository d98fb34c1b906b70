/*  pl_session_commit - the versioned commit of a session's state: one
 *  read round, the operations applied in C (pl_state), one compare-and-set
 *  commit (pl_txn). Part of pl_session (see pl_session.h for the protocol
 *  and the contract with callers).
 */
#include "pl_session_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_state.h"
#include "pl_wire.h"
#include "pl_keys.h"
#include "pl_txn.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attempts of a follow-up commit (a "system" sync, made after the call's
 * own write): one is lost only when another commit to the same session
 * (or a change of what its builder read) won in between, and then it
 * reads again here, since a rerun of the handler would redo the call's
 * committed write. Past this the sync is given up, logged (BUSY): the
 * copy is repaired by the next read (pl_session_entity_repair) or write
 * of the entity. A handler's own commit never loops here: the runtime
 * reruns the handler (pl_call_conflict, PL_CALL_RETRY_MAX). */
#define S_FOLLOW_UP_ATTEMPTS    16

/* ---- the commit ------------------------------------------------------ */

void
pl_session_result_clear (pl_session_result_t *result)
{
    if (!result)
        return;
    cJSON_Delete (result->body);
    cJSON_Delete (result->update);
    memset (result, 0, sizeof *result);
}

const char *
pl_session__version (const cJSON *state)
{
    return cJSON_GetObjectItemCaseSensitive (state, "stateVersion")->valuestring;
}

/* Add to txn SADD or SREM of sid in pl:<kind>:<id>:sessions for every
 * id of add that is not in other (both sorted). */
static void
s_write_index (pl_txn_t *txn, const char *command, const char *kind, const char *sid,
               const char **add, int nadd, const char **other, int nother)
{
    int j = 0;
    for (int i = 0; i < nadd; i++) {
        while (j < nother && strcmp (other[j], add[i]) < 0)
            j++;
        if (j < nother && strcmp (other[j], add[i]) == 0)
            continue;
        pl_txn_write (txn, "%s " PL_KEY_ENTITY_SESSIONS " %s", command, kind, add[i], sid);
    }
}

/* Add to txn the index changes between old and next. false when out of
 * memory. */
static bool
s_write_indexes (pl_txn_t *txn, const char *sid, const cJSON *old, const cJSON *next)
{
    static const struct { const char *key, *kind; } lists[] = {
        { "actors", "actor" }, { "items", "item" } };
    bool ok = true;
    for (size_t k = 0; ok && k < 2; k++) {
        const char **before = NULL, **after = NULL;
        int nb = pl_session__ids (old, lists[k].key, &before);
        int na = pl_session__ids (next, lists[k].key, &after);
        ok = nb >= 0 && na >= 0;
        if (ok) {
            s_write_index (txn, "SADD", lists[k].kind, sid, after, na, before, nb);
            s_write_index (txn, "SREM", lists[k].kind, sid, before, nb, after, na);
        }
        free (before);
        free (after);
    }
    return ok;
}

/* Does the log's newest entry (an XREVRANGE ... COUNT 1 reply) have an id
 * at or above "<version>-0"? Only a log that outlived its state can: then
 * XADD of that id would fail, so the commit starts the log over (DEL
 * first): a sync from older versions finds the gap and gets a full
 * state, which is correct. */
static bool
s_log_ahead (const redisReply *tail, const char *version)
{
    uint64_t v = 0, last = 0;
    if (tail->type != REDIS_REPLY_ARRAY || tail->elements == 0
    ||  tail->element[0]->type != REDIS_REPLY_ARRAY || tail->element[0]->elements < 1
    ||  tail->element[0]->element[0]->type != REDIS_REPLY_STRING
    ||  !pl_session_version_parse (version, &v))
        return false;
    char id[64];
    snprintf (id, sizeof id, "%s", tail->element[0]->element[0]->str);
    char *dash = strchr (id, '-');
    if (dash)
        *dash = 0;
    return !pl_session_version_parse (id, &last) || last >= v;
}

/* The commands of an attempt's read round, in this order, and where
 * their replies are. The state comes before the update id's record:
 * a record absent after the state was read means the state holds no
 * commit of that id (a record is written with its state), so a
 * VERSION_CONFLICT decided on them is true. */
enum { S_READ_STATE, S_READ_LOG, S_READ_RECORD, S_READ_ROLE };

/* One attempt: one read round (the state, the log's tail, the update id's
 * record, the caller's role), the decision in C (pl_state), one commit
 * (pl_txn) that expects all of it unchanged. Returns 1 when the commit
 * lost a race and this is a follow-up (read again), else 0 with result
 * holding the outcome (PL_SESSION_RETRY: the runtime reruns the handler). */
static int
s_attempt (pl_call_t *call, const char *sid, const pl_session_update_t *update,
           const char *update_id, pl_session_result_t *result)
{
    int rc = 0;
    cJSON *state = NULL, *built = NULL, *next = NULL, *log_entry = NULL, *body = NULL;
    char *state_text = NULL, *log_text = NULL, *body_text = NULL;
    pl_txn_t *txn = NULL;
    pl_redis_batch_t b = { 0 };
    int at[4] = { -1, -1, -1, -1 };
    const cJSON *ops = update->operations;
    result->status = PL_SESSION_FAILED;

    if (!(txn = pl_txn_new ())) {
        snprintf (result->why, sizeof result->why, "out of memory");
        goto cleanup;
    }
    at[S_READ_STATE] = b.count;
    pl_redis_batch_add (&b, "GET " PL_KEY_SESSION_STATE, sid);
    at[S_READ_LOG] = b.count;
    pl_redis_batch_add (&b, "XREVRANGE " PL_KEY_SESSION_LOG " + - COUNT 1", sid);
    if (update->update_id) {
        at[S_READ_RECORD] = b.count;
        pl_redis_batch_add (&b, "GET " PL_KEY_SESSION_UPDATE, sid, update_id);
    }
    if (update->campaign_id) {
        at[S_READ_ROLE] = b.count;
        pl_redis_batch_add (&b, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s", update->campaign_id,
                            pl_call_caller (call)->user);
    }
    if (!pl_session__batch (call, &b)) {
        snprintf (result->why, sizeof result->why, "storage unavailable");
        goto cleanup;
    }
    const redisReply *stored = b.reply[at[S_READ_STATE]];
    if (update->campaign_id) {
        /* the caller's role as of this commit (expected unchanged at the
         * commit): a GM demoted (or a member removed) since the handler's
         * check commits nothing */
        pl_role_t role = pl_session__role (b.reply[at[S_READ_ROLE]]);
        if (role < update->min_role) {
            result->status = PL_SESSION_FORBIDDEN;
            result->role = role;
            snprintf (result->why, sizeof result->why, "%s",
                      role == PL_ROLE_NONE ? "not a member of the session's campaign"
                                           : "no longer a GM of the session's campaign");
            goto cleanup;
        }
        pl_session__expect_role (txn, update->campaign_id, pl_call_caller (call)->user,
                                 b.reply[at[S_READ_ROLE]]);
    }
    /* a recorded id first: a retry whose first try committed gets its ack
     * even though the version has moved on since */
    if (update->update_id) {
        const redisReply *record = b.reply[at[S_READ_RECORD]];
        if (record->type == REDIS_REPLY_STRING) {
            body = cJSON_ParseWithLength (record->str, record->len);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive (body, "newVersion");
            if (!cJSON_IsString (v)) {
                pl_error (PL_KEY_SESSION_UPDATE " holds no ack", sid, update_id);
                goto cleanup;
            }
            snprintf (result->version, sizeof result->version, "%s", v->valuestring);
            result->status = PL_SESSION_REPLAYED;
            result->body = body;
            body = NULL;
            goto cleanup;
        }
        pl_txn_expect_value (txn, NULL, 0, PL_KEY_SESSION_UPDATE, sid, update_id);
    }
    if (stored->type != REDIS_REPLY_STRING) {
        result->status = PL_SESSION_MISSING;
        goto cleanup;
    }
    state = pl_session__parse_state (sid, stored->str, stored->len);
    if (!state) {
        snprintf (result->why, sizeof result->why, "stored state is corrupt");
        goto cleanup;
    }
    pl_txn_expect_value (txn, stored->str, stored->len, PL_KEY_SESSION_STATE, sid);
    if (update->expected && strcmp (update->expected, pl_session__version (state)) != 0) {
        result->status = PL_SESSION_CONFLICT;
        snprintf (result->version, sizeof result->version, "%s", pl_session__version (state));
        goto cleanup;
    }
    if (!ops) {
        built = update->build (state, update->build_arg, result->why, sizeof result->why);
        if (!built) {
            result->status = PL_SESSION_REFUSED;
            goto cleanup;
        }
        if (cJSON_GetArraySize (built) == 0) {
            result->status = PL_SESSION_NOOP;
            goto cleanup;
        }
        ops = built;
    }
    int index = -1;
    if (pl_state_apply (state, ops, &next, &index, result->why, sizeof result->why) != 0) {
        if (strcmp (result->why, "out of memory") == 0)
            goto cleanup;
        result->status = PL_SESSION_INVALID;
        result->index = index;
        goto cleanup;
    }
    int64_t now = pl_id_wall_ms ();
    if (pl_state_bump (next, now) != 0) {
        snprintf (result->why, sizeof result->why, "the version cannot go higher");
        goto cleanup;
    }
    state_text = cJSON_PrintUnformatted (next);
    if (!state_text)
        goto cleanup;
    if (strlen (state_text) > PL_SESSION_STATE_MAX) {
        result->status = PL_SESSION_INVALID;
        result->index = -1;
        snprintf (result->why, sizeof result->why,
                  "the state would exceed %d bytes of JSON", PL_SESSION_STATE_MAX);
        goto cleanup;
    }
    /* the gameState:updated payload, which is also the log entry */
    log_entry = cJSON_CreateObject ();
    cJSON_AddStringToObject (log_entry, "sessionId", sid);
    cJSON_AddStringToObject (log_entry, "id", update_id);
    cJSON_AddStringToObject (log_entry, "version", pl_session__version (next));
    cJSON_AddStringToObject (log_entry, "previousVersion", pl_session__version (state));
    cJSON_AddItemToObject (log_entry, "operations", cJSON_Duplicate (ops, true));
    if (cJSON_IsNumber (update->timestamp))
        cJSON_AddItemToObject (log_entry, "timestamp", cJSON_Duplicate (update->timestamp, false));
    else
        cJSON_AddNumberToObject (log_entry, "timestamp", (double) now);
    cJSON_AddStringToObject (log_entry, "source", update->source ? update->source : "gm");
    /* the state's new lastUpdated, so a client that applies the updates
     * (stateVersion = version, lastUpdated = this) holds the very state
     * the server does, byte for byte */
    cJSON_AddNumberToObject (log_entry, "lastUpdated", (double) now);
    body = cJSON_CreateObject ();
    cJSON_AddTrueToObject (body, "success");
    cJSON_AddStringToObject (body, "newVersion", pl_session__version (next));
    log_text = cJSON_PrintUnformatted (log_entry);
    body_text = cJSON_PrintUnformatted (body);
    if (!log_text || !body_text)
        goto cleanup;

    long log_max = pl_config_int (pl_call_config (call), PL_CFG_SESSION_LOG_MAX);
    if (log_max < 1)
        log_max = 1;                        /* the newest entry is always kept */
    /* The writes. The log entry goes first: a script does not roll back,
     * so a write that fails at run time must be one before which nothing
     * was written. */
    if (s_log_ahead (b.reply[at[S_READ_LOG]], pl_session__version (next))) {
        pl_error ("session %s: the log is ahead of the state; it starts over at %s",
                  sid, pl_session__version (next));
        pl_txn_write (txn, "DEL " PL_KEY_SESSION_LOG, sid);
    }
    pl_txn_write (txn, "XADD " PL_KEY_SESSION_LOG " MAXLEN = %ld %s-0 u %s",
                  sid, log_max, pl_session__version (next), log_text);
    pl_txn_write (txn, "SET " PL_KEY_SESSION_STATE " %s", sid, state_text);
    if (update->update_id)
        pl_txn_write (txn, "SET " PL_KEY_SESSION_UPDATE " %s EX %d",
                      sid, update_id, body_text, PL_SESSION_UPDATE_TTL);
    if (!s_write_indexes (txn, sid, state, next)
    ||  (update->queue && !update->queue (txn, update->build_arg))) {
        snprintf (result->why, sizeof result->why, "out of memory");
        goto cleanup;
    }
    int committed = update->follow_up ? pl_txn_commit_follow_up (txn, call)
                                      : pl_txn_commit (txn, call);
    if (committed < 0) {
        snprintf (result->why, sizeof result->why, "storage unavailable");
        goto cleanup;
    }
    if (committed == 0) {
        /* a commit won meanwhile (any worker, any process), or what the
         * decision read changed: nothing was written */
        if (update->follow_up)
            rc = 1;                         /* read again, here */
        else
            result->status = PL_SESSION_RETRY;
        goto cleanup;
    }
    result->status = PL_SESSION_APPLIED;
    snprintf (result->version, sizeof result->version, "%s", pl_session__version (next));
    cJSON_DeleteItemFromObjectCaseSensitive (body, "success");
    result->body = body;
    body = NULL;
    result->update = log_entry;
    log_entry = NULL;
    char room[16 + PL_WIRE_ID_MAX];
    snprintf (room, sizeof room, "session:%s", sid);
    pl_call_publish (call, room, PL_PUSH_GAME_STATE_UPDATED,
                     cJSON_Duplicate (result->update, true), false);
cleanup:
    pl_redis_batch_clear (&b);
    pl_txn_destroy (&txn);
    cJSON_Delete (state);
    cJSON_Delete (built);
    cJSON_Delete (next);
    cJSON_Delete (log_entry);
    cJSON_Delete (body);
    free (state_text);
    free (log_text);
    free (body_text);
    return rc;
}

void
pl_session_commit (pl_call_t *call, const char *sid, const pl_session_update_t *update,
                   pl_session_result_t *result)
{
    assert (call && sid && update && result);
    assert (update->operations || update->build);
    memset (result, 0, sizeof *result);
    result->index = -1;
    char server_id[PL_ID_UUID_SIZE];
    const char *update_id = update->update_id;
    if (!update_id) {
        if (pl_id_uuid4 (server_id) != 0) {
            result->status = PL_SESSION_FAILED;
            snprintf (result->why, sizeof result->why, "no random id");
            return;
        }
        update_id = server_id;
    }
    /* a handler's own commit: one attempt (a lost race is the runtime's to
     * rerun); a follow-up: read again here, bounded */
    int attempts = update->follow_up ? S_FOLLOW_UP_ATTEMPTS : 1;
    for (int attempt = 0; attempt < attempts; attempt++) {
        pl_session_result_clear (result);
        result->index = -1;
        if (s_attempt (call, sid, update, update_id, result) == 0)
            return;
    }
    result->status = PL_SESSION_BUSY;
    snprintf (result->why, sizeof result->why,
              "session %s: %d concurrent updates won in a row", sid, S_FOLLOW_UP_ATTEMPTS);
    pl_warn ("%s", result->why);
}
