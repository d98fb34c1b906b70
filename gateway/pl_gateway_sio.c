/*  pl_gateway_sio - the Socket.IO front end, on the lws loop: a WebSocket
 *  opened (the Engine.IO open packet), frames assembled into messages,
 *  Engine.IO pings and closes, Socket.IO CONNECT (the JWT), EVENTs handed
 *  to the request layer, and protocol errors closed with a reason and one
 *  rate-limited log line. A front end, like pl_http.c: it calls the
 *  request layer (pl_gateway_req.c) and the connection layer
 *  (pl_gateway_conn.c), and only the lws callback (pl_gateway.c) calls it.
 */
#include "pl_gateway_int.h"
#include "pl_jwt.h"
#include "pl_log.h"
#include "pl_proto.h"
#include "pl_sio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Lines a second that a peer's protocol errors may add to the log. A flood
 * of bad frames (or of connections that each send one) costs one line per
 * error up to this, then one summary line (pl_log_limited). */
#define PL_GW_CLOSE_LOG_PER_SEC 10

/* The VALIDATION_ERROR a BINARY_EVENT with an ack id gets. */
#define PL_GW_BINARY_MESSAGE "binary attachments are not supported"

/* Gateway loop: conn breaks the protocol and is closed, through its
 * transport. A WebSocket's close frame carries status and why (at most 123
 * bytes, RFC 6455 5.5), so the client sees the reason instead of 1006 (the
 * caller returns -1 from its lws callback); a polling session is closed
 * with why (its held GET gets "1"). The log gets one info line with the
 * peer address, within the budget. why is NULL for a close the client
 * asked for (Engine.IO CLOSE, DISCONNECT), which is normal and logged at
 * debug only. */
static void
s_close (pl_gateway_t *self, pl_gwconn_t *conn, enum lws_close_status status, const char *why)
{
    char peer[64] = "";
    if (!why) {
        if (conn->poll)
            pl_gateway__poll_kill (conn, "closed by the client");
        else
            lws_close_reason (conn->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        pl_debug ("conn %llu: closed by the client", (unsigned long long) conn->id);
        goto cleanup;
    }
    size_t len = strlen (why);
    if (conn->poll) {
        pl_gateway__poll_kill (conn, why);
        snprintf (peer, sizeof peer, "polling");
    }
    else {
        lws_close_reason (conn->wsi, status, (unsigned char *) why, len > 123 ? 123 : len);
        if (!lws_get_peer_simple (conn->wsi, peer, sizeof peer))
            snprintf (peer, sizeof peer, "?");
    }
    pl_log_limited (&self->close_log, pl_gateway__now_ms (), PL_GW_CLOSE_LOG_PER_SEC,
                    "protocol error lines", PL_LOG_INFO,
                    "conn %llu from %s: protocol error, closing (%d): %s",
                    (unsigned long long) conn->id, peer, (int) status, why);
cleanup:
    return;
}

/* A CONNECT. Parley serves the main namespace only: a CONNECT to another
 * is answered CONNECT_ERROR "Invalid namespace" for that namespace, as the
 * reference server does (Client._connect). socket.io-client routes the
 * packet by its namespace, so an error for "/" would leave the socket of
 * io(url + "/admin") waiting for ever. The connection stays open: the
 * client may be, or may yet get, connected to "/". */
static void
s_on_connect (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt)
{
    pl_jwt_claims_t claims = { 0 };
    const char *why = "missing token";
    if (pkt->nsp_len != 1) {
        pl_gwmetrics_refused (self->metrics, PL_ERR_NONE, PL_GWM_REFUSED_NAMESPACE);
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (pkt->nsp, pkt->nsp_len,
                                                                       "Invalid namespace"));
        goto cleanup;
    }
    const cJSON *token = cJSON_GetObjectItemCaseSensitive (pkt->json, "token");
    if (pkt->nul)
        why = PL_PROTO_NUL_MESSAGE;     /* "<token>\u0000junk" is not that token */
    if (pkt->nul || !cJSON_IsString (token)
    ||  pl_jwt_verify (token->valuestring, strlen (token->valuestring), self->secret,
                       time (NULL), &claims, &why) != 0) {
        char message[128];
        snprintf (message, sizeof message, "unauthorized: %s", why);
        pl_gwmetrics_refused (self->metrics, PL_ERR_UNAUTHORIZED, 0);
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (NULL, 0, message));
        goto cleanup;
    }
    size_t sub_len = strlen (claims.sub);
    const char *name = claims.name ? claims.name : "";
    /* connection-state recovery: auth {pid, offset} asks the broker first */
    if (pl_gateway__recover_connect (self, conn, pkt->json, claims.sub, name) == 1)
        goto cleanup;
    conn->user = malloc (sub_len + strlen (name) + 2);
    if (!conn->user) {
        pl_gwmetrics_refused (self->metrics, PL_ERR_NONE, PL_GWM_REFUSED_SERVER_ERROR);
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (NULL, 0, "server error"));
        goto cleanup;
    }
    memcpy (conn->user, claims.sub, sub_len + 1);
    strcpy (conn->user + sub_len + 1, name);
    pl_gateway__sio_accept (self, conn, NULL);
cleanup:
    pl_jwt_claims_clear (&claims);
}

/* The namespace's bit in conn->nsps: 1 for "/", 1 << i for the
 * application's nsps[i - 1]; 0 for a namespace the application does not
 * serve. */
static uint32_t
s_nsp_bit (pl_gateway_t *self, const char *nsp_name, size_t nsp_len)
{
    uint32_t bit = 0;
    if (nsp_len == 1 && nsp_name[0] == '/') {
        bit = 1;
        goto cleanup;
    }
    for (unsigned i = 0; self->app.nsps && i < 31 && self->app.nsps[i]; i++) {
        const char *nsp = self->app.nsps[i];
        if (strlen (nsp) == nsp_len && memcmp (nsp, nsp_name, nsp_len) == 0) {
            bit = 1u << (i + 1);
            goto cleanup;
        }
    }
cleanup:
    return bit;
}

void
pl_gateway__nsp_accepted (pl_gateway_t *self, pl_gwconn_t *conn, const char *nsp,
                          size_t nsp_len)
{
    uint32_t bit = s_nsp_bit (self, nsp, nsp_len);
    if (bit) {
        conn->nsps |= bit;
        conn->connected = true;
    }
}

void
pl_gateway__bin_free (pl_gwconn_t *conn)
{
    pl_gwbin_t *bin = conn->bin;
    if (bin) {
        for (unsigned i = 0; i < bin->count; i++)
            free (bin->att[i].data);
        free (bin->text);
        free (bin);
        conn->bin = NULL;
    }
}

/* Gateway loop: a binary packet (its text, len bytes) whose attachments the
 * application takes: kept until they have all come. -1: out of memory. */
static int
s_bin_start (pl_gwconn_t *conn, const char *buf, size_t len, unsigned count)
{
    int rc = -1;
    pl_gwbin_t *bin = calloc (1, sizeof *bin + count * sizeof bin->att[0]);
    if (!bin || !(bin->text = malloc (len + 1))) {
        free (bin);
        goto cleanup;
    }
    memcpy (bin->text, buf, len);
    bin->text[len] = '\0';
    bin->text_len = bin->total = len;
    bin->count = count;
    conn->bin = bin;
    rc = 0;
cleanup:
    return rc;
}

/* Gateway loop: hand a binary packet with its attachments to the
 * application. The text parsed when it came, so it parses again. */
static void
s_bin_deliver (pl_gateway_t *self, pl_gwconn_t *conn, const char *buf, size_t len,
               const pl_gwattach_t *att, unsigned n)
{
    pl_sio_packet_t pkt;
    const char *why = NULL;
    if (pl_sio_parse (buf, len, &pkt, &why) == 0)
        self->app.binary (self, conn, &pkt, att, n);
    pl_sio_packet_clear (&pkt);
}

/* Gateway loop: a Socket.IO packet of a connection (pkt parsed from buf).
 * Returns -1 with *why set to close it. */
static int
s_sio_packet (pl_gateway_t *self, pl_gwconn_t *conn, pl_sio_packet_t *pkt,
              const char *buf, size_t len, const char **why)
{
    int rc = -1;
    uint32_t bit = s_nsp_bit (self, pkt->nsp, pkt->nsp_len);
    if (pkt->sio == PL_SIO_CONNECT) {
        /* an unknown namespace is answered for that namespace, as the
         * reference server does (Client._connect): socket.io-client routes
         * the packet by its namespace, so an error for "/" would leave the
         * socket of io(url + "/admin") waiting for ever. The connection
         * stays open. A repeated CONNECT (socket.connect() on a connecting
         * socket) is already done, or being recovered. */
        if (!bit) {
            pl_gwmetrics_refused (self->metrics, PL_ERR_NONE, PL_GWM_REFUSED_NAMESPACE);
            pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (pkt->nsp, pkt->nsp_len,
                                                                           "Invalid namespace"));
        }
        else
        if (!(conn->nsps & bit) && !(bit == 1 && conn->recover))
            self->app.connect (self, conn, pkt);
        rc = 0;
        goto cleanup;
    }
    /* Anything else for a namespace the client is not connected to closes
     * the connection, as the reference server does (Client._ondecoded:
     * "invalid state"); the spec asks a server that gets no CONNECT first
     * to close. The close frame says why, so the client is not left
     * waiting. */
    if (!conn->connected) {
        *why = "no successful CONNECT before this packet";
        goto cleanup;
    }
    if (!(conn->nsps & bit)) {
        *why = "packet for a namespace the client is not connected to";
        goto cleanup;
    }
    if (pkt->sio == PL_SIO_DISCONNECT) {
        if (!self->app.disconnect) {
            conn->ended = true;         /* Parley: the connection ends, and
                                           no recovery after a DISCONNECT */
            goto cleanup;
        }
        conn->nsps &= ~bit;
        self->app.disconnect (self, conn, pkt);
        rc = 0;
        goto cleanup;
    }
    if (pkt->sio == PL_SIO_EVENT)
        self->app.event (self, conn, pkt);
    if ((pkt->sio == PL_SIO_BINARY_EVENT || pkt->sio == PL_SIO_BINARY_ACK) && self->app.binary) {
        if (pkt->attachments == 0)
            s_bin_deliver (self, conn, buf, len, NULL, 0);
        else
        if (s_bin_start (conn, buf, len, pkt->attachments) != 0) {
            *why = "out of memory";
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    /* Parley is JSON-only: a BINARY_EVENT is refused whole, with an ack
     * when it has an id; without one it is dropped, as any refused event
     * without an ack id is (the client asked for no answer). Its
     * attachments are skipped either way, and the connection goes on. */
    conn->bin_pending = pkt->attachments;   /* skipped by s_skip_attachment */
    if (pkt->sio == PL_SIO_BINARY_EVENT && pkt->has_ack)
        pl_gateway__send_ack_error (self, conn, pkt->ack_id, PL_ERR_VALIDATION_ERROR,
                                    PL_GW_BINARY_MESSAGE);
    /* ACK, BINARY_ACK: we never emit with an ack, so there is nothing to
     * match */
    rc = 0;
cleanup:
    return rc;
}

/* Gateway loop: an Engine.IO PING gets its PONG; a PONG to our ping puts
 * the connection back on the ping list (the WebSocket heartbeat). */
static void
s_heartbeat (pl_gateway_t *self, pl_gwconn_t *conn, pl_eio_type_t type)
{
    if (type == PL_EIO_PING)
        pl_gateway__send_text (self, conn, "3", 1);
    else
    if (conn->timer == PL_GWTIMER_PONG)
        pl_gateway__timer_append (self, conn, PL_GWTIMER_PING, self->ping_interval);
}

/* Gateway loop: one text message of an Engine.IO-level application: the
 * heartbeat and close are the core's, a MESSAGE goes to the application,
 * anything else closes. -1 with *why set to close. */
static int
s_eio_message (pl_gateway_t *self, pl_gwconn_t *conn, const char *buf, size_t len,
               const char **why)
{
    int rc = -1;
    *why = "invalid Engine.IO packet";
    if (len == 0 || buf[0] < '0' || buf[0] > '6')
        goto cleanup;
    pl_eio_type_t type = (pl_eio_type_t) (buf[0] - '0');
    switch (type) {
        case PL_EIO_PONG:
        case PL_EIO_PING:
            s_heartbeat (self, conn, type);
            break;
        case PL_EIO_CLOSE:
            *why = NULL;                /* the client's close */
            goto cleanup;
        case PL_EIO_MESSAGE:
            if (!pl_sio_utf8_valid ((const unsigned char *) buf + 1, len - 1)) {
                *why = "invalid UTF-8";
                goto cleanup;
            }
            self->app.message (self, conn, buf + 1, len - 1, false);
            break;
        default:
            goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

void
pl_gateway__sio_accept (pl_gateway_t *self, pl_gwconn_t *conn, const char *pid)
{
    char room[300];
    char sid[21];
    snprintf (room, sizeof room, "user:%s", conn->user);
    if (pl_sio_new_sid (sid) != 0 || pl_gateway__conn_join (self, conn, room) != 0) {
        free (conn->user);
        conn->user = NULL;
        pl_gwmetrics_refused (self->metrics, PL_ERR_NONE, PL_GWM_REFUSED_SERVER_ERROR);
        pl_gateway__send_str (self, conn, pl_sio_encode_connect_error (NULL, 0, "server error"));
        goto cleanup;
    }
    pl_gateway__nsp_accepted (self, conn, "/", 1);
    pl_gateway__send_str (self, conn, pl_gateway__recover_ack (self, conn, sid, pid));
cleanup:
    return;
}

/* Handle one complete client message, from any transport. Returns -1 when
 * the connection is closed (s_close has closed its transport and logged
 * why; a WebSocket's callback returns -1). */
int
pl_gateway__sio_message (pl_gateway_t *self, pl_gwconn_t *conn, const char *buf, size_t len)
{
    int rc = -1;
    pl_sio_packet_t pkt;
    const char *why = NULL;
    memset (&pkt, 0, sizeof pkt);
    if (self->app.message) {
        rc = s_eio_message (self, conn, buf, len, &why);
        goto cleanup;
    }
    if (conn->bin_pending > 0 || conn->bin) {
        /* socket.io-parser refuses one too ("got plaintext data when
         * reconstructing a packet") */
        why = "text frame where a binary attachment was announced";
        goto cleanup;
    }
    if (pl_sio_parse (buf, len, &pkt, &why) != 0)
        goto cleanup;
    switch (pkt.eio) {
        case PL_EIO_PONG:
        case PL_EIO_PING:
            s_heartbeat (self, conn, pkt.eio);
            break;
        case PL_EIO_CLOSE:
            goto cleanup;
        case PL_EIO_MESSAGE:
            if (s_sio_packet (self, conn, &pkt, buf, len, &why) != 0)
                goto cleanup;
            break;
        default:
            break;
    }
    rc = 0;
cleanup:
    if (rc != 0)
        s_close (self, conn, LWS_CLOSE_STATUS_PROTOCOL_ERR, why);
    pl_sio_packet_clear (&pkt);
    return rc;
}

/* Gateway loop: a binary fragment (final: its message's last), or a whole
 * binary message of a POST. It is an attachment of the BINARY_EVENT or
 * BINARY_ACK just refused, skipped unread and bounded like any message
 * (maxPayload); one that nothing announced closes, as before. Returns -1
 * to close. */
static int
s_skip_attachment (pl_gateway_t *self, pl_gwconn_t *conn, bool final, size_t len)
{
    int rc = -1;
    if (conn->bin_pending == 0) {
        s_close (self, conn, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                 "binary frame without a binary packet announcing it");
        goto cleanup;
    }
    if (len > (size_t) self->max_payload - conn->bin_len) {
        s_close (self, conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        goto cleanup;
    }
    conn->bin_len += len;
    if (final) {
        conn->bin_pending--;
        conn->bin_len = 0;
    }
    rc = 0;
cleanup:
    return rc;
}

/* Gateway loop: one whole attachment of conn->bin. The last one hands the
 * packet to the application. -1 to close. */
static int
s_attachment (pl_gateway_t *self, pl_gwconn_t *conn, const void *data, size_t len)
{
    int rc = -1;
    pl_gwbin_t *bin = conn->bin;
    if (len > (size_t) self->max_payload - bin->total) {
        s_close (self, conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                 "a packet and its attachments exceed maxPayload");
        goto cleanup;
    }
    pl_gwattach_t *att = &bin->att[bin->have];
    att->data = malloc (len ? len : 1);
    if (!att->data) {
        s_close (self, conn, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        goto cleanup;
    }
    memcpy (att->data, data, len);
    att->len = len;
    bin->total += len;
    if (++bin->have == bin->count) {
        conn->bin = NULL;               /* the application may send or close */
        s_bin_deliver (self, conn, bin->text, bin->text_len, bin->att, bin->count);
        conn->bin = bin;
        pl_gateway__bin_free (conn);
    }
    rc = 0;
cleanup:
    return rc;
}

int
pl_gateway__sio_binary (pl_gateway_t *self, pl_gwconn_t *conn, const void *data, size_t len)
{
    int rc = 0;
    if (self->app.message)
        self->app.message (self, conn, (const char *) data, len, true);
    else
    if (conn->bin)
        rc = s_attachment (self, conn, data, len);
    else
        rc = s_skip_attachment (self, conn, true, len);
    return rc;
}

/* Gateway loop: a message of a WebSocket that probes to take over a
 * polling session (Engine.IO "Upgrade"): "2probe" is answered "3probe"
 * (the held GET gets "6"), "5" completes it (the session moves here).
 * Anything else, or a session gone meanwhile, closes. -1 to close. */
static int
s_upgrade_message (pl_gateway_t *self, pl_gwconn_t *conn, bool odd, const char *in, size_t len)
{
    int rc = -1;
    pl_gwconn_t *session = pl_gateway__conn_lookup (self, conn->upgrade_of);
    if (!session || !session->poll) {
        s_close (self, conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "the polling session is gone");
        goto cleanup;
    }
    if (!odd && len == 6 && memcmp (in, "2probe", 6) == 0) {
        if (pl_gateway__poll_probe (self, session, conn) != 0) {
            s_close (self, conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "probe refused");
            goto cleanup;
        }
        pl_gateway__send_text (self, conn, "3probe", 6);
        rc = 0;
        goto cleanup;
    }
    if (!odd && len == 1 && in[0] == '5') {
        if (pl_gateway__poll_upgrade (self, session, conn) != 0) {
            s_close (self, conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "upgrade without a probe");
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    s_close (self, conn, LWS_CLOSE_STATUS_PROTOCOL_ERR,
             "expected 2probe or 5 while upgrading");
cleanup:
    return rc;
}

/* LWS_CALLBACK_RECEIVE, lws loop: one WebSocket fragment (or a part of
 * one that is larger than the rx buffer). Returns -1 to close. */
int
pl_gateway__sio_receive (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi, const char *in, size_t len)
{
    int rc = -1;
    bool first = lws_is_first_fragment (wsi);
    bool final = lws_is_final_fragment (wsi);
    if (conn->upgrade_of) {
        rc = s_upgrade_message (self, conn, lws_frame_is_binary (wsi) || !first || !final,
                                in, len);
        goto cleanup;
    }
    /* a binary message is assembled when someone reads it (an Engine.IO
     * application, or an attachment the application takes), else skipped */
    bool binary = lws_frame_is_binary (wsi);
    if (binary && !self->app.message && !conn->bin) {
        rc = s_skip_attachment (self, conn, final, len);
        goto cleanup;
    }
    if (first && final && conn->rx_len == 0) {
        /* the common case: no copy */
        rc = binary ? pl_gateway__sio_binary (self, conn, in, len)
                    : pl_gateway__sio_message (self, conn, in, len);
        goto cleanup;
    }
    if (conn->rx_len + len > (size_t) self->max_payload) {
        s_close (self, conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        goto cleanup;
    }
    if (conn->rx_len + len > conn->rx_cap) {
        size_t cap = conn->rx_cap ? conn->rx_cap : PL_GW_RX_BUFFER;
        while (cap < conn->rx_len + len)
            cap *= 2;
        char *rx = realloc (conn->rx, cap);
        if (!rx) {
            s_close (self, conn, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            goto cleanup;
        }
        conn->rx = rx;
        conn->rx_cap = cap;
    }
    memcpy (conn->rx + conn->rx_len, in, len);
    conn->rx_len += len;
    rc = 0;
    if (final) {
        rc = binary ? pl_gateway__sio_binary (self, conn, conn->rx, conn->rx_len)
                    : pl_gateway__sio_message (self, conn, conn->rx, conn->rx_len);
        free (conn->rx);                /* idle connections hold no buffer */
        conn->rx = NULL;
        conn->rx_len = conn->rx_cap = 0;
    }
cleanup:
    return rc;
}

/* LWS_CALLBACK_ESTABLISHED, gateway loop: a WebSocket is open. Engine.IO's
 * open packet goes first, then the ping timer runs (Engine.IO v4: the
 * server pings). One with sid= probes to take over that polling session:
 * no open packet, and it must finish within a ping interval. */
int
pl_gateway__sio_open (pl_gateway_t *self, pl_gwconn_t *conn, struct lws *wsi)
{
    char sid[PL_GW_SID_MAX];
    memset (conn, 0, sizeof *conn);
    conn->wsi = wsi;
    conn->created = pl_gateway__now_ms ();
    if (pl_gateway__conn_register (self, conn) != 0)
        return -1;
    conn->established = true;       /* CLOSED releases it from here on */
    self->nconns++;
    if (pl_http_upgrade_sid (self, wsi, sid, sizeof sid)) {
        pl_gwconn_t *session = pl_gateway__poll_upgradable (self, sid);
        if (!session)
            return -1;              /* pl_h1 checked it; it went since */
        conn->upgrade_of = session->id;
        pl_gateway__timer_append (self, conn, PL_GWTIMER_PING, self->ping_interval);
        return 0;
    }
    if (pl_sio_new_sid (sid) != 0)
        return -1;
    pl_gwmetrics_opened (self->metrics, PL_GWM_WEBSOCKET);
    pl_gateway__send_str (self, conn, pl_sio_encode_open (sid, false, self->ping_interval,
                                                          self->ping_timeout,
                                                          self->max_payload));
    pl_gateway__timer_append (self, conn, PL_GWTIMER_PING, self->ping_interval);
    return 0;
}

void
pl_gateway__session_end (pl_gateway_t *self, pl_gwconn_t *conn)
{
    if (self->app.closed)
        self->app.closed (self, conn);
    pl_gateway__conn_release (self, conn);
}

/* Gateway loop: Parley's end of a session, its rooms still joined: save it
 * for connection-state recovery (or end it), then tell the rooms service
 * (presence:drop). */
static void
s_on_closed (pl_gateway_t *self, pl_gwconn_t *conn)
{
    pl_gateway__recover_closed (self, conn);
    pl_gateway__presence_drop (self, conn);
}

/* Parley's application over the core: CONNECT checks the JWT (s_on_connect),
 * EVENTs go to the broker (pl_gateway_req.c), a session's end tells the
 * rooms service (presence:drop). */
const pl_gwapp_t pl_gateway__parley_app = {
    .connect = s_on_connect, .event = pl_gateway__request, .closed = s_on_closed,
    .broker = true
};
