/*  pl_dice - dice expressions, parsed and rolled on the server (issue 11,
 *  the rules worker's `roll`). A client never rolls: it sends the
 *  expression, the server draws from the kernel's CSPRNG.
 *
 *  Grammar (whitespace allowed between tokens, letters in either case):
 *      expr  := ['+'|'-'] term (('+'|'-') term)*
 *      term  := dice | integer
 *      dice  := [count] 'd' (sides | '%') [('kh'|'kl') keep]
 *  "d20" is 1d20, "d%" is d100, "4d6kh3" keeps the 3 highest of 4d6,
 *  "2d20kl1" the lowest of two (disadvantage).
 *  Bounds: at most PL_DICE_TEXT_MAX bytes, PL_DICE_TERMS_MAX terms,
 *  PL_DICE_DICE_MAX dice in all, PL_DICE_SIDES_MAX sides per die, and a
 *  constant at most PL_DICE_CONST_MAX. Anything else is refused with what
 *  is wrong and where (a 1-based byte position); a NUL byte is a character
 *  like any other, so it is refused too, never a cut.
 *
 *  Faces are uniform: each is drawn from getrandom(2) with rejection
 *  sampling, so no face is favoured by modulo bias. The kernel's words
 *  come 64 per getrandom call (a per-thread pool, emptied in a forked
 *  child), each used once.
 */
#ifndef PL_DICE_H
#define PL_DICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define PL_DICE_TEXT_MAX    200
#define PL_DICE_TERMS_MAX   20
#define PL_DICE_DICE_MAX    100
#define PL_DICE_SIDES_MAX   1000
#define PL_DICE_CONST_MAX   1000000

typedef struct _pl_dice_t pl_dice_t;

/* Parse len bytes of text. Returns NULL, with why (a sentence naming the
 * problem and its position) filled, when the expression is invalid or
 * past a bound, or out of memory. */
pl_dice_t *pl_dice_parse (const char *text, size_t len, char *why, size_t why_size);
void pl_dice_destroy (pl_dice_t **self_p);

/* The expression in canonical form ("4d6kh3 + 2"), borrowed. */
const char *pl_dice_text (const pl_dice_t *self);

/* A source of uniform 32-bit words. NULL: the kernel's (getrandom). Tests
 * pass their own. */
typedef uint32_t (pl_dice_rng_fn) (void *arg);

/* Roll it. Returns {rolls: [{die, results: [..], kept: [..]}, ...],
 * modifier, total}, where die is a term's text ("-1d4" when subtracted),
 * results every face in the order drawn, kept the faces that count (all
 * of them without kh/kl), modifier the sum of the constants and total the
 * signed sum of the kept faces plus the modifier. results and kept are
 * cJSON raw items (cJSON_IsRaw) holding the JSON array text ("[1,6,3]"):
 * printed as-is, far cheaper than cJSON's number printing; to read the
 * faces, parse their valuestring. NULL when out of memory or the kernel's
 * generator failed. */
cJSON *pl_dice_roll (const pl_dice_t *self, pl_dice_rng_fn *rng, void *arg);

/* A face of a die of sides faces (1..sides), uniform, from rng (NULL: the
 * kernel's); 0 when the generator failed. */
int pl_dice_face (int sides, pl_dice_rng_fn *rng, void *arg);

void pl_dice_test (bool verbose);

#endif
