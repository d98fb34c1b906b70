/*  pl_ctlc - the gateway's address: the url parsed, and why a connect to
 *  it failed. */
#include "pl_ctlc.h"
#include "pl_ctlc_int.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int
pl_ctlc__parse_url (pl_ctlc__addr_t *addr, const char *url, const char **why)
{
    int rc = -1;
    size_t len = strlen (url);
    if (len > PL_CTLC_URL_MAX) {
        *why = "the url is too long";
        goto cleanup;
    }
    if (strncasecmp (url, "https://", 8) == 0) {
        *why = "https is not supported: give the gateway's http:// address";
        goto cleanup;
    }
    if (strncasecmp (url, "http://", 7) != 0) {
        *why = "the url must start with http://";
        goto cleanup;
    }
    const char *p = url + 7, *end;
    if (*p == '[') {
        end = strchr (p, ']');
        if (!end) {
            *why = "the url's IPv6 address has no ]";
            goto cleanup;
        }
        p++;
    }
    else
        end = p + strcspn (p, ":/");
    size_t host_len = (size_t) (end - p);
    if (host_len == 0 || host_len >= sizeof addr->host) {
        *why = "the url has no host, or one too long";
        goto cleanup;
    }
    for (size_t i = 0; i < host_len; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '.' || c == '-' || c == '_' || c == ':';
        if (!ok) {
            *why = "the url's host holds a character no host name has";
            goto cleanup;
        }
    }
    memcpy (addr->host, p, host_len);
    addr->host[host_len] = 0;
    p = end + (*end == ']');
    addr->port = 80;
    if (*p == ':') {
        p++;
        long port = 0;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            port = port * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || port < 1 || port > 65535) {
            *why = "the url's port must be 1 to 65535";
            goto cleanup;
        }
        addr->port = (int) port;
    }
    if (*p && strcmp (p, "/") != 0) {
        *why = "the url takes no path (PARLEY_PATH sets the Engine.IO path)";
        goto cleanup;
    }
    bool v6 = strchr (addr->host, ':') != NULL;
    snprintf (addr->url, sizeof addr->url, "http://%s%s%s:%d", v6 ? "[" : "", addr->host,
              v6 ? "]" : "", addr->port);
    rc = 0;
cleanup:
    return rc;
}

/* Why a connect failed, as the system says it ("Connection refused"):
 * lws 4.1 reports every failure as "Unable to connect". Asked only after a
 * failure, with a connect of our own bounded by the step's timeout (a poll
 * on the socket). Writes "" when that one gets through or says nothing. */
void
pl_ctlc__connect_errno (const pl_ctlc__addr_t *addr, long timeout_ms, char *out, size_t size)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[8];
    int fd = -1;
    out[0] = 0;
    snprintf (port, sizeof port, "%d", addr->port);
    int gai = getaddrinfo (addr->host, port, &hints, &res);
    if (gai != 0) {
        snprintf (out, size, "%s", gai_strerror (gai));
        goto cleanup;
    }
    fd = socket (res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto cleanup;
    int err = 0;
    if (connect (fd, res->ai_addr, res->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            socklen_t len = sizeof err;
            err = 0;
            if (poll (&p, 1, (int) timeout_ms) == 1)
                getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
    }
    if (err)
        snprintf (out, size, "%s", strerror (err));
cleanup:
    if (fd >= 0)
        close (fd);
    if (res)
        freeaddrinfo (res);
}
