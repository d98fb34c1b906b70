/*  gamestate - the gamestate service's handlers (proto/events.def,
 *  "gamestate"). main.c hands them to pl_worker_main; a test may link them
 *  directly. */
#ifndef PL_GAMESTATE_H
#define PL_GAMESTATE_H

#include "pl_worker.h"

extern const pl_handler_t pl_gamestate_handlers[];
extern const size_t pl_gamestate_handler_count;

#endif
