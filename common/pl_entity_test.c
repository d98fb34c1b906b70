/*  pl_entity_test - the selftest of pl_entity's pure parts (pl_entity.h):
 *  the event plan of every write, including the hidden flips, and the
 *  checks of a client's fields. The handlers themselves run against a real
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

static void
s_test_plan (void)
{
    pl_entity_pub_t p[PL_ENTITY_PUBS_MAX];
    /* personal: the creator's room, whatever hidden says */
    assert (pl_entity_plan (&s_kind, PL_ENTITY_CREATE, NULL, "al", true, false, true, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_CREATED, false, "user:al", "", "");
    assert (pl_entity_plan (&s_kind, PL_ENTITY_DELETE, NULL, "al", true, false, false, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "user:al", "", "");
    /* campaign, visible: the campaign room */
    assert (pl_entity_plan (&s_kind, PL_ENTITY_UPDATE, "c1", "al", true, false, false, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_UPDATED, false, "campaign:c1", "", "");
    /* hidden: GMs, and the creator's tabs that are not GM tabs */
    assert (pl_entity_plan (&s_kind, PL_ENTITY_CREATE, "c1", "al", true, false, true, p) == 2);
    s_expect (&p[0], PL_PUSH_ITEM_CREATED, false, "campaign:c1:gm", "", "");
    s_expect (&p[1], PL_PUSH_ITEM_CREATED, false, "user:al", "campaign:c1:gm", "");
    /* hidden, creator removed from the campaign: GMs only */
    assert (pl_entity_plan (&s_kind, PL_ENTITY_UPDATE, "c1", "al", false, true, true, p) == 1);
    s_expect (&p[0], PL_PUSH_ITEM_UPDATED, false, "campaign:c1:gm", "", "");
    assert (pl_entity_plan (&s_kind, PL_ENTITY_DELETE, "c1", "al", true, true, true, p) == 2);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "campaign:c1:gm", "", "");
    s_expect (&p[1], PL_PUSH_ITEM_DELETED, true, "user:al", "campaign:c1:gm", "");
    /* flip to hidden: the other players see it deleted, the rest updated */
    assert (pl_entity_plan (&s_kind, PL_ENTITY_UPDATE, "c1", "al", true, false, true, p) == 3);
    s_expect (&p[0], PL_PUSH_ITEM_DELETED, true, "campaign:c1", "campaign:c1:gm", "user:al");
    s_expect (&p[1], PL_PUSH_ITEM_UPDATED, false, "campaign:c1:gm", "", "");
    s_expect (&p[2], PL_PUSH_ITEM_UPDATED, false, "user:al", "campaign:c1:gm", "");
    /* flip to visible: the other players see it created */
    assert (pl_entity_plan (&s_kind, PL_ENTITY_UPDATE, "c1", "al", true, true, false, p) == 3);
    s_expect (&p[0], PL_PUSH_ITEM_CREATED, false, "campaign:c1", "campaign:c1:gm", "user:al");
    s_expect (&p[1], PL_PUSH_ITEM_UPDATED, false, "campaign:c1:gm", "", "");
    s_expect (&p[2], PL_PUSH_ITEM_UPDATED, false, "user:al", "campaign:c1:gm", "");
    /* a creator id too long for a room: no plan */
    char user[PL_ENTITY_ROOM_MAX + 8];
    memset (user, 'u', sizeof user - 1);
    user[sizeof user - 1] = 0;
    assert (pl_entity_plan (&s_kind, PL_ENTITY_CREATE, NULL, user, true, false, false, p) == -1);
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
    s_test_input ();
    s_test_merge ();
    if (verbose)
        printf ("OK\n");
}
