/*  pl_http - the gateway's plain HTTP side on the WebSocket port:
 *  GET /healthz now, the REST API later. Lws loop only.
 *
 *  A response is built whole in pl_http_serve (headers written at once,
 *  body held in a pl_http_t) and its body written in one lws_write on the
 *  next HTTP_WRITEABLE, as lws requires.
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <libwebsockets.h>
#include "pl_gateway.h"

typedef struct _pl_http_t pl_http_t;

/* LWS_CALLBACK_HTTP: route path. Returns what the callback returns. */
int pl_http_serve (pl_gateway_t *gateway, struct lws *wsi, pl_http_t **http_p,
                   const char *path);
/* LWS_CALLBACK_HTTP_WRITEABLE: write the body, end the transaction. */
int pl_http_write (struct lws *wsi, pl_http_t **http_p);
void pl_http_destroy (pl_http_t **http_p);

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: only
 * /socket.io/?EIO=4&transport=websocket may upgrade. */
bool pl_http_upgrade_allowed (struct lws *wsi);

#endif
