/*  pl_loadhist - log-linear latency histogram; see pl_loadhist.h.
 *
 *  Layout (S = PL_LOADHIST_SUB_BITS = 7, so 128 sub-buckets per octave):
 *    - values below 2^(S+1) = 256 have a bucket each (exact);
 *    - a value v >= 256 with most significant bit m lies in octave
 *      shift = m - S >= 1, and its bucket is (v >> shift) within that
 *      octave's upper half (128..255), i.e. a bucket `2^shift` wide.
 *  The relative width of a bucket is thus at most 2^shift / (128 << shift)
 *  = 1/128.
 */
#include "pl_loadhist.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SUB     (1u << PL_LOADHIST_SUB_BITS)            /* 128 */
#define S_FULL    (2u * S_SUB)                            /* 256 */
/* octaves 1 .. MAX_BITS - 1 - SUB_BITS, each S_SUB buckets, after S_FULL */
#define S_BUCKETS (S_FULL + (PL_LOADHIST_MAX_BITS - 1 - PL_LOADHIST_SUB_BITS) * S_SUB)

struct _pl_loadhist_t {
    uint64_t count;                 /* values recorded                      */
    uint64_t min;                   /* exact smallest (UINT64_MAX if none)  */
    uint64_t max;                   /* exact largest                        */
    uint64_t clamped;               /* values above PL_LOADHIST_MAX         */
    double sum;                     /* for the mean                         */
    uint64_t counts[S_BUCKETS];     /* one counter per bucket               */
};

size_t
pl_loadhist_index (uint64_t value)
{
    if (value > PL_LOADHIST_MAX)
        value = PL_LOADHIST_MAX;
    if (value < S_FULL)
        return (size_t) value;
    unsigned msb = 63u - (unsigned) __builtin_clzll (value);
    unsigned shift = msb - PL_LOADHIST_SUB_BITS;
    return S_FULL + (size_t) (shift - 1) * S_SUB + (size_t) ((value >> shift) - S_SUB);
}

uint64_t
pl_loadhist_bucket_low (size_t index)
{
    assert (index < S_BUCKETS);
    if (index < S_FULL)
        return index;
    size_t k = index - S_FULL;
    unsigned shift = (unsigned) (k / S_SUB) + 1;
    return (uint64_t) (k % S_SUB + S_SUB) << shift;
}

uint64_t
pl_loadhist_bucket_high (size_t index)
{
    assert (index < S_BUCKETS);
    if (index < S_FULL)
        return index;
    unsigned shift = (unsigned) ((index - S_FULL) / S_SUB) + 1;
    return pl_loadhist_bucket_low (index) + (UINT64_C (1) << shift) - 1;
}

pl_loadhist_t *
pl_loadhist_new (void)
{
    pl_loadhist_t *self = calloc (1, sizeof *self);
    if (self)
        self->min = UINT64_MAX;
    return self;
}

void
pl_loadhist_destroy (pl_loadhist_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

void
pl_loadhist_reset (pl_loadhist_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
    self->min = UINT64_MAX;
}

void
pl_loadhist_record (pl_loadhist_t *self, uint64_t value)
{
    if (value > PL_LOADHIST_MAX) {
        self->clamped++;
        value = PL_LOADHIST_MAX;
    }
    self->counts[pl_loadhist_index (value)]++;
    self->count++;
    self->sum += (double) value;
    if (value < self->min)
        self->min = value;
    if (value > self->max)
        self->max = value;
}

void
pl_loadhist_merge (pl_loadhist_t *self, const pl_loadhist_t *src)
{
    assert (self && src);
    for (size_t i = 0; i < S_BUCKETS; i++)
        self->counts[i] += src->counts[i];
    self->count += src->count;
    self->clamped += src->clamped;
    self->sum += src->sum;
    if (src->min < self->min)
        self->min = src->min;
    if (src->max > self->max)
        self->max = src->max;
}

uint64_t
pl_loadhist_count (const pl_loadhist_t *self)
{
    return self->count;
}

uint64_t
pl_loadhist_min (const pl_loadhist_t *self)
{
    return self->count ? self->min : 0;
}

uint64_t
pl_loadhist_max (const pl_loadhist_t *self)
{
    return self->max;
}

double
pl_loadhist_mean (const pl_loadhist_t *self)
{
    return self->count ? self->sum / (double) self->count : 0.0;
}

uint64_t
pl_loadhist_clamped (const pl_loadhist_t *self)
{
    return self->clamped;
}

uint64_t
pl_loadhist_percentile (const pl_loadhist_t *self, double p)
{
    assert (self);
    assert (p > 0.0 && p <= 100.0);
    if (self->count == 0)
        return 0;
    uint64_t rank = (uint64_t) ceil (p / 100.0 * (double) self->count);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < S_BUCKETS; i++) {
        seen += self->counts[i];
        if (seen >= rank) {
            uint64_t high = pl_loadhist_bucket_high (i);
            return high < self->max ? high : self->max;
        }
    }
    return self->max;               /* not reached: counts sum to count */
}

/* --------------------------------------------------------------------- */

/* A small deterministic PRNG for the selftest (xorshift64*). */
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C (2685821657736338717);
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

void
pl_loadhist_test (bool verbose)
{
    if (verbose)
        printf (" * pl_loadhist: ");

    /* Index and bucket bounds agree with each other over the whole range,
     * buckets are contiguous, and each is within 1/128 of its low end. */
    assert (pl_loadhist_index (0) == 0);
    assert (pl_loadhist_index (255) == 255);
    assert (pl_loadhist_index (256) == 256);
    assert (pl_loadhist_index (257) == 256);    /* width 2 from 256 on */
    assert (pl_loadhist_index (258) == 257);
    assert (pl_loadhist_index (PL_LOADHIST_MAX) == S_BUCKETS - 1);
    assert (pl_loadhist_index (UINT64_MAX) == S_BUCKETS - 1);
    assert (pl_loadhist_bucket_high (S_BUCKETS - 1) == PL_LOADHIST_MAX);
    for (size_t i = 0; i + 1 < S_BUCKETS; i++) {
        uint64_t low = pl_loadhist_bucket_low (i), high = pl_loadhist_bucket_high (i);
        assert (low <= high);
        assert (pl_loadhist_bucket_low (i + 1) == high + 1);
        assert (pl_loadhist_index (low) == i && pl_loadhist_index (high) == i);
        assert ((double) (high - low) <= (double) low / 128.0 + 0.5 || low < S_FULL);
    }

    /* Empty. */
    pl_loadhist_t *h = pl_loadhist_new ();
    assert (h);
    assert (pl_loadhist_count (h) == 0 && pl_loadhist_percentile (h, 50) == 0);
    assert (pl_loadhist_max (h) == 0 && pl_loadhist_min (h) == 0);

    /* Exact region: 1..100 -> p50 is 50, p99 is 99, p100 is 100. */
    for (uint64_t v = 1; v <= 100; v++)
        pl_loadhist_record (h, v);
    assert (pl_loadhist_count (h) == 100);
    assert (pl_loadhist_percentile (h, 50) == 50);
    assert (pl_loadhist_percentile (h, 99) == 99);
    assert (pl_loadhist_percentile (h, 100) == 100);
    assert (pl_loadhist_min (h) == 1 && pl_loadhist_max (h) == 100);
    assert (fabs (pl_loadhist_mean (h) - 50.5) < 1e-9);

    /* Random values over six decades against the sorted truth: every
     * percentile is within the bucket precision, never below the truth. */
    enum { N = 20000 };
    uint64_t *truth = malloc (N * sizeof *truth);
    assert (truth);
    pl_loadhist_reset (h);
    uint64_t state = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        uint64_t decade = s_rand (&state) % 6;
        uint64_t scale = 1000;
        for (uint64_t d = 0; d < decade; d++)
            scale *= 10;
        truth[i] = scale + s_rand (&state) % (9 * scale);
        pl_loadhist_record (h, truth[i]);
    }
    qsort (truth, N, sizeof *truth, s_cmp_u64);
    const double ps[] = { 1, 10, 50, 90, 95, 99, 99.9, 100 };
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        size_t rank = (size_t) ceil (ps[k] / 100.0 * N);
        uint64_t want = truth[rank - 1];
        uint64_t got = pl_loadhist_percentile (h, ps[k]);
        assert (got >= want);
        assert ((double) got <= (double) want * (1.0 + 1.0 / 128.0));
    }
    assert (pl_loadhist_max (h) == truth[N - 1]);
    assert (pl_loadhist_min (h) == truth[0]);

    /* Merge: two halves equal the whole. */
    pl_loadhist_t *a = pl_loadhist_new (), *b = pl_loadhist_new ();
    assert (a && b);
    for (int i = 0; i < N; i++)
        pl_loadhist_record (i % 2 ? a : b, truth[i]);
    pl_loadhist_merge (a, b);
    assert (pl_loadhist_count (a) == N);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
        assert (pl_loadhist_percentile (a, ps[k]) == pl_loadhist_percentile (h, ps[k]));
    assert (pl_loadhist_min (a) == truth[0] && pl_loadhist_max (a) == truth[N - 1]);

    /* Out of range values are clamped and counted, not lost. */
    pl_loadhist_reset (b);
    pl_loadhist_record (b, UINT64_MAX);
    assert (pl_loadhist_clamped (b) == 1 && pl_loadhist_count (b) == 1);
    assert (pl_loadhist_percentile (b, 50) == PL_LOADHIST_MAX);

    free (truth);
    pl_loadhist_destroy (&a);
    pl_loadhist_destroy (&b);
    pl_loadhist_destroy (&h);
    pl_loadhist_destroy (&h);       /* twice is safe */
    if (verbose)
        printf ("OK\n");
}
