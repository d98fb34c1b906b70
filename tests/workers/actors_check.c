/*  parley-actors-check - drive real parley-actors processes against a
 *  private redis-server, with this program playing the broker backend and
 *  the event proxy (tests/workers/wcheck.h).
 *
 *      parley-actors-check /path/to/parley-actors [-v]
 *
 *  It checks the actors contract (proto/events.def), personal and in
 *  campaigns: membership, GM and player rights, hidden actors for get,
 *  list and every event (frame 6 included, and the hidden flips), the
 *  per-user limit across personal and campaign actors; storage races
 *  between two workers, a Redis outage and recovery, a broker restart
 *  (BYE -> READY), and a clean SIGTERM. Memberships are seeded straight
 *  into Redis (pl:campaign:<id>:members), as the campaigns worker writes
 *  them. Needs redis-server in PATH; the run takes a few seconds.
 */
#include "wcheck.h"
#include "pl_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WORKERS 2
#define S_LIMIT   "30"                  /* PARLEY_ACTORS_PER_USER here      */

static void
s_contract (void)
{
    char origin[32];
    /* create: server fields win over the client's, other fields are kept */
    cJSON *a = wcheck_ok (0, "alice", "actor:create",
                     "{\"name\":\"Gandalf\",\"type\":\"npc\",\"hp\":10,\"tags\":[\"wizard\"],"
                     "\"id\":\"evil\",\"createdBy\":\"mallory\",\"version\":99,\"createdAt\":1}");
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    CHECK (pl_id_is_uuid (wcheck_str (a, "id")));
    CHECK (strcmp (wcheck_str (a, "createdBy"), "alice") == 0);
    CHECK (strcmp (wcheck_str (a, "name"), "Gandalf") == 0);
    CHECK (wcheck_num (a, "version") == 1);
    CHECK (wcheck_num (a, "hp") == 10);
    CHECK (wcheck_num (a, "createdAt") > 1577836800000.0);
    CHECK (wcheck_num (a, "updatedAt") == wcheck_num (a, "createdAt"));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (a, "tags")) == 1);
    wcheck_event ("user:alice", "actor:created", origin, a, NULL);
    char *id = strdup (wcheck_str (a, "id"));
    char body[256];

    /* bad arguments */
    const char *bad_creates[] = {
        NULL, "\"x\"", "[]", "42", "null", "{\"type\":\"npc\"}", "{\"name\":\"\",\"type\":\"npc\"}",
        "{\"name\":7,\"type\":\"npc\"}", "{\"name\":\"n\"}", "{\"name\":\"n\",\"type\":3}",
    };
    for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++)
        wcheck_err (0, "alice", "actor:create", bad_creates[i], "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:create", "{\"name\":", "VALIDATION_ERROR");   /* not JSON */
    wcheck_err (0, "alice", "actor:get", NULL, "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:get", "17", "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:get", "\"\"", "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:delete", "{}", "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:update", "\"x\"", "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:update", "{\"name\":\"x\"}", "VALIDATION_ERROR");
    wcheck_err (0, "alice", "actor:nope", NULL, "UNKNOWN_EVENT");

    /* get: the creator sees it, nobody else does */
    cJSON *got = wcheck_ok (0, "alice", "actor:get", (snprintf (body, sizeof body, "\"%s\"", id), body));
    CHECK (cJSON_Compare (got, a, true));
    cJSON_Delete (got);
    wcheck_err (0, "bob", "actor:get", body, "NOT_FOUND");
    wcheck_err (0, "alice", "actor:get", "\"01234567-89ab-4def-8123-456789abcdef\"", "NOT_FOUND");

    /* update: shallow merge, version + 1, server fields kept */
    snprintf (body, sizeof body,
              "{\"id\":\"%s\",\"name\":\"Gandalf the White\",\"hp\":null,\"staff\":true,"
              "\"version\":50,\"createdBy\":\"bob\",\"createdAt\":5}", id);
    cJSON *u = wcheck_ok (0, "alice", "actor:update", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    CHECK (strcmp (wcheck_str (u, "id"), id) == 0);
    CHECK (strcmp (wcheck_str (u, "name"), "Gandalf the White") == 0);
    CHECK (strcmp (wcheck_str (u, "type"), "npc") == 0);
    CHECK (strcmp (wcheck_str (u, "createdBy"), "alice") == 0);
    CHECK (wcheck_num (u, "version") == 2);
    CHECK (wcheck_num (u, "createdAt") == wcheck_num (a, "createdAt"));
    CHECK (wcheck_num (u, "updatedAt") >= wcheck_num (a, "updatedAt"));
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (u, "hp")));
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (u, "staff")));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (u, "tags")) == 1);
    wcheck_event ("user:alice", "actor:updated", origin, u, NULL);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"\"}", id);
    wcheck_err (0, "alice", "actor:update", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"type\":null}", id);
    wcheck_err (0, "alice", "actor:update", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"Saruman\"}", id);
    wcheck_err (0, "bob", "actor:update", body, "NOT_FOUND");
    snprintf (body, sizeof body, "\"%s\"", id);
    got = wcheck_ok (0, "alice", "actor:get", body);          /* failed updates changed nothing */
    CHECK (cJSON_Compare (got, u, true));
    cJSON_Delete (got);

    /* list: creation order, even for creates within one millisecond */
    cJSON *ids = cJSON_CreateArray ();
    cJSON_AddItemToArray (ids, cJSON_CreateString (id));
    for (int i = 0; i < 5; i++) {
        snprintf (body, sizeof body, "{\"name\":\"n%d\",\"type\":\"pc\"}", i);
        cJSON *c = wcheck_ok (i % 2, "alice", "actor:create", body);
        cJSON_AddItemToArray (ids, cJSON_CreateString (wcheck_str (c, "id")));
        cJSON_Delete (c);
    }
    cJSON *list = wcheck_ok (0, "alice", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 6);
    double last = 0;
    for (int i = 0; i < 6; i++) {
        cJSON *item = cJSON_GetArrayItem (list, i);
        CHECK (strcmp (wcheck_str (item, "id"), cJSON_GetArrayItem (ids, i)->valuestring) == 0);
        CHECK (wcheck_num (item, "createdAt") > last);
        last = wcheck_num (item, "createdAt");
    }
    CHECK (cJSON_Compare (cJSON_GetArrayItem (list, 0), u, true));
    cJSON_Delete (list);
    list = wcheck_ok (1, "bob", "actor:list", "{}");
    CHECK (cJSON_IsArray (list) && cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);

    /* the five creates' events come from two PUBs, in no fixed order
     * between them: read them all before the delete */
    for (int i = 0; i < 5; i++) {
        wcheck_bus_t bus;
        CHECK (wcheck_bus_next (&bus, 3000));
        wcheck_bus_clear (&bus);
    }

    /* delete: only the creator; then it is gone */
    snprintf (body, sizeof body, "\"%s\"", id);
    wcheck_err (0, "bob", "actor:delete", body, "NOT_FOUND");
    cJSON *reply = wcheck_call (0, "alice", "actor:delete", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    CHECK (strcmp (wcheck_code (reply), "") == 0 && !cJSON_GetObjectItem (reply, "data"));
    cJSON_Delete (reply);
    cJSON *gone = cJSON_CreateString (id);
    wcheck_event ("user:alice", "actor:deleted", origin, gone, NULL);
    wcheck_err (0, "alice", "actor:get", body, "NOT_FOUND");
    wcheck_err (0, "alice", "actor:delete", body, "NOT_FOUND");
    list = wcheck_ok (0, "alice", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 5);
    cJSON_Delete (list);
    cJSON_Delete (gone);
    cJSON_Delete (ids);
    cJSON_Delete (a);
    cJSON_Delete (u);
    free (id);
}

/* Two workers update one actor concurrently: no update may be lost. */
static void
s_races (void)
{
    cJSON *a = wcheck_ok (0, "carol", "actor:create", "{\"name\":\"race\",\"type\":\"npc\"}");
    char body[200];
    int n = 40, ok = 0, busy = 0;
    for (int i = 0; i < n; i++) {
        snprintf (body, sizeof body, "{\"id\":\"%s\",\"n\":%d}", wcheck_str (a, "id"), i);
        wcheck_send (i % 2, "carol", "actor:update", body);
    }
    for (int i = 0; i < n; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        if (strcmp (wcheck_code (reply), "") == 0)
            ok++;
        else {
            /* the runtime gave up rerunning it (PL_CALL_RETRY_MAX) */
            CHECK (strcmp (wcheck_code (reply), "CONFLICT") == 0);
            busy++;
        }
        cJSON_Delete (reply);
    }
    snprintf (body, sizeof body, "\"%s\"", wcheck_str (a, "id"));
    cJSON *final = wcheck_ok (0, "carol", "actor:get", body);
    if (wcheck_verbose ())
        printf ("  races: %d updates ok, %d gave up, version %g\n", ok, busy, wcheck_num (final, "version"));
    CHECK (ok > 0);
    CHECK (wcheck_num (final, "version") == 1 + ok);
    cJSON_Delete (final);
    cJSON_Delete (a);

    /* concurrent creates from both workers: all listed, in createdAt order */
    for (int i = 0; i < 20; i++)
        wcheck_send (i % 2, "dave", "actor:create", "{\"name\":\"c\",\"type\":\"t\"}");
    wcheck_replies_ok (20);
    cJSON *list = wcheck_ok (1, "dave", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 20);
    for (int i = 1; i < 20; i++)
        CHECK (wcheck_num (cJSON_GetArrayItem (list, i), "createdAt")
               > wcheck_num (cJSON_GetArrayItem (list, i - 1), "createdAt"));
    cJSON_Delete (list);
    /* drain the bus of the creates and updates */
    wcheck_drain (200);
}

/* N updates of one actor from both workers, each setting a field of its
 * own, pipelined: every one is acked (a lost race reruns the handler), the
 * final version is the initial + N, and every field is there - an update
 * committed over a stale read would have dropped another's field. */
static void
s_races_fields (void)
{
    enum { N = 30 };
    cJSON *a = wcheck_ok (0, "fran", "actor:create", "{\"name\":\"fields\",\"type\":\"npc\"}");
    char body[200];
    for (int i = 0; i < N; i++) {
        snprintf (body, sizeof body, "{\"id\":\"%s\",\"f%d\":%d}", wcheck_str (a, "id"), i, i);
        wcheck_send (i % 2, "fran", "actor:update", body);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        ok += strcmp (wcheck_code (reply), "") == 0;
        cJSON_Delete (reply);
    }
    CHECK (ok == N);
    cJSON *final = wcheck_ok (1, "fran", "actor:get", wcheck_quote (wcheck_str (a, "id")));
    CHECK (wcheck_num (final, "version") == 1 + N);
    for (int i = 0; i < N; i++) {
        char field[16];
        snprintf (field, sizeof field, "f%d", i);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive (final, field);
        CHECK (cJSON_IsNumber (f) && f->valueint == i);
    }
    cJSON_Delete (final);
    cJSON_Delete (a);
    wcheck_drain (200);
}

/* Updates racing a delete, on the two workers: each update is either
 * acked (before the delete: its version is its own) or NOT_FOUND (after);
 * the delete is acked; and nothing is left - an update that committed
 * over the delete would bring the actor back, outside its index. */
static void
s_update_vs_delete (void)
{
    enum { ROUNDS = 6, N = 8 };
    int acked = 0, gone = 0;
    for (int r = 0; r < ROUNDS; r++) {
        cJSON *a = wcheck_ok (0, "gail", "actor:create", "{\"name\":\"doomed\",\"type\":\"npc\"}");
        const char *id = wcheck_str (a, "id");
        char body[200];
        int del = -1;
        for (int i = 0; i <= N; i++) {
            if (i == N / 2 + r % 3) {
                del = wcheck_send (1, "gail", "actor:delete", wcheck_quote (id));
                continue;
            }
            snprintf (body, sizeof body, "{\"id\":\"%s\",\"u%d\":true}", id, i);
            wcheck_send (0, "gail", "actor:update", body);
        }
        double seen[N + 1];
        int nseen = 0;
        for (int i = 0; i <= N; i++) {
            int seq;
            cJSON *reply = wcheck_reply (&seq, NULL);
            const char *code = wcheck_code (reply);
            if (seq == del)
                CHECK (strcmp (code, "") == 0);
            else
            if (strcmp (code, "") == 0) {
                const cJSON *data = cJSON_GetObjectItemCaseSensitive (reply, "data");
                double v = wcheck_num (data, "version");
                for (int j = 0; j < nseen; j++)
                    CHECK (seen[j] != v);   /* each acked update has its own version */
                seen[nseen++] = v;
                CHECK (v >= 2 && v <= 1 + N);
                acked++;
            }
            else {
                CHECK (strcmp (code, "NOT_FOUND") == 0);
                gone++;
            }
            cJSON_Delete (reply);
        }
        wcheck_err (0, "gail", "actor:get", wcheck_quote (id), "NOT_FOUND");
        redisReply *left = wcheck_redis ("EXISTS pl:actor:%s", id);
        CHECK (left->type == REDIS_REPLY_INTEGER && left->integer == 0);
        freeReplyObject (left);
        left = wcheck_redis ("ZSCORE pl:user:gail:actors %s", id);
        CHECK (left->type == REDIS_REPLY_NIL);
        freeReplyObject (left);
        cJSON_Delete (a);
    }
    if (wcheck_verbose ())
        printf ("  update vs delete: %d updates acked, %d NOT_FOUND\n", acked, gone);
    CHECK (acked + gone == ROUNDS * N);
    wcheck_drain (200);
}

/* Redis goes away: INTERNAL, the worker stays up; Redis is back: it works. */
static void
s_outage (void)
{
    wcheck_redis_stop ();
    cJSON *reply = wcheck_call (0, "erin", "actor:list", NULL);
    CHECK (strcmp (wcheck_code (reply), "INTERNAL") == 0);
    cJSON_Delete (reply);
    wcheck_err (1, "erin", "actor:create", "{\"name\":\"x\",\"type\":\"y\"}", "INTERNAL");
    wcheck_redis_start ();
    int64_t start = pl_id_mono_ms ();
    cJSON *a = wcheck_ok (0, "erin", "actor:create", "{\"name\":\"back\",\"type\":\"y\"}");
    cJSON_Delete (a);
    cJSON *list = wcheck_ok (1, "erin", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    if (wcheck_verbose ())
        printf ("  outage: recovered %lld ms after Redis came back\n",
                (long long) (pl_id_mono_ms () - start));
    wcheck_drain (100);
}

/* How many of the ids of list equal id. */
static int
s_listed (const cJSON *list, const char *id)
{
    int n = 0;
    const cJSON *item;
    cJSON_ArrayForEach (item, list)
        n += strcmp (wcheck_str (item, "id"), id) == 0;
    return n;
}

/* A campaign: GM gm, players p1 and p2, outsider out. */
static void
s_campaign (void)
{
    const char *gm_except = "[\"campaign:c1:gm\"]";
    const char *players_except = "[\"campaign:c1:gm\",\"user:p1\"]";
    char body[512], origin[32];
    wcheck_member ("c1", "gm", "gm");
    wcheck_member ("c1", "p1", "player");
    wcheck_member ("c1", "p2", "player");
    wcheck_member ("c2", "out", "gm");

    /* create: members only; the campaign must exist; nothing stored else */
    wcheck_err (0, "out", "actor:create", "{\"name\":\"x\",\"type\":\"t\",\"campaignId\":\"c1\"}", "FORBIDDEN");
    wcheck_err (0, "p1", "actor:create", "{\"name\":\"x\",\"type\":\"t\",\"campaignId\":\"c9\"}", "FORBIDDEN");
    wcheck_err (0, "p1", "actor:create", "{\"name\":\"x\",\"type\":\"t\",\"campaignId\":\"\"}", "VALIDATION_ERROR");
    wcheck_err (0, "p1", "actor:create", "{\"name\":\"x\",\"type\":\"t\",\"campaignId\":7}", "VALIDATION_ERROR");
    wcheck_err (0, "p1", "actor:create", "{\"name\":\"x\",\"type\":\"t\",\"campaignId\":\"c1\",\"hidden\":\"yes\"}", "VALIDATION_ERROR");
    redisReply *r = wcheck_redis ("ZCARD pl:campaign:c1:actors");
    CHECK (r->integer == 0);
    freeReplyObject (r);
    wcheck_quiet (100);

    /* a player's actor: the campaign room hears it, no frame 6 */
    cJSON *a = wcheck_ok (0, "p1", "actor:create",
                          "{\"name\":\"Pip\",\"type\":\"pc\",\"campaignId\":\"c1\",\"hp\":3}");
    wcheck_event ("campaign:c1", "actor:created", wcheck_origin (), a, NULL);
    CHECK (strcmp (wcheck_str (a, "campaignId"), "c1") == 0);
    CHECK (cJSON_IsFalse (cJSON_GetObjectItem (a, "hidden")));
    char *id = strdup (wcheck_str (a, "id"));
    cJSON *got = wcheck_ok (1, "p2", "actor:get", wcheck_quote (id));      /* members see it */
    CHECK (cJSON_Compare (got, a, true));
    cJSON_Delete (got);
    got = wcheck_ok (1, "gm", "actor:get", wcheck_quote (id));
    cJSON_Delete (got);
    wcheck_err (1, "out", "actor:get", wcheck_quote (id), "NOT_FOUND");

    /* another player cannot change it; an outsider does not see it */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"Mine now\"}", id);
    wcheck_err (0, "p2", "actor:update", body, "FORBIDDEN");
    wcheck_err (0, "p2", "actor:delete", wcheck_quote (id), "FORBIDDEN");
    wcheck_err (0, "out", "actor:update", body, "NOT_FOUND");
    wcheck_err (0, "out", "actor:delete", wcheck_quote (id), "NOT_FOUND");
    /* campaignId cannot change, hidden stays a boolean */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"campaignId\":\"c2\"}", id);
    wcheck_err (0, "p1", "actor:update", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"campaignId\":null}", id);
    wcheck_err (0, "p1", "actor:update", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":null}", id);
    wcheck_err (0, "p1", "actor:update", body, "VALIDATION_ERROR");
    wcheck_quiet (100);

    /* the GM edits the player's actor; everybody in the campaign hears it */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"campaignId\":\"c1\",\"hp\":1}", id);
    cJSON *u = wcheck_ok (1, "gm", "actor:update", body);
    wcheck_event ("campaign:c1", "actor:updated", wcheck_origin (), u, NULL);
    CHECK (wcheck_num (u, "version") == 2 && wcheck_num (u, "hp") == 1);
    CHECK (strcmp (wcheck_str (u, "createdBy"), "p1") == 0);

    /* list {campaignId}: members only */
    cJSON *list = wcheck_ok (0, "p2", "actor:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1 && cJSON_Compare (cJSON_GetArrayItem (list, 0), u, true));
    cJSON_Delete (list);
    list = wcheck_ok (0, "p1", "actor:list", NULL);             /* not a personal actor */
    CHECK (s_listed (list, id) == 0);
    cJSON_Delete (list);
    wcheck_err (0, "out", "actor:list", "{\"campaignId\":\"c1\"}", "FORBIDDEN");
    wcheck_err (0, "out", "actor:list", "{\"campaignId\":\"c9\"}", "FORBIDDEN");
    wcheck_err (0, "p1", "actor:list", "{\"campaignId\":\"no/such\"}", "VALIDATION_ERROR");
    wcheck_err (0, "p1", "actor:list", "\"c1\"", "VALIDATION_ERROR");

    /* hidden: the GMs, and the creator's tabs that are not GM tabs */
    cJSON *h = wcheck_ok (0, "p1", "actor:create",
                          "{\"name\":\"Spy\",\"type\":\"pc\",\"campaignId\":\"c1\",\"hidden\":true}");
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1:gm", "actor:created", origin, h, NULL);
    wcheck_event ("user:p1", "actor:created", origin, h, gm_except);
    char *hid = strdup (wcheck_str (h, "id"));
    wcheck_err (0, "p2", "actor:get", wcheck_quote (hid), "NOT_FOUND");
    wcheck_err (0, "out", "actor:get", wcheck_quote (hid), "NOT_FOUND");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"x\"}", hid);
    wcheck_err (0, "p2", "actor:update", body, "NOT_FOUND");      /* not FORBIDDEN: unseen */
    wcheck_err (0, "p2", "actor:delete", wcheck_quote (hid), "NOT_FOUND");
    got = wcheck_ok (0, "gm", "actor:get", wcheck_quote (hid));
    cJSON_Delete (got);
    got = wcheck_ok (0, "p1", "actor:get", wcheck_quote (hid));
    cJSON_Delete (got);
    list = wcheck_ok (0, "p2", "actor:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1 && s_listed (list, hid) == 0);
    cJSON_Delete (list);
    list = wcheck_ok (0, "gm", "actor:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 2 && s_listed (list, hid) == 1);
    CHECK (strcmp (wcheck_str (cJSON_GetArrayItem (list, 0), "id"), id) == 0);  /* oldest first */
    cJSON_Delete (list);
    list = wcheck_ok (0, "p1", "actor:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 2);
    cJSON_Delete (list);
    wcheck_quiet (100);

    /* reveal it: the other players get actor:created, the rest updated */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":false}", hid);
    cJSON *v = wcheck_ok (1, "p1", "actor:update", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1", "actor:created", origin, v, players_except);
    wcheck_event ("campaign:c1:gm", "actor:updated", origin, v, NULL);
    wcheck_event ("user:p1", "actor:updated", origin, v, gm_except);
    got = wcheck_ok (0, "p2", "actor:get", wcheck_quote (hid));
    CHECK (cJSON_Compare (got, v, true));
    cJSON_Delete (got);
    /* visible: a plain update goes to the campaign room */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":false,\"hp\":2}", hid);
    cJSON_Delete (v);
    v = wcheck_ok (1, "p1", "actor:update", body);
    wcheck_event ("campaign:c1", "actor:updated", wcheck_origin (), v, NULL);

    /* the GM hides it again: the other players get actor:deleted */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":true}", hid);
    cJSON_Delete (v);
    v = wcheck_ok (0, "gm", "actor:update", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    cJSON *gone = cJSON_CreateString (hid);
    wcheck_event ("campaign:c1", "actor:deleted", origin, gone, players_except);
    wcheck_event ("campaign:c1:gm", "actor:updated", origin, v, NULL);
    wcheck_event ("user:p1", "actor:updated", origin, v, gm_except);
    wcheck_err (0, "p2", "actor:get", wcheck_quote (hid), "NOT_FOUND");
    wcheck_quiet (100);

    /* a GM's own hidden actor: the GM room, then the GM's other tabs */
    cJSON *g = wcheck_ok (0, "gm", "actor:create",
                          "{\"name\":\"Dragon\",\"type\":\"npc\",\"campaignId\":\"c1\",\"hidden\":true}");
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1:gm", "actor:created", origin, g, NULL);
    wcheck_event ("user:gm", "actor:created", origin, g, gm_except);
    wcheck_err (0, "p1", "actor:get", wcheck_quote (wcheck_str (g, "id")), "NOT_FOUND");

    /* p1 leaves the campaign: sees nothing of it, hears nothing of it */
    wcheck_member ("c1", "p1", NULL);
    wcheck_err (0, "p1", "actor:get", wcheck_quote (hid), "NOT_FOUND");
    wcheck_err (0, "p1", "actor:get", wcheck_quote (id), "NOT_FOUND");
    wcheck_err (0, "p1", "actor:list", "{\"campaignId\":\"c1\"}", "FORBIDDEN");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"Gone spy\"}", hid);
    cJSON_Delete (v);
    v = wcheck_ok (1, "gm", "actor:update", body);
    wcheck_event ("campaign:c1:gm", "actor:updated", wcheck_origin (), v, NULL);
    wcheck_quiet (100);                     /* no user:p1 */
    wcheck_ok (0, "gm", "actor:delete", wcheck_quote (hid));
    wcheck_event ("campaign:c1:gm", "actor:deleted", wcheck_origin (), gone, NULL);
    wcheck_quiet (100);

    /* the GM deletes the (visible) actor of the former player */
    cJSON_Delete (gone);
    gone = cJSON_CreateString (id);
    cJSON *reply = wcheck_call (1, "gm", "actor:delete", wcheck_quote (id));
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    cJSON_Delete (reply);
    wcheck_event ("campaign:c1", "actor:deleted", wcheck_origin (), gone, NULL);
    wcheck_err (1, "gm", "actor:get", wcheck_quote (id), "NOT_FOUND");
    r = wcheck_redis ("ZCARD pl:user:p1:campaign-actors");
    CHECK (r->integer == 0);
    freeReplyObject (r);
    list = wcheck_ok (0, "gm", "actor:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);

    cJSON_Delete (gone);
    cJSON_Delete (a);
    cJSON_Delete (u);
    cJSON_Delete (h);
    cJSON_Delete (v);
    cJSON_Delete (g);
    free (id);
    free (hid);
}

/* PARLEY_ACTORS_PER_USER counts personal and campaign actors together. */
static void
s_limit (void)
{
    int limit = atoi (S_LIMIT), personal = limit - limit / 3;
    wcheck_member ("c1", "lim", "player");
    char *last = NULL;
    for (int i = 0; i < limit; i++) {
        cJSON *a = wcheck_ok (i % S_WORKERS, "lim", "actor:create",
                              i < personal ? "{\"name\":\"n\",\"type\":\"t\"}"
                                           : "{\"name\":\"n\",\"type\":\"t\",\"campaignId\":\"c1\"}");
        free (last);
        last = strdup (wcheck_str (a, "id"));
        cJSON_Delete (a);
    }
    wcheck_err (0, "lim", "actor:create", "{\"name\":\"n\",\"type\":\"t\"}", "VALIDATION_ERROR");
    wcheck_err (1, "lim", "actor:create", "{\"name\":\"n\",\"type\":\"t\",\"campaignId\":\"c1\"}",
                "VALIDATION_ERROR");
    cJSON *none = wcheck_ok (0, "lim", "actor:delete", wcheck_quote (last));   /* a campaign one */
    CHECK (!none);
    cJSON *a = wcheck_ok (1, "lim", "actor:create", "{\"name\":\"n\",\"type\":\"t\"}");
    cJSON_Delete (a);
    wcheck_err (0, "lim", "actor:create", "{\"name\":\"n\",\"type\":\"t\"}", "VALIDATION_ERROR");
    free (last);
    wcheck_drain (100);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-actors-check /path/to/parley-actors [-v]\n");
        return 2;
    }
    wcheck_init ("actors_check", argc > 2 && strcmp (argv[2], "-v") == 0);
    setenv ("PARLEY_ACTORS_PER_USER", S_LIMIT, 1);      /* the workers inherit it */
    for (int w = 0; w < S_WORKERS; w++)
        wcheck_worker (w, argv[1], "actors", NULL);
    for (int w = 0; w < S_WORKERS; w++)
        wcheck_probe (w, "actor:create", "{\"name\":\"p\",\"type\":\"p\"}");

    printf ("actors_check: contract\n");
    s_contract ();
    printf ("actors_check: campaign\n");
    s_campaign ();
    printf ("actors_check: limit\n");
    s_limit ();
    printf ("actors_check: races\n");
    s_races ();
    printf ("actors_check: races, every field\n");
    s_races_fields ();
    printf ("actors_check: update vs delete\n");
    s_update_vs_delete ();
    printf ("actors_check: redis outage\n");
    s_outage ();
    printf ("actors_check: broker restart\n");
    /* 0: each worker's next heartbeat is told BYE; past the window: each
     * has given the broker up and comes back with a new socket */
    const int downs[] = { 0, WCHECK_WINDOW_MS + 1000 };
    for (size_t d = 0; d < sizeof downs / sizeof downs[0]; d++) {
        wcheck_broker_restart (downs[d]);
        for (int w = 0; w < S_WORKERS; w++) {
            cJSON *list = wcheck_ok (w, "erin", "actor:list", NULL);
            CHECK (cJSON_GetArraySize (list) == 1);
            cJSON_Delete (list);
        }
    }
    printf ("actors_check: SIGTERM\n");
    wcheck_stop_workers ();
    wcheck_done ();
    return 0;
}
