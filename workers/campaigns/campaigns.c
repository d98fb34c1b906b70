/*  campaigns - campaigns and their members: create, list, get, update,
 *  delete, addMember, removeMember.
 *
 *  Storage: the campaign, its members and each user's index of campaigns,
 *  read, checked and queued by domain/pl_campaign.h (key formats in
 *  domain/pl_keys.h); this file is the handlers and their transactions.
 *  It reads (deleting a campaign) pl:campaign:<id>:actors / :items (the
 *  actors and items workers' indexes) and pl:campaign:<id>:sessions, and
 *  clears the campaign's chat (pl:chat:campaign:<id>) and presence
 *  (pl_presence.h).
 *
 *  Rules: the creator is the first GM; members see a campaign, anyone else
 *  gets NOT_FOUND; changing it (update, delete, members) is for GMs, a
 *  player gets FORBIDDEN; a campaign always keeps one GM (CONFLICT).
 *
 *  Writes are optimistic transactions (WATCH what the decision read, MULTI
 *  ... EXEC, start over when EXEC is nil), so two GMs demoting each other
 *  at once cannot leave the campaign without one. The ack and the pushes go
 *  only after EXEC confirmed the write.
 *
 *  A removed member loses access at once: the write commits, then their
 *  connections get campaign:memberRemoved and are evicted from the
 *  campaign's rooms (the push is published before the eviction, and the
 *  bus keeps one publisher's order), and their presence there ends. A
 *  demoted GM is evicted from campaign:<id>:gm; a promoted player's
 *  connections in campaign:<id> are granted it (pl_call_grant).
 *
 *  Every handler runs on the worker loop (pl_worker.h); a NULL from
 *  pl_call_command / false from pl_call_run means the runtime has already
 *  answered INTERNAL, so the handler just cleans up.
 */
#include "campaigns.h"
#include "pl_authz.h"
#include "pl_campaign.h"
#include "pl_entity.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_presence.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Optimistic transaction attempts; see workers/actors/actors.c. */
#define S_ATTEMPTS      32
/* removeMember: events besides the session evictions (2 memberRemoved, 2
 * evictions, 1 presence:left); the rest of PL_CALL_PUBLISH_MAX is for the
 * campaign's sessions. Past it a session room eviction is dropped with an
 * error log (sessions per campaign are few; the game-state issue bounds
 * them). */
#define S_REMOVE_FIXED  5

/* A campaign id (the argument, or a field of it). Returns it, or NULL after
 * answering VALIDATION_ERROR. */
static const char *
s_id (pl_call_t *call, const cJSON *item, const char *what)
{
    if (!cJSON_IsString (item) || !pl_wire_id_valid (item->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "%s: %s must be a campaign id (1 to %d of A-Z a-z 0-9 _ . -)",
                       pl_proto_event (pl_call_event (call))->name, what, PL_WIRE_ID_MAX);
        return NULL;
    }
    return item->valuestring;
}

/* {campaignId, userId, role, campaign}: the campaign:memberAdded payload. */
static cJSON *
s_member_added (const char *id, const char *user, const char *role, const cJSON *campaign)
{
    cJSON *payload = cJSON_CreateObject ();
    cJSON_AddStringToObject (payload, "campaignId", id);
    cJSON_AddStringToObject (payload, "userId", user);
    cJSON_AddStringToObject (payload, "role", role);
    cJSON_AddItemToObject (payload, "campaign", cJSON_Duplicate (campaign, true));
    return payload;
}

/* -------------------------------------------------------------------- */

static void
s_create (pl_call_t *call, const cJSON *arg)
{
    cJSON *campaign = NULL;
    const char *user = pl_call_caller (call)->user;
    char id[PL_ID_UUID_SIZE], room[PL_WIRE_ROOM_MAX + 8];
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "campaign:create expects an object {name}");
        goto cleanup;
    }
    campaign = cJSON_CreateObject ();
    pl_campaign_merge (campaign, arg);
    const char *why = pl_campaign_invalid (campaign);
    if (why) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s", why);
        goto cleanup;
    }
    if (pl_id_uuid4 (id) != 0) {
        pl_call_error (call, PL_ERR_INTERNAL, "no random id");
        goto cleanup;
    }
    double now = (double) pl_id_wall_ms ();
    pl_entity_set (campaign, "id", cJSON_CreateString (id));
    pl_entity_set (campaign, "createdBy", cJSON_CreateString (user));
    pl_entity_set (campaign, "createdAt", cJSON_CreateNumber (now));
    pl_entity_set (campaign, "updatedAt", cJSON_CreateNumber (now));
    /* a new id: nothing to WATCH */
    if (!pl_call_run (call, "MULTI") || pl_campaign_queue_set (call, campaign, id) != 0
    ||  !pl_call_run (call, "HSET " PL_KEY_CAMPAIGN_MEMBERS " %s gm", id, user)
    ||  !pl_call_run (call, "ZADD " PL_KEY_USER_CAMPAIGNS " %.0f %s", user, now, id)
    ||  pl_call_exec (call) != 1) {
        if (!pl_call_answered (call))
            pl_call_error (call, PL_ERR_INTERNAL, "storage error");
        goto cleanup;
    }
    snprintf (room, sizeof room, "user:%s", user);
    pl_call_publish (call, room, PL_PUSH_CAMPAIGN_MEMBER_ADDED,
                     s_member_added (id, user, "gm", campaign), true);
    cJSON_AddStringToObject (campaign, "role", "gm");
    pl_call_ok (call, campaign);
    campaign = NULL;
cleanup:
    cJSON_Delete (campaign);
}

static void
s_list (pl_call_t *call, const cJSON *arg)
{
    (void) arg;                             /* takes none; ignores any */
    cJSON *list = pl_campaign_list (call, pl_call_caller (call)->user);
    if (list)
        pl_call_ok (call, list);
}

static void
s_get (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_members_t m = { 0 };
    cJSON *campaign = NULL, **rows = NULL;
    bool missing;
    const char *id = s_id (call, arg, "the argument");
    if (!id || pl_campaign_members (call, id, NULL, &m) != 0)
        goto cleanup;
    if (m.caller == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
        goto cleanup;
    }
    campaign = pl_campaign_load (call, id, &missing);
    if (!campaign) {
        if (missing)
            pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
        goto cleanup;
    }
    size_t n = m.reply->elements / 2;
    rows = calloc (n + 1, sizeof *rows);
    cJSON *members = cJSON_CreateArray ();
    if (!rows || !members) {
        cJSON_Delete (members);
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = cJSON_CreateObject ();
        cJSON_AddStringToObject (rows[i], "userId", m.reply->element[2 * i]->str);
        cJSON_AddStringToObject (rows[i], "role", m.reply->element[2 * i + 1]->str);
    }
    qsort (rows, n, sizeof *rows, pl_presence_by_user);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray (members, rows[i]);
    cJSON_AddStringToObject (campaign, "role", pl_authz_role_name (m.caller));
    cJSON_AddItemToObject (campaign, "members", members);
    pl_call_ok (call, campaign);
    campaign = NULL;
cleanup:
    free (rows);
    cJSON_Delete (campaign);
    pl_campaign_members_clear (&m);
}

static void
s_update (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_members_t m = { 0 };
    cJSON *campaign = NULL;
    char room[PL_WIRE_ROOM_MAX + 8];
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "campaign:update expects {id, ...fields}");
        goto cleanup;
    }
    const char *id = s_id (call, cJSON_GetObjectItemCaseSensitive (arg, "id"), "id");
    if (!id)
        goto cleanup;
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        bool missing;
        pl_campaign_members_clear (&m);
        cJSON_Delete (campaign);
        campaign = NULL;
        if (!pl_call_run (call, "WATCH " PL_KEY_CAMPAIGN " " PL_KEY_CAMPAIGN_MEMBERS, id, id)
        ||  pl_campaign_members (call, id, NULL, &m) != 0
        ||  pl_campaign_gm_only (call, id, &m) != 0)
            goto cleanup;
        campaign = pl_campaign_load (call, id, &missing);
        if (!campaign) {
            if (missing)
                pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
            goto cleanup;
        }
        pl_campaign_merge (campaign, arg);
        const char *why = pl_campaign_invalid (campaign);
        if (why) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s", why);
            goto cleanup;
        }
        pl_entity_set (campaign, "updatedAt", cJSON_CreateNumber ((double) pl_id_wall_ms ()));
        if (!pl_call_run (call, "MULTI") || pl_campaign_queue_set (call, campaign, id) != 0)
            goto cleanup;
        int rc = pl_call_exec (call);
        if (rc < 0)
            goto cleanup;
        if (rc == 1) {
            snprintf (room, sizeof room, "campaign:%s", id);
            pl_call_publish (call, room, PL_PUSH_CAMPAIGN_UPDATED,
                             cJSON_Duplicate (campaign, true), true);
            pl_call_ok (call, campaign);
            campaign = NULL;
            goto cleanup;
        }
    }
    pl_call_error (call, PL_ERR_INTERNAL, "campaign %s is too busy; try again", id);
cleanup:
    cJSON_Delete (campaign);
    pl_campaign_members_clear (&m);
}

static void
s_delete (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_members_t m = { 0 };
    redisReply *sessions = NULL;
    char room[PL_WIRE_ROOM_MAX + 8], gm[PL_WIRE_ROOM_MAX + 8];
    const char *id = s_id (call, arg, "the argument");
    if (!id)
        goto cleanup;
    bool done = false;
    for (int attempt = 0; attempt < S_ATTEMPTS && !done; attempt++) {
        bool actors, items;
        pl_campaign_members_clear (&m);
        if (sessions)
            freeReplyObject (sessions);
        sessions = NULL;
        if (!pl_call_run (call, "WATCH " PL_KEY_CAMPAIGN " " PL_KEY_CAMPAIGN_MEMBERS " "
                          PL_KEY_CAMPAIGN_ENTITIES " " PL_KEY_CAMPAIGN_ENTITIES " "
                          PL_KEY_CAMPAIGN_SESSIONS, id, id, id, pl_entity_actor.name,
                          id, pl_entity_item.name, id)
        ||  pl_campaign_members (call, id, NULL, &m) != 0
        ||  pl_campaign_gm_only (call, id, &m) != 0
        ||  pl_campaign_holds (call, id, &pl_entity_actor, &actors) != 0
        ||  pl_campaign_holds (call, id, &pl_entity_item, &items) != 0)
            goto cleanup;
        if (actors || items) {
            pl_call_error (call, PL_ERR_CONFLICT, "campaign %s still holds %s; delete them first",
                           id, actors && items ? "actors and items" : actors ? "actors" : "items");
            goto cleanup;
        }
        sessions = pl_call_command (call, "SMEMBERS " PL_KEY_CAMPAIGN_SESSIONS, id);
        if (!sessions || !pl_call_run (call, "MULTI")
        ||  !pl_call_run (call, "DEL " PL_KEY_CAMPAIGN " " PL_KEY_CAMPAIGN_MEMBERS " "
                          PL_KEY_CHAT_CAMPAIGN, id, id, id))
            goto cleanup;
        for (size_t i = 0; i + 1 < m.reply->elements; i += 2)
            if (!pl_call_run (call, "ZREM " PL_KEY_USER_CAMPAIGNS " %s", m.reply->element[i]->str, id))
                goto cleanup;
        /* its game sessions go with it (pl_session.h has the keys; update
         * id records expire by themselves) */
        for (size_t i = 0; sessions->type == REDIS_REPLY_ARRAY && i < sessions->elements; i++) {
            const char *sid = sessions->element[i]->str;
            if (!pl_call_run (call, "DEL " PL_KEY_SESSION " " PL_KEY_SESSION_STATE " "
                              PL_KEY_SESSION_LOG " " PL_KEY_CHAT_SESSION, sid, sid, sid, sid))
                goto cleanup;
        }
        if (!pl_call_run (call, "DEL " PL_KEY_CAMPAIGN_SESSIONS, id))
            goto cleanup;
        int rc = pl_call_exec (call);
        if (rc < 0)
            goto cleanup;
        done = rc == 1;
    }
    if (!done) {
        pl_call_error (call, PL_ERR_INTERNAL, "campaign %s is too busy; try again", id);
        goto cleanup;
    }
    /* committed: from here nothing may turn into an error answer that
     * drops the push and the evictions (a retry would find no campaign) */
    pl_call_commit (call);
    snprintf (room, sizeof room, "campaign:%s", id);
    snprintf (gm, sizeof gm, "campaign:%s:gm", id);
    cJSON *payload = cJSON_CreateObject ();
    cJSON_AddStringToObject (payload, "id", id);
    pl_call_publish (call, room, PL_PUSH_CAMPAIGN_DELETED, payload, true);
    /* the GM room first: evicting from campaign:<id> empties the audience */
    pl_call_evict (call, room, gm);
    pl_call_evict (call, room, room);
    /* the campaign's rooms are gone: forget who was in them, silently
     * (everyone is evicted). Best effort: a failure only leaves stale
     * presence records of rooms nobody can join again, until their
     * connections close (presence:drop). */
    size_t nsess = sessions->type == REDIS_REPLY_ARRAY ? sessions->elements : 0;
    const char **rooms = calloc (nsess + 1, sizeof *rooms);
    char **owned = calloc (nsess + 1, sizeof *owned);
    if (rooms && owned) {
        rooms[0] = room;
        for (size_t i = 0; i < nsess; i++)
            if (asprintf (&owned[i], "session:%s", sessions->element[i]->str) > 0)
                rooms[i + 1] = owned[i];
            else {
                owned[i] = NULL;
                rooms[i + 1] = room;
            }
        for (size_t i = 0; i < nsess; i++) {
            if (!owned[i])
                pl_error ("campaign:delete %s: out of memory; session %s not evicted",
                          id, sessions->element[i]->str);
            else
            if (3 + i >= PL_CALL_PUBLISH_MAX)
                pl_error ("campaign:delete %s: too many sessions; %s not evicted", id, owned[i]);
            else
                pl_call_evict (call, owned[i], owned[i]);
        }
        if (pl_presence_forget_rooms (call, rooms, nsess + 1) != 0)
            pl_warn ("campaign:delete %s: its presence records were not forgotten", id);
    }
    else
        pl_error ("campaign:delete %s: out of memory; its sessions not evicted, "
                  "presence not forgotten", id);
    if (!pl_call_answered (call))
        pl_call_ok (call, NULL);
    for (size_t i = 0; owned && i < nsess; i++)
        free (owned[i]);
    free (owned);
    free (rooms);
cleanup:
    if (sessions)
        freeReplyObject (sessions);
    pl_campaign_members_clear (&m);
}

/* {campaignId, userId[, role]}: the shared part of the member events. Sets
 * id and user; returns 0, or -1 after answering VALIDATION_ERROR. */
static int
s_member_arg (pl_call_t *call, const cJSON *arg, const char **id, const char **user)
{
    const char *event = pl_proto_event (pl_call_event (call))->name;
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects {campaignId, userId%s}", event,
                       pl_call_event (call) == PL_EV_CAMPAIGN_ADD_MEMBER ? ", role" : "");
        return -1;
    }
    *id = s_id (call, cJSON_GetObjectItemCaseSensitive (arg, "campaignId"), "campaignId");
    if (!*id)
        return -1;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive (arg, "userId");
    if (!cJSON_IsString (uid) || !pl_wire_user_id_valid (uid->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "%s: userId must be a user id (1 to %d of A-Z a-z 0-9 _ . - | @ +)",
                       event, PL_WIRE_ID_MAX);
        return -1;
    }
    *user = uid->valuestring;
    return 0;
}

static void
s_add_member (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_members_t m = { 0 };
    cJSON *campaign = NULL;
    const char *id, *user;
    char room[PL_WIRE_ROOM_MAX + 8], uroom[PL_WIRE_ROOM_MAX + 8], gm[PL_WIRE_ROOM_MAX + 8];
    if (s_member_arg (call, arg, &id, &user) != 0)
        goto cleanup;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive (arg, "role");
    pl_role_t role = cJSON_IsString (r) ? pl_authz_role_parse (r->valuestring) : PL_ROLE_NONE;
    if (role == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "role must be \"gm\" or \"player\"");
        goto cleanup;
    }
    const char *role_name = pl_authz_role_name (role);
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        bool missing;
        pl_campaign_members_clear (&m);
        cJSON_Delete (campaign);
        campaign = NULL;
        if (!pl_call_run (call, "WATCH " PL_KEY_CAMPAIGN " " PL_KEY_CAMPAIGN_MEMBERS, id, id)
        ||  pl_campaign_members (call, id, user, &m) != 0
        ||  pl_campaign_gm_only (call, id, &m) != 0)
            goto cleanup;
        if (m.target == PL_ROLE_GM && role == PL_ROLE_PLAYER && m.gms <= 1) {
            pl_call_error (call, PL_ERR_CONFLICT, "%s is the last GM of campaign %s", user, id);
            goto cleanup;
        }
        campaign = pl_campaign_load (call, id, &missing);
        if (!campaign) {
            if (missing)
                pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
            goto cleanup;
        }
        /* ZADD NX: a member whose role changes keeps their join time */
        if (!pl_call_run (call, "MULTI")
        ||  !pl_call_run (call, "HSET " PL_KEY_CAMPAIGN_MEMBERS " %s %s", id, user, role_name)
        ||  !pl_call_run (call, "ZADD " PL_KEY_USER_CAMPAIGNS " NX %lld %s", user,
                          (long long) pl_id_wall_ms (), id))
            goto cleanup;
        int rc = pl_call_exec (call);
        if (rc < 0)
            goto cleanup;
        if (rc == 1) {
            snprintf (room, sizeof room, "campaign:%s", id);
            snprintf (uroom, sizeof uroom, "user:%s", user);
            snprintf (gm, sizeof gm, "campaign:%s:gm", id);
            pl_call_publish (call, room, PL_PUSH_CAMPAIGN_MEMBER_ADDED,
                             s_member_added (id, user, role_name, campaign), true);
            /* the user's connections not in the campaign room: nobody twice */
            const char *except[] = { room, NULL };
            pl_call_publish_except (call, uroom, PL_PUSH_CAMPAIGN_MEMBER_ADDED,
                                    s_member_added (id, user, role_name, campaign), true, except);
            if (m.target == PL_ROLE_GM && role == PL_ROLE_PLAYER)
                pl_call_evict (call, uroom, gm);
            if (m.target == PL_ROLE_PLAYER && role == PL_ROLE_GM)
                pl_call_grant (call, uroom, room, gm);  /* subscribed tabs hear the GMs */
            cJSON *data = cJSON_CreateObject ();
            cJSON_AddStringToObject (data, "campaignId", id);
            cJSON_AddStringToObject (data, "userId", user);
            cJSON_AddStringToObject (data, "role", role_name);
            pl_call_ok (call, data);
            goto cleanup;
        }
    }
    pl_call_error (call, PL_ERR_INTERNAL, "campaign %s is too busy; try again", id);
cleanup:
    cJSON_Delete (campaign);
    pl_campaign_members_clear (&m);
}

static cJSON *
s_member_removed (const char *id, const char *user)
{
    cJSON *payload = cJSON_CreateObject ();
    cJSON_AddStringToObject (payload, "campaignId", id);
    cJSON_AddStringToObject (payload, "userId", user);
    return payload;
}

static void
s_remove_member (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_members_t m = { 0 };
    redisReply *sessions = NULL;
    const char **rooms = NULL;
    char **owned = NULL;
    const char *id, *user;
    char room[PL_WIRE_ROOM_MAX + 8], uroom[PL_WIRE_ROOM_MAX + 8], gm[PL_WIRE_ROOM_MAX + 8];
    if (s_member_arg (call, arg, &id, &user) != 0)
        goto cleanup;
    bool done = false;
    for (int attempt = 0; attempt < S_ATTEMPTS && !done; attempt++) {
        pl_campaign_members_clear (&m);
        if (sessions)
            freeReplyObject (sessions);
        sessions = NULL;
        if (!pl_call_run (call, "WATCH " PL_KEY_CAMPAIGN_MEMBERS " " PL_KEY_CAMPAIGN_SESSIONS, id, id)
        ||  pl_campaign_members (call, id, user, &m) != 0
        ||  pl_campaign_gm_only (call, id, &m) != 0)
            goto cleanup;
        if (m.target == PL_ROLE_NONE) {
            pl_call_error (call, PL_ERR_NOT_FOUND, "%s is not a member of campaign %s", user, id);
            goto cleanup;
        }
        if (m.target == PL_ROLE_GM && m.gms <= 1) {
            pl_call_error (call, PL_ERR_CONFLICT, "%s is the last GM of campaign %s", user, id);
            goto cleanup;
        }
        sessions = pl_call_command (call, "SMEMBERS " PL_KEY_CAMPAIGN_SESSIONS, id);
        if (!sessions || !pl_call_run (call, "MULTI")
        ||  !pl_call_run (call, "HDEL " PL_KEY_CAMPAIGN_MEMBERS " %s", id, user)
        ||  !pl_call_run (call, "ZREM " PL_KEY_USER_CAMPAIGNS " %s", user, id))
            goto cleanup;
        int rc = pl_call_exec (call);
        if (rc < 0)
            goto cleanup;
        done = rc == 1;
    }
    if (!done) {
        pl_call_error (call, PL_ERR_INTERNAL, "campaign %s is too busy; try again", id);
        goto cleanup;
    }
    /* committed: from here nothing may turn into an error answer that
     * drops the pushes and evictions (a retry would answer NOT_FOUND) */
    pl_call_commit (call);
    snprintf (room, sizeof room, "campaign:%s", id);
    snprintf (uroom, sizeof uroom, "user:%s", user);
    snprintf (gm, sizeof gm, "campaign:%s:gm", id);
    /* order matters: the push first, while the user's connections are still
     * in the rooms; then the evictions; then presence:left to those who
     * remain, so the removed user hears nothing more */
    pl_call_publish (call, room, PL_PUSH_CAMPAIGN_MEMBER_REMOVED, s_member_removed (id, user), true);
    const char *except[] = { room, NULL };
    pl_call_publish_except (call, uroom, PL_PUSH_CAMPAIGN_MEMBER_REMOVED,
                            s_member_removed (id, user), true, except);
    pl_call_evict (call, uroom, gm);
    pl_call_evict (call, uroom, room);
    size_t nsess = sessions->type == REDIS_REPLY_ARRAY ? sessions->elements : 0;
    rooms = calloc (nsess + 1, sizeof *rooms);
    owned = calloc (nsess + 1, sizeof *owned);
    if (!rooms || !owned)
        pl_error ("campaign:removeMember %s %s: out of memory; not evicted from its sessions, "
                  "presence not purged", id, user);
    else {
        rooms[0] = room;
        size_t evicted = 0;
        for (size_t i = 0; i < nsess; i++) {
            if (asprintf (&owned[i], "session:%s", sessions->element[i]->str) < 0) {
                owned[i] = NULL;
                rooms[i + 1] = room;
                continue;
            }
            rooms[i + 1] = owned[i];
            if (S_REMOVE_FIXED + evicted >= PL_CALL_PUBLISH_MAX) {
                pl_error ("campaign:removeMember %s: too many sessions; %s not evicted from %s",
                          id, uroom, owned[i]);
                continue;
            }
            pl_call_evict (call, uroom, owned[i]);
            evicted++;
        }
        /* best effort: the membership is gone, so a stale presence record
         * only lists the user until their connections close (presence:drop) */
        int budget = PL_CALL_PUBLISH_MAX - 4 - (int) evicted;
        if (pl_presence_purge_user (call, user, rooms, nsess + 1, budget) != 0)
            pl_warn ("campaign:removeMember %s %s: presence not purged", id, user);
    }
    if (!pl_call_answered (call))
        pl_call_ok (call, s_member_removed (id, user));
cleanup:
    for (size_t i = 0; owned && sessions && i < sessions->elements; i++)
        free (owned[i]);
    free (owned);
    free (rooms);
    if (sessions)
        freeReplyObject (sessions);
    pl_campaign_members_clear (&m);
}

const pl_handler_t pl_campaigns_handlers[] = {
    { PL_EV_CAMPAIGN_CREATE, s_create },
    { PL_EV_CAMPAIGN_LIST, s_list },
    { PL_EV_CAMPAIGN_GET, s_get },
    { PL_EV_CAMPAIGN_UPDATE, s_update },
    { PL_EV_CAMPAIGN_DELETE, s_delete },
    { PL_EV_CAMPAIGN_ADD_MEMBER, s_add_member },
    { PL_EV_CAMPAIGN_REMOVE_MEMBER, s_remove_member },
};
const size_t pl_campaigns_handler_count = sizeof pl_campaigns_handlers
                                        / sizeof pl_campaigns_handlers[0];
