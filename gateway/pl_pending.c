/*  pl_pending - ring of requests awaiting replies (lws loop only). */
#include "pl_pending.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t reqid;                 /* request id this slot holds       */
    int64_t deadline;               /* ms                               */
    pl_pending_entry_t entry;       /* who to answer                    */
    bool active;                    /* still awaiting its reply         */
} s_slot_t;

struct _pl_pending_t {
    s_slot_t *ring;                 /* size slots                       */
    uint32_t mask;                  /* slots - 1                        */
    uint64_t next;                  /* next id to hand out              */
    uint64_t oldest;                /* oldest id possibly still live    */
};

pl_pending_t *
pl_pending_new (uint32_t slots)
{
    assert (slots && (slots & (slots - 1)) == 0);
    pl_pending_t *self = calloc (1, sizeof *self);
    if (self) {
        self->ring = calloc (slots, sizeof *self->ring);
        if (!self->ring) {
            free (self);
            self = NULL;
        }
        else
            self->mask = slots - 1;
    }
    return self;
}

void
pl_pending_destroy (pl_pending_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->ring);
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
pl_pending_next_id (const pl_pending_t *self)
{
    return self->next;
}

/* Move `oldest` past answered entries. */
static void
s_retire (pl_pending_t *self)
{
    while (self->oldest != self->next && !self->ring[self->oldest & self->mask].active)
        self->oldest++;
}

bool
pl_pending_has_room (pl_pending_t *self)
{
    if (self->next - self->oldest > self->mask)
        s_retire (self);
    return self->next - self->oldest <= self->mask;
}

int
pl_pending_add (pl_pending_t *self, int64_t deadline, const pl_pending_entry_t *entry)
{
    int rc = -1;
    if (!pl_pending_has_room (self))
        goto cleanup;
    s_slot_t *slot = &self->ring[self->next & self->mask];
    slot->reqid = self->next++;
    slot->deadline = deadline;
    slot->entry = *entry;
    slot->active = true;
    rc = 0;
cleanup:
    return rc;
}

bool
pl_pending_take (pl_pending_t *self, uint64_t reqid, pl_pending_entry_t *entry)
{
    s_slot_t *slot = &self->ring[reqid & self->mask];
    if (!slot->active || slot->reqid != reqid)
        return false;
    slot->active = false;
    *entry = slot->entry;
    return true;
}

int64_t
pl_pending_expire (pl_pending_t *self, int64_t now, pl_pending_expired_fn *fn, void *arg)
{
    int64_t next = -1;
    while (self->oldest != self->next) {
        s_slot_t *slot = &self->ring[self->oldest & self->mask];
        if (slot->active) {
            if (slot->deadline > now) {
                next = slot->deadline;
                break;
            }
            slot->active = false;
            fn (arg, &slot->entry);
        }
        self->oldest++;
    }
    return next;
}

/* ---- selftest -------------------------------------------------------- */

static int s_expired;
static uint64_t s_last_conn;
static int s_last_kind;

static void
s_on_expired (void *arg, const pl_pending_entry_t *entry)
{
    assert (arg == &s_expired);
    s_expired++;
    s_last_conn = entry->conn;
    s_last_kind = entry->kind;
}

void
pl_pending_test (bool verbose)
{
    if (verbose)
        printf (" * pl_pending: ");
    pl_pending_t *p = pl_pending_new (4);
    assert (p);
    pl_pending_entry_t e = { 7, 1, true, PL_PENDING_SOCKET, 3, 42 }, got;
    uint64_t first = pl_pending_next_id (p);
    assert (pl_pending_add (p, 100, &e) == 0);
    e.conn = 8;
    e.kind = PL_PENDING_HTTP;
    assert (pl_pending_add (p, 110, &e) == 0);
    e.kind = PL_PENDING_SOCKET;
    /* a reply matches once; a repeat or a wrong id does not */
    assert (pl_pending_take (p, first, &got) && got.conn == 7 && got.ack_id == 1
            && got.kind == PL_PENDING_SOCKET && got.event == 3 && got.start_us == 42);
    /* the metrics fields fit what was padding: an entry is still 24 bytes */
    assert (sizeof (pl_pending_entry_t) == 24);
    assert (!pl_pending_take (p, first, &got));
    assert (!pl_pending_take (p, first + 4, &got));        /* same slot, other id */
    /* expiry: nothing before the deadline, then exactly the live one */
    assert (pl_pending_expire (p, 50, s_on_expired, &s_expired) == 110);
    assert (s_expired == 0);
    assert (pl_pending_expire (p, 110, s_on_expired, &s_expired) == -1);
    assert (s_expired == 1 && s_last_conn == 8 && s_last_kind == PL_PENDING_HTTP);
    assert (!pl_pending_take (p, first + 1, &got));        /* late reply dropped */

    /* bounded: 4 live requests fill it; an answer makes room again */
    uint64_t ids[5];
    for (int i = 0; i < 4; i++) {
        ids[i] = pl_pending_next_id (p);
        assert (pl_pending_add (p, 200 + i, &e) == 0);
    }
    assert (!pl_pending_has_room (p));
    assert (pl_pending_add (p, 300, &e) == -1);
    assert (pl_pending_take (p, ids[0], &got));
    assert (pl_pending_has_room (p));
    ids[4] = pl_pending_next_id (p);
    assert (pl_pending_add (p, 300, &e) == 0);
    /* the oldest live one is the next to expire, wrap-around included */
    assert (pl_pending_expire (p, 0, s_on_expired, &s_expired) == 201);
    assert (pl_pending_expire (p, 1000, s_on_expired, &s_expired) == -1);
    assert (s_expired == 5);
    assert (!pl_pending_take (p, ids[4], &got));
    pl_pending_destroy (&p);
    pl_pending_destroy (&p);
    assert (p == NULL);
    if (verbose)
        printf ("OK\n");
}
