/*  pl_evproxy - the XSUB/XPUB event proxy (proto/README.md, "Event bus").
 *
 *  Why on the broker's loop rather than a thread of its own (which it had
 *  until the broker's CPU per request was measured, docs/BENCHMARKS.md,
 *  "The broker's CPU per request"): under the rpc load the thread cost
 *  about 4-5 us of CPU and 0.45 context switches per request, nearly all
 *  of it waking up for each event on its own, and its zmq_poll asked
 *  three sockets for ZMQ_EVENTS twice per wakeup. On the loop an event is
 *  forwarded in the wakeup that brought it, often with the reply its
 *  worker sent just before, and the thread, its pipe and its join are
 *  gone. The price is that event fan-out shares a core with the request
 *  path instead of having its own: forwarding moves zmq_msg_t parts from
 *  one socket to the other (no copy, no parsing), at most S_BATCH
 *  messages per run of the pump (pl_pump.h), so a flood of events holds
 *  requests up by a fraction of a millisecond at a time.
 *
 *  Why not zproxy: czmq 4.2.1's zproxy neither lets us set the HWMs of
 *  its sockets nor reports a failed bind to its caller (it logs and
 *  carries on), and a broker that cannot bind its event endpoints must
 *  refuse to start.
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
 *  still receives only the rooms it subscribed to. (The XPUB applies a
 *  subscription as it arrives, when libzmq processes the socket's
 *  commands; reading it afterwards only frees it.)
 */
#include "pl_evproxy.h"
#include "pl_bind.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_pump.h"
#include "pl_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages moved per socket per pump run before the loop turns again, so
 * a flood of events cannot starve the subscriptions going the other way,
 * the broker's requests, or the loop's timers. */
#define S_BATCH 256

struct _pl_evproxy_t {
    zsock_t *xsub;              /* bound; workers' PUBs connect           */
    zsock_t *xpub;              /* bound; gateways' SUBs connect          */
    pl_pump_t *pump;            /* drains both on the loop                */
    zloop_t *loop;              /* attached to, or NULL                   */
    pl_replay_t *replay;        /* borrowed, or NULL: no stamping         */
};

/* Move up to budget whole messages from one socket to the other (to
 * NULL: read and drop them). A send to XPUB does not fail in practice
 * (XPUB drops for a subscriber at its HWM); should one fail anyway, the
 * rest of that message is read and dropped so the next one starts clean.
 * Returns the messages read. */
static int
s_forward (void *from, void *to, int budget)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    bool dropping = false;
    int n = 0;
    while (n < budget) {
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
    return n;
}

/* The proxy's sockets, as its pump numbers them (pl_pump.h). */
#define S_XSUB 0x1u
#define S_XPUB 0x2u

/* Recovery on: move up to budget whole messages from the XSUB to the
 * XPUB, stamping each PL01 EV or CTL with its offset and logging it
 * (proto/README.md, "Event bus"): an EV leaves with 8 frames (5 except,
 * 6 publish time, each empty when its worker sent none, 7 offset), a CTL
 * with 7 (5 except, empty; 6 offset), so a gateway tells a stamped EV
 * from a worker's by its count alone. The log keeps no publish time: a
 * replayed event is not timed. Anything else is forwarded as it came
 * (gateways drop it). Returns the messages read. */
static int
s_forward_stamped (pl_evproxy_t *self, void *from, void *to, int budget)
{
    int n = 0;
    pl_zmsg_t msg;
    while (n < budget && pl_zmsg_recv (from, &msg) == 0) {
        n++;
        size_t len[PL_ZMSG_FRAMES];
        const char *f[PL_ZMSG_FRAMES];
        for (int i = 0; i < msg.count; i++)
            f[i] = pl_zmsg_data (&msg, i, &len[i]);
        bool ev = pl_zmsg_is (&msg, 2, PL_CMD_EVENT);
        bool ctl = pl_zmsg_is (&msg, 2, PL_CMD_CONTROL);
        bool stamp = !msg.oversize && pl_zmsg_is (&msg, 1, PL_PROTO_VERSION)
                  && ((ev && msg.count >= 5 && msg.count <= 7) || (ctl && msg.count == 5))
                  && len[0] >= 2 && f[0][len[0] - 1] == 0;
        char offset[PL_REPLAY_OFFSET_LEN + 1];
        if (stamp)
            pl_replay_record (self->replay, zclock_mono (), ctl, f[0], len[0] - 1,
                              f[3], len[3], f[4], len[4],
                              msg.count >= 6 ? f[5] : NULL, msg.count >= 6 ? len[5] : 0,
                              offset);
        int count = msg.count;
        for (int i = 0; i < count; i++) {
            bool last = i == count - 1 && !stamp;
            if (zmq_msg_send (&msg.frame[i], to, (last ? 0 : ZMQ_SNDMORE) | ZMQ_DONTWAIT) == -1)
                break;      /* XPUB drops at a subscriber's HWM: never in practice */
        }
        if (stamp) {
            for (int i = count; i < (ev ? 7 : 6); i++)
                zmq_send (to, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send (to, offset, PL_REPLAY_OFFSET_LEN, ZMQ_DONTWAIT);
        }
        pl_zmsg_close (&msg);
    }
    return n;
}

/* pl_pump drain of the XSUB: events down to the XPUB. Runs on the loop. */
static int
s_drain_events (void *sock, int budget, void *arg, unsigned *sent)
{
    pl_evproxy_t *self = arg;
    int n = self->replay ? s_forward_stamped (self, sock, zsock_resolve (self->xpub), budget)
                         : s_forward (sock, zsock_resolve (self->xpub), budget);
    if (n > 0)
        *sent |= S_XPUB;
    return n;
}

/* pl_pump drain of the XPUB: gateways' (un)subscriptions, already applied
 * by the XPUB, read and dropped; nothing is sent. Runs on the loop. */
static int
s_drain_subscriptions (void *sock, int budget, void *arg, unsigned *sent)
{
    pl_evproxy_t *self = arg;
    (void) sent;
    if (!self->replay)
        return s_forward (sock, NULL, budget);
    /* recovery: a gateway's nonce subscription tells the log that every
     * room subscription it sent before is applied (pl_replay.h) */
    int n = 0;
    zmq_msg_t part;
    zmq_msg_init (&part);
    while (n < budget && zmq_msg_recv (&part, sock, ZMQ_DONTWAIT) != -1) {
        if (!zmq_msg_more (&part))
            n++;
        pl_replay_subscription (self->replay, zmq_msg_data (&part), zmq_msg_size (&part));
    }
    zmq_msg_close (&part);
    return n;
}

pl_evproxy_t *
pl_evproxy_new (const pl_evproxy_opts_t *opts)
{
    assert (opts && opts->xsub && opts->xpub);
    int hwm = opts->hwm > 0 ? opts->hwm : PL_EVPROXY_HWM;
    pl_evproxy_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->xsub = zsock_new (ZMQ_XSUB);
    self->xpub = zsock_new (ZMQ_XPUB);
    self->pump = pl_pump_new (S_BATCH);
    self->replay = opts->replay;
    if (!self->xsub || !self->xpub || !self->pump) {
        pl_error ("event proxy: out of memory");
        pl_evproxy_destroy (&self);
        goto cleanup;
    }
    zsock_set_rcvhwm (self->xsub, hwm);
    zsock_set_sndhwm (self->xsub, hwm);
    zsock_set_rcvhwm (self->xpub, hwm);
    zsock_set_sndhwm (self->xpub, hwm);
    if (pl_bind (self->xsub, opts->xsub, opts->xsub_name ? opts->xsub_name : "XSUB") == -1
    ||  pl_bind (self->xpub, opts->xpub, opts->xpub_name ? opts->xpub_name : "XPUB") == -1) {
        pl_evproxy_destroy (&self);
        goto cleanup;
    }
    /* subscribe to everything upstream; XSUB repeats it to every publisher
     * that connects later. The pump's sockets in this order: S_XSUB, S_XPUB */
    if (zmq_send (zsock_resolve (self->xsub), "\x01", 1, 0) != 1
    ||  pl_pump_add (self->pump, zsock_resolve (self->xsub), s_drain_events, self) == -1
    ||  pl_pump_add (self->pump, zsock_resolve (self->xpub), s_drain_subscriptions, self) == -1) {
        pl_error ("event proxy: cannot set up its sockets: %s", zmq_strerror (zmq_errno ()));
        pl_evproxy_destroy (&self);
    }
cleanup:
    return self;
}

void
pl_evproxy_destroy (pl_evproxy_t **self_p)
{
    assert (self_p);
    pl_evproxy_t *self = *self_p;
    if (self) {
        pl_evproxy_detach (self);
        pl_pump_destroy (&self->pump);
        zsock_destroy (&self->xsub);
        zsock_destroy (&self->xpub);
        free (self);
        *self_p = NULL;
    }
}

int
pl_evproxy_attach (pl_evproxy_t *self, zloop_t *loop)
{
    assert (self && loop && !self->loop);
    int rc = pl_pump_attach (self->pump, loop);
    if (rc == 0)
        self->loop = loop;
    return rc;
}

void
pl_evproxy_detach (pl_evproxy_t *self)
{
    assert (self);
    if (self->loop) {
        pl_pump_detach (self->pump);
        self->loop = NULL;
    }
}

/* ---------------------------------------------------------------------
 * Selftest
 */

/* zloop reader on the actor pipe; runs on the test proxy's thread. Any
 * message ($TERM) stops the loop. */
static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    zmsg_t *msg = zmsg_recv (pipe);
    zmsg_destroy (&msg);
    return -1;
}

/* zactor body; runs on its own thread: a proxy on its own zloop, as the
 * broker's main thread runs it. zactor_new returns once it forwards. */
static void
s_proxy_actor (zsock_t *pipe, void *arg)
{
    pl_evproxy_t *proxy = pl_evproxy_new ((const pl_evproxy_opts_t *) arg);
    zloop_t *loop = zloop_new ();
    assert (proxy && loop);
    int rc = pl_evproxy_attach (proxy, loop);
    assert (rc == 0);
    rc = zloop_reader (loop, pipe, s_on_pipe, NULL);
    assert (rc == 0);
    zsock_signal (pipe, 0);
    zloop_start (loop);
    pl_evproxy_destroy (&proxy);
    pl_evproxy_destroy (&proxy);            /* safe twice */
    zloop_destroy (&loop);
}

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

/* pl_replay send of the test: nothing asks it anything; runs on the
 * test proxy's thread. */
static void
s_no_send (void *arg, const pl_zmsg_part_t *parts, int count)
{
    (void) arg;
    (void) parts;
    (void) count;
}

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
    zactor_t *proxy = zactor_new (s_proxy_actor, &opts);
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

    /* a burst of many batches arrives whole and in order (the pump runs
     * again after each full batch, pl_pump.h) */
    for (int i = 0; i < 3 * S_BATCH + 7; i++) {
        char packet[64];
        snprintf (packet, sizeof packet, "[\"actor:deleted\",\"n%d\"]", i);
        s_publish (publisher, "user:al", packet);
    }
    for (int i = 0; i < 3 * S_BATCH + 7; i++) {
        char packet[64];
        snprintf (packet, sizeof packet, "[\"actor:deleted\",\"n%d\"]", i);
        s_expect_event (sub_al, "user:al", packet);
    }

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
    zactor_destroy (&proxy);

    /* recovery on: every EV and CTL is stamped and logged. An EV leaves
     * with 8 frames (5 except, 6 publish time, each empty when not sent;
     * 7 the offset, increasing), a CTL with 7 (5 except, empty; 6 the
     * offset); anything else passes as it came */
    pl_replay_opts_t ropts = { .max_ms = 60000, .max_bytes = 1 << 20, .wait_ms = 1000,
                               .send = s_no_send };
    pl_replay_t *replay = pl_replay_new (&ropts);
    assert (replay);
    pl_evproxy_opts_t stamped = { .xsub = "inproc://pl-evproxy-test-in2",
                                  .xpub = "inproc://pl-evproxy-test-out2", .replay = replay };
    proxy = zactor_new (s_proxy_actor, &stamped);
    assert (proxy);
    publisher = zsock_new (ZMQ_XPUB);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert (publisher && sub);
    rc = zsock_connect (publisher, "%s", stamped.xsub);
    assert (rc == 0);
    rc = zsock_connect (sub, "%s", stamped.xpub);
    assert (rc == 0);
    s_await_subscribe_all (publisher);
    s_subscribe (sub, "user:al", true);
    s_await_route (publisher, sub, "user:al");
    size_t logged = pl_replay_messages (replay);    /* the probes */
    assert (logged >= 1);
    /* what workers send: 5 or 6 frames (before publish times), 7 (except,
     * maybe empty, and the publish time), or a 5-frame CTL */
    static const char *const sent[][7] = {
        { "EV", "", "[\"a\",1]", NULL },
        { "EV", "", "[\"b\",2]", "[\"user:x\"]", NULL },
        { "EV", "gw-1/3", "[\"c\",3]", "", "1733612345678.123", NULL },
        { "EV", "", "[\"d\",4]", "[\"user:y\"]", "1733612345678.456", NULL },
        { "CTL", "", "{\"leave\":[\"campaign:1\"]}", NULL },
    };
    static const char *const want[][3] = {      /* frames 5, 6 (EV only) */
        { "", "" }, { "[\"user:x\"]", "" }, { "", "1733612345678.123" },
        { "[\"user:y\"]", "1733612345678.456" }, { "", NULL },
    };
    size_t nsent = sizeof sent / sizeof sent[0];
    for (size_t i = 0; i < nsent; i++) {
        zmsg_t *m = zmsg_new ();
        zmsg_addmem (m, "user:al", 8);
        zmsg_addstr (m, PL_PROTO_VERSION);
        for (int k = 0; sent[i][k]; k++)
            zmsg_addstr (m, k == 0 && strcmp (sent[i][k], "CTL") == 0 ? PL_CMD_CONTROL
                          : k == 0 ? PL_CMD_EVENT : sent[i][k]);
        rc = zmsg_send (&m, publisher);
        assert (rc == 0);
    }
    zmsg_t *other = zmsg_new ();
    zmsg_addmem (other, "user:al", 8);
    zmsg_addstr (other, "XX01");
    zmsg_addstr (other, PL_CMD_EVENT);
    rc = zmsg_send (&other, publisher);
    assert (rc == 0);
    char last[PL_REPLAY_OFFSET_LEN + 1] = "";
    for (size_t i = 0; i < nsent; i++) {
        bool ev = want[i][1] != NULL;
        zmsg_t *got = s_recv_within (sub, 2000);
        assert (got && zmsg_size (got) == (ev ? 8 : 7));
        zframe_t *frame = zmsg_first (got);
        for (int f = 0; f < 4; f++)
            frame = zmsg_next (got);
        assert (zframe_streq (frame, sent[i][2]));          /* the packet */
        assert (zframe_streq (zmsg_next (got), want[i][0]));
        if (ev)
            assert (zframe_streq (zmsg_next (got), want[i][1]));
        char *offset = zframe_strdup (zmsg_next (got));
        assert (offset && strlen (offset) == PL_REPLAY_OFFSET_LEN && offset[12] == '-');
        assert (strcmp (offset, last) > 0);
        snprintf (last, sizeof last, "%s", offset);
        free (offset);
        assert (zmsg_next (got) == NULL);
        zmsg_destroy (&got);
    }
    zmsg_t *got = s_recv_within (sub, 2000);
    assert (got && zmsg_size (got) == 3);               /* not PL01: untouched */
    zmsg_destroy (&got);
    zsock_destroy (&sub);
    zsock_destroy (&publisher);
    zactor_destroy (&proxy);
    assert (pl_replay_messages (replay) == logged + nsent);
    pl_replay_destroy (&replay);

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
    pl_evproxy_t *first = pl_evproxy_new (&ipc);
    assert (first);
    assert (pl_bind_ipc_in_use (in));
    pl_evproxy_opts_t clash = { .xsub = in, .xpub = out2 };
    pl_evproxy_t *second = pl_evproxy_new (&clash);
    assert (second == NULL);
    pl_evproxy_destroy (&first);
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
