/*  chat - messages in rooms: chat:send and chat:history.
 *
 *  Storage: the room's history, domain/pl_chat.h (the rules worker's
 *  rolls enter the same list, as messages of kind "roll").
 *
 *  Who may chat in a room, and read its history, is who may subscribe to
 *  it (pl_authz_room_access): a refusal is FORBIDDEN. A message goes to the
 *  room with the sender's connections included (every member, the sender
 *  too, receives chat:message), after it is stored; the ack carries it.
 *
 *  Handlers run on the worker loop (pl_worker.h).
 */
#include "chat.h"
#include "pl_chat.h"
#include "pl_id.h"
#include "pl_wire.h"
#include "pl_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_send (pl_call_t *call, const cJSON *arg)
{
    cJSON *msg = NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive (arg, "text");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (text)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "chat:send expects {room, text} with text a string");
        goto cleanup;
    }
    size_t len = pl_wire_code_points (text->valuestring);
    if (len == 0 || len > PL_CHAT_TEXT_MAX) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "text must be 1 to %d characters (got %zu)", PL_CHAT_TEXT_MAX, len);
        goto cleanup;
    }
    pl_room_ref_t ref;
    pl_role_t role;
    const char *room = pl_chat_room (call, arg, "chat:send", &ref, &role);
    if (!room)
        goto cleanup;
    msg = pl_chat_message_new (pl_call_caller (call), room);
    if (!msg
    ||  !cJSON_AddStringToObject (msg, "text", text->valuestring)
    ||  !cJSON_AddNumberToObject (msg, "ts", (double) pl_id_wall_ms ())) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory, or no random id");
        goto cleanup;
    }
    if (pl_chat_append (call, room, msg) != 0)
        goto cleanup;                       /* answered */
    pl_call_publish (call, room, PL_PUSH_CHAT_MESSAGE, cJSON_Duplicate (msg, true), false);
    pl_call_ok (call, msg);
    msg = NULL;
cleanup:
    cJSON_Delete (msg);
}

static void
s_history (pl_call_t *call, const cJSON *arg)
{
    redisReply *reply = NULL;
    cJSON *list = NULL;
    long limit = PL_CHAT_KEEP;
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive (arg, "limit");
    if (lim && !cJSON_IsNull (lim)) {
        /* the range first: casting a double outside long's range (1e300,
         * inf) is undefined behaviour; NaN fails both comparisons */
        if (!cJSON_IsNumber (lim) || !(lim->valuedouble >= 1 && lim->valuedouble <= PL_CHAT_KEEP)
        ||  lim->valuedouble != (double) (long) lim->valuedouble) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR, "limit must be an integer from 1 to %d",
                           PL_CHAT_KEEP);
            goto cleanup;
        }
        limit = (long) lim->valuedouble;
    }
    pl_room_ref_t ref;
    pl_role_t role;
    const char *room = pl_chat_room (call, arg, "chat:history", &ref, &role);
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
