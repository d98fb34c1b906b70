/*  parley-actors-check - drive real parley-actors processes against a
 *  private redis-server, with this program playing the broker backend
 *  (ROUTER) and the event proxy (bound SUB).
 *
 *      parley-actors-check /path/to/parley-actors [-v]
 *
 *  It checks the actors contract (proto/README.md event table), storage
 *  races between two workers, a Redis outage and recovery, a broker
 *  restart (BYE -> READY), and a clean SIGTERM. Needs redis-server in
 *  PATH. Everything lives in a fresh /tmp dir, removed at the end; every
 *  wait is bounded, and the whole run takes a few seconds.
 */
#include "pl_id.h"
#include "pl_proto.h"
#include "pl_zmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define S_WORKERS 2

typedef struct {
    char dir[64];                       /* private temp dir                */
    char redis_sock[128];               /* redis unix socket               */
    char backend[128];                  /* ipc: fake broker backend        */
    char events[128];                   /* ipc: fake event proxy           */
    const char *actors_bin;             /* parley-actors under test        */
    bool verbose;
    pid_t redis;                        /* redis-server, or 0              */
    pid_t worker[S_WORKERS];            /* parley-actors, or 0             */
    void *zctx;
    void *router;                       /* fake broker backend             */
    void *sub;                          /* fake event proxy                */
    char id[S_WORKERS][256];            /* identity of each worker's READY */
    size_t id_len[S_WORKERS];
    int seq;                            /* request ids                     */
} s_env_t;

static s_env_t s_env;

static void
s_cleanup (void)
{
    for (int i = 0; i < S_WORKERS; i++)
        if (s_env.worker[i] > 0) {
            kill (s_env.worker[i], SIGKILL);
            waitpid (s_env.worker[i], NULL, 0);
        }
    if (s_env.redis > 0) {
        kill (s_env.redis, SIGKILL);
        waitpid (s_env.redis, NULL, 0);
    }
    char cmd[160];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_env.dir);
    if (*s_env.dir && system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", s_env.dir);
}

static void
s_fail (int line, const char *what)
{
    fprintf (stderr, "actors_check: FAILED at line %d: %s\n", line, what);
    for (int i = 0; i < S_WORKERS; i++) {
        char cmd[200];
        snprintf (cmd, sizeof cmd, "echo '--- worker %d log:'; tail -n 30 '%s/actors-%d.log'",
                  i, s_env.dir, i);
        if (system (cmd) != 0)
            fprintf (stderr, "(no log)\n");
    }
    s_cleanup ();
    exit (1);
}

#define CHECK(cond) do { if (!(cond)) s_fail (__LINE__, #cond); } while (0)

/* ---- processes ------------------------------------------------------- */

/* Start redis-server and wait (on its stdout) until it accepts connections. */
static void
s_redis_start (void)
{
    int out[2];
    CHECK (pipe (out) == 0);
    s_env.redis = fork ();
    CHECK (s_env.redis >= 0);
    if (s_env.redis == 0) {
        dup2 (out[1], STDOUT_FILENO);
        close (out[0]);
        execlp ("redis-server", "redis-server", "--port", "0",
                "--unixsocket", s_env.redis_sock, "--dir", s_env.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no", (char *) NULL);
        _exit (127);
    }
    close (out[1]);
    char log[8192] = "";
    size_t n = 0;
    int64_t deadline = pl_id_mono_ms () + 5000;
    bool ready = false;
    while (!ready && pl_id_mono_ms () < deadline) {
        struct pollfd pfd = { out[0], POLLIN, 0 };
        if (poll (&pfd, 1, (int) (deadline - pl_id_mono_ms ())) <= 0)
            break;
        ssize_t got = read (out[0], log + n, sizeof log - n - 1);
        if (got <= 0)
            break;
        n += (size_t) got;
        log[n] = 0;
        ready = strcasestr (log, "ready to accept connections") != NULL;
        if (n >= sizeof log - 1)
            n = 0;
    }
    /* the pipe stays open unread: redis logs little, far below its buffer */
    CHECK (ready);
}

static void
s_redis_stop (void)
{
    kill (s_env.redis, SIGTERM);
    int status;
    CHECK (waitpid (s_env.redis, &status, 0) == s_env.redis);
    s_env.redis = 0;
}

static void
s_worker_start (int index)
{
    char url[160], log[128];
    snprintf (url, sizeof url, "unix://%s", s_env.redis_sock);
    snprintf (log, sizeof log, "%s/actors-%d.log", s_env.dir, index);
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
            dup2 (fd, STDERR_FILENO);
        setenv ("PARLEY_REDIS_URL", url, 1);
        setenv ("PARLEY_BROKER_BACKEND", s_env.backend, 1);
        setenv ("PARLEY_EVENTS_XSUB", s_env.events, 1);
        setenv ("PARLEY_DATA_DIR", s_env.dir, 1);
        setenv ("PARLEY_HEARTBEAT_MS", "200", 1);
        setenv ("PARLEY_HEARTBEAT_LIVENESS", "3", 1);
        setenv ("PARLEY_WORKER_CREDIT", "16", 1);
        setenv ("PARLEY_LOG_LEVEL", "info", 1);
        execl (s_env.actors_bin, s_env.actors_bin, (char *) NULL);
        _exit (127);
    }
    s_env.worker[index] = pid;
}

/* ---- the fake broker ------------------------------------------------- */

/* Wait for the next message from a worker whose command is cmd (answering
 * heartbeats meanwhile), or for an event on the bus (cmd NULL). Returns
 * false on timeout. */
static bool
s_next (const char *cmd, pl_zmsg_t *msg, int timeout_ms)
{
    int64_t deadline = pl_id_mono_ms () + timeout_ms;
    while (true) {
        while (pl_zmsg_recv (s_env.router, msg) == 0) {
            CHECK (msg->count >= 3 && pl_zmsg_is (msg, 1, "PL01"));
            if (pl_zmsg_is (msg, 2, "HB")) {
                pl_zmsg_part_t hb[] = {
                    { zmq_msg_data (&msg->frame[0]), zmq_msg_size (&msg->frame[0]) },
                    { "PL01", 4 }, { "HB", 2 } };
                pl_zmsg_send (s_env.router, hb, 3);
            }
            if (cmd && pl_zmsg_is (msg, 2, cmd))
                return true;
            pl_zmsg_close (msg);
        }
        if (!cmd && pl_zmsg_recv (s_env.sub, msg) == 0)
            return true;
        int64_t left = deadline - pl_id_mono_ms ();
        if (left <= 0)
            return false;
        zmq_pollitem_t items[] = { { s_env.router, 0, ZMQ_POLLIN, 0 }, { s_env.sub, 0, ZMQ_POLLIN, 0 } };
        zmq_poll (items, 2, (long) left);
    }
}

/* Wait for worker `index` to send READY, and remember its identity. */
static void
s_expect_ready (int index)
{
    pl_zmsg_t msg;
    CHECK (s_next ("READY", &msg, 5000));
    CHECK (msg.count == 5);
    CHECK (pl_zmsg_is (&msg, 3, "actors"));
    CHECK (pl_zmsg_is (&msg, 4, "16"));
    s_env.id_len[index] = zmq_msg_size (&msg.frame[0]);
    CHECK (s_env.id_len[index] <= sizeof s_env.id[index]);
    memcpy (s_env.id[index], zmq_msg_data (&msg.frame[0]), s_env.id_len[index]);
    pl_zmsg_close (&msg);
}

/* Send a request to worker w as user uid; returns its request id. */
static int
s_send (int w, const char *uid, const char *event, const char *body)
{
    char reqid[16], conn[16];
    int seq = ++s_env.seq;
    snprintf (reqid, sizeof reqid, "q%d", seq);
    snprintf (conn, sizeof conn, "%d", seq);
    char *ctx = pl_proto_ctx_encode ("gw-d", conn, uid, NULL);
    pl_zmsg_part_t parts[] = {
        { s_env.id[w], s_env.id_len[w] }, { "PL01", 4 }, { "REQ", 3 }, { "client", 6 },
        { reqid, strlen (reqid) }, { event, strlen (event) }, { ctx, strlen (ctx) },
        { body ? body : "", body ? strlen (body) : 0 },
    };
    CHECK (pl_zmsg_send (s_env.router, parts, 8) == 0);
    free (ctx);
    return seq;
}

/* Wait for a reply; returns it parsed and sets *seq to its request id. */
static cJSON *
s_reply (int *seq)
{
    pl_zmsg_t msg;
    CHECK (s_next ("REP", &msg, 5000));
    CHECK (msg.count == 6 && pl_zmsg_is (&msg, 3, "client"));
    char reqid[16] = "";
    size_t len = zmq_msg_size (&msg.frame[4]);
    CHECK (len < sizeof reqid);
    memcpy (reqid, zmq_msg_data (&msg.frame[4]), len);
    *seq = atoi (reqid + 1);
    cJSON *reply = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
    CHECK (cJSON_IsObject (reply));
    pl_zmsg_close (&msg);
    return reply;
}

static cJSON *
s_call (int w, const char *uid, const char *event, const char *body)
{
    int want = s_send (w, uid, event, body), got = 0;
    cJSON *reply = s_reply (&got);
    CHECK (got == want);
    return reply;
}

/* The error code of a reply, "" on success. */
static const char *
s_code (const cJSON *reply)
{
    const cJSON *ok = cJSON_GetObjectItem (reply, "success");
    CHECK (cJSON_IsBool (ok));
    if (cJSON_IsTrue (ok))
        return "";
    const cJSON *code = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "code");
    CHECK (cJSON_IsString (code));
    return code->valuestring;
}

/* Call and expect success; returns a copy of data (or NULL). */
static cJSON *
s_ok (int w, const char *uid, const char *event, const char *body)
{
    cJSON *reply = s_call (w, uid, event, body);
    if (strcmp (s_code (reply), "") != 0)
        fprintf (stderr, "%s %s -> %s\n", event, body ? body : "", cJSON_PrintUnformatted (reply));
    CHECK (strcmp (s_code (reply), "") == 0);
    cJSON *data = cJSON_DetachItemFromObject (reply, "data");
    cJSON_Delete (reply);
    return data;
}

/* Call and expect the error code. */
static void
s_err (int w, const char *uid, const char *event, const char *body, const char *code)
{
    cJSON *reply = s_call (w, uid, event, body);
    if (strcmp (s_code (reply), code) != 0)
        fprintf (stderr, "%s %s -> %s, expected %s\n", event, body ? body : "",
                 cJSON_PrintUnformatted (reply), code);
    CHECK (strcmp (s_code (reply), code) == 0);
    if (s_env.verbose)
        printf ("  %s %s -> %s\n", event, body ? body : "(none)",
                cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "message")->valuestring);
    cJSON_Delete (reply);
}

/* Expect the next bus event: room, push name, origin, payload. */
static void
s_expect_event (const char *room, const char *push, const char *origin, const cJSON *payload)
{
    pl_zmsg_t msg;
    CHECK (s_next (NULL, &msg, 3000));
    CHECK (msg.count == 5);
    CHECK (zmq_msg_size (&msg.frame[0]) == strlen (room) + 1);
    CHECK (memcmp (zmq_msg_data (&msg.frame[0]), room, strlen (room) + 1) == 0);
    CHECK (pl_zmsg_is (&msg, 1, "PL01"));
    CHECK (pl_zmsg_is (&msg, 2, "EV"));
    CHECK (pl_zmsg_is (&msg, 3, origin));
    cJSON *packet = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[4]), zmq_msg_size (&msg.frame[4]));
    CHECK (cJSON_GetArraySize (packet) == 2);
    CHECK (strcmp (cJSON_GetArrayItem (packet, 0)->valuestring, push) == 0);
    CHECK (cJSON_Compare (cJSON_GetArrayItem (packet, 1), payload, true));
    cJSON_Delete (packet);
    pl_zmsg_close (&msg);
}

static const char *
s_str (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    CHECK (cJSON_IsString (item));
    return item->valuestring;
}

static double
s_num (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    CHECK (cJSON_IsNumber (item));
    return item->valuedouble;
}

/* ---- scenarios ------------------------------------------------------- */

static void
s_contract (void)
{
    char origin[32];
    /* create: server fields win over the client's, other fields are kept */
    cJSON *a = s_ok (0, "alice", "actor:create",
                     "{\"name\":\"Gandalf\",\"type\":\"npc\",\"hp\":10,\"tags\":[\"wizard\"],"
                     "\"id\":\"evil\",\"createdBy\":\"mallory\",\"version\":99,\"createdAt\":1}");
    snprintf (origin, sizeof origin, "gw-d/%d", s_env.seq);
    CHECK (pl_id_is_uuid (s_str (a, "id")));
    CHECK (strcmp (s_str (a, "createdBy"), "alice") == 0);
    CHECK (strcmp (s_str (a, "name"), "Gandalf") == 0);
    CHECK (s_num (a, "version") == 1);
    CHECK (s_num (a, "hp") == 10);
    CHECK (s_num (a, "createdAt") > 1577836800000.0);
    CHECK (s_num (a, "updatedAt") == s_num (a, "createdAt"));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (a, "tags")) == 1);
    s_expect_event ("user:alice", "actor:created", origin, a);
    char *id = strdup (s_str (a, "id"));
    char body[256];

    /* bad arguments */
    const char *bad_creates[] = {
        NULL, "\"x\"", "[]", "42", "null", "{\"type\":\"npc\"}", "{\"name\":\"\",\"type\":\"npc\"}",
        "{\"name\":7,\"type\":\"npc\"}", "{\"name\":\"n\"}", "{\"name\":\"n\",\"type\":3}",
    };
    for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++)
        s_err (0, "alice", "actor:create", bad_creates[i], "VALIDATION_ERROR");
    s_err (0, "alice", "actor:create", "{\"name\":", "VALIDATION_ERROR");   /* not JSON */
    s_err (0, "alice", "actor:get", NULL, "VALIDATION_ERROR");
    s_err (0, "alice", "actor:get", "17", "VALIDATION_ERROR");
    s_err (0, "alice", "actor:get", "\"\"", "VALIDATION_ERROR");
    s_err (0, "alice", "actor:delete", "{}", "VALIDATION_ERROR");
    s_err (0, "alice", "actor:update", "\"x\"", "VALIDATION_ERROR");
    s_err (0, "alice", "actor:update", "{\"name\":\"x\"}", "VALIDATION_ERROR");
    s_err (0, "alice", "actor:nope", NULL, "UNKNOWN_EVENT");

    /* get: the creator sees it, nobody else does */
    cJSON *got = s_ok (0, "alice", "actor:get", (snprintf (body, sizeof body, "\"%s\"", id), body));
    CHECK (cJSON_Compare (got, a, true));
    cJSON_Delete (got);
    s_err (0, "bob", "actor:get", body, "NOT_FOUND");
    s_err (0, "alice", "actor:get", "\"01234567-89ab-4def-8123-456789abcdef\"", "NOT_FOUND");

    /* update: shallow merge, version + 1, server fields kept */
    snprintf (body, sizeof body,
              "{\"id\":\"%s\",\"name\":\"Gandalf the White\",\"hp\":null,\"staff\":true,"
              "\"version\":50,\"createdBy\":\"bob\",\"createdAt\":5}", id);
    cJSON *u = s_ok (0, "alice", "actor:update", body);
    snprintf (origin, sizeof origin, "gw-d/%d", s_env.seq);
    CHECK (strcmp (s_str (u, "id"), id) == 0);
    CHECK (strcmp (s_str (u, "name"), "Gandalf the White") == 0);
    CHECK (strcmp (s_str (u, "type"), "npc") == 0);
    CHECK (strcmp (s_str (u, "createdBy"), "alice") == 0);
    CHECK (s_num (u, "version") == 2);
    CHECK (s_num (u, "createdAt") == s_num (a, "createdAt"));
    CHECK (s_num (u, "updatedAt") >= s_num (a, "updatedAt"));
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (u, "hp")));
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (u, "staff")));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (u, "tags")) == 1);
    s_expect_event ("user:alice", "actor:updated", origin, u);
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"\"}", id);
    s_err (0, "alice", "actor:update", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"type\":null}", id);
    s_err (0, "alice", "actor:update", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"id\":\"%s\",\"name\":\"Saruman\"}", id);
    s_err (0, "bob", "actor:update", body, "NOT_FOUND");
    snprintf (body, sizeof body, "\"%s\"", id);
    got = s_ok (0, "alice", "actor:get", body);          /* failed updates changed nothing */
    CHECK (cJSON_Compare (got, u, true));
    cJSON_Delete (got);

    /* list: creation order, even for creates within one millisecond */
    cJSON *ids = cJSON_CreateArray ();
    cJSON_AddItemToArray (ids, cJSON_CreateString (id));
    for (int i = 0; i < 5; i++) {
        snprintf (body, sizeof body, "{\"name\":\"n%d\",\"type\":\"pc\"}", i);
        cJSON *c = s_ok (i % 2, "alice", "actor:create", body);
        cJSON_AddItemToArray (ids, cJSON_CreateString (s_str (c, "id")));
        cJSON_Delete (c);
    }
    cJSON *list = s_ok (0, "alice", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 6);
    double last = 0;
    for (int i = 0; i < 6; i++) {
        cJSON *item = cJSON_GetArrayItem (list, i);
        CHECK (strcmp (s_str (item, "id"), cJSON_GetArrayItem (ids, i)->valuestring) == 0);
        CHECK (s_num (item, "createdAt") > last);
        last = s_num (item, "createdAt");
    }
    CHECK (cJSON_Compare (cJSON_GetArrayItem (list, 0), u, true));
    cJSON_Delete (list);
    list = s_ok (1, "bob", "actor:list", "{}");
    CHECK (cJSON_IsArray (list) && cJSON_GetArraySize (list) == 0);
    cJSON_Delete (list);

    /* the five creates' events come from two PUBs, in no fixed order
     * between them: read them all before the delete */
    for (int i = 0; i < 5; i++) {
        pl_zmsg_t msg;
        CHECK (s_next (NULL, &msg, 3000));
        pl_zmsg_close (&msg);
    }

    /* delete: only the creator; then it is gone */
    snprintf (body, sizeof body, "\"%s\"", id);
    s_err (0, "bob", "actor:delete", body, "NOT_FOUND");
    cJSON *reply = s_call (0, "alice", "actor:delete", body);
    snprintf (origin, sizeof origin, "gw-d/%d", s_env.seq);
    CHECK (strcmp (s_code (reply), "") == 0 && !cJSON_GetObjectItem (reply, "data"));
    cJSON_Delete (reply);
    cJSON *gone = cJSON_CreateString (id);
    s_expect_event ("user:alice", "actor:deleted", origin, gone);
    s_err (0, "alice", "actor:get", body, "NOT_FOUND");
    s_err (0, "alice", "actor:delete", body, "NOT_FOUND");
    list = s_ok (0, "alice", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 5);
    cJSON_Delete (list);
    cJSON_Delete (gone);
    cJSON_Delete (ids);
    cJSON_Delete (a);
    cJSON_Delete (u);
    free (id);
}

/* Two workers update one actor concurrently: no update may be lost. */
static void
s_races (void)
{
    cJSON *a = s_ok (0, "carol", "actor:create", "{\"name\":\"race\",\"type\":\"npc\"}");
    char body[200];
    int n = 40, ok = 0, busy = 0;
    for (int i = 0; i < n; i++) {
        snprintf (body, sizeof body, "{\"id\":\"%s\",\"n\":%d}", s_str (a, "id"), i);
        s_send (i % 2, "carol", "actor:update", body);
    }
    for (int i = 0; i < n; i++) {
        int seq;
        cJSON *reply = s_reply (&seq);
        if (strcmp (s_code (reply), "") == 0)
            ok++;
        else {
            CHECK (strcmp (s_code (reply), "INTERNAL") == 0);     /* gave up retrying */
            busy++;
        }
        cJSON_Delete (reply);
    }
    snprintf (body, sizeof body, "\"%s\"", s_str (a, "id"));
    cJSON *final = s_ok (0, "carol", "actor:get", body);
    if (s_env.verbose)
        printf ("  races: %d updates ok, %d gave up, version %g\n", ok, busy, s_num (final, "version"));
    CHECK (ok > 0);
    CHECK (s_num (final, "version") == 1 + ok);
    cJSON_Delete (final);
    cJSON_Delete (a);

    /* concurrent creates from both workers: all listed, in createdAt order */
    for (int i = 0; i < 20; i++)
        s_send (i % 2, "dave", "actor:create", "{\"name\":\"c\",\"type\":\"t\"}");
    for (int i = 0; i < 20; i++) {
        int seq;
        cJSON *reply = s_reply (&seq);
        CHECK (strcmp (s_code (reply), "") == 0);
        cJSON_Delete (reply);
    }
    cJSON *list = s_ok (1, "dave", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 20);
    for (int i = 1; i < 20; i++)
        CHECK (s_num (cJSON_GetArrayItem (list, i), "createdAt")
               > s_num (cJSON_GetArrayItem (list, i - 1), "createdAt"));
    cJSON_Delete (list);
    /* drain the bus of the creates and updates */
    pl_zmsg_t msg;
    while (s_next (NULL, &msg, 200))
        pl_zmsg_close (&msg);
}

/* Redis goes away: INTERNAL, the worker stays up; Redis is back: it works. */
static void
s_outage (void)
{
    s_redis_stop ();
    cJSON *reply = s_call (0, "erin", "actor:list", NULL);
    CHECK (strcmp (s_code (reply), "INTERNAL") == 0);
    cJSON_Delete (reply);
    s_err (1, "erin", "actor:create", "{\"name\":\"x\",\"type\":\"y\"}", "INTERNAL");
    s_redis_start ();
    int64_t start = pl_id_mono_ms ();
    cJSON *a = s_ok (0, "erin", "actor:create", "{\"name\":\"back\",\"type\":\"y\"}");
    cJSON_Delete (a);
    cJSON *list = s_ok (1, "erin", "actor:list", NULL);
    CHECK (cJSON_GetArraySize (list) == 1);
    cJSON_Delete (list);
    if (s_env.verbose)
        printf ("  outage: recovered %lld ms after Redis came back\n",
                (long long) (pl_id_mono_ms () - start));
    pl_zmsg_t msg;
    while (s_next (NULL, &msg, 100))
        pl_zmsg_close (&msg);
}

/* The broker restarts, after down_ms: a new ROUTER that does not know the
 * workers answers their first message BYE, and they register again - or,
 * when it was down past their liveness window, they have new sockets that
 * send READY as soon as they connect. Either way exactly once each. */
static void
s_broker_restart (int down_ms)
{
    zmq_close (s_env.router);
    if (down_ms > 0)
        zmq_poll (NULL, 0, down_ms);    /* a timer: the broker is down */
    s_env.router = zmq_socket (s_env.zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt (s_env.router, ZMQ_LINGER, &zero, sizeof zero);
    CHECK (zmq_bind (s_env.router, s_env.backend) == 0);
    memset (s_env.id_len, 0, sizeof s_env.id_len);
    int64_t start = pl_id_mono_ms ();
    int registered = 0;
    while (registered < S_WORKERS && pl_id_mono_ms () - start < 5000) {
        pl_zmsg_t msg;
        if (pl_zmsg_recv (s_env.router, &msg) == 0) {
            CHECK (msg.count >= 3);
            if (pl_zmsg_is (&msg, 2, "READY")) {
                CHECK (pl_zmsg_is (&msg, 3, "actors"));
                s_env.id_len[registered] = zmq_msg_size (&msg.frame[0]);
                memcpy (s_env.id[registered], zmq_msg_data (&msg.frame[0]), s_env.id_len[registered]);
                registered++;
            }
            else {
                pl_zmsg_part_t bye[] = {
                    { zmq_msg_data (&msg.frame[0]), zmq_msg_size (&msg.frame[0]) },
                    { "PL01", 4 }, { "BYE", 3 } };
                pl_zmsg_send (s_env.router, bye, 3);
            }
            pl_zmsg_close (&msg);
        }
        else {
            zmq_pollitem_t item = { s_env.router, 0, ZMQ_POLLIN, 0 };
            zmq_poll (&item, 1, 100);
        }
    }
    CHECK (registered == S_WORKERS);
    if (s_env.verbose)
        printf ("  broker restart after %d ms: both workers registered again in %lld ms\n",
                down_ms, (long long) (pl_id_mono_ms () - start));
    pl_zmsg_t msg;
    CHECK (!s_next ("READY", &msg, 1000));      /* no second registration */
    for (int w = 0; w < S_WORKERS; w++) {
        cJSON *list = s_ok (w, "erin", "actor:list", NULL);
        CHECK (cJSON_GetArraySize (list) == 1);
        cJSON_Delete (list);
    }
}

/* SIGTERM: the worker says BYE and exits 0. */
static void
s_stop_workers (void)
{
    for (int w = 0; w < S_WORKERS; w++) {
        kill (s_env.worker[w], SIGTERM);
        pl_zmsg_t msg;
        CHECK (s_next ("BYE", &msg, 3000));
        pl_zmsg_close (&msg);
        int status;
        CHECK (waitpid (s_env.worker[w], &status, 0) == s_env.worker[w]);
        s_env.worker[w] = 0;
        CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-actors-check /path/to/parley-actors [-v]\n");
        return 2;
    }
    s_env.actors_bin = argv[1];
    s_env.verbose = argc > 2 && strcmp (argv[2], "-v") == 0;
    signal (SIGPIPE, SIG_IGN);
    snprintf (s_env.dir, sizeof s_env.dir, "/tmp/pl-actors-XXXXXX");
    CHECK (mkdtemp (s_env.dir));
    snprintf (s_env.redis_sock, sizeof s_env.redis_sock, "%s/redis.sock", s_env.dir);
    snprintf (s_env.backend, sizeof s_env.backend, "ipc://%s/backend.ipc", s_env.dir);
    snprintf (s_env.events, sizeof s_env.events, "ipc://%s/events.ipc", s_env.dir);

    s_env.zctx = zmq_ctx_new ();
    s_env.router = zmq_socket (s_env.zctx, ZMQ_ROUTER);
    s_env.sub = zmq_socket (s_env.zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt (s_env.router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (s_env.sub, ZMQ_LINGER, &zero, sizeof zero);
    CHECK (zmq_bind (s_env.router, s_env.backend) == 0);
    CHECK (zmq_bind (s_env.sub, s_env.events) == 0);
    CHECK (zmq_setsockopt (s_env.sub, ZMQ_SUBSCRIBE, "", 0) == 0);

    s_redis_start ();
    for (int w = 0; w < S_WORKERS; w++) {
        s_worker_start (w);
        s_expect_ready (w);
    }
    /* a PUB sends nothing until it has our subscription: let both workers
     * publish probes until each has been heard on the bus */
    for (int w = 0; w < S_WORKERS; w++) {
        bool heard = false;
        for (int i = 0; i < 50 && !heard; i++) {
            cJSON *a = s_ok (w, "probe", "actor:create", "{\"name\":\"p\",\"type\":\"p\"}");
            cJSON_Delete (a);
            pl_zmsg_t msg;
            heard = s_next (NULL, &msg, 50);
            if (heard)
                pl_zmsg_close (&msg);
        }
        CHECK (heard);
    }
    pl_zmsg_t msg;
    while (s_next (NULL, &msg, 100))
        pl_zmsg_close (&msg);

    printf ("actors_check: contract\n");
    s_contract ();
    printf ("actors_check: races\n");
    s_races ();
    printf ("actors_check: redis outage\n");
    s_outage ();
    printf ("actors_check: broker restart\n");
    s_broker_restart (0);
    s_broker_restart (1000);                    /* > liveness, 600 ms */
    printf ("actors_check: SIGTERM\n");
    s_stop_workers ();

    zmq_close (s_env.router);
    zmq_close (s_env.sub);
    zmq_ctx_term (s_env.zctx);
    s_cleanup ();
    printf ("actors_check: OK\n");
    return 0;
}
