/*  pl_wire - the wire syntax: what an id, a user id and a room name may be,
 *  and how client text is measured.
 *
 *  These are rules of the protocol, not of any one service: the gateway
 *  checks a JWT's sub with them, and every worker checks its arguments and
 *  room names with them. So they live in proto/, which the gateway links
 *  without the worker runtime or hiredis. All of it is pure.
 *
 *  Client objects (a campaign, an entity) are shallow-merged into what is
 *  stored, except the fields the server owns (pl_wire_merge): each service
 *  lists its own, the rule of ignoring them is one.
 *
 *  Rooms (proto/README.md, Rooms):
 *    user:<userId>        that user only; joined on CONNECT
 *    campaign:<id>        the campaign's members
 *    campaign:<id>:gm     internal: its GMs, joined along with campaign:<id>
 *    session:<id>         members of the session's campaign
 *  Other "<kind>:<id>" names are reserved for entity rooms and refused for
 *  now; anything else is not a room. Who may be in which room is
 *  authorization (domain/pl_authz.h).
 */
#ifndef PL_WIRE_H
#define PL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* Longest id in a room name or an entity reference, in bytes. */
#define PL_WIRE_ID_MAX   128
/* Longest room name: "campaign:" + id + ":gm". */
#define PL_WIRE_ROOM_MAX (PL_WIRE_ID_MAX + 16)

/* A valid id: 1..PL_WIRE_ID_MAX bytes of [A-Za-z0-9_.-] (user ids may
 * also hold '|' '@' '+', as identity providers use them). */
bool pl_wire_id_valid (const char *id);
bool pl_wire_user_id_valid (const char *id);

/* A Socket.IO session id for connection-state recovery (a pid, as the
 * gateway makes them and a client sends back): 1..PL_WIRE_PID_MAX bytes of
 * [A-Za-z0-9_-]. The gateway and the broker's recovery log check it alike. */
#define PL_WIRE_PID_MAX  20
bool pl_wire_pid_valid (const char *pid);
/* The length of client text in code points, what its limits count (a
 * campaign name, a chat message): every byte that does not continue a
 * UTF-8 sequence (10xxxxxx) starts one. The gateway guarantees valid
 * UTF-8. */
size_t pl_wire_code_points (const char *text);

typedef enum {
    PL_ROOM_INVALID = 0,            /* not a room name                      */
    PL_ROOM_USER,                   /* user:<id>                            */
    PL_ROOM_CAMPAIGN,               /* campaign:<id>                        */
    PL_ROOM_CAMPAIGN_GM,            /* campaign:<id>:gm (internal)          */
    PL_ROOM_SESSION,                /* session:<id>                         */
    PL_ROOM_RESERVED                /* <kind>:<id> of a kind not yet served */
} pl_room_kind_t;

typedef struct {
    pl_room_kind_t kind;
    char id[PL_WIRE_ID_MAX + 1];    /* the id part                          */
} pl_room_ref_t;

/* Parse a room name. Returns the kind (ref->id filled for every kind but
 * PL_ROOM_INVALID); why says what is wrong with an invalid one. */
pl_room_kind_t pl_wire_room_parse (const char *room, pl_room_ref_t *ref, const char **why);

/* Shallow-merge the client's fields into obj: each member replaces obj's
 * member of that name or is added, except the names in owned (a
 * NULL-terminated list: the fields the server owns and the decorations its
 * answers add), whose client values are ignored. fields is borrowed (its
 * members are copied). */
void pl_wire_merge (cJSON *obj, const cJSON *fields, const char *const *owned);

void pl_wire_test (bool verbose);

#endif
