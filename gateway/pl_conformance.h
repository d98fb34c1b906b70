/*  pl_conformance - the conformance server: the gateway's Engine.IO +
 *  Socket.IO core (transports, packets, namespaces, heartbeat) with the
 *  application of the reference test servers in front instead of Parley's
 *  (the "Test suite" sections of engine.io-protocol/v4-current.md and
 *  socket.io-protocol/v5-current.md), for the official protocol suites and
 *  tests/e2e/conformance.test.mjs.
 *
 *  PL_CONFORMANCE_SIO: no JWT, no broker. A CONNECT to "/" or "/custom" is
 *  accepted and answered, then the handshake's auth is emitted back as
 *  "auth"; "message" is answered "message-back" with the same arguments,
 *  "message-with-ack" is acked with its arguments, binary attachments
 *  included; a DISCONNECT leaves the namespace, the connection goes on.
 *  PL_CONFORMANCE_EIO: Engine.IO level only (no Socket.IO parsing): every
 *  message, text or binary, is echoed.
 *  Every callback runs on the gateway's loop.
 */
#ifndef PL_CONFORMANCE_H
#define PL_CONFORMANCE_H

#include <stdbool.h>
#include "pl_config.h"
#include "pl_sio.h"

typedef enum { PL_CONFORMANCE_SIO, PL_CONFORMANCE_EIO } pl_conformance_mode_t;

typedef struct _pl_conformance_t pl_conformance_t;

/* A gateway serving mode on config's port and path (the caller sets
 * PARLEY_PATH, the ping times and PARLEY_MAX_PAYLOAD). NULL on failure
 * (logged). The config must outlive it. */
pl_conformance_t *pl_conformance_new (pl_config_t *config, pl_conformance_mode_t mode);
void pl_conformance_destroy (pl_conformance_t **self_p);
/* Serve until SIGINT or SIGTERM. 0 or -1. */
int pl_conformance_run (pl_conformance_t *self);

/* The answer to a Socket.IO EVENT or BINARY_EVENT of the test server, as
 * one Engine.IO text packet ("42.." / "43.." / "45<n>-.." / "46<n>-..",
 * with the packet's namespace), its binary attachments to follow as they
 * came; NULL when there is none (another event, no arguments array, a
 * NUL in a string) or on OOM. Caller frees. Pure. */
char *pl_conformance_answer (const pl_sio_packet_t *pkt);

void pl_conformance_test (bool verbose);

#endif
