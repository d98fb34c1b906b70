/*  pl_session_int - what pl_session.c, pl_session_commit.c,
 *  pl_session_entity.c, pl_session_sync.c and the selftest share. Internal to domain/: names
 *  are pl_session__*.
 */
#ifndef PL_SESSION_INT_H
#define PL_SESSION_INT_H

#include "pl_session.h"
#include "pl_txn.h"

/* Run a command on the call's Redis without answering the call: the
 * reply, or NULL after logging (Redis unreachable, an error reply). */
redisReply *pl_session__cmd (pl_call_t *call, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Run a batch of reads (one round trip) without answering the call:
 * true when every reply arrived and none is an error, else false
 * (logged). The caller clears b. */
bool pl_session__batch (pl_call_t *call, pl_redis_batch_t *b);

/* The valid ids at <key>.<i>.id of state, sorted, without duplicates:
 * pointers into state (borrowed). Returns the count, or -1 when out of
 * memory; *ids is NULL when the count is 0. */
int pl_session__ids (const cJSON *state, const char *key, const char ***ids);
/* The role a HGET of a campaign's members read (nil: PL_ROLE_NONE). */
pl_role_t pl_session__role (const redisReply *reply);
/* Expect, in txn, that user's field in campaign_id's members is still
 * what reply (a HGET of it) read: a role changed since (a GM demoted, a
 * member removed, the campaign deleted) makes the commit conflict, and
 * its rerun decide again. */
void pl_session__expect_role (pl_txn_t *txn, const char *campaign_id, const char *user,
                              const redisReply *reply);
/* Parse a stored state; NULL (logged) when it is not one. */
cJSON *pl_session__parse_state (const char *sid, const char *text, size_t len);
/* A parsed state's stateVersion (pl_session__parse_state checked it). */
const char *pl_session__version (const cJSON *state);

/* The dual update's operations builder (pl_session_ops_fn): replace (or,
 * entity NULL, remove) every embedded copy of one entity. */
typedef struct {
    const char *key;            /* "actors" or "items"                    */
    const cJSON *entity;        /* the stored entity, NULL: remove copies */
    const char *id;             /* its id                                 */
} pl_session__replace_t;
cJSON *pl_session__replace_ops (const cJSON *state, void *arg, char *why, size_t why_size);

/* The selftest's part against a private redis-server (pl_session_txn_test.c). */
void pl_session__test_live (bool verbose);

#endif
