/*  pl_broker_test_int - the harness of the pl_broker selftest, shared by
 *  its two files:
 *
 *    pl_broker_test_env.c  the harness: a broker on a zactor thread, raw
 *                          DEALERs playing the gateway and the workers,
 *                          and receives that wait at most a timeout;
 *    pl_broker_test.c      the cases and pl_broker_test ().
 *
 *  Not for use outside broker/. Its names are pl_broker__t_ ("t" for the
 *  test harness), after the pl_broker__ internals.
 */
#ifndef PL_BROKER_TEST_INT_H
#define PL_BROKER_TEST_INT_H

#include "pl_broker.h"
#include "pl_proto.h"

#define PL_BROKER__T_HB    50   /* heartbeat_ms of the test brokers              */
#define PL_BROKER__T_WAIT  2000 /* ms to wait for something that must come       */
#define PL_BROKER__T_SLACK 500  /* ms a timer may run late on a loaded box       */
/* The liveness of a broker whose test is not about liveness: 120 x 50 ms,
 * a 6 s window. The test's workers answer heartbeats only while the test
 * reads from them, so with a window of a few hundred ms a busy box could
 * keep the test's thread off the CPU long enough for the broker thread to
 * declare a worker dead mid-test (as it did to the balance case's). */
#define PL_BROKER__T_LIVE  120

/* The ctx frame of every test request. */
extern const char *const pl_broker__t_ctx;

/* One test broker and a gateway talking to it. */
typedef struct {
    pl_broker_opts_t opts;      /* what the broker runs with           */
    char frontend[128];         /* its endpoints                       */
    char backend[128];
    zactor_t *actor;            /* thread running the broker's zloop   */
    zsock_t *client;            /* a DEALER playing the gateway        */
} pl_broker__tenv_t;

/* Start a broker on fresh inproc:// endpoints, on its own thread, and a
 * client DEALER to its frontend. */
void pl_broker__t_env_start_hb (pl_broker__tenv_t *env, int64_t heartbeat_ms,
                                int64_t liveness, size_t queue_max, int64_t queue_timeout_ms);
/* Start a broker with env->opts as the caller set them (pointing at
 * env->frontend and env->backend), and the client. */
void pl_broker__t_env_run (pl_broker__tenv_t *env);
/* pl_broker__t_env_start_hb with heartbeat PL_BROKER__T_HB. */
void pl_broker__t_env_start (pl_broker__tenv_t *env, int64_t liveness, size_t queue_max,
                             int64_t queue_timeout_ms);
/* Close the client (unless taken: NULL) and stop the broker. */
void pl_broker__t_env_stop (pl_broker__tenv_t *env);

/* A DEALER connected to endpoint, linger 0. */
zsock_t *pl_broker__t_dealer (const char *endpoint);
/* The next message on sock within timeout_ms, or NULL. */
zmsg_t *pl_broker__t_recv_within (zsock_t *sock, int timeout_ms);
/* Send count string frames as one message. */
void pl_broker__t_send_frames (zsock_t *sock, int count, ...);

/* Gateway side. */
/* REQ service reqid "actor:get" ctx "a1". */
void pl_broker__t_request (zsock_t *client, const char *service, const char *reqid);
/* Expect the next client message to be the REP to reqid; returns its
 * reply body (caller frees). */
char *pl_broker__t_expect_reply (zsock_t *client, const void *reqid, size_t reqid_len,
                                 int timeout_ms);
/* The reply body must be the error err, with message_part in its
 * message. */
void pl_broker__t_error_is (const char *body, pl_err_t err, const char *message_part);
/* Expect the REP to reqid to be the error err, with message_part in its
 * message. */
void pl_broker__t_expect_error (zsock_t *client, const char *reqid, pl_err_t err,
                                const char *message_part, int timeout_ms);
/* A value from the STATUS answer: services.<service>.<field>, or -1 when
 * the service is absent; the whole answer in *text_p when not NULL
 * (caller frees). The client must have nothing else pending. */
int pl_broker__t_status (zsock_t *client, const char *service, const char *field,
                         char **text_p);
/* Poll STATUS until service has count workers (READY travels on another
 * socket than the requests, so tests sync on it before sending). */
void pl_broker__t_wait_workers (zsock_t *client, const char *service, int count);

/* Worker side. */
/* A DEALER on backend that has sent READY service credit. */
zsock_t *pl_broker__t_worker_new (const char *backend, const char *service, const char *credit);
/* The next message to a worker that is not a heartbeat (answering those,
 * as a live worker does), or NULL after timeout_ms. */
zmsg_t *pl_broker__t_worker_recv (zsock_t *worker, int timeout_ms);
/* Expect a request with id reqid; frames must be PL01 REQ client reqid
 * event ctx body, as pl_broker__t_request sent them. Returns the client
 * identity frame (caller destroys). */
zframe_t *pl_broker__t_worker_expect (zsock_t *worker, const char *reqid);
/* Which request id a worker got next (any; caller frees), its client in
 * *client_p; NULL when nothing came within timeout_ms. */
char *pl_broker__t_worker_take (zsock_t *worker, zframe_t **client_p, int timeout_ms);
/* Which of two workers gets the next request (heartbeats answered
 * meanwhile): its id (caller frees), that worker in *got_p, its client in
 * *client_p; NULL after timeout_ms. */
char *pl_broker__t_worker_take_either (zsock_t *w1, zsock_t *w2, zsock_t **got_p,
                                       zframe_t **client_p, int timeout_ms);
/* REP client reqid body; takes the client frame. */
void pl_broker__t_worker_reply (zsock_t *worker, zframe_t **client_p, const char *reqid,
                                const char *body);
/* Expect exactly PL01 <command> on sock (raw: heartbeats not skipped). */
void pl_broker__t_expect_command (zsock_t *sock, const char *command, int timeout_ms);

/* The metrics cases (pl_broker_metrics_test.c). */
void pl_broker__t_metrics (void);

#endif
