/*  pl_ctlc - parleyctl's gateway client, on the lws client API.
 *
 *  One lws context with one connection at a time. The public calls are
 *  blocking: each is a phase with one deadline (pl_ctlc__begin), and every wait in it
 *  arms a timer for what is left of that deadline, then runs lws_service
 *  until the callback has produced what the call waits for. The callback
 *  (lws loop, which is also the caller's thread) only moves bytes: it
 *  gathers a WebSocket message (bounded), answers Engine.IO pings, and
 *  queues the other messages for the blocking calls to interpret, so the
 *  protocol steps read top to bottom in pl_ctlc_connect / _call / _next
 *  (pl_ctlc_sio.c).
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
void
pl_ctlc__begin (pl_ctlc_t *self, const char *phase)
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

void
pl_ctlc__fail (pl_ctlc_t *self, int rc, const char *fmt, const char *arg)
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
int
pl_ctlc__send (pl_ctlc_t *self, char *text)
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
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent an invalid packet (%s)", detail);
        goto cleanup;
    }
    bool ping = pkt.eio == PL_EIO_PING, close = pkt.eio == PL_EIO_CLOSE;
    pl_sio_packet_clear (&pkt);
    if (ping) {
        if (pl_ctlc__send (self, strdup ("3")) != 0) {
            pl_ctlc__fail (self, PL_CTLC_LOST, "%s: cannot answer a ping%s", NULL);
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    if (close) {
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s closed the session%s", NULL);
        goto cleanup;
    }
    if (self->in_count == PL_CTLC_INQ
    ||  self->body_len > PL_CTLC_INQ_BYTES - (self->in_bytes + self->held_bytes)) {
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent more than parleyctl keeps unread (%s)",
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
    if (!self || self->state == PL_CTLC__IDLE || self->state == PL_CTLC__CLOSED)
        goto cleanup;
    switch (reason) {
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            /* an HTTP answer that is no upgrade: the server said no */
            if (self->close_rc == PL_CTLC_OK && !self->http
            &&  lws_http_client_http_response (wsi) > 0) {
                char st[16];
                snprintf (st, sizeof st, "%u", lws_http_client_http_response (wsi));
                pl_ctlc__fail (self, PL_CTLC_ERROR, "%s refused the WebSocket upgrade (HTTP %s): "
                                                   "is PARLEY_PATH the gateway's?", st);
            }
            /* the message is made in pl_ctlc__wait, out of the callback */
            if (self->close_rc == PL_CTLC_OK) {
                snprintf (self->lws_why, sizeof self->lws_why, "%s",
                          in ? (const char *) in : "connection failed");
                self->error[0] = 0;
                self->close_rc = PL_CTLC_UNREACHABLE;
            }
            self->state = PL_CTLC__CLOSED;
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
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent a body over %s bytes", max);
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
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s closed the connection before answering%s",
                              NULL);
            self->state = PL_CTLC__CLOSED;
            self->wsi = NULL;
            break;
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            self->state = PL_CTLC__OPEN;
            break;
        case LWS_CALLBACK_CLIENT_RECEIVE:
            if (lws_frame_is_binary (wsi)) {
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent a binary message%s", NULL);
                rc = -1;
                break;
            }
            if (s_append (self, in, len, PL_CTLC_MSG_MAX) != 0) {
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent a message over parleyctl's limit%s",
                               NULL);
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
                    pl_ctlc__fail (self, PL_CTLC_LOST, "%s: write failed%s", NULL);
                    rc = -1;
                }
                else
                if (self->out_count)
                    lws_callback_on_writable (wsi);
            }
            break;
        case LWS_CALLBACK_CLIENT_CLOSED:
            if (self->close_rc == PL_CTLC_OK)
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s closed the connection%s", NULL);
            self->state = PL_CTLC__CLOSED;
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
 * would go on to the next timer (lws's own, ~30 s) before pl_ctlc__wait sees the
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
int
pl_ctlc__wait (pl_ctlc_t *self, int what, bool timed)
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
        if (self->state == PL_CTLC__CLOSED) {
            rc = self->close_rc != PL_CTLC_OK ? self->close_rc : PL_CTLC_LOST;
            if (rc == PL_CTLC_UNREACHABLE && self->error[0] == 0) {
                char why[128];
                pl_ctlc__connect_errno (&self->addr, s_left_ms (self) + 1, why, sizeof why);
                pl_ctlc__fail (self, rc, "cannot connect to %s: %s", *why ? why : self->lws_why);
            }
            if (self->close_rc == PL_CTLC_OK)
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s closed the connection%s", NULL);
            break;
        }
        if (what == 0 && self->state == PL_CTLC__OPEN)
            break;
        if (self->stop && *self->stop) {
            rc = PL_CTLC_STOPPED;
            snprintf (self->error, sizeof self->error, "interrupted");
            break;
        }
        if (self->timed_out) {
            char ms[96];
            snprintf (ms, sizeof ms, "%ld ms (%s)", self->timeout_ms, self->phase);
            pl_ctlc__fail (self, PL_CTLC_UNREACHABLE, "no answer from %s in %s", ms);
            rc = PL_CTLC_UNREACHABLE;
            break;
        }
        if (lws_service (self->ctx, 0) < 0) {
            pl_ctlc__fail (self, PL_CTLC_LOST, "%s: the event loop failed%s", NULL);
            rc = PL_CTLC_LOST;
            break;
        }
    }
    if (timed)
        lws_sul_cancel (&self->sul);
    return rc;
}

/* Start a connection to path (a GET, or a WebSocket upgrade). */
int
pl_ctlc__open (pl_ctlc_t *self, const char *path, bool http)
{
    int rc = PL_CTLC_OK;
    if (self->state != PL_CTLC__IDLE) {
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
    self->state = PL_CTLC__CONNECTING;
    self->close_rc = PL_CTLC_OK;
    if (!lws_client_connect_via_info (&info)) {
        /* a failure reported at once also came through the callback */
        if (self->close_rc == PL_CTLC_OK || self->error[0] == 0) {
            char why[128];
            pl_ctlc__connect_errno (&self->addr, s_left_ms (self) + 1, why, sizeof why);
            pl_ctlc__fail (self, PL_CTLC_UNREACHABLE, "cannot connect to %s: %s",
                          *why ? why : self->lws_why[0] ? self->lws_why : "connection failed");
        }
        self->state = PL_CTLC__CLOSED;
        self->wsi = NULL;
        rc = self->close_rc;
    }
cleanup:
    return rc;
}

/* Take the oldest received message: parse it into *pkt (the text is
 * returned in *text, *len bytes, for the caller to free after
 * pl_sio_packet_clear). */
int
pl_ctlc__take (pl_ctlc_t *self, pl_sio_packet_t *pkt, char **text, size_t *len)
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
    pl_ctlc__begin (self, "the GET");
    int rc = pl_ctlc__open (self, path, true);
    if (rc == PL_CTLC_OK)
        rc = pl_ctlc__wait (self, 1, true);
    if (rc == PL_CTLC_OK && self->status <= 0) {
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent no HTTP status%s", NULL);
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
