/*  pl_session - game sessions in Redis: storage, the versioned commit,
 *  sync, and the index of the actors and items each session embeds.
 *
 *  Shared by the gamestate worker (its handlers) and the actors/items
 *  workers, whose updates must reach the sessions that embed the entity
 *  (issue 5, section 5: a "system" update, pl_session_entity_sync).
 *
 *  Storage (all in the worker's Redis; the key formats are in pl_keys.h):
 *    pl:session:<sid>              hash {id, campaignId, name, createdBy,
 *                                  createdAt}; pl_authz reads campaignId
 *    pl:campaign:<cid>:sessions    set of the campaign's session ids
 *                                  (campaign:removeMember reads it)
 *    pl:session:<sid>:state        the state JSON: the snapshot, always
 *                                  current, with its stateVersion
 *    pl:session:<sid>:log          stream of applied updates, entry id
 *                                  "<version>-0", field "u" = the update
 *                                  JSON (the gameState:updated payload),
 *                                  trimmed to PARLEY_SESSION_LOG_MAX
 *    pl:session:<sid>:upd:<uid>    the success ack body of update id uid,
 *                                  EX 86400 (idempotent retries)
 *    pl:actor:<id>:sessions        set of session ids whose state holds
 *    pl:item:<id>:sessions         actors.<i> / items.<i> with that id
 *
 *  The commit (pl_session_commit.c) reads, decides in C and commits with
 *  one compare-and-set script (pl_txn): one pipelined read of the state,
 *  the log's tail, the update id's record and the caller's role; the
 *  operations applied in C (pl_state); then one commit that expects the
 *  state text, the role field and the record's absence (and whatever the
 *  builder read: the embedded entities) unchanged, and writes the log
 *  entry, the state, the idempotency record, the entity index moves and
 *  the caller's own writes (the dual update's write-backs), or nothing.
 *  Updates of one session are strictly serialized: any commit in between
 *  (any worker, any process) changes the state text, so a commit based on
 *  the old one conflicts and is decided again on the new one - with an
 *  expected version, that is a VERSION_CONFLICT.
 *
 *  Who decides again after a conflict:
 *    - a handler's own commit (gameState:update, token:move, create):
 *      the runtime, which reruns the whole handler (pl_call_conflict,
 *      called by pl_txn_commit); the outcome is PL_SESSION_RETRY and the
 *      handler returns without answering;
 *    - a follow-up commit (update->follow_up: the "system" syncs, made
 *      after the call's own write has committed): pl_session itself,
 *      bounded (then PL_SESSION_BUSY, logged), since a rerun of the
 *      handler would redo its committed write.
 *
 *  Contract for callers: nothing here answers the call, except a failed
 *  handler's own commit (pl_txn_commit answers INTERNAL: check
 *  pl_call_answered). Every function reports an outcome and the caller
 *  picks the ack (or, inside another service's handler, just logs). A
 *  Redis failure is logged here and comes back as PL_SESSION_FAILED / -1.
 *  Events are published through the call (pl_call_publish), so they go
 *  out after the reply, and only when the call succeeds or has committed.
 *
 *  Every function runs on the worker loop of the calling handler.
 */
#ifndef PL_SESSION_H
#define PL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "pl_worker.h"
#include "pl_authz.h"
#include "pl_txn.h"

/* Longest update id, in bytes. */
#define PL_SESSION_UPDATE_ID_MAX  128
/* Longest session name, in characters (bytes, for ASCII). */
#define PL_SESSION_NAME_MAX       200
/* Largest state, JSON bytes: an update that would grow it past this is
 * refused (VALIDATION_ERROR), so a join's ack stays deliverable. */
#define PL_SESSION_STATE_MAX      (4 << 20)
/* Most sessions per campaign: gameSession:create past it is a CONFLICT,
 * which bounds gameSession:list and campaign:removeMember's sweep. */
#define PL_SESSION_PER_CAMPAIGN   1000
/* How long an update id is remembered, seconds. */
#define PL_SESSION_UPDATE_TTL     86400
/* A decimal uint64 and its NUL. */
#define PL_SESSION_VERSION_SIZE   24

typedef enum {
    PL_SESSION_APPLIED = 0,     /* committed; gameState:updated published  */
    PL_SESSION_REPLAYED,        /* update id seen before: body = first ack */
    PL_SESSION_NOOP,            /* the builder had no operation to apply   */
    PL_SESSION_MISSING,         /* no such session                         */
    PL_SESSION_CONFLICT,        /* expected version != current (current)   */
    PL_SESSION_INVALID,         /* an operation is invalid (index, why)    */
    PL_SESSION_REFUSED,         /* the builder refused (why)               */
    PL_SESSION_BUSY,            /* a follow-up lost the race too many times */
    PL_SESSION_RETRY,           /* lost the race: the runtime reruns the
                                   handler, which returns unanswered      */
    PL_SESSION_FORBIDDEN,       /* the caller lacks min_role (why)          */
    PL_SESSION_FAILED           /* Redis failed or out of memory (logged)  */
} pl_session_status_t;

/* What a commit did. Clear it with pl_session_result_clear. */
typedef struct {
    pl_session_status_t status;
    char version[PL_SESSION_VERSION_SIZE];  /* APPLIED/REPLAYED: new version;
                                               CONFLICT: the current one  */
    int index;                  /* INVALID: failing operation, -1: the list */
    pl_role_t role;             /* FORBIDDEN: the caller's role read        */
    char why[256];              /* INVALID/REFUSED/FAILED: a message        */
    cJSON *body;                /* APPLIED/REPLAYED: the ack body
                                   {newVersion}, owned by the result        */
    cJSON *update;              /* APPLIED: the gameState:updated payload,
                                   owned by the result                      */
} pl_session_result_t;

/* An operations builder: called with the state the commit read (again
 * on every attempt), so operations that depend on the state - an array
 * index found by id - are computed from the state they will be applied
 * to. What else it reads, it must have expected unchanged by the commit
 * (the queue adds those expectations). Returns the operations (owned by the caller; an
 * empty array: nothing to do, PL_SESSION_NOOP), or NULL with why filled
 * (PL_SESSION_REFUSED). */
typedef cJSON *(pl_session_ops_fn) (const cJSON *state, void *arg, char *why, size_t why_size);

typedef struct {
    const char *expected;       /* canonical decimal version the update is
                                   based on, or NULL: whatever is current  */
    const cJSON *operations;    /* the operations, or NULL to use build     */
    pl_session_ops_fn *build;   /* ... computed from the state              */
    void *build_arg;            /* passed to build                          */
    const char *update_id;      /* NULL: a server-made UUID (never replayed) */
    const char *source;         /* "gm", "system", ...                       */
    const cJSON *timestamp;     /* a number, or NULL: server time, ms       */
    /* When not NULL, the session's campaign: the caller must hold at least
     * min_role in it as of the commit (read with the state, and expected
     * unchanged by the commit), else PL_SESSION_FORBIDDEN - a check made
     * before the commit could be stale by the time it lands. */
    const char *campaign_id;
    pl_role_t min_role;
    /* Expectations and writes of the caller's own to commit with the
     * state, or NULL: called on every attempt that gets that far, after
     * the state's writes are added, with build_arg (what the builder
     * read and prepared). Returns false when out of memory. */
    bool (*queue) (pl_txn_t *txn, void *arg);
    /* A follow-up commit, made after the call's own write (a "system"
     * sync): a lost race reads again here (bounded), never the runtime's
     * rerun, and a failure answers nothing (pl_txn_commit_follow_up). */
    bool follow_up;
} pl_session_update_t;

/* ---- pure helpers (unit-tested) ------------------------------------- */

/* A canonical decimal uint64 ("0", "17"; no sign, no leading zero).
 * Returns true and *value. */
bool pl_session_version_parse (const char *text, uint64_t *value);
/* A version argument: a canonical decimal string, or a non-negative
 * integer number below 2^53. Writes the canonical text to out. */
bool pl_session_version_arg (const cJSON *item, char out[PL_SESSION_VERSION_SIZE]);
/* An update id: a string of 1..PL_SESSION_UPDATE_ID_MAX bytes without
 * control characters. */
bool pl_session_update_id_valid (const cJSON *item);
/* The entity ids (valid pl_authz ids only) at <key>.<i>.id of state, key
 * "actors" or "items": a new array of strings, without duplicates. */
cJSON *pl_session_entity_ids (const cJSON *state, const char *key);
/* The embedded copies an update changed: the entries of after's <key>
 * ("actors" / "items") that are objects with a valid id and deep-equal no
 * entry of before's <key> with the same id (new copies included), one per
 * id, sorted by id: a new array of copies, or NULL when out of memory. */
cJSON *pl_session_entity_changes (const cJSON *before, const cJSON *after, const char *key);
/* The operations that make every copy of entity id in state (<key>.<i>,
 * key "actors" or "items") equal to entity ("set <key>.<i>" where one
 * differs), or, entity NULL, remove them all ("unset", highest index
 * first): a new array (at most PL_STATE_MAX_OPS), NULL when out of memory.
 * The "system" sync's builder, and gameState:update's write-back. */
cJSON *pl_session_entity_ops (const cJSON *state, const char *key, const char *id,
                              const cJSON *entity);

/* The copy of a stored entity a state may hold, which every member of
 * the campaign reads (in place): its holder_field ("actorId" of an item)
 * becomes null unless holder - the stored entity it names, NULL when gone
 * - is one every member may see (not hidden). An entity held by nobody,
 * or holder_field NULL (a kind that has no holder), is left as it is.
 * Returns true when it changed entity. */
bool pl_session_entity_view (cJSON *entity, const char *holder_field, const cJSON *holder);

/* ---- sessions -------------------------------------------------------- */

/* Create a session in campaign_id with a fresh state at version "0", if
 * created_by is a GM of it as of the commit. Returns 0 and *session ({id,
 * campaignId, name, createdBy, createdAt}, caller owns), 1 when the
 * campaign already has PL_SESSION_PER_CAMPAIGN sessions, 2 when created_by
 * is no GM of it (any more: a campaign deleted meanwhile has no members),
 * 3 when the role or the session count changed before the commit (the
 * runtime reruns the handler: return without answering), -1 on failure
 * (logged; answered INTERNAL when the commit itself failed). */
int pl_session_create (pl_call_t *call, const char *campaign_id, const char *name,
                       const char *created_by, cJSON **session);

/* Read a session's hash. Returns 1 and *session (caller owns), 0 when there
 * is none, -1 on failure. */
int pl_session_get (pl_call_t *call, const char *sid, cJSON **session);

/* The campaign's sessions, oldest first. Returns 0 and *list, -1. */
int pl_session_list (pl_call_t *call, const char *campaign_id, cJSON **list);

/* Read the current state (the snapshot). Returns 1 and *state (caller
 * owns), 0 when there is none, -1 on failure. */
int pl_session_state (pl_call_t *call, const char *sid, cJSON **state);

/* Commit one update to session sid (see the header comment); on
 * PL_SESSION_APPLIED gameState:updated goes to room session:<sid>. */
void pl_session_commit (pl_call_t *call, const char *sid, const pl_session_update_t *update,
                        pl_session_result_t *result);
void pl_session_result_clear (pl_session_result_t *result);

/* gameState:sync. Returns 1 and *out = {updates: [...]} (the updates after
 * since, in order) or {full: true, gameState} when the log no longer holds
 * since + 1 or since is ahead of the state; 0 when there is no session;
 * -1 on failure. */
int pl_session_sync (pl_call_t *call, const char *sid, uint64_t since, cJSON **out);

/* ---- the dual update (issue 5, section 5) --------------------------- */
/* One truth: the stored actor or item (pl_entity) is the master, and every
 * copy a session state embeds (actors.<i> / items.<i>, matched by id) is
 * made equal to it by a "system" update after each write:
 *   - actor:update / item:update (and the items an actor:delete lets go):
 *     pl_session_entity_sync with the stored entity;
 *   - actor:delete / item:delete: pl_session_entity_remove;
 *   - gameState:update that changed a copy: in the same transaction as
 *     the state (update->queue), the store gets the copy merged into the
 *     stored entity (pl_entity_writeback_*, under the rules of K:update),
 *     and the builder sets every copy of it in this state to exactly what
 *     the store will hold, so the update is one version and the copy and
 *     the store cannot part, even if the worker dies right after it. A
 *     copy that the store would refuse (invalid, hidden) refuses the
 *     update. Other sessions that embed the entity get their "system"
 *     update after the commit, as after K:update.
 * A sync reads the stored entity in each session's commit, which expects
 * it unchanged, so whichever sync commits last writes the newest stored
 * value (a sync that lost a race reads again, bounded): syncs
 * of two writers cannot leave a session with the older one. A stored
 * entity that is hidden counts as gone: its copies are removed (a hidden
 * entity is not for every member's eyes, and every member reads the
 * state); for the same reason a copy never names a hidden holder
 * (pl_session_entity_view: the item's actorId reads null, and the holder
 * is read and expected unchanged with the item). A worker that dies
 * between its entity write and the syncs
 * leaves those sessions' copies behind the store: the next join,
 * requestFull or sync of such a session repairs them first
 * (pl_session_entity_repair), as does the entity's next write. (A delete
 * whose removals were lost that way leaves its copies: the state's own.)
 * Neither function here writes the store, and a sync commits only where a
 * copy differs, so the two directions cannot feed each other. */

typedef enum {
    PL_SESSION_ACTOR,           /* state.actors,  pl:actor:<id>:sessions    */
    PL_SESSION_ITEM             /* state.items,   pl:item:<id>:sessions     */
} pl_session_kind_t;

/* An actor or item (the stored JSON, with its id) changed: replace every
 * embedded copy of it (actors.<i> / items.<i> whose id matches) that
 * differs from the entity as stored at the commit, as every member may
 * read it (read again inside it, with its holder: pl_session_entity_view;
 * gone or hidden: the copies are removed), in each session that holds
 * it, as a versioned update with source "system" and the usual
 * gameState:updated. skip_sid, when not
 * NULL, is a session left alone. A session whose state no longer holds it
 * just drops out of the index.
 *
 * Only sessions that may hold it are touched: a campaign entity's copies
 * in sessions of its campaign, a personal entity's in sessions of a
 * campaign its creator is a GM of. A copy with the same id elsewhere (a GM
 * of another campaign typed the id into a state) is a stranger's: it is
 * left alone, so no update leaks the entity to that campaign.
 *
 * Each session is one commit of its own: a failure in one (logged) does
 * not stop the others. Returns the number of sessions updated, or -1 when
 * the index could not be read. Events are published through call, so at
 * most PL_CALL_PUBLISH_MAX per call go out (clients that miss one see a
 * version gap and sync). */
int pl_session_entity_sync (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity,
                            const char *skip_sid);

/* An actor or item (the stored JSON as it was) was deleted: remove every
 * embedded copy of it (unset actors.<i> / items.<i>) from each session
 * that holds it and may hold it, the same way (one "system" update per
 * session; the index follows). Returns as pl_session_entity_sync. */
int pl_session_entity_remove (pl_call_t *call, pl_session_kind_t kind, const cJSON *entity);

/* Read repair: every copy in state (session sid's, as the caller just
 * read it) of a stored actor or item that is not the stored entity as
 * members may read it (pl_session_entity_view), or of one now hidden,
 * gets its "system" update now, as pl_session_entity_sync would have made
 * it - the writer that should have died between its store write and its
 * syncs. Copies of entities not (or no longer) stored are the state's own
 * and left alone. One MGET per kind embedded (and one of the actors that
 * hold the items) when nothing is out of step. Returns the number of
 * system updates applied (the caller's state is then stale: read it
 * again), or -1 when Redis failed (logged; the caller carries on with the
 * state as it is). */
int pl_session_entity_repair (pl_call_t *call, const char *sid, const cJSON *state);

void pl_session_test (bool verbose);

#endif
