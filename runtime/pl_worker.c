/*  pl_worker - the worker runtime: broker protocol, dispatch, event bus.
 *
 *  Wire format: proto/README.md, sections "Backend: worker <-> broker" and
 *  "Event bus". One thread, one zmq_poll loop (pl_worker_run) over the
 *  broker socket, the stop signal and the Redis fd; handlers run inside
 *  it, as coroutines whose Redis commands share pipelined rounds
 *  (pl_worker_sched.c), or one request at a time (PARLEY_WORKER_BATCH=0).
 *  What a handler calls (pl_call_*) is in pl_call.c; a request's way
 *  through (checks, reply, its events in commit order) is in
 *  pl_worker_req.c; the selftest is in pl_worker_test.c.
 *
 *  This file holds the broker connection (registration, heartbeats,
 *  reconnects), the worker's life and its loop.
 */
#include "pl_worker_int.h"
#include "pl_config.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_zmsg.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

/* Messages read per wake-up before timers and signals get a look in, so a
 * flood of requests cannot starve the heartbeat or a SIGTERM. */
#define S_BATCH_MAX     64
/* How long close waits to flush our BYE / last events at shutdown. */
#define S_LINGER_MS     200
#define S_STORAGE_RETRY_MS 250  /* PING a Redis not answering yet this often */

/* --------------------------------------------------------------------- */
/* Broker connection                                                      */

/* Send a command on the backend: PL01 cmd [extra parts]. */
int
pl_worker__send_broker (pl_worker_t *self, const pl_zmsg_part_t *extra, int nextra,
                        const char *cmd)
{
    pl_zmsg_part_t parts[8] = {
        { PL_PROTO_VERSION, 4 }, { cmd, strlen (cmd) }
    };
    assert (nextra + 2 <= 8);
    for (int i = 0; i < nextra; i++)
        parts[2 + i] = extra[i];
    int rc = -1;
    if (!self->broker)
        goto cleanup;
    rc = pl_zmsg_send (self->broker, parts, nextra + 2);
    if (rc == 0)
        self->heartbeat_at = pl_id_mono_ms () + self->heartbeat_ms;
    else
    if (strcmp (cmd, PL_CMD_HEARTBEAT) == 0)
        pl_debug ("cannot send HB to the broker: %s", zmq_strerror (errno));
    else
        pl_warn ("cannot send %s to the broker: %s; dropped", cmd, zmq_strerror (errno));
cleanup:
    return rc;
}

/* Open a new DEALER; READY goes once it is connected (s_send_ready).
 *
 * A new socket, not a reconnect of the old one: the broker knows workers by
 * identity, and a fresh one is unambiguously a new registration (README,
 * Backend). ZMQ_IMMEDIATE queues nothing until the connection is up, so
 * READY is sent when the broker can hear it and the liveness window starts
 * then. Queued early instead, a READY could reach a restarting broker just
 * before our liveness timer fired, and we would drop a socket the broker
 * had just registered - and the requests it sent there. */
static void
s_broker_connect (pl_worker_t *self)
{
    self->registered = false;
    self->ready_pending = true;
    /* a new registration waits for the storage again (s_check_storage) */
    self->storage_ok = !(self->redis_before_ready && self->redis);
    self->storage_at = self->storage_ok ? INT64_MAX : pl_id_mono_ms ();
    self->broker_expiry = INT64_MAX;    /* no liveness until READY is out */
    self->broker = zmq_socket (self->zctx, ZMQ_DEALER);
    int linger = 0, immediate = 1;
    if (!self->broker
    ||  zmq_setsockopt (self->broker, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (self->broker, ZMQ_IMMEDIATE, &immediate, sizeof immediate)
    ||  zmq_connect (self->broker, self->broker_endpoint)) {
        pl_error ("cannot connect to broker %s: %s", self->broker_endpoint,
                  zmq_strerror (errno));
        if (self->broker)
            zmq_close (self->broker);
        self->broker = NULL;
        self->ready_pending = false;
        /* try again after a liveness window */
        self->broker_expiry = pl_id_mono_ms () + (int64_t) self->heartbeat_ms * self->liveness;
    }
}

/* Before READY: can we reach Redis? A worker that registers first takes
 * requests it can only answer INTERNAL "storage unavailable" (the broker
 * and /healthz count it as ready); one that waits is simply not there yet,
 * and the broker answers its service's callers as it does for any service
 * with no worker. A live connection is trusted as it is (handlers may have
 * rounds in flight on it: no synchronous command may go between them);
 * without one nothing is in flight, and a PING connects and proves it.
 * Not answering: try again in S_STORAGE_RETRY_MS, on the loop's timer.
 * Runs on the worker loop. */
static void
s_check_storage (pl_worker_t *self, int64_t now)
{
    bool ok = pl_redis_connected (self->redis);
    if (!ok) {
        redisReply *reply = pl_redis_command (self->redis, "PING");
        ok = reply && reply->type != REDIS_REPLY_ERROR;
        if (reply && !ok)
            pl_error ("redis: PING answered %s", reply->str);
        if (reply)
            freeReplyObject (reply);
    }
    if (ok) {
        if (self->storage_logged)
            pl_info ("redis answers: registering with the broker now");
        self->storage_ok = true;
        self->storage_logged = false;
        self->storage_at = INT64_MAX;
    }
    else {
        if (!self->storage_logged)
            pl_warn ("redis %s does not answer: not registering with the broker "
                     "until it does (trying every %d ms)",
                     pl_redis_url (self->redis), S_STORAGE_RETRY_MS);
        self->storage_logged = true;
        self->storage_at = now + S_STORAGE_RETRY_MS;
    }
}

/* The new socket is connected: READY service credit. */
static void
s_send_ready (pl_worker_t *self)
{
    char credit[24];
    snprintf (credit, sizeof credit, "%d", self->credit);
    pl_zmsg_part_t extra[] = {
        { self->service, strlen (self->service) }, { credit, strlen (credit) }
    };
    self->ready_pending = false;
    self->broker_expiry = pl_id_mono_ms () + (int64_t) self->heartbeat_ms * self->liveness;
    if (pl_worker__send_broker (self, extra, 2, PL_CMD_READY) == 0)
        self->stats.registrations++;
}

/* Drop the broker socket (anything queued in it is lost: the broker answers
 * those requests TIMEOUT when it declares us dead) and register again. */
static void
s_broker_reconnect (pl_worker_t *self, const char *why)
{
    if (!self->lost_logged)
        pl_info ("broker lost (%s), reconnecting to %s", why, self->broker_endpoint);
    else
        pl_debug ("broker still lost (%s), reconnecting", why);
    self->lost_logged = true;
    if (self->broker)
        zmq_close (self->broker);
    self->broker = NULL;
    s_broker_connect (self);
}

/* A REQ, one at a time (PARLEY_WORKER_BATCH=0): the handler runs here,
 * synchronously, on the worker loop. */
static void
s_on_request (pl_worker_t *self, pl_zmsg_t *msg)
{
    pl_worker__slot_t slot;
    slot.msg = msg;
    if (pl_worker__req_prepare (self, &slot)) {
        slot.run_at = pl_id_mono_s ();
        pl_worker__slot_rid (&slot);        /* the handler's lines name its request */
        do {
            if (slot.call.attempt)
                self->stats.retries++;
            self->handler[slot.call.event] (&slot.call, slot.arg);
            if (self->redis)
                pl_redis_reset (self->redis);   /* nothing a handler left open survives it */
        } while (pl_worker__call_retry (&slot.call));
        pl_log_set_rid (NULL, 0);
        pl_worker__req_after (self, &slot);
    }
    pl_worker__req_send (self, &slot);
}

/* One message from the broker. Runs on the worker loop. Returns true when
 * the coroutine runtime kept it (a REQ it runs from its slot), false when
 * it is done with and the caller closes it. */
static bool
s_on_broker (pl_worker_t *self, pl_zmsg_t *msg)
{
    bool kept = false;
    if (!pl_zmsg_is (msg, 0, PL_PROTO_VERSION) || msg->count < 2) {
        pl_warn ("dropped a broker message that is not " PL_PROTO_VERSION);
        self->stats.dropped++;
        goto cleanup;
    }
    /* any well-formed message proves the broker alive */
    self->broker_expiry = pl_id_mono_ms () + (int64_t) self->heartbeat_ms * self->liveness;
    if (pl_zmsg_is (msg, 1, PL_CMD_DISCONNECT)) {
        s_broker_reconnect (self, "it said BYE");
        goto cleanup;
    }
    if (!self->registered) {
        pl_info ("registered with broker %s as \"%s\" (credit %d)",
                 self->broker_endpoint, self->service, self->credit);
        self->registered = true;
        self->lost_logged = false;
    }
    if (pl_zmsg_is (msg, 1, PL_CMD_REQ)) {
        if (self->sched) {
            assert (msg == pl_worker__sched_buffer (self->sched));
            pl_worker__sched_take (self->sched);
            kept = true;
        }
        else
            s_on_request (self, msg);
    }
    else
    if (!pl_zmsg_is (msg, 1, PL_CMD_HEARTBEAT)) {
        char cmd[16];
        pl_worker__printable (cmd, sizeof cmd, &msg->frame[1]);
        pl_warn ("dropped unexpected broker command \"%s\"", cmd);
        self->stats.dropped++;
    }
cleanup:
    return kept;
}

/* --------------------------------------------------------------------- */
/* The worker                                                             */

bool
pl_worker_handlers_valid (const char *service, const pl_handler_t *handlers, size_t count)
{
    bool seen[PL_EV_COUNT] = { false };
    size_t expected = 0;
    if (!service || (!handlers && count))
        return false;
    for (int i = 0; i < PL_EV_COUNT; i++)
        if (strcmp (pl_proto_event ((pl_event_id_t) i)->service, service) == 0)
            expected++;
    for (size_t i = 0; i < count; i++) {
        int ev = (int) handlers[i].event;
        if (ev < 0 || ev >= PL_EV_COUNT || !handlers[i].fn || seen[ev]
        ||  strcmp (pl_proto_event ((pl_event_id_t) ev)->service, service) != 0)
            return false;
        seen[ev] = true;
    }
    /* every row was distinct and ours; so all are covered iff counts match */
    return expected > 0 && count == expected;
}

pl_worker_t *
pl_worker_new (const pl_worker_opts_t *opts)
{
    assert (opts && opts->service && opts->broker_endpoint && opts->events_endpoint);
    assert (pl_worker_handlers_valid (opts->service, opts->handlers, opts->count));
    pl_worker_t *self = NULL;
    if (opts->heartbeat_ms <= 0 || opts->liveness <= 0 || opts->credit <= 0) {
        pl_error ("heartbeat interval, liveness and credit must be positive "
                  "(got %d, %d, %d)", opts->heartbeat_ms, opts->liveness, opts->credit);
        goto cleanup;
    }
    self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    for (size_t i = 0; i < opts->count; i++)
        self->handler[opts->handlers[i].event] = opts->handlers[i].fn;
    self->config = opts->config;
    if (!self->config)
        self->config = self->own_config = pl_config_new ();
    if (!self->config)
        goto fail;
    self->service = strdup (opts->service);
    self->broker_endpoint = strdup (opts->broker_endpoint);
    self->events_endpoint = strdup (opts->events_endpoint);
    self->heartbeat_ms = opts->heartbeat_ms;
    self->liveness = opts->liveness;
    self->credit = opts->credit;
    self->signal_fd = opts->signal_fd;
    self->tick = opts->tick;
    self->tick_ms = opts->tick_ms > 0 ? opts->tick_ms : 1000;
    self->tick_at = pl_id_mono_ms () + self->tick_ms;
    self->wake_at = INT64_MAX;
    self->zctx = zmq_ctx_new ();
    self->redis_before_ready = opts->redis_before_ready;
    if (!self->service || !self->broker_endpoint || !self->events_endpoint || !self->zctx)
        goto fail;
    if (opts->redis_url) {
        self->redis = pl_redis_new (opts->redis_url);
        if (!self->redis)
            goto fail;
    }
    if (pl_worker__metrics_open (self))
        goto fail;
    self->events = zmq_socket (self->zctx, ZMQ_PUB);
    int linger = S_LINGER_MS;
    if (!self->events
    ||  zmq_setsockopt (self->events, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_connect (self->events, self->events_endpoint)) {
        pl_error ("cannot connect to event proxy %s: %s", self->events_endpoint,
                  zmq_strerror (errno));
        goto fail;
    }
    if (pl_worker__sub_open (self, opts))
        goto fail;
    /* handlers as coroutines over one Redis pipeline, unless
     * PARLEY_WORKER_BATCH=0 asks for one request at a time */
    if (pl_config_int (self->config, PL_CFG_WORKER_BATCH) != 0) {
        self->sched = pl_worker__sched_new (self, (size_t) self->credit);
        if (!self->sched)
            goto fail;
    }
    else
        pl_info ("one request at a time (PARLEY_WORKER_BATCH=0)");
    s_broker_connect (self);
    if (!self->broker)
        goto fail;
    goto cleanup;
fail:
    pl_worker_destroy (&self);
cleanup:
    return self;
}

void
pl_worker_destroy (pl_worker_t **self_p)
{
    assert (self_p);
    pl_worker_t *self = *self_p;
    if (!self)
        return;
    if (self->sched) {
        /* what has started finishes, and its replies go out before BYE */
        pl_worker__sched_drain (self->sched, 2 * (self->redis ? pl_redis_command_ms (self->redis)
                                                              : 1000));
        pl_worker__sched_log (self->sched);
    }
    pl_worker__sched_destroy (&self->sched);
    pl_worker__events_release (self, 0);    /* whatever still waited its turn */
    free (self->held);
    self->held = NULL;
    if (self->broker) {
        /* BYE so the broker forgets us now, not after a liveness window
         * (unless it never heard our READY) */
        if (!self->ready_pending)
            pl_worker__send_broker (self, NULL, 0, PL_CMD_DISCONNECT);
        int linger = S_LINGER_MS;
        zmq_setsockopt (self->broker, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close (self->broker);
    }
    if (self->events)
        zmq_close (self->events);
    pl_worker__sub_close (self);
    if (self->zctx)
        zmq_ctx_term (self->zctx);      /* waits at most S_LINGER_MS */
    pl_worker__metrics_close (self);
    pl_redis_destroy (&self->redis);
    pl_config_destroy (&self->own_config);
    free (self->service);
    free (self->broker_endpoint);
    free (self->events_endpoint);
    free (self);
    *self_p = NULL;
}

void
pl_worker_stop (pl_worker_t *self)
{
    assert (self);
    self->stopped = true;
}

pl_worker_stats_t
pl_worker_stats (pl_worker_t *self)
{
    assert (self);
    return self->stats;
}

/* The periodic task, as a call that answers nobody: its Redis commands
 * go through pl_call_*. In the coroutine runtime it is a coroutine of its
 * own (it shares rounds with the handlers, and load cannot starve it);
 * one request at a time, it runs here, synchronously. Worker loop. */
static bool
s_run_tick (pl_worker_t *self)
{
    bool started = true;
    if (self->sched) {
        started = pl_worker__sched_tick (self->sched);  /* skipped while the last runs */
        if (started)
            self->task_running = true;      /* it runs at the next step */
        goto cleanup;
    }
    self->task_running = true;
    pl_call_t call = { .worker = self, .task = true };
    do {
        if (call.attempt)
            self->stats.retries++;
        self->tick (&call);
        if (self->redis)
            pl_redis_reset (self->redis);
    } while (pl_worker__call_retry (&call));
    pl_worker__task_end (self, &call);
cleanup:
    return started;
}

/* Timers: heartbeat when we have been quiet, reconnect when the broker has,
 * the periodic task when due, an overdue Redis reply. Runs on the worker
 * loop, before each poll. */
static void
s_on_timers (pl_worker_t *self, int64_t now)
{
    if (self->tick && now >= pl_worker__wake_next (self)) {
        bool woken = pl_worker__wake_start (self, now);
        if (!s_run_tick (self) && woken)
            self->wake_after_task = true;   /* when the running turn ends */
        now = pl_id_mono_ms ();
        self->tick_at = now + self->tick_ms;
    }
    if (self->sched) {
        pl_worker__sched_on_timer (self->sched, now);
        pl_worker__sched_step (self->sched);    /* a task just started, say */
        now = pl_id_mono_ms ();
    }
    if (self->broker && self->ready_pending && !self->storage_ok && now >= self->storage_at)
        s_check_storage (self, now);
    if (now >= self->broker_expiry) {
        char why[64];
        snprintf (why, sizeof why, "silent for %lld ms",
                  (long long) self->heartbeat_ms * self->liveness);
        s_broker_reconnect (self, why);
    }
    /* the metrics HB goes even while replies flow (they put the plain
     * one off: pl_worker__send_broker), and counts as the heartbeat */
    if (pl_worker__metrics_push (self, now))
        self->stats.heartbeats_sent++;
    if (self->broker && !self->ready_pending && now >= self->heartbeat_at
    &&  pl_worker__send_broker (self, NULL, 0, PL_CMD_HEARTBEAT) == 0)
        self->stats.heartbeats_sent++;
}

/* signal_fd is readable. Runs on the worker loop. */
static void
s_on_signal (pl_worker_t *self)
{
    struct signalfd_siginfo info;
    ssize_t n = read (self->signal_fd, &info, sizeof info);
    if (n == (ssize_t) sizeof info) {
        pl_info ("signal %u (%s): stopping", info.ssi_signo, strsignal ((int) info.ssi_signo));
        self->stopped = true;
    }
}

int
pl_worker_run (pl_worker_t *self, int timeout_ms)
{
    assert (self);
    int64_t now = pl_id_mono_ms ();
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
    while (!self->stopped && now < deadline) {
        s_on_timers (self, now);
        int64_t next = self->broker_expiry;
        if (self->broker && !self->ready_pending && self->heartbeat_at < next)
            next = self->heartbeat_at;
        if (self->broker && !self->ready_pending && self->metrics_at < next)
            next = self->metrics_at;
        if (self->tick && pl_worker__wake_next (self) < next)
            next = pl_worker__wake_next (self);
        if (self->broker && self->ready_pending && !self->storage_ok
        &&  self->storage_at < next)
            next = self->storage_at;
        if (deadline < next)
            next = deadline;
        if (self->sched && pl_worker__sched_deadline (self->sched) < next)
            next = pl_worker__sched_deadline (self->sched);
        zmq_pollitem_t items[4];
        int nitems = 0;
        int broker_at = -1, signal_at = -1, redis_at = -1, bus_at = -1;
        if (self->broker) {
            /* POLLOUT only while waiting to connect: a connected DEALER
             * is always writable, and polling for it would spin */
            short events = ZMQ_POLLIN
                         | (self->ready_pending && self->storage_ok ? ZMQ_POLLOUT : 0);
            /* every slot busy: the broker sends no more than our credit,
             * so what waits is a heartbeat at most, read once a handler
             * has answered (within the Redis command timeout); polling
             * for it now would spin */
            if (self->sched && !pl_worker__sched_buffer (self->sched))
                events &= (short) ~ZMQ_POLLIN;
            items[nitems] = (zmq_pollitem_t) { self->broker, 0, events, 0 };
            broker_at = nitems++;
        }
        if (self->signal_fd >= 0) {
            items[nitems] = (zmq_pollitem_t) { NULL, self->signal_fd, ZMQ_POLLIN, 0 };
            signal_at = nitems++;
        }
        if (self->sched && pl_worker__sched_fd (self->sched) >= 0) {
            items[nitems] = (zmq_pollitem_t) { NULL, pl_worker__sched_fd (self->sched),
                                               ZMQ_POLLIN, 0 };
            redis_at = nitems++;
        }
        if (pl_worker__sub_wants (self)) {
            /* not while every bus slot is busy (pl_worker_sub.c) */
            items[nitems] = (zmq_pollitem_t) { self->bus, 0, ZMQ_POLLIN, 0 };
            bus_at = nitems++;
        }
        long wait = next > now ? (long) (next - now) : 0;
        int rc = zmq_poll (items, nitems, wait);
        if (rc == -1 && errno != EINTR) {
            pl_error ("zmq_poll: %s", zmq_strerror (errno));
            break;
        }
        if (rc > 0 && signal_at >= 0 && (items[signal_at].revents & ZMQ_POLLIN))
            s_on_signal (self);
        if (rc > 0 && broker_at >= 0 && self->ready_pending && self->storage_ok
        &&  (items[broker_at].revents & ZMQ_POLLOUT))
            s_send_ready (self);
        /* replies first (they free handlers), then new requests (into
         * free slots), then everything that can move */
        if (rc > 0 && redis_at >= 0 && (items[redis_at].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            pl_worker__sched_on_redis (self->sched);
        if (rc > 0 && broker_at >= 0 && (items[broker_at].revents & ZMQ_POLLIN)) {
            pl_zmsg_t local;
            for (int i = 0; i < S_BATCH_MAX && !self->stopped && self->broker; i++) {
                pl_zmsg_t *msg = self->sched ? pl_worker__sched_buffer (self->sched) : &local;
                if (!msg || pl_zmsg_recv (self->broker, msg) != 0)
                    break;
                if (!s_on_broker (self, msg))
                    pl_zmsg_close (msg);
            }
        }
        if (rc > 0 && bus_at >= 0 && (items[bus_at].revents & ZMQ_POLLIN))
            pl_worker__sub_read (self);
        if (self->sched)
            pl_worker__sched_step (self->sched);
        now = pl_id_mono_ms ();
    }
    return self->stopped ? 1 : 0;
}

/* --------------------------------------------------------------------- */

int
pl_worker_main (const char *service, const pl_handler_t *handlers, size_t count)
{
    return pl_worker_main_tick (service, handlers, count, NULL, 0);
}

int
pl_worker_main_tick (const char *service, const pl_handler_t *handlers, size_t count,
                     pl_task_fn *tick, int tick_ms)
{
    pl_worker_extra_t extra = { .tick = tick, .tick_ms = tick_ms };
    return pl_worker_main_opts (service, handlers, count, &extra);
}

int
pl_worker_main_opts (const char *service, const pl_handler_t *handlers, size_t count,
                     const pl_worker_extra_t *extra)
{
    assert (extra);
    int code = 1;
    int sfd = -1;
    pl_worker_t *worker = NULL;
    char process[64];
    snprintf (process, sizeof process, "parley-%s", service);
    pl_log_init (process, getenv ("PARLEY_LOG_LEVEL"), getenv ("PARLEY_LOG_FORMAT"));
    pl_config_t *cfg = pl_config_new ();
    if (!cfg)
        goto cleanup;
    pl_log_init (process, pl_config_str (cfg, PL_CFG_LOG_LEVEL),
                 pl_config_str (cfg, PL_CFG_LOG_FORMAT));
    pl_config_log (cfg);

    /* hiredis writes to its socket directly; a Redis that went away must
     * be an error return, not a SIGPIPE death */
    signal (SIGPIPE, SIG_IGN);
    /* SIGINT/SIGTERM arrive as a readable fd in the poll set, so a handler
     * is never interrupted half-way and the loop says BYE on the way out */
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGINT);
    sigaddset (&mask, SIGTERM);
    if (sigprocmask (SIG_BLOCK, &mask, NULL) == -1
    ||  (sfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
        pl_error ("signalfd: %s", strerror (errno));
        goto cleanup;
    }
    pl_worker_opts_t opts = {
        .service = service,
        .handlers = handlers,
        .count = count,
        .broker_endpoint = pl_config_str (cfg, PL_CFG_BROKER_BACKEND),
        .events_endpoint = pl_config_str (cfg, PL_CFG_EVENTS_XSUB),
        .redis_url = pl_config_str (cfg, PL_CFG_REDIS_URL),
        .heartbeat_ms = (int) pl_config_int (cfg, PL_CFG_HEARTBEAT_MS),
        .liveness = (int) pl_config_int (cfg, PL_CFG_HEARTBEAT_LIVENESS),
        .credit = (int) pl_config_int (cfg, PL_CFG_WORKER_CREDIT),
        .signal_fd = sfd,
        .config = cfg,
        .tick = extra->tick,
        .tick_ms = extra->tick_ms,
        .bus_endpoint = pl_config_str (cfg, PL_CFG_EVENTS_XPUB),
        .subscribe = extra->subscribe,
        .on_bus = extra->on_bus,
        .redis_before_ready = true,
    };
    worker = pl_worker_new (&opts);
    if (!worker)
        goto cleanup;
    pl_info ("worker \"%s\" started: broker %s, events %s", service,
             opts.broker_endpoint, opts.events_endpoint);
    pl_worker_run (worker, -1);
    pl_worker_stats_t stats = pl_worker_stats (worker);
    pl_info ("stopped after %llu requests, %llu events published, %llu registrations",
             (unsigned long long) stats.requests, (unsigned long long) stats.published,
             (unsigned long long) stats.registrations);
    code = 0;
cleanup:
    pl_worker_destroy (&worker);
    pl_config_destroy (&cfg);
    if (sfd >= 0)
        close (sfd);
    return code;
}
