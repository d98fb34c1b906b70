/*  pl_broker_test_env - the harness of the pl_broker selftest
 *  (pl_broker_test_int.h): each case starts its own broker on a zactor
 *  thread (with its own inproc:// endpoints and short timings: heartbeat
 *  50 ms) and talks to it through raw DEALER sockets playing gateway and
 *  workers, exactly as the frames of proto/README.md say. Every receive
 *  has a timeout, so a broken broker fails an assert instead of hanging
 *  the test.
 */
#include "pl_broker_test_int.h"
#include "pl_proto.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pl_broker__t_ctx =
    "{\"v\":1,\"gw\":\"gw-test\",\"conn\":\"1\",\"uid\":\"alice\"}";

/* zloop reader on the actor pipe; runs on the test broker's thread. Any
 * message ($TERM) stops the loop. */
static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    zmsg_t *msg = zmsg_recv (pipe);
    zmsg_destroy (&msg);
    return -1;
}

/* zactor body; runs on its own thread: a broker on its own zloop, as in
 * main.c. */
static void
s_broker_actor (zsock_t *pipe, void *arg)
{
    pl_broker_t *broker = pl_broker_new ((const pl_broker_opts_t *) arg);
    zloop_t *loop = zloop_new ();
    assert (broker && loop);
    int rc = pl_broker_attach (broker, loop);
    assert (rc == 0);
    rc = zloop_reader (loop, pipe, s_on_pipe, NULL);
    assert (rc == 0);
    zsock_signal (pipe, 0);
    zloop_start (loop);
    pl_broker_destroy (&broker);
    zloop_destroy (&loop);
}

zsock_t *
pl_broker__t_dealer (const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock);
    zsock_set_linger (sock, 0);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);
    return sock;
}

void
pl_broker__t_env_start_hb (pl_broker__tenv_t *env, int64_t heartbeat_ms, int64_t liveness,
                           size_t queue_max, int64_t queue_timeout_ms)
{
    static int instance = 0;
    instance++;
    memset (env, 0, sizeof *env);
    snprintf (env->frontend, sizeof env->frontend, "inproc://pl-broker-test-fe-%d", instance);
    snprintf (env->backend, sizeof env->backend, "inproc://pl-broker-test-be-%d", instance);
    env->opts = (pl_broker_opts_t) {
        .frontend = env->frontend, .backend = env->backend,
        .heartbeat_ms = heartbeat_ms, .liveness = liveness,
        .queue_max = queue_max, .queue_timeout_ms = queue_timeout_ms
    };
    pl_broker__t_env_run (env);
}

void
pl_broker__t_env_run (pl_broker__tenv_t *env)
{
    env->actor = zactor_new (s_broker_actor, &env->opts);
    assert (env->actor);
    env->client = pl_broker__t_dealer (env->frontend);
}

void
pl_broker__t_env_start (pl_broker__tenv_t *env, int64_t liveness, size_t queue_max,
                        int64_t queue_timeout_ms)
{
    pl_broker__t_env_start_hb (env, PL_BROKER__T_HB, liveness, queue_max, queue_timeout_ms);
}

void
pl_broker__t_env_stop (pl_broker__tenv_t *env)
{
    zsock_destroy (&env->client);
    zactor_destroy (&env->actor);
}

/* The next message on sock within timeout_ms, or NULL. */
zmsg_t *
pl_broker__t_recv_within (zsock_t *sock, int timeout_ms)
{
    zmsg_t *msg = NULL;
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert (poller);
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (zpoller_wait (poller, timeout_ms) == sock)
        msg = zmsg_recv (sock);
    zpoller_destroy (&poller);
    return msg;
}

void
pl_broker__t_send_frames (zsock_t *sock, int count, ...)
{
    va_list args;
    va_start (args, count);
    zmsg_t *msg = zmsg_new ();
    for (int i = 0; i < count; i++)
        zmsg_addstr (msg, va_arg (args, const char *));
    va_end (args);
    int rc = zmsg_send (&msg, sock);
    assert (rc == 0);
}

void
pl_broker__t_request (zsock_t *client, const char *service, const char *reqid)
{
    pl_broker__t_send_frames (client, 7, PL_PROTO_VERSION, PL_CMD_REQ, service, reqid,
                              "actor:get", pl_broker__t_ctx, "\"a1\"");
}

/* Expect the next client message to be the REP to reqid; returns its
 * reply body (caller frees). */
char *
pl_broker__t_expect_reply (zsock_t *client, const void *reqid, size_t reqid_len, int timeout_ms)
{
    zmsg_t *msg = pl_broker__t_recv_within (client, timeout_ms);
    assert (msg);
    assert (zmsg_size (msg) == 4);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_REP));
    zframe_t *id = zmsg_next (msg);
    char *body = zframe_strdup (zmsg_next (msg));
    if (zframe_size (id) != reqid_len || memcmp (zframe_data (id), reqid, reqid_len) != 0) {
        char *got = zframe_strdup (id);
        fprintf (stderr, "pl_broker: a reply to %s (%s) came first\n", got, body);
        free (got);
    }
    assert (zframe_size (id) == reqid_len);
    assert (memcmp (zframe_data (id), reqid, reqid_len) == 0);
    zmsg_destroy (&msg);
    return body;
}

/* The reply body must be the error err, with message_part in its
 * message. */
void
pl_broker__t_error_is (const char *body, pl_err_t err, const char *message_part)
{
    cJSON *json = cJSON_Parse (body);
    assert (json);
    assert (cJSON_IsFalse (cJSON_GetObjectItem (json, "success")));
    cJSON *error = cJSON_GetObjectItem (json, "error");
    const char *code = cJSON_GetStringValue (cJSON_GetObjectItem (error, "code"));
    const char *message = cJSON_GetStringValue (cJSON_GetObjectItem (error, "message"));
    assert (code && strcmp (code, pl_proto_err_code (err)) == 0);
    assert (message && strstr (message, message_part));
    cJSON_Delete (json);
}

/* Expect the REP to reqid to be the error err, with message_part in its
 * message. */
void
pl_broker__t_expect_error (zsock_t *client, const char *reqid, pl_err_t err,
                           const char *message_part, int timeout_ms)
{
    char *body = pl_broker__t_expect_reply (client, reqid, strlen (reqid), timeout_ms);
    pl_broker__t_error_is (body, err, message_part);
    free (body);
}

/* A value from the STATUS answer: services.<service>.<field>, or -1 when
 * the service is absent. The client must have nothing else pending. */
int
pl_broker__t_status (zsock_t *client, const char *service, const char *field, char **text_p)
{
    pl_broker__t_send_frames (client, 2, PL_PROTO_VERSION, PL_CMD_STATUS);
    zmsg_t *msg = pl_broker__t_recv_within (client, PL_BROKER__T_WAIT);
    assert (msg);
    assert (zmsg_size (msg) == 3);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_STATUS));
    char *text = zframe_strdup (zmsg_next (msg));
    cJSON *json = cJSON_Parse (text);
    assert (cJSON_IsObject (cJSON_GetObjectItem (json, "services")));
    cJSON *entry = cJSON_GetObjectItem (cJSON_GetObjectItem (json, "services"), service);
    int value = entry ? (int) cJSON_GetNumberValue (cJSON_GetObjectItem (entry, field)) : -1;
    cJSON_Delete (json);
    zmsg_destroy (&msg);
    if (text_p)
        *text_p = text;
    else
        free (text);
    return value;
}

/* Poll STATUS until service has count workers (READY travels on another
 * socket than the requests, so tests sync on it before sending). */
void
pl_broker__t_wait_workers (zsock_t *client, const char *service, int count)
{
    int64_t deadline = zclock_mono () + PL_BROKER__T_WAIT;
    while (pl_broker__t_status (client, service, "workers", NULL) != count) {
        assert (zclock_mono () < deadline);
        zclock_sleep (5);       /* test only: the broker gives no push */
    }
}

zsock_t *
pl_broker__t_worker_new (const char *backend, const char *service, const char *credit)
{
    zsock_t *worker = pl_broker__t_dealer (backend);
    pl_broker__t_send_frames (worker, 4, PL_PROTO_VERSION, PL_CMD_READY, service, credit);
    return worker;
}

/* The next message to a worker that is not a heartbeat (answering those,
 * as a live worker does), or NULL after timeout_ms. */
zmsg_t *
pl_broker__t_worker_recv (zsock_t *worker, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        zmsg_t *msg = pl_broker__t_recv_within (worker, (int) (deadline - zclock_mono ()));
        if (!msg || zmsg_size (msg) != 2
        ||  !zframe_streq (zmsg_last (msg), PL_CMD_HEARTBEAT))
            return msg;
        zmsg_destroy (&msg);
        pl_broker__t_send_frames (worker, 2, PL_PROTO_VERSION, PL_CMD_HEARTBEAT);
    }
}

/* Expect a request with id reqid; frames must be PL01 REQ client reqid
 * event ctx body. Returns the client identity frame (caller destroys). */
zframe_t *
pl_broker__t_worker_expect (zsock_t *worker, const char *reqid)
{
    zmsg_t *msg = pl_broker__t_worker_recv (worker, PL_BROKER__T_WAIT);
    assert (msg);
    assert (zmsg_size (msg) == 7);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_REQ));
    zframe_t *client = zframe_dup (zmsg_next (msg));
    assert (zframe_size (client) > 0);
    assert (zframe_streq (zmsg_next (msg), reqid));
    assert (zframe_streq (zmsg_next (msg), "actor:get"));
    assert (zframe_streq (zmsg_next (msg), pl_broker__t_ctx));
    assert (zframe_streq (zmsg_next (msg), "\"a1\""));
    zmsg_destroy (&msg);
    return client;
}

/* Which request id a worker got next (any), its client in *client_p. */
char *
pl_broker__t_worker_take (zsock_t *worker, zframe_t **client_p, int timeout_ms)
{
    zmsg_t *msg = pl_broker__t_worker_recv (worker, timeout_ms);
    if (!msg)
        return NULL;
    assert (zmsg_size (msg) == 7);
    zmsg_first (msg);
    zmsg_next (msg);
    *client_p = zframe_dup (zmsg_next (msg));
    char *reqid = zframe_strdup (zmsg_next (msg));
    zmsg_destroy (&msg);
    return reqid;
}

/* Which of two workers gets the next request (heartbeats answered
 * meanwhile): its id, that worker in *got_p, its client in *client_p. */
char *
pl_broker__t_worker_take_either (zsock_t *w1, zsock_t *w2, zsock_t **got_p,
                                 zframe_t **client_p, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (w1, w2, NULL);
    assert (poller);
    char *reqid = NULL;
    int64_t left;
    while (!reqid && (left = deadline - zclock_mono ()) > 0) {
        zsock_t *ready = zpoller_wait (poller, (int) left);
        if (!ready)
            break;
        reqid = pl_broker__t_worker_take (ready, client_p, 0);   /* NULL: a heartbeat */
        *got_p = ready;
    }
    zpoller_destroy (&poller);
    return reqid;
}

void
pl_broker__t_worker_reply (zsock_t *worker, zframe_t **client_p, const char *reqid,
                           const char *body)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_REP);
    zmsg_append (msg, client_p);
    zmsg_addstr (msg, reqid);
    zmsg_addstr (msg, body);
    int rc = zmsg_send (&msg, worker);
    assert (rc == 0);
}

/* Expect exactly PL01 <command> on sock (raw: heartbeats not skipped). */
void
pl_broker__t_expect_command (zsock_t *sock, const char *command, int timeout_ms)
{
    zmsg_t *msg = pl_broker__t_recv_within (sock, timeout_ms);
    assert (msg);
    assert (zmsg_size (msg) == 2);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), command));
    zmsg_destroy (&msg);
}
