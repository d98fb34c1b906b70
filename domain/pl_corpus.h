/*  pl_corpus - the selftests' walk over a directory of fuzz seeds
 *  (tests/corpus/<name>, see the README there): a file named bad-* must be
 *  refused, any other must parse. pl_dice_test and pl_rule_expr_test check
 *  their seeds through it; it is test code, and those selftests are its
 *  test.
 */
#ifndef PL_CORPUS_H
#define PL_CORPUS_H

#include <stdbool.h>
#include <stddef.h>

/* The most bytes of a seed file read (the rest is not seen). */
#define PL_CORPUS_FILE_MAX (1 << 16)

/* Parse one seed file's bytes: true when they parse; else why (why_size
 * bytes) says why. Runs in the selftest's thread, once per file. */
typedef bool (pl_corpus_parse_fn) (const char *data, size_t len, char *why, size_t why_size);

/* Every *.txt of tests/corpus/<name> through parse; a file that parses
 * when its name says bad-, or is refused when it does not, is printed
 * ("<who>: corpus <file>: parsed" or the why) and fails an assert, as
 * does a directory of fewer than at_least files. Returns the files read. */
int pl_corpus_check (const char *name, const char *who, pl_corpus_parse_fn *parse, int at_least);

#endif
