/*  pl_sio - Engine.IO v4 / Socket.IO v5 packet codec. */
#include "pl_sio.h"
#include "pl_proto.h"

#include <assert.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Socket.IO v5 reserves these names: a client may not emit them
 * (socket.io-parser's RESERVED_EVENTS). */
static const char *s_reserved[] = {
    "connect", "connect_error", "disconnect", "disconnecting",
    "newListener", "removeListener", NULL
};

static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

/* Does the EVENT's name hold a NUL? Its JSON text is the payload's first
 * string: cJSON has checked that the payload is an array whose first
 * element is a string, and nothing before that element (blanks, a BOM,
 * the bracket) holds a quote. It ends at the next unescaped quote. */
static bool
s_name_has_nul (const pl_sio_packet_t *pkt)
{
    const char *text = pkt->data;
    size_t len = pkt->data_len;
    const char *open = memchr (text, '"', len);
    if (!open)
        return true;                    /* cannot be: names nothing anyway */
    size_t start = (size_t) (open - text), i = start + 1;
    while (i < len && text[i] != '"')
        i += text[i] == '\\' ? 2 : 1;
    return pl_proto_json_has_nul (open, (i < len ? i + 1 : len) - start);
}

/* Validate and interpret the JSON payload for the packet type, following
 * socket.io-parser's isPayloadValid(). */
static int
s_check_payload (pl_sio_packet_t *pkt, const char **why)
{
    int rc = -1;
    if (pkt->data_len == 0) {
        /* CONNECT and DISCONNECT may come bare; EVENT and ACK need data */
        if (pkt->sio == PL_SIO_CONNECT || pkt->sio == PL_SIO_DISCONNECT)
            rc = 0;
        else
            *why = "missing payload";
        goto cleanup;
    }
    if (pkt->sio == PL_SIO_DISCONNECT) {
        *why = "DISCONNECT carries no payload";
        goto cleanup;
    }
    /* parsed with cJSON's own nesting limit, so that a packet whose
     * argument nests too deep for the workers is still an event the
     * gateway can answer (pl_proto.h, PL_PROTO_JSON_DEPTH_MAX; the packet
     * is one level around its arguments) */
    pkt->deep = pl_proto_json_depth (pkt->data, pkt->data_len) > PL_PROTO_JSON_DEPTH_MAX + 1;
    pkt->json = pl_proto_json_parse_depth (pkt->data, pkt->data_len, CJSON_NESTING_LIMIT);
    if (!pkt->json) {
        *why = "payload is not valid JSON";
        goto cleanup;
    }
    /* A NUL is valid JSON (\u0000) and valid UTF-8 (a raw 0x00): the packet
     * stands, flagged, and the gateway refuses it with an ack the client
     * can read instead of closing the connection. */
    pkt->nul = pl_proto_json_has_nul (pkt->data, pkt->data_len);
    switch (pkt->sio) {
        case PL_SIO_CONNECT:
            if (!cJSON_IsObject (pkt->json)) {
                *why = "CONNECT payload must be an object";
                goto cleanup;
            }
            break;
        case PL_SIO_CONNECT_ERROR:      /* only from a server */
            if (!cJSON_IsObject (pkt->json)) {
                *why = "CONNECT_ERROR payload must be an object";
                goto cleanup;
            }
            break;
        case PL_SIO_BINARY_EVENT:
            if (!cJSON_IsArray (pkt->json) || !cJSON_GetArrayItem (pkt->json, 0)) {
                *why = "BINARY_EVENT payload must be a non-empty array";
                goto cleanup;
            }
            break;                      /* refused whole: no name, no arg */
        case PL_SIO_BINARY_ACK:
        case PL_SIO_ACK:
            if (!pkt->has_ack || !cJSON_IsArray (pkt->json)) {
                *why = "ACK needs an id and an array";
                goto cleanup;
            }
            break;
        case PL_SIO_EVENT: {
            const cJSON *name = cJSON_GetArrayItem (pkt->json, 0);
            if (!cJSON_IsArray (pkt->json) || !name) {
                *why = "EVENT payload must be a non-empty array";
                goto cleanup;
            }
            /* a name with a NUL names no event: cut at the NUL it could
             * be a real one ("actor:create\u0000junk"), or a reserved one */
            if (cJSON_IsString (name) && pkt->nul && s_name_has_nul (pkt))
                ;
            else
            if (cJSON_IsString (name)) {
                for (int i = 0; s_reserved[i]; i++)
                    if (strcmp (name->valuestring, s_reserved[i]) == 0) {
                        *why = "reserved event name";
                        goto cleanup;
                    }
                pkt->event = name->valuestring;
            }
            else
            if (!cJSON_IsNumber (name)) {
                *why = "event name must be a string";
                goto cleanup;
            }
            /* a numeric event name is valid Socket.IO but names nothing in
             * our table: pkt->event stays NULL and the gateway answers
             * UNKNOWN_EVENT (so for a name with a NUL) */
            pkt->arg = name->next;
            break;
        }
        default:
            break;
    }
    rc = 0;
cleanup:
    return rc;
}

/* lws checks text frames too (LWS_SERVER_OPTION_VALIDATE_UTF8); the
 * parser checks again so it is safe on any input. */
bool
pl_sio_utf8_valid (const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else
        if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0;                  /* overlong */
            if (c == 0xED)
                hi = 0x9F;                  /* surrogates */
        }
        else
        if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90;                  /* overlong */
            if (c == 0xF4)
                hi = 0x8F;                  /* > U+10FFFF */
        }
        else
            return false;
        if (i + n >= len)                   /* truncated sequence */
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += n + 1;
    }
    return true;
}

/* One parser for both directions: from_server accepts the packets only a
 * server sends (Engine.IO OPEN, Socket.IO CONNECT_ERROR), for parleyctl. */
static int
s_parse (const char *buf, size_t len, pl_sio_packet_t *pkt, const char **why, bool from_server)
{
    int rc = -1;
    static const char *unused;
    if (!why)
        why = &unused;
    memset (pkt, 0, sizeof *pkt);
    pkt->sio = PL_SIO_NONE;
    pkt->nsp = "/";
    pkt->nsp_len = 1;
    if (len == 0 || !s_is_digit (buf[0]) || buf[0] > '6') {
        *why = "unknown Engine.IO packet type";
        goto cleanup;
    }
    pkt->eio = (pl_eio_type_t) (buf[0] - '0');
    if (pkt->eio == PL_EIO_UPGRADE || (pkt->eio == PL_EIO_OPEN && !from_server)) {
        *why = "clients do not send OPEN or UPGRADE on a websocket-only session";
        goto cleanup;
    }
    if (pkt->eio == PL_EIO_OPEN) {
        /* the handshake: a JSON object, parsed for the caller */
        pkt->data = buf + 1;
        pkt->data_len = len - 1;
        pkt->json = pl_proto_json_parse (pkt->data, pkt->data_len);
        if (!cJSON_IsObject (pkt->json)) {
            *why = "OPEN payload must be an object";
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    if (pkt->eio != PL_EIO_MESSAGE) {
        pkt->data = buf + 1;
        pkt->data_len = len - 1;
        rc = 0;
        goto cleanup;
    }
    /* Socket.IO: <type>[<attachments>-][<nsp>,][<ack id>][<JSON>] */
    size_t i = 1;
    if (i >= len || !s_is_digit (buf[i]) || buf[i] > '6') {
        *why = "unknown Socket.IO packet type";
        goto cleanup;
    }
    pkt->sio = (pl_sio_type_t) (buf[i++] - '0');
    if (pkt->sio == PL_SIO_BINARY_EVENT || pkt->sio == PL_SIO_BINARY_ACK) {
        /* <attachments>-: at least one digit, then a dash */
        size_t start = i;
        unsigned n = 0;
        while (i < len && s_is_digit (buf[i]) && n <= PL_SIO_ATTACHMENTS_MAX)
            n = n * 10 + (unsigned) (buf[i++] - '0');
        if (n > PL_SIO_ATTACHMENTS_MAX) {
            *why = "too many binary attachments";
            goto cleanup;
        }
        if (i == start || i >= len || buf[i] != '-') {
            *why = "binary packet without an attachment count";
            goto cleanup;
        }
        i++;
        pkt->attachments = n;
    }
    if (pkt->sio == PL_SIO_CONNECT_ERROR && !from_server) {
        *why = "clients do not send CONNECT_ERROR";
        goto cleanup;
    }
    /* the namespace is checked with the payload: a CONNECT_ERROR echoes it */
    if (!pl_sio_utf8_valid ((const unsigned char *) buf + i, len - i)) {
        *why = "packet is not valid UTF-8";
        goto cleanup;
    }
    if (i < len && buf[i] == '/') {
        size_t start = i;
        while (i < len && buf[i] != ',')
            i++;
        pkt->nsp = buf + start;
        pkt->nsp_len = i - start;
        /* a CONNECT_ERROR echoes it, and printf would stop at a NUL */
        if (memchr (pkt->nsp, '\0', pkt->nsp_len)) {
            *why = "namespace holds a NUL";
            goto cleanup;
        }
        if (i < len)
            i++;                        /* the comma */
    }
    if (i < len && s_is_digit (buf[i])) {
        uint64_t id = 0;
        while (i < len && s_is_digit (buf[i])) {
            id = id * 10 + (uint64_t) (buf[i++] - '0');
            if (id > PL_SIO_ACK_MAX) {
                *why = "ack id out of range";
                goto cleanup;
            }
        }
        pkt->has_ack = true;
        pkt->ack_id = id;
        if (pkt->sio == PL_SIO_CONNECT || pkt->sio == PL_SIO_DISCONNECT) {
            *why = "CONNECT and DISCONNECT take no ack id";
            goto cleanup;
        }
    }
    pkt->data = buf + i;
    pkt->data_len = len - i;
    rc = s_check_payload (pkt, why);
cleanup:
    if (rc != 0)
        pl_sio_packet_clear (pkt);
    return rc;
}

int
pl_sio_parse (const char *buf, size_t len, pl_sio_packet_t *pkt, const char **why)
{
    return s_parse (buf, len, pkt, why, false);
}

int
pl_sio_parse_server (const char *buf, size_t len, pl_sio_packet_t *pkt, const char **why)
{
    return s_parse (buf, len, pkt, why, true);
}

void
pl_sio_packet_clear (pl_sio_packet_t *pkt)
{
    cJSON_Delete (pkt->json);
    pkt->json = NULL;
    pkt->nul = false;
    pkt->deep = false;
    pkt->event = NULL;
    pkt->arg = NULL;
}

char *
pl_sio_encode_open (const char *sid, bool upgrade, long ping_interval, long ping_timeout,
                    long max_payload)
{
    /* sid is ours (URL-safe alphabet), so no escaping is needed */
    char *out = NULL;
    if (asprintf (&out, "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%ld,"
                        "\"pingTimeout\":%ld,\"maxPayload\":%ld}",
                  sid, upgrade ? "\"websocket\"" : "", ping_interval, ping_timeout,
                  max_payload) < 0)
        out = NULL;
    return out;
}

char *
pl_sio_encode_connect (const char *sid)
{
    char *out = NULL;
    if (asprintf (&out, "40{\"sid\":\"%s\"}", sid) < 0)
        out = NULL;
    return out;
}

/* {"<key>":"<value>"}, escaped, as a new string; NULL on OOM. */
static char *
s_object_text (const char *key, const char *value)
{
    char *json = NULL;
    cJSON *obj = cJSON_CreateObject ();
    if (obj && cJSON_AddStringToObject (obj, key, value))
        json = cJSON_PrintUnformatted (obj);
    cJSON_Delete (obj);
    return json;
}

char *
pl_sio_encode_connect_error (const char *nsp, size_t nsp_len, const char *message)
{
    char *out = NULL;
    char *json = s_object_text ("message", message);
    if (!json)
        goto cleanup;
    /* "44{..}" for the main namespace, "44/admin,{..}" for another: the
     * client routes CONNECT_ERROR by namespace (socket.io-parser encodes
     * the namespace only when it is not "/") */
    bool main_nsp = !nsp || (nsp_len == 1 && nsp[0] == '/');
    if (asprintf (&out, "44%.*s%s%s", main_nsp ? 0 : (int) nsp_len, main_nsp ? "" : nsp,
                  main_nsp ? "" : ",", json) < 0)
        out = NULL;
cleanup:
    free (json);
    return out;
}

char *
pl_sio_encode_auth (const char *token)
{
    char *out = NULL;
    char *json = s_object_text ("token", token);
    if (!json || asprintf (&out, "40%s", json) < 0)
        out = NULL;
    free (json);
    return out;
}

char *
pl_sio_encode_event (uint64_t ack_id, const char *name, const cJSON *arg)
{
    char *out = NULL;
    char *json = NULL;
    cJSON *array = cJSON_CreateArray ();
    cJSON *copy = arg ? cJSON_Duplicate (arg, true) : NULL;
    if (!array || !cJSON_AddItemToArray (array, cJSON_CreateString (name))
    ||  cJSON_GetArraySize (array) != 1)
        goto cleanup;
    if (arg) {
        if (!copy || !cJSON_AddItemToArray (array, copy))
            goto cleanup;
        copy = NULL;                    /* the array owns it */
    }
    json = cJSON_PrintUnformatted (array);
    if (!json || asprintf (&out, "42%llu%s", (unsigned long long) ack_id, json) < 0)
        out = NULL;
cleanup:
    free (json);
    cJSON_Delete (copy);
    cJSON_Delete (array);
    return out;
}

size_t
pl_sio_encode_ack (char *out, size_t size, uint64_t ack_id,
                   const char *reply, size_t reply_len)
{
    char head[32];
    int n = snprintf (head, sizeof head, "43%llu[", (unsigned long long) ack_id);
    size_t need = (size_t) n + reply_len + 1;
    if (need <= size) {
        memcpy (out, head, (size_t) n);
        memcpy (out + n, reply, reply_len);
        out[n + reply_len] = ']';
    }
    return need;
}

int
pl_sio_new_sid (char sid[21])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[20];
    int rc = -1;
    if (RAND_bytes (raw, sizeof raw) != 1)
        goto cleanup;
    for (int i = 0; i < 20; i++)
        sid[i] = alphabet[raw[i] & 63];
    sid[20] = 0;
    rc = 0;
cleanup:
    return rc;
}

/* ---- selftest -------------------------------------------------------- */

#include <dirent.h>

#ifndef PL_SOURCE_DIR
#define PL_SOURCE_DIR "."
#endif

static int
s_parse_str (const char *text, pl_sio_packet_t *pkt)
{
    const char *why = NULL;
    int rc = pl_sio_parse (text, strlen (text), pkt, &why);
    assert (rc == 0 || why != NULL);
    return rc;
}

/* Every file in dir must parse (expect 0) or be refused (expect -1);
 * expect 1 accepts either (edge cases: only no crash, no leak).
 * Returns how many files were checked. */
static int
s_corpus (const char *dir, int expect, bool verbose)
{
    char path[1024];
    int count = 0;
    DIR *d = opendir (dir);
    assert (d);                 /* the corpus is part of the repository */
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.' || strcmp (e->d_name, "README.md") == 0)
            continue;
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen (path, "rb");
        assert (f);
        char buf[65536];
        size_t n = fread (buf, 1, sizeof buf, f);
        fclose (f);
        pl_sio_packet_t pkt;
        const char *why = NULL;
        int rc = pl_sio_parse (buf, n, &pkt, &why);
        if (expect != 1 && rc != expect) {
            fprintf (stderr, "corpus %s: expected %d, got %d (%s)\n", path,
                     expect, rc, why ? why : "");
            assert (rc == expect);
        }
        /* edge files with "nul" in their name hold a NUL, which Parley
         * refuses per request: they parse, flagged (tests/corpus/README.md);
         * "not-nul" ones only look like it, and are not flagged */
        if (expect == 1 && strstr (e->d_name, "nul")) {
            bool want = !strstr (e->d_name, "not-nul");
            if (rc != 0 || pkt.nul != want)
                fprintf (stderr, "corpus %s: want it parsed with nul=%d, got rc %d nul %d\n",
                         path, want, rc, pkt.nul);
            assert (rc == 0 && pkt.nul == want);
        }
        if (verbose && rc != 0)
            printf ("\n   refused %s: %s", e->d_name, why);
        pl_sio_packet_clear (&pkt);
        count++;
    }
    closedir (d);
    return count;
}

void
pl_sio_test (bool verbose)
{
    if (verbose)
        printf (" * pl_sio: ");
    pl_sio_packet_t pkt;

    assert (s_parse_str ("3", &pkt) == 0 && pkt.eio == PL_EIO_PONG);
    assert (s_parse_str ("2", &pkt) == 0 && pkt.eio == PL_EIO_PING);
    assert (s_parse_str ("1", &pkt) == 0 && pkt.eio == PL_EIO_CLOSE);
    assert (s_parse_str ("6", &pkt) == 0 && pkt.eio == PL_EIO_NOOP);

    assert (s_parse_str ("40", &pkt) == 0);
    assert (pkt.sio == PL_SIO_CONNECT && pkt.json == NULL);
    assert (pkt.nsp_len == 1 && pkt.nsp[0] == '/');

    assert (s_parse_str ("40{\"token\":\"abc\"}", &pkt) == 0);
    assert (cJSON_IsObject (pkt.json));
    assert (strcmp (cJSON_GetObjectItem (pkt.json, "token")->valuestring, "abc") == 0);
    pl_sio_packet_clear (&pkt);

    assert (s_parse_str ("40/admin,{}", &pkt) == 0);
    assert (pkt.nsp_len == 6 && memcmp (pkt.nsp, "/admin", 6) == 0);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("40/admin", &pkt) == 0);
    assert (pkt.nsp_len == 6 && pkt.data_len == 0);

    assert (s_parse_str ("42[\"actor:get\",\"a1\"]", &pkt) == 0);
    assert (pkt.sio == PL_SIO_EVENT && !pkt.has_ack);
    assert (strcmp (pkt.event, "actor:get") == 0);
    assert (cJSON_IsString (pkt.arg) && strcmp (pkt.arg->valuestring, "a1") == 0);
    pl_sio_packet_clear (&pkt);

    assert (s_parse_str ("4217[\"actor:list\"]", &pkt) == 0);
    assert (pkt.has_ack && pkt.ack_id == 17 && pkt.arg == NULL);
    pl_sio_packet_clear (&pkt);

    assert (s_parse_str ("42/admin,3[\"x\",{\"a\":[1,2]}]", &pkt) == 0);
    assert (pkt.has_ack && pkt.ack_id == 3 && pkt.nsp_len == 6);
    assert (cJSON_IsObject (pkt.arg));
    pl_sio_packet_clear (&pkt);

    assert (s_parse_str ("42[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xb2\"]", &pkt) == 0);
    pl_sio_packet_clear (&pkt);                 /* 2, 3 and 4-byte UTF-8 */
    assert (s_parse_str ("42[7]", &pkt) == 0);      /* numeric event name */
    assert (pkt.event == NULL);
    pl_sio_packet_clear (&pkt);

    /* NUL: valid JSON and UTF-8, so the packet stands, flagged for the
     * gateway to refuse; a name with one names no event, not even a
     * reserved one; an escaped backslash before u0000 is no NUL */
    assert (s_parse_str ("421[\"actor:create\",{\"name\":\"Eve\\u0000x\"}]", &pkt) == 0);
    assert (pkt.nul && pkt.has_ack && strcmp (pkt.event, "actor:create") == 0);
    pl_sio_packet_clear (&pkt);
    assert (!pkt.nul && !pkt.event);
    assert (s_parse_str ("42[\"actor:create\\u0000junk\",{}]", &pkt) == 0);
    assert (pkt.nul && pkt.event == NULL && cJSON_IsObject (pkt.arg));
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("42[\"connect\\u0000x\"]", &pkt) == 0);
    assert (pkt.nul && pkt.event == NULL);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("42[\"a\\\"b\\\\\",\"\\u0000\"]", &pkt) == 0);    /* a"b\ */
    assert (pkt.nul && strcmp (pkt.event, "a\"b\\") == 0);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("42[\"x\",{\"k\":\"\\\\u0000\"}]", &pkt) == 0);
    assert (!pkt.nul && strcmp (pkt.event, "x") == 0);
    assert (strcmp (cJSON_GetObjectItem (pkt.arg, "k")->valuestring, "\\u0000") == 0);
    pl_sio_packet_clear (&pkt);
    const char raw_name[] = "42[\"actor:create\0junk\",{}]";
    assert (pl_sio_parse (raw_name, sizeof raw_name - 1, &pkt, NULL) == 0);
    assert (pkt.nul && pkt.event == NULL);
    pl_sio_packet_clear (&pkt);
    const char raw_arg[] = "42[\"actor:create\",\"a\0b\"]";
    assert (pl_sio_parse (raw_arg, sizeof raw_arg - 1, &pkt, NULL) == 0);
    assert (pkt.nul && strcmp (pkt.event, "actor:create") == 0);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("40{\"token\":\"t\\u0000x\"}", &pkt) == 0);
    assert (pkt.sio == PL_SIO_CONNECT && pkt.nul);
    pl_sio_packet_clear (&pkt);

    assert (s_parse_str ("435[\"ok\"]", &pkt) == 0 && pkt.sio == PL_SIO_ACK);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("41", &pkt) == 0 && pkt.sio == PL_SIO_DISCONNECT);

    /* binary packets parse, to be refused by the gateway: no event name,
     * the attachment count, namespace and ack id as for any packet */
    assert (s_parse_str ("451-[\"actor:create\",{\"_placeholder\":true,\"num\":0}]", &pkt) == 0);
    assert (pkt.sio == PL_SIO_BINARY_EVENT && pkt.attachments == 1 && !pkt.has_ack);
    assert (pkt.event == NULL && pkt.arg == NULL);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("4564-/admin,7[\"x\"]", &pkt) == 0);
    assert (pkt.attachments == 64 && pkt.has_ack && pkt.ack_id == 7 && pkt.nsp_len == 6);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("462-3[{\"_placeholder\":true,\"num\":1}]", &pkt) == 0);
    assert (pkt.sio == PL_SIO_BINARY_ACK && pkt.attachments == 2 && pkt.ack_id == 3);
    pl_sio_packet_clear (&pkt);
    assert (s_parse_str ("42[\"x\"]", &pkt) == 0 && pkt.attachments == 0);
    pl_sio_packet_clear (&pkt);

    const char *invalid[] = {
        "", "x", "0", "5", "7", "4", "4x", "47", "42", "42[", "42{}", "42[]",
        "42[null]", "42[\"connect\"]", "42[\"disconnect\",1]", "43[1]", "43",
        "44{}", "45[\"x\"]", "45-[\"x\"]", "45x-[\"x\"]", "4565-[\"x\"]",
        "4599999999999999999999-[\"x\"]", "451-", "451-[]", "451-{}", "461-[1]",
        "461-0", "46", "41{}",
        "401{}", "40[]", "40\"s\"", "42abc", "4299999999999999999999[\"x\"]",
        "42[\"a\"]trailing", "42/admin,[", "42[\"\xc0\xaf\"]", "42[\"\xed\xa0\x80\"]",
        "42[\"\xf4\x90\x80\x80\"]", "42[\"\xe2\x82\"]", "42[\"\xff\"]",
        "40/adm\xff,{}", "42/\xc0\xaf,[\"x\"]", NULL
    };
    for (int i = 0; invalid[i]; i++) {
        if (s_parse_str (invalid[i], &pkt) != -1) {
            fprintf (stderr, "accepted invalid packet '%s'\n", invalid[i]);
            assert (false);
        }
        assert (pkt.json == NULL);
    }
    /* length is honoured: no read past the buffer */
    assert (pl_sio_parse ("42[\"a\"]", 4, &pkt, NULL) == -1);

    /* encoders */
    char *s = pl_sio_encode_open ("SID", false, 25000, 20000, 1000000);
    assert (strcmp (s, "0{\"sid\":\"SID\",\"upgrades\":[],\"pingInterval\":25000,"
                       "\"pingTimeout\":20000,\"maxPayload\":1000000}") == 0);
    free (s);
    s = pl_sio_encode_open ("gw-1.SID", true, 25000, 20000, 1000000);
    assert (strcmp (s, "0{\"sid\":\"gw-1.SID\",\"upgrades\":[\"websocket\"],"
                       "\"pingInterval\":25000,\"pingTimeout\":20000,"
                       "\"maxPayload\":1000000}") == 0);
    free (s);
    s = pl_sio_encode_connect ("abc");
    assert (strcmp (s, "40{\"sid\":\"abc\"}") == 0);
    free (s);
    s = pl_sio_encode_connect_error (NULL, 0, "bad \"token\"");
    assert (strcmp (s, "44{\"message\":\"bad \\\"token\\\"\"}") == 0);
    free (s);
    s = pl_sio_encode_connect_error ("/", 1, "no");
    assert (strcmp (s, "44{\"message\":\"no\"}") == 0);
    free (s);
    /* another namespace is named, as the client routes the error by it; the
     * length is honoured (the namespace points into a received packet) */
    s = pl_sio_encode_connect_error ("/admin,{\"token\":1}", 6, "Invalid namespace");
    assert (strcmp (s, "44/admin,{\"message\":\"Invalid namespace\"}") == 0);
    free (s);
    char out[64];
    size_t need = pl_sio_encode_ack (out, sizeof out, 12, "{\"success\":true}", 16);
    assert (need == 22 && memcmp (out, "4312[{\"success\":true}]", need) == 0);
    /* an encoded ack parses back as the same ack */
    assert (pl_sio_parse (out, need, &pkt, NULL) == 0);
    assert (pkt.sio == PL_SIO_ACK && pkt.ack_id == 12 && cJSON_IsArray (pkt.json));
    pl_sio_packet_clear (&pkt);
    memset (out, 0, sizeof out);
    assert (pl_sio_encode_ack (out, 5, 12, "{}", 2) == 8);
    assert (out[0] == 0);                       /* too small: nothing written */

    /* the client side (parleyctl): what a server sends parses, what it
     * encodes parses back on the gateway's side */
    const char *open = "0{\"sid\":\"x\",\"pingInterval\":25000}";
    assert (pl_sio_parse_server (open, strlen (open), &pkt, NULL) == 0);
    assert (pkt.eio == PL_EIO_OPEN && cJSON_IsObject (pkt.json));
    pl_sio_packet_clear (&pkt);
    assert (pl_sio_parse_server ("0[]", 3, &pkt, NULL) == -1 && pkt.json == NULL);
    assert (pl_sio_parse_server ("0", 1, &pkt, NULL) == -1);
    assert (pl_sio_parse_server ("5", 1, &pkt, NULL) == -1);
    assert (pl_sio_parse ("0{}", 3, &pkt, NULL) == -1);
    s = pl_sio_encode_connect_error (NULL, 0, "unauthorized: bad signature");
    assert (pl_sio_parse_server (s, strlen (s), &pkt, NULL) == 0);
    assert (pkt.sio == PL_SIO_CONNECT_ERROR);
    assert (strcmp (cJSON_GetObjectItem (pkt.json, "message")->valuestring,
                    "unauthorized: bad signature") == 0);
    pl_sio_packet_clear (&pkt);
    free (s);
    assert (pl_sio_parse_server ("44[1]", 5, &pkt, NULL) == -1);
    assert (pl_sio_parse_server ("44", 2, &pkt, NULL) == -1);
    assert (pl_sio_parse_server ("44{}", 4, &pkt, NULL) == 0);
    pl_sio_packet_clear (&pkt);
    s = pl_sio_encode_auth ("a\"b");
    assert (strcmp (s, "40{\"token\":\"a\\\"b\"}") == 0);
    assert (pl_sio_parse (s, strlen (s), &pkt, NULL) == 0 && pkt.sio == PL_SIO_CONNECT);
    assert (strcmp (cJSON_GetObjectItem (pkt.json, "token")->valuestring, "a\"b") == 0);
    pl_sio_packet_clear (&pkt);
    free (s);
    cJSON *arg = cJSON_Parse ("{\"name\":\"X\"}");
    s = pl_sio_encode_event (7, "campaign:create", arg);
    assert (strcmp (s, "427[\"campaign:create\",{\"name\":\"X\"}]") == 0);
    assert (pl_sio_parse (s, strlen (s), &pkt, NULL) == 0 && pkt.ack_id == 7);
    assert (strcmp (pkt.event, "campaign:create") == 0 && cJSON_IsObject (pkt.arg));
    pl_sio_packet_clear (&pkt);
    free (s);
    cJSON_Delete (arg);
    s = pl_sio_encode_event (0, "campaign:list", NULL);
    assert (strcmp (s, "420[\"campaign:list\"]") == 0);
    free (s);

    char a[21], b[21];
    assert (pl_sio_new_sid (a) == 0 && pl_sio_new_sid (b) == 0);
    assert (strlen (a) == 20 && strcmp (a, b) != 0);

    /* the corpus of frames captured from the real socket.io-client */
    int valid = s_corpus (PL_SOURCE_DIR "/tests/corpus/sio/valid", 0, verbose);
    int refused = s_corpus (PL_SOURCE_DIR "/tests/corpus/sio/invalid", -1, verbose);
    s_corpus (PL_SOURCE_DIR "/tests/corpus/sio/edge", 1, false);     /* no crash */
    assert (valid >= 10 && refused >= 10);
    if (verbose)
        printf ("\n   corpus: %d valid, %d invalid frames OK\n", valid, refused);
}
