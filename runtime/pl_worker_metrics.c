/*  pl_worker_metrics - the worker's metrics, in the runtime, never in a
 *  handler (STYLE.md, rule 7): requests by event and result code, handler
 *  time by event, conflict retries by event, and (counted by pl_redis)
 *  Redis round trips, errors and reconnects, plus process_*. The names,
 *  labels and buckets are docs/experiments/i13-metrics.md's.
 *
 *  Labels come only from bounded sets: an event is an events.def name, or
 *  "unknown" for a name the table does not know (never the client's text);
 *  a code is "OK" or an errors.def code; a conflict retry of the periodic
 *  task or of a bus call is "task" or "bus". So a family holds at most
 *  events x codes series, under the registry's cap.
 *
 *  Cost per request: a few lookups in the registry (families by name,
 *  series by a hash of the labels), no allocation once a label set has
 *  been seen, and two reads of the monotonic clock.
 *
 *  The registry reaches the broker on a heartbeat every
 *  PARLEY_METRICS_PUSH_MS, as PL01 HB process snapshot (proto/README.md,
 *  "Metrics"). The heartbeat timer sends it whether or not the worker is
 *  busy: a plain HB is skipped while replies flow, this one is not, so a
 *  worker under load still shows up. An idle worker wakes for it no more
 *  often than that (the loop's next deadline includes it).
 *
 *  Everything here runs on the worker loop.
 */
#include "pl_worker_int.h"
#include "pl_config.h"
#include "pl_id.h"
#include "pl_log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_REQUESTS  "parley_worker_requests_total"
#define S_HANDLER   "parley_worker_handler_duration_seconds"
#define S_CONFLICTS "parley_worker_conflict_retries_total"
#define S_SERIES_MAX 1000           /* label sets per family               */
#define S_SERVICE_ROOM 128          /* "-<host>-<pid>", cut to fit            */

void
pl_worker__metrics_name (char *out, size_t size, const char *service, const char *host,
                         long pid)
{
    assert (size >= 32);
    char tail[S_SERVICE_ROOM];
    size_t room = size - 1;
    /* "-<host>-<pid>" leaves the service at least 8 bytes: the host is cut
     * to fit, never the pid */
    int pidlen = snprintf (tail, sizeof tail, "-%ld", pid);
    size_t hostmax = room - 8 - (size_t) pidlen - 1;
    size_t hostlen = strnlen (host, hostmax);
    snprintf (tail, sizeof tail, "-%.*s-%ld", (int) hostlen, host, pid);
    size_t taillen = strlen (tail);
    size_t servicelen = strnlen (service, room - taillen);
    snprintf (out, size, "%.*s%s", (int) servicelen, service, tail);
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
           || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
}

/* <service>-<hostname>-<pid> in at most 64 bytes of A-Z a-z 0-9 . _ -
 * (anything else becomes _). */
static void
s_process_name (pl_worker_t *self)
{
    char host[256] = "";
    if (gethostname (host, sizeof host - 1) != 0)
        snprintf (host, sizeof host, "localhost");
    pl_worker__metrics_name (self->metrics_name, sizeof self->metrics_name, self->service,
                             host, (long) getpid ());
}

int
pl_worker__metrics_open (pl_worker_t *self)
{
    static const char *const event_code[] = { "event", "code", NULL };
    static const char *const event[] = { "event", NULL };
    static const double lat[] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
    };
    int rc = -1;
    self->metrics = pl_metrics_new (S_SERIES_MAX);
    if (!self->metrics
    ||  pl_metrics_declare (self->metrics, S_REQUESTS, PL_METRICS_COUNTER,
                            "Requests answered by the worker, by event and result code.",
                            event_code, NULL, 0)
    ||  pl_metrics_declare (self->metrics, S_HANDLER, PL_METRICS_HISTOGRAM,
                            "Time from a request's start in the worker to its answer, by event "
                            "(its Redis round trips and conflict reruns included).",
                            event, lat, sizeof lat / sizeof lat[0])
    ||  pl_metrics_declare (self->metrics, S_CONFLICTS, PL_METRICS_COUNTER,
                            "Handler runs again after a lost compare-and-set (WATCH/EXEC or "
                            "pl_txn), by event.", event, NULL, 0)
    ||  (self->redis && pl_redis_set_metrics (self->redis, self->metrics)))
        goto cleanup;
    pl_metrics_update_process (self->metrics);      /* declares process_* */
    s_process_name (self);
    self->metrics_push_ms = pl_config_int (self->config, PL_CFG_METRICS_PUSH_MS);
    self->metrics_at = self->metrics_push_ms > 0 ? pl_id_mono_ms () + self->metrics_push_ms
                                                 : INT64_MAX;
    rc = 0;
cleanup:
    return rc;
}

void
pl_worker__metrics_close (pl_worker_t *self)
{
    if (self->redis)
        pl_redis_set_metrics (self->redis, NULL);
    pl_metrics_destroy (&self->metrics);
}

void
pl_worker__metrics_request (pl_worker_t *self, pl_worker__slot_t *slot)
{
    pl_call_t *call = &slot->call;
    if (self->metrics && slot->metric_event && call->reply) {
        const char *labels[] = {
            slot->metric_event,
            !call->failed ? "OK" : pl_proto_err_code (call->err ? call->err : PL_ERR_INTERNAL)
        };
        pl_metrics_inc (self->metrics, S_REQUESTS, labels, 1);
        if (slot->run_at > 0)       /* the family's one label: the event */
            pl_metrics_observe (self->metrics, S_HANDLER, labels,
                                pl_id_mono_s () - slot->run_at);
    }
}

void
pl_worker__metrics_conflict (pl_call_t *call)
{
    pl_worker_t *self = call->worker;
    if (self && self->metrics) {
        const char *labels[] = {
            call->bus ? "bus" : call->task ? "task" : pl_proto_event (call->event)->name
        };
        pl_metrics_inc (self->metrics, S_CONFLICTS, labels, 1);
    }
}

bool
pl_worker__metrics_push (pl_worker_t *self, int64_t now)
{
    bool sent = false;
    char *snapshot = NULL;
    if (now < self->metrics_at || !self->broker || self->ready_pending || !self->metrics)
        goto cleanup;
    self->metrics_at = now + self->metrics_push_ms;
    pl_metrics_update_process (self->metrics);
    snapshot = pl_metrics_snapshot_json (self->metrics);
    if (!snapshot)
        goto cleanup;
    pl_zmsg_part_t extra[] = {
        { self->metrics_name, strlen (self->metrics_name) },
        { snapshot, strlen (snapshot) },
    };
    sent = pl_worker__send_broker (self, extra, 2, PL_CMD_HEARTBEAT) == 0;
cleanup:
    free (snapshot);
    return sent;
}

pl_metrics_t *
pl_worker_metrics (pl_worker_t *self)
{
    assert (self);
    return self->metrics;
}
