/*  pl_broker - the Majordomo-style request broker (proto/README.md,
 *  "Frontend" and "Backend").
 *
 *  Gateways (DEALER) send requests to the frontend ROUTER; workers (DEALER)
 *  register a service on the backend ROUTER with READY and a credit. The
 *  broker hands each request to the live worker of its service with the
 *  fewest outstanding requests, never past the worker's credit, queues it
 *  (bounded, with a deadline) while no worker can take it, and answers every
 *  request exactly once: the worker's reply, or SERVICE_UNAVAILABLE (queue
 *  full, or no worker in time), or TIMEOUT (the worker holding it died or
 *  left), or VALIDATION_ERROR (malformed request).
 *
 *  The broker owns its two sockets and runs on a zloop it is attached to:
 *
 *      pl_broker_opts_t opts = { .frontend = "ipc://...", .backend = "ipc://...",
 *                                .heartbeat_ms = 1000, .liveness = 3,
 *                                .queue_max = 10000, .queue_timeout_ms = 3000 };
 *      pl_broker_t *broker = pl_broker_new (&opts);    // binds both
 *      zloop_t *loop = zloop_new ();
 *      pl_broker_attach (broker, loop);
 *      zloop_start (loop);
 *      pl_broker_destroy (&broker);                   // before the loop
 *      zloop_destroy (&loop);
 */
#ifndef PL_BROKER_H
#define PL_BROKER_H

#include <czmq.h>
#include "pl_zmsg.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of the wire (proto/README.md) and of this broker. */
#define PL_BROKER_SERVICE_MAX   64      /* bytes in a service name          */
#define PL_BROKER_REQID_MAX     32      /* bytes in a request id            */
#define PL_BROKER_SERVICES_MAX  1024    /* distinct services remembered     */
#define PL_BROKER_WORKERS_MAX   4096    /* live workers, all services       */
#define PL_BROKER_CREDIT_MAX    10000   /* largest credit a READY may claim */
#define PL_BROKER_HWM           100000  /* SNDHWM/RCVHWM of both ROUTERs    */

typedef struct {
    const char *frontend;       /* endpoint of the client ROUTER (bound)    */
    const char *backend;        /* endpoint of the worker ROUTER (bound)    */
    const char *frontend_name;  /* how bind errors name it; NULL "frontend" */
    const char *backend_name;   /* how bind errors name it; NULL "backend"  */
    int64_t heartbeat_ms;       /* HB interval both ways, > 0               */
    int64_t liveness;           /* silent intervals before death, > 0       */
    size_t queue_max;           /* queued requests per service; 0: none     */
    int64_t queue_timeout_ms;   /* longest wait for a worker, >= 0          */
    /* connection-state recovery (pl_replay.h): the frontend's SESS,
     * RECOVER and REPLAY messages go here (frame 0 the client identity);
     * NULL drops them as unknown commands. Runs on the broker's loop. */
    void (*on_recovery) (void *arg, pl_zmsg_t *msg);
    void *recovery_arg;
} pl_broker_opts_t;

typedef struct _pl_broker_t pl_broker_t;

/* Create the broker and bind its sockets. opts is copied (the endpoint
 * strings too). Returns NULL, after logging why, when a bind fails. Bad
 * option values are API misuse (asserted). */
pl_broker_t *pl_broker_new (const pl_broker_opts_t *opts);

/* Stop: answer every queued request SERVICE_UNAVAILABLE and every
 * outstanding one TIMEOUT, tell each worker BYE, detach from the loop and
 * close the sockets. Safe to call twice. Destroy the broker before the loop
 * it is attached to. */
void pl_broker_destroy (pl_broker_t **self_p);

/* Register the broker's sockets and its timers (the heartbeat, and while
 * requests are queued a one-shot for the earliest deadline) on loop. A
 * broker is attached to at most one loop. Returns 0 or -1. */
int pl_broker_attach (pl_broker_t *self, zloop_t *loop);

/* Remove the broker from its loop (no-op when not attached). */
void pl_broker_detach (pl_broker_t *self);

/* The STATUS answer, as JSON text the caller frees:
 * {"services":{"<name>":{"workers":N,"queued":N}}} */
char *pl_broker_status (pl_broker_t *self);

/* Send parts as one message on the frontend (parts[0]: the identity of
 * the gateway it goes to). For on_recovery's answers, from any callback of
 * the broker's loop. */
void pl_broker_send_frontend (pl_broker_t *self, const pl_zmsg_part_t *parts, int count);

void pl_broker_test (bool verbose);

#endif
