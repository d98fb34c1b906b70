/*  pl_bind - bind with a clear error, and no stealing of live ipc sockets. */
#include "pl_bind.h"
#include "pl_log.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool
pl_bind_ipc_in_use (const char *endpoint)
{
    bool in_use = false;
    int fd = -1;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strncmp (endpoint, "ipc://", 6) != 0)
        goto cleanup;
    const char *path = endpoint + 6;
    /* "@name" is Linux's abstract namespace: bind itself fails with
     * EADDRINUSE there, nothing is unlinked. Too long: bind reports it. */
    if (*path == '@' || *path == 0 || strlen (path) >= sizeof addr.sun_path)
        goto cleanup;
    memcpy (addr.sun_path, path, strlen (path) + 1);
    fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        goto cleanup;
    /* A non-blocking connect to a listening unix socket completes at once;
     * EAGAIN means its backlog is full, which also means someone listens.
     * ECONNREFUSED / ENOENT: a stale file or none, free to bind. */
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0
    ||  errno == EAGAIN)
        in_use = true;
cleanup:
    if (fd != -1)
        close (fd);
    return in_use;
}

int
pl_bind (zsock_t *sock, const char *endpoint, const char *name)
{
    int rc = -1;
    const char *why = NULL;
    assert (sock && endpoint && name);
    if (pl_bind_ipc_in_use (endpoint))
        why = "Address already in use (another process listens there)";
    else
    if (zsock_bind (sock, "%s", endpoint) == -1)
        why = zmq_strerror (zmq_errno ());
    else
        rc = 0;
    if (rc == -1)
        pl_error ("cannot bind %s=%s: %s", name, endpoint, why);
    return rc;
}
