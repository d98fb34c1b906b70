/*  pl_http - /healthz, /metrics, the REST API and the HUD's files, over
 *  pl_h1, on the gateway loop. */
#include "pl_http.h"
#include "pl_gateway_int.h"
#include "pl_config.h"
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

struct _pl_http_t {
    bool rest;                      /* a REST call                             */
    pl_rest_match_t match;          /* its route and captures                  */
    char *user;                     /* JWT sub, NUL, JWT name (or "")          */
    bool waiting;                   /* sent: the broker's reply is awaited     */
    bool metrics;                   /* GET /metrics, answered (or held) at its
                                       head: nothing to do at its end          */
    char allow[48];                 /* 405: Allow header                       */
    char retry_after[24];           /* 429: Retry-After header (seconds)       */
};

/* Answer with a JSON body (taken; NULL: none, as for 204) and the
 * transaction's extra headers. */
static void
s_respond (pl_gwconn_t *conn, int status, char *body)
{
    pl_http_t *http = conn->http;
    pl_h1_extra_t extra = { NULL, NULL, false, NULL, NULL };
    if (http && http->allow[0])
        extra.allow = http->allow;
    if (http && http->retry_after[0])
        extra.retry_after = http->retry_after;
    if (http)
        http->waiting = false;
    pl_h1_respond (conn->h1, status, &extra, body ? body : "", body ? strlen (body) : 0);
    free (body);
}

/* An error response {"error":{code, message}} with an explicit status
 * (405, 411, 413 and 415 have no code of their own: VALIDATION_ERROR). */
static void
s_fail (pl_gwconn_t *conn, int status, pl_err_t err, const char *message)
{
    s_respond (conn, status, pl_rest_error_body (err, message));
}

/* Check "Authorization: Bearer <JWT>" as CONNECT checks its token. Sets
 * http->user. Returns 0, or -1 with *why. */
static int
s_auth (pl_gateway_t *gw, pl_h1_conn_t *h1, pl_http_t *http, const char **why)
{
    int rc = -1;
    pl_jwt_claims_t claims = { 0 };
    const char *header = pl_h1_header (h1, "authorization");
    *why = "missing token: send Authorization: Bearer <JWT>";
    if (!header)
        goto cleanup;
    *why = "token too long";
    if (strlen (header) > PL_JWT_MAX + 16)
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

/* The per-connection data of an HTTP connection: a pl_gwconn_t, so a REST
 * call is registered and answered as a socket request is. */
static pl_gwconn_t *
s_conn (pl_h1_conn_t *h1)
{
    pl_gwconn_t *conn = (pl_gwconn_t *) pl_h1_user (h1);
    if (!conn && (conn = calloc (1, sizeof *conn)) != NULL) {
        conn->h1 = h1;
        pl_h1_set_user (h1, conn);
    }
    return conn;
}

/* The head of a request under /api/: route, size, token, the user's rate
 * limit (429 with Retry-After), content type. A refusal here is answered
 * by pl_h1 once the body has been dropped. */
static void
s_rest_head (pl_gateway_t *gw, pl_gwconn_t *conn, pl_http_t *http, const pl_h1_req_t *req)
{
    const char *why = NULL;
    char message[160];
    int status = 0;
    int64_t wait;
    pl_err_t err = PL_ERR_VALIDATION_ERROR;
    bool body_method = !strcmp (req->method, "POST") || !strcmp (req->method, "PATCH")
                    || !strcmp (req->method, "PUT");
    http->rest = true;
    int match = pl_rest_match (req->method, req->path, &http->match);
    if (match == 404) {
        status = 404;
        err = PL_ERR_NOT_FOUND;
        snprintf (message, sizeof message, "no such path");
    }
    else
    if (match == 405) {
        status = 405;
        snprintf (http->allow, sizeof http->allow, "%s", http->match.allow);
        snprintf (message, sizeof message, "%s is not allowed here; allowed: %s", req->method,
                  http->match.allow);
    }
    else
    if (body_method && !req->body_coming && req->length < 0) {
        status = 411;
        snprintf (message, sizeof message, "Content-Length required");
    }
    else
    if (req->length > gw->max_payload) {
        status = 413;
        snprintf (message, sizeof message, "body over %ld bytes", gw->max_payload);
    }
    else
    if (s_auth (gw, conn->h1, http, &why) != 0) {
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
    if (req->body_coming) {
        const char *type = pl_h1_header (conn->h1, "content-type");
        if (!type || !pl_rest_is_json (type)) {
            status = 415;
            snprintf (message, sizeof message, "the body must be Content-Type: application/json");
        }
    }
    if (status)
        s_fail (conn, status, err, message);
}

/* Is path the Engine.IO path (PARLEY_PATH), with or without its last
 * slash, as socket.io-client and the reference server treat it? */
static bool
s_eio_path (pl_gateway_t *gw, const char *path)
{
    size_t len = strlen (gw->path) - 1;         /* without the last slash */
    return strncmp (path, gw->path, len) == 0
        && (path[len] == 0 || (path[len] == '/' && path[len + 1] == 0));
}

/* The CORS header lines of this request's answer (pl_cors): methods
 * non-NULL for a preflight. Whoever answers the request sends them. */
static void
s_cors (pl_gateway_t *gw, pl_h1_conn_t *h1, const char *methods)
{
    const char *origin = pl_h1_header (h1, "origin");
    const char *req_headers = methods ? pl_h1_header (h1, "access-control-request-headers") : NULL;
    char *lines = pl_cors_headers (gw->cors, origin, methods, req_headers);
    if (lines)
        pl_h1_add_headers (h1, lines);
    free (lines);
}

/* OPTIONS on a path served here: the methods it takes (for Allow and a
 * CORS preflight), or NULL (not a path we serve: 404 as any method). */
static const char *
s_options_methods (pl_gateway_t *gw, pl_http_t *http, const pl_h1_req_t *req, bool rest)
{
    if (s_eio_path (gw, req->path))
        return "GET, POST";
    if (strcmp (req->path, "/healthz") == 0 || strcmp (req->path, "/metrics") == 0)
        return "GET, HEAD";
    if (rest && pl_rest_match ("OPTIONS", req->path, &http->match) == 405)
        return http->match.allow;
    pl_hud_answer_t hud;
    if (gw->hud && pl_hud_answer (gw->hud, "OPTIONS", req->path, NULL, &hud))
        return hud.allow;
    return NULL;
}

/* GET /metrics?scope=local: the gateway's own metrics only. Any other
 * scope (or none) is the whole system's. */
static bool
s_scope_local (const pl_h1_req_t *req)
{
    bool local = false;
    for (size_t i = 0; i < req->nquery; i++)
        if (strncmp (req->query[i], "scope=", 6) == 0)
            local = strcmp (req->query[i] + 6, "local") == 0;
    return local;
}

/* Every If-None-Match line of the request joined by ", " into out (a
 * list field: RFC 9110 §5.3, §13.1.2), or NULL when there is none (or
 * they do not fit: never, out being PL_H1_HEAD_MAX bytes). */
static const char *
s_if_none_match (pl_h1_conn_t *h1, char *out, size_t size)
{
    const char *result = NULL, *value = NULL;
    size_t used = 0;
    while ((value = pl_h1_header_next (h1, "if-none-match", value)) != NULL) {
        int n = snprintf (out + used, size - used, "%s%s", result ? ", " : "", value);
        if (n < 0 || (size_t) n >= size - used) {
            result = NULL;
            goto cleanup;
        }
        used += (size_t) n;
        result = out;
    }
cleanup:
    return result;
}

/* A file of the HUD (pl_hud: PARLEY_HUD_DIR, served at /), after every
 * other route. False when path is not one: the usual 404. */
static bool
s_hud (pl_gateway_t *gw, pl_gwconn_t *conn, const pl_h1_req_t *req)
{
    pl_hud_answer_t hud;
    char inm[PL_H1_HEAD_MAX];
    bool served = gw->hud
               && pl_hud_answer (gw->hud, req->method, req->path,
                                 s_if_none_match (conn->h1, inm, sizeof inm), &hud);
    if (!served)
        goto cleanup;
    if (hud.status == 405) {
        snprintf (conn->http->allow, sizeof conn->http->allow, "%s", hud.allow);
        s_fail (conn, 405, PL_ERR_VALIDATION_ERROR, "GET or HEAD only");
        goto cleanup;
    }
    if (pl_h1_add_headers (conn->h1, hud.headers) != 0) {    /* ETag, nosniff, ..., CSP */
        /* never a file without its CSP and nosniff: 503, and the
         * connection closed (its memory back) */
        char *body = pl_rest_error_body (PL_ERR_SERVICE_UNAVAILABLE, "out of memory");
        pl_h1_extra_t fail = { NULL, NULL, true, NULL, NULL };
        pl_h1_respond (conn->h1, 503, &fail, body ? body : "", body ? strlen (body) : 0);
        free (body);
        goto cleanup;
    }
    gw->stats.hud_served++;
    pl_h1_extra_t extra = { NULL, NULL, false, hud.content_type, "no-cache" };
    if (hud.body)
        pl_h1_respond_shared (conn->h1, hud.status, &extra, hud.body);
    else
        pl_h1_respond (conn->h1, hud.status, &extra, NULL, 0);
cleanup:
    return served;
}

void
pl_http_head (pl_gateway_t *gw, pl_h1_conn_t *h1, const pl_h1_req_t *req)
{
    int status = 404;
    char *body = NULL;
    pl_gwconn_t *conn = s_conn (h1);
    if (conn)
        pl_http_destroy (&conn->http);      /* the last request's */
    if (!conn || !(conn->http = calloc (1, sizeof *conn->http))) {
        pl_h1_extra_t extra = { NULL, NULL, true, NULL, NULL };
        pl_h1_respond (h1, 500, &extra, NULL, 0);
        return;
    }
    bool rest = strncmp (req->path, PL_REST_PREFIX, strlen (PL_REST_PREFIX)) == 0
             || strcmp (req->path, "/api") == 0;
    const char *methods = NULL;
    if (strcmp (req->method, "OPTIONS") == 0
    &&  (methods = s_options_methods (gw, conn->http, req, rest)) != NULL) {
        /* a CORS preflight (no token: browsers send none), or a plain
         * OPTIONS: 204 with Allow either way */
        s_cors (gw, h1, methods);
        snprintf (conn->http->allow, sizeof conn->http->allow, "%s", methods);
        s_respond (conn, 204, NULL);
        return;
    }
    s_cors (gw, h1, NULL);
    if (rest) {
        s_rest_head (gw, conn, conn->http, req);
        return;
    }
    if (strcmp (req->path, "/healthz") == 0) {
        if (!strcmp (req->method, "GET") || req->head)
            body = pl_gateway_health (gw, &status);
        else {
            status = 405;
            snprintf (conn->http->allow, sizeof conn->http->allow, "GET, HEAD");
            body = pl_proto_reply_err (PL_ERR_VALIDATION_ERROR, "GET only");
        }
    }
    else
    if (strcmp (req->path, "/metrics") == 0) {
        if (!strcmp (req->method, "GET") || req->head) {
            /* answered now (scope=local) or held for the broker's METRICS */
            conn->http->metrics = true;
            pl_gateway__metrics_request (gw, conn, s_scope_local (req));
            return;
        }
        status = 405;
        snprintf (conn->http->allow, sizeof conn->http->allow, "GET, HEAD");
        body = pl_proto_reply_err (PL_ERR_VALIDATION_ERROR, "GET only");
    }
    else
    if (s_eio_path (gw, req->path)) {
        /* Engine.IO's HTTP long-polling (and its refusals) */
        pl_gateway__poll_head (gw, conn, req);
        return;
    }
    else
    if (s_hud (gw, conn, req))
        return;
    else
        body = pl_proto_reply_err (PL_ERR_NOT_FOUND, "no such path");
    s_respond (conn, status, body);
}

void
pl_http_request (pl_gateway_t *gw, pl_h1_conn_t *h1, const pl_h1_req_t *req)
{
    pl_gwconn_t *conn = s_conn (h1);
    pl_http_t *http = conn ? conn->http : NULL;
    char *arg = NULL;
    const char *why = NULL;
    assert (http);
    if (http->metrics)
        goto cleanup;                       /* answered or held at its head */
    if (!http->rest) {                      /* anything else was answered at its head */
        pl_gateway__poll_request (gw, conn, req);
        goto cleanup;
    }
    if (pl_rest_build_arg (&http->match, req->query, req->nquery,
                           req->body, req->body_len, &arg, &why) != 0) {
        s_fail (conn, 400, PL_ERR_VALIDATION_ERROR, why);
        goto cleanup;
    }
    const char *name = http->user + strlen (http->user) + 1;
    pl_event_id_t ev = pl_routes_get (http->match.route)->event;
    if (pl_gateway__rest_request (gw, conn, ev, http->user, name, arg,
                                  arg ? strlen (arg) : 0, &why) != PL_ERR_NONE) {
        s_fail (conn, 503, PL_ERR_SERVICE_UNAVAILABLE, why);
        goto cleanup;
    }
    http->waiting = true;               /* the gateway's own timer answers 504 */
cleanup:
    free (arg);
}

/* The broker answered (pl_gateway_req.c, gateway loop). */
void
pl_http_on_reply (pl_gateway_t *gw, pl_gwconn_t *conn, const char *reply, size_t len)
{
    pl_http_t *http = conn->http;
    if (!http || !http->waiting)
        return;
    pl_gateway__conn_unregister (gw, conn);     /* nothing else may answer it */
    int status = 500;
    char *body = pl_rest_response (http->match.route, reply, len, &status);
    s_respond (conn, status, body);     /* may free conn (a dead peer) */
}

/* pl_h1 callback, gateway loop: the connection is going. */
void
pl_http_closed (pl_gateway_t *gw, pl_h1_conn_t *h1)
{
    pl_gwconn_t *conn = (pl_gwconn_t *) pl_h1_user (h1);
    if (conn) {
        pl_gateway__poll_http_closed (gw, conn);    /* a held GET cancelled */
        pl_gateway__metrics_http_closed (gw, conn); /* a held scrape */
        pl_gateway__conn_unregister (gw, conn);     /* a late reply finds nobody */
        pl_http_destroy (&conn->http);
        free (conn);
        pl_h1_set_user (h1, NULL);
    }
}

/* One query argument of an upgrade: the last EIO= and transport= win. */
static void
s_upgrade_arg (const char *arg, bool *eio, bool *websocket)
{
    if (strncmp (arg, "EIO=", 4) == 0)
        *eio = strcmp (arg + 4, "4") == 0;
    else
    if (strncmp (arg, "transport=", 10) == 0)
        *websocket = strcmp (arg + 10, "websocket") == 0;
}

/* Only <PARLEY_PATH>?EIO=4&transport=websocket may upgrade, and with sid=
 * only for a session this gateway knows (else it is served as a plain
 * request: 400 "Session ID unknown"); one that may no longer upgrade (it is
 * upgrading, or it did) is opened and closed at once, as engine.io does. The other query arguments
 * (socket.io-client's `query` option puts an app's own ones first) may be
 * of any length the head allows and in any order. */
bool
pl_http_upgrade (pl_gateway_t *gw, const pl_h1_req_t *req)
{
    bool eio = false, websocket = false;
    const char *sid = NULL;
    if (!s_eio_path (gw, req->path))
        return false;
    for (size_t i = 0; i < req->nquery; i++) {
        s_upgrade_arg (req->query[i], &eio, &websocket);
        if (strncmp (req->query[i], "sid=", 4) == 0)
            sid = req->query[i] + 4;
    }
    if (sid && !pl_gateway__poll_known (gw, sid))
        return false;
    return eio && websocket;
}

/* The sid= of the upgrade head lws parsed again (the last one, as pl_h1's
 * check takes it). False when there is none; one too long for sid (size)
 * is copied as "" (no session has it). */
bool
pl_http_upgrade_sid (pl_gateway_t *gw, struct lws *wsi, char *sid, size_t size)
{
    (void) gw;
    char arg[PL_GW_SID_MAX + 8];
    bool found = false;
    for (int i = 0; ; i++) {
        if (lws_hdr_copy_fragment (wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
            if (lws_hdr_fragment_length (wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0)
                continue;                   /* longer than any sid */
            break;
        }
        if (strncmp (arg, "sid=", 4) == 0) {
            found = true;
            snprintf (sid, size, "%s", strlen (arg + 4) < size ? arg + 4 : "");
        }
    }
    return found;
}

/* The same check on the head lws parses again after the hand-off
 * (LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION): arguments are compared by
 * name, never copied into a small fixed buffer whole (a 32-byte one before
 * EIO used to make lws_get_urlarg_by_name fail). */
bool
pl_http_upgrade_allowed (pl_gateway_t *gw, struct lws *wsi)
{
    char uri[PL_CONFIG_PATH_MAX + 2], arg[32];
    bool eio = false, websocket = false;
    if (lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || !s_eio_path (gw, uri))
        return false;
    for (int i = 0; ; i++) {
        if (lws_hdr_copy_fragment (wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
            if (lws_hdr_fragment_length (wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0)
                continue;                   /* longer than any we look for */
            break;                          /* no more arguments */
        }
        s_upgrade_arg (arg, &eio, &websocket);
    }
    return eio && websocket;
}

void
pl_http_destroy (pl_http_t **http_p)
{
    assert (http_p);
    pl_http_t *http = *http_p;
    if (http) {
        free (http->user);
        free (http);
        *http_p = NULL;
    }
}
