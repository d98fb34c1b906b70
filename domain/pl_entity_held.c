/*  pl_entity_held - what happens to the entities a holder holds (an
 *  actor's items) when the holder itself is written: deleted, or hidden or
 *  revealed. pl_entity_write.c's delete and update call it
 *  (pl_entity_int.h); the rules for who may see a holder stay in
 *  pl_entity.c (pl_entity__holder_view, pl_entity__sees_holder).
 *
 *  It is its own file because it is a second fan-out inside the holder's
 *  write, over the holder's set (pl:H:<hid>:Ks) rather than the one entity
 *  the call names, with the events left in the call's publish budget;
 *  only a kind with held entities (pl_entity_kind_t.held) reaches it.
 *
 *    delete: pl_entity__held_load reads what the holder holds and
 *            prepares each one's update (holder field null, version + 1);
 *            pl_entity__held_commit adds to pl_entity_delete's pl_txn that
 *            the set and each of them are as read, and their writes;
 *            after the commit, delete announces them and syncs their
 *            session copies.
 *    flip:   after an update that hid or revealed the holder has
 *            committed, pl_entity__held_flip tells the players whose view
 *            of each held entity's holder field changed, and syncs the
 *            copies.
 *
 *  Every function runs on the worker loop inside a handler. A NULL from
 *  pl_call_command / false from pl_call_run means the runtime already
 *  answered INTERNAL, so the caller only cleans up.
 */
#include "pl_entity_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_keys.h"

#include <stdlib.h>
#include <string.h>

/* ---- a holder deleted ----------------------------------------------- */

void
pl_entity__held_free (pl_entity__held_t *held)
{
    for (size_t i = 0; i < held->count; i++) {
        if (held->e)
            pl_entity__free (&held->e[i]);
        if (held->text)
            free (held->text[i]);
    }
    free (held->e);
    free (held->text);
    free (held->member);
    if (held->ids)
        freeReplyObject (held->ids);
    if (held->values)
        freeReplyObject (held->values);
    memset (held, 0, sizeof *held);
}

/* Read what holder owner (the caller's view of it) holds, and prepare
 * their update; the roles it reads go through reads. budget: events left
 * for this call. Returns 0, or -1 answered. */
int
pl_entity__held_load (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity_kind_t *kind,
                      const pl_entity__t *owner, int budget, pl_entity__held_t *held)
{
    int rc = -1;
    char **argv = NULL;
    size_t n = 0;
    memset (held, 0, sizeof *held);
    if (!(held->ids = pl_call_command (call, "ZRANGE " PL_KEY_HELD " 0 -1", kind->name,
                                       owner->id, kind->held)))
        goto cleanup;
    n = held->ids->type == REDIS_REPLY_ARRAY ? held->ids->elements : 0;
    if (n == 0) {
        rc = 0;
        goto cleanup;
    }
    /* argv[0] is MGET, then the keys */
    if (!(argv = calloc (n + 1, sizeof *argv)))
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(argv[i + 1] = pl_entity__fmt (PL_KEY_ENTITY, kind->held,
                                            held->ids->element[i]->str)))
            goto oom;
    argv[0] = "MGET";
    if (!(held->values = pl_call_command_argv (call, (int) n + 1, (const char **) argv, NULL)))
        goto cleanup;
    redisReply *values = held->values;
    held->e = calloc (n, sizeof *held->e);
    held->text = calloc (n, sizeof *held->text);
    held->member = calloc (n, sizeof *held->member);
    if (!held->e || !held->text || !held->member)
        goto oom;
    const char *uid = pl_call_caller (call)->user;
    double now = (double) pl_id_wall_ms ();
    bool counting = true;
    for (size_t i = 0; i < values->elements && i < n; i++) {
        redisReply *v = values->element[i];
        pl_entity__t *e = &held->e[held->count];
        if (v->type != REDIS_REPLY_STRING)
            continue;                       /* gone: its key is expected absent */
        if (!pl_entity__view (cJSON_ParseWithLength (v->str, v->len), kind->held_field, e)) {
            pl_error ("%s holds no valid %s", argv[i + 1], kind->held);
            pl_entity__free (e);
            continue;
        }
        held->count++;
        double updated = pl_entity__number (e->json, "updatedAt");
        pl_entity_set (e->json, kind->held_field, cJSON_CreateNull ());
        double version = pl_entity__number (e->json, "version");
        pl_entity_set (e->json, "version", cJSON_CreateNumber (version + 1));
        pl_entity_set (e->json, "updatedAt", cJSON_CreateNumber (now > updated ? now : updated));
        e->holder = NULL;
        e->is_creator = strcmp (e->creator, uid) == 0;
        e->role = owner->role;              /* held entities share its campaign */
        if (!(held->text[held->count - 1] = cJSON_PrintUnformatted (e->json)))
            goto oom;
        /* events as far as the budget goes (pl_worker's PL_CALL_PUBLISH_MAX) */
        pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX];
        int need = pl_entity_plan (kind, PL_ENTITY_UPDATE, e->campaign, e->creator, true,
                                   e->hidden, e->hidden, NULL, pubs);
        if (counting && need >= 0 && need <= budget) {
            if (e->hidden && pl_entity__creator_member (call, reads, e,
                                                        &held->member[held->count - 1]))
                goto cleanup;
            budget -= need;
            held->events++;
        }
        else
            counting = false;
    }
    if (held->events < held->count)
        pl_info ("%s %s held %zu %ss: %zu of them get no %s:updated event (publish budget)",
                 kind->name, owner->id, held->count, kind->held,
                 held->count - held->events, kind->held);
    rc = 0;
    goto cleanup;
oom:
    pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
cleanup:
    for (size_t i = 1; argv && i <= n; i++)
        free (argv[i]);
    free (argv);
    return rc;
}

/* Add to a delete of holder owner what held_load read of what it holds -
 * its set has as many members as then, and each of them is the text it
 * read (or still absent) - and the writes of their updates. The count and
 * the texts together pin the set: a member cannot leave it without its
 * text changing (its holder field) or going (a delete). */
void
pl_entity__held_commit (pl_txn_t *txn, const pl_entity_kind_t *kind, const pl_entity__t *owner,
                        const pl_entity__held_t *held)
{
    size_t n = held->ids && held->ids->type == REDIS_REPLY_ARRAY ? held->ids->elements : 0;
    pl_txn_expect_count (txn, PL_TXN_ZSET, (long long) n, PL_KEY_HELD, kind->name, owner->id,
                         kind->held);
    for (size_t i = 0; held->values && i < n && i < held->values->elements; i++) {
        const redisReply *v = held->values->element[i];
        bool text = v->type == REDIS_REPLY_STRING;
        pl_txn_expect_value (txn, text ? v->str : NULL, text ? v->len : 0, PL_KEY_ENTITY,
                             kind->held, held->ids->element[i]->str);
    }
    pl_txn_write (txn, "DEL " PL_KEY_HELD, kind->name, owner->id, kind->held);
    for (size_t i = 0; i < held->count; i++)
        pl_txn_write (txn, "SET " PL_KEY_ENTITY " %s", kind->held, held->e[i].id, held->text[i]);
}

/* ---- a holder hidden or revealed ----------------------------------- */

/* After holder e's hidden flipped (committed): the entities it holds did
 * not change, but who may read their holder field did. Those who cannot
 * see e while it is hidden - the players among each held entity's
 * audience: pl_entity_plan's redacted events - get K:updated of it, the
 * holder field null when e is now hidden, its id when e was revealed; the
 * GMs and e's creator saw it all along and get nothing. The version
 * stays: the entity itself did not change. Every game-state copy of each
 * follows (pl_session_entity_view, read again in each session's commit).
 * Events go as far as budget allows (the rest is logged; the copies all
 * follow, as after a delete). Runs after the commit: a failure is logged
 * and the write stands. */
void
pl_entity__held_flip (pl_call_t *call, const pl_entity_kind_t *kind, const pl_entity__t *e,
                      int budget)
{
    /* only these fields of the held kind are used here */
    const pl_entity_kind_t held_kind = { .name = kind->held, .updated = kind->held_updated,
                                         .holder_field = kind->held_field };
    pl_role_t role = e->role;
    size_t n = 0, silent = 0;
    char **argv = NULL;
    redisReply *values = NULL;
    pl_redis_batch_t b = { 0 };
    if (!e->campaign)
        goto cleanup;                       /* personal: only its creator sees either */
    /* what it holds, and its creator's role: one round trip */
    pl_redis_batch_add (&b, "ZRANGE " PL_KEY_HELD " 0 -1", kind->name, e->id, kind->held);
    if (!e->is_creator)
        pl_redis_batch_add (&b, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s", e->campaign, e->creator);
    if (!pl_call_batch (call, &b))
        goto cleanup;
    const redisReply *ids = b.reply[0];
    if (!e->is_creator)
        role = b.reply[1]->type == REDIS_REPLY_STRING ? pl_authz_role_parse (b.reply[1]->str)
                                                      : PL_ROLE_NONE;
    n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
    if (n == 0 || !(argv = calloc (n + 1, sizeof *argv)))
        goto cleanup;
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++)
        if (!(argv[i + 1] = pl_entity__fmt (PL_KEY_ENTITY, kind->held, ids->element[i]->str)))
            goto cleanup;
    if (!(values = pl_call_command_argv (call, (int) n + 1, (const char **) argv, NULL)))
        goto cleanup;
    for (size_t i = 0; i < values->elements; i++) {
        redisReply *v = values->element[i];
        pl_entity__t x = { 0 };
        pl_role_t creator_role = PL_ROLE_NONE;
        if (v->type != REDIS_REPLY_STRING
        ||  !pl_entity__view (cJSON_ParseWithLength (v->str, v->len), kind->held_field, &x)
        ||  !x.holder || strcmp (x.holder, e->id) != 0
        ||  !x.campaign || strcmp (x.campaign, e->campaign) != 0) {
            pl_entity__free (&x);           /* gone, or moved on meanwhile: its own events */
            continue;
        }
        /* x's creator gets x on its own room only while x is hidden */
        if (x.hidden && pl_authz_role (call, x.campaign, x.creator, &creator_role)) {
            pl_entity__free (&x);
            goto cleanup;
        }
        pl_entity_holder_view_t view = {
            .hidden = true,
            .viewer = role == PL_ROLE_PLAYER ? e->creator : NULL,
            .creator_sees = creator_role == PL_ROLE_GM
                         || (creator_role != PL_ROLE_NONE && strcmp (x.creator, e->creator) == 0),
        };
        pl_entity_pub_t pubs[PL_ENTITY_PUBS_MAX];
        int planned = pl_entity_plan (&held_kind, PL_ENTITY_UPDATE, x.campaign, x.creator,
                                      creator_role != PL_ROLE_NONE, x.hidden, x.hidden, &view,
                                      pubs);
        int need = 0;
        for (int j = 0; j < planned; j++)
            need += pubs[j].redacted;
        if (silent == 0 && need <= budget) {
            for (int j = 0; j < planned; j++)
                if (pubs[j].redacted)
                    pl_entity__publish_one (call, &held_kind, &x, &pubs[j], e->hidden, true);
            budget -= need;
        }
        else
            silent++;
        pl_entity__sync_sessions (call, kind->held, x.json, NULL);
        pl_entity__free (&x);
    }
cleanup:
    if (silent)
        pl_info ("%s %s: %zu %ss it holds get no %s:updated event (publish budget)",
                 kind->name, e->id, silent, kind->held, kind->held);
    for (size_t i = 1; argv && i <= n; i++)
        free (argv[i]);
    free (argv);
    pl_redis_batch_clear (&b);
    if (values)
        freeReplyObject (values);
}
