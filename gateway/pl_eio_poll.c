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

/* ---------------------------------------------------------------- selftest */

static pl_eio_poll_limits_t
s_limits (void)
{
    pl_eio_poll_limits_t l = {
        .max_response = 64, .max_queued = 256, .max_payload = 200,
        .max_packets = 8, .ping_interval = 1000, .ping_timeout = 500,
        .sio = false
    };
    return l;
}

/* Take the waiting GET's body and compare it with want (want_len bytes). */
static void
s_expect_body (pl_eio_poll_t *s, const char *want, size_t want_len)
{
    size_t len = 99;
    assert (pl_eio_poll_ready (s));
    char *body = pl_eio_poll_take (s, &len);
    assert (body);
    if (len != want_len || memcmp (body, want, len) != 0) {
        fprintf (stderr, "body '%.*s' (%zu), want '%.*s' (%zu)\n",
                 (int) len, body, len, (int) want_len, want, want_len);
        assert (false);
    }
    assert (body[len] == 0);
    free (body);
    assert (!pl_eio_poll_ready (s));
}

#define S_BODY(s, lit) s_expect_body ((s), (lit), sizeof (lit) - 1)

static pl_eio_poll_rc_t
s_post (pl_eio_poll_t *s, const char *body, size_t len,
        const pl_eio_poll_packet_t **pkts, size_t *count)
{
    pl_eio_poll_rc_t rc = pl_eio_poll_post_begin (s, len, false);
    if (rc == PL_EIO_POLL_OK)
        rc = pl_eio_poll_post (s, body, len, 0, pkts, count);
    return rc;
}

#define S_POST(s, lit, p, c) s_post ((s), (lit), sizeof (lit) - 1, (p), (c))

static void
s_test_limits (void)
{
    pl_eio_poll_limits_t l = s_limits ();
    pl_eio_poll_t *s = pl_eio_poll_new (&l, 0);
    assert (s);
    pl_eio_poll_destroy (&s);
    assert (s == NULL);
    pl_eio_poll_destroy (&s);                   /* twice is harmless */
    l.max_response = 8;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.max_queued = 10;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.max_packets = 0;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.max_payload = 0;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.max_payload = SIZE_MAX;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.max_payload = PL_EIO_POLL_SIZE_MAX + 1;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.max_response = PL_EIO_POLL_SIZE_MAX + 1;
    l.max_queued = SIZE_MAX;
    assert (!pl_eio_poll_new (&l, 0));
    l.max_response = PL_EIO_POLL_SIZE_MAX;
    l.max_payload = PL_EIO_POLL_SIZE_MAX;
    s = pl_eio_poll_new (&l, 0);                /* (nothing is allocated) */
    assert (s);
    pl_eio_poll_destroy (&s);
    l = s_limits (); l.ping_interval = 0;
    assert (!pl_eio_poll_new (&l, 0));
    l = s_limits (); l.ping_timeout = -1;
    assert (!pl_eio_poll_new (&l, 0));
}

static void
s_test_queue (void)
{
    pl_eio_poll_limits_t l = s_limits ();
    pl_eio_poll_t *s = pl_eio_poll_new (&l, 0);
    size_t len;
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_POLLING);
    assert (pl_eio_poll_why (s) == NULL);
    /* nothing waits: take gives nothing */
    assert (!pl_eio_poll_ready (s));
    assert (pl_eio_poll_take (s, &len) == NULL && len == 0);
    /* a GET with an empty queue waits */
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    assert (!pl_eio_poll_ready (s));
    assert (pl_eio_poll_take (s, &len) == NULL);
    /* the spec's examples: "4hello\x1e2\x1e4world", "4hello\x1ebAQIDBA==" */
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "hello", 5) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push (s, PL_EIO_PING, NULL, 0) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "world", 5) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_count (s) == 3 && pl_eio_poll_queued (s) == 6 + 1 + 6);
    S_BODY (s, "4hello\x1e" "2\x1e" "4world");
    assert (pl_eio_poll_count (s) == 0 && pl_eio_poll_queued (s) == 0);
    /* packets queued with no GET waiting: not ready until a GET comes */
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "hello", 5) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, "\x01\x02\x03\x04", 4) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_queued (s) == 6 + 9);
    assert (!pl_eio_poll_ready (s));
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "4hello\x1e" "bAQIDBA==");
    /* base64 padding: 0, 1, 2 bytes over a multiple of 3; empty binary */
    assert (pl_eio_poll_push_binary (s, "abc", 3) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, "ab", 2) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, "a", 1) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, NULL, 0) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "bYWJj\x1e" "bYWI=\x1e" "bYQ==\x1e" "b");
    /* NUL keeps its length, both in text and binary packets */
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "a\0b", 3) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, "\0\0\0", 3) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "4a\0b\x1e" "bAAAA");
    /* refused, nothing queued: a separator in text, a bad type, NULL data */
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "a\x1e" "2", 3) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_push (s, (pl_eio_type_t) 7, "x", 1) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_push (s, (pl_eio_type_t) -1, "x", 1) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, NULL, 1) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_count (s) == 0);
    /* a packet that can never fit one response: refused alone */
    char big[300];
    memset (big, 'x', sizeof big);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, big, 63) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, big, 64) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, big, SIZE_MAX) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_push_binary (s, big, 46) == PL_EIO_POLL_BAD);  /* 1+64 */
    assert (pl_eio_poll_count (s) == 1);
    assert (pl_eio_poll_push_binary (s, big, 45) == PL_EIO_POLL_OK);   /* 1+60 */
    assert (pl_eio_poll_push_binary (s, big, SIZE_MAX) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    size_t got;
    char *body = pl_eio_poll_take (s, &got);
    assert (got == 64 && body[0] == '4' && memchr (body, PL_EIO_POLL_SEP, got) == NULL);
    free (body);
    assert (pl_eio_poll_count (s) == 1 && pl_eio_poll_queued (s) == 61);
    /* max_response: whole packets only, the rest stays queued, in order */
    for (int i = 0; i < 9; i++) {
        char m[16];
        int n = snprintf (m, sizeof m, "msg%d", i);
        assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, m, (size_t) n) == PL_EIO_POLL_OK);
    }
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    body = pl_eio_poll_take (s, &got);
    assert (got == 61 && body[0] == 'b');
    free (body);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    /* 9 x 5 + 8 separators = 53 <= 64 */
    S_BODY (s, "4msg0\x1e" "4msg1\x1e" "4msg2\x1e" "4msg3\x1e" "4msg4\x1e"
               "4msg5\x1e" "4msg6\x1e" "4msg7\x1e" "4msg8");
    for (int i = 0; i < 12; i++)
        assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "abcd", 4) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    body = pl_eio_poll_take (s, &got);
    assert (got == 10 * 5 + 9 && got <= l.max_response);  /* 11 would be 65 */
    free (body);
    assert (pl_eio_poll_count (s) == 2 && pl_eio_poll_queued (s) == 10);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "4abcd\x1e" "4abcd");
    /* max_queued: the packet that would pass it closes the session */
    for (int i = 0; i < 4; i++)
        assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, big, 63) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_queued (s) == 256);
    assert (pl_eio_poll_push (s, PL_EIO_NOOP, NULL, 0) == PL_EIO_POLL_CLOSE);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_CLOSED);
    assert (strcmp (pl_eio_poll_why (s), "send queue full") == 0);
    assert (pl_eio_poll_count (s) == 0 && pl_eio_poll_queued (s) == 0);
    /* closed: nothing more is queued, no GET is accepted */
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "x", 1) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_push_binary (s, "x", 1) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_tick (s, 0) == -1);
    pl_eio_poll_destroy (&s);
    /* destroy with packets still queued frees them (ASan checks) */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "x", 1) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, "x", 1) == PL_EIO_POLL_OK);
    pl_eio_poll_destroy (&s);
}

static void
s_test_get (void)
{
    pl_eio_poll_limits_t l = s_limits ();
    /* a second GET while one waits: 400, closed, the first gets "1" */
    pl_eio_poll_t *s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "lost", 4) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_ready (s));             /* (the caller answers at once) */
    pl_eio_poll_destroy (&s);
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_CLOSE);
    assert (strcmp (pl_eio_poll_why (s), "overlap from client") == 0);
    S_BODY (s, "1");
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_BAD);   /* then: unknown */
    pl_eio_poll_destroy (&s);
    /* the waiting GET's connection goes away: closed, nothing to answer */
    s = pl_eio_poll_new (&l, 0);
    pl_eio_poll_get_gone (s);                   /* no GET waits: no effect */
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_POLLING);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    pl_eio_poll_get_gone (s);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_CLOSED);
    assert (strcmp (pl_eio_poll_why (s), "poll connection closed prematurely") == 0);
    assert (!pl_eio_poll_ready (s));
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_BAD);
    pl_eio_poll_destroy (&s);
    /* the server closes: the waiting GET gets "1", queued packets dropped */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    pl_eio_poll_close (s, "server shutdown");
    pl_eio_poll_close (s, "again");             /* the first reason stays */
    assert (strcmp (pl_eio_poll_why (s), "server shutdown") == 0);
    S_BODY (s, "1");
    pl_eio_poll_destroy (&s);
    /* closed with no GET waiting: a later GET is refused, never answered */
    s = pl_eio_poll_new (&l, 0);
    pl_eio_poll_close (s, "bye");
    assert (!pl_eio_poll_ready (s));
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_BAD);
    assert (!pl_eio_poll_ready (s));
    pl_eio_poll_destroy (&s);
}

static void
s_test_post (void)
{
    pl_eio_poll_limits_t l = s_limits ();
    pl_eio_poll_t *s = pl_eio_poll_new (&l, 0);
    const pl_eio_poll_packet_t *p;
    size_t n;
    /* the spec's example payloads */
    assert (S_POST (s, "4hello\x1e" "2\x1e" "4world", &p, &n) == PL_EIO_POLL_OK);
    assert (n == 3);
    assert (p[0].type == PL_EIO_MESSAGE && !p[0].binary && p[0].len == 5
            && memcmp (p[0].data, "hello", 5) == 0);
    assert (p[1].type == PL_EIO_PING && p[1].len == 0);
    assert (p[2].type == PL_EIO_MESSAGE && memcmp (p[2].data, "world", 5) == 0);
    assert (S_POST (s, "4hello\x1e" "bAQIDBA==", &p, &n) == PL_EIO_POLL_OK);
    assert (n == 2 && p[1].binary && p[1].type == PL_EIO_MESSAGE && p[1].len == 4
            && memcmp (p[1].data, "\x01\x02\x03\x04", 4) == 0);
    /* the Engine.IO level alone: any text is a message */
    assert (S_POST (s, "4\x1e" "4[\x1e" "4\xc3\xa9", &p, &n) == PL_EIO_POLL_OK);
    assert (n == 3 && p[0].len == 0 && p[1].len == 1 && p[2].len == 2);
    pl_eio_poll_destroy (&s);
    l.sio = true;
    s = pl_eio_poll_new (&l, 0);
    /* base64 paddings, empty binary, Socket.IO packets through pl_sio_parse */
    assert (S_POST (s, "bYWJj\x1e" "bYWI=\x1e" "bYQ==\x1e" "b\x1e"
                       "40\x1e" "42[\"x\",1]\x1e" "3probe", &p, &n) == PL_EIO_POLL_OK);
    assert (n == 7);
    assert (p[0].len == 3 && memcmp (p[0].data, "abc", 3) == 0);
    assert (p[1].len == 2 && memcmp (p[1].data, "ab", 2) == 0);
    assert (p[2].len == 1 && p[2].data[0] == 'a');
    assert (p[3].binary && p[3].len == 0);
    assert (p[4].type == PL_EIO_MESSAGE && p[4].len == 1 && p[4].data[0] == '0');
    assert (p[5].len == 8 && memcmp (p[5].data, "2[\"x\",1]", 8) == 0);
    assert (p[6].type == PL_EIO_PONG && p[6].len == 5);
    /* NULs keep their length: in JSON a raw NUL is flagged by pl_sio_parse
     * (the gateway refuses it per request); in binary it is just a byte */
    static const char nul_body[] = "42[\"a\",\"b\0c\"]\x1e" "bAAA=";
    assert (s_post (s, nul_body, sizeof nul_body - 1, &p, &n) == PL_EIO_POLL_OK);
    assert (n == 2 && p[0].len == 12 && p[0].data[8] == 0);
    assert (p[1].len == 2 && p[1].data[0] == 0 && p[1].data[1] == 0);
    /* exactly max_packets, exactly max_payload */
    assert (S_POST (s, "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6",
                    &p, &n) == PL_EIO_POLL_OK && n == 8);
    char body[400];
    memset (body, 'A', sizeof body);
    body[0] = 'b';
    assert (s_post (s, body, 197, &p, &n) == PL_EIO_POLL_OK);
    assert (n == 1 && p[0].len == 147);
    /* over max_payload: 413 from the headers or from the body, session goes on */
    assert (pl_eio_poll_post_begin (s, 201, false) == PL_EIO_POLL_TOO_LARGE);
    assert (pl_eio_poll_post_begin (s, SIZE_MAX, false) == PL_EIO_POLL_TOO_LARGE);
    assert (pl_eio_poll_post_begin (s, 10, false) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_post (s, body, 201, 0, &p, &n) == PL_EIO_POLL_TOO_LARGE);
    assert (p == NULL && n == 0);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_POLLING);
    assert (S_POST (s, "3", &p, &n) == PL_EIO_POLL_OK && n == 1);
    pl_eio_poll_destroy (&s);

    /* each malformed body: 400 and the session closes, nothing returned */
    static const struct { const char *body; size_t len; } bad[] = {
#define S_BAD(lit) { lit, sizeof (lit) - 1 }
        S_BAD (""),                         /* one empty packet         */
        S_BAD ("4hello\x1e"),               /* trailing separator       */
        S_BAD ("\x1e" "4hello"),            /* leading separator        */
        S_BAD ("4a\x1e\x1e" "4b"),          /* empty packet between     */
        S_BAD ("abc"),                      /* the official suite's one */
        S_BAD ("7"), S_BAD ("9x"), S_BAD ("x"), S_BAD ("\0" "4"),
        S_BAD ("0"),                        /* open: only the server    */
        S_BAD ("5"),                        /* upgrade: on the websocket */
        S_BAD ("42[\"\xff\"]"), S_BAD ("4\xc0\xaf"), S_BAD ("3\xed\xa0\x80"),
        S_BAD ("4hello\x1e" "4\xff"),       /* a good packet then a bad */
        S_BAD ("bA"), S_BAD ("bAA"), S_BAD ("bAAA"), S_BAD ("bAAAAA"),
        S_BAD ("b===="), S_BAD ("bA==="), S_BAD ("bA=AA"), S_BAD ("b=AAA"),
        S_BAD ("bAA-_"), S_BAD ("bAA A"), S_BAD ("bAA\nA"), S_BAD ("bAA\0A"),
        S_BAD ("6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6\x1e" "6"),
#undef S_BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      for (int sio = 0; sio < 2; sio++) {
        l.sio = sio;
        s = pl_eio_poll_new (&l, 0);
        assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
        assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "x", 1) == PL_EIO_POLL_OK);
        pl_eio_poll_rc_t rc = s_post (s, bad[i].body, bad[i].len, &p, &n);
        if (rc != PL_EIO_POLL_CLOSE) {
            fprintf (stderr, "accepted bad body %zu '%.*s'\n", i,
                     (int) bad[i].len, bad[i].body);
            assert (false);
        }
        assert (p == NULL && n == 0);
        assert (pl_eio_poll_state (s) == PL_EIO_POLL_CLOSED && pl_eio_poll_why (s));
        S_BODY (s, "1");                    /* the waiting GET: closed */
        pl_eio_poll_destroy (&s);
    }
    /* bad Socket.IO, good Engine.IO: closed with limits.sio, else listed */
    static const struct { const char *body; size_t len; } bad_sio[] = {
#define S_BAD(lit) { lit, sizeof (lit) - 1 }
        S_BAD ("4"), S_BAD ("49"), S_BAD ("4hello"),  /* no Socket.IO type */
        S_BAD ("42[\"connect\"]"),          /* reserved event name      */
        S_BAD ("42{"), S_BAD ("42[]"),       /* bad JSON, no event name  */
        S_BAD ("45[\"x\"]"),               /* binary without its count */
        S_BAD ("40\x1e" "42[oops"),          /* a good packet then a bad */
#undef S_BAD
    };
    for (size_t i = 0; i < sizeof bad_sio / sizeof bad_sio[0]; i++)
      for (int sio = 0; sio < 2; sio++) {
        l.sio = sio;
        s = pl_eio_poll_new (&l, 0);
        pl_eio_poll_rc_t rc = s_post (s, bad_sio[i].body, bad_sio[i].len, &p, &n);
        if (rc != (sio ? PL_EIO_POLL_CLOSE : PL_EIO_POLL_OK)) {
            fprintf (stderr, "sio=%d: body %zu '%.*s' got %d\n", sio, i,
                     (int) bad_sio[i].len, bad_sio[i].body, (int) rc);
            assert (false);
        }
        assert (sio ? n == 0 : n >= 1);
        pl_eio_poll_destroy (&s);
    }
    l.sio = false;

    /* two POSTs at once: 400 and close; POST after close: 400 */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_post_begin (s, 1, false) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_post_begin (s, 1, false) == PL_EIO_POLL_CLOSE);
    assert (strcmp (pl_eio_poll_why (s), "data request overlap from client") == 0);
    assert (pl_eio_poll_post_begin (s, 1, false) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_post (s, "3", 1, 0, &p, &n) == PL_EIO_POLL_BAD);
    pl_eio_poll_destroy (&s);
    /* a binary body (v4 sends base64 text): 400 and close */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_post_begin (s, 1, true) == PL_EIO_POLL_CLOSE);
    assert (strcmp (pl_eio_poll_why (s), "invalid content") == 0);
    pl_eio_poll_destroy (&s);
    /* a body without its POST begun: closed */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_post (s, "3", 1, 0, &p, &n) == PL_EIO_POLL_CLOSE);
    pl_eio_poll_destroy (&s);
    /* the POST's connection goes away mid-body: closed */
    s = pl_eio_poll_new (&l, 0);
    pl_eio_poll_post_gone (s);                  /* none active: no effect */
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_POLLING);
    assert (pl_eio_poll_post_begin (s, 5, false) == PL_EIO_POLL_OK);
    pl_eio_poll_post_gone (s);
    assert (strcmp (pl_eio_poll_why (s), "data request connection closed prematurely") == 0);
    pl_eio_poll_destroy (&s);
    /* the client closes: packets before "1" are listed, not after; the
     * waiting GET gets a noop (the official suite's "forcefully closes") */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    assert (S_POST (s, "4a\x1e" "1\x1e" "4b", &p, &n) == PL_EIO_POLL_OK);
    assert (n == 1 && p[0].data[0] == 'a');
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_CLOSED);
    assert (strcmp (pl_eio_poll_why (s), "client closed") == 0);
    S_BODY (s, "6");
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_BAD);
    pl_eio_poll_destroy (&s);
    /* a whole max_payload body of separators: bounded count, no crash */
    l.max_payload = 100000;
    l.max_packets = 1000;
    s = pl_eio_poll_new (&l, 0);
    char *seps = malloc (l.max_payload);
    memset (seps, PL_EIO_POLL_SEP, l.max_payload);
    assert (s_post (s, seps, l.max_payload, &p, &n) == PL_EIO_POLL_CLOSE);
    assert (strcmp (pl_eio_poll_why (s), "too many packets") == 0);
    pl_eio_poll_destroy (&s);
    /* and a max_payload body of base64 decodes whole */
    s = pl_eio_poll_new (&l, 0);
    memset (seps, '/', l.max_payload);
    seps[0] = 'b';
    assert (s_post (s, seps, 1 + 4 * 24999, &p, &n) == PL_EIO_POLL_OK);
    assert (n == 1 && p[0].len == 3 * 24999);
    assert ((unsigned char) p[0].data[0] == 0xff && (unsigned char) p[0].data[p[0].len - 1] == 0xff);
    free (seps);
    pl_eio_poll_destroy (&s);
}

static void
s_test_upgrade (void)
{
    pl_eio_poll_limits_t l = s_limits ();
    pl_eio_poll_t *s = pl_eio_poll_new (&l, 0);
    const pl_eio_poll_packet_t *p;
    size_t n, len;
    bool bin;
    assert (pl_eio_poll_upgrade (s) == PL_EIO_POLL_BAD);   /* no probe yet */
    assert (pl_eio_poll_shift (s, &len, &bin) == NULL);    /* not upgraded */
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    /* the probe: the waiting GET gets a noop, queued packets stay queued */
    assert (pl_eio_poll_probe (s) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_UPGRADING);
    assert (pl_eio_poll_probe (s) == PL_EIO_POLL_BAD);     /* a second one */
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "hi", 2) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_push_binary (s, "\0\1", 2) == PL_EIO_POLL_OK);
    S_BODY (s, "6");
    assert (pl_eio_poll_count (s) == 2);
    /* a POST in flight during the upgrade is still taken */
    assert (S_POST (s, "42[\"x\"]", &p, &n) == PL_EIO_POLL_OK && n == 1);
    /* the heartbeat still runs while upgrading */
    assert (pl_eio_poll_tick (s, 0) == 1000);
    assert (pl_eio_poll_upgrade (s) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_UPGRADED);
    assert (pl_eio_poll_upgrade (s) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_probe (s) == PL_EIO_POLL_BAD);
    /* polling requests after the upgrade: 400, the session goes on */
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_post_begin (s, 1, false) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_UPGRADED);
    assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, "late", 4) == PL_EIO_POLL_BAD);
    assert (pl_eio_poll_tick (s, 5000) == -1);
    /* what was queued moves to the websocket, in order, none lost */
    char *m = pl_eio_poll_shift (s, &len, &bin);
    assert (m && len == 3 && !bin && memcmp (m, "4hi", 3) == 0);
    free (m);
    m = pl_eio_poll_shift (s, &len, &bin);
    assert (m && len == 2 && bin && m[0] == 0 && m[1] == 1);
    free (m);
    assert (pl_eio_poll_shift (s, &len, &bin) == NULL && len == 0);
    assert (pl_eio_poll_count (s) == 0 && pl_eio_poll_queued (s) == 0);
    pl_eio_poll_destroy (&s);
    /* a GET arriving while upgrading gets a noop at once */
    s = pl_eio_poll_new (&l, 0);
    assert (pl_eio_poll_probe (s) == PL_EIO_POLL_OK);
    assert (!pl_eio_poll_ready (s));
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "6");
    /* upgraded with a GET still waiting: it gets a noop too */
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_upgrade (s) == PL_EIO_POLL_OK);
    S_BODY (s, "6");
    pl_eio_poll_destroy (&s);
    /* a probe on a closed session is refused */
    s = pl_eio_poll_new (&l, 0);
    pl_eio_poll_close (s, "x");
    assert (pl_eio_poll_probe (s) == PL_EIO_POLL_BAD);
    pl_eio_poll_destroy (&s);
}

static void
s_test_heartbeat (void)
{
    pl_eio_poll_limits_t l = s_limits ();    /* interval 1000, timeout 500 */
    pl_eio_poll_t *s = pl_eio_poll_new (&l, 10000);
    const pl_eio_poll_packet_t *p;
    size_t n;
    assert (pl_eio_poll_tick (s, 10000) == 11000);
    assert (pl_eio_poll_tick (s, 10999) == 11000);
    assert (pl_eio_poll_count (s) == 0);
    /* due: a ping is queued, the pong is due by now + timeout */
    assert (pl_eio_poll_tick (s, 11003) == 11503);
    assert (pl_eio_poll_count (s) == 1);
    assert (pl_eio_poll_tick (s, 11200) == 11503);    /* no second ping */
    assert (pl_eio_poll_count (s) == 1);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "2");
    /* the pong restarts the interval from its arrival */
    assert (pl_eio_poll_post_begin (s, 1, false) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_post (s, "3", 1, 11400, &p, &n) == PL_EIO_POLL_OK && n == 1);
    assert (pl_eio_poll_tick (s, 11600) == 12400);
    /* a pong that is late by the deadline closes the session */
    assert (pl_eio_poll_tick (s, 12400) == 12900);
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    S_BODY (s, "2");
    assert (pl_eio_poll_get (s) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_tick (s, 12899) == 12900);
    assert (pl_eio_poll_tick (s, 12900) == -1);
    assert (pl_eio_poll_state (s) == PL_EIO_POLL_CLOSED);
    assert (strcmp (pl_eio_poll_why (s), "ping timeout") == 0);
    S_BODY (s, "1");
    assert (pl_eio_poll_tick (s, 99999) == -1);
    pl_eio_poll_destroy (&s);
    /* a ping that would pass max_queued closes the session */
    s = pl_eio_poll_new (&l, 0);
    char big[63];
    memset (big, 'y', sizeof big);
    for (int i = 0; i < 4; i++)
        assert (pl_eio_poll_push (s, PL_EIO_MESSAGE, big, 63) == PL_EIO_POLL_OK);
    assert (pl_eio_poll_tick (s, 1000) == -1);
    assert (strcmp (pl_eio_poll_why (s), "send queue full") == 0);
    pl_eio_poll_destroy (&s);
}

void
pl_eio_poll_test (bool verbose)
{
    s_test_limits ();
    s_test_queue ();
    s_test_get ();
    s_test_post ();
    s_test_upgrade ();
    s_test_heartbeat ();
    if (verbose)
        printf ("\n   limits, queue, get, post, upgrade, heartbeat OK");
}
