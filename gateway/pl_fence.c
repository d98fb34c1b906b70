/*  pl_fence - evictions a reply in flight must not undo. See pl_fence.h. */
#include "pl_fence.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *audience;                 /* e.g. "user:bob"                     */
    char *room;                     /* e.g. "campaign:7"                   */
    uint64_t fence;                 /* first request id sent after it      */
    int64_t expires;                /* ms                                   */
} s_entry_t;

struct _pl_fence_t {
    s_entry_t ring[PL_FENCE_MAX];   /* oldest at head                      */
    unsigned head, count;
    int64_t ttl;
};

pl_fence_t *
pl_fence_new (int64_t ttl_ms)
{
    pl_fence_t *self = calloc (1, sizeof *self);
    if (self)
        self->ttl = ttl_ms;
    return self;
}

static void
s_drop_oldest (pl_fence_t *self)
{
    s_entry_t *e = &self->ring[self->head];
    free (e->audience);
    free (e->room);
    memset (e, 0, sizeof *e);
    self->head = (self->head + 1) % PL_FENCE_MAX;
    self->count--;
}

/* Entries expire in the order they were added (one ttl for all). */
static void
s_expire (pl_fence_t *self, int64_t now_ms)
{
    while (self->count && self->ring[self->head].expires <= now_ms)
        s_drop_oldest (self);
}

void
pl_fence_destroy (pl_fence_t **self_p)
{
    assert (self_p);
    pl_fence_t *self = *self_p;
    if (!self)
        return;
    while (self->count)
        s_drop_oldest (self);
    free (self);
    *self_p = NULL;
}

bool
pl_fence_add (pl_fence_t *self, const char *audience, const char *room,
              uint64_t fence, int64_t now_ms)
{
    bool kept_all = true;
    s_expire (self, now_ms);
    if (self->count == PL_FENCE_MAX) {
        s_drop_oldest (self);
        kept_all = false;
    }
    s_entry_t *e = &self->ring[(self->head + self->count) % PL_FENCE_MAX];
    e->audience = strdup (audience);
    e->room = strdup (room);
    if (!e->audience || !e->room) {
        free (e->audience);
        free (e->room);
        memset (e, 0, sizeof *e);
        return false;
    }
    e->fence = fence;
    e->expires = now_ms + self->ttl;
    self->count++;
    return kept_all;
}

bool
pl_fence_blocks (pl_fence_t *self, const char *room, uint64_t reqid, int64_t now_ms,
                 pl_fence_member_fn *in_audience, void *arg)
{
    s_expire (self, now_ms);
    for (unsigned i = 0; i < self->count; i++) {
        const s_entry_t *e = &self->ring[(self->head + i) % PL_FENCE_MAX];
        if (reqid < e->fence && strcmp (e->room, room) == 0 && in_audience (arg, e->audience))
            return true;
    }
    return false;
}

/* ---- selftest ---------------------------------------------------------- */

static bool
s_is_bob (void *arg, const char *audience)
{
    (void) arg;
    return strcmp (audience, "user:bob") == 0;
}

void
pl_fence_test (bool verbose)
{
    if (verbose)
        printf (" * pl_fence: ");
    pl_fence_t *fence = pl_fence_new (5000);
    assert (fence);
    /* nothing remembered: nothing blocked */
    assert (!pl_fence_blocks (fence, "campaign:7", 1, 0, s_is_bob, NULL));
    /* bob evicted from campaign:7 when the next request id was 10 */
    assert (pl_fence_add (fence, "user:bob", "campaign:7", 10, 1000));
    assert (pl_fence_blocks (fence, "campaign:7", 9, 1001, s_is_bob, NULL));   /* older: blocked */
    assert (!pl_fence_blocks (fence, "campaign:7", 10, 1001, s_is_bob, NULL)); /* sent after */
    assert (!pl_fence_blocks (fence, "campaign:8", 9, 1001, s_is_bob, NULL));  /* other room */
    assert (!pl_fence_blocks (fence, "campaign:7:gm", 9, 1001, s_is_bob, NULL));
    /* alice is not in user:bob */
    pl_fence_add (fence, "user:alice", "campaign:9", 20, 1000);
    assert (!pl_fence_blocks (fence, "campaign:9", 19, 1001, s_is_bob, NULL));
    /* entries expire after the ttl */
    assert (pl_fence_blocks (fence, "campaign:7", 9, 5999, s_is_bob, NULL));
    assert (!pl_fence_blocks (fence, "campaign:7", 9, 6000, s_is_bob, NULL));
    /* bounded: the oldest goes first, and add says so */
    for (unsigned i = 0; i < PL_FENCE_MAX; i++) {
        char room[32];
        snprintf (room, sizeof room, "campaign:r%u", i);
        assert (pl_fence_add (fence, "user:bob", room, 100 + i, 7000));
    }
    assert (!pl_fence_add (fence, "user:bob", "campaign:last", 500, 7000));
    assert (!pl_fence_blocks (fence, "campaign:r0", 1, 7001, s_is_bob, NULL)); /* forgotten */
    assert (pl_fence_blocks (fence, "campaign:r1", 1, 7001, s_is_bob, NULL));
    assert (pl_fence_blocks (fence, "campaign:last", 499, 7001, s_is_bob, NULL));
    pl_fence_destroy (&fence);
    pl_fence_destroy (&fence);
    assert (fence == NULL);
    if (verbose)
        printf ("OK\n");
}
