/*  pl_replay_msg - the messages of connection-state recovery in the broker
 *  (pl_replay_message in pl_replay.h): SESS (a gateway opens, saves or
 *  ends a session), RECOVER (a gateway claims a saved session for a
 *  reconnecting client) and REPLAY (it asks for the missed messages).
 *  Every frame is checked here, bounded and NUL-free, before the session
 *  table or the log (pl_replay.c, shared through pl_replay_int.h) is
 *  touched; a malformed message is dropped with a warning.
 *
 *  Runs on the broker's loop.
 */
#include "pl_replay_int.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_wire.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ORIGIN_MAX 200                /* bytes of "<gateway>/<conn>"             */

/* Frame i as a C string into buf (size bytes): -1 when it is longer, or
 * holds a NUL. */
static int
s_frame_str (pl_zmsg_t *msg, int i, char *buf, size_t size)
{
    size_t len = 0;
    const char *data = pl_zmsg_data (msg, i, &len);
    if (!data || len >= size || memchr (data, 0, len))
        return -1;
    memcpy (buf, data, len);
    buf[len] = 0;
    return 0;
}

static const char *
s_json_str (const cJSON *root, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (root, key);
    return cJSON_IsString (item) ? item->valuestring : NULL;
}

/* Refuse every claim waiting for pid's save, with why. */
static void
s_refuse_waiters (pl_replay_t *self, const char *pid, const char *why)
{
    for (pl_replay__waiter_t **wp = &self->waiters; *wp; ) {
        pl_replay__waiter_t *w = *wp;
        if (strcmp (w->pid, pid) != 0) {
            wp = &w->next;
            continue;
        }
        *wp = w->next;
        self->nwaiters--;
        pl_replay__refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce, why);
        free (w);
    }
}

/* SESS pid {"state":"open"|"saved"|"end", ...}. */
static int
s_on_session (pl_replay_t *self, pl_zmsg_t *msg, int64_t now)
{
    int rc = -1;
    char pid[PL_REPLAY_PID_MAX + 1];
    cJSON *root = NULL;
    size_t len = 0;
    const char *json = pl_zmsg_data (msg, 4, &len);
    if (msg->count != 5 || s_frame_str (msg, 3, pid, sizeof pid) != 0 || !pl_wire_pid_valid (pid)
    ||  pl_proto_json_has_nul (json, len) || !(root = pl_proto_json_parse (json, len)))
        goto cleanup;
    const char *state = s_json_str (root, "state");
    const char *sub = s_json_str (root, "sub");
    pl_replay__session_t *s = zhashx_lookup (self->by_pid, pid);
    if (state && strcmp (state, "end") == 0) {
        zhashx_delete (self->by_pid, pid);
        /* claims that waited for its save: there will be none (the
         * client left on purpose, and its CONNECT came before the old
         * connection's close), so they are answered now, not at their
         * deadline (wait_ms: a socket.io-client that disconnect()s and
         * connect()s at once waited that long for its CONNECT) */
        s_refuse_waiters (self, pid, "the session ended");
        rc = 0;
        goto cleanup;
    }
    if (!state || !sub || !pl_wire_user_id_valid (sub))
        goto cleanup;
    if (strcmp (state, "open") == 0) {
        if (s || zhashx_size (self->by_pid) >= PL_REPLAY_SESSIONS_MAX
        ||  !(s = calloc (1, sizeof *s)))
            goto cleanup;
        s->state = S_OPEN;
        strcpy (s->pid, pid);
        strcpy (s->sub, sub);
        s->open_seq = self->next_seq;
        s->gw = pl_replay__heard (self, msg, now, true);
        if (!s->gw || zhashx_insert (self->by_pid, s->pid, s) != 0) {
            free (s);
            goto cleanup;
        }
        s->gw->nopen++;
        rc = 0;
        goto cleanup;
    }
    if (strcmp (state, "saved") != 0 || !s || s->state != S_OPEN || strcmp (s->sub, sub) != 0)
        goto cleanup;
    const char *origin = s_json_str (root, "origin");
    const cJSON *rooms = cJSON_GetObjectItemCaseSensitive (root, "rooms");
    const cJSON *room;
    if (!origin || strlen (origin) > S_ORIGIN_MAX || !cJSON_IsArray (rooms)
    ||  cJSON_GetArraySize (rooms) > PL_REPLAY_ROOMS_MAX)
        goto cleanup;
    cJSON_ArrayForEach (room, rooms) {
        pl_room_ref_t ref;
        if (!cJSON_IsString (room)
        ||  pl_wire_room_parse (room->valuestring, &ref, NULL) == PL_ROOM_INVALID)
            goto cleanup;
    }
    /* whole: every check passed, now write */
    size_t n = (size_t) cJSON_GetArraySize (rooms);
    char (*names)[PL_WIRE_ROOM_MAX + 1] = malloc ((n ? n : 1) * sizeof *names);
    char *origin_copy = strdup (origin);
    if (!names || !origin_copy) {
        free (names);
        free (origin_copy);
        goto cleanup;
    }
    size_t i = 0;
    cJSON_ArrayForEach (room, rooms)
        snprintf (names[i++], sizeof names[0], "%s", room->valuestring);
    s->rooms = names;
    s->nrooms = n;
    s->origin = origin_copy;
    s->state = S_SAVED;
    s->gw->nopen--;                     /* its own clock from now */
    s->gw = NULL;
    s->expires = now + self->opts.max_ms;
    self->timed++;
    pl_replay__arm (self);
    /* claims that waited for it */
    for (pl_replay__waiter_t **wp = &self->waiters; *wp; ) {
        pl_replay__waiter_t *w = *wp;
        if (strcmp (w->pid, pid) != 0) {
            wp = &w->next;
            continue;
        }
        *wp = w->next;
        self->nwaiters--;
        s = zhashx_lookup (self->by_pid, pid);
        if (!s)
            pl_replay__refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce,
                               "unknown session");
        else
        if (strcmp (s->sub, w->sub) != 0)
            pl_replay__refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce,
                               "the session is another user's");
        else
            pl_replay__claim (self, s, w->client, w->client_len, w->nonce, w->offset, now);
        free (w);
    }
    rc = 0;
cleanup:
    cJSON_Delete (root);
    return rc;
}

/* RECOVER nonce {"pid","sub","offset"?}. */
static int
s_on_recover (pl_replay_t *self, pl_zmsg_t *msg, int64_t now)
{
    int rc = -1;
    char nonce[PL_REPLAY_NONCE_MAX + 1];
    cJSON *root = NULL;
    size_t len = 0, client_len = 0;
    const byte *client = pl_zmsg_data (msg, 0, &client_len);
    const char *json = pl_zmsg_data (msg, 4, &len);
    if (msg->count != 5 || client_len > 255 || s_frame_str (msg, 3, nonce, sizeof nonce) != 0
    ||  strncmp (nonce, PL_REPLAY_NONCE_PREFIX, strlen (PL_REPLAY_NONCE_PREFIX)) != 0
    ||  pl_proto_json_has_nul (json, len) || !(root = pl_proto_json_parse (json, len)))
        goto cleanup;
    const char *pid = s_json_str (root, "pid");
    const char *sub = s_json_str (root, "sub");
    const char *offset = s_json_str (root, "offset");
    if (!sub || !pl_wire_user_id_valid (sub))
        goto cleanup;
    rc = 0;
    pl_replay__session_t *s = pid && pl_wire_pid_valid (pid)
                            ? zhashx_lookup (self->by_pid, pid) : NULL;
    if (offset && strlen (offset) != PL_REPLAY_OFFSET_LEN)
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "offset unknown here");
    else
    if (!s)
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "unknown session");
    else
    if (strcmp (s->sub, sub) != 0)
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce,
                           "the session is another user's");
    else
    if (s->state == S_SAVED)
        pl_replay__claim (self, s, client, client_len, nonce, offset ? offset : "", now);
    else {
        /* open: its gateway has not saved it yet; wait for that */
        pl_replay__waiter_t *w = self->nwaiters < PL_REPLAY_WAITERS_MAX
                               ? calloc (1, sizeof *w) : NULL;
        if (!w) {
            pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce,
                               "too many recoveries");
            goto cleanup;
        }
        w->deadline = now + self->opts.wait_ms;
        w->client_len = client_len;
        memcpy (w->client, client, client_len);
        strcpy (w->nonce, nonce);
        strcpy (w->pid, pid);
        strcpy (w->sub, sub);
        snprintf (w->offset, sizeof w->offset, "%s", offset ? offset : "");
        w->next = self->waiters;
        self->waiters = w;
        self->nwaiters++;
        pl_replay__arm (self);
    }
cleanup:
    cJSON_Delete (root);
    return rc;
}

/* REPLAY nonce. */
static int
s_on_replay (pl_replay_t *self, pl_zmsg_t *msg)
{
    int rc = -1;
    char nonce[PL_REPLAY_NONCE_MAX + 1];
    size_t client_len = 0;
    const byte *client = pl_zmsg_data (msg, 0, &client_len);
    if (msg->count != 4 || client_len > 255 || s_frame_str (msg, 3, nonce, sizeof nonce) != 0)
        goto cleanup;
    rc = 0;
    pl_replay__session_t *s = zhashx_lookup (self->by_nonce, nonce);
    if (!s) {
        pl_replay__refuse (self, PL_CMD_REPLAY, client, client_len, nonce, "no such claim");
        goto cleanup;
    }
    s->asked = true;
    if (s->seen)
        pl_replay__replay (self, s);
cleanup:
    return rc;
}

void
pl_replay_message (pl_replay_t *self, pl_zmsg_t *msg, int64_t now)
{
    int rc = -1;
    if (msg->oversize)
        goto cleanup;
    pl_replay__heard (self, msg, now, false);
    if (pl_zmsg_is (msg, 2, PL_CMD_STATUS))
        rc = 0;                         /* only alive (pl_replay__heard) */
    else
    if (pl_zmsg_is (msg, 2, PL_CMD_SESSION))
        rc = s_on_session (self, msg, now);
    else
    if (pl_zmsg_is (msg, 2, PL_CMD_RECOVER))
        rc = s_on_recover (self, msg, now);
    else
    if (pl_zmsg_is (msg, 2, PL_CMD_REPLAY))
        rc = s_on_replay (self, msg);
cleanup:
    if (rc != 0)
        pl_warn ("recovery: dropped a malformed or unexpected message (%d frames)", msg->count);
}
