/*  parley-items - the items worker process. */
#include "items.h"

int
main (void)
{
    return pl_worker_main ("items", pl_items_handlers, pl_items_handler_count);
}
