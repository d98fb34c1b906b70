/*  pl_gateway_poll - the Engine.IO v4 HTTP long-polling transport of the
 *  gateway, on the gateway loop (libev; pl_h1 reads the requests).
 *
 *  A polling session is a pl_gwconn_t this file allocates (no wsi) with a
 *  pl_gwpoll_t transport: the Engine.IO session (pl_eio_poll: queue, codec,
 *  state machine), the GET held until there is something to say, the POST
 *  being read, and one ev_timer (heartbeat via pl_eio_poll_tick, the
 *  CONNECT deadline, the hold limit, and the deferred free). Everything
 *  above (Socket.IO, requests, rooms) sees a pl_gwconn_t like a WebSocket's:
 *  pl_gateway__send and pl_gateway__kill pick the transport.
 *
 *  Sessions are looked up by sid, "<gateway id>.<20 random chars>": the
 *  prefix names the gateway that holds the session; clients treat it as
 *  opaque. A request for another gateway's sid is handed to it
 *  (pl_gateway_fwd.c), and one handed here is served by
 *  pl_gateway__poll_forwarded: a GET another gateway holds for its client
 *  is `rget` (its answer goes back as a FWDREP), a POST is answered at once.
 *
 *  Freeing is deferred to the next loop turn (the timer, at 0): a session
 *  closed inside a fan-out or a request of its own stays valid until those
 *  return, as lws does for WebSockets.
 */
#include "pl_gateway_int.h"
#include "pl_log.h"
#include "pl_sio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_TEXT "text/plain; charset=UTF-8"

typedef struct pl_gwpoll {
    pl_gateway_t *gw;
    pl_gwconn_t *conn;              /* the session                              */
    pl_eio_poll_t *eio;             /* the Engine.IO side                       */
    uint64_t prober;                /* the WebSocket that sent "2probe", or 0   */
    pl_h1_conn_t *get;              /* the held GET, or NULL                    */
    bool rget;                      /* the held GET is another gateway's:       */
    char rget_peer[16];             /* ... that gateway, and its forward id     */
    char rget_id[PL_GW_FWDID_MAX + 1];  /* (kept once answered: see GONE)   */
    pl_h1_conn_t *post;             /* the POST whose body is being read        */
    int64_t get_since;              /* ms, when get started waiting             */
    ev_timer timer;                 /* heartbeat / deadlines / deferred free    */
    ev_timer flush;                 /* answer the held GET on the next turn     */
    struct pl_gwpoll *prev, *next;  /* in gw->poll_list                         */
    char sid[PL_GW_SID_MAX];
    bool client_closed;             /* a POST's "1" with no GET held: closed on
                                       the next loop turn (s_post)             */
} pl_gwpoll_t;

/* An Engine.IO error answer (engine.io's Server.errorMessages shape). */
static void
s_error (pl_h1_conn_t *h1, int status, int code, const char *message)
{
    char body[128];
    int n = snprintf (body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
    pl_h1_extra_t extra = { NULL, NULL, false, NULL, NULL };
    pl_h1_respond (h1, status, &extra, body, (size_t) n);
}

static void
s_text (pl_h1_conn_t *h1, int status, const char *body, size_t len)
{
    pl_h1_extra_t extra = { NULL, NULL, false, S_TEXT, NULL };
    pl_h1_respond (h1, status, &extra, body, len);
}

/* Who asked: a request of ours (h1), or one another gateway forwarded
 * (peer, fwdid). */
typedef struct {
    pl_h1_conn_t *h1;
    const char *peer, *fwdid;
} s_asker_t;

static void
s_answer_error (pl_gateway_t *gw, const s_asker_t *a, int status, int code, const char *message)
{
    if (a->h1) {
        s_error (a->h1, status, code, message);
        return;
    }
    char body[128];
    int n = snprintf (body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
    pl_gateway__fwd_answer (gw, a->peer, a->fwdid, status, body, (size_t) n);
}

static void
s_answer_text (pl_gateway_t *gw, const s_asker_t *a, const char *body, size_t len)
{
    if (a->h1)
        s_text (a->h1, 200, body, len);
    else
        pl_gateway__fwd_answer (gw, a->peer, a->fwdid, 200, body, len);
}

/* Detach the HTTP connection h1 from its session (both sides). */
static void
s_detach (pl_h1_conn_t *h1)
{
    pl_gwconn_t *http = h1 ? (pl_gwconn_t *) pl_h1_user (h1) : NULL;
    if (http)
        http->poll_session = NULL;
}

/* Answer the held GET now if the session has something for it. Every
 * state change happens before pl_h1_respond, which may write at once and
 * run the connection's next (pipelined) request before it returns: so
 * only from a clean stack (a watcher of this file, or the GET's own
 * request, where pl_h1 itself defers the write), never from inside a
 * fan-out walking a room. */
static void
s_flush_now (pl_gwpoll_t *p)
{
    if ((!p->get && !p->rget) || !pl_eio_poll_ready (p->eio))
        return;
    size_t len = 0;
    char *body = pl_eio_poll_take (p->eio, &len);
    s_asker_t a = { p->get, p->rget_peer, p->rget_id };
    p->get = NULL;
    p->rget = false;
    s_detach (a.h1);
    if (body)
        s_answer_text (p->gw, &a, body, len);
    else
        s_answer_error (p->gw, &a, 500, 0, "out of memory");
    free (body);
}

/* libev timer, gateway loop: the held GET's answer, on the loop turn after
 * the packets were queued (all of that turn's packets in one answer). */
static void
s_on_flush (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    s_flush_now ((pl_gwpoll_t *) w->data);
}

/* Answer the held GET on the next loop turn, if it has something coming. */
static void
s_flush (pl_gwpoll_t *p)
{
    if ((p->get || p->rget) && pl_eio_poll_ready (p->eio) && !ev_is_active (&p->flush)) {
        ev_timer_set (&p->flush, 0., 0.);
        ev_timer_start (p->gw->loop, &p->flush);
    }
}

/* Re-arm the timer for the earliest of: the heartbeat's next deadline, the
 * CONNECT deadline, the hold limit of a waiting GET. */
static void
s_arm (pl_gwpoll_t *p, int64_t next, int64_t now)
{
    pl_gateway_t *gw = p->gw;
    if (!p->conn->connected && gw->app.message == NULL) {
        int64_t connect_by = p->conn->created + gw->connect_timeout;
        next = next < 0 || connect_by < next ? connect_by : next;
    }
    if (p->get || p->rget) {
        int64_t hold = p->get_since + PL_GW_POLL_HOLD_MS;
        next = next < 0 || hold < next ? hold : next;
    }
    ev_timer_stop (gw->loop, &p->timer);
    if (next >= 0) {
        ev_timer_set (&p->timer, next > now ? (double) (next - now) / 1000. : 0., 0.);
        ev_timer_start (gw->loop, &p->timer);
    }
}

/* The session's end: the application hears of it, the connection is
 * released (rooms, id), the transport freed. */
static void
s_free (pl_gwpoll_t *p)
{
    pl_gateway_t *gw = p->gw;
    pl_gwconn_t *conn = p->conn;
    /* closing first: answering the held GET may run the connection's next
     * (pipelined) request at once, which must find no session (400), not
     * this one being freed (pl_gateway_destroy frees sessions that were
     * never killed) */
    if (!conn->closing) {
        conn->closing = true;
        zhashx_delete (gw->polls, p->sid);
    }
    ev_timer_stop (gw->loop, &p->timer);
    ev_timer_stop (gw->loop, &p->flush);
    s_flush_now (p);                        /* a held GET gets "1" (or "6") */
    if (p->get) {
        pl_h1_conn_t *h1 = p->get;
        p->get = NULL;
        s_detach (h1);
        s_error (h1, 400, 1, "Session ID unknown");
    }
    if (p->rget) {
        p->rget = false;
        pl_gateway__fwd_answer (gw, p->rget_peer, p->rget_id, 400,
                                "{\"code\":1,\"message\":\"Session ID unknown\"}", 40);
    }
    if (p->post)
        s_detach (p->post);
    ev_timer_stop (gw->loop, &p->timer);    /* nothing above may re-arm them */
    ev_timer_stop (gw->loop, &p->flush);
    if (p->prev)
        p->prev->next = p->next;
    else
        gw->poll_list = p->next;
    if (p->next)
        p->next->prev = p->prev;
    pl_gateway__session_end (gw, conn);     /* zeroes conn */
    pl_eio_poll_destroy (&p->eio);
    free (p);
    free (conn);
}

/* libev timer, gateway loop: the heartbeat (pl_eio_poll_tick), the CONNECT
 * deadline, a GET held too long (a noop), or a closed session's free. */
static void
s_on_timer (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gwpoll_t *p = (pl_gwpoll_t *) w->data;
    pl_gwconn_t *conn = p->conn;
    int64_t now = pl_gateway__now_ms ();
    if (conn->closing) {
        s_free (p);
        return;
    }
    if (p->client_closed) {
        pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        return;
    }
    if (pl_gateway__connect_late (p->gw, conn, now)) {
        pl_gateway__poll_kill (conn, "no CONNECT in time");
        return;
    }
    if ((p->get || p->rget) && now - p->get_since >= PL_GW_POLL_HOLD_MS
    &&  pl_eio_poll_push (p->eio, PL_EIO_NOOP, NULL, 0) != PL_EIO_POLL_OK)
        pl_eio_poll_close (p->eio, "out of memory");
    int64_t next = pl_eio_poll_tick (p->eio, now);
    if (pl_eio_poll_state (p->eio) == PL_EIO_POLL_CLOSED) {
        pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        return;
    }
    s_flush_now (p);
    s_arm (p, next, now);
}

void
pl_gateway__poll_kill (pl_gwconn_t *conn, const char *why)
{
    pl_gwpoll_t *p = conn->poll;
    pl_gateway_t *gw = p->gw;
    if (conn->closing)
        return;
    pl_debug ("conn %llu: polling session closing: %s", (unsigned long long) conn->id, why);
    conn->closing = true;
    zhashx_delete (gw->polls, p->sid);      /* its requests get 400 from now */
    pl_eio_poll_close (p->eio, why);        /* no effect if it closed itself */
    /* a held GET is answered by s_free, from a clean stack: this may run
     * inside a fan-out (a full queue) */
    if (p->post) {
        s_detach (p->post);                 /* its body gets 400 */
        p->post = NULL;
    }
    ev_timer_stop (gw->loop, &p->timer);
    ev_timer_set (&p->timer, 0., 0.);
    ev_timer_start (gw->loop, &p->timer);
}

/* Queue a text packet (binary: one binary message) and answer the GET. */
static void
s_send (pl_gateway_t *self, pl_gwconn_t *conn, const char *pkt, size_t len, bool binary)
{
    pl_gwpoll_t *p = conn->poll;
    if (conn->closing || (!binary && (len == 0 || pkt[0] < '0' || pkt[0] > '6')))
        return;
    pl_eio_poll_rc_t rc = binary
        ? pl_eio_poll_push_binary (p->eio, pkt, len)
        : pl_eio_poll_push (p->eio, (pl_eio_type_t) (pkt[0] - '0'), pkt + 1, len - 1);
    if (rc == PL_EIO_POLL_CLOSE) {
        pl_warn ("conn %llu: polling send queue full (%zu bytes): disconnecting a slow client",
                 (unsigned long long) conn->id, p->gw->poll_limits.max_queued);
        self->stats.slow_disconnects++;
        pl_gwmetrics_slow (self->metrics, 1);
        pl_gateway__poll_kill (conn, "slow consumer");
        return;
    }
    if (rc != PL_EIO_POLL_OK) {
        /* never dropped silently: the client reconnects and re-reads */
        pl_gateway__poll_kill (conn, "a packet too large for a polling response");
        return;
    }
    s_flush (p);
}

void
pl_gateway__poll_send (pl_gateway_t *self, pl_gwconn_t *conn, const char *pkt, size_t len)
{
    s_send (self, conn, pkt, len, false);
}

void
pl_gateway__poll_send_binary (pl_gateway_t *self, pl_gwconn_t *conn, const void *data,
                              size_t len)
{
    s_send (self, conn, (const char *) data, len, true);
}

/* The value of query argument name ("sid=" etc.), the last one winning;
 * NULL when absent. */
static const char *
s_arg (const pl_h1_req_t *req, const char *name)
{
    const char *value = NULL;
    size_t n = strlen (name);
    for (size_t i = 0; i < req->nquery; i++)
        if (strncmp (req->query[i], name, n) == 0)
            value = req->query[i] + n;
    return value;
}

static pl_gwconn_t *
s_find (pl_gateway_t *self, const char *sid)
{
    return sid && strlen (sid) < PL_GW_SID_MAX ? (pl_gwconn_t *) zhashx_lookup (self->polls, sid)
                                               : NULL;
}

pl_gwconn_t *
pl_gateway__poll_upgradable (pl_gateway_t *self, const char *sid)
{
    pl_gwconn_t *conn = s_find (self, sid);
    return conn && pl_eio_poll_state (conn->poll->eio) == PL_EIO_POLL_POLLING ? conn : NULL;
}

bool
pl_gateway__poll_known (pl_gateway_t *self, const char *sid)
{
    return s_find (self, sid) != NULL
        || (strlen (sid) < PL_GW_SID_MAX && zhashx_lookup (self->upgraded, sid) != NULL);
}

void
pl_gateway__poll_head (pl_gateway_t *self, pl_gwconn_t *http, const pl_h1_req_t *req)
{
    pl_h1_conn_t *h1 = http->h1;
    const char *eio = s_arg (req, "EIO=");
    const char *transport = s_arg (req, "transport=");
    const char *sid = s_arg (req, "sid=");
    bool get = strcmp (req->method, "GET") == 0;
    bool post = strcmp (req->method, "POST") == 0;
    http->poll_session = NULL;
    if (!eio || strcmp (eio, "4") != 0) {
        s_error (h1, 400, 5, "Unsupported protocol version");
        return;
    }
    if (!transport || (strcmp (transport, "polling") != 0 && strcmp (transport, "websocket") != 0)) {
        s_error (h1, 400, 0, "Transport unknown");
        return;
    }
    bool foreign = sid && pl_gateway__fwd_foreign (self, sid);
    if (sid && !foreign && !s_find (self, sid)) {
        s_error (h1, 400, 1, "Session ID unknown");
        return;
    }
    if (strcmp (transport, "websocket") == 0) {
        /* an upgrade pl_h1 handed to lws never gets here */
        s_error (h1, 400, 3, "Bad request");
        return;
    }
    if (!get && !post) {
        s_error (h1, 400, 2, "Bad handshake method");
        return;
    }
    if (!sid) {
        if (!get)
            s_error (h1, 400, 2, "Bad handshake method");
        return;                             /* the handshake: at the request */
    }
    if (get || foreign)
        return;                             /* pl_eio_poll_get (or the forward)
                                               at the request */
    pl_gwconn_t *conn = s_find (self, sid);
    pl_gwpoll_t *p = conn->poll;
    const char *type = pl_h1_header (h1, "content-type");
    bool octet = type && strncasecmp (type, "application/octet-stream", 24) == 0;
    pl_eio_poll_rc_t rc = pl_eio_poll_post_begin (p->eio, req->length > 0 ? (size_t) req->length : 0,
                                                  octet);
    if (rc == PL_EIO_POLL_OK) {
        p->post = h1;
        http->poll_session = conn;
    }
    else
    if (rc == PL_EIO_POLL_TOO_LARGE)
        s_error (h1, 413, 0, "Payload too large");
    else {
        s_error (h1, 400, 3, "Bad request");
        if (rc == PL_EIO_POLL_CLOSE)
            pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
    }
}

/* The handshake GET: a new session, answered with its open packet. */
static void
s_handshake (pl_gateway_t *self, pl_h1_conn_t *h1)
{
    char rnd[21], *open = NULL;
    int64_t now = pl_gateway__now_ms ();
    if (zhashx_size (self->polls) >= (size_t) self->poll_max_sessions) {
        /* a session holds no socket: without this, handshakes on one
         * keep-alive connection would grow memory without end */
        pl_log_limited (&self->close_log, now, 10, "polling refusal lines", PL_LOG_WARN,
                        "HTTP long-polling: %zu sessions open (PARLEY_POLL_MAX_SESSIONS); "
                        "a handshake from %s refused", zhashx_size (self->polls),
                        pl_h1_peer (h1));
        s_error (h1, 503, 0, "too many polling sessions on this gateway");
        pl_gwmetrics_refused (self->metrics, PL_ERR_NONE, PL_GWM_REFUSED_SESSION_CAP);
        return;
    }
    pl_gwconn_t *conn = calloc (1, sizeof *conn);
    pl_gwpoll_t *p = conn ? calloc (1, sizeof *p) : NULL;
    if (!p || pl_sio_new_sid (rnd) != 0
    ||  !(p->eio = pl_eio_poll_new (&self->poll_limits, now))
    ||  pl_gateway__conn_register (self, conn) != 0)
        goto fail;
    snprintf (p->sid, sizeof p->sid, "%s.%s", self->id, rnd);
    if (!(open = pl_sio_encode_open (p->sid, true, self->ping_interval, self->ping_timeout,
                                     self->max_payload))
    ||  zhashx_insert (self->polls, p->sid, conn) != 0)
        goto fail;
    p->gw = self;
    p->conn = conn;
    conn->poll = p;
    conn->created = now;
    conn->established = true;
    self->nconns++;
    pl_gwmetrics_opened (self->metrics, PL_GWM_POLLING);
    p->next = self->poll_list;
    if (p->next)
        p->next->prev = p;
    self->poll_list = p;
    ev_timer_init (&p->timer, s_on_timer, 0., 0.);
    ev_timer_init (&p->flush, s_on_flush, 0., 0.);
    p->timer.data = p->flush.data = p;
    s_arm (p, now + self->ping_interval, now);
    s_text (h1, 200, open, strlen (open));
    free (open);
    return;
fail:
    if (conn)
        pl_gateway__conn_unregister (self, conn);
    if (p)
        pl_eio_poll_destroy (&p->eio);
    free (p);
    free (conn);
    free (open);
    s_error (h1, 500, 0, "server error");
}

/* The POST's packets, in order, to the Socket.IO layer. */
static void
s_post (pl_gateway_t *self, pl_gwconn_t *conn, const s_asker_t *a, const char *body,
        size_t body_len)
{
    pl_gwpoll_t *p = conn->poll;
    const pl_eio_poll_packet_t *pkts = NULL;
    size_t count = 0;
    p->post = NULL;
    pl_eio_poll_rc_t rc = pl_eio_poll_post (p->eio, body ? body : "", body_len,
                                            pl_gateway__now_ms (), &pkts, &count);
    if (rc == PL_EIO_POLL_TOO_LARGE) {
        s_answer_error (self, a, 413, 0, "Payload too large");
        return;
    }
    if (rc != PL_EIO_POLL_OK) {
        s_answer_error (self, a, 400, 3, "Bad request");
        pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        return;
    }
    s_answer_text (self, a, "ok", 2);
    for (size_t i = 0; i < count && !conn->closing; i++) {
        const pl_eio_poll_packet_t *pk = &pkts[i];
        if (pk->binary)
            pl_gateway__sio_binary (self, conn, pk->data, pk->len);
        else
        if (pk->type != PL_EIO_PONG && pk->type != PL_EIO_CLOSE)
            /* a text packet's type digit is just before its data in the body */
            pl_gateway__sio_message (self, conn, pk->data - 1, pk->len + 1);
    }
    if (conn->closing || pl_eio_poll_state (p->eio) != PL_EIO_POLL_CLOSED)
        return;
    /* the client's "1". With a GET held, it gets "6" now. Without one, a
     * GET of this same loop turn (sent with the POST, as engine.io-client
     * and the suites do; libev runs a turn's events last come first) gets
     * "6" too: the session closes on the next turn, then GETs get 400. */
    if (p->get)
        pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
    else {
        p->client_closed = true;
        ev_timer_stop (self->loop, &p->timer);
        ev_timer_set (&p->timer, 0., 0.);
        ev_timer_start (self->loop, &p->timer);
    }
}

void
pl_gateway__poll_request (pl_gateway_t *self, pl_gwconn_t *http, const pl_h1_req_t *req)
{
    pl_h1_conn_t *h1 = http->h1;
    const char *sid = s_arg (req, "sid=");
    bool post = strcmp (req->method, "POST") == 0;
    /* a POST's session was attached at its head (and is detached if it
     * closes meanwhile); a GET's is looked up now */
    if (sid && pl_gateway__fwd_foreign (self, sid)) {
        const char *type = pl_h1_header (h1, "content-type");
        bool octet = type && strncasecmp (type, "application/octet-stream", 24) == 0;
        pl_gateway__fwd_request (self, http, post ? (octet ? "POSTB" : "POST") : "GET", sid,
                                 req->body, req->body_len);
        return;
    }
    pl_gwconn_t *conn = post ? http->poll_session : s_find (self, sid);
    if (!sid) {
        s_handshake (self, h1);
        return;
    }
    if (!conn || conn->closing) {
        http->poll_session = NULL;
        s_error (h1, 400, 1, "Session ID unknown");
        return;
    }
    pl_gwpoll_t *p = conn->poll;
    if (post) {
        http->poll_session = NULL;
        s_asker_t a = { h1, NULL, NULL };
        s_post (self, conn, &a, req->body, req->body_len);
        return;
    }
    if (p->client_closed) {                 /* closed by a POST this turn */
        http->poll_session = NULL;
        s_text (h1, 200, "6", 1);
        return;
    }
    pl_eio_poll_rc_t rc = pl_eio_poll_get (p->eio);
    if (rc == PL_EIO_POLL_BAD) {
        http->poll_session = NULL;
        s_error (h1, 400, 3, "Bad request");
        return;
    }
    if (rc == PL_EIO_POLL_CLOSE) {          /* a second GET: the first gets "1" */
        http->poll_session = NULL;
        s_error (h1, 400, 3, "Bad request");
        pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        return;
    }
    int64_t now = pl_gateway__now_ms ();
    p->get = h1;
    p->get_since = now;
    http->poll_session = conn;
    /* the hold limit may come before the heartbeat's deadline */
    if (!ev_is_active (&p->timer)
    ||  ev_timer_remaining (self->loop, &p->timer) * 1000. > PL_GW_POLL_HOLD_MS)
        s_arm (p, -1, now);
    s_flush_now (p);                        /* in its own request: pl_h1 defers */
}

void
pl_gateway__poll_http_closed (pl_gateway_t *self, pl_gwconn_t *http)
{
    pl_gateway__fwd_http_closed (self, http);
    pl_gwconn_t *conn = http->poll_session;
    http->poll_session = NULL;
    if (!conn)
        goto cleanup;
    /* the session must forget this connection even when it is closing
     * already (it is freed on the next loop turn and would answer a held
     * GET on a connection pl_h1 frees right after this call) */
    pl_gwpoll_t *p = conn->poll;
    if (p->get == http->h1) {
        p->get = NULL;
        pl_eio_poll_get_gone (p->eio);      /* no effect on a closed session */
    }
    if (p->post == http->h1) {
        p->post = NULL;
        pl_eio_poll_post_gone (p->eio);
    }
    if (!conn->closing && pl_eio_poll_state (p->eio) == PL_EIO_POLL_CLOSED)
        pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
cleanup:
    return;
}

int
pl_gateway__poll_probe (pl_gateway_t *self, pl_gwconn_t *session, pl_gwconn_t *ws)
{
    (void) self;
    if (!session->poll || pl_eio_poll_probe (session->poll->eio) != PL_EIO_POLL_OK)
        return -1;
    session->poll->prober = ws->id;
    s_flush (session->poll);                /* the held GET gets "6" */
    return 0;
}

void
pl_gateway__poll_unprobe (pl_gateway_t *self, pl_gwconn_t *ws)
{
    pl_gwconn_t *session = pl_gateway__conn_lookup (self, ws->upgrade_of);
    if (session && session->poll && session->poll->prober == ws->id) {
        session->poll->prober = 0;
        pl_eio_poll_probe_cancel (session->poll->eio);
        pl_debug ("conn %llu: its probing WebSocket went away before upgrading; polling again",
                  (unsigned long long) session->id);
    }
}

int
pl_gateway__poll_upgrade (pl_gateway_t *self, pl_gwconn_t *session, pl_gwconn_t *ws)
{
    pl_gwpoll_t *p = session->poll;
    if (!p || pl_eio_poll_upgrade (p->eio) != PL_EIO_POLL_OK)
        return -1;
    s_flush (p);
    /* the WebSocket becomes the session: its id (pending replies and the
     * broker's caller context name it), user, rooms, counters */
    pl_gateway__conn_unregister (self, ws);
    uint32_t slot = (uint32_t) (session->id & 0xffffffffu);
    ws->id = session->id;
    self->slots[slot] = ws;
    session->id = 0;
    ws->upgrade_of = 0;
    /* its sid stays known while it lives: a WebSocket that comes with it
     * later is opened and closed (engine.io's "ignored") */
    ws->sid = strdup (p->sid);
    if (ws->sid && zhashx_insert (self->upgraded, ws->sid, ws) != 0) {
        free (ws->sid);
        ws->sid = NULL;
    }
    ws->connected = session->connected;
    ws->nsps = session->nsps;
    ws->bin = session->bin;
    session->bin = NULL;
    ws->presence = session->presence;
    ws->inflight = session->inflight;
    ws->rate_tat = session->rate_tat;
    ws->created = session->created;
    ws->bin_pending = session->bin_pending;
    ws->user = session->user;
    session->user = NULL;
    ws->rooms = session->rooms;
    session->rooms = NULL;
    pl_rooms_rebind (&ws->rooms, ws);
    session->presence = false;
    /* its connection-state recovery (pid, a replay in progress) */
    memcpy (ws->pid, session->pid, sizeof ws->pid);
    session->pid[0] = '\0';
    ws->ended = session->ended;
    ws->recover = session->recover;
    session->recover = NULL;
    session->connected = false;         /* nothing of it is left to save */
    /* what was queued for polling goes first, in order */
    size_t len;
    bool binary;
    char *pkt;
    while ((pkt = pl_eio_poll_shift (p->eio, &len, &binary)) != NULL) {
        if (binary)
            pl_gateway__send_binary (self, ws, pkt, len);
        else
            pl_gateway__send_text (self, ws, pkt, len);
        free (pkt);
    }
    pl_gateway__timer_append (self, ws, PL_GWTIMER_PING, self->ping_interval);
    pl_gateway__poll_kill (session, "upgraded");
    pl_gwmetrics_upgraded (self->metrics);
    return 0;
}

void
pl_gateway__poll_stop (pl_gateway_t *self)
{
    while (self->poll_list)
        s_free (self->poll_list);
}

void
pl_gateway__poll_forwarded (pl_gateway_t *self, const char *peer, const char *fwdid,
                            const char *op, const char *sid, const char *body, size_t body_len)
{
    s_asker_t a = { NULL, peer, fwdid };
    pl_gwconn_t *conn = s_find (self, sid);
    pl_gwpoll_t *p = conn ? conn->poll : NULL;
    pl_eio_poll_rc_t rc;
    if (strcmp (op, "GONE") == 0) {
        /* the client cancelled the GET it held on peer: as a local one.
         * Also when this side answered it already: peer says GONE only
         * while it still waits, so the client never got that answer, and
         * the session must not go on without the packets it held */
        if (!p || conn->closing || strcmp (p->rget_peer, peer) != 0
        ||  strcmp (p->rget_id, fwdid) != 0)
            goto cleanup;
        if (!p->rget) {
            pl_gateway__poll_kill (conn, "poll connection closed prematurely");
            goto cleanup;
        }
        p->rget = false;
        pl_eio_poll_get_gone (p->eio);
        if (pl_eio_poll_state (p->eio) == PL_EIO_POLL_CLOSED)
            pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        goto cleanup;
    }
    self->stats.poll_forwards_served++;
    if (!conn || conn->closing) {
        s_answer_error (self, &a, 400, 1, "Session ID unknown");
        goto cleanup;
    }
    if (strcmp (op, "GET") != 0) {
        /* POST or POSTB: the head's check and the body, at once */
        rc = pl_eio_poll_post_begin (p->eio, body_len, strcmp (op, "POSTB") == 0);
        if (rc == PL_EIO_POLL_OK)
            s_post (self, conn, &a, body, body_len);
        else
        if (rc == PL_EIO_POLL_TOO_LARGE)
            s_answer_error (self, &a, 413, 0, "Payload too large");
        else {
            s_answer_error (self, &a, 400, 3, "Bad request");
            if (rc == PL_EIO_POLL_CLOSE)
                pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        }
        goto cleanup;
    }
    rc = pl_eio_poll_get (p->eio);
    if (rc != PL_EIO_POLL_OK) {
        s_answer_error (self, &a, 400, 3, "Bad request");
        if (rc == PL_EIO_POLL_CLOSE)        /* a second GET: the first gets "1" */
            pl_gateway__poll_kill (conn, pl_eio_poll_why (p->eio));
        goto cleanup;
    }
    int64_t now = pl_gateway__now_ms ();
    p->rget = true;
    snprintf (p->rget_peer, sizeof p->rget_peer, "%s", peer);
    snprintf (p->rget_id, sizeof p->rget_id, "%s", fwdid);
    p->get_since = now;
    if (!ev_is_active (&p->timer)
    ||  ev_timer_remaining (self->loop, &p->timer) * 1000. > PL_GW_POLL_HOLD_MS)
        s_arm (p, -1, now);
    s_flush (p);                            /* on the next turn: not inside the bus drain */
cleanup:
    return;
}
