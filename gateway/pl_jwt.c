/*  pl_jwt - HS256 JWT with OpenSSL HMAC. libjwt 1.10 does not check exp,
 *  and HS256 alone is a few dozen lines, so this is hand-written. */
#include "pl_jwt.h"
#include "pl_wire.h"
#include "pl_proto.h"
#include "pl_sio.h"
#include "pl_config.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base64url (RFC 4648 5) without padding -> bytes. Returns the decoded
 * length or -1. out must hold len * 3 / 4 + 3 bytes. */
static int
s_b64url_decode (const char *in, size_t len, unsigned char *out)
{
    int rc = -1;
    size_t padded = (len + 3) / 4 * 4;
    char *tmp = malloc (padded + 1);
    if (!tmp || len % 4 == 1)
        goto cleanup;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else
        if (c == '_')
            c = '/';
        else
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            goto cleanup;       /* '+', '/', '=' are not base64url */
        tmp[i] = c;
    }
    for (size_t i = len; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = 0;
    int n = EVP_DecodeBlock (out, (unsigned char *) tmp, (int) padded);
    if (n < 0)
        goto cleanup;
    rc = n - (int) (padded - len);      /* DecodeBlock counts padding as zeros */
cleanup:
    free (tmp);
    return rc;
}

/* bytes -> base64url without padding. out must hold len * 4 / 3 + 4. */
static size_t
s_b64url_encode (const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock ((unsigned char *) out, in, (int) len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else
        if (out[i] == '/')
            out[i] = '_';
    }
    out[n] = 0;
    return (size_t) n;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A member name that occurs twice in one object, at any depth. RFC 7519 4
 * lets a parser refuse such a claims set, and it must: cJSON keeps both and
 * finds the first, another library may find the last, so {"sub":"bob",
 * "sub":"alice"} would be bob here and alice elsewhere. Names are sorted,
 * not compared pairwise, because the header is checked before the
 * signature: anyone may send 8 KiB of names. Returns 1 when one is found,
 * 0 when none, -1 when out of memory. */
static int
s_has_duplicate (const cJSON *node)
{
    int rc = 0;
    const char **names = NULL;
    const cJSON *child;
    int count = cJSON_IsObject (node) ? cJSON_GetArraySize (node) : 0;
    if (count > 1) {
        names = malloc ((size_t) count * sizeof *names);
        if (!names) {
            rc = -1;
            goto cleanup;
        }
        int n = 0;
        cJSON_ArrayForEach (child, node)
            names[n++] = child->string;
        qsort (names, (size_t) n, sizeof *names, s_name_cmp);
        for (int i = 1; i < n && rc == 0; i++)
            if (strcmp (names[i - 1], names[i]) == 0)
                rc = 1;
    }
    /* cJSON refuses nesting deeper than CJSON_NESTING_LIMIT (1000), which
     * bounds this recursion */
    for (child = node->child; child && rc == 0; child = child->next)
        if (cJSON_IsObject (child) || cJSON_IsArray (child))
            rc = s_has_duplicate (child);
cleanup:
    free (names);
    return rc;
}

/* One part of the token: base64url of a JSON object in UTF-8 (RFC 7519 7.2
 * step 10, RFC 8259 8.1) with no NUL in any string and no member name
 * twice. Returns the object, or NULL with *why set. */
static cJSON *
s_decode_json (const char *part, size_t len, const char **why)
{
    cJSON *json = NULL;
    const char *reason = "malformed token";
    unsigned char *raw = malloc (len * 3 / 4 + 3);
    int n = raw ? s_b64url_decode (part, len, raw) : -1;
    if (n < 0)
        goto cleanup;
    /* cJSON takes any byte, and a name in invalid UTF-8 would reach every
     * client in text frames their WebSocket refuses */
    if (!pl_sio_utf8_valid (raw, (size_t) n)) {
        reason = "malformed token: not UTF-8";
        goto cleanup;
    }
    /* a NUL, raw or \u0000, would cut the C string: "alice\u0000evil"
     * would be alice, someone the issuer never named */
    if (pl_proto_json_has_nul ((const char *) raw, (size_t) n)) {
        reason = "malformed token: a string holds a NUL character";
        goto cleanup;
    }
    json = pl_proto_json_parse ((const char *) raw, (size_t) n);
    int dup = cJSON_IsObject (json) ? s_has_duplicate (json) : 0;
    if (dup != 0)
        reason = dup < 0 ? "out of memory" : "malformed token: a member name occurs twice";
    if (!cJSON_IsObject (json) || dup != 0) {
        cJSON_Delete (json);
        json = NULL;
    }
cleanup:
    if (!json)
        *why = reason;
    free (raw);
    return json;
}

/* exp and nbf are NumericDates (RFC 7519 2): seconds since the epoch. We
 * take only integers from 0 to PL_JWT_TIME_MAX. A value that is not one is
 * a malformed token, not a time: 1e400 parses to infinity and 2^64 is past
 * every integer type, and either would be a token that never expires;
 * "exp":"1700000000" is a string some issuer wrote by mistake, and calling
 * it "expired" would send its user looking for a clock problem. A
 * fraction (allowed by RFC 7519) is refused too: no issuer we know writes
 * one, and an integer converts to time_t exactly. Returns 0 and sets *out,
 * or -1. */
static int
s_numeric_date (const cJSON *item, long long *out)
{
    int rc = -1;
    if (!cJSON_IsNumber (item))
        goto cleanup;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= (double) PL_JWT_TIME_MAX) || v != (double) (long long) v)
        goto cleanup;                   /* also NaN and infinity */
    *out = (long long) v;
    rc = 0;
cleanup:
    return rc;
}

int
pl_jwt_verify (const char *token, size_t len, const char *secret, time_t now,
               pl_jwt_claims_t *claims, const char **why)
{
    int rc = -1;
    cJSON *header = NULL;
    cJSON *payload = NULL;
    memset (claims, 0, sizeof *claims);
    *why = "malformed token";
    if (len == 0 || len > PL_JWT_MAX)
        goto cleanup;
    const char *dot1 = memchr (token, '.', len);
    const char *dot2 = dot1 ? memchr (dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr (dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)))
        goto cleanup;
    header = s_decode_json (token, (size_t) (dot1 - token), why);
    if (!header)
        goto cleanup;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive (header, "alg");
    if (!cJSON_IsString (alg) || strcmp (alg->valuestring, "HS256") != 0) {
        *why = "unsupported algorithm (HS256 only)";
        goto cleanup;
    }
    /* signature over "<header>.<payload>" */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC (EVP_sha256 (), secret, (int) strlen (secret), (const unsigned char *) token,
               (size_t) (dot2 - token), mac, &mac_len))
        goto cleanup;
    unsigned char sig[64];
    size_t sig_len = len - (size_t) (dot2 + 1 - token);
    if (sig_len != 43                   /* 32 bytes, unpadded base64url */
    ||  s_b64url_decode (dot2 + 1, sig_len, sig) != 32
    ||  CRYPTO_memcmp (sig, mac, 32) != 0) {
        *why = "bad signature";
        goto cleanup;
    }
    payload = s_decode_json (dot1 + 1, (size_t) (dot2 - dot1 - 1), why);
    if (!payload)
        goto cleanup;
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive (payload, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive (payload, "nbf");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive (payload, "sub");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (payload, "name");
    long long exp_at = 0, nbf_at = 0;
    if (exp && s_numeric_date (exp, &exp_at) != 0) {
        *why = "malformed token: exp must be an integer NumericDate";
        goto cleanup;
    }
    if (nbf && s_numeric_date (nbf, &nbf_at) != 0) {
        *why = "malformed token: nbf must be an integer NumericDate";
        goto cleanup;
    }
    if (exp && exp_at <= (long long) now) {
        *why = "token expired";
        goto cleanup;
    }
    if (nbf && nbf_at > (long long) now) {
        *why = "token not yet valid";
        goto cleanup;
    }
    if (!cJSON_IsString (sub) || !*sub->valuestring) {
        *why = "token has no sub";
        goto cleanup;
    }
    /* the sub becomes the user id of every request, and a part of Redis
     * keys and of the room user:<sub>: it must be one (pl_wire.h) */
    if (!pl_wire_user_id_valid (sub->valuestring)) {
        *why = "token sub is not a valid user id";
        goto cleanup;
    }
    if (name && !cJSON_IsString (name) && !cJSON_IsNull (name)) {
        *why = "token name must be a string";
        goto cleanup;
    }
    claims->sub = strdup (sub->valuestring);
    claims->name = cJSON_IsString (name) ? strdup (name->valuestring) : NULL;
    claims->exp = exp_at;
    if (!claims->sub || (cJSON_IsString (name) && !claims->name)) {
        pl_jwt_claims_clear (claims);
        *why = "out of memory";
        goto cleanup;
    }
    *why = NULL;
    rc = 0;
cleanup:
    cJSON_Delete (header);
    cJSON_Delete (payload);
    return rc;
}

void
pl_jwt_claims_clear (pl_jwt_claims_t *claims)
{
    free (claims->sub);
    free (claims->name);
    memset (claims, 0, sizeof *claims);
}

char *
pl_jwt_sign (const char *secret, const char *sub, const char *name,
             time_t iat, time_t exp)
{
    char *token = NULL;
    char *body = NULL;
    cJSON *payload = cJSON_CreateObject ();
    if (!payload)
        goto cleanup;
    cJSON_AddStringToObject (payload, "sub", sub);
    if (name)
        cJSON_AddStringToObject (payload, "name", name);
    cJSON_AddNumberToObject (payload, "iat", (double) iat);
    if (exp)
        cJSON_AddNumberToObject (payload, "exp", (double) exp);
    body = cJSON_PrintUnformatted (payload);
    if (!body)
        goto cleanup;
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t body_len = strlen (body);
    size_t cap = (sizeof header + body_len) * 4 / 3 + 64 + 8;
    token = malloc (cap);
    if (!token)
        goto cleanup;
    size_t n = s_b64url_encode ((const unsigned char *) header, sizeof header - 1, token);
    token[n++] = '.';
    n += s_b64url_encode ((const unsigned char *) body, body_len, token + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC (EVP_sha256 (), secret, (int) strlen (secret), (unsigned char *) token, n,
          mac, &mac_len);
    token[n++] = '.';
    s_b64url_encode (mac, mac_len, token + n);
cleanup:
    free (body);
    cJSON_Delete (payload);
    return token;
}

char *
pl_jwt_mint (const char *secret, const char *sub, const char *name, long ttl)
{
    if (!secret || !*secret)
        secret = PL_CONFIG_DEV_SECRET;
    time_t now = time (NULL);
    return pl_jwt_sign (secret, sub, name, now, ttl > 0 ? now + ttl : 0);
}

/* Selftest: a token over any header and payload text (payload_len bytes,
 * so it may hold a raw NUL), signed with secret. Returns a new string. */
static char *
s_test_token (const char *secret, const char *header, const char *payload, size_t payload_len)
{
    size_t header_len = strlen (header);
    char *token = malloc ((header_len + payload_len) * 4 / 3 + 64 + 8);
    assert (token);
    size_t n = s_b64url_encode ((const unsigned char *) header, header_len, token);
    token[n++] = '.';
    n += s_b64url_encode ((const unsigned char *) payload, payload_len, token + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC (EVP_sha256 (), secret, (int) strlen (secret), (unsigned char *) token, n, mac, &mac_len);
    token[n++] = '.';
    s_b64url_encode (mac, mac_len, token + n);
    return token;
}

/* Selftest: verify a token over payload (HS256 header) at now 1500 and
 * return 0 or -1; *why as pl_jwt_verify sets it. */
static int
s_test_payload (const char *payload, size_t payload_len, const char **why)
{
    char *token = s_test_token ("k", "{\"alg\":\"HS256\"}", payload, payload_len);
    pl_jwt_claims_t claims;
    int rc = pl_jwt_verify (token, strlen (token), "k", 1500, &claims, why);
    pl_jwt_claims_clear (&claims);
    free (token);
    return rc;
}

void
pl_jwt_test (bool verbose)
{
    if (verbose)
        printf (" * pl_jwt: ");
    pl_jwt_claims_t claims;
    const char *why = NULL;
    /* the well-known jwt.io HS256 example (secret "your-256-bit-secret") */
    const char *known = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    assert (pl_jwt_verify (known, strlen (known), "your-256-bit-secret", 1700000000,
                           &claims, &why) == 0);
    assert (strcmp (claims.sub, "1234567890") == 0);
    assert (strcmp (claims.name, "John Doe") == 0);
    assert (claims.exp == 0);
    pl_jwt_claims_clear (&claims);
    assert (pl_jwt_verify (known, strlen (known), "wrong", 1700000000, &claims, &why) == -1);
    assert (strcmp (why, "bad signature") == 0);

    /* sign -> verify round trip, expiry, nbf */
    char *token = pl_jwt_sign ("s3cret", "alice", "Alice", 1000, 2000);
    assert (token);
    assert (pl_jwt_verify (token, strlen (token), "s3cret", 1999, &claims, &why) == 0);
    assert (strcmp (claims.sub, "alice") == 0 && claims.exp == 2000);
    pl_jwt_claims_clear (&claims);
    assert (pl_jwt_verify (token, strlen (token), "s3cret", 2000, &claims, &why) == -1);
    assert (strcmp (why, "token expired") == 0);
    /* a flipped signature byte, a truncated token, trailing data */
    size_t len = strlen (token);
    token[len - 2] = token[len - 2] == 'A' ? 'B' : 'A';
    assert (pl_jwt_verify (token, len, "s3cret", 1500, &claims, &why) == -1);
    assert (pl_jwt_verify (token, len - 5, "s3cret", 1500, &claims, &why) == -1);
    free (token);

    /* mint: now and a ttl, the dev secret when none is given */
    token = pl_jwt_mint (NULL, "dora", "Dora", 60);
    assert (token);
    assert (pl_jwt_verify (token, strlen (token), PL_CONFIG_DEV_SECRET, time (NULL), &claims,
                           &why) == 0);
    assert (strcmp (claims.sub, "dora") == 0 && strcmp (claims.name, "Dora") == 0);
    assert (claims.exp >= (long long) time (NULL) + 59 && claims.exp <= (long long) time (NULL) + 60);
    pl_jwt_claims_clear (&claims);
    free (token);
    token = pl_jwt_mint ("s3cret", "dora", NULL, 0);
    assert (pl_jwt_verify (token, strlen (token), "s3cret", time (NULL), &claims, &why) == 0);
    assert (claims.exp == 0 && claims.name == NULL);
    pl_jwt_claims_clear (&claims);
    free (token);
    token = pl_jwt_sign ("s3cret", "bob", NULL, 1000, 0);
    assert (pl_jwt_verify (token, strlen (token), "s3cret", 99999999, &claims, &why) == 0);
    assert (claims.name == NULL);
    pl_jwt_claims_clear (&claims);
    free (token);

    /* a signed token whose sub is no user id: too long, or a bad byte */
    char sub[PL_WIRE_ID_MAX + 2];
    memset (sub, 'a', sizeof sub - 1);
    sub[sizeof sub - 1] = 0;
    const char *subs[] = { sub, "a b", "a/b", "a:b", "\xc3\xa9", NULL };
    for (int i = 0; subs[i]; i++) {
        token = pl_jwt_sign ("s3cret", subs[i], NULL, 1000, 0);
        assert (token);
        assert (pl_jwt_verify (token, strlen (token), "s3cret", 1500, &claims, &why) == -1);
        assert (strcmp (why, "token sub is not a valid user id") == 0);
        free (token);
    }
    sub[PL_WIRE_ID_MAX] = 0;                /* the longest that is one */
    token = pl_jwt_sign ("s3cret", sub, NULL, 1000, 0);
    assert (pl_jwt_verify (token, strlen (token), "s3cret", 1500, &claims, &why) == 0);
    pl_jwt_claims_clear (&claims);
    free (token);

    /* hostile tokens: alg none, no sub, garbage, wrong part count */
    const char *bad[] = {
        /* {"alg":"none"}.{"sub":"x"}. */
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        /* HS256 header, payload without sub, signature of someone else */
        "eyJhbGciOiJIUzI1NiJ9.e30.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "", ".", "..", "a.b.c.d", "not a token", "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.=====", NULL
    };
    for (int i = 0; bad[i]; i++)
        assert (pl_jwt_verify (bad[i], strlen (bad[i]), "s3cret", 1500, &claims, &why) == -1);
    /* a correctly signed token with no sub is refused for the sub */
    assert (s_test_payload ("{\"name\":\"x\"}", strlen ("{\"name\":\"x\"}"), &why) == -1);
    assert (strcmp (why, "token has no sub") == 0);

    /* A NUL in any string, raw or escaped, is malformed: cJSON would cut
     * "alice\u0000evil" to the user alice. An escaped backslash before
     * "u0000" is no NUL. */
    const char *nul_free = "{\"sub\":\"alice\",\"note\":\"\\\\u0000\"}";
    assert (s_test_payload (nul_free, strlen (nul_free), &why) == 0);
    const char *nuls[] = {
        "{\"sub\":\"alice\\u0000evil\"}",
        "{\"sub\":\"alice\",\"name\":\"Al\\u0000ice\"}",
        "{\"sub\\u0000\":\"mallory\",\"sub\":\"alice\"}",
        "{\"sub\":\"alice\",\"x\":[\"\\\\\\u0000\"]}",
        NULL
    };
    for (int i = 0; nuls[i]; i++) {
        assert (s_test_payload (nuls[i], strlen (nuls[i]), &why) == -1);
        assert (strcmp (why, "malformed token: a string holds a NUL character") == 0);
    }
    static const char raw_nul[] = "{\"sub\":\"alice\0evil\"}";
    assert (s_test_payload (raw_nul, sizeof raw_nul - 1, &why) == -1);
    assert (strcmp (why, "malformed token: a string holds a NUL character") == 0);
    const char *latin1 = "{\"sub\":\"alice\",\"name\":\"caf\xe9\"}";
    assert (s_test_payload (latin1, strlen (latin1), &why) == -1);
    assert (strcmp (why, "malformed token: not UTF-8") == 0);

    /* a member name twice, at the top or deeper, spelled alike or not */
    const char *dups[] = {
        "{\"sub\":\"bob\",\"sub\":\"alice\"}",
        "{\"sub\":\"bob\",\"s\\u0075b\":\"alice\"}",
        "{\"sub\":\"alice\",\"exp\":9999,\"name\":\"A\",\"exp\":1}",
        "{\"sub\":\"alice\",\"ctx\":{\"role\":\"player\",\"role\":\"gm\"}}",
        "{\"sub\":\"alice\",\"list\":[{},{\"a\":1,\"a\":1}]}",
        NULL
    };
    for (int i = 0; dups[i]; i++) {
        assert (s_test_payload (dups[i], strlen (dups[i]), &why) == -1);
        assert (strcmp (why, "malformed token: a member name occurs twice") == 0);
    }
    const char *headers[] = {
        "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", NULL
    };
    for (int i = 0; headers[i]; i++) {
        token = s_test_token ("k", headers[i], "{\"sub\":\"alice\"}", 15);
        assert (pl_jwt_verify (token, strlen (token), "k", 1500, &claims, &why) == -1);
        assert (strcmp (why, "malformed token: a member name occurs twice") == 0);
        free (token);
    }

    /* exp and nbf: integers from 0 to PL_JWT_TIME_MAX, or malformed (an
     * exp of 1e400 is infinity to cJSON, 2^64 fits no integer) */
    const char *bad_exp[] = {
        "1e400", "18446744073709551616", "9223372036854775808", "253402300800",
        "-1", "1600.5", "\"2000\"", "true", "null", "{}", "[2000]", NULL
    };
    for (int i = 0; bad_exp[i]; i++) {
        char payload[128];
        snprintf (payload, sizeof payload, "{\"sub\":\"alice\",\"exp\":%s}", bad_exp[i]);
        assert (s_test_payload (payload, strlen (payload), &why) == -1);
        assert (strcmp (why, "malformed token: exp must be an integer NumericDate") == 0);
        snprintf (payload, sizeof payload, "{\"sub\":\"alice\",\"nbf\":%s}", bad_exp[i]);
        assert (s_test_payload (payload, strlen (payload), &why) == -1);
        assert (strcmp (why, "malformed token: nbf must be an integer NumericDate") == 0);
    }
    /* the latest exp, an integer in exponent form, and the edges of nbf */
    const char *latest = "{\"sub\":\"a\",\"exp\":253402300799}";
    token = s_test_token ("k", "{\"alg\":\"HS256\"}", latest, strlen (latest));
    assert (pl_jwt_verify (token, strlen (token), "k", 1500, &claims, &why) == 0);
    assert (claims.exp == PL_JWT_TIME_MAX);
    pl_jwt_claims_clear (&claims);
    free (token);
    const char *exp_form = "{\"sub\":\"a\",\"exp\":2e3,\"nbf\":0}";
    token = s_test_token ("k", "{\"alg\":\"HS256\"}", exp_form, strlen (exp_form));
    assert (pl_jwt_verify (token, strlen (token), "k", 1500, &claims, &why) == 0);
    assert (claims.exp == 2000);
    pl_jwt_claims_clear (&claims);
    assert (pl_jwt_verify (token, strlen (token), "k", 2000, &claims, &why) == -1);
    assert (strcmp (why, "token expired") == 0);
    free (token);
    const char *early = "{\"sub\":\"a\",\"nbf\":1501}";
    assert (s_test_payload (early, strlen (early), &why) == -1);
    assert (strcmp (why, "token not yet valid") == 0);
    if (verbose)
        printf ("OK\n");
}
