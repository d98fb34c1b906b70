/*  pl_rooms - which local connections are in which room.
 *
 *  A room is a name ("user:alice"). A member is an opaque pointer (the
 *  gateway's connection). Joining and leaving are O(1); the gateway walks a
 *  room's members to fan an event out. The first join of a room and the
 *  last leave call on_change, which the gateway turns into a SUB socket
 *  subscribe / unsubscribe, so it only receives rooms it has members in.
 *  Runs on the gateway's lws loop only; not thread-safe.
 */
#ifndef PL_ROOMS_H
#define PL_ROOMS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _pl_rooms_t pl_rooms_t;
typedef struct _pl_room_t pl_room_t;
typedef struct _pl_membership_t pl_membership_t;

/* Called with subscribe=true when a room gets its first member, false when
 * it loses its last one. */
typedef void (pl_rooms_change_fn) (void *arg, const char *room, bool subscribe);

pl_rooms_t *pl_rooms_new (pl_rooms_change_fn *on_change, void *arg);
void pl_rooms_destroy (pl_rooms_t **self_p);

/* A member keeps its memberships in a chain: one pointer, NULL when it is
 * in no room, linked through the memberships themselves, so being in rooms
 * costs a member no allocation of its own. */

/* Add member to room and link the membership into its chain. Returns 0, 1
 * when it was already in that room, or -1 on OOM. */
int pl_rooms_join (pl_rooms_t *self, const char *room, void *member,
                   pl_membership_t **chain);
/* Take member out of room. Returns 0, or -1 when it was not in it. */
int pl_rooms_leave (pl_rooms_t *self, pl_membership_t **chain, const char *room);
/* Take member out of every room (on disconnect). */
void pl_rooms_leave_all (pl_rooms_t *self, pl_membership_t **chain);
/* Every membership of the chain now names member instead (a session that
 * changes its connection object: the polling-to-WebSocket upgrade). No
 * room changes, so nothing is unsubscribed even for a moment. */
void pl_rooms_rebind (pl_membership_t *const *chain, void *member);
/* True when the chain holds room. */
bool pl_rooms_in (pl_membership_t *const *chain, const char *room);
/* True when the chain is in any of rooms[0..n) (rooms from pl_rooms_find;
 * NULL entries never match). It compares pointers, not names: event
 * fan-out with except rooms asks it once per member. */
bool pl_rooms_in_any (pl_membership_t *const *chain, pl_room_t *const *rooms, size_t n);
/* Rooms in the chain. */
size_t pl_rooms_chain_size (pl_membership_t *const *chain);
/* The name of the room of the chain's i-th membership (0 <= i < size),
 * or NULL past the end (connection-state recovery saves them). */
const char *pl_rooms_chain_room (pl_membership_t *const *chain, size_t i);

/* Look a room up by NUL-terminated name; NULL when it has no members. */
pl_room_t *pl_rooms_find (pl_rooms_t *self, const char *room);
size_t pl_room_size (const pl_room_t *room);
/* Member i (0 <= i < size). Members must not join or leave rooms while a
 * caller walks the list; the gateway defers closes to lws, so they don't. */
void *pl_room_member (const pl_room_t *room, size_t i);
size_t pl_rooms_count (const pl_rooms_t *self);

void pl_rooms_test (bool verbose);

#endif
