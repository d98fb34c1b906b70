/*  wcheck - the broker-playing harness of the worker checks. See wcheck.h. */
#include "wcheck.h"
#include "pl_id.h"
#include "pl_proto.h"
#include "pl_zmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    const char *name;                   /* check name, for messages        */
    char dir[64];                       /* private temp dir                */
    char redis_sock[128];               /* redis unix socket               */
    char backend[128];                  /* ipc: fake broker backend        */
    char events[128];                   /* ipc: fake event proxy           */
    bool verbose;
    pid_t redis;                        /* redis-server, or 0              */
    redisContext *rc;                   /* our own Redis connection        */
    int workers;                        /* started so far                  */
    pid_t worker[WCHECK_WORKERS_MAX];   /* worker processes, or 0          */
    const char *service[WCHECK_WORKERS_MAX];
    void *zctx;
    void *router;                       /* fake broker backend             */
    void *sub;                          /* fake event proxy                */
    char id[WCHECK_WORKERS_MAX][256];   /* identity of each worker's READY */
    size_t id_len[WCHECK_WORKERS_MAX];
    int seq;                            /* request ids                     */
    char origin[160];                   /* of the last request             */
    int heartbeats;                     /* HBs heard from the workers      */
} s_env_t;

static s_env_t s_env;
int wcheck_line;

/* wcheck.c defines the functions the macros of wcheck.h wrap */
#undef wcheck_ok
#undef wcheck_ok_as
#undef wcheck_err
#undef wcheck_err_as
#undef wcheck_error
#undef wcheck_event
#undef wcheck_event_text
#undef wcheck_control
#undef wcheck_quiet
#undef wcheck_replies_ok

static void
s_cleanup (void)
{
    if (s_env.rc)
        redisFree (s_env.rc);
    s_env.rc = NULL;
    for (int i = 0; i < WCHECK_WORKERS_MAX; i++)
        if (s_env.worker[i] > 0) {
            kill (s_env.worker[i], SIGKILL);
            waitpid (s_env.worker[i], NULL, 0);
            s_env.worker[i] = 0;
        }
    if (s_env.redis > 0) {
        kill (s_env.redis, SIGKILL);
        waitpid (s_env.redis, NULL, 0);
        s_env.redis = 0;
    }
    char cmd[160];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_env.dir);
    if (*s_env.dir && system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", s_env.dir);
}

void
wcheck_fail (int line, const char *what)
{
    fprintf (stderr, "%s: FAILED at line %d: %s (last helper called from check line %d)\n",
             s_env.name, line, what, wcheck_line);
    for (int i = 0; i < s_env.workers; i++) {
        char cmd[200];
        snprintf (cmd, sizeof cmd, "echo '--- worker %d log:'; tail -n 30 '%s/worker-%d.log'",
                  i, s_env.dir, i);
        if (system (cmd) != 0)
            fprintf (stderr, "(no log)\n");
    }
    s_cleanup ();
    exit (1);
}

bool
wcheck_verbose (void)
{
    return s_env.verbose;
}

/* ---- the fake broker ------------------------------------------------- */

/* Next message from a worker whose command is cmd (answering heartbeats
 * and dropping every other worker message meanwhile), or (cmd NULL) the
 * next bus message. False on timeout. The bus is polled only when it is
 * read, so a backlog of events never turns a wait for a reply into a busy
 * loop. */
static bool
s_next (const char *cmd, pl_zmsg_t *msg, int timeout_ms)
{
    int64_t deadline = pl_id_mono_ms () + timeout_ms;
    while (true) {
        while (pl_zmsg_recv (s_env.router, msg) == 0) {
            CHECK (msg->count >= 3 && pl_zmsg_is (msg, 1, "PL01"));
            if (pl_zmsg_is (msg, 2, "HB")) {
                s_env.heartbeats++;
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
        zmq_pollitem_t items[] = { { s_env.router, 0, ZMQ_POLLIN, 0 },
                                   { s_env.sub, 0, cmd ? 0 : ZMQ_POLLIN, 0 } };
        zmq_poll (items, 2, (long) left);
    }
}

void
wcheck_pause (int ms)
{
    pl_zmsg_t msg;
    CHECK (!s_next ("-never-", &msg, ms));
}

/* ---- processes ------------------------------------------------------- */

/* Start redis-server and wait (on its stdout) until it accepts connections. */
void
wcheck_redis_start (void)
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
    struct timeval tv = { 5, 0 };
    s_env.rc = redisConnectUnixWithTimeout (s_env.redis_sock, tv);
    CHECK (s_env.rc && !s_env.rc->err);
}

/* The server gone by signal sig (SIGTERM: stopped; SIGKILL: no goodbye). */
static void
s_redis_end (int sig)
{
    redisFree (s_env.rc);
    s_env.rc = NULL;
    kill (s_env.redis, sig);
    int status;
    CHECK (waitpid (s_env.redis, &status, 0) == s_env.redis);
    s_env.redis = 0;
}

void wcheck_redis_stop (void) { s_redis_end (SIGTERM); }
void wcheck_redis_kill (void) { s_redis_end (SIGKILL); }

pid_t
wcheck_redis_pid (void)
{
    CHECK (s_env.redis > 0);
    return s_env.redis;
}

int
wcheck_heartbeats (void)
{
    return s_env.heartbeats;
}

redisReply *
wcheck_redis (const char *fmt, ...)
{
    CHECK (s_env.rc);
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = redisvCommand (s_env.rc, fmt, ap);
    va_end (ap);
    CHECK (reply && reply->type != REDIS_REPLY_ERROR);
    return reply;
}

void
wcheck_member (const char *campaign, const char *user, const char *role)
{
    redisReply *r = role ? wcheck_redis ("HSET pl:campaign:%s:members %s %s", campaign, user, role)
                         : wcheck_redis ("HDEL pl:campaign:%s:members %s", campaign, user);
    freeReplyObject (r);
}

void
wcheck_init (const char *name, bool verbose)
{
    s_env.name = name;
    s_env.verbose = verbose;
    signal (SIGPIPE, SIG_IGN);
    snprintf (s_env.dir, sizeof s_env.dir, "/tmp/pl-wcheck-XXXXXX");
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
    wcheck_redis_start ();
}

void
wcheck_worker (int index, const char *bin, const char *service, const char *const *env)
{
    CHECK (index == s_env.workers && index < WCHECK_WORKERS_MAX);
    const char *credit = "16";          /* what READY must announce */
    for (int i = 0; env && env[i]; i++)
        if (strncmp (env[i], "PARLEY_WORKER_CREDIT=", 21) == 0)
            credit = env[i] + 21;
    char url[160], log[128];
    snprintf (url, sizeof url, "unix://%s", s_env.redis_sock);
    snprintf (log, sizeof log, "%s/worker-%d.log", s_env.dir, index);
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
        char hb[16], liveness[16];
        snprintf (hb, sizeof hb, "%d", WCHECK_HEARTBEAT_MS);
        snprintf (liveness, sizeof liveness, "%d", WCHECK_LIVENESS);
        setenv ("PARLEY_HEARTBEAT_MS", hb, 1);
        setenv ("PARLEY_HEARTBEAT_LIVENESS", liveness, 1);
        setenv ("PARLEY_WORKER_CREDIT", "16", 1);
        setenv ("PARLEY_LOG_LEVEL", "info", 1);
        for (int i = 0; env && env[i]; i++)
            putenv ((char *) env[i]);           /* the child execs at once */
        execl (bin, bin, (char *) NULL);
        _exit (127);
    }
    s_env.worker[index] = pid;
    s_env.service[index] = service;
    s_env.workers++;
    pl_zmsg_t msg;
    CHECK (s_next ("READY", &msg, 5000));
    CHECK (msg.count == 5);
    CHECK (pl_zmsg_is (&msg, 3, service));
    CHECK (pl_zmsg_is (&msg, 4, credit));
    s_env.id_len[index] = zmq_msg_size (&msg.frame[0]);
    CHECK (s_env.id_len[index] <= sizeof s_env.id[index]);
    memcpy (s_env.id[index], zmq_msg_data (&msg.frame[0]), s_env.id_len[index]);
    pl_zmsg_close (&msg);
}

pid_t
wcheck_worker_pid (int index)
{
    CHECK (index >= 0 && index < s_env.workers);
    return s_env.worker[index];
}

/* Call event/body on worker index until an event is heard, at most max
 * times: as who, or (who NULL) as the users probe0, probe1 ... (one user
 * each: no limit hit). CHECKs that one was heard; returns the calls made. */
static int
s_probe_heard (int index, const wcheck_who_t *who, const char *event, const char *body, int max)
{
    bool heard = false;
    int i = 0;
    for (; i < max && !heard; i++) {
        char uid[16];
        snprintf (uid, sizeof uid, "probe%d", i);
        cJSON *data = who ? wcheck_ok_as (index, who, event, body) : wcheck_ok (index, uid, event, body);
        cJSON_Delete (data);
        wcheck_bus_t bus;
        heard = wcheck_bus_next (&bus, 50);
        if (heard)
            wcheck_bus_clear (&bus);
    }
    CHECK (heard);
    return i;
}

void
wcheck_probe (int index, const char *event, const char *body)
{
    int i = s_probe_heard (index, NULL, event, body, WCHECK_PROBES - 1);
    /* The events of earlier probes may still be on their way: a 50 ms wait
     * that heard nothing proves nothing on a busy box, and a drain until a
     * quiet gap neither. So one probe more, and everything is dropped up
     * to its own event, known by its origin (this request's connection).
     * One worker's events reach us in the order it sent them, so none of
     * its probes' comes after that. */
    char uid[16], origin[sizeof s_env.origin];
    snprintf (uid, sizeof uid, "probe%d", i);
    cJSON_Delete (wcheck_ok (index, uid, event, body));
    snprintf (origin, sizeof origin, "%s", s_env.origin);
    bool last = false;
    while (!last) {
        wcheck_bus_t bus;
        CHECK (wcheck_bus_next (&bus, 3000));
        last = strcmp (bus.origin, origin) == 0;
        wcheck_bus_clear (&bus);
    }
}

void
wcheck_probe_as (int index, const wcheck_who_t *who, const char *event, const char *body)
{
    s_probe_heard (index, who, event, body, 50);
    wcheck_drain (100);
}

void
wcheck_stop_workers (void)
{
    for (int w = 0; w < s_env.workers; w++) {
        if (!s_env.worker[w])
            continue;
        kill (s_env.worker[w], SIGTERM);
        pl_zmsg_t msg;
        CHECK (s_next ("BYE", &msg, 3000));
        pl_zmsg_close (&msg);
        /* its exit, polled on a timer so a hung worker fails the check */
        int status = 0;
        pid_t got = 0;
        for (int t = 0; t < 50 && got == 0; t++) {
            got = waitpid (s_env.worker[w], &status, WNOHANG);
            if (got == 0)
                wcheck_pause (100);
        }
        CHECK (got == s_env.worker[w]);
        s_env.worker[w] = 0;
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
            fprintf (stderr, "worker %d exit status %d\n", w, status);
        CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
}

void
wcheck_done (void)
{
    wcheck_stop_workers ();
    zmq_close (s_env.router);
    zmq_close (s_env.sub);
    zmq_ctx_term (s_env.zctx);
    s_cleanup ();
    printf ("%s: OK\n", s_env.name);
}

/* ---- requests -------------------------------------------------------- */

/* The events whose successful reply may carry join/leave directives (the
 * handlers that call pl_call_join or pl_call_leave). Their request ids
 * start with 'j', the others' with 'q', so a reply says which it was. */
static const char *s_directive_events[] = {
    "subscribe", "unsubscribe", "gameSession:join", "gameSession:leave",
};

static bool
s_may_direct (const char *event)
{
    for (size_t i = 0; i < sizeof s_directive_events / sizeof s_directive_events[0]; i++)
        if (strcmp (event, s_directive_events[i]) == 0)
            return true;
    return false;
}

int
wcheck_send_as (int w, const wcheck_who_t *who, const char *event, const char *body)
{
    char reqid[16];
    int seq = ++s_env.seq;
    CHECK (w >= 0 && w < s_env.workers);
    snprintf (reqid, sizeof reqid, "%c%d", s_may_direct (event) ? 'j' : 'q', seq);
    snprintf (s_env.origin, sizeof s_env.origin, "%s/%s", who->gw, who->conn);
    char *ctx = pl_proto_ctx_encode (who->gw, who->conn, who->uid, who->name);
    pl_zmsg_part_t parts[] = {
        { s_env.id[w], s_env.id_len[w] }, { "PL01", 4 }, { "REQ", 3 }, { "client", 6 },
        { reqid, strlen (reqid) }, { event, strlen (event) }, { ctx, strlen (ctx) },
        { body ? body : "", body ? strlen (body) : 0 },
    };
    CHECK (pl_zmsg_send (s_env.router, parts, 8) == 0);
    free (ctx);
    return seq;
}

/* uid on a new connection of gw-d, numbered as the request it sends: conn
 * holds the number (16 bytes). */
static wcheck_who_t
s_who (const char *uid, char *conn)
{
    snprintf (conn, 16, "%d", s_env.seq + 1);
    return (wcheck_who_t) { "gw-d", conn, uid, NULL };
}

int
wcheck_send (int w, const char *uid, const char *event, const char *body)
{
    char conn[16];
    wcheck_who_t who = s_who (uid, conn);
    return wcheck_send_as (w, &who, event, body);
}

const char *
wcheck_origin (void)
{
    return s_env.origin;
}

cJSON *
wcheck_reply (int *seq, cJSON **directives)
{
    pl_zmsg_t msg;
    CHECK (s_next ("REP", &msg, 5000));
    CHECK ((msg.count == 6 || msg.count == 7) && pl_zmsg_is (&msg, 3, "client"));
    char reqid[16] = "";
    size_t len = zmq_msg_size (&msg.frame[4]);
    CHECK (len > 1 && len < sizeof reqid);
    memcpy (reqid, zmq_msg_data (&msg.frame[4]), len);
    *seq = atoi (reqid + 1);
    cJSON *reply = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
    CHECK (cJSON_IsObject (reply));
    cJSON *dirs = NULL;
    if (msg.count == 7) {
        if (reqid[0] != 'j')
            fprintf (stderr, "reply %s carries directives: %.*s\n", reqid,
                     (int) zmq_msg_size (&msg.frame[6]), (char *) zmq_msg_data (&msg.frame[6]));
        CHECK (reqid[0] == 'j');
        CHECK (cJSON_IsTrue (cJSON_GetObjectItem (reply, "success")));
        dirs = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[6]), zmq_msg_size (&msg.frame[6]));
        CHECK (cJSON_IsObject (dirs));
    }
    if (directives)
        *directives = dirs;
    else
        cJSON_Delete (dirs);
    pl_zmsg_close (&msg);
    return reply;
}

cJSON *
wcheck_call_as (int w, const wcheck_who_t *who, const char *event, const char *body,
                cJSON **directives)
{
    int want = wcheck_send_as (w, who, event, body), got = 0;
    cJSON *reply = wcheck_reply (&got, directives);
    CHECK (got == want);
    return reply;
}

cJSON *
wcheck_call (int w, const char *uid, const char *event, const char *body)
{
    char conn[16];
    wcheck_who_t who = s_who (uid, conn);
    return wcheck_call_as (w, &who, event, body, NULL);
}

const char *
wcheck_code (const cJSON *reply)
{
    const cJSON *ok = cJSON_GetObjectItem (reply, "success");
    CHECK (cJSON_IsBool (ok));
    if (cJSON_IsTrue (ok))
        return "";
    const cJSON *code = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "code");
    CHECK (cJSON_IsString (code));
    return code->valuestring;
}

void
wcheck_replies_ok (int n)
{
    for (int i = 0; i < n; i++) {
        int seq;
        cJSON *reply = wcheck_reply (&seq, NULL);
        CHECK (strcmp (wcheck_code (reply), "") == 0);
        cJSON_Delete (reply);
    }
}

cJSON *
wcheck_ok_as (int w, const wcheck_who_t *who, const char *event, const char *body)
{
    cJSON *reply = wcheck_call_as (w, who, event, body, NULL);
    if (strcmp (wcheck_code (reply), "") != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "%s %s %s -> %s\n", who->uid, event, body ? body : "", text);
        free (text);
    }
    CHECK (strcmp (wcheck_code (reply), "") == 0);
    cJSON *data = cJSON_DetachItemFromObject (reply, "data");
    cJSON_Delete (reply);
    return data;
}

cJSON *
wcheck_ok (int w, const char *uid, const char *event, const char *body)
{
    char conn[16];
    wcheck_who_t who = s_who (uid, conn);
    return wcheck_ok_as (w, &who, event, body);
}

static cJSON *
s_error (int w, const wcheck_who_t *who, const char *event, const char *body, const char *code)
{
    cJSON *reply = wcheck_call_as (w, who, event, body, NULL);
    if (strcmp (wcheck_code (reply), code) != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "%s %s %s -> %s, expected %s\n", who->uid, event, body ? body : "",
                 text, code);
        free (text);
    }
    CHECK (strcmp (wcheck_code (reply), code) == 0);
    cJSON *error = cJSON_DetachItemFromObject (reply, "error");
    if (s_env.verbose)
        printf ("  %s %s %s -> %s %s\n", who->uid, event, body ? body : "(none)", code,
                cJSON_GetObjectItem (error, "message")->valuestring);
    cJSON_Delete (reply);
    return error;
}

void
wcheck_err_as (int w, const wcheck_who_t *who, const char *event, const char *body,
               const char *code)
{
    cJSON_Delete (s_error (w, who, event, body, code));
}

void
wcheck_err (int w, const char *uid, const char *event, const char *body, const char *code)
{
    char conn[16];
    wcheck_who_t who = s_who (uid, conn);
    cJSON_Delete (s_error (w, &who, event, body, code));
}

cJSON *
wcheck_error (int w, const char *uid, const char *event, const char *body, const char *code)
{
    char conn[16];
    wcheck_who_t who = s_who (uid, conn);
    return s_error (w, &who, event, body, code);
}

const char *
wcheck_quote (const char *text)
{
    static char buf[256];
    CHECK (strlen (text) + 3 <= sizeof buf);
    snprintf (buf, sizeof buf, "\"%s\"", text);
    return buf;
}

/* ---- the bus --------------------------------------------------------- */

/* Copy frame index as text into buf; it must fit. */
static void
s_frame_text (pl_zmsg_t *msg, int index, char *buf, size_t size)
{
    size_t len = zmq_msg_size (&msg->frame[index]);
    CHECK (len < size);
    memcpy (buf, zmq_msg_data (&msg->frame[index]), len);
    buf[len] = 0;
}

bool
wcheck_bus_next (wcheck_bus_t *bus, int timeout_ms)
{
    pl_zmsg_t msg;
    memset (bus, 0, sizeof *bus);
    if (!s_next (NULL, &msg, timeout_ms))
        return false;
    /* an EV always has its except (empty for none) and publish time */
    CHECK ((msg.count == 7 && pl_zmsg_is (&msg, 2, "EV"))
        || (msg.count == 5 && pl_zmsg_is (&msg, 2, "CTL")));
    bus->frames = msg.count;
    /* the topic is the room and one NUL, so no room is a prefix of another */
    size_t tlen = zmq_msg_size (&msg.frame[0]);
    const char *topic = zmq_msg_data (&msg.frame[0]);
    CHECK (tlen >= 1 && topic[tlen - 1] == 0 && strlen (topic) == tlen - 1);
    s_frame_text (&msg, 0, bus->room, sizeof bus->room);
    CHECK (pl_zmsg_is (&msg, 1, "PL01"));
    s_frame_text (&msg, 2, bus->kind, sizeof bus->kind);
    s_frame_text (&msg, 3, bus->origin, sizeof bus->origin);
    bus->packet = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[4]), zmq_msg_size (&msg.frame[4]));
    CHECK (bus->packet);
    if (msg.count == 7) {
        bus->published_us = pl_proto_ts_parse (zmq_msg_data (&msg.frame[6]),
                                               zmq_msg_size (&msg.frame[6]), pl_id_wall_us ());
        CHECK (bus->published_us >= 0);
    }
    if (msg.count == 7 && zmq_msg_size (&msg.frame[5]) > 0) {
        bus->except_text = strndup (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
        bus->except = cJSON_Parse (bus->except_text);
        CHECK (cJSON_IsArray (bus->except));
    }
    pl_zmsg_close (&msg);
    if (s_env.verbose) {
        char *p = cJSON_PrintUnformatted (bus->packet);
        printf ("    bus: %s %s origin '%s' %s%s%s\n", bus->room, bus->kind, bus->origin, p,
                bus->except_text ? " except " : "", bus->except_text ? bus->except_text : "");
        free (p);
    }
    return true;
}

void
wcheck_bus_clear (wcheck_bus_t *bus)
{
    cJSON_Delete (bus->packet);
    cJSON_Delete (bus->except);
    free (bus->except_text);
    memset (bus, 0, sizeof *bus);
}

void
wcheck_event (const char *room, const char *push, const char *origin, const cJSON *payload,
              const char *except)
{
    wcheck_bus_t bus;
    CHECK (wcheck_bus_next (&bus, 3000));
    const cJSON *name = cJSON_GetArrayItem (bus.packet, 0);
    bool ok = strcmp (bus.room, room) == 0 && strcmp (bus.kind, "EV") == 0
           && strcmp (bus.origin, origin) == 0
           && cJSON_GetArraySize (bus.packet) == 2
           && cJSON_IsString (name) && strcmp (name->valuestring, push) == 0
           && (!payload || cJSON_Compare (cJSON_GetArrayItem (bus.packet, 1), payload, true))
           && (except ? bus.except_text != NULL : bus.except_text == NULL)
           && (!except || strcmp (bus.except_text, except) == 0);
    if (!ok) {
        char *p = cJSON_PrintUnformatted (bus.packet);
        char *w = payload ? cJSON_PrintUnformatted (payload) : NULL;
        fprintf (stderr, "bus: got %s %s origin '%s' %s except %s\n"
                         "     want %s EV origin '%s' [\"%s\",%s] except %s\n",
                 bus.room, bus.kind, bus.origin, p, bus.except_text ? bus.except_text : "-",
                 room, origin, push, w ? w : "?", except ? except : "-");
        free (p);
        free (w);
    }
    CHECK (ok);
    wcheck_bus_clear (&bus);
}

void
wcheck_event_text (const char *room, const char *push, const char *origin,
                   const char *payload, const char *except)
{
    cJSON *p = payload ? cJSON_Parse (payload) : NULL;
    CHECK (p || !payload);
    wcheck_event (room, push, origin, p, except);
    cJSON_Delete (p);
}

void
wcheck_control (const char *audience, const char *room)
{
    wcheck_bus_t bus;
    CHECK (wcheck_bus_next (&bus, 3000));
    char want[512];
    snprintf (want, sizeof want, "{\"leave\":[\"%s\"]}", room);
    cJSON *w = cJSON_Parse (want);
    bool ok = strcmp (bus.room, audience) == 0 && strcmp (bus.kind, "CTL") == 0
           && bus.frames == 5 && *bus.origin == 0 && cJSON_Compare (bus.packet, w, true);
    if (!ok) {
        char *p = cJSON_PrintUnformatted (bus.packet);
        fprintf (stderr, "bus: got %s %s %s, want %s CTL %s\n", bus.room, bus.kind, p,
                 audience, want);
        free (p);
    }
    cJSON_Delete (w);
    CHECK (ok);
    wcheck_bus_clear (&bus);
}

void
wcheck_quiet (int ms)
{
    wcheck_bus_t bus;
    bool got = wcheck_bus_next (&bus, ms);
    if (got) {
        char *p = cJSON_PrintUnformatted (bus.packet);
        fprintf (stderr, "bus: unexpected %s %s %s\n", bus.room, bus.kind, p);
        free (p);
        wcheck_bus_clear (&bus);
    }
    CHECK (!got);
}

void
wcheck_drain (int ms)
{
    wcheck_bus_t bus;
    while (wcheck_bus_next (&bus, ms))
        wcheck_bus_clear (&bus);
}

/* ---- the broker ------------------------------------------------------ */

/* A new ROUTER that does not know the workers answers their first message
 * BYE, and they register again - or, when it was down past their
 * liveness window, they have new sockets that send READY as soon as they
 * connect. Either way exactly once each.
 *
 * Like the broker, it tells BYE only to a worker it does not know: one
 * that has registered again is answered as usual while the others take
 * their time. (Told BYE for the heartbeat its new socket sends a beat
 * after READY, a worker registered a second time whenever another was
 * slower than that, as on a busy box.) */
void
wcheck_broker_restart (int down_ms)
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
    while (registered < s_env.workers && pl_id_mono_ms () - start < 5000) {
        pl_zmsg_t msg;
        if (pl_zmsg_recv (s_env.router, &msg) == 0) {
            CHECK (msg.count >= 3);
            if (pl_zmsg_is (&msg, 2, "READY")) {
                /* the first free slot of its service takes the identity */
                int slot = 0;
                while (slot < s_env.workers
                    && (s_env.id_len[slot] || !pl_zmsg_is (&msg, 3, s_env.service[slot])))
                    slot++;
                CHECK (slot < s_env.workers);
                s_env.id_len[slot] = zmq_msg_size (&msg.frame[0]);
                memcpy (s_env.id[slot], zmq_msg_data (&msg.frame[0]), s_env.id_len[slot]);
                registered++;
            }
            else {
                bool known = false;
                for (int w = 0; w < s_env.workers && !known; w++)
                    known = s_env.id_len[w] == zmq_msg_size (&msg.frame[0])
                         && memcmp (s_env.id[w], zmq_msg_data (&msg.frame[0]),
                                    s_env.id_len[w]) == 0;
                const char *answer = known ? "HB" : "BYE";
                pl_zmsg_part_t reply[] = {
                    { zmq_msg_data (&msg.frame[0]), zmq_msg_size (&msg.frame[0]) },
                    { "PL01", 4 }, { answer, strlen (answer) } };
                if (!known || pl_zmsg_is (&msg, 2, "HB"))
                    pl_zmsg_send (s_env.router, reply, 3);
            }
            pl_zmsg_close (&msg);
        }
        else {
            zmq_pollitem_t item = { s_env.router, 0, ZMQ_POLLIN, 0 };
            zmq_poll (&item, 1, 100);
        }
    }
    CHECK (registered == s_env.workers);
    if (s_env.verbose)
        printf ("  broker restart after %d ms: all workers registered again in %lld ms\n",
                down_ms, (long long) (pl_id_mono_ms () - start));
    pl_zmsg_t msg;
    CHECK (!s_next ("READY", &msg, 1000));      /* no second registration */
}

/* ---- fields ---------------------------------------------------------- */

const char *
wcheck_str (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    CHECK (cJSON_IsString (item));
    return item->valuestring;
}

double
wcheck_num (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    CHECK (cJSON_IsNumber (item));
    return item->valuedouble;
}
