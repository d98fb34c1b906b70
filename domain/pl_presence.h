/*  pl_presence - who is in which room, across every gateway: the Redis
 *  records and Lua scripts behind presence:joined / presence:left, shared
 *  by the rooms worker (subscribe, unsubscribe, presence:*) and the
 *  campaigns worker (removeMember, delete).
 *
 *  Protocol (issue 4 design, "Presence protocol"): a connection that
 *  subscribes to a room is recorded as (gateway, conn, user, name) in it.
 *  A user is present in a room while at least one of their connections is
 *  recorded there: presence:joined goes out on the first, presence:left on
 *  the last, so several tabs are one presence. Records go when the
 *  connection unsubscribes, when its gateway says it closed
 *  (presence:drop), when its gateway restarts (presence:alive with a new
 *  boot id) or stops saying it is alive while others still do (the
 *  sweep), and when the user is
 *  removed from the room's campaign.
 *
 *  Storage (Redis, all under pl:presence:; the key formats are in
 *  pl_keys.h):
 *    conn:<gw>/<conn>      hash  room -> userId: the rooms a connection is in
 *    conns:<room>:<user>   set   "<gw>/<conn>": that user's connections in room
 *    users:<room>          hash  userId -> name: the users present in room
 *    gw:<gw>               set   conn ids of the gateway that have records
 *    gateways              set   gateway ids with records or liveness
 *    alive:<gw>            string boot id, PX = the gateway's ttlMs; its
 *                          expiry is the gateway's death
 *    boot:<gw>             string the gateway's last boot id (no expiry)
 *    heard                 string ms when the current unbroken stretch of
 *                          alives (from any gateway) began; PX = the
 *                          longest ttlMs heard
 *    heard_last            string ms of the last alive from any gateway
 *    due                   hash  gw -> ms by which its next alive is due
 *    outbox                list  room, userId, name triplets: presence:left
 *                          events that did not fit in one call's publish
 *                          budget, published by the sweep
 *
 *  Every change is one Lua script, so two rooms workers never both publish
 *  one transition, and a half-done change is never visible. The scripts
 *  build their key names from their arguments: Parley runs one Redis, not a
 *  cluster.
 *
 *  Publish budget: a call may publish at most PL_CALL_PUBLISH_MAX events
 *  (pl_worker.h). Each function here takes a budget, the events it may
 *  still publish; transitions past it are queued in the outbox (at most
 *  PL_PRESENCE_OUTBOX_MAX, oldest dropped past it with a log) and the sweep
 *  publishes up to PL_CALL_PUBLISH_MAX of them a tick. The records change
 *  at once either way: presence:list is right immediately, only the left
 *  events of a mass drop trail by a few seconds.
 *
 *  All functions run on the worker loop, inside a handler or the periodic
 *  task. They return 0, or -1 when Redis failed and the call has been
 *  answered INTERNAL.
 */
#ifndef PL_PRESENCE_H
#define PL_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include "pl_worker.h"
#include "pl_authz.h"

/* Most queued presence:left events; past it the oldest are dropped. */
#define PL_PRESENCE_OUTBOX_MAX 100000

/* Record the caller's connection in room. campaign_id, when not NULL, is
 * the room's campaign: the caller's membership is checked in the same
 * script, so a removal that committed first wins. Returns 0 (with *role
 * the caller's role, PL_ROLE_NONE without campaign), 1 when the caller is
 * not a member (nothing recorded; answer FORBIDDEN), or -1. Publishes
 * presence:joined {room, userId, name} to room, leaving out the caller's
 * connection, when it is the user's first connection there. ttl_ms: the
 * grace a gateway not yet heard from (no presence:alive) gets. */
int pl_presence_join (pl_call_t *call, const char *room, const char *campaign_id,
                      long ttl_ms, pl_role_t *role);

/* Take the caller's connection out of room (nothing if it is not in it);
 * presence:left (leaving out the caller's connection) on the last one. */
int pl_presence_leave (pl_call_t *call, const char *room, int budget);

/* The caller's connection closed: out of every room it was in. */
int pl_presence_drop (pl_call_t *call, int budget);

/* The caller's gateway is alive with boot id boot for ttl_ms; a boot id
 * other than the last one first drops everything the gateway had. */
int pl_presence_alive (pl_call_t *call, const char *boot, long ttl_ms, int budget);

/* Drop every gateway whose liveness expired while others were still heard
 * from after it was due (and have been, without a break, for ttl_ms), so
 * an outage of the path (broker, rooms workers) sweeps nobody - then
 * publish up to budget queued events.
 * Idle cost: one script doing SMEMBERS, one EXISTS per known gateway and
 * one LPOP. For the periodic task. */
int pl_presence_sweep (pl_call_t *call, long ttl_ms, int budget);

/* user is no longer allowed in rooms (count of them): every connection
 * of theirs leaves, presence:left where they were present. */
int pl_presence_purge_user (pl_call_t *call, const char *user, const char *const *rooms,
                            size_t count, int budget);

/* rooms (count of them) are gone (a deleted campaign): forget all their
 * records, publishing nothing (their members were evicted). */
int pl_presence_forget_rooms (pl_call_t *call, const char *const *rooms, size_t count);

/* The users present in room, [{userId, name}] sorted by userId; NULL
 * when Redis failed (answered). */
cJSON *pl_presence_list (pl_call_t *call, const char *room);
/* A qsort comparator of cJSON object pointers by their string userId (the
 * order of presence lists and of a campaign's members). */
int pl_presence_by_user (const void *a, const void *b);

/* The payloads {room, userId, name} of a script's answer: a flat array of
 * room, userId, name strings. Pure (the selftest feeds it hand-made
 * replies): a malformed answer (not an array, a length not a multiple of
 * 3, a non-string) yields the whole triplets before it. Returns a new
 * array, or NULL when out of memory. */
cJSON *pl_presence_payloads (const redisReply *triplets);

void pl_presence_test (bool verbose);

#endif
