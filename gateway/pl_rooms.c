/*  pl_rooms - room membership registry (gateway loop only). */
#include "pl_rooms.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
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
    size_t index;                   /* position in room->members         */
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

pl_membership_t *
pl_rooms_join (pl_rooms_t *self, const char *name, void *member)
{
    pl_membership_t *m = NULL;
    pl_room_t *room = (pl_room_t *) zhashx_lookup (self->rooms, name);
    bool created = false;
    if (!room) {
        room = calloc (1, sizeof *room);
        if (!room || !(room->name = strdup (name))) {
            free (room);
            goto cleanup;
        }
        zhashx_insert (self->rooms, name, room);
        created = true;
    }
    if (room->size == room->cap) {
        size_t cap = room->cap ? room->cap * 2 : 4;
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
    m->index = room->size;
    room->members[room->size++] = m;
    if (created && self->on_change)
        self->on_change (self->arg, room->name, true);
cleanup:
    if (!m && room && room->size == 0)
        zhashx_delete (self->rooms, name);
    return m;
}

void
pl_rooms_leave (pl_rooms_t *self, pl_membership_t **membership_p)
{
    assert (membership_p);
    pl_membership_t *m = *membership_p;
    if (!m)
        return;
    pl_room_t *room = m->room;
    assert (room->members[m->index] == m);
    pl_membership_t *last = room->members[--room->size];
    room->members[m->index] = last;
    last->index = m->index;
    free (m);
    *membership_p = NULL;
    if (room->size == 0) {
        if (self->on_change)
            self->on_change (self->arg, room->name, false);
        zhashx_delete (self->rooms, room->name);     /* frees room */
    }
}

const char *
pl_membership_room (const pl_membership_t *membership)
{
    return membership->room->name;
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
    pl_membership_t *ma = pl_rooms_join (rooms, "user:al", &a);
    assert (ma && s_subs == 1 && strcmp (s_last, "user:al") == 0);
    pl_membership_t *mb = pl_rooms_join (rooms, "user:al", &b);
    pl_membership_t *mc = pl_rooms_join (rooms, "user:al", &c);
    assert (s_subs == 1);                       /* one subscribe per room */
    pl_room_t *room = pl_rooms_find (rooms, "user:al");
    assert (room && pl_room_size (room) == 3);
    assert (pl_rooms_find (rooms, "user:alice") == NULL);
    assert (strcmp (pl_membership_room (mb), "user:al") == 0);

    pl_rooms_leave (rooms, &ma);                /* swap-remove keeps order valid */
    assert (ma == NULL && pl_room_size (room) == 2 && s_unsubs == 0);
    bool seen_b = false, seen_c = false;
    for (size_t i = 0; i < pl_room_size (room); i++) {
        seen_b |= pl_room_member (room, i) == &b;
        seen_c |= pl_room_member (room, i) == &c;
    }
    assert (seen_b && seen_c);
    pl_rooms_leave (rooms, &mc);
    assert (pl_room_member (room, 0) == &b);
    pl_rooms_leave (rooms, &mb);
    assert (s_unsubs == 1 && pl_rooms_find (rooms, "user:al") == NULL);
    assert (pl_rooms_count (rooms) == 0);
    pl_rooms_leave (rooms, &mb);                /* NULL is a no-op */

    /* many members and rooms, then leave all: no leak (ASan checks) */
    pl_membership_t *ms[1000];
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf (name, sizeof name, "r%d", i % 10);
        ms[i] = pl_rooms_join (rooms, name, &ms[i]);
        assert (ms[i]);
    }
    assert (pl_rooms_count (rooms) == 10 && s_subs == 11);
    for (int i = 999; i >= 0; i -= 2)
        pl_rooms_leave (rooms, &ms[i]);
    assert (pl_rooms_count (rooms) == 5);
    /* destroy with members still joined frees the rooms; memberships are
     * the members' to free, as the gateway does on close */
    for (int i = 0; i < 1000; i += 2)
        pl_rooms_leave (rooms, &ms[i]);
    pl_rooms_destroy (&rooms);
    pl_rooms_destroy (&rooms);
    assert (rooms == NULL);
    if (verbose)
        printf ("OK\n");
}
