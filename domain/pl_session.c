/*  pl_session - game sessions in Redis (see pl_session.h for the keys,
 *  the commit protocol and the contract with callers). The sync, which
 *  reads the log, is in pl_session_sync.c.
 */
#include "pl_session_int.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_state.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Optimistic transaction attempts per commit. An attempt fails only when
 * another commit to the same session won in between; with an expected
 * version the second attempt ends in CONFLICT, so only version-less
 * (system, token:move) commits ever loop, and then as often as commits
 * race them. 32 attempts (~7 round trips each) is far above any real
 * contention; past it the update is refused BUSY, not queued. */
#define S_ATTEMPTS      32
/* Longest Redis key we build: "pl:session:" + id + ":upd:" + update id. */
#define S_KEY_MAX       (32 + PL_WIRE_ID_MAX + PL_SESSION_UPDATE_ID_MAX)

/* ---- Redis, without answering the call ------------------------------- */

/* Run a command on the call's Redis. Returns the reply, or NULL after
 * logging when Redis is unreachable or answered an error. A nil EXEC is a
 * normal REDIS_REPLY_NIL; an EXEC holding errors is returned as it is
 * (the caller decides which errors matter). */
redisReply *
pl_session__cmd (pl_call_t *call, const char *fmt, ...)
{
    pl_redis_t *redis = pl_call_redis (call);
    redisReply *reply = NULL;
    if (!redis) {
        pl_error ("session: this worker has no Redis");
        goto cleanup;
    }
    va_list ap;
    va_start (ap, fmt);
    reply = pl_redis_vcommand (redis, fmt, ap);
    va_end (ap);
    if (!reply)
        pl_warn ("session: storage unavailable");
    else
    if (reply->type == REDIS_REPLY_ERROR) {
        pl_error ("session: redis error: %s", reply->str);
        freeReplyObject (reply);
        reply = NULL;
    }
cleanup:
    return reply;
}

/* A command whose reply we do not need (MULTI, a queued write). */
bool
pl_session__run (pl_call_t *call, const char *fmt, ...)
{
    pl_redis_t *redis = pl_call_redis (call);
    if (!redis)
        return false;
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = pl_redis_vcommand (redis, fmt, ap);
    va_end (ap);
    bool ok = reply && reply->type != REDIS_REPLY_ERROR;
    if (reply && !ok)
        pl_error ("session: redis error: %s", reply->str);
    if (!reply)
        pl_warn ("session: storage unavailable");
    if (reply)
        freeReplyObject (reply);
    return ok;
}

void
pl_session__reset (pl_call_t *call)
{
    if (pl_call_redis (call))
        pl_redis_reset (pl_call_redis (call));
}

/* ---- pure helpers ---------------------------------------------------- */

bool
pl_session_version_parse (const char *text, uint64_t *value)
{
    uint64_t v = 0;
    size_t len = text ? strlen (text) : 0;
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        unsigned digit = (unsigned) (text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *value = v;
    return true;
}

bool
pl_session_version_arg (const cJSON *item, char out[PL_SESSION_VERSION_SIZE])
{
    uint64_t v;
    if (cJSON_IsString (item)) {
        if (!pl_session_version_parse (item->valuestring, &v))
            return false;
    }
    else
    if (cJSON_IsNumber (item)) {
        /* a JavaScript client may send the version as a number; only exact
         * integers are safe to take (2^53 and above lose digits) */
        double d = item->valuedouble;
        if (!isfinite (d) || d < 0 || d >= 9007199254740992.0 || d != (double) (uint64_t) d)
            return false;
        v = (uint64_t) d;
    }
    else
        return false;
    snprintf (out, PL_SESSION_VERSION_SIZE, "%" PRIu64, v);
    return true;
}

bool
pl_session_update_id_valid (const cJSON *item)
{
    if (!cJSON_IsString (item))
        return false;
    size_t len = strlen (item->valuestring);
    if (len == 0 || len > PL_SESSION_UPDATE_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) item->valuestring[i] < 0x20 || item->valuestring[i] == 0x7f)
            return false;
    return true;
}

static int
s_strcmp_p (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The valid ids at <key>.<i>.id of state, sorted, without duplicates:
 * pointers into state (borrowed). Returns the count, or -1 when out of
 * memory; *ids is NULL when the count is 0. */
static int
s_ids (const cJSON *state, const char *key, const char ***ids)
{
    *ids = NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (state, key);
    int size = cJSON_IsArray (list) ? cJSON_GetArraySize (list) : 0;
    if (size == 0)
        return 0;
    const char **out = calloc ((size_t) size, sizeof *out);
    if (!out)
        return -1;
    int n = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, list) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive (entry, "id");
        if (cJSON_IsString (id) && pl_wire_id_valid (id->valuestring))
            out[n++] = id->valuestring;
    }
    qsort (out, (size_t) n, sizeof *out, s_strcmp_p);
    int unique = 0;
    for (int i = 0; i < n; i++)
        if (unique == 0 || strcmp (out[unique - 1], out[i]) != 0)
            out[unique++] = out[i];
    if (unique == 0) {
        free (out);
        out = NULL;
    }
    *ids = out;
    return unique;
}

cJSON *
pl_session_entity_ids (const cJSON *state, const char *key)
{
    const char **ids = NULL;
    int n = s_ids (state, key, &ids);
    cJSON *out = n >= 0 ? cJSON_CreateArray () : NULL;
    for (int i = 0; out && i < n; i++)
        cJSON_AddItemToArray (out, cJSON_CreateString (ids[i]));
    free (ids);
    return out;
}

/* An entry of a state list and its id. */
typedef struct {
    const char *id;
    const cJSON *entry;
} s_entry_t;

static int
s_entry_cmp (const void *a, const void *b)
{
    return strcmp (((const s_entry_t *) a)->id, ((const s_entry_t *) b)->id);
}

/* The entries of <key> of state that have a valid id, sorted by id.
 * Returns the count (*out NULL when 0), or -1 when out of memory. */
static int
s_entries (const cJSON *state, const char *key, s_entry_t **out)
{
    *out = NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (state, key);
    int size = cJSON_IsArray (list) ? cJSON_GetArraySize (list) : 0;
    if (size == 0)
        return 0;
    s_entry_t *entries = calloc ((size_t) size, sizeof *entries);
    if (!entries)
        return -1;
    int n = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, list) {
        const cJSON *id = cJSON_IsObject (entry)
                        ? cJSON_GetObjectItemCaseSensitive (entry, "id") : NULL;
        if (cJSON_IsString (id) && pl_wire_id_valid (id->valuestring))
            entries[n++] = (s_entry_t) { id->valuestring, entry };
    }
    qsort (entries, (size_t) n, sizeof *entries, s_entry_cmp);
    *out = entries;
    return n;
}

cJSON *
pl_session_entity_changes (const cJSON *before, const cJSON *after, const char *key)
{
    s_entry_t *old = NULL, *now = NULL;
    int nold = s_entries (before, key, &old);
    int nnow = s_entries (after, key, &now);
    cJSON *changes = nold >= 0 && nnow >= 0 ? cJSON_CreateArray () : NULL;
    const char *reported = NULL;
    int j = 0;
    for (int i = 0; changes && i < nnow; i++) {
        if (reported && strcmp (reported, now[i].id) == 0)
            continue;                       /* one copy per id */
        /* both sorted: old[j..] is where now[i].id starts, if anywhere */
        while (j < nold && strcmp (old[j].id, now[i].id) < 0)
            j++;
        bool same = false;
        for (int k = j; !same && k < nold && strcmp (old[k].id, now[i].id) == 0; k++)
            same = cJSON_Compare (old[k].entry, now[i].entry, true);
        if (!same) {
            cJSON_AddItemToArray (changes, cJSON_Duplicate (now[i].entry, true));
            reported = now[i].id;
        }
    }
    free (old);
    free (now);
    return changes;
}

/* ---- sessions -------------------------------------------------------- */

/* A session hash (HGETALL reply) as JSON; NULL when empty. */
static cJSON *
s_session_json (const redisReply *hash)
{
    if (!hash || hash->type != REDIS_REPLY_ARRAY || hash->elements == 0)
        return NULL;
    cJSON *session = cJSON_CreateObject ();
    for (size_t i = 0; session && i + 1 < hash->elements; i += 2) {
        const char *field = hash->element[i]->str, *value = hash->element[i + 1]->str;
        if (!field || !value)
            continue;
        if (strcmp (field, "createdAt") == 0)
            cJSON_AddNumberToObject (session, field, strtod (value, NULL));
        else
            cJSON_AddStringToObject (session, field, value);
    }
    return session;
}

/* WATCH campaign_id's members and read user's role in it (PL_ROLE_NONE:
 * not a member, or no such campaign), inside a commit: a role change
 * before the caller's EXEC makes it fail. false when Redis failed
 * (logged). */
static bool
s_watch_role (pl_call_t *call, const char *campaign_id, const char *user, pl_role_t *role)
{
    bool ok = false;
    redisReply *reply = NULL;
    *role = PL_ROLE_NONE;
    if (!pl_session__run (call, "WATCH " PL_KEY_CAMPAIGN_MEMBERS, campaign_id)
    ||  !(reply = pl_session__cmd (call, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s", campaign_id, user)))
        goto cleanup;
    if (reply->type == REDIS_REPLY_STRING)
        *role = pl_authz_role_parse (reply->str);
    ok = true;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return ok;
}

int
pl_session_create (pl_call_t *call, const char *campaign_id, const char *name,
                   const char *created_by, cJSON **session)
{
    int rc = -1;
    *session = NULL;
    char sid[PL_ID_UUID_SIZE], created[24];
    char *state_text = NULL;
    cJSON *state = NULL;
    redisReply *reply = NULL;
    int64_t now = pl_id_wall_ms ();
    if (pl_id_uuid4 (sid) != 0)
        goto cleanup;
    snprintf (created, sizeof created, "%" PRId64, now);
    state = pl_state_new (now);
    state_text = state ? cJSON_PrintUnformatted (state) : NULL;
    if (!state_text)
        goto cleanup;
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        /* WATCH the set so the per-campaign bound holds across workers,
         * and the creator's role so a campaign deleted (or a GM demoted)
         * before our EXEC gets no session */
        pl_role_t role;
        if (!pl_session__run (call, "WATCH " PL_KEY_CAMPAIGN_SESSIONS, campaign_id)
        ||  !s_watch_role (call, campaign_id, created_by, &role))
            goto cleanup;
        if (role != PL_ROLE_GM) {
            rc = 2;
            goto cleanup;
        }
        reply = pl_session__cmd (call, "SCARD " PL_KEY_CAMPAIGN_SESSIONS, campaign_id);
        if (!reply)
            goto cleanup;
        if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= PL_SESSION_PER_CAMPAIGN) {
            rc = 1;
            goto cleanup;
        }
        freeReplyObject (reply);
        reply = NULL;
        if (!pl_session__run (call, "MULTI")
        ||  !pl_session__run (call, "HSET " PL_KEY_SESSION " id %s campaignId %s name %s "
                              "createdBy %s createdAt %s",
                    sid, sid, campaign_id, name, created_by, created)
        ||  !pl_session__run (call, "SADD " PL_KEY_CAMPAIGN_SESSIONS " %s", campaign_id, sid)
        ||  !pl_session__run (call, "SET " PL_KEY_SESSION_STATE " %s", sid, state_text))
            goto cleanup;
        reply = pl_session__cmd (call, "EXEC");
        if (!reply)
            goto cleanup;
        if (reply->type == REDIS_REPLY_ARRAY) {
            *session = cJSON_CreateObject ();
            cJSON_AddStringToObject (*session, "id", sid);
            cJSON_AddStringToObject (*session, "campaignId", campaign_id);
            cJSON_AddStringToObject (*session, "name", name);
            cJSON_AddStringToObject (*session, "createdBy", created_by);
            cJSON_AddNumberToObject (*session, "createdAt", (double) now);
            rc = *session ? 0 : -1;
            goto cleanup;
        }
        freeReplyObject (reply);            /* nil: a create raced us */
        reply = NULL;
    }
    pl_warn ("session: create in campaign %s lost %d races", campaign_id, S_ATTEMPTS);
cleanup:
    if (reply)
        freeReplyObject (reply);
    pl_session__reset (call);
    cJSON_Delete (state);
    free (state_text);
    return rc;
}

int
pl_session_get (pl_call_t *call, const char *sid, cJSON **session)
{
    *session = NULL;
    redisReply *reply = pl_session__cmd (call, "HGETALL " PL_KEY_SESSION, sid);
    if (!reply)
        return -1;
    *session = s_session_json (reply);
    freeReplyObject (reply);
    return *session ? 1 : 0;
}

static double
s_num (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    return cJSON_IsNumber (item) ? item->valuedouble : 0;
}

static int
s_by_created (const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *) a, *y = *(const cJSON *const *) b;
    double dx = s_num (x, "createdAt"), dy = s_num (y, "createdAt");
    if (dx != dy)
        return dx < dy ? -1 : 1;
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive (x, "id");
    const cJSON *iy = cJSON_GetObjectItemCaseSensitive (y, "id");
    return strcmp (cJSON_IsString (ix) ? ix->valuestring : "",
                   cJSON_IsString (iy) ? iy->valuestring : "");
}

int
pl_session_list (pl_call_t *call, const char *campaign_id, cJSON **list)
{
    int rc = -1;
    *list = NULL;
    cJSON **rows = NULL;
    size_t nrows = 0;
    redisReply *exec = NULL;
    redisReply *ids = pl_session__cmd (call, "SMEMBERS " PL_KEY_CAMPAIGN_SESSIONS, campaign_id);
    if (!ids || ids->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    /* one transaction: every hash as of one moment */
    if (ids->elements > 0) {
        if (!pl_session__run (call, "MULTI"))
            goto cleanup;
        for (size_t i = 0; i < ids->elements; i++)
            if (!pl_session__run (call, "HGETALL " PL_KEY_SESSION, ids->element[i]->str))
                goto cleanup;
        exec = pl_session__cmd (call, "EXEC");
        if (!exec || exec->type != REDIS_REPLY_ARRAY)
            goto cleanup;
        rows = calloc (exec->elements, sizeof *rows);
        if (!rows)
            goto cleanup;
        for (size_t i = 0; i < exec->elements; i++) {
            cJSON *session = s_session_json (exec->element[i]);
            if (session)                    /* a stale id: not listed */
                rows[nrows++] = session;
        }
        qsort (rows, nrows, sizeof *rows, s_by_created);
    }
    *list = cJSON_CreateArray ();
    if (!*list)
        goto cleanup;
    for (size_t i = 0; i < nrows; i++) {
        cJSON_AddItemToArray (*list, rows[i]);
        rows[i] = NULL;
    }
    rc = 0;
cleanup:
    for (size_t i = 0; rows && i < nrows; i++)
        cJSON_Delete (rows[i]);
    free (rows);
    if (ids)
        freeReplyObject (ids);
    if (exec)
        freeReplyObject (exec);
    pl_session__reset (call);
    return rc;
}

cJSON *
pl_session__parse_state (const char *sid, const char *text, size_t len)
{
    cJSON *state = cJSON_ParseWithLength (text, len);
    const cJSON *version = cJSON_GetObjectItemCaseSensitive (state, "stateVersion");
    uint64_t v;
    if (!cJSON_IsObject (state) || !cJSON_IsString (version)
    ||  !pl_session_version_parse (version->valuestring, &v)) {
        pl_error (PL_KEY_SESSION_STATE " holds no valid state", sid);
        cJSON_Delete (state);
        state = NULL;
    }
    return state;
}

int
pl_session_state (pl_call_t *call, const char *sid, cJSON **state)
{
    *state = NULL;
    redisReply *reply = pl_session__cmd (call, "GET " PL_KEY_SESSION_STATE, sid);
    if (!reply)
        return -1;
    int rc = 0;
    if (reply->type == REDIS_REPLY_STRING) {
        *state = pl_session__parse_state (sid, reply->str, reply->len);
        rc = *state ? 1 : -1;
    }
    freeReplyObject (reply);
    return rc;
}

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

/* Queue SADD or SREM of sid in pl:<kind>:<id>:sessions for every id of
 * add that is not in other (both sorted). Returns false on failure. */
static bool
s_queue_index (pl_call_t *call, const char *command, const char *kind, const char *sid,
               const char **add, int nadd, const char **other, int nother)
{
    int j = 0;
    for (int i = 0; i < nadd; i++) {
        while (j < nother && strcmp (other[j], add[i]) < 0)
            j++;
        if (j < nother && strcmp (other[j], add[i]) == 0)
            continue;
        if (!pl_session__run (call, "%s " PL_KEY_ENTITY_SESSIONS " %s", command, kind, add[i], sid))
            return false;
    }
    return true;
}

/* Queue the index changes between old and next (inside MULTI). */
static bool
s_queue_indexes (pl_call_t *call, const char *sid, const cJSON *old, const cJSON *next)
{
    static const struct { const char *key, *kind; } lists[] = {
        { "actors", "actor" }, { "items", "item" } };
    bool ok = true;
    for (size_t k = 0; ok && k < 2; k++) {
        const char **before = NULL, **after = NULL;
        int nb = s_ids (old, lists[k].key, &before);
        int na = s_ids (next, lists[k].key, &after);
        ok = nb >= 0 && na >= 0
          && s_queue_index (call, "SADD", lists[k].kind, sid, after, na, before, nb)
          && s_queue_index (call, "SREM", lists[k].kind, sid, before, nb, after, na);
        free (before);
        free (after);
    }
    return ok;
}

/* One attempt. Returns 1 to try again (a concurrent commit won), 0 when
 * result holds the outcome. */
static int
s_attempt (pl_call_t *call, const char *sid, const pl_session_update_t *update,
           const char *update_id, pl_session_result_t *result)
{
    int rc = 0;
    cJSON *state = NULL, *built = NULL, *next = NULL, *log_entry = NULL, *body = NULL;
    char *state_text = NULL, *log_text = NULL, *body_text = NULL;
    redisReply *reply = NULL;
    const cJSON *ops = update->operations;
    result->status = PL_SESSION_FAILED;

    if (!pl_session__run (call, "WATCH " PL_KEY_SESSION_STATE, sid))
        goto cleanup;
    if (update->campaign_id) {
        /* the caller's role as of this commit: a GM demoted (or a member
         * removed) since the handler's check commits nothing */
        pl_role_t role;
        if (!s_watch_role (call, update->campaign_id, pl_call_caller (call)->user, &role))
            goto cleanup;
        if (role < update->min_role) {
            result->status = PL_SESSION_FORBIDDEN;
            snprintf (result->why, sizeof result->why, "%s",
                      role == PL_ROLE_NONE ? "not a member of the session's campaign"
                                           : "no longer a GM of the session's campaign");
            goto cleanup;
        }
    }
    /* a recorded id first: a retry whose first try committed gets its ack
     * even though the version has moved on since */
    if (update->update_id) {
        reply = pl_session__cmd (call, "GET " PL_KEY_SESSION_UPDATE, sid, update_id);
        if (!reply)
            goto cleanup;
        if (reply->type == REDIS_REPLY_STRING) {
            body = cJSON_ParseWithLength (reply->str, reply->len);
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
        freeReplyObject (reply);
        reply = NULL;
    }
    reply = pl_session__cmd (call, "GET " PL_KEY_SESSION_STATE, sid);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_STRING) {
        result->status = PL_SESSION_MISSING;
        goto cleanup;
    }
    state = pl_session__parse_state (sid, reply->str, reply->len);
    freeReplyObject (reply);
    reply = NULL;
    if (!state) {
        snprintf (result->why, sizeof result->why, "stored state is corrupt");
        goto cleanup;
    }
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
    if (!pl_session__run (call, "MULTI")
    ||  !pl_session__run (call, "SET " PL_KEY_SESSION_STATE " %s", sid, state_text)
    ||  !pl_session__run (call, "XADD " PL_KEY_SESSION_LOG " MAXLEN = %ld %s-0 u %s",
                sid, log_max, pl_session__version (next), log_text)
    ||  (update->update_id
         && !pl_session__run (call, "SET " PL_KEY_SESSION_UPDATE " %s EX %d",
                    sid, update_id, body_text, PL_SESSION_UPDATE_TTL))
    ||  !s_queue_indexes (call, sid, state, next)
    ||  (update->queue && !update->queue (call, update->build_arg)))
        goto cleanup;
    reply = pl_session__cmd (call, "EXEC");
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY) {
        rc = 1;                             /* nil: a commit won; read again */
        goto cleanup;
    }
    if (reply->elements < 2 || reply->element[0]->type == REDIS_REPLY_ERROR) {
        pl_error ("session %s: the state write failed", sid);
        goto cleanup;
    }
    if (reply->element[1]->type == REDIS_REPLY_ERROR) {
        /* The log's last id is not below the new version: only a log that
         * outlived its state can do that. The state is written (EXEC does
         * not roll back), so start the log over: sync from older versions
         * finds the gap and gets a full state, which is correct. */
        pl_error ("session %s: log append failed (%s); the log starts over at %s",
                  sid, reply->element[1]->str, pl_session__version (next));
        freeReplyObject (reply);
        reply = NULL;
        if (pl_session__run (call, "DEL " PL_KEY_SESSION_LOG, sid))
            pl_session__run (call, "XADD " PL_KEY_SESSION_LOG " MAXLEN = %ld %s-0 u %s",
                   sid, log_max, pl_session__version (next), log_text);
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
    if (reply)
        freeReplyObject (reply);
    pl_session__reset (call);               /* drop any WATCH / MULTI left */
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
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        cJSON_Delete (result->body);
        result->body = NULL;
        if (s_attempt (call, sid, update, update_id, result) == 0)
            return;
    }
    result->status = PL_SESSION_BUSY;
    snprintf (result->why, sizeof result->why,
              "session %s: %d concurrent updates won in a row; try again", sid, S_ATTEMPTS);
    pl_warn ("%s", result->why);
}
