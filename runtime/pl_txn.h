/*  pl_txn - an optimistic write committed by one compare-and-set script.
 *
 *  The pattern every writing handler follows (issue 10; STYLE.md):
 *    1. read what the decision needs (pl_call_command, pl_call_batch);
 *    2. decide in C;
 *    3. commit: one EVALSHA that checks that what was read is still so,
 *       and then runs every write, or writes nothing and reports the
 *       conflict;
 *    4. on a conflict the runtime runs the handler again (pl_call_conflict,
 *       bounded by PL_CALL_RETRY_MAX). Handlers write no retry loop.
 *
 *  A script is atomic and pipelinable, so many handlers' commits share one
 *  connection and one round, which WATCH/MULTI (state on the connection)
 *  cannot. The expectations say what the decision was based on:
 *
 *      pl_txn_t *txn = pl_txn_new ();
 *      pl_txn_expect_value (txn, old, old_len, PL_KEY_ENTITY, "actor", id);
 *      pl_txn_expect_field (txn, uid, "gm", PL_KEY_CAMPAIGN_MEMBERS, cid);
 *      pl_txn_write (txn, "SET " PL_KEY_ENTITY " %b", "actor", id, text, len);
 *      pl_txn_write (txn, "ZADD " PL_KEY_CAMPAIGN_ENTITIES " %lld %s", cid, "actor", t, id);
 *      int rc = pl_txn_commit (txn, call);   // 1 done, 0 conflict, -1 failed
 *      pl_txn_destroy (&txn);
 *
 *  Keys are printf formats with their arguments (pl_keys.h), as in
 *  pl_call_command; values are binary-safe. A write is a hiredis command
 *  format whose first argument is its key (SET, DEL of one key, SADD,
 *  ZADD, HSET, XADD, EXPIRE, ...): every key a commit touches is declared
 *  in KEYS. Writes run in the order added, after every expectation held.
 *
 *  Like EXEC, a script does not roll back: a write that fails at run time
 *  (WRONGTYPE on a corrupt key) fails the commit (INTERNAL) after the
 *  writes before it ran. Writes are built from state the handler just
 *  read, so this is a storage fault, not a request error.
 */
#ifndef PL_TXN_H
#define PL_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include "pl_worker.h"

typedef struct _pl_txn_t pl_txn_t;

/* Most expectations plus writes in one commit, and most arguments of one
 * write (Lua's unpack limit is near 8000). Past them the commit fails
 * INTERNAL before anything is sent: split the work. The first bound is a
 * guard against a runaway build, not a product limit: a campaign delete
 * takes about 2 per member and 6 per game session. A script runs alone on
 * Redis, so 65,536 operations hold it for some tens of ms. */
#define PL_TXN_OPS_MAX   65536
#define PL_TXN_ARGC_MAX  4096

pl_txn_t *pl_txn_new (void);
void pl_txn_destroy (pl_txn_t **self_p);
/* Forget every expectation, write and result, to build another commit. */
void pl_txn_reset (pl_txn_t *self);

/* The string at key is value (len bytes), or, with value NULL, the key
 * does not exist. */
void pl_txn_expect_value (pl_txn_t *self, const char *value, size_t len,
                          const char *keyfmt, ...) __attribute__ ((format (printf, 4, 5)));
/* Hash field of key is value, or, with value NULL, is not set. */
void pl_txn_expect_field (pl_txn_t *self, const char *field, const char *value,
                          const char *keyfmt, ...) __attribute__ ((format (printf, 4, 5)));
/* member is (present) or is not (!present) in the set at key. */
void pl_txn_expect_member (pl_txn_t *self, const char *member, bool present,
                           const char *keyfmt, ...) __attribute__ ((format (printf, 4, 5)));
/* member's score in the sorted set at key is score, as ZSCORE printed it,
 * or, with score NULL, member is not in it. */
void pl_txn_expect_score (pl_txn_t *self, const char *member, const char *score,
                          const char *keyfmt, ...) __attribute__ ((format (printf, 4, 5)));
/* The set (PL_TXN_SET), sorted set (PL_TXN_ZSET) or hash (PL_TXN_HASH) at
 * key has count members (0 when it does not exist). */
typedef enum { PL_TXN_SET, PL_TXN_ZSET, PL_TXN_HASH } pl_txn_coll_t;
void pl_txn_expect_count (pl_txn_t *self, pl_txn_coll_t coll, long long count,
                          const char *keyfmt, ...) __attribute__ ((format (printf, 4, 5)));

/* Add a write (a hiredis format; its first argument is the key). */
void pl_txn_write (pl_txn_t *self, const char *fmt, ...);
void pl_txn_write_argv (pl_txn_t *self, int argc, const char **argv, const size_t *argvlen);
/* Writes added so far. */
size_t pl_txn_writes (pl_txn_t *self);

/* Send the commit for call. Returns
 *    1: every expectation held and every write ran: the call is committed
 *       (pl_call_commit) and pl_txn_result has each write's reply;
 *    0: an expectation failed, nothing was written, and the call is marked
 *       for another run (pl_call_conflict): the handler just returns;
 *   -1: it failed (Redis unreachable, an error, a bad build): the call has
 *       been answered INTERNAL, as pl_call_command does.
 * A commit with no writes checks the expectations only (a consistent
 * read). */
int pl_txn_commit (pl_txn_t *self, pl_call_t *call);
/* A follow-up commit: work a handler does AFTER its own write committed
 * (pl_call_commit), e.g. the "system" updates of the sessions that embed
 * an entity it changed. A rerun of the handler would redo that committed
 * write, so here a conflict does NOT call pl_call_conflict: it returns 0
 * and the caller reads again and retries itself, bounded (or gives up,
 * logged). Nor does a failure answer the call: it returns -1, logged, and
 * the handler's answer stands. On success (1) it calls pl_call_commit, so
 * the events of the write go out whatever the call answers. Usable in a
 * call that has not committed yet too (a read handler's repair): the same
 * contract. */
int pl_txn_commit_follow_up (pl_txn_t *self, pl_call_t *call);
/* The reply of write i (0-based) of the last successful commit, borrowed;
 * NULL when there is none. */
const redisReply *pl_txn_result (pl_txn_t *self, size_t i);
/* Which expectation (0-based, in the order added) failed in the last
 * conflict, or -1. For logs and tests. */
int pl_txn_conflict_at (pl_txn_t *self);

void pl_txn_test (bool verbose);

#endif
