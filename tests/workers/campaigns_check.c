/*  parley-campaigns-check - a real parley-campaigns worker (and a
 *  parley-rooms worker, for presence) against a private redis-server, with
 *  this program playing broker and event proxy (tests/workers/wcheck.h).
 *
 *      parley-campaigns-check /path/to/parley-campaigns /path/to/parley-rooms [-v]
 *
 *  Checks the campaigns contract: GM-only changes (FORBIDDEN for a player,
 *  NOT_FOUND for a non-member), the last GM (CONFLICT), the member pushes
 *  with their except rooms (bus frame 6), removeMember's pushes, evictions
 *  and presence:left in order, and delete (CONFLICT while it holds
 *  entities; then everything is gone and everyone evicted); both still
 *  succeed, pushes and evictions included, when the presence step after
 *  their commit fails. Races, with a second campaigns worker: two writes
 *  that both read before either commits (s_race) end as if run one after
 *  the other - never zero GMs, a member added to a campaign being deleted
 *  leaves nothing behind, and both of two updates stick.
 */
#include "wcheck.h"
#include "pl_id.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C 0                             /* the campaigns worker */
#define R 1                             /* the rooms worker     */
#define C2 2                            /* a second campaigns worker, for races */

static const wcheck_who_t s_gm  = { "gw-a", "1", "gm1", "Gm One" };
static const wcheck_who_t s_p1  = { "gw-a", "2", "p1", NULL };
static const wcheck_who_t s_p1b = { "gw-b", "3", "p1", NULL };
static const wcheck_who_t s_p2  = { "gw-a", "4", "p2", NULL };
static const wcheck_who_t s_out = { "gw-a", "5", "o1", NULL };

static char s_id[64];                   /* the campaign under test */
static char s_body[512];

static const char *
s_fmt (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (s_body, sizeof s_body, fmt, ap);
    va_end (ap);
    return s_body;
}

static void
s_probe (void)
{
    bool heard[2] = { false, false };
    for (int i = 0; i < 50 && !(heard[0] && heard[1]); i++) {
        char gw[32];
        snprintf (gw, sizeof gw, "gw-probe%d", i);
        wcheck_who_t who = { gw, "1", "probe", NULL };
        if (!heard[0]) {
            cJSON *c = wcheck_ok_as (C, &who, "campaign:create", "{\"name\":\"probe\"}");
            cJSON_Delete (c);
        }
        if (!heard[1]) {
            freeReplyObject (wcheck_redis ("HSET pl:campaign:probe:members probe gm"));
            cJSON *d = wcheck_ok_as (R, &who, "subscribe", "{\"room\":\"campaign:probe\"}");
            cJSON_Delete (d);
            d = wcheck_ok_as (R, &who, "presence:drop", NULL);
            cJSON_Delete (d);
        }
        wcheck_bus_t bus;
        while (wcheck_bus_next (&bus, 50)) {
            heard[strcmp (bus.room, "user:probe") == 0 ? 0 : 1] = true;
            wcheck_bus_clear (&bus);
        }
    }
    CHECK (heard[0] && heard[1]);
    wcheck_drain (100);
}

static void
s_create (void)
{
    const char *bad[] = { NULL, "\"x\"", "[]", "{}", "{\"name\":\"\"}", "{\"name\":7}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        wcheck_err_as (C, &s_gm, "campaign:create", bad[i], "VALIDATION_ERROR");
    /* 200 characters (400 bytes) is fine, 201 is not */
    char name[1024] = "{\"name\":\"";
    for (int i = 0; i < 201; i++)
        strcat (name, "\xc3\xa9");
    strcat (name, "\"}");
    wcheck_err_as (C, &s_gm, "campaign:create", name, "VALIDATION_ERROR");
    strcpy (name + strlen (name) - 4, "\"}");
    cJSON *c = wcheck_ok_as (C, &s_gm, "campaign:create", name);
    cJSON_Delete (c);
    wcheck_drain (100);

    c = wcheck_ok_as (C, &s_gm, "campaign:create",
               "{\"name\":\"Curse\",\"setting\":\"Barovia\",\"id\":\"evil\",\"createdBy\":\"mallory\","
               "\"role\":\"player\",\"members\":[]}");
    CHECK (pl_id_is_uuid (cJSON_GetObjectItem (c, "id")->valuestring));
    snprintf (s_id, sizeof s_id, "%s", cJSON_GetObjectItem (c, "id")->valuestring);
    CHECK (strcmp (cJSON_GetObjectItem (c, "createdBy")->valuestring, "gm1") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (c, "setting")->valuestring, "Barovia") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (c, "role")->valuestring, "gm") == 0);
    CHECK (!cJSON_GetObjectItem (c, "members"));
    CHECK (cJSON_GetObjectItem (c, "createdAt")->valuedouble > 1577836800000.0);
    /* memberAdded to the creator's other connections */
    cJSON *campaign = cJSON_Duplicate (c, true);
    cJSON_DeleteItemFromObject (campaign, "role");
    cJSON *want = cJSON_CreateObject ();
    cJSON_AddStringToObject (want, "campaignId", s_id);
    cJSON_AddStringToObject (want, "userId", "gm1");
    cJSON_AddStringToObject (want, "role", "gm");
    cJSON_AddItemToObject (want, "campaign", campaign);
    wcheck_event ("user:gm1", "campaign:memberAdded", "gw-a/1", want, NULL);
    cJSON_Delete (want);
    cJSON_Delete (c);
}

static void
s_members (void)
{
    char room[96], uroom[128];
    snprintf (room, sizeof room, "campaign:%s", s_id);
    /* get: members only */
    cJSON *g = wcheck_ok_as (C, &s_gm, "campaign:get", s_fmt ("\"%s\"", s_id));
    cJSON *m = cJSON_Parse ("[{\"userId\":\"gm1\",\"role\":\"gm\"}]");
    CHECK (cJSON_Compare (cJSON_GetObjectItem (g, "members"), m, true));
    CHECK (strcmp (cJSON_GetObjectItem (g, "role")->valuestring, "gm") == 0);
    cJSON_Delete (m);
    wcheck_err_as (C, &s_out, "campaign:get", s_fmt ("\"%s\"", s_id), "NOT_FOUND");
    wcheck_err_as (C, &s_gm, "campaign:get", "\"nope\"", "NOT_FOUND");
    wcheck_err_as (C, &s_gm, "campaign:get", "\"a b\"", "VALIDATION_ERROR");
    wcheck_err_as (C, &s_gm, "campaign:get", NULL, "VALIDATION_ERROR");

    /* addMember: pushes to the room, and to the user's connections not in it */
    cJSON *a = wcheck_ok_as (C, &s_gm, "campaign:addMember",
                      s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p1\",\"role\":\"player\"}", s_id));
    CHECK (strcmp (cJSON_GetObjectItem (a, "role")->valuestring, "player") == 0);
    cJSON_Delete (a);
    cJSON *campaign = cJSON_DetachItemFromObject (g, "members");
    cJSON_Delete (campaign);
    cJSON_DeleteItemFromObject (g, "role");
    cJSON *want = cJSON_CreateObject ();
    cJSON_AddStringToObject (want, "campaignId", s_id);
    cJSON_AddStringToObject (want, "userId", "p1");
    cJSON_AddStringToObject (want, "role", "player");
    cJSON_AddItemToObject (want, "campaign", g);
    wcheck_event (room, "campaign:memberAdded", "gw-a/1", want, NULL);
    snprintf (uroom, sizeof uroom, "[\"%s\"]", room);
    wcheck_event ("user:p1", "campaign:memberAdded", "gw-a/1", want, uroom);
    cJSON_Delete (want);
    a = wcheck_ok_as (C, &s_gm, "campaign:addMember",
               s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p2\",\"role\":\"gm\"}", s_id));
    cJSON_Delete (a);
    wcheck_drain (100);

    /* the rules: GM only; players FORBIDDEN; outsiders NOT_FOUND */
    const char *add = s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"o2\",\"role\":\"player\"}", s_id);
    char add_body[256];
    snprintf (add_body, sizeof add_body, "%s", add);
    wcheck_err_as (C, &s_p1, "campaign:addMember", add_body, "FORBIDDEN");
    wcheck_err_as (C, &s_out, "campaign:addMember", add_body, "NOT_FOUND");
    wcheck_err_as (C, &s_p1, "campaign:update", s_fmt ("{\"id\":\"%s\",\"name\":\"x\"}", s_id), "FORBIDDEN");
    wcheck_err_as (C, &s_out, "campaign:update", s_fmt ("{\"id\":\"%s\",\"name\":\"x\"}", s_id), "NOT_FOUND");
    wcheck_err_as (C, &s_p1, "campaign:delete", s_fmt ("\"%s\"", s_id), "FORBIDDEN");
    wcheck_err_as (C, &s_out, "campaign:delete", s_fmt ("\"%s\"", s_id), "NOT_FOUND");
    wcheck_err_as (C, &s_p1, "campaign:removeMember", s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p2\"}", s_id),
            "FORBIDDEN");
    wcheck_err_as (C, &s_out, "campaign:removeMember", s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p2\"}", s_id),
            "NOT_FOUND");
    wcheck_err_as (C, &s_gm, "campaign:addMember",
            s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"o2\",\"role\":\"admin\"}", s_id), "VALIDATION_ERROR");
    wcheck_err_as (C, &s_gm, "campaign:addMember",
            s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"o 2\",\"role\":\"gm\"}", s_id), "VALIDATION_ERROR");
    wcheck_err_as (C, &s_gm, "campaign:addMember", s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"o2\"}", s_id),
            "VALIDATION_ERROR");
    wcheck_err_as (C, &s_gm, "campaign:removeMember", s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"o2\"}", s_id),
            "NOT_FOUND");
    wcheck_err_as (C, &s_gm, "campaign:update", s_fmt ("{\"id\":\"%s\",\"name\":\"\"}", s_id), "VALIDATION_ERROR");
    wcheck_quiet (150);

    /* list: with the caller's role; nothing for outsiders */
    cJSON *list = wcheck_ok_as (C, &s_p1, "campaign:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 1);
    CHECK (strcmp (cJSON_GetObjectItem (cJSON_GetArrayItem (list, 0), "role")->valuestring, "player") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (cJSON_GetArrayItem (list, 0), "id")->valuestring, s_id) == 0);
    cJSON_Delete (list);
    list = wcheck_ok_as (C, &s_gm, "campaign:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 2);             /* the 200-character one first */
    CHECK (strcmp (cJSON_GetObjectItem (cJSON_GetArrayItem (list, 1), "id")->valuestring, s_id) == 0);
    cJSON_Delete (list);
    list = wcheck_ok_as (C, &s_out, "campaign:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);

    /* update: GM; campaign:updated to the room, origin left out */
    cJSON *u = wcheck_ok_as (C, &s_p2, "campaign:update",
                      s_fmt ("{\"id\":\"%s\",\"name\":\"Curse II\",\"createdBy\":\"x\"}", s_id));
    CHECK (strcmp (cJSON_GetObjectItem (u, "name")->valuestring, "Curse II") == 0);
    CHECK (strcmp (cJSON_GetObjectItem (u, "createdBy")->valuestring, "gm1") == 0);
    wcheck_event (room, "campaign:updated", "gw-a/4", u, NULL);
    cJSON_Delete (u);

    /* the last GM: two GMs, demote one (evicted from the GM room), then
     * neither demoting nor removing the other is allowed */
    a = wcheck_ok_as (C, &s_gm, "campaign:addMember",
               s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p2\",\"role\":\"player\"}", s_id));
    cJSON_Delete (a);
    wcheck_event (room, "campaign:memberAdded", "gw-a/1", NULL, NULL);
    wcheck_event ("user:p2", "campaign:memberAdded", "gw-a/1", NULL, uroom);
    char gm[128];
    snprintf (gm, sizeof gm, "campaign:%s:gm", s_id);
    wcheck_control ("user:p2", gm);
    wcheck_err_as (C, &s_gm, "campaign:addMember",
            s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"gm1\",\"role\":\"player\"}", s_id), "CONFLICT");
    wcheck_err_as (C, &s_gm, "campaign:removeMember",
            s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"gm1\"}", s_id), "CONFLICT");
    wcheck_quiet (150);
    g = wcheck_ok_as (C, &s_p2, "campaign:get", s_fmt ("\"%s\"", s_id));
    m = cJSON_Parse ("[{\"userId\":\"gm1\",\"role\":\"gm\"},{\"userId\":\"p1\",\"role\":\"player\"},"
                     "{\"userId\":\"p2\",\"role\":\"player\"}]");
    CHECK (cJSON_Compare (cJSON_GetObjectItem (g, "members"), m, true));
    CHECK (strcmp (cJSON_GetObjectItem (g, "role")->valuestring, "player") == 0);
    cJSON_Delete (m);
    cJSON_Delete (g);
}

/* p1, subscribed from two tabs to the campaign and one of its sessions, is
 * removed: pushes, then evictions, then presence:left, in that order. */
static void
s_remove (void)
{
    char room[96], gm[128], except[128], body[256];
    snprintf (room, sizeof room, "campaign:%s", s_id);
    snprintf (gm, sizeof gm, "campaign:%s:gm", s_id);
    snprintf (except, sizeof except, "[\"%s\"]", room);
    freeReplyObject (wcheck_redis ("HSET pl:session:s1 campaignId %s", s_id));
    freeReplyObject (wcheck_redis ("SADD pl:campaign:%s:sessions s1", s_id));
    snprintf (body, sizeof body, "{\"room\":\"%s\"}", room);
    cJSON *d = wcheck_ok_as (R, &s_gm, "subscribe", body);
    cJSON_Delete (d);
    d = wcheck_ok_as (R, &s_p1, "subscribe", body);
    cJSON_Delete (d);
    d = wcheck_ok_as (R, &s_p1b, "subscribe", body);
    cJSON_Delete (d);
    d = wcheck_ok_as (R, &s_p1b, "subscribe", "{\"room\":\"session:s1\"}");
    cJSON_Delete (d);
    wcheck_event (room, "presence:joined", "gw-a/1", NULL, NULL);
    wcheck_event (room, "presence:joined", "gw-a/2", NULL, NULL);
    wcheck_event ("session:s1", "presence:joined", "gw-b/3", NULL, NULL);
    wcheck_quiet (100);

    cJSON *r = wcheck_ok_as (C, &s_gm, "campaign:removeMember",
                      s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p1\"}", s_id));
    cJSON *want = cJSON_CreateObject ();
    cJSON_AddStringToObject (want, "campaignId", s_id);
    cJSON_AddStringToObject (want, "userId", "p1");
    CHECK (cJSON_Compare (r, want, true));
    cJSON_Delete (r);
    wcheck_event (room, "campaign:memberRemoved", "gw-a/1", want, NULL);
    wcheck_event ("user:p1", "campaign:memberRemoved", "gw-a/1", want, except);
    wcheck_control ("user:p1", gm);
    wcheck_control ("user:p1", room);
    wcheck_control ("user:p1", "session:s1");
    cJSON_Delete (want);
    wcheck_event_text (room, "presence:left", "",
                          s_fmt ("{\"room\":\"%s\",\"userId\":\"p1\",\"name\":\"p1\"}", room), NULL);
    wcheck_event_text ("session:s1", "presence:left", "",
                          "{\"room\":\"session:s1\",\"userId\":\"p1\",\"name\":\"p1\"}", NULL);
    wcheck_quiet (150);

    /* access is gone at once */
    cJSON *list = wcheck_ok_as (R, &s_gm, "presence:list", body);
    cJSON *only = cJSON_Parse ("[{\"userId\":\"gm1\",\"name\":\"Gm One\"}]");
    CHECK (cJSON_Compare (list, only, true));
    cJSON_Delete (only);
    cJSON_Delete (list);
    wcheck_err_as (R, &s_p1, "subscribe", body, "FORBIDDEN");
    wcheck_err_as (R, &s_p1, "subscribe", "{\"room\":\"session:s1\"}", "FORBIDDEN");
    wcheck_err_as (C, &s_p1, "campaign:get", s_fmt ("\"%s\"", s_id), "NOT_FOUND");
    list = wcheck_ok_as (C, &s_p1, "campaign:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    redisReply *k = wcheck_redis ("KEYS pl:presence:conn*gw-?/[23]");
    CHECK (k->elements == 0);                   /* both tabs' records gone */
    freeReplyObject (k);
    wcheck_err_as (C, &s_gm, "campaign:removeMember",
            s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p1\"}", s_id), "NOT_FOUND");
    wcheck_quiet (100);
}

static void
s_delete (void)
{
    char room[96], gm[128];
    snprintf (room, sizeof room, "campaign:%s", s_id);
    snprintf (gm, sizeof gm, "campaign:%s:gm", s_id);
    freeReplyObject (wcheck_redis ("ZADD pl:campaign:%s:actors 1 a1", s_id));
    wcheck_err_as (C, &s_gm, "campaign:delete", s_fmt ("\"%s\"", s_id), "CONFLICT");
    freeReplyObject (wcheck_redis ("DEL pl:campaign:%s:actors", s_id));
    freeReplyObject (wcheck_redis ("ZADD pl:campaign:%s:items 1 i1", s_id));
    wcheck_err_as (C, &s_gm, "campaign:delete", s_fmt ("\"%s\"", s_id), "CONFLICT");
    freeReplyObject (wcheck_redis ("DEL pl:campaign:%s:items", s_id));
    wcheck_err_as (C, &s_p2, "campaign:delete", s_fmt ("\"%s\"", s_id), "FORBIDDEN");
    wcheck_quiet (100);
    freeReplyObject (wcheck_redis ("RPUSH pl:chat:%s m", room));
    /* session s1 (in pl:campaign:<id>:sessions already) with its keys */
    freeReplyObject (wcheck_redis ("HSET pl:session:s1 campaignId %s", s_id));
    freeReplyObject (wcheck_redis ("SET pl:session:s1:state {}"));
    freeReplyObject (wcheck_redis ("XADD pl:session:s1:log 1-0 u {}"));
    freeReplyObject (wcheck_redis ("RPUSH pl:chat:session:s1 m"));

    cJSON *reply = wcheck_call_as (C, &s_gm, "campaign:delete", s_fmt ("\"%s\"", s_id), NULL);
    CHECK (strcmp (wcheck_code (reply), "") == 0 && !cJSON_GetObjectItem (reply, "data"));
    cJSON_Delete (reply);
    wcheck_event_text (room, "campaign:deleted", "gw-a/1", s_fmt ("{\"id\":\"%s\"}", s_id), NULL);
    wcheck_control (room, gm);
    wcheck_control (room, room);
    wcheck_control ("session:s1", "session:s1");
    wcheck_quiet (150);

    wcheck_err_as (C, &s_gm, "campaign:get", s_fmt ("\"%s\"", s_id), "NOT_FOUND");
    wcheck_err_as (C, &s_gm, "campaign:delete", s_fmt ("\"%s\"", s_id), "NOT_FOUND");
    cJSON *list = wcheck_ok_as (C, &s_p2, "campaign:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    redisReply *k = wcheck_redis ("EXISTS pl:campaign:%s pl:campaign:%s:members pl:chat:%s "
                              "pl:presence:users:%s", s_id, s_id, room, room);
    CHECK (k->integer == 0);
    freeReplyObject (k);
    /* its sessions went with it */
    k = wcheck_redis ("EXISTS pl:session:s1 pl:session:s1:state pl:session:s1:log "
                      "pl:chat:session:s1 pl:campaign:%s:sessions", s_id);
    CHECK (k->integer == 0);
    freeReplyObject (k);
    k = wcheck_redis ("ZSCORE pl:user:gm1:campaigns %s", s_id);
    CHECK (k->type == REDIS_REPLY_NIL);
    freeReplyObject (k);
}

/* M1: once the membership or campaign is gone from Redis, a failing
 * follow-up (the presence script) must not become an error answer that
 * drops the pushes and evictions. A key of the wrong type makes the
 * script fail for real (WRONGTYPE), after the EXEC. */
static void
s_follow_up_fails (void)
{
    char id[64], room[96], gm[128], except[128];
    cJSON *c = wcheck_ok_as (C, &s_gm, "campaign:create", "{\"name\":\"Frail\"}");
    snprintf (id, sizeof id, "%s", wcheck_str (c, "id"));
    cJSON_Delete (c);
    snprintf (room, sizeof room, "campaign:%s", id);
    snprintf (gm, sizeof gm, "campaign:%s:gm", id);
    snprintf (except, sizeof except, "[\"%s\"]", room);
    cJSON *a = wcheck_ok_as (C, &s_gm, "campaign:addMember",
                      s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p3\",\"role\":\"player\"}", id));
    cJSON_Delete (a);
    wcheck_drain (100);

    /* removeMember: the purge script fails on p3's connection set */
    freeReplyObject (wcheck_redis ("SET pl:presence:conns:%s:p3 poison", room));
    cJSON *r = wcheck_ok_as (C, &s_gm, "campaign:removeMember",
                      s_fmt ("{\"campaignId\":\"%s\",\"userId\":\"p3\"}", id));
    cJSON_Delete (r);
    wcheck_event (room, "campaign:memberRemoved", "gw-a/1", NULL, NULL);
    wcheck_event ("user:p3", "campaign:memberRemoved", "gw-a/1", NULL, except);
    wcheck_control ("user:p3", gm);
    wcheck_control ("user:p3", room);
    wcheck_quiet (150);
    redisReply *k = wcheck_redis ("HEXISTS pl:campaign:%s:members p3", id);
    CHECK (k->integer == 0);
    freeReplyObject (k);
    freeReplyObject (wcheck_redis ("DEL pl:presence:conns:%s:p3", room));

    /* delete: the forget script fails on the room's user hash */
    freeReplyObject (wcheck_redis ("SET pl:presence:users:%s poison", room));
    cJSON *reply = wcheck_call_as (C, &s_gm, "campaign:delete", s_fmt ("\"%s\"", id), NULL);
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    cJSON_Delete (reply);
    wcheck_event_text (room, "campaign:deleted", "gw-a/1", s_fmt ("{\"id\":\"%s\"}", id), NULL);
    wcheck_control (room, gm);
    wcheck_control (room, room);
    wcheck_quiet (150);
    k = wcheck_redis ("EXISTS pl:campaign:%s", id);
    CHECK (k->integer == 0);
    freeReplyObject (k);
    freeReplyObject (wcheck_redis ("DEL pl:presence:users:%s", room));
}

/* ---- races ---------------------------------------------------------- */

/* Redis's count of clients held by CLIENT PAUSE (or otherwise blocked). */
static long
s_blocked (void)
{
    redisReply *info = wcheck_redis ("INFO clients");
    const char *at = strstr (info->str, "blocked_clients:");
    long n = at ? atol (at + strlen ("blocked_clients:")) : -1;
    freeReplyObject (info);
    return n;
}

/* Wait until Redis holds n clients; false if that took past the budget.
 * Redis says nothing when it holds a client, so this polls, bounded. */
static bool
s_held (long n)
{
    for (int i = 0; i < 60; i++) {
        if (s_blocked () >= n)
            return true;
        wcheck_pause (10);
    }
    return false;
}

/* Request a (on worker C) and request b (on worker C2) both read before
 * either commits: Redis holds every write (CLIENT PAUSE WRITE; a script is
 * one), a is sent and held on its commit, then b, then both go, a first
 * (Redis resumes held clients in order). So b's commit meets a's writes:
 * if it expected what a changed, it conflicts and its handler runs again,
 * deciding on what a left. The pause ends by itself after 800 ms, inside
 * the workers' 1 s command timeout. The replies are returned as *ra, *rb. */
static void
s_race (const wcheck_who_t *wa, const char *ea, const char *ba,
        const wcheck_who_t *wb, const char *eb, const char *bb, cJSON **ra, cJSON **rb)
{
    CHECK (s_blocked () == 0);
    freeReplyObject (wcheck_redis ("CLIENT PAUSE 800 WRITE"));
    int sa = wcheck_send_as (C, wa, ea, ba);
    bool held = s_held (1);
    int sb = wcheck_send_as (C2, wb, eb, bb);
    held = held && s_held (2);
    freeReplyObject (wcheck_redis ("CLIENT UNPAUSE"));
    CHECK (held);                           /* the race did happen */
    *ra = *rb = NULL;
    for (int i = 0; i < 2; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        CHECK (seq == sa || seq == sb);
        *(seq == sa ? ra : rb) = reply;
    }
    CHECK (*ra && *rb);
    wcheck_drain (100);
}

/* A new campaign named name, created by who; its id in id. */
static void
s_new_campaign (const wcheck_who_t *who, const char *name, char *id, size_t size)
{
    cJSON *c = wcheck_ok_as (C, who, "campaign:create", s_fmt ("{\"name\":\"%s\"}", name));
    snprintf (id, size, "%s", wcheck_str (c, "id"));
    cJSON_Delete (c);
    wcheck_drain (100);
}

/* How many GMs campaign id has. */
static int
s_gms (const char *id)
{
    redisReply *all = wcheck_redis ("HGETALL pl:campaign:%s:members", id);
    int gms = 0;
    for (size_t i = 0; i + 1 < all->elements; i += 2)
        gms += strcmp (all->element[i + 1]->str, "gm") == 0;
    freeReplyObject (all);
    return gms;
}

static const char *
s_role (const char *id, const char *user, char *buf, size_t size)
{
    redisReply *r = wcheck_redis ("HGET pl:campaign:%s:members %s", id, user);
    snprintf (buf, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject (r);
    return buf;
}

/* One race of s_race_gms: wa acts on ua while wb acts on ub, with
 * addMember to role, or removeMember when role is NULL. a succeeds, b
 * answers code_b, and survivor is the one GM left. */
static void
s_gm_race (const char *id, const wcheck_who_t *wa, const char *ua, const wcheck_who_t *wb,
           const char *ub, const char *role, const char *code_b, const char *survivor)
{
    const char *event = role ? "campaign:addMember" : "campaign:removeMember";
    char a[256], b[256], got[16];
    snprintf (a, sizeof a, "{\"campaignId\":\"%s\",\"userId\":\"%s\"%s%s%s}", id, ua,
              role ? ",\"role\":\"" : "", role ? role : "", role ? "\"" : "");
    snprintf (b, sizeof b, "{\"campaignId\":\"%s\",\"userId\":\"%s\"%s%s%s}", id, ub,
              role ? ",\"role\":\"" : "", role ? role : "", role ? "\"" : "");
    cJSON *ra, *rb;
    s_race (wa, event, a, wb, event, b, &ra, &rb);
    CHECK (strcmp (wcheck_code (ra), "") == 0);
    CHECK (strcmp (wcheck_code (rb), code_b) == 0);
    CHECK (s_gms (id) == 1);                            /* never zero */
    CHECK (strcmp (s_role (id, survivor, got, sizeof got), "gm") == 0);
    cJSON_Delete (ra);
    cJSON_Delete (rb);
}

/* ga and gb, both GMs: demoting each other, each themselves, removing
 * themselves at once. The last-GM rule holds every time: the loser
 * decides again on what the winner left. */
static void
s_race_gms (void)
{
    const wcheck_who_t ga = { "gw-a", "11", "ga", NULL }, gb = { "gw-a", "12", "gb", NULL };
    char id[64], role[16];
    s_new_campaign (&ga, "Race", id, sizeof id);
    cJSON *c;
    const char *promote = "{\"campaignId\":\"%s\",\"userId\":\"%s\",\"role\":\"gm\"}";
    c = wcheck_ok_as (C, &ga, "campaign:addMember", s_fmt (promote, id, "gb"));
    cJSON_Delete (c);
    wcheck_drain (100);
    /* each demotes the other: a wins; b's caller is a player by then */
    s_gm_race (id, &ga, "gb", &gb, "ga", "player", "FORBIDDEN", "ga");
    /* each demotes themselves: both callers stay GMs until their own
     * write, so only the expectation on every GM counted stops b, which
     * runs again and answers the truth: the last GM */
    c = wcheck_ok_as (C, &ga, "campaign:addMember", s_fmt (promote, id, "gb"));
    cJSON_Delete (c);
    wcheck_drain (100);
    s_gm_race (id, &ga, "ga", &gb, "gb", "player", "CONFLICT", "gb");
    /* each removes themselves */
    c = wcheck_ok_as (C, &gb, "campaign:addMember", s_fmt (promote, id, "ga"));
    cJSON_Delete (c);
    wcheck_drain (100);
    s_gm_race (id, &gb, "gb", &ga, "ga", NULL, "CONFLICT", "ga");
    CHECK (strcmp (s_role (id, "gb", role, sizeof role), "") == 0);
    redisReply *k = wcheck_redis ("ZSCORE pl:user:gb:campaigns %s", id);
    CHECK (k->type == REDIS_REPLY_NIL);
    freeReplyObject (k);
}

/* A campaign deleted while a member is added, both orders: the add
 * first, and the delete (run again) takes the new member's index entry
 * too; the delete first, and the add (run again) finds no campaign. */
static void
s_race_delete (void)
{
    const wcheck_who_t g1 = { "gw-a", "21", "gd", NULL }, g2 = { "gw-b", "22", "gd", NULL };
    for (int order = 0; order < 2; order++) {
        char id[64], add[256], del[96];
        s_new_campaign (&g1, "Doomed", id, sizeof id);
        snprintf (add, sizeof add, "{\"campaignId\":\"%s\",\"userId\":\"p5\",\"role\":\"player\"}", id);
        snprintf (del, sizeof del, "\"%s\"", id);
        cJSON *radd, *rdel;
        if (order == 0)
            s_race (&g1, "campaign:addMember", add, &g2, "campaign:delete", del, &radd, &rdel);
        else
            s_race (&g1, "campaign:delete", del, &g2, "campaign:addMember", add, &rdel, &radd);
        CHECK (strcmp (wcheck_code (rdel), "") == 0);
        CHECK (strcmp (wcheck_code (radd), order == 0 ? "" : "NOT_FOUND") == 0);
        redisReply *k = wcheck_redis ("EXISTS pl:campaign:%s pl:campaign:%s:members", id, id);
        CHECK (k->integer == 0);
        freeReplyObject (k);
        k = wcheck_redis ("ZSCORE pl:user:p5:campaigns %s", id);
        CHECK (k->type == REDIS_REPLY_NIL);         /* no stale index entry */
        freeReplyObject (k);
        cJSON_Delete (radd);
        cJSON_Delete (rdel);
    }
}

/* Two updates of different fields at once: both acked, both stick. */
static void
s_race_update (void)
{
    const wcheck_who_t g1 = { "gw-a", "31", "gu", NULL }, g2 = { "gw-b", "32", "gu", NULL };
    char id[64], a[256], b[256];
    s_new_campaign (&g1, "Twice", id, sizeof id);
    snprintf (a, sizeof a, "{\"id\":\"%s\",\"name\":\"Thrice\"}", id);
    snprintf (b, sizeof b, "{\"id\":\"%s\",\"setting\":\"Moon\"}", id);
    cJSON *ra, *rb;
    s_race (&g1, "campaign:update", a, &g2, "campaign:update", b, &ra, &rb);
    CHECK (strcmp (wcheck_code (ra), "") == 0 && strcmp (wcheck_code (rb), "") == 0);
    /* b, run again on a's result, answers both */
    cJSON *data = cJSON_GetObjectItem (rb, "data");
    CHECK (strcmp (wcheck_str (data, "name"), "Thrice") == 0);
    CHECK (strcmp (wcheck_str (data, "setting"), "Moon") == 0);
    cJSON_Delete (ra);
    cJSON_Delete (rb);
    cJSON *g = wcheck_ok_as (C, &g1, "campaign:get", s_fmt ("\"%s\"", id));
    CHECK (strcmp (wcheck_str (g, "name"), "Thrice") == 0);
    CHECK (strcmp (wcheck_str (g, "setting"), "Moon") == 0);
    cJSON_Delete (g);
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: parley-campaigns-check parley-campaigns parley-rooms [-v]\n");
        return 2;
    }
    wcheck_init ("campaigns_check", strcmp (argv[argc - 1], "-v") == 0);
    wcheck_worker (C, argv[1], "campaigns", NULL);
    wcheck_worker (R, argv[2], "rooms", NULL);
    wcheck_worker (C2, argv[1], "campaigns", NULL);
    s_probe ();
    wcheck_who_t gw = { "gw-a", "0", "-", NULL };
    cJSON *d = wcheck_ok_as (R, &gw, "presence:alive", "{\"boot\":\"a\",\"ttlMs\":60000}");
    cJSON_Delete (d);
    gw.gw = "gw-b";
    d = wcheck_ok_as (R, &gw, "presence:alive", "{\"boot\":\"b\",\"ttlMs\":60000}");
    cJSON_Delete (d);
    printf ("campaigns_check: create\n");
    s_create ();
    printf ("campaigns_check: members\n");
    s_members ();
    printf ("campaigns_check: removeMember\n");
    s_remove ();
    printf ("campaigns_check: delete\n");
    s_delete ();
    printf ("campaigns_check: a failing follow-up after the commit\n");
    s_follow_up_fails ();
    printf ("campaigns_check: races\n");
    s_race_gms ();
    s_race_delete ();
    s_race_update ();
    wcheck_done ();
    return 0;
}
