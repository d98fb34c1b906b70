/*  pl_session_ops - the operations builders (pl_session_ops_fn) of the
 *  gamestate worker's commits: gameState:update's, with the dual update
 *  (state -> store) of the actors and items it changes, and token:move's.
 *
 *  A builder runs inside pl_session_commit, on the state the update
 *  applies to, again on every retry (pl_session.h). The handlers
 *  (workers/gamestate) check the argument and the caller, fill the
 *  builder's argument, commit, and answer.
 *
 *  The dual update: every embedded actor or item whose copy a
 *  gameState:update changes is written back to the store in the same Redis
 *  transaction as the state, under the rules of actor:update / item:update
 *  for the GM who sent it (the kinds' field rules: pl_entity_kinds.c). The
 *  builder prepares each write-back (pl_entity_writeback_prepare, which
 *  reads the entity and what its decision needs) and appends "set actors.<i>" with exactly what the store
 *  will hold (the new version and updatedAt included), so the copy is the
 *  stored entity in the very version the ack names. A copy the store would
 *  refuse (invalid, or hidden) refuses the update: VALIDATION_ERROR with
 *  the index of the operation that touched it. An item held by a hidden
 *  actor is in a state with actorId null (every member reads the state,
 *  and only some may see that actor: pl_session_entity_view), so an update
 *  whose copy names that actor - the GM's own operation, which every
 *  member would receive - is refused the same way.
 *
 *  Everything runs on the worker loop (pl_worker.h).
 */
#ifndef PL_SESSION_OPS_H
#define PL_SESSION_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "pl_entity.h"
#include "pl_session.h"

/* Most changed copies one update writes back: each costs a few Redis
 * reads before the commit and one entity event plus one
 * gameState:updated per other session that embeds it, so this keeps an
 * update inside PL_CALL_PUBLISH_MAX. An update that changes more copies
 * than this is refused (VALIDATION_ERROR): split it. */
#define PL_SESSION_OPS_WRITE_BACK_MAX 32

/* What the builder of a gameState:update needs, and what it prepared on
 * the attempt that committed. */
typedef struct {
    pl_call_t *call;
    const cJSON *ops;           /* the client's operations                 */
    const char *campaign_id;    /* the session's campaign                  */
    pl_entity_wb_t *wb[PL_SESSION_OPS_WRITE_BACK_MAX];
    int nwb;
    bool invalid;               /* refused as VALIDATION_ERROR (index)     */
    int index;
} pl_session_ops_update_t;

/* Builder of gameState:update (arg: a pl_session_ops_update_t): the
 * client's operations, then - the dual update, state -> store - for each
 * embedded copy they change, pl_entity_writeback_prepare of what they
 * changed in it (it reads the entity; the commit expects what it read
 * unchanged, so a write to it before the commit makes the commit lose
 * and the handler run again), and "set <key>.<i>" of every copy of it that is
 * not exactly what the store will hold (a copy that leaves out fields, or
 * the stamps version / updatedAt). Every client applies these operations
 * as any other, so its copy is the stored entity, in one version.
 * pl_session_ops_update_queue then adds the store's write to the state's
 * own commit. A copy the store refuses refuses the update (u->invalid, with
 * the index of the client's operation that touched it). The client's
 * operations keep their indexes: when they do not apply, they are returned
 * as they are and the commit reports the failing index. */
cJSON *pl_session_ops_update (const cJSON *state, void *arg, char *why, size_t why_size);
/* The commit's queue (arg: the same pl_session_ops_update_t): the
 * expectations and writes of the write-backs pl_session_ops_update
 * prepared (pl_entity_writeback_add), into the state's commit. */
bool pl_session_ops_update_queue (pl_txn_t *txn, void *arg);
/* Free the write-backs and forget the refusal: before each attempt, and
 * once the handler is done with them. */
void pl_session_ops_update_reset (pl_session_ops_update_t *u);

/* What the builder of a token:move needs. */
typedef struct {
    const char *token;          /* token id                               */
    const char *actor;          /* its actorId when authorized by owning
                                   that actor (a player), else NULL        */
    double x, y;
} pl_session_ops_move_t;

/* Builder of token:move (arg: a pl_session_ops_move_t): the token's index
 * in the state the move applies to (a commit in between may have moved it
 * in the array, or removed it). */
cJSON *pl_session_ops_move (const cJSON *state, void *arg, char *why, size_t why_size);
/* Find token id in state.currentEncounter.tokens: its index, with *found
 * its entry, or -1. */
int pl_session_ops_token_index (const cJSON *state, const char *token, const cJSON **found);

void pl_session_ops_test (bool verbose);

#endif
