/*  pl_listen - bind, listen, accept4, hand over. */
#include "pl_listen.h"
#include "pl_log.h"

#include <ev.h>

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_BACKLOG 4096              /* capped by net.core.somaxconn          */
#define S_ACCEPT_BATCH 256          /* accepts per wakeup before yielding    */
#define S_PAUSE_US (100 * LWS_US_PER_MS)

struct _pl_listen_t {
    struct lws_context *lws;        /* lws, on loop                           */
    struct ev_loop *loop;           /* the gateway's libev loop               */
    struct lws_vhost *vhost;        /* where accepted sockets go              */
    struct lws *wsi;                /* the adopted listening fd               */
    pl_listen_accept_fn *accept;    /* takes accepted sockets                 */
    void *accept_arg;
    int fd;                         /* the listening socket                   */
    int port;                       /* bound port                             */
    char name[64];                  /* bound address, for logs                */
    ev_timer resume;                /* re-enable accepting after EMFILE: a
                                       libev timer, as lws's fire late on a
                                       libev loop (pl_gateway_int.h)          */
    uint64_t accepted, refused;     /* counters                               */
};

/* Open, bind and listen. Returns the fd or -1. */
static int
s_bind (const char *address, int port, bool reuseport, char *name, size_t size, int *bound)
{
    int fd = -1;
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *list = NULL;
    char service[8];
    snprintf (service, sizeof service, "%d", port);
    const char *node = address && *address ? address : NULL;
    if (!node)
        hints.ai_family = AF_INET6;     /* "": [::], dual stack */
    int rc = getaddrinfo (node, service, &hints, &list);
    if (rc != 0 && !node) {
        hints.ai_family = AF_INET;      /* no IPv6 on this host: 0.0.0.0 */
        rc = getaddrinfo (node, service, &hints, &list);
    }
    if (rc != 0) {
        pl_error ("listen: cannot resolve PARLEY_BIND=\"%s\": %s", address, gai_strerror (rc));
        goto cleanup;
    }
    struct addrinfo *ai = list;
    fd = socket (ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int one = 1, zero = 0;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    if (ai->ai_family == AF_INET6 && !node)
        setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind (fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen (fd, S_BACKLOG) != 0)
        goto fail;
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    getsockname (fd, (struct sockaddr *) &sa, &len);
    if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &sa;
        inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
        *bound = ntohs (in6->sin6_port);
        snprintf (name, size, "[%s]:%d", host, *bound);
    }
    else {
        struct sockaddr_in *in4 = (struct sockaddr_in *) &sa;
        inet_ntop (AF_INET, &in4->sin_addr, host, sizeof host);
        *bound = ntohs (in4->sin_port);
        snprintf (name, size, "%s:%d", host, *bound);
    }
    goto cleanup;
fail:
    pl_error ("listen: cannot listen on %s port %d: %s%s", node ? node : "*", port,
              strerror (errno), errno == EADDRINUSE && !reuseport
              ? " (another process has it; PARLEY_REUSEPORT=1 lets gateways share a port)" : "");
    if (fd >= 0)
        close (fd);
    fd = -1;
cleanup:
    if (list)
        freeaddrinfo (list);
    return fd;
}

/* libev timer, gateway loop: descriptors may be free again after EMFILE. */
static void
s_resume (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_listen_t *self = (pl_listen_t *) w->data;
    if (self->wsi)
        lws_rx_flow_control (self->wsi, 1);
}

static void
s_accept (pl_listen_t *self)
{
    for (int i = 0; i < S_ACCEPT_BATCH; i++) {
        int fd = accept4 (self->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (self->refused++ % 1000 == 0)
                    pl_warn ("listen: accept: %s (raise the fd limit); pausing 100 ms",
                             strerror (errno));
                lws_rx_flow_control (self->wsi, 0);
                if (!ev_is_active (&self->resume)) {
                    ev_timer_set (&self->resume, S_PAUSE_US / 1e6, 0.);
                    ev_timer_start (self->loop, &self->resume);
                }
            }
            break;                  /* EAGAIN: drained; others: transient */
        }
        int one = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        self->accept (self->accept_arg, fd);
        self->accepted++;
    }
}

/* The protocol callback for the adopted listening fd; gateway loop. */
int
pl_listen_callback (struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    (void) user;
    (void) in;
    (void) len;
    pl_listen_t *self = (pl_listen_t *) lws_get_opaque_user_data (wsi);
    switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
            if (self)
                s_accept (self);
            break;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
            if (self)
                self->wsi = NULL;
            break;
        default:
            break;
    }
    return 0;
}

pl_listen_t *
pl_listen_new (struct lws_context *lws, struct ev_loop *loop, struct lws_vhost *vhost,
               const char *address, int port, bool reuseport,
               pl_listen_accept_fn *accept, void *arg)
{
    pl_listen_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->lws = lws;
    self->loop = loop;
    ev_timer_init (&self->resume, s_resume, 0., 0.);
    self->resume.data = self;
    self->vhost = vhost;
    self->accept = accept;
    self->accept_arg = arg;
    self->fd = s_bind (address, port, reuseport, self->name, sizeof self->name, &self->port);
    if (self->fd < 0)
        goto fail;
    /* lws closes what it adopts, so it gets a dup and we keep ours */
    int dup_fd = dup (self->fd);
    if (dup_fd < 0)
        goto fail;
    lws_adopt_desc_t info;
    memset (&info, 0, sizeof info);
    info.vh = vhost;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = dup_fd;
    info.vh_prot_name = PL_LISTEN_PROTOCOL;
    info.opaque = self;
    self->wsi = lws_adopt_descriptor_vhost_via_info (&info);
    if (!self->wsi) {
        pl_error ("listen: lws could not adopt the listening socket");
        goto fail;
    }
    goto cleanup;
fail:
    pl_listen_destroy (&self);
cleanup:
    return self;
}

void
pl_listen_destroy (pl_listen_t **self_p)
{
    assert (self_p);
    pl_listen_t *self = *self_p;
    if (self) {
        ev_timer_stop (self->loop, &self->resume);
        if (self->wsi)
            lws_set_opaque_user_data (self->wsi, NULL);
        if (self->fd >= 0)
            close (self->fd);
        free (self);
        *self_p = NULL;
    }
}

const char *
pl_listen_name (pl_listen_t *self)
{
    return self->name;
}

int
pl_listen_port (pl_listen_t *self)
{
    return self->port;
}

/* ---- selftest -------------------------------------------------------- */

void
pl_listen_test (bool verbose)
{
    if (verbose)
        printf (" * pl_listen: ");
    char name[64];
    int port = -1;
    /* an IPv4 literal binds exactly that address */
    int fd = s_bind ("127.0.0.1", 0, false, name, sizeof name, &port);
    assert (fd >= 0 && port > 0);
    assert (strncmp (name, "127.0.0.1:", 10) == 0);
    /* the same port again: refused, unless both share it */
    int port2 = -1;
    int fd2 = s_bind ("127.0.0.1", port, false, name, sizeof name, &port2);
    assert (fd2 == -1);
    close (fd);
    fd = s_bind ("127.0.0.1", 0, true, name, sizeof name, &port);
    assert (fd >= 0);
    fd2 = s_bind ("127.0.0.1", port, true, name, sizeof name, &port2);
    assert (fd2 >= 0 && port2 == port);
    close (fd2);
    close (fd);
    /* "" listens on every interface */
    fd = s_bind ("", 0, false, name, sizeof name, &port);
    assert (fd >= 0);
    assert (strncmp (name, "[::]:", 5) == 0 || strncmp (name, "0.0.0.0:", 8) == 0);
    close (fd);
    /* garbage is an error, not a crash */
    fd = s_bind ("not an address!", 0, false, name, sizeof name, &port);
    assert (fd == -1);
    if (verbose)
        printf ("OK\n");
}
