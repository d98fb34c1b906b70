/*  parley-proto-doc - print the event and error tables of proto/README.md
 *  from proto/events.def and proto/errors.def, so the docs cannot drift
 *  from the code. `parley-proto-doc` prints the generated section.
 */
#include "pl_proto.h"

#include <stdio.h>
#include <string.h>

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
    printf ("\n### Error codes\n\n");
    printf ("| code | HTTP status | meaning |\n|---|---|---|\n");
    for (int i = 1; i < PL_ERR_COUNT; i++)
        printf ("| `%s` | %d | %s |\n", pl_proto_err_code ((pl_err_t) i),
                pl_proto_err_http ((pl_err_t) i), pl_proto_err_doc ((pl_err_t) i));
    return 0;
}
