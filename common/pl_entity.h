/*  pl_entity - campaign entities (actors, items...): the generic CRUD the
 *  entity workers are made of.
 *
 *  A kind (pl_entity_kind_t) names its keys, its pushes and its own field
 *  rules; pl_entity_list/get/create/update/delete are the whole handlers,
 *  so a worker is a kind descriptor plus a table of one-line handlers
 *  (workers/actors/actors.c, workers/items/items.c).
 *
 *  Storage (Redis), for a kind named K ("actor", "item"):
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
 *
 *  Writes: create is one Lua script that re-checks what the decision read
 *  (the caller's role, the holder's JSON) and answers STALE when it
 *  changed; update and delete are WATCH / MULTI / EXEC. Both retry a
 *  bounded number of times. The ack goes only after the write committed,
 *  and events only with a successful ack (pl_worker).
 *
 *  Deleting a holder (an actor) sets the holder field of everything it
 *  held to null (version + 1) in the same MULTI/EXEC, and sends their
 *  K:updated events as far as the per-call publish budget
 *  (PL_CALL_PUBLISH_MAX) allows; past it, the held entities are still
 *  updated but their events are left out (logged).
 *
 *  Sessions (pl_session.h, the dual update): after an update commits,
 *  every session state that embeds the entity (actors.<i> / items.<i>, by
 *  id) gets a "system" update that sets the copy to the stored entity;
 *  after a delete, the copies are removed, and the items a deleted actor
 *  held get their new copies (actorId null) the same way. The other way
 *  round, pl_entity_apply_copy writes a copy a GM changed in a state back
 *  to the store.
 *
 *  Every function here runs on the worker loop, inside a handler.
 */
#ifndef PL_ENTITY_H
#define PL_ENTITY_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "pl_authz.h"
#include "pl_worker.h"

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

/* The dual update, state -> store: a gameState:update changed copy (an
 * embedded actor or item, with its id) in a session of campaign_id. Write
 * it back as an update of the stored entity by the caller, under the rules
 * of K:update: the caller must see and may write the entity
 * (pl_authz_can_write with its role in the ENTITY's campaign; a personal
 * entity only when it created it), a campaign entity must be of
 * campaign_id (the sessions pl_session_entity_sync keeps in step), the
 * copy's fields are shallow-merged (server fields, and a campaignId that
 * differs, are refused or ignored as in K:update: so a key missing from
 * the copy stays; set it to null to clear it), and the result must be
 * valid. Then the usual K:updated (hidden rules and flips, the caller's
 * own connection included), and every session's copy becomes the stored
 * entity (pl_session_entity_sync, this session too).
 * A copy that changes no field writes nothing (its sessions are still
 * synced, e.g. to the stored version). A copy that may not be written -
 * no such entity, one of a campaign the caller cannot write, an invalid
 * result - is left alone and logged (info): the store is not touched.
 * The version written is the stored one + 1; when the copy carries that
 * very version (pl_entity_copy_stamp stamped it for the stored entity the
 * write-back finds), its updatedAt is the one written too (when it lies
 * between the stored updatedAt and now), so the copy and the store agree
 * and the sync changes nothing in this session. When the entity moved on
 * since the stamp, the write-back makes its own updatedAt and the sync
 * makes a "system" update of the copy: correct, one version more.
 * The call must be answered already (the update's ack went first), so no
 * failure here changes it. Returns 1 written, 0 unchanged, -1 skipped. */
int pl_entity_apply_copy (const pl_entity_kind_t *kind, pl_call_t *call, const char *campaign_id,
                          const cJSON *copy);

/* The dry run of pl_entity_apply_copy, for gameState:update's operations
 * builder inside its session commit: would the write-back of copy (as the
 * caller, campaign_id's session) write the stored entity, and with which
 * version and updatedAt? Reads the entity and what the decision needs,
 * WATCHing them (the caller's EXEC then fails when one changes, and the
 * commit is retried); writes, publishes and answers nothing, and leaves
 * the WATCHes open. The call must not be answered yet. Returns 1 with
 * *version and *updated_at, 0 when it would not write (no entity, not the
 * caller's to write, invalid, unchanged: logged at debug), -1 when Redis
 * failed (the call is answered INTERNAL). */
int pl_entity_copy_stamp (const pl_entity_kind_t *kind, pl_call_t *call, const char *campaign_id,
                          const cJSON *copy, double *version, double *updated_at);

/* ---- the pure parts (pl_entity_test) -------------------------------- */

typedef enum {
    PL_ENTITY_CREATE,
    PL_ENTITY_UPDATE,
    PL_ENTITY_DELETE
} pl_entity_op_t;

/* Longest room an event plan names; a longer user id gets no events. */
#define PL_ENTITY_ROOM_MAX  320
/* Most events one write sends (a hidden flip: 3). */
#define PL_ENTITY_PUBS_MAX  3

typedef struct {
    pl_push_id_t push;
    bool id_only;                               /* payload: the id, not the entity */
    char room[PL_ENTITY_ROOM_MAX];
    char except[2][PL_ENTITY_ROOM_MAX];         /* rooms left out              */
    int except_count;
} pl_entity_pub_t;

/* The events a write sends (see above). campaign_id NULL: personal.
 * creator_member: the creator is still a member (campaign only).
 * was_hidden: before an update (ignored otherwise). Returns how many of
 * pubs it filled, or -1 when a room name does not fit. */
int pl_entity_plan (const pl_entity_kind_t *kind, pl_entity_op_t op, const char *campaign_id,
                    const char *creator, bool creator_member, bool was_hidden, bool hidden,
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
