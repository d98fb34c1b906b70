/*  pl_session_sync - gameState:sync: the updates since a version, from the
 *  session's log, or the full state when the log cannot serve them. Part of
 *  pl_session (see pl_session.h, pl_session_sync).
 */
#include "pl_session_int.h"
#include "pl_keys.h"
#include "pl_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Log entries per XRANGE page of a sync. */
#define S_SYNC_PAGE 100
/* A sync answers with the updates only while they are smaller than the
 * state they lead to (or than this, for a small state): past that the
 * full state is the cheaper answer, and an answer's size stays bounded by
 * the state's (PL_SESSION_STATE_MAX) whatever the log holds. */
#define S_SYNC_MIN_BUDGET (256 << 10)

/* Append to updates the log entries of page, from version *want on, up
 * to current; *bytes counts their JSON. Returns false when the page does
 * not hold the next version where it should (a trimmed log), or an entry
 * is unreadable. */
static bool
s_sync_page (const redisReply *page, uint64_t *want, uint64_t current, cJSON *updates,
             size_t *bytes)
{
    for (size_t i = 0; i < page->elements && *want <= current; i++, (*want)++) {
        const redisReply *entry = page->element[i];
        char id[PL_SESSION_VERSION_SIZE + 4];
        snprintf (id, sizeof id, "%" PRIu64 "-0", *want);
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        ||  entry->element[0]->type != REDIS_REPLY_STRING
        ||  strcmp (entry->element[0]->str, id) != 0
        ||  entry->element[1]->type != REDIS_REPLY_ARRAY || entry->element[1]->elements != 2
        ||  entry->element[1]->element[1]->type != REDIS_REPLY_STRING)
            return false;
        const redisReply *u = entry->element[1]->element[1];
        cJSON *update = cJSON_ParseWithLength (u->str, u->len);
        if (!update)
            return false;
        cJSON_AddItemToArray (updates, update);
        *bytes += u->len;
    }
    return true;
}

int
pl_session_sync (pl_call_t *call, const char *sid, uint64_t since, cJSON **out)
{
    int rc = -1;
    *out = NULL;
    cJSON *state = NULL, *updates = NULL;
    redisReply *page = NULL;
    pl_redis_batch_t b = { 0 };
    /* the state, then the first page of the log, in one round trip: every
     * entry up to the state's version was written with (before) that
     * state, so the log read after it holds them, or a gap if trimmed
     * meanwhile (then the full state). Entries past the state's version
     * (commits that landed in between) are left out: the updates end
     * exactly at the state's version. Later pages are entries already
     * written (an entry never changes; a trimmed one is noticed as a
     * gap). */
    char from[PL_SESSION_VERSION_SIZE + 4] = "+";
    if (since < UINT64_MAX)
        snprintf (from, sizeof from, "%" PRIu64 "-0", since + 1);
    pl_redis_batch_add (&b, "GET " PL_KEY_SESSION_STATE, sid);
    pl_redis_batch_add (&b, "XRANGE " PL_KEY_SESSION_LOG " %s + COUNT %d", sid, from, S_SYNC_PAGE);
    if (!pl_session__batch (call, &b) || b.reply[1]->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    const redisReply *stored = b.reply[0];
    if (stored->type != REDIS_REPLY_STRING) {
        rc = 0;
        goto cleanup;
    }
    size_t budget = stored->len > S_SYNC_MIN_BUDGET ? stored->len : S_SYNC_MIN_BUDGET;
    state = pl_session__parse_state (sid, stored->str, stored->len);
    if (!state)
        goto cleanup;
    uint64_t current = 0;
    if (!pl_session_version_parse (pl_session__version (state), &current)) {
        pl_error ("session %s: stored state has a bad stateVersion", sid);
        goto cleanup;
    }
    *out = cJSON_CreateObject ();
    if (!*out)
        goto cleanup;
    bool full = since > current;
    if (!full && since < current) {
        /* the log must hold since+1 .. current, each once, in order */
        updates = cJSON_CreateArray ();
        uint64_t want = since + 1;
        size_t bytes = 0;
        const redisReply *log = b.reply[1];
        bool ok = updates && s_sync_page (log, &want, current, updates, &bytes);
        while (ok && want <= current && bytes <= budget && log->elements == S_SYNC_PAGE) {
            if (page)
                freeReplyObject (page);
            page = pl_session__cmd (call, "XRANGE " PL_KEY_SESSION_LOG " %" PRIu64 "-0 + COUNT %d",
                                    sid, want, S_SYNC_PAGE);
            if (!page || page->type != REDIS_REPLY_ARRAY)
                goto cleanup;
            log = page;
            ok = s_sync_page (log, &want, current, updates, &bytes);
        }
        full = !ok || want != current + 1 || bytes > budget;
    }
    if (full) {
        cJSON_AddTrueToObject (*out, "full");
        cJSON_AddItemToObject (*out, "gameState", state);
        state = NULL;
    }
    else {
        cJSON_AddItemToObject (*out, "updates", updates ? updates : cJSON_CreateArray ());
        updates = NULL;
    }
    rc = 1;
cleanup:
    if (rc < 0) {
        cJSON_Delete (*out);
        *out = NULL;
    }
    pl_redis_batch_clear (&b);
    if (page)
        freeReplyObject (page);
    cJSON_Delete (state);
    cJSON_Delete (updates);
    return rc;
}
