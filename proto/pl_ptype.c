/*  pl_ptype - one type of proto/types.def: parse, print as TypeScript or
 *  JSON Schema. A recursive-descent parser over the grammar of types.def:
 *
 *      union  := member ('|' member)*
 *      member := atom ('[]')*
 *      atom   := word | '"' chars '"' | '{' [field (',' field)*] [',' '...'] '}'
 *      field  := word ['?'] ':' union
 */
#include "pl_ptype.h"

#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_WORD, K_REF, K_LIT, K_ARRAY, K_UNION, K_OBJECT, K_FIELD } s_kind_t;

typedef struct s_node {
    s_kind_t kind;
    char text[PL_PTYPE_MAX_NAME + 1];   /* word, ref, literal or field key  */
    bool optional;                      /* field: `key?:`                    */
    bool open;                          /* object: ends with `...`           */
    struct s_node *items;               /* union members, object fields,
                                           array element, field type         */
    struct s_node *next;                /* next sibling in items             */
} s_node_t;

struct _pl_ptype_t {
    s_node_t *root;                     /* the parsed type                   */
};

typedef struct {
    const char *start;                  /* the text, for error positions     */
    const char *p;                      /* the cursor                        */
    const char *what;                   /* names the type in errors          */
    bool failed;                        /* an error was reported             */
} s_parser_t;

/* The words that are not names of PL_TYPEs. */
static const char *const s_words[] = { "string", "number", "integer", "boolean", "null", "unknown",
                                        "true", "false" };

static void
s_free (s_node_t *node)
{
    while (node) {
        s_node_t *next = node->next;
        s_free (node->items);
        free (node);
        node = next;
    }
}

static s_node_t *
s_node (s_kind_t kind)
{
    s_node_t *node = calloc (1, sizeof *node);
    assert (node);
    node->kind = kind;
    return node;
}

static void
s_fail (s_parser_t *ps, const char *why)
{
    if (!ps->failed)
        fprintf (stderr, "types.def: %s: %s at offset %d: %s\n", ps->what, why,
                 (int) (ps->p - ps->start), ps->start);
    ps->failed = true;
}

static void
s_ws (s_parser_t *ps)
{
    while (*ps->p == ' ')
        ps->p++;
}

/* A word [A-Za-z_][A-Za-z0-9_]* into out; false when there is none. */
static bool
s_word (s_parser_t *ps, char *out)
{
    s_ws (ps);
    size_t len = 0;
    bool ok = false;
    if (!isalpha ((unsigned char) *ps->p) && *ps->p != '_')
        goto cleanup;
    while (isalnum ((unsigned char) ps->p[len]) || ps->p[len] == '_')
        len++;
    if (len > PL_PTYPE_MAX_NAME)
        goto cleanup;
    memcpy (out, ps->p, len);
    out[len] = 0;
    ps->p += len;
    ok = true;
cleanup:
    return ok;
}

static s_node_t *s_union (s_parser_t *ps, int depth);

static s_node_t *
s_object (s_parser_t *ps, int depth)
{
    s_node_t *object = s_node (K_OBJECT), **tail = &object->items;
    ps->p++;                            /* '{' */
    s_ws (ps);
    while (*ps->p != '}' && !ps->failed) {
        if (strncmp (ps->p, "...", 3) == 0) {
            ps->p += 3;
            object->open = true;
            s_ws (ps);
            if (*ps->p != '}')
                s_fail (ps, "`...` must come last");
            break;
        }
        s_node_t *field = s_node (K_FIELD);
        *tail = field;
        tail = &field->next;
        if (!s_word (ps, field->text)) {
            s_fail (ps, "expected a field name");
            break;
        }
        if (*ps->p == '?') {
            field->optional = true;
            ps->p++;
        }
        if (*ps->p != ':') {
            s_fail (ps, "expected `:`");
            break;
        }
        ps->p++;
        field->items = s_union (ps, depth + 1);
        s_ws (ps);
        if (*ps->p == ',') {
            ps->p++;
            s_ws (ps);
        }
        else if (*ps->p != '}')
            s_fail (ps, "expected `,` or `}`");
    }
    if (!ps->failed)
        ps->p++;                        /* '}' */
    return object;
}

static s_node_t *
s_atom (s_parser_t *ps, int depth)
{
    s_node_t *node = NULL;
    s_ws (ps);
    if (depth > PL_PTYPE_MAX_DEPTH) {
        s_fail (ps, "nested too deep");
        goto cleanup;
    }
    if (*ps->p == '{') {
        node = s_object (ps, depth);
        goto cleanup;
    }
    if (*ps->p == '"') {
        const char *end = strchr (ps->p + 1, '"');
        if (!end || end - ps->p - 1 > PL_PTYPE_MAX_NAME) {
            s_fail (ps, "bad literal");
            goto cleanup;
        }
        node = s_node (K_LIT);
        memcpy (node->text, ps->p + 1, (size_t) (end - ps->p - 1));
        ps->p = end + 1;
        goto cleanup;
    }
    node = s_node (K_REF);
    if (!s_word (ps, node->text)) {
        s_fail (ps, "expected a type");
        goto cleanup;
    }
    for (size_t i = 0; i < sizeof s_words / sizeof s_words[0]; i++)
        if (strcmp (node->text, s_words[i]) == 0)
            node->kind = K_WORD;
cleanup:
    return node;
}

static s_node_t *
s_member (s_parser_t *ps, int depth)
{
    s_node_t *node = s_atom (ps, depth);
    while (!ps->failed && strncmp (ps->p, "[]", 2) == 0) {
        s_node_t *array = s_node (K_ARRAY);
        array->items = node;
        node = array;
        ps->p += 2;
    }
    return node;
}

static s_node_t *
s_union (s_parser_t *ps, int depth)
{
    s_node_t *first = s_member (ps, depth), *node = first;
    s_ws (ps);
    if (ps->failed || *ps->p != '|')
        goto cleanup;
    node = s_node (K_UNION);
    node->items = first;
    s_node_t **tail = &first->next;
    while (!ps->failed && *ps->p == '|') {
        ps->p++;
        *tail = s_member (ps, depth);
        if (!*tail)
            break;
        tail = &(*tail)->next;
        s_ws (ps);
    }
cleanup:
    return node;
}

pl_ptype_t *
pl_ptype_new (const char *text, const char *what)
{
    pl_ptype_t *self = NULL;
    s_parser_t ps = { text, text, what, false };
    if (strnlen (text, PL_PTYPE_MAX_TEXT + 1) > PL_PTYPE_MAX_TEXT) {
        s_fail (&ps, "longer than PL_PTYPE_MAX_TEXT");
        goto cleanup;
    }
    s_node_t *root = s_union (&ps, 0);
    s_ws (&ps);
    if (!ps.failed && *ps.p)
        s_fail (&ps, "trailing text");
    if (ps.failed) {
        s_free (root);
        goto cleanup;
    }
    self = calloc (1, sizeof *self);
    assert (self);
    self->root = root;
cleanup:
    return self;
}

void
pl_ptype_destroy (pl_ptype_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_free ((*self_p)->root);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_print_ts (const s_node_t *node, FILE *out)
{
    switch (node->kind) {
        case K_WORD:
            fputs (strcmp (node->text, "integer") == 0 ? "number" : node->text, out);
            break;
        case K_REF:
            fputs (node->text, out);
            break;
        case K_LIT:
            fprintf (out, "\"%s\"", node->text);
            break;
        case K_ARRAY:
            if (node->items->kind == K_UNION)
                fputc ('(', out);
            s_print_ts (node->items, out);
            fputs (node->items->kind == K_UNION ? ")[]" : "[]", out);
            break;
        case K_UNION:
            for (const s_node_t *m = node->items; m; m = m->next) {
                s_print_ts (m, out);
                if (m->next)
                    fputs (" | ", out);
            }
            break;
        case K_OBJECT:
            fputs ("{ ", out);
            for (const s_node_t *f = node->items; f; f = f->next) {
                fprintf (out, "%s%s: ", f->text, f->optional ? "?" : "");
                s_print_ts (f->items, out);
                fputs ("; ", out);
            }
            fputs (node->open ? "[key: string]: unknown }" : "}", out);
            break;
        case K_FIELD:
            assert (false);             /* printed by its object */
            break;
    }
}

void
pl_ptype_print_ts (const pl_ptype_t *self, FILE *out)
{
    assert (self);
    s_print_ts (self->root, out);
}

/* Whether word is one of the space-separated words of list. */
static bool
s_listed (const char *list, const char *word)
{
    size_t len = strlen (word);
    bool found = false;
    for (const char *p = list; !found && p && (p = strstr (p, word)); p += len)
        found = (p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0);
    return found;
}

/* optional: names of the fields of this object not to require (or NULL) */
static void
s_print_schema (const s_node_t *node, const char *ref_base, const char *optional, FILE *out)
{
    switch (node->kind) {
        case K_WORD:
            if (strcmp (node->text, "unknown") == 0)
                fputs ("{}", out);
            else if (strcmp (node->text, "true") == 0 || strcmp (node->text, "false") == 0)
                fprintf (out, "{\"const\": %s}", node->text);
            else
                fprintf (out, "{\"type\": \"%s\"}", node->text);
            break;
        case K_REF:
            fprintf (out, "{\"$ref\": \"%s%s\"}", ref_base, node->text);
            break;
        case K_LIT:
            fprintf (out, "{\"const\": \"%s\"}", node->text);
            break;
        case K_ARRAY:
            fputs ("{\"type\": \"array\", \"items\": ", out);
            s_print_schema (node->items, ref_base, NULL, out);
            fputc ('}', out);
            break;
        case K_UNION:
            fputs ("{\"anyOf\": [", out);
            for (const s_node_t *m = node->items; m; m = m->next) {
                s_print_schema (m, ref_base, NULL, out);
                if (m->next)
                    fputs (", ", out);
            }
            fputs ("]}", out);
            break;
        case K_OBJECT: {
            fputs ("{\"type\": \"object\"", out);
            if (node->items) {
                fputs (", \"properties\": {", out);
                for (const s_node_t *f = node->items; f; f = f->next) {
                    fprintf (out, "\"%s\": ", f->text);
                    s_print_schema (f->items, ref_base, NULL, out);
                    if (f->next)
                        fputs (", ", out);
                }
                fputc ('}', out);
                bool any = false;
                for (const s_node_t *f = node->items; f; f = f->next)
                    if (!f->optional && !s_listed (optional, f->text)) {
                        fprintf (out, "%s\"%s\"", any ? ", " : ", \"required\": [", f->text);
                        any = true;
                    }
                if (any)
                    fputc (']', out);
            }
            fputs (node->open ? "}" : ", \"additionalProperties\": false}", out);
            break;
        }
        case K_FIELD:
            assert (false);             /* printed by its object */
            break;
    }
}

void
pl_ptype_print_schema (const pl_ptype_t *self, const char *ref_base, FILE *out)
{
    assert (self);
    s_print_schema (self->root, ref_base, NULL, out);
}

void
pl_ptype_print_schema_opt (const pl_ptype_t *self, const char *ref_base,
                           const char *optional, FILE *out)
{
    assert (self);
    s_print_schema (self->root, ref_base, optional, out);
}

const char *
pl_ptype_ref (const pl_ptype_t *self)
{
    assert (self);
    return self->root->kind == K_REF ? self->root->text : NULL;
}

static void
s_each_ref (const s_node_t *node, void (*fn) (const char *, void *), void *arg)
{
    for (; node; node = node->next) {
        if (node->kind == K_REF)
            fn (node->text, arg);
        s_each_ref (node->items, fn, arg);
    }
}

void
pl_ptype_each_ref (const pl_ptype_t *self, void (*fn) (const char *name, void *arg), void *arg)
{
    assert (self && fn);
    s_each_ref (self->root, fn, arg);
}

/* Renders text both ways into ts / schema (each at most size bytes). */
static void
s_render (const char *text, char *ts, char *schema, size_t size)
{
    pl_ptype_t *type = pl_ptype_new (text, "test");
    assert (type);
    FILE *out = fmemopen (ts, size, "w");
    assert (out);
    pl_ptype_print_ts (type, out);
    fclose (out);
    out = fmemopen (schema, size, "w");
    assert (out);
    pl_ptype_print_schema (type, "#/s/", out);
    fclose (out);
    pl_ptype_destroy (&type);
    assert (type == NULL);
    pl_ptype_destroy (&type);           /* safe twice */
}

/* pl_ptype_each_ref's callback in the selftest: runs inside that call, in
 * no event loop; counts the names into *(int *) arg. */
static void
s_count (const char *name, void *arg)
{
    (void) name;
    ++*(int *) arg;
}

void
pl_ptype_test (bool verbose)
{
    if (verbose)
        printf (" * pl_ptype: ");
    char ts[1024], schema[1024];
    pl_ptype_t *type;
    s_render ("string", ts, schema, sizeof ts);
    assert (strcmp (ts, "string") == 0);
    assert (strcmp (schema, "{\"type\": \"string\"}") == 0);
    s_render ("integer[] | null", ts, schema, sizeof ts);
    assert (strcmp (ts, "number[] | null") == 0);
    assert (strcmp (schema, "{\"anyOf\": [{\"type\": \"array\", \"items\": {\"type\": \"integer\"}},"
                            " {\"type\": \"null\"}]}") == 0);
    s_render ("{id: string, role?: Role, ...}", ts, schema, sizeof ts);
    assert (strcmp (ts, "{ id: string; role?: Role; [key: string]: unknown }") == 0);
    assert (strcmp (schema, "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"},"
                            " \"role\": {\"$ref\": \"#/s/Role\"}}, \"required\": [\"id\"]}") == 0);
    s_render ("{a?: \"x\" | unknown}", ts, schema, sizeof ts);
    assert (strcmp (ts, "{ a?: \"x\" | unknown; }") == 0);
    assert (strcmp (schema, "{\"type\": \"object\", \"properties\": {\"a\": {\"anyOf\": [{\"const\": \"x\"}, {}]}},"
                            " \"additionalProperties\": false}") == 0);
    s_render ("true", ts, schema, sizeof ts);
    assert (strcmp (ts, "true") == 0 && strcmp (schema, "{\"const\": true}") == 0);
    s_render ("{...}", ts, schema, sizeof ts);
    assert (strcmp (ts, "{ [key: string]: unknown }") == 0);
    assert (strcmp (schema, "{\"type\": \"object\"}") == 0);

    /* path parameters set in a body need not be in it */
    pl_ptype_t *body = pl_ptype_new ("{id: string, name: string, ids: string}", "test");
    assert (body && pl_ptype_ref (body) == NULL);
    FILE *out = fmemopen (schema, sizeof schema, "w");
    pl_ptype_print_schema_opt (body, "#/s/", "i id", out);
    fclose (out);
    assert (strstr (schema, "\"required\": [\"name\", \"ids\"]"));
    pl_ptype_destroy (&body);
    body = pl_ptype_new ("Role", "test");
    assert (body && strcmp (pl_ptype_ref (body), "Role") == 0);
    pl_ptype_destroy (&body);

    /* references, for the generator's check */
    type = pl_ptype_new ("{a: A, b: {c: B[] | C}} | D", "test");
    assert (type);
    int refs = 0;
    pl_ptype_each_ref (type, s_count, &refs);
    assert (refs == 4);
    pl_ptype_destroy (&type);

    /* not types: each is refused, not crashed on */
    const char *bad[] = { "", "{", "{a}", "{a: }", "string |", "\"open", "{..., a: string}",
                          "string string", "{a: string b: string}", "[]", "1x", "{a:: string}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert (pl_ptype_new (bad[i], "test (an expected refusal)") == NULL);
    char deep[PL_PTYPE_MAX_DEPTH * 4 + 64] = "";
    for (int i = 0; i <= PL_PTYPE_MAX_DEPTH + 1; i++)
        strcat (deep, "{a:");
    strcat (deep, "string");
    for (int i = 0; i <= PL_PTYPE_MAX_DEPTH + 1; i++)
        strcat (deep, "}");
    assert (pl_ptype_new (deep, "test (an expected refusal)") == NULL);
    char long_name[PL_PTYPE_MAX_NAME + 2];
    memset (long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert (pl_ptype_new (long_name, "test (an expected refusal)") == NULL);
    if (verbose)
        printf ("OK\n");
}
