/*  pl_session_txn_test - pl_session's commit against a private
 *  redis-server, with a write landing between an attempt's read and its
 *  commit: the races the compare-and-set commit exists for. The builder
 *  is the hook: it runs between the read round and the commit, so what it
 *  writes through a second call is exactly "another worker committed
 *  meanwhile". The calls are bare pl_call_t on a worker that has only its
 *  Redis and config (pl_worker_int.h), and the runtime's rerun after a
 *  conflict is pl_worker__call_retry, as pl_worker.c runs it.
 */
#include "pl_session_int.h"
#include "pl_worker_int.h"
#include "pl_redis_int.h"
#include "pl_keys.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the racing builder does before it returns its operations. */
typedef enum {
    S_RACE_NONE,                /* nothing: a plain builder               */
    S_RACE_COMMIT,              /* another writer commits (other_id)      */
    S_RACE_DEMOTE               /* the caller is demoted to player        */
} s_race_t;

typedef struct {
    pl_call_t *other;           /* the other writer's call                */
    const char *sid;
    s_race_t race;
    int races;                  /* how many first calls race (-1: all)    */
    int calls;                  /* builder calls so far                   */
    const char *value;          /* what this writer pushes                */
    const char *other_id;       /* the other writer's update id           */
} s_racer_t;

static cJSON *
s_push_ops (const char *value)
{
    char text[160];
    snprintf (text, sizeof text,
              "[{\"path\":\"pluginData.list\",\"operation\":\"push\",\"value\":\"%s\"}]", value);
    return cJSON_Parse (text);
}

/* Commit one push of value to sid on call, with update id (NULL: none);
 * asserts that it applied and returns nothing. */
static void
s_commit_push (pl_call_t *call, const char *sid, const char *id, const char *value)
{
    cJSON *ops = s_push_ops (value);
    pl_session_update_t update = { .operations = ops, .update_id = id, .source = "gm" };
    pl_session_result_t result;
    pl_session_commit (call, sid, &update, &result);
    assert (result.status == PL_SESSION_APPLIED);
    pl_session_result_clear (&result);
    cJSON_Delete (ops);
}

static cJSON *
s_racing_ops (const cJSON *state, void *arg, char *why, size_t why_size)
{
    (void) state, (void) why, (void) why_size;
    s_racer_t *racer = arg;
    if (racer->races < 0 || racer->calls < racer->races) {
        if (racer->race == S_RACE_COMMIT)
            s_commit_push (racer->other, racer->sid, racer->other_id, "other");
        else
        if (racer->race == S_RACE_DEMOTE) {
            redisReply *r = pl_redis_command (pl_call_redis (racer->other),
                                              "HSET " PL_KEY_CAMPAIGN_MEMBERS " gm1 player", "c1");
            assert (r && r->type == REDIS_REPLY_INTEGER);
            freeReplyObject (r);
        }
    }
    racer->calls++;
    return s_push_ops (racer->value);
}

/* A fresh call of worker w by gm1, as the runtime would make one. */
static void
s_call (pl_call_t *call, pl_worker_t *w)
{
    static char user[] = "gm1";
    pl_worker__test_call (call, w, PL_EV_GAME_STATE_UPDATE, user);
}

/* The session's stateVersion and pluginData.list, as JSON text in list. */
static long
s_state (pl_call_t *call, const char *sid, char *list, size_t size)
{
    cJSON *state = NULL;
    assert (pl_session_state (call, sid, &state) == 1);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive (state, "pluginData");
    char *text = cJSON_PrintUnformatted (cJSON_GetObjectItemCaseSensitive (data, "list"));
    snprintf (list, size, "%s", text ? text : "null");
    free (text);
    long v = atol (pl_session__version (state));
    cJSON_Delete (state);
    return v;
}

/* One commit of racer's push on call, run again as the runtime would
 * while it reports PL_SESSION_RETRY. Returns the last outcome. */
static pl_session_status_t
s_run (pl_call_t *call, const char *sid, s_racer_t *racer, const char *id, bool follow_up,
       pl_session_result_t *result)
{
    pl_session_update_t update = {
        .build = s_racing_ops, .build_arg = racer, .update_id = id, .source = "gm",
        .campaign_id = "c1", .min_role = PL_ROLE_GM, .follow_up = follow_up };
    do {
        pl_session_commit (call, sid, &update, result);
        assert ((result->status == PL_SESSION_RETRY) == call->conflict);
        assert (!call->reply);
    } while (result->status == PL_SESSION_RETRY && pl_worker__call_retry (call));
    return result->status;
}

static void
s_races (pl_worker_t *w, const char *sid)
{
    pl_call_t call = { 0 }, other = { 0 };
    pl_session_result_t result = { 0 };
    char list[256];
    s_call (&call, w);
    s_call (&other, w);
    long v0 = s_state (&call, sid, list, sizeof list);

    /* two writers: the other commits between our read and our commit, so
     * ours conflicts, writes nothing, and its rerun applies on top: both
     * are in the state, in commit order, one version each */
    s_racer_t racer = { &other, sid, S_RACE_COMMIT, 1, 0, "mine", NULL };
    assert (s_run (&call, sid, &racer, "u-mine", false, &result) == PL_SESSION_APPLIED);
    assert (call.attempt == 1 && racer.calls == 2 && call.committed);
    assert (s_state (&call, sid, list, sizeof list) == v0 + 2);
    assert (strcmp (list, "[\"other\",\"mine\"]") == 0);
    pl_session_result_clear (&result);

    /* an update id whose first try commits while its retry is between
     * read and commit: the retry's rerun finds the record and answers the
     * first ack; the push is in the state once */
    s_call (&call, w);
    s_call (&other, w);
    racer = (s_racer_t) { &other, sid, S_RACE_COMMIT, 1, 0, "dup", "u-dup" };
    assert (s_run (&call, sid, &racer, "u-dup", false, &result) == PL_SESSION_REPLAYED);
    assert (call.attempt == 1 && !call.committed);
    char want[32];
    snprintf (want, sizeof want, "%ld", v0 + 3);
    assert (strcmp (result.version, want) == 0);
    assert (s_state (&call, sid, list, sizeof list) == v0 + 3);
    assert (strcmp (list, "[\"other\",\"mine\",\"other\"]") == 0);
    pl_session_result_clear (&result);

    /* a follow-up commit (a system sync after the call's own write) that
     * loses a race reads again by itself: the call is never marked for a
     * rerun, which would redo that write */
    s_call (&call, w);
    s_call (&other, w);
    racer = (s_racer_t) { &other, sid, S_RACE_COMMIT, 2, 0, "sync", NULL };
    assert (s_run (&call, sid, &racer, NULL, true, &result) == PL_SESSION_APPLIED);
    assert (call.attempt == 0 && !call.conflict && racer.calls == 3);
    assert (s_state (&call, sid, list, sizeof list) == v0 + 6);
    pl_session_result_clear (&result);
    /* ... bounded: one that never wins gives up (BUSY), having written
     * nothing of its own */
    s_call (&call, w);
    s_call (&other, w);
    racer = (s_racer_t) { &other, sid, S_RACE_COMMIT, -1, 0, "never", NULL };
    assert (s_run (&call, sid, &racer, NULL, true, &result) == PL_SESSION_BUSY);
    assert (!call.conflict && !call.reply && racer.calls > 1);
    long v = s_state (&call, sid, list, sizeof list);
    assert (v == v0 + 6 + racer.calls && !strstr (list, "never"));
    pl_session_result_clear (&result);

    /* a GM demoted between the read and the commit commits nothing; the
     * rerun refuses FORBIDDEN */
    s_call (&call, w);
    s_call (&other, w);
    racer = (s_racer_t) { &other, sid, S_RACE_DEMOTE, 1, 0, "demoted", NULL };
    assert (s_run (&call, sid, &racer, "u-demoted", false, &result) == PL_SESSION_FORBIDDEN);
    assert (result.role == PL_ROLE_PLAYER && call.attempt == 1 && !call.committed);
    assert (s_state (&call, sid, list, sizeof list) == v && !strstr (list, "demoted"));
    redisReply *record = pl_redis_command (w->redis, "EXISTS " PL_KEY_SESSION_UPDATE, sid,
                                           "u-demoted");
    assert (record && record->integer == 0);
    freeReplyObject (record);
    pl_session_result_clear (&result);

    /* the log holds every applied version once, in order, and a sync
     * from the start ends exactly at the state's version */
    cJSON *out = NULL;
    assert (pl_session_sync (&call, sid, (uint64_t) v0, &out) == 1);
    const cJSON *updates = cJSON_GetObjectItemCaseSensitive (out, "updates");
    assert (cJSON_GetArraySize (updates) == (int) (v - v0));
    for (int i = 0; i < cJSON_GetArraySize (updates); i++) {
        const cJSON *u = cJSON_GetArrayItem (updates, i);
        assert (atol (cJSON_GetObjectItemCaseSensitive (u, "version")->valuestring) == v0 + 1 + i);
    }
    cJSON_Delete (out);
    s_call (&call, w);
    s_call (&other, w);
}

/* A log that outlived its state (an entry at or past the next version)
 * starts over with the commit, in the same script: the state and its
 * entry are written together. */
static void
s_log_ahead (pl_worker_t *w, const char *sid)
{
    pl_call_t call = { 0 };
    char list[256];
    s_call (&call, w);
    long v = s_state (&call, sid, list, sizeof list);
    redisReply *r = pl_redis_command (w->redis, "XADD " PL_KEY_SESSION_LOG " 999-0 u {}", sid);
    assert (r && r->type == REDIS_REPLY_STRING);
    freeReplyObject (r);
    s_commit_push (&call, sid, NULL, "after");
    r = pl_redis_command (w->redis, "XRANGE " PL_KEY_SESSION_LOG " - +", sid);
    assert (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    char id[32];
    snprintf (id, sizeof id, "%ld-0", v + 1);
    assert (strcmp (r->element[0]->element[0]->str, id) == 0);
    freeReplyObject (r);
    s_call (&call, w);
}

void
pl_session__test_live (bool verbose)
{
    pl_redis__test_t server;
    if (!pl_redis__test_start (&server, "session", verbose))
        goto cleanup;
    pl_worker_t w = { .redis = pl_redis_new (server.url), .config = pl_config_new () };
    assert (w.redis && w.config);
    redisReply *r = pl_redis_command (w.redis, "HSET " PL_KEY_CAMPAIGN_MEMBERS " gm1 gm", "c1");
    assert (r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject (r);
    pl_call_t call = { 0 };
    s_call (&call, &w);
    call.event = PL_EV_GAME_SESSION_CREATE;
    cJSON *session = NULL;
    assert (pl_session_create (&call, "c1", "live", "gm1", &session) == 0 && call.committed);
    cJSON *none = NULL;
    assert (pl_session_create (&call, "c1", "live", "p9", &none) == 2 && !none);
    const char *sid = cJSON_GetObjectItemCaseSensitive (session, "id")->valuestring;
    cJSON *init = cJSON_Parse ("[{\"path\":\"pluginData.list\",\"operation\":\"set\","
                               "\"value\":[]}]");
    pl_session_update_t update = { .operations = init, .source = "gm" };
    pl_session_result_t result;
    pl_session_commit (&call, sid, &update, &result);
    assert (result.status == PL_SESSION_APPLIED);
    pl_session_result_clear (&result);
    cJSON_Delete (init);
    s_races (&w, sid);
    s_log_ahead (&w, sid);
    cJSON_Delete (session);
    s_call (&call, &w);
    pl_redis_destroy (&w.redis);
    pl_config_destroy (&w.config);
cleanup:
    pl_redis__test_stop (&server);
}
