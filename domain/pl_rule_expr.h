/*  pl_rule_expr - the `when` of a rule (issue 11, section 2): a small,
 *  safe expression over an entity's or a game state's fields. No loops,
 *  no calls, no assignment: it reads the document and answers true or
 *  false, in bounded time and memory.
 *
 *  Language (keywords are lower case and case-sensitive; whitespace is
 *  space, tab, CR or LF between tokens):
 *      literals   12  3.5  1e3  "text"  true  false  null
 *                 strings take the escapes \" \\ \/ \b \f \n \r \t \uXXXX
 *                 (a surrogate pair makes one character); \u0000, a lone
 *                 surrogate and a raw control character are refused
 *      paths      hp   system.attributes.hp.value   tokens.0.x
 *                 identifiers [A-Za-z_][A-Za-z0-9_]* joined by '.', no
 *                 spaces inside; after the first, a segment may also be
 *                 digits: on an array a canonical index ("0", "17"), on
 *                 an object a key. A path that leads nowhere is null.
 *      operators, loosest first:
 *                 or                      short-circuit
 *                 and                     short-circuit
 *                 not
 *                 == != < <= > >= contains   (one per operand: no chains)
 *                 + -
 *                 * / %
 *                 unary -
 *                 ( ... )
 *
 *  Meaning:
 *   - A condition holds only when it is the boolean true; anything else
 *     (null, a missing field, a number, a string) counts as false, for
 *     `and`, `or`, `not` and the whole expression.
 *   - == is deep equality of the same type (numbers numerically, strings
 *     bytewise, arrays element by element, objects member by member in any
 *     order); values of different types are not equal. != is its negation.
 *   - < <= > >= order two numbers, or two strings bytewise; anything else
 *     is false.
 *   - `a contains b`: a is an array with an element deep-equal to b, or a
 *     and b are strings and b is a substring of a; anything else is false.
 *   - Arithmetic is on numbers only. Arithmetic on anything else, a
 *     division or % by zero, or a result that is not finite gives "no
 *     value": every comparison with it is false (== and != too), and it
 *     counts as false itself. So a type mismatch never is an error.
 *
 *  Bounds: PL_RULE_EXPR_MAX_LEN bytes of source, PL_RULE_EXPR_MAX_NODES
 *  nodes (literals, paths and operators), PL_RULE_EXPR_MAX_DEPTH levels:
 *  both the tree (a chain `a and b and c ...` is one level per operator,
 *  parentheses balance it) and the nesting of parentheses, `not` and
 *  unary minus. The parser recurses at most that deep, the evaluator too;
 *  deep equality walks with its own bounded stack, and evaluation allocates
 *  nothing.
 *
 *  Nothing here does I/O or keeps state between calls; a parsed expression
 *  is read-only, so one may be evaluated from any thread.
 */
#ifndef PL_RULE_EXPR_H
#define PL_RULE_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define PL_RULE_EXPR_MAX_LEN   1000   /* bytes of source                  */
#define PL_RULE_EXPR_MAX_NODES  256   /* literals, paths and operators    */
#define PL_RULE_EXPR_MAX_DEPTH   32   /* tree depth and nesting           */

typedef struct _pl_rule_expr_t pl_rule_expr_t;

/* Parse src (len bytes, need not be NUL-terminated; a NUL inside is an
 * error at its position). Returns NULL on error with a sentence in err
 * naming the problem and its 1-based byte position, e.g.
 * "position 12: expected a value", or "out of memory". err must hold at
 * least one byte (an assert); 128 is plenty. */
pl_rule_expr_t *pl_rule_expr_new (const char *src, size_t len, char *err, size_t err_size);

/* Destroy; nulls the caller's pointer, safe on NULL. */
void pl_rule_expr_destroy (pl_rule_expr_t **self_p);

/* Evaluate against a JSON document (the entity or the game state; NULL:
 * every path is null). Returns 1 true, 0 false, -1 on a runtime error:
 * the only ones are a deep comparison of values nested more than
 * PL_RULE_EXPR_EQUAL_DEPTH levels, and more than PL_RULE_EXPR_MAX_STEPS
 * steps of work (elements and members visited), which only a huge
 * document can cost. Type mismatches are not errors (see above). */
#define PL_RULE_EXPR_EQUAL_DEPTH    64      /* = PL_STATE_MAX_STATE_DEPTH  */
#define PL_RULE_EXPR_MAX_STEPS (1L << 20)
int pl_rule_expr_eval (const pl_rule_expr_t *self, const cJSON *doc);

/* The field paths the expression reads, in order of first appearance and
 * each once, dotted as written ("system.attributes.hp.value"): the index-th
 * one, borrowed, or NULL past the last. */
const char *pl_rule_expr_path (const pl_rule_expr_t *self, int index);

void pl_rule_expr_test (bool verbose);

#endif
