/*  pl_worker - the worker runtime: everything a domain worker is not.
 *
 *  A domain worker is only its handlers (STYLE.md, rule 7). This module
 *  does the rest: it registers with the broker (proto/README.md, Backend),
 *  keeps the heartbeat both ways, re-registers when the broker restarts or
 *  says BYE, dispatches each REQ to the handler of its event, sends the
 *  reply, publishes the handler's events on the event bus (proto/README.md,
 *  Event bus) after the reply, and owns the Redis connection.
 *
 *  Handlers run on the worker's only thread, inside pl_worker_run's loop,
 *  up to the credit of them at once: each in a coroutine of its own
 *  (pl_worker_sched.c). A handler is plain synchronous C, but every Redis
 *  command it issues (pl_call_command, pl_call_script, a pl_redis_* call
 *  on pl_call_redis) yields: the handler is parked, and the commands of
 *  every parked handler go to Redis as one pipelined round while the loop
 *  keeps polling. So between two of its Redis calls other handlers run,
 *  and what it read may have changed: a read-decide-write must commit
 *  with a compare-and-set script, or WATCH what it read (a handler in
 *  WATCH/MULTI has the connection to itself until its transaction ends).
 *  Two requests of one client connection never overlap: the later starts
 *  once the earlier has been answered. Replies go out as handlers end;
 *  the events of calls that committed (pl_call_commit, which pl_txn_commit
 *  calls) go out in the order their writes committed, so two updates of
 *  one entity are announced in version order whichever handler ends
 *  first, and such a call's reply waits with its events (the client never
 *  has the ack before the events it acknowledges). PARLEY_WORKER_BATCH=0
 *  runs one request at a time instead.
 *
 *  A handler must answer exactly once with pl_call_ok or pl_call_error (a
 *  handler that returns without answering gets INTERNAL; answering twice
 *  is an assert). It must never block (no sleep, no blocking I/O of its
 *  own): between its Redis calls it holds the only thread, and while it
 *  runs no heartbeat goes out and nobody else moves. Its stack is 256 KB
 *  (no deep recursion; arguments nest at most 64 levels).
 *
 *      static void
 *      s_ping (pl_call_t *call, const cJSON *arg)
 *      {
 *          pl_call_ok (call, cJSON_CreateString ("pong"));
 *      }
 *      static const pl_handler_t s_handlers[] = { { PL_EV_PING, s_ping } };
 *      int main (void) { return pl_worker_main ("ping", s_handlers, 1); }
 *
 *  A worker may also listen to the event bus (pl_worker_main_opts with
 *  subscribe and on_bus; pl_worker_sub.c): each event published to a room
 *  whose name starts with one of its prefixes runs on_bus, as a call that
 *  answers nobody, beside the handlers. The bus is lossy (see pl_bus_fn):
 *  use it to learn that something changed, and read the truth from Redis.
 *
 *      static void
 *      s_heard (pl_call_t *call, const char *room, pl_push_id_t push,
 *               const cJSON *payload)
 *      {
 *          if (push == PL_PUSH_ACTOR_UPDATED)
 *              ... re-read the actor, decide, pl_txn_commit ...
 *      }
 *      static const char *const s_prefixes[] = { "campaign:", NULL };
 *      pl_worker_extra_t extra = { .subscribe = s_prefixes, .on_bus = s_heard };
 *      return pl_worker_main_opts ("rules", s_handlers, n, &extra);
 */
#ifndef PL_WORKER_H
#define PL_WORKER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "pl_proto.h"
#include "pl_redis.h"
#include "pl_config.h"

typedef struct _pl_worker_t pl_worker_t;
typedef struct _pl_call_t pl_call_t;        /* one request being handled */

/* A handler. Runs on the worker loop. arg is the client's argument, NULL
 * when it sent none; it is borrowed for the call. */
typedef void (pl_handler_fn) (pl_call_t *call, const cJSON *arg);

typedef struct {
    pl_event_id_t event;                    /* a row of proto/events.def */
    pl_handler_fn *fn;                      /* its handler               */
} pl_handler_t;

/* A periodic task (pl_worker_main_tick): runs on the worker loop every
 * tick_ms, as a coroutine beside the handlers (its Redis commands share
 * their rounds; a turn is skipped while the last one still runs). It gets a call that answers nobody: pl_call_redis,
 * pl_call_command... and pl_call_publish work as in a handler, and its
 * events go out when it returns unless it called pl_call_error or a Redis
 * command failed (before any pl_call_commit). pl_call_caller is empty;
 * rooms directives are refused. */
typedef void (pl_task_fn) (pl_call_t *call);

/* An event heard on the event bus: a worker's subscription (the
 * subscribe prefixes of pl_worker_extra_t / pl_worker_opts_t). Runs on
 * the worker loop as a coroutine call that answers nobody, like the
 * periodic task: pl_call_command, pl_call_script, pl_txn_commit (with its
 * conflict reruns) and pl_call_publish work, and its events go out when
 * it returns unless it failed before committing; pl_call_caller is empty
 * (until pl_call_act_as), pl_call_event asserts (pl_call_name names the
 * call), room directives are refused. room is the
 * topic without its trailing NUL (it holds no NUL: a topic with one is
 * dropped), push the push's row of proto/events.def (a name the table
 * does not know is dropped), payload its data (borrowed for the call;
 * never NULL: a packet without data gives a JSON null).
 *
 * Delivery is at most once and lossy by design: the bus is PUB/SUB, so an
 * event published while the worker was not connected (starting, or the
 * broker restarting) is never heard, and when the worker falls behind
 * its bus calls are capped (pl_worker_opts_t.bus_max, the credit by
 * default): while every bus slot is busy it stops reading its SUB socket, ZeroMQ
 * queues up to the high-water mark (1000 messages at each end) and the
 * event proxy then drops what this subscriber cannot take. A handler of
 * the bus must therefore treat an event as a hint ("this entity changed,
 * go and look"), re-read what it needs from Redis and be idempotent
 * (the same event may also arrive twice: e.g. one update announced to
 * campaign:<id> and to campaign:<id>:gm). */
typedef void (pl_bus_fn) (pl_call_t *call, const char *room, pl_push_id_t push,
                          const cJSON *payload);

/* Most rooms one pl_call_publish_except may leave out. */
#define PL_CALL_EXCEPT_MAX 8

/* Most published events one call may hold (a removal from a campaign
 * evicts and announces per room; a presence sweep announces per user, so
 * the budget is generous: 256 x 48 bytes on the handler's stack). Past it, the extra ones are
 * dropped with an error log (a handler that publishes more has a bug). */
#define PL_CALL_PUBLISH_MAX 256

/* ---- the process ---------------------------------------------------- */

/* The whole worker process: logging, config, signals, Redis, broker, event
 * bus, loop. Stops on SIGINT/SIGTERM, saying BYE to the broker. Returns
 * the process exit code. */
int pl_worker_main (const char *service, const pl_handler_t *handlers, size_t count);
/* The same, with a periodic task run every tick_ms (e.g. a sweep). */
int pl_worker_main_tick (const char *service, const pl_handler_t *handlers, size_t count,
                         pl_task_fn *tick, int tick_ms);

/* What a worker may have besides its handlers (pl_worker_main_opts).
 * Zero-initialise it and set what you use. */
typedef struct {
    pl_task_fn *tick;                       /* periodic task, or NULL         */
    int tick_ms;                            /* its period (<= 0: 1000)        */
    const char *const *subscribe;           /* NULL-terminated topic prefixes
                                               to hear on the event bus (e.g.
                                               "campaign:"), or NULL: none   */
    pl_bus_fn *on_bus;                      /* called for each event heard   */
} pl_worker_extra_t;

/* pl_worker_main with extras: a periodic task, a subscription to the event
 * bus (the proxy's XPUB, PARLEY_EVENTS_XPUB, the gateways' side). */
int pl_worker_main_opts (const char *service, const pl_handler_t *handlers, size_t count,
                         const pl_worker_extra_t *extra);

/* ---- the worker object (pl_worker_main uses it; tests drive it) ----- */

typedef struct {
    const char *service;                    /* broker service name            */
    const pl_handler_t *handlers;           /* one per event of the service   */
    size_t count;                           /* rows in handlers               */
    const char *broker_endpoint;            /* broker backend ROUTER          */
    const char *events_endpoint;            /* event proxy XSUB               */
    const char *redis_url;                  /* NULL: no Redis (handlers get NULL) */
    int heartbeat_ms;                       /* PARLEY_HEARTBEAT_MS            */
    int liveness;                           /* PARLEY_HEARTBEAT_LIVENESS      */
    int credit;                             /* PARLEY_WORKER_CREDIT           */
    int signal_fd;                          /* readable = stop (a signalfd), or -1 */
    pl_config_t *config;                    /* handlers' settings (borrowed);
                                               NULL: the worker reads the environment */
    pl_task_fn *tick;                       /* periodic task, or NULL         */
    int tick_ms;                            /* its period (<= 0: 1000)        */
    const char *bus_endpoint;               /* event proxy XPUB; needed only
                                               with subscribe                 */
    const char *const *subscribe;           /* topic prefixes, NULL-terminated,
                                               each 1..255 bytes, or NULL     */
    pl_bus_fn *on_bus;                      /* required with subscribe        */
    int bus_max;                            /* bus calls at once (<= 0: the
                                               credit); past it the SUB is not
                                               read (pl_bus_fn: lossy)         */
    bool redis_before_ready;                /* send READY only once Redis
                                               answers PING (and again before
                                               every re-registration): a
                                               worker that cannot reach its
                                               storage takes no traffic.
                                               pl_worker_main sets it        */
} pl_worker_opts_t;

/* True when handlers cover every event of service in proto/events.def,
 * each exactly once, and nothing else. pl_worker_new asserts it. */
bool pl_worker_handlers_valid (const char *service, const pl_handler_t *handlers,
                               size_t count);

/* Open the sockets and send READY. Returns NULL when the endpoints or the
 * Redis URL are bad (logged). Handler table errors are asserts. */
pl_worker_t *pl_worker_new (const pl_worker_opts_t *opts);
/* Say BYE to the broker, close everything. Safe on NULL and twice. */
void pl_worker_destroy (pl_worker_t **self_p);

/* Run the loop until stopped (signal_fd or pl_worker_stop) or until
 * timeout_ms has passed (-1: no limit). Returns 1 when stopped, 0 when the
 * time ran out. Idle time is spent in zmq_poll. */
int pl_worker_run (pl_worker_t *self, int timeout_ms);
/* Make pl_worker_run return 1. For tests and embedders. */
void pl_worker_stop (pl_worker_t *self);

/* Counters, for tests and logs. */
typedef struct {
    uint64_t requests;                      /* REQs dispatched                */
    uint64_t registrations;                 /* READYs sent (1 + reconnects)   */
    uint64_t heartbeats_sent;               /* HBs sent                       */
    uint64_t dropped;                       /* malformed messages dropped     */
    uint64_t published;                     /* events sent on the bus         */
    uint64_t retries;                       /* handler runs again after a conflict */
    uint64_t rounds;                        /* Redis rounds written (coroutine runtime) */
    uint64_t round_commands;                /* commands those rounds carried  */
    uint64_t bus_heard;                     /* bus events given to on_bus     */
    uint64_t bus_dropped;                   /* malformed / unknown bus events */
} pl_worker_stats_t;
pl_worker_stats_t pl_worker_stats (pl_worker_t *self);
/* The worker's metrics registry (borrowed; for tests and embedders): what
 * its HB carries to the broker every PARLEY_METRICS_PUSH_MS. */
pl_metrics_t *pl_worker_metrics (pl_worker_t *self);

/* ---- inside a handler ----------------------------------------------- */

/* Who sent the request (user id, name, gateway, connection). Borrowed. */
const pl_caller_t *pl_call_caller (pl_call_t *call);
/* Act as user (name: a display name, or NULL) for the rest of a call that
 * answers nobody (the periodic task, a bus call): pl_call_caller names
 * them from now on, so the domain's rules of who may do what apply to
 * this user exactly as to a request of theirs (e.g. the rules worker
 * applies a rule with the authority of the GM who made it; a rerun after
 * a conflict starts as nobody again). The call has
 * no connection: nothing is left out as its origin. Asserts on a request
 * (a request's caller is its sender). Copies both strings; false when
 * out of memory. */
bool pl_call_act_as (pl_call_t *call, const char *user, const char *name);
/* The event being handled: a request's only. The periodic task and a bus
 * call handle no event of the table (asserts): a message naming what a
 * call does takes pl_call_name. */
pl_event_id_t pl_call_event (pl_call_t *call);
/* What the call is, for messages and log lines (borrowed, valid for the
 * call): a request's event name ("actor:update"), "periodic task", or for
 * a bus call "bus " and the push heard ("bus actor:updated"). */
const char *pl_call_name (pl_call_t *call);
/* The process configuration, for handler limits (never NULL). */
pl_config_t *pl_call_config (pl_call_t *call);
/* The worker's Redis connection, or NULL when it has none. */
pl_redis_t *pl_call_redis (pl_call_t *call);

/* Rooms. The requesting connection joins or leaves room: the directives
 * ride on the reply, and its gateway applies them before it delivers the
 * ack (proto/README.md). Only a successful answer carries them. */
void pl_call_join (pl_call_t *call, const char *room);
void pl_call_leave (pl_call_t *call, const char *room);
/* Every connection in room audience, on every gateway, leaves room (a
 * control message on the event bus, sent after the reply of a successful
 * call): e.g. audience "user:bob", room "campaign:7" when bob is removed. */
void pl_call_evict (pl_call_t *call, const char *audience, const char *room);
/* Every connection in room audience that is also in room within, on every
 * gateway, joins room (a control as pl_call_evict's): e.g. audience
 * "user:bob", within "campaign:7", room "campaign:7:gm" when bob becomes
 * a GM of campaign 7, so his subscribed tabs hear the GMs' events. */
void pl_call_grant (pl_call_t *call, const char *audience, const char *within,
                    const char *room);

/* Run a Redis command for the handler. A NULL return means it failed -
 * Redis unreachable, a Redis error reply, or an EXEC that held an error -
 * and the call has already been answered INTERNAL ("storage unavailable" /
 * "storage error"): the handler just returns. Otherwise the caller frees
 * the reply with freeReplyObject. A nil EXEC (a WATCHed key changed) is a
 * normal reply of type REDIS_REPLY_NIL. */
redisReply *pl_call_command (pl_call_t *call, const char *fmt, ...);
redisReply *pl_call_vcommand (pl_call_t *call, const char *fmt, va_list ap);
redisReply *pl_call_command_argv (pl_call_t *call, int argc, const char **argv,
                                  const size_t *argvlen);
/* pl_call_command for a reply the handler does not need (MULTI, a queued
 * SET...). Returns true on success; false means answered INTERNAL. */
bool pl_call_run (pl_call_t *call, const char *fmt, ...);
/* Run a batch of commands (pl_redis_batch_t) for the handler: one round
 * trip for all. Returns true when every reply arrived and none is an error
 * (they are in b->reply; the handler calls pl_redis_batch_clear). False
 * means the call has been answered INTERNAL, as for pl_call_command. */
bool pl_call_batch (pl_call_t *call, pl_redis_batch_t *b);
/* EXEC the handler's MULTI. Returns 1 when it ran, 0 when a WATCHed key
 * changed (a nil reply: try again), -1 when it failed (answered INTERNAL). */
int pl_call_exec (pl_call_t *call);
/* Run a Lua script (pl_redis_script) for the handler; NULL as above. */
redisReply *pl_call_script (pl_call_t *call, pl_redis_script_t *script, int numkeys,
                            int argc, const char **argv, const size_t *argvlen);

/* Say the handler's write has committed (its EXEC ran): what is left is
 * follow-up work (e.g. a presence cleanup) that cannot undo it, so it must
 * not turn the call into a failure. From here on:
 *  - a Redis failure is logged, not answered: pl_call_command... still
 *    return NULL / false / -1, and the handler carries on and answers;
 *  - the events held (pl_call_publish, pl_call_evict), before and after,
 *    go out even if the call ends up answering an error (a helper that
 *    ran out of memory), since they describe a change that happened.
 * Directives still ride only on a successful answer. Without it, a retry
 * after an INTERNAL answer would find the change made and announce
 * nothing (e.g. a removed member never evicted). */
void pl_call_commit (pl_call_t *call);

/* Say the handler's optimistic write lost a race: what it read changed
 * before its compare-and-set commit (pl_txn_commit says so and calls this
 * itself). The handler returns without answering; the runtime drops what
 * the attempt held (events, room directives) and runs the handler again
 * from the start, with the same argument, up to PL_CALL_RETRY_MAX more
 * times. Past that the call is answered CONFLICT ("busy: try again"), and
 * nothing was written. Handlers never write retry loops themselves. */
#define PL_CALL_RETRY_MAX 16
void pl_call_conflict (pl_call_t *call);
/* How many times this call has been run again after a conflict (0 on the
 * first run). */
int pl_call_attempt (pl_call_t *call);

/* Answer success. Takes ownership of data (NULL: no data). */
void pl_call_ok (pl_call_t *call, cJSON *data);
/* Answer failure with a printf-style message. */
void pl_call_error (pl_call_t *call, pl_err_t err, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Answer failure with extra members in the error object (fields: an
 * object, owned, may be NULL), e.g. {"currentVersion":"7"}. */
void pl_call_error_with (pl_call_t *call, pl_err_t err, cJSON *fields, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* Answer success with a whole ack body instead of {success, data}: body
 * (an object, owned) gets "success": true, e.g. {success, newVersion}. */
void pl_call_ok_body (pl_call_t *call, cJSON *body);
/* True once the call has been answered. */
bool pl_call_answered (pl_call_t *call);

/* Publish push to room after the reply has been sent. Takes ownership of
 * payload. exclude_origin leaves out the caller's own connection. Events
 * are sent in the order published, and only if the call succeeded: an
 * error answer drops them (a failed write changed nothing to announce),
 * unless the call had committed (pl_call_commit). */
void pl_call_publish (pl_call_t *call, const char *room, pl_push_id_t push,
                      cJSON *payload, bool exclude_origin);
/* pl_call_publish, leaving out every connection that is also in one of the
 * rooms of except (NULL-terminated, at most PL_CALL_EXCEPT_MAX): e.g. to
 * campaign:7 except campaign:7:gm and user:bob, the players other than bob
 * (proto/README.md, Event bus, frame 6). */
void pl_call_publish_except (pl_call_t *call, const char *room, pl_push_id_t push,
                             cJSON *payload, bool exclude_origin,
                             const char *const *except);

/* Run the periodic task no later than mono_ms (pl_id_mono_ms's clock),
 * then again every tick_ms: the earliest wake asked for wins, and tick_ms
 * stays the cap on how long it sleeps. A handler calls it when it stored
 * work that falls due before the task's next turn (a scheduled event); the
 * task calls it for its next due work. A wake asked for by a handler while
 * the task runs makes it run again as soon as it ends (what the running
 * turn read may predate the handler's write). No periodic task: no-op. */
void pl_call_wake_at (pl_call_t *call, int64_t mono_ms);

/* True while the worker holds events of calls that have ended, waiting
 * for an earlier commit (the coroutine runtime sends events in commit
 * order). When false, every call that has ended has had its events sent
 * (or dropped, when it failed without committing). The scheduler's
 * acknowledgement of fired events waits on it. */
bool pl_call_events_held (const pl_call_t *call);

void pl_worker_test (bool verbose);

#endif
