/*  items - items, personal or in a campaign, optionally held by an actor:
 *  list, get, create, update, delete. Everything but the item's own fields
 *  is pl_entity (storage, rules, events: see pl_entity.h):
 *
 *    pl:item:<id>                   the item, JSON text
 *    pl:user:<uid>:items            zset: uid's personal items, score createdAt
 *    pl:campaign:<cid>:items        zset: the campaign's items
 *    pl:user:<uid>:campaign-items   zset: the campaign items uid created
 *    pl:actor:<aid>:items           zset: the items actor aid holds, kept in
 *                                   the same write as the item's actorId
 *
 *  actorId must name an actor the caller may see, in the item's campaign
 *  (a personal item: one of the caller's personal actors); otherwise
 *  NOT_FOUND (not visible) or VALIDATION_ERROR (another campaign).
 *  item:list {actorId} lists the visible items that actor holds.
 *
 *  Every handler runs on the worker loop (pl_worker.h).
 */
#include "items.h"

/* An item has a non-empty name; its type, when given, is a string. */
static const char *
s_invalid (const cJSON *item)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (item, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive (item, "type");
    if (!cJSON_IsString (name) || !*name->valuestring)
        return "name must be a non-empty string";
    if (type && !cJSON_IsString (type))
        return "type must be a string";
    return NULL;
}

const pl_entity_kind_t pl_items_kind = {
    .name = "item",
    .created = PL_PUSH_ITEM_CREATED,
    .updated = PL_PUSH_ITEM_UPDATED,
    .deleted = PL_PUSH_ITEM_DELETED,
    .invalid = s_invalid,
    .holder = "actor",
    .holder_field = "actorId",
};

static void s_list   (pl_call_t *call, const cJSON *arg) { pl_entity_list (&pl_items_kind, call, arg); }
static void s_get    (pl_call_t *call, const cJSON *arg) { pl_entity_get (&pl_items_kind, call, arg); }
static void s_create (pl_call_t *call, const cJSON *arg) { pl_entity_create (&pl_items_kind, call, arg); }
static void s_update (pl_call_t *call, const cJSON *arg) { pl_entity_update (&pl_items_kind, call, arg); }
static void s_delete (pl_call_t *call, const cJSON *arg) { pl_entity_delete (&pl_items_kind, call, arg); }

const pl_handler_t pl_items_handlers[] = {
    { PL_EV_ITEM_LIST,   s_list },
    { PL_EV_ITEM_GET,    s_get },
    { PL_EV_ITEM_CREATE, s_create },
    { PL_EV_ITEM_UPDATE, s_update },
    { PL_EV_ITEM_DELETE, s_delete },
};
const size_t pl_items_handler_count = sizeof pl_items_handlers / sizeof pl_items_handlers[0];
