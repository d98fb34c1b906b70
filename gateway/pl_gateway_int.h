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
#include "pl_frame.h"
#include "pl_health.h"
#include "pl_http.h"
#include "pl_listen.h"
#include "pl_pending.h"
#include "pl_proto.h"
#include "pl_rooms.h"

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
#define PL_GW_COALESCE_MAX    (64 * 1024)       /* bytes per coalesced write */

typedef enum { PL_GWTIMER_NONE, PL_GWTIMER_PING, PL_GWTIMER_PONG } pl_gwtimer_t;

/* One WebSocket client. lws allocates it as the per-session data, zeroed,
 * and frees it after LWS_CALLBACK_CLOSED. HTTP requests use only `http`. */
typedef struct pl_gwconn {
    struct lws *wsi;                /* the lws connection                       */
    uint64_t id;                    /* connection id: generation << 32 | slot   */
    bool established;               /* a WebSocket (not an HTTP request)        */
    bool connected;                 /* Socket.IO CONNECT accepted               */
    bool closing;                   /* being closed: queue nothing more         */
    pl_gwtimer_t timer;                /* which FIFO list it is on                 */
    struct pl_gwconn *tprev, *tnext;   /* links in that list                       */
    int64_t deadline;               /* ms, for the list it is on                */
    int64_t created;                /* ms                                       */
    uint32_t inflight;              /* requests not yet answered                */
    char *user;                     /* JWT sub, then NUL, then JWT name (or "") */
    pl_membership_t *rooms;         /* chain of rooms joined (pl_rooms)         */
    pl_outq_t outq;                 /* frames waiting for WRITEABLE             */
    char *rx;                       /* fragmented message being assembled       */
    size_t rx_len, rx_cap;
    pl_http_t *http;                /* HTTP response in progress                */
} pl_gwconn_t;

typedef struct {
    pl_gwconn_t *head, *tail;          /* FIFO by deadline                         */
    lws_sorted_usec_list_t sul;     /* armed for head->deadline                 */
} pl_gwtimers_t;

struct _pl_gateway_t {
    pl_config_t *config;            /* effective configuration                  */
    struct lws_context *lws;        /* the loop                                 */
    struct lws_vhost *vhost;
    pl_bus_t *bus;                  /* broker + event bus                       */
    pl_listen_t *listener;          /* our listening socket                     */
    pl_rooms_t *rooms;              /* room -> local members                    */
    char id[16];                    /* gateway id                               */
    const char *secret;             /* JWT secret                               */
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
    /* timers */
    pl_gwtimers_t ping, pong;
    lws_sorted_usec_list_t pending_sul;
    bool pending_armed;             /* pending_sul is scheduled                 */
    lws_sorted_usec_list_t status_sul;
    pl_pending_t *pending;          /* requests awaiting replies                */
    pl_health_t *health;            /* broker status, for /healthz              */
    /* config, read once */
    long ping_interval, ping_timeout, request_timeout, heartbeat, max_payload;
    uint32_t max_inflight, outq_max;
    pl_frame_t *ping_frame;         /* shared "2"                               */
    unsigned char coalesce[LWS_PRE + PL_GW_COALESCE_MAX];   /* scratch for pl_gateway__on_writeable */
    struct {
        uint64_t requests;          /* EVENTs forwarded to the broker           */
        uint64_t events_in;         /* bus events received                      */
        uint64_t events_unrouted;   /* ... for a room with no local member      */
        uint64_t deliveries;        /* frames queued to members by fan-out      */
        uint64_t slow_disconnects;  /* clients dropped for a full send queue    */
        uint64_t coalesced;         /* frames sent in a multi-frame write       */
    } stats;
};

/* ---- pl_gateway_conn.c -------------------------------------------------- */

/* Monotonic milliseconds. */
int64_t pl_gateway__now_ms (void);

/* Put conn on the ping or pong FIFO with its deadline delay ms away. */
void pl_gateway__timer_append (pl_gateway_t *self, pl_gwconn_t *conn, pl_gwtimer_t which,
                               long delay);
void pl_gateway__timer_remove (pl_gateway_t *self, pl_gwconn_t *conn);
/* lws timers for the two FIFOs. */
void pl_gateway__ping_fire (lws_sorted_usec_list_t *sul);
void pl_gateway__pong_fire (lws_sorted_usec_list_t *sul);

/* Close conn from outside its own callback. */
void pl_gateway__kill (pl_gwconn_t *conn, const char *why);
/* Queue a reference to f; a client whose queue is full is disconnected. */
void pl_gateway__send (pl_gateway_t *self, pl_gwconn_t *conn, pl_frame_t *f);
void pl_gateway__send_text (pl_gateway_t *self, pl_gwconn_t *conn, const char *text, size_t len);
/* Queue owned (freed here; NULL is ignored). */
void pl_gateway__send_str (pl_gateway_t *self, pl_gwconn_t *conn, char *owned);
void pl_gateway__send_ack (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t ack_id,
                           const char *reply, size_t reply_len);
void pl_gateway__send_ack_error (pl_gateway_t *self, pl_gwconn_t *conn, uint64_t ack_id,
                                 pl_err_t err, const char *message);
/* LWS_CALLBACK_SERVER_WRITEABLE. */
int pl_gateway__on_writeable (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi);

/* Connections by id. lookup returns NULL for a closed or closing one. */
pl_gwconn_t *pl_gateway__conn_lookup (pl_gateway_t *self, uint64_t id);
int pl_gateway__conn_register (pl_gateway_t *self, pl_gwconn_t *conn);
void pl_gateway__conn_release (pl_gateway_t *self, pl_gwconn_t *conn);
int pl_gateway__conn_join (pl_gateway_t *self, pl_gwconn_t *conn, const char *room);
/* The caller context JSON for a request (caller frees). */
char *pl_gateway__conn_ctx (pl_gateway_t *self, pl_gwconn_t *conn);
/* pl_rooms hook: first member in, last member out. */
void pl_gateway__on_room_change (void *arg, const char *room, bool subscribe);

#endif
