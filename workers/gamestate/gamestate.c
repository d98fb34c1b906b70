/*  gamestate - game sessions and their versioned, GM-authoritative state
 *  (issue 5; README, Game state).
 *
 *  Storage and the commit protocol live in domain/pl_session (keys listed
 *  there), because the actors and items workers update sessions too, and
 *  the commits' operations builders in domain/pl_session_ops. This file is
 *  the handlers: argument checks, who may do what, and the acks.
 *
 *  Who may do what (pl_authz roles of the session's campaign):
 *    gameSession:create       GM of the campaign (others FORBIDDEN)
 *    gameSession:list         members (others FORBIDDEN, as actor:list)
 *    join / requestFull / sync members; anyone else gets NOT_FOUND, so
 *                             session ids leak nothing
 *    gameState:update         GM; a player gets FORBIDDEN
 *    token:move               GM, or a player who created the token's actor
 *  gameState:update checks, in order: the argument's shape, the session
 *  and membership (NOT_FOUND), GM (FORBIDDEN), the update id's record (a
 *  replay gets the first ack), the version (VERSION_CONFLICT), the
 *  operations (VALIDATION_ERROR with index). After the session's hash,
 *  the role, the record and the state are one read round of the commit.
 *
 *  Writes read, decide in C and commit with one compare-and-set script
 *  (pl_session_commit, pl_txn). A commit that lost a race (the state, the
 *  caller's role, the update id's record or an embedded entity changed
 *  since it was read) writes nothing and comes back PL_SESSION_RETRY: the
 *  handler returns without answering and the runtime runs it again from
 *  the start (pl_call_conflict), so every check is made again on what is
 *  current - a GM demoted meanwhile gets FORBIDDEN, a retried update id
 *  that committed meanwhile gets its first ack.
 *
 *  The dual update (pl_session.h): every embedded actor or item whose copy
 *  a gameState:update changes is written back to the store in the same
 *  commit as the state. The update's operations come from a
 *  builder that prepares each write-back inside the commit
 *  (pl_session_ops_update, domain/pl_session_ops.h, which says what it
 *  refuses and why); token:move's come from pl_session_ops_move. At most
 *  PL_SESSION_OPS_WRITE_BACK_MAX copies per update.
 *  join, requestFull and sync first bring any copy that is behind its
 *  stored entity in step (pl_session_entity_repair): a writer that died
 *  between its store write and its session syncs leaves no lasting gap.
 *
 *  Every handler runs on the worker loop (pl_worker.h). pl_session never
 *  answers a call, so each handler maps its outcome to an ack; a NULL /
 *  false from pl_call_* means the runtime has already answered INTERNAL.
 */
#include "gamestate.h"
#include "pl_entity.h"
#include "pl_authz.h"
#include "pl_log.h"
#include "pl_presence.h"
#include "pl_session.h"
#include "pl_session_ops.h"
#include "pl_state.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The room of a session. */
static void
s_room (char *room, size_t size, const char *sid)
{
    snprintf (room, size, "session:%s", sid);
}

static const char *
s_event (pl_call_t *call)
{
    return pl_proto_event (pl_call_event (call))->name;
}

/* A session id: the argument itself (join/leave/requestFull) or a member
 * of it. Returns it, or NULL after answering VALIDATION_ERROR. */
static const char *
s_sid (pl_call_t *call, const cJSON *item)
{
    if (!cJSON_IsString (item) || !pl_wire_id_valid (item->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "%s expects a session id (1 to %d characters of A-Z a-z 0-9 _ . -)",
                       s_event (call), PL_WIRE_ID_MAX);
        return NULL;
    }
    return item->valuestring;
}

/* The argument must be an object. Returns it, or NULL answered. */
static const cJSON *
s_object (pl_call_t *call, const cJSON *arg)
{
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects an object", s_event (call));
        return NULL;
    }
    return arg;
}

static const cJSON *
s_get (const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive (obj, key);
}

/* Map a pl_session -1 (Redis failed, logged) to an answer. */
static void
s_storage_error (pl_call_t *call)
{
    if (!pl_call_answered (call))
        pl_call_error (call, PL_ERR_INTERNAL, "storage unavailable");
}

/* The session and the caller's role in its campaign. Returns 0 with
 * *session (caller owns) and *role, or -1 after answering NOT_FOUND (no
 * such session, or not a member) or INTERNAL. */
static int
s_access (pl_call_t *call, const char *sid, cJSON **session, pl_role_t *role)
{
    *role = PL_ROLE_NONE;
    int found = pl_session_get (call, sid, session);
    if (found < 0) {
        s_storage_error (call);
        return -1;
    }
    const cJSON *campaign = found ? s_get (*session, "campaignId") : NULL;
    if (found && !cJSON_IsString (campaign)) {
        pl_error (PL_KEY_SESSION " has no campaignId", sid);
        found = 0;
    }
    if (found && pl_authz_role (call, campaign->valuestring, pl_call_caller (call)->user, role) != 0)
        goto fail;                          /* answered INTERNAL */
    if (!found || *role == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
        goto fail;
    }
    return 0;
fail:
    cJSON_Delete (*session);
    *session = NULL;
    return -1;
}

/* Read the state for an ack. Returns it, or NULL answered. */
static cJSON *
s_state (pl_call_t *call, const char *sid)
{
    cJSON *state = NULL;
    int found = pl_session_state (call, sid, &state);
    if (found < 0)
        s_storage_error (call);
    else
    if (found == 0)
        pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
    return state;
}

/* s_state, after pl_session_entity_repair: read again only when that
 * changed it. Returns it, or NULL answered. */
static cJSON *
s_state_repaired (pl_call_t *call, const char *sid)
{
    cJSON *state = s_state (call, sid);
    if (state && pl_session_entity_repair (call, sid, state) > 0) {
        cJSON_Delete (state);
        state = s_state (call, sid);
    }
    return state;
}

/* Answer a commit's outcome that is not a success. */
static void
s_commit_error (pl_call_t *call, const char *sid, pl_session_result_t *result)
{
    cJSON *fields = NULL;
    if (pl_call_answered (call))
        return;                             /* the commit failed: INTERNAL */
    switch (result->status) {
        case PL_SESSION_APPLIED:
        case PL_SESSION_REPLAYED:
            break;                          /* not errors; asserted below */
        case PL_SESSION_RETRY:
            return;                         /* the runtime runs it again */
        case PL_SESSION_MISSING:
            pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
            return;
        case PL_SESSION_CONFLICT:
            fields = cJSON_CreateObject ();
            cJSON_AddStringToObject (fields, "currentVersion", result->version);
            pl_call_error_with (call, PL_ERR_VERSION_CONFLICT, fields,
                                "the state is at version %s", result->version);
            return;
        case PL_SESSION_INVALID:
            if (result->index >= 0) {
                fields = cJSON_CreateObject ();
                cJSON_AddNumberToObject (fields, "index", result->index);
            }
            pl_call_error_with (call, PL_ERR_VALIDATION_ERROR, fields, "%s", result->why);
            return;
        case PL_SESSION_NOOP:
        case PL_SESSION_REFUSED:
            pl_call_error (call, PL_ERR_NOT_FOUND, "%s", result->why[0] ? result->why : "nothing to do");
            return;
        case PL_SESSION_BUSY:
            pl_call_error (call, PL_ERR_INTERNAL, "too many concurrent updates; try again");
            return;
        case PL_SESSION_FORBIDDEN:
            pl_call_error (call, PL_ERR_FORBIDDEN, "%s", result->why);
            return;
        case PL_SESSION_FAILED:
            pl_call_error (call, PL_ERR_INTERNAL, "%s", result->why[0] ? result->why : "storage unavailable");
            return;
    }
    pl_call_error (call, PL_ERR_INTERNAL, "unexpected commit outcome %d", (int) result->status);
}

/* ---- sessions -------------------------------------------------------- */

static void
s_create (pl_call_t *call, const cJSON *arg)
{
    cJSON *session = NULL;
    if (!s_object (call, arg))
        return;
    const cJSON *campaign = s_get (arg, "campaignId"), *name = s_get (arg, "name");
    if (!cJSON_IsString (campaign) || !pl_wire_id_valid (campaign->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "campaignId must be a campaign id");
        return;
    }
    if (!cJSON_IsString (name) || !*name->valuestring
    ||  strlen (name->valuestring) > PL_SESSION_NAME_MAX) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "name must be a string of 1 to %d characters",
                       PL_SESSION_NAME_MAX);
        return;
    }
    /* the creator's role is read and checked by the commit, which
     * expects it unchanged */
    int rc = pl_session_create (call, campaign->valuestring, name->valuestring,
                                pl_call_caller (call)->user, &session);
    if (rc == 3)
        return;                             /* lost a race: run again */
    if (rc < 0)
        s_storage_error (call);
    else
    if (rc == 2)
        pl_call_error (call, PL_ERR_FORBIDDEN, "only a GM of campaign %s may create sessions",
                       campaign->valuestring);
    else
    if (rc > 0)
        pl_call_error (call, PL_ERR_CONFLICT, "campaign %s already has %d sessions",
                       campaign->valuestring, PL_SESSION_PER_CAMPAIGN);
    else {
        char room[16 + PL_WIRE_ID_MAX];
        snprintf (room, sizeof room, "campaign:%s", campaign->valuestring);
        pl_call_publish (call, room, PL_PUSH_GAME_SESSION_CREATED,
                         cJSON_Duplicate (session, true), true);
        pl_call_ok (call, session);
    }
}

static void
s_list (pl_call_t *call, const cJSON *arg)
{
    if (!s_object (call, arg))
        return;
    const cJSON *campaign = s_get (arg, "campaignId");
    if (!cJSON_IsString (campaign) || !pl_wire_id_valid (campaign->valuestring)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "campaignId must be a campaign id");
        return;
    }
    pl_role_t role;
    if (pl_authz_role (call, campaign->valuestring, pl_call_caller (call)->user, &role) != 0)
        return;
    if (role == PL_ROLE_NONE) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "not a member of campaign %s", campaign->valuestring);
        return;
    }
    cJSON *list = NULL;
    if (pl_session_list (call, campaign->valuestring, &list) != 0)
        s_storage_error (call);
    else
        pl_call_ok (call, list);
}

static void
s_join (pl_call_t *call, const cJSON *arg)
{
    cJSON *session = NULL, *state = NULL;
    pl_role_t role;
    const char *sid = s_sid (call, arg);
    if (!sid || s_access (call, sid, &session, &role) != 0)
        goto cleanup;
    /* the snapshot is always current: a join never replays the log */
    if (!(state = s_state_repaired (call, sid)))
        goto cleanup;
    char room[16 + PL_WIRE_ID_MAX];
    s_room (room, sizeof room, sid);
    /* joining a session is subscribing to its room: presence as subscribe
     * records it (the script re-checks membership: a removal wins) */
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (session, "campaignId");
    long ttl = pl_config_int (pl_call_config (call), PL_CFG_PRESENCE_TTL_MS);
    int rc = cJSON_IsString (cid) ? pl_presence_join (call, room, cid->valuestring, ttl, &role) : 1;
    if (rc < 0)
        goto cleanup;
    if (rc > 0) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
        goto cleanup;
    }
    pl_call_join (call, room);
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddItemToObject (data, "session", session);
    cJSON_AddItemToObject (data, "gameState", state);
    cJSON_AddBoolToObject (data, "isGM", role == PL_ROLE_GM);
    session = state = NULL;
    pl_call_ok (call, data);
cleanup:
    cJSON_Delete (session);
    cJSON_Delete (state);
}

static void
s_leave (pl_call_t *call, const cJSON *arg)
{
    const char *sid = s_sid (call, arg);
    if (!sid)
        return;
    /* no access check: leaving a room one is not in changes nothing */
    char room[16 + PL_WIRE_ID_MAX];
    s_room (room, sizeof room, sid);
    if (pl_presence_leave (call, room, PL_CALL_PUBLISH_MAX) != 0)
        return;
    pl_call_leave (call, room);
    pl_call_ok (call, NULL);
}

static void
s_request_full (pl_call_t *call, const cJSON *arg)
{
    cJSON *session = NULL, *state = NULL;
    pl_role_t role;
    const char *sid = s_sid (call, arg);
    if (!sid || s_access (call, sid, &session, &role) != 0
    ||  !(state = s_state_repaired (call, sid)))
        goto cleanup;
    cJSON *data = cJSON_CreateObject ();
    cJSON_AddItemToObject (data, "gameState", state);
    state = NULL;
    pl_call_ok (call, data);
cleanup:
    cJSON_Delete (session);
    cJSON_Delete (state);
}

/* ---- updates --------------------------------------------------------- */

static void
s_update (pl_call_t *call, const cJSON *arg)
{
    cJSON *session = NULL;
    pl_session_result_t result = { 0 };
    pl_session_ops_update_t build = { 0 };
    if (!s_object (call, arg))
        goto cleanup;
    const cJSON *id = s_get (arg, "id"), *ops = s_get (arg, "operations");
    const cJSON *timestamp = s_get (arg, "timestamp"), *source = s_get (arg, "source");
    const char *sid = s_sid (call, s_get (arg, "sessionId"));
    char version[PL_SESSION_VERSION_SIZE];
    if (!sid)
        goto cleanup;
    if (!pl_session_update_id_valid (id)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "id must be a string of 1 to %d characters, no control characters",
                       PL_SESSION_UPDATE_ID_MAX);
        goto cleanup;
    }
    if (!pl_session_version_arg (s_get (arg, "version"), version)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "version must be the state version the update is based on, a decimal string");
        goto cleanup;
    }
    if (!cJSON_IsArray (ops)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "operations must be an array");
        goto cleanup;
    }
    if (timestamp && !cJSON_IsNull (timestamp)
    &&  (!cJSON_IsNumber (timestamp) || !isfinite (timestamp->valuedouble))) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "timestamp must be a number (ms)");
        goto cleanup;
    }
    if (source && !cJSON_IsNull (source)
    &&  (!cJSON_IsString (source) || !*source->valuestring || strlen (source->valuestring) > 32
         || strcmp (source->valuestring, "system") == 0)) {
        /* "system" marks the server's own updates; a client may not forge it */
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "source must be a string of 1 to 32 characters other than \"system\"");
        goto cleanup;
    }
    /* the session, then one read round of the commit: the caller's role
     * (not a member: NOT_FOUND, a player: FORBIDDEN, as s_access would
     * say), the update id's record, the state */
    int found = pl_session_get (call, sid, &session);
    if (found < 0) {
        s_storage_error (call);
        goto cleanup;
    }
    if (found == 0 || !cJSON_IsString (s_get (session, "campaignId"))) {
        if (found)
            pl_error (PL_KEY_SESSION " has no campaignId", sid);
        pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
        goto cleanup;
    }
    build = (pl_session_ops_update_t) { .call = call, .ops = ops,
                           .campaign_id = s_get (session, "campaignId")->valuestring };
    pl_session_update_t update = {
        .expected = version, .build = pl_session_ops_update, .build_arg = &build,
        .update_id = id->valuestring,
        .source = cJSON_IsString (source) ? source->valuestring : "gm",
        .timestamp = cJSON_IsNumber (timestamp) ? timestamp : NULL,
        .campaign_id = build.campaign_id, .min_role = PL_ROLE_GM,
        .queue = pl_session_ops_update_queue,
    };
    pl_session_commit (call, sid, &update, &result);
    if (pl_call_answered (call) || result.status == PL_SESSION_RETRY)
        goto cleanup;                       /* answered INTERNAL, or run again */
    if (result.status == PL_SESSION_FORBIDDEN) {
        if (result.role == PL_ROLE_NONE)
            pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
        else
            pl_call_error (call, PL_ERR_FORBIDDEN, "only a GM may update the game state");
        goto cleanup;
    }
    if (result.status == PL_SESSION_NOOP) {
        /* the builder returns at least the client's operations: none */
        result.status = PL_SESSION_INVALID;
        result.index = -1;
        snprintf (result.why, sizeof result.why, "operations is empty");
    }
    if (result.status == PL_SESSION_REFUSED && build.invalid) {
        result.status = PL_SESSION_INVALID;     /* a copy the store refuses */
        result.index = build.index;
    }
    if (result.status == PL_SESSION_APPLIED || result.status == PL_SESSION_REPLAYED) {
        pl_call_ok_body (call, result.body);
        result.body = NULL;
        /* committed with the state: announce it, and bring the other
         * sessions that embed it in step */
        for (int i = 0; result.status == PL_SESSION_APPLIED && i < build.nwb; i++)
            pl_entity_writeback_done (call, build.wb[i], sid);
    }
    else
        s_commit_error (call, sid, &result);
cleanup:
    pl_session_ops_update_reset (&build);
    pl_session_result_clear (&result);
    cJSON_Delete (session);
}

static void
s_sync (pl_call_t *call, const cJSON *arg)
{
    cJSON *session = NULL, *out = NULL;
    if (!s_object (call, arg))
        goto cleanup;
    const char *sid = s_sid (call, s_get (arg, "sessionId"));
    char since_text[PL_SESSION_VERSION_SIZE];
    uint64_t since;
    if (!sid)
        goto cleanup;
    if (!pl_session_version_arg (s_get (arg, "sinceVersion"), since_text)
    ||  !pl_session_version_parse (since_text, &since)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "sinceVersion must be a version, a decimal string");
        goto cleanup;
    }
    pl_role_t role;
    if (s_access (call, sid, &session, &role) != 0)
        goto cleanup;
    cJSON *state = s_state_repaired (call, sid);
    if (!state)
        goto cleanup;
    cJSON_Delete (state);
    int found = pl_session_sync (call, sid, since, &out);
    if (found < 0)
        s_storage_error (call);
    else
    if (found == 0)
        pl_call_error (call, PL_ERR_NOT_FOUND, "no session %s", sid);
    else {
        pl_call_ok (call, out);
        out = NULL;
    }
cleanup:
    cJSON_Delete (session);
    cJSON_Delete (out);
}

/* ---- token:move ------------------------------------------------------ */

/* Did the caller create actor id? Returns 1, 0, or -1 answered. */
static int
s_owns_actor (pl_call_t *call, const char *id)
{
    if (!pl_wire_id_valid (id))
        return 0;
    redisReply *reply = pl_call_command (call, "GET " PL_KEY_ENTITY, pl_entity_actor.name, id);
    if (!reply)
        return -1;
    cJSON *actor = reply->type == REDIS_REPLY_STRING
                 ? cJSON_ParseWithLength (reply->str, reply->len) : NULL;
    const cJSON *owner = s_get (actor, "createdBy");
    int owns = cJSON_IsString (owner) && strcmp (owner->valuestring, pl_call_caller (call)->user) == 0;
    cJSON_Delete (actor);
    freeReplyObject (reply);
    return owns;
}

static void
s_token_move (pl_call_t *call, const cJSON *arg)
{
    cJSON *session = NULL, *state = NULL;
    pl_session_result_t result = { 0 };
    if (!s_object (call, arg))
        goto cleanup;
    const cJSON *token = s_get (arg, "tokenId"), *x = s_get (arg, "x"), *y = s_get (arg, "y");
    const char *sid = s_sid (call, s_get (arg, "sessionId"));
    if (!sid)
        goto cleanup;
    if (!cJSON_IsString (token) || !*token->valuestring
    ||  strlen (token->valuestring) > PL_STATE_MAX_SEGMENT) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "tokenId must be a string of 1 to %d characters",
                       PL_STATE_MAX_SEGMENT);
        goto cleanup;
    }
    if (!cJSON_IsNumber (x) || !cJSON_IsNumber (y)
    ||  !isfinite (x->valuedouble) || !isfinite (y->valuedouble)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "x and y must be finite numbers");
        goto cleanup;
    }
    pl_role_t role;
    if (s_access (call, sid, &session, &role) != 0)
        goto cleanup;
    pl_session_ops_move_t move = { token->valuestring, NULL, x->valuedouble, y->valuedouble };
    if (role != PL_ROLE_GM) {
        /* a player: only a token of an actor they created */
        if (!(state = s_state (call, sid)))
            goto cleanup;
        const cJSON *found = NULL;
        if (pl_session_ops_token_index (state, move.token, &found) < 0) {
            pl_call_error (call, PL_ERR_NOT_FOUND, "no token %s in the current encounter", move.token);
            goto cleanup;
        }
        const cJSON *actor = s_get (found, "actorId");
        int owns = cJSON_IsString (actor) ? s_owns_actor (call, actor->valuestring) : 0;
        if (owns < 0)
            goto cleanup;
        if (!owns) {
            pl_call_error (call, PL_ERR_FORBIDDEN, "only a GM or the owner of its actor may move token %s",
                           move.token);
            goto cleanup;
        }
        move.actor = actor->valuestring;    /* the builder checks it still is */
    }
    pl_session_update_t update = {
        .build = pl_session_ops_move, .build_arg = &move, .source = "system",
        .campaign_id = s_get (session, "campaignId")->valuestring,
        .min_role = move.actor ? PL_ROLE_PLAYER : PL_ROLE_GM };
    pl_session_commit (call, sid, &update, &result);
    if (result.status == PL_SESSION_APPLIED) {
        cJSON *data = cJSON_CreateObject ();
        cJSON_AddStringToObject (data, "newVersion", result.version);
        pl_call_ok (call, data);
    }
    else
        s_commit_error (call, sid, &result);
cleanup:
    pl_session_result_clear (&result);
    cJSON_Delete (session);
    cJSON_Delete (state);
}

const pl_handler_t pl_gamestate_handlers[] = {
    { PL_EV_GAME_SESSION_CREATE,     s_create },
    { PL_EV_GAME_SESSION_LIST,       s_list },
    { PL_EV_GAME_SESSION_JOIN,       s_join },
    { PL_EV_GAME_SESSION_LEAVE,      s_leave },
    { PL_EV_GAME_STATE_REQUEST_FULL, s_request_full },
    { PL_EV_GAME_STATE_UPDATE,       s_update },
    { PL_EV_GAME_STATE_SYNC,         s_sync },
    { PL_EV_TOKEN_MOVE,              s_token_move },
};
const size_t pl_gamestate_handler_count =
    sizeof pl_gamestate_handlers / sizeof pl_gamestate_handlers[0];
