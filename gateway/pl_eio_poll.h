/*  pl_eio_poll - one Engine.IO v4 HTTP long-polling session, without I/O.
 *
 *  The outbound queue, the payload codec (packets joined by the record
 *  separator 0x1e, binary ones as "b<base64>") and the pure parts of the
 *  session's state machine: one waiting GET, one POST at a time, the
 *  upgrade to WebSocket (probe -> upgrading -> upgraded), and the heartbeat
 *  deadlines as plain numbers (the caller owns the timer and the clock).
 *  Reference: engine.io-protocol/v4-current.md, "HTTP long-polling",
 *  "Heartbeat", "Upgrade", "Packet encoding".
 *
 *  Every size is bounded by pl_eio_poll_limits_t. Lengths are kept
 *  everywhere: a NUL in a packet is data, never an end. Not thread-safe:
 *  the gateway uses one session from its lws loop only (no callbacks here).
 *
 *  What the caller answers, from the return codes:
 *      PL_EIO_POLL_OK         200 ("ok" for a POST), or hold the GET
 *      PL_EIO_POLL_BAD        400, the session goes on
 *      PL_EIO_POLL_CLOSE      400, the session is now closed: answer a
 *                             waiting GET (pl_eio_poll_ready/take), then
 *                             forget the session
 *      PL_EIO_POLL_TOO_LARGE  413, the session goes on (as engine.io does
 *                             for a body over maxHttpBufferSize)
 */
#ifndef PL_EIO_POLL_H
#define PL_EIO_POLL_H

#include "pl_sio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_EIO_POLL_SEP 0x1e        /* record separator between packets */
#define PL_EIO_POLL_SIZE_MAX (1u << 30) /* largest max_response/max_payload */

typedef struct _pl_eio_poll_t pl_eio_poll_t;

typedef struct {
    size_t max_response;    /* bytes of one GET response body (>= 16)      */
    size_t max_queued;      /* encoded bytes queued; past it the session
                               closes ("send queue full")                  */
    size_t max_payload;     /* bytes of one POST body (maxPayload)         */
    size_t max_packets;     /* packets in one POST body (>= 1)             */
    int64_t ping_interval;  /* ms, pingInterval of the open packet         */
    int64_t ping_timeout;   /* ms, pingTimeout                             */
    bool sio;               /* check each text message of a POST with
                               pl_sio_parse (the gateway); false checks the
                               Engine.IO level only (type, UTF-8)          */
} pl_eio_poll_limits_t;

typedef enum {
    PL_EIO_POLL_OK = 0,
    PL_EIO_POLL_BAD,
    PL_EIO_POLL_CLOSE,
    PL_EIO_POLL_TOO_LARGE
} pl_eio_poll_rc_t;

typedef enum {
    PL_EIO_POLL_POLLING = 0,        /* GET/POST carry the session          */
    PL_EIO_POLL_UPGRADING,          /* "2probe" seen on a WebSocket        */
    PL_EIO_POLL_UPGRADED,           /* "5" seen: polling requests get 400  */
    PL_EIO_POLL_CLOSED
} pl_eio_poll_state_t;

/* One packet of a POST body. */
typedef struct {
    pl_eio_type_t type;     /* a binary packet is a PL_EIO_MESSAGE         */
    bool binary;            /* came as "b<base64>"                         */
    const char *data;       /* text: the packet without its type digit,
                               pointing into the body; binary: the decoded
                               bytes, owned by the session. Both valid
                               until the next pl_eio_poll_post/destroy.    */
    size_t len;
} pl_eio_poll_packet_t;

/* A session opened at now_ms (the open packet itself is the caller's: it
 * answers the handshake GET). NULL on OOM or absurd limits. */
pl_eio_poll_t *pl_eio_poll_new (const pl_eio_poll_limits_t *limits, int64_t now_ms);
void pl_eio_poll_destroy (pl_eio_poll_t **self_p);

pl_eio_poll_state_t pl_eio_poll_state (pl_eio_poll_t *self);
/* Why the session closed (static text), or NULL while it is not closed. */
const char *pl_eio_poll_why (pl_eio_poll_t *self);

/* Queue one text packet (type digit + len bytes) or one binary message.
 * OK; BAD when it is refused and nothing was queued (session closed or
 * upgraded, a text packet holding 0x1e, a packet whose encoding exceeds
 * max_response alone, OOM); CLOSE when it would take the queue past
 * max_queued: the session is closed instead. */
pl_eio_poll_rc_t pl_eio_poll_push (pl_eio_poll_t *self, pl_eio_type_t type,
                                   const char *data, size_t len);
pl_eio_poll_rc_t pl_eio_poll_push_binary (pl_eio_poll_t *self,
                                          const void *data, size_t len);
/* Encoded bytes (as they go on the wire, separators excluded) and packets
 * waiting in the queue. */
size_t pl_eio_poll_queued (pl_eio_poll_t *self);
size_t pl_eio_poll_count (pl_eio_poll_t *self);

/* A GET arrived. OK: it waits, answer it when pl_eio_poll_ready says so.
 * BAD: the session is closed or upgraded. CLOSE: a GET was waiting
 * already; the session closes and that first GET is answered "1". */
pl_eio_poll_rc_t pl_eio_poll_get (pl_eio_poll_t *self);
/* Is a GET waiting with an answer available (packets, a noop, a close)? */
bool pl_eio_poll_ready (pl_eio_poll_t *self);
/* The waiting GET's body, malloc'd, *len bytes (+ a NUL not counted);
 * the GET no longer waits. Packets that do not fit max_response stay
 * queued. NULL when not ready or on OOM (then nothing was dequeued). */
char *pl_eio_poll_take (pl_eio_poll_t *self, size_t *len);
/* The waiting GET's connection went away unanswered: the session closes
 * ("poll connection closed prematurely"). */
void pl_eio_poll_get_gone (pl_eio_poll_t *self);

/* A POST's headers arrived. OK: its body may be read. TOO_LARGE: the
 * Content-Length exceeds max_payload. BAD: the session is closed or
 * upgraded. CLOSE: a POST is in progress already, or the body is
 * application/octet-stream (v4 sends binary as base64 text). */
pl_eio_poll_rc_t pl_eio_poll_post_begin (pl_eio_poll_t *self, size_t content_length,
                                         bool octet_stream);
/* The POST's whole body: decoded and checked whole before anything is
 * applied. OK: *pkts and *count are the packets in order (a CLOSE packet ends
 * the list; PONG packets are listed and restart the heartbeat at now_ms).
 * TOO_LARGE: the body exceeds max_payload. CLOSE: a malformed packet (an
 * empty one, a trailing separator, an unknown type, bad base64, text that
 * is not UTF-8, with limits.sio a message pl_sio_parse refuses), more than max_packets, or no POST begun;
 * the session is closed. A CLOSE packet from the client also closes the
 * session but returns OK: the waiting GET is answered "6". */
pl_eio_poll_rc_t pl_eio_poll_post (pl_eio_poll_t *self, const char *body, size_t len,
                                   int64_t now_ms, const pl_eio_poll_packet_t **pkts,
                                   size_t *count);
/* The POST's connection went away before its body was whole: the session
 * closes ("data request connection closed prematurely"). */
void pl_eio_poll_post_gone (pl_eio_poll_t *self);

/* The server closes the session (why: static text); a waiting GET is
 * answered "1". No effect on a closed session. */
void pl_eio_poll_close (pl_eio_poll_t *self, const char *why);

/* A WebSocket with this sid sent "2probe": POLLING -> UPGRADING, and a
 * waiting GET is answered "6". BAD in any other state (a second probe). */
pl_eio_poll_rc_t pl_eio_poll_probe (pl_eio_poll_t *self);
/* The probing WebSocket went away before "5": UPGRADING -> POLLING, so
 * GETs are held again (as engine.io does). No effect in any other state. */
void pl_eio_poll_probe_cancel (pl_eio_poll_t *self);
/* That WebSocket sent "5": UPGRADING -> UPGRADED. BAD otherwise. */
pl_eio_poll_rc_t pl_eio_poll_upgrade (pl_eio_poll_t *self);
/* Once upgraded: the next queued packet in WebSocket form (text: type
 * digit + data; binary: the raw bytes, *binary set), malloc'd; NULL when
 * the queue is empty or on OOM. Nothing queued is lost by the upgrade. */
char *pl_eio_poll_shift (pl_eio_poll_t *self, size_t *len, bool *binary);

/* Heartbeat at now_ms: queues a ping "2" when it is due, closes the session
 * ("ping timeout") when the pong is late. Returns the time (ms) at which to
 * call it again, or -1 when the session is closed or upgraded (the
 * WebSocket keeps the heartbeat then). */
int64_t pl_eio_poll_tick (pl_eio_poll_t *self, int64_t now_ms);

void pl_eio_poll_test (bool verbose);

#endif
