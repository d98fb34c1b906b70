/*  pl_entity - campaign entities (actors, items...): the generic CRUD the
 *  entity workers are made of.
 *
 *  A kind (pl_entity_kind_t) names its keys, its pushes and its own field
 *  rules; pl_entity_list/get/create/update/delete are the whole handlers,
 *  so a worker is a kind descriptor plus a table of one-line handlers
 *  (workers/actors/actors.c, workers/items/items.c).
 *
 *  Storage (Redis; the key formats are in pl_keys.h), for a kind named K
 *  ("actor", "item"):
 *    pl:K:<id>                     the entity, JSON text
 *    pl:user:<uid>:Ks              zset: uid's personal entities (no
 *                                  campaignId), score createdAt
 *    pl:campaign:<cid>:Ks          zset: the campaign's entities, score createdAt
 *    pl:user:<uid>:campaign-Ks     zset: the campaign entities uid created
 *                                  (with pl:user:<uid>:Ks, the per-user
 *                                  limit PARLEY_ACTORS_PER_USER counts them)
 *    pl:H:<hid>:Ks                 zset: the entities held by holder hid
 *                                  (items: pl:actor:<aid>:items), score createdAt
 *  Stored fields the server owns: id, createdBy, createdAt, updatedAt,
 *  version; campaignId (null: personal; fixed at create), hidden (boolean,
 *  default false) and the holder field (items' actorId, default null) are
 *  validated client fields. Entities stored before campaigns existed lack
 *  campaignId/hidden: they read as personal and visible.
 *
 *  Rules (pl_authz): who sees an entity is pl_authz_can_see, who may update
 *  or delete one pl_authz_can_write. An entity the caller may not see does
 *  not exist for it (NOT_FOUND); one it sees but may not write is
 *  FORBIDDEN; creating or listing in a campaign one is not a member of is
 *  FORBIDDEN (an unknown campaign has no members, so it is FORBIDDEN too).
 *
 *  Events (proto/events.def, "Visibility + broadcast rules"), all leaving
 *  out the origin connection - pl_entity_plan computes them:
 *    personal          -> user:<createdBy>
 *    campaign          -> campaign:<cid>
 *    campaign, hidden  -> campaign:<cid>:gm, and user:<createdBy> except
 *                         campaign:<cid>:gm (only while the creator is a
 *                         member)
 *    update that hides it   -> K:deleted (id) to campaign:<cid> except
 *                              [campaign:<cid>:gm, user:<createdBy>], then
 *                              K:updated by the hidden rule
 *    update that reveals it -> K:created (entity) to the same audience,
 *                              then K:updated by the hidden rule
 *  A held entity whose holder is hidden (an item of a hidden actor) names
 *  its holder only to those who may see the holder: the campaign's GMs
 *  and the holder's creator while a player member. Everyone else reads
 *  the holder field as null - in K:get, K:list, acks, every event and
 *  every game-state copy (pl_session_entity_view) - so the plan splits
 *  each event to campaign:<cid> (pl_entity_holder_view_t, below):
 *    campaign:<cid> except [gm, user:<holder's creator>]  holder null
 *    campaign:<cid>:gm                                     the entity
 *    user:<holder's creator> except gm                     the entity
 *  (like a hidden entity's, the last reaches the holder's creator on
 *  every connection, subscribed or not). A gone holder counts as hidden
 *  to players. Flipping the holder's hidden sends K:updated of each held
 *  entity (same version: only what they may see of it changed) to those
 *  who cannot see it hidden: holder null when it hides, the id when it is
 *  revealed; the held entities' game-state copies follow.
 *  A caller who may not see the holder and writes the holder field null
 *  changes nothing: for it the field is null already.
 *
 *  Writes read what the decision needs (independent reads sent together,
 *  pl_call_batch), decide in C, and commit with one compare-and-set
 *  script: create with its own (it also keeps the per-user limit and the
 *  creation order), update and delete with one pl_txn whose expectations
 *  are everything the decision read (pl_entity_reads.c). When any of it
 *  changed before the commit, nothing is written and the runtime runs the
 *  handler again (pl_call_conflict; past PL_CALL_RETRY_MAX: CONFLICT).
 *  The ack goes only after the write committed, and events only with it
 *  (pl_worker).
 *
 *  Deleting a holder (an actor) sets the holder field of everything it
 *  held to null (version + 1) in the same commit, and sends their
 *  K:updated events as far as the per-call publish budget
 *  (PL_CALL_PUBLISH_MAX) allows; past it, the held entities are still
 *  updated but their events are left out (logged).
 *
 *  Sessions (pl_session.h, the dual update): after an update commits,
 *  every session state that embeds the entity (actors.<i> / items.<i>, by
 *  id) gets a "system" update that sets the copy to the stored entity as
 *  every member may read it (pl_session_entity_view: an item of a hidden
 *  actor with actorId null); after a delete, the copies are removed, and
 *  the items a deleted actor
 *  held get their new copies (actorId null) the same way. The other way
 *  round, a copy a GM changed in a state is written back to the store in
 *  the state's own transaction (pl_entity_writeback_*).
 *
 *  Every function here runs on the worker loop, inside a handler.
 */
#ifndef PL_ENTITY_H
#define PL_ENTITY_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "pl_authz.h"
#include "pl_worker.h"
#include "pl_txn.h"

typedef struct {
    const char *name;               /* "actor": key prefix, event names     */
    pl_push_id_t created;           /* K:created                            */
    pl_push_id_t updated;           /* K:updated                            */
    pl_push_id_t deleted;           /* K:deleted                            */
    /* The kind's own field rules, run on the merged entity before every
     * write. Returns NULL, or what is wrong (a static string). */
    const char *(*invalid) (const cJSON *entity);
    const char *holder;             /* kind that holds these ("actor"), or NULL */
    const char *holder_field;       /* its field here ("actorId")           */
    const char *held;               /* kind these hold ("item"), or NULL    */
    const char *held_field;         /* the held kind's holder_field         */
    pl_push_id_t held_updated;      /* the held kind's K:updated            */
} pl_entity_kind_t;

/* The handlers. Each answers the call exactly once. */
void pl_entity_list   (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg);
void pl_entity_get    (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg);
void pl_entity_create (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg);
void pl_entity_update (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg);
void pl_entity_delete (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg);

/* The dual update, state -> store, in the same transaction as the state.
 * A gameState:update changed copy (an embedded actor or item, with its id)
 * in a session of campaign_id. Its operations builder, inside the session
 * commit (pl_session.h), prepares the write-back of each such copy as an
 * update of the stored entity by the caller, under the rules of K:update:
 * the caller must see and may write the entity (pl_authz_can_write with
 * its role in the ENTITY's campaign; a personal entity only when it
 * created it), a campaign entity must be of campaign_id, the copy's fields
 * are shallow-merged (server fields, and a campaignId that differs, are
 * refused or ignored as in K:update: so a key missing from the copy stays;
 * set it to null to clear it), and the result must be valid. The result
 * gets version = stored + 1 and a fresh updatedAt, unless the copy
 * changes nothing.
 *
 * pl_entity_writeback_prepare reads the entity and what the decision
 * needs - it only reads: no WATCH - and keeps in *wb what the decision
 * read. It writes, publishes and answers nothing. Returns
 *   1  *wb: pl_entity_writeback_entity is what the state may hold of the
 *      entity after the commit: what the store holds, as every member may
 *      read it (pl_session_entity_view: the holder field null when the
 *      holder is hidden); the builder makes every copy of it in the state
 *      exactly that. pl_entity_writeback_holder is that hidden holder's
 *      id, or NULL. pl_entity_writeback_add puts its expectations and
 *      writes into the caller's pl_txn; after that commit,
 *      pl_entity_writeback_done announces it;
 *   0  a stranger's copy: no such entity, or not one this caller may write
 *      from this campaign's session. The store is not touched and the
 *      copy is the state's own business (logged at debug);
 *   2  the copy cannot be stored: it is invalid as K:update would find it,
 *      or the entity is hidden (hidden:true, before or after), which no
 *      game state may embed since every member reads the state. why says
 *      which; the caller refuses the update (VALIDATION_ERROR);
 *  -1  Redis failed (the call is answered INTERNAL).
 * The call must not be answered yet. */
typedef struct _pl_entity_wb_t pl_entity_wb_t;

int pl_entity_writeback_prepare (const pl_entity_kind_t *kind, pl_call_t *call,
                                 const char *campaign_id, const cJSON *copy,
                                 pl_entity_wb_t **wb, char *why, size_t why_size);
/* A rule's write (workers/rules, source "rules"): fields (with the id)
 * shallow-merged into the stored entity of campaign campaign_id under the
 * rules of K:update, as the call's caller (pl_call_act_as: the rule's
 * GM), decided exactly as pl_entity_writeback_prepare decides a copy -
 * the same reads, validation, version bump, and the same
 * pl_entity_writeback_add / _done for the commit and its events and
 * session syncs - except that a hidden entity may be written (its events
 * go where a hidden entity's go). fields must not change hidden (nor
 * anything the server owns: ignored as in K:update). Returns as
 * pl_entity_writeback_prepare; on 0 (gone, not of the campaign, or the
 * caller may not write it) why says which. */
int pl_entity_rule_prepare (const pl_entity_kind_t *kind, pl_call_t *call,
                            const char *campaign_id, const cJSON *fields,
                            pl_entity_wb_t **wb, char *why, size_t why_size);
/* Whether the prepared write changes the stored entity (false: the merge
 * changed nothing, and _add writes nothing). */
bool pl_entity_writeback_changes (const pl_entity_wb_t *wb);
/* Whether the entity is hidden (its events go to the GMs' room). */
bool pl_entity_writeback_hidden (const pl_entity_wb_t *wb);
/* The copy the state holds once the commit is through: the stored entity
 * as every member may read it. */
const cJSON *pl_entity_writeback_entity (const pl_entity_wb_t *wb);
/* The id of the entity's holder when the copy may not name it (hidden,
 * or gone), else NULL. A copy that names it would show every member what
 * K:get refuses them: the caller refuses such an update. */
const char *pl_entity_writeback_holder (const pl_entity_wb_t *wb);
/* Add to the caller's txn what the write-back's decision read, as
 * expectations - the stored entity's text, the caller's role in the
 * entity's campaign, the holder's text and its creator's role when read
 * - and its writes: the entity, and its holder sets when its holder
 * changes (no write when the copy changed nothing; the expectations still
 * hold the state's copy to what the store holds). A conflict on any of
 * them is the caller's commit's conflict (pl_call_conflict: the whole
 * handler runs again). Returns false only when it cannot build them (out
 * of memory); a build failure inside txn fails its commit (INTERNAL). */
bool pl_entity_writeback_add (pl_txn_t *txn, const pl_entity_wb_t *wb);
/* After the caller's commit: K:updated (the caller's own
 * connection included: its ack was gameState:update's) and the "system"
 * update of every OTHER session that embeds the entity (skip_sid aside,
 * pl_session_entity_sync). Nothing when the copy changed nothing. */
void pl_entity_writeback_done (pl_call_t *call, const pl_entity_wb_t *wb, const char *skip_sid);
void pl_entity_writeback_destroy (pl_entity_wb_t **wb);

/* ---- the pure parts (pl_entity_test) -------------------------------- */

typedef enum {
    PL_ENTITY_CREATE,
    PL_ENTITY_UPDATE,
    PL_ENTITY_DELETE
} pl_entity_op_t;

/* Longest room an event plan names; a longer user id gets no events. */
#define PL_ENTITY_ROOM_MAX  320
/* Most events one write sends (a held entity revealed while its holder is
 * hidden: 4). */
#define PL_ENTITY_PUBS_MAX  4
/* Most rooms one of them leaves out. */
#define PL_ENTITY_EXCEPT_MAX 3

typedef struct {
    pl_push_id_t push;
    bool id_only;                               /* payload: the id, not the entity */
    bool redacted;                              /* the entity, holder field null */
    char room[PL_ENTITY_ROOM_MAX];
    char except[PL_ENTITY_EXCEPT_MAX][PL_ENTITY_ROOM_MAX];  /* rooms left out  */
    int except_count;
} pl_entity_pub_t;

/* Who may see the holder of a held entity, for its events. */
typedef struct {
    bool hidden;                /* not every member may see the holder
                                   (hidden, or gone); false: no split     */
    const char *viewer;         /* a player member who may see it (its
                                   creator), or NULL                      */
    bool creator_sees;          /* the held entity's creator may see it   */
} pl_entity_holder_view_t;

/* The events a write sends (see above). campaign_id NULL: personal.
 * creator_member: the creator is still a member (campaign only).
 * was_hidden: before an update (ignored otherwise). holder: who may see
 * the entity's holder after the write, NULL (or not hidden) when all its
 * audience may. Returns how many of pubs it filled, or -1 when a room name
 * does not fit. */
int pl_entity_plan (const pl_entity_kind_t *kind, pl_entity_op_t op, const char *campaign_id,
                    const char *creator, bool creator_member, bool was_hidden, bool hidden,
                    const pl_entity_holder_view_t *holder,
                    pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX]);

/* Check a client's fields before they are merged: for create (old NULL) or
 * update of old. campaignId: a valid id or null, and unchanged on update;
 * hidden: a boolean; the holder field: null or an entity id. Returns NULL,
 * or what is wrong (a static string). */
const char *pl_entity_input_invalid (const pl_entity_kind_t *kind, const cJSON *old,
                                     const cJSON *fields);

/* Shallow-merge fields into entity, skipping the fields the server owns. A
 * key sent twice keeps its last value, as JSON.parse would. */
void pl_entity_merge (cJSON *entity, const cJSON *fields);
/* Set obj[key], replacing an existing value. Takes ownership of value.
 * (Also what the campaigns worker sets a campaign's fields with.) */
void pl_entity_set (cJSON *obj, const char *key, cJSON *value);

void pl_entity_test (bool verbose);

/* The two kinds (pl_entity_kinds.c): actors and items. */
extern const pl_entity_kind_t pl_entity_actor;
extern const pl_entity_kind_t pl_entity_item;

#endif
