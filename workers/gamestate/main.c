/*  parley-gamestate - the gamestate worker process. */
#include "gamestate.h"

int
main (void)
{
    return pl_worker_main ("gamestate", pl_gamestate_handlers, pl_gamestate_handler_count);
}
