/*  pl_gwmetrics - the gateway's own metrics (issue 13, section 2), and the
 *  registry a scrape of GET /metrics builds from them and the snapshots the
 *  broker answers METRICS with (docs/METRICS.md lists every family).
 *
 *  One per gateway, owned by its loop: every call runs on the gateway loop.
 *  Label values come only from bounded sets: an events.def name or
 *  "unknown", an errors.def code or "OK", a transport ("websocket",
 *  "polling"), a reason from errors.def or pl_gwmetrics_reason_t, an ack
 *  or push kind. Every value is a string constant, and a label set, once
 *  it exists, is found by hash: counting allocates nothing.
 */
#ifndef PL_GWMETRICS_H
#define PL_GWMETRICS_H

#include "pl_metrics.h"
#include "pl_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _pl_gwmetrics_t pl_gwmetrics_t;

/* How a connection opened (parley_gateway_connections_total). */
typedef enum {
    PL_GWM_WEBSOCKET = 0,
    PL_GWM_POLLING
} pl_gwmetrics_transport_t;

/* Why a connect was refused that has no errors.def code of its own
 * (parley_gateway_connects_refused_total{reason}). */
typedef enum {
    PL_GWM_REFUSED_NAMESPACE = 0,   /* "namespace": a CONNECT to another nsp  */
    PL_GWM_REFUSED_SESSION_CAP,     /* "session_cap": PARLEY_POLL_MAX_SESSIONS */
    PL_GWM_REFUSED_SERVER_ERROR,    /* "server_error": out of memory          */
    PL_GWM_REFUSED_COUNT
} pl_gwmetrics_reason_t;

/* The scrape's merge registry holds at most this many series a family. */
#define PL_GWMETRICS_SCRAPE_SERIES 20000
/* And one page at most this many lines and bytes (docs/METRICS.md): the
 * gateway's own snapshot always, then the remote ones in the broker's
 * order while they fit; one past the bound is skipped whole and counted
 * with the refused ones. So a scrape costs a bounded time and memory. */
#define PL_GWMETRICS_PAGE_LINES    200000
#define PL_GWMETRICS_PAGE_MAX      (16 * 1024 * 1024)
/* The gateway's own registry: series a family. Every label set there can
 * be fits: (every event and "unknown") x (every code and "OK"). */
#define PL_GWMETRICS_OWN_SERIES    ((PL_EV_COUNT + 1) * PL_ERR_COUNT)

pl_gwmetrics_t *pl_gwmetrics_new (void);
void pl_gwmetrics_destroy (pl_gwmetrics_t **self_p);

/* ---- counting (gateway loop, the hot path) ---------------------------- */

/* A session opened on transport (parley_gateway_connections_total). */
void pl_gwmetrics_opened (pl_gwmetrics_t *self, pl_gwmetrics_transport_t transport);
/* The gauges, set when a scrape reads them: sessions open, rooms with
 * members on this gateway. */
void pl_gwmetrics_gauges (pl_gwmetrics_t *self, size_t connections, size_t rooms);
/* A polling session upgraded to a WebSocket. */
void pl_gwmetrics_upgraded (pl_gwmetrics_t *self);
/* A connect refused with an errors.def code (UNAUTHORIZED, ...) or, when
 * err is PL_ERR_NONE, a reason of pl_gwmetrics_reason_t. */
void pl_gwmetrics_refused (pl_gwmetrics_t *self, pl_err_t err, pl_gwmetrics_reason_t reason);
/* A client EVENT arrived: ev is its events.def id, or -1 (unknown). */
void pl_gwmetrics_event_in (pl_gwmetrics_t *self, int ev);
/* An ack was queued for an EVENT of ev (-1: unknown) that arrived at
 * start_us (pl_gateway__now_us), with err (PL_ERR_NONE: "OK"). One call
 * per ack: requests_total, request_duration_seconds, events_out{ack}. */
void pl_gwmetrics_request (pl_gwmetrics_t *self, int ev, pl_err_t err, double seconds);
/* Room events written to members (events_out{push}), and a delivery
 * latency in seconds (from the worker's publish on its wall clock: a
 * negative one, a clock behind the worker's, is observed as 0). */
void pl_gwmetrics_pushed (pl_gwmetrics_t *self, size_t count);
void pl_gwmetrics_delivery (pl_gwmetrics_t *self, double seconds);
/* A slow consumer was disconnected; dropped frames not delivered. */
void pl_gwmetrics_slow (pl_gwmetrics_t *self, size_t dropped);
/* A connection-state recovery was asked for / succeeded. */
void pl_gwmetrics_recovery (pl_gwmetrics_t *self, bool success);
/* A METRICS answer came (up) or did not in time; refused snapshots. */
void pl_gwmetrics_remote (pl_gwmetrics_t *self, bool up, size_t refused);

/* The result code of a worker's reply text: OK for {"success":true...},
 * else its error.code as an errors.def code (INTERNAL when there is none
 * or it is unknown). Reads at most the first bytes of the reply: no parse. */
pl_err_t pl_gwmetrics_reply_code (const char *reply, size_t len);

/* The own registry (tests, and to count in it directly). */
pl_metrics_t *pl_gwmetrics_registry (pl_gwmetrics_t *self);

/* ---- a scrape ----------------------------------------------------------- */

/* The text of one scrape (caller frees), or NULL when out of memory: the
 * own snapshot merged under process="gateway-<gateway_id>", then each of
 * the n remote snapshots (names[i], jsons[i] of lens[i] bytes) under its
 * name; a refused one (malformed, or past PL_GWMETRICS_PAGE_MAX or
 * PL_GWMETRICS_PAGE_LINES) is skipped and counted in *refused. With remote
 * false (scope=local) n must be 0. Updates process_* first. */
char *pl_gwmetrics_scrape (pl_gwmetrics_t *self, const char *gateway_id,
                           const char *const *names, const char *const *jsons,
                           const size_t *lens, size_t n, size_t *refused);

void pl_gwmetrics_test (bool verbose);

#endif
