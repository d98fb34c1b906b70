/*  pl_rooms - room membership registry (gateway loop only). */
#include "pl_rooms.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

struct _pl_room_t {
    char *name;                     /* room name, also the hash key      */
    pl_membership_t **members;      /* dense array, swap-removed         */
    size_t size;                    /* members in use                    */
    size_t cap;                     /* allocated slots                   */
};

struct _pl_membership_t {
    pl_room_t *room;                /* the room joined                   */
    void *member;                   /* the connection                    */
    pl_membership_t *next;          /* the member's next membership      */
    uint32_t index;                 /* position in room->members         */
};

struct _pl_rooms_t {
    zhashx_t *rooms;                /* name -> pl_room_t                 */
    pl_rooms_change_fn *on_change;  /* subscribe/unsubscribe hook        */
    void *arg;                      /* for on_change                     */
};

static void
s_room_destroy (void **item)
{
    pl_room_t *room = (pl_room_t *) *item;
    if (room) {
        free (room->members);
        free (room->name);
        free (room);
        *item = NULL;
    }
}

pl_rooms_t *
pl_rooms_new (pl_rooms_change_fn *on_change, void *arg)
{
    pl_rooms_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->rooms = zhashx_new ();
    if (!self->rooms) {
        free (self);
        self = NULL;
        goto cleanup;
    }
    zhashx_set_destructor (self->rooms, s_room_destroy);
    self->on_change = on_change;
    self->arg = arg;
cleanup:
    return self;
}

void
pl_rooms_destroy (pl_rooms_t **self_p)
{
    assert (self_p);
    pl_rooms_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->rooms);
        free (self);
        *self_p = NULL;
    }
}

bool
pl_rooms_in (pl_membership_t *const *chain, const char *name)
{
    for (const pl_membership_t *m = *chain; m; m = m->next)
        if (strcmp (m->room->name, name) == 0)
            return true;
    return false;
}

bool
pl_rooms_in_any (pl_membership_t *const *chain, pl_room_t *const *rooms, size_t n)
{
    for (const pl_membership_t *m = *chain; m; m = m->next)
        for (size_t i = 0; i < n; i++)
            if (rooms[i] && m->room == rooms[i])
                return true;
    return false;
}

size_t
pl_rooms_chain_size (pl_membership_t *const *chain)
{
    size_t n = 0;
    for (const pl_membership_t *m = *chain; m; m = m->next)
        n++;
    return n;
}

const char *
pl_rooms_chain_room (pl_membership_t *const *chain, size_t i)
{
    const pl_membership_t *m = *chain;
    while (m && i-- > 0)
        m = m->next;
    return m ? m->room->name : NULL;
}

int
pl_rooms_join (pl_rooms_t *self, const char *name, void *member, pl_membership_t **chain)
{
    int rc = -1;
    pl_membership_t *m = NULL;
    if (pl_rooms_in (chain, name))
        return 1;
    pl_room_t *room = (pl_room_t *) zhashx_lookup (self->rooms, name);
    bool created = false;
    if (!room) {
        room = calloc (1, sizeof *room);
        if (!room || !(room->name = strdup (name))) {
            free (room);
            room = NULL;
            goto cleanup;
        }
        zhashx_insert (self->rooms, name, room);
        created = true;
    }
    if (room->size == room->cap) {
        size_t cap = room->cap ? room->cap * 2 : 1;     /* most users: 1-2 tabs */
        pl_membership_t **grown = realloc (room->members, cap * sizeof *grown);
        if (!grown)
            goto cleanup;
        room->members = grown;
        room->cap = cap;
    }
    m = malloc (sizeof *m);
    if (!m)
        goto cleanup;
    m->room = room;
    m->member = member;
    m->index = (uint32_t) room->size;
    m->next = *chain;
    *chain = m;
    room->members[room->size++] = m;
    if (created && self->on_change)
        self->on_change (self->arg, room->name, true);
    rc = 0;
cleanup:
    if (rc != 0 && room && room->size == 0)
        zhashx_delete (self->rooms, name);
    return rc;
}

/* Unlink m from its room (the chain is the caller's business). */
static void
s_leave (pl_rooms_t *self, pl_membership_t *m)
{
    pl_room_t *room = m->room;
    assert (room->members[m->index] == m);
    pl_membership_t *last = room->members[--room->size];
    room->members[m->index] = last;
    last->index = m->index;
    free (m);
    if (room->size == 0) {
        if (self->on_change)
            self->on_change (self->arg, room->name, false);
        zhashx_delete (self->rooms, room->name);     /* frees room */
    }
}

int
pl_rooms_leave (pl_rooms_t *self, pl_membership_t **chain, const char *name)
{
    for (pl_membership_t **link = chain; *link; link = &(*link)->next) {
        pl_membership_t *m = *link;
        if (strcmp (m->room->name, name) == 0) {
            *link = m->next;
            s_leave (self, m);
            return 0;
        }
    }
    return -1;
}

void
pl_rooms_leave_all (pl_rooms_t *self, pl_membership_t **chain)
{
    while (*chain) {
        pl_membership_t *m = *chain;
        *chain = m->next;
        s_leave (self, m);
    }
}

void
pl_rooms_rebind (pl_membership_t *const *chain, void *member)
{
    for (pl_membership_t *m = *chain; m; m = m->next)
        m->member = member;
}

pl_room_t *
pl_rooms_find (pl_rooms_t *self, const char *name)
{
    return (pl_room_t *) zhashx_lookup (self->rooms, name);
}

size_t
pl_room_size (const pl_room_t *room)
{
    return room->size;
}

void *
pl_room_member (const pl_room_t *room, size_t i)
{
    assert (i < room->size);
    return room->members[i]->member;
}

size_t
pl_rooms_count (const pl_rooms_t *self)
{
    return zhashx_size (self->rooms);
}

/* ---- selftest -------------------------------------------------------- */

static int s_subs, s_unsubs;
static char s_last[64];

static void
s_on_change (void *arg, const char *room, bool subscribe)
{
    assert (arg == &s_subs);
    snprintf (s_last, sizeof s_last, "%s", room);
    if (subscribe)
        s_subs++;
    else
        s_unsubs++;
}

void
pl_rooms_test (bool verbose)
{
    if (verbose)
        printf (" * pl_rooms: ");
    pl_rooms_t *rooms = pl_rooms_new (s_on_change, &s_subs);
    assert (rooms);
    int a, b, c;
    pl_membership_t *ca = NULL, *cb = NULL, *cc = NULL;
    assert (pl_rooms_join (rooms, "user:al", &a, &ca) == 0);
    assert (s_subs == 1 && strcmp (s_last, "user:al") == 0);
    assert (pl_rooms_join (rooms, "user:al", &a, &ca) == 1);    /* once only */
    assert (pl_rooms_join (rooms, "user:al", &b, &cb) == 0);
    assert (pl_rooms_join (rooms, "user:al", &c, &cc) == 0);
    assert (s_subs == 1);                       /* one subscribe per room */
    pl_room_t *room = pl_rooms_find (rooms, "user:al");
    assert (room && pl_room_size (room) == 3);
    assert (pl_rooms_find (rooms, "user:alice") == NULL);
    assert (pl_rooms_in (&cb, "user:al") && !pl_rooms_in (&cb, "user:alice"));

    assert (pl_rooms_leave (rooms, &ca, "user:al") == 0);    /* swap-remove */
    assert (ca == NULL && pl_room_size (room) == 2 && s_unsubs == 0);
    assert (pl_rooms_leave (rooms, &ca, "user:al") == -1);   /* not in it */
    bool seen_b = false, seen_c = false;
    for (size_t i = 0; i < pl_room_size (room); i++) {
        seen_b |= pl_room_member (room, i) == &b;
        seen_c |= pl_room_member (room, i) == &c;
    }
    assert (seen_b && seen_c);
    assert (pl_rooms_leave (rooms, &cc, "user:al") == 0);
    assert (pl_room_member (room, 0) == &b);
    /* a member in several rooms: the chain holds them all */
    assert (pl_rooms_join (rooms, "campaign:1", &b, &cb) == 0);
    assert (pl_rooms_join (rooms, "campaign:2", &b, &cb) == 0);
    assert (pl_rooms_chain_size (&cb) == 3 && s_subs == 3);
    assert (pl_rooms_leave (rooms, &cb, "campaign:1") == 0);     /* middle */
    assert (pl_rooms_chain_size (&cb) == 2 && pl_rooms_in (&cb, "campaign:2"));
    /* rebind: the same rooms, another member pointer, no (un)subscribe */
    int subs = s_subs, unsubs = s_unsubs;
    pl_rooms_rebind (&cb, &a);
    assert (pl_room_member (pl_rooms_find (rooms, "campaign:2"), 0) == &a);
    pl_rooms_rebind (&cb, &b);
    assert (pl_room_member (pl_rooms_find (rooms, "campaign:2"), 0) == &b);
    assert (s_subs == subs && s_unsubs == unsubs);
    assert (pl_rooms_chain_room (&cb, 0) && pl_rooms_chain_room (&cb, 1) && !pl_rooms_chain_room (&cb, 2));
    /* except rooms: by pointer; a room nobody local is in is NULL */
    pl_room_t *except[3] = { pl_rooms_find (rooms, "campaign:2"), NULL,
                             pl_rooms_find (rooms, "campaign:1") };
    assert (except[0] && !except[2]);
    assert (pl_rooms_in_any (&cb, except, 3));
    assert (!pl_rooms_in_any (&cb, except + 1, 2));
    assert (!pl_rooms_in_any (&ca, except, 3));             /* empty chain */
    pl_rooms_leave_all (rooms, &cb);
    assert (cb == NULL && s_unsubs == 3);
    assert (pl_rooms_find (rooms, "user:al") == NULL && pl_rooms_count (rooms) == 0);

    /* many members and rooms, then leave all: no leak (ASan checks) */
    pl_membership_t *chains[1000] = { NULL };
    int members[1000];
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf (name, sizeof name, "r%d", i % 10);
        assert (pl_rooms_join (rooms, name, &members[i], &chains[i]) == 0);
        snprintf (name, sizeof name, "s%d", i % 3);
        assert (pl_rooms_join (rooms, name, &members[i], &chains[i]) == 0);
    }
    assert (pl_rooms_count (rooms) == 13);
    for (int i = 999; i >= 0; i -= 2)
        pl_rooms_leave_all (rooms, &chains[i]);
    assert (pl_rooms_count (rooms) == 8);      /* odd members gone: r1,r3.. */
    for (int i = 0; i < 1000; i += 2)
        pl_rooms_leave_all (rooms, &chains[i]);
    assert (pl_rooms_count (rooms) == 0);
    pl_rooms_destroy (&rooms);
    pl_rooms_destroy (&rooms);
    assert (rooms == NULL);
    if (verbose)
        printf ("OK\n");
}
