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
#include "pl_txn.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- Redis, without answering the call ------------------------------- */

/* Run a command on the call's Redis. Returns the reply, or NULL after
 * logging when Redis is unreachable or answered an error. */
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

bool
pl_session__batch (pl_call_t *call, pl_redis_batch_t *b)
{
    pl_redis_t *redis = pl_call_redis (call);
    bool ok = redis && pl_redis_batch_run (redis, b) == 0;
    if (!ok)
        pl_warn ("session: storage unavailable");
    for (int i = 0; ok && i < b->count; i++)
        if (b->reply[i]->type == REDIS_REPLY_ERROR) {
            pl_error ("session: redis error: %s", b->reply[i]->str);
            ok = false;
        }
    return ok;
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

int
pl_session__ids (const cJSON *state, const char *key, const char ***ids)
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
    int n = pl_session__ids (state, key, &ids);
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

pl_role_t
pl_session__role (const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STRING ? pl_authz_role_parse (reply->str) : PL_ROLE_NONE;
}

void
pl_session__expect_role (pl_txn_t *txn, const char *campaign_id, const char *user, const redisReply *reply)
{
    pl_txn_expect_field (txn, user, reply->type == REDIS_REPLY_STRING ? reply->str : NULL,
                         PL_KEY_CAMPAIGN_MEMBERS, campaign_id);
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
    pl_txn_t *txn = NULL;
    pl_redis_batch_t b = { 0 };
    int64_t now = pl_id_wall_ms ();
    if (pl_id_uuid4 (sid) != 0)
        goto cleanup;
    snprintf (created, sizeof created, "%" PRId64, now);
    state = pl_state_new (now);
    state_text = state ? cJSON_PrintUnformatted (state) : NULL;
    if (!state_text || !(txn = pl_txn_new ()))
        goto cleanup;
    /* read the creator's role and the campaign's session count; commit
     * only if both are still so, so the per-campaign bound holds across
     * workers and a campaign deleted (or a GM demoted) since gets no
     * session */
    pl_redis_batch_add (&b, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s", campaign_id, created_by);
    pl_redis_batch_add (&b, "SCARD " PL_KEY_CAMPAIGN_SESSIONS, campaign_id);
    if (!pl_session__batch (call, &b))
        goto cleanup;
    if (pl_session__role (b.reply[0]) != PL_ROLE_GM) {
        rc = 2;
        goto cleanup;
    }
    long long count = b.reply[1]->type == REDIS_REPLY_INTEGER ? b.reply[1]->integer : 0;
    if (count >= PL_SESSION_PER_CAMPAIGN) {
        rc = 1;
        goto cleanup;
    }
    pl_session__expect_role (txn, campaign_id, created_by, b.reply[0]);
    pl_txn_expect_count (txn, PL_TXN_SET, count, PL_KEY_CAMPAIGN_SESSIONS, campaign_id);
    pl_txn_write (txn, "HSET " PL_KEY_SESSION " id %s campaignId %s name %s "
                  "createdBy %s createdAt %s",
                  sid, sid, campaign_id, name, created_by, created);
    pl_txn_write (txn, "SADD " PL_KEY_CAMPAIGN_SESSIONS " %s", campaign_id, sid);
    pl_txn_write (txn, "SET " PL_KEY_SESSION_STATE " %s", sid, state_text);
    int committed = pl_txn_commit (txn, call);
    if (committed <= 0) {
        rc = committed == 0 ? 3 : -1;       /* 0: the runtime runs it again */
        goto cleanup;
    }
    *session = cJSON_CreateObject ();
    cJSON_AddStringToObject (*session, "id", sid);
    cJSON_AddStringToObject (*session, "campaignId", campaign_id);
    cJSON_AddStringToObject (*session, "name", name);
    cJSON_AddStringToObject (*session, "createdBy", created_by);
    cJSON_AddNumberToObject (*session, "createdAt", (double) now);
    rc = *session ? 0 : -1;
cleanup:
    pl_redis_batch_clear (&b);
    pl_txn_destroy (&txn);
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
    pl_redis_batch_t b = { 0 };
    redisReply *ids = pl_session__cmd (call, "SMEMBERS " PL_KEY_CAMPAIGN_SESSIONS, campaign_id);
    if (!ids || ids->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    rows = ids->elements ? calloc (ids->elements, sizeof *rows) : NULL;
    if (ids->elements && !rows)
        goto cleanup;
    /* the hashes, PL_REDIS_BATCH_MAX a round trip; a session's hash never
     * changes once written, so rounds apart read the same thing as one
     * moment would (a session deleted meanwhile is just not listed) */
    for (size_t i = 0; i < ids->elements; i += PL_REDIS_BATCH_MAX) {
        pl_redis_batch_clear (&b);
        for (size_t j = i; j < ids->elements && j < i + PL_REDIS_BATCH_MAX; j++)
            pl_redis_batch_add (&b, "HGETALL " PL_KEY_SESSION, ids->element[j]->str);
        if (!pl_session__batch (call, &b))
            goto cleanup;
        for (int j = 0; j < b.count; j++) {
            cJSON *session = s_session_json (b.reply[j]);
            if (session)                    /* a stale id: not listed */
                rows[nrows++] = session;
        }
    }
    if (nrows > 1)
        qsort (rows, nrows, sizeof *rows, s_by_created);
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
    pl_redis_batch_clear (&b);
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

