/*  pl_pump - drain ZeroMQ sockets from a zloop; see pl_pump.h for why and
 *  the two rules. Everything runs on the loop the pump is attached to.
 */
#include "pl_pump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    void *sock;                 /* libzmq socket handle (not owned)       */
    zmq_pollitem_t item;        /* its ZMQ_FD, as the loop polls it       */
    pl_pump_drain_fn *drain;    /* reads and handles its messages         */
    void *arg;                  /* for drain                              */
    struct _pl_pump_t *pump;    /* the pump it belongs to                 */
    int index;                  /* its place in pump->socket              */
} s_socket_t;

struct _pl_pump_t {
    s_socket_t socket[PL_PUMP_SOCKETS];   /* the first count are in use   */
    int count;                  /* sockets served                         */
    int batch;                  /* messages per socket per run, at most   */
    zloop_t *loop;              /* attached to, or NULL                   */
    int again_timer;            /* zero-delay one-shot, or -1             */
    size_t runs;                /* runs so far (selftest)                 */
};

static int s_on_again (zloop_t *loop, int timer_id, void *arg);

pl_pump_t *
pl_pump_new (int batch)
{
    assert (batch > 0);
    pl_pump_t *self = calloc (1, sizeof *self);
    if (self) {
        self->batch = batch;
        self->again_timer = -1;
    }
    return self;
}

void
pl_pump_destroy (pl_pump_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pl_pump_detach (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

int
pl_pump_add (pl_pump_t *self, void *sock, pl_pump_drain_fn *drain, void *arg)
{
    assert (self && sock && drain && !self->loop);
    int rc = -1;
    int fd;
    size_t size = sizeof fd;
    if (self->count == PL_PUMP_SOCKETS || zmq_getsockopt (sock, ZMQ_FD, &fd, &size) == -1)
        goto cleanup;
    s_socket_t *s = &self->socket[self->count++];
    s->sock = sock;
    s->item = (zmq_pollitem_t) { NULL, fd, ZMQ_POLLIN, 0 };
    s->drain = drain;
    s->arg = arg;
    s->pump = self;
    s->index = self->count - 1;
    rc = 0;
cleanup:
    return rc;
}

/* Drain the sockets marked in dirty (bit i: the i-th) until none is:
 * a socket is clean once its drain found it empty, and dirty again when a
 * drain sends on it. */
static void
s_run (pl_pump_t *self, unsigned dirty)
{
    int left[PL_PUMP_SOCKETS];
    for (int i = 0; i < self->count; i++)
        left[i] = self->batch;
    unsigned spent = 0;         /* sockets that used up their batch */
    self->runs++;
    while (dirty) {
        for (int i = 0; i < self->count; i++) {
            unsigned bit = 1u << i;
            if (!(dirty & bit))
                continue;
            s_socket_t *s = &self->socket[i];
            unsigned sent = 0;
            int n = s->drain (s->sock, left[i], s->arg, &sent);
            assert (n >= 0 && n <= left[i]);
            assert (sent < (1u << self->count));
            left[i] -= n;
            dirty &= ~bit;
            dirty |= sent;
            if (left[i] == 0)
                spent |= bit;
            dirty &= ~spent;    /* those wait for the next run */
        }
    }
    if (spent && self->loop && self->again_timer == -1)
        /* if zloop cannot, the next message or timer that wakes the loop
         * runs the pump again */
        self->again_timer = zloop_timer (self->loop, 0, 1, s_on_again, self);
}

void
pl_pump_run (pl_pump_t *self)
{
    assert (self);
    s_run (self, (1u << self->count) - 1);
}

/* zloop poller on a socket's ZMQ_FD; runs on the pump's loop. Only that
 * socket starts dirty: every run leaves all sockets clean (or arms the
 * zero-delay timer), so another socket with new input has a fired fd of
 * its own. */
static int
s_on_fd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    s_socket_t *s = arg;
    s_run (s->pump, 1u << s->index);
    return 0;
}

/* zloop one-shot timer; runs on the pump's loop. zloop removes it after
 * this returns. */
static int
s_on_again (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    pl_pump_t *self = arg;
    if (timer_id == self->again_timer)
        self->again_timer = -1;
    pl_pump_run (self);
    return 0;
}

int
pl_pump_attach (pl_pump_t *self, zloop_t *loop)
{
    assert (self && loop && !self->loop);
    int rc = -1;
    int added = 0;
    for (; added < self->count; added++) {
        if (zloop_poller (loop, &self->socket[added].item, s_on_fd, &self->socket[added]) == -1)
            goto cleanup;
        /* an eventfd reports no error; never let zloop drop it */
        zloop_poller_set_tolerant (loop, &self->socket[added].item);
    }
    self->loop = loop;
    /* messages that came before the loop did may have no wakeup left */
    self->again_timer = zloop_timer (loop, 0, 1, s_on_again, self);
    if (self->again_timer == -1) {
        self->loop = NULL;
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (rc == -1)
        while (added > 0)
            zloop_poller_end (loop, &self->socket[--added].item);
    return rc;
}

void
pl_pump_detach (pl_pump_t *self)
{
    assert (self);
    if (self->loop) {
        for (int i = 0; i < self->count; i++)
            zloop_poller_end (self->loop, &self->socket[i].item);
        if (self->again_timer != -1)
            zloop_timer_end (self->loop, self->again_timer);
        self->again_timer = -1;
        self->loop = NULL;
    }
}

/* ---------------------------------------------------------------------
 * Selftest
 */

typedef struct {
    int read;                   /* messages read                          */
    int calls;                  /* drain calls                            */
    void *send_on;              /* a socket to send on per message, or NULL */
    unsigned send_bit;          /* its bit in the pump                    */
} s_count_t;

/* drain for the selftest: counts, and optionally sends on another socket
 * for each message (as the broker answers on the other ROUTER). */
static int
s_drain_count (void *sock, int budget, void *arg, unsigned *sent)
{
    s_count_t *count = arg;
    count->calls++;
    int n = 0;
    while (n < budget) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        int rc = zmq_msg_recv (&msg, sock, ZMQ_DONTWAIT);
        zmq_msg_close (&msg);
        if (rc == -1)
            break;
        n++;
        if (count->send_on) {
            zmq_send (count->send_on, "x", 1, ZMQ_DONTWAIT);
            *sent |= count->send_bit;
        }
    }
    count->read += n;
    return n;
}

static bool
s_has_input (void *sock)
{
    int events = 0;
    size_t size = sizeof events;
    int rc = zmq_getsockopt (sock, ZMQ_EVENTS, &events, &size);
    assert (rc == 0);
    return (events & ZMQ_POLLIN) != 0;
}

typedef struct {
    s_count_t *count;           /* what to watch                          */
    int want;                   /* end the loop once count->read reaches it */
    void *peer;                 /* send one message on it at the first tick */
    int ticks;
} s_watch_t;

/* zloop timer for the selftest: ends the loop when enough was read. */
static int
s_on_watch (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_watch_t *watch = arg;
    if (watch->ticks++ == 0 && watch->peer)
        zmq_send (watch->peer, "late", 4, 0);
    return watch->count->read >= watch->want ? -1 : 0;
}

/* zloop timer for the selftest: ends the loop. */
static int
s_on_stop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

static void
s_pair (void *ctx, const char *endpoint, void **ours, void **peer)
{
    *ours = zmq_socket (ctx, ZMQ_PAIR);
    *peer = zmq_socket (ctx, ZMQ_PAIR);
    assert (*ours && *peer);
    int rc = zmq_bind (*ours, endpoint);
    assert (rc == 0);
    rc = zmq_connect (*peer, endpoint);
    assert (rc == 0);
}

void
pl_pump_test (bool verbose)
{
    if (verbose)
        printf (" * pl_pump: ");
    void *ctx = zmq_ctx_new ();
    void *a, *a_peer, *b, *b_peer;
    s_pair (ctx, "inproc://pl-pump-a", &a, &a_peer);
    s_pair (ctx, "inproc://pl-pump-b", &b, &b_peer);
    s_count_t count_a = { 0 }, count_b = { 0 };
    pl_pump_t *pump = pl_pump_new (8);
    assert (pump);
    assert (pl_pump_add (pump, a, s_drain_count, &count_a) == 0);
    assert (pl_pump_add (pump, b, s_drain_count, &count_b) == 0);
    assert (pl_pump_add (pump, a, s_drain_count, &count_a) == -1);    /* full */

    /* unattached, one run: at most a batch from the flooded socket, all of
     * the other, and nothing left readable on the one that was emptied */
    for (int i = 0; i < 50; i++)
        zmq_send (a_peer, "m", 1, 0);
    for (int i = 0; i < 3; i++)
        zmq_send (b_peer, "m", 1, 0);
    pl_pump_run (pump);
    assert (count_a.read == 8 && count_b.read == 3);
    assert (s_has_input (a) && !s_has_input (b));

    /* a drain that sends on the other socket: that socket's message is
     * still read in the same run, whether or not the send took in its
     * wakeup (libzmq processes commands on a send every ~1 ms: wait that) */
    zmq_send (b_peer, "m", 1, 0);
    zclock_sleep (10);
    count_a.send_on = b;
    count_a.send_bit = 0x2;
    pl_pump_run (pump);
    count_a.send_on = NULL;
    assert (count_a.read == 16 && count_b.read == 4);
    assert (!s_has_input (b));
    for (int i = 0; i < 8; i++) {           /* what a's drain sent on b */
        char buf[4];
        assert (zmq_recv (b_peer, buf, sizeof buf, ZMQ_DONTWAIT) == 1);
    }

    /* only a socket sent on gets a second look: a's drain sends on b
     * before b's first look, so one call each */
    pl_pump_t *tight = pl_pump_new (8);
    assert (tight);
    s_count_t tight_a = { 0, 0, b, 0x2 }, tight_b = { 0 };
    assert (pl_pump_add (tight, a, s_drain_count, &tight_a) == 0);
    assert (pl_pump_add (tight, b, s_drain_count, &tight_b) == 0);
    pl_pump_run (tight);                    /* a still has 34 from above */
    assert (tight_a.read == 8 && tight_a.calls == 1);
    assert (tight_b.read == 0 && tight_b.calls == 1);
    pl_pump_destroy (&tight);
    for (int i = 0; i < 8; i++) {           /* what a's drain sent on b */
        char buf[4];
        assert (zmq_recv (b_peer, buf, sizeof buf, ZMQ_DONTWAIT) == 1);
    }
    /* ... and b's drain sending on a, after a was found empty, gets a
     * its second look */
    pl_pump_t *wide = pl_pump_new (100);
    assert (wide);
    s_count_t wide_a = { 0 }, wide_b = { 0, 0, a, 0x1 };
    assert (pl_pump_add (wide, a, s_drain_count, &wide_a) == 0);
    assert (pl_pump_add (wide, b, s_drain_count, &wide_b) == 0);
    zmq_send (b_peer, "m", 1, 0);
    pl_pump_run (wide);
    assert (wide_a.read == 26 && wide_a.calls == 2);
    assert (wide_b.read == 1 && wide_b.calls == 1);
    pl_pump_destroy (&wide);
    char buf[4];
    assert (zmq_recv (a_peer, buf, sizeof buf, ZMQ_DONTWAIT) == 1);
    count_a.read += 8 + 26;                 /* a's 50 are all read now */
    for (int i = 0; i < 30; i++)            /* for the loop's first turn */
        zmq_send (a_peer, "m", 1, 0);

    /* attached: what waited before the loop started is read on its first
     * turn, batch after batch (the zero-delay timer), and a message sent
     * while the loop sleeps wakes it through the fd */
    zloop_t *loop = zloop_new ();
    assert (loop);
    assert (pl_pump_attach (pump, loop) == 0);
    s_watch_t watch = { &count_a, 50 + 30 + 1, a_peer, 0 };
    int watch_timer = zloop_timer (loop, 20, 0, s_on_watch, &watch);
    int guard = zloop_timer (loop, 3000, 1, s_on_stop, NULL);
    assert (watch_timer != -1 && guard != -1);
    int64_t start = zclock_mono ();
    zloop_start (loop);
    assert (count_a.read == 81);            /* the 30 + "late" */
    assert (zclock_mono () - start < 2000);
    zloop_timer_end (loop, watch_timer);
    zloop_timer_end (loop, guard);

    /* idle means idle: with nothing to read, 200 ms of loop run nothing */
    size_t runs = pump->runs;
    guard = zloop_timer (loop, 200, 1, s_on_stop, NULL);
    assert (guard != -1);
    zloop_start (loop);
    assert (pump->runs == runs);
    assert (pump->again_timer == -1);

    pl_pump_destroy (&pump);
    pl_pump_destroy (&pump);                /* safe twice */
    zloop_destroy (&loop);
    zmq_close (a);
    zmq_close (a_peer);
    zmq_close (b);
    zmq_close (b_peer);
    zmq_ctx_term (ctx);
    if (verbose)
        printf ("OK\n");
}
