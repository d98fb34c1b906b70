/*  pl_replay - connection-state recovery in the broker (proto/README.md,
 *  "Recovery"): the log of recently forwarded bus messages, the sessions
 *  of Socket.IO clients whose transport closed, and the gateways'
 *  recovery requests.
 *
 *  The event proxy is the one place every event and room control passes,
 *  in one order, so it stamps each with an offset (pl_replay_record) and
 *  the log keeps it, bounded by age (max_ms) and bytes (max_bytes). An
 *  offset is "<broker boot ms, 12 hex>-<sequence, 12 hex>": fixed width,
 *  so offsets of one broker compare as strings, and one of another boot
 *  is simply unknown here (not recovered).
 *
 *  Sessions: a gateway says SESS open at CONNECT, SESS saved with the
 *  connection's rooms when its transport closes, SESS end when the client
 *  left on purpose. A RECOVER (pid, sub, offset) claims a saved session
 *  (waiting for the save of one that is open, at most wait_ms) and is
 *  answered with the rooms to join: the saved rooms with the controls
 *  logged since applied. The gateway joins them, subscribes to a nonce
 *  topic, and sends REPLAY nonce; once the proxy's XPUB has read that
 *  subscription (pl_replay_subscription), the room subscriptions before it
 *  are applied, and the answer is every logged message after the offset
 *  in those rooms, then the last offset H forwarded so far.
 *
 *      pl_replay_opts_t opts = { .max_ms = 120000, .max_bytes = 64 << 20,
 *                                .wait_ms = 20000, .send = s_send, .arg = broker };
 *      pl_replay_t *replay = pl_replay_new (&opts);
 *      pl_replay_record (replay, now, ...);           // proxy, per message
 *      pl_replay_subscription (replay, data, size);   // proxy, XPUB input
 *      pl_replay_message (replay, msg, now);          // broker frontend
 *      pl_replay_expire (replay, now);                // timer
 *      pl_replay_destroy (&replay);
 *
 *  Everything runs on the broker's loop; nothing here blocks or polls.
 */
#ifndef PL_REPLAY_H
#define PL_REPLAY_H

#include "pl_wire.h"
#include "pl_zmsg.h"

#include <czmq.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_REPLAY_OFFSET_LEN   25       /* "xxxxxxxxxxxx-xxxxxxxxxxxx"             */
#define PL_REPLAY_PID_MAX      PL_WIRE_PID_MAX  /* bytes of a pid: [A-Za-z0-9_-]     */
#define PL_REPLAY_NONCE_MAX    160      /* bytes of a recovery nonce               */
#define PL_REPLAY_ROOMS_MAX    64       /* rooms of one session                    */
#define PL_REPLAY_SESSIONS_MAX 1000000  /* sessions kept, open or saved            */
#define PL_REPLAY_WAITERS_MAX  10000    /* recoveries waiting at once              */
#define PL_REPLAY_EVENTS_MAX   10000    /* messages one recovery may replay        */
#define PL_REPLAY_NONCE_PREFIX "~recover/"  /* nonce topics; no room starts so     */

/* Send parts as one message on the broker frontend (parts[0] is the
 * gateway's identity). Runs on the broker's loop. */
typedef void (pl_replay_send_fn) (void *arg, const pl_zmsg_part_t *parts, int count);

typedef struct {
    int64_t max_ms;             /* keep messages and saved sessions this long */
    size_t max_bytes;           /* ... and at most this many bytes of messages */
    int64_t wait_ms;            /* a claim waits this long for an open session's save */
    int64_t boot_ms;            /* 0: the wall clock now (ms)                 */
    int64_t stale_ms;           /* a gateway not heard from (STATUS, SESS...)
                                   this long is gone: its open sessions are
                                   dropped (0: 3 * wait_ms)                   */
    pl_replay_send_fn *send;    /* answers to gateways                        */
    void *arg;                  /* for send                                   */
} pl_replay_opts_t;

typedef struct _pl_replay_t pl_replay_t;

pl_replay_t *pl_replay_new (const pl_replay_opts_t *opts);
void pl_replay_destroy (pl_replay_t **self_p);

/* Log a message the proxy forwards (control: a CTL, else an EV) and write
 * its offset (PL_REPLAY_OFFSET_LEN + NUL) into offset. The topic is the
 * room without its NUL; except may be NULL. A message too large for the
 * log empties it (its offset is still given: a later claim of an older
 * offset then fails). */
void pl_replay_record (pl_replay_t *self, int64_t now, bool control,
                       const char *topic, size_t topic_len,
                       const char *origin, size_t origin_len,
                       const char *packet, size_t packet_len,
                       const char *except, size_t except_len,
                       char offset[PL_REPLAY_OFFSET_LEN + 1]);

/* The XPUB read a (un)subscription (data: 1 or 0, then the topic). */
void pl_replay_subscription (pl_replay_t *self, const void *data, size_t size);

/* A SESS, RECOVER or REPLAY message from the frontend ROUTER (frame 0 the
 * gateway's identity, 1 PL01, 2 the command). Malformed ones are dropped
 * with a warning. A STATUS (which every gateway sends each heartbeat) only
 * says its gateway is alive: the sessions a gateway opened are dropped
 * once it has not been heard from for stale_ms (a SIGKILLed gateway saves
 * none of them). */
void pl_replay_message (pl_replay_t *self, pl_zmsg_t *msg, int64_t now);

/* Drop what is older than max_ms; answer claims that waited wait_ms. */
void pl_replay_expire (pl_replay_t *self, int64_t now);

/* Run pl_replay_expire every second on loop while anything can expire
 * (messages logged, sessions saved or claimed, claims waiting), and not
 * at all otherwise: an idle broker stays asleep. Detach before destroying
 * the loop (pl_replay_destroy detaches). Returns 0 or -1. */
int pl_replay_attach (pl_replay_t *self, zloop_t *loop);
void pl_replay_detach (pl_replay_t *self);

/* Counts, for tests and logs. */
size_t pl_replay_messages (pl_replay_t *self);
size_t pl_replay_bytes (pl_replay_t *self);
size_t pl_replay_sessions (pl_replay_t *self);

void pl_replay_test (bool verbose);

#endif
