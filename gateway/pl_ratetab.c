/*  pl_ratetab - a rate limit per key in a table of fixed size. See
 *  pl_ratetab.h. */
#include "pl_ratetab.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[PL_RATETAB_KEY_MAX + 1];   /* "" when never used              */
    int64_t tat;                        /* us; <= now: a full bucket, free */
} s_slot_t;

struct _pl_ratetab_t {
    int64_t interval;               /* us between requests, sustained      */
    int64_t tolerance;              /* us of burst: (burst - 1) * interval */
    uint64_t seed;                  /* hash seed                           */
    uint64_t evictions;             /* see pl_ratetab_evictions            */
    s_slot_t slot[PL_RATETAB_SLOTS];
};

int64_t
pl_rate_gcra (int64_t *tat, int64_t now, int64_t interval, int64_t tolerance)
{
    int64_t wait = 0;
    int64_t t = *tat > now ? *tat : now;
    if (t - now > tolerance) {
        wait = t - now - tolerance;         /* when t - now == tolerance */
        goto cleanup;
    }
    *tat = t + interval;
cleanup:
    return wait;
}

pl_ratetab_t *
pl_ratetab_new (int64_t interval_us, int64_t tolerance_us, uint64_t seed)
{
    assert (interval_us > 0 && tolerance_us >= 0);
    pl_ratetab_t *self = calloc (1, sizeof *self);
    if (self) {
        self->interval = interval_us;
        self->tolerance = tolerance_us;
        self->seed = seed;
    }
    return self;
}

void
pl_ratetab_destroy (pl_ratetab_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

/* FNV-1a 64 over the seed's bytes, then the key's. */
static uint64_t
s_hash (uint64_t seed, const char *key)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < 8; i++) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

int64_t
pl_ratetab_take (pl_ratetab_t *self, const char *key, int64_t now_us)
{
    assert (self && key && *key && strlen (key) <= PL_RATETAB_KEY_MAX);
    size_t start = (size_t) (s_hash (self->seed, key) % PL_RATETAB_SLOTS);
    s_slot_t *mine = NULL, *idle = NULL, *nearest = NULL;
    /* the whole window: the key's entry may sit after a free one */
    for (size_t i = 0; i < PL_RATETAB_PROBE && !mine; i++) {
        s_slot_t *s = &self->slot[(start + i) % PL_RATETAB_SLOTS];
        if (s->key[0] && strcmp (s->key, key) == 0)
            mine = s;
        else
        if (!s->key[0] || s->tat <= now_us) {
            if (!idle)
                idle = s;
        }
        else
        if (!nearest || s->tat < nearest->tat)
            nearest = s;
    }
    if (!mine) {
        mine = idle ? idle : nearest;
        if (!idle)
            self->evictions++;
        snprintf (mine->key, sizeof mine->key, "%s", key);
        mine->tat = 0;                      /* a full bucket */
    }
    return pl_rate_gcra (&mine->tat, now_us, self->interval, self->tolerance);
}

uint64_t
pl_ratetab_evictions (pl_ratetab_t *self)
{
    assert (self);
    return self->evictions;
}

void
pl_ratetab_test (bool verbose)
{
    if (verbose)
        printf (" * pl_ratetab: ");
    /* GCRA alone: burst 3 at 10 per second (interval 100 ms) */
    int64_t tat = 0, now = 5000000;
    for (int i = 0; i < 3; i++)
        assert (pl_rate_gcra (&tat, now, 100000, 200000) == 0);
    assert (pl_rate_gcra (&tat, now, 100000, 200000) == 100000);
    assert (pl_rate_gcra (&tat, now + 99999, 100000, 200000) == 1);
    assert (pl_rate_gcra (&tat, now + 100000, 100000, 200000) == 0);
    assert (pl_rate_gcra (&tat, now + 100000, 100000, 200000) == 100000);

    pl_ratetab_t *self = pl_ratetab_new (100000, 200000, 42);
    assert (self);
    /* a burst, then refused with the wait; another key is not affected */
    for (int i = 0; i < 3; i++)
        assert (pl_ratetab_take (self, "alice", now) == 0);
    assert (pl_ratetab_take (self, "alice", now) == 100000);
    assert (pl_ratetab_take (self, "alice", now + 50000) == 50000);
    assert (pl_ratetab_take (self, "bob", now) == 0);
    /* refills: one per interval, the whole burst after burst * interval */
    assert (pl_ratetab_take (self, "alice", now + 100000) == 0);
    assert (pl_ratetab_take (self, "alice", now + 100000) > 0);
    for (int i = 0; i < 3; i++)
        assert (pl_ratetab_take (self, "alice", now + 400000) == 0);
    assert (pl_ratetab_take (self, "alice", now + 400000) > 0);
    assert (pl_ratetab_evictions (self) == 0);

    /* far more keys in debt than slots: bounded, each new key is served
     * (a full bucket), and the table gives up the nearest-refilled ones */
    char key[PL_RATETAB_KEY_MAX + 1];
    now += 10000000;
    for (int i = 0; i < 4 * PL_RATETAB_SLOTS; i++) {
        snprintf (key, sizeof key, "user-%d", i);
        assert (pl_ratetab_take (self, key, now) == 0);
    }
    assert (pl_ratetab_evictions (self) > 0);
    /* once their buckets are full again every slot is free for new keys */
    uint64_t evictions = pl_ratetab_evictions (self);
    now += 1000000;
    for (int i = 0; i < PL_RATETAB_SLOTS / 2; i++) {
        snprintf (key, sizeof key, "later-%d", i);
        assert (pl_ratetab_take (self, key, now) == 0);
    }
    assert (pl_ratetab_evictions (self) == evictions);
    /* the longest key */
    memset (key, 'k', PL_RATETAB_KEY_MAX);
    key[PL_RATETAB_KEY_MAX] = 0;
    for (int i = 0; i < 3; i++)
        assert (pl_ratetab_take (self, key, now) == 0);
    assert (pl_ratetab_take (self, key, now) > 0);
    pl_ratetab_destroy (&self);
    assert (self == NULL);
    pl_ratetab_destroy (&self);             /* safe twice */
    if (verbose)
        printf ("OK\n");
}
