/*  hcheck - a harness for worker checks: a private redis-server, the test
 *  playing broker backend (ROUTER) and event proxy (bound SUB), and real
 *  worker processes of several services.
 *
 *  A copy, generalized to several services, of the harness in
 *  actors_check.c (which another change may factor into wcheck.{h,c}; the
 *  two are to be merged then). Used by campaigns_check, rooms_check and
 *  chat_check. Everything lives in a fresh /tmp dir removed at exit; every
 *  wait is bounded.
 */
#ifndef HCHECK_H
#define HCHECK_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#define HC_WORKERS 4

/* Fail the check (logs the workers' tails, cleans up, exits 1). */
void hc_fail (int line, const char *what);
#define CHECK(cond) do { if (!(cond)) hc_fail (__LINE__, #cond); } while (0)

extern bool hc_verbose;

/* Make the dir, bind the sockets, start redis. name names the check. */
void hc_init (const char *name, int argc, char **argv);
/* Stop everything, remove the dir. */
void hc_done (void);

/* Start worker `index` running bin for service, with extra environment
 * (NULL-terminated "NAME=value" strings, may be NULL), and wait for its
 * READY. */
void hc_worker_start (int index, const char *service, const char *bin, const char *const *env);

/* A caller: gateway id, connection id, user, name (NULL: none). */
typedef struct {
    const char *gw;
    const char *conn;
    const char *uid;
    const char *name;
} hc_who_t;

/* Send a request to worker w; returns its request id. */
int hc_send (int w, const hc_who_t *who, const char *event, const char *body);
/* Wait for a reply: returns it parsed, sets *seq, and *directives (a copy,
 * or NULL when the reply had none) when directives is not NULL. */
cJSON *hc_reply (int *seq, cJSON **directives);
/* Send and wait for the reply to it. */
cJSON *hc_call (int w, const hc_who_t *who, const char *event, const char *body,
                cJSON **directives);
/* The error code of a reply, "" on success. */
const char *hc_code (const cJSON *reply);
/* Call, expect success, return data (a copy, or NULL). */
cJSON *hc_ok (int w, const hc_who_t *who, const char *event, const char *body);
/* Call, expect this error code. */
void hc_err (int w, const hc_who_t *who, const char *event, const char *body, const char *code);

/* One message of the event bus, parsed. */
typedef struct {
    char room[256];                 /* topic without its NUL                 */
    char kind[8];                   /* "EV" or "CTL"                         */
    char origin[128];               /* frame 3                               */
    cJSON *packet;                  /* frame 4, parsed                       */
    cJSON *except;                  /* frame 5, parsed, or NULL when absent  */
    int frames;                     /* how many frames it had                */
} hc_bus_t;

/* Next bus message within timeout_ms; false when none came. */
bool hc_bus_next (hc_bus_t *bus, int timeout_ms);
void hc_bus_clear (hc_bus_t *bus);
/* Expect the next bus message to be an event: room, push, origin ("" for
 * none), payload (NULL: not compared) and except (JSON text of frame 5, or
 * NULL for no frame 5). */
void hc_expect_event (const char *room, const char *push, const char *origin,
                      const cJSON *payload, const char *except);
/* The same with the payload as JSON text. */
void hc_expect_event_text (const char *room, const char *push, const char *origin,
                           const char *payload, const char *except);
/* Expect the next bus message to be a control: audience room leaves room. */
void hc_expect_control (const char *audience, const char *room);
/* Expect no bus message for ms. */
void hc_expect_quiet (int ms);
/* Drop whatever the bus holds (waiting ms for stragglers). */
void hc_bus_drain (int ms);

/* Run a Redis command on the check's own connection; the caller frees. */
redisReply *hc_redis (const char *fmt, ...);

/* Sleep ms on a poll timer (no busy loop), answering worker heartbeats. */
void hc_pause (int ms);

#endif
