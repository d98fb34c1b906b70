/*  pl_bind - bind a ZeroMQ socket, refusing to steal a live ipc:// socket.
 *
 *  libzmq unlinks an existing ipc:// file before it binds, so a second
 *  broker started by mistake would silently take the endpoint from the
 *  first one and split the workers and gateways between them. pl_bind
 *  first tries to connect to the path: when something answers, the bind is
 *  refused with "Address already in use". A stale file (nobody listening)
 *  is replaced as libzmq would.
 *
 *  Exercised by the broker and evproxy selftests (bind twice to one ipc
 *  endpoint).
 */
#ifndef PL_BIND_H
#define PL_BIND_H

#include <czmq.h>

/* Bind sock to endpoint. name is how the error names the endpoint, e.g.
 * "PARLEY_BROKER_FRONTEND". Returns 0, or -1 after logging
 * "cannot bind <name>=<endpoint>: <reason>". */
int pl_bind (zsock_t *sock, const char *endpoint, const char *name);

/* True when endpoint is ipc://<path> and a process accepts connections on
 * that path right now. */
bool pl_bind_ipc_in_use (const char *endpoint);

#endif
