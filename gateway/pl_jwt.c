/*  pl_jwt - HS256 JWT with OpenSSL HMAC. libjwt 1.10 does not check exp,
 *  and HS256 alone is a few dozen lines, so this is hand-written. */
#include "pl_jwt.h"
#include "pl_authz.h"
#include "pl_proto.h"

#include <assert.h>
#include <limits.h>
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

static cJSON *
s_decode_json (const char *part, size_t len)
{
    cJSON *json = NULL;
    unsigned char *raw = malloc (len * 3 / 4 + 3);
    int n = raw ? s_b64url_decode (part, len, raw) : -1;
    if (n >= 0)
        json = pl_proto_json_parse ((const char *) raw, (size_t) n);
    free (raw);
    return json;
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
    header = s_decode_json (token, (size_t) (dot1 - token));
    if (!cJSON_IsObject (header))
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
    payload = s_decode_json (dot1 + 1, (size_t) (dot2 - dot1 - 1));
    if (!cJSON_IsObject (payload))
        goto cleanup;
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive (payload, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive (payload, "nbf");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive (payload, "sub");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (payload, "name");
    if (exp && (!cJSON_IsNumber (exp) || exp->valuedouble <= (double) now)) {
        *why = "token expired";
        goto cleanup;
    }
    if (nbf && (!cJSON_IsNumber (nbf) || nbf->valuedouble > (double) now)) {
        *why = "token not yet valid";
        goto cleanup;
    }
    if (!cJSON_IsString (sub) || !*sub->valuestring) {
        *why = "token has no sub";
        goto cleanup;
    }
    /* the sub becomes the user id of every request, and a part of Redis
     * keys and of the room user:<sub>: it must be one (pl_authz.h) */
    if (!pl_authz_user_id_valid (sub->valuestring)) {
        *why = "token sub is not a valid user id";
        goto cleanup;
    }
    if (name && !cJSON_IsString (name) && !cJSON_IsNull (name)) {
        *why = "token name must be a string";
        goto cleanup;
    }
    claims->sub = strdup (sub->valuestring);
    claims->name = cJSON_IsString (name) ? strdup (name->valuestring) : NULL;
    /* exp is later than now here; one past long long's range (1e300) would be
     * undefined behaviour to cast, so it is clamped to the latest time */
    claims->exp = !exp ? 0 : exp->valuedouble >= (double) LLONG_MAX ? LLONG_MAX
                : (long long) exp->valuedouble;
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

    token = pl_jwt_sign ("s3cret", "bob", NULL, 1000, 0);
    assert (pl_jwt_verify (token, strlen (token), "s3cret", 99999999, &claims, &why) == 0);
    assert (claims.name == NULL);
    pl_jwt_claims_clear (&claims);
    free (token);

    /* a signed token whose sub is no user id: too long, or a bad byte */
    char sub[PL_AUTHZ_ID_MAX + 2];
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
    sub[PL_AUTHZ_ID_MAX] = 0;               /* the longest that is one */
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
    {
        char body[] = "{\"alg\":\"HS256\"}";
        char part1[64], part2[64], sig[64], whole[256];
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len;
        s_b64url_encode ((unsigned char *) body, strlen (body), part1);
        s_b64url_encode ((unsigned char *) "{\"name\":\"x\"}", 12, part2);
        snprintf (whole, sizeof whole, "%s.%s", part1, part2);
        HMAC (EVP_sha256 (), "k", 1, (unsigned char *) whole, strlen (whole), mac, &mac_len);
        s_b64url_encode (mac, mac_len, sig);
        snprintf (whole + strlen (whole), sizeof whole - strlen (whole), ".%s", sig);
        assert (pl_jwt_verify (whole, strlen (whole), "k", 1, &claims, &why) == -1);
        assert (strcmp (why, "token has no sub") == 0);
    }
    if (verbose)
        printf ("OK\n");
}
