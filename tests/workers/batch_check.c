/*  parley-batch-check - the coroutine worker runtime (runtime/
 *  pl_worker_sched.c: many requests, one Redis pipeline per round) against
 *  a real parley-actors and a private redis-server.
 *
 *      parley-batch-check /path/to/parley-actors [-v]
 *
 *  To put many requests in one round, the worker is stopped (SIGSTOP)
 *  while they are sent, then continued: it finds them all waiting (how
 *  many a wake-up takes is up to ZeroMQ, so the checks hold for any
 *  split). It checks: a mixed round (creates, gets, lists, WATCH/MULTI
 *  updates) all answered right, and a Redis error reply (WRONGTYPE)
 *  failing only its own request; updates of one actor from many
 *  connections at once, none lost; the order of one connection's
 *  requests, replies and events; arguments nested too deep refused and
 *  ones within the limit stored; Redis stalling with a round in flight
 *  (the overdue replies fail, heartbeats go on meanwhile, the worker
 *  carries on); Redis killed with a
 *  round in flight (every request answered "storage unavailable", none
 *  hangs, and the worker recovers when Redis is back).
 *
 *  PARLEY_WORKER_BATCH=0 in the environment runs the same checks against
 *  the one-at-a-time loop (they hold there too, one request per round).
 */
#include "wcheck.h"

#include "pl_id.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CREDIT "64"
/* an actor id whose key holds a hash: its GET is a WRONGTYPE error */
#define S_WRONGTYPE "01234567-89ab-4def-8123-456789abcdef"

/* The worker stops / goes on (the requests sent meanwhile wait in its
 * socket, and it finds them all at once). */
static void
s_hold (void)
{
    CHECK (kill (wcheck_worker_pid (0), SIGSTOP) == 0);
}

static void
s_release (void)
{
    CHECK (kill (wcheck_worker_pid (0), SIGCONT) == 0);
}

static char *
s_create (const char *uid, const char *body)
{
    cJSON *a = wcheck_ok (0, uid, "actor:create", body);
    char *id = strdup (wcheck_str (a, "id"));
    cJSON_Delete (a);
    return id;
}

/* Collect n replies into by_seq[seq - first] (the caller deletes them). */
static void
s_collect (int first, int n, cJSON **by_seq, int *order)
{
    for (int i = 0; i < n; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        CHECK (seq >= first && seq < first + n && !by_seq[seq - first]);
        by_seq[seq - first] = reply;
        if (order)
            order[i] = seq;
    }
}

/* Creates, gets, lists and WATCH/MULTI updates in one batch; a get whose
 * GET meets a hash (WRONGTYPE) fails alone. */
static void
s_mixed (void)
{
    enum { N = 8 };
    char *ids[N], uid[16], body[256];
    for (int i = 0; i < N; i++) {
        snprintf (uid, sizeof uid, "b%d", i);
        ids[i] = s_create (uid, "{\"name\":\"m\",\"type\":\"t\"}");
    }
    redisReply *r = wcheck_redis ("HSET pl:actor:%s x 1", S_WRONGTYPE);
    freeReplyObject (r);
    wcheck_drain (100);

    s_hold ();
    int first = 0, n = 0, bad = -1;
    for (int i = 0; i < N; i++) {
        snprintf (uid, sizeof uid, "b%d", i);
        int seq = wcheck_send (0, uid, "actor:get", wcheck_quote (ids[i]));
        first = first ? first : seq;
        n++;
        if (i == N / 2) {
            bad = wcheck_send (0, uid, "actor:get", wcheck_quote (S_WRONGTYPE));
            n++;
        }
        snprintf (uid, sizeof uid, "c%d", i);
        wcheck_send (0, uid, "actor:create", "{\"name\":\"new\",\"type\":\"t\"}");
        n++;
        if (i < N / 2) {
            snprintf (uid, sizeof uid, "b%d", i);
            snprintf (body, sizeof body, "{\"id\":\"%s\",\"hp\":%d}", ids[i], i);
            wcheck_send (0, uid, "actor:update", body);
            wcheck_send (0, uid, "actor:list", NULL);
            n += 2;
        }
    }
    s_release ();
    cJSON *by_seq[64] = { NULL };
    CHECK (n <= 64);
    s_collect (first, n, by_seq, NULL);
    for (int i = 0; i < n; i++) {
        const char *code = wcheck_code (by_seq[i]);
        if (first + i == bad)
            CHECK (strcmp (code, "INTERNAL") == 0);
        else {
            if (*code)
                fprintf (stderr, "request %d: %s\n", first + i, code);
            CHECK (strcmp (code, "") == 0);
        }
        cJSON_Delete (by_seq[i]);
    }
    for (int i = 0; i < N; i++) {
        snprintf (uid, sizeof uid, "b%d", i);
        cJSON *a = wcheck_ok (0, uid, "actor:get", wcheck_quote (ids[i]));
        CHECK (wcheck_num (a, "version") == (i < N / 2 ? 2 : 1));
        if (i < N / 2)
            CHECK (wcheck_num (a, "hp") == i);
        cJSON_Delete (a);
        free (ids[i]);
    }
    wcheck_drain (100);
}

/* Ten connections update one actor in one batch: each transaction runs
 * alone on the connection, so none conflicts and none is lost. */
static void
s_one_actor (void)
{
    char *id = s_create ("x", "{\"name\":\"one\",\"type\":\"t\"}");
    char body[256];
    s_hold ();
    int first = 0;
    for (int i = 0; i < 10; i++) {
        snprintf (body, sizeof body, "{\"id\":\"%s\",\"n\":%d}", id, i);
        int seq = wcheck_send (0, "x", "actor:update", body);
        first = first ? first : seq;
    }
    s_release ();
    cJSON *by_seq[10] = { NULL };
    s_collect (first, 10, by_seq, NULL);
    for (int i = 0; i < 10; i++) {
        CHECK (strcmp (wcheck_code (by_seq[i]), "") == 0);
        cJSON_Delete (by_seq[i]);
    }
    /* announced in the order they committed: versions 2..11, each once
     * (a rerun after a lost race commits later than the winner, whose
     * follow-up rounds may still be running: its event must wait) */
    int version = 1;
    wcheck_bus_t bus;
    while (version < 11 && wcheck_bus_next (&bus, 2000)) {
        const cJSON *payload = cJSON_GetArrayItem (bus.packet, 1);
        const cJSON *pid = cJSON_GetObjectItem (payload, "id");
        const cJSON *push = cJSON_GetArrayItem (bus.packet, 0);
        if (strcmp (bus.room, "user:x") == 0 && cJSON_IsString (pid)
        &&  strcmp (pid->valuestring, id) == 0 && cJSON_IsString (push)
        &&  strcmp (push->valuestring, "actor:updated") == 0) {
            if (wcheck_num (payload, "version") != version + 1)
                fprintf (stderr, "actor:updated version %.0f after %d\n",
                         wcheck_num (payload, "version"), version);
            CHECK (wcheck_num (payload, "version") == version + 1);
            version++;
        }
        wcheck_bus_clear (&bus);
    }
    CHECK (version == 11);
    cJSON *a = wcheck_ok (0, "x", "actor:get", wcheck_quote (id));
    CHECK (wcheck_num (a, "version") == 11);
    cJSON_Delete (a);
    free (id);
    wcheck_drain (100);
}

/* One connection's three updates of one actor, among other connections'
 * requests: answered in order, announced in order, the last one wins. */
static void
s_order (void)
{
    char *id = s_create ("o", "{\"name\":\"ordered\",\"type\":\"t\"}");
    char *other = s_create ("p", "{\"name\":\"other\",\"type\":\"t\"}");
    wcheck_drain (100);
    wcheck_who_t me = { "gw-o", "1", "o", NULL };
    char body[256];
    int mine[3], got = 0;
    s_hold ();
    int first = 0;
    for (int i = 0; i < 3; i++) {
        snprintf (body, sizeof body, "{\"id\":\"%s\",\"n\":%d}", id, i + 1);
        mine[i] = wcheck_send_as (0, &me, "actor:update", body);
        first = first ? first : mine[i];
        snprintf (body, sizeof body, "{\"id\":\"%s\",\"m\":%d}", other, i);
        wcheck_send (0, "p", "actor:update", body);
        wcheck_send (0, "p", "actor:get", wcheck_quote (other));
    }
    s_release ();
    int order[9];
    cJSON *by_seq[9] = { NULL };
    s_collect (first, 9, by_seq, order);
    for (int i = 0; i < 9; i++) {
        CHECK (strcmp (wcheck_code (by_seq[order[i] - first]), "") == 0);
        if (got < 3 && order[i] == mine[got])
            got++;
        else
            for (int k = got; k < 3; k++)
                CHECK (order[i] != mine[k]);    /* one of mine out of turn */
    }
    CHECK (got == 3);
    for (int i = 0; i < 9; i++)
        cJSON_Delete (by_seq[i]);
    /* the events of my updates: n = 1, 2, 3 in that order */
    int seen = 0;
    wcheck_bus_t bus;
    while (wcheck_bus_next (&bus, 300)) {
        const cJSON *payload = cJSON_GetArrayItem (bus.packet, 1);
        const cJSON *pid = cJSON_GetObjectItem (payload, "id");
        if (strcmp (bus.room, "user:o") == 0 && cJSON_IsString (pid)
        &&  strcmp (pid->valuestring, id) == 0) {
            CHECK (wcheck_num (payload, "n") == seen + 1);
            seen++;
        }
        wcheck_bus_clear (&bus);
    }
    CHECK (seen == 3);
    cJSON *a = wcheck_ok (0, "o", "actor:get", wcheck_quote (id));
    CHECK (wcheck_num (a, "n") == 3 && wcheck_num (a, "version") == 4);
    cJSON_Delete (a);
    /* a slow request (actor:list: ZRANGE, then MGET, two rounds) then a
     * fast one (actor:get, one round) on one connection: the fast one
     * waits for the slow one's answer instead of overtaking it */
    s_hold ();
    int slow = wcheck_send_as (0, &me, "actor:list", NULL);
    int fast = wcheck_send_as (0, &me, "actor:get", wcheck_quote (id));
    s_release ();
    int seq;
    cJSON *r1 = wcheck_reply (&seq, NULL);
    CHECK (seq == slow && strcmp (wcheck_code (r1), "") == 0);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (r1, "data")) == 1);
    cJSON *r2 = wcheck_reply (&seq, NULL);
    CHECK (seq == fast && strcmp (wcheck_code (r2), "") == 0);
    cJSON_Delete (r1);
    cJSON_Delete (r2);
    free (id);
    free (other);
    wcheck_drain (100);
}

/* Nesting: an argument 900 deep is refused (VALIDATION_ERROR, saying
 * why) before any handler recurses into it, alone in its round; one at
 * the limit (64: the argument, its object around it counts) is stored,
 * read back and printed whole. */
static void
s_deep (void)
{
    char *body = malloc (2 * 1000 + 64);
    for (int depth = 900; depth >= 63; depth -= 837) {
        int n = sprintf (body, "{\"name\":\"deep\",\"type\":\"t\",\"x\":");
        for (int i = 0; i < depth; i++)
            body[n++] = '[';
        for (int i = 0; i < depth; i++)
            body[n++] = ']';
        body[n++] = '}';
        body[n] = 0;
        if (depth > 63) {
            /* among others in one round: only it fails */
            s_hold ();
            int a = wcheck_send (0, "deep", "actor:create", "{\"name\":\"a\",\"type\":\"t\"}");
            int bad = wcheck_send (0, "deep", "actor:create", body);
            int b = wcheck_send (0, "deep", "actor:create", "{\"name\":\"b\",\"type\":\"t\"}");
            s_release ();
            cJSON *by_seq[3] = { NULL };
            s_collect (a, 3, by_seq, NULL);
            CHECK (b == a + 2 && bad == a + 1);
            CHECK (strcmp (wcheck_code (by_seq[0]), "") == 0);
            CHECK (strcmp (wcheck_code (by_seq[2]), "") == 0);
            CHECK (strcmp (wcheck_code (by_seq[1]), "VALIDATION_ERROR") == 0);
            const cJSON *err = cJSON_GetObjectItem (by_seq[1], "error");
            const cJSON *msg = cJSON_GetObjectItem (err, "message");
            CHECK (cJSON_IsString (msg) && strstr (msg->valuestring, "deeper than 64"));
            for (int i = 0; i < 3; i++)
                cJSON_Delete (by_seq[i]);
            continue;
        }
        char *id = s_create ("deep", body);
        cJSON *a = wcheck_ok (0, "deep", "actor:get", wcheck_quote (id));
        const cJSON *x = cJSON_GetObjectItem (a, "x");
        int d = 0;
        while (cJSON_IsArray (x)) {
            d++;
            x = x->child;
        }
        CHECK (d == depth);
        cJSON_Delete (a);
        free (id);
    }
    free (body);
    wcheck_drain (100);
}

/* Redis stalls with a round in flight: its requests fail INTERNAL when
 * the command timeout (1 s) passes; the worker then carries on. (How many
 * of the six the first round holds is up to ZeroMQ: the first reply is a
 * failure, Redis comes back then, and the rest may go either way.) */
static void
s_stall (void)
{
    char *id = s_create ("s", "{\"name\":\"stall\",\"type\":\"t\"}");
    wcheck_drain (100);
    s_hold ();
    int first = 0;
    for (int i = 0; i < 6; i++) {
        int seq = wcheck_send (0, "s", "actor:get", wcheck_quote (id));
        first = first ? first : seq;
    }
    CHECK (kill (wcheck_redis_pid (), SIGSTOP) == 0);
    s_release ();
    int beats = wcheck_heartbeats ();
    int64_t stalled_at = pl_id_mono_ms ();
    int seq;
    cJSON *reply = wcheck_reply (&seq, NULL);
    CHECK (strcmp (wcheck_code (reply), "INTERNAL") == 0);
    cJSON_Delete (reply);
    /* the worker loop kept turning: heartbeats (every 200 ms when the
     * worker says nothing else) went on through the 1 s stall. The old
     * loop blocks in the command instead (PARLEY_WORKER_BATCH=0). */
    const char *batch = getenv ("PARLEY_WORKER_BATCH");
    CHECK (pl_id_mono_ms () - stalled_at >= 900);
    if (!batch || strcmp (batch, "0") != 0)
        CHECK (wcheck_heartbeats () - beats >= 2);
    CHECK (kill (wcheck_redis_pid (), SIGCONT) == 0);
    for (int i = 1; i < 6; i++) {
        reply = wcheck_reply (&seq, NULL);
        CHECK (seq >= first && seq < first + 6);
        const char *code = wcheck_code (reply);
        CHECK (strcmp (code, "") == 0 || strcmp (code, "INTERNAL") == 0);
        cJSON_Delete (reply);
    }
    cJSON *a = wcheck_ok (0, "s", "actor:get", wcheck_quote (id));
    cJSON_Delete (a);
    free (id);
    wcheck_drain (100);
}

/* Redis killed (SIGKILL) with a round in flight: Redis is stopped first,
 * so the round the worker writes waits in its socket, then killed. Every
 * request is answered INTERNAL "storage unavailable" at once (the
 * connection closes: no command timeout to wait for, and nothing is sent
 * again, since it may have run); a request while Redis is down too; then
 * Redis comes back (empty) and the worker with it. */
static void
s_killed (void)
{
    char *id = s_create ("k", "{\"name\":\"killed\",\"type\":\"t\"}");
    wcheck_drain (100);
    s_hold ();
    int first = 0;
    for (int i = 0; i < 8; i++) {
        int seq = i % 2 ? wcheck_send (0, "k", "actor:get", wcheck_quote (id))
                        : wcheck_send (0, "k", "actor:create", "{\"name\":\"n\",\"type\":\"t\"}");
        first = first ? first : seq;
    }
    CHECK (kill (wcheck_redis_pid (), SIGSTOP) == 0);
    s_release ();
    wcheck_pause (200);                     /* the round is written (or not: either way) */
    int64_t killed_at = pl_id_mono_ms ();
    wcheck_redis_kill ();
    for (int i = 0; i < 8; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        CHECK (seq >= first && seq < first + 8);
        CHECK (strcmp (wcheck_code (reply), "INTERNAL") == 0);
        const cJSON *msg = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "message");
        CHECK (cJSON_IsString (msg) && strstr (msg->valuestring, "storage unavailable"));
        cJSON_Delete (reply);
    }
    /* the close was seen, not a timeout waited out (the command timeout
     * is 1 s; 900 ms leaves a busy box room) */
    CHECK (pl_id_mono_ms () - killed_at < 900);
    cJSON *err = wcheck_error (0, "k", "actor:get", wcheck_quote (id), "INTERNAL");
    cJSON_Delete (err);
    wcheck_redis_start ();
    char *again = s_create ("k", "{\"name\":\"back\",\"type\":\"t\"}");
    cJSON *a = wcheck_ok (0, "k", "actor:get", wcheck_quote (again));
    CHECK (strcmp (wcheck_str (a, "name"), "back") == 0);
    cJSON_Delete (a);
    free (again);
    free (id);
    wcheck_drain (100);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-batch-check /path/to/parley-actors [-v]\n");
        return 2;
    }
    wcheck_init ("batch_check", argc > 2 && strcmp (argv[2], "-v") == 0);
    setenv ("PARLEY_ACTORS_PER_USER", "1000", 1);
    const char *env[] = { "PARLEY_WORKER_CREDIT=" S_CREDIT, NULL };
    wcheck_worker (0, argv[1], "actors", env);
    wcheck_probe (0, "actor:create", "{\"name\":\"p\",\"type\":\"p\"}");
    printf ("batch_check: a mixed batch\n");
    s_mixed ();
    printf ("batch_check: one actor, many connections\n");
    s_one_actor ();
    printf ("batch_check: one connection's order\n");
    s_order ();
    printf ("batch_check: deep argument\n");
    s_deep ();
    printf ("batch_check: redis stalls mid-round\n");
    s_stall ();
    printf ("batch_check: redis killed mid-round\n");
    s_killed ();
    wcheck_stop_workers ();
    wcheck_done ();
    return 0;
}
