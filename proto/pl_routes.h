/*  pl_routes - the REST route table (proto/routes.def), in C.
 *
 *  Used by the gateway's REST router (gateway/pl_rest.c) and by
 *  parley-proto-doc for the routes table of proto/README.md.
 */
#ifndef PL_ROUTES_H
#define PL_ROUTES_H

#include "pl_proto.h"

/* How a route builds its event's argument (routes.def, column arg). */
typedef enum {
    PL_RARG_NONE,           /* no argument                                   */
    PL_RARG_ID,             /* the one captured segment, as a JSON string    */
    PL_RARG_PARAMS,         /* {captured segments, query params}, or none    */
    PL_RARG_BODY,           /* the JSON object body                          */
    PL_RARG_BODY_PARAMS     /* the body with the captured segments set in it */
} pl_rarg_t;

typedef enum {
#define PL_ROUTE(id, method, pattern, event, arg, query, status) PL_ROUTE_##id,
#include "routes.def"
    PL_ROUTE_COUNT
} pl_route_id_t;

typedef struct {
    const char *method;     /* "GET", "POST", "PATCH", "DELETE"              */
    const char *pattern;    /* "/api/v1/actors/{id}"                         */
    pl_event_id_t event;    /* the events.def row it runs                    */
    pl_rarg_t arg;          /* how the argument is built                     */
    const char *query;      /* "campaignId actorId", "limit:int", or ""      */
    int status;             /* HTTP status of a success                      */
} pl_route_info_t;

/* Row by id; id must be < PL_ROUTE_COUNT (asserted). */
const pl_route_info_t *pl_routes_get (pl_route_id_t id);

#endif
