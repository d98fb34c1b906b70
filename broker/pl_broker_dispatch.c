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
 *  moved from the socket they came in on to the one they go out on, never
 *  copied, except the worker identity (a few bytes) sent ahead of each
 *  request: no zmsg_t, zframe_t or list node is allocated per message.
 *  Nothing scans the queued requests except expiry, which stops at the
 *  first one still in time.
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

int
pl_broker__forward (void *sock, const void *prefix, size_t prefix_len,
                    pl_zmsg_t *msg, const int *order, int count)
{
    int rc = -1;
    /* A send fails only while the context terminates, or at the HWM, and
     * then on the first part only: once that is in, ZeroMQ takes the whole
     * message. (A ROUTER without ROUTER_MANDATORY drops at the HWM rather
     * than fail.) */
    if (prefix && zmq_send (sock, prefix, prefix_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        goto cleanup;
    for (int i = 0; i < count; i++) {
        assert (order[i] < msg->count);
        int flags = ZMQ_DONTWAIT | (i + 1 < count ? ZMQ_SNDMORE : 0);
        if (zmq_msg_send (&msg->frame[order[i]], sock, flags) == -1)
            goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

void
pl_broker__send_reply (pl_broker_t *self, const void *client, size_t client_len,
                       const void *reqid, size_t reqid_len, const char *body)
{
    if (!body)                  /* out of memory building it */
        return;
    pl_zmsg_part_t parts[] = {
        { client, client_len }, { PL_PROTO_VERSION, 4 }, { PL_CMD_REP, 3 },
        { reqid, reqid_len }, { body, strlen (body) },
    };
    /* fails only at exit */
    pl_zmsg_send (pl_broker__sending (self, PL_BROKER__FRONTEND), parts, 5);
}

void
pl_broker__refuse (pl_broker_t *self, pl_zmsg_t *req, const char *body)
{
    zmq_msg_t *client = &req->frame[PL_BROKER__REQ_CLIENT];
    zmq_msg_t *reqid = &req->frame[PL_BROKER__REQ_ID];
    pl_broker__send_reply (self, zmq_msg_data (client), zmq_msg_size (client),
                           zmq_msg_data (reqid), zmq_msg_size (reqid), body);
}

void
pl_broker__send_command (pl_broker_t *self, const void *identity, size_t identity_len,
                         const char *command)
{
    pl_zmsg_part_t parts[] = {
        { identity, identity_len }, { PL_PROTO_VERSION, 4 }, { command, strlen (command) },
    };
    /* fails only at exit */
    pl_zmsg_send (pl_broker__sending (self, PL_BROKER__BACKEND), parts, 3);
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
        while ((req = pl_broker__service_pop (svc)))
            pl_broker__request_free (&req);
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
        if (w->load < w->credit && (!best || w->load < best_load)) {
            best = w;
            best_load = w->load;
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

void
pl_broker__request_free (pl_broker__request_t **req_p)
{
    if (*req_p) {
        pl_zmsg_close (&(*req_p)->msg);
        free (*req_p);
        *req_p = NULL;
    }
}

/* Unlink p from worker's pending list and free it. */
static void
s_pending_remove (pl_broker__worker_t *worker, pl_broker__pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        worker->oldest = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        worker->youngest = p->prev;
    worker->load--;
    free (p);
}

/* Hand a request (client form) to worker, remembering whom to answer
 * should the worker be lost. Its frames are moved out (sent). */
static void
s_worker_send (pl_broker_t *self, pl_broker__worker_t *worker, pl_zmsg_t *req)
{
    /* client PL01 REQ service reqid event ctx body
     *   -> identity PL01 REQ client reqid event ctx body */
    static const int order[] = {
        PL_BROKER__REQ_VERSION, PL_BROKER__REQ_COMMAND, PL_BROKER__REQ_CLIENT,
        PL_BROKER__REQ_ID, PL_BROKER__REQ_EVENT, PL_BROKER__REQ_CTX, PL_BROKER__REQ_BODY,
    };
    zmq_msg_t *client = &req->frame[PL_BROKER__REQ_CLIENT];
    zmq_msg_t *reqid = &req->frame[PL_BROKER__REQ_ID];
    pl_log_for (zmq_msg_data (reqid), zmq_msg_size (reqid), PL_LOG_DEBUG,
                "request dispatched to %s worker %s", worker->service->name, worker->key);
    pl_broker__pending_t *pending = malloc (sizeof *pending);
    if (!pending) {
        worker->service->unavailable++;
        pl_broker__refuse (self, req, worker->service->err_full);
        return;
    }
    /* sizes were checked on the way in (reqid) or by libzmq (client) */
    assert (zmq_msg_size (client) <= PL_BROKER__IDENTITY_MAX);
    assert (zmq_msg_size (reqid) <= PL_BROKER_REQID_MAX);
    pending->client_len = zmq_msg_size (client);
    pending->reqid_len = zmq_msg_size (reqid);
    memcpy (pending->client, zmq_msg_data (client), pending->client_len);
    memcpy (pending->reqid, zmq_msg_data (reqid), pending->reqid_len);
    if (pl_broker__forward (pl_broker__sending (self, PL_BROKER__BACKEND),
                            worker->identity, worker->identity_len,
                            req, order, (int) (sizeof order / sizeof order[0])) == -1) {
        /* only while the context terminates: answer now rather than never */
        worker->service->unavailable++;
        pl_broker__send_reply (self, pending->client, pending->client_len,
                               pending->reqid, pending->reqid_len, worker->service->err_full);
        free (pending);
        return;
    }
    pending->next = NULL;
    pending->prev = worker->youngest;
    if (worker->youngest)
        worker->youngest->next = pending;
    else
        worker->oldest = pending;
    worker->youngest = pending;
    worker->load++;
    zlistx_move_end (worker->service->workers, worker->handle);
}

void
pl_broker__service_submit (pl_broker_t *self, pl_broker__service_t *svc, pl_zmsg_t *req)
{
    assert (req->count == PL_BROKER__REQ_FRAMES && !req->oversize);
    pl_broker__worker_t *worker = svc->head ? NULL : s_service_pick (svc);
    pl_broker__request_t *queued = NULL;
    svc->requests++;
    if (worker)
        s_worker_send (self, worker, req);
    else
    if (svc->queued < self->opts.queue_max && (queued = malloc (sizeof *queued))) {
        queued->next = NULL;
        queued->deadline = zclock_mono () + self->opts.queue_timeout_ms;
        for (int i = 0; i < req->count; i++) {
            zmq_msg_init (&queued->msg.frame[i]);
            zmq_msg_move (&queued->msg.frame[i], &req->frame[i]);
        }
        queued->msg.count = req->count;
        queued->msg.oversize = false;
        if (svc->tail)
            svc->tail->next = queued;
        else
            svc->head = queued;
        svc->tail = queued;
        svc->queued++;
        pl_broker__expiry_arm (self, queued->deadline);
    }
    else {
        svc->unavailable++;
        pl_broker__refuse (self, req, svc->err_full);
    }
}

void
pl_broker__service_drain (pl_broker_t *self, pl_broker__service_t *svc)
{
    while (svc->head) {
        pl_broker__worker_t *worker = s_service_pick (svc);
        if (!worker)
            break;
        pl_broker__request_t *req = pl_broker__service_pop (svc);
        s_worker_send (self, worker, &req->msg);
        pl_broker__request_free (&req);
    }
}

void
pl_broker__service_expire (pl_broker_t *self, pl_broker__service_t *svc, int64_t now)
{
    /* one timeout for all: the queue is in deadline order */
    while (svc->head && svc->head->deadline <= now) {
        pl_broker__request_t *req = pl_broker__service_pop (svc);
        svc->unavailable++;
        pl_broker__refuse (self, &req->msg, svc->err_expired);
        pl_broker__request_free (&req);
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
        while (worker->oldest)
            s_pending_remove (worker, worker->oldest);
        free (worker->key);
        free (worker->metrics_name);    /* the broker's count of their bytes
                                           goes with it (pl_broker_destroy)
                                           or was dropped (worker_forget) */
        free (worker->metrics_snap);
        free (worker);
        *item = NULL;
    }
}

int
pl_broker__worker_add (pl_broker_t *self, const void *identity, size_t identity_len,
                       const char *key, pl_broker__service_t *svc, size_t credit)
{
    int rc = -1;
    void *item = NULL;
    pl_broker__worker_t *worker = calloc (1, sizeof *worker);
    if (!worker)
        goto cleanup;
    item = worker;
    assert (identity_len <= PL_BROKER__IDENTITY_MAX);
    worker->key = strdup (key);
    memcpy (worker->identity, identity, identity_len);
    worker->identity_len = identity_len;
    worker->service = svc;
    worker->credit = credit;
    worker->expiry = zclock_mono () + self->opts.heartbeat_ms * self->opts.liveness;
    if (!worker->key)
        goto cleanup;
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

void
pl_broker__answer_lost (pl_broker_t *self, const pl_broker__pending_t *p,
                        const char *fallback, const char *why)
{
    char rid[PL_LOG_RID_SIZE];
    pl_log_rid_text (p->reqid, p->reqid_len, rid);
    /* the message of the shared answer, with this request's id added */
    cJSON *root = pl_proto_json_parse (fallback, strlen (fallback));
    const cJSON *message = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (root, "error"), "message");
    char *body = pl_proto_reply_err_rid (PL_ERR_TIMEOUT, cJSON_IsString (message)
                                         ? message->valuestring : NULL, rid);
    pl_log_for (p->reqid, p->reqid_len, PL_LOG_DEBUG,      /* counted at info */
                "request held by %s answered TIMEOUT", why);
    pl_broker__send_reply (self, p->client, p->client_len, p->reqid, p->reqid_len,
                           body ? body : fallback);
    free (body);
    cJSON_Delete (root);
}

/* The request it held may or may not have run; it is not retried on
 * another worker because it may not be idempotent. */
void
pl_broker__worker_forget (pl_broker_t *self, pl_broker__worker_t *worker, const char *reason)
{
    size_t lost = worker->load;
    for (pl_broker__pending_t *p = worker->oldest; p; p = p->next)
        pl_broker__answer_lost (self, p, self->err_lost, worker->key);
    pl_broker__service_t *svc = worker->service;
    svc->timeouts += lost;
    pl_broker__metrics_drop (self, worker);
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
pl_broker__worker_reply (pl_broker_t *self, pl_broker__worker_t *worker, pl_zmsg_t *rep)
{
    /* identity PL01 REP client reqid reply [directives]
     *   -> client PL01 REP reqid reply [directives] */
    static const int order[] = {
        PL_BROKER__REP_CLIENT, PL_BROKER__REP_VERSION, PL_BROKER__REP_COMMAND,
        PL_BROKER__REP_ID, PL_BROKER__REP_BODY, PL_BROKER__REP_DIRECTIVES,
    };
    int rc = -1;
    assert ((rep->count == 6 || rep->count == 7) && !rep->oversize);
    zmq_msg_t *client = &rep->frame[PL_BROKER__REP_CLIENT];
    zmq_msg_t *reqid = &rep->frame[PL_BROKER__REP_ID];
    size_t client_len = zmq_msg_size (client);
    size_t reqid_len = zmq_msg_size (reqid);
    pl_broker__pending_t *p = worker->oldest;
    for (; p; p = p->next)
        if (p->client_len == client_len
        &&  p->reqid_len == reqid_len
        &&  memcmp (p->client, zmq_msg_data (client), client_len) == 0
        &&  memcmp (p->reqid, zmq_msg_data (reqid), reqid_len) == 0)
            break;
    if (!p)
        goto cleanup;
    pl_log_for (p->reqid, p->reqid_len, PL_LOG_DEBUG, "reply from %s worker %s",
                worker->service->name, worker->key);
    s_pending_remove (worker, p);
    pl_broker__forward (pl_broker__sending (self, PL_BROKER__FRONTEND), NULL, 0,
                        rep, order, rep->count - 1);
    pl_broker__service_drain (self, worker->service);
    rc = 0;
cleanup:
    return rc;
}
