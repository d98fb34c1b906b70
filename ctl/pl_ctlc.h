/*  pl_ctlc - parleyctl's client: one gateway, over libwebsockets' client
 *  API. A plain HTTP GET (/healthz, /metrics), or a Socket.IO v5 session
 *  over Engine.IO v4 on a WebSocket (transport=websocket only): connect
 *  with a token, send an event and wait for its ack, read the events the
 *  server pushes. Packets are encoded and parsed by the gateway's own
 *  codec (gateway/pl_sio.h), from the other side.
 *
 *  Every call blocks on the lws loop (one poll on the socket and a timer,
 *  never a sleep) until its answer, an error, the timeout, or *stop. The
 *  server is not trusted: every message and body is bounded, every packet
 *  is parsed before use, and a server that breaks the protocol ends the
 *  session with PL_CTLC_LOST and a message saying what it sent.
 *
 *  Results double as parleyctl's exit codes (documented in README.md).
 *  Not thread-safe: one thread, one pl_ctlc_t.
 */
#ifndef PL_CTLC_H
#define PL_CTLC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

typedef struct _pl_ctlc_t pl_ctlc_t;

typedef enum {
    PL_CTLC_OK = 0,
    PL_CTLC_ERROR = 1,      /* the server answered with an error: an error
                               ack, a connect_error, an HTTP error status  */
    PL_CTLC_USAGE = 2,      /* a bad argument (url, JSON, option)          */
    PL_CTLC_UNREACHABLE = 3,/* cannot connect, or no answer in time        */
    PL_CTLC_LOST = 4,       /* the connection ended, or the server broke
                               the protocol                                */
    PL_CTLC_STOPPED = 5     /* *stop was set (a signal): not an error for
                               the caller that asked for it                */
} pl_ctlc_rc_t;

/* Largest WebSocket message and HTTP body accepted from the server. A
 * /metrics page of many series is the biggest answer expected. Messages
 * received and not yet used (unread, or events pushed while a call waited,
 * kept for pl_ctlc_next) share one budget of 64 MB and 4096 events: past
 * it the session fails (PL_CTLC_LOST), it drops nothing silently. */
#define PL_CTLC_BODY_MAX (64u * 1024 * 1024)
#define PL_CTLC_MSG_MAX  (16u * 1024 * 1024)
/* Longest URL accepted (scheme, host, port, nothing else). */
#define PL_CTLC_URL_MAX 512

/* url: http://host[:port][/] (port 80 when absent; https is refused).
 * timeout_ms bounds each call as a whole, one deadline however many
 * messages come meanwhile: pl_ctlc_get, pl_ctlc_connect (TCP, WebSocket,
 * Engine.IO open, Socket.IO CONNECT), pl_ctlc_call (the send and its
 * ack). Past it: PL_CTLC_UNREACHABLE, "no answer from URL in N ms (the
 * call)".
 * stop, if not NULL, is polled after every wake-up of the loop (a signal
 * handler sets it and calls pl_ctlc_wake). Returns NULL with *why set
 * (static) on a bad url or when lws cannot start. */
pl_ctlc_t *pl_ctlc_new (const char *url, long timeout_ms, volatile sig_atomic_t *stop,
                        const char **why);
void pl_ctlc_destroy (pl_ctlc_t **self_p);

/* The last failure, fit to print after "parleyctl: ", e.g.
 * "cannot connect to http://127.0.0.1:1: Connection refused". */
const char *pl_ctlc_error (const pl_ctlc_t *self);

/* The url, as http://host:port (for messages). */
const char *pl_ctlc_url (const pl_ctlc_t *self);

/* Most bytes of a server's text shown in a message. */
#define PL_CTLC_PRINTABLE 300

/* A server's text (len bytes) made safe for a terminal, into out (size
 * bytes, NUL-terminated): at most PL_CTLC_PRINTABLE bytes, every control
 * byte (and DEL) as '?', so no escape sequence reaches the screen. */
void pl_ctlc_printable (char *out, size_t size, const char *text, size_t len);

/* A server's page (len bytes, whole, in place) made safe for a terminal:
 * every control byte but \n and \t (and DEL, and NUL) becomes '?'. */
void pl_ctlc_sanitize (char *text, size_t len);

/* Wake a blocked call from a signal handler, so that it sees *stop.
 * Async-signal-safe in lws 4.1 (one write to the event pipe). */
void pl_ctlc_wake (pl_ctlc_t *self);

/* GET path. On PL_CTLC_OK, *status is the HTTP status (any) and *body a
 * new NUL-terminated string (caller frees; *len its length; a NUL in the
 * body is kept, *len says where it ends). */
int pl_ctlc_get (pl_ctlc_t *self, const char *path, int *status, char **body, size_t *len);

/* Open the Socket.IO session at eio_path (PARLEY_PATH, e.g. /socket.io/)
 * and CONNECT to "/" with auth {"token": token}. PL_CTLC_ERROR when the
 * server answers connect_error (its message in pl_ctlc_error). */
int pl_ctlc_connect (pl_ctlc_t *self, const char *eio_path, const char *token);

/* Emit event with arg (NULL: none) asking for an ack, and wait for it.
 * On PL_CTLC_OK *ack is the ack's first argument (caller deletes; JSON
 * null when the ack had none). Events pushed meanwhile are kept for
 * pl_ctlc_next. */
int pl_ctlc_call (pl_ctlc_t *self, const char *event, const cJSON *arg, cJSON **ack);

/* The next event the server pushes, with no time limit: *event is its
 * name (caller frees), *args its arguments after the name (an array,
 * caller deletes). PL_CTLC_STOPPED when *stop was set. PL_CTLC_ERROR
 * when the event held a NUL (\u0000) in a string or a key (cJSON would
 * cut it): it is skipped, pl_ctlc_error says so, the session goes on
 * (call again). */
int pl_ctlc_next (pl_ctlc_t *self, char **event, cJSON **args);

void pl_ctlc_test (bool verbose);

#endif
