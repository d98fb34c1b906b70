/*  pl_keys - the Redis key layout: every key the workers read or write,
 *  spelled once.
 *
 *  A key is a printf format, to splice into a command format for
 *  pl_call_command / pl_call_run (hiredis formats) or to print with
 *  asprintf; its arguments are listed with it, in order:
 *
 *      pl_call_command (call, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s", id, user);
 *
 *  A key that a Lua script builds itself (scripts may: Parley runs one
 *  Redis, not a cluster) also has a PL_LUA_KEY_ form: the same key as a
 *  Lua expression, whose arguments are the Lua expressions of its parts:
 *
 *      "redis.call ('HGET', " PL_LUA_KEY_CAMPAIGN_MEMBERS ("cid") ", user)\n"
 *
 *  is "redis.call ('HGET', 'pl:campaign:' .. cid .. ':members', user)".
 *  pl_keys_test checks that each PL_LUA_KEY_ form spells its PL_KEY_.
 *
 *  Ids in keys are wire ids (pl_wire.h). K is an entity kind's name
 *  ("actor", "item"; pl_entity_kind_t), H the name of a kind that holds
 *  others ("actor" holds items). A format's "%ss" is K in the plural.
 *
 *  What the values mean, and who may change them, is in the module that
 *  owns each group: pl_session.h, pl_entity.h, pl_presence.h, pl_authz.h,
 *  workers/campaigns and workers/chat.
 */
#ifndef PL_KEYS_H
#define PL_KEYS_H

#include <stdbool.h>

/* ---- campaigns (workers/campaigns writes them; pl_authz reads) -------- */

/* (id) string: the campaign, JSON text {id, name, createdBy, createdAt,
 * updatedAt, ...client fields} */
#define PL_KEY_CAMPAIGN                 "pl:campaign:%s"
#define PL_LUA_KEY_CAMPAIGN(id)         "'pl:campaign:' .. " id
/* (id) hash: userId -> "gm" | "player" */
#define PL_KEY_CAMPAIGN_MEMBERS         "pl:campaign:%s:members"
#define PL_LUA_KEY_CAMPAIGN_MEMBERS(id) "'pl:campaign:' .. " id " .. ':members'"
/* (uid) zset: the user's campaign ids, score = join ms */
#define PL_KEY_USER_CAMPAIGNS           "pl:user:%s:campaigns"

/* ---- game sessions (pl_session.h) ------------------------------------- */

/* (sid) hash: {id, campaignId, name, createdBy, createdAt} */
#define PL_KEY_SESSION                  "pl:session:%s"
#define PL_LUA_KEY_SESSION(sid)         "'pl:session:' .. " sid
/* (cid) set: the campaign's session ids */
#define PL_KEY_CAMPAIGN_SESSIONS        "pl:campaign:%s:sessions"
/* (sid) string: the state JSON, the snapshot, always current */
#define PL_KEY_SESSION_STATE            "pl:session:%s:state"
/* (sid) stream: the applied updates, entry id "<version>-0", field "u" */
#define PL_KEY_SESSION_LOG              "pl:session:%s:log"
/* (sid, update id) string: the success ack body of that update, EX 86400 */
#define PL_KEY_SESSION_UPDATE           "pl:session:%s:upd:%s"
/* (K, id) set: the sessions whose state embeds that entity (actors.<i>,
 * items.<i>): pl:actor:<id>:sessions, pl:item:<id>:sessions */
#define PL_KEY_ENTITY_SESSIONS          "pl:%s:%s:sessions"

/* ---- campaign entities (pl_entity.h), of kind K ------------------------ */

/* (K, id) string: the entity, JSON text */
#define PL_KEY_ENTITY                   "pl:%s:%s"
/* (uid, K) zset: the user's personal entities (no campaignId), score
 * createdAt */
#define PL_KEY_USER_ENTITIES            "pl:user:%s:%ss"
/* (cid, K) zset: the campaign's entities, score createdAt */
#define PL_KEY_CAMPAIGN_ENTITIES        "pl:campaign:%s:%ss"
/* (uid, K) zset: the campaign entities the user created (with
 * PL_KEY_USER_ENTITIES, what the per-user limit counts) */
#define PL_KEY_USER_CAMPAIGN_ENTITIES   "pl:user:%s:campaign-%ss"
/* (H, hid, K) zset: the entities holder hid holds (pl:actor:<aid>:items),
 * score createdAt */
#define PL_KEY_HELD                     "pl:%s:%s:%ss"
/* () a key nothing writes: fills a script's KEYS slot it does not use */
#define PL_KEY_NONE                     "pl:-"

/* ---- rules (workers/rules; pl_rule.h) --------------------------------- */

/* (cid) hash: rule id -> the rule, JSON text */
#define PL_KEY_CAMPAIGN_RULES           "pl:campaign:%s:rules"
/* (kind, id) hash: the rules' record of one watched thing - kind "actor"
 * or "item" with the entity id, "gameState" with the session id: "seen"
 * (the last version evaluated), "dv"/"dd" (the version the last rule write
 * made and its chain depth), "m:<rule id>" (set while that rule's when was
 * true at "seen": it fires once per transition) */
#define PL_KEY_RULES_MARKS              "pl:rules:%s:%s"

/* ---- chat (pl_chat.h: workers/chat, and workers/rules' rolls) ------- */

/* (room) list: the room's last messages, JSON text, oldest first */
#define PL_KEY_CHAT                     "pl:chat:%s"
/* (id) PL_KEY_CHAT of the rooms campaign:<id> and session:<id>, which
 * deleting the campaign clears */
#define PL_KEY_CHAT_CAMPAIGN            "pl:chat:campaign:%s"
#define PL_KEY_CHAT_SESSION             "pl:chat:session:%s"

/* ---- presence (pl_presence.h: its scripts build these) ---------------- */

/* (gw, conn) hash: room -> userId, the rooms a connection is in */
#define PL_KEY_PRESENCE_CONN                "pl:presence:conn:%s/%s"
#define PL_LUA_KEY_PRESENCE_CONN(gw, conn)  "'pl:presence:conn:' .. " gw " .. '/' .. " conn
/* (room, user) set: "<gw>/<conn>", that user's connections in room */
#define PL_KEY_PRESENCE_CONNS               "pl:presence:conns:%s:%s"
#define PL_LUA_KEY_PRESENCE_CONNS(room, user) \
    "'pl:presence:conns:' .. " room " .. ':' .. " user
/* (room) hash: userId -> name, the users present in room */
#define PL_KEY_PRESENCE_USERS               "pl:presence:users:%s"
#define PL_LUA_KEY_PRESENCE_USERS(room)     "'pl:presence:users:' .. " room
/* (gw) set: the gateway's conn ids that have records */
#define PL_KEY_PRESENCE_GW                  "pl:presence:gw:%s"
#define PL_LUA_KEY_PRESENCE_GW(gw)          "'pl:presence:gw:' .. " gw
/* () set: gateway ids with records or liveness */
#define PL_KEY_PRESENCE_GATEWAYS            "pl:presence:gateways"
#define PL_LUA_KEY_PRESENCE_GATEWAYS        "'pl:presence:gateways'"
/* (gw) string: its boot id, PX = the gateway's ttlMs; expiry is its death */
#define PL_KEY_PRESENCE_ALIVE               "pl:presence:alive:%s"
#define PL_LUA_KEY_PRESENCE_ALIVE(gw)       "'pl:presence:alive:' .. " gw
/* (gw) string: the gateway's last boot id (no expiry) */
#define PL_KEY_PRESENCE_BOOT                "pl:presence:boot:%s"
#define PL_LUA_KEY_PRESENCE_BOOT(gw)        "'pl:presence:boot:' .. " gw
/* () string: ms when the current unbroken stretch of alives began; PX =
 * the longest ttlMs heard */
#define PL_KEY_PRESENCE_HEARD               "pl:presence:heard"
#define PL_LUA_KEY_PRESENCE_HEARD           "'pl:presence:heard'"
/* () string: ms of the last alive from any gateway */
#define PL_KEY_PRESENCE_HEARD_LAST          "pl:presence:heard_last"
#define PL_LUA_KEY_PRESENCE_HEARD_LAST      "'pl:presence:heard_last'"
/* () hash: gw -> ms by which its next alive is due */
#define PL_KEY_PRESENCE_DUE                 "pl:presence:due"
#define PL_LUA_KEY_PRESENCE_DUE             "'pl:presence:due'"
/* () list: room, userId, name triplets, the presence:left events that did
 * not fit in one call's publish budget */
#define PL_KEY_PRESENCE_OUTBOX              "pl:presence:outbox"
#define PL_LUA_KEY_PRESENCE_OUTBOX          "'pl:presence:outbox'"

/* ---- world time, scheduled events, turn timers (pl_sched.h) ----------- */

/* (cid) string: the campaign's world time, integer seconds (none: 0) */
#define PL_KEY_TIME                     "pl:time:%s"
#define PL_LUA_KEY_TIME(cid)            "'pl:time:' .. " cid
/* () string: INCR, the creation order of scheduled events */
#define PL_KEY_SCHED_SEQ                "pl:sched:seq"
/* () hash: entry id -> the entry, JSON text (pending ones only) */
#define PL_KEY_SCHED_ENTRIES            "pl:sched:entries"
/* () hash: entry id -> its member in its zset, "<seq, 20 digits>:<id>:<cid>" */
#define PL_KEY_SCHED_MEMBERS            "pl:sched:members"
/* (cid) set: the campaign's pending entry ids (schedule:list, the cap) */
#define PL_KEY_SCHED_CAMPAIGN           "pl:sched:campaign:%s"
#define PL_LUA_KEY_SCHED_CAMPAIGN(cid)  "'pl:sched:campaign:' .. " cid
/* () zset: the real-time entries' members, score = due ms (Redis TIME) */
#define PL_KEY_SCHED_REAL               "pl:sched:real"
/* (cid) zset: the campaign's world-time entries' members, score = at */
#define PL_KEY_SCHED_WORLD              "pl:sched:world:%s"
#define PL_LUA_KEY_SCHED_WORLD(cid)     "'pl:sched:world:' .. " cid
/* () set: campaign ids whose world time passed more entries than one
 * call fires; the scheduler's periodic task fires the rest */
#define PL_KEY_SCHED_BACKLOG            "pl:sched:backlog"
/* () zset: claimed entries' members until their schedule:fired has left
 * the claimer, score = lease deadline ms (Redis TIME) + a 3-decimal
 * fraction keeping the claim's order; an expired lease fires it again */
#define PL_KEY_SCHED_FIRING             "pl:sched:firing"
/* (sid) hash: the session's turn timer {startedAt (ms), seconds, label,
 * campaignId} */
#define PL_KEY_TIMER                    "pl:timer:%s"
#define PL_LUA_KEY_TIMER(sid)           "'pl:timer:' .. " sid
/* () zset: session ids with a running timer, score = ms of its next tick */
#define PL_KEY_TIMERS                   "pl:timers"

void pl_keys_test (bool verbose);

#endif
