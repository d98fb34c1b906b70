/*  dice - roll: dice rolled by the server, for a room.
 *
 *  The expression is parsed and rolled by domain/pl_dice (the kernel's
 *  CSPRNG, rejection sampling); this handler decides who may roll where
 *  and where the result goes:
 *  - who may roll in a room is who may subscribe to it
 *    (pl_authz_room_access, as for chat): FORBIDDEN otherwise;
 *  - a public roll enters the room's chat history as a message of kind
 *    "roll" (domain/pl_chat.h: the same list, the same bound as chat:send)
 *    and goes to the room as roll:result, the roller's connections
 *    included; the ack carries the same roll;
 *  - a secret roll (secret: true) is for a GM of the room's campaign only
 *    (FORBIDDEN for a player; VALIDATION_ERROR in a user room, which has
 *    no campaign): roll:result goes to campaign:<id>:gm, and nothing is
 *    stored, since every member may read the room's history.
 *  Every refusal comes before anything is written.
 *
 *  Runs on the worker loop (pl_worker.h).
 */
#include "rules.h"
#include "pl_chat.h"
#include "pl_dice.h"
#include "pl_id.h"
#include "pl_keys.h"
#include "pl_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LABEL_MAX 200             /* characters (code points) in a label */

/* The history entry's text, for clients that show text only:
 * "<label>: <expression> = <total>" (no label: from "<expression>").
 * Returns 0, or -1 out of memory. */
static int
s_add_text (cJSON *entry, const char *label, const char *expression, double total)
{
    /* label: at most 4 bytes x S_LABEL_MAX; expression: pl_dice's
     * canonical text, bounded by PL_DICE_TEXT_MAX * 2 */
    char text[4 * S_LABEL_MAX + 2 * PL_DICE_TEXT_MAX + 64];
    snprintf (text, sizeof text, "%s%s%s = %.0f", label ? label : "", label ? ": " : "",
              expression, total);
    return cJSON_AddStringToObject (entry, "text", text) ? 0 : -1;
}

/* Move member name from src to dst. Returns 0, or -1 when src has none. */
static int
s_move (cJSON *dst, cJSON *src, const char *name)
{
    cJSON *item = cJSON_DetachItemFromObjectCaseSensitive (src, name);
    if (!item)
        return -1;
    cJSON_AddItemToObject (dst, name, item);
    return 0;
}

/* roll {room, expression, label?, secret?}. Runs on the worker loop. */
void
pl_rules_roll (pl_call_t *call, const cJSON *arg)
{
    pl_dice_t *dice = NULL;
    cJSON *drawn = NULL, *roll = NULL, *entry = NULL;
    redisReply *reply = NULL;
    const cJSON *expression = cJSON_GetObjectItemCaseSensitive (arg, "expression");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive (arg, "label");
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive (arg, "secret");
    if (!cJSON_IsObject (arg) || !cJSON_IsString (expression)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "roll expects {room, expression, label?, secret?} with expression a string");
        goto cleanup;
    }
    if (cJSON_IsNull (label))
        label = NULL;
    if (label && (!cJSON_IsString (label)
                  || pl_wire_code_points (label->valuestring) > S_LABEL_MAX)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                       "label must be a string of at most %d characters", S_LABEL_MAX);
        goto cleanup;
    }
    if (secret && !cJSON_IsNull (secret) && !cJSON_IsBool (secret)) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "secret must be true or false");
        goto cleanup;
    }
    bool is_secret = cJSON_IsTrue (secret);
    /* the gateway and the runtime refuse a NUL in any string before it
     * gets here, so the C string is the whole expression */
    char why[160];
    dice = pl_dice_parse (expression->valuestring, strlen (expression->valuestring),
                          why, sizeof why);
    if (!dice) {
        pl_call_error (call, PL_ERR_VALIDATION_ERROR, "expression: %s", why);
        goto cleanup;
    }
    pl_room_ref_t ref;
    pl_role_t role;
    const char *room = pl_chat_room (call, arg, "roll", &ref, &role);
    if (!room)
        goto cleanup;                       /* answered */
    char to[PL_WIRE_ROOM_MAX + 8];          /* where roll:result goes */
    snprintf (to, sizeof to, "%s", room);
    if (is_secret) {
        const char *campaign = NULL;
        if (ref.kind == PL_ROOM_CAMPAIGN)
            campaign = ref.id;
        else
        if (ref.kind == PL_ROOM_SESSION) {
            reply = pl_call_command (call, "HGET " PL_KEY_SESSION " campaignId", ref.id);
            if (!reply)
                goto cleanup;               /* answered */
            if (reply->type == REDIS_REPLY_STRING && pl_wire_id_valid (reply->str))
                campaign = reply->str;
        }
        if (!campaign) {
            pl_call_error (call, PL_ERR_VALIDATION_ERROR,
                           "a secret roll needs the room of a campaign or of a game session "
                           "(%s has no GMs to show it to)", room);
            goto cleanup;
        }
        if (role != PL_ROLE_GM) {
            pl_call_error (call, PL_ERR_FORBIDDEN, "only a GM of the campaign may roll secretly");
            goto cleanup;
        }
        snprintf (to, sizeof to, "campaign:%s:gm", campaign);
    }
    drawn = pl_dice_roll (dice, NULL, NULL);
    if (!drawn) {
        pl_call_error (call, PL_ERR_INTERNAL, "no random numbers from the kernel");
        goto cleanup;
    }
    roll = pl_chat_message_new (pl_call_caller (call), room);
    if (!roll
    ||  !cJSON_AddStringToObject (roll, "expression", pl_dice_text (dice))
    ||  !cJSON_AddItemToObject (roll, "label", label ? cJSON_CreateString (label->valuestring)
                                                     : cJSON_CreateNull ())
    ||  !cJSON_AddBoolToObject (roll, "secret", is_secret)
    ||  s_move (roll, drawn, "rolls") != 0
    ||  s_move (roll, drawn, "modifier") != 0
    ||  s_move (roll, drawn, "total") != 0
    ||  !cJSON_AddNumberToObject (roll, "ts", (double) pl_id_wall_ms ())) {
        pl_call_error (call, PL_ERR_INTERNAL, "out of memory, or no random id");
        goto cleanup;
    }
    if (!is_secret) {
        entry = cJSON_Duplicate (roll, true);
        if (!entry
        ||  !cJSON_AddStringToObject (entry, "kind", "roll")
        ||  s_add_text (entry, label ? label->valuestring : NULL, pl_dice_text (dice),
                        cJSON_GetNumberValue (cJSON_GetObjectItem (roll, "total"))) != 0) {
            pl_call_error (call, PL_ERR_INTERNAL, "out of memory");
            goto cleanup;
        }
        if (pl_chat_append (call, room, entry) != 0)
            goto cleanup;                   /* answered */
    }
    pl_call_publish (call, to, PL_PUSH_ROLL_RESULT, cJSON_Duplicate (roll, true), false);
    pl_call_ok (call, roll);
    roll = NULL;
cleanup:
    cJSON_Delete (entry);
    cJSON_Delete (roll);
    cJSON_Delete (drawn);
    pl_dice_destroy (&dice);
    if (reply)
        freeReplyObject (reply);
}
