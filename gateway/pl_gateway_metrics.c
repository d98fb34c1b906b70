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
 *  as fresh. The scrapes of one round share one rendered page (pl_h1's
 *  shared body), kept here while any of them is still being written: at
 *  most PL_GW_SCRAPES_MAX scrapes are held or being written at once, more
 *  get 503, so the pages alive are at most that many times
 *  PL_GWMETRICS_PAGE_MAX.
 *
 *  Nothing blocks: every callback here runs on the gateway loop.
 */
#include "pl_gateway_int.h"
#include "pl_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Drop the pages no answer is writing any more; returns how many answers
 * are still being written. */
static size_t
s_writing (pl_gateway_t *self)
{
    size_t writing = 0, kept = 0;
    for (size_t i = 0; i < self->scrapes.npages; i++) {
        size_t refs = pl_h1_body_refs (self->scrapes.pages[i]);
        if (refs > 1) {
            writing += refs - 1;
            self->scrapes.pages[kept++] = self->scrapes.pages[i];
        }
        else
            pl_h1_body_unref (&self->scrapes.pages[i]);
    }
    self->scrapes.npages = kept;
    return writing;
}

/* Answer count scrapes with text (taken; NULL: 500): one page they all
 * share, kept here while any of them is being written (the cap counts
 * those). Each answer may close its connection. */
static void
s_answer (pl_gateway_t *self, pl_gwconn_t *const *http, size_t count, char *text)
{
    pl_h1_extra_t extra = { NULL, NULL, false, S_CONTENT_TYPE, NULL };
    pl_h1_body_t *page = NULL;
    char *body = NULL;
    s_writing (self);
    if (text && self->scrapes.npages < PL_GW_SCRAPES_MAX)
        page = pl_h1_body_new (text, strlen (text));
    else
        free (text);                    /* the cap's count makes room: not seen */
    if (page) {
        for (size_t i = 0; i < count; i++)
            pl_h1_respond_shared (http[i]->h1, 200, &extra, page);
        self->scrapes.pages[self->scrapes.npages++] = page;
        goto cleanup;
    }
    body = pl_proto_reply_err (PL_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < count; i++)
        pl_h1_respond (http[i]->h1, 500, NULL, body ? body : "", body ? strlen (body) : 0);
cleanup:
    free (body);
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
    if (count == 0)
        goto cleanup;                   /* they all went: nothing to render */
    char *text = pl_gwmetrics_scrape (self->metrics, self->id, names, jsons, lens, n, &refused);
    if (refused)
        pl_warn ("metrics: refused %zu of %zu snapshots from the broker", refused, n);
    s_answer (self, held, count, text);
cleanup:
    return;
}

void
pl_gateway__metrics_request (pl_gateway_t *self, pl_gwconn_t *http, bool local)
{
    char *body = NULL;
    if (self->scrapes.n + s_writing (self) >= PL_GW_SCRAPES_MAX) {
        /* held or still being written: each holds a page (up to 16 MB) */
        body = pl_proto_reply_err (PL_ERR_SERVICE_UNAVAILABLE,
                                   "too many scrapes of /metrics at once");
        pl_h1_respond (http->h1, 503, NULL, body ? body : "", body ? strlen (body) : 0);
    }
    else if (local || !self->bus) {
        /* only this gateway's families (no broker behind a conformance
         * server: the same) */
        pl_gwmetrics_gauges (self->metrics, self->nconns, pl_rooms_count (self->rooms));
        s_answer (self, &http, 1,
                  pl_gwmetrics_scrape (self->metrics, self->id, NULL, NULL, NULL, 0, NULL));
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
    free (body);
}

void
pl_gateway__metrics_stop (pl_gateway_t *self)
{
    for (size_t i = 0; i < self->scrapes.npages; i++)
        pl_h1_body_unref (&self->scrapes.pages[i]);
    self->scrapes.npages = 0;
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
