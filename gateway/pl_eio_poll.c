/*  pl_eio_poll - one Engine.IO v4 long-polling session. See pl_eio_poll.h. */
#include "pl_eio_poll.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_item {
    struct s_item *next;
    pl_eio_type_t type;
    bool binary;
    size_t len;                 /* bytes of data (raw, not encoded)     */
    size_t wire;                /* bytes on the wire ("4..." / "b...")  */
    char data[];
} s_item_t;

typedef enum { S_ANSWER_NONE, S_ANSWER_NOOP, S_ANSWER_CLOSE } s_answer_t;

struct _pl_eio_poll_t {
    pl_eio_poll_limits_t lim;
    pl_eio_poll_state_t state;
    const char *why;            /* why it closed                        */
    s_item_t *head, *tail;
    size_t queued, count;
    bool get_waiting;
    bool post_active;
    s_answer_t answer;          /* what a waiting GET gets besides packets */
    bool pong_awaited;
    int64_t next_ping;          /* ms: when the next ping is due        */
    int64_t pong_deadline;      /* ms: when a late pong closes          */
    pl_eio_poll_packet_t *pkts; /* the last POST's packets              */
    unsigned char *bin;         /* and its decoded binary bytes         */
};

/* Bytes of "b" + base64 of len bytes; len <= max_response keeps it small. */
static size_t
s_b64_wire (size_t len)
{
    return 1 + 4 * ((len + 2) / 3);
}

pl_eio_poll_t *
pl_eio_poll_new (const pl_eio_poll_limits_t *limits, int64_t now_ms)
{
    pl_eio_poll_t *self = NULL;
    assert (limits);
    /* the sizes stay far below INT_MAX: OpenSSL's base64 takes an int */
    if (limits->max_response < 16 || limits->max_response > PL_EIO_POLL_SIZE_MAX
    ||  limits->max_queued < limits->max_response
    ||  limits->max_payload == 0 || limits->max_payload > PL_EIO_POLL_SIZE_MAX
    ||  limits->max_packets == 0 || limits->max_packets > limits->max_payload
    ||  limits->ping_interval <= 0 || limits->ping_timeout <= 0)
        goto cleanup;
    self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->lim = *limits;
    self->state = PL_EIO_POLL_POLLING;
    self->next_ping = now_ms + limits->ping_interval;
cleanup:
    return self;
}

static void
s_queue_clear (pl_eio_poll_t *self)
{
    while (self->head) {
        s_item_t *next = self->head->next;
        free (self->head);
        self->head = next;
    }
    self->tail = NULL;
    self->queued = 0;
    self->count = 0;
}

static void
s_post_clear (pl_eio_poll_t *self)
{
    free (self->pkts);
    free (self->bin);
    self->pkts = NULL;
    self->bin = NULL;
}

void
pl_eio_poll_destroy (pl_eio_poll_t **self_p)
{
    assert (self_p);
    pl_eio_poll_t *self = *self_p;
    if (self) {
        s_queue_clear (self);
        s_post_clear (self);
        free (self);
    }
    *self_p = NULL;
}

pl_eio_poll_state_t
pl_eio_poll_state (pl_eio_poll_t *self)
{
    assert (self);
    return self->state;
}

const char *
pl_eio_poll_why (pl_eio_poll_t *self)
{
    assert (self);
    return self->state == PL_EIO_POLL_CLOSED ? self->why : NULL;
}

/* Close with the answer a waiting GET gets; the queue is dropped (the
 * session is gone: nothing in it was acknowledged to anyone). */
static void
s_close (pl_eio_poll_t *self, const char *why, s_answer_t answer)
{
    if (self->state != PL_EIO_POLL_CLOSED) {
        self->state = PL_EIO_POLL_CLOSED;
        self->why = why;
        self->answer = answer;
        self->post_active = false;
        self->pong_awaited = false;
        s_queue_clear (self);
    }
}

void
pl_eio_poll_close (pl_eio_poll_t *self, const char *why)
{
    assert (self && why);
    s_close (self, why, S_ANSWER_CLOSE);
}

static pl_eio_poll_rc_t
s_push (pl_eio_poll_t *self, pl_eio_type_t type, bool binary, const void *data, size_t len)
{
    pl_eio_poll_rc_t rc = PL_EIO_POLL_BAD;
    if (self->state == PL_EIO_POLL_CLOSED || self->state == PL_EIO_POLL_UPGRADED)
        goto cleanup;
    if ((unsigned) type > PL_EIO_NOOP || (len && !data))
        goto cleanup;
    if (len > self->lim.max_response)
        goto cleanup;
    size_t wire = binary ? s_b64_wire (len) : 1 + len;
    if (wire > self->lim.max_response)
        goto cleanup;
    if (!binary && len && memchr (data, PL_EIO_POLL_SEP, len))
        goto cleanup;                   /* would split into two packets */
    if (wire > self->lim.max_queued - self->queued) {
        s_close (self, "send queue full", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    s_item_t *item = malloc (sizeof *item + len + 1);
    if (!item)
        goto cleanup;
    item->next = NULL;
    item->type = binary ? PL_EIO_MESSAGE : type;
    item->binary = binary;
    item->len = len;
    item->wire = wire;
    if (len)
        memcpy (item->data, data, len);
    item->data[len] = 0;
    if (self->tail)
        self->tail->next = item;
    else
        self->head = item;
    self->tail = item;
    self->queued += wire;
    self->count++;
    rc = PL_EIO_POLL_OK;
cleanup:
    return rc;
}

pl_eio_poll_rc_t
pl_eio_poll_push (pl_eio_poll_t *self, pl_eio_type_t type, const char *data, size_t len)
{
    assert (self);
    return s_push (self, type, false, data, len);
}

pl_eio_poll_rc_t
pl_eio_poll_push_binary (pl_eio_poll_t *self, const void *data, size_t len)
{
    assert (self);
    return s_push (self, PL_EIO_MESSAGE, true, data, len);
}

size_t
pl_eio_poll_queued (pl_eio_poll_t *self)
{
    assert (self);
    return self->queued;
}

size_t
pl_eio_poll_count (pl_eio_poll_t *self)
{
    assert (self);
    return self->count;
}

pl_eio_poll_rc_t
pl_eio_poll_get (pl_eio_poll_t *self)
{
    assert (self);
    pl_eio_poll_rc_t rc = PL_EIO_POLL_BAD;
    if (self->state == PL_EIO_POLL_CLOSED || self->state == PL_EIO_POLL_UPGRADED)
        goto cleanup;
    if (self->get_waiting) {
        /* the spec: 400 and close; the first GET gets the close packet */
        s_close (self, "overlap from client", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    self->get_waiting = true;
    rc = PL_EIO_POLL_OK;
cleanup:
    return rc;
}

bool
pl_eio_poll_ready (pl_eio_poll_t *self)
{
    assert (self);
    bool ready = false;
    if (!self->get_waiting)
        goto cleanup;
    if (self->state == PL_EIO_POLL_CLOSED)
        ready = self->answer != S_ANSWER_NONE;
    else
    if (self->state == PL_EIO_POLL_POLLING)
        ready = self->head != NULL;
    else
        ready = true;                   /* upgrading, upgraded: a noop */
cleanup:
    return ready;
}

char *
pl_eio_poll_take (pl_eio_poll_t *self, size_t *len)
{
    assert (self && len);
    char *body = NULL;
    *len = 0;
    if (!pl_eio_poll_ready (self))
        goto cleanup;
    if (self->state != PL_EIO_POLL_POLLING) {
        const char *one = self->state == PL_EIO_POLL_CLOSED
                          && self->answer == S_ANSWER_CLOSE ? "1" : "6";
        body = strdup (one);
        if (!body)
            goto cleanup;
        *len = 1;
        self->answer = S_ANSWER_NONE;
        self->get_waiting = false;
        goto cleanup;
    }
    /* as many whole packets as fit; the first always does (s_push) */
    size_t size = 0, n = 0;
    for (s_item_t *it = self->head; it; it = it->next) {
        size_t add = it->wire + (n ? 1 : 0);
        if (add > self->lim.max_response - size)
            break;
        size += add;
        n++;
    }
    body = malloc (size + 1);
    if (!body)
        goto cleanup;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        s_item_t *it = self->head;
        if (i)
            body[at++] = PL_EIO_POLL_SEP;
        if (it->binary) {
            body[at++] = 'b';
            /* EVP_EncodeBlock writes 4 * ceil(len / 3) bytes and a NUL;
             * its int length is safe: len <= max_response <=
             * PL_EIO_POLL_SIZE_MAX, and size + 1 bytes are there */
            at += (size_t) EVP_EncodeBlock ((unsigned char *) body + at,
                                            (const unsigned char *) it->data, (int) it->len);
        }
        else {
            body[at++] = (char) ('0' + it->type);
            memcpy (body + at, it->data, it->len);
            at += it->len;
        }
        self->head = it->next;
        self->queued -= it->wire;
        self->count--;
        free (it);
    }
    if (!self->head)
        self->tail = NULL;
    assert (at == size);
    body[size] = 0;
    *len = size;
    self->get_waiting = false;
cleanup:
    return body;
}

void
pl_eio_poll_get_gone (pl_eio_poll_t *self)
{
    assert (self);
    if (self->get_waiting) {
        self->get_waiting = false;
        s_close (self, "poll connection closed prematurely", S_ANSWER_NONE);
    }
}

pl_eio_poll_rc_t
pl_eio_poll_post_begin (pl_eio_poll_t *self, size_t content_length, bool octet_stream)
{
    assert (self);
    pl_eio_poll_rc_t rc = PL_EIO_POLL_BAD;
    if (self->state == PL_EIO_POLL_CLOSED || self->state == PL_EIO_POLL_UPGRADED)
        goto cleanup;
    if (self->post_active) {
        s_close (self, "data request overlap from client", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    if (octet_stream) {
        s_close (self, "invalid content", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    if (content_length > self->lim.max_payload) {
        rc = PL_EIO_POLL_TOO_LARGE;
        goto cleanup;
    }
    self->post_active = true;
    rc = PL_EIO_POLL_OK;
cleanup:
    return rc;
}

void
pl_eio_poll_post_gone (pl_eio_poll_t *self)
{
    assert (self);
    if (self->post_active) {
        self->post_active = false;
        s_close (self, "data request connection closed prematurely", S_ANSWER_CLOSE);
    }
}

static bool
s_b64_char (unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict standard base64 (what engine.io-client sends): a multiple of 4
 * characters, '=' only as the last one or two. Writes the bytes to out
 * and returns how many, or -1. */
static long
s_b64_decode (const char *in, size_t len, unsigned char *out)
{
    long n = -1;
    if (len % 4 != 0 || len > PL_EIO_POLL_SIZE_MAX)   /* an int for OpenSSL */
        goto cleanup;
    size_t pad = 0;
    if (len && in[len - 1] == '=')
        pad = len >= 2 && in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (!s_b64_char ((unsigned char) in[i]))
            goto cleanup;
    if (len == 0) {
        n = 0;
        goto cleanup;
    }
    /* EVP_DecodeBlock counts padding as zero bytes: take them off */
    int got = EVP_DecodeBlock (out, (const unsigned char *) in, (int) len);
    if (got < 0 || (size_t) got < pad)
        goto cleanup;
    n = got - (long) pad;
cleanup:
    return n;
}

/* Check one packet of a POST body and fill *p. Returns NULL or why not. */
static const char *
s_decode_one (const char *text, size_t len, bool sio, unsigned char *bin,
              size_t *bin_used, pl_eio_poll_packet_t *p)
{
    const char *why = NULL;
    memset (p, 0, sizeof *p);
    if (len == 0) {
        why = "empty packet";
        goto cleanup;
    }
    if (text[0] == 'b') {
        unsigned char *out = bin + *bin_used;
        long n = s_b64_decode (text + 1, len - 1, out);
        if (n < 0) {
            why = "invalid base64";
            goto cleanup;
        }
        p->type = PL_EIO_MESSAGE;
        p->binary = true;
        p->data = (const char *) out;
        p->len = (size_t) n;
        *bin_used += (size_t) n;
        goto cleanup;
    }
    /* a client sends neither OPEN nor UPGRADE over polling */
    if (text[0] < '1' || text[0] > '6' || text[0] == '5') {
        why = "unknown Engine.IO packet type";
        goto cleanup;
    }
    if (!pl_sio_utf8_valid ((const unsigned char *) text, len)) {
        why = "packet is not valid UTF-8";
        goto cleanup;
    }
    /* the same check as a WebSocket text message: a message must be a
     * valid Socket.IO packet */
    pl_sio_packet_t pkt;
    if (sio && pl_sio_parse (text, len, &pkt, &why) != 0)
        goto cleanup;
    if (sio)
        pl_sio_packet_clear (&pkt);
    p->type = (pl_eio_type_t) (text[0] - '0');
    p->data = text + 1;
    p->len = len - 1;
cleanup:
    return why;
}

pl_eio_poll_rc_t
pl_eio_poll_post (pl_eio_poll_t *self, const char *body, size_t len, int64_t now_ms,
                  const pl_eio_poll_packet_t **pkts, size_t *count)
{
    assert (self && pkts && count && (body || len == 0));
    pl_eio_poll_rc_t rc = PL_EIO_POLL_BAD;
    *pkts = NULL;
    *count = 0;
    s_post_clear (self);
    if (self->state == PL_EIO_POLL_CLOSED || self->state == PL_EIO_POLL_UPGRADED)
        goto cleanup;
    if (!self->post_active) {
        s_close (self, "POST body without its request", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    self->post_active = false;
    if (len > self->lim.max_payload) {
        rc = PL_EIO_POLL_TOO_LARGE;
        goto cleanup;
    }
    /* split counts an empty body as one (empty) packet, as engine.io does */
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        if (body[i] == PL_EIO_POLL_SEP && ++n > self->lim.max_packets)
            break;
    if (n > self->lim.max_packets) {
        s_close (self, "too many packets", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    self->pkts = calloc (n, sizeof *self->pkts);
    self->bin = malloc (len / 4 * 3 + 1);       /* bounds all the base64 */
    if (!self->pkts || !self->bin) {
        s_close (self, "out of memory", S_ANSWER_CLOSE);
        rc = PL_EIO_POLL_CLOSE;
        goto cleanup;
    }
    /* decode and check all of it before applying anything */
    size_t start = 0, k = 0, bin_used = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && body[i] != PL_EIO_POLL_SEP)
            continue;
        const char *why = s_decode_one (body + start, i - start, self->lim.sio, self->bin,
                                        &bin_used, &self->pkts[k]);
        if (why) {
            s_close (self, why, S_ANSWER_CLOSE);
            rc = PL_EIO_POLL_CLOSE;
            goto cleanup;
        }
        k++;
        start = i + 1;
    }
    assert (k == n);
    /* apply the Engine.IO level: a pong restarts the heartbeat, a close
     * ends the list and the session (its waiting GET gets a noop) */
    size_t listed = 0;
    for (; listed < n; listed++) {
        pl_eio_type_t t = self->pkts[listed].type;
        if (t == PL_EIO_CLOSE && !self->pkts[listed].binary) {
            s_close (self, "client closed", S_ANSWER_NOOP);
            break;
        }
        if (t == PL_EIO_PONG && !self->pkts[listed].binary) {
            self->pong_awaited = false;
            self->next_ping = now_ms + self->lim.ping_interval;
        }
    }
    *pkts = self->pkts;
    *count = listed;
    rc = PL_EIO_POLL_OK;
cleanup:
    return rc;
}

void
pl_eio_poll_probe_cancel (pl_eio_poll_t *self)
{
    assert (self);
    if (self->state == PL_EIO_POLL_UPGRADING)
        self->state = PL_EIO_POLL_POLLING;
}

pl_eio_poll_rc_t
pl_eio_poll_probe (pl_eio_poll_t *self)
{
    assert (self);
    pl_eio_poll_rc_t rc = PL_EIO_POLL_BAD;
    if (self->state != PL_EIO_POLL_POLLING)
        goto cleanup;
    self->state = PL_EIO_POLL_UPGRADING;
    rc = PL_EIO_POLL_OK;
cleanup:
    return rc;
}

pl_eio_poll_rc_t
pl_eio_poll_upgrade (pl_eio_poll_t *self)
{
    assert (self);
    pl_eio_poll_rc_t rc = PL_EIO_POLL_BAD;
    if (self->state != PL_EIO_POLL_UPGRADING)
        goto cleanup;
    self->state = PL_EIO_POLL_UPGRADED;
    self->pong_awaited = false;
    rc = PL_EIO_POLL_OK;
cleanup:
    return rc;
}

char *
pl_eio_poll_shift (pl_eio_poll_t *self, size_t *len, bool *binary)
{
    assert (self && len && binary);
    char *out = NULL;
    *len = 0;
    *binary = false;
    s_item_t *it = self->head;
    if (self->state != PL_EIO_POLL_UPGRADED || !it)
        goto cleanup;
    out = malloc (it->len + 2);
    if (!out)
        goto cleanup;
    if (it->binary) {
        memcpy (out, it->data, it->len);
        *len = it->len;
        *binary = true;
    }
    else {
        out[0] = (char) ('0' + it->type);
        memcpy (out + 1, it->data, it->len);
        *len = it->len + 1;
    }
    out[*len] = 0;
    self->head = it->next;
    if (!self->head)
        self->tail = NULL;
    self->queued -= it->wire;
    self->count--;
    free (it);
cleanup:
    return out;
}

int64_t
pl_eio_poll_tick (pl_eio_poll_t *self, int64_t now_ms)
{
    assert (self);
    int64_t next = -1;
    if (self->state == PL_EIO_POLL_CLOSED || self->state == PL_EIO_POLL_UPGRADED)
        goto cleanup;
    if (self->pong_awaited) {
        if (now_ms >= self->pong_deadline) {
            s_close (self, "ping timeout", S_ANSWER_CLOSE);
            goto cleanup;
        }
        next = self->pong_deadline;
        goto cleanup;
    }
    if (now_ms < self->next_ping) {
        next = self->next_ping;
        goto cleanup;
    }
    if (s_push (self, PL_EIO_PING, false, NULL, 0) != PL_EIO_POLL_OK) {
        if (self->state != PL_EIO_POLL_CLOSED)
            s_close (self, "out of memory", S_ANSWER_CLOSE);
        goto cleanup;
    }
    self->pong_awaited = true;
    self->pong_deadline = now_ms + self->lim.ping_timeout;
    next = self->pong_deadline;
cleanup:
    return next;
}
