/*  pl_chat - a room's chat history and the rules of writing to it. See
 *  pl_chat.h.
 */
#include "pl_chat.h"
#include "pl_id.h"
#include "pl_keys.h"
#include "pl_wire.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS[1] = pl:chat:<room>, ARGV[1] = message, ARGV[2] = how many to keep. */
PL_REDIS_SCRIPT (s_append_lua,
    "redis.call ('RPUSH', KEYS[1], ARGV[1])\n"
    "redis.call ('LTRIM', KEYS[1], -tonumber (ARGV[2]), -1)\n"
    "return 1\n");

const char *
pl_chat_room (pl_call_t *call, const cJSON *arg, const char *event, pl_room_ref_t *ref,
              pl_role_t *role)
{
    const char *name = NULL;
    const cJSON *room = cJSON_GetObjectItemCaseSensitive (arg, "room");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (room)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects an object with room a string",
                       event);
        goto cleanup;
    }
    const char *why = NULL;
    pl_err_t err = pl_authz_room_access (call, room->valuestring, ref, role, &why);
    if (err == PL_ERR_INTERNAL)
        goto cleanup;                       /* answered */
    if (err != PL_ERR_NONE) {
        pl_call_error (call, err, "%s in %s: %s", event, room->valuestring,
                       why ? why : "refused");
        goto cleanup;
    }
    name = room->valuestring;
cleanup:
    return name;
}

cJSON *
pl_chat_message_new (const pl_caller_t *caller, const char *room)
{
    cJSON *msg = NULL;
    char id[PL_ID_UUID_SIZE];
    if (pl_id_uuid4 (id) != 0)
        goto cleanup;
    msg = cJSON_CreateObject ();
    const char *name = caller->name && *caller->name ? caller->name : caller->user;
    if (!msg
    ||  !cJSON_AddStringToObject (msg, "id", id)
    ||  !cJSON_AddStringToObject (msg, "room", room)
    ||  !cJSON_AddStringToObject (msg, "userId", caller->user ? caller->user : "")
    ||  !cJSON_AddStringToObject (msg, "name", name ? name : "")) {
        cJSON_Delete (msg);
        msg = NULL;
    }
cleanup:
    return msg;
}

int
pl_chat_append (pl_call_t *call, const char *room, const cJSON *msg)
{
    int rc = -1;
    char *json = cJSON_PrintUnformatted (msg);
    if (!json) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    char key[PL_WIRE_ROOM_MAX + 16], keep[16];
    snprintf (key, sizeof key, PL_KEY_CHAT, room);
    snprintf (keep, sizeof keep, "%d", PL_CHAT_KEEP);
    const char *argv[] = { key, json, keep };
    redisReply *reply = pl_call_script (call, &s_append_lua, 1, 3, argv, NULL);
    if (!reply)
        goto cleanup;                       /* answered */
    freeReplyObject (reply);
    rc = 0;
cleanup:
    free (json);
    return rc;
}

void
pl_chat_test (bool verbose)
{
    if (verbose)
        printf (" * pl_chat: ");
    /* a message: a fresh UUID each time, the caller's name or user id */
    pl_caller_t alice = { "gw-1", "7", "alice", "Alice" };
    cJSON *a = pl_chat_message_new (&alice, "campaign:c1");
    cJSON *b = pl_chat_message_new (&alice, "campaign:c1");
    assert (a && b);
    const char *ida = cJSON_GetStringValue (cJSON_GetObjectItem (a, "id"));
    const char *idb = cJSON_GetStringValue (cJSON_GetObjectItem (b, "id"));
    assert (ida && idb && pl_id_is_uuid (ida) && strcmp (ida, idb) != 0);
    assert (strcmp (cJSON_GetStringValue (cJSON_GetObjectItem (a, "room")), "campaign:c1") == 0);
    assert (strcmp (cJSON_GetStringValue (cJSON_GetObjectItem (a, "userId")), "alice") == 0);
    assert (strcmp (cJSON_GetStringValue (cJSON_GetObjectItem (a, "name")), "Alice") == 0);
    assert (cJSON_GetArraySize (a) == 4);         /* no kind: a text message */
    cJSON_Delete (a);
    cJSON_Delete (b);
    pl_caller_t bob = { "gw-1", "8", "bob", NULL };
    pl_caller_t carol = { "gw-1", "9", "carol", "" };
    a = pl_chat_message_new (&bob, "user:bob");
    b = pl_chat_message_new (&carol, "user:carol");
    assert (a && b);
    assert (strcmp (cJSON_GetStringValue (cJSON_GetObjectItem (a, "name")), "bob") == 0);
    assert (strcmp (cJSON_GetStringValue (cJSON_GetObjectItem (b, "name")), "carol") == 0);
    cJSON_Delete (a);
    cJSON_Delete (b);
    /* the bounds the docs and the history script promise */
    assert (PL_CHAT_KEEP == 100 && PL_CHAT_TEXT_MAX == 2000);
    if (verbose)
        printf ("OK\n");
}
