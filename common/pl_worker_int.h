/*  pl_worker_int - multipart frame helpers shared by pl_worker.c and its
 *  selftest (pl_worker_test.c). Internal: "pl_worker__" names are not API.
 */
#ifndef PL_WORKER_INT_H
#define PL_WORKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

/* Longest message of the backend protocol is a REQ: 7 frames, plus the
 * ROUTER identity on the broker side. Longer messages are malformed. */
#define PL_WORKER_FRAMES_MAX 8

typedef struct {
    zmq_msg_t frame[PL_WORKER_FRAMES_MAX];  /* the first `count` frames    */
    int count;                              /* frames held                 */
    bool oversize;                          /* more frames came, discarded */
} pl_worker_msg_t;

typedef struct {
    const void *data;                       /* frame bytes                 */
    size_t size;                            /* frame length                */
} pl_worker_part_t;

/* Read one whole message without blocking. Returns 0, or -1 when none is
 * waiting. Frames past PL_WORKER_FRAMES_MAX are read and discarded, and
 * msg->oversize is set. Close with pl_worker__msg_close. */
int pl_worker__recv (void *sock, pl_worker_msg_t *msg);
void pl_worker__msg_close (pl_worker_msg_t *msg);
/* True when frame index exists and holds exactly text. */
bool pl_worker__frame_is (pl_worker_msg_t *msg, int index, const char *text);
/* Send count parts as one message without blocking. Returns 0, or -1 when
 * the first part is refused (high-water mark): then nothing was sent. */
int pl_worker__send (void *sock, const pl_worker_part_t *parts, int count);

#endif
