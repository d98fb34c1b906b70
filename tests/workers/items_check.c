/*  parley-items-check - drive real parley-items processes, with a
 *  parley-actors for the actors that hold items, against a private
 *  redis-server, with this program playing the broker backend and the
 *  event proxy (tests/workers/wcheck.h).
 *
 *      parley-items-check /path/to/parley-items /path/to/parley-actors [-v]
 *
 *  Items share pl_entity with actors, so actors_check covers the common
 *  rules in depth; this checks the item contract, the campaign rules and
 *  a hidden flip once more through the items worker, and what only items
 *  have: actorId (an actor the caller may see, in the same campaign),
 *  item:list {actorId}, the pl:actor:<aid>:items index, an actor's
 *  delete freeing what it held (actorId null, item:updated events), and
 *  the items of a hidden actor: actorId null for whoever may not see the
 *  actor, in every read, ack and event (each event split by audience),
 *  a write of null by such a caller keeping the holder, and the actor's
 *  hidden flips telling exactly those players.
 *  Memberships are seeded straight into Redis.
 */
#include "wcheck.h"
#include "pl_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ACTORS 2                      /* worker index of parley-actors    */

static const char *s_gm_except = "[\"campaign:c1:gm\"]";

/* Create something for a scene's setup; its events are dropped. Returns
 * its id (caller frees). */
static char *
s_make (int w, const char *uid, const char *event, const char *body)
{
    cJSON *data = wcheck_ok (w, uid, event, body);
    char *id = strdup (wcheck_str (data, "id"));
    cJSON_Delete (data);
    wcheck_drain (50);
    return id;
}

/* The ids in zset key, as a JSON array text "[...]" compared with want. */
static void
s_index (const char *key, int count, const char *id1, const char *id2)
{
    redisReply *r = wcheck_redis ("ZRANGE %s 0 -1", key);
    CHECK (r->type == REDIS_REPLY_ARRAY && (int) r->elements == count);
    if (count > 0)
        CHECK (strcmp (r->element[0]->str, id1) == 0);
    if (count > 1)
        CHECK (strcmp (r->element[1]->str, id2) == 0);
    freeReplyObject (r);
}

static void
s_contract (void)
{
    cJSON *i = wcheck_ok (0, "alice", "item:create",
                          "{\"name\":\"Sword\",\"dmg\":6,\"id\":\"x\",\"createdBy\":\"eve\",\"version\":9}");
    wcheck_event ("user:alice", "item:created", wcheck_origin (), i, NULL);
    CHECK (pl_id_is_uuid (wcheck_str (i, "id")));
    CHECK (strcmp (wcheck_str (i, "createdBy"), "alice") == 0);
    CHECK (wcheck_num (i, "version") == 1 && wcheck_num (i, "dmg") == 6);
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (i, "actorId")));
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (i, "campaignId")));
    CHECK (cJSON_IsFalse (cJSON_GetObjectItem (i, "hidden")));
    CHECK (!cJSON_GetObjectItem (i, "type"));                   /* type is optional */
    const char *bad[] = { NULL, "\"x\"", "[]", "{}", "{\"name\":\"\"}", "{\"name\":\"n\",\"type\":3}",
                          "{\"name\":\"n\",\"actorId\":7}", "{\"name\":\"n\",\"actorId\":\"\"}",
                          "{\"name\":\"n\",\"hidden\":1}" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        wcheck_err (k % 2, "alice", "item:create", bad[k], "VALIDATION_ERROR");
    wcheck_err (0, "alice", "item:get", "17", "VALIDATION_ERROR");
    wcheck_err (0, "bob", "item:get", wcheck_quote (wcheck_str (i, "id")), "NOT_FOUND");
    cJSON *got = wcheck_ok (1, "alice", "item:get", wcheck_quote (wcheck_str (i, "id")));
    CHECK (cJSON_Compare (got, i, true));
    cJSON_Delete (got);
    char body[256];
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"type\":\"blade\"}", wcheck_str (i, "id"));
    cJSON *u = wcheck_ok (1, "alice", "item:update", body);
    wcheck_event ("user:alice", "item:updated", wcheck_origin (), u, NULL);
    CHECK (wcheck_num (u, "version") == 2);
    cJSON *list = wcheck_ok (0, "alice", "item:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 1 && cJSON_Compare (cJSON_GetArrayItem (list, 0), u, true));
    cJSON_Delete (list);
    cJSON *none = wcheck_ok (0, "alice", "item:delete", wcheck_quote (wcheck_str (i, "id")));
    CHECK (!none);
    cJSON *gone = cJSON_CreateString (wcheck_str (i, "id"));
    wcheck_event ("user:alice", "item:deleted", wcheck_origin (), gone, NULL);
    cJSON_Delete (gone);
    cJSON_Delete (i);
    cJSON_Delete (u);
}

static void
s_campaign (void)
{
    char body[512], origin[32];
    wcheck_err (0, "out", "item:create", "{\"name\":\"n\",\"campaignId\":\"c1\"}", "FORBIDDEN");
    cJSON *i = wcheck_ok (0, "p1", "item:create", "{\"name\":\"Rope\",\"campaignId\":\"c1\"}");
    wcheck_event ("campaign:c1", "item:created", wcheck_origin (), i, NULL);
    const char *id = wcheck_str (i, "id");
    cJSON *got = wcheck_ok (1, "p2", "item:get", wcheck_quote (id));
    cJSON_Delete (got);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"Mine\"}", id);
    wcheck_err (1, "p2", "item:update", body, "FORBIDDEN");
    wcheck_err (1, "p2", "item:delete", wcheck_quote (id), "FORBIDDEN");
    wcheck_err (1, "out", "item:update", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"campaignId\":\"c2\"}", id);
    wcheck_err (1, "gm", "item:update", body, "VALIDATION_ERROR");
    /* the GM hides the player's item: other players see it deleted */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":true}", id);
    cJSON *h = wcheck_ok (1, "gm", "item:update", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    cJSON *gone = cJSON_CreateString (id);
    wcheck_event ("campaign:c1", "item:deleted", origin, gone, "[\"campaign:c1:gm\",\"user:p1\"]");
    wcheck_event ("campaign:c1:gm", "item:updated", origin, h, NULL);
    wcheck_event ("user:p1", "item:updated", origin, h, s_gm_except);
    wcheck_err (1, "p2", "item:get", wcheck_quote (id), "NOT_FOUND");
    cJSON *list = wcheck_ok (0, "p2", "item:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    list = wcheck_ok (0, "p1", "item:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    wcheck_err (0, "out", "item:list", "{\"campaignId\":\"c1\"}", "FORBIDDEN");
    cJSON *none = wcheck_ok (0, "gm", "item:delete", wcheck_quote (id));
    CHECK (!none);
    wcheck_event ("campaign:c1:gm", "item:deleted", wcheck_origin (), gone, NULL);
    wcheck_event ("user:p1", "item:deleted", wcheck_origin (), gone, s_gm_except);
    wcheck_quiet (100);
    cJSON_Delete (gone);
    cJSON_Delete (h);
    cJSON_Delete (i);
}

/* A copy of item with actorId null: what those who may not see its
 * holder read (caller frees). */
static cJSON *
s_redacted (const cJSON *item)
{
    cJSON *r = cJSON_Duplicate (item, true);
    cJSON_ReplaceItemInObject (r, "actorId", cJSON_CreateNull ());
    return r;
}

static void
s_held (void)
{
    char body[512];
    /* p1's actors: personal, in c1, hidden in c1, in c2; the GM's hidden one */
    char *pa = s_make (S_ACTORS, "p1", "actor:create", "{\"name\":\"PA\",\"type\":\"pc\"}");
    char *ca = s_make (S_ACTORS, "p1", "actor:create",
                       "{\"name\":\"CA\",\"type\":\"pc\",\"campaignId\":\"c1\"}");
    char *ha = s_make (S_ACTORS, "p1", "actor:create",
                       "{\"name\":\"HA\",\"type\":\"pc\",\"campaignId\":\"c1\",\"hidden\":true}");
    char *c2a = s_make (S_ACTORS, "p1", "actor:create",
                        "{\"name\":\"C2A\",\"type\":\"pc\",\"campaignId\":\"c2\"}");
    char *ga = s_make (S_ACTORS, "gm", "actor:create",
                       "{\"name\":\"GA\",\"type\":\"npc\",\"campaignId\":\"c1\",\"hidden\":true}");
    char key[128];

    /* a personal item held by one's own personal actor */
    snprintf (body, sizeof body, "{\"name\":\"Pack\",\"actorId\":\"%s\"}", pa);
    char *pi = s_make (0, "p1", "item:create", body);
    snprintf (key, sizeof key, "pl:actor:%s:items", pa);
    s_index (key, 1, pi, NULL);
    wcheck_err (0, "bob", "item:create", body, "NOT_FOUND");     /* not bob's actor */
    /* the holder must be in the item's campaign */
    snprintf (body, sizeof body, "{\"name\":\"x\",\"actorId\":\"%s\"}", ca);
    wcheck_err (0, "p1", "item:create", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"name\":\"x\",\"campaignId\":\"c1\",\"actorId\":\"%s\"}", pa);
    wcheck_err (0, "p1", "item:create", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"name\":\"x\",\"campaignId\":\"c1\",\"actorId\":\"%s\"}", c2a);
    wcheck_err (0, "p1", "item:create", body, "VALIDATION_ERROR");
    wcheck_err (0, "p1", "item:create", "{\"name\":\"x\",\"actorId\":\"nope\"}", "NOT_FOUND");
    /* ...and visible to the caller */
    snprintf (body, sizeof body, "{\"name\":\"x\",\"campaignId\":\"c1\",\"actorId\":\"%s\"}", ha);
    wcheck_err (1, "p2", "item:create", body, "NOT_FOUND");
    wcheck_quiet (50);

    /* p2 gives an item to p1's visible actor; the GM a hidden one */
    snprintf (body, sizeof body, "{\"name\":\"Gift\",\"campaignId\":\"c1\",\"actorId\":\"%s\"}", ca);
    cJSON *i1 = wcheck_ok (1, "p2", "item:create", body);
    wcheck_event ("campaign:c1", "item:created", wcheck_origin (), i1, NULL);
    CHECK (strcmp (wcheck_str (i1, "actorId"), ca) == 0);
    snprintf (body, sizeof body, "{\"name\":\"Curse\",\"campaignId\":\"c1\",\"hidden\":true,"
                                 "\"actorId\":\"%s\"}", ca);
    char *i2 = s_make (0, "gm", "item:create", body);
    const char *i1id = wcheck_str (i1, "id");
    snprintf (key, sizeof key, "pl:actor:%s:items", ca);
    s_index (key, 2, i1id, i2);

    /* item:list {actorId}: the visible items that actor holds */
    snprintf (body, sizeof body, "{\"actorId\":\"%s\"}", ca);
    cJSON *list = wcheck_ok (0, "p2", "item:list", body);
    CHECK (cJSON_GetArraySize (list) == 1 && cJSON_Compare (cJSON_GetArrayItem (list, 0), i1, true));
    cJSON_Delete (list);
    list = wcheck_ok (1, "gm", "item:list", body);
    CHECK (cJSON_GetArraySize (list) == 2);
    cJSON_Delete (list);
    wcheck_err (0, "out", "item:list", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"actorId\":\"%s\"}", ha);
    wcheck_err (0, "p2", "item:list", body, "NOT_FOUND");
    list = wcheck_ok (0, "p1", "item:list", body);
    CHECK (cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    snprintf (body, sizeof body, "{\"actorId\":\"%s\",\"campaignId\":\"c1\"}", ca);
    wcheck_err (0, "p1", "item:list", body, "VALIDATION_ERROR");

    /* moving: p2 may not give it to an actor it cannot see; the GM may */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", i1id, ha);
    wcheck_err (1, "p2", "item:update", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", i1id, pa);
    wcheck_err (1, "p2", "item:update", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":null}", i1id);
    cJSON *u = wcheck_ok (1, "p2", "item:update", body);
    wcheck_event ("campaign:c1", "item:updated", wcheck_origin (), u, NULL);
    s_index (key, 1, i2, NULL);
    cJSON_Delete (u);
    /* to the GM's hidden actor: the players read actorId null */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", i1id, ga);
    u = wcheck_ok (0, "gm", "item:update", body);
    cJSON *ur = s_redacted (u);
    wcheck_event ("campaign:c1", "item:updated", wcheck_origin (), ur, s_gm_except);
    wcheck_event ("campaign:c1:gm", "item:updated", wcheck_origin (), u, NULL);
    cJSON_Delete (ur);
    snprintf (key, sizeof key, "pl:actor:%s:items", ga);
    s_index (key, 1, i1id, NULL);
    cJSON_Delete (u);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", i1id, ca);
    u = wcheck_ok (1, "gm", "item:update", body);
    wcheck_event ("campaign:c1", "item:updated", wcheck_origin (), u, NULL);
    s_index (key, 0, NULL, NULL);
    snprintf (key, sizeof key, "pl:actor:%s:items", ca);
    s_index (key, 2, i1id, i2);             /* by createdAt, not by move */
    cJSON_Delete (u);

    /* deleting the actor frees what it held, with item:updated events */
    cJSON *none = wcheck_ok (S_ACTORS, "p1", "actor:delete", wcheck_quote (ca));
    CHECK (!none);
    char origin[32];
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    cJSON *gone = cJSON_CreateString (ca);
    wcheck_event ("campaign:c1", "actor:deleted", origin, gone, NULL);
    cJSON *f1 = wcheck_ok (0, "p2", "item:get", wcheck_quote (i1id));
    cJSON *f2 = wcheck_ok (0, "gm", "item:get", wcheck_quote (i2));
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (f1, "actorId")));
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (f2, "actorId")));
    CHECK (wcheck_num (f1, "version") == 5 && wcheck_num (f2, "version") == 2);
    wcheck_event ("campaign:c1", "item:updated", origin, f1, NULL);
    wcheck_event ("campaign:c1:gm", "item:updated", origin, f2, NULL);
    wcheck_event ("user:gm", "item:updated", origin, f2, s_gm_except);
    wcheck_quiet (100);
    redisReply *r = wcheck_redis ("EXISTS %s", key);
    CHECK (r->integer == 0);
    freeReplyObject (r);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", i1id, ca);
    wcheck_err (0, "p2", "item:update", body, "NOT_FOUND");

    /* deleting an item takes it out of its holder's index */
    none = wcheck_ok (1, "p1", "item:delete", wcheck_quote (pi));
    CHECK (!none);
    snprintf (key, sizeof key, "pl:actor:%s:items", pa);
    s_index (key, 0, NULL, NULL);
    wcheck_drain (50);

    cJSON_Delete (gone);
    cJSON_Delete (f1);
    cJSON_Delete (f2);
    cJSON_Delete (i1);
    free (pa);
    free (ca);
    free (ha);
    free (c2a);
    free (ga);
    free (pi);
    free (i2);
}

/* An item of a hidden actor: its id reaches only those who may see the
 * actor - the GMs and, a player, its creator - in every read and event;
 * to everyone else actorId reads null. The actor's hidden flips tell the
 * players (item:updated, same version). */
static void
s_hidden_holder (void)
{
    char body[512], origin[32];
    const char *p1_except = "[\"campaign:c1:gm\",\"user:p1\"]";
    char *spy = s_make (S_ACTORS, "p1", "actor:create",
                        "{\"name\":\"Spy\",\"type\":\"pc\",\"campaignId\":\"c1\",\"hidden\":true}");
    /* p1 gives its hidden actor an item: the players other than p1 get null */
    snprintf (body, sizeof body, "{\"name\":\"Dagger\",\"campaignId\":\"c1\",\"actorId\":\"%s\"}", spy);
    cJSON *d = wcheck_ok (0, "p1", "item:create", body);
    cJSON *dr = s_redacted (d);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    CHECK (strcmp (wcheck_str (d, "actorId"), spy) == 0);
    wcheck_event ("campaign:c1", "item:created", origin, dr, p1_except);
    wcheck_event ("campaign:c1:gm", "item:created", origin, d, NULL);
    wcheck_event ("user:p1", "item:created", origin, d, s_gm_except);
    const char *did = wcheck_str (d, "id");
    /* reads */
    cJSON *got = wcheck_ok (1, "p2", "item:get", wcheck_quote (did));
    CHECK (cJSON_Compare (got, dr, true));
    cJSON_Delete (got);
    got = wcheck_ok (0, "gm", "item:get", wcheck_quote (did));
    CHECK (cJSON_Compare (got, d, true));
    cJSON_Delete (got);
    got = wcheck_ok (1, "p1", "item:get", wcheck_quote (did));
    CHECK (cJSON_Compare (got, d, true));
    cJSON_Delete (got);
    const char *as[] = { "p2", "p1", "gm" };
    for (int k = 0; k < 3; k++) {
        cJSON *list = wcheck_ok (k % 2, as[k], "item:list", "{\"campaignId\":\"c1\"}");
        const cJSON *it, *found = NULL;
        cJSON_ArrayForEach (it, list)
            if (strcmp (wcheck_str (it, "id"), did) == 0)
                found = it;
        CHECK (found && cJSON_Compare (found, k == 0 ? dr : d, true));
        cJSON_Delete (list);
    }
    /* p2's own item, given to p1's hidden actor by the GM */
    cJSON *coin = wcheck_ok (1, "p2", "item:create", "{\"name\":\"Coin\",\"campaignId\":\"c1\"}");
    wcheck_drain (50);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", wcheck_str (coin, "id"), spy);
    cJSON *u = wcheck_ok (0, "gm", "item:update", body);
    cJSON *ur = s_redacted (u);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1", "item:updated", origin, ur, p1_except);
    wcheck_event ("campaign:c1:gm", "item:updated", origin, u, NULL);
    wcheck_event ("user:p1", "item:updated", origin, u, s_gm_except);
    cJSON_Delete (u);
    cJSON_Delete (ur);
    /* p2 may write it, and reads null in the ack; writing null back keeps
     * the holder it cannot see */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":null,\"shiny\":true}",
              wcheck_str (coin, "id"));
    u = wcheck_ok (1, "p2", "item:update", body);
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (u, "actorId")) && wcheck_num (u, "version") == 3);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1", "item:updated", origin, u, p1_except);
    cJSON_Delete (u);
    redisReply *r = wcheck_redis ("GET pl:item:%s", wcheck_str (coin, "id"));
    cJSON *stored = cJSON_Parse (r->str);
    freeReplyObject (r);
    CHECK (strcmp (wcheck_str (stored, "actorId"), spy) == 0);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (stored, "shiny")));
    wcheck_event ("campaign:c1:gm", "item:updated", origin, stored, NULL);
    wcheck_event ("user:p1", "item:updated", origin, stored, s_gm_except);
    wcheck_quiet (100);

    /* revealed: the players who read null get the id (and only they) */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":false}", spy);
    cJSON_Delete (wcheck_ok (S_ACTORS, "gm", "actor:update", body));
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1", "actor:created", origin, NULL, p1_except);
    wcheck_event ("campaign:c1:gm", "actor:updated", origin, NULL, NULL);
    wcheck_event ("user:p1", "actor:updated", origin, NULL, s_gm_except);
    wcheck_event ("campaign:c1", "item:updated", origin, d, p1_except);
    wcheck_event ("campaign:c1", "item:updated", origin, stored, p1_except);
    wcheck_quiet (100);
    got = wcheck_ok (1, "p2", "item:get", wcheck_quote (did));
    CHECK (cJSON_Compare (got, d, true));
    cJSON_Delete (got);
    /* hidden again: null to them */
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"hidden\":true}", spy);
    cJSON_Delete (wcheck_ok (S_ACTORS, "p1", "actor:update", body));
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1", "actor:deleted", origin, NULL, p1_except);
    wcheck_event ("campaign:c1:gm", "actor:updated", origin, NULL, NULL);
    wcheck_event ("user:p1", "actor:updated", origin, NULL, s_gm_except);
    wcheck_event ("campaign:c1", "item:updated", origin, dr, p1_except);
    cJSON *sr = s_redacted (stored);
    wcheck_event ("campaign:c1", "item:updated", origin, sr, p1_except);
    wcheck_quiet (100);
    got = wcheck_ok (1, "p2", "item:get", wcheck_quote (did));
    CHECK (cJSON_Compare (got, dr, true));
    cJSON_Delete (got);

    /* the GM's hidden item of p1's hidden actor: GMs, and p1 (who sees the
     * actor but not the item) nothing; deleting it: ids only */
    snprintf (body, sizeof body, "{\"name\":\"Poison\",\"campaignId\":\"c1\",\"hidden\":true,"
                                 "\"actorId\":\"%s\"}", spy);
    cJSON *poison = wcheck_ok (0, "gm", "item:create", body);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1:gm", "item:created", origin, poison, NULL);
    wcheck_event ("user:gm", "item:created", origin, poison, s_gm_except);
    wcheck_quiet (100);
    wcheck_err (1, "p1", "item:get", wcheck_quote (wcheck_str (poison, "id")), "NOT_FOUND");
    /* p1's hidden item of the GM's hidden actor: p1 reads null, on its
     * own room too */
    char *ga = s_make (S_ACTORS, "gm", "actor:create",
                       "{\"name\":\"Lich\",\"type\":\"npc\",\"campaignId\":\"c1\",\"hidden\":true}");
    cJSON *note = wcheck_ok (1, "p1", "item:create",
                             "{\"name\":\"Note\",\"campaignId\":\"c1\",\"hidden\":true}");
    wcheck_drain (50);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"actorId\":\"%s\"}", wcheck_str (note, "id"), ga);
    u = wcheck_ok (0, "gm", "item:update", body);
    ur = s_redacted (u);
    snprintf (origin, sizeof origin, "%s", wcheck_origin ());
    wcheck_event ("campaign:c1:gm", "item:updated", origin, u, NULL);
    wcheck_event ("user:p1", "item:updated", origin, ur, s_gm_except);
    wcheck_quiet (100);
    got = wcheck_ok (1, "p1", "item:get", wcheck_quote (wcheck_str (note, "id")));
    CHECK (cJSON_Compare (got, ur, true));
    cJSON_Delete (got);
    cJSON_Delete (u);
    cJSON_Delete (ur);
    cJSON_Delete (note);
    cJSON_Delete (poison);
    cJSON_Delete (sr);
    cJSON_Delete (stored);
    cJSON_Delete (coin);
    cJSON_Delete (dr);
    cJSON_Delete (d);
    free (ga);
    free (spy);
}

/* An actor's delete racing writes of what it holds, on three workers:
 * updates of an item it holds, and creates of items naming it. Every
 * update is acked (it reruns past the delete: still found) and lands -
 * the item's version is 1 + updates + 1 (the delete's actorId null) and
 * actorId is null, whichever committed first; every create is acked
 * before the delete (then the delete frees it) or is NOT_FOUND (its
 * actor is gone); nothing is left in the actor's index. */
static void
s_held_races (void)
{
    enum { ROUNDS = 4, N = 6 };
    int made = 0, refused = 0;
    for (int r = 0; r < ROUNDS; r++) {
        char *aid = s_make (S_ACTORS, "racer", "actor:create", "{\"name\":\"h\",\"type\":\"npc\"}");
        char body[200];
        snprintf (body, sizeof body, "{\"name\":\"held\",\"actorId\":\"%s\"}", aid);
        char *iid = s_make (0, "racer", "item:create", body);
        int creates[N], ncreates = 0;
        for (int i = 0; i < N; i++) {
            if (i == 1 + r % 3)
                wcheck_send (S_ACTORS, "racer", "actor:delete", wcheck_quote (aid));
            snprintf (body, sizeof body, "{\"id\":\"%s\",\"n%d\":%d}", iid, i, i);
            wcheck_send (0, "racer", "item:update", body);
            snprintf (body, sizeof body, "{\"name\":\"new\",\"actorId\":\"%s\"}", aid);
            creates[ncreates++] = wcheck_send (1, "racer", "item:create", body);
        }
        char *made_ids[N];
        int nmade = 0;
        for (int i = 0; i < 2 * N + 1; i++) {
            int seq;
            cJSON *reply = wcheck_reply (&seq, NULL);
            const char *code = wcheck_code (reply);
            bool create = false;
            for (int j = 0; j < ncreates; j++)
                create |= creates[j] == seq;
            if (create && strcmp (code, "") == 0) {
                const cJSON *data = cJSON_GetObjectItemCaseSensitive (reply, "data");
                made_ids[nmade++] = strdup (wcheck_str (data, "id"));
            }
            else
            if (create) {
                CHECK (strcmp (code, "NOT_FOUND") == 0);
                refused++;
            }
            else
                CHECK (strcmp (code, "") == 0);  /* the delete, and every update */
            cJSON_Delete (reply);
        }
        cJSON *item = wcheck_ok (0, "racer", "item:get", wcheck_quote (iid));
        CHECK (wcheck_num (item, "version") == 1 + N + 1);
        CHECK (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (item, "actorId")));
        for (int i = 0; i < N; i++) {
            char field[16];
            snprintf (field, sizeof field, "n%d", i);
            CHECK (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (item, field)));
        }
        cJSON_Delete (item);
        for (int i = 0; i < nmade; i++) {
            item = wcheck_ok (1, "racer", "item:get", wcheck_quote (made_ids[i]));
            CHECK (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (item, "actorId")));
            CHECK (wcheck_num (item, "version") == 2);
            cJSON_Delete (item);
            free (made_ids[i]);
        }
        made += nmade;
        redisReply *left = wcheck_redis ("EXISTS pl:actor:%s:items", aid);
        CHECK (left->type == REDIS_REPLY_INTEGER && left->integer == 0);
        freeReplyObject (left);
        wcheck_err (S_ACTORS, "racer", "actor:get", wcheck_quote (aid), "NOT_FOUND");
        free (iid);
        free (aid);
        wcheck_drain (100);
    }
    if (wcheck_verbose ())
        printf ("  held races: %d creates before the delete, %d after\n", made, refused);
    CHECK (made + refused == ROUNDS * N);
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: parley-items-check /path/to/parley-items /path/to/parley-actors [-v]\n");
        return 2;
    }
    wcheck_init ("items_check", argc > 3 && strcmp (argv[3], "-v") == 0);
    wcheck_worker (0, argv[1], "items", NULL);
    wcheck_worker (1, argv[1], "items", NULL);
    wcheck_worker (S_ACTORS, argv[2], "actors", NULL);
    wcheck_probe (0, "item:create", "{\"name\":\"p\"}");
    wcheck_probe (1, "item:create", "{\"name\":\"p\"}");
    wcheck_probe (S_ACTORS, "actor:create", "{\"name\":\"p\",\"type\":\"p\"}");
    wcheck_member ("c1", "gm", "gm");
    wcheck_member ("c1", "p1", "player");
    wcheck_member ("c1", "p2", "player");
    wcheck_member ("c2", "gm2", "gm");
    wcheck_member ("c2", "p1", "player");

    printf ("items_check: contract\n");
    s_contract ();
    printf ("items_check: campaign\n");
    s_campaign ();
    printf ("items_check: held by actors\n");
    s_held ();
    printf ("items_check: broker restart\n");
    wcheck_broker_restart (0);
    cJSON *list = wcheck_ok (S_ACTORS, "p1", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    list = wcheck_ok (1, "p1", "item:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    printf ("items_check: held by a hidden actor\n");
    s_hidden_holder ();
    printf ("items_check: held races\n");
    s_held_races ();
    printf ("items_check: SIGTERM\n");
    wcheck_done ();
    return 0;
}
