/*  parley-gamestate-check - drive two real parley-gamestate processes
 *  against a private redis-server, with this program playing the broker
 *  backend (ROUTER) and the event proxy (bound SUB) (tests/workers/
 *  wcheck.h).
 *
 *      parley-gamestate-check /path/to/parley-gamestate [-v]
 *
 *  It checks the game-state contract (proto/README.md event table, issue
 *  5): sessions, membership and GM rules, VERSION_CONFLICT with
 *  currentVersion, VALIDATION_ERROR with index, idempotent update ids,
 *  strict serialization of updates fired at both workers at once (one
 *  winner per version, versions and log ids gap-free), sync slices and the
 *  full-state fallback once the log is trimmed, token:move ownership, and
 *  the actor/item session index. Memberships are seeded straight into
 *  Redis (the campaigns worker is not under test here).
 */
#include "wcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WORKERS 2
#define S_LOG_MAX "20"                  /* PARLEY_SESSION_LOG_MAX for the workers */

/* The next bus event: its room, push name and payload (caller frees);
 * NULL when none came within timeout_ms. */
static cJSON *
s_event (char *room, size_t room_size, char *push, size_t push_size, int timeout_ms)
{
    wcheck_bus_t bus;
    if (!wcheck_bus_next (&bus, timeout_ms))
        return NULL;
    CHECK (bus.frames == 7 && !bus.except_text && strcmp (bus.kind, "EV") == 0);
    CHECK (strlen (bus.room) < room_size);
    snprintf (room, room_size, "%s", bus.room);
    CHECK (cJSON_GetArraySize (bus.packet) == 2);
    snprintf (push, push_size, "%s", cJSON_GetArrayItem (bus.packet, 0)->valuestring);
    cJSON *payload = cJSON_DetachItemFromArray (bus.packet, 1);
    wcheck_bus_clear (&bus);
    return payload;
}

/* ---- helpers for the game state -------------------------------------- */

static char s_sid[64];                  /* the session under test        */
static char s_room_name[96];            /* session:<sid>                 */

static long
s_current (void)
{
    char body[128];
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    cJSON *data = wcheck_ok (0, "gm", "gameState:requestFull", body);
    long v = atol (wcheck_str (cJSON_GetObjectItem (data, "gameState"), "stateVersion"));
    cJSON_Delete (data);
    return v;
}

/* An update body: id, base version, operations JSON. */
static char *
s_update_body (const char *id, long version, const char *ops)
{
    char *body = NULL;
    CHECK (asprintf (&body, "{\"id\":\"%s\",\"sessionId\":\"%s\",\"version\":\"%ld\","
                            "\"operations\":%s,\"timestamp\":1700000000000}",
                     id, s_sid, version, ops) > 0);
    return body;
}

/* ---- scenarios ------------------------------------------------------- */

static void
s_sessions (void)
{
    /* campaign c1: gm is its GM, pl a player; out is no member */
    freeReplyObject (wcheck_redis ("HSET pl:campaign:c1:members gm gm pl player"));
    freeReplyObject (wcheck_redis ("SET pl:actor:a-pl {\"id\":\"a-pl\",\"createdBy\":\"pl\",\"name\":\"P\",\"type\":\"pc\"}"));
    freeReplyObject (wcheck_redis ("SET pl:actor:a-gm {\"id\":\"a-gm\",\"createdBy\":\"gm\",\"name\":\"G\",\"type\":\"npc\"}"));

    wcheck_err (0, "pl", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"S\"}", "FORBIDDEN");
    wcheck_err (0, "out", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"S\"}", "FORBIDDEN");
    wcheck_err (0, "gm", "gameSession:create", "{\"campaignId\":\"c1\"}", "VALIDATION_ERROR");
    wcheck_err (0, "gm", "gameSession:create", "{\"campaignId\":\"c 1\",\"name\":\"S\"}", "VALIDATION_ERROR");
    wcheck_err (0, "gm", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"\"}", "VALIDATION_ERROR");
    wcheck_err (0, "gm", "gameSession:create", "\"c1\"", "VALIDATION_ERROR");
    cJSON *session = wcheck_ok (0, "gm", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"Night 1\"}");
    snprintf (s_sid, sizeof s_sid, "%s", wcheck_str (session, "id"));
    snprintf (s_room_name, sizeof s_room_name, "session:%s", s_sid);
    CHECK (strcmp (wcheck_str (session, "campaignId"), "c1") == 0);
    CHECK (strcmp (wcheck_str (session, "name"), "Night 1") == 0);
    CHECK (strcmp (wcheck_str (session, "createdBy"), "gm") == 0);
    char room[160], push[64];
    cJSON *ev = s_event (room, sizeof room, push, sizeof push, 3000);
    CHECK (ev && strcmp (room, "campaign:c1") == 0 && strcmp (push, "gameSession:created") == 0);
    CHECK (cJSON_Compare (ev, session, true));
    cJSON_Delete (ev);
    /* what pl_authz reads for the session room */
    redisReply *r = wcheck_redis ("HGET pl:session:%s campaignId", s_sid);
    CHECK (r->type == REDIS_REPLY_STRING && strcmp (r->str, "c1") == 0);
    freeReplyObject (r);
    r = wcheck_redis ("SISMEMBER pl:campaign:c1:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);

    /* list: members only */
    cJSON *list = wcheck_ok (1, "pl", "gameSession:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1 && cJSON_Compare (cJSON_GetArrayItem (list, 0), session, true));
    cJSON_Delete (list);
    wcheck_err (1, "out", "gameSession:list", "{\"campaignId\":\"c1\"}", "FORBIDDEN");

    /* join: members, with the room directive; others NOT_FOUND */
    char body[128];
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    int seq;
    cJSON *directives = NULL;
    wcheck_send (1, "gm", "gameSession:join", body);
    cJSON *reply = wcheck_reply (&seq, &directives);
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    cJSON *data = cJSON_GetObjectItem (reply, "data");
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "isGM")));
    CHECK (cJSON_Compare (cJSON_GetObjectItem (data, "session"), session, true));
    cJSON *state = cJSON_GetObjectItem (data, "gameState");
    CHECK (strcmp (wcheck_str (state, "stateVersion"), "0") == 0);
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (state, "currentEncounter")));
    CHECK (cJSON_IsArray (cJSON_GetObjectItem (state, "characters")));
    char *dtext = cJSON_PrintUnformatted (directives);
    char want[160];
    snprintf (want, sizeof want, "{\"join\":[\"%s\"]}", s_room_name);
    CHECK (dtext && strcmp (dtext, want) == 0);
    free (dtext);
    cJSON_Delete (directives);
    cJSON_Delete (reply);
    data = wcheck_ok (0, "pl", "gameSession:join", body);
    CHECK (cJSON_IsFalse (cJSON_GetObjectItem (data, "isGM")));
    cJSON_Delete (data);
    wcheck_err (0, "out", "gameSession:join", body, "NOT_FOUND");
    wcheck_err (0, "out", "gameState:requestFull", body, "NOT_FOUND");
    wcheck_err (0, "gm", "gameSession:join", "\"no-such-session\"", "NOT_FOUND");
    wcheck_err (0, "gm", "gameSession:join", "{}", "VALIDATION_ERROR");
    wcheck_err (0, "gm", "gameSession:join", "\"a/b\"", "VALIDATION_ERROR");
    /* leave: directive leave, always succeeds */
    wcheck_send (0, "pl", "gameSession:leave", body);
    reply = wcheck_reply (&seq, &directives);
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    dtext = cJSON_PrintUnformatted (directives);
    snprintf (want, sizeof want, "{\"leave\":[\"%s\"]}", s_room_name);
    CHECK (dtext && strcmp (dtext, want) == 0);
    free (dtext);
    cJSON_Delete (directives);
    cJSON_Delete (reply);
    cJSON_Delete (session);
    /* joining is subscribing: presence in the session room - gm joined,
     * pl joined. (Each plain-user request here is a new connection, so
     * pl's second join is a second tab of the same presence and the leave
     * above takes away one tab: no presence:left.) gm joined through
     * worker 1 and pl through worker 0: two publishers on two connections
     * to the bus, which orders nothing between them (proto/README.md,
     * Event bus, promises no order), and each publishes after its reply.
     * So the two are a set: each exactly once, in either order. */
    const char *expect[][2] = { { "presence:joined", "gm" }, { "presence:joined", "pl" } };
    const size_t nexpect = sizeof expect / sizeof expect[0];
    bool seen[sizeof expect / sizeof expect[0]] = { false };
    for (size_t n = 0; n < nexpect; n++) {
        char room[160], push[64];
        cJSON *ev = s_event (room, sizeof room, push, sizeof push, 3000);
        CHECK (ev && strcmp (room, s_room_name) == 0);
        CHECK (strcmp (wcheck_str (ev, "room"), s_room_name) == 0);
        size_t i = 0;
        while (i < nexpect && (seen[i] || strcmp (push, expect[i][0]) != 0
                               || strcmp (wcheck_str (ev, "userId"), expect[i][1]) != 0))
            i++;
        if (i == nexpect)
            fprintf (stderr, "unexpected or repeated %s of %s\n", push, wcheck_str (ev, "userId"));
        CHECK (i < nexpect);
        seen[i] = true;
        cJSON_Delete (ev);
    }
}

static void
s_updates (void)
{
    /* a first update: the ack, the event, the log entry */
    char *body = s_update_body ("u-1", 0,
        "[{\"path\":\"currentEncounter\",\"operation\":\"set\",\"value\":{\"encounter\":\"e\",\"map\":\"m\","
        "\"tokens\":[{\"id\":\"t-pl\",\"actorId\":\"a-pl\",\"x\":0,\"y\":0},"
        "{\"id\":\"t-gm\",\"actorId\":\"a-gm\",\"x\":5,\"y\":5}]}},"
        "{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"id\":\"a-pl\",\"name\":\"P\"}},"
        "{\"path\":\"items\",\"operation\":\"push\",\"value\":{\"id\":\"i-1\"}}]");
    cJSON *reply = wcheck_call (0, "gm", "gameState:update", body);
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    CHECK (strcmp (wcheck_str (reply, "newVersion"), "1") == 0);
    CHECK (!cJSON_GetObjectItem (reply, "data"));
    char *first = cJSON_PrintUnformatted (reply);
    cJSON_Delete (reply);
    char room[160], push[64];
    cJSON *ev = s_event (room, sizeof room, push, sizeof push, 3000);
    CHECK (ev && strcmp (room, s_room_name) == 0 && strcmp (push, "gameState:updated") == 0);
    CHECK (strcmp (wcheck_str (ev, "sessionId"), s_sid) == 0);
    CHECK (strcmp (wcheck_str (ev, "id"), "u-1") == 0);
    CHECK (strcmp (wcheck_str (ev, "version"), "1") == 0);
    CHECK (strcmp (wcheck_str (ev, "previousVersion"), "0") == 0);
    CHECK (strcmp (wcheck_str (ev, "source"), "gm") == 0);
    CHECK (cJSON_GetObjectItem (ev, "timestamp")->valuedouble == 1700000000000.0);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (ev, "operations")) == 3);
    cJSON_Delete (ev);

    /* the index: a-pl and i-1 are embedded now */
    redisReply *r = wcheck_redis ("SISMEMBER pl:actor:a-pl:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);
    r = wcheck_redis ("SISMEMBER pl:item:i-1:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);

    /* the same id again: the first ack, nothing applied (either worker) */
    for (int w = 0; w < S_WORKERS; w++) {
        reply = wcheck_call (w, "gm", "gameState:update", body);
        char *again = cJSON_PrintUnformatted (reply);
        CHECK (strcmp (again, first) == 0);
        free (again);
        cJSON_Delete (reply);
    }
    free (body);
    free (first);
    CHECK (s_current () == 1);

    /* players may not update; outsiders do not see the session */
    body = s_update_body ("u-p", 1, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1}]");
    wcheck_err (0, "pl", "gameState:update", body, "FORBIDDEN");
    wcheck_err (0, "out", "gameState:update", body, "NOT_FOUND");
    free (body);

    /* a stale version: VERSION_CONFLICT with currentVersion */
    body = s_update_body ("u-old", 0, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1}]");
    cJSON *error = wcheck_error (1, "gm", "gameState:update", body, "VERSION_CONFLICT");
    CHECK (strcmp (wcheck_str (error, "currentVersion"), "1") == 0);
    cJSON_Delete (error);
    free (body);

    /* an invalid operation: VALIDATION_ERROR with its index; none applied */
    const char *bad[] = {
        "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"pluginData.x\",\"operation\":\"push\",\"value\":2}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"__proto__.x\",\"operation\":\"set\",\"value\":1}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"pluginData..b\",\"operation\":\"set\",\"value\":1}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"pluginData.a\",\"operation\":\"explode\",\"value\":1}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":\"s\"},"
        "{\"path\":\"pluginData.a\",\"operation\":\"inc\",\"value\":1}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body = s_update_body ("u-bad", 1, bad[i]);
        error = wcheck_error ((int) i % 2, "gm", "gameState:update", body, "VALIDATION_ERROR");
        CHECK (cJSON_GetObjectItem (error, "index")->valueint == 1);
        cJSON_Delete (error);
        free (body);
    }
    CHECK (s_current () == 1);
    const char *shapes[] = {
        "{\"sessionId\":\"x\"}", "[]", "\"x\"",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        wcheck_err (0, "gm", "gameState:update", shapes[i], "VALIDATION_ERROR");
    char raw[512];
    const char *fields[] = {
        "\"id\":\"\",\"version\":\"1\",\"operations\":[]",
        "\"id\":7,\"version\":\"1\",\"operations\":[]",
        "\"id\":\"v\",\"version\":\"01\",\"operations\":[]",
        "\"id\":\"v\",\"version\":-1,\"operations\":[]",
        "\"id\":\"v\",\"version\":\"1\",\"operations\":{}",
        "\"id\":\"v\",\"version\":\"1\",\"operations\":[]",                  /* empty */
        "\"id\":\"v\",\"version\":\"1\",\"operations\":[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1}],\"timestamp\":\"now\"",
        "\"id\":\"v\",\"version\":\"1\",\"operations\":[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1}],\"source\":\"system\"",
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        snprintf (raw, sizeof raw, "{\"sessionId\":\"%s\",%s}", s_sid, fields[i]);
        wcheck_err (0, "gm", "gameState:update", raw, "VALIDATION_ERROR");
    }
    /* a numeric version is accepted */
    snprintf (raw, sizeof raw, "{\"sessionId\":\"%s\",\"id\":\"u-num\",\"version\":1,"
              "\"operations\":[{\"path\":\"pluginData.n\",\"operation\":\"set\",\"value\":1}]}", s_sid);
    reply = wcheck_call (1, "gm", "gameState:update", raw);
    CHECK (strcmp (wcheck_code (reply), "") == 0 && strcmp (wcheck_str (reply, "newVersion"), "2") == 0);
    cJSON_Delete (reply);
    /* its event, the only one since u-1's: read, not drained on a timer,
     * so a late one cannot reach the next scenario */
    ev = s_event (room, sizeof room, push, sizeof push, 3000);
    CHECK (ev && strcmp (room, s_room_name) == 0 && strcmp (push, "gameState:updated") == 0);
    CHECK (strcmp (wcheck_str (ev, "id"), "u-num") == 0 && strcmp (wcheck_str (ev, "version"), "2") == 0);
    cJSON_Delete (ev);
}

/* Fire K updates with the same base version at both workers at once,
 * round after round: exactly one wins each round, the others see the
 * winner's version. Then version-less token moves from both workers: all
 * apply, each with its own version. Versions, events and log ids are
 * gap-free and unique. */
static void
s_concurrency (void)
{
    const int rounds = 12, k = 6;
    long base = s_current ();
    for (int r = 0; r < rounds; r++) {
        long v = base + r;
        for (int i = 0; i < k; i++) {
            char id[32], ops[128];
            snprintf (id, sizeof id, "race-%d-%d", r, i);
            snprintf (ops, sizeof ops, "[{\"path\":\"pluginData.race\",\"operation\":\"push\",\"value\":\"%d-%d\"}]", r, i);
            if (r == 0 && i == 0) {
                char *init = s_update_body ("race-init", v, "[{\"path\":\"pluginData.race\",\"operation\":\"set\",\"value\":[]}]");
                cJSON *ok = wcheck_call (0, "gm", "gameState:update", init);
                CHECK (strcmp (wcheck_code (ok), "") == 0);
                cJSON_Delete (ok);
                free (init);
                base++;
                v++;
            }
            char *body = s_update_body (id, v, ops);
            wcheck_send (i % S_WORKERS, "gm", "gameState:update", body);
            free (body);
        }
        int wins = 0, conflicts = 0;
        for (int i = 0; i < k; i++) {
            int seq;
            cJSON *reply = wcheck_reply (&seq, NULL);
            if (strcmp (wcheck_code (reply), "") == 0) {
                wins++;
                CHECK (atol (wcheck_str (reply, "newVersion")) == v + 1);
            }
            else {
                CHECK (strcmp (wcheck_code (reply), "VERSION_CONFLICT") == 0);
                const cJSON *cur = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "currentVersion");
                CHECK (cJSON_IsString (cur) && atol (cur->valuestring) == v + 1);
                conflicts++;
            }
            cJSON_Delete (reply);
        }
        CHECK (wins == 1 && conflicts == k - 1);
    }
    long after_races = s_current ();
    CHECK (after_races == base + rounds);

    /* version-less commits from both workers: none lost, none doubled */
    const int moves = 40;
    char body[256];
    bool seen[64] = { false };
    for (int i = 0; i < moves; i++) {
        snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-gm\",\"x\":%d,\"y\":%d}",
                  s_sid, i, -i);
        wcheck_send (i % S_WORKERS, "gm", "token:move", body);
    }
    for (int i = 0; i < moves; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        CHECK (strcmp (wcheck_code (reply), "") == 0);
        long v = atol (wcheck_str (cJSON_GetObjectItem (reply, "data"), "newVersion"));
        CHECK (v > after_races && v <= after_races + moves);
        CHECK (!seen[v - after_races - 1]);
        seen[v - after_races - 1] = true;
        cJSON_Delete (reply);
    }
    long final = s_current ();
    CHECK (final == after_races + moves);

    /* every applied update was announced once, with its own version (base
     * is race-init's: it too). Two publishers, so in no order; and counted
     * up to the number expected, each wait bounded, rather than read until
     * a quiet gap, which a busy box can open anywhere */
    const int want = (int) (final - base + 1);
    int events = 0;
    bool announced[256] = { false };
    char room[160], push[64];
    cJSON *ev;
    while (events < want && (ev = s_event (room, sizeof room, push, sizeof push, 3000))) {
        if (strcmp (push, "gameState:updated") == 0) {
            long v = atol (wcheck_str (ev, "version"));
            CHECK (v > 0 && v < 256 && !announced[v]);
            CHECK (atol (wcheck_str (ev, "previousVersion")) == v - 1);
            announced[v] = true;
            events++;
        }
        cJSON_Delete (ev);
    }
    CHECK (events == want);
    for (long v = base; v <= final; v++)
        CHECK (announced[v]);
    /* and none twice, nor any other */
    while ((ev = s_event (room, sizeof room, push, sizeof push, 300))) {
        if (strcmp (push, "gameState:updated") == 0)
            fprintf (stderr, "gameState:updated once more: version %s\n", wcheck_str (ev, "version"));
        CHECK (strcmp (push, "gameState:updated") != 0);
        cJSON_Delete (ev);
    }

    /* the log: ids contiguous up to the state's version, trimmed to the
     * retention */
    redisReply *r = wcheck_redis ("XRANGE pl:session:%s:log - +", s_sid);
    CHECK (r->type == REDIS_REPLY_ARRAY && r->elements == (size_t) atoi (S_LOG_MAX));
    for (size_t i = 0; i < r->elements; i++) {
        char want[32];
        snprintf (want, sizeof want, "%ld-0", final - (long) r->elements + 1 + (long) i);
        CHECK (strcmp (r->element[i]->element[0]->str, want) == 0);
    }
    freeReplyObject (r);

    /* and the state holds each race winner's push, one per round */
    char sbody[128];
    snprintf (sbody, sizeof sbody, "\"%s\"", s_sid);
    cJSON *data = wcheck_ok (0, "gm", "gameState:requestFull", sbody);
    cJSON *race = cJSON_GetObjectItem (cJSON_GetObjectItem (cJSON_GetObjectItem (data, "gameState"),
                                                             "pluginData"), "race");
    CHECK (cJSON_GetArraySize (race) == rounds);
    cJSON_Delete (data);
    if (wcheck_verbose ())
        printf ("  %d rounds of %d racing updates, %d token moves: versions %ld..%ld gap-free\n",
                rounds, k, moves, base + 1, final);
}

static void
s_sync (void)
{
    long v = s_current ();
    char body[256];
    /* the last 3 updates, in order */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v - 3);
    cJSON *data = wcheck_ok (1, "pl", "gameState:sync", body);
    cJSON *updates = cJSON_GetObjectItem (data, "updates");
    CHECK (cJSON_GetArraySize (updates) == 3 && !cJSON_GetObjectItem (data, "full"));
    for (int i = 0; i < 3; i++) {
        cJSON *u = cJSON_GetArrayItem (updates, i);
        CHECK (atol (wcheck_str (u, "version")) == v - 2 + i);
        CHECK (strcmp (wcheck_str (u, "sessionId"), s_sid) == 0);
        CHECK (strcmp (wcheck_str (u, "source"), "system") == 0);    /* token moves */
    }
    cJSON_Delete (data);
    /* a number works too; up to date: nothing */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":%ld}", s_sid, v);
    data = wcheck_ok (0, "pl", "gameState:sync", body);
    CHECK (cJSON_IsArray (cJSON_GetObjectItem (data, "updates")));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (data, "updates")) == 0);
    cJSON_Delete (data);
    /* trimmed: version 1 is long gone from a log of 20 -> the full state */
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    cJSON *full = wcheck_ok (0, "gm", "gameState:requestFull", body);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"1\"}", s_sid);
    data = wcheck_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    CHECK (cJSON_Compare (cJSON_GetObjectItem (data, "gameState"), cJSON_GetObjectItem (full, "gameState"), true));
    cJSON_Delete (data);
    /* the oldest the log still reaches: exactly the log */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v - atol (S_LOG_MAX));
    data = wcheck_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (data, "updates")) == atoi (S_LOG_MAX));
    cJSON_Delete (data);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v - atol (S_LOG_MAX) - 1);
    data = wcheck_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    cJSON_Delete (data);
    /* ahead of the server: full */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v + 5);
    data = wcheck_ok (0, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    cJSON_Delete (data);
    cJSON_Delete (full);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"x\"}", s_sid);
    wcheck_err (0, "pl", "gameState:sync", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"1\"}", s_sid);
    wcheck_err (0, "out", "gameState:sync", body, "NOT_FOUND");
}

/* A sync answers with the updates only while they are smaller than the
 * state they lead to (at least 256 KiB): five updates of a 60 KB string
 * are more than that, so a sync from before them gets the full state;
 * from before the last three (180 KB), the updates. */
static void
s_sync_budget (void)
{
    long v = s_current ();
    char *blob = malloc (60001);
    CHECK (blob);
    for (int i = 0; i < 5; i++) {
        memset (blob, 'a' + i, 60000);
        blob[60000] = '\0';
        char id[32], *ops = NULL;
        snprintf (id, sizeof id, "blob-%d", i);
        CHECK (asprintf (&ops, "[{\"path\":\"pluginData.blob\",\"operation\":\"set\",\"value\":\"%s\"}]",
                         blob) > 0);
        char *body = s_update_body (id, v + i, ops);
        cJSON_Delete (wcheck_ok (0, "gm", "gameState:update", body));
        free (body);
        free (ops);
    }
    free (blob);
    char body[256];
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v);
    cJSON *data = wcheck_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    CHECK (atol (wcheck_str (cJSON_GetObjectItem (data, "gameState"), "stateVersion")) == v + 5);
    cJSON_Delete (data);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v + 2);
    data = wcheck_ok (1, "pl", "gameState:sync", body);
    CHECK (!cJSON_GetObjectItem (data, "full"));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (data, "updates")) == 3);
    cJSON_Delete (data);
    char *undo = s_update_body ("blob-gone", v + 5,
                                "[{\"path\":\"pluginData.blob\",\"operation\":\"unset\"}]");
    cJSON_Delete (wcheck_ok (0, "gm", "gameState:update", undo));
    free (undo);
}

static void
s_tokens (void)
{
    char body[256];
    long v = s_current ();
    /* a player moves the token of their own actor, not the GM's */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-pl\",\"x\":3.5,\"y\":4}", s_sid);
    cJSON *data = wcheck_ok (0, "pl", "token:move", body);
    CHECK (atol (wcheck_str (data, "newVersion")) == v + 1);
    cJSON_Delete (data);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-gm\",\"x\":1,\"y\":1}", s_sid);
    wcheck_err (1, "pl", "token:move", body, "FORBIDDEN");
    wcheck_err (1, "out", "token:move", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"nope\",\"x\":1,\"y\":1}", s_sid);
    wcheck_err (1, "pl", "token:move", body, "NOT_FOUND");
    wcheck_err (1, "gm", "token:move", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-pl\",\"x\":\"1\",\"y\":1}", s_sid);
    wcheck_err (1, "pl", "token:move", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-pl\",\"x\":1e999,\"y\":1}", s_sid);
    wcheck_err (1, "pl", "token:move", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    data = wcheck_ok (0, "gm", "gameState:requestFull", body);
    cJSON *tokens = cJSON_GetObjectItem (cJSON_GetObjectItem (cJSON_GetObjectItem (data, "gameState"),
                                                               "currentEncounter"), "tokens");
    CHECK (cJSON_GetObjectItem (cJSON_GetArrayItem (tokens, 0), "x")->valuedouble == 3.5);
    CHECK (cJSON_GetObjectItem (cJSON_GetArrayItem (tokens, 0), "y")->valuedouble == 4);
    CHECK (atol (wcheck_str (cJSON_GetObjectItem (data, "gameState"), "stateVersion")) == v + 1);
    cJSON_Delete (data);

    /* the index follows the state: pulling the actor out drops it */
    char *upd = s_update_body ("u-pull", v + 1,
                               "[{\"path\":\"actors\",\"operation\":\"pull\",\"value\":{\"id\":\"a-pl\",\"name\":\"P\"}}]");
    data = wcheck_call (0, "gm", "gameState:update", upd);
    CHECK (strcmp (wcheck_code (data), "") == 0);
    cJSON_Delete (data);
    free (upd);
    redisReply *r = wcheck_redis ("SISMEMBER pl:actor:a-pl:sessions %s", s_sid);
    CHECK (r->integer == 0);
    freeReplyObject (r);
    r = wcheck_redis ("SISMEMBER pl:item:i-1:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);
    wcheck_drain (200);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-gamestate-check /path/to/parley-gamestate [-v]\n");
        return 2;
    }
    wcheck_init ("gamestate_check", argc > 2 && strcmp (argv[2], "-v") == 0);
    /* a deeper credit for the races, and a short session log so that sync
     * falls back to the full state (heartbeat and liveness are the
     * harness's: the 3 s window this check once set was shorter) */
    const char *env[] = { "PARLEY_WORKER_CREDIT=32", "PARLEY_SESSION_LOG_MAX=" S_LOG_MAX, NULL };
    for (int w = 0; w < S_WORKERS; w++)
        wcheck_worker (w, argv[1], "gamestate", env);
    /* a PUB sends nothing until it has our subscription: probe each worker
     * with session creates until its event is heard */
    for (int i = 0; i < WCHECK_PROBES; i++) {       /* wcheck_probe's users */
        char probe[16];
        snprintf (probe, sizeof probe, "probe%d", i);
        wcheck_member ("probe", probe, "gm");
    }
    for (int w = 0; w < S_WORKERS; w++)
        wcheck_probe (w, "gameSession:create", "{\"campaignId\":\"probe\",\"name\":\"p\"}");

    printf ("gamestate_check: sessions\n");
    s_sessions ();
    printf ("gamestate_check: updates\n");
    s_updates ();
    printf ("gamestate_check: concurrency\n");
    s_concurrency ();
    printf ("gamestate_check: sync\n");
    s_sync ();
    printf ("gamestate_check: sync budget\n");
    s_sync_budget ();
    printf ("gamestate_check: tokens\n");
    s_tokens ();
    wcheck_done ();
    return 0;
}
