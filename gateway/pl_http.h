/*  pl_http - the gateway's plain HTTP side on the WebSocket port: GET
 *  /healthz and the REST API under /api/v1 (proto/README.md, REST). Lws
 *  loop only.
 *
 *  One pl_http_t per HTTP transaction, hung off the connection's
 *  per-session data. A REST call goes: headers (LWS_CALLBACK_HTTP: route,
 *  size, token, the user's rate limit (429 with Retry-After), content
 *  type), body (HTTP_BODY, bounded by
 *  PARLEY_MAX_PAYLOAD), then the same broker request as the socket event
 *  (pl_gateway__rest_request); the reply or the gateway's timeout sets
 *  the response. Every response is written on HTTP_WRITEABLE, as lws
 *  requires: headers on one callback, the body on the next, one lws_write
 *  each. Keep-alive works: lws starts the next transaction on a fresh
 *  per-session data.
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <libwebsockets.h>
#include "pl_gateway.h"
#include "pl_proto.h"

typedef struct _pl_http_t pl_http_t;
struct pl_gwconn;

/* LWS_CALLBACK_HTTP: route path. Each returns what the callback returns
 * (-1 closes the connection). */
int pl_http_serve (pl_gateway_t *gateway, struct pl_gwconn *conn, struct lws *wsi,
                   const char *path);
/* LWS_CALLBACK_HTTP_BODY and HTTP_BODY_COMPLETION. */
int pl_http_body (pl_gateway_t *gateway, struct pl_gwconn *conn, struct lws *wsi,
                  const void *in, size_t len);
int pl_http_body_done (pl_gateway_t *gateway, struct pl_gwconn *conn, struct lws *wsi);
/* LWS_CALLBACK_HTTP_WRITEABLE: write the headers, then the body, then end
 * the transaction. */
int pl_http_write (pl_gateway_t *gateway, struct pl_gwconn *conn, struct lws *wsi);
void pl_http_destroy (pl_http_t **http_p);

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: only
 * /socket.io/?EIO=4&transport=websocket may upgrade. */
bool pl_http_upgrade_allowed (struct lws *wsi);

#endif
