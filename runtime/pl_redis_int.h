/*  pl_redis internals shared by pl_redis.c, pl_redis_round.c and the
 *  selftests (pl_redis_test.c). */
#ifndef PL_REDIS_INT_H
#define PL_REDIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pl_redis.h"

#define PL_REDIS__HOST_MAX      256
#define PL_REDIS__PATH_MAX      108     /* sun_path, NUL included         */
#define PL_REDIS__SECRET_MAX    256

/* Where to connect, from the URL. */
typedef struct {
    bool is_unix;                           /* unix:// (path) or redis:// (host) */
    char host[PL_REDIS__HOST_MAX];          /* redis:// host, brackets removed   */
    int port;                               /* redis:// port                     */
    char path[PL_REDIS__PATH_MAX];          /* unix:// socket path               */
    long db;                                /* SELECT this after connecting      */
    char user[PL_REDIS__SECRET_MAX];        /* ACL user for AUTH, or ""          */
    char password[PL_REDIS__SECRET_MAX];    /* AUTH password, or "" for none     */
} pl_redis__target_t;

/* One connection (pl_redis.h). */
struct _pl_redis_t {
    pl_redis__target_t target;      /* parsed URL                          */
    char *shown_url;                /* URL with the password masked        */
    redisContext *ctx;              /* open connection, or NULL            */
    int connect_ms;                 /* connect timeout                     */
    int command_ms;                 /* per-command socket timeout          */
    int64_t retry_at;               /* mono ms: no connect attempt before  */
    bool ever_connected;            /* to say "connected" vs "reconnected" */
    bool down;                      /* the outage has been logged          */
    int64_t down_logged_at;         /* mono ms of the last outage log line */
    unsigned long failures;         /* failed attempts since the outage    */
    bool watching;                  /* WATCH active on ctx                 */
    bool in_multi;                  /* MULTI open on ctx                   */
    bool txn_lost;                  /* ctx broke inside WATCH/MULTI        */
    pl_redis_defer_fn *defer;       /* takes commands instead (coroutines) */
    void *defer_arg;                /* its argument                        */
    pl_metrics_t *metrics;          /* round trips, errors, reconnects go
                                       here (borrowed), or NULL            */
};

/* Open the connection, authenticate, select the db. Returns 0 or -1. */
int pl_redis__connect (pl_redis_t *self);
/* Close it: no transaction survives. */
void pl_redis__drop (pl_redis_t *self);
/* Log a failure: the first of an outage at once, then every 10 s. */
void pl_redis__failed (pl_redis_t *self, const char *what, const char *detail);
/* Track WATCH / MULTI / EXEC from a command's name and reply. */
void pl_redis__track (pl_redis_t *self, const char *name, const redisReply *reply);

/* Fill *t from url. Returns NULL, or why the URL is bad. */
const char *pl_redis__parse (const char *url, pl_redis__target_t *t);

/* The command name of a RESP-formatted command ("*N\r\n$L\r\nNAME\r\n"),
 * upper-cased into buf (size bytes; "" when cmd is not one). */
void pl_redis__command_name (const char *cmd, size_t len, char *buf, size_t size);

/* Selftest helper (pl_redis_test.c; other runtime selftests use it):
 * start a private redis-server on unix socket sock with its files in dir,
 * and wait on its stdout until it is ready. It dies with the test
 * process. Returns its pid, or -1 when there is no redis-server to run
 * (the live tests are then skipped). */
pid_t pl_redis__test_server (const char *dir, const char *sock);
/* A live selftest's private redis-server (pl_redis__test_start). */
typedef struct {
    char dir[64];                   /* its fresh /tmp directory            */
    char sock[128];                 /* its unix socket there               */
    char url[160];                  /* "unix://<sock>"                     */
    pid_t pid;                      /* -1: none (the live tests are skipped) */
    void (*old_pipe) (int);         /* SIGPIPE's handler before            */
} pl_redis__test_t;
/* Make /tmp/pl-<name>-XXXXXX, ignore SIGPIPE, and start the server there.
 * Returns true when it runs; false (said when verbose) when there is no
 * redis-server: skip the live tests, and still call pl_redis__test_stop. */
bool pl_redis__test_start (pl_redis__test_t *t, const char *name, bool verbose);
/* Kill the server unless pid is -1 already, restore SIGPIPE, and remove
 * the files and the directory. */
void pl_redis__test_stop (pl_redis__test_t *t);

#endif
