/*  pl_conformance - the reference test servers' application over the
 *  gateway's core (pl_conformance.h). */
#include "pl_conformance.h"
#include "pl_gateway.h"
#include "pl_gateway_int.h"
#include "pl_log.h"
#include "pl_proto.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_CONF_CONNECT_TIMEOUT 1000    /* ms: the reference servers' connectTimeout */

struct _pl_conformance_t {
    pl_gateway_t *gateway;
};

/* The test server's two events (not Parley's: proto/events.def is the
 * application's table, these are the reference server's). */
typedef enum { S_EV_NONE, S_EV_MESSAGE, S_EV_MESSAGE_WITH_ACK } s_event_t;

static const struct { const char *name; s_event_t ev; } s_events[] = {
    { "message", S_EV_MESSAGE },
    { "message-with-ack", S_EV_MESSAGE_WITH_ACK },
};

static const char *const s_nsps[] = { "/custom", NULL };

static s_event_t
s_event_of (const cJSON *name)
{
    s_event_t ev = S_EV_NONE;
    for (size_t i = 0; cJSON_IsString (name) && i < sizeof s_events / sizeof s_events[0]; i++)
        if (strcmp (name->valuestring, s_events[i].name) == 0)
            ev = s_events[i].ev;
    return ev;
}

/* "<nsp>," for a namespace other than "/", else "" (into buf). */
static const char *
s_nsp_prefix (const pl_sio_packet_t *pkt, char *buf, size_t size)
{
    bool main_nsp = pkt->nsp_len == 1 && pkt->nsp[0] == '/';
    snprintf (buf, size, "%.*s%s", main_nsp ? 0 : (int) pkt->nsp_len, main_nsp ? "" : pkt->nsp,
              main_nsp ? "" : ",");
    return buf;
}

char *
pl_conformance_answer (const pl_sio_packet_t *pkt)
{
    char *out = NULL, *json = NULL, nsp[300], head[32] = "";
    cJSON *args = NULL;
    bool binary = pkt->sio == PL_SIO_BINARY_EVENT;
    if ((pkt->sio != PL_SIO_EVENT && !binary) || pkt->nul || !cJSON_IsArray (pkt->json)
    ||  pkt->nsp_len > sizeof nsp - 2)
        goto cleanup;
    s_event_t ev = s_event_of (cJSON_GetArrayItem (pkt->json, 0));
    if (ev == S_EV_NONE || (ev == S_EV_MESSAGE_WITH_ACK && !pkt->has_ack))
        goto cleanup;
    args = cJSON_Duplicate (pkt->json, true);
    if (!args)
        goto cleanup;
    if (ev == S_EV_MESSAGE) {
        cJSON *name = cJSON_CreateString ("message-back");
        if (!name || !cJSON_ReplaceItemInArray (args, 0, name)) {
            cJSON_Delete (name);
            goto cleanup;
        }
        if (binary)
            snprintf (head, sizeof head, "45%u-", pkt->attachments);
        else
            snprintf (head, sizeof head, "42");
    }
    else {
        cJSON_DeleteItemFromArray (args, 0);
        if (binary)
            snprintf (head, sizeof head, "46%u-", pkt->attachments);
        else
            snprintf (head, sizeof head, "43");
    }
    json = cJSON_PrintUnformatted (args);
    if (!json)
        goto cleanup;
    if (ev == S_EV_MESSAGE_WITH_ACK) {
        if (asprintf (&out, "%s%s%llu%s", head, s_nsp_prefix (pkt, nsp, sizeof nsp),
                      (unsigned long long) pkt->ack_id, json) < 0)
            out = NULL;
    }
    else
    if (asprintf (&out, "%s%s%s", head, s_nsp_prefix (pkt, nsp, sizeof nsp), json) < 0)
        out = NULL;
cleanup:
    cJSON_Delete (args);
    free (json);
    return out;
}

/* pl_gwapp_t connect, gateway loop: "40<nsp>,{"sid":..}", then the
 * handshake's auth emitted back as "auth" ({} without one). */
static void
s_on_connect (pl_gateway_t *gw, pl_gwconn_t *conn, pl_sio_packet_t *pkt)
{
    bool ok = false;
    const char *why = "server error";
    char sid[21], nsp[300], *auth = NULL, *out = NULL;
    if (pkt->nul)
        why = PL_PROTO_NUL_MESSAGE;     /* cJSON would echo it cut at the NUL */
    if (pkt->nsp_len > sizeof nsp - 2 || pkt->nul || pl_sio_new_sid (sid) != 0)
        goto cleanup;
    auth = pkt->json ? cJSON_PrintUnformatted (pkt->json) : strdup ("{}");
    if (!auth)
        goto cleanup;
    s_nsp_prefix (pkt, nsp, sizeof nsp);
    if (asprintf (&out, "40%s{\"sid\":\"%s\"}", nsp, sid) < 0) {
        out = NULL;
        goto cleanup;
    }
    pl_gateway__send_str (gw, conn, out);
    out = NULL;
    if (asprintf (&out, "42%s[\"auth\",%s]", nsp, auth) < 0) {
        out = NULL;
        goto cleanup;
    }
    pl_gateway__send_str (gw, conn, out);
    out = NULL;
    pl_gateway__nsp_accepted (gw, conn, pkt->nsp, pkt->nsp_len);
    ok = true;
cleanup:
    if (!ok)
        pl_gateway__send_str (gw, conn, pl_sio_encode_connect_error (pkt->nsp, pkt->nsp_len, why));
    free (auth);
    free (out);
}

/* pl_gwapp_t event, gateway loop: the echo (pl_conformance_answer). */
static void
s_on_event (pl_gateway_t *gw, pl_gwconn_t *conn, pl_sio_packet_t *pkt)
{
    pl_gateway__send_str (gw, conn, pl_conformance_answer (pkt));
}

/* pl_gwapp_t binary, gateway loop: the echo, then its attachments. A
 * BINARY_ACK answers nothing (the server never asks for acks). */
static void
s_on_binary (pl_gateway_t *gw, pl_gwconn_t *conn, pl_sio_packet_t *pkt,
             const pl_gwattach_t *att, unsigned n)
{
    char *answer = pl_conformance_answer (pkt);
    if (answer) {
        pl_gateway__send_str (gw, conn, answer);
        for (unsigned i = 0; i < n; i++)
            pl_gateway__send_binary (gw, conn, att[i].data, att[i].len);
    }
}

/* pl_gwapp_t disconnect, gateway loop: nothing to undo. */
static void
s_on_disconnect (pl_gateway_t *gw, pl_gwconn_t *conn, pl_sio_packet_t *pkt)
{
    (void) gw;
    (void) conn;
    (void) pkt;
}

/* pl_gwapp_t closed, gateway loop: nothing to undo. */
static void
s_on_closed (pl_gateway_t *gw, pl_gwconn_t *conn)
{
    (void) gw;
    (void) conn;
}

/* pl_gwapp_t message, gateway loop: the Engine.IO echo. */
static void
s_on_message (pl_gateway_t *gw, pl_gwconn_t *conn, const char *data, size_t len, bool binary)
{
    if (binary)
        pl_gateway__send_binary (gw, conn, data, len);
    else {
        pl_frame_t *f = pl_frame_new ("4", 1, data, len);
        pl_gateway__send (gw, conn, f);
        pl_frame_unref (&f);
    }
}

static const pl_gwapp_t s_sio_app = {
    .connect = s_on_connect, .event = s_on_event, .closed = s_on_closed,
    .disconnect = s_on_disconnect, .binary = s_on_binary,
    .nsps = s_nsps, .connect_timeout = PL_CONF_CONNECT_TIMEOUT, .broker = false
};

static const pl_gwapp_t s_eio_app = {
    .connect = s_on_connect, .event = s_on_event, .closed = s_on_closed,
    .message = s_on_message, .broker = false
};

pl_conformance_t *
pl_conformance_new (pl_config_t *config, pl_conformance_mode_t mode)
{
    pl_conformance_t *self = calloc (1, sizeof *self);
    if (!self)
        goto cleanup;
    self->gateway = pl_gateway_new_app (config, mode == PL_CONFORMANCE_EIO ? &s_eio_app
                                                                           : &s_sio_app);
    if (!self->gateway)
        pl_conformance_destroy (&self);
cleanup:
    return self;
}

void
pl_conformance_destroy (pl_conformance_t **self_p)
{
    assert (self_p);
    pl_conformance_t *self = *self_p;
    if (self) {
        pl_gateway_destroy (&self->gateway);
        free (self);
        *self_p = NULL;
    }
}

int
pl_conformance_run (pl_conformance_t *self)
{
    return pl_gateway_run (self->gateway);
}

/* ---- selftest --------------------------------------------------------- */

static void
s_check (const char *in, const char *want)
{
    pl_sio_packet_t pkt;
    const char *why = NULL;
    int rc = pl_sio_parse (in, strlen (in), &pkt, &why);
    if (rc != 0)
        fprintf (stderr, "conformance: %s does not parse: %s\n", in, why);
    assert (rc == 0);
    char *got = pl_conformance_answer (&pkt);
    if (!want)
        assert (got == NULL);
    else {
        assert (got);
        if (strcmp (got, want) != 0) {
            fprintf (stderr, "conformance: %s -> %s, want %s\n", in, got, want);
            assert (false);
        }
    }
    free (got);
    pl_sio_packet_clear (&pkt);
}

void
pl_conformance_test (bool verbose)
{
    if (verbose)
        printf (" * conformance: ");
    s_check ("42[\"message\",1,\"2\",{\"3\":[true]}]", "42[\"message-back\",1,\"2\",{\"3\":[true]}]");
    s_check ("42/custom,[\"message\",\"x\"]", "42/custom,[\"message-back\",\"x\"]");
    s_check ("42456[\"message-with-ack\",1,\"2\"]", "43456[1,\"2\"]");
    s_check ("42/custom,7[\"message-with-ack\"]", "43/custom,7[]");
    s_check ("452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
             "452-[\"message-back\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    s_check ("451-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0}]",
             "461-789[{\"_placeholder\":true,\"num\":0}]");
    /* no answer: another event, an ack wanted but no id, no event name */
    s_check ("42[\"other\",1]", NULL);
    s_check ("42[\"message-with-ack\",1]", NULL);
    s_check ("42[1]", NULL);
    s_check ("431[1]", NULL);
    /* a NUL would be cut by cJSON: no echo of a different string */
    s_check ("42[\"message\",\"a\\u0000b\"]", NULL);
    if (verbose)
        printf ("OK\n");
}
