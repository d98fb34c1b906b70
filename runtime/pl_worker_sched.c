/*  pl_worker_sched - handlers as coroutines over one Redis pipeline.
 *
 *  Why: a handler's Redis round trip used to cost a sleep and a wake-up on
 *  both sides, per command, one request at a time; most of the worker's
 *  and Redis's CPU went to the kernel, not to the handlers. Here every
 *  handler runs in a coroutine of its own (pl_coro), unchanged: when it
 *  issues a command (pl_call_command, pl_call_script, anything that ends
 *  in pl_redis_*), pl_redis offers it to s_defer, which parks the
 *  coroutine. Once a pass has resumed everything that can run, the parked
 *  commands go out as one round: one pipeline, one write. Rounds stay in
 *  flight while handlers compute - Redis works on round k while the
 *  worker runs the handlers that got the replies of round k - 1 - and the
 *  worker loop polls the Redis fd next to the broker socket, so
 *  heartbeats keep flowing whatever Redis does. A request starts when it
 *  arrives and its reply goes out when its handler ends. The design and
 *  its measurements: docs/experiments/i10-coro.md (the "overlap" mode).
 *
 *  Transactions run alone. WATCH and MULTI are state of the connection,
 *  so two handlers' transactions cannot share it, and no other command
 *  may fall between a MULTI and its EXEC. The first handler whose parked
 *  commands hold a WATCH or MULTI becomes the owner: its commands go last
 *  in the round that carries them, and from then on only the owner is
 *  resumed and only its commands go out, one round at a time, until the
 *  connection holds no transaction (EXEC, DISCARD, UNWATCH, or the reset
 *  after its handler). By the time the owner's first reply comes every
 *  earlier one has (replies come in order), so the owner has the
 *  connection to itself, exactly as with one request at a time; direct
 *  pl_redis_reset calls keep working. Correct by construction, at the
 *  price of a round trip per command for everyone meanwhile; the
 *  compare-and-set scripts (pl_txn) make it rare. A handler rerun after
 *  a lost compare-and-set (pl_call_conflict) runs alone the same way (see
 *  s_main).
 *
 *  Order. Two requests of one client connection (gateway + connection in
 *  the ctx) never overtake each other: a request whose connection has an
 *  earlier one unanswered stays held until that one has been answered.
 *  Replies go out as handlers end. Events go out after their reply, and
 *  the events of calls that committed a write (pl_call_commit) go out in
 *  commit order - the position of the commit's reply on the connection -
 *  even when the calls end in another order (s_release_events); the
 *  reply of a call whose events wait waits with them and goes first.
 *
 *  Isolation. A Redis error reply is the reply of one command: only its
 *  handler sees it. A connection that breaks with commands in flight
 *  keeps the replies read; the others are NULL, so their handlers answer
 *  INTERNAL "storage unavailable" (nothing is sent again: those commands
 *  may have run), and the next round connects anew. A reply overdue by
 *  the command timeout drops the connection and fails what is in flight
 *  the same way. A crash is still the process's, and so is a coroutine
 *  stack overflow (pl_coro: it dies on the guard page, loudly).
 *
 *  The periodic task (pl_worker_main_tick) is a coroutine too, in a slot
 *  of its own, so its commands share rounds with the handlers' and no
 *  load can starve it.
 *
 *  Everything here runs on the worker loop (pl_worker_run).
 */
#include "pl_worker_int.h"
#include "pl_id.h"
#include "pl_log.h"

#include <assert.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _pl_worker__sched_t {
    pl_worker_t *worker;            /* whose requests                      */
    size_t cap;                     /* request slots: the credit           */
    pl_worker__slot_t *slots;       /* cap + 1: the last is the task's     */
    pl_worker__slot_t **order;      /* live ones, in arrival order         */
    size_t count;                   /* live                                */
    pl_worker__slot_t **free;       /* a stack of free request slots       */
    size_t nfree;                   /* how many                            */
    size_t bus_cap;                 /* bus call slots (worker->bus_max), after
                                       the task's: pl_worker_sub.c          */
    pl_worker__slot_t **bus_free;   /* a stack of free bus slots ...       */
    size_t nbus_free;               /* ... and how many                    */
    pl_worker__slot_t *running;     /* the one whose coroutine runs now    */
    pl_worker__slot_t *owner;       /* the one whose transaction holds the
                                       connection, or NULL                 */
    pl_coro_pool_t *pool;           /* one coroutine per running slot      */
    size_t fly_cap;                 /* (cap + 1) x PL_REDIS_BATCH_MAX   */
    pl_redis_cmd_t **fly;           /* commands in flight, oldest first ... */
    pl_worker__slot_t **fly_slot;   /* ... and whose each is               */
    size_t nfly;                    /* how many                            */
    bool fly_fresh;                 /* all written to an idle connection, no
                                       reply read since: a stale one may be
                                       replaced and they written again     */
    int64_t fly_progress;           /* mono ms of the last write to an idle
                                       connection, or of the last reply    */
    uint64_t reply_pos;             /* replies read on the connection, ever:
                                       a reply's position is commit order  */
    /* counters, for the log line at the end */
    uint64_t requests, rounds, commands, alone_rounds, held_back, ticks, ticks_skipped;
    size_t deepest_fly;             /* most commands in flight             */
};

/* The defer hook (pl_redis_set_defer). Runs inside a slot's coroutine (on
 * the worker loop): park it on its commands until rounds have carried
 * them. Anything else - pl_redis_reset, a caller outside any coroutine -
 * runs now, synchronously. */
static bool
s_defer (void *arg, pl_redis_cmd_t *const *cmds, size_t n)
{
    pl_worker__sched_t *self = arg;
    pl_worker__slot_t *slot = self->running;
    bool parked = false;
    if (!slot || !slot->co || pl_coro_current () != slot->co)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        cmds[i]->reply = NULL;
    slot->cmds = cmds;
    slot->ncmds = n;
    slot->unread = n;
    slot->sent = false;
    pl_coro_yield ();
    slot->cmds = NULL;
    slot->ncmds = 0;
    parked = true;
cleanup:
    return parked;
}

/* A slot's coroutine: the handler, or the periodic task, run again inside
 * the same coroutine after a lost compare-and-set (pl_call_conflict) with
 * a fresh call state (pl_worker__call_retry) and nothing left open on the
 * connection. The rerun runs alone, as a transaction's owner does, until
 * its handler returns: nothing else of this worker can commit between its
 * read and its commit, so it loses again only to another process. Run
 * side by side instead, N handlers racing on one key would each rerun N
 * times in the worst case, and past PL_CALL_RETRY_MAX they answer
 * CONFLICT (actors_check "races, every field" did, with 15 at once). Runs inside the coroutine, on the worker loop. The reset
 * may talk to Redis synchronously: only a transaction's owner can have
 * anything open, and the owner has the connection to itself. */
static void
s_main (void *arg)
{
    pl_worker__slot_t *slot = arg;
    pl_worker_t *worker = slot->call.worker;
    do {
        if (slot->call.attempt) {
            worker->stats.retries++;
            slot->alone = true;             /* s_write_round: the rerun runs alone */
        }
        if (slot->call.bus)
            pl_worker__bus_run (worker, slot);
        else
        if (slot->call.task)
            worker->tick (&slot->call);
        else
            worker->handler[slot->call.event] (&slot->call, slot->arg);
        if (worker->redis && pl_redis_in_txn (worker->redis))
            pl_redis_reset (worker->redis);
    } while (pl_worker__call_retry (&slot->call));
}

pl_worker__sched_t *
pl_worker__sched_new (pl_worker_t *worker, size_t cap)
{
    assert (worker && cap > 0);
    pl_worker__sched_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->worker = worker;
    self->cap = cap;
    self->bus_cap = worker->bus ? (size_t) worker->bus_max : 0;
    size_t all = cap + 1 + self->bus_cap;
    self->fly_cap = all * PL_REDIS_BATCH_MAX;
    self->slots = calloc (all, sizeof *self->slots);
    self->order = calloc (all, sizeof *self->order);
    self->free = calloc (cap, sizeof *self->free);
    self->bus_free = calloc (self->bus_cap + 1, sizeof *self->bus_free);
    self->fly = calloc (self->fly_cap, sizeof *self->fly);
    self->fly_slot = calloc (self->fly_cap, sizeof *self->fly_slot);
    self->pool = pl_coro_pool_new (PL_CORO_STACK_DEFAULT, all);
    if (!self->slots || !self->order || !self->free || !self->bus_free || !self->fly
    ||  !self->fly_slot || !self->pool) {
        pl_worker__sched_destroy (&self);
        goto cleanup;
    }
    for (size_t i = 0; i < cap; i++)
        self->free[self->nfree++] = &self->slots[cap - 1 - i];
    for (size_t i = 0; i < self->bus_cap; i++)
        self->bus_free[self->nbus_free++] = &self->slots[all - 1 - i];
    if (worker->redis)
        pl_redis_set_defer (worker->redis, s_defer, self);
    pl_info ("coroutine runtime: up to %zu requests at once, stacks of %zu KB, "
             "Redis commands pipelined",
             cap, pl_coro_pool_stack_size (self->pool) / 1024);
cleanup:
    return self;
}

void
pl_worker__sched_destroy (pl_worker__sched_t **self_p)
{
    assert (self_p);
    pl_worker__sched_t *self = *self_p;
    if (!self)
        goto cleanup;
    /* a coroutine still parked is abandoned with its stack (the process is
     * ending); what its slot holds is freed, and the broker answers its
     * request TIMEOUT */
    for (size_t i = 0; i < self->count; i++) {
        pl_worker__slot_t *slot = self->order[i];
        free (slot->call.reply);
        slot->call.reply = NULL;
        if (slot->msg) {
            pl_worker__req_send (self->worker, slot);
            pl_zmsg_close (slot->msg);
        }
        else
        if (slot->call.bus)
            pl_worker__bus_end (self->worker, slot);
        else
            pl_worker__task_end (self->worker, &slot->call);
    }
    if (self->worker->redis)
        pl_redis_set_defer (self->worker->redis, NULL, NULL);
    if (self->pool) {
        bool busy = false;
        for (size_t i = 0; i < self->count; i++)
            busy |= self->order[i]->co != NULL;
        if (!busy)
            pl_coro_pool_destroy (&self->pool);
    }
    free (self->slots);
    free (self->order);
    free (self->free);
    free (self->bus_free);
    free (self->fly);
    free (self->fly_slot);
    free (self);
    *self_p = NULL;
cleanup:
    return;
}

void
pl_worker__sched_log (pl_worker__sched_t *self)
{
    assert (self);
    pl_info ("coroutine runtime: %llu requests, %llu rounds (%.1f commands each, "
             "at most %zu in flight), %llu rounds alone for a transaction, %llu requests "
             "held behind their connection's, %llu periodic tasks (%llu skipped: the last "
             "still ran); deepest stack %zu of %zu bytes",
             (unsigned long long) self->requests, (unsigned long long) self->rounds,
             self->rounds ? (double) self->commands / (double) self->rounds : 0.0,
             self->deepest_fly, (unsigned long long) self->alone_rounds,
             (unsigned long long) self->held_back, (unsigned long long) self->ticks,
             (unsigned long long) self->ticks_skipped,
             self->pool ? pl_coro_pool_high_water (self->pool) : 0,
             self->pool ? pl_coro_pool_stack_size (self->pool) : 0);
}

/* Put slot, its call set up, last in arrival order, held until its
 * connection's earlier requests have been answered (s_start). */
static void
s_enlist (pl_worker__sched_t *self, pl_worker__slot_t *slot)
{
    slot->state = PL_SLOT_HELD;
    slot->co = NULL;
    slot->cmds = NULL;
    slot->ncmds = slot->unread = 0;
    slot->sent = false;
    slot->waited = false;
    slot->alone = false;
    self->order[self->count++] = slot;
}

pl_zmsg_t *
pl_worker__sched_buffer (pl_worker__sched_t *self)
{
    assert (self);
    return self->nfree ? &self->free[self->nfree - 1]->own : NULL;
}

void
pl_worker__sched_take (pl_worker__sched_t *self)
{
    assert (self && self->nfree && self->count <= self->cap);
    pl_worker__slot_t *slot = self->free[--self->nfree];
    slot->msg = &slot->own;
    pl_worker_t *worker = self->worker;
    bool run = pl_worker__req_prepare (worker, slot);
    if (!run && !slot->call.reply) {
        /* dropped (malformed): nothing to answer */
        pl_worker__req_send (worker, slot);
        pl_zmsg_close (slot->msg);
        self->free[self->nfree++] = slot;
        goto cleanup;
    }
    /* answered already (a bad request) or to run: either way it waits for
     * its connection's earlier requests */
    s_enlist (self, slot);
    self->requests++;
cleanup:
    return;
}

bool
pl_worker__sched_tick (pl_worker__sched_t *self)
{
    assert (self && self->worker->tick);
    pl_worker__slot_t *slot = &self->slots[self->cap];
    bool started = false;
    for (size_t i = 0; i < self->count; i++)
        if (self->order[i] == slot) {
            self->ticks_skipped++;
            goto cleanup;                   /* still running: not due twice */
        }
    memset (&slot->call, 0, offsetof (pl_call_t, pub));
    slot->call.worker = self->worker;
    slot->call.task = true;
    slot->msg = NULL;
    slot->arg = NULL;
    snprintf (slot->event, sizeof slot->event, "periodic task");
    slot->started = pl_id_mono_ms ();
    s_enlist (self, slot);                  /* no connection: starts at once */
    self->ticks++;
    started = true;
cleanup:
    return started;
}

pl_worker__slot_t *
pl_worker__sched_bus_slot (pl_worker__sched_t *self)
{
    assert (self);
    return self->nbus_free ? self->bus_free[self->nbus_free - 1] : NULL;
}

void
pl_worker__sched_bus (pl_worker__sched_t *self, pl_worker__slot_t *slot)
{
    assert (self && self->nbus_free && slot == self->bus_free[self->nbus_free - 1]);
    self->nbus_free--;
    s_enlist (self, slot);                  /* no connection: starts at once */
}

/* Does a request live before index i come from the same connection? */
static bool
s_connection_busy (pl_worker__sched_t *self, size_t i)
{
    const pl_caller_t *me = &self->order[i]->call.caller;
    bool busy = false;
    if (!me->gateway || !me->conn)
        goto cleanup;
    for (size_t j = 0; j < i && !busy; j++) {
        const pl_caller_t *other = &self->order[j]->call.caller;
        busy = other->gateway && other->conn && strcmp (other->conn, me->conn) == 0
            && strcmp (other->gateway, me->gateway) == 0;
    }
cleanup:
    return busy;
}

/* The owner's transaction is over: the connection is everybody's again.
 * (Not while its commands are in flight: a WATCH counts once answered.) */
static void
s_check_owner (pl_worker__sched_t *self)
{
    pl_redis_t *redis = self->worker->redis;
    if (self->owner && !self->owner->alone && !(self->owner->sent && self->owner->unread)
    &&  (!redis || !pl_redis_in_txn (redis)))
        self->owner = NULL;
}

/* Resume slot's coroutine until it parks on commands or returns. */
static void
s_resume (pl_worker__sched_t *self, pl_worker__slot_t *slot)
{
    pl_worker_t *worker = self->worker;
    self->running = slot;
    /* the request id is the running coroutine's: set on every switch into
     * one, cleared on every switch back (a yield on Redis, or its end) */
    pl_worker__slot_rid (slot);
    bool ended = pl_coro_resume (slot->co);
    pl_log_set_rid (NULL, 0);
    self->running = NULL;
    if (!ended) {
        assert (slot->cmds && slot->ncmds);     /* it parks only in s_defer */
        slot->state = PL_SLOT_WAITING;
        s_check_owner (self);               /* its transaction may have ended */
        goto cleanup;
    }
    slot->co = NULL;
    slot->state = PL_SLOT_DONE;
    /* nothing a handler left open survives it. Only the owner can have
     * left anything, and while there is one nobody else runs; the owner
     * has the connection to itself (every earlier reply came before its
     * own), so the reset may talk to Redis synchronously */
    if (worker->redis && (!self->owner || self->owner == slot)) {
        assert (!self->owner || self->nfly == 0);
        pl_redis_reset (worker->redis);
    }
    if (self->owner == slot)
        self->owner = NULL;
    if (slot->msg)
        pl_worker__req_after (worker, slot);
cleanup:
    return;
}

/* Every command in flight failed: their replies stay NULL, so each
 * handler answers INTERNAL "storage unavailable" (unless it had
 * committed) and carries on from there. */
static void
s_fail_inflight (pl_worker__sched_t *self)
{
    for (size_t i = 0; i < self->nfly; i++) {
        pl_worker__slot_t *slot = self->fly_slot[i];
        slot->unread = 0;
        slot->state = PL_SLOT_RUNNABLE;
    }
    self->nfly = 0;
    self->fly_fresh = false;
    s_check_owner (self);
}

int
pl_worker__sched_fd (pl_worker__sched_t *self)
{
    assert (self);
    return self->nfly && self->worker->redis ? pl_redis_fd (self->worker->redis) : -1;
}

int64_t
pl_worker__sched_deadline (pl_worker__sched_t *self)
{
    assert (self);
    return self->nfly ? self->fly_progress + pl_redis_command_ms (self->worker->redis)
                      : INT64_MAX;
}

void
pl_worker__sched_on_redis (pl_worker__sched_t *self)
{
    assert (self);
    pl_redis_t *redis = self->worker->redis;
    if (!self->nfly || !redis)
        goto cleanup;
    bool stale = false;
    long got = pl_redis_recv (redis, self->fly, self->nfly, &stale);
    if (got < 0) {
        /* closed before it read anything (Redis restarted while we were
         * idle): write them all again, once, on a new connection */
        if (stale && self->fly_fresh && !pl_redis_in_txn (redis)
        &&  pl_redis_send (redis, self->fly, self->nfly, true) == 0) {
            self->fly_fresh = false;
            self->fly_progress = pl_id_mono_ms ();
            goto cleanup;
        }
        s_fail_inflight (self);
        goto cleanup;
    }
    double now = got > 0 ? pl_id_mono_s () : 0;
    for (long i = 0; i < got; i++) {
        pl_worker__slot_t *slot = self->fly_slot[i];
        slot->call.reply_pos = ++self->reply_pos;
        assert (slot->unread > 0);
        if (--slot->unread == 0) {
            slot->state = PL_SLOT_RUNNABLE;
            /* its commands' round trip, as its handler waited for it */
            pl_redis_observe (redis, now - slot->sent_at);
        }
    }
    if (got > 0) {
        size_t left = self->nfly - (size_t) got;
        memmove (self->fly, self->fly + got, left * sizeof *self->fly);
        memmove (self->fly_slot, self->fly_slot + got, left * sizeof *self->fly_slot);
        self->nfly = left;
        self->fly_fresh = false;
        self->fly_progress = pl_id_mono_ms ();
    }
    s_check_owner (self);
cleanup:
    return;
}

void
pl_worker__sched_on_timer (pl_worker__sched_t *self, int64_t now)
{
    assert (self);
    if (!self->nfly || now < pl_worker__sched_deadline (self))
        goto cleanup;
    /* Overdue by the clock - but the loop itself may have been away for
     * longer than the timeout (a loaded box descheduling this process, a
     * long pass of handlers) while the replies came in. What the socket
     * holds is read first, and only a round still unanswered after that
     * is given up: a reply that is here is never thrown away with its
     * connection (that answered requests "storage unavailable" that Redis
     * had served). */
    struct pollfd pfd = { pl_worker__sched_fd (self), POLLIN, 0 };
    if (pfd.fd >= 0 && poll (&pfd, 1, 0) > 0) {
        pl_worker__sched_on_redis (self);
        if (!self->nfly || pl_id_mono_ms () < pl_worker__sched_deadline (self))
            goto cleanup;
    }
    char why[96];
    snprintf (why, sizeof why, "no reply within %d ms, %zu commands in flight",
              pl_redis_command_ms (self->worker->redis), self->nfly);
    pl_redis_abort (self->worker->redis, why);
    s_fail_inflight (self);
cleanup:
    return;
}

/* Does any of slot's parked commands begin a transaction? */
static bool
s_starts_txn (const pl_worker__slot_t *slot)
{
    bool starts = false;
    for (size_t k = 0; k < slot->ncmds && !starts; k++)
        starts = pl_redis_starts_txn (slot->cmds[k]->cmd, slot->cmds[k]->len);
    return starts;
}

/* Append slot's commands to the flight list. */
static void
s_board (pl_worker__sched_t *self, pl_worker__slot_t *slot, double now)
{
    assert (self->nfly + slot->ncmds <= self->fly_cap);
    for (size_t k = 0; k < slot->ncmds; k++) {
        self->fly[self->nfly + k] = slot->cmds[k];
        self->fly_slot[self->nfly + k] = slot;
    }
    self->nfly += slot->ncmds;
    slot->sent = true;
    slot->sent_at = now;
}

/* Write the parked commands as one round. A transaction's commands go
 * last and make their slot the owner; while there is an owner, only its
 * commands go. Returns true when something changed for the next pass (the
 * write failed, and the round's handlers have their NULL replies). */
static bool
s_write_round (pl_worker__sched_t *self)
{
    pl_redis_t *redis = self->worker->redis;
    size_t first = self->nfly;
    pl_worker__slot_t *starter = NULL;
    bool moved = false;
    double now = pl_id_mono_s ();       /* for the round trip's metric */
    for (size_t i = 0; i < self->count; i++) {
        pl_worker__slot_t *slot = self->order[i];
        if (slot->state != PL_SLOT_WAITING || slot->sent
        ||  (self->owner && self->owner != slot))
            continue;
        if (!self->owner && (slot->alone || s_starts_txn (slot))) {
            starter = starter ? starter : slot;     /* the others wait their turn */
            continue;
        }
        s_board (self, slot, now);
    }
    if (starter) {
        s_board (self, starter, now);
        self->owner = starter;
    }
    size_t n = self->nfly - first;
    if (n == 0)
        goto cleanup;
    assert (redis);                         /* only a connection parks commands */
    bool idle = first == 0;
    if (pl_redis_send (redis, self->fly + first, n, idle) != 0) {
        s_fail_inflight (self);             /* the connection went with them */
        moved = true;
        goto cleanup;
    }
    if (self->nfly > self->deepest_fly)
        self->deepest_fly = self->nfly;
    if (idle) {
        self->fly_fresh = true;
        self->fly_progress = pl_id_mono_ms ();
    }
    self->rounds++;
    self->commands += n;
    self->worker->stats.rounds++;
    self->worker->stats.round_commands += n;
    if (self->owner && !starter)
        self->alone_rounds++;
cleanup:
    return moved;
}

/* Start what may start: a held slot whose connection has nothing earlier
 * live. Returns true when one started. */
static bool
s_start (pl_worker__sched_t *self)
{
    bool moved = false;
    for (size_t i = 0; i < self->count; i++) {
        pl_worker__slot_t *slot = self->order[i];
        if (slot->state != PL_SLOT_HELD)
            continue;
        if (s_connection_busy (self, i)) {
            if (!slot->waited)
                self->held_back++;
            slot->waited = true;
            continue;
        }
        moved = true;
        if (slot->call.reply) {
            slot->state = PL_SLOT_DONE;     /* answered on arrival */
            continue;
        }
        slot->co = pl_coro_start (self->pool, s_main, slot);
        slot->state = PL_SLOT_RUNNABLE;
        slot->run_at = pl_id_mono_s ();
        if (!slot->co) {
            pl_error ("%s: no coroutine (out of memory)", slot->event);
            if (slot->msg)
                pl_call_error (&slot->call, PL_ERR_INTERNAL, "out of memory");
            slot->state = PL_SLOT_DONE;
        }
    }
    return moved;
}

/* Publish the held events of the calls that committed before every call
 * still running that has committed. Calls end out of commit order (one
 * has follow-up rounds after its commit, another reruns after losing to
 * it and ends first), but their events must tell the change in the order
 * it happened. After a pass every call whose commit reply was read has
 * been resumed and has said so (pl_call_commit), and a call that has not
 * committed yet will commit later than every reply read so far. */
static void
s_release_events (pl_worker__sched_t *self)
{
    uint64_t before = 0;
    for (size_t i = 0; i < self->count; i++) {
        uint64_t pos = self->order[i]->call.commit_pos;
        if (pos && (before == 0 || pos < before))
            before = pos;
    }
    pl_worker__events_release (self->worker, before);
}

void
pl_worker__sched_step (pl_worker__sched_t *self)
{
    assert (self);
    pl_worker_t *worker = self->worker;
    bool moved = true;
    while (moved) {
        moved = s_start (self);
        /* a pass: everyone with something to do, in arrival order (only
         * the owner while a transaction holds the connection) */
        for (size_t i = 0; i < self->count; i++) {
            pl_worker__slot_t *slot = self->order[i];
            if (slot->state == PL_SLOT_RUNNABLE && (!self->owner || self->owner == slot)) {
                s_resume (self, slot);
                moved = true;
            }
        }
        /* the replies of those that ended, each followed by its events */
        size_t kept = 0;
        for (size_t i = 0; i < self->count; i++) {
            pl_worker__slot_t *slot = self->order[i];
            if (slot->state != PL_SLOT_DONE) {
                self->order[kept++] = slot;
                continue;
            }
            if (slot->msg) {
                pl_worker__req_send (worker, slot);
                pl_zmsg_close (slot->msg);
                slot->msg = NULL;
                self->free[self->nfree++] = slot;
            }
            else
            if (slot->call.bus) {
                pl_worker__bus_end (worker, slot);
                self->bus_free[self->nbus_free++] = slot;
            }
            else
                pl_worker__task_end (worker, &slot->call);
            moved = true;                   /* a held one may start now */
        }
        self->count = kept;
        s_release_events (self);
        moved |= s_write_round (self);
    }
}

void
pl_worker__sched_drain (pl_worker__sched_t *self, int timeout_ms)
{
    assert (self);
    int64_t until = pl_id_mono_ms () + timeout_ms;
    pl_worker__sched_step (self);
    while (self->count > 0 && pl_worker__sched_fd (self) >= 0) {
        int64_t now = pl_id_mono_ms ();
        if (now >= until) {
            pl_warn ("coroutine runtime: %zu requests unfinished at exit", self->count);
            break;
        }
        int64_t next = pl_worker__sched_deadline (self);
        next = next < until ? next : until;
        struct pollfd pfd = { pl_worker__sched_fd (self), POLLIN, 0 };
        if (poll (&pfd, 1, next > now ? (int) (next - now) : 0) > 0)
            pl_worker__sched_on_redis (self);
        pl_worker__sched_on_timer (self, pl_id_mono_ms ());
        pl_worker__sched_step (self);
    }
}
