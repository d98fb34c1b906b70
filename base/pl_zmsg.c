/*  pl_zmsg - bounded multipart ZeroMQ messages. */
#include "pl_zmsg.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void
pl_zmsg_close (pl_zmsg_t *msg)
{
    for (int i = 0; i < msg->count; i++)
        zmq_msg_close (&msg->frame[i]);
    msg->count = 0;
}

int
pl_zmsg_recv_wide (void *sock, pl_zmsg_t *msg, zmq_msg_t *tail, int tail_cap, int *tail_count)
{
    int ntail = 0;
    msg->count = 0;
    msg->oversize = false;
    zmq_msg_t spare;
    zmq_msg_init (&spare);
    while (true) {
        zmq_msg_t *part = msg->count < PL_ZMSG_FRAMES ? &msg->frame[msg->count]
                        : ntail < tail_cap ? &tail[ntail] : &spare;
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
        if (msg->count < PL_ZMSG_FRAMES)
            msg->count++;
        else
            ntail++;
        if (!more)
            break;
    }
    zmq_msg_close (&spare);
    if (tail_count)
        *tail_count = ntail;
    return msg->count > 0 ? 0 : -1;
}

int
pl_zmsg_recv (void *sock, pl_zmsg_t *msg)
{
    return pl_zmsg_recv_wide (sock, msg, NULL, 0, NULL);
}

bool
pl_zmsg_is (pl_zmsg_t *msg, int index, const char *text)
{
    if (index < 0 || index >= msg->count)
        return false;
    size_t len = strlen (text);
    return zmq_msg_size (&msg->frame[index]) == len
        && memcmp (zmq_msg_data (&msg->frame[index]), text, len) == 0;
}

const void *
pl_zmsg_data (pl_zmsg_t *msg, int index, size_t *size)
{
    if (index < 0 || index >= msg->count) {
        *size = 0;
        return NULL;
    }
    *size = zmq_msg_size (&msg->frame[index]);
    return zmq_msg_data (&msg->frame[index]);
}

int
pl_zmsg_send (void *sock, const pl_zmsg_part_t *parts, int count)
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

void
pl_zmsg_test (bool verbose)
{
    if (verbose)
        printf (" * pl_zmsg: ");
    void *ctx = zmq_ctx_new ();
    void *a = zmq_socket (ctx, ZMQ_PAIR);
    void *b = zmq_socket (ctx, ZMQ_PAIR);
    assert (zmq_bind (a, "inproc://pl-zmsg-test") == 0);
    assert (zmq_connect (b, "inproc://pl-zmsg-test") == 0);
    pl_zmsg_t msg;
    assert (pl_zmsg_recv (b, &msg) == -1 && msg.count == 0);    /* nothing yet */

    pl_zmsg_part_t parts[3] = { { "PL01", 4 }, { "REP", 3 }, { "", 0 } };
    assert (pl_zmsg_send (a, parts, 3) == 0);
    assert (pl_zmsg_recv (b, &msg) == 0);
    assert (msg.count == 3 && !msg.oversize);
    assert (pl_zmsg_is (&msg, 0, "PL01") && pl_zmsg_is (&msg, 1, "REP"));
    assert (!pl_zmsg_is (&msg, 1, "RE") && !pl_zmsg_is (&msg, 3, "x"));
    size_t size = 99;
    assert (pl_zmsg_data (&msg, 2, &size) && size == 0);
    assert (pl_zmsg_data (&msg, 7, &size) == NULL && size == 0);
    pl_zmsg_close (&msg);

    /* too many frames: the rest are dropped, the next message is intact */
    pl_zmsg_part_t many[PL_ZMSG_FRAMES + 3];
    for (int i = 0; i < PL_ZMSG_FRAMES + 3; i++)
        many[i] = (pl_zmsg_part_t) { "f", 1 };
    assert (pl_zmsg_send (a, many, PL_ZMSG_FRAMES + 3) == 0);
    assert (pl_zmsg_send (a, parts, 2) == 0);
    assert (pl_zmsg_recv (b, &msg) == 0);
    assert (msg.count == PL_ZMSG_FRAMES && msg.oversize);
    pl_zmsg_close (&msg);
    assert (pl_zmsg_recv (b, &msg) == 0);
    assert (msg.count == 2 && !msg.oversize && pl_zmsg_is (&msg, 1, "REP"));
    pl_zmsg_close (&msg);
    /* wide: the 3 extra frames in the tail; 2 of them in a tail of 2 */
    zmq_msg_t tail[3];
    int ntail = -1;
    for (int cap = 3; cap >= 2; cap--) {
        assert (pl_zmsg_send (a, many, PL_ZMSG_FRAMES + 3) == 0);
        assert (pl_zmsg_recv_wide (b, &msg, tail, cap, &ntail) == 0);
        assert (msg.count == PL_ZMSG_FRAMES && ntail == cap && msg.oversize == (cap == 2));
        assert (zmq_msg_size (&tail[cap - 1]) == 1);
        for (int i = 0; i < ntail; i++)
            zmq_msg_close (&tail[i]);
        pl_zmsg_close (&msg);
    }
    assert (pl_zmsg_send (a, parts, 2) == 0);
    assert (pl_zmsg_recv_wide (b, &msg, tail, 3, &ntail) == 0 && msg.count == 2 && ntail == 0);
    pl_zmsg_close (&msg);

    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
    if (verbose)
        printf ("OK\n");
}
