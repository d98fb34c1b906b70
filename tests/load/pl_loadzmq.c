/*  pl_loadzmq - ZeroMQ helpers and the echo worker; see pl_loadzmq.h. */
#include "pl_loadzmq.h"
#include "pl_loadnet.h"
#include "pl_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void
pl_loadzmq_rid (uint8_t rid[PL_LOADZMQ_RID], uint64_t seq, int64_t sent)
{
    memcpy (rid, &seq, 8);
    memcpy (rid + 8, &sent, 8);
}

int64_t
pl_loadzmq_rid_sent (const void *rid, size_t size)
{
    int64_t sent;
    if (size != PL_LOADZMQ_RID)
        return -1;
    memcpy (&sent, (const uint8_t *) rid + 8, 8);
    return sent;
}

/* ---- echo worker ------------------------------------------------------------ */

static int
s_send_cmd (void *sock, const char *cmd, const pl_zmsg_part_t *extra, int nextra)
{
    pl_zmsg_part_t parts[6] = {
        { PL_PROTO_VERSION, 4 }, { cmd, strlen (cmd) }
    };
    for (int i = 0; i < nextra && i < 4; i++)
        parts[2 + i] = extra[i];
    return pl_zmsg_send (sock, parts, 2 + nextra);
}

static int
s_send_ready (pl_loadzmq_echo_t *e, void *sock)
{
    char credit[16];
    snprintf (credit, sizeof credit, "%d", e->credit);
    pl_zmsg_part_t extra[] = {
        { e->service, strlen (e->service) }, { credit, strlen (credit) }
    };
    atomic_fetch_add (&e->registrations, 1);
    return s_send_cmd (sock, PL_CMD_READY, extra, 2);
}

/* Thread body: one echo worker, its own poll loop. */
void *
pl_loadzmq_echo_thread (void *arg)
{
    pl_loadzmq_echo_t *e = arg;
    int hwm = 100000, linger = 0;
    void *sock = zmq_socket (e->zctx, ZMQ_DEALER);
    if (!sock
    ||  zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm)
    ||  zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm)
    ||  zmq_connect (sock, e->endpoint)
    ||  s_send_ready (e, sock)) {
        fprintf (stderr, "parley-load: echo worker: cannot connect to %s: %s\n",
                 e->endpoint, zmq_strerror (errno));
        atomic_store (&e->failed, 1);
        goto cleanup;
    }
    int64_t hb_ns = (int64_t) e->heartbeat_ms * 1000000;
    int64_t hb_at = pl_loadnet_now () + hb_ns;
    while (true) {
        int64_t now = pl_loadnet_now ();
        long wait = hb_at > now ? (long) ((hb_at - now + 999999) / 1000000) : 0;
        zmq_pollitem_t items[2] = {
            { sock, 0, ZMQ_POLLIN, 0 }, { NULL, e->stop_fd, ZMQ_POLLIN, 0 }
        };
        if (zmq_poll (items, 2, wait) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        pl_zmsg_t msg;
        while (pl_zmsg_recv (sock, &msg) == 0) {
            if (pl_zmsg_is (&msg, 0, PL_PROTO_VERSION) && pl_zmsg_is (&msg, 1, PL_CMD_REQ)
            &&  msg.count == 7 && !msg.oversize) {
                /* REQ: PL01 REQ client rid event ctx body -> REP client rid body */
                size_t n[3];
                const void *client = pl_zmsg_data (&msg, 2, &n[0]);
                const void *rid = pl_zmsg_data (&msg, 3, &n[1]);
                const void *body = pl_zmsg_data (&msg, 6, &n[2]);
                pl_zmsg_part_t extra[] = { { client, n[0] }, { rid, n[1] }, { body, n[2] } };
                if (s_send_cmd (sock, PL_CMD_REP, extra, 3) == 0) {
                    atomic_fetch_add_explicit (&e->served, 1, memory_order_relaxed);
                    hb_at = pl_loadnet_now () + hb_ns;
                }
            }
            else
            if (pl_zmsg_is (&msg, 0, PL_PROTO_VERSION) && pl_zmsg_is (&msg, 1, PL_CMD_DISCONNECT))
                s_send_ready (e, sock);     /* the broker forgot us: register again */
            pl_zmsg_close (&msg);
        }
        if (pl_loadnet_now () >= hb_at) {
            s_send_cmd (sock, PL_CMD_HEARTBEAT, NULL, 0);
            hb_at = pl_loadnet_now () + hb_ns;
        }
    }
    /* BYE so the broker forgets us now; a short linger lets it leave */
    linger = 200;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    s_send_cmd (sock, PL_CMD_DISCONNECT, NULL, 0);
cleanup:
    if (sock)
        zmq_close (sock);
    return NULL;
}
