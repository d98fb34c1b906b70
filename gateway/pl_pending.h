/*  pl_pending - the gateway's requests awaiting a broker reply.
 *
 *  A ring indexed by request id. Ids are handed out in order and every
 *  request gets the same timeout, so the oldest live entry is always the
 *  next to expire: adding, matching a reply and expiring are all O(1), and
 *  one timer armed for the oldest entry serves them all.
 *
 *  The ring is bounded. When every slot holds an unanswered request the
 *  gateway refuses new ones (SERVICE_UNAVAILABLE) until replies or timeouts
 *  free slots. Lws loop only; not thread-safe.
 */
#ifndef PL_PENDING_H
#define PL_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _pl_pending_t pl_pending_t;

/* Who is waiting. Every kind names its asker by an id of the gateway's one
 * connection registry (generation << 32 | slot), never by pointer: a
 * connection that closed meanwhile is a failed lookup, not a dangling
 * pointer. */
typedef enum {
    PL_PENDING_SOCKET = 0,  /* a Socket.IO EVENT; conn = connection id    */
    PL_PENDING_HTTP,        /* a REST call; conn = its HTTP transaction id */
    PL_PENDING_INTERNAL,    /* the gateway's own (presence): nobody waits */
    PL_PENDING_REJOIN       /* a subscribe for a recovered connection (its
                               presence in a room it got back); conn = its id */
} pl_pending_kind_t;

typedef struct {
    uint64_t conn;          /* connection / transaction id that asked */
    uint64_t ack_id;        /* its Socket.IO ack id                   */
    bool has_ack;           /* false: answer is dropped               */
    uint8_t kind;           /* pl_pending_kind_t (fits the padding)   */
    uint16_t event;         /* its pl_event_id_t (metrics)            */
    uint32_t start_us;      /* when it arrived: the low 32 bits of
                               pl_gateway__now_us (metrics; the
                               request timeout is far below 71 min)   */
} pl_pending_entry_t;

/* slots must be a power of two. NULL on OOM. */
pl_pending_t *pl_pending_new (uint32_t slots);
void pl_pending_destroy (pl_pending_t **self_p);

/* The id the next pl_pending_add will use (send it with the request, as
 * text: pl_pending_id_text). */
uint64_t pl_pending_next_id (const pl_pending_t *self);

/* Room for a request id as text, its NUL included: a gateway id (under 16
 * bytes), "-", and up to 16 hex digits: at most 32 bytes, the envelope's
 * bound (proto/README.md, "Ids"). */
#define PL_PENDING_ID_SIZE 33
/* The request id frame for reqid: "<gateway id>-<reqid in lowercase hex>",
 * unique in the system (gateway ids are unique per broker) and printable,
 * so every tier can log it. Returns its length. */
size_t pl_pending_id_text (const char *gateway_id, uint64_t reqid,
                           char out[PL_PENDING_ID_SIZE]);
/* The reqid of a request id frame (any bytes, len of them) that this
 * gateway made: exactly pl_pending_id_text's form, no leading zero, no
 * upper case. False for anything else (not ours: dropped). */
bool pl_pending_id_parse (const char *gateway_id, const void *bytes, size_t len,
                          uint64_t *reqid);
/* Record a request sent with pl_pending_next_id(). Returns 0, or -1 when
 * the ring is full of live requests. */
int pl_pending_add (pl_pending_t *self, int64_t deadline, const pl_pending_entry_t *entry);
/* True when it has room for another request (after retiring answered ones). */
bool pl_pending_has_room (pl_pending_t *self);
/* Match a reply: true and *entry filled when reqid is live; false for a
 * late or unknown reply. */
bool pl_pending_take (pl_pending_t *self, uint64_t reqid, pl_pending_entry_t *entry);

typedef void (pl_pending_expired_fn) (void *arg, uint64_t reqid,
                                      const pl_pending_entry_t *entry);
/* Expire every live entry whose deadline <= now (calling fn for each) and
 * retire answered ones. Returns the deadline of the oldest live entry left,
 * or -1 when none is. */
int64_t pl_pending_expire (pl_pending_t *self, int64_t now, pl_pending_expired_fn *fn,
                           void *arg);

void pl_pending_test (bool verbose);

#endif
