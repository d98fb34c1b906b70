/*  pl_ptype - one type of proto/types.def, parsed, printed as TypeScript or
 *  as JSON Schema (JSON text, which is also YAML flow style).
 *
 *  The type language is a small subset of TypeScript, described at the top
 *  of proto/types.def. Only the generator (parley-proto-doc) uses it; the
 *  text is ours, but it is still parsed with bounds: at most
 *  PL_PTYPE_MAX_TEXT bytes, PL_PTYPE_MAX_DEPTH nested levels and names of
 *  at most PL_PTYPE_MAX_NAME bytes, or pl_ptype_new returns NULL.
 */
#ifndef PL_PTYPE_H
#define PL_PTYPE_H

#include <stdbool.h>
#include <stdio.h>

#define PL_PTYPE_MAX_TEXT  4096
#define PL_PTYPE_MAX_DEPTH 16
#define PL_PTYPE_MAX_NAME  64

typedef struct _pl_ptype_t pl_ptype_t;

/* Parse text. NULL when it is not a type (the reason and position go to
 * stderr, naming `what`, e.g. "ACTOR_CREATE arg"). */
pl_ptype_t *pl_ptype_new (const char *text, const char *what);
void pl_ptype_destroy (pl_ptype_t **self_p);

/* Print as a TypeScript type; a named type prints as its name. */
void pl_ptype_print_ts (const pl_ptype_t *self, FILE *out);

/* Print as a JSON Schema; a named type is {"$ref": "<ref_base><Name>"}. */
void pl_ptype_print_schema (const pl_ptype_t *self, const char *ref_base, FILE *out);

/* The same, with the fields of the top-level object named in `optional`
 * (space-separated, e.g. the path parameters a REST route sets in the
 * body) not required. */
void pl_ptype_print_schema_opt (const pl_ptype_t *self, const char *ref_base,
                                const char *optional, FILE *out);

/* The name when the type is just a named type, else NULL. */
const char *pl_ptype_ref (const pl_ptype_t *self);

/* Calls fn(name, arg) for every named type the type refers to (for the
 * generator's check that each name is a PL_TYPE). */
void pl_ptype_each_ref (const pl_ptype_t *self,
                        void (*fn) (const char *name, void *arg), void *arg);

void pl_ptype_test (bool verbose);

#endif
