/*  pl_broker_metrics_test - the metrics cases of the pl_broker selftest
 *  (proto/README.md, "Metrics"), on the harness of pl_broker_test_env.c:
 *  a real broker on its own thread, raw DEALERs playing the workers (HB
 *  with a snapshot) and the gateway (METRICS), real zmq sockets.
 */
#include "pl_broker_test_int.h"
#include "pl_broker_int.h"
#include "pl_metrics.h"
#include "pl_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WAIT  PL_BROKER__T_WAIT

/* A worker's snapshot: one counter, at value n. Caller frees. */
static char *
s_snapshot (double n)
{
    static const char *const labels[] = { "event", "code", NULL };
    const char *values[] = { "actor:get", "OK" };
    pl_metrics_t *m = pl_metrics_new (10);
    assert (m);
    int rc = pl_metrics_declare (m, "parley_worker_requests_total", PL_METRICS_COUNTER,
                                 "Requests.", labels, NULL, 0);
    assert (rc == 0);
    rc = pl_metrics_inc (m, "parley_worker_requests_total", values, n);
    assert (rc == 0);
    char *json = pl_metrics_snapshot_json (m);
    assert (json);
    pl_metrics_destroy (&m);
    return json;
}

/* PL01 HB name snapshot from worker (snapshot: size bytes). */
static void
s_hb (zsock_t *worker, const char *name, const char *snapshot, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_HEARTBEAT);
    zmsg_addstr (msg, name);
    zmsg_addmem (msg, snapshot, size);
    int rc = zmsg_send (&msg, worker);
    assert (rc == 0);
}

/* Ask METRICS; the answer, checked for its head and its broker pair. */
static zmsg_t *
s_metrics (zsock_t *client)
{
    pl_broker__t_send_frames (client, 2, PL_PROTO_VERSION, PL_CMD_METRICS);
    zmsg_t *msg = pl_broker__t_recv_within (client, S_WAIT);
    assert (msg && zmsg_size (msg) >= 4 && zmsg_size (msg) % 2 == 0);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_METRICS));
    assert (zframe_streq (zmsg_next (msg), "broker"));
    return msg;
}

/* Ask METRICS until the answer holds pairs worker pairs (HB travels on
 * another socket than METRICS: the answer may predate it). */
static zmsg_t *
s_metrics_pairs (zsock_t *client, size_t pairs)
{
    int64_t deadline = zclock_mono () + S_WAIT;
    zmsg_t *msg = s_metrics (client);
    while (zmsg_size (msg) != 4 + 2 * pairs && zclock_mono () < deadline) {
        zmsg_destroy (&msg);
        zclock_sleep (5);       /* a poll of another thread's state, bounded */
        msg = s_metrics (client);
    }
    assert (zmsg_size (msg) == 4 + 2 * pairs);
    return msg;
}

/* A value of the broker's own snapshot in an answer, merged the way a
 * gateway does; -1 when the series is absent. */
static double
s_broker_value (zmsg_t *answer, const char *family, const char *service)
{
    zmsg_first (answer);
    zmsg_next (answer);
    zmsg_next (answer);
    zframe_t *own = zmsg_next (answer);
    pl_metrics_t *m = pl_metrics_new (100);
    int rc = pl_metrics_merge_json (m, "broker", (const char *) zframe_data (own),
                                    zframe_size (own));
    assert (rc == 0);
    const char *values[] = { "broker", service };
    double value = pl_metrics_value (m, family, values);   /* [1] unread without service */
    pl_metrics_destroy (&m);
    return value;
}

/* The worker pair at index i of an answer must be name and snapshot. */
static void
s_pair_is (zmsg_t *answer, size_t i, const char *name, const char *snapshot)
{
    zframe_t *frame = zmsg_first (answer);
    for (size_t k = 0; k < 4 + 2 * i; k++)
        frame = zmsg_next (answer);
    assert (zframe_streq (frame, name));
    assert (zframe_streq (zmsg_next (answer), snapshot));
}

/* HB with a snapshot, METRICS with the exact answer, the broker's
 * counters, refusals, and a worker that leaves (BYE). */
static void
s_test_answer (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, PL_BROKER__T_LIVE, 100, 1000);
    zsock_t *w1 = pl_broker__t_worker_new (env.backend, "actors", "2");
    pl_broker__t_wait_workers (env.client, "actors", 1);

    /* no worker has sent a snapshot: the broker's own only */
    zmsg_t *answer = s_metrics (env.client);
    assert (zmsg_size (answer) == 4);
    assert (s_broker_value (answer, "parley_broker_workers", "actors") == 1);
    assert (s_broker_value (answer, "parley_broker_queue_depth", "actors") == 0);
    assert (s_broker_value (answer, "process_open_fds", NULL) > 0);
    zmsg_destroy (&answer);

    /* a plain HB is still fine, and a snapshot comes back byte for byte */
    char *s1 = s_snapshot (3);
    pl_broker__t_send_frames (w1, 2, PL_PROTO_VERSION, PL_CMD_HEARTBEAT);
    s_hb (w1, "actors-host-1", s1, strlen (s1));
    answer = s_metrics_pairs (env.client, 1);
    s_pair_is (answer, 0, "actors-host-1", s1);
    zmsg_destroy (&answer);

    /* a request through it is counted for its service */
    pl_broker__t_request (env.client, "actors", "m1");
    zframe_t *client = pl_broker__t_worker_expect (w1, "m1");
    pl_broker__t_worker_reply (w1, &client, "m1", "{\"success\":true}");
    free (pl_broker__t_expect_reply (env.client, "m1", 2, S_WAIT));
    answer = s_metrics (env.client);
    assert (s_broker_value (answer, "parley_broker_requests_total", "actors") == 1);
    assert (s_broker_value (answer, "parley_broker_timeouts_total", "actors") == 0);
    zmsg_destroy (&answer);
    /* counted once: a second scrape adds nothing */
    answer = s_metrics (env.client);
    assert (s_broker_value (answer, "parley_broker_requests_total", "actors") == 1);
    zmsg_destroy (&answer);

    /* a second worker: pairs sorted by name, the latest snapshot of each */
    zsock_t *w2 = pl_broker__t_worker_new (env.backend, "rooms", "1");
    pl_broker__t_wait_workers (env.client, "rooms", 1);
    char *s2 = s_snapshot (7);
    s_hb (w2, "a-rooms-host-2", s2, strlen (s2));
    answer = s_metrics_pairs (env.client, 2);
    s_pair_is (answer, 0, "a-rooms-host-2", s2);
    s_pair_is (answer, 1, "actors-host-1", s1);
    zmsg_destroy (&answer);
    free (s1);
    s1 = s_snapshot (4);
    s_hb (w1, "actors-host-1", s1, strlen (s1));
    int64_t deadline = zclock_mono () + S_WAIT;
    bool updated = false;
    while (!updated && zclock_mono () < deadline) {
        answer = s_metrics_pairs (env.client, 2);
        zframe_t *last = zmsg_last (answer);
        updated = zframe_streq (last, s1);
        zmsg_destroy (&answer);
    }
    assert (updated);

    /* refused: too big, a bad name, a wrong frame count; the worker's last
     * snapshot goes too, and the worker stays */
    size_t big = PL_BROKER__SNAPSHOT_MAX + 1;
    char *huge = malloc (big);
    assert (huge);
    memset (huge, ' ', big);
    s_hb (w1, "actors-host-1", huge, big);
    answer = s_metrics_pairs (env.client, 1);
    s_pair_is (answer, 0, "a-rooms-host-2", s2);
    zmsg_destroy (&answer);
    free (huge);
    /* each time: a good one back (2 pairs), then the bad one (1 pair);
     * NULL: an HB with one extra frame */
    static const char *const bad[] = {
        "actors host/1", "", "x\x01",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",     /* 65 */
        "broker", "gateway-", "gateway-g1",     /* the names of the others' snapshots */
        NULL
    };
    assert (strlen (bad[3]) == PL_BROKER__PROCESS_MAX + 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_hb (w1, "actors-host-1", s1, strlen (s1));
        answer = s_metrics_pairs (env.client, 2);
        zmsg_destroy (&answer);
        if (bad[i])
            s_hb (w1, bad[i], s1, strlen (s1));
        else
            pl_broker__t_send_frames (w1, 3, PL_PROTO_VERSION, PL_CMD_HEARTBEAT, "actors-host-1");
        answer = s_metrics_pairs (env.client, 1);
        zmsg_destroy (&answer);
    }
    assert (pl_broker__t_status (env.client, "actors", "workers", NULL) == 1);

    /* METRICS with anything after it is dropped, not answered */
    pl_broker__t_send_frames (env.client, 3, PL_PROTO_VERSION, PL_CMD_METRICS, "x");
    assert (pl_broker__t_status (env.client, "actors", "workers", NULL) == 1);

    /* a worker that says BYE is gone from the next answer */
    pl_broker__t_send_frames (w2, 2, PL_PROTO_VERSION, PL_CMD_DISCONNECT);
    answer = s_metrics_pairs (env.client, 0);
    assert (s_broker_value (answer, "parley_broker_workers", "rooms") == 0);
    zmsg_destroy (&answer);

    free (s1);
    free (s2);
    zsock_destroy (&w1);
    zsock_destroy (&w2);
    pl_broker__t_env_stop (&env);
}

/* A worker that dies holding a request: answered TIMEOUT and counted, its
 * snapshot gone; a service with no worker and no queue: counted
 * SERVICE_UNAVAILABLE. */
static void
s_test_expiry (void)
{
    pl_broker__tenv_t env;
    int64_t liveness = 40;      /* 2 s: room for a loaded box, short enough */
    pl_broker__t_env_start (&env, liveness, 0, 1000);
    zsock_t *w = pl_broker__t_worker_new (env.backend, "actors", "1");
    pl_broker__t_wait_workers (env.client, "actors", 1);
    char *s1 = s_snapshot (1);
    s_hb (w, "actors-host-9", s1, strlen (s1));
    zmsg_t *answer = s_metrics_pairs (env.client, 1);
    zmsg_destroy (&answer);

    pl_broker__t_request (env.client, "ghost", "g1");
    pl_broker__t_expect_error (env.client, "g1", PL_ERR_SERVICE_UNAVAILABLE, "", S_WAIT);
    pl_broker__t_request (env.client, "actors", "d1");
    zframe_t *client = pl_broker__t_worker_expect (w, "d1");
    zframe_destroy (&client);
    /* silent from now on */
    pl_broker__t_expect_error (env.client, "d1", PL_ERR_TIMEOUT, "worker lost",
                               (int) (liveness * PL_BROKER__T_HB) + 2 * S_WAIT);
    answer = s_metrics (env.client);
    assert (zmsg_size (answer) == 4);       /* its snapshot went with it */
    assert (s_broker_value (answer, "parley_broker_timeouts_total", "actors") == 1);
    assert (s_broker_value (answer, "parley_broker_requests_total", "actors") == 1);
    assert (s_broker_value (answer, "parley_broker_workers", "actors") == 0);
    assert (s_broker_value (answer, "parley_broker_unavailable_total", "ghost") == 1);
    assert (s_broker_value (answer, "parley_broker_requests_total", "ghost") == 1);
    zmsg_destroy (&answer);
    free (s1);
    zsock_destroy (&w);
    pl_broker__t_env_stop (&env);
}

/* More workers than a gateway takes: the first 64 by name go, the rest
 * are left out even when they came first (w-64 and w-65 are kept before
 * the others start). */
static void
s_test_many (void)
{
    enum { MAX = PL_BROKER__METRICS_WORKERS_MAX, ALL = MAX + 2 };
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, PL_BROKER__T_LIVE, 100, 1000);
    zsock_t *w[ALL];
    char name[ALL][16];
    char *s1 = s_snapshot (1);
    for (int i = 0; i < ALL; i++) {
        w[i] = pl_broker__t_worker_new (env.backend, "actors", "1");
        snprintf (name[i], sizeof name[i], "w-%02d", i);
    }
    pl_broker__t_wait_workers (env.client, "actors", ALL);
    for (int i = MAX; i < ALL; i++)
        s_hb (w[i], name[i], s1, strlen (s1));
    zmsg_t *answer = s_metrics_pairs (env.client, ALL - MAX);
    zmsg_destroy (&answer);
    for (int i = 0; i < MAX; i++)
        s_hb (w[i], name[i], s1, strlen (s1));
    /* until w-00 .. w-63 are all in (their HBs race the scrapes) */
    int64_t deadline = zclock_mono () + S_WAIT;
    bool all = false;
    while (!all && zclock_mono () < deadline) {
        answer = s_metrics_pairs (env.client, MAX);
        all = true;
        for (int i = 0; i < MAX && all; i++) {
            zframe_t *frame = zmsg_first (answer);
            for (int k = 0; k < 4 + 2 * i; k++)
                frame = zmsg_next (answer);
            all = zframe_streq (frame, name[i]);
        }
        zmsg_destroy (&answer);
    }
    assert (all);
    for (int i = 0; i < ALL; i++)
        zsock_destroy (&w[i]);
    free (s1);
    pl_broker__t_env_stop (&env);
}

void
pl_broker__t_metrics (void)
{
    s_test_answer ();
    s_test_expiry ();
    s_test_many ();
}
