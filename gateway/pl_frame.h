/*  pl_frame - reference-counted outbound WebSocket payloads, and the
 *  bounded per-connection queue that holds them.
 *
 *  A broadcast is encoded once per gateway ("42" + packet) into one frame
 *  and every member's queue takes a reference, so fan-out costs a pointer
 *  per member, not a copy. Frames keep LWS_PRE bytes of headroom before the
 *  payload for lws_write() to put the WebSocket header in. Sharing that
 *  headroom across connections is safe: writes happen one at a time on the
 *  lws loop, the server does not mask, and we do not use permessage-deflate,
 *  so every connection writes the same header bytes there.
 *
 *  The struct is public so the hot path can inline; treat fields as
 *  read-only outside pl_frame.c. Gateway loop only; not thread-safe.
 */
#ifndef PL_FRAME_H
#define PL_FRAME_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t refs;          /* owners: the creator plus each queue holding it */
    uint32_t len;           /* payload bytes                                  */
    bool binary;            /* a binary message (pl_frame_new: false)         */
    bool push;              /* a room event (events_out{push})               */
    int64_t published_us;   /* push: its worker's publish time (wall clock,
                               us since the epoch), its write is timed from
                               it (metrics); -1: none, not timed             */
    unsigned char data[];   /* LWS_PRE headroom, then len payload bytes       */
} pl_frame_t;

/* A frame holding a followed by b, refs = 1. A NULL a or b reserves its
 * length uninitialised, for the caller to fill. NULL on OOM. */
pl_frame_t *pl_frame_new (const void *a, size_t a_len, const void *b, size_t b_len);
static inline unsigned char *
pl_frame_payload (pl_frame_t *f) { return f->data + LWS_PRE; }
static inline pl_frame_t *
pl_frame_ref (pl_frame_t *f) { f->refs++; return f; }
/* Drop a reference, free at zero, null the caller's pointer. */
void pl_frame_unref (pl_frame_t **f_p);

/* Per-connection FIFO of frames. Embedded in the connection; zero-init is
 * an empty queue, so an idle connection costs no allocation. */
typedef struct {
    pl_frame_t **ring;      /* capacity cap, power of two, or NULL     */
    uint32_t head;          /* index of the oldest frame               */
    uint32_t len;           /* frames queued                           */
    uint32_t cap;           /* slots allocated                         */
} pl_outq_t;

/* Queue a reference to f. Returns 0, or -1 when the queue already holds
 * max frames (the caller treats the client as too slow) or on OOM. */
int pl_outq_push (pl_outq_t *q, pl_frame_t *f, uint32_t max);
static inline pl_frame_t *
pl_outq_peek (const pl_outq_t *q) { return q->len ? q->ring[q->head] : NULL; }
/* Drop the oldest frame. */
void pl_outq_pop (pl_outq_t *q);
/* Drop everything and free the ring. */
void pl_outq_clear (pl_outq_t *q);

void pl_frame_test (bool verbose);

#endif
