/*  actors - the actors service's handlers (proto/events.def, "actors").
 *  main.c hands them to pl_worker_main; a test may link them directly. */
#ifndef PL_ACTORS_H
#define PL_ACTORS_H

#include "pl_entity.h"
#include "pl_worker.h"

extern const pl_handler_t pl_actors_handlers[];
extern const size_t pl_actors_handler_count;

#endif
