/*  pl_http - /healthz and the REST API, on the lws loop. */
#include "pl_http.h"
#include "pl_gateway_int.h"
#include "pl_jwt.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_rest.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_QUERY_MAX 16              /* query arguments kept; more are ignored */

struct _pl_http_t {
    /* the request (REST only) */
    bool rest;                      /* a REST call                             */
    pl_rest_match_t match;          /* its route and captures                  */
    char *user;                     /* JWT sub, NUL, JWT name (or "")          */
    char *query[S_QUERY_MAX];       /* "name=value" arguments                  */
    size_t nquery;
    char *body;                     /* request body being read                 */
    size_t body_len, body_cap;
    int early_status;               /* an error found in the headers, sent
                                       once lws has read the body (0: none)    */
    char *early_body;
    bool waiting;                   /* sent: the broker's reply is awaited     */
    /* the response */
    bool responding;                /* set: ignore further input               */
    bool headers_sent;
    bool close;                     /* close after it: the body was not read   */
    int status;
    char allow[48];                 /* 405: Allow header                       */
    char retry_after[24];           /* 429: Retry-After header (seconds)       */
    size_t len;                     /* body bytes                              */
    unsigned char *out;             /* LWS_PRE headroom, then the body         */
};

/* How much of a refused body is read and dropped, in multiples of
 * PARLEY_MAX_PAYLOAD, before the answer goes out (see s_rest_begin). */
#define S_DRAIN_FACTOR 4

static pl_http_t *
s_new (pl_gwconn_t *conn)
{
    pl_http_destroy (&conn->http);
    conn->http = calloc (1, sizeof *conn->http);
    return conn->http;
}

/* Set the response and ask for WRITEABLE. Takes ownership of body (NULL:
 * no body). Returns 0, or -1 on OOM (the caller closes). */
static int
s_respond (struct lws *wsi, pl_http_t *http, int status, char *body)
{
    int rc = -1;
    size_t len = body ? strlen (body) : 0;
    http->out = malloc (LWS_PRE + len + 1);
    if (!http->out)
        goto cleanup;
    if (len)
        memcpy (http->out + LWS_PRE, body, len);   /* a 204 has no body (NULL) */
    http->len = len;
    http->status = status;
    http->responding = true;
    http->waiting = false;
    lws_callback_on_writable (wsi);
    rc = 0;
cleanup:
    free (body);
    return rc;
}

/* An error response {"error":{code, message}} with an explicit status
 * (405, 411, 413 and 415 have no code of their own: VALIDATION_ERROR). */
static int
s_fail (struct lws *wsi, pl_http_t *http, int status, pl_err_t err, const char *message)
{
    return s_respond (wsi, http, status, pl_rest_error_body (err, message));
}

static const char *
s_method (struct lws *wsi)
{
    static const struct { enum lws_token_indexes token; const char *name; } methods[] = {
        { WSI_TOKEN_GET_URI, "GET" }, { WSI_TOKEN_POST_URI, "POST" },
        { WSI_TOKEN_PATCH_URI, "PATCH" }, { WSI_TOKEN_PUT_URI, "PUT" },
        { WSI_TOKEN_DELETE_URI, "DELETE" }, { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
        { WSI_TOKEN_HEAD_URI, "HEAD" },
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length (wsi, methods[i].token) > 0)
            return methods[i].name;
    return "?";
}

/* Check "Authorization: Bearer <JWT>" as CONNECT checks its token. Sets
 * http->user. Returns 0, or -1 with *why. */
static int
s_auth (pl_gateway_t *gw, struct lws *wsi, pl_http_t *http, const char **why)
{
    int rc = -1;
    char *header = NULL;
    pl_jwt_claims_t claims = { 0 };
    int len = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    *why = "missing token: send Authorization: Bearer <JWT>";
    if (len <= 0)
        goto cleanup;
    *why = "token too long";
    if (len > PL_JWT_MAX + 16 || !(header = malloc ((size_t) len + 1)))
        goto cleanup;
    if (lws_hdr_copy (wsi, header, len + 1, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        goto cleanup;
    *why = "the Authorization scheme must be Bearer";
    if (strncasecmp (header, "Bearer ", 7) != 0)
        goto cleanup;
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    if (pl_jwt_verify (token, strlen (token), gw->secret, time (NULL), &claims, why) != 0)
        goto cleanup;
    const char *name = claims.name ? claims.name : "";
    size_t sub_len = strlen (claims.sub);
    *why = "out of memory";
    if (!(http->user = malloc (sub_len + strlen (name) + 2)))
        goto cleanup;
    memcpy (http->user, claims.sub, sub_len + 1);
    strcpy (http->user + sub_len + 1, name);
    rc = 0;
cleanup:
    pl_jwt_claims_clear (&claims);
    free (header);
    return rc;
}

/* The REST rate limit: every authenticated /api/v1 request, reads too
 * (each costs a broker round trip and a worker's time), counts against
 * its user's bucket (PARLEY_RATE_PER_SEC / PARLEY_RATE_BURST per JWT sub,
 * on this gateway). Charged before the body is read, so a refused write
 * costs nothing downstream. Returns 0 (allowed, or the limit is off) or
 * the microseconds until the user may try again. */
static int64_t
s_rate_wait (pl_gateway_t *gw, pl_http_t *http)
{
    return gw->rest_rate ? pl_ratetab_take (gw->rest_rate, http->user, pl_gateway__now_us ()) : 0;
}

/* Keep the query arguments: lws's header table is gone by the time a
 * body has been read. */
static void
s_keep_query (struct lws *wsi, pl_http_t *http)
{
    char arg[512];
    for (int i = 0; http->nquery < S_QUERY_MAX; i++) {
        int n = lws_hdr_copy_fragment (wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (n > 0 && !(http->query[http->nquery++] = strdup (arg)))
            http->nquery--;
    }
}

/* Send the REST call to its service. */
static int
s_dispatch (pl_gateway_t *gw, pl_gwconn_t *conn, struct lws *wsi, pl_http_t *http)
{
    char *arg = NULL;
    const char *why = NULL;
    int rc;
    if (pl_rest_build_arg (&http->match, (const char *const *) http->query, http->nquery,
                           http->body, http->body_len, &arg, &why) != 0) {
        rc = s_fail (wsi, http, 400, PL_ERR_VALIDATION_ERROR, why);
        goto cleanup;
    }
    free (http->body);                      /* not needed any more */
    http->body = NULL;
    http->body_len = http->body_cap = 0;
    const char *name = http->user + strlen (http->user) + 1;
    pl_event_id_t ev = pl_routes_get (http->match.route)->event;
    if (pl_gateway__rest_request (gw, conn, ev, http->user, name, arg,
                                  arg ? strlen (arg) : 0, &why) != PL_ERR_NONE) {
        rc = s_fail (wsi, http, 503, PL_ERR_SERVICE_UNAVAILABLE, why);
        goto cleanup;
    }
    http->waiting = true;
    /* the gateway's own timer answers 504 first; this only makes sure lws
     * never holds the connection forever */
    lws_set_timeout (wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) (gw->request_timeout / 1000) + 5);
    rc = 0;
cleanup:
    free (arg);
    return rc;
}

/* LWS_CALLBACK_HTTP for a path under /api/. */
static int
s_rest_begin (pl_gateway_t *gw, pl_gwconn_t *conn, struct lws *wsi, pl_http_t *http,
              const char *path)
{
    const char *method = s_method (wsi);
    const char *why = NULL;
    char value[64], message[160];
    int status = 0;
    int64_t wait;
    pl_err_t err = PL_ERR_VALIDATION_ERROR;
    http->rest = true;
    /* lws reads a body when there is a Content-Length, and for POST, PATCH
     * and PUT without one until the connection ends (we refuse those) */
    long long length = -1;
    if (lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        char *end = NULL;
        if (lws_hdr_copy (wsi, value, sizeof value, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
            length = strtoll (value, &end, 10);
        if (!end || *end || length < 0)
            length = -2;
    }
    bool body_method = !strcmp (method, "POST") || !strcmp (method, "PATCH")
                    || !strcmp (method, "PUT");
    bool body_coming = length > 0 || (length < 0 && body_method);
    int match = pl_rest_match (method, path, &http->match);
    if (match == 404) {
        status = 404;
        err = PL_ERR_NOT_FOUND;
        snprintf (message, sizeof message, "no such path");
    }
    else
    if (match == 405) {
        status = 405;
        snprintf (http->allow, sizeof http->allow, "%s", http->match.allow);
        snprintf (message, sizeof message, "%s is not allowed here; allowed: %s", method,
                  http->match.allow);
    }
    else
    if (length == -2) {
        status = 400;
        snprintf (message, sizeof message, "bad Content-Length");
    }
    else
    if (length == -1 && body_method) {
        status = 411;
        snprintf (message, sizeof message, "Content-Length required");
    }
    else
    if (length > gw->max_payload) {
        status = 413;
        snprintf (message, sizeof message, "body over %ld bytes", gw->max_payload);
    }
    else
    if (s_auth (gw, wsi, http, &why) != 0) {
        status = 401;
        err = PL_ERR_UNAUTHORIZED;
        snprintf (message, sizeof message, "unauthorized: %s", why);
    }
    else
    if ((wait = s_rate_wait (gw, http)) > 0) {
        status = 429;
        err = PL_ERR_RATE_LIMITED;
        gw->stats.rest_rate_limited++;
        /* whole seconds (RFC 9110 10.2.3), rounded up: never 0 */
        snprintf (http->retry_after, sizeof http->retry_after, "%lld",
                  (long long) ((wait + 999999) / 1000000));
        snprintf (message, sizeof message,
                  "too many requests: at most %lld per second, bursts of %lld; retry in %lld ms",
                  (long long) (1000000 / gw->rate_interval),
                  (long long) (gw->rate_tolerance / gw->rate_interval + 1),
                  (long long) ((wait + 999) / 1000));
    }
    else
    if (length > 0 && (lws_hdr_copy (wsi, value, sizeof value, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0
                       || !pl_rest_is_json (value))) {
        status = 415;
        snprintf (message, sizeof message, "the body must be Content-Type: application/json");
    }
    if (status) {
        /* A body is read (and dropped) before the answer, up to
         * S_DRAIN_FACTOR times the largest we take: so the connection stays
         * in step for keep-alive, and a client still writing its body does
         * not meet a reset that loses the answer (closing a socket with
         * unread input sends RST). A body of unknown size, or larger than
         * that, is never read: answer and close. */
        if (body_coming && (length < 0 || length > S_DRAIN_FACTOR * gw->max_payload))
            http->close = true;
        if (!body_coming || http->close)
            return s_fail (wsi, http, status, err, message);
        http->early_status = status;
        http->early_body = pl_rest_error_body (err, message);
        return 0;
    }
    s_keep_query (wsi, http);
    if (body_coming)
        return 0;                           /* HTTP_BODY_COMPLETION dispatches */
    return s_dispatch (gw, conn, wsi, http);
}

int
pl_http_serve (pl_gateway_t *gw, pl_gwconn_t *conn, struct lws *wsi, const char *path)
{
    int status = 404;
    char *body = NULL;
    conn->wsi = wsi;
    pl_http_t *http = s_new (conn);
    if (!http)
        return -1;
    if (strncmp (path, PL_REST_PREFIX, strlen (PL_REST_PREFIX)) == 0 || strcmp (path, "/api") == 0)
        return s_rest_begin (gw, conn, wsi, http, path);
    if (strcmp (path, "/healthz") == 0) {
        if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0)
            body = pl_gateway_health (gw, &status);
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
    return s_respond (wsi, http, status, body);
}

int
pl_http_body (pl_gateway_t *gw, pl_gwconn_t *conn, struct lws *wsi, const void *in, size_t len)
{
    pl_http_t *http = conn->http;
    if (!http || !http->rest || http->responding || http->early_status)
        return 0;                           /* read and dropped */
    if (http->body_len + len > (size_t) gw->max_payload) {
        char message[64];
        snprintf (message, sizeof message, "body over %ld bytes", gw->max_payload);
        http->close = true;
        return s_fail (wsi, http, 413, PL_ERR_VALIDATION_ERROR, message);
    }
    if (http->body_len + len > http->body_cap) {
        size_t cap = http->body_cap ? http->body_cap : 1024;
        while (cap < http->body_len + len)
            cap *= 2;
        char *body = realloc (http->body, cap);
        if (!body)
            return -1;
        http->body = body;
        http->body_cap = cap;
    }
    memcpy (http->body + http->body_len, in, len);
    http->body_len += len;
    return 0;
}

int
pl_http_body_done (pl_gateway_t *gw, pl_gwconn_t *conn, struct lws *wsi)
{
    pl_http_t *http = conn->http;
    if (!http || !http->rest || http->responding)
        return 0;
    if (http->early_status) {
        char *body = http->early_body;
        http->early_body = NULL;
        return s_respond (wsi, http, http->early_status, body);
    }
    return s_dispatch (gw, conn, wsi, http);
}

/* The broker answered (pl_gateway_req.c, lws loop). */
void
pl_http_on_reply (pl_gateway_t *gw, pl_gwconn_t *conn, const char *reply, size_t len)
{
    pl_http_t *http = conn->http;
    if (!http || !http->waiting)
        return;
    pl_gateway__conn_unregister (gw, conn);     /* nothing else may answer it */
    int status = 500;
    char *body = pl_rest_response (http->match.route, reply, len, &status);
    if (s_respond (conn->wsi, http, status, body) != 0)
        lws_set_timeout (conn->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* The call failed without an answer (timeout; lws loop). */
void
pl_http_on_error (pl_gateway_t *gw, pl_gwconn_t *conn, pl_err_t err, const char *message)
{
    pl_http_t *http = conn->http;
    if (!http || !http->waiting)
        return;
    pl_gateway__conn_unregister (gw, conn);
    if (s_fail (conn->wsi, http, pl_proto_err_http (err), err, message) != 0)
        lws_set_timeout (conn->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
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

/* Headers on one WRITEABLE, the body on the next: one lws_write each. */
int
pl_http_write (pl_gateway_t *gw, pl_gwconn_t *conn, struct lws *wsi)
{
    (void) gw;
    pl_http_t *http = conn->http;
    if (!http || !http->responding)
        return 0;                           /* still waiting for the broker */
    if (!http->headers_sent) {
        unsigned char headers[LWS_PRE + 512];
        unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
        if (lws_add_http_header_status (wsi, (unsigned int) http->status, &p, end)
        ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                          (const unsigned char *) "application/json", 16, &p, end)
        ||  lws_add_http_header_content_length (wsi, http->len, &p, end)
        ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                          (const unsigned char *) "no-store", 8, &p, end)
        ||  (http->allow[0]
             && lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_ALLOW,
                                              (const unsigned char *) http->allow,
                                              (int) strlen (http->allow), &p, end))
        ||  (http->retry_after[0]
             && lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_RETRY_AFTER,
                                              (const unsigned char *) http->retry_after,
                                              (int) strlen (http->retry_after), &p, end))
        ||  (http->close
             && lws_add_http_header_by_token (wsi, WSI_TOKEN_CONNECTION,
                                              (const unsigned char *) "close", 5, &p, end))
        ||  lws_finalize_write_http_header (wsi, start, &p, end))
            return -1;
        http->headers_sent = true;
        if (http->len) {
            lws_callback_on_writable (wsi);
            return 0;
        }
    }
    else
    if (lws_write (wsi, http->out + LWS_PRE, http->len, LWS_WRITE_HTTP_FINAL) < (int) http->len)
        return -1;
    bool close = http->close;
    pl_http_destroy (&conn->http);
    if (close)
        return -1;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

void
pl_http_destroy (pl_http_t **http_p)
{
    assert (http_p);
    pl_http_t *http = *http_p;
    if (http) {
        free (http->user);
        for (size_t i = 0; i < http->nquery; i++)
            free (http->query[i]);
        free (http->body);
        free (http->early_body);
        free (http->out);
        free (http);
        *http_p = NULL;
    }
}
