/*  pl_worker selftest, the metrics case: a live worker (pl_worker_test.c's
 *  fake broker and Redis) counts its requests, handler times and Redis
 *  rounds, and pushes its snapshot to the broker on an HB; and the metrics
 *  process name. Every wait is bounded.
 */
#include "pl_worker.h"
#include "pl_id.h"
#include "pl_metrics.h"
#include "pl_worker_int.h"
#include "pl_worker_test_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The metrics process name: at most 64 bytes, the pid always whole, the
 * service cut before the host. */
void
pl_worker__test_metrics_name (void)
{
    char pname[65];
    pl_worker__metrics_name (pname, sizeof pname, "actors", "h1", 4242);
    assert (strcmp (pname, "actors-h1-4242") == 0);
    pl_worker__metrics_name (pname, sizeof pname,
                             "svc_56_bytes_long_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "host",
                             4194304);
    assert (strcmp (pname, "svc_56_bytes_long_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-host-4194304") == 0);
    pl_worker__metrics_name (pname, sizeof pname, "a b",
                             "a-very-long-host-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                             7);
    assert (strcmp (pname, "a_b-a-very-long-host-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-7") == 0);
    char service[80];
    memset (service, 's', sizeof service - 1);
    service[sizeof service - 1] = 0;
    pl_worker__metrics_name (pname, sizeof pname, service, "h", 123456789);
    assert (strlen (pname) == 64 && strcmp (pname + 52, "-h-123456789") == 0);
}

/* A metric of the worker's registry, labels as in pl_metrics_value. */
static double
s_metric (pl_worker__fake_t *f, const char *name, const char *label1, const char *label2)
{
    const char *values[] = { label1, label2 };
    double value = pl_metrics_value (pl_worker_metrics (f->worker), name, values);
    return value < 0 ? 0 : value;
}

/* (s_test_live) After N requests the registry counts exactly N, by event
 * and code, with as many handler times and Redis round trips; an unknown
 * event is "unknown", never the client's text; the snapshot reaches the
 * broker on an HB every PARLEY_METRICS_PUSH_MS (200 here) while the
 * worker is kept busy (a plain HB is put off by every reply). */
void
pl_worker__test_metrics (pl_worker__fake_t *f)
{
    static const char *const calls[][3] = {     /* event, body, code */
        { "actor:delete", "\"batch:m\"", "OK" }, { "actor:update", "\"y\"", "NOT_FOUND" },
        { "nope:secret", "", "UNKNOWN_EVENT" },
    };
    static const int times[] = { 5, 3, 2 };
    static const char *const labels[] = { "actor:delete", "actor:update", "unknown" };
    const char *req = "parley_worker_requests_total";
    const char *handler = "parley_worker_handler_duration_seconds";
    const char *rtt = "parley_worker_redis_duration_seconds";
    double before[3], handled[3];
    for (int k = 0; k < 3; k++) {
        before[k] = s_metric (f, req, labels[k], calls[k][2]);
        handled[k] = s_metric (f, handler, labels[k], NULL);
    }
    double trips = s_metric (f, rtt, NULL, NULL);
    double retries = s_metric (f, "parley_worker_conflict_retries_total", "actor:delete", NULL);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < times[k]; i++) {
            cJSON *reply = pl_worker__fake_call (f, calls[k][0], PL_WORKER__TEST_CTX, calls[k][1]);
            assert (strcmp (pl_worker__fake_code (reply), k == 0 ? "" : calls[k][2]) == 0);
            cJSON_Delete (reply);
        }
    for (int k = 0; k < 3; k++) {
        assert (s_metric (f, req, labels[k], calls[k][2]) == before[k] + times[k]);
        assert (s_metric (f, handler, labels[k], NULL) == handled[k] + (k < 2 ? times[k] : 0));
    }
    assert (s_metric (f, req, "nope:secret", "UNKNOWN_EVENT") == 0);
    assert (s_metric (f, rtt, NULL, NULL) == trips + times[0]);     /* a batch: 1 trip */
    cJSON *reply = pl_worker__fake_call (f, "actor:delete", PL_WORKER__TEST_CTX,
                                         "\"cas:m\"");      /* 1 conflict */
    cJSON_Delete (reply);
    assert (s_metric (f, "parley_worker_conflict_retries_total", "actor:delete", NULL)
            == retries + 1);

    /* busy: requests back to back until a snapshot comes, at most 5 s */
    f->metrics_hbs = 0;
    int64_t deadline = pl_id_mono_ms () + 5000;
    while (f->metrics_hbs == 0 && pl_id_mono_ms () < deadline)
        cJSON_Delete (pl_worker__fake_call (f, "actor:list", PL_WORKER__TEST_CTX, ""));
    assert (f->metrics_hbs > 0 && f->snapshot);
    char prefix[32];
    snprintf (prefix, sizeof prefix, "-%ld", (long) getpid ());
    assert (strncmp (f->process, "actors-", 7) == 0);
    assert (strcmp (f->process + strlen (f->process) - strlen (prefix), prefix) == 0);
    pl_metrics_t *merged = pl_metrics_new (1000);
    assert (pl_metrics_merge_json (merged, f->process, f->snapshot, strlen (f->snapshot)) == 0);
    const char *values[] = { f->process, "actor:update", "NOT_FOUND" };
    assert (pl_metrics_value (merged, req, values) == before[1] + times[1]);
    pl_metrics_destroy (&merged);
    free (f->snapshot);
    f->snapshot = NULL;
}
