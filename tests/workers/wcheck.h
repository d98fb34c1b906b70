/*  wcheck - the one harness for checking worker processes end to end: it
 *  starts a private redis-server and real workers (of one service or
 *  several), and plays the broker backend (ROUTER) and the event proxy (a
 *  bound SUB), so a check can send requests as any user from any
 *  connection and assert every reply (directives included) and every
 *  message a worker publishes: events with their except rooms (frame 6)
 *  and control messages.
 *
 *  Everything lives in a fresh /tmp dir, removed at the end; every wait is
 *  bounded (a poll timeout computed from its deadline, never a sleep
 *  loop), and every wait answers the workers' heartbeats. A failed CHECK
 *  prints the line, the workers' last log lines, cleans up and exits 1.
 *
 *  A check's life:
 *      wcheck_init (name, verbose);
 *      wcheck_worker (0, bin, "actors", NULL);   ... one per process
 *      wcheck_probe (0, "actor:create", body);   ... or a probe of its own
 *      ... requests, CHECKs and bus expectations ...
 *      wcheck_done ();                           stops the workers, "<name>: OK"
 */
#ifndef WCHECK_H
#define WCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#define WCHECK_WORKERS_MAX 4
/* The workers' heartbeat and liveness (PARLEY_HEARTBEAT_MS, _LIVENESS):
 * a worker registers again when the harness has said nothing for
 * WCHECK_WINDOW_MS. The harness answers heartbeats only while it waits,
 * and a busy box can keep it (or a worker) off the CPU for most of a
 * second: with a window of 600 ms the workers then re-registered in the
 * middle of a check, and the next request went to an identity that no
 * longer existed. No check is about a short window (the worker runtime's
 * selftest is), so it is seconds long, as in the broker's selftest. */
#define WCHECK_HEARTBEAT_MS 200
#define WCHECK_LIVENESS 30
#define WCHECK_WINDOW_MS (WCHECK_HEARTBEAT_MS * WCHECK_LIVENESS)
/* wcheck_probe's callers are the users probe0 .. probe<WCHECK_PROBES - 1>
 * (one each: no per-user limit is hit). */
#define WCHECK_PROBES 50

/* ---- life ------------------------------------------------------------ */

/* Set up the dir, sockets and redis-server. name prefixes messages. */
void wcheck_init (const char *name, bool verbose);
/* Start worker index (the next one: 0, 1, ...) running bin, serving
 * service, and wait for its READY. The workers get a heartbeat of
 * WCHECK_HEARTBEAT_MS, a liveness of WCHECK_LIVENESS, a credit of 16 and
 * info logs; env (NULL, or a NULL-terminated list of "NAME=value") adds
 * to or overrides that. READY must name service and the credit in
 * effect. */
void wcheck_worker (int index, const char *bin, const char *service, const char *const *env);
/* Make sure worker index's events reach us: call event/body as the users
 * probe0, probe1 ... until an event is heard (a PUB drops until it has our
 * subscription), then once more, dropping every bus message up to that
 * last call's event. The call must publish one event, with the caller's
 * connection as its origin (as a create does). */
void wcheck_probe (int index, const char *event, const char *body);
/* SIGTERM every worker still running: each says BYE and exits 0 (within
 * 5 s; under ASan a leak fails it). */
void wcheck_stop_workers (void);
/* Stop the workers still running (as wcheck_stop_workers), close, remove
 * the dir and print "<name>: OK". */
void wcheck_done (void);

/* The pid of worker index (a check may stop it, SIGSTOP, so that the
 * requests sent meanwhile wait for it together). */
pid_t wcheck_worker_pid (int index);

/* ---- failing --------------------------------------------------------- */

void wcheck_fail (int line, const char *what);
/* The check's line of the last helper called through the macros below, so
 * a failure inside a helper names the check line that called it. */
extern int wcheck_line;
#define CHECK(cond) do { if (!(cond)) wcheck_fail (__LINE__, #cond); } while (0)
bool wcheck_verbose (void);

/* ---- Redis ----------------------------------------------------------- */

/* A command on the check's own connection; it must not fail (the reply is
 * the caller's to free). */
redisReply *wcheck_redis (const char *fmt, ...);
/* The server stopped (its data goes with it) / started again. */
void wcheck_redis_stop (void);
/* The server killed (SIGKILL: no goodbye to its clients); start it again
 * with wcheck_redis_start. */
void wcheck_redis_kill (void);
/* The redis-server's pid (a check may SIGSTOP it: a stall). */
pid_t wcheck_redis_pid (void);
/* Heartbeats heard from the workers so far (while the harness waits). */
int wcheck_heartbeats (void);
void wcheck_redis_start (void);
/* Seed a membership as the campaigns worker writes it: user is role
 * ("gm", "player") in campaign; role NULL removes user. */
void wcheck_member (const char *campaign, const char *user, const char *role);

/* ---- requests -------------------------------------------------------- */

/* A caller: gateway id, connection id, user id, display name (NULL:
 * none). Its origin is "<gw>/<conn>". */
typedef struct {
    const char *gw;
    const char *conn;
    const char *uid;
    const char *name;
} wcheck_who_t;

/* wcheck_probe for a call whose event does not carry the caller's
 * connection as its origin (a push to the whole room: chat:message,
 * roll:result): call event/body as who until an event is heard, then drop
 * bus messages until none comes for 100 ms. */
void wcheck_probe_as (int index, const wcheck_who_t *who, const char *event, const char *body);

/* Every request goes to worker w. The plain forms send as user uid from a
 * new connection of gateway "gw-d" (origin "gw-d/<request number>"); the
 * _as forms send as who.
 *
 * Directives: only a successful reply to subscribe, unsubscribe,
 * gameSession:join or gameSession:leave may carry them (frame 7, a JSON
 * object); any other reply that does fails the check. Where a call takes
 * `cJSON **directives`, it gets them (a copy, or NULL when the reply had
 * none); NULL there drops them. */

/* Send; returns the request's number. */
int wcheck_send (int w, const char *uid, const char *event, const char *body);
int wcheck_send_as (int w, const wcheck_who_t *who, const char *event, const char *body);
/* The origin of the last request sent. */
const char *wcheck_origin (void);
/* Wait for the next reply (of any request); sets *seq to its number. */
cJSON *wcheck_reply (int *seq, cJSON **directives);
/* Send and wait for the reply to it (the caller deletes it). */
cJSON *wcheck_call (int w, const char *uid, const char *event, const char *body);
cJSON *wcheck_call_as (int w, const wcheck_who_t *who, const char *event, const char *body,
                       cJSON **directives);
/* Wait for the next n replies (of any requests): each a success. */
void wcheck_replies_ok (int n);
/* The error code of a reply, "" on success. */
const char *wcheck_code (const cJSON *reply);
/* Call, expect success, return data (caller deletes; NULL when none). */
cJSON *wcheck_ok (int w, const char *uid, const char *event, const char *body);
cJSON *wcheck_ok_as (int w, const wcheck_who_t *who, const char *event, const char *body);
/* Call, expect the error code. */
void wcheck_err (int w, const char *uid, const char *event, const char *body, const char *code);
void wcheck_err_as (int w, const wcheck_who_t *who, const char *event, const char *body,
                    const char *code);
/* The same, returning the reply's error object (caller deletes). */
cJSON *wcheck_error (int w, const char *uid, const char *event, const char *body, const char *code);

/* The JSON text of a string ("\"text\""), for an id argument. Borrowed:
 * good until the next call. */
const char *wcheck_quote (const char *text);

/* ---- the bus --------------------------------------------------------- */

/* One message of the event bus, parsed. */
typedef struct {
    char room[256];                 /* frame 1, the topic, without its NUL   */
    char kind[8];                   /* frame 3: "EV" or "CTL"                */
    char origin[128];               /* frame 4 ("" for none)                 */
    cJSON *packet;                  /* frame 5, parsed                       */
    char *except_text;              /* frame 6 as sent, or NULL when empty   */
    cJSON *except;                  /* frame 6 parsed (an array), or NULL    */
    int64_t published_us;           /* EV: frame 7, the publish time (CHECKed
                                       within the hour: pl_proto_ts_parse)   */
    int frames;                     /* EV 7, CTL 5                           */
} wcheck_bus_t;

/* The next bus message within timeout_ms (its shape CHECKed); false when
 * none came. Clear it after. */
bool wcheck_bus_next (wcheck_bus_t *bus, int timeout_ms);
void wcheck_bus_clear (wcheck_bus_t *bus);
/* Expect the next bus message to be an event: room, push, origin ("" for
 * none), payload (NULL: not compared) and except (the exact JSON text of
 * frame 6, or NULL for no frame 6). */
void wcheck_event (const char *room, const char *push, const char *origin,
                   const cJSON *payload, const char *except);
/* The same with the payload as JSON text (NULL: not compared). */
void wcheck_event_text (const char *room, const char *push, const char *origin,
                        const char *payload, const char *except);
/* Expect the next bus message to be a control: audience leaves room. */
void wcheck_control (const char *audience, const char *room);
/* Expect no bus message within ms. */
void wcheck_quiet (int ms);
/* Drop bus messages until none comes for ms. */
void wcheck_drain (int ms);
/* Wait ms on a poll timer, answering heartbeats; no worker may send
 * anything else meanwhile. */
void wcheck_pause (int ms);

/* ---- the broker ------------------------------------------------------ */

/* The broker restarts after down_ms; every worker registers once again. */
void wcheck_broker_restart (int down_ms);

/* ---- fields ---------------------------------------------------------- */

/* Field helpers that CHECK the type. */
const char *wcheck_str (const cJSON *obj, const char *key);
double wcheck_num (const cJSON *obj, const char *key);

/* The helpers that assert, called through macros that record the line. */
#define wcheck_ok(...)         (wcheck_line = __LINE__, wcheck_ok (__VA_ARGS__))
#define wcheck_ok_as(...)      (wcheck_line = __LINE__, wcheck_ok_as (__VA_ARGS__))
#define wcheck_err(...)        (wcheck_line = __LINE__, wcheck_err (__VA_ARGS__))
#define wcheck_err_as(...)     (wcheck_line = __LINE__, wcheck_err_as (__VA_ARGS__))
#define wcheck_error(...)      (wcheck_line = __LINE__, wcheck_error (__VA_ARGS__))
#define wcheck_event(...)      (wcheck_line = __LINE__, wcheck_event (__VA_ARGS__))
#define wcheck_event_text(...) (wcheck_line = __LINE__, wcheck_event_text (__VA_ARGS__))
#define wcheck_control(...)    (wcheck_line = __LINE__, wcheck_control (__VA_ARGS__))
#define wcheck_quiet(...)      (wcheck_line = __LINE__, wcheck_quiet (__VA_ARGS__))
#define wcheck_replies_ok(...) (wcheck_line = __LINE__, wcheck_replies_ok (__VA_ARGS__))

#endif
