/*  pl_gateway_int - what pl_gateway.c (Socket.IO sessions, requests, the
 *  bus, lifecycle) and pl_gateway_conn.c (connections, sending, Engine.IO
 *  heartbeat timers) share. Internal: nothing outside gateway/ includes it.
 *  Cross-file names are pl_gateway__*, as libuv does with uv__.
 *  Everything here runs on the gateway's one loop.
 */
#ifndef PL_GATEWAY_INT_H
#define PL_GATEWAY_INT_H

#include "pl_gateway.h"
#include "pl_bus.h"
#include "pl_eio_poll.h"
#include "pl_fence.h"
#include "pl_frame.h"
#include "pl_health.h"
#include "pl_gwmetrics.h"
#include "pl_cors.h"
#include "pl_hud.h"
#include "pl_http.h"
#include "pl_listen.h"
#include "pl_log.h"
#include "pl_pending.h"
#include "pl_proto.h"
#include "pl_ratetab.h"
#include "pl_rooms.h"
#include "pl_sio.h"
#include "pl_wire.h"

#include <czmq.h>
#include <ev.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#define PL_GW_PROTOCOL        "parley"
#define PL_GW_RX_BUFFER       128               /* lws allocates this per connection */
#define PL_GW_PENDING_SLOTS   (1u << 17)        /* in-flight requests per gateway */
#define PL_GW_CONNECT_TIMEOUT 45000             /* ms to send CONNECT (socket.io's connectTimeout) */
#define PL_GW_ROOM_MAX    256               /* longest room name */
#define PL_GW_ROOMS_PER_CONN  64                /* rooms one connection may be in */
#define PL_GW_EXCEPT_MAX      16                /* except rooms (bus frame 6) per event */
#define PL_GW_COALESCE_MAX    (64 * 1024)       /* bytes per coalesced write */
#define PL_GW_SID_MAX         40                /* "<gateway id>.<20 chars>" + NUL */
/* Longest a polling GET is held without anything to say: then it gets a
 * noop. Well under pl_h1's own limit, which would close the connection;
 * with the default heartbeat the ping (25 s) always comes first. */
#define PL_GW_POLL_HOLD_MS    (PL_H1_ANSWER_S * 1000 / 2)
#define PL_GW_PID_MAX         PL_WIRE_PID_MAX   /* a Socket.IO pid (recovery): as a sid */
/* Forwarding polling requests between gateways (pl_gateway_fwd.c). */
#define PL_GW_FWD_MAX         1024              /* forwards in flight from one gateway */
#define PL_GW_FWD_TIMEOUT_MS  10000             /* a POST's answer; a GET's: hold + this */
#define PL_GW_FWDID_MAX       32                /* bytes of a forward id (the broker's limit) */
#define PL_GW_SCRAPES_MAX     16                /* GET /metrics held or being written at
                                                   once; more: 503 */

typedef enum { PL_GWTIMER_NONE, PL_GWTIMER_PING, PL_GWTIMER_PONG } pl_gwtimer_t;

struct pl_gwpoll;

/* One Socket.IO session, whatever carries it, or one HTTP connection.
 *  - WebSocket: lws allocates it as the per-session data, zeroed, and frees
 *    it after LWS_CALLBACK_CLOSED; wsi is set.
 *  - HTTP long-polling: pl_gateway_poll.c allocates it (no wsi); `poll` is
 *    the transport (the Engine.IO session, the held GET, its timer).
 *  - HTTP requests (pl_http.c) use only `http`, `h1` and `poll_session`.
 * Above the transport (pl_gateway_sio.c, _req.c, _bus.c) nothing asks which
 * one it is: pl_gateway__send and pl_gateway__kill pick it. */
typedef struct pl_gwconn {
    struct lws *wsi;                /* a WebSocket's lws connection             */
    struct pl_gwpoll *poll;         /* a polling session's transport           */
    uint64_t upgrade_of;            /* a WebSocket probing to take over this
                                       polling session (its id); 0: none       */
    struct pl_gwconn *poll_session; /* an HTTP connection: the polling session
                                       whose GET or POST it carries now        */
    uint32_t fwd;                   /* an HTTP connection: 1 + the slot of the
                                       forward it waits for; 0: none           */
    uint64_t id;                    /* connection id: generation << 32 | slot   */
    bool established;               /* a Socket.IO session (WebSocket or
                                       polling), not an HTTP request           */
    bool connected;                 /* Socket.IO CONNECT accepted (a namespace) */
    uint32_t nsps;                  /* namespaces connected: bit 0 "/", bit i
                                       the application's nsps[i - 1]           */
    bool closing;                   /* being closed: queue nothing more         */
    bool presence;                  /* a reply joined it to a room: tell the
                                       rooms service when it closes            */
    pl_gwtimer_t timer;                /* which FIFO list it is on                 */
    struct pl_gwconn *tprev, *tnext;   /* links in that list                       */
    int64_t deadline;               /* ms, for the list it is on                */
    int64_t created;                /* ms                                       */
    uint32_t inflight;              /* requests not yet answered                */
    int64_t rate_tat;               /* rate limit (GCRA): theoretical arrival
                                       time of the next rated request, us      */
    char *user;                     /* JWT sub, then NUL, then JWT name (or "") */
    pl_membership_t *rooms;         /* chain of rooms joined (pl_rooms)         */
    pl_outq_t outq;                 /* frames waiting for WRITEABLE             */
    char *rx;                       /* fragmented message being assembled       */
    size_t rx_len, rx_cap;
    unsigned bin_pending;           /* binary attachments still to skip (of a
                                       refused BINARY_EVENT / BINARY_ACK)      */
    size_t bin_len;                 /* bytes of the one being skipped          */
    /* connection-state recovery (pl_gateway_recover.c) */
    char pid[PL_GW_PID_MAX + 1];    /* its Socket.IO pid, "" for none           */
    bool ended;                     /* DISCONNECT: the session ends for good    */
    struct pl_gwrecover *recover;   /* a recovery in progress, or NULL          */
    char *sid;                      /* a WebSocket that took over a polling
                                       session: its sid (gateway->upgraded)    */
    struct pl_gwbin *bin;           /* a binary packet being assembled for an
                                       application that takes attachments     */
    pl_http_t *http;                /* HTTP transaction (REST, /healthz)        */
    pl_h1_conn_t *h1;               /* an HTTP connection's pl_h1 side          */
} pl_gwconn_t;

/* How a front end hears of the requests it sent (pl_gateway__rest_request):
 * the request layer calls these for them, so it never names the layer above
 * (STYLE.md: a lower layer reports upward through a callback table). */
typedef struct {
    /* the call of conn has its answer: the broker's, or the gateway's own
     * TIMEOUT (an error reply with error.requestId) */
    void (*reply) (pl_gateway_t *self, pl_gwconn_t *conn, const char *reply, size_t len);
} pl_gwfront_t;

/* The application above the Engine.IO + Socket.IO core (STYLE.md: a lower
 * layer reports upward through a callback table). The core (transports,
 * Engine.IO, Socket.IO packets, namespaces, acks on the wire, heartbeat,
 * close reasons) calls these; Parley's (pl_gateway_sio.c: JWT in CONNECT;
 * pl_gateway_req.c: EVENTs to the broker, rooms, presence) is the one the
 * gateway installs. Another server on the same core (a conformance server:
 * no JWT, echo) would install its own. */
/* One binary attachment of a packet (pl_gwapp_t.binary). */
typedef struct {
    unsigned char *data;
    size_t len;
} pl_gwattach_t;

/* A BINARY_EVENT / BINARY_ACK being assembled (pl_gateway_sio.c). */
typedef struct pl_gwbin {
    char *text;                     /* the packet as received                   */
    size_t text_len;
    size_t total;                   /* bytes held, text included (<= maxPayload) */
    unsigned count, have;           /* attachments announced, complete          */
    pl_gwattach_t att[];            /* count of them                            */
} pl_gwbin_t;

struct pl_gwapp {
    /* a CONNECT to a namespace the application serves ("/" or one of nsps)
     * that conn is not connected to: answer it (pl_gateway__send_str of a
     * CONNECT or CONNECT_ERROR), now or later; on success call
     * pl_gateway__nsp_accepted. Every callback here runs on the gateway
     * loop. */
    void (*connect) (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt);
    /* an EVENT of a connected namespace (answer with pl_gateway__send_ack*) */
    void (*event) (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt);
    /* the session is over (any transport), just before it is released */
    void (*closed) (pl_gateway_t *self, pl_gwconn_t *conn);
    /* Optional (NULL: Parley's behaviour). */
    /* a DISCONNECT from a connected namespace: the core forgets the
     * namespace and the connection goes on, as the reference server does.
     * NULL: a DISCONNECT closes the connection. */
    void (*disconnect) (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt);
    /* a BINARY_EVENT or BINARY_ACK with its n attachments assembled (each
     * message at most maxPayload bytes, all of them and the packet too).
     * NULL: refused with a VALIDATION_ERROR ack, attachments skipped. */
    void (*binary) (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt,
                    const pl_gwattach_t *att, unsigned n);
    /* An Engine.IO-level application: every message (text without its
     * type digit, or binary), no Socket.IO parsing, no CONNECT deadline.
     * NULL: a Socket.IO application. */
    void (*message) (pl_gateway_t *self, pl_gwconn_t *conn, const char *data, size_t len,
                     bool binary);
    const char *const *nsps;        /* namespaces besides "/", NULL-ended, < 32 */
    long connect_timeout;           /* ms for the CONNECT; 0: PL_GW_CONNECT_TIMEOUT */
    bool broker;                    /* connect to the broker and the event bus */
};

typedef struct {
    pl_gwconn_t *head, *tail;          /* FIFO by deadline                         */
    ev_timer timer;                 /* armed for head->deadline (data: gateway) */
} pl_gwtimers_t;

struct _pl_gateway_t {
    pl_config_t *config;            /* effective configuration                  */
    struct lws_context *lws;        /* the loop                                 */
    struct lws_vhost *vhost;
    pl_bus_t *bus;                  /* broker + event bus                       */
    pl_listen_t *listener;          /* our listening socket                     */
    pl_h1_t *h1;                    /* HTTP/1.1: every accepted connection      */
    pl_gwapp_t app;                 /* the application over the Socket.IO core  */
    long connect_timeout;           /* ms a session has to CONNECT              */
    zhashx_t *polls;                /* polling sessions by sid -> pl_gwconn_t  */
    zhashx_t *upgraded;             /* WebSockets that took over one, by sid   */
    struct pl_gwpoll *poll_list;    /* every polling session still allocated    */
    pl_eio_poll_limits_t poll_limits;
    long poll_max_sessions;         /* PARLEY_POLL_MAX_SESSIONS                 */
    struct pl_gwfwds *fwds;         /* forwards in flight (pl_gateway_fwd.c)    */
    pl_gwfront_t http_front;        /* pl_http's answers                        */
    pl_rooms_t *rooms;              /* room -> local members                    */
    char id[16];                    /* gateway id                               */
    const char *secret;             /* JWT secret                               */
    const char *path;               /* Engine.IO path (PARLEY_PATH), "/x/"      */
    struct ev_loop *loop;           /* libev loop lws runs on                   */
    ev_signal sigint, sigterm;      /* stop the loop                            */
    ev_async wakeup;                /* pl_gateway_stop from another thread      */
    /* connections by slot */
    pl_gwconn_t **slots;               /* slot -> connection or NULL               */
    uint32_t nslots;
    uint32_t *free_slots;           /* stack of free slot numbers               */
    uint32_t nfree;
    uint32_t generation;            /* bumps per connection                     */
    uint32_t nconns;                /* WebSocket connections open               */
    bool stopping;                  /* being destroyed: send nothing more       */
    /* timers */
    pl_gwtimers_t ping, pong;
    /* libev timers, not lws's (see pl_gateway__timer_after) */
    ev_timer pending_timer;         /* the oldest request's deadline           */
    bool pending_armed;             /* pending_timer is started                */
    ev_timer status_timer;          /* ask the broker's status every heartbeat */
    ev_timer presence_timer;        /* presence:alive every ttl/3              */
    char boot[17];                  /* random hex per start, for presence:alive */
    pl_pending_t *pending;          /* requests awaiting replies                */
    pl_fence_t *fence;              /* evictions replies in flight may not undo */
    pl_health_t *health;            /* broker status, for /healthz              */
    pl_gwmetrics_t *metrics;        /* this gateway's own metrics               */
    long metrics_timeout;           /* PARLEY_METRICS_TIMEOUT_MS                */
    struct {                        /* GET /metrics held for the broker's METRICS */
        pl_gwconn_t *http[PL_GW_SCRAPES_MAX];  /* their HTTP connections     */
        size_t n;
        bool asked;                 /* METRICS sent, the timer armed            */
        ev_timer timer;             /* PARLEY_METRICS_TIMEOUT_MS (data: gateway) */
        /* pages rendered and still being written to some scrape: one ref
         * here, one per answer not yet out; held + writing <= the cap */
        pl_h1_body_t *pages[PL_GW_SCRAPES_MAX];
        size_t npages;
    } scrapes;
    pl_cors_t *cors;                /* PARLEY_CORS_ORIGINS: CORS answer headers */
    pl_hud_t *hud;                  /* PARLEY_HUD_DIR's files, served at /; NULL: off */
    /* config, read once */
    long ping_interval, ping_timeout, request_timeout, heartbeat, max_payload;
    long presence_ttl;              /* PARLEY_PRESENCE_TTL_MS                   */
    int64_t rate_interval;          /* us between rated requests, sustained; 0 = off */
    int64_t rate_tolerance;         /* us of burst: (burst - 1) * interval      */
    pl_ratetab_t *rest_rate;        /* REST: the same limit per JWT sub; NULL = off */
    uint32_t max_inflight, outq_max;
    long recovery_ms;               /* PARLEY_RECOVERY_MS; 0: no recovery       */
    uint64_t recover_seq;           /* makes recovery nonces unique             */
    pl_frame_t *ping_frame;         /* shared "2"                               */
    pl_log_limit_t close_log;       /* budget of "protocol error" lines (pl_gateway.c) */
    pl_log_limit_t timeout_log;     /* budget of TIMEOUT lines (pl_gateway_req.c) */
    unsigned char coalesce[LWS_PRE + PL_GW_COALESCE_MAX];   /* scratch for pl_gateway__on_writeable */
    struct {
        uint64_t requests;          /* EVENTs forwarded to the broker           */
        uint64_t events_in;         /* bus events received                      */
        uint64_t events_unrouted;   /* ... for a room with no local member      */
        uint64_t deliveries;        /* frames queued to members by fan-out      */
        uint64_t slow_disconnects;  /* clients dropped for a full send queue    */
        uint64_t coalesced;         /* frames sent in a multi-frame write       */
        uint64_t events_dropped;    /* ... with a malformed except frame        */
        uint64_t rate_limited;      /* rated requests refused                   */
        uint64_t rest_rate_limited; /* REST requests refused (429)              */
        uint64_t rest_requests;     /* REST calls forwarded to the broker       */
        uint64_t hud_served;        /* HUD answers (200 and 304)                */
        uint64_t recoveries;        /* sessions recovered                       */
        uint64_t recoveries_refused;    /* recoveries the broker refused        */
        uint64_t poll_forwarded;    /* polling requests handed to another gateway */
        uint64_t poll_forwards_served;  /* ... served here for another gateway  */
    } stats;
};

/* ---- pl_gateway_conn.c -------------------------------------------------- */

/* The gateway's timers are libev timers on self->loop, not lws timers
 * (lws_sul_schedule): lws 4.1.6's libev glue arms one libev timer for all
 * of its lws timers and re-arms it with ev_timer_set + ev_timer_start
 * without ev_timer_stop, which libev ignores for a started watcher; and
 * lws_sul_schedule() does not tell it at all. A timer scheduled earlier than
 * the armed one (from any callback) then fired only when that one did: the
 * broker's status every PARLEY_HEARTBEAT_MS, or later. (Re)start w to fire
 * once, ms from now. */
void pl_gateway__timer_after (pl_gateway_t *self, ev_timer *w, int64_t ms);

/* lws runs timers that are due at once (a zero delay: the async kill,
 * pl_bus's drain) when it next serves an fd; from a libev callback of the
 * gateway nothing may come for long. Wake lws (lws_cancel_service: a
 * write to its event pipe) after scheduling one there. */
void pl_gateway__lws_rearm (struct lws_context *lws);

/* libev timers, gateway loop (pl_gateway_req.c, pl_gateway_bus.c). */
void pl_gateway__pending_fire (struct ev_loop *loop, ev_timer *w, int revents);
void pl_gateway__status_fire (struct ev_loop *loop, ev_timer *w, int revents);
void pl_gateway__presence_fire (struct ev_loop *loop, ev_timer *w, int revents);

/* Monotonic milliseconds and microseconds. */
int64_t pl_gateway__now_ms (void);
int64_t pl_gateway__now_us (void);

/* Put conn on the ping or pong FIFO with its deadline delay ms away. */
void pl_gateway__timer_append (pl_gateway_t *self, pl_gwconn_t *conn, pl_gwtimer_t which,
                               long delay);
void pl_gateway__timer_remove (pl_gateway_t *self, pl_gwconn_t *conn);
/* libev timers for the two FIFOs. */
void pl_gateway__ping_fire (struct ev_loop *loop, ev_timer *w, int revents);
void pl_gateway__pong_fire (struct ev_loop *loop, ev_timer *w, int revents);

/* Close conn from outside its own callback (any transport). */
void pl_gateway__kill (pl_gwconn_t *conn, const char *why);
/* Queue a reference to f; a client whose queue is full is disconnected. */
void pl_gateway__send (pl_gateway_t *self, pl_gwconn_t *conn, pl_frame_t *f);
void pl_gateway__send_text (pl_gateway_t *self, pl_gwconn_t *conn, const char *text, size_t len);
/* Queue owned (freed here; NULL is ignored). */
void pl_gateway__send_str (pl_gateway_t *self, pl_gwconn_t *conn, char *owned);
/* Queue one binary message (copied). */
void pl_gateway__send_binary (pl_gateway_t *self, pl_gwconn_t *conn, const void *data,
                              size_t len);
/* conn has not CONNECTed within the application's connect timeout. */
bool pl_gateway__connect_late (pl_gateway_t *self, pl_gwconn_t *conn, int64_t now);
void pl_gateway__send_ack (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t ack_id,
                           const char *reply, size_t reply_len);
void pl_gateway__send_ack_error (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t ack_id,
                                 pl_err_t err, const char *message);
/* LWS_CALLBACK_SERVER_WRITEABLE. */
int pl_gateway__on_writeable (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi);

/* Connections by id. lookup returns NULL for a closed or closing one.
 * WebSocket connections hold an id for life; an HTTP connection holds one
 * only while a REST call of it awaits the broker (unregister drops it). */
pl_gwconn_t *pl_gateway__conn_lookup (pl_gateway_t *self, uint64_t id);
int pl_gateway__conn_register (pl_gateway_t *self, pl_gwconn_t *conn);
void pl_gateway__conn_unregister (pl_gateway_t *self, pl_gwconn_t *conn);
/* A WebSocket connection closed: leave rooms, free, unregister. */
void pl_gateway__conn_release (pl_gateway_t *self, pl_gwconn_t *conn);
int pl_gateway__conn_join (pl_gateway_t *self, pl_gwconn_t *conn, const char *room);
/* The caller context JSON for a request (caller frees). */
char *pl_gateway__conn_ctx (pl_gateway_t *self, pl_gwconn_t *conn);
/* pl_rooms hook: first member in, last member out. */
void pl_gateway__on_room_change (void *arg, const char *room, bool subscribe);

/* ---- pl_gateway_req.c --------------------------------------------------- */

/* Forward a client EVENT (rate limit, in-flight limit, pending slot). */
void pl_gateway__request (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt);
/* Forward a REST call for HTTP connection conn (registered here). Returns
 * PL_ERR_NONE, or SERVICE_UNAVAILABLE with *why set. */
pl_err_t pl_gateway__rest_request (pl_gateway_t *self, pl_gwconn_t *conn, pl_event_id_t ev,
                                   const char *user, const char *name,
                                   const char *body, size_t body_len, const char **why);
/* Subscribe conn to room again on its behalf, no ack (recovery: its
 * presence, with a client's authz); *reqid the request's id. The reply
 * goes to pl_gateway__recover_rejoined. 0, or -1 (logged). */
int pl_gateway__resubscribe (pl_gateway_t *self, pl_gwconn_t *conn, const char *room,
                             uint64_t *reqid);
/* pl_bus on_reply. */
void pl_gateway__on_reply (void *arg, const void *reqid, size_t reqid_len,
                           const char *reply, size_t reply_len,
                           const char *directives, size_t directives_len);
/* Apply {"join":[..],"leave":[..]} to conn; allow_join false: leave only.
 * false: the join list did not fit in PL_GW_ROOMS_PER_CONN (none of it
 * applied). */
bool pl_gateway__apply_directives (pl_gateway_t *self, pl_gwconn_t *conn,
                                   const cJSON *root, bool allow_join);
/* conn is closing: presence:drop if a reply ever joined it to a room. */
void pl_gateway__presence_drop (pl_gateway_t *self, pl_gwconn_t *conn);
/* Send presence:alive now and every presence_ttl / 3. */
void pl_gateway__presence_start (pl_gateway_t *self);

/* ---- pl_gateway_fwd.c (polling across gateways) ------------------------ */

/* Allocate / free the table of forwards in flight (stop answers each 503). */
int pl_gateway__fwd_start (pl_gateway_t *self);
void pl_gateway__fwd_stop (pl_gateway_t *self);
/* Does sid name another gateway ("<gateway id>.<rest>", a valid id that is
 * not ours)? */
bool pl_gateway__fwd_foreign (pl_gateway_t *self, const char *sid);
/* Hand the request of HTTP connection http (op "GET", "POST" or "POSTB",
 * an application/octet-stream body) for sid to the gateway it names, and
 * answer it when that one does (or 503 at the deadline). */
void pl_gateway__fwd_request (pl_gateway_t *self, pl_gwconn_t *http, const char *op,
                              const char *sid, const char *body, size_t body_len);
/* HTTP connection http is going: forget its forward; a GET's owner hears
 * GONE (the cancelled-GET rule). */
void pl_gateway__fwd_http_closed (pl_gateway_t *self, pl_gwconn_t *http);
/* The owner's side: answer forward fwdid of gateway peer. */
void pl_gateway__fwd_answer (pl_gateway_t *self, const char *peer, const char *fwdid,
                             int status, const char *body, size_t len);
/* pl_bus handlers. */
void pl_gateway__on_forward (void *arg, const char *peer, size_t peer_len,
                             const char *fwdid, size_t fwdid_len, const char *op, size_t op_len,
                             const char *sid, size_t sid_len, const char *body, size_t body_len);
void pl_gateway__on_forward_reply (void *arg, const char *peer, size_t peer_len,
                                   const char *fwdid, size_t fwdid_len,
                                   const char *status, size_t status_len,
                                   const char *body, size_t body_len);

/* ---- pl_gateway_metrics.c (GET /metrics) ------------------------------- */

/* A scrape on HTTP connection http (local: ?scope=local), answered now or
 * held for the broker's METRICS answer. */
void pl_gateway__metrics_request (pl_gateway_t *self, pl_gwconn_t *http, bool local);
/* The HTTP connection http is going: forget its held scrape. */
void pl_gateway__metrics_http_closed (pl_gateway_t *self, pl_gwconn_t *http);
/* Drops the pages kept for answers being written (pl_gateway_destroy). */
void pl_gateway__metrics_stop (pl_gateway_t *self);
/* libev timer and pl_bus on_metrics, gateway loop. */
void pl_gateway__metrics_fire (struct ev_loop *loop, ev_timer *w, int revents);
void pl_gateway__on_metrics (void *arg, const char *const *names, const size_t *name_lens,
                             const char *const *jsons, const size_t *json_lens, size_t n);

/* ---- pl_gateway_bus.c (the event bus) ---------------------------------- */

/* pl_bus handlers: a room control, a room event, the broker's services. */
void pl_gateway__on_control (void *arg, const char *room_name, const char *json, size_t len,
                             const char *offset, size_t offset_len);
void pl_gateway__on_event (void *arg, const char *room_name, const char *origin,
                           size_t origin_len, const char *packet, size_t packet_len,
                           const char *except, size_t except_len,
                           const char *offset, size_t offset_len, int64_t published_us);
void pl_gateway__on_status (void *arg, const char *json, size_t len);
/* Ask the broker for its services now and every heartbeat. */
void pl_gateway__status_start (pl_gateway_t *self);

/* ---- pl_gateway_sio.c (the Socket.IO front end) -------------------------- */

/* LWS_CALLBACK_ESTABLISHED and LWS_CALLBACK_RECEIVE. -1 closes. */
int pl_gateway__sio_open (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi);
int pl_gateway__sio_receive (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi,
                             const char *in, size_t len);
/* One whole Engine.IO text packet (type digit first) or binary message of
 * a session, from any transport. -1: the session was closed (with its
 * reason, through the transport). */
int pl_gateway__sio_message (pl_gateway_t *self, pl_gwconn_t *conn, const char *buf, size_t len);
int pl_gateway__sio_binary (pl_gateway_t *self, pl_gwconn_t *conn, const void *data,
                           size_t len);
/* The application accepted conn's CONNECT to nsp: later packets for it
 * are taken, and conn->connected is set. */
void pl_gateway__nsp_accepted (pl_gateway_t *self, pl_gwconn_t *conn, const char *nsp,
                               size_t nsp_len);
/* Free a binary packet being assembled (conn->bin). */
void pl_gateway__bin_free (pl_gwconn_t *conn);
/* Parley's application (pl_gwapp_t). */
extern const pl_gwapp_t pl_gateway__parley_app;
/* The session is over: the application hears of it, then it is released. */
void pl_gateway__session_end (pl_gateway_t *self, pl_gwconn_t *conn);

/* ---- pl_gateway_poll.c (the HTTP long-polling transport) --------------- */

/* pl_http's requests on PARLEY_PATH that are not WebSocket upgrades: the
 * head (refusals, POST size) and the whole request (handshake, GET held
 * until there is something to say, POST). http is the HTTP connection. */
void pl_gateway__poll_head (pl_gateway_t *self, pl_gwconn_t *http, const pl_h1_req_t *req);
void pl_gateway__poll_request (pl_gateway_t *self, pl_gwconn_t *http, const pl_h1_req_t *req);
/* The HTTP connection http is going (its held GET or POST is cancelled). */
void pl_gateway__poll_http_closed (pl_gateway_t *self, pl_gwconn_t *http);
/* Send one Engine.IO packet (type digit first) on the polling transport. */
void pl_gateway__poll_send (pl_gateway_t *self, pl_gwconn_t *conn, const char *pkt, size_t len);
void pl_gateway__poll_send_binary (pl_gateway_t *self, pl_gwconn_t *conn, const void *data,
                                   size_t len);
/* Close a polling session (why: static text): a held GET gets "1", the sid
 * is forgotten now, the session is released on the next loop turn. */
void pl_gateway__poll_kill (pl_gwconn_t *conn, const char *why);
/* The polling session with this sid that a WebSocket may upgrade (state
 * POLLING), or NULL. */
pl_gwconn_t *pl_gateway__poll_upgradable (pl_gateway_t *self, const char *sid);
/* A polling session in any state, or one upgraded to a WebSocket still open. */
bool pl_gateway__poll_known (pl_gateway_t *self, const char *sid);
/* The probing WebSocket ws sent "2probe" / "5" for session. -1: refused
 * (the caller closes ws). After a 0 from upgrade, ws is the session. */
int pl_gateway__poll_probe (pl_gateway_t *self, pl_gwconn_t *session, pl_gwconn_t *ws);
/* The probing WebSocket ws is closing before "5": if it is the one that
 * probed, its session polls again (GETs are held, not answered "6"). */
void pl_gateway__poll_unprobe (pl_gateway_t *self, pl_gwconn_t *ws);
int pl_gateway__poll_upgrade (pl_gateway_t *self, pl_gwconn_t *session, pl_gwconn_t *ws);
/* pl_gateway_destroy: free every session, answering nobody. */
void pl_gateway__poll_stop (pl_gateway_t *self);
/* Accept the CONNECT of conn (conn->user set): join user:<sub>, answer
 * with a sid (and the pid: pid when recovered, else a new one). */
void pl_gateway__sio_accept (pl_gateway_t *self, pl_gwconn_t *conn, const char *pid);

/* ---- pl_gateway_recover.c (connection-state recovery) ------------------- */

/* CONNECT with a valid JWT: 1 when auth asks to recover and the broker was
 * asked (the CONNECT is answered later), 0 to accept it as new. */
int pl_gateway__recover_connect (pl_gateway_t *self, pl_gwconn_t *conn, const cJSON *auth,
                                 const char *sub, const char *name);
/* The CONNECT ack "40{sid[,pid]}" (caller frees); with recovery on, the pid
 * (pid, or a new one) is registered with the broker. */
char *pl_gateway__recover_ack (pl_gateway_t *self, pl_gwconn_t *conn, const char *sid,
                               const char *pid);
/* conn's transport closed (its rooms still joined): save or end its session. */
void pl_gateway__recover_closed (pl_gateway_t *self, pl_gwconn_t *conn);
/* The frame of a room event: "42" + packet, with the offset as a last
 * argument when recovery is on and the event has one. */
pl_frame_t *pl_gateway__recover_frame (pl_gateway_t *self, const char *packet, size_t len,
                                       const char *offset, size_t offset_len);
/* The answer to pl_gateway__resubscribe's request reqid: joined, or
 * refused (the connection leaves the room). */
void pl_gateway__recover_rejoined (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t reqid,
                                   bool joined);
/* Fan-out: true when conn is replaying and the message was held for it. */
bool pl_gateway__recover_hold_event (pl_gateway_t *self, pl_gwconn_t *conn, pl_frame_t *f,
                                     const char *room, const char *offset, size_t offset_len);
bool pl_gateway__recover_hold_control (pl_gateway_t *self, pl_gwconn_t *conn, const char *room,
                                       const char *json, size_t len, const char *offset,
                                       size_t offset_len);
/* pl_bus on_recovery and on_replay. */
void pl_gateway__recover_on_recovery (void *arg, bool replay, const char *nonce,
                                      size_t nonce_len, const char *json, size_t len);
void pl_gateway__recover_on_replay (void *arg, const char *nonce, size_t nonce_len,
                                    bool control, const char *topic, size_t topic_len,
                                    const char *packet, size_t packet_len,
                                    const char *offset, size_t offset_len);
/* A request another gateway (peer, NUL-terminated) forwarded for a session
 * of ours (pl_gateway_fwd.c checked the frames' sizes; sid is
 * NUL-terminated, op one of GET, POST, POSTB, GONE): served as if it had
 * come here, the answer sent back with pl_gateway__fwd_answer. */
void pl_gateway__poll_forwarded (pl_gateway_t *self, const char *peer, const char *fwdid,
                                 const char *op, const char *sid,
                                 const char *body, size_t body_len);

#endif
