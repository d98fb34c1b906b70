/*  pl_replay - connection-state recovery in the broker. See pl_replay.h.
 *
 *  The log is a FIFO of messages in offset order (oldest first), trimmed
 *  at its head by age and bytes. Sessions live in two maps: by pid (open
 *  and saved ones) and, once claimed by a RECOVER, by the claim's nonce
 *  until its REPLAY is answered (a pid recovers once). Which rooms a
 *  session's connection would have been in at each logged message is
 *  worked out by walking the log from the client's offset with its saved
 *  rooms, applying the controls on the way (s_walk): an eviction logged
 *  while it was away takes the room away, a grant adds one; events it
 *  would not have received (its own origin, an except room it is in) are
 *  left out, as the gateway's fan-out leaves them out.
 *
 *  This file holds the log, the session table, claims and replays, and
 *  expiry; the SESS / RECOVER / REPLAY messages that drive them are parsed
 *  and checked in pl_replay_msg.c (what both share: pl_replay_int.h).
 */
#include "pl_replay_int.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_wire.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* zloop timer, every second while anything can expire; runs on the
 * broker's loop. Ends itself once nothing can. */
static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    pl_replay_t *self = arg;
    pl_replay_expire (self, zclock_mono ());
    if (self->count == 0 && self->nwaiters == 0 && self->timed == 0
    &&  zhashx_size (self->gateways) == 0) {
        zloop_timer_end (loop, timer_id);
        self->timer = -1;
    }
    return 0;
}

/* Something that can expire was added: make sure the timer runs. */
void
pl_replay__arm (pl_replay_t *self)
{
    if (self->loop && self->timer == -1)
        self->timer = zloop_timer (self->loop, 1000, 0, s_on_tick, self);
}

int
pl_replay_attach (pl_replay_t *self, zloop_t *loop)
{
    assert (self && loop && !self->loop);
    self->loop = loop;
    self->timer = -1;
    if (self->count || self->nwaiters || self->timed)
        pl_replay__arm (self);
    return self->timer == -1 && (self->count || self->nwaiters || self->timed) ? -1 : 0;
}

void
pl_replay_detach (pl_replay_t *self)
{
    assert (self);
    if (self->loop && self->timer != -1)
        zloop_timer_end (self->loop, self->timer);
    self->loop = NULL;
    self->timer = -1;
}

/* zhashx destructor; runs wherever the map is destroyed or an item deleted */
static void
s_session_free (void **item)
{
    pl_replay__session_t *s = *item;
    if (s) {
        if (s->gw)
            s->gw->nopen--;
        free (s->origin);
        free (s->rooms);
        free (s->by);
        free (s);
    }
    *item = NULL;
}

/* zhashx destructor, as s_session_free */
static void
s_gw_free (void **item)
{
    free (*item);
    *item = NULL;
}

/* The gateway of frontend identity client was heard from now; returns its
 * entry, made when make (NULL: not known, or out of memory). */
pl_replay__gw_t *
pl_replay__heard (pl_replay_t *self, pl_zmsg_t *msg, int64_t now, bool make)
{
    pl_replay__gw_t *gw = NULL;
    char key[sizeof gw->key];
    size_t len = 0;
    const byte *id = (const byte *) pl_zmsg_data (msg, 0, &len);
    if (!id || len == 0 || len * 2 >= sizeof key)
        goto cleanup;
    for (size_t i = 0; i < len; i++)
        snprintf (key + 2 * i, 3, "%02x", id[i]);
    gw = zhashx_lookup (self->gateways, key);
    if (!gw && make && (gw = calloc (1, sizeof *gw))) {
        strcpy (gw->key, key);
        if (zhashx_insert (self->gateways, gw->key, gw) != 0) {
            free (gw);
            gw = NULL;
        }
        else
            pl_replay__arm (self);
    }
    if (gw)
        gw->heard = now;
cleanup:
    return gw;
}

pl_replay_t *
pl_replay_new (const pl_replay_opts_t *opts)
{
    assert (opts && opts->send);
    pl_replay_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->opts = *opts;
    if (!self->opts.boot_ms)
        self->opts.boot_ms = zclock_time ();
    self->next_seq = self->first_seq = 1;
    self->timer = -1;
    self->by_pid = zhashx_new ();
    self->by_nonce = zhashx_new ();
    self->gateways = zhashx_new ();
    if (!self->opts.stale_ms)
        self->opts.stale_ms = 3 * self->opts.wait_ms;
    if (!self->by_pid || !self->by_nonce || !self->gateways) {
        pl_replay_destroy (&self);
        goto cleanup;
    }
    zhashx_set_destructor (self->by_pid, s_session_free);
    zhashx_set_destructor (self->by_nonce, s_session_free);
    zhashx_set_destructor (self->gateways, s_gw_free);
cleanup:
    return self;
}

void
pl_replay_destroy (pl_replay_t **self_p)
{
    assert (self_p);
    pl_replay_t *self = *self_p;
    if (self) {
        pl_replay_detach (self);
        while (self->head) {
            pl_replay__entry_t *e = self->head;
            self->head = e->next;
            free (e);
        }
        while (self->waiters) {
            pl_replay__waiter_t *w = self->waiters;
            self->waiters = w->next;
            free (w);
        }
        zhashx_destroy (&self->by_pid);
        zhashx_destroy (&self->by_nonce);
        zhashx_destroy (&self->gateways);   /* after the sessions that count on them */
        free (self);
        *self_p = NULL;
    }
}

static void
s_format (pl_replay_t *self, uint64_t seq, char offset[PL_REPLAY_OFFSET_LEN + 1])
{
    snprintf (offset, PL_REPLAY_OFFSET_LEN + 1, "%012" PRIx64 "-%012" PRIx64,
              (uint64_t) self->opts.boot_ms & UINT64_C (0xffffffffffff),
              seq & UINT64_C (0xffffffffffff));
}

/* An offset of this broker: its sequence. -1 when it is not one. */
static int
s_parse (pl_replay_t *self, const char *offset, uint64_t *seq)
{
    int rc = -1;
    char mine[PL_REPLAY_OFFSET_LEN + 1];
    s_format (self, 0, mine);
    if (strlen (offset) != PL_REPLAY_OFFSET_LEN || memcmp (offset, mine, 13) != 0)
        goto cleanup;
    uint64_t v = 0;
    for (int i = 13; i < PL_REPLAY_OFFSET_LEN; i++) {
        char c = offset[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            goto cleanup;
        v = v * 16 + (uint64_t) d;
    }
    *seq = v;
    rc = 0;
cleanup:
    return rc;
}

static void
s_drop_head (pl_replay_t *self)
{
    pl_replay__entry_t *e = self->head;
    self->head = e->next;
    if (!self->head)
        self->tail = NULL;
    self->count--;
    self->bytes -= e->size;
    self->first_seq = self->head ? self->head->seq : self->next_seq;
    free (e);
}

void
pl_replay_record (pl_replay_t *self, int64_t now, bool control,
                  const char *topic, size_t topic_len, const char *origin, size_t origin_len,
                  const char *packet, size_t packet_len, const char *except, size_t except_len,
                  char offset[PL_REPLAY_OFFSET_LEN + 1])
{
    uint64_t seq = self->next_seq++;
    s_format (self, seq, offset);
    if (!except)
        except_len = 0;
    size_t data = topic_len + origin_len + packet_len + except_len + 4;
    size_t size = sizeof (pl_replay__entry_t) + data;
    pl_replay__entry_t *e = size <= self->opts.max_bytes ? malloc (size) : NULL;
    if (!e) {
        /* it cannot be logged: nothing before it can be replayed either */
        while (self->head)
            s_drop_head (self);
        self->first_seq = self->next_seq;
        goto cleanup;
    }
    e->next = NULL;
    e->at = now;
    e->seq = seq;
    e->control = control;
    e->size = size;
    e->topic_len = topic_len;
    e->origin_len = origin_len;
    e->packet_len = packet_len;
    e->except_len = except_len;
    char *p = e->data;
    e->topic = p;
    memcpy (p, topic, topic_len);
    p += topic_len;
    *p++ = 0;
    e->origin = p;
    memcpy (p, origin, origin_len);
    p += origin_len;
    *p++ = 0;
    e->packet = p;
    memcpy (p, packet, packet_len);
    p += packet_len;
    *p++ = 0;
    e->except = p;
    if (except_len)
        memcpy (p, except, except_len);
    p[except_len] = 0;
    while (self->head && self->bytes + size > self->opts.max_bytes)
        s_drop_head (self);
    if (self->tail)
        self->tail->next = e;
    else {
        self->head = e;
        self->first_seq = seq;
    }
    self->tail = e;
    self->count++;
    self->bytes += size;
    pl_replay__arm (self);
cleanup:
    return;
}

/* ---- room sets --------------------------------------------------------- */

typedef struct {
    char rooms[PL_REPLAY_ROOMS_MAX][PL_WIRE_ROOM_MAX + 1];
    size_t n;
} s_set_t;

static bool
s_set_has (const s_set_t *set, const char *room)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp (set->rooms[i], room) == 0)
            return true;
    return false;
}

static void
s_set_add (s_set_t *set, const char *room)
{
    if (set->n < PL_REPLAY_ROOMS_MAX && strlen (room) <= PL_WIRE_ROOM_MAX
    &&  !s_set_has (set, room))
        strcpy (set->rooms[set->n++], room);
}

static void
s_set_remove (s_set_t *set, const char *room)
{
    size_t i = 0;
    while (i < set->n && strcmp (set->rooms[i], room) != 0)
        i++;
    if (i < set->n) {
        if (i + 1 < set->n)
            memcpy (set->rooms[i], set->rooms[set->n - 1], sizeof set->rooms[i]);
        set->n--;
    }
}

/* Would a connection in set receive e (and, for a control, what does it
 * do to set)? */
static bool
s_applies (s_set_t *set, const pl_replay__entry_t *e, const char *own_origin)
{
    bool applies = false;
    cJSON *root = NULL;
    if (!s_set_has (set, e->topic))
        goto cleanup;
    if (e->control) {
        root = pl_proto_json_parse (e->packet, e->packet_len);
        const cJSON *join = cJSON_GetObjectItemCaseSensitive (root, "join");
        const cJSON *leave = cJSON_GetObjectItemCaseSensitive (root, "leave");
        const cJSON *within = cJSON_GetObjectItemCaseSensitive (root, "within");
        const cJSON *room;
        if (cJSON_IsArray (join)) {
            if (cJSON_IsString (within) && s_set_has (set, within->valuestring))
                cJSON_ArrayForEach (room, join)
                    if (cJSON_IsString (room))
                        s_set_add (set, room->valuestring);
        }
        else
            cJSON_ArrayForEach (room, leave)
                if (cJSON_IsString (room))
                    s_set_remove (set, room->valuestring);
        applies = true;
        goto cleanup;
    }
    if (e->origin_len && strcmp (e->origin, own_origin) == 0)
        goto cleanup;
    if (e->except_len) {
        root = pl_proto_json_parse (e->except, e->except_len);
        const cJSON *room;
        cJSON_ArrayForEach (room, root)
            if (cJSON_IsString (room) && s_set_has (set, room->valuestring))
                goto cleanup;
    }
    applies = true;
cleanup:
    cJSON_Delete (root);
    return applies;
}

/* Walk the log after s->from from s's saved rooms: count what applies and
 * leave the final rooms in set; send each to the claimant when send. */
static size_t
s_walk (pl_replay_t *self, const pl_replay__session_t *s, s_set_t *set, bool send)
{
    size_t count = 0;
    set->n = 0;
    for (size_t i = 0; i < s->nrooms; i++)
        s_set_add (set, s->rooms[i]);
    for (pl_replay__entry_t *e = self->head; e; e = e->next) {
        if (e->seq <= s->from || !s_applies (set, e, s->origin))
            continue;
        count++;
        if (send) {
            char offset[PL_REPLAY_OFFSET_LEN + 1];
            s_format (self, e->seq, offset);
            const char *kind = e->control ? PL_CMD_CONTROL : PL_CMD_EVENT;
            pl_zmsg_part_t parts[] = {
                { s->by->client, s->by->client_len }, { PL_PROTO_VERSION, 4 },
                { PL_CMD_REPLAY, strlen (PL_CMD_REPLAY) },
                { s->by->nonce, strlen (s->by->nonce) },
                { kind, strlen (kind) }, { e->topic, e->topic_len },
                { e->packet, e->packet_len }, { offset, PL_REPLAY_OFFSET_LEN },
            };
            self->opts.send (self->opts.arg, parts, 8);
        }
    }
    return count;
}

/* ---- answers ----------------------------------------------------------- */

static void
s_answer (pl_replay_t *self, const char *command, const byte *client, size_t client_len,
          const char *nonce, cJSON *body)
{
    char *json = body ? cJSON_PrintUnformatted (body) : NULL;
    if (json) {
        pl_zmsg_part_t parts[] = {
            { client, client_len }, { PL_PROTO_VERSION, 4 },
            { command, strlen (command) }, { nonce, strlen (nonce) }, { json, strlen (json) },
        };
        self->opts.send (self->opts.arg, parts, 5);
    }
    free (json);
    cJSON_Delete (body);
}

void
pl_replay__refuse (pl_replay_t *self, const char *command, const byte *client,
                   size_t client_len, const char *nonce, const char *reason)
{
    cJSON *body = cJSON_CreateObject ();
    cJSON_AddFalseToObject (body, "ok");
    cJSON_AddStringToObject (body, "reason", reason);
    s_answer (self, command, client, client_len, nonce, body);
}

/* Claim saved session s for (client, nonce) from offset ("" none). */
void
pl_replay__claim (pl_replay_t *self, pl_replay__session_t *s, const byte *client,
                  size_t client_len, const char *nonce, const char *offset, int64_t now)
{
    uint64_t from = s->open_seq ? s->open_seq - 1 : 0;
    if (*offset && s_parse (self, offset, &from) != 0) {
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "offset unknown here");
        goto cleanup;
    }
    if (from >= self->next_seq) {
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "offset unknown here");
        goto cleanup;
    }
    if (from + 1 < self->first_seq) {
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce,
                           "offset older than the recovery log");
        goto cleanup;
    }
    if (zhashx_lookup (self->by_nonce, nonce)) {
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "nonce in use");
        goto cleanup;
    }
    s->from = from;
    s_set_t set;
    if (s_walk (self, s, &set, false) > PL_REPLAY_EVENTS_MAX) {
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce,
                           "too many missed events");
        zhashx_delete (self->by_pid, s->pid);
        goto cleanup;
    }
    /* move it from by_pid to by_nonce: a pid recovers once */
    pl_replay__session_t *moved = malloc (sizeof *moved);
    pl_replay__claimant_t *by = calloc (1, sizeof *by);
    if (!moved || !by) {
        free (moved);
        free (by);
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "out of memory");
        goto cleanup;
    }
    memcpy (moved, s, sizeof *moved);
    s->origin = NULL;                   /* moved: not freed with the old entry */
    s->rooms = NULL;
    s->by = NULL;
    zhashx_delete (self->by_pid, s->pid);
    s = moved;
    s->state = S_CLAIMED;
    s->expires = now + self->opts.wait_ms;
    self->timed++;
    pl_replay__arm (self);
    by->client_len = client_len;
    memcpy (by->client, client, client_len);
    snprintf (by->nonce, sizeof by->nonce, "%s", nonce);
    s->by = by;
    if (zhashx_insert (self->by_nonce, s->by->nonce, s) != 0) {
        void *item = s;
        s_session_free (&item);
        pl_replay__refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "out of memory");
        goto cleanup;
    }
    cJSON *body = cJSON_CreateObject ();
    cJSON_AddTrueToObject (body, "ok");
    cJSON *rooms = cJSON_AddArrayToObject (body, "rooms");
    for (size_t i = 0; i < set.n; i++)
        cJSON_AddItemToArray (rooms, cJSON_CreateString (set.rooms[i]));
    s_answer (self, PL_CMD_RECOVER, client, client_len, nonce, body);
cleanup:
    return;
}

/* Both the REPLAY and the nonce's subscription are in: replay, then H. */
void
pl_replay__replay (pl_replay_t *self, pl_replay__session_t *s)
{
    s_set_t set;
    if (s->from + 1 < self->first_seq)
        pl_replay__refuse (self, PL_CMD_REPLAY, s->by->client, s->by->client_len, s->by->nonce,
                           "the recovery log moved past the offset");
    else {
        s_walk (self, s, &set, true);
        char high[PL_REPLAY_OFFSET_LEN + 1];
        s_format (self, self->next_seq - 1, high);
        cJSON *body = cJSON_CreateObject ();
        cJSON_AddTrueToObject (body, "ok");
        cJSON_AddStringToObject (body, "high", high);
        s_answer (self, PL_CMD_REPLAY, s->by->client, s->by->client_len, s->by->nonce, body);
    }
    zhashx_delete (self->by_nonce, s->by->nonce);
}

void
pl_replay_subscription (pl_replay_t *self, const void *data, size_t size)
{
    const char *p = data;
    size_t plen = strlen (PL_REPLAY_NONCE_PREFIX);
    char nonce[PL_REPLAY_NONCE_MAX + 1];
    /* 1, the topic "~recover/...", its NUL */
    if (size < 2 + plen || size - 2 > PL_REPLAY_NONCE_MAX || p[0] != 1
    ||  memcmp (p + 1, PL_REPLAY_NONCE_PREFIX, plen) != 0 || p[size - 1] != 0
    ||  memchr (p + 1, 0, size - 2))
        return;
    memcpy (nonce, p + 1, size - 1);
    pl_replay__session_t *s = zhashx_lookup (self->by_nonce, nonce);
    if (!s)
        return;
    s->seen = true;
    if (s->asked)
        pl_replay__replay (self, s);
}

void
pl_replay_expire (pl_replay_t *self, int64_t now)
{
    while (self->head && self->head->at + self->opts.max_ms <= now)
        s_drop_head (self);
    for (pl_replay__waiter_t **wp = &self->waiters; *wp; ) {
        pl_replay__waiter_t *w = *wp;
        if (w->deadline > now) {
            wp = &w->next;
            continue;
        }
        *wp = w->next;
        self->nwaiters--;
        pl_replay__refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce,
                           "the session was never saved");
        free (w);
    }
    /* the open sessions of gateways gone silent (crashed: none saved) */
    zlistx_t *gone = NULL;
    for (pl_replay__session_t *s = zhashx_first (self->by_pid); s; s = zhashx_next (self->by_pid))
        if (s->state == S_OPEN && s->gw && s->gw->heard + self->opts.stale_ms <= now) {
            if (!gone)
                gone = zlistx_new ();
            if (gone)
                zlistx_add_end (gone, s->pid);
        }
    for (char *key = gone ? zlistx_first (gone) : NULL; key; key = zlistx_next (gone))
        zhashx_delete (self->by_pid, key);
    if (gone)
        pl_info ("recovery: dropped %zu open sessions of gateways not heard from for %lld ms",
                 zlistx_size (gone), (long long) self->opts.stale_ms);
    zlistx_destroy (&gone);
    zlistx_t *idle = NULL;
    for (pl_replay__gw_t *gw = zhashx_first (self->gateways); gw;
         gw = zhashx_next (self->gateways))
        if (gw->nopen == 0) {
            if (!idle)
                idle = zlistx_new ();
            if (idle)
                zlistx_add_end (idle, gw->key);
        }
    for (char *key = idle ? zlistx_first (idle) : NULL; key; key = zlistx_next (idle))
        zhashx_delete (self->gateways, key);
    zlistx_destroy (&idle);
    zhashx_t *maps[] = { self->by_pid, self->by_nonce };
    self->timed = 0;
    for (int m = 0; m < 2; m++) {
        zlistx_t *due = NULL;
        for (pl_replay__session_t *s = zhashx_first (maps[m]); s; s = zhashx_next (maps[m]))
            if (s->state != S_OPEN && s->expires <= now) {
                if (!due)
                    due = zlistx_new ();
                if (due)
                    zlistx_add_end (due, m == 0 ? s->pid : s->by->nonce);
            }
            else
            if (s->state != S_OPEN)
                self->timed++;
        for (char *key = due ? zlistx_first (due) : NULL; key; key = zlistx_next (due))
            zhashx_delete (maps[m], key);
        zlistx_destroy (&due);
    }
}

size_t
pl_replay_messages (pl_replay_t *self)
{
    return self->count;
}

size_t
pl_replay_bytes (pl_replay_t *self)
{
    return self->bytes;
}

size_t
pl_replay_sessions (pl_replay_t *self)
{
    return zhashx_size (self->by_pid) + zhashx_size (self->by_nonce);
}
