/*  pl_worker_wake_test - selftest of pl_call_wake_at: the rules on a bare
 *  worker struct, then a real worker loop (a silent fake broker on ipc://)
 *  whose periodic task, with a 60 s period, runs at the times it asks for,
 *  in both the coroutine runtime and one request at a time. Every wait is
 *  bounded.
 */
#include "pl_worker_int.h"
#include "pl_id.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static int s_runs;                  /* task turns so far                 */
static int64_t s_ran_at[8];         /* mono ms of each                   */

/* The task: each of its first 3 turns asks for the next 100 ms later.
 * Runs on the worker loop. */
static void
s_task (pl_call_t *call)
{
    if (s_runs < 8)
        s_ran_at[s_runs] = pl_id_mono_ms ();
    s_runs++;
    if (s_runs < 4)
        pl_call_wake_at (call, pl_id_mono_ms () + 100);
}

/* A handler table is needed to build a worker; nothing calls it. */
static void
s_unused (pl_call_t *call, const cJSON *arg)
{
    (void) arg;
    pl_call_ok (call, NULL);
}

static const pl_handler_t s_handlers[] = {
    { PL_EV_ACTOR_LIST, s_unused }, { PL_EV_ACTOR_GET, s_unused },
    { PL_EV_ACTOR_CREATE, s_unused }, { PL_EV_ACTOR_UPDATE, s_unused },
    { PL_EV_ACTOR_DELETE, s_unused },
};

/* The rules, on a worker struct no loop runs. */
static void
s_test_rules (void)
{
    pl_worker_t w;
    memset (&w, 0, sizeof w);
    pl_call_t handler = { .worker = &w }, task = { .worker = &w, .task = true };
    int64_t now = pl_id_mono_ms ();
    w.tick_at = now + 1000;
    w.wake_at = INT64_MAX;

    /* no periodic task: a no-op */
    pl_call_wake_at (&handler, now);
    assert (w.wake_at == INT64_MAX);
    w.tick = s_task;

    /* the earliest wins; the tick stays the cap */
    assert (pl_worker__wake_next (&w) == now + 1000);
    pl_call_wake_at (&handler, now + 500);
    pl_call_wake_at (&handler, now + 700);
    assert (pl_worker__wake_next (&w) == now + 500);
    pl_call_wake_at (&handler, now + 5000);
    assert (pl_worker__wake_next (&w) == now + 500);

    /* a turn that starts spends the wake; before it was due, not woken */
    assert (!pl_worker__wake_start (&w, now + 400));
    assert (w.wake_at == INT64_MAX);
    pl_call_wake_at (&handler, now + 500);
    assert (pl_worker__wake_start (&w, now + 500));
    assert (pl_worker__wake_next (&w) == now + 1000);

    /* during a turn: the task's own wake counts; a handler's makes the
     * task run again once the turn ends */
    w.task_running = true;
    pl_call_wake_at (&task, now + 800);
    assert (w.wake_at == now + 800 && !w.wake_after_task);
    pl_call_wake_at (&handler, now + 900);
    assert (w.wake_at == now + 800 && w.wake_after_task);
    pl_worker__wake_end (&w);
    assert (!w.task_running && !w.wake_after_task);
    assert (w.wake_at <= pl_id_mono_ms ());

    /* a turn that ends with nothing asked keeps the task's own wake */
    w.wake_at = now + 800;
    w.task_running = true;
    pl_worker__wake_end (&w);
    assert (w.wake_at == now + 800);

    /* events held back for commit order are seen, by any call */
    assert (!pl_call_events_held (&handler) && !pl_call_events_held (&task));
    w.nheld = 1;
    assert (pl_call_events_held (&handler) && pl_call_events_held (&task));
    w.nheld = 0;
}

/* A real loop: the task runs at the wake a "handler" asks for, then at the
 * three it asks for itself, 100 ms apart, then sleeps (its period is 60 s). */
static void
s_test_loop (const char *backend, const char *events, bool batch)
{
    setenv ("PARLEY_WORKER_BATCH", batch ? "1" : "0", 1);
    pl_config_t *cfg = pl_config_new ();
    assert (cfg);
    pl_worker_opts_t opts = {
        .service = "actors", .handlers = s_handlers, .count = 5,
        .broker_endpoint = backend, .events_endpoint = events,
        .heartbeat_ms = 1000, .liveness = 60, .credit = 2, .signal_fd = -1,
        .config = cfg, .tick = s_task, .tick_ms = 60000,
    };
    pl_worker_t *worker = pl_worker_new (&opts);
    assert (worker);
    assert (worker->sched ? batch : !batch);
    s_runs = 0;
    pl_worker_run (worker, 200);
    assert (s_runs == 0);               /* nothing asked: it sleeps */
    pl_call_t handler = { .worker = worker };
    int64_t start = pl_id_mono_ms ();
    pl_call_wake_at (&handler, start + 50);
    int64_t deadline = start + 5000;
    while (s_runs < 4 && pl_id_mono_ms () < deadline)
        pl_worker_run (worker, 50);
    assert (s_runs == 4);
    assert (s_ran_at[0] >= start + 50);
    for (int i = 1; i < 4; i++)
        assert (s_ran_at[i] - s_ran_at[i - 1] >= 100);
    assert (s_ran_at[3] - start < 4000);    /* not the 60 s period */
    pl_worker_run (worker, 300);
    assert (s_runs == 4);               /* and then sleeps again */
    pl_worker_destroy (&worker);
    pl_config_destroy (&cfg);
    unsetenv ("PARLEY_WORKER_BATCH");
}

void
pl_worker_wake_test (bool verbose)
{
    if (verbose)
        printf (" * pl_worker_wake: ");
    s_test_rules ();

    pl_worker__test_net_t net;
    pl_worker__test_net_open (&net, "wake");
    s_test_loop (net.backend, net.events, true);
    s_test_loop (net.backend, net.events, false);
    pl_worker__test_net_close (&net);
    if (verbose)
        printf ("OK\n");
}
