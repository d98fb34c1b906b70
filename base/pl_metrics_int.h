/*  pl_metrics internals: the registry's structure and the pieces that
 *  pl_metrics.c (registry, samples, render), pl_metrics_snap.c (snapshot,
 *  merge) and pl_metrics_check.c (the text checker) share. Not thread-safe,
 *  like pl_metrics: every call runs in the loop that owns the registry. */
#ifndef PL_METRICS_INT_H
#define PL_METRICS_INT_H

#include "pl_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_METRICS__REFUSED "parley_metrics_series_refused_total"
#define PL_METRICS__LABELS_ALL (PL_METRICS_LABELS_MAX + 1)    /* + a merged "process" */

typedef struct {
    char *values[PL_METRICS__LABELS_ALL];
    uint64_t hash;              /* of values, for the family's index      */
    double value;               /* counter, gauge                        */
    double *counts;             /* histogram: nbuckets + 1, not cumulative */
    double sum;
    double count;
} pl_metrics__series_t;

typedef struct {
    char name[PL_METRICS_NAME_MAX + 1];
    pl_metrics_kind_t kind;
    char help[PL_METRICS_HELP_MAX + 1];
    size_t nlabels;
    char labels[PL_METRICS__LABELS_ALL][PL_METRICS_NAME_MAX + 1];
    size_t nbuckets;
    double buckets[PL_METRICS_BUCKETS_MAX];
    pl_metrics__series_t *series;
    size_t nseries;
    size_t cap;
    size_t *slots;              /* open addressing: series index + 1, 0 free */
    size_t nslots;              /* a power of two, > 2 * nseries, or 0     */
} pl_metrics__family_t;

/* What a registry will render, as an upper bound (pl_metrics_bound). */
typedef struct {
    size_t lines;
    size_t bytes;
} pl_metrics__cost_t;

struct _pl_metrics_t {
    size_t max_series;
    pl_metrics__cost_t cost;    /* of everything declared and added so far */
    pl_metrics__cost_t max;     /* pl_metrics_bound; 0 lines: no bound      */
    pl_metrics__family_t *families[PL_METRICS_FAMILIES_MAX];
    size_t nfamilies;
};

/* The TYPE names of pl_metrics_kind_t, in its order. */
extern const char *const pl_metrics__kinds[3];

/* A metric name (metric true: ':' allowed) or label name per Prometheus. */
bool pl_metrics__name_ok (const char *name, bool metric);
/* Valid UTF-8 without NUL, at most max bytes (Prometheus wants UTF-8). */
bool pl_metrics__utf8_ok (const char *text, size_t max);
/* The family of that name, or NULL. */
pl_metrics__family_t *pl_metrics__family (pl_metrics_t *self, const char *name);
/* The HELP and TYPE lines of a family. */
pl_metrics__cost_t pl_metrics__family_cost (const char *name, const char *help);
/* The sample lines of one series: names holds the label names' bytes. */
pl_metrics__cost_t pl_metrics__series_cost (const char *name, pl_metrics_kind_t kind,
                                            size_t nbuckets, size_t nlabels, size_t names,
                                            const char *const *values);
/* True when cost more stays within the registry's bound. */
bool pl_metrics__within (const pl_metrics_t *self, pl_metrics__cost_t more);
/* True when a family a of kind ka and one b of kind kb would write a line
 * of the same name: a histogram h owns h_bucket, h_sum and h_count. */
bool pl_metrics__names_clash (const char *a, pl_metrics_kind_t ka, const char *b,
                              pl_metrics_kind_t kb);
/* FNV-1a over the values, each followed by 0xff (never in UTF-8). */
uint64_t pl_metrics__hash (const char *const *values, size_t n);
/* The series with these label values, added when create and there is room.
 * NULL when absent, invalid or refused (then counted). */
pl_metrics__series_t *pl_metrics__series (pl_metrics_t *self, pl_metrics__family_t *fam,
                                          const char *const *values, bool create);
/* Check a declaration; 1 when it is new and valid, 0 when it matches the
 * family already declared, -1 when refused. Writes nothing. */
int pl_metrics__declare_check (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
                               const char *help, size_t nlabels, const char *const *labels,
                               const double *buckets, size_t nbuckets, size_t max_labels);
/* Declare a family (0) or refuse it (-1), with at most max_labels labels. */
int pl_metrics__declare (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
                         const char *help, size_t nlabels, const char *const *labels,
                         const double *buckets, size_t nbuckets, size_t max_labels);

#endif
