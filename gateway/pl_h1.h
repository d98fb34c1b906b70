/*  pl_h1 - the gateway's HTTP/1.1 front: every connection accepted on the
 *  port starts here. Gateway loop (libev) only.
 *
 *  lws 4.1.6 used to be the HTTP server here, and an outside red-team pass
 *  found the limits of its h1 side: pipelined requests behind a body spin
 *  its idle handler at 100% CPU (for good: SIGTERM was never handled
 *  again) and fire the body-completion callback again and again, so a
 *  request was answered as if it had no body after it had been done; a
 *  request pipelined behind a bodiless one is parsed while the first still
 *  waits, so answers cross; CONNECT turns the connection into a silent raw
 *  socket; `Upgrade: h2c` is taken; and a head over 4 KB, 1,000 headers
 *  or an unknown method close the connection without a status.
 *
 *  So the gateway reads every request itself, with Debian's http-parser
 *  (nodejs/http-parser 2.9), and gives lws only what it is good at: a
 *  WebSocket upgrade, with the connection and the head we read
 *  (lws_adopt_socket_vhost_readbuf). /healthz and the REST API are
 *  answered from here. The rules:
 *   - One request at a time per connection. The parser pauses at the end
 *     of each request and resumes once its answer is written, so pipelined
 *     requests wait in the read buffer and are served in order (RFC 9112
 *     §9.3.2). A full buffer stops reading: TCP pushes back.
 *   - Bounded: a head of at most PL_H1_HEAD_MAX bytes (else 431, or 414
 *     while still in the request target) and PL_H1_HEADERS_MAX header
 *     lines (431); a body of at most max_body (413); every phase has a
 *     deadline (a slow head or body: 408 and close).
 *   - Methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. Any other
 *     (CONNECT, TRACE, an unknown token) is 405 with Allow, and closes.
 *   - Framing: Content-Length or chunked. Both at once is the request
 *     smuggling shape (RFC 9112 §6.1): 400 and close, like any parse error,
 *     before any handler sees the request.
 *   - An Upgrade other than websocket (h2c) is ignored: the request is
 *     served as HTTP/1.1, which RFC 9110 §7.8 allows.
 *   - HEAD gets the headers of the GET answer and no body.
 *   - An answer given at the head (401, 413, 429, ...) goes out once the
 *     body has been read and dropped, up to PL_H1_DRAIN_FACTOR times
 *     max_body, so keep-alive stays in step. A larger or unknown body is
 *     not read: the answer says Connection: close, and the connection
 *     lingers (write side shut, input read and dropped for a moment) so the
 *     client's unread bytes do not reset the answer away.
 */
#ifndef PL_H1_H
#define PL_H1_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#define PL_H1_HEAD_MAX     8192        /* request line + headers, bytes          */
#define PL_H1_URI_MAX      4096        /* request target, bytes                  */
#define PL_H1_HEADERS_MAX  64          /* header lines                           */
#define PL_H1_QUERY_MAX    32          /* query arguments kept                   */
#define PL_H1_DRAIN_FACTOR 4           /* refused bodies read, times max_body    */
#define PL_H1_ANSWER_S     120         /* a request waits this long for its answer,
                                          then its connection closes: a handler
                                          holding one (a long-poll) answers well
                                          before                                 */

typedef struct _pl_h1_t pl_h1_t;
typedef struct _pl_h1_conn_t pl_h1_conn_t;

/* A request, as the handlers see it. Everything is borrowed, valid until
 * the answer is written. Strings are NUL-terminated and NUL-free: a %00 in
 * the target is refused (400) before a handler sees it. */
typedef struct {
    const char *method;             /* "GET", "POST", ...                       */
    const char *path;               /* percent-decoded                          */
    const char *const *query;       /* "name=value", percent-decoded, '+' kept  */
    size_t nquery;
    long long length;               /* Content-Length; -1: none (or chunked)    */
    bool body_coming;               /* a body follows the head                  */
    bool head;                      /* HEAD: the answer's body is not sent      */
    const char *body;               /* the body (request callback only)         */
    size_t body_len;
} pl_h1_req_t;

typedef struct {
    /* The head is read. Answer now (a refusal) with pl_h1_respond, or not:
     * then the body is read and `request` follows. */
    void (*head) (void *arg, pl_h1_conn_t *conn, const pl_h1_req_t *req);
    /* The whole request is read: answer now or later, exactly once. */
    void (*request) (void *arg, pl_h1_conn_t *conn, const pl_h1_req_t *req);
    /* A WebSocket upgrade head: true hands the connection over (handoff)
     * once the head is complete. False serves it as a plain request. */
    bool (*upgrade) (void *arg, const pl_h1_req_t *req);
    /* Takes the socket and every byte read from it so far (the upgrade
     * head, and anything after it): the gateway gives them to lws. */
    void (*handoff) (void *arg, int fd, const char *bytes, size_t len);
    /* The connection is going: its user data must go too. Not called for
     * a connection handed to lws. Also called while a request waits for
     * its answer, when the peer closes or resets the connection (read
     * side EOF): an answer held for later (a long-poll) then has nobody
     * to go to. */
    void (*closed) (void *arg, pl_h1_conn_t *conn);
} pl_h1_handlers_t;

/* Extra answer headers. */
typedef struct {
    const char *allow;              /* Allow (405), or NULL                     */
    const char *retry_after;        /* Retry-After (429), or NULL               */
    bool close;                     /* Connection: close, then close            */
    const char *content_type;       /* Content-Type; NULL: application/json     */
    const char *cache_control;      /* Cache-Control; NULL: no-store            */
} pl_h1_extra_t;

/* Creates the front. max_body is PARLEY_MAX_PAYLOAD. Returns NULL on
 * failure. */
pl_h1_t *pl_h1_new (struct ev_loop *loop, long max_body, const pl_h1_handlers_t *handlers,
                    void *arg);
/* Closes every connection still here (with `closed` callbacks). */
void pl_h1_destroy (pl_h1_t **self_p);

/* A freshly accepted, non-blocking socket; pl_h1 owns it from here. */
void pl_h1_adopt (pl_h1_t *self, int fd);

/* Answer the connection's current request: status, a body (copied; NULL:
 * none), JSON unless extra->content_type says otherwise. A 304 goes with
 * neither body nor Content-Length (RFC 9110 §15.4.5). Once per request. Returns 0, or -1 when there is no
 * request to answer or memory ran out (the connection is closed). */
int pl_h1_respond (pl_h1_conn_t *conn, int status, const pl_h1_extra_t *extra,
                   const char *body, size_t len);

/* A body several answers share (the page of one GET /metrics round, sent
 * to each of its scrapes): counted references, freed with the last. */
typedef struct _pl_h1_body_t pl_h1_body_t;
/* Takes data (malloc'd, len bytes; freed on failure): the new body holds
 * one reference, the caller's. NULL when out of memory. */
pl_h1_body_t *pl_h1_body_new (char *data, size_t len);
/* Drops a reference and sets *body_p to NULL; the last frees the body. */
void pl_h1_body_unref (pl_h1_body_t **body_p);
/* References held now: the caller's, and one per answer not yet written. */
size_t pl_h1_body_refs (const pl_h1_body_t *body);
/* pl_h1_respond with a shared body, not copied: the connection holds a
 * reference until its answer is written or it closes (none for HEAD). */
int pl_h1_respond_shared (pl_h1_conn_t *conn, int status, const pl_h1_extra_t *extra,
                          pl_h1_body_t *body);
/* More answer header lines ("Name: value\r\n" ..., copied) for the
 * connection's current request, whoever answers it: a handler, later,
 * or pl_h1's own refusal of its body (413, 408). Call from the head
 * callback on; they are dropped when the next request starts. Trusted
 * text: the caller builds it from checked values (pl_cors). Returns 0,
 * or -1 when memory ran out (the answer goes without them). */
int pl_h1_add_headers (pl_h1_conn_t *conn, const char *lines);

/* A request header's value (the first, if repeated), or NULL. Valid from
 * the head callback until the answer is written. */
const char *pl_h1_header (pl_h1_conn_t *conn, const char *name);
/* The value of the next line named name after the value prev (one this
 * returned, or pl_h1_header's; NULL: the first), or NULL: every line of a
 * list field (RFC 9110 §5.3), in order. */
const char *pl_h1_header_next (pl_h1_conn_t *conn, const char *name, const char *prev);

void pl_h1_set_user (pl_h1_conn_t *conn, void *user);
void *pl_h1_user (pl_h1_conn_t *conn);
/* The peer's address, for logs. */
const char *pl_h1_peer (pl_h1_conn_t *conn);

/* Connections open here now (not counting those handed to lws). */
size_t pl_h1_count (pl_h1_t *self);

void pl_h1_test (bool verbose);

#endif
