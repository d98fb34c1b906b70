/*  pl_authz - who may see and do what. See pl_authz.h. */
#include "pl_authz.h"

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

static bool
s_id_valid (const char *id, const char *extra)
{
    size_t len = id ? strlen (id) : 0;
    if (len == 0 || len > PL_AUTHZ_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '_' || c == '-' || c == '.' || (extra && strchr (extra, c))))
            return false;
    }
    return true;
}

bool
pl_authz_id_valid (const char *id)
{
    return s_id_valid (id, NULL);
}

bool
pl_authz_user_id_valid (const char *id)
{
    return s_id_valid (id, "|@+");
}

size_t
pl_authz_code_points (const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/* Room kinds by prefix. Reserved kinds are entity rooms to come: naming
 * them now keeps "actor:7" from ever meaning something else. */
static const struct {
    const char *prefix;
    pl_room_kind_t kind;
} s_kinds[] = {
    { "user:", PL_ROOM_USER },
    { "campaign:", PL_ROOM_CAMPAIGN },
    { "session:", PL_ROOM_SESSION },
    { "actor:", PL_ROOM_RESERVED },
    { "item:", PL_ROOM_RESERVED },
    { "encounter:", PL_ROOM_RESERVED },
    { "scene:", PL_ROOM_RESERVED },
};

pl_room_kind_t
pl_authz_room_parse (const char *room, pl_room_ref_t *ref, const char **why)
{
    pl_room_kind_t kind = PL_ROOM_INVALID;
    const char *why_not = "a room is \"<kind>:<id>\", kind user, campaign or session";
    assert (ref);
    memset (ref, 0, sizeof *ref);
    if (!room)
        goto cleanup;
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds[0]; i++) {
        size_t plen = strlen (s_kinds[i].prefix);
        if (strncmp (room, s_kinds[i].prefix, plen) != 0)
            continue;
        const char *id = room + plen;
        size_t len = strlen (id);
        pl_room_kind_t k = s_kinds[i].kind;
        if (k == PL_ROOM_CAMPAIGN && len > 3 && strcmp (id + len - 3, ":gm") == 0) {
            k = PL_ROOM_CAMPAIGN_GM;
            len -= 3;
        }
        if (len == 0 || len > PL_AUTHZ_ID_MAX) {
            why_not = "the room's id must be 1 to 128 characters";
            goto cleanup;
        }
        memcpy (ref->id, id, len);
        ref->id[len] = 0;
        bool ok = k == PL_ROOM_USER ? pl_authz_user_id_valid (ref->id)
                                    : pl_authz_id_valid (ref->id);
        if (!ok) {
            why_not = "the room's id holds characters ids never have";
            memset (ref, 0, sizeof *ref);
            goto cleanup;
        }
        kind = ref->kind = k;
        why_not = NULL;
        goto cleanup;
    }
cleanup:
    if (why)
        *why = why_not;
    return kind;
}

int
pl_authz_role (pl_call_t *call, const char *campaign_id, const char *user, pl_role_t *role)
{
    int rc = -1;
    *role = PL_ROLE_NONE;
    redisReply *reply = pl_call_command (call, "HGET pl:campaign:%s:members %s",
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
    switch (pl_authz_room_parse (room, ref, why)) {
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
            reply = pl_call_command (call, "HGET pl:session:%s campaignId", ref->id);
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

    /* ids */
    assert (pl_authz_id_valid ("c-1a2b_3.x"));
    assert (!pl_authz_id_valid (""));
    assert (!pl_authz_id_valid ("a:b"));
    assert (!pl_authz_id_valid ("a b"));
    assert (!pl_authz_id_valid ("a|b"));
    assert (pl_authz_user_id_valid ("auth0|123"));
    assert (!pl_authz_user_id_valid ("a\nb"));
    /* code points: 1-, 2-, 3- and 4-byte characters count once each */
    assert (pl_authz_code_points ("") == 0);
    assert (pl_authz_code_points ("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 4);
    char big[PL_AUTHZ_ID_MAX + 2];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert (!pl_authz_id_valid (big));
    big[PL_AUTHZ_ID_MAX] = 0;
    assert (pl_authz_id_valid (big));

    /* rooms */
    pl_room_ref_t ref;
    const char *why = NULL;
    assert (pl_authz_room_parse ("user:alice", &ref, &why) == PL_ROOM_USER);
    assert (strcmp (ref.id, "alice") == 0 && !why);
    assert (pl_authz_room_parse ("campaign:c1", &ref, &why) == PL_ROOM_CAMPAIGN);
    assert (strcmp (ref.id, "c1") == 0);
    assert (pl_authz_room_parse ("campaign:c1:gm", &ref, &why) == PL_ROOM_CAMPAIGN_GM);
    assert (strcmp (ref.id, "c1") == 0 && ref.kind == PL_ROOM_CAMPAIGN_GM);
    assert (pl_authz_room_parse ("session:s9", &ref, &why) == PL_ROOM_SESSION);
    assert (pl_authz_room_parse ("actor:a1", &ref, &why) == PL_ROOM_RESERVED);
    assert (pl_authz_room_parse ("campaign:", &ref, &why) == PL_ROOM_INVALID && why);
    assert (pl_authz_room_parse ("campaign::gm", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_authz_room_parse ("campaign:c1:players", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_authz_room_parse ("lobby", &ref, &why) == PL_ROOM_INVALID && why);
    assert (pl_authz_room_parse ("", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_authz_room_parse (NULL, &ref, &why) == PL_ROOM_INVALID);
    assert (pl_authz_room_parse ("session:a b", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_authz_room_parse ("user:x\x01", &ref, &why) == PL_ROOM_INVALID);
    char room[PL_AUTHZ_ROOM_MAX + 8];
    snprintf (room, sizeof room, "session:%s", big);
    assert (pl_authz_room_parse (room, &ref, &why) == PL_ROOM_SESSION);
    snprintf (room, sizeof room, "session:%sa", big);
    assert (pl_authz_room_parse (room, &ref, &why) == PL_ROOM_INVALID);
    if (verbose)
        printf ("OK\n");
}
