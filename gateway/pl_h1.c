/*  pl_h1 - HTTP/1.1 in front of lws, on the gateway loop (pl_h1.h says
 *  why and the rules). Its pure syntax pieces (percent-decoding, methods,
 *  reason phrases) are in pl_h1_syntax.c. */
#include "pl_h1.h"
#include "pl_h1_int.h"
#include "pl_log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <http_parser.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_RBUF          (PL_H1_HEAD_MAX + 2048) /* read buffer: a whole head
                                       (8 KB counted, plus its separators)     */
#define S_IDLE_S        30.0        /* waiting for a request to start          */
#define S_REQUEST_S     20.0        /* from a request's first byte to its end  */
#define S_ANSWER_S      ((double) PL_H1_ANSWER_S)  /* a handler's answer (the
                                       gateway's own timer answers 504, and a
                                       held long-poll GET is answered, well
                                       before)                                 */
#define S_WRITE_S       30.0        /* writing an answer to a slow reader      */
#define S_LINGER_S      2.0         /* reading what follows a closing answer   */
#define S_LINGER_BYTES  (256 * 1024)
#define S_LOG_PER_S     10          /* refusal lines logged per second         */

typedef enum {
    S_HEAD,                         /* reading a head (or waiting for one)      */
    S_BODY,                         /* reading a body for the handler           */
    S_DRAIN,                        /* reading a body to drop: answer waits     */
    S_WAIT,                         /* the handler has the request              */
    S_WRITE,                        /* writing the answer                       */
    S_LINGER                        /* answer out, write side shut: closing     */
} s_state_t;

struct _pl_h1_t {
    struct ev_loop *loop;           /* the gateway loop                         */
    long max_body;                  /* PARLEY_MAX_PAYLOAD                       */
    pl_h1_handlers_t handlers;
    void *arg;
    pl_h1_conn_t *conns;            /* every connection here (for destroy)      */
    size_t count;
    pl_log_limit_t log;             /* refusal lines: S_LOG_PER_S a second      */
};

struct _pl_h1_conn_t {
    pl_h1_t *h1;                    /* the front                                */
    pl_h1_conn_t *prev, *next;      /* in h1->conns                             */
    int fd;
    ev_io rio, wio;                 /* readable, writable                       */
    ev_timer timer;                 /* the current phase's deadline             */
    s_state_t state;
    void *user;                     /* the gateway's per-connection data        */
    char peer[48];                  /* address, for logs                        */
    http_parser parser;
    /* input */
    size_t rlen;                    /* bytes in rbuf                            */
    /* the request being read */
    size_t url_len;
    size_t hdr_len;
    int nhdr;
    int phase;                      /* 0: no header yet, 1: in a name, 2: in a
                                       value (neither ended with its NUL yet) */
    int open;                       /* the last callback ran to the end of the
                                       bytes given (1: a name, 2: a value), so
                                       the next one continues it              */
    const char *exec_end;           /* end of the bytes given to the parser     */
    size_t parsed;                  /* rbuf bytes the parser has taken; in a
                                       head they are kept, for a hand-off      */
    bool in_handler;                /* inside handlers.request                  */
    size_t head_bytes;              /* url + header bytes so far                */
    int refuse;                     /* a status found while parsing (0: none)   */
    const char *refuse_why;
    bool websocket;                 /* Upgrade: websocket                       */
    bool complete;                  /* on_message_complete seen                 */
    const char *query[PL_H1_QUERY_MAX];
    pl_h1_req_t req;
    char *body;                     /* body for the handler                     */
    size_t body_len, body_cap;
    /* the answer */
    bool answered;                  /* pl_h1_respond was called                 */
    bool close;                     /* close after the answer                   */
    char *more;                     /* pl_h1_add_headers' lines, or NULL        */
    char *out;                      /* the answer, head and body                */
    size_t out_len, out_off;        /* out_off runs on into shared's bytes      */
    pl_h1_body_t *shared;           /* the body, when shared (else in out)      */
    /* The buffers come last and are not zeroed (pl_h1_adopt): every
     * connection, each WebSocket too, passes through here, and clearing 26
     * KB per connect was a measurable part of its cost. Each is read only
     * up to its length field. */
    char dec[PL_H1_URI_MAX + 1];    /* decoded path, then query arguments       */
    char url[PL_H1_URI_MAX + 1];    /* raw request target                       */
    char hdr[PL_H1_HEAD_MAX];       /* "name\0value\0" pairs                    */
    char rbuf[S_RBUF];              /* bytes read and not yet parsed            */
};

static const char *s_methods_allowed = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

static void s_close (pl_h1_conn_t *c);
static void s_pump (pl_h1_conn_t *c);
static bool s_write (pl_h1_conn_t *c);

/* ---- small helpers -------------------------------------------------- */

static void
s_deadline (pl_h1_conn_t *c, double seconds)
{
    ev_timer_stop (c->h1->loop, &c->timer);
    ev_timer_set (&c->timer, seconds, 0.);
    ev_timer_start (c->h1->loop, &c->timer);
}

/* ---- parser callbacks (gateway loop, inside http_parser_execute) ------ */

static int
s_refuse (pl_h1_conn_t *c, int status, const char *why)
{
    if (!c->refuse) {
        c->refuse = status;
        c->refuse_why = why;
    }
    return -1;                      /* stops the parser (1 and 2 would not, from
                                       on_headers_complete: they mean "no body") */
}

static int
s_on_message_begin (http_parser *p)
{
    pl_h1_conn_t *c = (pl_h1_conn_t *) p->data;
    c->url_len = c->hdr_len = c->head_bytes = 0;
    c->nhdr = c->phase = c->open = 0;
    c->websocket = c->complete = false;
    s_deadline (c, S_REQUEST_S);
    return 0;
}

static int
s_on_url (http_parser *p, const char *at, size_t len)
{
    pl_h1_conn_t *c = (pl_h1_conn_t *) p->data;
    if (c->url_len + len > PL_H1_URI_MAX)
        return s_refuse (c, 414, "the request target is over 4096 bytes");
    memcpy (c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    c->head_bytes += len;
    return 0;
}

/* Header names and values arrive in pieces when they straddle two reads
 * (the parser calls back once per piece), and an empty value gets no
 * callback at all. So a piece continues the last one only when that one
 * ran to the end of the bytes given; otherwise a name starts a new pair
 * and a value belongs to the latest name. Stored as "name\0value\0". */
static int
s_on_header (pl_h1_conn_t *c, const char *at, size_t len, bool value)
{
    int kind = value ? 2 : 1;
    c->head_bytes += len;
    if (c->head_bytes > PL_H1_HEAD_MAX || c->hdr_len + len + 4 > sizeof c->hdr)
        return s_refuse (c, 431, "the request head is over 8192 bytes");
    if (memchr (at, '\0', len))
        return s_refuse (c, 400, "a NUL byte in a header");
    if (c->open != kind) {
        if (!value) {
            if (++c->nhdr > PL_H1_HEADERS_MAX)
                return s_refuse (c, 431, "more than 64 header lines");
            if (c->phase == 1)
                c->hdr[c->hdr_len++] = '\0';    /* the last name's (empty) value */
            if (c->phase != 0)
                c->hdr[c->hdr_len++] = '\0';
        }
        else
        if (c->phase == 1)
            c->hdr[c->hdr_len++] = '\0';        /* ends the name */
        c->phase = kind;
    }
    memcpy (c->hdr + c->hdr_len, at, len);
    c->hdr_len += len;
    c->open = at + len == c->exec_end ? kind : 0;
    return 0;
}

static int
s_on_header_field (http_parser *p, const char *at, size_t len)
{
    return s_on_header ((pl_h1_conn_t *) p->data, at, len, false);
}

static int
s_on_header_value (http_parser *p, const char *at, size_t len)
{
    return s_on_header ((pl_h1_conn_t *) p->data, at, len, true);
}

/* Split the target into a decoded path and query arguments. */
static int
s_target (pl_h1_conn_t *c)
{
    struct http_parser_url u;
    http_parser_url_init (&u);
    if (c->url_len == 0 || c->url[0] != '/'
    ||  http_parser_parse_url (c->url, c->url_len, 0, &u) != 0)
        return s_refuse (c, 400, "the request target must be an absolute path");
    const char *path = c->url + u.field_data[UF_PATH].off;
    long n = pl_h1__decode (path, u.field_data[UF_PATH].len, c->dec, false);
    if (n < 0)
        return s_refuse (c, 400, "a bad or NUL %-escape in the path");
    c->req.path = c->dec;
    c->req.nquery = 0;
    size_t at = (size_t) n + 1;
    if (u.field_set & (1 << UF_QUERY)) {
        const char *q = c->url + u.field_data[UF_QUERY].off;
        const char *end = q + u.field_data[UF_QUERY].len;
        while (q < end && c->req.nquery < PL_H1_QUERY_MAX) {
            const char *amp = memchr (q, '&', (size_t) (end - q));
            size_t len = (size_t) ((amp ? amp : end) - q);
            if (len > 0) {
                long m = pl_h1__decode (q, len, c->dec + at, true);
                if (m < 0)
                    return s_refuse (c, 400, "a bad or NUL %-escape in the query");
                c->query[c->req.nquery++] = c->dec + at;
                at += (size_t) m + 1;
            }
            q += len + 1;
        }
    }
    c->req.query = c->query;
    return 0;
}

static int
s_on_headers_complete (http_parser *p)
{
    pl_h1_conn_t *c = (pl_h1_conn_t *) p->data;
    pl_h1_t *h1 = c->h1;
    if (c->phase == 1)
        c->hdr[c->hdr_len++] = '\0';            /* an empty last value */
    if (c->phase != 0)
        c->hdr[c->hdr_len++] = '\0';
    c->open = 0;
    if (!pl_h1__method_allowed (p->method))
        return s_refuse (c, 405, "method not allowed");
    if (s_target (c))
        return -1;
    c->req.method = http_method_str ((enum http_method) p->method);
    c->req.head = p->method == HTTP_HEAD;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    c->req.length = (p->flags & F_CONTENTLENGTH) ? (long long) p->content_length : -1;
    c->req.body_coming = chunked || c->req.length > 0;
    c->req.body = NULL;
    c->req.body_len = 0;
    /* Connection: close, or HTTP/1.0 (whose keep-alive needs a header
     * back that nobody asks for any more): the answer closes */
    if (!http_should_keep_alive (p) || p->http_minor == 0)
        c->close = true;
    const char *upgrade = pl_h1_header (c, "upgrade");
    c->websocket = upgrade && strcasecmp (upgrade, "websocket") == 0 && p->method == HTTP_GET;
    if (c->websocket && h1->handlers.upgrade (h1->arg, &c->req))
        return 0;                   /* handed to lws once the head is complete */
    c->websocket = false;
    h1->handlers.head (h1->arg, c, &c->req);
    if (c->answered) {
        /* refused at the head: drop a body we can afford to read */
        bool drain = c->req.length >= 0
                  && c->req.length <= PL_H1_DRAIN_FACTOR * (long long) h1->max_body;
        if (c->req.body_coming && !drain) {
            c->close = true;
            return 2;               /* no body: the head is all we read */
        }
        c->state = S_DRAIN;
    }
    else
        c->state = S_BODY;
    return 0;
}

static int
s_on_body (http_parser *p, const char *at, size_t len)
{
    pl_h1_conn_t *c = (pl_h1_conn_t *) p->data;
    if (c->state == S_DRAIN)
        return 0;
    if (c->body_len + len > (size_t) c->h1->max_body)
        return s_refuse (c, 413, "the body is over PARLEY_MAX_PAYLOAD bytes");
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        while (cap < c->body_len + len)
            cap *= 2;
        char *body = realloc (c->body, cap);
        if (!body)
            return s_refuse (c, 500, "out of memory");
        c->body = body;
        c->body_cap = cap;
    }
    memcpy (c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int
s_on_message_complete (http_parser *p)
{
    pl_h1_conn_t *c = (pl_h1_conn_t *) p->data;
    c->complete = true;
    http_parser_pause (p, 1);       /* one request at a time */
    return 0;
}

static const http_parser_settings s_settings = {
    .on_message_begin = s_on_message_begin,
    .on_url = s_on_url,
    .on_header_field = s_on_header_field,
    .on_header_value = s_on_header_value,
    .on_headers_complete = s_on_headers_complete,
    .on_body = s_on_body,
    .on_message_complete = s_on_message_complete,
};

/* ---- answers ---------------------------------------------------------- */

/* The answer: its head in out, its body copied after it or shared. */
static int
s_respond (pl_h1_conn_t *c, int status, const pl_h1_extra_t *extra,
           const char *body, size_t len, pl_h1_body_t *shared)
{
    int rc = -1;
    if (c->answered || c->state == S_WRITE || c->state == S_LINGER)
        goto cleanup;
    if (extra && extra->close)
        c->close = true;
    const char *allow = extra && extra->allow ? extra->allow : NULL;
    const char *retry = extra && extra->retry_after ? extra->retry_after : NULL;
    const char *type = extra && extra->content_type ? extra->content_type : "application/json";
    const char *cache = extra && extra->cache_control ? extra->cache_control : "no-store";
    const char *more = c->more ? c->more : "";
    if (status == 304) {                    /* no body, no length or type of one */
        type = NULL;
        body = NULL;
        shared = NULL;
        len = 0;
    }
    size_t room = 256 + (allow ? strlen (allow) : 0) + (retry ? strlen (retry) : 0)
                + (type ? strlen (type) : 0) + strlen (cache) + strlen (more) + len;
    free (c->out);
    pl_h1_body_unref (&c->shared);
    if (shared)
        len = shared->len;                  /* room: the head alone */
    if (!(c->out = malloc (room)))
        goto cleanup;
    char length[48] = "";
    if (status != 304)
        snprintf (length, sizeof length, "Content-Length: %zu\r\n", len);
    int n = snprintf (c->out, room,
                      "HTTP/1.1 %d %s\r\n%s%s%s"
                      "%sCache-Control: %s\r\n%s%s%s%s%s%s%s%s\r\n",
                      status, pl_h1__reason (status), type ? "Content-Type: " : "",
                      type ? type : "", type ? "\r\n" : "", length, cache,
                      allow ? "Allow: " : "", allow ? allow : "", allow ? "\r\n" : "",
                      retry ? "Retry-After: " : "", retry ? retry : "", retry ? "\r\n" : "",
                      more, c->close ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t) n + (shared ? 0 : len) >= room)
        goto cleanup;
    c->out_len = (size_t) n;
    if (shared && len && !c->req.head) {    /* HEAD: the length, no body */
        c->shared = shared;
        shared->refs++;
    }
    else if (body && len && !c->req.head) {
        memcpy (c->out + c->out_len, body, len);
        c->out_len += len;
    }
    c->out_off = 0;
    c->answered = true;
    rc = 0;
    /* a later answer goes now; one given inside a callback goes when
     * s_pump is back in charge (no re-entry into the handlers) */
    if (c->state == S_WAIT && !c->in_handler && s_write (c))
        s_pump (c);
cleanup:
    return rc;
}

int
pl_h1_respond (pl_h1_conn_t *c, int status, const pl_h1_extra_t *extra,
               const char *body, size_t len)
{
    return s_respond (c, status, extra, body, len, NULL);
}

int
pl_h1_respond_shared (pl_h1_conn_t *c, int status, const pl_h1_extra_t *extra,
                      pl_h1_body_t *body)
{
    return s_respond (c, status, extra, NULL, 0, body);
}

/* A refusal from pl_h1 itself, in the gateway's error shape; it closes the
 * connection, since what follows cannot be trusted to be in step. */
static void
s_refusal (pl_h1_conn_t *c, int status, const char *why)
{
    pl_h1_t *h1 = c->h1;
    char body[256];
    int n = snprintf (body, sizeof body,
                      "{\"success\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                      status == 408 ? "TIMEOUT" : status >= 500 ? "INTERNAL" : "VALIDATION_ERROR",
                      why);
    pl_h1_extra_t extra = { status == 405 ? s_methods_allowed : NULL, NULL, true, NULL, NULL };
    /* a flood must not fill the disk */
    pl_log_limited (&h1->log, (int64_t) (ev_now (h1->loop) * 1000), S_LOG_PER_S,
                    "http refusal lines", PL_LOG_INFO, "http: %s: %d %s",
                    pl_h1_peer (c), status, why);
    c->answered = false;            /* it replaces any answer not yet sent */
    c->state = S_HEAD;
    c->rlen = c->parsed = 0;
    if (pl_h1_respond (c, status, &extra, body, (size_t) n) == 0)
        s_write (c);
    else
        s_close (c);
}

/* ---- the connection --------------------------------------------------- */

static void
s_close (pl_h1_conn_t *c)
{
    pl_h1_t *h1 = c->h1;
    ev_io_stop (h1->loop, &c->rio);
    ev_io_stop (h1->loop, &c->wio);
    ev_timer_stop (h1->loop, &c->timer);
    if (c->user && h1->handlers.closed)
        h1->handlers.closed (h1->arg, c);
    if (c->fd >= 0)
        close (c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        h1->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h1->count--;
    free (c->body);
    free (c->more);
    free (c->out);
    pl_h1_body_unref (&c->shared);
    free (c);
}

/* The answer is out: linger and close, or get ready for the next request.
 * Returns true in the second case. */
static bool
s_next (pl_h1_conn_t *c)
{
    pl_h1_t *h1 = c->h1;
    ev_io_stop (h1->loop, &c->wio);
    free (c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    pl_h1_body_unref (&c->shared);
    if (c->close) {
        /* lingering close: the peer may still be sending what we did not
         * read, and closing with unread input answers it with RST, which
         * can destroy our answer before the peer reads it */
        c->state = S_LINGER;
        shutdown (c->fd, SHUT_WR);
        c->rlen = c->parsed = 0;
        s_deadline (c, S_LINGER_S);
        ev_io_start (h1->loop, &c->rio);
        return false;
    }
    free (c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    free (c->more);
    c->more = NULL;
    c->answered = c->complete = false;
    c->refuse = 0;
    c->state = S_HEAD;
    http_parser_init (&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    s_deadline (c, S_IDLE_S);
    ev_io_start (h1->loop, &c->rio);
    return true;
}

/* Write the answer. Returns true when it is out and the connection waits
 * for its next request; false when it is still going out (the writable
 * watcher finishes it), lingering, or closed. */
static bool
s_write (pl_h1_conn_t *c)
{
    c->state = S_WRITE;
    ev_io_stop (c->h1->loop, &c->rio);      /* nothing is parsed meanwhile */
    size_t total = c->out_len + (c->shared ? c->shared->len : 0);
    while (c->out_off < total) {
        const char *from = c->out_off < c->out_len ? c->out + c->out_off
                         : c->shared->data + (c->out_off - c->out_len);
        size_t left = c->out_off < c->out_len ? c->out_len - c->out_off : total - c->out_off;
        ssize_t n = send (c->fd, from, left, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s_deadline (c, S_WRITE_S);
            ev_io_start (c->h1->loop, &c->wio);
            return false;
        }
        s_close (c);                /* the peer is gone */
        return false;
    }
    return s_next (c);
}

/* Hand the connection over with every byte read so far: the upgrade head
 * (kept whole in rbuf while it was parsed) and anything after it. */
static void
s_handoff (pl_h1_conn_t *c)
{
    pl_h1_t *h1 = c->h1;
    int fd = c->fd;
    ev_io_stop (h1->loop, &c->rio);
    ev_timer_stop (h1->loop, &c->timer);
    c->fd = -1;
    h1->handlers.handoff (h1->arg, fd, c->rbuf, c->rlen);
    s_close (c);
}

static const char *
s_parse_error (enum http_errno err, int *status)
{
    *status = 400;
    switch (err) {
        case HPE_INVALID_METHOD:
            *status = 405;
            return "method not allowed";
        case HPE_UNEXPECTED_CONTENT_LENGTH:
            return "a request may not have both Content-Length and Transfer-Encoding";
        case HPE_INVALID_TRANSFER_ENCODING:
            return "Transfer-Encoding must end in chunked";
        case HPE_INVALID_CONTENT_LENGTH:
            return "bad Content-Length";
        case HPE_HEADER_OVERFLOW:
            *status = 431;
            return "the request head is over 8192 bytes";
        default:
            return "malformed HTTP/1.1 request";
    }
}

/* Parse what is buffered, one request at a time, handing each complete one
 * to the handler; stops when a request waits for its answer or its bytes
 * have not all arrived. */
static void
s_pump (pl_h1_conn_t *c)
{
    while ((c->state == S_HEAD || c->state == S_BODY || c->state == S_DRAIN)
    &&     c->parsed < c->rlen) {
        c->exec_end = c->rbuf + c->rlen;
        size_t n = http_parser_execute (&c->parser, &s_settings, c->rbuf + c->parsed,
                                        c->rlen - c->parsed);
        c->parsed += n;
        enum http_errno err = HTTP_PARSER_ERRNO (&c->parser);
        if (c->websocket && c->complete) {
            s_handoff (c);
            return;
        }
        if (err == HPE_PAUSED)
            http_parser_pause (&c->parser, 0);  /* s_next starts a fresh one */
        else
        if (err != HPE_OK) {
            int status;
            const char *why = s_parse_error (err, &status);
            if (c->refuse) {
                status = c->refuse;
                why = c->refuse_why;
            }
            else
            if (status == 431 && c->nhdr == 0)
                status = 414;
            s_refusal (c, status, why);
            return;
        }
        if (c->state != S_HEAD || c->complete) {
            /* the head is behind us: its bytes are needed no more */
            memmove (c->rbuf, c->rbuf + c->parsed, c->rlen - c->parsed);
            c->rlen -= c->parsed;
            c->parsed = 0;
        }
        if (!c->complete)
            continue;                   /* all taken: wait for more input */
        if (!c->answered) {
            c->req.body = c->body;
            c->req.body_len = c->body_len;
            c->state = S_WAIT;
            s_deadline (c, S_ANSWER_S);
            /* the read watcher stays on: a peer that goes away while its
             * request waits (a cancelled long-poll) is seen now, not at
             * the answer; what it pipelines meanwhile waits in rbuf */
            c->in_handler = true;
            c->h1->handlers.request (c->h1->arg, c, &c->req);
            c->in_handler = false;
            if (!c->answered)
                return;                 /* it answers later */
        }
        if (!s_write (c))
            return;
    }
}

/* libev watcher, gateway loop: the socket is readable. */
static void
s_on_readable (struct ev_loop *loop, ev_io *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_h1_conn_t *c = (pl_h1_conn_t *) w->data;
    if (c->state == S_LINGER) {
        char drop[4096];
        ssize_t n = recv (c->fd, drop, sizeof drop, 0);
        c->rlen += n > 0 ? (size_t) n : 0;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->rlen > S_LINGER_BYTES)
            s_close (c);
        return;
    }
    if (c->rlen == sizeof c->rbuf) {
        if (c->state == S_HEAD && !c->complete) {
            s_refusal (c, 431, "the request head is over 8192 bytes");
            return;
        }
        ev_io_stop (loop, w);       /* full: wait until the request is done */
        return;
    }
    ssize_t n = recv (c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* the peer is done sending (or gone): a request still being read
         * cannot end, and between requests there is nothing to wait for */
        s_close (c);
        return;
    }
    c->rlen += (size_t) n;
    s_pump (c);
}

/* libev watcher, gateway loop: the socket is writable again. */
static void
s_on_writable (struct ev_loop *loop, ev_io *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_h1_conn_t *c = (pl_h1_conn_t *) w->data;
    if (s_write (c))
        s_pump (c);
}

/* libev timer, gateway loop: the current phase took too long. */
static void
s_on_timer (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_h1_conn_t *c = (pl_h1_conn_t *) w->data;
    bool mid_request = (c->state == S_HEAD && (c->url_len > 0 || c->rlen > 0))
                    || c->state == S_BODY || c->state == S_DRAIN;
    if (mid_request)
        s_refusal (c, 408, "the request was not complete in time");
    else
        s_close (c);                /* idle, a stuck answer, a slow reader */
}

void
pl_h1_adopt (pl_h1_t *self, int fd)
{
    pl_h1_conn_t *c = malloc (sizeof *c);
    if (c)
        memset (c, 0, offsetof (pl_h1_conn_t, dec));
    if (!c) {
        close (fd);
        return;
    }
    c->h1 = self;
    c->fd = fd;
    c->state = S_HEAD;
    http_parser_init (&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    ev_io_init (&c->rio, s_on_readable, fd, EV_READ);
    ev_io_init (&c->wio, s_on_writable, fd, EV_WRITE);
    ev_timer_init (&c->timer, s_on_timer, S_IDLE_S, 0.);
    c->rio.data = c->wio.data = c->timer.data = c;
    c->next = self->conns;
    if (self->conns)
        self->conns->prev = c;
    self->conns = c;
    self->count++;
    ev_io_start (self->loop, &c->rio);
    ev_timer_start (self->loop, &c->timer);
}

int
pl_h1_add_headers (pl_h1_conn_t *c, const char *lines)
{
    int rc = -1;
    size_t had = c->more ? strlen (c->more) : 0, len = strlen (lines);
    char *more = realloc (c->more, had + len + 1);
    if (!more)
        goto cleanup;
    memcpy (more + had, lines, len + 1);
    c->more = more;
    rc = 0;
cleanup:
    return rc;
}

const char *
pl_h1_header_next (pl_h1_conn_t *c, const char *name, const char *prev)
{
    /* "name\0value\0" pairs; names compare case-insensitively (RFC 9110 §5.1) */
    const char *p = prev ? prev + strlen (prev) + 1 : c->hdr, *end = c->hdr + c->hdr_len;
    assert (!prev || (prev > c->hdr && prev < end));
    while (p < end) {
        const char *value = p + strlen (p) + 1;
        if (value >= end)
            break;
        if (strcasecmp (p, name) == 0)
            return value;
        p = value + strlen (value) + 1;
    }
    return NULL;
}

const char *
pl_h1_header (pl_h1_conn_t *c, const char *name)
{
    return pl_h1_header_next (c, name, NULL);
}

void
pl_h1_set_user (pl_h1_conn_t *c, void *user)
{
    c->user = user;
}

void *
pl_h1_user (pl_h1_conn_t *c)
{
    return c->user;
}

/* Looked up when first asked (for a log line), not on every connect. */
const char *
pl_h1_peer (pl_h1_conn_t *c)
{
    if (!c->peer[0]) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        char host[INET6_ADDRSTRLEN] = "?";
        if (getpeername (c->fd, (struct sockaddr *) &sa, &sl) == 0) {
            if (sa.ss_family == AF_INET6)
                inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &sa)->sin6_addr, host, sizeof host);
            else
            if (sa.ss_family == AF_INET)
                inet_ntop (AF_INET, &((struct sockaddr_in *) &sa)->sin_addr, host, sizeof host);
        }
        snprintf (c->peer, sizeof c->peer, "%s", host);
    }
    return c->peer;
}

size_t
pl_h1_count (pl_h1_t *self)
{
    return self->count;
}

pl_h1_t *
pl_h1_new (struct ev_loop *loop, long max_body, const pl_h1_handlers_t *handlers, void *arg)
{
    pl_h1_t *self = calloc (1, sizeof *self);
    if (self) {
        self->loop = loop;
        self->max_body = max_body;
        self->handlers = *handlers;
        self->arg = arg;
        /* the parser's own bound, a little over ours, so ours speaks first */
        http_parser_set_max_header_size (PL_H1_HEAD_MAX + 1024);
    }
    return self;
}

void
pl_h1_destroy (pl_h1_t **self_p)
{
    assert (self_p);
    pl_h1_t *self = *self_p;
    if (self) {
        while (self->conns)
            s_close (self->conns);
        free (self);
        *self_p = NULL;
    }
}
