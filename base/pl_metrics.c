/*  pl_metrics - counters, gauges and histograms in the Prometheus text
 *  format. Not thread-safe: every call runs in the loop that owns it. */
#include "pl_metrics.h"
#include "pl_metrics_int.h"

#include <assert.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_NUM_MAX 24            /* bytes of a number: "%.17g" of a double   */

const char *const pl_metrics__kinds[3] = { "counter", "gauge", "histogram" };

/* ---------------------------------------------------------------- names */

bool
pl_metrics__name_ok (const char *name, bool metric)
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
bool
pl_metrics__utf8_ok (const char *text, size_t max)
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

pl_metrics__family_t *
pl_metrics__family (pl_metrics_t *self, const char *name)
{
    pl_metrics__family_t *found = NULL;
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
pl_metrics__cost_t
pl_metrics__family_cost (const char *name, const char *help)
{
    pl_metrics__cost_t cost = { 2, 2 * (7 + strlen (name) + 1) + s_escaped_len (help, false) + 1
                         + sizeof "histogram" };
    return cost;
}

/* The sample lines of one series: names holds the label names' bytes. */
pl_metrics__cost_t
pl_metrics__series_cost (const char *name, pl_metrics_kind_t kind, size_t nbuckets, size_t nlabels,
                         size_t names, const char *const *values)
{
    /* name_bucket{label="value",...,le="number"} number\n */
    size_t line = strlen (name) + sizeof "_bucket" + 2 + names + 1 + S_NUM_MAX + 1;
    for (size_t i = 0; i < nlabels; i++)
        line += 4 + s_escaped_len (values[i], true);
    if (kind == PL_METRICS_HISTOGRAM)
        line += sizeof ",le=\"\"" + S_NUM_MAX;
    size_t lines = kind == PL_METRICS_HISTOGRAM ? nbuckets + 3 : 1;
    pl_metrics__cost_t cost = { lines, lines * line };
    return cost;
}

/* True when cost more stays within the registry's bound. */
bool
pl_metrics__within (const pl_metrics_t *self, pl_metrics__cost_t more)
{
    return self->max.lines == 0
        || (self->cost.lines + more.lines <= self->max.lines
            && self->cost.bytes + more.bytes <= self->max.bytes);
}

/* True when a family a of kind ka and one b of kind kb would write a line
 * of the same name: a histogram h owns h_bucket, h_sum and h_count. */
bool
pl_metrics__names_clash (const char *a, pl_metrics_kind_t ka, const char *b, pl_metrics_kind_t kb)
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
        clash = pl_metrics__names_clash (self->families[i]->name, self->families[i]->kind,
                                         name, kind);
    return clash;
}

static void
s_series_free (pl_metrics__series_t *series)
{
    for (size_t i = 0; i < PL_METRICS__LABELS_ALL; i++)
        free (series->values[i]);
    free (series->counts);
}

/* FNV-1a over the values, each followed by 0xff (never in UTF-8). */
uint64_t
pl_metrics__hash (const char *const *values, size_t n)
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
s_index_put (pl_metrics__family_t *fam, size_t i)
{
    size_t mask = fam->nslots - 1;
    size_t at = (size_t) fam->series[i].hash & mask;
    while (fam->slots[at])
        at = (at + 1) & mask;
    fam->slots[at] = i + 1;
}

/* Room in the index for one more series; false when out of memory. */
static bool
s_index_room (pl_metrics__family_t *fam)
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
pl_metrics__series_t *
pl_metrics__series (pl_metrics_t *self, pl_metrics__family_t *fam, const char *const *values,
                    bool create)
{
    pl_metrics__series_t *found = NULL;
    bool valid = fam->nlabels == 0 || values;
    for (size_t j = 0; valid && j < fam->nlabels; j++)
        valid = pl_metrics__utf8_ok (values[j], PL_METRICS_VALUE_MAX);
    uint64_t hash = valid ? pl_metrics__hash (values, fam->nlabels) : 0;
    size_t mask = fam->nslots - 1;
    for (size_t at = (size_t) hash & mask; valid && !found && fam->nslots && fam->slots[at];
         at = (at + 1) & mask) {
        pl_metrics__series_t *one = &fam->series[fam->slots[at] - 1];
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
    pl_metrics__cost_t cost = pl_metrics__series_cost (fam->name, fam->kind, fam->nbuckets,
                                                       fam->nlabels, names, values);
    if (fam->nseries >= self->max_series || !pl_metrics__within (self, cost)) {
        pl_metrics__family_t *refused = pl_metrics__family (self, PL_METRICS__REFUSED);
        if (refused && refused != fam && refused->nseries == 1)
            refused->series[0].value += 1;
        goto cleanup;
    }
    if (fam->nseries == fam->cap) {
        size_t cap = fam->cap ? fam->cap * 2 : 4;
        if (cap > self->max_series)
            cap = self->max_series;
        pl_metrics__series_t *grown = realloc (fam->series, cap * sizeof *grown);
        if (!grown)
            goto cleanup;
        fam->series = grown;
        fam->cap = cap;
    }
    pl_metrics__series_t series = { .hash = hash };
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
s_same_shape (const pl_metrics__family_t *fam, pl_metrics_kind_t kind, size_t nlabels,
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
int
pl_metrics__declare_check (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
                           const char *help, size_t nlabels, const char *const *labels,
                           const double *buckets, size_t nbuckets, size_t max_labels)
{
    int rc = -1;
    if (!pl_metrics__name_ok (name, true) || (int) kind < 0 || kind > PL_METRICS_HISTOGRAM
        || !pl_metrics__utf8_ok (help ? help : "", PL_METRICS_HELP_MAX) || nlabels > max_labels)
        goto cleanup;
    if (kind == PL_METRICS_COUNTER) {
        size_t len = strlen (name);
        if (len < 6 || strcmp (name + len - 6, "_total") != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!pl_metrics__name_ok (labels[i], false) || strncmp (labels[i], "__", 2) == 0
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
    pl_metrics__family_t *fam = pl_metrics__family (self, name);
    if (fam)
        rc = s_same_shape (fam, kind, nlabels, NULL, labels, buckets, nbuckets) ? 0 : -1;
    else
        rc = self->nfamilies < PL_METRICS_FAMILIES_MAX && !s_clashes (self, name, kind) ? 1 : -1;
cleanup:
    return rc;
}

int
pl_metrics__declare (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind, const char *help,
                     size_t nlabels, const char *const *labels, const double *buckets,
                     size_t nbuckets, size_t max_labels)
{
    int rc = pl_metrics__declare_check (self, name, kind, help, nlabels, labels, buckets, nbuckets,
                                        max_labels);
    if (rc != 1)
        goto cleanup;
    rc = -1;
    pl_metrics__cost_t cost = pl_metrics__family_cost (name, help ? help : "");
    if (!pl_metrics__within (self, cost))
        goto cleanup;
    pl_metrics__family_t *fam = calloc (1, sizeof *fam);
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
    if (nlabels == 0 && !pl_metrics__series (self, fam, NULL, true))
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
    if (pl_metrics__declare (self, PL_METRICS__REFUSED, PL_METRICS_COUNTER,
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
    return pl_metrics__declare (self, name, kind, help, nlabels, labels, buckets, nbuckets,
                                PL_METRICS_LABELS_MAX);
}

/* ------------------------------------------------------------- samples */

static pl_metrics__series_t *
s_target (pl_metrics_t *self, const char *name, pl_metrics_kind_t kind,
          const char *const *values)
{
    pl_metrics__family_t *fam = pl_metrics__family (self, name);
    return fam && fam->kind == kind ? pl_metrics__series (self, fam, values, true) : NULL;
}

int
pl_metrics_inc (pl_metrics_t *self, const char *name, const char *const *values, double by)
{
    pl_metrics__series_t *series = isfinite (by) && by >= 0
                       ? s_target (self, name, PL_METRICS_COUNTER, values) : NULL;
    if (series)
        series->value += by;
    return series ? 0 : -1;
}

int
pl_metrics_set (pl_metrics_t *self, const char *name, const char *const *values, double value)
{
    pl_metrics__series_t *series = isfinite (value)
                                 ? s_target (self, name, PL_METRICS_GAUGE, values) : NULL;
    if (series)
        series->value = value;
    return series ? 0 : -1;
}

int
pl_metrics_add (pl_metrics_t *self, const char *name, const char *const *values, double by)
{
    pl_metrics__series_t *series = isfinite (by)
                                 ? s_target (self, name, PL_METRICS_GAUGE, values) : NULL;
    if (series)
        series->value += by;
    return series ? 0 : -1;
}

int
pl_metrics_observe (pl_metrics_t *self, const char *name, const char *const *values,
                    double value)
{
    pl_metrics__series_t *series = isfinite (value)
                       ? s_target (self, name, PL_METRICS_HISTOGRAM, values) : NULL;
    if (series) {
        pl_metrics__family_t *fam = pl_metrics__family (self, name);
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
    pl_metrics__family_t *fam = pl_metrics__family (self, name);
    pl_metrics__series_t *series = fam ? pl_metrics__series (self, fam, values, false) : NULL;
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
    pl_metrics__family_t *fam = pl_metrics__family (self, "process_cpu_seconds_total");
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
s_labels (FILE *out, const pl_metrics__family_t *fam, const pl_metrics__series_t *series,
          const char *le)
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
        const pl_metrics__family_t *fam = self->families[f];
        fprintf (out, "# HELP %s ", fam->name);
        s_escape (out, fam->help, false);
        fprintf (out, "\n# TYPE %s %s\n", fam->name, pl_metrics__kinds[fam->kind]);
        for (size_t s = 0; s < fam->nseries; s++) {
            const pl_metrics__series_t *series = &fam->series[s];
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
