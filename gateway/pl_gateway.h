/*  pl_gateway - the Socket.IO gateway: one lws loop serving WebSocket
 *  clients and HTTP, bridged to the broker and the event bus (pl_bus).
 *
 *  Per connection it speaks Engine.IO v4 (open, ping/pong) and Socket.IO
 *  v5 (CONNECT with a JWT, EVENT, ACK), forwards events to the broker
 *  service that proto/events.def names, delivers the replies as acks and
 *  fans room events out to local members.
 */
#ifndef PL_GATEWAY_H
#define PL_GATEWAY_H

#include <stdbool.h>
#include "pl_config.h"

typedef struct _pl_gateway_t pl_gateway_t;
/* The application over the gateway's Engine.IO + Socket.IO core
 * (pl_gateway_int.h): Parley's, or a conformance server's (pl_conformance). */
typedef struct pl_gwapp pl_gwapp_t;

/* Create the lws context, listen, connect to the broker. NULL on failure
 * (logged). The config must outlive the gateway. */
pl_gateway_t *pl_gateway_new (pl_config_t *config);
/* The same core with another application in front (app outlives it). */
pl_gateway_t *pl_gateway_new_app (pl_config_t *config, const pl_gwapp_t *app);
void pl_gateway_destroy (pl_gateway_t **self_p);

/* Serve until SIGINT, SIGTERM or pl_gateway_stop. Returns 0 or -1. */
int pl_gateway_run (pl_gateway_t *self);
/* Ask the loop to return; safe from any thread (an ev_async). */
void pl_gateway_stop (pl_gateway_t *self);

/* /healthz body (caller frees) and its HTTP status: 200 when the broker
 * answered STATUS within 3 heartbeats and every required service has a
 * worker, else 503. Lws loop only. */
char *pl_gateway_health (pl_gateway_t *self, int *status);

#endif
