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
 *  Writes are optimistic (pl_txn.h): a handler reads what its decision
 *  needs in one round trip (pl_campaign_read), decides, and commits one
 *  compare-and-set script that expects what the decision was based on and
 *  holds every write. The rules that count expect what they counted: a
 *  demotion or removal of a GM expects every GM it counted to still be
 *  one, a delete expects the members, sessions and empty entity indexes it
 *  saw. So two GMs demoting themselves at once cannot leave the campaign
 *  without one: the second commit conflicts, the runtime runs the handler
 *  again (pl_call_conflict), and it answers CONFLICT (the last GM). The ack
 *  and the pushes go only after the commit.
 *
 *  A removed member loses access at once: the write commits, then their
 *  connections get campaign:memberRemoved and are evicted from the
 *  campaign's rooms (the push is published before the eviction, and the
 *  bus keeps one publisher's order), and their presence there ends. A
 *  demoted GM is evicted from campaign:<id>:gm; a promoted player's
 *  connections in campaign:<id> are granted it (pl_call_grant).
 *
 *  Every handler runs on the worker loop (pl_worker.h); a -1 from the
 *  pl_campaign functions or pl_txn_commit means the call has been
 *  answered, and a 0 from pl_txn_commit that it will run again: either
 *  way the handler just cleans up.
 */
#include "campaigns.h"
#include "pl_authz.h"
#include "pl_campaign.h"
#include "pl_entity.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_presence.h"
#include "pl_sched.h"
#include "pl_txn.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A new commit expecting `what` of m as read (pl_campaign_expect; m NULL:
 * nothing yet). Returns it, or NULL after answering INTERNAL. */
static pl_txn_t *
s_txn (pl_call_t *call, const char *id, const pl_campaign_read_t *m, unsigned what)
{
    pl_txn_t *txn = pl_txn_new ();
    if (!txn)
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
    else
    if (m)
        pl_campaign_expect (txn, id, m, what);
    return txn;
}

/* The last-GM rule: a GM who stops being one (demoted, removed) must leave
 * another. Returns 0, or -1 after answering CONFLICT. What it counted is
 * what the commit must expect: PL_CAMPAIGN_EXPECT_GMS when *loses. */
static int
s_keeps_a_gm (pl_call_t *call, const char *id, const char *user, const pl_campaign_read_t *m,
              bool loses)
{
    if (!loses || m->gms > 1)
        return 0;
    pl_call_error (call, PL_ERR_CONFLICT, "%s is the last GM of campaign %s", user, id);
    return -1;
}

/* -------------------------------------------------------------------- */

static void
s_create (pl_call_t *call, const cJSON *arg)
{
    cJSON *campaign = NULL;
    pl_txn_t *txn = NULL;
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
    /* a new id: all the decision assumed is that it is new (a collision
     * conflicts, and the run again draws another) */
    txn = s_txn (call, id, NULL, 0);
    if (!txn)
        goto cleanup;
    pl_txn_expect_value (txn, NULL, 0, PL_KEY_CAMPAIGN, id);
    if (pl_campaign_write_set (call, txn, campaign, id) != 0)
        goto cleanup;
    pl_txn_write (txn, "HSET " PL_KEY_CAMPAIGN_MEMBERS " %s gm", id, user);
    pl_txn_write (txn, "ZADD " PL_KEY_USER_CAMPAIGNS " %.0f %s", user, now, id);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;
    snprintf (room, sizeof room, "user:%s", user);
    pl_call_publish (call, room, PL_PUSH_CAMPAIGN_MEMBER_ADDED,
                     s_member_added (id, user, "gm", campaign), true);
    cJSON_AddStringToObject (campaign, "role", "gm");
    pl_call_ok (call, campaign);
    campaign = NULL;
cleanup:
    pl_txn_destroy (&txn);
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
    pl_campaign_read_t m = { 0 };
    cJSON *campaign = NULL, **rows = NULL;
    const char *id = s_id (call, arg, "the argument");
    if (!id || pl_campaign_read (call, id, NULL, PL_CAMPAIGN_TEXT, &m) != 0)
        goto cleanup;
    if (m.caller == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no campaign %s", id);
        goto cleanup;
    }
    campaign = pl_campaign_parse (call, id, &m);
    if (!campaign)
        goto cleanup;
    size_t n = m.members->elements / 2;
    rows = calloc (n + 1, sizeof *rows);
    cJSON *members = cJSON_CreateArray ();
    if (!rows || !members) {
        cJSON_Delete (members);
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = cJSON_CreateObject ();
        cJSON_AddStringToObject (rows[i], "userId", m.members->element[2 * i]->str);
        cJSON_AddStringToObject (rows[i], "role", m.members->element[2 * i + 1]->str);
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
    pl_campaign_read_clear (&m);
}

static void
s_update (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_read_t m = { 0 };
    pl_txn_t *txn = NULL;
    cJSON *campaign = NULL;
    char room[PL_WIRE_ROOM_MAX + 8];
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "campaign:update expects {id, ...fields}");
        goto cleanup;
    }
    const char *id = s_id (call, cJSON_GetObjectItemCaseSensitive (arg, "id"), "id");
    if (!id || pl_campaign_read (call, id, NULL, PL_CAMPAIGN_TEXT, &m) != 0
    ||  pl_campaign_gm_only (call, id, &m) != 0)
        goto cleanup;
    campaign = pl_campaign_parse (call, id, &m);
    if (!campaign)
        goto cleanup;
    pl_campaign_merge (campaign, arg);
    const char *why = pl_campaign_invalid (campaign);
    if (why) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s", why);
        goto cleanup;
    }
    pl_entity_set (campaign, "updatedAt", cJSON_CreateNumber ((double) pl_id_wall_ms ()));
    /* the text merged into, and the caller still a GM: a concurrent update
     * conflicts and this one merges again into its result */
    txn = s_txn (call, id, &m, PL_CAMPAIGN_EXPECT_CALLER | PL_CAMPAIGN_EXPECT_TEXT);
    if (!txn || pl_campaign_write_set (call, txn, campaign, id) != 0 || pl_txn_commit (txn, call) != 1)
        goto cleanup;
    snprintf (room, sizeof room, "campaign:%s", id);
    pl_call_publish (call, room, PL_PUSH_CAMPAIGN_UPDATED, cJSON_Duplicate (campaign, true), true);
    pl_call_ok (call, campaign);
    campaign = NULL;
cleanup:
    pl_txn_destroy (&txn);
    cJSON_Delete (campaign);
    pl_campaign_read_clear (&m);
}

static void
s_delete (pl_call_t *call, const cJSON *arg)
{
    pl_campaign_read_t m = { 0 };
    pl_txn_t *txn = NULL;
    char room[PL_WIRE_ROOM_MAX + 8], gm[PL_WIRE_ROOM_MAX + 8];
    const char *id = s_id (call, arg, "the argument");
    if (!id)
        goto cleanup;
    if (pl_campaign_read (call, id, NULL, PL_CAMPAIGN_SESSIONS | PL_CAMPAIGN_HOLDINGS, &m) != 0
    ||  pl_campaign_gm_only (call, id, &m) != 0)
        goto cleanup;
    if (m.actors || m.items) {
        pl_call_error (call, PL_ERR_CONFLICT, "campaign %s still holds %s; delete them first",
                       id, m.actors && m.items ? "actors and items" : m.actors ? "actors" : "items");
        goto cleanup;
    }
    /* everything the writes are built from: every member (each one's index
     * entry goes), every session (each one's keys go), and still no actor
     * or item (a campaign that holds some is not deleted) */
    txn = s_txn (call, id, &m, PL_CAMPAIGN_EXPECT_MEMBERS | PL_CAMPAIGN_EXPECT_SESSIONS
                               | PL_CAMPAIGN_EXPECT_EMPTY);
    if (!txn)
        goto cleanup;
    pl_campaign_write_delete (txn, id, &m);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;
    /* committed (pl_txn_commit said pl_call_commit): from here nothing may
     * turn into an error answer that drops the push and the evictions, nor
     * into a conflict (a run again would find no campaign) */
    const redisReply *sessions = m.sessions;
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
    /* its scheduled events, world time and turn timers: nothing of them
     * may fire into its rooms (best effort too: the scheduler's claims drop
     * what a failure here leaves, pl_sched.h) */
    const char **sids = calloc (nsess + 1, sizeof *sids);
    for (size_t i = 0; sids && i < nsess; i++)
        sids[i] = sessions->element[i]->str;
    if (!sids || pl_sched_campaign_clear (call, id, sids, nsess) != 0)
        pl_warn ("campaign:delete %s: its schedule and timers were not cleared (they will "
                 "not fire: the scheduler drops them)", id);
    free (sids);
    if (!pl_call_answered (call))
        pl_call_ok (call, NULL);
    for (size_t i = 0; owned && i < nsess; i++)
        free (owned[i]);
    free (owned);
    free (rooms);
cleanup:
    pl_txn_destroy (&txn);
    pl_campaign_read_clear (&m);
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
    pl_campaign_read_t m = { 0 };
    pl_txn_t *txn = NULL;
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
    if (pl_campaign_read (call, id, user, PL_CAMPAIGN_TEXT, &m) != 0
    ||  pl_campaign_gm_only (call, id, &m) != 0)
        goto cleanup;
    bool demote = m.target == PL_ROLE_GM && role == PL_ROLE_PLAYER;
    if (s_keeps_a_gm (call, id, user, &m, demote) != 0)
        goto cleanup;
    campaign = pl_campaign_parse (call, id, &m);
    if (!campaign)
        goto cleanup;
    /* the caller a GM, the target's role (what the pushes and grants follow
     * from), the campaign the push carries, and for a demotion every GM
     * counted: a GM demoted meanwhile conflicts, and the run again counts
     * again */
    txn = s_txn (call, id, &m, PL_CAMPAIGN_EXPECT_CALLER | PL_CAMPAIGN_EXPECT_TARGET
                             | PL_CAMPAIGN_EXPECT_TEXT | (demote ? PL_CAMPAIGN_EXPECT_GMS : 0));
    if (!txn)
        goto cleanup;
    /* ZADD NX: a member whose role changes keeps their join time */
    pl_txn_write (txn, "HSET " PL_KEY_CAMPAIGN_MEMBERS " %s %s", id, user, role_name);
    pl_txn_write (txn, "ZADD " PL_KEY_USER_CAMPAIGNS " NX %lld %s", user,
                  (long long) pl_id_wall_ms (), id);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;
    snprintf (room, sizeof room, "campaign:%s", id);
    snprintf (uroom, sizeof uroom, "user:%s", user);
    snprintf (gm, sizeof gm, "campaign:%s:gm", id);
    pl_call_publish (call, room, PL_PUSH_CAMPAIGN_MEMBER_ADDED,
                     s_member_added (id, user, role_name, campaign), true);
    /* the user's connections not in the campaign room: nobody twice */
    const char *except[] = { room, NULL };
    pl_call_publish_except (call, uroom, PL_PUSH_CAMPAIGN_MEMBER_ADDED,
                            s_member_added (id, user, role_name, campaign), true, except);
    if (demote)
        pl_call_evict (call, uroom, gm);
    if (m.target == PL_ROLE_PLAYER && role == PL_ROLE_GM)
        pl_call_grant (call, uroom, room, gm);  /* subscribed tabs hear the GMs */
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddStringToObject (data, "campaignId", id);
    cJSON_AddStringToObject (data, "userId", user);
    cJSON_AddStringToObject (data, "role", role_name);
    pl_call_ok (call, data);
cleanup:
    pl_txn_destroy (&txn);
    cJSON_Delete (campaign);
    pl_campaign_read_clear (&m);
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
    pl_campaign_read_t m = { 0 };
    pl_txn_t *txn = NULL;
    const redisReply *sessions = NULL;
    const char **rooms = NULL;
    char **owned = NULL;
    const char *id, *user;
    char room[PL_WIRE_ROOM_MAX + 8], uroom[PL_WIRE_ROOM_MAX + 8], gm[PL_WIRE_ROOM_MAX + 8];
    if (s_member_arg (call, arg, &id, &user) != 0)
        goto cleanup;
    if (pl_campaign_read (call, id, user, PL_CAMPAIGN_SESSIONS, &m) != 0
    ||  pl_campaign_gm_only (call, id, &m) != 0)
        goto cleanup;
    if (m.target == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "%s is not a member of campaign %s", user, id);
        goto cleanup;
    }
    bool losing_gm = m.target == PL_ROLE_GM;
    if (s_keeps_a_gm (call, id, user, &m, losing_gm) != 0)
        goto cleanup;
    /* the caller a GM, the target's role, the sessions evicted from after,
     * and for a GM every GM counted (the last-GM rule) */
    txn = s_txn (call, id, &m, PL_CAMPAIGN_EXPECT_CALLER | PL_CAMPAIGN_EXPECT_TARGET
                             | PL_CAMPAIGN_EXPECT_SESSIONS | (losing_gm ? PL_CAMPAIGN_EXPECT_GMS : 0));
    if (!txn)
        goto cleanup;
    pl_txn_write (txn, "HDEL " PL_KEY_CAMPAIGN_MEMBERS " %s", id, user);
    pl_txn_write (txn, "ZREM " PL_KEY_USER_CAMPAIGNS " %s", user, id);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;
    /* committed (pl_txn_commit said pl_call_commit): from here nothing may
     * turn into an error answer that drops the pushes and evictions, nor
     * into a conflict (a run again would answer NOT_FOUND) */
    sessions = m.sessions;
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
    pl_txn_destroy (&txn);
    pl_campaign_read_clear (&m);
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
