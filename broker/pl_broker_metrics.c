/*  pl_broker_metrics - the broker's metrics, and the workers' on their way
 *  to a gateway (proto/README.md, "Metrics"; the design and the names:
 *  docs/experiments/i13-metrics.md). Runs on the broker's loop, like all
 *  of pl_broker.
 *
 *  The broker's own counters cost the hot path one integer increment on
 *  the service (pl_broker_dispatch.c): nothing is looked up, hashed or
 *  allocated per request. They reach the registry only when a gateway
 *  asks (METRICS), as the difference since the last time, with the gauges
 *  (queue depth, live workers) read from the services at that moment. So
 *  an idle broker does no metrics work at all, and a scrape costs one pass
 *  over the services (at most PL_BROKER_SERVICES_MAX, the registry's cap
 *  per family too, so every service has room).
 *
 *  A worker's snapshot arrives on its heartbeat and is kept as raw bytes,
 *  the latest only, never parsed here: the gateway merges it as untrusted
 *  input. Bounded twice: 256 KB per snapshot and 64 MB for all of them,
 *  which also bounds the METRICS answer (plus the broker's own snapshot and
 *  one name per worker). Past either bound the snapshot is dropped, with a
 *  rate-limited warning from the caller, and the worker's previous one
 *  with it: a scrape shows nothing rather than a stale worker.
 */
#include "pl_broker_int.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_QUEUE       "parley_broker_queue_depth"
#define S_WORKERS     "parley_broker_workers"
#define S_REQUESTS    "parley_broker_requests_total"
#define S_TIMEOUTS    "parley_broker_timeouts_total"
#define S_UNAVAILABLE "parley_broker_unavailable_total"

pl_metrics_t *
pl_broker__metrics_new (void)
{
    static const char *const service[] = { "service", NULL };
    pl_metrics_t *metrics = pl_metrics_new (PL_BROKER_SERVICES_MAX);
    if (!metrics)
        goto cleanup;
    if (pl_metrics_declare (metrics, S_QUEUE, PL_METRICS_GAUGE,
                            "Requests waiting in the service's queue for a worker.",
                            service, NULL, 0)
    ||  pl_metrics_declare (metrics, S_WORKERS, PL_METRICS_GAUGE,
                            "Live workers registered for the service.", service, NULL, 0)
    ||  pl_metrics_declare (metrics, S_REQUESTS, PL_METRICS_COUNTER,
                            "Requests received for the service.", service, NULL, 0)
    ||  pl_metrics_declare (metrics, S_TIMEOUTS, PL_METRICS_COUNTER,
                            "Requests answered TIMEOUT because the worker holding them was lost.",
                            service, NULL, 0)
    ||  pl_metrics_declare (metrics, S_UNAVAILABLE, PL_METRICS_COUNTER,
                            "Requests answered SERVICE_UNAVAILABLE (queue full, or no worker in time).",
                            service, NULL, 0))
        pl_metrics_destroy (&metrics);
cleanup:
    return metrics;
}

/* A process name: 1..64 bytes of A-Z a-z 0-9 . _ - (it becomes a label
 * value at the gateway, and a log field here), neither "broker" nor
 * "gateway-*". */
static bool
s_process_ok (const byte *data, size_t size)
{
    static const char broker[] = "broker", gateway[] = "gateway-";
    bool ok = size > 0 && size <= PL_BROKER__PROCESS_MAX;
    for (size_t i = 0; ok && i < size; i++)
        ok = (data[i] >= 'a' && data[i] <= 'z') || (data[i] >= 'A' && data[i] <= 'Z')
          || (data[i] >= '0' && data[i] <= '9') || data[i] == '.' || data[i] == '_'
          || data[i] == '-';
    /* the broker's own snapshot and the gateways' go under these names: a
     * worker named so would overwrite their series in a scrape */
    if (ok && ((size == sizeof broker - 1 && memcmp (data, broker, size) == 0)
            || (size >= sizeof gateway - 1 && memcmp (data, gateway, sizeof gateway - 1) == 0)))
        ok = false;
    return ok;
}

void
pl_broker__metrics_drop (pl_broker_t *self, pl_broker__worker_t *worker)
{
    if (worker->metrics_snap) {
        assert (self->metrics_bytes >= worker->metrics_len);
        self->metrics_bytes -= worker->metrics_len;
    }
    free (worker->metrics_snap);
    free (worker->metrics_name);
    worker->metrics_snap = NULL;
    worker->metrics_name = NULL;
    worker->metrics_len = 0;
}

const char *
pl_broker__metrics_store (pl_broker_t *self, pl_broker__worker_t *worker,
                          zmq_msg_t *name, zmq_msg_t *snapshot)
{
    const char *refused = NULL;
    size_t len = zmq_msg_size (snapshot);
    pl_broker__metrics_drop (self, worker);
    if (!s_process_ok (zmq_msg_data (name), zmq_msg_size (name)))
        refused = "an invalid process name (want 1 to 64 bytes of A-Z a-z 0-9 . _ -, "
                  "not broker nor gateway-*)";
    else
    if (len == 0)
        refused = "an empty snapshot";
    else
    if (len > PL_BROKER__SNAPSHOT_MAX)
        refused = "a snapshot over 256 KB";
    else
    if (self->metrics_bytes + len > PL_BROKER__SNAPSHOTS_MAX)
        refused = "a snapshot past the 64 MB kept for all workers";
    if (refused)
        goto cleanup;
    worker->metrics_name = strndup (zmq_msg_data (name), zmq_msg_size (name));
    worker->metrics_snap = malloc (len);
    if (!worker->metrics_name || !worker->metrics_snap) {
        free (worker->metrics_snap);    /* not counted yet */
        worker->metrics_snap = NULL;
        pl_broker__metrics_drop (self, worker);
        refused = "a snapshot (out of memory)";
        goto cleanup;
    }
    memcpy (worker->metrics_snap, zmq_msg_data (snapshot), len);
    worker->metrics_len = len;
    worker->metrics_at = zclock_mono ();
    self->metrics_bytes += len;
cleanup:
    return refused;
}

/* Carry a counter's growth since the last snapshot into the registry (by
 * 0 too: a service shows all its counters from its first snapshot). */
static void
s_carry (pl_metrics_t *metrics, const char *family, const char *const *values,
         uint64_t count, uint64_t *shown)
{
    if (pl_metrics_inc (metrics, family, values, (double) (count - *shown)) == 0)
        *shown = count;
}

char *
pl_broker__metrics_snapshot (pl_broker_t *self)
{
    for (pl_broker__service_t *svc = zhashx_first (self->services); svc;
         svc = zhashx_next (self->services)) {
        /* a name that is no valid label value (not UTF-8) is refused by
         * the registry: that service is left out, nothing else */
        const char *values[] = { svc->name };
        pl_metrics_set (self->metrics, S_QUEUE, values, (double) svc->queued);
        pl_metrics_set (self->metrics, S_WORKERS, values, (double) zlistx_size (svc->workers));
        s_carry (self->metrics, S_REQUESTS, values, svc->requests, &svc->requests_shown);
        s_carry (self->metrics, S_TIMEOUTS, values, svc->timeouts, &svc->timeouts_shown);
        s_carry (self->metrics, S_UNAVAILABLE, values, svc->unavailable,
                 &svc->unavailable_shown);
    }
    pl_metrics_update_process (self->metrics);
    return pl_metrics_snapshot_json (self->metrics);
}

/* qsort callback, from pl_broker__metrics_answer (the broker's loop): by
 * process name, and the latest snapshot first among equals. */
static int
s_by_name (const void *a, const void *b)
{
    const pl_broker__worker_t *wa = *(pl_broker__worker_t *const *) a;
    const pl_broker__worker_t *wb = *(pl_broker__worker_t *const *) b;
    int order = strcmp (wa->metrics_name, wb->metrics_name);
    if (order == 0)
        order = wa->metrics_at > wb->metrics_at ? -1 : wa->metrics_at < wb->metrics_at;
    return order;
}

/* One frame of the answer; false when it could not go (only at the HWM
 * of a gateway that is not reading, on the first frame, or at exit). */
static bool
s_part (void *sock, const void *data, size_t size, bool more)
{
    return zmq_send (sock, data, size, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) != -1;
}

/* client PL01 METRICS broker <snapshot> (<name> <snapshot>)*: sorted by
 * name, so the answer is the same for the same state; a name twice (a
 * worker that reconnected under a new identity before its old one
 * expired) is sent once, with the latest snapshot. At most
 * PL_BROKER__METRICS_WORKERS_MAX names go; the rest are left out, said
 * once each time their number changes (scrapes come every few seconds). */
void
pl_broker__metrics_answer (pl_broker_t *self, zmq_msg_t *client)
{
    pl_broker__worker_t **list = NULL;
    size_t count = 0;
    char *own = pl_broker__metrics_snapshot (self);
    if (!own)
        goto cleanup;
    list = malloc ((zhashx_size (self->workers) + 1) * sizeof *list);
    if (!list)
        goto cleanup;
    for (pl_broker__worker_t *w = zhashx_first (self->workers); w;
         w = zhashx_next (self->workers))
        if (w->metrics_snap)
            list[count++] = w;
    qsort (list, count, sizeof *list, s_by_name);
    /* one per name (the latest: first of its run), then the cap */
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (kept == 0 || strcmp (list[kept - 1]->metrics_name, list[i]->metrics_name) != 0)
            list[kept++] = list[i];
    size_t cut = kept > PL_BROKER__METRICS_WORKERS_MAX ? kept - PL_BROKER__METRICS_WORKERS_MAX : 0;
    if (cut != self->metrics_cut && cut > 0)
        pl_warn ("METRICS: %zu worker(s) left out of the answer: a gateway takes at most %d",
                 cut, PL_BROKER__METRICS_WORKERS_MAX);
    self->metrics_cut = cut;
    count = kept - cut;
    void *sock = pl_broker__sending (self, PL_BROKER__FRONTEND);
    bool ok = s_part (sock, zmq_msg_data (client), zmq_msg_size (client), true)
           && s_part (sock, PL_PROTO_VERSION, strlen (PL_PROTO_VERSION), true)
           && s_part (sock, PL_CMD_METRICS, strlen (PL_CMD_METRICS), true)
           && s_part (sock, "broker", 6, true)
           && s_part (sock, own, strlen (own), count > 0);
    for (size_t i = 0; ok && i < count; i++)
        ok = s_part (sock, list[i]->metrics_name, strlen (list[i]->metrics_name), true)
          && s_part (sock, list[i]->metrics_snap, list[i]->metrics_len, i + 1 < count);
    if (!ok)
        pl_debug ("frontend: METRICS answer not sent: %s", zmq_strerror (errno));
cleanup:
    free (list);
    free (own);
}
