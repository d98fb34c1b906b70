/*  pl_health - what GET /healthz says: is the broker reachable, and does
 *  every required service have a live worker.
 *
 *  The gateway asks the broker for STATUS every heartbeat (which doubles
 *  as its check that the broker is alive) and feeds the answers here. The
 *  broker counts as reachable while the last answer is at most three
 *  heartbeats old. Lws loop only.
 */
#ifndef PL_HEALTH_H
#define PL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef struct _pl_health_t pl_health_t;

/* required: comma-separated service names, or "" for every service in
 * proto/events.def. NULL on OOM. */
pl_health_t *pl_health_new (const char *required, long heartbeat_ms);
void pl_health_destroy (pl_health_t **self_p);

/* A STATUS answer's JSON ({"services":{...}}) received at now (ms).
 * Malformed answers are ignored. */
void pl_health_update (pl_health_t *self, const char *json, size_t len, int64_t now);

/* The /healthz report: {"services":{..},"status":..,"broker":..} as a new
 * cJSON object (caller deletes; the gateway adds its own fields), and
 * *status, 200 or 503. */
cJSON *pl_health_report (pl_health_t *self, int64_t now, int *status);

void pl_health_test (bool verbose);

#endif
