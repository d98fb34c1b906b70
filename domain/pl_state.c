/*  pl_state - the game-state path and operation engine (pl_state.h).
 *
 *  pl_state_apply works on a duplicate of the state and hands it back only
 *  when every operation went through, so all-or-none costs one copy and
 *  no undo log. Each operation is checked completely (path, value, target)
 *  before it changes the copy, so a failure never leaves a half-applied
 *  operation behind either (not that anyone could see it).
 */
#include "pl_state.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shape's client-writable top-level keys and the cJSON types each may
 * hold (pl_state.h: they keep their type so the shape survives). */
static const struct {
    const char *key;                        /* top-level member name      */
    int types;                              /* cJSON type bits allowed    */
} s_top[] = {
    { "characters",       cJSON_Array },
    { "actors",           cJSON_Array },
    { "items",            cJSON_Array },
    { "currentEncounter", cJSON_Object | cJSON_NULL },
    { "pluginData",       cJSON_Object },
};
#define S_TOP_COUNT ((int) (sizeof s_top / sizeof s_top[0]))

/* Keys only the server writes (pl_state_bump). */
static const char *s_server_owned[] = { "stateVersion", "lastUpdated" };

/* Keys that turn into prototype pollution in the JavaScript clients. */
static const char *s_reserved[] = { "__proto__", "constructor", "prototype" };

typedef enum { S_SET, S_UNSET, S_INC, S_PUSH, S_PULL } s_op_t;
static const char *s_op_names[] = { "set", "unset", "inc", "push", "pull" };

/* A parsed path: NUL-terminated copies of its segments (about 4 KB, so it
 * lives on the stack of pl_state_apply). */
typedef struct {
    int count;                                              /* segments  */
    char seg[PL_STATE_MAX_SEGMENTS][PL_STATE_MAX_SEGMENT + 1];
} s_path_t;

static void
s_why (char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size > 0) {
        va_list args;
        va_start (args, fmt);
        vsnprintf (why, why_size, fmt, args);
        va_end (args);
    }
}

/* The rules a path segment and a value's object key share. len is the
 * key's length; name says what to call it in the message. */
static int
s_key_check (const char *key, size_t len, const char *name, char *why, size_t why_size)
{
    int rc = -1;
    if (len == 0) {
        s_why (why, why_size, "%s is empty", name);
        goto cleanup;
    }
    if (len > PL_STATE_MAX_SEGMENT) {
        s_why (why, why_size, "%s is longer than %d bytes", name, PL_STATE_MAX_SEGMENT);
        goto cleanup;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) key[i];
        if (c < 0x20 || c == 0x7f) {
            s_why (why, why_size, "%s holds a control character", name);
            goto cleanup;
        }
        if (c == '.') {
            s_why (why, why_size, "%s holds a '.'", name);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < sizeof s_reserved / sizeof s_reserved[0]; i++)
        if (strlen (s_reserved[i]) == len && memcmp (key, s_reserved[i], len) == 0) {
            s_why (why, why_size, "%s is '%s', a reserved name", name, s_reserved[i]);
            goto cleanup;
        }
    rc = 0;
cleanup:
    return rc;
}

/* Split and check a path (everything pl_state_path_check promises; with
 * shape false, what pl_state_doc_path_check promises: no top-level rule). */
static int
s_path_parse (const char *path, s_path_t *p, bool shape, char *why, size_t why_size)
{
    int rc = -1;
    p->count = 0;
    if (!path || !*path) {
        s_why (why, why_size, "empty path");
        goto cleanup;
    }
    size_t len = strnlen (path, PL_STATE_MAX_PATH + 1);
    if (len > PL_STATE_MAX_PATH) {
        s_why (why, why_size, "path longer than %d bytes", PL_STATE_MAX_PATH);
        goto cleanup;
    }
    const char *start = path;
    while (true) {
        const char *dot = strchr (start, '.');
        size_t seg_len = dot ? (size_t) (dot - start) : strlen (start);
        if (p->count == PL_STATE_MAX_SEGMENTS) {
            s_why (why, why_size, "path has more than %d segments", PL_STATE_MAX_SEGMENTS);
            goto cleanup;
        }
        char name[32];
        snprintf (name, sizeof name, "path segment %d", p->count);
        if (seg_len == 0) {
            s_why (why, why_size, "%s is empty (a leading, trailing or double dot)", name);
            goto cleanup;
        }
        if (s_key_check (start, seg_len, name, why, why_size))
            goto cleanup;
        memcpy (p->seg[p->count], start, seg_len);
        p->seg[p->count][seg_len] = 0;
        p->count++;
        if (!dot)
            break;
        start = dot + 1;
    }
    if (!shape) {
        rc = 0;
        goto cleanup;
    }
    for (size_t i = 0; i < sizeof s_server_owned / sizeof s_server_owned[0]; i++)
        if (strcmp (p->seg[0], s_server_owned[i]) == 0) {
            s_why (why, why_size, "'%s' is server-owned", s_server_owned[i]);
            goto cleanup;
        }
    int top;
    for (top = 0; top < S_TOP_COUNT; top++)
        if (strcmp (p->seg[0], s_top[top].key) == 0)
            break;
    if (top == S_TOP_COUNT) {
        s_why (why, why_size, "unknown top-level key '%s' (expected characters, actors, "
               "items, currentEncounter or pluginData)", p->seg[0]);
        goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

/* A segment used on an array: a canonical index of an existing element. */
static int
s_index (const char *seg, int size, int *index, char *why, size_t why_size)
{
    int rc = -1;
    size_t len = strlen (seg);
    bool digits = len > 0 && len <= 9;          /* 9 digits fit an int */
    for (size_t i = 0; digits && i < len; i++)
        digits = seg[i] >= '0' && seg[i] <= '9';
    if (!digits) {
        s_why (why, why_size, "'%s' is not an array index", seg);
        goto cleanup;
    }
    if (len > 1 && seg[0] == '0') {
        s_why (why, why_size, "array index '%s' has a leading zero", seg);
        goto cleanup;
    }
    *index = atoi (seg);
    if (*index >= size) {
        s_why (why, why_size, "array index %d is out of range (size %d)", *index, size);
        goto cleanup;
    }
    rc = 0;
cleanup:
    return rc;
}

static int
s_cmp_keys (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Check a client value: nesting (level is the depth this item has if it
 * is a container; *depth gets the deepest), object keys, duplicate keys,
 * finite numbers. The recursion stops past PL_STATE_MAX_VALUE_DEPTH, so a
 * hostile value cannot run it deep. */
static int
s_value_check (const cJSON *item, int level, int *depth, char *why, size_t why_size)
{
    int rc = -1;
    const char **keys = NULL;
    if (cJSON_IsNumber (item)) {
        if (!isfinite (item->valuedouble)) {
            s_why (why, why_size, "value holds a non-finite number");
            goto cleanup;
        }
    }
    else if (cJSON_IsString (item)) {
        if (!item->valuestring) {
            s_why (why, why_size, "value holds a broken string");
            goto cleanup;
        }
    }
    else if (cJSON_IsArray (item) || cJSON_IsObject (item)) {
        if (level > PL_STATE_MAX_VALUE_DEPTH) {
            s_why (why, why_size, "value is nested deeper than %d", PL_STATE_MAX_VALUE_DEPTH);
            goto cleanup;
        }
        if (level > *depth)
            *depth = level;
        int count = 0;
        for (const cJSON *c = item->child; c; c = c->next) {
            if (cJSON_IsObject (item)) {
                if (!c->string) {
                    s_why (why, why_size, "value holds an object member without a key");
                    goto cleanup;
                }
                if (s_key_check (c->string, strlen (c->string), "a key in value", why, why_size))
                    goto cleanup;
            }
            if (s_value_check (c, level + 1, depth, why, why_size))
                goto cleanup;
            count++;
        }
        /* Sorting finds duplicates in n log n, so a wide object cannot
         * make this quadratic. */
        if (cJSON_IsObject (item) && count > 1) {
            keys = malloc ((size_t) count * sizeof *keys);
            if (!keys) {
                s_why (why, why_size, "out of memory");
                goto cleanup;
            }
            int n = 0;
            for (const cJSON *c = item->child; c; c = c->next)
                keys[n++] = c->string;
            qsort (keys, (size_t) n, sizeof *keys, s_cmp_keys);
            for (int i = 1; i < n; i++)
                if (strcmp (keys[i - 1], keys[i]) == 0) {
                    s_why (why, why_size, "value repeats the key '%s'", keys[i]);
                    goto cleanup;
                }
        }
    }
    else if (!cJSON_IsBool (item) && !cJSON_IsNull (item)) {
        s_why (why, why_size, "value holds an item that is not JSON");
        goto cleanup;
    }
    rc = 0;
cleanup:
    free (keys);
    return rc;
}

/* Apply one operation to root (the working copy); shape: root is a game
 * state, whose top-level rules apply. On failure root is unchanged and why
 * holds the reason, without the "operation N: " prefix. */
static int
s_apply_one (cJSON *root, const cJSON *op, bool shape, char *why, size_t why_size)
{
    int rc = -1;
    s_path_t path;
    cJSON *copy = NULL;
    char reason[256] = "";

    if (!cJSON_IsObject (op)) {
        s_why (why, why_size, "not an object");
        goto cleanup;
    }
    const cJSON *jpath = cJSON_GetObjectItemCaseSensitive (op, "path");
    const cJSON *jop = cJSON_GetObjectItemCaseSensitive (op, "operation");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive (op, "value");
    if (!cJSON_IsString (jpath) || !jpath->valuestring) {
        s_why (why, why_size, "path is missing or not a string");
        goto cleanup;
    }
    if (!cJSON_IsString (jop) || !jop->valuestring) {
        s_why (why, why_size, "operation is missing or not a string");
        goto cleanup;
    }
    int kind;
    for (kind = S_SET; kind <= S_PULL; kind++)
        if (strcmp (jop->valuestring, s_op_names[kind]) == 0)
            break;
    if (kind > S_PULL) {
        s_why (why, why_size, "unknown operation (expected set, unset, inc, push or pull)");
        goto cleanup;
    }
    const char *name = s_op_names[kind];
    if (s_path_parse (jpath->valuestring, &path, shape, reason, sizeof reason)) {
        s_why (why, why_size, "%s: %s", name, reason);
        goto cleanup;
    }
    /* From here on the path is known to be printable and short. */
    const char *at = jpath->valuestring;
    int value_depth = 0;
    if (kind != S_UNSET) {
        if (!value) {
            s_why (why, why_size, "%s at %s: value is missing", name, at);
            goto cleanup;
        }
        if (s_value_check (value, 1, &value_depth, reason, sizeof reason)) {
            s_why (why, why_size, "%s at %s: %s", name, at, reason);
            goto cleanup;
        }
    }

    /* Walk to the parent of the last segment. */
    cJSON *parent = root;
    int last = path.count - 1;
    for (int i = 0; i < last; i++) {
        cJSON *next = NULL;
        if (cJSON_IsObject (parent)) {
            next = cJSON_GetObjectItemCaseSensitive (parent, path.seg[i]);
            if (!next) {
                s_why (why, why_size, "%s at %s: no '%s' (segment %d)", name, at, path.seg[i], i);
                goto cleanup;
            }
        }
        else if (cJSON_IsArray (parent)) {
            int index;
            if (s_index (path.seg[i], cJSON_GetArraySize (parent), &index, reason, sizeof reason)) {
                s_why (why, why_size, "%s at %s: %s (segment %d)", name, at, reason, i);
                goto cleanup;
            }
            next = cJSON_GetArrayItem (parent, index);
        }
        else {
            s_why (why, why_size, "%s at %s: segment %d goes into a %s", name, at, i,
                   cJSON_IsNull (parent) ? "null" : "scalar");
            goto cleanup;
        }
        parent = next;
    }
    const char *key = path.seg[last];
    cJSON *target = NULL;
    int index = -1;
    if (cJSON_IsObject (parent))
        target = cJSON_GetObjectItemCaseSensitive (parent, key);
    else if (cJSON_IsArray (parent)) {
        if (s_index (key, cJSON_GetArraySize (parent), &index, reason, sizeof reason)) {
            s_why (why, why_size, "%s at %s: %s (segment %d)", name, at, reason, last);
            goto cleanup;
        }
        target = cJSON_GetArrayItem (parent, index);
    }
    else {
        s_why (why, why_size, "%s at %s: the parent is %s, not an object or array", name, at,
               cJSON_IsNull (parent) ? "null" : "a scalar");
        goto cleanup;
    }

    /* The top-level keys keep their type (pl_state.h). */
    if (shape && path.count == 1) {
        int top;
        for (top = 0; strcmp (s_top[top].key, key) != 0; top++)
            ;                                   /* s_path_parse found it */
        if (kind == S_UNSET) {
            s_why (why, why_size, "unset at %s: a top-level key cannot be removed", at);
            goto cleanup;
        }
        if (kind == S_SET && !((value->type & 0xff) & s_top[top].types)) {
            s_why (why, why_size, "set at %s: %s must be %s", at, key,
                   s_top[top].types == cJSON_Array ? "an array"
                   : s_top[top].types == cJSON_Object ? "an object" : "an object or null");
            goto cleanup;
        }
    }

    /* The state's depth where the value lands: the root is 1 and each
     * segment one more, so a set puts the value's own containers from
     * path.count + 1 on, and a push one deeper. */
    int landing = path.count + (kind == S_PUSH ? 1 : 0);
    if ((kind == S_SET || kind == S_PUSH)
    &&  value_depth > 0 && landing + value_depth > PL_STATE_MAX_STATE_DEPTH) {
        s_why (why, why_size, "%s at %s: the state would be nested deeper than %d",
               name, at, PL_STATE_MAX_STATE_DEPTH);
        goto cleanup;
    }

    switch (kind) {
        case S_SET:
            copy = cJSON_Duplicate (value, true);
            if (!copy) {
                s_why (why, why_size, "set at %s: out of memory", at);
                goto cleanup;
            }
            bool done;
            if (cJSON_IsArray (parent))
                done = cJSON_ReplaceItemInArray (parent, index, copy);
            else if (target)
                done = cJSON_ReplaceItemInObjectCaseSensitive (parent, key, copy);
            else
                done = cJSON_AddItemToObject (parent, key, copy);
            if (!done) {
                s_why (why, why_size, "set at %s: out of memory", at);
                goto cleanup;
            }
            copy = NULL;                        /* the state owns it now */
            break;
        case S_UNSET:
            if (cJSON_IsArray (parent))
                cJSON_DeleteItemFromArray (parent, index);
            else if (target)
                cJSON_Delete (cJSON_DetachItemViaPointer (parent, target));
            break;                              /* a missing key: no-op */
        case S_INC:
            if (!cJSON_IsNumber (value)) {
                s_why (why, why_size, "inc at %s: value is not a number", at);
                goto cleanup;
            }
            if (!target) {
                s_why (why, why_size, "inc at %s: no such target", at);
                goto cleanup;
            }
            if (!cJSON_IsNumber (target)) {
                s_why (why, why_size, "inc at %s: target is not a number", at);
                goto cleanup;
            }
            double sum = target->valuedouble + value->valuedouble;
            if (!isfinite (sum)) {
                s_why (why, why_size, "inc at %s: the result is not finite", at);
                goto cleanup;
            }
            cJSON_SetNumberValue (target, sum);
            break;
        case S_PUSH:
        case S_PULL:
            if (!cJSON_IsArray (target)) {
                s_why (why, why_size, "%s at %s: %s", name, at,
                       target ? "target is not an array" : "no such target");
                goto cleanup;
            }
            if (kind == S_PUSH) {
                copy = cJSON_Duplicate (value, true);
                if (!copy || !cJSON_AddItemToArray (target, copy)) {
                    s_why (why, why_size, "push at %s: out of memory", at);
                    goto cleanup;
                }
                copy = NULL;
            }
            else {
                cJSON *item = target->child;
                while (item) {
                    cJSON *next = item->next;
                    if (cJSON_Compare (item, value, true))
                        cJSON_Delete (cJSON_DetachItemViaPointer (target, item));
                    item = next;
                }
            }
            break;
    }
    rc = 0;
cleanup:
    cJSON_Delete (copy);
    return rc;
}

cJSON *
pl_state_new (int64_t now_ms)
{
    cJSON *state = cJSON_CreateObject ();
    cJSON *result = NULL;
    if (!state
    ||  !cJSON_AddArrayToObject (state, "characters")
    ||  !cJSON_AddArrayToObject (state, "actors")
    ||  !cJSON_AddArrayToObject (state, "items")
    ||  !cJSON_AddNullToObject (state, "currentEncounter")
    ||  !cJSON_AddObjectToObject (state, "pluginData")
    ||  !cJSON_AddStringToObject (state, "stateVersion", "0")
    ||  !cJSON_AddNumberToObject (state, "lastUpdated", (double) now_ms))
        goto cleanup;
    result = state;
    state = NULL;
cleanup:
    cJSON_Delete (state);
    return result;
}

/* pl_state_apply and pl_state_doc_apply. */
static int
s_apply (const cJSON *state, const cJSON *operations, bool shape, cJSON **out,
         int *failed_index, char *why, size_t why_size)
{
    assert (cJSON_IsObject (state));
    assert (out && failed_index);
    int rc = -1;
    cJSON *work = NULL;
    char reason[768] = "";
    *out = NULL;
    *failed_index = -1;
    s_why (why, why_size, "%s", "");

    if (!cJSON_IsArray (operations)) {
        s_why (why, why_size, "operations is not an array");
        goto cleanup;
    }
    int count = cJSON_GetArraySize (operations);
    if (count == 0) {
        s_why (why, why_size, "operations is empty");
        goto cleanup;
    }
    if (count > PL_STATE_MAX_OPS) {
        s_why (why, why_size, "more than %d operations", PL_STATE_MAX_OPS);
        goto cleanup;
    }
    work = cJSON_Duplicate (state, true);
    if (!work) {
        s_why (why, why_size, "out of memory");
        goto cleanup;
    }
    int i = 0;
    for (const cJSON *op = operations->child; op; op = op->next, i++)
        if (s_apply_one (work, op, shape, reason, sizeof reason)) {
            *failed_index = i;
            s_why (why, why_size, "operation %d: %s", i, reason);
            goto cleanup;
        }
    *out = work;
    work = NULL;
    rc = 0;
cleanup:
    cJSON_Delete (work);
    return rc;
}

int
pl_state_apply (const cJSON *state, const cJSON *operations, cJSON **out,
                int *failed_index, char *why, size_t why_size)
{
    return s_apply (state, operations, true, out, failed_index, why, why_size);
}

int
pl_state_doc_apply (const cJSON *doc, const cJSON *operations, cJSON **out,
                    int *failed_index, char *why, size_t why_size)
{
    return s_apply (doc, operations, false, out, failed_index, why, why_size);
}

int
pl_state_path_check (const char *path, char *why, size_t why_size)
{
    s_path_t parsed;
    return s_path_parse (path, &parsed, true, why, why_size);
}

int
pl_state_value_check (const cJSON *value, char *why, size_t why_size)
{
    int depth = 0;
    return s_value_check (value, 1, &depth, why, why_size);
}

int
pl_state_doc_path_check (const char *path, char *why, size_t why_size)
{
    s_path_t parsed;
    return s_path_parse (path, &parsed, false, why, why_size);
}

int
pl_state_bump (cJSON *state, int64_t now_ms)
{
    assert (cJSON_IsObject (state));
    int rc = -1;
    cJSON *vnext = NULL;                    /* the next stateVersion */
    cJSON *stamp = NULL;                    /* the next lastUpdated  */
    cJSON *version = cJSON_GetObjectItemCaseSensitive (state, "stateVersion");
    if (!cJSON_IsString (version) || !version->valuestring)
        goto cleanup;
    const char *text = version->valuestring;
    size_t len = strlen (text);
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0')
    ||  strspn (text, "0123456789") != len)
        goto cleanup;
    errno = 0;
    unsigned long long n = strtoull (text, NULL, 10);
    if (errno == ERANGE || n >= UINT64_MAX)
        goto cleanup;
    char next[24];
    snprintf (next, sizeof next, "%llu", n + 1);
    vnext = cJSON_CreateString (next);
    stamp = cJSON_CreateNumber ((double) now_ms);
    if (!vnext || !stamp)
        goto cleanup;
    /* lastUpdated first: adding it is the only step that can fail (out of
     * memory), and then nothing has changed yet. Replacing stateVersion,
     * which exists, cannot fail. */
    bool done = cJSON_GetObjectItemCaseSensitive (state, "lastUpdated")
        ? cJSON_ReplaceItemInObjectCaseSensitive (state, "lastUpdated", stamp)
        : cJSON_AddItemToObject (state, "lastUpdated", stamp);
    if (!done)
        goto cleanup;
    stamp = NULL;
    done = cJSON_ReplaceItemInObjectCaseSensitive (state, "stateVersion", vnext);
    assert (done);
    vnext = NULL;
    rc = 0;
cleanup:
    cJSON_Delete (vnext);
    cJSON_Delete (stamp);
    return rc;
}
