/*  pl_worker selftest internals: the fake broker of pl_worker_test.c,
 *  shared with the cases kept in their own files (pl_worker_metrics_test.c).
 *  Everything runs on the test's thread, which also pumps the worker. */
#ifndef PL_WORKER_TEST_INT_H
#define PL_WORKER_TEST_INT_H

#include "pl_worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* The caller's context of the requests the tests send. */
#define PL_WORKER__TEST_CTX \
    "{\"v\":1,\"gw\":\"gw-t\",\"conn\":\"7\",\"uid\":\"alice\",\"name\":\"Alice\"}"

/* The fake broker: a raw ROUTER as backend, a bound SUB as event proxy. */
typedef struct {
    void *zctx;                     /* the test's own context              */
    void *router;                   /* fake broker backend                 */
    void *sub;                      /* fake event proxy (bound SUB)        */
    pl_worker_t *worker;            /* under test; pumped while waiting    */
    char id[256];                   /* identity of the worker's last msg   */
    size_t id_len;                  /* its length                          */
    bool answer_hb;                 /* answer each worker HB with an HB    */
    int hbs;                        /* HBs received from the worker        */
    int metrics_hbs;                /* ... of which carried a snapshot     */
    char *snapshot;                 /* the last snapshot (owned), or NULL  */
    char process[80];               /* ... and its process name            */
} pl_worker__fake_t;

/* Send a REQ and return the parsed reply (owned), checking the REP
 * envelope (pl_worker_test.c). */
cJSON *pl_worker__fake_call (pl_worker__fake_t *f, const char *event, const char *ctx,
                             const char *body);
/* The error code of a failed reply, or "" for success (pl_worker_test.c). */
const char *pl_worker__fake_code (const cJSON *reply);
/* The worker's metrics against a live worker and Redis
 * (pl_worker_metrics_test.c, run from pl_worker_test's live case). */
void pl_worker__test_metrics (pl_worker__fake_t *f);
/* The metrics process name (pl_worker_metrics_test.c). */
void pl_worker__test_metrics_name (void);
/* A handler that answers NOT_FOUND, for events a test never sends
 * (pl_worker_sub_test.c). */
void pl_worker__test_none (pl_call_t *call, const cJSON *arg);

#endif
