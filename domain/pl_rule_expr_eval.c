/*  pl_rule_expr_eval - evaluating a parsed `when` (pl_rule_expr_eval in
 *  pl_rule_expr.h) against a document: no allocation, recursion bounded by
 *  the tree's depth, deep equality on an explicit stack, every step counted
 *  against PL_RULE_EXPR_MAX_STEPS (pl_rule_expr.c has the whole picture).
 */
#include "pl_rule_expr_int.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Evaluation */

typedef struct {
    uint8_t type;                   /* pl_rule_expr__type_t                            */
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
s_path (s_eval_t *ev, const pl_rule_expr__node_t *node)
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
                ok = pl_rule_expr__digit (seg[i]);
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
    const pl_rule_expr__node_t *node = &ev->self->node[index];
    s_val_t v = { .type = V_NONE }, a, b;
    if (!s_step (ev))
        goto cleanup;
    switch ((pl_rule_expr__kind_t) node->kind) {
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
