/*  fuzz_rule - libFuzzer target for domain/pl_rule_expr (script/fuzz).
 *
 *  The input is a rule's `when`, optionally followed by "\n\x1e" and a
 *  JSON document to evaluate it on; without one, it is evaluated on a few
 *  fixed documents (an actor-like one with the names of the dictionary,
 *  null, an array). Whatever the input, parsing and evaluation must not
 *  crash, leak, read past the text or recurse without bound, and:
 *   - a refusal names a 1-based position within the text, or one past it
 *     (1001 for the length bound);
 *   - an evaluation answers -1, 0 or 1, the same twice;
 *   - `not (E)` answers the opposite of E (or -1 at the step bound), and
 *     fails to parse only for the bounds it adds to (length, nodes, depth);
 *   - every path it reports is non-empty and written in the text.
 */
#include "pl_rule_expr.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *s_fixed_text =
    "{\"hp\":0,\"max\":10,\"name\":\"Bob\",\"conditions\":[\"prone\",{\"x\":1},[1,2],\"unconscious\"],"
    "\"system\":{\"attributes\":{\"hp\":{\"value\":7,\"max\":12}}},"
    "\"tokens\":[{\"x\":3,\"y\":4},{\"x\":5}],\"byIndex\":{\"0\":\"zero\"},"
    "\"a\":[1,[2,{\"x\":3,\"y\":[]}]],\"b\":[1,[2,{\"y\":[],\"x\":3}]],"
    "\"o\":{\"k\":1,\"l\":2},\"flags\":{\"not\":true},\"empty\":\"\",\"nil\":null,\"yes\":true,"
    "\"c\":[\"a\",null,true,false,1.5,{\"k\":\"v\"}],\"d\":[\"a\",null,true,false,1.5,{\"k\":\"w\"}],"
    "\"e\":\"\\u00e9\",\"n\":-1.5e3}";

static cJSON *s_fixed[3];

static void
s_check_err (const char *err, size_t len)
{
    if (strcmp (err, "out of memory") == 0)
        return;
    assert (strncmp (err, "position ", 9) == 0);
    long at = strtol (err + 9, NULL, 10);
    if (len > PL_RULE_EXPR_MAX_LEN)
        assert (at == PL_RULE_EXPR_MAX_LEN + 1);
    else
        assert (at >= 1 && (size_t) at <= len + 1);
}

static int
s_eval_twice (const pl_rule_expr_t *e, const cJSON *doc)
{
    int r = pl_rule_expr_eval (e, doc);
    assert (r == -1 || r == 0 || r == 1);
    assert (pl_rule_expr_eval (e, doc) == r);
    return r;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_fixed[0]) {
        s_fixed[0] = cJSON_Parse (s_fixed_text);
        s_fixed[1] = cJSON_CreateNull ();
        s_fixed[2] = cJSON_Parse ("[0,[\"x\"],{\"hp\":1}]");
        assert (s_fixed[0] && s_fixed[1] && s_fixed[2]);
    }
    if (size > 64 * 1024)
        return 0;
    const char *text = (const char *) data;
    size_t len = size;
    cJSON *own = NULL;
    const char *sep = memmem (text, size, "\n\x1e", 2);
    if (sep) {
        len = (size_t) (sep - text);
        own = cJSON_ParseWithLength (sep + 2, size - len - 2);
    }
    char err[128];
    pl_rule_expr_t *e = pl_rule_expr_new (text, len, err, sizeof err);
    if (!e) {
        s_check_err (err, len);
        cJSON_Delete (own);
        return 0;
    }
    int r[4], nr = 0;
    if (sep)
        r[nr++] = s_eval_twice (e, own);
    else
        for (int i = 0; i < 3; i++)
            r[nr++] = s_eval_twice (e, s_fixed[i]);
    r[nr++] = s_eval_twice (e, NULL);

    for (int i = 0; i <= PL_RULE_EXPR_MAX_NODES; i++) {
        const char *path = pl_rule_expr_path (e, i);
        if (!path)
            break;
        assert (i < PL_RULE_EXPR_MAX_NODES && path[0]);
        assert (memmem (text, len, path, strlen (path)));
    }

    /* not (E) */
    char wrapped[PL_RULE_EXPR_MAX_LEN + 16];
    memcpy (wrapped, "not (", 5);
    memcpy (wrapped + 5, text, len);
    wrapped[len + 5] = ')';
    pl_rule_expr_t *not_e = pl_rule_expr_new (wrapped, len + 6, err, sizeof err);
    if (!not_e)
        assert (strstr (err, "longer than") || strstr (err, "nodes") || strstr (err, "levels deep"));
    else {
        nr = 0;
        int w[4];
        if (sep)
            w[nr++] = s_eval_twice (not_e, own);
        else
            for (int i = 0; i < 3; i++)
                w[nr++] = s_eval_twice (not_e, s_fixed[i]);
        w[nr++] = s_eval_twice (not_e, NULL);
        for (int i = 0; i < nr; i++)
            assert (r[i] == -1 ? w[i] == -1 : (w[i] == 1 - r[i] || w[i] == -1));
    }
    pl_rule_expr_destroy (&not_e);
    pl_rule_expr_destroy (&e);
    cJSON_Delete (own);
    return 0;
}
