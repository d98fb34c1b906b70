/*  parley-gamestate-check - drive two real parley-gamestate processes
 *  against a private redis-server, with this program playing the broker
 *  backend (ROUTER) and the event proxy (bound SUB).
 *
 *      parley-gamestate-check /path/to/parley-gamestate [-v]
 *
 *  It checks the game-state contract (proto/README.md event table, issue
 *  5): sessions, membership and GM rules, VERSION_CONFLICT with
 *  currentVersion, VALIDATION_ERROR with index, idempotent update ids,
 *  strict serialization of updates fired at both workers at once (one
 *  winner per version, versions and log ids gap-free), sync slices and the
 *  full-state fallback once the log is trimmed, token:move ownership, and
 *  the actor/item session index. Memberships are seeded straight into
 *  Redis (the campaigns worker is not under test here).
 *
 *  The harness is a trimmed copy of actors_check.c's (tests/workers/
 *  wcheck.{h,c} is to replace both). Everything lives in a fresh /tmp
 *  dir, removed at the end; every wait is bounded.
 */
#include "pl_id.h"
#include "pl_proto.h"
#include "pl_zmsg.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define S_WORKERS 2
#define S_LOG_MAX "20"                  /* PARLEY_SESSION_LOG_MAX for the workers */

static struct {
    char dir[64];
    char redis_sock[128];
    char backend[128];
    char events[128];
    const char *bin;
    bool verbose;
    pid_t redis;
    pid_t worker[S_WORKERS];
    void *zctx, *router, *sub;
    char id[S_WORKERS][256];
    size_t id_len[S_WORKERS];
    int seq;
    redisContext *rc;                   /* the check's own Redis connection */
} s_env;

static void
s_cleanup (void)
{
    for (int i = 0; i < S_WORKERS; i++)
        if (s_env.worker[i] > 0) {
            kill (s_env.worker[i], SIGKILL);
            waitpid (s_env.worker[i], NULL, 0);
        }
    if (s_env.rc)
        redisFree (s_env.rc);
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
    fprintf (stderr, "gamestate_check: FAILED at line %d: %s\n", line, what);
    for (int i = 0; i < S_WORKERS; i++) {
        char cmd[200];
        snprintf (cmd, sizeof cmd, "echo '--- worker %d log:'; tail -n 30 '%s/gamestate-%d.log'",
                  i, s_env.dir, i);
        if (system (cmd) != 0)
            fprintf (stderr, "(no log)\n");
    }
    s_cleanup ();
    exit (1);
}

#define CHECK(cond) do { if (!(cond)) s_fail (__LINE__, #cond); } while (0)

/* ---- processes ------------------------------------------------------- */

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
    CHECK (ready);
    s_env.rc = redisConnectUnix (s_env.redis_sock);
    CHECK (s_env.rc && !s_env.rc->err);
}

/* A Redis command from the check; the caller frees the reply. */
static redisReply *
s_redis (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = redisvCommand (s_env.rc, fmt, ap);
    va_end (ap);
    CHECK (reply && reply->type != REDIS_REPLY_ERROR);
    return reply;
}

static void
s_redis_run (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    redisReply *reply = redisvCommand (s_env.rc, fmt, ap);
    va_end (ap);
    CHECK (reply && reply->type != REDIS_REPLY_ERROR);
    freeReplyObject (reply);
}

static void
s_worker_start (int index)
{
    char url[160], log[128];
    snprintf (url, sizeof url, "unix://%s", s_env.redis_sock);
    snprintf (log, sizeof log, "%s/gamestate-%d.log", s_env.dir, index);
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
        setenv ("PARLEY_HEARTBEAT_MS", "500", 1);
        setenv ("PARLEY_HEARTBEAT_LIVENESS", "6", 1);
        setenv ("PARLEY_WORKER_CREDIT", "32", 1);
        setenv ("PARLEY_SESSION_LOG_MAX", S_LOG_MAX, 1);
        setenv ("PARLEY_LOG_LEVEL", "info", 1);
        execl (s_env.bin, s_env.bin, (char *) NULL);
        _exit (127);
    }
    s_env.worker[index] = pid;
}

/* ---- the fake broker ------------------------------------------------- */

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

static void
s_expect_ready (int index)
{
    pl_zmsg_t msg;
    CHECK (s_next ("READY", &msg, 5000));
    CHECK (msg.count == 5 && pl_zmsg_is (&msg, 3, "gamestate"));
    s_env.id_len[index] = zmq_msg_size (&msg.frame[0]);
    CHECK (s_env.id_len[index] <= sizeof s_env.id[index]);
    memcpy (s_env.id[index], zmq_msg_data (&msg.frame[0]), s_env.id_len[index]);
    pl_zmsg_close (&msg);
}

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

/* Wait for a reply; *seq = its request number; *directives (if asked) =
 * the directives frame parsed, or NULL. */
static cJSON *
s_reply_dir (int *seq, cJSON **directives)
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

static cJSON *
s_reply (int *seq)
{
    return s_reply_dir (seq, NULL);
}

static cJSON *
s_call (int w, const char *uid, const char *event, const char *body)
{
    int want = s_send (w, uid, event, body), got = 0;
    cJSON *reply = s_reply (&got);
    CHECK (got == want);
    return reply;
}

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

static cJSON *
s_ok (int w, const char *uid, const char *event, const char *body)
{
    cJSON *reply = s_call (w, uid, event, body);
    if (strcmp (s_code (reply), "") != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "%s %s -> %s\n", event, body ? body : "", text);
        free (text);
    }
    CHECK (strcmp (s_code (reply), "") == 0);
    cJSON *data = cJSON_DetachItemFromObject (reply, "data");
    cJSON_Delete (reply);
    return data;
}

/* Call and expect the error code; returns the error object (caller frees). */
static cJSON *
s_err (int w, const char *uid, const char *event, const char *body, const char *code)
{
    cJSON *reply = s_call (w, uid, event, body);
    if (strcmp (s_code (reply), code) != 0) {
        char *text = cJSON_PrintUnformatted (reply);
        fprintf (stderr, "%s %s -> %s, expected %s\n", event, body ? body : "", text, code);
        free (text);
    }
    CHECK (strcmp (s_code (reply), code) == 0);
    cJSON *error = cJSON_DetachItemFromObject (reply, "error");
    if (s_env.verbose)
        printf ("  %s -> %s: %s\n", event, code, cJSON_GetObjectItem (error, "message")->valuestring);
    cJSON_Delete (reply);
    return error;
}

static void
s_err0 (int w, const char *uid, const char *event, const char *body, const char *code)
{
    cJSON_Delete (s_err (w, uid, event, body, code));
}

static const char *
s_str (const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, key);
    CHECK (cJSON_IsString (item));
    return item->valuestring;
}

/* The next bus event: its room, push name and payload (caller frees). */
static cJSON *
s_event (char *room, size_t room_size, char *push, size_t push_size, int timeout_ms)
{
    pl_zmsg_t msg;
    if (!s_next (NULL, &msg, timeout_ms))
        return NULL;
    CHECK (msg.count == 5 && pl_zmsg_is (&msg, 2, "EV"));
    size_t len = zmq_msg_size (&msg.frame[0]);
    CHECK (len > 0 && len <= room_size);
    memcpy (room, zmq_msg_data (&msg.frame[0]), len);         /* with its NUL */
    cJSON *packet = cJSON_ParseWithLength (zmq_msg_data (&msg.frame[4]), zmq_msg_size (&msg.frame[4]));
    CHECK (cJSON_GetArraySize (packet) == 2);
    snprintf (push, push_size, "%s", cJSON_GetArrayItem (packet, 0)->valuestring);
    cJSON *payload = cJSON_DetachItemFromArray (packet, 1);
    cJSON_Delete (packet);
    pl_zmsg_close (&msg);
    return payload;
}

static void
s_drain (int ms)
{
    pl_zmsg_t msg;
    while (s_next (NULL, &msg, ms))
        pl_zmsg_close (&msg);
}

/* ---- helpers for the game state -------------------------------------- */

static char s_sid[64];                  /* the session under test        */
static char s_room_name[96];            /* session:<sid>                 */

static long
s_current (void)
{
    char body[128];
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    cJSON *data = s_ok (0, "gm", "gameState:requestFull", body);
    long v = atol (s_str (cJSON_GetObjectItem (data, "gameState"), "stateVersion"));
    cJSON_Delete (data);
    return v;
}

/* An update body: id, base version, operations JSON. */
static char *
s_update_body (const char *id, long version, const char *ops)
{
    char *body = NULL;
    CHECK (asprintf (&body, "{\"id\":\"%s\",\"sessionId\":\"%s\",\"version\":\"%ld\","
                            "\"operations\":%s,\"timestamp\":1700000000000}",
                     id, s_sid, version, ops) > 0);
    return body;
}

/* ---- scenarios ------------------------------------------------------- */

static void
s_sessions (void)
{
    /* campaign c1: gm is its GM, pl a player; out is no member */
    s_redis_run ("HSET pl:campaign:c1:members gm gm pl player");
    s_redis_run ("SET pl:actor:a-pl {\"id\":\"a-pl\",\"createdBy\":\"pl\",\"name\":\"P\",\"type\":\"pc\"}");
    s_redis_run ("SET pl:actor:a-gm {\"id\":\"a-gm\",\"createdBy\":\"gm\",\"name\":\"G\",\"type\":\"npc\"}");

    s_err0 (0, "pl", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"S\"}", "FORBIDDEN");
    s_err0 (0, "out", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"S\"}", "FORBIDDEN");
    s_err0 (0, "gm", "gameSession:create", "{\"campaignId\":\"c1\"}", "VALIDATION_ERROR");
    s_err0 (0, "gm", "gameSession:create", "{\"campaignId\":\"c 1\",\"name\":\"S\"}", "VALIDATION_ERROR");
    s_err0 (0, "gm", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"\"}", "VALIDATION_ERROR");
    s_err0 (0, "gm", "gameSession:create", "\"c1\"", "VALIDATION_ERROR");
    cJSON *session = s_ok (0, "gm", "gameSession:create", "{\"campaignId\":\"c1\",\"name\":\"Night 1\"}");
    snprintf (s_sid, sizeof s_sid, "%s", s_str (session, "id"));
    snprintf (s_room_name, sizeof s_room_name, "session:%s", s_sid);
    CHECK (strcmp (s_str (session, "campaignId"), "c1") == 0);
    CHECK (strcmp (s_str (session, "name"), "Night 1") == 0);
    CHECK (strcmp (s_str (session, "createdBy"), "gm") == 0);
    char room[160], push[64];
    cJSON *ev = s_event (room, sizeof room, push, sizeof push, 3000);
    CHECK (ev && strcmp (room, "campaign:c1") == 0 && strcmp (push, "gameSession:created") == 0);
    CHECK (cJSON_Compare (ev, session, true));
    cJSON_Delete (ev);
    /* what pl_authz reads for the session room */
    redisReply *r = s_redis ("HGET pl:session:%s campaignId", s_sid);
    CHECK (r->type == REDIS_REPLY_STRING && strcmp (r->str, "c1") == 0);
    freeReplyObject (r);
    r = s_redis ("SISMEMBER pl:campaign:c1:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);

    /* list: members only */
    cJSON *list = s_ok (1, "pl", "gameSession:list", "{\"campaignId\":\"c1\"}");
    CHECK (cJSON_GetArraySize (list) == 1 && cJSON_Compare (cJSON_GetArrayItem (list, 0), session, true));
    cJSON_Delete (list);
    s_err0 (1, "out", "gameSession:list", "{\"campaignId\":\"c1\"}", "FORBIDDEN");

    /* join: members, with the room directive; others NOT_FOUND */
    char body[128];
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    int seq;
    cJSON *directives = NULL;
    s_send (1, "gm", "gameSession:join", body);
    cJSON *reply = s_reply_dir (&seq, &directives);
    CHECK (strcmp (s_code (reply), "") == 0);
    cJSON *data = cJSON_GetObjectItem (reply, "data");
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "isGM")));
    CHECK (cJSON_Compare (cJSON_GetObjectItem (data, "session"), session, true));
    cJSON *state = cJSON_GetObjectItem (data, "gameState");
    CHECK (strcmp (s_str (state, "stateVersion"), "0") == 0);
    CHECK (cJSON_IsNull (cJSON_GetObjectItem (state, "currentEncounter")));
    CHECK (cJSON_IsArray (cJSON_GetObjectItem (state, "characters")));
    char *dtext = cJSON_PrintUnformatted (directives);
    char want[160];
    snprintf (want, sizeof want, "{\"join\":[\"%s\"]}", s_room_name);
    CHECK (dtext && strcmp (dtext, want) == 0);
    free (dtext);
    cJSON_Delete (directives);
    cJSON_Delete (reply);
    data = s_ok (0, "pl", "gameSession:join", body);
    CHECK (cJSON_IsFalse (cJSON_GetObjectItem (data, "isGM")));
    cJSON_Delete (data);
    s_err0 (0, "out", "gameSession:join", body, "NOT_FOUND");
    s_err0 (0, "out", "gameState:requestFull", body, "NOT_FOUND");
    s_err0 (0, "gm", "gameSession:join", "\"no-such-session\"", "NOT_FOUND");
    s_err0 (0, "gm", "gameSession:join", "{}", "VALIDATION_ERROR");
    s_err0 (0, "gm", "gameSession:join", "\"a/b\"", "VALIDATION_ERROR");
    /* leave: directive leave, always succeeds */
    s_send (0, "pl", "gameSession:leave", body);
    reply = s_reply_dir (&seq, &directives);
    CHECK (strcmp (s_code (reply), "") == 0);
    dtext = cJSON_PrintUnformatted (directives);
    snprintf (want, sizeof want, "{\"leave\":[\"%s\"]}", s_room_name);
    CHECK (dtext && strcmp (dtext, want) == 0);
    free (dtext);
    cJSON_Delete (directives);
    cJSON_Delete (reply);
    cJSON_Delete (session);
}

static void
s_updates (void)
{
    /* a first update: the ack, the event, the log entry */
    char *body = s_update_body ("u-1", 0,
        "[{\"path\":\"currentEncounter\",\"operation\":\"set\",\"value\":{\"encounter\":\"e\",\"map\":\"m\","
        "\"tokens\":[{\"id\":\"t-pl\",\"actorId\":\"a-pl\",\"x\":0,\"y\":0},"
        "{\"id\":\"t-gm\",\"actorId\":\"a-gm\",\"x\":5,\"y\":5}]}},"
        "{\"path\":\"actors\",\"operation\":\"push\",\"value\":{\"id\":\"a-pl\",\"name\":\"P\"}},"
        "{\"path\":\"items\",\"operation\":\"push\",\"value\":{\"id\":\"i-1\"}}]");
    cJSON *reply = s_call (0, "gm", "gameState:update", body);
    CHECK (strcmp (s_code (reply), "") == 0);
    CHECK (strcmp (s_str (reply, "newVersion"), "1") == 0);
    CHECK (!cJSON_GetObjectItem (reply, "data"));
    char *first = cJSON_PrintUnformatted (reply);
    cJSON_Delete (reply);
    char room[160], push[64];
    cJSON *ev = s_event (room, sizeof room, push, sizeof push, 3000);
    CHECK (ev && strcmp (room, s_room_name) == 0 && strcmp (push, "gameState:updated") == 0);
    CHECK (strcmp (s_str (ev, "sessionId"), s_sid) == 0);
    CHECK (strcmp (s_str (ev, "id"), "u-1") == 0);
    CHECK (strcmp (s_str (ev, "version"), "1") == 0);
    CHECK (strcmp (s_str (ev, "previousVersion"), "0") == 0);
    CHECK (strcmp (s_str (ev, "source"), "gm") == 0);
    CHECK (cJSON_GetObjectItem (ev, "timestamp")->valuedouble == 1700000000000.0);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (ev, "operations")) == 3);
    cJSON_Delete (ev);

    /* the index: a-pl and i-1 are embedded now */
    redisReply *r = s_redis ("SISMEMBER pl:actor:a-pl:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);
    r = s_redis ("SISMEMBER pl:item:i-1:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);

    /* the same id again: the first ack, nothing applied (either worker) */
    for (int w = 0; w < S_WORKERS; w++) {
        reply = s_call (w, "gm", "gameState:update", body);
        char *again = cJSON_PrintUnformatted (reply);
        CHECK (strcmp (again, first) == 0);
        free (again);
        cJSON_Delete (reply);
    }
    free (body);
    free (first);
    CHECK (s_current () == 1);

    /* players may not update; outsiders do not see the session */
    body = s_update_body ("u-p", 1, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1}]");
    s_err0 (0, "pl", "gameState:update", body, "FORBIDDEN");
    s_err0 (0, "out", "gameState:update", body, "NOT_FOUND");
    free (body);

    /* a stale version: VERSION_CONFLICT with currentVersion */
    body = s_update_body ("u-old", 0, "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1}]");
    cJSON *error = s_err (1, "gm", "gameState:update", body, "VERSION_CONFLICT");
    CHECK (strcmp (s_str (error, "currentVersion"), "1") == 0);
    cJSON_Delete (error);
    free (body);

    /* an invalid operation: VALIDATION_ERROR with its index; none applied */
    const char *bad[] = {
        "[{\"path\":\"pluginData.x\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"pluginData.x\",\"operation\":\"push\",\"value\":2}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"__proto__.x\",\"operation\":\"set\",\"value\":1}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"pluginData..b\",\"operation\":\"set\",\"value\":1}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1},"
        "{\"path\":\"pluginData.a\",\"operation\":\"explode\",\"value\":1}]",
        "[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":\"s\"},"
        "{\"path\":\"pluginData.a\",\"operation\":\"inc\",\"value\":1}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body = s_update_body ("u-bad", 1, bad[i]);
        error = s_err ((int) i % 2, "gm", "gameState:update", body, "VALIDATION_ERROR");
        CHECK (cJSON_GetObjectItem (error, "index")->valueint == 1);
        cJSON_Delete (error);
        free (body);
    }
    CHECK (s_current () == 1);
    const char *shapes[] = {
        "{\"sessionId\":\"x\"}", "[]", "\"x\"",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        s_err0 (0, "gm", "gameState:update", shapes[i], "VALIDATION_ERROR");
    char raw[512];
    const char *fields[] = {
        "\"id\":\"\",\"version\":\"1\",\"operations\":[]",
        "\"id\":7,\"version\":\"1\",\"operations\":[]",
        "\"id\":\"v\",\"version\":\"01\",\"operations\":[]",
        "\"id\":\"v\",\"version\":-1,\"operations\":[]",
        "\"id\":\"v\",\"version\":\"1\",\"operations\":{}",
        "\"id\":\"v\",\"version\":\"1\",\"operations\":[]",                  /* empty */
        "\"id\":\"v\",\"version\":\"1\",\"operations\":[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1}],\"timestamp\":\"now\"",
        "\"id\":\"v\",\"version\":\"1\",\"operations\":[{\"path\":\"pluginData.a\",\"operation\":\"set\",\"value\":1}],\"source\":\"system\"",
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        snprintf (raw, sizeof raw, "{\"sessionId\":\"%s\",%s}", s_sid, fields[i]);
        s_err0 (0, "gm", "gameState:update", raw, "VALIDATION_ERROR");
    }
    /* a numeric version is accepted */
    snprintf (raw, sizeof raw, "{\"sessionId\":\"%s\",\"id\":\"u-num\",\"version\":1,"
              "\"operations\":[{\"path\":\"pluginData.n\",\"operation\":\"set\",\"value\":1}]}", s_sid);
    reply = s_call (1, "gm", "gameState:update", raw);
    CHECK (strcmp (s_code (reply), "") == 0 && strcmp (s_str (reply, "newVersion"), "2") == 0);
    cJSON_Delete (reply);
    s_drain (200);
}

/* Fire K updates with the same base version at both workers at once,
 * round after round: exactly one wins each round, the others see the
 * winner's version. Then version-less token moves from both workers: all
 * apply, each with its own version. Versions, events and log ids are
 * gap-free and unique. */
static void
s_concurrency (void)
{
    const int rounds = 12, k = 6;
    long base = s_current ();
    for (int r = 0; r < rounds; r++) {
        long v = base + r;
        for (int i = 0; i < k; i++) {
            char id[32], ops[128];
            snprintf (id, sizeof id, "race-%d-%d", r, i);
            snprintf (ops, sizeof ops, "[{\"path\":\"pluginData.race\",\"operation\":\"push\",\"value\":\"%d-%d\"}]", r, i);
            if (r == 0 && i == 0) {
                char *init = s_update_body ("race-init", v, "[{\"path\":\"pluginData.race\",\"operation\":\"set\",\"value\":[]}]");
                cJSON *ok = s_call (0, "gm", "gameState:update", init);
                CHECK (strcmp (s_code (ok), "") == 0);
                cJSON_Delete (ok);
                free (init);
                base++;
                v++;
            }
            char *body = s_update_body (id, v, ops);
            s_send (i % S_WORKERS, "gm", "gameState:update", body);
            free (body);
        }
        int wins = 0, conflicts = 0;
        for (int i = 0; i < k; i++) {
            int seq;
            cJSON *reply = s_reply (&seq);
            if (strcmp (s_code (reply), "") == 0) {
                wins++;
                CHECK (atol (s_str (reply, "newVersion")) == v + 1);
            }
            else {
                CHECK (strcmp (s_code (reply), "VERSION_CONFLICT") == 0);
                const cJSON *cur = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "currentVersion");
                CHECK (cJSON_IsString (cur) && atol (cur->valuestring) == v + 1);
                conflicts++;
            }
            cJSON_Delete (reply);
        }
        CHECK (wins == 1 && conflicts == k - 1);
    }
    long after_races = s_current ();
    CHECK (after_races == base + rounds);

    /* version-less commits from both workers: none lost, none doubled */
    const int moves = 40;
    char body[256];
    bool seen[64] = { false };
    for (int i = 0; i < moves; i++) {
        snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-gm\",\"x\":%d,\"y\":%d}",
                  s_sid, i, -i);
        s_send (i % S_WORKERS, "gm", "token:move", body);
    }
    for (int i = 0; i < moves; i++) {
        int seq;
        cJSON *reply = s_reply (&seq);
        CHECK (strcmp (s_code (reply), "") == 0);
        long v = atol (s_str (cJSON_GetObjectItem (reply, "data"), "newVersion"));
        CHECK (v > after_races && v <= after_races + moves);
        CHECK (!seen[v - after_races - 1]);
        seen[v - after_races - 1] = true;
        cJSON_Delete (reply);
    }
    long final = s_current ();
    CHECK (final == after_races + moves);

    /* every applied update was announced once, with its own version */
    int events = 0;
    bool announced[256] = { false };
    char room[160], push[64];
    cJSON *ev;
    while ((ev = s_event (room, sizeof room, push, sizeof push, 300))) {
        if (strcmp (push, "gameState:updated") == 0) {
            long v = atol (s_str (ev, "version"));
            CHECK (v > 0 && v < 256 && !announced[v]);
            CHECK (atol (s_str (ev, "previousVersion")) == v - 1);
            announced[v] = true;
            events++;
        }
        cJSON_Delete (ev);
    }
    /* base is race-init's version: it too was announced */
    CHECK (events == (int) (final - base + 1));
    for (long v = base; v <= final; v++)
        CHECK (announced[v]);

    /* the log: ids contiguous up to the state's version, trimmed to the
     * retention */
    redisReply *r = s_redis ("XRANGE pl:session:%s:log - +", s_sid);
    CHECK (r->type == REDIS_REPLY_ARRAY && r->elements == (size_t) atoi (S_LOG_MAX));
    for (size_t i = 0; i < r->elements; i++) {
        char want[32];
        snprintf (want, sizeof want, "%ld-0", final - (long) r->elements + 1 + (long) i);
        CHECK (strcmp (r->element[i]->element[0]->str, want) == 0);
    }
    freeReplyObject (r);

    /* and the state holds each race winner's push, one per round */
    char sbody[128];
    snprintf (sbody, sizeof sbody, "\"%s\"", s_sid);
    cJSON *data = s_ok (0, "gm", "gameState:requestFull", sbody);
    cJSON *race = cJSON_GetObjectItem (cJSON_GetObjectItem (cJSON_GetObjectItem (data, "gameState"),
                                                             "pluginData"), "race");
    CHECK (cJSON_GetArraySize (race) == rounds);
    cJSON_Delete (data);
    if (s_env.verbose)
        printf ("  %d rounds of %d racing updates, %d token moves: versions %ld..%ld gap-free\n",
                rounds, k, moves, base + 1, final);
}

static void
s_sync (void)
{
    long v = s_current ();
    char body[256];
    /* the last 3 updates, in order */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v - 3);
    cJSON *data = s_ok (1, "pl", "gameState:sync", body);
    cJSON *updates = cJSON_GetObjectItem (data, "updates");
    CHECK (cJSON_GetArraySize (updates) == 3 && !cJSON_GetObjectItem (data, "full"));
    for (int i = 0; i < 3; i++) {
        cJSON *u = cJSON_GetArrayItem (updates, i);
        CHECK (atol (s_str (u, "version")) == v - 2 + i);
        CHECK (strcmp (s_str (u, "sessionId"), s_sid) == 0);
        CHECK (strcmp (s_str (u, "source"), "system") == 0);    /* token moves */
    }
    cJSON_Delete (data);
    /* a number works too; up to date: nothing */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":%ld}", s_sid, v);
    data = s_ok (0, "pl", "gameState:sync", body);
    CHECK (cJSON_IsArray (cJSON_GetObjectItem (data, "updates")));
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (data, "updates")) == 0);
    cJSON_Delete (data);
    /* trimmed: version 1 is long gone from a log of 20 -> the full state */
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    cJSON *full = s_ok (0, "gm", "gameState:requestFull", body);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"1\"}", s_sid);
    data = s_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    CHECK (cJSON_Compare (cJSON_GetObjectItem (data, "gameState"), cJSON_GetObjectItem (full, "gameState"), true));
    cJSON_Delete (data);
    /* the oldest the log still reaches: exactly the log */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v - atol (S_LOG_MAX));
    data = s_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_GetArraySize (cJSON_GetObjectItem (data, "updates")) == atoi (S_LOG_MAX));
    cJSON_Delete (data);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v - atol (S_LOG_MAX) - 1);
    data = s_ok (1, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    cJSON_Delete (data);
    /* ahead of the server: full */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"%ld\"}", s_sid, v + 5);
    data = s_ok (0, "pl", "gameState:sync", body);
    CHECK (cJSON_IsTrue (cJSON_GetObjectItem (data, "full")));
    cJSON_Delete (data);
    cJSON_Delete (full);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"x\"}", s_sid);
    s_err0 (0, "pl", "gameState:sync", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"sinceVersion\":\"1\"}", s_sid);
    s_err0 (0, "out", "gameState:sync", body, "NOT_FOUND");
}

static void
s_tokens (void)
{
    char body[256];
    long v = s_current ();
    /* a player moves the token of their own actor, not the GM's */
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-pl\",\"x\":3.5,\"y\":4}", s_sid);
    cJSON *data = s_ok (0, "pl", "token:move", body);
    CHECK (atol (s_str (data, "newVersion")) == v + 1);
    cJSON_Delete (data);
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-gm\",\"x\":1,\"y\":1}", s_sid);
    s_err0 (1, "pl", "token:move", body, "FORBIDDEN");
    s_err0 (1, "out", "token:move", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"nope\",\"x\":1,\"y\":1}", s_sid);
    s_err0 (1, "pl", "token:move", body, "NOT_FOUND");
    s_err0 (1, "gm", "token:move", body, "NOT_FOUND");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-pl\",\"x\":\"1\",\"y\":1}", s_sid);
    s_err0 (1, "pl", "token:move", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "{\"sessionId\":\"%s\",\"tokenId\":\"t-pl\",\"x\":1e999,\"y\":1}", s_sid);
    s_err0 (1, "pl", "token:move", body, "VALIDATION_ERROR");
    snprintf (body, sizeof body, "\"%s\"", s_sid);
    data = s_ok (0, "gm", "gameState:requestFull", body);
    cJSON *tokens = cJSON_GetObjectItem (cJSON_GetObjectItem (cJSON_GetObjectItem (data, "gameState"),
                                                               "currentEncounter"), "tokens");
    CHECK (cJSON_GetObjectItem (cJSON_GetArrayItem (tokens, 0), "x")->valuedouble == 3.5);
    CHECK (cJSON_GetObjectItem (cJSON_GetArrayItem (tokens, 0), "y")->valuedouble == 4);
    CHECK (atol (s_str (cJSON_GetObjectItem (data, "gameState"), "stateVersion")) == v + 1);
    cJSON_Delete (data);

    /* the index follows the state: pulling the actor out drops it */
    char *upd = s_update_body ("u-pull", v + 1,
                               "[{\"path\":\"actors\",\"operation\":\"pull\",\"value\":{\"id\":\"a-pl\",\"name\":\"P\"}}]");
    data = s_call (0, "gm", "gameState:update", upd);
    CHECK (strcmp (s_code (data), "") == 0);
    cJSON_Delete (data);
    free (upd);
    redisReply *r = s_redis ("SISMEMBER pl:actor:a-pl:sessions %s", s_sid);
    CHECK (r->integer == 0);
    freeReplyObject (r);
    r = s_redis ("SISMEMBER pl:item:i-1:sessions %s", s_sid);
    CHECK (r->integer == 1);
    freeReplyObject (r);
    s_drain (200);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: parley-gamestate-check /path/to/parley-gamestate [-v]\n");
        return 2;
    }
    s_env.bin = argv[1];
    s_env.verbose = argc > 2 && strcmp (argv[2], "-v") == 0;
    signal (SIGPIPE, SIG_IGN);
    snprintf (s_env.dir, sizeof s_env.dir, "/tmp/pl-gs-XXXXXX");
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
    /* a PUB sends nothing until it has our subscription: probe each worker
     * with session creates until its event is heard */
    s_redis_run ("HSET pl:campaign:probe:members probe gm");
    for (int w = 0; w < S_WORKERS; w++) {
        bool heard = false;
        for (int i = 0; i < 50 && !heard; i++) {
            cJSON *s = s_ok (w, "probe", "gameSession:create", "{\"campaignId\":\"probe\",\"name\":\"p\"}");
            cJSON_Delete (s);
            pl_zmsg_t msg;
            heard = s_next (NULL, &msg, 50);
            if (heard)
                pl_zmsg_close (&msg);
        }
        CHECK (heard);
    }
    s_drain (100);

    printf ("gamestate_check: sessions\n");
    s_sessions ();
    printf ("gamestate_check: updates\n");
    s_updates ();
    printf ("gamestate_check: concurrency\n");
    s_concurrency ();
    printf ("gamestate_check: sync\n");
    s_sync ();
    printf ("gamestate_check: tokens\n");
    s_tokens ();

    for (int w = 0; w < S_WORKERS; w++) {
        kill (s_env.worker[w], SIGTERM);
        int status;
        CHECK (waitpid (s_env.worker[w], &status, 0) == s_env.worker[w]);
        s_env.worker[w] = 0;
        CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    zmq_close (s_env.router);
    zmq_close (s_env.sub);
    zmq_ctx_term (s_env.zctx);
    s_cleanup ();
    printf ("gamestate_check: OK\n");
    return 0;
}
