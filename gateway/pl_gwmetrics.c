/*  pl_gwmetrics - the gateway's own metrics, and a scrape's registry
 *  (gateway loop only). */
#include "pl_gwmetrics.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONNS         "parley_gateway_connections"
#define S_CONNS_TOTAL   "parley_gateway_connections_total"
#define S_UPGRADES      "parley_gateway_upgrades_total"
#define S_REFUSED       "parley_gateway_connects_refused_total"
#define S_EVENTS_IN     "parley_gateway_events_in_total"
#define S_EVENTS_OUT    "parley_gateway_events_out_total"
#define S_REQUESTS      "parley_gateway_requests_total"
#define S_REQ_SECONDS   "parley_gateway_request_duration_seconds"
#define S_DELIVERY      "parley_gateway_delivery_seconds"
#define S_ROOMS         "parley_gateway_rooms"
#define S_DROPS         "parley_gateway_send_queue_drops_total"
#define S_SLOW          "parley_gateway_slow_consumer_disconnects_total"
#define S_REC_TRIES     "parley_gateway_recovery_attempts_total"
#define S_REC_OK        "parley_gateway_recovery_successes_total"
#define S_REMOTE_UP     "parley_gateway_metrics_remote_up"
#define S_SNAP_REFUSED  "parley_gateway_metrics_snapshots_refused_total"

/* docs/experiments/i13-metrics.md, "LAT" */
static const double s_lat[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

static const char *const s_transports[] = { "websocket", "polling" };
static const char *const s_reasons[PL_GWM_REFUSED_COUNT] = {
    "namespace", "session_cap", "server_error"
};

struct _pl_gwmetrics_t {
    pl_metrics_t *reg;              /* the gateway's own families              */
};

typedef struct {
    const char *name;
    pl_metrics_kind_t kind;
    const char *help;
    const char *labels[3];          /* NULL-terminated                         */
    bool lat;                       /* a histogram with the LAT buckets        */
} s_decl_t;

static const s_decl_t s_decls[] = {
    { S_CONNS, PL_METRICS_GAUGE, "Engine.IO connections open now (WebSocket or polling).",
      { NULL }, false },
    { S_CONNS_TOTAL, PL_METRICS_COUNTER, "Sessions opened, by the transport they opened on.",
      { "transport", NULL }, false },
    { S_UPGRADES, PL_METRICS_COUNTER, "Polling sessions upgraded to a WebSocket.", { NULL }, false },
    { S_REFUSED, PL_METRICS_COUNTER, "Connects refused, by reason.", { "reason", NULL }, false },
    { S_EVENTS_IN, PL_METRICS_COUNTER, "Client EVENT packets received, by event.",
      { "event", NULL }, false },
    { S_EVENTS_OUT, PL_METRICS_COUNTER, "Packets sent to clients: acks and room events (push).",
      { "kind", NULL }, false },
    { S_REQUESTS, PL_METRICS_COUNTER, "Requests answered, one per ack, by event and result code.",
      { "event", "code", NULL }, false },
    { S_REQ_SECONDS, PL_METRICS_HISTOGRAM,
      "Seconds from the gateway's receipt of a request to its ack queued.",
      { "event", NULL }, true },
    { S_DELIVERY, PL_METRICS_HISTOGRAM,
      "Seconds from a worker's publish of a room event to its write to a member "
      "(wall clocks: host clock skew shows here; negative counts as 0).",
      { NULL }, true },
    { S_ROOMS, PL_METRICS_GAUGE, "Rooms with members on this gateway.", { NULL }, false },
    { S_DROPS, PL_METRICS_COUNTER, "Frames not delivered because a send queue was full.",
      { NULL }, false },
    { S_SLOW, PL_METRICS_COUNTER, "Connections closed for a full send queue.", { NULL }, false },
    { S_REC_TRIES, PL_METRICS_COUNTER, "Connection-state recoveries asked for.", { NULL }, false },
    { S_REC_OK, PL_METRICS_COUNTER, "Connection-state recoveries that succeeded.", { NULL }, false },
    { S_REMOTE_UP, PL_METRICS_GAUGE, "1 when the broker answered the last METRICS in time.",
      { NULL }, false },
    { S_SNAP_REFUSED, PL_METRICS_COUNTER,
      "Remote snapshots refused by a scrape's merge (invalid, or past the page's bound).",
      { NULL }, false },
};

pl_gwmetrics_t *
pl_gwmetrics_new (void)
{
    pl_gwmetrics_t *self = calloc (1, sizeof *self);
    if (!self || !(self->reg = pl_metrics_new (PL_GWMETRICS_OWN_SERIES)))
        goto fail;
    for (size_t i = 0; i < sizeof s_decls / sizeof s_decls[0]; i++) {
        const s_decl_t *d = &s_decls[i];
        if (pl_metrics_declare (self->reg, d->name, d->kind, d->help,
                                d->labels[0] ? d->labels : NULL,
                                d->lat ? s_lat : NULL, d->lat ? sizeof s_lat / sizeof s_lat[0] : 0))
            goto fail;
    }
    goto cleanup;
fail:
    pl_gwmetrics_destroy (&self);
cleanup:
    return self;
}

void
pl_gwmetrics_destroy (pl_gwmetrics_t **self_p)
{
    assert (self_p);
    pl_gwmetrics_t *self = *self_p;
    if (self) {
        pl_metrics_destroy (&self->reg);
        free (self);
        *self_p = NULL;
    }
}

/* The label value of an event id (-1 or out of range: "unknown"). */
static const char *
s_event (int ev)
{
    return ev >= 0 && ev < PL_EV_COUNT ? pl_proto_event ((pl_event_id_t) ev)->name : "unknown";
}

static const char *
s_code (pl_err_t err)
{
    return err == PL_ERR_NONE ? "OK" : pl_proto_err_code (err);
}

void
pl_gwmetrics_opened (pl_gwmetrics_t *self, pl_gwmetrics_transport_t transport)
{
    const char *values[] = { s_transports[transport == PL_GWM_POLLING] };
    pl_metrics_inc (self->reg, S_CONNS_TOTAL, values, 1);
}

void
pl_gwmetrics_gauges (pl_gwmetrics_t *self, size_t connections, size_t rooms)
{
    pl_metrics_set (self->reg, S_CONNS, NULL, (double) connections);
    pl_metrics_set (self->reg, S_ROOMS, NULL, (double) rooms);
}

void
pl_gwmetrics_upgraded (pl_gwmetrics_t *self)
{
    pl_metrics_inc (self->reg, S_UPGRADES, NULL, 1);
}

void
pl_gwmetrics_refused (pl_gwmetrics_t *self, pl_err_t err, pl_gwmetrics_reason_t reason)
{
    assert (err != PL_ERR_NONE || reason < PL_GWM_REFUSED_COUNT);
    const char *values[] = { err != PL_ERR_NONE ? pl_proto_err_code (err) : s_reasons[reason] };
    pl_metrics_inc (self->reg, S_REFUSED, values, 1);
}

void
pl_gwmetrics_event_in (pl_gwmetrics_t *self, int ev)
{
    const char *values[] = { s_event (ev) };
    pl_metrics_inc (self->reg, S_EVENTS_IN, values, 1);
}

void
pl_gwmetrics_request (pl_gwmetrics_t *self, int ev, pl_err_t err, double seconds)
{
    const char *values[] = { s_event (ev), s_code (err) };
    const char *ack[] = { "ack" };
    pl_metrics_inc (self->reg, S_REQUESTS, values, 1);
    pl_metrics_observe (self->reg, S_REQ_SECONDS, values, seconds < 0 ? 0 : seconds);
    pl_metrics_inc (self->reg, S_EVENTS_OUT, ack, 1);
}

void
pl_gwmetrics_pushed (pl_gwmetrics_t *self, size_t count)
{
    const char *push[] = { "push" };
    if (count)
        pl_metrics_inc (self->reg, S_EVENTS_OUT, push, (double) count);
}

void
pl_gwmetrics_delivery (pl_gwmetrics_t *self, double seconds)
{
    pl_metrics_observe (self->reg, S_DELIVERY, NULL, seconds < 0 ? 0 : seconds);
}

void
pl_gwmetrics_slow (pl_gwmetrics_t *self, size_t dropped)
{
    pl_metrics_inc (self->reg, S_SLOW, NULL, 1);
    pl_metrics_inc (self->reg, S_DROPS, NULL, (double) dropped);
}

void
pl_gwmetrics_recovery (pl_gwmetrics_t *self, bool success)
{
    pl_metrics_inc (self->reg, success ? S_REC_OK : S_REC_TRIES, NULL, 1);
}

void
pl_gwmetrics_remote (pl_gwmetrics_t *self, bool up, size_t refused)
{
    pl_metrics_set (self->reg, S_REMOTE_UP, NULL, up ? 1 : 0);
    if (refused)
        pl_metrics_inc (self->reg, S_SNAP_REFUSED, NULL, (double) refused);
}

pl_err_t
pl_gwmetrics_reply_code (const char *reply, size_t len)
{
    static const char ok[] = "{\"success\":true";
    static const char key[] = "\"code\":\"";
    pl_err_t err = PL_ERR_INTERNAL;
    char code[40];
    if (len >= sizeof ok - 1 && memcmp (reply, ok, sizeof ok - 1) == 0) {
        err = PL_ERR_NONE;
        goto cleanup;
    }
    /* {"success":false,"error":{"code":"NOT_FOUND",...}}: the code comes
     * early (pl_proto_reply_err_with); look no further than 128 bytes */
    size_t end = len < 128 ? len : 128;
    for (size_t i = 0; i + sizeof key - 1 <= end; i++) {
        if (memcmp (reply + i, key, sizeof key - 1) != 0)
            continue;
        size_t from = i + sizeof key - 1, n = 0;
        while (from + n < len && n < sizeof code - 1 && reply[from + n] != '"'
               && reply[from + n] != 0)
            n++;
        if (from + n < len && reply[from + n] == '"') {
            memcpy (code, reply + from, n);
            code[n] = 0;
            err = pl_proto_err_parse (code);
        }
        break;
    }
cleanup:
    return err;
}

pl_metrics_t *
pl_gwmetrics_registry (pl_gwmetrics_t *self)
{
    return self->reg;
}

/* Merge the own registry's snapshot into scrape under process. */
static int
s_merge_own (pl_gwmetrics_t *self, pl_metrics_t *scrape, const char *process)
{
    char *own = pl_metrics_snapshot_json (self->reg);
    int rc = own ? pl_metrics_merge_json (scrape, process, own, strlen (own)) : -1;
    free (own);
    return rc;
}

char *
pl_gwmetrics_scrape (pl_gwmetrics_t *self, const char *gateway_id,
                     const char *const *names, const char *const *jsons,
                     const size_t *lens, size_t n, size_t *refused)
{
    char *text = NULL;
    char process[PL_METRICS_VALUE_MAX];
    size_t bad = 0;
    pl_metrics_t *scrape = pl_metrics_new (PL_GWMETRICS_SCRAPE_SERIES);
    snprintf (process, sizeof process, "gateway-%s", gateway_id);
    pl_metrics_update_process (self->reg);
    if (!scrape || s_merge_own (self, scrape, process) != 0)
        goto cleanup;
    /* a merge leaves out the own registry's refusals (they would clash with
     * the scrape registry's, which counts this merge's): added to those */
    double own_refused = pl_metrics_value (self->reg, "parley_metrics_series_refused_total", NULL);
    if (own_refused > 0)
        pl_metrics_inc (scrape, "parley_metrics_series_refused_total", NULL, own_refused);
    /* bounded from here: the own snapshot is always served */
    pl_metrics_bound (scrape, PL_GWMETRICS_PAGE_LINES, PL_GWMETRICS_PAGE_MAX);
    for (size_t i = 0; i < n; i++)
        if (strcmp (names[i], process) == 0         /* it would overwrite ours */
        ||  pl_metrics_merge_json (scrape, names[i], jsons[i], lens[i]) != 0)
            bad++;
    if (bad) {
        /* counted now, so this very scrape shows it: the own snapshot again
         * (a merged series replaces the one with the same labels) */
        pl_metrics_inc (self->reg, S_SNAP_REFUSED, NULL, (double) bad);
        if (s_merge_own (self, scrape, process) != 0)
            goto cleanup;
    }
    text = pl_metrics_render (scrape);
cleanup:
    if (refused)
        *refused = bad;
    pl_metrics_destroy (&scrape);
    return text;
}

/* ---- selftest ----------------------------------------------------------- */

/* 64 remote snapshots of histograms with long labels, each within the
 * broker's 256 KB, would render to hundreds of MB (the labels repeat on
 * every bucket line): the page stays within PL_GWMETRICS_PAGE_MAX, the
 * gateway's own families are all there, the rest is counted refused. */
static void
s_test_bounded (pl_gwmetrics_t *m)
{
    enum { N = 64 };
    pl_metrics_t *worker = pl_metrics_new (PL_GWMETRICS_SCRAPE_SERIES);
    const char *labels[] = { "a", "b", "c", "d", NULL };
    double buckets[PL_METRICS_BUCKETS_MAX];
    for (int i = 0; i < PL_METRICS_BUCKETS_MAX; i++)
        buckets[i] = i + 1;
    assert (pl_metrics_declare (worker, "h", PL_METRICS_HISTOGRAM, "x", labels, buckets,
                                PL_METRICS_BUCKETS_MAX) == 0);
    char v[PL_METRICS_VALUE_MAX + 1];
    const char *values[] = { v, v, v, v };
    char *snap = NULL;
    for (int i = 0; ; i++) {
        snprintf (v, sizeof v, "%0*d", PL_METRICS_VALUE_MAX, i);
        assert (pl_metrics_observe (worker, "h", values, 1) == 0);
        char *next = pl_metrics_snapshot_json (worker);
        assert (next);
        if (strlen (next) > PL_METRICS_SNAPSHOT_MAX) {
            free (next);
            break;
        }
        free (snap);
        snap = next;
    }
    const char *names[N], *jsons[N];
    size_t lens[N];
    char name_buf[N][16];
    for (int i = 0; i < N; i++) {
        snprintf (name_buf[i], sizeof name_buf[i], "w%d", i);
        names[i] = name_buf[i];
        jsons[i] = snap;
        lens[i] = strlen (snap);
    }
    size_t refused = 0;
    double before = pl_metrics_value (pl_gwmetrics_registry (m), S_SNAP_REFUSED, NULL);
    char *text = pl_gwmetrics_scrape (m, "g1", names, jsons, lens, N, &refused);
    assert (text && strlen (text) <= PL_GWMETRICS_PAGE_MAX);
    assert (refused > 0 && refused < N);
    assert (pl_metrics_value (pl_gwmetrics_registry (m), S_SNAP_REFUSED, NULL)
            == before + (double) refused);
    assert (pl_metrics_check_text (text, NULL) == 0);
    assert (strstr (text, "parley_gateway_connections{process=\"gateway-g1\"} "));
    assert (strstr (text, "process_open_fds{process=\"gateway-g1\"} "));
    assert (strstr (text, "h_count{process=\"w0\","));
    char last[32];
    snprintf (last, sizeof last, "{process=\"w%d\",", N - 1);
    assert (!strstr (text, last));
    free (text);
    free (snap);
    pl_metrics_destroy (&worker);
}

void
pl_gwmetrics_test (bool verbose)
{
    if (verbose)
        printf (" * pl_gwmetrics: ");
    pl_gwmetrics_t *m = pl_gwmetrics_new ();
    assert (m);
    pl_metrics_t *reg = pl_gwmetrics_registry (m);
    pl_gwmetrics_opened (m, PL_GWM_WEBSOCKET);
    pl_gwmetrics_opened (m, PL_GWM_POLLING);
    pl_gwmetrics_opened (m, PL_GWM_POLLING);
    pl_gwmetrics_gauges (m, 2, 7);
    pl_gwmetrics_upgraded (m);
    pl_gwmetrics_refused (m, PL_ERR_UNAUTHORIZED, 0);
    pl_gwmetrics_refused (m, PL_ERR_NONE, PL_GWM_REFUSED_NAMESPACE);
    pl_gwmetrics_event_in (m, PL_EV_COUNT);             /* out of range: unknown */
    pl_gwmetrics_event_in (m, -1);
    pl_gwmetrics_event_in (m, 0);
    pl_gwmetrics_request (m, 0, PL_ERR_NONE, 0.002);
    pl_gwmetrics_request (m, 0, PL_ERR_NOT_FOUND, 0.2);
    pl_gwmetrics_request (m, -1, PL_ERR_UNKNOWN_EVENT, -1);     /* clock: clamped */
    pl_gwmetrics_pushed (m, 3);
    pl_gwmetrics_pushed (m, 0);
    pl_gwmetrics_delivery (m, 0.0001);
    pl_gwmetrics_slow (m, 5);
    pl_gwmetrics_recovery (m, false);
    pl_gwmetrics_recovery (m, true);
    pl_gwmetrics_remote (m, true, 0);
    const char *ws[] = { "websocket" }, *poll[] = { "polling" };
    assert (pl_metrics_value (reg, S_CONNS, NULL) == 2);
    assert (pl_metrics_value (reg, S_CONNS_TOTAL, ws) == 1);
    assert (pl_metrics_value (reg, S_CONNS_TOTAL, poll) == 2);
    const char *unauth[] = { "UNAUTHORIZED" }, *nsp[] = { "namespace" };
    assert (pl_metrics_value (reg, S_REFUSED, unauth) == 1);
    assert (pl_metrics_value (reg, S_REFUSED, nsp) == 1);
    const char *unknown[] = { "unknown" }, *first[] = { pl_proto_event (0)->name };
    assert (pl_metrics_value (reg, S_EVENTS_IN, unknown) == 2);
    assert (pl_metrics_value (reg, S_EVENTS_IN, first) == 1);
    const char *ok[] = { first[0], "OK" }, *nf[] = { first[0], "NOT_FOUND" };
    const char *ue[] = { "unknown", "UNKNOWN_EVENT" };
    assert (pl_metrics_value (reg, S_REQUESTS, ok) == 1);
    assert (pl_metrics_value (reg, S_REQUESTS, nf) == 1);
    assert (pl_metrics_value (reg, S_REQUESTS, ue) == 1);
    assert (pl_metrics_value (reg, S_REQ_SECONDS, first) == 2);
    assert (pl_metrics_value (reg, S_REQ_SECONDS, unknown) == 1);
    const char *ack[] = { "ack" }, *push[] = { "push" };
    assert (pl_metrics_value (reg, S_EVENTS_OUT, ack) == 3);
    assert (pl_metrics_value (reg, S_EVENTS_OUT, push) == 3);
    assert (pl_metrics_value (reg, S_DELIVERY, NULL) == 1);
    assert (pl_metrics_value (reg, S_ROOMS, NULL) == 7);
    assert (pl_metrics_value (reg, S_DROPS, NULL) == 5);
    assert (pl_metrics_value (reg, S_SLOW, NULL) == 1);
    assert (pl_metrics_value (reg, S_REC_TRIES, NULL) == 1);
    assert (pl_metrics_value (reg, S_REC_OK, NULL) == 1);
    assert (pl_metrics_value (reg, S_REMOTE_UP, NULL) == 1);

    /* reply codes: no parse, bounded, unknown codes are INTERNAL */
    const char *r = "{\"success\":true,\"data\":{}}";
    assert (pl_gwmetrics_reply_code (r, strlen (r)) == PL_ERR_NONE);
    char *err = pl_proto_reply_err (PL_ERR_NOT_FOUND, "no such actor");
    assert (pl_gwmetrics_reply_code (err, strlen (err)) == PL_ERR_NOT_FOUND);
    assert (pl_gwmetrics_reply_code (err, 30) == PL_ERR_INTERNAL);     /* cut short */
    free (err);
    r = "{\"success\":false,\"error\":{\"code\":\"NOPE\"}}";
    assert (pl_gwmetrics_reply_code (r, strlen (r)) == PL_ERR_INTERNAL);
    static const char nul[] = "{\"success\":false,\"error\":{\"code\":\"NOT_FOUND\0\"}}";
    assert (pl_gwmetrics_reply_code (nul, sizeof nul - 1) == PL_ERR_INTERNAL);    /* a NUL */
    assert (pl_gwmetrics_reply_code ("", 0) == PL_ERR_INTERNAL);
    assert (pl_gwmetrics_reply_code ("{\"success\":tru", 14) == PL_ERR_INTERNAL);

    /* a scrape: own under gateway-<id>, remotes under their names, a bad
     * one refused and counted in the same scrape; the text is strict */
    pl_metrics_t *worker = pl_metrics_new (10);
    const char *labels[] = { "event", "code", NULL };
    pl_metrics_declare (worker, "parley_worker_requests_total", PL_METRICS_COUNTER, "Requests.",
                        labels, NULL, 0);
    pl_metrics_inc (worker, "parley_worker_requests_total", ok, 4);
    char *snap = pl_metrics_snapshot_json (worker);
    assert (snap);
    const char *names[] = { "broker", "actors-w1", "gateway-g1" };
    const char *jsons[] = { "{\"v\":1,\"f\":[{\"n\":\"bad name\"}]}", snap, snap };
    size_t lens[] = { strlen (jsons[0]), strlen (snap), strlen (snap) };
    size_t refused = 9;
    char *text = pl_gwmetrics_scrape (m, "g1", names, jsons, lens, 3, &refused);
    assert (text && refused == 2);
    const char *why = NULL;
    if (pl_metrics_check_text (text, &why) != 0)
        fprintf (stderr, "check: %s\n%s", why, text);
    assert (pl_metrics_check_text (text, &why) == 0);
    assert (strstr (text, "parley_gateway_connections{process=\"gateway-g1\"} 2\n"));
    assert (strstr (text, "parley_gateway_metrics_snapshots_refused_total{process=\"gateway-g1\"} 2\n"));
    assert (strstr (text, "parley_worker_requests_total{process=\"actors-w1\",event=\""));
    assert (strstr (text, "process_open_fds{process=\"gateway-g1\"}"));
    assert (strstr (text, "parley_gateway_request_duration_seconds_count{process=\"gateway-g1\","));
    assert (!strstr (text, "process=\"broker\""));
    assert (!strstr (text, "parley_worker_requests_total{process=\"gateway-g1\""));
    free (text);
    /* local only */
    text = pl_gwmetrics_scrape (m, "g1", NULL, NULL, NULL, 0, &refused);
    assert (text && refused == 0 && !strstr (text, "actors-w1"));
    assert (pl_metrics_check_text (text, NULL) == 0);
    free (text);
    free (snap);
    pl_metrics_destroy (&worker);

    s_test_bounded (m);
    pl_gwmetrics_destroy (&m);
    pl_gwmetrics_destroy (&m);
    assert (m == NULL);
    if (verbose)
        printf ("OK\n");
}
