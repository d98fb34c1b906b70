/*  pl_rule_expr - a rule's `when`, parsed once and evaluated on every
 *  change. See pl_rule_expr.h for the language.
 *
 *  A hand-written lexer and recursive-descent parser build a tree of at
 *  most PL_RULE_EXPR_MAX_NODES nodes in a fixed array inside the object:
 *  one allocation per expression, none per evaluation. The tree is at
 *  most PL_RULE_EXPR_MAX_DEPTH deep, which bounds the evaluator's
 *  recursion; the parser's own recursion (parentheses, `not`, unary minus)
 *  is bounded by the same number. Deep equality of documents walks with
 *  an explicit stack of PL_RULE_EXPR_EQUAL_DEPTH frames, and every element
 *  or member visited counts against PL_RULE_EXPR_MAX_STEPS, so no document
 *  can make one evaluation recurse or run without bound.
 */
#include "pl_rule_expr.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node kinds: a literal, a path, then the operators. */
typedef enum {
    N_LIT, N_PATH, N_NEG, N_NOT,
    N_MUL, N_DIV, N_MOD, N_ADD, N_SUB,
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_CONTAINS,
    N_AND, N_OR
} s_kind_t;

/* Value types. V_NONE is "no value": what arithmetic on non-numbers makes. */
typedef enum { V_NONE, V_NULL, V_BOOL, V_NUM, V_STR, V_JSON } s_type_t;

typedef struct {
    uint8_t kind;                   /* s_kind_t                            */
    uint8_t type;                   /* a literal's s_type_t                */
    uint8_t depth;                  /* levels of the subtree rooted here   */
    int16_t a, b;                   /* operand nodes, -1 for none          */
    uint32_t off;                   /* a string's bytes / a path's segments in text */
    uint32_t len;                   /* a string's length / a path's segments */
    double num;                     /* a number literal; a bool's 0 or 1   */
} s_node_t;

struct _pl_rule_expr_t {
    int nnodes;                     /* nodes used                          */
    int root;                       /* the root node                       */
    int npaths;                     /* distinct paths                      */
    uint32_t path[PL_RULE_EXPR_MAX_NODES];  /* their dotted text in text[] */
    size_t used;                    /* bytes of text[] used                */
    s_node_t node[PL_RULE_EXPR_MAX_NODES];  /* the tree                    */
    /* Decoded strings, and each distinct path twice: dotted, then its
     * segments NUL-separated. A path of L source bytes takes 2L + 2 <= 4L
     * bytes, a string less than its source: 4 per source byte is enough. */
    char text[4 * PL_RULE_EXPR_MAX_LEN + 16];
};

/* Tokens */
typedef enum {
    T_END, T_NUM, T_STR, T_PATH, T_TRUE, T_FALSE, T_NULL,
    T_AND, T_OR, T_NOT, T_CONTAINS,
    T_LP, T_RP, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE
} s_tok_t;

/* The parser: source, where it is, the current token, the first error. */
typedef struct {
    pl_rule_expr_t *self;
    const char *src, *p, *end;
    char *err;
    size_t err_size;
    bool failed;
    int level;                      /* nesting of (, not, unary -          */
    s_tok_t tok;                    /* the current token                   */
    const char *at;                 /* where it starts                     */
    double num;                     /* T_NUM's value                       */
    uint32_t off, len;              /* T_STR's bytes, T_PATH's segments    */
} s_parse_t;

static void
s_fail (s_parse_t *ps, const char *at, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int n = snprintf (ps->err, ps->err_size, "position %d: ", (int) (at - ps->src) + 1);
    va_list ap;
    va_start (ap, fmt);
    if (n >= 0 && (size_t) n < ps->err_size)
        vsnprintf (ps->err + n, ps->err_size - (size_t) n, fmt, ap);
    va_end (ap);
}

static bool
s_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

static int
s_hex (char c)
{
    return s_digit (c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
         : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* Room for n more bytes of text[]; never short by the size argument above,
 * but checked all the same. */
static char *
s_room (s_parse_t *ps, size_t n)
{
    pl_rule_expr_t *self = ps->self;
    char *room = NULL;
    if (self->used + n > sizeof self->text)
        s_fail (ps, ps->at, "the expression is too large");
    else
        room = self->text + self->used;
    return room;
}

/* Four hex digits at p (p + 4 <= end checked by the caller); -1 if not. */
static long
s_hex4 (const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = s_hex (p[i]);
        if (h < 0) {
            v = -1;
            break;
        }
        v = v * 16 + h;
    }
    return v;
}

/* A string literal from the opening quote at ps->p: decoded into text[]. */
static void
s_string (s_parse_t *ps)
{
    const char *open = ps->p++;
    char *out = s_room (ps, (size_t) (ps->end - ps->p) + 1);
    size_t n = 0;
    while (out && !ps->failed) {
        if (ps->p == ps->end) {
            s_fail (ps, open, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char) *ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c == 0) {
            s_fail (ps, ps->p, "a NUL byte is not allowed");
            break;
        }
        if (c < 0x20) {
            s_fail (ps, ps->p, "a control character in a string (write it as an escape)");
            break;
        }
        if (c != '\\') {
            out[n++] = (char) c;
            ps->p++;
            continue;
        }
        const char *esc = ps->p++;
        char e = ps->p < ps->end ? *ps->p++ : 0;
        switch (e) {
            case '"': out[n++] = '"'; break;
            case '\\': out[n++] = '\\'; break;
            case '/': out[n++] = '/'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'n': out[n++] = '\n'; break;
            case 'r': out[n++] = '\r'; break;
            case 't': out[n++] = '\t'; break;
            case 'u': {
                long cp = ps->end - ps->p >= 4 ? s_hex4 (ps->p) : -1;
                if (cp < 0) {
                    s_fail (ps, esc, "\\u needs four hex digits");
                    break;
                }
                ps->p += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    s_fail (ps, esc, "a lone low surrogate in \\u escapes");
                    break;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    long lo = ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u'
                            ? s_hex4 (ps->p + 2) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        s_fail (ps, esc, "a high surrogate in \\u escapes must be followed by a low one");
                        break;
                    }
                    ps->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) {
                    s_fail (ps, esc, "a NUL (\\u0000) is not allowed in a string");
                    break;
                }
                /* UTF-8: never longer than the escape it came from */
                if (cp < 0x80)
                    out[n++] = (char) cp;
                else
                if (cp < 0x800) {
                    out[n++] = (char) (0xC0 | (cp >> 6));
                    out[n++] = (char) (0x80 | (cp & 0x3F));
                }
                else
                if (cp < 0x10000) {
                    out[n++] = (char) (0xE0 | (cp >> 12));
                    out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
                    out[n++] = (char) (0x80 | (cp & 0x3F));
                }
                else {
                    out[n++] = (char) (0xF0 | (cp >> 18));
                    out[n++] = (char) (0x80 | ((cp >> 12) & 0x3F));
                    out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
                    out[n++] = (char) (0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                if (e == 0 && ps->p > esc + 1 && ps->p[-1] == 0)
                    s_fail (ps, ps->p - 1, "a NUL byte is not allowed");
                else
                if (e == 0)
                    s_fail (ps, open, "unterminated string");
                else
                if ((unsigned char) e >= 0x20 && (unsigned char) e < 0x7F)
                    s_fail (ps, esc, "unknown escape '\\%c'", e);
                else
                    s_fail (ps, esc, "unknown escape (byte 0x%02X after '\\')", (unsigned char) e);
                break;
        }
    }
    if (out && !ps->failed) {
        out[n] = 0;
        ps->off = (uint32_t) ps->self->used;
        ps->len = (uint32_t) n;
        ps->self->used += n + 1;
        ps->tok = T_STR;
    }
}

/* A number: digits ['.' digits] [e [+-] digits], finite. */
static void
s_number (s_parse_t *ps)
{
    const char *start = ps->p;
    while (ps->p < ps->end && s_digit (*ps->p))
        ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p == ps->end || !s_digit (*ps->p)) {
            s_fail (ps, ps->p, "expected a digit after the decimal point");
            goto cleanup;
        }
        while (ps->p < ps->end && s_digit (*ps->p))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p == ps->end || !s_digit (*ps->p)) {
            s_fail (ps, ps->p, "expected a digit in the exponent");
            goto cleanup;
        }
        while (ps->p < ps->end && s_digit (*ps->p))
            ps->p++;
    }
    char buf[PL_RULE_EXPR_MAX_LEN + 1];     /* the source is no longer */
    size_t n = (size_t) (ps->p - start);
    memcpy (buf, start, n);
    buf[n] = 0;
    ps->num = strtod (buf, NULL);           /* the C locale: '.' */
    if (!isfinite (ps->num))
        s_fail (ps, start, "the number is out of range");
    ps->tok = T_NUM;
cleanup:
    return;
}

/* A path or a keyword from the identifier at ps->p. A distinct path is
 * stored once, dotted then segmented; a repeated one reuses it. */
static void
s_word (s_parse_t *ps)
{
    static const struct { const char *word; s_tok_t tok; } keywords[] = {
        { "and", T_AND }, { "or", T_OR }, { "not", T_NOT }, { "contains", T_CONTAINS },
        { "true", T_TRUE }, { "false", T_FALSE }, { "null", T_NULL }
    };
    const char *start = ps->p;
    while (ps->p < ps->end && (s_alpha (*ps->p) || s_digit (*ps->p)))
        ps->p++;
    size_t n = (size_t) (ps->p - start);
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (strlen (keywords[k].word) == n && memcmp (keywords[k].word, start, n) == 0) {
            ps->tok = keywords[k].tok;
            goto cleanup;
        }
    uint32_t segments = 1;
    while (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p == ps->end || !(s_alpha (*ps->p) || s_digit (*ps->p))) {
            s_fail (ps, ps->p, "expected a field name or an index after '.'");
            goto cleanup;
        }
        while (ps->p < ps->end && (s_alpha (*ps->p) || s_digit (*ps->p)))
            ps->p++;
        segments++;
    }
    n = (size_t) (ps->p - start);
    pl_rule_expr_t *self = ps->self;
    ps->tok = T_PATH;
    ps->len = segments;
    for (int i = 0; i < self->npaths; i++) {
        const char *seen = self->text + self->path[i];
        if (strlen (seen) == n && memcmp (seen, start, n) == 0) {
            ps->off = (uint32_t) (self->path[i] + n + 1);
            goto cleanup;
        }
    }
    /* each path token becomes a node, or the parse fails on it */
    if (self->npaths == PL_RULE_EXPR_MAX_NODES) {
        s_fail (ps, start, "the expression has more than %d nodes", PL_RULE_EXPR_MAX_NODES);
        goto cleanup;
    }
    char *out = s_room (ps, 2 * n + 2);
    if (!out)
        goto cleanup;
    memcpy (out, start, n);
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        out[n + 1 + i] = start[i] == '.' ? 0 : start[i];
    out[2 * n + 1] = 0;
    self->path[self->npaths++] = (uint32_t) self->used;
    ps->off = (uint32_t) (self->used + n + 1);
    self->used += 2 * n + 2;
cleanup:
    return;
}

/* The next token into ps->tok. */
static void
s_next (s_parse_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
    ps->at = ps->p;
    if (ps->p == ps->end) {
        ps->tok = T_END;
        return;
    }
    char c = *ps->p;
    char c2 = ps->p + 1 < ps->end ? ps->p[1] : 0;
    if (s_alpha (c))
        s_word (ps);
    else
    if (s_digit (c))
        s_number (ps);
    else
    if (c == '"')
        s_string (ps);
    else {
        ps->p++;
        switch (c) {
            case '(': ps->tok = T_LP; break;
            case ')': ps->tok = T_RP; break;
            case '+': ps->tok = T_PLUS; break;
            case '-': ps->tok = T_MINUS; break;
            case '*': ps->tok = T_STAR; break;
            case '/': ps->tok = T_SLASH; break;
            case '%': ps->tok = T_PCT; break;
            case '<': ps->tok = c2 == '=' ? (ps->p++, T_LE) : T_LT; break;
            case '>': ps->tok = c2 == '=' ? (ps->p++, T_GE) : T_GT; break;
            case '=':
                if (c2 == '=') {
                    ps->p++;
                    ps->tok = T_EQ;
                }
                else
                    s_fail (ps, ps->at, "a single '=' is not an operator (compare with '==')");
                break;
            case '!':
                if (c2 == '=') {
                    ps->p++;
                    ps->tok = T_NE;
                }
                else
                    s_fail (ps, ps->at, "'!' is not an operator (use not, or '!=')");
                break;
            case 0:
                s_fail (ps, ps->at, "a NUL byte is not allowed");
                break;
            default:
                if (c > 0x20 && c < 0x7F)
                    s_fail (ps, ps->at, "unexpected character '%c'", c);
                else
                    s_fail (ps, ps->at, "unexpected byte 0x%02X", (unsigned char) c);
                break;
        }
    }
    if (ps->failed)
        ps->tok = T_END;
}

/* A new node of kind over a and b (-1: none), for the token at at; -1 on
 * failure (an operand failed, or a bound). */
static int
s_node (s_parse_t *ps, s_kind_t kind, int a, int b, const char *at)
{
    pl_rule_expr_t *self = ps->self;
    int index = -1;
    if (ps->failed || (a < 0 && kind > N_PATH) || (b < 0 && kind > N_NOT))
        goto cleanup;
    int depth = 1;
    if (a >= 0 && self->node[a].depth + 1 > depth)
        depth = self->node[a].depth + 1;
    if (b >= 0 && self->node[b].depth + 1 > depth)
        depth = self->node[b].depth + 1;
    if (depth > PL_RULE_EXPR_MAX_DEPTH) {
        s_fail (ps, at, "the expression is more than %d levels deep", PL_RULE_EXPR_MAX_DEPTH);
        goto cleanup;
    }
    if (self->nnodes == PL_RULE_EXPR_MAX_NODES) {
        s_fail (ps, at, "the expression has more than %d nodes", PL_RULE_EXPR_MAX_NODES);
        goto cleanup;
    }
    index = self->nnodes++;
    self->node[index] = (s_node_t) { .kind = (uint8_t) kind, .depth = (uint8_t) depth,
                                     .a = (int16_t) a, .b = (int16_t) b };
cleanup:
    return index;
}

/* One level deeper into (, not or unary minus; false past the bound. */
static bool
s_enter (s_parse_t *ps)
{
    if (++ps->level > PL_RULE_EXPR_MAX_DEPTH)
        s_fail (ps, ps->at, "the expression is nested more than %d levels deep",
                PL_RULE_EXPR_MAX_DEPTH);
    return !ps->failed;
}

static int s_or (s_parse_t *ps);

/* primary := number | string | true | false | null | path | '(' or ')' */
static int
s_primary (s_parse_t *ps)
{
    int index = -1;
    const char *at = ps->at;
    s_tok_t tok = ps->tok;
    if (tok == T_LP) {
        if (!s_enter (ps))
            goto cleanup;
        s_next (ps);
        index = s_or (ps);
        if (!ps->failed && ps->tok != T_RP)
            s_fail (ps, ps->at, "expected ')' to close the '(' at position %d", (int) (at - ps->src) + 1);
        ps->level--;
        if (!ps->failed)
            s_next (ps);
        goto cleanup;
    }
    if (tok != T_NUM && tok != T_STR && tok != T_PATH && tok != T_TRUE && tok != T_FALSE
    &&  tok != T_NULL) {
        s_fail (ps, at, tok == T_END ? "expected a value, found the end" : "expected a value");
        goto cleanup;
    }
    index = s_node (ps, tok == T_PATH ? N_PATH : N_LIT, -1, -1, at);
    if (index < 0)
        goto cleanup;
    s_node_t *node = &ps->self->node[index];
    node->type = tok == T_NUM ? V_NUM : tok == T_STR ? V_STR : tok == T_NULL ? V_NULL : V_BOOL;
    node->num = tok == T_NUM ? ps->num : tok == T_TRUE ? 1 : 0;
    node->off = ps->off;
    node->len = ps->len;
    s_next (ps);
cleanup:
    return ps->failed ? -1 : index;
}

/* unary := '-' unary | primary */
static int
s_unary (s_parse_t *ps)
{
    int index = -1;
    if (ps->tok != T_MINUS)
        index = s_primary (ps);
    else {
        const char *at = ps->at;
        if (!s_enter (ps))
            goto cleanup;
        s_next (ps);
        int a = s_unary (ps);
        ps->level--;
        index = s_node (ps, N_NEG, a, -1, at);
    }
cleanup:
    return ps->failed ? -1 : index;
}

/* mul := unary (('*' | '/' | '%') unary)* */
static int
s_mul (s_parse_t *ps)
{
    int index = s_unary (ps);
    while (!ps->failed && (ps->tok == T_STAR || ps->tok == T_SLASH || ps->tok == T_PCT)) {
        s_kind_t kind = ps->tok == T_STAR ? N_MUL : ps->tok == T_SLASH ? N_DIV : N_MOD;
        const char *at = ps->at;
        s_next (ps);
        int b = s_unary (ps);
        index = s_node (ps, kind, index, b, at);
    }
    return ps->failed ? -1 : index;
}

/* add := mul (('+' | '-') mul)* */
static int
s_add (s_parse_t *ps)
{
    int index = s_mul (ps);
    while (!ps->failed && (ps->tok == T_PLUS || ps->tok == T_MINUS)) {
        s_kind_t kind = ps->tok == T_PLUS ? N_ADD : N_SUB;
        const char *at = ps->at;
        s_next (ps);
        int b = s_mul (ps);
        index = s_node (ps, kind, index, b, at);
    }
    return ps->failed ? -1 : index;
}

static bool
s_is_comparison (s_tok_t tok)
{
    return tok == T_EQ || tok == T_NE || tok == T_LT || tok == T_LE || tok == T_GT
        || tok == T_GE || tok == T_CONTAINS;
}

/* comparison := add [(== != < <= > >= contains) add], never chained: what
 * `a < b < c` means differs between languages, so none is guessed. */
static int
s_comparison (s_parse_t *ps)
{
    int index = s_add (ps);
    if (!ps->failed && s_is_comparison (ps->tok)) {
        static const s_kind_t kinds[] = {
            [T_EQ] = N_EQ, [T_NE] = N_NE, [T_LT] = N_LT, [T_LE] = N_LE,
            [T_GT] = N_GT, [T_GE] = N_GE, [T_CONTAINS] = N_CONTAINS
        };
        s_kind_t kind = kinds[ps->tok];
        const char *at = ps->at;
        s_next (ps);
        int b = s_add (ps);
        index = s_node (ps, kind, index, b, at);
        if (!ps->failed && s_is_comparison (ps->tok))
            s_fail (ps, ps->at, "comparisons do not chain (join them with and)");
    }
    return ps->failed ? -1 : index;
}

/* not := 'not' not | comparison */
static int
s_not (s_parse_t *ps)
{
    int index = -1;
    if (ps->tok != T_NOT)
        index = s_comparison (ps);
    else {
        const char *at = ps->at;
        if (!s_enter (ps))
            goto cleanup;
        s_next (ps);
        int a = s_not (ps);
        ps->level--;
        index = s_node (ps, N_NOT, a, -1, at);
    }
cleanup:
    return ps->failed ? -1 : index;
}

/* and := not ('and' not)* */
static int
s_and (s_parse_t *ps)
{
    int index = s_not (ps);
    while (!ps->failed && ps->tok == T_AND) {
        const char *at = ps->at;
        s_next (ps);
        int b = s_not (ps);
        index = s_node (ps, N_AND, index, b, at);
    }
    return ps->failed ? -1 : index;
}

/* or := and ('or' and)* */
static int
s_or (s_parse_t *ps)
{
    int index = s_and (ps);
    while (!ps->failed && ps->tok == T_OR) {
        const char *at = ps->at;
        s_next (ps);
        int b = s_and (ps);
        index = s_node (ps, N_OR, index, b, at);
    }
    return ps->failed ? -1 : index;
}

pl_rule_expr_t *
pl_rule_expr_new (const char *src, size_t len, char *err, size_t err_size)
{
    assert (err && err_size > 0);
    err[0] = 0;
    pl_rule_expr_t *self = NULL;
    if (!src || len == 0) {
        snprintf (err, err_size, "position 1: the expression is empty");
        goto cleanup;
    }
    if (len > PL_RULE_EXPR_MAX_LEN) {
        snprintf (err, err_size, "position %d: the expression is longer than %d bytes",
                  PL_RULE_EXPR_MAX_LEN + 1, PL_RULE_EXPR_MAX_LEN);
        goto cleanup;
    }
    self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        goto cleanup;
    }
    s_parse_t ps = { .self = self, .src = src, .p = src, .end = src + len,
                     .err = err, .err_size = err_size };
    s_next (&ps);
    if (!ps.failed && ps.tok == T_END)
        s_fail (&ps, ps.at, "the expression is empty");
    self->root = s_or (&ps);
    if (!ps.failed && ps.tok != T_END)
        s_fail (&ps, ps.at, ps.tok == T_RP ? "')' without a matching '('"
                                           : "expected an operator or the end");
    if (ps.failed)
        pl_rule_expr_destroy (&self);
cleanup:
    return self;
}

void
pl_rule_expr_destroy (pl_rule_expr_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

const char *
pl_rule_expr_path (const pl_rule_expr_t *self, int index)
{
    assert (self);
    return index >= 0 && index < self->npaths ? self->text + self->path[index] : NULL;
}

/* ---------------------------------------------------------------------------
 * Evaluation */

typedef struct {
    uint8_t type;                   /* s_type_t                            */
    bool b;                         /* V_BOOL                              */
    double n;                       /* V_NUM                               */
    const char *s;                  /* V_STR, borrowed                     */
    size_t len;                     /* its bytes                           */
    const cJSON *j;                 /* V_JSON: an array or an object       */
} s_val_t;

typedef struct {
    const pl_rule_expr_t *self;
    const cJSON *doc;
    long steps;                     /* work done, bounded                  */
    bool error;                     /* past a bound: the answer is -1      */
} s_eval_t;

/* One more step of work; false (and error) past the bound. */
static bool
s_step (s_eval_t *ev)
{
    if (++ev->steps > PL_RULE_EXPR_MAX_STEPS)
        ev->error = true;
    return !ev->error;
}

static int
s_jtype (const cJSON *j)
{
    return j->type & 0xFF;          /* without cJSON's reference flags    */
}

static s_val_t
s_from_json (const cJSON *j)
{
    s_val_t v = { .type = V_NULL };
    int t = j ? s_jtype (j) : cJSON_NULL;
    if (t == cJSON_True || t == cJSON_False)
        v = (s_val_t) { .type = V_BOOL, .b = t == cJSON_True };
    else
    if (t == cJSON_Number)
        v = (s_val_t) { .type = V_NUM, .n = j->valuedouble };
    else
    if (t == cJSON_String && j->valuestring)
        v = (s_val_t) { .type = V_STR, .s = j->valuestring, .len = strlen (j->valuestring) };
    else
    if (t == cJSON_Array || t == cJSON_Object)
        v = (s_val_t) { .type = V_JSON, .j = j };
    return v;
}

/* The member key of object obj (first of duplicates), counting steps. */
static const cJSON *
s_member (s_eval_t *ev, const cJSON *obj, const char *key)
{
    const cJSON *m = obj->child;
    while (m && s_step (ev) && !(m->string && strcmp (m->string, key) == 0))
        m = m->next;
    return ev->error ? NULL : m;
}

/* Elements or members of a container, counting steps. */
static long
s_size (s_eval_t *ev, const cJSON *c)
{
    long n = 0;
    for (const cJSON *m = c->child; m && s_step (ev); m = m->next)
        n++;
    return n;
}

static bool
s_container (int t)
{
    return t == cJSON_Array || t == cJSON_Object;
}

/* Two scalars of the same cJSON type. */
static bool
s_scalar_equal (const cJSON *x, const cJSON *y)
{
    int t = s_jtype (x);
    return t == cJSON_Number ? x->valuedouble == y->valuedouble
         : t == cJSON_String ? (x->valuestring && y->valuestring
                                ? strcmp (x->valuestring, y->valuestring) == 0
                                : x->valuestring == y->valuestring)
         : t == cJSON_Raw ? false
         : true;                    /* null, true, false: the type says it */
}

/* Is every element (member) of container a equal to the one at the same
 * index (the first member of the same key) in b, recursively? a and b are
 * of one type and size. An explicit stack, not recursion: 1 equal, 0 not,
 * -1 past PL_RULE_EXPR_EQUAL_DEPTH or the step bound. */
static int
s_walk_equal (s_eval_t *ev, const cJSON *a, const cJSON *b)
{
    struct {
        const cJSON *x;             /* the next child of a container of a  */
        const cJSON *y;             /* an object of b, or the next child of an array of b */
        bool obj;
    } stack[PL_RULE_EXPR_EQUAL_DEPTH];
    int n = 1, r = 1;
    bool obj = s_jtype (a) == cJSON_Object;
    stack[0].x = a->child;
    stack[0].y = obj ? b : b->child;
    stack[0].obj = obj;
    while (n > 0 && r == 1) {
        if (!stack[n - 1].x) {
            n--;
            continue;
        }
        const cJSON *x = stack[n - 1].x, *y;
        stack[n - 1].x = x->next;
        if (stack[n - 1].obj)
            y = x->string ? s_member (ev, stack[n - 1].y, x->string) : NULL;
        else {
            y = stack[n - 1].y;
            stack[n - 1].y = y ? y->next : NULL;
        }
        if (!s_step (ev)) {
            r = -1;
            break;
        }
        int t = s_jtype (x);
        if (!y || t != s_jtype (y))
            r = 0;
        else
        if (!s_container (t))
            r = s_scalar_equal (x, y);
        else
        if (s_size (ev, x) != s_size (ev, y))
            r = ev->error ? -1 : 0;
        else
        if (n == PL_RULE_EXPR_EQUAL_DEPTH) {
            ev->error = true;
            r = -1;
        }
        else {
            obj = t == cJSON_Object;
            stack[n].x = x->child;
            stack[n].y = obj ? y : y->child;
            stack[n].obj = obj;
            n++;
        }
    }
    return ev->error ? -1 : r;
}

/* Deep equality of two values: 1, 0, or -1 past a bound. No value is
 * equal to anything (V_NONE is handled by the caller). */
static int
s_equal (s_eval_t *ev, const s_val_t *a, const s_val_t *b)
{
    int r = 0;
    if (a->type != b->type)
        goto cleanup;
    switch (a->type) {
        case V_NULL: r = 1; break;
        case V_BOOL: r = a->b == b->b; break;
        case V_NUM:  r = a->n == b->n; break;
        case V_STR:  r = a->len == b->len && memcmp (a->s, b->s, a->len) == 0; break;
        case V_JSON: {
            int t = s_jtype (a->j);
            if (t != s_jtype (b->j))
                break;
            long na = s_size (ev, a->j), nb = s_size (ev, b->j);
            if (ev->error) {
                r = -1;
                break;
            }
            if (na != nb)
                break;
            /* both ways: with a duplicated key, one way alone could match
             * {"a":1,"a":1} to {"a":1,"b":2} */
            r = s_walk_equal (ev, a->j, b->j);
            if (r == 1 && t == cJSON_Object)
                r = s_walk_equal (ev, b->j, a->j);
            break;
        }
        default: break;
    }
cleanup:
    return r;
}

/* The value at a path node's segments; null when it leads nowhere. */
static s_val_t
s_path (s_eval_t *ev, const s_node_t *node)
{
    const cJSON *cur = ev->doc;
    const char *seg = ev->self->text + node->off;
    for (uint32_t k = 0; k < node->len && cur; k++) {
        size_t n = strlen (seg);
        int t = s_jtype (cur);
        if (t == cJSON_Object)
            cur = s_member (ev, cur, seg);
        else
        if (t == cJSON_Array) {
            /* a canonical index: digits, no leading zero, within the array */
            long index = 0;
            bool ok = n > 0 && n <= 9 && (seg[0] != '0' || n == 1);
            for (size_t i = 0; ok && i < n; i++) {
                ok = s_digit (seg[i]);
                index = index * 10 + (seg[i] - '0');
            }
            cur = ok ? cur->child : NULL;
            while (cur && index-- > 0 && s_step (ev))
                cur = cur->next;
            if (ev->error)
                cur = NULL;
        }
        else
            cur = NULL;
        seg += n + 1;
    }
    return s_from_json (cur);
}

static bool
s_true (const s_val_t *v)
{
    return v->type == V_BOOL && v->b;
}

static s_val_t
s_bool (bool b)
{
    return (s_val_t) { .type = V_BOOL, .b = b };
}

/* Bytewise order of two strings: <0, 0, >0. */
static int
s_strcmp (const s_val_t *a, const s_val_t *b)
{
    int c = memcmp (a->s, b->s, a->len < b->len ? a->len : b->len);
    return c ? c : a->len < b->len ? -1 : a->len > b->len;
}

/* The value of node index. Recursion is the tree's depth, at most
 * PL_RULE_EXPR_MAX_DEPTH. On an error, any value (ev->error says). */
static s_val_t
s_eval (s_eval_t *ev, int index)
{
    const s_node_t *node = &ev->self->node[index];
    s_val_t v = { .type = V_NONE }, a, b;
    if (!s_step (ev))
        goto cleanup;
    switch ((s_kind_t) node->kind) {
        case N_LIT:
            v.type = node->type;
            v.b = node->num != 0;
            v.n = node->num;
            v.s = ev->self->text + node->off;
            v.len = node->len;
            break;
        case N_PATH:
            v = s_path (ev, node);
            break;
        case N_NEG:
            a = s_eval (ev, node->a);
            if (a.type == V_NUM)
                v = (s_val_t) { .type = V_NUM, .n = -a.n };
            break;
        case N_NOT:
            a = s_eval (ev, node->a);
            v = s_bool (!s_true (&a));
            break;
        case N_AND:
            a = s_eval (ev, node->a);
            v = s_bool (false);
            if (s_true (&a)) {
                b = s_eval (ev, node->b);
                v = s_bool (s_true (&b));
            }
            break;
        case N_OR:
            a = s_eval (ev, node->a);
            v = s_bool (true);
            if (!s_true (&a)) {
                b = s_eval (ev, node->b);
                v = s_bool (s_true (&b));
            }
            break;
        case N_MUL: case N_DIV: case N_MOD: case N_ADD: case N_SUB: {
            a = s_eval (ev, node->a);
            b = s_eval (ev, node->b);
            if (a.type != V_NUM || b.type != V_NUM)
                break;
            double n = node->kind == N_MUL ? a.n * b.n
                     : node->kind == N_DIV ? (b.n != 0 ? a.n / b.n : NAN)
                     : node->kind == N_MOD ? (b.n != 0 ? fmod (a.n, b.n) : NAN)
                     : node->kind == N_ADD ? a.n + b.n
                     : a.n - b.n;
            if (isfinite (n))
                v = (s_val_t) { .type = V_NUM, .n = n };
            break;
        }
        case N_EQ: case N_NE: case N_LT: case N_LE: case N_GT: case N_GE: case N_CONTAINS: {
            a = s_eval (ev, node->a);
            b = s_eval (ev, node->b);
            v = s_bool (false);
            if (ev->error || a.type == V_NONE || b.type == V_NONE)
                break;
            if (node->kind == N_EQ || node->kind == N_NE) {
                int eq = s_equal (ev, &a, &b);
                v = s_bool (eq >= 0 && (eq == 1) == (node->kind == N_EQ));
                break;
            }
            if (node->kind == N_CONTAINS) {
                if (a.type == V_STR && b.type == V_STR)
                    v = s_bool (memmem (a.s, a.len, b.s, b.len) != NULL);
                else
                if (a.type == V_JSON && s_jtype (a.j) == cJSON_Array)
                    for (const cJSON *e = a.j->child; e && s_step (ev); e = e->next) {
                        s_val_t ve = s_from_json (e);
                        if (s_equal (ev, &ve, &b) == 1) {
                            v = s_bool (true);
                            break;
                        }
                        if (ev->error)
                            break;
                    }
                break;
            }
            int c;
            if (a.type == V_NUM && b.type == V_NUM)
                c = a.n < b.n ? -1 : a.n > b.n;
            else
            if (a.type == V_STR && b.type == V_STR)
                c = s_strcmp (&a, &b);
            else
                break;
            v = s_bool (node->kind == N_LT ? c < 0 : node->kind == N_LE ? c <= 0
                      : node->kind == N_GT ? c > 0 : c >= 0);
            break;
        }
    }
cleanup:
    return v;
}

int
pl_rule_expr_eval (const pl_rule_expr_t *self, const cJSON *doc)
{
    assert (self);
    s_eval_t ev = { .self = self, .doc = doc };
    s_val_t v = s_eval (&ev, self->root);
    return ev.error ? -1 : s_true (&v);
}
