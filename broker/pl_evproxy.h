/*  pl_evproxy - the event bus proxy (proto/README.md, "Event bus").
 *
 *  Workers PUB change events into the XSUB; gateways SUB from the XPUB.
 *  Subscriptions travel the other way (XPUB -> XSUB -> each worker's PUB),
 *  so publishers filter at the source and a gateway receives only the rooms
 *  it subscribed to. The proxy runs on its own thread:
 *
 *      pl_evproxy_opts_t opts = { .xsub = "ipc://.../events-in.ipc",
 *                                 .xpub = "ipc://.../events-out.ipc" };
 *      pl_evproxy_t *proxy = pl_evproxy_new (&opts);   // bound, running
 *      ...
 *      pl_evproxy_destroy (&proxy);                    // stopped, closed
 *
 *  Overload: delivery is at most once. When a gateway reads too slowly its
 *  XPUB pipe fills to the HWM and further events to it are dropped (the
 *  proxy never blocks on one slow gateway); when the proxy itself falls
 *  behind, the workers' PUB sockets drop at their HWM.
 */
#ifndef PL_EVPROXY_H
#define PL_EVPROXY_H

#include <stdbool.h>

#define PL_EVPROXY_HWM 100000   /* default SNDHWM/RCVHWM of both sockets */

typedef struct {
    const char *xsub;           /* endpoint workers' PUB connect to      */
    const char *xpub;           /* endpoint gateways' SUB connect to     */
    const char *xsub_name;      /* how bind errors name it; NULL "XSUB"  */
    const char *xpub_name;      /* how bind errors name it; NULL "XPUB"  */
    int hwm;                    /* 0: PL_EVPROXY_HWM                     */
} pl_evproxy_opts_t;

typedef struct _pl_evproxy_t pl_evproxy_t;

/* Bind both sockets and start forwarding on a new thread. Returns NULL,
 * after logging why, when a bind fails. */
pl_evproxy_t *pl_evproxy_new (const pl_evproxy_opts_t *opts);

/* Stop the thread and close the sockets. Safe to call twice. */
void pl_evproxy_destroy (pl_evproxy_t **self_p);

void pl_evproxy_test (bool verbose);

#endif
