/*  pl_http - /healthz and friends, on the lws loop. */
#include "pl_http.h"
#include "pl_proto.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _pl_http_t {
    size_t len;                     /* body bytes                          */
    unsigned char buf[];            /* LWS_PRE headroom, then the body     */
};

/* Write status and headers now; keep the body for HTTP_WRITEABLE. Takes
 * ownership of body. */
static int
s_respond (struct lws *wsi, pl_http_t **http_p, int status, char *body)
{
    int rc = -1;
    unsigned char headers[LWS_PRE + 512];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    size_t len = body ? strlen (body) : 0;
    pl_http_destroy (http_p);
    pl_http_t *http = malloc (sizeof *http + LWS_PRE + len);
    if (!http)
        goto cleanup;
    http->len = len;
    memcpy (http->buf + LWS_PRE, body, len);
    *http_p = http;
    if (lws_add_http_common_headers (wsi, (unsigned int) status, "application/json",
                                     (lws_filepos_t) len, &p, end)
    ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                      (const unsigned char *) "no-store", 8, &p, end)
    ||  lws_finalize_write_http_header (wsi, start, &p, end))
        goto cleanup;
    lws_callback_on_writable (wsi);
    rc = 0;
cleanup:
    free (body);
    return rc;
}

int
pl_http_serve (pl_gateway_t *gateway, struct lws *wsi, pl_http_t **http_p,
               const char *path)
{
    int status = 404;
    char *body = NULL;
    bool get = lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0;
    if (strcmp (path, "/healthz") == 0) {
        if (get)
            body = pl_gateway_health (gateway, &status);
        else {
            status = 405;
            body = pl_proto_reply_err (PL_ERR_VALIDATION_ERROR, "GET only");
        }
    }
    else
    if (strncmp (path, "/socket.io", 10) == 0) {
        /* what an Engine.IO server answers for a transport it lacks
         * (engine.io Server.errorMessages: "Transport unknown") */
        status = 400;
        body = strdup ("{\"code\":0,\"message\":\"Transport unknown: use the websocket transport\"}");
    }
    else
        body = pl_proto_reply_err (PL_ERR_NOT_FOUND, "no such path");
    return s_respond (wsi, http_p, status, body);
}

/* Only /socket.io/?EIO=4&transport=websocket may upgrade. */
bool
pl_http_upgrade_allowed (struct lws *wsi)
{
    char uri[256], arg[32];
    if (lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0
    ||  (strcmp (uri, "/socket.io/") != 0 && strcmp (uri, "/socket.io") != 0))
        return false;
    const char *eio = lws_get_urlarg_by_name (wsi, "EIO=", arg, sizeof arg);
    if (!eio || strcmp (eio, "4") != 0)
        return false;
    const char *transport = lws_get_urlarg_by_name (wsi, "transport=", arg, sizeof arg);
    return transport && strcmp (transport, "websocket") == 0;
}

int
pl_http_write (struct lws *wsi, pl_http_t **http_p)
{
    pl_http_t *http = *http_p;
    if (!http)
        return -1;
    int n = lws_write (wsi, http->buf + LWS_PRE, http->len, LWS_WRITE_HTTP_FINAL);
    pl_http_destroy (http_p);
    if (n < 0)
        return -1;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

void
pl_http_destroy (pl_http_t **http_p)
{
    assert (http_p);
    free (*http_p);
    *http_p = NULL;
}
