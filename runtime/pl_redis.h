/*  pl_redis - one Redis connection for a worker (hiredis).
 *
 *  Seen from a handler, every command is synchronous: it returns the
 *  reply. In the coroutine runtime (pl_worker_sched.c) the command is
 *  really handed to a defer hook, which parks the handler's coroutine
 *  until a round - one pipeline carrying the commands of every handler
 *  running - has brought its reply (pl_redis_send / pl_redis_recv, on the
 *  worker's poll loop). Outside a coroutine (PARLEY_WORKER_BATCH=0, the
 *  selftests) it blocks, bounded by the command timeout.
 *
 *  The connection is made lazily and remade when it breaks: a command on a
 *  stale connection (Redis restarted) reconnects once and is retried. A
 *  command that may already have run (a timeout) is never retried. When
 *  Redis is unreachable a command returns NULL after one connect attempt;
 *  after an attempt that took T ms, the next is made no sooner than T ms
 *  later (a refused connect is retried at once, a timing-out host costs at
 *  most half the worker's time). The outage is logged once, then at most
 *  every 10 s, so a worker keeps answering - with errors - and recovers by
 *  itself when Redis is back.
 *
 *  Transactions: WATCH and MULTI bind state to one connection. If the
 *  connection breaks inside one, nothing is retried; every command returns
 *  NULL until EXEC, DISCARD, UNWATCH or pl_redis_reset, so a half-made
 *  transaction can never be replayed on a new connection without its WATCH.
 *
 *  The process must ignore SIGPIPE (hiredis writes to the socket directly);
 *  pl_worker_main does.
 */
#ifndef PL_REDIS_H
#define PL_REDIS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "pl_metrics.h"

typedef struct _pl_redis_t pl_redis_t;

/* Parse url, without connecting:
 *   redis://[[user]:password@]host[:port][/db]   (port 6379, db 0; host may
 *                                                be [ipv6])
 *   unix:///absolute/path.sock[?db=N]
 * Returns NULL, after logging why, on a bad URL. */
pl_redis_t *pl_redis_new (const char *url);
void pl_redis_destroy (pl_redis_t **self_p);

/* Connect and command timeouts, in ms (defaults 1000 and 1000). */
void pl_redis_set_timeouts (pl_redis_t *self, int connect_ms, int command_ms);

/* Run one command (hiredis format: "SET %s %b", key, buf, len). Returns
 * the reply, which the caller frees with freeReplyObject, or NULL when
 * Redis is unreachable or the connection broke. A Redis error is a reply
 * of type REDIS_REPLY_ERROR, not NULL. */
redisReply *pl_redis_command (pl_redis_t *self, const char *fmt, ...);
redisReply *pl_redis_vcommand (pl_redis_t *self, const char *fmt, va_list ap);
redisReply *pl_redis_command_argv (pl_redis_t *self, int argc,
                                   const char **argv, const size_t *argvlen);

/* End whatever WATCH or MULTI the last user left open (DISCARD / UNWATCH),
 * and clear a broken transaction. The worker runtime calls it after every
 * handler, so a handler that bails out early leaves nothing behind. */
void pl_redis_reset (pl_redis_t *self);

/* A Lua script run with EVALSHA, falling back to EVAL when the server does
 * not have it cached (NOSCRIPT: a restarted or flushed Redis). Declare one
 * static per script: PL_REDIS_SCRIPT (name, "lua source"). The SHA1 is
 * computed on first use. */
typedef struct {
    const char *source;     /* the Lua text                          */
    char sha[41];           /* hex SHA1 of source, "" until first use */
} pl_redis_script_t;
#define PL_REDIS_SCRIPT(name, lua) static pl_redis_script_t name = { lua, "" }

/* Run script with numkeys keys followed by args: argv holds the keys then
 * the args (argc in all). Returns the reply (errors included, as for any
 * command) or NULL when Redis is unreachable. */
redisReply *pl_redis_script (pl_redis_t *self, pl_redis_script_t *script, int numkeys,
                             int argc, const char **argv, const size_t *argvlen);

/* Several commands sent together and answered together: one write and one
 * read (one round trip; in the coroutine runtime, the handler parks once
 * and they ride in one round shared with the other handlers'). For reads that do not depend on each other, e.g. an
 * entity, its holder and the caller's role. Not inside WATCH or MULTI.
 *
 *     pl_redis_batch_t b = { 0 };
 *     pl_redis_batch_add (&b, "GET " PL_KEY_ENTITY, "actor", id);
 *     pl_redis_batch_add (&b, "HGET " PL_KEY_CAMPAIGN_MEMBERS " %s", cid, uid);
 *     if (pl_redis_batch_run (redis, &b) == 0) ... b.reply[0], b.reply[1] ...
 *     pl_redis_batch_clear (&b);
 *
 * At most PL_REDIS_BATCH_MAX commands; adding past it, or running out of
 * memory while formatting, marks the batch failed and run refuses it. */
#define PL_REDIS_BATCH_MAX 64
typedef struct {
    int count;                              /* commands added              */
    bool failed;                            /* too many, or out of memory  */
    char *cmd[PL_REDIS_BATCH_MAX];          /* RESP-formatted, owned       */
    size_t len[PL_REDIS_BATCH_MAX];
    redisReply *reply[PL_REDIS_BATCH_MAX];  /* after run; NULL: none       */
} pl_redis_batch_t;

void pl_redis_batch_add (pl_redis_batch_t *b, const char *fmt, ...);
void pl_redis_batch_vadd (pl_redis_batch_t *b, const char *fmt, va_list ap);
void pl_redis_batch_add_argv (pl_redis_batch_t *b, int argc, const char **argv,
                              const size_t *argvlen);
/* Send every command, then read every reply into b->reply. Returns 0 when
 * all replies arrived (Redis error replies included, as for any command),
 * -1 when the batch was failed, Redis is unreachable or the connection
 * broke (the replies read before stand, the rest are NULL). A stale
 * connection is remade and the batch sent again only when no reply had
 * been read. */
int pl_redis_batch_run (pl_redis_t *self, pl_redis_batch_t *b);
/* Free the commands and the replies; b can be reused. */
void pl_redis_batch_clear (pl_redis_batch_t *b);

/* ---- pipelining ------------------------------------------------------- */

/* One command of a pipeline: its RESP text in, its reply out. */
typedef struct {
    const char *cmd;                /* formatted command (borrowed)        */
    size_t len;                     /* its length                          */
    redisReply *reply;              /* set once read; NULL: failed         */
} pl_redis_cmd_t;

/* The defer hook: when set, each command (pl_redis_command..., scripts,
 * a whole pl_redis_batch_run at once; not pl_redis_reset) is first offered to it,
 * formatted. If it returns true it has set every cmds[i]->reply (NULL:
 * failed) and nothing else is done: the worker parks the calling
 * coroutine there until a round has carried the commands. If it returns
 * false (not in a coroutine) they run now, synchronously. */
typedef bool (pl_redis_defer_fn) (void *arg, pl_redis_cmd_t *const *cmds, size_t n);
void pl_redis_set_defer (pl_redis_t *self, pl_redis_defer_fn *fn, void *arg);

/* True while the connection holds a WATCH or a MULTI, or lost one (every
 * command fails until it ends). */
bool pl_redis_in_txn (pl_redis_t *self);
/* True when the formatted command is WATCH or MULTI: it begins a
 * transaction when the connection holds none. */
bool pl_redis_starts_txn (const char *cmd, size_t len);

/* Rounds without waiting: the worker keeps rounds in flight and polls the
 * connection's fd in its own loop. */
/* The connection's fd, or -1 when there is none. */
int pl_redis_fd (pl_redis_t *self);
/* Connect when there is no connection, then write n commands (one write;
 * their replies come through pl_redis_recv). idle: nothing else is in
 * flight, so a stale connection may be replaced and the write made again.
 * Returns 0, or -1 when they could not be sent: no connection, or it
 * broke (logged), and then every command in flight on it is lost too. */
int pl_redis_send (pl_redis_t *self, pl_redis_cmd_t *const *cmds, size_t n, bool idle);
/* Read what has arrived (call it when the fd is readable): the replies of
 * the first commands of inflight (the caller's FIFO of the n commands in
 * flight, oldest first), tracking transactions. Returns how many were
 * filled, or -1 when the connection broke (logged and dropped: the caller
 * fails what is in flight); *stale says it broke the way a connection
 * closed before it read anything does (EOF, ECONNRESET). */
long pl_redis_recv (pl_redis_t *self, pl_redis_cmd_t *const *inflight, size_t n, bool *stale);
/* Drop the connection (a reply overdue): logged; what is in flight is lost. */
void pl_redis_abort (pl_redis_t *self, const char *why);
/* The command timeout in ms (pl_redis_set_timeouts). */
int pl_redis_command_ms (pl_redis_t *self);

/* True when a connection is currently open (it may still be stale). */
bool pl_redis_connected (pl_redis_t *self);

/* ---- metrics ---------------------------------------------------------- */

/* Count into metrics (borrowed: it outlives the connection; NULL stops):
 * declares parley_worker_redis_duration_seconds (a histogram of round
 * trips: one command, or one batch, from its write to its last reply),
 * parley_worker_redis_errors_total (failures: a connect refused or timed
 * out, a connection that broke, a reply overdue) and
 * parley_worker_redis_reconnects_total (connections made again after the
 * first). Returns 0, or -1 when the registry refused the families. */
int pl_redis_set_metrics (pl_redis_t *self, pl_metrics_t *metrics);
/* One round trip of seconds, for the worker's pipelined rounds (which
 * pl_redis_send / pl_redis_recv carry but do not time). */
void pl_redis_observe (pl_redis_t *self, double seconds);

/* The URL with any password masked, for logs. Borrowed. */
const char *pl_redis_url (pl_redis_t *self);

void pl_redis_test (bool verbose);

#endif
