/*  chat - messages in rooms: chat:send and chat:history.
 *
 *  Storage (Redis; the key format is in domain/pl_keys.h):
 *    pl:chat:<room>   list of messages, JSON text, oldest first; at most
 *                     S_KEEP (100): each send appends and trims in one
 *                     script, so the list never holds more, even briefly
 *
 *  Who may chat in a room, and read its history, is who may subscribe to
 *  it (pl_authz_room_access): a refusal is FORBIDDEN. A message goes to the
 *  room with the sender's connections included (every member, the sender
 *  too, receives chat:message), after it is stored; the ack carries it.
 *
 *  Handlers run on the worker loop (pl_worker.h).
 */
#include "chat.h"
#include "pl_authz.h"
#include "pl_id.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TEXT_MAX  2000        /* characters (code points) per message   */
#define S_KEEP      100         /* messages kept per room                 */

/* KEYS[1] = pl:chat:<room>, ARGV[1] = message, ARGV[2] = how many to keep. */
PL_REDIS_SCRIPT (s_append_lua,
    "redis.call ('RPUSH', KEYS[1], ARGV[1])\n"
    "redis.call ('LTRIM', KEYS[1], -tonumber (ARGV[2]), -1)\n"
    "return 1\n");

/* The room of the argument, checked: the caller may subscribe to it.
 * Returns it, or NULL after answering. */
static const char *
s_room (pl_call_t *call, const cJSON *arg)
{
    const char *event = pl_proto_event (pl_call_event (call))->name;
    const cJSON *room = cJSON_GetObjectItemCaseSensitive (arg, "room");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (room)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "%s expects an object with room a string",
                       event);
        return NULL;
    }
    pl_room_ref_t ref;
    pl_role_t role;
    const char *why = NULL;
    pl_err_t err = pl_authz_room_access (call, room->valuestring, &ref, &role, &why);
    if (err == PL_ERR_INTERNAL)
        return NULL;                        /* answered */
    if (err != PL_ERR_NONE) {
        pl_call_error (call, err, "%s in %s: %s", event, room->valuestring,
                       why ? why : "refused");
        return NULL;
    }
    return room->valuestring;
}

static void
s_send (pl_call_t *call, const cJSON *arg)
{
    char *json = NULL;
    cJSON *msg = NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive (arg, "text");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (text)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "chat:send expects {room, text} with text a string");
        goto cleanup;
    }
    size_t len = pl_wire_code_points (text->valuestring);
    if (len == 0 || len > S_TEXT_MAX) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "text must be 1 to %d characters (got %zu)", S_TEXT_MAX, len);
        goto cleanup;
    }
    const char *room = s_room (call, arg);
    if (!room)
        goto cleanup;
    const pl_caller_t *caller = pl_call_caller (call);
    char id[PL_ID_UUID_SIZE];
    if (pl_id_uuid4 (id) != 0) {
        pl_call_error (call, PL_ERR_INTERNAL, "no random id");
        goto cleanup;
    }
    msg = cJSON_CreateObject ();
    cJSON_AddStringToObject (msg, "id", id);
    cJSON_AddStringToObject (msg, "room", room);
    cJSON_AddStringToObject (msg, "userId", caller->user);
    cJSON_AddStringToObject (msg, "name", caller->name && *caller->name ? caller->name
                                                                       : caller->user);
    cJSON_AddStringToObject (msg, "text", text->valuestring);
    cJSON_AddNumberToObject (msg, "ts", (double) pl_id_wall_ms ());
    json = cJSON_PrintUnformatted (msg);
    if (!json) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    char key[PL_WIRE_ROOM_MAX + 16], keep[16];
    snprintf (key, sizeof key, PL_KEY_CHAT, room);
    snprintf (keep, sizeof keep, "%d", S_KEEP);
    const char *argv[] = { key, json, keep };
    redisReply *reply = pl_call_script (call, &s_append_lua, 1, 3, argv, NULL);
    if (!reply)
        goto cleanup;
    freeReplyObject (reply);
    pl_call_publish (call, room, PL_PUSH_CHAT_MESSAGE, cJSON_Duplicate (msg, true), false);
    pl_call_ok (call, msg);
    msg = NULL;
cleanup:
    cJSON_Delete (msg);
    free (json);
}

static void
s_history (pl_call_t *call, const cJSON *arg)
{
    redisReply *reply = NULL;
    cJSON *list = NULL;
    long limit = S_KEEP;
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive (arg, "limit");
    if (lim && !cJSON_IsNull (lim)) {
        /* the range first: casting a double outside long's range (1e300,
         * inf) is undefined behaviour; NaN fails both comparisons */
        if (!cJSON_IsNumber (lim) || !(lim->valuedouble >= 1 && lim->valuedouble <= S_KEEP)
        ||  lim->valuedouble != (double) (long) lim->valuedouble) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "limit must be an integer from 1 to %d",
                           S_KEEP);
            goto cleanup;
        }
        limit = (long) lim->valuedouble;
    }
    const char *room = s_room (call, arg);
    if (!room)
        goto cleanup;
    reply = pl_call_command (call, "LRANGE " PL_KEY_CHAT " %ld -1", room, -limit);
    if (!reply)
        goto cleanup;
    list = cJSON_CreateArray ();
    for (size_t i = 0; list && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        redisReply *e = reply->element[i];
        cJSON *m = e->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength (e->str, e->len) : NULL;
        if (m)
            cJSON_AddItemToArray (list, m);
    }
    if (!list) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
        goto cleanup;
    }
    pl_call_ok (call, list);
    list = NULL;
cleanup:
    cJSON_Delete (list);
    if (reply)
        freeReplyObject (reply);
}

const pl_handler_t pl_chat_handlers[] = {
    { PL_EV_CHAT_SEND, s_send },
    { PL_EV_CHAT_HISTORY, s_history },
};
const size_t pl_chat_handler_count = sizeof pl_chat_handlers / sizeof pl_chat_handlers[0];
