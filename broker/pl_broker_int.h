/*  pl_broker_int - internals shared by the two halves of pl_broker:
 *
 *    pl_broker.c           the wire: sockets, the loop callbacks, parsing
 *                          and validating messages, the heartbeat tick,
 *                          the public API;
 *    pl_broker_dispatch.c  the state: services, workers, the request
 *                          queue, dispatch, and answering requests.
 *
 *  Not for use outside broker/. Cross-file names are pl_broker__ (two
 *  underscores), as libuv does for its internals.
 *
 *  Data model
 *    services  name -> service: its live workers (a zlistx kept in
 *              least-recently-dispatched order) and a FIFO of requests
 *              waiting for a worker (intrusive list, at most queue_max).
 *    workers   hex(identity) -> worker: its service, credit, and the
 *              requests it holds (pending: client identity + request id,
 *              an intrusive list), so that when it dies each one is
 *              answered TIMEOUT.
 *
 *  Messages are pl_zmsg_t (base/pl_zmsg.h): received into the stack
 *  without allocating, and forwarded by moving their zmq_msg_t frames to
 *  the other socket in the other order, so a body is never copied. A
 *  request that has to wait moves its frames into a queue entry.
 */
#ifndef PL_BROKER_INT_H
#define PL_BROKER_INT_H

#include "pl_broker.h"
#include "pl_metrics.h"
#include "pl_pump.h"
#include "pl_zmsg.h"

/* A ROUTER identity is at most 255 bytes (ZMTP). */
#define PL_BROKER__IDENTITY_MAX 255

/* Frames of a request as the frontend ROUTER receives it ("client
 * form"): client PL01 REQ service reqid event ctx body. It is queued in
 * this form too; a worker gets PL01 REQ client reqid event ctx body. */
enum {
    PL_BROKER__REQ_CLIENT,      /* frontend ROUTER identity of the gateway */
    PL_BROKER__REQ_VERSION,
    PL_BROKER__REQ_COMMAND,
    PL_BROKER__REQ_SERVICE,
    PL_BROKER__REQ_ID,
    PL_BROKER__REQ_EVENT,
    PL_BROKER__REQ_CTX,
    PL_BROKER__REQ_BODY,
    PL_BROKER__REQ_FRAMES       /* 8 */
};

/* Frames of a reply from a worker: identity PL01 REP client reqid reply
 * [directives]. */
enum {
    PL_BROKER__REP_WORKER,      /* backend ROUTER identity of the worker   */
    PL_BROKER__REP_VERSION,
    PL_BROKER__REP_COMMAND,
    PL_BROKER__REP_CLIENT,
    PL_BROKER__REP_ID,
    PL_BROKER__REP_BODY,
    PL_BROKER__REP_DIRECTIVES,  /* optional                                */
};

typedef struct _pl_broker__service_t pl_broker__service_t;

/* A request waiting for a worker. */
typedef struct _pl_broker__request_t {
    struct _pl_broker__request_t *next; /* next younger request          */
    int64_t deadline;           /* zclock_mono() ms when it expires       */
    pl_zmsg_t msg;              /* the request in client form (owned)     */
} pl_broker__request_t;

/* A request a worker holds: whom to answer if the worker is lost. Inline
 * buffers, so tracking costs one allocation per request, and the worker's
 * list is intrusive (no list node to allocate besides). */
typedef struct _pl_broker__pending_t {
    struct _pl_broker__pending_t *prev;     /* older, or NULL             */
    struct _pl_broker__pending_t *next;     /* younger, or NULL           */
    size_t client_len;                      /* bytes in client            */
    size_t reqid_len;                       /* bytes in reqid             */
    byte client[PL_BROKER__IDENTITY_MAX];   /* frontend ROUTER identity   */
    byte reqid[PL_BROKER_REQID_MAX];        /* request id, echoed back    */
} pl_broker__pending_t;

typedef struct {
    char *key;                  /* hex of identity: key in self->workers  */
    size_t identity_len;        /* bytes in identity                      */
    byte identity[PL_BROKER__IDENTITY_MAX]; /* backend ROUTER identity    */
    pl_broker__service_t *service;  /* the service it registered          */
    void *handle;               /* its node in service->workers           */
    size_t credit;              /* most requests it may hold at once      */
    pl_broker__pending_t *oldest;   /* requests it holds, oldest first    */
    pl_broker__pending_t *youngest; /* ... and the last one sent to it    */
    size_t load;                /* how many it holds (<= credit)          */
    int64_t expiry;             /* declared dead at this zclock_mono() ms */
    char *metrics_name;         /* its process name from HB, or NULL      */
    char *metrics_snap;         /* its latest metrics snapshot (raw bytes,
                                   not NUL-terminated), or NULL           */
    size_t metrics_len;         /* bytes in metrics_snap                  */
    int64_t metrics_at;         /* zclock_mono() ms it came               */
} pl_broker__worker_t;

struct _pl_broker__service_t {
    char *name;                 /* service name (printable, <= 64 bytes)  */
    zlistx_t *workers;          /* workers, least recently sent first     */
    pl_broker__request_t *head; /* oldest queued request (expires first)  */
    pl_broker__request_t *tail; /* youngest queued request                */
    size_t queued;              /* requests in the queue                  */
    char *err_full;             /* cached SERVICE_UNAVAILABLE: queue full */
    char *err_expired;          /* cached SERVICE_UNAVAILABLE: no worker  */
    /* counted on the hot path as plain integers, and carried into the
     * metrics registry (the difference since the last time) only when a
     * snapshot is taken: pl_broker_metrics.c */
    uint64_t requests;          /* requests submitted                     */
    uint64_t timeouts;          /* answered TIMEOUT (their worker lost)   */
    uint64_t unavailable;       /* answered SERVICE_UNAVAILABLE           */
    uint64_t requests_shown;    /* ... of which already in the registry   */
    uint64_t timeouts_shown;
    uint64_t unavailable_shown;
};

struct _pl_broker_t {
    pl_broker_opts_t opts;      /* copy; the strings are owned            */
    zsock_t *frontend;          /* ROUTER, gateways connect               */
    zsock_t *backend;           /* ROUTER, workers connect                */
    void *frontend_handle;      /* zsock_resolve (frontend)               */
    void *backend_handle;       /* zsock_resolve (backend)                */
    pl_pump_t *pump;            /* drains both sockets on the loop        */
    unsigned sent;              /* PL_BROKER__FRONTEND/BACKEND sent on    */
    bool draining;              /* in s_drain_frontend (pl_broker_send_frontend) */
    zhashx_t *services;         /* name -> service (owned)                */
    zhashx_t *workers;          /* hex identity -> worker (owned)         */
    zloop_t *loop;              /* the loop it is attached to, or NULL    */
    int timer_id;               /* heartbeat timer on loop                */
    int expiry_timer;           /* one-shot timer for expiry_at, or -1    */
    int64_t expiry_at;          /* zclock_mono() ms it fires at, if armed */
    char *err_lost;             /* cached TIMEOUT: worker lost            */
    int64_t warn_window;        /* start of the current warning second    */
    int warn_count;             /* warnings logged in that second         */
    size_t warn_suppressed;     /* warnings not logged in that second     */
    pl_metrics_t *metrics;      /* the broker's own registry              */
    size_t metrics_bytes;       /* bytes of worker snapshots kept, all    */
    size_t metrics_cut;         /* workers the last METRICS answer left out */
};

/* The broker's sockets, as its pump numbers them (pl_pump.h). */
#define PL_BROKER__FRONTEND 0x1u
#define PL_BROKER__BACKEND  0x2u

/* The socket to send on, PL_BROKER__FRONTEND or PL_BROKER__BACKEND,
 * marked in self->sent: the drain in progress tells the pump, which then
 * looks at that socket again (a send may take in its wakeup). Every send
 * goes through here. */
static inline void *
pl_broker__sending (pl_broker_t *self, unsigned which)
{
    self->sent |= which;
    return which == PL_BROKER__FRONTEND ? self->frontend_handle : self->backend_handle;
}

/* Sending (pl_broker_dispatch.c). None blocks: the ROUTERs have no
 * ROUTER_MANDATORY, so a message to a peer that is gone is dropped. */
/* client PL01 REP reqid body on the frontend; body NULL sends nothing. */
void pl_broker__send_reply (pl_broker_t *self, const void *client, size_t client_len,
                            const void *reqid, size_t reqid_len, const char *body);
/* Answer a request in client form with body (its frames stay the
 * caller's to close). */
void pl_broker__refuse (pl_broker_t *self, pl_zmsg_t *req, const char *body);
/* identity PL01 <command> on the backend. */
void pl_broker__send_command (pl_broker_t *self, const void *identity, size_t identity_len,
                              const char *command);
/* Send frames order[0..count-1] of msg as one message on sock, after
 * prefix (prefix_len bytes, none when NULL), moving the frames (zero
 * copy). Returns 0, or -1 when nothing was sent. */
int pl_broker__forward (void *sock, const void *prefix, size_t prefix_len,
                        pl_zmsg_t *msg, const int *order, int count);

/* Services (pl_broker_dispatch.c). */
/* The service called name, created when new; NULL past
 * PL_BROKER_SERVICES_MAX services or out of memory. */
pl_broker__service_t *pl_broker__service_require (pl_broker_t *self, const char *name);
/* zhashx destructor of a service; runs wherever the map is destroyed. */
void pl_broker__service_destroy (void **item);
/* Route a request in client form (PL_BROKER__REQ_FRAMES frames): to a
 * worker, else into the queue, else (queue full) SERVICE_UNAVAILABLE. Its
 * frames are sent on or moved into the queue; the caller still closes req
 * (a no-op on moved frames). */
void pl_broker__service_submit (pl_broker_t *self, pl_broker__service_t *svc, pl_zmsg_t *req);
/* Hand queued requests to workers while any has credit. */
void pl_broker__service_drain (pl_broker_t *self, pl_broker__service_t *svc);
/* Answer queued requests whose deadline is <= now SERVICE_UNAVAILABLE. */
void pl_broker__service_expire (pl_broker_t *self, pl_broker__service_t *svc, int64_t now);
/* Take the oldest queued request, or NULL. The caller frees it with
 * pl_broker__request_free. */
pl_broker__request_t *pl_broker__service_pop (pl_broker__service_t *svc);
void pl_broker__request_free (pl_broker__request_t **req_p);

/* Expiry (pl_broker.c). A request has just joined a queue with this
 * deadline: make sure the loop wakes up by then. Every request gets the
 * same queue timeout, so a deadline is never earlier than one already
 * queued and a timer that is already armed covers it. */
void pl_broker__expiry_arm (pl_broker_t *self, int64_t deadline);

/* Workers (pl_broker_dispatch.c). */
/* zhashx destructor of a worker; runs wherever the map is destroyed. */
void pl_broker__worker_destroy (void **item);
/* Register a worker of svc (the caller checked limits and input). Returns
 * 0, or -1 when out of memory. */
int pl_broker__worker_add (pl_broker_t *self, const void *identity, size_t identity_len,
                           const char *key, pl_broker__service_t *svc, size_t credit);
/* Answer a request a worker held and will not answer: TIMEOUT with the
 * message of fallback (an error reply, sent as is when out of memory)
 * and error.requestId; logged with why (who held it). Broker loop. */
void pl_broker__answer_lost (pl_broker_t *self, const pl_broker__pending_t *p,
                             const char *fallback, const char *why);
/* Forget a dead or departed worker, answering what it held TIMEOUT. */
void pl_broker__worker_forget (pl_broker_t *self, pl_broker__worker_t *worker,
                               const char *reason);
/* A REP from worker (6 frames, or 7 with directives): forward it to the
 * client when the worker holds that request, moving its frames, and hand
 * the freed credit on. Returns 0, or -1 when the worker does not hold the
 * request (nothing sent). */
int pl_broker__worker_reply (pl_broker_t *self, pl_broker__worker_t *worker, pl_zmsg_t *rep);

/* Metrics (pl_broker_metrics.c; proto/README.md, "Metrics"). All run on
 * the broker's loop. */
/* Bytes in one worker snapshot kept, and in all of them together. */
#define PL_BROKER__SNAPSHOT_MAX      (256 * 1024)
#define PL_BROKER__SNAPSHOTS_MAX     (64 * 1024 * 1024)
/* Worker pairs in a METRICS answer: a gateway takes at most 65 pairs, the
 * broker's and 64 workers' (PL_BUS_METRICS_MAX, gateway/pl_bus.h), and
 * drops a longer answer whole; past it the broker leaves the rest out
 * (the last by name) and says so, so a scrape shows 64 rather than none. */
#define PL_BROKER__METRICS_WORKERS_MAX 64
/* Bytes in a worker's process name (A-Z a-z 0-9 . _ -). */
#define PL_BROKER__PROCESS_MAX       64
/* The registry with its families declared; NULL when out of memory. */
pl_metrics_t *pl_broker__metrics_new (void);
/* An HB with 2 extra frames (identity PL01 HB name snapshot): keep the
 * snapshot as worker's latest. Returns NULL, or why it was dropped (the
 * caller warns; the previous one is dropped as well). */
const char *pl_broker__metrics_store (pl_broker_t *self, pl_broker__worker_t *worker,
                                      zmq_msg_t *name, zmq_msg_t *snapshot);
/* Forget worker's snapshot (it is going away). */
void pl_broker__metrics_drop (pl_broker_t *self, pl_broker__worker_t *worker);
/* The broker's own snapshot, gauges and counters brought up to date
 * first (caller frees); NULL when out of memory. */
char *pl_broker__metrics_snapshot (pl_broker_t *self);
/* Answer METRICS to client (frame 0 of the query). */
void pl_broker__metrics_answer (pl_broker_t *self, zmq_msg_t *client);

#endif
