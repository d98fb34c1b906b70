/*  hcheck - worker check harness. See hcheck.h. */
#include "hcheck.h"
#include "pl_id.h"
#include "pl_proto.h"
#include "pl_redis.h"
#include "pl_zmsg.h"

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

bool hc_verbose;

static struct {
    const char *name;                   /* check name, for messages        */
    char dir[64];                       /* private temp dir                */
    char redis_sock[128];               /* redis unix socket               */
    char backend[128];                  /* ipc: fake broker backend        */
    char events[128];                   /* ipc: fake event proxy           */
    pid_t redis;                        /* redis-server, or 0              */
    pid_t worker[HC_WORKERS];           /* workers, or 0                   */
    char id[HC_WORKERS][256];           /* identity of each worker's READY */
    size_t id_len[HC_WORKERS];
    void *zctx;
    void *router;                       /* fake broker backend             */
    void *sub;                          /* fake event proxy                */
    pl_redis_t *db;                     /* the check's own connection      */
    int seq;                            /* request ids                     */
} s_env;

static void
s_cleanup (void)
{
    for (int i = 0; i < HC_WORKERS; i++)
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
    pl_redis_destroy (&s_env.db);
    char cmd[160];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_env.dir);
    if (*s_env.dir && system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", s_env.dir);
}

void
hc_fail (int line, const char *what)
{
    fprintf (stderr, "%s: FAILED at line %d: %s\n", s_env.name, line, what);
    for (int i = 0; i < HC_WORKERS; i++) {
        if (!s_env.worker[i])
            continue;
        char cmd[200];
        snprintf (cmd, sizeof cmd, "echo '--- worker %d log:'; tail -n 30 '%s/worker-%d.log'",
                  i, s_env.dir, i);
        if (system (cmd) != 0)
            fprintf (stderr, "(no log)\n");
    }
    s_cleanup ();
    exit (1);
}

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

void
hc_init (const char *name, int argc, char **argv)
{
    s_env.name = name;
    hc_verbose = argc > 1 && strcmp (argv[argc - 1], "-v") == 0;
    signal (SIGPIPE, SIG_IGN);
    snprintf (s_env.dir, sizeof s_env.dir, "/tmp/pl-hc-XXXXXX");
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
    char url[160];
    snprintf (url, sizeof url, "unix://%s", s_env.redis_sock);
    s_env.db = pl_redis_new (url);
    CHECK (s_env.db);
}

void
hc_done (void)
{
    /* a clean stop: SIGTERM, BYE, exit 0 (under ASan, a leak fails it) */
    for (int i = 0; i < HC_WORKERS; i++) {
        if (!s_env.worker[i])
            continue;
        kill (s_env.worker[i], SIGTERM);
        int status = 0;
        pid_t got = 0;
        for (int t = 0; t < 50 && got == 0; t++) {
            got = waitpid (s_env.worker[i], &status, WNOHANG);
            if (got == 0)
                hc_pause (100);
        }
        CHECK (got == s_env.worker[i]);
        s_env.worker[i] = 0;
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
            fprintf (stderr, "worker %d exit status %d\n", i, status);
        CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    zmq_close (s_env.router);
    zmq_close (s_env.sub);
    zmq_ctx_term (s_env.zctx);
    s_cleanup ();
    printf ("%s: OK\n", s_env.name);
}

redisReply *
hc_redis (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = pl_redis_vcommand (s_env.db, fmt, ap);
    va_end (ap);
    CHECK (reply && reply->type != REDIS_REPLY_ERROR);
    return reply;
}

/* Next message from a worker whose command is cmd (answering heartbeats
 * meanwhile), or a bus message (cmd NULL). False on timeout. */
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
        zmq_pollitem_t items[] = { { s_env.router, 0, ZMQ_POLLIN, 0 },
                                   { s_env.sub, 0, cmd ? 0 : ZMQ_POLLIN, 0 } };
        zmq_poll (items, 2, (long) left);
    }
}

void
hc_pause (int ms)
{
    pl_zmsg_t msg;
    CHECK (!s_next ("-never-", &msg, ms));
}

void
hc_worker_start (int index, const char *service, const char *bin, const char *const *env)
{
    char url[160], log[128];
    CHECK (index >= 0 && index < HC_WORKERS);
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
        setenv ("PARLEY_HEARTBEAT_MS", "200", 1);
        setenv ("PARLEY_HEARTBEAT_LIVENESS", "5", 1);
        setenv ("PARLEY_WORKER_CREDIT", "16", 1);
        setenv ("PARLEY_LOG_LEVEL", "info", 1);
        for (int i = 0; env && env[i]; i++)
            putenv ((char *) env[i]);
        execl (bin, bin, (char *) NULL);
        _exit (127);
    }
    s_env.worker[index] = pid;
    pl_zmsg_t msg;
    CHECK (s_next ("READY", &msg, 5000));
    CHECK (msg.count == 5);
    CHECK (pl_zmsg_is (&msg, 3, service));
    s_env.id_len[index] = zmq_msg_size (&msg.frame[0]);
    CHECK (s_env.id_len[index] <= sizeof s_env.id[index]);
    memcpy (s_env.id[index], zmq_msg_data (&msg.frame[0]), s_env.id_len[index]);
    pl_zmsg_close (&msg);
}

int
hc_send (int w, const hc_who_t *who, const char *event, const char *body)
{
    char reqid[16];
    int seq = ++s_env.seq;
    snprintf (reqid, sizeof reqid, "q%d", seq);
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

cJSON *
hc_reply (int *seq, cJSON **directives)
{
    pl_zmsg_t msg;
    CHECK (s_next ("REP", &msg, 5000));
    CHECK ((msg.count == 6 || msg.count == 7) && pl_zmsg_is (&msg, 3, "client"));
    char reqid[16] = "";
    size_t len = zmq_msg_size (&msg.frame[4]);
    CHECK (len < sizeof reqid);
    memcpy (reqid, zmq_msg_data (&msg.frame[4]), len);
    *seq = atoi (reqid + 1);
    cJSON *reply = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]), zmq_msg_size (&msg.frame[5]));
    CHECK (cJSON_IsObject (reply));
    if (directives)
        *directives = msg.count == 7
            ? cJSON_ParseWithLength (zmq_msg_data (&msg.frame[6]), zmq_msg_size (&msg.frame[6]))
            : NULL;
    pl_zmsg_close (&msg);
    return reply;
}

cJSON *
hc_call (int w, const hc_who_t *who, const char *event, const char *body, cJSON **directives)
{
    int want = hc_send (w, who, event, body), got = 0;
    cJSON *reply = hc_reply (&got, directives);
    CHECK (got == want);
    return reply;
}

const char *
hc_code (const cJSON *reply)
{
    const cJSON *ok = cJSON_GetObjectItem (reply, "success");
    CHECK (cJSON_IsBool (ok));
    if (cJSON_IsTrue (ok))
        return "";
    const cJSON *code = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "code");
    CHECK (cJSON_IsString (code));
    return code->valuestring;
}

cJSON *
hc_ok (int w, const hc_who_t *who, const char *event, const char *body)
{
    cJSON *reply = hc_call (w, who, event, body, NULL);
    if (strcmp (hc_code (reply), "") != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "%s %s -> %s\n", event, body ? body : "", text);
        free (text);
    }
    CHECK (strcmp (hc_code (reply), "") == 0);
    cJSON *data = cJSON_DetachItemFromObject (reply, "data");
    cJSON_Delete (reply);
    return data;
}

void
hc_err (int w, const hc_who_t *who, const char *event, const char *body, const char *code)
{
    cJSON *reply = hc_call (w, who, event, body, NULL);
    if (strcmp (hc_code (reply), code) != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "%s %s -> %s, expected %s\n", event, body ? body : "", text, code);
        free (text);
    }
    CHECK (strcmp (hc_code (reply), code) == 0);
    if (hc_verbose)
        printf ("  %s %s -> %s %s\n", event, body ? body : "(none)", code,
                cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "message")->valuestring);
    cJSON_Delete (reply);
}

/* Copy frame index as text into buf (truncated). */
static void
s_frame_text (pl_zmsg_t *msg, int index, char *buf, size_t size)
{
    size_t len = zmq_msg_size (&msg->frame[index]);
    if (len >= size)
        len = size - 1;
    memcpy (buf, zmq_msg_data (&msg->frame[index]), len);
    buf[len] = 0;
}

bool
hc_bus_next (hc_bus_t *bus, int timeout_ms)
{
    pl_zmsg_t msg;
    memset (bus, 0, sizeof *bus);
    if (!s_next (NULL, &msg, timeout_ms))
        return false;
    CHECK (msg.count == 5 || msg.count == 6);
    bus->frames = msg.count;
    size_t tlen = zmq_msg_size (&msg.frame[0]);
    CHECK (tlen >= 1 && ((char *) zmq_msg_data (&msg.frame[0]))[tlen - 1] == 0);
    s_frame_text (&msg, 0, bus->room, sizeof bus->room);
    CHECK (pl_zmsg_is (&msg, 1, "PL01"));
    s_frame_text (&msg, 2, bus->kind, sizeof bus->kind);
    s_frame_text (&msg, 3, bus->origin, sizeof bus->origin);
    bus->packet = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[4]), zmq_msg_size (&msg.frame[4]));
    CHECK (bus->packet);
    if (msg.count == 6) {
        bus->except = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[5]),
                                             zmq_msg_size (&msg.frame[5]));
        CHECK (cJSON_IsArray (bus->except));
    }
    pl_zmsg_close (&msg);
    if (hc_verbose) {
        char *p = cJSON_PrintUnformatted (bus->packet);
        char *e = bus->except ? cJSON_PrintUnformatted (bus->except) : NULL;
        printf ("    bus: %s %s origin '%s' %s%s%s\n", bus->room, bus->kind, bus->origin, p,
                e ? " except " : "", e ? e : "");
        free (p);
        free (e);
    }
    return true;
}

void
hc_bus_clear (hc_bus_t *bus)
{
    cJSON_Delete (bus->packet);
    cJSON_Delete (bus->except);
    memset (bus, 0, sizeof *bus);
}

void
hc_expect_event (const char *room, const char *push, const char *origin,
                 const cJSON *payload, const char *except)
{
    hc_bus_t bus;
    CHECK (hc_bus_next (&bus, 3000));
    bool ok = strcmp (bus.room, room) == 0 && strcmp (bus.kind, "EV") == 0
           && strcmp (bus.origin, origin) == 0
           && cJSON_GetArraySize (bus.packet) == 2
           && strcmp (cJSON_GetArrayItem (bus.packet, 0)->valuestring, push) == 0
           && (!payload || cJSON_Compare (cJSON_GetArrayItem (bus.packet, 1), payload, true));
    if (ok && except) {
        cJSON *want = cJSON_Parse (except);
        ok = bus.frames == 6 && cJSON_Compare (bus.except, want, true);
        cJSON_Delete (want);
    }
    else
    if (ok)
        ok = bus.frames == 5;
    if (!ok) {
        char *p = cJSON_PrintUnformatted (bus.packet);
        char *w = payload ? cJSON_PrintUnformatted (payload) : NULL;
        char *e = bus.except ? cJSON_PrintUnformatted (bus.except) : NULL;
        fprintf (stderr, "bus: got %s %s origin '%s' %s except %s\n"
                         "     want %s EV origin '%s' [\"%s\",%s] except %s\n",
                 bus.room, bus.kind, bus.origin, p, e ? e : "-",
                 room, origin, push, w ? w : "?", except ? except : "-");
        free (p);
        free (w);
        free (e);
    }
    CHECK (ok);
    hc_bus_clear (&bus);
}

void
hc_expect_event_text (const char *room, const char *push, const char *origin,
                      const char *payload, const char *except)
{
    cJSON *p = payload ? cJSON_Parse (payload) : NULL;
    CHECK (p || !payload);
    hc_expect_event (room, push, origin, p, except);
    cJSON_Delete (p);
}

void
hc_expect_control (const char *audience, const char *room)
{
    hc_bus_t bus;
    CHECK (hc_bus_next (&bus, 3000));
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
    hc_bus_clear (&bus);
}

void
hc_expect_quiet (int ms)
{
    hc_bus_t bus;
    bool got = hc_bus_next (&bus, ms);
    if (got) {
        char *p = cJSON_PrintUnformatted (bus.packet);
        fprintf (stderr, "bus: unexpected %s %s %s\n", bus.room, bus.kind, p);
        free (p);
        hc_bus_clear (&bus);
    }
    CHECK (!got);
}

void
hc_bus_drain (int ms)
{
    hc_bus_t bus;
    while (hc_bus_next (&bus, ms))
        hc_bus_clear (&bus);
}
