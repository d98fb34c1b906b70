/*  pl_authz - who may see and do what: campaign roles, the visibility rule
 *  for campaign entities, and rooms.
 *
 *  One module holds every authorization rule, so the socket path and the
 *  REST path (which run the same handlers) and every worker agree. The
 *  rules themselves are pure functions (unit-tested in pl_authz_test); the
 *  lookups read Redis through the calling handler (pl_call_*).
 *
 *  Storage it reads (the campaigns worker writes it; the key formats are
 *  in pl_keys.h):
 *    pl:campaign:<id>:members   hash  userId -> "gm" | "player"
 *    pl:session:<id>            hash  campaignId, name, ... (game sessions)
 *
 *  What an id and a room name may be is wire syntax (proto/pl_wire.h); who
 *  may be in which room is decided here (pl_authz_room_access).
 */
#ifndef PL_AUTHZ_H
#define PL_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include "pl_wire.h"
#include "pl_worker.h"

typedef enum {
    PL_ROLE_NONE = 0,               /* not a member                         */
    PL_ROLE_PLAYER,
    PL_ROLE_GM
} pl_role_t;

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
