/*  pl_redis internals shared with its selftest (pl_redis_test.c). */
#ifndef PL_REDIS_INT_H
#define PL_REDIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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
