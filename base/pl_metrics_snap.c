/*  pl_metrics snapshots: a registry as compact JSON (pl_metrics_snapshot_json)
 *  and another process's snapshot merged under a "process" label
 *  (pl_metrics_merge_json). Runs in the loop that owns the registry. */
#include "pl_metrics.h"
#include "pl_metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

char *
pl_metrics_snapshot_json (pl_metrics_t *self)
{
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    cJSON *families = root ? cJSON_AddArrayToObject (root, "f") : NULL;
    if (!families || !cJSON_AddNumberToObject (root, "v", 1))
        goto cleanup;
    for (size_t f = 0; f < self->nfamilies; f++) {
        const pl_metrics__family_t *fam = self->families[f];
        cJSON *jf = cJSON_CreateObject ();
        if (!jf || !cJSON_AddItemToArray (families, jf))
            goto cleanup;
        cJSON *labels = cJSON_AddArrayToObject (jf, "l");
        cJSON *series = cJSON_AddArrayToObject (jf, "s");
        if (!cJSON_AddStringToObject (jf, "n", fam->name)
            || !cJSON_AddStringToObject (jf, "k", pl_metrics__kinds[fam->kind])
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
            const pl_metrics__series_t *one = &fam->series[s];
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
                const char *values[PL_METRICS__LABELS_ALL])
{
    bool ok = cJSON_IsArray (jl) && (size_t) cJSON_GetArraySize (jl) + 1 == nlabels;
    values[0] = process;
    for (size_t i = 1; ok && i < nlabels; i++) {
        const cJSON *item = cJSON_GetArrayItem (jl, (int) i - 1);
        ok = cJSON_IsString (item) && pl_metrics__utf8_ok (item->valuestring, PL_METRICS_VALUE_MAX);
        values[i] = ok ? item->valuestring : NULL;
    }
    return ok;
}

/* Check one snapshot family (apply false: adding what it would add to
 * cost) or write it (apply true). */
static int
s_merge_family (pl_metrics_t *self, const char *process, const cJSON *jf, bool apply,
                size_t *new_families, pl_metrics__cost_t *cost)
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
        if (strcmp (jk->valuestring, pl_metrics__kinds[k]) == 0)
            kind = k;
    if (kind < 0)
        goto cleanup;
    const char *labels[PL_METRICS__LABELS_ALL] = { "process" };
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
    int fresh = pl_metrics__declare_check (self, jn->valuestring, (pl_metrics_kind_t) kind,
                                           jh->valuestring, nlabels, labels, buckets, nbuckets,
                                           PL_METRICS__LABELS_ALL);
    if (fresh < 0)
        goto cleanup;
    if (apply && fresh && pl_metrics__declare (self, jn->valuestring, (pl_metrics_kind_t) kind,
                                               jh->valuestring, nlabels, labels, buckets, nbuckets,
                                               PL_METRICS__LABELS_ALL) != 0)
        goto cleanup;
    *new_families += (size_t) fresh;
    if (fresh) {
        pl_metrics__cost_t more = pl_metrics__family_cost (jn->valuestring, jh->valuestring);
        cost->lines += more.lines;
        cost->bytes += more.bytes;
    }
    size_t names = 0;
    for (size_t i = 0; i < nlabels; i++)
        names += strlen (labels[i]);
    pl_metrics__family_t *fam = pl_metrics__family (self, jn->valuestring);
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
        const char *values[PL_METRICS__LABELS_ALL];
        if (!s_merge_values (cJSON_GetObjectItemCaseSensitive (one, "l"), nlabels, process,
                             values))
            goto cleanup;
        size_t at = (size_t) pl_metrics__hash (values, nlabels) & (nseen - 1);
        while (seen && seen[at]) {
            const char *other[PL_METRICS__LABELS_ALL];
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
        pl_metrics__series_t *series = fam ? pl_metrics__series (self, fam, values, apply) : NULL;
        if (!series && apply)
            goto cleanup;           /* cannot happen after the check pass */
        if (!series) {
            added++;
            pl_metrics__cost_t more = pl_metrics__series_cost (jn->valuestring,
                                                               (pl_metrics_kind_t) kind,
                                                               nbuckets, nlabels, names,
                                                               values);
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
    return cJSON_IsString (jn) && strcmp (jn->valuestring, PL_METRICS__REFUSED) == 0;
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
    if (!pl_metrics__utf8_ok (process, PL_METRICS_VALUE_MAX) || !json
        || len > PL_METRICS_SNAPSHOT_MAX
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
    pl_metrics__cost_t cost = { 0, 0 };
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
                && pl_metrics__names_clash (
                       cJSON_GetObjectItemCaseSensitive (other, "n")->valuestring,
                       s_merge_kind (other), name, s_merge_kind (jf)))
                goto cleanup;       /* a family twice, or one in another's lines */
        }
    }
    if (self->nfamilies + new_families > PL_METRICS_FAMILIES_MAX
        || !pl_metrics__within (self, cost))
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
