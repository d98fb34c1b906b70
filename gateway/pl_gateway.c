/*  pl_gateway - Socket.IO v5 over WebSocket, on one lws loop.
 *
 *  Everything in this file runs on one thread, on a libev loop (epoll) that
 *  the gateway owns and lws runs on as a "foreign loop". lws's default
 *  backend is poll(), which walks every descriptor on every wakeup: O(n) per
 *  event is fine for a demo and ruinous at 50k connections. Debian's lws
 *  4.1.6 ships the libev plugin, so this costs no extra dependency. SIGINT
 *  and SIGTERM are libev signal watchers that end the loop; pl_stopguard
 *  ends the process if the loop does not (pl_gateway_run). The gateway's
 *  timers are libev timers too: lws's own (lws_sul_schedule) fire late on
 *  this loop (pl_gateway__timer_after in pl_gateway_int.h).
 *
 *  The layers, each calling only those below it (lower ones report upward
 *  through callback tables, never by name):
 *    pl_gateway_conn.c   connections, sending, the Engine.IO heartbeat, the
 *                        health body;
 *    pl_gateway_req.c    requests to the broker, replies, presence
 *                        notifications; a front end hears of its own
 *                        requests through self->fronts;
 *    pl_gateway_bus.c    room events, room controls and broker status from
 *                        the event bus;
 *    pl_gateway_sio.c    the Socket.IO front end;  pl_http.c the HTTP one
 *                        (/healthz, the REST API), over pl_h1;
 *    this file           the lws protocol callback, pl_h1's callbacks, and
 *                        the process lifecycle.
 */
#include "pl_gateway_int.h"
#include "pl_http.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_stopguard.h"

#include <assert.h>
#include <ev.h>
#include <libwebsockets.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The protocol callback: runs on the lws loop for every HTTP request and
 * WebSocket connection. */
static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    struct lws_context *context = lws_get_context (wsi);
    pl_gateway_t *self = context ? (pl_gateway_t *) lws_context_user (context) : NULL;
    pl_gwconn_t *conn = (pl_gwconn_t *) user;
    switch (reason) {
        case LWS_CALLBACK_HTTP:
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            /* lws gets only WebSocket upgrade heads pl_h1 has checked: a
             * plain request or another upgrade here means a client sent
             * more than that head before its 101; close */
            if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE
            &&  in && strcasecmp ((const char *) in, "websocket") == 0)
                return 0;
            return -1;
        case LWS_CALLBACK_RAW_ADOPT:
            return -1;                  /* CONNECT's raw fallback: never wanted */
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return pl_http_upgrade_allowed (self, wsi) ? 0 : 1;
        case LWS_CALLBACK_ESTABLISHED:
            return pl_gateway__sio_open (self, conn, wsi);
        case LWS_CALLBACK_RECEIVE:
            if (conn->closing)
                return -1;
            return pl_gateway__sio_receive (self, conn, wsi, (const char *) in, len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return pl_gateway__on_writeable (self, conn, wsi);
        case LWS_CALLBACK_CLOSED:
            if (conn && conn->established) {
                if (conn->upgrade_of)   /* a probe that never finished */
                    pl_gateway__poll_unprobe (self, conn);
                pl_gateway__session_end (self, conn);
            }
            return 0;
        default:
            break;
    }
    return lws_callback_http_dummy (wsi, reason, user, in, len);
}

/* ---- HTTP/1.1 (pl_h1 callbacks, gateway loop) ------------------------ */

static void
s_h1_head (void *arg, pl_h1_conn_t *h1, const pl_h1_req_t *req)
{
    pl_http_head ((pl_gateway_t *) arg, h1, req);
}

static void
s_h1_request (void *arg, pl_h1_conn_t *h1, const pl_h1_req_t *req)
{
    pl_http_request ((pl_gateway_t *) arg, h1, req);
}

static bool
s_h1_upgrade (void *arg, const pl_h1_req_t *req)
{
    return pl_http_upgrade ((pl_gateway_t *) arg, req);
}

/* The WebSocket upgrade goes to lws with the head pl_h1 read: lws parses
 * it again (FILTER_PROTOCOL_CONNECTION checks it again) and answers 101. */
static void
s_h1_handoff (void *arg, int fd, const char *bytes, size_t len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    if (!lws_adopt_socket_vhost_readbuf (self->vhost, fd, bytes, len))
        pl_warn ("http: lws could not adopt a WebSocket connection");  /* it closed fd */
}

static void
s_h1_closed (void *arg, pl_h1_conn_t *h1)
{
    pl_http_closed ((pl_gateway_t *) arg, h1);
}

/* pl_listen callback, gateway loop: every accepted socket starts in pl_h1. */
static void
s_on_accept (void *arg, int fd)
{
    pl_h1_adopt (((pl_gateway_t *) arg)->h1, fd);
}

/* lws log lines go through pl_log so every line has one format. */
static void
s_lws_log (int level, const char *line)
{
    size_t n = strlen (line);
    while (n && line[n - 1] == '\n')
        n--;
    /* lws 4.1.6 logs every readbuf adoption (each WebSocket pl_h1 hands
     * over) at error level: routine here, not worth a line per connect */
    if (strstr (line, "adopt_socket_readbuf: "))
        return;
    pl_log (level == LLL_ERR ? PL_LOG_ERROR : PL_LOG_WARN, "lws: %.*s", (int) n, line);
}

static const struct lws_protocols s_protocols[] = {
    { PL_GW_PROTOCOL, s_callback, sizeof (pl_gwconn_t), PL_GW_RX_BUFFER, 0, NULL, 0 },
    { PL_BUS_PROTOCOL, pl_bus_callback, 0, 0, 0, NULL, 0 },
    { PL_LISTEN_PROTOCOL, pl_listen_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* How much longer than the broker's queue timeout the request timeout must
 * be for a queued request's SERVICE_UNAVAILABLE to reach the client: the
 * broker answers at the queue deadline, and the answer crosses two ZeroMQ
 * hops and a loop turn on each side, well under this on one host or a LAN. */
#define PL_GW_QUEUE_MARGIN_MS 100

/* A request that no worker takes is answered SERVICE_UNAVAILABLE by the
 * broker after PARLEY_QUEUE_TIMEOUT_MS; the gateway answers TIMEOUT after
 * PARLEY_REQUEST_TIMEOUT_MS. With the queue timeout not well below the
 * request timeout the client always hears TIMEOUT ("the outcome is
 * unknown") for a request that never ran, and the broker's answer is
 * dropped as late. Not refused: the system still works, only with the
 * vaguer error. The queue timeout checked is the one in the gateway's own
 * environment; the deploy files give every process the same one. */
static void
s_check_timeouts (pl_config_t *config, long request_timeout)
{
    long queue_timeout = pl_config_int (config, PL_CFG_QUEUE_TIMEOUT_MS);
    if (queue_timeout + PL_GW_QUEUE_MARGIN_MS > request_timeout)
        pl_warn ("PARLEY_REQUEST_TIMEOUT_MS=%ld is less than PARLEY_QUEUE_TIMEOUT_MS=%ld "
                 "+ %d ms: a request that no worker takes will get TIMEOUT from the "
                 "gateway before SERVICE_UNAVAILABLE from the broker; keep the request "
                 "timeout above the queue timeout by the time a handler needs "
                 "(defaults 5000 and 3000)", request_timeout, queue_timeout,
                 PL_GW_QUEUE_MARGIN_MS);
}

pl_gateway_t *
pl_gateway_new (pl_config_t *config)
{
    return pl_gateway_new_app (config, &pl_gateway__parley_app);
}

pl_gateway_t *
pl_gateway_new_app (pl_config_t *config, const pl_gwapp_t *app)
{
    pl_gateway_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->config = config;
    self->ping_interval = pl_config_int (config, PL_CFG_PING_INTERVAL_MS);
    self->ping_timeout = pl_config_int (config, PL_CFG_PING_TIMEOUT_MS);
    self->recovery_ms = pl_config_int (config, PL_CFG_RECOVERY_MS);
    self->request_timeout = pl_config_int (config, PL_CFG_REQUEST_TIMEOUT_MS);
    s_check_timeouts (config, self->request_timeout);
    self->heartbeat = pl_config_int (config, PL_CFG_HEARTBEAT_MS);
    self->max_payload = pl_config_int (config, PL_CFG_MAX_PAYLOAD);
    self->max_inflight = (uint32_t) pl_config_int (config, PL_CFG_MAX_INFLIGHT);
    self->outq_max = (uint32_t) pl_config_int (config, PL_CFG_OUTQ_MAX);
    self->presence_ttl = pl_config_int (config, PL_CFG_PRESENCE_TTL_MS);
    self->app = *app;
    self->connect_timeout = app->connect_timeout > 0 ? app->connect_timeout
                                                     : PL_GW_CONNECT_TIMEOUT;
    /* HTTP long-polling: a response holds at most what a POST may */
    self->poll_limits = (pl_eio_poll_limits_t) {
        .max_response = (size_t) self->max_payload,
        .max_queued = (size_t) pl_config_int (config, PL_CFG_POLL_MAX_QUEUED),
        .max_payload = (size_t) self->max_payload,
        .max_packets = (size_t) pl_config_int (config, PL_CFG_POLL_MAX_PACKETS),
        .ping_interval = self->ping_interval,
        .ping_timeout = self->ping_timeout,
        .sio = app->message == NULL     /* an Engine.IO-level application: no */
    };
    self->poll_max_sessions = pl_config_int (config, PL_CFG_POLL_MAX_SESSIONS);
    pl_eio_poll_t *probe = self->poll_max_sessions > 0 ? pl_eio_poll_new (&self->poll_limits, 0)
                                                       : NULL;
    if (!probe) {
        pl_error ("HTTP long-polling limits: PARLEY_MAX_PAYLOAD must be 16..%u, "
                  "PARLEY_POLL_MAX_QUEUED at least PARLEY_MAX_PAYLOAD, "
                  "PARLEY_POLL_MAX_PACKETS 1..PARLEY_MAX_PAYLOAD, PARLEY_POLL_MAX_SESSIONS > 0, "
                  "the ping times > 0",
                  PL_EIO_POLL_SIZE_MAX);
        goto fail;
    }
    pl_eio_poll_destroy (&probe);
    if (self->heartbeat <= 0 || self->outq_max == 0 || self->max_inflight == 0
    ||  self->presence_ttl <= 0) {
        pl_error ("PARLEY_HEARTBEAT_MS, PARLEY_OUTQ_MAX, PARLEY_MAX_INFLIGHT and "
                  "PARLEY_PRESENCE_TTL_MS must be > 0");
        goto fail;
    }
    long rate = pl_config_int (config, PL_CFG_RATE_PER_SEC);
    long burst = pl_config_int (config, PL_CFG_RATE_BURST);
    if (rate > 1000000 || (rate > 0 && burst == 0)) {
        pl_error ("PARLEY_RATE_PER_SEC must be at most 1000000 and PARLEY_RATE_BURST > 0 "
                  "(PARLEY_RATE_PER_SEC=0 turns the rate limit off)");
        goto fail;
    }
    if (rate > 0) {
        self->rate_interval = 1000000 / rate;
        self->rate_tolerance = (int64_t) (burst - 1) * self->rate_interval;
    }
    self->path = pl_config_str (config, PL_CFG_PATH);       /* checked by pl_config */
    self->secret = pl_config_str (config, PL_CFG_JWT_SECRET);
    const char *cors = pl_config_str (config, PL_CFG_CORS_ORIGINS), *why = NULL;
    if (!(self->cors = pl_cors_new (cors, &why))) {
        pl_error ("config: PARLEY_CORS_ORIGINS=\"%.300s%s\" is refused: %s (\"*\" allows any "
                  "origin, \"none\" none)", cors, strlen (cors) > 300 ? "..." : "", why);
        goto fail;
    }
    const char *hud = pl_config_str (config, PL_CFG_HUD_DIR);
    if (*hud && !(self->hud = pl_hud_new (hud)))    /* empty: no HUD at / */
        goto fail;
    if (!*self->secret)
        self->secret = PL_CONFIG_DEV_SECRET;
    const char *id = pl_config_str (config, PL_CFG_GATEWAY_ID);
    if (*id) {
        /* it starts every polling sid, which goes in URLs as it is */
        if (strlen (id) >= sizeof self->id
        ||  strspn (id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~")
            != strlen (id)) {
            pl_error ("PARLEY_GATEWAY_ID must be under 16 characters of A-Z a-z 0-9 - _ ~");
            goto fail;
        }
        snprintf (self->id, sizeof self->id, "%s", id);
    }
    else {
        unsigned char raw[4];
        if (RAND_bytes (raw, sizeof raw) != 1)
            goto fail;
        snprintf (self->id, sizeof self->id, "gw-%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
    }
    self->polls = zhashx_new ();
    self->upgraded = zhashx_new ();
    self->pending = pl_pending_new (PL_GW_PENDING_SLOTS);
    self->fence = pl_fence_new (self->request_timeout + 1000);
    self->rooms = pl_rooms_new (pl_gateway__on_room_change, self);
    self->ping_frame = pl_frame_new ("2", 1, NULL, 0);
    self->health = pl_health_new (pl_config_str (config, PL_CFG_REQUIRED_SERVICES),
                                  self->heartbeat);
    self->metrics = pl_gwmetrics_new ();
    if (!self->polls || !self->upgraded || !self->pending || !self->fence || !self->rooms || !self->ping_frame || !self->health)
        goto fail;
    self->metrics_timeout = pl_config_int (config, PL_CFG_METRICS_TIMEOUT_MS);
    if (!self->metrics || self->metrics_timeout < 1 || self->metrics_timeout > 60000) {
        pl_error ("PARLEY_METRICS_TIMEOUT_MS must be 1..60000");
        goto fail;
    }
    if (pl_gateway__fwd_start (self) != 0)
        goto fail;
    /* REST has no connection to hang a bucket on (keep-alive or not), so
     * its limit is per user: the same rate and burst, per JWT sub */
    if (self->rate_interval > 0) {
        uint64_t seed;
        if (RAND_bytes ((unsigned char *) &seed, sizeof seed) != 1)
            goto fail;
        self->rest_rate = pl_ratetab_new (self->rate_interval, self->rate_tolerance, seed);
        if (!self->rest_rate)
            goto fail;
    }

    lws_set_log_level (LLL_ERR | LLL_WARN, s_lws_log);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;     /* pl_listen binds it */
    info.protocols = s_protocols;
    info.user = self;
    info.vhost_name = "parley";
    /* no lws "validity" timers: Engine.IO's ping/pong is our liveness
     * check, and lws keeps each validity timer in a sorted list that costs
     * O(connections) per insert (it was a quarter of the gateway's CPU
     * while 10k clients connected) */
    static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0,
                                                .secs_since_valid_hangup = 0 };
    info.retry_and_idle_policy = &no_validity;
    /* lws parses again the upgrade heads pl_h1 took (up to PL_H1_HEAD_MAX
     * bytes): its header table must hold what pl_h1 lets through (its
     * default is 4 KB, and a longer head was closed without a word) */
    info.max_http_header_data = PL_H1_HEAD_MAX + 1024;
    self->loop = ev_loop_new (EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!self->loop) {
        pl_error ("cannot create the libev (epoll) loop");
        goto fail;
    }
    ev_timer_init (&self->ping.timer, pl_gateway__ping_fire, 0., 0.);
    ev_timer_init (&self->pong.timer, pl_gateway__pong_fire, 0., 0.);
    self->ping.timer.data = self->pong.timer.data = self;
    ev_timer_init (&self->pending_timer, pl_gateway__pending_fire, 0., 0.);
    ev_timer_init (&self->status_timer, pl_gateway__status_fire, 0., 0.);
    ev_timer_init (&self->presence_timer, pl_gateway__presence_fire, 0., 0.);
    ev_timer_init (&self->scrapes.timer, pl_gateway__metrics_fire, 0., 0.);
    self->pending_timer.data = self->status_timer.data = self->presence_timer.data = self;
    self->scrapes.timer.data = self;
    void *foreign_loops[1] = { self->loop };
    info.foreign_loops = foreign_loops;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_LIBEV;
    self->lws = lws_create_context (&info);
    if (!self->lws) {
        pl_error ("cannot create the lws context");
        goto fail;
    }
    self->vhost = lws_get_vhost_by_name (self->lws, "parley");
    static const pl_h1_handlers_t h1_handlers = { s_h1_head, s_h1_request, s_h1_upgrade,
                                                  s_h1_handoff, s_h1_closed };
    self->h1 = pl_h1_new (self->loop, self->max_payload, &h1_handlers, self);
    self->http_front = (pl_gwfront_t) { pl_http_on_reply };
    if (!self->h1)
        goto fail;
    self->listener = pl_listen_new (self->lws, self->loop, self->vhost,
                                    pl_config_str (config, PL_CFG_BIND),
                                    (int) pl_config_int (config, PL_CFG_PORT),
                                    pl_config_int (config, PL_CFG_REUSEPORT) == 1,
                                    s_on_accept, self);
    if (!self->listener)
        goto fail;
    if (app->broker) {
        pl_bus_handlers_t handlers = { pl_gateway__on_reply, pl_gateway__on_status,
                                        pl_gateway__on_event, pl_gateway__on_control,
                                        pl_gateway__recover_on_recovery,
                                        pl_gateway__recover_on_replay,
                                        pl_gateway__on_forward, pl_gateway__on_forward_reply,
                                        pl_gateway__on_metrics };
        self->bus = pl_bus_new (self->lws, self->vhost,
                                pl_config_str (config, PL_CFG_BROKER_FRONTEND),
                                pl_config_str (config, PL_CFG_EVENTS_XPUB), &handlers, self,
                                self->id);
        if (!self->bus)
            goto fail;
        pl_gateway__status_start (self);
        pl_gateway__presence_start (self);
    }
    pl_info ("gateway %s listening on %s", self->id, pl_listen_name (self->listener));
    goto cleanup;
fail:
    pl_gateway_destroy (&self);
cleanup:
    return self;
}

void
pl_gateway_destroy (pl_gateway_t **self_p)
{
    assert (self_p);
    pl_gateway_t *self = *self_p;
    if (self) {
        if (self->lws) {
            /* connections closing now must not start requests */
            self->stopping = true;
            ev_timer_stop (self->loop, &self->presence_timer);
            ev_timer_stop (self->loop, &self->status_timer);
            ev_timer_stop (self->loop, &self->scrapes.timer);
            ev_timer_stop (self->loop, &self->pending_timer);
            ev_timer_stop (self->loop, &self->ping.timer);
            ev_timer_stop (self->loop, &self->pong.timer);
            pl_listen_destroy (&self->listener);
            pl_gateway__poll_stop (self);
            pl_gateway__fwd_stop (self);
            pl_h1_destroy (&self->h1);
            /* closes every connection (LWS_CALLBACK_CLOSED releases them) */
            lws_context_destroy (self->lws);
        }
        if (self->loop)
            ev_loop_destroy (self->loop);
        if (self->recovery_ms > 0)     /* the sessions just saved: bounded */
            pl_bus_linger (self->bus, 2000);
        pl_bus_destroy (&self->bus);
        if (self->polls)
            pl_gateway__poll_stop (self);   /* none, unless lws never started */
        zhashx_destroy (&self->polls);
        zhashx_destroy (&self->upgraded);
        pl_gateway__fwd_stop (self);
        pl_rooms_destroy (&self->rooms);
        pl_frame_unref (&self->ping_frame);
        pl_health_destroy (&self->health);
        pl_gateway__metrics_stop (self);
        pl_gwmetrics_destroy (&self->metrics);
        pl_cors_destroy (&self->cors);
        pl_hud_destroy (&self->hud);
        pl_pending_destroy (&self->pending);
        pl_fence_destroy (&self->fence);
        pl_ratetab_destroy (&self->rest_rate);
        free (self->slots);
        free (self->free_slots);
        free (self);
        *self_p = NULL;
    }
}

/* libev watcher, gateway loop: SIGINT or SIGTERM, fed by the stop guard's
 * handler (s_feed_signal). */
static void
s_on_signal (struct ev_loop *loop, ev_signal *w, int revents)
{
    (void) revents;
    pl_info ("gateway stopping on %s", strsignal (w->signum));
    ev_break (loop, EVBREAK_ALL);
}

/* libev watcher, gateway loop: pl_gateway_stop. */
static void
s_on_wakeup (struct ev_loop *loop, ev_async *w, int revents)
{
    (void) w;
    (void) revents;
    pl_info ("gateway stopping");
    ev_break (loop, EVBREAK_ALL);
}

/* pl_stopguard_fn: in the stop guard's signal handler, on any thread.
 * ev_feed_signal is libev's own handler's work (async-signal-safe): it
 * wakes the loop, which runs s_on_signal as if libev had the signal. */
static void
s_feed_signal (void *arg, int signum)
{
    (void) arg;
    ev_feed_signal (signum);
}

/* The stop signals nest around ev_run: libev's watchers, then the stop
 * guard over them (its handlers replace libev's), and back out in reverse,
 * so each puts back what it found. A loop that does not return within
 * PARLEY_STOP_GRACE_MS of the signal (lws 4.1.6 once spun in its rxflow
 * handling) ends the process anyway; see base/pl_stopguard.h. */
int
pl_gateway_run (pl_gateway_t *self)
{
    int rc = -1;
    pl_stopguard_t *guard = NULL;
    ev_signal_init (&self->sigint, s_on_signal, SIGINT);
    ev_signal_init (&self->sigterm, s_on_signal, SIGTERM);
    ev_async_init (&self->wakeup, s_on_wakeup);
    long grace = pl_config_int (self->config, PL_CFG_STOP_GRACE_MS);
    if (grace < 1 || grace > 3600000) {
        pl_error ("PARLEY_STOP_GRACE_MS must be 1..3600000");
        goto cleanup;
    }
    ev_signal_start (self->loop, &self->sigint);
    ev_signal_start (self->loop, &self->sigterm);
    ev_async_start (self->loop, &self->wakeup);
    guard = pl_stopguard_new ("gateway", (int) grace, s_feed_signal, NULL);
    if (!guard) {
        pl_error ("cannot set up the stop guard");
        goto cleanup;
    }
    ev_run (self->loop, 0);
    rc = 0;
cleanup:
    pl_stopguard_destroy (&guard);      /* the deadline can no longer fire */
    ev_signal_stop (self->loop, &self->sigint);
    ev_signal_stop (self->loop, &self->sigterm);
    ev_async_stop (self->loop, &self->wakeup);
    return rc;
}

void
pl_gateway_stop (pl_gateway_t *self)
{
    ev_async_send (self->loop, &self->wakeup);
}
