/*  pl_state - the game-state path and operation engine.
 *
 *  One GM-authoritative game state per session, shaped
 *
 *      { characters: [], actors: [], items: [],
 *        currentEncounter: null | {encounter, map, tokens: []},
 *        pluginData: {}, stateVersion: "<decimal>", lastUpdated: <ms> }
 *
 *  Clients change it with operations {path, operation, value}:
 *
 *      set    replace the value at path, or create it under an existing
 *             object (or at an existing index of an array)
 *      unset  remove an object member or an array element; unsetting a
 *             missing member of an existing object is a no-op success
 *      inc    add value (a finite number) to the number at path
 *      push   append value to the array at path
 *      pull   remove every element of the array at path that deep-equals
 *             value (cJSON_Compare, case-sensitive keys, any key order)
 *
 *  A path is dotted: "characters.0.pluginData.hitPoints". A segment on an
 *  object is a key (digits too); on an array it must be a canonical index
 *  ("0", "17"; no sign, no leading zero) of an existing element.
 *
 *  Rules beyond the operation table, and why:
 *   - No segment may be "__proto__", "constructor" or "prototype", nor hold
 *     a control character, nor be empty. The state is sent to JavaScript
 *     clients, where such keys feed prototype pollution.
 *   - The first segment must be one of the shape's keys above. The
 *     server-owned stateVersion and lastUpdated are refused (pl_state_bump
 *     moves them), and the five client keys keep their type: they cannot
 *     be unset, and a set on one must give an array (characters, actors,
 *     items), an object (pluginData) or an object or null
 *     (currentEncounter). So every state this module returns has the shape.
 *   - Every object key inside a value follows the segment rules too (no
 *     "__proto__", no '.', not empty, at most PL_STATE_MAX_SEGMENT bytes,
 *     no control character), and no object in a value may repeat a key:
 *     cJSON would keep both while a JavaScript client keeps the last, and
 *     the two would disagree about what the state holds. Numbers in a
 *     value must be finite (cJSON prints inf as null).
 *   - Out-of-range array indexes are errors for every operation, unset
 *     included: a stale index usually means the client's view is stale.
 *
 *  Nothing here does I/O or keeps state between calls; every function is
 *  safe to call from any thread on distinct arguments.
 */
#ifndef PL_STATE_H
#define PL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* Limits. Each one bounds the work a single update can cost; an operation
 * is checked against all of them before it touches the working copy.
 *
 * Depth counts nested containers: a scalar is 0, [] is 1, [[1]] is 2; the
 * state's root object is 1, so a value set at a path of k segments makes
 * the state k + (value depth) deep there, and a pushed one k + 1 + depth.
 * With the limits below a set can reach depth 64 but never pass it; a push
 * at a 32-segment path can, which PL_STATE_MAX_STATE_DEPTH refuses. The
 * depth bound also keeps every recursive cJSON walk (compare, duplicate,
 * print) on the state shallow. */
#define PL_STATE_MAX_OPS          64    /* operations in one update           */
#define PL_STATE_MAX_PATH        512    /* bytes in a path, NUL excluded      */
#define PL_STATE_MAX_SEGMENTS     32    /* dotted segments in a path          */
#define PL_STATE_MAX_SEGMENT     128    /* bytes in one segment (and value key) */
#define PL_STATE_MAX_VALUE_DEPTH  32    /* container nesting of a value       */
#define PL_STATE_MAX_STATE_DEPTH  64    /* container nesting of the result    */

/* A fresh state: the shape above, stateVersion "0", lastUpdated now_ms.
 * Returns NULL when out of memory. The caller owns the result. */
cJSON *pl_state_new (int64_t now_ms);

/* Validate and apply operations (a JSON array of {path, operation, value};
 * other members are ignored, and unset ignores value) to a copy of state,
 * all or none. state must be an object (an assert).
 *
 * On success returns 0 and *out = the new state (the caller owns it). The
 * new state's stateVersion and lastUpdated are state's: call
 * pl_state_bump on it.
 * On failure returns -1, *out = NULL, *failed_index = the index of the
 * failing operation, or -1 when operations itself is malformed (NULL, not
 * an array, empty, more than PL_STATE_MAX_OPS) or state could not be
 * copied; why (when why_size > 0) holds a short message for a
 * VALIDATION_ERROR, e.g.
 * "operation 2: inc at characters.0.hp: target is not a number".
 * The one failure that is not the client's fault says "out of memory"
 * (map it to INTERNAL).
 * state is never modified. */
int pl_state_apply (const cJSON *state, const cJSON *operations, cJSON **out,
                    int *failed_index, char *why, size_t why_size);

/* Check one path against the syntax, the reserved names, the limits and
 * the top-level rules above, without any state. Returns 0, or -1 with why. */
int pl_state_path_check (const char *path, char *why, size_t why_size);

/* The same operations, rules and limits on any JSON object doc (an
 * actor, an item: the rules worker's `then`), without the game state's
 * top-level rules: any first segment (still no reserved or empty one),
 * and a top-level member may be unset or set to any type. */
int pl_state_doc_apply (const cJSON *doc, const cJSON *operations, cJSON **out,
                        int *failed_index, char *why, size_t why_size);
/* pl_state_path_check without the top-level rules, for such a doc. */
int pl_state_doc_path_check (const char *path, char *why, size_t why_size);
/* Check an operation's value as apply does (nesting, keys, duplicate
 * keys, finite numbers), without a document. 0, or -1 with why. */
int pl_state_value_check (const cJSON *value, char *why, size_t why_size);

/* Stamp a new state: stateVersion + 1 (a decimal string of a uint64) and
 * lastUpdated = now_ms. Returns 0, or -1 (state untouched) when
 * stateVersion is missing, not canonical decimal, or at UINT64_MAX. */
int pl_state_bump (cJSON *state, int64_t now_ms);

void pl_state_test (bool verbose);

#endif
