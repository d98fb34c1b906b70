/*  parley-metrics-broker-stub - a stand-in broker frontend for the
 *  gateway's GET /metrics (tests/e2e/metrics.test.mjs): it binds
 *  PARLEY_BROKER_FRONTEND and answers `PL01 STATUS` with no services and
 *  `PL01 METRICS` as proto/README.md says a broker does: its own snapshot
 *  under "broker", then one per worker. The snapshots are fixed: the
 *  broker's parley_broker_requests_total{service="actors"} 5, worker
 *  "actors-w1"'s parley_worker_requests_total{event="actor:create",
 *  code="OK"} 7, and a third process "bad" whose snapshot is not one (the
 *  gateway must skip and count it). With PL_STUB_BIG=n (1..60) it adds n
 *  workers "big-<i>", each a snapshot just under 256 KB of histogram
 *  series with long labels: a page of several MB (the gateway's bounds,
 *  and answers that are slow to write). Anything else is dropped. Waits on
 *  zmq_poll only; SIGTERM or SIGINT stop it with exit 0: they are blocked
 *  before the ZeroMQ context starts its threads and read from a signalfd
 *  in the same poll (with a handler, a signal delivered to a ZeroMQ thread
 *  left the main thread in zmq_poll for ever). */
#include "pl_config.h"
#include "pl_metrics.h"
#include "pl_proto.h"
#include "pl_zmsg.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

/* A snapshot of a registry with one counter series (caller frees). */
static char *
s_snapshot (const char *name, const char *const *labels, const char *const *values, double v)
{
    pl_metrics_t *reg = pl_metrics_new (10);
    char *json = NULL;
    if (reg && pl_metrics_declare (reg, name, PL_METRICS_COUNTER, "A stub's counter.", labels,
                                   NULL, 0) == 0
    &&  pl_metrics_inc (reg, name, values, v) == 0)
        json = pl_metrics_snapshot_json (reg);
    pl_metrics_destroy (&reg);
    return json;
}

/* A snapshot just under PL_METRICS_SNAPSHOT_MAX of a histogram with four
 * 100-byte labels (caller frees), or NULL. */
static char *
s_big_snapshot (void)
{
    pl_metrics_t *reg = pl_metrics_new (100000);
    const char *labels[] = { "a", "b", "c", "d", NULL };
    double buckets[PL_METRICS_BUCKETS_MAX];
    for (int i = 0; i < PL_METRICS_BUCKETS_MAX; i++)
        buckets[i] = i + 1;
    char *json = NULL, v[128];
    const char *values[] = { v, v, v, v };
    bool ok = reg && pl_metrics_declare (reg, "stub_big_seconds", PL_METRICS_HISTOGRAM, "Big.",
                                         labels, buckets, PL_METRICS_BUCKETS_MAX) == 0;
    for (int i = 0; ok; i++) {
        snprintf (v, sizeof v, "%0100d", i);
        ok = pl_metrics_observe (reg, "stub_big_seconds", values, 1) == 0;
        if (ok && i % 16 == 15) {
            char *next = pl_metrics_snapshot_json (reg);
            ok = next && strlen (next) <= PL_METRICS_SNAPSHOT_MAX;
            if (ok) {
                free (json);
                json = next;
            }
            else
                free (next);
        }
    }
    pl_metrics_destroy (&reg);
    return json;
}

int
main (void)
{
    int rc = 1;
    void *ctx = NULL, *router = NULL;
    const char *blabels[] = { "service", NULL }, *bvalues[] = { "actors" };
    const char *wlabels[] = { "event", "code", NULL }, *wvalues[] = { "actor:create", "OK" };
    char *broker = s_snapshot ("parley_broker_requests_total", blabels, bvalues, 5);
    char *worker = s_snapshot ("parley_worker_requests_total", wlabels, wvalues, 7);
    pl_config_t *config = pl_config_new ();
    const char *env = getenv ("PL_STUB_BIG");
    int nbig = env ? atoi (env) : 0;
    nbig = nbig < 0 ? 0 : nbig > 60 ? 60 : nbig;
    char *big = nbig ? s_big_snapshot () : NULL;
    char big_names[60][16];
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGTERM);
    sigaddset (&mask, SIGINT);
    int sfd = -1;
    if (sigprocmask (SIG_BLOCK, &mask, NULL) == 0)
        sfd = signalfd (-1, &mask, SFD_CLOEXEC);
    if (!broker || !worker || !config || sfd < 0 || (nbig && !big))
        goto cleanup;
    ctx = zmq_ctx_new ();
    router = ctx ? zmq_socket (ctx, ZMQ_ROUTER) : NULL;
    const char *frontend = pl_config_str (config, PL_CFG_BROKER_FRONTEND);
    int zero = 0;
    if (router)
        zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero);
    if (!router || zmq_bind (router, frontend) != 0) {
        fprintf (stderr, "stub: cannot bind %s\n", frontend);
        goto cleanup;
    }
    fprintf (stderr, "stub broker on %s\n", frontend);
    for (;;) {
        zmq_pollitem_t items[] = { { router, 0, ZMQ_POLLIN, 0 }, { NULL, sfd, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            goto cleanup;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        pl_zmsg_t msg;
        while (pl_zmsg_recv (router, &msg) == 0) {
            size_t id_len;
            const void *id = pl_zmsg_data (&msg, 0, &id_len);
            if (msg.count == 3 && pl_zmsg_is (&msg, 1, PL_PROTO_VERSION)
            &&  pl_zmsg_is (&msg, 2, PL_CMD_STATUS)) {
                pl_zmsg_part_t parts[] = {
                    { id, id_len }, { PL_PROTO_VERSION, 4 }, { PL_CMD_STATUS, 6 },
                    { "{\"services\":{}}", 15 },
                };
                pl_zmsg_send (router, parts, 4);
            }
            else
            if (msg.count == 3 && pl_zmsg_is (&msg, 1, PL_PROTO_VERSION)
            &&  pl_zmsg_is (&msg, 2, PL_CMD_METRICS)) {
                pl_zmsg_part_t parts[9 + 2 * 60] = {
                    { id, id_len }, { PL_PROTO_VERSION, 4 }, { PL_CMD_METRICS, 7 },
                    { "broker", 6 }, { broker, strlen (broker) },
                    { "actors-w1", 9 }, { worker, strlen (worker) },
                    { "bad", 3 }, { "not a snapshot", 14 },
                };
                for (int i = 0; i < nbig; i++) {
                    int len = snprintf (big_names[i], sizeof big_names[i], "big-%d", i);
                    parts[9 + 2 * i] = (pl_zmsg_part_t) { big_names[i], (size_t) len };
                    parts[10 + 2 * i] = (pl_zmsg_part_t) { big, strlen (big) };
                }
                pl_zmsg_send (router, parts, 9 + 2 * nbig);
            }
            pl_zmsg_close (&msg);
        }
    }
    rc = 0;
cleanup:
    if (router)
        zmq_close (router);
    if (ctx)
        zmq_ctx_term (ctx);
    pl_config_destroy (&config);
    if (sfd >= 0)
        close (sfd);
    free (broker);
    free (worker);
    free (big);
    return rc;
}
