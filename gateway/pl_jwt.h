/*  pl_jwt - HS256 JSON Web Tokens: verify (gateway) and sign (parley-token,
 *  tests). Only HS256 is accepted; `alg: none` and every other algorithm
 *  are refused, `exp` and `nbf` are checked when present (RFC 7519 4.1.4,
 *  4.1.5), and `sub` must be a user id (pl_wire_user_id_valid: 1 to
 *  PL_WIRE_ID_MAX bytes of A-Z a-z 0-9 _ . - | @ +).
 *
 *  A token is malformed, and refused before any claim is read, when its
 *  header or payload is not a JSON object in UTF-8, a string in it holds a
 *  NUL (raw or \u0000), or an object in it names a member twice; and when
 *  `exp` or `nbf` is present but not an integer from 0 to PL_JWT_TIME_MAX.
 *  Each of these would otherwise read differently here than in the
 *  issuer's library (the C string cut at the NUL, the first of two `sub`
 *  rather than the last, an `exp` of 1e400 that never comes).
 */
#ifndef PL_JWT_H
#define PL_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Longest token accepted; a JWT is sent in the CONNECT packet, which is
 * itself bounded by maxPayload, but claims are small. */
#define PL_JWT_MAX 8192

/* Latest exp or nbf accepted: 9999-12-31T23:59:59Z. Any real lifetime
 * fits, and every value up to it is exact in a double and in time_t. */
#define PL_JWT_TIME_MAX 253402300799LL

typedef struct {
    char *sub;              /* user id (required)              */
    char *name;             /* display name, or NULL           */
    long long exp;          /* expiry (seconds), 0 when absent */
} pl_jwt_claims_t;

/* Verify token (len bytes) with secret at time now. Returns 0 and fills
 * *claims (free with pl_jwt_claims_clear), or -1 with *why set to a static
 * reason fit to show the client. */
int pl_jwt_verify (const char *token, size_t len, const char *secret, time_t now,
                   pl_jwt_claims_t *claims, const char **why);
void pl_jwt_claims_clear (pl_jwt_claims_t *claims);

/* Sign {"sub","name"?,"iat","exp"?} with HS256. exp 0 = no exp claim.
 * Returns a new string (caller frees) or NULL. */
char *pl_jwt_sign (const char *secret, const char *sub, const char *name,
                   time_t iat, time_t exp);

/* Sign for sub, now, valid ttl seconds (0 or less: no exp), with secret,
 * or the dev secret (PL_CONFIG_DEV_SECRET) when secret is NULL or empty:
 * parley-token's and parleyctl's rule for PARLEY_JWT_SECRET. Returns a
 * new string (caller frees) or NULL. */
char *pl_jwt_mint (const char *secret, const char *sub, const char *name, long ttl);

void pl_jwt_test (bool verbose);

#endif
