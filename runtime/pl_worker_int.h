/*  pl_worker_int - what the worker loop (pl_worker.c) and the in-handler
 *  call API (pl_call.c) share: the worker and the call. Internal to
 *  runtime/: names are pl_worker__*.
 */
#ifndef PL_WORKER_INT_H
#define PL_WORKER_INT_H

#include "pl_worker.h"

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
    pl_caller_t caller;             /* decoded ctx frame                   */
    char *reply;                    /* ack body once answered, else NULL   */
    bool failed;                    /* answered with an error              */
    bool committed;                 /* pl_call_commit: the write is done   */
    bool conflict;                  /* pl_call_conflict: run it again      */
    int attempt;                    /* runs after a conflict so far        */
    cJSON *directives;              /* {"join":[..],"leave":[..]} or NULL  */
    size_t npub;                    /* events held in pub                  */
    pl_worker__pub_t pub[PL_CALL_PUBLISH_MAX];   /* sent after the reply, in order  */
};

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
    bool lost_logged;               /* "broker lost" said for this outage  */
    bool stopped;                   /* pl_worker_run must return 1         */
    pl_task_fn *tick;               /* periodic task, or NULL              */
    int tick_ms;                    /* its period                          */
    int64_t tick_at;                /* mono ms: run it next                */
    pl_worker_stats_t stats;        /* counters                            */
};

/* After a handler (or task) has run: when it called pl_call_conflict and
 * did not answer, drop what the attempt held and say whether to run it
 * again; past PL_CALL_RETRY_MAX retries it answers CONFLICT (pl_call.c). */
bool pl_worker__call_retry (pl_call_t *call);
/* Free the events a call holds, unsent. */
void pl_worker__call_drop_events (pl_call_t *call);

#endif
