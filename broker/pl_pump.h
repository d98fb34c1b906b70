/*  pl_pump - serve a few ZeroMQ sockets from a zloop with as few system
 *  calls per wakeup as libzmq allows. Used by pl_broker (frontend and
 *  backend) and pl_evproxy (XSUB and XPUB), both on the broker's loop.
 *
 *  Why not zloop_reader: zloop polls a reader with zmq_poll, which asks
 *  every socket for ZMQ_EVENTS before and after it sleeps, and each ask
 *  that finds a socket idle costs a getpid and a poll: about 18 system
 *  calls per wakeup with four sockets on the loop, before a single message
 *  is read. A pump instead polls each socket's ZMQ_FD (a plain fd, one
 *  poll for all) and, when one fires, drains that socket, then the ones
 *  its drain sent on:
 *
 *      pl_pump_t *pump = pl_pump_new (256);
 *      pl_pump_add (pump, zsock_resolve (a), s_drain_a, self);     // socket bit 0x1
 *      pl_pump_add (pump, zsock_resolve (b), s_drain_b, self);     // socket bit 0x2
 *      pl_pump_attach (pump, loop);
 *      ...                                 // timers that send: pl_pump_run
 *      pl_pump_destroy (&pump);            // detaches; the sockets stay the caller's
 *
 *  The ZMQ_FD contract (zmq_getsockopt(3)): the fd only says "something
 *  changed"; it is reset when libzmq processes the socket's pending
 *  commands, which a receive that finds the socket empty does, and so does
 *  a send now and then (libzmq processes commands on send at most every
 *  ~1 ms). So a socket may hold messages while its fd is quiet: after a
 *  send on it, or after a drain stopped at its batch. Hence the two rules:
 *    - a run drains a socket again whenever a drain has sent on it since
 *      it was last found empty, until none is left: the last receive on
 *      each socket then came after the last send on it, and found it
 *      empty. (Each such look costs a getpid and a poll inside libzmq,
 *      so a drain reports the sockets it did send on, not those it
 *      might have.)
 *    - a socket that used up its batch (at most batch messages per socket
 *      per run, so one flooded socket cannot starve the others or the
 *      timers) gets a zero-delay one-shot timer that runs the pump again
 *      on the loop's next turn, after the timers and the other pollers.
 *  Whoever sends on a pump's socket outside a drain (a timer) must call
 *  pl_pump_run afterwards, for the first rule.
 *
 *  Idle means idle: with nothing to read, the loop sleeps in poll and no
 *  timer of the pump is armed.
 */
#ifndef PL_PUMP_H
#define PL_PUMP_H

#include <czmq.h>
#include <stdbool.h>

#define PL_PUMP_SOCKETS 2       /* sockets one pump serves, at most */

typedef struct _pl_pump_t pl_pump_t;

/* Read and handle at most budget (> 0) messages from sock without
 * blocking. Returns how many it read: fewer than budget only when sock
 * was found empty. Sets in *sent (0 on entry) the bit of every socket of
 * the pump it sent on, itself included: bit i for the i-th added. Runs on
 * the pump's loop. */
typedef int (pl_pump_drain_fn) (void *sock, int budget, void *arg, unsigned *sent);

/* A pump reading at most batch (> 0) messages per socket per run. NULL
 * when out of memory. */
pl_pump_t *pl_pump_new (int batch);

/* Detach and free. The sockets are not closed. Safe to call twice. */
void pl_pump_destroy (pl_pump_t **self_p);

/* Serve sock (a libzmq socket handle: zsock_resolve) with drain, before
 * attaching; it is socket bit 1 << (sockets added before it). Returns 0,
 * or -1 past PL_PUMP_SOCKETS or when its ZMQ_FD cannot be read. */
int pl_pump_add (pl_pump_t *self, void *sock, pl_pump_drain_fn *drain, void *arg);

/* Poll the sockets' fds on loop, and run once on the loop's first turn
 * (messages may be waiting already). Returns 0 or -1. */
int pl_pump_attach (pl_pump_t *self, zloop_t *loop);

/* Remove the pump from its loop (no-op when not attached). */
void pl_pump_detach (pl_pump_t *self);

/* Drain every socket now (see the rules above): after sending on them
 * from outside a drain. Runs on the pump's loop; not from within a drain
 * function. Works unattached too (then no timer: call it again). */
void pl_pump_run (pl_pump_t *self);

void pl_pump_test (bool verbose);

#endif
