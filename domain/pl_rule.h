/*  pl_rule - a campaign's declarative rules (issue 11, section 2): what a
 *  rule is (checked, stored, evaluated, applied: pl_rule.c) and the
 *  runner that applies them when what they watch changes (pl_rule_run.c).
 *
 *  A rule (stored as JSON text in the campaign's hash, pl_keys.h
 *  PL_KEY_CAMPAIGN_RULES):
 *      {id, campaignId, name, on, when, then, createdBy, createdAt}
 *    name   1 to PL_RULE_NAME_MAX characters;
 *    on     "actor", "item" or "gameState": what it watches;
 *    when   an expression (pl_rule_expr.h) over the actor, the item or
 *           the session's game state;
 *    then   1 to PL_RULE_THEN_MAX operations {operation, path, value?}
 *           of the game-state vocabulary (pl_state.h: set, unset, inc,
 *           push, pull; the same path and value limits). A game-state
 *           rule's paths follow the state's rules (pl_state_path_check);
 *           an entity rule's may not touch what the server owns or what
 *           moves an entity between audiences: id, createdBy, createdAt,
 *           updatedAt, version, campaignId, hidden.
 *
 *  The runner (a bus call of workers/rules: pl_worker.h, pl_bus_fn). It
 *  hears that an actor, an item or a game state changed (or was created:
 *  K:created, gameSession:created for a state at version 0), and then:
 *   1. reads the thing again from Redis (the bus copy may be redacted, or
 *      old), the campaign's rules that watch its kind, and the thing's
 *      record (PL_KEY_RULES_MARKS): the version last evaluated ("seen"),
 *      the rule write that made a version and its depth ("dv", "dd"),
 *      and a mark per rule whose when was true then ("m:<rule id>"; the
 *      marks of deleted rules are dropped whenever the record is next
 *      rewritten);
 *   2. stops when that version was evaluated already (a duplicate event,
 *      a second rules worker): idempotency by (id, version);
 *   3. evaluates every rule: a rule fires when its when is true now and
 *      its mark is not set - once per transition, not again while it
 *      stays true; a false when clears the mark;
 *   4. applies the then of every rule that fires, in creation order, in
 *      ONE compare-and-set commit with the new marks and "seen": through
 *      the same domain code as a client's write - an actor or item by
 *      pl_entity_rule_prepare (K:update's validation, version + 1, its
 *      K:updated and session syncs), a game state by pl_session_commit
 *      (expected version = the one evaluated, source "rules", its
 *      gameState:updated). The commit expects "seen" and everything the
 *      decision read unchanged, so two runners never both apply: the
 *      loser runs again and finds the version seen. A rule acts with the
 *      authority of the GM who created it (pl_call_act_as): a rule whose
 *      creator is no longer a GM of the campaign is skipped (logged);
 *   5. publishes state_invalidated {campaignId, entity, id, reason:
 *      "rule", rule} to campaign:<id> (campaign:<id>:gm for a hidden
 *      entity) for each rule applied.
 *  Chains: a rule's write has the depth of the version that triggered it
 *  plus one (a client's write has depth 0), recorded as dv/dd with the
 *  write. A version of depth PL_RULE_DEPTH_MAX fires nothing: the runner
 *  logs it, marks the rules that would have fired (the transition is
 *  consumed) and publishes state_invalidated with reason "depth".
 *
 *  The bus is lossy (pl_bus_fn): an event the worker never hears leaves
 *  that version unevaluated until the thing's next change, and a rules
 *  worker that dies between its commit and its publish loses that
 *  state_invalidated (the change itself is committed and announced by
 *  its own event when the commit's events go out). Rules are evaluated
 *  on the newest version read, so changes that come faster than the
 *  runner may coalesce: a when true and false again in between is not
 *  seen.
 *
 *  Everything here runs on the worker loop inside a call (pl_worker.h).
 */
#ifndef PL_RULE_H
#define PL_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "pl_worker.h"

#define PL_RULE_NAME_MAX        200     /* characters in a name           */
#define PL_RULE_THEN_MAX         16     /* operations in a then           */
#define PL_RULE_PER_CAMPAIGN    100     /* rules in a campaign            */
#define PL_RULE_DEPTH_MAX         8     /* a chain of rule writes         */
#define PL_RULE_VALUE_MAX      8192     /* bytes of one operation's value,
                                           as JSON text                   */
#define PL_RULE_TEXT_MAX      16384     /* bytes of a rule's {name, on,
                                           when, then} as JSON text: the
                                           runner reads all of a campaign's
                                           rules on every change it hears,
                                           so at most 100 x 16 KB          */

typedef enum {
    PL_RULE_ON_ACTOR = 0,
    PL_RULE_ON_ITEM,
    PL_RULE_ON_STATE,
    PL_RULE_ON_COUNT
} pl_rule_on_t;

/* "actor", "item", "gameState". */
const char *pl_rule_on_name (pl_rule_on_t on);

typedef struct _pl_rule_t pl_rule_t;

/* Check a client's rule {name, on, when, then} (other members are
 * ignored). Returns the rule (not stamped yet), or NULL with why naming
 * the problem (a when that does not parse: its position), or "out of
 * memory". def must come from JSON text without NUL (pl_proto_json_has_nul):
 * cJSON keeps no string's length, so a name or when holding \u0000 would
 * be taken cut short. Every request's argument is such text (the worker
 * runtime refuses a NUL before any handler: pl_worker.c, for socket.io
 * and REST alike) and pl_rule_load refuses stored text with one. */
pl_rule_t *pl_rule_new (const cJSON *def, char *why, size_t why_size);
/* A stored rule (its JSON text, len bytes), or NULL when the text is not
 * one, or holds a NUL (a corrupt entry: the caller logs and skips it). */
pl_rule_t *pl_rule_load (const char *text, size_t len);
void pl_rule_destroy (pl_rule_t **self_p);
/* Give a new rule its server fields. false when out of memory. */
bool pl_rule_stamp (pl_rule_t *self, const char *id, const char *campaign_id,
                    const char *created_by, int64_t created_at);

/* The rule as stored and answered (borrowed). */
const cJSON *pl_rule_json (const pl_rule_t *self);
const char *pl_rule_id (const pl_rule_t *self);         /* "" before stamp */
const char *pl_rule_creator (const pl_rule_t *self);    /* "" before stamp */
pl_rule_on_t pl_rule_on (const pl_rule_t *self);
const cJSON *pl_rule_then (const pl_rule_t *self);
/* Order of application: creation time, then id. */
int pl_rule_cmp (const pl_rule_t *a, const pl_rule_t *b);

/* Evaluate when on doc: 1 true, 0 false, -1 a runtime error (counts as
 * false; pl_rule_expr.h). */
int pl_rule_when (const pl_rule_t *self, const cJSON *doc);
/* doc after then: a new document, or NULL with why (an operation that
 * does not apply to this doc, "operation 1: inc at hp: no such target";
 * or "out of memory"). A game-state rule applies with the state's rules
 * (pl_state_apply), an entity rule with pl_state_doc_apply. */
cJSON *pl_rule_apply (const pl_rule_t *self, const cJSON *doc, char *why, size_t why_size);

/* pl_rule_load through this process's cache of parsed rules (below): a
 * ref the caller drops with pl_rule_destroy, shared, never to stamp; or
 * NULL when the text is not a rule. Worker loop only. */
pl_rule_t *pl_rule_load_shared (const char *text, size_t len);
/* Bytes of stored text the cache holds (at most 2 MB). */
size_t pl_rule_cache_bytes (void);

/* ---- storage (through a handler's call) ------------------------------- */

/* The campaign's rules, oldest first, only those watching on (or all,
 * on == PL_RULE_ON_COUNT). Returns 0 and *rules (an array of *count,
 * free with pl_rule_list_free), or -1 when Redis failed (the call has
 * been answered INTERNAL unless it had committed). Corrupt entries are
 * logged and skipped. The rules are shared with a per-process cache of
 * parsed rules keyed by their stored text (a stored rule never changes):
 * read them, never stamp them. */
int pl_rule_list (pl_call_t *call, const char *campaign_id, pl_rule_on_t on,
                  pl_rule_t ***rules, size_t *count);
void pl_rule_list_free (pl_rule_t ***rules, size_t *count);

/* ---- the runner (pl_rule_run.c) -------------------------------------- */

/* An actor or item (on ACTOR / ITEM) with this id, or the game state of
 * session id (on STATE), changed: run the campaign's rules on it as
 * described above. Its campaign is the stored one (an event's copy is
 * only a hint that something changed). Returns 0 (done: applied, nothing
 * to do, or refused and logged), or -1 (Redis failed, or a lost
 * compare-and-set: the runtime runs the call again). For a call that
 * answers nobody (a bus call). */
int pl_rule_run (pl_call_t *call, pl_rule_on_t on, const char *id);
/* An actor or item may have been deleted (K:deleted, which also tells
 * players of one hidden from them): forget its record if it is gone.
 * Returns 0, or -1 when Redis failed. */
int pl_rule_forget (pl_call_t *call, pl_rule_on_t on, const char *id);

/* What this process's runner did so far (an application is a debug line,
 * not an info one: a busy campaign would flood the log). */
typedef struct {
    uint64_t runs;                  /* versions evaluated (not seen before) */
    uint64_t applied;               /* rules applied (committed)           */
    uint64_t depth_stops;           /* rules not applied: chain too deep   */
    uint64_t not_gm;                /* ... their creator no longer a GM    */
} pl_rule_stats_t;
pl_rule_stats_t pl_rule_stats (void);

void pl_rule_test (bool verbose);

#endif
