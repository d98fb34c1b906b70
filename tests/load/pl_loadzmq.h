/*  pl_loadzmq - the ZeroMQ side of parley-load (modes broker and worker):
 *  multipart send/receive without allocation, the request id that carries
 *  its own send time, and the echo worker used by the broker mode.
 *
 *  Frames are those of proto/README.md (envelope PL01).
 */
#ifndef PL_LOADZMQ_H
#define PL_LOADZMQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* Multipart messages: base/pl_zmsg.h. */
#include "pl_zmsg.h"

/* Request ids: 16 bytes, the client's sequence number and the send time
 * (CLOCK_MONOTONIC ns); the broker and the worker echo them unchanged
 * (proto/README.md, "request id ... echoed back unchanged"), so a reply
 * says its own latency and no table of requests in flight is needed. */
#define PL_LOADZMQ_RID 16
void pl_loadzmq_rid (uint8_t rid[PL_LOADZMQ_RID], uint64_t seq, int64_t sent);
/* The send time in a reply's request id, or -1 if it is not ours. */
int64_t pl_loadzmq_rid_sent (const void *rid, size_t size);

/* ---- echo worker (broker mode) ------------------------------------------ */

/* One echo worker: a thread with a DEALER on the broker backend that
 * registers `service` with `credit`, answers every REQ with a REP whose
 * reply is the request body, and keeps the heartbeat (proto/README.md,
 * Backend). It sends BYE and exits when stop_fd becomes readable. */
typedef struct {
    void *zctx;                     /* shared ZeroMQ context                */
    const char *endpoint;           /* broker backend                       */
    const char *service;
    int credit;
    int heartbeat_ms;
    int stop_fd;                    /* eventfd: readable = stop             */
    atomic_ullong served;           /* requests answered                    */
    atomic_ullong registrations;    /* READYs sent                          */
    atomic_int failed;              /* the socket could not be set up       */
} pl_loadzmq_echo_t;

void *pl_loadzmq_echo_thread (void *arg);

#endif
