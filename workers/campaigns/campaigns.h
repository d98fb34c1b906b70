/*  campaigns - the campaigns service's handlers (proto/events.def, "campaigns").
 *  main.c hands them to the worker runtime; a test may link them directly. */
#ifndef PL_CAMPAIGNS_H
#define PL_CAMPAIGNS_H

#include "pl_worker.h"

extern const pl_handler_t pl_campaigns_handlers[];
extern const size_t pl_campaigns_handler_count;

#endif
