/*  pl_http - the gateway's plain HTTP side on the WebSocket port: GET
 *  /healthz and the REST API under /api/v1 (proto/README.md, REST), over
 *  pl_h1's requests. Gateway loop only.
 *
 *  One pl_http_t per HTTP transaction, hung off the connection's
 *  pl_gwconn_t (which pl_http allocates per HTTP connection, so a REST
 *  call is registered and answered as a socket request is). A REST call
 *  goes: head (pl_http_head: route, size, token, the user's rate limit
 *  (429 with Retry-After), content type; a refusal here is answered once
 *  pl_h1 has dropped the body), then the whole request (pl_http_request:
 *  the same broker request as the socket event,
 *  pl_gateway__rest_request); the reply or the gateway's timeout answers
 *  it. Keep-alive and pipelining are pl_h1's.
 *
 *  CORS (pl_cors, PARLEY_CORS_ORIGINS): every request routed here gets its
 *  answer's CORS lines at its head (pl_h1_add_headers), so whoever answers
 *  it (REST, /healthz, polling, a held GET later, pl_h1's 413) sends them.
 *  OPTIONS on PARLEY_PATH, a REST path, /healthz or a HUD file is 204 with
 *  Allow and, for an allowed Origin, a preflight answer; no token is asked
 *  for.
 *
 *  The HUD (pl_hud, PARLEY_HUD_DIR): any other path that names one of its
 *  files is served from memory, so the routes above always win.
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <libwebsockets.h>
#include "pl_gateway.h"
#include "pl_h1.h"
#include "pl_proto.h"

typedef struct _pl_http_t pl_http_t;

/* pl_gwfront_t: the REST call of conn has its answer: the broker's, or
 * the gateway's own TIMEOUT (an error reply naming the request). Registered
 * by pl_gateway_new. */
struct pl_gwconn;
void pl_http_on_reply (pl_gateway_t *gateway, struct pl_gwconn *conn, const char *reply,
                       size_t len);

/* pl_h1 handlers (gateway loop). */
void pl_http_head (pl_gateway_t *gateway, pl_h1_conn_t *h1, const pl_h1_req_t *req);
void pl_http_request (pl_gateway_t *gateway, pl_h1_conn_t *h1, const pl_h1_req_t *req);
void pl_http_closed (pl_gateway_t *gateway, pl_h1_conn_t *h1);
/* Only <PARLEY_PATH>?EIO=4&transport=websocket (/socket.io/ by default,
 * with or without its last slash) may upgrade: pl_h1's check, before the
 * hand-off to lws ... */
bool pl_http_upgrade (pl_gateway_t *gateway, const pl_h1_req_t *req);
/* ... and lws's (LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION), on the same
 * head after it. */
bool pl_http_upgrade_allowed (pl_gateway_t *gateway, struct lws *wsi);
/* The sid= of that head, if any (an upgrade of a polling session). */
bool pl_http_upgrade_sid (pl_gateway_t *gateway, struct lws *wsi, char *sid, size_t size);

void pl_http_destroy (pl_http_t **http_p);

#endif
