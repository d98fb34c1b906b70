/*  pl_jwt - HS256 JSON Web Tokens: verify (gateway) and sign (parley-token,
 *  tests). Only HS256 is accepted; `alg: none` and every other algorithm
 *  are refused, `exp` and `nbf` are checked when present (RFC 7519 4.1.4,
 *  4.1.5), and `sub` must be a user id (pl_authz_user_id_valid: 1 to
 *  PL_AUTHZ_ID_MAX bytes of A-Z a-z 0-9 _ . - | @ +).
 */
#ifndef PL_JWT_H
#define PL_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Longest token accepted; a JWT is sent in the CONNECT packet, which is
 * itself bounded by maxPayload, but claims are small. */
#define PL_JWT_MAX 8192

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

void pl_jwt_test (bool verbose);

#endif
