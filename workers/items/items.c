/*  items - items, personal or in a campaign, optionally held by an actor:
 *  list, get, create, update, delete. Everything is pl_entity (storage,
 *  rules, events: pl_entity.h; an item's own field rules: pl_entity_kinds.c):
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
 *  item:list {actorId} lists the visible items that actor holds. To a
 *  caller who may not see the actor (a hidden one), the item's actorId
 *  reads null, in every read, ack, event and game-state copy.
 *
 *  Every handler runs on the worker loop (pl_worker.h).
 */
#include "items.h"

static void s_list   (pl_call_t *call, const cJSON *arg) { pl_entity_list (&pl_entity_item, call, arg); }
static void s_get    (pl_call_t *call, const cJSON *arg) { pl_entity_get (&pl_entity_item, call, arg); }
static void s_create (pl_call_t *call, const cJSON *arg) { pl_entity_create (&pl_entity_item, call, arg); }
static void s_update (pl_call_t *call, const cJSON *arg) { pl_entity_update (&pl_entity_item, call, arg); }
static void s_delete (pl_call_t *call, const cJSON *arg) { pl_entity_delete (&pl_entity_item, call, arg); }

const pl_handler_t pl_items_handlers[] = {
    { PL_EV_ITEM_LIST,   s_list },
    { PL_EV_ITEM_GET,    s_get },
    { PL_EV_ITEM_CREATE, s_create },
    { PL_EV_ITEM_UPDATE, s_update },
    { PL_EV_ITEM_DELETE, s_delete },
};
const size_t pl_items_handler_count = sizeof pl_items_handlers / sizeof pl_items_handlers[0];
