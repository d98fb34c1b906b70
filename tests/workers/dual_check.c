/*  parley-dual-check - the dual update (issue 5, section 5) at the bus
 *  level: real parley-actors, parley-items and parley-gamestate processes
 *  against a private redis-server, this program playing the broker
 *  backend and the event proxy (tests/workers/wcheck.h).
 *
 *      parley-dual-check ACTORS ITEMS GAMESTATE [-v]
 *
 *  It checks, event by event and version by version (so a loop between
 *  the two directions, or a missing update, fails):
 *    - entity -> state: actor:update of an embedded actor gives its usual
 *      actor:updated, then one gameState:updated with source "system" that
 *      sets the copy to the stored actor;
 *    - state -> entity: a GM's gameState:update that changes the copy
 *      (inc hp) is ONE version of its state: the server appends "set" of
 *      the copy to exactly what the store holds after the same commit
 *      (version + 1, actor:updated to the campaign, the GM's connection
 *      included), so the GM's next update, based on the ack's newVersion,
 *      applies; another session of the campaign that embeds the actor
 *      gets one system update; a copy equal to the stored one writes
 *      nothing; server fields set in the copy write nothing and the
 *      appended "set" restores them in the same version; a copy that
 *      would make the actor invalid refuses the update (VALIDATION_ERROR
 *      with the operation's index); no state may embed a hidden actor:
 *      hiding it through the state is refused, and hiding it with
 *      actor:update removes its copies (a system unset); the item it holds
 *      stays in the state with actorId null (the players' item:updated,
 *      same version, and a system set), a GM update that names the hidden
 *      actor in the copy is refused, and the reveal names it again;
 *    - a GM of another campaign who types the actor's id into their state
 *      changes nothing in the store, and later updates of the actor never
 *      reach that state;
 *    - actor:delete removes the copies and syncs the copies of the items it
 *      held (actorId null); item:delete removes the item's copies;
 *    - a copy left behind the store (a writer that died between its store
 *      write and its syncs) is repaired by the next requestFull;
 *    - after each step actor:get / item:get equal the embedded copies.
 *  Memberships are seeded straight into Redis.
 */
#include "wcheck.h"
#include "pl_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_ACTORS, S_ITEMS, S_GAMESTATE };

static char s_sid[64], s_room[96];          /* campaign c1's session   */
static char s_sid2[64], s_room2[96];        /* campaign c2's session   */
static char s_sid3[64], s_room3[96];        /* c1's second session     */
static char s_actor[64], s_item[64];

/* The next bus event: it must go to room as push (and, when origin is not
 * NULL, carry that origin frame). Returns its payload (caller frees). */
static cJSON *
s_expect (const char *room, const char *push, const char *origin)
{
    wcheck_bus_t bus;
    CHECK (wcheck_bus_next (&bus, 3000));
    CHECK (strcmp (bus.kind, "EV") == 0);
    const cJSON *name = cJSON_GetArrayItem (bus.packet, 0);
    bool match = strcmp (bus.room, room) == 0
              && cJSON_GetArraySize (bus.packet) == 2
              && cJSON_IsString (name) && strcmp (name->valuestring, push) == 0;
    if (!match) {
        char *text = cJSON_PrintUnformatted (bus.packet);
        fprintf (stderr, "event to %s: %s; expected %s to %s\n", bus.room, text, push, room);
        free (text);
    }
    CHECK (match);
    if (origin)
        CHECK (strcmp (bus.origin, origin) == 0);
    cJSON *payload = cJSON_DetachItemFromArray (bus.packet, 1);
    wcheck_bus_clear (&bus);
    return payload;
}

/* The value of a gameState:updated's first operation. */
static const cJSON *
s_op_value (const cJSON *update)
{
    return cJSON_GetObjectItem (cJSON_GetArrayItem (cJSON_GetObjectItem (update, "operations"), 0),
                                "value");
}

/* Expect gameState:updated to room with version and source; returns it. */
static cJSON *
s_expect_update (const char *room, long version, const char *source)
{
    cJSON *u = s_expect (room, "gameState:updated", "");
    CHECK (atol (wcheck_str (u, "version")) == version);
    CHECK (atol (wcheck_str (u, "previousVersion")) == version - 1);
    CHECK (strcmp (wcheck_str (u, "source"), source) == 0);
    return u;
}

static cJSON *
s_state (const char *uid, const char *sid)
{
    cJSON *data = wcheck_ok (S_GAMESTATE, uid, "gameState:requestFull", wcheck_quote (sid));
    cJSON *state = cJSON_DetachItemFromObject (data, "gameState");
    cJSON_Delete (data);
    return state;
}

static long
s_version (const cJSON *state)
{
    return atol (wcheck_str (state, "stateVersion"));
}

/* A GM update based on version; expects success and returns newVersion. */
static long
s_update (const char *uid, const char *sid, long version, const char *ops)
{
    static int n;
    char *body = NULL;
    CHECK (asprintf (&body, "{\"id\":\"dual-%d\",\"sessionId\":\"%s\",\"version\":\"%ld\","
                            "\"operations\":%s}", ++n, sid, version, ops) > 0);
    cJSON *reply = wcheck_call (S_GAMESTATE, uid, "gameState:update", body);
    if (strcmp (wcheck_code (reply), "") != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "gameState:update %s -> %s\n", body, text);
        free (text);
    }
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    long v = atol (wcheck_str (reply, "newVersion"));
    CHECK (v == version + 1);
    cJSON_Delete (reply);
    free (body);
    return v;
}

/* The entity the store holds equals every copy (by id) in the state. */
static void
s_agree (const char *uid, const char *sid, const char *key, const char *id)
{
    const char *get = strcmp (key, "actors") == 0 ? "actor:get" : "item:get";
    cJSON *stored = wcheck_ok (strcmp (key, "actors") == 0 ? S_ACTORS : S_ITEMS, uid, get,
                               wcheck_quote (id));
    cJSON *state = s_state (uid, sid);
    int copies = 0;
    const cJSON *entry;
    cJSON_ArrayForEach (entry, cJSON_GetObjectItem (state, key))
        if (strcmp (wcheck_str (entry, "id"), id) == 0) {
            CHECK (cJSON_Compare (entry, stored, true));
            copies++;
        }
    CHECK (copies > 0);
    cJSON_Delete (stored);
    cJSON_Delete (state);
}

static void
s_setup (void)
{
    wcheck_member ("c1", "gm", "gm");
    wcheck_member ("c1", "pl", "player");
    wcheck_member ("c1", "pl2", "player");
    wcheck_member ("c2", "gm2", "gm");
    cJSON *session = wcheck_ok (S_GAMESTATE, "gm", "gameSession:create",
                                "{\"campaignId\":\"c1\",\"name\":\"one\"}");
    snprintf (s_sid, sizeof s_sid, "%s", wcheck_str (session, "id"));
    snprintf (s_room, sizeof s_room, "session:%s", s_sid);
    cJSON_Delete (session);
    session = wcheck_ok (S_GAMESTATE, "gm2", "gameSession:create",
                         "{\"campaignId\":\"c2\",\"name\":\"two\"}");
    snprintf (s_sid2, sizeof s_sid2, "%s", wcheck_str (session, "id"));
    snprintf (s_room2, sizeof s_room2, "session:%s", s_sid2);
    cJSON_Delete (session);
    cJSON *actor = wcheck_ok (S_ACTORS, "pl", "actor:create",
                              "{\"name\":\"Ann\",\"type\":\"pc\",\"campaignId\":\"c1\",\"hp\":10}");
    snprintf (s_actor, sizeof s_actor, "%s", wcheck_str (actor, "id"));
    cJSON_Delete (actor);
    char body[256];
    snprintf (body, sizeof body, "{\"name\":\"Rope\",\"campaignId\":\"c1\",\"actorId\":\"%s\"}",
              s_actor);
    cJSON *item = wcheck_ok (S_ITEMS, "pl", "item:create", body);
    snprintf (s_item, sizeof s_item, "%s", wcheck_str (item, "id"));
    cJSON_Delete (item);
    wcheck_drain (200);
}

/* The GM embeds the stored actor and item: one version, nothing written. */
static void
s_embed (void)
{
    cJSON *actor = wcheck_ok (S_ACTORS, "gm", "actor:get", wcheck_quote (s_actor));
    cJSON *item = wcheck_ok (S_ITEMS, "gm", "item:get", wcheck_quote (s_item));
    char *a = cJSON_PrintUnformatted (actor), *i = cJSON_PrintUnformatted (item);
    char *ops = NULL;
    CHECK (asprintf (&ops, "[{\"path\":\"actors\",\"operation\":\"push\",\"value\":%s},"
                           "{\"path\":\"items\",\"operation\":\"push\",\"value\":%s}]", a, i) > 0);
    CHECK (s_update ("gm", s_sid, 0, ops) == 1);
    cJSON_Delete (s_expect_update (s_room, 1, "gm"));
    wcheck_quiet (300);                             /* no write back, no sync */
    redisReply *r = wcheck_redis ("SISMEMBER pl:actor:%s:sessions %s", s_actor, s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);
    cJSON *again = wcheck_ok (S_ACTORS, "gm", "actor:get", wcheck_quote (s_actor));
    CHECK (cJSON_Compare (again, actor, true));     /* version unchanged */
    s_agree ("pl", s_sid, "actors", s_actor);
    s_agree ("pl", s_sid, "items", s_item);
    cJSON_Delete (again);
    free (ops);
    free (a);
    free (i);
    cJSON_Delete (actor);
    cJSON_Delete (item);
}

/* actor:update -> the state, as one system update. */
static void
s_entity_to_state (void)
{
    char body[256];
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hp\":7,\"mood\":\"grim\"}", s_actor);
    cJSON *stored = wcheck_ok (S_ACTORS, "pl", "actor:update", body);
    char origin[32];
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    CHECK (wcheck_num (stored, "version") == 2 && wcheck_num (stored, "hp") == 7);
    cJSON *ev = s_expect ("campaign:c1", "actor:updated", origin);
    CHECK (cJSON_Compare (ev, stored, true));
    cJSON_Delete (ev);
    cJSON *u = s_expect_update (s_room, 2, "system");
    cJSON *want = cJSON_CreateArray ();
    cJSON *op = cJSON_CreateObject ();
    cJSON_AddStringToObject (op, "path", "actors.0");
    cJSON_AddStringToObject (op, "operation", "set");
    cJSON_AddItemToObject (op, "value", cJSON_Duplicate (stored, true));
    cJSON_AddItemToArray (want, op);
    CHECK (cJSON_Compare (cJSON_GetObjectItem (u, "operations"), want, true));
    cJSON_Delete (want);
    cJSON_Delete (u);
    wcheck_quiet (300);
    s_agree ("pl", s_sid, "actors", s_actor);
    cJSON *state = s_state ("gm", s_sid);
    CHECK (s_version (state) == 2);
    cJSON_Delete (state);
    cJSON_Delete (stored);
}

/* gameState:update -> the store -> every copy. */
static void
s_state_to_entity (void)
{
    /* a second session of c1 embeds the actor too */
    cJSON *session = wcheck_ok (S_GAMESTATE, "gm", "gameSession:create",
                                "{\"campaignId\":\"c1\",\"name\":\"three\"}");
    snprintf (s_sid3, sizeof s_sid3, "%s", wcheck_str (session, "id"));
    snprintf (s_room3, sizeof s_room3, "session:%s", s_sid3);
    cJSON_Delete (session);
    cJSON_Delete (s_expect ("campaign:c1", "gameSession:created", NULL));
    cJSON *actor = wcheck_ok (S_ACTORS, "gm", "actor:get", wcheck_quote (s_actor));
    char *text = cJSON_PrintUnformatted (actor), *ops = NULL;
    CHECK (asprintf (&ops, "[{\"path\":\"actors\",\"operation\":\"push\",\"value\":%s}]",
                     text) > 0);
    CHECK (s_update ("gm", s_sid3, 0, ops) == 1);
    cJSON_Delete (s_expect_update (s_room3, 1, "gm"));
    wcheck_quiet (300);
    free (ops);
    free (text);
    cJSON_Delete (actor);

    /* inc hp: ONE version of this state - the GM's, with the stored
     * actor the server appended, written in the same commit - then the
     * actor's event, then c1's other session */
    long v = s_update ("gm", s_sid, 2,
                       "[{\"path\":\"actors.0.hp\",\"operation\":\"inc\",\"value\":5}]");
    cJSON *mine = s_expect_update (s_room, v, "gm");
    const cJSON *mops = cJSON_GetObjectItem (mine, "operations");
    CHECK (cJSON_GetArraySize (mops) == 2);
    const cJSON *fixup = cJSON_GetArrayItem (mops, 1);
    CHECK (strcmp (wcheck_str (fixup, "path"), "actors.0") == 0);
    CHECK (strcmp (wcheck_str (fixup, "operation"), "set") == 0);
    cJSON *ev = s_expect ("campaign:c1", "actor:updated", "");     /* the GM's tab too */
    CHECK (wcheck_num (ev, "hp") == 12 && wcheck_num (ev, "version") == 3);
    CHECK (cJSON_Compare (cJSON_GetObjectItem (fixup, "value"), ev, true));
    CHECK (strcmp (wcheck_str (ev, "createdBy"), "pl") == 0);
    CHECK (strcmp (wcheck_str (ev, "mood"), "grim") == 0);
    cJSON *u = s_expect_update (s_room3, 2, "system");
    CHECK (cJSON_Compare (cJSON_GetObjectItem (cJSON_GetArrayItem (cJSON_GetObjectItem (u, "operations"), 0),
                                               "value"), ev, true));
    cJSON_Delete (u);
    cJSON_Delete (mine);
    wcheck_quiet (300);                             /* exactly one version here */
    cJSON *stored = wcheck_ok (S_ACTORS, "pl", "actor:get", wcheck_quote (s_actor));
    CHECK (cJSON_Compare (stored, ev, true));
    cJSON_Delete (stored);
    cJSON_Delete (ev);
    s_agree ("pl", s_sid, "actors", s_actor);
    s_agree ("pl", s_sid3, "actors", s_actor);
    cJSON *state0 = s_state ("gm", s_sid);
    CHECK (s_version (state0) == v);
    cJSON_Delete (state0);

    /* so the GM's next update, based on the ack's newVersion, applies */
    v = s_update ("gm", s_sid, v,
                  "[{\"path\":\"actors.0.hp\",\"operation\":\"inc\",\"value\":-2}]");
    cJSON_Delete (s_expect_update (s_room, v, "gm"));
    ev = s_expect ("campaign:c1", "actor:updated", "");
    CHECK (wcheck_num (ev, "hp") == 10 && wcheck_num (ev, "version") == 4);
    cJSON_Delete (ev);
    cJSON_Delete (s_expect_update (s_room3, 3, "system"));
    wcheck_quiet (300);
    s_agree ("pl", s_sid, "actors", s_actor);
    s_agree ("pl", s_sid3, "actors", s_actor);
    /* the second session lets it go (its index with it) */
    CHECK (s_update ("gm", s_sid3, 3, "[{\"path\":\"actors.0\",\"operation\":\"unset\"}]") == 4);
    cJSON_Delete (s_expect_update (s_room3, 4, "gm"));
    wcheck_quiet (300);
    redisReply *r = wcheck_redis ("SISMEMBER pl:actor:%s:sessions %s", s_actor, s_sid3);
    CHECK (r->integer == 0);
    freeReplyObject (r);

    /* server fields in the copy are not the client's: version, createdBy
     * set in the state write nothing, and the server's "set" of the
     * stored actor, in the same version, puts them back */
    v = s_update ("gm", s_sid, v,
                  "[{\"path\":\"actors.0.version\",\"operation\":\"set\",\"value\":99},"
                  "{\"path\":\"actors.0.createdBy\",\"operation\":\"set\",\"value\":\"gm\"}]");
    u = s_expect_update (s_room, v, "gm");
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (u, "operations")) == 3);
    cJSON_Delete (u);
    wcheck_quiet (300);                             /* no actor:updated, no system update */
    stored = wcheck_ok (S_ACTORS, "pl", "actor:get", wcheck_quote (s_actor));
    CHECK (wcheck_num (stored, "version") == 4);
    CHECK (strcmp (wcheck_str (stored, "createdBy"), "pl") == 0);
    cJSON_Delete (stored);
    s_agree ("pl", s_sid, "actors", s_actor);

    /* a copy that would make the actor invalid refuses the update, with
     * the index of the operation that made it so: state and store stay */
    char body[512];
    snprintf (body, sizeof body, "{\"id\":\"bad-name\",\"sessionId\":\"%s\",\"version\":\"%ld\","
              "\"operations\":[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1},"
              "{\"path\":\"actors.0.name\",\"operation\":\"set\",\"value\":\"\"}]}", s_sid, v);
    cJSON *err = wcheck_error (S_GAMESTATE, "gm", "gameState:update", body, "VALIDATION_ERROR");
    CHECK (wcheck_num (err, "index") == 1);
    cJSON_Delete (err);
    wcheck_quiet (300);
    cJSON *state = s_state ("gm", s_sid);
    CHECK (s_version (state) == v);
    cJSON_Delete (state);
    stored = wcheck_ok (S_ACTORS, "pl", "actor:get", wcheck_quote (s_actor));
    CHECK (strcmp (wcheck_str (stored, "name"), "Ann") == 0 && wcheck_num (stored, "version") == 4);
    cJSON_Delete (stored);
    s_agree ("pl", s_sid, "actors", s_actor);

    /* no state may embed a hidden actor (every member reads the state):
     * hiding it through the state is refused ... */
    snprintf (body, sizeof body, "{\"id\":\"hide\",\"sessionId\":\"%s\",\"version\":\"%ld\","
              "\"operations\":[{\"path\":\"actors.0.hidden\",\"operation\":\"set\",\"value\":true}]}",
              s_sid, v);
    err = wcheck_error (S_GAMESTATE, "gm", "gameState:update", body, "VALIDATION_ERROR");
    CHECK (wcheck_num (err, "index") == 0);
    cJSON_Delete (err);
    wcheck_quiet (300);
    /* ... and hiding it with actor:update takes it out of the state: the
     * players' actor:deleted, a system unset; the item it holds stays, but
     * the players who cannot see the actor now read its actorId as null:
     * item:updated (same version) and a system set of the item's copy.
     * The reveal leaves the actor out of the state (the GM embeds it
     * again) and names it in the item's copy again. */
    char origin[64];
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":true}", s_actor);
    cJSON_Delete (wcheck_ok (S_ACTORS, "pl", "actor:update", body));
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    cJSON_Delete (s_expect ("campaign:c1", "actor:deleted", NULL));
    cJSON_Delete (s_expect ("campaign:c1:gm", "actor:updated", NULL));
    cJSON_Delete (s_expect ("user:pl", "actor:updated", NULL));
    u = s_expect_update (s_room, ++v, "system");
    CHECK (strcmp (wcheck_str (cJSON_GetArrayItem (cJSON_GetObjectItem (u, "operations"), 0),
                               "operation"), "unset") == 0);
    cJSON_Delete (u);
    cJSON *item = wcheck_ok (S_ITEMS, "gm", "item:get", wcheck_quote (s_item));
    cJSON_ReplaceItemInObject (item, "actorId", cJSON_CreateNull ());
    char *item_text = cJSON_PrintUnformatted (item);
    wcheck_event_text ("campaign:c1", "item:updated", origin, item_text,
                       "[\"campaign:c1:gm\",\"user:pl\"]");
    u = s_expect_update (s_room, ++v, "system");
    CHECK (cJSON_Compare (s_op_value (u), item, true));
    cJSON_Delete (u);
    wcheck_quiet (300);
    wcheck_err (S_ACTORS, "pl2", "actor:get", wcheck_quote (s_actor), "NOT_FOUND");
    state = s_state ("pl2", s_sid);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (state, "actors")) == 0);
    cJSON_Delete (state);
    s_agree ("pl2", s_sid, "items", s_item);        /* null for pl2 as in the state */
    /* the state's readers never get the hidden holder, even from the GM */
    snprintf (body, sizeof body, "{\"id\":\"name-it\",\"sessionId\":\"%s\",\"version\":\"%ld\","
              "\"operations\":[{\"path\":\"items.0.actorId\",\"operation\":\"set\",\"value\":\"%s\"}]}",
              s_sid, v, s_actor);
    err = wcheck_error (S_GAMESTATE, "gm", "gameState:update", body, "VALIDATION_ERROR");
    CHECK (wcheck_num (err, "index") == 0);
    cJSON_Delete (err);
    wcheck_quiet (300);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":false}", s_actor);
    stored = wcheck_ok (S_ACTORS, "pl", "actor:update", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    cJSON_Delete (s_expect ("campaign:c1", "actor:created", NULL));
    cJSON_Delete (s_expect ("campaign:c1:gm", "actor:updated", NULL));
    cJSON_Delete (s_expect ("user:pl", "actor:updated", NULL));
    cJSON_ReplaceItemInObject (item, "actorId", cJSON_CreateString (s_actor));
    free (item_text);
    item_text = cJSON_PrintUnformatted (item);
    wcheck_event_text ("campaign:c1", "item:updated", origin, item_text,
                       "[\"campaign:c1:gm\",\"user:pl\"]");
    u = s_expect_update (s_room, ++v, "system");
    CHECK (cJSON_Compare (s_op_value (u), item, true));
    cJSON_Delete (u);
    free (item_text);
    cJSON_Delete (item);
    wcheck_quiet (300);                             /* the state holds no copy of the actor */
    s_agree ("pl2", s_sid, "items", s_item);
    text = cJSON_PrintUnformatted (stored);
    CHECK (asprintf (&ops, "[{\"path\":\"actors\",\"operation\":\"push\",\"value\":%s}]",
                     text) > 0);
    v = s_update ("gm", s_sid, v, ops);
    cJSON_Delete (s_expect_update (s_room, v, "gm"));
    wcheck_quiet (300);
    free (ops);
    free (text);
    cJSON_Delete (stored);
    s_agree ("pl2", s_sid, "actors", s_actor);

    /* a player may not update the state, so never the actor through it */
    snprintf (body, sizeof body, "{\"id\":\"pl-try\",\"sessionId\":\"%s\",\"version\":\"%ld\","
             "\"operations\":[{\"path\":\"actors.0.hp\",\"operation\":\"set\",\"value\":1}]}",
             s_sid, v + 1);
    wcheck_err (S_GAMESTATE, "pl", "gameState:update", body, "FORBIDDEN");
}

/* A writer that died between its store write and its session syncs
 * (played here by writing the store straight into Redis): the next
 * requestFull (join and sync alike) brings the copy in step first, as a
 * system update, and answers the repaired state. */
static void
s_repair (void)
{
    cJSON *stored = wcheck_ok (S_ACTORS, "pl", "actor:get", wcheck_quote (s_actor));
    cJSON *state = s_state ("gm", s_sid);
    long v = s_version (state);
    cJSON_Delete (state);
    cJSON_ReplaceItemInObject (stored, "mood", cJSON_CreateString ("written, never synced"));
    cJSON_ReplaceItemInObject (stored, "version",
                               cJSON_CreateNumber (wcheck_num (stored, "version") + 1));
    char *text = cJSON_PrintUnformatted (stored);
    redisReply *r = wcheck_redis ("SET pl:actor:%s %s", s_actor, text);
    freeReplyObject (r);
    free (text);
    wcheck_quiet (300);                             /* nobody knows yet */
    state = s_state ("pl2", s_sid);
    CHECK (s_version (state) == v + 1);
    CHECK (cJSON_Compare (cJSON_GetArrayItem (cJSON_GetObjectItem (state, "actors"), 0), stored, true));
    cJSON_Delete (state);
    cJSON *u = s_expect_update (s_room, v + 1, "system");
    const cJSON *op = cJSON_GetArrayItem (cJSON_GetObjectItem (u, "operations"), 0);
    CHECK (strcmp (wcheck_str (op, "path"), "actors.0") == 0);
    CHECK (cJSON_Compare (cJSON_GetObjectItem (op, "value"), stored, true));
    cJSON_Delete (u);
    wcheck_quiet (300);
    state = s_state ("gm", s_sid);                  /* in step: nothing more */
    CHECK (s_version (state) == v + 1);
    cJSON_Delete (state);
    s_agree ("pl", s_sid, "actors", s_actor);
    cJSON_Delete (stored);
}

/* A GM of campaign c2 types c1's actor id into c2's state. */
static void
s_foreign (void)
{
    cJSON *before = wcheck_ok (S_ACTORS, "pl", "actor:get", wcheck_quote (s_actor));
    char *ops = NULL;
    CHECK (asprintf (&ops, "[{\"path\":\"actors\",\"operation\":\"push\",\"value\":"
                           "{\"id\":\"%s\",\"name\":\"Mine\",\"type\":\"pc\",\"hp\":999,"
                           "\"campaignId\":\"c1\"}}]", s_actor) > 0);
    CHECK (s_update ("gm2", s_sid2, 0, ops) == 1);
    cJSON_Delete (s_expect_update (s_room2, 1, "gm"));
    wcheck_quiet (300);                             /* nothing written, no sync */
    free (ops);
    CHECK (s_update ("gm2", s_sid2, 1,
                     "[{\"path\":\"actors.0.hp\",\"operation\":\"inc\",\"value\":1}]") == 2);
    cJSON_Delete (s_expect_update (s_room2, 2, "gm"));
    wcheck_quiet (300);
    cJSON *after = wcheck_ok (S_ACTORS, "pl", "actor:get", wcheck_quote (s_actor));
    CHECK (cJSON_Compare (before, after, true));
    cJSON_Delete (after);
    /* and the actor's own updates do not reach c2's state */
    char body[256];
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"secret\":\"c1 only\"}", s_actor);
    cJSON *stored = wcheck_ok (S_ACTORS, "pl", "actor:update", body);
    cJSON_Delete (s_expect ("campaign:c1", "actor:updated", NULL));
    cJSON *state = s_state ("gm", s_sid);
    cJSON *u = s_expect_update (s_room, s_version (state), "system");
    cJSON_Delete (u);
    cJSON_Delete (state);
    wcheck_quiet (300);
    state = s_state ("gm2", s_sid2);
    CHECK (s_version (state) == 2);
    const cJSON *copy = cJSON_GetArrayItem (cJSON_GetObjectItem (state, "actors"), 0);
    CHECK (wcheck_num (copy, "hp") == 1000 && !cJSON_GetObjectItem (copy, "secret"));
    cJSON_Delete (state);
    s_agree ("pl", s_sid, "actors", s_actor);
    cJSON_Delete (stored);
    cJSON_Delete (before);
}

/* actor:delete -> its copies leave, its items' copies get actorId null;
 * item:delete -> the item's copies leave. */
static void
s_delete (void)
{
    cJSON *state = s_state ("gm", s_sid);
    long v = s_version (state);
    cJSON_Delete (state);
    cJSON *none = wcheck_ok (S_ACTORS, "pl", "actor:delete", wcheck_quote (s_actor));
    CHECK (!none);
    cJSON_Delete (s_expect ("campaign:c1", "actor:deleted", NULL));
    cJSON *held = s_expect ("campaign:c1", "item:updated", NULL);
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (held, "actorId")));
    cJSON *u = s_expect_update (s_room, v + 1, "system");
    CHECK (strcmp (wcheck_str (cJSON_GetArrayItem (cJSON_GetObjectItem (u, "operations"), 0),
                               "operation"), "unset") == 0);
    cJSON_Delete (u);
    u = s_expect_update (s_room, v + 2, "system");
    CHECK (cJSON_Compare (cJSON_GetObjectItem (cJSON_GetArrayItem (cJSON_GetObjectItem (u, "operations"), 0),
                                               "value"), held, true));
    cJSON_Delete (u);
    cJSON_Delete (held);
    wcheck_quiet (300);                             /* c2's stranger copy stays */
    state = s_state ("gm", s_sid);
    CHECK (s_version (state) == v + 2);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (state, "actors")) == 0);
    cJSON_Delete (state);
    s_agree ("pl", s_sid, "items", s_item);
    redisReply *r = wcheck_redis ("SISMEMBER pl:actor:%s:sessions %s", s_actor, s_sid);
    CHECK (r->integer == 0);
    freeReplyObject (r);
    state = s_state ("gm2", s_sid2);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (state, "actors")) == 1 && s_version (state) == 2);
    cJSON_Delete (state);

    none = wcheck_ok (S_ITEMS, "pl", "item:delete", wcheck_quote (s_item));
    CHECK (!none);
    cJSON_Delete (s_expect ("campaign:c1", "item:deleted", NULL));
    cJSON_Delete (s_expect_update (s_room, v + 3, "system"));
    wcheck_quiet (300);
    state = s_state ("gm", s_sid);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (state, "items")) == 0);
    cJSON_Delete (state);
}

int
main (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: parley-dual-check ACTORS ITEMS GAMESTATE [-v]\n");
        return 2;
    }
    wcheck_init ("dual_check", argc > 4 && strcmp (argv[4], "-v") == 0);
    wcheck_worker (S_ACTORS, argv[1], "actors", NULL);
    wcheck_worker (S_ITEMS, argv[2], "items", NULL);
    wcheck_worker (S_GAMESTATE, argv[3], "gamestate", NULL);
    wcheck_probe (S_ACTORS, "actor:create", "{\"name\":\"p\",\"type\":\"p\"}");
    wcheck_probe (S_ITEMS, "item:create", "{\"name\":\"p\"}");
    for (int i = 0; i < WCHECK_PROBES; i++) {       /* wcheck_probe's users */
        char probe[16];
        snprintf (probe, sizeof probe, "probe%d", i);
        wcheck_member ("probe", probe, "gm");
    }
    wcheck_probe (S_GAMESTATE, "gameSession:create", "{\"campaignId\":\"probe\",\"name\":\"p\"}");

    printf ("dual_check: setup\n");
    s_setup ();
    printf ("dual_check: embed\n");
    s_embed ();
    printf ("dual_check: entity -> state\n");
    s_entity_to_state ();
    printf ("dual_check: state -> entity\n");
    s_state_to_entity ();
    printf ("dual_check: read repair\n");
    s_repair ();
    printf ("dual_check: another campaign's GM\n");
    s_foreign ();
    printf ("dual_check: deletes\n");
    s_delete ();
    wcheck_done ();
    return 0;
}
