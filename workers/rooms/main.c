/*  parley-rooms - the rooms worker process: subscriptions and presence. */
#include "rooms.h"

int
main (void)
{
    return pl_worker_main_tick ("rooms", pl_rooms_handlers, pl_rooms_handler_count,
                                pl_rooms_tick, PL_ROOMS_TICK_MS);
}
