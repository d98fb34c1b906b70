/*  pl_listen - the gateway's own listening socket, adopted into lws.
 *
 *  lws 4.1.6 takes info.iface as an interface name and, with IPv6 on,
 *  listened on [::] whatever PARLEY_BIND said; and its listen-share option
 *  does nothing. So the gateway binds the socket itself: the exact address
 *  asked for, SO_REUSEPORT when PARLEY_REUSEPORT=1 (several gateways on one
 *  port, the kernel spreading connections), accept4() on readiness, and
 *  each accepted socket handed to the caller's accept function (the
 *  gateway's pl_h1, which reads the first request and gives WebSocket
 *  upgrades to lws).
 *
 *  Runs on the gateway loop. When accept fails for lack of descriptors
 *  (EMFILE), the listener stops watching for 100 ms instead of spinning on
 *  a socket that stays readable.
 */
#ifndef PL_LISTEN_H
#define PL_LISTEN_H

#include <libwebsockets.h>
#include <stdbool.h>

#define PL_LISTEN_PROTOCOL "parley-listen"

typedef struct _pl_listen_t pl_listen_t;
/* Takes a freshly accepted non-blocking socket (and its ownership). */
typedef void (pl_listen_accept_fn) (void *arg, int fd);

/* Bind address (a numeric IPv4/IPv6 address or a host name; "" means every
 * interface, IPv6 and IPv4) and port (0 picks one), listen, and adopt into
 * vhost on protocol PL_LISTEN_PROTOCOL; accepted sockets go to accept.
 * loop is the libev loop lws runs on (its pause timer). NULL on failure,
 * logged. */
struct ev_loop;
pl_listen_t *pl_listen_new (struct lws_context *lws, struct ev_loop *loop,
                            struct lws_vhost *vhost, const char *address, int port,
                            bool reuseport, pl_listen_accept_fn *accept, void *arg);
void pl_listen_destroy (pl_listen_t **self_p);
/* The bound address as text ("127.0.0.1:8080", "[::]:8080"). */
const char *pl_listen_name (pl_listen_t *self);
int pl_listen_port (pl_listen_t *self);

/* The lws protocol callback for the listening socket. */
int pl_listen_callback (struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len);

void pl_listen_test (bool verbose);

#endif
