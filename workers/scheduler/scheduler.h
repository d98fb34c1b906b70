/*  scheduler - the scheduler service's handlers (proto/events.def,
 *  "scheduler") and its periodic task. main.c hands them to the worker
 *  runtime; a test may link them directly. */
#ifndef PL_SCHEDULER_H
#define PL_SCHEDULER_H

#include "pl_worker.h"

/* How long the periodic task sleeps at most (ms): see scheduler.c. */
#define PL_SCHEDULER_CAP_MS 1000

extern const pl_handler_t pl_scheduler_handlers[];
extern const size_t pl_scheduler_handler_count;

/* The periodic task: acknowledge what this process fired, fire what is
 * due, tick timers, sleep till the next. Runs on the worker loop, as a
 * coroutine beside the handlers (pl_worker_main_tick). */
void pl_scheduler_tick (pl_call_t *call);

/* timer.c: handlers, run on the worker loop */
void pl_scheduler_timer_start (pl_call_t *call, const cJSON *arg);
void pl_scheduler_timer_cancel (pl_call_t *call, const cJSON *arg);

#endif
