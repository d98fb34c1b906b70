/*  pl_rule_run - the runner of a campaign's rules (pl_rule.h, "The
 *  runner"): read again, evaluate, apply once per transition in one
 *  compare-and-set commit, announce.
 *
 *  Runs on the worker loop inside a call that answers nobody (a bus call
 *  of workers/rules).
 */
#include "pl_rule.h"
#include "pl_authz.h"
#include "pl_entity.h"
#include "pl_session.h"
#include "pl_state.h"
#include "pl_keys.h"
#include "pl_log.h"
#include "pl_txn.h"
#include "pl_wire.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* This process's counters (pl_rule_stats): only the worker loop runs
 * rules. */
static pl_rule_stats_t s_stats;

pl_rule_stats_t
pl_rule_stats (void)
{
    return s_stats;
}

/* One run: the thing watched, as read. */
typedef struct {
    pl_rule_on_t on;
    const char *kind;               /* "actor", "item", "gameState"        */
    const char *id;                 /* the entity's id, or the session's   */
    char *campaign;                 /* its campaign (owned)                */
    cJSON *doc;                     /* the entity or state, as read        */
    uint64_t version;               /* its version                         */
    char version_text[24];
    bool hidden;                    /* a hidden entity                     */
    cJSON *marks;                   /* the record: field -> value (owned)  */
    char *seen_text;                /* its "seen" as read, NULL: none      */
    int depth;                      /* of the version read                 */
    pl_rule_t **rules;              /* the campaign's rules watching it    */
    size_t count;
    signed char *now;               /* per rule: when is true now          */
    bool *fire;                     /* ... it fires (true, no mark)        */
    bool *keep;                     /* ... its mark stays as it was        */
    bool *applied;                  /* ... its then is in the write        */
    bool changes;                   /* the write makes a new version       */
} s_run_t;

static bool
s_u64 (const char *text, uint64_t *value)
{
    bool ok = false;
    if (!text || !*text || *text == '-' || *text == '+')
        goto cleanup;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || *end)
        goto cleanup;
    *value = v;
    ok = true;
cleanup:
    return ok;
}

static const char *
s_mark (const s_run_t *r, const char *field)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (r->marks, field);
    return cJSON_IsString (item) ? item->valuestring : NULL;
}

static bool
s_marked (const s_run_t *r, const pl_rule_t *rule)
{
    char field[16 + PL_WIRE_ID_MAX];
    snprintf (field, sizeof field, "m:%s", pl_rule_id (rule));
    return s_mark (r, field) != NULL;
}

static void
s_free (s_run_t *r)
{
    free (r->campaign);
    cJSON_Delete (r->doc);
    cJSON_Delete (r->marks);
    free (r->seen_text);
    pl_rule_list_free (&r->rules, &r->count);
    free (r->now);
    free (r->fire);
    free (r->keep);
    free (r->applied);
}

/* state_invalidated for rule to the campaign's room (its GMs' for a
 * hidden entity). */
static void
s_announce (pl_call_t *call, const s_run_t *r, const pl_rule_t *rule, const char *reason)
{
    char room[32 + PL_WIRE_ID_MAX];
    snprintf (room, sizeof room, "campaign:%s%s", r->campaign, r->hidden ? ":gm" : "");
    cJSON *payload = cJSON_CreateObject ();
    if (payload) {
        cJSON_AddStringToObject (payload, "campaignId", r->campaign);
        cJSON_AddStringToObject (payload, "entity", r->kind);
        cJSON_AddStringToObject (payload, "id", r->id);
        cJSON_AddStringToObject (payload, "reason", reason);
        cJSON_AddStringToObject (payload, "rule", pl_rule_id (rule));
        pl_call_publish (call, room, PL_PUSH_STATE_INVALIDATED, payload, false);
    }
}

/* Whether the record's mark field ("m:<rule id>") belongs to none of the
 * rules read: a rule deleted since (its mark would stay forever). */
static bool
s_orphan (const s_run_t *r, const char *field)
{
    bool orphan = strncmp (field, "m:", 2) == 0;
    for (size_t i = 0; orphan && i < r->count; i++)
        orphan = strcmp (field + 2, pl_rule_id (r->rules[i])) != 0;
    return orphan;
}

/* Add to txn what the decision read of the record ("seen" unchanged) and
 * its writes: seen, the marks, and with written (a rule write made the
 * next version) dv/dd. The marks of rules that no longer exist go too
 * (at most PL_RULE_PER_CAMPAIGN a rewrite: the rest the next time), so
 * the record holds at most the campaign's rules' marks. Pruning is safe
 * under the "seen" expectation: every rewrite of the record moves "seen",
 * so the marks removed are those this run read, and a rule's id is never
 * reused. */
static void
s_queue_record (pl_txn_t *txn, const s_run_t *r, bool written)
{
    char key[64 + PL_WIRE_ID_MAX];
    snprintf (key, sizeof key, PL_KEY_RULES_MARKS, r->kind, r->id);
    pl_txn_expect_field (txn, "seen", r->seen_text, "%s", key);
    /* at most PL_RULE_PER_CAMPAIGN rules move (create keeps the bound),
     * and at most as many orphans go */
    const char *argv[8 + 2 * PL_RULE_PER_CAMPAIGN];
    const char *del[2 + 2 * PL_RULE_PER_CAMPAIGN];
    char fields[PL_RULE_PER_CAMPAIGN][8 + PL_WIRE_ID_MAX];
    int argc = 0, ndel = 0, nfields = 0;
    argv[argc++] = "HSET";
    argv[argc++] = key;
    argv[argc++] = "seen";
    argv[argc++] = r->version_text;
    char dv[24], dd[16];
    if (written) {
        snprintf (dv, sizeof dv, "%" PRIu64, r->version + 1);
        snprintf (dd, sizeof dd, "%d", r->depth + 1);
        argv[argc++] = "dv";
        argv[argc++] = dv;
        argv[argc++] = "dd";
        argv[argc++] = dd;
    }
    del[ndel++] = "HDEL";
    del[ndel++] = key;
    for (size_t i = 0; i < r->count && nfields < PL_RULE_PER_CAMPAIGN; i++) {
        if (r->keep[i])
            continue;
        bool marked = s_marked (r, r->rules[i]);
        if (r->now[i] == (marked ? 1 : 0))
            continue;
        char *field = fields[nfields++];
        snprintf (field, sizeof fields[0], "m:%s", pl_rule_id (r->rules[i]));
        if (r->now[i]) {
            argv[argc++] = field;
            argv[argc++] = "1";
        }
        else
            del[ndel++] = field;
    }
    int orphans = 0;
    for (const cJSON *m = r->marks->child; m && orphans < PL_RULE_PER_CAMPAIGN; m = m->next)
        if (s_orphan (r, m->string)) {
            del[ndel++] = m->string;
            orphans++;
        }
    pl_txn_write_argv (txn, argc, argv, NULL);
    if (ndel > 2)
        pl_txn_write_argv (txn, ndel, del, NULL);
}

/* Commit only the record (nothing to apply). Returns 1 committed, 0 lost
 * (the runtime runs the call again), -1 failed. */
static int
s_commit_record (pl_call_t *call, const s_run_t *r)
{
    int rc = -1;
    pl_txn_t *txn = pl_txn_new ();
    if (!txn)
        goto cleanup;
    s_queue_record (txn, r, false);
    rc = pl_txn_commit (txn, call);
cleanup:
    pl_txn_destroy (&txn);
    return rc;
}

/* Expect every applied rule's creator still a GM of the campaign. */
static void
s_expect_creators (pl_txn_t *txn, const s_run_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->applied[i])
            pl_txn_expect_field (txn, pl_rule_creator (r->rules[i]), "gm",
                                 PL_KEY_CAMPAIGN_MEMBERS, r->campaign);
}

/* pl_session_update_t.queue of a game-state rule write: called back by
 * pl_session_commit as it builds its commit, on the worker loop inside
 * the bus call (between its Redis reads and its commit). */
static bool
s_queue_state (pl_txn_t *txn, void *arg)
{
    const s_run_t *r = arg;
    s_expect_creators (txn, r);
    s_queue_record (txn, r, true);
    return true;
}

/* Read the thing, its record and the rules. Returns 1 read (something
 * to evaluate), 0 nothing to do, -1 failed. */
static int
s_read (pl_call_t *call, s_run_t *r)
{
    int rc = -1;
    pl_redis_batch_t b = { 0 };
    if (r->on == PL_RULE_ON_STATE) {
        pl_redis_batch_add (&b, "HGET " PL_KEY_SESSION " campaignId", r->id);
        pl_redis_batch_add (&b, "GET " PL_KEY_SESSION_STATE, r->id);
    }
    else
        pl_redis_batch_add (&b, "GET " PL_KEY_ENTITY, r->kind, r->id);
    pl_redis_batch_add (&b, "HGETALL " PL_KEY_RULES_MARKS, r->kind, r->id);
    if (!pl_call_batch (call, &b))
        goto cleanup;
    size_t at = r->on == PL_RULE_ON_STATE ? 1 : 0;
    const redisReply *doc = b.reply[at], *marks = b.reply[at + 1];
    rc = 0;
    if (doc->type != REDIS_REPLY_STRING)
        goto cleanup;                       /* gone */
    r->doc = cJSON_ParseWithLength (doc->str, doc->len);
    if (!cJSON_IsObject (r->doc)) {
        pl_warn ("rules: stored %s %s is corrupt", r->kind, r->id);
        goto cleanup;
    }
    const char *campaign = NULL;
    if (r->on == PL_RULE_ON_STATE) {
        if (b.reply[0]->type == REDIS_REPLY_STRING)
            campaign = b.reply[0]->str;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive (r->doc, "stateVersion");
        if (!cJSON_IsString (v) || !s_u64 (v->valuestring, &r->version))
            goto cleanup;
    }
    else {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive (r->doc, "campaignId");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive (r->doc, "version");
        campaign = cJSON_IsString (c) ? c->valuestring : NULL;
        if (!cJSON_IsNumber (v) || v->valuedouble < 1 || v->valuedouble > 9007199254740991.0)
            goto cleanup;
        r->version = (uint64_t) v->valuedouble;
        r->hidden = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r->doc, "hidden"));
    }
    if (!campaign || !pl_wire_id_valid (campaign))
        goto cleanup;                       /* personal: no campaign, no rules */
    snprintf (r->version_text, sizeof r->version_text, "%" PRIu64, r->version);
    if (!(r->campaign = strdup (campaign)) || !(r->marks = cJSON_CreateObject ())) {
        rc = -1;
        goto cleanup;
    }
    for (size_t i = 0; marks->type == REDIS_REPLY_ARRAY && i + 1 < marks->elements; i += 2)
        if (marks->element[i]->type == REDIS_REPLY_STRING
        &&  marks->element[i + 1]->type == REDIS_REPLY_STRING)
            cJSON_AddStringToObject (r->marks, marks->element[i]->str, marks->element[i + 1]->str);
    const char *seen = s_mark (r, "seen");
    uint64_t seen_v = 0, dv = 0, dd = 0;
    if (seen && !(r->seen_text = strdup (seen))) {
        rc = -1;
        goto cleanup;
    }
    if (seen && s_u64 (seen, &seen_v) && seen_v >= r->version)
        goto cleanup;                       /* evaluated already */
    if (s_u64 (s_mark (r, "dv"), &dv) && dv == r->version && s_u64 (s_mark (r, "dd"), &dd)
    &&  dd <= PL_RULE_DEPTH_MAX)
        r->depth = (int) dd;
    rc = 1;
cleanup:
    pl_redis_batch_clear (&b);
    return rc;
}

/* Which creators of firing rules are GMs now: keep (skip) the others. */
static int
s_check_creators (pl_call_t *call, s_run_t *r)
{
    int rc = -1;
    size_t n = 0;
    const char **argv = calloc (r->count + 2, sizeof *argv);
    redisReply *reply = NULL;
    char key[32 + PL_WIRE_ID_MAX];
    snprintf (key, sizeof key, PL_KEY_CAMPAIGN_MEMBERS, r->campaign);
    if (!argv)
        goto cleanup;
    argv[n++] = "HMGET";
    argv[n++] = key;
    for (size_t i = 0; i < r->count; i++)
        if (r->fire[i])
            argv[n++] = pl_rule_creator (r->rules[i]);
    reply = pl_call_command_argv (call, (int) n, argv, NULL);
    if (!reply)
        goto cleanup;
    size_t k = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (!r->fire[i])
            continue;
        const redisReply *e = reply->type == REDIS_REPLY_ARRAY && k < reply->elements
                            ? reply->element[k] : NULL;
        k++;
        if (!e || e->type != REDIS_REPLY_STRING || pl_authz_role_parse (e->str) != PL_ROLE_GM) {
            pl_warn ("rule %s of campaign %s: %s is no longer a GM of it; not applied",
                     pl_rule_id (r->rules[i]), r->campaign, pl_rule_creator (r->rules[i]));
            s_stats.not_gm++;
            r->fire[i] = false;
            r->keep[i] = true;
        }
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    free (argv);
    return rc;
}

/* The fields of an entity rule's write: work, and null for each
 * top-level member then unset (K:update merges, so a missing key would
 * stay). NULL when out of memory. */
static cJSON *
s_fields (const cJSON *before, const cJSON *work)
{
    cJSON *fields = cJSON_Duplicate (work, true);
    for (const cJSON *m = before->child; fields && m; m = m->next)
        if (m->string && !cJSON_GetObjectItemCaseSensitive (work, m->string))
            cJSON_AddNullToObject (fields, m->string);
    return fields;
}

/* Apply the firing rules, in creation order, to work (a copy of r->doc):
 * each then to what the ones before made. A then that does not apply to
 * it is logged and consumed (it would fail again on this very thing).
 * With ops (a game state's write) their operations are gathered there,
 * and a rule that would take the write past PL_STATE_MAX_OPS is left for
 * the next change (its mark stays unset). Returns the creator of the
 * first rule applied (the write carries that GM's authority), or NULL
 * when none applied. */
static const char *
s_apply_firing (s_run_t *r, cJSON **work, cJSON *ops)
{
    const char *actor = NULL;
    char why[256];
    for (size_t i = 0; i < r->count; i++) {
        if (!r->fire[i])
            continue;
        const cJSON *then = pl_rule_then (r->rules[i]);
        if (ops && cJSON_GetArraySize (ops) + cJSON_GetArraySize (then) > PL_STATE_MAX_OPS) {
            r->keep[i] = true;
            continue;
        }
        cJSON *next = pl_rule_apply (r->rules[i], *work, why, sizeof why);
        if (!next) {
            pl_warn ("rule %s on %s %s: %s; not applied", pl_rule_id (r->rules[i]), r->kind,
                     r->id, why);
            continue;
        }
        cJSON_Delete (*work);
        *work = next;
        for (const cJSON *op = ops ? then->child : NULL; op; op = op->next)
            cJSON_AddItemToArray (ops, cJSON_Duplicate (op, true));
        r->applied[i] = true;
        if (!actor)
            actor = pl_rule_creator (r->rules[i]);
    }
    return actor;
}

/* Apply the firing rules to an actor or item. Returns as pl_rule_run. */
static int
s_apply_entity (pl_call_t *call, s_run_t *r)
{
    static const pl_entity_kind_t *kinds[] = { &pl_entity_actor, &pl_entity_item };
    const pl_entity_kind_t *kind = kinds[r->on];
    int rc = -1;
    const char *actor = NULL;
    char why[256];
    cJSON *work = cJSON_Duplicate (r->doc, true), *fields = NULL;
    pl_entity_wb_t *wb = NULL;
    pl_txn_t *txn = NULL;
    if (!work)
        goto cleanup;
    if (!(actor = s_apply_firing (r, &work, NULL))) {
        rc = s_commit_record (call, r) == 1 ? 0 : -1;
        goto cleanup;
    }
    if (!(fields = s_fields (r->doc, work)) || !pl_call_act_as (call, actor, "rules"))
        goto cleanup;
    int prepared = pl_entity_rule_prepare (kind, call, r->campaign, fields, &wb, why, sizeof why);
    if (prepared < 0)
        goto cleanup;
    if (prepared != 1) {
        pl_warn ("rules on %s %s: %s; not applied", r->kind, r->id, why);
        memset (r->applied, 0, r->count * sizeof *r->applied);
        rc = s_commit_record (call, r) == 1 ? 0 : -1;
        goto cleanup;
    }
    /* the write is decided on what the store holds now, which must be the
     * version the rules were evaluated on */
    r->changes = pl_entity_writeback_changes (wb);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive (pl_entity_writeback_entity (wb), "version");
    if (!cJSON_IsNumber (v)
    ||  (uint64_t) v->valuedouble != r->version + (r->changes ? 1 : 0)) {
        pl_call_conflict (call);
        goto cleanup;
    }
    if (!(txn = pl_txn_new ()) || !pl_entity_writeback_add (txn, wb))
        goto cleanup;
    s_expect_creators (txn, r);
    s_queue_record (txn, r, r->changes);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;                       /* failed, or run again */
    pl_entity_writeback_done (call, wb, NULL);
    for (size_t i = 0; i < r->count; i++)
        if (r->applied[i]) {
            /* debug: one line per application would flood the log */
            pl_debug ("rule %s applied to %s %s (version %" PRIu64 ", depth %d)",
                      pl_rule_id (r->rules[i]), r->kind, r->id, r->version, r->depth + 1);
            s_stats.applied++;
            s_announce (call, r, r->rules[i], "rule");
        }
    rc = 0;
cleanup:
    pl_txn_destroy (&txn);
    pl_entity_writeback_destroy (&wb);
    cJSON_Delete (work);
    cJSON_Delete (fields);
    return rc;
}

/* Apply the firing rules to a game state. Returns as pl_rule_run. */
static int
s_apply_state (pl_call_t *call, s_run_t *r)
{
    int rc = -1;
    const char *actor = NULL;
    cJSON *work = cJSON_Duplicate (r->doc, true), *ops = cJSON_CreateArray ();
    pl_session_result_t result = { 0 };
    if (!work || !ops)
        goto cleanup;
    if (!(actor = s_apply_firing (r, &work, ops))) {
        rc = s_commit_record (call, r) == 1 ? 0 : -1;
        goto cleanup;
    }
    if (!pl_call_act_as (call, actor, "rules"))
        goto cleanup;
    r->changes = true;
    pl_session_update_t update = {
        .expected = r->version_text, .operations = ops, .source = "rules",
        .campaign_id = r->campaign, .min_role = PL_ROLE_GM,
        .queue = s_queue_state, .build_arg = r,
    };
    pl_session_commit (call, r->id, &update, &result);
    switch (result.status) {
        case PL_SESSION_APPLIED:
            for (size_t i = 0; i < r->count; i++)
                if (r->applied[i]) {
                    pl_debug ("rule %s applied to the state of session %s (version %s, "
                              "depth %d)", pl_rule_id (r->rules[i]), r->id, result.version,
                              r->depth + 1);
                    s_stats.applied++;
                    s_announce (call, r, r->rules[i], "rule");
                }
            rc = 0;
            break;
        case PL_SESSION_CONFLICT:
        case PL_SESSION_MISSING:
            rc = 0;                         /* moved on: the next event's */
            break;
        case PL_SESSION_FORBIDDEN:
        case PL_SESSION_INVALID:
        case PL_SESSION_REFUSED:
        case PL_SESSION_NOOP:
            pl_warn ("rules on the state of session %s: %s; not applied", r->id, result.why);
            memset (r->applied, 0, r->count * sizeof *r->applied);
            r->changes = false;
            rc = s_commit_record (call, r) == 1 ? 0 : -1;
            break;
        default:
            break;                          /* RETRY (run again), FAILED, BUSY */
    }
cleanup:
    pl_session_result_clear (&result);
    cJSON_Delete (work);
    cJSON_Delete (ops);
    return rc;
}

int
pl_rule_run (pl_call_t *call, pl_rule_on_t on, const char *id)
{
    assert (call && id && (int) on >= 0 && on < PL_RULE_ON_COUNT);
    s_run_t r = { .on = on, .kind = pl_rule_on_name (on), .id = id };
    int rc = s_read (call, &r);
    if (rc <= 0)
        goto cleanup;
    s_stats.runs++;
    rc = -1;
    if (pl_rule_list (call, r.campaign, on, &r.rules, &r.count))
        goto cleanup;
    rc = 0;
    if (r.count == 0)
        goto cleanup;
    r.now = calloc (r.count, sizeof *r.now);
    r.fire = calloc (r.count, sizeof *r.fire);
    r.keep = calloc (r.count, sizeof *r.keep);
    r.applied = calloc (r.count, sizeof *r.applied);
    if (!r.now || !r.fire || !r.keep || !r.applied) {
        rc = -1;
        goto cleanup;
    }
    bool fires = false, changes = false;
    for (size_t i = 0; i < r.count; i++) {
        int when = pl_rule_when (r.rules[i], r.doc);
        if (when < 0)
            pl_warn ("rule %s on %s %s: its when could not be evaluated (counts as false)",
                     pl_rule_id (r.rules[i]), r.kind, id);
        bool marked = s_marked (&r, r.rules[i]);
        r.now[i] = when == 1;
        r.fire[i] = when == 1 && !marked;
        fires |= r.fire[i];
        changes |= r.now[i] != (marked ? 1 : 0);
    }
    if (!changes)
        goto cleanup;                       /* nothing fires, no mark moves */
    if (!fires) {
        rc = s_commit_record (call, &r) == 1 ? 0 : -1;
        goto cleanup;
    }
    if (r.depth >= PL_RULE_DEPTH_MAX) {
        /* a chain of rules: this transition is consumed, not applied */
        if (s_commit_record (call, &r) != 1) {
            rc = -1;
            goto cleanup;
        }
        for (size_t i = 0; i < r.count; i++)
            if (r.fire[i]) {
                pl_warn ("rule %s on %s %s: a chain of %d rule writes; not applied",
                         pl_rule_id (r.rules[i]), r.kind, id, r.depth);
                s_stats.depth_stops++;
                s_announce (call, &r, r.rules[i], "depth");
            }
        goto cleanup;
    }
    if (s_check_creators (call, &r)) {
        rc = -1;
        goto cleanup;
    }
    rc = on == PL_RULE_ON_STATE ? s_apply_state (call, &r) : s_apply_entity (call, &r);
cleanup:
    s_free (&r);
    return rc;
}

int
pl_rule_forget (pl_call_t *call, pl_rule_on_t on, const char *id)
{
    assert (call && id && (on == PL_RULE_ON_ACTOR || on == PL_RULE_ON_ITEM));
    int rc = -1;
    const char *kind = pl_rule_on_name (on);
    /* K:deleted also tells the players that an entity was hidden (or its
     * holder was): it is still there, and its record (the marks, the
     * depth of its version) must stay, or a rule true all along would
     * fire again on its next change. An id is never used again, so once
     * the entity is gone it is gone for good. */
    redisReply *exists = pl_call_command (call, "EXISTS " PL_KEY_ENTITY, kind, id);
    redisReply *del = NULL;
    if (!exists)
        goto cleanup;
    if (exists->type == REDIS_REPLY_INTEGER && exists->integer == 0
    &&  !(del = pl_call_command (call, "DEL " PL_KEY_RULES_MARKS, kind, id)))
        goto cleanup;
    rc = 0;
cleanup:
    if (exists)
        freeReplyObject (exists);
    if (del)
        freeReplyObject (del);
    return rc;
}
