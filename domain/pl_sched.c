/*  pl_sched - world time, scheduled events and turn timers. See pl_sched.h.
 *
 *  Every write is one Lua script, so each is atomic against every other
 *  scheduler and handler: the claims (time change, periodic pass) remove
 *  what they return. Times of day come from Redis (TIME inside the
 *  scripts): one clock for every scheduler, whatever host it runs on.
 *  Numbers cross as decimal strings (string.format '%d'), never as Lua
 *  numbers turned into replies.
 *
 *  Runs inside a handler's (or the periodic task's) call, on the worker
 *  loop.
 */
#include "pl_sched.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_wire.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert (PL_SCHED_FIRE_MAX < 1000, "S_LUA_TAKE's score fraction counts to 999");

/* How long a claim holds a fired entry before any scheduler may fire it
 * again (pl_sched__acks_reset changes it for the selftest). */
static int64_t s_lease_ms = PL_SCHED_LEASE_MS;

/* This process's fired entries waiting for their acknowledgement: ids
 * (JSON strings) published by calls that may not have ended (staged),
 * and by calls that ended before the task's last turn began (ready: their
 * events have been sent unless the runtime still holds some). Each list
 * holds at most PL_SCHED_ACK_MAX; an id past it is not acknowledged and
 * fires again when its lease expires (at-least-once, logged). The worker
 * loop is the only thread that touches them. */
static struct {
    cJSON *staged, *ready;
} s_acks;

static void
s_note (cJSON **list, const char *id)
{
    if (!*list)
        *list = cJSON_CreateArray ();
    if (*list && cJSON_GetArraySize (*list) < PL_SCHED_ACK_MAX)
        cJSON_AddItemToArray (*list, cJSON_CreateString (id));
    else
        pl_warn ("scheduled event %s: no room to acknowledge it; it fires again after "
                 "its lease (%" PRId64 " ms)", id, s_lease_ms);
}

/* Redis's clock in ms. */
#define S_LUA_NOW \
    "local t = redis.call ('TIME')\n" \
    "local now = tonumber (t[1]) * 1000 + math.floor (tonumber (t[2]) / 1000)\n"

/* Claim one due member m of zset zk: out of zk, into the firing zset F
 * with a lease until now + L (the caller's acknowledgement, pl_sched_ack,
 * removes it and its entry; an expired lease fires it again), and its
 * entry appended to out. The score's fraction (the claim's running count
 * n, 3 decimals: distinct doubles for epoch ms below 2^43) keeps the
 * claim's order among equal deadlines, so a re-claim fires in due order.
 * E, M: the entries and members hashes; needs now (S_LUA_NOW). An entry
 * gone missing, or of a campaign deleted meanwhile, is cleaned up, not
 * fired (pl_sched_campaign_clear's safety net). */
#define S_LUA_TAKE \
    "local n = 0\n" \
    "local function lease (m)\n" \
    "  n = n + 1\n" \
    "  redis.call ('ZADD', F, string.format ('%d.%03d', now + L, n), m)\n" \
    "end\n" \
    "local function take (zk, m, out)\n" \
    "  redis.call ('ZREM', zk, m)\n" \
    "  local id, cid = string.match (m, '^%d+:([^:]+):(.+)$')\n" \
    "  if not id then return end\n" \
    "  local e = redis.call ('HGET', E, id)\n" \
    "  if e and redis.call ('EXISTS', " PL_LUA_KEY_CAMPAIGN ("cid") ") == 0 then\n" \
    "    redis.call ('HDEL', E, id)\n" \
    "    e = nil\n" \
    "  end\n" \
    "  if e then\n" \
    "    lease (m)\n" \
    "    out[#out + 1] = e\n" \
    "  else\n" \
    "    redis.call ('HDEL', M, id)\n" \
    "    redis.call ('SREM', " PL_LUA_KEY_SCHED_CAMPAIGN ("cid") ", id)\n" \
    "  end\n" \
    "end\n"

/* KEYS: time, world zset, entries, members, backlog, firing, campaign.
 * ARGV: "set" | "advance", value, max time, fire max, cid, lease ms. ->
 * {"gone"} (the campaign was deleted since the caller's role was read),
 * {"over", prev} or {prev, now, more ("0"/"1"), entries...}. */
PL_REDIS_SCRIPT (s_time_lua,
    "local E, M, F, L = KEYS[3], KEYS[4], KEYS[6], tonumber (ARGV[6])\n"
    S_LUA_NOW
    S_LUA_TAKE
    "if redis.call ('EXISTS', KEYS[7]) == 0 then return {'gone'} end\n"
    "local prev = tonumber (redis.call ('GET', KEYS[1]) or '0')\n"
    "local world = tonumber (ARGV[2])\n"
    "if ARGV[1] == 'advance' then world = prev + world end\n"
    "if world > tonumber (ARGV[3]) then return {'over', string.format ('%d', prev)} end\n"
    "redis.call ('SET', KEYS[1], string.format ('%d', world))\n"
    "local out = {string.format ('%d', prev), string.format ('%d', world), '0'}\n"
    "local max = tonumber (ARGV[4])\n"
    "local due = redis.call ('ZRANGEBYSCORE', KEYS[2], '-inf', world, 'LIMIT', 0, max + 1)\n"
    "for i, m in ipairs (due) do\n"
    "  if i > max then\n"
    "    out[3] = '1'\n"
    "    redis.call ('SADD', KEYS[5], ARGV[5])\n"
    "  else take (KEYS[2], m, out) end\n"
    "end\n"
    "return out\n");

/* KEYS: entries, members, campaign set, zset, time, seq, campaign. ARGV:
 * id, cid, entry JSON without its closing brace, afterMs (0: a world-time
 * entry), at, max pending. -> {"gone"} (the campaign was deleted since the
 * caller's role was read) | {"full"} | {"past", world} | {"ok", entry}. */
PL_REDIS_SCRIPT (s_create_lua,
    S_LUA_NOW
    "if redis.call ('EXISTS', KEYS[7]) == 0 then return {'gone'} end\n"
    "if redis.call ('SCARD', KEYS[3]) >= tonumber (ARGV[6]) then return {'full'} end\n"
    "local after = tonumber (ARGV[4])\n"
    "local json, score\n"
    "if after > 0 then\n"
    "  score = string.format ('%d', now + after)\n"
    "  json = ARGV[3] .. ',\"dueAt\":' .. score\n"
    "else\n"
    "  local world = redis.call ('GET', KEYS[5]) or '0'\n"
    "  if tonumber (ARGV[5]) <= tonumber (world) then return {'past', world} end\n"
    "  score = ARGV[5]\n"
    "  json = ARGV[3]\n"
    "end\n"
    "json = json .. ',\"createdAt\":' .. string.format ('%d', now) .. '}'\n"
    "local seq = redis.call ('INCR', KEYS[6])\n"
    "local m = string.format ('%020d', seq) .. ':' .. ARGV[1] .. ':' .. ARGV[2]\n"
    "redis.call ('HSET', KEYS[1], ARGV[1], json)\n"
    "redis.call ('HSET', KEYS[2], ARGV[1], m)\n"
    "redis.call ('SADD', KEYS[3], ARGV[1])\n"
    "redis.call ('ZADD', KEYS[4], score, m)\n"
    "return {'ok', json}\n");

/* KEYS: campaign set, entries, members, firing. -> entries by creation
 * (not those fired and waiting for their acknowledgement). */
PL_REDIS_SCRIPT (s_list_lua,
    "local rows = {}\n"
    "for _, id in ipairs (redis.call ('SMEMBERS', KEYS[1])) do\n"
    "  local m = redis.call ('HGET', KEYS[3], id)\n"
    "  local e = redis.call ('HGET', KEYS[2], id)\n"
    "  if m and e and not redis.call ('ZSCORE', KEYS[4], m) then rows[#rows + 1] = {m, e} end\n"
    "end\n"
    "table.sort (rows, function (a, b) return a[1] < b[1] end)\n"
    "local out = {}\n"
    "for i, r in ipairs (rows) do out[i] = r[2] end\n"
    "return out\n");

/* KEYS: entries, members, campaign set, real zset, world zset, firing.
 * ARGV: id, cid. -> 1 cancelled, 0 none such in that campaign (or fired:
 * claimed, its acknowledgement pending). */
PL_REDIS_SCRIPT (s_cancel_lua,
    "local m = redis.call ('HGET', KEYS[2], ARGV[1])\n"
    "if not m then return 0 end\n"
    "local id, cid = string.match (m, '^%d+:([^:]+):(.+)$')\n"
    "if cid ~= ARGV[2] then return 0 end\n"
    "if redis.call ('ZSCORE', KEYS[6], m) then return 0 end\n"
    "local n = redis.call ('ZREM', KEYS[4], m) + redis.call ('ZREM', KEYS[5], m)\n"
    "redis.call ('HDEL', KEYS[1], ARGV[1])\n"
    "redis.call ('HDEL', KEYS[2], ARGV[1])\n"
    "redis.call ('SREM', KEYS[3], ARGV[1])\n"
    "if n > 0 then return 1 end\n"
    "return 0\n");

/* KEYS: timer, timers, session. ARGV: sid, seconds, label, cid. ->
 * startedAt, or "gone" (the session was deleted since it was read). */
PL_REDIS_SCRIPT (s_timer_start_lua,
    S_LUA_NOW
    "if redis.call ('EXISTS', KEYS[3]) == 0 then return 'gone' end\n"
    "redis.call ('DEL', KEYS[1])\n"
    "redis.call ('HSET', KEYS[1], 'startedAt', string.format ('%d', now), 'seconds', ARGV[2],\n"
    "            'label', ARGV[3], 'campaignId', ARGV[4])\n"
    "redis.call ('ZADD', KEYS[2], string.format ('%d', now + 1000), ARGV[1])\n"
    "return string.format ('%d', now)\n");

/* KEYS: timer, timers. ARGV: sid. -> 1 stopped, 0 none. */
PL_REDIS_SCRIPT (s_timer_cancel_lua,
    "local n = redis.call ('DEL', KEYS[1])\n"
    "redis.call ('ZREM', KEYS[2], ARGV[1])\n"
    "return n\n");

/* A deleted campaign's schedule and timers. KEYS: entries, members, real
 * zset, firing, campaign set, world zset, time, backlog, timers. ARGV:
 * cid, then the campaign's session ids. -> entries removed. */
PL_REDIS_SCRIPT (s_clear_lua,
    "local n = 0\n"
    "for _, id in ipairs (redis.call ('SMEMBERS', KEYS[5])) do\n"
    "  local m = redis.call ('HGET', KEYS[2], id)\n"
    "  if m then\n"
    "    redis.call ('ZREM', KEYS[3], m)\n"
    "    redis.call ('ZREM', KEYS[4], m)\n"
    "  end\n"
    "  n = n + redis.call ('HDEL', KEYS[1], id)\n"
    "  redis.call ('HDEL', KEYS[2], id)\n"
    "end\n"
    "redis.call ('DEL', KEYS[5], KEYS[6], KEYS[7])\n"
    "redis.call ('SREM', KEYS[8], ARGV[1])\n"
    "for i = 2, #ARGV do\n"
    "  redis.call ('DEL', " PL_LUA_KEY_TIMER ("ARGV[i]") ")\n"
    "  redis.call ('ZREM', KEYS[9], ARGV[i])\n"
    "end\n"
    "return n\n");

/* The acknowledgement of fired entries. KEYS: entries, members, firing.
 * ARGV: ids. Each still claimed (in the firing zset) leaves it, with its
 * entry; one re-claimed and acknowledged by another scheduler meanwhile
 * is gone already. -> how many it removed. */
PL_REDIS_SCRIPT (s_ack_lua,
    "local n = 0\n"
    "for _, id in ipairs (ARGV) do\n"
    "  local m = redis.call ('HGET', KEYS[2], id)\n"
    "  if m and redis.call ('ZREM', KEYS[3], m) == 1 then\n"
    "    local cid = string.match (m, '^%d+:[^:]+:(.+)$')\n"
    "    redis.call ('HDEL', KEYS[1], id)\n"
    "    redis.call ('HDEL', KEYS[2], id)\n"
    "    if cid then redis.call ('SREM', " PL_LUA_KEY_SCHED_CAMPAIGN ("cid") ", id) end\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n");

/* The periodic pass. KEYS: real zset, entries, members, backlog, timers,
 * firing. ARGV: fire max, ticks max, lease ms. -> {now, next due ms (-1
 * none), nfired, entries..., then (sid, remaining, label) per tick}. next
 * due is now when a budget ran out. Entries whose lease expired (their
 * claimer died before its acknowledgement) fire first, again, in their
 * claim's order; then the due ones. */
PL_REDIS_SCRIPT (s_claim_lua,
    "local E, M, F, L = KEYS[2], KEYS[3], KEYS[6], tonumber (ARGV[3])\n"
    S_LUA_NOW
    S_LUA_TAKE
    "local budget = tonumber (ARGV[1])\n"
    "local ev, ticks, more = {}, {}, false\n"
    "local lapsed = redis.call ('ZRANGEBYSCORE', F, '-inf', now, 'LIMIT', 0, budget + 1)\n"
    "for i, m in ipairs (lapsed) do\n"
    "  if i > budget then more = true break end\n"
    "  local id, cid = string.match (m, '^%d+:([^:]+):(.+)$')\n"
    "  local e = id and redis.call ('HGET', E, id)\n"
    "  if e and redis.call ('EXISTS', " PL_LUA_KEY_CAMPAIGN ("cid") ") == 1 then\n"
    "    lease (m)\n"
    "    ev[#ev + 1] = e\n"
    "  else\n"
    "    redis.call ('ZREM', F, m)\n"
    "    if id then redis.call ('HDEL', E, id) redis.call ('HDEL', M, id) end\n"
    "    if cid then redis.call ('SREM', " PL_LUA_KEY_SCHED_CAMPAIGN ("cid") ", id) end\n"
    "  end\n"
    "end\n"
    "budget = budget - math.min (#lapsed, budget)\n"
    "local function claim (zk, upto)\n"
    "  local due = redis.call ('ZRANGEBYSCORE', zk, '-inf', upto, 'LIMIT', 0, budget + 1)\n"
    "  local left = false\n"
    "  for i, m in ipairs (due) do\n"
    "    if i > budget then left = true else take (zk, m, ev) end\n"
    "  end\n"
    "  budget = budget - math.min (#due, budget)\n"
    "  return left\n"
    "end\n"
    "if claim (KEYS[1], now) then more = true end\n"
    "for _, cid in ipairs (redis.call ('SMEMBERS', KEYS[4])) do\n"
    "  if budget <= 0 then more = true break end\n"
    "  local world = redis.call ('GET', " PL_LUA_KEY_TIME ("cid") ") or '0'\n"
    "  if claim (" PL_LUA_KEY_SCHED_WORLD ("cid") ", tonumber (world)) then more = true\n"
    "  else redis.call ('SREM', KEYS[4], cid) end\n"
    "end\n"
    "local tmax = tonumber (ARGV[2])\n"
    "local tl = redis.call ('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, tmax + 1)\n"
    "for i, sid in ipairs (tl) do\n"
    "  if i > tmax then more = true break end\n"
    "  local tk = " PL_LUA_KEY_TIMER ("sid") "\n"
    "  local v = redis.call ('HMGET', tk, 'startedAt', 'seconds', 'label')\n"
    "  local start, secs = tonumber (v[1]), tonumber (v[2])\n"
    "  if not start or not secs or redis.call ('EXISTS', " PL_LUA_KEY_SESSION ("sid") ") == 0 then\n"
    "    redis.call ('DEL', tk)\n"
    "    redis.call ('ZREM', KEYS[5], sid)\n"
    "  else\n"
    "    local k = math.floor ((now - start) / 1000)\n"
    "    local rem = secs - k\n"
    "    if rem <= 0 then\n"
    "      redis.call ('DEL', tk)\n"
    "      redis.call ('ZREM', KEYS[5], sid)\n"
    "      rem = 0\n"
    "    else redis.call ('ZADD', KEYS[5], string.format ('%d', start + (k + 1) * 1000), sid) end\n"
    "    ticks[#ticks + 1] = sid\n"
    "    ticks[#ticks + 1] = string.format ('%d', rem)\n"
    "    ticks[#ticks + 1] = v[3] or ''\n"
    "  end\n"
    "end\n"
    "local nxt = -1\n"
    "if more then nxt = now else\n"
    "  for _, k in ipairs ({KEYS[1], KEYS[5], F}) do\n"
    "    local a = redis.call ('ZRANGE', k, 0, 0, 'WITHSCORES')\n"
    "    local x = a[2] and math.floor (tonumber (a[2]))\n"
    "    if x and (nxt < 0 or x < nxt) then nxt = x end\n"
    "  end\n"
    "end\n"
    "local out = {string.format ('%d', now), string.format ('%d', nxt), string.format ('%d', #ev)}\n"
    "for _, e in ipairs (ev) do out[#out + 1] = e end\n"
    "for _, x in ipairs (ticks) do out[#out + 1] = x end\n"
    "return out\n");

/* --------------------------------------------------------------------- */

bool
pl_sched_event_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    bool valid = len > 0 && len <= PL_SCHED_EVENT_MAX;
    for (size_t i = 0; valid && i < len; i++) {
        char c = name[i];
        valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
             || c == ':' || c == '_' || c == '.' || c == '-';
    }
    return valid;
}

bool
pl_sched_int (const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
    /* the range first: casting a double outside int64's range (1e300,
     * inf) is undefined behaviour; NaN fails both comparisons */
    bool ok = cJSON_IsNumber (item) && item->valuedouble >= (double) min
           && item->valuedouble <= (double) max
           && item->valuedouble == (double) (int64_t) item->valuedouble;
    if (ok)
        *out = (int64_t) item->valuedouble;
    return ok;
}

/* A decimal reply element (a string), or fallback. */
static int64_t
s_int (const redisReply *r, int64_t fallback)
{
    if (r && r->type == REDIS_REPLY_STRING)
        return strtoll (r->str, NULL, 10);
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return fallback;
}

/* Parse reply elements [from, to) (entry JSON text) into an array. */
static cJSON *
s_entries (const redisReply *reply, size_t from, size_t to)
{
    cJSON *list = cJSON_CreateArray ();
    for (size_t i = from; list && i < to && i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        cJSON *entry = e->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength (e->str, e->len)
                                                     : NULL;
        if (entry)
            cJSON_AddItemToArray (list, entry);
    }
    return list;
}

int
pl_sched_time_get (pl_call_t *call, const char *cid, int64_t *world)
{
    int rc = -1;
    redisReply *reply = pl_call_command (call, "GET " PL_KEY_TIME, cid);
    if (!reply)
        goto cleanup;
    *world = s_int (reply, 0);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_time_change (pl_call_t *call, const char *cid, bool set, int64_t value,
                      int64_t *previous, int64_t *now, cJSON **fired, bool *more)
{
    int rc = -1;
    redisReply *reply = NULL;
    *fired = NULL;
    *more = false;
    char time_key[PL_WIRE_ID_MAX + 32], world_key[PL_WIRE_ID_MAX + 32];
    char val[24], max[24], fire[16], lease[24], campaign_key[PL_WIRE_ID_MAX + 32];
    snprintf (time_key, sizeof time_key, PL_KEY_TIME, cid);
    snprintf (campaign_key, sizeof campaign_key, PL_KEY_CAMPAIGN, cid);
    snprintf (world_key, sizeof world_key, PL_KEY_SCHED_WORLD, cid);
    snprintf (val, sizeof val, "%" PRId64, value);
    snprintf (max, sizeof max, "%lld", PL_SCHED_TIME_MAX);
    snprintf (fire, sizeof fire, "%d", PL_SCHED_FIRE_MAX);
    snprintf (lease, sizeof lease, "%" PRId64, s_lease_ms);
    const char *argv[] = { time_key, world_key, PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS,
                           PL_KEY_SCHED_BACKLOG, PL_KEY_SCHED_FIRING, campaign_key,
                           set ? "set" : "advance", val, max, fire, cid, lease };
    reply = pl_call_script (call, &s_time_lua, 7, 13, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    if (reply->element[0]->type == REDIS_REPLY_STRING
    &&  strcmp (reply->element[0]->str, "gone") == 0) {
        rc = 2;
        goto cleanup;
    }
    if (reply->elements < 2) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    if (reply->element[0]->type == REDIS_REPLY_STRING
    &&  strcmp (reply->element[0]->str, "over") == 0) {
        *previous = s_int (reply->element[1], 0);
        rc = 1;
        goto cleanup;
    }
    pl_call_commit (call);                  /* the time changed: announce it */
    *previous = s_int (reply->element[0], 0);
    *now = s_int (reply->element[1], 0);
    *more = reply->elements > 2 && s_int (reply->element[2], 0) == 1;
    *fired = s_entries (reply, 3, reply->elements);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_create (pl_call_t *call, cJSON *entry, int64_t after_ms, int64_t *world)
{
    int rc = -1;
    redisReply *reply = NULL;
    char *json = cJSON_PrintUnformatted (entry);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (entry, "id");
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (entry, "campaignId");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive (entry, "at");
    assert (cJSON_IsString (id) && cJSON_IsString (cid));
    assert (after_ms > 0 || cJSON_IsNumber (at));
    if (!json) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    size_t len = strlen (json);
    assert (len > 2 && json[len - 1] == '}');
    json[len - 1] = '\0';                   /* the script appends its fields */
    char set_key[PL_WIRE_ID_MAX + 32], zset_key[PL_WIRE_ID_MAX + 32], time_key[PL_WIRE_ID_MAX + 32];
    char after[24], at_text[24], max[16], campaign_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid->valuestring);
    snprintf (campaign_key, sizeof campaign_key, PL_KEY_CAMPAIGN, cid->valuestring);
    if (after_ms > 0)
        snprintf (zset_key, sizeof zset_key, "%s", PL_KEY_SCHED_REAL);
    else
        snprintf (zset_key, sizeof zset_key, PL_KEY_SCHED_WORLD, cid->valuestring);
    snprintf (time_key, sizeof time_key, PL_KEY_TIME, cid->valuestring);
    snprintf (after, sizeof after, "%" PRId64, after_ms > 0 ? after_ms : 0);
    snprintf (at_text, sizeof at_text, "%" PRId64, after_ms > 0 ? 0 : (int64_t) at->valuedouble);
    snprintf (max, sizeof max, "%d", PL_SCHED_PENDING_MAX);
    const char *argv[] = { PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS, set_key, zset_key,
                           time_key, PL_KEY_SCHED_SEQ, campaign_key,
                           id->valuestring, cid->valuestring, json, after, at_text, max };
    reply = pl_call_script (call, &s_create_lua, 7, 13, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
    ||  reply->element[0]->type != REDIS_REPLY_STRING) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    const char *what = reply->element[0]->str;
    if (strcmp (what, "gone") == 0)
        rc = 3;
    else
    if (strcmp (what, "full") == 0)
        rc = 1;
    else
    if (strcmp (what, "past") == 0) {
        *world = reply->elements > 1 ? s_int (reply->element[1], 0) : 0;
        rc = 2;
    }
    else {
        cJSON *stored = reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_STRING
                      ? cJSON_ParseWithLength (reply->element[1]->str, reply->element[1]->len)
                      : NULL;
        pl_call_commit (call);
        const cJSON *due = cJSON_GetObjectItemCaseSensitive (stored, "dueAt");
        const cJSON *created = cJSON_GetObjectItemCaseSensitive (stored, "createdAt");
        if (due)
            cJSON_AddNumberToObject (entry, "dueAt", due->valuedouble);
        if (created)
            cJSON_AddNumberToObject (entry, "createdAt", created->valuedouble);
        cJSON_Delete (stored);
        rc = 0;
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (json);
    return rc;
}

int
pl_sched_list (pl_call_t *call, const char *cid, cJSON **list)
{
    int rc = -1;
    *list = NULL;
    char set_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid);
    const char *argv[] = { set_key, PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS,
                           PL_KEY_SCHED_FIRING };
    redisReply *reply = pl_call_script (call, &s_list_lua, 4, 4, argv, NULL);
    if (!reply)
        goto cleanup;
    *list = reply->type == REDIS_REPLY_ARRAY ? s_entries (reply, 0, reply->elements)
                                             : cJSON_CreateArray ();
    if (!*list) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_cancel (pl_call_t *call, const char *cid, const char *id)
{
    int rc = -1;
    char set_key[PL_WIRE_ID_MAX + 32], world_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid);
    snprintf (world_key, sizeof world_key, PL_KEY_SCHED_WORLD, cid);
    const char *argv[] = { PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS, set_key,
                           PL_KEY_SCHED_REAL, world_key, PL_KEY_SCHED_FIRING, id, cid };
    redisReply *reply = pl_call_script (call, &s_cancel_lua, 6, 8, argv, NULL);
    if (!reply)
        goto cleanup;
    rc = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 ? 1 : 0;
    if (rc == 1)
        pl_call_commit (call);
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_timer_start (pl_call_t *call, const char *sid, const char *cid, int64_t seconds,
                      const char *label, cJSON **timer)
{
    int rc = -1;
    *timer = NULL;
    char key[PL_WIRE_ID_MAX + 32], session_key[PL_WIRE_ID_MAX + 32], secs[24];
    snprintf (key, sizeof key, PL_KEY_TIMER, sid);
    snprintf (session_key, sizeof session_key, PL_KEY_SESSION, sid);
    snprintf (secs, sizeof secs, "%" PRId64, seconds);
    const char *argv[] = { key, PL_KEY_TIMERS, session_key, sid, secs, label ? label : "", cid };
    redisReply *reply = pl_call_script (call, &s_timer_start_lua, 3, 7, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type == REDIS_REPLY_STRING && strcmp (reply->str, "gone") == 0) {
        rc = 1;
        goto cleanup;
    }
    pl_call_commit (call);
    int64_t started = s_int (reply, 0);
    cJSON *t = cJSON_CreateObject ();
    cJSON_AddStringToObject (t, "sessionId", sid);
    cJSON_AddStringToObject (t, "campaignId", cid);
    cJSON_AddNumberToObject (t, "seconds", (double) seconds);
    if (label)
        cJSON_AddStringToObject (t, "label", label);
    else
        cJSON_AddNullToObject (t, "label");
    cJSON_AddNumberToObject (t, "startedAt", (double) started);
    cJSON_AddNumberToObject (t, "endsAt", (double) (started + seconds * 1000));
    *timer = t;
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_timer_cancel (pl_call_t *call, const char *sid)
{
    int rc = -1;
    char key[PL_WIRE_ID_MAX + 32];
    snprintf (key, sizeof key, PL_KEY_TIMER, sid);
    const char *argv[] = { key, PL_KEY_TIMERS, sid };
    redisReply *reply = pl_call_script (call, &s_timer_cancel_lua, 2, 3, argv, NULL);
    if (!reply)
        goto cleanup;
    rc = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0 ? 1 : 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

int
pl_sched_claim (pl_call_t *call, pl_sched_due_t *due)
{
    int rc = -1;
    *due = (pl_sched_due_t) { NULL, NULL, -1, 0 };
    char fire[16], ticks[16], lease[24];
    snprintf (fire, sizeof fire, "%d", PL_SCHED_FIRE_MAX);
    snprintf (ticks, sizeof ticks, "%d", PL_SCHED_TICKS_MAX);
    snprintf (lease, sizeof lease, "%" PRId64, s_lease_ms);
    const char *argv[] = { PL_KEY_SCHED_REAL, PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS,
                           PL_KEY_SCHED_BACKLOG, PL_KEY_TIMERS, PL_KEY_SCHED_FIRING,
                           fire, ticks, lease };
    redisReply *reply = pl_call_script (call, &s_claim_lua, 6, 9, argv, NULL);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
        pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    pl_call_commit (call);                  /* claimed: what follows must go out */
    due->now_ms = s_int (reply->element[0], 0);
    int64_t next = s_int (reply->element[1], -1);
    due->wait_ms = next < 0 ? -1 : next > due->now_ms ? next - due->now_ms : 0;
    size_t nfired = (size_t) s_int (reply->element[2], 0);
    if (nfired > reply->elements - 3)
        nfired = reply->elements - 3;
    due->fired = s_entries (reply, 3, 3 + nfired);
    due->ticks = cJSON_CreateArray ();
    for (size_t i = 3 + nfired; due->ticks && i + 2 < reply->elements; i += 3) {
        const redisReply *sid = reply->element[i], *label = reply->element[i + 2];
        if (sid->type != REDIS_REPLY_STRING || label->type != REDIS_REPLY_STRING)
            continue;
        cJSON *t = cJSON_CreateObject ();
        cJSON_AddStringToObject (t, "sessionId", sid->str);
        cJSON_AddNumberToObject (t, "remaining", (double) s_int (reply->element[i + 1], 0));
        if (label->len)
            cJSON_AddStringToObject (t, "label", label->str);
        else
            cJSON_AddNullToObject (t, "label");
        cJSON_AddItemToArray (due->ticks, t);
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

void
pl_sched_due_clear (pl_sched_due_t *due)
{
    cJSON_Delete (due->fired);
    cJSON_Delete (due->ticks);
    due->fired = due->ticks = NULL;
}

void
pl_sched_publish_fired (pl_call_t *call, const cJSON *entry, int64_t fired_at)
{
    const cJSON *room = cJSON_GetObjectItemCaseSensitive (entry, "room");
    if (!cJSON_IsString (room))
        goto cleanup;                       /* not ours: nothing to say */
    cJSON *ev = cJSON_CreateObject ();
    const char *const copy[] = { "id", "campaignId", "event", "payload" };
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive (entry, copy[i]);
        cJSON_AddItemToObject (ev, copy[i], item ? cJSON_Duplicate (item, true)
                                                 : cJSON_CreateNull ());
    }
    cJSON_AddNumberToObject (ev, "firedAt", (double) fired_at);
    pl_call_publish (call, room->valuestring, PL_PUSH_SCHEDULE_FIRED, ev, false);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (entry, "id");
    if (cJSON_IsString (id))
        s_note (&s_acks.staged, id->valuestring);
cleanup:
    return;
}

int
pl_sched_campaign_clear (pl_call_t *call, const char *cid, const char *const *sids, size_t nsids)
{
    int rc = -1;
    redisReply *reply = NULL;
    char set_key[PL_WIRE_ID_MAX + 32], world_key[PL_WIRE_ID_MAX + 32], time_key[PL_WIRE_ID_MAX + 32];
    snprintf (set_key, sizeof set_key, PL_KEY_SCHED_CAMPAIGN, cid);
    snprintf (world_key, sizeof world_key, PL_KEY_SCHED_WORLD, cid);
    snprintf (time_key, sizeof time_key, PL_KEY_TIME, cid);
    const char **argv = calloc (nsids + 10, sizeof *argv);
    if (!argv)
        goto cleanup;
    const char *keys[] = { PL_KEY_SCHED_ENTRIES, PL_KEY_SCHED_MEMBERS, PL_KEY_SCHED_REAL,
                           PL_KEY_SCHED_FIRING, set_key, world_key, time_key,
                           PL_KEY_SCHED_BACKLOG, PL_KEY_TIMERS };
    memcpy (argv, keys, sizeof keys);
    argv[9] = cid;
    for (size_t i = 0; i < nsids; i++)
        argv[10 + i] = sids[i];
    reply = pl_call_script (call, &s_clear_lua, 9, (int) nsids + 10, argv, NULL);
    if (!reply)
        goto cleanup;
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (argv);
    return rc;
}

int
pl_sched_ack (pl_call_t *call)
{
    int rc = -1;
    redisReply *reply = NULL;
    const char **argv = NULL;
    int n = cJSON_GetArraySize (s_acks.ready);
    if (pl_call_events_held (call)) {
        rc = 0;                             /* not sure they left: next turn */
        goto cleanup;
    }
    if (n > 0) {
        argv = calloc ((size_t) n + 3, sizeof *argv);
        if (!argv)
            goto cleanup;
        argv[0] = PL_KEY_SCHED_ENTRIES;
        argv[1] = PL_KEY_SCHED_MEMBERS;
        argv[2] = PL_KEY_SCHED_FIRING;
        int i = 3;
        const cJSON *id;
        cJSON_ArrayForEach (id, s_acks.ready)   /* not GetArrayItem: a list walk each */
            argv[i++] = id->valuestring;
        reply = pl_call_script (call, &s_ack_lua, 3, n + 3, argv, NULL);
        if (!reply)
            goto cleanup;                   /* kept for the next turn */
        cJSON_Delete (s_acks.ready);
        s_acks.ready = NULL;
    }
    /* what was published before this turn began has left (or is held:
     * then this turn saw pl_call_events_held) by the next turn */
    cJSON_Delete (s_acks.ready);
    s_acks.ready = s_acks.staged;
    s_acks.staged = NULL;
    rc = cJSON_GetArraySize (s_acks.ready) > 0 ? 1 : 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (argv);
    return rc;
}

void
pl_sched__acks_reset (int64_t lease_ms)
{
    cJSON_Delete (s_acks.staged);
    cJSON_Delete (s_acks.ready);
    s_acks.staged = s_acks.ready = NULL;
    s_lease_ms = lease_ms > 0 ? lease_ms : PL_SCHED_LEASE_MS;
}

/* --------------------------------------------------------------------- */

void
pl_sched_test (bool verbose)
{
    if (verbose)
        printf (" * pl_sched: ");
    assert (pl_sched_event_valid ("caravan:arrives"));
    assert (pl_sched_event_valid ("a.b-c_D9"));
    assert (!pl_sched_event_valid (""));
    assert (!pl_sched_event_valid (NULL));
    assert (!pl_sched_event_valid ("with space"));
    assert (!pl_sched_event_valid ("semi;colon"));
    assert (!pl_sched_event_valid ("ünï"));
    char name[PL_SCHED_EVENT_MAX + 2];
    memset (name, 'x', sizeof name);
    name[PL_SCHED_EVENT_MAX] = '\0';
    assert (pl_sched_event_valid (name));
    name[PL_SCHED_EVENT_MAX] = 'x';
    name[PL_SCHED_EVENT_MAX + 1] = '\0';
    assert (!pl_sched_event_valid (name));

    const char *good[] = { "0", "1", "86400", "999999999999999" };
    const int64_t want[] = { 0, 1, 86400, PL_SCHED_TIME_MAX };
    for (size_t i = 0; i < 4; i++) {
        cJSON *n = cJSON_Parse (good[i]);
        int64_t v = -1;
        assert (pl_sched_int (n, 0, PL_SCHED_TIME_MAX, &v) && v == want[i]);
        cJSON_Delete (n);
    }
    const char *bad[] = { "-1", "1.5", "1e300", "-1e300", "1000000000000000", "9007199254740991", "\"5\"",
                          "null", "true", "[1]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *n = cJSON_Parse (bad[i]);
        int64_t v = 42;
        assert (n && !pl_sched_int (n, 0, PL_SCHED_TIME_MAX, &v) && v == 42);
        cJSON_Delete (n);
    }
    cJSON *n = cJSON_CreateNumber (86401);
    int64_t v;
    assert (!pl_sched_int (n, 1, PL_SCHED_TIMER_MAX_S, &v));
    assert (pl_sched_int (n, 1, 86401, &v) && v == 86401);
    cJSON_Delete (n);
    assert (!pl_sched_int (NULL, 0, 1, &v));
    pl_sched__test_live (verbose);
    if (verbose)
        printf ("OK\n");
}
