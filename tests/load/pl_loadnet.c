/*  pl_loadnet - the epoll loop and connection state machine of parley-load;
 *  see pl_loadnet.h.
 *
 *  A slot goes IDLE -> TCP (connect in progress) -> HTTP (upgrade sent,
 *  waiting for 101) -> EIO (waiting for Engine.IO OPEN) -> SIO (CONNECT
 *  sent, waiting for its ack) -> READY, and to DOWN from anywhere.
 *
 *  Going DOWN closes the fd at once (so epoll forgets it and sends fail)
 *  but frees the buffers only at the next turn of the loop: a mode may send
 *  on, and so kill, the very connection whose receive buffer the loop is
 *  walking at that moment.
 */
#include "pl_loadnet.h"
#include "pl_loadws.h"
#include "pl_jwt.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { S_IDLE, S_TCP, S_HTTP, S_EIO, S_SIO, S_READY, S_DOWN };

/* epoll tags beyond any slot number */
#define S_TAG_TIMER  (UINT64_MAX - 1)
#define S_TAG_WAKE   (UINT64_MAX - 2)
#define S_TAG_SIGNAL (UINT64_MAX - 3)

#define S_RX_INITIAL 2048           /* a handshake and a few actors        */
#define S_EVENTS     256            /* epoll events per wait               */
#define S_TOKEN_TTL  86400          /* JWT exp: longer than any run        */

typedef struct {
    int fd;                         /* -1 when not open                    */
    uint8_t state;                  /* S_*                                 */
    bool want_out;                  /* EPOLLOUT registered                 */
    uint8_t frag_opcode;            /* opcode of a fragmented message      */
    char *rx;                       /* receive buffer (+1 byte for a NUL)  */
    uint32_t rx_len, rx_cap;
    char *tx;                       /* unsent backlog, NULL when none      */
    uint32_t tx_off, tx_len, tx_cap;
    char *frag;                     /* fragments of one message, or NULL   */
    uint32_t frag_len, frag_cap;
    int64_t started;                /* connect start, ns                   */
    char key[PL_LOADWS_KEY_LEN + 1];    /* Sec-WebSocket-Key sent          */
} s_conn_t;

struct _pl_loadnet_t {
    pl_loadnet_opts_t opts;         /* copy; strings borrowed              */
    pl_loadnet_ops_t ops;           /* the mode's callbacks                */
    void *mode;                     /* their first argument                */
    s_conn_t *conns;                /* opts.conns slots                    */
    int epfd, timer_fd, wake_fd;    /* the loop's fds                      */
    int64_t armed;                  /* timerfd deadline, INT64_MAX = none  */
    int64_t mode_deadline;          /* next tick                           */
    bool poke;                      /* tick at the next turn               */
    bool stopped;                   /* pl_loadnet_run returns              */
    bool closing;                   /* close_all: downs are not failures   */
    /* opener */
    uint32_t open_next, open_end;   /* next slot to open, end of the batch */
    double open_rate;               /* per second, 0 = flat out            */
    uint32_t open_conc;             /* handshakes in flight at most        */
    int64_t open_start;             /* when the batch started              */
    uint32_t open_done;             /* opened in this batch                */
    uint32_t handshaking;           /* slots in TCP..SIO                   */
    /* handshake deadlines: slots in start order (each starts once) */
    uint32_t *hs_fifo;
    uint32_t hs_head, hs_tail;
    /* slots gone DOWN whose buffers are freed at the next turn */
    uint32_t *reap;
    uint32_t reap_len;
    uint64_t rng;                   /* WebSocket keys                      */
    uint32_t settled, live;         /* see pl_loadnet_settled / _live      */
    pl_loadnet_stats_t stats;
    pl_loadhist_t *handshake;       /* connect -> ready latency            */
    uint8_t pong[8];                /* pre-encoded "3"                     */
    size_t pong_len;
};

static const char *s_fail_names[PL_LFAIL_COUNT] = {
    "socket", "connect", "upgrade", "auth", "timeout", "closed", "protocol",
    "dropped", "overflow"
};

const char *
pl_loadnet_fail_name (pl_lfail_t kind)
{
    assert (kind < PL_LFAIL_COUNT);
    return s_fail_names[kind];
}

int64_t
pl_loadnet_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- connection life -------------------------------------------------- */

static void
s_epoll_set (pl_loadnet_t *self, uint32_t i, bool out, int op)
{
    s_conn_t *c = &self->conns[i];
    struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = i };
    if (epoll_ctl (self->epfd, op, c->fd, &ev) == 0)
        c->want_out = out;
}

static void
s_free_buffers (s_conn_t *c)
{
    free (c->rx);
    free (c->tx);
    free (c->frag);
    c->rx = c->tx = c->frag = NULL;
    c->rx_len = c->rx_cap = c->tx_off = c->tx_len = c->tx_cap = c->frag_len = c->frag_cap = 0;
}

/* Take slot i down (see the file comment for why buffers wait). */
static void
s_down (pl_loadnet_t *self, uint32_t i, pl_lfail_t why, const char *detail)
{
    s_conn_t *c = &self->conns[i];
    if (c->state == S_DOWN || c->state == S_IDLE)
        return;
    bool was_ready = c->state == S_READY;
    if (c->fd >= 0)
        close (c->fd);
    c->fd = -1;
    c->state = S_DOWN;
    self->reap[self->reap_len++] = i;       /* each slot goes down once */
    if (was_ready)
        self->live--;
    else {
        self->handshaking--;
        self->settled++;
    }
    if (self->closing)
        return;
    if (why == PL_LFAIL_CLOSED && was_ready)
        why = PL_LFAIL_DROPPED;
    self->stats.failures[why]++;
    /* One line per kind and loop, so a storm of failures stays readable. */
    if (self->stats.failures[why] == 1)
        fprintf (stderr, "parley-load: first %s failure (slot %u): %s\n",
                 s_fail_names[why], i, detail ? detail : "");
    if (self->ops.down)
        self->ops.down (self->mode, i, why, was_ready);
}

static void
s_reap (pl_loadnet_t *self)
{
    for (uint32_t k = 0; k < self->reap_len; k++)
        s_free_buffers (&self->conns[self->reap[k]]);
    self->reap_len = 0;
}

/* Start the TCP connect of slot i. */
static void
s_start (pl_loadnet_t *self, uint32_t i, int64_t now)
{
    s_conn_t *c = &self->conns[i];
    assert (c->state == S_IDLE);
    c->started = now;
    c->state = S_TCP;
    self->handshaking++;
    self->stats.opened++;
    self->hs_fifo[self->hs_tail++] = i;
    c->fd = socket (self->opts.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        s_down (self, i, PL_LFAIL_SOCKET, strerror (errno));
        return;
    }
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rx = malloc (S_RX_INITIAL + 1);
    if (!c->rx) {
        s_down (self, i, PL_LFAIL_SOCKET, "out of memory");
        return;
    }
    c->rx_cap = S_RX_INITIAL;
    if (connect (c->fd, (const struct sockaddr *) &self->opts.addr, self->opts.addr_len) != 0
    &&  errno != EINPROGRESS) {
        s_down (self, i, PL_LFAIL_CONNECT, strerror (errno));
        return;
    }
    /* connected or in progress: either way EPOLLOUT says when to go on */
    struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = i };
    if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        s_down (self, i, PL_LFAIL_SOCKET, strerror (errno));
        return;
    }
    c->want_out = true;
}

/* TCP is up: send the upgrade request. */
static void
s_on_connected (pl_loadnet_t *self, uint32_t i)
{
    s_conn_t *c = &self->conns[i];
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        s_down (self, i, PL_LFAIL_CONNECT, strerror (err));
        return;
    }
    char req[1024];
    pl_loadws_key (&self->rng, c->key);
    size_t n = pl_loadws_request (req, sizeof req, self->opts.host, self->opts.port,
                                  self->opts.path, c->key);
    if (n >= sizeof req) {
        s_down (self, i, PL_LFAIL_PROTOCOL, "upgrade request too long");
        return;
    }
    c->state = S_HTTP;
    s_epoll_set (self, i, false, EPOLL_CTL_MOD);
    pl_loadnet_send (self, i, req, n);
}

/* Engine.IO OPEN arrived: Socket.IO CONNECT with our token. */
static void
s_send_connect (pl_loadnet_t *self, uint32_t i)
{
    char sub[256];
    char frame[2048];
    char *token = NULL;
    int sublen = self->ops.sub (self->mode, i, sub, sizeof sub);
    if (sublen < 0) {
        s_down (self, i, PL_LFAIL_PROTOCOL, "user id too long");
        goto cleanup;
    }
    time_t now = time (NULL);
    token = pl_jwt_sign (self->opts.secret, sub, NULL, now, now + S_TOKEN_TTL);
    if (!token) {
        s_down (self, i, PL_LFAIL_PROTOCOL, "cannot sign a token");
        goto cleanup;
    }
    char payload[1800];
    int plen = snprintf (payload, sizeof payload, "40{\"token\":\"%s\"}", token);
    if (plen < 0 || (size_t) plen >= sizeof payload) {
        s_down (self, i, PL_LFAIL_PROTOCOL, "token too long");
        goto cleanup;
    }
    size_t flen = pl_loadws_frame ((uint8_t *) frame, sizeof frame, PL_LOADWS_TEXT,
                                   payload, (size_t) plen);
    assert (flen <= sizeof frame);
    self->conns[i].state = S_SIO;
    pl_loadnet_send (self, i, frame, flen);
cleanup:
    free (token);
}

/* One complete text message on slot i. */
static void
s_on_text (pl_loadnet_t *self, uint32_t i, const char *msg, size_t len, int64_t now)
{
    s_conn_t *c = &self->conns[i];
    if (len == 1 && msg[0] == '2') {                    /* Engine.IO ping */
        self->stats.pings++;
        pl_loadnet_send (self, i, self->pong, self->pong_len);
        return;
    }
    switch (c->state) {
        case S_EIO:
            if (len > 0 && msg[0] == '0')
                s_send_connect (self, i);
            else
                s_down (self, i, PL_LFAIL_PROTOCOL, "expected the Engine.IO OPEN packet");
            break;
        case S_SIO:
            if (len >= 2 && msg[0] == '4' && msg[1] == '0') {
                c->state = S_READY;
                self->handshaking--;
                self->settled++;
                self->live++;
                self->stats.connected++;
                pl_loadhist_record (self->handshake, (uint64_t) (now - c->started));
                if (self->ops.ready)
                    self->ops.ready (self->mode, i, now);
            }
            else
            if (len >= 2 && msg[0] == '4' && msg[1] == '4') {
                char detail[160];
                snprintf (detail, sizeof detail, "%.*s", (int) (len < 120 ? len : 120), msg);
                s_down (self, i, PL_LFAIL_AUTH, detail);
            }
            else
            if (len > 0 && msg[0] != '6')                   /* noop */
                s_down (self, i, PL_LFAIL_PROTOCOL, "expected the Socket.IO CONNECT ack");
            break;
        case S_READY:
            if (len >= 2 && msg[0] == '4' && (msg[1] == '2' || msg[1] == '3')) {
                self->stats.messages++;
                self->ops.message (self->mode, i, msg, len, now);
            }
            else
            if ((len >= 2 && msg[0] == '4' && msg[1] == '1') || (len >= 1 && msg[0] == '1'))
                s_down (self, i, PL_LFAIL_DROPPED, "server disconnected the socket");
            /* other packets (noop, a pong we never asked for) are ignored */
            break;
        default:
            break;
    }
}

/* One WebSocket frame; payload in the receive buffer. */
static void
s_on_frame (pl_loadnet_t *self, uint32_t i, const pl_loadws_frame_t *f,
            const char *payload, int64_t now)
{
    s_conn_t *c = &self->conns[i];
    size_t len = (size_t) f->payload_len;
    switch (f->opcode) {
        case PL_LOADWS_TEXT:
        case PL_LOADWS_CONT:
            if (f->opcode == PL_LOADWS_CONT && !c->frag) {
                s_down (self, i, PL_LFAIL_PROTOCOL, "continuation without a start");
                return;
            }
            if (f->opcode == PL_LOADWS_TEXT && c->frag) {
                s_down (self, i, PL_LFAIL_PROTOCOL, "new message inside a fragmented one");
                return;
            }
            if (f->fin && !c->frag) {
                s_on_text (self, i, payload, len, now);     /* the common case */
                return;
            }
            /* Fragmented (rare: neither server fragments small messages):
             * gather into frag, bounded by max_message. */
            if ((uint64_t) c->frag_len + len > self->opts.max_message) {
                s_down (self, i, PL_LFAIL_PROTOCOL, "fragmented message too long");
                return;
            }
            if (c->frag_len + len > c->frag_cap) {
                uint32_t cap = c->frag_cap ? c->frag_cap : 4096;
                while (cap < c->frag_len + len)
                    cap *= 2;
                char *p = realloc (c->frag, cap);
                if (!p) {
                    s_down (self, i, PL_LFAIL_PROTOCOL, "out of memory");
                    return;
                }
                c->frag = p;
                c->frag_cap = cap;
            }
            memcpy (c->frag + c->frag_len, payload, len);
            c->frag_len += (uint32_t) len;
            if (f->fin) {
                s_on_text (self, i, c->frag, c->frag_len, now);
                if (c->state != S_DOWN) {
                    free (c->frag);
                    c->frag = NULL;
                    c->frag_len = c->frag_cap = 0;
                }
            }
            return;
        case PL_LOADWS_PING: {
            uint8_t pong[PL_LOADWS_HDR_MAX + 125];
            size_t n = pl_loadws_frame (pong, sizeof pong, PL_LOADWS_PONG, payload, len);
            pl_loadnet_send (self, i, pong, n);
            return;
        }
        case PL_LOADWS_PONG:
            return;
        case PL_LOADWS_CLOSE:
            s_down (self, i, PL_LFAIL_CLOSED, "WebSocket close frame");
            return;
        default:
            s_down (self, i, PL_LFAIL_PROTOCOL, "binary frame");
            return;
    }
}

/* Make room for `need` bytes in the receive buffer. Returns 0 or -1. */
static int
s_rx_reserve (pl_loadnet_t *self, s_conn_t *c, uint64_t need)
{
    if (need <= c->rx_cap)
        return 0;
    if (need > self->opts.max_message + PL_LOADWS_HDR_MAX)
        return -1;
    uint64_t cap = c->rx_cap;
    while (cap < need)
        cap *= 2;
    char *p = realloc (c->rx, cap + 1);
    if (!p)
        return -1;
    c->rx = p;
    c->rx_cap = (uint32_t) cap;
    return 0;
}

static void
s_on_readable (pl_loadnet_t *self, uint32_t i, int64_t now)
{
    s_conn_t *c = &self->conns[i];
    if (c->rx_cap - c->rx_len < 256 && s_rx_reserve (self, c, (uint64_t) c->rx_cap * 2) != 0) {
        s_down (self, i, PL_LFAIL_PROTOCOL, "message too long");
        return;
    }
    ssize_t n = recv (c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
    if (n == 0) {
        s_down (self, i, PL_LFAIL_CLOSED, "server closed the connection");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            s_down (self, i, PL_LFAIL_CLOSED, strerror (errno));
        return;
    }
    self->stats.bytes_in += (uint64_t) n;
    c->rx_len += (uint32_t) n;
    size_t off = 0;
    if (c->state == S_HTTP) {
        char accept[PL_LOADWS_ACCEPT_LEN + 1];
        size_t head = 0;
        int status = 0;
        const char *why = "bad key";
        int rc = pl_loadws_accept (c->key, accept) == 0
               ? pl_loadws_response (c->rx, c->rx_len, accept, &head, &status, &why) : -1;
        if (rc < 0) {
            char detail[96];
            snprintf (detail, sizeof detail, "%s (HTTP %d)", why, status);
            s_down (self, i, PL_LFAIL_UPGRADE, detail);
            return;
        }
        if (rc == 0)
            return;
        off = head;
        c->state = S_EIO;
    }
    while (c->state != S_DOWN && off < c->rx_len) {
        pl_loadws_frame_t f;
        const char *why = NULL;
        int rc = pl_loadws_parse ((const uint8_t *) c->rx + off, c->rx_len - off,
                                  self->opts.max_message, &f, &why);
        if (rc < 0) {
            s_down (self, i, PL_LFAIL_PROTOCOL, why);
            return;
        }
        if (rc == 0 || f.header_len + f.payload_len > c->rx_len - off)
            break;
        char *payload = c->rx + off + f.header_len;
        /* A NUL after the payload, as a guard for any scan that forgets
         * the length: the byte belongs to the next frame (or is the spare
         * byte after rx_cap) and is restored just below. */
        char *after = payload + f.payload_len;
        char saved = *after;
        *after = 0;
        s_on_frame (self, i, &f, payload, now);
        *after = saved;
        off += f.header_len + (size_t) f.payload_len;
    }
    if (c->state == S_DOWN)
        return;
    if (off > 0) {
        memmove (c->rx, c->rx + off, c->rx_len - off);
        c->rx_len -= (uint32_t) off;
    }
    /* a partial frame larger than the buffer: grow now, read it next time */
    pl_loadws_frame_t f;
    const char *why = NULL;
    if (c->rx_len > 0
    &&  pl_loadws_parse ((const uint8_t *) c->rx, c->rx_len, self->opts.max_message, &f, &why) == 1
    &&  s_rx_reserve (self, c, f.header_len + f.payload_len) != 0)
        s_down (self, i, PL_LFAIL_PROTOCOL, "message too long");
}

static void
s_on_writable (pl_loadnet_t *self, uint32_t i)
{
    s_conn_t *c = &self->conns[i];
    if (c->state == S_TCP) {
        s_on_connected (self, i);
        return;
    }
    while (c->tx_len > c->tx_off) {
        ssize_t n = send (c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                s_down (self, i, PL_LFAIL_CLOSED, strerror (errno));
            return;
        }
        self->stats.bytes_out += (uint64_t) n;
        c->tx_off += (uint32_t) n;
    }
    c->tx_off = c->tx_len = 0;
    s_epoll_set (self, i, false, EPOLL_CTL_MOD);
}

int
pl_loadnet_send (pl_loadnet_t *self, uint32_t i, const void *frame, size_t len)
{
    assert (i < self->opts.conns);
    s_conn_t *c = &self->conns[i];
    if (c->state < S_HTTP || c->state == S_DOWN)
        return -1;
    const char *p = frame;
    if (c->tx_len == c->tx_off) {
        ssize_t n = send (c->fd, p, len, MSG_NOSIGNAL);
        if (n == (ssize_t) len) {
            self->stats.bytes_out += len;
            return 0;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            s_down (self, i, PL_LFAIL_CLOSED, strerror (errno));
            return -1;
        }
        if (n > 0) {
            self->stats.bytes_out += (uint64_t) n;
            p += n;
            len -= (size_t) n;
        }
    }
    /* The kernel is full: keep the rest, bounded. */
    if ((uint64_t) c->tx_len - c->tx_off + len > PL_LOADNET_TX_MAX) {
        s_down (self, i, PL_LFAIL_OVERFLOW, "the server stopped reading");
        return -1;
    }
    if (c->tx_off > 0 && c->tx_len + len > c->tx_cap) {
        memmove (c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
        c->tx_len -= c->tx_off;
        c->tx_off = 0;
    }
    if (c->tx_len + len > c->tx_cap) {
        uint32_t cap = c->tx_cap ? c->tx_cap : 4096;
        while (cap < c->tx_len + len)
            cap *= 2;
        char *q = realloc (c->tx, cap);
        if (!q) {
            s_down (self, i, PL_LFAIL_OVERFLOW, "out of memory");
            return -1;
        }
        c->tx = q;
        c->tx_cap = cap;
    }
    memcpy (c->tx + c->tx_len, p, len);
    c->tx_len += (uint32_t) len;
    if (!c->want_out)
        s_epoll_set (self, i, true, EPOLL_CTL_MOD);
    return 0;
}

/* ---- the loop ---------------------------------------------------------- */

pl_loadnet_t *
pl_loadnet_new (const pl_loadnet_opts_t *opts, const pl_loadnet_ops_t *ops, void *mode)
{
    assert (opts && ops && ops->sub && ops->message && ops->tick);
    assert (opts->conns > 0);
    pl_loadnet_t *self = calloc (1, sizeof *self);
    if (!self)
        goto fail;
    self->opts = *opts;
    self->ops = *ops;
    self->mode = mode;
    self->epfd = self->timer_fd = self->wake_fd = -1;
    self->armed = INT64_MAX;
    self->mode_deadline = 0;            /* first turn ticks */
    self->rng = opts->seed ? opts->seed : 0x2545F4914F6CDD1DULL;
    self->conns = calloc (opts->conns, sizeof *self->conns);
    self->hs_fifo = calloc (opts->conns, sizeof *self->hs_fifo);
    self->reap = calloc (opts->conns, sizeof *self->reap);
    self->handshake = pl_loadhist_new ();
    if (!self->conns || !self->hs_fifo || !self->reap || !self->handshake)
        goto fail;
    for (uint32_t i = 0; i < opts->conns; i++)
        self->conns[i].fd = -1;
    self->pong_len = pl_loadws_frame (self->pong, sizeof self->pong, PL_LOADWS_TEXT, "3", 1);
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    self->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->epfd < 0 || self->timer_fd < 0 || self->wake_fd < 0)
        goto fail;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = S_TAG_TIMER };
    if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->timer_fd, &ev) != 0)
        goto fail;
    ev.data.u64 = S_TAG_WAKE;
    if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->wake_fd, &ev) != 0)
        goto fail;
    if (opts->signal_fd >= 0) {
        ev.data.u64 = S_TAG_SIGNAL;
        if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, opts->signal_fd, &ev) != 0)
            goto fail;
    }
    return self;
fail:
    fprintf (stderr, "parley-load: cannot create a loop: %s\n", strerror (errno));
    pl_loadnet_destroy (&self);
    return NULL;
}

void
pl_loadnet_close_all (pl_loadnet_t *self)
{
    self->closing = true;
    for (uint32_t i = 0; i < self->opts.conns; i++)
        s_down (self, i, PL_LFAIL_CLOSED, NULL);
    s_reap (self);
    self->closing = false;
}

void
pl_loadnet_destroy (pl_loadnet_t **self_p)
{
    assert (self_p);
    pl_loadnet_t *self = *self_p;
    if (!self)
        return;
    if (self->conns && self->reap)
        pl_loadnet_close_all (self);
    if (self->epfd >= 0)
        close (self->epfd);
    if (self->timer_fd >= 0)
        close (self->timer_fd);
    if (self->wake_fd >= 0)
        close (self->wake_fd);
    pl_loadhist_destroy (&self->handshake);
    free (self->conns);
    free (self->hs_fifo);
    free (self->reap);
    free (self);
    *self_p = NULL;
}

void
pl_loadnet_open (pl_loadnet_t *self, uint32_t first, uint32_t count, double rate,
                 uint32_t concurrency)
{
    assert ((uint64_t) first + count <= self->opts.conns);
    self->open_next = first;
    self->open_end = first + count;
    self->open_rate = rate;
    self->open_conc = concurrency ? concurrency : 1;
    self->open_start = pl_loadnet_now ();
    self->open_done = 0;
}

uint32_t
pl_loadnet_settled (pl_loadnet_t *self)
{
    return self->settled;
}

uint32_t
pl_loadnet_live (pl_loadnet_t *self)
{
    return self->live;
}

bool
pl_loadnet_is_ready (pl_loadnet_t *self, uint32_t i)
{
    assert (i < self->opts.conns);
    return self->conns[i].state == S_READY;
}

void
pl_loadnet_stop (pl_loadnet_t *self)
{
    self->stopped = true;
}

void
pl_loadnet_poke (pl_loadnet_t *self)
{
    self->poke = true;
}

void
pl_loadnet_wake (pl_loadnet_t *self)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: a wake is pending */
    if (write (self->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        fprintf (stderr, "parley-load: cannot wake a loop: %s\n", strerror (errno));
}

void
pl_loadnet_stats (pl_loadnet_t *self, pl_loadnet_stats_t *stats)
{
    *stats = self->stats;
    stats->handshake = self->handshake;
}

/* Open what is due; returns the next time the opener needs a turn. */
static int64_t
s_opener (pl_loadnet_t *self, int64_t now)
{
    while (self->open_next < self->open_end && self->handshaking < self->open_conc) {
        if (self->open_rate > 0) {
            int64_t due = self->open_start
                        + (int64_t) ((double) self->open_done * 1e9 / self->open_rate);
            if (due > now)
                return due;
        }
        self->open_done++;
        s_start (self, self->open_next++, now);
    }
    return INT64_MAX;               /* done, or waiting for a handshake to end */
}

/* Fail handshakes past their deadline; returns the next deadline. */
static int64_t
s_handshake_deadlines (pl_loadnet_t *self, int64_t now)
{
    while (self->hs_head < self->hs_tail) {
        s_conn_t *c = &self->conns[self->hs_fifo[self->hs_head]];
        if (c->state == S_READY || c->state == S_DOWN) {
            self->hs_head++;
            continue;
        }
        int64_t deadline = c->started + self->opts.handshake_timeout_ns;
        if (deadline > now)
            return deadline;
        s_down (self, self->hs_fifo[self->hs_head++], PL_LFAIL_TIMEOUT, "handshake timed out");
    }
    return INT64_MAX;
}

static void
s_arm (pl_loadnet_t *self, int64_t deadline)
{
    if (deadline == self->armed)
        return;
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    if (deadline != INT64_MAX) {
        if (deadline < 1)
            deadline = 1;           /* 0 would disarm */
        its.it_value.tv_sec = deadline / 1000000000;
        its.it_value.tv_nsec = deadline % 1000000000;
    }
    timerfd_settime (self->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    self->armed = deadline;
}

int
pl_loadnet_run (pl_loadnet_t *self)
{
    struct epoll_event events[S_EVENTS];
    int rc = 0;
    self->stopped = false;
    while (!self->stopped) {
        s_reap (self);
        int64_t now = pl_loadnet_now ();
        if (self->poke || now >= self->mode_deadline) {
            self->poke = false;
            self->mode_deadline = self->ops.tick (self->mode, now);
            if (self->stopped)
                break;
            s_reap (self);
            now = pl_loadnet_now ();
        }
        int64_t next = self->mode_deadline;
        int64_t t = s_opener (self, now);
        if (t < next)
            next = t;
        t = s_handshake_deadlines (self, now);
        if (t < next)
            next = t;
        int timeout = 0;                /* something is due: just poll */
        if (!self->poke && next > now) {
            s_arm (self, next);
            timeout = -1;               /* the timerfd ends the wait */
        }
        int n = epoll_wait (self->epfd, events, S_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf (stderr, "parley-load: epoll_wait: %s\n", strerror (errno));
            rc = -1;
            break;
        }
        now = pl_loadnet_now ();
        for (int k = 0; k < n && !self->stopped; k++) {
            uint64_t tag = events[k].data.u64;
            if (tag == S_TAG_TIMER) {
                uint64_t expirations;
                if (read (self->timer_fd, &expirations, sizeof expirations) < 0) {
                    /* EAGAIN: re-armed since it fired; nothing to do */
                }
                self->armed = INT64_MAX;    /* a one-shot timer is spent */
                continue;
            }
            if (tag == S_TAG_WAKE) {
                uint64_t count;
                if (read (self->wake_fd, &count, sizeof count) > 0)
                    self->poke = true;
                continue;
            }
            if (tag == S_TAG_SIGNAL) {
                struct signalfd_siginfo si;
                if (read (self->opts.signal_fd, &si, sizeof si) == sizeof si && self->ops.interrupt)
                    self->ops.interrupt (self->mode);
                continue;
            }
            uint32_t i = (uint32_t) tag;
            s_conn_t *c = &self->conns[i];
            if (c->state == S_DOWN || c->state == S_IDLE)
                continue;           /* went down earlier in this batch */
            if (c->state == S_TCP) {
                /* writable = connected; HUP/ERR = failed (SO_ERROR says why) */
                s_on_connected (self, i);
                continue;
            }
            if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                s_on_readable (self, i, now);
            if (c->state != S_DOWN && (events[k].events & EPOLLOUT))
                s_on_writable (self, i);
        }
    }
    s_reap (self);
    return rc;
}
