/*  pl_rule_expr_int - what the parser (pl_rule_expr.c) builds and the
 *  evaluator (pl_rule_expr_eval.c) walks: the node tree inside the object.
 *  Private to those two files.
 */
#ifndef PL_RULE_EXPR_INT_H
#define PL_RULE_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "pl_rule_expr.h"

/* Node kinds: a literal, a path, then the operators. */
typedef enum {
    N_LIT, N_PATH, N_NEG, N_NOT,
    N_MUL, N_DIV, N_MOD, N_ADD, N_SUB,
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_CONTAINS,
    N_AND, N_OR
} pl_rule_expr__kind_t;

/* Value types. V_NONE is "no value": what arithmetic on non-numbers makes. */
typedef enum { V_NONE, V_NULL, V_BOOL, V_NUM, V_STR, V_JSON } pl_rule_expr__type_t;

typedef struct {
    uint8_t kind;                   /* pl_rule_expr__kind_t                            */
    uint8_t type;                   /* a literal's pl_rule_expr__type_t                */
    uint8_t depth;                  /* levels of the subtree rooted here   */
    int16_t a, b;                   /* operand nodes, -1 for none          */
    uint32_t off;                   /* a string's bytes / a path's segments in text */
    uint32_t len;                   /* a string's length / a path's segments */
    double num;                     /* a number literal; a bool's 0 or 1   */
} pl_rule_expr__node_t;

struct _pl_rule_expr_t {
    int nnodes;                     /* nodes used                          */
    int root;                       /* the root node                       */
    int npaths;                     /* distinct paths                      */
    uint32_t path[PL_RULE_EXPR_MAX_NODES];  /* their dotted text in text[] */
    size_t used;                    /* bytes of text[] used                */
    pl_rule_expr__node_t node[PL_RULE_EXPR_MAX_NODES];  /* the tree                    */
    /* Decoded strings, and each distinct path twice: dotted, then its
     * segments NUL-separated. A path of L source bytes takes 2L + 2 <= 4L
     * bytes, a string less than its source: 4 per source byte is enough. */
    char text[4 * PL_RULE_EXPR_MAX_LEN + 16];
};

/* A decimal digit: the lexer's numbers, the evaluator's array indexes. */
static inline bool
pl_rule_expr__digit (char c)
{
    return c >= '0' && c <= '9';
}

#endif
