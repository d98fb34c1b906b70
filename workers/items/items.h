/*  items - the items service's handlers (proto/events.def, "items").
 *  main.c hands them to pl_worker_main; a test may link them directly. */
#ifndef PL_ITEMS_H
#define PL_ITEMS_H

#include "pl_entity.h"
#include "pl_worker.h"

extern const pl_handler_t pl_items_handlers[];
extern const size_t pl_items_handler_count;

#endif
