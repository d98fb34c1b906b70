/*  pl_broker_dispatch - the broker's state: services, workers, the queue,
 *  dispatch, and answering requests (see pl_broker_int.h for the data
 *  model). Runs on the broker's loop, like all of pl_broker.
 *
 *  Invariant: a service's queue is non-empty only while none of its
 *  workers has credit left. Every event that frees credit (a reply, a new
 *  worker) drains the queue, so a new request either goes straight to a
 *  worker or joins the tail of the queue, and FIFO order holds. (The tick
 *  drains too, as a safety net.) A request joining a queue makes sure the
 *  expiry timer is armed (pl_broker.c), so it is answered at its
 *  deadline, not at the next heartbeat tick.
 *
 *  Cost per request: a scan of the service's workers to pick one (a
 *  handful per service) and one small allocation to track it; per reply a
 *  scan of the worker's pending list (at most its credit, and replies
 *  mostly come back in order, so the match is near the head). Frames are
 *  moved between messages, never copied, except the worker identity (a
 *  few bytes) pushed on each request. Nothing scans the queued requests
 *  except expiry, which stops at the first one still in time.
 */
#include "pl_broker_int.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Sending
 */

void
pl_broker__send (zsock_t *sock, zmsg_t **msg_p)
{
    /* fails only while the context terminates: drop */
    if (zmsg_send (msg_p, sock) == -1)
        zmsg_destroy (msg_p);
}

void
pl_broker__send_reply (pl_broker_t *self, const void *client, size_t client_len,
                       const void *reqid, size_t reqid_len, const char *body)
{
    zmsg_t *msg = NULL;
    if (!body)                  /* out of memory building it */
        goto cleanup;
    msg = zmsg_new ();
    zmsg_addmem (msg, client, client_len);
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, PL_CMD_REP);
    zmsg_addmem (msg, reqid, reqid_len);
    zmsg_addstr (msg, body);
    pl_broker__send (self->frontend, &msg);
cleanup:
    return;
}

void
pl_broker__refuse (pl_broker_t *self, zmsg_t **msg_p, const char *body)
{
    zmsg_t *msg = *msg_p;
    zmsg_first (msg);
    zmsg_next (msg);
    zframe_t *client = zmsg_next (msg);
    zframe_t *reqid = zmsg_next (msg);
    pl_broker__send_reply (self, zframe_data (client), zframe_size (client),
                           zframe_data (reqid), zframe_size (reqid), body);
    zmsg_destroy (msg_p);
}

void
pl_broker__send_command (pl_broker_t *self, zframe_t *identity, const char *command)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, zframe_data (identity), zframe_size (identity));
    zmsg_addstr (msg, PL_PROTO_VERSION);
    zmsg_addstr (msg, command);
    pl_broker__send (self->backend, &msg);
}

/* ---------------------------------------------------------------------
 * Services
 */

void
pl_broker__service_destroy (void **item)
{
    pl_broker__service_t *svc = *item;
    if (svc) {
        pl_broker__request_t *req;
        while ((req = pl_broker__service_pop (svc))) {
            zmsg_destroy (&req->msg);
            free (req);
        }
        zlistx_destroy (&svc->workers);
        free (svc->err_full);
        free (svc->err_expired);
        free (svc->name);
        free (svc);
        *item = NULL;
    }
}

static pl_broker__service_t *
s_service_new (const char *name, int64_t queue_timeout_ms)
{
    char text[160];
    void *item = NULL;
    pl_broker__service_t *svc = calloc (1, sizeof *svc);
    if (!svc)
        goto cleanup;
    item = svc;
    svc->name = strdup (name);
    svc->workers = zlistx_new ();
    /* the error bodies of a service are built once, not per refusal: under
     * overload the broker refuses at the rate requests arrive */
    snprintf (text, sizeof text, "service '%s' is overloaded: its queue is full", name);
    svc->err_full = pl_proto_reply_err (PL_ERR_SERVICE_UNAVAILABLE, text);
    snprintf (text, sizeof text, "no worker of service '%s' took the request within %lld ms",
              name, (long long) queue_timeout_ms);
    svc->err_expired = pl_proto_reply_err (PL_ERR_SERVICE_UNAVAILABLE, text);
    if (!svc->name || !svc->workers || !svc->err_full || !svc->err_expired) {
        pl_broker__service_destroy (&item);
        svc = NULL;
    }
cleanup:
    return svc;
}

/* Services are remembered for STATUS even when they have no worker left,
 * so the map is bounded against clients asking for random names. */
pl_broker__service_t *
pl_broker__service_require (pl_broker_t *self, const char *name)
{
    pl_broker__service_t *svc = zhashx_lookup (self->services, name);
    if (!svc && zhashx_size (self->services) < PL_BROKER_SERVICES_MAX) {
        svc = s_service_new (name, self->opts.queue_timeout_ms);
        if (svc)
            zhashx_insert (self->services, name, svc);
    }
    return svc;
}

/* The live worker with the fewest outstanding requests and credit left;
 * among equals the one that was sent work least recently (the list is
 * kept in that order), which makes it round robin. NULL when none. */
static pl_broker__worker_t *
s_service_pick (pl_broker__service_t *svc)
{
    pl_broker__worker_t *best = NULL;
    size_t best_load = 0;
    for (pl_broker__worker_t *w = zlistx_first (svc->workers); w;
         w = zlistx_next (svc->workers)) {
        size_t load = zlistx_size (w->pending);
        if (load < w->credit && (!best || load < best_load)) {
            best = w;
            best_load = load;
        }
    }
    return best;
}

pl_broker__request_t *
pl_broker__service_pop (pl_broker__service_t *svc)
{
    pl_broker__request_t *req = svc->head;
    if (req) {
        svc->head = req->next;
        if (!svc->head)
            svc->tail = NULL;
        svc->queued--;
    }
    return req;
}

/* zlistx destructor of a pending entry; runs on the broker's loop. */
static void
s_pending_free (void **item)
{
    free (*item);
    *item = NULL;
}

/* Hand a request (worker form) to worker, remembering whom to answer
 * should the worker be lost. Takes ownership of *msg_p. */
static void
s_worker_send (pl_broker_t *self, pl_broker__worker_t *worker, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    zmsg_first (msg);
    zmsg_next (msg);
    zframe_t *client = zmsg_next (msg);
    zframe_t *reqid = zmsg_next (msg);
    pl_broker__pending_t *pending = malloc (sizeof *pending);
    void *handle = NULL;
    if (pending) {
        /* sizes were checked on the way in (reqid) or by libzmq (client) */
        assert (zframe_size (client) <= PL_BROKER__IDENTITY_MAX);
        assert (zframe_size (reqid) <= PL_BROKER_REQID_MAX);
        pending->client_len = zframe_size (client);
        pending->reqid_len = zframe_size (reqid);
        memcpy (pending->client, zframe_data (client), pending->client_len);
        memcpy (pending->reqid, zframe_data (reqid), pending->reqid_len);
        handle = zlistx_add_end (worker->pending, pending);
    }
    if (!handle) {
        free (pending);
        pl_broker__refuse (self, msg_p, worker->service->err_full);
        goto cleanup;
    }
    zmsg_pushmem (msg, zframe_data (worker->identity), zframe_size (worker->identity));
    if (zmsg_send (msg_p, self->backend) == -1) {
        /* only while the context terminates: answer now rather than never */
        zmsg_destroy (msg_p);
        pl_broker__send_reply (self, pending->client, pending->client_len,
                               pending->reqid, pending->reqid_len,
                               worker->service->err_full);
        zlistx_delete (worker->pending, handle);
        goto cleanup;
    }
    zlistx_move_end (worker->service->workers, worker->handle);
cleanup:
    return;
}

void
pl_broker__service_submit (pl_broker_t *self, pl_broker__service_t *svc, zmsg_t **msg_p)
{
    pl_broker__worker_t *worker = svc->head ? NULL : s_service_pick (svc);
    pl_broker__request_t *req = NULL;
    if (worker)
        s_worker_send (self, worker, msg_p);
    else
    if (svc->queued < self->opts.queue_max && (req = malloc (sizeof *req))) {
        req->next = NULL;
        req->msg = *msg_p;
        req->deadline = zclock_mono () + self->opts.queue_timeout_ms;
        *msg_p = NULL;
        if (svc->tail)
            svc->tail->next = req;
        else
            svc->head = req;
        svc->tail = req;
        svc->queued++;
        pl_broker__expiry_arm (self, req->deadline);
    }
    else
        pl_broker__refuse (self, msg_p, svc->err_full);
}

void
pl_broker__service_drain (pl_broker_t *self, pl_broker__service_t *svc)
{
    while (svc->head) {
        pl_broker__worker_t *worker = s_service_pick (svc);
        if (!worker)
            break;
        pl_broker__request_t *req = pl_broker__service_pop (svc);
        zmsg_t *msg = req->msg;
        free (req);
        s_worker_send (self, worker, &msg);
    }
}

void
pl_broker__service_expire (pl_broker_t *self, pl_broker__service_t *svc, int64_t now)
{
    /* one timeout for all: the queue is in deadline order */
    while (svc->head && svc->head->deadline <= now) {
        pl_broker__request_t *req = pl_broker__service_pop (svc);
        pl_broker__refuse (self, &req->msg, svc->err_expired);
        free (req);
    }
}

/* ---------------------------------------------------------------------
 * Workers
 */

void
pl_broker__worker_destroy (void **item)
{
    pl_broker__worker_t *worker = *item;
    if (worker) {
        zlistx_destroy (&worker->pending);
        zframe_destroy (&worker->identity);
        free (worker->key);
        free (worker);
        *item = NULL;
    }
}

int
pl_broker__worker_add (pl_broker_t *self, zframe_t *identity, const char *key,
                       pl_broker__service_t *svc, size_t credit)
{
    int rc = -1;
    void *item = NULL;
    pl_broker__worker_t *worker = calloc (1, sizeof *worker);
    if (!worker)
        goto cleanup;
    item = worker;
    worker->key = strdup (key);
    worker->identity = zframe_dup (identity);
    worker->pending = zlistx_new ();
    worker->service = svc;
    worker->credit = credit;
    worker->expiry = zclock_mono () + self->opts.heartbeat_ms * self->opts.liveness;
    if (!worker->key || !worker->identity || !worker->pending)
        goto cleanup;
    zlistx_set_destructor (worker->pending, s_pending_free);
    /* at the head: an idle newcomer is picked before its equals */
    worker->handle = zlistx_add_start (svc->workers, worker);
    if (!worker->handle)
        goto cleanup;
    zhashx_insert (self->workers, key, worker);
    item = NULL;                /* the map owns it now */
    pl_info ("worker %s ready: service '%s', credit %zu; %zu worker(s)",
             key, svc->name, credit, zlistx_size (svc->workers));
    pl_broker__service_drain (self, svc);
    rc = 0;
cleanup:
    pl_broker__worker_destroy (&item);
    return rc;
}

/* The request it held may or may not have run; it is not retried on
 * another worker because it may not be idempotent. */
void
pl_broker__worker_forget (pl_broker_t *self, pl_broker__worker_t *worker, const char *reason)
{
    size_t lost = zlistx_size (worker->pending);
    for (pl_broker__pending_t *p = zlistx_first (worker->pending); p;
         p = zlistx_next (worker->pending))
        pl_broker__send_reply (self, p->client, p->client_len, p->reqid, p->reqid_len,
                               self->err_lost);
    pl_broker__service_t *svc = worker->service;
    zlistx_detach (svc->workers, worker->handle);
    pl_info ("worker %s %s: service '%s' has %zu worker(s); %zu outstanding "
             "request(s) answered TIMEOUT", worker->key, reason, svc->name,
             zlistx_size (svc->workers), lost);
    char key[2 * PL_BROKER__IDENTITY_MAX + 1];
    snprintf (key, sizeof key, "%s", worker->key);
    zhashx_delete (self->workers, key);         /* destroys worker */
}

/* Forwarded only if the worker holds that request, so that a duplicate or
 * a reply after TIMEOUT never reaches the client: exactly one answer. */
int
pl_broker__worker_reply (pl_broker_t *self, pl_broker__worker_t *worker, zmsg_t **msg_p)
{
    int rc = -1;
    zmsg_t *msg = *msg_p;
    assert (zmsg_size (msg) == 6 || zmsg_size (msg) == 7);    /* 7: directives */
    zmsg_first (msg);
    zmsg_next (msg);
    zmsg_next (msg);
    zframe_t *client = zmsg_next (msg);
    zframe_t *reqid = zmsg_next (msg);
    pl_broker__pending_t *p = zlistx_first (worker->pending);
    for (; p; p = zlistx_next (worker->pending))
        if (p->client_len == zframe_size (client)
        &&  p->reqid_len == zframe_size (reqid)
        &&  memcmp (p->client, zframe_data (client), p->client_len) == 0
        &&  memcmp (p->reqid, zframe_data (reqid), p->reqid_len) == 0)
            break;
    if (!p)
        goto cleanup;
    zlistx_delete (worker->pending, zlistx_cursor (worker->pending));

    /* identity PL01 REP client reqid reply [directives]
     *   -> client PL01 REP reqid reply [directives] */
    zframe_t *f_identity = zmsg_pop (msg);
    zframe_t *f_version = zmsg_pop (msg);
    zframe_t *f_command = zmsg_pop (msg);
    zframe_t *f_client = zmsg_pop (msg);
    zframe_destroy (&f_identity);
    zmsg_prepend (msg, &f_command);
    zmsg_prepend (msg, &f_version);
    zmsg_prepend (msg, &f_client);
    pl_broker__send (self->frontend, msg_p);
    pl_broker__service_drain (self, worker->service);
    rc = 0;
cleanup:
    return rc;
}
