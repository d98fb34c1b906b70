/*  pl_authz - who may see and do what: campaign roles, the visibility rule
 *  for campaign entities, and rooms.
 *
 *  One module holds every authorization rule, so the socket path and the
 *  REST path (which run the same handlers) and every worker agree. The
 *  rules themselves are pure functions (unit-tested in pl_authz_test); the
 *  lookups read Redis through the calling handler (pl_call_*).
 *
 *  Storage it reads (the campaigns worker writes it; proto/README.md,
 *  Storage):
 *    pl:campaign:<id>:members   hash  userId -> "gm" | "player"
 *    pl:session:<id>            hash  campaignId, name, ... (game sessions)
 *
 *  Rooms (proto/README.md, Rooms):
 *    user:<userId>        that user only; joined on CONNECT
 *    campaign:<id>        the campaign's members
 *    campaign:<id>:gm     internal: its GMs, joined along with campaign:<id>
 *    session:<id>         members of the session's campaign
 *  Other "<kind>:<id>" names are reserved for entity rooms and refused for
 *  now; anything else is not a room.
 */
#ifndef PL_AUTHZ_H
#define PL_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include "pl_worker.h"

typedef enum {
    PL_ROLE_NONE = 0,               /* not a member                         */
    PL_ROLE_PLAYER,
    PL_ROLE_GM
} pl_role_t;

/* Longest id in a room name or an entity reference, in bytes. */
#define PL_AUTHZ_ID_MAX   128
/* Longest room name: "campaign:" + id + ":gm". */
#define PL_AUTHZ_ROOM_MAX (PL_AUTHZ_ID_MAX + 16)

/* "gm" / "player" -> role; anything else PL_ROLE_NONE. */
pl_role_t pl_authz_role_parse (const char *text);
/* role -> "gm" / "player" / "none". */
const char *pl_authz_role_name (pl_role_t role);

/* ---- the rules (pure) ----------------------------------------------- */

/* May a caller see an entity? Personal entities (campaign false): only the
 * creator. Campaign entities: members; hidden ones only GMs and the
 * creator - and a creator who is no longer a member sees nothing. */
bool pl_authz_can_see (bool campaign, pl_role_t role, bool is_creator, bool hidden);
/* May a caller update or delete an entity it can see? Personal: the
 * creator. Campaign: a GM, or a member who created it. */
bool pl_authz_can_write (bool campaign, pl_role_t role, bool is_creator);

/* A valid id: 1..PL_AUTHZ_ID_MAX bytes of [A-Za-z0-9_.-] (user ids may
 * also hold '|' '@' '+', as identity providers use them). */
bool pl_authz_id_valid (const char *id);
bool pl_authz_user_id_valid (const char *id);
/* The length of client text in code points, what its limits count (a
 * campaign name, a chat message): every byte that does not continue a
 * UTF-8 sequence (10xxxxxx) starts one. The gateway guarantees valid
 * UTF-8. */
size_t pl_authz_code_points (const char *text);

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
    char id[PL_AUTHZ_ID_MAX + 1];   /* the id part                          */
} pl_room_ref_t;

/* Parse a room name. Returns the kind (ref->id filled for every kind but
 * PL_ROOM_INVALID); why says what is wrong with an invalid one. */
pl_room_kind_t pl_authz_room_parse (const char *room, pl_room_ref_t *ref, const char **why);

/* ---- lookups (through a handler's call) ----------------------------- */

/* The caller-independent role of user in campaign_id. Returns 0, or -1
 * when Redis failed (the call is answered INTERNAL: just return). An
 * unknown campaign is PL_ROLE_NONE. */
int pl_authz_role (pl_call_t *call, const char *campaign_id, const char *user,
                   pl_role_t *role);

/* May the caller subscribe to room (and so chat in it, list its
 * presence)? Returns PL_ERR_NONE, or the error to answer with:
 * VALIDATION_ERROR (not a room), FORBIDDEN (not allowed, internal or
 * reserved room), INTERNAL (Redis failed: already answered). why explains
 * a refusal. On success *campaign_role is the caller's role in the room's
 * campaign (PL_ROLE_NONE for user rooms), and ref is filled. */
pl_err_t pl_authz_room_access (pl_call_t *call, const char *room, pl_room_ref_t *ref,
                               pl_role_t *campaign_role, const char **why);

void pl_authz_test (bool verbose);

#endif
