/*  pl_gateway_fwd - HTTP long-polling across gateways without sticky
 *  sessions, on the gateway loop.
 *
 *  Gateways share one port (PARLEY_REUSEPORT=1), so a client's successive
 *  requests land on any of them. A sid names the gateway holding its
 *  session ("<gateway id>.<20 chars>"), and each gateway's DEALER to the
 *  broker has its gateway id as routing id (pl_bus). A polling request
 *  (GET or POST) for another gateway's sid is handed to that gateway as
 *  PL01 FWD through the broker's frontend ROUTER, and answered with what
 *  comes back (FWDREP): the HTTP connection stays here, the session there
 *  (pl_gateway__poll_forwarded). proto/README.md, "Forwarding between
 *  gateways", has the frames.
 *
 *  Bounded: at most PL_GW_FWD_MAX forwards in flight (past it 503), each
 *  with a deadline (503 "did not answer"; a GET's is the hold limit plus
 *  PL_GW_FWD_TIMEOUT_MS, as the owner answers a held GET with a noop at
 *  the hold limit); bodies are pl_h1's (<= maxPayload) one way and checked
 *  the other. A gateway that is gone, or a prefix no gateway has: the
 *  broker answers 404, which is 400 "Session ID unknown" here, as for an
 *  unknown sid. A client that drops a forwarded GET: the owner hears GONE
 *  and closes the session, as for a local one.
 *
 *  A WebSocket upgrade for another gateway's sid is refused (400, as an
 *  unknown sid: pl_gateway__poll_upgradable): socket.io-client then stays
 *  on polling, which works from any gateway.
 */
#include "pl_gateway_int.h"
#include "pl_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pl_gateway_t *gw;
    pl_gwconn_t *http;              /* the HTTP connection waiting; NULL: free  */
    uint64_t id;                    /* the forward id (hex on the wire)         */
    bool get;                       /* a GET: its cancel is told to the owner   */
    ev_timer timer;                 /* the deadline                             */
    char peer[16];                  /* the owner gateway                        */
    char sid[PL_GW_SID_MAX];
} s_fwd_t;

typedef struct pl_gwfwds {
    s_fwd_t slot[PL_GW_FWD_MAX];
    uint32_t free_slots[PL_GW_FWD_MAX];
    uint32_t nfree;
    uint64_t seq;
} pl_gwfwds_t;

/* A gateway id as PARLEY_GATEWAY_ID allows it (URL-safe, < 16 chars). */
static bool
s_id_valid (const char *id, size_t len)
{
    bool ok = len > 0 && len < 16;
    for (size_t i = 0; ok && i < len; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '~';
    }
    return ok;
}

bool
pl_gateway__fwd_foreign (pl_gateway_t *self, const char *sid)
{
    const char *dot = strchr (sid, '.');
    size_t len = dot ? (size_t) (dot - sid) : 0;
    return self->bus && dot && s_id_valid (sid, len) && strlen (sid) < PL_GW_SID_MAX
        && !(len == strlen (self->id) && memcmp (sid, self->id, len) == 0);
}

static void
s_respond (pl_gwconn_t *http, int status, bool text, const char *body, size_t len)
{
    pl_h1_extra_t extra = { NULL, NULL, false, text ? "text/plain; charset=UTF-8" : NULL, NULL };
    pl_h1_respond (http->h1, status, &extra, body, len);
}

/* Release slot f (its HTTP connection no longer waits). */
static void
s_release (pl_gwfwds_t *fwds, s_fwd_t *f)
{
    ev_timer_stop (f->gw->loop, &f->timer);
    if (f->http)
        f->http->fwd = 0;
    f->http = NULL;
    fwds->free_slots[fwds->nfree++] = (uint32_t) (f - fwds->slot);
}

static void
s_gone (pl_gateway_t *self, s_fwd_t *f)
{
    char id[24];
    snprintf (id, sizeof id, "%" PRIx64, f->id);
    pl_bus_forward (self->bus, false, f->peer, strlen (f->peer), id, strlen (id), "GONE",
                    f->sid, NULL, 0);
}

/* libev timer, gateway loop: the owner did not answer in time. */
static void
s_on_timeout (struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) loop;
    (void) revents;
    s_fwd_t *f = (s_fwd_t *) w->data;
    pl_gateway_t *self = f->gw;
    pl_gwconn_t *http = f->http;
    pl_warn ("polling: gateway %s did not answer a forwarded %s in time", f->peer,
             f->get ? "GET" : "POST");
    if (f->get)
        s_gone (self, f);                   /* it would close on a new GET anyway */
    s_release (self->fwds, f);
    static const char body[] =
        "{\"code\":0,\"message\":\"the gateway holding the session did not answer\"}";
    s_respond (http, 503, false, body, sizeof body - 1);
}

int
pl_gateway__fwd_start (pl_gateway_t *self)
{
    int rc = -1;
    pl_gwfwds_t *fwds = calloc (1, sizeof *fwds);
    if (!fwds)
        goto cleanup;
    for (uint32_t i = 0; i < PL_GW_FWD_MAX; i++) {
        s_fwd_t *f = &fwds->slot[i];
        f->gw = self;
        ev_timer_init (&f->timer, s_on_timeout, 0., 0.);
        f->timer.data = f;
        fwds->free_slots[i] = PL_GW_FWD_MAX - 1 - i;
    }
    fwds->nfree = PL_GW_FWD_MAX;
    self->fwds = fwds;
    rc = 0;
cleanup:
    return rc;
}

void
pl_gateway__fwd_stop (pl_gateway_t *self)
{
    pl_gwfwds_t *fwds = self->fwds;
    for (uint32_t i = 0; fwds && i < PL_GW_FWD_MAX; i++)
        if (fwds->slot[i].http) {
            if (fwds->slot[i].get)
                s_gone (self, &fwds->slot[i]);  /* the owner closes the session
                                                   (and saves it) now */
            s_release (fwds, &fwds->slot[i]);
        }
    free (fwds);
    self->fwds = NULL;
}

void
pl_gateway__fwd_request (pl_gateway_t *self, pl_gwconn_t *http, const char *op,
                         const char *sid, const char *body, size_t body_len)
{
    static const char busy[] =
        "{\"code\":0,\"message\":\"too many requests forwarded to other gateways\"}";
    static const char down[] =
        "{\"code\":0,\"message\":\"the gateways cannot reach each other (broker down)\"}";
    pl_gwfwds_t *fwds = self->fwds;
    if (!fwds || fwds->nfree == 0) {
        s_respond (http, 503, false, busy, sizeof busy - 1);
        goto cleanup;
    }
    uint32_t slot = fwds->free_slots[--fwds->nfree];
    s_fwd_t *f = &fwds->slot[slot];
    f->http = http;
    f->id = ++fwds->seq * PL_GW_FWD_MAX + slot;
    f->get = strcmp (op, "GET") == 0;
    snprintf (f->sid, sizeof f->sid, "%s", sid);
    snprintf (f->peer, sizeof f->peer, "%.*s", (int) (strchr (sid, '.') - sid), sid);
    char id[24];
    snprintf (id, sizeof id, "%" PRIx64, f->id);
    if (pl_bus_forward (self->bus, false, f->peer, strlen (f->peer), id, strlen (id), op, sid,
                        body, body_len) != 0) {
        s_release (fwds, f);
        s_respond (http, 503, false, down, sizeof down - 1);
        goto cleanup;
    }
    http->fwd = slot + 1;
    self->stats.poll_forwarded++;
    long ms = PL_GW_FWD_TIMEOUT_MS + (f->get ? PL_GW_POLL_HOLD_MS : 0);
    ev_timer_set (&f->timer, (double) ms / 1000., 0.);
    ev_timer_start (self->loop, &f->timer);
cleanup:
    return;
}

void
pl_gateway__fwd_http_closed (pl_gateway_t *self, pl_gwconn_t *http)
{
    s_fwd_t *f = http->fwd && self->fwds ? &self->fwds->slot[http->fwd - 1] : NULL;
    if (f && f->get)
        s_gone (self, f);                   /* the cancelled-GET rule, across */
    if (f)
        s_release (self->fwds, f);
}

void
pl_gateway__fwd_answer (pl_gateway_t *self, const char *peer, const char *fwdid,
                        int status, const char *body, size_t len)
{
    char text[8];
    snprintf (text, sizeof text, "%d", status);
    /* a gateway gone meanwhile: the broker drops it */
    pl_bus_forward (self->bus, true, peer, strlen (peer), fwdid, strlen (fwdid), text, NULL,
                    body, len);
}

/* pl_bus callback, gateway loop: another gateway forwards a request. */
void
pl_gateway__on_forward (void *arg, const char *peer, size_t peer_len,
                        const char *fwdid, size_t fwdid_len, const char *op, size_t op_len,
                        const char *sid, size_t sid_len, const char *body, size_t body_len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    char peer_z[16], id_z[PL_GW_FWDID_MAX + 1], op_z[8], sid_z[PL_GW_SID_MAX];
    static const char *const ops[] = { "GET", "POST", "POSTB", "GONE" };
    bool op_ok = false;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        op_ok |= op_len == strlen (ops[i]) && memcmp (op, ops[i], op_len) == 0;
    /* from a gateway, but checked like any input: a NUL never cuts an id */
    if (!s_id_valid (peer, peer_len) || fwdid_len == 0 || fwdid_len > PL_GW_FWDID_MAX
    ||  memchr (fwdid, 0, fwdid_len) || !op_ok || sid_len >= PL_GW_SID_MAX
    ||  memchr (sid, 0, sid_len)) {
        pl_warn ("polling: dropped a malformed forward");
        goto cleanup;
    }
    snprintf (peer_z, sizeof peer_z, "%.*s", (int) peer_len, peer);
    snprintf (id_z, sizeof id_z, "%.*s", (int) fwdid_len, fwdid);
    snprintf (op_z, sizeof op_z, "%.*s", (int) op_len, op);
    snprintf (sid_z, sizeof sid_z, "%.*s", (int) sid_len, sid);
    if (body_len > (size_t) self->max_payload) {
        static const char big[] = "{\"code\":0,\"message\":\"Payload too large\"}";
        pl_gateway__fwd_answer (self, peer_z, id_z, 413, big, sizeof big - 1);
    }
    else
        pl_gateway__poll_forwarded (self, peer_z, id_z, op_z, sid_z, body, body_len);
cleanup:
    return;
}

/* pl_bus callback, gateway loop: the answer to one of our forwards. */
void
pl_gateway__on_forward_reply (void *arg, const char *peer, size_t peer_len,
                              const char *fwdid, size_t fwdid_len,
                              const char *status, size_t status_len,
                              const char *body, size_t body_len)
{
    pl_gateway_t *self = (pl_gateway_t *) arg;
    pl_gwfwds_t *fwds = self->fwds;
    char id_z[PL_GW_FWDID_MAX + 1], *end = NULL;
    int code = 0;
    for (size_t i = 0; i < status_len && i < 3 && status[i] >= '0' && status[i] <= '9'; i++)
        code = code * 10 + (status[i] - '0');
    static const char unknown[] = "{\"code\":1,\"message\":\"Session ID unknown\"}";
    static const char full[] =
        "{\"code\":0,\"message\":\"the gateway holding the session is overloaded\"}";
    if (!fwds || fwdid_len == 0 || fwdid_len > PL_GW_FWDID_MAX || status_len != 3
    ||  code < 100 || code > 599 || body_len > (size_t) self->max_payload + 128)
        goto cleanup;
    snprintf (id_z, sizeof id_z, "%.*s", (int) fwdid_len, fwdid);
    uint64_t id = strtoull (id_z, &end, 16);
    s_fwd_t *f = &fwds->slot[id % PL_GW_FWD_MAX];
    if (!end || *end || !f->http || f->id != id
    ||  peer_len != strlen (f->peer) || memcmp (peer, f->peer, peer_len) != 0)
        goto cleanup;                       /* late: its client was answered */
    pl_gwconn_t *http = f->http;
    s_release (fwds, f);
    if (code == 404)                        /* the broker: no gateway by that
                                               name (gone, or never was) */
        s_respond (http, 400, false, unknown, sizeof unknown - 1);
    else
    if (code == 503 && body_len == 0)       /* the broker: its queue is full */
        s_respond (http, 503, false, full, sizeof full - 1);
    else
        s_respond (http, code, code == 200, body, body_len);
cleanup:
    return;
}
