/*  chat - the chat service's handlers (proto/events.def, "chat").
 *  main.c hands them to the worker runtime; a test may link them directly. */
#ifndef PL_WORKER_CHAT_H
#define PL_WORKER_CHAT_H

#include "pl_worker.h"

extern const pl_handler_t pl_chat_handlers[];
extern const size_t pl_chat_handler_count;

#endif
