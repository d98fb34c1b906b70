/*  pl_ctlc - the Socket.IO session over the connection of pl_ctlc.c:
 *  connect (Engine.IO OPEN, then CONNECT with the token), call (an event
 *  and its ack; events pushed meanwhile are held) and next (a held event,
 *  or the next one pushed). Blocking, on the caller's thread.
 */
#include "pl_ctlc.h"
#include "pl_ctlc_int.h"
#include "pl_proto.h"
#include "pl_sio.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
pl_ctlc_connect (pl_ctlc_t *self, const char *eio_path, const char *token)
{
    pl_sio_packet_t pkt = { 0 };
    char *text = NULL;
    char path[512];
    int rc = PL_CTLC_USAGE;
    pl_ctlc__begin (self, "the connect");
    if (snprintf (path, sizeof path, "%s?EIO=4&transport=websocket", eio_path)
        >= (int) sizeof path)
        goto cleanup;
    size_t len;
    rc = pl_ctlc__open (self, path, false);
    if (rc == PL_CTLC_OK)
        rc = pl_ctlc__wait (self, 0, true);
    if (rc == PL_CTLC_OK)
        rc = pl_ctlc__wait (self, 2, true);
    if (rc != PL_CTLC_OK)
        goto cleanup;
    /* Engine.IO: the first message is the OPEN packet */
    pl_ctlc__take (self, &pkt, &text, &len);
    if (pkt.eio != PL_EIO_OPEN) {
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s did not open an Engine.IO session%s", NULL);
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    const cJSON *max = cJSON_GetObjectItemCaseSensitive (pkt.json, "maxPayload");
    if (cJSON_IsNumber (max) && max->valuedouble >= 16 && max->valuedouble < PL_CTLC_MSG_MAX)
        self->max_payload = (long) max->valuedouble;
    pl_sio_packet_clear (&pkt);
    free (text);
    text = NULL;
    /* Socket.IO: CONNECT with the token, answered CONNECT or CONNECT_ERROR */
    if (pl_ctlc__send (self, pl_sio_encode_auth (token)) != 0) {
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s: cannot send the token%s", NULL);
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    while (rc == PL_CTLC_OK) {
        rc = pl_ctlc__wait (self, 2, true);
        if (rc != PL_CTLC_OK)
            break;
        pl_ctlc__take (self, &pkt, &text, &len);
        if (pkt.sio == PL_SIO_CONNECT && pkt.nsp_len == 1)
            break;
        if (pkt.sio == PL_SIO_CONNECT_ERROR) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive (pkt.json, "message");
            char shown[PL_CTLC_PRINTABLE + 1] = "(no message)";
            if (cJSON_IsString (m))
                pl_ctlc_printable (shown, sizeof shown, m->valuestring, strlen (m->valuestring));
            pl_ctlc__fail (self, PL_CTLC_ERROR, "%s refused the connection: %s", shown);
            rc = PL_CTLC_ERROR;
        }
        else
        if (pkt.eio != PL_EIO_NOOP && pkt.eio != PL_EIO_PONG) {
            pl_ctlc__fail (self, PL_CTLC_LOST, "%s answered the CONNECT with something else%s",
                           NULL);
            rc = PL_CTLC_LOST;
        }
        pl_sio_packet_clear (&pkt);
        free (text);
        text = NULL;
    }
cleanup:
    pl_sio_packet_clear (&pkt);
    free (text);
    return rc;
}

/* The next packet of a connected session, waited for (timed: within the
 * phase's deadline), in place of the previous one (*pkt cleared, *text
 * freed first; *len its bytes). A DISCONNECT or CONNECT_ERROR ends the
 * session (PL_CTLC_LOST). The caller clears the last *pkt, then frees
 * *text. */
static int
s_read (pl_ctlc_t *self, bool timed, pl_sio_packet_t *pkt, char **text, size_t *len)
{
    pl_sio_packet_clear (pkt);
    free (*text);
    *text = NULL;
    int rc = pl_ctlc__wait (self, 2, timed);
    if (rc != PL_CTLC_OK)
        goto cleanup;
    pl_ctlc__take (self, pkt, text, len);
    if (pkt->sio == PL_SIO_DISCONNECT || pkt->sio == PL_SIO_CONNECT_ERROR) {
        pl_sio_packet_clear (pkt);
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s ended the Socket.IO session%s", NULL);
        rc = PL_CTLC_LOST;
    }
cleanup:
    return rc;
}

/* A pushed EVENT for tail: a named one, or one refused in pl_ctlc_next
 * (a NUL can hide its name). */
static bool
s_pushed (const pl_sio_packet_t *pkt)
{
    return pkt->sio == PL_SIO_EVENT && (pkt->event || pkt->nul);
}

/* Keep a pushed EVENT's text (*text, len bytes: taken, *text set to NULL)
 * for pl_ctlc_next. Its bytes stay in the budget of PL_CTLC_INQ_BYTES
 * that s_on_message checks. -1 when PL_CTLC_HELD already wait. */
static int
s_hold (pl_ctlc_t *self, char **text, size_t len)
{
    int rc = -1;
    if (self->held_count == PL_CTLC_HELD)
        goto cleanup;
    unsigned slot = (self->held_head + self->held_count) % PL_CTLC_HELD;
    self->held[slot] = *text;
    self->held_len[slot] = len;
    self->held_count++;
    self->held_bytes += len;
    *text = NULL;
    rc = 0;
cleanup:
    return rc;
}

int
pl_ctlc_call (pl_ctlc_t *self, const char *event, const cJSON *arg, cJSON **ack)
{
    pl_sio_packet_t pkt = { 0 };
    char *text = NULL;
    size_t len = 0;
    int rc = PL_CTLC_OK;
    *ack = NULL;
    pl_ctlc__begin (self, "the call");
    uint64_t id = self->next_ack++;
    char *packet = pl_sio_encode_event (id, event, arg);
    if (packet && (long) strlen (packet) > self->max_payload) {
        char max[32];
        snprintf (max, sizeof max, "%ld", self->max_payload);
        snprintf (self->error, sizeof self->error,
                  "the event is larger than the server's maxPayload (%s bytes)", max);
        free (packet);
        rc = PL_CTLC_USAGE;
        goto cleanup;
    }
    if (pl_ctlc__send (self, packet) != 0) {
        pl_ctlc__fail (self, PL_CTLC_LOST, "%s: cannot send the event%s", NULL);
        rc = PL_CTLC_LOST;
        goto cleanup;
    }
    while (!*ack && (rc = s_read (self, true, &pkt, &text, &len)) == PL_CTLC_OK) {
        if (pkt.sio == PL_SIO_ACK && pkt.ack_id == id) {
            /* printed as JSON, a string cut at a NUL would be another one */
            if (pkt.nul) {
                pl_ctlc__fail (self, PL_CTLC_LOST, "%s sent an ack holding a NUL (\\u0000)%s",
                               NULL);
                rc = PL_CTLC_LOST;
                break;
            }
            const cJSON *first = cJSON_GetArrayItem (pkt.json, 0);
            *ack = first ? cJSON_Duplicate (first, true) : cJSON_CreateNull ();
            if (!*ack) {
                rc = PL_CTLC_LOST;
                snprintf (self->error, sizeof self->error, "out of memory");
                break;
            }
        }
        else
        if (s_pushed (&pkt) && s_hold (self, &text, len) != 0) {
            pl_ctlc__fail (self, PL_CTLC_LOST, "%s pushed too many events while parleyctl waited%s",
                          NULL);
            rc = PL_CTLC_LOST;
            break;
        }
    }
cleanup:
    pl_sio_packet_clear (&pkt);
    free (text);
    return rc;
}

/* The name and the arguments after it of an EVENT's JSON array. */
static int
s_split_event (const cJSON *packet, char **event, cJSON **args)
{
    int rc = -1;
    *event = strdup (cJSON_GetArrayItem (packet, 0)->valuestring);
    *args = cJSON_CreateArray ();
    if (!*event || !*args)
        goto cleanup;
    for (const cJSON *a = cJSON_GetArrayItem (packet, 1); a; a = a->next) {
        cJSON *copy = cJSON_Duplicate (a, true);
        if (!copy || !cJSON_AddItemToArray (*args, copy)) {
            cJSON_Delete (copy);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    if (rc != 0) {
        free (*event);
        *event = NULL;
        cJSON_Delete (*args);
        *args = NULL;
    }
    return rc;
}

int
pl_ctlc_next (pl_ctlc_t *self, char **event, cJSON **args)
{
    pl_sio_packet_t pkt = { 0 };
    char *text = NULL;
    size_t len = 0;
    int rc = PL_CTLC_OK;
    *event = NULL;
    *args = NULL;
    if (self->held_count) {
        unsigned slot = self->held_head;
        text = self->held[slot];
        len = self->held_len[slot];
        self->held_head = (slot + 1) % PL_CTLC_HELD;
        self->held_count--;
        self->held_bytes -= len;
        /* it parsed in s_on_message, so it parses again */
        rc = pl_sio_parse_server (text, len, &pkt, NULL);
        assert (rc == 0);
    }
    else
        while ((rc = s_read (self, false, &pkt, &text, &len)) == PL_CTLC_OK && !s_pushed (&pkt))
            ;
    if (rc != PL_CTLC_OK)
        goto cleanup;
    if (pkt.nul) {
        /* cJSON would cut the string at the NUL: an id printed cut would
         * be another id. Refused, the session goes on (not pl_ctlc__fail: the
         * connection's close_rc stays as it is). */
        char shown[PL_CTLC_PRINTABLE + 1] = "an event";
        if (pkt.event)
            pl_ctlc_printable (shown, sizeof shown, pkt.event, strlen (pkt.event));
        /* a message cut at sizeof error is still the message */
        if (snprintf (self->error, sizeof self->error,
                      "%s pushed %s holding a NUL (\\u0000): skipped", self->addr.url, shown) < 0)
            self->error[0] = 0;
        rc = PL_CTLC_ERROR;
        goto cleanup;
    }
    if (s_split_event (pkt.json, event, args) != 0) {
        snprintf (self->error, sizeof self->error, "out of memory");
        rc = PL_CTLC_LOST;
    }
cleanup:
    pl_sio_packet_clear (&pkt);
    free (text);
    return rc;
}
