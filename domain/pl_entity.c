/*  pl_entity - campaign entities: the generic CRUD (pl_entity.h). This
 *  file holds the pure rules, the reads (list, get) and the helpers the
 *  writes share with it (pl_entity_int.h); pl_entity_write.c the writes,
 *  pl_entity_held.c what a holder's delete or flip does to what it holds.
 *
 *  Every function runs on the worker loop inside a handler. A NULL from
 *  pl_call_command / false from pl_call_run means the runtime already
 *  answered INTERNAL, so the caller only cleans up.
 */
#include "pl_entity_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ID_MAX            64          /* longest entity id we look up       */
#define S_ENTITY_MAX        65536       /* largest stored entity, JSON bytes   */

/* Fields the server owns: a client's values for them are ignored. */
static const char *const s_server_fields[] = {
    "id", "createdBy", "createdAt", "updatedAt", "version", NULL
};

/* ---- pure helpers --------------------------------------------------- */

void
pl_entity_set (cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive (obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive (obj, key, value);
    else
        cJSON_AddItemToObject (obj, key, value);
}

/* Set obj[key] only when it is absent. Takes ownership of value. */
void
pl_entity__default (cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive (obj, key))
        cJSON_Delete (value);
    else
        cJSON_AddItemToObject (obj, key, value);
}

void
pl_entity_merge (cJSON *entity, const cJSON *fields)
{
    pl_wire_merge (entity, fields, s_server_fields);
}

double
pl_entity__number (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    return cJSON_IsNumber (item) ? item->valuedouble : 0;
}

/* obj[key] when it is a string, else NULL. */
static const char *
s_string (const cJSON *obj, const char *key)
{
    const cJSON *item = key ? cJSON_GetObjectItemCaseSensitive (obj, key) : NULL;
    return cJSON_IsString (item) ? item->valuestring : NULL;
}

static bool
s_entity_id_valid (const cJSON *item)
{
    return cJSON_IsString (item) && *item->valuestring && strlen (item->valuestring) <= S_ID_MAX;
}

const char *
pl_entity_input_invalid (const pl_entity_kind_t *kind, const cJSON *old, const cJSON *fields)
{
    assert (kind && fields);
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (fields, "campaignId");
    const cJSON *hidden = cJSON_GetObjectItemCaseSensitive (fields, "hidden");
    const cJSON *holder = kind->holder_field
                        ? cJSON_GetObjectItemCaseSensitive (fields, kind->holder_field) : NULL;
    if (cid && !old && !cJSON_IsNull (cid)
    &&  !(cJSON_IsString (cid) && pl_wire_id_valid (cid->valuestring)))
        return "campaignId must be a campaign id or null";
    if (cid && old) {
        const char *was = s_string (old, "campaignId");
        const char *now = cJSON_IsString (cid) ? cid->valuestring : NULL;
        if ((!cJSON_IsString (cid) && !cJSON_IsNull (cid))
        ||  (was ? !now || strcmp (was, now) != 0 : now != NULL))
            return "campaignId cannot change";
    }
    if (hidden && !cJSON_IsBool (hidden))
        return "hidden must be a boolean";
    if (holder && !cJSON_IsNull (holder) && !s_entity_id_valid (holder))
        return "the holder must be an id (a string of 1 to 64 characters) or null";
    return NULL;
}

/* printf into a new string (caller frees); NULL when out of memory. */
char *
pl_entity__vfmt (const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf (&text, fmt, ap) < 0)
        text = NULL;
    return text;
}

char *
pl_entity__fmt (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    char *text = pl_entity__vfmt (fmt, ap);
    va_end (ap);
    return text;
}

/* Answer err - or, when the call is answered already, log it at info (a
 * refusal after the ack is no error of that call). */
static void
s_vrefuse (pl_call_t *call, bool quiet, pl_err_t err, const char *fmt, va_list ap)
{
    char message[512];
    vsnprintf (message, sizeof message, fmt, ap);
    if (quiet)
        pl_debug ("would not be written back: %s", message);
    else
    if (pl_call_answered (call))
        pl_info ("after the answer: %s", message);
    else
        pl_call_error (call, err, "%s", message);
}

void
pl_entity__refuse (pl_call_t *call, pl_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_vrefuse (call, false, err, fmt, ap);
    va_end (ap);
}

/* pl_entity__refuse, or when quiet only a debug line: the dry run of a
 * write-back (pl_entity_writeback_prepare) decides before the call is
 * answered, and its caller judges what a refusal means. */
void
pl_entity__say (pl_call_t *call, bool quiet, pl_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_vrefuse (call, quiet, err, fmt, ap);
    va_end (ap);
}

/* Write a room name; false when it does not fit. */
static bool
s_room (char *buf, const char *fmt, const char *id)
{
    int len = snprintf (buf, PL_ENTITY_ROOM_MAX, fmt, id);
    return len > 0 && len < PL_ENTITY_ROOM_MAX;
}

/* Does pub leave out room? */
static bool
s_leaves_out (const pl_entity_pub_t *pub, const char *room)
{
    for (int i = 0; i < pub->except_count; i++)
        if (strcmp (pub->except[i], room) == 0)
            return true;
    return false;
}

/* Leave room out of pub (once). */
static void
s_leave_out (pl_entity_pub_t *pub, const char *room)
{
    if (s_leaves_out (pub, room))
        return;
    assert (pub->except_count < PL_ENTITY_EXCEPT_MAX);
    strcpy (pub->except[pub->except_count++], room);   /* PL_ENTITY_ROOM_MAX-bounded */
}

static void
s_pub (pl_entity_pub_t *pub, pl_push_id_t push, bool id_only, const char *room,
       const char *except1, const char *except2)
{
    memset (pub, 0, sizeof *pub);
    pub->push = push;
    pub->id_only = id_only;
    strcpy (pub->room, room);               /* all PL_ENTITY_ROOM_MAX-bounded */
    if (except1)
        s_leave_out (pub, except1);
    if (except2)
        s_leave_out (pub, except2);
}

/* Split the events of a held entity whose holder not every member may see
 * (pl_entity.h): an event to the campaign room goes with the holder field
 * null to its players, and whole to the GMs and the holder's viewer, each
 * as an event of its own (the except frame keeps the three apart); the
 * creator's own room gets whichever its creator may see. n: the events
 * planned so far; returns how many there are now. */
static int
s_plan_holder (const pl_entity_holder_view_t *holder, const char *user, const char *gm,
               pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX], int n)
{
    char viewer[PL_ENTITY_ROOM_MAX];
    /* a viewer id too long for a room name: only the GMs get the id */
    bool has_viewer = holder->viewer && s_room (viewer, "user:%s", holder->viewer);
    int planned = n;
    for (int i = 0; i < planned; i++) {
        pl_entity_pub_t *pub = &pubs[i];
        if (pub->id_only || strcmp (pub->room, gm) == 0)
            continue;                       /* an id; or the GMs, who see it */
        if (strcmp (pub->room, user) == 0) {
            pub->redacted = !holder->creator_sees;
            continue;
        }
        pub->redacted = true;               /* the campaign room: its players */
        if (!s_leaves_out (pub, gm)) {
            assert (n < PL_ENTITY_PUBS_MAX);
            s_pub (&pubs[n++], pub->push, false, gm, NULL, NULL);
            s_leave_out (pub, gm);
        }
        if (has_viewer && !s_leaves_out (pub, viewer)) {
            assert (n < PL_ENTITY_PUBS_MAX);
            pl_entity_pub_t *seen = &pubs[n++];
            s_pub (seen, pub->push, false, viewer, NULL, NULL);
            for (int j = 0; j < pub->except_count; j++)
                s_leave_out (seen, pub->except[j]);
            s_leave_out (pub, viewer);
        }
    }
    return n;
}

int
pl_entity_plan (const pl_entity_kind_t *kind, pl_entity_op_t op, const char *campaign_id,
                const char *creator, bool creator_member, bool was_hidden, bool hidden,
                const pl_entity_holder_view_t *holder,
                pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX])
{
    assert (kind && creator && pubs);
    int n = -1;
    char user[PL_ENTITY_ROOM_MAX], campaign[PL_ENTITY_ROOM_MAX], gm[PL_ENTITY_ROOM_MAX];
    pl_push_id_t push = op == PL_ENTITY_CREATE ? kind->created
                      : op == PL_ENTITY_UPDATE ? kind->updated : kind->deleted;
    bool id_only = op == PL_ENTITY_DELETE;
    if (!s_room (user, "user:%s", creator))
        goto cleanup;
    n = 0;
    if (!campaign_id) {
        s_pub (&pubs[n++], push, id_only, user, NULL, NULL);
        goto cleanup;
    }
    if (!s_room (campaign, "campaign:%s", campaign_id)
    ||  !s_room (gm, "campaign:%s:gm", campaign_id)) {
        n = -1;
        goto cleanup;
    }
    /* a flip: the players who are neither GM nor creator see it appear or
     * vanish, then those who saw it all along get the update */
    bool flip = op == PL_ENTITY_UPDATE && was_hidden != hidden;
    if (flip)
        s_pub (&pubs[n++], hidden ? kind->deleted : kind->created, hidden, campaign, gm, user);
    if (hidden || flip) {
        s_pub (&pubs[n++], push, id_only, gm, NULL, NULL);
        /* a removed creator is no longer in the audience of a hidden entity */
        if (creator_member)
            s_pub (&pubs[n++], push, id_only, user, gm, NULL);
    }
    else
        s_pub (&pubs[n++], push, id_only, campaign, NULL, NULL);
    if (holder && holder->hidden)
        n = s_plan_holder (holder, user, gm, pubs, n);
cleanup:
    return n;
}

/* ---- a stored entity ------------------------------------------------ */

/* Fill e's facts from json (which e takes). False when json is not an
 * entity. */
bool
pl_entity__view (cJSON *json, const char *holder_field, pl_entity__t *e)
{
    memset (e, 0, sizeof *e);
    e->json = json;
    e->id = s_string (json, "id");
    e->creator = s_string (json, "createdBy");
    e->campaign = s_string (json, "campaignId");
    e->holder = s_string (json, holder_field);
    e->hidden = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (json, "hidden"));
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive (json, "campaignId");
    return e->id && e->creator && (!cid || e->campaign || cJSON_IsNull (cid));
}

void
pl_entity__free (pl_entity__t *e)
{
    cJSON_Delete (e->json);
    memset (e, 0, sizeof *e);
}

/* Read pl:<name>:<id> and the caller's role in its campaign, through
 * reads (NULL: not kept). Returns 1 when the caller may see it, 0 when
 * not (or it does not exist: nothing answered), -1 when answered
 * (INTERNAL; a corrupt entity when quiet: only logged). raw, when given,
 * gets a copy of the stored text. */
int
pl_entity__fetch (pl_call_t *call, pl_entity__reads_t *reads, const char *name,
                  const char *holder_field, const char *id, bool quiet, pl_entity__t *e,
                  char **raw)
{
    int rc = -1;
    const char *uid = pl_call_caller (call)->user;
    const char *text = NULL;
    size_t len = 0;
    redisReply *reply = NULL;
    memset (e, 0, sizeof *e);
    if (reads) {
        if (pl_entity__reads_get (reads, call, NULL, &text, &len, PL_KEY_ENTITY, name, id))
            goto cleanup;
    }
    else {
        if (!(reply = pl_call_command (call, "GET " PL_KEY_ENTITY, name, id)))
            goto cleanup;
        text = reply->type == REDIS_REPLY_STRING ? reply->str : NULL;
        len = reply->len;
    }
    if (!text) {
        rc = 0;
        goto cleanup;
    }
    if (!pl_entity__view (cJSON_ParseWithLength (text, len), holder_field, e)) {
        pl_error (PL_KEY_ENTITY " holds no valid %s", name, id, name);
        pl_entity__say (call, quiet, PL_ERR_INTERNAL, "stored %s is corrupt", name);
        pl_entity__free (e);
        goto cleanup;
    }
    if (raw && !(*raw = strndup (text, len))) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (e->campaign && pl_entity__role (call, reads, e->campaign, uid, &e->role))
        goto cleanup;
    e->is_creator = strcmp (e->creator, uid) == 0;
    rc = pl_authz_can_see (e->campaign != NULL, e->role, e->is_creator, e->hidden) ? 1 : 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

/* Is e's creator still a member of its campaign? 0, or -1 answered. */
int
pl_entity__creator_member (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity__t *e,
                           bool *member)
{
    pl_role_t role = e->role;
    *member = true;
    if (!e->campaign)
        return 0;
    if (!e->is_creator && pl_entity__role (call, reads, e->campaign, e->creator, &role))
        return -1;
    *member = role != PL_ROLE_NONE;
    return 0;
}

/* Is obj's holder field (kind's) named? */
static bool
s_holds (const pl_entity_kind_t *kind, const cJSON *obj)
{
    return kind->holder_field && cJSON_IsString (cJSON_GetObjectItemCaseSensitive (obj,
                                                                kind->holder_field));
}

/* obj as one who may not see its holder reads it: holder field null. */
void
pl_entity__redact (const pl_entity_kind_t *kind, cJSON *obj)
{
    if (s_holds (kind, obj))
        pl_entity_set (obj, kind->holder_field, cJSON_CreateNull ());
}

/* Publish one planned event of e. */
void
pl_entity__publish_one (pl_call_t *call, const pl_entity_kind_t *kind, const pl_entity__t *e,
                        const pl_entity_pub_t *pub, bool redact, bool exclude_origin)
{
    const char *except[PL_ENTITY_EXCEPT_MAX + 1] = { NULL };
    for (int j = 0; j < pub->except_count; j++)
        except[j] = pub->except[j];
    cJSON *payload = pub->id_only ? cJSON_CreateString (e->id) : cJSON_Duplicate (e->json, true);
    if (payload && redact)
        pl_entity__redact (kind, payload);
    pl_call_publish_except (call, pub->room, pub->push, payload, exclude_origin, except);
}

/* Publish the events of a write of e (pl_entity_plan). holder: who may
 * see e's holder (NULL: everyone who sees e). exclude_origin: leave out
 * the caller's connection (it has the ack). */
void
pl_entity__publish (pl_call_t *call, const pl_entity_kind_t *kind, pl_entity_op_t op,
                    const pl_entity__t *e, bool creator_member, bool was_hidden,
                    const pl_entity_holder_view_t *holder, bool exclude_origin)
{
    pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX];
    int n = pl_entity_plan (kind, op, e->campaign, e->creator, creator_member, was_hidden,
                            e->hidden, holder, pubs);
    if (n < 0)
        pl_error ("%s %s: a room name is too long; no events sent", kind->name, e->id);
    for (int i = 0; i < n; i++)
        pl_entity__publish_one (call, kind, e, &pubs[i], pubs[i].redacted, exclude_origin);
}

/* Read e's holder into h (caller frees; through reads) and say
 * whether the caller may see it: pl_authz_can_see, as pl_entity__fetch
 * decides it; a holder that is gone (or corrupt) only a GM of e's
 * campaign (e->role). Returns 1 (no holder: 1), 0 (e's holder field must
 * read null for the caller), or -1 when answered (Redis failed). */
int
pl_entity__sees_holder (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity_kind_t *kind,
                        const pl_entity__t *e, pl_entity__t *h)
{
    memset (h, 0, sizeof *h);
    if (!kind->holder || !e->holder)
        return 1;
    int visible = pl_entity__fetch (call, reads, kind->holder, NULL, e->holder, true, h, NULL);
    if (visible < 0)
        return pl_call_answered (call) ? -1 : e->role == PL_ROLE_GM;
    return h->json ? visible : e->role == PL_ROLE_GM;
}

/* Who may see e's holder h (h as pl_entity__sees_holder read it; e the
 * entity after the write), for e's events. Returns 0, or -1 when Redis
 * failed (answered). */
int
pl_entity__holder_view (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity__t *e,
                        const pl_entity__t *h, pl_entity_holder_view_t *view)
{
    pl_role_t holder_role = PL_ROLE_NONE, creator_role = e->role;
    memset (view, 0, sizeof *view);
    if (!e->campaign || !e->holder || (h->json && !h->hidden))
        return 0;                           /* personal, held by nobody, or in sight */
    view->hidden = true;
    if (h->json) {
        holder_role = h->role;              /* the caller's, in the same campaign */
        if (!h->is_creator
        &&  pl_entity__role (call, reads, e->campaign, h->creator, &holder_role))
            return -1;
        if (holder_role == PL_ROLE_PLAYER)
            view->viewer = h->creator;
    }
    /* e's creator matters only where it gets e on its own room (hidden e) */
    if (e->hidden && !e->is_creator
    &&  pl_entity__role (call, reads, e->campaign, e->creator, &creator_role))
        return -1;
    view->creator_sees = creator_role == PL_ROLE_GM
                      || (creator_role != PL_ROLE_NONE && h->json
                          && strcmp (e->creator, h->creator) == 0);
    return 0;
}

/* The id argument of get/delete (or the id field of update). Returns it,
 * or NULL after answering VALIDATION_ERROR. */
const char *
pl_entity__id (pl_call_t *call, const pl_entity_kind_t *kind, const cJSON *item)
{
    const char *event = pl_call_name (call);
    if (!s_entity_id_valid (item)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "%s expects an %s id (a string of 1 to %d characters)",
                       event, kind->name, S_ID_MAX);
        return NULL;
    }
    return item->valuestring;
}

/* Serialize an entity for storage. Returns the text (caller frees), or
 * NULL after pl_entity__say. */
char *
pl_entity__text (pl_call_t *call, bool quiet, const pl_entity_kind_t *kind, const cJSON *entity)
{
    char *text = cJSON_PrintUnformatted (entity);
    if (!text)
        pl_entity__say (call, quiet, PL_ERR_INTERNAL, "out of memory");
    else
    if (strlen (text) > S_ENTITY_MAX) {
        pl_entity__say (call, quiet, PL_ERR_VALIDATION_ERROR, "an %s is at most %d bytes of JSON",
                           kind->name, S_ENTITY_MAX);
        free (text);
        text = NULL;
    }
    return text;
}

/* Check that holder h may hold an entity of campaign (NULL: personal).
 * visible is pl_entity__fetch's answer. Returns 0, or -1 answered
 * (pl_entity__say). */
int
pl_entity__holder_ok (pl_call_t *call, bool quiet, const pl_entity_kind_t *kind,
                      const char *hid, int visible, const pl_entity__t *h, const char *campaign)
{
    const char *event = pl_call_name (call);
    if (visible < 0)
        return -1;
    if (visible == 0) {
        pl_entity__say (call, quiet, PL_ERR_NOT_FOUND, "%s: no %s %s", event, kind->holder, hid);
        return -1;
    }
    if (h->campaign ? !campaign || strcmp (h->campaign, campaign) != 0 : campaign != NULL) {
        pl_entity__say (call, quiet, PL_ERR_VALIDATION_ERROR,
                        "%s: %s %s is not in the %s's campaign", event, kind->holder, hid,
                        kind->name);
        return -1;
    }
    return 0;
}

/* ---- reads ---------------------------------------------------------- */

/* In list (the entities a caller of role in campaign - NULL: personal -
 * may see), null the holder field of each whose holder the caller may
 * not see (pl_entity__sees_holder's rule): one MGET of the holders.
 * Returns false when Redis failed (answered). */
static bool
s_redact_list (pl_call_t *call, const pl_entity_kind_t *kind, cJSON *list,
               const char *campaign, pl_role_t role)
{
    const char *uid = pl_call_caller (call)->user;
    bool ok = false;
    int n = 0;
    cJSON *item;
    redisReply *values = NULL;
    cJSON_ArrayForEach (item, list)
        n += s_holds (kind, item);
    char **keys = calloc ((size_t) n + 1, sizeof *keys);
    if (!keys)
        goto cleanup;
    keys[0] = "MGET";
    int k = 0;
    cJSON_ArrayForEach (item, list)
        if (s_holds (kind, item)) {
            const cJSON *hid = cJSON_GetObjectItemCaseSensitive (item, kind->holder_field);
            if (!(keys[++k] = pl_entity__fmt (PL_KEY_ENTITY, kind->holder, hid->valuestring)))
                goto cleanup;
        }
    if (n > 0 && !(values = pl_call_command_argv (call, n + 1, (const char **) keys, NULL)))
        goto cleanup;
    k = 0;
    cJSON_ArrayForEach (item, list) {
        if (!s_holds (kind, item))
            continue;
        redisReply *v = k < (int) values->elements ? values->element[k] : NULL;
        k++;
        pl_entity__t h = { 0 };
        bool sees = role == PL_ROLE_GM;     /* a holder gone (or corrupt): GMs */
        if (v && v->type == REDIS_REPLY_STRING
        &&  pl_entity__view (cJSON_ParseWithLength (v->str, v->len), NULL, &h)) {
            bool same = campaign ? h.campaign && strcmp (h.campaign, campaign) == 0 : !h.campaign;
            sees = same && pl_authz_can_see (campaign != NULL, role, strcmp (h.creator, uid) == 0,
                                             h.hidden);
        }
        pl_entity__free (&h);
        if (!sees)
            pl_entity__redact (kind, item);
    }
    ok = true;
cleanup:
    if (!ok && !pl_call_answered (call))
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
    for (int i = 1; keys && i <= n; i++)
        free (keys[i]);
    free (keys);
    if (values)
        freeReplyObject (values);
    return ok;
}

/* Answer with the entities of zset set_key the caller may see, oldest
 * first. campaign (NULL: personal) and role are the set's campaign and the
 * caller's role in it: an entity of another campaign is left out.
 * holder_seen: the caller sees whatever holds them (a holder's set), so no
 * holder field is nulled. The set is bounded by the per-user limit times
 * the campaign's members. */
static void
s_answer_list (pl_call_t *call, const pl_entity_kind_t *kind, const char *set_key,
               const char *campaign, pl_role_t role, bool holder_seen)
{
    const char *uid = pl_call_caller (call)->user;
    cJSON *list = cJSON_CreateArray ();
    char **keys = NULL;
    redisReply *values = NULL;
    redisReply *ids = pl_call_command (call, "ZRANGE %s 0 -1", set_key);
    if (!ids || !list || ids->type != REDIS_REPLY_ARRAY)
        goto cleanup;
    size_t n = ids->elements;
    if (n > 0) {
        /* one MGET for all of them: argv = MGET pl:<kind>:<id>... */
        keys = calloc (n + 1, sizeof *keys);
        if (!keys)
            goto cleanup;
        keys[0] = "MGET";
        for (size_t i = 0; i < n; i++)
            if (asprintf (&keys[i + 1], PL_KEY_ENTITY, kind->name, ids->element[i]->str) < 0) {
                keys[i + 1] = NULL;
                goto cleanup;
            }
        values = pl_call_command_argv (call, (int) n + 1, (const char **) keys, NULL);
        if (!values)
            goto cleanup;
    }
    for (size_t i = 0; values && i < values->elements; i++) {
        /* nil: deleted between ZRANGE and MGET - no longer listed */
        if (values->element[i]->type != REDIS_REPLY_STRING)
            continue;
        pl_entity__t e;
        cJSON *json = cJSON_ParseWithLength (values->element[i]->str, values->element[i]->len);
        if (!pl_entity__view (json, kind->holder_field, &e)) {
            pl_error (PL_KEY_ENTITY " holds no valid %s", kind->name, ids->element[i]->str,
                      kind->name);
            pl_entity__free (&e);
            continue;
        }
        bool same = campaign ? e.campaign && strcmp (e.campaign, campaign) == 0 : !e.campaign;
        if (same && pl_authz_can_see (campaign != NULL, role, strcmp (e.creator, uid) == 0,
                                      e.hidden)) {
            cJSON_AddItemToArray (list, e.json);
            e.json = NULL;
        }
        pl_entity__free (&e);
    }
    if (kind->holder && !holder_seen && !s_redact_list (call, kind, list, campaign, role))
        goto cleanup;
    pl_call_ok (call, list);
    list = NULL;
cleanup:
    if (!pl_call_answered (call))
        pl_call_error (call, PL_ERR_INTERNAL, "cannot list %ss", kind->name);
    for (size_t i = 1; keys && i <= ids->elements; i++)
        free (keys[i]);
    free (keys);
    if (ids)
        freeReplyObject (ids);
    if (values)
        freeReplyObject (values);
    cJSON_Delete (list);
}

void
pl_entity_list (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg)
{
    assert (kind && call);
    const char *uid = pl_call_caller (call)->user;
    const char *event = pl_call_name (call);
    const cJSON *cid = NULL, *hid = NULL;
    char *set_key = NULL;
    pl_entity__t h = { 0 };
    if (arg && !cJSON_IsNull (arg)) {
        if (!cJSON_IsObject (arg)) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects none, {campaignId}%s%s%s",
                           event, kind->holder ? " or {" : "",
                           kind->holder ? kind->holder_field : "", kind->holder ? "}" : "");
            goto cleanup;
        }
        cid = cJSON_GetObjectItemCaseSensitive (arg, "campaignId");
        hid = kind->holder ? cJSON_GetObjectItemCaseSensitive (arg, kind->holder_field) : NULL;
        cid = cJSON_IsNull (cid) ? NULL : cid;
        hid = cJSON_IsNull (hid) ? NULL : hid;
    }
    if (cid && hid) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s takes campaignId or %s, not both",
                       event, kind->holder_field);
        goto cleanup;
    }
    if (cid) {
        pl_role_t role;
        if (!cJSON_IsString (cid) || !pl_wire_id_valid (cid->valuestring)) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s: campaignId must be a campaign id",
                           event);
            goto cleanup;
        }
        if (pl_authz_role (call, cid->valuestring, uid, &role))
            goto cleanup;
        if (role == PL_ROLE_NONE) {
            pl_call_error (call, PL_ERR_FORBIDDEN, "%s: you are not a member of campaign %s",
                           event, cid->valuestring);
            goto cleanup;
        }
        if (asprintf (&set_key, PL_KEY_CAMPAIGN_ENTITIES, cid->valuestring, kind->name) < 0)
            set_key = NULL;
        else
            s_answer_list (call, kind, set_key, cid->valuestring, role, false);
    }
    else
    if (hid) {
        const char *id = pl_entity__id (call, kind, hid);
        if (!id)
            goto cleanup;
        int visible = pl_entity__fetch (call, NULL, kind->holder, NULL, id, false, &h, NULL);
        if (visible < 0)
            goto cleanup;
        if (!visible) {
            pl_call_error (call, PL_ERR_NOT_FOUND, "%s: no %s %s", event, kind->holder, id);
            goto cleanup;
        }
        if (asprintf (&set_key, PL_KEY_HELD, kind->holder, id, kind->name) < 0)
            set_key = NULL;
        else
            s_answer_list (call, kind, set_key, h.campaign, h.role, true);
    }
    else
    if (asprintf (&set_key, PL_KEY_USER_ENTITIES, uid, kind->name) < 0)
        set_key = NULL;
    else
        s_answer_list (call, kind, set_key, NULL, PL_ROLE_NONE, false);
cleanup:
    if (!pl_call_answered (call))
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
    pl_entity__free (&h);
    free (set_key);
}

void
pl_entity_get (const pl_entity_kind_t *kind, pl_call_t *call, const cJSON *arg)
{
    assert (kind && call);
    pl_entity__t e = { 0 }, h = { 0 };
    const char *id = pl_entity__id (call, kind, arg);
    int visible = id ? pl_entity__fetch (call, NULL, kind->name, kind->holder_field, id, false, &e,
                                         NULL)
                     : -1;
    if (visible == 0)
        pl_call_error (call, PL_ERR_NOT_FOUND, "no %s %s", kind->name, id);
    else
    if (visible == 1) {
        int sees = pl_entity__sees_holder (call, NULL, kind, &e, &h);
        if (sees < 0)
            goto cleanup;
        if (!sees)
            pl_entity__redact (kind, e.json);
        pl_call_ok (call, e.json);
        e.json = NULL;
    }
cleanup:
    pl_entity__free (&e);
    pl_entity__free (&h);
}

