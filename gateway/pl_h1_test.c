/*  pl_h1 selftest: the decoders, then real pl_h1 connections over
 *  socketpairs on a private loop: a head in one-byte pieces, and every
 *  file of tests/corpus/http (pl_h1.h says what is expected of them). */
#include "pl_h1.h"
#include "pl_h1_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


typedef struct {
    char methods[16][8];            /* the requests answered, in order          */
    int answered;
    int handoffs;                   /* connections handed over                  */
    size_t handoff_len;
    int closed;                     /* `closed` callbacks                       */
    int closed_early;               /* ... of them before pl_h1_destroy         */
    bool shut;                      /* the client shuts its write side after
                                       sending (EOF)                           */
    bool headers_ok;                /* the split-head check saw every value     */
    pl_h1_body_t *shared;           /* the body of /shared                      */
    size_t shared_refs;             /* its references once answered (max)      */
} s_test_t;

static void
s_test_head (void *arg, pl_h1_conn_t *conn, const pl_h1_req_t *req)
{
    s_test_t *t = (s_test_t *) arg;
    pl_h1_set_user (conn, t);
    if (strcmp (req->path, "/more") == 0) {     /* lines for whoever answers */
        assert (pl_h1_add_headers (conn, "X-More: 1\r\n") == 0);
        assert (pl_h1_add_headers (conn, "X-More: 2\r\n") == 0);
    }
    if (strncmp (req->path, "/refuse", 7) == 0) {
        snprintf (t->methods[t->answered++ % 16], 8, "%s", req->method);
        pl_h1_respond (conn, 401, NULL, "{}", 2);
    }
}

static void
s_test_request (void *arg, pl_h1_conn_t *conn, const pl_h1_req_t *req)
{
    s_test_t *t = (s_test_t *) arg;
    char body[64];
    if (strcmp (req->path, "/split") == 0) {
        const char *a = pl_h1_header (conn, "authorization");
        const char *e = pl_h1_header (conn, "X-EMPTY");
        const char *l = pl_h1_header (conn, "x-long-name");
        const char *l1 = pl_h1_header_next (conn, "x-list", NULL);
        const char *l2 = l1 ? pl_h1_header_next (conn, "X-LIST", l1) : NULL;
        t->headers_ok = a && strcmp (a, "Bearer abc") == 0 && e && *e == '\0'
                     && l1 && strcmp (l1, "a, b") == 0 && l2 && strcmp (l2, "c") == 0
                     && !pl_h1_header_next (conn, "x-list", l2)
                     && l && strcmp (l, "some value here") == 0
                     && req->nquery == 2 && strcmp (req->query[0], "a=1 2") == 0
                     && strcmp (req->query[1], "b=/x") == 0;
    }
    if (strcmp (req->path, "/hold") == 0)
        return;                             /* answered later (a long-poll) */
    snprintf (t->methods[t->answered++ % 16], 8, "%s", req->method);
    if (strcmp (req->path, "/shared") == 0) {
        pl_h1_respond_shared (conn, 200, NULL, t->shared);
        if (pl_h1_body_refs (t->shared) > t->shared_refs)
            t->shared_refs = pl_h1_body_refs (t->shared);
        return;
    }
    if (strcmp (req->path, "/text") == 0) {
        pl_h1_extra_t extra = { NULL, NULL, false, "text/plain; charset=UTF-8", NULL };
        pl_h1_respond (conn, 200, &extra, "ok", 2);
        return;
    }
    int n = snprintf (body, sizeof body, "{\"len\":%zu}", req->body_len);
    pl_h1_respond (conn, 200, NULL, body, (size_t) n);
}

static bool
s_test_upgrade (void *arg, const pl_h1_req_t *req)
{
    (void) arg;
    return strcmp (req->path, "/ws") == 0;
}

static void
s_test_handoff (void *arg, int fd, const char *bytes, size_t len)
{
    s_test_t *t = (s_test_t *) arg;
    assert (len > 4 && memcmp (bytes, "GET ", 4) == 0);
    assert (memmem (bytes, len, "\r\n\r\n", 4));        /* the whole head */
    t->handoffs++;
    t->handoff_len = len;
    close (fd);
}

static void
s_test_closed (void *arg, pl_h1_conn_t *conn)
{
    (void) conn;
    ((s_test_t *) arg)->closed++;
}

typedef struct {
    ev_io io;
    char buf[1 << 18];
    size_t len;
    bool eof;
} s_sink_t;

/* libev watcher, the selftest's loop: the client side reads answers. */
static void
s_sink_read (struct ev_loop *loop, ev_io *w, int revents)
{
    (void) revents;
    s_sink_t *k = (s_sink_t *) w;
    ssize_t n = read (w->fd, k->buf + k->len, sizeof k->buf - k->len - 1);
    if (n > 0)
        k->len += (size_t) n;
    else
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        k->eof = true;
        ev_io_stop (loop, w);
    }
    k->buf[k->len] = '\0';
}

/* libev timer, the selftest's loop: give up waiting. */
static void
s_test_timeout (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) w;
    (void) revents;
    ev_break (loop, EVBREAK_ALL);
}

/* The statuses in a stream of answers, e.g. "200-401"; answers to HEAD
 * (by t->methods) carry no body. */
static void
s_test_statuses (const s_sink_t *k, const s_test_t *t, char *out, size_t size)
{
    const char *p = k->buf, *end = k->buf + k->len;
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; p < end; i++) {
        int status = 0;
        const char *head_end = strstr (p, "\r\n\r\n");
        const char *cl = strstr (p, "Content-Length: ");
        if (!head_end || sscanf (p, "HTTP/1.1 %d", &status) != 1 || !cl)
            break;
        size_t len = strtoul (cl + 16, NULL, 10);
        if (i < t->answered && strcmp (t->methods[i], "HEAD") == 0)
            len = 0;
        o += (size_t) snprintf (out + o, size - o, "%s%d", i ? "-" : "", status);
        p = head_end + 4 + len;
    }
}

/* Feed one input to a fresh pl_h1 connection over a socketpair, in pieces
 * of `step` bytes (0: at once), and return what came back. */
static void
s_test_run (const char *data, size_t len, size_t step, s_test_t *t, s_sink_t *k)
{
    struct ev_loop *loop = ev_loop_new (EVFLAG_AUTO);
    static const pl_h1_handlers_t handlers = { s_test_head, s_test_request, s_test_upgrade,
                                               s_test_handoff, s_test_closed };
    pl_h1_t *h1 = pl_h1_new (loop, 65536, &handlers, t);
    int sv[2];
    int rc = socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
    assert (rc == 0 && h1);
    int size = 1 << 20;
    setsockopt (sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    pl_h1_adopt (h1, sv[0]);
    ev_io_init (&k->io, s_sink_read, sv[1], EV_READ);
    ev_io_start (loop, &k->io);
    ev_timer timeout;
    ev_timer_init (&timeout, s_test_timeout, 0.3, 0.);
    for (size_t off = 0; off < len; ) {
        size_t n = step ? (len - off < step ? len - off : step) : len - off;
        ssize_t w = write (sv[1], data + off, n);
        assert (w > 0);
        off += (size_t) w;
        ev_run (loop, EVRUN_NOWAIT);
    }
    if (t->shut)
        shutdown (sv[1], SHUT_WR);
    /* until the peer closes, or nothing more comes for 300 ms */
    while (!k->eof && !t->handoffs) {
        size_t before = k->len;
        ev_timer_start (loop, &timeout);
        ev_run (loop, 0);
        if (k->len == before && !k->eof)
            break;
        ev_timer_stop (loop, &timeout);
    }
    ev_timer_stop (loop, &timeout);
    ev_io_stop (loop, &k->io);
    t->closed_early = t->closed;
    pl_h1_destroy (&h1);
    close (sv[1]);
    ev_loop_destroy (loop);
}

void
pl_h1_test (bool verbose)
{
    if (verbose)
        printf (" * pl_h1: ");
    char out[64];
    assert (pl_h1__decode ("/a%20b", 6, out, false) == 4 && strcmp (out, "/a b") == 0);
    assert (pl_h1__decode ("a+b", 3, out, true) == 3 && strcmp (out, "a b") == 0);
    assert (pl_h1__decode ("a+b", 3, out, false) == 3 && strcmp (out, "a+b") == 0);
    assert (pl_h1__decode ("%00", 3, out, false) == -1);     /* NUL: refused */
    assert (pl_h1__decode ("%4", 2, out, false) == -1);      /* short escape */
    assert (pl_h1__decode ("%", 1, out, false) == -1);
    assert (pl_h1__decode ("%zz", 3, out, false) == -1);
    assert (pl_h1__decode ("%41%42", 6, out, false) == 2 && strcmp (out, "AB") == 0);
    assert (pl_h1__method_allowed (HTTP_GET) && pl_h1__method_allowed (HTTP_OPTIONS));
    assert (!pl_h1__method_allowed (HTTP_CONNECT) && !pl_h1__method_allowed (HTTP_TRACE));
    assert (strcmp (pl_h1__reason (431), "Request Header Fields Too Large") == 0);
    assert (strcmp (pl_h1__reason (404), "Not Found") == 0);

    static s_sink_t sink;
    s_test_t t;
    char statuses[256];
    /* a head in one-byte pieces: names and values split across reads, an
     * empty value, a decoded query */
    const char *split = "GET /split?a=1+2&b=%2Fx HTTP/1.1\r\nX-Long-Name: some value here\r\n"
                        "X-Empty:\r\nX-List: a, b\r\nAuthorization: Bearer abc\r\nx-list: c\r\n\r\n";
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    s_test_run (split, strlen (split), 1, &t, &sink);
    s_test_statuses (&sink, &t, statuses, sizeof statuses);
    assert (strcmp (statuses, "200") == 0 && t.headers_ok);
    assert (t.closed == 1);                 /* destroy closes it, with the callback */

    /* a content type of the handler's choice */
    const char *text = "GET /text HTTP/1.1\r\n\r\n";
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    s_test_run (text, strlen (text), 0, &t, &sink);
    assert (strstr (sink.buf, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
    assert (strstr (sink.buf, "\r\n\r\nok"));
    /* pl_h1_add_headers: in the answer to that request only (not the
     * next one on the connection), and in pl_h1's own refusal of its body */
    const char *more = "GET /more HTTP/1.1\r\n\r\nGET /text HTTP/1.1\r\n\r\n";
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    s_test_run (more, strlen (more), 0, &t, &sink);
    s_test_statuses (&sink, &t, statuses, sizeof statuses);
    assert (strcmp (statuses, "200-200") == 0);
    const char *first = strstr (sink.buf, "\r\nX-More: 1\r\nX-More: 2\r\n\r\n");
    const char *second = strstr (sink.buf, "\r\n\r\nok");
    assert (first && second && first < second && !strstr (first + 30, "X-More"));
    static char big[80000];
    int n = snprintf (big, sizeof big, "POST /more HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "%x\r\n", 70000);
    memset (big + n, 'a', 70000);
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    s_test_run (big, (size_t) n + 70000, 0, &t, &sink);
    assert (strncmp (sink.buf, "HTTP/1.1 413 ", 13) == 0 && strstr (sink.buf, "\r\nX-More: 2\r\n"));

    /* a shared body: sent whole to each answer (not to HEAD), referenced
     * while being written, back to the owner's one reference after */
    const char *shared = "GET /shared HTTP/1.1\r\n\r\nHEAD /shared HTTP/1.1\r\n\r\n"
                         "GET /shared HTTP/1.1\r\n\r\n";
    enum { S_SHARED = 100000 };
    char *page = malloc (S_SHARED);
    assert (page);
    for (size_t i = 0; i < S_SHARED; i++)
        page[i] = (char) ('a' + i % 26);
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    t.shared = pl_h1_body_new (page, S_SHARED);
    assert (t.shared && pl_h1_body_refs (t.shared) == 1);
    s_test_run (shared, strlen (shared), 0, &t, &sink);
    s_test_statuses (&sink, &t, statuses, sizeof statuses);
    assert (strcmp (statuses, "200-200-200") == 0);
    assert (t.shared_refs == 2 && pl_h1_body_refs (t.shared) == 1);
    const char *one = strstr (sink.buf, "\r\n\r\n");
    assert (one && memcmp (one + 4, page, S_SHARED) == 0);
    const char *two = strstr (one + 4 + S_SHARED, "\r\n\r\n");     /* HEAD: no body */
    assert (two && strncmp (two + 4, "HTTP/1.1 200 ", 13) == 0);
    const char *three = strstr (two + 4, "\r\n\r\n");
    assert (three && memcmp (three + 4, page, S_SHARED) == 0 && three + 4 + S_SHARED == sink.buf + sink.len);
    assert (strstr (sink.buf, "Content-Length: 100000\r\n"));
    pl_h1_body_unref (&t.shared);
    assert (t.shared == NULL);

    /* a request held for later whose client goes away (EOF): `closed`
     * runs then, not at the answer deadline, and nothing is answered */
    const char *hold = "GET /hold HTTP/1.1\r\n\r\n";
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    t.shut = true;
    s_test_run (hold, strlen (hold), 0, &t, &sink);
    assert (t.closed_early == 1 && sink.len == 0 && sink.eof);
    /* held, client still there: nothing closes */
    memset (&t, 0, sizeof t);
    memset (&sink, 0, sizeof sink);
    s_test_run (hold, strlen (hold), 0, &t, &sink);
    assert (t.closed_early == 0 && t.closed == 1 && sink.len == 0);

    /* the corpus: tests/corpus/http/<statuses>--<name>.http, each fed at
     * once and in 7-byte pieces ("ws": handed over whole) */
    char dir[512];
    snprintf (dir, sizeof dir, "%s/tests/corpus/http", PL_SOURCE_DIR);
    DIR *d = opendir (dir);
    assert (d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir (d)) != NULL) {
        const char *sep = strstr (e->d_name, "--");
        if (!sep || !strstr (e->d_name, ".http"))
            continue;
        char path[800], expect[64];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf (expect, sizeof expect, "%.*s", (int) (sep - e->d_name), e->d_name);
        FILE *f = fopen (path, "rb");
        assert (f);
        static char data[1 << 17];
        size_t len = fread (data, 1, sizeof data, f);
        fclose (f);
        for (int pass = 0; pass < 2; pass++) {
            memset (&t, 0, sizeof t);
            memset (&sink, 0, sizeof sink);
            s_test_run (data, len, pass ? 7 : 0, &t, &sink);
            s_test_statuses (&sink, &t, statuses, sizeof statuses);
            bool ok = strcmp (expect, "ws") == 0 ? t.handoffs == 1 && t.handoff_len == len
                                                 : strcmp (statuses, expect) == 0;
            if (!ok)
                fprintf (stderr, "\npl_h1: %s (%s): got \"%s\", handoffs %d\n", e->d_name,
                         pass ? "7-byte pieces" : "one write", statuses, t.handoffs);
            assert (ok);
        }
        files++;
    }
    closedir (d);
    assert (files >= 30);
    if (verbose)
        printf ("OK (%d corpus files)\n", files);
}
