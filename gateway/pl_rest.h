/*  pl_rest - the REST API's pure parts (proto/README.md, REST): route
 *  matching over proto/routes.def, building the event argument from path,
 *  query and body, and mapping an ack to an HTTP status and body. No lws
 *  and no I/O here: pl_http drives a transaction and calls these, so they
 *  are tested alone.
 *
 *  Paths and query values arrive percent-decoded: lws decodes %xx in the
 *  request line before the gateway sees it (so GET
 *  /api/v1/rooms/campaign%3Ac1/presence captures "campaign:c1"). Decoding
 *  again here would turn a literal "%2541" (text "%41") into "A", so this
 *  module takes decoded text and never decodes.
 */
#ifndef PL_REST_H
#define PL_REST_H

#include "pl_proto.h"
#include "pl_routes.h"

#include <stdbool.h>
#include <stddef.h>

#define PL_REST_PREFIX    "/api/"   /* paths under it are the REST API's   */
#define PL_REST_PATH_MAX  1024      /* longer paths are 404                */
#define PL_REST_PARAMS    4         /* {captures} per pattern, at most     */

typedef struct {
    pl_route_id_t route;                /* the route matched                 */
    int nparams;                        /* captured segments                 */
    const char *names[PL_REST_PARAMS];  /* their names, into the pattern     */
    size_t name_lens[PL_REST_PARAMS];   /* (not NUL-terminated there)        */
    char *values[PL_REST_PARAMS];       /* their values, into buf            */
    char allow[48];                     /* 405: the methods the path takes   */
    char buf[PL_REST_PATH_MAX];         /* a copy of the path, split         */
} pl_rest_match_t;

/* Match method + path (decoded, without the query). Returns 0 with *m
 * filled, 404 for no such path, or 405 when the path exists for other
 * methods (m->allow lists them, e.g. "GET, POST"). */
int pl_rest_match (const char *method, const char *path, pl_rest_match_t *m);

/* Build the argument of m's event from its captures, the query arguments
 * ("name=value" strings, nquery of them) and the body (body_len bytes of
 * JSON text, or none when body_len is 0). Returns 0 and *arg (JSON text,
 * caller frees; NULL when the event takes no argument), or -1 with *why
 * set (a 400: bad JSON, not an object, missing body, bad query value;
 * *why is static or per-thread, valid until the next call on the thread). */
int pl_rest_build_arg (const pl_rest_match_t *m, const char *const *query, size_t nquery,
                       const char *body, size_t body_len, char **arg, const char **why);

/* Map the service's ack (JSON text) for route to the HTTP response.
 * Success: the route's status and the ack's data (without data, the ack's
 * other members, e.g. {"newVersion"}); a 204 has no body (NULL). Failure:
 * {"error":{code, message, ...}} with the code's status (errors.def). An
 * ack that is not {success: bool, ...} is a 500 INTERNAL. Returns the body
 * (caller frees) and *status. */
char *pl_rest_response (pl_route_id_t route, const char *reply, size_t reply_len,
                        int *status);

/* {"error":{"code","message"}} for an error the gateway found itself.
 * Caller frees. */
char *pl_rest_error_body (pl_err_t err, const char *message);

/* True when a Content-Type is JSON: application/json, any case, with or
 * without parameters ("; charset=utf-8"). */
bool pl_rest_is_json (const char *content_type);

void pl_rest_test (bool verbose);

#endif
