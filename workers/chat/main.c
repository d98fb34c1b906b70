/*  parley-chat - the chat worker process. */
#include "chat.h"

int
main (void)
{
    return pl_worker_main ("chat", pl_chat_handlers, pl_chat_handler_count);
}
