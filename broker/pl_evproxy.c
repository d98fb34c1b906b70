/*  pl_evproxy - the XSUB/XPUB event proxy (proto/README.md, "Event bus").
 *
 *  Why a thread of our own rather than zproxy or the broker's zloop:
 *  - its own thread, like zproxy, so event fan-out uses the second core
 *    and never delays the broker's request path (and vice versa);
 *  - but czmq 4.2.1's zproxy neither lets us set the HWMs of its sockets
 *    nor reports a failed bind to its caller (it logs and carries on), and
 *    a broker that cannot bind its event endpoints must refuse to start.
 *  The forwarding loop is zmq_poll over the pipe and the two sockets, moving
 *  zmq_msg_t parts from one socket to the other without copying them.
 *
 *  Why a joinable pthread rather than a zactor: czmq detaches actor threads,
 *  and zactor_destroy returns once the actor has signalled, while its thread
 *  still has to close its end of the pipe. When main() returns in that
 *  window, czmq's atexit zsys_shutdown sees a socket still open, sleeps
 *  200 ms, then closes it from the main thread behind the actor's back (and
 *  the actor closes it a second time). pl_evproxy_destroy joins the thread,
 *  and the thread closes every socket it opened before it ends, so once
 *  destroy returns nothing of the proxy is left running or open.
 *
 *  The proxy does not look inside events: the topic frame (room + NUL) is
 *  all XPUB matches on, and gateways validate the envelope.
 *
 *  Filtering happens here, at the XPUB, and only here. The XSUB subscribes
 *  upstream to everything, once, and gateways' (un)subscriptions are read
 *  and dropped instead of forwarded to the workers. Forwarding them was
 *  wrong: a PUB socket applies incoming subscriptions only when its owner
 *  calls into it, so an idle worker's PUB, after thousands of rooms came
 *  and went, filtered its next events against a stale list and lost them
 *  (found with parley-load: connect 10k then fanout). Workers now send
 *  every event once to the proxy, which is cheap on ipc, and a gateway
 *  still receives only the rooms it subscribed to.
 */
#include "pl_evproxy.h"
#include "pl_bind.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages moved per socket per wakeup before polling again, so a flood of
 * events cannot starve the subscriptions going the other way or $TERM. */
#define S_BATCH 512
/* The proxy thread's name (at most 15 characters). */
#define S_THREAD_NAME "pl-evproxy"

struct _pl_evproxy_t {
    zsock_t *pipe;              /* our end of the PAIR pipe to the thread */
    pthread_t thread;           /* the proxy thread                      */
    bool started;               /* thread was started: destroy joins it  */
    atomic_bool finished;       /* the thread's last act (selftest)      */
};

/* Handed to the thread: what to bind, its end of the pipe, and where it
 * reports success. Lives on pl_evproxy_new's stack, which returns only
 * after the thread has signalled (or has been joined). */
typedef struct {
    const pl_evproxy_opts_t *opts;  /* caller's options                  */
    zsock_t *pipe;                  /* the thread's end; the thread owns it */
    int rc;                         /* 0 bound, -1 failed                */
    atomic_bool *finished;          /* set as the thread's last act      */
} s_start_t;

/* Move up to S_BATCH whole messages from one socket to the other (to NULL:
 * read and drop them). A send
 * to XPUB or XSUB does not fail in practice (XPUB drops for a subscriber
 * at its HWM, XSUB queues subscriptions); should one fail anyway, the rest
 * of that message is read and dropped so the next one starts clean. */
static void
s_forward (void *from, void *to)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    bool dropping = false;
    for (int n = 0; n < S_BATCH; ) {
        if (zmq_msg_recv (&part, from, ZMQ_DONTWAIT) == -1)
            break;                  /* EAGAIN: drained (parts of a message
                                     * arrive together, never half) */
        int more = zmq_msg_more (&part);
        if (!to)
            dropping = true;        /* read only to consume */
        if (!dropping
        &&  zmq_msg_send (&part, to, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) == -1)
            dropping = true;
        if (!more) {
            dropping = false;
            n++;
        }
    }
    zmq_msg_close (&part);
}

/* The forwarding loop. Returns on $TERM from the pipe, or when the context
 * is terminated. */
static void
s_run (zsock_t *pipe, zsock_t *xsub, zsock_t *xpub)
{
    zmq_pollitem_t items[] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (xsub), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (xpub), 0, ZMQ_POLLIN, 0 },
    };
    while (true) {
        if (zmq_poll (items, 3, -1) == -1) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (pipe);
            bool term = !msg || zframe_streq (zmsg_first (msg), "$TERM");
            zmsg_destroy (&msg);
            if (term)
                break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_forward (items[1].socket, items[2].socket);   /* events down */
        if (items[2].revents & ZMQ_POLLIN)
            s_forward (items[2].socket, NULL);  /* subscriptions: XPUB applied them */
    }
}

/* The proxy thread (pthread start routine). It closes every socket it
 * opened before it returns, pipe included, so that joining it is enough to
 * know the proxy holds nothing open. */
static void *
s_thread (void *arg)
{
    s_start_t *start = arg;
    const pl_evproxy_opts_t *opts = start->opts;
    zsock_t *pipe = start->pipe;
    int hwm = opts->hwm > 0 ? opts->hwm : PL_EVPROXY_HWM;
    zsock_t *xsub = zsock_new (ZMQ_XSUB);
    zsock_t *xpub = zsock_new (ZMQ_XPUB);
    bool ok = xsub && xpub;
    if (ok) {
        zsock_set_rcvhwm (xsub, hwm);
        zsock_set_sndhwm (xsub, hwm);
        zsock_set_rcvhwm (xpub, hwm);
        zsock_set_sndhwm (xpub, hwm);
        ok = pl_bind (xsub, opts->xsub, opts->xsub_name ? opts->xsub_name : "XSUB") == 0
          && pl_bind (xpub, opts->xpub, opts->xpub_name ? opts->xpub_name : "XPUB") == 0;
    }
    /* subscribe to everything upstream; XSUB repeats it to every publisher
     * that connects later */
    if (ok && zmq_send (zsock_resolve (xsub), "\x01", 1, 0) != 1)
        ok = false;
    start->rc = ok ? 0 : -1;
    atomic_bool *finished = start->finished;
    start = NULL;                   /* gone once we signal */
    opts = NULL;
    zsock_signal (pipe, 0);
    if (ok)
        s_run (pipe, xsub, xpub);
    /* (failed: end at once; pl_evproxy_new joins us) */
    zsock_destroy (&xsub);
    zsock_destroy (&xpub);
    zsock_destroy (&pipe);
    atomic_store (finished, true);  /* destroy joined us: it outlives this */
    return NULL;
}

pl_evproxy_t *
pl_evproxy_new (const pl_evproxy_opts_t *opts)
{
    assert (opts && opts->xsub && opts->xpub);
    s_start_t start = { opts, NULL, -1, NULL };
    pl_evproxy_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    atomic_init (&self->finished, false);
    start.finished = &self->finished;
    self->pipe = zsys_create_pipe (&start.pipe);
    int err = pthread_create (&self->thread, NULL, s_thread, &start);
    if (err != 0) {
        pl_error ("event proxy: cannot start its thread: %s", strerror (err));
        zsock_destroy (&start.pipe);
        pl_evproxy_destroy (&self);
        goto cleanup;
    }
    /* named, so `top -H` shows it */
    pthread_setname_np (self->thread, S_THREAD_NAME);
    self->started = true;
    /* The thread signals once it has bound (or failed to); on any failure
     * destroy joins it here, so start stays valid as long as it is used. */
    if (zsock_wait (self->pipe) == -1 || start.rc == -1)
        pl_evproxy_destroy (&self);
cleanup:
    return self;
}

/* Stop the thread and wait for it to end. Safe twice. */
static void
s_stop (pl_evproxy_t *self)
{
    if (self->started) {
        /* Non-blocking: the pipe carries nothing else, so it is never
         * full; a thread that already ended (failed bind) has closed its
         * end, and then the send fails or goes nowhere. Either way the
         * join below returns. */
        zsock_set_sndtimeo (self->pipe, 0);
        zstr_send (self->pipe, "$TERM");
        pthread_join (self->thread, NULL);
        self->started = false;
    }
}

void
pl_evproxy_destroy (pl_evproxy_t **self_p)
{
    assert (self_p);
    pl_evproxy_t *self = *self_p;
    if (self) {
        s_stop (self);
        zsock_destroy (&self->pipe);
        free (self);
        *self_p = NULL;
    }
}

/* ---------------------------------------------------------------------
 * Selftest
 */

/* Receive one message within timeout_ms, or NULL. */
static zmsg_t *
s_recv_within (zsock_t *sock, int timeout_ms)
{
    zmsg_t *msg = NULL;
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert (poller);
    if (zpoller_wait (poller, timeout_ms) == sock)
        msg = zmsg_recv (sock);
    zpoller_destroy (&poller);
    return msg;
}

static void
s_subscribe (zsock_t *sub, const char *topic, bool on)
{
    /* topics carry their trailing NUL, so pass the length by hand */
    int rc = zmq_setsockopt (zsock_resolve (sub), on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE,
                             topic, strlen (topic) + 1);
    assert (rc == 0);
}

/* Wait until the publisher (an XPUB, so it sees subscriptions) has
 * received the proxy's subscribe-all, and nothing else. */
static void
s_await_subscribe_all (zsock_t *publisher)
{
    zmsg_t *msg = s_recv_within (publisher, 3000);
    assert (msg);
    zframe_t *frame = zmsg_first (msg);
    assert (zframe_size (frame) == 1 && zframe_data (frame)[0] == 1);
    zmsg_destroy (&msg);
}

static void s_publish (zsock_t *publisher, const char *room, const char *packet);

/* Publish probes to room until sub receives one (the subscription reached
 * the proxy's XPUB), then drain the extra probes. Bounded: 3 s. */
static void
s_await_route (zsock_t *publisher, zsock_t *sub, const char *room)
{
    int64_t deadline = zclock_mono () + 3000;
    zmsg_t *msg = NULL;
    while (!msg && zclock_mono () < deadline) {
        s_publish (publisher, room, "[\"probe\"]");
        msg = s_recv_within (sub, 20);
    }
    assert (msg);
    while (msg) {
        zmsg_destroy (&msg);
        msg = s_recv_within (sub, 20);
    }
}

static void
s_publish (zsock_t *publisher, const char *room, const char *packet)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, room, strlen (room) + 1);
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_EVENT);
    zmsg_addstr (msg, "gw-test/7");
    zmsg_addstr (msg, packet);
    int rc = zmsg_send (&msg, publisher);
    assert (rc == 0);
}

/* Expect exactly the event (room, packet), frames intact. */
static void
s_expect_event (zsock_t *sub, const char *room, const char *packet)
{
    zmsg_t *msg = s_recv_within (sub, 2000);
    assert (msg);
    assert (zmsg_size (msg) == 5);
    zframe_t *topic = zmsg_first (msg);
    assert (zframe_size (topic) == strlen (room) + 1);
    assert (memcmp (zframe_data (topic), room, strlen (room) + 1) == 0);
    assert (zframe_streq (zmsg_next (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_EVENT));
    assert (zframe_streq (zmsg_next (msg), "gw-test/7"));
    assert (zframe_streq (zmsg_next (msg), packet));
    zmsg_destroy (&msg);
}

static void
s_expect_nothing (zsock_t *sub, int timeout_ms)
{
    zmsg_t *msg = s_recv_within (sub, timeout_ms);
    assert (msg == NULL);
}

void
pl_evproxy_test (bool verbose)
{
    if (verbose)
        printf (" * pl_evproxy: ");
    zsys_handler_set (NULL);

    /* prefix-extension rooms stay apart; publishers see one subscribe-all
     * and none of the gateways' room subscriptions */
    pl_evproxy_opts_t opts = { .xsub = "inproc://pl-evproxy-test-in",
                               .xpub = "inproc://pl-evproxy-test-out" };
    pl_evproxy_t *proxy = pl_evproxy_new (&opts);
    assert (proxy);
    /* the worker side: an XPUB rather than a PUB, to observe the
     * subscriptions that reach it */
    zsock_t *publisher = zsock_new (ZMQ_XPUB);
    assert (publisher);
    int rc = zsock_connect (publisher, "%s", opts.xsub);
    assert (rc == 0);
    zsock_t *sub_al = zsock_new (ZMQ_SUB);
    zsock_t *sub_alice = zsock_new (ZMQ_SUB);
    assert (sub_al && sub_alice);
    rc = zsock_connect (sub_al, "%s", opts.xpub);
    assert (rc == 0);
    rc = zsock_connect (sub_alice, "%s", opts.xpub);
    assert (rc == 0);
    s_await_subscribe_all (publisher);
    s_subscribe (sub_al, "user:al", true);
    s_subscribe (sub_alice, "user:alice", true);
    s_await_route (publisher, sub_al, "user:al");
    s_await_route (publisher, sub_alice, "user:alice");
    s_expect_nothing (sub_al, 20);              /* no probe leaked across */

    s_publish (publisher, "user:alice", "[\"actor:created\",{\"id\":\"a1\"}]");
    s_publish (publisher, "user:bob", "[\"actor:created\",{\"id\":\"b1\"}]");
    s_publish (publisher, "user:al", "[\"actor:deleted\",\"a2\"]");
    s_expect_event (sub_alice, "user:alice", "[\"actor:created\",{\"id\":\"a1\"}]");
    s_expect_event (sub_al, "user:al", "[\"actor:deleted\",\"a2\"]");
    s_expect_nothing (sub_alice, 100);
    s_expect_nothing (sub_al, 50);

    /* unsubscribing stops delivery; the publisher never hears of it */
    s_subscribe (sub_al, "user:al", false);
    /* alice's probe goes out after al's unsubscribe reached the proxy */
    s_await_route (publisher, sub_alice, "user:alice");
    s_publish (publisher, "user:al", "[\"actor:deleted\",\"a3\"]");
    s_publish (publisher, "user:alice", "[\"actor:deleted\",\"a4\"]");
    s_expect_event (sub_alice, "user:alice", "[\"actor:deleted\",\"a4\"]");
    s_expect_nothing (sub_al, 100);
    zmsg_t *upstream = s_recv_within (publisher, 50);
    assert (upstream == NULL);                  /* no room (un)subscriptions */

    zsock_destroy (&sub_al);
    zsock_destroy (&sub_alice);
    zsock_destroy (&publisher);
    pl_evproxy_destroy (&proxy);
    pl_evproxy_destroy (&proxy);            /* safe twice */
    assert (proxy == NULL);

    /* destroy returns only once the proxy thread has ended (and with it
     * every socket it opened): a thread still closing its pipe when main()
     * returns races czmq's atexit zsys_shutdown. (With a zactor, whose
     * thread is detached, this failed within a few rounds.) */
    /* The thread marks its very last act (after closing its sockets): a
     * stop that returned without joining it would still see it unset. */
    for (int round = 0; round < 20; round++) {
        /* fresh endpoints each round: libzmq releases an inproc name only
         * once its reaper has destroyed the socket, after close returns */
        char in[64], out[64];
        snprintf (in, sizeof in, "inproc://pl-evproxy-join-in-%d", round);
        snprintf (out, sizeof out, "inproc://pl-evproxy-join-out-%d", round);
        pl_evproxy_opts_t fresh = { .xsub = in, .xpub = out };
        proxy = pl_evproxy_new (&fresh);
        assert (proxy);
        assert (!atomic_load (&proxy->finished));   /* running */
        s_stop (proxy);
        assert (atomic_load (&proxy->finished));
        pl_evproxy_destroy (&proxy);
    }

    /* a second proxy on the same ipc endpoints is refused, not a thief */
    char dir[] = "/tmp/pl-evproxy-XXXXXX";
    char *made = mkdtemp (dir);
    assert (made);
    char in[128], out[128], out2[128];
    snprintf (in, sizeof in, "ipc://%s/in.ipc", dir);
    snprintf (out, sizeof out, "ipc://%s/out.ipc", dir);
    snprintf (out2, sizeof out2, "ipc://%s/out2.ipc", dir);
    pl_evproxy_opts_t ipc = { .xsub = in, .xpub = out,
                              .xsub_name = "PARLEY_EVENTS_XSUB", .hwm = 1000 };
    proxy = pl_evproxy_new (&ipc);
    assert (proxy);
    assert (pl_bind_ipc_in_use (in));
    pl_evproxy_opts_t clash = { .xsub = in, .xpub = out2 };
    pl_evproxy_t *second = pl_evproxy_new (&clash);
    assert (second == NULL);
    pl_evproxy_destroy (&proxy);
    /* (libzmq closes the listener asynchronously after destroy, so "no
     * longer in use" cannot be asserted at once) */
    unlink (in + 6);
    unlink (out + 6);
    unlink (out2 + 6);
    rc = rmdir (dir);
    assert (rc == 0);

    if (verbose)
        printf ("OK\n");
}
