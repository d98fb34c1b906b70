/*  pl_campaign - campaigns in Redis. See pl_campaign.h. */
#include "pl_campaign.h"
#include "pl_entity.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_txn.h"
#include "pl_wire.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fields the server owns, and the decorations answers add: a client's
 * values for them are ignored. */
static const char *const s_server_fields[] = { "id", "createdBy", "createdAt", "updatedAt",
                                               "role", "members", NULL };

void
pl_campaign_merge (cJSON *campaign, const cJSON *fields)
{
    pl_wire_merge (campaign, fields, s_server_fields);
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

/* ---- read ----------------------------------------------------------- */

/* The integer of a reply (ZCARD), 0 for anything else. */
static long long
s_integer (const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
}

/* Reply i of b, which b no longer owns. */
static redisReply *
s_take (pl_redis_batch_t *b, int i)
{
    redisReply *reply = b->reply[i];
    b->reply[i] = NULL;
    return reply;
}

int
pl_campaign_read (pl_call_t *call, const char *id, const char *target, unsigned what,
                  pl_campaign_read_t *r)
{
    pl_redis_batch_t b = { 0 };
    int rc = -1;
    memset (r, 0, sizeof *r);
    r->caller_id = pl_call_caller (call)->user;
    r->target_id = target;
    /* independent reads: one round trip */
    pl_redis_batch_add (&b, "HGETALL " PL_KEY_CAMPAIGN_MEMBERS, id);
    if (what & PL_CAMPAIGN_TEXT)
        pl_redis_batch_add (&b, "GET " PL_KEY_CAMPAIGN, id);
    if (what & PL_CAMPAIGN_SESSIONS)
        pl_redis_batch_add (&b, "SMEMBERS " PL_KEY_CAMPAIGN_SESSIONS, id);
    if (what & PL_CAMPAIGN_HOLDINGS) {
        pl_redis_batch_add (&b, "ZCARD " PL_KEY_CAMPAIGN_ENTITIES, id, pl_entity_actor.name);
        pl_redis_batch_add (&b, "ZCARD " PL_KEY_CAMPAIGN_ENTITIES, id, pl_entity_item.name);
    }
    if (!pl_call_batch (call, &b))
        goto cleanup;
    int i = 0;
    r->members = s_take (&b, i++);
    if (what & PL_CAMPAIGN_TEXT)
        r->text = s_take (&b, i++);
    if (what & PL_CAMPAIGN_SESSIONS)
        r->sessions = s_take (&b, i++);
    if (what & PL_CAMPAIGN_HOLDINGS) {
        r->actors = s_integer (b.reply[i++]);
        r->items = s_integer (b.reply[i++]);
    }
    for (size_t j = 0; r->members->type == REDIS_REPLY_ARRAY && j + 1 < r->members->elements;
         j += 2) {
        const char *uid = r->members->element[j]->str;
        pl_role_t role = pl_authz_role_parse (r->members->element[j + 1]->str);
        r->gms += role == PL_ROLE_GM;
        if (uid && strcmp (uid, r->caller_id) == 0)
            r->caller = role;
        if (uid && target && strcmp (uid, target) == 0)
            r->target = role;
    }
    rc = 0;
cleanup:
    pl_redis_batch_clear (&b);
    return rc;
}

void
pl_campaign_read_clear (pl_campaign_read_t *r)
{
    redisReply **replies[] = { &r->members, &r->text, &r->sessions };
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        if (*replies[i])
            freeReplyObject (*replies[i]);
        *replies[i] = NULL;
    }
}

cJSON *
pl_campaign_parse (pl_call_t *call, const char *id, const pl_campaign_read_t *r)
{
    assert (r->text);                       /* read with PL_CAMPAIGN_TEXT */
    if (r->text->type != REDIS_REPLY_STRING) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
        return NULL;
    }
    cJSON *campaign = cJSON_ParseWithLength (r->text->str, r->text->len);
    if (!cJSON_IsObject (campaign)) {
        pl_error (PL_KEY_CAMPAIGN " holds no valid campaign", id);
        pl_call_error (call, PL_ERR_INTERNAL, "stored campaign is corrupt");
        cJSON_Delete (campaign);
        campaign = NULL;
    }
    return campaign;
}

int
pl_campaign_gm_only (pl_call_t *call, const char *id, const pl_campaign_read_t *r)
{
    if (r->caller == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
        return -1;
    }
    if (r->caller != PL_ROLE_GM) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "only a GM of campaign %s may %s", id,
                       pl_call_name (call));
        return -1;
    }
    return 0;
}

/* ---- commit --------------------------------------------------------- */

void
pl_campaign_expect (pl_txn_t *txn, const char *id, const pl_campaign_read_t *r, unsigned what)
{
    bool target_seen = false;
    const redisReply *m = r->members;
    for (size_t i = 0; m && m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements; i += 2) {
        const char *uid = m->element[i]->str, *role = m->element[i + 1]->str;
        bool target = r->target_id && strcmp (uid, r->target_id) == 0;
        target_seen |= target;
        if ((what & PL_CAMPAIGN_EXPECT_MEMBERS)
        ||  ((what & PL_CAMPAIGN_EXPECT_GMS) && pl_authz_role_parse (role) == PL_ROLE_GM)
        ||  ((what & PL_CAMPAIGN_EXPECT_CALLER) && strcmp (uid, r->caller_id) == 0)
        ||  ((what & PL_CAMPAIGN_EXPECT_TARGET) && target))
            pl_txn_expect_field (txn, uid, role, PL_KEY_CAMPAIGN_MEMBERS, id);
    }
    /* not a member (yet): expect that too, or two adds could both decide
     * on a role they did not see */
    if ((what & PL_CAMPAIGN_EXPECT_TARGET) && r->target_id && !target_seen)
        pl_txn_expect_field (txn, r->target_id, NULL, PL_KEY_CAMPAIGN_MEMBERS, id);
    if (what & PL_CAMPAIGN_EXPECT_MEMBERS)
        pl_txn_expect_count (txn, PL_TXN_HASH, m && m->type == REDIS_REPLY_ARRAY
                                               ? (long long) m->elements / 2 : 0,
                             PL_KEY_CAMPAIGN_MEMBERS, id);
    if (what & PL_CAMPAIGN_EXPECT_TEXT) {
        assert (r->text);
        bool there = r->text->type == REDIS_REPLY_STRING;
        pl_txn_expect_value (txn, there ? r->text->str : NULL, there ? r->text->len : 0,
                             PL_KEY_CAMPAIGN, id);
    }
    if (what & PL_CAMPAIGN_EXPECT_SESSIONS) {
        const redisReply *s = r->sessions;
        assert (s);
        size_t n = s->type == REDIS_REPLY_ARRAY ? s->elements : 0;
        for (size_t i = 0; i < n; i++)
            pl_txn_expect_member (txn, s->element[i]->str, true, PL_KEY_CAMPAIGN_SESSIONS, id);
        pl_txn_expect_count (txn, PL_TXN_SET, (long long) n, PL_KEY_CAMPAIGN_SESSIONS, id);
    }
    if (what & PL_CAMPAIGN_EXPECT_EMPTY) {
        pl_txn_expect_count (txn, PL_TXN_ZSET, 0, PL_KEY_CAMPAIGN_ENTITIES, id,
                             pl_entity_actor.name);
        pl_txn_expect_count (txn, PL_TXN_ZSET, 0, PL_KEY_CAMPAIGN_ENTITIES, id,
                             pl_entity_item.name);
    }
}

int
pl_campaign_write_set (pl_call_t *call, pl_txn_t *txn, const cJSON *campaign, const char *id)
{
    int rc = -1;
    char *text = cJSON_PrintUnformatted (campaign);
    if (!text)
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
    else
    if (strlen (text) > PL_CAMPAIGN_MAX)
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "a campaign is at most %d bytes of JSON",
                       PL_CAMPAIGN_MAX);
    else {
        pl_txn_write (txn, "SET " PL_KEY_CAMPAIGN " %s", id, text);
        rc = 0;
    }
    free (text);
    return rc;
}

void
pl_campaign_write_delete (pl_txn_t *txn, const char *id, const pl_campaign_read_t *r)
{
    /* one key per write: pl_txn declares each write's first argument */
    pl_txn_write (txn, "DEL " PL_KEY_CAMPAIGN, id);
    pl_txn_write (txn, "DEL " PL_KEY_CAMPAIGN_MEMBERS, id);
    pl_txn_write (txn, "DEL " PL_KEY_CHAT_CAMPAIGN, id);
    pl_txn_write (txn, "DEL " PL_KEY_CAMPAIGN_RULES, id);     /* pl_rule.h */
    const redisReply *m = r->members;
    for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements; i += 2)
        pl_txn_write (txn, "ZREM " PL_KEY_USER_CAMPAIGNS " %s", m->element[i]->str, id);
    const redisReply *s = r->sessions;
    for (size_t i = 0; s->type == REDIS_REPLY_ARRAY && i < s->elements; i++) {
        const char *sid = s->element[i]->str;
        pl_txn_write (txn, "DEL " PL_KEY_SESSION, sid);
        pl_txn_write (txn, "DEL " PL_KEY_SESSION_STATE, sid);
        pl_txn_write (txn, "DEL " PL_KEY_SESSION_LOG, sid);
        pl_txn_write (txn, "DEL " PL_KEY_CHAT_SESSION, sid);
        pl_txn_write (txn, "DEL " PL_KEY_RULES_MARKS, "gameState", sid);
    }
    pl_txn_write (txn, "DEL " PL_KEY_CAMPAIGN_SESSIONS, id);
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
