/*  parley-actors - the actors worker process. */
#include "actors.h"

int
main (void)
{
    return pl_worker_main ("actors", pl_actors_handlers, pl_actors_handler_count);
}
