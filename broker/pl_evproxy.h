/*  pl_evproxy - the event bus proxy (proto/README.md, "Event bus").
 *
 *  Workers PUB change events into the XSUB; gateways SUB from the XPUB.
 *  The XPUB filters: a gateway receives only the rooms it subscribed to
 *  (pl_evproxy.c says why subscriptions stop there). The proxy runs on a
 *  zloop, in the broker's process the broker's own:
 *
 *      pl_evproxy_opts_t opts = { .xsub = "ipc://.../events-in.ipc",
 *                                 .xpub = "ipc://.../events-out.ipc" };
 *      pl_evproxy_t *proxy = pl_evproxy_new (&opts);   // bound
 *      pl_evproxy_attach (proxy, loop);                // forwarding
 *      zloop_start (loop);
 *      pl_evproxy_destroy (&proxy);                    // detached, closed
 *
 *  Overload: delivery is at most once. When a gateway reads too slowly its
 *  XPUB pipe fills to the HWM and further events to it are dropped (the
 *  proxy never blocks on one slow gateway); when the proxy itself falls
 *  behind, the workers' PUB sockets drop at their HWM.
 */
#ifndef PL_EVPROXY_H
#define PL_EVPROXY_H

#include <czmq.h>
#include <stdbool.h>

#define PL_EVPROXY_HWM 100000   /* default SNDHWM/RCVHWM of both sockets */

typedef struct {
    const char *xsub;           /* endpoint workers' PUB connect to      */
    const char *xpub;           /* endpoint gateways' SUB connect to     */
    const char *xsub_name;      /* how bind errors name it; NULL "XSUB"  */
    const char *xpub_name;      /* how bind errors name it; NULL "XPUB"  */
    int hwm;                    /* 0: PL_EVPROXY_HWM                     */
    struct _pl_replay_t *replay;    /* recovery log (pl_replay.h): stamp
                                   every EV and CTL with an offset and log
                                   it; NULL: forward untouched            */
} pl_evproxy_opts_t;

typedef struct _pl_evproxy_t pl_evproxy_t;

/* Bind both sockets (on the calling thread, which then owns them).
 * Returns NULL, after logging why, when a bind fails. */
pl_evproxy_t *pl_evproxy_new (const pl_evproxy_opts_t *opts);

/* Detach and close the sockets. Safe to call twice. Destroy the proxy
 * before the loop it is attached to. */
void pl_evproxy_destroy (pl_evproxy_t **self_p);

/* Forward on loop (a proxy is attached to at most one). Returns 0 or -1. */
int pl_evproxy_attach (pl_evproxy_t *self, zloop_t *loop);

/* Stop forwarding (no-op when not attached). */
void pl_evproxy_detach (pl_evproxy_t *self);

void pl_evproxy_test (bool verbose);

#endif
