/*  pl_metrics text checker (pl_metrics_check_text): reads Prometheus text
 *  exposition as a scraper would and says why it is not valid. Pure: no
 *  registry, no I/O. */
#include "pl_metrics.h"
#include "pl_metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (*q != '=' || !pl_metrics__name_ok (name, false) || q[1] != '"') {
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
    if (!pl_metrics__name_ok (name, true)) {
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
        if (!pl_metrics__name_ok (name, true) || *q != ' ') {
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
                if (pl_metrics__names_clash (seen[i], seen_kind[i], name, kind))
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
