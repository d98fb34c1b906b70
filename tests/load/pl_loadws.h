/*  pl_loadws - the client side of RFC 6455 WebSocket plus the few
 *  Engine.IO / Socket.IO text-packet helpers parley-load needs. Pure
 *  functions, no I/O, no allocation: the load loops call them on every
 *  frame they send and receive.
 *
 *  Sending: a client frame must be masked (RFC 6455 5.3). We always use the
 *  all-zero masking key, which is legal framing and makes masking the
 *  identity, so a frame is header + plain payload and an outgoing packet can
 *  be encoded once and sent many times. (The mask exists to defeat cache
 *  poisoning through intermediaries that misread WebSocket as HTTP; a load
 *  tool on loopback has none.)
 *
 *  Receiving: frames are parsed in place from the connection's buffer, and
 *  the JSON inside is never parsed: the few fields a mode needs are found
 *  with memmem. That relies on Parley and the peer printing compact JSON
 *  (no spaces after ':'), which cJSON and JSON.stringify both do.
 */
#ifndef PL_LOADWS_H
#define PL_LOADWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- HTTP/1.1 upgrade (RFC 6455 4.1, 4.2.2) -------------------------- */

#define PL_LOADWS_KEY_LEN    24     /* base64 of 16 random bytes           */
#define PL_LOADWS_ACCEPT_LEN 28     /* base64 of a SHA-1                   */
/* Longest response head we wait for before giving up. */
#define PL_LOADWS_HEAD_MAX   4096

/* A fresh Sec-WebSocket-Key from *rng (any non-zero seed; the key is a
 * nonce, not a secret). */
void pl_loadws_key (uint64_t *rng, char key[PL_LOADWS_KEY_LEN + 1]);
/* The Sec-WebSocket-Accept a server must answer key with. 0 or -1. */
int pl_loadws_accept (const char *key, char accept[PL_LOADWS_ACCEPT_LEN + 1]);
/* The GET request. Returns the length it needs (written only if < size). */
size_t pl_loadws_request (char *out, size_t size, const char *host, int port,
                          const char *path, const char *key);
/* Check the server's response head in buf (len bytes so far).
 * Returns 1 when the head is complete and is a 101 with the right accept
 * (*head_len = its length; any bytes after it are WebSocket frames),
 * 0 when more bytes are needed, -1 when it is refused or malformed (*why,
 * static; *status = the HTTP status or 0). */
int pl_loadws_response (const char *buf, size_t len, const char *accept,
                        size_t *head_len, int *status, const char **why);

/* ---- frames (RFC 6455 5.2) -------------------------------------------- */

enum {
    PL_LOADWS_CONT = 0x0, PL_LOADWS_TEXT = 0x1, PL_LOADWS_BINARY = 0x2,
    PL_LOADWS_CLOSE = 0x8, PL_LOADWS_PING = 0x9, PL_LOADWS_PONG = 0xA
};

/* Longest client header: 2 + 8 (64-bit length) + 4 (mask key). */
#define PL_LOADWS_HDR_MAX 14

/* Write a final, masked (zero key) client frame header for a payload of
 * len bytes. Returns its length: 6, 8 or 14. */
size_t pl_loadws_header (uint8_t out[PL_LOADWS_HDR_MAX], int opcode, uint64_t len);
/* header + payload into out (size bytes). Returns the frame length; it was
 * written only if that is <= size. */
size_t pl_loadws_frame (uint8_t *out, size_t size, int opcode, const void *payload, size_t len);

typedef struct {
    int opcode;                 /* PL_LOADWS_TEXT ...                     */
    bool fin;                   /* final fragment                         */
    size_t header_len;          /* bytes before the payload               */
    uint64_t payload_len;       /* bytes of payload                       */
} pl_loadws_frame_t;

/* Parse the server frame at the start of buf. Returns 1 when the header
 * is complete (the payload may not be: check header_len + payload_len
 * against len), 0 when more bytes are needed for the header, -1 on a
 * protocol error (*why): a masked server frame, reserved bits, an unknown
 * opcode, a fragmented or oversized control frame, or a payload above
 * max_payload. */
int pl_loadws_parse (const uint8_t *buf, size_t len, uint64_t max_payload,
                     pl_loadws_frame_t *frame, const char **why);

/* ---- Socket.IO text packets ------------------------------------------- */

/* Decimal digits of v into out (at least 20 bytes); returns how many. */
size_t pl_loadws_u64 (char *out, uint64_t v);

/* msg is a Socket.IO ACK "43<id>[...]" in the default namespace: set *id
 * and return the data after the id, with *data_len. NULL if it is not. */
const char *pl_loadws_ack (const char *msg, size_t len, uint64_t *id, size_t *data_len);
/* An ack's data says {"success":true ...}: looked for near its start. */
bool pl_loadws_ack_ok (const char *data, size_t len);

/* Find the first `"<key>":"` in buf and copy its string value (no
 * unescaping; values we read are ids and codes) into out. Returns its
 * length, or -1 when absent, unterminated or longer than size - 1. */
int pl_loadws_json_str (const char *buf, size_t len, const char *key,
                        char *out, size_t size);
/* Find the first `"<key>":` in buf followed by a JSON number and set *v to
 * it, truncated to an integer. Accepts a fraction and an exponent
 * (JSON.stringify and cJSON may print large numbers as 1.2e+15). */
bool pl_loadws_json_int (const char *buf, size_t len, const char *key, int64_t *v);

void pl_loadws_test (bool verbose);

#endif
