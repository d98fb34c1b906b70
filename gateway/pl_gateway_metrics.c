/*  pl_gateway_metrics - GET /metrics (issue 13, section 2; docs/METRICS.md).
 *
 *  A scrape asks the broker for every process's snapshot (PL01 METRICS)
 *  and is held, like a polling GET, until the answer comes or
 *  PARLEY_METRICS_TIMEOUT_MS passes; then a fresh registry merges the
 *  gateway's own snapshot (process="gateway-<id>") and each answered one,
 *  is rendered, and freed. The answer carries no request id, so scrapes
 *  held at once share one METRICS round: the first sends it, the others
 *  join, and the answer (or the timeout) serves them all. A late answer to
 *  a round that timed out serves the round held then, if any: the data is
 *  as fresh. At most PL_GW_SCRAPES_MAX are held; more get 503.
 *
 *  Nothing blocks: every callback here runs on the gateway loop.
 */
#include "pl_gateway_int.h"
#include "pl_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Answer one scrape with text (borrowed; NULL: 500). */
static void
s_answer (pl_gwconn_t *http, const char *text)
{
    pl_h1_extra_t extra = { NULL, NULL, false, S_CONTENT_TYPE };
    if (text)
        pl_h1_respond (http->h1, 200, &extra, text, strlen (text));
    else {
        char *body = pl_proto_reply_err (PL_ERR_INTERNAL, "out of memory");
        pl_h1_respond (http->h1, 500, NULL, body ? body : "", body ? strlen (body) : 0);
        free (body);
    }
}

/* Serve every held scrape: remote (n snapshots) for the whole-system
 * ones, the gateway's own for scope=local. Each may close its connection
 * (pl_h1_respond on a dead peer), so the list is emptied first. */
static void
s_serve (pl_gateway_t *self, bool up, const char *const *names, const char *const *jsons,
         const size_t *lens, size_t n)
{
    pl_gwconn_t *held[PL_GW_SCRAPES_MAX];
    size_t count = self->scrapes.n, refused = 0;
    memcpy (held, self->scrapes.http, count * sizeof held[0]);
    self->scrapes.n = 0;
    self->scrapes.asked = false;
    ev_timer_stop (self->loop, &self->scrapes.timer);
    pl_gwmetrics_remote (self->metrics, up, 0);
    pl_gwmetrics_gauges (self->metrics, self->nconns, pl_rooms_count (self->rooms));
    char *text = pl_gwmetrics_scrape (self->metrics, self->id, names, jsons, lens, n, &refused);
    if (refused)
        pl_warn ("metrics: refused %zu of %zu snapshots from the broker", refused, n);
    for (size_t i = 0; i < count; i++)
        s_answer (held[i], text);
    free (text);
}

void
pl_gateway__metrics_request (pl_gateway_t *self, pl_gwconn_t *http, bool local)
{
    char *text = NULL, *body = NULL;
    if (local || !self->bus) {
        /* only this gateway's families (no broker behind a conformance
         * server: the same) */
        pl_gwmetrics_gauges (self->metrics, self->nconns, pl_rooms_count (self->rooms));
        text = pl_gwmetrics_scrape (self->metrics, self->id, NULL, NULL, NULL, 0, NULL);
        s_answer (http, text);
    }
    else if (self->scrapes.n >= PL_GW_SCRAPES_MAX) {
        body = pl_proto_reply_err (PL_ERR_SERVICE_UNAVAILABLE,
                                   "too many scrapes of /metrics at once");
        pl_h1_respond (http->h1, 503, NULL, body ? body : "", body ? strlen (body) : 0);
    }
    else {
        self->scrapes.http[self->scrapes.n++] = http;
        if (self->scrapes.asked)
            goto cleanup;                   /* it joins the round in flight */
        if (pl_bus_metrics (self->bus) != 0)
            s_serve (self, false, NULL, NULL, NULL, 0);     /* no broker connected */
        else {
            self->scrapes.asked = true;
            pl_gateway__timer_after (self, &self->scrapes.timer, self->metrics_timeout);
        }
    }
cleanup:
    free (text);
    free (body);
}

void
pl_gateway__metrics_http_closed (pl_gateway_t *self, pl_gwconn_t *http)
{
    for (size_t i = 0; i < self->scrapes.n; i++)
        if (self->scrapes.http[i] == http) {
            self->scrapes.http[i] = self->scrapes.http[--self->scrapes.n];
            break;
        }
}

/* libev timer, gateway loop: the broker did not answer METRICS in time. */
void
pl_gateway__metrics_fire (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    pl_gateway_t *self = (pl_gateway_t *) w->data;
    s_serve (self, false, NULL, NULL, NULL, 0);
}

/* pl_bus on_metrics, gateway loop: the broker's answer. Names become
 * NUL-terminated (pl_bus checked them: 1..128 bytes, no NUL). */
void
pl_gateway__on_metrics (void *arg, const char *const *names, const size_t *name_lens,
                        const char *const *jsons, const size_t *json_lens, size_t n)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    char copies[PL_BUS_METRICS_MAX][PL_BUS_METRICS_NAME_MAX + 1];
    const char *cnames[PL_BUS_METRICS_MAX];
    if (self->scrapes.n == 0)
        goto cleanup;                   /* nobody waits: a late answer */
    for (size_t i = 0; i < n && i < PL_BUS_METRICS_MAX; i++) {
        memcpy (copies[i], names[i], name_lens[i]);
        copies[i][name_lens[i]] = 0;
        cnames[i] = copies[i];
    }
    s_serve (self, true, cnames, jsons, json_lens, n);
cleanup:
    return;
}
