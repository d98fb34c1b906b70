/*  parley-campaigns - the campaigns worker process. */
#include "campaigns.h"

int
main (void)
{
    return pl_worker_main ("campaigns", pl_campaigns_handlers, pl_campaigns_handler_count);
}
