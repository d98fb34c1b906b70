/*  parley-proto-doc - print the event and error tables of proto/README.md
 *  from proto/events.def and proto/errors.def, so the docs cannot drift
 *  from the code. `parley-proto-doc` prints the generated section;
 *  `--dts`, `--asyncapi` and `--openapi` print clients/js/parley-events.d.ts,
 *  docs/asyncapi.yaml and docs/openapi.yaml (proto/proto_api.c).
 */
#include "proto_api.h"
#include "pl_proto.h"
#include "pl_routes.h"

#include <stdio.h>
#include <string.h>

/* The argument a route builds, in words, from its arg kind, the `{names}`
 * of its pattern and its query parameters. */
static void
s_route_arg (const pl_route_info_t *route, char *out, size_t size)
{
    char names[256] = "";
    size_t used = 0;
    for (const char *p = route->pattern; (p = strchr (p, '{')); p++) {
        const char *end = strchr (p, '}');
        used += (size_t) snprintf (names + used, sizeof names - used, "%s%.*s",
                                   used ? ", " : "", (int) (end - p - 1), p + 1);
    }
    char query[128];
    snprintf (query, sizeof query, "%s", route->query);
    for (char *q = strtok (query, " "); q; q = strtok (NULL, " ")) {
        char *colon = strchr (q, ':');
        used += (size_t) snprintf (names + used, sizeof names - used, "%s%.*s?",
                                   used ? ", " : "",
                                   (int) (colon ? (size_t) (colon - q) : strlen (q)), q);
    }
    switch (route->arg) {
        case PL_RARG_NONE:   snprintf (out, size, "none"); break;
        case PL_RARG_ID:     snprintf (out, size, "`%s` (string)", names); break;
        case PL_RARG_PARAMS: snprintf (out, size, "`{%s}`", names); break;
        case PL_RARG_BODY:   snprintf (out, size, "the JSON body"); break;
        case PL_RARG_BODY_PARAMS: snprintf (out, size, "`{...body, %s}`", names); break;
    }
}

int
main (int argc, char **argv)
{
    if (argc == 2 && strcmp (argv[1], "--services") == 0) {
        /* one service per line: scripts start a worker for each */
        const char *const *services;
        size_t count = pl_proto_services (&services);
        for (size_t i = 0; i < count; i++)
            printf ("%s\n", services[i]);
        return 0;
    }
    if (argc == 2 && (strcmp (argv[1], "--dts") == 0 || strcmp (argv[1], "--asyncapi") == 0
                      || strcmp (argv[1], "--openapi") == 0)) {
        if (proto_api_check () != 0)
            return 1;
        if (strcmp (argv[1], "--dts") == 0)
            proto_api_dts (stdout);
        else if (strcmp (argv[1], "--asyncapi") == 0)
            proto_api_asyncapi (stdout);
        else
            proto_api_openapi (stdout);
        return 0;
    }
    printf ("### Client events\n\n");
    printf ("| event | service | ack | argument | ack data | what it does |\n");
    printf ("|---|---|---|---|---|---|\n");
    for (int i = 0; i < PL_EV_COUNT; i++) {
        const pl_event_info_t *ev = pl_proto_event ((pl_event_id_t) i);
        if (ev->flags & PL_INTERNAL)
            continue;                   /* gateway-to-service only */
        printf ("| `%s` | %s | %s | %s | %s | %s |\n", ev->name, ev->service,
                (ev->flags & PL_ACK) ? "yes" : "no", ev->arg, ev->data, ev->doc);
    }
    printf ("\n### Server pushes\n\n");
    printf ("| event | room | payload | when |\n|---|---|---|---|\n");
    for (int i = 0; i < PL_PUSH_COUNT; i++) {
        const pl_push_info_t *push = pl_proto_push ((pl_push_id_t) i);
        printf ("| `%s` | `%s` | %s | %s |\n", push->name, push->room,
                push->payload, push->doc);
    }
    printf ("\n### REST routes\n\n");
    printf ("| method | path | event | argument | success |\n|---|---|---|---|---|\n");
    for (int i = 0; i < PL_ROUTE_COUNT; i++) {
        const pl_route_info_t *route = pl_routes_get ((pl_route_id_t) i);
        char query[160] = "", arg[300], names[128];
        size_t used = 0;
        snprintf (names, sizeof names, "%s", route->query);
        for (char *q = strtok (names, " "); q; q = strtok (NULL, " ")) {
            char *colon = strchr (q, ':');
            if (colon)
                *colon = 0;
            used += (size_t) snprintf (query + used, sizeof query - used, "%c%s=<%s>",
                                       used ? '&' : '?', q, colon ? "n" : "id");
        }
        s_route_arg (route, arg, sizeof arg);
        printf ("| %s | `%s%s` | `%s` | %s | %d |\n", route->method, route->pattern, query,
                pl_proto_event (route->event)->name, arg, route->status);
    }
    printf ("\n### Error codes\n\n");
    printf ("| code | HTTP status | meaning |\n|---|---|---|\n");
    for (int i = 1; i < PL_ERR_COUNT; i++)
        printf ("| `%s` | %d | %s |\n", pl_proto_err_code ((pl_err_t) i),
                pl_proto_err_http ((pl_err_t) i), pl_proto_err_doc ((pl_err_t) i));
    return 0;
}
