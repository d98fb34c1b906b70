/*  pl_metrics - counters, gauges and histograms with labels, rendered in
 *  the Prometheus text exposition format (version 0.0.4).
 *
 *  One registry per process, owned by one loop: it is not thread-safe, and
 *  every call below runs in the loop that owns it. Families are declared
 *  once (name, kind, help, label names, buckets); samples are then addressed
 *  by their label values, in declaration order.
 *
 *  Label values may come from the network (an event name, a service name),
 *  so a family holds at most max_series label sets: past that, a new label
 *  set is refused (-1) and counted in parley_metrics_series_refused_total,
 *  and the registry never grows. Names are checked against the Prometheus
 *  grammar; a label value is at most PL_METRICS_VALUE_MAX bytes.
 *
 *  A snapshot (pl_metrics_snapshot_json) is a compact JSON copy of every
 *  family that another process can merge (pl_metrics_merge_json) under an
 *  extra "process" label: how worker counters reach a gateway's /metrics
 *  (docs/experiments/i13-metrics.md).
 */
#ifndef PL_METRICS_H
#define PL_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _pl_metrics_t pl_metrics_t;

typedef enum {
    PL_METRICS_COUNTER,
    PL_METRICS_GAUGE,
    PL_METRICS_HISTOGRAM
} pl_metrics_kind_t;

#define PL_METRICS_FAMILIES_MAX 128     /* families per registry            */
#define PL_METRICS_LABELS_MAX   4       /* label names per family (+process) */
#define PL_METRICS_BUCKETS_MAX  32      /* finite buckets per histogram      */
#define PL_METRICS_NAME_MAX     96      /* bytes in a metric or label name   */
#define PL_METRICS_VALUE_MAX    128     /* bytes in a label value            */
#define PL_METRICS_HELP_MAX     256     /* bytes in a help text              */
#define PL_METRICS_SNAPSHOT_MAX (256 * 1024)    /* bytes in a snapshot to merge:
                                                   the broker keeps no more   */

/* A registry holding at most max_series label sets per family (>= 1). */
pl_metrics_t *pl_metrics_new (size_t max_series);
void pl_metrics_destroy (pl_metrics_t **self_p);

/* Bound what the registry renders: at most max_lines sample, HELP and TYPE
 * lines and max_bytes of text (0 lines: no bound, the default). What is
 * already there stays; past the bound a new family is refused (-1), a new
 * label set too (counted in parley_metrics_series_refused_total), and a
 * snapshot whole (pl_metrics_merge_json -1). The count is an upper bound
 * (every number at its longest), so a render never exceeds it. */
void pl_metrics_bound (pl_metrics_t *self, size_t max_lines, size_t max_bytes);

/* That upper bound for what is in the registry now: bytes (and lines, if
 * not NULL). */
size_t pl_metrics_cost (pl_metrics_t *self, size_t *lines);

/* Declare a family. labels: NULL-terminated label names (NULL for none).
 * buckets: strictly increasing finite upper bounds for a histogram (the
 * +Inf bucket is implied), ignored for the other kinds. Declaring the same
 * name again with the same shape is a no-op (0); with another shape, or an
 * invalid name, it is refused (-1). */
int pl_metrics_declare (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
                        const char *help, const char *const *labels,
                        const double *buckets, size_t nbuckets);

/* values: one label value per declared label name, in order (NULL when the
 * family has no labels). Each returns 0, or -1 when the family is unknown,
 * of another kind, a label value is invalid (too long, not UTF-8), the
 * number is not finite (or negative for inc), or the family is full. */
int pl_metrics_inc (pl_metrics_t *self, const char *name,
                    const char *const *values, double by);      /* counter, by >= 0 */
int pl_metrics_set (pl_metrics_t *self, const char *name,
                    const char *const *values, double value);   /* gauge */
int pl_metrics_add (pl_metrics_t *self, const char *name,
                    const char *const *values, double by);      /* gauge, +/- */
int pl_metrics_observe (pl_metrics_t *self, const char *name,
                        const char *const *values, double value);   /* histogram */

/* The current value of a counter or gauge series, or the count of a
 * histogram series; -1 when there is no such series (for tests). */
double pl_metrics_value (pl_metrics_t *self, const char *name, const char *const *values);

/* Update process_cpu_seconds_total, process_resident_memory_bytes and
 * process_open_fds from /proc/self (declaring them on first use). */
int pl_metrics_update_process (pl_metrics_t *self);

/* The whole registry in the Prometheus text format; the caller frees it.
 * NULL when out of memory. */
char *pl_metrics_render (pl_metrics_t *self);

/* A compact JSON snapshot of every family (caller frees), or NULL. */
char *pl_metrics_snapshot_json (pl_metrics_t *self);

/* Merge a snapshot taken by another process, adding a leading label
 * process="<process>" to every family: each series in the snapshot replaces
 * the one with the same labels (snapshots are cumulative). The snapshot is
 * untrusted: it is checked whole (sizes, names, kinds, buckets, NULs, the
 * series cap) before anything is written; -1 when refused. */
int pl_metrics_merge_json (pl_metrics_t *self, const char *process,
                           const char *json, size_t len);

/* Strictly check text in the exposition format (as this module writes
 * it): HELP/TYPE before samples, families not interleaved, names and
 * label escapes, cumulative buckets ending in +Inf equal to _count.
 * Returns 0, or -1 with a reason in why (if not NULL). */
int pl_metrics_check_text (const char *text, const char **why);

void pl_metrics_test (bool verbose);

#endif
