/*  actors - actors, personal or in a campaign: list, get, create, update,
 *  delete. Everything but the actor's own fields is pl_entity (storage,
 *  rules, events: see pl_entity.h):
 *
 *    pl:actor:<id>                  the actor, JSON text
 *    pl:user:<uid>:actors           zset: uid's personal actors, score createdAt
 *    pl:campaign:<cid>:actors       zset: the campaign's actors
 *    pl:user:<uid>:campaign-actors  zset: the campaign actors uid created
 *    pl:actor:<id>:items            zset: the items it holds (items worker);
 *                                   deleting the actor sets their actorId
 *                                   to null in the same transaction
 *
 *  Every handler runs on the worker loop (pl_worker.h).
 */
#include "actors.h"
#include "pl_entity.h"

#include <string.h>

/* An actor has a non-empty name and a type. */
static const char *
s_invalid (const cJSON *actor)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (actor, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive (actor, "type");
    if (!cJSON_IsString (name) || !*name->valuestring)
        return "name must be a non-empty string";
    if (!cJSON_IsString (type))
        return "type must be a string";
    return NULL;
}

const pl_entity_kind_t pl_actors_kind = {
    .name = "actor",
    .created = PL_PUSH_ACTOR_CREATED,
    .updated = PL_PUSH_ACTOR_UPDATED,
    .deleted = PL_PUSH_ACTOR_DELETED,
    .invalid = s_invalid,
    .held = "item",
    .held_field = "actorId",
    .held_updated = PL_PUSH_ITEM_UPDATED,
};

static void s_list   (pl_call_t *call, const cJSON *arg) { pl_entity_list (&pl_actors_kind, call, arg); }
static void s_get    (pl_call_t *call, const cJSON *arg) { pl_entity_get (&pl_actors_kind, call, arg); }
static void s_create (pl_call_t *call, const cJSON *arg) { pl_entity_create (&pl_actors_kind, call, arg); }
static void s_update (pl_call_t *call, const cJSON *arg) { pl_entity_update (&pl_actors_kind, call, arg); }
static void s_delete (pl_call_t *call, const cJSON *arg) { pl_entity_delete (&pl_actors_kind, call, arg); }

const pl_handler_t pl_actors_handlers[] = {
    { PL_EV_ACTOR_LIST,   s_list },
    { PL_EV_ACTOR_GET,    s_get },
    { PL_EV_ACTOR_CREATE, s_create },
    { PL_EV_ACTOR_UPDATE, s_update },
    { PL_EV_ACTOR_DELETE, s_delete },
};
const size_t pl_actors_handler_count = sizeof pl_actors_handlers / sizeof pl_actors_handlers[0];
