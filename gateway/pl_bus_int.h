/*  pl_bus internals: the two sockets and the bus itself, shared by pl_bus.c
 *  (sockets, drain, requests) and pl_bus_dispatch.c (reading a received
 *  broker message and calling the gateway's handler for it). */
#ifndef PL_BUS_INT_H
#define PL_BUS_INT_H

#include "pl_bus.h"
#include "pl_zmsg.h"

#include <stdbool.h>
#include <zmq.h>

typedef struct {
    pl_bus_t *bus;                  /* owner                                   */
    void *zsock;                    /* DEALER or SUB                           */
    struct lws *wsi;                /* the adopted dup(ZMQ_FD)                 */
    lws_sorted_usec_list_t sul;     /* zero-delay "drain again" timer          */
    bool scheduled;                 /* sul is pending                          */
    bool is_sub;                    /* which handler set applies               */
} pl_bus__sock_t;

struct _pl_bus_t {
    void *zctx;                     /* ZeroMQ context (1 I/O thread)           */
    struct lws_context *lws;        /* the loop we live in                     */
    pl_bus__sock_t dealer;        /* broker frontend                         */
    pl_bus__sock_t sub;           /* event proxy                             */
    pl_bus_handlers_t handlers;     /* gateway callbacks                       */
    void *arg;                      /* for handlers                            */
    /* the DEALER's frames past PL_ZMSG_FRAMES (a METRICS answer) */
    zmq_msg_t tail[2 + 2 * PL_BUS_METRICS_MAX - PL_ZMSG_FRAMES];
};

/* One message of sock (not a METRICS answer): check its shape and call the
 * matching handler, or drop it with a warning. Runs on the lws loop. */
void pl_bus__dispatch (pl_bus__sock_t *sock, pl_zmsg_t *msg);
/* A METRICS answer: msg's frames, then ntail more in self->tail. Runs on
 * the lws loop. */
void pl_bus__dispatch_metrics (pl_bus_t *self, pl_zmsg_t *msg, int ntail);

#endif
