/*  rooms - the rooms service's handlers (proto/events.def, "rooms").
 *  main.c hands them to the worker runtime; a test may link them directly. */
#ifndef PL_ROOMS_H
#define PL_ROOMS_H

#include "pl_worker.h"

extern const pl_handler_t pl_rooms_handlers[];
extern const size_t pl_rooms_handler_count;
/* The presence sweep (pl_presence_sweep), run every PL_ROOMS_TICK_MS. */
void pl_rooms_tick (pl_call_t *call);
#define PL_ROOMS_TICK_MS 1000

#endif
