/*  pl_rule_expr - a rule's `when`, parsed once and evaluated on every
 *  change. See pl_rule_expr.h for the language. This file parses;
 *  pl_rule_expr_eval.c evaluates.
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
#include "pl_rule_expr_int.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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

static int
s_hex (char c)
{
    return pl_rule_expr__digit (c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
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
    while (ps->p < ps->end && pl_rule_expr__digit (*ps->p))
        ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p == ps->end || !pl_rule_expr__digit (*ps->p)) {
            s_fail (ps, ps->p, "expected a digit after the decimal point");
            goto cleanup;
        }
        while (ps->p < ps->end && pl_rule_expr__digit (*ps->p))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p == ps->end || !pl_rule_expr__digit (*ps->p)) {
            s_fail (ps, ps->p, "expected a digit in the exponent");
            goto cleanup;
        }
        while (ps->p < ps->end && pl_rule_expr__digit (*ps->p))
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
    while (ps->p < ps->end && (s_alpha (*ps->p) || pl_rule_expr__digit (*ps->p)))
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
        if (ps->p == ps->end || !(s_alpha (*ps->p) || pl_rule_expr__digit (*ps->p))) {
            s_fail (ps, ps->p, "expected a field name or an index after '.'");
            goto cleanup;
        }
        while (ps->p < ps->end && (s_alpha (*ps->p) || pl_rule_expr__digit (*ps->p)))
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
    if (pl_rule_expr__digit (c))
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
s_node (s_parse_t *ps, pl_rule_expr__kind_t kind, int a, int b, const char *at)
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
    self->node[index] = (pl_rule_expr__node_t) { .kind = (uint8_t) kind, .depth = (uint8_t) depth,
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
    pl_rule_expr__node_t *node = &ps->self->node[index];
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
        pl_rule_expr__kind_t kind = ps->tok == T_STAR ? N_MUL : ps->tok == T_SLASH ? N_DIV : N_MOD;
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
        pl_rule_expr__kind_t kind = ps->tok == T_PLUS ? N_ADD : N_SUB;
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
        static const pl_rule_expr__kind_t kinds[] = {
            [T_EQ] = N_EQ, [T_NE] = N_NE, [T_LT] = N_LT, [T_LE] = N_LE,
            [T_GT] = N_GT, [T_GE] = N_GE, [T_CONTAINS] = N_CONTAINS
        };
        pl_rule_expr__kind_t kind = kinds[ps->tok];
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
