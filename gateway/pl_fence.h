/*  pl_fence - evictions a reply in flight must not undo.
 *
 *  A member removed from a campaign is evicted by a control on the event
 *  bus; a subscribe that passed its membership check just before the
 *  removal committed comes back as a reply through the broker, by another
 *  path. If that reply arrives after the eviction, its join would put the
 *  connection back in the room. So the gateway remembers each eviction it
 *  applied (audience room, room) together with a fence: the id its next
 *  request would get. A reply to a request older than the fence (reqid <
 *  fence) may not join that room for a connection in that audience; a
 *  request sent after the eviction arrived was checked after the removal
 *  committed (the control is published only after it), so the service
 *  itself refuses it.
 *
 *  Bounded: PL_FENCE_MAX entries, each kept for ttl_ms (the request
 *  timeout: no reply older than that is delivered). Past the bound the
 *  oldest entry is forgotten (logged by the caller). Lws loop only.
 */
#ifndef PL_FENCE_H
#define PL_FENCE_H

#include <stdbool.h>
#include <stdint.h>

#define PL_FENCE_MAX 256

typedef struct _pl_fence_t pl_fence_t;

pl_fence_t *pl_fence_new (int64_t ttl_ms);
void pl_fence_destroy (pl_fence_t **self_p);

/* Remember that audience's members were evicted from room at now_ms, when
 * the next request id was fence. Returns false when an older entry had to
 * be forgotten to make room. */
bool pl_fence_add (pl_fence_t *self, const char *audience, const char *room,
                   uint64_t fence, int64_t now_ms);

/* Is a join of room, carried by the reply to request reqid, fenced off?
 * in_audience says whether the connection is in a given audience room. */
typedef bool (pl_fence_member_fn) (void *arg, const char *audience);
bool pl_fence_blocks (pl_fence_t *self, const char *room, uint64_t reqid, int64_t now_ms,
                      pl_fence_member_fn *in_audience, void *arg);

void pl_fence_test (bool verbose);

#endif
