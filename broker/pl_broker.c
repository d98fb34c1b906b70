/*  pl_broker - the Majordomo-style request broker: the wire half.
 *
 *  Spec: proto/README.md, "Frontend: client (gateway) <-> broker" and
 *  "Backend: worker <-> broker". This file owns the sockets, checks and
 *  reshapes every message, runs the heartbeat tick and holds the public
 *  API; pl_broker_dispatch.c holds the state (services, workers, queue)
 *  and decides where a request goes. Everything runs on the one zloop the
 *  broker is attached to: single-threaded, no locks.
 *
 *  Cost per message: the sockets are read through a pl_pump (their ZMQ_FD
 *  on the loop, drained in batches), each message into a pl_zmsg_t on the
 *  stack, and forwarded by moving its frames: no allocation but the one
 *  that tracks a request a worker holds. What a request costs the broker
 *  beyond that is libzmq's: its I/O thread and the wakeups between it and
 *  this loop (docs/BENCHMARKS.md, "The broker's CPU per request").
 *
 *  Bad input never crashes the broker and never asserts: a message with a
 *  wrong version or shape is dropped with a (rate-limited) warning, or
 *  answered VALIDATION_ERROR when it carries a request id to answer.
 *
 *  Overload: a full queue answers SERVICE_UNAVAILABLE at once; a request
 *  that no worker takes within queue_timeout_ms is answered
 *  SERVICE_UNAVAILABLE at that deadline (a one-shot timer armed for the
 *  earliest queued deadline; zloop's resolution is 1 ms), so a gateway
 *  whose request timeout exceeds the queue timeout hears SERVICE_UNAVAILABLE
 *  before its own TIMEOUT would fire. A worker is never sent more
 *  than its credit, and the credit (<= PL_BROKER_CREDIT_MAX) stays below
 *  the ROUTER's HWM, so the ROUTER never drops a request to a live worker.
 *  Replies to a gateway that is gone are dropped by the ROUTER. No
 *  per-message logging above debug level.
 */
#include "pl_broker_int.h"
#include "pl_bind.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_pump.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages read from one socket per pump run before the loop turns
 * again: bounded so one busy socket cannot starve the other or the
 * heartbeat timer for long (pl_pump.h). */
#define S_BATCH 256

/* Warnings about bad input logged per second; the rest are counted and
 * summed up later, so a peer spewing garbage cannot flood the log or slow
 * the loop down. */
#define S_WARNINGS_PER_SEC 10

/* How long close waits to flush the final answers and BYEs at shutdown. */
#define S_LINGER_MS 500

/* ---------------------------------------------------------------------
 * Small helpers
 */

/* Start a new warning second when the last one is over, first summing up
 * what it suppressed. */
static void
s_warn_flush (pl_broker_t *self, int64_t now)
{
    if (now - self->warn_window >= 1000) {
        if (self->warn_suppressed)
            pl_warn ("%zu more warnings about bad input suppressed",
                     self->warn_suppressed);
        self->warn_window = now;
        self->warn_count = 0;
        self->warn_suppressed = 0;
    }
}

static bool
s_warn_allowed (pl_broker_t *self)
{
    s_warn_flush (self, zclock_mono ());
    bool allowed = self->warn_count < S_WARNINGS_PER_SEC;
    if (allowed)
        self->warn_count++;
    else
        self->warn_suppressed++;
    return allowed;
}

#define s_bad_input(self, ...) \
    do { if (s_warn_allowed (self)) pl_warn (__VA_ARGS__); } while (0)

/* Hex of bytes into out (2 * size + 1 bytes). */
static void
s_hex (const byte *data, size_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * size] = 0;
}

/* A frame made safe to print in a warning: up to 32 bytes, '?' for
 * anything not printable. */
static const char *
s_printable (zmq_msg_t *frame, char *buf, size_t size)
{
    size_t n = frame ? zmq_msg_size (frame) : 0;
    const byte *data = frame ? zmq_msg_data (frame) : NULL;
    size_t i = 0;
    for (; i < n && i < 32 && i + 1 < size; i++)
        buf[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char) data[i] : '?';
    buf[i] = 0;
    return buf;
}

/* A service name: 1..64 bytes, no control bytes (it becomes a hash key,
 * a log field and a JSON key). Copies it NUL-terminated into name.
 * Returns 0, or -1 when the frame is no valid name. */
static int
s_service_name (zmq_msg_t *frame, char name[PL_BROKER_SERVICE_MAX + 1])
{
    int rc = -1;
    size_t size = zmq_msg_size (frame);
    const byte *data = zmq_msg_data (frame);
    if (size == 0 || size > PL_BROKER_SERVICE_MAX)
        goto cleanup;
    for (size_t i = 0; i < size; i++)
        if (data[i] < 0x20 || data[i] == 0x7f)
            goto cleanup;
    memcpy (name, data, size);
    name[size] = 0;
    rc = 0;
cleanup:
    return rc;
}

/* A READY credit: decimal, 1..PL_BROKER_CREDIT_MAX. Returns it, or 0. */
static size_t
s_credit (zmq_msg_t *frame)
{
    size_t credit = 0;
    size_t len = zmq_msg_size (frame);
    const byte *data = zmq_msg_data (frame);
    for (size_t i = 0; i < len && credit <= PL_BROKER_CREDIT_MAX; i++) {
        if (data[i] < '0' || data[i] > '9') {
            credit = 0;
            break;
        }
        credit = credit * 10 + (size_t) (data[i] - '0');
    }
    return credit <= PL_BROKER_CREDIT_MAX ? credit : 0;
}

/* ---------------------------------------------------------------------
 * Backend: worker -> broker
 */

/* A frame's bytes compared with a C string. */
static bool
s_is (zmq_msg_t *frame, const char *text)
{
    size_t len = strlen (text);
    return zmq_msg_size (frame) == len && memcmp (zmq_msg_data (frame), text, len) == 0;
}

/* READY from an unknown worker: identity PL01 READY service credit. */
static void
s_worker_ready (pl_broker_t *self, pl_zmsg_t *msg, const char *key)
{
    char name[PL_BROKER_SERVICE_MAX + 1];
    char shown[40];
    bool shaped = msg->count == 5 && !msg->oversize;
    if (!shaped || s_service_name (&msg->frame[3], name) == -1) {
        s_bad_input (self, "backend: worker %s: dropped a READY with %s", key,
                     !shaped ? "a wrong frame count" : "a bad service name");
        goto cleanup;
    }
    zmq_msg_t *identity = &msg->frame[0];
    zmq_msg_t *credit_frame = &msg->frame[4];
    size_t credit = s_credit (credit_frame);
    if (credit == 0) {
        s_bad_input (self, "backend: worker %s: dropped a READY with credit \"%s\" "
                     "(want 1..%d)", key, s_printable (credit_frame, shown, sizeof shown),
                     PL_BROKER_CREDIT_MAX);
        goto cleanup;
    }
    if (zhashx_size (self->workers) >= PL_BROKER_WORKERS_MAX) {
        s_bad_input (self, "backend: worker %s: refused, already %d workers",
                     key, PL_BROKER_WORKERS_MAX);
        goto cleanup;
    }
    pl_broker__service_t *svc = pl_broker__service_require (self, name);
    if (!svc) {
        s_bad_input (self, "backend: worker %s: refused service '%s': already %d services",
                     key, name, PL_BROKER_SERVICES_MAX);
        goto cleanup;
    }
    if (pl_broker__worker_add (self, zmq_msg_data (identity), zmq_msg_size (identity),
                               key, svc, credit) == -1)
        pl_error ("backend: worker %s: out of memory registering it", key);
cleanup:
    return;
}

static void
s_backend_message (pl_broker_t *self, pl_zmsg_t *msg)
{
    char shown[40];
    char key[2 * PL_BROKER__IDENTITY_MAX + 1];
    if (msg->count < 3) {
        s_bad_input (self, "backend: dropped a message with %d frames", msg->count);
        goto cleanup;
    }
    zmq_msg_t *identity = &msg->frame[0];
    zmq_msg_t *version = &msg->frame[1];
    zmq_msg_t *command = &msg->frame[2];
    s_hex (zmq_msg_data (identity), zmq_msg_size (identity), key);
    if (!s_is (version, PL_PROTO_VERSION)) {
        s_bad_input (self, "backend: worker %s: dropped a message of version \"%s\"",
                     key, s_printable (version, shown, sizeof shown));
        goto cleanup;
    }
    pl_broker__worker_t *worker = zhashx_lookup (self->workers, key);
    if (!worker) {
        /* unknown: a worker of a previous broker, or one declared dead.
         * BYE makes it reconnect and send READY; a BYE is not answered,
         * so two sides can never ping-pong. */
        if (s_is (command, PL_CMD_READY))
            s_worker_ready (self, msg, key);
        else
        if (!s_is (command, PL_CMD_DISCONNECT))
            pl_broker__send_command (self, zmq_msg_data (identity), zmq_msg_size (identity),
                                     PL_CMD_DISCONNECT);
        goto cleanup;
    }
    /* any traffic proves the worker alive */
    worker->expiry = zclock_mono () + self->opts.heartbeat_ms * self->opts.liveness;
    if (s_is (command, PL_CMD_HEARTBEAT)) {
        /* PL01 HB, or PL01 HB name snapshot: metrics (proto/README.md) */
        const char *refused = NULL;
        if (msg->count == 5 && !msg->oversize)
            refused = pl_broker__metrics_store (self, worker, &msg->frame[3], &msg->frame[4]);
        else
        if (msg->count != 3) {
            refused = "a wrong frame count (want 0 or 2 after HB)";
            pl_broker__metrics_drop (self, worker);
        }
        if (refused)
            s_bad_input (self, "backend: worker %s: dropped the metrics of an HB with %s",
                         key, refused);
    }
    else
    if (s_is (command, PL_CMD_REP)) {
        if ((msg->count != 6 && msg->count != 7) || msg->oversize)   /* 7: with directives */
            s_bad_input (self, "backend: worker %s: dropped a REP with %d%s frames (want 6 or 7)",
                         key, msg->count, msg->oversize ? "+" : "");
        else
        if (pl_broker__worker_reply (self, worker, msg) == -1) {
            /* late (answered TIMEOUT already) or never sent: named by its id */
            pl_log_set_rid (zmq_msg_data (&msg->frame[PL_BROKER__REP_ID]),
                            zmq_msg_size (&msg->frame[PL_BROKER__REP_ID]));
            s_bad_input (self, "backend: worker %s: dropped a REP for a request it "
                         "does not hold", key);
            pl_log_set_rid (NULL, 0);
        }
    }
    else
    if (s_is (command, PL_CMD_DISCONNECT))
        pl_broker__worker_forget (self, worker, "left (BYE)");
    else
    if (s_is (command, PL_CMD_READY))
        s_bad_input (self, "backend: worker %s: ignored a second READY", key);
    else
        s_bad_input (self, "backend: worker %s: dropped unknown command \"%s\"",
                     key, s_printable (command, shown, sizeof shown));
cleanup:
    return;
}

/* ---------------------------------------------------------------------
 * Frontend: client -> broker
 */

/* REQ: client PL01 REQ service reqid event ctx body. */
static void
s_client_request (pl_broker_t *self, pl_zmsg_t *msg)
{
    zmq_msg_t *reqid = msg->count > PL_BROKER__REQ_ID ? &msg->frame[PL_BROKER__REQ_ID] : NULL;
    char name[PL_BROKER_SERVICE_MAX + 1];
    const char *invalid = NULL;
    char *error = NULL;
    if (!reqid || zmq_msg_size (reqid) > PL_BROKER_REQID_MAX) {
        /* no request id we could echo: nothing to answer */
        s_bad_input (self, "frontend: dropped a REQ with %s",
                     reqid ? "a request id over 32 bytes" : "too few frames");
        goto cleanup;
    }
    pl_log_set_rid (zmq_msg_data (reqid), zmq_msg_size (reqid));  /* its lines name it */
    if (msg->count != PL_BROKER__REQ_FRAMES || msg->oversize)
        invalid = "malformed request: want PL01 REQ service id event ctx body";
    else
    if (s_service_name (&msg->frame[PL_BROKER__REQ_SERVICE], name) == -1)
        invalid = "malformed request: the service name must be 1 to 64 printable bytes";
    if (invalid) {
        s_bad_input (self, "frontend: answered VALIDATION_ERROR: %s", invalid);
        error = pl_proto_reply_err (PL_ERR_VALIDATION_ERROR, invalid);
        pl_broker__refuse (self, msg, error);
        goto cleanup;
    }
    pl_broker__service_t *svc = pl_broker__service_require (self, name);
    if (!svc) {
        error = pl_proto_reply_err (PL_ERR_SERVICE_UNAVAILABLE,
                                    "the broker knows too many services");
        pl_broker__refuse (self, msg, error);
        goto cleanup;
    }
    if (pl_log_enabled (PL_LOG_DEBUG)) {
        char event[40];
        pl_debug ("request %s for %s received",
                  s_printable (&msg->frame[PL_BROKER__REQ_EVENT], event, sizeof event), name);
    }
    pl_broker__service_submit (self, svc, msg);
cleanup:
    pl_log_set_rid (NULL, 0);
    free (error);
}

/* FWD:    client PL01 FWD peer fwdid op sid body      (8 frames)
 * FWDREP: client PL01 FWDREP peer fwdid status body   (7 frames)
 * Relayed to the gateway whose routing id is peer, with peer replaced by
 * the sender's routing id: a gateway hands an HTTP polling request to the
 * gateway holding its session, and the answer comes back the same way
 * (proto/README.md, "Forwarding between gateways"). The broker reads
 * nothing past fwdid. A FWD it cannot deliver is answered at once:
 * status 404 when no gateway has that routing id, 503 when its queue is
 * full; an undeliverable FWDREP is dropped (its gateway times out). */
static void
s_client_forward (pl_broker_t *self, pl_zmsg_t *msg, bool reply)
{
    char shown[40];
    zmq_msg_t *client = &msg->frame[0];
    int want = reply ? 7 : 8;
    if (msg->count != want || msg->oversize || zmq_msg_size (&msg->frame[3]) == 0
    ||  zmq_msg_size (&msg->frame[3]) > PL_BROKER_SERVICE_MAX
    ||  zmq_msg_size (&msg->frame[4]) > PL_BROKER_REQID_MAX) {
        s_bad_input (self, "frontend: dropped a %s with %d%s frames from %s",
                     reply ? PL_CMD_FORWARD_REPLY : PL_CMD_FORWARD, msg->count,
                     msg->oversize ? "+" : "", s_printable (client, shown, sizeof shown));
        goto cleanup;
    }
    void *sock = pl_broker__sending (self, PL_BROKER__FRONTEND);
    int order[] = { 1, 2, 0, 4, 5, 6, 7 };
    int on = 1, off = 0;
    /* ROUTER_MANDATORY for this one send only: an unknown peer fails at
     * once (EHOSTUNREACH) instead of vanishing, as every other send of
     * the frontend may (pl_broker_int.h) */
    zmq_setsockopt (sock, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    int rc = pl_broker__forward (sock, zmq_msg_data (&msg->frame[3]),
                                 zmq_msg_size (&msg->frame[3]), msg, order, want - 1);
    int err = errno;
    zmq_setsockopt (sock, ZMQ_ROUTER_MANDATORY, &off, sizeof off);
    if (rc != 0 && !reply) {
        const char *status = err == EHOSTUNREACH ? "404" : "503";
        pl_zmsg_part_t parts[] = {
            { zmq_msg_data (client), zmq_msg_size (client) }, { PL_PROTO_VERSION, 4 },
            { PL_CMD_FORWARD_REPLY, strlen (PL_CMD_FORWARD_REPLY) },
            { zmq_msg_data (&msg->frame[3]), zmq_msg_size (&msg->frame[3]) },
            { zmq_msg_data (&msg->frame[4]), zmq_msg_size (&msg->frame[4]) },
            { status, 3 }, { "", 0 },
        };
        pl_zmsg_send (sock, parts, 7);
    }
cleanup:
    return;
}

static void
s_frontend_message (pl_broker_t *self, pl_zmsg_t *msg)
{
    char shown[40];
    if (msg->count < 3) {
        s_bad_input (self, "frontend: dropped a message with %d frames", msg->count);
        goto cleanup;
    }
    zmq_msg_t *client = &msg->frame[0];
    zmq_msg_t *version = &msg->frame[1];
    zmq_msg_t *command = &msg->frame[2];
    if (!s_is (version, PL_PROTO_VERSION)) {
        s_bad_input (self, "frontend: dropped a message of version \"%s\"",
                     s_printable (version, shown, sizeof shown));
        goto cleanup;
    }
    if (s_is (command, PL_CMD_REQ))
        s_client_request (self, msg);
    else
    if (s_is (command, PL_CMD_FORWARD) || s_is (command, PL_CMD_FORWARD_REPLY))
        s_client_forward (self, msg, s_is (command, PL_CMD_FORWARD_REPLY));
    else
    if (s_is (command, PL_CMD_METRICS) && msg->count == 3 && !msg->oversize)
        pl_broker__metrics_answer (self, client);
    else
    if (s_is (command, PL_CMD_STATUS) && msg->count == 3 && !msg->oversize) {
        char *status = pl_broker_status (self);
        if (status) {
            pl_zmsg_part_t parts[] = {
                { zmq_msg_data (client), zmq_msg_size (client) }, { PL_PROTO_VERSION, 4 },
                { PL_CMD_STATUS, strlen (PL_CMD_STATUS) }, { status, strlen (status) },
            };
            pl_zmsg_send (pl_broker__sending (self, PL_BROKER__FRONTEND), parts, 4);
            free (status);
        }
        if (self->opts.on_recovery)     /* recovery: this gateway is alive */
            self->opts.on_recovery (self->opts.recovery_arg, msg);
    }
    else
    if (self->opts.on_recovery
    &&  (s_is (command, PL_CMD_SESSION) || s_is (command, PL_CMD_RECOVER)
      || s_is (command, PL_CMD_REPLAY)))
        self->opts.on_recovery (self->opts.recovery_arg, msg);
    else
    if (s_is (command, PL_CMD_SESSION))
        ;   /* recovery is off here: a gateway that has it on is told so below */
    else
    if ((s_is (command, PL_CMD_RECOVER) && msg->count == 5)
    ||  (s_is (command, PL_CMD_REPLAY) && msg->count == 4)) {
        /* refused, so that its client connects as a new session at once */
        static const char off[] = "{\"ok\":false,\"reason\":\"recovery is off on the broker\"}";
        pl_zmsg_part_t parts[] = {
            { zmq_msg_data (client), zmq_msg_size (client) }, { PL_PROTO_VERSION, 4 },
            { zmq_msg_data (command), zmq_msg_size (command) },
            { zmq_msg_data (&msg->frame[3]), zmq_msg_size (&msg->frame[3]) },
            { off, sizeof off - 1 },
        };
        pl_zmsg_send (pl_broker__sending (self, PL_BROKER__FRONTEND), parts, 5);
    }
    else
        s_bad_input (self, "frontend: dropped command \"%s\" with %d%s frames",
                     s_printable (command, shown, sizeof shown), msg->count,
                     msg->oversize ? "+" : "");
cleanup:
    return;
}

/* ---------------------------------------------------------------------
 * Loop callbacks
 */

/* pl_pump drain of the frontend ROUTER; runs on the broker's loop. */
static int
s_drain_frontend (void *sock, int budget, void *arg, unsigned *sent)
{
    pl_broker_t *self = arg;
    pl_zmsg_t msg;              /* on the stack: nothing allocated */
    int n = 0;
    self->sent = 0;
    self->draining = true;
    while (n < budget && pl_zmsg_recv (sock, &msg) == 0) {
        n++;
        s_frontend_message (self, &msg);
        pl_zmsg_close (&msg);   /* no-op on frames moved on */
    }
    self->draining = false;
    *sent = self->sent;
    return n;
}

/* pl_pump drain of the backend ROUTER; runs on the broker's loop. */
static int
s_drain_backend (void *sock, int budget, void *arg, unsigned *sent)
{
    pl_broker_t *self = arg;
    pl_zmsg_t msg;
    int n = 0;
    self->sent = 0;
    while (n < budget && pl_zmsg_recv (sock, &msg) == 0) {
        n++;
        s_backend_message (self, &msg);
        pl_zmsg_close (&msg);
    }
    *sent = self->sent;
    return n;
}

/* ---------------------------------------------------------------------
 * Expiry of queued requests
 *
 * One one-shot timer for the whole broker, armed for the earliest deadline
 * among the queued requests, rather than a timer per request: a request
 * that goes straight to a worker (the common case) costs no timer at all,
 * and one that queues costs a pointer compare while a timer is armed.
 * Each service's queue is in deadline order (one timeout for all), so the
 * earliest deadline is the earliest head. The timer is not cancelled when
 * its request is drained to a worker: it then fires once for nothing and
 * re-arms for the next head, if any. With nothing queued no timer is
 * armed, so an idle broker wakes only for the heartbeat.
 *
 * Why not expire on the heartbeat tick alone, as the broker once did: a
 * request was then answered up to heartbeat_ms after its deadline, and
 * when the gateway's request timeout lay within a heartbeat of the queue
 * timeout the phase of the tick decided whether the client heard
 * SERVICE_UNAVAILABLE or the gateway's TIMEOUT. The tick still expires,
 * as a safety net should arming fail.
 */

static int s_on_expiry (zloop_t *loop, int timer_id, void *arg);

/* Arm the expiry timer for deadline. Returns 0, or -1 when zloop cannot
 * (then the heartbeat tick expires the request, and tries again). */
static int
s_expiry_set (pl_broker_t *self, int64_t deadline)
{
    int64_t now = zclock_mono ();
    size_t delay = deadline > now ? (size_t) (deadline - now) : 0;
    self->expiry_timer = zloop_timer (self->loop, delay, 1, s_on_expiry, self);
    if (self->expiry_timer == -1)
        return -1;
    self->expiry_at = deadline;
    return 0;
}

void
pl_broker__expiry_arm (pl_broker_t *self, int64_t deadline)
{
    if (!self->loop)
        return;                 /* attach arms it (nothing queues unattached) */
    if (self->expiry_timer != -1) {
        assert (deadline >= self->expiry_at);
        return;
    }
    s_expiry_set (self, deadline);
}

/* Answer every queued request due by now SERVICE_UNAVAILABLE, then arm the
 * timer for the earliest deadline left, unless one is armed already. */
static void
s_expire_due (pl_broker_t *self, int64_t now)
{
    int64_t earliest = INT64_MAX;
    for (pl_broker__service_t *svc = zhashx_first (self->services); svc;
         svc = zhashx_next (self->services)) {
        pl_broker__service_expire (self, svc, now);
        if (svc->head && svc->head->deadline < earliest)
            earliest = svc->head->deadline;
    }
    if (earliest != INT64_MAX && self->expiry_timer == -1 && self->loop)
        s_expiry_set (self, earliest);
}

/* zloop one-shot timer at expiry_at; runs on the broker's loop. zloop
 * removes a one-shot timer itself after this returns. */
static int
s_on_expiry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    pl_broker_t *self = arg;
    if (timer_id == self->expiry_timer)
        self->expiry_timer = -1;
    s_expire_due (self, zclock_mono ());
    pl_pump_run (self->pump);   /* it sent: pl_pump.h, first rule */
    return 0;
}

/* ---------------------------------------------------------------------
 * Heartbeat tick
 */

/* zloop timer, every heartbeat_ms; runs on the broker's loop. Sends HB to
 * every worker and declares silent workers dead: a dead worker is noticed
 * within heartbeat_ms * (liveness + 1). It also drains and expires the
 * queues, though both normally happen on their own events (a reply or a
 * READY; the expiry timer). */
static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    pl_broker_t *self = arg;
    int64_t now = zclock_mono ();
    zlistx_t *dead = NULL;
    for (pl_broker__worker_t *w = zhashx_first (self->workers); w;
         w = zhashx_next (self->workers)) {
        if (now >= w->expiry) {
            if (!dead)
                dead = zlistx_new ();
            if (dead)
                zlistx_add_end (dead, w);
        }
        else
            pl_broker__send_command (self, w->identity, w->identity_len, PL_CMD_HEARTBEAT);
    }
    if (dead) {
        char reason[64];
        snprintf (reason, sizeof reason, "lost (silent for %lld ms)",
                  (long long) (self->opts.heartbeat_ms * self->opts.liveness));
        for (pl_broker__worker_t *w = zlistx_first (dead); w; w = zlistx_next (dead)) {
            /* in case it is only stalled: BYE makes it register afresh */
            pl_broker__send_command (self, w->identity, w->identity_len, PL_CMD_DISCONNECT);
            pl_broker__worker_forget (self, w, reason);
        }
        zlistx_destroy (&dead);
    }
    for (pl_broker__service_t *svc = zhashx_first (self->services); svc;
         svc = zhashx_next (self->services))
        pl_broker__service_drain (self, svc);
    s_expire_due (self, now);
    s_warn_flush (self, now);
    pl_pump_run (self->pump);   /* it sent: pl_pump.h, first rule */
    return 0;
}

/* ---------------------------------------------------------------------
 * Public API
 */

void
pl_broker_send_frontend (pl_broker_t *self, const pl_zmsg_part_t *parts, int count)
{
    pl_zmsg_send (pl_broker__sending (self, PL_BROKER__FRONTEND), parts, count);
    if (!self->draining)
        pl_pump_run (self->pump);   /* sent outside a drain: pl_pump.h, first rule */
}

static zsock_t *
s_router_new (const char *endpoint, const char *name)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    if (!sock)
        goto cleanup;
    zsock_set_sndhwm (sock, PL_BROKER_HWM);
    zsock_set_rcvhwm (sock, PL_BROKER_HWM);
    zsock_set_rcvtimeo (sock, 0);       /* the readers drain without blocking */
    zsock_set_linger (sock, 0);
    if (pl_bind (sock, endpoint, name) == -1)
        zsock_destroy (&sock);
cleanup:
    return sock;
}

pl_broker_t *
pl_broker_new (const pl_broker_opts_t *opts)
{
    assert (opts && opts->frontend && opts->backend);
    assert (opts->heartbeat_ms > 0 && opts->liveness > 0 && opts->queue_timeout_ms >= 0);
    pl_broker_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->opts = *opts;
    self->opts.frontend = strdup (opts->frontend);
    self->opts.backend = strdup (opts->backend);
    self->opts.frontend_name = strdup (opts->frontend_name ? opts->frontend_name : "frontend");
    self->opts.backend_name = strdup (opts->backend_name ? opts->backend_name : "backend");
    self->timer_id = -1;
    self->expiry_timer = -1;
    self->services = zhashx_new ();
    self->workers = zhashx_new ();
    self->err_lost = pl_proto_reply_err (PL_ERR_TIMEOUT, "worker lost; the outcome is unknown");
    self->metrics = pl_broker__metrics_new ();
    if (!self->metrics || !self->opts.frontend || !self->opts.backend || !self->opts.frontend_name
    ||  !self->opts.backend_name || !self->services || !self->workers || !self->err_lost) {
        pl_broker_destroy (&self);
        goto cleanup;
    }
    zhashx_set_destructor (self->services, pl_broker__service_destroy);
    zhashx_set_destructor (self->workers, pl_broker__worker_destroy);
    self->frontend = s_router_new (self->opts.frontend, self->opts.frontend_name);
    if (self->frontend)
        self->backend = s_router_new (self->opts.backend, self->opts.backend_name);
    if (!self->frontend || !self->backend) {
        pl_broker_destroy (&self);
        goto cleanup;
    }
    self->frontend_handle = zsock_resolve (self->frontend);
    self->backend_handle = zsock_resolve (self->backend);
    self->pump = pl_pump_new (S_BATCH);
    if (!self->pump
    /* in this order: PL_BROKER__FRONTEND, PL_BROKER__BACKEND */
    ||  pl_pump_add (self->pump, self->frontend_handle, s_drain_frontend, self) == -1
    ||  pl_pump_add (self->pump, self->backend_handle, s_drain_backend, self) == -1)
        pl_broker_destroy (&self);
cleanup:
    return self;
}

/* Every request is answered exactly once, even at shutdown. */
static void
s_answer_all (pl_broker_t *self)
{
    char *queued = pl_proto_reply_err (PL_ERR_SERVICE_UNAVAILABLE,
                                       "the broker is shutting down");
    char *held = pl_proto_reply_err (PL_ERR_TIMEOUT,
                                     "the broker is shutting down; the outcome is unknown");
    for (pl_broker__worker_t *w = zhashx_first (self->workers); w;
         w = zhashx_next (self->workers)) {
        for (pl_broker__pending_t *p = w->oldest; p; p = p->next)
            pl_broker__answer_lost (self, p, held, "a worker at broker shutdown");
        pl_broker__send_command (self, w->identity, w->identity_len, PL_CMD_DISCONNECT);
    }
    for (pl_broker__service_t *svc = zhashx_first (self->services); svc;
         svc = zhashx_next (self->services)) {
        pl_broker__request_t *req;
        while ((req = pl_broker__service_pop (svc))) {
            pl_broker__refuse (self, &req->msg, queued);
            pl_broker__request_free (&req);
        }
    }
    free (queued);
    free (held);
}

void
pl_broker_destroy (pl_broker_t **self_p)
{
    assert (self_p);
    pl_broker_t *self = *self_p;
    if (self) {
        pl_broker_detach (self);
        if (self->frontend && self->backend) {
            s_answer_all (self);
            zsock_set_linger (self->frontend, S_LINGER_MS);
            zsock_set_linger (self->backend, S_LINGER_MS);
        }
        pl_pump_destroy (&self->pump);
        zhashx_destroy (&self->workers);    /* before the services they point to */
        zhashx_destroy (&self->services);
        zsock_destroy (&self->frontend);
        zsock_destroy (&self->backend);
        free (self->err_lost);
        pl_metrics_destroy (&self->metrics);
        free ((char *) self->opts.frontend);
        free ((char *) self->opts.backend);
        free ((char *) self->opts.frontend_name);
        free ((char *) self->opts.backend_name);
        free (self);
        *self_p = NULL;
    }
}

int
pl_broker_attach (pl_broker_t *self, zloop_t *loop)
{
    assert (self && loop && !self->loop);
    int rc = -1;
    if (pl_pump_attach (self->pump, loop) == -1)
        goto cleanup;
    self->timer_id = zloop_timer (loop, (size_t) self->opts.heartbeat_ms, 0, s_on_tick, self);
    if (self->timer_id == -1) {
        pl_pump_detach (self->pump);
        goto cleanup;
    }
    self->loop = loop;
    s_expire_due (self, zclock_mono ());    /* arms the timer if anything queued */
    rc = 0;
cleanup:
    return rc;
}

void
pl_broker_detach (pl_broker_t *self)
{
    assert (self);
    if (self->loop) {
        pl_pump_detach (self->pump);
        zloop_timer_end (self->loop, self->timer_id);
        if (self->expiry_timer != -1)
            zloop_timer_end (self->loop, self->expiry_timer);
        self->loop = NULL;
        self->timer_id = -1;
        self->expiry_timer = -1;
    }
}

char *
pl_broker_status (pl_broker_t *self)
{
    assert (self);
    char *text = NULL;
    cJSON *root = cJSON_CreateObject ();
    cJSON *services = cJSON_AddObjectToObject (root, "services");
    if (!services)
        goto cleanup;
    for (pl_broker__service_t *svc = zhashx_first (self->services); svc;
         svc = zhashx_next (self->services)) {
        cJSON *entry = cJSON_AddObjectToObject (services, svc->name);
        if (!entry
        ||  !cJSON_AddNumberToObject (entry, "workers", (double) zlistx_size (svc->workers))
        ||  !cJSON_AddNumberToObject (entry, "queued", (double) svc->queued))
            goto cleanup;
    }
    text = cJSON_PrintUnformatted (root);
cleanup:
    cJSON_Delete (root);
    return text;
}
