/*  pl_routes - the REST route table, generated from proto/routes.def. */
#include "pl_routes.h"

#include <assert.h>

static const pl_route_info_t s_routes[PL_ROUTE_COUNT] = {
#define PL_ROUTE(id, method, pattern, event, arg, query, status) \
    [PL_ROUTE_##id] = { method, pattern, PL_EV_##event, PL_RARG_##arg, query, status },
#include "routes.def"
};

const pl_route_info_t *
pl_routes_get (pl_route_id_t id)
{
    assert ((int) id >= 0 && id < PL_ROUTE_COUNT);
    return &s_routes[id];
}
