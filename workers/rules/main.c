/*  parley-rules - the rules worker process: server-side dice (dice.c).
 *  A new handler is one row here and its file (rules.h declares them). */
#include "rules.h"

static const pl_handler_t s_handlers[] = {
    { PL_EV_ROLL, pl_rules_roll },                  /* dice.c */
};

int
main (void)
{
    return pl_worker_main ("rules", s_handlers, sizeof s_handlers / sizeof s_handlers[0]);
}
