/*  pl_sched_live_test - pl_sched's firing against a private redis-server:
 *  a claim leases what it returns, an acknowledged entry is gone for good,
 *  and one claimed but never acknowledged (its claimer "died" between
 *  Redis's reply and its acknowledgement) fires again once its lease has
 *  expired, in its first claim's order, and then not again. The calls are
 *  bare pl_call_t on a worker that has only its Redis and config
 *  (pl_worker_int.h), as pl_session_txn_test's.
 *
 *  Waiting for Redis's clock (a due time, a lease) is a bounded poll of
 *  the claim: the thing under test is a time, there is no event to wait on.
 */
#include "pl_sched.h"
#include "pl_keys.h"
#include "pl_worker_int.h"
#include "pl_redis_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_LEASE_MS 300

/* A fresh call of worker w by gm1. */
static void
s_call (pl_call_t *call, pl_worker_t *w)
{
    static char user[] = "gm1";
    pl_worker__test_call (call, w, PL_EV_SCHEDULE_CREATE, user);
}

/* Store a real-time entry due after after_ms (or a world-time one at at,
 * when after_ms is 0) in campaign cid with id id: pl_sched_create's
 * answer. */
static long long
s_count (pl_worker_t *w, const char *cmd)
{
    redisReply *r = pl_redis_command (w->redis, cmd);
    assert (r && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject (r);
    return n;
}

static int
s_create_in (pl_call_t *call, const char *cid, const char *id, int64_t after_ms, int64_t at)
{
    cJSON *entry = cJSON_CreateObject ();
    cJSON_AddStringToObject (entry, "id", id);
    cJSON_AddStringToObject (entry, "campaignId", cid);
    cJSON_AddStringToObject (entry, "event", "test:event");
    cJSON_AddNullToObject (entry, "payload");
    cJSON_AddStringToObject (entry, "room", "campaign:c1");
    if (after_ms == 0)
        cJSON_AddNumberToObject (entry, "at", (double) at);
    cJSON_AddStringToObject (entry, "createdBy", "gm1");
    int64_t world = 0;
    int rc = pl_sched_create (call, entry, after_ms, &world);
    cJSON_Delete (entry);
    return rc;
}

static void
s_create (pl_call_t *call, const char *id, int64_t after_ms, int64_t at)
{
    assert (s_create_in (call, "c1", id, after_ms, at) == 0);
}

static void
s_run (pl_worker_t *w, const char *cmd)
{
    redisReply *r = pl_redis_command (w->redis, cmd);
    assert (r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject (r);
}

/* One claim pass: how many entries fired and how many timer pushes. */
static void
s_claim_once (pl_worker_t *w, int *fired, int *ticks)
{
    pl_call_t call = { 0 };
    s_call (&call, w);
    pl_sched_due_t due;
    assert (pl_sched_claim (&call, &due) == 0);
    *fired = cJSON_GetArraySize (due.fired);
    *ticks = cJSON_GetArraySize (due.ticks);
    pl_sched_due_clear (&due);
    s_call (&call, w);
}

/* A deleted campaign (or session): nothing of it is stored or fires. */
static void
s_deleted (pl_worker_t *w)
{
    pl_call_t call = { 0 };
    s_call (&call, w);
    /* a create or time change that lost the race with the deletion */
    assert (s_create_in (&call, "gone1", "g1", 1, 0) == 3);
    assert (s_create_in (&call, "gone1", "g2", 0, 10) == 3);
    int64_t prev = 0, now = 0;
    bool more = false;
    cJSON *fired = NULL;
    assert (pl_sched_time_change (&call, "gone1", false, 5, &prev, &now, &fired, &more) == 2);
    assert (!fired);
    assert (s_count (w, "EXISTS pl:time:gone1") == 0);
    cJSON *timer = NULL;
    assert (pl_sched_timer_start (&call, "nosession", "gone1", 5, NULL, &timer) == 1 && !timer);
    assert (s_count (w, "EXISTS pl:timer:nosession") == 0);
    /* entries and a timer stored before the deletion, and no clear ran
     * (a crash after the commit): the claims drop them */
    s_run (w, "HSET pl:campaign:c3 id c3");
    s_run (w, "HSET pl:session:s3 id s3");
    assert (s_create_in (&call, "c3", "e3", 1, 0) == 0);
    assert (pl_sched_timer_start (&call, "s3", "c3", 30, "t", &timer) == 0);
    cJSON_Delete (timer);
    s_run (w, "DEL pl:campaign:c3 pl:session:s3");
    usleep (20 * 1000);
    int nfired = -1, nticks = -1;
    for (int i = 0; i < 250 && s_count (w, "HEXISTS " PL_KEY_SCHED_ENTRIES " e3"); i++) {
        s_claim_once (w, &nfired, &nticks);
        assert (nfired == 0 && nticks == 0);
        usleep (5000);
    }
    assert (s_count (w, "HEXISTS " PL_KEY_SCHED_ENTRIES " e3") == 0);
    assert (s_count (w, "ZCARD " PL_KEY_SCHED_FIRING) == 0);
    assert (s_count (w, "SCARD pl:sched:campaign:c3") == 0);
    for (int i = 0; i < 300 && s_count (w, "EXISTS pl:timer:s3"); i++) {
        s_claim_once (w, &nfired, &nticks);
        assert (nfired == 0 && nticks == 0);
        usleep (5000);
    }
    assert (s_count (w, "EXISTS pl:timer:s3") == 0);
    /* the deletion's follow-up: everything of c4 and its session s4 goes */
    s_run (w, "HSET pl:campaign:c4 id c4");
    s_run (w, "HSET pl:session:s4 id s4");
    s_run (w, "HSET pl:session:s5 id s5");
    assert (s_create_in (&call, "c4", "e4", 60000, 0) == 0);
    assert (s_create_in (&call, "c4", "w4", 0, 100) == 0);
    assert (pl_sched_time_change (&call, "c4", false, 5, &prev, &now, &fired, &more) == 0);
    cJSON_Delete (fired);
    assert (pl_sched_timer_start (&call, "s4", "c4", 30, NULL, &timer) == 0);
    cJSON_Delete (timer);
    assert (pl_sched_timer_start (&call, "s5", "c5", 30, NULL, &timer) == 0);
    cJSON_Delete (timer);
    const char *const sids[] = { "s4" };
    assert (pl_sched_campaign_clear (&call, "c4", sids, 1) == 0);
    assert (s_count (w, "HLEN " PL_KEY_SCHED_ENTRIES) == 0);
    assert (s_count (w, "HLEN " PL_KEY_SCHED_MEMBERS) == 0);
    assert (s_count (w, "ZCARD " PL_KEY_SCHED_REAL) == 0);
    assert (s_count (w, "EXISTS pl:sched:campaign:c4 pl:sched:world:c4 pl:time:c4 pl:timer:s4") == 0);
    assert (s_count (w, "EXISTS pl:timer:s5") == 1);  /* another campaign's */
    assert (s_count (w, "ZCARD " PL_KEY_TIMERS) == 1);
    assert (pl_sched_timer_cancel (&call, "s5") == 1);
    s_call (&call, w);
}

/* Claim until want entries came out or wait_ms passed; the ids fired, in
 * order, space-separated, in out. */
static void
s_claim_until (pl_worker_t *w, int want, int wait_ms, char *out, size_t size)
{
    out[0] = 0;
    int got = 0;
    for (int waited = 0; got < want && waited <= wait_ms; waited += 5) {
        pl_call_t call = { 0 };
        s_call (&call, w);
        pl_sched_due_t due;
        assert (pl_sched_claim (&call, &due) == 0);
        const cJSON *e;
        cJSON_ArrayForEach (e, due.fired) {
            const char *id = cJSON_GetObjectItemCaseSensitive (e, "id")->valuestring;
            size_t len = strlen (out);
            snprintf (out + len, size - len, "%s%s", len ? " " : "", id);
            got++;
        }
        pl_sched_due_clear (&due);
        s_call (&call, w);
        if (got < want)
            usleep (5000);
    }
}

/* Publish schedule:fired for the entries with these ids (as the claimer
 * does) and acknowledge them as the task's next two turns would. */
static void
s_fire_and_ack (pl_worker_t *w, const char *const *ids, size_t n)
{
    pl_call_t call = { 0 };
    s_call (&call, w);
    for (size_t i = 0; i < n; i++) {
        cJSON *entry = cJSON_CreateObject ();
        cJSON_AddStringToObject (entry, "id", ids[i]);
        cJSON_AddStringToObject (entry, "room", "campaign:c1");
        pl_sched_publish_fired (&call, entry, 1);
        cJSON_Delete (entry);
    }
    assert ((size_t) call.npub == n);
    s_call (&call, w);                      /* the call ended: events gone */
    assert (pl_sched_ack (&call) == (n ? 1 : 0));   /* noted: next turn */
    assert (pl_sched_ack (&call) == 0);     /* acknowledged */
    s_call (&call, w);
}


void
pl_sched__test_live (bool verbose)
{
    pl_redis__test_t server;
    if (!pl_redis__test_start (&server, "sched", verbose))
        goto cleanup;
    pl_worker_t w = { .redis = pl_redis_new (server.url), .config = pl_config_new () };
    assert (w.redis && w.config);
    pl_sched__acks_reset (S_LEASE_MS);
    s_run (&w, "HSET pl:campaign:c1 id c1");
    pl_call_t call = { 0 };
    s_call (&call, &w);
    /* a and b due first; c created before d but due after it: the claims
     * go by due time, then creation */
    s_create (&call, "a", 1, 0);
    s_create (&call, "b", 1, 0);
    s_create (&call, "c", 40, 0);
    s_create (&call, "d", 2, 0);
    s_create (&call, "w", 0, 5);
    char fired[256];
    /* all four due before the first claim, so one claim takes them: the
     * lease's order among them (one deadline) must still be d before c
     * (a shorter wait on this host's clock only makes that check moot) */
    usleep (150 * 1000);
    s_claim_until (&w, 4, 3000, fired, sizeof fired);
    assert (strcmp (fired, "a b d c") == 0);
    assert (s_count (&w, "ZCARD " PL_KEY_SCHED_FIRING) == 4);
    /* a and b acknowledged; d and c claimed, never acknowledged */
    const char *const ab[] = { "a", "b" };
    s_fire_and_ack (&w, ab, 2);
    assert (s_count (&w, "ZCARD " PL_KEY_SCHED_FIRING) == 2);
    assert (s_count (&w, "HLEN " PL_KEY_SCHED_ENTRIES) == 3);
    /* under their lease: not fired again, not listed, not cancellable */
    s_claim_until (&w, 1, 0, fired, sizeof fired);
    assert (strcmp (fired, "") == 0);
    cJSON *list = NULL;
    assert (pl_sched_list (&call, "c1", &list) == 0);
    assert (cJSON_GetArraySize (list) == 1);
    assert (strcmp (cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (list, 0), "id")
                    ->valuestring, "w") == 0);
    cJSON_Delete (list);
    assert (pl_sched_cancel (&call, "c1", "d") == 0);
    /* a world-time claim leases the same way: w, never acknowledged */
    int64_t prev = 0, now = 0;
    bool more = true;
    cJSON *by_time = NULL;
    assert (pl_sched_time_change (&call, "c1", false, 10, &prev, &now, &by_time, &more) == 0);
    assert (prev == 0 && now == 10 && !more && cJSON_GetArraySize (by_time) == 1);
    cJSON_Delete (by_time);
    s_call (&call, &w);
    /* the leases expire: d, c (their claim's order), then w, once each;
     * a and b never again */
    s_claim_until (&w, 3, 3000, fired, sizeof fired);
    assert (strcmp (fired, "d c w") == 0);
    s_claim_until (&w, 1, 0, fired, sizeof fired);
    assert (strcmp (fired, "") == 0);       /* leased again by that claim */
    const char *const dcw[] = { "d", "c", "w" };
    s_fire_and_ack (&w, dcw, 3);
    assert (s_count (&w, "ZCARD " PL_KEY_SCHED_FIRING) == 0);
    assert (s_count (&w, "HLEN " PL_KEY_SCHED_ENTRIES) == 0);
    assert (s_count (&w, "HLEN " PL_KEY_SCHED_MEMBERS) == 0);
    assert (s_count (&w, "SCARD pl:sched:campaign:c1") == 0);
    /* two leases later nothing fires: acknowledged is done */
    s_claim_until (&w, 1, 2 * S_LEASE_MS, fired, sizeof fired);
    assert (strcmp (fired, "") == 0);
    /* an acknowledgement of what another scheduler acknowledged already
     * (or of ids never claimed) removes nothing and fails nothing */
    s_fire_and_ack (&w, dcw, 3);
    s_call (&call, &w);
    s_deleted (&w);
    pl_sched__acks_reset (0);
    pl_redis_destroy (&w.redis);
    pl_config_destroy (&w.config);
cleanup:
    pl_redis__test_stop (&server);
}
