/*  pl_loadnet_test - the load loop against a scripted server on loopback.
 *
 *  A server thread (blocking sockets, every read bounded by a timeout)
 *  accepts three connections in order and plays:
 *    slot 0: a good handshake, then checks the client's CONNECT token with
 *            pl_jwt_verify, answers a WebSocket ping and an Engine.IO ping,
 *            sends a fragmented message and one too big for the initial
 *            receive buffer (64-bit length), then closes: "dropped";
 *    slot 1: a good upgrade, then CONNECT_ERROR: "auth";
 *    slot 2: HTTP 400 instead of 101: "upgrade".
 *  The loop runs on this thread with a mode that records what it is given.
 */
#include "pl_loadnet.h"
#include "pl_loadws.h"
#include "pl_jwt.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_SECRET "loadnet-test-secret"
#define S_BIG    70000

typedef struct {
    int listener;
    bool ok[3];                     /* each script ran to its end           */
} s_server_t;

typedef struct {
    pl_loadnet_t *net;
    int ready, downs;
    pl_lfail_t why[3];
    bool got_frag, got_big;
    int64_t deadline;
} s_mode_t;

/* ---- the scripted server (its own thread, blocking I/O) -------------- */

static bool
s_read_n (int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv (fd, (char *) buf + got, n - got, 0);
        if (r <= 0)
            return false;
        got += (size_t) r;
    }
    return true;
}

static bool
s_write_all (int fd, const void *buf, size_t n)
{
    return send (fd, buf, n, MSG_NOSIGNAL) == (ssize_t) n;
}

/* Read one client frame (must be masked); payload NUL-terminated. */
static bool
s_read_frame (int fd, int *opcode, char *out, size_t size, size_t *len)
{
    uint8_t h[14];
    if (!s_read_n (fd, h, 2) || !(h[1] & 0x80))
        return false;
    *opcode = h[0] & 0x0f;
    uint64_t plen = h[1] & 0x7f;
    if (plen == 126) {
        if (!s_read_n (fd, h + 2, 2))
            return false;
        plen = ((uint64_t) h[2] << 8) | h[3];
    }
    else
    if (plen == 127)
        return false;               /* our client never sends that much */
    uint8_t mask[4];
    if (!s_read_n (fd, mask, 4) || plen + 1 > size || !s_read_n (fd, out, plen))
        return false;
    for (uint64_t i = 0; i < plen; i++)
        out[i] ^= (char) mask[i % 4];
    out[plen] = 0;
    *len = plen;
    return true;
}

/* Server frame: FIN + opcode, unmasked. */
static bool
s_send_frame (int fd, int opcode, bool fin, const char *payload, size_t len)
{
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t) ((fin ? 0x80 : 0) | opcode);
    if (len < 126)
        h[1] = (uint8_t) len;
    else
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t) (len >> 8);
        h[3] = (uint8_t) len;
        hl = 4;
    }
    else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
        hl = 10;
    }
    return s_write_all (fd, h, hl) && s_write_all (fd, payload, len);
}

/* Read the upgrade request and answer it (status 101 or 400). */
static bool
s_upgrade (int fd, bool accept_it)
{
    char req[2048];
    size_t n = 0;
    while (!memmem (req, n, "\r\n\r\n", 4)) {
        if (n + 1 >= sizeof req)
            return false;
        ssize_t r = recv (fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0)
            return false;
        n += (size_t) r;
    }
    req[n] = 0;
    if (strncmp (req, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n", 52) != 0)
        return false;
    if (!accept_it) {
        const char *no = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        return s_write_all (fd, no, strlen (no));
    }
    const char *k = strstr (req, "Sec-WebSocket-Key: ");
    if (!k)
        return false;
    char key[PL_LOADWS_KEY_LEN + 1], accept[PL_LOADWS_ACCEPT_LEN + 1], resp[256];
    memcpy (key, k + 19, PL_LOADWS_KEY_LEN);
    key[PL_LOADWS_KEY_LEN] = 0;
    if (pl_loadws_accept (key, accept) != 0)
        return false;
    int rl = snprintf (resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    return s_write_all (fd, resp, (size_t) rl);
}

/* Engine.IO OPEN, then the client's CONNECT with a valid token for sub. */
static bool
s_open_and_connect (int fd, const char *sub)
{
    const char *open = "0{\"sid\":\"s\",\"pingInterval\":25000,\"pingTimeout\":20000}";
    char buf[4096];
    size_t len;
    int op;
    if (!s_send_frame (fd, PL_LOADWS_TEXT, true, open, strlen (open))
    ||  !s_read_frame (fd, &op, buf, sizeof buf, &len) || op != PL_LOADWS_TEXT
    ||  strncmp (buf, "40{\"token\":\"", 12) != 0)
        return false;
    char *end = strchr (buf + 12, '"');
    if (!end)
        return false;
    pl_jwt_claims_t claims = { 0 };
    const char *why = NULL;
    bool ok = pl_jwt_verify (buf + 12, (size_t) (end - buf - 12), S_SECRET, time (NULL),
                             &claims, &why) == 0
           && strcmp (claims.sub, sub) == 0;
    pl_jwt_claims_clear (&claims);
    return ok;
}

static bool
s_script_good (int fd)
{
    char buf[4096];
    size_t len;
    int op;
    if (!s_upgrade (fd, true) || !s_open_and_connect (fd, "tester-0"))
        return false;
    const char *ack = "40{\"sid\":\"x\"}";
    if (!s_send_frame (fd, PL_LOADWS_TEXT, true, ack, strlen (ack))
    /* WebSocket ping -> pong with the same payload */
    ||  !s_send_frame (fd, PL_LOADWS_PING, true, "hi", 2)
    ||  !s_read_frame (fd, &op, buf, sizeof buf, &len) || op != PL_LOADWS_PONG
    ||  len != 2 || memcmp (buf, "hi", 2) != 0
    /* Engine.IO ping -> "3" */
    ||  !s_send_frame (fd, PL_LOADWS_TEXT, true, "2", 1)
    ||  !s_read_frame (fd, &op, buf, sizeof buf, &len) || op != PL_LOADWS_TEXT
    ||  len != 1 || buf[0] != '3'
    /* a message in two fragments */
    ||  !s_send_frame (fd, PL_LOADWS_TEXT, false, "42[\"frag\",", 10)
    ||  !s_send_frame (fd, PL_LOADWS_CONT, true, "1]", 2))
        return false;
    /* one larger than the initial receive buffer, 64-bit length */
    char *big = malloc (S_BIG);
    if (!big)
        return false;
    memset (big, 'x', S_BIG);
    memcpy (big, "42[\"big\",\"", 10);
    memcpy (big + S_BIG - 2, "\"]", 2);
    bool ok = s_send_frame (fd, PL_LOADWS_TEXT, true, big, S_BIG);
    free (big);
    return ok;                      /* closing now: the client sees "dropped" */
}

static bool
s_script_auth (int fd)
{
    const char *no = "44{\"message\":\"unauthorized: test\"}";
    return s_upgrade (fd, true) && s_open_and_connect (fd, "tester-1")
        && s_send_frame (fd, PL_LOADWS_TEXT, true, no, strlen (no));
}

static void *
s_server (void *arg)
{
    s_server_t *srv = arg;
    for (int k = 0; k < 3; k++) {
        int fd = accept (srv->listener, NULL, NULL);
        if (fd < 0)
            break;
        struct timeval tv = { 5, 0 };
        setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        srv->ok[k] = k == 0 ? s_script_good (fd) : k == 1 ? s_script_auth (fd)
                   : s_upgrade (fd, false);
        if (k == 1) {
            /* wait for the client to hang up after the CONNECT_ERROR */
            char c;
            while (recv (fd, &c, 1, 0) > 0)
                ;
        }
        close (fd);
    }
    return NULL;
}

/* ---- the mode --------------------------------------------------------- */

static int
s_sub (void *mode, uint32_t i, char *out, size_t size)
{
    (void) mode;
    return snprintf (out, size, "tester-%u", i);
}

/* pl_loadnet callback, this shard's loop: slot i connected. */
static void
s_ready (void *mode, uint32_t i, int64_t now)
{
    (void) i, (void) now;
    ((s_mode_t *) mode)->ready++;
}

/* pl_loadnet callback, this shard's loop: a Socket.IO packet on slot i. */
static void
s_message (void *mode, uint32_t i, const char *msg, size_t len, int64_t now)
{
    s_mode_t *m = mode;
    (void) now;
    assert (i == 0);
    if (len == 12 && memcmp (msg, "42[\"frag\",1]", 12) == 0)
        m->got_frag = true;
    if (len == S_BIG && memcmp (msg, "42[\"big\",\"xx", 12) == 0 && msg[len - 1] == ']')
        m->got_big = true;
}

/* pl_loadnet callback, this shard's loop: slot i failed or went down. */
static void
s_down (void *mode, uint32_t i, pl_lfail_t why, bool was_ready)
{
    s_mode_t *m = mode;
    assert (i < 3);
    assert (was_ready == (i == 0));
    m->why[i] = why;
    if (++m->downs == 3)
        pl_loadnet_poke (m->net);
}

static int64_t
s_tick (void *mode, int64_t now)
{
    s_mode_t *m = mode;
    if (m->downs == 3 || now >= m->deadline) {
        pl_loadnet_stop (m->net);
        return INT64_MAX;
    }
    return m->deadline;
}

void
pl_loadnet_test (bool verbose)
{
    if (verbose)
        printf (" * pl_loadnet: ");
    s_server_t srv = { .listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    assert (srv.listener >= 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t sl = sizeof sin;
    assert (bind (srv.listener, (struct sockaddr *) &sin, sizeof sin) == 0);
    assert (listen (srv.listener, 8) == 0);
    assert (getsockname (srv.listener, (struct sockaddr *) &sin, &sl) == 0);
    pthread_t tid;
    assert (pthread_create (&tid, NULL, s_server, &srv) == 0);

    s_mode_t mode = { .deadline = pl_loadnet_now () + 10000000000LL };
    pl_loadnet_opts_t opts = {
        .addr_len = sizeof sin, .host = "127.0.0.1", .port = ntohs (sin.sin_port),
        .path = "/socket.io/?EIO=4&transport=websocket", .secret = S_SECRET,
        .conns = 3, .handshake_timeout_ns = 5000000000LL, .max_message = 1 << 20,
        .signal_fd = -1, .seed = 7,
    };
    memcpy (&opts.addr, &sin, sizeof sin);
    pl_loadnet_ops_t ops = {
        .sub = s_sub, .ready = s_ready, .message = s_message, .down = s_down, .tick = s_tick,
    };
    mode.net = pl_loadnet_new (&opts, &ops, &mode);
    assert (mode.net);
    pl_loadnet_open (mode.net, 0, 3, 0, 1);    /* one at a time: accept order */
    assert (pl_loadnet_run (mode.net) == 0);
    assert (pthread_join (tid, NULL) == 0);
    close (srv.listener);

    assert (srv.ok[0] && srv.ok[1] && srv.ok[2]);
    assert (mode.ready == 1 && mode.downs == 3);
    assert (mode.got_frag && mode.got_big);
    assert (mode.why[0] == PL_LFAIL_DROPPED);
    assert (mode.why[1] == PL_LFAIL_AUTH);
    assert (mode.why[2] == PL_LFAIL_UPGRADE);
    pl_loadnet_stats_t st;
    pl_loadnet_stats (mode.net, &st);
    assert (st.opened == 3 && st.connected == 1 && st.pings == 1);
    assert (st.failures[PL_LFAIL_DROPPED] == 1 && st.failures[PL_LFAIL_AUTH] == 1);
    assert (st.failures[PL_LFAIL_UPGRADE] == 1 && st.failures[PL_LFAIL_TIMEOUT] == 0);
    assert (pl_loadhist_count (st.handshake) == 1);
    assert (pl_loadnet_live (mode.net) == 0 && pl_loadnet_settled (mode.net) == 3);
    pl_loadnet_destroy (&mode.net);
    pl_loadnet_destroy (&mode.net);
    if (verbose)
        printf ("OK\n");
}
