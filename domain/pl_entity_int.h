/*  pl_entity_int - what pl_entity.c (rules, reads, shared helpers),
 *  pl_entity_create.c (create), pl_entity_write.c (update, delete),
 *  pl_entity_held.c (the entities a holder holds, on its delete and
 *  hidden flip) and pl_entity_reads.c (what a write's decision read)
 *  share. Internal: only those files include it (libuv's "uv__"
 *  convention: pl_entity__ names). Each function is documented where it
 *  is defined: in pl_entity.c, unless its section below names another
 *  file.
 */
#ifndef PL_ENTITY_INT_H
#define PL_ENTITY_INT_H

#include <stdarg.h>
#include "pl_entity.h"
#include "pl_txn.h"

/* A stored entity and the caller's view of it. Strings are borrowed from
 * json. */
typedef struct {
    cJSON *json;                    /* the entity (owned)                    */
    const char *id;
    const char *creator;            /* createdBy                             */
    const char *campaign;           /* campaignId, NULL: personal            */
    const char *holder;             /* holder_field, NULL: held by nobody    */
    bool hidden;
    pl_role_t role;                 /* the caller's role in campaign         */
    bool is_creator;                /* the caller created it                 */
} pl_entity__t;

/* JSON helpers */
void pl_entity__default (cJSON *obj, const char *key, cJSON *value);
double pl_entity__number (const cJSON *obj, const char *key);
char *pl_entity__fmt (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
char *pl_entity__vfmt (const char *fmt, va_list ap) __attribute__ ((format (printf, 1, 0)));
void pl_entity__refuse (pl_call_t *call, pl_err_t err, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
void pl_entity__say (pl_call_t *call, bool quiet, pl_err_t err, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* what a write's decision read, for its commit's expectations
 * (pl_entity_reads.c). A NULL reads, where a function takes one, reads
 * without keeping anything (a read-only handler, create's own script). */
typedef struct _pl_entity__reads_t pl_entity__reads_t;
pl_entity__reads_t *pl_entity__reads_new (void);
void pl_entity__reads_destroy (pl_entity__reads_t **self_p);
void pl_entity__reads_want (pl_entity__reads_t *self, const char *field, const char *keyfmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int pl_entity__reads_run (pl_entity__reads_t *self, pl_call_t *call);
int pl_entity__reads_get (pl_entity__reads_t *self, pl_call_t *call, const char *field,
                          const char **value, size_t *len, const char *keyfmt, ...)
    __attribute__ ((format (printf, 6, 7)));
void pl_entity__reads_expect (const pl_entity__reads_t *self, pl_txn_t *txn);
int pl_entity__role (pl_call_t *call, pl_entity__reads_t *reads, const char *campaign,
                     const char *user, pl_role_t *role);

/* a stored entity */
bool pl_entity__view (cJSON *json, const char *holder_field, pl_entity__t *e);
void pl_entity__free (pl_entity__t *e);
int pl_entity__fetch (pl_call_t *call, pl_entity__reads_t *reads, const char *name,
                      const char *holder_field, const char *id, bool quiet, pl_entity__t *e,
                      char **raw);
int pl_entity__creator_member (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity__t *e,
                               bool *member);
int pl_entity__holder_ok (pl_call_t *call, bool quiet, const pl_entity_kind_t *kind,
                          const char *hid, int visible, const pl_entity__t *h,
                          const char *campaign);

/* answers, events, transactions */
const char *pl_entity__id (pl_call_t *call, const pl_entity_kind_t *kind, const cJSON *item);
char *pl_entity__text (pl_call_t *call, bool quiet, const pl_entity_kind_t *kind,
                       const cJSON *entity);
void pl_entity__publish (pl_call_t *call, const pl_entity_kind_t *kind, pl_entity_op_t op,
                         const pl_entity__t *e, bool creator_member, bool was_hidden,
                         const pl_entity_holder_view_t *holder, bool exclude_origin);
void pl_entity__publish_one (pl_call_t *call, const pl_entity_kind_t *kind,
                             const pl_entity__t *e, const pl_entity_pub_t *pub, bool redact,
                             bool exclude_origin);

/* a held entity's holder, and who may see it */
void pl_entity__redact (const pl_entity_kind_t *kind, cJSON *obj);
int pl_entity__sees_holder (pl_call_t *call, pl_entity__reads_t *reads,
                            const pl_entity_kind_t *kind, const pl_entity__t *e, pl_entity__t *h);
int pl_entity__holder_view (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity__t *e,
                            const pl_entity__t *h, pl_entity_holder_view_t *view);

/* the sessions that embed an entity (pl_entity_write.c) */
void pl_entity__sync_sessions (pl_call_t *call, const char *name, const cJSON *entity,
                               const char *skip_sid);

/* a holder's held entities, on its delete and hidden flip
 * (pl_entity_held.c). pl_entity__held_t is what a holder being deleted
 * holds: the held entities, already updated (holder field null, version
 * + 1), their text, and for the first `events` of them whether their
 * creator is still a member; and what was read of them, for the commit's
 * expectations. */
typedef struct {
    size_t count;
    pl_entity__t *e;                /* count of them                        */
    char **text;                    /* count of them                        */
    bool *member;                   /* count of them                        */
    size_t events;                  /* how many get K:updated events        */
    redisReply *ids;                /* the holder's set, as read (owned)    */
    redisReply *values;             /* the MGET of its members (owned)      */
} pl_entity__held_t;
void pl_entity__held_free (pl_entity__held_t *held);
int pl_entity__held_load (pl_call_t *call, pl_entity__reads_t *reads, const pl_entity_kind_t *kind,
                          const pl_entity__t *owner, int budget, pl_entity__held_t *held);
void pl_entity__held_commit (pl_txn_t *txn, const pl_entity_kind_t *kind,
                             const pl_entity__t *owner, const pl_entity__held_t *held);
void pl_entity__held_flip (pl_call_t *call, const pl_entity_kind_t *kind, const pl_entity__t *e,
                           int budget);

#endif
