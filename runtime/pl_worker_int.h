/*  pl_worker_int - what the worker loop (pl_worker.c), the coroutine
 *  scheduler (pl_worker_sched.c), the in-handler call API (pl_call.c) and
 *  the worker's other parts (pl_worker_req.c, pl_worker_sub.c,
 *  pl_worker_wake.c) share: the worker, the call and a request's slot.
 *  Internal to runtime/: names are pl_worker__*.
 */
#ifndef PL_WORKER_INT_H
#define PL_WORKER_INT_H

#include "pl_worker.h"
#include "pl_coro.h"
#include "pl_metrics.h"
#include "pl_zmsg.h"

/* One published event, held until the reply has gone. */
typedef struct {
    char *room;                     /* topic without its NUL               */
    const char *kind;               /* PL_CMD_EVENT or PL_CMD_CONTROL      */
    char *origin;                   /* "<gw>/<conn>" to leave out, or ""   */
    char *packet;                   /* ["<push>", payload] JSON text, or
                                       {"leave":[..]} for a control        */
    char *except;                   /* JSON array of rooms whose members
                                       are left out, or NULL               */
} pl_worker__pub_t;

struct _pl_call_t {
    pl_worker_t *worker;            /* whose handler runs                  */
    pl_event_id_t event;            /* the event being handled             */
    bool task;                      /* a periodic task, not a request      */
    bool bus;                       /* an event heard on the bus (task too) */
    const char *name;               /* a bus call's pl_call_name (its slot's
                                       event), else NULL                   */
    pl_caller_t caller;             /* decoded ctx frame                   */
    char *reply;                    /* ack body once answered, else NULL   */
    bool failed;                    /* answered with an error              */
    bool committed;                 /* pl_call_commit: the write is done   */
    bool conflict;                  /* pl_call_conflict: run it again      */
    int attempt;                    /* runs after a conflict so far        */
    pl_err_t err;                   /* the error it answered (failed)      */
    uint64_t reply_pos;             /* position on the Redis connection of
                                       the last reply it got (the coroutine
                                       runtime counts them; 0: not counted) */
    uint64_t commit_pos;            /* reply_pos at its first pl_call_commit:
                                       where its write committed; its events
                                       go out in that order (0: unordered) */
    cJSON *directives;              /* {"join":[..],"leave":[..]} or NULL  */
    size_t npub;                    /* events held in pub                  */
    pl_worker__pub_t pub[PL_CALL_PUBLISH_MAX];   /* sent after the reply, in order  */
};

typedef struct _pl_worker__sched_t pl_worker__sched_t;

/* Events of a committed call held back until every call that committed
 * before it has published (pl_worker__events_release), with its REP: the
 * client must not see the ack before the events (it may send the next
 * update on it, to a worker that publishes first). */
#define PL_WORKER__REP_PARTS 4      /* identity · request id · reply · [directives] */
typedef struct {
    uint64_t pos;                   /* the call's commit_pos               */
    size_t npub;
    pl_worker__pub_t *pub;          /* owned                               */
    int nrep;                       /* REP parts held; 0: none             */
    char *rep;                      /* owned: the parts, one after another */
    size_t rep_len[PL_WORKER__REP_PARTS];
} pl_worker__held_t;

struct _pl_worker_t {
    char *service;                  /* broker service name                 */
    pl_handler_fn *handler[PL_EV_COUNT];    /* by event; NULL: not ours    */
    char *broker_endpoint;          /* broker backend ROUTER               */
    char *events_endpoint;          /* event proxy XSUB                    */
    int heartbeat_ms;               /* HB interval                         */
    int liveness;                   /* silent intervals before reconnecting */
    int credit;                     /* announced in READY                  */
    int signal_fd;                  /* readable = stop; -1 for none        */
    void *zctx;                     /* our own ZeroMQ context              */
    void *broker;                   /* DEALER; NULL between reconnects     */
    void *events;                   /* PUB to the event proxy              */
    pl_redis_t *redis;              /* NULL when opts gave no URL          */
    pl_config_t *config;            /* handlers' settings                  */
    pl_config_t *own_config;        /* set when we loaded config ourselves */
    int64_t broker_expiry;          /* mono ms: broker dead if silent till */
    int64_t heartbeat_at;           /* mono ms: send HB if nothing sent    */
    bool ready_pending;             /* new socket: READY when connected    */
    bool registered;                /* broker has spoken since our READY   */
    bool redis_before_ready;        /* READY waits for Redis (opts)        */
    bool storage_ok;                /* Redis answered PING since the last
                                       broker (re)connect                  */
    bool storage_logged;            /* "waiting for Redis" said            */
    int64_t storage_at;             /* mono ms: next PING while waiting,
                                       INT64_MAX when not waiting          */
    bool lost_logged;               /* "broker lost" said for this outage  */
    bool stopped;                   /* pl_worker_run must return 1         */
    pl_task_fn *tick;               /* periodic task, or NULL              */
    int tick_ms;                    /* its period                          */
    int64_t tick_at;                /* mono ms: run it next                */
    int64_t wake_at;                /* mono ms: run it by then too
                                       (pl_call_wake_at), or INT64_MAX     */
    bool task_running;              /* it has started and not yet ended    */
    bool wake_after_task;           /* a wake came while it ran: run it
                                       again as soon as it ends            */
    pl_metrics_t *metrics;          /* its registry (pl_worker_metrics.c)  */
    char metrics_name[65];          /* process name: service-host-pid      */
    int64_t metrics_push_ms;        /* PARLEY_METRICS_PUSH_MS; 0: never    */
    int64_t metrics_at;             /* mono ms: the next HB carries a
                                       snapshot, INT64_MAX: never          */
    pl_worker_stats_t stats;        /* counters                            */
    pl_worker__sched_t *sched;      /* the coroutine scheduler, or NULL:
                                       one request at a time (PARLEY_WORKER_BATCH=0) */
    pl_worker__held_t *held;        /* committed calls' events waiting for
                                       an earlier commit's, by pos         */
    size_t nheld, held_cap;
    /* the bus subscription (pl_worker_sub.c) */
    void *bus;                      /* SUB to the event proxy's XPUB, or NULL */
    pl_bus_fn *on_bus;              /* its handler                         */
    int bus_max;                    /* bus calls at once                   */
};

/* After a handler (or task) has run: when it called pl_call_conflict and
 * did not answer, drop what the attempt held and say whether to run it
 * again; past PL_CALL_RETRY_MAX retries it answers CONFLICT (pl_call.c). */
bool pl_worker__call_retry (pl_call_t *call);
/* Free the events a call holds, unsent. */
void pl_worker__call_drop_events (pl_call_t *call);
/* Selftests (pl_txn_test.c): make call a fresh call of worker w, as the
 * runtime would make one - free the events and the reply it held, zero
 * it, then set its worker, event and caller's user (borrowed; NULL: none). */
void pl_worker__test_call (pl_call_t *call, pl_worker_t *w, pl_event_id_t event, char *user);
/* Selftests (pl_worker_test.c): a fake broker backend (a bound ROUTER) and
 * event proxy (a bound SUB, subscribed to nothing) on ipc endpoints in a
 * fresh /tmp dir, both with linger 0; close removes the endpoints and the
 * dir. */
typedef struct {
    char dir[64];                   /* /tmp/pl-<name>-XXXXXX               */
    char backend[128];              /* "ipc://<dir>/backend.ipc"           */
    char events[128];               /* "ipc://<dir>/events.ipc"            */
    void *zctx;                     /* their own context                   */
    void *router;                   /* bound to backend                    */
    void *sub;                      /* bound to events                     */
} pl_worker__test_net_t;
void pl_worker__test_net_open (pl_worker__test_net_t *net, const char *name);
void pl_worker__test_net_close (pl_worker__test_net_t *net);

/* Where a slot's handler is. */
typedef enum {
    PL_SLOT_HELD,                   /* received, not started (its connection
                                       has an earlier request unanswered)  */
    PL_SLOT_RUNNABLE,               /* to (re)start: new, or its replies came */
    PL_SLOT_WAITING,                /* parked on Redis commands            */
    PL_SLOT_DONE,                   /* answered (or never needed a handler) */
} pl_worker__slot_state_t;

/* A request from its REQ to its REP (or the periodic task's run). */
typedef struct {
    pl_zmsg_t *msg;                 /* the REQ (frames 2, 3 go in the REP);
                                       NULL for the periodic task          */
    pl_zmsg_t own;                  /* where the scheduler keeps the REQ   */
    pl_call_t call;                 /* the handler's call                  */
    cJSON *arg;                     /* the parsed body, or NULL            */
    char event[72];                 /* printable event name, for logs      */
    int64_t started;                /* mono ms, for the debug line         */
    const char *metric_event;       /* its label in metrics: an events.def
                                       name or "unknown"; NULL: not counted
                                       (a REQ dropped unanswered)          */
    double run_at;                  /* pl_id_mono_s () its handler was
                                       cleared to run, or 0: it never ran  */
    /* the scheduler's */
    pl_worker__slot_state_t state;  /* where it is                         */
    pl_coro_t *co;                  /* its handler's coroutine, or NULL    */
    pl_redis_cmd_t *const *cmds;    /* the commands it is parked on ...    */
    size_t ncmds;                   /* ... how many ...                    */
    size_t unread;                  /* ... and how many still without reply */
    bool sent;                      /* its commands are written            */
    double sent_at;                 /* ... at this pl_id_mono_s ()         */
    bool waited;                    /* was held behind its connection's
                                       earlier request (counted once)      */
    bool alone;                     /* a rerun after a conflict: runs alone
                                       until its handler returns           */
    /* a bus call's (pl_worker_sub.c): arg holds its packet */
    char *room;                     /* the topic, without its NUL          */
    pl_push_id_t push;              /* the event heard                     */
} pl_worker__slot_t;

/* pl_worker.c: send cmd on the broker socket, PL01 cmd [extra parts]
 * (at most 6); 0, or -1 (logged) when it could not go. Worker loop. */
int pl_worker__send_broker (pl_worker_t *self, const pl_zmsg_part_t *extra, int nextra,
                            const char *cmd);
/* pl_worker_req.c: a printable, bounded copy of a frame (for log lines and
 * error messages) into buf of size bytes. */
void pl_worker__printable (char *buf, size_t size, zmq_msg_t *frame);
/* pl_worker_req.c: make slot's request (its REQ's id frame) the one the
 * log lines are about (pl_log_set_rid); none for a slot without a REQ (a
 * periodic task, a bus call) or NULL. Worker loop. */
void pl_worker__slot_rid (const pl_worker__slot_t *slot);
/* pl_worker_req.c: a REQ's life without the scheduling. prepare decodes and
 * checks slot->msg and says whether the handler must run (false: it was
 * answered already, or dropped: then slot->call.reply is NULL and nothing
 * is sent); after is the check once the handler returned; send sends the
 * REP then the events, and frees what the slot holds (not its msg).
 * task_end publishes a periodic task's events and frees its call. All run
 * on the worker loop. */
bool pl_worker__req_prepare (pl_worker_t *self, pl_worker__slot_t *slot);
void pl_worker__req_after (pl_worker_t *self, pl_worker__slot_t *slot);
void pl_worker__req_send (pl_worker_t *self, pl_worker__slot_t *slot);
void pl_worker__task_end (pl_worker_t *self, pl_call_t *call);
/* pl_worker_wake.c: the periodic task's wake-ups (pl_call_wake_at), all
 * on the worker loop. next: mono ms when the task is due (its tick or an
 * earlier wake). start: the task is due now and about to run; the wake is
 * spent (the turn asks for its next); true when it was a wake that fell
 * due (if the turn cannot start, set wake_after_task). end: a turn has
 * ended. */
int64_t pl_worker__wake_next (pl_worker_t *self);
bool pl_worker__wake_start (pl_worker_t *self, int64_t now);
void pl_worker__wake_end (pl_worker_t *self);
/* Its selftest (pl_worker_wake_test.c). */
void pl_worker_wake_test (bool verbose);
/* The selftest of a REP held with its call's events (pl_worker_hold_test.c). */
void pl_worker_hold_test (bool verbose);
/* pl_worker_req.c: publish the held events of commits before position
 * before (0: all), in commit order. The scheduler calls it once calls
 * have ended, with the earliest commit position of a call still running. */
void pl_worker__events_release (pl_worker_t *self, uint64_t before);

/* pl_worker_sched.c: handlers as coroutines over one Redis pipeline.
 * Everything runs on the worker loop (pl_worker_run), which polls the
 * broker socket, the Redis fd (pl_worker__sched_fd) and the timers. */
/* cap: the requests held at once (the credit); one more slot is the
 * periodic task's. NULL when out of memory. */
pl_worker__sched_t *pl_worker__sched_new (pl_worker_t *worker, size_t cap);
/* Held requests are dropped unanswered (the broker times them out). */
void pl_worker__sched_destroy (pl_worker__sched_t **self_p);
/* A message buffer to receive a REQ into, or NULL when every slot is held. */
pl_zmsg_t *pl_worker__sched_buffer (pl_worker__sched_t *self);
/* Keep the REQ just received into pl_worker__sched_buffer's buffer. */
void pl_worker__sched_take (pl_worker__sched_t *self);
/* Start the periodic task as a coroutine, unless it still runs from its
 * last turn (then false: it is not due twice). */
bool pl_worker__sched_tick (pl_worker__sched_t *self);
/* The Redis fd to poll for replies, or -1 when nothing is in flight. */
int pl_worker__sched_fd (pl_worker__sched_t *self);
/* Mono ms by which the oldest reply in flight must come, or INT64_MAX. */
int64_t pl_worker__sched_deadline (pl_worker__sched_t *self);
/* The fd is readable / the deadline passed (now: mono ms). */
void pl_worker__sched_on_redis (pl_worker__sched_t *self);
void pl_worker__sched_on_timer (pl_worker__sched_t *self, int64_t now);
/* Start what may start, resume what has its replies, send the replies of
 * what ended and write the next round, until nothing more can move. */
void pl_worker__sched_step (pl_worker__sched_t *self);
/* At exit: finish what has started (replies go out), waiting on the Redis
 * fd for at most timeout_ms. */
void pl_worker__sched_drain (pl_worker__sched_t *self, int timeout_ms);
/* One log line of counters. */
void pl_worker__sched_log (pl_worker__sched_t *self);
/* A free bus slot to fill (room, push, arg) and pass to sched_bus, or
 * NULL when worker->bus_max bus calls are running. */
pl_worker__slot_t *pl_worker__sched_bus_slot (pl_worker__sched_t *self);
/* Start the bus call of that slot (it starts at once, beside the rest). */
void pl_worker__sched_bus (pl_worker__sched_t *self, pl_worker__slot_t *slot);

/* pl_worker_sub.c: the bus subscription. All run on the worker loop. */
/* Open the SUB socket to opts->bus_endpoint with opts' prefixes. 0, or -1
 * (logged) on a bad endpoint or prefix. Nothing to do without subscribe. */
int pl_worker__sub_open (pl_worker_t *self, const pl_worker_opts_t *opts);
void pl_worker__sub_close (pl_worker_t *self);
/* Whether the loop should poll the SUB for input now (a bus slot is free). */
bool pl_worker__sub_wants (pl_worker_t *self);
/* The SUB is readable: take what the free bus slots hold. */
void pl_worker__sub_read (pl_worker_t *self);
/* A bus call's on_bus run (from the slot's coroutine, or synchronously
 * one request at a time), and its end: publish its events, free what the
 * slot holds. */
void pl_worker__bus_run (pl_worker_t *self, pl_worker__slot_t *slot);
void pl_worker__bus_end (pl_worker_t *self, pl_worker__slot_t *slot);

/* pl_worker_metrics.c: the worker's metrics (names, labels and buckets
 * from docs/experiments/i13-metrics.md), all on the worker loop. open
 * makes the registry, counts Redis into it and names the process; 0, or -1
 * when out of memory. request counts an answered request (slot's
 * metric_event, its code, its handler's time when it ran). conflict
 * counts a rerun after a conflict. push sends an HB carrying the snapshot
 * when one is due (from the timers, busy or not): true when it sent. */
int pl_worker__metrics_open (pl_worker_t *self);
void pl_worker__metrics_close (pl_worker_t *self);
void pl_worker__metrics_request (pl_worker_t *self, pl_worker__slot_t *slot);
void pl_worker__metrics_conflict (pl_call_t *call);
bool pl_worker__metrics_push (pl_worker_t *self, int64_t now);
/* The process name <service>-<host>-<pid> in out (size >= 32): the pid
 * always whole, then the host, the service cut first to fit. */
void pl_worker__metrics_name (char *out, size_t size, const char *service, const char *host,
                              long pid);

#endif
