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
    pl_worker__call_drop_events (call);
    free (call->reply);
    memset (call, 0, sizeof *call);
    call->worker = w;
    call->event = PL_EV_SCHEDULE_CREATE;
    static char user[] = "gm1";
    call->caller.user = user;
}

/* Store a real-time entry due after after_ms (or a world-time one at at,
 * when after_ms is 0) in campaign c1 with id id. */
static void
s_create (pl_call_t *call, const char *id, int64_t after_ms, int64_t at)
{
    cJSON *entry = cJSON_CreateObject ();
    cJSON_AddStringToObject (entry, "id", id);
    cJSON_AddStringToObject (entry, "campaignId", "c1");
    cJSON_AddStringToObject (entry, "event", "test:event");
    cJSON_AddNullToObject (entry, "payload");
    cJSON_AddStringToObject (entry, "room", "campaign:c1");
    if (after_ms == 0)
        cJSON_AddNumberToObject (entry, "at", (double) at);
    cJSON_AddStringToObject (entry, "createdBy", "gm1");
    int64_t world = 0;
    assert (pl_sched_create (call, entry, after_ms, &world) == 0);
    cJSON_Delete (entry);
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

static long long
s_count (pl_worker_t *w, const char *cmd)
{
    redisReply *r = pl_redis_command (w->redis, cmd);
    assert (r && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject (r);
    return n;
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
    pl_sched__acks_reset (0);
    pl_redis_destroy (&w.redis);
    pl_config_destroy (&w.config);
cleanup:
    pl_redis__test_stop (&server);
}
