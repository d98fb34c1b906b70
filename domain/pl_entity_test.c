/*  pl_entity_test - the selftest of pl_entity's pure parts (pl_entity.h):
 *  the event plan of every write, including the hidden flips and the
 *  split for an item of a hidden actor, and the checks of a client's
 *  fields. The handlers themselves run against a real
 *  Redis in tests/workers/actors_check.c and items_check.c.
 */
#include "pl_entity.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const pl_entity_kind_t s_kind = {
    .name = "item",
    .created = PL_PUSH_ITEM_CREATED,
    .updated = PL_PUSH_ITEM_UPDATED,
    .deleted = PL_PUSH_ITEM_DELETED,
    .holder = "actor",
    .holder_field = "actorId",
};

/* pl_entity_plan of an entity of s_kind created by "al". */
static int
s_plan (pl_entity_op_t op, const char *campaign, bool creator_member, bool was_hidden,
        bool hidden, const pl_entity_holder_view_t *holder, pl_entity_pub_t *pubs)
{
    return pl_entity_plan (&s_kind, op, campaign, "al", creator_member, was_hidden, hidden,
                           holder, pubs);
}

/* Check pub: push, payload kind, room and its except list ("" = none). */
static void
s_expect (const pl_entity_pub_t *pub, pl_push_id_t push, bool id_only, const char *room,
          const char *except1, const char *except2)
{
    assert (pub->push == push);
    assert (pub->id_only == id_only);
    assert (strcmp (pub->room, room) == 0);
    int count = (*except1 ? 1 : 0) + (*except2 ? 1 : 0);
    assert (pub->except_count == count);
    if (count > 0)
        assert (strcmp (pub->except[0], except1) == 0);
    if (count > 1)
        assert (strcmp (pub->except[1], except2) == 0);
}

/* s_expect, for a held entity's events: whether the holder field is
 * nulled, and up to three rooms left out. */
static void
s_expect_held (const pl_entity_pub_t *pub, pl_push_id_t push, bool redacted, const char *room,
               const char *except1, const char *except2, const char *except3)
{
    assert (pub->push == push && !pub->id_only);
    assert (pub->redacted == redacted);
    assert (strcmp (pub->room, room) == 0);
    const char *want[3] = { except1, except2, except3 };
    int count = 0;
    for (int i = 0; i < 3; i++)
        if (*want[i]) {
            assert (count < pub->except_count && strcmp (pub->except[count], want[i]) == 0);
            count++;
        }
    assert (pub->except_count == count);
}

/* Items of a hidden actor (pl_entity_holder_view_t): the events to the
 * campaign room are split - holder null to its players, whole to the GMs
 * and the actor's creator (bo) - and the creator's room gets whichever
 * the item's creator (al) may see. */
static void
s_test_plan_holder (void)
{
    pl_entity_pub_t p[PL_ENTITY_PUBS_MAX];
    const pl_push_id_t C = PL_PUSH_ITEM_CREATED, U = PL_PUSH_ITEM_UPDATED;
    pl_entity_holder_view_t seen = { false, NULL, false };
    pl_entity_holder_view_t gms = { true, NULL, false };
    pl_entity_holder_view_t bo = { true, "bo", false };
    pl_entity_holder_view_t al = { true, "al", true };
    /* a holder everyone sees: as without one */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, false, false, &seen, p) == 1);
    s_expect (&p[0], U, false, "campaign:c1", "", "");
    assert (!p[0].redacted);
    /* the GM's hidden actor: players null, GMs whole */
    assert (s_plan (PL_ENTITY_CREATE, "c1", true, false, false, &gms, p) == 2);
    s_expect_held (&p[0], C, true, "campaign:c1", "campaign:c1:gm", "", "");
    s_expect_held (&p[1], C, false, "campaign:c1:gm", "", "", "");
    /* a player's hidden actor: that player whole too, on its own room */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, false, false, &bo, p) == 3);
    s_expect_held (&p[0], U, true, "campaign:c1", "campaign:c1:gm", "user:bo", "");
    s_expect_held (&p[1], U, false, "campaign:c1:gm", "", "", "");
    s_expect_held (&p[2], U, false, "user:bo", "campaign:c1:gm", "", "");
    /* a delete is the id: nothing to split */
    assert (s_plan (PL_ENTITY_DELETE, "c1", true, false, false, &bo, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "campaign:c1", "", "");
    /* a hidden item: its creator's room as its creator may see the holder */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, true, true, &bo, p) == 2);
    s_expect_held (&p[0], U, false, "campaign:c1:gm", "", "", "");
    s_expect_held (&p[1], U, true, "user:al", "campaign:c1:gm", "", "");
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, true, true, &al, p) == 2);
    assert (!p[1].redacted);
    /* the item revealed: created to the players (null) and, apart, to bo */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, true, false, &bo, p) == 4);
    s_expect_held (&p[0], C, true, "campaign:c1", "campaign:c1:gm", "user:al", "user:bo");
    s_expect_held (&p[1], U, false, "campaign:c1:gm", "", "", "");
    s_expect_held (&p[2], U, true, "user:al", "campaign:c1:gm", "", "");
    s_expect_held (&p[3], C, false, "user:bo", "campaign:c1:gm", "user:al", "");
    /* ... and when its creator is the actor's: no fourth event */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, true, false, &al, p) == 3);
    s_expect_held (&p[0], C, true, "campaign:c1", "campaign:c1:gm", "user:al", "");
    s_expect_held (&p[2], U, false, "user:al", "campaign:c1:gm", "", "");
    /* the item hidden: the players get its id only */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, false, true, &bo, p) == 3);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "campaign:c1", "campaign:c1:gm", "user:al");
    s_expect_held (&p[2], U, true, "user:al", "campaign:c1:gm", "", "");
    /* personal: no split */
    assert (s_plan (PL_ENTITY_UPDATE, NULL, true, false, false, &gms, p) == 1);
    s_expect (&p[0], U, false, "user:al", "", "");
    assert (!p[0].redacted);
}

static void
s_test_plan (void)
{
    pl_entity_pub_t p[PL_ENTITY_PUBS_MAX];
    /* personal: the creator's room, whatever hidden says */
    assert (s_plan (PL_ENTITY_CREATE, NULL, true, false, true, NULL, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_CREATED, false, "user:al", "", "");
    assert (s_plan (PL_ENTITY_DELETE, NULL, true, false, false, NULL, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "user:al", "", "");
    /* campaign, visible: the campaign room */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, false, false, NULL, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_UPDATED, false, "campaign:c1", "", "");
    /* hidden: GMs, and the creator's tabs that are not GM tabs */
    assert (s_plan (PL_ENTITY_CREATE, "c1", true, false, true, NULL, p) == 2);
    s_expect (&p[0], PL_PUSH_ITEM_CREATED, false, "campaign:c1:gm", "", "");
    s_expect (&p[1], PL_PUSH_ITEM_CREATED, false, "user:al", "campaign:c1:gm", "");
    /* hidden, creator removed from the campaign: GMs only */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", false, true, true, NULL, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_UPDATED, false, "campaign:c1:gm", "", "");
    assert (s_plan (PL_ENTITY_DELETE, "c1", true, true, true, NULL, p) == 2);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "campaign:c1:gm", "", "");
    s_expect (&p[1], PL_PUSH_ITEM_DELETED, true, "user:al", "campaign:c1:gm", "");
    /* flip to hidden: the other players see it deleted, the rest updated */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, false, true, NULL, p) == 3);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "campaign:c1", "campaign:c1:gm", "user:al");
    s_expect (&p[1], PL_PUSH_ITEM_UPDATED, false, "campaign:c1:gm", "", "");
    s_expect (&p[2], PL_PUSH_ITEM_UPDATED, false, "user:al", "campaign:c1:gm", "");
    /* flip to visible: the other players see it created */
    assert (s_plan (PL_ENTITY_UPDATE, "c1", true, true, false, NULL, p) == 3);
    s_expect (&p[0], PL_PUSH_ITEM_CREATED, false, "campaign:c1", "campaign:c1:gm", "user:al");
    s_expect (&p[1], PL_PUSH_ITEM_UPDATED, false, "campaign:c1:gm", "", "");
    s_expect (&p[2], PL_PUSH_ITEM_UPDATED, false, "user:al", "campaign:c1:gm", "");
    /* a creator id too long for a room: no plan */
    char user[PL_ENTITY_ROOM_MAX + 8];
    memset (user, 'u', sizeof user - 1);
    user[sizeof user - 1] = 0;
    assert (pl_entity_plan (&s_kind, PL_ENTITY_CREATE, NULL, user, true, false, false, NULL, p)
            == -1);
}

/* pl_entity_input_invalid on JSON texts; want NULL or a needle of why. */
static void
s_try_input (const char *old_text, const char *fields_text, const char *want)
{
    cJSON *old = old_text ? cJSON_Parse (old_text) : NULL;
    cJSON *fields = cJSON_Parse (fields_text);
    assert (fields && (old || !old_text));
    const char *why = pl_entity_input_invalid (&s_kind, old, fields);
    if (!want)
        assert (!why);
    else
        assert (why && strstr (why, want));
    cJSON_Delete (old);
    cJSON_Delete (fields);
}

static void
s_test_input (void)
{
    /* create */
    s_try_input (NULL, "{\"name\":\"x\"}", NULL);
    s_try_input (NULL, "{\"campaignId\":\"c-1.a_b\",\"hidden\":true,\"actorId\":\"a\"}", NULL);
    s_try_input (NULL, "{\"campaignId\":null,\"actorId\":null,\"hidden\":false}", NULL);
    s_try_input (NULL, "{\"campaignId\":\"\"}", "campaignId");
    s_try_input (NULL, "{\"campaignId\":\"a b\"}", "campaignId");
    s_try_input (NULL, "{\"campaignId\":7}", "campaignId");
    s_try_input (NULL, "{\"hidden\":null}", "hidden");
    s_try_input (NULL, "{\"hidden\":\"true\"}", "hidden");
    s_try_input (NULL, "{\"hidden\":1}", "hidden");
    s_try_input (NULL, "{\"actorId\":\"\"}", "holder");
    s_try_input (NULL, "{\"actorId\":5}", "holder");
    /* update: campaignId may be repeated, never changed */
    const char *camp = "{\"id\":\"i\",\"campaignId\":\"c1\"}";
    const char *mine = "{\"id\":\"i\",\"campaignId\":null}";
    const char *legacy = "{\"id\":\"i\"}";
    s_try_input (camp, "{\"campaignId\":\"c1\",\"name\":\"y\"}", NULL);
    s_try_input (camp, "{\"campaignId\":\"c2\"}", "cannot change");
    s_try_input (camp, "{\"campaignId\":null}", "cannot change");
    s_try_input (camp, "{\"campaignId\":[]}", "cannot change");
    s_try_input (mine, "{\"campaignId\":null}", NULL);
    s_try_input (mine, "{\"campaignId\":\"c1\"}", "cannot change");
    s_try_input (legacy, "{\"campaignId\":\"c1\"}", "cannot change");
    s_try_input (legacy, "{\"hidden\":true}", NULL);
    s_try_input (camp, "{\"hidden\":0}", "hidden");
    s_try_input (camp, "{\"actorId\":null}", NULL);
}

static void
s_test_merge (void)
{
    cJSON *e = cJSON_Parse ("{\"id\":\"i\",\"createdBy\":\"al\",\"version\":3,\"name\":\"a\",\"hp\":1}");
    cJSON *f = cJSON_Parse ("{\"id\":\"evil\",\"createdBy\":\"bob\",\"version\":99,\"createdAt\":1,"
                            "\"updatedAt\":1,\"name\":\"b\",\"hp\":null,\"new\":[1]}");
    pl_entity_merge (e, f);
    cJSON *want = cJSON_Parse ("{\"id\":\"i\",\"createdBy\":\"al\",\"version\":3,\"name\":\"b\","
                               "\"hp\":null,\"new\":[1]}");
    assert (cJSON_Compare (e, want, true));
    cJSON_Delete (e);
    cJSON_Delete (f);
    cJSON_Delete (want);
}

void
pl_entity_test (bool verbose)
{
    if (verbose)
        printf (" * pl_entity: ");
    s_test_plan ();
    s_test_plan_holder ();
    s_test_input ();
    s_test_merge ();
    if (verbose)
        printf ("OK\n");
}
