/*  pl_stopguard - SIGTERM and SIGINT stop the process even when its loop
 *  is stuck.
 *
 *  A process that stops on a signal by letting its event loop notice it
 *  (an ev_signal watcher, a signalfd in the poll set) stops only if the
 *  loop still turns. The gateway's did not once: lws 4.1.6's rxflow
 *  handling spun inside the loop, and SIGTERM was ignored for good, so the
 *  supervisor could stop it only with SIGKILL. The guard keeps the normal
 *  path (the loop sees the signal and shuts down cleanly) and bounds it:
 *
 *  - the first SIGTERM or SIGINT is passed to the loop through notify,
 *    and the loop then has grace_ms to return;
 *  - if it has not (pl_stopguard_destroy not called by then), the process
 *    writes "<process>: the loop did not stop within N ms of SIGTERM;
 *    exiting" to stderr and _exits with 128 + the signal's number (143 for
 *    SIGTERM, 130 for SIGINT: a shell's code for a process killed by that
 *    signal, so a supervisor counts it as killed, not as a clean stop);
 *  - a second SIGTERM or SIGINT while stopping exits the same way at once
 *    (so does any until destroy has returned; after it, the dispositions
 *    found by new are back: the gateway's is then SIG_DFL, as before).
 *
 *  Usage, around the loop (see pl_gateway_run):
 *      start the loop's own signal watchers (they install handlers);
 *      guard = pl_stopguard_new ("gateway", 5000, s_feed, NULL);
 *      ev_run (loop, 0);
 *      pl_stopguard_destroy (&guard);  // the deadline can no longer fire
 *      stop the loop's signal watchers;
 *  Everything after destroy (closing connections, ASan's leak check at
 *  exit) is never cut short by the deadline.
 *
 *  The grace only has to cover a healthy loop noticing the signal, which
 *  takes one iteration. Keep it under the supervisor's own kill timeout
 *  (the systemd units' TimeoutStopSec=10s, the e2e harness's 15 s), so a
 *  stuck process says why before a SIGKILL would end it silently.
 *
 *  How: sigaction handlers for SIGTERM and SIGINT replace whatever was
 *  installed (libev's own), and destroy puts those back. The deadline is a
 *  watchdog thread, not a timer signal: the handler only posts a semaphore
 *  (async-signal-safe), the thread waits for it and then for destroy with a
 *  monotonic timeout, and its exit path (write, _exit) takes no lock that
 *  the stuck thread could hold. Once destroy has returned the thread is
 *  joined, so a late deadline cannot fire, and no signal disposition is
 *  left behind for a timer signal already in flight. The thread blocks
 *  every signal (as libzmq's I/O threads do); the handler works on
 *  whichever thread takes the signal.
 *
 *  Processes whose stop signal is read from a signalfd with the signal
 *  blocked (the broker, the workers) cannot use this: a blocked signal runs
 *  no handler. Their loops are our own zmq_poll loops with the signalfd in
 *  the same poll set, so a loop that keeps polling always sees it.
 *
 *  One guard at a time per process (signal dispositions are per process).
 */
#ifndef PL_STOPGUARD_H
#define PL_STOPGUARD_H

#include <stdbool.h>

typedef struct _pl_stopguard_t pl_stopguard_t;

/* Called once, for the first SIGTERM or SIGINT, to make the loop stop.
 * Runs inside a signal handler, on whatever thread took the signal: it
 * must be async-signal-safe (libev's ev_feed_signal and ev_async_send are;
 * write(2) to a pipe is). */
typedef void (pl_stopguard_fn) (void *arg, int signum);

/* Install the guard: process names the stderr line, grace_ms (> 0) is how
 * long the loop has after the first signal. Returns NULL, with the
 * dispositions unchanged, when the thread or the handlers cannot be set
 * up. Asserts that no other guard is installed. */
pl_stopguard_t *pl_stopguard_new (const char *process, int grace_ms,
                                  pl_stopguard_fn *notify, void *arg);

/* The loop has returned: cancel the deadline, join the thread, and put
 * back the SIGTERM and SIGINT dispositions found by pl_stopguard_new.
 * Nulls *self_p; safe to call twice. */
void pl_stopguard_destroy (pl_stopguard_t **self_p);

void pl_stopguard_test (bool verbose);

#endif
