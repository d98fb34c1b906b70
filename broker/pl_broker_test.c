/*  pl_broker_test - selftest of pl_broker: the cases. The harness they
 *  use (a broker on a zactor thread, raw DEALERs playing gateway and
 *  workers, receives with timeouts) is pl_broker_test_env.c, declared in
 *  pl_broker_test_int.h.
 */
#include "pl_broker_test_int.h"
#include "pl_bind.h"
#include "pl_proto.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The harness's timings and caller context, by short local names. */
#define S_HB    PL_BROKER__T_HB
#define S_WAIT  PL_BROKER__T_WAIT
#define S_SLACK PL_BROKER__T_SLACK
#define S_LIVE  PL_BROKER__T_LIVE
#define S_CTX   pl_broker__t_ctx

/* ---------------------------------------------------------------------
 * Cases
 */

/* Request -> worker -> reply with every frame intact; STATUS; heartbeats. */
static void
s_test_round_trip (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, S_LIVE, 100, 1000);
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "2");
    pl_broker__t_wait_workers (env.client, "actors", 1);
    char *status = NULL;
    pl_broker__t_status (env.client, "actors", "workers", &status);
    assert (strcmp (status, "{\"services\":{\"actors\":{\"workers\":1,\"queued\":0}}}") == 0);
    free (status);

    /* binary request id (NULs) and an empty body come back unchanged */
    const byte reqid[] = { 0, 'r', 1, 0, 0xff };
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_REQ);
    zmsg_addstr (msg, "actors");
    zmsg_addmem (msg, reqid, sizeof reqid);
    zmsg_addstr (msg, "actor:list");
    zmsg_addstr (msg, S_CTX);
    zmsg_addmem (msg, NULL, 0);
    int rc = zmsg_send (&msg, env.client);
    assert (rc == 0);
    msg = pl_broker__t_worker_recv (worker, S_WAIT);
    assert (msg && zmsg_size (msg) == 7);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_REQ));
    zframe_t *client = zframe_dup (zmsg_next (msg));
    zframe_t *id = zmsg_next (msg);
    assert (zframe_size (id) == sizeof reqid && memcmp (zframe_data (id), reqid, sizeof reqid) == 0);
    assert (zframe_streq (zmsg_next (msg), "actor:list"));
    assert (zframe_streq (zmsg_next (msg), S_CTX));
    assert (zframe_size (zmsg_next (msg)) == 0);
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_REP);
    zmsg_append (msg, &client);
    zmsg_addmem (msg, reqid, sizeof reqid);
    zmsg_addstr (msg, "{\"success\":true,\"data\":[]}");
    rc = zmsg_send (&msg, worker);
    assert (rc == 0);
    char *body = pl_broker__t_expect_reply (env.client, reqid, sizeof reqid, S_WAIT);
    assert (strcmp (body, "{\"success\":true,\"data\":[]}") == 0);
    free (body);

    /* a reply with directives (proto/README.md) keeps its 5th frame */
    pl_broker__t_send_frames (env.client, 7, PL_PROTO_VERSION, PL_CMD_REQ, "actors", "r-dir",
                              "actor:list", S_CTX, "");
    msg = pl_broker__t_worker_recv (worker, S_WAIT);
    assert (msg && zmsg_size (msg) == 7);
    zmsg_first (msg);
    zmsg_next (msg);
    client = zframe_dup (zmsg_next (msg));
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_REP);
    zmsg_append (msg, &client);
    zmsg_addstr (msg, "r-dir");
    zmsg_addstr (msg, "{\"success\":true}");
    zmsg_addstr (msg, "{\"join\":[\"campaign:1\"]}");
    rc = zmsg_send (&msg, worker);
    assert (rc == 0);
    msg = pl_broker__t_recv_within (env.client, S_WAIT);
    assert (msg && zmsg_size (msg) == 5);
    assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (msg), PL_CMD_REP));
    assert (zframe_streq (zmsg_next (msg), "r-dir"));
    assert (zframe_streq (zmsg_next (msg), "{\"success\":true}"));
    assert (zframe_streq (zmsg_next (msg), "{\"join\":[\"campaign:1\"]}"));
    zmsg_destroy (&msg);

    /* a plain one too, with the usual helpers */
    pl_broker__t_request (env.client, "actors", "r2");
    client = pl_broker__t_worker_expect (worker, "r2");
    zframe_t *again = zframe_dup (client);
    pl_broker__t_worker_reply (worker, &client, "r2",
                               "{\"success\":true,\"data\":{\"id\":\"a1\"}}");
    body = pl_broker__t_expect_reply (env.client, "r2", 2, S_WAIT);
    assert (strcmp (body, "{\"success\":true,\"data\":{\"id\":\"a1\"}}") == 0);
    free (body);

    /* the broker heartbeats an idle worker */
    pl_broker__t_expect_command (worker, PL_CMD_HEARTBEAT, 4 * S_HB + 500);

    /* a second reply to the same request is not forwarded: exactly once */
    pl_broker__t_worker_reply (worker, &again, "r2", "{\"success\":true}");
    pl_broker__t_request (env.client, "actors", "r3");
    client = pl_broker__t_worker_expect (worker, "r3");
    pl_broker__t_worker_reply (worker, &client, "r3", "{\"success\":true}");
    body = pl_broker__t_expect_reply (env.client, "r3", 2, S_WAIT);     /* not r2 again */
    free (body);

    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);
}

/* Malformed input is dropped or answered VALIDATION_ERROR, and the broker
 * keeps working. Replies on one DEALER arrive in order, so "the next thing
 * the client gets is the answer to v1" proves the earlier junk produced
 * nothing. */
static void
s_test_malformed (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, S_LIVE, 100, 5000);    /* v5 below must not expire */
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "4");
    pl_broker__t_wait_workers (env.client, "actors", 1);

    char long_id[PL_BROKER_REQID_MAX + 2];
    memset (long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    char long_service[PL_BROKER_SERVICE_MAX + 2];
    memset (long_service, 's', sizeof long_service - 1);
    long_service[sizeof long_service - 1] = 0;

    pl_broker__t_send_frames (env.client, 7, "PL02", PL_CMD_REQ, "actors", "x1", "actor:get",
                              S_CTX, "");
    pl_broker__t_send_frames (env.client, 1, PL_PROTO_VERSION);
    pl_broker__t_send_frames (env.client, 1, "");
    pl_broker__t_send_frames (env.client, 3, PL_PROTO_VERSION, PL_CMD_REQ, "actors");
    pl_broker__t_send_frames (env.client, 7, PL_PROTO_VERSION, PL_CMD_REQ, "actors", long_id,
                              "actor:get", S_CTX, "");
    pl_broker__t_send_frames (env.client, 2, PL_PROTO_VERSION, "NOPE");
    pl_broker__t_send_frames (env.client, 3, PL_PROTO_VERSION, PL_CMD_STATUS, "extra");
    pl_broker__t_send_frames (env.client, 7, PL_PROTO_VERSION, PL_CMD_REQ, "", "v1", "actor:get",
                              S_CTX, "");
    pl_broker__t_expect_error (env.client, "v1", PL_ERR_VALIDATION_ERROR, "service", S_WAIT);
    pl_broker__t_send_frames (env.client, 7, PL_PROTO_VERSION, PL_CMD_REQ, long_service, "v2",
                              "actor:get", S_CTX, "");
    pl_broker__t_expect_error (env.client, "v2", PL_ERR_VALIDATION_ERROR, "service", S_WAIT);
    pl_broker__t_send_frames (env.client, 6, PL_PROTO_VERSION, PL_CMD_REQ, "actors", "v3",
                              "actor:get", S_CTX);
    pl_broker__t_expect_error (env.client, "v3", PL_ERR_VALIDATION_ERROR, "malformed", S_WAIT);
    pl_broker__t_send_frames (env.client, 7, PL_PROTO_VERSION, PL_CMD_REQ, "act\nors", "v4",
                              "actor:get", S_CTX, "");
    pl_broker__t_expect_error (env.client, "v4", PL_ERR_VALIDATION_ERROR, "service", S_WAIT);
    /* recovery off (no on_recovery): SESS is ignored, RECOVER and REPLAY
     * refused at once, so the gateway's client connects as a new session */
    pl_broker__t_send_frames (env.client, 4, PL_PROTO_VERSION, PL_CMD_SESSION, "pid1",
                              "{\"state\":\"open\",\"sub\":\"al\"}");
    pl_broker__t_send_frames (env.client, 4, PL_PROTO_VERSION, PL_CMD_RECOVER, "~recover/g/1/1",
                              "{\"pid\":\"pid1\",\"sub\":\"al\"}");
    zmsg_t *off = pl_broker__t_recv_within (env.client, S_WAIT);
    assert (off && zmsg_size (off) == 4);
    zframe_t *frame = zmsg_first (off);
    assert (zframe_streq (frame, PL_PROTO_VERSION));
    assert (zframe_streq (zmsg_next (off), PL_CMD_RECOVER));
    assert (zframe_streq (zmsg_next (off), "~recover/g/1/1"));
    frame = zmsg_next (off);
    assert (memmem (zframe_data (frame), zframe_size (frame), "\"ok\":false", 10));
    zmsg_destroy (&off);
    /* a 64-byte service name is fine: it queues (no worker), STATUS shows it */
    long_service[PL_BROKER_SERVICE_MAX] = 0;
    pl_broker__t_send_frames (env.client, 7, PL_PROTO_VERSION, PL_CMD_REQ, long_service, "v5",
                              "actor:get", S_CTX, "");
    assert (pl_broker__t_status (env.client, long_service, "queued", NULL) == 1);

    /* junk from a registered worker */
    pl_broker__t_send_frames (worker, 1, PL_PROTO_VERSION);
    pl_broker__t_send_frames (worker, 2, "XX01", PL_CMD_HEARTBEAT);
    pl_broker__t_send_frames (worker, 3, PL_PROTO_VERSION, PL_CMD_REP, "onlyclient");
    pl_broker__t_send_frames (worker, 2, PL_PROTO_VERSION, "WHAT");
    pl_broker__t_send_frames (worker, 4, PL_PROTO_VERSION, PL_CMD_READY, "actors", "7");
    /* bad READYs from newcomers register nothing */
    const char *bad_credit[] = { "", "abc", "0", "-1", "99999999", "5x" };
    zsock_t *strangers[7];
    for (int i = 0; i < 6; i++)
        strangers[i] = pl_broker__t_worker_new (env.backend, "actors", bad_credit[i]);
    strangers[6] = pl_broker__t_dealer (env.backend);
    pl_broker__t_send_frames (strangers[6], 4, PL_PROTO_VERSION, PL_CMD_READY, "", "5");
    /* and the broker still serves */
    pl_broker__t_request (env.client, "actors", "ok1");
    zframe_t *client = pl_broker__t_worker_expect (worker, "ok1");
    /* a reply naming the right client but a request id it does not hold
     * is dropped, and does not use up the real one */
    zframe_t *same = zframe_dup (client);
    pl_broker__t_worker_reply (worker, &same, "nope", "{\"success\":true}");
    pl_broker__t_worker_reply (worker, &client, "ok1", "{\"success\":true}");
    char *body = pl_broker__t_expect_reply (env.client, "ok1", 3, S_WAIT);
    free (body);
    assert (pl_broker__t_status (env.client, "actors", "workers", NULL) == 1);
    for (int i = 0; i < 7; i++)
        zsock_destroy (&strangers[i]);

    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);
}

/* Fewest outstanding first, round robin among equals. */
static void
s_test_balance (void)
{
    pl_broker__tenv_t env;
    /* the test's workers send no heartbeats: a 50 ms x 6 liveness window
     * declared them dead when the box was busy (a flaky run); balancing
     * needs no fast heartbeat, so give them seconds */
    pl_broker__t_env_start_hb (&env, 1000, 6, 100, 1000);
    zsock_t *w1 = pl_broker__t_worker_new (env.backend, "actors", "10");
    zsock_t *w2 = pl_broker__t_worker_new (env.backend, "actors", "10");
    pl_broker__t_wait_workers (env.client, "actors", 2);
    pl_broker__t_request (env.client, "actors", "b1");
    pl_broker__t_request (env.client, "actors", "b2");
    pl_broker__t_request (env.client, "actors", "b3");
    pl_broker__t_request (env.client, "actors", "b4");
    zframe_t *c1[2], *c2[2];
    char *ids1[2], *ids2[2];
    for (int i = 0; i < 2; i++) {
        ids1[i] = pl_broker__t_worker_take (w1, &c1[i], S_WAIT);
        ids2[i] = pl_broker__t_worker_take (w2, &c2[i], S_WAIT);
        assert (ids1[i] && ids2[i]);
    }
    zframe_t *extra = NULL;
    assert (pl_broker__t_worker_take (w1, &extra, 100) == NULL);
    assert (pl_broker__t_worker_take (w2, &extra, 10) == NULL);
    for (int i = 0; i < 2; i++) {
        pl_broker__t_worker_reply (w1, &c1[i], ids1[i], "{\"success\":true}");
        pl_broker__t_worker_reply (w2, &c2[i], ids2[i], "{\"success\":true}");
    }
    /* all four answered, each once */
    int seen = 0;
    for (int i = 0; i < 4; i++) {
        zmsg_t *msg = pl_broker__t_recv_within (env.client, S_WAIT);
        assert (msg && zmsg_size (msg) == 4);
        zmsg_first (msg);
        zmsg_next (msg);
        char *id = zframe_strdup (zmsg_next (msg));
        assert (strlen (id) == 2 && id[0] == 'b' && id[1] >= '1' && id[1] <= '4');
        assert (!(seen & (1 << (id[1] - '1'))));
        seen |= 1 << (id[1] - '1');
        free (id);
        zmsg_destroy (&msg);
    }
    assert (seen == 15);
    for (int i = 0; i < 2; i++) {
        free (ids1[i]);
        free (ids2[i]);
    }

    /* both idle: one-at-a-time requests alternate between the workers */
    zsock_t *last = NULL;
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf (id, sizeof id, "s%d", i);
        pl_broker__t_request (env.client, "actors", id);
        /* waited for on both at once: looking at w1 for 100 ms first, a
         * request that reached w1 later than that was missed */
        zframe_t *client = NULL;
        zsock_t *got = NULL;
        char *taken = pl_broker__t_worker_take_either (w1, w2, &got, &client, S_WAIT);
        assert (taken && strcmp (taken, id) == 0);
        assert (got != last);
        last = got;
        pl_broker__t_worker_reply (got, &client, taken, "{\"success\":true}");
        char *body = pl_broker__t_expect_reply (env.client, id, strlen (id), S_WAIT);
        free (body);
        free (taken);
    }
    zsock_destroy (&w1);
    zsock_destroy (&w2);
    pl_broker__t_env_stop (&env);
}

/* A worker never holds more than its credit; the rest queue, FIFO. */
static void
s_test_credit (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, S_LIVE, 100, 2000);
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "1");
    pl_broker__t_wait_workers (env.client, "actors", 1);
    pl_broker__t_request (env.client, "actors", "c1");
    pl_broker__t_request (env.client, "actors", "c2");
    pl_broker__t_request (env.client, "actors", "c3");
    zframe_t *client = pl_broker__t_worker_expect (worker, "c1");
    zmsg_t *msg = pl_broker__t_worker_recv (worker, 150);
    assert (msg == NULL);
    assert (pl_broker__t_status (env.client, "actors", "queued", NULL) == 2);
    pl_broker__t_worker_reply (worker, &client, "c1", "{\"success\":true}");
    client = pl_broker__t_worker_expect (worker, "c2");
    pl_broker__t_worker_reply (worker, &client, "c2", "{\"success\":true}");
    client = pl_broker__t_worker_expect (worker, "c3");
    pl_broker__t_worker_reply (worker, &client, "c3", "{\"success\":true}");
    const char *ids[] = { "c1", "c2", "c3" };
    for (int i = 0; i < 3; i++) {
        char *body = pl_broker__t_expect_reply (env.client, ids[i], 2, S_WAIT);
        free (body);
    }
    assert (pl_broker__t_status (env.client, "actors", "queued", NULL) == 0);
    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);
}

/* No worker: SERVICE_UNAVAILABLE after the queue timeout. Full queue:
 * SERVICE_UNAVAILABLE at once. */
static void
s_test_unavailable (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, 6, 2, 200);
    int64_t start = zclock_mono ();
    pl_broker__t_request (env.client, "nosuch", "u1");
    pl_broker__t_expect_error (env.client, "u1", PL_ERR_SERVICE_UNAVAILABLE, "nosuch", S_WAIT);
    int64_t elapsed = zclock_mono () - start;
    assert (elapsed >= 200 - 2);
    assert (elapsed <= 200 + S_SLACK);
    assert (pl_broker__t_status (env.client, "nosuch", "workers", NULL) == 0);
    assert (pl_broker__t_status (env.client, "nosuch", "queued", NULL) == 0);

    start = zclock_mono ();
    pl_broker__t_request (env.client, "busy", "q1");
    pl_broker__t_request (env.client, "busy", "q2");
    pl_broker__t_request (env.client, "busy", "q3");
    pl_broker__t_expect_error (env.client, "q3", PL_ERR_SERVICE_UNAVAILABLE, "queue is full",
                               S_WAIT);
    assert (zclock_mono () - start < 150);
    pl_broker__t_expect_error (env.client, "q1", PL_ERR_SERVICE_UNAVAILABLE, "within", S_WAIT);
    pl_broker__t_expect_error (env.client, "q2", PL_ERR_SERVICE_UNAVAILABLE, "within", S_WAIT);
    pl_broker__t_env_stop (&env);

    /* queue_max 0: nothing waits */
    pl_broker__t_env_start (&env, 6, 0, 5000);
    pl_broker__t_request (env.client, "nosuch", "z1");
    pl_broker__t_expect_error (env.client, "z1", PL_ERR_SERVICE_UNAVAILABLE, "queue is full", 500);
    pl_broker__t_env_stop (&env);
}

/* Request reqid, sent at sent (zclock_mono), was answered just now: at
 * its deadline sent + timeout_ms, not before, and not a heartbeat later. */
static void
s_expired_at (const char *reqid, int64_t sent, int64_t timeout_ms)
{
    int64_t elapsed = zclock_mono () - sent;
    if (elapsed < timeout_ms - 2 || elapsed > timeout_ms + S_SLACK)
        fprintf (stderr, "pl_broker: %s answered after %lld ms, want %lld..%lld\n", reqid,
                 (long long) elapsed, (long long) timeout_ms - 2,
                 (long long) (timeout_ms + S_SLACK));
    assert (elapsed >= timeout_ms - 2);
    assert (elapsed <= timeout_ms + S_SLACK);
}

/* The SERVICE_UNAVAILABLE for request reqid, sent at sent (zclock_mono),
 * comes at its deadline sent + timeout_ms: not before, and not a
 * heartbeat later. */
static void
s_expect_expired_at (zsock_t *client, const char *reqid, int64_t sent, int64_t timeout_ms)
{
    /* wait well past a heartbeat tick, so that a late answer fails the
     * bound below rather than the receive */
    pl_broker__t_expect_error (client, reqid, PL_ERR_SERVICE_UNAVAILABLE, "within", 3 * 3000);
    s_expired_at (reqid, sent, timeout_ms);
}

/* A queued request is answered at its deadline, not at the next heartbeat
 * tick: with a 3 s heartbeat and a 100 ms queue timeout (the e2e "REST
 * when the service does not answer" got the gateway's TIMEOUT instead of
 * SERVICE_UNAVAILABLE when the tick came late). Covers the timer's paths:
 * armed by a queued request, re-armed for the next one (another service,
 * a later deadline), firing for a request a worker took meanwhile, and a
 * zero queue timeout. */
static void
s_test_queue_deadline (void)
{
    const int64_t hb = 3000;
    const int64_t timeout = 100;
    pl_broker__tenv_t env;
    pl_broker__t_env_start_hb (&env, hb, 3, 100, timeout);

    int64_t sent = zclock_mono ();
    pl_broker__t_request (env.client, "nosuch", "e1");
    s_expect_expired_at (env.client, "e1", sent, timeout);

    /* two services, deadlines 60 ms apart: each at its own. They are told
     * apart by id, not by order: a broker thread kept off the CPU for the
     * 60 ms reads both at once, gives them one deadline, and which of two
     * services expires first is then not specified */
    int64_t sent_a = zclock_mono ();
    pl_broker__t_request (env.client, "svc-a", "e2");
    zclock_sleep (60);
    int64_t sent_b = zclock_mono ();
    pl_broker__t_request (env.client, "svc-b", "e3");
    bool e2 = false, e3 = false;
    for (int i = 0; i < 2; i++) {
        zmsg_t *msg = pl_broker__t_recv_within (env.client, 3 * 3000);
        assert (msg && zmsg_size (msg) == 4);
        assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
        assert (zframe_streq (zmsg_next (msg), PL_CMD_REP));
        char *id = zframe_strdup (zmsg_next (msg));
        char *body = zframe_strdup (zmsg_next (msg));
        pl_broker__t_error_is (body, PL_ERR_SERVICE_UNAVAILABLE, "within");
        assert (strcmp (id, "e2") == 0 || strcmp (id, "e3") == 0);
        bool *seen = strcmp (id, "e2") == 0 ? &e2 : &e3;
        assert (!*seen);
        *seen = true;
        s_expired_at (id, seen == &e2 ? sent_a : sent_b, timeout);
        free (id);
        free (body);
        zmsg_destroy (&msg);
    }

    /* the timer was armed for e4, which a worker takes before its
     * deadline; e5, queued after it, is still answered at its own */
    pl_broker__t_request (env.client, "actors", "e4");
    assert (pl_broker__t_status (env.client, "actors", "queued", NULL) == 1);
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "1");
    zframe_t *held = pl_broker__t_worker_expect (worker, "e4");
    sent = zclock_mono ();
    pl_broker__t_request (env.client, "nosuch", "e5");
    s_expect_expired_at (env.client, "e5", sent, timeout);
    pl_broker__t_worker_reply (worker, &held, "e4", "{\"success\":true}");
    char *body = pl_broker__t_expect_reply (env.client, "e4", 2, S_WAIT);
    free (body);
    assert (pl_broker__t_status (env.client, "actors", "queued", NULL) == 0);
    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);

    /* queue timeout 0: answered at once, not at the tick */
    pl_broker__t_env_start_hb (&env, hb, 3, 100, 0);
    sent = zclock_mono ();
    pl_broker__t_request (env.client, "nosuch", "e6");
    s_expect_expired_at (env.client, "e6", sent, 0);
    pl_broker__t_env_stop (&env);
}

/* A silent worker is declared dead: what it held is answered TIMEOUT (not
 * retried), it is told BYE, and so is anything it says afterwards.
 *
 * The window (liveness 3 x 50 ms) is what is tested here, so it stays
 * short, and nothing else waits inside it: each request is queued before
 * its worker's READY, so the broker hands it over as it registers the
 * worker (no STATUS polling while the window runs, which a busy box could
 * stretch past 150 ms), and the window is timed from before READY, so its
 * lower bound holds however late this thread runs. */
static void
s_test_worker_death (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, 3, 100, S_WAIT);
    pl_broker__t_request (env.client, "actors", "d1");
    pl_broker__t_request (env.client, "other", "o1");
    int64_t start = zclock_mono ();             /* before either READY */
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "2");
    zsock_t *other = pl_broker__t_worker_new (env.backend, "other", "2");
    /* d1 reaches the worker; from now on both are silent (their
     * heartbeats go unanswered) */
    zmsg_t *msg;
    while ((msg = pl_broker__t_recv_within (worker, S_WAIT)) && zmsg_size (msg) == 2) {
        assert (zframe_streq (zmsg_last (msg), PL_CMD_HEARTBEAT));
        zmsg_destroy (&msg);
    }
    assert (msg && zmsg_size (msg) == 7);
    zmsg_first (msg);
    assert (zframe_streq (zmsg_next (msg), PL_CMD_REQ));
    zmsg_next (msg);
    assert (zframe_streq (zmsg_next (msg), "d1"));
    zmsg_destroy (&msg);
    /* both die, each answering what it held (in either order): not before
     * the window, nor much after (a tick every 50 ms, S_SLACK for a late
     * timer) */
    bool d1 = false, o1 = false;
    for (int i = 0; i < 2; i++) {
        msg = pl_broker__t_recv_within (env.client, S_WAIT);
        assert (msg && zmsg_size (msg) == 4);
        assert (zframe_streq (zmsg_first (msg), PL_PROTO_VERSION));
        assert (zframe_streq (zmsg_next (msg), PL_CMD_REP));
        char *id = zframe_strdup (zmsg_next (msg));
        char *body = zframe_strdup (zmsg_next (msg));
        pl_broker__t_error_is (body, PL_ERR_TIMEOUT, "worker lost; the outcome is unknown");
        if (strcmp (id, "d1") == 0) {
            int64_t elapsed = zclock_mono () - start;
            if (elapsed < 3 * S_HB || elapsed > 4 * S_HB + S_SLACK)
                fprintf (stderr, "pl_broker: d1's worker died after %lld ms, want %d..%d\n",
                         (long long) elapsed, 3 * S_HB, 4 * S_HB + S_SLACK);
            assert (!d1);
            d1 = true;
            assert (elapsed >= 3 * S_HB);
            assert (elapsed <= 4 * S_HB + S_SLACK);
        }
        else {
            assert (strcmp (id, "o1") == 0 && !o1);  /* silent since READY */
            o1 = true;
        }
        free (id);
        free (body);
        zmsg_destroy (&msg);
    }
    assert (pl_broker__t_status (env.client, "actors", "workers", NULL) == 0);
    assert (pl_broker__t_status (env.client, "other", "workers", NULL) == 0);
    /* it got heartbeats and then a BYE; after that, silence */
    while ((msg = pl_broker__t_recv_within (worker, S_WAIT))
       &&  !zframe_streq (zmsg_last (msg), PL_CMD_DISCONNECT)) {
        assert (zframe_streq (zmsg_last (msg), PL_CMD_HEARTBEAT));
        zmsg_destroy (&msg);
    }
    assert (msg);
    zmsg_destroy (&msg);
    msg = pl_broker__t_recv_within (worker, 100);
    assert (msg == NULL);
    /* a forgotten worker speaking up is told BYE */
    pl_broker__t_send_frames (worker, 2, PL_PROTO_VERSION, PL_CMD_HEARTBEAT);
    pl_broker__t_expect_command (worker, PL_CMD_DISCONNECT, S_WAIT);
    /* and re-registers with READY like a new worker (d2 queued first, so
     * it is handed over at READY and answered well within the window) */
    pl_broker__t_request (env.client, "actors", "d2");
    pl_broker__t_send_frames (worker, 4, PL_PROTO_VERSION, PL_CMD_READY, "actors", "2");
    zframe_t *client = pl_broker__t_worker_expect (worker, "d2");
    pl_broker__t_worker_reply (worker, &client, "d2", "{\"success\":true}");
    char *body = pl_broker__t_expect_reply (env.client, "d2", 2, S_WAIT);
    free (body);
    zsock_destroy (&other);
    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);
}

/* BYE: the worker is forgotten at once, what it held is answered TIMEOUT.
 * A queued request goes to the next worker that registers. */
static void
s_test_bye (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, S_LIVE, 100, 3000);
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "2");
    pl_broker__t_wait_workers (env.client, "actors", 1);
    pl_broker__t_request (env.client, "actors", "y1");
    zframe_t *client = pl_broker__t_worker_expect (worker, "y1");
    zframe_destroy (&client);
    int64_t start = zclock_mono ();
    pl_broker__t_send_frames (worker, 2, PL_PROTO_VERSION, PL_CMD_DISCONNECT);
    pl_broker__t_expect_error (env.client, "y1", PL_ERR_TIMEOUT, "worker lost", S_WAIT);
    assert (zclock_mono () - start < S_LIVE * S_HB);  /* not by silence */
    assert (pl_broker__t_status (env.client, "actors", "workers", NULL) == 0);
    zsock_destroy (&worker);

    pl_broker__t_request (env.client, "actors", "y2");
    assert (pl_broker__t_status (env.client, "actors", "queued", NULL) == 1);
    worker = pl_broker__t_worker_new (env.backend, "actors", "1");
    client = pl_broker__t_worker_expect (worker, "y2");
    pl_broker__t_worker_reply (worker, &client, "y2", "{\"success\":true}");
    char *body = pl_broker__t_expect_reply (env.client, "y2", 2, S_WAIT);
    free (body);
    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);
}

/* A worker the broker does not know gets BYE for anything but READY (and
 * nothing for its own BYE, so two sides cannot ping-pong). */
static void
s_test_unknown_worker (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, 6, 100, 1000);
    zsock_t *stranger = pl_broker__t_dealer (env.backend);
    pl_broker__t_send_frames (stranger, 2, PL_PROTO_VERSION, PL_CMD_HEARTBEAT);
    pl_broker__t_expect_command (stranger, PL_CMD_DISCONNECT, S_WAIT);
    pl_broker__t_send_frames (stranger, 5, PL_PROTO_VERSION, PL_CMD_REP, "c", "r", "{}");
    pl_broker__t_expect_command (stranger, PL_CMD_DISCONNECT, S_WAIT);
    pl_broker__t_send_frames (stranger, 2, PL_PROTO_VERSION, PL_CMD_DISCONNECT);
    zmsg_t *msg = pl_broker__t_recv_within (stranger, 100);
    assert (msg == NULL);
    assert (pl_broker__t_status (env.client, "actors", "workers", NULL) == -1);
    zsock_destroy (&stranger);
    pl_broker__t_env_stop (&env);
}

/* Stopping the broker answers everything it holds and says BYE. */
static void
s_test_shutdown (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, S_LIVE, 100, 5000);
    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "1");
    pl_broker__t_wait_workers (env.client, "actors", 1);
    pl_broker__t_request (env.client, "actors", "h1");
    pl_broker__t_request (env.client, "actors", "h2");
    zframe_t *client = pl_broker__t_worker_expect (worker, "h1");
    zframe_destroy (&client);
    /* h2 has been read (it waits in the queue) before the stop: a request
     * still unread when the loop ends is not the broker's to answer, and
     * zloop may see the stop first when both come in one wakeup */
    assert (pl_broker__t_status (env.client, "actors", "queued", NULL) == 1);
    zsock_t *gateway = env.client;
    env.client = NULL;                  /* keep it across the stop */
    pl_broker__t_env_stop (&env);
    /* both answered, each with its own error; which first is not specified */
    for (int i = 0; i < 2; i++) {
        zmsg_t *msg = pl_broker__t_recv_within (gateway, S_WAIT);
        assert (msg && zmsg_size (msg) == 4);
        zmsg_first (msg);
        zmsg_next (msg);
        char *id = zframe_strdup (zmsg_next (msg));
        char *body = zframe_strdup (zmsg_next (msg));
        const char *want = strcmp (id, "h1") == 0 ? "TIMEOUT" : "SERVICE_UNAVAILABLE";
        assert (strcmp (id, "h1") == 0 || strcmp (id, "h2") == 0);
        assert (strstr (body, want) && strstr (body, "shutting down"));
        free (id);
        free (body);
        zmsg_destroy (&msg);
    }
    zmsg_t *msg = pl_broker__t_worker_recv (worker, S_WAIT);
    assert (msg && zframe_streq (zmsg_last (msg), PL_CMD_DISCONNECT));
    zmsg_destroy (&msg);
    zsock_destroy (&gateway);
    zsock_destroy (&worker);
}

/* Over ipc://, as deployed; a second broker on the same endpoint fails to
 * start instead of stealing it. */
static void
s_test_ipc (void)
{
    char dir[] = "/tmp/pl-broker-XXXXXX";
    char *made = mkdtemp (dir);
    assert (made);
    pl_broker__tenv_t env;
    memset (&env, 0, sizeof env);
    snprintf (env.frontend, sizeof env.frontend, "ipc://%s/fe.ipc", dir);
    snprintf (env.backend, sizeof env.backend, "ipc://%s/be.ipc", dir);
    env.opts = (pl_broker_opts_t) {
        .frontend = env.frontend, .backend = env.backend,
        .frontend_name = "PARLEY_BROKER_FRONTEND", .backend_name = "PARLEY_BROKER_BACKEND",
        .heartbeat_ms = S_HB, .liveness = S_LIVE, .queue_max = 10, .queue_timeout_ms = 1000
    };
    pl_broker__t_env_run (&env);
    assert (pl_bind_ipc_in_use (env.frontend));

    char other[160];
    snprintf (other, sizeof other, "ipc://%s/other.ipc", dir);
    pl_broker_opts_t clash = env.opts;
    clash.backend = other;
    pl_broker_t *second = pl_broker_new (&clash);
    assert (second == NULL);
    clash.frontend = other;
    clash.backend = env.backend;
    second = pl_broker_new (&clash);
    assert (second == NULL);

    zsock_t *worker = pl_broker__t_worker_new (env.backend, "actors", "3");
    pl_broker__t_request (env.client, "actors", "i1");   /* may queue until READY lands */
    zframe_t *client = pl_broker__t_worker_expect (worker, "i1");
    pl_broker__t_worker_reply (worker, &client, "i1", "{\"success\":true}");
    char *body = pl_broker__t_expect_reply (env.client, "i1", 2, S_WAIT);
    assert (strcmp (body, "{\"success\":true}") == 0);
    free (body);
    zsock_destroy (&worker);
    pl_broker__t_env_stop (&env);
    unlink (env.frontend + 6);
    unlink (env.backend + 6);
    unlink (other + 6);
    int rc = rmdir (dir);
    assert (rc == 0);
}

/* A DEALER with routing id `id` (a gateway), connected and known to the
 * broker: its STATUS was answered. */
static zsock_t *
s_gateway (const char *endpoint, const char *id)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock);
    zsock_set_linger (sock, 0);
    zsock_set_identity (sock, id);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);
    pl_broker__t_send_frames (sock, 2, PL_PROTO_VERSION, PL_CMD_STATUS);
    zmsg_t *msg = pl_broker__t_recv_within (sock, S_WAIT);
    assert (msg && zmsg_size (msg) == 3);
    zmsg_destroy (&msg);
    return sock;
}

/* The next message on sock is exactly these count frames. */
static void
s_expect_frames (zsock_t *sock, int count, const char *const *frames)
{
    zmsg_t *msg = pl_broker__t_recv_within (sock, S_WAIT);
    assert (msg && (int) zmsg_size (msg) == count);
    zframe_t *f = zmsg_first (msg);
    for (int i = 0; i < count; i++, f = zmsg_next (msg))
        assert (zframe_streq (f, frames[i]));
    zmsg_destroy (&msg);
}

/* FWD and FWDREP are relayed between gateways by routing id, the sender's
 * id in place of the peer's; a FWD to no gateway is answered 404; a
 * malformed one is dropped; a second gateway with an id already connected
 * is not served until the first is gone (ROUTER without handover). */
static void
s_test_forward (void)
{
    pl_broker__tenv_t env;
    pl_broker__t_env_start (&env, S_LIVE, 100, 1000);
    zsock_t *a = s_gateway (env.frontend, "gw-a");
    zsock_t *b = s_gateway (env.frontend, "gw-b");
    pl_broker__t_send_frames (a, 7, PL_PROTO_VERSION, PL_CMD_FORWARD, "gw-b", "f1", "POST",
                              "gw-b.x", "4hi");
    const char *at_b[] = { PL_PROTO_VERSION, PL_CMD_FORWARD, "gw-a", "f1", "POST", "gw-b.x", "4hi" };
    s_expect_frames (b, 7, at_b);
    pl_broker__t_send_frames (b, 6, PL_PROTO_VERSION, PL_CMD_FORWARD_REPLY, "gw-a", "f1", "200",
                              "ok");
    const char *at_a[] = { PL_PROTO_VERSION, PL_CMD_FORWARD_REPLY, "gw-b", "f1", "200", "ok" };
    s_expect_frames (a, 6, at_a);
    /* no gateway gw-zz: 404 at once */
    pl_broker__t_send_frames (a, 7, PL_PROTO_VERSION, PL_CMD_FORWARD, "gw-zz", "f2", "GET",
                              "gw-zz.x", "");
    const char *gone[] = { PL_PROTO_VERSION, PL_CMD_FORWARD_REPLY, "gw-zz", "f2", "404", "" };
    s_expect_frames (a, 6, gone);
    /* malformed (a frame short, an empty peer): dropped, and the next
     * answer a gets is its STATUS */
    pl_broker__t_send_frames (a, 6, PL_PROTO_VERSION, PL_CMD_FORWARD, "gw-b", "f3", "GET",
                              "gw-b.x");
    pl_broker__t_send_frames (a, 7, PL_PROTO_VERSION, PL_CMD_FORWARD, "", "f4", "GET",
                              "gw-b.x", "");
    pl_broker__t_send_frames (a, 5, PL_PROTO_VERSION, PL_CMD_FORWARD_REPLY, "gw-b", "f5", "200");
    pl_broker__t_send_frames (a, 2, PL_PROTO_VERSION, PL_CMD_STATUS);
    zmsg_t *msg = pl_broker__t_recv_within (a, S_WAIT);
    assert (msg && zmsg_size (msg) == 3);
    zmsg_first (msg);
    assert (zframe_streq (zmsg_next (msg), PL_CMD_STATUS));
    zmsg_destroy (&msg);
    msg = pl_broker__t_recv_within (b, 200);
    assert (!msg);                          /* nothing of those reached b */
    /* a duplicate gw-b is not served while the first is connected: its
     * STATUS is unanswered, and a FWD to gw-b still reaches the first */
    zsock_t *dup = zsock_new (ZMQ_DEALER);
    assert (dup);
    zsock_set_linger (dup, 0);
    zsock_set_identity (dup, "gw-b");
    assert (zsock_connect (dup, "%s", env.frontend) == 0);
    pl_broker__t_send_frames (dup, 2, PL_PROTO_VERSION, PL_CMD_STATUS);
    msg = pl_broker__t_recv_within (dup, 300);
    assert (!msg);
    pl_broker__t_send_frames (a, 7, PL_PROTO_VERSION, PL_CMD_FORWARD, "gw-b", "f6", "GET",
                              "gw-b.y", "");
    const char *at_b2[] = { PL_PROTO_VERSION, PL_CMD_FORWARD, "gw-a", "f6", "GET", "gw-b.y", "" };
    s_expect_frames (b, 7, at_b2);
    zsock_destroy (&dup);
    zsock_destroy (&a);
    zsock_destroy (&b);
    pl_broker__t_env_stop (&env);
}

void
pl_broker_test (bool verbose)
{
    if (verbose)
        printf (" * pl_broker: ");
    zsys_handler_set (NULL);
    s_test_round_trip ();
    s_test_malformed ();
    s_test_balance ();
    s_test_credit ();
    s_test_unavailable ();
    s_test_queue_deadline ();
    s_test_worker_death ();
    s_test_bye ();
    s_test_unknown_worker ();
    s_test_shutdown ();
    s_test_ipc ();
    s_test_forward ();
    pl_broker__t_metrics ();
    if (verbose)
        printf ("OK\n");
}
