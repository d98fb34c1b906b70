/*  pl_session_int - what pl_session.c, pl_session_entity.c,
 *  pl_session_sync.c and the selftest share. Internal to domain/: names
 *  are pl_session__*.
 */
#ifndef PL_SESSION_INT_H
#define PL_SESSION_INT_H

#include "pl_session.h"

/* Run a command on the call's Redis without answering the call: the
 * reply, or NULL after logging (Redis unreachable, an error reply). */
redisReply *pl_session__cmd (pl_call_t *call, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/* The same for a reply nobody needs; false on failure (logged). */
bool pl_session__run (pl_call_t *call, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Close whatever WATCH / MULTI we left open, so the caller's next command
 * (another session, the rest of an actor handler) runs outside it. */
void pl_session__reset (pl_call_t *call);
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

#endif
