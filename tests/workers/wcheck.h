/*  wcheck - a harness for checking worker processes end to end: it starts
 *  a private redis-server and real workers, and plays the broker backend
 *  (ROUTER) and the event proxy (a bound SUB), so a check can send
 *  requests as any user and assert every frame a worker publishes,
 *  frame 6 (the except rooms) included.
 *
 *  Everything lives in a fresh /tmp dir, removed at the end; every wait is
 *  bounded. A failed CHECK prints the line, the workers' last log lines,
 *  cleans up and exits 1.
 */
#ifndef WCHECK_H
#define WCHECK_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include "pl_zmsg.h"

#define WCHECK_WORKERS_MAX 4

/* Set up the dir, sockets and redis-server. name prefixes messages. */
void wcheck_init (const char *name, bool verbose);
/* Start worker index (bin, serving service) and wait for its READY. */
void wcheck_worker (int index, const char *bin, const char *service);
/* Make sure worker index's events reach us: call event/body as user
 * "probe" until one is heard (a PUB drops until it has our subscription),
 * then drain the bus. */
void wcheck_probe (int index, const char *event, const char *body);
/* Stop everything and remove the dir. */
void wcheck_done (void);

void wcheck_fail (int line, const char *what);
/* The check's line of the last helper called through the macros below, so
 * a failure inside a helper names the check line that called it. */
extern int wcheck_line;
#define CHECK(cond) do { if (!(cond)) wcheck_fail (__LINE__, #cond); } while (0)
bool wcheck_verbose (void);

/* Redis, from the check: a command (the reply is the caller's), or the
 * server stopped / started again. */
redisReply *wcheck_redis (const char *fmt, ...);
void wcheck_redis_stop (void);
void wcheck_redis_start (void);

/* Requests. Send event/body (NULL: no argument) to worker w as user uid
 * from a new connection; returns the request's sequence number. */
int wcheck_send (int w, const char *uid, const char *event, const char *body);
/* The origin ("gw-d/<conn>") of the last request sent. */
const char *wcheck_origin (void);
/* Wait for a reply; sets *seq to its request's number. */
cJSON *wcheck_reply (int *seq);
cJSON *wcheck_call (int w, const char *uid, const char *event, const char *body);
/* The error code of a reply, "" on success. */
const char *wcheck_code (const cJSON *reply);
/* Call, expect success, return data (caller deletes; NULL when none). */
cJSON *wcheck_ok (int w, const char *uid, const char *event, const char *body);
/* Call, expect the error code. */
void wcheck_err (int w, const char *uid, const char *event, const char *body, const char *code);

/* The bus. Wait for the next message with command cmd from a worker, or
 * (cmd NULL) for the next bus event; false on timeout. */
bool wcheck_next (const char *cmd, pl_zmsg_t *msg, int timeout_ms);
/* Expect the next bus event: room, push, origin, payload, and except (the
 * JSON text of frame 6, NULL: no frame 6). */
void wcheck_event (const char *room, const char *push, const char *origin,
                   const cJSON *payload, const char *except);
/* Expect no bus event within ms. */
void wcheck_quiet (int ms);
/* Drop bus events until none comes for ms. */
void wcheck_drain (int ms);

/* The broker restarts after down_ms; every worker registers once again. */
void wcheck_broker_restart (int down_ms);
/* SIGTERM every worker: each says BYE and exits 0. */
void wcheck_stop_workers (void);

/* The helpers that assert, called through macros that record the line. */
#define wcheck_ok(...)    (wcheck_line = __LINE__, wcheck_ok (__VA_ARGS__))
#define wcheck_err(...)   (wcheck_line = __LINE__, wcheck_err (__VA_ARGS__))
#define wcheck_event(...) (wcheck_line = __LINE__, wcheck_event (__VA_ARGS__))
#define wcheck_quiet(...) (wcheck_line = __LINE__, wcheck_quiet (__VA_ARGS__))

/* Field helpers that CHECK the type. */
const char *wcheck_str (const cJSON *obj, const char *key);
double wcheck_num (const cJSON *obj, const char *key);

#endif
