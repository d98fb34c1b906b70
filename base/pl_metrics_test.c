/*  pl_metrics selftest: exact rendering, refused declarations, the text
 *  checker, process metrics, snapshot merge and the registry's bounds. */
#include "pl_metrics.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
