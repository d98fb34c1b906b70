/*  pl_wire - the wire syntax: ids, user ids, room names. See pl_wire.h. */
#include "pl_wire.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool
s_id_valid (const char *id, const char *extra)
{
    size_t len = id ? strlen (id) : 0;
    if (len == 0 || len > PL_WIRE_ID_MAX)
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
pl_wire_id_valid (const char *id)
{
    return s_id_valid (id, NULL);
}

bool
pl_wire_user_id_valid (const char *id)
{
    return s_id_valid (id, "|@+");
}

bool
pl_wire_pid_valid (const char *pid)
{
    bool valid = false;
    size_t len = strlen (pid);
    if (len == 0 || len > PL_WIRE_PID_MAX)
        goto cleanup;
    for (size_t i = 0; i < len; i++) {
        char c = pid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_'))
            goto cleanup;
    }
    valid = true;
cleanup:
    return valid;
}

size_t
pl_wire_code_points (const char *text)
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
pl_wire_room_parse (const char *room, pl_room_ref_t *ref, const char **why)
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
        if (len == 0 || len > PL_WIRE_ID_MAX) {
            why_not = "the room's id must be 1 to 128 characters";
            goto cleanup;
        }
        memcpy (ref->id, id, len);
        ref->id[len] = 0;
        bool ok = k == PL_ROOM_USER ? pl_wire_user_id_valid (ref->id)
                                    : pl_wire_id_valid (ref->id);
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

void
pl_wire_merge (cJSON *obj, const cJSON *fields, const char *const *owned)
{
    const cJSON *item;
    cJSON_ArrayForEach (item, fields) {
        bool skip = false;
        for (size_t i = 0; owned && owned[i] && !skip; i++)
            skip = strcmp (item->string, owned[i]) == 0;
        if (skip)
            continue;
        cJSON *copy = cJSON_Duplicate (item, true);
        if (cJSON_GetObjectItemCaseSensitive (obj, item->string))
            cJSON_ReplaceItemInObjectCaseSensitive (obj, item->string, copy);
        else
            cJSON_AddItemToObject (obj, item->string, copy);
    }
}

void
pl_wire_test (bool verbose)
{
    if (verbose)
        printf (" * pl_wire: ");
    /* ids */
    assert (pl_wire_id_valid ("c-1a2b_3.x"));
    assert (pl_wire_pid_valid ("Ab_9-zZ") && pl_wire_pid_valid ("abcdefghij0123456789"));
    assert (!pl_wire_pid_valid ("") && !pl_wire_pid_valid ("abcdefghij0123456789x"));
    assert (!pl_wire_pid_valid ("a.b") && !pl_wire_pid_valid ("a b") && !pl_wire_pid_valid ("\xc3\xa9"));
    assert (!pl_wire_id_valid (""));
    assert (!pl_wire_id_valid ("a:b"));
    assert (!pl_wire_id_valid ("a b"));
    assert (!pl_wire_id_valid ("a|b"));
    assert (pl_wire_user_id_valid ("auth0|123"));
    assert (!pl_wire_user_id_valid ("a\nb"));
    /* code points: 1-, 2-, 3- and 4-byte characters count once each */
    assert (pl_wire_code_points ("") == 0);
    assert (pl_wire_code_points ("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 4);
    char big[PL_WIRE_ID_MAX + 2];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert (!pl_wire_id_valid (big));
    big[PL_WIRE_ID_MAX] = 0;
    assert (pl_wire_id_valid (big));

    /* rooms */
    pl_room_ref_t ref;
    const char *why = NULL;
    assert (pl_wire_room_parse ("user:alice", &ref, &why) == PL_ROOM_USER);
    assert (strcmp (ref.id, "alice") == 0 && !why);
    assert (pl_wire_room_parse ("campaign:c1", &ref, &why) == PL_ROOM_CAMPAIGN);
    assert (strcmp (ref.id, "c1") == 0);
    assert (pl_wire_room_parse ("campaign:c1:gm", &ref, &why) == PL_ROOM_CAMPAIGN_GM);
    assert (strcmp (ref.id, "c1") == 0 && ref.kind == PL_ROOM_CAMPAIGN_GM);
    assert (pl_wire_room_parse ("session:s9", &ref, &why) == PL_ROOM_SESSION);
    assert (pl_wire_room_parse ("actor:a1", &ref, &why) == PL_ROOM_RESERVED);
    assert (pl_wire_room_parse ("campaign:", &ref, &why) == PL_ROOM_INVALID && why);
    assert (pl_wire_room_parse ("campaign::gm", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_wire_room_parse ("campaign:c1:players", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_wire_room_parse ("lobby", &ref, &why) == PL_ROOM_INVALID && why);
    assert (pl_wire_room_parse ("", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_wire_room_parse (NULL, &ref, &why) == PL_ROOM_INVALID);
    assert (pl_wire_room_parse ("session:a b", &ref, &why) == PL_ROOM_INVALID);
    assert (pl_wire_room_parse ("user:x\x01", &ref, &why) == PL_ROOM_INVALID);
    char room[PL_WIRE_ROOM_MAX + 8];
    snprintf (room, sizeof room, "session:%s", big);
    assert (pl_wire_room_parse (room, &ref, &why) == PL_ROOM_SESSION);
    snprintf (room, sizeof room, "session:%sa", big);
    assert (pl_wire_room_parse (room, &ref, &why) == PL_ROOM_INVALID);

    /* merge: the client's fields replace or add, the owned ones are kept */
    const char *owned[] = { "id", "version", NULL };
    cJSON *obj = cJSON_Parse ("{\"id\":\"a\",\"name\":\"Old\",\"version\":3}");
    cJSON *fields = cJSON_Parse ("{\"id\":\"b\",\"name\":\"New\",\"version\":9,\"hp\":[1]}");
    pl_wire_merge (obj, fields, owned);
    cJSON *want = cJSON_Parse ("{\"id\":\"a\",\"name\":\"New\",\"version\":3,\"hp\":[1]}");
    assert (cJSON_Compare (obj, want, true));
    pl_wire_merge (obj, fields, NULL);              /* nothing owned: all of it */
    assert (strcmp (cJSON_GetObjectItem (obj, "id")->valuestring, "b") == 0);
    cJSON_Delete (want);
    cJSON_Delete (fields);
    cJSON_Delete (obj);
    if (verbose)
        printf ("OK\n");
}
