/*  pl_ratetab - a rate limit per key (a REST caller's JWT sub) in a table
 *  of fixed size, and the GCRA step it shares with the per-connection
 *  limit of Socket.IO events (pl_gateway_req.c).
 *
 *  GCRA (the generic cell rate algorithm, ITU-T I.371) is a token bucket
 *  kept as one timestamp, the theoretical arrival time (tat) of the next
 *  request: a request is allowed when tat is at most `tolerance` ahead of
 *  now, and then moves it `interval` on. burst requests pass at once, then
 *  one per interval; it refills lazily from the clock, with no timer.
 *
 *  The table: PL_RATETAB_SLOTS entries of {key, tat}, allocated once, open
 *  addressing over a window of PL_RATETAB_PROBE slots from a seeded hash
 *  of the key. An entry whose tat is not ahead of now is a full bucket,
 *  the same as no entry, so it is free for any key: the table only has to
 *  hold the keys that made requests within the last burst * interval.
 *  At the limit (every slot of a key's window holds another key that is
 *  still in debt) the entry closest to being refilled is given to the new
 *  key, which starts with a full bucket: under that much pressure the
 *  limit errs towards letting requests through, and nobody is refused
 *  because of other keys. pl_ratetab_evictions counts it.
 *
 *  No allocation after pl_ratetab_new. Lws loop only (no locks).
 */
#ifndef PL_RATETAB_H
#define PL_RATETAB_H

#include <stdbool.h>
#include <stdint.h>

#define PL_RATETAB_SLOTS   1024     /* entries: ~150 KB a table             */
#define PL_RATETAB_PROBE   8        /* slots a key may live in              */
#define PL_RATETAB_KEY_MAX 128      /* longest key (PL_WIRE_ID_MAX)         */

typedef struct _pl_ratetab_t pl_ratetab_t;

/* One GCRA step on *tat at now (all in the same unit, e.g. us). Returns 0
 * when the request is allowed (and *tat moves on), else how long until it
 * would be (> 0; *tat unchanged). */
int64_t pl_rate_gcra (int64_t *tat, int64_t now, int64_t interval, int64_t tolerance);

/* A table allowing bursts of tolerance / interval + 1, then one per
 * interval (microseconds, interval > 0), with seed for the hash (random,
 * so no one can pick keys that share a window). NULL when out of memory. */
pl_ratetab_t *pl_ratetab_new (int64_t interval_us, int64_t tolerance_us, uint64_t seed);
void pl_ratetab_destroy (pl_ratetab_t **self_p);

/* Charge one request of key (1..PL_RATETAB_KEY_MAX bytes) at now_us.
 * Returns 0 when allowed, else the microseconds until key may try again. */
int64_t pl_ratetab_take (pl_ratetab_t *self, const char *key, int64_t now_us);

/* Entries given to a new key while their own key was still in debt. */
uint64_t pl_ratetab_evictions (pl_ratetab_t *self);

void pl_ratetab_test (bool verbose);

#endif
