/*  pl_ctlc selftest: urls, a refused connect, a silent server, the stop
 *  flag, printable server text. The protocol itself is tested against a
 *  real system and hostile servers in tests/e2e/parleyctl.test.mjs. */
#include "pl_ctlc.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback port nobody listens on: bound, never listened to, so a
 * connect is refused while we hold it. */
static int
s_dead_port (int *fd)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    *fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (*fd >= 0);
    assert (bind (*fd, (struct sockaddr *) &sa, sizeof sa) == 0);
    assert (getsockname (*fd, (struct sockaddr *) &sa, &sl) == 0);
    return ntohs (sa.sin_port);
}

void
pl_ctlc_test (bool verbose)
{
    if (verbose)
        printf (" * pl_ctlc: ");
    const char *why = NULL;
    pl_ctlc_t *c = pl_ctlc_new ("http://127.0.0.1:8080", 1000, NULL, &why);
    assert (c && strcmp (pl_ctlc_url (c), "http://127.0.0.1:8080") == 0);
    pl_ctlc_destroy (&c);
    pl_ctlc_destroy (&c);
    assert (c == NULL);
    c = pl_ctlc_new ("HTTP://gw-1.example.org/", 1000, NULL, &why);
    assert (c && strcmp (pl_ctlc_url (c), "http://gw-1.example.org:80") == 0);
    pl_ctlc_destroy (&c);
    c = pl_ctlc_new ("http://[::1]:9000", 1000, NULL, &why);
    assert (c && strcmp (pl_ctlc_url (c), "http://[::1]:9000") == 0);
    pl_ctlc_destroy (&c);
    const char *bad[] = {
        "", "127.0.0.1:8080", "https://127.0.0.1", "ftp://x", "http://", "http://:80",
        "http://h:0", "http://h:65536", "http://h:1234567", "http://h:", "http://h:8x",
        "http://h/api", "http://[::1", "http://a b", "http://h\x01", "http://user@h", NULL
    };
    for (int i = 0; bad[i]; i++) {
        why = NULL;
        c = pl_ctlc_new (bad[i], 1000, NULL, &why);
        if (c)
            fprintf (stderr, "accepted url '%s'\n", bad[i]);
        assert (!c && why);
    }
    char longurl[PL_CTLC_URL_MAX + 16] = "http://";
    memset (longurl + 7, 'a', sizeof longurl - 8);
    longurl[sizeof longurl - 1] = 0;
    assert (!pl_ctlc_new (longurl, 1000, NULL, &why));

    /* a refused connection is PL_CTLC_UNREACHABLE and says so */
    int fd;
    int port = s_dead_port (&fd);
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
    c = pl_ctlc_new (url, 5000, NULL, &why);
    assert (c);
    int status;
    char *body;
    size_t len;
    assert (pl_ctlc_get (c, "/healthz", &status, &body, &len) == PL_CTLC_UNREACHABLE);
    assert (strstr (pl_ctlc_error (c), "cannot connect to http://127.0.0.1:"));
    assert (strstr (pl_ctlc_error (c), ": Connection refused"));
    assert (body == NULL);
    if (verbose)
        printf ("\n   %s", pl_ctlc_error (c));
    pl_ctlc_destroy (&c);
    c = pl_ctlc_new (url, 5000, NULL, &why);
    assert (pl_ctlc_connect (c, "/socket.io/", "t") == PL_CTLC_UNREACHABLE);
    assert (strstr (pl_ctlc_error (c), "cannot connect to"));
    pl_ctlc_destroy (&c);

    /* a server that accepts and never answers: the step times out */
    assert (listen (fd, 4) == 0);
    c = pl_ctlc_new (url, 200, NULL, &why);
    assert (pl_ctlc_get (c, "/healthz", &status, &body, &len) == PL_CTLC_UNREACHABLE);
    assert (strstr (pl_ctlc_error (c), "no answer from"));
    pl_ctlc_destroy (&c);
    close (fd);

    /* a stop flag already set stops before anything is answered */
    volatile sig_atomic_t stop = 1;
    fd = -1;
    port = s_dead_port (&fd);
    assert (listen (fd, 4) == 0);
    snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
    c = pl_ctlc_new (url, 5000, &stop, &why);
    assert (pl_ctlc_get (c, "/healthz", &status, &body, &len) == PL_CTLC_STOPPED);
    pl_ctlc_destroy (&c);
    close (fd);

    /* s_show never prints a control byte nor more than PL_CTLC_PRINTABLE */
    char shown[PL_CTLC_PRINTABLE + 1];
    pl_ctlc_printable (shown, sizeof shown, "a\x1b[2Jb\nc", 8);
    assert (strcmp (shown, "a?[2Jb?c") == 0);
    char big[1000];
    memset (big, 'x', sizeof big);
    pl_ctlc_printable (shown, sizeof shown, big, sizeof big);
    assert (strlen (shown) == PL_CTLC_PRINTABLE);

    /* a page keeps its lines and tabs, every other control byte is '?' */
    char page[] = "a\tb\n\x1b[2J\r\x7f\x07";
    pl_ctlc_sanitize (page, sizeof page);     /* the final NUL too */
    assert (memcmp (page, "a\tb\n?[2J????", sizeof page) == 0);
    if (verbose)
        printf ("\n");
}
