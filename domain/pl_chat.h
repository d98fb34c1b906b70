/*  pl_chat - a room's chat: who may write to it, what a message holds, and
 *  its history in Redis. The chat worker (chat:send, chat:history) and the
 *  rules worker (a roll enters the room's history as a message of kind
 *  "roll") both write through here, so the history is one list with one
 *  bound however many services append to it.
 *
 *  Storage (Redis; the key format is in pl_keys.h):
 *    pl:chat:<room>   list of messages, JSON text, oldest first; at most
 *                     PL_CHAT_KEEP: each append pushes and trims in one
 *                     script, so the list never holds more, even briefly
 *
 *  A message is {id, room, userId, name, ...}: a text message adds text
 *  and ts; any other kind says so in "kind" (e.g. "roll") and carries its
 *  own fields. A message without kind is text.
 *
 *  Every function that takes a call runs inside a handler's call, on the
 *  worker loop (pl_worker.h). "NULL answered" / "-1 answered": the call
 *  has been answered, the handler just cleans up.
 */
#ifndef PL_CHAT_H
#define PL_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "pl_authz.h"
#include "pl_worker.h"

#define PL_CHAT_TEXT_MAX  2000      /* characters (code points) per text message */
#define PL_CHAT_KEEP      100       /* messages kept per room                */

/* The room named by arg's "room", checked: the caller may subscribe to it
 * (pl_authz_room_access). Returns it (borrowed from arg), with *ref and
 * *role filled, or NULL answered: VALIDATION_ERROR when arg is no object
 * or room no string or no room, FORBIDDEN when the caller may not be in
 * it. event names the request in the messages. */
const char *pl_chat_room (pl_call_t *call, const cJSON *arg, const char *event,
                          pl_room_ref_t *ref, pl_role_t *role);

/* A new message {id, room, userId, name} from caller in room: a fresh
 * random id, name the caller's name or, without one, the user id. The
 * handler adds the rest. NULL when out of memory or no random id. */
cJSON *pl_chat_message_new (const pl_caller_t *caller, const char *room);

/* Append msg to room's history, keeping the last PL_CHAT_KEEP, in one
 * script. Returns 0, or -1 answered (INTERNAL). */
int pl_chat_append (pl_call_t *call, const char *room, const cJSON *msg);

void pl_chat_test (bool verbose);

#endif
