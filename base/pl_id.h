/*  pl_id - random ids and clocks, for handlers and the runtime.
 *
 *  Ids come from OpenSSL's CSPRNG, so they are unguessable as well as
 *  unique: an actor id leaks nothing about who else exists.
 */
#ifndef PL_ID_H
#define PL_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" plus the NUL */
#define PL_ID_UUID_SIZE 37

/* Write a random (version 4, RFC 4122) UUID in lower-case hex into buf.
 * Returns 0, or -1 (buf set to "") when the CSPRNG fails. */
int pl_id_uuid4 (char buf[PL_ID_UUID_SIZE]);

/* True when text is a UUID in the form pl_id_uuid4 writes (any version). */
bool pl_id_is_uuid (const char *text);

/* Wall clock, milliseconds since the Unix epoch: for timestamps that are
 * stored or sent (createdAt). */
int64_t pl_id_wall_ms (void);
/* The same clock in microseconds: an event's publish time on the bus and
 * the gateway's write time it is compared with (delivery latency). */
int64_t pl_id_wall_us (void);

/* Monotonic clock in milliseconds: for deadlines and intervals, which must
 * not jump when the wall clock is set. */
int64_t pl_id_mono_ms (void);
/* The same clock in seconds, to the nanosecond: for durations that go in
 * metrics (a Redis round trip takes well under a millisecond). */
double pl_id_mono_s (void);

void pl_id_test (bool verbose);

#endif
