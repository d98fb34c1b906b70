/*  pl_loadnet - one load loop: a single-threaded epoll loop that opens,
 *  handshakes and keeps many Socket.IO-over-WebSocket client connections.
 *
 *  Each loop (one per --threads) owns a fixed array of connection slots,
 *  numbered 0..conns-1; modes address connections by slot number. The loop
 *  does everything that is the same for every mode:
 *    - non-blocking TCP connect (TCP_NODELAY), at a paced rate and with a
 *      bounded number of handshakes in flight, so a flat-out connect storm
 *      does not overflow the server's accept queue into SYN retries;
 *    - the HTTP/1.1 upgrade, checking Sec-WebSocket-Accept;
 *    - Engine.IO OPEN -> Socket.IO CONNECT with {"token": <HS256 JWT>} ->
 *      CONNECT ack (or CONNECT_ERROR, counted as an auth failure);
 *    - Engine.IO ping "2" -> pong "3", WebSocket ping -> pong;
 *    - a handshake deadline per connection;
 *    - send with a bounded per-connection backlog (below).
 *  and hands the mode only what it asked for: "connected", "a Socket.IO
 *  message arrived" (EVENT and ACK packets, as text), "connection down", and
 *  a timer tick at the deadline the mode returned last.
 *
 *  Receive path: recv() into the connection's buffer, frames parsed in
 *  place, messages handed out as pointers into that buffer. Nothing is
 *  allocated per message; a buffer grows only when a frame does not fit
 *  (bounded by max_message).
 *
 *  Send path: send() straight from the caller's pre-encoded frame. Only
 *  when the kernel does not take all of it is the rest copied to the
 *  connection's backlog, flushed on EPOLLOUT. The backlog is bounded
 *  (PL_LOADNET_TX_MAX): a server that stops reading that long is broken,
 *  and the connection is closed and counted as "overflow".
 *
 *  Every wait is epoll_wait on the connections, a timerfd armed at the next
 *  deadline, an eventfd for wake-ups from other threads and, on one loop,
 *  the signalfd: an idle loop sleeps.
 */
#ifndef PL_LOADNET_H
#define PL_LOADNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "pl_loadhist.h"

/* Why a connection failed or went down. Names (pl_loadnet_fail_name) are
 * the keys of "failures" in the summary. */
typedef enum {
    PL_LFAIL_SOCKET,        /* socket() failed: out of fds (RLIMIT_NOFILE)  */
    PL_LFAIL_CONNECT,       /* TCP connect failed (refused, reset)          */
    PL_LFAIL_UPGRADE,       /* HTTP upgrade refused or malformed            */
    PL_LFAIL_AUTH,          /* Socket.IO CONNECT_ERROR (44)                 */
    PL_LFAIL_TIMEOUT,       /* handshake not done within the timeout        */
    PL_LFAIL_CLOSED,        /* server closed during the handshake           */
    PL_LFAIL_PROTOCOL,      /* bad frame or packet from the server          */
    PL_LFAIL_DROPPED,       /* server closed an established connection      */
    PL_LFAIL_OVERFLOW,      /* our send backlog hit its bound               */
    PL_LFAIL_COUNT
} pl_lfail_t;

const char *pl_loadnet_fail_name (pl_lfail_t kind);

/* Bound of one connection's unsent bytes (see above). */
#define PL_LOADNET_TX_MAX (1u << 20)

typedef struct _pl_loadnet_t pl_loadnet_t;

/* What a mode plugs into a loop. Every callback runs on that loop's
 * thread, from inside pl_loadnet_run. */
typedef struct {
    /* The Socket.IO user (JWT sub) of slot i, written into out. Returns
     * its length, or -1 if it does not fit. */
    int (*sub) (void *mode, uint32_t i, char *out, size_t size);
    /* Slot i is connected to the default namespace. */
    void (*ready) (void *mode, uint32_t i, int64_t now);
    /* A Socket.IO packet arrived on slot i: msg is the Engine.IO message
     * payload, e.g. `42["actor:updated",{...}]` or `431[{...}]`, valid
     * only during the call. */
    void (*message) (void *mode, uint32_t i, const char *msg, size_t len, int64_t now);
    /* Slot i failed or went down; it will not come back. was_ready: it
     * had connected before. Not called for pl_loadnet_close_all. */
    void (*down) (void *mode, uint32_t i, pl_lfail_t why, bool was_ready);
    /* Timer: called when now >= the deadline it returned last time, or
     * after pl_loadnet_poke / pl_loadnet_wake. Returns the next deadline
     * (CLOCK_MONOTONIC ns), INT64_MAX for none. */
    int64_t (*tick) (void *mode, int64_t now);
    /* SIGINT/SIGTERM arrived (only on the loop given signal_fd). */
    void (*interrupt) (void *mode);
} pl_loadnet_ops_t;

typedef struct {
    struct sockaddr_storage addr;   /* server address (loopback, checked by the caller) */
    socklen_t addr_len;
    const char *host;               /* for the Host header                       */
    int port;
    const char *path;               /* e.g. /socket.io/?EIO=4&transport=websocket */
    const char *secret;             /* HS256 secret for the JWTs                 */
    uint32_t conns;                 /* connection slots                          */
    int64_t handshake_timeout_ns;   /* connect start -> Socket.IO connected      */
    uint64_t max_message;           /* largest message accepted from the server  */
    int signal_fd;                  /* signalfd to watch, or -1                  */
    uint64_t seed;                  /* for WebSocket keys                        */
} pl_loadnet_opts_t;

/* A loop with opts->conns idle slots, or NULL (logged to stderr). */
pl_loadnet_t *pl_loadnet_new (const pl_loadnet_opts_t *opts, const pl_loadnet_ops_t *ops,
                              void *mode);
/* Closes every connection. Safe on NULL and twice. */
void pl_loadnet_destroy (pl_loadnet_t **self_p);

/* Start opening slots [first, first + count) in order, `rate` per second
 * (0: as fast as `concurrency` handshakes in flight allow). */
void pl_loadnet_open (pl_loadnet_t *self, uint32_t first, uint32_t count,
                      double rate, uint32_t concurrency);
/* Slots whose handshake has finished, either way (ready + failed). */
uint32_t pl_loadnet_settled (pl_loadnet_t *self);
/* Slots currently connected. */
uint32_t pl_loadnet_live (pl_loadnet_t *self);
bool pl_loadnet_is_ready (pl_loadnet_t *self, uint32_t i);

/* Send one pre-encoded frame on slot i. Returns 0 when sent or queued,
 * -1 when the slot is not connected (or just went down). */
int pl_loadnet_send (pl_loadnet_t *self, uint32_t i, const void *frame, size_t len);

/* Close every connection now, without counting them as dropped. */
void pl_loadnet_close_all (pl_loadnet_t *self);

/* Run until pl_loadnet_stop. Returns 0, or -1 if epoll itself failed. */
int pl_loadnet_run (pl_loadnet_t *self);
/* Make pl_loadnet_run return after the current callback (loop thread). */
void pl_loadnet_stop (pl_loadnet_t *self);
/* Call tick at the next turn of the loop (loop thread). */
void pl_loadnet_poke (pl_loadnet_t *self);
/* The same from any thread (an eventfd write). */
void pl_loadnet_wake (pl_loadnet_t *self);

/* What the loop saw; read after it stopped. */
typedef struct {
    uint64_t failures[PL_LFAIL_COUNT];
    uint32_t opened;                /* slots whose connect was started      */
    uint32_t connected;             /* slots that reached Socket.IO connect */
    uint64_t messages;              /* Socket.IO messages handed to the mode */
    uint64_t pings;                 /* Engine.IO pings answered             */
    uint64_t bytes_in, bytes_out;
    const pl_loadhist_t *handshake; /* connect start -> connected, ns       */
} pl_loadnet_stats_t;
void pl_loadnet_stats (pl_loadnet_t *self, pl_loadnet_stats_t *stats);

/* CLOCK_MONOTONIC in ns. */
int64_t pl_loadnet_now (void);

/* Selftest against a scripted server on loopback (pl_loadnet_test.c). */
void pl_loadnet_test (bool verbose);

#endif
