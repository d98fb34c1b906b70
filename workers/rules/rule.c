/*  rule - a campaign's declarative rules: rule:create, rule:list,
 *  rule:delete, rule:test (GMs only: a rule may hold hidden logic), and
 *  the bus handler that runs them when an actor, an item or a game state
 *  changes. What a rule is and how the runner applies it once per
 *  transition: domain/pl_rule.h.
 *
 *  Handlers and the bus handler run on the worker loop (pl_worker.h).
 */
#include "rules.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_rule.h"
#include "pl_txn.h"
#include "pl_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The campaign of a rule request, checked: its id, and the caller a GM of
 * it (the commit expects that role still). NULL when answered. */
static const char *
s_gm (pl_call_t *call, const cJSON *arg, const char *event)
{
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (arg, "campaignId");
    const char *id = NULL;
    pl_role_t role = PL_ROLE_NONE;
    if (!cJSON_IsObject (arg) || !cJSON_IsString (cid) || !pl_wire_id_valid (cid->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects {campaignId, ...} with "
                       "campaignId a valid id", event);
        goto cleanup;
    }
    if (pl_authz_role (call, cid->valuestring, pl_call_caller (call)->user, &role))
        goto cleanup;
    if (role != PL_ROLE_GM) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "%s: only a GM of campaign %s manages its rules",
                       event, cid->valuestring);
        goto cleanup;
    }
    id = cid->valuestring;
cleanup:
    return id;
}

/* rule:create {campaignId, name, on, when, then}. */
void
pl_rules_rule_create (pl_call_t *call, const cJSON *arg)
{
    char why[256], id[PL_ID_UUID_SIZE];
    pl_rule_t *rule = NULL;
    pl_txn_t *txn = NULL;
    char *text = NULL;
    redisReply *count = NULL;
    const char *user = pl_call_caller (call)->user;
    const char *cid = s_gm (call, arg, "rule:create");
    if (!cid)
        goto cleanup;
    if (!(rule = pl_rule_new (arg, why, sizeof why))) {
        pl_call_error (call, strcmp (why, "out of memory") ? PL_ERR_VALIDATION_ERROR
                                                           : PL_ERR_INTERNAL, "rule:create: %s", why);
        goto cleanup;
    }
    if (!(count = pl_call_command (call, "HLEN " PL_KEY_CAMPAIGN_RULES, cid)))
        goto cleanup;
    if (count->integer >= PL_RULE_PER_CAMPAIGN) {
        pl_call_error (call, PL_ERR_CONFLICT, "rule:create: campaign %s has %d rules already "
                       "(delete one first)", cid, PL_RULE_PER_CAMPAIGN);
        goto cleanup;
    }
    if (pl_id_uuid4 (id) != 0) {
        pl_call_error (call, PL_ERR_INTERNAL, "rule:create: no random id (getrandom failed)");
        goto cleanup;
    }
    if (!pl_rule_stamp (rule, id, cid, user, pl_id_wall_ms ())
    ||  !(text = cJSON_PrintUnformatted (pl_rule_json (rule))) || !(txn = pl_txn_new ())) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    /* still a GM, and still that many rules, as the commit lands */
    pl_txn_expect_field (txn, user, "gm", PL_KEY_CAMPAIGN_MEMBERS, cid);
    pl_txn_expect_count (txn, PL_TXN_HASH, count->integer, PL_KEY_CAMPAIGN_RULES, cid);
    pl_txn_write (txn, "HSET " PL_KEY_CAMPAIGN_RULES " %s %s", cid, id, text);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;                       /* answered, or run again */
    pl_info ("rule:create by %s: rule %s in campaign %s", user, id, cid);
    pl_call_ok (call, cJSON_Duplicate (pl_rule_json (rule), true));
cleanup:
    if (count)
        freeReplyObject (count);
    pl_txn_destroy (&txn);
    pl_rule_destroy (&rule);
    free (text);
}

/* rule:list {campaignId}. */
void
pl_rules_rule_list (pl_call_t *call, const cJSON *arg)
{
    pl_rule_t **rules = NULL;
    size_t count = 0;
    const char *cid = s_gm (call, arg, "rule:list");
    if (!cid || pl_rule_list (call, cid, PL_RULE_ON_COUNT, &rules, &count))
        goto cleanup;
    cJSON *list = cJSON_CreateArray ();
    for (size_t i = 0; list && i < count; i++)
        cJSON_AddItemToArray (list, cJSON_Duplicate (pl_rule_json (rules[i]), true));
    pl_call_ok (call, list);
cleanup:
    pl_rule_list_free (&rules, &count);
}

/* rule:delete {campaignId, id}. */
void
pl_rules_rule_delete (pl_call_t *call, const cJSON *arg)
{
    pl_txn_t *txn = NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (arg, "id");
    const char *cid = s_gm (call, arg, "rule:delete");
    if (!cid)
        goto cleanup;
    if (!cJSON_IsString (id) || !pl_wire_id_valid (id->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "rule:delete expects {campaignId, id} "
                       "with id a valid id");
        goto cleanup;
    }
    if (!(txn = pl_txn_new ())) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    pl_txn_expect_field (txn, pl_call_caller (call)->user, "gm", PL_KEY_CAMPAIGN_MEMBERS, cid);
    pl_txn_write (txn, "HDEL " PL_KEY_CAMPAIGN_RULES " %s", cid, id->valuestring);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;
    const redisReply *deleted = pl_txn_result (txn, 0);
    if (!deleted || deleted->integer != 1) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "rule:delete: no rule %s in campaign %s",
                       id->valuestring, cid);
        goto cleanup;
    }
    pl_info ("rule:delete by %s: rule %s of campaign %s", pl_call_caller (call)->user,
             id->valuestring, cid);
    pl_call_ok (call, NULL);
cleanup:
    pl_txn_destroy (&txn);
}

/* rule:test {campaignId, rule, entity}. */
void
pl_rules_rule_test (pl_call_t *call, const cJSON *arg)
{
    char why[256];
    pl_rule_t *rule = NULL;
    cJSON *result = NULL;
    const cJSON *entity = cJSON_GetObjectItemCaseSensitive (arg, "entity");
    const char *cid = s_gm (call, arg, "rule:test");
    if (!cid)
        goto cleanup;
    if (!(rule = pl_rule_new (cJSON_GetObjectItemCaseSensitive (arg, "rule"), why, sizeof why))) {
        pl_call_error (call, strcmp (why, "out of memory") ? PL_ERR_VALIDATION_ERROR
                                                           : PL_ERR_INTERNAL, "rule:test: %s", why);
        goto cleanup;
    }
    if (!cJSON_IsObject (entity)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "rule:test: entity must be an object");
        goto cleanup;
    }
    int when = pl_rule_when (rule, entity);
    if (when == 1 && !(result = pl_rule_apply (rule, entity, why, sizeof why))) {
        pl_call_error (call, strcmp (why, "out of memory") ? PL_ERR_VALIDATION_ERROR
                                                           : PL_ERR_INTERNAL,
                       "rule:test: it fires, but its then does not apply: %s", why);
        goto cleanup;
    }
    cJSON *data = cJSON_CreateObject ();
    if (data) {
        cJSON_AddBoolToObject (data, "fires", when == 1);
        cJSON_AddItemToObject (data, "operations", cJSON_Duplicate (pl_rule_then (rule), true));
        cJSON_AddItemToObject (data, "result", result ? result : cJSON_CreateNull ());
        result = NULL;
    }
    pl_call_ok (call, data);
cleanup:
    cJSON_Delete (result);
    pl_rule_destroy (&rule);
}

/* A string member that is a valid id, or NULL. */
static const char *
s_id (const cJSON *obj, const char *key)
{
    const cJSON *item = key ? cJSON_GetObjectItemCaseSensitive (obj, key) : obj;
    return cJSON_IsString (item) && pl_wire_id_valid (item->valuestring) ? item->valuestring : NULL;
}

/* The bus: what changed runs the campaign's rules (pl_rule_run). Runs on
 * the worker loop, as a call that answers nobody. */
void
pl_rules_heard (pl_call_t *call, const char *room, pl_push_id_t push, const cJSON *payload)
{
    (void) room;
    pl_rule_on_t on = PL_RULE_ON_COUNT;
    const char *id = NULL;
    switch (push) {
        case PL_PUSH_ACTOR_CREATED:
        case PL_PUSH_ACTOR_UPDATED:
            on = PL_RULE_ON_ACTOR;
            id = s_id (payload, "id");
            break;
        case PL_PUSH_ITEM_CREATED:
        case PL_PUSH_ITEM_UPDATED:
            on = PL_RULE_ON_ITEM;
            id = s_id (payload, "id");
            break;
        case PL_PUSH_GAME_STATE_UPDATED:
            on = PL_RULE_ON_STATE;
            id = s_id (payload, "sessionId");
            break;
        case PL_PUSH_GAME_SESSION_CREATED:
            on = PL_RULE_ON_STATE;          /* its state at version 0 */
            id = s_id (payload, "id");
            break;
        case PL_PUSH_ACTOR_DELETED:
        case PL_PUSH_ITEM_DELETED:
            if ((id = s_id (payload, NULL)))
                pl_rule_forget (call, push == PL_PUSH_ACTOR_DELETED ? PL_RULE_ON_ACTOR
                                                                     : PL_RULE_ON_ITEM, id);
            id = NULL;                      /* forgotten: nothing to run */
            break;
        default:
            break;                          /* not a change rules watch */
    }
    if (id)
        pl_rule_run (call, on, id);
}
