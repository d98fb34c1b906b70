/*  pl_entity_write - update and delete of campaign entities
 *  (pl_entity.h), and the write-back of a game state's copy
 *  (pl_entity_writeback_*): the writes of the one entity a call names,
 *  and the session copies of it they sync. Create, which commits with a
 *  script of its own, is in pl_entity_create.c. The rules, reads and shared
 *  helpers are in pl_entity.c; what a holder's delete or hidden flip does
 *  to the entities it holds is in pl_entity_held.c, which delete and update
 *  call (pl_entity_int.h).
 *
 *  Every function runs on the worker loop inside a handler. A NULL from
 *  pl_call_command / false from pl_call_run means the runtime already
 *  answered INTERNAL, so the caller only cleans up.
 */
#include "pl_entity_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_session.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the sessions that embed an entity ------------------------------ */

/* The session index of a kind: false for a kind no state embeds. */
static bool
s_session_kind (const char *name, pl_session_kind_t *kind)
{
    if (strcmp (name, "actor") == 0)
        *kind = PL_SESSION_ACTOR;
    else
    if (strcmp (name, "item") == 0)
        *kind = PL_SESSION_ITEM;
    else
        return false;
    return true;
}

/* After a write of entity: every session copy of it becomes the stored
 * entity (pl_session.h, the dual update), skip_sid aside. Logs; never
 * answers. */
void
pl_entity__sync_sessions (pl_call_t *call, const char *name, const cJSON *entity,
                          const char *skip_sid)
{
    pl_session_kind_t kind;
    if (s_session_kind (name, &kind)
    &&  pl_session_entity_sync (call, kind, entity, skip_sid) < 0)
        pl_warn ("%s: cannot read the sessions that embed it; their copies are stale", name);
}

/* ---- update --------------------------------------------------------- */

/* A write-back decided inside a session commit (pl_entity.h). */
struct _pl_entity_wb_t {
    const pl_entity_kind_t *kind;
    const char *campaign;           /* the session's campaign (borrowed)    */
    pl_entity__reads_t *reads;      /* what the decision read: its expectations */
    pl_entity__t e;                 /* the entity after the commit          */
    cJSON *copy;                    /* e as the state may hold it           */
    char *hidden_holder;            /* e's holder, when copy may not name it */
    pl_entity_holder_view_t view;   /* who may see e's holder, for K:updated */
    char *viewer;                   /* view.viewer's text (owned)           */
    char *text;                     /* its JSON to SET; NULL: unchanged     */
    bool moved;                     /* its holder changes                   */
    char *old_holder;               /* ... from this one (NULL: none)       */
    char score[32];                 /* createdAt, its rank in holder sets   */
    pl_err_t err;                   /* a dry run's refusal ...              */
    char why[256];                  /* ... and what it says                 */
    bool rule;                      /* a rule's write (pl_entity_rule_prepare):
                                       a hidden entity may be written      */
    bool member;                    /* e's creator is still a member (for
                                       the events of a hidden entity)      */
};

/* Add to txn the write of entity id of kind as text, moving it from
 * holder from's set to holder to's (either NULL: none), ranked by
 * score. */
static void
s_txn_write (pl_txn_t *txn, const pl_entity_kind_t *kind, const char *id, const char *text,
             const char *from, const char *to, const char *score)
{
    pl_txn_write (txn, "SET " PL_KEY_ENTITY " %s", kind->name, id, text);
    if (from)
        pl_txn_write (txn, "ZREM " PL_KEY_HELD " %s", kind->holder, from, kind->name, id);
    if (to)
        pl_txn_write (txn, "ZADD " PL_KEY_HELD " %s %s", kind->holder, to, kind->name, score, id);
}

/* Refuse: answer err, or on a dry run (dry not NULL) only note it in dry
 * (and a debug line): a copy that would not be written is the caller's
 * to judge. */
static void
s_no (pl_call_t *call, pl_entity_wb_t *dry, pl_err_t err, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
static void
s_no (pl_call_t *call, pl_entity_wb_t *dry, pl_err_t err, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof message, fmt, ap);
    va_end (ap);
    if (dry) {
        dry->err = err;
        snprintf (dry->why, sizeof dry->why, "%s", message);
        pl_debug ("would not be written back: %s", message);
    }
    else
        pl_entity__refuse (call, err, "%s", message);
}

/* A caller that may not see the holder of old reads its holder field as
 * null; writing null there says nothing new to it, so it must not drop a
 * holder it cannot see (a client that sends back what it read). Returns
 * fields, or a copy of them without the holder field (*mine, caller
 * frees), or NULL when answered (Redis failed, out of memory). */
static const cJSON *
s_own_fields (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity_kind_t *kind,
              const pl_entity__t *old, const cJSON *fields, cJSON **mine)
{
    pl_entity__t h;
    *mine = NULL;
    const cJSON *holder = kind->holder_field
                        ? cJSON_GetObjectItemCaseSensitive (fields, kind->holder_field) : NULL;
    if (!old->holder || !cJSON_IsNull (holder))
        return fields;
    int sees = pl_entity__sees_holder (call, reads, kind, old, &h);
    pl_entity__free (&h);
    if (sees < 0)
        return NULL;
    if (sees)
        return fields;
    if (!(*mine = cJSON_Duplicate (fields, true))) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive (*mine, kind->holder_field);
    return *mine;
}

/* Fill a dry run's copy: e as the state may hold it (pl_session_entity_view
 * with its holder h), and who may see the holder for its K:updated. false
 * when out of memory (noted in dry). */
static bool
s_dry_copy (pl_call_t *call, const pl_entity_kind_t *kind, pl_entity_wb_t *dry,
            const pl_entity__t *e, const pl_entity__t *h, const pl_entity_holder_view_t *view)
{
    dry->view = *view;
    dry->view.viewer = NULL;
    if (view->viewer && !(dry->viewer = strdup (view->viewer)))
        goto oom;
    dry->view.viewer = dry->viewer;
    if (!(dry->copy = cJSON_Duplicate (e->json, true)))
        goto oom;
    if (pl_session_entity_view (dry->copy, kind->holder_field, h->json)
    &&  !(dry->hidden_holder = strdup (e->holder)))
        goto oom;
    return true;
oom:
    s_no (call, dry, PL_ERR_INTERNAL, "out of memory");
    return false;
}

/* A dry run decided: *dry takes the entity after the commit (*e, as
 * the state may hold it too: s_dry_copy) and what the decision read
 * (*reads). Returns 1, or -1 when out of memory (noted in dry). */
static int
s_dry_take (pl_call_t *call, const pl_entity_kind_t *kind, pl_entity_wb_t *dry, pl_entity__t *e,
            const pl_entity__t *h, const pl_entity_holder_view_t *view,
            pl_entity__reads_t **reads)
{
    if (!s_dry_copy (call, kind, dry, e, h, view))
        return -1;
    dry->e = *e;
    memset (e, 0, sizeof *e);
    dry->reads = *reads;
    *reads = NULL;
    return 1;
}

/* The reads an update's decision makes once old is known, sent together
 * (pl_entity__reads_run): the holder before and after, and old's
 * creator's role when who hears of a hidden entity depends on it. The
 * holder's creator's role depends on the holder and is read when asked. */
static int
s_update_reads (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity_kind_t *kind,
                const pl_entity__t *old, const cJSON *fields)
{
    const cJSON *holder = kind->holder_field
                        ? cJSON_GetObjectItemCaseSensitive (fields, kind->holder_field) : NULL;
    if (old->holder)
        pl_entity__reads_want (reads, NULL, PL_KEY_ENTITY, kind->holder, old->holder);
    if (cJSON_IsString (holder))
        pl_entity__reads_want (reads, NULL, PL_KEY_ENTITY, kind->holder, holder->valuestring);
    if (old->campaign && !old->is_creator
    &&  (old->hidden || cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (fields, "hidden"))))
        pl_entity__reads_want (reads, old->creator, PL_KEY_CAMPAIGN_MEMBERS, old->campaign);
    return pl_entity__reads_run (reads, call);
}

/* Update entity id with fields, as the caller: the whole of actor:update
 * after its argument checks (dry NULL), and the decision of a write-back
 * (dry not NULL, pl_entity_writeback_prepare). Refusals go through s_no.
 * On a dry run fields are a copy in a session of campaign dry->campaign -
 * a campaign entity must be of it, a hidden entity may not be embedded,
 * and a merge that changes nothing writes nothing.
 * Everything the decision reads goes through one pl_entity__reads_t
 * A dry run writes, publishes and answers
 * nothing: 1 means decided, with *dry filled (text NULL when nothing
 * changes) and dry->reads what it read, for the caller's commit.
 * Otherwise the write is one pl_txn expecting all that was read; returns
 * 1 written (events published, the sessions that embed it synced, and
 * for a holder whose hidden flipped, its held entities' events and
 * copies too: pl_entity__held_flip) with *stored = the stored entity as
 * the caller may see it (caller owns), or -1 not written: answered, or a
 * conflict the runtime runs the handler again for (pl_call_conflict). */
static int
s_update (const pl_entity_kind_t *kind, pl_call_t *call, const char *id, const cJSON *fields,
          pl_entity_wb_t *dry, cJSON **stored)
{
    const char *copy_campaign = dry ? dry->campaign : NULL;
    const char *event = pl_call_name (call);
    const char *why = NULL;
    const bool quiet = dry != NULL;
    char *text = NULL;
    int rc = -1;
    pl_entity__t old = { 0 }, e = { 0 }, h = { 0 };
    cJSON *mine = NULL;
    pl_txn_t *txn = NULL;
    pl_entity__reads_t *reads = pl_entity__reads_new ();
    *stored = NULL;
    assert (!dry || copy_campaign);
    if (!reads) {
        s_no (call, dry, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    /* the entity; for a write-back, the caller's role in the session's
     * campaign with it (the entity's campaign, unless it is a stranger) */
    pl_entity__reads_want (reads, NULL, PL_KEY_ENTITY, kind->name, id);
    if (copy_campaign)
        pl_entity__reads_want (reads, pl_call_caller (call)->user, PL_KEY_CAMPAIGN_MEMBERS,
                               copy_campaign);
    int visible = pl_entity__reads_run (reads, call);
    if (visible == 0)
        visible = pl_entity__fetch (call, reads, kind->name, kind->holder_field, id, quiet, &old,
                                    NULL);
    if (visible < 0) {
        if (dry)
            s_no (call, dry, PL_ERR_INTERNAL, "stored %s %s is unreadable", kind->name, id);
        goto cleanup;
    }
    if (!visible) {
        s_no (call, dry, PL_ERR_NOT_FOUND, "no %s %s", kind->name, id);
        goto cleanup;
    }
    if (!pl_authz_can_write (old.campaign != NULL, old.role, old.is_creator)) {
        s_no (call, dry, PL_ERR_FORBIDDEN, "%s: only its creator or a GM may change %s %s",
              event, kind->name, id);
        goto cleanup;
    }
    if (copy_campaign && old.campaign && strcmp (old.campaign, copy_campaign) != 0) {
        /* a GM of both campaigns: still not this session's to change */
        s_no (call, dry, PL_ERR_FORBIDDEN, "%s: %s %s is not in campaign %s",
              event, kind->name, id, copy_campaign);
        goto cleanup;
    }
    if ((why = pl_entity_input_invalid (kind, old.json, fields))) {
        s_no (call, dry, PL_ERR_VALIDATION_ERROR, "%s: %s", dry ? id : event, why);
        goto cleanup;
    }
    if (s_update_reads (call, reads, kind, &old, fields)) {
        if (dry)
            s_no (call, dry, PL_ERR_INTERNAL, "storage unavailable");
        goto cleanup;
    }
    const cJSON *merged = s_own_fields (call, reads, kind, &old, fields, &mine);
    if (!merged) {
        if (dry)
            s_no (call, dry, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    cJSON *json = cJSON_Duplicate (old.json, true);
    if (json) {
        pl_entity_merge (json, merged);
        /* entities stored before campaigns get the fields now */
        pl_entity__default (json, "campaignId", cJSON_CreateNull ());
        pl_entity__default (json, "hidden", cJSON_CreateFalse ());
        if (kind->holder_field)
            pl_entity__default (json, kind->holder_field, cJSON_CreateNull ());
    }
    if (!json || !pl_entity__view (json, kind->holder_field, &e)) {
        s_no (call, dry, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    e.role = old.role;
    e.is_creator = old.is_creator;
    if (kind->invalid && (why = kind->invalid (e.json))) {
        s_no (call, dry, PL_ERR_VALIDATION_ERROR, "%s: %s", dry ? id : event, why);
        goto cleanup;
    }
    if (copy_campaign && !dry->rule && (old.hidden || e.hidden)) {
        /* every member reads the state: a hidden entity in it would
         * show players what K:get refuses them */
        s_no (call, dry, PL_ERR_VALIDATION_ERROR,
              "%s %s is hidden: a game state is seen by every member, so it cannot embed it",
              kind->name, id);
        goto cleanup;
    }
    /* the holder after the write: who may see it decides the events, the
     * ack and a state's copy; a new one must be visible */
    bool moved = (e.holder || old.holder)
              && (!e.holder || !old.holder || strcmp (e.holder, old.holder) != 0);
    bool holder_seen = true;
    if (e.holder) {
        visible = pl_entity__fetch (call, reads, kind->holder, NULL, e.holder, quiet || !moved,
                                    &h, NULL);
        if (moved && pl_entity__holder_ok (call, quiet, kind, e.holder, visible, &h,
                                           e.campaign)) {
            if (dry)
                s_no (call, dry, visible < 0 ? PL_ERR_INTERNAL : PL_ERR_VALIDATION_ERROR,
                      "%s %s: %s %s cannot hold it", kind->name, id, kind->holder, e.holder);
            goto cleanup;
        }
        if (visible < 0 && pl_call_answered (call))
            goto cleanup;                   /* Redis failed */
        /* a holder gone (or corrupt): only GMs keep its id */
        holder_seen = h.json ? visible == 1 : e.role == PL_ROLE_GM;
    }
    pl_entity_holder_view_t view;
    if (pl_entity__holder_view (call, reads, &e, &h, &view)) {
        if (dry)
            s_no (call, dry, PL_ERR_INTERNAL, "storage unavailable");
        goto cleanup;
    }
    if (copy_campaign && cJSON_Compare (e.json, old.json, true)) {
        /* the copy says nothing new */
        rc = s_dry_take (call, kind, dry, &old, &h, &view, &reads);
        goto cleanup;
    }
    bool member = true;
    if ((old.hidden || e.hidden) && pl_entity__creator_member (call, reads, &e, &member))
        goto cleanup;
    double updated = pl_entity__number (old.json, "updatedAt");
    double now = (double) pl_id_wall_ms ();
    double version = pl_entity__number (old.json, "version") + 1;
    pl_entity_set (e.json, "version", cJSON_CreateNumber (version));
    pl_entity_set (e.json, "updatedAt", cJSON_CreateNumber (now > updated ? now : updated));
    if (!(text = pl_entity__text (call, quiet, kind, e.json))) {
        if (dry)
            s_no (call, dry, PL_ERR_VALIDATION_ERROR, "%s %s is too large or out of memory",
                  kind->name, id);
        goto cleanup;
    }
    char score[32];
    snprintf (score, sizeof score, "%.0f", pl_entity__number (e.json, "createdAt"));
    if (dry) {
        dry->member = member;
        dry->moved = moved;
        if (moved && old.holder && !(dry->old_holder = strdup (old.holder))) {
            s_no (call, dry, PL_ERR_INTERNAL, "out of memory");
            goto cleanup;
        }
        snprintf (dry->score, sizeof dry->score, "%s", score);
        dry->text = text;
        text = NULL;
        rc = s_dry_take (call, kind, dry, &e, &h, &view, &reads);
        goto cleanup;
    }
    /* the commit: all the decision read is as it was, then the write */
    if (!(txn = pl_txn_new ())) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    pl_entity__reads_expect (reads, txn);
    s_txn_write (txn, kind, id, text, moved ? old.holder : NULL, moved ? e.holder : NULL, score);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;                       /* answered, or run again */
    /* what follows reads, publishes and syncs; it cannot undo this */
    pl_entity__publish (call, kind, PL_ENTITY_UPDATE, &e, member, old.hidden, &view, true);
    pl_entity__sync_sessions (call, kind->name, e.json, NULL);
    if (kind->held && old.hidden != e.hidden)
        pl_entity__held_flip (call, kind, &e, PL_CALL_PUBLISH_MAX - PL_ENTITY_PUBS_MAX);
    if (!holder_seen)
        pl_entity__redact (kind, e.json);
    *stored = e.json;
    e.json = NULL;
    rc = 1;
cleanup:
    pl_txn_destroy (&txn);
    pl_entity__reads_destroy (&reads);
    free (text);
    cJSON_Delete (mine);
    pl_entity__free (&old);
    pl_entity__free (&e);
    pl_entity__free (&h);
    return rc;
}

void
pl_entity_update (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg)
{
    assert (kind && call);
    const char *event = pl_call_name (call);
    const char *id = NULL;
    cJSON *stored = NULL;
    if (!cJSON_IsObject (arg)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects {id, ...fields}", event);
        return;
    }
    if (!(id = pl_entity__id (call, kind, cJSON_GetObjectItemCaseSensitive (arg, "id")))
    ||  s_update (kind, call, id, arg, NULL, &stored) < 0)
        return;
    pl_call_ok (call, stored);
}

/* pl_entity_writeback_prepare, and with rule pl_entity_rule_prepare. */
static int
s_prepare (const pl_entity_kind_t *kind, pl_call_t *call, const char *campaign_id,
           const cJSON *copy, bool rule, pl_entity_wb_t **wb, char *why, size_t why_size)
{
    assert (kind && call && campaign_id && wb && !pl_call_answered (call));
    const cJSON *id = cJSON_IsObject (copy) ? cJSON_GetObjectItemCaseSensitive (copy, "id") : NULL;
    cJSON *stored = NULL;
    int rc = 0;
    *wb = NULL;
    pl_entity_wb_t *self = calloc (1, sizeof *self);
    if (!self) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        rc = -1;
        goto cleanup;
    }
    self->kind = kind;
    self->campaign = campaign_id;
    self->rule = rule;
    self->member = true;
    if (!cJSON_IsString (id) || !pl_wire_id_valid (id->valuestring))
        goto cleanup;                       /* never stored: a stranger */
    if (s_update (kind, call, id->valuestring, copy, self, &stored) > 0) {
        *wb = self;
        self = NULL;
        rc = 1;
    }
    else
    if (pl_call_answered (call))
        rc = -1;
    else
    if (self->err == PL_ERR_VALIDATION_ERROR) {
        snprintf (why, why_size, "%s", self->why);
        rc = 2;
    }
    else
    if (rule && self->err != PL_ERR_NONE && !(self->err == PL_ERR_INTERNAL
                                              && strcmp (self->why, "out of memory") == 0))
        snprintf (why, why_size, "%s", self->why);     /* gone, or no authority */
    else
    if (self->err == PL_ERR_INTERNAL && strcmp (self->why, "out of memory") == 0) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        rc = -1;
    }
    /* else NOT_FOUND / FORBIDDEN / unreadable: a stranger's copy, 0 */
cleanup:
    cJSON_Delete (stored);
    pl_entity_writeback_destroy (&self);
    return rc;
}

int
pl_entity_writeback_prepare (const pl_entity_kind_t *kind, pl_call_t *call,
                             const char *campaign_id, const cJSON *copy,
                             pl_entity_wb_t **wb, char *why, size_t why_size)
{
    return s_prepare (kind, call, campaign_id, copy, false, wb, why, why_size);
}

int
pl_entity_rule_prepare (const pl_entity_kind_t *kind, pl_call_t *call,
                        const char *campaign_id, const cJSON *fields,
                        pl_entity_wb_t **wb, char *why, size_t why_size)
{
    return s_prepare (kind, call, campaign_id, fields, true, wb, why, why_size);
}

bool
pl_entity_writeback_changes (const pl_entity_wb_t *wb)
{
    assert (wb);
    return wb->text != NULL;
}

bool
pl_entity_writeback_hidden (const pl_entity_wb_t *wb)
{
    assert (wb);
    return wb->e.hidden;
}

const cJSON *
pl_entity_writeback_entity (const pl_entity_wb_t *wb)
{
    assert (wb);
    return wb->copy;
}

const char *
pl_entity_writeback_holder (const pl_entity_wb_t *wb)
{
    assert (wb);
    return wb->hidden_holder;
}

bool
pl_entity_writeback_add (pl_txn_t *txn, const pl_entity_wb_t *wb)
{
    assert (txn && wb && wb->reads);
    pl_entity__reads_expect (wb->reads, txn);
    if (wb->text)
        s_txn_write (txn, wb->kind, wb->e.id, wb->text, wb->moved ? wb->old_holder : NULL,
                     wb->moved ? wb->e.holder : NULL, wb->score);
    return true;
}

void
pl_entity_writeback_done (pl_call_t *call, const pl_entity_wb_t *wb, const char *skip_sid)
{
    assert (call && wb);
    if (!wb->text)
        return;
    if (wb->rule)                           /* one per application: pl_rule_stats counts */
        pl_debug ("a rule by %s: %s %s written", pl_call_caller (call)->user,
                  wb->kind->name, wb->e.id);
    else
        pl_info ("%s by %s: %s %s written back", pl_call_name (call),
                 pl_call_caller (call)->user, wb->kind->name, wb->e.id);
    /* hidden only for a rule's write, which never changes hidden: no flip */
    pl_entity__publish (call, wb->kind, PL_ENTITY_UPDATE, &wb->e, wb->member, wb->e.hidden,
                        &wb->view, false);
    pl_entity__sync_sessions (call, wb->kind->name, wb->e.json, skip_sid);
}

void
pl_entity_writeback_destroy (pl_entity_wb_t **wb)
{
    assert (wb);
    pl_entity_wb_t *self = *wb;
    if (!self)
        return;
    pl_entity__reads_destroy (&self->reads);
    pl_entity__free (&self->e);
    cJSON_Delete (self->copy);
    free (self->hidden_holder);
    free (self->viewer);
    free (self->text);
    free (self->old_holder);
    free (self);
    *wb = NULL;
}

/* ---- delete --------------------------------------------------------- */

void
pl_entity_delete (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg)
{
    assert (kind && call);
    const char *event = pl_call_name (call);
    pl_entity__t e = { 0 };
    pl_entity__held_t held = { 0 };
    pl_txn_t *txn = NULL;
    pl_entity__reads_t *reads = NULL;
    const char *id = pl_entity__id (call, kind, arg);
    if (!id)
        goto cleanup;
    if (!(reads = pl_entity__reads_new ()) || !(txn = pl_txn_new ())) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    int visible = pl_entity__fetch (call, reads, kind->name, kind->holder_field, id, false, &e,
                                    NULL);
    if (visible < 0)
        goto cleanup;
    if (!visible) {
        pl_call_error (call, PL_ERR_NOT_FOUND, "no %s %s", kind->name, id);
        goto cleanup;
    }
    if (!pl_authz_can_write (e.campaign != NULL, e.role, e.is_creator)) {
        pl_call_error (call, PL_ERR_FORBIDDEN, "%s: only its creator or a GM may delete %s %s",
                       event, kind->name, id);
        goto cleanup;
    }
    bool member = true;
    if (e.hidden && pl_entity__creator_member (call, reads, &e, &member))
        goto cleanup;
    pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX];
    int own = pl_entity_plan (kind, PL_ENTITY_DELETE, e.campaign, e.creator, member, false,
                              e.hidden, NULL, pubs);
    if (kind->held
    &&  pl_entity__held_load (call, reads, kind, &e, PL_CALL_PUBLISH_MAX - (own > 0 ? own : 0),
                              &held))
        goto cleanup;
    /* the commit: what was read is as it was (the entity, the roles, what
     * it holds), then the entity leaves its sets and what it held is
     * held by nobody */
    pl_entity__reads_expect (reads, txn);
    pl_txn_write (txn, "DEL " PL_KEY_ENTITY, kind->name, id);
    if (e.campaign) {
        pl_txn_write (txn, "ZREM " PL_KEY_CAMPAIGN_ENTITIES " %s", e.campaign, kind->name, id);
        pl_txn_write (txn, "ZREM " PL_KEY_USER_CAMPAIGN_ENTITIES " %s", e.creator, kind->name,
                      id);
    }
    else
        pl_txn_write (txn, "ZREM " PL_KEY_USER_ENTITIES " %s", e.creator, kind->name, id);
    if (e.holder)
        pl_txn_write (txn, "ZREM " PL_KEY_HELD " %s", kind->holder, e.holder, kind->name, id);
    if (kind->held)
        pl_entity__held_commit (txn, kind, &e, &held);
    if (pl_txn_commit (txn, call) != 1)
        goto cleanup;                       /* answered, or run again */
    pl_entity__publish (call, kind, PL_ENTITY_DELETE, &e, member, e.hidden, NULL, true);
    /* the held entities' K:updated; only .updated of this kind is used */
    pl_entity_kind_t held_kind = { .name = kind->held, .updated = kind->held_updated };
    for (size_t i = 0; i < held.events; i++)
        pl_entity__publish (call, &held_kind, PL_ENTITY_UPDATE, &held.e[i], held.member[i],
                            held.e[i].hidden, NULL, true);
    /* the dual update: copies of it leave every session state, and the
     * copies of what it held get actorId null (every one of them, past
     * the event budget too: state updates are ordered, so a client that
     * misses one syncs) */
    pl_session_kind_t session_kind;
    if (s_session_kind (kind->name, &session_kind)
    &&  pl_session_entity_remove (call, session_kind, e.json) < 0)
        pl_warn ("%s %s: cannot read the sessions that embed it", kind->name, id);
    for (size_t i = 0; i < held.count; i++)
        pl_entity__sync_sessions (call, kind->held, held.e[i].json, NULL);
    pl_call_ok (call, NULL);
cleanup:
    pl_txn_destroy (&txn);
    pl_entity__reads_destroy (&reads);
    pl_entity__free (&e);
    pl_entity__held_free (&held);
}
