/*  pl_campaign - campaigns in Redis: the stored campaign and its rules, its
 *  members, and the user's index of campaigns. The campaigns worker's
 *  handlers (workers/campaigns) decide, answer and run the transactions;
 *  this module reads, checks, and builds their commits' expectations and
 *  writes (pl_txn.h).
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
#include "pl_txn.h"
#include "pl_worker.h"

#define PL_CAMPAIGN_NAME_MAX 200        /* characters in a campaign name       */
#define PL_CAMPAIGN_MAX      65536      /* largest stored campaign, JSON bytes */

/* Shallow-merge the client's fields into campaign, the fields the server
 * owns (id, createdBy, createdAt, updatedAt) and the decorations answers
 * add (role, members) skipped. */
void pl_campaign_merge (cJSON *campaign, const cJSON *fields);
/* The rules every stored campaign keeps. Returns NULL, or what is wrong. */
const char *pl_campaign_invalid (const cJSON *campaign);

/* The user's campaigns, in join order, each with "role" (theirs) added;
 * index entries whose campaign or membership is gone are skipped. Returns
 * the list (caller owns), or NULL answered. One script: one round trip. */
cJSON *pl_campaign_list (pl_call_t *call, const char *user);

/* ---- read, decide, commit (pl_txn.h) --------------------------------
 *
 * A writing handler reads what its decision needs with pl_campaign_read
 * (one round trip), decides, then commits one pl_txn holding
 * pl_campaign_expect's expectations (what the decision was based on) and
 * its writes. A concurrent change to any of it makes the commit conflict,
 * and the runtime runs the handler again, which decides again. */

/* What a handler read of one campaign. */
typedef struct {
    redisReply *members;            /* HGETALL: user, role, ...                */
    redisReply *text;               /* GET of the campaign (NIL: none), or NULL */
    redisReply *sessions;           /* SMEMBERS of its sessions, or NULL       */
    long long actors, items;        /* ZCARD of its entity indexes, when read  */
    const char *caller_id;          /* the caller's user id (borrowed)         */
    const char *target_id;          /* the user acted on, or NULL (borrowed)   */
    pl_role_t caller;               /* the caller's role                       */
    pl_role_t target;               /* the role of the user acted on           */
    int gms;                        /* GMs in the campaign                     */
} pl_campaign_read_t;

/* What pl_campaign_read reads besides the members. */
#define PL_CAMPAIGN_TEXT      0x1u  /* the stored campaign                     */
#define PL_CAMPAIGN_SESSIONS  0x2u  /* its game sessions                       */
#define PL_CAMPAIGN_HOLDINGS  0x4u  /* how many actors and items it holds      */

/* Read the members, the roles of the caller and of target (NULL: none),
 * and what `what` asks for, in one round trip. Returns 0, or -1
 * answered. */
int pl_campaign_read (pl_call_t *call, const char *id, const char *target, unsigned what,
                      pl_campaign_read_t *r);
/* Free what pl_campaign_read read. Safe twice. */
void pl_campaign_read_clear (pl_campaign_read_t *r);
/* The campaign read with PL_CAMPAIGN_TEXT. Returns it (caller owns), or
 * NULL answered: NOT_FOUND when there is none, INTERNAL when corrupt. */
cJSON *pl_campaign_parse (pl_call_t *call, const char *id, const pl_campaign_read_t *r);
/* A change only a GM may make. Returns 0 when the caller is one, or -1
 * after answering NOT_FOUND (not a member: the campaign does not exist for
 * them) or FORBIDDEN (a player). */
int pl_campaign_gm_only (pl_call_t *call, const char *id, const pl_campaign_read_t *r);

/* What a commit expects to be as r read it. */
#define PL_CAMPAIGN_EXPECT_CALLER   0x01u   /* the caller's role                  */
#define PL_CAMPAIGN_EXPECT_TARGET   0x02u   /* the target's role, or not a member */
#define PL_CAMPAIGN_EXPECT_GMS      0x04u   /* every GM still one: what the
                                               last-GM rule counted               */
#define PL_CAMPAIGN_EXPECT_MEMBERS  0x08u   /* every member's role, and how many  */
#define PL_CAMPAIGN_EXPECT_TEXT     0x10u   /* the stored campaign, byte for byte */
#define PL_CAMPAIGN_EXPECT_SESSIONS 0x20u   /* its sessions: each, and how many   */
#define PL_CAMPAIGN_EXPECT_EMPTY    0x40u   /* it holds no actors and no items    */
/* Add the expectations `what` asks for (each field once). */
void pl_campaign_expect (pl_txn_t *txn, const char *id, const pl_campaign_read_t *r,
                         unsigned what);
/* Add the SET of the campaign. Returns 0, or -1 answered
 * (VALIDATION_ERROR past PL_CAMPAIGN_MAX; INTERNAL out of memory). */
int pl_campaign_write_set (pl_call_t *call, pl_txn_t *txn, const cJSON *campaign,
                           const char *id);
/* Add the writes that delete the campaign as r read it (with
 * PL_CAMPAIGN_SESSIONS): it, its members and their index entries, its
 * chat, and its game sessions with their keys (pl_session.h; update id
 * records expire by themselves). */
void pl_campaign_write_delete (pl_txn_t *txn, const char *id, const pl_campaign_read_t *r);

void pl_campaign_test (bool verbose);

#endif
