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
 */
#include "pl_replay.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_wire.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ORIGIN_MAX 200                /* bytes of "<gateway>/<conn>"             */

typedef struct s_entry {
    struct s_entry *next;               /* younger, or NULL                        */
    int64_t at;                         /* when logged, ms                         */
    uint64_t seq;                       /* its offset's sequence                   */
    bool control;                       /* CTL, else EV                            */
    size_t size;                        /* bytes it counts for                     */
    size_t topic_len, origin_len, packet_len, except_len;  /* except_len 0: none  */
    char *topic, *origin, *packet, *except;                /* into data, NUL-ended */
    char data[];
} s_entry_t;

typedef enum { S_OPEN, S_SAVED, S_CLAIMED } s_state_t;

/* A gateway (a frontend identity) with sessions open: when last heard. */
typedef struct {
    int64_t heard;                      /* ms                                      */
    size_t nopen;                       /* its sessions still open                 */
    char key[512];                      /* its identity in hex                     */
} s_gw_t;

/* Who claimed a session. */
typedef struct {
    size_t client_len;                  /* its frontend identity                   */
    byte client[256];
    char nonce[PL_REPLAY_NONCE_MAX + 1];
} s_claimant_t;

/* A session: small while open (one per connected client), its rooms sized
 * to what it holds once saved. */
typedef struct {
    s_state_t state;
    char pid[PL_REPLAY_PID_MAX + 1];
    char sub[PL_WIRE_ID_MAX + 1];
    char *origin;                       /* saved: the connection's own events      */
    char (*rooms)[PL_WIRE_ROOM_MAX + 1];    /* saved: nrooms of them               */
    size_t nrooms;
    uint64_t open_seq;                  /* next sequence when it opened            */
    uint64_t from;                      /* claimed: replay after this sequence     */
    int64_t expires;                    /* saved, claimed: forgotten then (ms)     */
    bool seen;                          /* claimed: the XPUB read its nonce        */
    bool asked;                         /* claimed: its REPLAY arrived             */
    s_claimant_t *by;                   /* claimed: who asked                      */
    s_gw_t *gw;                         /* open: the gateway it is open on         */
} s_session_t;

/* A RECOVER for a session still open, waiting for its save. */
typedef struct s_waiter {
    struct s_waiter *next;
    int64_t deadline;
    size_t client_len;
    byte client[256];
    char nonce[PL_REPLAY_NONCE_MAX + 1];
    char pid[PL_REPLAY_PID_MAX + 1];
    char sub[PL_WIRE_ID_MAX + 1];
    char offset[PL_REPLAY_OFFSET_LEN + 1];  /* "" for none */
} s_waiter_t;

struct _pl_replay_t {
    pl_replay_opts_t opts;
    s_entry_t *head, *tail;             /* the log, oldest first                   */
    size_t count, bytes;
    uint64_t next_seq;                  /* the next message's sequence (from 1)    */
    uint64_t first_seq;                 /* the oldest sequence still logged, or
                                           next_seq when the log is empty         */
    zhashx_t *by_pid;                   /* pid -> session (owned)                  */
    zhashx_t *by_nonce;                 /* nonce -> claimed session (owned)        */
    zhashx_t *gateways;                 /* identity (hex) -> s_gw_t (owned), those
                                           with open sessions                     */
    s_waiter_t *waiters;                /* claims waiting for a save               */
    size_t nwaiters;
    size_t timed;                       /* saved or claimed sessions, as of the
                                           last expiry (or more since)            */
    zloop_t *loop;                      /* attached to, or NULL                    */
    int timer;                          /* its expiry timer, or -1                 */
};

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
static void
s_arm (pl_replay_t *self)
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
        s_arm (self);
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
    s_session_t *s = *item;
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
static s_gw_t *
s_heard (pl_replay_t *self, pl_zmsg_t *msg, int64_t now, bool make)
{
    s_gw_t *gw = NULL;
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
            s_arm (self);
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
            s_entry_t *e = self->head;
            self->head = e->next;
            free (e);
        }
        while (self->waiters) {
            s_waiter_t *w = self->waiters;
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
    s_entry_t *e = self->head;
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
    size_t size = sizeof (s_entry_t) + data;
    s_entry_t *e = size <= self->opts.max_bytes ? malloc (size) : NULL;
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
    s_arm (self);
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
s_applies (s_set_t *set, const s_entry_t *e, const char *own_origin)
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
s_walk (pl_replay_t *self, const s_session_t *s, s_set_t *set, bool send)
{
    size_t count = 0;
    set->n = 0;
    for (size_t i = 0; i < s->nrooms; i++)
        s_set_add (set, s->rooms[i]);
    for (s_entry_t *e = self->head; e; e = e->next) {
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

static void
s_refuse (pl_replay_t *self, const char *command, const byte *client, size_t client_len,
          const char *nonce, const char *reason)
{
    cJSON *body = cJSON_CreateObject ();
    cJSON_AddFalseToObject (body, "ok");
    cJSON_AddStringToObject (body, "reason", reason);
    s_answer (self, command, client, client_len, nonce, body);
}

/* Claim saved session s for (client, nonce) from offset ("" none). */
static void
s_claim (pl_replay_t *self, s_session_t *s, const byte *client, size_t client_len,
         const char *nonce, const char *offset, int64_t now)
{
    uint64_t from = s->open_seq ? s->open_seq - 1 : 0;
    if (*offset && s_parse (self, offset, &from) != 0) {
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "offset unknown here");
        goto cleanup;
    }
    if (from >= self->next_seq) {
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "offset unknown here");
        goto cleanup;
    }
    if (from + 1 < self->first_seq) {
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce,
                  "offset older than the recovery log");
        goto cleanup;
    }
    if (zhashx_lookup (self->by_nonce, nonce)) {
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "nonce in use");
        goto cleanup;
    }
    s->from = from;
    s_set_t set;
    if (s_walk (self, s, &set, false) > PL_REPLAY_EVENTS_MAX) {
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "too many missed events");
        zhashx_delete (self->by_pid, s->pid);
        goto cleanup;
    }
    /* move it from by_pid to by_nonce: a pid recovers once */
    s_session_t *moved = malloc (sizeof *moved);
    s_claimant_t *by = calloc (1, sizeof *by);
    if (!moved || !by) {
        free (moved);
        free (by);
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "out of memory");
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
    s_arm (self);
    by->client_len = client_len;
    memcpy (by->client, client, client_len);
    snprintf (by->nonce, sizeof by->nonce, "%s", nonce);
    s->by = by;
    if (zhashx_insert (self->by_nonce, s->by->nonce, s) != 0) {
        void *item = s;
        s_session_free (&item);
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "out of memory");
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
static void
s_replay (pl_replay_t *self, s_session_t *s)
{
    s_set_t set;
    if (s->from + 1 < self->first_seq)
        s_refuse (self, PL_CMD_REPLAY, s->by->client, s->by->client_len, s->by->nonce,
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
    s_session_t *s = zhashx_lookup (self->by_nonce, nonce);
    if (!s)
        return;
    s->seen = true;
    if (s->asked)
        s_replay (self, s);
}

/* ---- messages ---------------------------------------------------------- */

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
    s_session_t *s = zhashx_lookup (self->by_pid, pid);
    if (state && strcmp (state, "end") == 0) {
        zhashx_delete (self->by_pid, pid);
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
        s->gw = s_heard (self, msg, now, true);
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
    s_arm (self);
    /* claims that waited for it */
    for (s_waiter_t **wp = &self->waiters; *wp; ) {
        s_waiter_t *w = *wp;
        if (strcmp (w->pid, pid) != 0) {
            wp = &w->next;
            continue;
        }
        *wp = w->next;
        self->nwaiters--;
        s = zhashx_lookup (self->by_pid, pid);
        if (!s)
            s_refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce, "unknown session");
        else
        if (strcmp (s->sub, w->sub) != 0)
            s_refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce,
                      "the session is another user's");
        else
            s_claim (self, s, w->client, w->client_len, w->nonce, w->offset, now);
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
    s_session_t *s = pid && pl_wire_pid_valid (pid) ? zhashx_lookup (self->by_pid, pid) : NULL;
    if (offset && strlen (offset) != PL_REPLAY_OFFSET_LEN)
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "offset unknown here");
    else
    if (!s)
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "unknown session");
    else
    if (strcmp (s->sub, sub) != 0)
        s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce,
                  "the session is another user's");
    else
    if (s->state == S_SAVED)
        s_claim (self, s, client, client_len, nonce, offset ? offset : "", now);
    else {
        /* open: its gateway has not saved it yet; wait for that */
        s_waiter_t *w = self->nwaiters < PL_REPLAY_WAITERS_MAX ? calloc (1, sizeof *w) : NULL;
        if (!w) {
            s_refuse (self, PL_CMD_RECOVER, client, client_len, nonce, "too many recoveries");
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
        s_arm (self);
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
    s_session_t *s = zhashx_lookup (self->by_nonce, nonce);
    if (!s) {
        s_refuse (self, PL_CMD_REPLAY, client, client_len, nonce, "no such claim");
        goto cleanup;
    }
    s->asked = true;
    if (s->seen)
        s_replay (self, s);
cleanup:
    return rc;
}

void
pl_replay_message (pl_replay_t *self, pl_zmsg_t *msg, int64_t now)
{
    int rc = -1;
    if (msg->oversize)
        goto cleanup;
    s_heard (self, msg, now, false);
    if (pl_zmsg_is (msg, 2, PL_CMD_STATUS))
        rc = 0;                         /* only alive (s_heard) */
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

void
pl_replay_expire (pl_replay_t *self, int64_t now)
{
    while (self->head && self->head->at + self->opts.max_ms <= now)
        s_drop_head (self);
    for (s_waiter_t **wp = &self->waiters; *wp; ) {
        s_waiter_t *w = *wp;
        if (w->deadline > now) {
            wp = &w->next;
            continue;
        }
        *wp = w->next;
        self->nwaiters--;
        s_refuse (self, PL_CMD_RECOVER, w->client, w->client_len, w->nonce,
                  "the session was never saved");
        free (w);
    }
    /* the open sessions of gateways gone silent (crashed: none saved) */
    zlistx_t *gone = NULL;
    for (s_session_t *s = zhashx_first (self->by_pid); s; s = zhashx_next (self->by_pid))
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
    for (s_gw_t *gw = zhashx_first (self->gateways); gw; gw = zhashx_next (self->gateways))
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
        for (s_session_t *s = zhashx_first (maps[m]); s; s = zhashx_next (maps[m]))
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
