/*  pl_entity_kinds - the two kinds of campaign entity: their own field
 *  rules and events. The actors and items workers serve them, and the
 *  gamestate worker needs them too (a state copy written back to the store,
 *  pl_entity_writeback_*), so they live here rather than in either worker.
 */
#include "pl_entity.h"

#include <string.h>

/* An actor has a non-empty name and a type. */
static const char *
s_actor_invalid (const cJSON *actor)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (actor, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive (actor, "type");
    if (!cJSON_IsString (name) || !*name->valuestring)
        return "name must be a non-empty string";
    if (!cJSON_IsString (type))
        return "type must be a string";
    return NULL;
}

const pl_entity_kind_t pl_entity_actor = {
    .name = "actor",
    .created = PL_PUSH_ACTOR_CREATED,
    .updated = PL_PUSH_ACTOR_UPDATED,
    .deleted = PL_PUSH_ACTOR_DELETED,
    .invalid = s_actor_invalid,
    .held = "item",
    .held_field = "actorId",
    .held_updated = PL_PUSH_ITEM_UPDATED,
};

/* An item has a non-empty name; its type, when given, is a string. */
static const char *
s_item_invalid (const cJSON *item)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (item, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive (item, "type");
    if (!cJSON_IsString (name) || !*name->valuestring)
        return "name must be a non-empty string";
    if (type && !cJSON_IsString (type))
        return "type must be a string";
    return NULL;
}

const pl_entity_kind_t pl_entity_item = {
    .name = "item",
    .created = PL_PUSH_ITEM_CREATED,
    .updated = PL_PUSH_ITEM_UPDATED,
    .deleted = PL_PUSH_ITEM_DELETED,
    .invalid = s_item_invalid,
    .holder = "actor",
    .holder_field = "actorId",
};
