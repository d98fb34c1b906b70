/*  pl_presence - presence records and their scripts. See pl_presence.h. */
#include "pl_presence.h"
#include "pl_keys.h"
#include "pl_log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STR2(x) #x
#define S_STR(x)  S_STR2 (x)

/* Shared head of every script. ARGV[1] is the publish budget in events
 * (0: everything goes to the outbox; "silent": emit nothing at all).
 *   emit   - one presence:left: inline while the budget lasts, else queued
 *   remove - one connection's record of one room; emit when it was the
 *            user's last connection there
 *   drop   - every record of one connection
 *   purge  - every record of one gateway, and its boot id
 *   finish - bound the outbox, answer the inline events */
#define S_LUA_HEAD \
    "local out, pushed = {}, false\n" \
    "local silent = ARGV[1] == 'silent'\n" \
    "local budget = silent and 0 or tonumber (ARGV[1])\n" \
    "local function emit (room, user, name)\n" \
    "  if silent then return end\n" \
    "  if #out < budget * 3 then\n" \
    "    out[#out + 1] = room; out[#out + 1] = user; out[#out + 1] = name\n" \
    "  else\n" \
    "    redis.call ('RPUSH', " PL_LUA_KEY_PRESENCE_OUTBOX ", room, user, name); pushed = true\n" \
    "  end\n" \
    "end\n" \
    "local function remove (gw, conn, room, user)\n" \
    "  local ck = gw .. '/' .. conn\n" \
    "  redis.call ('HDEL', " PL_LUA_KEY_PRESENCE_CONN ("gw", "conn") ", room)\n" \
    "  if redis.call ('EXISTS', " PL_LUA_KEY_PRESENCE_CONN ("gw", "conn") ") == 0 then\n" \
    "    redis.call ('SREM', " PL_LUA_KEY_PRESENCE_GW ("gw") ", conn)\n" \
    "  end\n" \
    "  local cs = " PL_LUA_KEY_PRESENCE_CONNS ("room", "user") "\n" \
    "  redis.call ('SREM', cs, ck)\n" \
    "  if redis.call ('SCARD', cs) == 0 then\n" \
    "    local name = redis.call ('HGET', " PL_LUA_KEY_PRESENCE_USERS ("room") ", user)\n" \
    "    if name then\n" \
    "      redis.call ('HDEL', " PL_LUA_KEY_PRESENCE_USERS ("room") ", user)\n" \
    "      emit (room, user, name)\n" \
    "    end\n" \
    "  end\n" \
    "end\n" \
    "local function drop (gw, conn)\n" \
    "  local rec = redis.call ('HGETALL', " PL_LUA_KEY_PRESENCE_CONN ("gw", "conn") ")\n" \
    "  for i = 1, #rec, 2 do remove (gw, conn, rec[i], rec[i + 1]) end\n" \
    "  redis.call ('DEL', " PL_LUA_KEY_PRESENCE_CONN ("gw", "conn") ")\n" \
    "  redis.call ('SREM', " PL_LUA_KEY_PRESENCE_GW ("gw") ", conn)\n" \
    "end\n" \
    "local function purge (gw)\n" \
    "  for _, conn in ipairs (redis.call ('SMEMBERS', " PL_LUA_KEY_PRESENCE_GW ("gw") ")) do\n" \
    "    drop (gw, conn)\n" \
    "  end\n" \
    "  redis.call ('DEL', " PL_LUA_KEY_PRESENCE_GW ("gw") ", " PL_LUA_KEY_PRESENCE_BOOT ("gw") ")\n" \
    "end\n" \
    "local function finish ()\n" \
    "  if pushed then\n" \
    "    local n, max = redis.call ('LLEN', " PL_LUA_KEY_PRESENCE_OUTBOX "), " \
             S_STR (PL_PRESENCE_OUTBOX_MAX) " * 3\n" \
    "    if n > max then\n" \
    "      redis.call ('LTRIM', " PL_LUA_KEY_PRESENCE_OUTBOX ", n - max, -1)\n" \
    "      redis.log (redis.LOG_WARNING, 'parley: presence outbox full, dropped ' .. (n - max) / 3 .. ' events')\n" \
    "    end\n" \
    "  end\n" \
    "  return out\n" \
    "end\n"

/* ARGV: budget, gw, conn, user, name, room, campaign id or '', grace ms.
 * Answers {joined (1: first connection of the user), role} or {-1} when
 * the user is not a member of the campaign. The grace liveness makes a
 * gateway not yet heard from (its presence:alive still on the way, or Redis
 * restarted empty) look alive for one ttl instead of being swept at once. */
PL_REDIS_SCRIPT (s_join_lua, S_LUA_HEAD
    "local gw, conn, user, name, room, cid = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
    "local role = ''\n"
    "if cid ~= '' then\n"
    "  role = redis.call ('HGET', " PL_LUA_KEY_CAMPAIGN_MEMBERS ("cid") ", user)\n"
    "  if not role then return {-1} end\n"
    "end\n"
    "local ck = gw .. '/' .. conn\n"
    "redis.call ('SADD', " PL_LUA_KEY_PRESENCE_GATEWAYS ", gw)\n"
    "redis.call ('SET', " PL_LUA_KEY_PRESENCE_ALIVE ("gw") ", '', 'PX', ARGV[8], 'NX')\n"
    "if redis.call ('HSETNX', " PL_LUA_KEY_PRESENCE_CONN ("gw", "conn") ", room, user) == 0 "
    "then return {0, role} end\n"
    "redis.call ('SADD', " PL_LUA_KEY_PRESENCE_GW ("gw") ", conn)\n"
    "redis.call ('SADD', " PL_LUA_KEY_PRESENCE_CONNS ("room", "user") ", ck)\n"
    "return {redis.call ('HSETNX', " PL_LUA_KEY_PRESENCE_USERS ("room") ", user, name), role}\n");

/* ARGV: budget, gw, conn, room. */
PL_REDIS_SCRIPT (s_leave_lua, S_LUA_HEAD
    "local user = redis.call ('HGET', " PL_LUA_KEY_PRESENCE_CONN ("ARGV[2]", "ARGV[3]") ", ARGV[4])\n"
    "if user then remove (ARGV[2], ARGV[3], ARGV[4], user) end\n"
    "return finish ()\n");

/* ARGV: budget, gw, conn. */
PL_REDIS_SCRIPT (s_drop_lua, S_LUA_HEAD
    "drop (ARGV[2], ARGV[3])\n"
    "return finish ()\n");

/* Redis's clock, ms. */
#define S_LUA_NOW \
    "local t = redis.call ('TIME')\n" \
    "local now = tonumber (t[1]) * 1000 + math.floor (tonumber (t[2]) / 1000)\n"

/* ARGV: budget, gw, boot, ttl ms. A boot key that is absent means a
 * gateway we never heard from (or whose records were already purged):
 * nothing to drop. 'heard' holds when the current stretch of hearing from
 * some gateway began; it lasts as long as the longest ttl heard, so it
 * lapses only when no gateway at all got through for that long.
 * 'heard_last' is the last time any gateway was heard, and due[gw] when
 * gw's next alive is due at the latest. */
PL_REDIS_SCRIPT (s_alive_lua, S_LUA_HEAD S_LUA_NOW
    "local gw, boot = ARGV[2], ARGV[3]\n"
    "local old = redis.call ('GET', " PL_LUA_KEY_PRESENCE_BOOT ("gw") ")\n"
    "if old and old ~= boot then purge (gw) end\n"
    "redis.call ('SET', " PL_LUA_KEY_PRESENCE_BOOT ("gw") ", boot)\n"
    "redis.call ('SET', " PL_LUA_KEY_PRESENCE_ALIVE ("gw") ", boot, 'PX', ARGV[4])\n"
    "redis.call ('SADD', " PL_LUA_KEY_PRESENCE_GATEWAYS ", gw)\n"
    "redis.call ('SET', " PL_LUA_KEY_PRESENCE_HEARD ", now, 'PX', ARGV[4], 'NX')\n"
    "if redis.call ('PTTL', " PL_LUA_KEY_PRESENCE_HEARD ") < tonumber (ARGV[4]) then\n"
    "  redis.call ('PEXPIRE', " PL_LUA_KEY_PRESENCE_HEARD ", ARGV[4])\n"
    "end\n"
    "redis.call ('SET', " PL_LUA_KEY_PRESENCE_HEARD_LAST ", now)\n"
    "redis.call ('HSET', " PL_LUA_KEY_PRESENCE_DUE ", gw, now + tonumber (ARGV[4]))\n"
    "return finish ()\n");

/* ARGV: budget, ttl ms. A gateway whose alive lapsed is swept only when
 * another gateway got through after it was due, and gateways have been
 * heard from without a break for ttl: when none is heard (the broker or
 * every rooms worker is down, so no alive gets through), a lapsed alive
 * says nothing about its gateway, and once the path is back the ones
 * still up get a ttl to say so. Dead gateways' events all go to the
 * outbox (budget 0), then the oldest queued ones come out, so the outbox
 * stays in order. */
PL_REDIS_SCRIPT (s_sweep_lua, S_LUA_HEAD S_LUA_NOW
    "local take = budget\n"
    "budget = 0\n"
    "local since = redis.call ('GET', " PL_LUA_KEY_PRESENCE_HEARD ")\n"
    "local last = tonumber (redis.call ('GET', " PL_LUA_KEY_PRESENCE_HEARD_LAST ") or '0')\n"
    "if since and now - tonumber (since) >= tonumber (ARGV[2]) then\n"
    "  for _, gw in ipairs (redis.call ('SMEMBERS', " PL_LUA_KEY_PRESENCE_GATEWAYS ")) do\n"
    "    if redis.call ('EXISTS', " PL_LUA_KEY_PRESENCE_ALIVE ("gw") ") == 0\n"
    "    and last > tonumber (redis.call ('HGET', " PL_LUA_KEY_PRESENCE_DUE ", gw) or '0') then\n"
    "      purge (gw)\n"
    "      redis.call ('SREM', " PL_LUA_KEY_PRESENCE_GATEWAYS ", gw)\n"
    "      redis.call ('HDEL', " PL_LUA_KEY_PRESENCE_DUE ", gw)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "finish ()\n"
    "if take <= 0 then return {} end\n"
    "return redis.call ('LPOP', " PL_LUA_KEY_PRESENCE_OUTBOX ", take * 3) or {}\n");

/* ARGV: budget ('silent' to forget), user ('' for every user), rooms... */
PL_REDIS_SCRIPT (s_purge_lua, S_LUA_HEAD
    "local function purge_user (room, user)\n"
    "  local cs = " PL_LUA_KEY_PRESENCE_CONNS ("room", "user") "\n"
    "  for _, ck in ipairs (redis.call ('SMEMBERS', cs)) do\n"
    "    local gw, conn = string.match (ck, '^([^/]*)/(.*)$')\n"
    "    if gw then remove (gw, conn, room, user) end\n"
    "  end\n"
    "  redis.call ('DEL', cs)\n"
    "  local name = redis.call ('HGET', " PL_LUA_KEY_PRESENCE_USERS ("room") ", user)\n"
    "  if name then\n"
    "    redis.call ('HDEL', " PL_LUA_KEY_PRESENCE_USERS ("room") ", user)\n"
    "    emit (room, user, name)\n"
    "  end\n"
    "end\n"
    "for i = 3, #ARGV do\n"
    "  if ARGV[2] ~= '' then purge_user (ARGV[i], ARGV[2])\n"
    "  else\n"
    "    for _, user in ipairs (redis.call ('HKEYS', " PL_LUA_KEY_PRESENCE_USERS ("ARGV[i]") ")) do\n"
    "      purge_user (ARGV[i], user)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return finish ()\n");

cJSON *
pl_presence_payloads (const redisReply *triplets)
{
    cJSON *list = cJSON_CreateArray ();
    if (!list || !triplets || triplets->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    for (size_t i = 0; i + 3 <= triplets->elements; i += 3) {
        const redisReply *const *e = (const redisReply *const *) triplets->element + i;
        if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING
        ||  e[2]->type != REDIS_REPLY_STRING)
            break;
        cJSON *payload = cJSON_CreateObject ();
        if (!payload)
            break;
        cJSON_AddStringToObject (payload, "room", e[0]->str);
        cJSON_AddStringToObject (payload, "userId", e[1]->str);
        cJSON_AddStringToObject (payload, "name", e[2]->str);
        cJSON_AddItemToArray (list, payload);
    }
cleanup:
    return list;
}

/* Publish presence:left for a script's answer. Returns 0, or -1 answered. */
static int
s_publish_left (pl_call_t *call, redisReply *reply, bool exclude_origin)
{
    int rc = -1;
    cJSON *list = NULL;
    if (!reply)
        goto cleanup;
    list = pl_presence_payloads (reply);
    if (!list) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    cJSON *payload;
    while ((payload = cJSON_DetachItemFromArray (list, 0))) {
        const char *room = cJSON_GetObjectItemCaseSensitive (payload, "room")->valuestring;
        char *copy = strdup (room);
        if (copy)
            pl_call_publish (call, copy, PL_PUSH_PRESENCE_LEFT, payload, exclude_origin);
        else
            cJSON_Delete (payload);
        free (copy);
    }
    rc = 0;
cleanup:
    cJSON_Delete (list);
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* The caller's connection, or NULL (a periodic task has none). */
static bool
s_caller_conn (pl_call_t *call, const char **gw, const char **conn)
{
    const pl_caller_t *caller = pl_call_caller (call);
    *gw = caller->gateway;
    *conn = caller->conn;
    return *gw && *conn && **gw && **conn && !strchr (*gw, '/');
}

static redisReply *
s_run (pl_call_t *call, pl_redis_script_t *script, int argc, const char **argv)
{
    return pl_call_script (call, script, 0, argc, argv, NULL);
}

int
pl_presence_join (pl_call_t *call, const char *room, const char *campaign_id,
                  long ttl_ms, pl_role_t *role)
{
    int rc = -1;
    const char *gw, *conn;
    const pl_caller_t *caller = pl_call_caller (call);
    *role = PL_ROLE_NONE;
    if (!s_caller_conn (call, &gw, &conn)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "no connection to record");
        return -1;
    }
    const char *name = caller->name && *caller->name ? caller->name : caller->user;
    char ttl[24];
    snprintf (ttl, sizeof ttl, "%ld", ttl_ms > 0 ? ttl_ms : 1000);
    const char *argv[] = { "0", gw, conn, caller->user, name, room,
                           campaign_id ? campaign_id : "", ttl };
    redisReply *reply = s_run (call, &s_join_lua, 8, argv);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
    ||  reply->element[0]->type != REDIS_REPLY_INTEGER) {
        pl_call_error (call, PL_ERR_INTERNAL, "presence script answered oddly");
        goto cleanup;
    }
    if (reply->element[0]->integer < 0) {
        rc = 1;
        goto cleanup;
    }
    if (reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_STRING)
        *role = pl_authz_role_parse (reply->element[1]->str);
    if (reply->element[0]->integer == 1) {
        cJSON *payload = cJSON_CreateObject ();
        cJSON_AddStringToObject (payload, "room", room);
        cJSON_AddStringToObject (payload, "userId", caller->user);
        cJSON_AddStringToObject (payload, "name", name);
        pl_call_publish (call, room, PL_PUSH_PRESENCE_JOINED, payload, true);
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_presence_leave (pl_call_t *call, const char *room, int budget)
{
    const char *gw, *conn;
    char b[16];
    if (!s_caller_conn (call, &gw, &conn))
        return 0;                           /* no connection: in no room */
    snprintf (b, sizeof b, "%d", budget);
    const char *argv[] = { b, gw, conn, room };
    return s_publish_left (call, s_run (call, &s_leave_lua, 4, argv), true);
}

int
pl_presence_drop (pl_call_t *call, int budget)
{
    const char *gw, *conn;
    char b[16];
    if (!s_caller_conn (call, &gw, &conn))
        return 0;
    snprintf (b, sizeof b, "%d", budget);
    const char *argv[] = { b, gw, conn };
    /* the origin is the closed connection: leaving it out is moot */
    return s_publish_left (call, s_run (call, &s_drop_lua, 3, argv), false);
}

int
pl_presence_alive (pl_call_t *call, const char *boot, long ttl_ms, int budget)
{
    const char *gw = pl_call_caller (call)->gateway;
    char b[16], ttl[24];
    if (!gw || !*gw || strchr (gw, '/')) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "no gateway id");
        return -1;
    }
    snprintf (b, sizeof b, "%d", budget);
    snprintf (ttl, sizeof ttl, "%ld", ttl_ms);
    const char *argv[] = { b, gw, boot, ttl };
    return s_publish_left (call, s_run (call, &s_alive_lua, 4, argv), false);
}

int
pl_presence_sweep (pl_call_t *call, long ttl_ms, int budget)
{
    char b[16], ttl[24];
    snprintf (b, sizeof b, "%d", budget);
    snprintf (ttl, sizeof ttl, "%ld", ttl_ms);
    const char *argv[] = { b, ttl };
    return s_publish_left (call, s_run (call, &s_sweep_lua, 2, argv), false);
}

/* The purge script for user ("" for all) in rooms, with budget text. */
static int
s_purge (pl_call_t *call, const char *budget, const char *user,
         const char *const *rooms, size_t count)
{
    int rc = -1;
    const char **argv = calloc (count + 2, sizeof *argv);
    if (!argv) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    argv[0] = budget;
    argv[1] = user;
    for (size_t i = 0; i < count; i++)
        argv[i + 2] = rooms[i];
    /* the origin is whoever removed the user: they must hear of it */
    rc = s_publish_left (call, s_run (call, &s_purge_lua, (int) count + 2, argv), false);
cleanup:
    free (argv);
    return rc;
}

int
pl_presence_purge_user (pl_call_t *call, const char *user, const char *const *rooms,
                        size_t count, int budget)
{
    char b[16];
    assert (user && *user);
    snprintf (b, sizeof b, "%d", budget);
    return s_purge (call, b, user, rooms, count);
}

int
pl_presence_forget_rooms (pl_call_t *call, const char *const *rooms, size_t count)
{
    return s_purge (call, "silent", "", rooms, count);
}

int
pl_presence_by_user (const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *) a, *y = *(const cJSON *const *) b;
    return strcmp (cJSON_GetObjectItemCaseSensitive (x, "userId")->valuestring,
                   cJSON_GetObjectItemCaseSensitive (y, "userId")->valuestring);
}

cJSON *
pl_presence_list (pl_call_t *call, const char *room)
{
    cJSON *list = NULL, **items = NULL;
    redisReply *reply = pl_call_command (call, "HGETALL " PL_KEY_PRESENCE_USERS, room);
    if (!reply)
        goto cleanup;
    size_t n = reply->type == REDIS_REPLY_ARRAY ? reply->elements / 2 : 0;
    items = calloc (n + 1, sizeof *items);
    list = cJSON_CreateArray ();
    if (!items || !list) {
        cJSON_Delete (list);
        list = NULL;
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *user = reply->element[2 * i], *name = reply->element[2 * i + 1];
        if (user->type != REDIS_REPLY_STRING || name->type != REDIS_REPLY_STRING)
            continue;
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "userId", user->str);
        cJSON_AddStringToObject (item, "name", name->str);
        items[count++] = item;
    }
    qsort (items, count, sizeof *items, pl_presence_by_user);
    for (size_t i = 0; i < count; i++)
        cJSON_AddItemToArray (list, items[i]);
cleanup:
    free (items);
    if (reply)
        freeReplyObject (reply);
    return list;
}

/* ---- selftest -------------------------------------------------------- */

static redisReply *
s_fake_string (const char *text)
{
    redisReply *r = calloc (1, sizeof *r);
    r->type = REDIS_REPLY_STRING;
    r->str = strdup (text);
    r->len = strlen (text);
    return r;
}

static void
s_fake_free (redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        s_fake_free (r->element[i]);
    free (r->element);
    free (r->str);
    free (r);
}

void
pl_presence_test (bool verbose)
{
    if (verbose)
        printf (" * pl_presence: ");
    /* two whole triplets and a stray element */
    const char *texts[] = { "campaign:c1", "alice", "Alice", "session:s1", "bob", "b o b", "x" };
    redisReply arr = { .type = REDIS_REPLY_ARRAY, .elements = 7 };
    arr.element = calloc (7, sizeof *arr.element);
    for (int i = 0; i < 7; i++)
        arr.element[i] = s_fake_string (texts[i]);
    cJSON *list = pl_presence_payloads (&arr);
    assert (cJSON_GetArraySize (list) == 2);
    cJSON *want = cJSON_Parse ("[{\"room\":\"campaign:c1\",\"userId\":\"alice\",\"name\":\"Alice\"},"
                               "{\"room\":\"session:s1\",\"userId\":\"bob\",\"name\":\"b o b\"}]");
    assert (cJSON_Compare (list, want, true));
    cJSON_Delete (list);
    /* a non-string in the second triplet: only the first comes out */
    arr.element[4]->type = REDIS_REPLY_NIL;
    list = pl_presence_payloads (&arr);
    assert (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    arr.element[4]->type = REDIS_REPLY_STRING;
    /* not an array, or nothing: an empty list */
    list = pl_presence_payloads (arr.element[0]);
    assert (cJSON_IsArray (list) && cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    list = pl_presence_payloads (NULL);
    assert (cJSON_IsArray (list) && cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    arr.elements = 0;
    list = pl_presence_payloads (&arr);
    assert (cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);
    arr.elements = 7;
    for (int i = 0; i < 7; i++)
        s_fake_free (arr.element[i]);
    free (arr.element);
    cJSON_Delete (want);
    /* the scripts' head is in every script, and the bound is spelled in */
    assert (strstr (s_sweep_lua.source, "local function purge"));
    assert (strstr (s_join_lua.source, S_STR (PL_PRESENCE_OUTBOX_MAX) " * 3"));
    if (verbose)
        printf ("OK\n");
}
