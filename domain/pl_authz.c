/*  pl_authz - who may see and do what. See pl_authz.h. */
#include "pl_authz.h"
#include "pl_keys.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

pl_role_t
pl_authz_role_parse (const char *text)
{
    if (text && strcmp (text, "gm") == 0)
        return PL_ROLE_GM;
    if (text && strcmp (text, "player") == 0)
        return PL_ROLE_PLAYER;
    return PL_ROLE_NONE;
}

const char *
pl_authz_role_name (pl_role_t role)
{
    return role == PL_ROLE_GM ? "gm" : role == PL_ROLE_PLAYER ? "player" : "none";
}

bool
pl_authz_can_see (bool campaign, pl_role_t role, bool is_creator, bool hidden)
{
    if (!campaign)
        return is_creator;
    if (role == PL_ROLE_NONE)
        return false;
    return !hidden || role == PL_ROLE_GM || is_creator;
}

bool
pl_authz_can_write (bool campaign, pl_role_t role, bool is_creator)
{
    if (!campaign)
        return is_creator;
    return role == PL_ROLE_GM || (role == PL_ROLE_PLAYER && is_creator);
}

int
pl_authz_role (pl_call_t *call, const char *campaign_id, const char *user, pl_role_t *role)
{
    int rc = -1;
    *role = PL_ROLE_NONE;
    redisReply *reply = pl_call_command (call, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s",
                                         campaign_id, user);
    if (!reply)
        goto cleanup;
    if (reply->type == REDIS_REPLY_STRING)
        *role = pl_authz_role_parse (reply->str);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return rc;
}

pl_err_t
pl_authz_room_access (pl_call_t *call, const char *room, pl_room_ref_t *ref,
                      pl_role_t *campaign_role, const char **why)
{
    pl_err_t err = PL_ERR_FORBIDDEN;
    redisReply *reply = NULL;
    const char *user = pl_call_caller (call)->user;
    const char *campaign = NULL;
    *campaign_role = PL_ROLE_NONE;
    switch (pl_wire_room_parse (room, ref, why)) {
        case PL_ROOM_INVALID:
            err = PL_ERR_VALIDATION_ERROR;
            goto cleanup;
        case PL_ROOM_USER:
            if (!user || strcmp (ref->id, user) != 0) {
                *why = "a user room is its user's only";
                goto cleanup;
            }
            err = PL_ERR_NONE;
            goto cleanup;
        case PL_ROOM_CAMPAIGN_GM:
            *why = "the GM room is joined along with the campaign room";
            goto cleanup;
        case PL_ROOM_RESERVED:
            *why = "this kind of room is reserved and not served yet";
            goto cleanup;
        case PL_ROOM_CAMPAIGN:
            campaign = ref->id;
            break;
        case PL_ROOM_SESSION:
            reply = pl_call_command (call, "HGET " PL_KEY_SESSION " campaignId", ref->id);
            if (!reply) {
                err = PL_ERR_INTERNAL;
                goto cleanup;
            }
            if (reply->type != REDIS_REPLY_STRING) {
                *why = "no such session, or not a member of its campaign";
                goto cleanup;
            }
            campaign = reply->str;
            break;
    }
    if (pl_authz_role (call, campaign, user, campaign_role) != 0) {
        err = PL_ERR_INTERNAL;
        goto cleanup;
    }
    if (*campaign_role == PL_ROLE_NONE) {
        *why = "not a member of the room's campaign";
        goto cleanup;
    }
    err = PL_ERR_NONE;
    *why = NULL;
cleanup:
    if (reply)
        freeReplyObject (reply);
    return err;
}

void
pl_authz_test (bool verbose)
{
    if (verbose)
        printf (" * pl_authz: ");
    /* roles */
    assert (pl_authz_role_parse ("gm") == PL_ROLE_GM);
    assert (pl_authz_role_parse ("player") == PL_ROLE_PLAYER);
    assert (pl_authz_role_parse ("GM") == PL_ROLE_NONE);
    assert (pl_authz_role_parse ("") == PL_ROLE_NONE);
    assert (pl_authz_role_parse (NULL) == PL_ROLE_NONE);
    assert (strcmp (pl_authz_role_name (PL_ROLE_GM), "gm") == 0);
    assert (strcmp (pl_authz_role_name (PL_ROLE_PLAYER), "player") == 0);

    /* seeing: every combination of (campaign, role, creator, hidden) */
    for (int c = 0; c < 2; c++)
        for (int r = PL_ROLE_NONE; r <= PL_ROLE_GM; r++)
            for (int mine = 0; mine < 2; mine++)
                for (int hidden = 0; hidden < 2; hidden++) {
                    bool see = pl_authz_can_see (c, (pl_role_t) r, mine, hidden);
                    bool expected = !c ? mine
                                  : r == PL_ROLE_NONE ? false
                                  : r == PL_ROLE_GM ? true
                                  : (!hidden || mine);
                    assert (see == expected);
                }
    /* the cases the product rules name, spelled out */
    assert (pl_authz_can_see (true, PL_ROLE_PLAYER, false, false));     /* shared */
    assert (!pl_authz_can_see (true, PL_ROLE_PLAYER, false, true));     /* hidden from others */
    assert (pl_authz_can_see (true, PL_ROLE_PLAYER, true, true));       /* ...not its creator */
    assert (pl_authz_can_see (true, PL_ROLE_GM, false, true));          /* ...nor the GM */
    assert (!pl_authz_can_see (true, PL_ROLE_NONE, true, false));       /* removed creator */
    assert (!pl_authz_can_see (false, PL_ROLE_GM, false, false));       /* personal */

    /* writing */
    assert (pl_authz_can_write (true, PL_ROLE_GM, false));
    assert (pl_authz_can_write (true, PL_ROLE_PLAYER, true));
    assert (!pl_authz_can_write (true, PL_ROLE_PLAYER, false));
    assert (!pl_authz_can_write (true, PL_ROLE_NONE, true));
    assert (pl_authz_can_write (false, PL_ROLE_NONE, true));
    assert (!pl_authz_can_write (false, PL_ROLE_GM, false));

    if (verbose)
        printf ("OK\n");
}
