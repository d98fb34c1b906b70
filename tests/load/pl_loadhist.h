/*  pl_loadhist - a fixed-memory, log-linear latency histogram (HDR style).
 *
 *  parley-load records one value per request or delivery, millions per run,
 *  so it cannot keep samples. Like HdrHistogram, values are bucketed by
 *  their most significant bit and then linearly within each power of two:
 *  with 7 sub-bucket bits every value is stored within 1/128 (0.8%) of its
 *  true value, in a few thousand counters for the whole range. Recording is
 *  a clz, a shift and an increment: no allocation, no branches on the hot
 *  path beyond the range check.
 *
 *  Values are unsigned nanoseconds. Values above PL_LOADHIST_MAX are
 *  clamped to it (and counted in `clamped`); the exact min, max and sum are
 *  kept on the side, so max is never an approximation.
 *
 *  Not thread-safe: each loop records into its own histogram, and the
 *  results are merged (pl_loadhist_merge) when the loops have stopped.
 */
#ifndef PL_LOADHIST_H
#define PL_LOADHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sub-bucket bits: precision 2^-7. */
#define PL_LOADHIST_SUB_BITS 7
/* Largest value kept exactly in a bucket: 2^40 ns, about 18 minutes, far
 * beyond any run (--duration is at most 300 s). */
#define PL_LOADHIST_MAX_BITS 40
#define PL_LOADHIST_MAX      ((UINT64_C (1) << PL_LOADHIST_MAX_BITS) - 1)

typedef struct _pl_loadhist_t pl_loadhist_t;

/* A new, empty histogram, or NULL on OOM. */
pl_loadhist_t *pl_loadhist_new (void);
void pl_loadhist_destroy (pl_loadhist_t **self_p);

/* Record one value (ns). */
void pl_loadhist_record (pl_loadhist_t *self, uint64_t value);
/* Add every count of src into self. */
void pl_loadhist_merge (pl_loadhist_t *self, const pl_loadhist_t *src);
void pl_loadhist_reset (pl_loadhist_t *self);

uint64_t pl_loadhist_count (const pl_loadhist_t *self);
/* Exact extremes and mean of what was recorded (0 when empty). */
uint64_t pl_loadhist_min (const pl_loadhist_t *self);
uint64_t pl_loadhist_max (const pl_loadhist_t *self);
double pl_loadhist_mean (const pl_loadhist_t *self);
/* Values that were above PL_LOADHIST_MAX and recorded as it. */
uint64_t pl_loadhist_clamped (const pl_loadhist_t *self);

/* The value at percentile p (0 < p <= 100): the highest value equivalent
 * to the bucket holding the ceil(p% * count)-th smallest value, capped at
 * the exact max. 0 when empty. */
uint64_t pl_loadhist_percentile (const pl_loadhist_t *self, double p);

/* Bucket index of a value and the range a bucket covers; exposed for the
 * selftest and for anyone checking the precision claim. */
size_t pl_loadhist_index (uint64_t value);
uint64_t pl_loadhist_bucket_low (size_t index);
uint64_t pl_loadhist_bucket_high (size_t index);

void pl_loadhist_test (bool verbose);

#endif
