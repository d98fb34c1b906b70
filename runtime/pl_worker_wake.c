/*  pl_worker_wake - the periodic task woken at a due time (pl_call_wake_at).
 *
 *  The task runs every tick_ms; a wake asked for makes it run sooner. The
 *  loop sleeps in zmq_poll until the earlier of the two (pl_worker_run), so
 *  a worker with nothing due sleeps a whole tick_ms: no polling in between.
 *
 *  The one race: a handler stores work that falls due early while the
 *  task's turn runs. The turn may have read the schedule before the write,
 *  and the wake it asks for itself would not cover the new work; so a
 *  handler's wake during a turn marks the task to run again once the turn
 *  ends. A wake that falls due while a turn still runs waits for its end
 *  the same way (the task is never due twice at once, pl_worker_sched.c).
 *
 *  Everything here runs on the worker loop.
 */
#include "pl_worker_int.h"
#include "pl_id.h"

#include <assert.h>

void
pl_call_wake_at (pl_call_t *call, int64_t mono_ms)
{
    assert (call && call->worker);
    pl_worker_t *self = call->worker;
    if (!self->tick)
        goto cleanup;
    if (self->task_running && !call->task) {
        self->wake_after_task = true;
        goto cleanup;
    }
    if (mono_ms < self->wake_at)
        self->wake_at = mono_ms;
cleanup:
    return;
}

bool
pl_call_events_held (const pl_call_t *call)
{
    assert (call && call->worker);
    return call->worker->nheld > 0;
}

int64_t
pl_worker__wake_next (pl_worker_t *self)
{
    return self->wake_at < self->tick_at ? self->wake_at : self->tick_at;
}

bool
pl_worker__wake_start (pl_worker_t *self, int64_t now)
{
    bool woken = now >= self->wake_at;
    self->wake_at = INT64_MAX;
    return woken;
}

void
pl_worker__wake_end (pl_worker_t *self)
{
    self->task_running = false;
    if (self->wake_after_task) {
        self->wake_after_task = false;
        int64_t now = pl_id_mono_ms ();
        if (now < self->wake_at)
            self->wake_at = now;
    }
}
