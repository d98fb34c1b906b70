/*  pl_ctlc_int.h - what pl_ctlc's files share (pl_ctlc.c, the connection
 *  and the GET; pl_ctlc_sio.c, the Socket.IO session; pl_ctlc_addr.c, the
 *  address). Not for users of pl_ctlc.h.
 */
#ifndef PL_CTLC_INT_H
#define PL_CTLC_INT_H

#include "pl_ctlc.h"
#include "pl_sio.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char host[256];                 /* from the url, without brackets         */
    int port;                       /* from the url (80 when absent)          */
    char url[PL_CTLC_URL_MAX + 16]; /* http://host:port, for messages         */
} pl_ctlc__addr_t;

#define PL_CTLC_OUTQ 16             /* messages waiting to be written         */
#define PL_CTLC_INQ  4096           /* messages received, not yet read        */
/* One budget for every message received and not yet used: the unread
 * (inq) and the events held while a call waited (held) together. */
#define PL_CTLC_INQ_BYTES (64u * 1024 * 1024)
#define PL_CTLC_HELD 4096           /* events pushed while a call waited      */

typedef enum {
    PL_CTLC__IDLE, PL_CTLC__CONNECTING, PL_CTLC__OPEN, PL_CTLC__CLOSED
} pl_ctlc__state_t;

struct _pl_ctlc_t {
    struct lws_context *ctx;        /* one client context                     */
    struct lws *wsi;                /* the connection, or NULL                */
    pl_ctlc__addr_t addr;           /* the gateway: host, port, url           */
    long timeout_ms;                /* per phase (a GET, connect, a call)     */
    long long deadline_ms;          /* the phase's end, CLOCK_MONOTONIC       */
    const char *phase;              /* its name, for the timeout's message    */
    volatile sig_atomic_t *stop;    /* set by the caller's signal handler     */
    char error[640];                /* the last failure                       */
    char lws_why[128];              /* lws's reason for a failed connect      */
    pl_ctlc__state_t state;                /* of the connection                      */
    int close_rc;                   /* the result a close means               */
    bool timed_out;                 /* the wait's timer fired                 */
    lws_sorted_usec_list_t sul;     /* the wait's timer (to the deadline)     */
    bool http;                      /* a GET, not a WebSocket                 */
    bool http_done;                 /* the GET's body is complete             */
    int status;                     /* the GET's HTTP status                  */
    char *body;                     /* the GET's body, or a message being
                                       gathered (WebSocket)                   */
    size_t body_len;                /* bytes in body                          */
    size_t body_cap;                /* bytes allocated                        */
    char *outq[PL_CTLC_OUTQ];       /* LWS_PRE + message, FIFO ring           */
    size_t outq_len[PL_CTLC_OUTQ];  /* message bytes (after LWS_PRE)          */
    unsigned out_head, out_count;   /* ring state                             */
    char *inq[PL_CTLC_INQ];         /* messages received, FIFO ring           */
    size_t inq_len[PL_CTLC_INQ];    /* their lengths                          */
    unsigned in_head, in_count;     /* ring state                             */
    size_t in_bytes;                /* bytes in inq                           */
    char *held[PL_CTLC_HELD];       /* EVENT messages pushed while a call
                                       waited, for pl_ctlc_next: FIFO ring    */
    size_t held_len[PL_CTLC_HELD];  /* their lengths                          */
    unsigned held_head, held_count; /* ring state                             */
    size_t held_bytes;              /* bytes in held (in the inq budget)      */
    long max_payload;               /* the server's maxPayload (OPEN)         */
    uint64_t next_ack;              /* the next ack id                        */
};

/* Parse url (pl_ctlc_new's rules) into *addr. 0, or -1 with *why (static). */
int pl_ctlc__parse_url (pl_ctlc__addr_t *addr, const char *url, const char **why);

/* Why a connect to addr fails, as the system says it, into out ("" when
 * it does not fail or says nothing); waits at most timeout_ms. */
void pl_ctlc__connect_errno (const pl_ctlc__addr_t *addr, long timeout_ms, char *out,
                             size_t size);

/* pl_ctlc.c, for pl_ctlc_sio.c; all on the caller's thread (the lws loop
 * runs inside pl_ctlc__wait). */

/* Start a phase: every timed wait until the next one shares its deadline,
 * however many messages come meanwhile. */
void pl_ctlc__begin (pl_ctlc_t *self, const char *phase);
/* Record a failure: fmt gets the gateway's url and arg (NULL: ""). */
void pl_ctlc__fail (pl_ctlc_t *self, int rc, const char *fmt, const char *arg);
/* Start a connection to path (a GET, or a WebSocket upgrade). */
int pl_ctlc__open (pl_ctlc_t *self, const char *path, bool http);
/* Queue text (a new string, taken) for writing. -1 when the queue is full. */
int pl_ctlc__send (pl_ctlc_t *self, char *text);
/* Run the loop until what (0: the connection is open or closed, 1: a GET
 * is done, 2: a message waits) or the timeout (timed) or *stop. Returns
 * PL_CTLC_OK when it came. */
int pl_ctlc__wait (pl_ctlc_t *self, int what, bool timed);
/* Take the oldest received message: parse it into *pkt (the text is
 * returned in *text, *len bytes, for the caller to free after
 * pl_sio_packet_clear). */
int pl_ctlc__take (pl_ctlc_t *self, pl_sio_packet_t *pkt, char **text, size_t *len);

#endif
