/*  pl_sio - Engine.IO v4 / Socket.IO v5 packet codec, text frames only.
 *
 *  Pure functions, no I/O: the gateway hands in one complete WebSocket text
 *  message and gets a packet back, or a reason to close the connection.
 *  References: engine.io-protocol/v4-current.md (packet types, open packet)
 *  and socket.io-protocol/v5-current.md ("Packet encoding").
 */
#ifndef PL_SIO_H
#define PL_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef enum {
    PL_EIO_OPEN = 0, PL_EIO_CLOSE, PL_EIO_PING, PL_EIO_PONG,
    PL_EIO_MESSAGE, PL_EIO_UPGRADE, PL_EIO_NOOP
} pl_eio_type_t;

typedef enum {
    PL_SIO_NONE = -1,               /* Engine.IO packet that is not a message */
    PL_SIO_CONNECT = 0, PL_SIO_DISCONNECT, PL_SIO_EVENT, PL_SIO_ACK,
    PL_SIO_CONNECT_ERROR, PL_SIO_BINARY_EVENT, PL_SIO_BINARY_ACK
} pl_sio_type_t;

/* Largest ack id accepted: socket.io-client counts up from 0, and JSON
 * numbers above 2^53 would not survive a JavaScript peer anyway. */
#define PL_SIO_ACK_MAX 9007199254740991ULL

/* Most binary attachments one BINARY_EVENT or BINARY_ACK may announce.
 * Parley is JSON-only: the gateway refuses the packet and skips that many
 * binary frames, each bounded by maxPayload; a packet announcing more is
 * invalid (socket.io-client sends one per Buffer in the arguments). */
#define PL_SIO_ATTACHMENTS_MAX 64

typedef struct {
    pl_eio_type_t eio;
    pl_sio_type_t sio;
    const char *nsp;        /* namespace, points into the input ("/" if absent) */
    size_t nsp_len;
    bool has_ack;
    uint64_t ack_id;
    unsigned attachments;   /* BINARY_EVENT/BINARY_ACK: binary frames that
                               follow (0..PL_SIO_ATTACHMENTS_MAX)          */
    const char *data;       /* payload text, points into the input           */
    size_t data_len;
    cJSON *json;            /* parsed payload (CONNECT/EVENT/ACK), or NULL;
                               owned by the packet, freed by pl_sio_packet_clear */
    bool nul;               /* the payload holds a NUL in a string or a key
                               (pl_proto_json_has_nul): refuse it, cJSON's
                               strings would be cut at the NUL               */
    bool deep;              /* an argument nests deeper than
                               PL_PROTO_JSON_DEPTH_MAX: refuse it with an
                               error ack (the packet itself was parsed
                               with cJSON's own limit)                   */
    const char *event;      /* EVENT (never BINARY_EVENT): name, borrowed from json; NULL when it
                               is no string or holds a NUL (names no event)  */
    const cJSON *arg;       /* EVENT: first argument after the name, or NULL  */
} pl_sio_packet_t;

/* Parse one text message sent by a client. Returns 0, or -1 with *why set
 * to a static reason (the caller closes the connection: the Socket.IO spec
 * says a server receiving an invalid packet closes). On success the caller
 * must pl_sio_packet_clear. Packet types a client never sends (Engine.IO
 * OPEN, Socket.IO CONNECT_ERROR) are invalid. A BINARY_EVENT or BINARY_ACK
 * is parsed (attachment count, namespace, ack id, JSON array) so that the
 * gateway can refuse it with an ack and skip its attachments: Parley is
 * JSON-only, and pkt->event stays NULL for it. */
int pl_sio_parse (const char *buf, size_t len, pl_sio_packet_t *pkt, const char **why);
void pl_sio_packet_clear (pl_sio_packet_t *pkt);
/* The same for a text message a server sent (parleyctl's side): accepts
 * Engine.IO OPEN (pkt->json the handshake object) and Socket.IO
 * CONNECT_ERROR (pkt->json the {"message"} object) besides the rest. */
int pl_sio_parse_server (const char *buf, size_t len, pl_sio_packet_t *pkt, const char **why);

/* Encoders: return a new string (caller frees), NULL on OOM. */
/* The open packet; upgrade lists "websocket" in its upgrades (a polling
 * handshake), else none (a WebSocket has nothing to upgrade to). */
char *pl_sio_encode_open (const char *sid, bool upgrade, long ping_interval, long ping_timeout,
                          long max_payload);
char *pl_sio_encode_connect (const char *sid);              /* 40{"sid":..}   */
/* 44{"message":..} for the main namespace (nsp NULL or "/"), else
 * 44<nsp>,{"message":..}; nsp is nsp_len bytes, as pl_sio_packet_t has it. */
char *pl_sio_encode_connect_error (const char *nsp, size_t nsp_len, const char *message);

/* The client side (parleyctl): 40{"token":..}, and 42<ack_id>[name,arg]
 * (arg NULL: no argument). */
char *pl_sio_encode_auth (const char *token);
char *pl_sio_encode_event (uint64_t ack_id, const char *name, const cJSON *arg);

/* Write "43<id>[<reply>]" into out (size bytes). Returns the length the
 * packet needs; it was written only if that is <= size. */
size_t pl_sio_encode_ack (char *out, size_t size, uint64_t ack_id,
                          const char *reply, size_t reply_len);

/* RFC 3629 well-formed UTF-8: no overlong forms, no surrogates, nothing
 * above U+10FFFF. For anything that will be echoed in a text frame. */
bool pl_sio_utf8_valid (const unsigned char *s, size_t len);

/* A random session id: 20 URL-safe characters plus NUL. Returns 0 or -1. */
int pl_sio_new_sid (char sid[21]);

void pl_sio_test (bool verbose);

#endif
