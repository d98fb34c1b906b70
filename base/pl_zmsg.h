/*  pl_zmsg - bounded multipart ZeroMQ messages: receive one whole message
 *  without blocking and without allocating, compare and read frames, send
 *  a message of parts. Shared by the worker runtime and parley-load.
 *
 *  A message longer than PL_ZMSG_FRAMES is read to its end and its extra
 *  frames dropped, with `oversize` set, so the next receive starts on a
 *  message boundary. Every Parley message has at most 8 frames (a REQ at
 *  the broker: identity plus 7), so a longer one is malformed.
 */
#ifndef PL_ZMSG_H
#define PL_ZMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#define PL_ZMSG_FRAMES 10

typedef struct {
    zmq_msg_t frame[PL_ZMSG_FRAMES];    /* the first `count` frames       */
    int count;                          /* frames held                    */
    bool oversize;                      /* more frames came, and were dropped */
} pl_zmsg_t;

typedef struct {
    const void *data;                   /* frame bytes                    */
    size_t size;                        /* frame length                   */
} pl_zmsg_part_t;

/* Read one whole message without blocking. Returns 0 (close it with
 * pl_zmsg_close), or -1 when none is waiting. */
int pl_zmsg_recv (void *sock, pl_zmsg_t *msg);
/* The same, for the one longer message (the broker's METRICS answer: a
 * name and a snapshot per process): frames past PL_ZMSG_FRAMES go to
 * tail (tail_cap of them, *tail_count set; the caller closes them with
 * zmq_msg_close), any past that are dropped with `oversize` set. */
int pl_zmsg_recv_wide (void *sock, pl_zmsg_t *msg, zmq_msg_t *tail, int tail_cap,
                       int *tail_count);
void pl_zmsg_close (pl_zmsg_t *msg);
/* True when frame index exists and holds exactly text. */
bool pl_zmsg_is (pl_zmsg_t *msg, int index, const char *text);
/* Frame index's bytes and size, or NULL (size 0) when there is none. */
const void *pl_zmsg_data (pl_zmsg_t *msg, int index, size_t *size);
/* Send count parts as one message without blocking. Returns 0, or -1 when
 * the first part is refused (high-water mark): then nothing was sent. */
int pl_zmsg_send (void *sock, const pl_zmsg_part_t *parts, int count);

void pl_zmsg_test (bool verbose);

#endif
