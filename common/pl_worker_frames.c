/*  pl_worker_frames - multipart message helpers for the worker runtime
 *  (pl_worker_int.h), kept apart so pl_worker.c is only the protocol. */
#include "pl_worker_int.h"

#include <string.h>

void
pl_worker__msg_close (pl_worker_msg_t *msg)
{
    for (int i = 0; i < msg->count; i++)
        zmq_msg_close (&msg->frame[i]);
    msg->count = 0;
}

int
pl_worker__recv (void *sock, pl_worker_msg_t *msg)
{
    msg->count = 0;
    msg->oversize = false;
    zmq_msg_t spare;
    zmq_msg_init (&spare);
    while (true) {
        zmq_msg_t *part = msg->count < PL_WORKER_FRAMES_MAX ? &msg->frame[msg->count] : &spare;
        if (part != &spare)
            zmq_msg_init (part);
        /* DONTWAIT throughout: the parts of a message arrive together */
        if (zmq_msg_recv (part, sock, ZMQ_DONTWAIT) == -1) {
            if (part != &spare)
                zmq_msg_close (part);
            break;
        }
        bool more = zmq_msg_more (part);
        if (part == &spare)
            msg->oversize = true;
        else
            msg->count++;
        if (!more)
            break;
    }
    zmq_msg_close (&spare);
    return msg->count > 0 ? 0 : -1;
}

bool
pl_worker__frame_is (pl_worker_msg_t *msg, int index, const char *text)
{
    if (index >= msg->count)
        return false;
    size_t len = strlen (text);
    return zmq_msg_size (&msg->frame[index]) == len
        && memcmp (zmq_msg_data (&msg->frame[index]), text, len) == 0;
}

int
pl_worker__send (void *sock, const pl_worker_part_t *parts, int count)
{
    for (int i = 0; i < count; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < count ? ZMQ_SNDMORE : 0);
        /* Only the first part can fail for HWM: once it is in, ZeroMQ
         * takes the whole message. */
        if (zmq_send (sock, parts[i].data, parts[i].size, flags) == -1)
            return -1;
    }
    return 0;
}
