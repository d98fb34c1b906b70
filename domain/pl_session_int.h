/*  pl_session_int - what pl_session.c, pl_session_entity.c and the
 *  selftest share. Internal to domain/: names are pl_session__*.
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

/* The dual update's operations builder (pl_session_ops_fn): replace (or,
 * entity NULL, remove) every embedded copy of one entity. */
typedef struct {
    const char *key;            /* "actors" or "items"                    */
    const cJSON *entity;        /* the stored entity, NULL: remove copies */
    const char *id;             /* its id                                 */
} pl_session__replace_t;
cJSON *pl_session__replace_ops (const cJSON *state, void *arg, char *why, size_t why_size);

#endif
