/*  pl_metrics - counters, gauges and histograms in the Prometheus text
 *  format. Not thread-safe: every call runs in the loop that owns it. */
#include "pl_metrics.h"

#include <assert.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#define S_REFUSED "parley_metrics_series_refused_total"
#define S_LABELS_ALL (PL_METRICS_LABELS_MAX + 1)    /* + a merged "process" */

typedef struct {
    char *values[S_LABELS_ALL];
    uint64_t hash;              /* of values, for the family's index      */
    double value;               /* counter, gauge                        */
    double *counts;             /* histogram: nbuckets + 1, not cumulative */
    double sum;
    double count;
} s_series_t;

typedef struct {
    char name[PL_METRICS_NAME_MAX + 1];
    pl_metrics_kind_t kind;
    char help[PL_METRICS_HELP_MAX + 1];
    size_t nlabels;
    char labels[S_LABELS_ALL][PL_METRICS_NAME_MAX + 1];
    size_t nbuckets;
    double buckets[PL_METRICS_BUCKETS_MAX];
    s_series_t *series;
    size_t nseries;
    size_t cap;
    size_t *slots;              /* open addressing: series index + 1, 0 free */
    size_t nslots;              /* a power of two, > 2 * nseries, or 0     */
} s_family_t;

/* What a registry will render, as an upper bound (pl_metrics_bound). */
typedef struct {
    size_t lines;
    size_t bytes;
} s_cost_t;

#define S_NUM_MAX 24            /* bytes of a number: "%.17g" of a double   */

struct _pl_metrics_t {
    size_t max_series;
    s_cost_t cost;              /* of everything declared and added so far */
    s_cost_t max;               /* pl_metrics_bound; 0 lines: no bound      */
    s_family_t *families[PL_METRICS_FAMILIES_MAX];
    size_t nfamilies;
};

static const char *s_kinds[] = { "counter", "gauge", "histogram" };

/* ---------------------------------------------------------------- names */

static bool
s_name_ok (const char *name, bool metric)
{
    bool ok = name && *name && strnlen (name, PL_METRICS_NAME_MAX + 1) <= PL_METRICS_NAME_MAX;
    for (size_t i = 0; ok && name[i]; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
             || (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
    }
    return ok;
}

/* Valid UTF-8 without NUL, at most max bytes (Prometheus wants UTF-8). */
static bool
s_utf8_ok (const char *text, size_t max)
{
    bool ok = text && strnlen (text, max + 1) <= max;
    const unsigned char *p = (const unsigned char *) text;
    while (ok && *p) {
        size_t n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                 : (*p & 0xf8) == 0xf0 ? 3 : 4;
        ok = n < 4 && !(n == 1 && *p < 0xc2);
        uint32_t cp = n == 0 ? *p : (uint32_t) (*p & (0x3f >> n));
        for (size_t i = 1; ok && i <= n; i++) {
            ok = (p[i] & 0xc0) == 0x80;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (ok && n == 2)
            ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
        if (ok && n == 3)
            ok = cp >= 0x10000 && cp <= 0x10ffff;
        p += n + 1;
    }
    return ok;
}

/* ------------------------------------------------------------- families */

static s_family_t *
s_family (pl_metrics_t *self, const char *name)
{
    s_family_t *found = NULL;
    for (size_t i = 0; !found && name && i < self->nfamilies; i++)
        if (strcmp (self->families[i]->name, name) == 0)
            found = self->families[i];
    return found;
}

/* Bytes of text once escaped for the exposition format. */
static size_t
s_escaped_len (const char *text, bool quote)
{
    size_t len = 0;
    for (const char *p = text; *p; p++)
        len += 1 + (*p == '\\' || *p == '\n' || (quote && *p == '"'));
    return len;
}

/* The HELP and TYPE lines of a family. */
static s_cost_t
s_family_cost (const char *name, const char *help)
{
    s_cost_t cost = { 2, 2 * (7 + strlen (name) + 1) + s_escaped_len (help, false) + 1
                         + sizeof "histogram" };
    return cost;
}

/* The sample lines of one series: names holds the label names' bytes. */
static s_cost_t
s_series_cost (const char *name, pl_metrics_kind_t kind, size_t nbuckets, size_t nlabels,
               size_t names, const char *const *values)
{
    /* name_bucket{label="value",...,le="number"} number\n */
    size_t line = strlen (name) + sizeof "_bucket" + 2 + names + 1 + S_NUM_MAX + 1;
    for (size_t i = 0; i < nlabels; i++)
        line += 4 + s_escaped_len (values[i], true);
    if (kind == PL_METRICS_HISTOGRAM)
        line += sizeof ",le=\"\"" + S_NUM_MAX;
    size_t lines = kind == PL_METRICS_HISTOGRAM ? nbuckets + 3 : 1;
    s_cost_t cost = { lines, lines * line };
    return cost;
}

/* True when cost more stays within the registry's bound. */
static bool
s_within (const pl_metrics_t *self, s_cost_t more)
{
    return self->max.lines == 0
        || (self->cost.lines + more.lines <= self->max.lines
            && self->cost.bytes + more.bytes <= self->max.bytes);
}

/* True when a family a of kind ka and one b of kind kb would write a line
 * of the same name: a histogram h owns h_bucket, h_sum and h_count. */
static bool
s_names_clash (const char *a, pl_metrics_kind_t ka, const char *b, pl_metrics_kind_t kb)
{
    static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
    bool clash = strcmp (a, b) == 0;
    for (int turn = 0; !clash && turn < 2; turn++) {
        const char *hist = turn ? b : a, *other = turn ? a : b;
        size_t len = strlen (hist);
        if ((turn ? kb : ka) != PL_METRICS_HISTOGRAM || strncmp (other, hist, len) != 0)
            continue;
        for (size_t i = 0; !clash && i < sizeof suffixes / sizeof suffixes[0]; i++)
            clash = strcmp (other + len, suffixes[i]) == 0;
    }
    return clash;
}

/* True when a new family name of kind would clash with a declared one. */
static bool
s_clashes (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind)
{
    bool clash = false;
    for (size_t i = 0; !clash && i < self->nfamilies; i++)
        clash = s_names_clash (self->families[i]->name, self->families[i]->kind, name, kind);
    return clash;
}

static void
s_series_free (s_series_t *series)
{
    for (size_t i = 0; i < S_LABELS_ALL; i++)
        free (series->values[i]);
    free (series->counts);
}

/* FNV-1a over the values, each followed by 0xff (never in UTF-8). */
static uint64_t
s_hash (const char *const *values, size_t n)
{
    uint64_t hash = 1469598103934665603ULL;
    for (size_t j = 0; j < n; j++) {
        for (const char *p = values[j]; *p; p++)
            hash = (hash ^ (unsigned char) *p) * 1099511628211ULL;
        hash = (hash ^ 0xff) * 1099511628211ULL;
    }
    return hash;
}

/* Put series index i in the family's index (which has a free slot). */
static void
s_index_put (s_family_t *fam, size_t i)
{
    size_t mask = fam->nslots - 1;
    size_t at = (size_t) fam->series[i].hash & mask;
    while (fam->slots[at])
        at = (at + 1) & mask;
    fam->slots[at] = i + 1;
}

/* Room in the index for one more series; false when out of memory. */
static bool
s_index_room (s_family_t *fam)
{
    bool ok = true;
    if ((fam->nseries + 1) * 2 >= fam->nslots) {
        size_t nslots = fam->nslots ? fam->nslots * 2 : 8;
        size_t *slots = calloc (nslots, sizeof *slots);
        ok = slots != NULL;
        if (ok) {
            free (fam->slots);
            fam->slots = slots;
            fam->nslots = nslots;
            for (size_t i = 0; i < fam->nseries; i++)
                s_index_put (fam, i);
        }
    }
    return ok;
}

/* The series with these label values, added when create and there is room.
 * NULL when absent, invalid or refused (then counted). */
static s_series_t *
s_series (pl_metrics_t *self, s_family_t *fam, const char *const *values, bool create)
{
    s_series_t *found = NULL;
    bool valid = fam->nlabels == 0 || values;
    for (size_t j = 0; valid && j < fam->nlabels; j++)
        valid = s_utf8_ok (values[j], PL_METRICS_VALUE_MAX);
    uint64_t hash = valid ? s_hash (values, fam->nlabels) : 0;
    size_t mask = fam->nslots - 1;
    for (size_t at = (size_t) hash & mask; valid && !found && fam->nslots && fam->slots[at];
         at = (at + 1) & mask) {
        s_series_t *one = &fam->series[fam->slots[at] - 1];
        bool same = one->hash == hash;
        for (size_t j = 0; same && j < fam->nlabels; j++)
            same = strcmp (one->values[j], values[j]) == 0;
        if (same)
            found = one;
    }
    if (!valid || found || !create)
        goto cleanup;
    size_t names = 0;
    for (size_t j = 0; j < fam->nlabels; j++)
        names += strlen (fam->labels[j]);
    s_cost_t cost = s_series_cost (fam->name, fam->kind, fam->nbuckets, fam->nlabels, names,
                                   values);
    if (fam->nseries >= self->max_series || !s_within (self, cost)) {
        s_family_t *refused = s_family (self, S_REFUSED);
        if (refused && refused != fam && refused->nseries == 1)
            refused->series[0].value += 1;
        goto cleanup;
    }
    if (fam->nseries == fam->cap) {
        size_t cap = fam->cap ? fam->cap * 2 : 4;
        if (cap > self->max_series)
            cap = self->max_series;
        s_series_t *grown = realloc (fam->series, cap * sizeof *grown);
        if (!grown)
            goto cleanup;
        fam->series = grown;
        fam->cap = cap;
    }
    s_series_t series = { .hash = hash };
    bool ok = s_index_room (fam);
    for (size_t j = 0; ok && j < fam->nlabels; j++)
        ok = (series.values[j] = strdup (values[j])) != NULL;
    if (ok && fam->kind == PL_METRICS_HISTOGRAM)
        ok = (series.counts = calloc (fam->nbuckets + 1, sizeof (double))) != NULL;
    if (!ok) {
        s_series_free (&series);
        goto cleanup;
    }
    fam->series[fam->nseries] = series;
    s_index_put (fam, fam->nseries);
    self->cost.lines += cost.lines;
    self->cost.bytes += cost.bytes;
    found = &fam->series[fam->nseries++];
cleanup:
    return found;
}

static bool
s_same_shape (const s_family_t *fam, pl_metrics_kind_t kind, size_t nlabels,
              const char labels[][PL_METRICS_NAME_MAX + 1], const char *const *labelp,
              const double *buckets, size_t nbuckets)
{
    bool same = fam->kind == kind && fam->nlabels == nlabels
                && (kind != PL_METRICS_HISTOGRAM || fam->nbuckets == nbuckets);
    for (size_t i = 0; same && i < nlabels; i++)
        same = strcmp (fam->labels[i], labels ? labels[i] : labelp[i]) == 0;
    for (size_t i = 0; same && kind == PL_METRICS_HISTOGRAM && i < nbuckets; i++)
        same = fam->buckets[i] == buckets[i];
    return same;
}

/* Check a declaration; 1 when it is new and valid, 0 when it matches the
 * family already declared, -1 when refused. Writes nothing. */
static int
s_declare_check (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
                 const char *help, size_t nlabels, const char *const *labels,
                 const double *buckets, size_t nbuckets, size_t max_labels)
{
    int rc = -1;
    if (!s_name_ok (name, true) || (int) kind < 0 || kind > PL_METRICS_HISTOGRAM
        || !s_utf8_ok (help ? help : "", PL_METRICS_HELP_MAX) || nlabels > max_labels)
        goto cleanup;
    if (kind == PL_METRICS_COUNTER) {
        size_t len = strlen (name);
        if (len < 6 || strcmp (name + len - 6, "_total") != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!s_name_ok (labels[i], false) || strncmp (labels[i], "__", 2) == 0
            || (kind == PL_METRICS_HISTOGRAM && strcmp (labels[i], "le") == 0))
            goto cleanup;
        for (size_t j = 0; j < i; j++)
            if (strcmp (labels[i], labels[j]) == 0)
                goto cleanup;
    }
    if (kind == PL_METRICS_HISTOGRAM) {
        if (nbuckets < 1 || nbuckets > PL_METRICS_BUCKETS_MAX || !buckets)
            goto cleanup;
        for (size_t i = 0; i < nbuckets; i++)
            if (!isfinite (buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                goto cleanup;
    }
    s_family_t *fam = s_family (self, name);
    if (fam)
        rc = s_same_shape (fam, kind, nlabels, NULL, labels, buckets, nbuckets) ? 0 : -1;
    else
        rc = self->nfamilies < PL_METRICS_FAMILIES_MAX && !s_clashes (self, name, kind) ? 1 : -1;
cleanup:
    return rc;
}

static int
s_declare (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind, const char *help,
           size_t nlabels, const char *const *labels, const double *buckets,
           size_t nbuckets, size_t max_labels)
{
    int rc = s_declare_check (self, name, kind, help, nlabels, labels, buckets, nbuckets,
                              max_labels);
    if (rc != 1)
        goto cleanup;
    rc = -1;
    s_cost_t cost = s_family_cost (name, help ? help : "");
    if (!s_within (self, cost))
        goto cleanup;
    s_family_t *fam = calloc (1, sizeof *fam);
    if (!fam)
        goto cleanup;
    self->cost.lines += cost.lines;
    self->cost.bytes += cost.bytes;
    snprintf (fam->name, sizeof fam->name, "%s", name);
    snprintf (fam->help, sizeof fam->help, "%s", help ? help : "");
    fam->kind = kind;
    fam->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++)
        snprintf (fam->labels[i], sizeof fam->labels[i], "%s", labels[i]);
    if (kind == PL_METRICS_HISTOGRAM) {
        fam->nbuckets = nbuckets;
        memcpy (fam->buckets, buckets, nbuckets * sizeof *buckets);
    }
    self->families[self->nfamilies++] = fam;
    /* a family without labels has its one series from the start, at 0 */
    if (nlabels == 0 && !s_series (self, fam, NULL, true))
        goto cleanup;
    rc = 0;
cleanup:
    return rc;
}

pl_metrics_t *
pl_metrics_new (size_t max_series)
{
    pl_metrics_t *self = NULL;
    if (max_series < 1)
        goto cleanup;
    self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->max_series = max_series;
    if (s_declare (self, S_REFUSED, PL_METRICS_COUNTER,
                   "Label sets refused because their family was full.",
                   0, NULL, NULL, 0, 0) != 0)
        pl_metrics_destroy (&self);
cleanup:
    return self;
}

void
pl_metrics_bound (pl_metrics_t *self, size_t max_lines, size_t max_bytes)
{
    self->max.lines = max_lines;
    self->max.bytes = max_bytes;
}

size_t
pl_metrics_cost (pl_metrics_t *self, size_t *lines)
{
    if (lines)
        *lines = self->cost.lines;
    return self->cost.bytes;
}

void
pl_metrics_destroy (pl_metrics_t **self_p)
{
    if (self_p && *self_p) {
        pl_metrics_t *self = *self_p;
        for (size_t i = 0; i < self->nfamilies; i++) {
            for (size_t j = 0; j < self->families[i]->nseries; j++)
                s_series_free (&self->families[i]->series[j]);
            free (self->families[i]->series);
            free (self->families[i]->slots);
            free (self->families[i]);
        }
        free (self);
        *self_p = NULL;
    }
}

int
pl_metrics_declare (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
                    const char *help, const char *const *labels,
                    const double *buckets, size_t nbuckets)
{
    size_t nlabels = 0;
    while (labels && nlabels <= PL_METRICS_LABELS_MAX && labels[nlabels])
        nlabels++;
    return s_declare (self, name, kind, help, nlabels, labels, buckets, nbuckets,
                      PL_METRICS_LABELS_MAX);
}

/* ------------------------------------------------------------- samples */

static s_series_t *
s_target (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
          const char *const *values)
{
    s_family_t *fam = s_family (self, name);
    return fam && fam->kind == kind ? s_series (self, fam, values, true) : NULL;
}

int
pl_metrics_inc (pl_metrics_t *self, const char *name, const char *const *values, double by)
{
    s_series_t *series = isfinite (by) && by >= 0
                       ? s_target (self, name, PL_METRICS_COUNTER, values) : NULL;
    if (series)
        series->value += by;
    return series ? 0 : -1;
}

int
pl_metrics_set (pl_metrics_t *self, const char *name, const char *const *values, double value)
{
    s_series_t *series = isfinite (value) ? s_target (self, name, PL_METRICS_GAUGE, values) : NULL;
    if (series)
        series->value = value;
    return series ? 0 : -1;
}

int
pl_metrics_add (pl_metrics_t *self, const char *name, const char *const *values, double by)
{
    s_series_t *series = isfinite (by) ? s_target (self, name, PL_METRICS_GAUGE, values) : NULL;
    if (series)
        series->value += by;
    return series ? 0 : -1;
}

int
pl_metrics_observe (pl_metrics_t *self, const char *name, const char *const *values,
                    double value)
{
    s_series_t *series = isfinite (value)
                       ? s_target (self, name, PL_METRICS_HISTOGRAM, values) : NULL;
    if (series) {
        s_family_t *fam = s_family (self, name);
        size_t i = 0;
        while (i < fam->nbuckets && value > fam->buckets[i])
            i++;
        series->counts[i] += 1;
        series->sum += value;
        series->count += 1;
    }
    return series ? 0 : -1;
}

double
pl_metrics_value (pl_metrics_t *self, const char *name, const char *const *values)
{
    s_family_t *fam = s_family (self, name);
    s_series_t *series = fam ? s_series (self, fam, values, false) : NULL;
    return !series ? -1 : fam->kind == PL_METRICS_HISTOGRAM ? series->count : series->value;
}

/* ------------------------------------------------------------- process */

int
pl_metrics_update_process (pl_metrics_t *self)
{
    int rc = -1;
    FILE *file = NULL;
    DIR *dir = NULL;
    char buf[1024];
    if (pl_metrics_declare (self, "process_cpu_seconds_total", PL_METRICS_COUNTER,
                            "Total user and system CPU time spent in seconds.",
                            NULL, NULL, 0)
        || pl_metrics_declare (self, "process_resident_memory_bytes", PL_METRICS_GAUGE,
                               "Resident memory size in bytes.", NULL, NULL, 0)
        || pl_metrics_declare (self, "process_open_fds", PL_METRICS_GAUGE,
                               "Number of open file descriptors.", NULL, NULL, 0))
        goto cleanup;
    file = fopen ("/proc/self/stat", "r");
    size_t got = file ? fread (buf, 1, sizeof buf - 1, file) : 0;
    buf [got] = 0;
    /* the command name (field 2) may hold spaces and ')': fields after the
     * last ')' are 3 (state) onwards: utime is 14, stime 15, rss 24 */
    char *p = strrchr (buf, ')');
    if (!p)
        goto cleanup;
    unsigned long long field[22] = { 0 };
    p += 2;
    for (int i = 0; i < 22 && p && *p; i++) {
        if (i > 0)
            field[i] = strtoull (p, NULL, 10);
        p = strchr (p, ' ');
        if (p)
            p++;
    }
    long ticks = sysconf (_SC_CLK_TCK);
    long page = sysconf (_SC_PAGESIZE);
    if (ticks <= 0 || page <= 0)
        goto cleanup;
    double cpu = (double) (field[11] + field[12]) / (double) ticks;
    s_family_t *fam = s_family (self, "process_cpu_seconds_total");
    fam->series[0].value = cpu;     /* a counter read from the kernel: set */
    pl_metrics_set (self, "process_resident_memory_bytes", NULL,
                    (double) field[21] * (double) page);
    dir = opendir ("/proc/self/fd");
    if (!dir)
        goto cleanup;
    double fds = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name[0] != '.')
            fds++;
    pl_metrics_set (self, "process_open_fds", NULL, fds - 1);   /* not dir's own */
    rc = 0;
cleanup:
    if (file)
        fclose (file);
    if (dir)
        closedir (dir);
    return rc;
}

/* -------------------------------------------------------------- render */

/* The shortest of %.15g / %.17g that reads back exactly; +Inf, -Inf, NaN. */
static void
s_num (char *buf, size_t size, double v)
{
    if (isnan (v))
        snprintf (buf, size, "NaN");
    else if (isinf (v))
        snprintf (buf, size, v > 0 ? "+Inf" : "-Inf");
    else {
        snprintf (buf, size, "%.15g", v);
        if (strtod (buf, NULL) != v)
            snprintf (buf, size, "%.17g", v);
    }
}

static void
s_escape (FILE *out, const char *text, bool quote)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs ("\\\\", out);
        else if (*p == '\n')
            fputs ("\\n", out);
        else if (quote && *p == '"')
            fputs ("\\\"", out);
        else
            fputc (*p, out);
    }
}

static void
s_labels (FILE *out, const s_family_t *fam, const s_series_t *series, const char *le)
{
    if (fam->nlabels > 0 || le) {
        fputc ('{', out);
        for (size_t i = 0; i < fam->nlabels; i++) {
            fprintf (out, "%s%s=\"", i ? "," : "", fam->labels[i]);
            s_escape (out, series->values[i], true);
            fputc ('"', out);
        }
        if (le)
            fprintf (out, "%sle=\"%s\"", fam->nlabels ? "," : "", le);
        fputc ('}', out);
    }
}

char *
pl_metrics_render (pl_metrics_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        goto cleanup;
    char num[64], le[64];
    for (size_t f = 0; f < self->nfamilies; f++) {
        const s_family_t *fam = self->families[f];
        fprintf (out, "# HELP %s ", fam->name);
        s_escape (out, fam->help, false);
        fprintf (out, "\n# TYPE %s %s\n", fam->name, s_kinds[fam->kind]);
        for (size_t s = 0; s < fam->nseries; s++) {
            const s_series_t *series = &fam->series[s];
            if (fam->kind != PL_METRICS_HISTOGRAM) {
                fputs (fam->name, out);
                s_labels (out, fam, series, NULL);
                s_num (num, sizeof num, series->value);
                fprintf (out, " %s\n", num);
                continue;
            }
            double cumulative = 0;
            for (size_t b = 0; b <= fam->nbuckets; b++) {
                cumulative += series->counts[b];
                if (b < fam->nbuckets)
                    s_num (le, sizeof le, fam->buckets[b]);
                else
                    snprintf (le, sizeof le, "+Inf");
                fprintf (out, "%s_bucket", fam->name);
                s_labels (out, fam, series, le);
                s_num (num, sizeof num, cumulative);
                fprintf (out, " %s\n", num);
            }
            fprintf (out, "%s_sum", fam->name);
            s_labels (out, fam, series, NULL);
            s_num (num, sizeof num, series->sum);
            fprintf (out, " %s\n%s_count", num, fam->name);
            s_labels (out, fam, series, NULL);
            s_num (num, sizeof num, series->count);
            fprintf (out, " %s\n", num);
        }
    }
    if (fclose (out) != 0) {
        free (text);
        text = NULL;
    }
cleanup:
    return text;
}

/* --------------------------------------------------------------- check */

typedef struct {
    char family[PL_METRICS_NAME_MAX + 1];
    char type[16];
    bool help, typed;
    /* histogram: the series being read (labels without le) and its buckets */
    char series[2048];
    double last_le, last_bucket, inf_bucket;
    int stage;                  /* 0 none, 1 buckets, 2 after +Inf, 3 after _sum, 4 done */
} s_check_t;

#define S_SEEN_MAX 512

/* Parse one label set at *p ("{...}" or nothing); writes the labels other
 * than le, in order, to rest and le's value to le. */
static const char *
s_check_labels (const char **p, char *rest, size_t rest_size, char *le, size_t le_size)
{
    const char *why = NULL;
    const char *q = *p;
    char names[16][PL_METRICS_NAME_MAX + 1];
    size_t nnames = 0;
    size_t used = 0;
    rest[0] = le[0] = 0;
    if (*q != '{')
        goto cleanup;
    q++;
    while (*q != '}') {
        char name[PL_METRICS_NAME_MAX + 1];
        size_t n = 0;
        while (n < PL_METRICS_NAME_MAX && *q && *q != '=')
            name[n++] = *q++;
        name[n] = 0;
        if (*q != '=' || !s_name_ok (name, false) || q[1] != '"') {
            why = "bad label name";
            goto cleanup;
        }
        for (size_t i = 0; i < nnames; i++)
            if (strcmp (names[i], name) == 0) {
                why = "duplicate label";
                goto cleanup;
            }
        if (nnames == 16) {
            why = "too many labels";
            goto cleanup;
        }
        snprintf (names[nnames++], sizeof names[0], "%s", name);
        bool is_le = strcmp (name, "le") == 0;
        for (const char *c = name; !is_le && *c && used + 2 < rest_size; c++)
            rest[used++] = *c;
        if (!is_le && used + 2 < rest_size)
            rest[used++] = '=';
        q += 2;
        size_t v = 0;
        while (*q && *q != '"' && *q != '\n') {
            if (*q == '\\') {
                if (q[1] != '\\' && q[1] != '"' && q[1] != 'n') {
                    why = "bad escape in a label value";
                    goto cleanup;
                }
                if (!is_le && used + 3 < rest_size) {
                    rest[used++] = q[0];
                    rest[used++] = q[1];
                }
                q += 2;
                continue;
            }
            if (is_le && v + 1 < le_size)
                le[v++] = *q;
            else if (!is_le && used + 2 < rest_size)
                rest[used++] = *q;
            q++;
        }
        if (*q != '"') {
            why = "unterminated label value";
            goto cleanup;
        }
        if (is_le)
            le[v] = 0;
        else if (used + 2 < rest_size)
            rest[used++] = ',';
        rest[used] = 0;
        q++;
        if (*q == ',' && q[1] != '}')
            q++;
        else if (*q != '}') {
            why = "bad label separator";
            goto cleanup;
        }
    }
    q++;
cleanup:
    *p = q;
    return why;
}

static bool
s_check_value (const char *text, double *value)
{
    char *end = NULL;
    bool ok = true;
    if (strcmp (text, "+Inf") == 0)
        *value = INFINITY;
    else if (strcmp (text, "-Inf") == 0)
        *value = -INFINITY;
    else if (strcmp (text, "NaN") == 0)
        *value = NAN;
    else {
        *value = strtod (text, &end);
        ok = *text && end && *end == 0 && isfinite (*value);
    }
    return ok;
}

static const char *
s_check_sample (s_check_t *st, const char *line)
{
    const char *why = NULL;
    char name[PL_METRICS_NAME_MAX + 16];
    size_t n = 0;
    const char *p = line;
    while (n < sizeof name - 1 && *p && *p != '{' && *p != ' ')
        name[n++] = *p++;
    name[n] = 0;
    if (!s_name_ok (name, true)) {
        why = "bad metric name";
        goto cleanup;
    }
    if (!st->typed) {
        why = "sample before its TYPE";
        goto cleanup;
    }
    char rest[2048];
    char le[64];
    why = s_check_labels (&p, rest, sizeof rest, le, sizeof le);
    if (why)
        goto cleanup;
    if (*p != ' ' || strchr (p + 1, ' ')) {
        why = "expected one space and a value";
        goto cleanup;
    }
    double value;
    if (!s_check_value (p + 1, &value)) {
        why = "bad value";
        goto cleanup;
    }
    size_t flen = strlen (st->family);
    bool hist = strcmp (st->type, "histogram") == 0;
    const char *suffix = strncmp (name, st->family, flen) == 0 ? name + flen : NULL;
    if (!suffix || (!hist && *suffix) || (hist && strcmp (suffix, "_bucket") != 0
                                          && strcmp (suffix, "_sum") != 0
                                          && strcmp (suffix, "_count") != 0)) {
        why = "sample outside its family";
        goto cleanup;
    }
    if (strcmp (st->type, "counter") == 0 && !(value >= 0)) {
        why = "negative or NaN counter";
        goto cleanup;
    }
    if (!hist) {
        if (le[0])
            why = "le label outside a histogram";
        goto cleanup;
    }
    if (strcmp (suffix, "_bucket") == 0) {
        double bound;
        if (!le[0] || !s_check_value (le, &bound) || isnan (bound)) {
            why = "bucket without a valid le";
            goto cleanup;
        }
        if (st->stage == 0 || st->stage == 4) {
            snprintf (st->series, sizeof st->series, "%s", rest);     /* next series */
            st->stage = 1;
            st->last_le = -INFINITY;
            st->last_bucket = 0;
        }
        else if (st->stage != 1 || strcmp (rest, st->series) != 0) {
            why = "histogram series out of order (no +Inf, _sum or _count)";
            goto cleanup;
        }
        if (!(bound > st->last_le) || value < st->last_bucket || !(value >= 0)) {
            why = "buckets not increasing and cumulative";
            goto cleanup;
        }
        st->last_le = bound;
        st->last_bucket = value;
        if (isinf (bound)) {
            st->stage = 2;
            st->inf_bucket = value;
        }
    }
    else if (le[0] || st->stage == 0 || strcmp (rest, st->series) != 0) {
        why = "_sum or _count with other labels than its buckets";
    }
    else if (strcmp (suffix, "_sum") == 0) {
        if (st->stage != 2)
            why = "_sum out of order";
        st->stage = 3;
    }
    else {
        if (st->stage != 3 || value != st->inf_bucket)
            why = "_count out of order or not equal to the +Inf bucket";
        st->stage = 4;
    }
cleanup:
    return why;
}

static const char *
s_check_end_family (s_check_t *st)
{
    const char *why = NULL;
    if (strcmp (st->type, "histogram") == 0 && st->stage != 0 && st->stage != 4)
        why = "histogram family ends inside a series";
    if (st->family[0] && !st->typed)
        why = "family without TYPE";
    return why;
}

int
pl_metrics_check_text (const char *text, const char **why)
{
    const char *reason = NULL;
    char (*seen)[PL_METRICS_NAME_MAX + 1] = calloc (S_SEEN_MAX, sizeof *seen);
    pl_metrics_kind_t seen_kind[S_SEEN_MAX] = { PL_METRICS_COUNTER };
    size_t nseen = 0;
    s_check_t st;
    memset (&st, 0, sizeof st);
    const char *p = text;
    char line[4096];
    if (!seen) {
        reason = "out of memory";
        goto cleanup;
    }
    if (!text || (*text && text[strlen (text) - 1] != '\n')) {
        reason = "text does not end with a newline";
        goto cleanup;
    }
    while (!reason && *p) {
        const char *eol = strchr (p, '\n');
        size_t len = (size_t) (eol - p);
        if (len >= sizeof line) {
            reason = "line too long";
            goto cleanup;
        }
        memcpy (line, p, len);
        line[len] = 0;
        p = eol + 1;
        if (len == 0) {
            reason = "empty line";
            goto cleanup;
        }
        bool help = strncmp (line, "# HELP ", 7) == 0;
        bool type = strncmp (line, "# TYPE ", 7) == 0;
        if (line[0] == '#' && !help && !type) {
            reason = "comment line";
            goto cleanup;
        }
        if (!help && !type) {
            reason = s_check_sample (&st, line);
            continue;
        }
        char name[PL_METRICS_NAME_MAX + 1];
        size_t n = 0;
        const char *q = line + 7;
        while (n < PL_METRICS_NAME_MAX && *q && *q != ' ')
            name[n++] = *q++;
        name[n] = 0;
        if (!s_name_ok (name, true) || *q != ' ') {
            reason = "bad name in HELP or TYPE";
            goto cleanup;
        }
        q++;
        if (strcmp (name, st.family) != 0) {
            reason = s_check_end_family (&st);
            for (size_t i = 0; !reason && i < nseen; i++)
                if (strcmp (seen[i], name) == 0)
                    reason = "family appears twice";
            if (reason)
                goto cleanup;
            if (nseen == S_SEEN_MAX) {
                reason = "too many families";
                goto cleanup;
            }
            snprintf (seen[nseen++], sizeof seen[0], "%s", name);
            memset (&st, 0, sizeof st);
            snprintf (st.family, sizeof st.family, "%s", name);
        }
        if (help) {
            if (st.help || st.typed)
                reason = "HELP twice or after TYPE";
            for (const char *c = q; !reason && *c; c++)
                if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
                    reason = "bad escape in HELP";
                else if (*c == '\\')
                    c++;
            st.help = true;
        }
        else {
            if (st.typed)
                reason = "TYPE twice";
            else if (strcmp (q, "counter") && strcmp (q, "gauge") && strcmp (q, "histogram"))
                reason = "unknown TYPE";
            else if (strcmp (q, "counter") == 0
                     && (strlen (name) < 6 || strcmp (name + strlen (name) - 6, "_total")))
                reason = "counter name without _total";
            snprintf (st.type, sizeof st.type, "%s", q);
            st.typed = true;
            /* a histogram's _bucket, _sum, _count lines are its own */
            pl_metrics_kind_t kind = strcmp (q, "histogram") == 0 ? PL_METRICS_HISTOGRAM
                                   : PL_METRICS_GAUGE;
            for (size_t i = 0; !reason && i + 1 < nseen; i++)
                if (s_names_clash (seen[i], seen_kind[i], name, kind))
                    reason = "a family named like another histogram's lines";
            seen_kind[nseen - 1] = kind;
        }
    }
    if (!reason)
        reason = s_check_end_family (&st);
cleanup:
    free (seen);
    if (why)
        *why = reason;
    return reason ? -1 : 0;
}

/* ------------------------------------------------------ snapshot, merge */

char *
pl_metrics_snapshot_json (pl_metrics_t *self)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    cJSON *families = root ? cJSON_AddArrayToObject (root, "f") : NULL;
    if (!families || !cJSON_AddNumberToObject (root, "v", 1))
        goto cleanup;
    for (size_t f = 0; f < self->nfamilies; f++) {
        const s_family_t *fam = self->families[f];
        cJSON *jf = cJSON_CreateObject ();
        if (!jf || !cJSON_AddItemToArray (families, jf))
            goto cleanup;
        cJSON *labels = cJSON_AddArrayToObject (jf, "l");
        cJSON *series = cJSON_AddArrayToObject (jf, "s");
        if (!cJSON_AddStringToObject (jf, "n", fam->name)
            || !cJSON_AddStringToObject (jf, "k", s_kinds[fam->kind])
            || !cJSON_AddStringToObject (jf, "h", fam->help) || !labels || !series)
            goto cleanup;
        for (size_t i = 0; i < fam->nlabels; i++)
            if (!cJSON_AddItemToArray (labels, cJSON_CreateString (fam->labels[i])))
                goto cleanup;
        if (fam->kind == PL_METRICS_HISTOGRAM
            && !cJSON_AddItemToObject (jf, "b", cJSON_CreateDoubleArray (fam->buckets,
                                                                          (int) fam->nbuckets)))
            goto cleanup;
        for (size_t s = 0; s < fam->nseries; s++) {
            const s_series_t *one = &fam->series[s];
            cJSON *js = cJSON_CreateObject ();
            cJSON *values = js ? cJSON_AddArrayToObject (js, "l") : NULL;
            if (!js || !cJSON_AddItemToArray (series, js) || !values)
                goto cleanup;
            for (size_t i = 0; i < fam->nlabels; i++)
                if (!cJSON_AddItemToArray (values, cJSON_CreateString (one->values[i])))
                    goto cleanup;
            bool ok = fam->kind != PL_METRICS_HISTOGRAM
                    ? cJSON_AddNumberToObject (js, "v", one->value) != NULL
                    : cJSON_AddItemToObject (js, "c", cJSON_CreateDoubleArray (
                                                 one->counts, (int) fam->nbuckets + 1))
                      && cJSON_AddNumberToObject (js, "s", one->sum);
            if (!ok)
                goto cleanup;
        }
    }
    text = cJSON_PrintUnformatted (root);
cleanup:
    cJSON_Delete (root);
    return text;
}

/* True when JSON text holds a \u0000 escape (cJSON would cut the string
 * there, and an id must never be truncated). */
static bool
s_json_has_nul_escape (const char *json, size_t len)
{
    bool found = false;
    for (size_t i = 0; !found && i + 1 < len; i++) {
        if (json[i] != '\\')
            continue;
        found = json[i + 1] == 'u' && i + 5 < len && memcmp (json + i + 2, "0000", 4) == 0;
        i++;                    /* skip the escaped character */
    }
    return found;
}

/* The label values of a snapshot series, "process" first; NULL if bad. */
static bool
s_merge_values (const cJSON *jl, size_t nlabels, const char *process,
                const char *values[S_LABELS_ALL])
{
    bool ok = cJSON_IsArray (jl) && (size_t) cJSON_GetArraySize (jl) + 1 == nlabels;
    values[0] = process;
    for (size_t i = 1; ok && i < nlabels; i++) {
        const cJSON *item = cJSON_GetArrayItem (jl, (int) i - 1);
        ok = cJSON_IsString (item) && s_utf8_ok (item->valuestring, PL_METRICS_VALUE_MAX);
        values[i] = ok ? item->valuestring : NULL;
    }
    return ok;
}

/* Check one snapshot family (apply false: adding what it would add to
 * cost) or write it (apply true). */
static int
s_merge_family (pl_metrics_t *self, const char *process, const cJSON *jf, bool apply,
                size_t *new_families, s_cost_t *cost)
{
    int rc = -1;
    const cJSON **seen = NULL;
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive (jf, "n");
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive (jf, "k");
    const cJSON *jh = cJSON_GetObjectItemCaseSensitive (jf, "h");
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive (jf, "l");
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive (jf, "b");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive (jf, "s");
    if (!cJSON_IsString (jn) || !cJSON_IsString (jk) || !cJSON_IsString (jh)
        || !cJSON_IsArray (jl) || !cJSON_IsArray (js)
        || cJSON_GetArraySize (jl) > PL_METRICS_LABELS_MAX)
        goto cleanup;
    int kind = -1;
    for (int k = 0; k < 3; k++)
        if (strcmp (jk->valuestring, s_kinds[k]) == 0)
            kind = k;
    if (kind < 0)
        goto cleanup;
    const char *labels[S_LABELS_ALL] = { "process" };
    size_t nlabels = 1;
    const cJSON *item;
    cJSON_ArrayForEach (item, jl) {
        if (!cJSON_IsString (item) || strcmp (item->valuestring, "process") == 0)
            goto cleanup;
        labels[nlabels++] = item->valuestring;
    }
    double buckets[PL_METRICS_BUCKETS_MAX];
    size_t nbuckets = 0;
    if (kind == PL_METRICS_HISTOGRAM) {
        if (!cJSON_IsArray (jb) || cJSON_GetArraySize (jb) > PL_METRICS_BUCKETS_MAX)
            goto cleanup;
        cJSON_ArrayForEach (item, jb) {
            if (!cJSON_IsNumber (item))
                goto cleanup;
            buckets[nbuckets++] = item->valuedouble;
        }
    }
    int fresh = s_declare_check (self, jn->valuestring, (pl_metrics_kind_t) kind,
                                 jh->valuestring, nlabels, labels, buckets, nbuckets,
                                 S_LABELS_ALL);
    if (fresh < 0)
        goto cleanup;
    if (apply && fresh && s_declare (self, jn->valuestring, (pl_metrics_kind_t) kind,
                                     jh->valuestring, nlabels, labels, buckets, nbuckets,
                                     S_LABELS_ALL) != 0)
        goto cleanup;
    *new_families += (size_t) fresh;
    if (fresh) {
        s_cost_t more = s_family_cost (jn->valuestring, jh->valuestring);
        cost->lines += more.lines;
        cost->bytes += more.bytes;
    }
    size_t names = 0;
    for (size_t i = 0; i < nlabels; i++)
        names += strlen (labels[i]);
    s_family_t *fam = s_family (self, jn->valuestring);
    size_t added = 0;
    size_t nseries = (size_t) cJSON_GetArraySize (js);
    if (nseries > self->max_series)
        goto cleanup;
    /* the same label set twice in one snapshot is refused: a set of the
     * label sets seen, by hash (checked in the first pass only) */
    size_t nseen = 8;
    while (nseen <= nseries * 2)
        nseen *= 2;
    seen = apply ? NULL : calloc (nseen, sizeof *seen);
    if (!apply && !seen)
        goto cleanup;
    const cJSON *one;
    cJSON_ArrayForEach (one, js) {
        const char *values[S_LABELS_ALL];
        if (!s_merge_values (cJSON_GetObjectItemCaseSensitive (one, "l"), nlabels, process,
                             values))
            goto cleanup;
        size_t at = (size_t) s_hash (values, nlabels) & (nseen - 1);
        while (seen && seen[at]) {
            const char *other[S_LABELS_ALL];
            bool same = s_merge_values (cJSON_GetObjectItemCaseSensitive (seen[at], "l"),
                                        nlabels, process, other);
            for (size_t i = 1; same && i < nlabels; i++)
                same = strcmp (values[i], other[i]) == 0;
            if (same)
                goto cleanup;
            at = (at + 1) & (nseen - 1);
        }
        if (seen)
            seen[at] = one;
        const cJSON *jv = cJSON_GetObjectItemCaseSensitive (one, "v");
        const cJSON *jc = cJSON_GetObjectItemCaseSensitive (one, "c");
        const cJSON *jsum = cJSON_GetObjectItemCaseSensitive (one, "s");
        if (kind != PL_METRICS_HISTOGRAM) {
            if (!cJSON_IsNumber (jv) || !isfinite (jv->valuedouble)
                || (kind == PL_METRICS_COUNTER && jv->valuedouble < 0))
                goto cleanup;
        }
        else {
            if (!cJSON_IsArray (jc) || (size_t) cJSON_GetArraySize (jc) != nbuckets + 1
                || !cJSON_IsNumber (jsum) || !isfinite (jsum->valuedouble))
                goto cleanup;
            cJSON_ArrayForEach (item, jc)
                if (!cJSON_IsNumber (item) || !isfinite (item->valuedouble)
                    || item->valuedouble < 0)
                    goto cleanup;
        }
        s_series_t *series = fam ? s_series (self, fam, values, apply) : NULL;
        if (!series && apply)
            goto cleanup;           /* cannot happen after the check pass */
        if (!series) {
            added++;
            s_cost_t more = s_series_cost (jn->valuestring, (pl_metrics_kind_t) kind, nbuckets,
                                           nlabels, names, values);
            cost->lines += more.lines;
            cost->bytes += more.bytes;
        }
        if (!apply)
            continue;
        if (kind != PL_METRICS_HISTOGRAM)
            series->value = jv->valuedouble;
        else {
            series->count = 0;
            for (size_t b = 0; b <= nbuckets; b++) {
                series->counts[b] = cJSON_GetArrayItem (jc, (int) b)->valuedouble;
                series->count += series->counts[b];
            }
            series->sum = jsum->valuedouble;
        }
    }
    if ((fam ? fam->nseries : 0) + added > self->max_series)
        goto cleanup;
    rc = 0;
cleanup:
    free (seen);
    return rc;
}

/* The other process's refused-label-set counter is not merged: it would
 * clash with this registry's own (which has no process label). */
static bool
s_merge_skip (const cJSON *jf)
{
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive (jf, "n");
    return cJSON_IsString (jn) && strcmp (jn->valuestring, S_REFUSED) == 0;
}

/* The kind of a snapshot family s_merge_family accepted. */
static pl_metrics_kind_t
s_merge_kind (const cJSON *jf)
{
    const char *k = cJSON_GetObjectItemCaseSensitive (jf, "k")->valuestring;
    return strcmp (k, "histogram") == 0 ? PL_METRICS_HISTOGRAM
         : strcmp (k, "gauge") == 0 ? PL_METRICS_GAUGE : PL_METRICS_COUNTER;
}

int
pl_metrics_merge_json (pl_metrics_t *self, const char *process, const char *json, size_t len)
{
    int rc = -1;
    cJSON *root = NULL;
    if (!s_utf8_ok (process, PL_METRICS_VALUE_MAX) || !json || len > PL_METRICS_SNAPSHOT_MAX
        || memchr (json, 0, len) || s_json_has_nul_escape (json, len))
        goto cleanup;
    root = cJSON_ParseWithLength (json, len);
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive (root, "v");
    const cJSON *families = cJSON_GetObjectItemCaseSensitive (root, "f");
    if (!cJSON_IsNumber (jv) || jv->valuedouble != 1 || !cJSON_IsArray (families)
        || cJSON_GetArraySize (families) > PL_METRICS_FAMILIES_MAX)
        goto cleanup;
    /* pass 1 checks everything, pass 2 writes: all or nothing */
    size_t new_families = 0;
    s_cost_t cost = { 0, 0 };
    const cJSON *jf, *other;
    cJSON_ArrayForEach (jf, families) {
        if (s_merge_skip (jf))
            continue;
        if (s_merge_family (self, process, jf, false, &new_families, &cost) != 0)
            goto cleanup;
        const char *name = cJSON_GetObjectItemCaseSensitive (jf, "n")->valuestring;
        cJSON_ArrayForEach (other, families) {
            if (other == jf)
                break;
            if (!s_merge_skip (other)
                && s_names_clash (cJSON_GetObjectItemCaseSensitive (other, "n")->valuestring,
                                  s_merge_kind (other), name, s_merge_kind (jf)))
                goto cleanup;       /* a family twice, or one in another's lines */
        }
    }
    if (self->nfamilies + new_families > PL_METRICS_FAMILIES_MAX || !s_within (self, cost))
        goto cleanup;
    cJSON_ArrayForEach (jf, families)
        if (!s_merge_skip (jf)
            && s_merge_family (self, process, jf, true, &new_families, &cost) != 0)
            goto cleanup;
    rc = 0;
cleanup:
    cJSON_Delete (root);
    return rc;
}

/* -------------------------------------------------------------- selftest */

static void
s_test_render_exact (void)
{
    pl_metrics_t *m = pl_metrics_new (3);
    assert (m);
    const char *req_labels[] = { "event", "code", NULL };
    const char *lat_labels[] = { "event", NULL };
    const double buckets[] = { 0.005, 0.1, 1 };
    assert (pl_metrics_declare (m, "parley_requests_total", PL_METRICS_COUNTER,
                                "Requests by event and code.", req_labels, NULL, 0) == 0);
    assert (pl_metrics_declare (m, "parley_connections", PL_METRICS_GAUGE,
                                "Open connections.\\ now\nall", NULL, NULL, 0) == 0);
    assert (pl_metrics_declare (m, "parley_request_seconds", PL_METRICS_HISTOGRAM,
                                "Request latency.", lat_labels, buckets, 3) == 0);
    /* the same declaration again is a no-op; another shape is refused */
    assert (pl_metrics_declare (m, "parley_request_seconds", PL_METRICS_HISTOGRAM,
                                "Request latency.", lat_labels, buckets, 3) == 0);
    assert (pl_metrics_declare (m, "parley_request_seconds", PL_METRICS_HISTOGRAM,
                                "Request latency.", lat_labels, buckets, 2) == -1);
    assert (pl_metrics_declare (m, "parley_connections", PL_METRICS_COUNTER,
                                "x", NULL, NULL, 0) == -1);

    const char *ok[] = { "campaign:create", "OK" };
    const char *odd[] = { "a\"b\\c\nd", "ERR" };
    assert (pl_metrics_inc (m, "parley_requests_total", ok, 1) == 0);
    assert (pl_metrics_inc (m, "parley_requests_total", ok, 2) == 0);
    assert (pl_metrics_inc (m, "parley_requests_total", odd, 1) == 0);
    assert (pl_metrics_inc (m, "parley_requests_total", ok, -1) == -1);
    assert (pl_metrics_inc (m, "parley_connections", NULL, 1) == -1);     /* a gauge */
    assert (pl_metrics_set (m, "parley_connections", NULL, 5) == 0);
    assert (pl_metrics_add (m, "parley_connections", NULL, -2) == 0);
    assert (pl_metrics_set (m, "parley_connections", NULL, NAN) == -1);
    assert (pl_metrics_inc (m, "nope_total", NULL, 1) == -1);
    const char *x[] = { "x" }, *y[] = { "y" };
    assert (pl_metrics_observe (m, "parley_request_seconds", x, 0) == 0);
    assert (pl_metrics_observe (m, "parley_request_seconds", x, 0.5) == 0);
    assert (pl_metrics_observe (m, "parley_request_seconds", x, 2) == 0);
    assert (pl_metrics_observe (m, "parley_request_seconds", y, 0.1) == 0);     /* le inclusive */
    assert (pl_metrics_observe (m, "parley_request_seconds", y, INFINITY) == -1);
    assert (pl_metrics_value (m, "parley_requests_total", ok) == 3);
    assert (pl_metrics_value (m, "parley_request_seconds", x) == 3);

    const char *want =
        "# HELP parley_metrics_series_refused_total Label sets refused because their family was full.\n"
        "# TYPE parley_metrics_series_refused_total counter\n"
        "parley_metrics_series_refused_total 0\n"
        "# HELP parley_requests_total Requests by event and code.\n"
        "# TYPE parley_requests_total counter\n"
        "parley_requests_total{event=\"campaign:create\",code=\"OK\"} 3\n"
        "parley_requests_total{event=\"a\\\"b\\\\c\\nd\",code=\"ERR\"} 1\n"
        "# HELP parley_connections Open connections.\\\\ now\\nall\n"
        "# TYPE parley_connections gauge\n"
        "parley_connections 3\n"
        "# HELP parley_request_seconds Request latency.\n"
        "# TYPE parley_request_seconds histogram\n"
        "parley_request_seconds_bucket{event=\"x\",le=\"0.005\"} 1\n"
        "parley_request_seconds_bucket{event=\"x\",le=\"0.1\"} 1\n"
        "parley_request_seconds_bucket{event=\"x\",le=\"1\"} 2\n"
        "parley_request_seconds_bucket{event=\"x\",le=\"+Inf\"} 3\n"
        "parley_request_seconds_sum{event=\"x\"} 2.5\n"
        "parley_request_seconds_count{event=\"x\"} 3\n"
        "parley_request_seconds_bucket{event=\"y\",le=\"0.005\"} 0\n"
        "parley_request_seconds_bucket{event=\"y\",le=\"0.1\"} 1\n"
        "parley_request_seconds_bucket{event=\"y\",le=\"1\"} 1\n"
        "parley_request_seconds_bucket{event=\"y\",le=\"+Inf\"} 1\n"
        "parley_request_seconds_sum{event=\"y\"} 0.1\n"
        "parley_request_seconds_count{event=\"y\"} 1\n";
    char *text = pl_metrics_render (m);
    assert (text);
    if (strcmp (text, want) != 0)
        fprintf (stderr, "pl_metrics: rendered\n%s\nwanted\n%s\n", text, want);
    assert (strcmp (text, want) == 0);
    const char *why = NULL;
    assert (pl_metrics_check_text (text, &why) == 0 && why == NULL);
    free (text);

    /* cardinality: a family holds 3 label sets; a 4th is refused and counted,
     * known ones still count */
    const char *a[] = { "a" }, *b[] = { "b" };
    assert (pl_metrics_observe (m, "parley_request_seconds", a, 1) == 0);
    assert (pl_metrics_observe (m, "parley_request_seconds", b, 1) == -1);
    assert (pl_metrics_observe (m, "parley_request_seconds", b, 1) == -1);
    assert (pl_metrics_observe (m, "parley_request_seconds", a, 1) == 0);
    assert (pl_metrics_value (m, "parley_metrics_series_refused_total", NULL) == 2);
    assert (pl_metrics_value (m, "parley_request_seconds", b) == -1);
    /* values that are too long, not UTF-8, or missing are refused */
    char longv[PL_METRICS_VALUE_MAX + 2];
    memset (longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    const char *lv[] = { longv, "OK" }, *bad8[] = { "\xc3\x28", "OK" },
               *over[] = { "\xed\xa0\x80", "OK" }, *nullv[] = { NULL, "OK" };
    assert (pl_metrics_inc (m, "parley_requests_total", lv, 1) == -1);
    assert (pl_metrics_inc (m, "parley_requests_total", bad8, 1) == -1);
    assert (pl_metrics_inc (m, "parley_requests_total", over, 1) == -1);
    assert (pl_metrics_inc (m, "parley_requests_total", nullv, 1) == -1);
    assert (pl_metrics_inc (m, "parley_requests_total", NULL, 1) == -1);
    const char *utf[] = { "d\xc3\xa9j\xc3\xa0 \xf0\x9f\x8e\xb2", "OK" };
    assert (pl_metrics_inc (m, "parley_requests_total", utf, 1) == 0);
    pl_metrics_destroy (&m);
    assert (m == NULL);
    pl_metrics_destroy (&m);
}

static void
s_test_declare_refused (void)
{
    pl_metrics_t *m = pl_metrics_new (2);
    const double up[] = { 1, 2 }, down[] = { 2, 1 }, inf[] = { 1, INFINITY };
    const char *le[] = { "le", NULL }, *dunder[] = { "__x", NULL }, *twice[] = { "a", "a", NULL },
               *digit[] = { "1a", NULL }, *five[] = { "a", "b", "c", "d", "e", NULL };
    assert (pl_metrics_declare (m, "no_suffix", PL_METRICS_COUNTER, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "1bad_total", PL_METRICS_COUNTER, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "bad-name_total", PL_METRICS_COUNTER, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "", PL_METRICS_GAUGE, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, NULL, PL_METRICS_GAUGE, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "h", PL_METRICS_HISTOGRAM, "", le, up, 2) == -1);
    assert (pl_metrics_declare (m, "h", PL_METRICS_HISTOGRAM, "", NULL, down, 2) == -1);
    assert (pl_metrics_declare (m, "h", PL_METRICS_HISTOGRAM, "", NULL, inf, 2) == -1);
    assert (pl_metrics_declare (m, "h", PL_METRICS_HISTOGRAM, "", NULL, up, 0) == -1);
    assert (pl_metrics_declare (m, "g", PL_METRICS_GAUGE, "", dunder, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "g", PL_METRICS_GAUGE, "", twice, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "g", PL_METRICS_GAUGE, "", digit, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "g", PL_METRICS_GAUGE, "", five, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "g", PL_METRICS_GAUGE, "", NULL, NULL, 0) == 0);
    assert (pl_metrics_declare (m, "h", PL_METRICS_HISTOGRAM, "", NULL, up, 2) == 0);
    /* no family named like a histogram's own lines, either way round */
    assert (pl_metrics_declare (m, "h_count", PL_METRICS_GAUGE, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "h_sum", PL_METRICS_HISTOGRAM, "", NULL, up, 2) == -1);
    assert (pl_metrics_declare (m, "h_bucket", PL_METRICS_GAUGE, "", NULL, NULL, 0) == -1);
    assert (pl_metrics_declare (m, "k_count", PL_METRICS_GAUGE, "", NULL, NULL, 0) == 0);
    assert (pl_metrics_declare (m, "k", PL_METRICS_HISTOGRAM, "", NULL, up, 2) == -1);
    /* the family table is bounded */
    int made = 0;
    for (int i = 0; i < PL_METRICS_FAMILIES_MAX + 4; i++) {
        char name[32];
        snprintf (name, sizeof name, "g%d", i);
        made += pl_metrics_declare (m, name, PL_METRICS_GAUGE, "", NULL, NULL, 0) == 0;
    }
    assert (made == PL_METRICS_FAMILIES_MAX - 4);
    pl_metrics_destroy (&m);
}

static void
s_test_check_text (void)
{
    /* each must be refused by the checker: a checker that accepts all
     * would fail here */
    const char *bad[] = {
        "",                                                         /* fine: empty */
        "# TYPE a gauge\na 1",                                      /* no final \n */
        "a 1\n",                                                    /* no TYPE     */
        "# TYPE a gauge\n\na 1\n",                                  /* empty line  */
        "# TYPE a gauge\n# a comment\na 1\n",
        "# TYPE a gauge\nb 1\n",                                    /* other name  */
        "# TYPE a gauge\na{x=\"1\"} one\n",
        "# TYPE a gauge\na{x=\"1\\t\"} 1\n",                        /* bad escape  */
        "# TYPE a gauge\na{x=\"1} 1\n",
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",
        "# TYPE a gauge\na{1x=\"1\"} 1\n",
        "# TYPE a gauge\na  1\n",
        "# TYPE a gauge\na{le=\"1\"} 1\n",
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n",
        "# TYPE a_total counter\na_total -1\n",
        "# TYPE a counter\na 1\n",                                 /* no _total   */
        "# TYPE a summary\na 1\n",
        "# HELP a x\\y\n# TYPE a gauge\na 1\n",
        "# TYPE a gauge\n# HELP a late\na 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",      /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  /* count != Inf */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",           /* no _sum */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n",             /* no _count */
        "# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 1\nh_sum{a=\"2\"} 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket 1\n",
        "# TYPE h histogram\nh 1\n",
        /* a family named like a histogram's lines, after it or before it */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"
        "# TYPE h_count gauge\nh_count 2\n",
        "# TYPE h_bucket gauge\nh_bucket 2\n"
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    };
    const char *why = NULL;
    assert (pl_metrics_check_text (bad[0], &why) == 0);
    for (size_t i = 1; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        if (pl_metrics_check_text (bad[i], &why) == 0)
            fprintf (stderr, "pl_metrics: the checker accepted case %zu\n", i);
        assert (pl_metrics_check_text (bad[i], &why) == -1 && why);
    }
    const char *good =
        "# HELP h Latency.\n# TYPE h histogram\n"
        "h_bucket{a=\"1\",le=\"0.5\"} 0\nh_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 3\n"
        "h_count{a=\"1\"} 2\n"
        "h_bucket{a=\"2\",le=\"+Inf\"} 0\nh_sum{a=\"2\"} 0\nh_count{a=\"2\"} 0\n"
        "# TYPE g gauge\ng{v=\"q\\\"\\\\\\n\"} -1.5e-07\ng NaN\n";
    assert (pl_metrics_check_text (good, &why) == 0);

    /* every one-byte change of a good text, and long lines of many labels,
     * are read without overrunning anything (ASan), accepted or not */
    size_t len = strlen (good);
    char *copy = strdup (good);
    const char subst[] = { '"', '\\', '{', '}', ',', '=', ' ', '\n', 'x', '1' };
    for (size_t i = 0; copy && i < len; i++) {
        for (size_t k = 0; k < sizeof subst; k++) {
            copy[i] = subst[k];
            pl_metrics_check_text (copy, NULL);
        }
        copy[i] = good[i];
    }
    free (copy);
    char *wide = malloc (8192);
    assert (wide);
    for (size_t size = 3000; size < 6000; size += 999) {
        size_t used = (size_t) snprintf (wide, 8192, "# TYPE h histogram\nh_bucket{");
        for (int i = 0; used + 300 < size; i++)
            used += (size_t) snprintf (wide + used, 8192 - used, "a%d=\"%090d\",", i, 0);
        snprintf (wide + used, 8192 - used, "le=\"+Inf\"} 1\n");
        assert (pl_metrics_check_text (wide, &why) == -1);
    }
    free (wide);
}

static void
s_test_process (void)
{
    pl_metrics_t *m = pl_metrics_new (8);
    assert (pl_metrics_update_process (m) == 0);
    double fds = pl_metrics_value (m, "process_open_fds", NULL);
    assert (fds >= 1);
    assert (pl_metrics_value (m, "process_resident_memory_bytes", NULL) > 4096);
    assert (pl_metrics_value (m, "process_cpu_seconds_total", NULL) >= 0);
    FILE *extra = fopen ("/proc/self/stat", "r");
    assert (extra);
    assert (pl_metrics_update_process (m) == 0);
    assert (pl_metrics_value (m, "process_open_fds", NULL) == fds + 1);
    fclose (extra);
    /* burn a little CPU until the kernel's clock ticks over */
    volatile double spin = 0;
    double cpu0 = pl_metrics_value (m, "process_cpu_seconds_total", NULL);
    for (long i = 0; i < 400000000L
                     && pl_metrics_value (m, "process_cpu_seconds_total", NULL) == cpu0; i++) {
        spin += (double) i;
        if (i % 1000000 == 0)
            assert (pl_metrics_update_process (m) == 0);
    }
    assert (pl_metrics_value (m, "process_cpu_seconds_total", NULL) > cpu0);
    char *text = pl_metrics_render (m);
    const char *why = NULL;
    assert (text && pl_metrics_check_text (text, &why) == 0);
    assert (strstr (text, "# TYPE process_cpu_seconds_total counter\n"));
    assert (strstr (text, "# TYPE process_resident_memory_bytes gauge\n"));
    assert (strstr (text, "# TYPE process_open_fds gauge\n"));
    free (text);
    pl_metrics_destroy (&m);
}

static void
s_test_merge (void)
{
    pl_metrics_t *worker = pl_metrics_new (4);
    const char *labels[] = { "event", NULL };
    const double buckets[] = { 0.01, 0.1 };
    assert (pl_metrics_declare (worker, "parley_worker_requests_total", PL_METRICS_COUNTER,
                                "Requests.", labels, NULL, 0) == 0);
    assert (pl_metrics_declare (worker, "parley_worker_handler_seconds", PL_METRICS_HISTOGRAM,
                                "Handler time.", labels, buckets, 2) == 0);
    assert (pl_metrics_update_process (worker) == 0);
    const char *ev[] = { "actor:create" }, *odd[] = { "q\"\\\n" };
    assert (pl_metrics_inc (worker, "parley_worker_requests_total", ev, 5) == 0);
    assert (pl_metrics_inc (worker, "parley_worker_requests_total", odd, 1) == 0);
    assert (pl_metrics_observe (worker, "parley_worker_handler_seconds", ev, 0.05) == 0);
    assert (pl_metrics_observe (worker, "parley_worker_handler_seconds", ev, 1) == 0);
    char *snap = pl_metrics_snapshot_json (worker);
    assert (snap);

    pl_metrics_t *gw = pl_metrics_new (4);
    assert (pl_metrics_merge_json (gw, "actors-1", snap, strlen (snap)) == 0);
    assert (pl_metrics_merge_json (gw, "actors-2", snap, strlen (snap)) == 0);
    /* merging again replaces: snapshots are cumulative */
    assert (pl_metrics_merge_json (gw, "actors-1", snap, strlen (snap)) == 0);
    const char *p1[] = { "actors-1", "actor:create" }, *p2[] = { "actors-2", "q\"\\\n" };
    assert (pl_metrics_value (gw, "parley_worker_requests_total", p1) == 5);
    assert (pl_metrics_value (gw, "parley_worker_requests_total", p2) == 1);
    assert (pl_metrics_value (gw, "parley_worker_handler_seconds", p1) == 2);
    char *text = pl_metrics_render (gw);
    const char *why = NULL;
    assert (text && pl_metrics_check_text (text, &why) == 0);
    assert (strstr (text, "parley_worker_handler_seconds_bucket{process=\"actors-1\","
                          "event=\"actor:create\",le=\"0.1\"} 1\n"));
    assert (strstr (text, "parley_worker_handler_seconds_sum{process=\"actors-1\","
                          "event=\"actor:create\"} 1.05\n"));
    assert (strstr (text, "parley_worker_requests_total{process=\"actors-2\","
                          "event=\"q\\\"\\\\\\n\"} 1\n"));
    assert (strstr (text, "process_open_fds{process=\"actors-2\"} "));
    assert (!strstr (text, "parley_metrics_series_refused_total{"));

    /* hostile snapshots are refused whole: nothing changes */
    const char *hostile[] = {
        "",
        "[]",
        "{\"v\":2,\"f\":[]}",
        "{\"v\":1,\"f\":[{\"n\":\"x_total\",\"k\":\"counter\",\"h\":\"\",\"l\":[\"a\"],"
            "\"s\":[{\"l\":[\"id\\u0000tail\"],\"v\":1}]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"x_total\",\"k\":\"counter\",\"h\":\"\",\"l\":[],"
            "\"s\":[{\"l\":[],\"v\":-1}]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"x_total\",\"k\":\"summary\",\"h\":\"\",\"l\":[],\"s\":[]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"x\",\"k\":\"gauge\",\"h\":\"\",\"l\":[\"process\"],\"s\":[]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"x\",\"k\":\"gauge\",\"h\":\"\",\"l\":[],"
            "\"s\":[{\"l\":[\"extra\"],\"v\":1}]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"x\",\"k\":\"histogram\",\"h\":\"\",\"l\":[],\"b\":[1],"
            "\"s\":[{\"l\":[],\"c\":[1],\"s\":1}]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"x\",\"k\":\"gauge\",\"h\":\"\",\"l\":[\"a\"],"
            "\"s\":[{\"l\":[\"1\"],\"v\":1},{\"l\":[\"1\"],\"v\":2}]}]}",
        /* a good family first, then one over the series cap (4 - 1 free) */
        "{\"v\":1,\"f\":[{\"n\":\"fine\",\"k\":\"gauge\",\"h\":\"\",\"l\":[],"
            "\"s\":[{\"l\":[],\"v\":1}]},"
            "{\"n\":\"parley_worker_requests_total\",\"k\":\"counter\",\"h\":\"Requests.\","
            "\"l\":[\"event\"],\"s\":[{\"l\":[\"n1\"],\"v\":1},{\"l\":[\"n2\"],\"v\":1},"
            "{\"l\":[\"n3\"],\"v\":1}]}]}",
        /* a family whose shape differs from the one already merged */
        "{\"v\":1,\"f\":[{\"n\":\"parley_worker_requests_total\",\"k\":\"gauge\",\"h\":\"\","
            "\"l\":[\"event\"],\"s\":[]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"dup\",\"k\":\"gauge\",\"h\":\"\",\"l\":[],\"s\":[]},"
            "{\"n\":\"dup\",\"k\":\"gauge\",\"h\":\"\",\"l\":[],\"s\":[]}]}",
        /* a family named like a histogram's lines: merged, or in one snapshot */
        "{\"v\":1,\"f\":[{\"n\":\"parley_worker_handler_seconds_count\",\"k\":\"gauge\","
            "\"h\":\"\",\"l\":[],\"s\":[]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"h_sum\",\"k\":\"gauge\",\"h\":\"\",\"l\":[],\"s\":[]},"
            "{\"n\":\"h\",\"k\":\"histogram\",\"h\":\"\",\"l\":[],\"b\":[1],\"s\":[]}]}",
        "{\"v\":1,\"f\":[{\"n\":\"h\",\"k\":\"histogram\",\"h\":\"\",\"l\":[],\"b\":[1],"
            "\"s\":[]},{\"n\":\"h_bucket\",\"k\":\"gauge\",\"h\":\"\",\"l\":[],\"s\":[]}]}",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        if (pl_metrics_merge_json (gw, "evil", hostile[i], strlen (hostile[i])) == 0)
            fprintf (stderr, "pl_metrics: merged hostile snapshot %zu\n", i);
        assert (pl_metrics_merge_json (gw, "evil", hostile[i], strlen (hostile[i])) == -1);
    }
    char nul[] = "{\"v\":1,\"f\":[]}";
    assert (pl_metrics_merge_json (gw, "evil", nul, sizeof nul) == -1);    /* with its NUL */
    assert (pl_metrics_merge_json (gw, "evil", nul, strlen (nul)) == 0);
    assert (pl_metrics_merge_json (gw, "\xff", snap, strlen (snap)) == -1);
    char *after = pl_metrics_render (gw);
    assert (after && strcmp (text, after) == 0);
    free (after);
    free (text);
    free (snap);
    pl_metrics_destroy (&gw);
    pl_metrics_destroy (&worker);
}

/* Many label sets: the index finds each after it has grown many times,
 * and a large snapshot merges (linear work: a quadratic merge would take
 * minutes here, and ctest's timeout would fail it). */
static void
s_test_many (void)
{
    enum { N = 20000 };
    pl_metrics_t *m = pl_metrics_new (N);
    const char *labels[] = { "a", "b", NULL };
    assert (pl_metrics_declare (m, "many_total", PL_METRICS_COUNTER, "", labels, NULL, 0) == 0);
    char a[16], b[16];
    const char *values[] = { a, b };
    for (int i = 0; i < N; i++) {
        snprintf (a, sizeof a, "%d", i % 97);
        snprintf (b, sizeof b, "%d", i);
        assert (pl_metrics_inc (m, "many_total", values, (double) i) == 0);
    }
    for (int i = 0; i < N; i += 7) {
        snprintf (a, sizeof a, "%d", i % 97);
        snprintf (b, sizeof b, "%d", i);
        assert (pl_metrics_value (m, "many_total", values) == (double) i);
    }
    snprintf (b, sizeof b, "new");
    assert (pl_metrics_inc (m, "many_total", values, 1) == -1);
    char *snap = pl_metrics_snapshot_json (m);
    assert (snap && strlen (snap) > PL_METRICS_SNAPSHOT_MAX);
    pl_metrics_t *all = pl_metrics_new (N);
    assert (pl_metrics_merge_json (all, "w", snap, strlen (snap)) == -1);     /* too big */
    free (snap);
    /* as many as a snapshot under PL_METRICS_SNAPSHOT_MAX holds */
    pl_metrics_destroy (&m);
    m = pl_metrics_new (N);
    assert (pl_metrics_declare (m, "many_total", PL_METRICS_COUNTER, "", labels, NULL, 0) == 0);
    for (int i = 0; i < N / 4; i++) {
        snprintf (a, sizeof a, "%d", i % 97);
        snprintf (b, sizeof b, "%d", i);
        assert (pl_metrics_inc (m, "many_total", values, (double) i) == 0);
    }
    snap = pl_metrics_snapshot_json (m);
    assert (snap && strlen (snap) <= PL_METRICS_SNAPSHOT_MAX);
    assert (pl_metrics_merge_json (all, "w", snap, strlen (snap)) == 0);
    const char *back[] = { "w", "9", "4859" };
    assert (pl_metrics_value (all, "many_total", back) == 4859);
    char *text = pl_metrics_render (all);
    assert (text && pl_metrics_check_text (text, NULL) == 0);
    free (text);
    free (snap);
    pl_metrics_destroy (&all);
    pl_metrics_destroy (&m);
}

/* A bounded registry: the render never exceeds the bound's count, a
 * snapshot past it is refused whole and what is there stays. */
static void
s_test_bound (void)
{
    pl_metrics_t *w = pl_metrics_new (1000);
    const char *labels[] = { "a", "b", NULL };
    const double buckets[] = { 0.001, 0.5, 1e300 };
    assert (pl_metrics_declare (w, "h", PL_METRICS_HISTOGRAM, "H \\ \n.", labels, buckets, 3) == 0);
    assert (pl_metrics_declare (w, "g", PL_METRICS_GAUGE, "", labels, NULL, 0) == 0);
    char a[160], b[16];
    const char *values[] = { a, b };
    for (int i = 0; i < 200; i++) {
        memset (a, i % 2 ? '"' : 'x', 127);      /* escaped to twice its size */
        a[127] = 0;
        snprintf (b, sizeof b, "%d", i);
        assert (pl_metrics_observe (w, "h", values, -1.2345678901234567e-300 * i) == 0);
        assert (pl_metrics_set (w, "g", values, -1.2345678901234567e-300 * i) == 0);
    }
    char *snap = pl_metrics_snapshot_json (w);
    char *text = pl_metrics_render (w);
    size_t lines = 0, cost = pl_metrics_cost (w, &lines);
    assert (snap && text && strlen (text) <= cost);
    size_t nl = 0;
    for (const char *p = text; *p; p++)
        nl += *p == '\n';
    assert (nl <= lines && lines - nl <= 4);        /* lines: exact, but for HELP ones */
    free (text);

    /* a scrape registry bounded to twice one merged snapshot: two go in,
     * the third is refused whole, and the text is still whole */
    pl_metrics_t *m = pl_metrics_new (1000);
    assert (pl_metrics_merge_json (m, "p1", snap, strlen (snap)) == 0);
    size_t one = pl_metrics_cost (m, &lines);
    pl_metrics_bound (m, 3 * lines, one * 2 + one / 2);
    assert (pl_metrics_merge_json (m, "p2", snap, strlen (snap)) == 0);
    size_t before = pl_metrics_cost (m, NULL);
    assert (pl_metrics_merge_json (m, "p3", snap, strlen (snap)) == -1);
    assert (pl_metrics_cost (m, NULL) == before);
    assert (pl_metrics_merge_json (m, "p1", snap, strlen (snap)) == 0);   /* no new lines */
    const char *p3[] = { "p3", "x", "0" };
    assert (pl_metrics_value (m, "h", p3) == -1);
    text = pl_metrics_render (m);
    assert (text && strlen (text) <= pl_metrics_cost (m, NULL) && strlen (text) > 2 * (one / 3));
    assert (pl_metrics_check_text (text, NULL) == 0);
    free (text);
    /* the lines bound alone refuses too; a new family and a label set past it */
    pl_metrics_bound (m, pl_metrics_cost (m, &lines) ? lines : 0, (size_t) -1);
    assert (pl_metrics_merge_json (m, "p3", snap, strlen (snap)) == -1);
    assert (pl_metrics_declare (m, "late", PL_METRICS_GAUGE, "", NULL, NULL, 0) == -1);
    const char *p4[] = { "p4", "x", "0" };
    assert (pl_metrics_set (m, "g", p4, 1) == -1);
    assert (pl_metrics_value (m, "parley_metrics_series_refused_total", NULL) == 1);
    free (snap);
    pl_metrics_destroy (&m);
    pl_metrics_destroy (&w);
}

void
pl_metrics_test (bool verbose)
{
    if (verbose)
        printf (" * pl_metrics: ");
    s_test_render_exact ();
    s_test_declare_refused ();
    s_test_check_text ();
    s_test_process ();
    s_test_merge ();
    s_test_many ();
    s_test_bound ();
    if (verbose)
        printf ("OK\n");
}
