/*  pl_bus - ZeroMQ sockets inside the lws loop. */
#include "pl_bus.h"
#include "pl_bus_int.h"
#include "pl_id.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_zmsg.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_HWM 100000


static void s_drain (pl_bus__sock_t *sock);

static bool
s_has_input (pl_bus__sock_t *sock)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (sock->zsock, ZMQ_EVENTS, &events, &size) != 0)
        return false;
    return (events & ZMQ_POLLIN) != 0;
}

/* lws timer: runs on the lws loop. Continues a drain that hit its batch
 * limit, or one that a send made necessary. */
static void
s_sul_drain (lws_sorted_usec_list_t *sul)
{
    pl_bus__sock_t *sock = lws_container_of (sul, pl_bus__sock_t, sul);
    sock->scheduled = false;
    s_drain (sock);
}

/* After any zmq call on a socket, input may be pending with no edge left
 * on the fd: schedule a drain rather than recurse into handlers. A timer
 * due at once runs when lws next serves an fd; the call may come from a
 * libev callback of the gateway (HTTP long-polling, a libev timer), after
 * which nothing may come for long: lws_cancel_service() wakes lws (one pipe
 * write per scheduled drain; see pl_gateway__lws_rearm). */
static void
s_kick (pl_bus__sock_t *sock)
{
    if (!sock->scheduled && s_has_input (sock)) {
        sock->scheduled = true;
        lws_sul_schedule (sock->bus->lws, 0, &sock->sul, s_sul_drain, 1);
        lws_cancel_service (sock->bus->lws);
    }
}


/* Receive and dispatch up to PL_BUS_BATCH messages; reschedule if more.
 * Only the DEALER takes a message longer than PL_ZMSG_FRAMES: a METRICS
 * answer, into self->tail. */
static void
s_drain (pl_bus__sock_t *sock)
{
    pl_bus_t *self = sock->bus;
    pl_zmsg_t msg;
    int ntail = 0;
    int cap = sock->is_sub ? 0 : (int) (sizeof self->tail / sizeof self->tail[0]);
    for (int handled = 0;
         handled < PL_BUS_BATCH && pl_zmsg_recv_wide (sock->zsock, &msg, self->tail, cap, &ntail) == 0;
         handled++) {
        bool metrics = pl_zmsg_is (&msg, 0, PL_PROTO_VERSION) && pl_zmsg_is (&msg, 1, PL_CMD_METRICS);
        if (msg.oversize)
            pl_warn ("bus: dropped a message with too many frames");
        else
        if (metrics && self->handlers.on_metrics)
            pl_bus__dispatch_metrics (self, &msg, ntail);
        else
        if (ntail > 0 || metrics)
            pl_warn ("bus: dropped a message with too many frames");
        else
            pl_bus__dispatch (sock, &msg);
        for (int i = 0; i < ntail; i++)
            zmq_msg_close (&self->tail[i]);
        pl_zmsg_close (&msg);
    }
    s_kick (sock);
}

/* Runs on the lws loop: the adopted ZMQ_FD changed state. */
int
pl_bus_callback (struct lws *wsi, enum lws_callback_reasons reason,
                 void *user, void *in, size_t len)
{
    (void) user;
    (void) in;
    (void) len;
    pl_bus__sock_t *sock = (pl_bus__sock_t *) lws_get_opaque_user_data (wsi);
    switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
            if (sock)
                s_drain (sock);
            break;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
            if (sock)
                sock->wsi = NULL;
            break;
        default:
            break;
    }
    return 0;
}

static int
s_adopt (pl_bus_t *self, struct lws_vhost *vhost, pl_bus__sock_t *sock)
{
    int rc = -1;
    int fd = -1;
    size_t size = sizeof fd;
    if (zmq_getsockopt (sock->zsock, ZMQ_FD, &fd, &size) != 0)
        goto cleanup;
    int dup_fd = dup (fd);
    if (dup_fd < 0)
        goto cleanup;
    lws_adopt_desc_t info;
    memset (&info, 0, sizeof info);
    info.vh = vhost;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = dup_fd;
    info.vh_prot_name = PL_BUS_PROTOCOL;
    info.opaque = sock;
    sock->wsi = lws_adopt_descriptor_vhost_via_info (&info);
    if (!sock->wsi)
        goto cleanup;                   /* lws closed dup_fd */
    sock->bus = self;
    rc = 0;
cleanup:
    return rc;
}

static void *
s_socket (void *zctx, int type, const char *endpoint, const char *identity)
{
    void *zsock = zmq_socket (zctx, type);
    int zero = 0, hwm = S_HWM, one = 1;
    if (!zsock)
        goto cleanup;
    if (identity)
        zmq_setsockopt (zsock, ZMQ_ROUTING_ID, identity, strlen (identity));
    zmq_setsockopt (zsock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (zsock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (zsock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* DEALER: refuse to queue requests while the broker is down, so the
     * client hears SERVICE_UNAVAILABLE now rather than a late surprise */
    if (type == ZMQ_DEALER)
        zmq_setsockopt (zsock, ZMQ_IMMEDIATE, &one, sizeof one);
    if (zmq_connect (zsock, endpoint) != 0) {
        pl_error ("bus: cannot connect to %s: %s", endpoint, zmq_strerror (errno));
        zmq_close (zsock);
        zsock = NULL;
    }
cleanup:
    return zsock;
}

pl_bus_t *
pl_bus_new (struct lws_context *lws, struct lws_vhost *vhost, const char *frontend,
            const char *events, const pl_bus_handlers_t *handlers, void *arg,
            const char *identity)
{
    pl_bus_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->handlers = *handlers;
    self->arg = arg;
    self->lws = lws;
    self->zctx = zmq_ctx_new ();
    if (!self->zctx)
        goto fail;
    self->dealer.zsock = s_socket (self->zctx, ZMQ_DEALER, frontend, identity);
    self->sub.zsock = s_socket (self->zctx, ZMQ_SUB, events, NULL);
    self->sub.is_sub = true;
    if (!self->dealer.zsock || !self->sub.zsock)
        goto fail;
    if (s_adopt (self, vhost, &self->dealer) || s_adopt (self, vhost, &self->sub)) {
        pl_error ("bus: cannot adopt ZeroMQ descriptors into lws");
        goto fail;
    }
    goto cleanup;
fail:
    pl_bus_destroy (&self);
cleanup:
    return self;
}

void
pl_bus_destroy (pl_bus_t **self_p)
{
    assert (self_p);
    pl_bus_t *self = *self_p;
    if (self) {
        pl_bus__sock_t *socks[] = { &self->dealer, &self->sub };
        for (int i = 0; i < 2; i++) {
            lws_sul_cancel (&socks[i]->sul);
            if (socks[i]->wsi) {
                lws_set_opaque_user_data (socks[i]->wsi, NULL);
                socks[i]->wsi = NULL;   /* lws closes the dup'd fd itself */
            }
            if (socks[i]->zsock)
                zmq_close (socks[i]->zsock);
        }
        if (self->zctx)
            zmq_ctx_term (self->zctx);
        free (self);
        *self_p = NULL;
    }
}

void
pl_bus_linger (pl_bus_t *self, int ms)
{
    if (self && self->dealer.zsock)
        zmq_setsockopt (self->dealer.zsock, ZMQ_LINGER, &ms, sizeof ms);
}

int
pl_bus_request (pl_bus_t *self, const char *service, const void *reqid,
                size_t reqid_len, const char *event, const char *ctx,
                size_t ctx_len, const char *body, size_t body_len)
{
    /* with ZMQ_IMMEDIATE and no broker the first part fails with EAGAIN
     * and nothing is queued */
    pl_zmsg_part_t parts[] = {
        { PL_PROTO_VERSION, 4 }, { PL_CMD_REQ, strlen (PL_CMD_REQ) },
        { service, strlen (service) }, { reqid, reqid_len },
        { event, strlen (event) }, { ctx, ctx_len },
        { body ? body : "", body ? body_len : 0 },
    };
    int rc = pl_zmsg_send (self->dealer.zsock, parts, 7);
    s_kick (&self->dealer);
    return rc;
}

int
pl_bus_forward (pl_bus_t *self, bool reply, const char *peer, size_t peer_len,
                const char *fwdid, size_t fwdid_len, const char *op,
                const char *sid, const char *body, size_t body_len)
{
    const char *cmd = reply ? PL_CMD_FORWARD_REPLY : PL_CMD_FORWARD;
    pl_zmsg_part_t parts[7] = {
        { PL_PROTO_VERSION, 4 }, { cmd, strlen (cmd) }, { peer, peer_len },
        { fwdid, fwdid_len }, { op, strlen (op) },
    };
    int n = 5;
    if (!reply)
        parts[n++] = (pl_zmsg_part_t) { sid, strlen (sid) };
    parts[n++] = (pl_zmsg_part_t) { body ? body : "", body ? body_len : 0 };
    int rc = pl_zmsg_send (self->dealer.zsock, parts, n);
    s_kick (&self->dealer);
    return rc;
}

/* PL01 · command, a query of the broker's (STATUS, METRICS). */
static int
s_query (pl_bus_t *self, const char *command)
{
    pl_zmsg_part_t parts[] = {
        { PL_PROTO_VERSION, 4 }, { command, strlen (command) },
    };
    int rc = pl_zmsg_send (self->dealer.zsock, parts, 2);
    s_kick (&self->dealer);
    return rc;
}

int
pl_bus_status (pl_bus_t *self)
{
    return s_query (self, PL_CMD_STATUS);
}

int
pl_bus_metrics (pl_bus_t *self)
{
    return s_query (self, PL_CMD_METRICS);
}

int
pl_bus_recovery (pl_bus_t *self, const char *command, const char *key, const char *json)
{
    pl_zmsg_part_t parts[] = {
        { PL_PROTO_VERSION, 4 }, { command, strlen (command) }, { key, strlen (key) },
        { json ? json : "", json ? strlen (json) : 0 },
    };
    int rc = pl_zmsg_send (self->dealer.zsock, parts, json ? 4 : 3);
    s_kick (&self->dealer);
    return rc;
}

int
pl_bus_subscribe (pl_bus_t *self, const char *room, bool on)
{
    /* the topic is the room plus its NUL, so prefixes never match */
    int rc = zmq_setsockopt (self->sub.zsock, on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE,
                             room, strlen (room) + 1);
    s_kick (&self->sub);
    return rc;
}

/* ---- selftest -------------------------------------------------------- */

#include <stdio.h>
#include <time.h>

static struct {
    int replies, statuses, events, controls, forwards, metrics;
    char last[256];
    int64_t published_us;               /* the last event's */
} s_seen;

static void
s_test_reply (void *arg, const void *reqid, size_t reqid_len, const char *reply, size_t len,
              const char *directives, size_t directives_len)
{
    (void) arg;
    assert (reqid_len == 3 && memcmp (reqid, "r42", 3) == 0);
    snprintf (s_seen.last, sizeof s_seen.last, "%.*s|%.*s", (int) len, reply,
              (int) directives_len, directives ? directives : "");
    s_seen.replies++;
}

static void
s_test_control (void *arg, const char *room, const char *json, size_t len,
                const char *offset, size_t offset_len)
{
    (void) arg;
    (void) offset;
    (void) offset_len;
    snprintf (s_seen.last, sizeof s_seen.last, "%s|%.*s", room, (int) len, json);
    s_seen.controls++;
}

static void
s_test_status (void *arg, const char *json, size_t len)
{
    (void) arg;
    snprintf (s_seen.last, sizeof s_seen.last, "%.*s", (int) len, json);
    s_seen.statuses++;
}

static void
s_test_event (void *arg, const char *room, const char *origin, size_t origin_len,
              const char *packet, size_t len, const char *except, size_t except_len,
              const char *offset, size_t offset_len, int64_t published_us)
{
    (void) arg;
    snprintf (s_seen.last, sizeof s_seen.last, "%s|%.*s|%.*s%s%.*s%s%.*s", room,
              (int) origin_len, origin, (int) len, packet, except ? "|" : "",
              (int) except_len, except ? except : "", offset ? "@" : "", (int) offset_len,
              offset ? offset : "");
    s_seen.published_us = published_us;
    s_seen.events++;
}

static void
s_test_forward (void *arg, const char *peer, size_t peer_len, const char *fwdid,
                size_t fwdid_len, const char *op, size_t op_len, const char *sid, size_t sid_len,
                const char *body, size_t body_len)
{
    (void) arg;
    snprintf (s_seen.last, sizeof s_seen.last, "FWD %.*s|%.*s|%.*s|%.*s|%.*s", (int) peer_len,
              peer, (int) fwdid_len, fwdid, (int) op_len, op, (int) sid_len, sid,
              (int) body_len, body);
    s_seen.forwards++;
}

static void
s_test_forward_reply (void *arg, const char *peer, size_t peer_len, const char *fwdid,
                      size_t fwdid_len, const char *status, size_t status_len,
                      const char *body, size_t body_len)
{
    (void) arg;
    snprintf (s_seen.last, sizeof s_seen.last, "FWDREP %.*s|%.*s|%.*s|%.*s", (int) peer_len,
              peer, (int) fwdid_len, fwdid, (int) status_len, status, (int) body_len, body);
    s_seen.forwards++;
}

static void
s_test_metrics (void *arg, const char *const *names, const size_t *name_lens,
                const char *const *jsons, const size_t *json_lens, size_t n)
{
    (void) arg;
    snprintf (s_seen.last, sizeof s_seen.last, "METRICS %zu %.*s=%.*s %.*s=%.*s", n,
              (int) name_lens[0], names[0], (int) json_lens[0], jsons[0],
              (int) name_lens[n - 1], names[n - 1], (int) json_lens[n - 1], jsons[n - 1]);
    s_seen.metrics++;
}

/* lws 4.1 ignores lws_service()'s timeout: a timer bounds each wait. */
static lws_sorted_usec_list_t s_tick;
static void
s_tick_cb (lws_sorted_usec_list_t *sul)
{
    (void) sul;
}

static void
s_service (struct lws_context *ctx)
{
    lws_sul_schedule (ctx, 0, &s_tick, s_tick_cb, 50 * LWS_US_PER_MS);
    lws_service (ctx, 0);
}

/* Service the loop until *counter reaches want or 2 s pass. */
static void
s_service_until (struct lws_context *ctx, int *counter, int want)
{
    time_t end = time (NULL) + 2;
    while (*counter < want && time (NULL) <= end)
        s_service (ctx);
}

/* Receive one message of exactly these n frames on sock (the ROUTER). */
static void
s_expect_frames (void *sock, const char *const *frames, int n)
{
    zmq_msg_t m;
    for (int i = 0; i < n; i++) {
        zmq_msg_init (&m);
        assert (zmq_msg_recv (&m, sock, 0) >= 0);
        assert (zmq_msg_size (&m) == strlen (frames[i])
             && memcmp (zmq_msg_data (&m), frames[i], strlen (frames[i])) == 0);
        assert (zmq_msg_more (&m) == (i < n - 1));
        zmq_msg_close (&m);
    }
}

static void
s_send_frames (void *sock, const char **frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_send (sock, frames[i], strlen (frames[i]) + (frames[i][0] == 'u' ? 1 : 0),
                  i < n - 1 ? ZMQ_SNDMORE : 0);
}

void
pl_bus_test (bool verbose)
{
    if (verbose)
        printf (" * pl_bus: ");
    char dir[] = "/tmp/pl-bus-XXXXXX";
    assert (mkdtemp (dir));
    char front[128], events[128];
    snprintf (front, sizeof front, "ipc://%s/front.ipc", dir);
    snprintf (events, sizeof events, "ipc://%s/events.ipc", dir);

    /* a real broker stand-in: ROUTER and PUB on ipc */
    void *zctx = zmq_ctx_new ();
    void *router = zmq_socket (zctx, ZMQ_ROUTER);
    void *pub = zmq_socket (zctx, ZMQ_PUB);
    assert (zmq_bind (router, front) == 0 && zmq_bind (pub, events) == 0);

    lws_set_log_level (LLL_ERR, NULL);
    static const struct lws_protocols protocols[] = {
        { PL_BUS_PROTOCOL, pl_bus_callback, 0, 0, 0, NULL, 0 },
        { NULL, NULL, 0, 0, 0, NULL, 0 }
    };
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    struct lws_context *ctx = lws_create_context (&info);
    assert (ctx);
    struct lws_vhost *vhost = lws_get_vhost_by_name (ctx, "default");
    assert (vhost);
    pl_bus_handlers_t handlers = { s_test_reply, s_test_status, s_test_event, s_test_control,
                                   NULL, NULL, s_test_forward, s_test_forward_reply,
                                   s_test_metrics };
    pl_bus_t *bus = pl_bus_new (ctx, vhost, front, events, &handlers, NULL, "gw-t");
    assert (bus);

    /* a request reaches the ROUTER with every frame intact (once connected) */
    int sent = -1;
    for (int i = 0; i < 40 && sent != 0; i++) {
        sent = pl_bus_request (bus, "actors", "r42", 3, "actor:get", "{}", 2, "\"a1\"", 4);
        if (sent != 0)
            s_service (ctx);
    }
    assert (sent == 0);
    zmq_msg_t m;
    const char *expect[] = { NULL, "PL01", "REQ", "actors", "r42", "actor:get", "{}", "\"a1\"" };
    char identity[256];
    size_t identity_len = 0;
    for (int i = 0; i < 8; i++) {
        zmq_msg_init (&m);
        assert (zmq_msg_recv (&m, router, 0) >= 0);
        if (i == 0) {
            identity_len = zmq_msg_size (&m);
            memcpy (identity, zmq_msg_data (&m), identity_len);
        }
        else
            assert (zmq_msg_size (&m) == strlen (expect[i])
                 && memcmp (zmq_msg_data (&m), expect[i], strlen (expect[i])) == 0);
        assert (zmq_msg_more (&m) == (i < 7));
        zmq_msg_close (&m);
    }
    /* the DEALER's routing id is the one given (the gateway id) */
    assert (identity_len == 4 && memcmp (identity, "gw-t", 4) == 0);
    /* a FWD goes out with every frame; a FWD and a FWDREP come in */
    assert (pl_bus_forward (bus, false, "gw-o", 4, "f1", 2, "POST", "gw-o.abc", "4hi", 3) == 0);
    const char *fwd[] = { "gw-t", "PL01", "FWD", "gw-o", "f1", "POST", "gw-o.abc", "4hi" };
    s_expect_frames (router, fwd, 8);
    assert (pl_bus_forward (bus, true, "gw-o", 4, "f2", 2, "200", NULL, "ok", 2) == 0);
    const char *fwdrep[] = { "gw-t", "PL01", "FWDREP", "gw-o", "f2", "200", "ok" };
    s_expect_frames (router, fwdrep, 7);
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *fwd_in[] = { "PL01", "FWD", "gw-o", "f3", "GET", "gw-t.x", "" };
    s_send_frames (router, fwd_in, 7);
    s_service_until (ctx, &s_seen.forwards, 1);
    assert (s_seen.forwards == 1 && strcmp (s_seen.last, "FWD gw-o|f3|GET|gw-t.x|") == 0);
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *fwd_bad[] = { "PL01", "FWD", "gw-o", "f3", "GET", "gw-t.x" };   /* 6 frames */
    s_send_frames (router, fwd_bad, 6);
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *rep_in[] = { "PL01", "FWDREP", "gw-o", "f4", "404", "" };
    s_send_frames (router, rep_in, 6);
    s_service_until (ctx, &s_seen.forwards, 2);
    assert (s_seen.forwards == 2 && strcmp (s_seen.last, "FWDREP gw-o|f4|404|") == 0);
    /* the reply and a STATUS come back through the lws loop */
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *rep[] = { "PL01", "REP", "r42", "{\"success\":true}" };
    s_send_frames (router, rep, 4);
    s_service_until (ctx, &s_seen.replies, 1);
    assert (s_seen.replies == 1 && strcmp (s_seen.last, "{\"success\":true}|") == 0);
    /* a reply with room directives */
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *rep_dir[] = { "PL01", "REP", "r42", "{\"success\":true}", "{\"join\":[\"c:1\"]}" };
    s_send_frames (router, rep_dir, 5);
    s_service_until (ctx, &s_seen.replies, 2);
    assert (s_seen.replies == 2);
    assert (strcmp (s_seen.last, "{\"success\":true}|{\"join\":[\"c:1\"]}") == 0);
    /* directives with a NUL are dropped, whole: "c:1\u0000x" must not join c:1 */
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *rep_nul[] = { "PL01", "REP", "r42", "{\"success\":true}",
                              "{\"join\":[\"c:1\\u0000x\"]}" };
    s_send_frames (router, rep_nul, 5);
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *rep_after[] = { "PL01", "REP", "r42", "{\"after\":1}" };
    s_send_frames (router, rep_after, 4);
    s_service_until (ctx, &s_seen.replies, 3);
    assert (s_seen.replies == 3 && strcmp (s_seen.last, "{\"after\":1}|") == 0);
    assert (pl_bus_status (bus) == 0);
    zmq_msg_init (&m);
    while (zmq_msg_recv (&m, router, 0) >= 0 && zmq_msg_more (&m))
        ;
    zmq_msg_close (&m);
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *status[] = { "PL01", "STATUS", "{\"services\":{}}" };
    s_send_frames (router, status, 3);
    s_service_until (ctx, &s_seen.statuses, 1);
    assert (s_seen.statuses == 1);
    /* METRICS goes out as 2 frames; an answer of 65 pairs (past
     * PL_ZMSG_FRAMES) comes in whole; odd, empty-named, NUL-named and
     * 66-pair answers are dropped */
    assert (pl_bus_metrics (bus) == 0);
    const char *metrics_out[] = { "gw-t", "PL01", "METRICS" };
    s_expect_frames (router, metrics_out, 3);
    const char *answer[2 + 2 * (PL_BUS_METRICS_MAX + 1)];
    char pnames[PL_BUS_METRICS_MAX + 1][16];
    answer[0] = "PL01";
    answer[1] = "METRICS";
    for (int i = 0; i <= PL_BUS_METRICS_MAX; i++) {
        snprintf (pnames[i], sizeof pnames[i], i ? "w%d" : "broker", i);
        answer[2 + 2 * i] = pnames[i];
        answer[3 + 2 * i] = "{}";
    }
    const char *bad_nul[] = { "PL01", "METRICS", "broker", "{}", "a\0b", "{}" };
    for (int round = 0; round < 5; round++) {
        zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
        if (round == 0)
            s_send_frames (router, answer, 2 + 2 * (PL_BUS_METRICS_MAX + 1));    /* too many */
        else
        if (round == 1)
            s_send_frames (router, answer, 5);                                  /* odd */
        else
        if (round == 2) {
            for (int i = 0; i < 5; i++)
                zmq_send (router, bad_nul[i], i == 4 ? 3 : strlen (bad_nul[i]), ZMQ_SNDMORE);
            zmq_send (router, "{}", 2, 0);
        }
        else
        if (round == 3) {
            const char *empty[] = { "PL01", "METRICS", "broker", "{}", "", "{}" };
            for (int i = 0; i < 6; i++)
                zmq_send (router, empty[i], strlen (empty[i]), i < 5 ? ZMQ_SNDMORE : 0);
        }
        else
            s_send_frames (router, answer, 2 + 2 * PL_BUS_METRICS_MAX);
    }
    s_service_until (ctx, &s_seen.metrics, 1);
    assert (s_seen.metrics == 1 && strcmp (s_seen.last, "METRICS 65 broker={} w64={}") == 0);
    /* malformed broker messages are dropped, not fatal */
    zmq_send (router, identity, identity_len, ZMQ_SNDMORE);
    const char *junk[] = { "PL02", "REP", "x", "y" };
    s_send_frames (router, junk, 4);

    /* events: only the subscribed room, never its prefix-extension */
    assert (pl_bus_subscribe (bus, "user:al", true) == 0);
    const char *other[] = { "user:alice", "PL01", "EV", "", "[\"no\"]" };
    const char *mine[] = { "user:al", "PL01", "EV", "gw-1/7", "[\"yes\"]" };
    for (int i = 0; i < 40 && s_seen.events == 0; i++) {
        s_send_frames (pub, other, 5);      /* 'u' frames get their NUL */
        s_send_frames (pub, mine, 5);
        s_service (ctx);
    }
    s_service_until (ctx, &s_seen.events, 1);
    assert (s_seen.events >= 1);
    assert (strcmp (s_seen.last, "user:al|gw-1/7|[\"yes\"]") == 0);
    /* an event with except rooms (frame 6) hands them over; a CTL with
     * a 6th frame is malformed and dropped */
    const char *ctl6[] = { "user:al", "PL01", "CTL", "", "{\"leave\":[]}", "x" };
    s_send_frames (pub, ctl6, 6);
    const char *ex[] = { "user:al", "PL01", "EV", "", "[\"ex\"]", "[\"campaign:1:gm\"]" };
    s_send_frames (pub, ex, 6);
    /* (earlier retries of "yes" may still be in flight: wait for "ex") */
    time_t end = time (NULL) + 2;
    while (!strstr (s_seen.last, "[\"ex\"]") && time (NULL) <= end)
        s_service (ctx);
    assert (s_seen.controls == 0);
    assert (strcmp (s_seen.last, "user:al||[\"ex\"]|[\"campaign:1:gm\"]") == 0);
    int events_before = s_seen.events;
    /* a room control on the same topic */
    const char *ctl[] = { "user:al", "PL01", "CTL", "", "{\"leave\":[\"c:1\"]}" };
    s_send_frames (pub, ctl, 5);
    s_service_until (ctx, &s_seen.controls, 1);
    assert (s_seen.controls == 1 && strcmp (s_seen.last, "user:al|{\"leave\":[\"c:1\"]}") == 0);
    /* rooms with a NUL, in a control or an except frame, drop the message */
    const char *ctl_nul[] = { "user:al", "PL01", "CTL", "", "{\"leave\":[\"c:1\\u0000x\"]}" };
    s_send_frames (pub, ctl_nul, 5);
    const char *ex_nul[] = { "user:al", "PL01", "EV", "", "[\"ex2\"]", "[\"c:1\\u0000x\"]" };
    s_send_frames (pub, ex_nul, 6);
    const char *ev_after[] = { "user:al", "PL01", "EV", "", "[\"after\"]" };
    s_send_frames (pub, ev_after, 5);
    const char *ctl_after[] = { "user:al", "PL01", "CTL", "", "{\"leave\":[\"c:2\"]}" };
    s_send_frames (pub, ctl_after, 5);
    s_service_until (ctx, &s_seen.controls, 2);
    assert (s_seen.controls == 2 && strcmp (s_seen.last, "user:al|{\"leave\":[\"c:2\"]}") == 0);
    assert (s_seen.events == events_before + 1);
    /* a worker's: 7 frames, except (empty: none) and its publish time,
     * handed over in us; a bad time leaves the event delivered, untimed */
    char now_ts[PL_PROTO_TS_MAX + 1], future[PL_PROTO_TS_MAX + 1], old[PL_PROTO_TS_MAX + 1];
    int64_t now_us = pl_id_wall_us ();
    pl_proto_ts_format (now_ts, sizeof now_ts, now_us);
    pl_proto_ts_format (future, sizeof future, now_us + 2 * PL_PROTO_TS_SKEW_US);
    pl_proto_ts_format (old, sizeof old, now_us - 2 * PL_PROTO_TS_SKEW_US);
    const char *w[] = { "user:al", "PL01", "EV", "gw-1/7", "[\"w\"]", "", now_ts };
    s_send_frames (pub, w, 7);
    s_service_until (ctx, &s_seen.events, events_before + 2);
    assert (strcmp (s_seen.last, "user:al|gw-1/7|[\"w\"]") == 0);
    assert (s_seen.published_us == now_us);
    const char *hostile[] = { "", "-1", "0", future, old, "1e15", "17336123456781733612345678",
                              "1733612345678.1234", "\"1733612345678\"", "nan" };
    int seen = events_before + 2;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const char *wx[] = { "user:al", "PL01", "EV", "", "[\"h\"]", "[\"c:1\"]", hostile[i] };
        s_seen.published_us = 0;
        s_send_frames (pub, wx, 7);
        s_service_until (ctx, &s_seen.events, ++seen);
        assert (s_seen.events == seen);
        assert (strcmp (s_seen.last, "user:al||[\"h\"]|[\"c:1\"]") == 0);
        assert (s_seen.published_us == -1);
    }
    /* stamped by a proxy with recovery on: an EV has 8 frames (except,
     * publish time, each maybe empty, then the offset), a CTL 7 (except
     * empty, offset); an empty except is none; a bad offset drops the
     * message, and so does an EV of 9 frames */
    const char *st[] = { "user:al", "PL01", "EV", "", "[\"st\"]", "", "", "0a-1" };
    const char *st_bad[] = { "user:al", "PL01", "EV", "", "[\"bad\"]", "", now_ts, "0a\"-1" };
    const char *st_ex[] = { "user:al", "PL01", "EV", "", "[\"stx\"]", "[\"c:1\"]", now_ts, "0a-2" };
    const char *st_long[] = { "user:al", "PL01", "EV", "", "[\"long\"]", "", now_ts, "0a-3", "x" };
    s_send_frames (pub, st_bad, 8);
    s_send_frames (pub, st_long, 9);
    s_send_frames (pub, st, 8);
    s_service_until (ctx, &s_seen.events, seen + 1);
    assert (s_seen.events == seen + 1);
    assert (strcmp (s_seen.last, "user:al||[\"st\"]@0a-1") == 0);
    assert (s_seen.published_us == -1);
    s_send_frames (pub, st_ex, 8);
    s_service_until (ctx, &s_seen.events, seen + 2);
    assert (strcmp (s_seen.last, "user:al||[\"stx\"]|[\"c:1\"]@0a-2") == 0);
    assert (s_seen.published_us == now_us);
    const char *st_ctl[] = { "user:al", "PL01", "CTL", "", "{\"leave\":[\"c:3\"]}", "", "0a-4" };
    s_send_frames (pub, st_ctl, 7);
    s_service_until (ctx, &s_seen.controls, 3);
    assert (s_seen.controls == 3 && strcmp (s_seen.last, "user:al|{\"leave\":[\"c:3\"]}") == 0);
    assert (s_seen.events == seen + 2);
    /* an empty except frame is none, with or without a publish time */
    const char *e6[] = { "user:al", "PL01", "EV", "", "[\"e6\"]", "" };
    s_send_frames (pub, e6, 6);
    s_service_until (ctx, &s_seen.events, seen + 3);
    assert (strcmp (s_seen.last, "user:al||[\"e6\"]") == 0 && s_seen.published_us == -1);

    lws_sul_cancel (&s_tick);
    pl_bus_destroy (&bus);
    pl_bus_destroy (&bus);
    lws_context_destroy (ctx);
    zmq_close (router);
    zmq_close (pub);
    zmq_ctx_term (zctx);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("OK\n");
}
