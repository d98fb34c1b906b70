/*  pl_sched - world time, scheduled events and turn timers in Redis: the
 *  storage and the rules the scheduler worker (workers/scheduler) runs.
 *
 *  World time: per campaign, integer seconds (PL_KEY_TIME), changed only
 *  by one script (pl_sched_time_change) that also claims the world-time
 *  events it passes, so an advance and the events it fires are one atomic
 *  step: concurrent advances add up, and no event fires twice.
 *
 *  Scheduled events: an entry (JSON text in PL_KEY_SCHED_ENTRIES) with a
 *  member in one sorted set: PL_KEY_SCHED_REAL (score = due ms by Redis's
 *  clock) or PL_KEY_SCHED_WORLD of its campaign (score = at). The member
 *  starts with a 20-digit creation sequence (PL_KEY_SCHED_SEQ), so equal
 *  scores sort by creation: ZRANGEBYSCORE gives due order, then creation.
 *  Firing is a claim: one script moves the due members into the firing
 *  zset (PL_KEY_SCHED_FIRING) with a lease (PL_SCHED_LEASE_MS, by Redis's
 *  clock) and returns their entries, so of two schedulers exactly one gets
 *  each. The claimer publishes them (pl_sched_publish_fired), and once the
 *  events have left the process its periodic task acknowledges them
 *  (pl_sched_ack: one script removes them and their entries). A claimer
 *  that dies in between (after Redis's reply, before its zmq send or its
 *  acknowledgement) leaves them in the firing zset: when the lease expires
 *  any scheduler's pass (the first one after a start included) claims
 *  them again and fires them, before what is newly due, in their first
 *  claim's order (due, then creation). So: exactly once when nothing
 *  dies; at-least-once across a crash in that window, or when a live
 *  scheduler cannot acknowledge within the lease (Redis unreachable):
 *  schedule:fired carries the entry's id to de-duplicate on. (The bus is
 *  lossy itself: a subscriber that is not connected misses events.)
 *
 *  Turn timers: PL_KEY_TIMER per session and PL_KEY_TIMERS scored by the
 *  next tick's ms. Each tick is claimed by the same script (the score moves
 *  to the following second), so two schedulers never both send one; a tick
 *  that fell due while no scheduler ran is skipped, not sent late in a
 *  burst; expiry deletes the timer in the claim, so it is sent once.
 *
 *  Every function takes a handler's (or the periodic task's) call: a
 *  Redis failure has answered INTERNAL (see pl_call_command).
 */
#ifndef PL_SCHED_H
#define PL_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "pl_worker.h"

#define PL_SCHED_EVENT_MAX      64              /* bytes of an event name     */
#define PL_SCHED_PAYLOAD_MAX    16384           /* bytes of payload JSON text */
#define PL_SCHED_PENDING_MAX    1000            /* pending entries per campaign */
#define PL_SCHED_AFTER_MAX      31536000000LL   /* afterMs: one year          */
#define PL_SCHED_ADVANCE_MAX    315360000LL     /* seconds: ten years         */
/* The largest world time: 10^15 - 1, not 2^53 - 1. cJSON prints a number
 * with 15 significant digits whenever that reads back within its relative
 * epsilon, so 2^53 - 1 would cross the wire as 9007199254740990; every
 * integer below 10^15 is exact (about 31.7 million years of seconds). */
#define PL_SCHED_TIME_MAX       999999999999999LL
#define PL_SCHED_FIRE_MAX       200             /* entries one claim fires: a
                                                   call publishes at most
                                                   PL_CALL_PUBLISH_MAX events */
#define PL_SCHED_TIMER_MAX_S    86400           /* a turn timer's seconds     */
#define PL_SCHED_TICKS_MAX      40              /* timer ticks per claim      */
#define PL_SCHED_LABEL_MAX      200             /* characters of a label      */
#define PL_SCHED_LEASE_MS       10000           /* a claim's hold on a fired
                                                   entry until acknowledged  */
#define PL_SCHED_ACK_MAX        10000           /* ids waiting for their
                                                   acknowledgement, per list */

/* An event name: 1..PL_SCHED_EVENT_MAX bytes of [A-Za-z0-9:_.-]. */
bool pl_sched_event_valid (const char *name);
/* item is a JSON number with an integer value in [min, max]: *out. */
bool pl_sched_int (const cJSON *item, int64_t min, int64_t max, int64_t *out);

/* The campaign's world time. 0 and *world, -1 (answered). */
int pl_sched_time_get (pl_call_t *call, const char *cid, int64_t *world);

/* Advance the world time by value (set false) or set it to value, and
 * claim the world-time entries it passes (at <= the new time), at most
 * PL_SCHED_FIRE_MAX: *fired is an array of the entries (owned), in order;
 * more are left to the periodic task (PL_KEY_SCHED_BACKLOG) when *more.
 * Returns 0, 1 when an advance would pass PL_SCHED_TIME_MAX (nothing
 * changed), 2 when the campaign no longer exists (deleted after the
 * caller's role was read; nothing changed), -1 (answered). */
int pl_sched_time_change (pl_call_t *call, const char *cid, bool set, int64_t value,
                          int64_t *previous, int64_t *now, cJSON **fired, bool *more);

/* Store entry (an object: id, campaignId, event, payload, room, createdBy;
 * this adds createdAt and dueAt from Redis's clock when after_ms > 0, else
 * it must hold at). Returns 0, 1 when the campaign has
 * PL_SCHED_PENDING_MAX pending, 2 when at is not after the current world
 * time (*world says it), 3 when the campaign no longer exists (deleted
 * after the caller's role was read: nothing stored), -1 (answered). */
int pl_sched_create (pl_call_t *call, cJSON *entry, int64_t after_ms, int64_t *world);

/* The campaign's pending entries, in order of creation. 0, -1 (answered). */
int pl_sched_list (pl_call_t *call, const char *cid, cJSON **list);

/* Cancel a pending entry of the campaign. 1 cancelled, 0 none such (or
 * fired already), -1 (answered). */
int pl_sched_cancel (pl_call_t *call, const char *cid, const char *id);

/* Start (replace) the session's timer: *timer {sessionId, campaignId,
 * seconds, label, startedAt, endsAt} (owned). 0, 1 when the session no
 * longer exists (nothing stored), -1 (answered). label may be NULL. */
int pl_sched_timer_start (pl_call_t *call, const char *sid, const char *cid, int64_t seconds,
                          const char *label, cJSON **timer);
/* 1 stopped, 0 none ran, -1 (answered). */
int pl_sched_timer_cancel (pl_call_t *call, const char *sid);

/* Follow-up work of a campaign's deletion (after its commit): remove its
 * pending (and firing) scheduled events, world time and the turn timers of
 * its sessions (sids: the session ids it had). One script. 0, -1 (logged:
 * the call has committed). What it misses (a crash before it ran) never
 * fires: the claims drop entries of a campaign that no longer exists and
 * timers of a session that no longer exists, and a create or timer:start
 * racing the deletion is refused in its script. */
int pl_sched_campaign_clear (pl_call_t *call, const char *cid, const char *const *sids,
                             size_t nsids);

/* What one claim pass found due. */
typedef struct {
    cJSON *fired;                   /* entries, in firing order (owned)     */
    cJSON *ticks;                   /* [{sessionId, remaining, label}], remaining
                                       0 = expired (owned)                  */
    int64_t wait_ms;                /* until the next due thing; -1: none;
                                       0: more is due now (a budget ran out) */
    int64_t now_ms;                 /* Redis's clock at the claim           */
} pl_sched_due_t;

/* Claim the due real-time entries, backlogged world-time entries and timer
 * ticks. 0 and *due (pl_sched_due_clear frees it), -1 (failed). */
int pl_sched_claim (pl_call_t *call, pl_sched_due_t *due);
void pl_sched_due_clear (pl_sched_due_t *due);

/* Publish schedule:fired for an entry (claimed by pl_sched_time_change
 * or pl_sched_claim) to its room (fired_at ms), and note its id for
 * pl_sched_ack. Call it after the call's last Redis command: the call's
 * events go out when it ends, and the notes are acknowledged only after
 * that. */
void pl_sched_publish_fired (pl_call_t *call, const cJSON *entry, int64_t fired_at);

/* The periodic task's first step: acknowledge (one script) the fired
 * entries noted before its previous turn, whose events have left the
 * process by now, unless the runtime holds events (pl_call_events_held:
 * then it waits for a later turn). Returns 1 when notes wait for a later
 * turn (run the task again soon), 0 none, -1 failed (logged; they are
 * kept). */
int pl_sched_ack (pl_call_t *call);

/* Selftest internals: forget the notes, set the lease (<= 0: the
 * default). */
void pl_sched__acks_reset (int64_t lease_ms);
/* The live part of the selftest (pl_sched_live_test.c). */
void pl_sched__test_live (bool verbose);

void pl_sched_test (bool verbose);

#endif
