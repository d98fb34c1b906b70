/*  pl_cors - cross-origin (CORS) answer headers for the gateway's plain
 *  HTTP side: HTTP long-polling on PARLEY_PATH, the REST API and /healthz.
 *  Pure (no I/O); called on the gateway loop.
 *
 *  PARLEY_CORS_ORIGINS is "*" (any origin), "none" (no CORS headers at
 *  all; "" too, though an empty variable means the default, "*"), or a
 *  comma-separated list of exact origins, "scheme://host[:port]"
 *  (what a browser sends in Origin: no path, no trailing slash, no user,
 *  no "null"), at most PL_CORS_ORIGINS_MAX of at most PL_CORS_ORIGIN_MAX
 *  bytes each. Origins compare case-insensitively (scheme and host are).
 *
 *  Parley never authenticates with a cookie (a bearer token in CONNECT or
 *  in Authorization), so credentials mode is never used and
 *  Access-Control-Allow-Credentials is never sent.
 *   - "*": every answer says Access-Control-Allow-Origin: *.
 *   - a list: an answer to a listed Origin echoes it; every answer says
 *     Vary: Origin; any other Origin gets no CORS header (the browser
 *     blocks it; the server serves the request as ever).
 *  A preflight answer adds Allow-Methods (the path's), Allow-Headers (the
 *  request's Access-Control-Request-Headers when it is a well-formed list
 *  of at most PL_CORS_REQ_HEADERS_MAX bytes, else PL_CORS_HEADERS_DEFAULT)
 *  and Max-Age (PL_CORS_MAX_AGE). Other answers expose Retry-After.
 */
#ifndef PL_CORS_H
#define PL_CORS_H

#include <stdbool.h>
#include <stddef.h>

#define PL_CORS_ORIGINS_MAX      32     /* origins in the list                 */
#define PL_CORS_ORIGIN_MAX       256    /* bytes per origin                    */
#define PL_CORS_REQ_HEADERS_MAX  512    /* Access-Control-Request-Headers echoed */
#define PL_CORS_MAX_AGE          600    /* seconds a preflight may be cached   */
#define PL_CORS_HEADERS_DEFAULT  "Authorization, Content-Type"

typedef struct _pl_cors_t pl_cors_t;

/* Parses PARLEY_CORS_ORIGINS. NULL on a bad value, with *why saying what
 * is wrong (a static string), or out of memory (*why says so). */
pl_cors_t *pl_cors_new (const char *setting, const char **why);
void pl_cors_destroy (pl_cors_t **self_p);

/* The CORS header lines ("Name: value\r\n" ...) of an answer to a request
 * with Origin origin (NULL: none). methods non-NULL makes it a preflight
 * answer (Allow-Methods: methods; req_headers: the request's
 * Access-Control-Request-Headers, or NULL). Returns a new string (the
 * caller frees it), or NULL when there are none (or out of memory). */
char *pl_cors_headers (pl_cors_t *self, const char *origin, const char *methods,
                       const char *req_headers);

void pl_cors_test (bool verbose);

#endif
