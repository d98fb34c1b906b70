/*  pl_campaign - campaigns in Redis: the stored campaign and its rules, its
 *  members, and the user's index of campaigns. The campaigns worker's
 *  handlers (workers/campaigns) decide, answer and run the transactions;
 *  this module reads, checks and queues for them.
 *
 *  Storage (Redis; the key formats are in pl_keys.h):
 *    pl:campaign:<id>            the campaign, JSON text {id, name, createdBy,
 *                                createdAt, updatedAt, ...client fields}
 *    pl:campaign:<id>:members    hash userId -> "gm" | "player"
 *    pl:user:<uid>:campaigns     sorted set of campaign ids, score = join ms
 *
 *  Every function runs inside a handler's call, on the worker loop
 *  (pl_worker.h). "-1 answered" / "NULL answered" means the call has been
 *  answered (a NULL from pl_call_command: INTERNAL already), so the handler
 *  just cleans up.
 */
#ifndef PL_CAMPAIGN_H
#define PL_CAMPAIGN_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "pl_authz.h"
#include "pl_entity.h"
#include "pl_worker.h"

#define PL_CAMPAIGN_NAME_MAX 200        /* characters in a campaign name       */
#define PL_CAMPAIGN_MAX      65536      /* largest stored campaign, JSON bytes */

/* Shallow-merge the client's fields into campaign, the fields the server
 * owns (id, createdBy, createdAt, updatedAt) and the decorations answers
 * add (role, members) skipped. */
void pl_campaign_merge (cJSON *campaign, const cJSON *fields);
/* The rules every stored campaign keeps. Returns NULL, or what is wrong. */
const char *pl_campaign_invalid (const cJSON *campaign);

/* Read a campaign. Returns it; NULL with *missing set when there is none,
 * NULL with *missing false when answered (INTERNAL). */
cJSON *pl_campaign_load (pl_call_t *call, const char *id, bool *missing);
/* Queue SET of the campaign in an open MULTI. Returns 0, or -1 answered
 * (VALIDATION_ERROR past PL_CAMPAIGN_MAX). */
int pl_campaign_queue_set (pl_call_t *call, const cJSON *campaign, const char *id);
/* The user's campaigns, in join order, each with "role" (theirs) added;
 * index entries whose campaign or membership is gone are skipped. Returns
 * the list (caller owns), or NULL answered. One script: one round trip. */
cJSON *pl_campaign_list (pl_call_t *call, const char *user);
/* Whether the campaign holds entities of kind: whether its index of them
 * exists, enough to know the zset is non-empty, since Redis deletes empty
 * collections. 0, or -1 answered. */
int pl_campaign_holds (pl_call_t *call, const char *id, const pl_entity_kind_t *kind,
                       bool *exists);

/* The members of a campaign, as read by HGETALL. */
typedef struct {
    redisReply *reply;              /* HGETALL answer: user, role, ...      */
    pl_role_t caller;               /* the caller's role                    */
    pl_role_t target;               /* the role of the user acted on        */
    int gms;                        /* GMs in the campaign                  */
} pl_campaign_members_t;

/* Read the members (inside a WATCH), and the roles of the caller and of
 * target (NULL: none). Returns 0, or -1 answered. */
int pl_campaign_members (pl_call_t *call, const char *id, const char *target,
                         pl_campaign_members_t *m);
/* Free what pl_campaign_members read. Safe twice. */
void pl_campaign_members_clear (pl_campaign_members_t *m);
/* A change only a GM may make. Returns 0 when the caller is one, or -1
 * after answering NOT_FOUND (not a member: the campaign does not exist for
 * them) or FORBIDDEN (a player). */
int pl_campaign_gm_only (pl_call_t *call, const char *id, const pl_campaign_members_t *m);

void pl_campaign_test (bool verbose);

#endif
