/*  pl_campaign - campaigns in Redis. See pl_campaign.h. */
#include "pl_campaign.h"
#include "pl_entity.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_wire.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fields the server owns, and the decorations answers add: a client's
 * values for them are ignored. */
static const char *s_server_fields[] = { "id", "createdBy", "createdAt", "updatedAt",
                                         "role", "members" };

static bool
s_is_server_field (const char *key)
{
    for (size_t i = 0; i < sizeof s_server_fields / sizeof s_server_fields[0]; i++)
        if (strcmp (key, s_server_fields[i]) == 0)
            return true;
    return false;
}

void
pl_campaign_merge (cJSON *campaign, const cJSON *fields)
{
    const cJSON *item;
    cJSON_ArrayForEach (item, fields)
        if (!s_is_server_field (item->string))
            pl_entity_set (campaign, item->string, cJSON_Duplicate (item, true));
}

const char *
pl_campaign_invalid (const cJSON *campaign)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (campaign, "name");
    if (!cJSON_IsString (name) || !*name->valuestring)
        return "name must be a non-empty string";
    if (pl_wire_code_points (name->valuestring) > PL_CAMPAIGN_NAME_MAX)
        return "name must be at most 200 characters";  /* PL_CAMPAIGN_NAME_MAX */
    return NULL;
}

cJSON *
pl_campaign_load (pl_call_t *call, const char *id, bool *missing)
{
    cJSON *campaign = NULL;
    *missing = false;
    redisReply *reply = pl_call_command (call, "GET " PL_KEY_CAMPAIGN, id);
    if (!reply)
        goto cleanup;
    if (reply->type != REDIS_REPLY_STRING) {
        *missing = true;
        goto cleanup;
    }
    campaign = cJSON_ParseWithLength (reply->str, reply->len);
    if (!cJSON_IsObject (campaign)) {
        pl_error (PL_KEY_CAMPAIGN " holds no valid campaign", id);
        pl_call_error (call, PL_ERR_INTERNAL, "stored campaign is corrupt");
        cJSON_Delete (campaign);
        campaign = NULL;
    }
cleanup:
    if (reply)
        freeReplyObject (reply);
    return campaign;
}

int
pl_campaign_members (pl_call_t *call, const char *id, const char *target,
                     pl_campaign_members_t *m)
{
    const char *user = pl_call_caller (call)->user;
    memset (m, 0, sizeof *m);
    m->reply = pl_call_command (call, "HGETALL " PL_KEY_CAMPAIGN_MEMBERS, id);
    if (!m->reply)
        return -1;
    for (size_t i = 0; m->reply->type == REDIS_REPLY_ARRAY && i + 1 < m->reply->elements; i += 2) {
        const char *uid = m->reply->element[i]->str;
        pl_role_t role = pl_authz_role_parse (m->reply->element[i + 1]->str);
        m->gms += role == PL_ROLE_GM;
        if (uid && strcmp (uid, user) == 0)
            m->caller = role;
        if (uid && target && strcmp (uid, target) == 0)
            m->target = role;
    }
    return 0;
}

void
pl_campaign_members_clear (pl_campaign_members_t *m)
{
    if (m->reply)
        freeReplyObject (m->reply);
    m->reply = NULL;
}

int
pl_campaign_gm_only (pl_call_t *call, const char *id, const pl_campaign_members_t *m)
{
    if (m->caller == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
        return -1;
    }
    if (m->caller != PL_ROLE_GM) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "only a GM of campaign %s may %s", id,
                       pl_proto_event (pl_call_event (call))->name);
        return -1;
    }
    return 0;
}

int
pl_campaign_queue_set (pl_call_t *call, const cJSON *campaign, const char *id)
{
    int rc = -1;
    char *text = cJSON_PrintUnformatted (campaign);
    if (!text)
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
    else
    if (strlen (text) > PL_CAMPAIGN_MAX)
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "a campaign is at most %d bytes of JSON",
                       PL_CAMPAIGN_MAX);
    else
    if (pl_call_run (call, "SET " PL_KEY_CAMPAIGN " %s", id, text))
        rc = 0;
    free (text);
    return rc;
}

/* KEYS[1] = pl:user:<uid>:campaigns; ARGV[1] = uid. Each campaign and the
 * user's role in it, flat, in join order; stale index entries skipped. */
PL_REDIS_SCRIPT (s_list_lua,
    "local out = {}\n"
    "for _, id in ipairs (redis.call ('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local c = redis.call ('GET', " PL_LUA_KEY_CAMPAIGN ("id") ")\n"
    "  local r = redis.call ('HGET', " PL_LUA_KEY_CAMPAIGN_MEMBERS ("id") ", ARGV[1])\n"
    "  if c and r then out[#out + 1] = c; out[#out + 1] = r end\n"
    "end\n"
    "return out\n");


cJSON *
pl_campaign_list (pl_call_t *call, const char *user)
{
    char key[PL_WIRE_ID_MAX + 32];
    snprintf (key, sizeof key, PL_KEY_USER_CAMPAIGNS, user);
    const char *argv[] = { key, user };
    cJSON *list = NULL;
    redisReply *reply = pl_call_script (call, &s_list_lua, 1, 2, argv, NULL);
    if (!reply)
        goto cleanup;
    list = cJSON_CreateArray ();
    for (size_t i = 0; list && reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2) {
        redisReply *c = reply->element[i], *r = reply->element[i + 1];
        cJSON *campaign = c->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength (c->str, c->len)
                                                        : NULL;
        if (!cJSON_IsObject (campaign) || r->type != REDIS_REPLY_STRING) {
            cJSON_Delete (campaign);
            continue;
        }
        cJSON_AddStringToObject (campaign, "role", r->str);
        cJSON_AddItemToArray (list, campaign);
    }
    if (!list)
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
cleanup:
    if (reply)
        freeReplyObject (reply);
    return list;
}

int
pl_campaign_holds (pl_call_t *call, const char *id, const pl_entity_kind_t *kind, bool *exists)
{
    redisReply *reply = pl_call_command (call, "EXISTS " PL_KEY_CAMPAIGN_ENTITIES, id, kind->name);
    if (!reply)
        return -1;
    *exists = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    freeReplyObject (reply);
    return 0;
}

void
pl_campaign_test (bool verbose)
{
    if (verbose)
        printf (" * pl_campaign: ");
    /* merge: the client's fields, never the server's nor the decorations */
    cJSON *campaign = cJSON_Parse ("{\"id\":\"c1\",\"name\":\"Old\",\"createdBy\":\"gm\"}");
    cJSON *fields = cJSON_Parse ("{\"id\":\"x\",\"name\":\"New\",\"createdBy\":\"x\","
                                 "\"createdAt\":1,\"updatedAt\":1,\"role\":\"gm\","
                                 "\"members\":[],\"setting\":\"moon\"}");
    pl_campaign_merge (campaign, fields);
    cJSON *want = cJSON_Parse ("{\"id\":\"c1\",\"name\":\"New\",\"createdBy\":\"gm\","
                               "\"setting\":\"moon\"}");
    assert (cJSON_Compare (campaign, want, true));
    assert (!pl_campaign_invalid (campaign));
    cJSON_Delete (want);
    cJSON_Delete (fields);

    /* the name: a non-empty string of at most PL_CAMPAIGN_NAME_MAX code points */
    char name[4 * PL_CAMPAIGN_NAME_MAX + 8] = "";
    for (int i = 0; i < PL_CAMPAIGN_NAME_MAX; i++)
        strcat (name, "\xc3\xa9");                  /* 2 bytes, 1 character */
    cJSON_ReplaceItemInObject (campaign, "name", cJSON_CreateString (name));
    assert (!pl_campaign_invalid (campaign));
    strcat (name, "a");
    cJSON_ReplaceItemInObject (campaign, "name", cJSON_CreateString (name));
    assert (pl_campaign_invalid (campaign));
    cJSON_ReplaceItemInObject (campaign, "name", cJSON_CreateString (""));
    assert (pl_campaign_invalid (campaign));
    cJSON_ReplaceItemInObject (campaign, "name", cJSON_CreateNumber (7));
    assert (pl_campaign_invalid (campaign));
    cJSON_Delete (campaign);
    if (verbose)
        printf ("OK\n");
}
