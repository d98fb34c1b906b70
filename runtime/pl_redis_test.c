/*  pl_redis_test - the selftest of pl_redis: the URL parser and the
 *  command-name reader (pl_redis_int.h), the constructor and an unreachable
 *  Redis, then, when a redis-server can be run, the reconnect and
 *  transaction rules against a private one on a unix socket. */
#include "pl_redis.h"
#include "pl_redis_int.h"
#include "pl_id.h"

#include <assert.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t
pl_redis__test_server (const char *dir, const char *sock)
{
    int out[2];
    if (pipe (out))
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        /* die with the test, even when an assert aborts it */
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        dup2 (out[1], STDOUT_FILENO);
        dup2 (out[1], STDERR_FILENO);
        close (out[0]);
        execlp ("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
                "--dir", dir, "--save", "", "--appendonly", "no", (char *) NULL);
        _exit (127);
    }
    close (out[1]);
    char log[4096];
    size_t n = 0;
    bool ready = false;
    int64_t deadline = pl_id_mono_ms () + 5000;
    while (pid > 0 && !ready && pl_id_mono_ms () < deadline) {
        struct pollfd pfd = { out[0], POLLIN, 0 };
        if (poll (&pfd, 1, (int) (deadline - pl_id_mono_ms ())) <= 0)
            break;
        ssize_t got = read (out[0], log + n, sizeof log - n - 1);
        if (got <= 0)
            break;                          /* exec failed: no redis-server */
        n += (size_t) got;
        log[n] = 0;
        ready = strcasestr (log, "ready to accept connections") != NULL;
        if (n >= sizeof log - 1)
            n = 0;
    }
    close (out[0]);                         /* redis ignores SIGPIPE */
    if (pid > 0 && !ready) {
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
        pid = -1;
    }
    return pid;
}

bool
pl_redis__test_start (pl_redis__test_t *t, const char *name, bool verbose)
{
    memset (t, 0, sizeof *t);
    snprintf (t->dir, sizeof t->dir, "/tmp/pl-%s-XXXXXX", name);
    assert (mkdtemp (t->dir));
    snprintf (t->sock, sizeof t->sock, "%s/redis.sock", t->dir);
    snprintf (t->url, sizeof t->url, "unix://%s", t->sock);
    t->old_pipe = signal (SIGPIPE, SIG_IGN);
    t->pid = pl_redis__test_server (t->dir, t->sock);
    if (t->pid < 0 && verbose)
        printf ("(no redis-server: live tests skipped) ");
    return t->pid > 0;
}

void
pl_redis__test_stop (pl_redis__test_t *t)
{
    if (t->pid > 0) {
        kill (t->pid, SIGKILL);
        waitpid (t->pid, NULL, 0);
    }
    t->pid = -1;
    signal (SIGPIPE, t->old_pipe);
    unlink (t->sock);
    char dump[96];
    snprintf (dump, sizeof dump, "%s/dump.rdb", t->dir);
    unlink (dump);
    rmdir (t->dir);
}

/* Selftest helper: the reply's integer, or -1. */
static long long
s_test_int (redisReply *reply)
{
    long long value = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (reply)
        freeReplyObject (reply);
    return value;
}

/* Selftest helper: true when the reply is the status or string text. */
static bool
s_test_is (redisReply *reply, const char *text)
{
    bool is = reply && (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING)
           && strcmp (reply->str, text) == 0;
    if (reply)
        freeReplyObject (reply);
    return is;
}

/* Against a real server: stale connections are retried, broken
 * transactions are not, reset cleans up, ?db= selects. */
/* A defer hook: counts, and takes the commands (failing them) when arg
 * is set, else lets them run. */
static int s_deferred, s_deferred_n;
static bool
s_test_defer (void *arg, pl_redis_cmd_t *const *cmds, size_t n)
{
    s_deferred++;
    s_deferred_n = (int) n;
    for (size_t i = 0; arg && i < n; i++)
        cmds[i]->reply = NULL;
    return arg != NULL;
}

static void
s_test_live (bool verbose)
{
    char dir[] = "/tmp/pl-redis-XXXXXX";
    assert (mkdtemp (dir));
    char sock[128], url[160];
    snprintf (sock, sizeof sock, "%s/redis.sock", dir);
    snprintf (url, sizeof url, "unix://%s", sock);
    void (*old_pipe) (int) = signal (SIGPIPE, SIG_IGN);
    pid_t server = pl_redis__test_server (dir, sock);
    if (server < 0) {
        if (verbose)
            printf ("(no redis-server: live tests skipped) ");
        goto cleanup;
    }
    pl_redis_t *r = pl_redis_new (url);
    pl_redis_t *killer = pl_redis_new (url);
    assert (r && killer);
    assert (s_test_is (pl_redis_command (r, "SET %s %s", "k", "v1"), "OK"));
    assert (pl_redis_connected (r));
    long long id = s_test_int (pl_redis_command (r, "CLIENT ID"));
    assert (id > 0);

    /* the server drops our connection: the next command reconnects and
     * succeeds, on a new connection */
    assert (s_test_int (pl_redis_command (killer, "CLIENT KILL ID %lld", id)) == 1);
    assert (s_test_is (pl_redis_command (r, "GET k"), "v1"));
    long long id2 = s_test_int (pl_redis_command (r, "CLIENT ID"));
    assert (id2 > 0 && id2 != id);

    /* dropped inside WATCH: nothing runs until the transaction ends, so
     * MULTI/SET/EXEC cannot replay on a new connection without the WATCH */
    assert (s_test_is (pl_redis_command (r, "WATCH k"), "OK"));
    assert (s_test_int (pl_redis_command (killer, "CLIENT KILL ID %lld", id2)) == 1);
    assert (pl_redis_command (r, "GET k") == NULL);
    assert (pl_redis_command (r, "MULTI") == NULL);
    assert (pl_redis_command (r, "SET k %s", "lost") == NULL);
    assert (pl_redis_command (r, "EXEC") == NULL);
    assert (s_test_is (pl_redis_command (r, "GET k"), "v1"));     /* and back */

    /* the same, ended by pl_redis_reset instead of EXEC */
    long long id3 = s_test_int (pl_redis_command (r, "CLIENT ID"));
    assert (s_test_is (pl_redis_command (r, "WATCH k"), "OK"));
    assert (s_test_int (pl_redis_command (killer, "CLIENT KILL ID %lld", id3)) == 1);
    assert (pl_redis_command (r, "GET k") == NULL);
    pl_redis_reset (r);
    assert (s_test_is (pl_redis_command (r, "GET k"), "v1"));

    /* reset discards an open MULTI on a live connection */
    assert (s_test_is (pl_redis_command (r, "MULTI"), "OK"));
    assert (s_test_is (pl_redis_command (r, "SET k %s", "queued"), "QUEUED"));
    pl_redis_reset (r);
    assert (s_test_is (pl_redis_command (r, "GET k"), "v1"));

    /* a WATCHed key changed elsewhere: EXEC is nil, not an error */
    assert (s_test_is (pl_redis_command (r, "WATCH k"), "OK"));
    assert (s_test_is (pl_redis_command (killer, "SET k %s", "v2"), "OK"));
    assert (s_test_is (pl_redis_command (r, "MULTI"), "OK"));
    assert (s_test_is (pl_redis_command (r, "SET k %s", "v3"), "QUEUED"));
    redisReply *reply = pl_redis_command (r, "EXEC");
    assert (reply && reply->type == REDIS_REPLY_NIL);
    freeReplyObject (reply);

    /* a batch: one write, replies in order, an error reply its own
     * command's */
    {
        pl_redis_batch_t b = { 0 };
        pl_redis_batch_add (&b, "SET %s %s", "p", "1");
        pl_redis_batch_add (&b, "INCR %s", "p");
        pl_redis_batch_add (&b, "HGET %s %s", "p", "x");          /* WRONGTYPE */
        pl_redis_batch_add (&b, "GET %s", "p");
        assert (pl_redis_batch_run (r, &b) == 0);
        assert (b.reply[0]->type == REDIS_REPLY_STATUS && b.reply[1]->integer == 2);
        assert (b.reply[2]->type == REDIS_REPLY_ERROR);            /* its own */
        assert (strcmp (b.reply[3]->str, "2") == 0);
        pl_redis_batch_clear (&b);
    }
    /* without waiting: written, then read as the fd says, transactions
     * tracked */
    {
        char *c[5];
        int len[5];
        len[0] = redisFormatCommand (&c[0], "SET %s %s", "p", "1");
        len[1] = redisFormatCommand (&c[1], "INCR %s", "p");
        len[2] = redisFormatCommand (&c[2], "HGET %s %s", "p", "x");   /* WRONGTYPE */
        len[3] = redisFormatCommand (&c[3], "WATCH %s", "p");
        len[4] = redisFormatCommand (&c[4], "GET %s", "p");
        pl_redis_cmd_t cmds[5];
        pl_redis_cmd_t *list[5];
        for (int i = 0; i < 5; i++) {
            cmds[i] = (pl_redis_cmd_t) { c[i], (size_t) len[i], NULL };
            list[i] = &cmds[i];
        }
        assert (pl_redis_starts_txn (c[3], (size_t) len[3]));
        assert (!pl_redis_starts_txn (c[4], (size_t) len[4]));
        assert (!pl_redis_in_txn (r));
        assert (pl_redis_send (r, list, 5, true) == 0);
        long got = 0;
        bool stale = false;
        while (got < 5) {
            struct pollfd pfd = { pl_redis_fd (r), POLLIN, 0 };
            assert (poll (&pfd, 1, 1000) == 1);
            long more = pl_redis_recv (r, list + got, (size_t) (5 - got), &stale);
            assert (more >= 0);
            got += more;
        }
        assert (cmds[1].reply->integer == 2 && strcmp (cmds[4].reply->str, "2") == 0);
        assert (cmds[2].reply->type == REDIS_REPLY_ERROR);
        assert (pl_redis_in_txn (r));       /* the WATCH */
        pl_redis_reset (r);
        assert (!pl_redis_in_txn (r));
        for (int i = 0; i < 5; i++) {
            freeReplyObject (cmds[i].reply);
            redisFreeCommand (c[i]);
        }
    }

    /* the defer hook takes commands, one or a whole pipeline at once */
    {
        s_deferred = 0;
        pl_redis_set_defer (r, s_test_defer, (void *) "take");
        assert (pl_redis_command (r, "GET %s", "p") == NULL);
        assert (s_deferred == 1 && s_deferred_n == 1);
        pl_redis_batch_t two = { 0 };
        pl_redis_batch_add (&two, "PING");
        pl_redis_batch_add (&two, "PING");
        assert (pl_redis_batch_run (r, &two) == -1);            /* taken, failed */
        assert (s_deferred == 2 && s_deferred_n == 2 && !two.reply[0] && !two.reply[1]);
        pl_redis_batch_clear (&two);
        pl_redis_set_defer (r, s_test_defer, NULL);     /* declines: runs now */
        assert (s_test_is (pl_redis_command (r, "GET %s", "p"), "2"));
        assert (s_deferred == 3);
        pl_redis_set_defer (r, NULL, NULL);
    }

    /* ?db= selects another database */
    char db_url[180];
    snprintf (db_url, sizeof db_url, "%s?db=3", url);
    pl_redis_t *r3 = pl_redis_new (db_url);
    assert (r3);
    reply = pl_redis_command (r3, "GET k");
    assert (reply && reply->type == REDIS_REPLY_NIL);
    freeReplyObject (reply);

    /* scripts: EVALSHA, and EVAL again after the server forgot them */
    PL_REDIS_SCRIPT (concat, "return KEYS[1] .. ARGV[1] .. redis.call('GET', KEYS[1])");
    const char *sargv[] = { "k", "+" };
    assert (s_test_is (pl_redis_script (r, &concat, 1, 2, sargv, NULL), "k+v2"));
    assert (strlen (concat.sha) == 40);
    assert (s_test_is (pl_redis_script (r, &concat, 1, 2, sargv, NULL), "k+v2"));
    assert (s_test_is (pl_redis_command (killer, "SCRIPT FLUSH"), "OK"));
    assert (s_test_is (pl_redis_script (r, &concat, 1, 2, sargv, NULL), "k+v2"));
    PL_REDIS_SCRIPT (broken, "return redis.call('NOPE')");
    reply = pl_redis_script (r, &broken, 0, 0, NULL, NULL);
    assert (reply && reply->type == REDIS_REPLY_ERROR);
    freeReplyObject (reply);

    /* a batch: one write, every reply in order, an error reply is one
     * command's; a stale connection is remade before anything is read */
    pl_redis_batch_t b = { 0 };
    pl_redis_batch_add (&b, "SET %s %b", "bk", "a\0b", (size_t) 3);
    pl_redis_batch_add (&b, "GET %s", "bk");
    pl_redis_batch_add (&b, "HGET %s %s", "bk", "f");                /* WRONGTYPE */
    const char *bargv[] = { "STRLEN", "bk" };
    pl_redis_batch_add_argv (&b, 2, bargv, NULL);
    long long id4 = s_test_int (pl_redis_command (r, "CLIENT ID"));
    assert (s_test_int (pl_redis_command (killer, "CLIENT KILL ID %lld", id4)) == 1);
    assert (pl_redis_batch_run (r, &b) == 0);
    assert (b.reply[0]->type == REDIS_REPLY_STATUS);
    assert (b.reply[1]->type == REDIS_REPLY_STRING && b.reply[1]->len == 3
         && memcmp (b.reply[1]->str, "a\0b", 3) == 0);
    assert (b.reply[2]->type == REDIS_REPLY_ERROR);
    assert (b.reply[3]->type == REDIS_REPLY_INTEGER && b.reply[3]->integer == 3);
    pl_redis_batch_clear (&b);
    assert (b.count == 0 && !b.failed);
    for (int i = 0; i <= PL_REDIS_BATCH_MAX; i++)
        pl_redis_batch_add (&b, "PING");
    assert (b.failed && b.count == PL_REDIS_BATCH_MAX);
    assert (pl_redis_batch_run (r, &b) == -1);              /* refused, unsent */
    assert (b.reply[0] == NULL);
    pl_redis_batch_clear (&b);

    /* the server goes away: NULL, not a crash; redis errors are replies */
    reply = pl_redis_command (r, "NOSUCHCOMMAND");
    assert (reply && reply->type == REDIS_REPLY_ERROR);
    freeReplyObject (reply);
    kill (server, SIGKILL);
    waitpid (server, NULL, 0);
    server = -1;
    assert (pl_redis_command (r, "PING") == NULL);
    assert (!pl_redis_connected (r));
    pl_redis_batch_add (&b, "PING");
    assert (pl_redis_batch_run (r, &b) == -1 && b.reply[0] == NULL);
    pl_redis_batch_clear (&b);
    pl_redis_destroy (&r3);
    pl_redis_destroy (&killer);
    pl_redis_destroy (&r);
cleanup:
    if (server > 0) {
        kill (server, SIGKILL);
        waitpid (server, NULL, 0);
    }
    signal (SIGPIPE, old_pipe);
    unlink (sock);
    char dump[160];
    snprintf (dump, sizeof dump, "%s/dump.rdb", dir);
    unlink (dump);
    rmdir (dir);
}

/* A fake Redis on a unix socket, in a child: for each connection in turn
 * it reads until it has seen want[i] commands "*1\r\n" (PING), answers the
 * first give[i] of them "+PONG" and closes. */
static pid_t
s_fake_server (const char *sock, const int *want, const int *give, int conns)
{
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    assert (strlen (sock) < sizeof addr.sun_path);
    memcpy (addr.sun_path, sock, strlen (sock) + 1);
    unlink (sock);
    assert (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0);
    assert (listen (fd, 4) == 0);
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid > 0) {
        close (fd);
        return pid;
    }
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    for (int i = 0; i < conns; i++) {
        int c = accept (fd, NULL, NULL);
        if (c < 0)
            _exit (1);
        char buf[4096];
        size_t got = 0;
        int seen = 0;
        while (seen < want[i]) {
            ssize_t n = read (c, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t) n;
            buf[got] = 0;
            seen = 0;
            for (const char *p = buf; (p = strstr (p, "*1\r\n")); p++)
                seen++;
        }
        for (int k = 0; k < give[i]; k++)
            if (write (c, "+PONG\r\n", 7) != 7)
                _exit (1);
        close (c);
    }
    _exit (0);
}

/* Batches when the connection breaks: mid-way, the replies read stand
 * and the rest are NULL (not sent again: they may have run), both
 * waiting (pl_redis_batch_run) and not (pl_redis_send / _recv); a stale
 * connection (closed before it read anything) is replaced and the whole
 * batch sent again, once. */
static void
s_test_pipeline_breaks (void)
{
    char dir[] = "/tmp/pl-redis-XXXXXX";
    assert (mkdtemp (dir));
    char sock[128], url[160];
    snprintf (sock, sizeof sock, "%s/fake.sock", dir);
    snprintf (url, sizeof url, "unix://%s", sock);
    void (*old_pipe) (int) = signal (SIGPIPE, SIG_IGN);
    char *ping;
    int len = redisFormatCommand (&ping, "PING");
    pl_redis_cmd_t cmds[4];
    pl_redis_cmd_t *list[4];
    for (int i = 0; i < 4; i++) {
        cmds[i] = (pl_redis_cmd_t) { ping, (size_t) len, NULL };
        list[i] = &cmds[i];
    }

    /* 1: two of four answered, then the connection closes */
    int want1[] = { 4 }, give1[] = { 2 };
    pid_t fake = s_fake_server (sock, want1, give1, 1);
    pl_redis_t *r = pl_redis_new (url);
    assert (r);
    pl_redis_batch_t b = { 0 };
    for (int i = 0; i < 4; i++)
        pl_redis_batch_add (&b, "PING");
    assert (pl_redis_batch_run (r, &b) == -1);
    assert (b.reply[0] && b.reply[1] && !b.reply[2] && !b.reply[3]);
    pl_redis_batch_clear (&b);
    waitpid (fake, NULL, 0);
    pl_redis_destroy (&r);

    /* 2: the same, not waiting: 2 replies, then the break */
    fake = s_fake_server (sock, want1, give1, 1);
    r = pl_redis_new (url);
    for (int i = 0; i < 4; i++)
        cmds[i].reply = NULL;
    assert (pl_redis_send (r, list, 4, true) == 0);
    long got = 0, more = 0;
    bool stale = false;
    while (more >= 0) {
        struct pollfd pfd = { pl_redis_fd (r), POLLIN, 0 };
        assert (poll (&pfd, 1, 2000) == 1);
        more = pl_redis_recv (r, list + got, (size_t) (4 - got), &stale);
        got += more > 0 ? more : 0;
    }
    assert (got == 2 && cmds[0].reply && cmds[1].reply && !cmds[2].reply);
    assert (!pl_redis_connected (r) && pl_redis_fd (r) == -1);
    freeReplyObject (cmds[0].reply);
    freeReplyObject (cmds[1].reply);
    waitpid (fake, NULL, 0);
    pl_redis_destroy (&r);

    /* 3: one pipeline served whole; the server then closes the idle
     * connection (a restart): the next one is sent again, on a second
     * connection, and served */
    int want2[] = { 1, 4 }, give2[] = { 1, 4 };
    fake = s_fake_server (sock, want2, give2, 2);
    r = pl_redis_new (url);
    pl_redis_batch_add (&b, "PING");
    assert (pl_redis_batch_run (r, &b) == 0);
    pl_redis_batch_clear (&b);
    /* wait until the fake has closed it (the fd reads EOF), on the
     * socket itself, not on a timer */
    struct pollfd pfd = { pl_redis_fd (r), POLLIN, 0 };
    assert (poll (&pfd, 1, 2000) == 1);
    for (int i = 0; i < 4; i++)
        pl_redis_batch_add (&b, "PING");
    assert (pl_redis_batch_run (r, &b) == 0);
    for (int i = 0; i < 4; i++)
        assert (b.reply[i] && strcmp (b.reply[i]->str, "PONG") == 0);
    pl_redis_batch_clear (&b);
    waitpid (fake, NULL, 0);
    pl_redis_destroy (&r);
    redisFreeCommand (ping);
    signal (SIGPIPE, old_pipe);
    unlink (sock);
    rmdir (dir);
}

void
pl_redis_test (bool verbose)
{
    if (verbose)
        printf (" * pl_redis: ");
    pl_redis__target_t t;
    assert (pl_redis__parse ("redis://127.0.0.1:6379/0", &t) == NULL);
    assert (!t.is_unix && strcmp (t.host, "127.0.0.1") == 0 && t.port == 6379 && t.db == 0);
    assert (pl_redis__parse ("redis://localhost", &t) == NULL);
    assert (strcmp (t.host, "localhost") == 0 && t.port == 6379 && t.db == 0);
    assert (!*t.password && !*t.user);
    assert (pl_redis__parse ("redis://h:1234", &t) == NULL);
    assert (strcmp (t.host, "h") == 0 && t.port == 1234 && t.db == 0);
    assert (pl_redis__parse ("redis://h/3", &t) == NULL);
    assert (strcmp (t.host, "h") == 0 && t.port == 6379 && t.db == 3);
    assert (pl_redis__parse ("redis://h:7/", &t) == NULL);
    assert (t.port == 7 && t.db == 0);
    assert (pl_redis__parse ("redis://:s3cr@t@h:1/2", &t) == NULL);
    assert (!*t.user && strcmp (t.password, "s3cr@t") == 0);
    assert (strcmp (t.host, "h") == 0 && t.port == 1 && t.db == 2);
    assert (pl_redis__parse ("redis://bob:pw@h", &t) == NULL);
    assert (strcmp (t.user, "bob") == 0 && strcmp (t.password, "pw") == 0);
    assert (pl_redis__parse ("redis://[::1]:7000/1", &t) == NULL);
    assert (strcmp (t.host, "::1") == 0 && t.port == 7000 && t.db == 1);
    assert (pl_redis__parse ("redis://[::1]", &t) == NULL);
    assert (strcmp (t.host, "::1") == 0 && t.port == 6379);
    assert (pl_redis__parse ("unix:///tmp/r.sock", &t) == NULL);
    assert (t.is_unix && strcmp (t.path, "/tmp/r.sock") == 0 && t.db == 0);
    assert (pl_redis__parse ("unix:///tmp/r.sock?db=5", &t) == NULL);
    assert (t.is_unix && strcmp (t.path, "/tmp/r.sock") == 0 && t.db == 5);

    char long_path[160] = "unix:///";
    memset (long_path + 8, 'p', 120);
    long_path[128] = 0;
    const char *bad[] = {
        "", "http://h", "redis://", "redis:///2", "redis://h:0", "redis://h:70000",
        "redis://h:12a", "redis://h:", "redis://h/x", "redis://h/1/2", "redis://h/-1",
        "redis://h?db=1", "redis://pw@h", "redis://:@h", "redis://[::1", "redis://[::1]x",
        "rediss://h", "unix://rel/path", "unix://", "unix:///", "unix:///p?db=x",
        "unix:///p?foo=1", "unix:///p?db=", long_path,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (verbose && pl_redis__parse (bad[i], &t) == NULL)
            printf ("\naccepted bad URL \"%s\"\n", bad[i]);
        assert (pl_redis__parse (bad[i], &t) != NULL);
    }

    /* the constructor refuses what the parser refuses, and masks secrets */
    pl_redis_t *r = pl_redis_new ("redis://h:99999");
    assert (r == NULL);
    r = pl_redis_new ("redis://bob:hunter2@h:1/2");
    assert (r);
    assert (strcmp (pl_redis_url (r), "redis://bob:***@h:1/2") == 0);
    assert (!pl_redis_connected (r));
    pl_redis_destroy (&r);
    pl_redis_destroy (&r);
    assert (r == NULL);

    /* an unreachable Redis: NULL at once, no crash, no connection left */
    r = pl_redis_new ("unix:///nonexistent-parley-dir/redis.sock");
    assert (r);
    redisReply *reply = pl_redis_command (r, "PING");
    assert (reply == NULL);
    reply = pl_redis_command (r, "SET %s %b", "k", "v", (size_t) 1);
    assert (reply == NULL);             /* tried again: a refusal is cheap */
    const char *argv[] = { "GET", "k" };
    assert (pl_redis_command_argv (r, 2, argv, NULL) == NULL);
    assert (!pl_redis_connected (r));
    pl_redis_reset (r);
    pl_redis_destroy (&r);

    char name[16];
    const char *cmd = "*2\r\n$5\r\nwatch\r\n$1\r\nk\r\n";
    pl_redis__command_name (cmd, strlen (cmd), name, sizeof name);
    assert (strcmp (name, "WATCH") == 0);

    s_test_live (verbose);
    s_test_pipeline_breaks ();
    if (verbose)
        printf ("OK\n");
}
