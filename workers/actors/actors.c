/*  actors - actors, personal or in a campaign: list, get, create, update,
 *  delete. Everything is pl_entity (storage, rules, events: pl_entity.h;
 *  an actor's own field rules: pl_entity_kinds.c):
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

static void s_list   (pl_call_t *call, const cJSON *arg) { pl_entity_list (&pl_entity_actor, call, arg); }
static void s_get    (pl_call_t *call, const cJSON *arg) { pl_entity_get (&pl_entity_actor, call, arg); }
static void s_create (pl_call_t *call, const cJSON *arg) { pl_entity_create (&pl_entity_actor, call, arg); }
static void s_update (pl_call_t *call, const cJSON *arg) { pl_entity_update (&pl_entity_actor, call, arg); }
static void s_delete (pl_call_t *call, const cJSON *arg) { pl_entity_delete (&pl_entity_actor, call, arg); }

const pl_handler_t pl_actors_handlers[] = {
    { PL_EV_ACTOR_LIST,   s_list },
    { PL_EV_ACTOR_GET,    s_get },
    { PL_EV_ACTOR_CREATE, s_create },
    { PL_EV_ACTOR_UPDATE, s_update },
    { PL_EV_ACTOR_DELETE, s_delete },
};
const size_t pl_actors_handler_count = sizeof pl_actors_handlers / sizeof pl_actors_handlers[0];
