/*  pl_eio_poll selftest: limits, the outbound queue and its bounds, GET
 *  and POST (every malformed body), the upgrade and the heartbeat, through
 *  the public API only. */
#include "pl_eio_poll.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    {   /* a probe whose WebSocket goes away: polling again, a GET waits */
        pl_eio_poll_t *c = pl_eio_poll_new (&l, 0);
        pl_eio_poll_probe_cancel (c);                       /* no effect */
        assert (pl_eio_poll_state (c) == PL_EIO_POLL_POLLING);
        assert (pl_eio_poll_probe (c) == PL_EIO_POLL_OK);
        pl_eio_poll_probe_cancel (c);
        assert (pl_eio_poll_state (c) == PL_EIO_POLL_POLLING);
        assert (pl_eio_poll_get (c) == PL_EIO_POLL_OK && !pl_eio_poll_ready (c));
        assert (pl_eio_poll_probe (c) == PL_EIO_POLL_OK);   /* a new probe */
        assert (pl_eio_poll_ready (c));                     /* the GET gets its noop */
        pl_eio_poll_destroy (&c);
    }
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
