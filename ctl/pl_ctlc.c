/*  pl_ctlc - parleyctl's gateway client, on the lws client API.
 *
 *  One lws context with one connection at a time. The public calls are
 *  blocking: each is a phase with one deadline (s_begin), and every wait in it
 *  arms a timer for what is left of that deadline, then runs lws_service
 *  until the callback has produced what the call waits for. The callback
 *  (lws loop, which is also the caller's thread) only moves bytes: it
 *  gathers a WebSocket message (bounded), answers Engine.IO pings, and
 *  queues the other messages for the blocking calls to interpret, so the
 *  protocol steps read top to bottom in pl_ctlc_connect / _call / _next.
 *
 *  Writes follow lws: queue the message, ask for writeable, write one
 *  message per WRITEABLE callback.
 */
#include "pl_ctlc.h"
#include "pl_ctlc_int.h"
#include "pl_proto.h"
#include "pl_sio.h"

#include <assert.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PL_CTLC_OUTQ 16             /* messages waiting to be written         */
#define PL_CTLC_INQ  4096           /* messages received, not yet read        */
/* One budget for every message received and not yet used: the unread
 * (inq) and the events held while a call waited (held) together. */
#define PL_CTLC_INQ_BYTES (64u * 1024 * 1024)
#define PL_CTLC_HELD 4096           /* events pushed while a call waited      */

typedef enum { S_IDLE, S_CONNECTING, S_OPEN, S_CLOSED } s_state_t;

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
    s_state_t state;                /* of the connection                      */
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

/* ---- helpers ----------------------------------------------------------- */

/* A byte a terminal may act on: C0 controls and DEL */
static bool
s_control (char c)
{
    return (unsigned char) c < 0x20 || c == 0x7f;
}

void
pl_ctlc_printable (char *out, size_t size, const char *text, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    if (n > PL_CTLC_PRINTABLE)
        n = PL_CTLC_PRINTABLE;
    for (size_t i = 0; i < n; i++)
        out[i] = s_control (text[i]) ? '?' : text[i];
    out[n] = 0;
}

void
pl_ctlc_sanitize (char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s_control (text[i]) && text[i] != '\n' && text[i] != '\t')
            text[i] = '?';
}

static long long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start a phase: every timed wait until the next one shares its deadline,
 * however many messages come meanwhile. */
static void
s_begin (pl_ctlc_t *self, const char *phase)
{
    self->deadline_ms = s_now_ms () + self->timeout_ms;
    self->phase = phase;
}

/* What is left of the phase, in ms (0 when it is over). */
static long
s_left_ms (const pl_ctlc_t *self)
{
    long long left = self->deadline_ms - s_now_ms ();
    return left > 0 ? (long) left : 0;
}

static void
s_fail (pl_ctlc_t *self, int rc, const char *fmt, const char *arg)
{
    /* a message cut at sizeof error is still the message */
    if (snprintf (self->error, sizeof self->error, fmt, self->addr.url, arg ? arg : "") < 0)
        self->error[0] = 0;
    self->close_rc = rc;
}

static void
s_clear_queues (pl_ctlc_t *self)
{
    for (; self->out_count; self->out_count--) {
        free (self->outq[self->out_head]);
        self->out_head = (self->out_head + 1) % PL_CTLC_OUTQ;
    }
    for (; self->in_count; self->in_count--) {
        free (self->inq[self->in_head]);
        self->in_head = (self->in_head + 1) % PL_CTLC_INQ;
    }
    self->in_bytes = 0;
    for (; self->held_count; self->held_count--) {
        free (self->held[self->held_head]);
        self->held_head = (self->held_head + 1) % PL_CTLC_HELD;
    }
    self->held_bytes = 0;
    free (self->body);
    self->body = NULL;
    self->body_len = self->body_cap = 0;
}

/* Append to self->body, bounded by max. -1 past it or on OOM. */
static int
s_append (pl_ctlc_t *self, const void *data, size_t len, size_t max)
{
    int rc = -1;
    if (len > max - self->body_len)
        goto cleanup;
    if (self->body_len + len + 1 > self->body_cap) {
        size_t cap = self->body_cap ? self->body_cap : 4096;
        while (cap < self->body_len + len + 1)
            cap *= 2;
        char *grown = realloc (self->body, cap);
        if (!grown)
            goto cleanup;
        self->body = grown;
        self->body_cap = cap;
    }
    memcpy (self->body + self->body_len, data, len);
    self->body_len += len;
    self->body[self->body_len] = 0;
    rc = 0;
cleanup:
    return rc;
}

/* Queue text (a new string, taken) for writing. -1 when the queue is full. */
static int
s_send (pl_ctlc_t *self, char *text)
{
    int rc = -1;
    char *buf = NULL;
    if (!text || self->out_count == PL_CTLC_OUTQ || !self->wsi)
        goto cleanup;
    size_t len = strlen (text);
    buf = malloc (LWS_PRE + len + 1);
    if (!buf)
        goto cleanup;
    memcpy (buf + LWS_PRE, text, len + 1);
    unsigned slot = (self->out_head + self->out_count) % PL_CTLC_OUTQ;
    self->outq[slot] = buf;
    self->outq_len[slot] = len;
    self->out_count++;
    buf = NULL;
    lws_callback_on_writable (self->wsi);
    rc = 0;
cleanup:
    free (buf);
    free (text);
    return rc;
}

/* A complete WebSocket message from the server (lws loop). Pings are
 * answered here; the rest waits in inq. -1 closes the connection. */
static int
s_on_message (pl_ctlc_t *self)
{
    int rc = -1;
    pl_sio_packet_t pkt;
    const char *why = NULL;
    if (pl_sio_parse_server (self->body, self->body_len, &pkt, &why) != 0) {
        char shown[PL_CTLC_PRINTABLE + 1];
        pl_ctlc_printable (shown, sizeof shown, self->body, self->body_len);
        char detail[PL_CTLC_PRINTABLE + 128];
        snprintf (detail, sizeof detail, "%s: '%s'", why, shown);
        s_fail (self, PL_CTLC_LOST, "%s sent an invalid packet (%s)", detail);
        goto cleanup;
    }
    bool ping = pkt.eio == PL_EIO_PING, close = pkt.eio == PL_EIO_CLOSE;
    pl_sio_packet_clear (&pkt);
    if (ping) {
        if (s_send (self, strdup ("3")) != 0) {
            s_fail (self, PL_CTLC_LOST, "%s: cannot answer a ping%s", NULL);
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    if (close) {
        s_fail (self, PL_CTLC_LOST, "%s closed the session%s", NULL);
        goto cleanup;
    }
    if (self->in_count == PL_CTLC_INQ
    ||  self->body_len > PL_CTLC_INQ_BYTES - (self->in_bytes + self->held_bytes)) {
        s_fail (self, PL_CTLC_LOST, "%s sent more than parleyctl keeps unread (%s)",
                "64 MB, or 4096 messages");
        goto cleanup;
    }
    unsigned slot = (self->in_head + self->in_count) % PL_CTLC_INQ;
    self->inq[slot] = self->body;               /* taken */
    self->inq_len[slot] = self->body_len;
    self->in_count++;
    self->in_bytes += self->body_len;
    self->body = NULL;
    self->body_len = self->body_cap = 0;
    rc = 0;
cleanup:
    return rc;
}

/* The one lws callback, for the HTTP GET and the WebSocket (lws loop, on
 * the caller's thread inside lws_service). */
static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void) user;
    int rc = 0;
    pl_ctlc_t *self = lws_context_user (lws_get_context (wsi));
    /* one connection at a time: nothing of ours is alive outside these
     * states (the context's own wsis only bring reasons not handled) */
    if (!self || self->state == S_IDLE || self->state == S_CLOSED)
        goto cleanup;
    switch (reason) {
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            /* an HTTP answer that is no upgrade: the server said no */
            if (self->close_rc == PL_CTLC_OK && !self->http
            &&  lws_http_client_http_response (wsi) > 0) {
                char st[16];
                snprintf (st, sizeof st, "%u", lws_http_client_http_response (wsi));
                s_fail (self, PL_CTLC_ERROR, "%s refused the WebSocket upgrade (HTTP %s): "
                                             "is PARLEY_PATH the gateway's?", st);
            }
            /* the message is made in s_wait, out of the callback */
            if (self->close_rc == PL_CTLC_OK) {
                snprintf (self->lws_why, sizeof self->lws_why, "%s",
                          in ? (const char *) in : "connection failed");
                self->error[0] = 0;
                self->close_rc = PL_CTLC_UNREACHABLE;
            }
            self->state = S_CLOSED;
            self->wsi = NULL;
            break;
        case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
            self->status = (int) lws_http_client_http_response (wsi);
            break;
        case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
            char buf[LWS_PRE + 4096];
            char *p = buf + LWS_PRE;
            int n = (int) sizeof buf - LWS_PRE;
            if (lws_http_client_read (wsi, &p, &n) < 0)
                rc = -1;
            break;
        }
        case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
            if (s_append (self, in, len, PL_CTLC_BODY_MAX) != 0) {
                char max[32];
                snprintf (max, sizeof max, "%u", PL_CTLC_BODY_MAX);
                s_fail (self, PL_CTLC_LOST, "%s sent a body over %s bytes", max);
                rc = -1;
            }
            break;
        case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
            self->http_done = true;
            break;
        case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
            /* a body without a length ends with the connection */
            if (!self->http_done && self->status > 0 && self->close_rc == PL_CTLC_OK)
                self->http_done = true;
            else
            if (!self->http_done && self->close_rc == PL_CTLC_OK)
                s_fail (self, PL_CTLC_LOST, "%s closed the connection before answering%s",
                        NULL);
            self->state = S_CLOSED;
            self->wsi = NULL;
            break;
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            self->state = S_OPEN;
            break;
        case LWS_CALLBACK_CLIENT_RECEIVE:
            if (lws_frame_is_binary (wsi)) {
                s_fail (self, PL_CTLC_LOST, "%s sent a binary message%s", NULL);
                rc = -1;
                break;
            }
            if (s_append (self, in, len, PL_CTLC_MSG_MAX) != 0) {
                s_fail (self, PL_CTLC_LOST, "%s sent a message over parleyctl's limit%s", NULL);
                rc = -1;
                break;
            }
            if (lws_is_final_fragment (wsi) && !lws_remaining_packet_payload (wsi)
            &&  s_on_message (self) != 0)
                rc = -1;
            break;
        case LWS_CALLBACK_CLIENT_WRITEABLE:
            if (self->out_count) {
                unsigned slot = self->out_head;
                int n = lws_write (wsi, (unsigned char *) self->outq[slot] + LWS_PRE,
                                   self->outq_len[slot], LWS_WRITE_TEXT);
                free (self->outq[slot]);
                self->out_head = (slot + 1) % PL_CTLC_OUTQ;
                self->out_count--;
                if (n < 0) {
                    s_fail (self, PL_CTLC_LOST, "%s: write failed%s", NULL);
                    rc = -1;
                }
                else
                if (self->out_count)
                    lws_callback_on_writable (wsi);
            }
            break;
        case LWS_CALLBACK_CLIENT_CLOSED:
            if (self->close_rc == PL_CTLC_OK)
                s_fail (self, PL_CTLC_LOST, "%s closed the connection%s", NULL);
            self->state = S_CLOSED;
            self->wsi = NULL;
            break;
        default:
            break;
    }
cleanup:
    return rc;
}

static const struct lws_protocols s_protocols[] = {
    { "parleyctl", s_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The wait's timer (lws loop). lws 4.1 runs ripe timers at the start of
 * lws_service, then polls for the next one: without a wake-up the poll
 * would go on to the next timer (lws's own, ~30 s) before s_wait sees the
 * flag. lws_cancel_service makes that poll return at once. */
static void
s_on_timeout (lws_sorted_usec_list_t *sul)
{
    pl_ctlc_t *self = lws_container_of (sul, pl_ctlc_t, sul);
    self->timed_out = true;
    lws_cancel_service (self->ctx);
}

/* Run the loop until what (0: the connection is open or closed, 1: a GET
 * is done, 2: a message waits) or the timeout (timed) or *stop. Returns
 * PL_CTLC_OK when it came. */
static int
s_wait (pl_ctlc_t *self, int what, bool timed)
{
    int rc = PL_CTLC_OK;
    self->timed_out = false;
    if (timed) {
        /* the phase's deadline, not a fresh timeout: a message that is
         * not the answer (a NOOP, a push, another ack) gains no time */
        long left = s_left_ms (self);
        if (left == 0)
            self->timed_out = true;
        else
            lws_sul_schedule (self->ctx, 0, &self->sul, s_on_timeout,
                              (lws_usec_t) left * LWS_US_PER_MS);
    }
    while (true) {
        if (what == 1 && self->http_done)
            break;
        if (what == 2 && self->in_count)
            break;
        if (self->state == S_CLOSED) {
            rc = self->close_rc != PL_CTLC_OK ? self->close_rc : PL_CTLC_LOST;
            if (rc == PL_CTLC_UNREACHABLE && self->error[0] == 0) {
                char why[128];
                pl_ctlc__connect_errno (&self->addr, s_left_ms (self) + 1, why, sizeof why);
                s_fail (self, rc, "cannot connect to %s: %s", *why ? why : self->lws_why);
            }
            if (self->close_rc == PL_CTLC_OK)
                s_fail (self, PL_CTLC_LOST, "%s closed the connection%s", NULL);
            break;
        }
        if (what == 0 && self->state == S_OPEN)
            break;
        if (self->stop && *self->stop) {
            rc = PL_CTLC_STOPPED;
            snprintf (self->error, sizeof self->error, "interrupted");
            break;
        }
        if (self->timed_out) {
            char ms[96];
            snprintf (ms, sizeof ms, "%ld ms (%s)", self->timeout_ms, self->phase);
            s_fail (self, PL_CTLC_UNREACHABLE, "no answer from %s in %s", ms);
            rc = PL_CTLC_UNREACHABLE;
            break;
        }
        if (lws_service (self->ctx, 0) < 0) {
            s_fail (self, PL_CTLC_LOST, "%s: the event loop failed%s", NULL);
            rc = PL_CTLC_LOST;
            break;
        }
    }
    if (timed)
        lws_sul_cancel (&self->sul);
    return rc;
}

/* Start a connection to path (a GET, or a WebSocket upgrade). */
static int
s_open (pl_ctlc_t *self, const char *path, bool http)
{
    int rc = PL_CTLC_OK;
    if (self->state != S_IDLE) {
        snprintf (self->error, sizeof self->error, "one connection per pl_ctlc_t");
        rc = PL_CTLC_USAGE;
        goto cleanup;
    }
    struct lws_client_connect_info info;
    memset (&info, 0, sizeof info);
    info.context = self->ctx;
    info.address = self->addr.host;
    info.port = self->addr.port;
    info.path = path;
    info.host = self->addr.host;
    info.origin = self->addr.host;
    info.method = http ? "GET" : NULL;
    /* the answer is the gateway's: a redirect is shown, never followed */
    info.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
    info.pwsi = &self->wsi;
    info.local_protocol_name = s_protocols[0].name;
    self->http = http;
    self->state = S_CONNECTING;
    self->close_rc = PL_CTLC_OK;
    if (!lws_client_connect_via_info (&info)) {
        /* a failure reported at once also came through the callback */
        if (self->close_rc == PL_CTLC_OK || self->error[0] == 0) {
            char why[128];
            pl_ctlc__connect_errno (&self->addr, s_left_ms (self) + 1, why, sizeof why);
            s_fail (self, PL_CTLC_UNREACHABLE, "cannot connect to %s: %s",
                    *why ? why : self->lws_why[0] ? self->lws_why : "connection failed");
        }
        self->state = S_CLOSED;
        self->wsi = NULL;
        rc = self->close_rc;
    }
cleanup:
    return rc;
}

/* Take the oldest received message: parse it into *pkt (the text is
 * returned in *text, *len bytes, for the caller to free after
 * pl_sio_packet_clear). */
static int
s_take (pl_ctlc_t *self, pl_sio_packet_t *pkt, char **text, size_t *len)
{
    unsigned slot = self->in_head;
    *text = self->inq[slot];
    *len = self->inq_len[slot];
    self->in_head = (slot + 1) % PL_CTLC_INQ;
    self->in_count--;
    self->in_bytes -= *len;
    /* it parsed in s_on_message, so it parses again */
    int rc = pl_sio_parse_server (*text, *len, pkt, NULL);
    assert (rc == 0);
    return rc;
}

/* ---- public ------------------------------------------------------------ */

pl_ctlc_t *
pl_ctlc_new (const char *url, long timeout_ms, volatile sig_atomic_t *stop, const char **why)
{
    pl_ctlc_t *self = calloc (1, sizeof *self);
    static const char *unused;
    if (!why)
        why = &unused;
    *why = "out of memory";
    if (!self)
        goto cleanup;
    assert (timeout_ms > 0);
    self->timeout_ms = timeout_ms;
    self->stop = stop;
    self->max_payload = PL_CTLC_MSG_MAX;
    if (pl_ctlc__parse_url (&self->addr, url, why) != 0) {
        free (self);
        self = NULL;
        goto cleanup;
    }
    lws_set_log_level (getenv ("PARLEYCTL_LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0,
                       NULL);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.user = self;
    info.fd_limit_per_thread = 8;       /* one connection, lws's own pipe */
    self->ctx = lws_create_context (&info);
    if (!self->ctx) {
        *why = "cannot start libwebsockets";
        pl_ctlc_destroy (&self);
    }
cleanup:
    return self;
}

void
pl_ctlc_destroy (pl_ctlc_t **self_p)
{
    assert (self_p);
    pl_ctlc_t *self = *self_p;
    if (self) {
        if (self->ctx)
            lws_context_destroy (self->ctx);
        s_clear_queues (self);
        free (self);
        *self_p = NULL;
    }
}

const char *
pl_ctlc_error (const pl_ctlc_t *self)
{
    return self->error;
}

const char *
pl_ctlc_url (const pl_ctlc_t *self)
{
    return self->addr.url;
}

void
pl_ctlc_wake (pl_ctlc_t *self)
{
    if (self && self->ctx)
        lws_cancel_service (self->ctx);
}

int
pl_ctlc_get (pl_ctlc_t *self, const char *path, int *status, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    *status = 0;
    s_begin (self, "the GET");
    int rc = s_open (self, path, true);
    if (rc == PL_CTLC_OK)
        rc = s_wait (self, 1, true);
    if (rc == PL_CTLC_OK && self->status <= 0) {
        s_fail (self, PL_CTLC_LOST, "%s sent no HTTP status%s", NULL);
        rc = PL_CTLC_LOST;
    }
    if (rc == PL_CTLC_OK) {
        if (!self->body && s_append (self, "", 0, 1) != 0) {
            rc = PL_CTLC_LOST;
            goto cleanup;
        }
        *status = self->status;
        *body = self->body;
        *len = self->body_len;
        self->body = NULL;
        self->body_len = self->body_cap = 0;
    }
cleanup:
    return rc;
}

int
pl_ctlc_connect (pl_ctlc_t *self, const char *eio_path, const char *token)
{
    pl_sio_packet_t pkt = { 0 };
    char *text = NULL;
    char path[512];
    int rc = PL_CTLC_USAGE;
    s_begin (self, "the connect");
    if (snprintf (path, sizeof path, "%s?EIO=4&transport=websocket", eio_path)
        >= (int) sizeof path)
        goto cleanup;
    size_t len;
    rc = s_open (self, path, false);
    if (rc == PL_CTLC_OK)
        rc = s_wait (self, 0, true);
    if (rc == PL_CTLC_OK)
        rc = s_wait (self, 2, true);
    if (rc != PL_CTLC_OK)
        goto cleanup;
    /* Engine.IO: the first message is the OPEN packet */
    s_take (self, &pkt, &text, &len);
    if (pkt.eio != PL_EIO_OPEN) {
        s_fail (self, PL_CTLC_LOST, "%s did not open an Engine.IO session%s", NULL);
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    const cJSON *max = cJSON_GetObjectItemCaseSensitive (pkt.json, "maxPayload");
    if (cJSON_IsNumber (max) && max->valuedouble >= 16 && max->valuedouble < PL_CTLC_MSG_MAX)
        self->max_payload = (long) max->valuedouble;
    pl_sio_packet_clear (&pkt);
    free (text);
    text = NULL;
    /* Socket.IO: CONNECT with the token, answered CONNECT or CONNECT_ERROR */
    if (s_send (self, pl_sio_encode_auth (token)) != 0) {
        s_fail (self, PL_CTLC_LOST, "%s: cannot send the token%s", NULL);
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    while (rc == PL_CTLC_OK) {
        rc = s_wait (self, 2, true);
        if (rc != PL_CTLC_OK)
            break;
        s_take (self, &pkt, &text, &len);
        if (pkt.sio == PL_SIO_CONNECT && pkt.nsp_len == 1)
            break;
        if (pkt.sio == PL_SIO_CONNECT_ERROR) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive (pkt.json, "message");
            char shown[PL_CTLC_PRINTABLE + 1] = "(no message)";
            if (cJSON_IsString (m))
                pl_ctlc_printable (shown, sizeof shown, m->valuestring, strlen (m->valuestring));
            s_fail (self, PL_CTLC_ERROR, "%s refused the connection: %s", shown);
            rc = PL_CTLC_ERROR;
        }
        else
        if (pkt.eio != PL_EIO_NOOP && pkt.eio != PL_EIO_PONG) {
            s_fail (self, PL_CTLC_LOST, "%s answered the CONNECT with something else%s", NULL);
            rc = PL_CTLC_LOST;
        }
        pl_sio_packet_clear (&pkt);
        free (text);
        text = NULL;
    }
cleanup:
    pl_sio_packet_clear (&pkt);
    free (text);
    return rc;
}

/* The next packet of a connected session, waited for (timed: within the
 * phase's deadline), in place of the previous one (*pkt cleared, *text
 * freed first; *len its bytes). A DISCONNECT or CONNECT_ERROR ends the
 * session (PL_CTLC_LOST). The caller clears the last *pkt, then frees
 * *text. */
static int
s_read (pl_ctlc_t *self, bool timed, pl_sio_packet_t *pkt, char **text, size_t *len)
{
    pl_sio_packet_clear (pkt);
    free (*text);
    *text = NULL;
    int rc = s_wait (self, 2, timed);
    if (rc != PL_CTLC_OK)
        goto cleanup;
    s_take (self, pkt, text, len);
    if (pkt->sio == PL_SIO_DISCONNECT || pkt->sio == PL_SIO_CONNECT_ERROR) {
        pl_sio_packet_clear (pkt);
        s_fail (self, PL_CTLC_LOST, "%s ended the Socket.IO session%s", NULL);
        rc = PL_CTLC_LOST;
    }
cleanup:
    return rc;
}

/* A pushed EVENT for tail: a named one, or one refused in pl_ctlc_next
 * (a NUL can hide its name). */
static bool
s_pushed (const pl_sio_packet_t *pkt)
{
    return pkt->sio == PL_SIO_EVENT && (pkt->event || pkt->nul);
}

/* Keep a pushed EVENT's text (*text, len bytes: taken, *text set to NULL)
 * for pl_ctlc_next. Its bytes stay in the budget of PL_CTLC_INQ_BYTES
 * that s_on_message checks. -1 when PL_CTLC_HELD already wait. */
static int
s_hold (pl_ctlc_t *self, char **text, size_t len)
{
    int rc = -1;
    if (self->held_count == PL_CTLC_HELD)
        goto cleanup;
    unsigned slot = (self->held_head + self->held_count) % PL_CTLC_HELD;
    self->held[slot] = *text;
    self->held_len[slot] = len;
    self->held_count++;
    self->held_bytes += len;
    *text = NULL;
    rc = 0;
cleanup:
    return rc;
}

int
pl_ctlc_call (pl_ctlc_t *self, const char *event, const cJSON *arg, cJSON **ack)
{
    pl_sio_packet_t pkt = { 0 };
    char *text = NULL;
    size_t len = 0;
    int rc = PL_CTLC_OK;
    *ack = NULL;
    s_begin (self, "the call");
    uint64_t id = self->next_ack++;
    char *packet = pl_sio_encode_event (id, event, arg);
    if (packet && (long) strlen (packet) > self->max_payload) {
        char max[32];
        snprintf (max, sizeof max, "%ld", self->max_payload);
        snprintf (self->error, sizeof self->error,
                  "the event is larger than the server's maxPayload (%s bytes)", max);
        free (packet);
        rc = PL_CTLC_USAGE;
        goto cleanup;
    }
    if (s_send (self, packet) != 0) {
        s_fail (self, PL_CTLC_LOST, "%s: cannot send the event%s", NULL);
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    while (!*ack && (rc = s_read (self, true, &pkt, &text, &len)) == PL_CTLC_OK) {
        if (pkt.sio == PL_SIO_ACK && pkt.ack_id == id) {
            /* printed as JSON, a string cut at a NUL would be another one */
            if (pkt.nul) {
                s_fail (self, PL_CTLC_LOST, "%s sent an ack holding a NUL (\\u0000)%s", NULL);
                rc = PL_CTLC_LOST;
                break;
            }
            const cJSON *first = cJSON_GetArrayItem (pkt.json, 0);
            *ack = first ? cJSON_Duplicate (first, true) : cJSON_CreateNull ();
            if (!*ack) {
                rc = PL_CTLC_LOST;
                snprintf (self->error, sizeof self->error, "out of memory");
                break;
            }
        }
        else
        if (s_pushed (&pkt) && s_hold (self, &text, len) != 0) {
            s_fail (self, PL_CTLC_LOST, "%s pushed too many events while parleyctl waited%s",
                    NULL);
            rc = PL_CTLC_LOST;
            break;
        }
    }
cleanup:
    pl_sio_packet_clear (&pkt);
    free (text);
    return rc;
}

/* The name and the arguments after it of an EVENT's JSON array. */
static int
s_split_event (const cJSON *packet, char **event, cJSON **args)
{
    int rc = -1;
    *event = strdup (cJSON_GetArrayItem (packet, 0)->valuestring);
    *args = cJSON_CreateArray ();
    if (!*event || !*args)
        goto cleanup;
    for (const cJSON *a = cJSON_GetArrayItem (packet, 1); a; a = a->next) {
        cJSON *copy = cJSON_Duplicate (a, true);
        if (!copy || !cJSON_AddItemToArray (*args, copy)) {
            cJSON_Delete (copy);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    if (rc != 0) {
        free (*event);
        *event = NULL;
        cJSON_Delete (*args);
        *args = NULL;
    }
    return rc;
}

int
pl_ctlc_next (pl_ctlc_t *self, char **event, cJSON **args)
{
    pl_sio_packet_t pkt = { 0 };
    char *text = NULL;
    size_t len = 0;
    int rc = PL_CTLC_OK;
    *event = NULL;
    *args = NULL;
    if (self->held_count) {
        unsigned slot = self->held_head;
        text = self->held[slot];
        len = self->held_len[slot];
        self->held_head = (slot + 1) % PL_CTLC_HELD;
        self->held_count--;
        self->held_bytes -= len;
        /* it parsed in s_on_message, so it parses again */
        rc = pl_sio_parse_server (text, len, &pkt, NULL);
        assert (rc == 0);
    }
    else
        while ((rc = s_read (self, false, &pkt, &text, &len)) == PL_CTLC_OK && !s_pushed (&pkt))
            ;
    if (rc != PL_CTLC_OK)
        goto cleanup;
    if (pkt.nul) {
        /* cJSON would cut the string at the NUL: an id printed cut would
         * be another id. Refused, the session goes on (not s_fail: the
         * connection's close_rc stays as it is). */
        char shown[PL_CTLC_PRINTABLE + 1] = "an event";
        if (pkt.event)
            pl_ctlc_printable (shown, sizeof shown, pkt.event, strlen (pkt.event));
        /* a message cut at sizeof error is still the message */
        if (snprintf (self->error, sizeof self->error,
                      "%s pushed %s holding a NUL (\\u0000): skipped", self->addr.url, shown) < 0)
            self->error[0] = 0;
        rc = PL_CTLC_ERROR;
        goto cleanup;
    }
    if (s_split_event (pkt.json, event, args) != 0) {
        snprintf (self->error, sizeof self->error, "out of memory");
        rc = PL_CTLC_LOST;
    }
cleanup:
    pl_sio_packet_clear (&pkt);
    free (text);
    return rc;
}
