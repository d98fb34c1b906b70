/*  pl_sched_lua - the Redis scripts of pl_sched: every write of world
 *  time, scheduled events and turn timers is one of these (pl_sched.c
 *  runs them; pl_sched_int.h says what each takes and answers).
 */
#include "pl_sched_int.h"
#include "pl_keys.h"

_Static_assert (PL_SCHED_FIRE_MAX < 1000, "S_LUA_TAKE's score fraction counts to 999");

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
pl_redis_script_t pl_sched__time_lua = { /* see pl_sched_int.h */
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
    "return out\n", "" };

/* KEYS: entries, members, campaign set, zset, time, seq, campaign. ARGV:
 * id, cid, entry JSON without its closing brace, afterMs (0: a world-time
 * entry), at, max pending. -> {"gone"} (the campaign was deleted since the
 * caller's role was read) | {"full"} | {"past", world} | {"ok", entry}. */
pl_redis_script_t pl_sched__create_lua = { /* see pl_sched_int.h */
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
    "return {'ok', json}\n", "" };

/* KEYS: campaign set, entries, members, firing. -> entries by creation
 * (not those fired and waiting for their acknowledgement). */
pl_redis_script_t pl_sched__list_lua = { /* see pl_sched_int.h */
    "local rows = {}\n"
    "for _, id in ipairs (redis.call ('SMEMBERS', KEYS[1])) do\n"
    "  local m = redis.call ('HGET', KEYS[3], id)\n"
    "  local e = redis.call ('HGET', KEYS[2], id)\n"
    "  if m and e and not redis.call ('ZSCORE', KEYS[4], m) then rows[#rows + 1] = {m, e} end\n"
    "end\n"
    "table.sort (rows, function (a, b) return a[1] < b[1] end)\n"
    "local out = {}\n"
    "for i, r in ipairs (rows) do out[i] = r[2] end\n"
    "return out\n", "" };

/* KEYS: entries, members, campaign set, real zset, world zset, firing.
 * ARGV: id, cid. -> 1 cancelled, 0 none such in that campaign (or fired:
 * claimed, its acknowledgement pending). */
pl_redis_script_t pl_sched__cancel_lua = { /* see pl_sched_int.h */
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
    "return 0\n", "" };

/* KEYS: timer, timers, session. ARGV: sid, seconds, label, cid. ->
 * startedAt, or "gone" (the session was deleted since it was read). */
pl_redis_script_t pl_sched__timer_start_lua = { /* see pl_sched_int.h */
    S_LUA_NOW
    "if redis.call ('EXISTS', KEYS[3]) == 0 then return 'gone' end\n"
    "redis.call ('DEL', KEYS[1])\n"
    "redis.call ('HSET', KEYS[1], 'startedAt', string.format ('%d', now), 'seconds', ARGV[2],\n"
    "            'label', ARGV[3], 'campaignId', ARGV[4])\n"
    "redis.call ('ZADD', KEYS[2], string.format ('%d', now + 1000), ARGV[1])\n"
    "return string.format ('%d', now)\n", "" };

/* KEYS: timer, timers. ARGV: sid. -> 1 stopped, 0 none. */
pl_redis_script_t pl_sched__timer_cancel_lua = { /* see pl_sched_int.h */
    "local n = redis.call ('DEL', KEYS[1])\n"
    "redis.call ('ZREM', KEYS[2], ARGV[1])\n"
    "return n\n", "" };

/* A deleted campaign's schedule and timers. KEYS: entries, members, real
 * zset, firing, campaign set, world zset, time, backlog, timers. ARGV:
 * cid, then the campaign's session ids. -> entries removed. */
pl_redis_script_t pl_sched__clear_lua = { /* see pl_sched_int.h */
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
    "return n\n", "" };

/* The acknowledgement of fired entries. KEYS: entries, members, firing.
 * ARGV: ids. Each still claimed (in the firing zset) leaves it, with its
 * entry; one re-claimed and acknowledged by another scheduler meanwhile
 * is gone already. -> how many it removed. */
pl_redis_script_t pl_sched__ack_lua = { /* see pl_sched_int.h */
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
    "return n\n", "" };

/* The periodic pass. KEYS: real zset, entries, members, backlog, timers,
 * firing. ARGV: fire max, ticks max, lease ms. -> {now, next due ms (-1
 * none), nfired, entries..., then (sid, remaining, label) per tick}. next
 * due is now when a budget ran out. Entries whose lease expired (their
 * claimer died before its acknowledgement) fire first, again, in their
 * claim's order; then the due ones. */
pl_redis_script_t pl_sched__claim_lua = { /* see pl_sched_int.h */
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
    "return out\n", "" };
