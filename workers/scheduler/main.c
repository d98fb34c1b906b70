/*  parley-scheduler - the scheduler worker process. */
#include "scheduler.h"

int
main (void)
{
    return pl_worker_main_tick ("scheduler", pl_scheduler_handlers, pl_scheduler_handler_count,
                                pl_scheduler_tick, PL_SCHEDULER_CAP_MS);
}
