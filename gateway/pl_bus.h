/*  pl_bus - the gateway's two ZeroMQ sockets, driven by the lws loop.
 *
 *  - a DEALER to the broker frontend: requests out, replies and STATUS in;
 *  - a SUB to the event proxy's XPUB: room events in.
 *
 *  Each socket's ZMQ_FD is dup()ed and adopted into lws as a raw file
 *  descriptor (lws closes what it adopts, hence the dup), so the gateway
 *  has one loop and one thread. ZMQ_FD is edge-triggered: it signals "state
 *  changed", not "readable", so every wakeup drains until ZMQ_EVENTS shows
 *  no POLLIN, and every send or setsockopt re-checks ZMQ_EVENTS because it
 *  can swallow the edge (zmq_getsockopt(3), ZMQ_FD).
 *
 *  A drain handles at most PL_BUS_BATCH messages and then reschedules
 *  itself on a zero-delay lws timer, so a flood of events cannot starve
 *  client I/O.
 */
#ifndef PL_BUS_H
#define PL_BUS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_BUS_BATCH 256

typedef struct _pl_bus_t pl_bus_t;

/* Callbacks into the gateway; all run on the lws loop. Pointers are valid
 * only during the call. */
typedef struct {
    /* PL01 REP: answer to request id (reqid, reqid_len bytes), with the
     * service's room directives JSON or NULL (directives_len 0) */
    void (*on_reply) (void *arg, const void *reqid, size_t reqid_len,
                      const char *reply, size_t reply_len,
                      const char *directives, size_t directives_len);
    /* PL01 STATUS: the broker's services JSON */
    void (*on_status) (void *arg, const char *json, size_t len);
    /* PL01 EV: room is NUL-terminated; origin may be empty; except is
     * frame 6, the JSON array of rooms whose members are left out, or NULL
     * (except_len 0) when the message has 5 frames or an empty frame 6;
     * offset is the proxy's stamp (the last frame, [0-9a-f-], at most
     * PL_BUS_OFFSET_MAX bytes), or NULL when recovery is off;
     * published_us is the worker's publish time (wall clock, us since the
     * epoch, within an hour of this gateway's clock: pl_proto_ts_parse),
     * or -1 when the message has none or a bad one */
    void (*on_event) (void *arg, const char *room, const char *origin,
                      size_t origin_len, const char *packet, size_t packet_len,
                      const char *except, size_t except_len,
                      const char *offset, size_t offset_len, int64_t published_us);
    /* PL01 CTL: room control JSON ({"leave":[..]}) for the members of room;
     * offset as for on_event */
    void (*on_control) (void *arg, const char *room, const char *json, size_t len,
                        const char *offset, size_t offset_len);
    /* Connection-state recovery, from the broker (proto/README.md,
     * "Recovery"); NULL ignores them. PL01 RECOVER nonce json (replay
     * false) or PL01 REPLAY nonce json (replay true: the end of a replay) */
    void (*on_recovery) (void *arg, bool replay, const char *nonce, size_t nonce_len,
                         const char *json, size_t len);
    /* PL01 REPLAY nonce EV|CTL topic packet offset: one replayed message */
    void (*on_replay) (void *arg, const char *nonce, size_t nonce_len, bool control,
                       const char *topic, size_t topic_len, const char *packet,
                       size_t packet_len, const char *offset, size_t offset_len);
    /* PL01 FWD: another gateway (peer: its routing id, 1..64 bytes) hands
     * over an HTTP polling request: fwdid (<= 32 bytes) to echo, op, sid,
     * body (frames as they came; nothing is NUL-terminated) */
    void (*on_forward) (void *arg, const char *peer, size_t peer_len,
                        const char *fwdid, size_t fwdid_len, const char *op, size_t op_len,
                        const char *sid, size_t sid_len, const char *body, size_t body_len);
    /* PL01 FWDREP: the answer to a FWD of ours: peer answered fwdid with an
     * HTTP status (decimal text) and body */
    void (*on_forward_reply) (void *arg, const char *peer, size_t peer_len,
                              const char *fwdid, size_t fwdid_len,
                              const char *status, size_t status_len,
                              const char *body, size_t body_len);
    /* PL01 METRICS (name snapshot)...: the broker's answer to
     * pl_bus_metrics, n pairs (1..PL_BUS_METRICS_MAX) of a process name
     * (1..PL_BUS_METRICS_NAME_MAX bytes, no NUL) and its snapshot JSON;
     * nothing is NUL-terminated. NULL ignores them. */
    void (*on_metrics) (void *arg, const char *const *names, const size_t *name_lens,
                        const char *const *jsons, const size_t *json_lens, size_t n);
} pl_bus_handlers_t;

#define PL_BUS_METRICS_MAX      65      /* processes in a METRICS answer      */
#define PL_BUS_METRICS_NAME_MAX 128     /* bytes of a process name            */

#define PL_BUS_OFFSET_MAX 32

/* Connect both sockets and adopt them into vhost's lws loop using the
 * protocol named PL_BUS_PROTOCOL, which must be in the vhost's protocol
 * list with pl_bus_callback. NULL on failure (logged). */
#define PL_BUS_PROTOCOL "parley-zmq"
/* identity: the DEALER's routing id at the broker (the gateway id, which
 * other gateways forward to); NULL: one ZeroMQ picks. */
pl_bus_t *pl_bus_new (struct lws_context *lws, struct lws_vhost *vhost,
                      const char *frontend, const char *events, const pl_bus_handlers_t *handlers,
                      void *arg, const char *identity);
void pl_bus_destroy (pl_bus_t **self_p);
/* Let pl_bus_destroy wait up to ms for what the DEALER still queues
 * (recovery: the sessions a stopping gateway saves); 0 by default. */
void pl_bus_linger (pl_bus_t *self, int ms);

/* Send a request. body may be NULL (no argument). Returns 0, or -1 when the
 * broker is not connected or the send queue is full (the caller answers
 * SERVICE_UNAVAILABLE). Never blocks. */
int pl_bus_request (pl_bus_t *self, const char *service, const void *reqid,
                    size_t reqid_len, const char *event, const char *ctx,
                    size_t ctx_len, const char *body, size_t body_len);
/* Hand an HTTP polling request to gateway peer (FWD), or answer one
 * (FWDREP, with a decimal status as `op` and no sid: NULL). Returns 0, or
 * -1 when the broker is not connected or the queue is full. Never blocks. */
int pl_bus_forward (pl_bus_t *self, bool reply, const char *peer, size_t peer_len,
                    const char *fwdid, size_t fwdid_len, const char *op,
                    const char *sid, const char *body, size_t body_len);
/* Ask the broker for its services; the answer arrives in on_status. */
int pl_bus_status (pl_bus_t *self);
/* Ask the broker for every process's metrics snapshot (PL01 METRICS); the
 * answer, if any, arrives in on_metrics. 0, or -1 as pl_bus_request. */
int pl_bus_metrics (pl_bus_t *self);
/* Recovery: PL01 command key [json] to the broker (json NULL: no frame).
 * Returns 0, or -1 as pl_bus_request. */
int pl_bus_recovery (pl_bus_t *self, const char *command, const char *key, const char *json);
/* Subscribe to / unsubscribe from a room's topic. Returns 0 or -1. */
int pl_bus_subscribe (pl_bus_t *self, const char *room, bool on);

/* The lws protocol callback for the adopted descriptors. */
int pl_bus_callback (struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);

void pl_bus_test (bool verbose);

#endif
