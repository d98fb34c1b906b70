/*  pl_loadws - WebSocket client framing and Socket.IO packet helpers; see
 *  pl_loadws.h.
 */
#include "pl_loadws.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

/* RFC 6455 1.3: the GUID appended to the key before hashing. */
#define S_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- upgrade ----------------------------------------------------------- */

static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C (2685821657736338717);
}

void
pl_loadws_key (uint64_t *rng, char key[PL_LOADWS_KEY_LEN + 1])
{
    uint8_t raw[16];
    uint64_t a = s_rand (rng), b = s_rand (rng);
    memcpy (raw, &a, 8);
    memcpy (raw + 8, &b, 8);
    int n = EVP_EncodeBlock ((unsigned char *) key, raw, sizeof raw);
    assert (n == PL_LOADWS_KEY_LEN);
    key[n] = 0;
}

int
pl_loadws_accept (const char *key, char accept[PL_LOADWS_ACCEPT_LEN + 1])
{
    int rc = -1;
    char text[PL_LOADWS_KEY_LEN + sizeof S_WS_GUID];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    size_t klen = strlen (key);
    if (klen != PL_LOADWS_KEY_LEN)
        goto cleanup;
    memcpy (text, key, klen);
    memcpy (text + klen, S_WS_GUID, sizeof S_WS_GUID - 1);
    if (!EVP_Digest (text, klen + sizeof S_WS_GUID - 1, digest, &dlen, EVP_sha1 (), NULL)
    ||  dlen != 20)
        goto cleanup;
    if (EVP_EncodeBlock ((unsigned char *) accept, digest, 20) != PL_LOADWS_ACCEPT_LEN)
        goto cleanup;
    accept[PL_LOADWS_ACCEPT_LEN] = 0;
    rc = 0;
cleanup:
    return rc;
}

size_t
pl_loadws_request (char *out, size_t size, const char *host, int port,
                   const char *path, const char *key)
{
    /* An IPv6 literal goes in brackets in Host (RFC 7230 5.4). */
    bool v6 = strchr (host, ':') != NULL;
    int n = snprintf (out, size,
                      "GET %s HTTP/1.1\r\n"
                      "Host: %s%s%s:%d\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "\r\n",
                      path, v6 ? "[" : "", host, v6 ? "]" : "", port, key);
    return n < 0 ? 0 : (size_t) n;
}

/* The value of header name in head (len bytes, lines end in CRLF), case-
 * insensitively, with surrounding blanks trimmed. NULL when absent. */
static const char *
s_header (const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen (name);
    const char *p = memchr (head, '\n', len);      /* skip the status line */
    const char *end = head + len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr (line, '\n', (size_t) (end - line));
        if (!eol)
            break;
        if ((size_t) (eol - line) > nlen && line[nlen] == ':'
        &&  strncasecmp (line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t) (ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

int
pl_loadws_response (const char *buf, size_t len, const char *accept,
                    size_t *head_len, int *status, const char **why)
{
    int rc = 0;
    *status = 0;
    const char *end = memmem (buf, len, "\r\n\r\n", 4);
    if (!end) {
        if (len >= PL_LOADWS_HEAD_MAX) {
            *why = "response head too long";
            rc = -1;
        }
        goto cleanup;
    }
    size_t hlen = (size_t) (end - buf) + 4;
    rc = -1;
    if (hlen < 12 || memcmp (buf, "HTTP/1.1 ", 9) != 0
    ||  !isdigit ((unsigned char) buf[9]) || !isdigit ((unsigned char) buf[10])
    ||  !isdigit ((unsigned char) buf[11])) {
        *why = "not an HTTP/1.1 response";
        goto cleanup;
    }
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (*status != 101) {
        *why = "upgrade refused";
        goto cleanup;
    }
    size_t vlen = 0;
    const char *v = s_header (buf, hlen, "Sec-WebSocket-Accept", &vlen);
    if (!v || vlen != strlen (accept) || memcmp (v, accept, vlen) != 0) {
        *why = "wrong or missing Sec-WebSocket-Accept";
        goto cleanup;
    }
    v = s_header (buf, hlen, "Upgrade", &vlen);
    if (!v || vlen != 9 || strncasecmp (v, "websocket", 9) != 0) {
        *why = "missing Upgrade: websocket";
        goto cleanup;
    }
    *head_len = hlen;
    rc = 1;
cleanup:
    return rc;
}

/* ---- frames ------------------------------------------------------------ */

size_t
pl_loadws_header (uint8_t out[PL_LOADWS_HDR_MAX], int opcode, uint64_t len)
{
    size_t n = 0;
    out[n++] = (uint8_t) (0x80 | (opcode & 0x0f));      /* FIN, no RSV */
    if (len < 126)
        out[n++] = (uint8_t) (0x80 | len);
    else
    if (len <= 0xffff) {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t) (len >> 8);
        out[n++] = (uint8_t) len;
    }
    else {
        out[n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[n++] = (uint8_t) (len >> shift);
    }
    memset (out + n, 0, 4);         /* the masking key: all zero */
    return n + 4;
}

size_t
pl_loadws_frame (uint8_t *out, size_t size, int opcode, const void *payload, size_t len)
{
    uint8_t hdr[PL_LOADWS_HDR_MAX];
    size_t hlen = pl_loadws_header (hdr, opcode, len);
    if (hlen + len <= size) {
        memcpy (out, hdr, hlen);
        if (len)
            memcpy (out + hlen, payload, len);
    }
    return hlen + len;
}

int
pl_loadws_parse (const uint8_t *buf, size_t len, uint64_t max_payload,
                 pl_loadws_frame_t *frame, const char **why)
{
    int rc = 0;
    if (len < 2)
        goto cleanup;
    rc = -1;
    if (buf[0] & 0x70) {
        *why = "reserved bits set (no extension was negotiated)";
        goto cleanup;
    }
    if (buf[1] & 0x80) {
        *why = "masked frame from the server";             /* RFC 6455 5.1 */
        goto cleanup;
    }
    frame->fin = (buf[0] & 0x80) != 0;
    frame->opcode = buf[0] & 0x0f;
    switch (frame->opcode) {
        case PL_LOADWS_CONT: case PL_LOADWS_TEXT: case PL_LOADWS_BINARY:
            break;
        case PL_LOADWS_CLOSE: case PL_LOADWS_PING: case PL_LOADWS_PONG:
            if (!frame->fin || (buf[1] & 0x7f) > 125) {
                *why = "fragmented or long control frame";   /* RFC 6455 5.5 */
                goto cleanup;
            }
            break;
        default:
            *why = "unknown opcode";
            goto cleanup;
    }
    uint64_t plen = buf[1] & 0x7f;
    size_t hlen = 2;
    if (plen == 126) {
        hlen = 4;
        if (len < hlen) {
            rc = 0;
            goto cleanup;
        }
        plen = ((uint64_t) buf[2] << 8) | buf[3];
    }
    else
    if (plen == 127) {
        hlen = 10;
        if (len < hlen) {
            rc = 0;
            goto cleanup;
        }
        plen = 0;
        for (int i = 2; i < 10; i++)
            plen = (plen << 8) | buf[i];
        if (plen >> 63) {
            *why = "64-bit length with the top bit set";
            goto cleanup;
        }
    }
    if (plen > max_payload) {
        *why = "frame larger than the limit";
        goto cleanup;
    }
    frame->header_len = hlen;
    frame->payload_len = plen;
    rc = 1;
cleanup:
    return rc;
}

/* ---- Socket.IO --------------------------------------------------------- */

size_t
pl_loadws_u64 (char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

const char *
pl_loadws_ack (const char *msg, size_t len, uint64_t *id, size_t *data_len)
{
    if (len < 4 || msg[0] != '4' || msg[1] != '3' || !isdigit ((unsigned char) msg[2]))
        return NULL;
    uint64_t v = 0;
    size_t i = 2;
    /* at most 19 digits: no overflow, and ids are small anyway */
    while (i < len && i < 21 && isdigit ((unsigned char) msg[i]))
        v = v * 10 + (uint64_t) (msg[i++] - '0');
    if (i >= len || msg[i] != '[')
        return NULL;
    *id = v;
    *data_len = len - i;
    return msg + i;
}

bool
pl_loadws_ack_ok (const char *data, size_t len)
{
    /* [{"success":true ... : the key comes first from both servers; allow
     * a little slack rather than insist on an exact prefix. */
    return memmem (data, len < 48 ? len : 48, "\"success\":true", 14) != NULL;
}

/* Where the value of `"key":` starts in buf, or NULL. */
static const char *
s_find_key (const char *buf, size_t len, const char *key, const char **end)
{
    char pat[64];
    size_t klen = strlen (key);
    assert (klen + 3 <= sizeof pat);
    pat[0] = '"';
    memcpy (pat + 1, key, klen);
    pat[klen + 1] = '"';
    pat[klen + 2] = ':';
    const char *p = memmem (buf, len, pat, klen + 3);
    *end = buf + len;
    return p ? p + klen + 3 : NULL;
}

int
pl_loadws_json_str (const char *buf, size_t len, const char *key, char *out, size_t size)
{
    const char *end;
    const char *v = s_find_key (buf, len, key, &end);
    if (!v || v >= end || *v != '"')
        return -1;
    v++;
    const char *q = memchr (v, '"', (size_t) (end - v));
    if (!q || (size_t) (q - v) + 1 > size)
        return -1;
    memcpy (out, v, (size_t) (q - v));
    out[q - v] = 0;
    return (int) (q - v);
}

bool
pl_loadws_json_int (const char *buf, size_t len, const char *key, int64_t *v)
{
    const char *end;
    const char *p = s_find_key (buf, len, key, &end);
    if (!p || p >= end)
        return false;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !isdigit ((unsigned char) *p))
        return false;
    /* The common case, a plain integer, is exact; a fraction or exponent
     * goes through a double (exact below 2^53, i.e. ~104 days of ns). */
    uint64_t ip = 0;
    int digits = 0;
    while (p < end && isdigit ((unsigned char) *p)) {
        if (digits++ < 19)
            ip = ip * 10 + (uint64_t) (*p - '0');
        p++;
    }
    if (digits > 19)
        return false;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
        double d = (double) ip, scale = 0.1;
        if (*p == '.') {
            p++;
            while (p < end && isdigit ((unsigned char) *p)) {
                d += (*p++ - '0') * scale;
                scale /= 10;
            }
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
            p++;
            int esign = 1, e = 0;
            if (p < end && (*p == '+' || *p == '-'))
                esign = *p++ == '-' ? -1 : 1;
            if (p >= end || !isdigit ((unsigned char) *p))
                return false;
            while (p < end && isdigit ((unsigned char) *p) && e < 400)
                e = e * 10 + (*p++ - '0');
            for (int i = 0; i < e; i++)
                d = esign > 0 ? d * 10 : d / 10;
        }
        if (d >= 9.2e18)
            return false;
        ip = (uint64_t) d;
    }
    if (ip > (uint64_t) INT64_MAX)
        return false;
    *v = neg ? -(int64_t) ip : (int64_t) ip;
    return true;
}

/* --------------------------------------------------------------------- */

void
pl_loadws_test (bool verbose)
{
    if (verbose)
        printf (" * pl_loadws: ");
    const char *why = NULL;

    /* RFC 6455 1.3's worked example. */
    char accept[PL_LOADWS_ACCEPT_LEN + 1];
    assert (pl_loadws_accept ("dGhlIHNhbXBsZSBub25jZQ==", accept) == 0);
    assert (strcmp (accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    assert (pl_loadws_accept ("short", accept) == -1);

    /* Keys are 24 base64 characters and differ from one call to the next. */
    uint64_t rng = 42;
    char k1[PL_LOADWS_KEY_LEN + 1], k2[PL_LOADWS_KEY_LEN + 1];
    pl_loadws_key (&rng, k1);
    pl_loadws_key (&rng, k2);
    assert (strlen (k1) == 24 && strcmp (k1, k2) != 0 && k1[22] == '=' && k1[23] == '=');

    /* Request. */
    char req[512];
    size_t rlen = pl_loadws_request (req, sizeof req, "127.0.0.1", 8080,
                                     "/socket.io/?EIO=4&transport=websocket", k1);
    assert (rlen < sizeof req && rlen == strlen (req));
    assert (strncmp (req, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n", 52) == 0);
    assert (strstr (req, "Host: 127.0.0.1:8080\r\n") && strstr (req, k1));
    assert (memcmp (req + rlen - 4, "\r\n\r\n", 4) == 0);
    pl_loadws_request (req, sizeof req, "::1", 80, "/", k1);
    assert (strstr (req, "Host: [::1]:80\r\n"));

    /* Responses: complete, partial, refused, wrong accept. */
    const char *ok = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
                     "Connection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x01" "2";
    size_t head = 0;
    int status = 0;
    assert (pl_loadws_response (ok, strlen (ok), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &head, &status, &why) == 1);
    assert (status == 101 && head == strlen (ok) - 3);
    assert (pl_loadws_response (ok, 40, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &head, &status, &why) == 0);
    assert (pl_loadws_response (ok, strlen (ok), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &head, &status, &why) == -1);
    const char *no = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert (pl_loadws_response (no, strlen (no), accept, &head, &status, &why) == -1 && status == 400);
    assert (pl_loadws_response ("garbage\r\n\r\n", 11, accept, &head, &status, &why) == -1);

    /* Client headers: 7-bit, 16-bit and 64-bit lengths, masked, zero key. */
    uint8_t hdr[PL_LOADWS_HDR_MAX];
    assert (pl_loadws_header (hdr, PL_LOADWS_TEXT, 0) == 6);
    assert (hdr[0] == 0x81 && hdr[1] == 0x80 && hdr[2] == 0 && hdr[5] == 0);
    assert (pl_loadws_header (hdr, PL_LOADWS_TEXT, 125) == 6 && hdr[1] == (0x80 | 125));
    assert (pl_loadws_header (hdr, PL_LOADWS_TEXT, 126) == 8 && hdr[1] == (0x80 | 126));
    assert (hdr[2] == 0 && hdr[3] == 126);
    assert (pl_loadws_header (hdr, PL_LOADWS_TEXT, 65535) == 8 && hdr[2] == 0xff && hdr[3] == 0xff);
    assert (pl_loadws_header (hdr, PL_LOADWS_PONG, 65536) == 14 && hdr[0] == 0x8a);
    assert (hdr[1] == (0x80 | 127) && hdr[7] == 1 && hdr[8] == 0 && hdr[9] == 0);
    uint8_t fr[32];
    assert (pl_loadws_frame (fr, sizeof fr, PL_LOADWS_TEXT, "3", 1) == 7 && fr[6] == '3');
    assert (pl_loadws_frame (fr, 4, PL_LOADWS_TEXT, "3", 1) == 7);    /* too small: length only */

    /* Server frames. */
    pl_loadws_frame_t f;
    const uint8_t small[] = { 0x81, 0x03, '4', '0', '{' };
    assert (pl_loadws_parse (small, 1, 1 << 20, &f, &why) == 0);
    assert (pl_loadws_parse (small, sizeof small, 1 << 20, &f, &why) == 1);
    assert (f.fin && f.opcode == PL_LOADWS_TEXT && f.header_len == 2 && f.payload_len == 3);
    const uint8_t mid[] = { 0x01, 0x7e, 0x01, 0x00 };               /* 256, not final */
    assert (pl_loadws_parse (mid, 3, 1 << 20, &f, &why) == 0);
    assert (pl_loadws_parse (mid, 4, 1 << 20, &f, &why) == 1);
    assert (!f.fin && f.header_len == 4 && f.payload_len == 256);
    assert (pl_loadws_parse (mid, 4, 255, &f, &why) == -1);            /* over the limit */
    const uint8_t big[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
    assert (pl_loadws_parse (big, 9, 1 << 20, &f, &why) == 0);
    assert (pl_loadws_parse (big, 10, 1 << 20, &f, &why) == 1 && f.payload_len == 65536);
    const uint8_t huge[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
    assert (pl_loadws_parse (huge, 10, UINT64_MAX, &f, &why) == -1);
    const uint8_t masked[] = { 0x81, 0x81, 0, 0, 0, 0, 'x' };
    assert (pl_loadws_parse (masked, sizeof masked, 1 << 20, &f, &why) == -1);
    const uint8_t rsv[] = { 0xc1, 0x01, 'x' };
    assert (pl_loadws_parse (rsv, sizeof rsv, 1 << 20, &f, &why) == -1);
    const uint8_t op[] = { 0x83, 0x00 };
    assert (pl_loadws_parse (op, sizeof op, 1 << 20, &f, &why) == -1);
    const uint8_t longping[] = { 0x89, 0x7e, 0x00, 0x80 };
    assert (pl_loadws_parse (longping, sizeof longping, 1 << 20, &f, &why) == -1);
    const uint8_t fragclose[] = { 0x08, 0x00 };
    assert (pl_loadws_parse (fragclose, sizeof fragclose, 1 << 20, &f, &why) == -1);
    const uint8_t close[] = { 0x88, 0x02, 0x03, 0xe8 };
    assert (pl_loadws_parse (close, sizeof close, 1 << 20, &f, &why) == 1 && f.opcode == PL_LOADWS_CLOSE);

    /* Socket.IO helpers. */
    char digits[24];
    assert (pl_loadws_u64 (digits, 0) == 1 && digits[0] == '0');
    assert (pl_loadws_u64 (digits, 18446744073709551615ULL) == 20);
    assert (memcmp (digits, "18446744073709551615", 20) == 0);

    uint64_t id = 0;
    size_t dlen = 0;
    const char *ack = "4317[{\"success\":true,\"data\":{\"id\":\"a1b2\",\"name\":\"x\"}}]";
    const char *data = pl_loadws_ack (ack, strlen (ack), &id, &dlen);
    assert (data && id == 17 && *data == '[' && dlen == strlen (ack) - 4);
    assert (pl_loadws_ack_ok (data, dlen));
    char sval[64];
    assert (pl_loadws_json_str (data, dlen, "id", sval, sizeof sval) == 4 && strcmp (sval, "a1b2") == 0);
    assert (pl_loadws_json_str (data, dlen, "id", sval, 4) == -1);        /* too small */
    assert (pl_loadws_json_str (data, dlen, "nope", sval, sizeof sval) == -1);
    const char *err = "433[{\"success\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no\"}}]";
    data = pl_loadws_ack (err, strlen (err), &id, &dlen);
    assert (data && id == 3 && !pl_loadws_ack_ok (data, dlen));
    assert (pl_loadws_json_str (data, dlen, "code", sval, sizeof sval) == 9);
    assert (strcmp (sval, "NOT_FOUND") == 0);
    assert (!pl_loadws_ack ("42[\"x\"]", 7, &id, &dlen));
    assert (!pl_loadws_ack ("43/x,1[]", 8, &id, &dlen));     /* other namespace */
    assert (!pl_loadws_ack ("4312", 4, &id, &dlen));         /* no data */

    int64_t n = 0;
    const char *ev = "42[\"actor:updated\",{\"type\":\"b\",\"t\":123456789012345,\"seq\":-7,\"x\":1.5e+15,\"y\":2.5}]";
    assert (pl_loadws_json_int (ev, strlen (ev), "t", &n) && n == 123456789012345LL);
    assert (pl_loadws_json_int (ev, strlen (ev), "seq", &n) && n == -7);
    assert (pl_loadws_json_int (ev, strlen (ev), "x", &n) && n == 1500000000000000LL);
    assert (pl_loadws_json_int (ev, strlen (ev), "y", &n) && n == 2);
    assert (!pl_loadws_json_int (ev, strlen (ev), "type", &n));          /* a string */
    assert (!pl_loadws_json_int (ev, strlen (ev), "z", &n));
    assert (!pl_loadws_json_int ("{\"t\":", 5, "t", &n));                /* truncated */
    assert (!pl_loadws_json_int ("{\"t\":99999999999999999999}", 26, "t", &n));

    if (verbose)
        printf ("OK\n");
}
